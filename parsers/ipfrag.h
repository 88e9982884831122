/* SPDX-License-Identifier: MIT */
/*
 * ipfrag.h: IPv4 and IPv6 fragment reassembly with hard memory bounds.
 *
 * One struct bw_ipfrag per worker (the decoder owns it). Fragments are copied
 * into fixed-size pages taken from a pool sized by mem_cap when the table is
 * created, so a fragment flood can never make it allocate: when the pool or
 * the datagram table is full the oldest incomplete datagram is evicted.
 * Datagrams are identified by struct bw_ipfrag_key and time out in packet
 * time (the ts of the fragments), measured from their first fragment.
 *
 * Overlap policy:
 *   - A fragment whose bytes are all already held and identical (a duplicate
 *     from the network or from a second mirror) is ignored silently.
 *   - IPv6: any other overlap drops the whole datagram (RFC 5722) and counts
 *     frag.overlap.
 *   - IPv4: the first copy of every byte wins (Linux, Windows and Suricata's
 *     "first" policy agree on most layouts). An overlap with identical bytes
 *     counts frag.overlap, with different bytes frag.overlap_conflicting_bytes;
 *     the new bytes are only used where nothing was held yet.
 * Other rules: a fragment that is not the last must carry a multiple of 8
 * bytes and at least 8; nothing may lie beyond the end set by the last
 * fragment, and two last fragments must agree on the end (frag.bad_fragment;
 * IPv6 drops the datagram, IPv4 the fragment). A datagram payload may not
 * exceed 65535 bytes (frag.datagram_too_big).
 */
#ifndef BW_IPFRAG_H
#define BW_IPFRAG_H

#include "../sensor/bw.h"
#include "anomaly.h"

#define BW_IPFRAG_MAX_PAYLOAD 65535 /* largest reassembled payload; out buffers need this much */

struct bw_ipfrag_config {
	size_t mem_cap;          /* bytes of fragment pages (rounded down to whole pages) */
	uint32_t max_datagrams;  /* incomplete datagrams held at once */
	bw_time_t timeout;       /* packet time from the first fragment until a datagram is dropped */
};

/*
 * What identifies one datagram. Zero the whole struct before filling it (it
 * is hashed and compared as bytes). proto is the IPv4 protocol; for IPv6 it
 * is 0 (RFC 8200 identifies fragments by addresses and id only). vlan and
 * depth keep fragments seen in different VLANs or tunnel layers apart.
 */
struct bw_ipfrag_key {
	struct bw_ip src, dst;
	uint32_t id;       /* IPv4 identification or IPv6 fragment id */
	uint8_t version;   /* 4 or 6 */
	uint8_t proto;
	uint16_t vlan;
	uint8_t depth;
	uint8_t pad[3];
};

/* One fragment as the IP decoder found it. */
struct bw_ipfrag_frag {
	uint32_t offset;      /* byte offset of data in the datagram payload */
	bool more;            /* MF / M flag */
	uint8_t next_proto;   /* IPv6: next header of the fragmentable part; IPv4: the protocol */
	const uint8_t *data;  /* borrowed; copied before return */
	uint32_t len;
};

struct bw_ipfrag_stats {
	uint64_t fragments;   /* fragments offered */
	uint64_t reassembled; /* datagrams completed */
	uint64_t evicted;     /* incomplete datagrams dropped: timeout, caps, or bad fragments */
	uint64_t timeouts;
	uint64_t duplicates;  /* duplicate fragments ignored */
	uint32_t held;        /* incomplete datagrams now */
	size_t mem_used;      /* bytes of pages now in use */
};

struct bw_ipfrag;

/*
 * Create a table. mem_cap and max_datagrams are taken as given (0 means every
 * fragment is dropped and counted). anomalies may be NULL. NULL on ENOMEM.
 */
struct bw_ipfrag *bw_ipfrag_new(const struct bw_ipfrag_config *c, struct bw_anomalies *anomalies);
void bw_ipfrag_free(struct bw_ipfrag *f); /* NULL-safe */

/*
 * Add one fragment at packet time ts. Returns
 *   BW_EAGAIN  stored (or ignored as a duplicate); the datagram is not complete;
 *   BW_OK      the datagram is complete: its payload (out_cap must be at least
 *              BW_IPFRAG_MAX_PAYLOAD) is in out[0..*out_len), the protocol of the
 *              first fragment in *out_proto, and the table no longer holds it;
 *   BW_EMALF   the fragment (or, see the policy above, its datagram) was dropped;
 *   BW_ELIMIT  a cap left no room for the fragment (counted, dropped).
 * Every drop is counted in the anomalies with its reason.
 */
int bw_ipfrag_add(struct bw_ipfrag *f, const struct bw_ipfrag_key *key, const struct bw_ipfrag_frag *frag,
		  bw_time_t ts, uint8_t *out, size_t out_cap, size_t *out_len, uint8_t *out_proto);

/* Drop every datagram whose first fragment is older than now - timeout. */
void bw_ipfrag_expire(struct bw_ipfrag *f, bw_time_t now);

const struct bw_ipfrag_stats *bw_ipfrag_stats(const struct bw_ipfrag *f);

#endif /* BW_IPFRAG_H */
