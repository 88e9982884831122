/* SPDX-License-Identifier: MIT */
/*
 * detect.h: detectors. Each takes one new observation (a DNS response, a
 * TLS handshake), updates the shared binding tables, holds the observation
 * against the tables and the owner's policy, and raises alerts.
 *
 * struct bw_detect_env is what the detectors read: the policy (may be NULL:
 * then only certificate faults are reported, for every name, at low
 * severity), zone files, CAA issuer table, the binding tables and the alert
 * suppression, all owned by main. In a single-threaded run main may swap
 * env->policy between frames (SIGHUP reload).
 */
#ifndef BW_DETECT_H
#define BW_DETECT_H

#include "../parsers/dns.h"
#include "alerts.h"
#include "fmt_json.h"

struct bw_policy;
struct bw_zones;
struct bw_caa_db;
struct bw_takeover_db;
struct bw_cloud_db;
struct bw_bindings;
struct bw_worker;
struct bw_detect_state;

struct bw_detect_env {
	const struct bw_policy *policy;
	const struct bw_zones *zones;
	const struct bw_caa_db *caa;
	const struct bw_takeover_db *takeover; /* NULL: no takeover fingerprints (every dangling CNAME is medium) */
	const struct bw_cloud_db *cloud;       /* NULL: no cloud ranges (dangling_cloud_address is off) */
	struct bw_bindings *bindings;
	struct bw_alerts *alerts;
};

/* Per-worker detector state (record-drift bookkeeping). NULL on ENOMEM. */
struct bw_detect_state *bw_detect_state_new(void);
void bw_detect_state_free(struct bw_detect_state *s);

/* A parsed DNS message (responses only do anything). */
void bw_detect_dns(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta);

/* One TLS/DTLS/QUIC handshake. certs/x509s: the presented chain as decoded
 * (entries NULL where a DER did not parse); verdict NULL when not validated. */
void bw_detect_tls(struct bw_worker *w, const struct bw_tls_view *v, const struct bw_obs_meta *meta,
		   struct x509_st *const *x509s);

/* End of input: the checks that need the whole run (zone records never answered). */
void bw_detect_finish(struct bw_worker *w);

/*
 * Dangling records and DNS trust hygiene (detect_dangling.c): dangling_cname,
 * dangling_cloud_address, mx_dangling, email_auth_weak, caa_violation,
 * caa_missing, zone_transfer_open, dnssec_signature_expiring,
 * dnssec_rollover_risk, ns_lame_delegation. Called by bw_detect_dns / _tls
 * / _finish after their own work (the binding tables are up to date for the
 * observation); they do nothing without a policy. Their per-worker state
 * (struct bw_dangling, about 8.6 MB, fixed: see the .c file for the bounds;
 * 1.4 MB of it the delegation tables of ns_lame_delegation) hangs off
 * struct bw_detect_state, which owns it.
 */
struct bw_dangling;
struct bw_dangling *bw_dangling_new(void); /* NULL on ENOMEM */
void bw_dangling_free(struct bw_dangling *d); /* NULL-safe */
/* Entries replaced because a table's probe window was full: in the alias, CAA,
 * zone and transfer tables, and in the delegation tables (NULL d: 0, 0). */
void bw_dangling_evictions(const struct bw_dangling *d, uint64_t *tables, uint64_t *delegations);
struct bw_dangling *bw_detect_state_dangling(struct bw_detect_state *s); /* NULL-safe */

void bw_detect_dangling_dns(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta);
/* sni: the handshake's SNI, lower case, no trailing dot. */
void bw_detect_dangling_tls(struct bw_worker *w, const struct bw_tls_view *v, const struct bw_obs_meta *meta,
			    struct x509_st *const *x509s, const char *sni);
void bw_detect_dangling_finish(struct bw_worker *w);

#endif /* BW_DETECT_H */
