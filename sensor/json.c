/* SPDX-License-Identifier: MIT */
/*
 * json.c: streaming JSON writer. Everything an event carries came off the
 * wire, so escaping is the point of this module: the output must stay one
 * valid JSON line whatever a DNS name or certificate subject contains. The
 * buffer grows geometrically up to a cap; one event rarely needs more than a
 * few KiB, so after warm-up the writer does not allocate.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int bw_json_init(struct bw_json *j, size_t max_bytes)
{
	memset(j, 0, sizeof(*j));
	j->max = max_bytes ? max_bytes : (16u << 20);
	j->cap = BW_MIN((size_t)4096, j->max); /* cap <= max: reserve's fast test relies on it */
	j->buf = malloc(j->cap);
	if (!j->buf) {
		j->cap = 0;
		j->err = BW_ENOMEM;
		return BW_ENOMEM;
	}
	j->buf[0] = '\0';
	j->first[0] = true;
	return BW_OK;
}

void bw_json_deinit(struct bw_json *j)
{
	if (!j)
		return;
	free(j->buf);
	j->buf = NULL;
	j->cap = j->len = 0;
}

void bw_json_reset(struct bw_json *j)
{
	j->len = 0;
	j->depth = 0;
	j->first[0] = true;
	if (j->buf)
		j->err = BW_OK;
	if (j->buf)
		j->buf[0] = '\0';
}

/* Room for more bytes and the NUL: grow, or fail at the cap. */
static bool reserve_grow(struct bw_json *j, size_t more)
{
	if (j->err != BW_OK)
		return false;
	if (more > j->max || j->len + more + 1 > j->max) {
		j->err = BW_ELIMIT;
		return false;
	}
	if (j->len + more + 1 <= j->cap)
		return true;
	size_t ncap = j->cap ? j->cap : 4096;
	while (ncap < j->len + more + 1)
		ncap *= 2;
	if (ncap > j->max)
		ncap = j->max;
	char *nb = realloc(j->buf, ncap);
	if (!nb) {
		j->err = BW_ENOMEM;
		return false;
	}
	j->buf = nb;
	j->cap = ncap;
	return true;
}

/* Inline: every member and value asks, and the buffer nearly always has room.
 * len < cap whenever err is BW_OK (the NUL), so the test cannot wrap, and
 * cap never exceeds max, so room within cap is within the cap. */
static inline bool reserve(struct bw_json *j, size_t more)
{
	if (bw_likely(j->err == BW_OK && more < j->cap - j->len))
		return true;
	return reserve_grow(j, more);
}

static void put(struct bw_json *j, const char *s, size_t n)
{
	if (!reserve(j, n))
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void putc_(struct bw_json *j, char c)
{
	if (!reserve(j, 1))
		return;
	j->buf[j->len++] = c;
	j->buf[j->len] = '\0';
}


/* Bytes a string can hold as they are: printable ASCII but the quote and
 * the backslash. One table load per byte instead of four comparisons. */
static const uint8_t plain_tab[256] = {
	[0x20 ... 0x21] = 1, /* 0x22 is the quote */
	[0x23 ... 0x5b] = 1, /* 0x5c is the backslash */
	[0x5d ... 0x7f] = 1,
};

/* s (n bytes, all plain) between quotes; the caller reserved n + 2. */
static inline void put_plain_quoted(struct bw_json *j, const char *s, size_t n)
{
	char *o = j->buf + j->len;
	*o++ = '"';
	memcpy(o, s, n);
	o[n] = '"';
	o[n + 1] = '\0';
	j->len += n + 2;
}

static void put_escaped(struct bw_json *j, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n && plain_tab[s[i]])
		i++;
	if (i == n) {
		/* the common case, all plain: one reserve, one copy */
		if (reserve(j, n + 2))
			put_plain_quoted(j, str, n);
		return;
	}
	putc_(j, '"');
	i = 0;
	while (i < n && j->err == BW_OK) {
		/* copy a run of plain ASCII at once */
		size_t run = i;
		while (run < n && plain_tab[s[run]])
			run++;
		if (run > i) {
			put(j, (const char *)s + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = s[i];
		char esc[8];
		switch (c) {
		case '"': put(j, "\\\"", 2); i++; continue;
		case '\\': put(j, "\\\\", 2); i++; continue;
		case '\n': put(j, "\\n", 2); i++; continue;
		case '\r': put(j, "\\r", 2); i++; continue;
		case '\t': put(j, "\\t", 2); i++; continue;
		default: break;
		}
		if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(j, esc, 6);
			i++;
			continue;
		}
		size_t l = bw_utf8_decode(s + i, n - i, NULL);
		if (l == 0) {
			put(j, "\\ufffd", 6);
			i++;
		} else {
			put(j, (const char *)s + i, l);
			i += l;
		}
	}
	putc_(j, '"');
}

/* Length of a key, and whether it is plain, so it can be copied as it is. */
static size_t key_measure(const unsigned char *k, bool *plain)
{
	size_t kl = 0;
	while (plain_tab[k[kl]])
		kl++;
	*plain = !k[kl];
	return *plain ? kl : kl + strlen((const char *)k + kl);
}

/* Comma and key before a value (and the opening bracket, if open is not
 * 0). A literal key is measured once (json.h, "Keys"); a plain key is
 * copied in one reserve and memcpy, any other goes through the escaper. */
static void member_open(struct bw_json *j, struct bw_json_key key, char open)
{
	if (j->err != BW_OK)
		return;
	bool comma = !j->first[j->depth];
	j->first[j->depth] = false;
	if (!key.s) {
		if (comma)
			putc_(j, ',');
		if (open)
			putc_(j, open);
		return;
	}
	const unsigned char *k = (const unsigned char *)key.s;
	size_t kl;
	bool plain;
	uintptr_t a = (uintptr_t)key.s;
	size_t slot = (size_t)((a ^ (a >> 8)) & (BW_JSON_KEY_CACHE - 1));
	if (key.lit && j->key_cache[slot].s == key.s) {
		kl = j->key_cache[slot].len;
		plain = j->key_cache[slot].plain;
	} else {
		kl = key_measure(k, &plain);
		if (key.lit && kl <= UINT32_MAX) {
			j->key_cache[slot].s = key.s;
			j->key_cache[slot].len = (uint32_t)kl;
			j->key_cache[slot].plain = plain;
		}
	}
	if (plain) {
		if (!reserve(j, kl + 5))
			return;
		char *o = j->buf + j->len;
		if (comma)
			*o++ = ',';
		*o++ = '"';
		memcpy(o, k, kl);
		o += kl;
		*o++ = '"';
		*o++ = ':';
		if (open)
			*o++ = open;
		*o = '\0';
		j->len = (size_t)(o - j->buf);
		return;
	}
	if (comma)
		putc_(j, ',');
	put_escaped(j, key.s, kl);
	putc_(j, ':');
	if (open)
		putc_(j, open);
}

static void member(struct bw_json *j, struct bw_json_key key) { member_open(j, key, 0); }

/* Decimal digits of v into the end of tmp[24]; returns the first digit. */
static char *u64_digits(uint64_t v, char tmp[24])
{
	char *p = tmp + 24;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}

static void open_(struct bw_json *j, struct bw_json_key key, char c)
{
	if (j->depth + 1 >= BW_JSON_MAX_DEPTH) {
		member(j, key);
		if (j->err == BW_OK)
			j->err = BW_ELIMIT;
		return;
	}
	member_open(j, key, c);
	if (j->err != BW_OK)
		return;
	j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct bw_json *j, char c)
{
	if (j->err != BW_OK)
		return;
	if (j->depth == 0) {
		j->err = BW_EINVAL;
		return;
	}
	putc_(j, c);
	j->depth--;
}

void bw_json_obj_begin_k(struct bw_json *j, struct bw_json_key key) { open_(j, key, '{'); }
void bw_json_obj_end(struct bw_json *j) { close_(j, '}'); }
void bw_json_arr_begin_k(struct bw_json *j, struct bw_json_key key) { open_(j, key, '['); }
void bw_json_arr_end(struct bw_json *j) { close_(j, ']'); }

void bw_json_strn_k(struct bw_json *j, struct bw_json_key key, const char *s, size_t n)
{
	member(j, key);
	put_escaped(j, s ? s : "", s ? n : 0);
}

void bw_json_str_k(struct bw_json *j, struct bw_json_key key, const char *s)
{
	member(j, key);
	if (!s)
		s = "";
	/* Measure and check in one pass (the table stops at the NUL), so a
	 * plain string, the common case, is read once before its copy. */
	size_t n = 0;
	while (plain_tab[(unsigned char)s[n]])
		n++;
	if (!s[n] && reserve(j, n + 2)) {
		put_plain_quoted(j, s, n);
		return;
	}
	put_escaped(j, s, n + strlen(s + n));
}

void bw_json_u64_k(struct bw_json *j, struct bw_json_key key, uint64_t v)
{
	char tmp[24];
	char *d = u64_digits(v, tmp);
	member(j, key);
	put(j, d, (size_t)(tmp + 24 - d));
}

void bw_json_u64_str_k(struct bw_json *j, struct bw_json_key key, uint64_t v)
{
	char tmp[26];
	char *d = u64_digits(v, tmp + 1);
	*--d = '"';
	tmp[25] = '"';
	member(j, key);
	put(j, d, (size_t)(tmp + 26 - d));
}

void bw_json_prefixed_u64_str_k(struct bw_json *j, struct bw_json_key key, const char *prefix, uint64_t v)
{
	char tmp[64];
	char dig[24];
	size_t pl = 0;
	while (prefix && pl < 32 && prefix[pl])
		pl++;
	char *d = u64_digits(v, dig);
	size_t dl = (size_t)(dig + 24 - d);
	if (pl)
		memcpy(tmp, prefix, pl);
	memcpy(tmp + pl, d, dl);
	bw_json_strn_k(j, key, tmp, pl + dl);
}

void bw_json_i64_k(struct bw_json *j, struct bw_json_key key, int64_t v)
{
	char tmp[24];
	/* the magnitude as unsigned: -INT64_MIN does not fit an int64_t */
	uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	char *d = u64_digits(m, tmp);
	if (v < 0)
		*--d = '-';
	member(j, key);
	put(j, d, (size_t)(tmp + 24 - d));
}

void bw_json_double_k(struct bw_json *j, struct bw_json_key key, double v)
{
	char tmp[40];
	int n;
	if (v != v || v > 1e300 || v < -1e300)
		n = snprintf(tmp, sizeof(tmp), "null");
	else
		n = snprintf(tmp, sizeof(tmp), "%.6g", v);
	member(j, key);
	put(j, tmp, (size_t)n);
}

void bw_json_bool_k(struct bw_json *j, struct bw_json_key key, bool v)
{
	member(j, key);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void bw_json_null_k(struct bw_json *j, struct bw_json_key key)
{
	member(j, key);
	put(j, "null", 4);
}

void bw_json_hex_k(struct bw_json *j, struct bw_json_key key, const uint8_t *p, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	member(j, key);
	if (!reserve(j, 2 * n + 2))
		return;
	char *o = j->buf + j->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		*o++ = hexd[p[i] >> 4];
		*o++ = hexd[p[i] & 15];
	}
	*o++ = '"';
	j->len += 2 * n + 2;
	j->buf[j->len] = '\0';
}

void bw_json_strf_k(struct bw_json *j, struct bw_json_key key, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	bw_json_strn_k(j, key, tmp, (size_t)n);
}

/* Civil date of a day count since 1970-01-01 (H. Hinnant's civil_from_days,
 * exact for every day a bw_time_t can name), so no gmtime_r or printf. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put2(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10 % 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" into o (28 bytes and a NUL); the year of a
 * bw_time_t is at most 2554, so it always has four digits. */
static size_t rfc3339(bw_time_t t, char *o)
{
	uint64_t sec = t / BW_NSEC_PER_SEC;
	unsigned usec = (unsigned)((t % BW_NSEC_PER_SEC) / 1000);
	int64_t y;
	unsigned mo, d;
	civil_from_days((int64_t)(sec / 86400), &y, &mo, &d);
	unsigned sod = (unsigned)(sec % 86400);
	char *p = o;
	p = put2(p, (unsigned)(y / 100));
	p = put2(p, (unsigned)(y % 100));
	*p++ = '-';
	p = put2(p, mo);
	*p++ = '-';
	p = put2(p, d);
	*p++ = 'T';
	p = put2(p, sod / 3600);
	*p++ = ':';
	p = put2(p, sod / 60 % 60);
	*p++ = ':';
	p = put2(p, sod % 60);
	*p++ = '.';
	p = put2(p, usec / 10000);
	p = put2(p, usec / 100 % 100);
	p = put2(p, usec % 100);
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - o);
}

char *bw_time_rfc3339(bw_time_t t, char *out, size_t cap)
{
	char tmp[32];
	size_t n = rfc3339(t, tmp);
	if (cap) {
		n = BW_MIN(n, cap - 1);
		memcpy(out, tmp, n);
		out[n] = '\0';
	}
	return out;
}

void bw_json_time_k(struct bw_json *j, struct bw_json_key key, bw_time_t t)
{
	char tmp[32];
	tmp[0] = '"';
	size_t n = rfc3339(t, tmp + 1);
	tmp[n + 1] = '"';
	member(j, key);
	put(j, tmp, n + 2);
}

void bw_json_ip_k(struct bw_json *j, struct bw_json_key key, const struct bw_ip *ip)
{
	char tmp[64];
	tmp[0] = '"';
	size_t n = bw_ip_text(ip, tmp + 1);
	tmp[n + 1] = '"';
	member(j, key);
	put(j, tmp, n + 2);
}

