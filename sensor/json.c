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
	j->cap = 4096;
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

static bool reserve(struct bw_json *j, size_t more)
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


static void put_escaped(struct bw_json *j, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	putc_(j, '"');
	size_t i = 0;
	while (i < n && j->err == BW_OK) {
		/* copy a run of plain ASCII at once */
		size_t run = i;
		while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
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

/* Comma and key before a value. */
static void member(struct bw_json *j, const char *key)
{
	if (j->err != BW_OK)
		return;
	if (!j->first[j->depth])
		putc_(j, ',');
	j->first[j->depth] = false;
	if (key) {
		put_escaped(j, key, strlen(key));
		putc_(j, ':');
	}
}

static void open_(struct bw_json *j, const char *key, char c)
{
	member(j, key);
	if (j->depth + 1 >= BW_JSON_MAX_DEPTH) {
		if (j->err == BW_OK)
			j->err = BW_ELIMIT;
		return;
	}
	putc_(j, c);
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

void bw_json_obj_begin(struct bw_json *j, const char *key) { open_(j, key, '{'); }
void bw_json_obj_end(struct bw_json *j) { close_(j, '}'); }
void bw_json_arr_begin(struct bw_json *j, const char *key) { open_(j, key, '['); }
void bw_json_arr_end(struct bw_json *j) { close_(j, ']'); }

void bw_json_strn(struct bw_json *j, const char *key, const char *s, size_t n)
{
	member(j, key);
	put_escaped(j, s ? s : "", s ? n : 0);
}

void bw_json_str(struct bw_json *j, const char *key, const char *s)
{
	bw_json_strn(j, key, s, s ? strlen(s) : 0);
}

void bw_json_u64(struct bw_json *j, const char *key, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	member(j, key);
	put(j, tmp, (size_t)n);
}

void bw_json_i64(struct bw_json *j, const char *key, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	member(j, key);
	put(j, tmp, (size_t)n);
}

void bw_json_double(struct bw_json *j, const char *key, double v)
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

void bw_json_bool(struct bw_json *j, const char *key, bool v)
{
	member(j, key);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void bw_json_null(struct bw_json *j, const char *key)
{
	member(j, key);
	put(j, "null", 4);
}

void bw_json_hex(struct bw_json *j, const char *key, const uint8_t *p, size_t n)
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

void bw_json_strf(struct bw_json *j, const char *key, const char *fmt, ...)
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
	bw_json_strn(j, key, tmp, (size_t)n);
}

char *bw_time_rfc3339(bw_time_t t, char *out, size_t cap)
{
	time_t sec = (time_t)(t / BW_NSEC_PER_SEC);
	unsigned usec = (unsigned)((t % BW_NSEC_PER_SEC) / 1000);
	struct tm tm;
	if (!gmtime_r(&sec, &tm)) {
		snprintf(out, cap, "1970-01-01T00:00:00.000000Z");
		return out;
	}
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
	return out;
}

void bw_json_time(struct bw_json *j, const char *key, bw_time_t t)
{
	char tmp[40];
	bw_json_str(j, key, bw_time_rfc3339(t, tmp, sizeof(tmp)));
}

void bw_json_ip(struct bw_json *j, const char *key, const struct bw_ip *ip)
{
	char tmp[64];
	bw_json_str(j, key, bw_ip_str(ip, tmp, sizeof(tmp)));
}
