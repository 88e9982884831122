// SPDX-License-Identifier: MIT
/*
 * starttls.c: locate the start of TLS inside plaintext protocols that
 * upgrade in place (SMTP, IMAP, POP3, FTP, LDAP, MySQL, XMPP, HTTP CONNECT).
 * The TLS parser wants to be handed the stream from the first record on,
 * and these flows are otherwise invisible to it; the cheapest correct
 * answer is to follow just enough of each protocol's dialogue to see the
 * upgrade request and its acceptance, line by line (message by message for
 * LDAP's BER, packet by packet for MySQL, tag by tag for XMPP's XML, which
 * is not line based), without buffering and under hard bounds, and to give
 * up on anything else. The request/reply pairing follows each protocol's
 * own rules (reply counting, tags, message ids, HTTP status lines), with a
 * "looks like a TLS record" fallback at unit boundaries for captures that
 * lost part of the dialogue. The sniffer recognises the same dialogues by
 * their first bytes so that they are followed on any port; it looks only
 * at signatures that the protocol's first message must carry, whole, so
 * that a stray text protocol is not mistaken for one of them.
 */
#include "starttls.h"

#include <string.h>

#include "tls.h"
#include "wire.h"

static const char ldap_starttls_oid[] = "1.3.6.1.4.1.1466.20037";
static const char xmpp_tls_ns[] = "urn:ietf:params:xml:ns:xmpp-tls";

#define MYSQL_CLIENT_SSL 0x0800 /* capability flag: the client switches to TLS */
#define MYSQL_MAX_VERSION 96    /* bytes of the greeting's server version string */

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
	case 3306: return BW_STARTTLS_MYSQL;
	case 5222:
	case 5269: return BW_STARTTLS_XMPP;
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
	case BW_STARTTLS_MYSQL: return "mysql";
	case BW_STARTTLS_XMPP: return "xmpp";
	case BW_STARTTLS_HTTP_CONNECT: return "http-connect";
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

/* Does p[0..n) begin with s? */
static bool has_prefix(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	return n >= k && memcmp(p, s, k) == 0;
}

/* Is p[0..n) a proper prefix of s (more bytes could still make it s)? */
static bool is_prefix_of(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	return n < k && memcmp(p, s, n) == 0;
}

/* Does p[0..n) contain s, compared case-insensitively (s in lower case)? */
static bool contains_ci(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	for (size_t i = 0; i + k <= n; i++) {
		size_t j = 0;
		while (j < k && lower(p[i + j]) == s[j])
			j++;
		if (j == k)
			return true;
	}
	return false;
}

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* "CONNECT authority HTTP/1.x": the method is case-sensitive (RFC 9110). */
static bool http_connect_line(const uint8_t *line, size_t n)
{
	if (n < 17 || !has_prefix(line, n, "CONNECT ") || line[8] == ' ')
		return false;
	for (size_t i = 9; i + 8 <= n; i++)
		if (line[i] == ' ')
			return memcmp(line + i, " HTTP/1.", 8) == 0;
	return false;
}

/* "HTTP/1.x DDD[ reason]": the status code, or -1. */
static int http_status_line(const uint8_t *line, size_t n)
{
	bool final = false;
	if (n < 12 || !has_prefix(line, n, "HTTP/1.") || !is_digit(line[7]) || line[8] != ' ')
		return -1;
	int code = reply_code(line + 9, n - 9, &final);
	if (code < 100 || (n > 12 && line[12] != ' '))
		return -1;
	return code;
}

/* A "Content-Length:" header's value; UINT32_MAX if past the skip bound or
 * not a number; 0 if the header is another. */
static uint32_t http_content_length(const uint8_t *line, size_t n)
{
	static const char h[] = "content-length:";
	size_t k = sizeof(h) - 1;
	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (lower(line[i]) != h[i])
			return 0;
	size_t i = k;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	uint64_t v = 0;
	size_t d0 = i;
	while (i < n && is_digit(line[i]) && v <= BW_STARTTLS_MAX_HTTP_BODY)
		v = v * 10 + (uint64_t)(line[i++] - '0');
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == d0 || i != n || v > BW_STARTTLS_MAX_HTTP_BODY)
		return UINT32_MAX;
	return (uint32_t)v;
}

/*
 * One server line of an HTTP proxy. Returns 1 when a 2xx answered CONNECT
 * (TLS follows the blank line), -1 when a refusal's body is too large to
 * skip, else 0. Lines outside a response's head (a body we could not skip
 * by length, stray blank lines) are ignored: only a status line starts one.
 */
static int http_server_line(struct bw_starttls *s, const uint8_t *line, size_t n)
{
	if (s->http_status == 0) {
		int code = http_status_line(line, n);
		if (code > 0) {
			s->http_status = (uint16_t)code;
			s->http_body = 0;
		}
		return 0;
	}
	if (n > 0) {
		uint32_t cl = http_content_length(line, n);
		if (cl)
			s->http_body = cl;
		return 0;
	}
	uint16_t code = s->http_status;
	s->http_status = 0;
	if (code < 200)
		return 0; /* interim (100 Continue): the final response follows */
	if (s->requested && code < 300) {
		s->requested = false;
		return 1; /* a 2xx to CONNECT has no body: the tunnel starts here */
	}
	if (code >= 300)
		s->requested = false; /* refused (407 and the like); a new CONNECT may follow */
	if (s->http_body == UINT32_MAX)
		return -1;
	s->skip = s->http_body;
	return 0;
}

static bool ftp_auth_tls(const uint8_t *line, size_t n)
{
	return word_is(line, n, "auth") && n >= 8 &&
	       (word_is(line + 5, n - 5, "tls") || word_is(line + 5, n - 5, "ssl") || word_is(line + 5, n - 5, "tls-c") ||
		word_is(line + 5, n - 5, "tls-p"));
}

static void client_line(struct bw_starttls *s, const uint8_t *line, size_t n)
{
	switch (s->proto) {
	case BW_STARTTLS_SMTP:
		/* A "220" banner that did not say FTP was sniffed as SMTP; an SMTP
		 * client never opens with AUTH (EHLO comes first), an FTP one may. */
		if (s->commands == 0 && ftp_auth_tls(line, n)) {
			s->proto = BW_STARTTLS_FTP;
			client_line(s, line, n);
			break;
		}
		if (word_is(line, n, "starttls")) {
			s->requested = true;
			s->request_reply = s->commands + 1; /* reply 0 is the greeting */
		}
		s->commands++;
		break;
	case BW_STARTTLS_FTP:
		if (ftp_auth_tls(line, n)) {
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
	case BW_STARTTLS_HTTP_CONNECT:
		if (http_connect_line(line, n))
			s->requested = true;
		break;
	default: break;
	}
}

/* Returns 1 if the server accepted with this line (TLS follows it), -1 to
 * give up. */
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
	case BW_STARTTLS_HTTP_CONNECT: return http_server_line(s, line, n);
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

/* The server accepted with the unit that ends at data[pos]: its TLS follows. */
static int accepted_at(struct bw_starttls *s, size_t pos, size_t *used)
{
	struct bw_starttls_dir *d = &s->dir[0];
	s->accepted = true;
	d->offset += pos;
	d->tls = true;
	d->tls_offset = d->offset;
	*used = pos;
	return BW_STARTTLS_TLS;
}

static int feed_lines(struct bw_starttls *s, bool fc, const uint8_t *data, size_t len, size_t *used)
{
	struct bw_starttls_dir *d = &s->dir[fc];
	size_t pos = 0;
	while (pos < len) {
		const uint8_t *p = data + pos;
		size_t left = len - pos;
		if (!fc && s->skip) {
			size_t k = BW_MIN((size_t)s->skip, left); /* a refusal's body: not lines, not TLS */
			s->skip -= (uint32_t)k;
			pos += k;
			continue;
		}
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
			continue;
		}
		int rc = server_line(s, p, body);
		if (rc < 0)
			return give_up(s, used, pos - n);
		if (rc > 0)
			return accepted_at(s, pos, used);
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

/* ---- MySQL ---------------------------------------------------------- */

/* A HandshakeV10 payload: protocol 10, a printable NUL-terminated version
 * starting with a digit, connection id, 8 bytes of scramble, a zero filler. */
static bool mysql_greeting(const uint8_t *p, size_t n)
{
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	if (bw_wire_u8(&w) != 10)
		return false;
	size_t vlen = 0;
	for (;;) {
		uint8_t c = bw_wire_u8(&w);
		if (!bw_wire_ok(&w))
			return false;
		if (c == 0)
			break;
		if (c < 0x20 || c > 0x7e || (vlen == 0 && !is_digit(c)) || ++vlen > MYSQL_MAX_VERSION)
			return false;
	}
	bw_wire_skip(&w, 4 + 8); /* connection id, auth-plugin-data part 1 */
	uint8_t filler = bw_wire_u8(&w);
	return vlen > 0 && bw_wire_ok(&w) && filler == 0;
}

/*
 * MySQL: packets of a 3-byte little-endian length and a sequence id. The
 * server greets (sequence 0); a client that wants TLS answers with an
 * SSLRequest (sequence 1, CLIENT_SSL in its capabilities) and starts TLS
 * right after it, without waiting; the server's next bytes are TLS. Any
 * other answer means no TLS on this connection.
 */
static int feed_mysql(struct bw_starttls *s, bool fc, const uint8_t *data, size_t len, size_t *used)
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
		if (!fc && s->greeted) {
			/* After its greeting the server waits: what it sends next is TLS
			 * (its ServerHello, even if the SSLRequest was lost) or nothing
			 * we follow. */
			if (bw_tls_looks_like_tls(p, left))
				return tls_here(s, fc, pos, used);
			if (left < 5 && p[0] >= BW_TLS_CT_CCS && p[0] <= BW_TLS_CT_HEARTBEAT)
				break;
			return give_up(s, used, pos);
		}
		struct bw_wire w;
		bw_wire_init(&w, p, left);
		uint32_t plen = bw_wire_u16_le(&w);
		plen |= (uint32_t)bw_wire_u8(&w) << 16;
		uint8_t seq = bw_wire_u8(&w);
		if (!bw_wire_ok(&w))
			break; /* header incomplete */
		if (plen > BW_STARTTLS_MAX_MYSQL_PKT || ++d->lines > BW_STARTTLS_MAX_LINES)
			return give_up(s, used, pos);
		const uint8_t *pl = bw_wire_ptr(&w, plen);
		if (!pl) {
			d->lines--;
			break;
		}
		if (!fc) {
			if (seq != 0 || !mysql_greeting(pl, plen))
				return give_up(s, used, pos); /* an ERR packet (0xff) or not MySQL */
			s->greeted = true;
			pos += 4 + plen;
			continue;
		}
		struct bw_wire c;
		bw_wire_init(&c, pl, plen);
		uint16_t caps = bw_wire_u16_le(&c); /* CLIENT_SSL is in the low half in 4.0 and 4.1 */
		if (seq != 1 || !bw_wire_ok(&c) || !(caps & MYSQL_CLIENT_SSL))
			return give_up(s, used, pos); /* a plaintext HandshakeResponse: no TLS */
		s->requested = true;
		s->accepted = true;
		return tls_here(s, fc, pos + 4 + plen, used);
	}
	d->offset += pos;
	*used = pos;
	return BW_STARTTLS_MORE;
}

/* ---- XMPP (XML) ------------------------------------------------------ */

/* Bytes a tag or text of an XML stream never has. */
static bool xml_byte_ok(uint8_t c) { return !((c < 0x20 && !is_ws(c)) || c == 0x7f); }

/*
 * Length of the tag at p (p[0] == '<') through its '>', attribute quotes
 * honoured: > 0; 0 if it does not end within n; -1 if these are not tag
 * bytes (a '<' outside quotes, a control byte).
 */
static long xml_tag_len(const uint8_t *p, size_t n)
{
	uint8_t q = 0;
	for (size_t i = 1; i < n; i++) {
		uint8_t c = p[i];
		if (!xml_byte_ok(c))
			return -1;
		if (q) {
			if (c == q)
				q = 0;
		} else if (c == '\'' || c == '"') {
			q = c;
		} else if (c == '<') {
			return -1;
		} else if (c == '>') {
			return (long)(i + 1);
		}
	}
	return 0;
}

struct xml_tag {
	const uint8_t *name; /* qualified name */
	size_t name_len;
	const uint8_t *attrs; /* between the name and the closing '>' or '/>' */
	size_t attrs_len;
	bool end, empty, special; /* </x>, <x/>, <?x?> or <!x> */
};

/* Split a whole tag (from xml_tag_len) into its name and attributes. */
static void xml_tag_parse(const uint8_t *p, size_t n, struct xml_tag *t)
{
	memset(t, 0, sizeof(*t));
	size_t i = 1, e = n - 1; /* p[0] is '<', p[n - 1] is '>' */
	if (i < e && (p[i] == '?' || p[i] == '!')) {
		t->special = true;
		return;
	}
	if (i < e && p[i] == '/') {
		t->end = true;
		i++;
	}
	if (e > i && p[e - 1] == '/') {
		t->empty = true;
		e--;
	}
	size_t ns = i;
	while (i < e && !is_ws(p[i]))
		i++;
	t->name = p + ns;
	t->name_len = i - ns;
	t->attrs = p + i;
	t->attrs_len = e - i;
}

/* Next name='value' of a tag; false at the end or on a malformed one. */
static bool xml_next_attr(const struct xml_tag *t, size_t *it, const uint8_t **name, size_t *nl, const uint8_t **val,
			  size_t *vl)
{
	const uint8_t *p = t->attrs;
	size_t n = t->attrs_len, i = *it;
	while (i < n && is_ws(p[i]))
		i++;
	size_t ns = i;
	while (i < n && p[i] != '=' && !is_ws(p[i]))
		i++;
	if (i == ns)
		return false;
	*name = p + ns;
	*nl = i - ns;
	while (i < n && is_ws(p[i]))
		i++;
	if (i >= n || p[i] != '=')
		return false;
	i++;
	while (i < n && is_ws(p[i]))
		i++;
	if (i >= n || (p[i] != '\'' && p[i] != '"'))
		return false;
	uint8_t q = p[i++];
	size_t vs = i;
	while (i < n && p[i] != q)
		i++;
	if (i >= n)
		return false;
	*val = p + vs;
	*vl = i - vs;
	*it = i + 1;
	return true;
}

static bool bytes_are(const uint8_t *p, size_t n, const char *s) { return n == strlen(s) && memcmp(p, s, n) == 0; }

/* The tag's local name (after any prefix) is local. */
static bool xml_local_is(const struct xml_tag *t, const char *local)
{
	const uint8_t *colon = memchr(t->name, ':', t->name_len);
	size_t off = colon ? (size_t)(colon - t->name) + 1 : 0;
	return bytes_are(t->name + off, t->name_len - off, local);
}

/* Does the tag declare its own element in the XMPP TLS namespace (xmlns=,
 * or xmlns:prefix= for a prefixed name)? The stream's default namespace is
 * jabber:client or jabber:server, so an undeclared element is not it. */
static bool xml_in_tls_ns(const struct xml_tag *t)
{
	const uint8_t *colon = memchr(t->name, ':', t->name_len);
	size_t plen = colon ? (size_t)(colon - t->name) : 0;
	size_t it = 0, nl, vl;
	const uint8_t *an, *av;
	while (xml_next_attr(t, &it, &an, &nl, &av, &vl)) {
		bool match = colon ? (nl == 6 + plen && memcmp(an, "xmlns:", 6) == 0 && memcmp(an + 6, t->name, plen) == 0)
				   : bytes_are(an, nl, "xmlns");
		if (match)
			return bytes_are(av, vl, xmpp_tls_ns);
	}
	return false;
}

/* One XMPP tag. Returns 1 if the server accepted STARTTLS with it. */
static int xmpp_tag(struct bw_starttls *s, bool fc, const struct xml_tag *t)
{
	if (t->special)
		return 0;
	if (fc) {
		if (!t->end && xml_local_is(t, "starttls") && xml_in_tls_ns(t))
			s->requested = true;
		return 0;
	}
	if (t->end) {
		if (s->proceed_open && xml_local_is(t, "proceed")) {
			s->proceed_open = false;
			s->requested = false;
			return 1;
		}
		return 0;
	}
	if (!s->requested || !xml_in_tls_ns(t))
		return 0; /* the features list's <starttls/> is an offer, not an answer */
	if (xml_local_is(t, "proceed")) {
		if (t->empty) {
			s->requested = false;
			return 1;
		}
		s->proceed_open = true;
	} else if (xml_local_is(t, "failure")) {
		s->requested = false; /* refused; the server closes the stream */
	}
	return 0;
}

/*
 * XMPP: XML is not line based, so the units are tags ('<' to '>', quotes
 * honoured) and the text runs between them (white space keepalives). A
 * partial tag is left for the next call; text is consumed as it comes.
 */
static int feed_xml(struct bw_starttls *s, bool fc, const uint8_t *data, size_t len, size_t *used)
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
		if (++d->lines > BW_STARTTLS_MAX_XML_ITEMS)
			return give_up(s, used, pos);
		if (p[0] != '<') {
			const uint8_t *lt = memchr(p, '<', left);
			size_t n = lt ? (size_t)(lt - p) : left;
			for (size_t i = 0; i < n; i++)
				if (!xml_byte_ok(p[i]))
					return give_up(s, used, pos);
			pos += n;
			continue;
		}
		long tl = xml_tag_len(p, BW_MIN(left, (size_t)BW_STARTTLS_MAX_XML_TAG));
		if (tl < 0 || (tl == 0 && left >= BW_STARTTLS_MAX_XML_TAG))
			return give_up(s, used, pos);
		if (tl == 0) {
			d->lines--;
			break;
		}
		struct xml_tag t;
		xml_tag_parse(p, (size_t)tl, &t);
		pos += (size_t)tl;
		if (xmpp_tag(s, fc, &t))
			return accepted_at(s, pos, used);
	}
	d->offset += pos;
	*used = pos;
	return BW_STARTTLS_MORE;
}

/* ---- sniffing --------------------------------------------------------- */

/* Results of a signature check on a prefix of a direction's bytes. */
enum { SNIFF_NO = 0, SNIFF_YES = 1, SNIFF_MORE = -1 };

/* The first line of p[0..n): SNIFF_YES with *len (newline included) if it is
 * complete and text, SNIFF_MORE if text so far, else SNIFF_NO. */
static int first_line(const uint8_t *p, size_t n, size_t *len)
{
	const uint8_t *nl = memchr(p, '\n', BW_MIN(n, (size_t)BW_STARTTLS_MAX_LINE));
	size_t k = nl ? (size_t)(nl - p) + 1 : n;
	if (!line_is_text(p, k) || (!nl && n >= BW_STARTTLS_MAX_LINE))
		return SNIFF_NO;
	*len = k;
	return nl ? SNIFF_YES : SNIFF_MORE;
}

static int sniff_connect(const uint8_t *p, size_t n)
{
	size_t k = 0;
	if (!has_prefix(p, n, "CONNECT "))
		return is_prefix_of(p, n, "CONNECT ") ? SNIFF_MORE : SNIFF_NO;
	int r = first_line(p, n, &k);
	if (r != SNIFF_YES)
		return r;
	size_t body = k - 1;
	if (body && p[body - 1] == '\r')
		body--;
	return http_connect_line(p, body) ? SNIFF_YES : SNIFF_NO;
}

static int sniff_mysql(const uint8_t *p, size_t n)
{
	/* length < 2^16 (high byte 0), sequence 0, protocol 10 */
	static const int at[] = {2, 3, 4};
	static const uint8_t want[] = {0, 0, 10};
	for (size_t i = 0; i < BW_ARRAY_SIZE(at); i++)
		if (n > (size_t)at[i] && p[at[i]] != want[i])
			return SNIFF_NO;
	if (n < 5)
		return SNIFF_MORE;
	size_t plen = (size_t)p[0] | (size_t)p[1] << 8;
	if (plen < 18 || plen > BW_STARTTLS_SNIFF_MAX - 4)
		return SNIFF_NO;
	if (n >= 4 + plen)
		return mysql_greeting(p + 4, plen) ? SNIFF_YES : SNIFF_NO;
	/* a prefix: the version string so far, and the filler if we reach it */
	for (size_t i = 5; i < n; i++) {
		if (p[i] == 0)
			return (i > 5 && (n <= i + 13 || p[i + 13] == 0)) ? SNIFF_MORE : SNIFF_NO;
		if (p[i] < 0x20 || p[i] > 0x7e || (i == 5 && !is_digit(p[i])) || i - 5 >= MYSQL_MAX_VERSION)
			return SNIFF_NO;
	}
	return SNIFF_MORE;
}

/*
 * Where an XMPP stream header starts: after an optional UTF-8 BOM, an
 * optional "<?xml ...?>" declaration and white space. SNIFF_YES with *hdr
 * at "<stream:stream" (or at n for a client's declaration alone), SNIFF_MORE
 * if the bytes so far fit, else SNIFF_NO.
 */
static int xmpp_locate(const uint8_t *p, size_t n, bool fc, size_t *hdr)
{
	static const char bom[] = "\xef\xbb\xbf", st[] = "<stream:stream";
	size_t i = 0;
	if (has_prefix(p, n, bom))
		i = 3;
	else if (is_prefix_of(p, n, bom) && n > 0)
		return SNIFF_MORE;
	while (i < n && is_ws(p[i]))
		i++;
	if (has_prefix(p + i, n - i, "<?xml")) {
		long tl = xml_tag_len(p + i, BW_MIN(n - i, (size_t)BW_STARTTLS_MAX_XML_TAG));
		if (tl < 0 || (size_t)tl < 7 || p[i + (size_t)tl - 2] != '?')
			return tl == 0 ? SNIFF_MORE : SNIFF_NO;
		i += (size_t)tl;
		while (i < n && is_ws(p[i]))
			i++;
		if (i == n) {
			*hdr = n;
			return fc ? SNIFF_YES : SNIFF_MORE;
		}
	} else if (is_prefix_of(p + i, n - i, "<?xml")) {
		return SNIFF_MORE;
	}
	if (!has_prefix(p + i, n - i, st))
		return is_prefix_of(p + i, n - i, st) ? SNIFF_MORE : SNIFF_NO;
	size_t e = i + sizeof(st) - 1;
	if (e < n && !is_ws(p[e]) && p[e] != '>')
		return SNIFF_NO;
	*hdr = i;
	return SNIFF_YES;
}

static int sniff_xmpp(const uint8_t *p, size_t n, bool fc)
{
	size_t hdr = 0;
	if (n == 0)
		return SNIFF_MORE;
	return xmpp_locate(p, n, fc, &hdr);
}

/* Server banners: IMAP, POP3, and the "220" of SMTP and FTP. */
static int sniff_banner(const uint8_t *p, size_t n, enum bw_starttls_proto *out)
{
	static const struct {
		const char *sig;
		enum bw_starttls_proto proto;
	} sigs[] = {
		{"* OK ", BW_STARTTLS_IMAP}, {"* PREAUTH ", BW_STARTTLS_IMAP}, {"+OK ", BW_STARTTLS_POP3},
		{"+OK\r", BW_STARTTLS_POP3}, {"220 ", BW_STARTTLS_SMTP},       {"220-", BW_STARTTLS_SMTP},
	};
	int best = SNIFF_NO;
	for (size_t i = 0; i < BW_ARRAY_SIZE(sigs); i++) {
		if (!has_prefix(p, n, sigs[i].sig)) {
			if (is_prefix_of(p, n, sigs[i].sig))
				best = SNIFF_MORE;
			continue;
		}
		size_t k = 0;
		int r = first_line(p, n, &k);
		if (r == SNIFF_NO)
			return SNIFF_NO;
		*out = sigs[i].proto;
		if (sigs[i].proto != BW_STARTTLS_SMTP)
			return SNIFF_YES;
		/* SMTP or FTP: the greeting's text says which, so it must be whole */
		if (r == SNIFF_MORE && n < BW_STARTTLS_SNIFF_MAX)
			return SNIFF_MORE;
		if (!contains_ci(p, k, "smtp") && contains_ci(p, k, "ftp"))
			*out = BW_STARTTLS_FTP; /* "220 ftp.example ESMTP" is still mail */
		return SNIFF_YES;
	}
	return best;
}

static int sniff(const uint8_t *p, size_t n, bool from_client, enum bw_starttls_proto *out)
{
	*out = BW_STARTTLS_NONE;
	if (!p || bw_tls_looks_like_tls(p, n))
		return SNIFF_NO;
	int more = SNIFF_NO, r;
	if ((r = sniff_connect(p, n)) == SNIFF_YES) {
		*out = BW_STARTTLS_HTTP_CONNECT;
		return r;
	}
	more |= r;
	if ((r = sniff_mysql(p, n)) == SNIFF_YES) {
		*out = BW_STARTTLS_MYSQL;
		return r;
	}
	more |= r;
	if ((r = sniff_xmpp(p, n, from_client)) == SNIFF_YES) {
		*out = BW_STARTTLS_XMPP;
		return r;
	}
	more |= r;
	enum bw_starttls_proto b = BW_STARTTLS_NONE;
	if ((r = sniff_banner(p, n, &b)) == SNIFF_YES) {
		*out = b;
		return r;
	}
	more |= r;
	return more && n < BW_STARTTLS_SNIFF_MAX ? SNIFF_MORE : SNIFF_NO;
}

enum bw_starttls_proto bw_starttls_sniff(const uint8_t *p, size_t n, bool from_client)
{
	enum bw_starttls_proto proto;
	return sniff(p, n, from_client, &proto) == SNIFF_YES ? proto : BW_STARTTLS_NONE;
}

bool bw_starttls_sniff_more(const uint8_t *p, size_t n, bool from_client)
{
	enum bw_starttls_proto proto;
	return sniff(p, n, from_client, &proto) == SNIFF_MORE;
}

/* An XMPP stream header's id attribute: 1 present, 0 absent, -1 unknown yet. */
static int xmpp_header_id(const uint8_t *p, size_t n)
{
	size_t hdr = 0;
	if (!p || xmpp_locate(p, n, true, &hdr) != SNIFF_YES || hdr >= n)
		return -1;
	long tl = xml_tag_len(p + hdr, BW_MIN(n - hdr, (size_t)BW_STARTTLS_MAX_XML_TAG));
	if (tl <= 0)
		return -1;
	struct xml_tag t;
	xml_tag_parse(p + hdr, (size_t)tl, &t);
	size_t it = 0, nl, vl;
	const uint8_t *an, *av;
	while (xml_next_attr(&t, &it, &an, &nl, &av, &vl))
		if (bytes_are(an, nl, "id"))
			return 1;
	return 0;
}

bool bw_starttls_sniff_is_client(enum bw_starttls_proto proto, const uint8_t *p, size_t n, bool from_client)
{
	switch (proto) {
	case BW_STARTTLS_HTTP_CONNECT:
	case BW_STARTTLS_LDAP: return true;
	case BW_STARTTLS_XMPP: {
		int id = xmpp_header_id(p, n);
		return id < 0 ? from_client : id == 0;
	}
	case BW_STARTTLS_NONE: return from_client;
	default: return false;
	}
}

bool bw_starttls_server_first(enum bw_starttls_proto p)
{
	switch (p) {
	case BW_STARTTLS_SMTP:
	case BW_STARTTLS_IMAP:
	case BW_STARTTLS_POP3:
	case BW_STARTTLS_FTP:
	case BW_STARTTLS_MYSQL: return true;
	default: return false;
	}
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
	switch (s->proto) {
	case BW_STARTTLS_LDAP: return feed_ldap(s, from_client, data, len, used);
	case BW_STARTTLS_MYSQL: return feed_mysql(s, from_client, data, len, used);
	case BW_STARTTLS_XMPP: return feed_xml(s, from_client, data, len, used);
	default: return feed_lines(s, from_client, data, len, used);
	}
}
