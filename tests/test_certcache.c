/* SPDX-License-Identifier: MIT */
/*
 * test_certcache.c: one parse per distinct certificate, LRU eviction with
 * its counters, references that outlive eviction, negative entries, and the
 * byte cap. Certificates come from tools/certgen.sh at test time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parsers/certcache.h"

static char certdir[64];
static bool have_certs;

static int group_setup(void **state)
{
	(void)state;
	if (access("tools/certgen.sh", X_OK) != 0 || system("command -v openssl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_certcache: openssl or tools/certgen.sh missing: tests skipped\n");
		return 0;
	}
	snprintf(certdir, sizeof(certdir), "/tmp/bw-test-certcache-XXXXXX");
	if (!mkdtemp(certdir))
		return -1;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "tools/certgen.sh %s", certdir);
	if (system(cmd) != 0)
		return -1;
	have_certs = true;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (certdir[0] && strncmp(certdir, "/tmp/bw-test-certcache-", 23) == 0) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

#define NEED_CERTS()             \
	do {                     \
		if (!have_certs) \
			skip();  \
	} while (0)

static uint8_t *der(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", certdir, name);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	uint8_t *buf = malloc(1 << 17);
	*len = fread(buf, 1, 1 << 17, fp);
	fclose(fp);
	assert_true(*len > 0);
	return buf;
}

static struct bw_certcache_stats stats(const struct bw_certcache *cc)
{
	struct bw_certcache_stats s;
	bw_certcache_stats(cc, &s);
	return s;
}

static void test_one_parse_per_distinct_der(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_anomalies an = { 0 };
	struct bw_certcache *cc = bw_certcache_new(NULL, &an);
	assert_non_null(cc);
	size_t n;
	uint8_t *d = der("leaf-valid.der", &n);
	struct bw_certcache_entry *e1 = NULL, *e2 = NULL;
	bool hit = true;
	assert_int_equal(bw_certcache_get(cc, d, n, 100, &e1, &hit), BW_OK);
	assert_false(hit);
	assert_non_null(e1);
	assert_int_equal(stats(cc).parses, 1);
	assert_string_equal(e1->info.subject.cn, "www.example.com");
	assert_string_equal(e1->info.serial, "8A07E08D4AB50A7B");
	assert_int_equal(e1->info.san_count, 5);
	assert_non_null(e1->x509);

	/* the same bytes from another buffer: a hit, no parse, same entry */
	uint8_t *copy = malloc(n);
	memcpy(copy, d, n);
	assert_int_equal(bw_certcache_get(cc, copy, n, 200, &e2, &hit), BW_OK);
	assert_true(hit);
	assert_ptr_equal(e1, e2);
	assert_int_equal(e2->seen, 2);
	assert_int_equal(e2->first_seen, 100);
	assert_int_equal(e2->last_seen, 200);
	bw_certcache_put(cc, e2);

	/* a popular certificate seen 200,000 times costs one parse */
	for (int i = 0; i < 200000; i++) {
		struct bw_certcache_entry *e = NULL;
		assert_int_equal(bw_certcache_get(cc, copy, n, (bw_time_t)i, &e, NULL), BW_OK);
		bw_certcache_put(cc, e);
	}
	struct bw_certcache_stats s = stats(cc);
	assert_int_equal(s.parses, 1);
	assert_int_equal(s.misses, 1);
	assert_int_equal(s.hits, 200001);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.evictions, 0);
	assert_int_equal(an.n[BW_AN_X509_BAD_DER], 0);

	/* lookup by fingerprint, and the entry's x509 is usable */
	struct bw_certcache_entry *e3 = bw_certcache_lookup(cc, e1->info.sha256);
	assert_ptr_equal(e3, e1);
	assert_int_equal(bw_x509_check_name(e3->x509, "example.com", 11, false), BW_X509_OK);
	bw_certcache_put(cc, e3);
	uint8_t zero[32] = { 0 };
	assert_null(bw_certcache_lookup(cc, zero));

	/* a different certificate is a second parse */
	size_t n2;
	uint8_t *d2 = der("int.der", &n2);
	assert_int_equal(bw_certcache_get(cc, d2, n2, 1, &e2, &hit), BW_OK);
	assert_false(hit);
	assert_int_equal(stats(cc).parses, 2);
	assert_true(e2->info.is_ca);
	bw_certcache_put(cc, e2);
	bw_certcache_put(cc, e1);
	bw_certcache_free(cc);
	free(d);
	free(d2);
	free(copy);
}

static const char *const six[] = { "leaf-valid.der", "int.der", "root.der", "leaf-ip.der", "leaf-rsa.der",
				   "leaf-old.der" };

static struct bw_certcache_entry *get_name(struct bw_certcache *cc, const char *name, bool *hit)
{
	size_t n;
	uint8_t *d = der(name, &n);
	struct bw_certcache_entry *e = NULL;
	assert_int_equal(bw_certcache_get(cc, d, n, 0, &e, hit), BW_OK);
	free(d);
	return e;
}

static void test_lru_eviction(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_certcache_config c = { .max_entries = 3 };
	struct bw_certcache *cc = bw_certcache_new(&c, NULL);
	uint8_t sha[6][32];
	bool hit;
	for (int i = 0; i < 3; i++) {
		struct bw_certcache_entry *e = get_name(cc, six[i], &hit);
		memcpy(sha[i], e->sha256, 32);
		bw_certcache_put(cc, e);
	}
	/* touch the oldest: now six[1] is the least recently used */
	bw_certcache_put(cc, get_name(cc, six[0], &hit));
	assert_true(hit);
	struct bw_certcache_entry *e = get_name(cc, six[3], &hit);
	memcpy(sha[3], e->sha256, 32);
	bw_certcache_put(cc, e);
	struct bw_certcache_stats s = stats(cc);
	assert_int_equal(s.entries, 3);
	assert_int_equal(s.evictions, 1);
	assert_null(bw_certcache_lookup(cc, sha[1]));
	e = bw_certcache_lookup(cc, sha[0]);
	assert_non_null(e);
	bw_certcache_put(cc, e);
	e = bw_certcache_lookup(cc, sha[2]);
	assert_non_null(e);
	bw_certcache_put(cc, e);
	/* lookups count as use too: six[3] is now the oldest */
	bw_certcache_put(cc, get_name(cc, six[4], &hit));
	assert_false(hit);
	assert_null(bw_certcache_lookup(cc, sha[3]));
	assert_int_equal(stats(cc).evictions, 2);
	/* an evicted certificate comes back with a parse */
	uint64_t p = stats(cc).parses;
	bw_certcache_put(cc, get_name(cc, six[1], &hit));
	assert_false(hit);
	assert_int_equal(stats(cc).parses, p + 1);
	assert_int_equal(stats(cc).entries, 3);
	bw_certcache_free(cc);
}

static void test_references_outlive_eviction(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_certcache_config c = { .max_entries = 1 };
	struct bw_certcache *cc = bw_certcache_new(&c, NULL);
	bool hit;
	/* hold a whole chain while inserting: the TLS parser's pattern */
	struct bw_certcache_entry *leaf = get_name(cc, "leaf-valid.der", &hit);
	struct bw_certcache_entry *in = get_name(cc, "int.der", &hit);
	struct bw_certcache_stats s = stats(cc);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.orphans, 1);
	/* the evicted leaf is still whole (ASan would see a use after free) */
	assert_string_equal(leaf->info.subject.dn, "C=US, ST=California, L=San Francisco, O=Example, Inc., OU=Web, CN=www.example.com");
	assert_string_equal(leaf->info.san[4].value, "192.0.2.1");
	char err[256], root[128];
	snprintf(root, sizeof(root), "%s/root.pem", certdir);
	const char *files[] = { root };
	struct bw_x509_trust *t = bw_x509_trust_new(files, 1, err, sizeof(err));
	assert_non_null(t);
	struct x509_st *chain[2] = { leaf->x509, in->x509 };
	struct bw_x509_verify_opts o = { .time = (bw_time_t)1893456000 * BW_NSEC_PER_SEC, .name = "www.example.com" };
	struct bw_x509_verdict v;
	assert_int_equal(bw_x509_verify(t, chain, 2, &o, &v), BW_OK);
	assert_int_equal(v.chain, BW_X509_OK);
	assert_int_equal(v.name, BW_X509_OK);
	bw_x509_trust_free(t);
	bw_certcache_put(cc, leaf);
	assert_int_equal(stats(cc).orphans, 0);
	bw_certcache_put(cc, in);
	bw_certcache_put(cc, NULL);
	/* freeing with a reference still out frees it too (no leak under ASan) */
	struct bw_certcache_entry *held = get_name(cc, "root.der", &hit);
	(void)held;
	bw_certcache_put(cc, get_name(cc, "leaf-ip.der", &hit));
	assert_int_equal(stats(cc).orphans, 1);
	bw_certcache_free(cc);
	bw_certcache_free(NULL);
}

static void test_negative_entries(void **state)
{
	(void)state;
	struct bw_anomalies an = { 0 };
	struct bw_certcache *cc = bw_certcache_new(NULL, &an);
	static const uint8_t junk[] = { 0x30, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00 };
	static const uint8_t cut[] = { 0x30, 0x82, 0x03, 0x00, 0x30 };
	struct bw_certcache_entry *e = (struct bw_certcache_entry *)1;
	bool hit = true;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(bw_certcache_get(cc, junk, sizeof(junk), 0, &e, &hit), BW_EMALF);
	assert_null(e);
	assert_false(hit);
	assert_int_equal(bw_certcache_get(cc, cut, sizeof(cut), 0, &e, &hit), BW_ETRUNC);
	assert_int_equal(bw_certcache_get(cc, cut, sizeof(cut), 0, &e, &hit), BW_ETRUNC);
	struct bw_certcache_stats s = stats(cc);
	assert_int_equal(s.parses, 2);
	assert_int_equal(s.parse_errors, 2);
	assert_int_equal(s.negative_hits, 1000);
	assert_int_equal(s.entries, 2);
	assert_int_equal(an.n[BW_AN_X509_BAD_DER], 1002); /* every sighting counts */
	uint8_t sha[32];
	bw_x509_sha256(junk, sizeof(junk), sha);
	assert_null(bw_certcache_lookup(cc, sha)); /* negative entries are never handed out */
	assert_int_equal(bw_certcache_get(NULL, junk, sizeof(junk), 0, &e, NULL), BW_EINVAL);
	assert_int_equal(bw_certcache_get(cc, NULL, 5, 0, &e, NULL), BW_EINVAL);
	assert_int_equal(bw_certcache_get(cc, junk, sizeof(junk), 0, NULL, NULL), BW_EINVAL);
	assert_int_equal(bw_certcache_get(cc, junk, BW_X509_MAX_DER + 1, 0, &e, NULL), BW_ELIMIT);
	bw_certcache_free(cc);
}

static void test_many_distinct(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_certcache_config c = { .max_entries = 10, .drop_x509 = true };
	struct bw_certcache *cc = bw_certcache_new(&c, NULL);
	size_t n;
	uint8_t *d = der("leaf-valid.der", &n);
	/* 100 different DERs: flip a byte of the signature (still parses) */
	for (int i = 0; i < 100; i++) {
		d[n - 2] = (uint8_t)i;
		struct bw_certcache_entry *e = NULL;
		assert_int_equal(bw_certcache_get(cc, d, n, 0, &e, NULL), BW_OK);
		assert_null(e->x509);
		assert_string_equal(e->info.subject.cn, "www.example.com");
		bw_certcache_put(cc, e);
	}
	struct bw_certcache_stats s = stats(cc);
	assert_int_equal(s.parses, 100);
	assert_int_equal(s.entries, 10);
	assert_int_equal(s.evictions, 90);
	assert_int_equal(s.orphans, 0);
	bw_certcache_free(cc);
	free(d);
}

static void test_byte_cap(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_certcache *probe = bw_certcache_new(NULL, NULL);
	bw_certcache_put(probe, get_name(probe, "leaf-valid.der", NULL));
	uint64_t one = stats(probe).bytes;
	bw_certcache_free(probe);
	assert_true(one > 0);

	struct bw_certcache_config c = { .max_bytes = one * 3 + one / 2 };
	struct bw_certcache *cc = bw_certcache_new(&c, NULL);
	for (int i = 0; i < 6; i++)
		bw_certcache_put(cc, get_name(cc, six[i], NULL));
	struct bw_certcache_stats s = stats(cc);
	assert_true(s.bytes <= c.max_bytes);
	assert_true(s.evictions >= 1);
	assert_true(s.entries >= 1);
	/* a certificate bigger than the whole cap is handed out, never kept */
	bool hit;
	struct bw_certcache_entry *big = get_name(cc, "leaf-manysan.der", &hit);
	assert_int_equal(big->info.san_total, 3000);
	s = stats(cc);
	assert_int_equal(s.too_big, 1);
	assert_true(s.bytes <= c.max_bytes);
	bw_certcache_put(cc, big);
	assert_int_equal(stats(cc).orphans, 0);
	bw_certcache_put(cc, get_name(cc, "leaf-manysan.der", &hit));
	assert_false(hit);
	bw_certcache_free(cc);
}

/* A private-CA trust store for the verdict tests (no system bundle: fast). */
static struct bw_x509_trust *priv_trust(void)
{
	char err[256], root[128];
	snprintf(root, sizeof(root), "%s/root.pem", certdir);
	const char *files[] = { root };
	struct bw_x509_trust_config c = { .extra_ca_files = files, .n_extra = 1, .no_system = true };
	struct bw_x509_trust *t = bw_x509_trust_new_ex(&c, err, sizeof(err));
	assert_non_null(t);
	return t;
}

#define SEC ((bw_time_t)BW_NSEC_PER_SEC)

/* The cache's answer for chain ch (xs: its certificates) and o is what a
 * fresh bw_x509_verify says; returns whether it was served from the cache. */
static bool verify_as_fresh(struct bw_certcache *cc, const struct bw_x509_trust *t,
			    struct bw_certcache_entry *const *ch, struct x509_st *const *xs, size_t n,
			    const struct bw_x509_verify_opts *o)
{
	struct bw_x509_verdict v, ref;
	bool hit;
	assert_int_equal(bw_certcache_verify(cc, t, ch, n, o, &v, &hit), BW_OK);
	assert_int_equal(bw_x509_verify(t, xs, n, o, &ref), BW_OK);
	assert_memory_equal(&v, &ref, sizeof(v));
	return hit;
}

static void test_verdict_cache(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_certcache *cc = bw_certcache_new(NULL, NULL);
	struct bw_x509_trust *t = priv_trust();
	bool hit;
	struct bw_certcache_entry *ch[2] = { get_name(cc, "leaf-expired.der", &hit), get_name(cc, "int.der", &hit) };
	struct x509_st *xs[2] = { ch[0]->x509, ch[1]->x509 };
	bw_time_t t2016 = (bw_time_t)1464739200 * SEC;
	struct bw_x509_verify_opts o = { .time = t2016, .name = "www.example.com", .strict_order = true };
	struct bw_x509_verdict v, ref;

	/* first: verified; second: served, identical to a fresh verification */
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_false(hit);
	assert_int_equal(v.chain, BW_X509_OK);
	o.time = t2016 + 3600 * SEC + 17;
	o.clock = BW_X509_CLOCK_NOW;
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_true(hit);
	assert_int_equal(bw_x509_verify(t, xs, 2, &o, &ref), BW_OK);
	assert_memory_equal(&v, &ref, sizeof(v));
	assert_int_equal(v.time, o.time); /* the caller's time and clock, not the cached ones */
	assert_int_equal(v.clock, BW_X509_CLOCK_NOW);
	struct bw_certcache_stats s = stats(cc);
	assert_int_equal(s.verdict_hits, 1);
	assert_int_equal(s.verdict_misses, 1);
	assert_int_equal(s.verdicts, 1);

	/* the last second of the leaf is still served; one second later the
	 * cached "ok" must not be: re-verified, expired */
	o.time = (bw_time_t)1483228799 * SEC + 999999999;
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_true(hit);
	assert_int_equal(v.chain, BW_X509_OK);
	o.time = (bw_time_t)1483228800 * SEC; /* notAfter itself: expired */
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_false(hit);
	assert_int_equal(v.chain, BW_X509_EXPIRED);
	assert_int_equal(stats(cc).verdict_stale, 1);
	assert_int_equal(stats(cc).verdicts, 1); /* replaced in place */
	/* and before notBefore: not yet valid, not a cached answer */
	o.time = (bw_time_t)1451606399 * SEC;
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_false(hit);
	assert_int_equal(v.chain, BW_X509_NOT_YET_VALID);

	/* the name is checked on every call, on top of the cached chain verdict:
	 * another name is a hit, with that name's own answer */
	o.time = t2016;
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_false(hit); /* the window moved to before notBefore */
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_true(hit);
	assert_true(v.name_checked);
	assert_int_equal(v.name, BW_X509_OK);
	const char *names[] = { "other.example.net", "WWW.Example.COM.", "*.example.com", "example.com", "",
				NULL, "192.0.2.1", "www.example.com" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		o.name = names[i];
		for (int nocn = 0; nocn < 2; nocn++) {
			o.no_cn_fallback = nocn;
			assert_true(verify_as_fresh(cc, t, ch, xs, 2, &o));
		}
	}
	o.no_cn_fallback = false;
	/* every (name, no_cn_fallback) above was worked out once, then served */
	uint64_t nm = stats(cc).name_misses, nh = stats(cc).name_hits;
	assert_int_equal(nm, 2 * 6); /* six names (not "" nor NULL), two ways each */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		o.name = names[i];
		assert_true(verify_as_fresh(cc, t, ch, xs, 2, &o));
	}
	assert_int_equal(stats(cc).name_misses, nm);
	assert_int_equal(stats(cc).name_hits, nh + 6);
	o.name = "other.example.net";
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_int_equal(v.name, BW_X509_NAME_MISMATCH);
	assert_int_equal(v.chain, BW_X509_OK);
	o.name = NULL;
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_false(v.name_checked);
	assert_int_equal(stats(cc).verdicts, 1);

	/* each part of the key matters: the options, the order */
	o.name = "www.example.com";
	o.client = true;
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_false(hit);
	assert_int_equal(bw_x509_verify(t, xs, 2, &o, &ref), BW_OK);
	assert_memory_equal(&v, &ref, sizeof(v));
	o.client = false;
	struct bw_certcache_entry *rev[2] = { ch[1], ch[0] };
	assert_int_equal(bw_certcache_verify(cc, t, rev, 2, &o, &v, &hit), BW_OK);
	assert_false(hit);
	assert_int_equal(bw_certcache_verify(cc, t, ch, 1, &o, &v, &hit), BW_OK);
	assert_false(hit);
	assert_int_equal(v.chain, BW_X509_UNKNOWN_ISSUER);

	/* another trust store is another key */
	struct bw_x509_trust *t2 = priv_trust();
	assert_int_equal(bw_certcache_verify(cc, t2, ch, 2, &o, &v, &hit), BW_OK);
	assert_false(hit);
	bw_x509_trust_free(t2);

	/* bad arguments */
	struct bw_certcache_entry *bad[2] = { ch[0], NULL };
	assert_int_equal(bw_certcache_verify(cc, t, bad, 2, &o, &v, &hit), BW_EINVAL);
	assert_int_equal(bw_certcache_verify(NULL, t, ch, 2, &o, &v, &hit), BW_EINVAL);
	assert_int_equal(bw_certcache_verify(cc, t, ch, 0, &o, &v, &hit), BW_OK);
	assert_int_equal(v.chain, BW_X509_NO_CERT);

	bw_certcache_forget_verdicts(cc);
	assert_int_equal(stats(cc).verdicts, 0);
	assert_int_equal(bw_certcache_verify(cc, t, ch, 2, &o, &v, &hit), BW_OK);
	assert_false(hit);
	bw_certcache_forget_verdicts(NULL);

	bw_certcache_put(cc, ch[0]);
	bw_certcache_put(cc, ch[1]);
	bw_x509_trust_free(t);
	bw_certcache_free(cc);
}

static void test_verdict_bounds(void **state)
{
	(void)state;
	NEED_CERTS();
	/* one set of four: a fifth distinct key evicts the least recently used */
	struct bw_certcache_config c = { .max_verdicts = 1 };
	struct bw_certcache *cc = bw_certcache_new(&c, NULL);
	struct bw_x509_trust *t = priv_trust();
	bool hit;
	struct bw_certcache_entry *ch[2] = { get_name(cc, "leaf-valid.der", &hit), get_name(cc, "int.der", &hit) };
	struct bw_x509_verify_opts o = { .time = (bw_time_t)1893456000 * SEC };
	struct bw_x509_verdict v;
	/* five distinct keys (the name is not one: see test_verdict_cache) */
	struct key {
		bool client, strict;
		size_t n;
	} keys[5] = { { false, false, 2 }, { true, false, 2 }, { false, true, 2 }, { true, true, 2 }, { false, false, 1 } };
#define USE(i) (o.client = keys[i].client, o.strict_order = keys[i].strict, bw_certcache_verify(cc, t, ch, keys[i].n, &o, &v, &hit))
	for (int i = 0; i < 4; i++) {
		assert_int_equal(USE(i), BW_OK);
		assert_false(hit);
	}
	assert_int_equal(USE(0), BW_OK); /* 0 is now the most recent */
	assert_true(hit);
	assert_int_equal(USE(4), BW_OK); /* evicts 1 */
	assert_false(hit);
	struct bw_certcache_stats s = stats(cc);
	assert_int_equal(s.verdicts, 4);
	assert_int_equal(s.verdict_evictions, 1);
	assert_int_equal(USE(0), BW_OK);
	assert_true(hit);
	assert_int_equal(USE(1), BW_OK);
	assert_false(hit);
#undef USE
	o.client = false;
	o.strict_order = false;
	o.name = "a.example.com";
	bw_certcache_free(cc);
	/* no_verdicts: always verified */
	struct bw_certcache_config c2 = { .no_verdicts = true };
	cc = bw_certcache_new(&c2, NULL);
	struct bw_certcache_entry *ch2[2] = { get_name(cc, "leaf-valid.der", &hit), get_name(cc, "int.der", &hit) };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(bw_certcache_verify(cc, t, ch2, 2, &o, &v, &hit), BW_OK);
		assert_false(hit);
		assert_int_equal(v.chain, BW_X509_OK);
	}
	assert_int_equal(stats(cc).verdict_hits, 0);
	bw_certcache_put(cc, ch2[0]);
	bw_certcache_put(cc, ch2[1]);
	bw_certcache_free(cc);
	bw_x509_trust_free(t);
}

/* A name's answer belongs to a leaf: the same SNI against another leaf is
 * worked out again, and a leaf's answers do not leak to the next. */
static void test_name_answers_per_leaf(void **state)
{
	(void)state;
	NEED_CERTS();
	struct bw_certcache *cc = bw_certcache_new(NULL, NULL);
	struct bw_x509_trust *t = priv_trust();
	bool hit;
	const char *leaves[] = { "leaf-valid.der", "leaf-wrongname.der", "leaf-wildcard.der", "leaf-ip.der" };
	const char *names[] = { "www.example.com", "other.example.net", "a.example.com", "192.0.2.10", "example.com" };
	struct bw_certcache_entry *in = get_name(cc, "int.der", &hit);
	struct bw_x509_verify_opts o = { .time = (bw_time_t)1893456000 * SEC };
	for (int round = 0; round < 2; round++) {
		for (size_t l = 0; l < sizeof(leaves) / sizeof(leaves[0]); l++) {
			struct bw_certcache_entry *ch[2] = { get_name(cc, leaves[l], &hit), in };
			struct x509_st *xs[2] = { ch[0]->x509, in->x509 };
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
				o.name = names[i];
				(void)verify_as_fresh(cc, t, ch, xs, 2, &o);
			}
			bw_certcache_put(cc, ch[0]);
		}
		uint64_t want = 4 * 5;
		assert_int_equal(stats(cc).name_misses, want);
		assert_int_equal(stats(cc).name_hits, round ? want : 0);
	}
	bw_certcache_put(cc, in);
	bw_x509_trust_free(t);
	bw_certcache_free(cc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_parse_per_distinct_der),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_references_outlive_eviction),
		cmocka_unit_test(test_negative_entries),
		cmocka_unit_test(test_many_distinct),
		cmocka_unit_test(test_byte_cap),
		cmocka_unit_test(test_verdict_cache),
		cmocka_unit_test(test_verdict_bounds),
		cmocka_unit_test(test_name_answers_per_leaf),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
