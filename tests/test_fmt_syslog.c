/* SPDX-License-Identifier: MIT */
/*
 * test_fmt_syslog.c: RFC 5424 / RFC 3164 headers, STRUCTURED-DATA escaping,
 * whole messages and their cutting to a size limit, against messages written
 * out by hand from the RFCs (and siem-formats.md's examples).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sensor/fmt_syslog.h"
#include "../sensor/jsonread.h"

/* 2025-03-14T09:26:53.123456Z */
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

static struct bw_fmt_event alert_event(const char *json)
{
	struct bw_fmt_event e = { .type = BW_EV_ALERT, .ts = TS, .json = json, .json_len = strlen(json),
				  .hostname = "bindwatch01.example.net" };
	return e;
}

static struct bw_syslog_opts opts(enum bw_syslog_layout l, enum bw_payload p, size_t max)
{
	struct bw_syslog_opts o = { .layout = l, .payload = p, .facility = 16, .hostname = "bindwatch01.example.net",
				    .app_name = "bindwatch", .procid = "4123", .bom = true, .max_size = max };
	return o;
}

static void test_header_5424(void **state)
{
	(void)state;
	char mem[512];
	struct bw_strbuf b;
	bw_sb_init(&b, mem, sizeof(mem));
	/* RFC 5424 6.2 + siem-formats example 1: local0 (16) warning (4) = 132 */
	struct bw_syslog_hdr h = { BW_SYSLOG_RFC5424, 16, 4, TS, "bindwatch01.example.net", "bindwatch", "4123",
				   "CERT_SNI_MISMATCH" };
	assert_true(bw_syslog_header(&b, &h));
	assert_int_equal(b.len, strlen("<132>1 2025-03-14T09:26:53.123456Z bindwatch01.example.net bindwatch 4123 "
				       "CERT_SNI_MISMATCH"));
	assert_memory_equal(mem,
			    "<132>1 2025-03-14T09:26:53.123456Z bindwatch01.example.net bindwatch 4123 CERT_SNI_MISMATCH",
			    b.len);
	/* NILVALUEs; PRI 0 is "<0>", the largest is 191 */
	bw_sb_init(&b, mem, sizeof(mem));
	struct bw_syslog_hdr nil = { BW_SYSLOG_RFC5424, 0, 0, 0, NULL, "", NULL, NULL };
	bw_syslog_header(&b, &nil);
	assert_memory_equal(mem, "<0>1 - - - - -", b.len);
	assert_int_equal(b.len, 14);
	bw_sb_init(&b, mem, sizeof(mem));
	struct bw_syslog_hdr big = { BW_SYSLOG_RFC5424, 99, 99, 0, "h", "a", "p", "m" };
	bw_syslog_header(&b, &big);
	assert_memory_equal(mem, "<191>1 - h a p m", b.len);
	/* header fields are PRINTUSASCII, no space, and length-capped */
	bw_sb_init(&b, mem, sizeof(mem));
	char longid[64];
	memset(longid, 'M', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	struct bw_syslog_hdr bad = { BW_SYSLOG_RFC5424, 1, 6, 0, "host name\n<13>1", "app\xc3\xa9", "1 2", longid };
	bw_syslog_header(&b, &bad);
	char want[128];
	snprintf(want, sizeof(want), "<14>1 - host_name_<13>1 app_ 1_2 %.32s", longid);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(mem, want, b.len);
}

static void test_header_3164(void **state)
{
	(void)state;
	char mem[256];
	struct bw_strbuf b;
	bw_sb_init(&b, mem, sizeof(mem));
	struct bw_syslog_hdr h = { BW_SYSLOG_RFC3164, 16, 4, TS, "bindwatch01", "bindwatch", "4123", "X" };
	bw_syslog_header(&b, &h);
	assert_memory_equal(mem, "<132>Mar 14 09:26:53 bindwatch01 bindwatch[4123]:", b.len);
	/* single-digit day is space padded (RFC 3164 4.1.2); TAG alphanumeric, <= 32 */
	bw_sb_init(&b, mem, sizeof(mem));
	struct bw_syslog_hdr h2 = { BW_SYSLOG_RFC3164, 4, 2, 1709543045ULL * BW_NSEC_PER_SEC, "h", "bind watch:x", NULL,
				    NULL };
	bw_syslog_header(&b, &h2);
	assert_memory_equal(mem, "<34>Mar  4 09:04:05 h bind_watch_x:", b.len);
	assert_int_equal(b.len, strlen("<34>Mar  4 09:04:05 h bind_watch_x:"));
}

static void test_sd_escaping(void **state)
{
	(void)state;
	char mem[512];
	struct bw_strbuf b;
	bw_sb_init(&b, mem, sizeof(mem));
	/* siem-formats 1.4 example 2 (RFC 5424 6.3.3): only " \ ] are escaped */
	bw_syslog_sd_open(&b, "bindwatch@32473");
	const char *subj = "CN=Acme \"Intranet\" [test] CA";
	bw_syslog_sd_param(&b, "certSubject", subj, strlen(subj), 0);
	bw_syslog_sd_param(&b, "path", "C:\\certs", 8, 0);
	bw_syslog_sd_close(&b);
	static const char want[] = "[bindwatch@32473 certSubject=\"CN=Acme \\\"Intranet\\\" [test\\] CA\" path=\"C:\\\\certs\"]";
	assert_int_equal(b.len, sizeof(want) - 1);
	assert_memory_equal(mem, want, b.len);
	/* hostile: newline + forged message, NUL, invalid UTF-8, C1 control; names sanitised */
	bw_sb_init(&b, mem, sizeof(mem));
	static const char evil[] = "a\n<13>1 - x] \"\\\0b\xff\xc2\x85z";
	bw_syslog_sd_open(&b, "id with space");
	bw_syslog_sd_param(&b, "n=\"]", evil, sizeof(evil) - 1, 0);
	bw_syslog_sd_close(&b);
	static const char want2[] =
		"[id_with_space n___=\"a\xEF\xBF\xBD<13>1 - x\\] \\\"\\\\\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBDz\"]";
	assert_int_equal(b.len, sizeof(want2) - 1);
	assert_memory_equal(mem, want2, b.len);
	/* a value cap never splits an escape */
	bw_sb_init(&b, mem, sizeof(mem));
	assert_false(bw_sb_escape(&b, "ab]]", 4, BW_ESC_SD, 5));
	assert_memory_equal(mem, "ab\\]", 4);
	assert_int_equal(b.len, 4);
}

static void test_escape_modes(void **state)
{
	(void)state;
	char mem[256];
	struct bw_strbuf b;
	static const char s[] = "a|b=c\\d\re\nf\tg^h]";
	struct {
		enum bw_esc mode;
		const char *want;
	} cases[] = {
		{ BW_ESC_TEXT, "a|b=c\\d\xEF\xBF\xBD" "e\xEF\xBF\xBD" "f\xEF\xBF\xBDg^h]" },
		{ BW_ESC_CEF_HDR, "a\\|b=c\\\\d\xEF\xBF\xBD" "e\xEF\xBF\xBD" "f\xEF\xBF\xBDg^h]" },
		{ BW_ESC_CEF_EXT, "a|b\\=c\\\\d\\re\\nf\xEF\xBF\xBDg^h]" },
		{ BW_ESC_LEEF, "a|b=c\\d\xEF\xBF\xBD" "e\xEF\xBF\xBD" "f\xEF\xBF\xBDg^h]" },
		{ BW_ESC_LEEF_HDR, "a_b=c\\d\xEF\xBF\xBD" "e\xEF\xBF\xBD" "f\xEF\xBF\xBDg_h]" },
		{ BW_ESC_ASCII, "a|b=c\\d_e_f_g^h]" },
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(cases); i++) {
		bw_sb_init(&b, mem, sizeof(mem));
		assert_true(bw_sb_escape(&b, s, sizeof(s) - 1, cases[i].mode, 0));
		assert_int_equal(b.len, strlen(cases[i].want));
		assert_memory_equal(mem, cases[i].want, b.len);
	}
	/* U+2028 LINE SEPARATOR is a line break for some parsers */
	bw_sb_init(&b, mem, sizeof(mem));
	bw_sb_escape(&b, "x\xE2\x80\xA8y\xE2\x82\xACz", 9, BW_ESC_TEXT, 0);
	assert_memory_equal(mem, "x\xEF\xBF\xBDy\xE2\x82\xACz", b.len);
	/* a full buffer takes nothing more and never half a sequence */
	bw_sb_init(&b, mem, 4);
	assert_false(bw_sb_escape(&b, "ab\xE2\x82\xAC", 5, BW_ESC_TEXT, 0));
	assert_int_equal(b.len, 2);
	assert_true(b.full);
	bw_sb_init(&b, mem, 4);
	assert_false(bw_sb_put_utf8_prefix(&b, "ab\xE2\x82\xAC", 5));
	assert_int_equal(b.len, 2);
}

static void test_severity_and_facility(void **state)
{
	(void)state;
	char json[128];
	struct bw_fmt_event e = { .type = BW_EV_ALERT, .json = json };
	const unsigned want[] = { 4, 5, 4, 3, 2, 2 }; /* missing, 1..4, out of range (clamped) */
	for (int s = 0; s <= 5; s++) {
		if (s == 0)
			snprintf(json, sizeof(json), "{\"event\":{}}");
		else
			snprintf(json, sizeof(json), "{\"event\":{\"severity\":%d}}", s == 5 ? 9 : s);
		e.json_len = strlen(json);
		assert_int_equal(bw_syslog_severity(&e), want[s]);
	}
	e.type = BW_EV_DNS;
	assert_int_equal(bw_syslog_severity(&e), 6);
	assert_int_equal(bw_syslog_facility_parse("local0"), 16);
	assert_int_equal(bw_syslog_facility_parse("local7"), 23);
	assert_int_equal(bw_syslog_facility_parse("daemon"), 3);
	assert_int_equal(bw_syslog_facility_parse("authpriv"), 10);
	assert_int_equal(bw_syslog_facility_parse("13"), 13);
	assert_int_equal(bw_syslog_facility_parse("24"), -1);
	assert_int_equal(bw_syslog_facility_parse("local8"), -1);
	assert_int_equal(bw_syslog_facility_parse(""), -1);
	assert_int_equal(bw_syslog_facility_parse("1x"), -1);
}

static void test_message_json_5424(void **state)
{
	(void)state;
	char mem[8192];
	struct bw_fmt_event e = alert_event(ALERT);
	struct bw_syslog_opts o = opts(BW_SYSLOG_RFC5424, BW_PAYLOAD_JSON, sizeof(mem));
	bool t = true;
	size_t n = bw_syslog_message(mem, sizeof(mem), &o, &e, &t);
	/* severity 3 -> syslog err (3): local0*8+3 = 131; MSGID = the alert type */
	static const char head[] =
		"<131>1 2025-03-14T09:26:53.123456Z bindwatch01.example.net bindwatch 4123 cert_name_mismatch "
		"[bindwatch@32473 id=\"4f2a9c01d3b7e655\" type=\"cert_name_mismatch\" dataset=\"bindwatch.alert\" "
		"severity=\"3\" name=\"www.example.com\" address=\"192.0.2.10\" port=\"443\" "
		"dedup=\"cert_name_mismatch|www.example.com|192.0.2.10\" repeats=\"0\" src=\"198.51.100.23\" "
		"dst=\"192.0.2.10\" dpt=\"443\" sni=\"www.example.com\"] \xEF\xBB\xBF";
	assert_false(t);
	assert_int_equal(n, sizeof(head) - 1 + strlen(ALERT));
	assert_memory_equal(mem, head, sizeof(head) - 1);
	assert_memory_equal(mem + sizeof(head) - 1, ALERT, strlen(ALERT));
	/* no BOM when asked; RFC 3164 has no structured data */
	o.bom = false;
	o.layout = BW_SYSLOG_RFC3164;
	n = bw_syslog_message(mem, sizeof(mem), &o, &e, &t);
	static const char head3164[] = "<131>Mar 14 09:26:53 bindwatch01.example.net bindwatch[4123]: ";
	assert_memory_equal(mem, head3164, sizeof(head3164) - 1);
	assert_int_equal(n, sizeof(head3164) - 1 + strlen(ALERT));
}

static void test_message_hostile_name(void **state)
{
	(void)state;
	/* an SNI holding a newline and a whole forged syslog line, ], ", \, NUL and bad UTF-8 */
	static const char j[] =
		"{\"event\":{\"kind\":\"alert\",\"dataset\":\"bindwatch.alert\",\"severity\":4,\"id\":\"01\"},"
		"\"rule\":{\"name\":\"cert_name_mismatch\"},\"tls\":{\"client\":{\"server_name\":"
		"\"x\\n<13>1 2025-01-01T00:00:00Z evil bindwatch - forged [bindwatch@32473 id=\\\"99\\\"] \\\\ \\u0000\\u00ff|=\"}}}";
	char mem[4096];
	struct bw_fmt_event e = alert_event(j);
	struct bw_syslog_opts o = opts(BW_SYSLOG_RFC5424, BW_PAYLOAD_JSON, sizeof(mem));
	size_t n = bw_syslog_message(mem, sizeof(mem), &o, &e, NULL);
	assert_true(n > 0);
	assert_null(memchr(mem, '\n', n));
	assert_null(memchr(mem, '\0', n));
	static const char sd[] = "[bindwatch@32473 id=\"01\" type=\"cert_name_mismatch\" dataset=\"bindwatch.alert\" "
				 "severity=\"4\" sni=\"x\xEF\xBF\xBD<13>1 2025-01-01T00:00:00Z evil bindwatch - forged "
				 "[bindwatch@32473 id=\\\"99\\\"\\] \\\\ \xEF\xBF\xBD\xC3\xBF|=\"] ";
	static const char hdr[] = "<130>1 2025-03-14T09:26:53.123456Z bindwatch01.example.net bindwatch 4123 "
				  "cert_name_mismatch ";
	assert_memory_equal(mem, hdr, sizeof(hdr) - 1);
	char *p = memmem(mem, n, sd, sizeof(sd) - 1);
	assert_non_null(p);
	/* and exactly one SD element closes at an unescaped ']' followed by SP */
	int closes = 0;
	size_t bom = (size_t)((char *)memmem(mem, n, "\xEF\xBB\xBF", 3) - mem);
	for (size_t i = 0; i + 1 < bom; i++)
		if (mem[i] == ']' && mem[i + 1] == ' ' && (i == 0 || mem[i - 1] != '\\'))
			closes++;
	assert_int_equal(closes, 1);
}

/* A cut message must be valid UTF-8, end with the marker, and leave no dangling backslash. */
static void check_cut(const char *m, size_t n, size_t max, bool escapes)
{
	assert_true(n <= max);
	size_t mk = strlen(BW_SYSLOG_TRUNC_MARK);
	assert_true(n > mk);
	assert_memory_equal(m + n - mk, BW_SYSLOG_TRUNC_MARK, mk);
	size_t bs = 0;
	for (size_t i = n - mk; i > 0 && m[i - 1] == '\\'; i--)
		bs++;
	if (escapes) /* LEEF has no escape syntax: a trailing backslash is just a character */
		assert_int_equal(bs % 2, 0);
	/* UTF-8 check */
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)m[i];
		size_t l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		assert_true(l > 0 && i + l <= n);
		for (size_t k = 1; k < l; k++)
			assert_int_equal((unsigned char)m[i + k] >> 6, 2);
		i += l;
	}
}

static void test_message_cut(void **state)
{
	(void)state;
	/* a payload full of multi-byte characters and escapes, cut at every size */
	char j[3000];
	int off = snprintf(j, sizeof(j), "{\"event\":{\"kind\":\"alert\",\"severity\":2,\"id\":\"77\",\"reason\":\"");
	for (int i = 0; i < 300; i++)
		off += snprintf(j + off, sizeof(j) - (size_t)off, "\xE2\x82\xAC=\\\\|");
	snprintf(j + off, sizeof(j) - (size_t)off, "\"},\"rule\":{\"name\":\"r\"}}");
	struct bw_fmt_event e = alert_event(j);
	char mem[4096];
	for (int p = 0; p < 3; p++) {
		for (size_t max = BW_SYSLOG_MIN_SIZE; max < 2200; max += 7) {
			struct bw_syslog_opts o = opts(BW_SYSLOG_RFC5424, (enum bw_payload)p, max);
			bool t = false;
			size_t n = bw_syslog_message(mem, sizeof(mem), &o, &e, &t);
			if (t) {
				check_cut(mem, n, max, p != BW_PAYLOAD_LEEF);
			} else {
				/* CEF and LEEF cap the reason at 1023 bytes: those fit the larger limits */
				assert_true(p != BW_PAYLOAD_JSON && max > 1100 && n <= max && n > 0);
			}
		}
	}
	/* a message that fits exactly is not cut */
	struct bw_syslog_opts o = opts(BW_SYSLOG_RFC5424, BW_PAYLOAD_JSON, sizeof(mem));
	bool t;
	size_t full = bw_syslog_message(mem, sizeof(mem), &o, &e, &t);
	o.max_size = full;
	assert_int_equal(bw_syslog_message(mem, sizeof(mem), &o, &e, &t), full);
	assert_false(t);
	o.max_size = full - 1;
	size_t n = bw_syslog_message(mem, sizeof(mem), &o, &e, &t);
	assert_true(t);
	check_cut(mem, n, full - 1, true);
}

static void test_message_sd_fallback(void **state)
{
	(void)state;
	/* structured data too big for the limit: reduced to id, type, dataset; never cut */
	char j[4096];
	char name[300];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(j, sizeof(j),
		 "{\"event\":{\"kind\":\"alert\",\"dataset\":\"bindwatch.alert\",\"severity\":1,\"id\":\"ab\"},"
		 "\"rule\":{\"name\":\"r\"},\"bindwatch\":{\"alert\":{\"name\":\"%s\",\"dedup_key\":\"%s\"}},"
		 "\"dns\":{\"question\":{\"name\":\"%s\"}}}",
		 name, name, name);
	struct bw_fmt_event e = alert_event(j);
	char mem[600];
	struct bw_syslog_opts o = opts(BW_SYSLOG_RFC5424, BW_PAYLOAD_JSON, 600);
	bool t;
	size_t n = bw_syslog_message(mem, sizeof(mem), &o, &e, &t);
	assert_true(n > 0 && t);
	static const char head[] = "<133>1 2025-03-14T09:26:53.123456Z bindwatch01.example.net bindwatch 4123 r "
				   "[bindwatch@32473 id=\"ab\" type=\"r\" dataset=\"bindwatch.alert\"] \xEF\xBB\xBF{";
	assert_memory_equal(mem, head, sizeof(head) - 1);
	check_cut(mem, n, 600, true);
	/* a limit below even the header gives 0 */
	char tiny[16];
	o.max_size = 16;
	assert_int_equal(bw_syslog_message(tiny, sizeof(tiny), &o, &e, &t), 0);
}

static void test_fmt_field_arrays(void **state)
{
	(void)state;
	static const char j[] = "{\"dns\":{\"resolved_ip\":[\"192.0.2.1\",\"2001:db8::1\",{\"x\":1},7]}}";
	struct bw_fmt_event e = { .type = BW_EV_DNS, .json = j, .json_len = sizeof(j) - 1 };
	char out[64];
	assert_int_equal(bw_fmt_field(&e, "dns.resolved_ip", out, sizeof(out)), strlen("192.0.2.1,2001:db8::1,7"));
	assert_string_equal(out, "192.0.2.1,2001:db8::1,7");
	assert_int_equal(bw_fmt_field(&e, "dns.nothing", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	char small[12];
	bw_fmt_field(&e, "dns.resolved_ip", small, sizeof(small));
	assert_string_equal(small, "192.0.2.1");
	char name[16];
	assert_int_equal(bw_fmt_event_type_name(&e, name, sizeof(name)), 3);
	assert_string_equal(name, "dns");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_5424),	    cmocka_unit_test(test_header_3164),
		cmocka_unit_test(test_sd_escaping),	    cmocka_unit_test(test_escape_modes),
		cmocka_unit_test(test_severity_and_facility), cmocka_unit_test(test_message_json_5424),
		cmocka_unit_test(test_message_hostile_name), cmocka_unit_test(test_message_cut),
		cmocka_unit_test(test_message_sd_fallback), cmocka_unit_test(test_fmt_field_arrays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
