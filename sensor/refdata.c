/* SPDX-License-Identifier: MIT */
/*
 * refdata.c: loaders and lookups for the reference tables in data/.
 *
 * The tables are read once at start-up and then queried per observed name
 * or address, so the work is put into loading: every row is validated
 * (a bad row fails the load with FILE:LINE, because a silently dropped
 * fingerprint is a blind spot nobody notices), strings are interned into
 * one arena, and each table gets the index its lookup needs: hashes of
 * exact and suffix patterns probed once per label of a CNAME target, a
 * small allocation-free regex engine (POSIX regexec allocates per call),
 * normalised CA names, and an LPM over the cloud prefixes. The hash tables
 * hold only our own rows, so probe lengths are fixed at load time and an
 * attacker choosing the looked-up names cannot lengthen them.
 */
#define _GNU_SOURCE /* memmem */
#include "refdata.h"
#include "iplpm.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- errors ---- */

struct tsv {
	const char *name;
	const char *p, *end;
	uint32_t line;
	char *err;
	size_t errcap;
};

__attribute__((format(printf, 3, 4))) static int tsv_fail(struct tsv *t, int rc, const char *fmt, ...)
{
	if (t->err && t->errcap) {
		int k = snprintf(t->err, t->errcap, "%s:%u: ", t->name ? t->name : "-", (unsigned)t->line);
		if (k >= 0 && (size_t)k < t->errcap) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(t->err + k, t->errcap - (size_t)k, fmt, ap);
			va_end(ap);
		}
	}
	return rc;
}

static void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
	if (!err || !cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

/* Read a whole file of at most max bytes. */
static int read_file(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errcap)
{
	*buf = NULL;
	*len = 0;
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		int e = errno;
		set_err(err, errcap, "%s: %s", path, strerror(e));
		return e == ENOENT ? BW_ENOENT : BW_EIO;
	}
	struct stat st;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errcap, "%s: not a regular file", path);
		fclose(fp);
		return BW_EIO;
	}
	if ((uint64_t)st.st_size > max) {
		set_err(err, errcap, "%s: %lld bytes, more than the limit of %zu", path, (long long)st.st_size,
			max);
		fclose(fp);
		return BW_ELIMIT;
	}
	size_t n = (size_t)st.st_size;
	char *b = malloc(n ? n : 1);
	if (!b) {
		fclose(fp);
		set_err(err, errcap, "%s: out of memory", path);
		return BW_ENOMEM;
	}
	size_t got = n ? fread(b, 1, n, fp) : 0;
	int bad = ferror(fp) || got != n || fgetc(fp) != EOF; /* grew while reading: refuse */
	fclose(fp);
	if (bad) {
		free(b);
		set_err(err, errcap, "%s: read error or file changed while reading", path);
		return BW_EIO;
	}
	*buf = b;
	*len = n;
	return BW_OK;
}

/* ---- TSV lines and fields ---- */

struct field {
	const char *p;
	size_t n;
};

/* Next data line (comments and empty lines skipped). 1 = got one, 0 = end, <0 = error. */
static int tsv_next(struct tsv *t, const char **line, size_t *len, bool header)
{
	while (t->p < t->end) {
		const char *s = t->p;
		const char *nl = memchr(s, '\n', (size_t)(t->end - s));
		const char *e = nl ? nl : t->end;
		t->p = nl ? nl + 1 : t->end;
		t->line++;
		if (e > s && e[-1] == '\r')
			e--;
		size_t n = (size_t)(e - s);
		if (n > BW_REFDATA_MAX_LINE)
			return tsv_fail(t, BW_ELIMIT, "line longer than %u bytes", BW_REFDATA_MAX_LINE);
		if (memchr(s, '\0', n) || memchr(s, '\r', n))
			return tsv_fail(t, BW_EMALF, "NUL or CR byte in line");
		if (!header && (n == 0 || s[0] == '#'))
			continue;
		*line = s;
		*len = n;
		return 1;
	}
	return 0;
}

/* Split into exactly ncols TAB-separated fields. */
static int tsv_split(struct tsv *t, const char *s, size_t n, struct field *f, size_t ncols)
{
	size_t k = 0;
	const char *end = s + n;
	for (;;) {
		const char *tab = memchr(s, '\t', (size_t)(end - s));
		const char *e = tab ? tab : end;
		if (k < ncols)
			f[k] = (struct field){ s, (size_t)(e - s) };
		k++;
		if (!tab)
			break;
		s = tab + 1;
	}
	if (k != ncols)
		return tsv_fail(t, BW_EMALF, "expected %zu TAB-separated columns, got %zu", ncols, k);
	return BW_OK;
}

static int tsv_header(struct tsv *t, const char *const *cols, size_t ncols)
{
	const char *s;
	size_t n;
	struct field f[32];
	int r = tsv_next(t, &s, &n, true);
	if (r < 0)
		return r;
	if (r == 0) {
		t->line = 1;
		return tsv_fail(t, BW_EMALF, "empty file (no header line)");
	}
	if ((r = tsv_split(t, s, n, f, ncols)))
		return r;
	for (size_t i = 0; i < ncols; i++)
		if (f[i].n != strlen(cols[i]) || memcmp(f[i].p, cols[i], f[i].n))
			return tsv_fail(t, BW_EMALF, "header: column %zu should be '%s', got '%.*s'", i + 1,
					cols[i], (int)BW_MIN(f[i].n, 64), f[i].p);
	return BW_OK;
}

static bool feq(struct field f, const char *s)
{
	return f.n == strlen(s) && memcmp(f.p, s, f.n) == 0;
}

/* Printable excerpt of a field for messages. */
#define FPR(f) (int)BW_MIN((f).n, 80), (f).p

/* ---- arena and string interning ---- */

struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct arena_blk *head;
	size_t bytes;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
	struct arena_blk *b = a->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
		a->bytes += sizeof(*b) + cap;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

static void arena_free(struct arena *a)
{
	for (struct arena_blk *b = a->head, *nx; b; b = nx) {
		nx = b->next;
		free(b);
	}
	a->head = NULL;
	a->bytes = 0;
}

static uint64_t fnv(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

/* Interned strings: equal contents share one copy. */
struct strtab {
	const char **slot;
	size_t cap, n;
	struct arena *a;
};

static const char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *d = arena_alloc(a, n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int strtab_grow(struct strtab *st)
{
	size_t nc = st->cap ? st->cap * 2 : 1024;
	const char **ns = calloc(nc, sizeof(*ns));
	if (!ns)
		return BW_ENOMEM;
	for (size_t i = 0; i < st->cap; i++) {
		const char *s = st->slot[i];
		if (!s)
			continue;
		size_t j = fnv(s, strlen(s)) & (nc - 1);
		while (ns[j])
			j = (j + 1) & (nc - 1);
		ns[j] = s;
	}
	free(st->slot);
	st->slot = ns;
	st->cap = nc;
	return BW_OK;
}

static const char *intern(struct strtab *st, const char *s, size_t n)
{
	if ((st->n + 1) * 2 > st->cap && strtab_grow(st))
		return NULL;
	size_t j = fnv(s, n) & (st->cap - 1);
	while (st->slot[j]) {
		if (strncmp(st->slot[j], s, n) == 0 && st->slot[j][n] == '\0')
			return st->slot[j];
		j = (j + 1) & (st->cap - 1);
	}
	const char *d = arena_strndup(st->a, s, n);
	if (!d)
		return NULL;
	st->slot[j] = d;
	st->n++;
	return d;
}

static bool strtab_has(const struct strtab *st, const char *s, size_t n)
{
	if (!st->cap)
		return false;
	size_t j = fnv(s, n) & (st->cap - 1);
	while (st->slot[j]) {
		if (strncmp(st->slot[j], s, n) == 0 && st->slot[j][n] == '\0')
			return true;
		j = (j + 1) & (st->cap - 1);
	}
	return false;
}

static char lc(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ---- a small regex engine (POSIX ERE subset, Thompson NFA) ---- */

/*
 * Supported: literals, '.', bracket expressions ([a-z0-9_-], [^...],
 * [:alpha:] [:digit:] [:alnum:] [:lower:] [:upper:] [:xdigit:] [:space:]),
 * groups, '|', '*', '+', '?', '^', '$', backslash-escaped punctuation.
 * Not supported (the load fails): {m,n}, back-references, \letter escapes.
 * Matching is case-insensitive and unanchored; the simulation keeps a set
 * of program counters, so it runs in O(name length x program size) with
 * fixed stack arrays and never backtracks.
 */
enum { RX_CLS, RX_SPLIT, RX_JMP, RX_BOL, RX_EOL, RX_MATCH };

#define RX_MAX_INS 256
#define RX_MAX_DEPTH 16

struct rx_ins {
	uint8_t op;
	int16_t x, y; /* relative targets */
	uint8_t cls[32];
};

struct rx {
	struct rx_ins *ins;
	size_t n;
	unsigned literals; /* characters every match contains: the specificity score */
};

struct rx_comp {
	const char *p, *end;
	struct rx_ins ins[RX_MAX_INS];
	size_t n;
	int depth;
	const char *why;
};

static bool rx_room(struct rx_comp *c, size_t k)
{
	if (c->n + k > RX_MAX_INS) {
		c->why = "regex too long";
		return false;
	}
	return true;
}

static struct rx_ins *rx_emit(struct rx_comp *c, uint8_t op)
{
	if (!rx_room(c, 1))
		return NULL;
	struct rx_ins *i = &c->ins[c->n++];
	memset(i, 0, sizeof(*i));
	i->op = op;
	return i;
}

static struct rx_ins *rx_insert(struct rx_comp *c, size_t at, uint8_t op)
{
	if (!rx_room(c, 1))
		return NULL;
	memmove(&c->ins[at + 1], &c->ins[at], (c->n - at) * sizeof(c->ins[0]));
	c->n++;
	memset(&c->ins[at], 0, sizeof(c->ins[0]));
	c->ins[at].op = op;
	return &c->ins[at];
}

static void cls_set(uint8_t *cls, unsigned ch)
{
	cls[ch >> 3] |= (uint8_t)(1u << (ch & 7));
}

static bool cls_has(const uint8_t *cls, unsigned ch)
{
	return cls[ch >> 3] & (1u << (ch & 7));
}

static void cls_fold(uint8_t *cls)
{
	for (unsigned ch = 'a'; ch <= 'z'; ch++)
		if (cls_has(cls, ch) || cls_has(cls, ch - 32)) {
			cls_set(cls, ch);
			cls_set(cls, ch - 32);
		}
}

static bool rx_named_class(struct rx_comp *c, uint8_t *cls)
{
	static const char *const names[] = { "alpha", "digit", "alnum", "lower", "upper", "xdigit", "space" };
	const char *s = c->p + 2; /* after "[:" */
	const char *e = s;
	while (e + 1 < c->end && !(e[0] == ':' && e[1] == ']'))
		e++;
	if (e + 1 >= c->end) {
		c->why = "unterminated [: :]";
		return false;
	}
	size_t n = (size_t)(e - s);
	size_t k;
	for (k = 0; k < BW_ARRAY_SIZE(names); k++)
		if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0)
			break;
	if (k == BW_ARRAY_SIZE(names)) {
		c->why = "unknown character class";
		return false;
	}
	for (unsigned ch = 0; ch < 256; ch++) {
		bool al = (ch | 32) >= 'a' && (ch | 32) <= 'z', dg = ch >= '0' && ch <= '9';
		bool in = k == 0 ? al : k == 1 ? dg : k == 2 ? al || dg : k == 3 ? ch >= 'a' && ch <= 'z'
			: k == 4 ? ch >= 'A' && ch <= 'Z' : k == 5 ? dg || ((ch | 32) >= 'a' && (ch | 32) <= 'f')
			: ch == ' ' || (ch >= '\t' && ch <= '\r');
		if (in)
			cls_set(cls, ch);
	}
	c->p = e + 2;
	return true;
}

static bool rx_bracket(struct rx_comp *c, uint8_t *cls)
{
	bool neg = false;
	c->p++; /* '[' */
	if (c->p < c->end && *c->p == '^') {
		neg = true;
		c->p++;
	}
	bool first = true;
	for (;;) {
		if (c->p >= c->end) {
			c->why = "unterminated [";
			return false;
		}
		unsigned char ch = (unsigned char)*c->p;
		if (ch == ']' && !first) {
			c->p++;
			break;
		}
		first = false;
		if (ch == '[' && c->p + 1 < c->end && c->p[1] == ':') {
			if (!rx_named_class(c, cls))
				return false;
			continue;
		}
		c->p++;
		if (c->p + 1 < c->end && *c->p == '-' && c->p[1] != ']') {
			unsigned char hi = (unsigned char)c->p[1];
			if (hi < ch) {
				c->why = "bad range in [ ]";
				return false;
			}
			for (unsigned x = ch; x <= hi; x++)
				cls_set(cls, x);
			c->p += 2;
		} else {
			cls_set(cls, ch);
		}
	}
	cls_fold(cls);
	if (neg)
		for (size_t i = 0; i < 32; i++)
			cls[i] = (uint8_t)~cls[i];
	return true;
}

static bool rx_alt(struct rx_comp *c, unsigned *lit);

static bool rx_atom(struct rx_comp *c, unsigned *lit)
{
	unsigned char ch = (unsigned char)*c->p;
	struct rx_ins *i;
	*lit = 0;
	switch (ch) {
	case '(':
		if (++c->depth > RX_MAX_DEPTH) {
			c->why = "groups nested too deep";
			return false;
		}
		c->p++;
		if (!rx_alt(c, lit))
			return false;
		if (c->p >= c->end || *c->p != ')') {
			c->why = "missing )";
			return false;
		}
		c->p++;
		c->depth--;
		return true;
	case '[':
		if (!(i = rx_emit(c, RX_CLS)))
			return false;
		return rx_bracket(c, i->cls);
	case '.':
		if (!(i = rx_emit(c, RX_CLS)))
			return false;
		memset(i->cls, 0xff, sizeof(i->cls));
		c->p++;
		return true;
	case '^':
	case '$':
		c->p++;
		return rx_emit(c, ch == '^' ? RX_BOL : RX_EOL) != NULL;
	case '*':
	case '+':
	case '?':
	case '{':
		c->why = ch == '{' ? "{m,n} is not supported" : "nothing to repeat";
		return false;
	case '\\':
		if (c->p + 1 >= c->end) {
			c->why = "trailing backslash";
			return false;
		}
		ch = (unsigned char)c->p[1];
		if (is_alnum(ch)) {
			c->why = "unsupported escape";
			return false;
		}
		c->p++;
		break;
	default:
		break;
	}
	if (!(i = rx_emit(c, RX_CLS)))
		return false;
	cls_set(i->cls, ch);
	cls_fold(i->cls);
	c->p++;
	*lit = 1;
	return true;
}

static bool rx_piece(struct rx_comp *c, unsigned *lit)
{
	size_t start = c->n;
	if (!rx_atom(c, lit))
		return false;
	while (c->p < c->end && (*c->p == '*' || *c->p == '+' || *c->p == '?' || *c->p == '{')) {
		char q = *c->p++;
		size_t len = c->n - start;
		struct rx_ins *i;
		if (q == '{') {
			c->why = "{m,n} is not supported";
			return false;
		}
		if (q == '*') {
			if (!rx_room(c, 2) || !(i = rx_insert(c, start, RX_SPLIT)))
				return false;
			i->x = 1;
			i->y = (int16_t)(len + 2);
			i = rx_emit(c, RX_JMP);
			i->x = (int16_t)-(int)(len + 1);
			*lit = 0;
		} else if (q == '+') {
			if (!(i = rx_emit(c, RX_SPLIT)))
				return false;
			i->x = (int16_t)-(int)len;
			i->y = 1;
		} else {
			if (!(i = rx_insert(c, start, RX_SPLIT)))
				return false;
			i->x = 1;
			i->y = (int16_t)(len + 1);
			*lit = 0;
		}
	}
	return true;
}

static bool rx_concat(struct rx_comp *c, unsigned *lit)
{
	*lit = 0;
	while (c->p < c->end && *c->p != '|' && *c->p != ')') {
		unsigned l;
		if (!rx_piece(c, &l))
			return false;
		*lit += l;
	}
	return true;
}

static bool rx_alt(struct rx_comp *c, unsigned *lit)
{
	size_t start = c->n;
	unsigned l1, l2;
	if (!rx_concat(c, &l1))
		return false;
	*lit = l1;
	if (c->p >= c->end || *c->p != '|')
		return true;
	c->p++;
	struct rx_ins *s = rx_insert(c, start, RX_SPLIT);
	if (!s)
		return false;
	size_t j = c->n;
	if (!rx_emit(c, RX_JMP))
		return false;
	c->ins[start].x = 1;
	c->ins[start].y = (int16_t)(j + 1 - start);
	if (!rx_alt(c, &l2))
		return false;
	c->ins[j].x = (int16_t)(c->n - j);
	*lit = BW_MIN(l1, l2);
	return true;
}

/* Compile into the arena; NULL with *why set on a bad pattern. */
static struct rx *rx_compile(struct arena *a, const char *pat, size_t n, const char **why)
{
	struct rx_comp *c = calloc(1, sizeof(*c));
	struct rx *r = NULL;
	unsigned lit = 0;
	*why = "out of memory";
	if (!c)
		return NULL;
	c->p = pat;
	c->end = pat + n;
	if (!rx_alt(c, &lit) || (c->p < c->end && (c->why = "unbalanced )")) || !rx_emit(c, RX_MATCH)) {
		*why = c->why ? c->why : "bad regex";
		free(c);
		return NULL;
	}
	r = arena_alloc(a, sizeof(*r));
	if (r && (r->ins = arena_alloc(a, c->n * sizeof(*r->ins)))) {
		memcpy(r->ins, c->ins, c->n * sizeof(*r->ins));
		r->n = c->n;
		r->literals = lit;
	} else {
		r = NULL;
	}
	free(c);
	return r;
}

struct rx_run {
	uint16_t list[2][RX_MAX_INS];
	size_t cnt[2];
	uint32_t mark[RX_MAX_INS];
	uint16_t stack[2 * RX_MAX_INS + 2];
	bool matched;
};

static void rx_add(const struct rx *r, struct rx_run *st, int w, size_t pc0, size_t pos, size_t n,
		   uint32_t gen)
{
	size_t sp = 0;
	st->stack[sp++] = (uint16_t)pc0;
	while (sp) {
		size_t pc = st->stack[--sp];
		if (st->mark[pc] == gen)
			continue;
		st->mark[pc] = gen;
		const struct rx_ins *i = &r->ins[pc];
		switch (i->op) {
		case RX_CLS:
			st->list[w][st->cnt[w]++] = (uint16_t)pc;
			break;
		case RX_JMP:
			st->stack[sp++] = (uint16_t)((long)pc + i->x);
			break;
		case RX_SPLIT:
			st->stack[sp++] = (uint16_t)((long)pc + i->y);
			st->stack[sp++] = (uint16_t)((long)pc + i->x);
			break;
		case RX_BOL:
			if (pos == 0)
				st->stack[sp++] = (uint16_t)(pc + 1);
			break;
		case RX_EOL:
			if (pos == n)
				st->stack[sp++] = (uint16_t)(pc + 1);
			break;
		default:
			st->matched = true;
			break;
		}
	}
}

static bool rx_exec(const struct rx *r, const char *s, size_t n)
{
	struct rx_run st;
	memset(st.mark, 0, sizeof(st.mark));
	st.cnt[0] = st.cnt[1] = 0;
	st.matched = false;
	uint32_t gen = 1;
	int cur = 0;
	rx_add(r, &st, cur, 0, 0, n, gen);
	for (size_t i = 0; i < n && !st.matched; i++) {
		int nx = cur ^ 1;
		st.cnt[nx] = 0;
		gen++;
		for (size_t k = 0; k < st.cnt[cur]; k++) {
			size_t pc = st.list[cur][k];
			if (cls_has(r->ins[pc].cls, (unsigned char)s[i]))
				rx_add(r, &st, nx, pc + 1, i + 1, n, gen);
		}
		rx_add(r, &st, nx, 0, i + 1, n, gen); /* unanchored: a match may start anywhere */
		cur = nx;
	}
	return st.matched;
}

/* ---- glob: '*' is any run of characters ---- */

static bool glob_match(const char *pat, size_t pn, const char *s, size_t sn)
{
	size_t p = 0, i = 0, star = SIZE_MAX, mark = 0;
	while (i < sn) {
		if (p < pn && pat[p] == '*') {
			star = p++;
			mark = i;
		} else if (p < pn && pat[p] == s[i]) {
			p++;
			i++;
		} else if (star != SIZE_MAX) {
			p = star + 1;
			i = ++mark;
		} else {
			return false;
		}
	}
	while (p < pn && pat[p] == '*')
		p++;
	return p == pn;
}

/* ====================================================================== */
/* Takeover fingerprints                                                  */

struct tko_slot {
	uint64_t h;
	uint32_t row; /* row + 1; 0 = empty */
};

struct bw_takeover_db {
	struct arena a;
	struct strtab st;
	struct bw_takeover *rows;
	size_t n, cap;
	uint32_t *score;     /* specificity per row */
	struct rx **rx;      /* per row, regex rows only */
	struct bw_ip *ip;    /* per row, ip rows only */
	struct tko_slot *exact, *suffix;
	size_t hcap;         /* power of two, both tables */
	uint32_t *slow;      /* substring, glob and regex rows */
	size_t nslow;
	uint32_t *iprows;
	size_t nip;
	uint32_t *dup;       /* load-time hash of row identities: row + 1 */
	size_t dupcap;
};

static const char *const tko_cols[] = { "service", "provider_group", "record_type", "pattern", "match",
					"status", "status_source", "unclaimed_evidence",
					"passive_visibility", "http_fingerprint", "http_status", "reference",
					"sources", "notes" };

static const char *const tko_status_names[] = {
	[BW_TKO_VULNERABLE] = "Vulnerable",
	[BW_TKO_VULNERABLE_WITH_PURCHASE] = "Vulnerable (with purchase)",
	[BW_TKO_VULNERABLE_SANCTIONS] = "Vulnerable (sanctions may stop payments)",
	[BW_TKO_EDGE_CASE] = "Edge case",
	[BW_TKO_NOT_VULNERABLE] = "Not vulnerable",
	[BW_TKO_NOT_VULNERABLE_PRIVATE_NS] = "Not vulnerable (private nameservers)",
	[BW_TKO_REGISTRATION_CLOSED] = "Registration closed",
	[BW_TKO_UNRATED] = "unrated",
};

const char *bw_tko_status_name(unsigned status)
{
	return status < BW_ARRAY_SIZE(tko_status_names) ? tko_status_names[status] : "?";
}

static const struct {
	const char *name;
	uint16_t type;
} tko_types[] = { { "CNAME", 5 }, { "NS", 2 }, { "A", 1 }, { "AAAA", 28 }, { "MX", 15 },
		  { "SRV", 33 }, { "PTR", 12 }, { "DNAME", 39 } };

static const char *const tko_match_names[] = { "exact", "suffix", "substring", "glob", "regex", "ip", "none" };

/* FNV-1a over the name read backwards, so the suffixes' hashes come out of one pass. */
#define RFNV_INIT 0xcbf29ce484222325ULL
static uint64_t rfnv_step(uint64_t h, char c)
{
	return (h ^ (uint8_t)c) * 0x100000001b3ULL;
}

static uint64_t tko_key(uint64_t h, uint16_t rt)
{
	h ^= (uint64_t)rt * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 29;
	return h ? h : 1;
}

static uint64_t tko_hash(const char *s, size_t n, uint16_t rt)
{
	uint64_t h = RFNV_INIT;
	for (size_t i = n; i > 0; i--)
		h = rfnv_step(h, s[i - 1]);
	return tko_key(h, rt);
}

static const struct tko_slot *tko_probe(const struct bw_takeover_db *db, const struct tko_slot *tab,
					 uint64_t h, const char *s, size_t n, uint16_t rt)
{
	if (!db->hcap)
		return NULL;
	for (size_t j = h & (db->hcap - 1);; j = (j + 1) & (db->hcap - 1)) {
		const struct tko_slot *sl = &tab[j];
		if (!sl->row)
			return NULL;
		if (sl->h != h)
			continue;
		const struct bw_takeover *r = &db->rows[sl->row - 1];
		if (r->record_type == rt && strlen(r->pattern) == n && memcmp(r->pattern, s, n) == 0)
			return sl;
	}
}

static int tko_check_host(struct tsv *t, struct field p, bool glob)
{
	if (p.n > 253)
		return tsv_fail(t, BW_EMALF, "pattern longer than 253 characters");
	size_t lab = 0;
	for (size_t i = 0; i < p.n; i++) {
		char c = p.p[i];
		if (c >= 'A' && c <= 'Z')
			return tsv_fail(t, BW_EMALF, "bad pattern '%.*s': not lower case", FPR(p));
		if (c == '.') {
			if (lab == 0)
				return tsv_fail(t, BW_EMALF, "bad pattern '%.*s': empty label", FPR(p));
			lab = 0;
			continue;
		}
		if (!(is_alnum((unsigned char)c) || c == '-' || c == '_' || (glob && c == '*')))
			return tsv_fail(t, BW_EMALF, "bad pattern '%.*s': character 0x%02x", FPR(p),
					(unsigned char)c);
		if (++lab > 63)
			return tsv_fail(t, BW_EMALF, "bad pattern '%.*s': label longer than 63", FPR(p));
	}
	if (lab == 0)
		return tsv_fail(t, BW_EMALF, "bad pattern '%.*s': empty label or trailing dot", FPR(p));
	return BW_OK;
}

/* Comma-separated tokens of a set column into bits; "none"/"NONE" alone = 0. */
static int tko_bits(struct tsv *t, struct field f, const char *col, const char *const *names,
		    size_t nnames, const char *none, uint8_t *out)
{
	*out = 0;
	if (feq(f, none))
		return BW_OK;
	const char *s = f.p, *end = f.p + f.n;
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma ? comma : end;
		size_t k;
		for (k = 0; k < nnames; k++)
			if ((size_t)(e - s) == strlen(names[k]) && memcmp(s, names[k], (size_t)(e - s)) == 0)
				break;
		if (k == nnames)
			return tsv_fail(t, BW_EMALF, "unknown %s value '%.*s'", col, (int)BW_MIN(e - s, 80), s);
		*out |= (uint8_t)(1u << k);
		if (!comma)
			break;
		s = comma + 1;
	}
	return BW_OK;
}

static int tko_insert(struct bw_takeover_db *db, struct tko_slot *tab, uint64_t h, uint32_t row)
{
	size_t j = h & (db->hcap - 1);
	while (tab[j].row)
		j = (j + 1) & (db->hcap - 1);
	tab[j].h = h;
	tab[j].row = row + 1;
	return BW_OK;
}

/* The identity of a row for the duplicate check: pattern rows by pattern, "none" rows by service. */
static uint64_t tko_dup_hash(uint16_t rt, uint8_t match, const char *k, size_t n)
{
	return fnv(k, n) ^ (((uint64_t)rt << 8 | match) * 0x9e3779b97f4a7c15ULL);
}

static const char *tko_dup_str(const struct bw_takeover *r)
{
	return r->match == BW_TKO_MATCH_NONE ? r->service : r->pattern;
}

static long tko_dup_find(const struct bw_takeover_db *db, uint16_t rt, uint8_t match, const char *k, size_t n)
{
	if (!db->dupcap)
		return -1;
	for (size_t j = tko_dup_hash(rt, match, k, n) & (db->dupcap - 1); db->dup[j]; j = (j + 1) & (db->dupcap - 1)) {
		const struct bw_takeover *o = &db->rows[db->dup[j] - 1];
		const char *os = tko_dup_str(o);
		if (o->record_type == rt && o->match == match && strlen(os) == n && memcmp(os, k, n) == 0)
			return (long)db->dup[j] - 1;
	}
	return -1;
}

static int tko_dup_add(struct bw_takeover_db *db, uint32_t row)
{
	if ((db->n + 1) * 2 > db->dupcap) {
		size_t nc = db->dupcap ? db->dupcap * 2 : 512;
		uint32_t *nd = calloc(nc, sizeof(*nd));
		if (!nd)
			return BW_ENOMEM;
		for (size_t i = 0; i < db->dupcap; i++) {
			if (!db->dup[i])
				continue;
			const struct bw_takeover *o = &db->rows[db->dup[i] - 1];
			const char *os = tko_dup_str(o);
			size_t j = tko_dup_hash(o->record_type, o->match, os, strlen(os)) & (nc - 1);
			while (nd[j])
				j = (j + 1) & (nc - 1);
			nd[j] = db->dup[i];
		}
		free(db->dup);
		db->dup = nd;
		db->dupcap = nc;
	}
	const struct bw_takeover *r = &db->rows[row];
	const char *rs = tko_dup_str(r);
	size_t j = tko_dup_hash(r->record_type, r->match, rs, strlen(rs)) & (db->dupcap - 1);
	while (db->dup[j])
		j = (j + 1) & (db->dupcap - 1);
	db->dup[j] = row + 1;
	return BW_OK;
}

static int tko_row(struct bw_takeover_db *db, struct tsv *t, const struct field *f)
{
	static const char *const ev_names[] = { "NXDOMAIN", "NS_NO_ZONE", "HTTP_BODY", "HTTP_STATUS", "TLS_FAIL" };
	static const char *const vis_names[] = { "dns", "dns-partial", "http-cleartext-or-active", "tls" };
	struct bw_takeover r = { .line = t->line };
	int rc;
	size_t k;

	if (f[0].n == 0)
		return tsv_fail(t, BW_EMALF, "empty service");
	for (k = 0; k < BW_ARRAY_SIZE(tko_types); k++)
		if (feq(f[2], tko_types[k].name))
			break;
	if (k == BW_ARRAY_SIZE(tko_types))
		return tsv_fail(t, BW_EMALF, "unknown record_type '%.*s'", FPR(f[2]));
	r.record_type = tko_types[k].type;
	for (k = 0; k < BW_ARRAY_SIZE(tko_match_names); k++)
		if (feq(f[4], tko_match_names[k]))
			break;
	if (k == BW_ARRAY_SIZE(tko_match_names))
		return tsv_fail(t, BW_EMALF, "unknown match '%.*s'", FPR(f[4]));
	r.match = (uint8_t)k;
	for (k = 0; k < BW_ARRAY_SIZE(tko_status_names); k++)
		if (feq(f[5], tko_status_names[k]))
			break;
	if (k == BW_ARRAY_SIZE(tko_status_names))
		return tsv_fail(t, BW_EMALF, "unknown status '%.*s'", FPR(f[5]));
	r.status = (uint8_t)k;
	r.vulnerable = k <= BW_TKO_VULNERABLE_SANCTIONS;
	if ((rc = tko_bits(t, f[7], "unclaimed_evidence", ev_names, BW_ARRAY_SIZE(ev_names), "NONE",
			   &r.evidence)) ||
	    (rc = tko_bits(t, f[8], "passive_visibility", vis_names, BW_ARRAY_SIZE(vis_names), "none",
			   &r.visibility)))
		return rc;
	r.passive_dns = ((r.evidence & BW_TKO_EV_NXDOMAIN) && (r.visibility & BW_TKO_VIS_DNS)) ||
			((r.evidence & BW_TKO_EV_NS_NO_ZONE) &&
			 (r.visibility & (BW_TKO_VIS_DNS | BW_TKO_VIS_DNS_PARTIAL)));
	if (f[10].n) {
		unsigned v = 0;
		for (k = 0; k < f[10].n; k++) {
			char c = f[10].p[k];
			if (c < '0' || c > '9' || k >= 3)
				break;
			v = v * 10 + (unsigned)(c - '0');
		}
		if (k != f[10].n || v < 100 || v > 599)
			return tsv_fail(t, BW_EMALF, "bad http_status '%.*s'", FPR(f[10]));
		r.http_status = (uint16_t)v;
	}

	struct field p = f[3];
	uint32_t score = (uint32_t)p.n;
	struct rx *rx = NULL;
	struct bw_ip ip = { 0 };
	if (r.match == BW_TKO_MATCH_NONE) {
		if (p.n)
			return tsv_fail(t, BW_EMALF, "match 'none' with a pattern");
	} else if (p.n == 0) {
		return tsv_fail(t, BW_EMALF, "empty pattern for match '%s'", tko_match_names[r.match]);
	} else if (p.n > BW_TKO_MAX_PATTERN) {
		return tsv_fail(t, BW_EMALF, "pattern longer than %u bytes", BW_TKO_MAX_PATTERN);
	}
	switch (r.match) {
	case BW_TKO_MATCH_EXACT:
	case BW_TKO_MATCH_SUFFIX:
		if ((rc = tko_check_host(t, p, false)))
			return rc;
		if (r.match == BW_TKO_MATCH_EXACT)
			score += 0x10000; /* an exact hit always beats a pattern */
		break;
	case BW_TKO_MATCH_GLOB:
		if ((rc = tko_check_host(t, p, true)))
			return rc;
		score = 0;
		for (k = 0; k < p.n; k++)
			score += p.p[k] != '*';
		break;
	case BW_TKO_MATCH_SUBSTRING:
		for (k = 0; k < p.n; k++)
			if (p.p[k] <= ' ' || p.p[k] >= 0x7f || (p.p[k] >= 'A' && p.p[k] <= 'Z'))
				return tsv_fail(t, BW_EMALF, "bad pattern '%.*s': substring must be lower-case printable ASCII", FPR(p));
		break;
	case BW_TKO_MATCH_REGEX: {
		const char *why;
		if (!(rx = rx_compile(&db->a, p.p, p.n, &why)))
			return tsv_fail(t, strcmp(why, "out of memory") ? BW_EMALF : BW_ENOMEM,
					"bad pattern '%.*s': %s", FPR(p), why);
		score = rx->literals;
		break;
	}
	case BW_TKO_MATCH_IP: {
		char tmp[64];
		int af = r.record_type == 1 ? AF_INET : r.record_type == 28 ? AF_INET6 : 0;
		if (!af)
			return tsv_fail(t, BW_EMALF, "match 'ip' needs record_type A or AAAA");
		if (p.n >= sizeof(tmp))
			return tsv_fail(t, BW_EMALF, "bad address '%.*s'", FPR(p));
		memcpy(tmp, p.p, p.n);
		tmp[p.n] = '\0';
		if (inet_pton(af, tmp, ip.a) != 1)
			return tsv_fail(t, BW_EMALF, "bad %s address '%s'", af == AF_INET ? "IPv4" : "IPv6", tmp);
		ip.family = af == AF_INET ? 4 : 6;
		break;
	}
	default:
		break;
	}

	/* duplicates and conflicts: one (record_type, match, pattern) belongs to one row */
	struct field key = r.match == BW_TKO_MATCH_NONE ? f[0] : p;
	long dup = tko_dup_find(db, r.record_type, r.match, key.p, key.n);
	if (dup >= 0) {
		const struct bw_takeover *o = &db->rows[dup];
		if (r.match == BW_TKO_MATCH_NONE || (strlen(o->service) == f[0].n && memcmp(o->service, f[0].p, f[0].n) == 0))
			return tsv_fail(t, BW_EMALF, "duplicate row (same service, record_type and pattern as line %u)",
					(unsigned)o->line);
		return tsv_fail(t, BW_EMALF, "conflicting row: %s pattern '%.*s' already belongs to '%s' (line %u)",
				tko_match_names[r.match], FPR(p), o->service, (unsigned)o->line);
	}

	if (db->n == BW_TKO_MAX_ROWS)
		return tsv_fail(t, BW_ELIMIT, "more than %u rows", BW_TKO_MAX_ROWS);
	if (db->n == db->cap) {
		size_t nc = db->cap ? db->cap * 2 : 256;
		struct bw_takeover *nr = realloc(db->rows, nc * sizeof(*nr));
		if (!nr)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		db->rows = nr;
		uint32_t *ns = realloc(db->score, nc * sizeof(*ns));
		if (!ns)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		db->score = ns;
		struct rx **nx = realloc(db->rx, nc * sizeof(*nx));
		if (!nx)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		db->rx = nx;
		struct bw_ip *ni = realloc(db->ip, nc * sizeof(*ni));
		if (!ni)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		db->ip = ni;
		db->cap = nc;
	}
	const char **dst[] = { &r.service, &r.provider_group, &r.pattern, &r.status_text, &r.status_source,
			       &r.http_fingerprint, &r.reference, &r.sources, &r.notes };
	const int src[] = { 0, 1, 3, 5, 6, 9, 11, 12, 13 };
	for (k = 0; k < BW_ARRAY_SIZE(dst); k++)
		if (!(*dst[k] = intern(&db->st, f[src[k]].p, f[src[k]].n)))
			return tsv_fail(t, BW_ENOMEM, "out of memory");
	db->rows[db->n] = r;
	db->score[db->n] = score;
	db->rx[db->n] = rx;
	db->ip[db->n] = ip;
	db->n++;
	if (tko_dup_add(db, (uint32_t)db->n - 1))
		return tsv_fail(t, BW_ENOMEM, "out of memory");
	return BW_OK;
}

static int tko_index(struct bw_takeover_db *db, struct tsv *t)
{
	size_t cap = 16;
	while (cap < db->n * 2)
		cap *= 2;
	db->hcap = cap;
	db->exact = calloc(cap, sizeof(*db->exact));
	db->suffix = calloc(cap, sizeof(*db->suffix));
	db->slow = malloc((db->n ? db->n : 1) * sizeof(*db->slow));
	db->iprows = malloc((db->n ? db->n : 1) * sizeof(*db->iprows));
	if (!db->exact || !db->suffix || !db->slow || !db->iprows)
		return tsv_fail(t, BW_ENOMEM, "out of memory");
	for (size_t i = 0; i < db->n; i++) {
		const struct bw_takeover *r = &db->rows[i];
		uint64_t h = tko_hash(r->pattern, strlen(r->pattern), r->record_type);
		switch (r->match) {
		case BW_TKO_MATCH_EXACT:
			tko_insert(db, db->exact, h, (uint32_t)i);
			break;
		case BW_TKO_MATCH_SUFFIX:
			tko_insert(db, db->suffix, h, (uint32_t)i);
			break;
		case BW_TKO_MATCH_SUBSTRING:
		case BW_TKO_MATCH_GLOB:
		case BW_TKO_MATCH_REGEX:
			db->slow[db->nslow++] = (uint32_t)i;
			break;
		case BW_TKO_MATCH_IP:
			db->iprows[db->nip++] = (uint32_t)i;
			break;
		default:
			break;
		}
	}
	return BW_OK;
}

void bw_takeover_free(struct bw_takeover_db *db)
{
	if (!db)
		return;
	free(db->rows);
	free(db->score);
	free(db->rx);
	free(db->ip);
	free(db->exact);
	free(db->suffix);
	free(db->slow);
	free(db->iprows);
	free(db->dup);
	free(db->st.slot);
	arena_free(&db->a);
	free(db);
}

int bw_takeover_load_buffer(const char *name, const char *buf, size_t len, struct bw_takeover_db **out,
			    char *err, size_t errcap)
{
	struct tsv t = { .name = name, .p = buf, .end = buf + len, .err = err, .errcap = errcap };
	struct field f[BW_ARRAY_SIZE(tko_cols)];
	const char *s;
	size_t n;
	int rc;
	*out = NULL;
	if (err && errcap)
		err[0] = '\0';
	if (len > BW_TKO_MAX_FILE)
		return tsv_fail(&t, BW_ELIMIT, "more than %u bytes", BW_TKO_MAX_FILE);
	struct bw_takeover_db *db = calloc(1, sizeof(*db));
	if (!db)
		return tsv_fail(&t, BW_ENOMEM, "out of memory");
	db->st.a = &db->a;
	if ((rc = tsv_header(&t, tko_cols, BW_ARRAY_SIZE(tko_cols))))
		goto fail;
	while ((rc = tsv_next(&t, &s, &n, false)) == 1)
		if ((rc = tsv_split(&t, s, n, f, BW_ARRAY_SIZE(f))) || (rc = tko_row(db, &t, f)))
			goto fail;
	if (rc < 0 || (rc = tko_index(db, &t)))
		goto fail;
	*out = db;
	return BW_OK;
fail:
	bw_takeover_free(db);
	return rc;
}

int bw_takeover_load(const char *path, struct bw_takeover_db **out, char *err, size_t errcap)
{
	char *buf;
	size_t len;
	*out = NULL;
	int rc = read_file(path, BW_TKO_MAX_FILE, &buf, &len, err, errcap);
	if (rc)
		return rc;
	rc = bw_takeover_load_buffer(path, buf, len, out, err, errcap);
	free(buf);
	return rc;
}

static bool slow_match(const struct bw_takeover_db *db, uint32_t i, const char *s, size_t n)
{
	const struct bw_takeover *r = &db->rows[i];
	size_t pn = strlen(r->pattern);
	switch (r->match) {
	case BW_TKO_MATCH_SUBSTRING:
		return pn <= n && memmem(s, n, r->pattern, pn) != NULL;
	case BW_TKO_MATCH_GLOB:
		return glob_match(r->pattern, pn, s, n);
	case BW_TKO_MATCH_REGEX:
		return rx_exec(db->rx[i], s, n);
	default:
		return false;
	}
}

const struct bw_takeover *bw_takeover_match(const struct bw_takeover_db *db, const char *name,
					    size_t len, uint16_t record_type)
{
	char b[BW_REFDATA_MAX_NAME];
	if (!db || !name)
		return NULL;
	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > sizeof(b))
		return NULL;
	for (size_t i = 0; i < len; i++)
		b[i] = lc(name[i]);

	int64_t best = -1; /* row index */
	uint32_t best_score = 0;
#define CONSIDER(row)                                                                              \
	do {                                                                                       \
		uint32_t r_ = (row), s_ = db->score[r_];                                           \
		if (best < 0 || s_ > best_score || (s_ == best_score && r_ < (uint32_t)best)) {     \
			best = r_;                                                                 \
			best_score = s_;                                                           \
		}                                                                                  \
	} while (0)

	uint64_t h = RFNV_INIT;
	for (size_t j = len; j > 0; j--) {
		h = rfnv_step(h, b[j - 1]);
		size_t at = j - 1;
		if (at > 0 && b[at - 1] != '.')
			continue;
		uint64_t key = tko_key(h, record_type);
		const struct tko_slot *sl = tko_probe(db, db->suffix, key, b + at, len - at, record_type);
		if (sl)
			CONSIDER(sl->row - 1);
		if (at == 0 && (sl = tko_probe(db, db->exact, key, b, len, record_type)))
			CONSIDER(sl->row - 1);
	}
	for (size_t k = 0; k < db->nslow; k++) {
		uint32_t i = db->slow[k];
		if (db->rows[i].record_type == record_type && slow_match(db, i, b, len))
			CONSIDER(i);
	}
#undef CONSIDER
	return best < 0 ? NULL : &db->rows[best];
}

const struct bw_takeover *bw_takeover_match_ip(const struct bw_takeover_db *db, const struct bw_ip *ip)
{
	if (!db || !ip)
		return NULL;
	for (size_t k = 0; k < db->nip; k++) {
		uint32_t i = db->iprows[k];
		if (db->ip[i].family == ip->family && memcmp(db->ip[i].a, ip->a, ip->family == 4 ? 4 : 16) == 0)
			return &db->rows[i];
	}
	return NULL;
}

size_t bw_takeover_count(const struct bw_takeover_db *db)
{
	return db ? db->n : 0;
}

const struct bw_takeover *bw_takeover_at(const struct bw_takeover_db *db, size_t i)
{
	return db && i < db->n ? &db->rows[i] : NULL;
}

/* ====================================================================== */
/* CA -> CAA issuer domains                                               */

#define CAA_NORM_MAX 512

struct caa_hint {
	const char *norm;
	size_t len;
	bool prefix;
	uint32_t row;
};

struct caa_okey {
	const char *norm;
	uint32_t *rows;
	size_t nrows;
	const char **udom; /* union of the rows' domains */
	size_t nudom;
};

struct bw_caa_db {
	struct arena a;
	struct strtab st;
	struct strtab domset;
	struct bw_caa_ca *rows;
	size_t n, cap;
	struct caa_hint *hints;
	size_t nhints, hcap;
	struct caa_okey *okeys;
	size_t nokeys, okcap;
	uint32_t *okidx; /* hash: okey index + 1 */
	size_t okhash;
};

static const char *const caa_cols[] = { "ca_owner", "issuer_o_values", "example_issuer_cns",
					"caa_issuer_domains", "notes", "sources" };

/* Normalised form (see the header); -1 if it does not fit. */
static long caa_norm(const char *s, size_t n, char *out, size_t cap)
{
	size_t w = 0;
	bool sep = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_alnum(c) || c >= 0x80) {
			if (sep && w) {
				if (w + 1 >= cap)
					return -1;
				out[w++] = ' ';
			}
			sep = false;
			if (w + 1 >= cap)
				return -1;
			out[w++] = lc((char)c);
		} else {
			sep = true;
		}
	}
	if (cap)
		out[w] = '\0';
	return (long)w;
}

static int caa_add_hint(struct bw_caa_db *db, struct tsv *t, const char *s, size_t n, uint32_t row)
{
	/* a range or wildcard ("M01..M04", "03/04", "…") makes the text before it a prefix */
	size_t cut = n;
	bool prefix = false;
	for (size_t i = 0; i < n; i++) {
		if ((s[i] == '.' && i + 1 < n && s[i + 1] == '.') || s[i] == '/' ||
		    ((unsigned char)s[i] == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		     (unsigned char)s[i + 2] == 0xa6)) {
			cut = i;
			prefix = true;
			break;
		}
	}
	if (prefix) /* drop the token the range is glued to ("M01" of "M01..M04") */
		while (cut > 0 && s[cut - 1] != ' ')
			cut--;
	/* "Amazon, OU=Server CA 1B": the CN is what precedes the attribute list */
	const char *eq = memchr(s, '=', cut);
	if (eq) {
		while (eq > s && *eq != ',')
			eq--;
		cut = (size_t)(eq - s);
	}
	char buf[CAA_NORM_MAX];
	long k = caa_norm(s, cut, buf, sizeof(buf));
	if (k < 0)
		return tsv_fail(t, BW_EMALF, "issuer CN hint too long");
	if (k == 0 || (prefix && k < 4))
		return BW_OK; /* nothing usable */
	if (db->nhints == BW_CAA_MAX_HINTS)
		return tsv_fail(t, BW_ELIMIT, "more than %u issuer CN hints", BW_CAA_MAX_HINTS);
	if (db->nhints == db->hcap) {
		size_t nc = db->hcap ? db->hcap * 2 : 64;
		struct caa_hint *nh = realloc(db->hints, nc * sizeof(*nh));
		if (!nh)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		db->hints = nh;
		db->hcap = nc;
	}
	const char *d = intern(&db->st, buf, (size_t)k);
	if (!d)
		return tsv_fail(t, BW_ENOMEM, "out of memory");
	db->hints[db->nhints++] = (struct caa_hint){ d, (size_t)k, prefix, row };
	return BW_OK;
}

/* example_issuer_cns: ';'-separated, "(older: a; b)" lists more, other (...) are comments. */
static int caa_hints(struct bw_caa_db *db, struct tsv *t, struct field f, uint32_t row)
{
	const char *s = f.p, *end = f.p + f.n;
	const char *tok = s;
	int depth = 0; /* inside a comment (...) */
	int rc;
	for (const char *p = s; p <= end; p++) {
		char c = p < end ? *p : ';';
		if (depth) {
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			if (!depth)
				tok = p + 1;
			continue;
		}
		if (c == '(') {
			if ((rc = caa_add_hint(db, t, tok, (size_t)(p - tok), row)))
				return rc;
			const char *q = p + 1;
			if ((size_t)(end - q) >= 5 && strncasecmp(q, "older", 5) == 0) {
				q += 5;
				while (q < end && (*q == ':' || *q == ')' || *q == ' '))
					q++;
				p = q - 1;
				tok = q;
			} else {
				depth = 1;
			}
			continue;
		}
		if (c == ';' || c == ')') {
			if ((rc = caa_add_hint(db, t, tok, (size_t)(p - tok), row)))
				return rc;
			tok = p + 1;
		}
	}
	return BW_OK;
}

static struct caa_okey *caa_find_okey(const struct bw_caa_db *db, const char *norm, size_t n)
{
	if (!db->okhash)
		return NULL;
	for (size_t j = fnv(norm, n) & (db->okhash - 1); db->okidx[j]; j = (j + 1) & (db->okhash - 1)) {
		struct caa_okey *k = &db->okeys[db->okidx[j] - 1];
		if (strlen(k->norm) == n && memcmp(k->norm, norm, n) == 0)
			return k;
	}
	return NULL;
}

static int caa_okey_grow(struct bw_caa_db *db)
{
	size_t nc = db->okhash ? db->okhash * 2 : 64;
	uint32_t *ni = calloc(nc, sizeof(*ni));
	if (!ni)
		return BW_ENOMEM;
	for (size_t i = 0; i < db->nokeys; i++) {
		size_t j = fnv(db->okeys[i].norm, strlen(db->okeys[i].norm)) & (nc - 1);
		while (ni[j])
			j = (j + 1) & (nc - 1);
		ni[j] = (uint32_t)i + 1;
	}
	free(db->okidx);
	db->okidx = ni;
	db->okhash = nc;
	return BW_OK;
}

static int caa_add_o(struct bw_caa_db *db, struct tsv *t, const char *s, size_t n, uint32_t row)
{
	char buf[CAA_NORM_MAX];
	long k = caa_norm(s, n, buf, sizeof(buf));
	if (k < 0)
		return tsv_fail(t, BW_EMALF, "issuer O value too long");
	if (k == 0)
		return BW_OK;
	struct caa_okey *ok = caa_find_okey(db, buf, (size_t)k);
	if (!ok) {
		if ((db->nokeys + 1) * 2 > db->okhash && caa_okey_grow(db))
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		if (db->nokeys == db->okcap) {
			size_t nc = db->okcap ? db->okcap * 2 : 64;
			struct caa_okey *nk = realloc(db->okeys, nc * sizeof(*nk));
			if (!nk)
				return tsv_fail(t, BW_ENOMEM, "out of memory");
			db->okeys = nk;
			db->okcap = nc;
		}
		ok = &db->okeys[db->nokeys];
		*ok = (struct caa_okey){ .norm = intern(&db->st, buf, (size_t)k) };
		if (!ok->norm)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		size_t j = fnv(buf, (size_t)k) & (db->okhash - 1);
		while (db->okidx[j])
			j = (j + 1) & (db->okhash - 1);
		db->okidx[j] = (uint32_t)++db->nokeys;
	}
	for (size_t i = 0; i < ok->nrows; i++)
		if (ok->rows[i] == row)
			return BW_OK; /* the same O twice in one row */
	if (ok->nrows == BW_CAA_MAX_ROWS_PER_O)
		return tsv_fail(t, BW_ELIMIT, "more than %u rows list the issuer O '%s'", BW_CAA_MAX_ROWS_PER_O, ok->norm);
	uint32_t *nr = realloc(ok->rows, (ok->nrows + 1) * sizeof(*nr));
	if (!nr)
		return tsv_fail(t, BW_ENOMEM, "out of memory");
	ok->rows = nr;
	ok->rows[ok->nrows++] = row;
	const struct bw_caa_ca *ca = &db->rows[row];
	const char **nu = realloc(ok->udom, (ok->nudom + ca->ndomains) * sizeof(*nu));
	if (!nu)
		return tsv_fail(t, BW_ENOMEM, "out of memory");
	ok->udom = nu;
	for (size_t d = 0; d < ca->ndomains; d++) {
		size_t e;
		for (e = 0; e < ok->nudom; e++)
			if (ok->udom[e] == ca->domains[d]) /* interned: pointer equality */
				break;
		if (e == ok->nudom)
			ok->udom[ok->nudom++] = ca->domains[d];
	}
	return BW_OK;
}

static int caa_row(struct bw_caa_db *db, struct tsv *t, const struct field *f)
{
	const char *doms[BW_CAA_MAX_DOMAINS];
	size_t nd = 0;
	int rc;
	if (f[0].n == 0)
		return tsv_fail(t, BW_EMALF, "empty ca_owner");
	for (size_t i = 0; i < db->n; i++)
		if (strlen(db->rows[i].ca_owner) == f[0].n && memcmp(db->rows[i].ca_owner, f[0].p, f[0].n) == 0)
			return tsv_fail(t, BW_EMALF, "duplicate ca_owner '%.*s' (first at line %u)", FPR(f[0]),
					(unsigned)db->rows[i].line);
	/* domains: ", "-separated hostnames */
	const char *s = f[3].p, *end = f[3].p + f[3].n;
	if (f[3].n == 0)
		return tsv_fail(t, BW_EMALF, "empty caa_issuer_domains");
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma ? comma : end;
		while (s < e && *s == ' ')
			s++;
		while (e > s && e[-1] == ' ')
			e--;
		char buf[256];
		size_t n = (size_t)(e - s), lab = 0;
		bool ok = n > 0 && n <= 253;
		for (size_t i = 0; ok && i < n; i++) {
			char c = lc(s[i]);
			if (c == '.')
				ok = lab > 0, lab = 0;
			else
				ok = (is_alnum((unsigned char)c) || c == '-') && ++lab <= 63;
			buf[i] = c;
		}
		if (!ok || !lab)
			return tsv_fail(t, BW_EMALF, "bad CAA issuer domain '%.*s'", (int)BW_MIN(n, 80), s);
		if (nd == BW_CAA_MAX_DOMAINS)
			return tsv_fail(t, BW_ELIMIT, "more than %u CAA issuer domains", BW_CAA_MAX_DOMAINS);
		const char *d = intern(&db->domset, buf, n);
		if (!d)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		for (size_t i = 0; i < nd; i++)
			if (doms[i] == d)
				return tsv_fail(t, BW_EMALF, "duplicate CAA issuer domain '%s'", d);
		doms[nd++] = d;
		if (!comma)
			break;
		s = comma + 1;
	}
	if (db->n == BW_CAA_MAX_ROWS)
		return tsv_fail(t, BW_ELIMIT, "more than %u rows", BW_CAA_MAX_ROWS);
	if (db->n == db->cap) {
		size_t nc = db->cap ? db->cap * 2 : 64;
		struct bw_caa_ca *nr = realloc(db->rows, nc * sizeof(*nr));
		if (!nr)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		db->rows = nr;
		db->cap = nc;
	}
	struct bw_caa_ca *ca = &db->rows[db->n];
	const char **darr = arena_alloc(&db->a, nd * sizeof(*darr));
	*ca = (struct bw_caa_ca){ .ca_owner = intern(&db->st, f[0].p, f[0].n),
				  .notes = intern(&db->st, f[4].p, f[4].n),
				  .sources = intern(&db->st, f[5].p, f[5].n),
				  .domains = darr,
				  .ndomains = nd,
				  .line = t->line };
	if (!ca->ca_owner || !ca->notes || !ca->sources || !darr)
		return tsv_fail(t, BW_ENOMEM, "out of memory");
	memcpy(darr, doms, nd * sizeof(*darr));
	uint32_t row = (uint32_t)db->n++;

	/* issuer O values; a row without any is keyed by its owner name ("X (CCADB owner string)") */
	if (f[1].n == 0) {
		static const char sfx[] = " (CCADB owner string)";
		size_t n = f[0].n;
		if (n > sizeof(sfx) - 1 && memcmp(f[0].p + n - (sizeof(sfx) - 1), sfx, sizeof(sfx) - 1) == 0)
			n -= sizeof(sfx) - 1;
		if ((rc = caa_add_o(db, t, f[0].p, n, row)))
			return rc;
	} else {
		s = f[1].p;
		end = f[1].p + f[1].n;
		for (;;) {
			const char *semi = memchr(s, ';', (size_t)(end - s));
			const char *e = semi ? semi : end;
			if ((rc = caa_add_o(db, t, s, (size_t)(e - s), row)))
				return rc;
			if (!semi)
				break;
			s = semi + 1;
		}
	}
	return caa_hints(db, t, f[2], row);
}

void bw_caa_free(struct bw_caa_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->nokeys; i++) {
		free(db->okeys[i].rows);
		free(db->okeys[i].udom);
	}
	free(db->okeys);
	free(db->okidx);
	free(db->hints);
	free(db->rows);
	free(db->st.slot);
	free(db->domset.slot);
	arena_free(&db->a);
	free(db);
}

int bw_caa_load_buffer(const char *name, const char *buf, size_t len, struct bw_caa_db **out, char *err,
		       size_t errcap)
{
	struct tsv t = { .name = name, .p = buf, .end = buf + len, .err = err, .errcap = errcap };
	struct field f[BW_ARRAY_SIZE(caa_cols)];
	const char *s;
	size_t n;
	int rc;
	*out = NULL;
	if (err && errcap)
		err[0] = '\0';
	if (len > BW_CAA_MAX_FILE)
		return tsv_fail(&t, BW_ELIMIT, "more than %u bytes", BW_CAA_MAX_FILE);
	struct bw_caa_db *db = calloc(1, sizeof(*db));
	if (!db)
		return tsv_fail(&t, BW_ENOMEM, "out of memory");
	db->st.a = &db->a;
	db->domset.a = &db->a;
	if ((rc = tsv_header(&t, caa_cols, BW_ARRAY_SIZE(caa_cols))))
		goto fail;
	while ((rc = tsv_next(&t, &s, &n, false)) == 1)
		if ((rc = tsv_split(&t, s, n, f, BW_ARRAY_SIZE(f))) || (rc = caa_row(db, &t, f)))
			goto fail;
	if (rc < 0)
		goto fail;
	*out = db;
	return BW_OK;
fail:
	bw_caa_free(db);
	return rc;
}

int bw_caa_load(const char *path, struct bw_caa_db **out, char *err, size_t errcap)
{
	char *buf;
	size_t len;
	*out = NULL;
	int rc = read_file(path, BW_CAA_MAX_FILE, &buf, &len, err, errcap);
	if (rc)
		return rc;
	rc = bw_caa_load_buffer(path, buf, len, out, err, errcap);
	free(buf);
	return rc;
}

/* Best hint for a normalised CN among rows (all rows if rows == NULL); -1 if none. */
static long caa_best_hint(const struct bw_caa_db *db, const char *cn, size_t cn_len, const uint32_t *rows,
			  size_t nrows)
{
	long best = -1;
	size_t best_score = 0;
	for (size_t i = 0; i < db->nhints; i++) {
		const struct caa_hint *h = &db->hints[i];
		if (rows) {
			size_t k;
			for (k = 0; k < nrows && rows[k] != h->row; k++)
				;
			if (k == nrows)
				continue;
		}
		bool ok = h->prefix ? h->len <= cn_len && memcmp(h->norm, cn, h->len) == 0 &&
					      (h->len == cn_len || cn[h->len] == ' ')
				    : h->len == cn_len && memcmp(h->norm, cn, cn_len) == 0;
		if (!ok)
			continue;
		size_t score = h->len + (h->prefix ? 0 : 10000);
		if (best < 0 || score > best_score) {
			best = (long)h->row;
			best_score = score;
		}
	}
	return best;
}

/* Row index, or -1; *ok set to the O key when it alone decides (union case). */
static long caa_pick(const struct bw_caa_db *db, const char *o, const char *cn, const struct caa_okey **okp)
{
	char on[CAA_NORM_MAX], cnn[CAA_NORM_MAX];
	long cl = cn ? caa_norm(cn, strlen(cn), cnn, sizeof(cnn)) : -1;
	*okp = NULL;
	if (o) {
		long ol = caa_norm(o, strlen(o), on, sizeof(on));
		const struct caa_okey *ok = ol > 0 ? caa_find_okey(db, on, (size_t)ol) : NULL;
		if (ok) {
			if (ok->nrows == 1)
				return ok->rows[0];
			long r = cl > 0 ? caa_best_hint(db, cnn, (size_t)cl, ok->rows, ok->nrows) : -1;
			if (r >= 0)
				return r;
			*okp = ok;
			return -1;
		}
	}
	if (cl > 0)
		return caa_best_hint(db, cnn, (size_t)cl, NULL, 0);
	return -1;
}

int bw_caa_issuer_domains_for(const struct bw_caa_db *db, const char *issuer_o, const char *issuer_cn,
			      const char *const **domains, size_t *n)
{
	*domains = NULL;
	*n = 0;
	if (!db)
		return BW_ENOENT;
	const struct caa_okey *ok;
	long r = caa_pick(db, issuer_o, issuer_cn, &ok);
	if (r >= 0) {
		*domains = db->rows[r].domains;
		*n = db->rows[r].ndomains;
		return BW_OK;
	}
	if (ok) {
		*domains = ok->udom;
		*n = ok->nudom;
		return BW_OK;
	}
	return BW_ENOENT;
}

const struct bw_caa_ca *bw_caa_issuer_for(const struct bw_caa_db *db, const char *issuer_o,
					  const char *issuer_cn)
{
	const struct caa_okey *ok;
	long r = db ? caa_pick(db, issuer_o, issuer_cn, &ok) : -1;
	return r >= 0 ? &db->rows[r] : NULL;
}

bool bw_caa_domain_known(const struct bw_caa_db *db, const char *domain)
{
	char b[256];
	if (!db || !domain)
		return false;
	size_t n = strlen(domain);
	if (n && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(b))
		return false;
	for (size_t i = 0; i < n; i++)
		b[i] = lc(domain[i]);
	return strtab_has(&db->domset, b, n);
}

size_t bw_caa_count(const struct bw_caa_db *db)
{
	return db ? db->n : 0;
}

const struct bw_caa_ca *bw_caa_at(const struct bw_caa_db *db, size_t i)
{
	return db && i < db->n ? &db->rows[i] : NULL;
}

/* ====================================================================== */
/* Cloud ranges                                                           */

#define CLOUD_MAX_PER_PREFIX 256

struct cloud_group {
	uint32_t first, n;
};

struct bw_cloud_db {
	struct arena a;
	struct strtab st;
	struct bw_cloud_range *rows;
	uint8_t *rank;
	size_t n, cap;
	struct cloud_group *groups;
	size_t ngroups;
	struct bw_lpm *lpm;
};

static const char *const cloud_cols[] = { "prefix", "provider", "service", "region", "extra",
					  "source_file", "source_date" };

/* Lower ranks first among rows of one prefix (see bw_cloud_lookup in the header). */
static uint8_t cloud_rank(const struct bw_cloud_range *r)
{
	unsigned tier = 0;
	if ((!strcmp(r->provider, "AWS") && !strcmp(r->service, "AMAZON")) ||
	    (!strcmp(r->provider, "Azure") && !strncmp(r->service, "AzureCloud", 10) &&
	     (r->service[10] == '\0' || r->service[10] == '.')) ||
	    (!strcmp(r->provider, "Google") && !strncmp(r->service, "goog.json", 9)))
		tier = 2;
	else if (!strcmp(r->provider, "AWS") && !strcmp(r->service, "EC2"))
		tier = 1;
	return (uint8_t)(tier * 2 + (r->region[0] == '\0'));
}

static int cloud_prefix(struct tsv *t, struct field f, struct bw_cloud_range *r)
{
	char tmp[64];
	const char *slash = memchr(f.p, '/', f.n);
	if (!slash || slash == f.p || (size_t)(slash - f.p) >= sizeof(tmp))
		return tsv_fail(t, BW_EMALF, "bad prefix '%.*s'", FPR(f));
	size_t an = (size_t)(slash - f.p);
	memcpy(tmp, f.p, an);
	tmp[an] = '\0';
	bool v6 = memchr(tmp, ':', an) != NULL;
	memset(r->addr, 0, sizeof(r->addr));
	if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, r->addr) != 1)
		return tsv_fail(t, BW_EMALF, "bad prefix '%.*s': bad address", FPR(f));
	unsigned bits = v6 ? 128 : 32, plen = 0;
	size_t dn = f.n - an - 1;
	const char *d = slash + 1;
	if (dn == 0 || dn > 3)
		return tsv_fail(t, BW_EMALF, "bad prefix '%.*s': bad length", FPR(f));
	for (size_t i = 0; i < dn; i++) {
		if (d[i] < '0' || d[i] > '9')
			return tsv_fail(t, BW_EMALF, "bad prefix '%.*s': bad length", FPR(f));
		plen = plen * 10 + (unsigned)(d[i] - '0');
	}
	if (plen > bits)
		return tsv_fail(t, BW_EMALF, "bad prefix '%.*s': length over %u", FPR(f), bits);
	for (unsigned b = plen; b < bits; b++)
		if (r->addr[b / 8] & (0x80u >> (b % 8)))
			return tsv_fail(t, BW_EMALF, "bad prefix '%.*s': host bits set", FPR(f));
	r->family = v6 ? 6 : 4;
	r->plen = (uint8_t)plen;
	return BW_OK;
}

static int cloud_row(struct bw_cloud_db *db, struct tsv *t, const struct field *f)
{
	struct bw_cloud_range r = { .line = t->line };
	int rc = cloud_prefix(t, f[0], &r);
	if (rc)
		return rc;
	if (f[1].n == 0)
		return tsv_fail(t, BW_EMALF, "empty provider");
	if (db->n == BW_CLOUD_MAX_ROWS)
		return tsv_fail(t, BW_ELIMIT, "more than %u rows", BW_CLOUD_MAX_ROWS);
	if (db->n == db->cap) {
		size_t nc = db->cap ? db->cap * 2 : 4096;
		struct bw_cloud_range *nr = realloc(db->rows, nc * sizeof(*nr));
		if (!nr)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		db->rows = nr;
		uint8_t *nk = realloc(db->rank, nc);
		if (!nk)
			return tsv_fail(t, BW_ENOMEM, "out of memory");
		db->rank = nk;
		db->cap = nc;
	}
	const char **dst[] = { &r.provider, &r.service, &r.region, &r.extra, &r.source_file, &r.source_date };
	for (size_t k = 0; k < BW_ARRAY_SIZE(dst); k++)
		if (!(*dst[k] = intern(&db->st, f[k + 1].p, f[k + 1].n)))
			return tsv_fail(t, BW_ENOMEM, "out of memory");
	db->rows[db->n] = r;
	db->rank[db->n] = cloud_rank(&r);
	db->n++;
	return BW_OK;
}

/* The sort key is copied in, so qsort needs no context pointer. */
struct cloud_sort {
	uint8_t addr[16];
	uint8_t family, plen, rank;
	uint32_t line, row;
};

static int cloud_cmp(const void *pa, const void *pb)
{
	const struct cloud_sort *a = pa, *b = pb;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

static bool same_prefix(const struct bw_cloud_range *a, const struct bw_cloud_range *b)
{
	return a->family == b->family && a->plen == b->plen && memcmp(a->addr, b->addr, 16) == 0;
}

static int cloud_index(struct bw_cloud_db *db, struct tsv *t)
{
	struct cloud_sort *ord = malloc((db->n ? db->n : 1) * sizeof(*ord));
	struct bw_cloud_range *sorted = malloc((db->n ? db->n : 1) * sizeof(*sorted));
	struct bw_lpm_builder *b = NULL;
	int rc = BW_ENOMEM;
	if (!ord || !sorted)
		goto out;
	for (size_t i = 0; i < db->n; i++) {
		const struct bw_cloud_range *r = &db->rows[i];
		ord[i] = (struct cloud_sort){ .family = r->family, .plen = r->plen, .rank = db->rank[i],
					      .line = r->line, .row = (uint32_t)i };
		memcpy(ord[i].addr, r->addr, 16);
	}
	qsort(ord, db->n, sizeof(*ord), cloud_cmp);
	for (size_t i = 0; i < db->n; i++)
		sorted[i] = db->rows[ord[i].row];
	free(db->rows);
	db->rows = sorted;
	sorted = NULL;

	db->groups = malloc((db->n ? db->n : 1) * sizeof(*db->groups));
	if (!db->groups || bw_lpm_builder_new(&b, db->n))
		goto out;
	for (size_t i = 0; i < db->n;) {
		size_t j = i + 1;
		while (j < db->n && same_prefix(&db->rows[i], &db->rows[j]))
			j++;
		if (j - i > CLOUD_MAX_PER_PREFIX) {
			t->line = db->rows[i + CLOUD_MAX_PER_PREFIX].line;
			rc = tsv_fail(t, BW_ELIMIT, "more than %u rows for one prefix", CLOUD_MAX_PER_PREFIX);
			goto out;
		}
		for (size_t x = i; x < j; x++)
			for (size_t y = x + 1; y < j; y++) {
				const struct bw_cloud_range *p = &db->rows[x], *q = &db->rows[y];
				if (p->provider == q->provider && p->service == q->service && p->region == q->region) {
					t->line = BW_MAX(p->line, q->line);
					rc = tsv_fail(t, BW_EMALF, "duplicate row (same prefix, provider, service and region as line %u)",
						      (unsigned)BW_MIN(p->line, q->line));
					goto out;
				}
			}
		db->groups[db->ngroups] = (struct cloud_group){ (uint32_t)i, (uint32_t)(j - i) };
		if ((rc = bw_lpm_add(b, db->rows[i].family, db->rows[i].addr, db->rows[i].plen,
				     (uint32_t)db->ngroups)))
			goto out;
		db->ngroups++;
		i = j;
	}
	rc = bw_lpm_build(b, &db->lpm, NULL);
out:
	if (rc == BW_ENOMEM)
		tsv_fail(t, rc, "out of memory");
	bw_lpm_builder_free(b);
	free(ord);
	free(sorted);
	free(db->rank);
	db->rank = NULL;
	return rc;
}

void bw_cloud_free(struct bw_cloud_db *db)
{
	if (!db)
		return;
	free(db->rows);
	free(db->rank);
	free(db->groups);
	bw_lpm_free(db->lpm);
	free(db->st.slot);
	arena_free(&db->a);
	free(db);
}

int bw_cloud_load_buffer(const char *name, const char *buf, size_t len, struct bw_cloud_db **out,
			 char *err, size_t errcap)
{
	struct tsv t = { .name = name, .p = buf, .end = buf + len, .err = err, .errcap = errcap };
	struct field f[BW_ARRAY_SIZE(cloud_cols)];
	const char *s;
	size_t n;
	int rc;
	*out = NULL;
	if (err && errcap)
		err[0] = '\0';
	if (len > BW_CLOUD_MAX_FILE)
		return tsv_fail(&t, BW_ELIMIT, "more than %u bytes", BW_CLOUD_MAX_FILE);
	struct bw_cloud_db *db = calloc(1, sizeof(*db));
	if (!db)
		return tsv_fail(&t, BW_ENOMEM, "out of memory");
	db->st.a = &db->a;
	if ((rc = tsv_header(&t, cloud_cols, BW_ARRAY_SIZE(cloud_cols))))
		goto fail;
	while ((rc = tsv_next(&t, &s, &n, false)) == 1)
		if ((rc = tsv_split(&t, s, n, f, BW_ARRAY_SIZE(f))) || (rc = cloud_row(db, &t, f)))
			goto fail;
	if (rc < 0 || (rc = cloud_index(db, &t)))
		goto fail;
	*out = db;
	return BW_OK;
fail:
	bw_cloud_free(db);
	return rc;
}

int bw_cloud_load(const char *path, struct bw_cloud_db **out, char *err, size_t errcap)
{
	char *buf;
	size_t len;
	*out = NULL;
	int rc = read_file(path, BW_CLOUD_MAX_FILE, &buf, &len, err, errcap);
	if (rc)
		return rc;
	rc = bw_cloud_load_buffer(path, buf, len, out, err, errcap);
	free(buf);
	return rc;
}

const struct bw_cloud_range *bw_cloud_lookup(const struct bw_cloud_db *db, const struct bw_ip *ip)
{
	if (!db || !ip || !db->lpm)
		return NULL;
	uint32_t g = bw_lpm_lookup(db->lpm, ip, NULL);
	return g == BW_LPM_NONE ? NULL : &db->rows[db->groups[g].first];
}

size_t bw_cloud_lookup_all(const struct bw_cloud_db *db, const struct bw_ip *ip,
			   const struct bw_cloud_range **out, size_t cap)
{
	uint32_t gs[129];
	size_t w = 0;
	if (!db || !ip || !db->lpm)
		return 0;
	size_t ng = bw_lpm_lookup_all(db->lpm, ip, gs, BW_ARRAY_SIZE(gs));
	for (size_t k = 0; k < ng; k++)
		for (uint32_t i = 0; i < db->groups[gs[k]].n && w < cap; i++)
			out[w++] = &db->rows[db->groups[gs[k]].first + i];
	return w;
}

size_t bw_cloud_count(const struct bw_cloud_db *db)
{
	return db ? db->n : 0;
}

size_t bw_cloud_prefixes(const struct bw_cloud_db *db)
{
	return db ? db->ngroups : 0;
}

size_t bw_cloud_memory(const struct bw_cloud_db *db)
{
	if (!db)
		return 0;
	return sizeof(*db) + db->a.bytes + db->st.cap * sizeof(*db->st.slot) + db->n * sizeof(*db->rows) +
	       db->ngroups * sizeof(*db->groups) + (db->lpm ? bw_lpm_memory(db->lpm) : 0);
}
