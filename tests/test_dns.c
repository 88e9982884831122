/* SPDX-License-Identifier: MIT */
/*
 * test_dns.c: the DNS parser through its header. Messages are built by hand
 * on the wire (a tiny builder below) so every case states exactly which
 * bytes it feeds; expected presentation text is what dig +nosplit / ldns
 * print for the same record, minus the trailing dot on names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parsers/dns.h"

/* ---- wire builder ---- */

struct mb {
	uint8_t b[70000];
	size_t n;
};

static struct bw_dns_msg *g_msg;
static struct mb *g_mb;
static struct bw_anomalies g_an;
static char g_txt[300000];
static uint8_t g_bin[70000];

static void u8(struct mb *m, unsigned v) { m->b[m->n++] = (uint8_t)v; }
static void u16(struct mb *m, unsigned v)
{
	u8(m, v >> 8);
	u8(m, v & 0xff);
}
static void u32(struct mb *m, uint32_t v)
{
	u16(m, v >> 16);
	u16(m, v & 0xffff);
}
static void bytes(struct mb *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}
static void str(struct mb *m, const char *s) /* <character-string> */
{
	u8(m, (unsigned)strlen(s));
	bytes(m, s, strlen(s));
}
static void label(struct mb *m, const void *p, size_t n)
{
	u8(m, (unsigned)n);
	bytes(m, p, n);
}
/* "www.example.com" (plain labels) or "." for the root; returns its offset. */
static size_t name(struct mb *m, const char *s)
{
	size_t at = m->n;
	if (strcmp(s, ".") != 0) {
		while (*s) {
			const char *dot = strchr(s, '.');
			size_t l = dot ? (size_t)(dot - s) : strlen(s);
			label(m, s, l);
			s += l + (dot ? 1 : 0);
		}
	}
	u8(m, 0);
	return at;
}
static void ptr(struct mb *m, size_t off) { u16(m, 0xc000 | (unsigned)off); }

static void hdr(struct mb *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
	m->n = 0;
	u16(m, id);
	u16(m, flags);
	u16(m, qd);
	u16(m, an);
	u16(m, ns);
	u16(m, ar);
}
static void question(struct mb *m, const char *qname, unsigned type)
{
	name(m, qname);
	u16(m, type);
	u16(m, 1);
}
/* Owner must already be written. Returns where rdlen sits, for rr_end(). */
static size_t rr_begin(struct mb *m, unsigned type, unsigned cls, uint32_t ttl)
{
	u16(m, type);
	u16(m, cls);
	u32(m, ttl);
	size_t at = m->n;
	u16(m, 0);
	return at;
}
static void rr_end(struct mb *m, size_t at)
{
	size_t len = m->n - at - 2;
	m->b[at] = (uint8_t)(len >> 8);
	m->b[at + 1] = (uint8_t)len;
}

static int parse(const struct mb *m)
{
	memset(&g_an, 0, sizeof(g_an));
	return bw_dns_parse(m->b, m->n, g_msg, &g_an);
}

static unsigned an_total(void)
{
	unsigned t = 0;
	for (unsigned i = 0; i < BW_AN__COUNT; i++)
		t += (unsigned)g_an.n[i];
	return t;
}

static const char *rdtext(unsigned i)
{
	assert_true(i < g_msg->n_rr);
	int r = bw_dns_rdata_text(g_msg, &g_msg->rr[i], g_txt, sizeof(g_txt));
	assert_true(r >= 0);
	assert_int_equal((size_t)r, strlen(g_txt));
	return g_txt;
}

static const char *ntext(uint16_t off, bool lower)
{
	int r = bw_dns_name_text(g_msg, off, lower, g_txt, sizeof(g_txt));
	assert_true(r >= 0);
	return g_txt;
}

/* A response with one question "example.com" and one answer of type
 * with rdata written by fill(); the owner is a pointer to the question. */
static void one_rr(unsigned type, void (*fill)(struct mb *))
{
	struct mb *m = g_mb;
	hdr(m, 0x1234, 0x8180, 1, 1, 0, 0);
	question(m, "example.com", type);
	ptr(m, 12);
	size_t at = rr_begin(m, type, 1, 3600);
	fill(m);
	rr_end(m, at);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(g_msg->n_rr, 1);
	assert_int_equal(g_msg->rr[0].bad, 0);
	assert_int_equal(an_total(), 0);
}

/* ---- header ---- */

static void test_header_flags(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	hdr(m, 0xbeef, 0xaff5, 0, 0, 0, 0); /* QR opcode5 AA TC RD RA Z AD CD rcode 5 */
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(g_msg->id, 0xbeef);
	assert_int_equal(g_msg->flags, 0xaff5);
	assert_int_equal(g_msg->qr, 1);
	assert_int_equal(g_msg->opcode, 5);
	assert_int_equal(g_msg->aa, 1);
	assert_int_equal(g_msg->tc, 1);
	assert_int_equal(g_msg->rd, 1);
	assert_int_equal(g_msg->ra, 1);
	assert_int_equal(g_msg->z, 1);
	assert_int_equal(g_msg->ad, 1);
	assert_int_equal(g_msg->cd, 1);
	assert_int_equal(g_msg->rcode, 5);
	assert_false(g_msg->has_opt);
	assert_string_equal(bw_dns_opcode_name(g_msg->opcode), "UPDATE");
	assert_string_equal(bw_dns_rcode_name(g_msg->rcode), "REFUSED");

	hdr(m, 1, 0x0000, 0, 0, 0, 0);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(g_msg->qr + g_msg->aa + g_msg->tc + g_msg->rd + g_msg->ra + g_msg->z + g_msg->ad + g_msg->cd, 0);
}

static void test_names_tables(void **state)
{
	(void)state;
	static const char *const rc[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
					  "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI" };
	for (unsigned i = 0; i < 12; i++)
		assert_string_equal(bw_dns_rcode_name((uint16_t)i), rc[i]);
	assert_null(bw_dns_rcode_name(12));
	assert_null(bw_dns_rcode_name(15));
	assert_string_equal(bw_dns_rcode_name(16), "BADVERS");
	assert_string_equal(bw_dns_rcode_name(17), "BADKEY");
	assert_string_equal(bw_dns_rcode_name(18), "BADTIME");
	assert_string_equal(bw_dns_rcode_name(19), "BADMODE");
	assert_string_equal(bw_dns_rcode_name(20), "BADNAME");
	assert_string_equal(bw_dns_rcode_name(21), "BADALG");
	assert_string_equal(bw_dns_rcode_name(22), "BADTRUNC");
	assert_string_equal(bw_dns_rcode_name(23), "BADCOOKIE");
	assert_null(bw_dns_rcode_name(24));
	assert_string_equal(bw_dns_opcode_name(0), "QUERY");
	assert_string_equal(bw_dns_opcode_name(1), "IQUERY");
	assert_string_equal(bw_dns_opcode_name(2), "STATUS");
	assert_null(bw_dns_opcode_name(3));
	assert_string_equal(bw_dns_opcode_name(4), "NOTIFY");
	assert_string_equal(bw_dns_opcode_name(6), "DSO");
	assert_null(bw_dns_opcode_name(7));
	assert_string_equal(bw_dns_class_name(1), "IN");
	assert_string_equal(bw_dns_class_name(3), "CH");
	assert_string_equal(bw_dns_class_name(4), "HS");
	assert_string_equal(bw_dns_class_name(254), "NONE");
	assert_string_equal(bw_dns_class_name(255), "ANY");
	assert_null(bw_dns_class_name(2));
	assert_string_equal(bw_dns_type_name(28), "AAAA");
	assert_string_equal(bw_dns_type_name(65), "HTTPS");
	assert_string_equal(bw_dns_type_name(257), "CAA");
	assert_null(bw_dns_type_name(65280));
}

static void test_short_and_huge(void **state)
{
	(void)state;
	uint8_t b[11] = { 0 };
	memset(&g_an, 0, sizeof(g_an));
	assert_int_equal(bw_dns_parse(b, sizeof(b), g_msg, &g_an), BW_ETRUNC);
	assert_int_equal(g_an.n[BW_AN_DNS_TRUNC], 1);
	assert_int_equal(bw_dns_parse(NULL, 0, g_msg, NULL), BW_ETRUNC);
	static uint8_t big[65536];
	memset(&g_an, 0, sizeof(g_an));
	assert_int_equal(bw_dns_parse(big, sizeof(big), g_msg, &g_an), BW_EMALF);
	assert_int_equal(g_an.n[BW_AN_DNS_NOT_DNS], 1);
}

/* ---- record types ---- */

static void f_a(struct mb *m) { bytes(m, "\xc0\x00\x02\x01", 4); }
static void f_aaaa(struct mb *m)
{
	bytes(m, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
}
static void f_name(struct mb *m) { name(m, "Target.Example.NET"); }
static void f_mx(struct mb *m)
{
	u16(m, 10);
	label(m, "mx", 2);
	ptr(m, 12); /* mx.example.com, compressed */
}
static void f_txt(struct mb *m)
{
	str(m, "v=spf1 -all");
	str(m, "say \"hi\" \\ ok");
	str(m, "");
	label(m, "\x00\x7f\xff\t", 4);
}
static void f_soa(struct mb *m)
{
	label(m, "ns1", 3);
	ptr(m, 12);
	label(m, "hostmaster", 10);
	ptr(m, 12);
	u32(m, 2024010101);
	u32(m, 7200);
	u32(m, 3600);
	u32(m, 1209600);
	u32(m, 300);
}
static void f_srv(struct mb *m)
{
	u16(m, 10);
	u16(m, 5);
	u16(m, 5060);
	name(m, "sip.example.com");
}
static void f_caa(struct mb *m)
{
	u8(m, 0);
	str(m, "issue");
	bytes(m, "letsencrypt.org", 15);
}
static void f_caa_iodef(struct mb *m)
{
	u8(m, 128);
	str(m, "iodef");
	bytes(m, "mailto:x@example.com", 20);
}
static void f_ds(struct mb *m)
{
	u16(m, 12345);
	u8(m, 8);
	u8(m, 2);
	bytes(m, "\x2b\xb1\x83\xaf\x5f\x22\x58\x81\x79\xa5\x3b\x0a\x98\x63\x1f\xad", 16);
}
static void f_dnskey(struct mb *m)
{
	u16(m, 257);
	u8(m, 3);
	u8(m, 8);
	bytes(m, "\x01\x02\x03\x04\x05", 5);
}
static void f_rrsig(struct mb *m)
{
	u16(m, 1);  /* covers A */
	u8(m, 8);   /* RSASHA256 */
	u8(m, 2);   /* labels */
	u32(m, 3600);
	u32(m, 1706745600); /* 2024-02-01 00:00:00 */
	u32(m, 1704067200); /* 2024-01-01 00:00:00 */
	u16(m, 54321);
	ptr(m, 12);
	bytes(m, "\xde\xad\xbe\xef\x00", 5);
}
static void bitmap(struct mb *m)
{
	/* A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY, then TYPE1234 in window 4 */
	bytes(m, "\x00\x07\x62\x01\x80\x08\x00\x03\x80", 9);
	u8(m, 4);
	u8(m, 27);
	for (int i = 0; i < 26; i++)
		u8(m, 0);
	u8(m, 0x20);
}
static void f_nsec(struct mb *m)
{
	name(m, "a.example.com");
	bitmap(m);
}
static void f_nsec3(struct mb *m)
{
	u8(m, 1);
	u8(m, 1);
	u16(m, 10);
	label(m, "\xaa\xbb\xcc\xdd", 4);
	label(m, "foobar", 6);
	bytes(m, "\x00\x01\x40", 3); /* A */
}
static void f_nsec3param(struct mb *m)
{
	u8(m, 1);
	u8(m, 0);
	u16(m, 0);
	u8(m, 0);
}
static void f_https(struct mb *m)
{
	u16(m, 1);
	u8(m, 0); /* target "." */
	u16(m, 0); u16(m, 4); u16(m, 1); u16(m, 3);                   /* mandatory=alpn,port */
	u16(m, 1); u16(m, 6); str(m, "h2"); str(m, "h3");             /* alpn */
	u16(m, 2); u16(m, 0);                                         /* no-default-alpn */
	u16(m, 3); u16(m, 2); u16(m, 8443);                           /* port */
	u16(m, 4); u16(m, 8); bytes(m, "\xc0\x00\x02\x01\xc0\x00\x02\x02", 8);
	u16(m, 5); u16(m, 3); bytes(m, "\x01\x02\x03", 3);            /* ech */
	u16(m, 6); u16(m, 16); f_aaaa(m);                             /* ipv6hint */
	u16(m, 7); u16(m, 16); bytes(m, "/dns-query{?dns}", 16);     /* dohpath */
	u16(m, 65000); u16(m, 2); bytes(m, "\x01x", 2);
}
static void f_svcb_alias(struct mb *m)
{
	u16(m, 0);
	name(m, "svc.example.net");
}
static void f_hinfo(struct mb *m)
{
	str(m, "INTEL");
	str(m, "Linux");
}
static void f_naptr(struct mb *m)
{
	u16(m, 100);
	u16(m, 10);
	str(m, "S");
	str(m, "SIP+D2U");
	str(m, "");
	name(m, "_sip._udp.example.com");
}
static void f_sshfp(struct mb *m)
{
	u8(m, 1);
	u8(m, 1);
	bytes(m, "\x19\x8c\x34\xa9", 4);
}
static void f_tlsa(struct mb *m)
{
	u8(m, 3);
	u8(m, 1);
	u8(m, 1);
	bytes(m, "\x0a\x0b\x0c", 3);
}
static void f_null(struct mb *m) { bytes(m, "\x01\x02\x03", 3); }
static void f_unknown(struct mb *m) { bytes(m, "\xde\xad\xbe\xef", 4); }
static void f_empty(struct mb *m) { (void)m; }
static void f_tsig(struct mb *m)
{
	name(m, "hmac-sha256");
	u16(m, 0);
	u32(m, 1700000000);
	u16(m, 300);
	u16(m, 4);
	bytes(m, "\x01\x02\x03\x04", 4);
	u16(m, 4660);
	u16(m, 0);
	u16(m, 0);
}
static void f_uri(struct mb *m)
{
	u16(m, 10);
	u16(m, 1);
	bytes(m, "ftp://ftp1.example.com/public", 29);
}
static void f_eui48(struct mb *m) { bytes(m, "\x00\x00\x5e\x00\x53\x2a", 6); }
static void f_rp(struct mb *m)
{
	name(m, "admin.example.com");
	u8(m, 0);
}

struct type_case {
	unsigned type;
	void (*fill)(struct mb *);
	const char *text;
};

static void test_rdata_text(void **state)
{
	(void)state;
	static const struct type_case cases[] = {
		{ 1, f_a, "192.0.2.1" },
		{ 28, f_aaaa, "2001:db8::1" },
		{ 5, f_name, "Target.Example.NET" },
		{ 39, f_name, "Target.Example.NET" },
		{ 2, f_name, "Target.Example.NET" },
		{ 12, f_name, "Target.Example.NET" },
		{ 15, f_mx, "10 mx.example.com" },
		{ 16, f_txt, "\"v=spf1 -all\" \"say \\\"hi\\\" \\\\ ok\" \"\" \"\\000\\127\\255\\009\"" },
		{ 99, f_txt, "\"v=spf1 -all\" \"say \\\"hi\\\" \\\\ ok\" \"\" \"\\000\\127\\255\\009\"" },
		{ 6, f_soa, "ns1.example.com hostmaster.example.com 2024010101 7200 3600 1209600 300" },
		{ 33, f_srv, "10 5 5060 sip.example.com" },
		{ 257, f_caa, "0 issue \"letsencrypt.org\"" },
		{ 257, f_caa_iodef, "128 iodef \"mailto:x@example.com\"" },
		{ 43, f_ds, "12345 8 2 2BB183AF5F22588179A53B0A98631FAD" },
		{ 48, f_dnskey, "257 3 8 AQIDBAU=" },
		{ 46, f_rrsig, "A 8 2 3600 20240201000000 20240101000000 54321 example.com 3q2+7wA=" },
		{ 47, f_nsec, "a.example.com A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY TYPE1234" },
		{ 50, f_nsec3, "1 1 10 AABBCCDD CPNMUOJ1E8 A" },
		{ 51, f_nsec3param, "1 0 0 -" },
		{ 65, f_https,
		  "1 . mandatory=alpn,port alpn=\"h2,h3\" no-default-alpn port=8443 ipv4hint=192.0.2.1,192.0.2.2 "
		  "ech=AQID ipv6hint=2001:db8::1 dohpath=\"/dns-query{?dns}\" key65000=\"\\001x\"" },
		{ 64, f_svcb_alias, "0 svc.example.net" },
		{ 13, f_hinfo, "\"INTEL\" \"Linux\"" },
		{ 35, f_naptr, "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com" },
		{ 44, f_sshfp, "1 1 198C34A9" },
		{ 52, f_tlsa, "3 1 1 0A0B0C" },
		{ 10, f_null, "\\# 3 010203" },
		{ 65280, f_unknown, "\\# 4 DEADBEEF" },
		{ 65280, f_empty, "\\# 0" },
		{ 250, f_tsig, "hmac-sha256 1700000000 300 4 AQIDBA== 4660 NOERROR 0" },
		{ 256, f_uri, "10 1 \"ftp://ftp1.example.com/public\"" },
		{ 108, f_eui48, "00-00-5e-00-53-2a" },
		{ 17, f_rp, "admin.example.com ." },
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(cases); i++) {
		one_rr(cases[i].type, cases[i].fill);
		const char *t = rdtext(0);
		if (strcmp(t, cases[i].text) != 0)
			fail_msg("type %u: got '%s' want '%s'", cases[i].type, t, cases[i].text);
		assert_int_equal(g_msg->rr[0].type, cases[i].type);
		assert_int_equal(g_msg->rr[0].ttl, 3600);
		assert_string_equal(ntext(g_msg->rr[0].name_off, false), "example.com");
	}
}

static void test_rrsig_times(void **state)
{
	(void)state;
	uint32_t inc = 0, exp = 0;
	one_rr(46, f_rrsig);
	assert_int_equal(bw_dns_rrsig_times(g_msg, &g_msg->rr[0], &inc, &exp), BW_OK);
	assert_int_equal(inc, 1704067200);
	assert_int_equal(exp, 1706745600);
	one_rr(1, f_a);
	assert_int_equal(bw_dns_rrsig_times(g_msg, &g_msg->rr[0], &inc, &exp), BW_EINVAL);
}

static void f_rrsig_time(struct mb *m, uint32_t t)
{
	u16(m, 1);
	u8(m, 8);
	u8(m, 2);
	u32(m, 0);
	u32(m, t);
	u32(m, 0);
	u16(m, 1);
	u8(m, 0);
}
static void f_rrsig_leap(struct mb *m) { f_rrsig_time(m, 951782400 + 86399); } /* 2000-02-29 23:59:59 */
static void f_rrsig_max(struct mb *m) { f_rrsig_time(m, 0xffffffff); }

static void test_time_format(void **state)
{
	(void)state;
	one_rr(46, f_rrsig_leap);
	assert_string_equal(rdtext(0), "A 8 2 0 20000229235959 19700101000000 1 .");
	one_rr(46, f_rrsig_max);
	assert_string_equal(rdtext(0), "A 8 2 0 21060207062815 19700101000000 1 .");
}

/* ---- uncompressed rdata ---- */

static void test_uncompressed(void **state)
{
	(void)state;
	int r;
	one_rr(15, f_mx);
	r = bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[0], g_bin, sizeof(g_bin));
	assert_int_equal(r, 2 + 16);
	assert_memory_equal(g_bin, "\x00\x0a\x02mx\x07" "example\x03" "com\x00", 18);

	one_rr(6, f_soa);
	r = bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[0], g_bin, sizeof(g_bin));
	assert_int_equal(r, 17 + 24 + 20);
	assert_memory_equal(g_bin, "\x03ns1\x07" "example\x03" "com\x00\x0ahostmaster\x07" "example\x03" "com\x00", 41);

	/* RRSIG signer: not compressible per RFC 4034, but ldns expands it, so do we. */
	one_rr(46, f_rrsig);
	r = bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[0], g_bin, sizeof(g_bin));
	assert_int_equal(r, 18 + 13 + 5);
	assert_memory_equal(g_bin + 18, "\x07" "example\x03" "com\x00\xde\xad\xbe\xef\x00", 18);

	/* Case is kept. */
	one_rr(5, f_name);
	r = bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[0], g_bin, sizeof(g_bin));
	assert_int_equal(r, 20);
	assert_memory_equal(g_bin, "\x06Target\x07" "Example\x03NET\x00", 20);

	one_rr(65280, f_unknown);
	r = bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[0], g_bin, sizeof(g_bin));
	assert_int_equal(r, 4);
	assert_memory_equal(g_bin, "\xde\xad\xbe\xef", 4);

	/* Too small. */
	one_rr(15, f_mx);
	for (size_t cap = 0; cap < 18; cap++)
		assert_int_equal(bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[0], g_bin, cap), BW_ENOMEM);
	assert_int_equal(bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[0], g_bin, 18), 18);
}

/* ---- compression ---- */

static void test_compression_legal(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	hdr(m, 1, 0x8180, 1, 3, 0, 0);
	question(m, "www.example.com", 1); /* at 12; "example.com" at 16 */
	ptr(m, 12);                       /* back pointer to the question */
	size_t at = rr_begin(m, 5, 1, 60);
	size_t cdn = m->n;
	label(m, "cdn", 3);
	ptr(m, 16); /* cdn.example.com: labels then a pointer */
	rr_end(m, at);
	size_t owner2 = m->n;
	ptr(m, cdn); /* pointer to a name that itself ends in a pointer */
	at = rr_begin(m, 1, 1, 60);
	f_a(m);
	rr_end(m, at);
	ptr(m, owner2); /* pointer to a pointer */
	at = rr_begin(m, 1, 1, 60);
	f_a(m);
	rr_end(m, at);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(an_total(), 0);
	assert_string_equal(ntext(g_msg->rr[0].name_off, false), "www.example.com");
	assert_string_equal(rdtext(0), "cdn.example.com");
	assert_string_equal(ntext(g_msg->rr[1].name_off, false), "cdn.example.com");
	assert_string_equal(ntext(g_msg->rr[2].name_off, false), "cdn.example.com");
	int r = bw_dns_name_wire(g_msg, g_msg->rr[2].name_off, false, g_bin, sizeof(g_bin));
	assert_int_equal(r, 17);
	assert_memory_equal(g_bin, "\x03" "cdn\x07" "example\x03" "com\x00", 17);
	r = bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[0], g_bin, sizeof(g_bin));
	assert_int_equal(r, 17);
}

/* One question whose name bytes are given; parse must fail with err/why. */
static void bad_qname(const uint8_t *nm, size_t len, int err, enum bw_anomaly why)
{
	struct mb *m = g_mb;
	hdr(m, 1, 0, 1, 0, 0, 0);
	bytes(m, nm, len);
	u16(m, 1);
	u16(m, 1);
	int r = parse(m);
	if (r != err || g_an.n[why] != 1 || an_total() != 1)
		fail_msg("got %d (%s) want %d (%s)", r, bw_strerror(r), err, bw_anomaly_name(why));
}

static void test_compression_bad(void **state)
{
	(void)state;
	/* self-loop: pointer at 12 to 12 */
	bad_qname((const uint8_t *)"\xc0\x0c", 2, BW_EMALF, BW_AN_DNS_NAME_LOOP);
	/* into its own name: "a" then pointer back to 12 */
	bad_qname((const uint8_t *)"\x01" "a\xc0\x0c", 4, BW_EMALF, BW_AN_DNS_NAME_LOOP);
	/* forward pointer (as in suricata-verify dns-forward-pointer) */
	bad_qname((const uint8_t *)"\xc0\x10\x00\x01\x00\x01\x01" "a\x00", 9, BW_EMALF, BW_AN_DNS_FORWARD_PTR);
	/* pointer into the header */
	bad_qname((const uint8_t *)"\xc0\x04", 2, BW_EMALF, BW_AN_DNS_BAD_NAME);
	bad_qname((const uint8_t *)"\xc0\x00", 2, BW_EMALF, BW_AN_DNS_BAD_NAME);
	/* pointer past the end */
	bad_qname((const uint8_t *)"\xff\xff", 2, BW_EMALF, BW_AN_DNS_BAD_NAME);
	/* pointer cut in half */
	{
		struct mb *m = g_mb;
		hdr(m, 1, 0, 1, 0, 0, 0);
		u8(m, 0xc0);
		assert_int_equal(parse(m), BW_ETRUNC);
		assert_int_equal(g_an.n[BW_AN_DNS_TRUNC], 1);
	}
	/* 0x40 and 0x80 label types */
	bad_qname((const uint8_t *)"\x41" "a\x00", 3, BW_EMALF, BW_AN_DNS_BAD_NAME);
	bad_qname((const uint8_t *)"\x80\x00", 2, BW_EMALF, BW_AN_DNS_BAD_NAME);

	/*
	 * Loop a -> b -> a. From the first name to be read the first hop is
	 * always forward, so hide name a in opaque rdata and reach it from b:
	 * b (owner) -> a (in rdata) -> b.
	 */
	struct mb *m = g_mb;
	hdr(m, 1, 0x8180, 1, 2, 0, 0);
	question(m, "example.com", 1);
	ptr(m, 12);
	size_t at = rr_begin(m, 65280, 1, 0);
	size_t a = m->n;
	size_t b = a + 4 + 0; /* rdata is 4 bytes; b is the next owner */
	label(m, "x", 1);
	ptr(m, b);
	rr_end(m, at);
	assert_int_equal(m->n, b);
	label(m, "y", 1);
	ptr(m, a);
	rr_end(m, rr_begin(m, 65280, 1, 0));
	assert_int_equal(parse(m), BW_EMALF);
	assert_int_equal(g_an.n[BW_AN_DNS_NAME_LOOP], 1);
	assert_int_equal(an_total(), 1);

	/* A pointer chain: one hop short of the cap parses, one over does not. */
	for (int over = 0; over < 2; over++) {
		hdr(m, 1, 0x8180, 0, 2, 0, 0);
		name(m, ".");
		at = rr_begin(m, 65280, 1, 0);
		size_t prev = m->n;
		u8(m, 0); /* a root name inside opaque rdata */
		unsigned hops = BW_DNS_MAX_PTR_HOPS - 1 + (unsigned)over; /* plus the owner's own pointer */
		for (unsigned i = 0; i < hops; i++) {
			size_t here = m->n;
			ptr(m, prev);
			prev = here;
		}
		rr_end(m, at);
		ptr(m, prev);
		rr_end(m, rr_begin(m, 65280, 1, 0));
		int r = parse(m);
		if (over) {
			assert_int_equal(r, BW_EMALF);
			assert_int_equal(g_an.n[BW_AN_DNS_NAME_LOOP], 1);
		} else {
			assert_int_equal(r, BW_OK);
			assert_string_equal(ntext(g_msg->rr[1].name_off, false), ".");
		}
	}
}

static void test_label_and_name_limits(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	uint8_t l63[63];
	memset(l63, 'a', sizeof(l63));

	/* label of 63: fine */
	hdr(m, 1, 0, 1, 0, 0, 0);
	label(m, l63, 63);
	u8(m, 0);
	u16(m, 1);
	u16(m, 1);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(strlen(ntext(g_msg->qd[0].name_off, false)), 63);

	/* label of 64 is the 0x40 label type */
	uint8_t l64[66] = { 64 };
	memset(l64 + 1, 'a', 64);
	bad_qname(l64, 66, BW_EMALF, BW_AN_DNS_BAD_NAME);

	/* 255 octets: 3 x (1+63) + (1+61) + root = 255 */
	uint8_t n255[255], *q = n255;
	for (int i = 0; i < 3; i++) {
		*q++ = 63;
		memset(q, 'b', 63);
		q += 63;
	}
	*q++ = 61;
	memset(q, 'c', 61);
	q += 61;
	*q++ = 0;
	assert_int_equal(q - n255, 255);
	hdr(m, 1, 0, 1, 0, 0, 0);
	bytes(m, n255, 255);
	u16(m, 1);
	u16(m, 1);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(bw_dns_name_wire(g_msg, g_msg->qd[0].name_off, false, g_bin, sizeof(g_bin)), 255);
	assert_int_equal(bw_dns_name_wire(g_msg, g_msg->qd[0].name_off, false, g_bin, 254), BW_ENOMEM);
	assert_int_equal(strlen(ntext(g_msg->qd[0].name_off, false)), 253);

	/* 256 octets */
	uint8_t n256[256];
	memcpy(n256, n255, 192);
	n256[192] = 62;
	memset(n256 + 193, 'c', 62);
	n256[255] = 0;
	bad_qname(n256, 256, BW_EMALF, BW_AN_DNS_NAME_TOO_LONG);

	/* 257 octets reached through a pointer: the 255 in the question, "x" in an owner */
	hdr(m, 1, 0x8000, 1, 1, 0, 0);
	bytes(m, n255, 255); /* at 12 */
	u16(m, 1);
	u16(m, 1);
	label(m, "x", 1);
	ptr(m, 12);
	size_t at = rr_begin(m, 1, 1, 0);
	f_a(m);
	rr_end(m, at);
	assert_int_equal(parse(m), BW_EMALF);
	assert_int_equal(g_an.n[BW_AN_DNS_NAME_TOO_LONG], 1);
}

static void test_escaping(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	hdr(m, 1, 0, 1, 0, 0, 0);
	label(m, "a.b", 3);
	label(m, "c\\d", 3);
	label(m, "sp ace", 6);
	label(m, "\x00\xff\"", 3);
	label(m, "Up_*-9", 6);
	u8(m, 0);
	u16(m, 1);
	u16(m, 1);
	assert_int_equal(parse(m), BW_OK);
	assert_string_equal(ntext(g_msg->qd[0].name_off, false), "a\\.b.c\\\\d.sp\\032ace.\\000\\255\\034.Up_*-9");
	assert_string_equal(ntext(g_msg->qd[0].name_off, true), "a\\.b.c\\\\d.sp\\032ace.\\000\\255\\034.up_*-9");
	for (const char *c = g_txt; *c; c++)
		assert_true(*c >= 0x21 && *c < 0x7f);
	int full = (int)strlen(g_txt);
	for (int cap = 0; cap <= full; cap++)
		assert_int_equal(bw_dns_name_text(g_msg, g_msg->qd[0].name_off, true, g_txt, (size_t)cap), BW_ENOMEM);
	assert_int_equal(bw_dns_name_text(g_msg, g_msg->qd[0].name_off, true, g_txt, (size_t)full + 1), full);

	/* root */
	hdr(m, 1, 0, 1, 0, 0, 0);
	question(m, ".", 2);
	assert_int_equal(parse(m), BW_OK);
	assert_string_equal(ntext(g_msg->qd[0].name_off, false), ".");
	assert_int_equal(bw_dns_name_text(g_msg, g_msg->qd[0].name_off, false, g_txt, 1), BW_ENOMEM);
	assert_int_equal(bw_dns_name_wire(g_msg, g_msg->qd[0].name_off, false, g_bin, 1), 1);

	/* lower folds only for matching */
	hdr(m, 1, 0, 1, 0, 0, 0);
	question(m, "WwW.ExAmPlE.CoM", 1);
	assert_int_equal(parse(m), BW_OK);
	assert_string_equal(ntext(g_msg->qd[0].name_off, false), "WwW.ExAmPlE.CoM");
	assert_string_equal(ntext(g_msg->qd[0].name_off, true), "www.example.com");
	assert_int_equal(bw_dns_name_wire(g_msg, g_msg->qd[0].name_off, true, g_bin, sizeof(g_bin)), 17);
	assert_memory_equal(g_bin, "\x03www\x07" "example\x03" "com\x00", 17);
}

/* ---- truncation: every prefix of valid messages fails cleanly ---- */

static void build_big_response(struct mb *m)
{
	hdr(m, 7, 0x8180, 1, 0, 0, 0);
	question(m, "example.com", 255);
	unsigned an = 0, ns = 0, ar = 0;
	void (*fills[])(struct mb *) = { f_a, f_aaaa, f_mx, f_txt, f_soa, f_srv, f_caa, f_ds, f_dnskey, f_rrsig,
					 f_nsec, f_nsec3, f_https, f_naptr, f_tsig };
	unsigned types[] = { 1, 28, 15, 16, 6, 33, 257, 43, 48, 46, 47, 50, 65, 35, 250 };
	for (size_t i = 0; i < BW_ARRAY_SIZE(types) - 1; i++) {
		ptr(m, 12);
		size_t at = rr_begin(m, types[i], 1, 300);
		fills[i](m);
		rr_end(m, at);
		an++;
	}
	ptr(m, 12);
	size_t at = rr_begin(m, 2, 1, 300);
	f_name(m);
	rr_end(m, at);
	ns++;
	name(m, ".");
	at = rr_begin(m, 41, 1232, 0x00008000);
	u16(m, 10);
	u16(m, 8);
	bytes(m, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	rr_end(m, at);
	ar++;
	ptr(m, 12);
	at = rr_begin(m, 250, 255, 0);
	f_tsig(m);
	rr_end(m, at);
	ar++;
	m->b[6] = 0;
	m->b[7] = (uint8_t)an;
	m->b[9] = (uint8_t)ns;
	m->b[11] = (uint8_t)ar;
}

static void check_every_prefix(const struct mb *m)
{
	uint8_t *copy = malloc(m->n);
	assert_non_null(copy);
	for (size_t len = 0; len < m->n; len++) {
		/* A fresh heap copy of exactly len bytes, so ASan catches any over-read. */
		uint8_t *p = malloc(len ? len : 1);
		assert_non_null(p);
		memcpy(p, m->b, len);
		memset(&g_an, 0, sizeof(g_an));
		int r = bw_dns_parse(p, len, g_msg, &g_an);
		if (r == BW_OK)
			fail_msg("prefix %zu of %zu parsed", len, m->n);
		assert_int_equal(an_total(), 1);
		free(p);
	}
	memcpy(copy, m->b, m->n);
	memset(&g_an, 0, sizeof(g_an));
	assert_int_equal(bw_dns_parse(copy, m->n, g_msg, &g_an), BW_OK);
	free(copy);
}

static void test_truncation(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	build_big_response(m);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(an_total(), 0);
	assert_int_equal(g_msg->n_bad, 0);
	assert_int_equal(g_msg->n_section[0], 14);
	assert_int_equal(g_msg->n_section[1], 1);
	assert_int_equal(g_msg->n_section[2], 2);
	assert_true(g_msg->has_opt);
	check_every_prefix(m);

	hdr(m, 1, 0x0100, 1, 0, 0, 0);
	question(m, "www.example.com", 1);
	check_every_prefix(m);

	one_rr(15, f_mx);
	check_every_prefix(g_mb);
}

/* ---- EDNS ---- */

static void test_edns(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	hdr(m, 1, 0x8180 | 0x0000, 1, 0, 0, 1);
	question(m, "example.com", 1);
	name(m, ".");
	size_t at = rr_begin(m, 41, 1232, (1u << 24) | (0u << 16) | 0x8000);
	u16(m, 3); u16(m, 0);                                               /* NSID */
	u16(m, 10); u16(m, 8); bytes(m, "\x01\x02\x03\x04\x05\x06\x07\x08", 8); /* COOKIE */
	u16(m, 8); u16(m, 7); u16(m, 1); u8(m, 24); u8(m, 0); bytes(m, "\xc0\x00\x02", 3); /* ECS */
	u16(m, 12); u16(m, 4); u32(m, 0);                                   /* PADDING */
	u16(m, 15); u16(m, 9); u16(m, 18); bytes(m, "blocked", 7);          /* EDE */
	u16(m, 65001); u16(m, 1); u8(m, 0xab);
	rr_end(m, at);
	assert_int_equal(parse(m), BW_OK);
	assert_true(g_msg->has_opt);
	assert_int_equal(g_msg->opt_rr, 0);
	assert_int_equal(g_msg->edns_udp_size, 1232);
	assert_true(g_msg->edns_do);
	assert_int_equal(g_msg->edns_version, 0);
	assert_int_equal(g_msg->edns_flags, 0x8000);
	assert_int_equal(g_msg->rcode, 16); /* (1 << 4) | 0 */
	assert_string_equal(bw_dns_rcode_name(g_msg->rcode), "BADVERS");
	assert_string_equal(rdtext(0), "NSID COOKIE=0102030405060708 ECS=192.0.2.0/24/0 PADDING=4 EDE=18:\"blocked\" "
				       "OPT65001=AB");
	const uint8_t *v;
	uint16_t vl;
	assert_int_equal(bw_dns_opt_find(g_msg, 10, &v, &vl), BW_OK);
	assert_int_equal(vl, 8);
	assert_memory_equal(v, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(bw_dns_opt_find(g_msg, 3, &v, &vl), BW_OK);
	assert_int_equal(vl, 0);
	assert_int_equal(bw_dns_opt_find(g_msg, 9, &v, &vl), BW_ENOENT);

	/* extended rcode with a non-zero header rcode: BADCOOKIE = 23 = 1 << 4 | 7 */
	m->b[3] = (uint8_t)((m->b[3] & 0xf0) | 7);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(g_msg->rcode, 23);
	assert_string_equal(bw_dns_rcode_name(g_msg->rcode), "BADCOOKIE");

	/* version 1, no DO, empty rdata */
	hdr(m, 1, 0x8183, 0, 0, 0, 1);
	name(m, ".");
	at = rr_begin(m, 41, 512, 0x00010000);
	rr_end(m, at);
	assert_int_equal(parse(m), BW_OK);
	assert_true(g_msg->has_opt);
	assert_false(g_msg->edns_do);
	assert_int_equal(g_msg->edns_version, 1);
	assert_int_equal(g_msg->rcode, 3);
	assert_string_equal(rdtext(0), "");

	/* OPT in the answer section, a second OPT, an OPT not owned by the root, bad options */
	hdr(m, 1, 0x8180, 0, 1, 0, 3);
	name(m, ".");
	rr_end(m, rr_begin(m, 41, 4096, 0x01000000));
	name(m, ".");
	rr_end(m, rr_begin(m, 41, 1232, 0));
	name(m, ".");
	rr_end(m, rr_begin(m, 41, 999, 0x02000000));
	name(m, "x");
	rr_end(m, rr_begin(m, 41, 999, 0x02000000));
	assert_int_equal(parse(m), BW_OK);
	assert_true(g_msg->has_opt);
	assert_int_equal(g_msg->opt_rr, 1);
	assert_int_equal(g_msg->edns_udp_size, 1232);
	assert_int_equal(g_msg->rcode, 0);
	assert_int_equal(g_msg->rr[0].bad, 1);
	assert_int_equal(g_msg->rr[1].bad, 0);
	assert_int_equal(g_msg->rr[2].bad, 1);
	assert_int_equal(g_msg->rr[3].bad, 1);
	assert_int_equal(g_msg->n_bad, 3);
	assert_int_equal(g_an.n[BW_AN_DNS_BAD_RDATA], 3);

	hdr(m, 1, 0x8180, 0, 0, 0, 1);
	name(m, ".");
	at = rr_begin(m, 41, 1232, 0);
	u16(m, 10);
	u16(m, 9);
	bytes(m, "\x01\x02\x03", 3);
	rr_end(m, at);
	assert_int_equal(parse(m), BW_OK);
	assert_false(g_msg->has_opt);
	assert_int_equal(g_msg->rr[0].bad, 1);
	assert_string_equal(rdtext(0), "\\# 7 000A0009010203");
}

/* ---- message shapes ---- */

static void test_qdcount_zero_response(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	hdr(m, 9, 0x8180, 0, 1, 0, 0);
	name(m, "example.com");
	size_t at = rr_begin(m, 1, 1, 5);
	f_a(m);
	rr_end(m, at);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(g_msg->n_qd, 0);
	assert_int_equal(g_msg->n_rr, 1);
	assert_string_equal(rdtext(0), "192.0.2.1");
}

static void test_many_questions(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	unsigned n = BW_DNS_MAX_QD + 36;
	hdr(m, 1, 0, n, 0, 0, 0);
	question(m, "q0.example.com", 1);
	for (unsigned i = 1; i < n; i++) {
		char l[8];
		snprintf(l, sizeof(l), "q%u", i);
		label(m, l, strlen(l));
		ptr(m, 15); /* example.com */
		u16(m, i);
		u16(m, 1);
	}
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(g_msg->qdcount, n);
	assert_int_equal(g_msg->n_qd, BW_DNS_MAX_QD);
	assert_string_equal(ntext(g_msg->qd[BW_DNS_MAX_QD - 1].name_off, false), "q63.example.com");
	assert_int_equal(g_msg->qd[BW_DNS_MAX_QD - 1].type, 63);

	/* a bad name after the kept ones still fails the message */
	m->b[m->n - 6] = 0x40;
	assert_int_equal(parse(m), BW_EMALF);
	assert_int_equal(g_an.n[BW_AN_DNS_BAD_NAME], 1);
}

static void test_axfr(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	unsigned n = 2000;
	hdr(m, 1, 0x8400, 1, n, 0, 0);
	question(m, "example.com", 252);
	ptr(m, 12);
	size_t at = rr_begin(m, 6, 1, 3600);
	f_soa(m);
	rr_end(m, at);
	for (unsigned i = 1; i < n - 1; i++) {
		char l[8];
		snprintf(l, sizeof(l), "h%u", i);
		label(m, l, strlen(l));
		ptr(m, 12);
		at = rr_begin(m, i % 2 ? 1 : 28, 1, 60);
		if (i % 2)
			f_a(m);
		else
			f_aaaa(m);
		rr_end(m, at);
	}
	ptr(m, 12);
	at = rr_begin(m, 6, 1, 3600);
	f_soa(m);
	rr_end(m, at);
	assert_true(m->n < 65536);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(an_total(), 0);
	assert_int_equal(g_msg->n_rr, n);
	assert_int_equal(g_msg->rr[0].type, 6);
	assert_int_equal(g_msg->rr[n - 1].type, 6);
	char first[256];
	snprintf(first, sizeof(first), "%s", rdtext(0));
	assert_string_equal(rdtext(n - 1), first);
	assert_string_equal(ntext(g_msg->rr[1500].name_off, false), "h1500.example.com");
	assert_string_equal(rdtext(1500), "2001:db8::1");
	assert_string_equal(rdtext(1501), "192.0.2.1");
}

static void test_bad_rdata_marked(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	hdr(m, 1, 0x8180, 1, 7, 0, 0);
	question(m, "example.com", 1);
	ptr(m, 12);
	size_t at = rr_begin(m, 1, 1, 60);
	f_a(m);
	rr_end(m, at);
	ptr(m, 12); /* A with 5 bytes */
	at = rr_begin(m, 1, 1, 60);
	bytes(m, "\x01\x02\x03\x04\x05", 5);
	rr_end(m, at);
	ptr(m, 12); /* TXT whose string overruns rdlen */
	at = rr_begin(m, 16, 1, 60);
	bytes(m, "\x05" "abc", 4);
	rr_end(m, at);
	ptr(m, 12); /* CNAME with a forward pointer inside */
	at = rr_begin(m, 5, 1, 60);
	ptr(m, m->n + 2);
	rr_end(m, at);
	ptr(m, 12); /* MX whose name runs past rdlen */
	at = rr_begin(m, 15, 1, 60);
	u16(m, 1);
	label(m, "mx", 2);
	rr_end(m, at);
	ptr(m, 12); /* AAAA with 4 bytes */
	at = rr_begin(m, 28, 1, 60);
	f_a(m);
	rr_end(m, at);
	ptr(m, 12);
	at = rr_begin(m, 28, 1, 60);
	f_aaaa(m);
	rr_end(m, at);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(g_msg->n_rr, 7);
	assert_int_equal(g_msg->n_bad, 5);
	assert_int_equal(g_an.n[BW_AN_DNS_BAD_RDATA], 5);
	assert_int_equal(an_total(), 5);
	static const uint8_t bad[] = { 0, 1, 1, 1, 1, 1, 0 };
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(g_msg->rr[i].bad, bad[i]);
	assert_string_equal(rdtext(0), "192.0.2.1");
	assert_string_equal(rdtext(1), "\\# 5 0102030405");
	assert_string_equal(rdtext(2), "\\# 4 05616263");
	assert_string_equal(rdtext(5), "\\# 4 C0000201");
	assert_string_equal(rdtext(6), "2001:db8::1");
	int r = bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[3], g_bin, sizeof(g_bin));
	assert_int_equal(r, 2); /* raw */

	/* structure errors still fail the message: rdlen past the end */
	hdr(m, 1, 0x8180, 0, 1, 0, 0);
	name(m, ".");
	at = rr_begin(m, 1, 1, 0);
	f_a(m);
	rr_end(m, at);
	m->b[at + 1] = 5;
	assert_int_equal(parse(m), BW_ETRUNC);
	assert_int_equal(g_an.n[BW_AN_DNS_TRUNC], 1);
}

static void f_bad_svcb_order(struct mb *m)
{
	u16(m, 1);
	u8(m, 0);
	u16(m, 3); u16(m, 2); u16(m, 443);
	u16(m, 1); u16(m, 3); str(m, "h2");
}

static void f_bad_bitmap(struct mb *m)
{
	u8(m, 0);
	bytes(m, "\x00\x00", 2); /* window length 0 */
}

static void f_bad_caa(struct mb *m)
{
	u8(m, 0);
	str(m, "is sue");
}

static void test_bad_rdata_types(void **state)
{
	(void)state;
	struct {
		unsigned type;
		void (*fill)(struct mb *);
	} cases[] = { { 65, f_bad_svcb_order }, { 47, f_bad_bitmap }, { 257, f_bad_caa }, { 6, f_mx },
		      { 1, f_empty }, { 16, f_empty } };
	for (size_t i = 0; i < BW_ARRAY_SIZE(cases); i++) {
		struct mb *m = g_mb;
		hdr(m, 1, 0x8180, 0, 1, 0, 0);
		name(m, "example.com");
		size_t at = rr_begin(m, cases[i].type, 1, 0);
		cases[i].fill(m);
		rr_end(m, at);
		assert_int_equal(parse(m), BW_OK);
		if (!g_msg->rr[0].bad)
			fail_msg("case %zu (type %u) not marked bad", i, cases[i].type);
		assert_int_equal(strncmp(rdtext(0), "\\# ", 3), 0);
	}
}

static void test_update_empty_rdata(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	hdr(m, 1, 0x2800, 1, 1, 1, 0); /* UPDATE: zone, prerequisite, update */
	question(m, "example.com", 6);
	label(m, "www", 3); /* prerequisite: www A exists (class ANY, rdlen 0) */
	ptr(m, 12);
	rr_end(m, rr_begin(m, 1, 255, 0));
	label(m, "old", 3); /* delete all old MX (class ANY, rdlen 0) */
	ptr(m, 12);
	rr_end(m, rr_begin(m, 15, 254, 0));
	assert_int_equal(parse(m), BW_OK);
	assert_string_equal(bw_dns_opcode_name(g_msg->opcode), "UPDATE");
	assert_int_equal(g_msg->n_bad, 0);
	assert_string_equal(rdtext(0), "");
	assert_string_equal(rdtext(1), "");
	assert_int_equal(bw_dns_rdata_uncompressed(g_msg, &g_msg->rr[0], g_bin, 0), 0);
}

static void test_trailing(void **state)
{
	(void)state;
	struct mb *m = g_mb;
	hdr(m, 1, 0, 1, 0, 0, 0);
	question(m, "example.com", 1);
	u16(m, 0xdead);
	assert_int_equal(parse(m), BW_OK);
	assert_int_equal(g_an.n[BW_AN_DNS_TRAILING], 1);
	assert_int_equal(an_total(), 1);
}

static void test_tiny_buffers(void **state)
{
	(void)state;
	build_big_response(g_mb);
	assert_int_equal(parse(g_mb), BW_OK);
	for (unsigned i = 0; i < g_msg->n_rr; i++) {
		const struct bw_dns_rr *rr = &g_msg->rr[i];
		int full = bw_dns_rdata_text(g_msg, rr, g_txt, sizeof(g_txt));
		assert_true(full >= 0);
		for (int cap = 0; cap <= full; cap++)
			assert_int_equal(bw_dns_rdata_text(g_msg, rr, g_txt, (size_t)cap), BW_ENOMEM);
		assert_int_equal(bw_dns_rdata_text(g_msg, rr, g_txt, (size_t)full + 1), full);
		int bl = bw_dns_rdata_uncompressed(g_msg, rr, g_bin, sizeof(g_bin));
		assert_true(bl >= 0);
		for (int cap = 0; cap < bl; cap++)
			assert_int_equal(bw_dns_rdata_uncompressed(g_msg, rr, g_bin, (size_t)cap), BW_ENOMEM);
	}
}

static int setup(void **state)
{
	(void)state;
	g_msg = malloc(sizeof(*g_msg));
	g_mb = calloc(1, sizeof(*g_mb));
	return g_msg && g_mb ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(g_msg);
	free(g_mb);
	return 0;
}

/* Mnemonics, and the RFC 3597 form for types and rcodes without one. */
static void test_type_rcode_text(void **state)
{
	(void)state;
	char b[16];
	assert_string_equal(bw_dns_type_text(28, b, sizeof(b)), "AAAA");
	assert_string_equal(bw_dns_type_text(0, b, sizeof(b)), "TYPE0");
	assert_string_equal(bw_dns_type_text(65280, b, sizeof(b)), "TYPE65280");
	assert_string_equal(bw_dns_rcode_text(3, b, sizeof(b)), "NXDOMAIN");
	assert_string_equal(bw_dns_rcode_text(4000, b, sizeof(b)), "RCODE4000");
	assert_string_equal(bw_dns_rcode_text(65535, b, sizeof(b)), "RCODE65535");
	/* cut to the buffer, always terminated */
	assert_string_equal(bw_dns_type_text(65280, b, 6), "TYPE6");
	assert_string_equal(bw_dns_type_text(65280, b, 1), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_rcode_text),
		cmocka_unit_test(test_header_flags),
		cmocka_unit_test(test_names_tables),
		cmocka_unit_test(test_short_and_huge),
		cmocka_unit_test(test_rdata_text),
		cmocka_unit_test(test_rrsig_times),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_uncompressed),
		cmocka_unit_test(test_compression_legal),
		cmocka_unit_test(test_compression_bad),
		cmocka_unit_test(test_label_and_name_limits),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_edns),
		cmocka_unit_test(test_qdcount_zero_response),
		cmocka_unit_test(test_many_questions),
		cmocka_unit_test(test_axfr),
		cmocka_unit_test(test_bad_rdata_marked),
		cmocka_unit_test(test_bad_rdata_types),
		cmocka_unit_test(test_update_empty_rdata),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_tiny_buffers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
