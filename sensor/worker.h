/* SPDX-License-Identifier: MIT */
/*
 * worker.h: one packet pipeline (decode -> flows -> app parsers -> events).
 *
 * A worker owns all of its state (decoder with fragment and duplicate state,
 * TCP flow table, parse scratch, JSON buffer) and shares nothing mutable, so
 * a later issue can run N of them in parallel, each fed the flows that hash
 * to it. Single-threaded use: one reader calls bw_worker_frame() in order.
 */
#ifndef BW_WORKER_H
#define BW_WORKER_H

#include "../parsers/decode.h"
#include "../parsers/tcp_stream.h"
#include "../parsers/tls.h"
#include "../parsers/x509.h"
#include "capture.h"
#include "certfetch.h"
#include "detect.h"
#include "sink.h"

struct bw_worker_config {
	uint8_t dns_ports[65536 / 8];  /* bitmap: UDP/TCP ports carrying DNS */
	bool dns_raw;                  /* add the message bytes as hex to DNS events */
	bool tls_off;                  /* do not look for TLS, DTLS or QUIC */
	bool judge_now;                /* validate certificates at wall-clock time, not capture time */
	const struct bw_x509_trust *trust; /* borrowed; NULL: chains are not validated */
	uint32_t cert_cache_entries;   /* distinct certificates kept parsed (default 4096) */
	size_t cert_cache_bytes;       /* and about this many bytes of them (0: no byte cap) */
	uint32_t udp_max_sessions;     /* QUIC/DTLS flows tracked at once (default 4096) */
	bw_time_t udp_idle_timeout;    /* default 60 s */
	struct bw_decode_config decode;
	struct bw_tcp_config tcp;
	struct bw_tls_config tls;
	/*
	 * Where events go. NULL: straight to the struct bw_output given to
	 * bw_worker_new (single-threaded runs). Otherwise called for every
	 * event from the worker's own thread; ev and its JSON are valid only
	 * during the call (copy them, e.g. into an SPSC ring to the output
	 * thread). Never blocks the worker: drop and count instead.
	 */
	struct bw_detect_env *detect;  /* borrowed; NULL: no correlation, no alerts */
	void (*emit)(void *emit_ctx, const struct bw_event *ev);
	/* Called once when a TCP flow needs no more bytes (handshake read, or not
	 * TLS): a live capture turns it into a kernel bypass. May be NULL. */
	void (*flow_done)(void *flow_done_ctx, const struct bw_flow_key *key);
	void *flow_done_ctx;
	void *emit_ctx;
	/* Certificate fetch (certfetch.h): borrowed; NULL: off. The worker uses
	 * channel worker_id (none if worker_id >= the fetcher's channels). */
	struct bw_certfetch *fetch;
	unsigned worker_id;            /* 0..N-1, stamped on events as the producer */
	/*
	 * Offline runs with several workers (pipeline.c): detect_gate is called
	 * before every detector call and returns once every observation of an
	 * earlier frame, on any worker, has been through the detectors, so the
	 * detectors (and their one shared_detect state) see observations in
	 * capture order, as in a single-worker run. NULL: no ordering, and the
	 * worker has its own detector state (live capture, one worker).
	 */
	void (*detect_gate)(void *detect_gate_ctx);
	void *detect_gate_ctx;
	/*
	 * Optional, with detect_gate: a DNS observation need not wait there.
	 * detect_try says whether the frame being processed may call a
	 * detector now; when it says no, it has noted the frame as held back
	 * and the worker keeps a copy of the observation (the message bytes
	 * and its evidence) to put through later, oldest first:
	 * detect_head_ready says whether the oldest one may go now,
	 * detect_head_wait waits until it may, detect_head_done says it went.
	 * The worker holds at most BW_WORKER_DEFER_MAX; before any other
	 * detector call (TLS, end of input) it puts all of them through. The
	 * pipeline calls bw_worker_detect_poll between frames and
	 * bw_worker_detect_flush before it waits for input or ends a file.
	 */
	/*
	 * Tests: a line "FILE PACKET dns|tls" (prefixed "end " during
	 * bw_worker_finish) for every detector call, in call order; shared by
	 * the workers (their calls never overlap when ordered). NULL: none.
	 */
	FILE *detect_trace;
	bool (*detect_try)(void *detect_gate_ctx);
	bool (*detect_head_ready)(void *detect_gate_ctx);
	void (*detect_head_wait)(void *detect_gate_ctx);
	void (*detect_head_done)(void *detect_gate_ctx);
	struct bw_detect_state *shared_detect; /* borrowed; NULL: the worker makes its own */
	bool detect_finish_skip;       /* the end-of-input checks of shared_detect are another worker's */
};

#define BW_WORKER_DEFER_MAX 256u /* DNS observations held back from the detectors at once */

/* Defaults: DNS on 53 and 5353, decoder and TCP defaults. */
void bw_worker_config_default(struct bw_worker_config *c);
static inline void bw_worker_dns_port_set(struct bw_worker_config *c, uint16_t port, bool on)
{
	if (on)
		c->dns_ports[port >> 3] |= (uint8_t)(1u << (port & 7));
	else
		c->dns_ports[port >> 3] &= (uint8_t)~(1u << (port & 7));
}

struct bw_dns_stats {
	uint64_t messages, udp, tcp, queries, responses, malformed;
	uint64_t detect_deferred; /* several workers: messages held back from the detectors (detect_try) */
};

struct bw_tls_stats {
	uint64_t handshakes, tcp, starttls, dtls, quic;  /* bindwatch.tls events by transport */
	uint64_t client_hellos, server_hellos, certificates_seen, chains_validated, chains_failed;
	uint64_t x509_events, cert_parse_errors, cert_cache_hits, cert_cache_evictions;
	uint64_t udp_sessions, udp_sessions_evicted;
	uint64_t chains_unverified;   /* verification could not run (out of memory): no verdict, no alert */
	uint64_t detect_deferred;     /* several workers: handshakes held back from the detectors (detect_try) */
};

struct bw_worker;

/* out is borrowed (not owned) and must outlive the worker. NULL on ENOMEM. */
struct bw_worker *bw_worker_new(const struct bw_worker_config *c, struct bw_output *out);
void bw_worker_free(struct bw_worker *w); /* flushes TCP flows first; NULL-safe */

/* Process one frame. file is the capture file name for evidence (may be NULL). */
void bw_worker_frame(struct bw_worker *w, const struct bw_frame *fr, const char *file);

/*
 * Time passes with every frame, whichever worker processes it: each frame
 * first moves the worker's flow clocks (TCP flows, QUIC and DTLS sessions)
 * to its time and times out what is due. bw_worker_frame does that for its
 * own frames. A worker that sees the frames it leaves to the others (the
 * pipeline's walking workers) calls bw_worker_clock for each of them, and
 * bw_worker_expire when that says something is due, so its flows time out
 * at the same frame as with one worker. bw_worker_expire may call the
 * detectors (what a timed-out flow or session still had to say), so it
 * runs in that frame's turn; bw_worker_clock does not call them.
 */
bool bw_worker_clock(struct bw_worker *w, bw_time_t ts);
void bw_worker_expire(struct bw_worker *w, const struct bw_frame *fr, const char *file);

/* A new capture file starts (resets the duplicate filter; flows go on). */
void bw_worker_input_start(struct bw_worker *w);

/* End of input: deliver what TCP still holds and close all flows (and wait
 * for the certificate fetches still out, within their timeouts). */
void bw_worker_finish(struct bw_worker *w);

/*
 * DNS observations held back (detect_try): put through those whose turn
 * has come (poll: never waits; one load when none is held), or all of
 * them, waiting for each one's turn (flush).
 */
void bw_worker_detect_poll(struct bw_worker *w);
void bw_worker_detect_flush(struct bw_worker *w);

/* Work that comes from no frame (certificate fetch replies): call when idle. Cheap when there is none. */
void bw_worker_poll(struct bw_worker *w);

struct bw_worker_stats {
	uint64_t frames, bytes;
	bw_time_t first_ts, last_ts;
	struct bw_decode_stats decode;
	struct bw_tcp_stats tcp;
	struct bw_dns_stats dns;
	struct bw_tls_stats tls;
	struct bw_certfetch_stats fetch;
	uint64_t alerts;         /* alert events written by this worker */
	uint64_t detect_hold_nomem; /* observations that waited their turn: no memory to hold them back */
	uint64_t events_dropped; /* an event too large to format */
};

/* Snapshot of the worker's counters. an receives the anomaly counters. */
void bw_worker_stats(const struct bw_worker *w, struct bw_worker_stats *st, struct bw_anomalies *an);

/* The anomaly counters the worker's parsers write to (capture readers share them). */
struct bw_anomalies *bw_worker_anomalies(struct bw_worker *w);

#endif /* BW_WORKER_H */
