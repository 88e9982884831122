/* SPDX-License-Identifier: MIT */
/*
 * policyctl.c: loading and reloading the owner's policy with the zone files
 * and reference data it names. It lives outside main.c so that the offline
 * run (one thread, swap between frames) and the live run (worker threads,
 * swap and free later) share one loader and one "refused, the old policy
 * stays" rule. Loading builds a complete set before anything is replaced,
 * so a half-loaded policy is never seen by a detector.
 */
#include "policyctl.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "refdata.h"
#include "zones.h"

/* The project's data/ folder: next to the build folder holding the program. */
static void default_data_dir(char *out, size_t cap)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(out, cap, "data");
		return;
	}
	exe[n] = '\0';
	if (n > 4000)
		exe[4000] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, cap, "%.4000s/data", exe);
}

/* A data file: the policy's path if it names one, else DIR/<default name>. */
static void data_path(const char *policy_value, const char *data_dir, const char *def, char *out, size_t cap)
{
	if (policy_value) {
		snprintf(out, cap, "%s", policy_value);
		return;
	}
	char dir[4096];
	if (data_dir)
		snprintf(dir, sizeof(dir), "%.4000s", data_dir);
	else
		default_data_dir(dir, sizeof(dir));
	const char *base = strrchr(def, '/');
	snprintf(out, cap, "%.4000s/%.64s", dir, base ? base + 1 : def);
}

void bw_policy_set_free(struct bw_policy_set *s)
{
	if (!s)
		return;
	bw_zones_free(s->zones);
	bw_caa_free(s->caa);
	bw_takeover_free(s->takeover);
	bw_cloud_free(s->cloud);
	bw_policy_free(s->policy);
	memset(s, 0, sizeof(*s));
}

void bw_policy_set_apply(const struct bw_policy_set *s, struct bw_detect_env *env)
{
	env->policy = s->policy;
	env->zones = s->zones;
	env->caa = s->caa;
	env->takeover = s->takeover;
	env->cloud = s->cloud;
}

int bw_policyctl_build(const struct bw_policyctl *pc, struct bw_policy_set *out, char *err, size_t errcap)
{
	struct bw_policy_set s = { 0 };
	char file[4200];
	int rc;

	memset(out, 0, sizeof(*out));
	if (pc->path && (rc = bw_policy_load(pc->path, &s.policy, err, errcap)) != BW_OK)
		goto fail;
	if (s.policy && s.policy->owned.n_zones > 0 &&
	    (rc = bw_zones_load(s.policy->owned.zones, s.policy->owned.n_zones, &s.zones, err, errcap)) != BW_OK)
		goto fail;
	data_path(s.policy ? s.policy->data.caa_issuers : NULL, pc->data_dir, BW_POLICY_DEFAULT_CAA_ISSUERS, file,
		  sizeof(file));
	if ((rc = bw_caa_load(file, &s.caa, err, errcap)) != BW_OK) {
		/* Only a file the policy names, or a bundled one that is there but
		 * malformed, is an error; a missing bundled table is not. */
		if (rc != BW_ENOENT || (s.policy && s.policy->data.caa_issuers))
			goto fail;
		rc = BW_OK;
		/* No bundled table (an installed binary without data/): issuer checks fall back to "unknown". */
		s.caa = NULL;
	}
	/* The dangling-record tables only matter for owned names, so only with a
	 * policy; as for the CAA table, a missing bundled file turns their checks
	 * off, but a file the policy names must load. */
	if (s.policy) {
		data_path(s.policy->data.takeover_services, pc->data_dir, BW_POLICY_DEFAULT_TAKEOVER_SERVICES, file,
			  sizeof(file));
		if ((rc = bw_takeover_load(file, &s.takeover, err, errcap)) != BW_OK) {
			if (s.policy->data.takeover_services || rc != BW_ENOENT)
				goto fail;
			s.takeover = NULL;
		}
		data_path(s.policy->data.cloud_ranges, pc->data_dir, BW_POLICY_DEFAULT_CLOUD_RANGES, file, sizeof(file));
		if ((rc = bw_cloud_load(file, &s.cloud, err, errcap)) != BW_OK) {
			if (s.policy->data.cloud_ranges || rc != BW_ENOENT)
				goto fail;
			s.cloud = NULL;
		}
	}
	*out = s;
	return BW_OK;
fail:
	bw_policy_set_free(&s);
	return rc ? rc : BW_EINVAL;
}

int bw_policyctl_load(struct bw_policyctl *pc, char *err, size_t errcap)
{
	struct bw_policy_set s;
	int rc = bw_policyctl_build(pc, &s, err, errcap);
	if (rc != BW_OK)
		return rc;
	bw_policy_set_free(&pc->cur);
	pc->cur = s;
	return BW_OK;
}

int bw_policyctl_swap(struct bw_policyctl *pc, struct bw_policy_set *old)
{
	char err[512];
	struct bw_policy_set s;
	memset(old, 0, sizeof(*old));
	if (!pc->path)
		return BW_OK;
	int rc = bw_policyctl_build(pc, &s, err, sizeof(err));
	if (rc != BW_OK) {
		pc->reloads_refused++;
		fprintf(stderr, "bindwatch: policy reload refused, the old policy stays in force: %s\n", err);
		return rc;
	}
	*old = pc->cur;
	pc->cur = s;
	pc->reloads++;
	fprintf(stderr, "bindwatch: policy reloaded from %s\n", pc->path);
	return BW_OK;
}

void bw_policyctl_reload(struct bw_policyctl *pc, struct bw_detect_env *env)
{
	struct bw_policy_set old;
	if (bw_policyctl_swap(pc, &old) != BW_OK)
		return;
	bw_policy_set_apply(&pc->cur, env);
	bw_policy_set_free(&old);
}

void bw_policyctl_deinit(struct bw_policyctl *pc)
{
	if (pc)
		bw_policy_set_free(&pc->cur);
}
