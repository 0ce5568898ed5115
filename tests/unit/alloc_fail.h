/*
 * alloc_fail.h - makes malloc, calloc and realloc fail on demand, for the tests of what a
 * module does when memory runs out. The test is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (tests/unit/CMakeLists.txt), so every call
 * from its own objects and the project's static libraries passes through here; the C
 * library's internal allocations and the sanitizers' do not. Include it in one file only.
 *
 * alloc_limit_set(bytes) makes every request of more bytes fail, as on a system without the
 * memory (a sanitizer would abort instead of returning NULL), and records the largest request.
 */
#ifndef LOCALSA_TEST_ALLOC_FAIL_H
#define LOCALSA_TEST_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static bool alloc_failing;
static size_t alloc_limit;	/* 0: none */
static size_t alloc_largest;	/* bytes of the largest request while a limit is set */

static inline void alloc_fail_set(bool on)
{
	alloc_failing = on;
}

static inline void alloc_limit_set(size_t bytes)
{
	alloc_limit = bytes;
	alloc_largest = 0;
}

/* Is a request of n elements of size bytes to fail? */
static inline bool alloc_refused(size_t n, size_t size)
{
	size_t bytes = size && n > SIZE_MAX / size ? SIZE_MAX : n * size;

	if (!alloc_limit)
		return alloc_failing;
	if (bytes > alloc_largest)
		alloc_largest = bytes;
	return alloc_failing || bytes > alloc_limit;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
	return alloc_refused(n, 1) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_refused(n, size) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_refused(n, 1) ? NULL : __real_realloc(p, n);
}

#endif
