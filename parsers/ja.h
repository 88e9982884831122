/* SPDX-License-Identifier: MIT */
/*
 * ja.h: TLS client/server fingerprints computed from parsed hellos.
 *
 * JA3 and JA3S (Salesforce): "SSLVersion,Ciphers,Extensions,EllipticCurves,
 * EllipticCurvePointFormats" (JA3S: "SSLVersion,Cipher,Extensions"),
 * decimal values joined by '-', GREASE values (RFC 8701) removed, hashed
 * with MD5 (lowercase hex).
 *
 * JA4 (FoxIO, BSD 3-Clause, client fingerprint only): "a_b_c" where a is
 * protocol (t TCP, q QUIC, d DTLS), version (highest supported_versions,
 * else legacy: 13 12 11 10 s3 s2 d1 d2 d3, otherwise 00), d/i for SNI
 * present or not, 2-digit cipher and extension counts (GREASE excluded,
 * capped at 99), first and last character of the first ALPN (00 if none);
 * b is the first 12 hex digits of SHA-256 over the sorted cipher list; c
 * the same over the sorted extension list without SNI and ALPN, then "_"
 * and the signature algorithms in wire order. JA4S and the other JA4+
 * fingerprints are deliberately not implemented (their licence).
 *
 * All functions are pure and thread-safe. When a hello's list was cut
 * (its *_truncated flag), the fingerprint covers the stored entries only.
 */
#ifndef BW_JA_H
#define BW_JA_H

#include "../sensor/bw.h"
#include "tls.h"

#define BW_JA3_HEX_LEN 32 /* MD5 in lowercase hex, without NUL */
#define BW_JA4_LEN 36     /* "t13d1516h2_8daaf6152771_b186095e22b6", without NUL */
/* Largest possible JA3 / JA4_r string given the hello bounds, with NUL. */
#define BW_JA3_STR_MAX 4096
#define BW_JA4R_STR_MAX 4096

enum bw_ja4_proto {
	BW_JA4_AUTO = 0,   /* 'd' if the hello is DTLS, else 't' */
	BW_JA4_TCP = 't',
	BW_JA4_QUIC = 'q',
	BW_JA4_DTLS = 'd',
};

/* The JA3 string into out (NUL-terminated). Returns its length, or
 * BW_ELIMIT if cap is too small (out then holds a cut string). */
int bw_ja3_string(const struct bw_tls_client_hello *ch, char *out, size_t cap);
/* MD5 of the JA3 string as 32 hex digits + NUL. Returns BW_OK or BW_EIO (digest failure). */
int bw_ja3(const struct bw_tls_client_hello *ch, char out[BW_JA3_HEX_LEN + 1]);

int bw_ja3s_string(const struct bw_tls_server_hello *sh, char *out, size_t cap);
int bw_ja3s(const struct bw_tls_server_hello *sh, char out[BW_JA3_HEX_LEN + 1]);

/* JA4 into out (36 chars + NUL). Returns BW_OK or BW_EIO. */
int bw_ja4(const struct bw_tls_client_hello *ch, enum bw_ja4_proto proto, char out[BW_JA4_LEN + 1]);
/* JA4_r, the unhashed form ("t13d1516h2_002f,0035,..._0005,000a,..._0403,..."):
 * returns its length or BW_ELIMIT. */
int bw_ja4_r(const struct bw_tls_client_hello *ch, enum bw_ja4_proto proto, char *out, size_t cap);

#endif /* BW_JA_H */
