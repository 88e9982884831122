/* SPDX-License-Identifier: MIT */
/*
 * thread.h: starting a helper thread that takes no signals. Signals belong
 * to the main thread (SIGINT, SIGTERM, SIGHUP, SIGUSR1 are handled there);
 * a helper that does blocking I/O must not be picked to run a handler, and
 * with SIGPIPE blocked a write to a closed socket gives EPIPE. The mask is
 * set for the new thread only: the caller's is restored before returning.
 */
#ifndef BW_THREAD_H
#define BW_THREAD_H

#include <pthread.h>
#include <signal.h>

/* pthread_create(th, NULL, fn, arg) with every signal blocked in the new
 * thread. Returns pthread_create's result (0 on success). */
static inline int bw_thread_start_nosignals(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

#endif /* BW_THREAD_H */
