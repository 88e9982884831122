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
