/*
 * alloc_fail.h - makes malloc, calloc and realloc fail on demand, for the tests of what a
 * module does when memory runs out. The test is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (tests/unit/CMakeLists.txt), so every call
 * from its own objects and the project's static libraries passes through here; the C
 * library's internal allocations and the sanitizers' do not. Include it in one file only.
 */
#ifndef LOCALSA_TEST_ALLOC_FAIL_H
#define LOCALSA_TEST_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

static bool alloc_failing;

static inline void alloc_fail_set(bool on)
{
	alloc_failing = on;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
	return alloc_failing ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_failing ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_failing ? NULL : __real_realloc(p, n);
}

#endif
