/* SPDX-License-Identifier: MIT */
/*
 * test_ring.c: the SPSC byte ring (sensor/ring.h): record framing, wrap
 * with pad records, full and empty, batching of publish and release,
 * oversize records, and two threads moving a million records through a
 * small ring (order, content, no loss), with one consumer waiter shared by
 * two rings as the output thread uses it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/ring.h"

static void test_new_rounds_capacity(void **state)
{
	(void)state;
	struct bw_ring *r = bw_ring_new(5000, 0);
	assert_non_null(r);
	assert_int_equal(r->cap, 8192);
	assert_int_equal(r->batch, BW_RING_DEFAULT_BATCH);
	assert_int_equal(bw_ring_max_payload(r), 8192 / 4 - BW_RING_HDR);
	bw_ring_free(r);
	r = bw_ring_new(1, 3);
	assert_non_null(r);
	assert_int_equal(r->cap, BW_RING_MIN_CAPACITY);
	assert_int_equal(r->batch, 3);
	bw_ring_free(r);
	assert_null(bw_ring_new(((size_t)1 << 40) + 1, 0));
	bw_ring_free(NULL);
}

static void test_push_pop_in_order(void **state)
{
	(void)state;
	struct bw_ring *r = bw_ring_new(4096, 1);
	assert_true(bw_ring_empty(r));
	uint32_t type, len;
	assert_null(bw_ring_peek(r, &type, &len));
	for (uint32_t i = 0; i < 10; i++) {
		uint8_t *p = bw_ring_reserve(r, i);
		assert_non_null(p);
		memset(p, (int)i, i);
		bw_ring_commit(r, 100 + i);
	}
	for (uint32_t i = 0; i < 10; i++) {
		const uint8_t *p = bw_ring_peek(r, &type, &len);
		assert_non_null(p);
		assert_int_equal(type, 100 + i);
		assert_int_equal(len, i);
		for (uint32_t k = 0; k < i; k++)
			assert_int_equal(p[k], i);
		/* peek is idempotent until pop */
		assert_ptr_equal(bw_ring_peek(r, NULL, NULL), p);
		bw_ring_pop(r);
	}
	assert_true(bw_ring_empty(r));
	bw_ring_pop(r); /* nothing peeked: no-op */
	assert_true(bw_ring_empty(r));
	bw_ring_free(r);
}

static void test_full_and_oversize(void **state)
{
	(void)state;
	struct bw_ring *r = bw_ring_new(4096, 1);
	assert_null(bw_ring_reserve(r, bw_ring_max_payload(r) + 1));
	assert_null(bw_ring_reserve_wait(r, bw_ring_max_payload(r) + 1, NULL));
	assert_non_null(bw_ring_reserve(r, bw_ring_max_payload(r)));
	/* 64-byte records: 4096 / 64 = 64 of them fill the ring exactly */
	struct bw_ring *s = bw_ring_new(4096, 1);
	unsigned n = 0;
	while (bw_ring_reserve(s, 56)) {
		bw_ring_commit(s, 1);
		n++;
	}
	assert_int_equal(n, 64);
	/* a consumer that pops one frees exactly one slot */
	assert_non_null(bw_ring_peek(s, NULL, NULL));
	bw_ring_pop(s);
	assert_non_null(bw_ring_reserve(s, 56));
	bw_ring_commit(s, 1);
	assert_null(bw_ring_reserve(s, 0));
	/* a non-blocking producer counts what it gives up */
	bw_ring_drop(s);
	struct bw_ring_stats st;
	bw_ring_stats(s, &st);
	assert_int_equal(st.drops, 1);
	assert_int_equal(st.records, 65);
	bw_ring_free(r);
	bw_ring_free(s);
}

/* Records of awkward sizes wrap around many times; every byte comes back. */
static void test_wrap_with_pads(void **state)
{
	(void)state;
	struct bw_ring *r = bw_ring_new(4096, 1);
	uint32_t seq_in = 0, seq_out = 0;
	for (unsigned round = 0; round < 2000; round++) {
		uint32_t len = 4 + (round * 37) % 900;
		uint8_t *p = bw_ring_reserve(r, len);
		while (!p) {
			/* drain one */
			uint32_t type, l;
			const uint8_t *q = bw_ring_peek(r, &type, &l);
			assert_non_null(q);
			uint32_t v;
			memcpy(&v, q, 4);
			assert_int_equal(v, seq_out);
			assert_int_equal(type, 7);
			for (uint32_t k = 4; k < l; k++)
				assert_int_equal(q[k], (uint8_t)(v + k));
			seq_out++;
			bw_ring_pop(r);
			p = bw_ring_reserve(r, len);
		}
		memcpy(p, &seq_in, 4);
		for (uint32_t k = 4; k < len; k++)
			p[k] = (uint8_t)(seq_in + k);
		seq_in++;
		bw_ring_commit(r, 7);
	}
	uint32_t type, l;
	const uint8_t *q;
	while ((q = bw_ring_peek(r, &type, &l)) != NULL) {
		uint32_t v;
		memcpy(&v, q, 4);
		assert_int_equal(v, seq_out++);
		bw_ring_pop(r);
	}
	assert_int_equal(seq_out, seq_in);
	struct bw_ring_stats st;
	bw_ring_stats(r, &st);
	assert_true(st.bytes > st.records * BW_RING_HDR); /* pads were written */
	bw_ring_free(r);
}

static void test_batching(void **state)
{
	(void)state;
	struct bw_ring *r = bw_ring_new(4096, 4);
	for (int i = 0; i < 3; i++) {
		assert_non_null(bw_ring_reserve(r, 8));
		bw_ring_commit(r, 1);
	}
	/* three of a batch of four: not yet visible */
	assert_true(bw_ring_empty(r));
	assert_non_null(bw_ring_reserve(r, 8));
	bw_ring_commit(r, 1);
	assert_false(bw_ring_empty(r));
	/* a lone record becomes visible on publish */
	assert_non_null(bw_ring_reserve(r, 8));
	bw_ring_commit(r, 2);
	for (int i = 0; i < 4; i++) {
		assert_non_null(bw_ring_peek(r, NULL, NULL));
		bw_ring_pop(r);
	}
	assert_true(bw_ring_empty(r));
	bw_ring_publish(r);
	uint32_t type;
	assert_non_null(bw_ring_peek(r, &type, NULL));
	assert_int_equal(type, 2);
	bw_ring_pop(r);

	/* popped space goes back only after a batch of pops or a release */
	struct bw_ring *s = bw_ring_new(4096, 4);
	unsigned n = 0;
	while (bw_ring_reserve(s, 56)) {
		bw_ring_commit(s, 1);
		n++;
	}
	bw_ring_publish(s);
	assert_non_null(bw_ring_peek(s, NULL, NULL));
	bw_ring_pop(s);
	assert_null(bw_ring_reserve(s, 56));
	bw_ring_release(s);
	assert_non_null(bw_ring_reserve(s, 56));
	/* an abandoned reservation leaves nothing behind */
	bw_ring_publish(s);
	assert_int_equal(atomic_load(&s->head), (uint64_t)n * 64);
	bw_ring_free(r);
	bw_ring_free(s);
}

static void test_waiter_cancel_and_notify(void **state)
{
	(void)state;
	struct bw_ring_waiter w;
	bw_ring_waiter_init(&w);
	uint32_t k = bw_ring_waiter_prepare(&w);
	assert_int_equal(atomic_load(&w.waiters), 1);
	bw_ring_waiter_cancel(&w);
	assert_int_equal(atomic_load(&w.waiters), 0);
	bw_ring_waiter_notify(&w); /* nobody waits: the counter does not move */
	assert_int_equal(atomic_load(&w.seq), k);
	k = bw_ring_waiter_prepare(&w);
	bw_ring_waiter_notify(&w);
	assert_int_not_equal(atomic_load(&w.seq), k);
	bw_ring_waiter_wait(&w, k, 1000); /* key is stale: returns at once */
	assert_int_equal(atomic_load(&w.waiters), 0);
	assert_int_equal(w.sleeps, 0);
	/* a timeout bounds a wait nobody ends */
	k = bw_ring_waiter_prepare(&w);
	bw_ring_waiter_wait(&w, k, 5);
	assert_int_equal(w.sleeps, 1);
}

/* A consumer asleep is woken only once wake_bytes wait, not per publish. */
static void test_consumer_wake_threshold(void **state)
{
	(void)state;
	struct bw_ring *r = bw_ring_new(4096, 1);
	assert_non_null(r);
	bw_ring_set_consumer_wake(r, 1024);
	uint32_t k = bw_ring_waiter_prepare(r->not_empty);
	size_t waiting = 0;
	while (waiting + 2 * (BW_RING_HDR + 96) < 1024) {
		assert_non_null(bw_ring_reserve(r, 96));
		bw_ring_commit(r, 1); /* batch 1: publishes */
		waiting += BW_RING_HDR + 96;
		assert_int_equal(atomic_load(&r->not_empty->seq), k);
	}
	while (waiting < 1024) {
		assert_non_null(bw_ring_reserve(r, 96));
		bw_ring_commit(r, 1);
		waiting += BW_RING_HDR + 96;
	}
	assert_int_not_equal(atomic_load(&r->not_empty->seq), k); /* 1024 bytes wait: woken */
	bw_ring_waiter_cancel(r->not_empty);
	/* the consumer takes them all; the next small record does not wake it again */
	uint32_t type, len;
	while (bw_ring_peek(r, &type, &len))
		bw_ring_pop(r);
	bw_ring_release(r);
	k = bw_ring_waiter_prepare(r->not_empty);
	assert_non_null(bw_ring_reserve(r, 96));
	bw_ring_commit(r, 1);
	/* (its cached view of the consumer's tail is from before the drain) */
	assert_int_equal(atomic_load(&r->not_empty->seq), k);
	bw_ring_waiter_cancel(r->not_empty);
	/* a threshold over half the ring is taken as half */
	bw_ring_set_consumer_wake(r, 1u << 20);
	assert_int_equal(r->wake_bytes, 2048);
	bw_ring_free(r);
}

/* ---- two threads ---- */

#define STRESS_N 1000000u

struct stress {
	struct bw_ring *r;
	uint32_t n;
	uint64_t sum;
};

static void *producer(void *arg)
{
	struct stress *s = arg;
	for (uint32_t i = 0; i < s->n; i++) {
		uint32_t len = 4 + (i % 13) * 11;
		uint8_t *p = bw_ring_reserve_wait(s->r, len, NULL);
		if (!p)
			abort();
		memcpy(p, &i, 4);
		for (uint32_t k = 4; k < len; k++)
			p[k] = (uint8_t)(i ^ k);
		bw_ring_commit(s->r, 1 + (i & 3));
	}
	bw_ring_publish(s->r);
	bw_ring_wait_drained(s->r);
	return NULL;
}

static void two_threads(unsigned wake_bytes)
{
	struct stress s = { .r = bw_ring_new(8192, 16), .n = STRESS_N };
	if (wake_bytes)
		bw_ring_set_consumer_wake(s.r, wake_bytes);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, producer, &s), 0);
	uint32_t next = 0;
	bool bad = false;
	while (next < s.n) {
		if (!bw_ring_wait_nonempty(s.r, NULL))
			break;
		uint32_t type, len;
		const uint8_t *p = bw_ring_peek(s.r, &type, &len);
		if (!p)
			continue;
		uint32_t v;
		memcpy(&v, p, 4);
		if (v != next || type != 1 + (v & 3) || len != 4 + (v % 13) * 11)
			bad = true;
		for (uint32_t k = 4; k < len; k++)
			if (p[k] != (uint8_t)(v ^ k))
				bad = true;
		next++;
		bw_ring_pop(s.r);
	}
	bw_ring_release(s.r); /* lets the producer's wait_drained return */
	pthread_join(t, NULL);
	assert_false(bad);
	assert_int_equal(next, s.n);
	assert_true(bw_ring_empty(s.r));
	assert_int_equal(atomic_load(&s.r->tail), atomic_load(&s.r->head));
	bw_ring_free(s.r);
}

static void test_two_threads(void **state)
{
	(void)state;
	two_threads(0);
}

/* The same with a consumer woken per 2 KiB: every record still arrives, in
 * order (a full ring and the final drain wake it without the threshold;
 * that they do so at once, not after the waiter's timeout, this test does
 * not time). */
static void test_two_threads_lazy_wake(void **state)
{
	(void)state;
	two_threads(2048);
}

/* Two producers, one consumer sleeping on a waiter shared by both rings. */
struct shared_prod {
	struct bw_ring *r;
	uint32_t n, tag;
	_Atomic bool *done;
	struct bw_ring_waiter *w;
};

static void *shared_producer(void *arg)
{
	struct shared_prod *s = arg;
	for (uint32_t i = 0; i < s->n; i++) {
		uint32_t *p = bw_ring_reserve_wait(s->r, 8, NULL);
		p[0] = s->tag;
		p[1] = i;
		bw_ring_commit(s->r, 1);
		if ((i & 1023) == 0)
			bw_ring_publish(s->r);
	}
	bw_ring_publish(s->r);
	atomic_store(s->done, true);
	bw_ring_waiter_notify(s->w);
	return NULL;
}

static void test_shared_consumer_waiter(void **state)
{
	(void)state;
	struct bw_ring_waiter w;
	bw_ring_waiter_init(&w);
	struct bw_ring *r[2] = { bw_ring_new(4096, 8), bw_ring_new(4096, 8) };
	_Atomic bool done[2] = { false, false };
	struct shared_prod sp[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		bw_ring_set_consumer_waiter(r[i], &w);
		sp[i] = (struct shared_prod){ .r = r[i], .n = 200000, .tag = (uint32_t)i, .done = &done[i], .w = &w };
		assert_int_equal(pthread_create(&t[i], NULL, shared_producer, &sp[i]), 0);
	}
	uint32_t next[2] = { 0, 0 };
	bool bad = false;
	for (;;) {
		bool any = false;
		for (int i = 0; i < 2; i++) {
			const uint32_t *p;
			while ((p = bw_ring_peek(r[i], NULL, NULL)) != NULL) {
				if (p[0] != (uint32_t)i || p[1] != next[i])
					bad = true;
				next[i]++;
				bw_ring_pop(r[i]);
				any = true;
			}
			bw_ring_release(r[i]);
		}
		if (any)
			continue;
		bool all = atomic_load(&done[0]) && atomic_load(&done[1]);
		if (all && bw_ring_empty(r[0]) && bw_ring_empty(r[1]))
			break;
		uint32_t key = bw_ring_waiter_prepare(&w);
		if (!bw_ring_empty(r[0]) || !bw_ring_empty(r[1]) || all) {
			bw_ring_waiter_cancel(&w);
			continue;
		}
		bw_ring_waiter_wait(&w, key, 100);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_false(bad);
	assert_int_equal(next[0], 200000);
	assert_int_equal(next[1], 200000);
	bw_ring_free(r[0]);
	bw_ring_free(r[1]);
}

/* A stop flag ends a producer's wait for room and a consumer's wait for data. */
static void test_stop_flag(void **state)
{
	(void)state;
	struct bw_ring *r = bw_ring_new(4096, 1);
	_Atomic bool stop = true;
	assert_false(bw_ring_wait_nonempty(r, &stop));
	while (bw_ring_reserve(r, 1000))
		bw_ring_commit(r, 1);
	assert_null(bw_ring_reserve_wait(r, 1000, &stop));
	bw_ring_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rounds_capacity),
		cmocka_unit_test(test_push_pop_in_order),
		cmocka_unit_test(test_full_and_oversize),
		cmocka_unit_test(test_wrap_with_pads),
		cmocka_unit_test(test_batching),
		cmocka_unit_test(test_waiter_cancel_and_notify),
		cmocka_unit_test(test_consumer_wake_threshold),
		cmocka_unit_test(test_two_threads),
		cmocka_unit_test(test_two_threads_lazy_wake),
		cmocka_unit_test(test_shared_consumer_waiter),
		cmocka_unit_test(test_stop_flag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
