/* SPDX-License-Identifier: MIT */
/*
 * alerts.h: alert types, the alert record detectors fill, suppression, and
 * the bindwatch.alert event.
 *
 * Alert types are stable ids (the SIEM keys on them). Each alert has a
 * dedup key (type + the binding at fault); one alert per key per
 * suppression window is written, later ones within the window are counted,
 * and the next alert for that key after the window says how many were held
 * back ("repeats"). At the end of a run, keys with held-back repeats get one
 * update event so no count is lost. The suppression table is shared by all
 * workers (a mutex: alerts are rare next to packets) and bounded.
 */
#ifndef BW_ALERTS_H
#define BW_ALERTS_H

#include <pthread.h>

#include "bw.h"
#include "fmt_json.h"
#include "json.h"
#include "sink.h"

#define BW_ALERT_LIST(X)                                                                                        \
	X(CERT_NAME_MISMATCH, "cert_name_mismatch", 3, "The certificate presented for a name does not cover it")   \
	X(CERT_UNTRUSTED, "cert_untrusted", 3, "The certificate chain does not validate")                          \
	X(CERT_EXPIRED, "cert_expired", 4, "The certificate had expired at capture time")                          \
	X(CERT_EXPIRING, "cert_expiring", 2, "The certificate expires within the renewal lead time")               \
	X(CERT_ISSUER_UNEXPECTED, "cert_issuer_unexpected", 3, "The issuing CA is not an allowed issuer")          \
	X(CERT_PIN_MISMATCH, "cert_pin_mismatch", 4, "A pinned name presents a key that is not pinned")            \
	X(CERT_CHANGED, "cert_changed", 1, "An owned name presents a certificate not seen for it before")          \
	X(DNS_UNEXPECTED_ADDRESS, "dns_unexpected_address", 3, "An owned name resolves outside owned addresses")   \
	X(DNS_RECORD_DRIFT, "dns_record_drift", 2, "Answers for a name differ from its authoritative zone file")   \
	X(TLS_SERVER_NOT_IN_DNS, "tls_server_not_in_dns", 3, "A TLS server answered at an address DNS did not give") \
	X(DANGLING_CNAME, "dangling_cname", 3, "An owned name's CNAME chain ends at an unclaimed target")           \
	X(DANGLING_CLOUD_ADDRESS, "dangling_cloud_address", 3, "An owned name points at a cloud address not ours") \
	X(NS_LAME_DELEGATION, "ns_lame_delegation", 3, "A nameserver of an owned zone does not serve it")          \
	X(MX_DANGLING, "mx_dangling", 3, "An owned name's mail exchanger does not resolve or is unclaimed")        \
	X(ZONE_TRANSFER_OPEN, "zone_transfer_open", 4, "An owned zone was transferred to an unlisted client")      \
	X(CAA_VIOLATION, "caa_violation", 3, "A certificate was issued by a CA the name's CAA does not allow")     \
	X(CAA_MISSING, "caa_missing", 1, "An owned domain has no CAA records")                                     \
	X(EMAIL_AUTH_WEAK, "email_auth_weak", 2, "SPF or DMARC for an owned domain is missing or permissive")      \
	X(DNSSEC_SIGNATURE_EXPIRING, "dnssec_signature_expiring", 3, "An RRSIG of an owned zone expires soon")     \
	X(DNSSEC_ROLLOVER_RISK, "dnssec_rollover_risk", 3, "A DS of an owned zone matches no DNSKEY seen")

enum bw_alert_type {
#define BW_AL_ENUM(id, name, sev, desc) BW_AL_##id,
	BW_ALERT_LIST(BW_AL_ENUM)
#undef BW_AL_ENUM
	BW_AL__COUNT
};

const char *bw_alert_type_name(enum bw_alert_type t);
const char *bw_alert_type_description(enum bw_alert_type t);
int bw_alert_type_severity(enum bw_alert_type t); /* default 1 low .. 4 critical */
/* -1 if unknown. */
int bw_alert_type_from_name(const char *name);

#define BW_ALERT_MAX_EVIDENCE 8

/* One observation behind an alert. Strings are borrowed for the emit call. */
struct bw_evidence {
	const char *kind;      /* "dns", "tls", "x509", "dns_binding", "zone", "policy" */
	bw_time_t ts;          /* capture time of the observation (0 if none) */
	const char *file;      /* offline: capture file */
	uint64_t packet;       /* offline: frame number */
	const char *summary;   /* one line for a person: "www.example.com A 203.0.113.9 ttl 300" */
	struct bw_ip addr;     /* optional */
	uint16_t port;
	const char *name;
	const char *cert_sha256;
};

struct bw_alert {
	enum bw_alert_type type;
	int severity;               /* 0: the type's default */
	char reason[512];           /* one sentence a person understands */
	const char *name;           /* the DNS name / SNI at fault */
	struct bw_ip addr;          /* address involved (family 0 if none) */
	uint16_t port;
	const char *cert_sha256;    /* leaf fingerprint (hex), or NULL */
	const char *policy;         /* the policy entry broken: "owned.domains: example.com" */
	char dedup_key[384];        /* type + binding; filled by bw_alert_key() if empty */
	unsigned n_evidence;
	struct bw_evidence evidence[BW_ALERT_MAX_EVIDENCE];
	const struct bw_obs_meta *meta; /* the observation that triggered it: time, flow, pcap */
};

/* Add one evidence entry (ignored past BW_ALERT_MAX_EVIDENCE). Returns it for filling. */
struct bw_evidence *bw_alert_evidence(struct bw_alert *a, const char *kind);

/*
 * Rate limit: a token bucket per alert type in packet time, refilled at
 * max_per_type_per_min tokens a minute up to `burst` (a full bucket at the
 * first alert of the type); an alert that finds the bucket empty is held
 * back. Alerts held back are summed per type (count, first and last packet
 * time) and reported as one "rate-limit-summary" alert per type once
 * summary_window of packet time has passed since the first one held back,
 * and at bw_alerts_flush() for what is left: a storm costs one event per
 * type per window, and the SIEM still learns how big it was.
 */
struct bw_alerts_config {
	bw_time_t suppress;          /* window per dedup key (default 3600 s) */
	uint32_t max_keys;           /* keys remembered (default 65536); past it the oldest is forgotten */
	uint32_t max_per_type_per_min; /* rate limit per type in packet time (1000 in main.c; 0 = none) */
	uint32_t burst;              /* bucket size; 0: max_per_type_per_min */
	bw_time_t summary_window;    /* default 60 s */
};

#define BW_ALERTS_DEFAULT_RATE_PER_MIN 1000

struct bw_alerts_stats {
	uint64_t raised, emitted, suppressed, rate_limited, keys_evicted;
	uint64_t rate_limit_summaries; /* summary alerts written */
	uint64_t per_type[BW_AL__COUNT];
	uint64_t rate_limited_per_type[BW_AL__COUNT];
};

struct bw_alerts;

struct bw_alerts *bw_alerts_new(const struct bw_alerts_config *c);
void bw_alerts_free(struct bw_alerts *a);

/*
 * Raise an alert: suppression decides whether it is written. If it is, the
 * event is formatted into j and handed to emit (the worker's emit path).
 * Thread-safe. Returns true if an event was written.
 */
bool bw_alerts_raise(struct bw_alerts *al, struct bw_alert *a, struct bw_json *j,
		     void (*emit)(void *ctx, enum bw_event_type t, bw_time_t ts), void *ctx);

/*
 * End of run: one update event per key whose repeats were held back since
 * its last alert, and one rate-limit summary per type with alerts held back
 * since its last summary.
 * Single-threaded (workers have stopped).
 */
void bw_alerts_flush(struct bw_alerts *al, struct bw_json *j, void (*emit)(void *ctx, enum bw_event_type t, bw_time_t ts),
		     void *ctx);

void bw_alerts_stats(struct bw_alerts *al, struct bw_alerts_stats *st);

#endif /* BW_ALERTS_H */
