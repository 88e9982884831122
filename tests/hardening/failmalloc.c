/* SPDX-License-Identifier: MIT */
/*
 * failmalloc.c: an LD_PRELOAD shim that makes exactly one allocation fail,
 * the N-th counted from the moment main() starts, in the spirit of curl's
 * torture mode (curl tests/unit/README.md: fail the n-th allocation, for
 * every n). tests/hardening/run.sh compiles it with cc -shared -fPIC.
 *
 *   BW_FAILMALLOC_N=N       fail the N-th malloc/calloc/realloc/aligned call
 *                           (1-based; 0 or unset: fail none, only count)
 *   BW_FAILMALLOC_COUNT=F   at exit, write to file F the number of calls
 *                           made since main() started, and whether the N-th
 *                           was reached ("COUNT FAILED")
 *
 * Counting starts in main(), not at load time: __libc_start_main is
 * interposed to wrap main, so what the libraries' constructors allocate
 * (liburcu, OpenSSL) is not counted and the numbers are the sensor's own
 * (and the library calls it makes). The real allocator is glibc's
 * __libc_malloc family: no dlsym() recursion, and under valgrind those are
 * the symbols valgrind redirects, so the shim's choice of which call fails
 * and memcheck's leak accounting compose. strdup, asprintf, fopen, OpenSSL
 * and libyaml all reach malloc through the PLT, so they are covered. The
 * counter is atomic; with one worker the offline sensor allocates from one
 * thread, so N names the same call from run to run.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_bool armed;
static atomic_ulong calls;
static unsigned long fail_at;
static atomic_bool failed;
static const char *count_file;

/* True if this call is the one to fail. */
static int should_fail(void)
{
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return 0;
	unsigned long n = atomic_fetch_add(&calls, 1) + 1;
	if (fail_at && n == fail_at) {
		atomic_store(&failed, 1);
		return 1;
	}
	return 0;
}

void *malloc(size_t n)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL; /* p stays valid, as for a real failure */
	}
	return __libc_realloc(p, n);
}

void *memalign(size_t al, size_t n)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_memalign(al, n);
}

void *aligned_alloc(size_t al, size_t n) { return memalign(al, n); }

int posix_memalign(void **out, size_t al, size_t n)
{
	if (al < sizeof(void *) || (al & (al - 1)))
		return EINVAL;
	void *p = memalign(al, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* Written with write(2) at exit: stdio would allocate. */
static void write_count(void)
{
	if (!count_file)
		return;
	int fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	char buf[64];
	int len = snprintf(buf, sizeof(buf), "%lu %s\n", atomic_load(&calls),
			   atomic_load(&failed) ? "FAILED" : "NOTREACHED");
	if (len > 0)
		(void)!write(fd, buf, (size_t)len);
	close(fd);
}

static int (*real_main)(int, char **, char **);

static int wrapped_main(int argc, char **argv, char **envp)
{
	const char *n = getenv("BW_FAILMALLOC_N");
	fail_at = n ? strtoul(n, NULL, 10) : 0;
	count_file = getenv("BW_FAILMALLOC_COUNT");
	/* After the allocation atexit itself may make; the count file is written even after exit(). */
	atexit(write_count);
	atomic_store(&armed, 1);
	return real_main(argc, argv, envp);
}

typedef int (*start_main_fn)(int (*)(int, char **, char **), int, char **, void (*)(void), void (*)(void),
			     void (*)(void), void *);

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end);

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end)
{
	start_main_fn real = (start_main_fn)dlsym(RTLD_NEXT, "__libc_start_main");
	real_main = main;
	return real(wrapped_main, argc, argv, init, fini, rtld_fini, stack_end);
}
