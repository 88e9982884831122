/* SPDX-License-Identifier: MIT */
/*
 * json.h: a small streaming JSON writer into a growable, capped buffer.
 *
 * Events are written as one object per line. The writer tracks nesting and
 * commas so callers only say what comes next. Strings are escaped so the
 * output is valid JSON whatever bytes they held: control characters as
 * \u00XX, invalid UTF-8 as U+FFFD. Errors are sticky (like parsers/wire.h):
 * check bw_json_ok() once at the end.
 *
 * Ownership: the writer owns buf; bw_json_deinit() frees it.
 */
#ifndef BW_JSON_H
#define BW_JSON_H

#include "bw.h"

#define BW_JSON_MAX_DEPTH 32

#define BW_JSON_KEY_CACHE 256 /* slots, a power of two */

struct bw_json {
	char *buf;
	size_t len, cap, max; /* max: hard cap on len (output bigger than this fails) */
	int err;
	int depth;
	bool first[BW_JSON_MAX_DEPTH]; /* no member written yet at this depth */
	struct {
		const char *s; /* a literal key, or NULL */
		uint32_t len;
		bool plain;
	} key_cache[BW_JSON_KEY_CACHE]; /* direct-mapped by address (json.h, "Keys") */
};

/* max_bytes: largest document accepted (e.g. 16 MiB). */
int bw_json_init(struct bw_json *j, size_t max_bytes);
void bw_json_deinit(struct bw_json *j);
void bw_json_reset(struct bw_json *j);
static inline bool bw_json_ok(const struct bw_json *j) { return j->err == BW_OK; }

/*
 * Keys. key may be NULL inside arrays (and for the top-level value). The
 * public names below are macros that wrap the key. A key the compiler
 * knows (a string literal: every key in the tree but the stats event's
 * table and anomaly names) is measured and checked once per writer and
 * then copied from a small cache by its address, so such a key must point
 * to text that never changes. Any other key is measured and checked, and
 * escaped if need be, each time it is written. The wrapper evaluates key
 * once. Measuring literal keys on every member was a fifth of writing an
 * event, and events are a third of a worker's instructions on the bench.
 */
struct bw_json_key {
	const char *s; /* NULL: no key */
	bool lit;      /* known to the compiler: immutable text */
};
#define BW_JSON_KEY(k) ((struct bw_json_key){ .s = (k), .lit = __builtin_constant_p(k) })

void bw_json_obj_begin_k(struct bw_json *j, struct bw_json_key key);
void bw_json_obj_end(struct bw_json *j);
void bw_json_arr_begin_k(struct bw_json *j, struct bw_json_key key);
void bw_json_arr_end(struct bw_json *j);
void bw_json_str_k(struct bw_json *j, struct bw_json_key key, const char *s);
void bw_json_strn_k(struct bw_json *j, struct bw_json_key key, const char *s, size_t n);
void bw_json_u64_k(struct bw_json *j, struct bw_json_key key, uint64_t v);
void bw_json_i64_k(struct bw_json *j, struct bw_json_key key, int64_t v);
void bw_json_double_k(struct bw_json *j, struct bw_json_key key, double v);
void bw_json_bool_k(struct bw_json *j, struct bw_json_key key, bool v);
void bw_json_null_k(struct bw_json *j, struct bw_json_key key);
/* v in decimal as a string value ("53"), and prefix + decimal ("TYPE65280",
 * prefix at most 32 bytes): the printf-free forms of bw_json_strf("%u"). */
void bw_json_u64_str_k(struct bw_json *j, struct bw_json_key key, uint64_t v);
void bw_json_prefixed_u64_str_k(struct bw_json *j, struct bw_json_key key, const char *prefix, uint64_t v);
/* Lower-case hex of bytes as a string value. */
void bw_json_hex_k(struct bw_json *j, struct bw_json_key key, const uint8_t *p, size_t n);
/* printf-style string value (escaped like any other). */
void bw_json_strf_k(struct bw_json *j, struct bw_json_key key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* RFC 3339 UTC with microseconds: "2024-01-02T03:04:05.123456Z". */
void bw_json_time_k(struct bw_json *j, struct bw_json_key key, bw_time_t t);
/* An IP address as a string value, in bw_ip_text's form (bw.h). */
void bw_json_ip_k(struct bw_json *j, struct bw_json_key key, const struct bw_ip *ip);

#define bw_json_obj_begin(j, key) bw_json_obj_begin_k((j), BW_JSON_KEY(key))
#define bw_json_arr_begin(j, key) bw_json_arr_begin_k((j), BW_JSON_KEY(key))
#define bw_json_str(j, key, s) bw_json_str_k((j), BW_JSON_KEY(key), (s))
#define bw_json_strn(j, key, s, n) bw_json_strn_k((j), BW_JSON_KEY(key), (s), (n))
#define bw_json_u64(j, key, v) bw_json_u64_k((j), BW_JSON_KEY(key), (v))
#define bw_json_i64(j, key, v) bw_json_i64_k((j), BW_JSON_KEY(key), (v))
#define bw_json_double(j, key, v) bw_json_double_k((j), BW_JSON_KEY(key), (v))
#define bw_json_bool(j, key, v) bw_json_bool_k((j), BW_JSON_KEY(key), (v))
#define bw_json_null(j, key) bw_json_null_k((j), BW_JSON_KEY(key))
#define bw_json_u64_str(j, key, v) bw_json_u64_str_k((j), BW_JSON_KEY(key), (v))
#define bw_json_prefixed_u64_str(j, key, prefix, v) bw_json_prefixed_u64_str_k((j), BW_JSON_KEY(key), (prefix), (v))
#define bw_json_hex(j, key, p, n) bw_json_hex_k((j), BW_JSON_KEY(key), (p), (n))
#define bw_json_strf(j, key, ...) bw_json_strf_k((j), BW_JSON_KEY(key), __VA_ARGS__)
#define bw_json_time(j, key, t) bw_json_time_k((j), BW_JSON_KEY(key), (t))
#define bw_json_ip(j, key, ip) bw_json_ip_k((j), BW_JSON_KEY(key), (ip))

/* Format t like bw_json_time into out (>= 32 bytes). Returns out. */
char *bw_time_rfc3339(bw_time_t t, char *out, size_t cap);

#endif /* BW_JSON_H */
