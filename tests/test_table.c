/* SPDX-License-Identifier: MIT */
/*
 * test_table.c: bounded concurrent hash table: copy-in/out, growth, sampled
 * eviction, expiry, RCU frees, threads. It includes table.c to check the
 * stripes' index from inside (check_index).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../sensor/table.c"

struct put {
	const void *val;
	size_t len;
	bool create;
	size_t old_len;
	bool had;
};

static int put_fn(void *ctx, const void *old, size_t old_len, void *out, size_t cap)
{
	struct put *p = ctx;
	p->had = old != NULL;
	p->old_len = old_len;
	if (!old && !p->create)
		return 0;
	if (p->len > cap)
		return BW_EINVAL;
	memcpy(out, p->val, p->len);
	return (int)p->len;
}

static int put(struct bw_table *t, const char *key, const void *val, size_t len, bw_time_t now)
{
	struct put p = { val, len, true, 0, false };
	return bw_table_update(t, key, strlen(key), now, put_fn, &p);
}

static struct bw_table *mk(size_t cap, uint32_t stripes, uint32_t sample)
{
	struct bw_table_config c = { .name = "t", .capacity = cap, .stripes = stripes, .sample = sample,
				     .seed = { 1, 2 } };
	return bw_table_new(&c);
}

/*
 * The index's invariants, from inside: each stripe's slots[0..n) are its
 * entries, each knowing its slot and reachable from its bucket, exp[j] is
 * slots[j]->exp_s, and the room past n is clear. Single-threaded callers only.
 */
static void check_index(struct bw_table *t)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < t->nstripes; i++) {
		struct stripe *st = &t->stripes[i];
		assert_true(st->n <= st->cap);
		for (uint32_t j = 0; j < st->n; j++) {
			struct entry *e = st->slots[j];
			assert_non_null(e);
			assert_int_equal(e->u.w.slot, j);
			assert_int_equal(st->exp[j], e->exp_s);
			uint64_t h = table_hash(t, e->data, e->klen);
			assert_ptr_equal(stripe_of(t, h), st);
			assert_ptr_equal(*find_link(t, h, e->data, e->klen), e);
		}
		for (uint32_t j = st->n; j < st->cap; j++) {
			assert_null(st->slots[j]);
			assert_int_equal(st->exp[j], 0);
		}
		total += st->n;
	}
	assert_int_equal(total, t->count);
}

static int setup(void **state)
{
	(void)state;
	bw_table_thread_register();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bw_table_thread_unregister();
	return 0;
}

static void test_config(void **state)
{
	(void)state;
	struct bw_table_config c = { .capacity = 0 };
	assert_null(bw_table_new(&c));
	assert_null(bw_table_new(NULL));
	c.capacity = 100;
	c.stripes = 3;
	assert_null(bw_table_new(&c));
	c.stripes = 128;
	assert_null(bw_table_new(&c));
	c.capacity = 2;
	c.stripes = 4; /* more stripes than entries */
	assert_null(bw_table_new(&c));
	c.capacity = (size_t)BW_TABLE_MAX_CAPACITY + 1;
	c.stripes = 0;
	assert_null(bw_table_new(&c));
	bw_table_free(NULL);
	struct bw_table *t = mk(10, 0, 0);
	assert_non_null(t);
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	assert_string_equal(st.name, "t");
	assert_int_equal(st.capacity, 10);
	assert_int_equal(st.entries, 0);
	bw_table_free(t);
}

/* The key compare the lookups use: equal exactly when memcmp says so, at every length
 * around its inline range and with the difference at every position. */
static void test_key_compare(void **state)
{
	(void)state;
	uint8_t a[80], b[80];
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(a); n++) {
		memcpy(b, a, sizeof(a));
		assert_true(bw_mem_equal(a, b, n));
		for (size_t at = 0; at < n; at++) {
			for (int bit = 0; bit < 8; bit += 7) {
				b[at] ^= (uint8_t)(1u << bit);
				assert_false(bw_mem_equal(a, b, n));
				assert_false(bw_mem_equal(b, a, n));
				b[at] ^= (uint8_t)(1u << bit);
			}
		}
		/* A difference past n is not looked at. */
		if (n < sizeof(a)) {
			b[n] ^= 1;
			assert_true(bw_mem_equal(a, b, n));
		}
	}
}

static void test_basic(void **state)
{
	(void)state;
	struct bw_table *t = mk(100, 0, 0);
	char out[64];
	assert_int_equal(bw_table_lookup(t, "a", 1, out, sizeof(out)), BW_ENOENT);
	assert_int_equal(put(t, "a", "hello", 5, 10), 5);
	assert_int_equal(put(t, "ab", "world!!!x", 9, 11), 9);
	memset(out, 0, sizeof(out));
	assert_int_equal(bw_table_lookup(t, "a", 1, out, sizeof(out)), 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(bw_table_lookup(t, "ab", 2, out, sizeof(out)), 9);
	assert_memory_equal(out, "world!!!x", 9);
	/* Too small a buffer is refused, not truncated silently. */
	assert_int_equal(bw_table_lookup(t, "ab", 2, out, 4), BW_ELIMIT);
	/* Prefix and longer keys are different keys. */
	assert_int_equal(bw_table_lookup(t, "abc", 3, out, sizeof(out)), BW_ENOENT);
	/* Update in place: the old value is handed to the callback. */
	struct put p = { "HELLO", 5, true, 0, false };
	assert_int_equal(bw_table_update(t, "a", 1, 12, put_fn, &p), 5);
	assert_true(p.had);
	assert_int_equal(p.old_len, 5);
	assert_int_equal(bw_table_lookup(t, "a", 1, out, sizeof(out)), 5);
	assert_memory_equal(out, "HELLO", 5);
	/* A callback returning 0 creates nothing. */
	struct put q = { "x", 1, false, 0, false };
	assert_int_equal(bw_table_update(t, "zz", 2, 13, put_fn, &q), 0);
	assert_false(q.had);
	assert_int_equal(bw_table_lookup(t, "zz", 2, out, sizeof(out)), BW_ENOENT);
	/* Bad lengths. */
	char big[BW_TABLE_KEY_MAX + 1];
	memset(big, 'k', sizeof(big));
	struct put r = { "v", 1, true, 0, false };
	assert_int_equal(bw_table_update(t, big, sizeof(big), 1, put_fn, &r), BW_EINVAL);
	assert_int_equal(bw_table_update(t, big, 0, 1, put_fn, &r), BW_EINVAL);
	assert_int_equal(bw_table_update(t, big, BW_TABLE_KEY_MAX, 1, put_fn, &r), 1);
	assert_int_equal(bw_table_lookup(t, big, BW_TABLE_KEY_MAX, out, sizeof(out)), 1);
	assert_int_equal(bw_table_lookup(t, big, sizeof(big), out, sizeof(out)), BW_ENOENT);
	/* Remove. */
	assert_int_equal(bw_table_remove(t, "a", 1), BW_OK);
	assert_int_equal(bw_table_remove(t, "a", 1), BW_ENOENT);
	assert_int_equal(bw_table_lookup(t, "a", 1, out, sizeof(out)), BW_ENOENT);
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.inserts, 3);
	assert_int_equal(st.updates, 1);
	assert_int_equal(st.removes, 1);
	assert_true(st.bytes > 2 * 40 + BW_TABLE_KEY_MAX);
	bw_table_free(t);
}

static int grow_fn(void *ctx, const void *old, size_t old_len, void *out, size_t cap)
{
	(void)ctx;
	/* Append one byte (its value: the old length) per call. */
	if (old_len + 1 > cap)
		return BW_ELIMIT;
	if (old)
		memcpy(out, old, old_len);
	((uint8_t *)out)[old_len] = (uint8_t)old_len;
	return (int)old_len + 1;
}

static void test_grow(void **state)
{
	(void)state;
	struct bw_table *t = mk(4, 1, 0);
	uint8_t out[BW_TABLE_VALUE_MAX];
	for (int i = 0; i < 600; i++)
		assert_int_equal(bw_table_update(t, "k", 1, (bw_time_t)i, grow_fn, NULL), i + 1);
	assert_int_equal(bw_table_lookup(t, "k", 1, out, sizeof(out)), 600);
	for (int i = 0; i < 600; i++)
		assert_int_equal(out[i], (uint8_t)i);
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	assert_int_equal(st.inserts, 1);
	assert_int_equal(st.updates, 599);
	/* Grown by copy + replace, but not on every byte: allocator slack is used in place. */
	assert_true(st.grows > 0);
	assert_true(st.grows < 599);
	assert_int_equal(st.entries, 1);
	/* A value larger than the maximum is refused and the old one kept. */
	uint8_t huge[BW_TABLE_VALUE_MAX];
	memset(huge, 7, sizeof(huge));
	struct put p = { huge, sizeof(huge), true, 0, false };
	assert_int_equal(bw_table_update(t, "k", 1, 1000, put_fn, &p), BW_TABLE_VALUE_MAX);
	assert_int_equal(bw_table_lookup(t, "k", 1, out, sizeof(out)), BW_TABLE_VALUE_MAX);
	bw_table_free(t);
}

static void test_evict_exact(void **state)
{
	(void)state;
	/* One stripe of 4 entries, sample 8: eviction picks the stalest exactly. */
	struct bw_table *t = mk(4, 1, 8);
	char out[8];
	assert_int_equal(put(t, "k1", "1", 1, 10), 1);
	assert_int_equal(put(t, "k2", "2", 1, 20), 1);
	assert_int_equal(put(t, "k3", "3", 1, 30), 1);
	assert_int_equal(put(t, "k4", "4", 1, 40), 1);
	assert_int_equal(put(t, "k1", "1", 1, 50), 1); /* refreshed: k2 is now the stalest */
	assert_int_equal(put(t, "k5", "5", 1, 60), 1);
	assert_int_equal(bw_table_lookup(t, "k2", 2, out, sizeof(out)), BW_ENOENT);
	assert_int_equal(bw_table_lookup(t, "k1", 2, out, sizeof(out)), 1);
	assert_int_equal(put(t, "k6", "6", 1, 70), 1);
	assert_int_equal(bw_table_lookup(t, "k3", 2, out, sizeof(out)), BW_ENOENT);
	/* Times are packet times: an update with an older time does not make it fresher. */
	assert_int_equal(put(t, "k4", "4", 1, 5), 1);
	assert_int_equal(put(t, "k7", "7", 1, 80), 1);
	assert_int_equal(bw_table_lookup(t, "k4", 2, out, sizeof(out)), BW_ENOENT);
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 3);
	assert_int_equal(st.inserts, 7);
	bw_table_free(t);
}

static void test_evict_sampled(void **state)
{
	(void)state;
	/* 4096 entries in 2 stripes, sample 8: old entries go first, though not strictly. */
	struct bw_table *t = mk(4096, 2, 8);
	char key[32], out[8];
	for (int i = 0; i < 8192; i++) {
		int n = snprintf(key, sizeof(key), "key-%d", i);
		struct put p = { "v", 1, true, 0, false };
		assert_int_equal(bw_table_update(t, key, (size_t)n, (bw_time_t)i + 1, put_fn, &p), 1);
	}
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, 4096);
	assert_int_equal(st.evictions, 4096);
	int old_left = 0, new_left = 0;
	for (int i = 0; i < 8192; i++) {
		int n = snprintf(key, sizeof(key), "key-%d", i);
		bool in = bw_table_lookup(t, key, (size_t)n, out, sizeof(out)) == 1;
		if (i < 2048)
			old_left += in;
		else if (i >= 6144)
			new_left += in;
	}
	/* The oldest quarter is nearly gone, the newest quarter nearly all there. */
	assert_true(old_left < 100);
	assert_true(new_left > 1900);
	bw_table_free(t);
}

static void test_byte_cap(void **state)
{
	(void)state;
	/* 1000 entries allowed, 64 KiB of entry bytes: 1 KiB keys are held to the bytes. */
	struct bw_table_config c = { .name = "t", .capacity = 1000, .stripes = 1, .seed = { 1, 2 },
				     .max_bytes = 65536 };
	struct bw_table *t = bw_table_new(&c);
	assert_non_null(t);
	char key[1024], out[8];
	memset(key, 'k', sizeof(key));
	for (int i = 0; i < 500; i++) {
		int n = snprintf(key, sizeof(key), "%d", i);
		key[n] = 'k';
		struct put p = { "v", 1, true, 0, false };
		assert_int_equal(bw_table_update(t, key, sizeof(key), (bw_time_t)i + 1, put_fn, &p), 1);
		struct bw_table_stats st;
		bw_table_stats(t, &st);
		/* entry bytes under the cap (plus one entry), besides the fixed index and buckets */
		assert_true(st.bytes <= 65536 + 2048 + 1000 * 12 + 1024 * 16 + 4096);
		/* the key just written is always kept */
		assert_int_equal(bw_table_lookup(t, key, sizeof(key), out, sizeof(out)), 1);
	}
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	assert_int_equal(st.max_bytes, 65536);
	assert_true(st.entries >= 50 && st.entries <= 64);
	assert_int_equal(st.evictions, 500 - st.entries);
	/* The oldest keys went first (exact choice within a stripe this small is not
	 * guaranteed, but the first key is long gone and the last ones are there). */
	int n = snprintf(key, sizeof(key), "%d", 0);
	key[n] = 'k';
	assert_int_equal(bw_table_lookup(t, key, sizeof(key), out, sizeof(out)), BW_ENOENT);
	/* A single entry larger than the cap of its stripe is kept alone. */
	struct bw_table_config c2 = { .name = "t", .capacity = 8, .stripes = 1, .max_bytes = 100 };
	struct bw_table *t2 = bw_table_new(&c2);
	struct put p = { "v", 1, true, 0, false };
	assert_int_equal(bw_table_update(t2, key, sizeof(key), 1, put_fn, &p), 1);
	assert_int_equal(bw_table_update(t2, "short", 5, 2, put_fn, &p), 1);
	bw_table_stats(t2, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(bw_table_lookup(t2, "short", 5, out, sizeof(out)), 1);
	bw_table_free(t2);
	bw_table_free(t);
}

static void test_large_lazy(void **state)
{
	(void)state;
	/* A large table (buckets grown on demand) finds every key it holds, and frees fast. */
	struct bw_table *t = mk(1u << 20, 0, 0);
	char key[32], out[8];
	for (int i = 0; i < 200000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(put(t, key, "v", 1, (bw_time_t)i + 1), 1);
		if ((i & 1023) == 0)
			bw_table_quiescent();
	}
	for (int i = 0; i < 200000; i += 7) {
		int n = snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(bw_table_lookup(t, key, (size_t)n, out, sizeof(out)), 1);
	}
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, 200000);
	assert_int_equal(st.evictions, 0);
	bw_table_free(t);
}

static int put_until(struct bw_table *t, const char *key, bw_time_t now, bw_time_t dies, struct put *p)
{
	static const uint8_t v[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	*p = (struct put){ v, sizeof(v), true, 0, false };
	return bw_table_update_until(t, key, strlen(key), now, put_fn, p, &dies);
}

static void test_expiry(void **state)
{
	(void)state;
	struct bw_table *t = mk(64, 1, 0);
	assert_non_null(t);
	struct put p;
	uint8_t out[16];
	struct bw_table_stats st;

	/* Dead only once an update's second is past the death second (rounded up). */
	assert_int_equal(put_until(t, "a", 1 * BW_NSEC_PER_SEC, 10 * BW_NSEC_PER_SEC + 1, &p), 8);
	assert_int_equal(put_until(t, "b", 11 * BW_NSEC_PER_SEC, 0, &p), 8);
	assert_int_equal(bw_table_lookup(t, "a", 1, out, sizeof(out)), 8); /* 11 s: not past 11 */
	assert_int_equal(put_until(t, "c", 12 * BW_NSEC_PER_SEC, 0, &p), 8);
	/* The sweep (2 slots a write, from a cursor over 3 entries) has reached "a" by now. */
	assert_int_equal(put_until(t, "d", 12 * BW_NSEC_PER_SEC, 0, &p), 8);
	assert_int_equal(bw_table_lookup(t, "a", 1, out, sizeof(out)), BW_ENOENT);
	bw_table_stats(t, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evictions, 0);

	/* A dead entry is absent to its next writer: the callback gets no old value. */
	assert_int_equal(put_until(t, "e", 12 * BW_NSEC_PER_SEC, 20 * BW_NSEC_PER_SEC, &p), 8);
	assert_false(p.had);
	assert_int_equal(put_until(t, "e", 15 * BW_NSEC_PER_SEC, 20 * BW_NSEC_PER_SEC, &p), 8);
	assert_true(p.had); /* alive: the old value is there */
	assert_int_equal(put_until(t, "e", 21 * BW_NSEC_PER_SEC, 30 * BW_NSEC_PER_SEC, &p), 8);
	assert_false(p.had); /* dead at 21 s: starts afresh, and lives to 30 s */
	bw_table_stats(t, &st);
	assert_int_equal(st.expired, 2);
	assert_int_equal(bw_table_lookup(t, "e", 1, out, sizeof(out)), 8);

	/* bw_table_update's entries never die; bw_table_sweep removes every dead one. */
	assert_int_equal(put(t, "never", "x", 1, 1), 1);
	char key[16];
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(put_until(t, key, 22 * BW_NSEC_PER_SEC, 40 * BW_NSEC_PER_SEC, &p), 8);
	}
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, 45);
	assert_int_equal(bw_table_sweep(t, 30 * BW_NSEC_PER_SEC, 1000), 0); /* 30 s: "e" not past */
	/* All but b, c, d (death time 0) and "never" (bw_table_update) die. */
	assert_int_equal(bw_table_sweep(t, UINT64_MAX, 1000), 41);
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(bw_table_lookup(t, "b", 1, out, sizeof(out)), 8);
	assert_int_equal(bw_table_lookup(t, "never", 5, out, sizeof(out)), 1);
	assert_int_equal(bw_table_sweep(t, UINT64_MAX, 0), 0);
	assert_int_equal(bw_table_sweep(NULL, UINT64_MAX, 10), 0);
	bw_table_free(t);

	/* A new key in a full stripe takes a dead entry's room before it evicts a live one. */
	t = mk(4, 1, 0);
	assert_non_null(t);
	assert_int_equal(put_until(t, "k1", 1 * BW_NSEC_PER_SEC, 5 * BW_NSEC_PER_SEC, &p), 8);
	assert_int_equal(put_until(t, "k2", 2 * BW_NSEC_PER_SEC, 0, &p), 8);
	assert_int_equal(put_until(t, "k3", 3 * BW_NSEC_PER_SEC, 0, &p), 8);
	assert_int_equal(put_until(t, "k4", 4 * BW_NSEC_PER_SEC, 0, &p), 8);
	assert_int_equal(put_until(t, "k5", 9 * BW_NSEC_PER_SEC, 0, &p), 8);
	assert_int_equal(bw_table_lookup(t, "k1", 2, out, sizeof(out)), BW_ENOENT);
	assert_int_equal(bw_table_lookup(t, "k2", 2, out, sizeof(out)), 8);
	assert_int_equal(bw_table_lookup(t, "k5", 2, out, sizeof(out)), 8);
	bw_table_stats(t, &st);
	assert_int_equal(st.expired + st.evictions, 1);
	assert_int_equal(st.entries, 4);
	bw_table_free(t);
}

static uint64_t xs_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define IDX_KEYS 1500

/*
 * The sweep reads the stripes' exp[] instead of the entries, so exp[] must
 * follow every insert, rewrite, grow (a new entry in the old one's slot),
 * remove, eviction (by count and by bytes) and sweep (the last slot moving
 * into a freed one). A random mix of all of them, with death times past,
 * near, far and never, then a full sweep at a later time must remove exactly
 * the entries a model of the death times says are dead, and keep the rest.
 */
static void test_expiry_index(void **state)
{
	(void)state;
	struct bw_table_config c = { .name = "t", .capacity = 512, .stripes = 4, .seed = { 3, 4 },
				     .max_bytes = 96 * 1024 };
	struct bw_table *t = bw_table_new(&c);
	assert_non_null(t);
	static uint32_t model[IDX_KEYS]; /* death second of the key's last write (0: never) */
	static uint8_t val[400];
	memset(val, 'v', sizeof(val));
	uint8_t out[BW_TABLE_VALUE_MAX];
	char key[32];
	uint64_t rng = 0x9E3779B97F4A7C15ULL;
	bw_time_t now = 1 * BW_NSEC_PER_SEC;
	for (int op = 0; op < 60000; op++) {
		/* Packet time creeps on, sometimes a little back (workers are not in lockstep). */
		uint64_t r = xs_next(&rng);
		now += r % 4000000;
		bw_time_t at = now - (r >> 60) * 1000000;
		uint32_t k = (uint32_t)(xs_next(&rng) % IDX_KEYS);
		int kn = snprintf(key, sizeof(key), "idx-%u", k);
		uint64_t what = xs_next(&rng);
		if (what % 16 == 0) {
			(void)bw_table_remove(t, key, (size_t)kn);
			continue;
		}
		if (what % 64 == 1) {
			(void)bw_table_sweep(t, at, 1 + (what >> 32) % 32);
			continue;
		}
		/* Values of 1..400 bytes: rewrites in place and grows into a new entry. */
		struct put p = { val, 1 + (size_t)((what >> 8) % sizeof(val)), (what >> 20) % 8 != 0, 0, false };
		bw_time_t dies;
		switch ((what >> 24) % 8) {
		case 0:
			dies = 0; /* never */
			break;
		case 1:
			dies = UINT64_MAX; /* saturates: never */
			break;
		case 2:
			dies = at > 3 * BW_NSEC_PER_SEC ? at - 3 * BW_NSEC_PER_SEC : 1; /* dead at once */
			break;
		default:
			dies = at + (what >> 32) % (40 * BW_NSEC_PER_SEC);
			break;
		}
		int ret = (what >> 40) % 8 == 0 ? bw_table_update(t, key, (size_t)kn, at, put_fn, &p)
						: bw_table_update_until(t, key, (size_t)kn, at, put_fn, &p, &dies);
		if ((what >> 40) % 8 == 0)
			dies = 0;
		assert_true(ret >= 0);
		if (ret > 0) {
			uint64_t s = dies / BW_NSEC_PER_SEC + (dies % BW_NSEC_PER_SEC ? 1 : 0);
			model[k] = dies == 0 ? 0 : s >= UINT32_MAX ? UINT32_MAX : (uint32_t)(s ? s : 1);
			/* Just written: neither the sweep nor an eviction took it. */
			assert_int_equal(bw_table_lookup(t, key, (size_t)kn, out, sizeof(out)), ret);
		}
		if (op % 4096 == 0)
			check_index(t);
	}
	check_index(t);
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	assert_true(st.evictions > 0);
	assert_true(st.grows > 0);
	assert_true(st.removes > 0);
	assert_true(st.expired > 0);

	/* Judge at a time some of the 40 s death window from now is past, some not. */
	bw_time_t judge = now + 20 * BW_NSEC_PER_SEC;
	uint64_t judge_s = judge / BW_NSEC_PER_SEC;
	size_t held = 0, dead = 0;
	for (uint32_t k = 0; k < IDX_KEYS; k++) {
		int kn = snprintf(key, sizeof(key), "idx-%u", k);
		if (bw_table_lookup(t, key, (size_t)kn, out, sizeof(out)) < 0)
			continue;
		held++;
		dead += model[k] && model[k] != UINT32_MAX && judge_s > model[k];
	}
	assert_true(dead > 0 && dead < held);
	/* Enough budget for each stripe to look at every slot once, and once more for each it removes. */
	assert_int_equal(bw_table_sweep(t, judge, 4 * c.capacity), dead);
	check_index(t);
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, held - dead);
	for (uint32_t k = 0; k < IDX_KEYS; k++) {
		int kn = snprintf(key, sizeof(key), "idx-%u", k);
		if (bw_table_lookup(t, key, (size_t)kn, out, sizeof(out)) >= 0)
			assert_false(model[k] && model[k] != UINT32_MAX && judge_s > model[k]);
	}
	assert_int_equal(bw_table_sweep(t, judge, 4 * c.capacity), 0);
	/* Once every death time has passed only the never-dying remain. */
	size_t never = 0;
	for (uint32_t k = 0; k < IDX_KEYS; k++) {
		int kn = snprintf(key, sizeof(key), "idx-%u", k);
		if (bw_table_lookup(t, key, (size_t)kn, out, sizeof(out)) >= 0)
			never += model[k] == 0 || model[k] == UINT32_MAX;
	}
	(void)bw_table_sweep(t, UINT64_MAX - 1, 4 * c.capacity);
	check_index(t);
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, never);
	bw_table_free(t);
}

/* A new key in a full stripe looks further than an update's sweep for a dead entry to replace. */
static void test_sweep_before_evict(void **state)
{
	(void)state;
	struct bw_table *t = mk(32, 1, 0);
	assert_non_null(t);
	struct put p;
	char key[16];
	for (int i = 0; i < 32; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(put_until(t, key, 10 * BW_NSEC_PER_SEC, 100 * BW_NSEC_PER_SEC, &p), 8);
	}
	/* The entry 10 slots past the cursor dies at 60 s (rewritten in place: its slot stays). */
	struct stripe *st = &t->stripes[0];
	uint32_t victim = (st->sweep + 10) % st->n;
	struct entry *e = st->slots[victim];
	char vkey[16];
	memcpy(vkey, e->data, e->klen);
	vkey[e->klen] = 0;
	assert_int_equal(put_until(t, vkey, 50 * BW_NSEC_PER_SEC, 60 * BW_NSEC_PER_SEC, &p), 8);
	assert_ptr_equal(st->slots[victim], e);
	assert_int_equal(put_until(t, "new", 70 * BW_NSEC_PER_SEC, 100 * BW_NSEC_PER_SEC, &p), 8);
	uint8_t out[16];
	assert_int_equal(bw_table_lookup(t, vkey, strlen(vkey), out, sizeof(out)), BW_ENOENT);
	struct bw_table_stats sts;
	bw_table_stats(t, &sts);
	assert_int_equal(sts.evictions, 0);
	assert_int_equal(sts.expired, 1);
	assert_int_equal(sts.entries, 32);
	check_index(t);
	bw_table_free(t);
}

/* Readers of keys that stay must never miss them while the bucket array grows under them. */
struct grow_reader {
	struct bw_table *t;
	int *stop;
	uint64_t lookups, misses;
};

#define GROW_STABLE 512

static void *grow_reader_main(void *arg)
{
	struct grow_reader *r = arg;
	char key[32];
	uint8_t out[16];
	bw_table_thread_register();
	for (uint32_t i = 0; !__atomic_load_n(r->stop, __ATOMIC_ACQUIRE); i++) {
		int n = snprintf(key, sizeof(key), "stable-%u", i % GROW_STABLE);
		if (bw_table_lookup(r->t, key, (size_t)n, out, sizeof(out)) != 1)
			r->misses++;
		r->lookups++;
		if ((i & 63) == 0)
			bw_table_quiescent();
	}
	bw_table_thread_offline();
	bw_table_thread_unregister();
	return NULL;
}

static void test_grow_under_readers(void **state)
{
	(void)state;
	struct bw_table *t = mk(300000, 0, 0); /* 64 stripes; buckets 4096 -> ... -> 1 Mi */
	assert_non_null(t);
	char key[32];
	for (uint32_t i = 0; i < GROW_STABLE; i++) {
		snprintf(key, sizeof(key), "stable-%u", i);
		assert_int_equal(put(t, key, "s", 1, 1), 1);
	}
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	uint64_t bytes0 = st.bytes;
	int stop = 0;
	struct grow_reader r[2] = { { t, &stop, 0, 0 }, { t, &stop, 0, 0 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, grow_reader_main, &r[i]), 0);
	for (uint32_t i = 0; i < 200000; i++) {
		snprintf(key, sizeof(key), "grow-%u", i);
		assert_int_equal(put(t, key, "g", 1, 2), 1);
		if ((i & 63) == 0)
			bw_table_quiescent();
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	bw_table_thread_offline();
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	bw_table_thread_online();
	print_message("# grow: readers %llu + %llu lookups, %llu misses\n", (unsigned long long)r[0].lookups,
		      (unsigned long long)r[1].lookups, (unsigned long long)(r[0].misses + r[1].misses));
	assert_int_equal(r[0].misses + r[1].misses, 0);
	assert_true(r[0].lookups + r[1].lookups > 0);
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, 200000 + GROW_STABLE);
	/* The array grew with the entries: 4 Ki buckets at first, 1 Mi (8 MiB) at the end. */
	assert_true(bytes0 < st.bytes - 8u * 1024 * 1024 + 8u * 4096 + 1);
	uint8_t out[4];
	for (uint32_t i = 0; i < 200000; i += 997) {
		int n = snprintf(key, sizeof(key), "grow-%u", i);
		assert_int_equal(bw_table_lookup(t, key, (size_t)n, out, sizeof(out)), 1);
	}
	bw_table_free(t);
}

static void test_many_stripes(void **state)
{
	(void)state;
	struct bw_table *t = mk(200000, 0, 0);
	char key[32];
	uint64_t out[2];
	for (uint64_t i = 0; i < 50000; i++) {
		int n = snprintf(key, sizeof(key), "%llu.example", (unsigned long long)i);
		uint64_t v[2] = { i, ~i };
		assert_int_equal(put(t, key, v, sizeof(v), i), 16);
		(void)n;
	}
	for (uint64_t i = 0; i < 50000; i += 7) {
		int n = snprintf(key, sizeof(key), "%llu.example", (unsigned long long)i);
		assert_int_equal(bw_table_lookup(t, key, (size_t)n, out, sizeof(out)), 16);
		assert_true(out[0] == i && out[1] == ~i);
	}
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	assert_int_equal(st.entries, 50000);
	assert_int_equal(st.evictions, 0);
	bw_table_free(t);
}

/* Freeing from a thread that never registered (the table registers it for the call). */
static void *free_unregistered(void *arg)
{
	bw_table_free(arg);
	return NULL;
}

static void test_free_other_thread(void **state)
{
	(void)state;
	struct bw_table *t = mk(64, 0, 0);
	for (int i = 0; i < 100; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(put(t, key, "vvvvvvvvvv", 10, (bw_time_t)i), 10);
	}
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, free_unregistered, t), 0);
	bw_table_thread_offline(); /* we are about to wait */
	pthread_join(th, NULL);
	bw_table_thread_online();
}

/*
 * Two writers and two readers hammer a small table: keys come and go
 * (evictions), values grow and shrink (replace), and every value a reader
 * copies must be whole: all its words carry the same (key, version) stamp
 * and its length matches the stamp.
 */
#define HAMMER_KEYS 3000
#define HAMMER_CAP 1024

struct hammer {
	struct bw_table *t;
	int id;
	int *stop;
	uint64_t ops, hits, bad;
	uint64_t progress; /* ops, published for the main thread */
};

struct stamp_put {
	uint64_t key, ver;
};

static size_t stamp_words(uint64_t ver)
{
	return 1 + (size_t)(ver % 40); /* 8..320 bytes: crosses the in-place room */
}

static int stamp_fn(void *ctx, const void *old, size_t old_len, void *out, size_t cap)
{
	const struct stamp_put *p = ctx;
	(void)old;
	(void)old_len;
	size_t nw = stamp_words(p->ver);
	if (nw * 8 > cap)
		return BW_EINVAL;
	uint64_t *o = out;
	for (size_t i = 0; i < nw; i++)
		o[i] = (p->key << 32) | p->ver;
	return (int)(nw * 8);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *hammer_writer(void *arg)
{
	struct hammer *h = arg;
	bw_table_thread_register();
	uint64_t x = 0x1234567ULL + (uint64_t)h->id;
	while (!__atomic_load_n(h->stop, __ATOMIC_RELAXED)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t k = x % HAMMER_KEYS;
		char key[24];
		int n = snprintf(key, sizeof(key), "host%llu", (unsigned long long)k);
		struct stamp_put p = { k, (x >> 20) & 0xffffff };
		int r = bw_table_update(h->t, key, (size_t)n, h->ops, stamp_fn, &p);
		if (r <= 0)
			h->bad++;
		if ((h->ops & 7) == 0 && k % 5 == 0)
			(void)bw_table_remove(h->t, key, (size_t)n);
		h->ops++;
		if ((h->ops & 63) == 0) {
			__atomic_store_n(&h->progress, h->ops, __ATOMIC_RELAXED);
			bw_table_quiescent();
		}
	}
	bw_table_thread_unregister();
	return NULL;
}

static void *hammer_reader(void *arg)
{
	struct hammer *h = arg;
	bw_table_thread_register();
	uint64_t x = 0x9876543ULL + (uint64_t)h->id;
	uint64_t buf[BW_TABLE_VALUE_MAX / 8];
	while (!__atomic_load_n(h->stop, __ATOMIC_RELAXED)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t k = x % HAMMER_KEYS;
		char key[24];
		int n = snprintf(key, sizeof(key), "host%llu", (unsigned long long)k);
		int r = bw_table_lookup(h->t, key, (size_t)n, buf, sizeof(buf));
		if (r > 0) {
			h->hits++;
			uint64_t s = buf[0];
			if ((s >> 32) != k || (size_t)r != stamp_words(s & 0xffffffff) * 8)
				h->bad++;
			for (int i = 1; i < r / 8; i++)
				if (buf[i] != s)
					h->bad++;
		} else if (r != BW_ENOENT) {
			h->bad++;
		}
		h->ops++;
		if ((h->ops & 63) == 0) {
			__atomic_store_n(&h->progress, h->ops, __ATOMIC_RELAXED);
			bw_table_quiescent();
		}
	}
	bw_table_thread_unregister();
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct bw_table *t = mk(HAMMER_CAP, 4, 0);
	int stop = 0;
	struct hammer h[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .t = t, .id = i, .stop = &stop };
		assert_int_equal(pthread_create(&th[i], NULL, i < 2 ? hammer_writer : hammer_reader, &h[i]), 0);
	}
	bw_table_thread_offline();
	/* At least 1 s, and until every thread has done some work (a loaded machine may starve one). */
	double t0 = now_s();
	for (;;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		bool all = true;
		for (int i = 0; i < 4; i++)
			all = all && __atomic_load_n(&h[i].progress, __ATOMIC_RELAXED) >= 1000;
		if ((all && now_s() - t0 >= 1.0) || now_s() - t0 >= 30.0)
			break;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	bw_table_thread_online();
	struct bw_table_stats st;
	bw_table_stats(t, &st);
	printf("# writers %llu %llu ops, readers %llu %llu ops (%llu hits); evictions %llu grows %llu removes %llu\n",
	       (unsigned long long)h[0].ops, (unsigned long long)h[1].ops, (unsigned long long)h[2].ops,
	       (unsigned long long)h[3].ops, (unsigned long long)(h[2].hits + h[3].hits),
	       (unsigned long long)st.evictions, (unsigned long long)st.grows, (unsigned long long)st.removes);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(h[i].bad, 0);
		assert_true(h[i].ops > 1000);
	}
	assert_true(h[2].hits + h[3].hits > 100);
	assert_true(st.entries <= HAMMER_CAP);
	assert_true(st.evictions > 0);
	assert_true(st.grows > 0);
	assert_true(st.removes > 0);
	assert_int_equal(st.inserts, st.entries + st.evictions + st.removes);
	bw_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config), cmocka_unit_test(test_key_compare),	     cmocka_unit_test(test_basic),
		cmocka_unit_test(test_grow),	     cmocka_unit_test(test_evict_exact),
		cmocka_unit_test(test_evict_sampled), cmocka_unit_test(test_many_stripes), cmocka_unit_test(test_expiry), cmocka_unit_test(test_grow_under_readers),
		cmocka_unit_test(test_free_other_thread), cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_byte_cap), cmocka_unit_test(test_large_lazy),
		cmocka_unit_test(test_expiry_index), cmocka_unit_test(test_sweep_before_evict),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
