// SPDX-License-Identifier: MIT
/*
 * starttls.c: locate the start of TLS inside plaintext protocols that
 * upgrade in place (SMTP, IMAP, POP3, FTP, LDAP). The TLS parser wants to
 * be handed the stream from the first record on, and these flows are
 * otherwise invisible to it; the cheapest correct answer is to follow just
 * enough of each protocol's dialogue to see the upgrade request and its
 * acceptance, line by line (message by message for LDAP's BER), without
 * buffering and under hard bounds, and to give up on anything else. The
 * request/reply pairing follows each protocol's own rules (reply counting,
 * tags, message ids), with a "looks like a TLS record" fallback at line
 * boundaries for captures that lost part of the dialogue.
 */
#include "starttls.h"

#include <string.h>

#include "tls.h"
#include "wire.h"

static const char ldap_starttls_oid[] = "1.3.6.1.4.1.1466.20037";

void bw_starttls_init(struct bw_starttls *s, enum bw_starttls_proto proto)
{
	if (!s)
		return;
	memset(s, 0, sizeof(*s));
	s->proto = proto;
}

enum bw_starttls_proto bw_starttls_proto_for_port(uint16_t port)
{
	switch (port) {
	case 25:
	case 587: return BW_STARTTLS_SMTP;
	case 143: return BW_STARTTLS_IMAP;
	case 110: return BW_STARTTLS_POP3;
	case 21: return BW_STARTTLS_FTP;
	case 389: return BW_STARTTLS_LDAP;
	default: return BW_STARTTLS_NONE;
	}
}

const char *bw_starttls_proto_name(enum bw_starttls_proto p)
{
	switch (p) {
	case BW_STARTTLS_SMTP: return "smtp";
	case BW_STARTTLS_IMAP: return "imap";
	case BW_STARTTLS_POP3: return "pop3";
	case BW_STARTTLS_FTP: return "ftp";
	case BW_STARTTLS_LDAP: return "ldap";
	default: return "none";
	}
}

static int give_up(struct bw_starttls *s, size_t *used, size_t at)
{
	s->gave_up = true;
	*used = at;
	return BW_STARTTLS_GIVE_UP;
}

static int tls_here(struct bw_starttls *s, bool fc, size_t at, size_t *used)
{
	struct bw_starttls_dir *d = &s->dir[fc];
	d->tls = true;
	d->tls_offset = d->offset + at;
	d->offset += at;
	*used = at;
	return BW_STARTTLS_TLS;
}

/*
 * Does TLS start at p (a line or message boundary at direction offset
 * `at`)? For the client: yes once the server accepted; otherwise (after a
 * request, or on its very first bytes: implicit TLS) if the bytes look like
 * a ClientHello. For the server: after a request, if they look like a TLS
 * record (the reply we were waiting for was lost).
 */
static bool at_tls(struct bw_starttls *s, bool fc, const uint8_t *p, size_t left, uint64_t at)
{
	if (fc && s->accepted)
		return true;
	bool first = fc && at == 0;
	if (!s->requested && !first)
		return false;
	if (!(fc ? bw_tls_looks_like_client_hello(p, left) : bw_tls_looks_like_tls(p, left)))
		return false;
	if (first && !s->requested && s->dir[0].offset == 0) {
		s->dir[0].tls = true; /* implicit TLS: the server's side is TLS from 0 too */
		s->dir[0].tls_offset = 0;
	}
	if (!fc)
		s->requested = false;
	return true;
}

/* Too few bytes to tell whether a TLS record starts here: wait. */
static bool tls_undecided(const struct bw_starttls *s, bool fc, const uint8_t *p, size_t left, uint64_t at)
{
	if (left >= 11 || (!s->requested && !(fc && at == 0)))
		return false;
	return (p[0] & 0x80) || (p[0] >= BW_TLS_CT_CCS && p[0] <= BW_TLS_CT_HEARTBEAT);
}

static char lower(uint8_t c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* Does line[0..n) start with word (case-insensitive), followed by the end,
 * a space or CR? */
static bool word_is(const uint8_t *line, size_t n, const char *word)
{
	size_t k = strlen(word);
	if (n < k)
		return false;
	for (size_t i = 0; i < k; i++)
		if (lower(line[i]) != word[i])
			return false;
	return n == k || line[k] == ' ' || line[k] == '\r';
}

/* A 3-digit reply code; *final when not a continuation line ("DDD-"). */
static int reply_code(const uint8_t *line, size_t n, bool *final)
{
	if (n < 3)
		return -1;
	for (int i = 0; i < 3; i++)
		if (line[i] < '0' || line[i] > '9')
			return -1;
	*final = n == 3 || line[3] != '-';
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static void client_line(struct bw_starttls *s, const uint8_t *line, size_t n)
{
	switch (s->proto) {
	case BW_STARTTLS_SMTP:
		if (word_is(line, n, "starttls")) {
			s->requested = true;
			s->request_reply = s->commands + 1; /* reply 0 is the greeting */
		}
		s->commands++;
		break;
	case BW_STARTTLS_FTP:
		if (word_is(line, n, "auth") && n >= 8 &&
		    (word_is(line + 5, n - 5, "tls") || word_is(line + 5, n - 5, "ssl") ||
		     word_is(line + 5, n - 5, "tls-c") || word_is(line + 5, n - 5, "tls-p"))) {
			s->requested = true;
			s->request_reply = s->commands + 1;
		}
		s->commands++;
		break;
	case BW_STARTTLS_POP3:
		if (word_is(line, n, "stls"))
			s->requested = true;
		break;
	case BW_STARTTLS_IMAP: {
		size_t t = 0;
		while (t < n && line[t] != ' ')
			t++;
		if (t == 0 || t >= sizeof(s->tag) || t + 1 >= n || !word_is(line + t + 1, n - t - 1, "starttls"))
			break;
		memcpy(s->tag, line, t);
		s->tag_len = (uint8_t)t;
		s->requested = true;
		break;
	}
	default: break;
	}
}

/* Returns 1 if the server accepted with this line (TLS follows it). */
static int server_line(struct bw_starttls *s, const uint8_t *line, size_t n)
{
	struct bw_starttls_dir *d = &s->dir[0];
	switch (s->proto) {
	case BW_STARTTLS_SMTP:
	case BW_STARTTLS_FTP: {
		bool final = false;
		int code = reply_code(line, n, &final);
		if (code < 0 || !final)
			return 0;
		if (s->proto == BW_STARTTLS_FTP && code < 200)
			return 0; /* preliminary reply, another follows */
		uint32_t idx = d->replies++;
		if (!s->requested || idx < s->request_reply)
			return 0;
		s->requested = false;
		if ((s->proto == BW_STARTTLS_SMTP && code == 220) || (s->proto == BW_STARTTLS_FTP && code == 234))
			return 1;
		return 0;
	}
	case BW_STARTTLS_POP3:
		if (!s->requested)
			return 0;
		if (word_is(line, n, "+ok")) {
			s->requested = false;
			return 1;
		}
		if (word_is(line, n, "-err"))
			s->requested = false;
		return 0;
	case BW_STARTTLS_IMAP:
		if (!s->requested || n <= s->tag_len || memcmp(line, s->tag, s->tag_len) != 0 || line[s->tag_len] != ' ')
			return 0;
		s->requested = false;
		return word_is(line + s->tag_len + 1, n - s->tag_len - 1, "ok");
	default: return 0;
	}
}

/* Bytes a plaintext line of these protocols never has. */
static bool line_is_text(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0 || (p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') || p[i] == 0x7f)
			return false;
	return true;
}

static int feed_lines(struct bw_starttls *s, bool fc, const uint8_t *data, size_t len, size_t *used)
{
	struct bw_starttls_dir *d = &s->dir[fc];
	size_t pos = 0;
	while (pos < len) {
		const uint8_t *p = data + pos;
		size_t left = len - pos;
		if (at_tls(s, fc, p, left, d->offset + pos))
			return tls_here(s, fc, pos, used);
		if (tls_undecided(s, fc, p, left, d->offset + pos))
			break;
		const uint8_t *nl = memchr(p, '\n', BW_MIN(left, (size_t)BW_STARTTLS_MAX_LINE));
		if (!nl) {
			if (left >= BW_STARTTLS_MAX_LINE || !line_is_text(p, left))
				return give_up(s, used, pos);
			break;
		}
		size_t n = (size_t)(nl - p) + 1;
		if (!line_is_text(p, n) || ++d->lines > BW_STARTTLS_MAX_LINES)
			return give_up(s, used, pos);
		size_t body = n - 1;
		if (body && p[body - 1] == '\r')
			body--;
		pos += n;
		if (fc) {
			client_line(s, p, body);
		} else if (server_line(s, p, body)) {
			s->accepted = true;
			d->offset += pos;
			s->dir[0].tls = true;
			s->dir[0].tls_offset = d->offset;
			*used = pos;
			return BW_STARTTLS_TLS;
		}
	}
	d->offset += pos;
	*used = pos;
	return BW_STARTTLS_MORE;
}

/* BER length; 0 on a form we do not take (indefinite, > 4 bytes). */
static bool ber_len(struct bw_wire *w, size_t *len)
{
	uint8_t b = bw_wire_u8(w);
	if (b < 0x80) {
		*len = b;
		return bw_wire_ok(w);
	}
	size_t k = b & 0x7f, v = 0;
	if (k == 0 || k > 4)
		return false;
	for (size_t i = 0; i < k; i++)
		v = v << 8 | bw_wire_u8(w);
	*len = v;
	return bw_wire_ok(w);
}

/* One LDAPMessage: SEQUENCE { messageID INTEGER, protocolOp, ... }.
 * Returns 1 if the server accepted StartTLS with it. */
static int ldap_message(struct bw_starttls *s, bool fc, const uint8_t *p, size_t n)
{
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	size_t l = 0;
	if (bw_wire_u8(&w) != 0x02 || !ber_len(&w, &l) || l == 0 || l > 4)
		return -1;
	uint32_t id = 0;
	for (size_t i = 0; i < l; i++)
		id = id << 8 | bw_wire_u8(&w);
	uint8_t op = bw_wire_u8(&w);
	size_t ol = 0;
	if (!ber_len(&w, &ol))
		return -1;
	struct bw_wire o;
	bw_wire_sub(&w, ol, &o);
	if (!bw_wire_ok(&o))
		return -1;
	if (fc && op == 0x77) { /* ExtendedRequest */
		size_t nl = 0;
		if (bw_wire_u8(&o) != 0x80 || !ber_len(&o, &nl))
			return 0;
		const uint8_t *name = bw_wire_ptr(&o, nl);
		if (name && nl == sizeof(ldap_starttls_oid) - 1 && memcmp(name, ldap_starttls_oid, nl) == 0) {
			s->requested = true;
			s->ldap_msgid = id;
		}
		return 0;
	}
	if (!fc && op == 0x78 && s->requested && id == s->ldap_msgid) { /* ExtendedResponse */
		size_t rl = 0;
		s->requested = false;
		if (bw_wire_u8(&o) != 0x0a || !ber_len(&o, &rl) || rl != 1)
			return 0;
		return bw_wire_u8(&o) == 0 && bw_wire_ok(&o);
	}
	return 0;
}

static int feed_ldap(struct bw_starttls *s, bool fc, const uint8_t *data, size_t len, size_t *used)
{
	struct bw_starttls_dir *d = &s->dir[fc];
	size_t pos = 0;
	while (pos < len) {
		const uint8_t *p = data + pos;
		size_t left = len - pos;
		if (at_tls(s, fc, p, left, d->offset + pos))
			return tls_here(s, fc, pos, used);
		if (tls_undecided(s, fc, p, left, d->offset + pos))
			break;
		struct bw_wire w;
		bw_wire_init(&w, p, left);
		uint8_t tag = bw_wire_u8(&w);
		size_t ml = 0;
		bool have_len = ber_len(&w, &ml);
		if (!bw_wire_ok(&w)) {
			if (left >= 6)
				return give_up(s, used, pos);
			break; /* header incomplete */
		}
		if (tag != 0x30 || !have_len || ml > BW_STARTTLS_MAX_LDAP_MSG || ++d->lines > BW_STARTTLS_MAX_LINES)
			return give_up(s, used, pos);
		size_t hdr = bw_wire_pos(&w);
		if (left - hdr < ml) {
			d->lines--;
			break;
		}
		int rc = ldap_message(s, fc, p + hdr, ml);
		if (rc < 0)
			return give_up(s, used, pos);
		pos += hdr + ml;
		if (rc == 1) {
			s->accepted = true;
			d->offset += pos;
			d->tls = true;
			d->tls_offset = d->offset;
			*used = pos;
			return BW_STARTTLS_TLS;
		}
	}
	d->offset += pos;
	*used = pos;
	return BW_STARTTLS_MORE;
}

int bw_starttls_feed(struct bw_starttls *s, bool from_client, const uint8_t *data, size_t len, size_t *used)
{
	size_t dummy;
	if (!used)
		used = &dummy;
	*used = 0;
	if (!s || (!data && len) || s->proto == BW_STARTTLS_NONE)
		return BW_STARTTLS_GIVE_UP;
	if (s->gave_up)
		return BW_STARTTLS_GIVE_UP;
	if (s->dir[from_client].tls)
		return BW_STARTTLS_TLS;
	if (s->proto == BW_STARTTLS_LDAP)
		return feed_ldap(s, from_client, data, len, used);
	return feed_lines(s, from_client, data, len, used);
}
