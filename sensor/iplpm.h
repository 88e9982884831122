/* SPDX-License-Identifier: MIT */
/*
 * iplpm.h: longest-prefix match over IPv4 and IPv6 prefixes, prefix -> uint32.
 *
 * Built once (off the hot path) from a list of prefixes, then read-only: any
 * number of threads may look up concurrently without locks. A lookup never
 * allocates.
 *
 * Shape: the prefixes are flattened into sorted, non-overlapping address
 * ranges, each owned by the most specific prefix covering it (or by none).
 * An index per family narrows the search: 65536 slots for the top 16
 * address bits, and under a slot holding many ranges (Azure packs
 * thousands into 2603:1030::/32) a 256-slot node per further address
 * byte; the last step is a branch-free binary search over at most a few
 * dozen ranges. Memory: 8 bytes per IPv4 range, 20 per IPv6 range (at most
 * 2 ranges per prefix), 12 per prefix, 2 x 512 KiB of root index and 2 KiB
 * per node; for the shipped cloud-ranges.tsv (67,592 distinct prefixes)
 * 4.6 MB, built in ~15 ms, ~35 M lookups/s on one core (tools/bench_lpm.c).
 * bw_lpm_memory() says exactly.
 *
 * Nesting: when prefixes nest (10.0.0.0/8 and 10.1.0.0/16) the longer one
 * wins inside itself; bw_lpm_lookup_all() also returns the covering ones.
 * The same prefix added twice is merged when the values are equal and is an
 * error (BW_EINVAL from bw_lpm_build) when they differ: the caller decides
 * which of two rows for one prefix wins, this module cannot.
 */
#ifndef BW_IPLPM_H
#define BW_IPLPM_H

#include "bw.h"

#define BW_LPM_NONE UINT32_MAX            /* lookup result when no prefix covers the address */
#define BW_LPM_MAX_PREFIXES (16u << 20)   /* hard cap on prefixes per table */

struct bw_lpm_builder;
struct bw_lpm;

/* A builder accepting at most max_prefixes (0 = BW_LPM_MAX_PREFIXES). */
int bw_lpm_builder_new(struct bw_lpm_builder **out, size_t max_prefixes);
void bw_lpm_builder_free(struct bw_lpm_builder *b);

/*
 * Add family (4 or 6) prefix addr/plen (addr in network byte order, 4 or 16
 * bytes) -> value. value must not be BW_LPM_NONE. Host bits must be zero.
 * BW_EINVAL on a bad family, length, value or host bits; BW_ELIMIT past the
 * cap; BW_ENOMEM.
 */
int bw_lpm_add(struct bw_lpm_builder *b, uint8_t family, const uint8_t *addr, unsigned plen,
	       uint32_t value);

/*
 * Build the table. The builder stays owned by the caller (free it after).
 * BW_EINVAL if one prefix was added with two different values (*dup_index,
 * if not NULL, is then the 0-based add() order of the second one), BW_ENOMEM.
 */
int bw_lpm_build(struct bw_lpm_builder *b, struct bw_lpm **out, size_t *dup_index);
void bw_lpm_free(struct bw_lpm *t);

/* Most specific value covering the address, or BW_LPM_NONE. addr4 is in host byte order. */
uint32_t bw_lpm_lookup4(const struct bw_lpm *t, uint32_t addr4);
uint32_t bw_lpm_lookup6(const struct bw_lpm *t, const uint8_t addr6[16]);
/* Same, from a struct bw_ip (family 0 or unknown: BW_LPM_NONE); *plen (if not NULL) gets the matching prefix length. */
uint32_t bw_lpm_lookup(const struct bw_lpm *t, const struct bw_ip *ip, unsigned *plen);

/*
 * Every value whose prefix covers ip, most specific first, at most cap
 * (nesting depth is at most 129). Returns how many were written.
 */
size_t bw_lpm_lookup_all(const struct bw_lpm *t, const struct bw_ip *ip, uint32_t *vals, size_t cap);

/* Distinct prefixes per family (4 or 6; 0 = both), ranges after flattening, bytes used. */
size_t bw_lpm_prefixes(const struct bw_lpm *t, uint8_t family);
size_t bw_lpm_ranges(const struct bw_lpm *t, uint8_t family);
size_t bw_lpm_memory(const struct bw_lpm *t);

#endif /* BW_IPLPM_H */
