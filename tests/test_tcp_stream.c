/* SPDX-License-Identifier: MIT */
/*
 * test_tcp_stream.c: the TCP flow table and stream reassembly, driven with
 * hand-built segments: ordering, overlaps (first copy wins), the pull
 * interface (BW_EAGAIN + need), holes, caps, timeouts, close and reuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parsers/tcp_stream.h"

#define SEC BW_NSEC_PER_SEC
#define REC_CAP 8192
#define MAX_RECS 8

enum mode {
	M_ALL,     /* consume everything */
	M_NEED,    /* EAGAIN until `want` bytes, then consume exactly `want` */
	M_CHUNK,   /* consume `want` bytes at a time, return 0 below that */
	M_ZERO,    /* never consume (return 0) */
	M_NOTSUP,  /* BW_ENOTSUP on the first call */
	M_DONE,    /* consume, then bw_tcp_flow_done() */
	M_REENTER, /* try to feed the table from inside on_data */
};

struct rec {
	int mode;
	size_t want;
	uint8_t data[2][REC_CAP];
	size_t n[2];
	int calls[2];
	size_t call_len[2][64];
	uint32_t call_seq[2][64];
	uint64_t call_off[2][64];
	const uint8_t *last_ptr[2];
	const struct bw_packet *last_pkt[2];
	uint32_t last_pkt_payload_len[2];
	struct bw_ip last_pkt_src[2];
	int gaps[2];
	uint64_t gap_bytes[2];
	int closes;
	int data_after_close;
	int reenter_rc;
	struct bw_tcp_flow *flow;
	struct bw_tcp_table *table;
};

struct ctx {
	struct rec recs[MAX_RECS];
	int n_recs;
	int classified;
	bool ignore;
	int mode;
	size_t want;
	struct bw_tcp_table *table;
};

static int rec_data(void *app, struct bw_tcp_flow *f, int dir, const uint8_t *data, size_t len, size_t *need,
		    const struct bw_packet *pkt)
{
	struct rec *r = app;
	assert_non_null(pkt);
	if (r->closes)
		r->data_after_close++;
	int c = r->calls[dir]++;
	if (c < 64) {
		r->call_len[dir][c] = len;
		r->call_seq[dir][c] = bw_tcp_flow_data_seq(f, dir);
		r->call_off[dir][c] = bw_tcp_flow_data_offset(f, dir);
	}
	r->last_ptr[dir] = data;
	r->last_pkt[dir] = pkt;
	r->last_pkt_payload_len[dir] = pkt->payload_len;
	r->last_pkt_src[dir] = pkt->src;
	size_t take = 0;
	switch (r->mode) {
	case M_ALL:
	case M_DONE:
	case M_REENTER:
		take = len;
		break;
	case M_NEED:
		if (len < r->want) {
			*need = r->want;
			return BW_EAGAIN;
		}
		take = r->want;
		break;
	case M_CHUNK:
		if (len < r->want)
			return 0;
		take = r->want;
		break;
	case M_ZERO:
		return 0;
	case M_NOTSUP:
		return BW_ENOTSUP;
	}
	assert_true(r->n[dir] + take <= REC_CAP);
	memcpy(r->data[dir] + r->n[dir], data, take);
	r->n[dir] += take;
	if (r->mode == M_DONE)
		bw_tcp_flow_done(f);
	if (r->mode == M_REENTER) {
		struct bw_packet p = {.proto = IPPROTO_TCP};
		r->reenter_rc = bw_tcp_table_segment(r->table, &p);
	}
	return (int)take;
}

static void rec_gap(void *app, struct bw_tcp_flow *f, int dir, uint64_t missing)
{
	struct rec *r = app;
	(void)f;
	r->gaps[dir]++;
	r->gap_bytes[dir] += missing;
}

static void rec_close(void *app, struct bw_tcp_flow *f)
{
	struct rec *r = app;
	(void)f;
	r->closes++;
}

static const struct bw_tcp_consumer rec_consumer = {
	.on_data = rec_data,
	.on_gap = rec_gap,
	.on_close = rec_close,
};

static bool classify(void *vctx, struct bw_tcp_flow *f, const struct bw_packet *first,
		     const struct bw_tcp_consumer **consumer, void **app)
{
	struct ctx *c = vctx;
	(void)first;
	c->classified++;
	if (c->ignore || c->n_recs == MAX_RECS)
		return false;
	struct rec *r = &c->recs[c->n_recs++];
	r->mode = c->mode;
	r->want = c->want;
	r->flow = f;
	r->table = c->table;
	*consumer = &rec_consumer;
	*app = r;
	return true;
}

/* ---- packet building ---- */

#define CLI 0 /* 10.0.0.1:40000 is key.lo, so its direction is 0 */
#define SRV 1

static struct bw_packet mkp(int dir, uint16_t cport, uint8_t flags, uint32_t seq, uint32_t ack, const void *pl,
			    uint32_t len, bw_time_t ts)
{
	struct bw_packet p;
	memset(&p, 0, sizeof(p));
	struct bw_ip a = {.family = 4, .a = {10, 0, 0, 1}};
	struct bw_ip b = {.family = 4, .a = {10, 0, 0, 2}};
	p.ts = ts;
	p.ip_version = 4;
	p.proto = IPPROTO_TCP;
	p.src = dir == CLI ? a : b;
	p.dst = dir == CLI ? b : a;
	p.sport = dir == CLI ? cport : 53;
	p.dport = dir == CLI ? 53 : cport;
	p.seq = seq;
	p.ack = ack;
	p.tcp_flags = flags;
	p.payload = pl;
	p.payload_len = len;
	return p;
}

struct env {
	struct ctx c;
	struct bw_anomalies an;
	struct bw_tcp_config cfg;
	struct bw_tcp_table *t;
	bw_time_t now;
};

static struct env *env_new(int mode, size_t want, void (*tweak)(struct bw_tcp_config *))
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->c.mode = mode;
	e->c.want = want;
	bw_tcp_config_default(&e->cfg);
	if (tweak)
		tweak(&e->cfg);
	e->t = bw_tcp_table_new(&e->cfg, classify, &e->c, &e->an);
	assert_non_null(e->t);
	e->c.table = e->t;
	e->now = 1000 * SEC;
	return e;
}

static void env_free(struct env *e)
{
	bw_tcp_table_free(e->t);
	free(e);
}

/* One segment of a flow with client port cport; time moves 1 ms per segment. */
static int seg(struct env *e, int dir, uint16_t cport, uint8_t flags, uint32_t seq, const void *pl, uint32_t len)
{
	e->now += BW_NSEC_PER_MSEC;
	struct bw_packet p = mkp(dir, cport, flags, seq, 0, pl, len, e->now);
	return bw_tcp_table_segment(e->t, &p);
}

#define ISN_C 1000u
#define ISN_S 5000u

/* Three-way handshake on port cport: client data starts at ISN_C + 1, server at ISN_S + 1. */
static void handshake(struct env *e, uint16_t cport)
{
	e->now += BW_NSEC_PER_MSEC;
	struct bw_packet p = mkp(CLI, cport, BW_TCP_SYN, ISN_C, 0, NULL, 0, e->now);
	assert_int_equal(bw_tcp_table_segment(e->t, &p), BW_OK);
	p = mkp(SRV, cport, BW_TCP_SYN | BW_TCP_ACK, ISN_S, ISN_C + 1, NULL, 0, e->now);
	assert_int_equal(bw_tcp_table_segment(e->t, &p), BW_OK);
	p = mkp(CLI, cport, BW_TCP_ACK, ISN_C + 1, ISN_S + 1, NULL, 0, e->now);
	assert_int_equal(bw_tcp_table_segment(e->t, &p), BW_OK);
}

static uint8_t pattern[4096];

static void fill_pattern(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + (i >> 8) + 1);
}

/* Client data at stream offset off (relative to ISN_C + 1) from the pattern. */
static int cdata(struct env *e, uint32_t off, uint32_t len)
{
	return seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 1 + off, pattern + off, len);
}

/* ---- tests ---- */

static void test_inorder(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	handshake(e, 40000);
	assert_int_equal(e->c.classified, 1);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(bw_tcp_flow_client_dir(r->flow), CLI);

	struct bw_packet p = mkp(CLI, 40000, BW_TCP_ACK | BW_TCP_PSH, ISN_C + 1, 0, "hello ", 6, e->now);
	assert_int_equal(bw_tcp_table_segment(e->t, &p), BW_OK);
	/* Zero copy: the consumer saw the packet's own bytes. */
	assert_ptr_equal(r->last_ptr[CLI], p.payload);
	assert_ptr_equal(r->last_pkt[CLI], &p);
	p = mkp(CLI, 40000, BW_TCP_ACK, ISN_C + 7, 0, "world", 5, e->now);
	assert_int_equal(bw_tcp_table_segment(e->t, &p), BW_OK);
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_ACK, ISN_S + 1, "reply", 5), BW_OK);

	assert_int_equal(r->n[CLI], 11);
	assert_memory_equal(r->data[CLI], "hello world", 11);
	assert_int_equal(r->n[SRV], 5);
	assert_memory_equal(r->data[SRV], "reply", 5);
	assert_int_equal(r->call_seq[CLI][0], ISN_C + 1);
	assert_int_equal(r->call_seq[CLI][1], ISN_C + 7);
	assert_int_equal(r->call_off[CLI][1], 6);

	const struct bw_tcp_stats *st = bw_tcp_table_stats(e->t);
	assert_int_equal(st->bytes_delivered, 16);
	assert_int_equal(st->bytes_buffered_max, 0); /* nothing was ever copied */
	assert_int_equal(st->flows_created, 1);
	assert_int_equal(st->flows_active, 1);
	assert_int_equal(st->segments, 6);

	const struct bw_flow_key *k = bw_tcp_flow_key(r->flow);
	assert_int_equal(k->lo_port, 40000);
	assert_int_equal(k->hi_port, 53);
	assert_int_equal(r->closes, 0);
	env_free(e);
}

static void test_inorder_close_on_free(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	handshake(e, 40000);
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(r->closes, 0);
	bw_tcp_table_free(e->t);
	assert_int_equal(r->closes, 1);
	free(e);
}

static void permute(int *a, int k, int n, int *count, void (*fn)(const int *, int *), int *fails)
{
	if (k == n) {
		(*count)++;
		fn(a, fails);
		return;
	}
	for (int i = k; i < n; i++) {
		int t = a[k];
		a[k] = a[i];
		a[i] = t;
		permute(a, k + 1, n, count, fn, fails);
		t = a[k];
		a[k] = a[i];
		a[i] = t;
	}
}

static void run_order(const int *order, int *fails)
{
	struct env *e = env_new(M_ALL, 0, NULL);
	handshake(e, 40000);
	for (int i = 0; i < 4; i++)
		assert_int_equal(cdata(e, (uint32_t)order[i] * 10, 10), BW_OK);
	struct rec *r = &e->c.recs[0];
	if (r->n[CLI] != 40 || memcmp(r->data[CLI], pattern, 40) != 0 || r->gaps[CLI] != 0)
		(*fails)++;
	/* Each call started where the previous consumption ended. */
	uint64_t off = 0;
	for (int i = 0; i < r->calls[CLI]; i++) {
		if (r->call_off[CLI][i] != off)
			(*fails)++;
		off += r->call_len[CLI][i];
	}
	const struct bw_tcp_stats *st = bw_tcp_table_stats(e->t);
	if (st->overlaps != 0 || st->gaps != 0)
		(*fails)++;
	env_free(e);
}

static void test_permutations(void **state)
{
	(void)state;
	int a[4] = {0, 1, 2, 3};
	int count = 0, fails = 0;
	permute(a, 0, 4, &count, run_order, &fails);
	assert_int_equal(count, 24);
	assert_int_equal(fails, 0);
}

static void test_retransmit_same(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	handshake(e, 40000);
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_int_equal(cdata(e, 10, 10), BW_OK);
	assert_int_equal(cdata(e, 5, 10), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(r->n[CLI], 20);
	assert_memory_equal(r->data[CLI], pattern, 20);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP], 2);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP_CONFLICT], 0);
	assert_int_equal(bw_tcp_table_stats(e->t)->overlaps, 2);
	env_free(e);
}

static void test_retransmit_different_pending(void **state)
{
	(void)state;
	/* The consumer waits for 20 bytes, so the first 10 are still held when the
	 * retransmission with other bytes arrives: first copy wins, conflict counted. */
	struct env *e = env_new(M_NEED, 20, NULL);
	handshake(e, 40000);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 1, "AAAAAAAAAA", 10), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 1, "BBBBBBBBBB", 10), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 11, "CCCCCCCCCC", 10), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(r->n[CLI], 20);
	assert_memory_equal(r->data[CLI], "AAAAAAAAAACCCCCCCCCC", 20);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP], 1);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP_CONFLICT], 1);
	env_free(e);
}

static void test_retransmit_different_queued(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	handshake(e, 40000);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 11, "CCCCCCCCCC", 10), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 11, "DDDDDDDDDD", 10), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 1, "AAAAAAAAAA", 10), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(r->n[CLI], 20);
	assert_memory_equal(r->data[CLI], "AAAAAAAAAACCCCCCCCCC", 20);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP_CONFLICT], 1);
	/* Consumed bytes cannot be compared: counted as overlap only. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 1, "ZZZZZZZZZZ", 10), BW_OK);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP], 2);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP_CONFLICT], 1);
	assert_int_equal(r->n[CLI], 20);
	env_free(e);
}

static void test_partial_overlaps(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	handshake(e, 40000);
	uint8_t x[40];
	memset(x, 'x', sizeof(x));
	/* Queue [10,20) and [30,40) from the pattern. */
	assert_int_equal(cdata(e, 10, 10), BW_OK);
	assert_int_equal(cdata(e, 30, 10), BW_OK);
	/* [15,35) of x overlaps the end of one and the start of the other. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 1 + 15, x, 20), BW_OK);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP_CONFLICT], 1);
	/* [0,12) of x overlaps the start of the queued [10,20): its bytes 10, 11 lose. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 1, x, 12), BW_OK);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP_CONFLICT], 2);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP], 2);
	struct rec *r = &e->c.recs[0];
	uint8_t want[40];
	memset(want, 'x', 10);
	memcpy(want + 10, pattern + 10, 10);
	memset(want + 20, 'x', 10);
	memcpy(want + 30, pattern + 30, 10);
	assert_int_equal(r->n[CLI], 40);
	assert_memory_equal(r->data[CLI], want, 40);
	/* A segment covering everything queued and more, then the tail. */
	assert_int_equal(cdata(e, 50, 5), BW_OK);
	assert_int_equal(cdata(e, 60, 5), BW_OK);
	assert_int_equal(cdata(e, 45, 25), BW_OK); /* covers [50,55) and [60,65), fills around */
	assert_int_equal(cdata(e, 40, 5), BW_OK);
	assert_int_equal(r->n[CLI], 70);
	assert_memory_equal(r->data[CLI] + 40, pattern + 40, 30);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP_CONFLICT], 2);
	env_free(e);
}

static void test_eagain_need(void **state)
{
	(void)state;
	struct env *e = env_new(M_NEED, 25, NULL);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_int_equal(r->calls[CLI], 1);
	assert_int_equal(r->call_len[CLI][0], 10);
	assert_int_equal(cdata(e, 10, 10), BW_OK);
	assert_int_equal(r->calls[CLI], 1); /* 20 < 25: not called */
	assert_int_equal(cdata(e, 20, 10), BW_OK);
	/* 30 >= 25: called with all 30, took 25, then offered the 5 left (EAGAIN). */
	assert_int_equal(r->calls[CLI], 3);
	assert_int_equal(r->call_len[CLI][1], 30);
	assert_int_equal(r->call_len[CLI][2], 5);
	assert_int_equal(r->call_off[CLI][2], 25);
	assert_int_equal(r->n[CLI], 25);
	assert_memory_equal(r->data[CLI], pattern, 25);
	/* Exactly 25 more (5 + 20): called once, exactly then. */
	assert_int_equal(cdata(e, 30, 19), BW_OK);
	assert_int_equal(r->calls[CLI], 3);
	assert_int_equal(cdata(e, 49, 1), BW_OK);
	assert_int_equal(r->calls[CLI], 4);
	assert_int_equal(r->call_len[CLI][3], 25);
	assert_int_equal(r->n[CLI], 50);
	assert_memory_equal(r->data[CLI], pattern, 50);
	env_free(e);
}

static void test_partial_consume(void **state)
{
	(void)state;
	struct env *e = env_new(M_CHUNK, 3, NULL);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	/* 10, 7, 4 taken 3 at a time; the 1 left is refused and kept. */
	assert_int_equal(r->calls[CLI], 4);
	assert_int_equal(r->call_len[CLI][0], 10);
	assert_int_equal(r->call_len[CLI][1], 7);
	assert_int_equal(r->call_len[CLI][2], 4);
	assert_int_equal(r->call_len[CLI][3], 1);
	assert_int_equal(r->n[CLI], 9);
	assert_int_equal(cdata(e, 10, 1), BW_OK);
	/* 2 bytes: still short; 3 more make 5, of which 3 are taken. */
	assert_int_equal(cdata(e, 11, 3), BW_OK);
	assert_int_equal(r->n[CLI], 12);
	assert_memory_equal(r->data[CLI], pattern, 12);
	assert_true(bw_tcp_table_stats(e->t)->bytes_buffered_max > 0);
	env_free(e);
}

static void test_no_syn(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	/* Picked up mid-stream: a pure ACK first does not set the stream start. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, 77777, NULL, 0), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, 77777, "abc", 3), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, 77780, "def", 3), BW_OK);
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_ACK, 9, "xyz", 3), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(bw_tcp_flow_client_dir(r->flow), CLI);
	assert_int_equal(r->n[CLI], 6);
	assert_memory_equal(r->data[CLI], "abcdef", 6);
	assert_int_equal(r->n[SRV], 3);
	assert_int_equal(r->call_off[CLI][0], 0);
	/* First packet from the server: the server is taken for the client. */
	assert_int_equal(seg(e, SRV, 40001, BW_TCP_ACK, 1, "q", 1), BW_OK);
	assert_int_equal(bw_tcp_flow_client_dir(e->c.recs[1].flow), SRV);
	assert_int_equal(e->c.recs[1].n[SRV], 1);
	env_free(e);
}

static void test_synack_first(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	e->now += SEC;
	struct bw_packet p = mkp(SRV, 40000, BW_TCP_SYN | BW_TCP_ACK, ISN_S, ISN_C + 1, NULL, 0, e->now);
	assert_int_equal(bw_tcp_table_segment(e->t, &p), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(bw_tcp_flow_client_dir(r->flow), CLI);
	/* The client's stream starts at the SYN-ACK's ack: its first byte is not taken as OOO. */
	assert_int_equal(cdata(e, 0, 4), BW_OK);
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_ACK, ISN_S + 1, "resp", 4), BW_OK);
	assert_int_equal(r->n[CLI], 4);
	assert_int_equal(r->n[SRV], 4);
	assert_int_equal(r->call_seq[SRV][0], ISN_S + 1);
	/* A server segment one byte ahead is queued, not delivered. */
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_ACK, ISN_S + 6, "x", 1), BW_OK);
	assert_int_equal(r->n[SRV], 4);
	assert_int_equal(bw_tcp_table_stats(e->t)->ooo_segments, 1);
	env_free(e);
}

static void test_syn_data_tfo(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_SYN, ISN_C, "fast", 4), BW_OK);
	assert_int_equal(cdata(e, 4, 4), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(r->n[CLI], 8);
	assert_memory_equal(r->data[CLI], "fast", 4);
	assert_memory_equal(r->data[CLI] + 4, pattern + 4, 4);
	assert_int_equal(r->call_seq[CLI][0], ISN_C + 1);
	env_free(e);
}

static void test_seq_wrap(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	const uint32_t isn = 0xFFFFFFF8u;
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_SYN, isn, NULL, 0), BW_OK);
	/* Bytes at 0xFFFFFFF9 .. 0x00000020, sent 3, 1, 0, 2: crosses 2^32 in and out of order. */
	const uint32_t base = isn + 1;
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, base + 30, pattern + 30, 10), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, base + 10, pattern + 10, 10), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, base, pattern, 10), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(r->n[CLI], 20);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, base + 20, pattern + 20, 10), BW_OK);
	assert_int_equal(r->n[CLI], 40);
	assert_memory_equal(r->data[CLI], pattern, 40);
	assert_int_equal(r->call_seq[CLI][0], 0xFFFFFFF9u);
	assert_int_equal(r->call_seq[CLI][1], 3u); /* wrapped */
	assert_int_equal(r->call_off[CLI][1], 10);
	/* An old retransmission from before the wrap is recognised as old. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, base, pattern, 10), BW_OK);
	assert_int_equal(r->n[CLI], 40);
	assert_int_equal(e->an.n[BW_AN_TCP_OVERLAP], 1);
	/* A FIN after the wrap closes at the right place: no gap. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_FIN | BW_TCP_ACK, base + 40, NULL, 0), BW_OK);
	assert_int_equal(r->gaps[CLI], 0);
	assert_int_equal(e->an.n[BW_AN_TCP_GAP], 0);
	env_free(e);
}

static void small_stream(struct bw_tcp_config *c) { c->stream_cap = 100; }

static void test_gap_ooo_cap(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, small_stream);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	/* [0,10) lost; [10,60) and [60,90) queue (80 <= 100). */
	assert_int_equal(cdata(e, 10, 50), BW_OK);
	assert_int_equal(cdata(e, 60, 30), BW_OK);
	assert_int_equal(r->n[CLI], 0);
	/* [100,130) would make 110 > 100: the hole is skipped, 10 bytes reported. */
	assert_int_equal(cdata(e, 100, 30), BW_OK);
	assert_int_equal(r->gaps[CLI], 1);
	assert_int_equal(r->gap_bytes[CLI], 10);
	assert_int_equal(r->n[CLI], 80);
	assert_memory_equal(r->data[CLI], pattern + 10, 80);
	/* The new segment queued behind the next hole [90,100). */
	assert_int_equal(cdata(e, 90, 10), BW_OK);
	assert_int_equal(r->n[CLI], 120);
	assert_memory_equal(r->data[CLI] + 80, pattern + 90, 40);
	assert_int_equal(e->an.n[BW_AN_TCP_GAP], 1);
	assert_int_equal(e->an.n[BW_AN_TCP_OOO_CAP], 1);
	assert_int_equal(bw_tcp_table_stats(e->t)->gaps, 1);
	/* A late copy of the skipped hole is old news now. */
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_int_equal(r->n[CLI], 120);
	/* Each call's offset accounts for the hole. */
	assert_int_equal(r->call_off[CLI][0], 10);
	env_free(e);
}

static void test_gap_two_holes_one_segment(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, small_stream);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	/* Holes at [0,10) and [40,50); a 71-byte segment at 200 needs both skipped. */
	assert_int_equal(cdata(e, 10, 30), BW_OK);
	assert_int_equal(cdata(e, 50, 30), BW_OK);
	assert_int_equal(cdata(e, 200, 71), BW_OK);
	assert_int_equal(r->gaps[CLI], 2);
	assert_int_equal(r->gap_bytes[CLI], 20);
	assert_int_equal(r->n[CLI], 60);
	assert_int_equal(e->an.n[BW_AN_TCP_OOO_CAP], 1); /* once per segment */
	/* The 71 bytes wait queued; 120 in-order bytes up to them are not buffered at all. */
	assert_int_equal(cdata(e, 80, 120), BW_OK);
	assert_int_equal(r->n[CLI], 60 + 120 + 71);
	assert_memory_equal(r->data[CLI] + 60, pattern + 80, 191);
	/* Nothing queued and a segment bigger than the cap: skip straight to it. */
	assert_int_equal(cdata(e, 300, 150), BW_OK);
	assert_int_equal(r->gaps[CLI], 3);
	assert_int_equal(r->gap_bytes[CLI], 20 + 29);
	assert_int_equal(r->n[CLI], 60 + 120 + 71 + 150);
	assert_int_equal(e->an.n[BW_AN_TCP_OOO_CAP], 2);
	env_free(e);
}

static void test_gap_drops_pending(void **state)
{
	(void)state;
	struct env *e = env_new(M_NEED, 50, small_stream);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 0, 10), BW_OK); /* offered, left pending (EAGAIN for 50) */
	assert_int_equal(cdata(e, 30, 50), BW_OK); /* queued behind the hole [10,30) */
	assert_int_equal(cdata(e, 90, 41), BW_OK); /* 10 + 50 + 41 > 100: skip the hole */
	/* The 10 pending bytes cannot be completed: reported with the 20-byte hole, so
	 * consumed + missing is the stream position of the next offer. */
	assert_int_equal(r->gaps[CLI], 1);
	assert_int_equal(r->gap_bytes[CLI], 30);
	assert_int_equal(r->n[CLI], 50);
	assert_memory_equal(r->data[CLI], pattern + 30, 50);
	assert_int_equal(r->call_off[CLI][1], 30);
	env_free(e);
}

static void test_gap_at_fin(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 10, 10), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_FIN | BW_TCP_ACK, ISN_C + 21, NULL, 0), BW_OK);
	assert_int_equal(r->gaps[CLI], 1);
	assert_int_equal(r->gap_bytes[CLI], 10);
	assert_int_equal(r->n[CLI], 10);
	assert_memory_equal(r->data[CLI], pattern + 10, 10);
	assert_int_equal(r->closes, 0); /* half closed: the server may still talk */
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_ACK, ISN_S + 1, "late", 4), BW_OK);
	assert_int_equal(r->n[SRV], 4);
	/* Client bytes after its FIN are ignored. */
	assert_int_equal(cdata(e, 20, 5), BW_OK);
	assert_int_equal(r->n[CLI], 10);
	/* Server FIN with its last bytes missing: the hole before the FIN is reported. */
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_FIN | BW_TCP_ACK, ISN_S + 9, NULL, 0), BW_OK);
	assert_int_equal(r->gaps[SRV], 1);
	assert_int_equal(r->gap_bytes[SRV], 4);
	assert_int_equal(r->closes, 1);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_closed, 1);
	env_free(e);
}

static void test_gap_at_flush(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 0, 5), BW_OK);
	assert_int_equal(cdata(e, 10, 10), BW_OK);
	assert_int_equal(cdata(e, 30, 10), BW_OK);
	assert_int_equal(r->n[CLI], 5);
	bw_tcp_table_flush(e->t);
	assert_int_equal(r->gaps[CLI], 2);
	assert_int_equal(r->gap_bytes[CLI], 15);
	assert_int_equal(r->n[CLI], 25);
	assert_memory_equal(r->data[CLI] + 5, pattern + 10, 10);
	assert_memory_equal(r->data[CLI] + 15, pattern + 30, 10);
	assert_int_equal(r->closes, 1);
	/* Deliveries at flush get a synthetic packet of the right direction. */
	assert_int_equal(r->last_pkt_payload_len[CLI], 0);
	assert_int_equal(r->last_pkt_src[CLI].a[3], 1);
	const struct bw_tcp_stats *st = bw_tcp_table_stats(e->t);
	assert_int_equal(st->flows_active, 0);
	assert_int_equal(st->flows_closed, 1);
	env_free(e); /* free must not close it again: rec_close would count 2, checked in test_close_once */
}

static void test_stream_cap(void **state)
{
	(void)state;
	struct env *e = env_new(M_ZERO, 0, small_stream);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 0, 60), BW_OK);
	assert_int_equal(cdata(e, 60, 30), BW_OK);
	assert_int_equal(r->calls[CLI], 2);
	assert_int_equal(r->call_len[CLI][1], 90);
	/* 120 would exceed 100: the direction stops. */
	assert_int_equal(cdata(e, 90, 30), BW_ENOMEM);
	assert_int_equal(e->an.n[BW_AN_TCP_STREAM_CAP], 1);
	assert_int_equal(bw_tcp_table_stats(e->t)->stream_cap_hits, 1);
	int calls = r->calls[CLI];
	assert_int_equal(cdata(e, 120, 10), BW_OK);
	assert_int_equal(r->calls[CLI], calls);
	/* The other direction is unaffected. */
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_ACK, ISN_S + 1, "ok", 2), BW_OK);
	assert_int_equal(r->calls[SRV], 1);
	env_free(e);
}

static void test_stream_cap_need_too_big(void **state)
{
	(void)state;
	struct env *e = env_new(M_NEED, 500, small_stream);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	/* 500 > stream_cap: stopped at once, nothing buffered. */
	assert_int_equal(e->an.n[BW_AN_TCP_STREAM_CAP], 1);
	assert_int_equal(bw_tcp_table_stats(e->t)->bytes_buffered_max, 0);
	assert_int_equal(cdata(e, 10, 10), BW_OK);
	assert_int_equal(r->calls[CLI], 1);
	env_free(e);
}

static void small_mem(struct bw_tcp_config *c) { c->mem_cap = 3000; }

static void test_mem_cap(void **state)
{
	(void)state;
	struct env *e = env_new(M_ZERO, 0, small_mem);
	/* Three flows each holding 1000 bytes the consumer will not take. */
	for (uint16_t port = 40000; port < 40003; port++)
		handshake(e, port);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, ISN_C + 1, pattern, 1000), BW_OK);
	assert_int_equal(seg(e, CLI, 40001, BW_TCP_ACK, ISN_C + 1, pattern, 1000), BW_OK);
	assert_int_equal(seg(e, CLI, 40002, BW_TCP_ACK, ISN_C + 1, pattern, 1000), BW_ENOMEM);
	assert_int_equal(e->an.n[BW_AN_TCP_MEMCAP], 1);
	const struct bw_tcp_stats *st = bw_tcp_table_stats(e->t);
	assert_int_equal(st->mem_cap_hits, 1);
	assert_true(st->bytes_buffered_max <= 3000);
	/* Out of order under memory pressure: no room to queue, so the hole is skipped
	 * and the segment delivered straight away. */
	e->c.recs[1].mode = M_ALL;
	assert_int_equal(seg(e, SRV, 40001, BW_TCP_ACK, ISN_S + 1 + 100, pattern, 1500), BW_OK);
	assert_int_equal(e->c.recs[1].gaps[SRV], 1);
	assert_int_equal(e->c.recs[1].gap_bytes[SRV], 100);
	assert_int_equal(e->c.recs[1].n[SRV], 1500);
	assert_int_equal(e->an.n[BW_AN_TCP_MEMCAP], 2);
	assert_true(st->bytes_buffered_max <= 3000);
	env_free(e);
}

static void two_flows(struct bw_tcp_config *c) { c->max_flows = 2; }

static void test_flow_cap_evicts_idlest(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, two_flows);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, 100, "a", 1), BW_OK); /* A */
	assert_int_equal(seg(e, CLI, 40001, BW_TCP_ACK, 100, "b", 1), BW_OK); /* B */
	/* B has an out-of-order segment queued: eviction flushes it first. */
	assert_int_equal(seg(e, CLI, 40001, BW_TCP_ACK, 110, "B", 1), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, 101, "a", 1), BW_OK); /* A is now the fresher */
	assert_int_equal(seg(e, CLI, 40002, BW_TCP_ACK, 100, "c", 1), BW_OK); /* C evicts B */
	struct rec *a = &e->c.recs[0], *b = &e->c.recs[1], *c = &e->c.recs[2];
	assert_int_equal(b->closes, 1);
	assert_int_equal(b->gaps[CLI], 1);
	assert_int_equal(b->n[CLI], 2);
	assert_int_equal(a->closes, 0);
	assert_int_equal(c->closes, 0);
	const struct bw_tcp_stats *st = bw_tcp_table_stats(e->t);
	assert_int_equal(st->flows_evicted, 1);
	assert_int_equal(st->flow_cap_hits, 1);
	assert_int_equal(st->flows_active, 2);
	assert_int_equal(st->flows_active_max, 2);
	assert_int_equal(e->an.n[BW_AN_TCP_FLOW_CAP], 1);
	/* A still works; B's 4-tuple comes back as a new flow. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, 102, "a", 1), BW_OK);
	assert_int_equal(a->n[CLI], 3);
	assert_int_equal(e->c.classified, 3);
	env_free(e);
}

static void short_idle(struct bw_tcp_config *c)
{
	c->idle_timeout = 10 * SEC;
	c->closed_linger = 2 * SEC;
}

static void test_idle_timeout(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, short_idle);
	handshake(e, 40000);
	assert_int_equal(cdata(e, 10, 10), BW_OK); /* queued behind a hole */
	struct rec *a = &e->c.recs[0];
	e->now += 5 * SEC;
	assert_int_equal(seg(e, CLI, 40001, BW_TCP_ACK, 1, "x", 1), BW_OK);
	assert_int_equal(a->closes, 0);
	/* Another flow's packet 11 s later: A is expired lazily, its queue flushed first. */
	e->now += 6 * SEC;
	assert_int_equal(seg(e, CLI, 40001, BW_TCP_ACK, 2, "y", 1), BW_OK);
	assert_int_equal(a->closes, 1);
	assert_int_equal(a->gaps[CLI], 1);
	assert_int_equal(a->n[CLI], 10);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_timed_out, 1);
	/* bw_tcp_table_expire closes the rest by explicit time. */
	bw_tcp_table_expire(e->t, e->now + 20 * SEC);
	assert_int_equal(e->c.recs[1].closes, 1);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_timed_out, 2);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_active, 0);
	env_free(e);
}

/* bw_tcp_table_tick: what a segment that skips the table (decoder bypass) still does. */
static void test_tick(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, short_idle);
	handshake(e, 40000);
	handshake(e, 40001);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_active, 2);
	/* A tick from the past neither moves the clock back nor expires anything. */
	bw_tcp_table_tick(e->t, e->now - 60 * SEC);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_timed_out, 0);
	/* Within the idle timeout: nothing; past it: both, as a segment would. */
	bw_tcp_table_tick(e->t, e->now + 5 * SEC);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_timed_out, 0);
	bw_tcp_table_tick(e->t, e->now + 11 * SEC);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_timed_out, 2);
	assert_int_equal(e->c.recs[0].closes, 1);
	assert_int_equal(e->c.recs[1].closes, 1);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_active, 0);
	bw_tcp_table_tick(NULL, e->now); /* NULL-safe */
	env_free(e);
}

/* bw_tcp_table_clock: the time of a frame the table never sees (another
 * worker's) moves its clock and says when a tick is due, closing nothing. */
static void test_clock(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, short_idle);
	handshake(e, 40000);
	assert_false(bw_tcp_table_clock(e->t, e->now - 60 * SEC)); /* the past: nothing moves */
	assert_false(bw_tcp_table_clock(e->t, e->now + 5 * SEC));
	assert_true(bw_tcp_table_clock(e->t, e->now + 11 * SEC));
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_timed_out, 0); /* said, not done */
	assert_int_equal(e->c.recs[0].closes, 0);
	/* the clock stays where it was moved: a tick from the past now closes it */
	bw_tcp_table_tick(e->t, e->now);
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_timed_out, 1);
	assert_int_equal(e->c.recs[0].closes, 1);
	assert_false(bw_tcp_table_clock(e->t, e->now + 60 * SEC)); /* nothing left to close */
	assert_false(bw_tcp_table_clock(NULL, e->now));
	env_free(e);
}

static void test_rst(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, short_idle);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_int_equal(cdata(e, 20, 10), BW_OK);
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_RST, ISN_S + 1, NULL, 0), BW_OK);
	assert_int_equal(r->closes, 1);
	assert_int_equal(r->gaps[CLI], 1);
	assert_int_equal(r->n[CLI], 20);
	/* The client's queued bytes were delivered with a packet of the client's direction. */
	assert_int_equal(r->last_pkt_src[CLI].a[3], 1);
	/* Strays on the closed flow are absorbed: no new flow. */
	assert_int_equal(cdata(e, 30, 10), BW_OK);
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_RST | BW_TCP_ACK, ISN_S + 1, NULL, 0), BW_OK);
	const struct bw_tcp_stats *st = bw_tcp_table_stats(e->t);
	assert_int_equal(st->flows_created, 1);
	assert_int_equal(st->flows_closed, 1);
	assert_int_equal(r->closes, 1);
	assert_int_equal(r->n[CLI], 20);
	/* After the linger, the 4-tuple is forgotten; a data packet starts a mid-stream flow. */
	e->now += 3 * SEC;
	assert_int_equal(cdata(e, 40, 10), BW_OK);
	assert_int_equal(st->flows_created, 2);
	assert_int_equal(e->c.recs[1].n[CLI], 10);
	/* A RST for a flow never seen is not tracked. */
	assert_int_equal(seg(e, CLI, 40009, BW_TCP_RST, 5, NULL, 0), BW_OK);
	assert_int_equal(st->flows_created, 2);
	env_free(e);
}

static void test_port_reuse(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	handshake(e, 40000);
	assert_int_equal(cdata(e, 0, 4), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_FIN | BW_TCP_ACK, ISN_C + 5, NULL, 0), BW_OK);
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_FIN | BW_TCP_ACK, ISN_S + 1, NULL, 0), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(r->closes, 1); /* both sides finished: closed at once */
	/* A retransmitted SYN with the old ISN is a stray. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_SYN, ISN_C, NULL, 0), BW_OK);
	assert_int_equal(e->c.classified, 1);
	/* A SYN with a new ISN on the closed 4-tuple is a new connection. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_SYN, 900000, NULL, 0), BW_OK);
	assert_int_equal(e->c.classified, 2);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_ACK, 900001, "new", 3), BW_OK);
	struct rec *r2 = &e->c.recs[1];
	assert_int_equal(r2->n[CLI], 3);
	assert_memory_equal(r2->data[CLI], "new", 3);
	assert_int_equal(r->n[CLI], 4);
	/* A SYN with yet another ISN on the open flow (its close was not captured). */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_SYN, 7, NULL, 0), BW_OK);
	assert_int_equal(r2->closes, 1);
	assert_int_equal(e->c.classified, 3);
	const struct bw_tcp_stats *st = bw_tcp_table_stats(e->t);
	assert_int_equal(st->flows_created, 3);
	assert_int_equal(st->flows_active, 1);
	env_free(e);
}

static void test_close_once(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, short_idle);
	handshake(e, 40000); /* FIN both ways */
	handshake(e, 40001); /* RST */
	handshake(e, 40002); /* left to flush */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_FIN | BW_TCP_ACK, ISN_C + 1, NULL, 0), BW_OK);
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_FIN | BW_TCP_ACK, ISN_S + 1, NULL, 0), BW_OK);
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_FIN | BW_TCP_ACK, ISN_C + 1, NULL, 0), BW_OK);
	assert_int_equal(seg(e, CLI, 40001, BW_TCP_RST, ISN_C + 1, NULL, 0), BW_OK);
	assert_int_equal(seg(e, SRV, 40001, BW_TCP_RST, ISN_S + 1, NULL, 0), BW_OK);
	assert_int_equal(e->c.recs[0].closes, 1);
	assert_int_equal(e->c.recs[1].closes, 1);
	assert_int_equal(e->c.recs[2].closes, 0);
	/* Ignored flows have no consumer and are never closed towards one. */
	e->c.ignore = true;
	handshake(e, 40003);
	assert_int_equal(e->c.n_recs, 3);
	struct rec *recs = e->c.recs;
	bw_tcp_table_flush(e->t);
	assert_int_equal(recs[2].closes, 1);
	bw_tcp_table_free(e->t);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(recs[i].closes, 1);
		assert_int_equal(recs[i].data_after_close, 0);
	}
	free(e);
}

static void test_done_no_buffer(void **state)
{
	(void)state;
	struct env *e = env_new(M_DONE, 0, NULL);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_true(bw_tcp_flow_is_done(r->flow));
	/* Out-of-order and in-order segments after done: no calls, nothing held. */
	assert_int_equal(cdata(e, 100, 1000), BW_OK);
	assert_int_equal(cdata(e, 10, 10), BW_OK);
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_ACK, ISN_S + 1, "x", 1), BW_OK);
	assert_int_equal(r->calls[CLI], 1);
	assert_int_equal(r->calls[SRV], 0);
	const struct bw_tcp_stats *st = bw_tcp_table_stats(e->t);
	assert_int_equal(st->bytes_buffered_max, 0);
	assert_int_equal(st->ooo_segments, 0);
	/* FIN tracking still works: on_close once at the end of the connection. */
	assert_int_equal(seg(e, CLI, 40000, BW_TCP_FIN | BW_TCP_ACK, ISN_C + 1020, NULL, 0), BW_OK);
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_FIN | BW_TCP_ACK, ISN_S + 2, NULL, 0), BW_OK);
	assert_int_equal(r->closes, 1);
	assert_int_equal(e->an.n[BW_AN_TCP_GAP], 0);
	env_free(e);
}

static void test_done_from_outside(void **state)
{
	(void)state;
	struct env *e = env_new(M_ZERO, 0, NULL);
	handshake(e, 40000);
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_int_equal(cdata(e, 20, 10), BW_OK);
	struct rec *r = &e->c.recs[0];
	assert_false(bw_tcp_flow_is_done(r->flow));
	bw_tcp_flow_done(r->flow);
	assert_true(bw_tcp_flow_is_done(r->flow));
	assert_int_equal(cdata(e, 10, 10), BW_OK);
	assert_int_equal(r->calls[CLI], 1);
	bw_tcp_table_flush(e->t);
	assert_int_equal(r->closes, 1);
	assert_int_equal(r->gaps[CLI], 0);
	env_free(e);
}

static void test_enotsup_one_direction(void **state)
{
	(void)state;
	struct env *e = env_new(M_NOTSUP, 0, NULL);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_int_equal(cdata(e, 20, 10), BW_OK);
	assert_int_equal(cdata(e, 10, 10), BW_OK);
	assert_int_equal(r->calls[CLI], 1);
	assert_int_equal(bw_tcp_table_stats(e->t)->bytes_buffered_max, 0);
	assert_false(bw_tcp_flow_is_done(r->flow));
	r->mode = M_ALL;
	assert_int_equal(seg(e, SRV, 40000, BW_TCP_ACK, ISN_S + 1, "srv", 3), BW_OK);
	assert_int_equal(r->n[SRV], 3);
	env_free(e);
}

static void test_not_reentrant(void **state)
{
	(void)state;
	struct env *e = env_new(M_REENTER, 0, NULL);
	handshake(e, 40000);
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_int_equal(e->c.recs[0].reenter_rc, BW_EINVAL);
	assert_int_equal(e->c.recs[0].n[CLI], 10);
	env_free(e);
}

static void test_ignored_flow(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	e->c.ignore = true;
	handshake(e, 40000);
	assert_int_equal(cdata(e, 10, 100), BW_OK);
	assert_int_equal(cdata(e, 0, 10), BW_OK);
	assert_int_equal(e->c.classified, 1); /* asked once, not per segment */
	assert_int_equal(bw_tcp_table_stats(e->t)->bytes_buffered_max, 0);
	env_free(e);
}

static void test_bad_args(void **state)
{
	(void)state;
	struct bw_tcp_config c;
	bw_tcp_config_default(&c);
	c.max_flows = 0;
	assert_null(bw_tcp_table_new(&c, classify, NULL, NULL));
	bw_tcp_table_free(NULL);
	bw_tcp_flow_done(NULL);
	struct bw_tcp_table *t = bw_tcp_table_new(NULL, NULL, NULL, NULL);
	assert_non_null(t);
	struct bw_packet p = mkp(CLI, 1, BW_TCP_ACK, 1, 0, "x", 1, 1);
	p.proto = IPPROTO_UDP;
	assert_int_equal(bw_tcp_table_segment(t, &p), BW_EINVAL);
	assert_int_equal(bw_tcp_table_segment(NULL, &p), BW_EINVAL);
	p.proto = IPPROTO_TCP;
	assert_int_equal(bw_tcp_table_segment(t, &p), BW_OK); /* no classifier: tracked, ignored */
	assert_int_equal(bw_tcp_table_stats(t)->flows_created, 1);
	bw_tcp_table_free(t);
}

static void test_many_flows_and_slabs(void **state)
{
	(void)state;
	struct env *e = env_new(M_ALL, 0, NULL);
	e->c.ignore = true;
	/* Across several slabs, then all expired: the free list is reused. */
	for (int round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < 1000; i++)
			assert_int_equal(seg(e, CLI, (uint16_t)(1000 + i), BW_TCP_ACK, 1, "x", 1), BW_OK);
		assert_int_equal(bw_tcp_table_stats(e->t)->flows_active, 1000);
		bw_tcp_table_expire(e->t, e->now + 200 * SEC);
		e->now += 200 * SEC;
		assert_int_equal(bw_tcp_table_stats(e->t)->flows_active, 0);
	}
	assert_int_equal(bw_tcp_table_stats(e->t)->flows_timed_out, 2000);
	env_free(e);
}

static void test_big_stream_buffer_growth(void **state)
{
	(void)state;
	/* A consumer asking for 4000 bytes while 500-byte segments arrive: the buffer grows. */
	struct env *e = env_new(M_NEED, 4000, NULL);
	handshake(e, 40000);
	struct rec *r = &e->c.recs[0];
	for (uint32_t off = 0; off < 4000; off += 500)
		assert_int_equal(cdata(e, off, 500), BW_OK);
	assert_int_equal(r->n[CLI], 4000);
	assert_memory_equal(r->data[CLI], pattern, 4000);
	assert_int_equal(r->calls[CLI], 2); /* once at 500 (EAGAIN), once at 4000 */
	assert_int_equal(bw_tcp_table_stats(e->t)->bytes_delivered, 4000);
	env_free(e);
}

int main(void)
{
	fill_pattern();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inorder),
		cmocka_unit_test(test_inorder_close_on_free),
		cmocka_unit_test(test_permutations),
		cmocka_unit_test(test_retransmit_same),
		cmocka_unit_test(test_retransmit_different_pending),
		cmocka_unit_test(test_retransmit_different_queued),
		cmocka_unit_test(test_partial_overlaps),
		cmocka_unit_test(test_eagain_need),
		cmocka_unit_test(test_partial_consume),
		cmocka_unit_test(test_no_syn),
		cmocka_unit_test(test_synack_first),
		cmocka_unit_test(test_syn_data_tfo),
		cmocka_unit_test(test_seq_wrap),
		cmocka_unit_test(test_gap_ooo_cap),
		cmocka_unit_test(test_gap_two_holes_one_segment),
		cmocka_unit_test(test_gap_drops_pending),
		cmocka_unit_test(test_gap_at_fin),
		cmocka_unit_test(test_gap_at_flush),
		cmocka_unit_test(test_stream_cap),
		cmocka_unit_test(test_stream_cap_need_too_big),
		cmocka_unit_test(test_mem_cap),
		cmocka_unit_test(test_flow_cap_evicts_idlest),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_tick),
		cmocka_unit_test(test_rst),
		cmocka_unit_test(test_port_reuse),
		cmocka_unit_test(test_close_once),
		cmocka_unit_test(test_done_no_buffer),
		cmocka_unit_test(test_done_from_outside),
		cmocka_unit_test(test_enotsup_one_direction),
		cmocka_unit_test(test_not_reentrant),
		cmocka_unit_test(test_ignored_flow),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_many_flows_and_slabs),
		cmocka_unit_test(test_big_stream_buffer_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
