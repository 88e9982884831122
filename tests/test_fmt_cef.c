/* SPDX-License-Identifier: MIT */
/*
 * test_fmt_cef.c: CEF:0 records against ones written by hand from the ArcSight
 * standard, header and extension escaping, and hostile names parsed back
 * field by field with a parser that follows the standard (values end at the
 * next unescaped "<space>key=").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sensor/fmt_cef.h"

#define TS 1741944413123456000ULL

static const char ALERT[] =
	"{\"@timestamp\":\"2025-03-14T09:26:53.123456Z\",\"event\":{\"kind\":\"alert\",\"dataset\":\"bindwatch.alert\","
	"\"severity\":3,\"reason\":\"certificate for www.example.com presented by 192.0.2.10:443 does not cover the "
	"SNI\",\"id\":\"4f2a9c01d3b7e655\"},\"rule\":{\"name\":\"cert_name_mismatch\",\"description\":\"TLS "
	"certificate does not cover the name asked for\"},\"source\":{\"ip\":\"198.51.100.23\",\"port\":51544},"
	"\"destination\":{\"ip\":\"192.0.2.10\",\"port\":443},\"network\":{\"transport\":\"tcp\",\"type\":\"ipv4\"},"
	"\"tls\":{\"client\":{\"server_name\":\"www.example.com\"},\"server\":{\"hash\":{\"sha256\":"
	"\"4BA11CC92E1D845FBFEBD9512B8E89F277CA69C602383A3521937A448872C41F\"}}},\"bindwatch\":{\"alert\":{"
	"\"dedup_key\":\"cert_name_mismatch|www.example.com|192.0.2.10\",\"repeats\":0,\"name\":\"www.example.com\","
	"\"address\":\"192.0.2.10\",\"port\":443,\"policy\":\"owned.domains: example.com\"}}}";

static size_t fmt(const char *json, enum bw_event_type type, char *mem, size_t cap)
{
	struct bw_fmt_event e = { .type = type, .ts = TS, .json = json, .json_len = strlen(json),
				  .hostname = "bindwatch01.example.net" };
	struct bw_strbuf b;
	bw_sb_init(&b, mem, cap - 1);
	assert_true(bw_fmt_cef(&b, &e));
	mem[b.len] = '\0';
	return b.len;
}

/* ---- a CEF parser written from the standard ---- */

#define MAXF 64
struct cef {
	char hdr[8][1100];
	int nkv;
	char key[MAXF][40];
	char val[MAXF][4200];
};

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static void unescape_ext(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			char c = s[++i];
			out[o++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

static void parse_cef(const char *m, struct cef *c)
{
	memset(c, 0, sizeof(*c));
	const char *p = m;
	for (int f = 0; f < 7; f++) {
		size_t o = 0;
		while (*p && *p != '|') {
			if (*p == '\\' && (p[1] == '|' || p[1] == '\\'))
				p++;
			c->hdr[f][o++] = *p++;
		}
		assert_int_equal(*p, '|');
		p++;
	}
	/* extension: find each unescaped '=' and the key right before it */
	const char *ext = p;
	size_t n = strlen(ext);
	size_t eq[MAXF], ks[MAXF];
	int ne = 0;
	for (size_t i = 0; i < n; i++) {
		if (ext[i] == '\\') {
			i++;
			continue;
		}
		if (ext[i] != '=')
			continue;
		size_t k = i;
		while (k > 0 && is_key_char(ext[k - 1]))
			k--;
		assert_true(k < i);                     /* every '=' left unescaped has a key */
		assert_true(k == 0 || ext[k - 1] == ' '); /* that starts after a space */
		assert_true(ne < MAXF);
		eq[ne] = i;
		ks[ne] = k;
		ne++;
	}
	for (int i = 0; i < ne; i++) {
		memcpy(c->key[i], ext + ks[i], eq[i] - ks[i]);
		size_t vend = i + 1 < ne ? ks[i + 1] - 1 : n;
		unescape_ext(ext + eq[i] + 1, vend - eq[i] - 1, c->val[i]);
	}
	c->nkv = ne;
}

static const char *get(const struct cef *c, const char *k)
{
	for (int i = 0; i < c->nkv; i++)
		if (strcmp(c->key[i], k) == 0)
			return c->val[i];
	return NULL;
}

static void test_alert_by_hand(void **state)
{
	(void)state;
	char m[8192];
	fmt(ALERT, BW_EV_ALERT, m, sizeof(m));
	/* written out from the standard: header, then standard keys, then labelled custom strings */
	static const char want[] =
		"CEF:0|Bindwatch|bindwatch|" BW_VERSION "|cert_name_mismatch|TLS certificate does not cover the name asked "
		"for|8|rt=1741944413123 externalId=4f2a9c01d3b7e655 cat=bindwatch.alert act=alert msg=certificate for "
		"www.example.com presented by 192.0.2.10:443 does not cover the SNI dvchost=bindwatch01.example.net "
		"proto=TCP app=TLS src=198.51.100.23 spt=51544 dst=192.0.2.10 dpt=443 dhost=www.example.com "
		"request=https://www.example.com/ cs1Label=dedupKey cs1=cert_name_mismatch|www.example.com|192.0.2.10 "
		"cs2Label=policy cs2=owned.domains: example.com cs3Label=certSha256 "
		"cs3=4BA11CC92E1D845FBFEBD9512B8E89F277CA69C602383A3521937A448872C41F cs4Label=sni cs4=www.example.com "
		"cs6Label=boundAddress cs6=192.0.2.10 cn1Label=repeats cn1=0 cn2Label=boundPort cn2=443";
	assert_string_equal(m, want);
	struct cef c;
	parse_cef(m, &c);
	assert_string_equal(c.hdr[0], "CEF:0");
	assert_string_equal(c.hdr[4], "cert_name_mismatch");
	assert_string_equal(c.hdr[6], "8");
	assert_string_equal(get(&c, "cs1"), "cert_name_mismatch|www.example.com|192.0.2.10");
	assert_string_equal(get(&c, "msg"), "certificate for www.example.com presented by 192.0.2.10:443 does not cover the SNI");
	/* every csN has its label */
	for (int i = 0; i < c.nkv; i++)
		if (c.key[i][0] == 'c' && (c.key[i][1] == 's' || c.key[i][1] == 'n') && !strstr(c.key[i], "Label")) {
			char lk[48];
			snprintf(lk, sizeof(lk), "%sLabel", c.key[i]);
			assert_non_null(get(&c, lk));
		}
}

static void test_severity(void **state)
{
	(void)state;
	char j[128];
	const unsigned want[] = { 5, 3, 5, 8, 10 };
	for (int s = 0; s <= 4; s++) {
		snprintf(j, sizeof(j), s ? "{\"event\":{\"severity\":%d}}" : "{\"event\":{}}", s);
		struct bw_fmt_event e = { .type = BW_EV_ALERT, .json = j, .json_len = strlen(j) };
		assert_int_equal(bw_cef_severity(&e), want[s]);
	}
	struct bw_fmt_event d = { .type = BW_EV_DNS, .json = "{}", .json_len = 2 };
	assert_int_equal(bw_cef_severity(&d), 1);
	d.type = BW_EV_STATS;
	assert_int_equal(bw_cef_severity(&d), 0);
}

static void test_header_escaping(void **state)
{
	(void)state;
	/* siem-formats 3.4 example 2: "SNI|cert mismatch (C:\certs)" -> "SNI\|cert mismatch (C:\\certs)" */
	static const char j[] = "{\"event\":{\"severity\":3},\"rule\":{\"name\":\"a|b\\\\c\\nd\","
				"\"description\":\"SNI|cert mismatch (C:\\\\certs)\"}}";
	char m[2048];
	fmt(j, BW_EV_ALERT, m, sizeof(m));
	static const char want[] = "CEF:0|Bindwatch|bindwatch|" BW_VERSION
				   "|a\\|b\\\\c\xEF\xBF\xBD" "d|SNI\\|cert mismatch (C:\\\\certs)|8|rt=1741944413123 act=alert "
				   "dvchost=bindwatch01.example.net";
	assert_string_equal(m, want);
	struct cef c;
	parse_cef(m, &c);
	assert_string_equal(c.hdr[4], "a|b\\c\xEF\xBF\xBD" "d");
	assert_string_equal(c.hdr[5], "SNI|cert mismatch (C:\\certs)");
}

static void test_extension_escaping(void **state)
{
	(void)state;
	/* siem-formats 3.4 example 2's msg: "line one\nline two with a \ and a = sign" */
	static const char j[] = "{\"event\":{\"severity\":1,\"reason\":\"line one\\nline two with a \\\\ and a = sign\"}}";
	char m[2048];
	fmt(j, BW_EV_ALERT, m, sizeof(m));
	assert_non_null(strstr(m, " msg=line one\\nline two with a \\\\ and a \\= sign "));
	struct cef c;
	parse_cef(m, &c);
	assert_string_equal(get(&c, "msg"), "line one\nline two with a \\ and a = sign");
}

static void test_hostile_names(void **state)
{
	(void)state;
	/* names that try to forge a field, a header and a second syslog message */
	static const char *const evil[] = {
		"a.example cs1Label=forged cs1=x",
		"b|CEF:0|Evil|evil|1|2|3|10|src=6.6.6.6",
		"c\\ dhost=evil.example",
		"d\n<13>1 - - - - - CEF:0|Evil|x|1|1|1|10|",
		"e\r\nf=g",
		"h\\=i\\\\=j",
		"k]\"\\u0000",
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(evil); i++) {
		/* put the raw name into the JSON escaped as JSON (as the event writer does) */
		char esc[256], j[1024], m[8192];
		size_t o = 0;
		for (const char *p = evil[i]; *p; p++) {
			if (*p == '\n') {
				esc[o++] = '\\';
				esc[o++] = 'n';
			} else if (*p == '\r') {
				esc[o++] = '\\';
				esc[o++] = 'r';
			} else if (*p == '"' || *p == '\\') {
				esc[o++] = '\\';
				esc[o++] = *p;
			} else {
				esc[o++] = *p;
			}
		}
		esc[o] = '\0';
		snprintf(j, sizeof(j),
			 "{\"event\":{\"severity\":2,\"dataset\":\"bindwatch.alert\"},\"rule\":{\"name\":\"%s\"},"
			 "\"tls\":{\"client\":{\"server_name\":\"%s\"}},\"dns\":{\"question\":{\"name\":\"%s\"}}}",
			 esc, esc, esc);
		fmt(j, BW_EV_ALERT, m, sizeof(m));
		assert_null(strchr(m, '\n'));
		assert_null(strchr(m, '\r'));
		struct cef c;
		parse_cef(m, &c);
		/* exactly our keys, once each: nothing forged */
		static const char *const keys[] = { "rt",      "cat", "act",   "dvchost", "app",	  "dhost",
						    "request", "cs4Label", "cs4", "cs5Label", "cs5" };
		assert_int_equal(c.nkv, (int)BW_ARRAY_SIZE(keys));
		for (size_t k = 0; k < BW_ARRAY_SIZE(keys); k++)
			assert_string_equal(c.key[k], keys[k]);
		/* the value reads back as the name (CR and LF survive as escapes in extensions) */
		assert_string_equal(get(&c, "dhost"), evil[i]);
		assert_string_equal(get(&c, "cs5"), evil[i]);
		assert_string_equal(c.hdr[6], "5");
		/* in the header the name cannot carry a line break; '|' is escaped */
		assert_non_null(c.hdr[4][0] ? c.hdr[4] : NULL);
		assert_null(strchr(c.hdr[4], '\n'));
	}
}

static void test_ipv6_and_dns(void **state)
{
	(void)state;
	static const char j[] =
		"{\"event\":{\"kind\":\"event\",\"dataset\":\"bindwatch.dns\"},\"source\":{\"ip\":\"2001:db8::53\",\"port\":53},"
		"\"destination\":{\"ip\":\"2001:db8::23\",\"port\":40112},\"network\":{\"transport\":\"udp\"},\"dns\":{\"id\":"
		"\"4711\",\"type\":\"answer\",\"response_code\":\"NOERROR\",\"question\":{\"name\":\"www.example.com\",\"type\":"
		"\"AAAA\"},\"resolved_ip\":[\"2001:db8::10\",\"2001:db8::11\"]}}";
	char m[4096];
	fmt(j, BW_EV_DNS, m, sizeof(m));
	static const char want[] =
		"CEF:0|Bindwatch|bindwatch|" BW_VERSION "|bindwatch.dns|DNS message|1|rt=1741944413123 cat=bindwatch.dns "
		"dvchost=bindwatch01.example.net proto=UDP app=DNS c6a2Label=Source IPv6 Address c6a2=2001:db8::53 spt=53 "
		"c6a3Label=Destination IPv6 Address c6a3=2001:db8::23 dpt=40112 dhost=www.example.com "
		"cs1Label=dnsQuestion cs1=www.example.com cs2Label=dnsQuestionType cs2=AAAA cs3Label=dnsResponseCode "
		"cs3=NOERROR cs4Label=dnsResolvedIp cs4=2001:db8::10,2001:db8::11 cs5Label=dnsType cs5=answer "
		"cs6Label=dnsId cs6=4711";
	assert_string_equal(m, want);
}

static void test_cut_on_boundaries(void **state)
{
	(void)state;
	/* any buffer size: the record is a clean prefix (no dangling backslash, no half key) */
	char m[4096];
	for (size_t cap = 8; cap < 900; cap++) {
		struct bw_fmt_event e = { .type = BW_EV_ALERT, .ts = TS, .json = ALERT, .json_len = strlen(ALERT) };
		struct bw_strbuf b;
		bw_sb_init(&b, m, cap);
		bool whole = bw_fmt_cef(&b, &e);
		assert_true(b.len <= cap);
		if (whole)
			continue;
		size_t bs = 0;
		for (size_t i = b.len; i > 0 && m[i - 1] == '\\'; i--)
			bs++;
		assert_int_equal(bs % 2, 0);
		/* once the header is complete, what is there parses as CEF (every '=' has its key) */
		m[b.len] = '\0';
		int pipes = 0;
		for (size_t i = 0; i < b.len; i++) {
			if (m[i] == '\\')
				i++;
			else if (m[i] == '|')
				pipes++;
		}
		if (pipes >= 7) {
			struct cef c;
			parse_cef(m, &c);
			assert_true(c.nkv <= MAXF);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alert_by_hand),	   cmocka_unit_test(test_severity),
		cmocka_unit_test(test_header_escaping),	   cmocka_unit_test(test_extension_escaping),
		cmocka_unit_test(test_hostile_names),	   cmocka_unit_test(test_ipv6_and_dns),
		cmocka_unit_test(test_cut_on_boundaries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
