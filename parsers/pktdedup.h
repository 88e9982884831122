/* SPDX-License-Identifier: MIT */
/*
 * pktdedup.h: drop the second copy of a packet captured twice within a short
 * window of packet time (the native copy and the tunnelled copy of a mirror,
 * or two mirror sessions seeing the same link).
 *
 * A packet is reduced to a 64-bit keyed hash of its innermost IP packet,
 * leaving out what a router or the mirror path rewrites (IPv4 TTL and header
 * checksum, IPv6 hop limit), so the copies hash alike whatever the TTL. The
 * filter is a fixed table of (hash, time) slots, two per bucket, allocated
 * once: no allocation per packet, and an old entry is simply overwritten.
 * A hash seen again within the window is a duplicate; the first sighting's
 * time is kept, so a stream of copies cannot stretch the window.
 *
 * The keyed hash (SipHash-1-3) is exported too: ipfrag and the flow key use
 * it, with their own keys, so that hostile traffic cannot aim at one bucket.
 */
#ifndef BW_PKTDEDUP_H
#define BW_PKTDEDUP_H

#include "../sensor/bw.h"

/* Streaming SipHash-1-3 with a 128-bit key. */
struct bw_hash {
	uint64_t v0, v1, v2, v3;
	uint64_t tail; /* pending bytes, little endian */
	uint64_t len;  /* bytes added so far */
};

void bw_hash_init(struct bw_hash *h, uint64_t k0, uint64_t k1);
void bw_hash_add(struct bw_hash *h, const void *p, size_t n);
uint64_t bw_hash_end(const struct bw_hash *h);
/* One-shot form of the three above. */
uint64_t bw_hash(uint64_t k0, uint64_t k1, const void *p, size_t n);
/* Fill k[0..1] with random key material (getrandom, falling back to the clock). */
void bw_hash_random_key(uint64_t k[2]);

struct bw_pktdedup;

/*
 * Create a filter of at least slots slots (rounded up to a power of two,
 * capped at 2^24) remembering packets for window ns of packet time. NULL on
 * ENOMEM or when slots or window is 0 (no filter: callers treat NULL as off).
 */
struct bw_pktdedup *bw_pktdedup_new(uint32_t slots, bw_time_t window);
void bw_pktdedup_free(struct bw_pktdedup *d); /* NULL-safe */
/* Forget every packet seen (a new, unrelated capture starts). NULL-safe. */
void bw_pktdedup_clear(struct bw_pktdedup *d);

/* Start a packet hash with the filter's secret key. */
void bw_pktdedup_hash_begin(const struct bw_pktdedup *d, struct bw_hash *h);

/*
 * Add an IP packet (IPv4 or IPv6 by its version nibble) starting at its
 * header: n bytes, the header included. The mutable fields are hashed as
 * zero. A buffer too short for its fixed header is hashed as it is.
 */
void bw_pktdedup_hash_ip(struct bw_hash *h, const uint8_t *ip, size_t n);

/*
 * Record hash at time ts. Returns true if the same hash was recorded within
 * the window (either side of ts: copies from two capture points may arrive
 * slightly out of order), false otherwise (then it is remembered).
 */
bool bw_pktdedup_seen(struct bw_pktdedup *d, uint64_t hash, bw_time_t ts);

#endif /* BW_PKTDEDUP_H */
