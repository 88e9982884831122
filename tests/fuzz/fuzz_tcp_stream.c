/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tcp_stream.c: drive one small TCP flow table with a script of
 * segments and check what reaches the consumer against a model of what was
 * sent.
 *
 * Input: a 10-byte header (config byte, consumer seed, ISN of each
 * direction), then segments of 8 bytes each: flags (TCP flags in bits 0-4,
 * bit 5 literal payload, bit 6 second flow, bit 7 server to client), time
 * step, 32-bit sequence offset from the direction's ISN (top bit: a far-away
 * sequence number), 16-bit length (11 bits used); a literal payload follows in the input,
 * otherwise the bytes are a pattern of the sequence number. The consumer
 * parses 2-byte length-prefixed messages (DNS over TCP) and sometimes
 * answers BW_EAGAIN, 0, BW_ENOTSUP or calls bw_tcp_flow_done.
 *
 * Invariants: every delivered byte was sent at that sequence number and is
 * the first copy sent; each call starts where the last consumption (plus a
 * reported hole) ended, so nothing is delivered twice; no callback after
 * on_close, ENOTSUP or done; on_close once per consumer (ASan sees a double
 * free or a leak otherwise).
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/tcp_stream.h"
#include "../../parsers/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WIN (1u << 15)      /* sequence offsets modelled per direction */
#define PEND_MAX 8192      /* >= the largest offer: stream_cap (8192) or one segment */
#define NFLOWS 2
#define MAX_SEGMENTS 4096
#define CHECK(x)                         \
	do {                             \
		if (!(x))                \
			__builtin_trap(); \
	} while (0)

struct model {
	uint8_t byte[WIN];
	uint8_t seen[WIN / 8];
};

struct fz;

struct fapp {
	struct fz *fz;
	int idx;
	uint8_t seed;
	bool done;
	uint32_t calls, msgs;
	bool started[2], stopped[2];
	uint64_t expect_off[2];
	uint32_t pending[2];
	uint8_t pend[2][PEND_MAX];
	struct model m[2];
};

struct fz {
	struct fapp *cur[NFLOWS];
	uint32_t isn[2];
	uint8_t seed;
};

static uint8_t pattern_byte(uint32_t seq, int dir) { return (uint8_t)(((seq * 2654435761u) >> 24) ^ (unsigned)dir); }

static void record(struct model *m, uint32_t isn, uint32_t seq, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint32_t rel = seq + i - isn;
		if (rel < WIN && !(m->seen[rel / 8] & (1u << (rel % 8)))) {
			m->seen[rel / 8] |= (uint8_t)(1u << (rel % 8));
			m->byte[rel] = p[i];
		}
	}
}

static int idx_of(const struct bw_packet *p) { return (p->sport == 40001 || p->dport == 40001) ? 1 : 0; }
static int dir_of(const struct bw_packet *p) { return p->sport == 53 ? 1 : 0; } /* client 10.0.0.1 is key.lo */

static void record_pkt(struct fapp *a, const struct bw_packet *p)
{
	if (!a || !p->payload_len)
		return;
	int d = dir_of(p);
	uint32_t seq = p->seq + ((p->tcp_flags & BW_TCP_SYN) ? 1 : 0);
	record(&a->m[d], a->fz->isn[d], seq, p->payload, p->payload_len);
}

static void after_call(struct fapp *a, int dir, uint64_t off, const uint8_t *data, size_t len, size_t used)
{
	a->started[dir] = true;
	a->expect_off[dir] = off + used;
	a->pending[dir] = (uint32_t)(len - used);
	memcpy(a->pend[dir], data + used, BW_MIN(len - used, (size_t)PEND_MAX));
}

static int on_data(void *app, struct bw_tcp_flow *f, int dir, const uint8_t *data, size_t len, size_t *need,
		   const struct bw_packet *pkt)
{
	struct fapp *a = app;
	CHECK(pkt != NULL);
	CHECK(!a->done && !a->stopped[dir] && !bw_tcp_flow_is_done(f));
	CHECK(len > 0);
	uint64_t off = bw_tcp_flow_data_offset(f, dir);
	uint32_t seq = bw_tcp_flow_data_seq(f, dir);
	if (a->started[dir]) {
		CHECK(off == a->expect_off[dir]);
		CHECK(len >= a->pending[dir]);
		CHECK(memcmp(data, a->pend[dir], BW_MIN((size_t)a->pending[dir], (size_t)PEND_MAX)) == 0);
	}
	/* Offsets past 2^30 may alias earlier sequence numbers: the model cannot tell. */
	for (size_t i = 0; i < len && off + i < (1u << 30); i++) {
		uint32_t rel = seq + (uint32_t)i - a->fz->isn[dir];
		if (rel < WIN) {
			CHECK(a->m[dir].seen[rel / 8] & (1u << (rel % 8)));
			CHECK(a->m[dir].byte[rel] == data[i]);
		}
	}

	a->calls++;
	uint8_t sd = (uint8_t)(a->seed ^ (a->calls * 37u));
	if ((a->seed & 0x10) && (sd & 0x3f) == 0x3f) {
		a->stopped[dir] = true;
		return BW_ENOTSUP;
	}
	struct bw_wire w;
	bw_wire_init(&w, data, len);
	uint16_t ml = bw_wire_u16(&w);
	if (!bw_wire_ok(&w)) {
		*need = 2;
		after_call(a, dir, off, data, len, 0);
		return BW_EAGAIN;
	}
	if (ml == 0 && (a->seed & 1)) {
		a->stopped[dir] = true;
		return BW_ENOTSUP;
	}
	size_t total = 2 + (size_t)ml;
	if (len < total) {
		after_call(a, dir, off, data, len, 0);
		if ((a->seed & 2) && (sd & 3) == 0)
			return 0;
		*need = total;
		return BW_EAGAIN;
	}
	size_t used = total;
	if ((a->seed & 4) && (sd & 7) == 0)
		used = 1; /* a consumer that takes less than a message */
	a->msgs++;
	after_call(a, dir, off, data, len, used);
	if ((a->seed & 8) && a->msgs == 3) {
		bw_tcp_flow_done(f);
		a->done = true;
	}
	return (int)used;
}

static void on_gap(void *app, struct bw_tcp_flow *f, int dir, uint64_t missing)
{
	struct fapp *a = app;
	CHECK(!a->done && !a->stopped[dir] && !bw_tcp_flow_is_done(f));
	CHECK(missing > 0);
	/* missing counts from the end of what was consumed, pending bytes included. */
	if (a->started[dir]) {
		a->expect_off[dir] += missing;
		a->pending[dir] = 0;
	}
}

static void on_close(void *app, struct bw_tcp_flow *f)
{
	struct fapp *a = app;
	(void)f;
	if (a->fz->cur[a->idx] == a)
		a->fz->cur[a->idx] = NULL;
	free(a);
}

static const struct bw_tcp_consumer consumer = {
	.on_data = on_data,
	.on_gap = on_gap,
	.on_close = on_close,
};

static bool classify(void *ctx, struct bw_tcp_flow *f, const struct bw_packet *first,
		     const struct bw_tcp_consumer **c, void **app)
{
	struct fz *z = ctx;
	int idx = idx_of(first);
	(void)f;
	if ((z->seed & 0x40) && idx == 1)
		return false;
	struct fapp *a = calloc(1, sizeof(*a));
	if (!a)
		return false;
	a->fz = z;
	a->idx = idx;
	a->seed = (uint8_t)(z->seed + idx);
	/* The packet that created the flow was not recorded: its flow did not exist yet. */
	record_pkt(a, first);
	z->cur[idx] = a;
	*c = &consumer;
	*app = a;
	return true;
}

static uint8_t payload_buf[2048];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_wire w;
	bw_wire_init(&w, data, size);
	uint8_t cfgb = bw_wire_u8(&w);
	struct fz z;
	memset(&z, 0, sizeof(z));
	z.seed = bw_wire_u8(&w);
	z.isn[0] = bw_wire_u32(&w);
	z.isn[1] = bw_wire_u32(&w);
	if (!bw_wire_ok(&w))
		return 0;

	struct bw_tcp_config cfg;
	bw_tcp_config_default(&cfg);
	cfg.stream_cap = 64u << (cfgb & 7);
	cfg.mem_cap = (size_t)1024 << ((cfgb >> 3) & 7);
	cfg.max_flows = 1 + ((cfgb >> 6) & 1);
	cfg.idle_timeout = ((cfgb & 0x80) ? 10 : 60) * BW_NSEC_PER_SEC;
	cfg.closed_linger = 2 * BW_NSEC_PER_SEC;
	struct bw_anomalies an;
	memset(&an, 0, sizeof(an));
	struct bw_tcp_table *t = bw_tcp_table_new(&cfg, classify, &z, &an);
	if (!t)
		return 0;

	bw_time_t now = 1000 * BW_NSEC_PER_SEC;
	for (int n = 0; n < MAX_SEGMENTS && bw_wire_left(&w) >= 8; n++) {
		uint8_t fl = bw_wire_u8(&w);
		uint8_t dt = bw_wire_u8(&w);
		uint32_t raw = bw_wire_u32(&w);
		uint32_t len = bw_wire_u16(&w) & 0x07FF;
		int dir = fl >> 7;
		int idx = (fl >> 6) & 1;
		uint32_t rel = (raw & 0x80000000u) ? raw << 1 : raw & (WIN - 1);
		uint32_t seq = z.isn[dir] + rel;
		uint32_t dseq = seq + ((fl & BW_TCP_SYN) ? 1 : 0);
		if (fl & 0x20) {
			len = (uint32_t)BW_MIN((size_t)len, bw_wire_left(&w));
			bw_wire_copy(&w, payload_buf, len);
		} else {
			for (uint32_t i = 0; i < len; i++)
				payload_buf[i] = pattern_byte(dseq + i, dir);
		}
		now += dt < 200 ? dt * BW_NSEC_PER_MSEC : (bw_time_t)(dt - 199) * 10 * BW_NSEC_PER_SEC;

		struct bw_packet p;
		memset(&p, 0, sizeof(p));
		struct bw_ip cli = {.family = 4, .a = {10, 0, 0, 1}};
		struct bw_ip srv = {.family = 4, .a = {10, 0, 0, 2}};
		uint16_t cport = (uint16_t)(40000 + idx);
		p.ts = now;
		p.ip_version = 4;
		p.proto = IPPROTO_TCP;
		p.src = dir ? srv : cli;
		p.dst = dir ? cli : srv;
		p.sport = dir ? 53 : cport;
		p.dport = dir ? cport : 53;
		p.seq = seq;
		p.ack = z.isn[!dir] + 1;
		p.tcp_flags = fl & 0x1f;
		p.payload = payload_buf;
		p.payload_len = len;
		record_pkt(z.cur[idx], &p);
		int rc = bw_tcp_table_segment(t, &p);
		CHECK(rc == BW_OK || rc == BW_ENOMEM);
		const struct bw_tcp_stats *st = bw_tcp_table_stats(t);
		CHECK(st->flows_active <= cfg.max_flows);
		CHECK(st->bytes_buffered_max <= cfg.mem_cap);
	}
	if (z.seed & 0x80)
		bw_tcp_table_flush(t);
	bw_tcp_table_free(t);
	CHECK(z.cur[0] == NULL && z.cur[1] == NULL);
	return 0;
}
