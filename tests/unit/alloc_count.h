/*
 * alloc_count.h — counts heap allocations, for tests that prove a path
 * allocates nothing (the query path, stats counting; and, preloaded into
 * the daemon, its UDP workers: tests/integration/udp_alloc_preload.c).
 *
 * Include it in exactly one file per executable or library.  malloc,
 * calloc, realloc and the aligned ones (aligned_alloc, posix_memalign,
 * memalign, valloc: stats.c uses aligned_alloc) are interposed here (the
 * executable's definitions win over libc's) and passed on to glibc's
 * __libc_* entry points; under AddressSanitizer its allocator hooks count
 * instead.  free needs no counting.
 *
 * Each allocation runs ALLOC_COUNT_NOTE().  The default counts into
 * alloc_count while alloc_counting is set:
 *   alloc_counter_install(); alloc_count = 0; alloc_counting = true;
 *   ...the code under test...; alloc_counting = false; assert alloc_count == 0.
 * An includer that counts otherwise defines ALLOC_COUNT_NOTE() first.
 */
#ifndef GEOSTEER_TEST_ALLOC_COUNT_H
#define GEOSTEER_TEST_ALLOC_COUNT_H

#include <stdbool.h>
#include <stddef.h>

#ifndef ALLOC_COUNT_NOTE
static volatile bool alloc_counting;
static volatile unsigned long alloc_count;
#define ALLOC_COUNT_NOTE()                                                                                   \
	do {                                                                                                 \
		if (alloc_counting)                                                                          \
			alloc_count++;                                                                       \
	} while (0)
#endif

#if defined(__SANITIZE_ADDRESS__)
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static void alloc_malloc_hook(const volatile void *p, size_t n)
{
	(void)p;
	(void)n;
	ALLOC_COUNT_NOTE();
}
static void alloc_free_hook(const volatile void *p)
{
	(void)p;
}
static void alloc_counter_install(void)
{
	__sanitizer_install_malloc_and_free_hooks(alloc_malloc_hook, alloc_free_hook);
}
#else
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void *__libc_valloc(size_t size);
void *malloc(size_t size)
{
	ALLOC_COUNT_NOTE();
	return __libc_malloc(size);
}
void *calloc(size_t n, size_t size)
{
	ALLOC_COUNT_NOTE();
	return __libc_calloc(n, size);
}
void *realloc(void *p, size_t size)
{
	ALLOC_COUNT_NOTE();
	return __libc_realloc(p, size);
}
void *aligned_alloc(size_t align, size_t size)
{
	ALLOC_COUNT_NOTE();
	return __libc_memalign(align, size);
}
void *memalign(size_t align, size_t size)
{
	ALLOC_COUNT_NOTE();
	return __libc_memalign(align, size);
}
int posix_memalign(void **out, size_t align, size_t size)
{
	ALLOC_COUNT_NOTE();
	/* POSIX: a power of two multiple of sizeof(void *), else EINVAL */
	if (align < sizeof(void *) || (align & (align - 1)))
		return 22; /* EINVAL, without pulling errno.h into every test */
	void *p = __libc_memalign(align, size);
	if (!p)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}
void *valloc(size_t size)
{
	ALLOC_COUNT_NOTE();
	return __libc_valloc(size);
}
static inline void alloc_counter_install(void)
{
}
#endif

#endif
