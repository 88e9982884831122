/* SPDX-License-Identifier: MIT */
/*
 * table.h: a bounded concurrent hash table shared by all workers, the
 * building block of the binding tables (bindings.h).
 *
 * Keys are byte strings (1..BW_TABLE_KEY_MAX bytes), values are byte strings
 * (1..BW_TABLE_VALUE_MAX bytes) that the table copies in and out: callers
 * never hold a pointer into the table, so they need not know about RCU.
 *
 * Concurrency:
 *  - Lookups are lock-free and write no shared memory: an array of
 *    bucket heads leads to a chain of
 *    entries linked with release stores and walked with acquire loads (an
 *    RCU hash list, QSBR flavour), and a per-entry sequence counter
 *    (seqlock) lets the reader copy a consistent snapshot of the value,
 *    retrying if a writer was in it meanwhile.
 *  - Writers take one of a few dozen stripe locks (chosen by the key's hash;
 *    all keys of one bucket share a stripe, so all writes of one key and of
 *    one chain are serialised); readers never take them.
 *    A value that still fits its entry is rewritten in place (no allocation
 *    per update); a value that grows gets a new entry linked in place of the
 *    old one; the old one is freed with call_rcu.
 *  - Removed entries are freed after an RCU grace period: a reader inside a
 *    lookup never sees freed memory.
 *
 * Memory: bw_table_new reserves a 12-byte index slot per entry of
 * capacity (the entry's address and its death second, which the sweep reads
 * instead of the entry), from 64 KiB on in a mapping of its own: pages are
 * touched as the table fills. The bucket heads (8 bytes each) start at 4096
 * and double whenever the table holds more than half as many entries, up
 * to two per entry of capacity rounded up to a power of two: a grow
 * re-chains every entry under all writer locks while lookups go on (a
 * lookup that misses during one retries). Each key then costs one
 * allocation (a 40-byte header, the key padded to 8, the value).
 * bw_table_update uses about BW_TABLE_VALUE_MAX bytes of stack, lookups
 * none beyond the caller's buffer.
 *
 * Expiry (packet time): bw_table_update_until gives an entry a death time.
 * Once an update's packet time has passed it (by whole seconds), the entry
 * is dead: the next update of its key sees it as absent (the callback gets
 * old NULL, the value starts afresh, counted as expired and inserted), and
 * every update sweeps 2 index slots of its stripe from a cursor, removing
 * dead entries (counted as expired), so a table's size follows what is
 * alive, not how long it has run. A new key in a full stripe takes the
 * room of a dead entry found by the sweep (up to 16 slots) before it evicts
 * a live one.
 * bw_table_sweep does the same on demand. Lookups do not judge death (they
 * have no time): a dead entry stays visible until it is swept or rewritten.
 * Entries written by bw_table_update never die.
 *
 * Bounds: at most `capacity` entries. The capacity is split evenly across
 * the stripes; a new key whose stripe is full evicts the stalest entry of a
 * random sample of that stripe (Redis-style sampled eviction: by the entry's
 * last update time, which is packet time), O(sample) per eviction, counted.
 * When a stripe holds no more entries than the sample size the choice is
 * exact (the stalest entry of the stripe). With max_bytes, each stripe also
 * keeps its entries' bytes under max_bytes / stripes: an insert or a grow
 * that passes it evicts (the same way, never the entry just written) until
 * it fits again, so long keys cannot stretch a table past its byte budget.
 *
 * Threads (QSBR rules; the flavour is private to table.c): every thread that calls any bw_table_* function
 * other than bw_table_new must first call bw_table_thread_register(), and
 * bw_table_thread_unregister() before it exits. A registered thread must
 * call bw_table_quiescent() regularly (workers: after each packet or batch)
 * and must not hold anything from the table across it (the API copies out,
 * so there is nothing to hold). A registered thread that is about to block
 * for long (waiting for packets, joining threads) calls
 * bw_table_thread_offline() first and bw_table_thread_online() after:
 * until every registered, online thread passes a quiescent state no removed
 * entry is freed, so a thread that neither reports nor goes offline makes
 * memory grow.
 */
#ifndef BW_TABLE_H
#define BW_TABLE_H

#include "bw.h"

#define BW_TABLE_KEY_MAX 2048     /* bytes of key */
#define BW_TABLE_VALUE_MAX 8192   /* bytes of value */
#define BW_TABLE_DEFAULT_SAMPLE 8 /* entries sampled per eviction */
#define BW_TABLE_MAX_STRIPES 64
#define BW_TABLE_MAX_CAPACITY (1u << 26)

struct bw_table_config {
	const char *name; /* label in stats; a static string (not copied) */
	size_t capacity;  /* max entries, 1..BW_TABLE_MAX_CAPACITY */
	uint32_t sample;  /* eviction sample size; 0: BW_TABLE_DEFAULT_SAMPLE */
	uint32_t stripes; /* writer lock stripes, a power of 2 <= 64; 0: by capacity */
	uint64_t seed[2]; /* hash key; both 0: random */
	size_t max_bytes; /* 0: no byte cap; else entry bytes (allocator sizes) kept under about this */
};

struct bw_table_stats {
	const char *name;
	uint64_t entries;   /* now in the table */
	uint64_t capacity;  /* configured */
	uint64_t inserts;   /* new keys */
	uint64_t updates;   /* writes to an existing key */
	uint64_t grows;     /* updates that needed a bigger entry (copy + replace) */
	uint64_t evictions; /* entries evicted to make room */
	uint64_t removes;   /* bw_table_remove() that found the key */
	uint64_t expired;   /* dead entries removed by a sweep or restarted by an update */
	uint64_t bytes;     /* entries (allocator sizes), index (12 B/entry of capacity), bucket
			     * heads (8 B, two per entry of capacity rounded up to a power of 2) */
	uint64_t max_bytes; /* configured byte cap of the entries (0: none) */
};

struct bw_table;

/* NULL on ENOMEM or a bad configuration. May be called by any thread. */
struct bw_table *bw_table_new(const struct bw_table_config *c);

/*
 * Free the table and every live entry. No other thread may use the table
 * during or after the call. NULL-safe; callable from a registered or an
 * unregistered thread. Entries removed earlier are freed by their pending
 * RCU callbacks, which touch nothing of the table: the call does not wait
 * for them.
 */
void bw_table_free(struct bw_table *t);
/* bw_table_free of n tables (NULL entries skipped). */
void bw_table_free_n(struct bw_table *const *t, size_t n);

/*
 * Writer callback of bw_table_update(), called under the key's stripe lock.
 * old/old_len: the current value (NULL/0 if the key is absent); read-only,
 * valid only during the call. Build the new value into out (cap is
 * BW_TABLE_VALUE_MAX bytes, 8-aligned) and return its length (> 0), or 0 to
 * leave the table unchanged (no entry is created), or a negative BW_E*.
 * The callback must not call back into the table.
 */
typedef int (*bw_table_update_fn)(void *ctx, const void *old, size_t old_len, void *out, size_t cap);

/*
 * Read-modify-write the value of key through fn, marking the entry seen at
 * now (max of the times given, for eviction). Returns fn's result (> 0: the
 * new value's length, 0: unchanged) or BW_EINVAL (key or value length out of
 * range), BW_ENOMEM (then the table is unchanged), or fn's error.
 */
int bw_table_update(struct bw_table *t, const void *key, size_t klen, bw_time_t now, bw_table_update_fn fn,
		    void *ctx);

/*
 * The same, and the entry's death time becomes *expires (packet time, ns;
 * 0: never), read after fn returns (so fn may set it through its ctx). A
 * NULL expires is 0. Whole seconds count: the entry is dead once an update
 * at a later second than ceil(*expires) comes. Dead entries: see "Expiry".
 */
int bw_table_update_until(struct bw_table *t, const void *key, size_t klen, bw_time_t now, bw_table_update_fn fn,
			  void *ctx, const bw_time_t *expires);

/*
 * Sweep up to budget index slots (spread over the stripes) and remove the
 * entries dead at now. Returns how many it removed. Takes each stripe lock
 * in turn; bounded work.
 */
size_t bw_table_sweep(struct bw_table *t, bw_time_t now, size_t budget);

/*
 * Copy the value of key into out (cap bytes). Returns its length, BW_ENOENT
 * if the key is absent, or BW_ELIMIT if cap is smaller than the value (out
 * is then unspecified). Takes no lock and never blocks a writer; a miss
 * that meets a bucket grow waits for it to end (Memory, above).
 */
int bw_table_lookup(struct bw_table *t, const void *key, size_t klen, void *out, size_t cap);

/* Remove key. BW_OK, or BW_ENOENT if absent. */
int bw_table_remove(struct bw_table *t, const void *key, size_t klen);

/* Counters (relaxed snapshot: each counter is exact, the set is not atomic). */
void bw_table_stats(const struct bw_table *t, struct bw_table_stats *out);

/* RCU thread registration and quiescent states: see the rules above. */
void bw_table_thread_register(void);   /* idempotent */
void bw_table_thread_unregister(void); /* no-op if not registered */
void bw_table_quiescent(void);         /* no-op if not registered */
void bw_table_thread_offline(void);
void bw_table_thread_online(void);

#endif /* BW_TABLE_H */
