/* SPDX-License-Identifier: MIT */
/*
 * iplpm.c: longest-prefix match by flattening prefixes into ranges.
 *
 * Lookups run per observed address (answers, TLS peers), so the table is
 * laid out for the lookup, not the update: CIDR prefixes either nest or are
 * disjoint, so one sweep over them sorted by (start, length) with a stack of
 * open prefixes cuts the address space into maximal ranges that each have
 * one most-specific owner. Finding the range of an address is then a binary
 * search over a sorted array of range starts, made short by an index on
 * the top 16 bits with a 256-way node per further byte only where ranges
 * crowd. Unlike a bit trie there is at most one load per address byte and
 * the ranges are dense; rebuilding is cheap (~15 ms for 10^5 prefixes)
 * because the tables are reloaded whole, never patched.
 */
#include "iplpm.h"

#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define ROOT_SLOTS 65536u
#define LEAF_MAX 48u /* ranges a slot may hold before it gets a node of its own */
#define IDX_OFF(node) (ROOT_SLOTS + 1 + ((size_t)(node) - 1) * 257)
#define CHILD_OFF(node) (ROOT_SLOTS + ((size_t)(node) - 1) * 256)

struct in_prefix {
	u128 start;
	uint32_t value;
	uint32_t order; /* add() order, for the duplicate report and a stable sort */
	uint8_t family;
	uint8_t plen;
};

struct bw_lpm_builder {
	struct in_prefix *v;
	size_t n, cap, max;
};

/* One distinct prefix of the built table. */
struct pfx {
	uint32_t value;
	uint32_t parent; /* index of the next less specific covering prefix, or BW_LPM_NONE */
	uint8_t plen;
};

struct key6 {
	uint64_t hi, lo;
};

struct fam {
	size_t nranges, nprefixes;
	uint32_t *owner;     /* nranges: index into pfx[], or BW_LPM_NONE */
	uint32_t *start4;    /* IPv4 range starts */
	struct key6 *start6; /* IPv6 range starts */
	/*
	 * The index: a root of 2^16 slots (top 16 address bits), and below a
	 * slot holding more than LEAF_MAX ranges a node of 256 slots for the
	 * next address byte, and so on. idx: per slot, the range holding the
	 * slot's first address (a node's idx has one more entry: its
	 * parent's next one, an upper bound for the last slot). child: per
	 * slot, the node below it (0 = none: binary search the ranges).
	 */
	uint32_t *idx;
	uint32_t *child;
	size_t nnodes;       /* nodes below the root */
};

struct bw_lpm {
	struct pfx *pfx;
	size_t npfx;
	struct fam f4, f6;
};

int bw_lpm_builder_new(struct bw_lpm_builder **out, size_t max_prefixes)
{
	struct bw_lpm_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return BW_ENOMEM;
	b->max = max_prefixes && max_prefixes < BW_LPM_MAX_PREFIXES ? max_prefixes : BW_LPM_MAX_PREFIXES;
	*out = b;
	return BW_OK;
}

void bw_lpm_builder_free(struct bw_lpm_builder *b)
{
	if (!b)
		return;
	free(b->v);
	free(b);
}

static u128 host_mask(unsigned bits, unsigned plen)
{
	unsigned h = bits - plen;
	if (h == 0)
		return 0;
	if (h >= 128)
		return ~(u128)0;
	return ((u128)1 << h) - 1;
}

int bw_lpm_add(struct bw_lpm_builder *b, uint8_t family, const uint8_t *addr, unsigned plen,
	       uint32_t value)
{
	unsigned bits = family == 4 ? 32 : family == 6 ? 128 : 0;
	if (!b || !addr || !bits || plen > bits || value == BW_LPM_NONE)
		return BW_EINVAL;
	u128 s = 0;
	for (unsigned i = 0; i < bits / 8; i++)
		s = s << 8 | addr[i];
	if (s & host_mask(bits, plen))
		return BW_EINVAL;
	if (b->n == b->max)
		return BW_ELIMIT;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 1024;
		if (nc > b->max)
			nc = b->max;
		struct in_prefix *nv = realloc(b->v, nc * sizeof(*nv));
		if (!nv)
			return BW_ENOMEM;
		b->v = nv;
		b->cap = nc;
	}
	b->v[b->n] = (struct in_prefix){ .start = s, .value = value, .order = (uint32_t)b->n,
					 .family = family, .plen = (uint8_t)plen };
	b->n++;
	return BW_OK;
}

static int cmp_prefix(const void *pa, const void *pb)
{
	const struct in_prefix *a = pa, *b = pb;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Growable range list used while sweeping; adjacent ranges of one owner merge. */
struct rlist {
	u128 *start;
	uint32_t *owner;
	size_t n, cap;
	bool oom;
};

static void r_emit(struct rlist *r, u128 start, uint32_t owner)
{
	if (r->oom)
		return;
	if (r->n && r->owner[r->n - 1] == owner)
		return;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 256;
		u128 *ns = realloc(r->start, nc * sizeof(*ns));
		if (!ns) {
			r->oom = true;
			return;
		}
		r->start = ns;
		uint32_t *no = realloc(r->owner, nc * sizeof(*no));
		if (!no) {
			r->oom = true;
			return;
		}
		r->owner = no;
		r->cap = nc;
	}
	r->start[r->n] = start;
	r->owner[r->n] = owner;
	r->n++;
}

/*
 * Sweep the sorted distinct prefixes p[0..n) of one family (their table
 * indexes are base..base+n) into ranges, and fill in each one's parent.
 */
static int sweep(const struct in_prefix *p, size_t n, uint32_t base, unsigned bits, struct pfx *out,
		 struct rlist *r)
{
	uint32_t stack[129];
	u128 send[129];
	size_t sp = 0;
	u128 cursor = 0;
	bool done = false; /* cursor ran past the top of the address space */
	u128 top_addr = host_mask(bits, 0);

	for (size_t i = 0; i < n; i++) {
		u128 s = p[i].start, e = s | host_mask(bits, p[i].plen);
		while (sp && send[sp - 1] < s) {
			if (!done && cursor <= send[sp - 1]) {
				r_emit(r, cursor, stack[sp - 1]);
				cursor = send[sp - 1] + 1; /* < s, no overflow */
			}
			sp--;
		}
		if (cursor < s)
			r_emit(r, cursor, sp ? stack[sp - 1] : BW_LPM_NONE);
		out[base + i].parent = sp ? stack[sp - 1] : BW_LPM_NONE;
		/* sorted by start then length and nesting-or-disjoint: depth <= bits + 1 */
		stack[sp] = base + (uint32_t)i;
		send[sp] = e;
		sp++;
		cursor = s;
	}
	while (sp) {
		if (!done && cursor <= send[sp - 1]) {
			r_emit(r, cursor, stack[sp - 1]);
			if (send[sp - 1] == top_addr)
				done = true;
			else
				cursor = send[sp - 1] + 1;
		}
		sp--;
	}
	if (!done)
		r_emit(r, cursor, BW_LPM_NONE);
	return r->oom ? BW_ENOMEM : BW_OK;
}

/* Last range starting at or before a, searching r->start[lo..hi] (start[lo] <= a). */
static uint32_t r_find(const struct rlist *r, size_t lo, size_t hi, u128 a)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (r->start[mid] <= a)
			lo = mid;
		else
			hi = mid - 1;
	}
	return (uint32_t)lo;
}

/*
 * Fill the slots of one node: nslots slots of 2^sbits addresses from base,
 * idx at io, child at co, end_idx the upper bound after the last slot.
 * Slots with too many ranges get a node for the next byte (recursion depth
 * <= 14: one level per remaining address byte).
 */
static int fill(struct fam *f, const struct rlist *r, u128 base, unsigned sbits, size_t nslots, size_t io,
		size_t co, uint32_t start_idx, uint32_t end_idx)
{
	uint32_t j = start_idx;
	for (size_t k = 0; k < nslots; k++) {
		u128 a = base + ((u128)k << sbits);
		j = r_find(r, j, end_idx, a);
		f->idx[io + k] = j;
	}
	f->idx[io + nslots] = end_idx;
	for (size_t k = 0; k < nslots; k++) {
		uint32_t lo = f->idx[io + k], hi = f->idx[io + k + 1];
		f->child[co + k] = 0;
		if (hi - lo < LEAF_MAX || sbits < 8)
			continue;
		size_t node = ++f->nnodes;
		uint32_t *ni = realloc(f->idx, (IDX_OFF(node) + 257) * sizeof(*ni));
		if (!ni)
			return BW_ENOMEM;
		f->idx = ni;
		uint32_t *nc = realloc(f->child, (CHILD_OFF(node) + 256) * sizeof(*nc));
		if (!nc)
			return BW_ENOMEM;
		f->child = nc;
		f->child[co + k] = (uint32_t)node;
		int rc = fill(f, r, base + ((u128)k << sbits), sbits - 8, 256, IDX_OFF(node), CHILD_OFF(node), lo, hi);
		if (rc)
			return rc;
	}
	return BW_OK;
}

static int fam_from_ranges(struct fam *f, const struct rlist *r, unsigned bits)
{
	f->nranges = r->n;
	f->owner = malloc(r->n * sizeof(*f->owner));
	f->idx = malloc((ROOT_SLOTS + 1) * sizeof(*f->idx));
	f->child = malloc(ROOT_SLOTS * sizeof(*f->child));
	if (bits == 32)
		f->start4 = malloc(r->n * sizeof(*f->start4));
	else
		f->start6 = malloc(r->n * sizeof(*f->start6));
	if (!f->owner || !f->idx || !f->child || (!f->start4 && !f->start6))
		return BW_ENOMEM;
	memcpy(f->owner, r->owner, r->n * sizeof(*f->owner));
	for (size_t i = 0; i < r->n; i++) {
		if (bits == 32)
			f->start4[i] = (uint32_t)r->start[i];
		else
			f->start6[i] = (struct key6){ (uint64_t)(r->start[i] >> 64), (uint64_t)r->start[i] };
	}
	/* ranges start at address 0, so every slot's first address has one */
	return fill(f, r, 0, bits - 16, ROOT_SLOTS, 0, 0, 0, (uint32_t)(r->n - 1));
}

static void fam_free(struct fam *f)
{
	free(f->owner);
	free(f->start4);
	free(f->start6);
	free(f->idx);
	free(f->child);
}

void bw_lpm_free(struct bw_lpm *t)
{
	if (!t)
		return;
	fam_free(&t->f4);
	fam_free(&t->f6);
	free(t->pfx);
	free(t);
}

int bw_lpm_build(struct bw_lpm_builder *b, struct bw_lpm **out, size_t *dup_index)
{
	if (!b || !out)
		return BW_EINVAL;
	*out = NULL;
	int rc = BW_ENOMEM;
	struct rlist r = { 0 };
	struct bw_lpm *t = calloc(1, sizeof(*t));
	if (!t)
		return BW_ENOMEM;
	if (b->n)
		qsort(b->v, b->n, sizeof(*b->v), cmp_prefix);

	/* merge duplicates in place */
	size_t w = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (w && b->v[w - 1].family == b->v[i].family && b->v[w - 1].start == b->v[i].start &&
		    b->v[w - 1].plen == b->v[i].plen) {
			if (b->v[w - 1].value != b->v[i].value) {
				if (dup_index)
					*dup_index = b->v[i].order;
				rc = BW_EINVAL;
				goto fail;
			}
			continue;
		}
		b->v[w++] = b->v[i];
	}
	b->n = w;
	t->npfx = w;
	t->pfx = calloc(w ? w : 1, sizeof(*t->pfx));
	if (!t->pfx)
		goto fail;
	for (size_t i = 0; i < w; i++)
		t->pfx[i] = (struct pfx){ .value = b->v[i].value, .plen = b->v[i].plen };

	size_t n4 = 0;
	while (n4 < w && b->v[n4].family == 4)
		n4++;
	t->f4.nprefixes = n4;
	t->f6.nprefixes = w - n4;
	if ((rc = sweep(b->v, n4, 0, 32, t->pfx, &r)) || (rc = fam_from_ranges(&t->f4, &r, 32)))
		goto fail;
	r.n = 0;
	rc = sweep(w ? b->v + n4 : NULL, w - n4, (uint32_t)n4, 128, t->pfx, &r); /* no arithmetic on NULL */
	if (rc || (rc = fam_from_ranges(&t->f6, &r, 128)))
		goto fail;
	free(r.start);
	free(r.owner);
	*out = t;
	return BW_OK;
fail:
	free(r.start);
	free(r.owner);
	bw_lpm_free(t);
	return rc == BW_OK ? BW_ENOMEM : rc;
}

static uint32_t owner4(const struct bw_lpm *t, uint32_t a)
{
	const struct fam *f = &t->f4;
	uint32_t k = a >> 16;
	uint32_t base = f->idx[k], end = f->idx[k + 1], c = f->child[k];
	if (c) { /* at most two levels: bytes 2 and 3 */
		k = (a >> 8) & 0xff;
		base = f->idx[IDX_OFF(c) + k];
		end = f->idx[IDX_OFF(c) + k + 1];
		c = f->child[CHILD_OFF(c) + k];
		if (c) {
			k = a & 0xff;
			base = f->idx[IDX_OFF(c) + k];
			end = f->idx[IDX_OFF(c) + k + 1];
		}
	}
	/* the last range starting at or before a; start[base] <= a always holds */
	uint32_t len = end - base + 1;
	const uint32_t *s = f->start4;
	while (len > 1) {
		uint32_t half = len / 2;
		base = s[base + half] <= a ? base + half : base; /* a conditional move, not a branch */
		len -= half;
	}
	return f->owner[base];
}

static uint32_t owner6(const struct bw_lpm *t, const uint8_t a[16])
{
	const struct fam *f = &t->f6;
	uint64_t hi64 = 0, lo64 = 0;
	for (int i = 0; i < 8; i++) {
		hi64 = hi64 << 8 | a[i];
		lo64 = lo64 << 8 | a[8 + i];
	}
	uint32_t k = (uint32_t)a[0] << 8 | a[1];
	uint32_t base = f->idx[k], end = f->idx[k + 1], c = f->child[k];
	for (unsigned byte = 2; c && byte < 16; byte++) {
		k = a[byte];
		base = f->idx[IDX_OFF(c) + k];
		end = f->idx[IDX_OFF(c) + k + 1];
		c = f->child[CHILD_OFF(c) + k];
	}
	uint32_t len = end - base + 1;
	u128 a128 = (u128)hi64 << 64 | lo64;
	while (len > 1) {
		uint32_t half = len / 2;
		const struct key6 *s = &f->start6[base + half];
		/* one 128-bit compare (cmp + sbb) keeps the loop free of branches */
		u128 key = (u128)s->hi << 64 | s->lo;
		base = key <= a128 ? base + half : base;
		len -= half;
	}
	return f->owner[base];
}

uint32_t bw_lpm_lookup4(const struct bw_lpm *t, uint32_t addr4)
{
	uint32_t o = owner4(t, addr4);
	return o == BW_LPM_NONE ? BW_LPM_NONE : t->pfx[o].value;
}

uint32_t bw_lpm_lookup6(const struct bw_lpm *t, const uint8_t addr6[16])
{
	uint32_t o = owner6(t, addr6);
	return o == BW_LPM_NONE ? BW_LPM_NONE : t->pfx[o].value;
}

static uint32_t owner_ip(const struct bw_lpm *t, const struct bw_ip *ip)
{
	if (ip->family == 4)
		return owner4(t, (uint32_t)ip->a[0] << 24 | (uint32_t)ip->a[1] << 16 |
				      (uint32_t)ip->a[2] << 8 | ip->a[3]);
	if (ip->family == 6)
		return owner6(t, ip->a);
	return BW_LPM_NONE;
}

uint32_t bw_lpm_lookup(const struct bw_lpm *t, const struct bw_ip *ip, unsigned *plen)
{
	uint32_t o = owner_ip(t, ip);
	if (plen)
		*plen = o == BW_LPM_NONE ? 0 : t->pfx[o].plen;
	return o == BW_LPM_NONE ? BW_LPM_NONE : t->pfx[o].value;
}

size_t bw_lpm_lookup_all(const struct bw_lpm *t, const struct bw_ip *ip, uint32_t *vals, size_t cap)
{
	size_t n = 0;
	/* parents are strictly shorter, so the chain ends within 129 steps */
	for (uint32_t o = owner_ip(t, ip); o != BW_LPM_NONE && n < cap && n < 129; o = t->pfx[o].parent)
		vals[n++] = t->pfx[o].value;
	return n;
}

size_t bw_lpm_prefixes(const struct bw_lpm *t, uint8_t family)
{
	return family == 4 ? t->f4.nprefixes : family == 6 ? t->f6.nprefixes : t->npfx;
}

size_t bw_lpm_ranges(const struct bw_lpm *t, uint8_t family)
{
	return family == 4 ? t->f4.nranges : family == 6 ? t->f6.nranges : t->f4.nranges + t->f6.nranges;
}

size_t bw_lpm_memory(const struct bw_lpm *t)
{
	size_t m = sizeof(*t) + t->npfx * sizeof(*t->pfx);
	m += t->f4.nranges * (sizeof(uint32_t) * 2) + (IDX_OFF(t->f4.nnodes + 1) + CHILD_OFF(t->f4.nnodes + 1)) * sizeof(uint32_t);
	m += t->f6.nranges * (sizeof(uint32_t) + sizeof(struct key6)) +
	     (IDX_OFF(t->f6.nnodes + 1) + CHILD_OFF(t->f6.nnodes + 1)) * sizeof(uint32_t);
	return m;
}
