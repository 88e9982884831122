/* SPDX-License-Identifier: MIT */
/* test_refdata.c: takeover, CAA and cloud-range tables: the shipped files and every load error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../sensor/refdata.h"

#define TKO_HDR "service\tprovider_group\trecord_type\tpattern\tmatch\tstatus\tstatus_source\tunclaimed_evidence\tpassive_visibility\thttp_fingerprint\thttp_status\treference\tsources\tnotes\n"
#define CAA_HDR "ca_owner\tissuer_o_values\texample_issuer_cns\tcaa_issuer_domains\tnotes\tsources\n"
#define CLOUD_HDR "prefix\tprovider\tservice\tregion\textra\tsource_file\tsource_date\n"

/* A takeover row with the usual tail. */
#define TROW(svc, rt, pat, match, status) svc "\t\t" rt "\t" pat "\t" match "\t" status "\tEO\tNXDOMAIN\tdns\t\t\t\tEO\t\n"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct bw_ip ip_of(const char *s)
{
	struct bw_ip ip = { 0 };
	ip.family = strchr(s, ':') ? 6 : 4;
	assert_int_equal(inet_pton(ip.family == 4 ? AF_INET : AF_INET6, s, ip.a), 1);
	return ip;
}

/* ---- takeover ---- */

static struct bw_takeover_db *tko;

static int tko_setup(void **state)
{
	(void)state;
	char err[256];
	double t0 = now();
	int rc = bw_takeover_load("data/takeover-services.tsv", &tko, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	fprintf(stderr, "takeover-services.tsv: %zu rows in %.1f ms\n", bw_takeover_count(tko), (now() - t0) * 1e3);
	return 0;
}

static int tko_teardown(void **state)
{
	(void)state;
	bw_takeover_free(tko);
	return 0;
}

static const struct bw_takeover *cname(const char *n)
{
	return bw_takeover_match(tko, n, strlen(n), 5);
}

static void test_tko_shipped(void **state)
{
	(void)state;
	assert_int_equal(bw_takeover_count(tko), 326);
	const struct bw_takeover *m = cname("my-bucket.s3.amazonaws.com");
	assert_non_null(m);
	assert_string_equal(m->service, "AWS/S3");
	assert_string_equal(m->pattern, "s3.amazonaws.com"); /* the longer suffix beats amazonaws.com */
	assert_int_equal(m->status, BW_TKO_VULNERABLE);
	assert_true(m->vulnerable);
	assert_false(m->passive_dns); /* evidence is an HTTP body */

	m = cname("contoso-app.azurewebsites.net");
	assert_non_null(m);
	assert_string_equal(m->service, "Microsoft Azure");
	assert_int_equal(m->evidence, BW_TKO_EV_NXDOMAIN);
	assert_int_equal(m->visibility, BW_TKO_VIS_DNS);
	assert_true(m->passive_dns);
	/* case and a trailing dot do not matter */
	assert_ptr_equal(cname("Contoso-App.AzureWebsites.NET."), m);
	/* the suffix is matched on a label boundary only */
	assert_null(cname("notazurewebsites.net"));
	assert_null(cname("azurewebsites.net.example.com"));

	m = cname("d111111abcdef8.cloudfront.net");
	assert_non_null(m);
	assert_string_equal(m->service, "Cloudfront");
	assert_int_equal(m->status, BW_TKO_NOT_VULNERABLE);
	assert_false(m->vulnerable);

	assert_null(cname("www.example.com"));
	assert_null(cname("com"));
	assert_null(cname(""));
	assert_null(bw_takeover_match(tko, "x", 0, 5));

	/* the EC2 regex is more specific than the amazonaws.com suffix */
	m = cname("ec2-203-0-113-25.compute-1.amazonaws.com");
	assert_non_null(m);
	assert_string_equal(m->service, "AWS/EC2");
	assert_int_equal(m->match, BW_TKO_MATCH_REGEX);
	m = cname("env.eu-west-1.elasticbeanstalk.com");
	assert_non_null(m);
	assert_string_equal(m->service, "AWS/Elastic Beanstalk");
	assert_true(m->passive_dns);

	/* NS rows: regex, glob, exact, and the record type matters */
	m = bw_takeover_match(tko, "ns-1234.awsdns-56.org", 21, 2);
	assert_non_null(m);
	assert_string_equal(m->service, "AWS Route 53");
	assert_true(m->passive_dns); /* NS_NO_ZONE with dns-partial */
	assert_int_equal(m->evidence, BW_TKO_EV_NS_NO_ZONE);
	m = bw_takeover_match(tko, "kate.ns.cloudflare.com", 22, 2);
	assert_non_null(m);
	assert_string_equal(m->service, "Cloudflare");
	assert_int_equal(m->match, BW_TKO_MATCH_GLOB);
	m = bw_takeover_match(tko, "dns2.p07.nsone.net", 18, 2);
	assert_non_null(m);
	assert_int_equal(m->status, BW_TKO_REGISTRATION_CLOSED);
	assert_null(bw_takeover_match(tko, "foo.azurewebsites.net", 21, 2));
	assert_null(bw_takeover_match(tko, "kate.ns.cloudflare.com", 22, 5));

	/* address rows */
	struct bw_ip ip = ip_of("185.199.108.153");
	m = bw_takeover_match_ip(tko, &ip);
	assert_non_null(m);
	assert_string_equal(m->service, "Github");
	ip = ip_of("2606:50c0:8001::153");
	assert_non_null(bw_takeover_match_ip(tko, &ip));
	ip = ip_of("185.199.108.154");
	assert_null(bw_takeover_match_ip(tko, &ip));

	assert_string_equal(bw_tko_status_name(BW_TKO_EDGE_CASE), "Edge case");
	assert_string_equal(bw_tko_status_name(99), "?");
	assert_non_null(bw_takeover_at(tko, 0));
	assert_null(bw_takeover_at(tko, 326));
}

static void test_tko_specificity(void **state)
{
	(void)state;
	static const char f[] = TKO_HDR
		TROW("Wide", "CNAME", "example.com", "suffix", "Vulnerable")
		TROW("Narrow", "CNAME", "b.example.com", "suffix", "Edge case")
		TROW("Exact", "CNAME", "x.b.example.com", "exact", "Not vulnerable")
		TROW("Re", "CNAME", "^zz[0-9]+\\.b\\.example\\.com$", "regex", "unrated")
		TROW("Sub", "CNAME", "-cdn-", "substring", "unrated")
		TROW("Glob", "CNAME", "ab*.example.com", "glob", "unrated")
		TROW("Tie1", "CNAME", "tie.org", "suffix", "unrated")
		TROW("Tie2", "CNAME", "tie*org", "glob", "unrated")
		TROW("Nothing", "CNAME", "", "none", "Vulnerable")
		"# a comment line\n"
		"\n"
		TROW("ReAlt", "NS", "^(ns|dns)[0-9]?\\.(a|bb)\\.net$", "regex", "unrated")
		TROW("ReClass", "NS", "^[^.]+\\.x[[:digit:]]*y?\\.org$", "regex", "unrated");
	char err[256];
	struct bw_takeover_db *db;
	assert_int_equal(bw_takeover_load_buffer("t.tsv", f, sizeof(f) - 1, &db, err, sizeof(err)), BW_OK);
#define M(n, rt) bw_takeover_match(db, n, strlen(n), rt)
#define SVC(n, rt) (M(n, rt) ? M(n, rt)->service : "-")
	assert_string_equal(SVC("example.com", 5), "Wide");
	assert_string_equal(SVC("a.example.com", 5), "Wide");
	assert_string_equal(SVC("b.example.com", 5), "Narrow");
	assert_string_equal(SVC("y.b.example.com", 5), "Narrow");
	assert_string_equal(SVC("x.b.example.com", 5), "Exact");
	assert_string_equal(SVC("q.x.b.example.com", 5), "Narrow"); /* exact is not a suffix */
	assert_string_equal(SVC("zz42.b.example.com", 5), "Re");    /* 17 literals > 13 */
	assert_string_equal(SVC("zz.b.example.com", 5), "Narrow");  /* [0-9]+ needs a digit */
	assert_string_equal(SVC("azz42.b.example.com", 5), "Narrow"); /* ^ anchors */
	assert_string_equal(SVC("a-cdn-b.net", 5), "Sub");
	assert_string_equal(SVC("abc.example.com", 5), "Glob");     /* 14 literals > 11 */
	assert_string_equal(SVC("ab.example.com", 5), "Glob");
	assert_string_equal(SVC("x.tie.org", 5), "Tie1");           /* 7 = 7: the earlier line */
	assert_string_equal(SVC("tiexorg", 5), "Tie2");
	assert_string_equal(SVC("ns.a.net", 2), "ReAlt");
	assert_string_equal(SVC("dns7.bb.net", 2), "ReAlt");
	assert_string_equal(SVC("dns77.bb.net", 2), "-");
	assert_string_equal(SVC("ns.b.net", 2), "-");
	assert_string_equal(SVC("ns.a.net.x", 2), "-");
	assert_string_equal(SVC("host.x12y.org", 2), "ReClass");
	assert_string_equal(SVC("HOST.X.ORG", 2), "ReClass");
	assert_string_equal(SVC("a.b.x.org", 2), "-");
	assert_string_equal(SVC("host.xay.org", 2), "-");
	const struct bw_takeover *n = bw_takeover_at(db, 8);
	assert_string_equal(n->service, "Nothing");
	assert_string_equal(n->pattern, "");
	assert_int_equal(n->line, 10);
	assert_int_equal(bw_takeover_at(db, 9)->line, 13); /* comment and empty line skipped */
#undef SVC
#undef M
	bw_takeover_free(db);
}

struct bad {
	const char *body;  /* after the header */
	int rc;
	const char *msg;
};

static void test_tko_errors(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{ "a\tb\n", BW_EMALF, "t.tsv:2: expected 14 TAB-separated columns, got 2" },
		{ TROW("S", "CNAME", "x.com", "suffix", "Vulnerable") TROW("S", "CNAME", "y.com", "suffix", "Maybe"),
		  BW_EMALF, "t.tsv:3: unknown status 'Maybe'" },
		{ TROW("S", "TXT", "x.com", "suffix", "Vulnerable"), BW_EMALF, "t.tsv:2: unknown record_type 'TXT'" },
		{ TROW("S", "CNAME", "x.com", "prefix", "Vulnerable"), BW_EMALF, "t.tsv:2: unknown match 'prefix'" },
		{ TROW("S", "CNAME", "X.com", "suffix", "Vulnerable"), BW_EMALF,
		  "t.tsv:2: bad pattern 'X.com': not lower case" },
		{ TROW("S", "CNAME", "a..com", "exact", "Vulnerable"), BW_EMALF,
		  "t.tsv:2: bad pattern 'a..com': empty label" },
		{ TROW("S", "CNAME", "a.com.", "suffix", "Vulnerable"), BW_EMALF,
		  "t.tsv:2: bad pattern 'a.com.': empty label or trailing dot" },
		{ TROW("S", "CNAME", "a b", "glob", "Vulnerable"), BW_EMALF,
		  "t.tsv:2: bad pattern 'a b': character 0x20" },
		{ TROW("S", "CNAME", "(ab", "regex", "Vulnerable"), BW_EMALF, "t.tsv:2: bad pattern '(ab': missing )" },
		{ TROW("S", "CNAME", "a{2}", "regex", "Vulnerable"), BW_EMALF,
		  "t.tsv:2: bad pattern 'a{2}': {m,n} is not supported" },
		{ TROW("S", "CNAME", "*a", "regex", "Vulnerable"), BW_EMALF, "t.tsv:2: bad pattern '*a': nothing to repeat" },
		{ TROW("S", "CNAME", "a\\d", "regex", "Vulnerable"), BW_EMALF,
		  "t.tsv:2: bad pattern 'a\\d': unsupported escape" },
		{ TROW("S", "CNAME", "[z-a]", "regex", "Vulnerable"), BW_EMALF,
		  "t.tsv:2: bad pattern '[z-a]': bad range in [ ]" },
		{ TROW("S", "CNAME", "a)", "regex", "Vulnerable"), BW_EMALF, "t.tsv:2: bad pattern 'a)': unbalanced )" },
		{ TROW("S", "CNAME", "", "suffix", "Vulnerable"), BW_EMALF, "t.tsv:2: empty pattern for match 'suffix'" },
		{ TROW("S", "CNAME", "x.com", "none", "Vulnerable"), BW_EMALF, "t.tsv:2: match 'none' with a pattern" },
		{ TROW("S", "CNAME", "1.2.3.4", "ip", "Vulnerable"), BW_EMALF,
		  "t.tsv:2: match 'ip' needs record_type A or AAAA" },
		{ TROW("S", "A", "1.2.3.x", "ip", "Vulnerable"), BW_EMALF, "t.tsv:2: bad IPv4 address '1.2.3.x'" },
		{ TROW("S", "AAAA", "1.2.3.4", "ip", "Vulnerable"), BW_EMALF, "t.tsv:2: bad IPv6 address '1.2.3.4'" },
		{ TROW("", "CNAME", "x.com", "suffix", "Vulnerable"), BW_EMALF, "t.tsv:2: empty service" },
		{ TROW("S", "CNAME", "x.com", "suffix", "Vulnerable") "\n" TROW("S", "CNAME", "x.com", "suffix", "Edge case"),
		  BW_EMALF, "t.tsv:4: duplicate row (same service, record_type and pattern as line 2)" },
		{ TROW("S", "CNAME", "x.com", "suffix", "Vulnerable") TROW("T", "CNAME", "x.com", "suffix", "Vulnerable"),
		  BW_EMALF, "t.tsv:3: conflicting row: suffix pattern 'x.com' already belongs to 'S' (line 2)" },
		{ TROW("S", "CNAME", "", "none", "Vulnerable") TROW("S", "CNAME", "", "none", "Vulnerable"), BW_EMALF,
		  "t.tsv:3: duplicate row (same service, record_type and pattern as line 2)" },
		{ "S\t\tCNAME\tx.com\tsuffix\tVulnerable\tEO\tNXDOMAIN,DNS\tdns\t\t\t\tEO\t\n", BW_EMALF,
		  "t.tsv:2: unknown unclaimed_evidence value 'DNS'" },
		{ "S\t\tCNAME\tx.com\tsuffix\tVulnerable\tEO\tNXDOMAIN\tsmoke\t\t\t\tEO\t\n", BW_EMALF,
		  "t.tsv:2: unknown passive_visibility value 'smoke'" },
		{ "S\t\tCNAME\tx.com\tsuffix\tVulnerable\tEO\tNXDOMAIN\tdns\t\t4040\t\tEO\t\n", BW_EMALF,
		  "t.tsv:2: bad http_status '4040'" },
		{ "S\t\tCNAME\tx.com\tsuffix\tVulnerable\tEO\tNXD\0MAIN\tdns\t\t\t\tEO\t\n", BW_EMALF,
		  "t.tsv:2: NUL or CR byte in line" },
	};
	char buf[4096], err[256];
	for (size_t i = 0; i < BW_ARRAY_SIZE(cases); i++) {
		struct bw_takeover_db *db = (void *)1;
		size_t hl = strlen(TKO_HDR), bl;
		memcpy(buf, TKO_HDR, hl);
		/* the NUL case: copy through the embedded NUL */
		bl = strstr(cases[i].msg, "NUL") ? strlen(cases[i].body) + 1 + strlen(cases[i].body + strlen(cases[i].body) + 1)
						: strlen(cases[i].body);
		memcpy(buf + hl, cases[i].body, bl);
		int rc = bw_takeover_load_buffer("t.tsv", buf, hl + bl, &db, err, sizeof(err));
		if (rc != cases[i].rc || strcmp(err, cases[i].msg))
			fprintf(stderr, "case %zu: rc %d, '%s'\n", i, rc, err);
		assert_int_equal(rc, cases[i].rc);
		assert_string_equal(err, cases[i].msg);
		assert_null(db);
	}

	/* header problems and limits */
	struct bw_takeover_db *db;
	assert_int_equal(bw_takeover_load_buffer("t.tsv", "", 0, &db, err, sizeof(err)), BW_EMALF);
	assert_string_equal(err, "t.tsv:1: empty file (no header line)");
	static const char h[] = "service\tprovider\trecord_type\tpattern\tmatch\tstatus\tstatus_source\tunclaimed_evidence\tpassive_visibility\thttp_fingerprint\thttp_status\treference\tsources\tnotes\n";
	assert_int_equal(bw_takeover_load_buffer("t.tsv", h, sizeof(h) - 1, &db, err, sizeof(err)), BW_EMALF);
	assert_string_equal(err, "t.tsv:1: header: column 2 should be 'provider_group', got 'provider'");
	size_t big = strlen(TKO_HDR) + BW_REFDATA_MAX_LINE + 2;
	char *long_line = malloc(big);
	assert_non_null(long_line);
	memcpy(long_line, TKO_HDR, strlen(TKO_HDR));
	memset(long_line + strlen(TKO_HDR), 'a', big - strlen(TKO_HDR));
	assert_int_equal(bw_takeover_load_buffer("t.tsv", long_line, big, &db, err, sizeof(err)), BW_ELIMIT);
	assert_string_equal(err, "t.tsv:2: line longer than 65536 bytes");
	free(long_line);
	/* a short error buffer is truncated, not overrun */
	char tiny[8];
	assert_int_equal(bw_takeover_load_buffer("t.tsv", "", 0, &db, tiny, sizeof(tiny)), BW_EMALF);
	assert_string_equal(tiny, "t.tsv:1");
	/* files */
	assert_int_equal(bw_takeover_load("/nonexistent/x.tsv", &db, err, sizeof(err)), BW_ENOENT);
	assert_string_equal(err, "/nonexistent/x.tsv: No such file or directory");
	assert_int_equal(bw_takeover_load("data", &db, err, sizeof(err)), BW_EIO);
	bw_takeover_free(NULL);
}

/* ---- CAA ---- */

static void expect_domains(const struct bw_caa_db *db, const char *o, const char *cn, const char *want)
{
	const char *const *d;
	size_t n;
	char got[1024] = "";
	int rc = bw_caa_issuer_domains_for(db, o, cn, &d, &n);
	for (size_t i = 0; rc == BW_OK && i < n; i++) {
		strcat(got, i ? " " : "");
		strcat(got, d[i]);
	}
	if (!want) {
		assert_int_equal(rc, BW_ENOENT);
		assert_null(d);
		assert_int_equal(n, 0);
		return;
	}
	assert_int_equal(rc, BW_OK);
	assert_string_equal(got, want);
}

static void test_caa_shipped(void **state)
{
	(void)state;
	char err[256];
	struct bw_caa_db *db;
	assert_int_equal(bw_caa_load("data/caa-issuers.tsv", &db, err, sizeof(err)), BW_OK);
	assert_int_equal(bw_caa_count(db), 91);
	expect_domains(db, "Let's Encrypt", "R11", "letsencrypt.org");
	expect_domains(db, "let's encrypt", NULL, "letsencrypt.org");
	expect_domains(db, NULL, "E6", "letsencrypt.org");
	expect_domains(db, NULL, "Let's Encrypt Authority X3", "letsencrypt.org"); /* from "(older: ...)" */
	expect_domains(db, "Google Trust Services", "WR1", "pki.goog");
	expect_domains(db, "Google Trust Services LLC", NULL, "pki.goog");
	expect_domains(db, NULL, "GTS CA 1C3", "pki.goog");
	const char *dc = "digicert.com www.digicert.com thawte.com geotrust.com rapidssl.com symantec.com "
			 "digitalcertvalidation.com digicert.ne.jp cybertrust.ne.jp quovadisglobal.com "
			 "1and1.digitalcertvalidation.com intermediatecertificate.digitalcertvalidation.com "
			 "stratossl.digitalcertvalidation.com volusion.digitalcertvalidation.com";
	expect_domains(db, "DigiCert Inc", "DigiCert Global G2 TLS RSA SHA256 2020 CA1", dc);
	expect_domains(db, "DigiCert, Inc.", NULL, dc);
	expect_domains(db, "DIGICERT INC", NULL, dc);
	expect_domains(db, "  DigiCert;  Inc ", NULL, dc);
	/* Microsoft Corporation: two rows, told apart by the CN, else their union */
	expect_domains(db, "Microsoft Corporation", "Microsoft Azure RSA TLS Issuing CA 07", "digicert.com microsoft.com");
	expect_domains(db, "Microsoft Corporation", "Microsoft TLS RSA Root G2 subordinate CAs", "microsoft.com");
	expect_domains(db, "Microsoft Corporation", "Something Else", "digicert.com microsoft.com");
	assert_null(bw_caa_issuer_for(db, "Microsoft Corporation", "Something Else"));
	/* CN prefixes written as ranges or ellipses */
	expect_domains(db, NULL, "Amazon RSA 2048 M03", "amazon.com amazontrust.com awstrust.com amazonaws.com aws.amazon.com");
	expect_domains(db, NULL, "Amazon", "amazon.com amazontrust.com awstrust.com amazonaws.com aws.amazon.com");
	expect_domains(db, NULL, "Apple Public Server RSA CA 12 - G1", "pki.apple.com");
	expect_domains(db, "Sectigo Limited", NULL, "sectigo.com comodoca.com comodo.com usertrust.com trust-provider.com");
	expect_domains(db, "ZeroSSL", "ZeroSSL RSA Domain Secure Site CA", "sectigo.com");
	/* long-tail rows are keyed by their CCADB owner name */
	expect_domains(db, "Hongkong Post", NULL, "ecert.gov.hk hongkongpost.gov.hk");
	/* unknown */
	expect_domains(db, "Example CA Ltd", "Example Issuing CA", NULL);
	expect_domains(db, NULL, NULL, NULL);
	expect_domains(db, NULL, "R", NULL);
	expect_domains(db, NULL, "Amazo", NULL);
	const struct bw_caa_ca *ca = bw_caa_issuer_for(db, "Let's Encrypt", NULL);
	assert_non_null(ca);
	assert_string_equal(ca->ca_owner, "Let's Encrypt (ISRG)");
	assert_int_equal(ca->line, 2);

	assert_true(bw_caa_domain_known(db, "letsencrypt.org"));
	assert_true(bw_caa_domain_known(db, "PKI.GOOG"));
	assert_true(bw_caa_domain_known(db, "pki.goog."));
	assert_true(bw_caa_domain_known(db, "stratossl.digitalcertvalidation.com"));
	assert_false(bw_caa_domain_known(db, "sub.letsencrypt.org")); /* exact only */
	assert_false(bw_caa_domain_known(db, "example.com"));
	assert_false(bw_caa_domain_known(db, ""));
	bw_caa_free(db);
	bw_caa_free(NULL);
}

static void test_caa_errors(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{ "A\tB\tC\n", BW_EMALF, "c.tsv:2: expected 6 TAB-separated columns, got 3" },
		{ "\tO\t\tx.com\t\t\n", BW_EMALF, "c.tsv:2: empty ca_owner" },
		{ "A\tO\t\t\t\t\n", BW_EMALF, "c.tsv:2: empty caa_issuer_domains" },
		{ "A\tO\t\tx.com, bad_domain.com\t\t\n", BW_EMALF, "c.tsv:2: bad CAA issuer domain 'bad_domain.com'" },
		{ "A\tO\t\tx.com,, y.com\t\t\n", BW_EMALF, "c.tsv:2: bad CAA issuer domain ''" },
		{ "A\tO\t\tx..com\t\t\n", BW_EMALF, "c.tsv:2: bad CAA issuer domain 'x..com'" },
		{ "A\tO\t\tx.com.\t\t\n", BW_EMALF, "c.tsv:2: bad CAA issuer domain 'x.com.'" },
		/* a 64-byte label (found by fuzz_refdata: it used to pass half-copied) */
		{ "A\tO\t\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\t\t\n", BW_EMALF,
		  "c.tsv:2: bad CAA issuer domain 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com'" },
		{ "A\tO\t\tx.com, X.COM\t\t\n", BW_EMALF, "c.tsv:2: duplicate CAA issuer domain 'x.com'" },
		{ "A\tO\t\tx.com\t\t\nB\tP\t\ty.com\t\t\n\nA\tQ\t\tz.com\t\t\n", BW_EMALF,
		  "c.tsv:5: duplicate ca_owner 'A' (first at line 2)" },
	};
	char buf[1024], err[256];
	for (size_t i = 0; i < BW_ARRAY_SIZE(cases); i++) {
		struct bw_caa_db *db;
		snprintf(buf, sizeof(buf), "%s%s", CAA_HDR, cases[i].body);
		int rc = bw_caa_load_buffer("c.tsv", buf, strlen(buf), &db, err, sizeof(err));
		if (rc != cases[i].rc || strcmp(err, cases[i].msg))
			fprintf(stderr, "case %zu: rc %d, '%s'\n", i, rc, err);
		assert_int_equal(rc, cases[i].rc);
		assert_string_equal(err, cases[i].msg);
		assert_null(db);
	}
	/* the same O in two rows is allowed: CN hints decide, else the union */
	static const char ok[] = CAA_HDR "A\tShared\tAlpha CA 1/2\ta.com, c.com\t\t\n"
				 "B\tShared; Other Inc.\tBeta CA\tb.com, c.com\t\t\n";
	struct bw_caa_db *db;
	assert_int_equal(bw_caa_load_buffer("c.tsv", ok, sizeof(ok) - 1, &db, err, sizeof(err)), BW_OK);
	expect_domains(db, "Shared", "Alpha CA 2", "a.com c.com");
	expect_domains(db, "Shared", "Beta CA", "b.com c.com");
	expect_domains(db, "Shared", NULL, "a.com c.com b.com");
	expect_domains(db, "Other, Inc", NULL, "b.com c.com");
	expect_domains(db, NULL, "Alpha CA", "a.com c.com");
	bw_caa_free(db);
}

/* ---- cloud ranges ---- */

static void test_cloud_shipped(void **state)
{
	(void)state;
	char err[256];
	struct bw_cloud_db *db;
	double t0 = now();
	assert_int_equal(bw_cloud_load("data/cloud-ranges.tsv", &db, err, sizeof(err)), BW_OK);
	double ms = (now() - t0) * 1e3;
	fprintf(stderr, "cloud-ranges.tsv: %zu rows, %zu prefixes, %zu bytes, loaded in %.0f ms\n",
		bw_cloud_count(db), bw_cloud_prefixes(db), bw_cloud_memory(db), ms);
	assert_true(ms < 5000); /* well under a second optimised; sanitizers are slower */
	assert_int_equal(bw_cloud_count(db), 75436);

	struct bw_ip ip = ip_of("1.178.4.77"); /* listed as AMAZON, EC2 and S3 */
	const struct bw_cloud_range *r = bw_cloud_lookup(db, &ip);
	assert_non_null(r);
	assert_string_equal(r->provider, "AWS");
	assert_string_equal(r->service, "S3");
	assert_string_equal(r->region, "us-east-1");
	assert_int_equal(r->plen, 24);
	const struct bw_cloud_range *all[16];
	assert_int_equal(bw_cloud_lookup_all(db, &ip, all, 16), 3);
	assert_string_equal(all[1]->service, "EC2");
	assert_string_equal(all[2]->service, "AMAZON");
	assert_int_equal(bw_cloud_lookup_all(db, &ip, all, 2), 2);

	ip = ip_of("15.177.68.1"); /* AMAZON, EC2, ROUTE53_HEALTHCHECKS_PUBLISHING */
	assert_string_equal(bw_cloud_lookup(db, &ip)->service, "ROUTE53_HEALTHCHECKS_PUBLISHING");
	ip = ip_of("20.60.123.5"); /* AzureCloud.indonesiacentral and Storage.IndonesiaCentral */
	assert_string_equal(bw_cloud_lookup(db, &ip)->service, "Storage.IndonesiaCentral");
	ip = ip_of("35.190.0.1"); /* Google Cloud /18 inside goog.json's /13: the longer one */
	r = bw_cloud_lookup(db, &ip);
	assert_string_equal(r->provider, "Google Cloud");
	assert_int_equal(bw_cloud_lookup_all(db, &ip, all, 16), 2);
	assert_string_equal(all[1]->provider, "Google");
	ip = ip_of("8.8.8.8");
	assert_string_equal(bw_cloud_lookup(db, &ip)->provider, "Google");
	ip = ip_of("104.16.1.1");
	assert_string_equal(bw_cloud_lookup(db, &ip)->provider, "Cloudflare");
	ip = ip_of("2600:1f68:e000::1");
	r = bw_cloud_lookup(db, &ip);
	assert_string_equal(r->service, "S3");
	assert_int_equal(r->family, 6);
	ip = ip_of("10.0.0.1");
	assert_null(bw_cloud_lookup(db, &ip));
	ip = ip_of("fe80::1");
	assert_null(bw_cloud_lookup(db, &ip));
	struct bw_ip none = { 0 };
	assert_null(bw_cloud_lookup(db, &none));
	bw_cloud_free(db);
}

static void test_cloud_errors(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{ "1.2.3.0/24\tX\n", BW_EMALF, "r.tsv:2: expected 7 TAB-separated columns, got 2" },
		{ "1.2.3.0\tX\t\t\t\t\t\n", BW_EMALF, "r.tsv:2: bad prefix '1.2.3.0'" },
		{ "1.2.3.0/24\tX\t\t\t\t\t\n1.2.3.1/24\tX\t\t\t\t\t\n", BW_EMALF,
		  "r.tsv:3: bad prefix '1.2.3.1/24': host bits set" },
		{ "1.2.3.0/33\tX\t\t\t\t\t\n", BW_EMALF, "r.tsv:2: bad prefix '1.2.3.0/33': length over 32" },
		{ "1.2.3.0/2x\tX\t\t\t\t\t\n", BW_EMALF, "r.tsv:2: bad prefix '1.2.3.0/2x': bad length" },
		{ "1.2.3.0/\tX\t\t\t\t\t\n", BW_EMALF, "r.tsv:2: bad prefix '1.2.3.0/': bad length" },
		{ "1.2.300.0/24\tX\t\t\t\t\t\n", BW_EMALF, "r.tsv:2: bad prefix '1.2.300.0/24': bad address" },
		{ "2001:db8::/129\tX\t\t\t\t\t\n", BW_EMALF, "r.tsv:2: bad prefix '2001:db8::/129': length over 128" },
		{ "2001:db8::1/64\tX\t\t\t\t\t\n", BW_EMALF, "r.tsv:2: bad prefix '2001:db8::1/64': host bits set" },
		{ "2001:db8::/32\t\t\t\t\t\t\n", BW_EMALF, "r.tsv:2: empty provider" },
		{ "10.0.0.0/8\tX\tS\tR\t\t\t\n10.0.0.0/8\tX\tT\tR\t\t\t\n10.0.0.0/8\tX\tS\tR\te\t\t\n", BW_EMALF,
		  "r.tsv:4: duplicate row (same prefix, provider, service and region as line 2)" },
	};
	char buf[1024], err[256];
	for (size_t i = 0; i < BW_ARRAY_SIZE(cases); i++) {
		struct bw_cloud_db *db;
		snprintf(buf, sizeof(buf), "%s%s", CLOUD_HDR, cases[i].body);
		int rc = bw_cloud_load_buffer("r.tsv", buf, strlen(buf), &db, err, sizeof(err));
		if (rc != cases[i].rc || strcmp(err, cases[i].msg))
			fprintf(stderr, "case %zu: rc %d, '%s'\n", i, rc, err);
		assert_int_equal(rc, cases[i].rc);
		assert_string_equal(err, cases[i].msg);
		assert_null(db);
	}
	/* ranking among rows of one prefix, and nesting */
	static const char ok[] = CLOUD_HDR
		"10.0.0.0/8\tAWS\tAMAZON\tus-east-1\t\t\t\n"
		"10.0.0.0/8\tAWS\tEC2\tus-east-1\t\t\t\n"
		"10.0.0.0/8\tAWS\tS3\t\t\t\t\n"
		"10.0.0.0/8\tAWS\tDYNAMODB\tus-east-1\t\t\t\n"
		"10.1.0.0/16\tAzure\tAzureCloud.eastus\teastus\t\t\t\n"
		"10.1.0.0/16\tAzure\tAzureMonitor.Core\t\t\t\t\n"
		"10.1.2.0/24\tGoogle\tgoog.json (all Google; includes Cloud)\t\t\t\t\n"
		"0.0.0.0/0\tEverything\t\t\t\t\t\n"
		"::/0\tEverything6\t\t\t\t\t\n";
	struct bw_cloud_db *db;
	assert_int_equal(bw_cloud_load_buffer("r.tsv", ok, sizeof(ok) - 1, &db, err, sizeof(err)), BW_OK);
	assert_int_equal(bw_cloud_prefixes(db), 5);
	const struct bw_cloud_range *all[16];
	struct bw_ip ip = ip_of("10.200.0.1");
	assert_int_equal(bw_cloud_lookup_all(db, &ip, all, 16), 5);
	assert_string_equal(all[0]->service, "DYNAMODB"); /* specific with a region */
	assert_string_equal(all[1]->service, "S3");       /* specific, no region */
	assert_string_equal(all[2]->service, "EC2");
	assert_string_equal(all[3]->service, "AMAZON");
	assert_string_equal(all[4]->provider, "Everything");
	ip = ip_of("10.1.0.1");
	assert_string_equal(bw_cloud_lookup(db, &ip)->service, "AzureMonitor.Core");
	ip = ip_of("10.1.2.1");
	assert_int_equal(bw_cloud_lookup_all(db, &ip, all, 16), 8);
	assert_string_equal(all[0]->provider, "Google");
	ip = ip_of("192.0.2.1");
	assert_string_equal(bw_cloud_lookup(db, &ip)->provider, "Everything");
	ip = ip_of("2001:db8::1");
	assert_string_equal(bw_cloud_lookup(db, &ip)->provider, "Everything6");
	bw_cloud_free(db);
	bw_cloud_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tko_tests[] = {
		cmocka_unit_test(test_tko_shipped),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tko_specificity), cmocka_unit_test(test_tko_errors),
		cmocka_unit_test(test_caa_shipped),     cmocka_unit_test(test_caa_errors),
		cmocka_unit_test(test_cloud_shipped),   cmocka_unit_test(test_cloud_errors),
	};
	int fails = cmocka_run_group_tests_name("takeover-shipped", tko_tests, tko_setup, tko_teardown);
	return fails + cmocka_run_group_tests_name("refdata", tests, NULL, NULL);
}
