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
#include <stdint.h>

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

/*
 * While fd >= 0, every line at warn or err also goes to fd as "ident: message": a daemon's
 * start-up, so that the terminal that started it hears why it failed even when the log goes to
 * syslog or a file. -1 stops it (the fd stays the caller's).
 */
void log_echo_fd(int fd);

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

/*
 * Rate-limited lines, for conditions that repeat while they last (an SA outage, a flood of bad
 * MADs): at most one line per interval; the repeats in between are counted and the next line that
 * goes out says how many there were. The state lives at the call site, as the kernel's
 * printk_ratelimited does: the daemon is single-threaded.
 */
struct log_ratelimit {
	uint64_t next_ms;	/* CLOCK_MONOTONIC; 0: the next line goes out */
	uint32_t suppressed;
};
/* True when a line may go out now; then *suppressed is how many were held back before it. */
bool log_ratelimit_pass(struct log_ratelimit *rl, uint32_t interval_ms, uint32_t *suppressed);
void log_suppressed(enum log_level lvl, const char *func, uint32_t n, uint32_t interval_ms);

#define LOG_AT_RL(lvl, interval_ms, ...)                                         \
	do {                                                                     \
		static struct log_ratelimit rl_;                                 \
		uint32_t sup_;                                                   \
		if ((lvl) <= log_get_level() &&                                  \
		    log_ratelimit_pass(&rl_, (interval_ms), &sup_)) {            \
			log_msg((lvl), __func__, __VA_ARGS__);                   \
			if (sup_)                                                \
				log_suppressed((lvl), __func__, sup_, (interval_ms)); \
		}                                                                \
	} while (0)

#define LOG_ERR_RL(ms, ...)  LOG_AT_RL(LOG_LVL_ERR, ms, __VA_ARGS__)
#define LOG_WARN_RL(ms, ...) LOG_AT_RL(LOG_LVL_WARN, ms, __VA_ARGS__)
#define LOG_INFO_RL(ms, ...) LOG_AT_RL(LOG_LVL_INFO, ms, __VA_ARGS__)

#endif
