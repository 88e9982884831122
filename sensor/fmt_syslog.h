/* SPDX-License-Identifier: MIT */
/*
 * fmt_syslog.h: syslog message layout for the SIEM sinks: the RFC 5424 and
 * RFC 3164 headers, RFC 5424 STRUCTURED-DATA, and the whole message (header,
 * structured data, CEF / LEEF / JSON payload) cut to a size limit.
 *
 * Also the pieces the CEF and LEEF formatters share: a fixed-capacity string
 * buffer whose appends are all-or-nothing (so a message cut at the limit
 * never ends inside an escape sequence or a UTF-8 sequence), and one escaper
 * with a mode per format. Every string that came off the wire goes through
 * the escaper: after it, a value cannot hold a raw CR, LF, NUL or other
 * control character, invalid UTF-8 (replaced by U+FFFD), or an unescaped
 * separator of the format it is written into.
 */
#ifndef BW_FMT_SYSLOG_H
#define BW_FMT_SYSLOG_H

#include "bw.h"
#include "sink.h"

/* ---- bounded string buffer ---- */

struct bw_strbuf {
	char *p;    /* caller's storage */
	size_t len; /* bytes written */
	size_t cap; /* bytes p can hold (no NUL is kept) */
	bool full;  /* an append did not fit (and was not made) */
};

static inline void bw_sb_init(struct bw_strbuf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->len = 0;
	b->cap = cap;
	b->full = false;
}
/* Append all n bytes or none (then b->full is set). */
bool bw_sb_put(struct bw_strbuf *b, const void *s, size_t n);
bool bw_sb_puts(struct bw_strbuf *b, const char *s);
bool bw_sb_putc(struct bw_strbuf *b, char c);
bool bw_sb_printf(struct bw_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append the longest prefix of s[0..n) that fits and ends on a UTF-8
 * sequence boundary; returns true if all of it fitted. */
bool bw_sb_put_utf8_prefix(struct bw_strbuf *b, const char *s, size_t n);

/* ---- escaping ---- */

enum bw_esc {
	BW_ESC_TEXT,     /* free text: control characters become U+FFFD */
	BW_ESC_SD,       /* RFC 5424 PARAM-VALUE: \" \\ \] (the only escapes it has) */
	BW_ESC_CEF_HDR,  /* CEF header field: \| \\ */
	BW_ESC_CEF_EXT,  /* CEF extension value: \\ \= \n \r */
	BW_ESC_LEEF,     /* LEEF attribute value: no escape syntax; TAB (our delimiter) and controls become U+FFFD */
	BW_ESC_LEEF_HDR, /* LEEF header field: '|' and '^' become '_' as well */
	BW_ESC_ASCII,    /* syslog header field / SD-NAME: PRINTUSASCII only, anything else becomes '_' */
};

/*
 * Append s[0..n) escaped for mode. Invalid UTF-8 becomes U+FFFD (ASCII mode:
 * '_'); C0 and C1 controls, DEL, U+2028 and U+2029 become U+FFFD (except CR
 * and LF in CEF extensions, which have escapes). At most max_out bytes of
 * output are written (0: no limit); an escape or a UTF-8 sequence is never
 * split. Returns true if all of s was written.
 */
bool bw_sb_escape(struct bw_strbuf *b, const char *s, size_t n, enum bw_esc mode, size_t max_out);

/* ---- event view shared by the formatters ---- */

struct bw_fmt_event {
	enum bw_event_type type;
	bw_time_t ts;      /* event time; 0: now */
	const char *json;  /* the ECS document (borrowed) */
	size_t json_len;
	const char *hostname; /* the sensor's name (dvchost), may be NULL */
};

/* event.severity of an alert (1 low .. 4 critical), 0 when absent or not an alert. */
unsigned bw_fmt_alert_severity(const struct bw_fmt_event *e);
/* Short type name: rule.name for alerts, else "dns", "tls", "x509", "stats". */
size_t bw_fmt_event_type_name(const struct bw_fmt_event *e, char *out, size_t cap);
/*
 * Text of the field at a dotted path (see jsonread.h): strings decoded,
 * numbers and booleans as written, an array of scalars joined with ','.
 * Returns the length, 0 (and "") when absent. Hostile bytes are kept:
 * escape before writing.
 */
size_t bw_fmt_field(const struct bw_fmt_event *e, const char *path, char *out, size_t cap);
/* Milliseconds since the epoch of e->ts (or of now when 0). */
uint64_t bw_fmt_epoch_ms(const struct bw_fmt_event *e);

/* ---- syslog header ---- */

enum bw_syslog_layout {
	BW_SYSLOG_RFC5424 = 0,
	BW_SYSLOG_RFC3164,
};

#define BW_SYSLOG_FACILITY_DEFAULT 16 /* local0 */
#define BW_SYSLOG_SD_ID "bindwatch@32473" /* 32473: the documentation PEN (RFC 5612) */

struct bw_syslog_hdr {
	enum bw_syslog_layout layout;
	unsigned facility; /* 0..23 */
	unsigned severity; /* 0..7 */
	bw_time_t ts;      /* 0: NILVALUE in RFC 5424, now in RFC 3164 */
	const char *hostname, *app_name, *procid, *msgid; /* NULL or "": "-" (5424) */
};

/*
 * RFC 5424: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID" (no trailing
 * space). RFC 3164: "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PROCID]:" with the
 * time in UTC. Fields are cut to their RFC lengths and reduced to
 * PRINTUSASCII.
 */
bool bw_syslog_header(struct bw_strbuf *b, const struct bw_syslog_hdr *h);

/* STRUCTURED-DATA element: open "[ID", params ' NAME="VALUE"', close "]". */
bool bw_syslog_sd_open(struct bw_strbuf *b, const char *sd_id);
bool bw_syslog_sd_param(struct bw_strbuf *b, const char *name, const char *v, size_t vn, size_t max_out);
bool bw_syslog_sd_close(struct bw_strbuf *b);

/* Syslog severity (0..7) for an event: alerts by their severity (4 crit, 3 err, 2 warning, 1 notice), others info. */
unsigned bw_syslog_severity(const struct bw_fmt_event *e);
/* Facility by name ("local0", "daemon", ...) or number 0..23; -1 if unknown. */
int bw_syslog_facility_parse(const char *s);

/* ---- whole messages ---- */

enum bw_payload {
	BW_PAYLOAD_JSON = 0,
	BW_PAYLOAD_CEF,
	BW_PAYLOAD_LEEF,
};

struct bw_syslog_opts {
	enum bw_syslog_layout layout;
	enum bw_payload payload;
	unsigned facility;
	const char *hostname, *app_name, *procid;
	const char *sd_id; /* NULL: BW_SYSLOG_SD_ID */
	bool bom;          /* RFC 5424: put the UTF-8 BOM before MSG (default on) */
	size_t max_size;   /* largest message, in bytes (>= BW_SYSLOG_MIN_SIZE) */
};

#define BW_SYSLOG_MIN_SIZE 480
#define BW_SYSLOG_TRUNC_MARK " [truncated]"

/*
 * Write the complete syslog message for e into mem[0..cap) (cap >=
 * o->max_size). A message longer than max_size is cut inside its payload on
 * an escape / UTF-8 boundary and ends with BW_SYSLOG_TRUNC_MARK; the header
 * and structured data are never cut (if they alone do not fit, the
 * structured data is reduced to the event's id and type). Returns the
 * message length, or 0 if even that does not fit.
 * *truncated (may be NULL) says whether the payload was cut.
 */
size_t bw_syslog_message(char *mem, size_t cap, const struct bw_syslog_opts *o, const struct bw_fmt_event *e,
			 bool *truncated);

#endif /* BW_FMT_SYSLOG_H */
