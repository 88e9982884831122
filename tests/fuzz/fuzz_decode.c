/* SPDX-License-Identifier: MIT */
/*
 * fuzz_decode.c: feed a sequence of frames to one decoder, so fragments,
 * reassembly caps, timeouts and the duplicate filter interact.
 *
 * Input: repeated [selector][length, 2 bytes big endian][frame]. The low 4
 * bits of the selector pick the link type, the high 4 bits advance packet
 * time by that many 10 ms steps (the decoder's timeout is 200 ms and the
 * duplicate window 50 ms, so both are reachable). The caps are tiny so that
 * eviction paths run too. A short last frame is used as it is.
 *
 * Then the same frames go to two more decoders, one with no_fast_path: the
 * fast path for plain Ethernet/IP/TCP frames must give what the general
 * path gives (return, packet, counters, anomalies), or the run aborts. TCP
 * flows of every other frame are added to both bypass sets, so bypassed
 * segments are compared too. Their duplicate filters are off: each filter
 * has a random key, and with this few slots which copy it keeps depends on
 * it (tests/test_decode.c compares the two paths with the filter on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/decode.h"

static const int linktypes[16] = {
	BW_LINK_ETHERNET, BW_LINK_ETHERNET, BW_LINK_ETHERNET, BW_LINK_ETHERNET,
	BW_LINK_RAW,      BW_LINK_RAW,      BW_LINK_NULL,     BW_LINK_LOOP,
	BW_LINK_LINUX_SLL, BW_LINK_LINUX_SLL2, BW_LINK_IPV4,  BW_LINK_IPV6,
	BW_LINK_PPP,      BW_LINK_PPP_HDLC, BW_LINK_C_HDLC,   BW_LINK_DLT_RAW14,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The payload as an offset into the frame; a reassembled one (in the
 * decoder's own buffer) copied out. */
static bool norm_payload(struct bw_packet *p, const uint8_t *frame, size_t len, uint8_t *held, size_t cap)
{
	if (!p->payload)
		return false;
	if (p->payload >= frame && p->payload <= frame + len) {
		p->payload = (const uint8_t *)(uintptr_t)(p->payload - frame + 1);
		return false;
	}
	if (p->payload_len > cap)
		abort();
	memcpy(held, p->payload, p->payload_len);
	p->payload = NULL;
	return true;
}

/* The next [selector][length][frame] of the input at *pos: false at the end.
 * The frame is an exact-size copy, so ASan catches a read past it; the
 * caller frees it. *ts moves by the selector's high bits; the wire length
 * is sometimes larger (a snaplen cut), decided by a bit of the length. */
static bool next_frame(const uint8_t *data, size_t size, size_t *pos, uint8_t *sel, uint8_t **frame, size_t *len,
		       bw_time_t *ts, uint32_t *wire)
{
	if (*pos + 3 > size)
		return false;
	*sel = data[*pos];
	*ts += (bw_time_t)(*sel >> 4) * 10 * BW_NSEC_PER_MSEC;
	size_t n = (size_t)data[*pos + 1] << 8 | data[*pos + 2];
	*pos += 3;
	if (n > size - *pos)
		n = size - *pos;
	*frame = malloc(n ? n : 1);
	if (!*frame)
		return false;
	memcpy(*frame, data + *pos, n);
	*pos += n;
	*len = n;
	*wire = (uint32_t)n + ((n & 1) ? 100 : 0);
	return true;
}

/* Tiny caps, so the eviction paths run too. */
static void small_config(struct bw_decode_config *c)
{
	bw_decode_config_default(c);
	c->frag_mem_cap = 16 * 1040;
	c->frag_max_datagrams = 8;
	c->frag_timeout = 200 * BW_NSEC_PER_MSEC;
	c->dedup_slots = 64;
	c->bypass_slots = 16;
}

static void one_decoder(const uint8_t *data, size_t size)
{
	struct bw_decode_config c;
	small_config(&c);
	struct bw_anomalies an;
	memset(&an, 0, sizeof(an));
	struct bw_decoder *d = bw_decoder_new(&c, &an);
	if (!d)
		return;
	bw_time_t ts = 1700000000ULL * BW_NSEC_PER_SEC;
	size_t pos = 0, len;
	uint8_t sel, *frame;
	uint32_t wire;
	while (next_frame(data, size, &pos, &sel, &frame, &len, &ts, &wire)) {
		struct bw_packet p;
		int r = bw_decode_frame(d, linktypes[sel & 15], frame, (uint32_t)len, wire, ts, &p);
		if (r == BW_OK || r == BW_ELIMIT) {
			volatile uint8_t sum = 0;
			for (uint32_t i = 0; i < p.payload_len; i++)
				sum += p.payload[i];
			struct bw_flow_key k;
			int dir;
			bw_flow_key_make(&p, &k, &dir);
			(void)bw_flow_key_hash(&k);
			(void)sum;
		}
		free(frame);
	}
	(void)bw_decoder_stats(d);
	bw_decoder_free(d);
}

static void two_paths(const uint8_t *data, size_t size)
{
	static uint8_t held[2][65536];
	struct bw_decode_config c;
	small_config(&c);
	c.dedup_window = 0;
	struct bw_anomalies an[2];
	memset(an, 0, sizeof(an));
	struct bw_decoder *d[2] = { NULL, NULL };
	for (int i = 0; i < 2; i++) {
		c.no_fast_path = i == 1;
		d[i] = bw_decoder_new(&c, &an[i]);
		if (!d[i])
			goto out;
	}
	bw_time_t ts = 1700000000ULL * BW_NSEC_PER_SEC;
	size_t pos = 0, len;
	uint8_t sel, *frame;
	uint32_t wire;
	while (next_frame(data, size, &pos, &sel, &frame, &len, &ts, &wire)) {
		struct bw_packet p[2];
		int r[2];
		bool in_buf[2];
		for (int i = 0; i < 2; i++) {
			memset(&p[i], 0, sizeof(p[i]));
			r[i] = bw_decode_frame(d[i], linktypes[sel & 15], frame, (uint32_t)len, wire, ts, &p[i]);
			if (r[i] == BW_OK || r[i] == BW_ELIMIT || r[i] == BW_DECODE_BYPASSED) {
				volatile uint8_t sum = 0;
				for (uint32_t k = 0; k < p[i].payload_len; k++)
					sum += p[i].payload[k];
				(void)sum;
			}
			in_buf[i] = norm_payload(&p[i], frame, len, held[i], sizeof(held[i]));
		}
		free(frame);
		if (r[0] != r[1] || in_buf[0] != in_buf[1] || (in_buf[0] && memcmp(held[0], held[1], p[0].payload_len)) ||
		    memcmp(&p[0], &p[1], sizeof(p[0])) ||
		    memcmp(bw_decoder_stats(d[0]), bw_decoder_stats(d[1]), sizeof(struct bw_decode_stats)) ||
		    memcmp(&an[0], &an[1], sizeof(an[0])))
			abort(); /* the fast path and the general one disagree */
		if (r[0] == BW_OK && p[0].proto == 6 && (pos & 1)) {
			struct bw_flow_key key;
			bw_flow_key_make(&p[0], &key, NULL);
			bw_decoder_bypass_add(d[0], &key, ts);
			bw_decoder_bypass_add(d[1], &key, ts);
		}
	}
out:
	for (int i = 0; i < 2; i++)
		bw_decoder_free(d[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_decoder(data, size);
	two_paths(data, size);
	return 0;
}
