/* SPDX-License-Identifier: MIT */
/*
 * jsonread.h: a small, bounded reader of the JSON documents bindwatch itself
 * writes (ECS events), used by the CEF / LEEF / syslog structured-data
 * formatters to pull fields by dotted path ("tls.client.server_name",
 * "dns.answers.0.data").
 *
 * It does not build a tree: each lookup walks the document from the start,
 * skipping what it does not need, with recursion bounded by
 * BW_JSONREAD_MAX_DEPTH. It never reads outside [doc, doc + n) and needs no
 * NUL terminator. Values are returned as spans into the document (borrowed:
 * valid as long as the document is). A string's span is its raw, still
 * escaped inside; bw_jval_str() decodes it.
 *
 * Decoded strings are exactly the bytes the writer was given, except that
 * invalid UTF-8 and lone surrogates become U+FFFD: they may hold control
 * characters, NUL (from \u0000), '|', '=', ']' and so on. Callers escape them
 * for their own format.
 *
 * Duplicate keys: the first one wins.
 */
#ifndef BW_JSONREAD_H
#define BW_JSONREAD_H

#include "bw.h"

#define BW_JSONREAD_MAX_DEPTH 64
#define BW_JSONREAD_MAX_KEY 128 /* longer keys or path segments never match */

enum bw_jtype {
	BW_JNONE = 0,
	BW_JSTR,
	BW_JNUM,
	BW_JTRUE,
	BW_JFALSE,
	BW_JNULL,
	BW_JOBJ,
	BW_JARR,
};

struct bw_jval {
	enum bw_jtype type;
	const char *p; /* BW_JSTR: inside the quotes (escaped); others: the whole value text */
	size_t n;
};

/*
 * Find the value at path in doc. Path components are separated by '.'; on an
 * array a component must be a decimal index. The empty path is the document.
 * Returns BW_OK and fills *out, BW_ENOENT when a component is missing (or
 * indexes something that is not an object/array), BW_EMALF when the part of
 * the document walked is not valid JSON (or nests deeper than the bound).
 */
int bw_jsonread_get(const char *doc, size_t n, const char *path, struct bw_jval *out);

/* BW_OK if doc is exactly one valid JSON value (surrounding white space allowed). */
int bw_jsonread_validate(const char *doc, size_t n);

/*
 * Decode a string value (or, for numbers/true/false/null, copy its text)
 * into out, NUL-terminated, at most cap - 1 bytes; never cut inside a UTF-8
 * sequence. Returns the number of bytes written (not counting the NUL);
 * *truncated (may be NULL) says whether some of the value did not fit.
 * Objects, arrays and BW_JNONE give "" (0).
 */
size_t bw_jval_text(const struct bw_jval *v, char *out, size_t cap, bool *truncated);

/* Shorthand: bw_jsonread_get() then bw_jval_text(); 0 and "" when absent. */
size_t bw_jsonread_text(const char *doc, size_t n, const char *path, char *out, size_t cap);

/* A non-negative integer value (number without fraction/exponent, or a
 * string of digits). false if absent, negative, fractional or > UINT64_MAX. */
bool bw_jval_u64(const struct bw_jval *v, uint64_t *out);

/*
 * Iterate the elements of an array (or the values of an object; then
 * key, when non-NULL, receives the member's key as a BW_JSTR). Start with
 * bw_jiter_init(&it, &arr); bw_jiter_next() returns true per element and
 * false at the end or on malformed input (it->err then says BW_EMALF).
 */
struct bw_jiter {
	const char *p, *end;
	enum bw_jtype kind;
	bool first;
	int err;
};
void bw_jiter_init(struct bw_jiter *it, const struct bw_jval *container);
bool bw_jiter_next(struct bw_jiter *it, struct bw_jval *key, struct bw_jval *val);

#endif /* BW_JSONREAD_H */
