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
struct bw_bindings;
struct bw_worker;
struct bw_detect_state;

struct bw_detect_env {
	const struct bw_policy *policy;
	const struct bw_zones *zones;
	const struct bw_caa_db *caa;
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

#endif /* BW_DETECT_H */
