/* SPDX-License-Identifier: MIT */
/*
 * tls.h: passive TLS / DTLS handshake observer.
 *
 * Two layers, kept apart as in the protocol: the record layer (TLS records
 * over a TCP byte stream, DTLS records in UDP datagrams) feeds plaintext
 * handshake fragments to the handshake layer, which reassembles handshake
 * messages (one message over many records, many messages in one record)
 * and parses the few we care about: ClientHello, ServerHello (and
 * HelloRetryRequest), HelloVerifyRequest, Certificate, ServerHelloDone.
 * Nothing after ChangeCipherSpec is looked at; TLS 1.3 encrypts everything
 * after the ServerHello, so there the server certificate is not visible.
 *
 * Ownership: struct bw_tls_conn is caller-owned per-flow state (both
 * directions). It borrows nothing: every result, including the certificate
 * DER blobs, lives in the conn or in the at most one buffer per direction
 * the conn allocates lazily (only for a handshake message that spans
 * records, or to keep a Certificate message), bounded by
 * cfg->max_handshake_bytes. bw_tls_conn_deinit() frees them; pointers into
 * a conn (certificate DER) are valid until then.
 *
 * The pure functions bw_tls_parse_client_hello / bw_tls_parse_server_hello
 * parse one handshake message body (no 4-byte handshake header), for the
 * QUIC decoder (CRYPTO frames) and for callers holding a message already.
 * They borrow the body only during the call: results are copied out.
 */
#ifndef BW_TLS_H
#define BW_TLS_H

#include "../sensor/bw.h"
#include "anomaly.h"

/* Bounds of the arrays in a parsed hello. A list longer than its array is
 * cut and its *_truncated flag set; the count then is the number stored. */
#define BW_TLS_MAX_CIPHERS 256
#define BW_TLS_MAX_EXTS 64
#define BW_TLS_MAX_GROUPS 32
#define BW_TLS_MAX_POINT_FORMATS 8
#define BW_TLS_MAX_SIGALGS 64
#define BW_TLS_MAX_VERSIONS 16
#define BW_TLS_MAX_KEY_SHARES 8
#define BW_TLS_MAX_ALPN 16
#define BW_TLS_MAX_ALPN_LEN 32   /* bytes kept of each ALPN protocol id */
#define BW_TLS_MAX_SNI 255       /* raw host_name bytes kept */
#define BW_TLS_SNI_TEXT_MAX (4 * BW_TLS_MAX_SNI + 1) /* escaped, NUL-terminated */
#define BW_TLS_MAX_CERTS 16
#define BW_TLS_DEFAULT_MAX_HANDSHAKE (64u * 1024u)
#define BW_TLS_NAME_BUF 24 /* buffer for bw_tls_version_name / bw_tls_cipher_name */

/* Record content types, handshake types, versions. */
enum {
	BW_TLS_CT_CCS = 20,
	BW_TLS_CT_ALERT = 21,
	BW_TLS_CT_HANDSHAKE = 22,
	BW_TLS_CT_APPDATA = 23,
	BW_TLS_CT_HEARTBEAT = 24,
};

enum {
	BW_TLS_HS_HELLO_REQUEST = 0,
	BW_TLS_HS_CLIENT_HELLO = 1,
	BW_TLS_HS_SERVER_HELLO = 2,
	BW_TLS_HS_HELLO_VERIFY_REQUEST = 3,
	BW_TLS_HS_NEW_SESSION_TICKET = 4,
	BW_TLS_HS_ENCRYPTED_EXTENSIONS = 8,
	BW_TLS_HS_CERTIFICATE = 11,
	BW_TLS_HS_SERVER_KEY_EXCHANGE = 12,
	BW_TLS_HS_CERTIFICATE_REQUEST = 13,
	BW_TLS_HS_SERVER_HELLO_DONE = 14,
	BW_TLS_HS_CERTIFICATE_VERIFY = 15,
	BW_TLS_HS_CLIENT_KEY_EXCHANGE = 16,
	BW_TLS_HS_FINISHED = 20,
	BW_TLS_HS_CERTIFICATE_STATUS = 22,
};

#define BW_TLS_V_SSL2 0x0002 /* as stored for an SSLv2 record; see is_sslv2 */
#define BW_TLS_V_SSL3 0x0300
#define BW_TLS_V_TLS10 0x0301
#define BW_TLS_V_TLS11 0x0302
#define BW_TLS_V_TLS12 0x0303
#define BW_TLS_V_TLS13 0x0304
#define BW_TLS_V_DTLS10 0xfeff
#define BW_TLS_V_DTLS12 0xfefd
#define BW_TLS_V_DTLS13 0xfefc

/* Extension types we look inside. */
#define BW_TLS_EXT_SERVER_NAME 0x0000
#define BW_TLS_EXT_SUPPORTED_GROUPS 0x000a
#define BW_TLS_EXT_EC_POINT_FORMATS 0x000b
#define BW_TLS_EXT_SIGNATURE_ALGORITHMS 0x000d
#define BW_TLS_EXT_ALPN 0x0010
#define BW_TLS_EXT_SESSION_TICKET 0x0023
#define BW_TLS_EXT_PRE_SHARED_KEY 0x0029
#define BW_TLS_EXT_EARLY_DATA 0x002a
#define BW_TLS_EXT_SUPPORTED_VERSIONS 0x002b
#define BW_TLS_EXT_KEY_SHARE 0x0033
#define BW_TLS_EXT_ECH 0xfe0d

/* GREASE (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa. Kept in the raw lists. */
static inline bool bw_tls_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* One ALPN protocol id: len is the length on the wire (1..255); the first
 * BW_MIN(len, BW_TLS_MAX_ALPN_LEN) bytes are in id[], and last is its last
 * byte even when id[] is cut (JA4 needs it). */
struct bw_tls_alpn {
	uint8_t len;
	uint8_t last;
	uint8_t id[BW_TLS_MAX_ALPN_LEN];
};

struct bw_tls_client_hello {
	uint16_t legacy_version;   /* client_version on the wire */
	uint16_t max_version;      /* highest non-GREASE supported_versions entry, else legacy_version */
	bool is_sslv2;             /* came as an SSLv2-compatible CLIENT-HELLO */
	bool is_dtls;              /* legacy_version was 0xfeXX (a cookie field was parsed) */
	bool malformed;            /* some length lied; the fields before it are still valid */
	uint8_t session_id_len;
	uint8_t session_id[32];
	uint8_t cookie_len;        /* DTLS */
	uint8_t compression_count;
	bool compression_null_only;

	uint16_t ciphers[BW_TLS_MAX_CIPHERS]; /* in order, GREASE kept */
	uint16_t cipher_count;
	bool ciphers_truncated;
	uint16_t sslv2_cipher_specs; /* SSLv2 hello: number of 3-byte specs (only 0x00XXXX ones are in ciphers[]) */

	uint16_t exts[BW_TLS_MAX_EXTS]; /* extension types in order, GREASE and duplicates kept */
	uint16_t ext_count;
	bool exts_truncated;
	bool has_extensions; /* an extensions block was present (even empty) */

	uint16_t versions[BW_TLS_MAX_VERSIONS]; /* supported_versions, in order */
	uint8_t version_count;
	bool versions_truncated;

	uint16_t groups[BW_TLS_MAX_GROUPS]; /* supported_groups (elliptic_curves) */
	uint8_t group_count;
	bool groups_truncated;

	uint8_t point_formats[BW_TLS_MAX_POINT_FORMATS];
	uint8_t point_format_count;
	bool point_formats_truncated;

	uint16_t sigalgs[BW_TLS_MAX_SIGALGS]; /* signature_algorithms, in order */
	uint8_t sigalg_count;
	bool sigalgs_truncated;

	uint16_t key_shares[BW_TLS_MAX_KEY_SHARES]; /* key_share groups offered, in order */
	uint8_t key_share_count;
	bool key_shares_truncated;

	struct bw_tls_alpn alpn[BW_TLS_MAX_ALPN];
	uint8_t alpn_count;
	bool alpn_truncated;

	/* SNI: the first host_name entry of server_name. */
	bool has_sni;                        /* server_name extension present */
	uint16_t sni_len;                    /* length on the wire of the host_name */
	uint8_t sni_raw[BW_TLS_MAX_SNI];     /* first BW_MIN(sni_len, BW_TLS_MAX_SNI) bytes */
	bool sni_truncated;                  /* sni_len > BW_TLS_MAX_SNI */
	bool sni_valid;                      /* a syntactically valid DNS host name (LDH, '_', dots, <= 253) */
	char sni[BW_TLS_SNI_TEXT_MAX];       /* printable ASCII kept, other bytes and '\\' as \xHH; NUL-terminated */

	bool psk_present;          /* pre_shared_key */
	bool early_data;           /* early_data */
	bool ech_present;          /* encrypted_client_hello (0xfe0d) */
	bool session_ticket;       /* session_ticket extension with a non-empty ticket */
};

struct bw_tls_server_hello {
	uint16_t legacy_version;
	uint16_t selected_version; /* supported_versions in the ServerHello, 0 if absent */
	uint16_t version;          /* selected_version if present, else legacy_version */
	uint16_t cipher;
	uint8_t compression;
	bool malformed;
	bool is_hello_retry_request; /* random == SHA-256("HelloRetryRequest") */
	bool is_resumption;          /* guess: TLS 1.3 pre_shared_key accepted, or <= 1.2 session id echoed
					(the conn also sets it when CCS follows the ServerHello directly) */
	bool downgrade_sentinel;     /* random ends in "DOWNGRD\x01" or "\x00" (RFC 8446 4.1.3) */
	bool psk_selected;
	bool session_ticket;         /* server sent an (empty) session_ticket extension */
	uint8_t session_id_len;
	uint8_t session_id[32];
	uint16_t key_share_group;    /* key_share selected group (HRR: the group asked for); 0 if none */

	uint16_t exts[BW_TLS_MAX_EXTS];
	uint16_t ext_count;
	bool exts_truncated;
	bool has_extensions;

	struct bw_tls_alpn alpn; /* selected protocol; alpn.len == 0 if none */
};

/* One certificate of a chain, pointing into conn-owned memory. */
struct bw_tls_cert {
	const uint8_t *der;
	uint32_t len;
};

struct bw_tls_cert_chain {
	struct bw_tls_cert certs[BW_TLS_MAX_CERTS];
	uint8_t count;
	bool present;   /* a Certificate message was seen (count may be 0: empty chain) */
	bool truncated; /* more certificates than BW_TLS_MAX_CERTS, or the handshake cap cut the message */
	bool malformed; /* a certificate length lied */
};

struct bw_tls_config {
	uint32_t max_handshake_bytes; /* per direction buffer cap (default 64 KiB) */
};

void bw_tls_config_default(struct bw_tls_config *c);

/* Per-direction state; internal, but readable (flags) by callers. */
struct bw_tls_dir {
	uint8_t *buf;      /* lazily allocated: [kept Certificate body][partial message body] */
	uint32_t buf_cap;  /* allocated size (<= cfg.max_handshake_bytes) */
	uint32_t kept;     /* bytes at buf[0..kept) owned by a certificate chain */
	uint32_t part;     /* body bytes of the partial handshake message at buf[kept..kept+part) */
	uint32_t part_want; /* body bytes to collect (its length, or less when the cap cuts it) */
	uint32_t skip;     /* bytes of an oversized handshake message still to discard */
	uint8_t hdr[4];    /* handshake header of the partial message */
	uint8_t hdr_len;   /* 0..4; > 0 while a message is in progress */
	bool started;      /* first bytes seen and classified */
	bool done;         /* this direction told us all we want */
	bool failed;       /* malformed; done is also set */
	uint16_t record_version; /* version of the last record */
	uint32_t records, messages;
	/* DTLS: handshake message reassembly by message_seq. */
	bool dtls_have_seq;
	uint32_t dtls_next_seq;   /* lowest message_seq not yet handled */
	bool dtls_asm;            /* a fragmented message is being assembled at buf[kept..] */
	uint16_t dtls_asm_seq;
	uint8_t dtls_asm_type;
	uint32_t dtls_asm_len;    /* its full length */
	uint32_t dtls_asm_have;   /* bytes received (no double counting) */
	uint8_t dtls_asm_drops;   /* fragments of later messages dropped meanwhile */
};

struct bw_tls_conn {
	struct bw_tls_config cfg;
	struct bw_tls_dir dir[2]; /* [0] server to client, [1] client to server */

	bool saw_client_hello, saw_server_hello, saw_hello_retry_request, saw_hello_verify_request;
	bool saw_certificate;        /* server Certificate message */
	bool saw_client_certificate; /* client Certificate message (client auth, <= 1.2) */
	bool saw_server_hello_done;
	bool saw_change_cipher_spec; /* either direction */
	bool saw_app_data;
	bool saw_alert;
	bool not_tls;                /* the bytes did not look like TLS */
	bool is_dtls;
	bool cert_visible;           /* false once TLS 1.3 is negotiated (Certificate is encrypted) */
	uint8_t alert_level, alert_description; /* the first plaintext alert */
	bool alert_from_client;
	uint8_t client_hello_count;  /* 2 after a HelloRetryRequest */
	uint8_t hvr_cookie_len;      /* DTLS HelloVerifyRequest cookie */
	uint16_t version;            /* negotiated: ServerHello version (selected_version if any), else 0 */

	struct bw_tls_client_hello ch; /* the first ClientHello */
	struct bw_tls_server_hello sh; /* the (last) ServerHello; after an HRR the real one when seen */
	struct bw_tls_cert_chain server_certs;
	struct bw_tls_cert_chain client_certs;
};

/* cfg may be NULL (defaults). Never fails (allocation is lazy). */
void bw_tls_conn_init(struct bw_tls_conn *c, const struct bw_tls_config *cfg);
/* Frees the buffers; the conn must be re-initialised before reuse. NULL-safe. */
void bw_tls_conn_deinit(struct bw_tls_conn *c);

/*
 * Feed the next contiguous stream bytes of one direction (the tcp_stream
 * consumer contract, parsers/tcp_stream.h). Whole records are consumed; a
 * partial record at the end is left for the next call.
 * Returns:
 *   >= 0         bytes consumed (the rest, a partial record, is offered again with more);
 *   BW_EAGAIN    nothing consumed, *need = bytes wanted from data[0] (need > len);
 *   BW_ENOTSUP   this direction is finished (TLS 1.3 after the ServerHello; <= 1.2
 *                after the server's Certificate or ServerHelloDone; ChangeCipherSpec,
 *                application data, a fatal alert; or the bytes are not TLS). Results stay
 *                readable. Returned as soon as the direction finishes, and on every later call;
 *   BW_EMALF     a malformed record (tls.bad_record) or handshake message
 *                (tls.bad_handshake); the direction is finished (later calls: BW_ENOTSUP).
 *                A tcp_stream consumer should treat it as BW_ENOTSUP.
 *   BW_ENOMEM    the handshake buffer could not be allocated (direction finished).
 * need may be NULL only if the caller never needs it (then EAGAIN still returned).
 */
int bw_tls_conn_feed(struct bw_tls_conn *c, bool from_client, const uint8_t *data, size_t len,
		     size_t *need, struct bw_anomalies *an);

/*
 * Feed one UDP datagram of a DTLS 1.0/1.2 flow (possibly several records).
 * Handshake fragments are reassembled by message_seq (out of order within a
 * message, duplicates and retransmissions dropped). Returns BW_OK, BW_ENOTSUP
 * (direction finished, as for TLS; also epoch > 0 records), or BW_EMALF.
 */
int bw_dtls_feed_datagram(struct bw_tls_conn *c, bool from_client, const uint8_t *p, size_t n,
			  struct bw_anomalies *an);

/* Both directions are finished: the reassembler may stop buffering the flow. */
bool bw_tls_conn_done(const struct bw_tls_conn *c);

/*
 * Detection by bytes, not port. looks_like_client_hello: a TLS handshake
 * record (type 22, version 3.0..3.4, length 1..2^14+2048) whose first
 * handshake message is a ClientHello with a version 3.x (when those bytes
 * are present), or an SSLv2-compatible CLIENT-HELLO (2-byte header with
 * high bit, msg type 1, version 3.x, consistent lengths). Needs 5 bytes
 * (TLS) or 11 (SSLv2); fewer: false. looks_like_tls: any TLS record header
 * (types 20..24) or the SSLv2-compatible hello.
 */
bool bw_tls_looks_like_client_hello(const uint8_t *p, size_t n);
bool bw_tls_looks_like_tls(const uint8_t *p, size_t n);
/* A DTLS 1.0/1.2 record header (types 20..24, version 0xfeff/0xfefd). */
bool bw_dtls_looks_like_dtls(const uint8_t *p, size_t n);

/*
 * Parse one ClientHello / ServerHello body (after the 4-byte handshake
 * header). A DTLS body is recognised by its 0xfeXX version (cookie field).
 * out is zeroed first. Returns BW_OK; BW_ETRUNC if the body ends inside the
 * fixed part or an outer length; BW_EMALF if a length disagrees with its
 * container. On error out keeps what was parsed before (out->malformed set).
 */
int bw_tls_parse_client_hello(const uint8_t *body, size_t len, struct bw_tls_client_hello *out);
int bw_tls_parse_server_hello(const uint8_t *body, size_t len, struct bw_tls_server_hello *out);

/*
 * Names as the peers print them: "SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1",
 * "TLSv1.2", "TLSv1.3", "DTLSv1.0", "DTLSv1.2", "DTLSv1.3",
 * "TLSv1.3-draft-NN" (0x7fNN), "TLSv1.3-draft-NN-fb" (Facebook 0xfbNN);
 * anything else "unknown-N" (decimal, as Zeek). Static strings; buf (at
 * least BW_TLS_NAME_BUF bytes) is used only for the formatted ones.
 */
const char *bw_tls_version_name(uint16_t v, char *buf, size_t cap);
/* IANA cipher suite name (TLS_AES_128_GCM_SHA256, ...); unknown as "0xC0FF". */
const char *bw_tls_cipher_name(uint16_t suite, char *buf, size_t cap);
/* Alert description name (RFC 8446 / IANA: "handshake_failure"); unknown as "unknown-N". */
const char *bw_tls_alert_name(uint8_t desc, char *buf, size_t cap);
/* Is this version TLS 1.3 or one of its drafts? */
bool bw_tls_version_is_13(uint16_t v);

/*
 * Escape bytes for text output: printable ASCII 0x20..0x7e except '\\' as
 * is, others as \xHH. Always NUL-terminates (cap >= 1); returns the length
 * written, cut at a whole escape if cap is short.
 */
size_t bw_tls_escape(const uint8_t *p, size_t n, char *out, size_t cap);

#endif /* BW_TLS_H */
