/* SPDX-License-Identifier: MIT */
/*
 * x509.c: certificates through OpenSSL 3. A sensor sees each certificate as
 * a DER blob inside a TLS handshake and must report it (names, serial,
 * validity, key, SANs, fingerprints) in the formats the peers use (Zeek's
 * RFC 2253 names, ECS/Suricata's forward ones), judge its chain as of the
 * capture time, and match it against the SNI. OpenSSL does the parsing,
 * chain building and name matching, because those are where home-grown code
 * goes wrong; this file adds what OpenSSL does not: escaping of every
 * attacker-chosen string into one bounded arena (so a decoded certificate can
 * be copied into a cache in one allocation), time conversion that survives
 * dates before 1970 and after 2038, a verdict that collects every problem and
 * separates "chain" from "name", and the detection of misordered chains that
 * OpenSSL silently repairs. Nothing here keeps global state: the trust store
 * is built by the caller once and passed in; it fills itself lazily (the
 * system bundle is indexed on the first verification and each CA decoded
 * when a chain first names it), under its own locks, so callers may still
 * treat it as read-only and share it between threads.
 */
#define _GNU_SOURCE /* memmem */
#include "x509.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "wire.h"

static const char empty[] = "";
static const struct bw_x509_san no_san[1];
static const char hexu[] = "0123456789ABCDEF";
static const char hexl[] = "0123456789abcdef";

/* ---- bounded, escaping string builder over the arena ---- */

struct sb {
	struct bw_x509_arena *a;
	char *s;
	size_t o, cap;
	bool cut;
	bool *trunc;
};

static void sb_begin(struct sb *b, struct bw_x509_arena *a, bool *trunc)
{
	size_t room = sizeof(a->buf) - a->used;
	b->a = a;
	b->trunc = trunc;
	b->o = 0;
	b->cut = false;
	if (room < 2) {
		b->s = NULL;
		b->cap = 0;
		b->cut = true;
		*trunc = true;
		return;
	}
	b->s = a->buf + a->used;
	b->cap = room - 1; /* the NUL */
}

static void sb_put(struct sb *b, const char *t, size_t tl)
{
	if (b->cut)
		return;
	if (tl > b->cap - b->o) {
		b->cut = true;
		*b->trunc = true;
		return;
	}
	memcpy(b->s + b->o, t, tl);
	b->o += tl;
}

static void sb_puts(struct sb *b, const char *t) { sb_put(b, t, strlen(t)); }

static const char *sb_end(struct sb *b)
{
	if (!b->s || b->o == 0)
		return empty;
	b->s[b->o] = '\0';
	b->a->used += b->o + 1;
	return b->s;
}

static void sb_hexbyte(struct sb *b, uint8_t v, const char *digits)
{
	char t[2] = { digits[v >> 4], digits[v & 15] };
	sb_put(b, t, 2);
}

static void sb_esc_byte(struct sb *b, uint8_t v)
{
	char t[4] = { '\\', 'x', hexu[v >> 4], hexu[v & 15] };
	sb_put(b, t, 4);
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs,
 * no surrogates, <= U+10FFFF), 0 if there is none; *cp gets the code point. */
static size_t utf8_seq(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t c = p[0];
	size_t len;
	uint32_t v;
	uint8_t lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		uint8_t d = p[i];
		if (d < lo || d > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
		v = (v << 6) | (d & 0x3f);
	}
	*cp = v;
	return len;
}

/* Code points that are valid UTF-8 but can disguise or break a log line. */
static bool unsafe_cp(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* Append certificate bytes escaped (see x509.h). keep_backslash: the input
 * is OpenSSL's RFC 2253 text, whose backslashes are already escapes. */
static void sb_esc(struct sb *b, const uint8_t *p, size_t n, bool keep_backslash)
{
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	while (!b->cut && bw_wire_left(&w) > 0) {
		const uint8_t *at = bw_wire_peek(&w, 1);
		uint8_t c = at[0];
		if (c >= 0x20 && c < 0x7f) {
			bw_wire_skip(&w, 1);
			if (c == '\\' && !keep_backslash)
				sb_put(b, "\\\\", 2);
			else
				sb_put(b, (const char *)at, 1);
			continue;
		}
		if (c < 0x80) {
			bw_wire_skip(&w, 1);
			sb_esc_byte(b, c);
			continue;
		}
		uint32_t cp = 0;
		size_t len = utf8_seq(at, bw_wire_left(&w), &cp);
		if (len == 0) {
			bw_wire_skip(&w, 1);
			sb_esc_byte(b, c);
			continue;
		}
		const uint8_t *seq = bw_wire_ptr(&w, len);
		if (unsafe_cp(cp)) {
			/* all or nothing, so a cut never leaves half an escape */
			char t[16];
			for (size_t i = 0; i < len; i++) {
				t[i * 4] = '\\';
				t[i * 4 + 1] = 'x';
				t[i * 4 + 2] = hexu[seq[i] >> 4];
				t[i * 4 + 3] = hexu[seq[i] & 15];
			}
			sb_put(b, t, len * 4);
		} else {
			sb_put(b, (const char *)seq, len);
		}
	}
}

static const char *put_esc(struct bw_x509_arena *a, bool *trunc, const uint8_t *p, size_t n)
{
	struct sb b;
	sb_begin(&b, a, trunc);
	sb_esc(&b, p, n, false);
	return sb_end(&b);
}

static const char *put_str(struct bw_x509_arena *a, bool *trunc, const char *s)
{
	return put_esc(a, trunc, (const uint8_t *)s, strlen(s));
}

static void *arena_alloc(struct bw_x509_arena *a, size_t size, size_t align)
{
	size_t at = (a->used + align - 1) & ~(align - 1);
	if (at > sizeof(a->buf) || size > sizeof(a->buf) - at)
		return NULL;
	a->used = at + size;
	return a->buf + at;
}

static void hex_lower(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexl[p[i] >> 4];
		out[2 * i + 1] = hexl[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- parsing ---- */

void bw_x509_sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	unsigned int len = 0;
	if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) || len != 32)
		memset(out, 0, 32);
}

/* Classify a blob OpenSSL refused: a cut-short certificate (the outer
 * SEQUENCE claims more than there is) or anything else. */
static int der_outer_check(const uint8_t *der, size_t n)
{
	struct bw_wire w;
	bw_wire_init(&w, der, n);
	uint8_t tag = bw_wire_u8(&w);
	if (!bw_wire_ok(&w))
		return BW_ETRUNC;
	if (tag != 0x30)
		return BW_EMALF;
	uint8_t l0 = bw_wire_u8(&w);
	size_t len = l0;
	if (l0 & 0x80) {
		unsigned k = l0 & 0x7f;
		if (k == 0 || k > 4)
			return BW_EMALF; /* indefinite, or longer than any TLS message */
		len = 0;
		for (unsigned i = 0; i < k; i++)
			len = (len << 8) | bw_wire_u8(&w);
	}
	if (!bw_wire_ok(&w) || len > bw_wire_left(&w))
		return BW_ETRUNC;
	return BW_EMALF;
}

int bw_x509_parse(const uint8_t *der, size_t n, struct x509_st **out, size_t *consumed)
{
	if (out)
		*out = NULL;
	if (consumed)
		*consumed = 0;
	if (!der || !out)
		return BW_EINVAL;
	if (n > BW_X509_MAX_DER)
		return BW_ELIMIT;
	const unsigned char *p = der;
	X509 *x = n ? d2i_X509(NULL, &p, (long)n) : NULL;
	if (!x) {
		ERR_clear_error();
		return der_outer_check(der, n);
	}
	/*
	 * d2i_X509 also takes BER (an indefinite or non-minimal outer length):
	 * not DER, and its SHA-256 would not be the one a pin names. The DER
	 * re-encoding (the signed part is kept verbatim) then differs.
	 */
	unsigned char *enc = NULL;
	int el = i2d_X509(x, &enc);
	bool der_ok = el > 0 && (size_t)el == (size_t)(p - der) && memcmp(enc, der, (size_t)el) == 0;
	OPENSSL_free(enc);
	if (!der_ok) {
		X509_free(x);
		ERR_clear_error();
		return BW_EMALF;
	}
	if (consumed)
		*consumed = (size_t)(p - der);
	*out = x;
	return BW_OK;
}

void bw_x509_free(struct x509_st *x) { X509_free(x); }

static void info_clear(struct bw_x509_info *info)
{
	memset(info, 0, sizeof(*info));
	struct bw_x509_name *names[2] = { &info->subject, &info->issuer };
	for (int i = 0; i < 2; i++) {
		struct bw_x509_name *nm = names[i];
		nm->dn = nm->dn_rfc2253 = nm->cn = nm->o = nm->ou = nm->c = nm->st = nm->l = empty;
	}
	info->serial = info->serial_colon = empty;
	info->sig_alg = info->sig_alg_ecs = info->key_alg = info->key_type_name = info->curve = empty;
	info->key_usage_text = info->ext_key_usage_text = empty;
	info->san = no_san;
	info->path_len = -1;
}

/* ---- names ---- */

static void sb_asn1_value(struct sb *b, const ASN1_STRING *s)
{
	unsigned char *u = NULL;
	int ul = ASN1_STRING_to_UTF8(&u, s);
	if (ul >= 0) {
		sb_esc(b, u, (size_t)ul, false);
		OPENSSL_free(u);
	} else {
		/* not convertible (bad UTF8String, odd type): the raw bytes, escaped */
		ERR_clear_error();
		int l = ASN1_STRING_length(s);
		sb_esc(b, ASN1_STRING_get0_data(s), l > 0 ? (size_t)l : 0, false);
	}
}

static const char *last_attr(X509_NAME *nm, int nid, struct bw_x509_arena *a, bool *trunc)
{
	int at = -1;
	/* bounded by the entry count: each call starts after the previous hit */
	for (int i = X509_NAME_get_index_by_NID(nm, nid, -1); i >= 0; i = X509_NAME_get_index_by_NID(nm, nid, i))
		at = i;
	if (at < 0)
		return empty;
	struct sb b;
	sb_begin(&b, a, trunc);
	sb_asn1_value(&b, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, at)));
	return sb_end(&b);
}

static void decode_name(X509_NAME *nm, BIO *bio, struct bw_x509_name *out, struct bw_x509_arena *a, bool *trunc)
{
	if (!nm)
		return;
	struct sb b;
	sb_begin(&b, a, trunc);
	int count = X509_NAME_entry_count(nm);
	int prev_set = -1;
	for (int i = 0; i < count && !b.cut; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, i);
		int set = X509_NAME_ENTRY_set(e);
		if (i > 0)
			sb_puts(&b, set == prev_set ? " + " : ", ");
		prev_set = set;
		const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
		int nid = OBJ_obj2nid(obj);
		const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
		char oid[128];
		if (!sn) {
			if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
				snprintf(oid, sizeof(oid), "?");
			sn = oid;
		}
		sb_esc(&b, (const uint8_t *)sn, strlen(sn), false);
		sb_put(&b, "=", 1);
		sb_asn1_value(&b, X509_NAME_ENTRY_get_data(e));
	}
	out->dn = sb_end(&b);

	if (bio && BIO_reset(bio) >= 0 && X509_NAME_print_ex(bio, nm, 0, XN_FLAG_RFC2253) >= 0) {
		char *data = NULL;
		long len = BIO_get_mem_data(bio, &data);
		sb_begin(&b, a, trunc);
		if (data && len > 0)
			sb_esc(&b, (const uint8_t *)data, (size_t)len, true);
		out->dn_rfc2253 = sb_end(&b);
	}
	out->cn = last_attr(nm, NID_commonName, a, trunc);
	out->o = last_attr(nm, NID_organizationName, a, trunc);
	out->ou = last_attr(nm, NID_organizationalUnitName, a, trunc);
	out->c = last_attr(nm, NID_countryName, a, trunc);
	out->st = last_attr(nm, NID_stateOrProvinceName, a, trunc);
	out->l = last_attr(nm, NID_localityName, a, trunc);
}

/* ---- serial ---- */

static void decode_serial(X509 *x, struct bw_x509_info *info, struct bw_x509_arena *a, bool *trunc)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	if (!sn)
		return;
	const uint8_t *d = ASN1_STRING_get0_data(sn);
	int len = ASN1_STRING_length(sn);
	struct sb b;
	/* as i2a_ASN1_INTEGER prints it (Zeek) */
	sb_begin(&b, a, trunc);
	if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER)
		sb_put(&b, "-", 1);
	if (len <= 0 || !d)
		sb_put(&b, "00", 2);
	for (int i = 0; i < len && d && !b.cut; i++)
		sb_hexbyte(&b, d[i], hexu);
	info->serial = sb_end(&b);

	/* the DER content octets (Suricata), sign octet and all */
	unsigned char *enc = NULL;
	int el = i2d_ASN1_INTEGER(sn, &enc);
	if (el <= 0) {
		ERR_clear_error();
		return;
	}
	struct bw_wire w;
	bw_wire_init(&w, enc, (size_t)el);
	bw_wire_skip(&w, 1); /* tag */
	uint8_t l0 = bw_wire_u8(&w);
	if (l0 & 0x80)
		bw_wire_skip(&w, l0 & 0x7f);
	sb_begin(&b, a, trunc);
	for (size_t i = 0; bw_wire_ok(&w) && bw_wire_left(&w) > 0 && !b.cut; i++) {
		if (i)
			sb_put(&b, ":", 1);
		sb_hexbyte(&b, bw_wire_u8(&w), hexu);
	}
	info->serial_colon = sb_end(&b);
	OPENSSL_free(enc);
}

/* ---- times ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): exact for any year, no time_t or timegm involved. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Seconds since the epoch of an ASN.1 time, and its broken-down form. */
static bool time_secs(const ASN1_TIME *t, int64_t *secs, struct tm *tm)
{
	/* ASN1_TIME_to_tm(NULL) would mean "now": never pass it NULL */
	if (!t || ASN1_TIME_to_tm(t, tm) != 1) {
		ERR_clear_error();
		return false;
	}
	int64_t y = (int64_t)tm->tm_year + 1900;
	if (y < 0 || y > 9999 || tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1 || tm->tm_mday > 31)
		return false;
	*secs = days_from_civil(y, (unsigned)tm->tm_mon + 1, (unsigned)tm->tm_mday) * 86400 +
		(int64_t)tm->tm_hour * 3600 + tm->tm_min * 60 + tm->tm_sec;
	return true;
}

static bool decode_time(const ASN1_TIME *t, int64_t *secs, bw_time_t *ns, char iso[24])
{
	struct tm tm;
	iso[0] = '\0';
	if (!time_secs(t, secs, &tm))
		return false;
	int64_t y = (int64_t)tm.tm_year + 1900;
	int64_t s = *secs;
	if (s < 0)
		*ns = 0;
	else if ((uint64_t)s > UINT64_MAX / BW_NSEC_PER_SEC)
		*ns = UINT64_MAX;
	else
		*ns = (uint64_t)s * BW_NSEC_PER_SEC;
	/* "YYYY-MM-DDTHH:MM:SSZ" by hand: time_secs bounded the year to 0..9999 */
	unsigned f[6] = { (unsigned)y, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday,
			  (unsigned)tm.tm_hour, (unsigned)tm.tm_min, (unsigned)tm.tm_sec };
	static const char sep[6] = { '-', '-', 'T', ':', ':', 'Z' };
	char *o = iso;
	for (int i = 0; i < 6; i++) {
		unsigned v = f[i];
		if (i == 0) {
			*o++ = (char)('0' + v / 1000 % 10);
			*o++ = (char)('0' + v / 100 % 10);
		}
		*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
		*o++ = sep[i];
	}
	*o = '\0';
	return true;
}

/* ---- algorithms and key ---- */

static const char *md_name(int nid)
{
	switch (nid) {
	case NID_md2: return "MD2";
	case NID_md5: return "MD5";
	case NID_sha1: return "SHA1";
	case NID_sha224: return "SHA224";
	case NID_sha256: return "SHA256";
	case NID_sha384: return "SHA384";
	case NID_sha512: return "SHA512";
	default: return NULL;
	}
}

static const char *obj_text(const ASN1_OBJECT *obj, struct bw_x509_arena *a, bool *trunc)
{
	char buf[128];
	if (!obj || OBJ_obj2txt(buf, sizeof(buf), obj, 0) <= 0)
		return empty;
	return put_str(a, trunc, buf);
}

static void decode_algs(X509 *x, struct bw_x509_info *info, struct bw_x509_arena *a, bool *trunc)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	X509_get0_signature(NULL, &alg, x);
	if (alg) {
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
		info->sig_alg = obj_text(obj, a, trunc);
	}
	info->sig_alg_ecs = info->sig_alg;
	int mdnid = NID_undef, pknid = NID_undef;
	if (X509_get_signature_info(x, &mdnid, &pknid, NULL, NULL)) {
		const char *md = md_name(mdnid);
		struct sb b;
		sb_begin(&b, a, trunc);
		if (pknid == NID_ED25519) {
			sb_puts(&b, "Ed25519");
		} else if (pknid == NID_ED448) {
			sb_puts(&b, "Ed448");
		} else if (md && pknid == NID_rsaEncryption) {
			sb_puts(&b, md);
			sb_puts(&b, "-RSA");
		} else if (md && pknid == NID_rsassaPss) {
			sb_puts(&b, md);
			sb_puts(&b, "-RSAPSS");
		} else if (md && pknid == NID_X9_62_id_ecPublicKey) {
			sb_puts(&b, "ECDSA-");
			sb_puts(&b, md);
		} else if (md && pknid == NID_dsa) {
			sb_puts(&b, "DSA-");
			sb_puts(&b, md);
		}
		const char *s = sb_end(&b);
		if (*s)
			info->sig_alg_ecs = s;
	}
	ERR_clear_error();

	X509_PUBKEY *pub = X509_get_X509_PUBKEY(x);
	ASN1_OBJECT *kobj = NULL;
	if (pub && X509_PUBKEY_get0_param(&kobj, NULL, NULL, NULL, pub))
		info->key_alg = obj_text(kobj, a, trunc);
	if (pub) {
		unsigned char *spki = NULL;
		int sl = i2d_X509_PUBKEY(pub, &spki);
		unsigned int dl = 0;
		if (sl > 0 && EVP_Digest(spki, (size_t)sl, info->spki_sha256, &dl, EVP_sha256(), NULL) && dl == 32) {
			hex_lower(info->spki_sha256, 32, info->spki_sha256_hex);
			EVP_EncodeBlock((unsigned char *)info->spki_sha256_b64, info->spki_sha256, 32);
		}
		OPENSSL_free(spki);
	}

	EVP_PKEY *pk = X509_get0_pubkey(x); /* NULL for a key OpenSSL cannot decode */
	if (pk) {
		switch (EVP_PKEY_get_base_id(pk)) {
		case EVP_PKEY_RSA: info->key_type = BW_X509_KEY_RSA; info->key_type_name = "RSA"; break;
		case EVP_PKEY_RSA_PSS: info->key_type = BW_X509_KEY_RSA_PSS; info->key_type_name = "RSA-PSS"; break;
		case EVP_PKEY_DSA: info->key_type = BW_X509_KEY_DSA; info->key_type_name = "DSA"; break;
		case EVP_PKEY_EC: info->key_type = BW_X509_KEY_EC; info->key_type_name = "EC"; break;
		case EVP_PKEY_ED25519: info->key_type = BW_X509_KEY_ED25519; info->key_type_name = "Ed25519"; break;
		case EVP_PKEY_ED448: info->key_type = BW_X509_KEY_ED448; info->key_type_name = "Ed448"; break;
		default: info->key_type = BW_X509_KEY_OTHER; break;
		}
		info->key_bits = EVP_PKEY_get_bits(pk);
		if (info->key_bits < 0)
			info->key_bits = 0;
		if (info->key_type == BW_X509_KEY_EC) {
			char g[80];
			size_t gl = 0;
			if (EVP_PKEY_get_group_name(pk, g, sizeof(g), &gl) && gl < sizeof(g))
				info->curve = put_esc(a, trunc, (const uint8_t *)g, gl);
		}
		if (info->key_type == BW_X509_KEY_RSA || info->key_type == BW_X509_KEY_RSA_PSS) {
			BIGNUM *e = NULL;
			if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) && BN_num_bits(e) <= 64)
				info->rsa_exponent = (uint64_t)BN_get_word(e);
			BN_free(e);
		}
	}
	ERR_clear_error();
}

/* ---- extensions ---- */

static const struct {
	uint32_t bit;
	const char *name;
} ku_names[] = {
	{ BW_X509_KU_DIGITAL_SIGNATURE, "digitalSignature" },
	{ BW_X509_KU_NON_REPUDIATION, "nonRepudiation" },
	{ BW_X509_KU_KEY_ENCIPHERMENT, "keyEncipherment" },
	{ BW_X509_KU_DATA_ENCIPHERMENT, "dataEncipherment" },
	{ BW_X509_KU_KEY_AGREEMENT, "keyAgreement" },
	{ BW_X509_KU_KEY_CERT_SIGN, "keyCertSign" },
	{ BW_X509_KU_CRL_SIGN, "cRLSign" },
	{ BW_X509_KU_ENCIPHER_ONLY, "encipherOnly" },
	{ BW_X509_KU_DECIPHER_ONLY, "decipherOnly" },
}, eku_names[] = {
	{ BW_X509_EKU_SERVER_AUTH, "serverAuth" },
	{ BW_X509_EKU_CLIENT_AUTH, "clientAuth" },
	{ BW_X509_EKU_EMAIL, "emailProtection" },
	{ BW_X509_EKU_CODE_SIGNING, "codeSigning" },
	{ XKU_SGC, "serverGatedCrypto" },
	{ BW_X509_EKU_OCSP_SIGNING, "OCSPSigning" },
	{ BW_X509_EKU_TIME_STAMPING, "timeStamping" },
	{ XKU_DVCS, "dvcs" },
	{ BW_X509_EKU_ANY, "anyExtendedKeyUsage" },
};

static const char *bits_text(uint32_t v, const void *table, size_t n, struct bw_x509_arena *a, bool *trunc)
{
	const struct {
		uint32_t bit;
		const char *name;
	} *t = table;
	struct sb b;
	sb_begin(&b, a, trunc);
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (!(v & t[i].bit))
			continue;
		if (!first)
			sb_put(&b, ",", 1);
		sb_puts(&b, t[i].name);
		first = false;
	}
	return sb_end(&b);
}

static void decode_exts(X509 *x, struct bw_x509_info *info, struct bw_x509_arena *a, bool *trunc)
{
	uint32_t fl = X509_get_extension_flags(x); /* caches the extensions once */
	info->ext_invalid = (fl & EXFLAG_INVALID) != 0;
	info->has_basic_constraints = (fl & EXFLAG_BCONS) != 0;
	info->is_ca = (fl & EXFLAG_CA) != 0;
	long pl = X509_get_pathlen(x);
	info->path_len = pl >= 0 && pl <= INT32_MAX ? (int)pl : -1;
	if (fl & EXFLAG_KUSAGE) {
		info->has_key_usage = true;
		info->key_usage = X509_get_key_usage(x);
		info->key_usage_text = bits_text(info->key_usage, ku_names, BW_ARRAY_SIZE(ku_names), a, trunc);
	}
	if (fl & EXFLAG_XKUSAGE) {
		info->has_ext_key_usage = true;
		info->ext_key_usage = X509_get_extended_key_usage(x);
		info->ext_key_usage_text =
			bits_text(info->ext_key_usage, eku_names, BW_ARRAY_SIZE(eku_names), a, trunc);
	}
	info->self_issued = (fl & EXFLAG_SI) != 0;
	/* verifies the signature: done once per distinct certificate (the cache) */
	info->self_signed = info->self_issued && X509_self_signed(x, 1) == 1;
	ERR_clear_error();
}

static void decode_sans(X509 *x, struct bw_x509_info *info, struct bw_x509_arena *a, bool *trunc)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (!gens) {
		ERR_clear_error();
		return;
	}
	int total = sk_GENERAL_NAME_num(gens);
	size_t cap = total > 0 ? BW_MIN((size_t)total, (size_t)BW_X509_MAX_SANS) : 0;
	struct bw_x509_san *arr = cap ? arena_alloc(a, cap * sizeof(*arr), _Alignof(struct bw_x509_san)) : NULL;
	if (!arr)
		cap = 0;
	uint32_t kept = 0, seen = 0;
	for (int i = 0; i < total; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int type = -1;
		const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
		enum bw_x509_san_type st;
		switch (type) {
		case GEN_DNS: st = BW_X509_SAN_DNS; break;
		case GEN_IPADD: st = BW_X509_SAN_IP; break;
		case GEN_EMAIL: st = BW_X509_SAN_EMAIL; break;
		case GEN_URI: st = BW_X509_SAN_URI; break;
		default: continue;
		}
		seen++;
		/* SAN text may use half the arena; the rest is for the names */
		if (kept >= cap || a->used > sizeof(a->buf) / 2 || !s)
			continue;
		const uint8_t *d = ASN1_STRING_get0_data(s);
		int l = ASN1_STRING_length(s);
		size_t n = l > 0 ? (size_t)l : 0;
		const char *v;
		if (st == BW_X509_SAN_IP && (n == 4 || n == 16)) {
			char ip[INET6_ADDRSTRLEN];
			if (!inet_ntop(n == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip)))
				snprintf(ip, sizeof(ip), "?");
			v = put_str(a, trunc, ip);
		} else if (st == BW_X509_SAN_IP) {
			/* address with a netmask (name constraints style) or junk: hex */
			struct sb b;
			sb_begin(&b, a, trunc);
			sb_put(&b, "#", 1);
			for (size_t k = 0; k < n && !b.cut; k++)
				sb_hexbyte(&b, d[k], hexl);
			v = sb_end(&b);
		} else {
			v = put_esc(a, trunc, d, n);
		}
		arr[kept].type = st;
		arr[kept].value = v;
		kept++;
	}
	GENERAL_NAMES_free(gens);
	if (kept)
		info->san = arr;
	info->san_count = kept;
	info->san_total = seen;
	info->san_truncated = kept < seen;
}

int bw_x509_decode_x509(struct x509_st *x, const uint8_t *der, size_t n, const uint8_t *sha256,
			struct bw_x509_info *info, struct bw_x509_arena *arena)
{
	if (!info)
		return BW_EINVAL;
	info_clear(info);
	if (!x || !arena || (!der && n))
		return BW_EINVAL;
	arena->used = 0;
	bool trunc = false;
	info->der_len = n;

	if (sha256)
		memcpy(info->sha256, sha256, 32);
	else
		bw_x509_sha256(der, n, info->sha256);
	hex_lower(info->sha256, 32, info->sha256_hex);
	unsigned int dl = 0;
	if (EVP_Digest(der, n, info->sha1, &dl, EVP_sha1(), NULL) && dl == 20)
		hex_lower(info->sha1, 20, info->sha1_hex);
	else
		ERR_clear_error();

	long ver = X509_get_version(x);
	info->version = ver >= 0 && ver < 16 ? (int)ver + 1 : 0;

	/* SANs first: their array must be aligned and bounded before text fills the arena */
	decode_sans(x, info, arena, &trunc);
	decode_serial(x, info, arena, &trunc);
	BIO *bio = BIO_new(BIO_s_mem());
	decode_name(X509_get_subject_name(x), bio, &info->subject, arena, &trunc);
	decode_name(X509_get_issuer_name(x), bio, &info->issuer, arena, &trunc);
	BIO_free(bio);
	bool t1 = decode_time(X509_get0_notBefore(x), &info->not_before_s, &info->not_before, info->not_before_iso);
	bool t2 = decode_time(X509_get0_notAfter(x), &info->not_after_s, &info->not_after, info->not_after_iso);
	info->times_ok = t1 && t2;
	decode_algs(x, info, arena, &trunc);
	decode_exts(x, info, arena, &trunc);
	info->text_truncated = trunc;
	ERR_clear_error();
	return BW_OK;
}

int bw_x509_decode(const uint8_t *der, size_t n, struct bw_x509_info *info, struct bw_x509_arena *arena,
		   struct bw_anomalies *an)
{
	if (!info)
		return BW_EINVAL;
	info_clear(info);
	if (!arena)
		return BW_EINVAL;
	X509 *x = NULL;
	size_t used = 0;
	int rc = bw_x509_parse(der, n, &x, &used);
	if (rc != BW_OK) {
		if (rc == BW_EMALF || rc == BW_ETRUNC || rc == BW_ELIMIT)
			bw_anomaly(an, BW_AN_X509_BAD_DER);
		return rc;
	}
	rc = bw_x509_decode_x509(x, der, n, NULL, info, arena);
	info->trailing = n - used;
	if (info->trailing)
		bw_anomaly(an, BW_AN_X509_BAD_DER);
	X509_free(x);
	return rc;
}

/* ---- copying into a cache entry ---- */

struct rebase {
	uintptr_t lo, hi;
	char *to;
};

static void rebase_one(const char **p, const struct rebase *r)
{
	uintptr_t v = (uintptr_t)*p;
	if (v >= r->lo && v < r->hi)
		*p = r->to + (v - r->lo);
}

int bw_x509_info_copy(const struct bw_x509_info *info, const struct bw_x509_arena *arena,
		      struct bw_x509_info *dst, char *text, size_t cap)
{
	if (!info || !arena || !dst || (!text && arena->used))
		return BW_EINVAL;
	if (cap < arena->used)
		return BW_ENOMEM;
	if ((uintptr_t)text % _Alignof(struct bw_x509_san))
		return BW_EINVAL;
	if (arena->used)
		memcpy(text, arena->buf, arena->used);
	*dst = *info;
	struct rebase r = { (uintptr_t)arena->buf, (uintptr_t)arena->buf + arena->used, text };
	struct bw_x509_name *names[2] = { &dst->subject, &dst->issuer };
	for (int i = 0; i < 2; i++) {
		struct bw_x509_name *nm = names[i];
		const char **f[] = { &nm->dn, &nm->dn_rfc2253, &nm->cn, &nm->o, &nm->ou, &nm->c, &nm->st, &nm->l };
		for (size_t k = 0; k < BW_ARRAY_SIZE(f); k++)
			rebase_one(f[k], &r);
	}
	const char **f[] = { &dst->serial,	  &dst->serial_colon,   &dst->sig_alg,
			     &dst->sig_alg_ecs,	  &dst->key_alg,	&dst->key_type_name,
			     &dst->curve,	  &dst->key_usage_text, &dst->ext_key_usage_text };
	for (size_t k = 0; k < BW_ARRAY_SIZE(f); k++)
		rebase_one(f[k], &r);
	uintptr_t sv = (uintptr_t)dst->san;
	if (sv >= r.lo && sv < r.hi) {
		struct bw_x509_san *ns = (struct bw_x509_san *)(void *)(text + (sv - r.lo));
		for (uint32_t i = 0; i < dst->san_count; i++)
			rebase_one(&ns[i].value, &r);
		dst->san = ns;
	}
	return BW_OK;
}

/* ---- trust store ---- */

/*
 * The system bundle (about 150 CAs) costs 20 ms to load eagerly, nearly all
 * of it in d2i_X509 decoding each CA's public key, although a run needs a
 * handful of them. So the bundle's bytes are read at start (no file access
 * later, after seccomp or a privilege drop), and on the first verification
 * each certificate's subject name alone is decoded into an index; a CA is
 * fully decoded and added to the store the first time a chain names it (as
 * issuer or subject, transitively up its own issuers) before OpenSSL builds
 * that chain. Every certificate OpenSSL could ask the store for is in it by
 * then, so verdicts are those of an eager load. A bundle the index cannot
 * take (other PEM blocks than CERTIFICATE, a name that does not decode) is
 * loaded eagerly, as before. The extra CA files are small and the user named
 * them, so they are read at start (a bad file is a start-up error) into a
 * staging store, merged after the bundle as the eager order did. All workers
 * share the one store: the index is filled under a mutex.
 */
struct bundle_cert {
	X509_NAME *name;        /* subject, decoded alone */
	const uint8_t *der;     /* into trust->ders */
	size_t len;
	bool added;             /* decoded and put in the store (or failed to) */
};

struct bw_x509_trust {
	pthread_mutex_t lock;   /* the lazy load */
	pthread_mutex_t lu_lock;/* the bundle index */
	atomic_bool loaded;     /* store is final; read with acquire */
	X509_STORE *store;      /* NULL until loaded */
	X509_STORE *staged;     /* the extra CA files, until loaded */
	char *system_path;      /* NULL: no system bundle */
	char *pem;              /* the bundle's bytes, read at start */
	size_t pem_len;
	uint8_t *ders;          /* the bundle's certificates, base64-decoded */
	struct bundle_cert *bc; /* the index; NULL if the bundle was loaded eagerly */
	size_t nbc;
	bool system_failed;     /* the bundle did not load: extras only */
	unsigned load_failures; /* lazy loads of the bundle that failed (under lock) */
	size_t n_system, n_extra;
};

static size_t store_count(X509_STORE *s)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(s);
	int n = objs ? sk_X509_OBJECT_num(objs) : 0;
	return n > 0 ? (size_t)n : 0;
}

static void set_err(char *err, size_t cap, const char *fmt, const char *path, const char *why)
{
	if (err && cap)
		snprintf(err, cap, fmt, path, why);
}

static const char *ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "no certificate found";
}

/* True if OpenSSL's error queue says an allocation failed (and empties it). */
static bool ossl_out_of_memory(void)
{
	bool oom = false;
	unsigned long e;
	while ((e = ERR_get_error()) != 0)
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			oom = true;
	return oom;
}

/* The certificate and CRL blocks of a PEM file (what X509_load_cert_crl_file takes); -1 if unreadable. */
static long pem_blocks(const char *path)
{
	static const char *const kinds[] = { "-----BEGIN CERTIFICATE-----", "-----BEGIN TRUSTED CERTIFICATE-----",
					     "-----BEGIN X509 CERTIFICATE-----", "-----BEGIN X509 CRL-----" };
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	char line[256];
	long n = 0;
	while (fgets(line, sizeof(line), fp))
		for (size_t i = 0; i < BW_ARRAY_SIZE(kinds); i++)
			if (strncmp(line, kinds[i], strlen(kinds[i])) == 0)
				n++;
	fclose(fp);
	return n;
}

/* A file of PEM certificates, or one DER certificate. Returns certs loaded. */
static long load_ca_file(X509_STORE *store, const char *path, char *err, size_t errcap)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		set_err(err, errcap, "CA file '%s': %s", path, strerror(errno));
		return -1;
	}
	fclose(fp);
	ERR_clear_error();
	X509_LOOKUP *lu = X509_STORE_add_lookup(store, X509_LOOKUP_file());
	int got = lu ? X509_load_cert_crl_file(lu, path, X509_FILETYPE_PEM) : 0;
	if (got > 0) {
		/* OpenSSL can stop part-way (an allocation failing in a decoder) and
		 * still return what it loaded: a CA silently missing would make every
		 * chain it anchors untrusted for the whole run. Count the blocks. */
		long want = pem_blocks(path);
		if (want > got) {
			if (err && errcap)
				snprintf(err, errcap,
					 "CA file '%s': only %d of its %ld certificates and CRLs could be loaded: %s",
					 path, got, want, ossl_reason());
			ERR_clear_error();
			return -1;
		}
		ERR_clear_error();
		return got;
	}
	char why[160];
	snprintf(why, sizeof(why), "%s", ossl_reason());
	ERR_clear_error();
	if (lu && X509_load_cert_file(lu, path, X509_FILETYPE_ASN1) == 1) {
		ERR_clear_error();
		return 1;
	}
	ERR_clear_error();
	set_err(err, errcap, "CA file '%s': no usable certificate (PEM or DER expected): %s", path, why);
	return -1;
}

/* Copy every certificate and CRL of src into dst (references, not copies). */
static int store_merge(X509_STORE *dst, X509_STORE *src)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(src);
	int n = objs ? sk_X509_OBJECT_num(objs) : 0;
	for (int i = 0; i < n; i++) {
		X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
		X509 *x = X509_OBJECT_get0_X509(o);
		X509_CRL *crl = X509_OBJECT_get0_X509_CRL(o);
		if (x && X509_STORE_add_cert(dst, x) != 1)
			return BW_ENOMEM;
		if (crl && X509_STORE_add_crl(dst, crl) != 1)
			return BW_ENOMEM;
	}
	return BW_OK;
}

/* One DER TLV at w: its tag, and a sub-cursor over its value (short and
 * long definite lengths; nothing here needs more). False if malformed. */
static bool der_tlv(struct bw_wire *w, uint8_t *tag, struct bw_wire *val, size_t *whole)
{
	size_t start = bw_wire_pos(w);
	*tag = bw_wire_u8(w);
	uint8_t l0 = bw_wire_u8(w);
	size_t len = l0;
	if (l0 & 0x80) {
		unsigned k = l0 & 0x7f;
		if (k == 0 || k > 4)
			return false;
		len = 0;
		for (unsigned i = 0; i < k; i++)
			len = (len << 8) | bw_wire_u8(w);
	}
	if (!bw_wire_ok(w) || len > bw_wire_left(w))
		return false;
	bw_wire_sub(w, len, val);
	if (whole)
		*whole = bw_wire_pos(w) - start;
	return true;
}

/* The subject Name of a DER certificate, decoded alone (no public key). */
static X509_NAME *der_subject(const uint8_t *der, size_t n)
{
	struct bw_wire w, cert, tbs, v;
	uint8_t tag;
	size_t whole = 0;
	bw_wire_init(&w, der, n);
	if (!der_tlv(&w, &tag, &cert, NULL) || tag != 0x30 || !der_tlv(&cert, &tag, &tbs, NULL) || tag != 0x30)
		return NULL;
	const uint8_t *p = bw_wire_peek(&tbs, 1);
	if (p && *p == 0xa0 && !der_tlv(&tbs, &tag, &v, NULL)) /* [0] version */
		return NULL;
	for (int i = 0; i < 4; i++) /* serial, signature, issuer, validity */
		if (!der_tlv(&tbs, &tag, &v, NULL))
			return NULL;
	size_t at = bw_wire_pos(&tbs);
	if (!der_tlv(&tbs, &tag, &v, &whole) || tag != 0x30)
		return NULL;
	bw_wire_seek(&tbs, at);
	const unsigned char *q = bw_wire_ptr(&tbs, whole);
	return q ? d2i_X509_NAME(NULL, &q, (long)whole) : NULL;
}

/*
 * Index the PEM bundle: every CERTIFICATE block base64-decoded into ders,
 * its subject into bc. BW_EINVAL when the bundle holds anything the index
 * cannot stand for (another block type, a block that does not decode): the
 * caller then loads it eagerly, which has OpenSSL's own rules for those.
 */
static int bundle_index(struct bw_x509_trust *t)
{
	static const char begin[] = "-----BEGIN ", cert_begin[] = "-----BEGIN CERTIFICATE-----",
			  cert_end[] = "-----END CERTIFICATE-----";
	int rc = BW_EINVAL;
	size_t cap = 0;
	EVP_ENCODE_CTX *ec = EVP_ENCODE_CTX_new();
	t->ders = malloc(t->pem_len / 4 * 3 + 16);
	if (!ec || !t->ders) {
		rc = BW_ENOMEM;
		goto fail;
	}
	size_t used = 0;
	const char *p = t->pem, *endp = t->pem + t->pem_len;
	for (;;) {
		const char *b = memmem(p, (size_t)(endp - p), begin, sizeof(begin) - 1);
		if (!b)
			break;
		if ((size_t)(endp - b) < sizeof(cert_begin) - 1 || memcmp(b, cert_begin, sizeof(cert_begin) - 1) != 0)
			goto fail; /* TRUSTED CERTIFICATE, X509 CRL, ...: eager */
		const char *body = b + sizeof(cert_begin) - 1;
		const char *e = memmem(body, (size_t)(endp - body), cert_end, sizeof(cert_end) - 1);
		if (!e || e - body > INT_MAX)
			goto fail;
		int outl = 0, finl = 0;
		EVP_DecodeInit(ec);
		if (EVP_DecodeUpdate(ec, t->ders + used, &outl, (const unsigned char *)body, (int)(e - body)) < 0 ||
		    EVP_DecodeFinal(ec, t->ders + used + outl, &finl) < 0)
			goto fail;
		size_t len = (size_t)outl + (size_t)finl;
		X509_NAME *nm = der_subject(t->ders + used, len);
		if (!nm)
			goto fail;
		if (t->nbc == cap) {
			size_t nc = cap ? 2 * cap : 256;
			struct bundle_cert *nb = realloc(t->bc, nc * sizeof(*nb));
			if (!nb) {
				X509_NAME_free(nm);
				rc = BW_ENOMEM;
				goto fail;
			}
			t->bc = nb;
			cap = nc;
		}
		t->bc[t->nbc++] = (struct bundle_cert){ .name = nm, .der = t->ders + used, .len = len };
		used += len;
		p = e + sizeof(cert_end) - 1;
	}
	if (t->nbc == 0)
		goto fail; /* X509_STORE_load_file fails on a bundle with no certificate */
	EVP_ENCODE_CTX_free(ec);
	ERR_clear_error();
	return BW_OK;
fail:
	for (size_t i = 0; i < t->nbc; i++)
		X509_NAME_free(t->bc[i].name);
	free(t->bc);
	free(t->ders);
	t->bc = NULL;
	t->ders = NULL;
	t->nbc = 0;
	EVP_ENCODE_CTX_free(ec);
	ERR_clear_error();
	return rc;
}

/* The bundle as OpenSSL loads a file (X509_load_cert_crl_file), from memory. */
static int bundle_load_eager(struct bw_x509_trust *t, X509_STORE *s)
{
	BIO *bio = BIO_new_mem_buf(t->pem, t->pem_len > INT_MAX ? INT_MAX : (int)t->pem_len);
	STACK_OF(X509_INFO) *inf = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
	int rc = BW_EINVAL, count = 0;
	if (!inf)
		goto out;
	for (int i = 0; i < sk_X509_INFO_num(inf); i++) {
		X509_INFO *it = sk_X509_INFO_value(inf, i);
		if (it->x509) {
			if (!X509_STORE_add_cert(s, it->x509))
				goto out;
			count++;
		}
		if (it->crl) {
			if (!X509_STORE_add_crl(s, it->crl))
				goto out;
			count++;
		}
	}
	rc = count ? BW_OK : BW_EINVAL;
out:
	sk_X509_INFO_pop_free(inf, X509_INFO_free);
	BIO_free(bio);
	return rc;
}

/* Build the final store: the system bundle (indexed, or loaded eagerly),
 * then the staged extra files. */
static int trust_load_locked(struct bw_x509_trust *t, bool want_index, char *err, size_t errcap)
{
	int rc = BW_ENOMEM;
	size_t in_store = 0;
	X509_STORE *s = X509_STORE_new();
	if (!s) {
		set_err(err, errcap, "%s%s", "out of memory building the trust store", "");
		goto fail;
	}
	if (t->pem) {
		int ir = want_index ? bundle_index(t) : BW_EINVAL;
		if (ir == BW_ENOMEM)
			goto fail;
		if (ir == BW_OK) {
			t->n_system = t->nbc;
		} else {
			ERR_clear_error();
			if (bundle_load_eager(t, s) != BW_OK) {
				set_err(err, errcap, "system CA bundle '%s': %s", t->system_path, ossl_reason());
				ERR_clear_error();
				rc = BW_EINVAL;
				goto fail;
			}
			t->n_system = in_store = store_count(s);
		}
	}
	if (t->staged && store_merge(s, t->staged) != BW_OK) {
		set_err(err, errcap, "%s%s", "out of memory building the trust store", "");
		goto fail;
	}
	t->n_extra = store_count(s) - in_store;
	X509_STORE_free(t->staged);
	t->staged = NULL;
	t->store = s;
	ERR_clear_error();
	return BW_OK;
fail:
	ERR_clear_error();
	X509_STORE_free(s);
	return rc;
}

/*
 * Put in the store every bundle CA a verification of chain could ask for:
 * those whose subject is the subject or the issuer of a presented
 * certificate, and then, transitively, the issuers of those. Bounded: each
 * CA is added once, and the work list holds at most what fits; a name
 * that does not fit makes the store incomplete (no verdict rather than a
 * false "untrusted").
 */
static bool bundle_prepare(const struct bw_x509_trust *ct, X509_STORE *s, X509 *const *chain, size_t n)
{
	struct bw_x509_trust *t = (struct bw_x509_trust *)(uintptr_t)ct; /* the index: under lu_lock */
	bool complete = true;
	if (!t->bc)
		return true;
	const X509_NAME *wanted[64];
	size_t nt = 0;
	for (size_t i = 0; i < n; i++) {
		if (!chain[i])
			continue;
		if (nt + 2 > BW_ARRAY_SIZE(wanted)) {
			complete = false;
			break;
		}
		wanted[nt++] = X509_get_subject_name(chain[i]);
		wanted[nt++] = X509_get_issuer_name(chain[i]);
	}
	pthread_mutex_lock(&t->lu_lock);
	for (size_t k = 0; k < nt; k++) {
		for (size_t i = 0; i < t->nbc; i++) {
			struct bundle_cert *b = &t->bc[i];
			if (b->added || X509_NAME_cmp(b->name, wanted[k]) != 0)
				continue;
			/* It decoded at start-up, so a failure now is an allocation
			 * failing: leave it to be added by a later chain, and say the
			 * store is incomplete (no verdict rather than "untrusted"). */
			const unsigned char *q = b->der;
			X509 *x = d2i_X509(NULL, &q, (long)b->len);
			if (!x) {
				complete = false;
				continue;
			}
			if (X509_STORE_add_cert(s, x) != 1) {
				complete = false;
				X509_free(x);
				continue;
			}
			b->added = true;
			if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(x)) != 0) {
				if (nt < BW_ARRAY_SIZE(wanted))
					wanted[nt++] = X509_get_issuer_name(x); /* the store holds x now, so the name lives */
				else
					complete = false;
			}
			X509_free(x);
		}
	}
	pthread_mutex_unlock(&t->lu_lock);
	ERR_clear_error();
	return complete;
}

/*
 * The store, loaded on first use. A bundle that loaded at start-up checks
 * (it was readable) but fails to load three times is dropped: the extras
 * still judge, as when there is no system bundle at all. NULL while it
 * cannot be built (ENOMEM, or a failed attempt to be retried).
 */
static X509_STORE *trust_store(const struct bw_x509_trust *ct)
{
	struct bw_x509_trust *t = (struct bw_x509_trust *)(uintptr_t)ct; /* lazy fields: under the lock */
	if (atomic_load_explicit(&t->loaded, memory_order_acquire))
		return t->store;
	pthread_mutex_lock(&t->lock);
	if (!atomic_load_explicit(&t->loaded, memory_order_relaxed)) {
		/* Read and checked at start, so a failure here is most likely an
		 * allocation failing inside OpenSSL (which reports it as a PEM
		 * error): try again at the next chains before concluding that the
		 * bundle is bad, or one failed malloc would leave every later chain
		 * untrusted for the rest of the run. */
		if (trust_load_locked(t, true, NULL, 0) == BW_EINVAL && ++t->load_failures >= 3) {
			t->system_failed = true;
			free(t->pem);
			t->pem = NULL;
			t->n_system = 0;
			(void)trust_load_locked(t, false, NULL, 0);
		}
		if (t->store)
			atomic_store_explicit(&t->loaded, true, memory_order_release);
	}
	pthread_mutex_unlock(&t->lock);
	return t->store;
}

#define BUNDLE_MAX (64u << 20) /* a system bundle is about 200 KB */

/* The whole file into *out (NUL-terminated, owned by the caller). */
static int read_bundle(const char *path, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	errno = 0;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return BW_EIO;
	int rc = BW_EIO;
	size_t cap = 256 * 1024, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		rc = BW_ENOMEM;
		goto out;
	}
	for (;;) {
		size_t got = fread(buf + n, 1, cap - n, fp);
		n += got;
		if (n < cap) {
			if (ferror(fp))
				goto out;
			break;
		}
		if (cap >= BUNDLE_MAX) {
			errno = EFBIG;
			goto out;
		}
		char *nb = realloc(buf, 2 * cap + 1);
		if (!nb) {
			rc = BW_ENOMEM;
			goto out;
		}
		buf = nb;
		cap *= 2;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = BW_OK;
out:
	free(buf);
	fclose(fp);
	return rc;
}

struct bw_x509_trust *bw_x509_trust_new_ex(const struct bw_x509_trust_config *c, char *err, size_t errcap)
{
	static const struct bw_x509_trust_config defaults = { 0 };
	if (!c)
		c = &defaults;
	if (err && errcap)
		err[0] = '\0';
	if (c->n_extra && !c->extra_ca_files) {
		set_err(err, errcap, "%s%s", "no CA file list given", "");
		return NULL;
	}
	struct bw_x509_trust *t = calloc(1, sizeof(*t));
	if (!t) {
		set_err(err, errcap, "%s%s", "out of memory building the trust store", "");
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->lu_lock, NULL);
	atomic_init(&t->loaded, false);
	if (!c->no_system) {
		const char *path = c->system_bundle;
		if (!path) {
			const char *env = getenv(X509_get_default_cert_file_env());
			if (env && *env)
				path = env;
			else if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
				path = "/etc/ssl/certs/ca-certificates.crt";
			else
				path = X509_get_default_cert_file();
		}
		if (access(path, R_OK) != 0) {
			if (c->require_system || c->system_bundle) {
				set_err(err, errcap, "system CA bundle '%s': %s", path, strerror(errno));
				goto fail;
			}
		} else if (!(t->system_path = strdup(path))) {
			set_err(err, errcap, "%s%s", "out of memory building the trust store", "");
			goto fail;
		} else {
			int rr = read_bundle(t->system_path, &t->pem, &t->pem_len);
			if (rr == BW_ENOMEM) {
				set_err(err, errcap, "%s%s", "out of memory building the trust store", "");
				goto fail;
			}
			if (rr != BW_OK && (c->require_system || c->system_bundle)) {
				set_err(err, errcap, "system CA bundle '%s': %s", path, strerror(errno ? errno : EIO));
				goto fail;
			}
		}
	}
	if (c->n_extra) {
		if (!(t->staged = X509_STORE_new())) {
			set_err(err, errcap, "%s%s", "out of memory building the trust store", "");
			goto fail;
		}
		for (size_t i = 0; i < c->n_extra; i++) {
			const char *path = c->extra_ca_files[i];
			if (!path || !*path) {
				set_err(err, errcap, "CA file '%s': %s", path ? path : "(null)", "empty file name");
				goto fail;
			}
			if (load_ca_file(t->staged, path, err, errcap) < 0)
				goto fail;
		}
	}
	/* A bundle the user named, or required, must parse: load it now, whole,
	 * so that a bad certificate in it is a start-up error as it always was. */
	if (t->pem && (c->system_bundle || c->require_system)) {
		if (trust_load_locked(t, false, err, errcap) != BW_OK)
			goto fail;
		atomic_store_explicit(&t->loaded, true, memory_order_release);
	}
	ERR_clear_error();
	return t;
fail:
	ERR_clear_error();
	bw_x509_trust_free(t);
	return NULL;
}

struct bw_x509_trust *bw_x509_trust_new(const char *const *extra_ca_files, size_t n, char *err, size_t errcap)
{
	struct bw_x509_trust_config c = { .extra_ca_files = extra_ca_files, .n_extra = n };
	return bw_x509_trust_new_ex(&c, err, errcap);
}

void bw_x509_trust_free(struct bw_x509_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	X509_STORE_free(t->staged);
	for (size_t i = 0; i < t->nbc; i++)
		X509_NAME_free(t->bc[i].name);
	free(t->bc);
	free(t->ders);
	free(t->pem);
	free(t->system_path);
	pthread_mutex_destroy(&t->lu_lock);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void bw_x509_trust_counts(const struct bw_x509_trust *t, size_t *system, size_t *extra)
{
	if (t)
		(void)trust_store(t); /* the counts are of the loaded store */
	if (system)
		*system = t ? t->n_system : 0;
	if (extra)
		*extra = t ? t->n_extra : 0;
}

bool bw_x509_trust_loaded(const struct bw_x509_trust *t)
{
	return t && atomic_load_explicit(&((struct bw_x509_trust *)(uintptr_t)t)->loaded, memory_order_acquire);
}

/* ---- verification ---- */

static const char *const reason_names[BW_X509_REASON__COUNT] = {
	[BW_X509_OK] = "ok",
	[BW_X509_EXPIRED] = "expired",
	[BW_X509_NOT_YET_VALID] = "not_yet_valid",
	[BW_X509_SELF_SIGNED] = "self_signed",
	[BW_X509_SELF_SIGNED_IN_CHAIN] = "self_signed_in_chain",
	[BW_X509_UNKNOWN_ISSUER] = "unknown_issuer",
	[BW_X509_BAD_SIGNATURE] = "bad_signature",
	[BW_X509_BAD_CHAIN_ORDER] = "bad_chain_order",
	[BW_X509_NAME_MISMATCH] = "name_mismatch",
	[BW_X509_BAD_DER] = "bad_der",
	[BW_X509_NO_CERT] = "no_certificate",
	[BW_X509_OTHER] = "other",
};

const char *bw_x509_reason_name(enum bw_x509_reason r)
{
	if ((unsigned)r >= BW_X509_REASON__COUNT)
		return "other";
	return reason_names[r];
}

const char *bw_x509_clock_name(enum bw_x509_clock c) { return c == BW_X509_CLOCK_NOW ? "now" : "capture"; }

static enum bw_x509_reason map_verify_error(int e)
{
	switch (e) {
	case X509_V_OK: return BW_X509_OK;
	case X509_V_ERR_CERT_HAS_EXPIRED: return BW_X509_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID: return BW_X509_NOT_YET_VALID;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: return BW_X509_SELF_SIGNED;
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: return BW_X509_SELF_SIGNED_IN_CHAIN;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return BW_X509_UNKNOWN_ISSUER;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE: return BW_X509_BAD_SIGNATURE;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH: return BW_X509_NAME_MISMATCH;
	default: return BW_X509_OTHER;
	}
}

struct verify_acc {
	int first_err;
	int first_depth;
	uint32_t mask;
	bool oom; /* OpenSSL ran out of memory: no verdict, not "untrusted" */
};

/* Keep going after each error so the verdict lists every problem, not only
 * the first; the first one stays the headline (what OpenSSL would report). */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	if (ok)
		return 1;
	struct verify_acc *acc = X509_STORE_CTX_get_app_data(ctx);
	int e = X509_STORE_CTX_get_error(ctx);
	if (acc && e == X509_V_ERR_OUT_OF_MEM)
		acc->oom = true;
	if (acc && e != X509_V_OK) {
		if (!acc->first_err) {
			acc->first_err = e;
			acc->first_depth = X509_STORE_CTX_get_error_depth(ctx);
		}
		acc->mask |= 1u << map_verify_error(e);
	}
	return 1;
}

static void verdict_init(struct bw_x509_verdict *v, const struct bw_x509_verify_opts *o)
{
	memset(v, 0, sizeof(*v));
	v->chain = BW_X509_OTHER;
	v->chain_depth = -1;
	v->name = BW_X509_OK;
	v->clock = o->clock;
	v->time = o->time;
}

static void verdict_detail(struct bw_x509_verdict *v)
{
	if (v->chain == BW_X509_OTHER && v->openssl_error)
		snprintf(v->detail, sizeof(v->detail), "other: %s", X509_verify_cert_error_string(v->openssl_error));
	else
		snprintf(v->detail, sizeof(v->detail), "%s", bw_x509_reason_name(v->chain));
}

/* Is the presented order leaf, issuer, issuer's issuer...? Compared with the
 * chain OpenSSL built, which it assembles from the presented set in any order. */
static void check_order(X509 *const *chain, size_t n, STACK_OF(X509) *built, struct bw_x509_verdict *v)
{
	int m = built ? sk_X509_num(built) : 0;
	int expect = 1;
	for (size_t i = 1; i < n; i++) {
		int j = -1;
		if (!chain[i])
			continue;
		for (int k = 1; k < m; k++) {
			if (X509_cmp(sk_X509_value(built, k), chain[i]) == 0) {
				j = k;
				break;
			}
		}
		if (j < 0 || j < expect)
			v->extra_certs = true; /* not used, or presented twice */
		else if (j == expect)
			expect++;
		else
			v->misordered = true;
	}
}

enum bw_x509_reason bw_x509_check_name(struct x509_st *x, const char *name, size_t len, bool no_cn_fallback)
{
	if (!x || !name)
		return BW_X509_OTHER;
	if (len && name[len - 1] == '.')
		len--;
	/* a leading dot means "any subdomain" to OpenSSL: no SNI looks like that */
	if (len == 0 || len > BW_X509_MAX_NAME || name[0] == '.' || memchr(name, '\0', len))
		return BW_X509_OTHER;
	char buf[BW_X509_MAX_NAME + 1];
	memcpy(buf, name, len);
	buf[len] = '\0';
	unsigned char ip[16];
	int r;
	if (inet_pton(AF_INET, buf, ip) == 1 || inet_pton(AF_INET6, buf, ip) == 1) {
		r = X509_check_ip_asc(x, buf, 0);
	} else {
		unsigned fl = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
		if (no_cn_fallback)
			fl |= X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
		r = X509_check_host(x, buf, len, fl, NULL);
	}
	if (r < 0)
		ERR_clear_error();
	return r == 1 ? BW_X509_OK : r == 0 ? BW_X509_NAME_MISMATCH : BW_X509_OTHER;
}

int bw_x509_verdict_check_name(struct x509_st *leaf, const struct bw_x509_verify_opts *o,
			       struct bw_x509_verdict *v)
{
	if (!o || !v)
		return BW_EINVAL;
	v->name_checked = false;
	v->name = BW_X509_OK;
	if (!o->name || !(o->name_len || o->name[0]))
		return BW_OK;
	if (!leaf)
		return BW_EINVAL;
	size_t nl = o->name_len ? o->name_len : strlen(o->name);
	v->name_checked = true;
	ERR_clear_error();
	v->name = bw_x509_check_name(leaf, o->name, nl, o->no_cn_fallback);
	/* X509_check_host reads a SAN list it failed to decode as "no match" */
	if (v->name != BW_X509_OK && ossl_out_of_memory()) {
		ERR_clear_error();
		return BW_ENOMEM;
	}
	return BW_OK;
}

/* ---- validity windows ---- */

/* A certificate's validity times in seconds; false if one does not parse. */
static bool cert_times(X509 *x, int64_t *nb, int64_t *na)
{
	struct tm tm;
	return time_secs(X509_get0_notBefore(x), nb, &tm) && time_secs(X509_get0_notAfter(x), na, &tm);
}

/*
 * OpenSSL calls x valid at second s when notBefore <= s < notAfter
 * (X509_cmp_time counts "equal" as "earlier"), so its status changes only
 * at those two instants. Narrow [from, until) to the span around now that
 * contains neither. A time that does not parse is an error at any instant:
 * it adds no boundary.
 */
static void window_add(X509 *x, int64_t now, struct bw_x509_window *w)
{
	int64_t b[2];
	if (!x || !cert_times(x, &b[0], &b[1]))
		return;
	for (int i = 0; i < 2; i++) {
		if (b[i] <= now && b[i] > w->from)
			w->from = b[i];
		else if (b[i] > now && b[i] < w->until)
			w->until = b[i];
	}
}

/* Every certificate whose validity could change the verdict: the presented
 * ones, the chain built, and every store certificate that could stand in for
 * an issuer of either (OpenSSL prefers an issuer that is valid at the time,
 * so a cross-signed twin with other dates could change the chain built). */
static void window_of(X509_STORE_CTX *ctx, X509 *const *chain, size_t n, STACK_OF(X509) *built, int64_t now,
		      struct bw_x509_window *w)
{
	w->from = INT64_MIN;
	w->until = INT64_MAX;
	int m = built ? sk_X509_num(built) : 0;
	size_t total = n + (size_t)(m > 0 ? m : 0);
	for (size_t i = 0; i < total; i++) {
		X509 *x = i < n ? chain[i] : sk_X509_value(built, (int)(i - n));
		if (!x)
			continue;
		window_add(x, now, w);
		STACK_OF(X509) *alts = X509_STORE_CTX_get1_certs(ctx, X509_get_issuer_name(x));
		int na = alts ? sk_X509_num(alts) : 0;
		for (int k = 0; k < na; k++)
			window_add(sk_X509_value(alts, k), now, w);
		sk_X509_pop_free(alts, X509_free);
	}
	ERR_clear_error();
}

static int verify_impl(const struct bw_x509_trust *t, struct x509_st *const *chain, size_t n,
		       const struct bw_x509_verify_opts *o, struct bw_x509_verdict *v, struct bw_x509_window *win)
{
	if (!t || !o || !v || (n && !chain))
		return BW_EINVAL;
	verdict_init(v, o);
	if (win) {
		win->from = INT64_MIN;
		win->until = INT64_MAX;
	}
	if (n == 0 || !chain[0]) {
		v->chain = BW_X509_NO_CERT;
		v->problems = 1u << BW_X509_NO_CERT;
		verdict_detail(v);
		return BW_OK;
	}
	n = BW_MIN(n, (size_t)BW_X509_MAX_CHAIN);
	v->presented = (uint8_t)n;

	int rc = BW_ENOMEM;
	X509_STORE *store = trust_store(t);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_reserve(NULL, (int)n);
	if (!store || !ctx || !untrusted)
		goto out;
	for (size_t i = 1; i < n; i++)
		if (chain[i] && !sk_X509_push(untrusted, chain[i]))
			goto out;
	if (!bundle_prepare(t, store, chain, n))
		goto out; /* rc is BW_ENOMEM */
	/* The store is only read: OpenSSL locks its own lookups. */
	if (!X509_STORE_CTX_init(ctx, store, chain[0], untrusted))
		goto out;
	X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(p, (time_t)(o->time / BW_NSEC_PER_SEC));
	/* a private CA file may hold an intermediate: let it anchor the chain */
	X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_purpose(ctx, o->client ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER);
	struct verify_acc acc = { 0 };
	X509_STORE_CTX_set_app_data(ctx, &acc);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	ERR_clear_error();
	int r = X509_verify_cert(ctx);
	if (acc.oom || X509_STORE_CTX_get_error(ctx) == X509_V_ERR_OUT_OF_MEM || ossl_out_of_memory())
		goto out; /* rc stays BW_ENOMEM: a verdict from a failed allocation would be a false alert */
	if (r < 0 && !acc.first_err)
		acc.first_err = X509_STORE_CTX_get_error(ctx) ? X509_STORE_CTX_get_error(ctx) : X509_V_ERR_UNSPECIFIED;
	v->openssl_error = acc.first_err;
	v->chain = map_verify_error(acc.first_err);
	v->chain_depth = acc.first_err ? acc.first_depth : -1;
	v->problems = acc.mask;
	if (r < 0 && !(v->problems & ~(1u << BW_X509_OK)))
		v->problems |= 1u << v->chain;
	STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
	int bl = built ? sk_X509_num(built) : 0;
	v->built = (uint8_t)BW_MIN(bl > 0 ? bl : 0, 255);
	check_order(chain, n, built, v);
	if (win)
		window_of(ctx, chain, n, built, (int64_t)(o->time / BW_NSEC_PER_SEC), win);
	if (v->misordered) {
		v->problems |= 1u << BW_X509_BAD_CHAIN_ORDER;
		if (o->strict_order && v->chain == BW_X509_OK)
			v->chain = BW_X509_BAD_CHAIN_ORDER;
	}
	if (bw_x509_verdict_check_name(chain[0], o, v) != BW_OK)
		goto out;
	verdict_detail(v);
	rc = BW_OK;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	return rc;
}

int bw_x509_verify(const struct bw_x509_trust *t, struct x509_st *const *chain, size_t n,
		   const struct bw_x509_verify_opts *o, struct bw_x509_verdict *v)
{
	return verify_impl(t, chain, n, o, v, NULL);
}

int bw_x509_verify_window(const struct bw_x509_trust *t, struct x509_st *const *chain, size_t n,
			  const struct bw_x509_verify_opts *o, struct bw_x509_verdict *v, struct bw_x509_window *w)
{
	if (!w)
		return BW_EINVAL;
	return verify_impl(t, chain, n, o, v, w);
}

int bw_x509_verify_der(const struct bw_x509_trust *t, const uint8_t *const *der, const size_t *len, size_t n,
		       const struct bw_x509_verify_opts *o, struct bw_x509_verdict *v, struct bw_anomalies *an)
{
	if (!t || !o || !v || (n && (!der || !len)))
		return BW_EINVAL;
	n = BW_MIN(n, (size_t)BW_X509_MAX_CHAIN);
	X509 *xs[BW_X509_MAX_CHAIN] = { 0 };
	size_t k = 0;
	bool bad = false, bad_leaf = false;
	for (size_t i = 0; i < n; i++) {
		X509 *x = NULL;
		int rc = bw_x509_parse(der[i], len[i], &x, NULL);
		if (rc == BW_ENOMEM || rc == BW_EINVAL) {
			for (size_t j = 0; j < k; j++)
				X509_free(xs[j]);
			return rc;
		}
		if (rc != BW_OK) {
			bw_anomaly(an, BW_AN_X509_BAD_DER);
			bad = true;
			if (i == 0)
				bad_leaf = true;
			continue;
		}
		xs[k++] = x;
	}
	int rc = BW_OK;
	if (bad_leaf) {
		verdict_init(v, o);
		v->chain = BW_X509_BAD_DER;
		v->problems = 1u << BW_X509_BAD_DER;
		v->presented = (uint8_t)n;
		verdict_detail(v);
	} else {
		rc = bw_x509_verify(t, xs, k, o, v);
		if (rc == BW_OK && bad) {
			v->problems |= 1u << BW_X509_BAD_DER;
			v->presented = (uint8_t)n;
		}
	}
	for (size_t j = 0; j < k; j++)
		X509_free(xs[j]);
	return rc;
}
