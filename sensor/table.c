/* SPDX-License-Identifier: MIT */
/*
 * table.c: bounded concurrent hash table for the binding tables. The read
 * path is what matters: every observation is checked against the tables, by
 * every worker, so a lookup hashes the key once (seeded SipHash, so hostile
 * names cannot aim at one chain), loads one bucket head, walks a chain of
 * about one entry comparing a 32-bit hash tag and the length before any
 * memcmp, and copies the value out under a per-entry sequence counter; it
 * takes no lock and writes no shared cache line. The index is our own RCU
 * hash list (as the Linux kernel's hlist_rcu) rather than liburcu's cds_lfht:
 * all keys of a bucket belong to one writer stripe (the stripe is the low
 * bits of the hash, which every bucket count shares), so a chain is only
 * ever changed under one lock and a reader needs nothing but acquire
 * loads. cds_lfht auto-resized in a background thread
 * only when its item count crossed a power of two, which left a full table
 * at chains of about eight (bench/NOTES.md, "Binding tables"); sized up front
 * it initialised every bucket node at start and walked them again at exit.
 * Ours doubles at a load of one half, re-chaining in place
 * under every writer lock; a reader that misses while a grow ran retries
 * (a per-table sequence count): a hit needs no check at all, and only a
 * miss that meets a grow (a few per table's life, O(entries) each) waits.
 * Removed entries are freed with call_rcu (QSBR: its read-side lock is free,
 * workers are long-running loops that report quiescent states). Values are
 * rewritten in place under the seqlock rather than copied on write because
 * most DNS answers repeat a binding already known. Writers serialise per key
 * on striped mutexes, which also guard a per-stripe dense index of entries so
 * eviction can sample random entries in O(1), and a sweep cursor that expires
 * entries past their death time a few at a time, in packet time. Beside the
 * index each stripe keeps its entries' death seconds in a dense array of the
 * same order, and the sweep reads that, not the entries: a look through the
 * index was a cache miss on a random entry, almost always a live one, at
 * every update (bench/NOTES.md, "Binding-table sweep").
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
#include <sys/mman.h>

#ifdef BW_TABLE_RCU_MEMB
#include <urcu.h> /* memb is the default flavour of urcu.h */
#else
#include <urcu-qsbr.h>
#endif
#include <urcu/compiler.h>

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
 * Readers touch next, tag, seq, klen, vlen, the key and the value, all in
 * the first bytes of the entry. The union holds what only writers (under the
 * stripe lock) use while the entry is live, and the RCU head once it is
 * removed, when no writer reaches it.
 */
struct entry {
	struct entry *next; /* bucket chain; published with release stores */
	uint32_t tag;       /* hash >> 32 (the bucket takes the low bits) */
	uint32_t seq;       /* even: value stable; odd: a writer is inside */
	uint16_t klen;
	uint16_t vlen;   /* written inside the seq window */
	uint32_t exp_s;  /* writers only: dead after this packet second; 0: never */
	union {
		struct rcu_head rcu;
		struct {
			bw_time_t last_seen; /* max packet time of the updates */
			uint32_t slot;       /* index in the stripe's slots[] */
			uint32_t vcap;       /* bytes of value room */
		} w;
	} u;
	uint64_t data[]; /* key, then value at data + key_words(klen) */
};

struct stripe {
	pthread_mutex_t lock;
	struct entry **slots; /* dense: slots[0..n) are this stripe's entries */
	uint32_t *exp;        /* exp[j] == slots[j]->exp_s, always (for the sweep) */
	uint32_t n, cap;
	uint32_t sweep; /* next slot the expiry sweep looks at */
	uint64_t *count; /* the table's entry count */
	uint64_t rng;
	uint64_t byte_cap; /* entry bytes allowed in this stripe; 0: none */
	/* Written under the lock, read by stats with relaxed loads. */
	uint64_t inserts, updates, grows, evictions, removes, expired, bytes;
} __attribute__((aligned(64)));

/* The bucket heads; replaced whole when the table grows, freed after a grace period. */
struct bucket_arr {
	struct rcu_head rcu;
	uint64_t mask; /* n - 1; bucket of hash h: h & mask */
	size_t n;
	bool mapped;
	struct entry *b[];
};

struct bw_table {
	struct bucket_arr *ba; /* published with release; stable under any stripe lock */
	uint32_t rseq;         /* odd while a grow re-chains entries (readers retry a miss) */
	uint64_t count;        /* entries, all stripes (atomic) */
	uint64_t nbuckets;     /* the current array's size, for stats (atomic) */
	size_t max_buckets;    /* two per entry of capacity rounded up to a power of 2 */
	uint64_t k0, k1;
	const char *name;
	size_t capacity, max_bytes;
	uint32_t nstripes, sample;
	size_t fixed_bytes; /* this struct, the stripes, the index */
	struct stripe *stripes;
	void *index; /* every stripe's slots[] and exp[] (index_alloc) */
	size_t index_bytes;
	bool index_mapped;
};

static __thread bool tls_registered;

/*
 * Slots of a stripe the expiry sweep examines per update (bounded work per
 * call). A look is 4 bytes of exp[], yet 8 per update cost 0.2 % more
 * instructions on the bench for no visible gain: at 2 a table is swept
 * whole every capacity / 2 updates, seconds to a minute, against the hour
 * of grace past its TTL a binding gets before it is dead at all. Where a
 * look decides something, a new key in a full stripe, it looks further
 * before it evicts a live entry.
 */
#define SWEEP_PER_UPDATE 2
#define SWEEP_BEFORE_EVICT 16

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

/* Packet second after which an entry that dies at t (ns, 0: never) is dead; rounded up. */
static inline uint32_t exp_seconds(bw_time_t t)
{
	if (t == 0)
		return 0;
	uint64_t s = t / BW_NSEC_PER_SEC + (t % BW_NSEC_PER_SEC ? 1 : 0);
	return s >= UINT32_MAX ? UINT32_MAX : (uint32_t)BW_MAX(s, (uint64_t)1);
}

#define HUGE_PAGE (2u << 20)

/*
 * The bucket array: zeroed and touched as it fills either way. From 2 MiB
 * on it is mapped on its own and marked for transparent huge pages: every
 * lookup's first load is a random bucket, and with 4 KiB pages that load
 * also missed the TLB (a page walk per lookup; about a quarter of a lookup
 * on this VM, bench/NOTES.md). A table busy enough to be that large
 * touches all its bucket pages within a few thousand keys anyway, so huge
 * pages cost no resident memory that small pages would not.
 */
static struct bucket_arr *buckets_alloc(size_t n)
{
	size_t bytes = sizeof(struct bucket_arr) + n * sizeof(struct entry *);
	struct bucket_arr *a = NULL;
	bool mapped = false;
	if (bytes >= HUGE_PAGE) {
		void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			(void)madvise(p, bytes, MADV_HUGEPAGE); /* advice: fine if THP is off */
			a = p;
			mapped = true;
		}
	}
	if (!a)
		a = calloc(1, bytes);
	if (!a)
		return NULL;
	a->n = n;
	a->mask = n - 1;
	a->mapped = mapped;
	return a;
}

static void buckets_free(struct bucket_arr *a)
{
	if (a && a->mapped)
		(void)munmap(a, sizeof(*a) + a->n * sizeof(struct entry *));
	else
		free(a);
}

static void buckets_free_rcu(struct rcu_head *head)
{
	TSAN_GP_OVER();
	buckets_free(caa_container_of(head, struct bucket_arr, rcu));
}

/*
 * The stripes' slots[] and exp[], one zeroed region per table. Calloc'd
 * per stripe (a few KiB to a few tens of KiB each) they came from the heap,
 * and glibc memsets such a chunk at once: every table's whole index was
 * resident from the start (10 MB of slots with the default tables, 15 MB
 * with exp[]). From 64 KiB on the region is a mapping of its own, zero
 * pages until the table fills them.
 */
#define INDEX_MAP_MIN (64u << 10)

static void *index_alloc(size_t bytes, bool *mapped)
{
	*mapped = false;
	if (bytes >= INDEX_MAP_MIN) {
		void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			*mapped = true;
			return p;
		}
	}
	void *p = aligned_alloc(64, bytes);
	if (p)
		memset(p, 0, bytes);
	return p;
}

static void index_free(struct bw_table *t)
{
	if (t->index_mapped)
		(void)munmap(t->index, t->index_bytes);
	else
		free(t->index);
}

/* Slots rounded up to whole cache lines, so two stripes' writers never share one. */
static inline size_t line_round(size_t n, size_t size)
{
	size_t per = 64 / size;
	return (n + per - 1) / per * per;
}

/*
 * Buckets a table starts with; it doubles whenever it holds more than half
 * as many entries (load 0.25 to 0.5: 16 to 32 bytes of heads per entry, at
 * most 32 per entry of capacity): the array's resident size follows the
 * entries. It grew 4x until the seventh round (bench/NOTES.md): 16 to 64
 * bytes a head per entry, and a step of four times the array when the
 * entries crossed a power of four, which was a third of the binding
 * tables' growth between the 1 GiB and 4 GiB bench captures. Doubling
 * re-chains each entry about twice over the table's life instead of about
 * 1.3 times. Load 1 instead saves a quarter of a big table's bucket memory
 * and costs about 15 % of full-table lookups.
 */
#define INIT_BUCKETS 4096
#define GROW_FACTOR 2

/* Dead at packet second now_s, for an entry whose exp_s is exp_s. */
static inline bool exp_dead(uint32_t exp_s, uint64_t now_s)
{
	return exp_s && exp_s != UINT32_MAX && now_s > exp_s;
}

static inline bool entry_dead(const struct entry *e, bw_time_t now)
{
	return exp_dead(e->exp_s, now / BW_NSEC_PER_SEC);
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
	if (c->seed[0] || c->seed[1]) {
		t->k0 = c->seed[0];
		t->k1 = c->seed[1];
	} else {
		uint64_t k[2];
		bw_hash_random_key(k);
		t->k0 = k[0];
		t->k1 = k[1];
	}
	/*
	 * At most two buckets per entry of capacity (rounded up to a power of
	 * 2): chains of half an entry on average, 16 to 32 bytes per entry of
	 * capacity as the lfht's buckets were. The array starts small and grows
	 * with the entries (bucket_grow), so its resident size follows what the
	 * table holds. The stripe of a key is the low bits of its hash, which
	 * its bucket shares (ns divides every bucket count), so every chain has
	 * one writer lock.
	 */
	t->max_buckets = pow2_ceil(c->capacity) * 2;
	t->ba = buckets_alloc(BW_MAX(BW_MIN(t->max_buckets, (size_t)INIT_BUCKETS), (size_t)ns));
	t->stripes = aligned_alloc(64, sizeof(*t->stripes) * ns);
	t->nbuckets = t->ba ? t->ba->n : 0;
	if (!t->ba || !t->stripes) {
		buckets_free(t->ba);
		free(t->stripes);
		free(t);
		return NULL;
	}
	memset(t->stripes, 0, sizeof(*t->stripes) * ns);
	uint32_t i;
	size_t nslots = 0, nexp = 0;
	for (i = 0; i < ns; i++) {
		struct stripe *st = &t->stripes[i];
		/* Split the capacity exactly: the first (capacity % ns) stripes take one more. */
		st->cap = (uint32_t)(c->capacity / ns + (i < c->capacity % ns ? 1 : 0));
		nslots += line_round(st->cap, sizeof(*st->slots));
		nexp += line_round(st->cap, sizeof(*st->exp));
	}
	t->index_bytes = nslots * sizeof(struct entry *) + nexp * sizeof(uint32_t);
	t->index = index_alloc(t->index_bytes, &t->index_mapped);
	if (!t->index)
		goto fail_index;
	t->fixed_bytes = sizeof(*t) + sizeof(*t->stripes) * ns + t->index_bytes;
	struct entry **sp = t->index;
	uint32_t *ep = (uint32_t *)(sp + nslots);
	for (i = 0; i < ns; i++) {
		struct stripe *st = &t->stripes[i];
		st->slots = sp;
		st->exp = ep;
		sp += line_round(st->cap, sizeof(*st->slots));
		ep += line_round(st->cap, sizeof(*st->exp));
		st->rng = (t->k0 ^ (0x9E3779B97F4A7C15ULL * (i + 1))) | 1;
		st->count = &t->count;
		st->byte_cap = c->max_bytes ? BW_MAX((uint64_t)c->max_bytes / ns, (uint64_t)1) : 0;
		if (pthread_mutex_init(&st->lock, NULL) != 0)
			goto fail;
	}
	return t;
fail:
	while (i-- > 0)
		pthread_mutex_destroy(&t->stripes[i].lock);
	index_free(t);
fail_index:
	free(t->stripes);
	buckets_free(t->ba);
	free(t);
	return NULL;
}

void bw_table_free(struct bw_table *t) { bw_table_free_n(&t, 1); }

void bw_table_free_n(struct bw_table *const *ts, size_t n)
{
	/*
	 * No user is left (the contract), so live entries go at once. Entries
	 * removed earlier, and bucket arrays replaced by a grow, may still
	 * wait for their grace period in liburcu's queue. They are not waited
	 * for: each callback frees only its own block and never looks at the
	 * table, so the table can go first. Waiting (rcu_barrier) took a
	 * wake-up of the call_rcu thread, which sleeps 10 ms between batches:
	 * 0 to 10 ms at the end of every run, a few percent of a 1 GiB
	 * capture's time, for memory the process was about to hand back.
	 * Until they run they are reachable from liburcu's queue.
	 */
	for (size_t k = 0; k < n; k++) {
		struct bw_table *t = ts[k];
		if (!t)
			continue;
		for (uint32_t i = 0; i < t->nstripes; i++) {
			struct stripe *st = &t->stripes[i];
			for (uint32_t j = 0; j < st->n; j++)
				free(st->slots[j]);
			pthread_mutex_destroy(&st->lock);
		}
		index_free(t);
		free(t->stripes);
		buckets_free(t->ba);
		free(t);
	}
}

static inline uint64_t table_hash(const struct bw_table *t, const void *key, size_t klen)
{
	return bw_hash(t->k0, t->k1, key, klen);
}

static inline struct stripe *stripe_of(const struct bw_table *t, uint64_t h)
{
	return &t->stripes[h & (t->nstripes - 1)];
}

/* The tag and the length first; then the key bytes, without a libc call for the usual
 * names (bw_mem_equal: 23 instructions a hit against the memcmp call's 31, bench/NOTES.md
 * "Seventh round"). */
static inline bool entry_is(const struct entry *e, uint32_t tag, const void *key, size_t klen)
{
	return e->tag == tag && e->klen == klen && bw_mem_equal(e->data, key, klen);
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
	uint32_t tag = (uint32_t)(h >> 32);
	int ret = BW_ENOENT;
	rcu_read_lock();
	for (unsigned spins = 0;; spins++) {
		/*
		 * Acquire loads pair with the release stores that link an entry
		 * in: its fields are visible before the pointer. An entry
		 * unlinked under us keeps its next pointer and is freed only
		 * after we pass a quiescent state, so the walk stays on live
		 * memory. A hit is always right (keys never change); a miss is
		 * only trusted if no grow re-chained entries meanwhile.
		 */
		uint32_t rs = __atomic_load_n(&t->rseq, __ATOMIC_ACQUIRE);
		const struct bucket_arr *ba = __atomic_load_n(&t->ba, __ATOMIC_ACQUIRE);
		struct entry *e = __atomic_load_n(&ba->b[h & ba->mask], __ATOMIC_ACQUIRE);
		size_t hops = 0;
		for (; e && hops <= t->capacity; e = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE), hops++) {
			if (entry_is(e, tag, key, klen)) {
				ret = read_value(e, out, cap);
				goto done;
			}
		}
		if (bw_likely(!(rs & 1) && !e && __atomic_load_n(&t->rseq, __ATOMIC_RELAXED) == rs))
			break;
		if (spins > 64)
			sched_yield(); /* a grow is running: it holds every writer lock for O(entries) */
		else
			caa_cpu_relax();
	}
done:
	rcu_read_unlock();
	TSAN_READER_DONE();
	return ret;
}

/* Under the key's stripe lock: the link that points at key's entry (*link NULL if absent). */
static struct entry **find_link(struct bw_table *t, uint64_t h, const void *key, size_t klen)
{
	uint32_t tag = (uint32_t)(h >> 32);
	struct bucket_arr *ba = t->ba;
	struct entry **link = &ba->b[h & ba->mask];
	while (*link && !entry_is(*link, tag, key, klen))
		link = &(*link)->next;
	return link;
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

/* A new, unlinked entry for key with room for at least n value bytes. */
static struct entry *entry_alloc(uint64_t h, const void *key, size_t klen, const uint64_t *val, size_t n,
				 size_t *usable)
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
	e->next = NULL;
	e->tag = (uint32_t)(h >> 32);
	e->seq = 0;
	e->exp_s = 0;
	e->u.w.last_seen = 0;
	e->u.w.slot = 0;
	e->u.w.vcap = (uint32_t)vcap;
	e->klen = (uint16_t)klen;
	e->vlen = (uint16_t)n;
	e->data[kbytes / 8 - 1] = 0; /* key padding */
	memcpy(e->data, key, klen);
	memcpy(entry_val(e), val, (n + 7) & ~(size_t)7);
	*usable = got;
	return e;
}

static void slot_remove(struct stripe *st, uint32_t i)
{
	uint32_t n = st->n - 1;
	struct entry *last = st->slots[n];
	st->slots[i] = last;
	st->exp[i] = st->exp[n];
	last->u.w.slot = i;
	st->slots[n] = NULL;
	st->exp[n] = 0;
	__atomic_store_n(&st->n, n, __ATOMIC_RELAXED); /* stats read it unlocked */
	__atomic_fetch_sub(st->count, 1, __ATOMIC_RELAXED);
}

/* Unlink e (live, in st; link points at it) and free it after a grace period. Under st->lock. */
static void entry_unlink(struct stripe *st, struct entry **link, struct entry *e)
{
	/* Readers on e still follow e->next, which stays as it is. */
	__atomic_store_n(link, e->next, __ATOMIC_RELEASE);
	slot_remove(st, e->u.w.slot);
	counter_sub(&st->bytes, malloc_usable_size(e));
	call_rcu(&e->u.rcu, free_entry_rcu);
}

/* Remove e (live, in st) found through the index, not the chain. Under st->lock. */
static void entry_remove(struct bw_table *t, struct stripe *st, struct entry *e)
{
	uint64_t h = table_hash(t, e->data, e->klen);
	struct entry **link = find_link(t, h, e->data, e->klen);
	if (*link == e)
		entry_unlink(st, link, e);
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

/*
 * Look at up to budget slots of st from its sweep cursor; remove those dead
 * at now, never keep. Only exp[] is read for a live entry (sequential, 4
 * bytes a look): the entry itself is touched only to remove it.
 */
static uint32_t sweep_stripe(struct bw_table *t, struct stripe *st, bw_time_t now, uint32_t budget,
			     const struct entry *keep)
{
	uint64_t now_s = now / BW_NSEC_PER_SEC;
	uint32_t removed = 0;
	for (uint32_t k = 0; k < budget && st->n; k++) {
		if (st->sweep >= st->n)
			st->sweep = 0;
		struct entry *e;
		if (exp_dead(st->exp[st->sweep], now_s) && (e = st->slots[st->sweep]) != keep) {
			/* The last slot moves into this one: look at it next. */
			entry_remove(t, st, e);
			counter_add(&st->expired, 1);
			removed++;
		} else {
			st->sweep++;
		}
	}
	return removed;
}

/*
 * Grow the bucket array GROW_FACTOR times, under every writer lock (taken in order; a
 * writer never holds two). Entries are re-chained in place, which a reader
 * walking an old chain may see half done: rseq is odd meanwhile, and every
 * re-chained pointer is stored with release after rseq changed, so a reader
 * that followed one sees the change and retries its miss. Re-chained entries
 * only point to re-chained ones, so no walk can loop. The old array goes
 * after a grace period. O(entries), amortised O(1) per insert.
 */
static void bucket_grow(struct bw_table *t)
{
	for (uint32_t i = 0; i < t->nstripes; i++)
		pthread_mutex_lock(&t->stripes[i].lock);
	struct bucket_arr *old = t->ba;
	uint64_t cnt = __atomic_load_n(&t->count, __ATOMIC_RELAXED);
	if (cnt * 2 <= old->n || old->n >= t->max_buckets)
		goto out; /* another writer grew it first */
	struct bucket_arr *na = buckets_alloc(BW_MIN(old->n * GROW_FACTOR, t->max_buckets));
	if (!na)
		goto out; /* stay at this size: longer chains, still right */
	uint32_t rs = t->rseq;
	__atomic_store_n(&t->rseq, rs + 1, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < t->nstripes; i++) {
		struct stripe *st = &t->stripes[i];
		for (uint32_t j = 0; j < st->n; j++) {
			struct entry *e = st->slots[j];
			uint64_t h = table_hash(t, e->data, e->klen);
			struct entry **head = &na->b[h & na->mask];
			__atomic_store_n(&e->next, *head, __ATOMIC_RELEASE);
			*head = e; /* na is not published yet */
		}
	}
	__atomic_store_n(&t->ba, na, __ATOMIC_RELEASE);
	__atomic_store_n(&t->nbuckets, (uint64_t)na->n, __ATOMIC_RELAXED);
	__atomic_store_n(&t->rseq, rs + 2, __ATOMIC_RELEASE);
	call_rcu(&old->rcu, buckets_free_rcu);
out:
	for (uint32_t i = t->nstripes; i-- > 0;)
		pthread_mutex_unlock(&t->stripes[i].lock);
}

int bw_table_update_until(struct bw_table *t, const void *key, size_t klen, bw_time_t now, bw_table_update_fn fn,
			  void *ctx, const bw_time_t *expires)
{
	if (!t || !fn || klen == 0 || klen > BW_TABLE_KEY_MAX)
		return BW_EINVAL;
	uint64_t scratch[BW_TABLE_VALUE_MAX / 8];
	uint64_t h = table_hash(t, key, klen);
	struct stripe *st = stripe_of(t, h);
	int ret;

	rcu_read_lock();
	const struct bucket_arr *cur_ba = __atomic_load_n(&t->ba, __ATOMIC_ACQUIRE);
	if (bw_unlikely(__atomic_load_n(&t->count, __ATOMIC_RELAXED) * 2 > cur_ba->n && cur_ba->n < t->max_buckets))
		bucket_grow(t);
	pthread_mutex_lock(&st->lock);
	/* Under the stripe lock nobody else can add, change or remove this key. */
	struct entry **link = find_link(t, h, key, klen);
	struct entry *e = *link;
	bool dead = e && entry_dead(e, now);
	/* A dead entry is absent to its writer: the value starts afresh (in the same entry if it fits). */
	ret = fn(ctx, e && !dead ? (const void *)entry_val(e) : NULL, e && !dead ? e->vlen : 0, scratch,
		 sizeof(scratch));
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
	if (e && dead) {
		counter_add(&st->expired, 1);
		counter_add(&st->inserts, 1);
	} else if (e) {
		counter_add(&st->updates, 1);
	}
	if (e && n <= e->u.w.vcap) {
		write_value(e, scratch, n);
		if (dead || now > e->u.w.last_seen)
			e->u.w.last_seen = now;
	} else if (e) {
		size_t usable;
		struct entry *ne = entry_alloc(h, key, klen, scratch, n, &usable);
		if (!ne) {
			ret = BW_ENOMEM;
			goto out;
		}
		ne->u.w.last_seen = dead ? now : BW_MAX(now, e->u.w.last_seen);
		ne->u.w.slot = e->u.w.slot;
		ne->exp_s = e->exp_s;
		ne->next = e->next;
		/* Readers see the old entry or the new one, never neither. */
		__atomic_store_n(link, ne, __ATOMIC_RELEASE);
		st->slots[ne->u.w.slot] = ne;
		cur = ne;
		counter_add(&st->bytes, usable);
		counter_sub(&st->bytes, malloc_usable_size(e));
		call_rcu(&e->u.rcu, free_entry_rcu);
		counter_add(&st->grows, 1);
	} else {
		size_t usable;
		struct entry *ne = entry_alloc(h, key, klen, scratch, n, &usable);
		if (!ne) {
			ret = BW_ENOMEM;
			goto out;
		}
		if (st->n >= st->cap && sweep_stripe(t, st, now, BW_MIN(st->n, (uint32_t)SWEEP_BEFORE_EVICT), NULL) == 0)
			evict_one(t, st, NULL);
		/* The eviction may have unlinked our bucket's head: link again from the bucket. */
		link = &t->ba->b[h & t->ba->mask];
		ne->u.w.last_seen = now;
		ne->u.w.slot = st->n;
		ne->next = *link;
		st->slots[st->n] = ne;
		st->exp[st->n] = ne->exp_s;
		__atomic_store_n(&st->n, st->n + 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&t->count, 1, __ATOMIC_RELAXED);
		__atomic_store_n(link, ne, __ATOMIC_RELEASE);
		counter_add(&st->bytes, usable);
		counter_add(&st->inserts, 1);
		cur = ne;
	}
	uint32_t exp_s = expires ? exp_seconds(*expires) : 0;
	if (cur->exp_s != exp_s) {
		/* Only on a change (a rewrite in the same second keeps it): exp[] is one more random line. */
		cur->exp_s = exp_s;
		st->exp[cur->u.w.slot] = exp_s;
	}
	/* Dead entries go a few at a time, in packet time: the table holds what is alive. */
	(void)sweep_stripe(t, st, now, SWEEP_PER_UPDATE, cur);
	/* Over the byte budget (a long key, a grown set): make room, O(sample) each. */
	for (uint32_t k = st->n; k > 0 && st->byte_cap && counter_get(&st->bytes) > st->byte_cap && st->n > 1; k--)
		evict_one(t, st, cur);
out:
	pthread_mutex_unlock(&st->lock);
	rcu_read_unlock();
	TSAN_READER_DONE();
	return ret;
}

int bw_table_update(struct bw_table *t, const void *key, size_t klen, bw_time_t now, bw_table_update_fn fn,
		    void *ctx)
{
	return bw_table_update_until(t, key, klen, now, fn, ctx, NULL);
}

int bw_table_remove(struct bw_table *t, const void *key, size_t klen)
{
	if (!t || klen == 0 || klen > BW_TABLE_KEY_MAX)
		return BW_ENOENT;
	uint64_t h = table_hash(t, key, klen);
	struct stripe *st = stripe_of(t, h);
	int ret = BW_ENOENT;
	rcu_read_lock();
	pthread_mutex_lock(&st->lock);
	struct entry **link = find_link(t, h, key, klen);
	if (*link) {
		entry_unlink(st, link, *link);
		counter_add(&st->removes, 1);
		ret = BW_OK;
	}
	pthread_mutex_unlock(&st->lock);
	rcu_read_unlock();
	TSAN_READER_DONE();
	return ret;
}

size_t bw_table_sweep(struct bw_table *t, bw_time_t now, size_t budget)
{
	if (!t || budget == 0)
		return 0;
	size_t removed = 0;
	/* Spread the budget over the stripes, one lock at a time. */
	uint32_t per = (uint32_t)BW_MAX(budget / t->nstripes, (size_t)1);
	rcu_read_lock();
	for (uint32_t i = 0; i < t->nstripes && budget; i++) {
		struct stripe *st = &t->stripes[i];
		uint32_t b = (uint32_t)BW_MIN((size_t)per, budget);
		pthread_mutex_lock(&st->lock);
		removed += sweep_stripe(t, st, now, b, NULL);
		pthread_mutex_unlock(&st->lock);
		budget -= b;
	}
	rcu_read_unlock();
	TSAN_READER_DONE();
	return removed;
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
		out->expired += counter_get(&st->expired);
		bytes += counter_get(&st->bytes);
	}
	bytes += sizeof(struct entry *) * __atomic_load_n(&t->nbuckets, __ATOMIC_RELAXED);
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
