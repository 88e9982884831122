/* SPDX-License-Identifier: MIT */
/*
 * alerts.c: alert suppression and the bindwatch.alert event. The
 * suppression table is a set-associative cache of dedup-key hashes (8 ways
 * per bucket, the oldest way replaced), so its memory is fixed whatever an
 * attacker makes us alert on; a forgotten key can only cause one extra alert
 * later, never a lost one. A bucket holds only the ways' hashes and the
 * numbers of their entries; the entries themselves are handed out in order
 * from one array. The table starts with few buckets and doubles (splitting
 * each bucket in place) when a bucket fills, up to the cap; only at the cap
 * is a way replaced. So the memory touched grows with the keys actually seen
 * (160 bytes each, plus at most 2 x 96 bytes of buckets per 8 keys), not by a
 * page per key as when the entries sat in randomly hashed buckets of a table
 * sized for the cap. Rate limiting per type is a token bucket in
 * packet time, so an offline run gives the same alerts every time; what it
 * holds back is summed per type and written as one summary alert per type
 * and window, so an alert storm costs a bounded number of events and no
 * count is lost.
 */
#include "alerts.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parsers/pktdedup.h"

static const char *const type_names[BW_AL__COUNT] = {
#define BW_AL_NAME(id, name, sev, desc) [BW_AL_##id] = name,
	BW_ALERT_LIST(BW_AL_NAME)
#undef BW_AL_NAME
};
static const char *const type_descs[BW_AL__COUNT] = {
#define BW_AL_DESC(id, name, sev, desc) [BW_AL_##id] = desc,
	BW_ALERT_LIST(BW_AL_DESC)
#undef BW_AL_DESC
};
static const int type_sevs[BW_AL__COUNT] = {
#define BW_AL_SEV(id, name, sev, desc) [BW_AL_##id] = sev,
	BW_ALERT_LIST(BW_AL_SEV)
#undef BW_AL_SEV
};

const char *bw_alert_type_name(enum bw_alert_type t) { return (unsigned)t < BW_AL__COUNT ? type_names[t] : "unknown"; }
const char *bw_alert_type_description(enum bw_alert_type t)
{
	return (unsigned)t < BW_AL__COUNT ? type_descs[t] : "";
}
int bw_alert_type_severity(enum bw_alert_type t) { return (unsigned)t < BW_AL__COUNT ? type_sevs[t] : 1; }

int bw_alert_type_from_name(const char *name)
{
	for (int i = 0; i < BW_AL__COUNT; i++)
		if (strcmp(type_names[i], name) == 0)
			return i;
	return -1;
}

struct bw_evidence *bw_alert_evidence(struct bw_alert *a, const char *kind)
{
	/* write-only overflow target, never read; per thread so workers do not race on it */
	static _Thread_local struct bw_evidence sink;
	if (a->n_evidence >= BW_ALERT_MAX_EVIDENCE)
		return memset(&sink, 0, sizeof(sink));
	struct bw_evidence *e = &a->evidence[a->n_evidence++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	return e;
}

/* ---- suppression ---- */

#define WAYS 8

struct dedup_entry {
	uint32_t next_free;        /* free list link while unused */
	bw_time_t last_emit;       /* packet time of the last written alert */
	bw_time_t last_seen;
	uint64_t held;             /* repeats held back since last_emit */
	uint64_t total;
	uint8_t type;
	char id[17];
	char name[96];             /* for the end-of-run update, cut if longer */
};

/* hash[w] == 0: way w is empty; else slot[w] is its entry in the pool. */
struct dedup_bucket {
	uint64_t hash[WAYS];
	uint32_t slot[WAYS];
};

#define NO_SLOT UINT32_MAX
#define INITIAL_BUCKETS 64u

/* Token bucket and held-back tally of one alert type. */
struct rate_state {
	double tokens;
	bw_time_t refilled;   /* packet time of the last refill; 0: never used */
	uint64_t held;        /* held back since the last summary */
	bw_time_t held_first, held_last;
};

/* A summary to write once the lock is released. */
struct held_summary {
	enum bw_alert_type type;
	uint64_t count;
	bw_time_t first, last;
};

struct bw_alerts {
	struct bw_alerts_config cfg;
	pthread_mutex_t lock;
	uint64_t seed[2];
	uint64_t counter;
	struct dedup_bucket *table;
	uint32_t buckets;          /* in use: a power of two <= max_buckets */
	uint32_t max_buckets;      /* table, pool and held_map are allocated for this many */
	struct dedup_entry *pool;  /* max_buckets * WAYS entries, handed out from the front */
	uint32_t pool_used;        /* entries ever handed out */
	uint32_t free_head;        /* entries given back (NO_SLOT: none) */
	struct rate_state rl[BW_AL__COUNT];
	struct bw_alerts_stats st;
	/* Buckets where an alert was ever held back by suppression, a bit each:
	 * the end-of-run flush visits only those (the table is megabytes, mostly
	 * never touched, and reading it all faulted in every page). */
	uint64_t *held_map;
};

struct bw_alerts *bw_alerts_new(const struct bw_alerts_config *c)
{
	struct bw_alerts *al = calloc(1, sizeof(*al));
	if (!al)
		return NULL;
	if (c)
		al->cfg = *c;
	if (!al->cfg.suppress)
		al->cfg.suppress = 3600 * BW_NSEC_PER_SEC;
	if (!al->cfg.max_keys)
		al->cfg.max_keys = 65536;
	if (!al->cfg.burst)
		al->cfg.burst = al->cfg.max_per_type_per_min;
	if (!al->cfg.summary_window)
		al->cfg.summary_window = 60 * BW_NSEC_PER_SEC;
	uint32_t b = 1;
	while ((uint64_t)b * WAYS < al->cfg.max_keys)
		b <<= 1;
	/* calloc'd memory is untouched until used: the unused part of the
	 * table costs address space, not resident memory */
	al->max_buckets = b;
	al->buckets = BW_MIN(b, INITIAL_BUCKETS);
	al->table = calloc(b, sizeof(*al->table));
	al->pool = calloc((size_t)b * WAYS, sizeof(*al->pool));
	al->free_head = NO_SLOT;
	al->held_map = calloc(((size_t)b + 63) / 64, sizeof(*al->held_map));
	if (!al->table || !al->pool || !al->held_map) {
		free(al->table);
		free(al->pool);
		free(al->held_map);
		free(al);
		return NULL;
	}
	bw_hash_random_key(al->seed);
	pthread_mutex_init(&al->lock, NULL);
	return al;
}

void bw_alerts_free(struct bw_alerts *al)
{
	if (!al)
		return;
	pthread_mutex_destroy(&al->lock);
	free(al->table);
	free(al->pool);
	free(al->held_map);
	free(al);
}

static void alert_key(struct bw_alert *a)
{
	if (a->dedup_key[0])
		return;
	char ip[64];
	snprintf(a->dedup_key, sizeof(a->dedup_key), "%s|%s|%s|%u|%s", bw_alert_type_name(a->type),
		 a->name ? a->name : "", a->addr.family ? bw_ip_str(&a->addr, ip, sizeof(ip)) : "", a->port,
		 a->cert_sha256 ? a->cert_sha256 : "");
}

/* Double the buckets in use: the ways of bucket i whose hash has the new
 * index bit move to bucket i + old count (fresh, all-zero memory). */
static void dedup_grow(struct bw_alerts *al)
{
	uint32_t old = al->buckets;
	for (uint32_t i = 0; i < old; i++) {
		struct dedup_bucket *from = &al->table[i], *to = &al->table[i + old];
		int n = 0;
		for (int w = 0; w < WAYS; w++) {
			if (!(from->hash[w] & old))
				continue;
			to->hash[n] = from->hash[w];
			to->slot[n] = from->slot[w];
			if (al->pool[from->slot[w]].held)
				al->held_map[(i + old) / 64] |= UINT64_C(1) << ((i + old) % 64);
			n++;
			from->hash[w] = 0;
		}
	}
	al->buckets = old * 2;
}

/* Find or make the entry of hash; *is_new when it was not there, and then
 * *bucket and *way say where, for dedup_forget. Lock held. A full bucket
 * gives up the way whose entry was seen least recently, and its entry. */
static struct dedup_entry *dedup_slot(struct bw_alerts *al, uint64_t hash, bool *is_new, struct dedup_bucket **bucket,
				      int *way)
{
	struct dedup_bucket *b;
	int victim;
	for (;;) {
		b = &al->table[hash & (al->buckets - 1)];
		victim = -1;
		for (int i = 0; i < WAYS; i++) {
			if (b->hash[i] == hash) {
				*is_new = false;
				return &al->pool[b->slot[i]];
			}
			if (b->hash[i] == 0 && victim < 0)
				victim = i;
		}
		if (victim >= 0 || al->buckets == al->max_buckets)
			break;
		dedup_grow(al);
	}
	uint32_t slot;
	if (victim >= 0) {
		if (al->free_head != NO_SLOT) {
			slot = al->free_head;
			al->free_head = al->pool[slot].next_free;
		} else {
			/* a bucket has a free way only while the pool has entries left:
			 * the pool holds as many entries as all buckets have ways */
			slot = al->pool_used++;
		}
	} else {
		victim = 0;
		for (int i = 1; i < WAYS; i++)
			if (al->pool[b->slot[i]].last_seen < al->pool[b->slot[victim]].last_seen)
				victim = i;
		slot = b->slot[victim];
		al->st.keys_evicted++;
	}
	struct dedup_entry *e = &al->pool[slot];
	memset(e, 0, sizeof(*e));
	b->hash[victim] = hash;
	b->slot[victim] = slot;
	*is_new = true;
	*bucket = b;
	*way = victim;
	return e;
}

/* Give back the entry just made at (b, way): the key is not remembered. */
static void dedup_forget(struct bw_alerts *al, struct dedup_bucket *b, int way)
{
	uint32_t slot = b->slot[way];
	b->hash[way] = 0;
	al->pool[slot].next_free = al->free_head;
	al->free_head = slot;
}

/* ---- the event ---- */

static void write_alert(struct bw_json *j, const struct bw_alert *a, const char *id, uint64_t repeats,
			bw_time_t first_emit, bool update, const struct held_summary *hs)
{
	const struct bw_obs_meta *m = a->meta;
	char ip[64];
	bw_time_t ts = m ? m->ts : (a->n_evidence ? a->evidence[0].ts : 0);
	int sev = a->severity ? a->severity : bw_alert_type_severity(a->type);

	bw_json_reset(j);
	bw_json_obj_begin(j, NULL);
	bw_json_time(j, "@timestamp", ts);
	bw_json_obj_begin(j, "event");
	bw_json_str(j, "kind", "alert");
	bw_json_str(j, "dataset", "bindwatch.alert");
	bw_json_str(j, "id", id);
	bw_json_u64(j, "severity", (uint64_t)sev);
	bw_json_str(j, "reason", a->reason);
	if (hs)
		bw_json_str(j, "action", "rate-limit-summary");
	else if (update)
		bw_json_str(j, "action", "repeat-summary");
	bw_json_obj_end(j);
	bw_json_obj_begin(j, "rule");
	bw_json_str(j, "name", bw_alert_type_name(a->type));
	bw_json_str(j, "description", bw_alert_type_description(a->type));
	bw_json_str(j, "ruleset", "bindwatch");
	bw_json_obj_end(j);
	if (m && m->src.family) {
		bw_json_obj_begin(j, "source");
		bw_json_ip(j, "ip", &m->src);
		bw_json_u64(j, "port", m->sport);
		bw_json_obj_end(j);
	}
	if ((m && m->dst.family) || a->name) {
		bw_json_obj_begin(j, "destination");
		if (m && m->dst.family) {
			bw_json_ip(j, "ip", &m->dst);
			bw_json_u64(j, "port", m->dport);
		}
		if (a->name)
			bw_json_str(j, "domain", a->name);
		bw_json_obj_end(j);
	}
	if (m && m->src.family) {
		bw_json_obj_begin(j, "network");
		bw_json_str(j, "transport", m->transport == IPPROTO_TCP ? "tcp" : "udp");
		bw_json_obj_end(j);
	}
	if (a->cert_sha256) {
		bw_json_obj_begin(j, "tls");
		bw_json_obj_begin(j, "server");
		bw_json_obj_begin(j, "hash");
		bw_json_str(j, "sha256", a->cert_sha256);
		bw_json_obj_end(j);
		bw_json_obj_end(j);
		bw_json_obj_end(j);
	}
	bw_json_obj_begin(j, "bindwatch");
	if (m && m->file) {
		bw_json_obj_begin(j, "pcap");
		bw_json_str(j, "file", m->file);
		if (m->packet)
			bw_json_u64(j, "packet", m->packet);
		bw_json_obj_end(j);
	}
	bw_json_obj_begin(j, "alert");
	bw_json_str(j, "type", bw_alert_type_name(a->type));
	bw_json_str(j, "dedup_key", a->dedup_key);
	bw_json_u64(j, "repeats", repeats);
	if (first_emit)
		bw_json_time(j, "previous_alert", first_emit);
	if (a->name)
		bw_json_str(j, "name", a->name);
	if (a->addr.family)
		bw_json_str(j, "address", bw_ip_str(&a->addr, ip, sizeof(ip)));
	if (a->port)
		bw_json_u64(j, "port", a->port);
	if (a->cert_sha256)
		bw_json_str(j, "cert_sha256", a->cert_sha256);
	if (a->policy)
		bw_json_str(j, "policy", a->policy);
	if (hs) {
		bw_json_obj_begin(j, "held_back");
		bw_json_u64(j, "count", hs->count);
		bw_json_time(j, "first", hs->first);
		bw_json_time(j, "last", hs->last);
		bw_json_obj_end(j);
	}
	bw_json_obj_end(j);
	if (a->n_evidence) {
		bw_json_arr_begin(j, "evidence");
		for (unsigned i = 0; i < a->n_evidence; i++) {
			const struct bw_evidence *e = &a->evidence[i];
			bw_json_obj_begin(j, NULL);
			bw_json_str(j, "kind", e->kind);
			if (e->ts)
				bw_json_time(j, "@timestamp", e->ts);
			if (e->file)
				bw_json_str(j, "file", e->file);
			if (e->packet)
				bw_json_u64(j, "packet", e->packet);
			if (e->name)
				bw_json_str(j, "name", e->name);
			if (e->addr.family)
				bw_json_str(j, "address", bw_ip_str(&e->addr, ip, sizeof(ip)));
			if (e->port)
				bw_json_u64(j, "port", e->port);
			if (e->cert_sha256)
				bw_json_str(j, "cert_sha256", e->cert_sha256);
			if (e->summary)
				bw_json_str(j, "summary", e->summary);
			bw_json_obj_end(j);
		}
		bw_json_arr_end(j);
	}
	bw_json_obj_end(j); /* bindwatch */
	bw_json_obj_end(j);
}

/* Take a token of type t's bucket at ts. Lock held. */
static bool rate_take(struct bw_alerts *al, unsigned t, bw_time_t ts)
{
	if (!al->cfg.max_per_type_per_min)
		return true;
	struct rate_state *r = &al->rl[t];
	double burst = (double)al->cfg.burst;
	if (r->refilled == 0) {
		r->tokens = burst;
		r->refilled = ts ? ts : 1;
	} else if (ts > r->refilled) {
		/* Workers are not in lockstep: an older time adds nothing, and is not refunded. */
		r->tokens += (double)(ts - r->refilled) * (double)al->cfg.max_per_type_per_min /
			     (60.0 * (double)BW_NSEC_PER_SEC);
		if (r->tokens > burst)
			r->tokens = burst;
		r->refilled = ts;
	}
	if (r->tokens < 1.0)
		return false;
	r->tokens -= 1.0;
	return true;
}

/* Collect (and reset) the held-back tallies due at now (all of them: at_end). Lock held. */
static size_t summaries_due(struct bw_alerts *al, bw_time_t now, bool at_end, struct held_summary *out)
{
	size_t n = 0;
	for (unsigned t = 0; t < BW_AL__COUNT; t++) {
		struct rate_state *r = &al->rl[t];
		if (r->held == 0 || (!at_end && (now < r->held_first || now - r->held_first < al->cfg.summary_window)))
			continue;
		out[n].type = (enum bw_alert_type)t;
		out[n].count = r->held;
		out[n].first = r->held_first;
		out[n].last = r->held_last;
		n++;
		r->held = 0;
		al->st.rate_limit_summaries++;
	}
	return n;
}

static void write_summary(struct bw_alerts *al, struct bw_json *j, const struct held_summary *hs,
			  void (*emit)(void *ctx, enum bw_event_type t, bw_time_t ts), void *ctx)
{
	struct bw_alert a;
	memset(&a, 0, sizeof(a));
	a.type = hs->type;
	snprintf(a.reason, sizeof(a.reason),
		 "%llu %s alert(s) were held back by the rate limit (%u a minute, bursts of %u) between "
		 "bindwatch.alert.held_back.first and .last.",
		 (unsigned long long)hs->count, bw_alert_type_name(hs->type), al->cfg.max_per_type_per_min,
		 al->cfg.burst);
	snprintf(a.dedup_key, sizeof(a.dedup_key), "%s|(rate-limit)", bw_alert_type_name(hs->type));
	struct bw_evidence *ev = bw_alert_evidence(&a, "rate_limited");
	ev->ts = hs->last;
	char idsrc[96], id[17];
	int il = snprintf(idsrc, sizeof(idsrc), "%s|%llu", a.dedup_key, (unsigned long long)hs->first);
	snprintf(id, sizeof(id), "%016llx",
		 (unsigned long long)bw_hash(0x62696e6477617463ULL, 0x68616c6572747321ULL, idsrc,
					     (size_t)BW_MAX(BW_MIN(il, (int)sizeof(idsrc) - 1), 0)));
	write_alert(j, &a, id, 0, 0, false, hs);
	emit(ctx, BW_EV_ALERT, hs->last);
}

bool bw_alerts_raise(struct bw_alerts *al, struct bw_alert *a, struct bw_json *j,
		     void (*emit)(void *ctx, enum bw_event_type t, bw_time_t ts), void *ctx)
{
	bw_time_t ts = a->meta ? a->meta->ts : (a->n_evidence ? a->evidence[0].ts : 0);
	alert_key(a);
	uint64_t h = bw_hash(al->seed[0], al->seed[1], a->dedup_key, strlen(a->dedup_key));
	if (h == 0)
		h = 1;
	char id[17];
	uint64_t repeats = 0;
	bw_time_t prev = 0;
	bool write = false;

	pthread_mutex_lock(&al->lock);
	al->st.raised++;
	bool is_new;
	struct dedup_bucket *nb = NULL;
	int nway = 0;
	struct dedup_entry *e = dedup_slot(al, h, &is_new, &nb, &nway);
	e->total++;
	e->last_seen = ts;
	if (!is_new && ts >= e->last_emit && ts - e->last_emit < al->cfg.suppress) {
		e->held++;
		size_t bucket = (size_t)(h & (al->buckets - 1));
		al->held_map[bucket / 64] |= UINT64_C(1) << (bucket % 64);
		al->st.suppressed++;
	} else {
		unsigned t = (unsigned)a->type;
		if (!rate_take(al, t, ts)) {
			struct rate_state *r = &al->rl[t];
			if (r->held == 0)
				r->held_first = ts;
			r->held++;
			if (ts > r->held_last || r->held == 1)
				r->held_last = ts;
			al->st.rate_limited++;
			al->st.rate_limited_per_type[t]++;
			if (is_new)
				dedup_forget(al, nb, nway); /* not written: do not suppress its next occurrence either */
		} else {
			repeats = e->held;
			prev = is_new ? 0 : e->last_emit;
			e->held = 0;
			e->last_emit = ts;
			e->type = (uint8_t)a->type;
			/* The id is a function of the dedup key and the packet time, not of
			 * the run: the same capture gives the same ids every time, and a
			 * collector can drop a re-sent alert by it. */
			char idsrc[sizeof(a->dedup_key) + 24];
			int il = snprintf(idsrc, sizeof(idsrc), "%s|%llu", a->dedup_key, (unsigned long long)ts);
			snprintf(e->id, sizeof(e->id), "%016llx",
				 (unsigned long long)bw_hash(0x62696e6477617463ULL, 0x68616c6572747321ULL, idsrc,
							     (size_t)BW_MAX(il, 0)));
			al->counter++;
			snprintf(e->name, sizeof(e->name), "%s", a->name ? a->name : "");
			memcpy(id, e->id, sizeof(id));
			al->st.emitted++;
			al->st.per_type[t]++;
			write = true;
		}
	}
	struct held_summary due[BW_AL__COUNT];
	size_t n_due = summaries_due(al, ts, false, due);
	pthread_mutex_unlock(&al->lock);

	for (size_t i = 0; i < n_due; i++)
		write_summary(al, j, &due[i], emit, ctx);
	if (!write)
		return false;
	write_alert(j, a, id, repeats, prev, false, NULL);
	emit(ctx, BW_EV_ALERT, ts);
	return true;
}

/* Updates are written in time order (then by id), not in table order: the
 * table's layout depends on a random hash key, the output must not. */
static int cmp_pending(const void *a, const void *b)
{
	const struct dedup_entry *x = *(const struct dedup_entry *const *)a, *y = *(const struct dedup_entry *const *)b;
	if (x->last_seen != y->last_seen)
		return x->last_seen < y->last_seen ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The entries holding suppressed repeats, into out (NULL: just count them). */
static size_t collect_held(const struct bw_alerts *al, struct dedup_entry **out)
{
	/* bits of buckets not yet in use are all clear */
	size_t n = 0, words = ((size_t)al->buckets + 63) / 64;
	for (size_t wd = 0; wd < words; wd++)
		for (uint64_t m = al->held_map[wd]; m; m &= m - 1) {
			struct dedup_bucket *b = &al->table[wd * 64 + (size_t)__builtin_ctzll(m)];
			for (int k = 0; k < WAYS; k++)
				if (b->hash[k] && al->pool[b->slot[k]].held) {
					if (out)
						out[n] = &al->pool[b->slot[k]];
					n++;
				}
		}
	return n;
}

void bw_alerts_flush(struct bw_alerts *al, struct bw_json *j, void (*emit)(void *ctx, enum bw_event_type t, bw_time_t ts),
		     void *ctx)
{
	struct held_summary due[BW_AL__COUNT];
	size_t n_due = summaries_due(al, 0, true, due);
	for (size_t i = 0; i < n_due; i++)
		write_summary(al, j, &due[i], emit, ctx);
	size_t n = collect_held(al, NULL);
	if (n == 0)
		return;
	struct dedup_entry **pending = malloc(n * sizeof(*pending));
	if (!pending)
		return;
	n = collect_held(al, pending);
	qsort(pending, n, sizeof(*pending), cmp_pending);
	for (size_t i = 0; i < n; i++) {
		struct dedup_entry *e = pending[i];
		struct bw_alert a;
		memset(&a, 0, sizeof(a));
		a.type = (enum bw_alert_type)e->type;
		a.name = e->name[0] ? e->name : NULL;
		snprintf(a.reason, sizeof(a.reason),
			 "%llu more %s alert(s) for %s were held back by suppression since the alert at the time "
			 "given in previous_alert; the last one at @timestamp.",
			 (unsigned long long)e->held, bw_alert_type_name(a.type), e->name[0] ? e->name : "this binding");
		snprintf(a.dedup_key, sizeof(a.dedup_key), "%s", "(update)");
		struct bw_evidence *ev = bw_alert_evidence(&a, "suppressed");
		ev->ts = e->last_seen;
		write_alert(j, &a, e->id, e->held, e->last_emit, true, NULL);
		/* @timestamp of the update is the last occurrence */
		emit(ctx, BW_EV_ALERT, e->last_seen);
		e->held = 0;
	}
	free(pending);
}

void bw_alerts_stats(struct bw_alerts *al, struct bw_alerts_stats *st)
{
	pthread_mutex_lock(&al->lock);
	*st = al->st;
	pthread_mutex_unlock(&al->lock);
}
