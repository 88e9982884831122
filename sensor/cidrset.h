/* SPDX-License-Identifier: MIT */
/*
 * cidrset.h: small sets of IPv4 and IPv6 prefixes (the policy's owned
 * networks, cloud addresses, transfer clients) asking "is this address
 * inside any of them". Sized for thousands of prefixes; the cloud-range
 * table with its provider labels is a separate longest-prefix-match module.
 *
 * Prefixes are kept as written (for listing) and as sorted, merged address
 * ranges (for lookup: a binary search, O(log n)). Building (_add) is
 * single-threaded; bw_cidrset_seal() finishes the ranges, after which
 * lookups through a const pointer never write and are safe from any number
 * of threads. A lookup before sealing is still correct, only slower.
 *
 * An IPv4-mapped IPv6 address (::ffff:192.0.2.1) that no IPv6 prefix holds
 * is also looked up as the IPv4 address it carries, so an AAAA answer of
 * ::ffff:192.0.2.1 is inside 192.0.2.0/24.
 */
#ifndef BW_CIDRSET_H
#define BW_CIDRSET_H

#include "bw.h"

struct bw_prefix {
	struct bw_ip addr; /* family 4 or 6 */
	uint8_t len;	   /* 0..32 or 0..128 */
};

#define BW_PREFIX_STRLEN 50 /* "ffff:...:ffff/128" and its NUL, rounded up */

/*
 * Parse "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128)
 * from text[0..n). The length is decimal without sign or leading zeros.
 * Host bits are kept as written (see bw_prefix_host_bits). Returns BW_OK or
 * BW_EINVAL.
 */
int bw_prefix_parse(const char *text, size_t n, struct bw_prefix *out);

/* True if p has address bits set beyond its length (192.0.2.1/24). */
bool bw_prefix_host_bits(const struct bw_prefix *p);
/* Clear the address bits beyond p->len. */
void bw_prefix_mask(struct bw_prefix *p);
/* True if ip (same family) is inside p. */
bool bw_prefix_contains(const struct bw_prefix *p, const struct bw_ip *ip);
/* "192.0.2.0/24" into out (cap >= BW_PREFIX_STRLEN). Returns out. */
char *bw_prefix_str(const struct bw_prefix *p, char *out, size_t cap);

struct bw_cidrset;

struct bw_cidrset *bw_cidrset_new(void);    /* NULL on ENOMEM */
void bw_cidrset_free(struct bw_cidrset *s); /* NULL-safe */

/* Add a prefix; host bits are cleared. BW_OK, BW_EINVAL (bad family/length) or BW_ENOMEM. */
int bw_cidrset_add(struct bw_cidrset *s, const struct bw_prefix *p);
/* Add one address (a /32 or /128). */
int bw_cidrset_add_ip(struct bw_cidrset *s, const struct bw_ip *ip);
/*
 * Add text as bw_prefix_parse reads it. A prefix with host bits set is
 * refused (BW_EINVAL): "192.0.2.1/24" is more often a typo than a wish.
 */
int bw_cidrset_add_text(struct bw_cidrset *s, const char *text, size_t n);

/* Sort and merge the ranges for fast lookup. BW_OK or BW_ENOMEM (the set still answers correctly). */
int bw_cidrset_seal(struct bw_cidrset *s);

/* True if ip is inside any prefix of the set. NULL-safe (false). */
bool bw_cidrset_contains(const struct bw_cidrset *s, const struct bw_ip *ip);

/* Prefixes as added (host bits cleared; duplicates kept). */
size_t bw_cidrset_count(const struct bw_cidrset *s);
const struct bw_prefix *bw_cidrset_get(const struct bw_cidrset *s, size_t i); /* NULL if i >= count */

#endif /* BW_CIDRSET_H */
