/* SPDX-License-Identifier: MIT */
/*
 * starttls.h: find where TLS starts in a flow that upgrades a plaintext
 * protocol: SMTP (25, 587) STARTTLS / 220, IMAP (143) "tag STARTTLS" /
 * "tag OK", POP3 (110) STLS / +OK, FTP (21) AUTH TLS|SSL / 234, LDAP
 * (389) the StartTLS extended operation (1.3.6.1.4.1.1466.20037) answered
 * with resultCode success, MySQL (3306) an SSLRequest (CLIENT_SSL) after
 * the server's HandshakeV10 greeting, XMPP (5222 c2s, 5269 s2s, dialback
 * included) <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/> answered
 * with <proceed/>, and an HTTP proxy's CONNECT answered with a 2xx (any
 * port; bw_starttls_sniff finds it).
 *
 * A small per-flow state machine with one half per direction, fed the
 * same contiguous stream bytes as a tcp_stream consumer gets. It consumes
 * whole lines (whole BER messages for LDAP, whole packets for MySQL, whole
 * tags or text runs for XMPP) and never buffers: a partial unit is left
 * unconsumed for the next call. Lines, line lengths and messages are
 * bounded; past a bound, or on bytes that are not the protocol, it gives up.
 *
 * The request and the reply are matched the way the protocols define
 * them: SMTP and FTP by counting replies (greeting + one final reply per
 * command, so a pipelined EHLO+STARTTLS is not confused), IMAP by tag,
 * POP3, LDAP, XMPP and HTTP by order / message id (HTTP skips a refusal's
 * Content-Length body, so a 407 followed by an authenticated CONNECT on the
 * same connection is followed too). MySQL has no reply: TLS follows the
 * client's SSLRequest packet at once, and the server's TLS its greeting. As
 * a fallback for captures that miss part of the dialogue, once the client
 * asked for TLS, bytes at a unit boundary that look like a TLS record
 * (bw_tls_looks_like_tls) are taken as the start of TLS in either
 * direction. A client whose very first bytes are a TLS ClientHello
 * (implicit TLS on a STARTTLS port) is also TLS at offset 0.
 *
 * Wiring in a tcp_stream on_data: while bw_starttls_tls_started(s, dir) is
 * false call bw_starttls_feed: BW_STARTTLS_MORE -> return *used;
 * BW_STARTTLS_GIVE_UP -> return BW_ENOTSUP; BW_STARTTLS_TLS -> the TLS
 * bytes begin at data[*used] (return *used if > 0 and hand the rest to
 * bw_tls_conn_feed on the next call, or feed data + *used now).
 *
 * On a port that says nothing, bw_starttls_sniff recognises these
 * dialogues by the first bytes of a direction; bw_starttls_sniff_more says
 * whether waiting for more bytes could change a NONE, and
 * bw_starttls_sniff_is_client which end sent the recognised bytes.
 */
#ifndef BW_STARTTLS_H
#define BW_STARTTLS_H

#include "../sensor/bw.h"

#define BW_STARTTLS_MAX_LINE 2048     /* bytes in one line, CRLF included */
#define BW_STARTTLS_MAX_LINES 128     /* lines (or LDAP messages) per direction before TLS */
#define BW_STARTTLS_MAX_LDAP_MSG 8192 /* bytes of one LDAP message before TLS */
#define BW_STARTTLS_MAX_MYSQL_PKT 4096 /* bytes of one MySQL packet (payload) before TLS */
#define BW_STARTTLS_MAX_XML_TAG 2048   /* bytes of one XML tag, '<' to '>' */
#define BW_STARTTLS_MAX_XML_ITEMS 512  /* XML tags and text runs per direction before TLS */
#define BW_STARTTLS_MAX_HTTP_BODY 65536 /* Content-Length of a refused CONNECT's body skipped */
#define BW_STARTTLS_SNIFF_MAX 512      /* bw_starttls_sniff never needs more bytes than this */

enum bw_starttls_proto {
	BW_STARTTLS_NONE = 0,
	BW_STARTTLS_SMTP,
	BW_STARTTLS_IMAP,
	BW_STARTTLS_POP3,
	BW_STARTTLS_FTP,
	BW_STARTTLS_LDAP,
	BW_STARTTLS_MYSQL,
	BW_STARTTLS_XMPP,
	BW_STARTTLS_HTTP_CONNECT,
};

enum bw_starttls_status {
	BW_STARTTLS_MORE = 0,    /* not yet: *used bytes consumed, call again with the rest + more */
	BW_STARTTLS_TLS = 1,     /* TLS starts at data[*used] in this direction (and stays started) */
	BW_STARTTLS_GIVE_UP = 2, /* not a STARTTLS flow, or the upgrade failed: stop (both directions) */
};

struct bw_starttls_dir {
	uint64_t offset;     /* bytes of this direction consumed so far */
	uint64_t tls_offset; /* where TLS starts in this direction, when tls */
	uint32_t lines;      /* lines (LDAP: messages) seen */
	uint32_t replies;    /* server: final replies seen (SMTP/FTP) */
	bool tls;
};

/* Caller-owned, per flow; no allocation. */
struct bw_starttls {
	enum bw_starttls_proto proto;
	struct bw_starttls_dir dir[2]; /* [0] server to client, [1] client to server */
	uint32_t commands;             /* client commands before the request (SMTP/FTP) */
	uint32_t request_reply;        /* index of the server reply that answers the request */
	uint32_t ldap_msgid;
	bool requested;                /* the client asked for TLS and no answer yet */
	bool accepted;                 /* the server said yes */
	bool gave_up;
	uint8_t tag_len;
	char tag[32];                  /* IMAP tag of the STARTTLS command */
	bool greeted;                  /* MySQL: the server's HandshakeV10 greeting was seen */
	bool proceed_open;             /* XMPP: <proceed> start tag seen, TLS after its end tag */
	uint16_t http_status;          /* HTTP: status of the response whose headers are being read, 0 between */
	uint32_t http_body;            /* HTTP: Content-Length of that response */
	uint32_t skip;                 /* HTTP: server body bytes still to skip (a refusal's body) */
};

void bw_starttls_init(struct bw_starttls *s, enum bw_starttls_proto proto);
/* The protocol usually spoken on a server port (25, 587, 143, 110, 21, 389,
 * 3306, 5222, 5269), else NONE. HTTP CONNECT has no port of its own. */
enum bw_starttls_proto bw_starttls_proto_for_port(uint16_t port);
/* Static lower-case name: "smtp", "imap", "pop3", "ftp", "ldap", "mysql",
 * "xmpp", "http-connect"; "none" otherwise. */
const char *bw_starttls_proto_name(enum bw_starttls_proto p);

/*
 * Recognise a dialogue that may upgrade to TLS by the first bytes p[0..n)
 * of one direction, on any port. Returns the protocol, or NONE (also for
 * TLS, and for too few bytes: see bw_starttls_sniff_more). Recognised:
 *   HTTP CONNECT: a request line "CONNECT host:port HTTP/1.x" (complete);
 *   MySQL: a whole HandshakeV10 greeting packet (sequence 0, protocol 10,
 *     a NUL-terminated printable version string starting with a digit,
 *     connection id, 8 bytes of scramble and a zero filler);
 *   XMPP: "<stream:stream" after an optional BOM, "<?xml ...?>" and
 *     white space; the declaration alone counts only from_client (a
 *     client opens XMPP with it, a server may open any XML protocol);
 *   IMAP "* OK " / "* PREAUTH ", POP3 "+OK " / "+OK\r", and a "220 " /
 *     "220-" banner line: FTP if it mentions FTP and not SMTP, else SMTP (the
 *     line complete, or BW_STARTTLS_SNIFF_MAX bytes of it); an SMTP flow
 *     whose client opens with "AUTH TLS" / "AUTH SSL" is followed as FTP.
 * Line protocols need printable text. The bytes decide, not from_client
 * (a capture's idea of who is the client is wrong when the SYN was lost);
 * use bw_starttls_sniff_is_client for the direction. Reads only p[0..n).
 */
enum bw_starttls_proto bw_starttls_sniff(const uint8_t *p, size_t n, bool from_client);
/* True if sniff said NONE only because p[0..n) is a proper prefix of a
 * signature: with more bytes of this direction it may recognise it. False
 * once n >= BW_STARTTLS_SNIFF_MAX. */
bool bw_starttls_sniff_more(const uint8_t *p, size_t n, bool from_client);
/*
 * For bytes bw_starttls_sniff recognised as proto: were they sent by the
 * client? Server-first protocols (SMTP, IMAP, POP3, FTP, MySQL): false;
 * HTTP CONNECT, LDAP: true; XMPP: false if the stream header carries an id
 * attribute (only the receiving entity's does, RFC 6120 4.7.3), true if the
 * complete header has none, else from_client.
 */
bool bw_starttls_sniff_is_client(enum bw_starttls_proto proto, const uint8_t *p, size_t n, bool from_client);
/* True for protocols whose server speaks first (SMTP, IMAP, POP3, FTP, MySQL). */
bool bw_starttls_server_first(enum bw_starttls_proto p);

/*
 * Feed the next contiguous bytes of one direction. Returns an enum
 * bw_starttls_status; *used is the number of bytes consumed (MORE), or the
 * offset in data where TLS begins (TLS; 0 on calls after the first TLS).
 */
int bw_starttls_feed(struct bw_starttls *s, bool from_client, const uint8_t *data, size_t len, size_t *used);

static inline bool bw_starttls_tls_started(const struct bw_starttls *s, bool from_client)
{
	return s->dir[from_client].tls;
}

#endif /* BW_STARTTLS_H */
