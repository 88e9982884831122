/* SPDX-License-Identifier: MIT */
/*
 * seccomp.c: the post-start-up system-call allow-list (seccomp.h), built
 * with libseccomp so one table serves every architecture libseccomp knows.
 * The list was found by running every test suite (offline, live on
 * AF_PACKET/AF_XDP/libpcap, syslog over UDP/TCP/TLS/unix with outages,
 * SIGHUP reloads) with BINDWATCH_SECCOMP_LOG=1 and reading the kernel's
 * "type=1326" lines, then checked in kill mode; each entry says which part
 * of the sensor (or of glibc, OpenSSL, liburcu) makes the call. Where an
 * argument tells a harmless use from a dangerous one (clone of a thread vs
 * of a process, mmap of data vs of code, a socket of a family the sinks use
 * vs a packet socket, bpf map access vs a program load) the rule checks it.
 * A refused call raises SIGSYS (SCMP_ACT_TRAP) so that a handler can say on
 * stderr which call it was before the process dies of that same signal.
 * libseccomp only generates the BPF program, in a child process, and the
 * program is run through a small interpreter against the tables before this
 * process loads it with seccomp(2): the allocation-failure torture found
 * libseccomp 2.5.4 loading a truncated filter, or spinning, when one of its
 * own allocations failed inside seccomp_load().
 */
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif

/* Calls allowed with any arguments, in both modes. */
static const int allow_any[] = {
	/* files: captures, policy/zone/data files, outputs, spool */
	SCMP_SYS(read),
	SCMP_SYS(readv),
	SCMP_SYS(pread64),
	SCMP_SYS(preadv),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(pwrite64),
	SCMP_SYS(pwritev),
	SCMP_SYS(lseek),
	SCMP_SYS(close),
	SCMP_SYS(open),
	SCMP_SYS(openat),
	SCMP_SYS(fstat),
	SCMP_SYS(stat),
	SCMP_SYS(lstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(statx),
	SCMP_SYS(access),
	SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),
	SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),
	SCMP_SYS(getdents64),
	SCMP_SYS(getdents),
	SCMP_SYS(fcntl),
	SCMP_SYS(dup),
	SCMP_SYS(flock),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(ftruncate),
	SCMP_SYS(rename),
	SCMP_SYS(renameat),
	SCMP_SYS(renameat2),
	SCMP_SYS(unlink),
	SCMP_SYS(unlinkat),
	SCMP_SYS(mkdir),
	SCMP_SYS(mkdirat),
	SCMP_SYS(fadvise64),
	SCMP_SYS(getcwd),
	/* memory: malloc, the mmap capture reader, thread stacks (mmap/mprotect are
	   checked below) */
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	SCMP_SYS(mincore),
	SCMP_SYS(brk),
	/* threads and their synchronisation: pthreads, liburcu (futex, membarrier),
	   rings */
	SCMP_SYS(futex),
	SCMP_SYS(futex_waitv),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(get_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(membarrier),
	SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getuid),
	SCMP_SYS(geteuid),
	SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(eventfd2),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(restart_syscall),
	/* signals: SIGINT/SIGTERM/SIGHUP/SIGUSR1 handling, the SIGSYS handler */
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(rt_sigtimedwait),
	/* time: packet rates, progress, backoff, stats intervals (vDSO usually; a
	   syscall under valgrind) */
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(time),
	SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(getrusage),
	SCMP_SYS(sysinfo),
	SCMP_SYS(uname),
	/* OpenSSL (TLS syslog sink, DRBG reseeds), spool ids, backoff jitter */
	SCMP_SYS(getrandom),
	/* syslog sinks (connect/reconnect, name lookups, sending, draining),
	   capture sockets */
	SCMP_SYS(connect),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(sendmmsg),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(recvmmsg),
	SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	SCMP_SYS(shutdown),
	SCMP_SYS(bind),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(select),
	SCMP_SYS(pselect6),
	SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
};

/* ioctl requests: SIOCOUTQ (syslog drain: bytes not yet acknowledged),
 * FIONREAD, TCGETS (isatty, stdio). */
static const unsigned long allow_ioctl[] = { SIOCOUTQ, FIONREAD, TCGETS, FIONBIO };

/* prctl options: thread names (pthread_setname_np on itself), reading
 * no_new_privs/dumpable. */
static const int allow_prctl[] = { PR_SET_NAME, PR_GET_NAME, PR_GET_NO_NEW_PRIVS, PR_GET_DUMPABLE };

/* Socket families the sinks use (and glibc's getaddrinfo, which asks
 * NETLINK_ROUTE for the local addresses). */
static const int allow_family[] = { AF_UNIX, AF_INET, AF_INET6 };

/* Live mode: bypass map updates and counter reads through descriptors opened at
 * start-up. */
static const int allow_bpf_cmd[] = { BPF_MAP_LOOKUP_ELEM,  BPF_MAP_UPDATE_ELEM,    BPF_MAP_DELETE_ELEM,
				     BPF_MAP_GET_NEXT_KEY, BPF_OBJ_GET_INFO_BY_FD, BPF_MAP_LOOKUP_BATCH };

/* Sanitizer runtime only (test builds): LSan's tracer task and ASan's
 * symbolizer. */
#if defined(__SANITIZE_ADDRESS__)
#define BW_SECCOMP_SAN 1
static const int allow_san[] = {
	SCMP_SYS(ptrace), SCMP_SYS(wait4),   SCMP_SYS(waitid), SCMP_SYS(execve),         SCMP_SYS(fork),
	SCMP_SYS(vfork),  SCMP_SYS(pipe),    SCMP_SYS(pipe2),  SCMP_SYS(dup2),           SCMP_SYS(dup3),
	SCMP_SYS(kill),   SCMP_SYS(getppid), SCMP_SYS(prctl),  SCMP_SYS(sched_getparam), SCMP_SYS(sched_getscheduler),
	SCMP_SYS(tgkill), SCMP_SYS(tkill),
};
#endif

static void put_str(const char *s) { (void)!write(STDERR_FILENO, s, strlen(s)); }

/* Async-signal-safe: write, rt_sigaction, tgkill only. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char num[16];
	int nr = si->si_syscall;
	size_t i = sizeof(num);
	num[--i] = '\0';
	unsigned v = nr < 0 ? 0u : (unsigned)nr;
	do
		num[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	put_str("bindwatch: seccomp: system call ");
	put_str(num + i);
	put_str(" is not on the allow-list: stopping (bindwatch --no-seccomp turns "
		"the filter off; " BW_SECCOMP_LOG_ENV "=1 logs refused calls to the kernel log instead)\n");
	/* Die of SIGSYS once this handler returns: default action, pending signal. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
}

static int add(scmp_filter_ctx ctx, int nr, unsigned n, const struct scmp_arg_cmp *cmp)
{
	/* A call this libseccomp or architecture does not know (e.g. futex_waitv on
	 * an old one) is skipped. */
	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);
}

/* self: the process the filter is for (the generator runs in a child of it). */
static int build(scmp_filter_ctx ctx, enum bw_seccomp_mode mode, pid_t self)
{
	int r = 0;
	for (size_t i = 0; i < BW_ARRAY_SIZE(allow_any) && r == 0; i++)
		r = add(ctx, allow_any[i], 0, NULL);
	for (size_t i = 0; i < BW_ARRAY_SIZE(allow_ioctl) && r == 0; i++) {
		struct scmp_arg_cmp a = SCMP_A1(SCMP_CMP_EQ, allow_ioctl[i]);
		r = add(ctx, SCMP_SYS(ioctl), 1, &a);
	}
	for (size_t i = 0; i < BW_ARRAY_SIZE(allow_prctl) && r == 0; i++) {
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)allow_prctl[i]);
		r = add(ctx, SCMP_SYS(prctl), 1, &a);
	}
	for (size_t i = 0; i < BW_ARRAY_SIZE(allow_family) && r == 0; i++) {
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)allow_family[i]);
		r = add(ctx, SCMP_SYS(socket), 1, &a);
	}
	if (r == 0) {
		/* netlink: route only (getaddrinfo's address list; libbpf's XDP detach) */
		struct scmp_arg_cmp a[2] = { SCMP_A0(SCMP_CMP_EQ, AF_NETLINK), SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE) };
		r = add(ctx, SCMP_SYS(socket), 2, a);
	}
	if (r == 0) {
		/* new threads, never a new process (clone3's flags are behind a pointer:
		 * ENOSYS makes glibc use clone) */
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
		r = add(ctx, SCMP_SYS(clone), 1, &a);
	}
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r == 0) {
		/* data mappings only: no new executable memory */
		struct scmp_arg_cmp a = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
		r = add(ctx, SCMP_SYS(mmap), 1, &a);
		if (r == 0)
			r = add(ctx, SCMP_SYS(mprotect), 1, &a);
	}
	if (r == 0) {
		/* signals to this process only (raise, abort, the SIGSYS handler) */
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self);
		r = add(ctx, SCMP_SYS(tgkill), 1, &a);
	}
	if (mode == BW_SECCOMP_LIVE)
		for (size_t i = 0; i < BW_ARRAY_SIZE(allow_bpf_cmd) && r == 0; i++) {
			struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)allow_bpf_cmd[i]);
			r = add(ctx, SCMP_SYS(bpf), 1, &a);
		}
#ifdef BW_SECCOMP_SAN
	for (size_t i = 0; i < BW_ARRAY_SIZE(allow_san) && r == 0; i++)
		r = add(ctx, allow_san[i], 0, NULL);
	if (r == 0) {
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
		r = add(ctx, SCMP_SYS(clone), 1, &a);
	}
#endif
	return r;
}

/*
 * A classic-BPF interpreter over what seccomp programs use, to check the
 * generated program before it is loaded: libseccomp 2.5 has been seen to
 * emit a truncated program (and to report success) or to spin when one of
 * its allocations fails, and a wrong filter loaded is either a crash at the
 * next system call or a hole. Jumps only go forward, so a run is bounded by
 * the program's length. Returns false on anything malformed.
 */
static bool bpf_run(const struct sock_filter *p, size_t n, const struct seccomp_data *d, uint32_t *ret)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *f = &p[pc];
		uint32_t k = f->k, src = BPF_SRC(f->code) == BPF_X ? x : k;
		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
			if (f->code == (BPF_LD | BPF_W | BPF_ABS)) {
				if (k % 4 || k + 4 > sizeof(*d))
					return false;
				memcpy(&a, (const uint8_t *)d + k, 4);
			} else if (f->code == (BPF_LD | BPF_IMM)) {
				a = k;
			} else if (f->code == (BPF_LD | BPF_MEM) && k < BPF_MEMWORDS) {
				a = mem[k];
			} else {
				return false;
			}
			break;
		case BPF_LDX:
			if (f->code == (BPF_LDX | BPF_IMM))
				x = k;
			else if (f->code == (BPF_LDX | BPF_MEM) && k < BPF_MEMWORDS)
				x = mem[k];
			else
				return false;
			break;
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return false;
			mem[k] = BPF_CLASS(f->code) == BPF_ST ? a : x;
			break;
		case BPF_ALU:
			switch (BPF_OP(f->code)) {
			case BPF_AND: a &= src; break;
			case BPF_OR: a |= src; break;
			case BPF_XOR: a ^= src; break;
			case BPF_ADD: a += src; break;
			case BPF_SUB: a -= src; break;
			case BPF_LSH: a = src < 32 ? a << src : 0; break;
			case BPF_RSH: a = src < 32 ? a >> src : 0; break;
			case BPF_NEG: a = -a; break;
			default: return false;
			}
			break;
		case BPF_JMP: {
			bool t;
			switch (BPF_OP(f->code)) {
			case BPF_JA:
				if (k >= n - pc)
					return false;
				pc += k;
				continue;
			case BPF_JEQ: t = a == src; break;
			case BPF_JGT: t = a > src; break;
			case BPF_JGE: t = a >= src; break;
			case BPF_JSET: t = (a & src) != 0; break;
			default: return false;
			}
			size_t off = t ? f->jt : f->jf;
			if (off >= n - pc - 1)
				return false;
			pc += off;
			break;
		}
		case BPF_RET:
			if (BPF_RVAL(f->code) == BPF_K)
				*ret = k;
			else if (BPF_RVAL(f->code) == BPF_A)
				*ret = a;
			else
				return false;
			return true;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				x = a;
			else if (BPF_MISCOP(f->code) == BPF_TXA)
				a = x;
			else
				return false;
			break;
		default: return false;
		}
	}
	return false; /* ran off the end */
}

/* Expect action want for call nr (args a0..a2) on the native architecture. */
static bool expect(const struct sock_filter *p, size_t n, uint32_t arch, int nr, uint64_t a0, uint64_t a2,
		   uint32_t want)
{
	struct seccomp_data d;
	memset(&d, 0, sizeof(d));
	d.nr = nr;
	d.arch = arch;
	d.args[0] = a0;
	d.args[2] = a2;
	uint32_t r;
	return bpf_run(p, n, &d, &r) && r == want;
}

/* The generated program does what the tables say, on a sample of calls and
 * arguments. */
static bool verify(const struct sock_filter *p, size_t n, enum bw_seccomp_mode mode, uint32_t deflt)
{
	uint32_t arch = seccomp_arch_native(), allow = SCMP_ACT_ALLOW;
	for (size_t i = 0; i < BW_ARRAY_SIZE(allow_any); i++)
		if (allow_any[i] >= 0 && !expect(p, n, arch, allow_any[i], 0, 0, allow))
			return false;
	bool live = mode == BW_SECCOMP_LIVE;
	struct sock_filter_check {
		int nr;
		uint64_t a0, a2;
		uint32_t want;
	} const checks[] = {
		{ SCMP_SYS(socket), AF_INET, 0, allow },
		{ SCMP_SYS(socket), AF_PACKET, 0, deflt },
		{ SCMP_SYS(socket), AF_NETLINK, NETLINK_ROUTE, allow },
		{ SCMP_SYS(socket), AF_NETLINK, NETLINK_SOCK_DIAG, deflt },
		{ SCMP_SYS(clone), CLONE_VM | CLONE_THREAD | CLONE_SIGHAND, 0, allow },
		{ SCMP_SYS(clone3), 0, 0, SCMP_ACT_ERRNO(ENOSYS) },
		{ SCMP_SYS(mmap), 0, PROT_READ | PROT_WRITE, allow },
		{ SCMP_SYS(mmap), 0, PROT_READ | PROT_EXEC, deflt },
		{ SCMP_SYS(tgkill), (uint64_t)getpid(), 0, allow },
		{ SCMP_SYS(bpf), BPF_MAP_UPDATE_ELEM, 0, live ? allow : deflt },
		{ SCMP_SYS(bpf), BPF_PROG_LOAD, 0, deflt },
		{ SCMP_SYS(mount), 0, 0, deflt },
#ifndef BW_SECCOMP_SAN
		{ SCMP_SYS(clone), 0, 0, deflt },
		{ SCMP_SYS(execve), 0, 0, deflt },
		{ SCMP_SYS(ptrace), 0, 0, deflt },
#endif
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(checks); i++)
		if (!expect(p, n, arch, checks[i].nr, checks[i].a0, checks[i].a2, checks[i].want))
			return false;
	uint32_t r;
	struct seccomp_data other = { .nr = SCMP_SYS(read), .arch = arch ^ 0x5a5a0000u };
	return bpf_run(p, n, &other, &r) && (r == SCMP_ACT_KILL_THREAD || r == SCMP_ACT_KILL_PROCESS);
}

/* In the child: build the filter and write its BPF program to fd. Exit 0, 2
 * (ENOMEM) or 1. */
static void export_child(int fd, enum bw_seccomp_mode mode, uint32_t deflt, pid_t self)
{
	scmp_filter_ctx ctx = seccomp_init(deflt);
	if (!ctx)
		_exit(2);
	int r = build(ctx, mode, self);
	if (r == 0)
		r = seccomp_export_bpf(ctx, fd);
	_exit(r == 0 ? 0 : r == -ENOMEM ? 2 : 1);
}

#define EXPORT_TIMEOUT_MS 10000

/*
 * The program, built by libseccomp in a child process: a generator that
 * fails (or hangs) under memory pressure takes only the child with it.
 * prog holds BPF_MAXINSNS entries; *n is set to the count.
 */
static int export_prog(enum bw_seccomp_mode mode, uint32_t deflt, struct sock_filter *prog, size_t *n, char *err,
		       size_t errcap)
{
	int p[2], rc = BW_OK;
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(err, errcap, "seccomp: pipe: %s", strerror(errno));
		return errno == ENOMEM ? BW_ENOMEM : BW_ENOTSUP;
	}
	pid_t self = getpid(), pid = fork();
	if (pid < 0) {
		snprintf(err, errcap, "seccomp: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return BW_ENOMEM;
	}
	if (pid == 0) {
		close(p[0]);
		export_child(p[1], mode, deflt, self);
	}
	close(p[1]);
	size_t cap = BPF_MAXINSNS * sizeof(*prog), got = 0;
	uint8_t *buf = (uint8_t *)prog;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = EXPORT_TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		if (left <= 0 || (poll(&pf, 1, (int)left) < 0 && errno != EINTR)) {
			rc = BW_ENOTSUP;
			break;
		}
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		ssize_t r = got < cap ? read(p[0], buf + got, cap - got) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(p[0]);
	if (rc != BW_OK)
		kill(pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (rc == BW_OK && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		rc = WIFEXITED(st) && WEXITSTATUS(st) == 2 ? BW_ENOMEM : BW_ENOTSUP;
	if (rc == BW_OK && (got == 0 || got % sizeof(*prog) || got >= cap))
		rc = BW_ENOTSUP;
	if (rc != BW_OK) {
		snprintf(err, errcap, "seccomp: cannot build the filter%s", rc == BW_ENOMEM ? ": out of memory" : "");
		return rc;
	}
	*n = got / sizeof(*prog);
	return BW_OK;
}

unsigned bw_seccomp_env_flags(void)
{
	const char *v = getenv(BW_SECCOMP_LOG_ENV);
	return v && strcmp(v, "1") == 0 ? BW_SECCOMP_LOG_ONLY : 0;
}

int bw_seccomp_install(enum bw_seccomp_mode mode, unsigned flags, char *err, size_t errcap)
{
	uint32_t deflt = (flags & BW_SECCOMP_LOG_ONLY) ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	size_t n = 0;
	struct sock_filter *prog = malloc(BPF_MAXINSNS * sizeof(*prog));
	if (!prog) {
		snprintf(err, errcap, "seccomp: out of memory");
		return BW_ENOMEM;
	}
	int rc = export_prog(mode, deflt, prog, &n, err, errcap);
	if (rc != BW_OK)
		goto out;
	if (!verify(prog, n, mode, deflt)) {
		snprintf(err, errcap,
			 "seccomp: the generated filter (%zu instructions) does not match "
			 "its rules",
			 n);
		rc = BW_ENOTSUP;
		goto out;
	}
	if (deflt == SCMP_ACT_TRAP) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSYS, &sa, NULL);
	}
	struct sock_fprog fp = { .len = (unsigned short)n, .filter = prog };
	long r = -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fp);
	if (r != 0) {
		/* r > 0: the thread of that id could not take the filter (nothing was
		 * installed) */
		snprintf(err, errcap,
			 "seccomp: the kernel refused the filter: %s (--no-seccomp runs "
			 "without it)",
			 r > 0 ? "a thread could not be synchronised" : strerror(errno));
		rc = BW_ENOTSUP;
	}
out:
	free(prog);
	return rc;
}
