/* SPDX-License-Identifier: MIT */
/*
 * test_seccomp.c: the post-start-up system-call filter (seccomp.h). A filter
 * cannot be removed, so each case forks a child that installs it and then
 * makes one call; the parent reads the child's stderr through a pipe and its
 * wait status. A forbidden call must kill the child with SIGSYS after one
 * line naming the call; the calls the running sensor makes (files opened
 * for writing, threads, UDP sockets, getrandom, large allocations) must
 * still work; log mode must let a forbidden call through. The check run on
 * the generated BPF program before it is loaded must accept libseccomp's
 * program and reject a truncated or altered one.
 */
#define _GNU_SOURCE
/* clang-format off: cmocka needs these first, in this order */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The .c itself: the program check (verify, bpf_run) is static. */
#include "sensor/seccomp.c"

struct child_result {
	int status;     /* waitpid status */
	char err[1024]; /* what the child wrote on stderr */
};

/* Fork; the child installs the filter (mode, flags), runs fn and exits with its
 * value. */
static void run_child(enum bw_seccomp_mode mode, unsigned flags, int (*fn)(void), struct child_result *res)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		char err[256];
		if (bw_seccomp_install(mode, flags, err, sizeof(err)) != BW_OK) {
			fprintf(stderr, "install: %s\n", err);
			_exit(100);
		}
		_exit(fn());
	}
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(res->err) - 1 && (r = read(p[0], res->err + n, sizeof(res->err) - 1 - n)) > 0)
		n += (size_t)r;
	res->err[n] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &res->status, 0), pid);
}

static void assert_killed(const struct child_result *res, long nr)
{
	if (!WIFSIGNALED(res->status))
		fail_msg("child was not killed: exit %d, stderr: %s", WEXITSTATUS(res->status), res->err);
	assert_int_equal(WTERMSIG(res->status), SIGSYS);
	char want[64];
	snprintf(want, sizeof(want), "seccomp: system call %ld is not on the allow-list", nr);
	if (!strstr(res->err, want))
		fail_msg("stderr lacks '%s': %s", want, res->err);
}

static void assert_exit0(const struct child_result *res)
{
	if (!WIFEXITED(res->status) || WEXITSTATUS(res->status) != 0)
		fail_msg("child: status 0x%x, stderr: %s", res->status, res->err);
}

static int do_packet_socket(void)
{
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	return fd >= 0 ? 1 : 2; /* must not get here in kill mode */
}

static int do_exec_mmap(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 2 : 1;
}

static int do_mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 3;
	return mprotect(p, 4096, PROT_READ | PROT_EXEC) == 0 ? 1 : 2;
}

#if !defined(__SANITIZE_ADDRESS__)
static int do_execve(void)
{
	char *argv[] = { (char *)"/bin/true", NULL };
	execve("/bin/true", argv, NULL);
	return 2;
}

static int do_fork(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	return 1;
}
#endif

static int do_bpf_prog_load(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	long r = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	return r < 0 ? 2 : 1;
}

static int do_bpf_map_lookup(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)-1;
	long r = syscall(SYS_bpf, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a));
	return r < 0 && errno == EBADF ? 0 : 1; /* allowed: the kernel itself answers */
}

static void *thread_fn(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

/* What the running sensor does: every step must work under the filter. */
static int do_allowed(void)
{
	char path[] = "/tmp/bw-seccomp-test-XXXXXX";
	int fd = mkstemp(path); /* open(O_CREAT|O_EXCL|O_RDWR): a new output or spool file */
	if (fd < 0)
		return 10;
	if (write(fd, "x\n", 2) != 2 || fdatasync(fd) != 0 || close(fd) != 0)
		return 11;
	char moved[sizeof(path) + 4];
	snprintf(moved, sizeof(moved), "%s.1", path);
	if (rename(path, moved) != 0 || unlink(moved) != 0) /* logrotate-style reopen, spool segments */
		return 12;
	pthread_t t;
	int v = 0;
	if (pthread_create(&t, NULL, thread_fn, &v) != 0 || pthread_join(t, NULL) != 0 || v != 42)
		return 13; /* clone3 refused with ENOSYS, clone with CLONE_THREAD allowed */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof(sin)) != 0 || send(s, "a", 1, 0) != 1)
		return 14; /* a UDP syslog sink (re)connecting */
	close(s);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 15;
	close(s);
	uint8_t rnd[16];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return 16;
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 17;
	void *big = malloc(64u << 20); /* mmap'd, data only */
	if (!big)
		return 18;
	memset(big, 1, 4096);
	free(big);
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 19;
	char line[256];
	int mode = -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Seccomp:", 8) == 0)
			mode = atoi(line + 8);
	fclose(f);
	return mode == 2 ? 0 : 20;
}

static void test_packet_socket_refused(void **state)
{
	(void)state;
	struct child_result res;
	run_child(BW_SECCOMP_OFFLINE, 0, do_packet_socket, &res);
	assert_killed(&res, SYS_socket);
	run_child(BW_SECCOMP_LIVE, 0, do_packet_socket, &res); /* live sockets are opened before the filter */
	assert_killed(&res, SYS_socket);
}

static void test_exec_memory_refused(void **state)
{
	(void)state;
	struct child_result res;
	run_child(BW_SECCOMP_OFFLINE, 0, do_exec_mmap, &res);
	assert_killed(&res, SYS_mmap);
	run_child(BW_SECCOMP_LIVE, 0, do_mprotect_exec, &res);
	assert_killed(&res, SYS_mprotect);
}

static void test_process_creation_refused(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* the sanitizer build allows fork/execve for its symbolizer
		   (seccomp.h) */
#else
	struct child_result res;
	run_child(BW_SECCOMP_OFFLINE, 0, do_execve, &res);
	assert_killed(&res, SYS_execve);
	run_child(BW_SECCOMP_LIVE, 0, do_fork, &res);
	assert_killed(&res, SYS_clone);
#endif
}

static void test_bpf(void **state)
{
	(void)state;
	struct child_result res;
	run_child(BW_SECCOMP_LIVE, 0, do_bpf_prog_load, &res);
	assert_killed(&res, SYS_bpf);
	run_child(BW_SECCOMP_LIVE, 0, do_bpf_map_lookup, &res);
	assert_exit0(&res);
	run_child(BW_SECCOMP_OFFLINE, 0, do_bpf_map_lookup, &res); /* offline runs have no maps */
	assert_killed(&res, SYS_bpf);
}

static void test_allowed_calls(void **state)
{
	(void)state;
	struct child_result res;
	run_child(BW_SECCOMP_OFFLINE, 0, do_allowed, &res);
	assert_exit0(&res);
	run_child(BW_SECCOMP_LIVE, 0, do_allowed, &res);
	assert_exit0(&res);
}

static void test_log_mode_lets_through(void **state)
{
	(void)state;
	struct child_result res;
	run_child(BW_SECCOMP_OFFLINE, BW_SECCOMP_LOG_ONLY, do_exec_mmap, &res);
	assert_true(WIFEXITED(res.status));
	assert_int_equal(WEXITSTATUS(res.status), 1); /* the mapping was made */
	assert_null(strstr(res.err, "seccomp"));
}

static void test_program_check(void **state)
{
	(void)state;
	struct sock_filter *prog = malloc(BPF_MAXINSNS * sizeof(*prog));
	assert_non_null(prog);
	char err[256];
	size_t n = 0;
	for (int m = 0; m < 2; m++) {
		enum bw_seccomp_mode mode = m ? BW_SECCOMP_LIVE : BW_SECCOMP_OFFLINE;
		assert_int_equal(export_prog(mode, SCMP_ACT_TRAP, prog, &n, err, sizeof(err)), BW_OK);
		assert_true(n > 20);
		assert_true(verify(prog, n, mode, SCMP_ACT_TRAP));
		assert_false(verify(prog, n, !mode, SCMP_ACT_TRAP));    /* bpf map access differs */
		assert_false(verify(prog, n, mode, SCMP_ACT_LOG));      /* the default action is checked */
		assert_false(verify(prog, n - 1, mode, SCMP_ACT_TRAP)); /* truncated: runs off the end */
		assert_false(verify(prog, n / 2, mode, SCMP_ACT_TRAP));
		/* every ALLOW turned into a refusal */
		size_t changed = 0;
		for (size_t i = 0; i < n; i++)
			if (BPF_CLASS(prog[i].code) == BPF_RET && prog[i].k == SCMP_ACT_ALLOW) {
				prog[i].k = SCMP_ACT_TRAP;
				changed++;
			}
		assert_true(changed > 0);
		assert_false(verify(prog, n, mode, SCMP_ACT_TRAP));
	}
	/* a jump past the end is malformed, not followed */
	struct sock_filter bad[2] = { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 5), BPF_STMT(BPF_RET | BPF_K, 0) };
	struct seccomp_data d = { 0 };
	uint32_t r;
	assert_false(bpf_run(bad, 2, &d, &r));
	free(prog);
}

static void test_env_flags(void **state)
{
	(void)state;
	unsetenv(BW_SECCOMP_LOG_ENV);
	assert_int_equal(bw_seccomp_env_flags(), 0);
	setenv(BW_SECCOMP_LOG_ENV, "1", 1);
	assert_int_equal(bw_seccomp_env_flags(), BW_SECCOMP_LOG_ONLY);
	setenv(BW_SECCOMP_LOG_ENV, "0", 1);
	assert_int_equal(bw_seccomp_env_flags(), 0);
	unsetenv(BW_SECCOMP_LOG_ENV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packet_socket_refused),
		cmocka_unit_test(test_exec_memory_refused),
		cmocka_unit_test(test_process_creation_refused),
		cmocka_unit_test(test_bpf),
		cmocka_unit_test(test_allowed_calls),
		cmocka_unit_test(test_log_mode_lets_through),
		cmocka_unit_test(test_program_check),
		cmocka_unit_test(test_env_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
