/* SPDX-License-Identifier: MIT */
/*
 * nameset.c: an open-addressing hash set of lower-cased names, probed once
 * per label suffix of the name asked about. The hash is computed from the
 * right end of the name towards the left, so the hash of every suffix
 * ("com", "example.com", "www.example.com") falls out of one pass at each
 * label boundary: a lookup costs O(name length) plus one probe per label,
 * and suffixes with a label count or length no stored name has are not
 * probed at all. The hash is seeded per set; the table is at most half full
 * so probe runs stay short whatever names the traffic carries.
 */
#include "nameset.h"

#include <stdlib.h>
#include <string.h>

#include "../parsers/pktdedup.h"

#define MAX_TEXT    4096 /* longer text is not a DNS name (bw_dns_name_text caps at 1024) */
#define MAX_ENTRIES (1u << 28)

struct slot {
	uint64_t hash;
	uint32_t idx1; /* entry index + 1; 0 = empty */
	uint32_t len;
};

struct entry {
	uint32_t off; /* into text */
	uint16_t len;
	uint16_t labels;
};

struct bw_nameset {
	uint64_t seed;
	struct slot *slots;
	uint32_t mask;
	struct entry *ent;
	uint32_t n, ent_cap;
	char *text; /* NUL-terminated names, back to back */
	size_t text_len, text_cap;
	bool has_root;
	uint16_t min_labels, max_labels, max_len;
};

static inline uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

/* FNV-1a step over one byte, lower-cased: fed right to left. */
static inline uint64_t hstep(uint64_t h, uint8_t c) { return (h ^ lower(c)) * 0x100000001b3ULL; }

/* FNV mixes its last bytes poorly; a murmur finaliser spreads them over the table index bits. */
static inline uint64_t hfinal(uint64_t h, size_t len)
{
	h ^= (uint64_t)len * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_name(const struct bw_nameset *s, const char *p, size_t len)
{
	uint64_t h = s->seed;
	for (size_t i = len; i > 0; i--)
		h = hstep(h, (uint8_t)p[i - 1]);
	return hfinal(h, len);
}

static bool eq_lower(const char *stored, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((uint8_t)stored[i] != lower((uint8_t)p[i]))
			return false;
	return true;
}

static bool probe(const struct bw_nameset *s, uint64_t h, const char *p, size_t len)
{
	if (!s->slots)
		return false;
	for (uint32_t pos = (uint32_t)h & s->mask;; pos = (pos + 1) & s->mask) {
		const struct slot *sl = &s->slots[pos];
		if (!sl->idx1)
			return false;
		if (sl->hash == h && sl->len == len && eq_lower(s->text + s->ent[sl->idx1 - 1].off, p, len))
			return true;
	}
}

/* Backslashes immediately before p[i]: an odd run means p[i] is escaped. */
static bool escaped(const char *p, size_t i)
{
	size_t k = 0;
	while (i > k && p[i - k - 1] == '\\')
		k++;
	return k & 1;
}

static size_t strip_dot(const char *p, size_t len)
{
	if (len && p[len - 1] == '.' && !escaped(p, len - 1))
		len--;
	return len;
}

struct bw_nameset *bw_nameset_new(void)
{
	struct bw_nameset *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	uint64_t k[2];
	bw_hash_random_key(k);
	s->seed = k[0] ^ 0xcbf29ce484222325ULL;
	s->min_labels = UINT16_MAX;
	return s;
}

void bw_nameset_free(struct bw_nameset *s)
{
	if (!s)
		return;
	free(s->slots);
	free(s->ent);
	free(s->text);
	free(s);
}

static int grow_table(struct bw_nameset *s)
{
	uint32_t cap = s->slots ? (s->mask + 1) * 2 : 16;
	struct slot *ns = calloc(cap, sizeof(*ns));
	if (!ns)
		return BW_ENOMEM;
	for (uint32_t i = 0; s->slots && i <= s->mask; i++) {
		if (!s->slots[i].idx1)
			continue;
		uint32_t pos = (uint32_t)s->slots[i].hash & (cap - 1);
		while (ns[pos].idx1)
			pos = (pos + 1) & (cap - 1);
		ns[pos] = s->slots[i];
	}
	free(s->slots);
	s->slots = ns;
	s->mask = cap - 1;
	return BW_OK;
}

/* Append name (already checked) to the entry list and the text; returns the entry index or -1. */
static int64_t push_entry(struct bw_nameset *s, const char *name, size_t len, unsigned labels)
{
	if (s->n >= MAX_ENTRIES)
		return -1;
	if (s->n == s->ent_cap) {
		uint32_t nc = s->ent_cap ? s->ent_cap * 2 : 16;
		struct entry *ne = realloc(s->ent, nc * sizeof(*ne));
		if (!ne)
			return -1;
		s->ent = ne;
		s->ent_cap = nc;
	}
	if (s->text_len + len + 1 > s->text_cap) {
		size_t nc = s->text_cap ? s->text_cap : 256;
		while (nc < s->text_len + len + 1)
			nc *= 2;
		char *nt = realloc(s->text, nc);
		if (!nt)
			return -1;
		s->text = nt;
		s->text_cap = nc;
	}
	char *dst = s->text + s->text_len;
	for (size_t i = 0; i < len; i++)
		dst[i] = (char)lower((uint8_t)name[i]);
	dst[len] = 0;
	s->ent[s->n] = (struct entry){.off = (uint32_t)s->text_len, .len = (uint16_t)len, .labels = (uint16_t)labels};
	s->text_len += len + 1;
	return s->n++;
}

/* Labels in name[0..len), or 0 if its shape is not a name's. */
static unsigned count_labels(const char *name, size_t len)
{
	if (len == 0 || len > BW_NAMESET_MAX_NAME)
		return 0;
	unsigned labels = 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && name[i] == '\\')
			return 0;
		if (i == len || name[i] == '.') {
			size_t l = i - start;
			if (l == 0 || l > 63)
				return 0;
			labels++;
			start = i + 1;
		}
	}
	return labels;
}

int bw_nameset_add(struct bw_nameset *s, const char *name)
{
	if (!s || !name)
		return BW_EINVAL;
	size_t len = strlen(name);
	if (len && name[len - 1] == '.')
		len--;
	if (len == 0) {
		if (s->has_root)
			return BW_OK;
		if (push_entry(s, "", 0, 0) < 0)
			return BW_ENOMEM;
		s->has_root = true;
		return BW_OK;
	}
	unsigned labels = count_labels(name, len);
	if (!labels)
		return BW_EINVAL;
	uint64_t h = hash_name(s, name, len);
	if (probe(s, h, name, len))
		return BW_OK;
	if (!s->slots || (uint64_t)(s->n + 1) * 2 > (uint64_t)s->mask + 1)
		if (grow_table(s) != BW_OK)
			return BW_ENOMEM;
	int64_t idx = push_entry(s, name, len, labels);
	if (idx < 0)
		return BW_ENOMEM;
	uint32_t pos = (uint32_t)h & s->mask;
	while (s->slots[pos].idx1)
		pos = (pos + 1) & s->mask;
	s->slots[pos] = (struct slot){.hash = h, .idx1 = (uint32_t)idx + 1, .len = (uint32_t)len};
	s->min_labels = BW_MIN(s->min_labels, (uint16_t)labels);
	s->max_labels = BW_MAX(s->max_labels, (uint16_t)labels);
	s->max_len = BW_MAX(s->max_len, (uint16_t)len);
	return BW_OK;
}

bool bw_nameset_contains(const struct bw_nameset *s, const char *name, size_t len)
{
	if (!s || !name)
		return false;
	if (s->has_root)
		return true;
	len = strip_dot(name, len);
	if (len == 0 || len > MAX_TEXT || s->max_labels == 0)
		return false;
	uint64_t h = s->seed;
	unsigned labels = 0;
	size_t end = len; /* where the label right of the current dot ends */
	bool match = false, probing = true;
	/* Right to left: at each unescaped dot, the bytes after it are a suffix. */
	for (size_t i = len; i > 0; i--) {
		uint8_t c = (uint8_t)name[i - 1];
		if (c == '.' && !escaped(name, i - 1)) {
			size_t l = len - i;
			if (end == i)
				return false; /* empty label: not a name */
			end = i - 1;
			labels++;
			if (probing && l > s->max_len)
				probing = false;
			if (probing && !match && labels >= s->min_labels && labels <= s->max_labels)
				match = probe(s, hfinal(h, l), name + i, l);
		} else if (c == '\\') {
			probing = false; /* no stored name holds an escape, so no longer suffix can match */
		}
		h = hstep(h, c);
	}
	if (end == 0)
		return false; /* leading dot */
	labels++;
	if (probing && !match && len <= s->max_len && labels >= s->min_labels && labels <= s->max_labels)
		match = probe(s, hfinal(h, len), name, len);
	return match;
}

bool bw_nameset_contains_exact(const struct bw_nameset *s, const char *name, size_t len)
{
	if (!s || !name)
		return false;
	len = strip_dot(name, len);
	if (len == 0)
		return s->has_root;
	if (len > s->max_len)
		return false;
	return probe(s, hash_name(s, name, len), name, len);
}

size_t bw_nameset_count(const struct bw_nameset *s) { return s ? s->n : 0; }

const char *bw_nameset_get(const struct bw_nameset *s, size_t i)
{
	if (!s || i >= s->n)
		return NULL;
	return s->text + s->ent[i].off;
}

/* Patterns: three sets (exact names, wildcard parents, subtree roots) and the list as written. */
struct bw_namepat {
	struct bw_nameset *exact, *wild, *tree;
	char **list;
	size_t n, cap;
};

struct bw_namepat *bw_namepat_new(void)
{
	struct bw_namepat *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->exact = bw_nameset_new();
	p->wild = bw_nameset_new();
	p->tree = bw_nameset_new();
	if (!p->exact || !p->wild || !p->tree) {
		bw_namepat_free(p);
		return NULL;
	}
	return p;
}

void bw_namepat_free(struct bw_namepat *p)
{
	if (!p)
		return;
	bw_nameset_free(p->exact);
	bw_nameset_free(p->wild);
	bw_nameset_free(p->tree);
	for (size_t i = 0; i < p->n; i++)
		free(p->list[i]);
	free(p->list);
	free(p);
}

int bw_namepat_add(struct bw_namepat *p, const char *pattern)
{
	if (!p || !pattern)
		return BW_EINVAL;
	size_t len = strlen(pattern);
	if (len && pattern[len - 1] == '.')
		len--;
	struct bw_nameset *set = p->exact;
	size_t skip = 0;
	if (len >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		set = p->wild;
		skip = 2;
	} else if (len >= 1 && pattern[0] == '.') {
		set = p->tree;
		skip = 1;
	}
	const char *rest = pattern + skip;
	size_t rlen = len - skip;
	if (rlen == 0 || memchr(rest, '*', rlen) || !count_labels(rest, rlen))
		return BW_EINVAL;
	char buf[BW_NAMESET_MAX_NAME + 3];
	memcpy(buf, rest, rlen);
	buf[rlen] = 0;
	size_t before = bw_nameset_count(set);
	int r = bw_nameset_add(set, buf);
	if (r != BW_OK || bw_nameset_count(set) == before)
		return r;
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 8;
		char **nl = realloc(p->list, nc * sizeof(*nl));
		if (!nl)
			return BW_ENOMEM;
		p->list = nl;
		p->cap = nc;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return BW_ENOMEM;
	memcpy(copy, pattern, skip);
	memcpy(copy + skip, bw_nameset_get(set, before), rlen + 1);
	p->list[p->n++] = copy;
	return BW_OK;
}

bool bw_namepat_match(const struct bw_namepat *p, const char *name, size_t len)
{
	if (!p || !name)
		return false;
	len = strip_dot(name, len);
	if (len == 0)
		return false;
	if (bw_nameset_contains_exact(p->exact, name, len) || bw_nameset_contains(p->tree, name, len))
		return true;
	if (bw_nameset_count(p->wild) == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '\\') {
			i++;
			continue;
		}
		if (name[i] == '.')
			return i > 0 && i + 1 < len && bw_nameset_contains_exact(p->wild, name + i + 1, len - i - 1);
	}
	return false;
}

size_t bw_namepat_count(const struct bw_namepat *p) { return p ? p->n : 0; }

const char *bw_namepat_get(const struct bw_namepat *p, size_t i)
{
	if (!p || i >= p->n)
		return NULL;
	return p->list[i];
}
