/*
 * udp_alloc_preload.c — LD_PRELOAD library for tests/integration/udp-alloc-test:
 * counts heap allocations made by the threads that serve UDP, once they
 * serve, in the real daemon.
 *
 * tests/unit/test_query.c proves the answering code allocates nothing;
 * this proves it for the whole UDP path around it (receive, snapshot
 * reader, answer, counters, send) in the running geosteerd.  A thread
 * becomes "serving" at its first recvmmsg() (setup before that, such as
 * the worker's batch buffers, is not counted); from then on every malloc,
 * calloc, realloc, aligned_alloc, memalign, posix_memalign and valloc it
 * makes is counted.  The counts go to the file named by
 * GEOSTEER_ALLOC_REPORT every 20 ms, as "serving-threads allocations",
 * from a thread of this library's own (which never serves).
 *
 * GEOSTEER_ALLOC_SELFTEST=1 makes every recvmmsg() of a serving thread
 * allocate once itself, so the test can show the counter sees what the
 * daemon's threads do.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_ulong alloc_serving_allocs;
static atomic_uint alloc_serving_threads;
static __thread int alloc_serving;
static int alloc_selftest;

/* The interposers are tests/unit/alloc_count.h's; they count here. */
#define ALLOC_COUNT_NOTE()                                                                                   \
	do {                                                                                                 \
		if (alloc_serving)                                                                           \
			atomic_fetch_add_explicit(&alloc_serving_allocs, 1, memory_order_relaxed);           \
	} while (0)
#include "../unit/alloc_count.h"

typedef int (*alloc_recvmmsg_fn)(int, struct mmsghdr *, unsigned int, int, struct timespec *);

int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *timeout)
{
	static _Atomic(alloc_recvmmsg_fn) real;
	alloc_recvmmsg_fn f = atomic_load(&real);
	if (!f) {
		/* dlsym may allocate: before this thread counts as serving */
		f = (alloc_recvmmsg_fn)dlsym(RTLD_NEXT, "recvmmsg");
		atomic_store(&real, f);
	}
	if (!alloc_serving) {
		alloc_serving = 1;
		atomic_fetch_add(&alloc_serving_threads, 1);
	}
	if (alloc_selftest) {
		void *volatile p = malloc(16);
		free(p);
	}
	return f(fd, vec, vlen, flags, timeout);
}

static void *alloc_reporter(void *arg)
{
	const char *path = arg;
	for (;;) {
		char line[64];
		int n = snprintf(line, sizeof line, "%u %lu\n", atomic_load(&alloc_serving_threads),
		                 atomic_load(&alloc_serving_allocs));
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			if (write(fd, line, (size_t)n) == n)
				rename(tmp, path); /* readers never see a half-written line */
			close(fd);
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

__attribute__((constructor)) static void alloc_preload_init(void)
{
	const char *path = getenv("GEOSTEER_ALLOC_REPORT");
	const char *selftest = getenv("GEOSTEER_ALLOC_SELFTEST");
	alloc_selftest = selftest && strcmp(selftest, "1") == 0;
	if (!path || !*path)
		return;
	/* The reporter takes no signal: SIGTERM and SIGHUP are the daemon's. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &attr, alloc_reporter, strdup(path));
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
