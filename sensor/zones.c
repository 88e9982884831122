/* SPDX-License-Identifier: MIT */
/*
 * zones.c: authoritative zone files -> an index of expected records.
 *
 * Detectors ask "what should this name hold?" for names seen on the wire,
 * so the files are parsed once into a hash of (zone, owner name) nodes
 * whose records sit contiguously, sorted by type, in canonical wire form:
 * a lookup is one probe per label to find the deepest zone, one probe for
 * the node and a binary search for the type, with no allocation.
 *
 * Records are parsed by ldns (ldns_rr_new_frm_str), but the file is split
 * into records here rather than by ldns_zone_new_frm_fp_l: that function
 * answers $INCLUDE with LDNS_STATUS_SYNTAX_INCLUDE_ERR_NOTIMPL (ldns 1.8)
 * and reports the line where a record ends, not where it starts. The
 * splitter follows ldns's own rules (parentheses, quotes, backslash
 * escapes, ';' comments), so a record means the same either way.
 */
#include "zones.h"

#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REC_MAX 65535 /* bytes of one record's text (ldns's own rdata limit) */

struct node {
	const uint8_t *name;
	uint32_t zone;
	uint32_t first, n; /* records, after the final sort */
	uint8_t len;
};

struct zarena_blk {
	struct zarena_blk *next;
	size_t used, cap;
	max_align_t data[];
};

struct bw_zones {
	struct zarena_blk *arena;
	size_t arena_bytes;
	struct bw_zone *zones;
	size_t nzones, zcap;
	uint32_t *apex_idx; /* hash over apex names: zone + 1 */
	size_t apex_cap;
	struct bw_zone_rr *rr;
	uint32_t *rr_node; /* node of each record while loading */
	size_t nrr, rrcap;
	struct node *nodes;
	size_t nnodes, ncap;
	uint32_t *node_idx; /* hash over (zone, name): node + 1 */
	size_t node_hcap;
};

/* ---- memory ---- */

static void *za_alloc(struct bw_zones *z, size_t n)
{
	n = (n + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
	struct zarena_blk *b = z->arena;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = z->arena;
		b->used = 0;
		b->cap = cap;
		z->arena = b;
		z->arena_bytes += cap;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

static void *za_dup(struct bw_zones *z, const void *p, size_t n, bool nul)
{
	char *d = za_alloc(z, n + nul);
	if (d) {
		memcpy(d, p, n);
		if (nul)
			d[n] = '\0';
	}
	return d;
}

void bw_zones_free(struct bw_zones *z)
{
	if (!z)
		return;
	for (struct zarena_blk *b = z->arena, *nx; b; b = nx) {
		nx = b->next;
		free(b);
	}
	free(z->zones);
	free(z->apex_idx);
	free(z->rr);
	free(z->rr_node);
	free(z->nodes);
	free(z->node_idx);
	free(z);
}

/* ---- names ---- */

static uint8_t lc8(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static uint64_t hash_name(uint32_t zone, const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)zone * 0x9e3779b97f4a7c15ULL);
	for (size_t i = 0; i < n; i++)
		h = (h ^ lc8(p[i])) * 0x100000001b3ULL;
	return h;
}

/* Validate wire name p[0..n) exactly (labels fill it, ends with the root label). */
static bool wire_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;
	if (n == 0 || n > 255)
		return false;
	while (i < n) {
		uint8_t l = p[i];
		if (l == 0)
			return i + 1 == n;
		if (l > 63 || i + 1 + l >= n)
			return false;
		i += 1 + (size_t)l;
	}
	return false;
}

int bw_zones_name_to_wire(const char *name, uint8_t *out, size_t cap)
{
	size_t w = 0, lab = 0; /* lab: offset of the current label's length byte */
	if (!name || cap < 1)
		return BW_EINVAL;
	const char *s = name;
	if (s[0] == '.' && s[1] == '\0')
		s++;
	if (*s == '\0') {
		out[0] = 0;
		return 1;
	}
	out[w++] = 0;
	while (*s) {
		unsigned c = (unsigned char)*s++;
		if (c == '.') {
			if (w - lab == 1)
				return BW_EINVAL; /* empty label */
			if (*s == '\0')
				break; /* trailing dot */
			lab = w;
			if (w >= cap || w >= 255)
				return BW_EINVAL;
			out[w++] = 0;
			continue;
		}
		if (c == '\\') {
			if (s[0] >= '0' && s[0] <= '9') {
				if (!(s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'))
					return BW_EINVAL;
				c = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
				if (c > 255)
					return BW_EINVAL;
				s += 3;
			} else if (*s) {
				c = (unsigned char)*s++;
			} else {
				return BW_EINVAL;
			}
		}
		if (w >= cap || w >= 254 || w - lab > 63)
			return BW_EINVAL;
		out[w++] = lc8((uint8_t)c);
		out[lab]++;
	}
	if (w - lab == 1 && w > 1)
		return BW_EINVAL;
	if (w >= cap)
		return BW_EINVAL;
	out[w++] = 0;
	return (int)w;
}

/* Lower-case text without the trailing dot ("." for the root), \-escaped like the DNS parser. */
static char *wire_text(struct bw_zones *z, const uint8_t *p, size_t n)
{
	char buf[4 * 255 + 8];
	size_t w = 0, i = 0;
	while (i < n && p[i]) {
		uint8_t l = p[i++];
		if (w)
			buf[w++] = '.';
		for (uint8_t k = 0; k < l && i < n; k++) {
			uint8_t c = lc8(p[i++]);
			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*') {
				buf[w++] = (char)c;
			} else if (c == '.' || c == '\\') {
				buf[w++] = '\\';
				buf[w++] = (char)c;
			} else {
				w += (size_t)snprintf(buf + w, sizeof(buf) - w, "\\%03u", c);
			}
		}
	}
	if (!w)
		buf[w++] = '.';
	return za_dup(z, buf, w, true);
}

/* Is name (wire, lower) equal to or below apex (wire, lower)? */
static bool name_under(const uint8_t *name, size_t nl, const uint8_t *apex, size_t al)
{
	size_t o = 0;
	while (o < nl) {
		if (nl - o == al && memcmp(name + o, apex, al) == 0)
			return true;
		if (name[o] == 0)
			break;
		o += 1 + (size_t)name[o];
	}
	return false;
}

/* ---- rdata canonical form and comparison ---- */

/*
 * Layout of the rdata of the RFC 4034 6.2 types (less NSEC, RFC 6840 5.1,
 * and A6, whose name position depends on a prefix length): digits are fixed
 * fields of that many bytes, n a name, s a character-string, * the rest.
 */
static const char *canon_desc(uint16_t type)
{
	switch (type) {
	case 2: case 3: case 4: case 5: case 7: case 8: case 9: case 12: case 39:
		return "n";                   /* NS MD MF CNAME MB MG MR PTR DNAME */
	case 6: return "nn*";                 /* SOA */
	case 14: case 17: return "nn";        /* MINFO RP */
	case 15: case 18: case 21: case 36: return "2n"; /* MX AFSDB RT KX */
	case 24: case 46: return "2114442n*"; /* SIG RRSIG */
	case 26: return "2nn";                /* PX */
	case 30: return "n*";                 /* NXT */
	case 33: return "222n";               /* SRV */
	case 35: return "22sssn";             /* NAPTR */
	default: return NULL;
	}
}

/*
 * Walk a (stored, canonical) against b (observed) with desc; when b is
 * NULL, lower-case the names of a in place instead. False if either does
 * not fit the layout or they differ.
 */
static bool rd_walk(const char *desc, uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t i = 0, j = 0;
	for (const char *d = desc; *d; d++) {
		if (*d >= '1' && *d <= '9') {
			size_t k = (size_t)(*d - '0');
			if (i + k > an || (b && (j + k > bn || memcmp(a + i, b + j, k))))
				return false;
			i += k;
			j += k;
		} else if (*d == 's') {
			if (i >= an || (b && (j >= bn || a[i] != b[j])))
				return false;
			size_t k = 1 + (size_t)a[i];
			if (i + k > an || (b && (j + k > bn || memcmp(a + i, b + j, k))))
				return false;
			i += k;
			j += k;
		} else if (*d == 'n') {
			for (int hops = 0;; hops++) {
				if (i >= an || hops > 128 || (b && (j >= bn || a[i] != b[j])))
					return false;
				size_t l = a[i];
				if (l > 63 || i + 1 + l > an || (b && j + 1 + l > bn))
					return false;
				if (l == 0) {
					i++;
					j++;
					break;
				}
				for (size_t k = 1; k <= l; k++) {
					if (b) {
						if (a[i + k] != lc8(b[j + k]))
							return false;
					} else {
						a[i + k] = lc8(a[i + k]);
					}
				}
				i += 1 + l;
				j += 1 + l;
			}
		} else { /* '*' */
			if (b && (an - i != bn - j || memcmp(a + i, b + j, an - i)))
				return false;
			return true;
		}
	}
	return i == an && (!b || j == bn);
}

bool bw_zone_record_matches(const struct bw_zone_rr *rr, uint16_t type, const uint8_t *rdata, size_t len)
{
	if (!rr || type != rr->type || (!rdata && len))
		return false;
	const char *d = canon_desc(type);
	if (d && rd_walk(d, (uint8_t *)rr->rdata, rr->rdlen, rdata, len))
		return true;
	/* no layout, or the stored rdata does not fit one: bytes must be equal */
	return len == rr->rdlen && (len == 0 || memcmp(rr->rdata, rdata, len) == 0);
}

/* ---- the index ---- */

static int node_grow(struct bw_zones *z)
{
	size_t nc = z->node_hcap ? z->node_hcap * 2 : 1024;
	uint32_t *ni = calloc(nc, sizeof(*ni));
	if (!ni)
		return BW_ENOMEM;
	for (size_t k = 0; k < z->nnodes; k++) {
		const struct node *nd = &z->nodes[k];
		size_t j = hash_name(nd->zone, nd->name, nd->len) & (nc - 1);
		while (ni[j])
			j = (j + 1) & (nc - 1);
		ni[j] = (uint32_t)k + 1;
	}
	free(z->node_idx);
	z->node_idx = ni;
	z->node_hcap = nc;
	return BW_OK;
}

/* Node of (zone, lower-case wire name) or -1. name is compared case-insensitively. */
static long node_find(const struct bw_zones *z, uint32_t zone, const uint8_t *name, size_t len)
{
	if (!z->node_hcap)
		return -1;
	for (size_t j = hash_name(zone, name, len) & (z->node_hcap - 1); z->node_idx[j];
	     j = (j + 1) & (z->node_hcap - 1)) {
		const struct node *nd = &z->nodes[z->node_idx[j] - 1];
		if (nd->zone != zone || nd->len != len)
			continue;
		size_t k;
		for (k = 0; k < len && nd->name[k] == lc8(name[k]); k++)
			;
		if (k == len)
			return (long)(z->node_idx[j] - 1);
	}
	return -1;
}

static long node_add1(struct bw_zones *z, uint32_t zone, const uint8_t *name, size_t len)
{
	if ((z->nnodes + 1) * 2 > z->node_hcap && node_grow(z))
		return -1;
	if (z->nnodes == z->ncap) {
		size_t nc = z->ncap ? z->ncap * 2 : 1024;
		struct node *nn = realloc(z->nodes, nc * sizeof(*nn));
		if (!nn)
			return -1;
		z->nodes = nn;
		z->ncap = nc;
	}
	const uint8_t *d = za_dup(z, name, len, false);
	if (!d)
		return -1;
	z->nodes[z->nnodes] = (struct node){ .name = d, .zone = zone, .len = (uint8_t)len };
	size_t j = hash_name(zone, name, len) & (z->node_hcap - 1);
	while (z->node_idx[j])
		j = (j + 1) & (z->node_hcap - 1);
	z->node_idx[j] = (uint32_t)++z->nnodes;
	return (long)z->nnodes - 1;
}

/* Node for name, creating it and its missing ancestors up to the apex (empty non-terminals). */
static long node_get(struct bw_zones *z, uint32_t zone, const uint8_t *name, size_t len)
{
	long me = node_find(z, zone, name, len);
	if (me >= 0)
		return me;
	if ((me = node_add1(z, zone, name, len)) < 0)
		return -1;
	const struct bw_zone *zn = &z->zones[zone];
	size_t o = 0;
	while (len - o > zn->apex_len && name[o]) {
		o += 1 + (size_t)name[o];
		if (node_find(z, zone, name + o, len - o) >= 0)
			break;
		if (node_add1(z, zone, name + o, len - o) < 0)
			return -1;
	}
	return me;
}

static long apex_find(const struct bw_zones *z, const uint8_t *name, size_t len)
{
	if (!z->apex_cap)
		return -1;
	for (size_t j = hash_name(0, name, len) & (z->apex_cap - 1); z->apex_idx[j];
	     j = (j + 1) & (z->apex_cap - 1)) {
		const struct bw_zone *zn = &z->zones[z->apex_idx[j] - 1];
		if (zn->apex_len != len)
			continue;
		size_t k;
		for (k = 0; k < len && zn->apex[k] == lc8(name[k]); k++)
			;
		if (k == len)
			return (long)(z->apex_idx[j] - 1);
	}
	return -1;
}

static int apex_add(struct bw_zones *z, uint32_t zone)
{
	if ((z->nzones + 1) * 2 > z->apex_cap) {
		size_t nc = z->apex_cap ? z->apex_cap * 2 : 64;
		uint32_t *ni = calloc(nc, sizeof(*ni));
		if (!ni)
			return BW_ENOMEM;
		for (size_t k = 0; k < z->nzones; k++) {
			if (k == zone || !z->zones[k].apex)
				continue;
			size_t j = hash_name(0, z->zones[k].apex, z->zones[k].apex_len) & (nc - 1);
			while (ni[j])
				j = (j + 1) & (nc - 1);
			ni[j] = (uint32_t)k + 1;
		}
		free(z->apex_idx);
		z->apex_idx = ni;
		z->apex_cap = nc;
	}
	const struct bw_zone *zn = &z->zones[zone];
	size_t j = hash_name(0, zn->apex, zn->apex_len) & (z->apex_cap - 1);
	while (z->apex_idx[j])
		j = (j + 1) & (z->apex_cap - 1);
	z->apex_idx[j] = zone + 1;
	return BW_OK;
}

/* ---- loading ---- */

struct ctx {
	struct bw_zones *z;
	uint32_t zone;
	bool soa_seen;
	size_t bytes;
	char *err;
	size_t errcap;
	char *rec;   /* REC_MAX + 1: the record being assembled */
	char *line2; /* REC_MAX + 1100: the record with an owner prepended */
	bool no_include;
	ldns_buffer *wire, *text;
};

/* Per-file parser state; an $INCLUDE gets a copy, so its changes stay inside it. */
struct fstate {
	const char *path;       /* for messages (arena) */
	ldns_rdf *origin;       /* owned */
	uint32_t default_ttl;   /* $TTL, or the last explicit TTL */
	bool ttl_directive;
	char prev[1100];        /* previous owner, presentation form, absolute */
	int depth;
};

__attribute__((format(printf, 3, 4))) static int zfail(struct ctx *c, int rc, const char *fmt, ...)
{
	if (c->err && c->errcap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errcap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int read_whole(const char *path, size_t room, char **buf, size_t *len, int *eno)
{
	*buf = NULL;
	*eno = 0;
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		*eno = errno;
		return *eno == ENOENT ? BW_ENOENT : BW_EIO;
	}
	struct stat st;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(fp);
		*eno = EISDIR;
		return BW_EIO;
	}
	if ((uint64_t)st.st_size > room) {
		fclose(fp);
		return BW_ELIMIT;
	}
	size_t n = (size_t)st.st_size;
	char *b = malloc(n + 1);
	if (!b) {
		fclose(fp);
		return BW_ENOMEM;
	}
	size_t got = n ? fread(b, 1, n, fp) : 0;
	bool bad = ferror(fp) || got != n || fgetc(fp) != EOF;
	fclose(fp);
	if (bad) {
		free(b);
		*eno = EIO;
		return BW_EIO;
	}
	*buf = b;
	*len = n;
	return BW_OK;
}

/* Next whitespace-separated token of s (no quoting); NULL at the end. */
static const char *next_tok(const char **s, size_t *n)
{
	const char *p = *s;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return NULL;
	const char *b = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	*n = (size_t)(p - b);
	*s = p;
	return b;
}

/* A name relative to origin (or absolute), as an ldns dname. */
static ldns_rdf *make_dname(const char *tok, size_t n, const ldns_rdf *origin)
{
	char buf[1100];
	if (n >= sizeof(buf))
		return NULL;
	memcpy(buf, tok, n);
	buf[n] = '\0';
	if (!strcmp(buf, "@"))
		return origin ? ldns_rdf_clone(origin) : ldns_dname_new_frm_str(".");
	ldns_rdf *d = ldns_dname_new_frm_str(buf);
	if (d && !ldns_dname_str_absolute(buf) && origin && ldns_dname_cat(d, origin) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(d);
		return NULL;
	}
	return d;
}

static int load_text(struct ctx *c, struct fstate *fs, const char *buf, size_t len);

static int do_include(struct ctx *c, struct fstate *fs, const char *args, uint32_t line)
{
	size_t fn, on;
	const char *s = args;
	const char *f = next_tok(&s, &fn);
	const char *o = next_tok(&s, &on);
	size_t xn;
	if (!f || next_tok(&s, &xn))
		return zfail(c, BW_EMALF, "%s:%u: $INCLUDE needs a file name and at most an origin", fs->path, line);
	if (c->no_include)
		return zfail(c, BW_EINVAL, "%s:%u: $INCLUDE is not allowed here", fs->path, line);
	if (fs->depth >= BW_ZONES_MAX_INCLUDE_DEPTH)
		return zfail(c, BW_ELIMIT, "%s:%u: $INCLUDE nested deeper than %d", fs->path, line,
			     BW_ZONES_MAX_INCLUDE_DEPTH);
	if (fn >= 2 && f[0] == '"' && f[fn - 1] == '"') {
		f++;
		fn -= 2;
	}
	/* relative to the directory of the including file */
	char path[4096];
	const char *slash = strrchr(fs->path, '/');
	size_t dl = f[0] == '/' || !slash ? 0 : (size_t)(slash - fs->path) + 1;
	if (dl + fn >= sizeof(path))
		return zfail(c, BW_EINVAL, "%s:%u: $INCLUDE path too long", fs->path, line);
	memcpy(path, fs->path, dl);
	memcpy(path + dl, f, fn);
	path[dl + fn] = '\0';

	struct fstate sub = *fs;
	sub.depth++;
	sub.path = za_dup(c->z, path, strlen(path), true);
	sub.origin = o ? make_dname(o, on, fs->origin) : ldns_rdf_clone(fs->origin);
	if (!sub.path || !sub.origin) {
		ldns_rdf_deep_free(sub.origin);
		return sub.path ? zfail(c, BW_EMALF, "%s:%u: $INCLUDE: bad origin", fs->path, line)
				: zfail(c, BW_ENOMEM, "out of memory");
	}
	char *b;
	size_t n;
	int eno;
	int rc = read_whole(path, BW_ZONES_MAX_BYTES - c->bytes, &b, &n, &eno);
	if (rc) {
		ldns_rdf_deep_free(sub.origin);
		if (rc == BW_ELIMIT)
			return zfail(c, rc, "%s:%u: $INCLUDE %s: zone data over %u bytes", fs->path, line, path,
				     BW_ZONES_MAX_BYTES);
		return zfail(c, rc, "%s:%u: $INCLUDE %s: %s", fs->path, line, path,
			     eno ? strerror(eno) : "out of memory");
	}
	c->bytes += n;
	rc = load_text(c, &sub, b, n);
	free(b);
	ldns_rdf_deep_free(sub.origin);
	return rc;
}

static int do_directive(struct ctx *c, struct fstate *fs, const char *rec, uint32_t line)
{
	const char *s = rec;
	size_t n, an;
	const char *d = next_tok(&s, &n);
	if (n == 7 && !strncasecmp(d, "$ORIGIN", 7)) {
		const char *a = next_tok(&s, &an);
		size_t xn;
		ldns_rdf *o = a && !next_tok(&s, &xn) ? make_dname(a, an, fs->origin) : NULL;
		if (!o)
			return zfail(c, BW_EMALF, "%s:%u: $ORIGIN needs one domain name", fs->path, line);
		ldns_rdf_deep_free(fs->origin);
		fs->origin = o;
		return BW_OK;
	}
	if (n == 4 && !strncasecmp(d, "$TTL", 4)) {
		const char *a = next_tok(&s, &an);
		size_t xn;
		char tmp[64];
		const char *endp = NULL;
		if (!a || an >= sizeof(tmp) || next_tok(&s, &xn) || !(a[0] >= '0' && a[0] <= '9'))
			return zfail(c, BW_EMALF, "%s:%u: $TTL needs one TTL value", fs->path, line);
		memcpy(tmp, a, an);
		tmp[an] = '\0';
		uint32_t v = ldns_str2period(tmp, &endp);
		if (!endp || *endp)
			return zfail(c, BW_EMALF, "%s:%u: $TTL: bad value '%s'", fs->path, line, tmp);
		fs->default_ttl = v;
		fs->ttl_directive = true;
		return BW_OK;
	}
	if (n == 8 && !strncasecmp(d, "$INCLUDE", 8))
		return do_include(c, fs, s, line);
	return zfail(c, BW_EMALF, "%s:%u: unsupported directive '%.*s'", fs->path, line, (int)BW_MIN(n, 40), d);
}

static int add_rr(struct ctx *c, struct fstate *fs, ldns_rr *rr, uint32_t line)
{
	struct bw_zones *z = c->z;
	struct bw_zone *zn = &z->zones[c->zone];
	const ldns_rdf *own = ldns_rr_owner(rr);
	uint8_t owner[256];
	size_t ol = ldns_rdf_size(own);
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	if (ol == 0 || ol > 255 || !wire_ok(ldns_rdf_data(own), ol))
		return zfail(c, BW_EMALF, "%s:%u: bad owner name", fs->path, line);
	for (size_t k = 0; k < ol; k++)
		owner[k] = lc8(ldns_rdf_data(own)[k]);

	if (!c->soa_seen) {
		if (type != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 3)
			return zfail(c, BW_EMALF, "%s:%u: the first record must be the zone's SOA", fs->path, line);
		long other = apex_find(z, owner, ol);
		if (other >= 0)
			return zfail(c, BW_EINVAL, "%s:%u: zone %s is already loaded from %s", fs->path, line,
				     z->zones[other].origin, z->zones[other].file);
		zn->apex = za_dup(z, owner, ol, false);
		zn->apex_len = (uint8_t)ol;
		zn->origin = wire_text(z, owner, ol);
		if (!zn->apex || !zn->origin || apex_add(z, c->zone))
			return zfail(c, BW_ENOMEM, "out of memory");
		zn->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
		c->soa_seen = true;
	} else if (type == LDNS_RR_TYPE_SOA) {
		return zfail(c, BW_EMALF, "%s:%u: a second SOA record", fs->path, line);
	} else if (!name_under(owner, ol, zn->apex, zn->apex_len)) {
		return zfail(c, BW_EMALF, "%s:%u: %s is outside the zone %s", fs->path, line,
			     wire_text(z, owner, ol), zn->origin);
	}

	ldns_buffer_clear(c->wire);
	ldns_buffer_clear(c->text);
	if (ldns_rr_rdata2buffer_wire(c->wire, rr) != LDNS_STATUS_OK)
		return zfail(c, BW_ENOMEM, "out of memory");
	size_t rdlen = ldns_buffer_position(c->wire);
	if (rdlen > 65535)
		return zfail(c, BW_EMALF, "%s:%u: rdata longer than 65535 bytes", fs->path, line);
	for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
		if (k)
			ldns_buffer_write_u8(c->text, ' ');
		if (ldns_rdf2buffer_str(c->text, ldns_rr_rdf(rr, k)) != LDNS_STATUS_OK)
			return zfail(c, BW_ENOMEM, "out of memory");
	}
	if (z->nrr == BW_ZONES_MAX_RECORDS)
		return zfail(c, BW_ELIMIT, "%s:%u: more than %u records", fs->path, line, BW_ZONES_MAX_RECORDS);
	if (z->nrr == z->rrcap) {
		size_t nc = z->rrcap ? z->rrcap * 2 : 1024;
		struct bw_zone_rr *nr = realloc(z->rr, nc * sizeof(*nr));
		if (!nr)
			return zfail(c, BW_ENOMEM, "out of memory");
		z->rr = nr;
		uint32_t *nn = realloc(z->rr_node, nc * sizeof(*nn));
		if (!nn)
			return zfail(c, BW_ENOMEM, "out of memory");
		z->rr_node = nn;
		z->rrcap = nc;
	}
	long node = node_get(z, c->zone, owner, ol);
	uint8_t *rd = za_dup(z, ldns_buffer_begin(c->wire), rdlen, false);
	char *txt = za_dup(z, ldns_buffer_begin(c->text), ldns_buffer_position(c->text), true);
	if (node < 0 || (!rd && rdlen) || !txt)
		return zfail(c, BW_ENOMEM, "out of memory");
	const char *d = canon_desc(type);
	if (d && rdlen)
		rd_walk(d, rd, rdlen, NULL, 0); /* lower-case the names (a misfit is left as it is) */
	z->rr[z->nrr] = (struct bw_zone_rr){ .owner = z->nodes[node].name, .owner_len = (uint8_t)ol,
					     .type = type, .rclass = (uint16_t)ldns_rr_get_class(rr),
					     .ttl = ldns_rr_ttl(rr), .rdata = rd, .rdlen = (uint16_t)rdlen,
					     .text = txt, .file = fs->path, .line = line };
	z->rr_node[z->nrr] = (uint32_t)node;
	z->nrr++;
	zn->nrecords++;
	return BW_OK;
}

/* One record's text: owner handling, TTL defaults, ldns. */
static int do_record(struct ctx *c, struct fstate *fs, const char *rec, uint32_t line)
{
	const char *s = rec;
	bool blank_owner = rec[0] == ' ' || rec[0] == '\t';
	size_t n;
	const char *text = rec;
	if (blank_owner) {
		if (!fs->prev[0])
			return zfail(c, BW_EMALF, "%s:%u: no previous owner for a record starting with a blank",
				     fs->path, line);
		size_t pl = strlen(fs->prev), rl = strlen(rec);
		memcpy(c->line2, fs->prev, pl);
		memcpy(c->line2 + pl, rec, rl + 1);
		text = c->line2;
	} else {
		next_tok(&s, &n); /* the owner */
	}
	/* an explicit TTL is a token starting with a digit right after the owner */
	const char *t2 = next_tok(&s, &n);
	bool explicit_ttl = t2 && t2[0] >= '0' && t2[0] <= '9';

	ldns_rr *rr = NULL;
	ldns_status st = ldns_rr_new_frm_str(&rr, text, fs->default_ttl, fs->origin, NULL);
	if (st != LDNS_STATUS_OK)
		return zfail(c, BW_EMALF, "%s:%u: %s", fs->path, line, ldns_get_errorstr_by_id(st));
	if (!explicit_ttl)
		ldns_rr_set_ttl(rr, fs->default_ttl); /* ldns reads a default of 0 as 3600 */
	else if (!fs->ttl_directive)
		fs->default_ttl = ldns_rr_ttl(rr);
	char *own = ldns_rdf2str(ldns_rr_owner(rr));
	if (!own || strlen(own) >= sizeof(fs->prev)) {
		free(own);
		ldns_rr_free(rr);
		return zfail(c, BW_ENOMEM, "out of memory");
	}
	strcpy(fs->prev, own);
	free(own);
	int rc = add_rr(c, fs, rr, line);
	ldns_rr_free(rr);
	return rc;
}

/*
 * Split buf into records as ldns does (parentheses join lines, ';' starts
 * a comment, quotes and backslashes protect both) and handle each.
 */
static int load_text(struct ctx *c, struct fstate *fs, const char *buf, size_t len)
{
	uint32_t line = 1, start = 1;
	size_t w = 0;
	int depth = 0;
	bool quoted = false, comment = false, esc = false, content = false;
	uint32_t paren_line = 0;

	for (size_t i = 0; i <= len; i++) {
		char ch = i < len ? buf[i] : '\n';
		bool at_end = i == len;
		if (ch == '\0')
			return zfail(c, BW_EMALF, "%s:%u: NUL byte", fs->path, line);
		if (ch == '\r')
			ch = ' ';
		if (ch == '\n') {
			comment = false;
			esc = false;
			if (depth > 0 && !at_end) {
				ch = ' ';
			} else {
				if (depth > 0)
					return zfail(c, BW_EMALF, "%s:%u: unbalanced '('", fs->path, paren_line);
				if (content) {
					c->rec[w] = '\0';
					int rc = c->rec[0] == '$' ? do_directive(c, fs, c->rec, start)
								   : do_record(c, fs, c->rec, start);
					if (rc)
						return rc;
				}
				w = 0;
				content = false;
				quoted = false;
				line++;
				continue;
			}
			line++;
		}
		if (comment)
			continue;
		if (!esc && !quoted && ch == ';') {
			comment = true;
			continue;
		}
		if (!esc && !quoted && (ch == '(' || ch == ')')) {
			if (ch == '(' && depth++ == 0)
				paren_line = line;
			if (ch == ')' && --depth < 0)
				return zfail(c, BW_EMALF, "%s:%u: unbalanced ')'", fs->path, line);
			ch = ' ';
		} else if (!esc && ch == '"') {
			quoted = !quoted;
		}
		esc = !esc && ch == '\\';
		if (w == 0)
			start = line;
		if (ch != ' ' && ch != '\t')
			content = true;
		if (w >= REC_MAX)
			return zfail(c, BW_ELIMIT, "%s:%u: record longer than %u bytes", fs->path, start, REC_MAX);
		c->rec[w++] = ch;
	}
	return BW_OK;
}

struct sortent {
	const struct bw_zone_rr *rr;
	uint32_t node, idx;
};

static int cmp_dedup(const void *pa, const void *pb)
{
	const struct sortent *a = pa, *b = pb;
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	if (a->rr->type != b->rr->type)
		return a->rr->type < b->rr->type ? -1 : 1;
	if (a->rr->rclass != b->rr->rclass)
		return a->rr->rclass < b->rr->rclass ? -1 : 1;
	if (a->rr->rdlen != b->rr->rdlen)
		return a->rr->rdlen < b->rr->rdlen ? -1 : 1;
	int d = a->rr->rdlen ? memcmp(a->rr->rdata, b->rr->rdata, a->rr->rdlen) : 0;
	if (d)
		return d;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_final(const void *pa, const void *pb)
{
	const struct sortent *a = pa, *b = pb;
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	if (a->rr->type != b->rr->type)
		return a->rr->type < b->rr->type ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Sort the records by node and type, drop repeats, fill the nodes and each zone's NS set. */
static int finish(struct bw_zones *z)
{
	size_t n = z->nrr, w = 0;
	struct sortent *se = malloc((n ? n : 1) * sizeof(*se));
	struct bw_zone_rr *out = malloc((n ? n : 1) * sizeof(*out));
	if (!se || !out) {
		free(se);
		free(out);
		return BW_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		se[i] = (struct sortent){ &z->rr[i], z->rr_node[i], (uint32_t)i };
	qsort(se, n, sizeof(*se), cmp_dedup);
	for (size_t i = 0; i < n; i++) {
		const struct bw_zone_rr *a = w ? se[w - 1].rr : NULL, *b = se[i].rr;
		if (a && se[w - 1].node == se[i].node && a->type == b->type && a->rclass == b->rclass &&
		    a->rdlen == b->rdlen && (!a->rdlen || !memcmp(a->rdata, b->rdata, a->rdlen)))
			continue; /* the same record again: sorted next to its first copy */
		se[w++] = se[i];
	}
	qsort(se, w, sizeof(*se), cmp_final);
	for (size_t k = 0; k < z->nzones; k++)
		z->zones[k].nrecords = 0;
	for (size_t i = 0; i < w; i++) {
		out[i] = *se[i].rr;
		struct node *nd = &z->nodes[se[i].node];
		if (!nd->n)
			nd->first = (uint32_t)i;
		nd->n++;
		z->zones[nd->zone].nrecords++;
	}
	free(se);
	free(z->rr);
	free(z->rr_node);
	z->rr = out;
	z->rr_node = NULL;
	z->nrr = w;

	for (size_t k = 0; k < z->nzones; k++) {
		struct bw_zone *zn = &z->zones[k];
		long nd = node_find(z, (uint32_t)k, zn->apex, zn->apex_len);
		if (nd < 0)
			continue;
		const struct node *a = &z->nodes[nd];
		size_t cnt = 0;
		for (uint32_t i = 0; i < a->n; i++)
			cnt += z->rr[a->first + i].type == LDNS_RR_TYPE_NS;
		const char **ns = za_alloc(z, (cnt ? cnt : 1) * sizeof(*ns));
		if (!ns)
			return BW_ENOMEM;
		zn->nns = 0;
		for (uint32_t i = 0; i < a->n; i++) {
			const struct bw_zone_rr *r = &z->rr[a->first + i];
			if (r->type != LDNS_RR_TYPE_NS || !wire_ok(r->rdata, r->rdlen))
				continue;
			if (!(ns[zn->nns] = wire_text(z, r->rdata, r->rdlen)))
				return BW_ENOMEM;
			zn->nns++;
		}
		zn->ns = ns;
	}
	return BW_OK;
}

static int zone_new(struct bw_zones *z, const char *file, uint32_t *id)
{
	if (z->nzones == BW_ZONES_MAX_FILES)
		return BW_ELIMIT;
	if (z->nzones == z->zcap) {
		size_t nc = z->zcap ? z->zcap * 2 : 16;
		struct bw_zone *nz = realloc(z->zones, nc * sizeof(*nz));
		if (!nz)
			return BW_ENOMEM;
		z->zones = nz;
		z->zcap = nc;
	}
	const char *f = za_dup(z, file, strlen(file), true);
	if (!f)
		return BW_ENOMEM;
	z->zones[z->nzones] = (struct bw_zone){ .file = f, .origin = "", .ns = NULL };
	*id = (uint32_t)z->nzones++;
	return BW_OK;
}

/* Load one zone's text (path is for messages and $INCLUDE; NULL includes = refused). */
static int load_one(struct ctx *c, const char *path, const char *origin, const char *buf, size_t len)
{
	struct fstate fs = { .default_ttl = 3600, .depth = 0 };
	int rc = zone_new(c->z, path, &c->zone);
	if (rc)
		return zfail(c, rc, "%s: %s", path, rc == BW_ELIMIT ? "too many zones" : "out of memory");
	fs.path = c->z->zones[c->zone].file;
	if (origin && *origin) {
		size_t n = strlen(origin);
		char tmp[1100];
		if (n + 2 > sizeof(tmp))
			return zfail(c, BW_EINVAL, "%s: bad origin '%s'", path, origin);
		memcpy(tmp, origin, n);
		if (tmp[n - 1] != '.')
			tmp[n++] = '.';
		tmp[n] = '\0';
		fs.origin = ldns_dname_new_frm_str(tmp);
		if (!fs.origin)
			return zfail(c, BW_EINVAL, "%s: bad origin '%s'", path, origin);
	} else {
		fs.origin = ldns_dname_new_frm_str(".");
		if (!fs.origin)
			return zfail(c, BW_ENOMEM, "out of memory");
	}
	c->soa_seen = false;
	rc = load_text(c, &fs, buf, len);
	ldns_rdf_deep_free(fs.origin);
	if (rc)
		return rc;
	if (!c->soa_seen)
		return zfail(c, BW_EMALF, "%s: no records (a zone starts with its SOA)", path);
	return BW_OK;
}

static int ctx_init(struct ctx *c, struct bw_zones **zp, char *err, size_t errcap)
{
	memset(c, 0, sizeof(*c));
	c->err = err;
	c->errcap = errcap;
	if (err && errcap)
		err[0] = '\0';
	c->z = calloc(1, sizeof(*c->z));
	c->rec = malloc(REC_MAX + 1);
	c->line2 = malloc(REC_MAX + 1100);
	c->wire = ldns_buffer_new(1024);
	c->text = ldns_buffer_new(1024);
	*zp = c->z;
	if (!c->z || !c->rec || !c->line2 || !c->wire || !c->text)
		return zfail(c, BW_ENOMEM, "out of memory");
	return BW_OK;
}

static void ctx_deinit(struct ctx *c)
{
	free(c->rec);
	free(c->line2);
	if (c->wire)
		ldns_buffer_free(c->wire);
	if (c->text)
		ldns_buffer_free(c->text);
}

int bw_zones_load_ex(const char *const *paths, const char *const *origins, size_t n,
		     struct bw_zones **out, char *err, size_t errcap)
{
	struct ctx c;
	struct bw_zones *z;
	*out = NULL;
	int rc = ctx_init(&c, &z, err, errcap);
	for (size_t i = 0; !rc && i < n; i++) {
		char *buf;
		size_t len;
		int eno;
		rc = read_whole(paths[i], BW_ZONES_MAX_BYTES - c.bytes, &buf, &len, &eno);
		if (rc) {
			if (rc == BW_ELIMIT)
				zfail(&c, rc, "%s: zone data over %u bytes", paths[i], BW_ZONES_MAX_BYTES);
			else
				zfail(&c, rc, "%s: %s", paths[i], eno ? strerror(eno) : "out of memory");
			break;
		}
		c.bytes += len;
		rc = load_one(&c, paths[i], origins ? origins[i] : NULL, buf, len);
		free(buf);
	}
	if (!rc && (rc = finish(z)))
		zfail(&c, rc, "out of memory");
	ctx_deinit(&c);
	if (rc) {
		bw_zones_free(z);
		return rc;
	}
	*out = z;
	return BW_OK;
}

int bw_zones_load(const char *const *paths, size_t n, struct bw_zones **out, char *err, size_t errcap)
{
	return bw_zones_load_ex(paths, NULL, n, out, err, errcap);
}

int bw_zones_load_buffer(const char *name, const char *buf, size_t len, const char *origin,
			 struct bw_zones **out, char *err, size_t errcap)
{
	struct ctx c;
	struct bw_zones *z;
	*out = NULL;
	int rc = ctx_init(&c, &z, err, errcap);
	c.no_include = true;
	if (!rc && len > BW_ZONES_MAX_BYTES)
		rc = zfail(&c, BW_ELIMIT, "%s: zone data over %u bytes", name, BW_ZONES_MAX_BYTES);
	if (!rc)
		rc = load_one(&c, name ? name : "-", origin, buf, len);
	if (!rc && (rc = finish(z)))
		zfail(&c, rc, "out of memory");
	ctx_deinit(&c);
	if (rc) {
		bw_zones_free(z);
		return rc;
	}
	*out = z;
	return BW_OK;
}

/* ---- lookups ---- */

size_t bw_zones_count(const struct bw_zones *z)
{
	return z ? z->nzones : 0;
}

const struct bw_zone *bw_zones_at(const struct bw_zones *z, size_t i)
{
	return z && i < z->nzones ? &z->zones[i] : NULL;
}

const struct bw_zone *bw_zones_find_zone_wire(const struct bw_zones *z, const uint8_t *name, size_t len)
{
	if (!z || !name || !wire_ok(name, len))
		return NULL;
	for (size_t o = 0; o < len;) {
		long k = apex_find(z, name + o, len - o);
		if (k >= 0)
			return &z->zones[k];
		if (name[o] == 0)
			break;
		o += 1 + (size_t)name[o];
	}
	return NULL;
}

static const struct node *node_of(const struct bw_zones *z, const uint8_t *name, size_t len)
{
	const struct bw_zone *zn = bw_zones_find_zone_wire(z, name, len);
	if (!zn)
		return NULL;
	long nd = node_find(z, (uint32_t)(zn - z->zones), name, len);
	return nd < 0 ? NULL : &z->nodes[nd];
}

const struct bw_zone_rr *bw_zones_lookup_wire(const struct bw_zones *z, const uint8_t *name, size_t len,
					      uint16_t type, size_t *n)
{
	*n = 0;
	const struct node *nd = node_of(z, name, len);
	if (!nd || !nd->n)
		return NULL;
	const struct bw_zone_rr *r = &z->rr[nd->first];
	if (type == 255) {
		*n = nd->n;
		return r;
	}
	size_t lo = 0, hi = nd->n; /* first record with type >= wanted */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t e = lo;
	while (e < nd->n && r[e].type == type)
		e++;
	*n = e - lo;
	return e > lo ? &r[lo] : NULL;
}

bool bw_zones_has_name_wire(const struct bw_zones *z, const uint8_t *name, size_t len)
{
	return node_of(z, name, len) != NULL;
}

const struct bw_zone *bw_zones_find_zone(const struct bw_zones *z, const char *name)
{
	uint8_t w[256];
	int n = bw_zones_name_to_wire(name, w, sizeof(w));
	return n < 0 ? NULL : bw_zones_find_zone_wire(z, w, (size_t)n);
}

const struct bw_zone_rr *bw_zones_lookup(const struct bw_zones *z, const char *name, uint16_t type,
					 size_t *n)
{
	uint8_t w[256];
	int k = bw_zones_name_to_wire(name, w, sizeof(w));
	*n = 0;
	return k < 0 ? NULL : bw_zones_lookup_wire(z, w, (size_t)k, type, n);
}

bool bw_zones_has_name(const struct bw_zones *z, const char *name)
{
	uint8_t w[256];
	int n = bw_zones_name_to_wire(name, w, sizeof(w));
	return n >= 0 && bw_zones_has_name_wire(z, w, (size_t)n);
}
