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

struct bw_json {
	char *buf;
	size_t len, cap, max; /* max: hard cap on len (output bigger than this fails) */
	int err;
	int depth;
	bool first[BW_JSON_MAX_DEPTH]; /* no member written yet at this depth */
};

/* max_bytes: largest document accepted (e.g. 16 MiB). */
int bw_json_init(struct bw_json *j, size_t max_bytes);
void bw_json_deinit(struct bw_json *j);
void bw_json_reset(struct bw_json *j);
static inline bool bw_json_ok(const struct bw_json *j) { return j->err == BW_OK; }

/* key may be NULL inside arrays (and for the top-level value). */
void bw_json_obj_begin(struct bw_json *j, const char *key);
void bw_json_obj_end(struct bw_json *j);
void bw_json_arr_begin(struct bw_json *j, const char *key);
void bw_json_arr_end(struct bw_json *j);
void bw_json_str(struct bw_json *j, const char *key, const char *s);
void bw_json_strn(struct bw_json *j, const char *key, const char *s, size_t n);
void bw_json_u64(struct bw_json *j, const char *key, uint64_t v);
void bw_json_i64(struct bw_json *j, const char *key, int64_t v);
void bw_json_double(struct bw_json *j, const char *key, double v);
void bw_json_bool(struct bw_json *j, const char *key, bool v);
void bw_json_null(struct bw_json *j, const char *key);
/* v in decimal as a string value ("53"), and prefix + decimal ("TYPE65280",
 * prefix at most 32 bytes): the printf-free forms of bw_json_strf("%u"). */
void bw_json_u64_str(struct bw_json *j, const char *key, uint64_t v);
void bw_json_prefixed_u64_str(struct bw_json *j, const char *key, const char *prefix, uint64_t v);
/* Lower-case hex of bytes as a string value. */
void bw_json_hex(struct bw_json *j, const char *key, const uint8_t *p, size_t n);
/* printf-style string value (escaped like any other). */
void bw_json_strf(struct bw_json *j, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* RFC 3339 UTC with microseconds: "2024-01-02T03:04:05.123456Z". */
void bw_json_time(struct bw_json *j, const char *key, bw_time_t t);
/* An IP address as a string value. */
void bw_json_ip(struct bw_json *j, const char *key, const struct bw_ip *ip);

/* Format t like bw_json_time into out (>= 32 bytes). Returns out. */
char *bw_time_rfc3339(bw_time_t t, char *out, size_t cap);
/* An address as bw_json_ip writes it (the same text as inet_ntop, "-" for
 * no address) into out (cap >= 46 holds any). Returns out. */
char *bw_json_ip_text(const struct bw_ip *ip, char *out, size_t cap);

#endif /* BW_JSON_H */
