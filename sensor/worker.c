/* SPDX-License-Identifier: MIT */
/*
 * worker.c: the per-packet pipeline. A frame is decoded to a UDP or TCP
 * packet; UDP on a DNS port is parsed as one DNS message, TCP flows on a DNS
 * port go through the reassembler to a length-prefixed message consumer.
 * Each parsed message becomes one bindwatch.dns event. Nothing here
 * allocates per packet: the DNS message struct, the JSON buffer and the text
 * scratch are allocated once with the worker.
 */
#include "worker.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "worker_impl.h"


void bw_worker_config_default(struct bw_worker_config *c)
{
	memset(c, 0, sizeof(*c));
	bw_worker_dns_port_set(c, 53, true);
	bw_worker_dns_port_set(c, 5353, true);
	c->cert_cache_entries = 4096;
	c->udp_max_sessions = 4096;
	c->udp_idle_timeout = 60 * BW_NSEC_PER_SEC;
	bw_decode_config_default(&c->decode);
	bw_tcp_config_default(&c->tcp);
	bw_tls_config_default(&c->tls);
}

static inline bool is_dns_port(const struct bw_worker *w, uint16_t port)
{
	return (w->cfg.dns_ports[port >> 3] >> (port & 7)) & 1;
}

void bw_worker_emit(struct bw_worker *w, enum bw_event_type t, bw_time_t ts)
{
	if (!bw_json_ok(&w->json)) {
		w->st.events_dropped++;
		return;
	}
	struct bw_event ev = {
		.type = t, .producer = (uint16_t)w->cfg.worker_id, .ts = ts, .json = w->json.buf, .json_len = w->json.len,
	};
	if (w->cfg.emit)
		w->cfg.emit(w->cfg.emit_ctx, &ev);
	else
		bw_output_emit(w->out, &ev);
}

static void emit_dns(struct bw_worker *w, const struct bw_obs_meta *meta)
{
	bw_fmt_json_dns(&w->json, w->msg, meta, w->cfg.dns_raw, w->scratch, BW_FMT_SCRATCH);
	bw_worker_emit(w, BW_EV_DNS, meta->ts);
}

void bw_worker_trace_detect(struct bw_worker *w, const char *kind, const struct bw_obs_meta *meta)
{
	if (w->cfg.detect_trace)
		fprintf(w->cfg.detect_trace, "%s%s %llu %s\n", w->finishing ? "end " : "",
			meta->file ? meta->file : "-", (unsigned long long)meta->packet, kind);
}

/* ---- observations held back from the detectors (worker.h, detect_try) ---- */

bool bw_worker_detect_turn(struct bw_worker *w)
{
	if (!w->cfg.detect_try) {
		if (w->cfg.detect_gate)
			w->cfg.detect_gate(w->cfg.detect_gate_ctx);
		return true;
	}
	bw_worker_detect_poll(w);
	if (w->defer_n == BW_WORKER_DEFER_MAX)
		bw_worker_detect_flush(w); /* bounded: the held ones wait their turn */
	return w->cfg.detect_try(w->cfg.detect_gate_ctx);
}

struct worker_deferred *bw_worker_hold_slot(struct bw_worker *w)
{
	if (!w->defer)
		w->defer = calloc(BW_WORKER_DEFER_MAX, sizeof(*w->defer));
	if (!w->defer)
		return NULL;
	struct worker_deferred *d = &w->defer[(w->defer_head + w->defer_n) % BW_WORKER_DEFER_MAX];
	d->tls = NULL;
	d->big = NULL;
	return d;
}

void bw_worker_hold_meta(struct worker_deferred *d, const struct bw_obs_meta *meta)
{
	d->meta = *meta;
	d->has_pkt = meta->pkt != NULL;
	if (meta->pkt) {
		d->pkt = *meta->pkt;
		d->pkt.payload = NULL;
		d->pkt.payload_len = 0;
	}
	d->meta.pkt = NULL; /* set again when it runs: the slot may move no more, but keep it plain */
}

void bw_worker_hold_commit(struct bw_worker *w)
{
	w->defer_n++;
}

void bw_worker_detect_late(struct bw_worker *w)
{
	w->st.detect_hold_nomem++;
	bw_worker_detect_flush(w);
	w->cfg.detect_head_wait(w->cfg.detect_gate_ctx); /* this observation is the pipeline's head now */
}

void bw_worker_detect_late_done(struct bw_worker *w)
{
	w->cfg.detect_head_done(w->cfg.detect_gate_ctx);
}

/*
 * Keep a copy of a DNS observation: the message bytes (it is parsed again
 * when it runs; same bytes, same parser, same result), its evidence and
 * the packet's headers. A failure to allocate cannot drop it: the detector
 * call must happen, in its turn, so the worker waits for that turn instead.
 */
static void defer_dns(struct bw_worker *w, const uint8_t *p, size_t n, const struct bw_obs_meta *meta)
{
	if (!w->defer_msg)
		w->defer_msg = malloc(sizeof(*w->defer_msg));
	struct worker_deferred *d = w->defer_msg ? bw_worker_hold_slot(w) : NULL;
	uint8_t *big = d && n > DEFER_INLINE ? malloc(n) : NULL;
	if (!d || (n > DEFER_INLINE && !big)) {
		bw_worker_detect_late(w);
		bw_worker_trace_detect(w, "dns", meta);
		bw_detect_dns(w, w->msg, meta);
		bw_worker_detect_late_done(w);
		return;
	}
	bw_worker_hold_meta(d, meta);
	d->len = (uint32_t)n;
	d->big = big;
	memcpy(big ? big : d->small, p, n);
	bw_worker_hold_commit(w);
	w->st.dns.detect_deferred++;
}

/* The oldest held observation through the detectors (its turn has come). */
static void defer_run_head(struct bw_worker *w)
{
	struct worker_deferred *d = &w->defer[w->defer_head];
	d->meta.pkt = d->has_pkt ? &d->pkt : NULL;
	if (d->tls) {
		bw_worker_tls_held_run(w, d->tls, &d->meta);
		d->tls = NULL;
	} else if (bw_dns_parse(d->big ? d->big : d->small, d->len, w->defer_msg, NULL) == BW_OK) {
		bw_worker_trace_detect(w, "dns", &d->meta);
		bw_detect_dns(w, w->defer_msg, &d->meta);
	}
	free(d->big);
	d->big = NULL;
	w->defer_head = (w->defer_head + 1) % BW_WORKER_DEFER_MAX;
	w->defer_n--;
	w->cfg.detect_head_done(w->cfg.detect_gate_ctx);
}

void bw_worker_detect_poll(struct bw_worker *w)
{
	while (w->defer_n && w->cfg.detect_head_ready(w->cfg.detect_gate_ctx))
		defer_run_head(w);
}

void bw_worker_detect_flush(struct bw_worker *w)
{
	while (w->defer_n) {
		w->cfg.detect_head_wait(w->cfg.detect_gate_ctx);
		defer_run_head(w);
	}
}

/* Parse one DNS message and emit its event; false if malformed (counted). */
static bool handle_dns(struct bw_worker *w, const uint8_t *p, size_t n, const struct bw_obs_meta *meta)
{
	if (bw_dns_parse(p, n, w->msg, &w->an) != BW_OK) {
		w->st.dns.malformed++;
		return false;
	}
	w->st.dns.messages++;
	if (w->msg->qr)
		w->st.dns.responses++;
	else
		w->st.dns.queries++;
	emit_dns(w, meta);
	if (w->cfg.detect) {
		if (bw_worker_detect_turn(w)) {
			bw_worker_trace_detect(w, "dns", meta);
			bw_detect_dns(w, w->msg, meta);
		} else {
			defer_dns(w, p, n, meta);
		}
	}
	return true;
}

static void meta_from_packet(struct bw_worker *w, const struct bw_packet *p, struct bw_obs_meta *m)
{
	m->ts = p->ts;
	m->src = p->src;
	m->dst = p->dst;
	m->sport = p->sport;
	m->dport = p->dport;
	m->transport = p->proto;
	m->pkt = p;
	m->file = w->cur_file;
	m->packet = w->cur_frame;
}

/* ---- DNS over TCP: a two-byte length before each message (RFC 1035 4.2.2, RFC 7766) ---- */

static int dns_tcp_data(void *app, struct bw_tcp_flow *f, int dir, const uint8_t *data, size_t len, size_t *need,
			const struct bw_packet *pkt)
{
	struct bw_worker *w = app;
	const struct bw_flow_key *k = bw_tcp_flow_key(f);
	struct bw_obs_meta meta = { 0 };
	meta.src = dir == 0 ? k->lo : k->hi;
	meta.dst = dir == 0 ? k->hi : k->lo;
	meta.sport = dir == 0 ? k->lo_port : k->hi_port;
	meta.dport = dir == 0 ? k->hi_port : k->lo_port;
	meta.transport = IPPROTO_TCP;
	meta.pkt = pkt;
	meta.ts = pkt ? pkt->ts : w->cur_ts;
	meta.file = w->cur_file;
	meta.packet = pkt ? w->cur_frame : 0;

	size_t off = 0;
	while (len - off >= 2) {
		size_t mlen = ((size_t)data[off] << 8) | data[off + 1];
		if (mlen < 12) {
			/* Not a DNS length (or we picked the stream up mid-message):
			 * drop what we have and resynchronise on the next segment. */
			bw_anomaly(&w->an, BW_AN_DNS_TCP_BAD_LENGTH);
			w->st.dns.malformed++;
			return (int)len;
		}
		if (len - off < 2 + mlen) {
			if (off == 0) {
				*need = 2 + mlen;
				return BW_EAGAIN;
			}
			break;
		}
		w->st.dns.tcp++;
		handle_dns(w, data + off + 2, mlen, &meta);
		off += 2 + mlen;
	}
	if (off == 0) {
		*need = 2;
		return BW_EAGAIN;
	}
	return (int)off;
}

static const struct bw_tcp_consumer dns_tcp_consumer = {
	.on_data = dns_tcp_data,
	.on_gap = NULL,
	.on_close = NULL,
};

static bool classify_tcp(void *ctx, struct bw_tcp_flow *f, const struct bw_packet *first,
			 const struct bw_tcp_consumer **consumer, void **app)
{
	struct bw_worker *w = ctx;
	if (is_dns_port(w, first->sport) || is_dns_port(w, first->dport)) {
		*consumer = &dns_tcp_consumer;
		*app = w;
		return true;
	}
	if (w->cfg.tls_off)
		return false;
	return bw_worker_tls_classify(w, f, first, consumer, app);
}

struct bw_worker *bw_worker_new(const struct bw_worker_config *c, struct bw_output *out)
{
	struct bw_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->cfg = *c;
	w->out = out;
	if (w->cfg.tcp.idle_timeout)
		w->cfg.decode.bypass_idle = w->cfg.tcp.idle_timeout; /* a set entry lives as long as its TCP flow would */
	w->dec = bw_decoder_new(&w->cfg.decode, &w->an);
	w->tcp = bw_tcp_table_new(&w->cfg.tcp, classify_tcp, w, &w->an);
	w->msg = malloc(sizeof(*w->msg));
	w->scratch = malloc(BW_FMT_SCRATCH);
	w->detect = c->shared_detect ? c->shared_detect : bw_detect_state_new();
	if (!w->dec || !w->tcp || !w->msg || !w->scratch || !w->detect || bw_json_init(&w->json, 8u << 20) != BW_OK ||
	    bw_worker_tls_init(w) != BW_OK) {
		bw_worker_free(w);
		return NULL;
	}
	return w;
}

void bw_worker_input_start(struct bw_worker *w)
{
	bw_decoder_input_start(w->dec);
}

void bw_worker_finish(struct bw_worker *w)
{
	if (w)
		w->finishing = true;
	if (w && w->tcp)
		bw_tcp_table_flush(w->tcp);
	if (w)
		bw_worker_tls_finish(w);
	if (w && w->fetch)
		bw_worker_tls_fetch_drain(w); /* fetched chains go through the detectors before the end-of-run checks */
	if (w)
		bw_worker_detect_flush(w);
	if (w && w->cfg.detect && !w->cfg.detect_finish_skip) {
		if (w->cfg.detect_gate)
			w->cfg.detect_gate(w->cfg.detect_gate_ctx);
		bw_detect_finish(w);
	}
}

void bw_worker_free(struct bw_worker *w)
{
	if (!w)
		return;
	bw_tcp_table_free(w->tcp);
	/* Held observations never run (freed without bw_worker_finish): their
	 * certificate references go back before the cache does. */
	for (; w->defer && w->defer_n; w->defer_n--, w->defer_head = (w->defer_head + 1) % BW_WORKER_DEFER_MAX) {
		struct worker_deferred *d = &w->defer[w->defer_head];
		bw_worker_tls_held_free(w, d->tls);
		free(d->big);
	}
	bw_worker_tls_deinit(w);
	bw_decoder_free(w->dec);
	bw_json_deinit(&w->json);
	if (w->detect != w->cfg.shared_detect)
		bw_detect_state_free(w->detect);
	free(w->scratch);
	free(w->msg);
	free(w->defer);
	free(w->defer_msg);
	free(w);
}

/* The flow clocks move to ts and what is due times out (worker.h). */
static void worker_tick(struct bw_worker *w, bw_time_t ts)
{
	bw_tcp_table_tick(w->tcp, ts);
	if (bw_udp_sessions_due(w->udp, ts))
		bw_udp_sessions_expire(w->udp, ts);
}

bool bw_worker_clock(struct bw_worker *w, bw_time_t ts)
{
	bool due = bw_tcp_table_clock(w->tcp, ts);
	return bw_udp_sessions_due(w->udp, ts) || due;
}

void bw_worker_expire(struct bw_worker *w, const struct bw_frame *fr, const char *file)
{
	w->cur_file = file;
	w->cur_frame = fr->number;
	w->cur_ts = fr->ts;
	worker_tick(w, fr->ts);
}

void bw_worker_frame(struct bw_worker *w, const struct bw_frame *fr, const char *file)
{
	struct bw_packet p;

	/* time passes first, as for a frame of another worker's: the detectors
	 * then see the same order either way */
	bw_worker_expire(w, fr, file);
	w->st.frames++;
	w->st.bytes += fr->wire_len;
	if (!w->st.first_ts || fr->ts < w->st.first_ts)
		w->st.first_ts = fr->ts;
	if (fr->ts > w->st.last_ts)
		w->st.last_ts = fr->ts;

	int rc = bw_decode_frame(w->dec, fr->linktype, fr->data, fr->cap_len, fr->wire_len, fr->ts, &p);
	if (rc == BW_DECODE_BYPASSED) {
		/* The TCP table would only have noted the time (and expired a
		 * few other flows by it): worker_tick did that, with no lookup. */
	} else if (rc != BW_OK) {
		return;
	} else if (p.proto == IPPROTO_UDP) {
		if (is_dns_port(w, p.sport) || is_dns_port(w, p.dport)) {
			struct bw_obs_meta meta;
			meta_from_packet(w, &p, &meta);
			w->st.dns.udp++;
			handle_dns(w, p.payload, p.payload_len, &meta);
		} else if (!w->cfg.tls_off) {
			bw_worker_tls_udp(w, &p);
		}
	} else if (p.proto == IPPROTO_TCP) {
		bw_tcp_table_segment(w->tcp, &p);
		/* The kernel filter forgets a bypassed flow at any pure SYN (it cannot
		 * tell a retransmitted or duplicated SYN from a new connection); if
		 * this one left the flow as it was (done), bypass it again, or the
		 * rest of the flow would reach user space for nothing. */
		if (w->cfg.flow_done && (p.tcp_flags & (BW_TCP_SYN | BW_TCP_ACK)) == BW_TCP_SYN) {
			const struct bw_tcp_flow *tf = bw_tcp_table_find(w->tcp, &p);
			if (tf && bw_tcp_flow_is_done(tf)) /* counted with the other bypass calls */
				w->cfg.flow_done(w->cfg.flow_done_ctx, bw_tcp_flow_key(tf));
		}
		/* The decoder's bypass set keeps the tuple through a SYN that left
		 * its flow done (a copy, a retransmission); a SYN that started a
		 * new connection takes it out, before that connection's bytes. */
		if ((p.tcp_flags & (BW_TCP_SYN | BW_TCP_ACK)) == BW_TCP_SYN) {
			const struct bw_tcp_flow *nf = bw_tcp_table_find(w->tcp, &p);
			if (!nf || !bw_tcp_flow_is_done(nf)) {
				struct bw_flow_key k;
				bw_flow_key_make(&p, &k, NULL);
				bw_decoder_bypass_del(w->dec, &k);
			}
		}
	}
	if (bw_unlikely(w->fetch != NULL) && (w->st.frames & 63) == 0)
		bw_worker_tls_fetch_poll(w);
}

void bw_worker_poll(struct bw_worker *w)
{
	if (w && w->fetch)
		bw_worker_tls_fetch_poll(w);
}

void bw_worker_stats(const struct bw_worker *w, struct bw_worker_stats *st, struct bw_anomalies *an)
{
	*st = w->st;
	st->decode = *bw_decoder_stats(w->dec);
	st->tcp = *bw_tcp_table_stats(w->tcp);
	bw_worker_tls_stats(w, &st->tls);
	if (w->fetch)
		st->fetch = *bw_certfetch_client_stats(w->fetch);
	if (an)
		*an = w->an;
}

struct bw_anomalies *bw_worker_anomalies(struct bw_worker *w) { return &w->an; }
