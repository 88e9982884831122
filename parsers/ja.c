// SPDX-License-Identifier: MIT
/*
 * ja.c: JA3, JA3S and JA4 fingerprints over the hellos tls.c parsed. They
 * are kept apart from the parser because they are policy (which values to
 * drop, how to order and hash them, as each specification says) and need a
 * digest library, while the parser needs neither. Strings are built into
 * caller or stack buffers sized from the hello bounds in tls.h; OpenSSL's
 * one-shot EVP_Digest does the hashing, so nothing is allocated here.
 */
#include "ja.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* A bounded string builder: appends are cut, never overrun. */
struct sbuf {
	char *p;
	size_t cap, len;
	bool cut;
};

static void sb_init(struct sbuf *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->cut = cap == 0;
	if (cap)
		p[0] = '\0';
}

/*
 * Append n bytes, or cut the string where it was. Numbers are formatted
 * here, not with snprintf: a ClientHello's JA3 and JA4 strings take a
 * hundred numbers, and snprintf's 700 instructions each were 4 % of a
 * worker's on the bench capture.
 */
static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->cut)
		return;
	if (n >= b->cap - b->len) {
		b->cut = true;
		b->p[b->len] = '\0';
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* v in decimal ("%u"). */
static void sb_dec(struct sbuf *b, unsigned v)
{
	char d[10], *o = d + sizeof(d);
	do
		*--o = (char)('0' + v % 10);
	while (v /= 10);
	sb_put(b, o, (size_t)(d + sizeof(d) - o));
}

/* v (at most 99) in two digits ("%02u"). */
static void sb_dec2(struct sbuf *b, unsigned v)
{
	char d[2] = { (char)('0' + v / 10 % 10), (char)('0' + v % 10) };
	sb_put(b, d, 2);
}

static const char hex[] = "0123456789abcdef"; /* digests, JA4 ALPN characters, %04x codes */

/* A 16-bit v in four lowercase hex digits ("%04x"). */
static void sb_hex4(struct sbuf *b, uint16_t v)
{
	char d[4] = { hex[v >> 12], hex[(v >> 8) & 15], hex[(v >> 4) & 15], hex[v & 15] };
	sb_put(b, d, 4);
}

static void sb_char(struct sbuf *b, char c) { sb_put(b, &c, 1); }

static int sb_result(const struct sbuf *b)
{
	return b->cut ? BW_ELIMIT : (int)b->len;
}

/* Decimal values joined by '-', GREASE dropped. */
static void sb_dec_list16(struct sbuf *b, const uint16_t *v, size_t n)
{
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (bw_tls_is_grease(v[i]))
			continue;
		if (!first)
			sb_char(b, '-');
		sb_dec(b, v[i]);
		first = false;
	}
}

static int hex_digest(const EVP_MD *md, const char *s, size_t n, char *out, size_t hexlen)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	if (!EVP_Digest(s, n, d, &dl, md, NULL) || dl * 2 < hexlen) {
		memset(out, '0', hexlen);
		out[hexlen] = '\0';
		return BW_EIO;
	}
	for (size_t i = 0; i < hexlen; i++)
		out[i] = hex[(d[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[hexlen] = '\0';
	return BW_OK;
}

int bw_ja3_string(const struct bw_tls_client_hello *ch, char *out, size_t cap)
{
	if (!ch || !out)
		return BW_EINVAL;
	struct sbuf b;
	sb_init(&b, out, cap);
	sb_dec(&b, ch->legacy_version);
	sb_char(&b, ',');
	sb_dec_list16(&b, ch->ciphers, ch->cipher_count);
	sb_char(&b, ',');
	sb_dec_list16(&b, ch->exts, ch->ext_count);
	sb_char(&b, ',');
	sb_dec_list16(&b, ch->groups, ch->group_count);
	sb_char(&b, ',');
	for (size_t i = 0; i < ch->point_format_count; i++) {
		if (i)
			sb_char(&b, '-');
		sb_dec(&b, ch->point_formats[i]);
	}
	return sb_result(&b);
}

int bw_ja3(const struct bw_tls_client_hello *ch, char out[BW_JA3_HEX_LEN + 1])
{
	char s[BW_JA3_STR_MAX];
	int n = bw_ja3_string(ch, s, sizeof(s));
	if (n < 0)
		return n;
	return hex_digest(EVP_md5(), s, (size_t)n, out, BW_JA3_HEX_LEN);
}

int bw_ja3s_string(const struct bw_tls_server_hello *sh, char *out, size_t cap)
{
	if (!sh || !out)
		return BW_EINVAL;
	struct sbuf b;
	sb_init(&b, out, cap);
	sb_dec(&b, sh->legacy_version);
	sb_char(&b, ',');
	sb_dec(&b, sh->cipher);
	sb_char(&b, ',');
	sb_dec_list16(&b, sh->exts, sh->ext_count);
	return sb_result(&b);
}

int bw_ja3s(const struct bw_tls_server_hello *sh, char out[BW_JA3_HEX_LEN + 1])
{
	char s[BW_JA3_STR_MAX];
	int n = bw_ja3s_string(sh, s, sizeof(s));
	if (n < 0)
		return n;
	return hex_digest(EVP_md5(), s, (size_t)n, out, BW_JA3_HEX_LEN);
}

static const char *ja4_version(uint16_t v)
{
	switch (v) {
	case BW_TLS_V_TLS13: return "13";
	case BW_TLS_V_TLS12: return "12";
	case BW_TLS_V_TLS11: return "11";
	case BW_TLS_V_TLS10: return "10";
	case BW_TLS_V_SSL3: return "s3";
	case BW_TLS_V_SSL2:
	case 0x0200: return "s2";
	case BW_TLS_V_DTLS10: return "d1";
	case BW_TLS_V_DTLS12: return "d2";
	case BW_TLS_V_DTLS13: return "d3";
	default: return "00";
	}
}

static bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	return x < y ? -1 : x > y;
}

/* Non-GREASE values, optionally without SNI and ALPN, sorted. */
static size_t ja4_sorted(const uint16_t *v, size_t n, bool drop_sni_alpn, uint16_t *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (bw_tls_is_grease(v[i]))
			continue;
		if (drop_sni_alpn && (v[i] == BW_TLS_EXT_SERVER_NAME || v[i] == BW_TLS_EXT_ALPN))
			continue;
		out[k++] = v[i];
	}
	qsort(out, k, sizeof(*out), cmp_u16);
	return k;
}

/* Lowercase 4-digit hex joined by ',', GREASE dropped ("ignore GREASE
 * values anywhere", which includes signature algorithms). */
static void sb_hex_list16(struct sbuf *b, const uint16_t *v, size_t n)
{
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (bw_tls_is_grease(v[i]))
			continue;
		if (!first)
			sb_char(b, ',');
		sb_hex4(b, v[i]);
		first = false;
	}
}

static size_t count_non_grease(const uint16_t *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += !bw_tls_is_grease(v[i]);
	return k;
}

/* The JA4 "a" part: 10 characters. */
static void ja4_a(const struct bw_tls_client_hello *ch, enum bw_ja4_proto proto, struct sbuf *b)
{
	if (proto == BW_JA4_AUTO)
		proto = ch->is_dtls ? BW_JA4_DTLS : BW_JA4_TCP;
	sb_char(b, (char)proto);
	const char *v = ja4_version(ch->max_version);
	sb_char(b, v[0]);
	sb_char(b, v[1]);
	sb_char(b, ch->has_sni ? 'd' : 'i');
	sb_dec2(b, (unsigned)BW_MIN(count_non_grease(ch->ciphers, ch->cipher_count), (size_t)99));
	sb_dec2(b, (unsigned)BW_MIN(count_non_grease(ch->exts, ch->ext_count), (size_t)99));
	if (ch->alpn_count == 0 || ch->alpn[0].len == 0) {
		sb_char(b, '0');
		sb_char(b, '0');
		return;
	}
	uint8_t first = ch->alpn[0].id[0], last = ch->alpn[0].last;
	if (is_alnum(first) && is_alnum(last)) {
		sb_char(b, (char)first);
		sb_char(b, (char)last);
	} else {
		sb_char(b, hex[first >> 4]);
		sb_char(b, hex[last & 15]);
	}
}

/* JA4 b and c source strings. */
static void ja4_lists(const struct bw_tls_client_hello *ch, struct sbuf *bs, struct sbuf *cs, size_t *nc, size_t *ne)
{
	uint16_t tmp[BW_MAX(BW_TLS_MAX_CIPHERS, BW_TLS_MAX_EXTS)];
	*nc = ja4_sorted(ch->ciphers, ch->cipher_count, false, tmp);
	sb_hex_list16(bs, tmp, *nc);
	*ne = ja4_sorted(ch->exts, ch->ext_count, true, tmp);
	sb_hex_list16(cs, tmp, *ne);
	if (count_non_grease(ch->sigalgs, ch->sigalg_count)) {
		sb_char(cs, '_');
		sb_hex_list16(cs, ch->sigalgs, ch->sigalg_count);
	}
}

int bw_ja4(const struct bw_tls_client_hello *ch, enum bw_ja4_proto proto, char out[BW_JA4_LEN + 1])
{
	if (!ch || !out)
		return BW_EINVAL;
	char bbuf[BW_JA4R_STR_MAX], cbuf[BW_JA4R_STR_MAX];
	struct sbuf a, bs, cs;
	sb_init(&a, out, BW_JA4_LEN + 1);
	sb_init(&bs, bbuf, sizeof(bbuf));
	sb_init(&cs, cbuf, sizeof(cbuf));
	ja4_a(ch, proto, &a);
	size_t nc, ne;
	ja4_lists(ch, &bs, &cs, &nc, &ne);
	int rc = BW_OK;
	sb_char(&a, '_');
	if (nc == 0) {
		memcpy(out + a.len, "000000000000", 12);
	} else if (hex_digest(EVP_sha256(), bbuf, bs.len, out + a.len, 12) != BW_OK) {
		rc = BW_EIO;
	}
	a.len += 12;
	out[a.len] = '\0';
	sb_char(&a, '_');
	if (ne == 0) {
		memcpy(out + a.len, "000000000000", 12);
	} else if (hex_digest(EVP_sha256(), cbuf, cs.len, out + a.len, 12) != BW_OK) {
		rc = BW_EIO;
	}
	a.len += 12;
	out[a.len] = '\0';
	return rc;
}

int bw_ja4_r(const struct bw_tls_client_hello *ch, enum bw_ja4_proto proto, char *out, size_t cap)
{
	if (!ch || !out)
		return BW_EINVAL;
	struct sbuf b;
	sb_init(&b, out, cap);
	ja4_a(ch, proto, &b);
	sb_char(&b, '_');
	/* Lists straight into the output: same content as hashed by bw_ja4. */
	uint16_t tmp[BW_MAX(BW_TLS_MAX_CIPHERS, BW_TLS_MAX_EXTS)];
	size_t nc = ja4_sorted(ch->ciphers, ch->cipher_count, false, tmp);
	sb_hex_list16(&b, tmp, nc);
	sb_char(&b, '_');
	size_t ne = ja4_sorted(ch->exts, ch->ext_count, true, tmp);
	sb_hex_list16(&b, tmp, ne);
	if (count_non_grease(ch->sigalgs, ch->sigalg_count)) {
		sb_char(&b, '_');
		sb_hex_list16(&b, ch->sigalgs, ch->sigalg_count);
	}
	return sb_result(&b);
}
