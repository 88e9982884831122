/* SPDX-License-Identifier: MIT */
/*
 * ipfrag.c: IPv4/IPv6 fragment reassembly in fixed memory.
 *
 * Fragments are an old way to hide things from sensors (overlaps that two
 * stacks resolve differently) and to exhaust them (floods of first fragments
 * that never complete), so the table is built for hostile input first. All
 * memory is taken at creation: a descriptor array of max_datagrams entries,
 * a hash index over them, and a pool of 1 KiB pages holding fragment bytes
 * plus a bitmap of which 8-byte units (the fragment offset granularity) have
 * arrived. A datagram maps its payload offset to pages through a small page
 * table, so a 65535-byte datagram costs 64 pages and an 8-byte one costs one.
 * Descriptors sit on a list in creation order: timeouts and evictions pop
 * the oldest in O(1). The hash index is keyed with a random SipHash key so
 * crafted ids cannot pile into one bucket. See ipfrag.h for the policy.
 */
#include "ipfrag.h"

#include <stdlib.h>
#include <string.h>

#include "pktdedup.h"

#define PAGE_SIZE 1024u
#define PAGE_UNITS (PAGE_SIZE / 8u)                                      /* 128 */
#define DGRAM_PAGES ((BW_IPFRAG_MAX_PAYLOAD + PAGE_SIZE) / PAGE_SIZE)   /* 64 */
#define NIL 0u                                                           /* indices are stored +1 */

struct frag_page {
	uint64_t have[PAGE_UNITS / 64];
	uint8_t data[PAGE_SIZE];
};

struct frag_dgram {
	struct bw_ipfrag_key key;
	bw_time_t first_ts;
	uint32_t hnext;        /* hash chain, or free list when unused */
	uint32_t older, newer; /* creation-order list */
	uint32_t end;          /* payload length, once the last fragment is in */
	uint32_t hi;           /* highest byte end received */
	uint32_t units;        /* 8-byte units received */
	uint32_t bucket;
	bool have_last;
	uint8_t first_proto;
	uint16_t npages;
	uint32_t page[DGRAM_PAGES]; /* pool index + 1, NIL if not allocated */
};

struct bw_ipfrag {
	struct bw_ipfrag_config cfg;
	struct bw_anomalies *an;
	struct bw_ipfrag_stats st;
	uint64_t k0, k1;

	/* Datagrams and pages are handed out first from the never-used part
	 * of their arrays (dg_fresh, pg_fresh count up), then from what was
	 * given back: a pool sized for the memory cap costs resident memory
	 * only once it is used, not at start (threading a free list through
	 * every entry touched 4.6 MB per worker at the default cap). */
	struct frag_dgram *dg;
	uint32_t dg_fresh;     /* dg[dg_fresh..max_datagrams) never used */
	uint32_t free_dg;      /* free list head (index + 1) of given-back ones */
	uint32_t *bucket;      /* heads (index + 1) */
	uint32_t bmask;
	uint32_t oldest, newest;

	struct frag_page *pages;
	uint32_t npages;
	uint32_t pg_fresh;     /* pages[pg_fresh..npages) never used */
	uint32_t *free_pg;     /* stack of given-back page indices */
	uint32_t nstack_pg;
};

static inline uint32_t pages_available(const struct bw_ipfrag *f)
{
	return f->nstack_pg + (f->npages - f->pg_fresh);
}

#define MAX_DATAGRAMS_CAP (1u << 22)

struct bw_ipfrag *bw_ipfrag_new(const struct bw_ipfrag_config *c, struct bw_anomalies *anomalies)
{
	struct bw_ipfrag *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->cfg = *c;
	f->an = anomalies;
	if (f->cfg.max_datagrams > MAX_DATAGRAMS_CAP)
		f->cfg.max_datagrams = MAX_DATAGRAMS_CAP;
	size_t np = f->cfg.mem_cap / sizeof(struct frag_page);
	if (np > UINT32_MAX - 1)
		np = UINT32_MAX - 1;
	f->npages = (uint32_t)np;

	uint32_t nb = 16;
	while (nb < f->cfg.max_datagrams * 2u)
		nb <<= 1;
	f->bmask = nb - 1;
	f->bucket = calloc(nb, sizeof(*f->bucket));
	if (f->cfg.max_datagrams) {
		f->dg = calloc(f->cfg.max_datagrams, sizeof(*f->dg));
		if (!f->dg)
			goto fail;
	}
	if (f->npages) {
		/* malloc, not calloc: a page is initialised when it is taken,
		 * and untouched pages of a large pool cost no resident memory. */
		f->pages = malloc((size_t)f->npages * sizeof(*f->pages));
		f->free_pg = malloc((size_t)f->npages * sizeof(*f->free_pg));
		if (!f->pages || !f->free_pg)
			goto fail;
	}
	if (!f->bucket)
		goto fail;
	uint64_t k[2];
	bw_hash_random_key(k);
	f->k0 = k[0];
	f->k1 = k[1];
	return f;
fail:
	bw_ipfrag_free(f);
	return NULL;
}

void bw_ipfrag_free(struct bw_ipfrag *f)
{
	if (!f)
		return;
	free(f->bucket);
	free(f->dg);
	free(f->pages);
	free(f->free_pg);
	free(f);
}

const struct bw_ipfrag_stats *bw_ipfrag_stats(const struct bw_ipfrag *f) { return &f->st; }

static inline struct frag_dgram *DG(struct bw_ipfrag *f, uint32_t idx) { return &f->dg[idx - 1]; }

static uint32_t key_bucket(const struct bw_ipfrag *f, const struct bw_ipfrag_key *k)
{
	return (uint32_t)bw_hash(f->k0, f->k1, k, sizeof(*k)) & f->bmask;
}

static uint32_t dgram_find(struct bw_ipfrag *f, const struct bw_ipfrag_key *k, uint32_t b)
{
	for (uint32_t i = f->bucket[b]; i != NIL; i = DG(f, i)->hnext)
		if (memcmp(&DG(f, i)->key, k, sizeof(*k)) == 0)
			return i;
	return NIL;
}

/* Unlink a datagram from the index and the age list and free its memory. */
static void dgram_release(struct bw_ipfrag *f, uint32_t idx)
{
	struct frag_dgram *g = DG(f, idx);
	uint32_t *pp = &f->bucket[g->bucket];
	while (*pp != NIL && *pp != idx)
		pp = &DG(f, *pp)->hnext;
	if (*pp == idx)
		*pp = g->hnext;
	if (g->older)
		DG(f, g->older)->newer = g->newer;
	else
		f->oldest = g->newer;
	if (g->newer)
		DG(f, g->newer)->older = g->older;
	else
		f->newest = g->older;
	for (unsigned i = 0; i < DGRAM_PAGES; i++) {
		if (g->page[i] != NIL) {
			f->free_pg[f->nstack_pg++] = g->page[i] - 1;
			g->page[i] = NIL;
		}
	}
	f->st.mem_used -= (size_t)g->npages * sizeof(struct frag_page);
	g->npages = 0;
	g->hnext = f->free_dg;
	f->free_dg = idx;
	f->st.held--;
}

/* Drop an incomplete datagram and count why. */
static void dgram_drop(struct bw_ipfrag *f, uint32_t idx, enum bw_anomaly why)
{
	bw_anomaly(f->an, why);
	f->st.evicted++;
	dgram_release(f, idx);
}

static bool expired(const struct bw_ipfrag *f, const struct frag_dgram *g, bw_time_t now)
{
	return now > g->first_ts && now - g->first_ts > f->cfg.timeout;
}

void bw_ipfrag_expire(struct bw_ipfrag *f, bw_time_t now)
{
	/* The list is in creation order, so with packet time moving forward
	 * the expired datagrams are a prefix of it. */
	while (f->oldest != NIL && expired(f, DG(f, f->oldest), now)) {
		f->st.timeouts++;
		dgram_drop(f, f->oldest, BW_AN_FRAG_TIMEOUT);
	}
}

static uint32_t dgram_create(struct bw_ipfrag *f, const struct bw_ipfrag_key *k, uint32_t b, bw_time_t ts)
{
	uint32_t idx;
	if (f->free_dg == NIL && f->dg_fresh < f->cfg.max_datagrams) {
		idx = ++f->dg_fresh; /* index + 1 of dg[dg_fresh - 1] */
	} else {
		if (f->free_dg == NIL) {
			if (f->oldest == NIL)
				return NIL; /* max_datagrams is 0 */
			dgram_drop(f, f->oldest, BW_AN_FRAG_TOO_MANY);
		}
		idx = f->free_dg;
		f->free_dg = DG(f, idx)->hnext;
	}
	struct frag_dgram *g = DG(f, idx);
	memset(g, 0, sizeof(*g));
	g->key = *k;
	g->first_ts = ts;
	g->bucket = b;
	g->hnext = f->bucket[b];
	f->bucket[b] = idx;
	g->older = f->newest;
	if (f->newest)
		DG(f, f->newest)->newer = idx;
	else
		f->oldest = idx;
	f->newest = idx;
	f->st.held++;
	return idx;
}

static inline bool unit_has(const struct bw_ipfrag *f, const struct frag_dgram *g, uint32_t u)
{
	uint32_t pg = g->page[u / PAGE_UNITS];
	if (pg == NIL)
		return false;
	uint32_t b = u % PAGE_UNITS;
	return (f->pages[pg - 1].have[b / 64] >> (b % 64)) & 1;
}

static inline uint8_t *unit_ptr(struct bw_ipfrag *f, const struct frag_dgram *g, uint32_t u)
{
	return f->pages[g->page[u / PAGE_UNITS] - 1].data + (u % PAGE_UNITS) * 8;
}

/*
 * Give g pages for [p0, p1]. When the pool is dry, older datagrams are
 * evicted first (a legitimate datagram completes within milliseconds, so
 * the oldest is the likeliest to be junk). False if even that is not enough.
 */
static bool pages_reserve(struct bw_ipfrag *f, uint32_t gidx, uint32_t p0, uint32_t p1)
{
	struct frag_dgram *g = DG(f, gidx);
	uint32_t need = 0;
	for (uint32_t i = p0; i <= p1; i++)
		need += g->page[i] == NIL;
	while (pages_available(f) < need) {
		uint32_t victim = f->oldest;
		if (victim == gidx)
			victim = g->newer;
		if (victim == NIL || need > f->npages)
			return false;
		dgram_drop(f, victim, BW_AN_FRAG_MEMCAP);
	}
	for (uint32_t i = p0; i <= p1; i++) {
		if (g->page[i] != NIL)
			continue;
		uint32_t pi = f->nstack_pg ? f->free_pg[--f->nstack_pg] : f->pg_fresh++;
		memset(f->pages[pi].have, 0, sizeof(f->pages[pi].have));
		g->page[i] = pi + 1;
		g->npages++;
		f->st.mem_used += sizeof(struct frag_page);
	}
	return true;
}

int bw_ipfrag_add(struct bw_ipfrag *f, const struct bw_ipfrag_key *key, const struct bw_ipfrag_frag *fr,
		  bw_time_t ts, uint8_t *out, size_t out_cap, size_t *out_len, uint8_t *out_proto)
{
	f->st.fragments++;
	bw_ipfrag_expire(f, ts);

	if ((uint64_t)fr->offset + fr->len > BW_IPFRAG_MAX_PAYLOAD) {
		bw_anomaly(f->an, BW_AN_FRAG_TOO_BIG);
		return BW_EMALF;
	}
	if (fr->more && (fr->len == 0 || fr->len % 8 != 0)) {
		bw_anomaly(f->an, BW_AN_FRAG_BAD);
		return BW_EMALF;
	}
	if (fr->offset % 8 != 0 || (fr->len && !fr->data)) {
		bw_anomaly(f->an, BW_AN_FRAG_BAD);
		return BW_EMALF;
	}

	bool v6 = key->version == 6;
	uint32_t b = key_bucket(f, key);
	uint32_t gi = dgram_find(f, key, b);
	if (gi != NIL && expired(f, DG(f, gi), ts)) {
		/* Only reachable when packet time went backwards past the list
		 * order; the stale datagram must not absorb a fresh one. */
		f->st.timeouts++;
		dgram_drop(f, gi, BW_AN_FRAG_TIMEOUT);
		gi = NIL;
	}
	if (gi == NIL) {
		if (f->npages == 0) {
			bw_anomaly(f->an, BW_AN_FRAG_MEMCAP);
			return BW_ELIMIT;
		}
		gi = dgram_create(f, key, b, ts);
		if (gi == NIL) {
			bw_anomaly(f->an, BW_AN_FRAG_TOO_MANY);
			return BW_ELIMIT;
		}
	}
	struct frag_dgram *g = DG(f, gi);
	uint32_t end = fr->offset + fr->len;

	/* Where the datagram ends must be consistent across fragments. */
	bool bad = false;
	if (g->have_last && (end > g->end || (!fr->more && end != g->end)))
		bad = true;
	if (!fr->more && !g->have_last && g->hi > end)
		bad = true;
	if (bad) {
		bw_anomaly(f->an, BW_AN_FRAG_BAD);
		if (v6 || g->units == 0) {
			f->st.evicted++;
			dgram_release(f, gi);
		}
		return BW_EMALF;
	}

	uint32_t u0 = fr->offset / 8, u1 = (end + 7) / 8; /* [u0, u1) */
	/* Look before writing: duplicates and the IPv6 policy need to know
	 * the whole overlap before a byte is stored. */
	uint32_t overlap = 0;
	bool conflict = false;
	for (uint32_t u = u0; u < u1; u++) {
		if (!unit_has(f, g, u))
			continue;
		overlap++;
		uint32_t n = BW_MIN(8u, end - u * 8);
		if (!conflict && memcmp(unit_ptr(f, g, u), fr->data + (u * 8 - fr->offset), n) != 0)
			conflict = true;
	}
	if (overlap && overlap == u1 - u0 && !conflict) {
		f->st.duplicates++;
		return BW_EAGAIN;
	}
	if (overlap) {
		if (v6) {
			bw_anomaly(f->an, BW_AN_FRAG_OVERLAP);
			f->st.evicted++;
			dgram_release(f, gi);
			return BW_EMALF;
		}
		bw_anomaly(f->an, conflict ? BW_AN_FRAG_OVERLAP_CONFLICT : BW_AN_FRAG_OVERLAP);
	}

	if (u1 > u0 && !pages_reserve(f, gi, u0 / PAGE_UNITS, (u1 - 1) / PAGE_UNITS)) {
		bw_anomaly(f->an, BW_AN_FRAG_MEMCAP);
		if (g->units == 0) {
			f->st.evicted++;
			dgram_release(f, gi);
		}
		return BW_ELIMIT;
	}
	for (uint32_t u = u0; u < u1; u++) {
		if (unit_has(f, g, u))
			continue; /* first copy wins */
		uint32_t n = BW_MIN(8u, end - u * 8);
		memcpy(unit_ptr(f, g, u), fr->data + (u * 8 - fr->offset), n);
		uint32_t bit = u % PAGE_UNITS;
		f->pages[g->page[u / PAGE_UNITS] - 1].have[bit / 64] |= 1ULL << (bit % 64);
		g->units++;
	}
	if (fr->offset == 0)
		g->first_proto = fr->next_proto;
	if (end > g->hi)
		g->hi = end;
	if (!fr->more) {
		g->have_last = true;
		g->end = end;
	}

	if (!g->have_last || g->units != (g->end + 7) / 8)
		return BW_EAGAIN;
	/* Complete: every unit up to the end is present, so every page is. */
	if (out_cap < g->end) {
		f->st.evicted++;
		dgram_release(f, gi);
		return BW_ELIMIT;
	}
	for (uint32_t off = 0; off < g->end; off += PAGE_SIZE)
		memcpy(out + off, f->pages[g->page[off / PAGE_SIZE] - 1].data, BW_MIN(PAGE_SIZE, g->end - off));
	*out_len = g->end;
	*out_proto = v6 ? g->first_proto : key->proto;
	f->st.reassembled++;
	dgram_release(f, gi);
	return BW_OK;
}
