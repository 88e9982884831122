/* SPDX-License-Identifier: MIT */
/*
 * privdrop.c: dropping root and capabilities after the live capture is set
 * up (privdrop.h). The raw capget/capset syscalls are used instead of
 * libcap so the sensor needs no extra library for four system calls; the
 * order (bounding set while CAP_SETPCAP is still there, groups before gid
 * before uid, KEEPCAPS off before the uid change) is the one in which each
 * step still has the privilege it needs. Every step is checked and the
 * result verified: a half-dropped sensor reading hostile traffic is worse
 * than one that refuses to start.
 */
#define _GNU_SOURCE /* setresuid, getresuid */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fail(char *err, size_t errcap, const char *what, int e)
{
	snprintf(err, errcap, "dropping privileges: %s: %s", what, strerror(e));
	return BW_EIO;
}

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	memset(d, 0, 2 * sizeof(*d));
	return (int)syscall(SYS_capget, &h, d);
}

bool bw_privdrop_caps_empty(void)
{
	struct __user_cap_data_struct d[2];
	if (caps_get(d) != 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return false;
	return true;
}

/* The highest capability the kernel knows (CAP_LAST_CAP of the running kernel, not of our headers). */
static int last_cap(void)
{
	int last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	if (f) {
		int v;
		if (fscanf(f, "%d", &v) == 1 && v > 0 && v < 64)
			last = v;
		fclose(f);
	}
	return last;
}

int bw_privdrop_ids(uid_t uid, gid_t gid, char *err, size_t errcap)
{
	/* Without CAP_SETPCAP (already dropped by the caller's parent) the bounding
	 * set cannot shrink; the empty permitted set below is what matters then. */
	for (int c = 0; c <= last_cap(); c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL && errno != EPERM)
			return fail(err, errcap, "PR_CAPBSET_DROP", errno);
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); /* EINVAL before 4.3: none to clear */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
		return fail(err, errcap, "PR_SET_KEEPCAPS", errno);
	if (setgroups(0, NULL) != 0)
		return fail(err, errcap, "setgroups", errno);
	if (setresgid(gid, gid, gid) != 0)
		return fail(err, errcap, "setgid", errno);
	if (setresuid(uid, uid, uid) != 0)
		return fail(err, errcap, "setuid", errno);

	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) != 0)
		return fail(err, errcap, "capset", errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return fail(err, errcap, "PR_SET_NO_NEW_PRIVS", errno);

	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) != 0 || ru != uid || eu != uid || su != uid)
		return fail(err, errcap, "uid check", EPERM);
	if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid)
		return fail(err, errcap, "gid check", EPERM);
	if (getgroups(0, NULL) != 0)
		return fail(err, errcap, "supplementary groups check", EPERM);
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return fail(err, errcap, "setuid(0) still succeeds", EPERM);
	if (!bw_privdrop_caps_empty())
		return fail(err, errcap, "capabilities check", EPERM);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return fail(err, errcap, "no_new_privs check", EPERM);
	return BW_OK;
}

int bw_privdrop(const char *user, char *err, size_t errcap)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	int e = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (e != 0 || !res) {
		snprintf(err, errcap, "dropping privileges: no such user '%s'%s%s", user, e ? ": " : "",
			 e ? strerror(e) : "");
		return BW_EINVAL;
	}
	return bw_privdrop_ids(pw.pw_uid, pw.pw_gid, err, errcap);
}
