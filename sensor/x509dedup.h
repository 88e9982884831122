/* SPDX-License-Identifier: MIT */
/*
 * x509dedup.h: the output side's filter of repeated x509 events. Each
 * worker has its own certificate cache, so with several workers the same
 * certificate can be announced once per worker; the output thread (offline
 * pipeline and live capture alike) passes each x509 event through this set
 * and drops the repeats. Single-threaded: only the output thread uses it.
 */
#ifndef BW_X509DEDUP_H
#define BW_X509DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bw_x509_dedup {
	uint64_t *slot;        /* buckets * BW_X509_DEDUP_WAYS fingerprints; 0 = empty (owned) */
	uint32_t *next_victim; /* per bucket, round-robin eviction (owned) */
	uint64_t buckets;      /* a power of two */
	uint64_t repeats;      /* events found to be repeats */
};

#define BW_X509_DEDUP_WAYS 4

/* A set that remembers at least `entries` certificates. BW_OK or BW_ENOMEM. */
int bw_x509_dedup_init(struct bw_x509_dedup *d, uint64_t entries);
void bw_x509_dedup_deinit(struct bw_x509_dedup *d);

/*
 * True if this x509 event's certificate was already seen (the caller drops
 * the event; `repeats` counts it); otherwise remembers it and returns false.
 * An event without a readable fingerprint is never a repeat.
 */
bool bw_x509_dedup_repeat(struct bw_x509_dedup *d, const char *json, size_t len);

/* The 64-bit key of an x509 event (first 16 hex digits of its SHA-256); 0 if none. */
uint64_t bw_x509_dedup_key(const char *json, size_t len);

#endif /* BW_X509DEDUP_H */
