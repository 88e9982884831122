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
	 * Observations held back from the detectors (detect_try), oldest at
	 * defer_head: a ring of BW_WORKER_DEFER_MAX (allocated with the first;
	 * struct worker_deferred below).
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

/*
 * Observations held back from the detectors (worker.h, detect_try), shared
 * by worker.c (DNS) and worker_tls.c (handshakes). One ring slot each; a
 * TLS one points to its copy of the handshake (worker_tls.c, owned).
 */
#define DEFER_INLINE 512 /* DNS message bytes kept inside the slot; larger ones go to the heap */
struct worker_tls_held;
struct worker_deferred {
	struct bw_obs_meta meta;
	struct bw_packet pkt; /* the headers only: payload cleared (the formatter reads VLANs and tunnels) */
	bool has_pkt;
	struct worker_tls_held *tls; /* a handshake; NULL: a DNS message */
	uint32_t len;
	uint8_t *big;         /* owned, when len > DEFER_INLINE */
	uint8_t small[DEFER_INLINE];
};
/* Before a detector call: true to call it now; false to hold a copy back (its turn is noted). */
bool bw_worker_detect_turn(struct bw_worker *w);
/* The slot for the copy (NULL: out of memory), its evidence, then commit it. */
struct worker_deferred *bw_worker_hold_slot(struct bw_worker *w);
void bw_worker_hold_meta(struct worker_deferred *d, const struct bw_obs_meta *meta);
void bw_worker_hold_commit(struct bw_worker *w);
/* No copy could be made: wait for the observation's turn, call the detector, then _done. */
void bw_worker_detect_late(struct bw_worker *w);
void bw_worker_detect_late_done(struct bw_worker *w);
/* worker_tls.c: run a held handshake through the detectors and free it / free it unrun (NULL-safe). */
void bw_worker_tls_held_run(struct bw_worker *w, struct worker_tls_held *h, const struct bw_obs_meta *meta);
void bw_worker_tls_held_free(struct bw_worker *w, struct worker_tls_held *h);

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
