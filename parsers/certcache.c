/* SPDX-License-Identifier: MIT */
/*
 * certcache.c: a per-worker cache of decoded certificates keyed by the
 * SHA-256 of their DER. Decoding a certificate costs about 250 us with
 * OpenSSL 3.0 (d2i_X509 alone: the public key goes through the provider
 * decoders) and dozens of allocations, while a hit costs one SHA-256, about
 * 1 us; the same few certificates make up most handshakes, so each distinct
 * one is decoded once and then served from here. The table is a chained hash (the key
 * is already a cryptographic hash, so its first bytes index the buckets and
 * an attacker cannot aim for one bucket) with an intrusive LRU list. Each
 * entry is one allocation holding the info and its strings; references let a
 * caller hold a whole chain across inserts, and an evicted entry that is
 * still referenced lives on, unlinked, until its last reference goes.
 * Chain verdicts live beside the certificates, in a small set-associative
 * table of fixed slots (no allocation per verdict, a bounded search), because
 * verifying a chain is the most expensive thing a worker does per handshake
 * and the same chains come back all the time.
 */
#include "certcache.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct list {
	struct list *prev, *next;
};

struct node {
	struct bw_certcache_entry e; /* first: entry pointers are node pointers */
	struct node *hnext;
	struct list lru;             /* table LRU, or the orphan list */
	uint32_t refs;
	bool linked;                 /* in the table */
	size_t bytes;
};

/* The strings follow the node header, aligned for the SAN array in them. */
#define NODE_HDR ((sizeof(struct node) + 15) & ~(size_t)15)

struct bw_certcache {
	struct bw_certcache_config cfg;
	struct bw_anomalies *an;
	struct node **buckets;
	size_t mask;
	struct list lru;     /* next = most recent */
	struct list orphans;
	struct bw_certcache_stats st;
	/* Fetched once: EVP_Digest(EVP_sha256()) would fetch and allocate on
	 * every call, and hashing is the whole cost of a hit. */
	EVP_MD *sha256;
	EVP_MD_CTX *md;
	struct bw_x509_info scratch;
	struct bw_x509_arena arena;
	/* chain verdicts: nv slots in sets of VWAYS, allocated on first use */
	struct vslot *vslots;
	size_t nv;
	uint64_t vtick;
	/* leaf-against-name answers: nv slots too, allocated on first use */
	struct nslot *nslots;
	uint64_t ntick;
};

#define VWAYS 4

struct vslot {
	uint8_t key[32];
	uint64_t used;               /* cc->vtick at the last hit or fill; 0: empty */
	struct bw_x509_window win;
	struct bw_x509_verdict v;
};

struct nslot {
	uint8_t key[32];
	uint64_t used;               /* cc->ntick at the last hit or fill; 0: empty */
	enum bw_x509_reason name;
};

static void list_init(struct list *l) { l->prev = l->next = l; }

static void list_del(struct list *x)
{
	x->prev->next = x->next;
	x->next->prev = x->prev;
	x->prev = x->next = x;
}

static void list_add_front(struct list *head, struct list *x)
{
	x->next = head->next;
	x->prev = head;
	head->next->prev = x;
	head->next = x;
}

static struct node *lru_node(struct list *l)
{
	return (struct node *)(void *)((char *)l - offsetof(struct node, lru));
}

static size_t bucket_of(const struct bw_certcache *cc, const uint8_t sha[32])
{
	uint64_t h;
	memcpy(&h, sha, sizeof(h));
	return (size_t)h & cc->mask;
}

struct bw_certcache *bw_certcache_new(const struct bw_certcache_config *c, struct bw_anomalies *an)
{
	struct bw_certcache *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return NULL;
	if (c)
		cc->cfg = *c;
	if (cc->cfg.max_entries == 0)
		cc->cfg.max_entries = BW_CERTCACHE_DEFAULT_ENTRIES;
	if (cc->cfg.max_entries > ((size_t)1 << 26))
		cc->cfg.max_entries = (size_t)1 << 26;
	size_t mv = cc->cfg.max_verdicts ? cc->cfg.max_verdicts : BW_CERTCACHE_DEFAULT_VERDICTS;
	mv = BW_MIN(mv, (size_t)1 << 20);
	cc->nv = VWAYS;
	while (cc->nv < mv)
		cc->nv <<= 1;
	size_t nb = 16;
	while (nb < cc->cfg.max_entries)
		nb <<= 1;
	cc->buckets = calloc(nb, sizeof(*cc->buckets));
	if (!cc->buckets) {
		free(cc);
		return NULL;
	}
	cc->mask = nb - 1;
	cc->an = an;
	cc->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	cc->md = EVP_MD_CTX_new();
	list_init(&cc->lru);
	list_init(&cc->orphans);
	return cc;
}

static void node_free(struct node *n)
{
	bw_x509_free(n->e.x509);
	free(n);
}

void bw_certcache_free(struct bw_certcache *cc)
{
	if (!cc)
		return;
	for (size_t i = 0; i <= cc->mask; i++) {
		struct node *n = cc->buckets[i];
		while (n) {
			struct node *next = n->hnext;
			node_free(n);
			n = next;
		}
	}
	while (cc->orphans.next != &cc->orphans) {
		struct node *n = lru_node(cc->orphans.next);
		list_del(&n->lru);
		node_free(n);
	}
	EVP_MD_CTX_free(cc->md);
	EVP_MD_free(cc->sha256);
	free(cc->vslots);
	free(cc->nslots);
	free(cc->buckets);
	free(cc);
}

static void hash_der(struct bw_certcache *cc, const uint8_t *der, size_t n, uint8_t sha[32])
{
	unsigned int len = 0;
	if (cc->sha256 && cc->md && EVP_DigestInit_ex2(cc->md, cc->sha256, NULL) &&
	    EVP_DigestUpdate(cc->md, der, n) && EVP_DigestFinal_ex(cc->md, sha, &len) && len == 32)
		return;
	bw_x509_sha256(der, n, sha);
}

static struct node *find(struct bw_certcache *cc, const uint8_t sha[32])
{
	for (struct node *n = cc->buckets[bucket_of(cc, sha)]; n; n = n->hnext)
		if (memcmp(n->e.sha256, sha, 32) == 0)
			return n;
	return NULL;
}

static void unlink_node(struct bw_certcache *cc, struct node *n)
{
	struct node **pp = &cc->buckets[bucket_of(cc, n->e.sha256)];
	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	n->hnext = NULL;
	list_del(&n->lru);
	n->linked = false;
	cc->st.entries--;
	cc->st.bytes -= n->bytes;
}

static void evict(struct bw_certcache *cc, struct node *n)
{
	unlink_node(cc, n);
	cc->st.evictions++;
	if (n->refs == 0) {
		node_free(n);
	} else {
		list_add_front(&cc->orphans, &n->lru);
		cc->st.orphans++;
	}
}

static void insert(struct bw_certcache *cc, struct node *n)
{
	while (cc->lru.prev != &cc->lru &&
	       (cc->st.entries >= cc->cfg.max_entries ||
		(cc->cfg.max_bytes && cc->st.bytes + n->bytes > cc->cfg.max_bytes)))
		evict(cc, lru_node(cc->lru.prev));
	size_t b = bucket_of(cc, n->e.sha256);
	n->hnext = cc->buckets[b];
	cc->buckets[b] = n;
	list_add_front(&cc->lru, &n->lru);
	n->linked = true;
	cc->st.entries++;
	cc->st.bytes += n->bytes;
}

static struct node *node_new(size_t text)
{
	struct node *n = calloc(1, NODE_HDR + text);
	if (!n)
		return NULL;
	n->lru.prev = n->lru.next = &n->lru;
	n->bytes = NODE_HDR + text;
	return n;
}

int bw_certcache_get(struct bw_certcache *cc, const uint8_t *der, size_t n, bw_time_t ts,
		     struct bw_certcache_entry **out, bool *hit)
{
	if (out)
		*out = NULL;
	if (hit)
		*hit = false;
	if (!cc || !out || (!der && n))
		return BW_EINVAL;
	if (n > BW_X509_MAX_DER) {
		bw_anomaly(cc->an, BW_AN_X509_BAD_DER);
		return BW_ELIMIT;
	}
	uint8_t sha[32];
	hash_der(cc, der, n, sha);

	struct node *nd = find(cc, sha);
	if (nd) {
		cc->st.hits++;
		list_del(&nd->lru);
		list_add_front(&cc->lru, &nd->lru);
		nd->e.seen++;
		nd->e.last_seen = ts;
		if (nd->e.err != BW_OK) {
			cc->st.negative_hits++;
			bw_anomaly(cc->an, BW_AN_X509_BAD_DER);
			return nd->e.err;
		}
		if (hit)
			*hit = true;
		nd->refs++;
		*out = &nd->e;
		return BW_OK;
	}

	cc->st.misses++;
	cc->st.parses++;
	struct x509_st *x = NULL;
	size_t used = 0;
	int rc = bw_x509_parse(der, n, &x, &used);
	if (rc == BW_EINVAL)
		return rc;
	if (rc != BW_OK) {
		cc->st.parse_errors++;
		bw_anomaly(cc->an, BW_AN_X509_BAD_DER);
		nd = node_new(0);
		if (!nd)
			return rc; /* the error is the answer; caching it is optional */
		memcpy(nd->e.sha256, sha, 32);
		nd->e.err = rc;
		nd->e.seen = 1;
		nd->e.first_seen = nd->e.last_seen = ts;
		insert(cc, nd);
		return rc;
	}
	rc = bw_x509_decode_x509(x, der, n, sha, &cc->scratch, &cc->arena);
	if (rc != BW_OK) {
		bw_x509_free(x);
		return rc;
	}
	cc->scratch.trailing = n - used;
	if (cc->scratch.trailing)
		bw_anomaly(cc->an, BW_AN_X509_BAD_DER);
	nd = node_new(cc->arena.used);
	if (!nd) {
		bw_x509_free(x);
		return BW_ENOMEM;
	}
	rc = bw_x509_info_copy(&cc->scratch, &cc->arena, &nd->e.info, (char *)nd + NODE_HDR, cc->arena.used);
	if (rc != BW_OK) {
		bw_x509_free(x);
		free(nd);
		return rc;
	}
	memcpy(nd->e.sha256, sha, 32);
	nd->e.err = BW_OK;
	nd->e.seen = 1;
	nd->e.first_seen = nd->e.last_seen = ts;
	if (cc->cfg.drop_x509) {
		bw_x509_free(x);
	} else {
		nd->e.x509 = x;
		nd->bytes += 4 * n; /* rough size of OpenSSL's parsed form */
	}
	nd->refs = 1;
	*out = &nd->e;
	if (cc->cfg.max_bytes && nd->bytes > cc->cfg.max_bytes) {
		/* larger than the whole cache: hand it out, never keep it */
		cc->st.too_big++;
		cc->st.orphans++;
		list_add_front(&cc->orphans, &nd->lru);
		return BW_OK;
	}
	insert(cc, nd);
	return BW_OK;
}

struct bw_certcache_entry *bw_certcache_lookup(struct bw_certcache *cc, const uint8_t sha256[32])
{
	if (!cc || !sha256)
		return NULL;
	struct node *nd = find(cc, sha256);
	if (!nd || nd->e.err != BW_OK)
		return NULL;
	list_del(&nd->lru);
	list_add_front(&cc->lru, &nd->lru);
	nd->refs++;
	return &nd->e;
}

void bw_certcache_put(struct bw_certcache *cc, struct bw_certcache_entry *e)
{
	if (!cc || !e)
		return;
	struct node *nd = (struct node *)(void *)e;
	if (nd->refs == 0)
		return; /* a double put: ignore rather than free twice */
	if (--nd->refs == 0 && !nd->linked) {
		list_del(&nd->lru);
		cc->st.orphans--;
		node_free(nd);
	}
}

void bw_certcache_stats(const struct bw_certcache *cc, struct bw_certcache_stats *s)
{
	if (!s)
		return;
	if (!cc) {
		memset(s, 0, sizeof(*s));
		return;
	}
	*s = cc->st;
}

/* ---- chain verdicts ---- */

/* The verdict key: everything the chain half of bw_x509_verify's answer
 * depends on except the time, which the slot's window covers. The name is
 * not in it: a server presents one chain for many SNIs, and the name check
 * (bw_x509_verdict_check_name) is done for each call on top of the cached
 * chain verdict. Fields are length-prefixed so two different inputs cannot
 * concatenate to the same bytes. */
static bool verdict_key(struct bw_certcache *cc, const struct bw_x509_trust *t,
			struct bw_certcache_entry *const *chain, size_t n, const struct bw_x509_verify_opts *o,
			uint8_t key[32])
{
	uint8_t hdr[32] = { 'b', 'w', 'v', '2' };
	uintptr_t tp = (uintptr_t)t;
	uint64_t nn = n;
	memcpy(hdr + 4, &tp, sizeof(tp) <= 8 ? sizeof(tp) : 8);
	hdr[12] = (uint8_t)((o->client ? 1 : 0) | (o->strict_order ? 2 : 0));
	memcpy(hdr + 16, &nn, 8);
	unsigned int len = 0;
	if (!cc->sha256 || !cc->md || !EVP_DigestInit_ex2(cc->md, cc->sha256, NULL) ||
	    !EVP_DigestUpdate(cc->md, hdr, sizeof(hdr)))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!EVP_DigestUpdate(cc->md, chain[i]->sha256, 32))
			return false;
	return EVP_DigestFinal_ex(cc->md, key, &len) && len == 32;
}

/* v's name half for leaf against o->name, from the answer cache when it
 * holds one (a SHA-256 over the leaf's SHA-256, no_cn_fallback and the name
 * as given: the check's own normalisation comes after). */
static int name_answer(struct bw_certcache *cc, struct bw_certcache_entry *leaf,
		       const struct bw_x509_verify_opts *o, struct bw_x509_verdict *v)
{
	if (!o->name || !(o->name_len || o->name[0]))
		return bw_x509_verdict_check_name(leaf->x509, o, v);
	uint64_t nl = o->name_len ? o->name_len : strlen(o->name);
	uint8_t hdr[16] = { 'b', 'w', 'n', '1', o->no_cn_fallback ? 1 : 0 };
	memcpy(hdr + 8, &nl, 8);
	uint8_t key[32];
	unsigned int len = 0;
	if (!cc->nslots)
		cc->nslots = calloc(cc->nv, sizeof(*cc->nslots));
	if (!cc->nslots || !cc->sha256 || !cc->md || !EVP_DigestInit_ex2(cc->md, cc->sha256, NULL) ||
	    !EVP_DigestUpdate(cc->md, hdr, sizeof(hdr)) || !EVP_DigestUpdate(cc->md, leaf->sha256, 32) ||
	    !EVP_DigestUpdate(cc->md, o->name, nl) || !EVP_DigestFinal_ex(cc->md, key, &len) || len != 32)
		return bw_x509_verdict_check_name(leaf->x509, o, v); /* not cached */
	uint64_t h;
	memcpy(&h, key, sizeof(h));
	struct nslot *set = &cc->nslots[(h & ((cc->nv / VWAYS) - 1)) * VWAYS];
	struct nslot *victim = &set[0];
	for (unsigned k = 0; k < VWAYS; k++) {
		struct nslot *s = &set[k];
		if (s->used && memcmp(s->key, key, 32) == 0) {
			s->used = ++cc->ntick;
			v->name_checked = true;
			v->name = s->name;
			cc->st.name_hits++;
			return BW_OK;
		}
		if (victim->used && (!s->used || s->used < victim->used))
			victim = s;
	}
	cc->st.name_misses++;
	int rc = bw_x509_verdict_check_name(leaf->x509, o, v);
	if (rc == BW_OK) {
		memcpy(victim->key, key, 32);
		victim->used = ++cc->ntick;
		victim->name = v->name;
	}
	return rc;
}

int bw_certcache_verify(struct bw_certcache *cc, const struct bw_x509_trust *t,
			struct bw_certcache_entry *const *chain, size_t n, const struct bw_x509_verify_opts *o,
			struct bw_x509_verdict *v, bool *hit)
{
	if (hit)
		*hit = false;
	if (!cc || !t || !o || !v || (n && !chain))
		return BW_EINVAL;
	n = BW_MIN(n, (size_t)BW_X509_MAX_CHAIN); /* what bw_x509_verify looks at */
	struct x509_st *xs[BW_X509_MAX_CHAIN];
	for (size_t i = 0; i < n; i++) {
		if (!chain[i] || !chain[i]->x509)
			return BW_EINVAL;
		xs[i] = chain[i]->x509;
	}
	if (n == 0 || cc->cfg.no_verdicts)
		return bw_x509_verify(t, xs, n, o, v);

	uint8_t key[32];
	if (!verdict_key(cc, t, chain, n, o, key))
		return bw_x509_verify(t, xs, n, o, v); /* no digest: just do not cache */
	if (!cc->vslots && !(cc->vslots = calloc(cc->nv, sizeof(*cc->vslots))))
		return bw_x509_verify(t, xs, n, o, v);
	/* the chain is judged, and cached, without the name */
	struct bw_x509_verify_opts chain_o = *o;
	chain_o.name = NULL;
	chain_o.name_len = 0;

	int64_t now = (int64_t)(o->time / BW_NSEC_PER_SEC);
	uint64_t h;
	memcpy(&h, key, sizeof(h));
	struct vslot *set = &cc->vslots[(h & ((cc->nv / VWAYS) - 1)) * VWAYS];
	struct vslot *victim = &set[0];
	bool stale = false;
	for (unsigned k = 0; k < VWAYS; k++) {
		struct vslot *s = &set[k];
		if (s->used && memcmp(s->key, key, 32) == 0) {
			if (now >= s->win.from && now < s->win.until) {
				s->used = ++cc->vtick;
				*v = s->v;
				v->time = o->time;
				v->clock = o->clock;
				cc->st.verdict_hits++;
				if (hit)
					*hit = true;
				return name_answer(cc, chain[0], o, v);
			}
			victim = s; /* the same chain at another time: replace it */
			stale = true;
			break;
		}
		if (victim->used && (!s->used || s->used < victim->used))
			victim = s;
	}
	cc->st.verdict_misses++;
	if (stale)
		cc->st.verdict_stale++;
	struct bw_x509_window win;
	int rc = bw_x509_verify_window(t, xs, n, &chain_o, v, &win);
	if (rc != BW_OK)
		return rc;
	if (!stale) {
		if (victim->used)
			cc->st.verdict_evictions++;
		else
			cc->st.verdicts++;
	}
	memcpy(victim->key, key, 32);
	victim->used = ++cc->vtick;
	victim->win = win;
	victim->v = *v;
	return name_answer(cc, chain[0], o, v);
}

void bw_certcache_forget_verdicts(struct bw_certcache *cc)
{
	if (!cc || !cc->vslots)
		return;
	memset(cc->vslots, 0, cc->nv * sizeof(*cc->vslots));
	cc->st.verdicts = 0;
}
