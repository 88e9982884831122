/* SPDX-License-Identifier: MIT */
/*
 * udp_sessions.c: fixed pool, chained hash, intrusive LRU list. All memory
 * is allocated when the table is made, so a flood of new UDP flows costs
 * evictions, not allocations. The hash is seeded per table so an attacker
 * cannot aim flows at one chain.
 */
#include "udp_sessions.h"

#include <stdlib.h>
#include <string.h>

#include "../parsers/pktdedup.h"

struct bw_udp_sessions {
	uint32_t max;
	bw_time_t idle;
	bw_udp_close_fn on_close;
	void *ctx;
	uint64_t seed[2];
	struct bw_udp_session *pool;
	struct bw_udp_session *free_list;
	struct bw_udp_session **buckets;
	uint32_t mask;
	struct bw_udp_session *lru_head, *lru_tail; /* head: most recently used */
	struct bw_udp_sessions_stats st;
};

static uint64_t key_hash(const struct bw_udp_sessions *t, const struct bw_flow_key *k)
{
	return bw_hash(t->seed[0], t->seed[1], k, sizeof(*k));
}

static void lru_unlink(struct bw_udp_sessions *t, struct bw_udp_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		t->lru_head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		t->lru_tail = s->prev;
	s->prev = s->next = NULL;
}

static void lru_push_head(struct bw_udp_sessions *t, struct bw_udp_session *s)
{
	s->prev = NULL;
	s->next = t->lru_head;
	if (t->lru_head)
		t->lru_head->prev = s;
	t->lru_head = s;
	if (!t->lru_tail)
		t->lru_tail = s;
}

struct bw_udp_sessions *bw_udp_sessions_new(uint32_t max_sessions, bw_time_t idle_timeout, bw_udp_close_fn on_close,
					    void *ctx)
{
	if (max_sessions == 0 || max_sessions > (1u << 26))
		return NULL;
	struct bw_udp_sessions *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	uint32_t nb = 16;
	while (nb < max_sessions)
		nb <<= 1;
	t->pool = calloc(max_sessions, sizeof(*t->pool));
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->pool || !t->buckets) {
		free(t->pool);
		free(t->buckets);
		free(t);
		return NULL;
	}
	t->max = max_sessions;
	t->mask = nb - 1;
	t->idle = idle_timeout;
	t->on_close = on_close;
	t->ctx = ctx;
	bw_hash_random_key(t->seed);
	for (uint32_t i = max_sessions; i-- > 0;) {
		t->pool[i].hnext = t->free_list;
		t->free_list = &t->pool[i];
	}
	return t;
}

static void unhash(struct bw_udp_sessions *t, struct bw_udp_session *s)
{
	struct bw_udp_session **pp = &t->buckets[s->hash & t->mask];
	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
}

void bw_udp_sessions_close(struct bw_udp_sessions *t, struct bw_udp_session *s)
{
	if (t->on_close)
		t->on_close(t->ctx, s);
	unhash(t, s);
	lru_unlink(t, s);
	memset(s, 0, sizeof(*s));
	s->hnext = t->free_list;
	t->free_list = s;
	t->st.closed++;
	t->st.active--;
}

void bw_udp_sessions_free(struct bw_udp_sessions *t)
{
	if (!t)
		return;
	bw_udp_sessions_flush(t);
	free(t->pool);
	free(t->buckets);
	free(t);
}

struct bw_udp_session *bw_udp_sessions_find(struct bw_udp_sessions *t, const struct bw_flow_key *key, bw_time_t now)
{
	uint64_t h = key_hash(t, key);
	for (struct bw_udp_session *s = t->buckets[h & t->mask]; s; s = s->hnext) {
		if (s->hash == h && memcmp(&s->key, key, sizeof(*key)) == 0) {
			if (now > s->last)
				s->last = now;
			if (t->lru_head != s) {
				lru_unlink(t, s);
				lru_push_head(t, s);
			}
			return s;
		}
	}
	return NULL;
}

struct bw_udp_session *bw_udp_sessions_add(struct bw_udp_sessions *t, const struct bw_flow_key *key, int dir,
					   bw_time_t now)
{
	if (!t->free_list) {
		t->st.evicted++;
		bw_udp_sessions_close(t, t->lru_tail);
	}
	struct bw_udp_session *s = t->free_list;
	t->free_list = s->hnext;
	memset(s, 0, sizeof(*s));
	s->key = *key;
	s->client_dir = dir;
	s->first = s->last = now;
	s->hash = key_hash(t, key);
	s->hnext = t->buckets[s->hash & t->mask];
	t->buckets[s->hash & t->mask] = s;
	lru_push_head(t, s);
	t->st.created++;
	t->st.active++;
	if (t->st.active > t->st.active_max)
		t->st.active_max = t->st.active;
	return s;
}

void bw_udp_sessions_expire(struct bw_udp_sessions *t, bw_time_t now)
{
	while (t->lru_tail && t->lru_tail->last + t->idle < now) {
		t->st.timed_out++;
		bw_udp_sessions_close(t, t->lru_tail);
	}
}

bool bw_udp_sessions_due(const struct bw_udp_sessions *t, bw_time_t now)
{
	return t && t->lru_tail && t->lru_tail->last + t->idle < now;
}

void bw_udp_sessions_flush(struct bw_udp_sessions *t)
{
	while (t->lru_tail)
		bw_udp_sessions_close(t, t->lru_tail);
}

const struct bw_udp_sessions_stats *bw_udp_sessions_stats(const struct bw_udp_sessions *t) { return &t->st; }
