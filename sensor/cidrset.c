/* SPDX-License-Identifier: MIT */
/*
 * cidrset.c: prefixes become inclusive address ranges, one array per
 * family, kept as a sorted run of merged ranges followed by a short
 * unsorted tail of recent additions. Lookup is a binary search of the run
 * and a scan of the tail; sealing sorts and merges in place, so it needs no
 * memory and cannot fail. Overlapping and adjacent prefixes merge into one
 * range, which keeps the search short and makes "inside any prefix" a
 * single comparison at the end. Sets here are small (the policy's), which is
 * why sorted ranges beat a trie: fewer cache lines per lookup, no pointers.
 */
#include "cidrset.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct u128 {
	uint64_t hi, lo;
};

struct r4 {
	uint32_t lo, hi;
};

struct r6 {
	struct u128 lo, hi;
};

struct bw_cidrset {
	struct r4 *v4;
	size_t n4, sorted4, cap4;
	struct r6 *v6;
	size_t n6, sorted6, cap6;
	struct bw_prefix *list;
	size_t n, cap;
};

static inline int cmp128(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static inline uint32_t load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t load64(const uint8_t *p) { return (uint64_t)load32(p) << 32 | load32(p + 4); }

static inline struct u128 load128(const uint8_t *p) { return (struct u128){load64(p), load64(p + 8)}; }

/* Mask of the first len bits of a 32-bit word (len 0..32). */
static inline uint32_t mask32(unsigned len) { return len == 0 ? 0 : ~0u << (32 - len); }
static inline uint64_t mask64(unsigned len) { return len == 0 ? 0 : ~0ull << (64 - len); }

static struct u128 mask128(unsigned len)
{
	if (len <= 64)
		return (struct u128){mask64(len), 0};
	return (struct u128){~0ull, mask64(len - 64)};
}

int bw_prefix_parse(const char *text, size_t n, struct bw_prefix *out)
{
	char buf[64];
	if (!text || !out || n == 0 || n >= sizeof(buf) || memchr(text, 0, n))
		return BW_EINVAL;
	memcpy(buf, text, n);
	buf[n] = 0;
	char *slash = strchr(buf, '/');
	int len = -1;
	if (slash) {
		*slash = 0;
		const char *d = slash + 1;
		size_t dl = strlen(d);
		if (dl == 0 || dl > 3 || (dl > 1 && d[0] == '0'))
			return BW_EINVAL;
		len = 0;
		for (size_t i = 0; i < dl; i++) {
			if (d[i] < '0' || d[i] > '9')
				return BW_EINVAL;
			len = len * 10 + (d[i] - '0');
		}
	}
	struct bw_prefix p;
	memset(&p, 0, sizeof(p));
	if (strchr(buf, ':')) {
		if (inet_pton(AF_INET6, buf, p.addr.a) != 1)
			return BW_EINVAL;
		p.addr.family = 6;
		if (len > 128)
			return BW_EINVAL;
		p.len = (uint8_t)(len < 0 ? 128 : len);
	} else {
		if (inet_pton(AF_INET, buf, p.addr.a) != 1)
			return BW_EINVAL;
		p.addr.family = 4;
		if (len > 32)
			return BW_EINVAL;
		p.len = (uint8_t)(len < 0 ? 32 : len);
	}
	*out = p;
	return BW_OK;
}

static bool prefix_valid(const struct bw_prefix *p)
{
	return p && ((p->addr.family == 4 && p->len <= 32) || (p->addr.family == 6 && p->len <= 128));
}

void bw_prefix_mask(struct bw_prefix *p)
{
	if (!prefix_valid(p))
		return;
	unsigned bits = p->addr.family == 4 ? 32 : 128;
	for (unsigned i = 0; i < bits / 8; i++) {
		unsigned first = i * 8;
		if (first >= p->len)
			p->addr.a[i] = 0;
		else if (first + 8 > p->len)
			p->addr.a[i] &= (uint8_t)(0xff << (8 - (p->len - first)));
	}
	for (unsigned i = bits / 8; i < 16; i++)
		p->addr.a[i] = 0;
}

bool bw_prefix_host_bits(const struct bw_prefix *p)
{
	if (!prefix_valid(p))
		return false;
	struct bw_prefix m = *p;
	bw_prefix_mask(&m);
	return memcmp(m.addr.a, p->addr.a, sizeof(m.addr.a)) != 0;
}

bool bw_prefix_contains(const struct bw_prefix *p, const struct bw_ip *ip)
{
	if (!prefix_valid(p) || !ip || ip->family != p->addr.family)
		return false;
	if (ip->family == 4) {
		uint32_t m = mask32(p->len);
		return (load32(ip->a) & m) == (load32(p->addr.a) & m);
	}
	struct u128 m = mask128(p->len), a = load128(ip->a), b = load128(p->addr.a);
	return (a.hi & m.hi) == (b.hi & m.hi) && (a.lo & m.lo) == (b.lo & m.lo);
}

char *bw_prefix_str(const struct bw_prefix *p, char *out, size_t cap)
{
	char a[48];
	if (!out || cap == 0)
		return out;
	if (!prefix_valid(p)) {
		snprintf(out, cap, "-");
		return out;
	}
	bw_ip_str(&p->addr, a, sizeof(a));
	snprintf(out, cap, "%s/%u", a, (unsigned)p->len);
	return out;
}

struct bw_cidrset *bw_cidrset_new(void) { return calloc(1, sizeof(struct bw_cidrset)); }

void bw_cidrset_free(struct bw_cidrset *s)
{
	if (!s)
		return;
	free(s->v4);
	free(s->v6);
	free(s->list);
	free(s);
}

static int cmp_r4(const void *a, const void *b)
{
	const struct r4 *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

static int cmp_r6(const void *a, const void *b)
{
	const struct r6 *x = a, *y = b;
	return cmp128(x->lo, y->lo);
}

/* hi + 1 >= lo, without overflow: the ranges touch or overlap. */
static inline bool touch4(uint32_t hi, uint32_t lo) { return hi == UINT32_MAX || hi + 1 >= lo; }

static inline bool touch6(struct u128 hi, struct u128 lo)
{
	if (hi.hi == UINT64_MAX && hi.lo == UINT64_MAX)
		return true;
	struct u128 next = {hi.hi + (hi.lo == UINT64_MAX), hi.lo + 1};
	return cmp128(next, lo) >= 0;
}

static void seal4(struct bw_cidrset *s)
{
	if (s->sorted4 == s->n4)
		return;
	qsort(s->v4, s->n4, sizeof(*s->v4), cmp_r4);
	size_t w = 0;
	for (size_t i = 0; i < s->n4; i++) {
		if (w && touch4(s->v4[w - 1].hi, s->v4[i].lo)) {
			s->v4[w - 1].hi = BW_MAX(s->v4[w - 1].hi, s->v4[i].hi);
			continue;
		}
		s->v4[w++] = s->v4[i];
	}
	s->n4 = s->sorted4 = w;
}

static void seal6(struct bw_cidrset *s)
{
	if (s->sorted6 == s->n6)
		return;
	qsort(s->v6, s->n6, sizeof(*s->v6), cmp_r6);
	size_t w = 0;
	for (size_t i = 0; i < s->n6; i++) {
		if (w && touch6(s->v6[w - 1].hi, s->v6[i].lo)) {
			if (cmp128(s->v6[i].hi, s->v6[w - 1].hi) > 0)
				s->v6[w - 1].hi = s->v6[i].hi;
			continue;
		}
		s->v6[w++] = s->v6[i];
	}
	s->n6 = s->sorted6 = w;
}

int bw_cidrset_seal(struct bw_cidrset *s)
{
	if (!s)
		return BW_EINVAL;
	seal4(s);
	seal6(s);
	return BW_OK;
}

/* Re-sort once the tail outgrows the sorted run: O(n log^2 n) for n additions, and a short tail to scan. */
static bool tail_too_long(size_t n, size_t sorted) { return n - sorted > 16 && n - sorted > sorted; }

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return BW_OK;
	size_t nc = *cap ? *cap * 2 : 8;
	while (nc < need)
		nc *= 2;
	void *na = realloc(*arr, nc * elem);
	if (!na)
		return BW_ENOMEM;
	*arr = na;
	*cap = nc;
	return BW_OK;
}

int bw_cidrset_add(struct bw_cidrset *s, const struct bw_prefix *p)
{
	if (!s || !prefix_valid(p))
		return BW_EINVAL;
	struct bw_prefix m = *p;
	bw_prefix_mask(&m);
	if (grow((void **)&s->list, &s->cap, s->n + 1, sizeof(*s->list)) != BW_OK)
		return BW_ENOMEM;
	if (m.addr.family == 4) {
		if (grow((void **)&s->v4, &s->cap4, s->n4 + 1, sizeof(*s->v4)) != BW_OK)
			return BW_ENOMEM;
		uint32_t lo = load32(m.addr.a);
		s->v4[s->n4++] = (struct r4){lo, lo | ~mask32(m.len)};
		if (tail_too_long(s->n4, s->sorted4))
			seal4(s);
	} else {
		if (grow((void **)&s->v6, &s->cap6, s->n6 + 1, sizeof(*s->v6)) != BW_OK)
			return BW_ENOMEM;
		struct u128 lo = load128(m.addr.a), mk = mask128(m.len);
		s->v6[s->n6++] = (struct r6){lo, {lo.hi | ~mk.hi, lo.lo | ~mk.lo}};
		if (tail_too_long(s->n6, s->sorted6))
			seal6(s);
	}
	s->list[s->n++] = m;
	return BW_OK;
}

int bw_cidrset_add_ip(struct bw_cidrset *s, const struct bw_ip *ip)
{
	if (!ip || (ip->family != 4 && ip->family != 6))
		return BW_EINVAL;
	struct bw_prefix p = {.addr = *ip, .len = ip->family == 4 ? 32 : 128};
	return bw_cidrset_add(s, &p);
}

int bw_cidrset_add_text(struct bw_cidrset *s, const char *text, size_t n)
{
	struct bw_prefix p;
	if (!s || bw_prefix_parse(text, n, &p) != BW_OK || bw_prefix_host_bits(&p))
		return BW_EINVAL;
	return bw_cidrset_add(s, &p);
}

static bool find4(const struct bw_cidrset *s, uint32_t a)
{
	/* Last sorted range starting at or below a. */
	size_t lo = 0, hi = s->sorted4;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->v4[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && a <= s->v4[lo - 1].hi)
		return true;
	for (size_t i = s->sorted4; i < s->n4; i++)
		if (s->v4[i].lo <= a && a <= s->v4[i].hi)
			return true;
	return false;
}

static bool find6(const struct bw_cidrset *s, struct u128 a)
{
	size_t lo = 0, hi = s->sorted6;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp128(s->v6[mid].lo, a) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && cmp128(a, s->v6[lo - 1].hi) <= 0)
		return true;
	for (size_t i = s->sorted6; i < s->n6; i++)
		if (cmp128(s->v6[i].lo, a) <= 0 && cmp128(a, s->v6[i].hi) <= 0)
			return true;
	return false;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool bw_cidrset_contains(const struct bw_cidrset *s, const struct bw_ip *ip)
{
	if (!s || !ip)
		return false;
	if (ip->family == 4)
		return s->n4 && find4(s, load32(ip->a));
	if (ip->family != 6)
		return false;
	if (s->n6 && find6(s, load128(ip->a)))
		return true;
	return s->n4 && memcmp(ip->a, v4mapped, sizeof(v4mapped)) == 0 && find4(s, load32(ip->a + 12));
}

size_t bw_cidrset_count(const struct bw_cidrset *s) { return s ? s->n : 0; }

const struct bw_prefix *bw_cidrset_get(const struct bw_cidrset *s, size_t i)
{
	if (!s || i >= s->n)
		return NULL;
	return &s->list[i];
}
