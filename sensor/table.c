/* SPDX-License-Identifier: MIT */
/*
 * table.c: bounded concurrent hash table on liburcu's cds_lfht (as BIND 9
 * uses it). The read path is what matters: every observation is checked
 * against the tables, by every worker, so a lookup hashes the key (seeded
 * SipHash, so hostile names cannot aim at one chain), walks one lfht chain
 * and copies the value out under a per-entry sequence counter; it takes no
 * lock and writes no shared cache line. We use the QSBR flavour because its
 * read-side lock is free (workers are long-running loops that can report
 * quiescent states), and an in-place seqlocked value rather than
 * copy-on-write because most DNS answers repeat a binding already known:
 * rewriting a few words in place beats malloc + replace + call_rcu for each.
 * Writers serialise per key on striped mutexes (readers never see them),
 * which also guard a per-stripe dense index of entries so eviction can
 * sample random entries in O(1) without walking the hash table.
 *
 * Build with -DBW_TABLE_RCU_MEMB to use the memory-barrier flavour instead
 * (for benchmarks; the API and its rules are the same).
 */
#define _LGPL_SOURCE
#include "table.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#ifdef BW_TABLE_RCU_MEMB
#include <urcu.h> /* memb is the default flavour of urcu.h */
#else
#include <urcu-qsbr.h>
#endif
#include <urcu/rculfhash.h>

#include "../parsers/pktdedup.h"

/*
 * ThreadSanitizer cannot see the grace periods inside the (uninstrumented)
 * liburcu, so in a TSan build readers release, and the RCU free callback
 * acquires, one token: the happens-before edge that RCU really provides.
 */
#if defined(__SANITIZE_THREAD__)
#define BW_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BW_TSAN 1
#endif
#endif
#ifdef BW_TSAN
#include <sanitizer/tsan_interface.h>
static char tsan_gp_token;
#define TSAN_READER_DONE() __tsan_release(&tsan_gp_token)
#define TSAN_GP_OVER() __tsan_acquire(&tsan_gp_token)
#else
#define TSAN_READER_DONE() ((void)0)
#define TSAN_GP_OVER() ((void)0)
#endif

/*
 * One allocation per key: header, key (padded to 8), value (vcap bytes).
 * Readers touch node, seq, klen, vlen, the key and the value. The union
 * holds what only writers (under the stripe lock) use while the entry is
 * live, and the RCU head once it is removed, when no writer reaches it.
 */
struct entry {
	struct cds_lfht_node node;
	union {
		struct rcu_head rcu;
		struct {
			bw_time_t last_seen; /* max packet time of the updates */
			uint32_t slot;       /* index in the stripe's slots[] */
			uint32_t vcap;       /* bytes of value room */
		} w;
	} u;
	uint32_t seq;  /* even: value stable; odd: a writer is inside */
	uint16_t klen;
	uint16_t vlen; /* written inside the seq window */
	uint64_t data[]; /* key, then value at data + koff_words(klen) */
};

struct stripe {
	pthread_mutex_t lock;
	struct entry **slots; /* dense: slots[0..n) are this stripe's entries */
	uint32_t n, cap;
	uint64_t rng;
	uint64_t byte_cap; /* entry bytes allowed in this stripe; 0: none */
	/* Written under the lock, read by stats with relaxed loads. */
	uint64_t inserts, updates, grows, evictions, removes, bytes;
} __attribute__((aligned(64)));

struct bw_table {
	struct cds_lfht *ht;
	uint64_t k0, k1;
	const char *name;
	size_t capacity, max_bytes;
	uint32_t nstripes, stripe_shift, sample;
	size_t buckets;
	size_t fixed_bytes; /* this struct, the stripes, their slot arrays */
	struct stripe *stripes;
};

struct match_key {
	const void *key;
	size_t klen;
};

static __thread bool tls_registered;

#define INIT_BUCKETS 4096 /* lfht buckets a large table starts with */

static inline size_t key_words(size_t klen)
{
	return (klen + 7) / 8;
}

static inline uint64_t *entry_val(struct entry *e)
{
	return e->data + key_words(e->klen);
}

static inline void counter_add(uint64_t *c, uint64_t by)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + by, __ATOMIC_RELAXED);
}

static inline void counter_sub(uint64_t *c, uint64_t by)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) - by, __ATOMIC_RELAXED);
}

static inline uint64_t counter_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static int match_entry(struct cds_lfht_node *node, const void *arg)
{
	const struct match_key *mk = arg;
	struct entry *e = caa_container_of(node, struct entry, node);
	/*
	 * The lfht's pointer load already orders the entry's fields after
	 * their writes (address dependency); this acquire (a plain load on
	 * x86) pairs with the release that published the entry so TSan, which
	 * cannot see inside liburcu, sees the order too.
	 */
	(void)__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
	return e->klen == mk->klen && memcmp(e->data, mk->key, mk->klen) == 0;
}

static void free_entry_rcu(struct rcu_head *head)
{
	TSAN_GP_OVER();
	free(caa_container_of(head, struct entry, u.rcu));
}

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s; /* xorshift64*: never 0 when seeded non-zero */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static size_t pow2_ceil(size_t v)
{
	size_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

struct bw_table *bw_table_new(const struct bw_table_config *c)
{
	if (!c || c->capacity == 0 || c->capacity > BW_TABLE_MAX_CAPACITY)
		return NULL;
	uint32_t ns = c->stripes;
	if (ns == 0) {
		/* About 1024 entries per stripe: few enough that two writers rarely meet. */
		ns = 1;
		while (ns < BW_TABLE_MAX_STRIPES && (size_t)ns * 2 * 1024 <= c->capacity)
			ns <<= 1;
	}
	if (ns > BW_TABLE_MAX_STRIPES || (ns & (ns - 1)) != 0 || ns > c->capacity)
		return NULL;

	struct bw_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->name = c->name ? c->name : "table";
	t->capacity = c->capacity;
	t->max_bytes = c->max_bytes;
	t->sample = c->sample ? c->sample : BW_TABLE_DEFAULT_SAMPLE;
	t->nstripes = ns;
	t->stripe_shift = 0;
	while ((1u << t->stripe_shift) < ns)
		t->stripe_shift++;
	if (c->seed[0] || c->seed[1]) {
		t->k0 = c->seed[0];
		t->k1 = c->seed[1];
	} else {
		uint64_t k[2];
		bw_hash_random_key(k);
		t->k0 = k[0];
		t->k1 = k[1];
	}
	t->stripes = aligned_alloc(64, sizeof(*t->stripes) * ns);
	if (!t->stripes) {
		free(t);
		return NULL;
	}
	memset(t->stripes, 0, sizeof(*t->stripes) * ns);
	t->fixed_bytes = sizeof(*t) + sizeof(*t->stripes) * ns;
	uint32_t i;
	for (i = 0; i < ns; i++) {
		struct stripe *st = &t->stripes[i];
		/* Split the capacity exactly: the first (capacity % ns) stripes take one more. */
		st->cap = (uint32_t)(c->capacity / ns + (i < c->capacity % ns ? 1 : 0));
		st->slots = calloc(st->cap, sizeof(*st->slots));
		st->rng = (t->k0 ^ (0x9E3779B97F4A7C15ULL * (i + 1))) | 1;
		st->byte_cap = c->max_bytes ? BW_MAX((uint64_t)c->max_bytes / ns, (uint64_t)1) : 0;
		if (!st->slots || pthread_mutex_init(&st->lock, NULL) != 0) {
			free(st->slots);
			goto fail;
		}
		t->fixed_bytes += sizeof(*st->slots) * st->cap;
	}
	/*
	 * One bucket per entry at most (16 bytes each). Small tables get all
	 * their buckets at once (no resize thread, no per-CPU counters on the
	 * add path). Large ones start at INIT_BUCKETS and auto-resize: sizing
	 * a million buckets up front, and walking them all again at free, was
	 * a measurable fixed cost of every run (bench/NOTES.md) for tables
	 * that a small capture barely touches. A growing table has chains of
	 * a few entries until the resize thread catches up.
	 */
	size_t nb = pow2_ceil(c->capacity);
	t->buckets = nb;
	if (nb <= INIT_BUCKETS)
		t->ht = cds_lfht_new(nb, nb, nb, 0, NULL);
	else
		t->ht = cds_lfht_new(INIT_BUCKETS, INIT_BUCKETS, nb, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!t->ht)
		goto fail;
	return t;
fail:
	while (i-- > 0) {
		pthread_mutex_destroy(&t->stripes[i].lock);
		free(t->stripes[i].slots);
	}
	free(t->stripes);
	free(t);
	return NULL;
}

void bw_table_free(struct bw_table *t)
{
	if (!t)
		return;
	bool reg_here = false, online_here = false;
	if (!tls_registered) {
		bw_table_thread_register();
		reg_here = true;
	}
#ifndef BW_TABLE_RCU_MEMB
	else if (!rcu_read_ongoing()) {
		rcu_thread_online();
		online_here = true;
	}
#endif
	/*
	 * No user is left; entries still go through call_rcu like any removal
	 * so that nothing inside liburcu can be walking them when they go.
	 */
	rcu_read_lock();
	for (uint32_t i = 0; i < t->nstripes; i++) {
		struct stripe *st = &t->stripes[i];
		for (uint32_t j = 0; j < st->n; j++) {
			struct entry *e = st->slots[j];
			(void)cds_lfht_del(t->ht, &e->node);
			call_rcu(&e->u.rcu, free_entry_rcu);
		}
		__atomic_store_n(&st->n, 0, __ATOMIC_RELAXED);
	}
	rcu_read_unlock();
	TSAN_READER_DONE();
#ifndef BW_TABLE_RCU_MEMB
	/*
	 * cds_lfht_destroy may wait for lfht's worker thread, which may wait
	 * for a grace period, and so does rcu_barrier(): a QSBR thread must be
	 * offline for both, or it waits for itself.
	 */
	rcu_thread_offline();
#endif
	(void)cds_lfht_destroy(t->ht, NULL);
	rcu_barrier();
#ifndef BW_TABLE_RCU_MEMB
	if (!reg_here && !online_here)
		rcu_thread_online();
#else
	(void)online_here;
#endif
	if (reg_here)
		bw_table_thread_unregister();
	for (uint32_t i = 0; i < t->nstripes; i++) {
		pthread_mutex_destroy(&t->stripes[i].lock);
		free(t->stripes[i].slots);
	}
	free(t->stripes);
	free(t);
}

static inline uint64_t table_hash(const struct bw_table *t, const void *key, size_t klen)
{
	return bw_hash(t->k0, t->k1, key, klen);
}

static inline struct stripe *stripe_of(const struct bw_table *t, uint64_t h)
{
	return &t->stripes[t->stripe_shift ? h >> (64 - t->stripe_shift) : 0];
}

/* Copy a consistent snapshot of e's value. Called inside rcu_read_lock. */
static int read_value(struct entry *e, void *out, size_t cap)
{
	const uint64_t *src = entry_val(e);
	uint8_t *dst = out;
	for (unsigned spins = 0;; spins++) {
		uint32_t s = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		if (bw_unlikely(s & 1)) {
			/* A writer is inside; if it was preempted there, let it run. */
			if (spins > 64)
				sched_yield();
			else
				caa_cpu_relax();
			continue;
		}
		size_t n = __atomic_load_n(&e->vlen, __ATOMIC_ACQUIRE);
		size_t copy = BW_MIN(n, cap);
		size_t w;
		/*
		 * Acquire loads (plain loads on x86) keep the second seq load
		 * after the data; vlen never exceeds the entry's room, so even
		 * a torn snapshot stays inside the allocation.
		 */
		for (w = 0; w + 8 <= copy; w += 8) {
			uint64_t v = __atomic_load_n(&src[w / 8], __ATOMIC_ACQUIRE);
			memcpy(dst + w, &v, 8);
		}
		if (w < copy) {
			uint64_t v = __atomic_load_n(&src[w / 8], __ATOMIC_ACQUIRE);
			memcpy(dst + w, &v, copy - w);
		}
		if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s)
			continue;
		return n > cap ? BW_ELIMIT : (int)n;
	}
}

int bw_table_lookup(struct bw_table *t, const void *key, size_t klen, void *out, size_t cap)
{
	if (!t || klen == 0 || klen > BW_TABLE_KEY_MAX)
		return BW_ENOENT;
	uint64_t h = table_hash(t, key, klen);
	struct match_key mk = { key, klen };
	struct cds_lfht_iter it;
	int ret = BW_ENOENT;
	rcu_read_lock();
	cds_lfht_lookup(t->ht, (unsigned long)h, match_entry, &mk, &it);
	struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
	if (node)
		ret = read_value(caa_container_of(node, struct entry, node), out, cap);
	rcu_read_unlock();
	TSAN_READER_DONE();
	return ret;
}

/* Write a value of n bytes (src padded with zeros to 8) into a live entry. */
static void write_value(struct entry *e, const uint64_t *src, size_t n)
{
	uint64_t *dst = entry_val(e);
	uint32_t s = e->seq;
	__atomic_store_n(&e->seq, s + 1, __ATOMIC_RELAXED);
	/* Release stores: a reader that sees any new word also sees seq odd. */
	for (size_t w = 0; w < (n + 7) / 8; w++)
		__atomic_store_n(&dst[w], src[w], __ATOMIC_RELEASE);
	__atomic_store_n(&e->vlen, (uint16_t)n, __ATOMIC_RELEASE);
	__atomic_store_n(&e->seq, s + 2, __ATOMIC_RELEASE);
}

/* A new, unpublished entry for key with room for at least n value bytes. */
static struct entry *entry_alloc(const void *key, size_t klen, const uint64_t *val, size_t n, size_t *usable)
{
	size_t kbytes = key_words(klen) * 8;
	size_t want = sizeof(struct entry) + kbytes + ((n + 7) & ~(size_t)7);
	struct entry *e = malloc(want);
	if (!e)
		return NULL;
	/* Whatever the allocator rounded up to becomes room to grow in place. */
	size_t got = malloc_usable_size(e);
	if (got < want)
		got = want;
	size_t vcap = (got - sizeof(struct entry) - kbytes) & ~(size_t)7;
	if (vcap > BW_TABLE_VALUE_MAX)
		vcap = BW_TABLE_VALUE_MAX;
	memset(&e->node, 0, sizeof(e->node));
	e->u.w.last_seen = 0;
	e->u.w.slot = 0;
	e->u.w.vcap = (uint32_t)vcap;
	e->klen = (uint16_t)klen;
	e->vlen = (uint16_t)n;
	e->data[kbytes / 8 - 1] = 0; /* key padding */
	memcpy(e->data, key, klen);
	memcpy(entry_val(e), val, (n + 7) & ~(size_t)7);
	*usable = got;
	/* Publish point for TSan; lfht's own publication orders it for the CPU. */
	__atomic_store_n(&e->seq, 0, __ATOMIC_RELEASE);
	return e;
}

static void slot_remove(struct stripe *st, uint32_t i)
{
	uint32_t n = st->n - 1;
	struct entry *last = st->slots[n];
	st->slots[i] = last;
	last->u.w.slot = i;
	st->slots[n] = NULL;
	__atomic_store_n(&st->n, n, __ATOMIC_RELAXED); /* stats read it unlocked */
}

/* Unlink e (live, in st) and free it after a grace period. Inside rcu_read_lock, under st->lock. */
static void entry_remove(struct bw_table *t, struct stripe *st, struct entry *e)
{
	(void)cds_lfht_del(t->ht, &e->node);
	slot_remove(st, e->u.w.slot);
	counter_sub(&st->bytes, malloc_usable_size(e));
	call_rcu(&e->u.rcu, free_entry_rcu);
}

/* Evict the stalest entry of a sample of st (not empty), never keep (may be NULL). */
static void evict_one(struct bw_table *t, struct stripe *st, const struct entry *keep)
{
	uint32_t best = 0;
	if (st->n <= t->sample) {
		for (uint32_t i = 1; i < st->n; i++)
			if (st->slots[i]->u.w.last_seen < st->slots[best]->u.w.last_seen)
				best = i;
	} else {
		best = (uint32_t)(rng_next(&st->rng) % st->n);
		for (uint32_t k = 1; k < t->sample; k++) {
			uint32_t i = (uint32_t)(rng_next(&st->rng) % st->n);
			if (st->slots[i]->u.w.last_seen < st->slots[best]->u.w.last_seen)
				best = i;
		}
	}
	if (st->slots[best] == keep) {
		if (st->n < 2)
			return;
		best = (best + 1) % st->n;
	}
	entry_remove(t, st, st->slots[best]);
	counter_add(&st->evictions, 1);
}

int bw_table_update(struct bw_table *t, const void *key, size_t klen, bw_time_t now, bw_table_update_fn fn,
		    void *ctx)
{
	if (!t || !fn || klen == 0 || klen > BW_TABLE_KEY_MAX)
		return BW_EINVAL;
	uint64_t scratch[BW_TABLE_VALUE_MAX / 8];
	uint64_t h = table_hash(t, key, klen);
	struct stripe *st = stripe_of(t, h);
	struct match_key mk = { key, klen };
	struct cds_lfht_iter it;
	int ret;

	rcu_read_lock();
	pthread_mutex_lock(&st->lock);
	/* Under the stripe lock nobody else can add, change or remove this key. */
	cds_lfht_lookup(t->ht, (unsigned long)h, match_entry, &mk, &it);
	struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
	struct entry *e = node ? caa_container_of(node, struct entry, node) : NULL;
	ret = fn(ctx, e ? (const void *)entry_val(e) : NULL, e ? e->vlen : 0, scratch, sizeof(scratch));
	if (ret <= 0)
		goto out;
	if ((size_t)ret > BW_TABLE_VALUE_MAX || ret > UINT16_MAX) {
		ret = BW_EINVAL;
		goto out;
	}
	size_t n = (size_t)ret;
	if (n & 7)
		memset((uint8_t *)scratch + n, 0, 8 - (n & 7));

	struct entry *cur = e; /* the entry holding key's value once written */
	if (e && n <= e->u.w.vcap) {
		write_value(e, scratch, n);
		if (now > e->u.w.last_seen)
			e->u.w.last_seen = now;
		counter_add(&st->updates, 1);
	} else if (e) {
		size_t usable;
		struct entry *ne = entry_alloc(key, klen, scratch, n, &usable);
		if (!ne) {
			ret = BW_ENOMEM;
			goto out;
		}
		ne->u.w.last_seen = BW_MAX(now, e->u.w.last_seen);
		ne->u.w.slot = e->u.w.slot;
		/* Readers see the old entry or the new one, never neither. */
		if (cds_lfht_replace(t->ht, &it, (unsigned long)h, match_entry, &mk, &ne->node) != 0) {
			free(ne); /* cannot happen: the key is live under our lock */
			ret = BW_EINVAL;
			goto out;
		}
		st->slots[ne->u.w.slot] = ne;
		cur = ne;
		counter_add(&st->bytes, usable);
		counter_sub(&st->bytes, malloc_usable_size(e));
		call_rcu(&e->u.rcu, free_entry_rcu);
		counter_add(&st->updates, 1);
		counter_add(&st->grows, 1);
	} else {
		size_t usable;
		struct entry *ne = entry_alloc(key, klen, scratch, n, &usable);
		if (!ne) {
			ret = BW_ENOMEM;
			goto out;
		}
		if (st->n >= st->cap)
			evict_one(t, st, NULL);
		ne->u.w.last_seen = now;
		ne->u.w.slot = st->n;
		st->slots[st->n] = ne;
		__atomic_store_n(&st->n, st->n + 1, __ATOMIC_RELAXED);
		cds_lfht_add(t->ht, (unsigned long)h, &ne->node);
		counter_add(&st->bytes, usable);
		counter_add(&st->inserts, 1);
		cur = ne;
	}
	/* Over the byte budget (a long key, a grown set): make room, O(sample) each. */
	while (st->byte_cap && counter_get(&st->bytes) > st->byte_cap && st->n > 1)
		evict_one(t, st, cur);
out:
	pthread_mutex_unlock(&st->lock);
	rcu_read_unlock();
	TSAN_READER_DONE();
	return ret;
}

int bw_table_remove(struct bw_table *t, const void *key, size_t klen)
{
	if (!t || klen == 0 || klen > BW_TABLE_KEY_MAX)
		return BW_ENOENT;
	uint64_t h = table_hash(t, key, klen);
	struct stripe *st = stripe_of(t, h);
	struct match_key mk = { key, klen };
	struct cds_lfht_iter it;
	int ret = BW_ENOENT;
	rcu_read_lock();
	pthread_mutex_lock(&st->lock);
	cds_lfht_lookup(t->ht, (unsigned long)h, match_entry, &mk, &it);
	struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
	if (node) {
		entry_remove(t, st, caa_container_of(node, struct entry, node));
		counter_add(&st->removes, 1);
		ret = BW_OK;
	}
	pthread_mutex_unlock(&st->lock);
	rcu_read_unlock();
	TSAN_READER_DONE();
	return ret;
}

void bw_table_stats(const struct bw_table *t, struct bw_table_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!t)
		return;
	out->name = t->name;
	out->capacity = t->capacity;
	out->max_bytes = t->max_bytes;
	uint64_t bytes = t->fixed_bytes;
	for (uint32_t i = 0; i < t->nstripes; i++) {
		const struct stripe *st = &t->stripes[i];
		out->entries += __atomic_load_n(&st->n, __ATOMIC_RELAXED);
		out->inserts += counter_get(&st->inserts);
		out->updates += counter_get(&st->updates);
		out->grows += counter_get(&st->grows);
		out->evictions += counter_get(&st->evictions);
		out->removes += counter_get(&st->removes);
		bytes += counter_get(&st->bytes);
	}
	bytes += sizeof(struct cds_lfht_node) * t->buckets; /* the lfht bucket nodes */
	out->bytes = bytes;
}

void bw_table_thread_register(void)
{
	if (tls_registered)
		return;
	rcu_register_thread();
	tls_registered = true;
}

void bw_table_thread_unregister(void)
{
	if (!tls_registered)
		return;
	rcu_unregister_thread();
	tls_registered = false;
}

void bw_table_quiescent(void)
{
#ifndef BW_TABLE_RCU_MEMB
	if (tls_registered)
		rcu_quiescent_state();
#endif
}

void bw_table_thread_offline(void)
{
#ifndef BW_TABLE_RCU_MEMB
	if (tls_registered)
		rcu_thread_offline();
#endif
}

void bw_table_thread_online(void)
{
#ifndef BW_TABLE_RCU_MEMB
	if (tls_registered)
		rcu_thread_online();
#endif
}
