/* SPDX-License-Identifier: MIT */
/*
 * worker_impl.h: the worker's private state, shared by worker.c (packets,
 * DNS) and worker_tls.c (TLS, DTLS, QUIC, certificates). Not a public header.
 */
#ifndef BW_WORKER_IMPL_H
#define BW_WORKER_IMPL_H

#include "../parsers/certcache.h"
#include "../parsers/dns.h"
#include "../parsers/quic.h"
#include "fmt_json.h"
#include "udp_sessions.h"
#include "worker.h"

struct bw_worker {
	struct bw_worker_config cfg;
	struct bw_output *out;
	struct bw_anomalies an;
	struct bw_decoder *dec;
	struct bw_tcp_table *tcp;
	struct bw_dns_msg *msg;
	struct bw_json json;
	char *scratch;

	/* TLS, DTLS, QUIC (worker_tls.c) */
	struct bw_certcache *certs;
	struct bw_quic_decoder *quic;
	struct bw_udp_sessions *udp;
	struct bw_detect_state *detect;
	struct bw_certfetch_client *fetch; /* NULL: certificate fetch off */
	struct bw_tls_client_hello *fetch_ch; /* carries a fetched chain's SNI to the detectors */

	/*
	 * DNS observations held back from the detectors (detect_try), oldest
	 * at defer_head: a ring of BW_WORKER_DEFER_MAX (allocated with the
	 * first). Each keeps the message bytes (inline when small, else
	 * malloc'd, owned), the evidence and a copy of the packet's headers.
	 */
	struct worker_deferred *defer;
	unsigned defer_head, defer_n;
	struct bw_dns_msg *defer_msg; /* the held message parsed again, for its detector call */
	bool finishing;               /* in bw_worker_finish (for detect_trace) */

	/* the frame being processed, for evidence */
	const char *cur_file;
	uint64_t cur_frame;
	bw_time_t cur_ts;

	struct bw_worker_stats st;
};

/* cfg.detect_trace: note a detector call (worker.c). */
void bw_worker_trace_detect(struct bw_worker *w, const char *kind, const struct bw_obs_meta *meta);

/* Emit the document in w->json as an event of type t. */
void bw_worker_emit(struct bw_worker *w, enum bw_event_type t, bw_time_t ts);

/* worker_tls.c */
int bw_worker_tls_init(struct bw_worker *w);
void bw_worker_tls_deinit(struct bw_worker *w);
/* A new TCP flow that is not DNS: attach the TLS sniffing consumer. */
bool bw_worker_tls_classify(struct bw_worker *w, struct bw_tcp_flow *f, const struct bw_packet *first,
			    const struct bw_tcp_consumer **consumer, void **app);
/* A UDP packet not on a DNS port: QUIC Initial or DTLS. */
void bw_worker_tls_udp(struct bw_worker *w, const struct bw_packet *p);
void bw_worker_tls_finish(struct bw_worker *w);
void bw_worker_tls_stats(const struct bw_worker *w, struct bw_tls_stats *st);
/* Certificate fetch replies: read what arrived (poll) / wait for the rest (drain, end of input). */
void bw_worker_tls_fetch_poll(struct bw_worker *w);
void bw_worker_tls_fetch_drain(struct bw_worker *w);

#endif /* BW_WORKER_IMPL_H */
