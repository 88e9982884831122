/* SPDX-License-Identifier: MIT */
/*
 * pktdedup.c: the duplicate-frame filter and the keyed hash it is built on.
 *
 * A sensor fed by mirrors sees many packets twice: a SPAN port and an ERSPAN
 * session on the same link, or the native and the tunnelled copy. Two copies
 * must not become two DNS events, so after decoding we hash the innermost IP
 * packet and look the hash up in a small table of recent hashes. The table is
 * a flat array of two-slot buckets: lookup and insert touch one cache line,
 * memory is fixed at creation, and losing an old entry to a collision only
 * means a rare duplicate gets through, never that a packet is wrongly dropped
 * (the full 64-bit hash must match). SipHash keeps an attacker, who does not
 * know the key, from forging a packet that hashes like someone else's.
 */
#include "pktdedup.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- SipHash-1-3 ---------------------------------------------------- */

static inline uint64_t rotl64(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

/* One SipRound over four state words (lvalues): the streaming and the one-shot forms share it. */
#define SIP_ROUND(a, b, c, d)                                                                                  \
	do {                                                                                                   \
		a += b;                                                                                        \
		b = rotl64(b, 13);                                                                             \
		b ^= a;                                                                                        \
		a = rotl64(a, 32);                                                                             \
		c += d;                                                                                        \
		d = rotl64(d, 16);                                                                             \
		d ^= c;                                                                                        \
		a += d;                                                                                        \
		d = rotl64(d, 21);                                                                             \
		d ^= a;                                                                                        \
		c += b;                                                                                        \
		b = rotl64(b, 17);                                                                             \
		b ^= c;                                                                                        \
		c = rotl64(c, 32);                                                                             \
	} while (0)

static inline void sip_round(struct bw_hash *h)
{
	SIP_ROUND(h->v0, h->v1, h->v2, h->v3);
}

/* Rounds per word and at the end: 1-3 is the fast variant (as Python and
 * Rust's std hashers use); the reference 2-4 is one define away for tests. */
#ifndef BW_SIP_C
#define BW_SIP_C 1
#define BW_SIP_D 3
#endif

static inline void sip_compress(struct bw_hash *h, uint64_t m)
{
	h->v3 ^= m;
	for (int i = 0; i < BW_SIP_C; i++)
		sip_round(h);
	h->v0 ^= m;
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

void bw_hash_init(struct bw_hash *h, uint64_t k0, uint64_t k1)
{
	h->v0 = k0 ^ 0x736f6d6570736575ULL;
	h->v1 = k1 ^ 0x646f72616e646f6dULL;
	h->v2 = k0 ^ 0x6c7967656e657261ULL;
	h->v3 = k1 ^ 0x7465646279746573ULL;
	h->tail = 0;
	h->len = 0;
}

/* n < 8 bytes at p as a little-endian number: one or two loads, not a
 * loop per byte (the tail of every packet and flow key goes through here). */
static inline uint64_t load_le_partial(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	if (n >= 4) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + n - 4, 4); /* overlaps lo when n < 8: shifted into place */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		lo = __builtin_bswap32(lo);
		hi = __builtin_bswap32(hi);
#endif
		v = (uint64_t)lo | (uint64_t)hi << (8 * (n - 4));
	} else {
		for (size_t i = 0; i < n; i++)
			v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

void bw_hash_add(struct bw_hash *h, const void *data, size_t n)
{
	const uint8_t *p = data;
	unsigned have = (unsigned)(h->len & 7);
	h->len += n;
	if (have) {
		size_t take = BW_MIN((size_t)(8 - have), n);
		h->tail |= load_le_partial(p, take) << (8 * have);
		p += take;
		n -= take;
		if (have + take < 8)
			return;
		sip_compress(h, h->tail);
		h->tail = 0;
	}
	for (; n >= 8; n -= 8, p += 8)
		sip_compress(h, load_le64(p));
	h->tail = load_le_partial(p, n);
}

uint64_t bw_hash_end(const struct bw_hash *hin)
{
	struct bw_hash h = *hin;
	uint64_t b = (h.len << 56) | h.tail;
	sip_compress(&h, b);
	h.v2 ^= 0xff;
	for (int i = 0; i < BW_SIP_D; i++)
		sip_round(&h);
	return h.v0 ^ h.v1 ^ h.v2 ^ h.v3;
}

/*
 * The one-shot form keeps the state in locals: through the streaming
 * functions the four words went to memory between every call, which made a
 * 22-byte name cost 194 instructions, a third of a binding-table lookup
 * (bench/NOTES.md, "Seventh round"). Same rounds, same result: the tests
 * compare it with the streaming form at every length and alignment.
 */
uint64_t bw_hash(uint64_t k0, uint64_t k1, const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t b = (uint64_t)n << 56;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t m = load_le64(p);
		v3 ^= m;
		for (int i = 0; i < BW_SIP_C; i++)
			SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	b |= load_le_partial(p, n);
	v3 ^= b;
	for (int i = 0; i < BW_SIP_C; i++)
		SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < BW_SIP_D; i++)
		SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

void bw_hash_random_key(uint64_t k[2])
{
	if (getrandom(k, 2 * sizeof(*k), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(*k)))
		return;
	/* No entropy yet (early boot): the clock and an address are weak but
	 * still differ between runs, which is all a DoS attacker is denied. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)k;
	clock_gettime(CLOCK_REALTIME, &ts);
	k[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)ts.tv_nsec;
}

/* ---- the filter ------------------------------------------------------ */

struct dedup_slot {
	uint64_t hash; /* 0 = empty */
	bw_time_t ts;
};

struct bw_pktdedup {
	uint64_t k0, k1;
	bw_time_t window;
	uint32_t mask; /* bucket index mask; a bucket is two slots */
	struct dedup_slot *slot;
};

#define DEDUP_MAX_SLOTS (1u << 24) /* 256 MiB of slots */

struct bw_pktdedup *bw_pktdedup_new(uint32_t slots, bw_time_t window)
{
	if (slots == 0 || window == 0)
		return NULL;
	if (slots > DEDUP_MAX_SLOTS)
		slots = DEDUP_MAX_SLOTS;
	uint32_t n = 2;
	while (n < slots)
		n <<= 1;
	struct bw_pktdedup *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->slot = calloc(n, sizeof(*d->slot));
	if (!d->slot) {
		free(d);
		return NULL;
	}
	uint64_t k[2];
	bw_hash_random_key(k);
	d->k0 = k[0];
	d->k1 = k[1];
	d->window = window;
	d->mask = n / 2 - 1;
	return d;
}

void bw_pktdedup_free(struct bw_pktdedup *d)
{
	if (!d)
		return;
	free(d->slot);
	free(d);
}

void bw_pktdedup_clear(struct bw_pktdedup *d)
{
	if (d)
		memset(d->slot, 0, 2 * ((size_t)d->mask + 1) * sizeof(*d->slot));
}

void bw_pktdedup_hash_begin(const struct bw_pktdedup *d, struct bw_hash *h)
{
	bw_hash_init(h, d ? d->k0 : 0, d ? d->k1 : 0);
}

void bw_pktdedup_hash_ip(struct bw_hash *h, const uint8_t *ip, size_t n)
{
	uint8_t hdr[40] = {0};
	size_t fixed = 0;
	if (n >= 20 && (ip[0] >> 4) == 4) {
		fixed = 20;
		memcpy(hdr, ip, fixed);
		hdr[8] = 0;                /* TTL */
		hdr[10] = hdr[11] = 0;     /* header checksum */
	} else if (n >= 40 && (ip[0] >> 4) == 6) {
		fixed = 40;
		memcpy(hdr, ip, fixed);
		hdr[7] = 0;                /* hop limit */
	}
	bw_hash_add(h, hdr, fixed);
	if (n > fixed)
		bw_hash_add(h, ip + fixed, n - fixed);
}

static inline bool within(bw_time_t a, bw_time_t b, bw_time_t w)
{
	return (a >= b ? a - b : b - a) <= w;
}

bool bw_pktdedup_seen(struct bw_pktdedup *d, uint64_t hash, bw_time_t ts)
{
	if (!d)
		return false;
	if (hash == 0)
		hash = 1; /* 0 marks an empty slot */
	struct dedup_slot *b = &d->slot[2 * (size_t)(hash & d->mask)];
	for (int i = 0; i < 2; i++)
		if (b[i].hash == hash && within(ts, b[i].ts, d->window))
			return true;
	/* Reuse a slot holding this hash (it is stale), else the older one. */
	struct dedup_slot *v;
	if (b[0].hash == hash || b[0].hash == 0)
		v = &b[0];
	else if (b[1].hash == hash || b[1].hash == 0)
		v = &b[1];
	else
		v = b[0].ts <= b[1].ts ? &b[0] : &b[1];
	v->hash = hash;
	v->ts = ts;
	return false;
}
