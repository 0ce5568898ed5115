/*
 * test_base_log.c - level parsing, level filtering and the stderr line format.
 *
 * stderr is pointed at a pipe while logging, so the test reads back exactly
 * the bytes the daemon would print.
 */
#include "check.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <unistd.h>

/* --- capturing stderr --- */

struct capture {
	int saved;
	int rfd;
	char buf[16384];
};

static void capture_begin(struct capture *cap)
{
	int p[2];

	CHECK_INT(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	fflush(stderr);
	cap->saved = dup(STDERR_FILENO);
	CHECK(cap->saved >= 0);
	CHECK_INT(STDERR_FILENO, dup2(p[1], STDERR_FILENO));
	close(p[1]);
	cap->rfd = p[0];
}

/* Restores stderr and returns what was written, NUL-terminated. */
static const char *capture_end(struct capture *cap)
{
	size_t len = 0;
	ssize_t n;

	dup2(cap->saved, STDERR_FILENO);
	close(cap->saved);
	while (len < sizeof(cap->buf) - 1 &&
	       (n = read(cap->rfd, cap->buf + len, sizeof(cap->buf) - 1 - len)) > 0)
		len += (size_t)n;
	cap->buf[len] = '\0';
	close(cap->rfd);
	return cap->buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static bool matches(const char *re, const char *text)
{
	regex_t rx;
	bool ok;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB))
		return false;
	ok = !regexec(&rx, text, 0, NULL, 0);
	regfree(&rx);
	if (!ok)
		fprintf(stderr, "  /%s/ does not match:\n%s", re, text);
	return ok;
}

/* --- tests --- */

static void test_parse(void)
{
	static const struct {
		const char *name;
		enum log_level lvl;
	} good[] = {
		{ "err", LOG_LVL_ERR },    { "warn", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO },  { "debug", LOG_LVL_DEBUG },
		{ "0", LOG_LVL_ERR },      { "1", LOG_LVL_WARN },
		{ "2", LOG_LVL_INFO },     { "3", LOG_LVL_DEBUG },
		{ "DEBUG", LOG_LVL_DEBUG }, { "Warn", LOG_LVL_WARN },
	};
	static const char *const bad[] = {
		"", "4", "-1", "03", "10", "verbose", "error", "info ", " info", "in",
	};
	enum log_level lvl;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		lvl = (enum log_level)99;
		CHECK_INT(0, log_level_parse(good[i].name, &lvl));
		CHECK_INT(good[i].lvl, lvl);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lvl = (enum log_level)99;
		CHECK_INT(-EINVAL, log_level_parse(bad[i], &lvl));
		CHECK_INT(99, lvl); /* untouched on failure */
	}
	CHECK_INT(-EINVAL, log_level_parse(NULL, &lvl));

	CHECK_STR("err", log_level_name(LOG_LVL_ERR));
	CHECK_STR("debug", log_level_name(LOG_LVL_DEBUG));
}

static int evaluated;

static int side_effect(void)
{
	return ++evaluated;
}

static void emit_at_info(void)
{
	LOG_WARN("hello %d", 42);
	LOG_DEBUG("hidden %d", side_effect());
	log_msg(LOG_LVL_DEBUG, __func__, "hidden too");
	LOG_INFO("one newline only\n");
	LOG_ERR("%s", "last");
}

static void test_format_and_level(void)
{
	struct capture cap;
	const char *out;
	char re[512];

	log_open("localsad", LOG_LVL_INFO, false);
	CHECK_INT(LOG_LVL_INFO, log_get_level());

	capture_begin(&cap);
	emit_at_info();
	out = capture_end(&cap);

	CHECK_INT(3, count_lines(out));
	CHECK_INT(0, evaluated); /* suppressed arguments are not even evaluated */
	CHECK(!strstr(out, "hidden"));
	snprintf(re, sizeof(re),
		 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} "
		 "localsad\\[%d\\] warn emit_at_info: hello 42$", (int)getpid());
	CHECK(matches(re, out));
	CHECK(matches("^[-0-9T:.]{23} localsad\\[[0-9]+\\] info emit_at_info: one newline only$", out));
	CHECK(matches("^[-0-9T:.]{23} localsad\\[[0-9]+\\] err emit_at_info: last\n$", out));

	log_set_level(LOG_LVL_DEBUG);
	CHECK_INT(LOG_LVL_DEBUG, log_get_level());
	capture_begin(&cap);
	LOG_DEBUG("shown %d", side_effect());
	out = capture_end(&cap);
	CHECK_INT(1, evaluated);
	CHECK(matches("^[-0-9T:.]{23} localsad\\[[0-9]+\\] debug test_format_and_level: shown 1\n$", out));

	log_set_level(LOG_LVL_ERR);
	capture_begin(&cap);
	LOG_WARN("quiet");
	LOG_INFO("quiet");
	LOG_ERR("loud");
	out = capture_end(&cap);
	CHECK_INT(1, count_lines(out));
	CHECK(strstr(out, " err test_format_and_level: loud\n") != NULL);
}

static void test_errno_and_truncation(void)
{
	struct capture cap;
	const char *out;
	char *big = malloc(5000);
	size_t len;

	memset(big, 'a', 4999);
	big[4999] = '\0';
	log_open("t", LOG_LVL_INFO, false);

	capture_begin(&cap);
	errno = EAGAIN;
	LOG_ERR("failed: %m");
	CHECK_INT(EAGAIN, errno); /* callers may still look at errno */
	LOG_INFO("%s", big);
	out = capture_end(&cap);

	CHECK_INT(2, count_lines(out));
	CHECK(strstr(out, strerror(EAGAIN)) != NULL);
	out = strchr(out, '\n') + 1;
	len = strlen(out);
	CHECK(len > 1000 && len < 5000);
	CHECK(len >= 4 && !strcmp(out + len - 4, "...\n"));
	free(big);
}

/* One call site, called in a burst: one line, then the count of what it held back. */
static void flood(int i)
{
	LOG_WARN_RL(200, "SA silent (%d)", i);
}

static void test_ratelimit(void)
{
	struct capture cap;
	const char *out;

	log_open("localsad", LOG_LVL_INFO, false);
	capture_begin(&cap);
	for (int i = 0; i < 1000; i++)
		flood(i);
	out = capture_end(&cap);
	CHECK_INT(1, count_lines(out));
	CHECK(strstr(out, "SA silent (0)") != NULL);

	usleep(250 * 1000);	/* the interval passed: one line again, with the count */
	capture_begin(&cap);
	flood(1000);
	flood(1001);
	out = capture_end(&cap);
	CHECK_INT(2, count_lines(out));
	CHECK(strstr(out, "SA silent (1000)") != NULL);
	CHECK(matches("warn flood: \\(999 more like the previous line in the last 1 s\\)$", out));
}

int main(void)
{
	test_parse();
	test_ratelimit();
	test_format_and_level();
	test_errno_and_truncation();
	log_close();
	return CHECK_DONE();
}
