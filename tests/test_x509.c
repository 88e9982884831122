/* SPDX-License-Identifier: MIT */
/*
 * test_x509.c: certificate decoding, chain validation and name checks.
 * Certificates are made at test time by tools/certgen.sh (fixed dates, so the
 * verdicts are judged at fixed times); real ones come from the external
 * captures through tshark and are compared with what Zeek, Suricata, Arkime
 * and nDPI reported for them (EXPECTED.tsv, x509.log).
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "parsers/x509.h"

#define EXT "/work/shared/pcaps/external/"
#define T2030 ((bw_time_t)1893456000 * BW_NSEC_PER_SEC) /* 2030-01-01 */
#define DAY ((bw_time_t)86400 * BW_NSEC_PER_SEC)

static char certdir[64];
static bool have_certs;
static struct bw_x509_trust *trust_priv; /* system + root.pem + privca.pem */
static struct bw_x509_trust *trust_sys;  /* system only */
static struct bw_x509_arena arena;

static bool file_exists(const char *p) { return access(p, R_OK) == 0; }

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(fp);
	*len = n;
	return buf;
}

static uint8_t *cert_der(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", certdir, name);
	uint8_t *d = read_file(path, len);
	assert_non_null(d);
	return d;
}

static struct x509_st *cert(const char *name)
{
	size_t n;
	uint8_t *d = cert_der(name, &n);
	struct x509_st *x = NULL;
	assert_int_equal(bw_x509_parse(d, n, &x, NULL), BW_OK);
	free(d);
	return x;
}

static int group_setup(void **state)
{
	(void)state;
	const char *gen = file_exists("tools/certgen.sh") ? "tools/certgen.sh" : NULL;
	if (!gen || system("command -v openssl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_x509: %s: certificate tests skipped\n",
			gen ? "openssl command not found" : "tools/certgen.sh not found (run from the tree root)");
		return 0;
	}
	snprintf(certdir, sizeof(certdir), "/tmp/bw-test-x509-XXXXXX");
	if (!mkdtemp(certdir))
		return -1;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "%s %s", gen, certdir);
	if (system(cmd) != 0)
		return -1;
	char root[128], priv[128], err[256];
	snprintf(root, sizeof(root), "%s/root.pem", certdir);
	snprintf(priv, sizeof(priv), "%s/privca.pem", certdir);
	const char *files[] = { root, priv };
	trust_priv = bw_x509_trust_new(files, 2, err, sizeof(err));
	if (!trust_priv) {
		fprintf(stderr, "trust: %s\n", err);
		return -1;
	}
	trust_sys = bw_x509_trust_new(NULL, 0, err, sizeof(err));
	if (!trust_sys)
		return -1;
	have_certs = true;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	bw_x509_trust_free(trust_priv);
	bw_x509_trust_free(trust_sys);
	if (certdir[0] && strncmp(certdir, "/tmp/bw-test-x509-", 18) == 0) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

#define NEED_CERTS()                  \
	do {                          \
		if (!have_certs)      \
			skip();       \
	} while (0)

/* Verify the named DER files (leaf first) at time t against tr. */
static struct bw_x509_verdict verify_names(const struct bw_x509_trust *tr, bw_time_t t, const char *sni,
					   bool strict, const char *const *names, size_t n)
{
	struct x509_st *xs[16] = { 0 };
	for (size_t i = 0; i < n; i++)
		xs[i] = cert(names[i]);
	struct bw_x509_verify_opts o = { .time = t, .name = sni, .strict_order = strict };
	struct bw_x509_verdict v;
	assert_int_equal(bw_x509_verify(tr, xs, n, &o, &v), BW_OK);
	for (size_t i = 0; i < n; i++)
		bw_x509_free(xs[i]);
	return v;
}

#define VERIFY(tr, t, sni, strict, ...)                                                   \
	({                                                                                \
		const char *const names_[] = { __VA_ARGS__ };                             \
		verify_names(tr, t, sni, strict, names_, sizeof(names_) / sizeof(*names_)); \
	})

#define HAS(v, r) (((v).problems >> (r)) & 1u)

static void test_valid_chain_private_ca(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_verdict v = VERIFY(trust_priv, T2030, "www.example.com", false, "leaf-valid.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK);
	assert_int_equal(v.problems, 0);
	assert_string_equal(v.detail, "ok");
	assert_true(v.name_checked);
	assert_int_equal(v.name, BW_X509_OK);
	assert_false(v.misordered);
	assert_false(v.extra_certs);
	assert_int_equal(v.built, 3);
	assert_int_equal(v.presented, 2);
	assert_int_equal(v.clock, BW_X509_CLOCK_CAPTURE);
	assert_int_equal(v.time, T2030);

	/* signed directly by the second private CA */
	v = VERIFY(trust_priv, T2030, "priv.example.com", false, "leaf-priv.der");
	assert_int_equal(v.chain, BW_X509_OK);
	assert_int_equal(v.name, BW_X509_OK);
	assert_int_equal(v.built, 2);
}

static void test_unknown_issuer(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_verdict v = VERIFY(trust_sys, T2030, "www.example.com", false, "leaf-valid.der", "int.der");
	assert_int_equal(v.chain, BW_X509_UNKNOWN_ISSUER);
	assert_string_equal(v.detail, "unknown_issuer");
	assert_int_equal(v.chain_depth, 1);
	assert_int_equal(v.name, BW_X509_OK); /* the name check is separate */
	v = VERIFY(trust_sys, T2030, NULL, false, "leaf-priv.der");
	assert_int_equal(v.chain, BW_X509_UNKNOWN_ISSUER);
	assert_int_equal(v.chain_depth, 0);
	assert_false(v.name_checked);
	/* intermediate missing even with the root trusted */
	v = VERIFY(trust_priv, T2030, NULL, false, "leaf-valid.der");
	assert_int_equal(v.chain, BW_X509_UNKNOWN_ISSUER);
}

static void test_expired_and_capture_clock(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_verdict v = VERIFY(trust_priv, T2030, "www.example.com", false, "leaf-expired.der", "int.der");
	assert_int_equal(v.chain, BW_X509_EXPIRED);
	assert_int_equal(v.chain_depth, 0);
	assert_string_equal(v.detail, "expired");
	/* judged as of 2016-06-01 (a capture from that day) the same chain is fine */
	bw_time_t t2016 = (bw_time_t)1464739200 * BW_NSEC_PER_SEC;
	v = VERIFY(trust_priv, t2016, "www.example.com", false, "leaf-expired.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK);
	/* and one second after notAfter (2017-01-01) it is not */
	v = VERIFY(trust_priv, (bw_time_t)1483228801 * BW_NSEC_PER_SEC, NULL, false, "leaf-expired.der", "int.der");
	assert_int_equal(v.chain, BW_X509_EXPIRED);
	v = VERIFY(trust_priv, (bw_time_t)1483228799 * BW_NSEC_PER_SEC, NULL, false, "leaf-expired.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK);

	/* the clock is echoed */
	struct x509_st *xs[2] = { cert("leaf-valid.der"), cert("int.der") };
	struct bw_x509_verify_opts o = { .time = T2030, .clock = BW_X509_CLOCK_NOW };
	assert_int_equal(bw_x509_verify(trust_priv, xs, 2, &o, &v), BW_OK);
	assert_int_equal(v.clock, BW_X509_CLOCK_NOW);
	assert_string_equal(bw_x509_clock_name(v.clock), "now");
	assert_string_equal(bw_x509_clock_name(BW_X509_CLOCK_CAPTURE), "capture");
	bw_x509_free(xs[0]);
	bw_x509_free(xs[1]);
}

static void test_not_yet_valid(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_verdict v = VERIFY(trust_priv, T2030, NULL, false, "leaf-future.der", "int.der");
	assert_int_equal(v.chain, BW_X509_NOT_YET_VALID);
	assert_int_equal(v.chain_depth, 0);
	/* in 2099 the leaf is valid, but the intermediate (to 2044) has expired */
	v = VERIFY(trust_priv, (bw_time_t)4086000000ULL * BW_NSEC_PER_SEC, NULL, false, "leaf-future.der", "int.der");
	assert_int_equal(v.chain, BW_X509_EXPIRED);
	assert_int_equal(v.chain_depth, 2); /* OpenSSL checks times from the root down */
	assert_false(HAS(v, BW_X509_NOT_YET_VALID));
}

static void test_self_signed(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_verdict v = VERIFY(trust_priv, T2030, "www.example.com", false, "selfsigned.der");
	assert_int_equal(v.chain, BW_X509_SELF_SIGNED);
	assert_string_equal(v.detail, "self_signed");
	assert_int_equal(v.name, BW_X509_OK);
	/* an untrusted root presented in the chain */
	v = VERIFY(trust_sys, T2030, NULL, false, "leaf-valid.der", "int.der", "root.der");
	assert_int_equal(v.chain, BW_X509_SELF_SIGNED_IN_CHAIN);
	/* the same root trusted: fine, and presenting it is not "extra" */
	v = VERIFY(trust_priv, T2030, NULL, false, "leaf-valid.der", "int.der", "root.der");
	assert_int_equal(v.chain, BW_X509_OK);
	assert_false(v.extra_certs);
	assert_false(v.misordered);
}

static void test_wrong_name(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_verdict v = VERIFY(trust_priv, T2030, "www.example.com", false, "leaf-wrongname.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK); /* chain and name are separate verdicts */
	assert_true(v.name_checked);
	assert_int_equal(v.name, BW_X509_NAME_MISMATCH);
	assert_string_equal(bw_x509_reason_name(v.name), "name_mismatch");
	v = VERIFY(trust_priv, T2030, "other.example.net", false, "leaf-wrongname.der", "int.der");
	assert_int_equal(v.name, BW_X509_OK);
}

static enum bw_x509_reason name_is(struct x509_st *x, const char *name)
{
	return bw_x509_check_name(x, name, strlen(name), false);
}

static void test_wildcard_one_label(void **state)
{
	(void)state;
	NEED_CERTS();
	struct x509_st *x = cert("leaf-wildcard.der");
	assert_int_equal(name_is(x, "a.example.com"), BW_X509_OK);
	assert_int_equal(name_is(x, "WWW.Example.COM"), BW_X509_OK);
	assert_int_equal(name_is(x, "a.example.com."), BW_X509_OK);
	assert_int_equal(name_is(x, "a.b.example.com"), BW_X509_NAME_MISMATCH);
	assert_int_equal(name_is(x, "example.com"), BW_X509_NAME_MISMATCH);
	/* OpenSSL reads a leading dot as "any subdomain": not a valid SNI */
	assert_int_equal(name_is(x, ".example.com"), BW_X509_OTHER);
	assert_int_equal(name_is(x, "a.example.org"), BW_X509_NAME_MISMATCH);
	assert_int_equal(name_is(x, "aexample.com"), BW_X509_NAME_MISMATCH);
	/* unusable names */
	assert_int_equal(bw_x509_check_name(x, "", 0, false), BW_X509_OTHER);
	assert_int_equal(bw_x509_check_name(x, "a.exa\0mple.com", 14, false), BW_X509_OTHER);
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	assert_int_equal(bw_x509_check_name(x, longname, sizeof(longname), false), BW_X509_OTHER);
	assert_int_equal(bw_x509_check_name(NULL, "a", 1, false), BW_X509_OTHER);
	/* the SNI need not be NUL-terminated */
	assert_int_equal(bw_x509_check_name(x, "a.example.comXXXX", 13, false), BW_X509_OK);
	bw_x509_free(x);

	x = cert("leaf-valid.der");
	assert_int_equal(name_is(x, "www.example.com"), BW_X509_OK);
	assert_int_equal(name_is(x, "example.com"), BW_X509_OK);
	assert_int_equal(name_is(x, "x.www.example.com"), BW_X509_NAME_MISMATCH);
	bw_x509_free(x);

	/* CN fallback only without DNS SANs, and only if allowed */
	x = cert("leaf-evil.der");
	assert_int_equal(bw_x509_check_name(x, "\xc3\xa9vil.example.com", 17, false), BW_X509_OK);
	assert_int_equal(bw_x509_check_name(x, "\xc3\xa9vil.example.com", 17, true), BW_X509_NAME_MISMATCH);
	bw_x509_free(x);
	x = cert("leaf-wrongname.der"); /* CN=SAN=other.example.net */
	assert_int_equal(name_is(x, "other.example.net"), BW_X509_OK);
	assert_int_equal(bw_x509_check_name(x, "other.example.net", 17, true), BW_X509_OK);
	bw_x509_free(x);
}

static void test_ip_san(void **state)
{
	(void)state;
	NEED_CERTS();
	struct x509_st *x = cert("leaf-ip.der");
	assert_int_equal(name_is(x, "192.0.2.10"), BW_X509_OK);
	assert_int_equal(name_is(x, "2001:db8::10"), BW_X509_OK);
	assert_int_equal(name_is(x, "2001:DB8:0:0::10"), BW_X509_OK);
	assert_int_equal(name_is(x, "192.0.2.11"), BW_X509_NAME_MISMATCH);
	assert_int_equal(name_is(x, "2001:db8::11"), BW_X509_NAME_MISMATCH);
	assert_int_equal(name_is(x, "www.example.com"), BW_X509_NAME_MISMATCH);
	bw_x509_free(x);
	x = cert("leaf-valid.der"); /* IP:192.0.2.1 */
	assert_int_equal(name_is(x, "192.0.2.1"), BW_X509_OK);
	assert_int_equal(name_is(x, "192.0.2.10"), BW_X509_NAME_MISMATCH);
	bw_x509_free(x);
	struct bw_x509_verdict v = VERIFY(trust_priv, T2030, "192.0.2.10", false, "leaf-ip.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK);
	assert_int_equal(v.name, BW_X509_OK);
}

static void test_bad_signature(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_verdict v = VERIFY(trust_priv, T2030, "www.example.com", false, "leaf-badsig.der", "int.der");
	assert_int_equal(v.chain, BW_X509_BAD_SIGNATURE);
	assert_int_equal(v.chain_depth, 0);
	assert_string_equal(v.detail, "bad_signature");
}

static void test_chain_order(void **state)
{
	(void)state;
	NEED_CERTS();
	/* misordered: OpenSSL repairs it, we say so */
	struct bw_x509_verdict v = VERIFY(trust_priv, T2030, "deep.example.com", false, "deep-leaf.der",
					  "deep-int1.der", "deep-int3.der", "deep-int2.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK);
	assert_true(v.misordered);
	assert_true(HAS(v, BW_X509_BAD_CHAIN_ORDER));
	assert_int_equal(v.name, BW_X509_OK);
	v = VERIFY(trust_priv, T2030, NULL, true, "deep-leaf.der", "deep-int1.der", "deep-int3.der", "deep-int2.der",
		   "int.der");
	assert_int_equal(v.chain, BW_X509_BAD_CHAIN_ORDER);
	assert_string_equal(v.detail, "bad_chain_order");
	/* in order: not flagged even when strict */
	v = VERIFY(trust_priv, T2030, NULL, true, "deep-leaf.der", "deep-int3.der", "deep-int2.der", "deep-int1.der",
		   "int.der");
	assert_int_equal(v.chain, BW_X509_OK);
	assert_false(v.misordered);
	/* an unrelated extra certificate is "extra", not misordered */
	v = VERIFY(trust_priv, T2030, NULL, false, "leaf-valid.der", "leaf-rsa.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK);
	assert_true(v.extra_certs);
	assert_false(v.misordered);
	/* the same certificate twice */
	v = VERIFY(trust_priv, T2030, NULL, false, "leaf-valid.der", "int.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK);
	assert_true(v.extra_certs);
}

static void test_deep_chain(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_verdict v = VERIFY(trust_priv, T2030, "deep.example.com", false, "deep-leaf.der",
					  "deep-int3.der", "deep-int2.der", "deep-int1.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK);
	assert_int_equal(v.built, 6);
	assert_int_equal(v.name, BW_X509_OK);
	/* a missing link in the middle */
	v = VERIFY(trust_priv, T2030, NULL, false, "deep-leaf.der", "deep-int3.der", "deep-int1.der", "int.der");
	assert_int_equal(v.chain, BW_X509_UNKNOWN_ISSUER);
	assert_int_equal(v.chain_depth, 1);
}

static void test_verify_der_and_errors(void **state)
{
	(void)state;
	NEED_CERTS();
	size_t l1, l2;
	uint8_t *leaf = cert_der("leaf-valid.der", &l1), *in = cert_der("int.der", &l2);
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	struct bw_anomalies an = { 0 };
	struct bw_x509_verify_opts o = { .time = T2030, .name = "www.example.com" };
	struct bw_x509_verdict v;
	const uint8_t *d[3] = { leaf, in, junk };
	size_t l[3] = { l1, l2, sizeof(junk) };
	assert_int_equal(bw_x509_verify_der(trust_priv, d, l, 2, &o, &v, &an), BW_OK);
	assert_int_equal(v.chain, BW_X509_OK);
	assert_int_equal(an.n[BW_AN_X509_BAD_DER], 0);
	assert_int_equal(bw_x509_verify_der(trust_priv, d, l, 3, &o, &v, &an), BW_OK);
	assert_int_equal(v.chain, BW_X509_OK);
	assert_true(HAS(v, BW_X509_BAD_DER));
	assert_int_equal(an.n[BW_AN_X509_BAD_DER], 1);
	const uint8_t *d2[2] = { junk, in };
	size_t l2s[2] = { sizeof(junk), l2 };
	assert_int_equal(bw_x509_verify_der(trust_priv, d2, l2s, 2, &o, &v, &an), BW_OK);
	assert_int_equal(v.chain, BW_X509_BAD_DER);
	assert_string_equal(v.detail, "bad_der");
	assert_false(v.name_checked);
	assert_int_equal(bw_x509_verify_der(trust_priv, NULL, NULL, 0, &o, &v, &an), BW_OK);
	assert_int_equal(v.chain, BW_X509_NO_CERT);
	assert_int_equal(bw_x509_verify(NULL, NULL, 0, &o, &v), BW_EINVAL);
	/* every reason has a stable name */
	for (int r = 0; r < BW_X509_REASON__COUNT; r++)
		assert_true(strlen(bw_x509_reason_name((enum bw_x509_reason)r)) > 1);
	assert_string_equal(bw_x509_reason_name(BW_X509_REASON__COUNT), "other");
	free(leaf);
	free(in);
}

static void test_trust_store_errors(void **state)
{
	(void)state;
	NEED_CERTS();
	char err[256], p[160];
	snprintf(p, sizeof(p), "%s/does-not-exist.pem", certdir);
	const char *f1[] = { p };
	assert_null(bw_x509_trust_new(f1, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "does-not-exist.pem"));
	assert_non_null(strstr(err, "No such file"));
	snprintf(p, sizeof(p), "%s/badca.pem", certdir);
	assert_null(bw_x509_trust_new(f1, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "badca.pem"));
	assert_null(bw_x509_trust_new(f1, 1, NULL, 0)); /* no error buffer: still fails cleanly */
	/* a DER CA file works, and so does "extra CAs only" */
	snprintf(p, sizeof(p), "%s/root.der", certdir);
	struct bw_x509_trust_config c = { .extra_ca_files = f1, .n_extra = 1, .no_system = true };
	struct bw_x509_trust *t = bw_x509_trust_new_ex(&c, err, sizeof(err));
	assert_non_null(t);
	size_t ns = 99, ne = 0;
	bw_x509_trust_counts(t, &ns, &ne);
	assert_int_equal(ns, 0);
	assert_int_equal(ne, 1);
	struct bw_x509_verdict v = VERIFY(t, T2030, NULL, false, "leaf-valid.der", "int.der");
	assert_int_equal(v.chain, BW_X509_OK);
	bw_x509_trust_free(t);
	/* the system store really was loaded (Debian ca-certificates) */
	bw_x509_trust_counts(trust_sys, &ns, &ne);
	if (file_exists("/etc/ssl/certs/ca-certificates.crt"))
		assert_true(ns > 50);
	assert_int_equal(ne, 0);
	bw_x509_trust_counts(trust_priv, &ns, &ne);
	assert_int_equal(ne, 2);
	c = (struct bw_x509_trust_config){ .system_bundle = "/nonexistent/bundle.crt" };
	assert_null(bw_x509_trust_new_ex(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/bundle.crt"));
	bw_x509_trust_free(NULL);
}

/* "openssl dgst" of a file, or of a shell pipeline's output. */
static void openssl_hex(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[256] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	char *sp = strchr(line, ' ');
	if (sp)
		*sp = '\0';
	snprintf(out, cap, "%s", line);
}

static void decode_file(const char *name, struct bw_x509_info *info)
{
	size_t n;
	uint8_t *d = cert_der(name, &n);
	assert_int_equal(bw_x509_decode(d, n, info, &arena, NULL), BW_OK);
	free(d);
}

static void test_known_certificate_fields(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_info i;
	decode_file("leaf-valid.der", &i);
	assert_int_equal(i.version, 3);
	assert_string_equal(i.serial, "8A07E08D4AB50A7B");
	assert_string_equal(i.serial_colon, "00:8A:07:E0:8D:4A:B5:0A:7B");
	assert_string_equal(i.subject.dn, "C=US, ST=California, L=San Francisco, O=Example, Inc., OU=Web, CN=www.example.com");
	assert_string_equal(i.subject.dn_rfc2253,
			    "CN=www.example.com,OU=Web,O=Example\\, Inc.,L=San Francisco,ST=California,C=US");
	assert_string_equal(i.subject.cn, "www.example.com");
	assert_string_equal(i.subject.o, "Example, Inc.");
	assert_string_equal(i.subject.ou, "Web");
	assert_string_equal(i.subject.c, "US");
	assert_string_equal(i.subject.st, "California");
	assert_string_equal(i.subject.l, "San Francisco");
	assert_string_equal(i.issuer.dn, "C=US, O=Bindwatch Test, CN=Bindwatch Test Intermediate");
	assert_string_equal(i.issuer.dn_rfc2253, "CN=Bindwatch Test Intermediate,O=Bindwatch Test,C=US");
	assert_string_equal(i.issuer.cn, "Bindwatch Test Intermediate");
	assert_string_equal(i.issuer.o, "Bindwatch Test");
	assert_string_equal(i.issuer.ou, "");
	assert_true(i.times_ok);
	assert_string_equal(i.not_before_iso, "2020-01-01T00:00:00Z");
	assert_string_equal(i.not_after_iso, "2040-01-01T00:00:00Z");
	assert_int_equal(i.not_before_s, 1577836800);
	assert_int_equal(i.not_after_s, 2208988800LL); /* past 2038 */
	assert_int_equal(i.not_before, (bw_time_t)1577836800 * BW_NSEC_PER_SEC);
	assert_int_equal(i.not_after, (bw_time_t)2208988800LL * BW_NSEC_PER_SEC);
	assert_string_equal(i.sig_alg, "ecdsa-with-SHA256");
	assert_string_equal(i.sig_alg_ecs, "ECDSA-SHA256");
	assert_string_equal(i.key_alg, "id-ecPublicKey");
	assert_int_equal(i.key_type, BW_X509_KEY_EC);
	assert_string_equal(i.key_type_name, "EC");
	assert_int_equal(i.key_bits, 256);
	assert_string_equal(i.curve, "prime256v1");
	assert_int_equal(i.rsa_exponent, 0);
	assert_true(i.has_basic_constraints);
	assert_false(i.is_ca);
	assert_int_equal(i.path_len, -1);
	assert_true(i.has_key_usage);
	assert_int_equal(i.key_usage, BW_X509_KU_DIGITAL_SIGNATURE | BW_X509_KU_KEY_ENCIPHERMENT);
	assert_string_equal(i.key_usage_text, "digitalSignature,keyEncipherment");
	assert_true(i.has_ext_key_usage);
	assert_int_equal(i.ext_key_usage, BW_X509_EKU_SERVER_AUTH | BW_X509_EKU_CLIENT_AUTH);
	assert_string_equal(i.ext_key_usage_text, "serverAuth,clientAuth");
	assert_false(i.self_issued);
	assert_false(i.self_signed);
	assert_false(i.ext_invalid);
	assert_int_equal(i.san_count, 5);
	assert_int_equal(i.san_total, 5);
	assert_false(i.san_truncated);
	assert_int_equal(i.san[0].type, BW_X509_SAN_DNS);
	assert_string_equal(i.san[0].value, "www.example.com");
	assert_string_equal(i.san[1].value, "example.com");
	assert_int_equal(i.san[2].type, BW_X509_SAN_EMAIL);
	assert_string_equal(i.san[2].value, "admin@example.com");
	assert_int_equal(i.san[3].type, BW_X509_SAN_URI);
	assert_string_equal(i.san[3].value, "https://www.example.com/");
	assert_int_equal(i.san[4].type, BW_X509_SAN_IP);
	assert_string_equal(i.san[4].value, "192.0.2.1");
	assert_false(i.text_truncated);
	assert_int_equal(i.trailing, 0);

	/* fingerprints and the key pin, against the openssl command */
	char cmd[512], want[128];
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -r %s/leaf-valid.der", certdir);
	openssl_hex(cmd, want, sizeof(want));
	assert_string_equal(i.sha256_hex, want);
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha1 -r %s/leaf-valid.der", certdir);
	openssl_hex(cmd, want, sizeof(want));
	assert_string_equal(i.sha1_hex, want);
	snprintf(cmd, sizeof(cmd),
		 "openssl x509 -inform DER -in %s/leaf-valid.der -noout -pubkey | openssl pkey -pubin -outform DER | "
		 "openssl dgst -sha256 -r",
		 certdir);
	openssl_hex(cmd, want, sizeof(want));
	assert_string_equal(i.spki_sha256_hex, want);
	snprintf(cmd, sizeof(cmd),
		 "openssl x509 -inform DER -in %s/leaf-valid.der -noout -pubkey | openssl pkey -pubin -outform DER | "
		 "openssl dgst -sha256 -binary | openssl base64",
		 certdir);
	openssl_hex(cmd, want, sizeof(want));
	want[strcspn(want, "\n")] = '\0';
	assert_string_equal(i.spki_sha256_b64, want);
	uint8_t sha[32];
	size_t n;
	uint8_t *d = cert_der("leaf-valid.der", &n);
	bw_x509_sha256(d, n, sha);
	assert_memory_equal(sha, i.sha256, 32);
	assert_int_equal(i.der_len, n);
	free(d);
}

static void test_other_certificates(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_info i;
	decode_file("leaf-rsa.der", &i);
	assert_int_equal(i.key_type, BW_X509_KEY_RSA);
	assert_string_equal(i.key_type_name, "RSA");
	assert_string_equal(i.key_alg, "rsaEncryption");
	assert_int_equal(i.key_bits, 2048);
	assert_int_equal(i.rsa_exponent, 65537);
	assert_string_equal(i.curve, "");
	assert_string_equal(i.sig_alg, "ecdsa-with-SHA256"); /* signed by the EC intermediate */
	assert_false(i.has_ext_key_usage);
	assert_string_equal(i.ext_key_usage_text, "");

	decode_file("root.der", &i);
	assert_true(i.is_ca);
	assert_true(i.self_issued);
	assert_true(i.self_signed);
	assert_int_equal(i.path_len, -1);
	assert_int_equal(i.key_usage, BW_X509_KU_KEY_CERT_SIGN | BW_X509_KU_CRL_SIGN);
	assert_int_equal(i.san_count, 0);
	assert_non_null(i.san);
	assert_string_equal(i.serial, "01");

	decode_file("int.der", &i);
	assert_true(i.is_ca);
	assert_int_equal(i.path_len, 4);
	assert_false(i.self_issued);
	assert_string_equal(i.serial, "1000");
	assert_string_equal(i.serial_colon, "10:00");

	decode_file("selfsigned.der", &i);
	assert_true(i.self_signed);

	/* before 1970 (UTCTime) and after 2050 (GeneralizedTime) */
	decode_file("leaf-old.der", &i);
	assert_true(i.times_ok);
	assert_string_equal(i.not_before_iso, "1965-01-01T00:00:00Z");
	assert_int_equal(i.not_before_s, -157766400LL);
	assert_int_equal(i.not_before, 0); /* clamped: bw_time_t cannot go below 1970 */
	assert_string_equal(i.not_after_iso, "2060-01-01T00:00:00Z");
	assert_int_equal(i.not_after_s, 2840140800LL);
	decode_file("leaf-future.der", &i);
	assert_string_equal(i.not_before_iso, "2099-01-01T00:00:00Z");
	assert_int_equal(i.not_before_s, 4070908800LL);
	assert_string_equal(i.not_after_iso, "2100-01-01T00:00:00Z");
	assert_int_equal(i.not_after_s, 4102444800LL);
}

static void test_escaping(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_info i;
	decode_file("leaf-evil.der", &i);
	/* a control character is escaped, valid UTF-8 kept */
	assert_string_equal(i.subject.dn, "O=Evil, Co\\x01rp, CN=\xc3\xa9vil.example.com");
	assert_string_equal(i.subject.o, "Evil, Co\\x01rp");
	assert_string_equal(i.subject.cn, "\xc3\xa9vil.example.com");
	/* Zeek's form: OpenSSL's RFC 2253 escapes, all ASCII */
	assert_string_equal(i.subject.dn_rfc2253, "CN=\\C3\\A9vil.example.com,O=Evil\\, Co\\01rp");

	size_t n;
	uint8_t *d = cert_der("leaf-evil.der", &n);
	uint8_t *at = memmem(d, n, "\xc3\xa9vil", 5);
	assert_non_null(at);
	/* not UTF-8 (OpenSSL rejects a bad UTF8String, so make it a string
	 * type it passes through unconverted): each bad byte becomes \xHH */
	assert_int_equal(at[-2], 0x0c);
	at[-2] = 0x0e;
	at[0] = 0xff;
	assert_int_equal(bw_x509_decode(d, n, &i, &arena, NULL), BW_OK);
	assert_string_equal(i.subject.cn, "\\xFF\\xA9vil.example.com");
	assert_string_equal(i.subject.dn, "O=Evil, Co\\x01rp, CN=\\xFF\\xA9vil.example.com");
	at[-2] = 0x0c;
	/* a right-to-left override (valid UTF-8, but it disguises text) */
	at[0] = 0xe2;
	at[1] = 0x80;
	at[2] = 0xae;
	assert_int_equal(bw_x509_decode(d, n, &i, &arena, NULL), BW_OK);
	assert_string_equal(i.subject.cn, "\\xE2\\x80\\xAEil.example.com");
	/* a backslash is doubled in the ECS form */
	at[0] = '\\';
	at[1] = 'x';
	at[2] = '4';
	assert_int_equal(bw_x509_decode(d, n, &i, &arena, NULL), BW_OK);
	assert_string_equal(i.subject.cn, "\\\\x4il.example.com");
	assert_string_equal(i.subject.dn_rfc2253, "CN=\\\\x4il.example.com,O=Evil\\, Co\\01rp");
	/* a NUL inside a name */
	at[0] = 0;
	assert_int_equal(bw_x509_decode(d, n, &i, &arena, NULL), BW_OK);
	assert_string_equal(i.subject.cn, "\\x00x4il.example.com");
	free(d);
}

static void test_many_sans(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_info i;
	size_t n;
	uint8_t *d = cert_der("leaf-manysan.der", &n);
	clock_t t0 = clock();
	for (int k = 0; k < 20; k++)
		assert_int_equal(bw_x509_decode(d, n, &i, &arena, NULL), BW_OK);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_true(secs < 5.0); /* 20 decodes of 3000 SANs: linear, well under this */
	assert_int_equal(i.san_total, 3000);
	assert_int_equal(i.san_count, BW_X509_MAX_SANS);
	assert_true(i.san_truncated);
	assert_string_equal(i.san[0].value, "n0.example.com");
	assert_string_equal(i.san[BW_X509_MAX_SANS - 1].value, "n511.example.com");
	assert_true(arena.used <= sizeof(arena.buf));
	/* the name check sees every SAN, not only those kept */
	struct x509_st *x = NULL;
	assert_int_equal(bw_x509_parse(d, n, &x, NULL), BW_OK);
	assert_int_equal(name_is(x, "n2999.example.com"), BW_X509_OK);
	assert_int_equal(name_is(x, "n3000.example.com"), BW_X509_NAME_MISMATCH);
	bw_x509_free(x);
	free(d);
}

/* The window of a verdict is bounded by the chain's validity changes around
 * the judging time, and the verdict really is the same inside it and
 * different just outside. */
static void test_verify_window(void **state)
{
	(void)state;
	NEED_CERTS();
	struct x509_st *xs[2] = { cert("leaf-expired.der"), cert("int.der") };
	bw_time_t t2016 = (bw_time_t)1464739200 * BW_NSEC_PER_SEC;
	struct bw_x509_verify_opts o = { .time = t2016, .name = "www.example.com", .strict_order = true };
	struct bw_x509_verdict v, v2;
	struct bw_x509_window w;
	assert_int_equal(bw_x509_verify_window(trust_priv, xs, 2, &o, &v, &w), BW_OK);
	assert_int_equal(v.chain, BW_X509_OK);
	assert_int_equal(w.from, 1451606400);   /* leaf and intermediate notBefore, 2016-01-01 */
	assert_int_equal(w.until, 1483228800);  /* leaf notAfter 2017-01-01 00:00:00: expired from then on */
	/* the same verdict as bw_x509_verify */
	assert_int_equal(bw_x509_verify(trust_priv, xs, 2, &o, &v2), BW_OK);
	assert_memory_equal(&v, &v2, sizeof(v));
	/* the last second inside is still ok, the first outside is expired */
	o.time = (bw_time_t)(w.until - 1) * BW_NSEC_PER_SEC;
	assert_int_equal(bw_x509_verify(trust_priv, xs, 2, &o, &v2), BW_OK);
	assert_int_equal(v2.chain, BW_X509_OK);
	o.time = (bw_time_t)w.until * BW_NSEC_PER_SEC;
	struct bw_x509_window w2;
	assert_int_equal(bw_x509_verify_window(trust_priv, xs, 2, &o, &v2, &w2), BW_OK);
	assert_int_equal(v2.chain, BW_X509_EXPIRED);
	assert_int_equal(w2.from, 1483228800);
	assert_int_equal(w2.until, 2335219200); /* intermediate notAfter 2044-01-01 */
	o.time = (bw_time_t)(w.from - 1) * BW_NSEC_PER_SEC;
	assert_int_equal(bw_x509_verify(trust_priv, xs, 2, &o, &v2), BW_OK);
	assert_int_equal(v2.chain, BW_X509_NOT_YET_VALID);
	/* no certificate: a verdict for all time */
	assert_int_equal(bw_x509_verify_window(trust_priv, NULL, 0, &o, &v2, &w2), BW_OK);
	assert_int_equal(v2.chain, BW_X509_NO_CERT);
	assert_true(w2.from == INT64_MIN && w2.until == INT64_MAX);
	assert_int_equal(bw_x509_verify_window(trust_priv, xs, 2, &o, &v2, NULL), BW_EINVAL);
	bw_x509_free(xs[0]);
	bw_x509_free(xs[1]);
}

/* The system bundle is read on the first verification, not at start, and
 * the lazily built store judges exactly as an eager one did. */
static void test_lazy_trust(void **state)
{
	(void)state;
	NEED_CERTS();
	char err[256], root[128];
	snprintf(root, sizeof(root), "%s/root.pem", certdir);
	const char *files[] = { root };
	struct bw_x509_trust *t = bw_x509_trust_new(files, 1, err, sizeof(err));
	assert_non_null(t);
	assert_false(bw_x509_trust_loaded(t));
	struct bw_x509_verdict v = VERIFY(t, T2030, "www.example.com", false, "leaf-valid.der", "int.der");
	assert_true(bw_x509_trust_loaded(t));
	assert_int_equal(v.chain, BW_X509_OK);
	assert_int_equal(v.built, 3);
	size_t ns = 0, ne = 0;
	bw_x509_trust_counts(t, &ns, &ne);
	assert_int_equal(ne, 1);
	if (file_exists("/etc/ssl/certs/ca-certificates.crt"))
		assert_true(ns > 50);
	bw_x509_trust_free(t);
	/* counting loads it too */
	t = bw_x509_trust_new(NULL, 0, err, sizeof(err));
	assert_non_null(t);
	assert_false(bw_x509_trust_loaded(t));
	bw_x509_trust_counts(t, &ns, &ne);
	assert_true(bw_x509_trust_loaded(t));
	assert_int_equal(ne, 0);
	bw_x509_trust_free(t);
	/* a named bundle is checked (so loaded) at start */
	if (file_exists("/etc/ssl/certs/ca-certificates.crt")) {
		struct bw_x509_trust_config c = { .system_bundle = "/etc/ssl/certs/ca-certificates.crt" };
		t = bw_x509_trust_new_ex(&c, err, sizeof(err));
		assert_non_null(t);
		assert_true(bw_x509_trust_loaded(t));
		bw_x509_trust_free(t);
	}
	/* a bad extra file is still a start-up error */
	char bad[128];
	snprintf(bad, sizeof(bad), "%s/badca.pem", certdir);
	const char *bf[] = { bad };
	assert_null(bw_x509_trust_new(bf, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "badca.pem"));
}

static void test_garbage_and_truncations(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_info i;
	struct bw_anomalies an = { 0 };
	const char *names[] = { "leaf-valid.der", "leaf-rsa.der", "root.der" };
	for (size_t f = 0; f < BW_ARRAY_SIZE(names); f++) {
		size_t n;
		uint8_t *d = cert_der(names[f], &n);
		for (size_t cut = 0; cut < n; cut++) {
			uint64_t before = an.n[BW_AN_X509_BAD_DER];
			/* a copy of exactly cut bytes, so ASan sees any overread */
			uint8_t *p = malloc(cut ? cut : 1);
			memcpy(p, d, cut);
			int rc = bw_x509_decode(p, cut, &i, &arena, &an);
			assert_true(rc == BW_ETRUNC || rc == BW_EMALF);
			if (cut >= 4)
				assert_int_equal(rc, BW_ETRUNC); /* the outer SEQUENCE says it is cut short */
			assert_int_equal(an.n[BW_AN_X509_BAD_DER], before + 1);
			assert_string_equal(i.subject.dn, "");
			assert_string_equal(i.serial, "");
			free(p);
		}
		/* trailing bytes: decoded, and counted */
		uint8_t *p = malloc(n + 3);
		memcpy(p, d, n);
		memcpy(p + n, "\x00\x01\x02", 3);
		uint64_t before = an.n[BW_AN_X509_BAD_DER];
		assert_int_equal(bw_x509_decode(p, n + 3, &i, &arena, &an), BW_OK);
		assert_int_equal(i.trailing, 3);
		assert_int_equal(an.n[BW_AN_X509_BAD_DER], before + 1);
		free(p);
		/* BER, not DER: indefinite and non-minimal outer lengths (OpenSSL takes both) */
		size_t hl = 2 + ((d[1] & 0x80) ? (d[1] & 0x7f) : 0), body = n - hl;
		p = malloc(n + 8);
		memcpy(p, "\x30\x80", 2);
		memcpy(p + 2, d + hl, body);
		memcpy(p + 2 + body, "\x00\x00", 2);
		before = an.n[BW_AN_X509_BAD_DER];
		assert_int_equal(bw_x509_decode(p, body + 4, &i, &arena, &an), BW_EMALF);
		assert_int_equal(an.n[BW_AN_X509_BAD_DER], before + 1);
		uint8_t nm[6] = { 0x30, 0x84, 0, 0, (uint8_t)(body >> 8), (uint8_t)body };
		memcpy(p, nm, 6);
		memcpy(p + 6, d + hl, body);
		assert_int_equal(bw_x509_decode(p, body + 6, &i, &arena, &an), BW_EMALF);
		assert_string_equal(i.subject.dn, "");
		free(p);
		free(d);
	}
	static const uint8_t g1[] = "hello, this is not DER";
	static const uint8_t g2[] = { 0x30, 0x80, 0x00, 0x00 };
	static const uint8_t g3[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	static const uint8_t g4[] = { 0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00 };
	assert_int_equal(bw_x509_decode(g1, sizeof(g1), &i, &arena, &an), BW_EMALF);
	assert_int_equal(bw_x509_decode(g2, sizeof(g2), &i, &arena, &an), BW_EMALF);
	assert_int_equal(bw_x509_decode(g3, sizeof(g3), &i, &arena, &an), BW_EMALF);
	assert_int_equal(bw_x509_decode(g4, sizeof(g4), &i, &arena, &an), BW_EMALF);
	assert_int_equal(bw_x509_decode(g1, 0, &i, &arena, &an), BW_ETRUNC);
	assert_int_equal(bw_x509_decode(NULL, 0, &i, &arena, &an), BW_EINVAL);
	assert_int_equal(bw_x509_decode(g1, BW_X509_MAX_DER + 1, &i, &arena, &an), BW_ELIMIT);
	assert_int_equal(bw_x509_decode(g1, sizeof(g1), &i, NULL, &an), BW_EINVAL);
	assert_int_equal(bw_x509_decode(g1, sizeof(g1), NULL, &arena, &an), BW_EINVAL);
	struct x509_st *x = (struct x509_st *)1;
	assert_int_equal(bw_x509_parse(g1, sizeof(g1), &x, NULL), BW_EMALF);
	assert_null(x);
	bw_x509_free(NULL);
}

static void test_info_copy(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_x509_info i, c;
	decode_file("leaf-valid.der", &i);
	char *text = aligned_alloc(16, (arena.used + 15) & ~(size_t)15);
	assert_non_null(text);
	assert_int_equal(bw_x509_info_copy(&i, &arena, &c, text, arena.used - 1), BW_ENOMEM);
	assert_int_equal(bw_x509_info_copy(&i, &arena, &c, text, arena.used), BW_OK);
	memset(arena.buf, 'X', arena.used); /* the copy must not point into the arena */
	assert_string_equal(c.subject.dn_rfc2253,
			    "CN=www.example.com,OU=Web,O=Example\\, Inc.,L=San Francisco,ST=California,C=US");
	assert_string_equal(c.issuer.cn, "Bindwatch Test Intermediate");
	assert_string_equal(c.serial_colon, "00:8A:07:E0:8D:4A:B5:0A:7B");
	assert_string_equal(c.san[3].value, "https://www.example.com/");
	assert_string_equal(c.ext_key_usage_text, "serverAuth,clientAuth");
	assert_string_equal(c.curve, "prime256v1");
	assert_string_equal(c.key_type_name, "EC");
	assert_string_equal(c.sig_alg_ecs, "ECDSA-SHA256");
	assert_string_equal(c.subject.ou, "Web");
	free(text);
}

/* ---- real certificates from the external captures ---- */

struct realcert {
	struct bw_x509_info info;
	char *text;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Certificates of a capture, as tshark dissects them. */
static size_t capture_certs(const char *pcap, struct realcert *out, size_t cap)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "tshark -r '%s' -Y tls.handshake.certificate -T fields -e tls.handshake.certificate 2>/dev/null", pcap);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = 0, len = 0, bcap = 1 << 16;
	uint8_t *der = malloc(bcap);
	int c, hi = -1;
	do {
		c = fgetc(p);
		int v = c == EOF ? -1 : hexval(c);
		if (v >= 0) {
			if (hi < 0) {
				hi = v;
			} else {
				if (len == bcap)
					der = realloc(der, bcap *= 2);
				der[len++] = (uint8_t)(hi << 4 | v);
				hi = -1;
			}
			continue;
		}
		if (len && n < cap) {
			struct realcert *r = &out[n];
			assert_int_equal(bw_x509_decode(der, len, &r->info, &arena, NULL), BW_OK);
			r->text = aligned_alloc(16, (arena.used + 16) & ~(size_t)15);
			assert_int_equal(bw_x509_info_copy(&r->info, &arena, &r->info, r->text, arena.used + 1), BW_OK);
			n++;
		}
		len = 0;
		hi = -1;
	} while (c != EOF);
	free(der);
	pclose(p);
	return n;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The peer's spelling of a field of info; false if we do not compare this kind. */
static bool peer_value(const char *peer, const char *kind, const struct bw_x509_info *i, char *out, size_t cap)
{
	bool zeek = !strcmp(peer, "zeek"), arkime = !strcmp(peer, "arkime");
	const char *v = NULL;
	if (!strcmp(kind, "x509_subject"))
		v = zeek ? i->subject.dn_rfc2253 : i->subject.dn;
	else if (!strcmp(kind, "x509_issuer"))
		v = zeek ? i->issuer.dn_rfc2253 : i->issuer.dn;
	else if (!strcmp(kind, "x509_not_before"))
		v = i->not_before_iso;
	else if (!strcmp(kind, "x509_not_after"))
		v = i->not_after_iso;
	else if (!strcmp(kind, "x509_subject_o"))
		v = i->subject.o;
	else if (!strcmp(kind, "x509_issuer_o"))
		v = i->issuer.o;
	else if (!strcmp(kind, "x509_subject_cn") || !strcmp(kind, "x509_issuer_cn")) {
		snprintf(out, cap, "%s", kind[5] == 's' ? i->subject.cn : i->issuer.cn);
		lower(out); /* Arkime lower-cases common names */
		return true;
	} else if (!strcmp(kind, "x509_serial")) {
		if (zeek) {
			v = i->serial;
		} else if (arkime) {
			size_t o = 0;
			for (const char *s = i->serial_colon; *s && o + 1 < cap; s++)
				if (*s != ':')
					out[o++] = (char)tolower((unsigned char)*s);
			out[o] = '\0';
			return true;
		} else {
			v = i->serial_colon;
		}
	}
	if (!v)
		return false;
	snprintf(out, cap, "%s", v);
	return true;
}

static void unescape_zeek(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == '\\')
			s++;
		*o++ = *s;
	}
	*o = '\0';
}

static void test_real_captures_match_peers(void **state)
{
	(void)state;
	static const char *const files[] = {
		"sv-tls12-github.pcap",		 "arkime-tls12.pcap",	     "zeek-tls12.pcap",
		"zeek-tls-mysql-rds-tls12.pcap", "sv-tls-pre-1970.pcap",      "arkime-https-generalizedtime.pcap",
		"ndpi-long-tls-certificate.pcap", "zeek-tls-ecdsa.pcap",      "arkime-ldap-ssl.pcap",
		"sv-tls-glupteba.pcap",		 "arkime-ssl-selfsign.pcap",
	};
	if (system("command -v tshark >/dev/null 2>&1") != 0 || !file_exists(EXT "EXPECTED.tsv")) {
		fprintf(stderr, "test_x509: tshark or %sEXPECTED.tsv missing: capture test skipped\n", EXT);
		skip();
	}
	size_t tsvlen;
	char *tsv = (char *)read_file(EXT "EXPECTED.tsv", &tsvlen);
	assert_non_null(tsv);
	tsv = realloc(tsv, tsvlen + 1);
	tsv[tsvlen] = '\0';
	size_t checked_total = 0;
	for (size_t f = 0; f < BW_ARRAY_SIZE(files); f++) {
		static struct realcert certs[32];
		char path[256];
		snprintf(path, sizeof(path), EXT "%s", files[f]);
		size_t nc = capture_certs(path, certs, BW_ARRAY_SIZE(certs));
		assert_true(nc > 0);
		size_t checked = 0;
		char *save = NULL, *copy = strdup(tsv);
		for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *col[7] = { 0 };
			char *s = line;
			for (int k = 0; k < 7 && s; k++) {
				col[k] = s;
				s = strchr(s, '\t');
				if (s)
					*s++ = '\0';
			}
			if (!col[4] || strcmp(col[0], files[f]) || strncmp(col[1], "x509_", 5))
				continue;
			const char *kind = col[1], *key = col[2], *peer = col[4];
			char want[1024];
			snprintf(want, sizeof(want), "%s", col[3]);
			if (!strcmp(peer, "zeek"))
				unescape_zeek(want);
			if (!strcmp(kind, "x509_sha1") || !strcmp(kind, "x509_sha256")) {
				bool found = false;
				for (size_t c = 0; c < nc; c++)
					found |= !strcmp(kind[5] == 's' && kind[8] == '2' ? certs[c].info.sha256_hex
										       : certs[c].info.sha1_hex,
							 want);
				if (!found)
					fail_msg("%s: no certificate with %s %s", files[f], kind, want);
				checked++;
				continue;
			}
			/* rows about one certificate name it by fingerprint; others ("*") the leaf */
			const struct bw_x509_info *target = NULL;
			for (size_t c = 0; c < nc; c++) {
				const struct bw_x509_info *i = &certs[c].info;
				if ((!strncmp(key, "sha1:", 5) && !strcmp(key + 5, i->sha1_hex)) ||
				    (!strncmp(key, "sha256:", 7) && !strcmp(key + 7, i->sha256_hex)))
					target = i;
			}
			if (!strncmp(key, "sha", 3) && !target)
				fail_msg("%s: no certificate %s (row %s)", files[f], key, kind);
			if (!target)
				target = &certs[0].info;
			if (!strcmp(kind, "x509_san")) {
				bool found = false;
				for (uint32_t k = 0; k < target->san_count; k++)
					found |= !strcasecmp(target->san[k].value, want);
				if (!found)
					fail_msg("%s: SAN %s missing", files[f], want);
				checked++;
				continue;
			}
			char got[1024];
			if (!peer_value(peer, kind, target, got, sizeof(got)))
				continue;
			if (strcmp(got, want))
				fail_msg("%s %s %s (%s): got \"%s\", want \"%s\"", files[f], kind, key, peer, got, want);
			checked++;
		}
		free(copy);
		if (checked < 3)
			fail_msg("%s: only %zu rows checked", files[f], checked);
		checked_total += checked;
		for (size_t c = 0; c < nc; c++)
			free(certs[c].text);
	}
	free(tsv);
	assert_true(checked_total > 200);
}

/* Zeek's x509.log has the algorithm and key columns EXPECTED.tsv leaves out. */
static void test_real_captures_match_zeek_x509_log(void **state)
{
	(void)state;
	static const char *const files[] = { "zeek-tls12", "zeek-tls-ecdsa", "zeek-tls-mysql-rds-tls12" };
	if (system("command -v tshark >/dev/null 2>&1") != 0 || !file_exists(EXT "zeek-tls12.zeek-x509.log"))
		skip();
	size_t rows = 0;
	for (size_t f = 0; f < BW_ARRAY_SIZE(files); f++) {
		static struct realcert certs[32];
		char path[256];
		snprintf(path, sizeof(path), EXT "%s.pcap", files[f]);
		size_t nc = capture_certs(path, certs, BW_ARRAY_SIZE(certs));
		snprintf(path, sizeof(path), EXT "%s.zeek-x509.log", files[f]);
		size_t ll;
		char *log = (char *)read_file(path, &ll);
		assert_non_null(log);
		log = realloc(log, ll + 1);
		log[ll] = '\0';
		char *save = NULL;
		for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (line[0] == '#')
				continue;
			char *col[24] = { 0 };
			char *s = line;
			for (int k = 0; k < 24 && s; k++) {
				col[k] = s;
				s = strchr(s, '\t');
				if (s)
					*s++ = '\0';
			}
			if (!col[21])
				continue;
			const struct bw_x509_info *i = NULL;
			for (size_t c = 0; c < nc; c++)
				if (!strcmp(certs[c].info.sha256_hex, col[1]))
					i = &certs[c].info;
			if (!i)
				fail_msg("%s: certificate %s not found", files[f], col[1]);
			char num[32];
			snprintf(num, sizeof(num), "%d", i->version);
			assert_string_equal(col[2], num);
			assert_string_equal(col[3], i->serial);
			char dn[1024];
			snprintf(dn, sizeof(dn), "%s", col[4]);
			unescape_zeek(dn);
			assert_string_equal(dn, i->subject.dn_rfc2253);
			snprintf(num, sizeof(num), "%lld.000000", (long long)i->not_before_s);
			assert_string_equal(col[6], num);
			snprintf(num, sizeof(num), "%lld.000000", (long long)i->not_after_s);
			assert_string_equal(col[7], num);
			assert_string_equal(col[8], i->key_alg);
			assert_string_equal(col[9], i->sig_alg);
			const char *kt = i->key_type == BW_X509_KEY_RSA ? "rsa" : i->key_type == BW_X509_KEY_EC ? "ecdsa" : "?";
			assert_string_equal(col[10], kt);
			snprintf(num, sizeof(num), "%d", i->key_bits);
			assert_string_equal(col[11], num);
			if (i->rsa_exponent)
				snprintf(num, sizeof(num), "%llu", (unsigned long long)i->rsa_exponent);
			else
				snprintf(num, sizeof(num), "-");
			assert_string_equal(col[12], num);
			assert_string_equal(col[13], *i->curve ? i->curve : "-");
			if (strcmp(col[14], "-")) { /* san.dns, comma separated */
				char sans[4096] = "";
				size_t o = 0;
				for (uint32_t k = 0; k < i->san_count; k++)
					if (i->san[k].type == BW_X509_SAN_DNS)
						o += (size_t)snprintf(sans + o, sizeof(sans) - o, "%s%s", o ? "," : "",
								      i->san[k].value);
				assert_string_equal(col[14], sans);
			}
			assert_string_equal(col[18], i->has_basic_constraints ? (i->is_ca ? "T" : "F") : "-");
			if (i->path_len >= 0)
				snprintf(num, sizeof(num), "%d", i->path_len);
			else
				snprintf(num, sizeof(num), "-");
			assert_string_equal(col[19], num);
			rows++;
		}
		free(log);
		for (size_t c = 0; c < nc; c++)
			free(certs[c].text);
	}
	assert_true(rows >= 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_chain_private_ca),
		cmocka_unit_test(test_unknown_issuer),
		cmocka_unit_test(test_expired_and_capture_clock),
		cmocka_unit_test(test_not_yet_valid),
		cmocka_unit_test(test_self_signed),
		cmocka_unit_test(test_wrong_name),
		cmocka_unit_test(test_wildcard_one_label),
		cmocka_unit_test(test_ip_san),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_chain_order),
		cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_verify_der_and_errors),
		cmocka_unit_test(test_trust_store_errors),
		cmocka_unit_test(test_known_certificate_fields),
		cmocka_unit_test(test_other_certificates),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_many_sans),
		cmocka_unit_test(test_verify_window),
		cmocka_unit_test(test_lazy_trust),
		cmocka_unit_test(test_garbage_and_truncations),
		cmocka_unit_test(test_info_copy),
		cmocka_unit_test(test_real_captures_match_peers),
		cmocka_unit_test(test_real_captures_match_zeek_x509_log),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
