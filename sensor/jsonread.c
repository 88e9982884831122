/* SPDX-License-Identifier: MIT */
/*
 * jsonread.c: pull single fields out of bindwatch's own JSON events for the
 * SIEM formatters. The documents are small (a few KiB) and a formatter wants
 * a dozen fields, so a skip-scan per lookup is cheaper and far simpler than
 * building a tree, and it allocates nothing. The input is treated as hostile
 * anyway (it is read back from the on-disk spool and fuzzed): every read is
 * bounds-checked against the end pointer and nesting is capped.
 */
#include "jsonread.h"

#include <string.h>

struct cur {
	const char *p, *end;
};

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* c->p at the opening quote; on success c->p is past the closing quote and
 * (in, inlen) is the raw inside. */
static bool scan_string(struct cur *c, const char **in, size_t *inlen)
{
	if (c->p >= c->end || *c->p != '"')
		return false;
	const char *start = ++c->p;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;
		if (ch == '"') {
			*in = start;
			*inlen = (size_t)(c->p - start);
			c->p++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch == '\\') {
			if (c->end - c->p < 2)
				return false;
			char e = c->p[1];
			if (e == 'u') {
				if (c->end - c->p < 6)
					return false;
				for (int i = 2; i < 6; i++)
					if (bw_hexval(c->p[i]) < 0)
						return false;
				c->p += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || e == '\0')
				return false;
			c->p += 2;
			continue;
		}
		c->p++;
	}
	return false;
}

static bool scan_number(struct cur *c)
{
	const char *s = c->p;
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end)
		return false;
	if (*c->p == '0') {
		c->p++;
	} else if (*c->p >= '1' && *c->p <= '9') {
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	} else {
		return false;
	}
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		const char *d = c->p;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
		if (c->p == d)
			return false;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		const char *d = c->p;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
		if (c->p == d)
			return false;
	}
	return c->p > s;
}

static bool scan_lit(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* Skip one value (c->p at its first byte, white space already skipped). */
static bool skip_value(struct cur *c, int depth, struct bw_jval *v)
{
	if (c->p >= c->end || depth > BW_JSONREAD_MAX_DEPTH)
		return false;
	const char *start = c->p;
	switch (*c->p) {
	case '"': {
		const char *in;
		size_t inlen;
		if (!scan_string(c, &in, &inlen))
			return false;
		if (v) {
			v->type = BW_JSTR;
			v->p = in;
			v->n = inlen;
		}
		return true;
	}
	case '{':
	case '[': {
		char close = *c->p == '{' ? '}' : ']';
		bool obj = close == '}';
		c->p++;
		skip_ws(c);
		if (c->p < c->end && *c->p == close) {
			c->p++;
		} else {
			for (;;) {
				if (obj) {
					const char *k;
					size_t kn;
					if (!scan_string(c, &k, &kn))
						return false;
					skip_ws(c);
					if (c->p >= c->end || *c->p != ':')
						return false;
					c->p++;
					skip_ws(c);
				}
				if (!skip_value(c, depth + 1, NULL))
					return false;
				skip_ws(c);
				if (c->p >= c->end)
					return false;
				if (*c->p == ',') {
					c->p++;
					skip_ws(c);
					continue;
				}
				if (*c->p != close)
					return false;
				c->p++;
				break;
			}
		}
		if (v) {
			v->type = obj ? BW_JOBJ : BW_JARR;
			v->p = start;
			v->n = (size_t)(c->p - start);
		}
		return true;
	}
	case 't':
	case 'f':
	case 'n': {
		enum bw_jtype t = *c->p == 't' ? BW_JTRUE : *c->p == 'f' ? BW_JFALSE : BW_JNULL;
		if (!scan_lit(c, t == BW_JTRUE ? "true" : t == BW_JFALSE ? "false" : "null"))
			return false;
		if (v) {
			v->type = t;
			v->p = start;
			v->n = (size_t)(c->p - start);
		}
		return true;
	}
	default:
		if (!scan_number(c))
			return false;
		if (v) {
			v->type = BW_JNUM;
			v->p = start;
			v->n = (size_t)(c->p - start);
		}
		return true;
	}
}

int bw_jsonread_validate(const char *doc, size_t n)
{
	struct cur c = { doc, doc + n };
	skip_ws(&c);
	if (!skip_value(&c, 0, NULL))
		return BW_EMALF;
	skip_ws(&c);
	return c.p == c.end ? BW_OK : BW_EMALF;
}

/* UTF-8 encode cp into out (>= 4 bytes); returns the length. */
static size_t utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}


static uint32_t hex4(const char *p)
{
	return (uint32_t)(bw_hexval(p[0]) << 12 | bw_hexval(p[1]) << 8 | bw_hexval(p[2]) << 4 | bw_hexval(p[3]));
}

/* Decode the raw inside of a (scanned, so well-formed) string. */
static size_t decode_string(const char *s, size_t n, char *out, size_t cap, bool *trunc)
{
	size_t o = 0, i = 0;
	char tmp[4];
	*trunc = false;
	if (cap == 0)
		return 0;
	while (i < n) {
		size_t len;
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\\' && i + 1 < n) {
			char e = s[i + 1];
			if (e == 'u' && i + 5 < n) {
				uint32_t cp = hex4(s + i + 2);
				i += 6;
				if (cp >= 0xD800 && cp <= 0xDBFF && i + 5 < n && s[i] == '\\' && s[i + 1] == 'u') {
					uint32_t lo = hex4(s + i + 2);
					if (lo >= 0xDC00 && lo <= 0xDFFF) {
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						i += 6;
					}
				}
				if (cp >= 0xD800 && cp <= 0xDFFF)
					cp = 0xFFFD;
				len = utf8_put(cp, tmp);
			} else {
				switch (e) {
				case 'b': tmp[0] = '\b'; break;
				case 'f': tmp[0] = '\f'; break;
				case 'n': tmp[0] = '\n'; break;
				case 'r': tmp[0] = '\r'; break;
				case 't': tmp[0] = '\t'; break;
				default: tmp[0] = e; break;
				}
				len = 1;
				i += 2;
			}
		} else {
			len = bw_utf8_decode((const uint8_t *)s + i, n - i, NULL);
			if (len == 0) {
				len = utf8_put(0xFFFD, tmp);
				i++;
			} else {
				memcpy(tmp, s + i, len);
				i += len;
			}
		}
		if (o + len > cap - 1) {
			*trunc = true;
			break;
		}
		memcpy(out + o, tmp, len);
		o += len;
	}
	out[o] = '\0';
	return o;
}

size_t bw_jval_text(const struct bw_jval *v, char *out, size_t cap, bool *truncated)
{
	bool t = false;
	size_t n = 0;
	if (cap == 0) {
		if (truncated)
			*truncated = v && v->type != BW_JNONE && v->n > 0;
		return 0;
	}
	out[0] = '\0';
	if (v && v->type == BW_JSTR) {
		n = decode_string(v->p, v->n, out, cap, &t);
	} else if (v && (v->type == BW_JNUM || v->type == BW_JTRUE || v->type == BW_JFALSE || v->type == BW_JNULL)) {
		n = BW_MIN(v->n, cap - 1);
		t = n < v->n;
		memcpy(out, v->p, n);
		out[n] = '\0';
	}
	if (truncated)
		*truncated = t;
	return n;
}

bool bw_jval_u64(const struct bw_jval *v, uint64_t *out)
{
	if (!v || (v->type != BW_JNUM && v->type != BW_JSTR) || v->n == 0 || v->n > 20)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < v->n; i++) {
		char ch = v->p[i];
		if (ch < '0' || ch > '9')
			return false;
		unsigned d = (unsigned)(ch - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return true;
}

/* Compare a raw (possibly escaped) key with a path segment. */
static bool key_equals(const char *k, size_t kn, const char *seg, size_t segn)
{
	if (!memchr(k, '\\', kn))
		return kn == segn && memcmp(k, seg, kn) == 0;
	char buf[BW_JSONREAD_MAX_KEY + 1];
	bool t;
	size_t dn = decode_string(k, kn, buf, sizeof(buf), &t);
	return !t && dn == segn && memcmp(buf, seg, segn) == 0;
}

static bool parse_index(const char *seg, size_t n, uint64_t *idx)
{
	struct bw_jval v = { BW_JNUM, seg, n };
	return bw_jval_u64(&v, idx);
}

int bw_jsonread_get(const char *doc, size_t n, const char *path, struct bw_jval *out)
{
	struct cur c = { doc, doc + n };
	memset(out, 0, sizeof(*out));
	skip_ws(&c);
	const char *seg = path;
	int depth = 0;
	while (*seg) {
		const char *dot = strchr(seg, '.');
		size_t segn = dot ? (size_t)(dot - seg) : strlen(seg);
		if (segn > BW_JSONREAD_MAX_KEY || ++depth > BW_JSONREAD_MAX_DEPTH)
			return BW_ENOENT;
		if (c.p >= c.end)
			return BW_EMALF;
		bool obj = *c.p == '{';
		uint64_t want = 0;
		if (!obj && (*c.p != '[' || !parse_index(seg, segn, &want)))
			return (*c.p == '[' || *c.p == '"' || *c.p == '-' || *c.p == 't' || *c.p == 'f' || *c.p == 'n' ||
				(*c.p >= '0' && *c.p <= '9'))
				       ? BW_ENOENT
				       : BW_EMALF;
		char close = obj ? '}' : ']';
		c.p++;
		skip_ws(&c);
		if (c.p < c.end && *c.p == close)
			return BW_ENOENT;
		bool found = false;
		for (uint64_t i = 0;; i++) {
			bool match;
			if (obj) {
				const char *k;
				size_t kn;
				if (!scan_string(&c, &k, &kn))
					return BW_EMALF;
				skip_ws(&c);
				if (c.p >= c.end || *c.p != ':')
					return BW_EMALF;
				c.p++;
				skip_ws(&c);
				match = key_equals(k, kn, seg, segn);
			} else {
				match = i == want;
			}
			if (match) {
				found = true;
				break;
			}
			if (!skip_value(&c, depth, NULL))
				return BW_EMALF;
			skip_ws(&c);
			if (c.p >= c.end)
				return BW_EMALF;
			if (*c.p == ',') {
				c.p++;
				skip_ws(&c);
				continue;
			}
			if (*c.p == close)
				return BW_ENOENT;
			return BW_EMALF;
		}
		(void)found;
		seg = dot ? dot + 1 : seg + segn;
	}
	if (!skip_value(&c, depth, out))
		return BW_EMALF;
	return BW_OK;
}

size_t bw_jsonread_text(const char *doc, size_t n, const char *path, char *out, size_t cap)
{
	struct bw_jval v;
	if (cap)
		out[0] = '\0';
	if (bw_jsonread_get(doc, n, path, &v) != BW_OK)
		return 0;
	return bw_jval_text(&v, out, cap, NULL);
}

void bw_jiter_init(struct bw_jiter *it, const struct bw_jval *container)
{
	memset(it, 0, sizeof(*it));
	it->first = true;
	if (!container || (container->type != BW_JOBJ && container->type != BW_JARR) || container->n < 2) {
		it->kind = BW_JNONE;
		return;
	}
	it->kind = container->type;
	it->p = container->p + 1; /* past the bracket; the span was validated by skip_value */
	it->end = container->p + container->n - 1;
}

bool bw_jiter_next(struct bw_jiter *it, struct bw_jval *key, struct bw_jval *val)
{
	if (it->kind == BW_JNONE || it->err)
		return false;
	struct cur c = { it->p, it->end };
	skip_ws(&c);
	if (c.p >= c.end)
		return false;
	if (!it->first) {
		if (*c.p != ',')
			goto bad;
		c.p++;
		skip_ws(&c);
	}
	it->first = false;
	if (it->kind == BW_JOBJ) {
		const char *k;
		size_t kn;
		if (!scan_string(&c, &k, &kn))
			goto bad;
		if (key) {
			key->type = BW_JSTR;
			key->p = k;
			key->n = kn;
		}
		skip_ws(&c);
		if (c.p >= c.end || *c.p != ':')
			goto bad;
		c.p++;
		skip_ws(&c);
	}
	struct bw_jval tmp;
	if (!skip_value(&c, 1, val ? val : &tmp))
		goto bad;
	it->p = c.p;
	return true;
bad:
	it->err = BW_EMALF;
	return false;
}
