/* SPDX-License-Identifier: MIT */
/*
 * fmt_json.h: observations to ECS JSON documents (one object per event).
 * Field names follow the Elastic Common Schema where it has the field and
 * live under "bindwatch." where it does not.
 */
#ifndef BW_FMT_JSON_H
#define BW_FMT_JSON_H

#include "../parsers/decode.h"
#include "../parsers/dns.h"
#include "../parsers/tls.h"
#include "../parsers/x509.h"
#include "json.h"

/* Where and when an observation was made: the evidence every event carries. */
struct bw_obs_meta {
	bw_time_t ts;
	struct bw_ip src, dst;
	uint16_t sport, dport;
	uint8_t transport;            /* IPPROTO_UDP / IPPROTO_TCP */
	const struct bw_packet *pkt;  /* for VLAN and tunnel evidence; may be NULL */
	const char *file;             /* offline: capture file name, else NULL */
	uint64_t packet;              /* offline: 1-based frame number, 0 if unknown */
};

/*
 * Scratch space the formatter needs for one rdata's presentation text
 * (a TXT record of 64 KiB with every byte escaped as \DDD). Caller-owned.
 */
#define BW_FMT_SCRATCH (4 * 65536 + 4096)

/* Write a bindwatch.dns event for msg into j (reset first). raw: include the message bytes as hex. */
int bw_fmt_json_dns(struct bw_json *j, const struct bw_dns_msg *msg, const struct bw_obs_meta *meta,
		    bool raw, char *scratch, size_t scratch_cap);

/* The common head of every observation event: @timestamp, event.*, source, destination, network, bindwatch.pcap. Leaves the top-level object open. */
void bw_fmt_json_head(struct bw_json *j, const char *dataset, const char *kind, const struct bw_obs_meta *meta);

/* The ECS x509 object (subject, issuer, alternative_names, serial, validity, key, signature) under key. */
void bw_fmt_json_x509_fields(struct bw_json *j, const char *key, const struct bw_x509_info *x);

/*
 * A bindwatch.x509 event for a certificate seen for the first time. sni is
 * the server name of the session it came in (may be NULL), chain_pos its
 * position in the presented chain (0 = leaf).
 */
int bw_fmt_json_x509(struct bw_json *j, const struct bw_x509_info *x, const struct bw_obs_meta *meta, const char *sni,
		     unsigned chain_pos, const char *source);

/* What a bindwatch.tls event says about one handshake (TLS, DTLS or QUIC). */
struct bw_tls_view {
	const char *protocol;                  /* "tls", "dtls", "quic" */
	const struct bw_tls_client_hello *ch;  /* NULL if no ClientHello was seen */
	const struct bw_tls_server_hello *sh;  /* NULL if no ServerHello was seen */
	uint16_t version;                      /* negotiated, else the client's highest, else 0 */
	bool established;                      /* both hellos seen and no fatal alert */
	bool resumed;
	bool hello_retry_request;
	bool cert_visible;
	bool saw_alert;
	uint8_t alert_level, alert_description;
	const char *starttls;                  /* "smtp"..., or NULL */
	/* QUIC */
	const char *quic_version;              /* NULL unless QUIC */
	const char *quic_dcid;
	bool quic_retry;
	/* the server's chain as presented (leaf first); infos may be NULL where a DER did not parse */
	unsigned n_certs;
	const struct bw_x509_info *const *certs;
	bool chain_truncated;
	const struct bw_x509_verdict *verdict; /* NULL if not validated */
};

/* Write a bindwatch.tls event into j (reset first). */
int bw_fmt_json_tls(struct bw_json *j, const struct bw_tls_view *v, const struct bw_obs_meta *meta);

#endif /* BW_FMT_JSON_H */
