/* SPDX-License-Identifier: MIT */
/*
 * bindings.c: the binding tables detectors consult (name -> addresses,
 * address -> names, CNAMEs, rcodes, server certificates, certificate ->
 * names and servers), each a bounded bw_table. Six of the seven are
 * "bounded sets": the value is a short list of members, each with its
 * first/last sighting and one 32-bit datum (a TTL or a count), kept most
 * recently updated first, so the member to drop when the set is full is
 * simply the last one and "the current certificate" is simply the first.
 * One set encoding and one read-modify-write callback serve all of them,
 * which keeps the code that runs under the table's stripe lock small and
 * the per-binding cost low (an IPv4 name binding is a 32-byte member).
 * Names are folded to one key form here, once, so that DNS answers and
 * TLS SNIs of the same host meet in the same entries.
 */
#include "bindings.h"

#include <stdlib.h>
#include <string.h>

/* Packed address in keys and members: family byte, then 4 or 16 bytes. */
#define IP_PACKED_MAX 17
/* (address, port, SNI) key: packed address, port (2 bytes), name. */
#define SERVER_KEY_MAX (IP_PACKED_MAX + 2 + BW_BINDINGS_NAME_MAX)

struct bw_bindings {
	struct bw_table *t[BW_BT_COUNT];
	uint32_t set_max[BW_BT_COUNT];
	uint32_t set_bytes;
	bool expire;        /* DNS bindings die grace after their TTL */
	bw_time_t grace;    /* ns */
	uint64_t drops[BW_BT_COUNT]; /* atomic */
	uint64_t member_expired[BW_BT_COUNT]; /* atomic */
};

static const char *const table_names[BW_BT_COUNT] = {
	[BW_BT_NAME_ADDR] = "name_addr",     [BW_BT_ADDR_NAMES] = "addr_names",   [BW_BT_NAME_CNAME] = "name_cname",
	[BW_BT_NAME_RCODE] = "name_rcode",   [BW_BT_SERVER_CERT] = "server_cert", [BW_BT_CERT_NAMES] = "cert_names",
	[BW_BT_CERT_SERVERS] = "cert_servers",
};

const char *bw_bindings_table_name(enum bw_bindings_table t)
{
	return (unsigned)t < BW_BT_COUNT ? table_names[t] : "?";
}

void bw_bindings_config_default(struct bw_bindings_config *c)
{
	memset(c, 0, sizeof(*c));
	c->entries[BW_BT_NAME_ADDR] = 262144;
	c->entries[BW_BT_ADDR_NAMES] = 262144;
	c->entries[BW_BT_NAME_CNAME] = 131072;
	c->entries[BW_BT_NAME_RCODE] = 131072;
	c->entries[BW_BT_SERVER_CERT] = 65536;
	c->entries[BW_BT_CERT_NAMES] = 65536;
	c->entries[BW_BT_CERT_SERVERS] = 65536;
	c->addrs_per_name = 16;
	c->names_per_addr = 16;
	c->names_per_cert = 16;
	c->servers_per_cert = 16;
	c->cert_history = 4;
	c->set_bytes = 4096;
	c->eviction_sample = BW_TABLE_DEFAULT_SAMPLE;
	c->expiry_grace = BW_BINDINGS_GRACE;
}

void bw_bindings_config_budget(struct bw_bindings_config *c, size_t bytes)
{
	static const unsigned weight[BW_BT_COUNT] = { 4, 4, 2, 2, 1, 1, 1 };
	/* Per entry of capacity: an 8-byte index slot and up to two 16-byte
	 * lfht buckets (the bucket count is the capacity rounded up to 2^k). */
	const size_t fixed_per_entry = 8 + 32;
	bw_bindings_config_default(c);
	for (int i = 0; i < BW_BT_COUNT; i++) {
		size_t share = bytes / 15 * weight[i];
		size_t n = share / BW_BINDINGS_BUDGET_PER_ENTRY;
		n = BW_MAX(n, (size_t)64);
		n = BW_MIN(n, (size_t)BW_TABLE_MAX_CAPACITY);
		c->entries[i] = n;
		c->max_bytes[i] = share > n * fixed_per_entry ? share - n * fixed_per_entry : n * 64;
	}
}

struct bw_bindings *bw_bindings_new(const struct bw_bindings_config *cfg)
{
	struct bw_bindings_config d, c;
	bw_bindings_config_default(&d);
	if (cfg)
		c = *cfg;
	else
		c = d;
	for (int i = 0; i < BW_BT_COUNT; i++)
		if (!c.entries[i])
			c.entries[i] = d.entries[i];
#define DEF(f) (c.f = c.f ? c.f : d.f)
	DEF(addrs_per_name);
	DEF(names_per_addr);
	DEF(names_per_cert);
	DEF(servers_per_cert);
	DEF(cert_history);
	DEF(set_bytes);
	DEF(expiry_grace);
#undef DEF
	if (c.addrs_per_name > BW_BINDINGS_SET_MAX || c.names_per_addr > BW_BINDINGS_SET_MAX ||
	    c.names_per_cert > BW_BINDINGS_SET_MAX || c.servers_per_cert > BW_BINDINGS_SET_MAX ||
	    c.cert_history > BW_BINDINGS_CERT_HISTORY || c.set_bytes > BW_TABLE_VALUE_MAX - 8)
		return NULL;

	struct bw_bindings *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->set_bytes = c.set_bytes;
	b->expire = !c.no_expiry;
	b->grace = (bw_time_t)c.expiry_grace * BW_NSEC_PER_SEC;
	b->set_max[BW_BT_NAME_ADDR] = c.addrs_per_name;
	b->set_max[BW_BT_ADDR_NAMES] = c.names_per_addr;
	b->set_max[BW_BT_NAME_CNAME] = 1;
	b->set_max[BW_BT_NAME_RCODE] = 1;
	b->set_max[BW_BT_SERVER_CERT] = c.cert_history;
	b->set_max[BW_BT_CERT_NAMES] = c.names_per_cert;
	b->set_max[BW_BT_CERT_SERVERS] = c.servers_per_cert;
	for (int i = 0; i < BW_BT_COUNT; i++) {
		struct bw_table_config tc = {
			.name = table_names[i],
			.capacity = c.entries[i],
			.sample = c.eviction_sample,
			.max_bytes = c.max_bytes[i],
		};
		if (c.seed[0] || c.seed[1]) {
			/* Distinct keys per table, derived from the one given. */
			tc.seed[0] = c.seed[0] ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1));
			tc.seed[1] = c.seed[1] + (uint64_t)i;
		}
		b->t[i] = bw_table_new(&tc);
		if (!b->t[i]) {
			bw_bindings_free(b);
			return NULL;
		}
	}
	return b;
}

void bw_bindings_free(struct bw_bindings *b)
{
	if (!b)
		return;
	bw_table_free_n(b->t, BW_BT_COUNT);
	free(b);
}

size_t bw_bindings_sweep(struct bw_bindings *b, bw_time_t now, size_t budget)
{
	size_t n = 0;
	if (!b)
		return 0;
	for (int i = 0; i < BW_BT_COUNT; i++)
		n += bw_table_sweep(b->t[i], now, budget / BW_BT_COUNT + 1);
	return n;
}

void bw_bindings_thread_register(void)
{
	bw_table_thread_register();
}

void bw_bindings_thread_unregister(void)
{
	bw_table_thread_unregister();
}

void bw_bindings_quiescent(void)
{
	bw_table_quiescent();
}

void bw_bindings_thread_offline(void)
{
	bw_table_thread_offline();
}

void bw_bindings_thread_online(void)
{
	bw_table_thread_online();
}

/* ---- keys ---- */

/*
 * ASCII A-Z to a-z in the 8 bytes of w at once (SWAR): a byte's high bit
 * marks "at least 'A'" after adding 0x80 - 'A' to its low 7 bits and "past
 * 'Z'" after adding 0x80 - 'Z' - 1; neither sum carries into the next byte.
 * Bytes with their own high bit set are left alone, as the byte loop did.
 */
static inline uint64_t fold8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t low7 = w & ~high;
	uint64_t ge_a = low7 + ones * (0x80 - 'A');
	uint64_t gt_z = low7 + ones * (0x80 - 'Z' - 1);
	return w | (((ge_a & ~gt_z & ~w) & high) >> 2);
}

/* Fold name into out (BW_BINDINGS_NAME_MAX bytes). Returns its length, 0 if invalid. */
static size_t name_key(const char *name, size_t len, uint8_t *out)
{
	if (!name || len == 0 || len > BW_BINDINGS_NAME_MAX)
		return 0;
	if (len > 1 && name[len - 1] == '.') {
		/* "a\." ends in an escaped dot, which is part of the label. */
		size_t bs = 0;
		while (bs < len - 1 && name[len - 2 - bs] == '\\')
			bs++;
		if ((bs & 1) == 0)
			len--;
	}
	/* Eight bytes a step: this runs on every lookup. */
	size_t i = 0;
	uint64_t w;
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, name + i, 8);
		w = fold8(w);
		memcpy(out + i, &w, 8);
	}
	if (i < len && len >= 8) {
		/* The last 8 bytes again, overlapping: folding is idempotent. */
		memcpy(&w, name + len - 8, 8);
		w = fold8(w);
		memcpy(out + len - 8, &w, 8);
	} else {
		for (; i < len; i++) {
			uint8_t ch = (uint8_t)name[i];
			out[i] = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + ('a' - 'A')) : ch;
		}
	}
	return len;
}

static size_t ip_pack(const struct bw_ip *ip, uint8_t *out)
{
	if (!ip)
		return 0;
	if (ip->family == 4) {
		out[0] = 4;
		memcpy(out + 1, ip->a, 4);
		return 5;
	}
	if (ip->family == 6) {
		out[0] = 6;
		memcpy(out + 1, ip->a, 16);
		return 17;
	}
	return 0;
}

static size_t ip_unpack(const uint8_t *p, size_t n, struct bw_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (n >= 5 && p[0] == 4) {
		ip->family = 4;
		memcpy(ip->a, p + 1, 4);
		return 5;
	}
	if (n >= 17 && p[0] == 6) {
		ip->family = 6;
		memcpy(ip->a, p + 1, 16);
		return 17;
	}
	return 0;
}

static inline bw_time_t time_add(bw_time_t t, uint64_t add)
{
	return t > UINT64_MAX - add ? UINT64_MAX : t + add;
}

static inline bw_time_t expiry(bw_time_t seen, uint32_t ttl)
{
	return time_add(seen, (uint64_t)ttl * BW_NSEC_PER_SEC);
}

/* ---- bounded sets ---- */

/*
 * Value: struct set_hdr, then n members, each struct set_rec followed by
 * its key bytes padded to 8. Members most recently updated first.
 */
struct set_hdr {
	uint16_t n;
	uint16_t pad16;
	uint32_t pad32;
};

struct set_rec {
	bw_time_t first_seen, last_seen;
	uint32_t aux; /* TTL (DNS sets) or sightings (TLS sets) */
	uint16_t klen;
	uint16_t pad;
};

static inline size_t rec_size(size_t klen)
{
	return sizeof(struct set_rec) + ((klen + 7) & ~(size_t)7);
}

/* Walk a set value. The value is ours, but a bad one must not be read past. */
struct set_iter {
	const uint8_t *v;
	size_t len, off;
	uint32_t left;
};

static void set_iter_init(struct set_iter *it, const void *v, size_t len)
{
	it->v = v;
	it->len = len;
	it->off = sizeof(struct set_hdr);
	it->left = 0;
	if (v && len >= sizeof(struct set_hdr)) {
		struct set_hdr h;
		memcpy(&h, v, sizeof(h));
		it->left = h.n;
	}
}

/* Next member: *r and its key (*key, r->klen bytes). false at the end. */
static bool set_iter_next(struct set_iter *it, struct set_rec *r, const uint8_t **key, size_t *at)
{
	if (it->left == 0 || it->off + sizeof(*r) > it->len)
		return false;
	memcpy(r, it->v + it->off, sizeof(*r));
	size_t sz = rec_size(r->klen);
	if (sz > it->len - it->off)
		return false;
	*key = it->v + it->off + sizeof(*r);
	if (at)
		*at = it->off;
	it->off += sz;
	it->left--;
	return true;
}

enum set_aux { AUX_TTL, AUX_COUNT };

struct set_put {
	/* in */
	const uint8_t *key;
	size_t klen;
	uint32_t ttl;
	enum set_aux aux_kind;
	bw_time_t now;
	uint32_t max_n;
	size_t max_bytes;
	bool expire;      /* AUX_TTL sets: drop members dead at now, compute dies */
	bw_time_t grace;
	/* out */
	bw_time_t dies;   /* expire: the last member's expiry + grace (the entry's death time) */
	uint32_t expired; /* members dropped because they were dead */
	bool had_key;     /* the table had an entry for the key */
	int found;        /* index of the member before the update, -1: new member */
	uint32_t drops;   /* members dropped to stay within the bounds */
	bool have_front;  /* the set was not empty: front holds its first member */
	struct set_rec front;
	uint8_t front_key[32]; /* first bytes of its key */
};

static int set_put_fn(void *ctx, const void *old, size_t old_len, void *out, size_t cap)
{
	struct set_put *p = ctx;
	uint8_t *o = out;
	struct set_iter it;
	struct set_rec r;
	const uint8_t *k;

	p->had_key = old != NULL;
	p->found = -1;
	p->drops = 0;
	p->expired = 0;
	p->dies = 0;
	p->have_front = false;
	bool expire = p->expire && p->aux_kind == AUX_TTL;

	struct set_rec nr = { .first_seen = p->now, .last_seen = p->now, .klen = (uint16_t)p->klen };
	nr.aux = p->aux_kind == AUX_COUNT ? 1 : p->ttl;
	set_iter_init(&it, old, old_len);
	for (int i = 0; set_iter_next(&it, &r, &k, NULL); i++) {
		if (i == 0) {
			p->have_front = true;
			p->front = r;
			memcpy(p->front_key, k, BW_MIN((size_t)r.klen, sizeof(p->front_key)));
		}
		if (r.klen == p->klen && memcmp(k, p->key, p->klen) == 0) {
			p->found = i;
			nr = r;
			if (p->now < nr.first_seen)
				nr.first_seen = p->now;
			if (p->aux_kind == AUX_COUNT) {
				if (nr.aux < UINT32_MAX)
					nr.aux++;
			}
			/* A late packet must not shorten what a newer one said. */
			if (p->now >= nr.last_seen) {
				nr.last_seen = p->now;
				if (p->aux_kind == AUX_TTL)
					nr.aux = p->ttl;
			}
			break;
		}
	}

	size_t need = sizeof(struct set_hdr) + rec_size(p->klen);
	if (need > cap)
		return BW_EINVAL;
	struct set_hdr h = { .n = 1 };
	size_t off = sizeof(h);
	memcpy(o + off, &nr, sizeof(nr));
	memset(o + off + sizeof(nr), 0, rec_size(p->klen) - sizeof(nr));
	memcpy(o + off + sizeof(nr), p->key, p->klen);
	off += rec_size(p->klen);
	if (expire)
		p->dies = time_add(expiry(nr.last_seen, nr.aux), p->grace);

	/* The others follow in their order; the tail (updated longest ago) goes first. */
	set_iter_init(&it, old, old_len);
	size_t at;
	for (int i = 0; set_iter_next(&it, &r, &k, &at); i++) {
		if (i == p->found)
			continue;
		if (expire) {
			/* Dead members go as the set is rewritten (not counted as drops of a full set). */
			bw_time_t d = time_add(expiry(r.last_seen, r.aux), p->grace);
			if (d <= p->now) {
				p->expired++;
				continue;
			}
			p->dies = BW_MAX(p->dies, d);
		}
		size_t sz = rec_size(r.klen);
		if (h.n >= p->max_n || off + sz - sizeof(h) > p->max_bytes || off + sz > cap) {
			p->drops++;
			continue;
		}
		memcpy(o + off, (const uint8_t *)old + at, sz);
		off += sz;
		h.n++;
	}
	memcpy(o, &h, sizeof(h));
	return (int)off;
}

static int set_put(struct bw_bindings *b, enum bw_bindings_table t, const uint8_t *key, size_t klen,
		   struct set_put *p)
{
	p->max_n = b->set_max[t];
	p->max_bytes = b->set_bytes;
	p->expire = b->expire;
	p->grace = b->grace;
	/* p->dies is read after set_put_fn has filled it; 0 (never) for the counted sets. */
	int ret = bw_table_update_until(b->t[t], key, klen, p->now, set_put_fn, p, &p->dies);
	if (ret < 0)
		return ret;
	if (p->drops)
		__atomic_fetch_add(&b->drops[t], p->drops, __ATOMIC_RELAXED);
	if (p->expired)
		__atomic_fetch_add(&b->member_expired[t], p->expired, __ATOMIC_RELAXED);
	return BW_OK;
}

/* A copy of a set value, read lock-free. Returns its length or <= 0. */
static int set_get(struct bw_bindings *b, enum bw_bindings_table t, const uint8_t *key, size_t klen, uint64_t *buf)
{
	int n = bw_table_lookup(b->t[t], key, klen, buf, BW_TABLE_VALUE_MAX);
	return n == BW_ENOENT ? 0 : n;
}

/* ---- name -> addresses ---- */

int bw_bind_name_addr(struct bw_bindings *b, const char *name, size_t len, const struct bw_ip *addr, uint32_t ttl,
		      bw_time_t now)
{
	uint8_t nk[BW_BINDINGS_NAME_MAX], ak[IP_PACKED_MAX];
	size_t nlen = name_key(name, len, nk);
	size_t alen = ip_pack(addr, ak);
	if (!b || !nlen || !alen)
		return BW_EINVAL;
	struct set_put p = { .key = ak, .klen = alen, .ttl = ttl, .aux_kind = AUX_TTL, .now = now };
	int ret = set_put(b, BW_BT_NAME_ADDR, nk, nlen, &p);
	if (ret < 0)
		return ret;
	int res = !p.had_key ? BW_BIND_NEW_KEY : p.found < 0 ? BW_BIND_NEW_VALUE : BW_BIND_SAME;
	struct set_put q = { .key = nk, .klen = nlen, .ttl = ttl, .aux_kind = AUX_TTL, .now = now };
	ret = set_put(b, BW_BT_ADDR_NAMES, ak, alen, &q);
	return ret < 0 ? ret : res;
}

static int lookup_name_addrs(struct bw_bindings *b, const char *name, size_t len, bool live, bw_time_t now,
			     struct bw_name_addr *out, size_t cap)
{
	uint8_t nk[BW_BINDINGS_NAME_MAX];
	uint64_t buf[BW_TABLE_VALUE_MAX / 8];
	size_t nlen = name_key(name, len, nk);
	if (!b || !nlen || (!out && cap))
		return BW_EINVAL;
	int vlen = set_get(b, BW_BT_NAME_ADDR, nk, nlen, buf);
	if (vlen <= 0)
		return vlen;
	struct set_iter it;
	struct set_rec r;
	const uint8_t *k;
	size_t n = 0;
	set_iter_init(&it, buf, (size_t)vlen);
	while (n < cap && set_iter_next(&it, &r, &k, NULL)) {
		struct bw_name_addr *a = &out[n];
		bw_time_t exp = expiry(r.last_seen, r.aux);
		if (live && now >= exp)
			continue;
		if (!ip_unpack(k, r.klen, &a->addr))
			continue;
		a->ttl = r.aux;
		a->first_seen = r.first_seen;
		a->last_seen = r.last_seen;
		a->expires = exp;
		n++;
	}
	return (int)n;
}

int bw_lookup_name_addrs(struct bw_bindings *b, const char *name, size_t len, bw_time_t now, struct bw_name_addr *out,
			 size_t cap)
{
	return lookup_name_addrs(b, name, len, true, now, out, cap);
}

int bw_lookup_name_addrs_all(struct bw_bindings *b, const char *name, size_t len, struct bw_name_addr *out,
			     size_t cap)
{
	return lookup_name_addrs(b, name, len, false, 0, out, cap);
}

static int lookup_names(struct bw_bindings *b, enum bw_bindings_table t, const uint8_t *key, size_t klen,
			struct bw_bound_name *out, size_t cap)
{
	uint64_t buf[BW_TABLE_VALUE_MAX / 8];
	if (!out && cap)
		return BW_EINVAL;
	int vlen = set_get(b, t, key, klen, buf);
	if (vlen <= 0)
		return vlen;
	struct set_iter it;
	struct set_rec r;
	const uint8_t *k;
	size_t n = 0;
	set_iter_init(&it, buf, (size_t)vlen);
	while (n < cap && set_iter_next(&it, &r, &k, NULL)) {
		struct bw_bound_name *o = &out[n];
		if (r.klen == 0 || r.klen > BW_BINDINGS_NAME_MAX)
			continue;
		o->len = r.klen;
		memcpy(o->name, k, r.klen);
		o->name[r.klen] = '\0';
		o->first_seen = r.first_seen;
		o->last_seen = r.last_seen;
		if (t == BW_BT_ADDR_NAMES) {
			o->ttl = r.aux;
			o->count = 0;
			o->expires = expiry(r.last_seen, r.aux);
		} else {
			o->ttl = 0;
			o->count = r.aux;
			o->expires = 0;
		}
		n++;
	}
	return (int)n;
}

int bw_lookup_addr_names(struct bw_bindings *b, const struct bw_ip *addr, struct bw_bound_name *out, size_t cap)
{
	uint8_t ak[IP_PACKED_MAX];
	size_t alen = ip_pack(addr, ak);
	if (!b || !alen)
		return BW_EINVAL;
	return lookup_names(b, BW_BT_ADDR_NAMES, ak, alen, out, cap);
}

/* ---- name -> CNAME ---- */

int bw_bind_name_cname(struct bw_bindings *b, const char *name, size_t len, const char *target, size_t tlen,
		       uint32_t ttl, bw_time_t now)
{
	uint8_t nk[BW_BINDINGS_NAME_MAX], tk[BW_BINDINGS_NAME_MAX];
	size_t nlen = name_key(name, len, nk);
	size_t tl = name_key(target, tlen, tk);
	if (!b || !nlen || !tl)
		return BW_EINVAL;
	struct set_put p = { .key = tk, .klen = tl, .ttl = ttl, .aux_kind = AUX_TTL, .now = now };
	int ret = set_put(b, BW_BT_NAME_CNAME, nk, nlen, &p);
	if (ret < 0)
		return ret;
	return !p.had_key ? BW_BIND_NEW_KEY : p.found < 0 ? BW_BIND_NEW_VALUE : BW_BIND_SAME;
}

static int lookup_cname_key(struct bw_bindings *b, const uint8_t *nk, size_t nlen, struct bw_name_cname *out)
{
	uint64_t buf[BW_TABLE_VALUE_MAX / 8];
	int vlen = set_get(b, BW_BT_NAME_CNAME, nk, nlen, buf);
	if (vlen < 0)
		return vlen;
	struct set_iter it;
	struct set_rec r;
	const uint8_t *k;
	set_iter_init(&it, buf, (size_t)vlen);
	if (vlen == 0 || !set_iter_next(&it, &r, &k, NULL) || r.klen == 0 || r.klen > BW_BINDINGS_NAME_MAX)
		return BW_ENOENT;
	out->target_len = r.klen;
	memcpy(out->target, k, r.klen);
	out->target[r.klen] = '\0';
	out->ttl = r.aux;
	out->first_seen = r.first_seen;
	out->last_seen = r.last_seen;
	out->expires = expiry(r.last_seen, r.aux);
	return BW_OK;
}

int bw_lookup_name_cname(struct bw_bindings *b, const char *name, size_t len, struct bw_name_cname *out)
{
	uint8_t nk[BW_BINDINGS_NAME_MAX];
	size_t nlen = name_key(name, len, nk);
	if (!b || !nlen || !out)
		return BW_EINVAL;
	return lookup_cname_key(b, nk, nlen, out);
}

/* A CNAME binding past its TTL and the grace is absent, swept or not. */
static bool cname_dead(const struct bw_bindings *b, const struct bw_name_cname *h, bw_time_t now)
{
	return b->expire && now >= time_add(h->expires, b->grace);
}

int bw_follow_cname_chain(struct bw_bindings *b, const char *name, size_t len, bw_time_t now, bool live_only,
			  struct bw_cname_chain *out)
{
	uint8_t start[BW_BINDINGS_NAME_MAX];
	size_t slen = name_key(name, len, start);
	if (!b || !slen || !out)
		return BW_EINVAL;
	out->n = 0;
	out->loop = false;
	out->truncated = false;
	const uint8_t *cur = start;
	size_t clen = slen;
	while (out->n < BW_BINDINGS_CNAME_HOPS) {
		struct bw_name_cname *h = &out->hop[out->n];
		if (lookup_cname_key(b, cur, clen, h) != BW_OK)
			break;
		if (live_only ? now >= h->expires : cname_dead(b, h, now))
			break;
		out->n++;
		bool seen = h->target_len == slen && memcmp(h->target, start, slen) == 0;
		for (uint32_t i = 0; !seen && i + 1 < out->n; i++)
			seen = out->hop[i].target_len == h->target_len &&
			       memcmp(out->hop[i].target, h->target, h->target_len) == 0;
		if (seen) {
			out->loop = true;
			return (int)out->n;
		}
		cur = (const uint8_t *)h->target;
		clen = h->target_len;
	}
	if (out->n == BW_BINDINGS_CNAME_HOPS) {
		struct bw_name_cname next;
		if (lookup_cname_key(b, cur, clen, &next) == BW_OK &&
		    (live_only ? now < next.expires : !cname_dead(b, &next, now)))
			out->truncated = true;
	}
	return (int)out->n;
}

/* ---- name -> rcode ---- */

struct rcode_val {
	uint16_t rcode;
	uint16_t pad;
	uint32_t nxdomain_count;
	bw_time_t first_seen, last_seen, nxdomain_first, nxdomain_last;
};

struct rcode_put {
	uint16_t rcode;
	bw_time_t now;
	bw_time_t grace; /* 0: the entry never dies */
	int result;
	bw_time_t dies;
};

static int rcode_put_fn(void *ctx, const void *old, size_t old_len, void *out, size_t cap)
{
	struct rcode_put *p = ctx;
	struct rcode_val v = { .rcode = p->rcode, .first_seen = p->now, .last_seen = p->now };
	if (cap < sizeof(v))
		return BW_EINVAL;
	p->result = BW_BIND_NEW_KEY;
	if (old && old_len == sizeof(v)) {
		memcpy(&v, old, sizeof(v));
		p->result = v.rcode == p->rcode ? BW_BIND_SAME : BW_BIND_NEW_VALUE;
		if (p->now < v.first_seen)
			v.first_seen = p->now;
		if (p->now >= v.last_seen) {
			v.last_seen = p->now;
			v.rcode = p->rcode;
		} else {
			p->result = BW_BIND_SAME; /* a late answer does not change the latest */
		}
	}
	if (p->rcode == BW_RCODE_NXDOMAIN) {
		if (v.nxdomain_count < UINT32_MAX)
			v.nxdomain_count++;
		if (!v.nxdomain_first || p->now < v.nxdomain_first)
			v.nxdomain_first = p->now;
		if (p->now > v.nxdomain_last)
			v.nxdomain_last = p->now;
	}
	memcpy(out, &v, sizeof(v));
	/* No TTL here: the name is remembered for the grace after its latest answer. */
	p->dies = p->grace ? time_add(v.last_seen, p->grace) : 0;
	return (int)sizeof(v);
}

int bw_bind_name_rcode(struct bw_bindings *b, const char *name, size_t len, uint16_t rcode, bw_time_t now)
{
	uint8_t nk[BW_BINDINGS_NAME_MAX];
	size_t nlen = name_key(name, len, nk);
	if (!b || !nlen)
		return BW_EINVAL;
	struct rcode_put p = { .rcode = rcode, .now = now, .grace = b->expire ? BW_MAX(b->grace, (bw_time_t)1) : 0 };
	int ret = bw_table_update_until(b->t[BW_BT_NAME_RCODE], nk, nlen, now, rcode_put_fn, &p, &p.dies);
	return ret < 0 ? ret : p.result;
}

int bw_lookup_name_rcode(struct bw_bindings *b, const char *name, size_t len, struct bw_name_rcode *out)
{
	uint8_t nk[BW_BINDINGS_NAME_MAX];
	size_t nlen = name_key(name, len, nk);
	if (!b || !nlen || !out)
		return BW_EINVAL;
	struct rcode_val v;
	int n = bw_table_lookup(b->t[BW_BT_NAME_RCODE], nk, nlen, &v, sizeof(v));
	if (n < 0)
		return n;
	if (n != (int)sizeof(v))
		return BW_ENOENT;
	out->rcode = v.rcode;
	out->nxdomain_count = v.nxdomain_count;
	out->first_seen = v.first_seen;
	out->last_seen = v.last_seen;
	out->nxdomain_first = v.nxdomain_first;
	out->nxdomain_last = v.nxdomain_last;
	return BW_OK;
}

/* ---- certificates ---- */

static size_t server_key(const struct bw_ip *addr, uint16_t port, const char *sni, size_t sni_len, uint8_t *out)
{
	size_t n = ip_pack(addr, out);
	if (!n)
		return 0;
	memcpy(out + n, &port, 2);
	n += 2;
	if (sni && sni_len) {
		size_t l = name_key(sni, sni_len, out + n);
		if (!l)
			return 0;
		n += l;
	}
	return n;
}

static void cert_seen_from(struct bw_cert_seen *o, const struct set_rec *r, const uint8_t *key)
{
	memset(o, 0, sizeof(*o));
	if (r->klen == 32)
		memcpy(o->sha256, key, 32);
	o->count = r->aux;
	o->first_seen = r->first_seen;
	o->last_seen = r->last_seen;
}

int bw_bind_server_cert(struct bw_bindings *b, const struct bw_ip *addr, uint16_t port, const char *sni,
			size_t sni_len, const uint8_t sha256[32], bw_time_t now, struct bw_cert_seen *prev)
{
	uint8_t sk[SERVER_KEY_MAX];
	size_t slen = server_key(addr, port, sni, sni_len, sk);
	if (!b || !slen || !sha256)
		return BW_EINVAL;
	struct set_put p = { .key = sha256, .klen = 32, .aux_kind = AUX_COUNT, .now = now };
	int ret = set_put(b, BW_BT_SERVER_CERT, sk, slen, &p);
	if (ret < 0)
		return ret;
	int res = !p.had_key ? BW_BIND_NEW_KEY : p.found == 0 ? BW_BIND_SAME : BW_BIND_NEW_VALUE;
	if (res == BW_BIND_NEW_VALUE && prev && p.have_front)
		cert_seen_from(prev, &p.front, p.front_key);

	/* cert -> servers: the server part of the key is the packed address and port. */
	size_t alen = ip_pack(addr, sk);
	struct set_put q = { .key = sk, .klen = alen + 2, .aux_kind = AUX_COUNT, .now = now };
	ret = set_put(b, BW_BT_CERT_SERVERS, sha256, 32, &q);
	if (ret < 0)
		return ret;
	if (sni && sni_len) {
		uint8_t nk[BW_BINDINGS_NAME_MAX];
		size_t nlen = name_key(sni, sni_len, nk);
		struct set_put r = { .key = nk, .klen = nlen, .aux_kind = AUX_COUNT, .now = now };
		ret = set_put(b, BW_BT_CERT_NAMES, sha256, 32, &r);
		if (ret < 0)
			return ret;
	}
	return res;
}

int bw_lookup_server_cert(struct bw_bindings *b, const struct bw_ip *addr, uint16_t port, const char *sni,
			  size_t sni_len, struct bw_server_cert *out)
{
	uint8_t sk[SERVER_KEY_MAX];
	uint64_t buf[BW_TABLE_VALUE_MAX / 8];
	size_t slen = server_key(addr, port, sni, sni_len, sk);
	if (!b || !slen || !out)
		return BW_EINVAL;
	int vlen = set_get(b, BW_BT_SERVER_CERT, sk, slen, buf);
	if (vlen < 0)
		return vlen;
	if (vlen == 0)
		return BW_ENOENT;
	struct set_iter it;
	struct set_rec r;
	const uint8_t *k;
	out->n = 0;
	set_iter_init(&it, buf, (size_t)vlen);
	while (out->n < BW_BINDINGS_CERT_HISTORY && set_iter_next(&it, &r, &k, NULL))
		if (r.klen == 32)
			cert_seen_from(&out->h[out->n++], &r, k);
	return out->n ? BW_OK : BW_ENOENT;
}

int bw_lookup_cert_names(struct bw_bindings *b, const uint8_t sha256[32], struct bw_bound_name *out, size_t cap)
{
	if (!b || !sha256)
		return BW_EINVAL;
	return lookup_names(b, BW_BT_CERT_NAMES, sha256, 32, out, cap);
}

int bw_lookup_cert_servers(struct bw_bindings *b, const uint8_t sha256[32], struct bw_cert_server *out,
			   size_t cap)
{
	uint64_t buf[BW_TABLE_VALUE_MAX / 8];
	if (!b || !sha256 || (!out && cap))
		return BW_EINVAL;
	int vlen = set_get(b, BW_BT_CERT_SERVERS, sha256, 32, buf);
	if (vlen <= 0)
		return vlen;
	struct set_iter it;
	struct set_rec r;
	const uint8_t *k;
	size_t n = 0;
	set_iter_init(&it, buf, (size_t)vlen);
	while (n < cap && set_iter_next(&it, &r, &k, NULL)) {
		struct bw_cert_server *o = &out[n];
		size_t al = ip_unpack(k, r.klen, &o->addr);
		if (!al || r.klen != al + 2)
			continue;
		memcpy(&o->port, k + al, 2);
		o->count = r.aux;
		o->first_seen = r.first_seen;
		o->last_seen = r.last_seen;
		n++;
	}
	return (int)n;
}

/* ---- stats ---- */

void bw_bindings_stats(const struct bw_bindings *b, struct bw_bindings_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!b)
		return;
	for (int i = 0; i < BW_BT_COUNT; i++) {
		bw_table_stats(b->t[i], &out->t[i]);
		out->set_drops[i] = __atomic_load_n(&b->drops[i], __ATOMIC_RELAXED);
		out->member_expired[i] = __atomic_load_n(&b->member_expired[i], __ATOMIC_RELAXED);
	}
}
