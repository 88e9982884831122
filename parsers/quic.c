/* SPDX-License-Identifier: MIT */
/*
 * quic.c: decrypt QUIC Initial packets and reassemble their CRYPTO frames.
 *
 * A passive sensor sees QUIC's TLS handshake only through Initial packets,
 * whose keys are public: HKDF over the client's first Destination Connection
 * ID with a per-version salt (RFC 9001 section 5.2, RFC 9369 section 3.3).
 * So each datagram is walked packet by packet through a bounded cursor;
 * Initials get their header protection removed (AES-128-ECB mask over a
 * sample of the ciphertext) and their payload opened (AES-128-GCM, nonce =
 * IV xor packet number), then the frames are parsed and CRYPTO data goes
 * into a per-direction buffer with a bitmap of which bytes arrived, so
 * frames may come in any order, repeat or overlap (the first copy of a byte
 * wins, as in the IP and TCP reassemblers). Everything that costs is paid
 * once: the OpenSSL ciphers and KDF are fetched and their contexts created
 * with the per-worker decoder, keys are derived once per (version, DCID)
 * and cached, and the plaintext lands in the decoder's scratch buffer, so
 * feeding a packet allocates nothing. The hellos themselves are handed out
 * as borrowed bytes for the TLS parser; this file does no TLS parsing.
 */
#include "quic.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "wire.h"

#define KEY_CACHE 4      /* flows interleave in a worker; a few entries avoid re-deriving */
#define AEAD_TAG 16
#define HP_SAMPLE 16
#define PN_MAX_LEN 4
#define VARINT_MAX ((UINT64_C(1) << 62) - 1)

enum pkt_type { PT_INITIAL, PT_0RTT, PT_HANDSHAKE, PT_RETRY };

struct quic_version {
	uint32_t version;
	const char *name;
	const uint8_t *salt; /* 20 bytes */
	const char *key_label, *iv_label, *hp_label;
	uint8_t type[4];     /* long-header type bits -> enum pkt_type */
	uint8_t initial_bits;
	const uint8_t *retry_key, *retry_nonce;
};

static const uint8_t salt_v1[20] = {
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
};
static const uint8_t salt_v2[20] = {
	0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
	0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
};
/* draft-ietf-quic-tls-29 section 5.2; unchanged through draft-32. */
static const uint8_t salt_d29[20] = {
	0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
	0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99,
};
/* Retry Integrity Tag keys: RFC 9001 5.8, RFC 9369 3.3.3, draft-29 5.8. */
static const uint8_t retry_key_v1[16] = {
	0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
	0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e,
};
static const uint8_t retry_nonce_v1[12] = {
	0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
};
static const uint8_t retry_key_v2[16] = {
	0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2,
	0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92,
};
static const uint8_t retry_nonce_v2[12] = {
	0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
};
static const uint8_t retry_key_d29[16] = {
	0xcc, 0xce, 0x18, 0x7e, 0xd0, 0x9a, 0x09, 0xd0,
	0x57, 0x28, 0x15, 0x5a, 0x6c, 0xb9, 0x6b, 0xe1,
};
static const uint8_t retry_nonce_d29[12] = {
	0xe5, 0x49, 0x30, 0xf9, 0x7f, 0x21, 0x36, 0xf0, 0x53, 0x0a, 0x8c, 0x1c,
};

#define V1_TYPES { PT_INITIAL, PT_0RTT, PT_HANDSHAKE, PT_RETRY }
#define DRAFT(n, ver)                                                                   \
	{ ver, "draft-" #n, salt_d29, "quic key", "quic iv", "quic hp", V1_TYPES, 0,     \
	  retry_key_d29, retry_nonce_d29 }

static const struct quic_version versions[] = {
	{ BW_QUIC_V1, "1", salt_v1, "quic key", "quic iv", "quic hp", V1_TYPES, 0,
	  retry_key_v1, retry_nonce_v1 },
	{ BW_QUIC_V2, "quicv2", salt_v2, "quicv2 key", "quicv2 iv", "quicv2 hp",
	  { PT_RETRY, PT_INITIAL, PT_0RTT, PT_HANDSHAKE }, 1, retry_key_v2, retry_nonce_v2 },
	DRAFT(29, 0xff00001du),
	DRAFT(30, 0xff00001eu),
	DRAFT(31, 0xff00001fu),
	DRAFT(32, 0xff000020u),
};

struct key_entry {
	const struct quic_version *v; /* NULL = unused */
	uint8_t dcid_len;
	uint8_t dcid[BW_QUIC_MAX_CID];
	struct bw_quic_keys k[2];     /* [0] client, [1] server */
};

struct bw_quic_decoder {
	EVP_CIPHER *gcm, *ecb;
	EVP_CIPHER_CTX *gctx, *ectx;
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	struct key_entry cache[KEY_CACHE];
	unsigned cache_next;
	uint8_t pt[BW_QUIC_MAX_DATAGRAM + AEAD_TAG]; /* slack: GCM final writes at the end */
};

static const struct quic_version *version_find(uint32_t version)
{
	for (size_t i = 0; i < BW_ARRAY_SIZE(versions); i++)
		if (versions[i].version == version)
			return &versions[i];
	return NULL;
}

/* RFC 9000 section 16: 2-bit length prefix, then 6, 14, 30 or 62 bits. */
static uint64_t quic_varint(struct bw_wire *w)
{
	uint8_t b = bw_wire_u8(w);
	unsigned extra = (1u << (b >> 6)) - 1;
	uint64_t v = b & 0x3f;
	for (unsigned i = 0; i < extra; i++)
		v = (v << 8) | bw_wire_u8(w);
	return v;
}

/* ---- decoder and key schedule ---------------------------------------- */

struct bw_quic_decoder *bw_quic_decoder_new(void)
{
	struct bw_quic_decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	d->ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	d->kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!d->gcm || !d->ecb || !d->kdf)
		goto fail;
	d->gctx = EVP_CIPHER_CTX_new();
	d->ectx = EVP_CIPHER_CTX_new();
	d->kctx = EVP_KDF_CTX_new(d->kdf);
	if (!d->gctx || !d->ectx || !d->kctx)
		goto fail;
	/* Bind the ciphers now; packets only set key and IV. */
	if (EVP_CipherInit_ex2(d->gctx, d->gcm, NULL, NULL, 0, NULL) != 1 ||
	    EVP_CipherInit_ex2(d->ectx, d->ecb, NULL, NULL, 1, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(d->ectx, 0) != 1)
		goto fail;
	return d;
fail:
	bw_quic_decoder_free(d);
	return NULL;
}

void bw_quic_decoder_free(struct bw_quic_decoder *d)
{
	if (!d)
		return;
	EVP_CIPHER_CTX_free(d->gctx);
	EVP_CIPHER_CTX_free(d->ectx);
	EVP_KDF_CTX_free(d->kctx);
	EVP_KDF_free(d->kdf);
	EVP_CIPHER_free(d->gcm);
	EVP_CIPHER_free(d->ecb);
	free(d);
}

static int hkdf(struct bw_quic_decoder *d, int mode, const uint8_t *key, size_t key_len,
		const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len,
		uint8_t *out, size_t out_len)
{
	OSSL_PARAM params[6], *p = params;
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
	if (salt)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	if (info)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	/* Reset so no parameter of the previous derivation (salt, info) lingers. */
	EVP_KDF_CTX_reset(d->kctx);
	return EVP_KDF_derive(d->kctx, out, out_len, params) == 1 ? BW_OK : BW_EIO;
}

/* TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 section 7.1). */
static int expand_label(struct bw_quic_decoder *d, const uint8_t secret[32], const char *label,
			uint8_t *out, size_t out_len)
{
	uint8_t info[2 + 1 + 6 + 32 + 1];
	size_t l = strlen(label);
	if (l > 32)
		return BW_EINVAL;
	info[0] = (uint8_t)(out_len >> 8);
	info[1] = (uint8_t)out_len;
	info[2] = (uint8_t)(6 + l);
	memcpy(info + 3, "tls13 ", 6);
	memcpy(info + 9, label, l);
	info[9 + l] = 0;
	return hkdf(d, EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, 32, NULL, 0, info, 10 + l, out,
		    out_len);
}

static int derive_dir(struct bw_quic_decoder *d, const struct quic_version *v,
		      const uint8_t initial[32], const char *dir_label, struct bw_quic_keys *k)
{
	int rc = expand_label(d, initial, dir_label, k->secret, sizeof(k->secret));
	if (rc == BW_OK)
		rc = expand_label(d, k->secret, v->key_label, k->key, sizeof(k->key));
	if (rc == BW_OK)
		rc = expand_label(d, k->secret, v->iv_label, k->iv, sizeof(k->iv));
	if (rc == BW_OK)
		rc = expand_label(d, k->secret, v->hp_label, k->hp, sizeof(k->hp));
	return rc;
}

static int derive(struct bw_quic_decoder *d, const struct quic_version *v, const uint8_t *dcid,
		  size_t dcid_len, struct bw_quic_keys *client, struct bw_quic_keys *server)
{
	uint8_t initial[32];
	uint8_t none = 0;
	int rc = hkdf(d, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, dcid_len ? dcid : &none, dcid_len,
		      v->salt, 20, NULL, 0, initial, sizeof(initial));
	if (rc == BW_OK && client)
		rc = derive_dir(d, v, initial, "client in", client);
	if (rc == BW_OK && server)
		rc = derive_dir(d, v, initial, "server in", server);
	OPENSSL_cleanse(initial, sizeof(initial));
	return rc;
}

int bw_quic_derive_initial(struct bw_quic_decoder *d, uint32_t version, const uint8_t *dcid,
			   size_t dcid_len, struct bw_quic_keys *client, struct bw_quic_keys *server)
{
	const struct quic_version *v = version_find(version);
	if (!d || (dcid_len && !dcid) || dcid_len > BW_QUIC_MAX_CID)
		return BW_EINVAL;
	if (!v)
		return BW_ENOTSUP;
	return derive(d, v, dcid, dcid_len, client, server);
}

/* Keys for (v, dcid) from the cache, deriving them on a miss. NULL if OpenSSL fails. */
static const struct key_entry *keys_get(struct bw_quic_decoder *d, const struct quic_version *v,
					const uint8_t *dcid, size_t dcid_len)
{
	for (unsigned i = 0; i < KEY_CACHE; i++) {
		const struct key_entry *e = &d->cache[i];
		if (e->v == v && e->dcid_len == dcid_len && memcmp(e->dcid, dcid, dcid_len) == 0)
			return e;
	}
	struct key_entry *e = &d->cache[d->cache_next];
	d->cache_next = (d->cache_next + 1) % KEY_CACHE;
	e->v = NULL;
	if (derive(d, v, dcid, dcid_len, &e->k[0], &e->k[1]) != BW_OK)
		return NULL;
	e->v = v;
	e->dcid_len = (uint8_t)dcid_len;
	memcpy(e->dcid, dcid, dcid_len);
	return e;
}

/* ---- packet protection ------------------------------------------------ */

static bool hp_mask(struct bw_quic_decoder *d, const uint8_t hp[16], const uint8_t *sample,
		    uint8_t mask[16])
{
	int outl = 0;
	return EVP_CipherInit_ex2(d->ectx, NULL, hp, NULL, 1, NULL) == 1 &&
	       EVP_CipherUpdate(d->ectx, mask, &outl, sample, HP_SAMPLE) == 1 && outl == HP_SAMPLE;
}

static void make_nonce(const uint8_t iv[12], uint64_t pn, uint8_t nonce[12])
{
	memcpy(nonce, iv, 12);
	for (unsigned i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* RFC 9000 appendix A.3: the full packet number closest to largest + 1. */
static uint64_t pn_decode(int64_t largest, uint64_t truncated, unsigned bits)
{
	int64_t expected = largest + 1;
	int64_t win = INT64_C(1) << bits, hwin = win / 2, mask = win - 1;
	int64_t cand = (expected & ~mask) | (int64_t)truncated;
	if (cand <= expected - hwin && cand < (INT64_C(1) << 62) - win)
		return (uint64_t)(cand + win);
	if (cand > expected + hwin && cand >= win)
		return (uint64_t)(cand - win);
	return (uint64_t)cand;
}

/*
 * Remove header and packet protection from one Initial: pkt is the whole
 * packet, pn_off the offset of the packet number (its Length field covers
 * the rest). Plaintext goes to d->pt.
 */
static int unprotect(struct bw_quic_decoder *d, const struct bw_quic_keys *k, const uint8_t *pkt,
		     size_t pkt_len, size_t pn_off, int64_t largest, size_t *pt_len, uint64_t *pn_out)
{
	struct bw_wire w;
	uint8_t mask[16], pnb[PN_MAX_LEN], nonce[12];
	bw_wire_init(&w, pkt, pkt_len);
	if (pn_off < 1 || pkt_len < pn_off + PN_MAX_LEN + HP_SAMPLE)
		return BW_EMALF; /* too short to hold the header protection sample */
	uint8_t b0 = bw_wire_u8(&w);
	const uint8_t *mid = bw_wire_ptr(&w, pn_off - 1);
	bw_wire_seek(&w, pn_off + PN_MAX_LEN);
	const uint8_t *sample = bw_wire_ptr(&w, HP_SAMPLE);
	if (!mid || !sample || !hp_mask(d, k->hp, sample, mask))
		return BW_EMALF;
	b0 ^= mask[0] & 0x0f;
	unsigned pn_len = (b0 & 3u) + 1;
	bw_wire_seek(&w, pn_off);
	const uint8_t *pnp = bw_wire_ptr(&w, pn_len);
	size_t body = pkt_len - pn_off - pn_len; /* >= 16 by the length check above */
	const uint8_t *ct = bw_wire_ptr(&w, body - AEAD_TAG);
	const uint8_t *tag = bw_wire_ptr(&w, AEAD_TAG);
	if (!pnp || !ct || !tag || body - AEAD_TAG > sizeof(d->pt))
		return BW_EMALF;
	uint64_t trunc = 0;
	for (unsigned i = 0; i < pn_len; i++) {
		pnb[i] = pnp[i] ^ mask[1 + i];
		trunc = (trunc << 8) | pnb[i];
	}
	uint64_t pn = pn_decode(largest, trunc, 8 * pn_len);
	make_nonce(k->iv, pn, nonce);

	/* AAD is the unprotected header: fed in three pieces, no copy. */
	int outl = 0, ctl = (int)(body - AEAD_TAG);
	EVP_CIPHER_CTX *c = d->gctx;
	if (EVP_CipherInit_ex2(c, NULL, k->key, nonce, 0, NULL) != 1 ||
	    EVP_CipherUpdate(c, NULL, &outl, &b0, 1) != 1 ||
	    (pn_off > 1 && EVP_CipherUpdate(c, NULL, &outl, mid, (int)(pn_off - 1)) != 1) ||
	    EVP_CipherUpdate(c, NULL, &outl, pnb, (int)pn_len) != 1)
		return BW_EMALF;
	if (ctl > 0 && (EVP_CipherUpdate(c, d->pt, &outl, ct, ctl) != 1 || outl != ctl))
		return BW_EMALF;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG, (void *)tag) != 1 ||
	    EVP_CipherFinal_ex(c, d->pt + ctl, &outl) != 1)
		return BW_EMALF; /* wrong keys or a corrupted packet */
	*pt_len = (size_t)ctl;
	*pn_out = pn;
	return BW_OK;
}

static bool retry_valid(struct bw_quic_decoder *d, const struct quic_version *v,
			const struct bw_quic_conn *c, const uint8_t *pkt, size_t pkt_len)
{
	struct bw_wire w;
	uint8_t odl = c->odcid_len, none[1];
	int outl = 0;
	if (pkt_len < AEAD_TAG)
		return false;
	bw_wire_init(&w, pkt, pkt_len);
	const uint8_t *body = bw_wire_ptr(&w, pkt_len - AEAD_TAG);
	const uint8_t *tag = bw_wire_ptr(&w, AEAD_TAG);
	if (!body || !tag)
		return false;
	/* AAD is the Retry pseudo-packet: ODCID length, ODCID, the Retry without its tag. */
	EVP_CIPHER_CTX *x = d->gctx;
	return EVP_CipherInit_ex2(x, NULL, v->retry_key, v->retry_nonce, 0, NULL) == 1 &&
	       EVP_CipherUpdate(x, NULL, &outl, &odl, 1) == 1 &&
	       (odl == 0 || EVP_CipherUpdate(x, NULL, &outl, c->odcid, odl) == 1) &&
	       EVP_CipherUpdate(x, NULL, &outl, body, (int)(pkt_len - AEAD_TAG)) == 1 &&
	       EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG, (void *)tag) == 1 &&
	       EVP_CipherFinal_ex(x, none, &outl) == 1;
}

/* ---- CRYPTO stream reassembly ------------------------------------------ */

static void hello_check(struct bw_quic_stream *s, const uint8_t *buf, uint32_t cap,
			uint8_t want, struct bw_anomalies *an)
{
	if (s->complete || s->bad)
		return;
	if (s->msg_len == 0 && s->contig >= 4) {
		struct bw_wire w;
		bw_wire_init(&w, buf, s->contig);
		uint8_t type = bw_wire_u8(&w);
		uint32_t len = bw_wire_u24(&w);
		if (type != want) {
			s->bad = true;
			bw_anomaly(an, BW_AN_TLS_BAD_HANDSHAKE);
			return;
		}
		if ((uint64_t)len + 4 > cap) {
			s->bad = true;
			bw_anomaly(an, BW_AN_TLS_HANDSHAKE_CAP);
			return;
		}
		s->msg_len = len + 4;
	}
	if (s->msg_len && s->contig >= s->msg_len)
		s->complete = true;
}

static void stream_add(struct bw_quic_stream *s, uint8_t *buf, uint8_t *map, uint32_t cap,
		       uint8_t want, uint64_t off, const uint8_t *data, size_t len,
		       struct bw_anomalies *an)
{
	if (len == 0)
		return;
	if (off >= cap) {
		s->cap_hit = true;
		return;
	}
	size_t n = len;
	if (n > cap - off) {
		n = cap - (size_t)off;
		s->cap_hit = true;
	}
	for (size_t i = 0; i < n; i++) {
		size_t o = (size_t)off + i;
		uint8_t bit = (uint8_t)(1u << (o & 7));
		if (map[o >> 3] & bit) {
			if (buf[o] != data[i])
				s->conflicts++;
		} else {
			buf[o] = data[i];
			map[o >> 3] |= bit;
		}
	}
	if (off + n > s->hi)
		s->hi = (uint32_t)(off + n);
	while (s->contig < cap && (map[s->contig >> 3] & (1u << (s->contig & 7))))
		s->contig++;
	hello_check(s, buf, cap, want, an);
}

/* ---- frames ------------------------------------------------------------ */

static int parse_frames(struct bw_quic_conn *c, bool from_client, const uint8_t *pt, size_t len,
			struct bw_anomalies *an)
{
	struct bw_wire w;
	bw_wire_init(&w, pt, len);
	while (bw_wire_ok(&w) && bw_wire_left(&w) > 0) {
		uint64_t type = quic_varint(&w);
		switch (type) {
		case 0x00: /* PADDING: usually a long run to the end */
			while (bw_wire_left(&w) > 0 && *bw_wire_peek(&w, 1) == 0)
				bw_wire_skip(&w, 1);
			break;
		case 0x01: /* PING */
			break;
		case 0x02:   /* ACK */
		case 0x03: { /* ACK with ECN counts */
			(void)quic_varint(&w); /* largest acknowledged */
			(void)quic_varint(&w); /* ack delay */
			uint64_t ranges = quic_varint(&w);
			(void)quic_varint(&w); /* first range */
			if (ranges > bw_wire_left(&w) / 2)
				return BW_EMALF; /* each range takes at least two bytes */
			for (uint64_t i = 0; i < ranges && bw_wire_ok(&w); i++) {
				(void)quic_varint(&w); /* gap */
				(void)quic_varint(&w); /* range length */
			}
			if (type == 0x03)
				for (int i = 0; i < 3; i++)
					(void)quic_varint(&w); /* ECT0, ECT1, CE */
			break;
		}
		case 0x06: { /* CRYPTO */
			uint64_t off = quic_varint(&w), flen = quic_varint(&w);
			if (!bw_wire_ok(&w) || flen > bw_wire_left(&w) || off + flen > VARINT_MAX)
				return BW_EMALF;
			const uint8_t *data = bw_wire_ptr(&w, (size_t)flen);
			if (from_client)
				stream_add(&c->client, c->client_buf, c->client_map,
					   BW_QUIC_CLIENT_CRYPTO_CAP, 1, off, data, (size_t)flen, an);
			else
				stream_add(&c->server, c->server_buf, c->server_map,
					   BW_QUIC_SERVER_CRYPTO_CAP, 2, off, data, (size_t)flen, an);
			break;
		}
		case 0x1c:   /* CONNECTION_CLOSE (transport) */
		case 0x1d: { /* CONNECTION_CLOSE (application; not allowed in Initial, but harmless) */
			uint64_t code = quic_varint(&w);
			if (type == 0x1c)
				(void)quic_varint(&w); /* frame type */
			uint64_t rlen = quic_varint(&w);
			if (!bw_wire_ok(&w) || rlen > bw_wire_left(&w))
				return BW_EMALF;
			bw_wire_skip(&w, (size_t)rlen);
			c->closed = true;
			c->close_error = code;
			break;
		}
		default: /* not allowed in an Initial (RFC 9000 section 12.4) */
			return BW_EMALF;
		}
	}
	return bw_wire_ok(&w) ? BW_OK : BW_EMALF;
}

/* ---- packets ------------------------------------------------------------ */

static bool cid_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

static int try_keys(struct bw_quic_decoder *d, struct bw_quic_conn *c, const struct quic_version *v,
		    int dir, const uint8_t *kdcid, size_t kdcid_len, const uint8_t *pkt,
		    size_t pkt_len, size_t pn_off, size_t *pt_len)
{
	const struct key_entry *e = keys_get(d, v, kdcid, kdcid_len);
	uint64_t pn = 0;
	if (!e)
		return BW_EIO;
	int rc = unprotect(d, &e->k[dir], pkt, pkt_len, pn_off, c->largest_pn[dir], pt_len, &pn);
	if (rc == BW_OK && (int64_t)pn > c->largest_pn[dir])
		c->largest_pn[dir] = (int64_t)pn;
	return rc;
}

static int process_initial(struct bw_quic_decoder *d, struct bw_quic_conn *c, bool from_client,
			   const struct quic_version *v, const uint8_t *pkt, size_t pkt_len,
			   size_t pn_off, const uint8_t *dcid, size_t dcid_len, const uint8_t *scid,
			   size_t scid_len, struct bw_anomalies *an)
{
	int dir = from_client ? 0 : 1;
	size_t pt_len = 0;
	int rc;
	if (!c->have_client) {
		if (!from_client)
			return BW_ENOTSUP; /* a server Initial before any client one: no keys */
		/*
		 * The flow is bound to the first client Initial that opens with
		 * its own DCID, so a spoofed or corrupted packet cannot claim it.
		 */
		rc = try_keys(d, c, v, 0, dcid, dcid_len, pkt, pkt_len, pn_off, &pt_len);
		if (rc != BW_OK) {
			c->failed[0]++;
			return rc == BW_EIO ? BW_EIO : BW_EMALF;
		}
		c->have_client = true;
		c->version = v->version;
		c->odcid_len = c->key_dcid_len = (uint8_t)dcid_len;
		memcpy(c->odcid, dcid, dcid_len);
		memcpy(c->key_dcid, dcid, dcid_len);
		c->scid_len = (uint8_t)scid_len;
		memcpy(c->scid, scid, scid_len);
		c->decrypted[0]++;
		return parse_frames(c, true, d->pt, pt_len, an);
	}

	rc = try_keys(d, c, v, dir, c->key_dcid, c->key_dcid_len, pkt, pkt_len, pn_off, &pt_len);
	if (rc != BW_OK) {
		/*
		 * A client whose Retry we missed, or that ignored one we saw, keys
		 * on its own DCID or the original one: try the other before giving up.
		 */
		const uint8_t *alt = from_client ? dcid : c->odcid;
		size_t alt_len = from_client ? dcid_len : c->odcid_len;
		if (!cid_eq(alt, alt_len, c->key_dcid, c->key_dcid_len)) {
			rc = try_keys(d, c, v, dir, alt, alt_len, pkt, pkt_len, pn_off, &pt_len);
			if (rc == BW_OK && from_client) {
				memcpy(c->key_dcid, alt, alt_len);
				c->key_dcid_len = (uint8_t)alt_len;
			}
		}
	}
	if (rc != BW_OK) {
		c->failed[dir]++;
		return rc == BW_EIO ? BW_EIO : BW_EMALF;
	}
	c->decrypted[dir]++;
	if (!from_client)
		c->server_version = v->version;
	return parse_frames(c, from_client, d->pt, pt_len, an);
}

static int process_retry(struct bw_quic_decoder *d, struct bw_quic_conn *c,
			 const struct quic_version *v, const uint8_t *pkt, size_t pkt_len,
			 size_t hdr_len, const uint8_t *scid, size_t scid_len)
{
	/*
	 * Only the first Retry counts (RFC 9000 17.2.5.2), only in the client's
	 * version (RFC 9369 4.1), and it needs the ODCID to verify.
	 */
	if (c->retry_seen || !c->have_client || v->version != c->version)
		return BW_OK;
	if (pkt_len < hdr_len + AEAD_TAG || !retry_valid(d, v, c, pkt, pkt_len))
		return BW_EMALF;
	c->retry_seen = true;
	c->retry_scid_len = c->key_dcid_len = (uint8_t)scid_len;
	memcpy(c->retry_scid, scid, scid_len);
	memcpy(c->key_dcid, scid, scid_len);
	return BW_OK;
}

int bw_quic_feed(struct bw_quic_decoder *d, struct bw_quic_conn *c, bool from_client,
		 const uint8_t *udp_payload, size_t len, struct bw_anomalies *an)
{
	if (!d || !c || (!udp_payload && len))
		return BW_EINVAL;
	const struct bw_quic_stream *s = from_client ? &c->client : &c->server;
	if (s->complete || s->bad)
		return BW_OK;
	struct bw_wire w;
	bw_wire_init(&w, udp_payload, len);
	int rc = BW_OK;
	for (unsigned i = 0; i < BW_QUIC_MAX_COALESCED && bw_wire_left(&w) > 0; i++) {
		size_t start = bw_wire_pos(&w);
		uint8_t b0 = bw_wire_u8(&w);
		if (!(b0 & 0x80))
			break; /* short header: 1-RTT to the end of the datagram (or padding) */
		uint32_t version = bw_wire_u32(&w);
		if (bw_wire_ok(&w) && version == 0) {
			if (!from_client)
				c->version_negotiation = true;
			break;
		}
		const struct quic_version *v = version_find(version);
		uint8_t dl = bw_wire_u8(&w);
		const uint8_t *dcid = bw_wire_ptr(&w, dl);
		uint8_t sl = bw_wire_u8(&w);
		const uint8_t *scid = bw_wire_ptr(&w, sl);
		if (!bw_wire_ok(&w)) {
			rc = BW_ETRUNC;
			break;
		}
		if (!v) {
			/* Not ours; after a packet of ours it is trailing junk, which peers ignore. */
			if (i == 0)
				rc = BW_ENOTSUP;
			break;
		}
		if (dl > BW_QUIC_MAX_CID || sl > BW_QUIC_MAX_CID) {
			rc = BW_EMALF;
			break;
		}
		enum pkt_type t = (enum pkt_type)v->type[(b0 >> 4) & 3];
		if (t == PT_RETRY) {
			/* A Retry has no Length: it is the rest of the datagram. */
			size_t hdr_len = bw_wire_pos(&w) - start;
			size_t pkt_len = len - start;
			bw_wire_seek(&w, start);
			const uint8_t *pkt = bw_wire_ptr(&w, pkt_len);
			if (!from_client && pkt)
				rc = process_retry(d, c, v, pkt, pkt_len, hdr_len, scid, sl);
			break;
		}
		if (t == PT_INITIAL) {
			uint64_t tlen = quic_varint(&w);
			if (!bw_wire_ok(&w) || tlen > bw_wire_left(&w)) {
				rc = BW_ETRUNC;
				break;
			}
			bw_wire_skip(&w, (size_t)tlen);
		}
		uint64_t plen = quic_varint(&w);
		if (!bw_wire_ok(&w) || plen > bw_wire_left(&w)) {
			rc = BW_ETRUNC;
			break;
		}
		size_t pn_off = bw_wire_pos(&w) - start;
		size_t pkt_len = pn_off + (size_t)plen;
		bw_wire_seek(&w, start);
		const uint8_t *pkt = bw_wire_ptr(&w, pkt_len);
		if (t != PT_INITIAL || !pkt)
			continue; /* 0-RTT and Handshake: skipped by their Length */
		int r = process_initial(d, c, from_client, v, pkt, pkt_len, pn_off, dcid, dl, scid, sl,
					an);
		if (r != BW_OK && rc == BW_OK)
			rc = r;
		if (s->complete || r == BW_ENOTSUP)
			break;
	}
	if (rc == BW_EMALF || rc == BW_ETRUNC)
		bw_anomaly(an, BW_AN_QUIC_BAD);
	return rc;
}

bool bw_quic_looks_like_initial(const uint8_t *p, size_t n)
{
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	uint8_t b0 = bw_wire_u8(&w);
	const struct quic_version *v = version_find(bw_wire_u32(&w));
	if (!bw_wire_ok(&w) || (b0 & 0xc0) != 0xc0 || !v || v->type[(b0 >> 4) & 3] != PT_INITIAL)
		return false;
	uint8_t dl = bw_wire_u8(&w);
	bw_wire_skip(&w, dl);
	uint8_t sl = bw_wire_u8(&w);
	bw_wire_skip(&w, sl);
	if (dl > BW_QUIC_MAX_CID || sl > BW_QUIC_MAX_CID)
		return false;
	uint64_t tlen = quic_varint(&w);
	if (!bw_wire_ok(&w) || tlen > bw_wire_left(&w))
		return false;
	bw_wire_skip(&w, (size_t)tlen);
	uint64_t plen = quic_varint(&w);
	return bw_wire_ok(&w) && plen <= bw_wire_left(&w) && plen >= PN_MAX_LEN + HP_SAMPLE;
}

/* ---- conn and accessors ------------------------------------------------ */

void bw_quic_conn_init(struct bw_quic_conn *c)
{
	if (!c)
		return;
	memset(c, 0, sizeof(*c));
	c->largest_pn[0] = c->largest_pn[1] = -1;
}

void bw_quic_conn_deinit(struct bw_quic_conn *c)
{
	if (c)
		memset(c, 0, sizeof(*c));
}

const uint8_t *bw_quic_client_hello(const struct bw_quic_conn *c, size_t *len)
{
	if (!c || !c->client.complete)
		return NULL;
	if (len)
		*len = c->client.msg_len;
	return c->client_buf;
}

const uint8_t *bw_quic_server_hello(const struct bw_quic_conn *c, size_t *len)
{
	if (!c || !c->server.complete)
		return NULL;
	if (len)
		*len = c->server.msg_len;
	return c->server_buf;
}

bool bw_quic_conn_done(const struct bw_quic_conn *c)
{
	return c && (c->client.complete || c->client.bad) && (c->server.complete || c->server.bad);
}

uint32_t bw_quic_version(const struct bw_quic_conn *c)
{
	return c ? c->version : 0;
}

const char *bw_quic_version_name(uint32_t version)
{
	const struct quic_version *v = version_find(version);
	return v ? v->name : "unknown";
}

bool bw_quic_retry_seen(const struct bw_quic_conn *c)
{
	return c && c->retry_seen;
}

static size_t hex(const uint8_t *b, size_t n, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	if (!out || cap == 0)
		return 0;
	if (cap < 2 * n + 1) {
		out[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
	return 2 * n;
}

size_t bw_quic_dcid_hex(const struct bw_quic_conn *c, char *out, size_t cap)
{
	return hex(c ? c->odcid : NULL, c && c->have_client ? c->odcid_len : 0, out, cap);
}

size_t bw_quic_scid_hex(const struct bw_quic_conn *c, char *out, size_t cap)
{
	return hex(c ? c->scid : NULL, c && c->have_client ? c->scid_len : 0, out, cap);
}

/* ---- sealing (tests and fuzzing) ---------------------------------------- */

static size_t varint_put(uint8_t *out, uint64_t v, size_t min_len)
{
	size_t n = 8;
	if (v < 64 && min_len <= 1)
		n = 1;
	else if (v < 16384 && min_len <= 2)
		n = 2;
	else if (v < (UINT64_C(1) << 30) && min_len <= 4)
		n = 4;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	out[0] = (uint8_t)((out[0] & 0x3f) | ((n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : 3) << 6));
	return n;
}

int bw_quic_seal_initial(struct bw_quic_decoder *d, const struct bw_quic_seal *s, uint8_t *out,
			 size_t cap, size_t *out_len)
{
	if (!d || !s || !out || !out_len || s->dcid_len > BW_QUIC_MAX_CID ||
	    s->scid_len > BW_QUIC_MAX_CID || s->key_dcid_len > BW_QUIC_MAX_CID || s->pn_len < 1 ||
	    s->pn_len > PN_MAX_LEN || s->pn_len + s->payload_len < PN_MAX_LEN ||
	    s->payload_len > BW_QUIC_MAX_DATAGRAM || s->token_len > BW_QUIC_MAX_DATAGRAM ||
	    (s->dcid_len && !s->dcid) || (s->scid_len && !s->scid) ||
	    (s->token_len && !s->token) || (s->payload_len && !s->payload) ||
	    (s->key_dcid_len && !s->key_dcid))
		return BW_EINVAL;
	const struct quic_version *v = version_find(s->version);
	if (!v)
		return BW_ENOTSUP;
	uint64_t plen = s->pn_len + s->payload_len + AEAD_TAG;
	size_t need = 1 + 4 + 1 + s->dcid_len + 1 + s->scid_len + 8 + s->token_len + 4 + plen;
	if (need > cap)
		return BW_ELIMIT;
	const struct key_entry *e = keys_get(d, v, s->key_dcid, s->key_dcid_len);
	if (!e)
		return BW_EIO;
	const struct bw_quic_keys *k = &e->k[s->from_server ? 1 : 0];

	size_t o = 0;
	out[o++] = (uint8_t)(0xc0 | (v->initial_bits << 4) | (s->pn_len - 1));
	for (int i = 3; i >= 0; i--)
		out[o++] = (uint8_t)(v->version >> (8 * i));
	out[o++] = (uint8_t)s->dcid_len;
	if (s->dcid_len)
		memcpy(out + o, s->dcid, s->dcid_len);
	o += s->dcid_len;
	out[o++] = (uint8_t)s->scid_len;
	if (s->scid_len)
		memcpy(out + o, s->scid, s->scid_len);
	o += s->scid_len;
	o += varint_put(out + o, s->token_len, 1);
	if (s->token_len)
		memcpy(out + o, s->token, s->token_len);
	o += s->token_len;
	o += varint_put(out + o, plen, 2);
	size_t pn_off = o;
	for (unsigned i = 0; i < s->pn_len; i++)
		out[o++] = (uint8_t)(s->pn >> (8 * (s->pn_len - 1 - i)));

	uint8_t nonce[12], mask[16];
	int outl = 0, ptl = (int)s->payload_len;
	make_nonce(k->iv, s->pn, nonce);
	EVP_CIPHER_CTX *x = d->gctx;
	if (EVP_CipherInit_ex2(x, NULL, k->key, nonce, 1, NULL) != 1 ||
	    EVP_CipherUpdate(x, NULL, &outl, out, (int)o) != 1 ||
	    (ptl > 0 && EVP_CipherUpdate(x, out + o, &outl, s->payload, ptl) != 1) ||
	    EVP_CipherFinal_ex(x, out + o + ptl, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG, out + o + ptl) != 1)
		return BW_EIO;
	o += (size_t)ptl + AEAD_TAG;
	if (!hp_mask(d, k->hp, out + pn_off + PN_MAX_LEN, mask))
		return BW_EIO;
	out[0] ^= mask[0] & 0x0f;
	for (unsigned i = 0; i < s->pn_len; i++)
		out[pn_off + i] ^= mask[1 + i];
	*out_len = o;
	return BW_OK;
}
