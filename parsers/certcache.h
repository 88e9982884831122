/* SPDX-License-Identifier: MIT */
/*
 * certcache.h: parse each distinct certificate once.
 *
 * A popular server presents the same certificate in every handshake; the
 * cache keys certificates by the SHA-256 of their DER and keeps, per entry,
 * the decoded struct bw_x509_info (its strings in the same single allocation
 * as the entry) and optionally the parsed OpenSSL object for bw_x509_verify
 * and bw_x509_check_name. A second bw_certcache_get() of the same DER costs
 * one SHA-256 and a hash lookup: no d2i, no allocation. Blobs that do not
 * parse are cached too (negative entries), so a flood of the same garbage is
 * not re-parsed either; every sighting still counts x509.bad_der.
 *
 * Bounds: at most max_entries entries (and, if set, about max_bytes of
 * memory); the least recently used entry is evicted and counted.
 *
 * Lifetimes: bw_certcache_get() and bw_certcache_lookup() return a
 * reference. The entry, its info and its strings, and its x509 stay valid
 * until the caller drops the reference with bw_certcache_put(), even if the
 * entry is evicted meanwhile (it is then freed on the last put). So a TLS
 * parser can hold every certificate of a chain while it verifies it. Entries
 * are immutable once inserted.
 *
 * Threads: one cache per worker, used by that worker only (no locks). To share
 * it between workers (the correlation issue, with liburcu): the table becomes
 * a cds_lfht keyed by the SHA-256, lookups run under rcu_read_lock, the
 * reference count becomes atomic (uatomic_add_return; a lookup that finds
 * refs == 0 treats the entry as gone), removal is cds_lfht_del plus call_rcu
 * to free after a grace period once refs drop to zero, and the strict LRU
 * list (which would need a lock on every hit) becomes CLOCK: a hit sets a
 * "referenced" bit, the evictor sweeps. Because entries never change after
 * insert, readers need nothing more.
 */
#ifndef BW_CERTCACHE_H
#define BW_CERTCACHE_H

#include "../sensor/bw.h"
#include "anomaly.h"
#include "x509.h"

#define BW_CERTCACHE_DEFAULT_ENTRIES 4096
#define BW_CERTCACHE_DEFAULT_VERDICTS 1024

struct bw_certcache_config {
	size_t max_entries; /* 0: BW_CERTCACHE_DEFAULT_ENTRIES */
	size_t max_bytes;   /* 0: no byte cap. Counts the entry, its text and 4x the DER for the X509 */
	bool drop_x509;     /* do not keep the parsed X509 (saves memory; entry->x509 is NULL) */
	size_t max_verdicts; /* chain verdicts kept by bw_certcache_verify (0: BW_CERTCACHE_DEFAULT_VERDICTS;
			      * rounded up to a power of two, at least 4; about 256 bytes each) */
	bool no_verdicts;    /* bw_certcache_verify always verifies (for tests and comparisons) */
};

struct bw_certcache_entry {
	uint8_t sha256[32];         /* of the DER as presented */
	int err;                    /* BW_OK; negative entries are never handed out */
	struct x509_st *x509;       /* parsed certificate, owned by the entry; NULL if drop_x509 */
	uint64_t seen;              /* bw_certcache_get() calls that found or made this entry */
	bw_time_t first_seen, last_seen; /* the ts passed to bw_certcache_get() */
	struct bw_x509_info info;   /* strings live in the entry's own allocation */
};

struct bw_certcache_stats {
	uint64_t entries;     /* now in the table (negative ones included) */
	uint64_t bytes;       /* accounted memory of those */
	uint64_t hits;        /* get() that found an entry (negative hits included) */
	uint64_t misses;      /* get() that did not */
	uint64_t parses;      /* d2i_X509 calls: one per miss */
	uint64_t parse_errors;/* misses whose DER did not parse */
	uint64_t negative_hits; /* hits on a cached parse failure */
	uint64_t evictions;   /* entries pushed out by max_entries or max_bytes */
	uint64_t too_big;     /* certificates larger than max_bytes alone: decoded, not cached */
	uint64_t orphans;     /* evicted entries still referenced (freed on their last put) */
	/* bw_certcache_verify */
	uint64_t verdicts;        /* chain verdicts held now */
	uint64_t verdict_hits;    /* verdicts served from the cache */
	uint64_t verdict_misses;  /* chains verified (not held, or held for another time: see stale) */
	uint64_t verdict_stale;   /* misses where the chain was held but the time left its window */
	uint64_t verdict_evictions; /* verdicts pushed out by max_verdicts */
	uint64_t name_hits;       /* leaf-against-SNI answers served from the cache */
	uint64_t name_misses;     /* leaf-against-SNI answers worked out (bw_x509_check_name) */
};

struct bw_certcache;

/* c may be NULL for defaults. an (may be NULL) counts x509.bad_der. NULL on ENOMEM. */
struct bw_certcache *bw_certcache_new(const struct bw_certcache_config *c, struct bw_anomalies *an);
/* Frees every entry, referenced or not: drop your references first. NULL-safe. */
void bw_certcache_free(struct bw_certcache *cc);

/*
 * Find the certificate der[0..n) or decode and insert it. ts is the packet
 * time (first_seen / last_seen). On BW_OK, *out holds a reference (release
 * with bw_certcache_put) and *hit (may be NULL) says whether it was cached.
 * A DER that does not parse returns its error (BW_EMALF, BW_ETRUNC,
 * BW_ELIMIT), counts x509.bad_der, and *out is NULL. BW_ENOMEM if memory ran
 * out; BW_EINVAL for bad arguments.
 */
int bw_certcache_get(struct bw_certcache *cc, const uint8_t *der, size_t n, bw_time_t ts,
		     struct bw_certcache_entry **out, bool *hit);

/* Find by SHA-256 without parsing; a reference, or NULL (absent or negative). */
struct bw_certcache_entry *bw_certcache_lookup(struct bw_certcache *cc, const uint8_t sha256[32]);

/* Drop a reference from get() or lookup(). NULL-safe. */
void bw_certcache_put(struct bw_certcache *cc, struct bw_certcache_entry *e);

void bw_certcache_stats(const struct bw_certcache *cc, struct bw_certcache_stats *s);

/*
 * Chain verdicts. Verifying a chain costs about 1 M instructions (OpenSSL
 * builds the path and checks each signature) and a server presents the same
 * chain in every handshake, so verdicts are cached, keyed by a SHA-256 over
 * the trust store's address, the options that change the chain's verdict
 * (client, strict_order) and the presented certificates' SHA-256 in order.
 * The name is not in the key: a server shows one chain for many SNIs, so
 * the chain is judged once and the leaf is checked against o->name on every
 * call. That answer is cached too, keyed by the leaf's SHA-256, the name and
 * no_cn_fallback (OpenSSL decodes the whole SAN list for every check: tens
 * of microseconds for a certificate with a hundred names), in a table of the
 * same size and shape; it does not depend on the time. Each verdict keeps the window of judging
 * times over which it holds (bw_x509_verify_window): a lookup whose time is
 * outside it (a certificate of the chain expired or became valid meanwhile,
 * or the capture jumped) verifies again. So a cached verdict is exactly what
 * bw_x509_verify would say, with time and clock from o. Bounded by
 * max_verdicts (4-way sets, the oldest of a set is replaced); the table is
 * allocated on the first call.
 *
 * chain[0..n) are entries from this cache (leaf first), each with its x509
 * (not drop_x509). *hit (may be NULL) says whether the verdict was cached.
 * Returns what bw_x509_verify returns; BW_EINVAL also for a NULL entry or
 * an entry without x509.
 *
 * The trust store is part of the key by address: after freeing a trust
 * store, call bw_certcache_forget_verdicts before verifying against another.
 */
int bw_certcache_verify(struct bw_certcache *cc, const struct bw_x509_trust *t,
			struct bw_certcache_entry *const *chain, size_t n, const struct bw_x509_verify_opts *o,
			struct bw_x509_verdict *v, bool *hit);

/* Drop every cached verdict (not counted as evictions). NULL-safe. */
void bw_certcache_forget_verdicts(struct bw_certcache *cc);

#endif /* BW_CERTCACHE_H */
