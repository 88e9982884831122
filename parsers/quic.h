/* SPDX-License-Identifier: MIT */
/*
 * quic.h: QUIC Initial packet decoding, up to the TLS ClientHello and
 * ServerHello carried in their CRYPTO frames.
 *
 * Initial packets are encrypted, but with keys anyone can derive from the
 * Destination Connection ID of the client's first Initial (RFC 9001 section
 * 5.2; RFC 9369 for version 2). This module derives them, removes header and
 * packet protection with OpenSSL, and reassembles the CRYPTO stream of each
 * direction so the TLS parser can read the hellos (SNI, ALPN, fingerprints,
 * the server's version and cipher).
 *
 * Two objects, two owners:
 *   - struct bw_quic_decoder: one per worker. It holds the OpenSSL objects
 *     (fetched ciphers and KDF, reusable contexts), a small cache of derived
 *     keys and the plaintext scratch buffer. Created once; never shared
 *     between threads. bw_quic_feed() does not allocate.
 *   - struct bw_quic_conn: one per UDP flow, owned by the caller (plain
 *     struct, no pointers inside, so it may be pooled, copied or zeroed; it
 *     is about 23 KiB because it carries the reassembly buffers inline).
 *
 * Versions decoded: 1 (0x00000001), 2 (0x6b3343cf) and the IETF drafts 29 to
 * 32 (0xff00001d..0xff000020, which share draft-29's salt) still seen in test
 * captures. Other versions are left alone (BW_ENOTSUP, not an anomaly).
 */
#ifndef BW_QUIC_H
#define BW_QUIC_H

#include "../sensor/bw.h"
#include "anomaly.h"

#define BW_QUIC_V1 0x00000001u
#define BW_QUIC_V2 0x6b3343cfu
#define BW_QUIC_DRAFT29 0xff00001du

#define BW_QUIC_MAX_CID 20           /* RFC 9000 17.2: v1/v2 connection ids are <= 20 bytes */
#define BW_QUIC_MAX_DATAGRAM 65535   /* largest packet payload decrypted; longer is malformed */
#define BW_QUIC_MAX_COALESCED 16     /* packets looked at in one datagram */
#define BW_QUIC_CLIENT_CRYPTO_CAP 16384 /* client CRYPTO bytes kept from offset 0 (ClientHello) */
#define BW_QUIC_SERVER_CRYPTO_CAP 4096  /* server CRYPTO bytes kept (ServerHello, PQ share ~1K) */

/*
 * The Initial-level CRYPTO stream of one direction. The bytes themselves
 * live in struct bw_quic_conn (the caps differ per direction).
 */
struct bw_quic_stream {
	uint32_t contig;    /* bytes held contiguously from offset 0 */
	uint32_t hi;        /* highest offset + 1 held */
	uint32_t msg_len;   /* first handshake message's length with its 4-byte header, once known */
	uint32_t conflicts; /* bytes retransmitted with different content (first copy kept) */
	bool complete;      /* the first handshake message is held in full */
	bool bad;           /* first message has the wrong type or does not fit the cap */
	bool cap_hit;       /* data beyond the cap was dropped */
};

/* Per-flow QUIC state. Initialise with bw_quic_conn_init() before use. */
struct bw_quic_conn {
	uint32_t version;        /* version of the client's first Initial; 0 until one is seen */
	uint32_t server_version; /* last server Initial decrypted (differs after compatible VN) */
	uint8_t odcid_len, scid_len, key_dcid_len, retry_scid_len;
	uint8_t odcid[BW_QUIC_MAX_CID];     /* DCID of the client's first Initial */
	uint8_t scid[BW_QUIC_MAX_CID];      /* SCID of the client's first Initial */
	uint8_t key_dcid[BW_QUIC_MAX_CID];  /* DCID the Initial keys come from: odcid or Retry SCID */
	uint8_t retry_scid[BW_QUIC_MAX_CID];
	bool have_client;        /* a client Initial header was seen (odcid/scid/version valid) */
	bool retry_seen;         /* a Retry with a valid integrity tag was seen */
	bool version_negotiation;/* the server sent a Version Negotiation packet */
	bool closed;             /* a CONNECTION_CLOSE frame was seen in an Initial */
	uint64_t close_error;    /* its error code */
	int64_t largest_pn[2];   /* per direction (0 client, 1 server); -1 = none yet */
	uint32_t decrypted[2];   /* Initial packets decrypted per direction */
	uint32_t failed[2];      /* Initial packets that did not decrypt per direction */
	struct bw_quic_stream client, server;
	uint8_t client_buf[BW_QUIC_CLIENT_CRYPTO_CAP];
	uint8_t client_map[BW_QUIC_CLIENT_CRYPTO_CAP / 8]; /* bit per byte held */
	uint8_t server_buf[BW_QUIC_SERVER_CRYPTO_CAP];
	uint8_t server_map[BW_QUIC_SERVER_CRYPTO_CAP / 8];
};

struct bw_quic_decoder;

/* Create a decoder (one per worker). NULL on ENOMEM or if OpenSSL lacks AES-GCM/ECB or HKDF. */
struct bw_quic_decoder *bw_quic_decoder_new(void);
/* Free a decoder; safe on NULL. */
void bw_quic_decoder_free(struct bw_quic_decoder *d);

/* Reset c to "nothing seen". Safe on NULL. */
void bw_quic_conn_init(struct bw_quic_conn *c);
/* Release c (nothing is allocated; it is wiped). Safe on NULL. */
void bw_quic_conn_deinit(struct bw_quic_conn *c);

/*
 * Cheap pre-check for one UDP payload, no decryption: a long header with the
 * fixed bit, a version this module decodes, packet type Initial, connection
 * ids of at most 20 bytes, and a token and Length that fit in n with room
 * for the header protection sample. It does not insist on the 1200-byte
 * minimum of client Initials (server Initials are smaller); a caller that
 * only wants to start flows on a client's first packet can add n >= 1200.
 */
bool bw_quic_looks_like_initial(const uint8_t *p, size_t n);

/*
 * Process one UDP payload of the flow c, from the client if from_client.
 * Walks every coalesced packet: Initials are decrypted and their frames
 * (PADDING, PING, ACK, ACK_ECN, CRYPTO, CONNECTION_CLOSE) parsed, CRYPTO data
 * going into that direction's stream; 0-RTT and Handshake packets are
 * skipped by their Length; a short-header packet, or a long header of an
 * unknown version after one of ours, ends the datagram. The flow is bound
 * (version, DCID, SCID) by the first client Initial that decrypts with keys
 * from its own DCID. A valid server Retry in that version is noted and its
 * SCID becomes the DCID the Initial keys come from (the client's next
 * Initial uses it); if those keys fail, the packet's own DCID (client) or the
 * original DCID (server) is tried. Keys for each (version, DCID) are derived
 * once and cached in d. Once a direction's hello is complete, its packets
 * are no longer decrypted.
 *
 * Returns BW_OK; BW_ENOTSUP when the first packet is of a version this module
 * does not decode or no keys are known yet (a server packet before any
 * client Initial) — not counted; or BW_EMALF / BW_ETRUNC (a malformed header,
 * a packet that does not decrypt, a frame not allowed in an Initial), which
 * is counted once per datagram as QUIC_BAD in an (may be NULL); BW_EIO if
 * OpenSSL itself fails (not counted). The other packets of the datagram are
 * still used. Hello-level problems are counted as
 * TLS_HANDSHAKE_CAP (too big for the cap) or TLS_BAD_HANDSHAKE (the stream
 * does not start with the expected message type).
 */
int bw_quic_feed(struct bw_quic_decoder *d, struct bw_quic_conn *c, bool from_client,
		 const uint8_t *udp_payload, size_t len, struct bw_anomalies *an);

/*
 * The complete ClientHello (handshake type 1, 3-byte length, body: the TLS
 * handshake message without a record header) once it has been reassembled
 * from offset 0, else NULL. Borrowed from c; valid until c changes.
 */
const uint8_t *bw_quic_client_hello(const struct bw_quic_conn *c, size_t *len);
/* Same for the ServerHello (type 2) from the server's Initial packets. */
const uint8_t *bw_quic_server_hello(const struct bw_quic_conn *c, size_t *len);
/* True once both hellos are complete (or can no longer be): feeding more is pointless. */
bool bw_quic_conn_done(const struct bw_quic_conn *c);

/* Version of the client's first Initial (0 if none seen). */
uint32_t bw_quic_version(const struct bw_quic_conn *c);
/* Static name of a version: "1", "quicv2", "draft-29".."draft-32", or "unknown". */
const char *bw_quic_version_name(uint32_t version);
/* True if a valid Retry was seen on the flow. */
bool bw_quic_retry_seen(const struct bw_quic_conn *c);
/*
 * Lower-case hex of the DCID / SCID of the client's first Initial into out
 * (NUL-terminated; 2 * 20 + 1 = 41 bytes always suffice). Returns the number
 * of hex digits written; 0 (and "") if none was seen or cap is too small.
 */
size_t bw_quic_dcid_hex(const struct bw_quic_conn *c, char *out, size_t cap);
size_t bw_quic_scid_hex(const struct bw_quic_conn *c, char *out, size_t cap);

/*
 * Key material, for tests and tools: the Initial keys of one direction.
 */
struct bw_quic_keys {
	uint8_t secret[32]; /* client_initial_secret or server_initial_secret */
	uint8_t key[16];    /* AEAD_AES_128_GCM key */
	uint8_t iv[12];
	uint8_t hp[16];     /* AES-128-ECB header protection key */
};

/*
 * Derive the Initial keys of version from dcid (the client's first DCID).
 * client/server may be NULL. Returns BW_OK, BW_ENOTSUP for a version not
 * decoded, BW_EINVAL for a DCID over 20 bytes, or BW_EIO if OpenSSL fails.
 */
int bw_quic_derive_initial(struct bw_quic_decoder *d, uint32_t version, const uint8_t *dcid,
			   size_t dcid_len, struct bw_quic_keys *client, struct bw_quic_keys *server);

/*
 * Build a protected Initial packet: for tests and the fuzzer (so mutated
 * frames reach the frame parser through real packet protection); not used
 * while decoding. Keys come from key_dcid and the direction; the header
 * carries dcid/scid/token, a 2-byte (or, if needed, 4-byte) Length, and pn
 * encoded in pn_len (1..4) bytes. Reserved bits are zero. The payload must
 * be long enough for the header protection sample (pn_len + payload_len >= 4).
 */
struct bw_quic_seal {
	uint32_t version;
	bool from_server;
	const uint8_t *key_dcid;
	size_t key_dcid_len;
	const uint8_t *dcid, *scid, *token;
	size_t dcid_len, scid_len, token_len;
	uint64_t pn;
	unsigned pn_len;
	const uint8_t *payload;
	size_t payload_len;
};

/*
 * Returns BW_OK with *out_len set, BW_ELIMIT if cap is too small, BW_EINVAL
 * or BW_ENOTSUP for bad arguments, BW_EIO if OpenSSL fails.
 */
int bw_quic_seal_initial(struct bw_quic_decoder *d, const struct bw_quic_seal *s, uint8_t *out,
			 size_t cap, size_t *out_len);

#endif /* BW_QUIC_H */
