/* SPDX-License-Identifier: MIT */
/*
 * ring.h: a bounded single-producer/single-consumer byte ring of
 * variable-size records, the queue between the pipeline's threads (reader
 * -> worker frames, worker -> output events).
 *
 * One thread produces, one consumes; no locks. Positions are 64-bit byte
 * counters that only grow (never wrap in practice), published with C11
 * release stores and read with acquire loads; each side keeps its own
 * position and a cached copy of the other's on separate cache lines, so the
 * lines bounce only when a side runs out of its cached view. A record is an
 * 8-byte header (length, type) and its payload, padded to 8 bytes, stored
 * contiguously: a record that would straddle the end of the buffer is
 * preceded by a pad record and starts again at offset 0, so a consumer
 * always gets one pointer to the whole payload.
 *
 * Batching: bw_ring_commit() makes a record visible to the consumer only
 * every `batch` records (or on bw_ring_publish()), and bw_ring_pop() gives
 * space back to the producer only every `batch` records (or on
 * bw_ring_release()): one shared store and one wake-up check per batch.
 *
 * Waiting: a side that finds the ring full (producer) or empty (consumer)
 * spins briefly, then sleeps on a struct bw_ring_waiter (an eventcount over
 * a futex) that the other side signals after publishing or releasing. The
 * consumer's waiter may be shared by several rings (the output thread waits
 * on all the workers' event rings at once): bw_ring_set_consumer_waiter().
 *
 * Ownership: the ring owns its buffer. Pointers returned by reserve/peek
 * point into it: a reserved payload is the producer's until commit; a
 * peeked payload is the consumer's until pop (then it may be overwritten
 * as soon as the space is released).
 */
#ifndef BW_RING_H
#define BW_RING_H

#include <stdatomic.h>

#include "bw.h"

#define BW_RING_CACHELINE 64
#define BW_RING_ALIGN 8u             /* record alignment in the buffer */
#define BW_RING_HDR 8u               /* bytes of record header */
#define BW_RING_MIN_CAPACITY 4096u
#define BW_RING_DEFAULT_BATCH 32u

/* Record types 0 and 0xffffffff are the ring's own; callers use 1..0xfffffffe. */
#define BW_RING_TYPE_PAD 0xffffffffu

/*
 * An eventcount: a side about to sleep announces itself (prepare), checks
 * its condition once more, and sleeps only if the counter did not move;
 * the other side bumps the counter and wakes sleepers only if someone
 * announced (one fence and one load when nobody sleeps).
 */
struct bw_ring_waiter {
	_Alignas(BW_RING_CACHELINE) _Atomic uint32_t seq;
	_Atomic uint32_t waiters;
	uint64_t sleeps;  /* times a waiter slept (statistics; written by waiters only) */
};

void bw_ring_waiter_init(struct bw_ring_waiter *w);
/* Announce a wait; returns the key to pass to bw_ring_waiter_wait(). */
uint32_t bw_ring_waiter_prepare(struct bw_ring_waiter *w);
/* The condition came true after prepare: withdraw without sleeping. */
void bw_ring_waiter_cancel(struct bw_ring_waiter *w);
/* Sleep until notified after prepare (or timeout_ms passed; 0: no timeout). Withdraws. */
void bw_ring_waiter_wait(struct bw_ring_waiter *w, uint32_t key, unsigned timeout_ms);
/* Wake every waiter that announced itself (call after making the condition true). */
void bw_ring_waiter_notify(struct bw_ring_waiter *w);

struct bw_ring_stats {
	uint64_t records;      /* committed by the producer */
	uint64_t bytes;        /* committed, headers and padding included */
	uint64_t drops;        /* records the producer gave up on (bw_ring_drop) */
	uint64_t full_waits;   /* producer found the ring full and waited */
	uint64_t empty_waits;  /* consumer found the ring empty and waited */
};

struct bw_ring {
	/* shared, written by the producer */
	_Alignas(BW_RING_CACHELINE) _Atomic uint64_t head;
	/* producer private */
	_Alignas(BW_RING_CACHELINE) uint64_t p_head;  /* committed, maybe unpublished */
	uint64_t p_res;                               /* reserved record start, or UINT64_MAX */
	uint32_t p_res_len;
	uint32_t p_pending;                           /* committed records not yet published */
	uint64_t p_tail_cache;
	uint64_t records, bytes, drops, full_waits;
	/* shared, written by the consumer */
	_Alignas(BW_RING_CACHELINE) _Atomic uint64_t tail;
	/* consumer private */
	_Alignas(BW_RING_CACHELINE) uint64_t c_tail;  /* consumed, maybe unreleased */
	uint64_t c_cur;                               /* size of the peeked record, 0 if none */
	uint32_t c_pending;
	uint64_t c_head_cache;
	uint64_t empty_waits;
	/* read-only after init */
	_Alignas(BW_RING_CACHELINE) uint8_t *buf;
	uint64_t cap, mask;
	uint32_t batch;
	uint64_t wake_bytes; /* see bw_ring_set_consumer_wake; 0: wake on every publish */
	struct bw_ring_waiter *not_empty; /* the consumer sleeps here */
	struct bw_ring_waiter *not_full;  /* the producer sleeps here */
	struct bw_ring_waiter own_not_empty, own_not_full;
};

/*
 * A ring of capacity bytes (rounded up to a power of two, at least
 * BW_RING_MIN_CAPACITY) releasing and publishing every batch records
 * (0: BW_RING_DEFAULT_BATCH). NULL on ENOMEM or a capacity over 2^40.
 */
struct bw_ring *bw_ring_new(size_t capacity, unsigned batch);
void bw_ring_free(struct bw_ring *r); /* NULL-safe */

/* Largest payload one record may have: a quarter of the capacity. */
size_t bw_ring_max_payload(const struct bw_ring *r);

/* Let several rings' consumers share one waiter (set before use; w outlives r). */
void bw_ring_set_consumer_waiter(struct bw_ring *r, struct bw_ring_waiter *w);

/*
 * Wake a sleeping consumer only once about this many bytes are waiting
 * (capped at half the capacity), not at every publish: for a consumer whose
 * latency does not matter (the offline output thread), so that it is not
 * woken, and does not preempt a producer, thousands of times a run. A
 * producer about to wait for room or for the drain still wakes it at once.
 * Set before use.
 */
void bw_ring_set_consumer_wake(struct bw_ring *r, size_t bytes);

/* ---- producer side ---- */

/*
 * Room for a record of len payload bytes: returns where to write them, or
 * NULL if the ring has no room now or len is over bw_ring_max_payload().
 * A second reserve without commit replaces the first.
 */
void *bw_ring_reserve(struct bw_ring *r, size_t len);
/*
 * As bw_ring_reserve(), but waits for room (publishing what is pending so
 * the consumer can make progress). NULL only if len is too large, or if
 * stop is not NULL and becomes true while waiting.
 */
void *bw_ring_reserve_wait(struct bw_ring *r, size_t len, const _Atomic bool *stop);
/* Finish the reserved record with its type (1..0xfffffffe); visible after the batch fills. */
void bw_ring_commit(struct bw_ring *r, uint32_t type);
/* Make every committed record visible and wake the consumer if it sleeps. */
void bw_ring_publish(struct bw_ring *r);
/* Count a record the producer gave up on (a non-blocking producer found the ring full). */
static inline void bw_ring_drop(struct bw_ring *r) { r->drops++; }
/* Wait until the consumer has popped and released everything published. */
void bw_ring_wait_drained(struct bw_ring *r);

/* ---- consumer side ---- */

/*
 * The oldest record, or NULL if none is visible. *type and *len receive
 * its type and payload length. The same record is returned until pop.
 */
const void *bw_ring_peek(struct bw_ring *r, uint32_t *type, uint32_t *len);
/* Done with the peeked record; its space goes back after the batch fills. */
void bw_ring_pop(struct bw_ring *r);
/* Give every popped record's space back now and wake the producer if it waits. */
void bw_ring_release(struct bw_ring *r);
/*
 * Wait until a record is visible (returns true) or stop becomes true
 * (false; stop may be NULL). Releases popped space before sleeping.
 */
bool bw_ring_wait_nonempty(struct bw_ring *r, const _Atomic bool *stop);
/* True if nothing is visible to the consumer now (consumer side only). */
bool bw_ring_empty(struct bw_ring *r);

/* Counters; read when neither side runs, or accept a torn snapshot. */
void bw_ring_stats(const struct bw_ring *r, struct bw_ring_stats *st);

#endif /* BW_RING_H */
