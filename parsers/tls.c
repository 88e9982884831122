// SPDX-License-Identifier: MIT
/*
 * tls.c: passive TLS and DTLS handshake parser. A sensor only needs the
 * cleartext start of a handshake (the hellos for fingerprints, SNI and ALPN,
 * the server certificate chain for the certificate detectors), so the parser
 * is a record layer that hands handshake fragments to a handshake layer and
 * stops as soon as the rest of a direction is encrypted or uninteresting:
 * that is what lets the TCP reassembler stop buffering a flow early. The
 * record layer works on whole records that the reassembler keeps contiguous
 * for us (the BW_EAGAIN "need" contract), so only a handshake message that
 * spans records, or a Certificate we must keep, costs a copy, into one
 * lazily allocated, capped buffer per direction. DTLS shares the handshake
 * layer; its fragments are put back together by message_seq and offset.
 * Every byte read goes through the bounded cursor in wire.h.
 */
#include "tls.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* TLSCiphertext may be 2^14 + 2048 bytes; nothing legitimate is longer. */
#define TLS_MAX_RECORD (16384u + 2048u)
#define TLS_RECORD_HDR 5
#define DTLS_RECORD_HDR 13
#define DTLS_HS_HDR 12
#define DTLS_MAX_DROPS 32

static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

void bw_tls_config_default(struct bw_tls_config *c)
{
	if (c)
		c->max_handshake_bytes = BW_TLS_DEFAULT_MAX_HANDSHAKE;
}

void bw_tls_conn_init(struct bw_tls_conn *c, const struct bw_tls_config *cfg)
{
	if (!c)
		return;
	memset(c, 0, sizeof(*c));
	bw_tls_config_default(&c->cfg);
	if (cfg && cfg->max_handshake_bytes)
		c->cfg = *cfg;
	c->cert_visible = true;
}

void bw_tls_conn_deinit(struct bw_tls_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		free(c->dir[i].buf);
		c->dir[i].buf = NULL;
		c->dir[i].buf_cap = 0;
	}
	memset(&c->server_certs, 0, sizeof(c->server_certs));
	memset(&c->client_certs, 0, sizeof(c->client_certs));
}

bool bw_tls_conn_done(const struct bw_tls_conn *c)
{
	return c && c->dir[0].done && c->dir[1].done;
}

bool bw_tls_version_is_13(uint16_t v)
{
	uint8_t hi = v >> 8;
	return v == BW_TLS_V_TLS13 || v == BW_TLS_V_DTLS13 || hi == 0x7f || hi == 0x7e || hi == 0xfb;
}

/* ------------------------------------------------------------------ */
/* Text helpers                                                        */

size_t bw_tls_escape(const uint8_t *p, size_t n, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	if (!out || cap == 0)
		return 0;
	size_t o = 0;
	for (size_t i = 0; p && i < n; i++) {
		uint8_t b = p[i];
		if (b >= 0x20 && b <= 0x7e && b != '\\') {
			if (o + 1 >= cap)
				break;
			out[o++] = (char)b;
		} else {
			if (o + 4 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[b >> 4];
			out[o++] = hex[b & 15];
		}
	}
	out[o] = '\0';
	return o;
}

/* RFC 6066 host_name: a DNS name in ASCII, no trailing dot. '_' is
 * tolerated because real names carry it. */
static bool sni_is_valid(const uint8_t *p, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (b == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		bool ok = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
			  b == '-' || b == '_';
		if (!ok || ++label > 63)
			return false;
	}
	return label > 0;
}

const char *bw_tls_version_name(uint16_t v, char *buf, size_t cap)
{
	switch (v) {
	case BW_TLS_V_SSL2:
	case 0x0200: return "SSLv2";
	case BW_TLS_V_SSL3: return "SSLv3";
	case BW_TLS_V_TLS10: return "TLSv1.0";
	case BW_TLS_V_TLS11: return "TLSv1.1";
	case BW_TLS_V_TLS12: return "TLSv1.2";
	case BW_TLS_V_TLS13: return "TLSv1.3";
	case BW_TLS_V_DTLS10: return "DTLSv1.0";
	case BW_TLS_V_DTLS12: return "DTLSv1.2";
	case BW_TLS_V_DTLS13: return "DTLSv1.3";
	default: break;
	}
	if (!buf || cap == 0)
		return "unknown";
	if ((v >> 8) == 0x7f)
		snprintf(buf, cap, "TLSv1.3-draft-%u", (unsigned)(v & 0xff));
	else if ((v >> 8) == 0xfb)
		snprintf(buf, cap, "TLSv1.3-draft-%u-fb", (unsigned)(v & 0xff));
	else
		snprintf(buf, cap, "unknown-%u", (unsigned)v);
	return buf;
}

struct cipher_name {
	uint16_t id;
	const char *name;
};

/* IANA registry names (as Wireshark and the peers print them), sorted. */
static const struct cipher_name cipher_names[] = {
	{0x0000, "TLS_NULL_WITH_NULL_NULL"},
	{0x0001, "TLS_RSA_WITH_NULL_MD5"},
	{0x0002, "TLS_RSA_WITH_NULL_SHA"},
	{0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
	{0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
	{0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
	{0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"},
	{0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"},
	{0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0009, "TLS_RSA_WITH_DES_CBC_SHA"},
	{0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x000B, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA"},
	{0x000C, "TLS_DH_DSS_WITH_DES_CBC_SHA"},
	{0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA"},
	{0x000E, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA"},
	{0x000F, "TLS_DH_RSA_WITH_DES_CBC_SHA"},
	{0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"},
	{0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
	{0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"},
	{0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
	{0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"},
	{0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"},
	{0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA"},
	{0x001A, "TLS_DH_anon_WITH_DES_CBC_SHA"},
	{0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"},
	{0x001C, "SSL_FORTEZZA_KEA_WITH_NULL_SHA"},
	{0x001D, "SSL_FORTEZZA_KEA_WITH_FORTEZZA_CBC_SHA"},
	{0x001E, "TLS_KRB5_WITH_DES_CBC_SHA"},
	{0x001F, "TLS_KRB5_WITH_3DES_EDE_CBC_SHA"},
	{0x0020, "TLS_KRB5_WITH_RC4_128_SHA"},
	{0x0021, "TLS_KRB5_WITH_IDEA_CBC_SHA"},
	{0x0022, "TLS_KRB5_WITH_DES_CBC_MD5"},
	{0x0023, "TLS_KRB5_WITH_3DES_EDE_CBC_MD5"},
	{0x0024, "TLS_KRB5_WITH_RC4_128_MD5"},
	{0x0025, "TLS_KRB5_WITH_IDEA_CBC_MD5"},
	{0x0026, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA"},
	{0x0027, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA"},
	{0x0028, "TLS_KRB5_EXPORT_WITH_RC4_40_SHA"},
	{0x0029, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5"},
	{0x002A, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5"},
	{0x002B, "TLS_KRB5_EXPORT_WITH_RC4_40_MD5"},
	{0x002C, "TLS_PSK_WITH_NULL_SHA"},
	{0x002D, "TLS_DHE_PSK_WITH_NULL_SHA"},
	{0x002E, "TLS_RSA_PSK_WITH_NULL_SHA"},
	{0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"},
	{0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA"},
	{0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA"},
	{0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
	{0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
	{0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"},
	{0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
	{0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA"},
	{0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA"},
	{0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
	{0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
	{0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA"},
	{0x003B, "TLS_RSA_WITH_NULL_SHA256"},
	{0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
	{0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
	{0x003E, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256"},
	{0x003F, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256"},
	{0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"},
	{0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0042, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0043, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0060, "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5"},
	{0x0061, "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5"},
	{0x0062, "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA"},
	{0x0063, "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA"},
	{0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA"},
	{0x0065, "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA"},
	{0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA"},
	{0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
	{0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256"},
	{0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256"},
	{0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"},
	{0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
	{0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256"},
	{0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256"},
	{0x0080, "TLS_GOSTR341094_WITH_28147_CNT_IMIT"},
	{0x0081, "TLS_GOSTR341001_WITH_28147_CNT_IMIT"},
	{0x0082, "TLS_GOSTR341094_WITH_NULL_GOSTR3411"},
	{0x0083, "TLS_GOSTR341001_WITH_NULL_GOSTR3411"},
	{0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x0085, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA"},
	{0x0086, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"},
	{0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA"},
	{0x008A, "TLS_PSK_WITH_RC4_128_SHA"},
	{0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA"},
	{0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA"},
	{0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA"},
	{0x008E, "TLS_DHE_PSK_WITH_RC4_128_SHA"},
	{0x008F, "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA"},
	{0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA"},
	{0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA"},
	{0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA"},
	{0x0093, "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA"},
	{0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA"},
	{0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA"},
	{0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"},
	{0x0097, "TLS_DH_DSS_WITH_SEED_CBC_SHA"},
	{0x0098, "TLS_DH_RSA_WITH_SEED_CBC_SHA"},
	{0x0099, "TLS_DHE_DSS_WITH_SEED_CBC_SHA"},
	{0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"},
	{0x009B, "TLS_DH_anon_WITH_SEED_CBC_SHA"},
	{0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
	{0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
	{0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
	{0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
	{0x00A0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256"},
	{0x00A1, "TLS_DH_RSA_WITH_AES_256_GCM_SHA384"},
	{0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"},
	{0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"},
	{0x00A4, "TLS_DH_DSS_WITH_AES_128_GCM_SHA256"},
	{0x00A5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384"},
	{0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"},
	{0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"},
	{0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256"},
	{0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384"},
	{0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256"},
	{0x00AB, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384"},
	{0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256"},
	{0x00AD, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384"},
	{0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256"},
	{0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384"},
	{0x00B0, "TLS_PSK_WITH_NULL_SHA256"},
	{0x00B1, "TLS_PSK_WITH_NULL_SHA384"},
	{0x00B2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256"},
	{0x00B3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384"},
	{0x00B4, "TLS_DHE_PSK_WITH_NULL_SHA256"},
	{0x00B5, "TLS_DHE_PSK_WITH_NULL_SHA384"},
	{0x00B6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256"},
	{0x00B7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384"},
	{0x00B8, "TLS_RSA_PSK_WITH_NULL_SHA256"},
	{0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384"},
	{0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00BB, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00BC, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00BD, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00BF, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
	{0x00C1, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256"},
	{0x00C2, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
	{0x00C3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256"},
	{0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
	{0x00C5, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256"},
	{0x00C6, "TLS_SM4_GCM_SM3"},
	{0x00C7, "TLS_SM4_CCM_SM3"},
	{0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
	{0x1301, "TLS_AES_128_GCM_SHA256"},
	{0x1302, "TLS_AES_256_GCM_SHA384"},
	{0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
	{0x1304, "TLS_AES_128_CCM_SHA256"},
	{0x1305, "TLS_AES_128_CCM_8_SHA256"},
	{0x5600, "TLS_FALLBACK_SCSV"},
	{0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA"},
	{0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"},
	{0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"},
	{0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"},
	{0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"},
	{0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
	{0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
	{0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
	{0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA"},
	{0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA"},
	{0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"},
	{0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"},
	{0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"},
	{0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
	{0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
	{0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
	{0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"},
	{0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"},
	{0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"},
	{0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"},
	{0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"},
	{0xC01A, "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA"},
	{0xC01B, "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0xC01C, "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA"},
	{0xC01D, "TLS_SRP_SHA_WITH_AES_128_CBC_SHA"},
	{0xC01E, "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA"},
	{0xC01F, "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA"},
	{0xC020, "TLS_SRP_SHA_WITH_AES_256_CBC_SHA"},
	{0xC021, "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA"},
	{0xC022, "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA"},
	{0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
	{0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
	{0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256"},
	{0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384"},
	{0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
	{0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
	{0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256"},
	{0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384"},
	{0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
	{0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
	{0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"},
	{0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384"},
	{0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
	{0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
	{0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"},
	{0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384"},
	{0xC033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA"},
	{0xC034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA"},
	{0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA"},
	{0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA"},
	{0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256"},
	{0xC038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384"},
	{0xC039, "TLS_ECDHE_PSK_WITH_NULL_SHA"},
	{0xC03A, "TLS_ECDHE_PSK_WITH_NULL_SHA256"},
	{0xC03B, "TLS_ECDHE_PSK_WITH_NULL_SHA384"},
	{0xC03C, "TLS_RSA_WITH_ARIA_128_CBC_SHA256"},
	{0xC03D, "TLS_RSA_WITH_ARIA_256_CBC_SHA384"},
	{0xC03E, "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256"},
	{0xC03F, "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384"},
	{0xC040, "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256"},
	{0xC041, "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384"},
	{0xC042, "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256"},
	{0xC043, "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384"},
	{0xC044, "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256"},
	{0xC045, "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384"},
	{0xC046, "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256"},
	{0xC047, "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384"},
	{0xC048, "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256"},
	{0xC049, "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384"},
	{0xC04A, "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256"},
	{0xC04B, "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384"},
	{0xC04C, "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256"},
	{0xC04D, "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384"},
	{0xC04E, "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256"},
	{0xC04F, "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384"},
	{0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC054, "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC055, "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC056, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256"},
	{0xC057, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384"},
	{0xC058, "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256"},
	{0xC059, "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384"},
	{0xC05A, "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256"},
	{0xC05B, "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384"},
	{0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC05E, "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC05F, "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC062, "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xC063, "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xC064, "TLS_PSK_WITH_ARIA_128_CBC_SHA256"},
	{0xC065, "TLS_PSK_WITH_ARIA_256_CBC_SHA384"},
	{0xC066, "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256"},
	{0xC067, "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384"},
	{0xC068, "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256"},
	{0xC069, "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384"},
	{0xC06A, "TLS_PSK_WITH_ARIA_128_GCM_SHA256"},
	{0xC06B, "TLS_PSK_WITH_ARIA_256_GCM_SHA384"},
	{0xC06C, "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256"},
	{0xC06D, "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384"},
	{0xC06E, "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256"},
	{0xC06F, "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384"},
	{0xC070, "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256"},
	{0xC071, "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384"},
	{0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC074, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC075, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC078, "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC079, "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC07A, "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC07B, "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC07C, "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC07D, "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC07E, "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC07F, "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC080, "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC081, "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC082, "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC083, "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC084, "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC085, "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC086, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC087, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC088, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC089, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC08A, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC08B, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC08C, "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC08D, "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC08E, "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC08F, "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC090, "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC091, "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC092, "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xC093, "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xC094, "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC095, "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC096, "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC097, "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC098, "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC099, "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC09A, "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xC09B, "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xC09C, "TLS_RSA_WITH_AES_128_CCM"},
	{0xC09D, "TLS_RSA_WITH_AES_256_CCM"},
	{0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"},
	{0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"},
	{0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8"},
	{0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8"},
	{0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8"},
	{0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8"},
	{0xC0A4, "TLS_PSK_WITH_AES_128_CCM"},
	{0xC0A5, "TLS_PSK_WITH_AES_256_CCM"},
	{0xC0A6, "TLS_DHE_PSK_WITH_AES_128_CCM"},
	{0xC0A7, "TLS_DHE_PSK_WITH_AES_256_CCM"},
	{0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8"},
	{0xC0A9, "TLS_PSK_WITH_AES_256_CCM_8"},
	{0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8"},
	{0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8"},
	{0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
	{0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
	{0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"},
	{0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"},
	{0xC0B0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256"},
	{0xC0B1, "TLS_ECCPWD_WITH_AES_256_GCM_SHA384"},
	{0xC0B2, "TLS_ECCPWD_WITH_AES_128_CCM_SHA256"},
	{0xC0B3, "TLS_ECCPWD_WITH_AES_256_CCM_SHA384"},
	{0xC0B4, "TLS_SHA256_SHA256"},
	{0xC0B5, "TLS_SHA384_SHA384"},
	{0xC0FF, "TLS_ECJPAKE_WITH_AES_128_CCM_8"},
	{0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256"},
	{0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256"},
	{0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256"},
	{0xD002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384"},
	{0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256"},
	{0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256"},
};

static int cmp_cipher(const void *k, const void *e)
{
	uint16_t a = *(const uint16_t *)k, b = ((const struct cipher_name *)e)->id;
	return a < b ? -1 : a > b;
}

const char *bw_tls_cipher_name(uint16_t suite, char *buf, size_t cap)
{
	const struct cipher_name *e =
		bsearch(&suite, cipher_names, BW_ARRAY_SIZE(cipher_names), sizeof(cipher_names[0]), cmp_cipher);
	if (e)
		return e->name;
	if (!buf || cap == 0)
		return "unknown";
	snprintf(buf, cap, "0x%04X", (unsigned)suite);
	return buf;
}

static const char *const alert_names[256] = {
	[0] = "close_notify",
	[10] = "unexpected_message",
	[20] = "bad_record_mac",
	[21] = "decryption_failed",
	[22] = "record_overflow",
	[30] = "decompression_failure",
	[40] = "handshake_failure",
	[41] = "no_certificate",
	[42] = "bad_certificate",
	[43] = "unsupported_certificate",
	[44] = "certificate_revoked",
	[45] = "certificate_expired",
	[46] = "certificate_unknown",
	[47] = "illegal_parameter",
	[48] = "unknown_ca",
	[49] = "access_denied",
	[50] = "decode_error",
	[51] = "decrypt_error",
	[60] = "export_restriction",
	[70] = "protocol_version",
	[71] = "insufficient_security",
	[80] = "internal_error",
	[86] = "inappropriate_fallback",
	[90] = "user_canceled",
	[100] = "no_renegotiation",
	[109] = "missing_extension",
	[110] = "unsupported_extension",
	[111] = "certificate_unobtainable",
	[112] = "unrecognized_name",
	[113] = "bad_certificate_status_response",
	[114] = "bad_certificate_hash_value",
	[115] = "unknown_psk_identity",
	[116] = "certificate_required",
	[120] = "no_application_protocol",
	[121] = "ech_required",
};

const char *bw_tls_alert_name(uint8_t desc, char *buf, size_t cap)
{
	if (alert_names[desc])
		return alert_names[desc];
	if (!buf || cap == 0)
		return "unknown";
	snprintf(buf, cap, "unknown-%u", (unsigned)desc);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Detection                                                           */

static bool record_type_ok(uint8_t t)
{
	return t >= BW_TLS_CT_CCS && t <= BW_TLS_CT_HEARTBEAT;
}

static bool tls_header_ok(const uint8_t *p)
{
	uint16_t rlen = (uint16_t)(p[3] << 8 | p[4]);
	return record_type_ok(p[0]) && p[1] == 3 && p[2] <= 4 && rlen <= TLS_MAX_RECORD;
}

/* SSLv2 CLIENT-HELLO with a 2-byte header, as SSLv3/TLS clients sent it for
 * compatibility; needs its 11 fixed bytes to judge the lengths. */
static bool sslv2_hello_ok(const uint8_t *p, size_t n)
{
	if (n < 11 || !(p[0] & 0x80))
		return false;
	size_t rlen = (size_t)(p[0] & 0x7f) << 8 | p[1];
	size_t cs = (size_t)p[5] << 8 | p[6], sid = (size_t)p[7] << 8 | p[8], chal = (size_t)p[9] << 8 | p[10];
	return p[2] == 1 && p[3] == 3 && p[4] <= 4 && cs > 0 && cs % 3 == 0 && sid <= 32 &&
	       chal >= 16 && chal <= 32 && 9 + cs + sid + chal == rlen;
}

bool bw_tls_looks_like_client_hello(const uint8_t *p, size_t n)
{
	if (!p || n < 5)
		return false;
	if (p[0] & 0x80)
		return sslv2_hello_ok(p, n);
	if (p[0] != BW_TLS_CT_HANDSHAKE || !tls_header_ok(p) || (p[3] == 0 && p[4] == 0))
		return false;
	if (n >= 6 && p[5] != BW_TLS_HS_CLIENT_HELLO)
		return false;
	if (n >= 9) {
		uint32_t mlen = (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
		if (mlen < 38)
			return false;
	}
	if (n >= 11 && (p[9] != 3 || p[10] > 4))
		return false;
	return true;
}

bool bw_tls_looks_like_tls(const uint8_t *p, size_t n)
{
	if (!p || n < 5)
		return false;
	if (p[0] & 0x80)
		return sslv2_hello_ok(p, n);
	return tls_header_ok(p);
}

bool bw_dtls_looks_like_dtls(const uint8_t *p, size_t n)
{
	if (!p || n < DTLS_RECORD_HDR)
		return false;
	uint16_t rlen = (uint16_t)(p[11] << 8 | p[12]);
	return record_type_ok(p[0]) && p[1] == 0xfe && (p[2] == 0xff || p[2] == 0xfd) && rlen <= TLS_MAX_RECORD;
}

/* ------------------------------------------------------------------ */
/* Hello parsing                                                       */

/* A sub-structure (extension body, inner list) ended early or had bytes
 * left over: the outer lengths were right, so parsing goes on. */
static void inner_check(struct bw_wire *sub, bool *malformed)
{
	if (!bw_wire_ok(sub) || bw_wire_left(sub) != 0)
		*malformed = true;
}

/* Read a u16 list of u16 values (len prefix size lenbytes) into arr. */
static void read_u16_list(struct bw_wire *e, int lenbytes, uint16_t *arr, size_t max, uint8_t *count,
			  bool *trunc, bool *malformed)
{
	size_t n = lenbytes == 1 ? bw_wire_u8(e) : bw_wire_u16(e);
	struct bw_wire l;
	bw_wire_sub(e, n, &l);
	if (n % 2)
		*malformed = true;
	size_t k = 0;
	while (bw_wire_left(&l) >= 2) {
		uint16_t v = bw_wire_u16(&l);
		if (k < max)
			arr[k++] = v;
		else
			*trunc = true;
	}
	*count = (uint8_t)k;
	inner_check(e, malformed);
}

static void ch_ext_sni(struct bw_tls_client_hello *o, struct bw_wire *e)
{
	o->has_sni = true;
	size_t n = bw_wire_u16(e);
	struct bw_wire l;
	bw_wire_sub(e, n, &l);
	bool found = false;
	while (bw_wire_ok(&l) && bw_wire_left(&l) > 0) {
		uint8_t type = bw_wire_u8(&l);
		size_t nl = bw_wire_u16(&l);
		const uint8_t *name = bw_wire_ptr(&l, nl);
		if (!name)
			break;
		if (type != 0 || found)
			continue;
		found = true;
		o->sni_len = (uint16_t)nl;
		size_t k = BW_MIN(nl, (size_t)BW_TLS_MAX_SNI);
		memcpy(o->sni_raw, name, k);
		o->sni_truncated = nl > BW_TLS_MAX_SNI;
		o->sni_valid = !o->sni_truncated && sni_is_valid(name, nl);
		bw_tls_escape(name, k, o->sni, sizeof(o->sni));
	}
	inner_check(&l, &o->malformed);
	inner_check(e, &o->malformed);
}

static void read_alpn(struct bw_wire *l, struct bw_tls_alpn *a, size_t max, uint8_t *count, bool *trunc,
		      bool *malformed)
{
	size_t k = 0;
	while (bw_wire_ok(l) && bw_wire_left(l) > 0) {
		uint8_t n = bw_wire_u8(l);
		const uint8_t *id = bw_wire_ptr(l, n);
		if (!id)
			break;
		if (n == 0)
			*malformed = true;
		if (k >= max) {
			*trunc = true;
			continue;
		}
		a[k].len = n;
		a[k].last = n ? id[n - 1] : 0;
		memcpy(a[k].id, id, BW_MIN((size_t)n, sizeof(a[k].id)));
		k++;
	}
	*count = (uint8_t)k;
	inner_check(l, malformed);
}

static void ch_ext_key_share(struct bw_tls_client_hello *o, struct bw_wire *e)
{
	size_t n = bw_wire_u16(e);
	struct bw_wire l;
	bw_wire_sub(e, n, &l);
	while (bw_wire_ok(&l) && bw_wire_left(&l) > 0) {
		uint16_t group = bw_wire_u16(&l);
		size_t kl = bw_wire_u16(&l);
		bw_wire_skip(&l, kl);
		if (!bw_wire_ok(&l))
			break;
		if (o->key_share_count < BW_TLS_MAX_KEY_SHARES)
			o->key_shares[o->key_share_count++] = group;
		else
			o->key_shares_truncated = true;
	}
	inner_check(&l, &o->malformed);
	inner_check(e, &o->malformed);
}

static void ch_extension(struct bw_tls_client_hello *o, uint16_t type, struct bw_wire *e)
{
	switch (type) {
	case BW_TLS_EXT_SERVER_NAME:
		/* A server's empty acknowledgement never appears in a ClientHello,
		 * but an empty one here is not worth failing over. */
		if (bw_wire_left(e) == 0) {
			o->has_sni = true;
			return;
		}
		ch_ext_sni(o, e);
		break;
	case BW_TLS_EXT_SUPPORTED_GROUPS:
		read_u16_list(e, 2, o->groups, BW_TLS_MAX_GROUPS, &o->group_count, &o->groups_truncated,
			      &o->malformed);
		break;
	case BW_TLS_EXT_EC_POINT_FORMATS: {
		size_t n = bw_wire_u8(e);
		const uint8_t *pf = bw_wire_ptr(e, n);
		if (pf) {
			size_t k = BW_MIN(n, (size_t)BW_TLS_MAX_POINT_FORMATS);
			memcpy(o->point_formats, pf, k);
			o->point_format_count = (uint8_t)k;
			o->point_formats_truncated = n > k;
		}
		inner_check(e, &o->malformed);
		break;
	}
	case BW_TLS_EXT_SIGNATURE_ALGORITHMS:
		read_u16_list(e, 2, o->sigalgs, BW_TLS_MAX_SIGALGS, &o->sigalg_count, &o->sigalgs_truncated,
			      &o->malformed);
		break;
	case BW_TLS_EXT_ALPN: {
		size_t n = bw_wire_u16(e);
		struct bw_wire l;
		bw_wire_sub(e, n, &l);
		read_alpn(&l, o->alpn, BW_TLS_MAX_ALPN, &o->alpn_count, &o->alpn_truncated, &o->malformed);
		inner_check(e, &o->malformed);
		break;
	}
	case BW_TLS_EXT_SUPPORTED_VERSIONS:
		read_u16_list(e, 1, o->versions, BW_TLS_MAX_VERSIONS, &o->version_count, &o->versions_truncated,
			      &o->malformed);
		break;
	case BW_TLS_EXT_KEY_SHARE: ch_ext_key_share(o, e); break;
	case BW_TLS_EXT_PRE_SHARED_KEY: o->psk_present = true; break;
	case BW_TLS_EXT_EARLY_DATA: o->early_data = true; break;
	case BW_TLS_EXT_ECH: o->ech_present = true; break;
	case BW_TLS_EXT_SESSION_TICKET: o->session_ticket = bw_wire_left(e) > 0; break;
	default: break;
	}
}

/* Walk an extensions block; fills types and calls per_ext for each body. */
static int walk_extensions(struct bw_wire *w, uint16_t *types, uint16_t *count, bool *trunc, bool *has, bool *malformed,
			   void (*per_ext)(void *o, uint16_t type, struct bw_wire *e), void *o)
{
	if (bw_wire_left(w) == 0)
		return BW_OK; /* no extensions block at all (SSLv3, old TLS) */
	*has = true;
	size_t n = bw_wire_u16(w);
	if (!bw_wire_ok(w) || n > bw_wire_left(w)) {
		*malformed = true;
		return BW_EMALF;
	}
	int rc = BW_OK;
	if (n != bw_wire_left(w)) {
		*malformed = true; /* bytes after the extensions block */
		rc = BW_EMALF;
	}
	struct bw_wire l;
	bw_wire_sub(w, n, &l);
	while (bw_wire_left(&l) > 0) {
		uint16_t type = bw_wire_u16(&l);
		size_t el = bw_wire_u16(&l);
		struct bw_wire e;
		bw_wire_sub(&l, el, &e);
		if (!bw_wire_ok(&l)) {
			*malformed = true;
			return BW_EMALF;
		}
		if (*count < BW_TLS_MAX_EXTS)
			types[(*count)++] = type;
		else
			*trunc = true;
		per_ext(o, type, &e);
	}
	return *malformed ? BW_EMALF : rc;
}

static void ch_ext_cb(void *o, uint16_t type, struct bw_wire *e)
{
	ch_extension(o, type, e);
}

static void ch_finish(struct bw_tls_client_hello *o)
{
	o->max_version = o->legacy_version;
	uint16_t best = 0;
	for (size_t i = 0; i < o->version_count; i++) {
		uint16_t v = o->versions[i];
		if (bw_tls_is_grease(v))
			continue;
		/* DTLS versions count down (0xfeff < 0xfefd is older). */
		if ((v >> 8) == 0xfe) {
			if (!best || (best >> 8) != 0xfe || v < best)
				best = v;
		} else if (!best || v > best) {
			best = v;
		}
	}
	if (best)
		o->max_version = best;
}

int bw_tls_parse_client_hello(const uint8_t *body, size_t len, struct bw_tls_client_hello *out)
{
	if (!out)
		return BW_EINVAL;
	memset(out, 0, sizeof(*out));
	struct bw_wire w;
	bw_wire_init(&w, body, len);
	out->legacy_version = bw_wire_u16(&w);
	bw_wire_skip(&w, 32);
	out->session_id_len = bw_wire_u8(&w);
	if (out->session_id_len > 32) {
		out->malformed = true;
		return BW_EMALF;
	}
	bw_wire_copy(&w, out->session_id, out->session_id_len);
	if ((out->legacy_version >> 8) == 0xfe) {
		out->is_dtls = true;
		out->cookie_len = bw_wire_u8(&w);
		bw_wire_skip(&w, out->cookie_len);
	}
	size_t cs = bw_wire_u16(&w);
	struct bw_wire l;
	bw_wire_sub(&w, cs, &l);
	while (bw_wire_left(&l) >= 2) {
		uint16_t s = bw_wire_u16(&l);
		if (out->cipher_count < BW_TLS_MAX_CIPHERS)
			out->ciphers[out->cipher_count++] = s;
		else
			out->ciphers_truncated = true;
	}
	size_t comp = bw_wire_u8(&w);
	const uint8_t *cm = bw_wire_ptr(&w, comp);
	if (!bw_wire_ok(&w)) {
		out->malformed = true;
		ch_finish(out);
		return BW_ETRUNC;
	}
	out->compression_count = (uint8_t)comp;
	out->compression_null_only = comp == 1 && cm[0] == 0;
	int rc = BW_OK;
	if (cs % 2 || cs == 0 || comp == 0) {
		out->malformed = true;
		rc = BW_EMALF;
	}
	int erc = walk_extensions(&w, out->exts, &out->ext_count, &out->exts_truncated, &out->has_extensions,
				  &out->malformed, ch_ext_cb, out);
	ch_finish(out);
	if (erc != BW_OK || out->malformed)
		return BW_EMALF;
	return rc;
}

static void sh_extension(void *op, uint16_t type, struct bw_wire *e)
{
	struct bw_tls_server_hello *o = op;
	switch (type) {
	case BW_TLS_EXT_SUPPORTED_VERSIONS:
		o->selected_version = bw_wire_u16(e);
		inner_check(e, &o->malformed);
		break;
	case BW_TLS_EXT_ALPN: {
		size_t n = bw_wire_u16(e);
		struct bw_wire l;
		bw_wire_sub(e, n, &l);
		uint8_t count = 0;
		bool trunc = false;
		read_alpn(&l, &o->alpn, 1, &count, &trunc, &o->malformed);
		if (count != 1 || trunc)
			o->malformed = true; /* exactly one protocol may be selected */
		inner_check(e, &o->malformed);
		break;
	}
	case BW_TLS_EXT_KEY_SHARE:
		o->key_share_group = bw_wire_u16(e);
		if (bw_wire_left(e) > 0) { /* not HRR: the server's share follows */
			size_t kl = bw_wire_u16(e);
			bw_wire_skip(e, kl);
		}
		inner_check(e, &o->malformed);
		break;
	case BW_TLS_EXT_PRE_SHARED_KEY:
		(void)bw_wire_u16(e);
		o->psk_selected = true;
		inner_check(e, &o->malformed);
		break;
	case BW_TLS_EXT_SESSION_TICKET: o->session_ticket = true; break;
	default: break;
	}
}

int bw_tls_parse_server_hello(const uint8_t *body, size_t len, struct bw_tls_server_hello *out)
{
	if (!out)
		return BW_EINVAL;
	memset(out, 0, sizeof(*out));
	struct bw_wire w;
	bw_wire_init(&w, body, len);
	out->legacy_version = bw_wire_u16(&w);
	const uint8_t *random = bw_wire_ptr(&w, 32);
	if (random) {
		out->is_hello_retry_request = memcmp(random, hrr_random, 32) == 0;
		out->downgrade_sentinel =
			memcmp(random + 24, "DOWNGRD", 7) == 0 && (random[31] == 0 || random[31] == 1);
	}
	/* TLS 1.3 drafts before 22 had no session id and no compression. */
	bool short_form = out->legacy_version >= 0x7f00 && out->legacy_version < 0x7f16;
	if (!short_form) {
		out->session_id_len = bw_wire_u8(&w);
		if (out->session_id_len > 32) {
			out->malformed = true;
			return BW_EMALF;
		}
		bw_wire_copy(&w, out->session_id, out->session_id_len);
	}
	out->cipher = bw_wire_u16(&w);
	if (!short_form)
		out->compression = bw_wire_u8(&w);
	if (!bw_wire_ok(&w)) {
		out->malformed = true;
		out->version = out->legacy_version;
		return BW_ETRUNC;
	}
	int rc = walk_extensions(&w, out->exts, &out->ext_count, &out->exts_truncated, &out->has_extensions,
				 &out->malformed, sh_extension, out);
	out->version = out->selected_version ? out->selected_version : out->legacy_version;
	if (bw_tls_version_is_13(out->version) && out->psk_selected)
		out->is_resumption = true;
	return rc != BW_OK || out->malformed ? BW_EMALF : BW_OK;
}

/* ------------------------------------------------------------------ */
/* Conn: buffers                                                       */

static struct bw_tls_cert_chain *dir_chain(struct bw_tls_conn *c, bool fc)
{
	return fc ? &c->client_certs : &c->server_certs;
}

/* Grow the direction's buffer to hold at least `need` bytes, within the
 * cap; certificate pointers into it are moved along. */
static int dir_reserve(struct bw_tls_conn *c, bool fc, size_t need)
{
	struct bw_tls_dir *d = &c->dir[fc];
	if (need <= d->buf_cap)
		return BW_OK;
	if (need > c->cfg.max_handshake_bytes)
		return BW_ELIMIT;
	size_t cap = BW_MAX((size_t)d->buf_cap * 2, (size_t)4096);
	cap = BW_MAX(cap, need);
	cap = BW_MIN(cap, (size_t)c->cfg.max_handshake_bytes);
	struct bw_tls_cert_chain *chain = dir_chain(c, fc);
	size_t offs[BW_TLS_MAX_CERTS];
	for (size_t i = 0; i < chain->count; i++)
		offs[i] = (size_t)(chain->certs[i].der - d->buf);
	uint8_t *nb = realloc(d->buf, cap);
	if (!nb)
		return BW_ENOMEM;
	d->buf = nb;
	d->buf_cap = (uint32_t)cap;
	for (size_t i = 0; i < chain->count; i++)
		chain->certs[i].der = nb + offs[i];
	return BW_OK;
}

static int dir_finish(struct bw_tls_dir *d)
{
	d->done = true;
	return BW_ENOTSUP;
}

static int dir_fail(struct bw_tls_dir *d, struct bw_anomalies *an, enum bw_anomaly why)
{
	bw_anomaly(an, why);
	d->failed = true;
	d->done = true;
	return BW_EMALF;
}

/* The bytes are not TLS. If the other direction already spoke TLS, only
 * this one is given up (counted); otherwise the whole flow is not TLS. */
static int conn_not_tls(struct bw_tls_conn *c, bool fc, struct bw_anomalies *an)
{
	struct bw_tls_dir *other = &c->dir[!fc];
	c->dir[fc].done = true;
	if (other->started && !other->failed) {
		bw_anomaly(an, BW_AN_TLS_BAD_RECORD);
		c->dir[fc].failed = true;
		return BW_ENOTSUP;
	}
	c->not_tls = true;
	other->done = true;
	return BW_ENOTSUP;
}

/* ------------------------------------------------------------------ */
/* Handshake messages                                                  */

/*
 * Certificate (TLS <= 1.2 form): certificate_list<0..2^24-1> of
 * ASN.1Cert<1..2^24-1>. `cut` says the body was cut by the cap, so running
 * out of bytes is truncation, not a lie.
 */
static int parse_certificates(struct bw_tls_cert_chain *ch, const uint8_t *b, size_t n, bool cut)
{
	struct bw_wire w;
	bw_wire_init(&w, b, n);
	ch->present = true;
	ch->truncated = cut;
	size_t list = bw_wire_u24(&w);
	if (!bw_wire_ok(&w)) {
		ch->malformed = !cut;
		return cut ? BW_OK : BW_EMALF;
	}
	if (list < bw_wire_left(&w) || (!cut && list != bw_wire_left(&w)))
		ch->malformed = true;
	struct bw_wire l;
	bw_wire_sub(&w, BW_MIN(list, bw_wire_left(&w)), &l);
	while (bw_wire_left(&l) > 0) {
		size_t cl = bw_wire_u24(&l);
		const uint8_t *der = bw_wire_ptr(&l, cl);
		if (!der) {
			if (!cut)
				ch->malformed = true;
			break;
		}
		if (cl == 0) {
			ch->malformed = true;
			continue;
		}
		if (ch->count >= BW_TLS_MAX_CERTS) {
			ch->truncated = true;
			break;
		}
		ch->certs[ch->count].der = der;
		ch->certs[ch->count].len = (uint32_t)cl;
		ch->count++;
	}
	return ch->malformed ? BW_EMALF : BW_OK;
}

/* Keep a Certificate body in conn memory. Returns its kept copy and length
 * (cut to what the cap leaves), or NULL (no room or no memory). */
static const uint8_t *keep_body(struct bw_tls_conn *c, bool fc, const uint8_t *body, size_t blen, bool in_buf,
				size_t *kept_len, struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[fc];
	if (in_buf) {
		if (!d->buf || blen == 0) {
			*kept_len = 0;
			return NULL;
		}
		const uint8_t *p = d->buf + d->kept;
		d->kept += (uint32_t)blen;
		*kept_len = blen;
		return p;
	}
	size_t avail = c->cfg.max_handshake_bytes - d->kept;
	size_t k = BW_MIN(blen, avail);
	if (k < blen)
		bw_anomaly(an, BW_AN_TLS_HANDSHAKE_CAP);
	if (k == 0 || dir_reserve(c, fc, d->kept + k) != BW_OK)
		return NULL;
	uint8_t *p = d->buf + d->kept;
	memcpy(p, body, k);
	d->kept += (uint32_t)k;
	*kept_len = k;
	return p;
}

static int msg_certificate(struct bw_tls_conn *c, bool fc, const uint8_t *body, size_t blen, bool in_buf,
			   size_t full_len, struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[fc];
	struct bw_tls_cert_chain *chain = dir_chain(c, fc);
	if (chain->present) /* renegotiation or a repeat: the first chain stands */
		return fc ? BW_OK : dir_finish(d);
	if (fc)
		c->saw_client_certificate = true;
	else
		c->saw_certificate = true;
	size_t klen = 0;
	const uint8_t *kb = keep_body(c, fc, body, blen, in_buf, &klen, an);
	int rc;
	if (!kb) {
		chain->present = true;
		chain->truncated = true;
		rc = BW_OK;
	} else {
		rc = parse_certificates(chain, kb, klen, klen < full_len);
	}
	if (rc != BW_OK)
		return dir_fail(d, an, BW_AN_TLS_BAD_HANDSHAKE);
	return fc ? BW_OK : dir_finish(d);
}

static int msg_client_hello(struct bw_tls_conn *c, const uint8_t *body, size_t blen, struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[1];
	if (c->client_hello_count < UINT8_MAX)
		c->client_hello_count++;
	if (c->client_hello_count > 1) {
		/* After HelloVerifyRequest the DTLS client repeats its hello with the
		 * cookie; keep the first hello (same fingerprint) but note the cookie. */
		if (c->is_dtls && blen > 35) {
			size_t sid = body[34];
			if (blen > 35 + sid)
				c->ch.cookie_len = body[35 + sid];
		}
		return BW_OK;
	}
	c->saw_client_hello = true;
	if (bw_tls_parse_client_hello(body, blen, &c->ch) != BW_OK)
		return dir_fail(d, an, BW_AN_TLS_BAD_HANDSHAKE);
	return BW_OK;
}

static int msg_server_hello(struct bw_tls_conn *c, const uint8_t *body, size_t blen, struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[0];
	int rc = bw_tls_parse_server_hello(body, blen, &c->sh);
	c->saw_server_hello = true;
	c->version = c->sh.version;
	if (rc != BW_OK)
		return dir_fail(d, an, BW_AN_TLS_BAD_HANDSHAKE);
	if (c->sh.is_hello_retry_request) {
		c->saw_hello_retry_request = true;
		return BW_OK; /* the real ServerHello follows in the clear */
	}
	const struct bw_tls_client_hello *ch = &c->ch;
	if (!bw_tls_version_is_13(c->version) && ch->session_id_len && ch->session_id_len == c->sh.session_id_len &&
	    memcmp(ch->session_id, c->sh.session_id, ch->session_id_len) == 0)
		c->sh.is_resumption = true;
	if (bw_tls_version_is_13(c->version)) {
		c->cert_visible = false;
		return dir_finish(d);
	}
	return BW_OK;
}

/* One whole handshake message (body cut to blen when the cap hit a
 * Certificate; full_len is its real length). */
static int hs_message(struct bw_tls_conn *c, bool fc, uint8_t type, const uint8_t *body, size_t blen, bool in_buf,
		      size_t full_len, struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[fc];
	d->messages++;
	switch (type) {
	case BW_TLS_HS_CLIENT_HELLO:
		return fc ? msg_client_hello(c, body, blen, an) : BW_OK;
	case BW_TLS_HS_SERVER_HELLO:
		return fc ? BW_OK : msg_server_hello(c, body, blen, an);
	case BW_TLS_HS_HELLO_VERIFY_REQUEST:
		if (!fc) {
			c->saw_hello_verify_request = true;
			c->hvr_cookie_len = blen >= 3 ? body[2] : 0;
		}
		return BW_OK;
	case BW_TLS_HS_CERTIFICATE:
		return msg_certificate(c, fc, body, blen, in_buf, full_len, an);
	case BW_TLS_HS_SERVER_HELLO_DONE:
		if (fc)
			return BW_OK;
		c->saw_server_hello_done = true;
		return dir_finish(d);
	default: return BW_OK;
	}
}

/* Handshake-layer bytes of one TLS record: split into messages, collecting
 * the ones that continue past the record in the direction's buffer. */
static int hs_bytes(struct bw_tls_conn *c, bool fc, const uint8_t *p, size_t n, struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[fc];
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	while (bw_wire_left(&w) > 0) {
		if (d->skip && d->hdr_len == 0) { /* the rest of a message the cap cut */
			size_t k = BW_MIN((size_t)d->skip, bw_wire_left(&w));
			bw_wire_skip(&w, k);
			d->skip -= (uint32_t)k;
			continue;
		}
		if (d->hdr_len == 0) {
			const uint8_t *h = bw_wire_peek(&w, 4);
			if (h) {
				size_t mlen = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
				if (bw_wire_left(&w) - 4 >= mlen) {
					bw_wire_skip(&w, 4);
					const uint8_t *body = bw_wire_ptr(&w, mlen);
					int rc = hs_message(c, fc, h[0], body, mlen, false, mlen, an);
					if (rc != BW_OK)
						return rc;
					continue;
				}
			}
		}
		/* The message continues in a later record. */
		if (d->hdr_len < 4) {
			size_t k = BW_MIN((size_t)(4 - d->hdr_len), bw_wire_left(&w));
			bw_wire_copy(&w, d->hdr + d->hdr_len, k);
			d->hdr_len += (uint8_t)k;
			if (d->hdr_len < 4)
				continue;
			size_t mlen = (size_t)d->hdr[1] << 16 | (size_t)d->hdr[2] << 8 | d->hdr[3];
			size_t avail = c->cfg.max_handshake_bytes - d->kept;
			d->part = 0;
			d->part_want = (uint32_t)mlen;
			if (mlen > avail) {
				bw_anomaly(an, BW_AN_TLS_HANDSHAKE_CAP);
				if (d->hdr[0] != BW_TLS_HS_CERTIFICATE) {
					d->skip = (uint32_t)mlen;
					d->hdr_len = 0;
					continue;
				}
				/* Keep as much of the chain as fits: the leaf comes first. */
				d->part_want = (uint32_t)avail;
				d->skip = (uint32_t)(mlen - avail);
			}
			int rc = dir_reserve(c, fc, (size_t)d->kept + d->part_want);
			if (rc == BW_ENOMEM) {
				d->done = d->failed = true;
				return BW_ENOMEM;
			}
		}
		size_t k = BW_MIN((size_t)(d->part_want - d->part), bw_wire_left(&w));
		if (k)
			bw_wire_copy(&w, d->buf + d->kept + d->part, k);
		d->part += (uint32_t)k;
		if (d->part == d->part_want) {
			size_t full = (size_t)d->hdr[1] << 16 | (size_t)d->hdr[2] << 8 | d->hdr[3];
			uint8_t type = d->hdr[0];
			d->hdr_len = 0;
			d->part = 0;
			/* d->skip (set when cut) then discards the rest of the message. */
			const uint8_t *body = d->buf ? d->buf + d->kept : NULL;
			int rc = hs_message(c, fc, type, body, d->part_want, true, full, an);
			d->part_want = 0;
			if (rc != BW_OK)
				return rc;
		}
	}
	return BW_OK;
}

static int rec_ccs(struct bw_tls_conn *c, bool fc)
{
	struct bw_tls_dir *d = &c->dir[fc];
	c->saw_change_cipher_spec = true;
	if (fc) {
		/* TLS 1.3 compat mode: a CCS may come before the second ClientHello. */
		if (c->saw_hello_retry_request && c->client_hello_count < 2)
			return BW_OK;
		return dir_finish(d);
	}
	if (c->saw_hello_retry_request && c->sh.is_hello_retry_request)
		return BW_OK;
	if (c->saw_server_hello && !c->server_certs.present && !bw_tls_version_is_13(c->version))
		c->sh.is_resumption = true; /* abbreviated handshake: no Certificate */
	return dir_finish(d);
}

static int rec_alert(struct bw_tls_conn *c, bool fc, const uint8_t *p, size_t n)
{
	struct bw_tls_dir *d = &c->dir[fc];
	/* Plaintext alerts are 2 bytes (several may share a record); anything
	 * else is an encrypted alert and the handshake is over for us. */
	if (n == 0 || n % 2 || (p[0] != 1 && p[0] != 2))
		return dir_finish(d);
	if (!c->saw_alert) {
		c->saw_alert = true;
		c->alert_level = p[0];
		c->alert_description = p[1];
		c->alert_from_client = fc;
	}
	for (size_t i = 0; i + 1 < n; i += 2)
		if (p[i] == 2)
			return dir_finish(d);
	return BW_OK;
}

static int dtls_hs_bytes(struct bw_tls_conn *c, bool fc, const uint8_t *p, size_t n, struct bw_anomalies *an);

static int tls_record(struct bw_tls_conn *c, bool fc, uint8_t type, const uint8_t *body, size_t rlen, bool dtls,
		      struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[fc];
	d->records++;
	/* Handshake messages must not be interleaved with other records. */
	if (!dtls && type != BW_TLS_CT_HANDSHAKE && (d->hdr_len || d->skip))
		return dir_fail(d, an, BW_AN_TLS_BAD_HANDSHAKE);
	switch (type) {
	case BW_TLS_CT_HANDSHAKE:
		if (rlen == 0) {
			bw_anomaly(an, BW_AN_TLS_BAD_RECORD); /* forbidden, but harmless */
			return BW_OK;
		}
		return dtls ? dtls_hs_bytes(c, fc, body, rlen, an) : hs_bytes(c, fc, body, rlen, an);
	case BW_TLS_CT_CCS:
		if (rlen != 1 || body[0] != 1)
			bw_anomaly(an, BW_AN_TLS_BAD_RECORD);
		return rec_ccs(c, fc);
	case BW_TLS_CT_ALERT: return rec_alert(c, fc, body, rlen);
	case BW_TLS_CT_APPDATA:
		c->saw_app_data = true;
		return dir_finish(d);
	default: return BW_OK; /* heartbeat */
	}
}

/* ------------------------------------------------------------------ */
/* TLS over a stream                                                   */

static void sslv2_hello(struct bw_tls_conn *c, const uint8_t *p, size_t n)
{
	struct bw_tls_client_hello *o = &c->ch;
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	memset(o, 0, sizeof(*o));
	(void)bw_wire_u8(&w); /* msg type 1, checked by sslv2_hello_ok */
	o->is_sslv2 = true;
	o->legacy_version = bw_wire_u16(&w);
	size_t cs = bw_wire_u16(&w), sid = bw_wire_u16(&w), chal = bw_wire_u16(&w);
	struct bw_wire l;
	bw_wire_sub(&w, cs, &l);
	while (bw_wire_left(&l) >= 3) {
		uint8_t k = bw_wire_u8(&l);
		uint16_t s = bw_wire_u16(&l);
		o->sslv2_cipher_specs++;
		if (k != 0)
			continue; /* an SSLv2-only kind */
		if (o->cipher_count < BW_TLS_MAX_CIPHERS)
			o->ciphers[o->cipher_count++] = s;
		else
			o->ciphers_truncated = true;
	}
	o->session_id_len = (uint8_t)BW_MIN(sid, (size_t)32);
	bw_wire_copy(&w, o->session_id, o->session_id_len);
	bw_wire_skip(&w, sid - o->session_id_len + chal);
	o->compression_count = 1;
	o->compression_null_only = true;
	o->max_version = o->legacy_version;
	c->saw_client_hello = true;
	c->client_hello_count = 1;
	if (!bw_wire_ok(&w) || bw_wire_left(&w))
		o->malformed = true;
}

int bw_tls_conn_feed(struct bw_tls_conn *c, bool from_client, const uint8_t *data, size_t len, size_t *need,
		     struct bw_anomalies *an)
{
	if (!c || (!data && len))
		return BW_EINVAL;
	struct bw_tls_dir *d = &c->dir[from_client];
	if (d->done)
		return BW_ENOTSUP;
	size_t off = 0, want = TLS_RECORD_HDR;
	/* Bounded: each turn eats one record; int return caps a call's total. */
	while (off < len && off < (size_t)INT_MAX - 2 * TLS_MAX_RECORD) {
		const uint8_t *r = data + off;
		size_t left = len - off;
		if (left < TLS_RECORD_HDR) {
			want = TLS_RECORD_HDR;
			break;
		}
		if (!d->started) {
			if (from_client && (r[0] & 0x80)) {
				if (left < 11) {
					want = 11;
					break;
				}
				if (!sslv2_hello_ok(r, left))
					return conn_not_tls(c, from_client, an);
				size_t rlen = (size_t)(r[0] & 0x7f) << 8 | r[1];
				if (left < 2 + rlen) {
					want = 2 + rlen;
					break;
				}
				d->started = true;
				d->record_version = BW_TLS_V_SSL2;
				d->records++;
				sslv2_hello(c, r + 2, rlen);
				off += 2 + rlen;
				if (c->ch.malformed)
					return dir_fail(d, an, BW_AN_TLS_BAD_HANDSHAKE);
				continue;
			}
			if (!tls_header_ok(r))
				return conn_not_tls(c, from_client, an);
			d->started = true;
		}
		size_t rlen = (size_t)r[3] << 8 | r[4];
		if (!record_type_ok(r[0]) || r[1] != 3 || r[2] > 4 || rlen > TLS_MAX_RECORD)
			return dir_fail(d, an, BW_AN_TLS_BAD_RECORD);
		if (left - TLS_RECORD_HDR < rlen) {
			want = TLS_RECORD_HDR + rlen;
			break;
		}
		d->record_version = (uint16_t)(r[1] << 8 | r[2]);
		off += TLS_RECORD_HDR + rlen;
		int rc = tls_record(c, from_client, r[0], r + TLS_RECORD_HDR, rlen, false, an);
		if (rc != BW_OK)
			return rc;
	}
	if (off == 0) {
		if (need)
			*need = want;
		return BW_EAGAIN;
	}
	return (int)off;
}

/* ------------------------------------------------------------------ */
/* DTLS                                                                */

static void dtls_handled(struct bw_tls_dir *d, uint32_t seq)
{
	if (!d->dtls_have_seq || seq + 1 > d->dtls_next_seq)
		d->dtls_next_seq = seq + 1;
	d->dtls_have_seq = true;
}

static void dtls_asm_drop(struct bw_tls_dir *d)
{
	d->dtls_asm = false;
	d->dtls_asm_drops = 0;
	d->dtls_asm_have = 0;
}

/* Start assembling message seq at buf[kept..]: want body bytes, then a
 * bitmap of which ones arrived. */
static int dtls_asm_start(struct bw_tls_conn *c, bool fc, uint8_t type, uint32_t mlen, uint16_t seq,
			  struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[fc];
	size_t avail = c->cfg.max_handshake_bytes - d->kept;
	size_t want = mlen;
	if (want + (want + 7) / 8 > avail) {
		bw_anomaly(an, BW_AN_TLS_HANDSHAKE_CAP);
		if (type != BW_TLS_HS_CERTIFICATE || avail < 16) {
			dtls_handled(d, seq);
			if (type == BW_TLS_HS_CERTIFICATE && !dir_chain(c, fc)->present) {
				dir_chain(c, fc)->present = true;
				dir_chain(c, fc)->truncated = true;
			}
			return BW_EAGAIN; /* ignore this message */
		}
		want = avail * 8 / 9 - 1;
	}
	int rc = dir_reserve(c, fc, d->kept + want + (want + 7) / 8);
	if (rc != BW_OK) {
		d->done = d->failed = true;
		return BW_ENOMEM;
	}
	memset(d->buf + d->kept + want, 0, (want + 7) / 8);
	d->dtls_asm = true;
	d->dtls_asm_seq = seq;
	d->dtls_asm_type = type;
	d->dtls_asm_len = mlen;
	d->part_want = (uint32_t)want;
	d->dtls_asm_have = 0;
	d->dtls_asm_drops = 0;
	return BW_OK;
}

static int dtls_fragment(struct bw_tls_conn *c, bool fc, uint8_t type, uint32_t mlen, uint16_t seq, uint32_t foff,
			 const uint8_t *frag, uint32_t flen, struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[fc];
	bool in_asm = d->dtls_asm && seq == d->dtls_asm_seq;
	if (!in_asm && d->dtls_have_seq && seq < d->dtls_next_seq)
		return BW_OK; /* retransmission of a message already handled */
	if (in_asm && (type != d->dtls_asm_type || mlen != d->dtls_asm_len))
		return dir_fail(d, an, BW_AN_TLS_BAD_HANDSHAKE);
	if (!in_asm && foff == 0 && flen == mlen) {
		if (d->dtls_asm && type == BW_TLS_HS_CERTIFICATE)
			dtls_asm_drop(d); /* the kept chain goes where the assembly was */
		dtls_handled(d, seq);
		return hs_message(c, fc, type, frag, flen, false, mlen, an);
	}
	if (!in_asm) {
		if (d->dtls_asm) {
			/* One message at a time; after many strays give up on the old one. */
			if (++d->dtls_asm_drops < DTLS_MAX_DROPS)
				return BW_OK;
			dtls_asm_drop(d);
		}
		int rc = dtls_asm_start(c, fc, type, mlen, seq, an);
		if (rc == BW_EAGAIN)
			return BW_OK;
		if (rc != BW_OK)
			return rc;
	}
	uint8_t *body = d->buf + d->kept;
	uint8_t *bits = body + d->part_want;
	uint32_t end = BW_MIN(foff + flen, d->part_want);
	for (uint32_t i = foff; i < end; i++) {
		if (bits[i >> 3] & (1u << (i & 7)))
			continue; /* first copy wins */
		bits[i >> 3] |= (uint8_t)(1u << (i & 7));
		body[i] = frag[i - foff];
		d->dtls_asm_have++;
	}
	if (d->dtls_asm_have < d->part_want)
		return BW_OK;
	uint32_t blen = d->part_want;
	d->dtls_asm = false;
	d->part_want = 0;
	dtls_handled(d, seq);
	return hs_message(c, fc, type, body, blen, true, mlen, an);
}

static int dtls_hs_bytes(struct bw_tls_conn *c, bool fc, const uint8_t *p, size_t n, struct bw_anomalies *an)
{
	struct bw_tls_dir *d = &c->dir[fc];
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	while (bw_wire_left(&w) > 0) {
		uint8_t type = bw_wire_u8(&w);
		uint32_t mlen = bw_wire_u24(&w);
		uint16_t seq = bw_wire_u16(&w);
		uint32_t foff = bw_wire_u24(&w);
		uint32_t flen = bw_wire_u24(&w);
		const uint8_t *frag = bw_wire_ptr(&w, flen);
		if (!bw_wire_ok(&w) || foff > mlen || flen > mlen - foff)
			return dir_fail(d, an, BW_AN_TLS_BAD_HANDSHAKE);
		int rc = dtls_fragment(c, fc, type, mlen, seq, foff, frag, flen, an);
		if (rc != BW_OK)
			return rc;
	}
	return BW_OK;
}

int bw_dtls_feed_datagram(struct bw_tls_conn *c, bool from_client, const uint8_t *p, size_t n,
			  struct bw_anomalies *an)
{
	if (!c || (!p && n))
		return BW_EINVAL;
	struct bw_tls_dir *d = &c->dir[from_client];
	if (d->done)
		return BW_ENOTSUP;
	if (!d->started) {
		if (!bw_dtls_looks_like_dtls(p, n))
			return conn_not_tls(c, from_client, an);
		d->started = true;
		c->is_dtls = true;
	}
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	while (bw_wire_left(&w) > 0) {
		uint8_t type = bw_wire_u8(&w);
		uint16_t ver = bw_wire_u16(&w);
		uint16_t epoch = bw_wire_u16(&w);
		bw_wire_skip(&w, 6); /* sequence number */
		size_t rlen = bw_wire_u16(&w);
		const uint8_t *body = bw_wire_ptr(&w, rlen);
		if (!bw_wire_ok(&w) || !record_type_ok(type) || (ver >> 8) != 0xfe || rlen > TLS_MAX_RECORD)
			return dir_fail(d, an, BW_AN_TLS_BAD_RECORD);
		d->record_version = ver;
		if (epoch != 0) {
			d->records++;
			return dir_finish(d); /* encrypted from here on */
		}
		int rc = tls_record(c, from_client, type, body, rlen, true, an);
		if (rc != BW_OK)
			return rc;
	}
	return BW_OK;
}
