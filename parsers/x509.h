/* SPDX-License-Identifier: MIT */
/*
 * x509.h: X.509 certificates with OpenSSL 3: decode the fields a sensor
 * reports, fingerprint them, validate a presented chain as of the packet's
 * capture time, and check a certificate against the SNI.
 *
 * Decoding: bw_x509_decode() (or bw_x509_parse() + bw_x509_decode_x509())
 * fills a caller-owned struct bw_x509_info. Its strings live in a caller-owned
 * struct bw_x509_arena and stay valid until the arena is decoded into again;
 * a string pointer is never NULL ("" when absent). Every string that comes
 * from the certificate is escaped for safety: control characters (C0, DEL,
 * C1), bidirectional overrides, line/paragraph separators and bytes that are
 * not valid UTF-8 become \xHH (one per byte); in the ECS form and the single
 * fields a backslash is written "\\" so every escape is unambiguous. The
 * RFC 2253 form keeps OpenSSL's own escaping (\, \+ \" \\ \HH), which is what
 * Zeek prints. Quotes and separators are left alone: the output writer
 * escapes for its own format (JSON, CEF, syslog). The arena is bounded: what does not fit is cut at an escape
 * boundary and info->text_truncated is set. Allocate the arena once per
 * worker (it is large) or use the certificate cache (certcache.h), which
 * keeps one compact copy per distinct certificate.
 *
 * Validation: build one struct bw_x509_trust per process (system CA bundle
 * plus the configured private CA files); it may be used by every worker at
 * once. The system bundle is read on the first verification (once, under a
 * lock, then shared), so a run without certificate chains never pays for it. bw_x509_verify() judges a chain as presented
 * (leaf first, the rest in any order, extra certificates allowed) at the time
 * the caller passes, normally the capture time; the verdict says which clock
 * judged it. The chain verdict and the name check are separate results.
 */
#ifndef BW_X509_H
#define BW_X509_H

#include "../sensor/bw.h"
#include "anomaly.h"

struct x509_st; /* OpenSSL's X509, so callers need not include OpenSSL headers */

#define BW_X509_MAX_DER (1u << 24)    /* a TLS certificate_list entry is at most 2^24-1 bytes */
#define BW_X509_MAX_SANS 512          /* SAN entries kept; more are counted (san_total) */
#define BW_X509_ARENA_SIZE 65536      /* escaped text (and the SAN array) per certificate */
#define BW_X509_MAX_CHAIN 16          /* certificates bw_x509_verify looks at; more are ignored */
#define BW_X509_MAX_NAME 253          /* longest host name bw_x509_check_name accepts */

/* Where a decoded certificate's strings live. Decoding resets it. */
struct bw_x509_arena {
	size_t used;
	_Alignas(void *) char buf[BW_X509_ARENA_SIZE];
};

/* One distinguished name, in both printed forms, and its common parts. */
struct bw_x509_name {
	/* ECS / Suricata / nDPI form, the default: attributes in certificate
	 * (DER) order, ", " between RDNs, " + " inside a multi-valued RDN:
	 * "C=US, O=Example, Inc., CN=www.example.com". */
	const char *dn;
	/* Zeek form: RFC 2253 (reversed order, "," separator, RFC 2253 escapes):
	 * "CN=www.example.com,O=Example\, Inc.,C=US". */
	const char *dn_rfc2253;
	/* The most specific (last in DER order) value of each attribute, "" if absent. */
	const char *cn, *o, *ou, *c, *st, *l;
};

enum bw_x509_san_type { BW_X509_SAN_DNS = 1, BW_X509_SAN_IP = 2, BW_X509_SAN_EMAIL = 3, BW_X509_SAN_URI = 4 };

struct bw_x509_san {
	enum bw_x509_san_type type;
	const char *value; /* escaped; IP as inet_ntop text ("192.0.2.1", "2001:db8::1") */
};

enum bw_x509_key_type {
	BW_X509_KEY_UNKNOWN = 0,
	BW_X509_KEY_RSA,
	BW_X509_KEY_RSA_PSS,
	BW_X509_KEY_DSA,
	BW_X509_KEY_EC,
	BW_X509_KEY_ED25519,
	BW_X509_KEY_ED448,
	BW_X509_KEY_OTHER,
};

/* Key usage bits (RFC 5280 KeyUsage, OpenSSL's KU_* values). */
#define BW_X509_KU_DIGITAL_SIGNATURE 0x0080u
#define BW_X509_KU_NON_REPUDIATION 0x0040u
#define BW_X509_KU_KEY_ENCIPHERMENT 0x0020u
#define BW_X509_KU_DATA_ENCIPHERMENT 0x0010u
#define BW_X509_KU_KEY_AGREEMENT 0x0008u
#define BW_X509_KU_KEY_CERT_SIGN 0x0004u
#define BW_X509_KU_CRL_SIGN 0x0002u
#define BW_X509_KU_ENCIPHER_ONLY 0x0001u
#define BW_X509_KU_DECIPHER_ONLY 0x8000u
/* Extended key usage bits (OpenSSL's XKU_* values). */
#define BW_X509_EKU_SERVER_AUTH 0x0001u
#define BW_X509_EKU_CLIENT_AUTH 0x0002u
#define BW_X509_EKU_EMAIL 0x0004u
#define BW_X509_EKU_CODE_SIGNING 0x0008u
#define BW_X509_EKU_OCSP_SIGNING 0x0020u
#define BW_X509_EKU_TIME_STAMPING 0x0040u
#define BW_X509_EKU_ANY 0x0100u

struct bw_x509_info {
	int version; /* as printed: 1, 2 or 3 */
	size_t der_len;
	size_t trailing; /* bytes after the certificate's DER (decoded anyway, counted as x509.bad_der) */

	/* Fingerprints. Hex is lower case (as Zeek, Arkime and nDPI print it). */
	uint8_t sha256[32], sha1[20];
	char sha256_hex[65], sha1_hex[41];
	/* SHA-256 of the DER SubjectPublicKeyInfo: the key pin (RFC 7469). */
	uint8_t spki_sha256[32];
	char spki_sha256_hex[65], spki_sha256_b64[45];

	/* Serial. serial: magnitude, upper-case hex, no colons, "-" if negative
	 * (Zeek, ECS: "8A07E08D4AB50A7B"). serial_colon: the DER content octets,
	 * upper case, colon separated, sign octet kept (Suricata:
	 * "00:8A:07:E0:8D:4A:B5:0A:7B"; Arkime prints these octets in lower case
	 * without colons). */
	const char *serial, *serial_colon;

	struct bw_x509_name subject, issuer;

	/* Validity (UTCTime or GeneralizedTime). Seconds are signed (dates before
	 * 1970 exist: sv-tls-pre-1970); the bw_time_t copies are clamped to
	 * [0, UINT64_MAX]. ISO-8601 UTC "2015-01-31T02:18:29Z"; "" and
	 * times_ok = false if a time does not parse. */
	int64_t not_before_s, not_after_s;
	bw_time_t not_before, not_after;
	char not_before_iso[24], not_after_iso[24];
	bool times_ok;

	/* Algorithms. sig_alg and key_alg are the OID long names Zeek prints
	 * ("sha256WithRSAEncryption", "ecdsa-with-SHA256", "rsaEncryption",
	 * "id-ecPublicKey"), or the dotted OID. sig_alg_ecs is the ECS / Go name
	 * ("SHA256-RSA", "ECDSA-SHA256", "SHA256-RSAPSS", "Ed25519"), or sig_alg
	 * when there is none. key_type_name: "RSA", "RSA-PSS", "DSA", "EC",
	 * "Ed25519", "Ed448", or "" (unknown). */
	const char *sig_alg, *sig_alg_ecs, *key_alg, *key_type_name;
	enum bw_x509_key_type key_type;
	int key_bits;            /* 0 if unknown */
	const char *curve;       /* EC group ("prime256v1", "secp384r1"), "" otherwise */
	uint64_t rsa_exponent;   /* 0 if not RSA or larger than 64 bits */

	/* Extensions. */
	bool has_basic_constraints, is_ca;
	int path_len;            /* -1: no pathLenConstraint */
	bool has_key_usage, has_ext_key_usage;
	uint32_t key_usage;      /* BW_X509_KU_* */
	uint32_t ext_key_usage;  /* BW_X509_EKU_* */
	const char *key_usage_text;     /* "digitalSignature,keyEncipherment", "" if absent */
	const char *ext_key_usage_text; /* "serverAuth,clientAuth", "" if absent */
	bool ext_invalid;        /* OpenSSL found the extensions inconsistent (e.g. duplicates) */
	bool self_issued;        /* subject == issuer */
	bool self_signed;        /* self-issued and the signature verifies with its own key */

	/* Subject alternative names (DNS, IP, email, URI; other kinds are
	 * skipped), in certificate order. san_total counts every one seen;
	 * san_truncated when some were not kept. */
	const struct bw_x509_san *san;
	uint32_t san_count, san_total;
	bool san_truncated;

	bool text_truncated;     /* the arena ran out: some string was cut */
};

/*
 * Parse one DER certificate with OpenSSL (d2i_X509). *out is owned by the
 * caller (bw_x509_free). Returns BW_OK, BW_ETRUNC (the outer SEQUENCE claims
 * more bytes than there are), BW_EMALF (anything else that does not parse),
 * BW_ELIMIT (n > BW_X509_MAX_DER), BW_EINVAL. Trailing bytes after the
 * certificate are allowed; *consumed (may be NULL) says where it ended.
 */
int bw_x509_parse(const uint8_t *der, size_t n, struct x509_st **out, size_t *consumed);
void bw_x509_free(struct x509_st *x);

/*
 * Fill info from a parsed certificate. der/n are the bytes it came from (the
 * fingerprints are over them). sha256 may give their SHA-256 if the caller
 * already has it (the cache does), or be NULL. Strings go into arena (reset
 * first). Returns BW_OK or BW_EINVAL; an unparseable field is left empty.
 */
int bw_x509_decode_x509(struct x509_st *x, const uint8_t *der, size_t n, const uint8_t *sha256,
			struct bw_x509_info *info, struct bw_x509_arena *arena);

/*
 * Parse and decode in one step. On error (see bw_x509_parse) info is zeroed
 * with empty strings and x509.bad_der is counted in an (may be NULL); a
 * certificate with trailing bytes decodes, with the same count.
 */
int bw_x509_decode(const uint8_t *der, size_t n, struct bw_x509_info *info, struct bw_x509_arena *arena,
		   struct bw_anomalies *an);

/*
 * Copy info, whose strings live in arena, into dst with its strings in text
 * (cap bytes, at least arena->used; alignment of a pointer). Pointers into
 * the arena are rebased; static strings are kept. Returns BW_OK or BW_ENOMEM
 * (text too small).
 */
int bw_x509_info_copy(const struct bw_x509_info *info, const struct bw_x509_arena *arena,
		      struct bw_x509_info *dst, char *text, size_t cap);

/* SHA-256 of p[0..n). */
void bw_x509_sha256(const uint8_t *p, size_t n, uint8_t out[32]);

/* ---- validation ---- */

/* Why a chain or a name did not pass. The names are stable (events use them). */
enum bw_x509_reason {
	BW_X509_OK = 0,              /* "ok" */
	BW_X509_EXPIRED,             /* "expired": some certificate's notAfter is before the time */
	BW_X509_NOT_YET_VALID,       /* "not_yet_valid" */
	BW_X509_SELF_SIGNED,         /* "self_signed": the leaf is self-signed and not trusted */
	BW_X509_SELF_SIGNED_IN_CHAIN,/* "self_signed_in_chain": an untrusted root was presented */
	BW_X509_UNKNOWN_ISSUER,      /* "unknown_issuer": no path to a trusted CA */
	BW_X509_BAD_SIGNATURE,       /* "bad_signature" */
	BW_X509_BAD_CHAIN_ORDER,     /* "bad_chain_order": presented order is not leaf, issuer, ... */
	BW_X509_NAME_MISMATCH,       /* "name_mismatch": the leaf does not cover the SNI */
	BW_X509_BAD_DER,             /* "bad_der": a presented certificate does not parse */
	BW_X509_NO_CERT,             /* "no_certificate": empty chain */
	BW_X509_OTHER,               /* "other": see verdict.detail */
	BW_X509_REASON__COUNT
};

/* Stable name of a reason ("unknown_issuer"). */
const char *bw_x509_reason_name(enum bw_x509_reason r);

/* Which clock judged a chain. */
enum bw_x509_clock { BW_X509_CLOCK_CAPTURE = 0, BW_X509_CLOCK_NOW = 1 };
const char *bw_x509_clock_name(enum bw_x509_clock c); /* "capture", "now" */

struct bw_x509_trust_config {
	const char *const *extra_ca_files; /* PEM (one or more certificates) or DER files */
	size_t n_extra;
	const char *system_bundle;  /* NULL: $SSL_CERT_FILE, then /etc/ssl/certs/ca-certificates.crt,
				     * then OpenSSL's default file */
	bool no_system;             /* trust only the extra files */
	bool require_system;        /* a missing system bundle is an error (default: trust what loads) */
};

struct bw_x509_trust;

/*
 * Build the trust store once: the system bundle is read into memory (no
 * per-verification file lookups) plus every extra CA file. On failure
 * returns NULL and writes a message naming the file and the problem into
 * err (errcap bytes, may be 0).
 */
struct bw_x509_trust *bw_x509_trust_new(const char *const *extra_ca_files, size_t n, char *err, size_t errcap);
struct bw_x509_trust *bw_x509_trust_new_ex(const struct bw_x509_trust_config *c, char *err, size_t errcap);
void bw_x509_trust_free(struct bw_x509_trust *t);
/* Certificates loaded from the system bundle and from the extra files (loads the store if not yet). */
void bw_x509_trust_counts(const struct bw_x509_trust *t, size_t *system, size_t *extra);
/* Has the store been loaded (by a verification, bw_x509_trust_counts, or at
 * start because a named or required system bundle is checked eagerly)? */
bool bw_x509_trust_loaded(const struct bw_x509_trust *t);

struct bw_x509_verify_opts {
	bw_time_t time;             /* judge validity as of this instant (ns) */
	enum bw_x509_clock clock;   /* which clock time came from; echoed in the verdict */
	const char *name;           /* SNI to check the leaf against; NULL or "" = no name check */
	size_t name_len;            /* 0: strlen(name) */
	bool client;                /* a client certificate chain (purpose sslclient, not sslserver) */
	bool strict_order;          /* a misordered chain gets chain = BAD_CHAIN_ORDER when otherwise ok */
	bool no_cn_fallback;        /* never match the name against the subject CN */
};

struct bw_x509_verdict {
	enum bw_x509_reason chain;  /* the first problem OpenSSL met building/verifying, or OK */
	int chain_depth;            /* certificate the chain verdict is about (0 = leaf), -1 if none */
	uint32_t problems;          /* 1u << reason, for every problem met anywhere in the chain */
	int openssl_error;          /* X509_V_ERR_* behind chain, 0 if OK */
	char detail[128];           /* "ok", the reason name, or "other: <OpenSSL's reason>" */
	bool name_checked;
	enum bw_x509_reason name;   /* OK, NAME_MISMATCH or OTHER (unusable name); OK if not checked */
	bool misordered;            /* the presented order is not leaf, issuer, issuer's issuer... */
	bool extra_certs;           /* presented certificates the built chain does not use */
	uint8_t presented;          /* certificates looked at (<= BW_X509_MAX_CHAIN) */
	uint8_t built;              /* length of the chain OpenSSL built (with the trust anchor) */
	enum bw_x509_clock clock;
	bw_time_t time;
};

/*
 * Verify chain[0..n) (chain[0] is the leaf) against t as of o->time and, if
 * o->name is set, check the leaf against it. The certificates are borrowed
 * (OpenSSL caches extension data in them, so they are not const). Returns
 * BW_OK when a verdict was reached (v says what it is), BW_EINVAL, or
 * BW_ENOMEM. Thread-safe for concurrent calls on the same trust store.
 */
int bw_x509_verify(const struct bw_x509_trust *t, struct x509_st *const *chain, size_t n,
		   const struct bw_x509_verify_opts *o, struct bw_x509_verdict *v);

/*
 * The judging times (capture seconds, as OpenSSL compares them) over which
 * a verdict stays the same: from <= s < until. Every certificate that could
 * take part (the presented ones, the chain built, store certificates that
 * could stand in for an issuer) is valid, or not, for the whole window, and
 * nothing else in a verdict depends on the time. INT64_MIN / INT64_MAX when
 * unbounded.
 */
struct bw_x509_window {
	int64_t from, until;
};

/* bw_x509_verify, and the window over which its verdict holds (for a verdict
 * cache: certcache.h). Same returns; w is required. */
int bw_x509_verify_window(const struct bw_x509_trust *t, struct x509_st *const *chain, size_t n,
			  const struct bw_x509_verify_opts *o, struct bw_x509_verdict *v, struct bw_x509_window *w);

/* The same from DER blobs (parsed here; a bad one gives chain = BAD_DER). */
int bw_x509_verify_der(const struct bw_x509_trust *t, const uint8_t *const *der, const size_t *len, size_t n,
		       const struct bw_x509_verify_opts *o, struct bw_x509_verdict *v, struct bw_anomalies *an);

/*
 * Does the certificate cover name (an SNI: a host name, or an IPv4/IPv6
 * literal, checked against IP SANs)? One trailing dot is ignored. A wildcard
 * covers exactly one whole left-most label: *.example.com matches
 * a.example.com, not a.b.example.com nor example.com, and partial wildcards
 * (w*.example.com) match nothing. The subject CN is consulted only when the
 * certificate has no DNS SAN, unless no_cn_fallback. Returns BW_X509_OK,
 * BW_X509_NAME_MISMATCH, or BW_X509_OTHER for an unusable name (empty, too
 * long, NUL inside) or an internal error.
 */
enum bw_x509_reason bw_x509_check_name(struct x509_st *x, const char *name, size_t len, bool no_cn_fallback);

/*
 * The name half of a verdict: set v->name_checked and v->name for leaf
 * against o->name (o->name_len, o->no_cn_fallback), as bw_x509_verify does;
 * no name in o clears them. The chain half of v is left alone, so a chain
 * verdict reached without a name (and cached: certcache.h) can be completed
 * for each handshake's SNI. Returns BW_OK, BW_EINVAL (no leaf for a name),
 * or BW_ENOMEM (the name could not be judged).
 */
int bw_x509_verdict_check_name(struct x509_st *leaf, const struct bw_x509_verify_opts *o,
			       struct bw_x509_verdict *v);

#endif /* BW_X509_H */
