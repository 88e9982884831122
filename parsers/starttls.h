/* SPDX-License-Identifier: MIT */
/*
 * starttls.h: find where TLS starts in a flow that upgrades a plaintext
 * protocol: SMTP (25, 587) STARTTLS / 220, IMAP (143) "tag STARTTLS" /
 * "tag OK", POP3 (110) STLS / +OK, FTP (21) AUTH TLS|SSL / 234, and LDAP
 * (389) the StartTLS extended operation (1.3.6.1.4.1.1466.20037) answered
 * with resultCode success.
 *
 * A small per-flow state machine with one half per direction, fed the
 * same contiguous stream bytes as a tcp_stream consumer gets. It consumes
 * whole lines (whole BER messages for LDAP) and never buffers: a partial
 * line is left unconsumed for the next call. Lines, line lengths and
 * messages are bounded; past a bound, or on bytes that are not the
 * protocol, it gives up.
 *
 * The request and the reply are matched the way the protocols define
 * them: SMTP and FTP by counting replies (greeting + one final reply per
 * command, so a pipelined EHLO+STARTTLS is not confused), IMAP by tag,
 * POP3 and LDAP by order / message id. As a fallback for captures that miss
 * part of the dialogue, once the client asked for TLS, bytes at a line
 * boundary that look like a TLS record (bw_tls_looks_like_tls) are taken as
 * the start of TLS in either direction. A client whose very first bytes
 * are a TLS ClientHello (implicit TLS on a STARTTLS port) is also TLS at
 * offset 0.
 *
 * Wiring in a tcp_stream on_data: while bw_starttls_tls_started(s, dir) is
 * false call bw_starttls_feed: BW_STARTTLS_MORE -> return *used;
 * BW_STARTTLS_GIVE_UP -> return BW_ENOTSUP; BW_STARTTLS_TLS -> the TLS
 * bytes begin at data[*used] (return *used if > 0 and hand the rest to
 * bw_tls_conn_feed on the next call, or feed data + *used now).
 */
#ifndef BW_STARTTLS_H
#define BW_STARTTLS_H

#include "../sensor/bw.h"

#define BW_STARTTLS_MAX_LINE 2048     /* bytes in one line, CRLF included */
#define BW_STARTTLS_MAX_LINES 128     /* lines (or LDAP messages) per direction before TLS */
#define BW_STARTTLS_MAX_LDAP_MSG 8192 /* bytes of one LDAP message before TLS */

enum bw_starttls_proto {
	BW_STARTTLS_NONE = 0,
	BW_STARTTLS_SMTP,
	BW_STARTTLS_IMAP,
	BW_STARTTLS_POP3,
	BW_STARTTLS_FTP,
	BW_STARTTLS_LDAP,
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
};

void bw_starttls_init(struct bw_starttls *s, enum bw_starttls_proto proto);
/* The protocol usually spoken on a server port (25, 587, 143, 110, 21, 389), else NONE. */
enum bw_starttls_proto bw_starttls_proto_for_port(uint16_t port);
const char *bw_starttls_proto_name(enum bw_starttls_proto p);

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
