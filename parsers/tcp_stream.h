/* SPDX-License-Identifier: MIT */
/*
 * tcp_stream.h: per-worker TCP flow table and per-direction in-order byte
 * streams, bounded in flows, bytes per stream and bytes overall.
 *
 * The consumer (DNS over TCP now, TLS later) is pulled, not pushed: after
 * each segment the table calls the flow's consumer with the contiguous bytes
 * available in that direction. The consumer returns how many it used and,
 * with BW_EAGAIN, how many it needs before it wants to be called again ("the
 * next N bytes of this direction"). Bytes not consumed are kept (copied into
 * the stream's buffer) up to the per-stream cap. In-order segments that the
 * consumer eats whole are never copied.
 *
 * Overlaps: the first copy of a byte wins. A retransmission carrying
 * different bytes for a range already received (delivered or queued out of
 * order) is counted as tcp.overlap_conflicting_bytes and its new bytes are
 * ignored, as Suricata's default "first" policy and most end hosts do.
 *
 * Gaps: when a hole is not filled before the out-of-order queue reaches its
 * cap, or the flow ends or times out with a hole, the stream skips the hole
 * (counted as tcp.gap) and tells the consumer with on_gap() before handing it
 * the bytes after the hole.
 *
 * Details of the contract as implemented:
 * - Any segment carrying bytes already received (delivered, pending or
 *   queued) counts one tcp.overlap; a conflict can only be seen against
 *   bytes still held, so a changed retransmission of consumed bytes counts
 *   as an overlap only. Bytes before the stream start are ignored silently.
 * - The stream starts at ISN + 1 when the SYN was seen, at the SYN-ACK's ack
 *   for the client when only the SYN-ACK was seen, else at the first segment
 *   carrying data or FIN (a bare ACK or keep-alive does not set it).
 * - Caps: a direction holds at most stream_cap bytes (pending + queued), the
 *   table at most mem_cap bytes of buffers. Out-of-order data that does not
 *   fit makes the stream skip its first hole (tcp.out_of_order_cap_hit or
 *   tcp.memcap_hit, then tcp.gap) rather than be dropped. In-order bytes the
 *   consumer has not taken that do not fit, or a BW_EAGAIN need larger than
 *   stream_cap, stop that direction as if the consumer had said BW_ENOTSUP
 *   (tcp.stream_cap_hit or tcp.memcap_hit; the segment call returns
 *   BW_ENOMEM). A direction also queues at most 1024 out-of-order segments.
 * - FIN: the direction ends there: holes before it are skipped, what is
 *   queued is delivered, later bytes are ignored. After FIN both ways or a
 *   RST (either side; not checked against the window, a passive sensor
 *   cannot tell an injected one) the flow is closed at once (on_close) and
 *   its entry lingers closed_linger so stray packets do not start a new
 *   flow. A pure SYN with a new ISN on a lingering entry, or on an open one
 *   whose sender already sent a SYN with another ISN or data, starts a new
 *   flow (port reuse; the old one is flushed and closed first).
 * - Memory: flows come from slabs grown lazily up to max_flows; buffers and
 *   out-of-order segments are malloc'd only when bytes must be kept (never
 *   for in-order data the consumer takes whole, nor for done or stopped
 *   directions). The table owns every flow; a flow pointer is valid until
 *   its on_close returns (for an ignored flow: only during classify).
 */
#ifndef BW_TCP_STREAM_H
#define BW_TCP_STREAM_H

#include "../sensor/bw.h"
#include "anomaly.h"
#include "decode.h"

struct bw_tcp_config {
	uint32_t max_flows;        /* flows tracked at once (default 65536); past it the idlest is evicted */
	uint32_t stream_cap;       /* bytes buffered per direction, in order + out of order (default 256 KiB) */
	size_t mem_cap;            /* bytes buffered over all streams (default 64 MiB) */
	bw_time_t idle_timeout;    /* packet time of silence after which a flow is closed (default 120 s) */
	bw_time_t closed_linger;   /* after FIN both ways or RST, keep the flow this long for stray packets (default 5 s) */
};

void bw_tcp_config_default(struct bw_tcp_config *c);

struct bw_tcp_flow;

/*
 * What a consumer sees for one direction of one flow. dir 0 is the direction
 * from key.lo to key.hi (see bw_flow_key_make); client_dir is the direction
 * of the first SYN seen, or of the first packet when no SYN was captured.
 */
struct bw_tcp_consumer {
	/*
	 * Bytes data[0..len) are the next contiguous bytes of direction dir.
	 * Return >= 0: the number consumed (0..len). The remaining bytes are
	 * kept and offered again with more data appended.
	 * Return BW_EAGAIN after setting *need: consume nothing now, call again
	 * when at least *need bytes are available (need > len).
	 * Return BW_ENOTSUP: stop delivering this direction (the consumer is done
	 * with it); its bytes are discarded from now on.
	 * pkt is the segment that completed these bytes (for evidence: time,
	 * packet number is the caller's business). It is never NULL: bytes
	 * delivered at flush, timeout, eviction or another direction's RST come
	 * with a synthetic packet (this direction's addresses and ports, the
	 * table's current time, no payload).
	 * Other negative returns count as BW_ENOTSUP; a count above len is taken
	 * as len; 0 means "wait for at least one more byte"; with BW_EAGAIN a
	 * need <= len is taken as len + 1, and a need above stream_cap stops the
	 * direction at once (counted as tcp.stream_cap_hit).
	 * Callbacks must not call bw_tcp_table_* (segment returns BW_EINVAL,
	 * the others do nothing); they may call bw_tcp_flow_done() and the
	 * accessors.
	 */
	int (*on_data)(void *app, struct bw_tcp_flow *f, int dir, const uint8_t *data, size_t len,
		       size_t *need, const struct bw_packet *pkt);
	/* A hole was skipped in direction dir. May be NULL. missing counts the
	 * bytes the consumer will never see after the last byte it consumed:
	 * the hole itself plus any bytes it had left pending before the hole
	 * (they are dropped: what they began cannot be completed). So the sum
	 * of consumed counts and missing is always the stream position. */
	void (*on_gap)(void *app, struct bw_tcp_flow *f, int dir, uint64_t missing);
	/* The flow ends (FIN/RST both ways, timeout, eviction, table free). May be NULL.
	 * The consumer frees its app state here. Called exactly once per flow
	 * that got a consumer, and nothing is called for the flow after it. */
	void (*on_close)(void *app, struct bw_tcp_flow *f);
};

/*
 * Called for a new flow (first segment seen, SYN or not) to pick a consumer.
 * Return false to ignore the flow: it is still tracked (so it is not asked
 * again) but no bytes are buffered for it, and on_close is not called.
 * *consumer must have on_data set, or the flow is ignored too.
 * bw_tcp_flow_client_dir() is already valid here.
 */
typedef bool (*bw_tcp_classify_fn)(void *ctx, struct bw_tcp_flow *f, const struct bw_packet *first,
				   const struct bw_tcp_consumer **consumer, void **app);

/*
 * flows_active counts table entries, lingering closed ones included;
 * flows_closed counts flows ended by FIN/RST, port reuse or flush;
 * bytes_delivered counts bytes consumers consumed; bytes_buffered_max is the
 * peak of buffer memory held (<= mem_cap); stream_cap_hits counts both
 * tcp.stream_cap_hit and tcp.out_of_order_cap_hit; overlaps counts segments.
 */
struct bw_tcp_stats {
	uint64_t flows_created, flows_closed, flows_timed_out, flows_evicted;
	uint64_t flows_active, flows_active_max;
	uint64_t segments, bytes_delivered, bytes_buffered_max;
	uint64_t gaps, overlaps, ooo_segments;
	uint64_t stream_cap_hits, mem_cap_hits, flow_cap_hits;
};

struct bw_tcp_table;

/*
 * c NULL means defaults. classify NULL ignores every flow. anomalies is
 * caller-owned and may be NULL. Returns NULL on ENOMEM or if max_flows is 0
 * or above 2^24.
 */
struct bw_tcp_table *bw_tcp_table_new(const struct bw_tcp_config *c, bw_tcp_classify_fn classify,
				      void *classify_ctx, struct bw_anomalies *anomalies);
/* Closes every flow (on_close called) and frees. NULL-safe. Held bytes are
 * not delivered: call bw_tcp_table_flush() first at the end of input. */
void bw_tcp_table_free(struct bw_tcp_table *t);

/*
 * Feed one decoded TCP segment (p->proto == IPPROTO_TCP). Runs the consumer
 * as bytes become contiguous. Also expires idle flows by p->ts.
 * Returns BW_OK, or BW_ENOMEM if a cap made the segment be dropped (counted).
 * BW_EINVAL if p is not TCP or the call comes from inside a callback. A RST
 * for a flow not in the table is not tracked. Lazy expiry closes at most 64
 * flows per call; bw_tcp_table_expire() closes all that are due.
 */
int bw_tcp_table_segment(struct bw_tcp_table *t, const struct bw_packet *p);

/* Close every flow idle for longer than the timeout as of now (packet time). */
void bw_tcp_table_expire(struct bw_tcp_table *t, bw_time_t now);

/* What a segment does to the table besides its own flow: move the clock to
 * now and close at most as many idle flows as a segment would (for segments
 * that skip the table, e.g. the decoder's bypass). */
void bw_tcp_table_tick(struct bw_tcp_table *t, bw_time_t now);

/* Move the clock to now and close nothing; true if a flow is due, that is
 * if bw_tcp_table_tick would close one now. For frames this table never
 * sees (another worker's), whose time passes here all the same. */
bool bw_tcp_table_clock(struct bw_tcp_table *t, bw_time_t now);

/* Close every flow: flushes pending bytes past holes first (end of input). */
void bw_tcp_table_flush(struct bw_tcp_table *t);

const struct bw_tcp_stats *bw_tcp_table_stats(const struct bw_tcp_table *t);

/* Accessors on a flow for consumers. */
const struct bw_flow_key *bw_tcp_flow_key(const struct bw_tcp_flow *f);
int bw_tcp_flow_client_dir(const struct bw_tcp_flow *f);
/* Stop buffering both directions: the consumer has all it wants (the live
 * capture issue turns this into a kernel bypass). */
void bw_tcp_flow_done(struct bw_tcp_flow *f);
bool bw_tcp_flow_is_done(const struct bw_tcp_flow *f);

/* The flow packet p belongs to, or NULL (no side effects: no expiry, no move). */
const struct bw_tcp_flow *bw_tcp_table_find(struct bw_tcp_table *t, const struct bw_packet *p);

/*
 * Valid during on_data for direction dir: the TCP sequence number of data[0],
 * and its offset in the direction's stream (bytes since the stream start,
 * ISN + 1 or the first sequence number seen, skipped holes included). For
 * evidence and for consumers that track record positions.
 */
uint32_t bw_tcp_flow_data_seq(const struct bw_tcp_flow *f, int dir);
uint64_t bw_tcp_flow_data_offset(const struct bw_tcp_flow *f, int dir);

#endif /* BW_TCP_STREAM_H */
