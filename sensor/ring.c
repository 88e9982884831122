/* SPDX-License-Identifier: MIT */
/*
 * ring.c: the single-producer/single-consumer byte ring of ring.h. It is a
 * byte ring of variable records rather than an array of fixed slots because
 * the same queue carries 64-byte frame descriptors, copied frames of any
 * size up to the snap length, and JSON events from 200 bytes to megabytes:
 * fixed slots would either waste most of their space or cap the record size
 * far too low. Positions are monotonically growing 64-bit byte counts (they
 * would take decades at memory bandwidth to wrap), so full and empty never
 * need a spare slot to tell apart. Each side publishes its position only
 * once per batch, and a side that runs dry sleeps on a futex eventcount
 * instead of spinning, because this machine has fewer cores than the
 * pipeline has threads: a spinning consumer would steal the core its
 * producer needs.
 */
#include "ring.h"

#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SPIN_PAUSES 64
#define SPIN_YIELDS 4
#define WAIT_TIMEOUT_MS 50 /* a lost wake-up (there should be none) costs at most this */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline uint64_t align_up(uint64_t n) { return (n + BW_RING_ALIGN - 1) & ~(uint64_t)(BW_RING_ALIGN - 1); }

/* ---- eventcount ---- */

void bw_ring_waiter_init(struct bw_ring_waiter *w)
{
	atomic_init(&w->seq, 0);
	atomic_init(&w->waiters, 0);
	w->sleeps = 0;
}

uint32_t bw_ring_waiter_prepare(struct bw_ring_waiter *w)
{
	atomic_fetch_add(&w->waiters, 1); /* seq_cst: ordered before the caller's re-check */
	return atomic_load(&w->seq);
}

void bw_ring_waiter_cancel(struct bw_ring_waiter *w) { atomic_fetch_sub(&w->waiters, 1); }

void bw_ring_waiter_wait(struct bw_ring_waiter *w, uint32_t key, unsigned timeout_ms)
{
	struct timespec ts = { .tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L };
	if (atomic_load(&w->seq) == key) {
		__atomic_fetch_add(&w->sleeps, 1, __ATOMIC_RELAXED); /* several threads may share a waiter */
		/* EAGAIN (the counter moved), EINTR and ETIMEDOUT all mean: look again */
		(void)syscall(SYS_futex, (uint32_t *)&w->seq, FUTEX_WAIT_PRIVATE, key, timeout_ms ? &ts : NULL, NULL, 0);
	}
	atomic_fetch_sub(&w->waiters, 1);
}

void bw_ring_waiter_notify(struct bw_ring_waiter *w)
{
	/* Pairs with the RMW in prepare: either the waiter sees our condition
	 * on its re-check, or we see it announced here (store-load ordering). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&w->waiters, memory_order_relaxed) == 0)
		return;
	atomic_fetch_add(&w->seq, 1);
	(void)syscall(SYS_futex, (uint32_t *)&w->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* ---- setup ---- */

struct bw_ring *bw_ring_new(size_t capacity, unsigned batch)
{
	if (capacity > ((size_t)1 << 40))
		return NULL;
	uint64_t cap = BW_RING_MIN_CAPACITY;
	while (cap < capacity)
		cap <<= 1;
	struct bw_ring *r = aligned_alloc(BW_RING_CACHELINE, sizeof(*r));
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	/* The buffer is not cleared: pages become resident as records reach
	 * them, and a record is always written before it is published. */
	r->buf = aligned_alloc(BW_RING_CACHELINE, (size_t)cap);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	r->cap = cap;
	r->mask = cap - 1;
	r->batch = batch ? batch : BW_RING_DEFAULT_BATCH;
	r->p_res = UINT64_MAX;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	bw_ring_waiter_init(&r->own_not_empty);
	bw_ring_waiter_init(&r->own_not_full);
	r->not_empty = &r->own_not_empty;
	r->not_full = &r->own_not_full;
	return r;
}

void bw_ring_free(struct bw_ring *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

size_t bw_ring_max_payload(const struct bw_ring *r) { return (size_t)(r->cap / 4 - BW_RING_HDR); }

void bw_ring_set_consumer_waiter(struct bw_ring *r, struct bw_ring_waiter *w)
{
	r->not_empty = w ? w : &r->own_not_empty;
}

/* ---- producer ---- */

static inline void put_hdr(struct bw_ring *r, uint64_t at, uint32_t len, uint32_t type)
{
	uint32_t h[2] = { len, type };
	memcpy(r->buf + (at & r->mask), h, sizeof(h));
}

void *bw_ring_reserve(struct bw_ring *r, size_t len)
{
	if (bw_unlikely(len > bw_ring_max_payload(r)))
		return NULL;
	uint64_t need = BW_RING_HDR + align_up(len);
	uint64_t pos = r->p_head & r->mask;
	uint64_t contig = r->cap - pos;
	uint64_t total = need <= contig ? need : contig + need;
	if (r->cap - (r->p_head - r->p_tail_cache) < total) {
		r->p_tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (r->cap - (r->p_head - r->p_tail_cache) < total)
			return NULL;
	}
	if (need > contig) {
		/* The record would straddle the end: a pad covers the rest. */
		put_hdr(r, r->p_head, (uint32_t)(contig - BW_RING_HDR), BW_RING_TYPE_PAD);
		r->p_head += contig;
		r->bytes += contig;
		pos = 0;
	}
	r->p_res = r->p_head;
	r->p_res_len = (uint32_t)len;
	return r->buf + pos + BW_RING_HDR;
}

/* force: wake a sleeping consumer even below wake_bytes (the producer is
 * about to wait for it), and even if nothing new was published. */
static void publish(struct bw_ring *r, bool force)
{
	if (atomic_load_explicit(&r->head, memory_order_relaxed) != r->p_head) {
		atomic_store_explicit(&r->head, r->p_head, memory_order_release);
		r->p_pending = 0;
	} else if (!force) {
		return;
	}
	if (!force && r->wake_bytes && r->p_head - r->p_tail_cache >= r->wake_bytes) {
		/* p_tail_cache is refreshed only when the ring looks full, so it
		 * soon overstates the backlog: look at the consumer's tail */
		r->p_tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
	}
	if (force || r->wake_bytes == 0 || r->p_head - r->p_tail_cache >= r->wake_bytes)
		bw_ring_waiter_notify(r->not_empty);
}

void bw_ring_publish(struct bw_ring *r) { publish(r, false); }

void bw_ring_set_consumer_wake(struct bw_ring *r, size_t bytes)
{
	r->wake_bytes = BW_MIN((uint64_t)bytes, r->cap / 2);
}

void bw_ring_commit(struct bw_ring *r, uint32_t type)
{
	if (bw_unlikely(r->p_res == UINT64_MAX))
		return;
	put_hdr(r, r->p_res, r->p_res_len, type);
	uint64_t sz = BW_RING_HDR + align_up(r->p_res_len);
	r->p_head = r->p_res + sz;
	r->p_res = UINT64_MAX;
	r->records++;
	r->bytes += sz;
	if (++r->p_pending >= r->batch)
		bw_ring_publish(r);
}

void *bw_ring_reserve_wait(struct bw_ring *r, size_t len, const _Atomic bool *stop)
{
	if (len > bw_ring_max_payload(r))
		return NULL;
	for (unsigned spin = 0;; spin++) {
		void *p = bw_ring_reserve(r, len);
		if (p)
			return p;
		if (stop && atomic_load_explicit(stop, memory_order_relaxed))
			return NULL;
		publish(r, true); /* the consumer may be asleep waiting for these */
		if (spin < SPIN_PAUSES) {
			cpu_relax();
			continue;
		}
		if (spin < SPIN_PAUSES + SPIN_YIELDS) {
			sched_yield();
			continue;
		}
		uint32_t key = bw_ring_waiter_prepare(r->not_full);
		p = bw_ring_reserve(r, len);
		if (p) {
			bw_ring_waiter_cancel(r->not_full);
			return p;
		}
		r->full_waits++;
		bw_ring_waiter_wait(r->not_full, key, WAIT_TIMEOUT_MS);
	}
}

void bw_ring_wait_drained(struct bw_ring *r)
{
	publish(r, true);
	for (unsigned spin = 0;; spin++) {
		if (atomic_load_explicit(&r->tail, memory_order_acquire) == r->p_head)
			return;
		if (spin < SPIN_PAUSES) {
			cpu_relax();
			continue;
		}
		if (spin < SPIN_PAUSES + SPIN_YIELDS) {
			sched_yield();
			continue;
		}
		uint32_t key = bw_ring_waiter_prepare(r->not_full);
		if (atomic_load_explicit(&r->tail, memory_order_acquire) == r->p_head) {
			bw_ring_waiter_cancel(r->not_full);
			return;
		}
		r->full_waits++;
		bw_ring_waiter_wait(r->not_full, key, WAIT_TIMEOUT_MS);
	}
}

/* ---- consumer ---- */

const void *bw_ring_peek(struct bw_ring *r, uint32_t *type, uint32_t *len)
{
	for (;;) {
		if (r->c_tail == r->c_head_cache) {
			r->c_head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
			if (r->c_tail == r->c_head_cache)
				return NULL;
		}
		uint32_t h[2];
		const uint8_t *at = r->buf + (r->c_tail & r->mask);
		memcpy(h, at, sizeof(h));
		if (h[1] == BW_RING_TYPE_PAD) {
			r->c_tail += BW_RING_HDR + h[0];
			continue;
		}
		r->c_cur = BW_RING_HDR + align_up(h[0]);
		if (type)
			*type = h[1];
		if (len)
			*len = h[0];
		return at + BW_RING_HDR;
	}
}

void bw_ring_release(struct bw_ring *r)
{
	if (atomic_load_explicit(&r->tail, memory_order_relaxed) == r->c_tail)
		return;
	atomic_store_explicit(&r->tail, r->c_tail, memory_order_release);
	r->c_pending = 0;
	bw_ring_waiter_notify(r->not_full);
}

void bw_ring_pop(struct bw_ring *r)
{
	if (bw_unlikely(!r->c_cur))
		return;
	r->c_tail += r->c_cur;
	r->c_cur = 0;
	if (++r->c_pending >= r->batch)
		bw_ring_release(r);
}

bool bw_ring_empty(struct bw_ring *r)
{
	if (r->c_cur)
		return false;
	return bw_ring_peek(r, NULL, NULL) == NULL;
}

bool bw_ring_wait_nonempty(struct bw_ring *r, const _Atomic bool *stop)
{
	for (unsigned spin = 0;; spin++) {
		if (!bw_ring_empty(r))
			return true;
		if (stop && atomic_load_explicit(stop, memory_order_relaxed))
			return false;
		bw_ring_release(r); /* the producer may be waiting for this space */
		if (spin < SPIN_PAUSES) {
			cpu_relax();
			continue;
		}
		if (spin < SPIN_PAUSES + SPIN_YIELDS) {
			sched_yield();
			continue;
		}
		uint32_t key = bw_ring_waiter_prepare(r->not_empty);
		if (!bw_ring_empty(r)) {
			bw_ring_waiter_cancel(r->not_empty);
			return true;
		}
		r->empty_waits++;
		bw_ring_waiter_wait(r->not_empty, key, WAIT_TIMEOUT_MS);
	}
}

void bw_ring_stats(const struct bw_ring *r, struct bw_ring_stats *st)
{
	st->records = r->records;
	st->bytes = r->bytes;
	st->drops = r->drops;
	st->full_waits = r->full_waits;
	st->empty_waits = r->empty_waits;
}
