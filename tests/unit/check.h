/*
 * check.h - the assertion macros of localsa's unit tests.
 *
 * Each failed check prints the file, line, expression, and the expected and
 * actual values, and counts a failure; CHECK_DONE() prints "N passed, N failed"
 * and gives the process exit status. Tests keep running after a failure so one
 * run shows every broken case.
 */
#ifndef LOCALSA_TEST_CHECK_H
#define LOCALSA_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static unsigned check_passed, check_failed;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (cond) {                                                      \
			check_passed++;                                          \
		} else {                                                         \
			check_failed++;                                          \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,   \
				__LINE__, #cond);                                \
		}                                                                \
	} while (0)

#define CHECK_INT(expected, actual)                                              \
	do {                                                                     \
		long long e_ = (long long)(expected), a_ = (long long)(actual);  \
		if (e_ == a_) {                                                  \
			check_passed++;                                          \
		} else {                                                         \
			check_failed++;                                          \
			fprintf(stderr,                                          \
				"%s:%d: %s == %s: expected %lld (0x%llx), got %lld (0x%llx)\n", \
				__FILE__, __LINE__, #expected, #actual, e_,      \
				(unsigned long long)e_, a_, (unsigned long long)a_); \
		}                                                                \
	} while (0)

#define CHECK_STR(expected, actual)                                              \
	do {                                                                     \
		const char *e_ = (expected), *a_ = (actual);                     \
		if (e_ && a_ && !strcmp(e_, a_)) {                               \
			check_passed++;                                          \
		} else {                                                         \
			check_failed++;                                          \
			fprintf(stderr, "%s:%d: %s: expected \"%s\", got \"%s\"\n", \
				__FILE__, __LINE__, #actual, e_ ? e_ : "(null)", \
				a_ ? a_ : "(null)");                             \
		}                                                                \
	} while (0)

static inline void check_hexdump(const char *tag, const void *p, size_t n)
{
	const unsigned char *b = p;

	fprintf(stderr, "  %s:", tag);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", b[i]);
	fprintf(stderr, "\n");
}

#define CHECK_MEM(expected, actual, len)                                         \
	do {                                                                     \
		if (!memcmp((expected), (actual), (len))) {                      \
			check_passed++;                                          \
		} else {                                                         \
			check_failed++;                                          \
			fprintf(stderr, "%s:%d: %s differs from %s\n", __FILE__, \
				__LINE__, #actual, #expected);                   \
			check_hexdump("expected", (expected), (len));            \
			check_hexdump("actual", (actual), (len));                \
		}                                                                \
	} while (0)

#define CHECK_DONE()                                                             \
	(printf("%u passed, %u failed\n", check_passed, check_failed),           \
	 check_failed ? 1 : 0)

#endif
