/* SPDX-License-Identifier: MIT */
/*
 * udp_sessions.h: a bounded table of UDP "sessions" (a flow key and an app
 * state pointer) for the UDP protocols that need per-flow state: QUIC
 * Initial reassembly and DTLS handshakes. DNS over UDP needs none.
 *
 * Sessions are preallocated (max_sessions), kept in least-recently-used
 * order, closed after idle_timeout of packet time, and the least recently
 * used one is evicted when the table is full (counted). on_close is called
 * exactly once per session so its owner can free the app state.
 */
#ifndef BW_UDP_SESSIONS_H
#define BW_UDP_SESSIONS_H

#include "../parsers/decode.h"
#include "bw.h"

struct bw_udp_session {
	struct bw_flow_key key;
	int client_dir;        /* direction (0: lo->hi) of the first packet */
	uint8_t kind;          /* owner's tag: which app state app points to */
	void *app;             /* owned by the caller; freed in on_close */
	bw_time_t first, last; /* packet times */
	/* private */
	uint64_t hash;
	struct bw_udp_session *hnext, *prev, *next;
};

struct bw_udp_sessions_stats {
	uint64_t created, closed, timed_out, evicted, active, active_max;
};

typedef void (*bw_udp_close_fn)(void *ctx, struct bw_udp_session *s);

struct bw_udp_sessions;

/* NULL on ENOMEM or max_sessions == 0. */
struct bw_udp_sessions *bw_udp_sessions_new(uint32_t max_sessions, bw_time_t idle_timeout, bw_udp_close_fn on_close,
					    void *ctx);
/* Closes every session (on_close) and frees. NULL-safe. */
void bw_udp_sessions_free(struct bw_udp_sessions *t);

/* The session of key, or NULL. Marks it used at now. */
struct bw_udp_session *bw_udp_sessions_find(struct bw_udp_sessions *t, const struct bw_flow_key *key, bw_time_t now);

/*
 * Add a session for key (not present). Evicts the least recently used one if
 * the table is full. dir is the packet's direction. Returns NULL only if
 * max_sessions is 0.
 */
struct bw_udp_session *bw_udp_sessions_add(struct bw_udp_sessions *t, const struct bw_flow_key *key, int dir,
					   bw_time_t now);

/* Close one session now (on_close is called). */
void bw_udp_sessions_close(struct bw_udp_sessions *t, struct bw_udp_session *s);

/* Close sessions idle since before now - idle_timeout. */
void bw_udp_sessions_expire(struct bw_udp_sessions *t, bw_time_t now);

/* Would bw_udp_sessions_expire(t, now) close a session? NULL-safe. */
bool bw_udp_sessions_due(const struct bw_udp_sessions *t, bw_time_t now);

/* Close every session (end of input). */
void bw_udp_sessions_flush(struct bw_udp_sessions *t);

const struct bw_udp_sessions_stats *bw_udp_sessions_stats(const struct bw_udp_sessions *t);

#endif /* BW_UDP_SESSIONS_H */
