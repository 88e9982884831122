/* SPDX-License-Identifier: MIT */
/*
 * policy.c: load the owner's policy file. libyaml's event parser feeds a
 * small tree of our own (scalars, lists, mappings, each with its line and
 * column), built with hard bounds on nodes and depth and with anchors,
 * aliases and tags refused, so no YAML trick can make the load expensive.
 * A schema walk then checks every key and value in document order and stops
 * at the first mistake with a "FILE:LINE:COL: message" that says what is
 * wrong and, where it can, what was meant. The result is one immutable
 * struct whose strings live in one arena: a reload builds a new policy and
 * swaps a pointer, and freeing is one walk of the arena.
 */
#define _GNU_SOURCE
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "alerts.h"

/* --- arena: every string and array of a policy, freed at once --- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

#define CHUNK_SIZE 65536

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (!a->head || a->head->cap - a->head->used < n) {
		size_t cap = BW_MAX(n, (size_t)CHUNK_SIZE);
		struct chunk *ch = malloc(sizeof(*ch) + cap);
		if (!ch)
			return NULL;
		ch->used = 0;
		ch->cap = cap;
		ch->next = a->head;
		a->head = ch;
	}
	void *p = (unsigned char *)a->head->data + a->head->used;
	a->head->used += n;
	return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = 0;
	}
	return p;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct chunk *n = a->head->next;
		free(a->head);
		a->head = n;
	}
}

/* --- the policy behind the public struct --- */

struct policy {
	struct bw_policy pub; /* first: bw_policy_free casts back */
	struct arena arena;
	struct bw_nameset *domains, *issuers;
	struct bw_cidrset *networks, *cloud_addrs, *xfer;
	struct bw_namepat *cloud_names;
	struct bw_namepat **pats; /* of pins and ignore rules */
	size_t n_pats, cap_pats;
	size_t ign_first[BW_AL__COUNT]; /* index of the first rule of each type, or SIZE_MAX */
	size_t *ign_next;		/* index of the next rule of the same type, or SIZE_MAX */
};

/* --- alert types: alerts.h's list, read here without linking the alert module --- */

static const char *const alert_names[BW_AL__COUNT + 1] = {
#define ALERT_NAME(id, name, sev, desc) [BW_AL_##id] = name,
	BW_ALERT_LIST(ALERT_NAME)
#undef ALERT_NAME
		[BW_AL__COUNT] = NULL, /* closest() reads to here */
};

static int alert_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < BW_AL__COUNT; i++)
		if (strcmp(alert_names[i], name) == 0)
			return i;
	return -1;
}

/* --- the YAML tree --- */

enum { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	uint8_t kind;
	bool plain;	    /* a plain (unquoted) scalar */
	uint32_t line, col; /* 1-based */
	uint32_t n;	    /* Y_SEQ: items; Y_MAP: keys and values, alternating */
	size_t len;
	const char *str; /* Y_SCALAR, NUL-terminated (may hold NULs: see len) */
	struct ynode **kids;
};

struct ctx {
	const char *name; /* file name in messages */
	const char *base_dir;
	char *err;
	size_t errcap;
	struct arena tree; /* the ynodes; freed after the load */
	size_t nodes;
	struct policy *pol;
	char quoted[4][200]; /* rotating buffers for values quoted in messages */
	unsigned qi;
	char why[120]; /* name_problem's reason */
};

static int fail_at(struct ctx *c, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail_at(struct ctx *c, unsigned line, unsigned col, const char *fmt, ...)
{
	if (c->err && c->errcap) {
		int k = snprintf(c->err, c->errcap, "%s:%u:%u: ", c->name, line, col);
		if (k >= 0 && (size_t)k < c->errcap) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(c->err + k, c->errcap - (size_t)k, fmt, ap);
			va_end(ap);
		}
	}
	return BW_EINVAL;
}

#define FAIL(c, node, ...) fail_at((c), (node)->line, (node)->col, __VA_ARGS__)

/* A value for a message: printable ASCII as is, other bytes as \xNN, long values cut. */
static const char *q(struct ctx *c, const char *s, size_t len)
{
	char *out = c->quoted[c->qi++ & 3];
	size_t w = 0, cap = sizeof(c->quoted[0]);
	for (size_t i = 0; i < len; i++) {
		if (w + 8 >= cap - 4) {
			memcpy(out + w, "...", 4);
			return out;
		}
		uint8_t ch = (uint8_t)s[i];
		if (ch >= 0x20 && ch < 0x7f)
			out[w++] = (char)ch;
		else
			w += (size_t)snprintf(out + w, cap - w, "\\x%02x", ch);
	}
	out[w] = 0;
	return out;
}

#define QN(c, node) q((c), (node)->str, (node)->len)

static const char *kind_name(const struct ynode *v)
{
	return v->kind == Y_MAP ? "a mapping" : v->kind == Y_SEQ ? "a list" : "a scalar";
}

static bool is_null(const struct ynode *v)
{
	if (!v || v->kind != Y_SCALAR || !v->plain)
		return false;
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	for (size_t i = 0; i < BW_ARRAY_SIZE(nulls); i++)
		if (strcmp(v->str, nulls[i]) == 0 && v->len == strlen(nulls[i]))
			return true;
	return false;
}

static const char *article(const char *word) { return strchr("aeiou", word[0]) ? "an" : "a"; }

/* libyaml counts columns in characters; for reader errors only a byte offset is known. */
static void offset_pos(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((uint8_t)text[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int yaml_fail(struct ctx *c, const yaml_parser_t *ps, const char *text, size_t len)
{
	const char *problem = ps->problem ? ps->problem : "unknown error";
	switch (ps->error) {
	case YAML_MEMORY_ERROR:
		if (c->err && c->errcap)
			snprintf(c->err, c->errcap, "%s: out of memory", c->name);
		return BW_ENOMEM;
	case YAML_READER_ERROR: {
		unsigned line, col;
		offset_pos(text, len, ps->problem_offset, &line, &col);
		if (ps->problem_value >= 0)
			return fail_at(c, line, col, "not YAML text: %s (byte 0x%02x)", problem,
				       (unsigned)ps->problem_value & 0xff);
		return fail_at(c, line, col, "not YAML text: %s", problem);
	}
	default: {
		unsigned line = (unsigned)ps->problem_mark.line + 1, col = (unsigned)ps->problem_mark.column + 1;
		if (ps->context)
			return fail_at(c, line, col, "YAML syntax error: %s (%s at line %u, column %u)", problem,
				       ps->context, (unsigned)ps->context_mark.line + 1,
				       (unsigned)ps->context_mark.column + 1);
		return fail_at(c, line, col, "YAML syntax error: %s", problem);
	}
	}
}

struct frame {
	struct ynode *node;
	struct ynode **v;
	size_t n, cap;
};

static int push_kid(struct frame *f, struct ynode *kid)
{
	if (f->n == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 8;
		struct ynode **nv = realloc(f->v, nc * sizeof(*nv));
		if (!nv)
			return BW_ENOMEM;
		f->v = nv;
		f->cap = nc;
	}
	f->v[f->n++] = kid;
	return BW_OK;
}

static int open_node(struct ctx *c, const yaml_event_t *ev, struct frame *st, size_t *depth, struct ynode **root)
{
	unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
	const yaml_char_t *anchor, *tag;
	if (ev->type == YAML_SCALAR_EVENT) {
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	} else {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	}
	if (anchor)
		return fail_at(c, line, col, "YAML anchors are not allowed ('&%s'); write the value out in full",
			       q(c, (const char *)anchor, strlen((const char *)anchor)));
	if (tag)
		return fail_at(c, line, col, "YAML tags are not allowed ('%s')",
			       q(c, (const char *)tag, strlen((const char *)tag)));
	if (++c->nodes > BW_POLICY_MAX_NODES)
		return fail_at(c, line, col, "more than %u YAML nodes", BW_POLICY_MAX_NODES);
	struct ynode *n = arena_alloc(&c->tree, sizeof(*n));
	if (!n)
		return BW_ENOMEM;
	memset(n, 0, sizeof(*n));
	n->line = line;
	n->col = col;
	if (ev->type == YAML_SCALAR_EVENT) {
		n->kind = Y_SCALAR;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->len = ev->data.scalar.length;
		n->str = arena_strndup(&c->tree, (const char *)ev->data.scalar.value, n->len);
		if (!n->str)
			return BW_ENOMEM;
	} else {
		n->kind = ev->type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP;
	}
	if (*depth == 0) {
		*root = n;
	} else if (push_kid(&st[*depth - 1], n) != BW_OK) {
		return BW_ENOMEM;
	}
	if (n->kind != Y_SCALAR) {
		if (*depth == BW_POLICY_MAX_DEPTH)
			return fail_at(c, line, col, "lists and mappings nested deeper than %u levels",
				       BW_POLICY_MAX_DEPTH);
		st[(*depth)++] = (struct frame){.node = n};
	}
	return BW_OK;
}

static int close_node(struct ctx *c, struct frame *st, size_t *depth)
{
	if (*depth == 0)
		return BW_OK; /* libyaml pairs its events; nothing to close */
	struct frame *f = &st[--(*depth)];
	if (f->n) {
		f->node->kids = arena_alloc(&c->tree, f->n * sizeof(*f->node->kids));
		if (!f->node->kids) {
			free(f->v);
			return BW_ENOMEM;
		}
		memcpy(f->node->kids, f->v, f->n * sizeof(*f->v));
	}
	f->node->n = (uint32_t)f->n;
	free(f->v);
	f->v = NULL;
	return BW_OK;
}

static int build_tree(struct ctx *c, const char *text, size_t len, struct ynode **root)
{
	yaml_parser_t ps;
	yaml_event_t ev;
	struct frame st[BW_POLICY_MAX_DEPTH];
	size_t depth = 0;
	unsigned docs = 0;
	int rc = BW_OK;
	*root = NULL;
	if (!yaml_parser_initialize(&ps))
		return BW_ENOMEM;
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	for (bool done = false; !done && rc == BW_OK;) {
		if (!yaml_parser_parse(&ps, &ev)) {
			rc = yaml_fail(c, &ps, text, len);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = true; break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = fail_at(c, (unsigned)ev.start_mark.line + 1, (unsigned)ev.start_mark.column + 1,
					     "a second YAML document starts here; a policy is one document");
			break;
		case YAML_ALIAS_EVENT:
			rc = fail_at(
				c, (unsigned)ev.start_mark.line + 1, (unsigned)ev.start_mark.column + 1,
				"YAML aliases are not allowed ('*%s'); write the value out in full",
				q(c, (const char *)ev.data.alias.anchor, strlen((const char *)ev.data.alias.anchor)));
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: rc = open_node(c, &ev, st, &depth, root); break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: rc = close_node(c, st, &depth); break;
		default: break;
		}
		yaml_event_delete(&ev);
	}
	for (size_t i = 0; i < depth; i++)
		free(st[i].v);
	yaml_parser_delete(&ps);
	return rc;
}

/* --- mappings: known keys, unknown keys with suggestions, duplicates --- */

struct section {
	const char *where; /* "in 'owned'": for messages */
	const char *home;  /* "under 'owned'": where its keys belong; NULL for list entries */
	const char *const *keys;
};

static const char *const top_keys[] = {"owned", "certificates", "dns", "alerts", "data", "outputs", NULL};
static const char *const owned_keys[] = {"domains", "networks", "cloud_resources", "zones", NULL};
static const char *const cert_keys[] = {
	"expiry_warning_days", "allowed_issuers", "extra_ca_files", "pins", "fetch", NULL};
static const char *const pin_keys[] = {"names", "spki_sha256", NULL};
static const char *const fetch_keys[] = {"enabled",	   "source_address",  "refresh_seconds",
					 "max_per_minute", "timeout_seconds", "max_concurrent", NULL};
static const char *const dns_keys[] = {"allowed_transfer_clients", NULL};
static const char *const alerts_keys[] = {"suppress_seconds", "ignore", "rate_limit_per_minute", "rate_limit_burst",
					  NULL};
static const char *const ignore_keys[] = {"type", "names", NULL};
static const char *const data_keys[] = {"takeover_services", "cloud_ranges", "caa_issuers", NULL};

static const struct section sec_top = {"at the top level", "at the top level", top_keys};
static const struct section sec_owned = {"in 'owned'", "under 'owned'", owned_keys};
static const struct section sec_cert = {"in 'certificates'", "under 'certificates'", cert_keys};
static const struct section sec_pin = {"in a 'pins' entry", NULL, pin_keys};
static const struct section sec_fetch = {"in 'fetch'", "under 'certificates.fetch'", fetch_keys};
static const struct section sec_dns = {"in 'dns'", "under 'dns'", dns_keys};
static const struct section sec_alerts = {"in 'alerts'", "under 'alerts'", alerts_keys};
static const struct section sec_ignore = {"in an 'ignore' entry", NULL, ignore_keys};
static const struct section sec_data = {"in 'data'", "under 'data'", data_keys};

static const struct section *const all_sections[] = {&sec_top, &sec_owned,  &sec_cert, &sec_fetch,
						     &sec_dns, &sec_alerts, &sec_data};

/* Optimal string alignment distance (a swap of two neighbours costs 1), for short words. */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 40 || lb > 40)
		return 99;
	unsigned d[41][41];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned v = BW_MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);
			v = BW_MIN(v, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
				v = BW_MIN(v, d[i - 2][j - 2] + 1);
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The closest of words to w, if close enough to be a typo; NULL otherwise. */
static const char *closest(const char *w, const char *const *words)
{
	const char *best = NULL;
	unsigned bd = 3;
	size_t wl = strlen(w);
	for (size_t i = 0; words[i]; i++) {
		unsigned d = edit_distance(w, words[i]);
		if (d < bd && d < wl) {
			bd = d;
			best = words[i];
		}
	}
	return best;
}

static int unknown_key(struct ctx *c, const struct ynode *k, const struct section *sec)
{
	const char *name = QN(c, k);
	const char *near = strlen(k->str) == k->len ? closest(k->str, sec->keys) : NULL;
	if (near)
		return FAIL(c, k, "unknown key '%s' %s (did you mean '%s'?)", name, sec->where, near);
	for (size_t s = 0; s < BW_ARRAY_SIZE(all_sections); s++) {
		if (all_sections[s] == sec)
			continue;
		for (size_t i = 0; all_sections[s]->keys[i]; i++)
			if (strcmp(all_sections[s]->keys[i], k->str) == 0 && k->len == strlen(k->str))
				return FAIL(c, k, "unknown key '%s' %s (it belongs %s)", name, sec->where,
					    all_sections[s]->home);
	}
	return FAIL(c, k, "unknown key '%s' %s", name, sec->where);
}

typedef int (*key_fn)(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v);

static int walk_map(struct ctx *c, const struct ynode *map, const struct section *sec, key_fn fn, void *arg)
{
	const struct ynode *seen[8] = {0};
	for (uint32_t i = 0; i + 1 < map->n; i += 2) {
		const struct ynode *k = map->kids[i], *v = map->kids[i + 1];
		if (k->kind != Y_SCALAR)
			return FAIL(c, k, "expected a string as a key %s, got %s", sec->where, kind_name(k));
		int idx = -1;
		for (int j = 0; sec->keys[j]; j++)
			if (strcmp(sec->keys[j], k->str) == 0 && k->len == strlen(k->str))
				idx = j;
		if (idx < 0)
			return unknown_key(c, k, sec);
		if (seen[idx])
			return FAIL(c, k, "duplicate key '%s' %s (first at line %u, column %u)", sec->keys[idx],
				    sec->where, seen[idx]->line, seen[idx]->col);
		seen[idx] = k;
		int rc = fn(c, arg, idx, k, v);
		if (rc != BW_OK)
			return rc;
	}
	return BW_OK;
}

/* A mapping value: true to walk it, false for null (absent); errors otherwise. */
static int want_map(struct ctx *c, const struct ynode *k, const struct ynode *v, const char *what)
{
	if (is_null(v))
		return 0;
	if (v->kind != Y_MAP)
		return FAIL(c, k, "expected a mapping for '%s', got %s", what, kind_name(v));
	return 1;
}

/* --- scalar values --- */

static int get_uint(struct ctx *c, const struct ynode *k, const struct ynode *v, uint32_t min, uint32_t max,
		    uint32_t *out)
{
	if (v->kind != Y_SCALAR)
		return FAIL(c, k, "expected a number for '%s', got %s", k->str, kind_name(v));
	if (is_null(v))
		return FAIL(c, k, "'%s' has no value", k->str);
	if (!v->plain)
		return FAIL(c, v, "expected a number for '%s', got the quoted string '%s'", k->str, QN(c, v));
	const char *s = v->str;
	size_t i = 0, len = v->len;
	bool neg = false;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return FAIL(c, v, "'%s' must be a whole number, got '%s'", k->str, QN(c, v));
	for (size_t j = i; j < len; j++)
		if (s[j] < '0' || s[j] > '9')
			return FAIL(c, v, "'%s' must be a whole number, got '%s'", k->str, QN(c, v));
	/* YAML 1.1 reads 010 as octal 8: refuse the ambiguity rather than guess. */
	if (len - i > 1 && s[i] == '0')
		return FAIL(c, v, "'%s' has a leading zero ('%s'); write the number without it", k->str, QN(c, v));
	uint64_t val = 0;
	for (size_t j = i; j < len; j++) {
		val = val * 10 + (uint64_t)(s[j] - '0');
		if (val > UINT32_MAX)
			break;
	}
	if (neg && val != 0)
		return FAIL(c, v, "'%s' must be between %u and %u, got %s", k->str, min, max, QN(c, v));
	if (val < min || val > max)
		return FAIL(c, v, "'%s' must be between %u and %u, got %s", k->str, min, max, QN(c, v));
	*out = (uint32_t)val;
	return BW_OK;
}

static int get_bool(struct ctx *c, const struct ynode *k, const struct ynode *v, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False", "FALSE"};
	if (v->kind != Y_SCALAR)
		return FAIL(c, k, "expected true or false for '%s', got %s", k->str, kind_name(v));
	if (is_null(v))
		return FAIL(c, k, "'%s' has no value", k->str);
	if (!v->plain)
		return FAIL(c, v, "expected true or false for '%s', got the quoted string '%s'", k->str, QN(c, v));
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(v->str, yes[i]) == 0) {
			*out = true;
			return BW_OK;
		}
		if (strcmp(v->str, no[i]) == 0) {
			*out = false;
			return BW_OK;
		}
	}
	return FAIL(c, v, "'%s' must be true or false, got '%s'", k->str, QN(c, v));
}

/*
 * The text of a string-valued scalar: a key's value (entry NULL) or a list
 * entry of key. Non-empty, no NUL bytes, bounded.
 */
static int get_string(struct ctx *c, const struct ynode *k, const struct ynode *v, bool entry, const char **out)
{
	const char *key = k->str;
	if (v->kind != Y_SCALAR) {
		if (entry)
			return FAIL(c, v, "expected a string for %s '%s' entry, got %s", article(key), key,
				    kind_name(v));
		return FAIL(c, k, "expected a string for '%s', got %s", key, kind_name(v));
	}
	if (v->len == 0 || is_null(v)) {
		if (entry)
			return FAIL(c, v, "empty '%s' entry", key);
		if (is_null(v))
			return FAIL(c, k, "'%s' has no value", key);
		return FAIL(c, v, "'%s' is empty", key);
	}
	if (memchr(v->str, 0, v->len)) {
		if (entry)
			return FAIL(c, v, "'%s' entry '%s' contains a NUL byte", key, QN(c, v));
		return FAIL(c, v, "'%s' contains a NUL byte", key);
	}
	if (v->len > BW_POLICY_MAX_STRING) {
		if (entry)
			return FAIL(c, v, "'%s' entry is longer than %u bytes", key, BW_POLICY_MAX_STRING);
		return FAIL(c, v, "'%s' is longer than %u bytes", key, BW_POLICY_MAX_STRING);
	}
	*out = v->str;
	return BW_OK;
}

/* A list value: its entries (0 for null), or an error. */
static int want_list(struct ctx *c, const struct ynode *k, const struct ynode *v, uint32_t *n)
{
	*n = 0;
	if (is_null(v))
		return BW_OK;
	if (v->kind != Y_SEQ)
		return FAIL(c, k, "expected a list for '%s', got %s", k->str, kind_name(v));
	if (v->n > BW_POLICY_MAX_LIST)
		return FAIL(c, k, "'%s' has more than %u entries", k->str, BW_POLICY_MAX_LIST);
	*n = v->n;
	return BW_OK;
}

/* --- domain names and patterns --- */

/*
 * Why text is not a domain name, or NULL if it is one. Writes the
 * lower-cased name without its trailing dot to norm (BW_NAMESET_MAX_NAME+1).
 */
static const char *name_problem(struct ctx *c, const char *s, size_t len, char *norm)
{
	char *why = c->why;
	size_t whycap = sizeof(c->why);
	if (len && s[len - 1] == '.')
		len--;
	if (len == 0)
		return "it is the DNS root";
	if (len > BW_NAMESET_MAX_NAME)
		return "it is longer than 253 characters";
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		uint8_t ch = i < len ? (uint8_t)s[i] : '.';
		if (ch == '.') {
			size_t l = i - start;
			if (l == 0)
				return "it has an empty label";
			if (l > 63)
				return "a label is longer than 63 characters";
			if (s[start] == '-' || s[i - 1] == '-') {
				snprintf(why, whycap, "label '%s' starts or ends with '-'", q(c, s + start, l));
				return why;
			}
			start = i + 1;
			continue;
		}
		if (ch >= 0x80)
			return "non-ASCII characters are not allowed (write internationalised names in their xn-- "
			       "form)";
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			  ch == '-' || ch == '_';
		if (!ok) {
			if (ch > 0x20 && ch < 0x7f)
				snprintf(why, whycap,
					 "character '%c' is not allowed (letters, digits, '-' and '_' only)", ch);
			else
				snprintf(why, whycap, "byte 0x%02x is not allowed (letters, digits, '-' and '_' only)",
					 ch);
			return why;
		}
		norm[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
	}
	for (size_t i = 0; i < len; i++)
		if (s[i] == '.')
			norm[i] = '.';
	norm[len] = 0;
	return NULL;
}

static bool looks_like_address(const char *s, size_t len)
{
	struct bw_prefix p;
	return bw_prefix_parse(s, len, &p) == BW_OK;
}

/* An entry of a list of domain names (owned.domains, allowed_issuers) into set. */
static int add_domain(struct ctx *c, const struct ynode *k, const struct ynode *v, struct bw_nameset *set, bool owned)
{
	const char *s;
	int rc = get_string(c, k, v, true, &s);
	if (rc != BW_OK)
		return rc;
	if (owned && v->len > 1 && (s[0] == '*' || s[0] == '.'))
		return FAIL(c, v, "'%s' entry '%s' is a pattern; an owned domain already covers every name below it",
			    k->str, QN(c, v));
	if (looks_like_address(s, v->len))
		return FAIL(c, v, "'%s' entry '%s' is an address, not a domain name%s", k->str, QN(c, v),
			    owned ? " (addresses go in 'networks')" : "");
	char norm[BW_NAMESET_MAX_NAME + 1];
	const char *why = name_problem(c, s, v->len, norm);
	if (why)
		return FAIL(c, v, "'%s' entry '%s' is not a valid domain name: %s", k->str, QN(c, v), why);
	return bw_nameset_add(set, norm) == BW_OK ? BW_OK : BW_ENOMEM;
}

/* A name pattern ("x", "*.x", ".x") into pat. */
static int add_pattern(struct ctx *c, const struct ynode *k, const struct ynode *v, struct bw_namepat *pat)
{
	const char *s;
	int rc = get_string(c, k, v, true, &s);
	if (rc != BW_OK)
		return rc;
	size_t len = v->len, skip = 0;
	if (len >= 2 && s[0] == '*' && s[1] == '.')
		skip = 2;
	else if (s[0] == '.' && len > 1)
		skip = 1;
	if (memchr(s + skip, '*', len - skip))
		return FAIL(c, v,
			    "'%s' entry '%s' is not a valid name pattern: '*' must be the whole first label, as in "
			    "'*.example.com'",
			    k->str, QN(c, v));
	char norm[BW_NAMESET_MAX_NAME + 3];
	memcpy(norm, s, skip);
	const char *why = name_problem(c, s + skip, len - skip, norm + skip);
	if (why)
		return FAIL(c, v, "'%s' entry '%s' is not a valid name pattern: %s", k->str, QN(c, v), why);
	return bw_namepat_add(pat, norm) == BW_OK ? BW_OK : BW_ENOMEM;
}

/* --- addresses --- */

/* An address or prefix entry into set. what: the message's "not an IPv4 or IPv6 ..." noun. */
static int add_prefix(struct ctx *c, const struct ynode *k, const struct ynode *v, struct bw_cidrset *set,
		      const char *what)
{
	const char *s;
	int rc = get_string(c, k, v, true, &s);
	if (rc != BW_OK)
		return rc;
	struct bw_prefix p;
	if (bw_prefix_parse(s, v->len, &p) != BW_OK)
		return FAIL(c, v, "'%s' entry '%s' is not an IPv4 or IPv6 %s", k->str, QN(c, v), what);
	if (bw_prefix_host_bits(&p)) {
		char m[BW_PREFIX_STRLEN];
		bw_prefix_mask(&p);
		return FAIL(c, v, "'%s' entry '%s' has host bits set (did you mean %s?)", k->str, QN(c, v),
			    bw_prefix_str(&p, m, sizeof(m)));
	}
	return bw_cidrset_add(set, &p) == BW_OK ? BW_OK : BW_ENOMEM;
}

/* --- paths --- */

static int resolve(struct ctx *c, const struct ynode *k, const struct ynode *v, bool entry, const char **out)
{
	const char *s;
	int rc = get_string(c, k, v, entry, &s);
	if (rc != BW_OK)
		return rc;
	char *p;
	if (s[0] == '/' || !c->base_dir || !c->base_dir[0]) {
		p = arena_strndup(&c->pol->arena, s, v->len);
	} else {
		size_t bl = strlen(c->base_dir);
		bool slash = c->base_dir[bl - 1] == '/';
		size_t total = bl + !slash + v->len;
		if (total > BW_POLICY_MAX_STRING)
			return FAIL(c, v, "'%s'%s '%s' is longer than %u bytes once resolved", k->str,
				    entry ? " entry" : "", QN(c, v), BW_POLICY_MAX_STRING);
		p = arena_alloc(&c->pol->arena, total + 1);
		if (p) {
			memcpy(p, c->base_dir, bl);
			if (!slash)
				p[bl] = '/';
			memcpy(p + bl + !slash, s, v->len + 1);
		}
	}
	if (!p)
		return BW_ENOMEM;
	*out = p;
	return BW_OK;
}

/* The file must be there and readable now, or validation would silently trust less than the owner asked. */
static int check_readable(struct ctx *c, const struct ynode *k, const struct ynode *v, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return FAIL(c, v, "'%s' entry '%s' cannot be read: %s: %s", k->str, QN(c, v), q(c, path, strlen(path)),
			    strerror(errno));
	struct stat st;
	int r = fstat(fd, &st);
	close(fd);
	if (r != 0 || !S_ISREG(st.st_mode))
		return FAIL(c, v, "'%s' entry '%s' is not a regular file (%s)", k->str, QN(c, v),
			    q(c, path, strlen(path)));
	return BW_OK;
}

struct strlist {
	const char **v;
	size_t n;
};

static int path_list(struct ctx *c, const struct ynode *k, const struct ynode *v, bool must_read, struct strlist *out)
{
	uint32_t n;
	int rc = want_list(c, k, v, &n);
	if (rc != BW_OK || n == 0)
		return rc;
	out->v = arena_alloc(&c->pol->arena, n * sizeof(*out->v));
	if (!out->v)
		return BW_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const char *p;
		if ((rc = resolve(c, k, v->kids[i], true, &p)) != BW_OK)
			return rc;
		if (must_read && (rc = check_readable(c, k, v->kids[i], p)) != BW_OK)
			return rc;
		out->v[out->n++] = p;
	}
	return BW_OK;
}

/* --- base64 SPKI hashes --- */

static int b64val(uint8_t ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/*
 * Strict padded base64 (RFC 4648 section 4, unused bits zero). Returns the
 * byte count, -1 if s is not base64, -2 if it is but decodes to more than cap.
 */
static int b64decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
	if (len == 0 || len % 4)
		return -1;
	size_t pad = 0;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++)
		if (b64val((uint8_t)s[i]) < 0)
			return -1;
	if (len / 4 * 3 - pad > cap)
		return -2;
	uint32_t acc = 0;
	size_t w = 0;
	for (size_t i = 0; i < len - pad; i++) {
		acc = acc << 6 | (uint32_t)b64val((uint8_t)s[i]);
		if (i % 4 == 3) {
			out[w++] = (uint8_t)(acc >> 16);
			out[w++] = (uint8_t)(acc >> 8);
			out[w++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (pad == 1) {
		if (acc & 0x3)
			return -1;
		out[w++] = (uint8_t)(acc >> 10);
		out[w++] = (uint8_t)(acc >> 2);
	} else if (pad == 2) {
		if (acc & 0xf)
			return -1;
		out[w++] = (uint8_t)(acc >> 4);
	}
	return (int)w;
}

/* 32 bytes as padded base64: 44 characters and a NUL. */
static void b64encode32(const uint8_t *in, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t w = 0;
	for (size_t i = 0; i < 32; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < 32 ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < 32 ? in[i + 2] : 0);
		out[w++] = abc[v >> 18 & 63];
		out[w++] = abc[v >> 12 & 63];
		out[w++] = i + 1 < 32 ? abc[v >> 6 & 63] : '=';
		out[w++] = i + 2 < 32 ? abc[v & 63] : '=';
	}
	out[w] = 0;
}

static bool all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = (uint8_t)s[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

/* --- sections --- */

enum { K_OWNED, K_CERTS, K_DNS, K_ALERTS, K_DATA, K_OUTPUTS };
enum { K_DOMAINS, K_NETWORKS, K_CLOUD, K_ZONES };
enum { K_EXPIRY, K_ISSUERS, K_CAFILES, K_PINS, K_FETCH };
enum { K_PIN_NAMES, K_PIN_SPKI };
enum { K_ENABLED, K_SOURCE, K_REFRESH, K_MAXPM, K_TIMEOUT, K_MAXCONC };
enum { K_SUPPRESS, K_IGNORE, K_RATE, K_BURST };
enum { K_IGN_TYPE, K_IGN_NAMES };

static struct bw_namepat *new_pat(struct ctx *c)
{
	struct policy *pol = c->pol;
	if (pol->n_pats == pol->cap_pats) {
		size_t nc = pol->cap_pats ? pol->cap_pats * 2 : 8;
		struct bw_namepat **np = realloc(pol->pats, nc * sizeof(*np));
		if (!np)
			return NULL;
		pol->pats = np;
		pol->cap_pats = nc;
	}
	struct bw_namepat *p = bw_namepat_new();
	if (p)
		pol->pats[pol->n_pats++] = p;
	return p;
}

static int do_cloud_entry(struct ctx *c, const struct ynode *k, const struct ynode *v)
{
	const char *s;
	int rc = get_string(c, k, v, true, &s);
	if (rc != BW_OK)
		return rc;
	if (looks_like_address(s, v->len))
		return add_prefix(c, k, v, c->pol->cloud_addrs, "address or prefix");
	bool addrish = strpbrk(s, ":/") != NULL;
	if (!addrish) {
		addrish = true;
		for (size_t i = 0; i < v->len; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
				addrish = false;
	}
	if (addrish)
		return FAIL(c, v, "'%s' entry '%s' is not an IPv4 or IPv6 address or prefix", k->str, QN(c, v));
	return add_pattern(c, k, v, c->pol->cloud_names);
}

static int do_owned(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v)
{
	(void)arg;
	struct policy *pol = c->pol;
	uint32_t n;
	int rc;
	if (key == K_ZONES) {
		struct strlist l = {0};
		rc = path_list(c, k, v, false, &l);
		pol->pub.owned.zones = l.v;
		pol->pub.owned.n_zones = l.n;
		return rc;
	}
	if ((rc = want_list(c, k, v, &n)) != BW_OK)
		return rc;
	for (uint32_t i = 0; i < n && rc == BW_OK; i++) {
		const struct ynode *e = v->kids[i];
		if (key == K_DOMAINS)
			rc = add_domain(c, k, e, pol->domains, true);
		else if (key == K_NETWORKS)
			rc = add_prefix(c, k, e, pol->networks, "prefix");
		else
			rc = do_cloud_entry(c, k, e);
	}
	return rc;
}

struct pin_build {
	struct bw_policy_pin *pin;
	const struct ynode *names, *spki;
};

static int do_pin(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v)
{
	struct pin_build *b = arg;
	uint32_t n;
	int rc = want_list(c, k, v, &n);
	if (rc != BW_OK)
		return rc;
	if (n == 0)
		return FAIL(c, k, "'%s' in a 'pins' entry is empty", k->str);
	if (key == K_PIN_NAMES) {
		b->names = k;
		struct bw_namepat *pat = new_pat(c);
		if (!pat)
			return BW_ENOMEM;
		b->pin->names = pat;
		for (uint32_t i = 0; i < n && rc == BW_OK; i++)
			rc = add_pattern(c, k, v->kids[i], pat);
		return rc;
	}
	b->spki = k;
	uint8_t(*raw)[32] = arena_alloc(&c->pol->arena, n * sizeof(*raw));
	const char **text = arena_alloc(&c->pol->arena, n * sizeof(*text));
	if (!raw || !text)
		return BW_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const struct ynode *e = v->kids[i];
		const char *s;
		if ((rc = get_string(c, k, e, true, &s)) != BW_OK)
			return rc;
		size_t len = e->len;
		uint8_t buf[64];
		/* "sha256/" (OkHttp, HPKP) is a prefix only if the whole text is not already a hash: '/' is base64. */
		if (len > 7 && strncmp(s, "sha256/", 7) == 0 && b64decode(s, len, buf, sizeof(buf)) != 32) {
			s += 7;
			len -= 7;
		}
		if (len == 64 && all_hex(s, len))
			return FAIL(c, e, "'%s' entry '%s' looks like hex; write the SHA-256 hash in base64", k->str,
				    QN(c, e));
		int got = b64decode(s, len, buf, sizeof(buf));
		if (got == -1)
			return FAIL(c, e, "'%s' entry '%s' is not valid base64", k->str, QN(c, e));
		if (got < 0)
			return FAIL(c, e, "'%s' entry '%s' is more than 64 bytes, not the 32 of a SHA-256 hash", k->str,
				    QN(c, e));
		if (got != 32)
			return FAIL(c, e, "'%s' entry '%s' is %d bytes, not the 32 of a SHA-256 hash", k->str, QN(c, e),
				    got);
		memcpy(raw[i], buf, 32);
		char *t = arena_alloc(&c->pol->arena, 45);
		if (!t)
			return BW_ENOMEM;
		b64encode32(buf, t);
		text[i] = t;
	}
	b->pin->spki = (const uint8_t(*)[32])raw;
	b->pin->spki_base64 = text;
	b->pin->n_spki = n;
	return BW_OK;
}

static int do_fetch(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v)
{
	(void)arg;
	struct bw_policy_fetch *f = &c->pol->pub.certificates.fetch;
	switch (key) {
	case K_ENABLED: return get_bool(c, k, v, &f->enabled);
	case K_SOURCE: {
		const char *s;
		int rc = get_string(c, k, v, false, &s);
		if (rc != BW_OK)
			return rc;
		struct bw_prefix p;
		if (bw_prefix_parse(s, v->len, &p) != BW_OK)
			return FAIL(c, v, "'%s' '%s' is not an IPv4 or IPv6 address", k->str, QN(c, v));
		if (strchr(s, '/'))
			return FAIL(c, v, "'%s' must be one address, not a prefix ('%s')", k->str, QN(c, v));
		f->source_address = p.addr;
		return BW_OK;
	}
	case K_REFRESH: return get_uint(c, k, v, 60, 2592000, &f->refresh_seconds);
	case K_MAXPM: return get_uint(c, k, v, 1, 100000, &f->max_per_minute);
	case K_MAXCONC: return get_uint(c, k, v, 1, 64, &f->max_concurrent);
	default: return get_uint(c, k, v, 1, 600, &f->timeout_seconds);
	}
}

static int do_certs(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v)
{
	(void)arg;
	struct policy *pol = c->pol;
	uint32_t n;
	int rc;
	switch (key) {
	case K_EXPIRY: {
		uint32_t d;
		rc = get_uint(c, k, v, 0, 3650, &d);
		pol->pub.certificates.expiry_warning_days = d;
		return rc;
	}
	case K_ISSUERS:
		if ((rc = want_list(c, k, v, &n)) != BW_OK)
			return rc;
		for (uint32_t i = 0; i < n && rc == BW_OK; i++)
			rc = add_domain(c, k, v->kids[i], pol->issuers, false);
		return rc;
	case K_CAFILES: {
		struct strlist l = {0};
		rc = path_list(c, k, v, true, &l);
		pol->pub.certificates.extra_ca_files = l.v;
		pol->pub.certificates.n_extra_ca_files = l.n;
		return rc;
	}
	case K_PINS: {
		if ((rc = want_list(c, k, v, &n)) != BW_OK || n == 0)
			return rc;
		struct bw_policy_pin *pins = arena_alloc(&pol->arena, n * sizeof(*pins));
		if (!pins)
			return BW_ENOMEM;
		memset(pins, 0, n * sizeof(*pins));
		pol->pub.certificates.pins = pins;
		for (uint32_t i = 0; i < n; i++) {
			const struct ynode *e = v->kids[i];
			if (e->kind != Y_MAP)
				return FAIL(c, e, "expected a mapping for a 'pins' entry, got %s", kind_name(e));
			struct pin_build b = {.pin = &pins[i]};
			pins[i].line = e->line;
			if ((rc = walk_map(c, e, &sec_pin, do_pin, &b)) != BW_OK)
				return rc;
			if (!b.names)
				return FAIL(c, e, "a 'pins' entry needs 'names'");
			if (!b.spki)
				return FAIL(c, e, "a 'pins' entry needs 'spki_sha256'");
			pol->pub.certificates.n_pins++;
		}
		return BW_OK;
	}
	default:
		if ((rc = want_map(c, k, v, "fetch")) <= 0)
			return rc;
		return walk_map(c, v, &sec_fetch, do_fetch, NULL);
	}
}

static int do_dns(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v)
{
	(void)arg;
	(void)key;
	uint32_t n;
	int rc = want_list(c, k, v, &n);
	for (uint32_t i = 0; i < n && rc == BW_OK; i++)
		rc = add_prefix(c, k, v->kids[i], c->pol->xfer, "address or prefix");
	return rc;
}

struct ignore_build {
	struct bw_policy_ignore *rule;
	bool has_type;
};

static int do_ignore(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v)
{
	struct ignore_build *b = arg;
	int rc;
	if (key == K_IGN_TYPE) {
		const char *s;
		if ((rc = get_string(c, k, v, false, &s)) != BW_OK)
			return rc;
		int t = alert_from_name(s);
		if (t < 0) {
			const char *near = closest(s, alert_names);
			if (near)
				return FAIL(c, v, "unknown alert type '%s' (did you mean '%s'?)", QN(c, v), near);
			return FAIL(c, v, "unknown alert type '%s'", QN(c, v));
		}
		b->rule->type = t;
		b->has_type = true;
		return BW_OK;
	}
	uint32_t n;
	if ((rc = want_list(c, k, v, &n)) != BW_OK)
		return rc;
	if (n == 0)
		return FAIL(c, k, "'names' in an 'ignore' entry is empty (leave it out to ignore every name)");
	struct bw_namepat *pat = new_pat(c);
	if (!pat)
		return BW_ENOMEM;
	b->rule->names = pat;
	for (uint32_t i = 0; i < n && rc == BW_OK; i++)
		rc = add_pattern(c, k, v->kids[i], pat);
	return rc;
}

static int do_alerts(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v)
{
	(void)arg;
	struct policy *pol = c->pol;
	if (key == K_SUPPRESS)
		return get_uint(c, k, v, 0, 2592000, &pol->pub.alerts.suppress_seconds);
	if (key == K_RATE)
		return get_uint(c, k, v, 1, 100000000, &pol->pub.alerts.rate_limit_per_minute);
	if (key == K_BURST)
		return get_uint(c, k, v, 1, 100000000, &pol->pub.alerts.rate_limit_burst);
	uint32_t n;
	int rc = want_list(c, k, v, &n);
	if (rc != BW_OK || n == 0)
		return rc;
	struct bw_policy_ignore *rules = arena_alloc(&pol->arena, n * sizeof(*rules));
	pol->ign_next = arena_alloc(&pol->arena, n * sizeof(*pol->ign_next));
	if (!rules || !pol->ign_next)
		return BW_ENOMEM;
	memset(rules, 0, n * sizeof(*rules));
	pol->pub.alerts.ignore = rules;
	for (uint32_t i = 0; i < n; i++) {
		const struct ynode *e = v->kids[i];
		if (e->kind != Y_MAP)
			return FAIL(c, e, "expected a mapping for an 'ignore' entry, got %s", kind_name(e));
		struct ignore_build b = {.rule = &rules[i]};
		rules[i].line = e->line;
		if ((rc = walk_map(c, e, &sec_ignore, do_ignore, &b)) != BW_OK)
			return rc;
		if (!b.has_type)
			return FAIL(c, e, "an 'ignore' entry needs 'type'");
		pol->pub.alerts.n_ignore++;
	}
	return BW_OK;
}

static int do_data(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v)
{
	(void)arg;
	const char **slot = key == 0   ? &c->pol->pub.data.takeover_services
			    : key == 1 ? &c->pol->pub.data.cloud_ranges
				       : &c->pol->pub.data.caa_issuers;
	return resolve(c, k, v, false, slot);
}

static int do_top(struct ctx *c, void *arg, int key, const struct ynode *k, const struct ynode *v)
{
	(void)arg;
	int rc;
	static const struct {
		const struct section *sec;
		key_fn fn;
	} subs[] = {
		[K_OWNED] = {&sec_owned, do_owned},    [K_CERTS] = {&sec_cert, do_certs}, [K_DNS] = {&sec_dns, do_dns},
		[K_ALERTS] = {&sec_alerts, do_alerts}, [K_DATA] = {&sec_data, do_data},
	};
	if (key == K_OUTPUTS) {
		uint32_t n;
		if ((rc = want_list(c, k, v, &n)) != BW_OK || n == 0)
			return rc;
		const char **outs = arena_alloc(&c->pol->arena, n * sizeof(*outs));
		if (!outs)
			return BW_ENOMEM;
		for (uint32_t i = 0; i < n; i++) {
			const char *s;
			if ((rc = get_string(c, k, v->kids[i], true, &s)) != BW_OK)
				return rc;
			if (!(outs[i] = arena_strndup(&c->pol->arena, s, v->kids[i]->len)))
				return BW_ENOMEM;
		}
		c->pol->pub.outputs = outs;
		c->pol->pub.n_outputs = n;
		return BW_OK;
	}
	if ((rc = want_map(c, k, v, k->str)) <= 0)
		return rc;
	return walk_map(c, v, subs[key].sec, subs[key].fn, NULL);
}

/* --- load --- */

static struct policy *policy_new(void)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	if (!pol)
		return NULL;
	pol->domains = bw_nameset_new();
	pol->issuers = bw_nameset_new();
	pol->networks = bw_cidrset_new();
	pol->cloud_addrs = bw_cidrset_new();
	pol->xfer = bw_cidrset_new();
	pol->cloud_names = bw_namepat_new();
	if (!pol->domains || !pol->issuers || !pol->networks || !pol->cloud_addrs || !pol->xfer || !pol->cloud_names) {
		bw_policy_free(&pol->pub);
		return NULL;
	}
	struct bw_policy *p = &pol->pub;
	p->owned.domains = pol->domains;
	p->owned.networks = pol->networks;
	p->owned.cloud_names = pol->cloud_names;
	p->owned.cloud_addrs = pol->cloud_addrs;
	p->certificates.allowed_issuers = pol->issuers;
	p->dns.allowed_transfer_clients = pol->xfer;
	p->certificates.expiry_warning_days = BW_POLICY_DEFAULT_EXPIRY_WARNING_DAYS;
	p->certificates.fetch.refresh_seconds = BW_POLICY_DEFAULT_FETCH_REFRESH_SECONDS;
	p->certificates.fetch.max_per_minute = BW_POLICY_DEFAULT_FETCH_MAX_PER_MINUTE;
	p->certificates.fetch.timeout_seconds = BW_POLICY_DEFAULT_FETCH_TIMEOUT_SECONDS;
	p->certificates.fetch.max_concurrent = BW_POLICY_DEFAULT_FETCH_MAX_CONCURRENT;
	p->alerts.suppress_seconds = BW_POLICY_DEFAULT_SUPPRESS_SECONDS;
	return pol;
}

void bw_policy_free(struct bw_policy *p)
{
	if (!p)
		return;
	struct policy *pol = (struct policy *)p;
	bw_nameset_free(pol->domains);
	bw_nameset_free(pol->issuers);
	bw_cidrset_free(pol->networks);
	bw_cidrset_free(pol->cloud_addrs);
	bw_cidrset_free(pol->xfer);
	bw_namepat_free(pol->cloud_names);
	for (size_t i = 0; i < pol->n_pats; i++)
		bw_namepat_free(pol->pats[i]);
	free(pol->pats);
	arena_free(&pol->arena);
	free(pol);
}

/* Chain the ignore rules by type so a query looks at its own type's rules only. */
static void index_ignores(struct policy *pol)
{
	const struct bw_policy_ignore *r = pol->pub.alerts.ignore;
	size_t last[BW_AL__COUNT];
	for (size_t t = 0; t < BW_AL__COUNT; t++)
		last[t] = pol->ign_first[t] = SIZE_MAX;
	for (size_t i = 0; i < pol->pub.alerts.n_ignore; i++) {
		size_t t = (size_t)r[i].type;
		pol->ign_next[i] = SIZE_MAX;
		if (last[t] == SIZE_MAX)
			pol->ign_first[t] = i;
		else
			pol->ign_next[last[t]] = i;
		last[t] = i;
	}
}

static int load(const char *name, const char *text, size_t len, const char *base_dir, struct bw_policy **out, char *err,
		size_t errcap)
{
	struct ctx c = {.name = name, .base_dir = base_dir, .err = err, .errcap = errcap};
	if (len > BW_POLICY_MAX_FILE) {
		if (err && errcap)
			snprintf(err, errcap, "%s: larger than %u MiB (%zu bytes)", name, BW_POLICY_MAX_FILE >> 20,
				 len);
		return BW_EINVAL;
	}
	c.pol = policy_new();
	if (!c.pol)
		goto nomem;
	if (!(c.pol->pub.path = arena_strndup(&c.pol->arena, name, strlen(name))))
		goto nomem;
	c.pol->pub.size = len;
	struct ynode *root;
	int rc = build_tree(&c, text, len, &root);
	if (rc == BW_OK && root && !is_null(root)) {
		if (root->kind != Y_MAP)
			rc = FAIL(&c, root, "expected a mapping at the top level, got %s", kind_name(root));
		else
			rc = walk_map(&c, root, &sec_top, do_top, NULL);
	}
	if (rc == BW_OK) {
		bw_cidrset_seal(c.pol->networks);
		bw_cidrset_seal(c.pol->cloud_addrs);
		bw_cidrset_seal(c.pol->xfer);
		index_ignores(c.pol);
	}
	arena_free(&c.tree);
	if (rc == BW_ENOMEM)
		goto nomem;
	if (rc != BW_OK) {
		bw_policy_free(&c.pol->pub);
		return rc;
	}
	if (err && errcap)
		err[0] = 0;
	*out = &c.pol->pub;
	return BW_OK;
nomem:
	arena_free(&c.tree);
	if (c.pol)
		bw_policy_free(&c.pol->pub);
	if (err && errcap)
		snprintf(err, errcap, "%s: out of memory", name);
	return BW_ENOMEM;
}

int bw_policy_load_buffer(const char *name, const char *text, size_t len, const char *base_dir, struct bw_policy **out,
			  char *err, size_t errcap)
{
	if (!out)
		return BW_EINVAL;
	*out = NULL;
	if (!name)
		name = "policy";
	if (!text && len)
		return BW_EINVAL;
	return load(name, text ? text : "", len, base_dir, out, err, errcap);
}

static int file_error(const char *path, int e, char *err, size_t errcap)
{
	if (err && errcap)
		snprintf(err, errcap, "%s: %s", path, strerror(e));
	return e == ENOENT ? BW_ENOENT : e == ENOMEM ? BW_ENOMEM : BW_EIO;
}

/* The directory of path, absolute, so resolved paths survive a later chdir. */
static char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path) : 0;
	if (slash && dl == 0)
		return strdup("/");
	if (slash && path[0] == '/')
		return strndup(path, dl);
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return slash ? strndup(path, dl) : strdup(".");
	if (!slash)
		return cwd;
	size_t cl = strlen(cwd);
	char *b = malloc(cl + 1 + dl + 1);
	if (b) {
		memcpy(b, cwd, cl);
		b[cl] = '/';
		memcpy(b + cl + 1, path, dl);
		b[cl + 1 + dl] = 0;
	}
	free(cwd);
	return b;
}

int bw_policy_load(const char *path, struct bw_policy **out, char *err, size_t errcap)
{
	if (!out || !path)
		return BW_EINVAL;
	*out = NULL;
	/* O_NONBLOCK: a FIFO given by mistake must not hang the sensor's start. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return file_error(path, errno, err, errcap);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return file_error(path, e, err, errcap);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (err && errcap)
			snprintf(err, errcap, "%s: not a regular file", path);
		return BW_EINVAL;
	}
	if ((uint64_t)st.st_size > BW_POLICY_MAX_FILE) {
		close(fd);
		if (err && errcap)
			snprintf(err, errcap, "%s: larger than %u MiB (%lld bytes)", path, BW_POLICY_MAX_FILE >> 20,
				 (long long)st.st_size);
		return BW_EINVAL;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return file_error(path, ENOMEM, err, errcap);
	}
	/* Read to the end, not to st_size: the file may grow while we read; the cap still holds. */
	for (;;) {
		if (len == cap) {
			if (cap > BW_POLICY_MAX_FILE) {
				free(buf);
				close(fd);
				if (err && errcap)
					snprintf(err, errcap, "%s: larger than %u MiB", path, BW_POLICY_MAX_FILE >> 20);
				return BW_EINVAL;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return file_error(path, ENOMEM, err, errcap);
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return file_error(path, e, err, errcap);
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	char *base = base_of(path);
	if (!base) {
		free(buf);
		return file_error(path, ENOMEM, err, errcap);
	}
	int rc = load(path, buf, len, base, out, err, errcap);
	free(base);
	free(buf);
	if (rc == BW_OK)
		(*out)->mtime = st.st_mtim;
	return rc;
}

/* --- queries --- */

bool bw_policy_owns_name(const struct bw_policy *p, const char *name, size_t len)
{
	return p && bw_nameset_contains(p->owned.domains, name, len);
}

bool bw_policy_owns_addr(const struct bw_policy *p, const struct bw_ip *ip)
{
	return p && bw_cidrset_contains(p->owned.networks, ip);
}

bool bw_policy_cloud_resource_name(const struct bw_policy *p, const char *name, size_t len)
{
	return p && bw_namepat_match(p->owned.cloud_names, name, len);
}

bool bw_policy_cloud_resource_addr(const struct bw_policy *p, const struct bw_ip *ip)
{
	return p && bw_cidrset_contains(p->owned.cloud_addrs, ip);
}

bool bw_policy_issuer_allowed(const struct bw_policy *p, const char *caa_domain)
{
	if (!p || bw_nameset_count(p->certificates.allowed_issuers) == 0)
		return true;
	if (!caa_domain)
		return false;
	/* The issuer-domain only: blanks around it and parameters after ';' are not part of it. */
	while (*caa_domain == ' ' || *caa_domain == '\t')
		caa_domain++;
	size_t len = strcspn(caa_domain, ";");
	while (len && (caa_domain[len - 1] == ' ' || caa_domain[len - 1] == '\t'))
		len--;
	return len && bw_nameset_contains_exact(p->certificates.allowed_issuers, caa_domain, len);
}

const struct bw_policy_pin *bw_policy_pin_for(const struct bw_policy *p, const char *name)
{
	if (!p || !name)
		return NULL;
	size_t len = strlen(name);
	for (size_t i = 0; i < p->certificates.n_pins; i++)
		if (bw_namepat_match(p->certificates.pins[i].names, name, len))
			return &p->certificates.pins[i];
	return NULL;
}

bool bw_policy_ignored_type(const struct bw_policy *p, int type, const char *name, size_t len)
{
	if (!p || type < 0 || type >= BW_AL__COUNT)
		return false;
	const struct policy *pol = (const struct policy *)p;
	for (size_t i = pol->ign_first[type]; i != SIZE_MAX; i = pol->ign_next[i]) {
		const struct bw_policy_ignore *r = &p->alerts.ignore[i];
		if (!r->names || (name && bw_namepat_match(r->names, name, len)))
			return true;
	}
	return false;
}

bool bw_policy_ignored(const struct bw_policy *p, const char *alert_type, const char *name)
{
	int t = alert_from_name(alert_type);
	if (t < 0)
		return false;
	return bw_policy_ignored_type(p, t, name, name ? strlen(name) : 0);
}

bool bw_policy_transfer_allowed(const struct bw_policy *p, const struct bw_ip *ip)
{
	return p && bw_cidrset_contains(p->dns.allowed_transfer_clients, ip);
}

/* --- dump --- */

/* A YAML double-quoted string (the input was valid UTF-8, so bytes >= 0x80 pass through). */
static void put_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		uint8_t ch = (uint8_t)*s;
		const uint8_t *u = (const uint8_t *)s;
		if (ch == '"' || ch == '\\') {
			fprintf(fp, "\\%c", ch);
		} else if (ch < 0x20 || ch == 0x7f) {
			fprintf(fp, "\\x%02x", ch);
		} else if (u[0] == 0xc2 && u[1] == 0x85) {
			/* YAML reads NEL, LS, PS and a BOM inside a quoted scalar as
			 * line breaks or nothing: escape them so a dump loads back. */
			fputs("\\N", fp);
			s++;
		} else if (u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9)) {
			fputs(u[2] == 0xa8 ? "\\L" : "\\P", fp);
			s += 2;
		} else if (u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) {
			fputs("\\uFEFF", fp);
			s += 2;
		} else {
			fputc(ch, fp);
		}
	}
	fputc('"', fp);
}

static void put_names(FILE *fp, const char *indent, const char *key, const struct bw_nameset *s)
{
	size_t n = bw_nameset_count(s);
	fprintf(fp, "%s%s:%s\n", indent, key, n ? "" : " []");
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, "%s  - ", indent);
		put_str(fp, bw_nameset_get(s, i));
		fputc('\n', fp);
	}
}

static void put_pats_inline(FILE *fp, const struct bw_namepat *p)
{
	fputc('[', fp);
	for (size_t i = 0; i < bw_namepat_count(p); i++) {
		if (i)
			fputs(", ", fp);
		put_str(fp, bw_namepat_get(p, i));
	}
	fputc(']', fp);
}

static void put_prefixes(FILE *fp, const struct bw_cidrset *s, const char *indent)
{
	char buf[BW_PREFIX_STRLEN];
	for (size_t i = 0; i < bw_cidrset_count(s); i++)
		fprintf(fp, "%s  - \"%s\"\n", indent, bw_prefix_str(bw_cidrset_get(s, i), buf, sizeof(buf)));
}

static void put_paths(FILE *fp, const char *indent, const char *key, const char *const *v, size_t n)
{
	fprintf(fp, "%s%s:%s\n", indent, key, n ? "" : " []");
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, "%s  - ", indent);
		put_str(fp, v[i]);
		fputc('\n', fp);
	}
}

static void put_data(FILE *fp, const char *key, const char *v, const char *def)
{
	if (v) {
		fprintf(fp, "  %s: ", key);
		put_str(fp, v);
		fputc('\n', fp);
	} else {
		fprintf(fp, "  # %s: the project's %s\n", key, def);
	}
}

int bw_policy_dump(const struct bw_policy *p, FILE *fp)
{
	if (!p || !fp)
		return BW_EINVAL;
	char when[64] = "-";
	if (p->mtime.tv_sec) {
		struct tm tm;
		time_t t = p->mtime.tv_sec;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	fputs("# policy ", fp);
	put_str(fp, p->path);
	fprintf(fp, ", %llu bytes, modified %s\n", (unsigned long long)p->size, when);

	fputs("owned:\n", fp);
	put_names(fp, "  ", "domains", p->owned.domains);
	fprintf(fp, "  networks:%s\n", bw_cidrset_count(p->owned.networks) ? "" : " []");
	put_prefixes(fp, p->owned.networks, "  ");
	size_t ncn = bw_namepat_count(p->owned.cloud_names), nca = bw_cidrset_count(p->owned.cloud_addrs);
	fprintf(fp, "  cloud_resources:%s\n", ncn + nca ? "" : " []");
	for (size_t i = 0; i < ncn; i++) {
		fputs("    - ", fp);
		put_str(fp, bw_namepat_get(p->owned.cloud_names, i));
		fputc('\n', fp);
	}
	put_prefixes(fp, p->owned.cloud_addrs, "  ");
	put_paths(fp, "  ", "zones", p->owned.zones, p->owned.n_zones);

	fputs("certificates:\n", fp);
	fprintf(fp, "  expiry_warning_days: %u\n", p->certificates.expiry_warning_days);
	put_names(fp, "  ", "allowed_issuers", p->certificates.allowed_issuers);
	if (!bw_nameset_count(p->certificates.allowed_issuers))
		fputs("  # (no allowed_issuers: any issuer is allowed)\n", fp);
	put_paths(fp, "  ", "extra_ca_files", p->certificates.extra_ca_files, p->certificates.n_extra_ca_files);
	fprintf(fp, "  pins:%s\n", p->certificates.n_pins ? "" : " []");
	for (size_t i = 0; i < p->certificates.n_pins; i++) {
		const struct bw_policy_pin *pin = &p->certificates.pins[i];
		fputs("    - names: ", fp);
		put_pats_inline(fp, pin->names);
		fputs("\n      spki_sha256: [", fp);
		for (size_t j = 0; j < pin->n_spki; j++)
			fprintf(fp, "%s\"%s\"", j ? ", " : "", pin->spki_base64[j]);
		fputs("]\n", fp);
	}
	const struct bw_policy_fetch *f = &p->certificates.fetch;
	fprintf(fp, "  fetch:\n    enabled: %s\n", f->enabled ? "true" : "false");
	if (f->source_address.family) {
		char a[48];
		fprintf(fp, "    source_address: \"%s\"\n", bw_ip_str(&f->source_address, a, sizeof(a)));
	} else {
		fputs("    # source_address: not set (the system picks)\n", fp);
	}
	fprintf(fp, "    refresh_seconds: %u\n    max_per_minute: %u\n    timeout_seconds: %u\n    max_concurrent: %u\n",
		f->refresh_seconds, f->max_per_minute, f->timeout_seconds, f->max_concurrent);

	fputs("dns:\n", fp);
	fprintf(fp, "  allowed_transfer_clients:%s\n", bw_cidrset_count(p->dns.allowed_transfer_clients) ? "" : " []");
	put_prefixes(fp, p->dns.allowed_transfer_clients, "  ");

	fprintf(fp, "alerts:\n  suppress_seconds: %u\n", p->alerts.suppress_seconds);
	if (p->alerts.rate_limit_per_minute)
		fprintf(fp, "  rate_limit_per_minute: %u\n", p->alerts.rate_limit_per_minute);
	if (p->alerts.rate_limit_burst)
		fprintf(fp, "  rate_limit_burst: %u\n", p->alerts.rate_limit_burst);
	fprintf(fp, "  ignore:%s\n", p->alerts.n_ignore ? "" : " []");
	for (size_t i = 0; i < p->alerts.n_ignore; i++) {
		const struct bw_policy_ignore *r = &p->alerts.ignore[i];
		fprintf(fp, "    - type: %s\n", alert_names[r->type]);
		if (r->names) {
			fputs("      names: ", fp);
			put_pats_inline(fp, r->names);
			fputc('\n', fp);
		}
	}

	fputs("data:\n", fp);
	put_data(fp, "takeover_services", p->data.takeover_services, BW_POLICY_DEFAULT_TAKEOVER_SERVICES);
	put_data(fp, "cloud_ranges", p->data.cloud_ranges, BW_POLICY_DEFAULT_CLOUD_RANGES);
	put_data(fp, "caa_issuers", p->data.caa_issuers, BW_POLICY_DEFAULT_CAA_ISSUERS);
	put_paths(fp, "", "outputs", p->outputs, p->n_outputs);
	fflush(fp);
	return ferror(fp) ? BW_EIO : BW_OK;
}
