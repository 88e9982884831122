/* SPDX-License-Identifier: MIT */
/*
 * seccomp.h: the system-call allow-list installed once the sensor has
 * started (files, sockets, rings and BPF programs open; privileges dropped).
 *
 * What stays allowed is what the running sensor needs and nothing more:
 * reading capture files (and the next one of a directory), memory mapping,
 * writing the outputs and reopening them on SIGHUP, reloading the policy and
 * its data files, the syslog sinks' sockets (AF_UNIX/AF_INET/AF_INET6 only,
 * and their reconnects and name lookups), threads (clone with CLONE_THREAD
 * only: no new process), futexes, clocks, signals to itself, getrandom; in
 * live mode as well the capture sockets' reads and statistics, the bpf
 * system call restricted to map lookups/updates/deletes/iteration, and the
 * netlink socket that detaches an XDP program at the end. Refused, among
 * others: execve, fork, ptrace, new packet sockets, mapping memory
 * executable, kill/tgkill of another process, mount, bpf program loads.
 *
 * A refused call stops the process: the kernel raises SIGSYS, a handler
 * writes one line to stderr naming the system call number and the process
 * then dies of SIGSYS (core dump where enabled). Killing rather than
 * returning EPERM is deliberate: a call missing from the list is a bug that
 * must show (a sensor silently failing to write alerts is worse than one
 * that stops and is restarted by its supervisor), and a call nobody listed
 * is what an attacker who took over the process would make.
 *
 * Sanitizer builds (ASan: __SANITIZE_ADDRESS__) also allow what the
 * sanitizer runtime needs at exit or on a report (LeakSanitizer's tracer
 * task: clone without CLONE_THREAD, ptrace, wait4; the symbolizer: fork and
 * execve): those binaries are for tests only.
 */
#ifndef BW_SECCOMP_H
#define BW_SECCOMP_H

#include "bw.h"

enum bw_seccomp_mode {
	BW_SECCOMP_OFFLINE = 0, /* -r: files, outputs, syslog sockets */
	BW_SECCOMP_LIVE = 1,    /* -i: + capture sockets, bpf map access, netlink (XDP detach) */
};

enum bw_seccomp_flags {
	/* Log refused calls (SCMP_ACT_LOG: kernel log / audit, "type=1326")
	 * and let them through: to find what a new code path needs. */
	BW_SECCOMP_LOG_ONLY = 1u << 0,
};

/* The environment variable that asks for BW_SECCOMP_LOG_ONLY ("1"). */
#define BW_SECCOMP_LOG_ENV "BINDWATCH_SECCOMP_LOG"

/*
 * Install the filter on every thread of the process (TSYNC: sink threads
 * started before stay covered) and on every thread and child created later.
 * Sets no_new_privs. Cannot be undone. Processes forked before the call are
 * not affected.
 * The program is generated in a short-lived child process (fork) and
 * checked before it is loaded.
 * Returns BW_OK, BW_ENOTSUP (the kernel or libseccomp refused, or the
 * generated program failed its check: err says why; nothing installed) or
 * BW_ENOMEM.
 */
int bw_seccomp_install(enum bw_seccomp_mode mode, unsigned flags, char *err, size_t errcap);

/* Flags asked for by the environment (BW_SECCOMP_LOG_ENV=1 gives
 * BW_SECCOMP_LOG_ONLY). */
unsigned bw_seccomp_env_flags(void);

#endif /* BW_SECCOMP_H */
