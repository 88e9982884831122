/* SPDX-License-Identifier: MIT */
/*
 * test_privdrop.c: the privilege drop (privdrop.h) and the policy control
 * (policyctl.h). The drop itself runs in a forked child, since it cannot be
 * undone: as root the child must end with the ids asked for and no
 * capability at all, and setuid(0) must fail; without root every step that
 * needs a privilege must fail loudly instead of half-dropping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sensor/policy.h"
#include "sensor/policyctl.h"
#include "sensor/privdrop.h"

static void test_no_such_user(void **state)
{
	(void)state;
	char err[256] = "";
	assert_int_equal(bw_privdrop("bw-no-such-user-xyz", err, sizeof(err)), BW_EINVAL);
	assert_non_null(strstr(err, "no such user 'bw-no-such-user-xyz'"));
	/* nothing was changed */
	assert_int_equal(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
}

/* Run the drop in a child; its exit code says what it saw. */
static int child_drop(uid_t uid, gid_t gid)
{
	pid_t pid = fork();
	if (pid == 0) {
		char err[256];
		int rc = bw_privdrop_ids(uid, gid, err, sizeof(err));
		if (rc != BW_OK)
			_exit(10);
		if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
			_exit(11);
		if (!bw_privdrop_caps_empty())
			_exit(12);
		if (setuid(0) == 0)
			_exit(13);
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(14);
		/* the bounding set is empty: no capability can come back through exec either */
		if (prctl(PR_CAPBSET_READ, 13 /* CAP_NET_RAW */, 0, 0, 0) != 0)
			_exit(15);
		_exit(0);
	}
	int st = 0;
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_drop_in_child(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		/* Unprivileged: setgroups is refused, and the drop says so. */
		char err[256] = "";
		pid_t pid = fork();
		if (pid == 0)
			_exit(bw_privdrop_ids(65534, 65534, err, sizeof(err)) == BW_EIO ? 0 : 1);
		int st = 0;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_int_equal(WEXITSTATUS(st), 0);
		skip(); /* the real drop needs root */
	}
	assert_int_equal(child_drop(65534, 65534), 0);
	assert_int_equal(child_drop(12345, 54321), 0);
}

static void test_caps_empty_reports_root(void **state)
{
	(void)state;
	/* root normally holds capabilities; an unprivileged test run holds none */
	if (geteuid() == 0)
		assert_false(bw_privdrop_caps_empty());
	else
		assert_true(bw_privdrop_caps_empty());
}

static char tmpdir[] = "/tmp/bwpolctl.XXXXXX";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_policyctl_reload(void **state)
{
	(void)state;
	char path[256], caa[256], err[512];
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/p.yaml", tmpdir);
	snprintf(caa, sizeof(caa), "%s/caa-issuers.tsv", tmpdir);
	write_file(caa, "ca_owner\tissuer_o_values\texample_issuer_cns\tcaa_issuer_domains\tnotes\tsources\n"
			"Test CA\tTest CA Inc\tT1\ttest.example\t-\t-\n");
	write_file(path, "owned:\n  domains: [example.com]\nalerts:\n  suppress_seconds: 60\n");

	struct bw_policyctl pc = { .path = path, .data_dir = tmpdir };
	struct bw_detect_env env = { 0 };
	int rc = bw_policyctl_load(&pc, err, sizeof(err));
	if (rc != BW_OK)
		fail_msg("load: %s", err);
	bw_policy_set_apply(&pc.cur, &env);
	assert_non_null(env.policy);
	const struct bw_policy *first = env.policy;
	assert_int_equal(first->alerts.suppress_seconds, 60);

	/* broken: refused, the old set stays, nothing handed back */
	write_file(path, "owned:\n  domains: [\n");
	struct bw_policy_set old;
	assert_int_not_equal(bw_policyctl_swap(&pc, &old), BW_OK);
	assert_null(old.policy);
	assert_ptr_equal(pc.cur.policy, first);
	assert_int_equal(pc.reloads_refused, 1);
	bw_policyctl_reload(&pc, &env);
	assert_ptr_equal(env.policy, first);

	/* good: the new set is current, the old one is the caller's */
	write_file(path, "alerts:\n  suppress_seconds: 7\n");
	assert_int_equal(bw_policyctl_swap(&pc, &old), BW_OK);
	assert_ptr_equal(old.policy, first);
	assert_int_equal(pc.cur.policy->alerts.suppress_seconds, 7);
	assert_int_equal(pc.reloads, 1);
	bw_policy_set_free(&old);
	assert_null(old.policy);
	bw_policy_set_free(NULL);

	/* single-threaded reload: env follows */
	write_file(path, "alerts:\n  suppress_seconds: 9\n");
	bw_policyctl_reload(&pc, &env);
	assert_int_equal(env.policy->alerts.suppress_seconds, 9);

	/* no path: no policy, reload does nothing */
	struct bw_policyctl none = { .path = NULL, .data_dir = tmpdir };
	assert_int_equal(bw_policyctl_load(&none, err, sizeof(err)), BW_OK);
	assert_null(none.cur.policy);
	assert_int_equal(bw_policyctl_swap(&none, &old), BW_OK);
	assert_null(old.policy);
	bw_policyctl_deinit(&none);

	bw_policyctl_deinit(&pc);
	unlink(path);
	unlink(caa);
	rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_such_user),
		cmocka_unit_test(test_drop_in_child),
		cmocka_unit_test(test_caps_empty_reports_root),
		cmocka_unit_test(test_policyctl_reload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
