/* SPDX-License-Identifier: MIT */
/*
 * fmt_syslog.c: RFC 5424 / RFC 3164 message layout and the escaper every SIEM
 * formatter uses. The point is that an attacker who controls a DNS name, an
 * SNI or a certificate subject cannot forge a second syslog message, a
 * structured-data parameter, a CEF/LEEF field or a JSON key: each output
 * unit (a character, an escape, a UTF-8 sequence) is appended whole or not at
 * all, so cutting a message to the transport's size limit leaves a valid
 * prefix, and every character that is a separator in the target format is
 * escaped or replaced. Messages are built in the sink thread's buffer; no
 * allocation.
 */
#include "fmt_syslog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmt_cef.h"
#include "fmt_leef.h"
#include "json.h"
#include "jsonread.h"

bool bw_sb_put(struct bw_strbuf *b, const void *s, size_t n)
{
	if (b->full || n > b->cap - b->len) {
		b->full = true;
		return false;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return true;
}

bool bw_sb_puts(struct bw_strbuf *b, const char *s) { return bw_sb_put(b, s, strlen(s)); }

bool bw_sb_putc(struct bw_strbuf *b, char c) { return bw_sb_put(b, &c, 1); }

bool bw_sb_printf(struct bw_strbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->full = true;
		return false;
	}
	return bw_sb_put(b, tmp, (size_t)n);
}


bool bw_sb_put_utf8_prefix(struct bw_strbuf *b, const char *s, size_t n)
{
	if (b->full)
		return false;
	size_t room = b->cap - b->len;
	if (n <= room)
		return bw_sb_put(b, s, n);
	size_t cut = room;
	/* back off continuation bytes so the cut lands on a sequence start */
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	memcpy(b->p + b->len, s, cut);
	b->len += cut;
	b->full = true;
	return false;
}

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

bool bw_sb_escape(struct bw_strbuf *b, const char *s, size_t n, enum bw_esc mode, size_t max_out)
{
	size_t written = 0, i = 0;
	while (i < n) {
		uint32_t cp = 0;
		size_t l = bw_utf8_decode((const uint8_t *)s + i, n - i, &cp);
		const char *unit = s + i;
		size_t ulen = l;
		char tmp[2];
		bool invalid = l == 0;
		if (invalid)
			l = 1;
		if (mode == BW_ESC_ASCII) {
			tmp[0] = (!invalid && cp >= 33 && cp <= 126) ? (char)cp : '_';
			unit = tmp;
			ulen = 1;
		} else if (invalid) {
			unit = REPLACEMENT;
			ulen = 3;
		} else if (is_control(cp)) {
			if (mode == BW_ESC_CEF_EXT && (cp == '\n' || cp == '\r')) {
				tmp[0] = '\\';
				tmp[1] = cp == '\n' ? 'n' : 'r';
				unit = tmp;
				ulen = 2;
			} else {
				unit = REPLACEMENT;
				ulen = 3;
			}
		} else if ((mode == BW_ESC_SD && (cp == '"' || cp == '\\' || cp == ']')) ||
			   (mode == BW_ESC_CEF_HDR && (cp == '|' || cp == '\\')) ||
			   (mode == BW_ESC_CEF_EXT && (cp == '\\' || cp == '='))) {
			tmp[0] = '\\';
			tmp[1] = (char)cp;
			unit = tmp;
			ulen = 2;
		} else if (mode == BW_ESC_LEEF_HDR && (cp == '|' || cp == '^')) {
			tmp[0] = '_';
			unit = tmp;
			ulen = 1;
		}
		if (max_out && written + ulen > max_out)
			return false;
		if (!bw_sb_put(b, unit, ulen))
			return false;
		written += ulen;
		i += l;
	}
	return true;
}

/* ---- event view ---- */

unsigned bw_fmt_alert_severity(const struct bw_fmt_event *e)
{
	if (e->type != BW_EV_ALERT)
		return 0;
	struct bw_jval v;
	uint64_t s;
	if (bw_jsonread_get(e->json, e->json_len, "event.severity", &v) != BW_OK || !bw_jval_u64(&v, &s))
		return 0;
	return s >= 1 && s <= 4 ? (unsigned)s : s > 4 ? 4 : 0;
}

size_t bw_fmt_event_type_name(const struct bw_fmt_event *e, char *out, size_t cap)
{
	const char *n;
	switch (e->type) {
	case BW_EV_ALERT: {
		size_t l = bw_jsonread_text(e->json, e->json_len, "rule.name", out, cap);
		if (l)
			return l;
		n = "alert";
		break;
	}
	case BW_EV_DNS: n = "dns"; break;
	case BW_EV_TLS: n = "tls"; break;
	case BW_EV_X509: n = "x509"; break;
	case BW_EV_STATS: n = "stats"; break;
	default: n = "event"; break;
	}
	return (size_t)snprintf(out, cap, "%s", n) < cap ? strlen(out) : 0;
}

size_t bw_fmt_field(const struct bw_fmt_event *e, const char *path, char *out, size_t cap)
{
	struct bw_jval v;
	if (cap == 0)
		return 0;
	out[0] = '\0';
	if (bw_jsonread_get(e->json, e->json_len, path, &v) != BW_OK)
		return 0;
	if (v.type != BW_JARR)
		return bw_jval_text(&v, out, cap, NULL);
	struct bw_jiter it;
	struct bw_jval el;
	size_t len = 0;
	bw_jiter_init(&it, &v);
	for (unsigned i = 0; i < 1024 && bw_jiter_next(&it, NULL, &el); i++) {
		if (el.type == BW_JOBJ || el.type == BW_JARR)
			continue;
		size_t before = len;
		if (len) {
			if (len + 2 >= cap)
				break;
			out[len++] = ',';
		}
		bool t;
		len += bw_jval_text(&el, out + len, cap - len, &t);
		if (t) {
			/* a cut element would read as a different value: drop it */
			len = before;
			break;
		}
	}
	out[len] = '\0';
	return len;
}

static bw_time_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (bw_time_t)ts.tv_sec * BW_NSEC_PER_SEC + (bw_time_t)ts.tv_nsec;
}

uint64_t bw_fmt_epoch_ms(const struct bw_fmt_event *e) { return (e->ts ? e->ts : now_ns()) / BW_NSEC_PER_MSEC; }

/* ---- header ---- */

static bool put_field(struct bw_strbuf *b, const char *s, size_t maxlen)
{
	if (!s || !*s)
		return bw_sb_putc(b, '-');
	size_t n = strnlen(s, 4096);
	return bw_sb_escape(b, s, n, BW_ESC_ASCII, maxlen);
}

bool bw_syslog_header(struct bw_strbuf *b, const struct bw_syslog_hdr *h)
{
	unsigned pri = (h->facility > 23 ? 23 : h->facility) * 8 + (h->severity > 7 ? 7 : h->severity);
	if (h->layout == BW_SYSLOG_RFC3164) {
		static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
						   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
		bw_time_t t = h->ts ? h->ts : now_ns();
		time_t secs = (time_t)(t / BW_NSEC_PER_SEC);
		struct tm tm;
		gmtime_r(&secs, &tm);
		bw_sb_printf(b, "<%u>%s %2d %02d:%02d:%02d ", pri, mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec);
		put_field(b, h->hostname, 255);
		bw_sb_putc(b, ' ');
		/* TAG: alphanumeric, at most 32 characters (RFC 3164 4.1.3) */
		const char *tag = h->app_name && *h->app_name ? h->app_name : "bindwatch";
		size_t tn = 0;
		for (const char *p = tag; *p && tn < 32; p++, tn++) {
			char c = *p;
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
				  c == '_' || c == '.';
			bw_sb_putc(b, ok ? c : '_');
		}
		if (h->procid && *h->procid) {
			bw_sb_putc(b, '[');
			for (const char *p = h->procid; *p && p - h->procid < 16; p++)
				bw_sb_putc(b, (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ? *p : '_');
			bw_sb_putc(b, ']');
		}
		return bw_sb_putc(b, ':');
	}
	bw_sb_printf(b, "<%u>1 ", pri);
	if (h->ts) {
		char ts[40];
		bw_sb_puts(b, bw_time_rfc3339(h->ts, ts, sizeof(ts)));
	} else {
		bw_sb_putc(b, '-');
	}
	bw_sb_putc(b, ' ');
	put_field(b, h->hostname, 255);
	bw_sb_putc(b, ' ');
	put_field(b, h->app_name, 48);
	bw_sb_putc(b, ' ');
	put_field(b, h->procid, 128);
	bw_sb_putc(b, ' ');
	return put_field(b, h->msgid, 32);
}

/* SD-NAME: PRINTUSASCII except '=', SP, ']', '"'; 1..32 characters. */
static bool put_sd_name(struct bw_strbuf *b, const char *s)
{
	size_t n = 0;
	for (; s[n] && n < 32; n++) {
		char c = s[n];
		bool ok = c > 32 && c < 127 && c != '=' && c != ']' && c != '"';
		if (!bw_sb_putc(b, ok ? c : '_'))
			return false;
	}
	return n > 0 || bw_sb_putc(b, '_');
}

bool bw_syslog_sd_open(struct bw_strbuf *b, const char *sd_id)
{
	bw_sb_putc(b, '[');
	return put_sd_name(b, sd_id && *sd_id ? sd_id : BW_SYSLOG_SD_ID);
}

bool bw_syslog_sd_param(struct bw_strbuf *b, const char *name, const char *v, size_t vn, size_t max_out)
{
	bw_sb_putc(b, ' ');
	put_sd_name(b, name);
	bw_sb_puts(b, "=\"");
	bw_sb_escape(b, v, vn, BW_ESC_SD, max_out);
	return bw_sb_putc(b, '"');
}

bool bw_syslog_sd_close(struct bw_strbuf *b) { return bw_sb_putc(b, ']'); }

unsigned bw_syslog_severity(const struct bw_fmt_event *e)
{
	static const unsigned map[5] = { 4, 5, 4, 3, 2 }; /* unknown → warning; 1 notice .. 4 critical */
	if (e->type != BW_EV_ALERT)
		return 6;
	return map[bw_fmt_alert_severity(e)];
}

int bw_syslog_facility_parse(const char *s)
{
	static const char *const names[24] = {
		"kern",	 "user",   "mail",   "daemon", "auth",	 "syslog", "lpr",    "news",
		"uucp",	 "cron",   "authpriv", "ftp",  "ntp",	 "audit",  "alert",  "clock",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
	};
	if (!s || !*s)
		return -1;
	for (int i = 0; i < 24; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	if (strcmp(s, "security") == 0)
		return 4;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || end == s || v < 0 || v > 23)
		return -1;
	return (int)v;
}

/* ---- whole messages ---- */

struct sd_field {
	const char *name;
	const char *path;
};

static const struct sd_field SD_ALERT[] = {
	{ "id", "event.id" },
	{ "severity", "event.severity" },
	{ "name", "bindwatch.alert.name" },
	{ "address", "bindwatch.alert.address" },
	{ "port", "bindwatch.alert.port" },
	{ "dedup", "bindwatch.alert.dedup_key" },
	{ "repeats", "bindwatch.alert.repeats" },
	{ "src", "source.ip" },
	{ "dst", "destination.ip" },
	{ "dpt", "destination.port" },
	{ "sni", "tls.client.server_name" },
	{ "qname", "dns.question.name" },
};

static const struct sd_field SD_EVENT[] = {
	{ "id", "event.id" },
	{ "src", "source.ip" },
	{ "dst", "destination.ip" },
	{ "dpt", "destination.port" },
	{ "sni", "tls.client.server_name" },
	{ "qname", "dns.question.name" },
	{ "sha256", "bindwatch.x509.sha256" },
};

#define SD_VALUE_MAX 256

static void put_sd(struct bw_strbuf *b, const struct bw_syslog_opts *o, const struct bw_fmt_event *e,
		   const char *type, bool minimal)
{
	char v[SD_VALUE_MAX + 1];
	bw_syslog_sd_open(b, o->sd_id);
	size_t n = bw_jsonread_text(e->json, e->json_len, "event.id", v, sizeof(v));
	if (n)
		bw_syslog_sd_param(b, "id", v, n, SD_VALUE_MAX);
	bw_syslog_sd_param(b, "type", type, strlen(type), 64);
	n = bw_jsonread_text(e->json, e->json_len, "event.dataset", v, sizeof(v));
	if (n)
		bw_syslog_sd_param(b, "dataset", v, n, 64);
	if (!minimal) {
		const struct sd_field *f = e->type == BW_EV_ALERT ? SD_ALERT : SD_EVENT;
		size_t nf = e->type == BW_EV_ALERT ? BW_ARRAY_SIZE(SD_ALERT) : BW_ARRAY_SIZE(SD_EVENT);
		for (size_t i = 1; i < nf; i++) { /* [0] is the id, written above */
			n = bw_jsonread_text(e->json, e->json_len, f[i].path, v, sizeof(v));
			if (n)
				bw_syslog_sd_param(b, f[i].name, v, n, SD_VALUE_MAX);
		}
	}
	bw_syslog_sd_close(b);
}

/* The JSON document, or its longest prefix that ends neither inside a
 * UTF-8 sequence nor inside a JSON escape (\" \\ \uXXXX). */
static bool put_json_prefix(struct bw_strbuf *b, const char *s, size_t n)
{
	if (b->full)
		return false;
	size_t room = b->cap - b->len;
	if (n <= room)
		return bw_sb_put(b, s, n);
	size_t i = 0;
	while (i < room) {
		size_t u = 1;
		unsigned char c = (unsigned char)s[i];
		if (c == '\\')
			u = i + 1 < n && s[i + 1] == 'u' ? 6 : 2;
		else if (c >= 0x80) {
			uint32_t cp;
			u = bw_utf8_decode((const uint8_t *)s + i, n - i, &cp);
			if (u == 0)
				u = 1;
		}
		if (i + u > room)
			break;
		i += u;
	}
	bw_sb_put(b, s, i);
	b->full = true;
	return false;
}

static bool put_payload(struct bw_strbuf *b, const struct bw_syslog_opts *o, const struct bw_fmt_event *e)
{
	switch (o->payload) {
	case BW_PAYLOAD_CEF: return bw_fmt_cef(b, e);
	case BW_PAYLOAD_LEEF: return bw_fmt_leef(b, e);
	case BW_PAYLOAD_JSON:
	default: return put_json_prefix(b, e->json, e->json_len);
	}
}

/* Header and structured data, then the separator before MSG. */
static bool put_head(struct bw_strbuf *b, const struct bw_syslog_opts *o, const struct bw_fmt_event *e, bool minimal)
{
	char type[64];
	bw_fmt_event_type_name(e, type, sizeof(type));
	struct bw_syslog_hdr h = {
		.layout = o->layout,
		.facility = o->facility,
		.severity = bw_syslog_severity(e),
		.ts = e->ts,
		.hostname = o->hostname,
		.app_name = o->app_name && *o->app_name ? o->app_name : "bindwatch",
		.procid = o->procid,
		.msgid = type,
	};
	bw_syslog_header(b, &h);
	if (o->layout == BW_SYSLOG_RFC5424) {
		bw_sb_putc(b, ' ');
		put_sd(b, o, e, type, minimal);
		bw_sb_putc(b, ' ');
		if (o->bom)
			bw_sb_put(b, "\xEF\xBB\xBF", 3);
	} else {
		bw_sb_putc(b, ' ');
	}
	return !b->full;
}

size_t bw_syslog_message(char *mem, size_t cap, const struct bw_syslog_opts *o, const struct bw_fmt_event *e,
			 bool *truncated)
{
	size_t max = BW_MIN(cap, o->max_size ? o->max_size : cap);
	size_t mark = strlen(BW_SYSLOG_TRUNC_MARK);
	struct bw_strbuf b;
	if (truncated)
		*truncated = false;
	if (max <= mark)
		return 0;
	for (int minimal = 0; minimal < 2; minimal++) {
		bw_sb_init(&b, mem, max);
		if (!put_head(&b, o, e, minimal))
			continue;
		size_t head = b.len;
		if (put_payload(&b, o, e))
			return b.len;
		/* too long: again with room for the marker, then the marker */
		bw_sb_init(&b, mem, max - mark);
		if (!put_head(&b, o, e, minimal) || b.len != head)
			continue;
		put_payload(&b, o, e);
		b.cap = max;
		b.full = false;
		bw_sb_puts(&b, BW_SYSLOG_TRUNC_MARK);
		if (truncated)
			*truncated = true;
		return b.len;
	}
	return 0;
}
