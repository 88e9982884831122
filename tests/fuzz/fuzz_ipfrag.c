/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ipfrag.c: drive one fragment table with a script of IPv4 and IPv6
 * fragments and check what it reassembles against a model of what was sent.
 * The decoder (fuzz_decode) reaches the table only through whole frames,
 * where most mutations die in the IP header checks; here every input byte is
 * a fragment decision, so overlaps, duplicates, caps, evictions, timeouts
 * and time going backwards are all one mutation away.
 *
 * Input: one config byte (bits 0-2 page memory 1..128 KiB, bits 3-5 datagram
 * slots 1..8, bit 6 a 1 s timeout rather than 30 s), then 6-byte fragment
 * records: flags (bit 0 IPv6, bits 1-2 which of four datagrams, bit 3 MF,
 * bit 4 literal payload follows in the input, bit 5 conflicting bytes, bit 6
 * another next-protocol, bit 7 expire before adding), a time step (0xff: 5 s
 * back), 16-bit offset (13 bits in 8-byte units; bit 15 adds 1..3 to make it
 * unaligned), 16-bit length (14 bits). Unless literal, the bytes are a
 * pattern of (datagram, offset).
 *
 * Invariants: the return code is one the header lists; a completed datagram
 * made only of pattern bytes with one protocol is exactly the pattern, of
 * the length the last fragment set, with that protocol; the table never
 * holds more datagrams or page memory than its caps.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/ipfrag.h"
#include "../../parsers/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAGS 2048
#define CHECK(x)                          \
	do {                              \
		if (!(x))                 \
			__builtin_trap(); \
	} while (0)

#define PAT_LEN (BW_IPFRAG_MAX_PAYLOAD + 1 + (1u << 14) + 8)

static uint8_t payload[1u << 14];
static uint8_t out[BW_IPFRAG_MAX_PAYLOAD];
/* The pattern of each slot, made once: filling it per fragment made the target 50 times slower. */
static uint8_t pat[8][PAT_LEN];

static uint8_t pattern_byte(unsigned slot, uint32_t off) { return (uint8_t)(((off * 2654435761u) >> 24) ^ slot); }

static void make_key(struct bw_ipfrag_key *k, int v6, unsigned idx)
{
	memset(k, 0, sizeof(*k));
	k->version = v6 ? 6 : 4;
	k->src.family = k->dst.family = (uint8_t)(v6 ? 6 : 4);
	k->src.a[0] = 10;
	k->src.a[15] = (uint8_t)(idx & 1); /* two source hosts ... */
	k->dst.a[0] = 10;
	k->dst.a[1] = 1;
	k->id = 0x1234 + (idx >> 1); /* ... times two ids */
	k->proto = v6 ? 0 : IPPROTO_UDP;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_wire w;
	bw_wire_init(&w, data, size);
	uint8_t cfgb = bw_wire_u8(&w);
	if (!bw_wire_ok(&w))
		return 0;
	if (!pat[1][0])
		for (unsigned sl = 0; sl < 8; sl++)
			for (uint32_t i = 0; i < PAT_LEN; i++)
				pat[sl][i] = pattern_byte(sl, i);
	struct bw_ipfrag_config cfg = {
		.mem_cap = (size_t)1024 << (cfgb & 7),
		.max_datagrams = 1u + ((cfgb >> 3) & 7),
		.timeout = ((cfgb & 0x40) ? 1 : 30) * BW_NSEC_PER_SEC,
	};
	struct bw_anomalies an;
	memset(&an, 0, sizeof(an));
	struct bw_ipfrag *t = bw_ipfrag_new(&cfg, &an);
	if (!t)
		return 0;

	/* tainted: the datagram in that slot may hold literal or conflicting bytes */
	bool tainted[8] = {false};
	bw_time_t now = 1000 * BW_NSEC_PER_SEC;
	for (int n = 0; n < MAX_FRAGS && bw_wire_left(&w) >= 6; n++) {
		uint8_t fl = bw_wire_u8(&w);
		uint8_t dt = bw_wire_u8(&w);
		uint16_t ov = bw_wire_u16(&w);
		uint32_t len = bw_wire_u16(&w) & 0x3fff;
		int v6 = fl & 1;
		unsigned slot = (unsigned)(fl & 7); /* version and datagram index */
		uint32_t off = (uint32_t)(ov & 0x1fff) * 8;
		if (ov & 0x8000)
			off += 1u + ((ov >> 13) & 3) % 3;
		if (dt == 0xff)
			now -= 5 * BW_NSEC_PER_SEC;
		else
			now += dt < 200 ? dt * BW_NSEC_PER_MSEC : (bw_time_t)(dt - 199) * BW_NSEC_PER_SEC;

		const uint8_t *bytes = pat[slot] + off;
		if (fl & 0x10) {
			len = (uint32_t)BW_MIN((size_t)len, bw_wire_left(&w));
			bw_wire_copy(&w, payload, len);
			bytes = payload;
			tainted[slot] = true;
		} else if ((fl & 0x20) && len) {
			memcpy(payload, pat[slot] + off, len);
			payload[len / 2] ^= 0x5a;
			bytes = payload;
			tainted[slot] = true;
		}
		if (fl & 0x40)
			tainted[slot] = true;
		if (fl & 0x80)
			bw_ipfrag_expire(t, now);

		struct bw_ipfrag_key key;
		make_key(&key, v6, (fl >> 1) & 3);
		struct bw_ipfrag_frag fr = {
			.offset = off,
			.more = (fl & 0x08) != 0,
			.next_proto = (fl & 0x40) ? IPPROTO_TCP : IPPROTO_UDP,
			.data = len ? bytes : NULL,
			.len = len,
		};
		size_t out_len = 0;
		uint8_t proto = 0;
		int rc = bw_ipfrag_add(t, &key, &fr, now, out, sizeof(out), &out_len, &proto);
		CHECK(rc == BW_OK || rc == BW_EAGAIN || rc == BW_EMALF || rc == BW_ELIMIT);
		if (rc == BW_OK) {
			CHECK(out_len <= BW_IPFRAG_MAX_PAYLOAD);
			CHECK(fr.more || out_len == (size_t)off + len);
			if (!tainted[slot]) {
				CHECK(proto == IPPROTO_UDP);
				CHECK(memcmp(out, pat[slot], out_len) == 0);
			}
			tainted[slot] = false;
		}
		const struct bw_ipfrag_stats *st = bw_ipfrag_stats(t);
		CHECK(st->held <= cfg.max_datagrams);
		CHECK(st->mem_used <= cfg.mem_cap);
		CHECK(st->reassembled + st->evicted <= st->fragments);
	}
	bw_ipfrag_expire(t, now + 3600 * BW_NSEC_PER_SEC);
	CHECK(bw_ipfrag_stats(t)->held == 0 && bw_ipfrag_stats(t)->mem_used == 0);
	bw_ipfrag_free(t);
	return 0;
}
