/*
 * log.h - the daemon's one logging path: leveled, tagged with the calling
 * function, to stderr in the foreground and to syslog as a daemon.
 *
 * The log configuration is the one process-wide global in localsa. Files that
 * include this header must not include <syslog.h>: its LOG_ERR, LOG_INFO and
 * LOG_DEBUG priority macros collide with the macros below.
 */
#ifndef LOCALSA_BASE_LOG_H
#define LOCALSA_BASE_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* ident is copied (truncated to 31 bytes); NULL keeps the current one. */
void log_open(const char *ident, enum log_level level, bool use_syslog);
void log_close(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "err", "warn", "info", "debug" (any case) or "0".."3"; -EINVAL otherwise. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The level test sits in the macro so a suppressed message costs one call and
 * a compare: its arguments are not even evaluated. Still an expression, so it
 * may be used wherever a function call may.
 */
#define LOG_AT(lvl, ...)                                                         \
	((lvl) <= log_get_level() ? log_msg((lvl), __func__, __VA_ARGS__) : (void)0)

#define LOG_ERR(...)   LOG_AT(LOG_LVL_ERR, __VA_ARGS__)
#define LOG_WARN(...)  LOG_AT(LOG_LVL_WARN, __VA_ARGS__)
#define LOG_INFO(...)  LOG_AT(LOG_LVL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
