/* SPDX-License-Identifier: MIT */
/*
 * policyctl.h: the owner's policy and what it refers to (zone files, the
 * CAA issuer table), loaded at start and reloaded on SIGHUP.
 *
 * A reload builds a whole new struct bw_policy_set next to the old one and
 * replaces it only if every part loaded: a broken policy is refused and the
 * old one stays in force. Single-threaded runs swap and free at once
 * (bw_policyctl_reload). Multi-threaded runs (live capture) swap with
 * bw_policyctl_swap and free the old set themselves once every thread that
 * read the old pointers has moved past them.
 *
 * Ownership: the control owns cur; a set handed out by swap belongs to the
 * caller (bw_policy_set_free). struct bw_detect_env only borrows.
 */
#ifndef BW_POLICYCTL_H
#define BW_POLICYCTL_H

#include "bw.h"
#include "detect.h"

struct bw_policy_set {
	struct bw_policy *policy; /* NULL: no policy */
	struct bw_zones *zones;   /* NULL: no zone files */
	struct bw_caa_db *caa;    /* NULL: no issuer table (issuer checks say "unknown") */
	struct bw_takeover_db *takeover; /* with a policy only; NULL: none (dangling CNAMEs are all medium) */
	struct bw_cloud_db *cloud;       /* with a policy only; NULL: none (dangling_cloud_address is off) */
};

struct bw_policyctl {
	const char *path;     /* borrowed; NULL: no policy, and reload does nothing */
	const char *data_dir; /* borrowed; NULL: the data/ folder next to the build folder */
	struct bw_policy_set cur;
	uint64_t reloads, reloads_refused;
};

/* Free what s holds and zero it. NULL-safe. */
void bw_policy_set_free(struct bw_policy_set *s);

/* Point env's policy, zones and caa at s (borrowed). */
void bw_policy_set_apply(const struct bw_policy_set *s, struct bw_detect_env *env);

/*
 * Load pc->path (NULL: no policy, only the CAA table) and what it refers to
 * into *out (zeroed first). BW_OK, or an error with the message in err and
 * *out left empty.
 */
int bw_policyctl_build(const struct bw_policyctl *pc, struct bw_policy_set *out, char *err, size_t errcap);

/* The first load: build into pc->cur (replacing it only on success). */
int bw_policyctl_load(struct bw_policyctl *pc, char *err, size_t errcap);

/*
 * SIGHUP in a multi-threaded run: build a new set; on success it becomes
 * pc->cur, the previous set is moved to *old (the caller frees it when no
 * thread reads it any more) and BW_OK is returned; on failure pc->cur
 * stays, *old is empty and err says why. Logs one line on stderr either
 * way ("policy reloaded from ..." / "policy reload refused, the old policy
 * stays in force: ..."). Without pc->path: BW_OK, nothing changes.
 */
int bw_policyctl_swap(struct bw_policyctl *pc, struct bw_policy_set *old);

/* SIGHUP in a single-threaded run: swap, point env at the new set, free the old. */
void bw_policyctl_reload(struct bw_policyctl *pc, struct bw_detect_env *env);

/* Free pc->cur. */
void bw_policyctl_deinit(struct bw_policyctl *pc);

#endif /* BW_POLICYCTL_H */
