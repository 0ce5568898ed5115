/*
 * log.c - format one log line and hand it to stderr or syslog.
 *
 * A stderr line goes out in a single write(2), so lines from the daemon and
 * the lab helpers sharing one terminal or file never interleave mid-line.
 */
#include <syslog.h>

/* Take syslog's priorities before log.h reuses their names for our macros. */
static const int log_syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
#undef LOG_ERR
#undef LOG_INFO
#undef LOG_DEBUG

#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static const char *const log_level_names[] = { "err", "warn", "info", "debug" };

/* The one allowed global: process-wide logging configuration. */
static struct {
	char ident[32];
	enum log_level level;
	bool use_syslog;
	int echo_fd;
} log_state = {
	.ident = "localsa",
	.level = LOG_LVL_INFO,
	.echo_fd = -1,
};

void log_echo_fd(int fd)
{
	log_state.echo_fd = fd;
}

void log_open(const char *ident, enum log_level level, bool use_syslog)
{
	if (log_state.use_syslog)
		closelog();
	if (ident)
		snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	log_set_level(level);
	log_state.use_syslog = use_syslog;
	/* openlog keeps the pointer, so it must be our static copy. */
	if (use_syslog)
		openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(void)
{
	if (log_state.use_syslog)
		closelog();
	log_state.use_syslog = false;
}

void log_set_level(enum log_level level)
{
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_state.level = level;
}

enum log_level log_get_level(void)
{
	return log_state.level;
}

const char *log_level_name(enum log_level level)
{
	return level <= LOG_LVL_DEBUG ? log_level_names[level] : "?";
}

int log_level_parse(const char *name, enum log_level *out)
{
	if (!name)
		return -EINVAL;
	if (name[0] >= '0' && name[0] <= '3' && name[1] == '\0') {
		*out = (enum log_level)(name[0] - '0');
		return 0;
	}
	for (unsigned i = 0; i <= LOG_LVL_DEBUG; i++) {
		if (!strcasecmp(name, log_level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void log_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere left to report a logging failure */
		buf += n;
		len -= (size_t)n;
	}
}

/* "2026-11-26T15:54:24.123 ", local time like syslog's own stamps. */
static size_t log_timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, size - n, ".%03ld ", ts.tv_nsec / 1000000);
	return n;
}

void log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	int saved_errno = errno; /* callers log and then still test errno */
	size_t head, len;
	va_list ap;
	int n;

	if (lvl > log_state.level)
		return;
	if (lvl > LOG_LVL_DEBUG)
		lvl = LOG_LVL_DEBUG;

	head = 0;
	if (!log_state.use_syslog) {
		head = log_timestamp(line, sizeof(line));
		head += (size_t)snprintf(line + head, sizeof(line) - head, "%s[%d] %s ",
					 log_state.ident, (int)getpid(),
					 log_level_names[lvl]);
	}
	/* head is well under LOG_LINE_MAX: ident is capped at 31 bytes. */
	n = snprintf(line + head, sizeof(line) - head, "%s: ", func ? func : "?");
	len = head + (n > 0 ? (size_t)n : 0);
	if (len < sizeof(line)) {
		va_start(ap, fmt);
		errno = saved_errno; /* so that %m reports the caller's errno */
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		va_end(ap);
		if (n > 0)
			len += (size_t)n;
	}
	/* Leave room for the newline; mark a cut message so nobody trusts it whole. */
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
		memcpy(line + len - 3, "...", 3);
	}
	while (len > head && line[len - 1] == '\n')
		len--;
	if (log_state.echo_fd >= 0 && lvl <= LOG_LVL_WARN) {
		char echo[LOG_LINE_MAX + 40];
		int k = snprintf(echo, sizeof(echo), "%s: %s%.*s\n", log_state.ident,
				 lvl == LOG_LVL_WARN ? "warning: " : "", (int)(len - head),
				 line + head);

		if (k > 0)
			log_write_all(log_state.echo_fd, echo,
				      (size_t)k < sizeof(echo) ? (size_t)k : sizeof(echo) - 1);
	}

	if (log_state.use_syslog) {
		line[len] = '\0';
		syslog(log_syslog_prio[lvl], "%s", line);
	} else {
		line[len++] = '\n';
		log_write_all(STDERR_FILENO, line, len);
	}
	errno = saved_errno;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool log_ratelimit_pass(struct log_ratelimit *rl, uint32_t interval_ms, uint32_t *suppressed)
{
	uint64_t now = mono_ms();

	if (rl->next_ms && now < rl->next_ms) {
		rl->suppressed++;
		return false;
	}
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	rl->next_ms = now + (interval_ms ? interval_ms : 1);
	return true;
}

void log_suppressed(enum log_level lvl, const char *func, uint32_t n, uint32_t interval_ms)
{
	log_msg(lvl, func, "(%u more like the previous line in the last %u s)", n,
		(interval_ms + 999) / 1000);
}
