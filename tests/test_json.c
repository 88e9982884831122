/* SPDX-License-Identifier: MIT */
/* test_json.c: the JSON writer keeps output valid whatever the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../sensor/json.h"

static void test_nesting_and_commas(void **state)
{
	(void)state;
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 0), BW_OK);
	bw_json_obj_begin(&j, NULL);
	bw_json_str(&j, "a", "x");
	bw_json_u64(&j, "b", 42);
	bw_json_arr_begin(&j, "c");
	bw_json_u64(&j, NULL, 1);
	bw_json_bool(&j, NULL, true);
	bw_json_null(&j, NULL);
	bw_json_obj_begin(&j, NULL);
	bw_json_obj_end(&j);
	bw_json_arr_end(&j);
	bw_json_i64(&j, "d", -7);
	bw_json_obj_end(&j);
	assert_true(bw_json_ok(&j));
	assert_string_equal(j.buf, "{\"a\":\"x\",\"b\":42,\"c\":[1,true,null,{}],\"d\":-7}");
	bw_json_reset(&j);
	bw_json_obj_begin(&j, NULL);
	bw_json_obj_end(&j);
	assert_string_equal(j.buf, "{}");
	bw_json_deinit(&j);
}

static void test_escaping(void **state)
{
	(void)state;
	struct bw_json j;
	bw_json_init(&j, 0);
	/* quote, backslash, newline (would forge a second line), NUL, C1, bad UTF-8 */
	const char evil[] = "a\"b\\c\nd\re\tf\0g\x01h\xff" "i\xc3\xa9j\xe2\x82\xack\xc0\xafl\xed\xa0\x80m";
	bw_json_obj_begin(&j, NULL);
	bw_json_strn(&j, "k\"ey", evil, sizeof(evil) - 1);
	bw_json_obj_end(&j);
	assert_true(bw_json_ok(&j));
	assert_string_equal(j.buf, "{\"k\\\"ey\":\"a\\\"b\\\\c\\nd\\re\\tf\\u0000g\\u0001h\\ufffd"
				   "i\xc3\xa9j\xe2\x82\xack\\ufffd\\ufffdl\\ufffd\\ufffd\\ufffdm\"}");
	assert_null(strchr(j.buf, '\n'));
	bw_json_deinit(&j);
}

static void test_truncated_utf8_at_end(void **state)
{
	(void)state;
	struct bw_json j;
	bw_json_init(&j, 0);
	bw_json_strn(&j, NULL, "\xe2\x82", 2);
	assert_string_equal(j.buf, "\"\\ufffd\\ufffd\"");
	bw_json_deinit(&j);
}

static void test_cap_is_enforced(void **state)
{
	(void)state;
	struct bw_json j;
	bw_json_init(&j, 64);
	bw_json_arr_begin(&j, NULL);
	for (int i = 0; i < 100; i++)
		bw_json_u64(&j, NULL, 123456789);
	assert_false(bw_json_ok(&j));
	assert_int_equal(j.err, BW_ELIMIT);
	assert_true(j.len < 64);
	bw_json_reset(&j);
	assert_true(bw_json_ok(&j));
	bw_json_deinit(&j);
}

static void test_depth_limit(void **state)
{
	(void)state;
	struct bw_json j;
	bw_json_init(&j, 0);
	for (int i = 0; i < BW_JSON_MAX_DEPTH + 5; i++)
		bw_json_arr_begin(&j, NULL);
	assert_false(bw_json_ok(&j));
	bw_json_reset(&j);
	bw_json_obj_end(&j); /* unbalanced close */
	assert_false(bw_json_ok(&j));
	bw_json_deinit(&j);
}

static void test_time_and_hex(void **state)
{
	(void)state;
	struct bw_json j;
	bw_json_init(&j, 0);
	bw_json_arr_begin(&j, NULL);
	bw_json_time(&j, NULL, 1741944413123456789ULL);
	bw_json_time(&j, NULL, 0);
	static const uint8_t b[] = { 0x00, 0xab, 0xff };
	bw_json_hex(&j, NULL, b, sizeof(b));
	struct bw_ip ip4 = { .family = 4, .a = { 192, 0, 2, 1 } };
	struct bw_ip ip6 = { .family = 6, .a = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
	bw_json_ip(&j, NULL, &ip4);
	bw_json_ip(&j, NULL, &ip6);
	bw_json_double(&j, NULL, 1.5);
	bw_json_arr_end(&j);
	assert_string_equal(j.buf, "[\"2025-03-14T09:26:53.123456Z\",\"1970-01-01T00:00:00.000000Z\",\"00abff\","
				   "\"192.0.2.1\",\"2001:db8::1\",1.5]");
	bw_json_deinit(&j);
}

/* The printf-free number forms print what printf would, at the extremes too. */
static void test_numbers_like_printf(void **state)
{
	(void)state;
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 0), BW_OK);
	const uint64_t us[] = { 0, 1, 9, 10, 99, 100, 65535, 4294967295u, 4294967296u, 999999999999999999u,
				UINT64_MAX - 1, UINT64_MAX };
	const int64_t is[] = { 0, -1, 1, -9, -10, INT64_MAX, INT64_MIN, INT64_MIN + 1, -1234567890123 };
	char want[64];
	for (size_t i = 0; i < sizeof(us) / sizeof(*us); i++) {
		bw_json_reset(&j);
		bw_json_u64(&j, NULL, us[i]);
		snprintf(want, sizeof(want), "%" PRIu64, us[i]);
		assert_string_equal(j.buf, want);
		bw_json_reset(&j);
		bw_json_u64_str(&j, NULL, us[i]);
		snprintf(want, sizeof(want), "\"%" PRIu64 "\"", us[i]);
		assert_string_equal(j.buf, want);
		bw_json_reset(&j);
		bw_json_prefixed_u64_str(&j, NULL, "RCODE", us[i]);
		snprintf(want, sizeof(want), "\"RCODE%" PRIu64 "\"", us[i]);
		assert_string_equal(j.buf, want);
	}
	for (size_t i = 0; i < sizeof(is) / sizeof(*is); i++) {
		bw_json_reset(&j);
		bw_json_i64(&j, NULL, is[i]);
		snprintf(want, sizeof(want), "%" PRId64, is[i]);
		assert_string_equal(j.buf, want);
	}
	/* in an object, with the comma */
	bw_json_reset(&j);
	bw_json_obj_begin(&j, NULL);
	bw_json_u64_str(&j, "id", 53);
	bw_json_prefixed_u64_str(&j, "op", "OPCODE", 7);
	bw_json_obj_end(&j);
	assert_string_equal(j.buf, "{\"id\":\"53\",\"op\":\"OPCODE7\"}");
	bw_json_deinit(&j);
}

/* The hand-written RFC 3339 formatter against gmtime_r + snprintf (what it
 * replaced), over the whole range a bw_time_t covers. */
static void test_time_like_gmtime(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bw_time_t t = i < 8 ? (bw_time_t[]){ 0, 1, 999, 86399999999999u, 951782400000000000u,
						      4102444800000000000u, UINT64_MAX, UINT64_MAX - 1 }[i]
				    : (i & 1 ? x : x % (4102444800u * (uint64_t)BW_NSEC_PER_SEC));
		time_t sec = (time_t)(t / BW_NSEC_PER_SEC);
		struct tm tm;
		assert_non_null(gmtime_r(&sec, &tm));
		char want[64], got[40];
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)((t % BW_NSEC_PER_SEC) / 1000));
		assert_string_equal(bw_time_rfc3339(t, got, sizeof(got)), want);
	}
	char small[8];
	assert_string_equal(bw_time_rfc3339(0, small, sizeof(small)), "1970-01");
}

/* Addresses as inet_ntop prints them: zero runs (first longest, not a lone
 * zero word), the IPv4-compatible and IPv4-mapped forms, and random ones. */
static void test_ip_like_inet_ntop(void **state)
{
	(void)state;
	uint64_t x = 88172645463325252u;
	struct bw_ip ip;
	char want[64], got[64];
	for (int i = 0; i < 300000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memset(&ip, 0, sizeof(ip));
		ip.family = (i % 7 == 0) ? 4 : 6;
		uint64_t r = x;
		for (int k = 0; k < 16; k++) {
			ip.a[k] = (uint8_t)(r >> (8 * (k & 7)));
			if (k == 7)
				r = x * 0x2545f4914f6cdd1du;
		}
		if (ip.family == 6) {
			/* zero words: each with probability 1/2, so runs of every length occur */
			for (int w = 0; w < 8; w++)
				if ((x >> (w + 40)) & 1 || (i & 3) == 1)
					ip.a[2 * w] = ip.a[2 * w + 1] = 0;
			if (i % 11 == 0) { /* ::ffff:a.b.c.d and ::a.b.c.d */
				memset(ip.a, 0, 10);
				ip.a[10] = ip.a[11] = (i & 1) ? 0xff : 0;
			}
			if (i % 13 == 0) /* a single zero word between others, and one-byte words */
				ip.a[4] = ip.a[5] = 0, ip.a[6] = 0, ip.a[8] = 0;
		}
		if (!inet_ntop(ip.family == 4 ? AF_INET : AF_INET6, ip.a, want, sizeof(want)))
			fail();
		assert_string_equal(bw_ip_str(&ip, got, sizeof(got)), want);
		/* the shared formatter the DNS AAAA text and the alerts use; unterminated, with its length */
		memset(got, 'x', sizeof(got));
		size_t gl = bw_ip_text(&ip, got);
		assert_int_equal(gl, strlen(want));
		assert_memory_equal(got, want, gl);
	}
	const char *fixed[] = { "::", "::1", "1::", "::ffff:1.2.3.4", "::1.2.3.4", "1:0:0:2::3", "1::2:0:0:3",
				"0:1:0:1:0:1:0:1", "fe80::1:0:0:1", "::ffff:0:1.2.3.4", "::2:3:4:5:6:7:8" };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++) {
		memset(&ip, 0, sizeof(ip));
		ip.family = 6;
		assert_int_equal(inet_pton(AF_INET6, fixed[i], ip.a), 1);
		inet_ntop(AF_INET6, ip.a, want, sizeof(want));
		assert_string_equal(bw_ip_str(&ip, got, sizeof(got)), want);
	}
	ip.family = 0;
	assert_string_equal(bw_ip_str(&ip, got, sizeof(got)), "-");
	assert_string_equal(bw_ip_str(NULL, got, sizeof(got)), "-");
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 0), BW_OK);
	ip.family = 4;
	memcpy(ip.a, (uint8_t[]){ 192, 0, 2, 255 }, 4);
	bw_json_obj_begin(&j, NULL);
	bw_json_ip(&j, "ip", &ip);
	bw_json_ip(&j, "none", NULL);
	bw_json_obj_end(&j);
	assert_string_equal(j.buf, "{\"ip\":\"192.0.2.255\",\"none\":\"-\"}");
	bw_json_deinit(&j);
}

/* A key that needs escaping still goes through the escaper. */
static void test_odd_keys(void **state)
{
	(void)state;
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 0), BW_OK);
	bw_json_obj_begin(&j, NULL);
	bw_json_u64(&j, "a\"b", 1);
	bw_json_u64(&j, "c\n", 2);
	bw_json_u64(&j, "", 3);
	bw_json_obj_end(&j);
	assert_string_equal(j.buf, "{\"a\\\"b\":1,\"c\\n\":2,\"\":3}");
	bw_json_deinit(&j);
}

/* Literal keys are measured once per writer and then found by address in
 * a direct-mapped cache (json.h, "Keys"): with more keys than slots, some
 * share a slot and replace each other. Each document must be the same
 * as with the keys known only at run time, on the first pass and the next,
 * and after a reset. */
#define LITERAL_KEYS \
	X("k000") X("k001") X("k002") X("k003") X("k004") X("k005") X("k006") X("k007") \
	X("k008") X("k009") X("k010") X("k011") X("k012") X("k013") X("k014") X("k015") \
	X("k016") X("k017") X("k018") X("k019") X("k020") X("k021") X("k022") X("k023") \
	X("k024") X("k025") X("k026") X("k027") X("k028") X("k029") X("k030") X("k031") \
	X("k032") X("k033") X("k034") X("k035") X("k036") X("k037") X("k038") X("k039") \
	X("k040") X("k041") X("k042") X("k043") X("k044") X("k045") X("k046") X("k047") \
	X("k048") X("k049") X("k050") X("k051") X("k052") X("k053") X("k054") X("k055") \
	X("k056") X("k057") X("k058") X("k059") X("k060") X("k061") X("k062") X("k063") \
	X("k064") X("k065") X("k066") X("k067") X("k068") X("k069") X("k070") X("k071") \
	X("k072") X("k073") X("k074") X("k075") X("k076") X("k077") X("k078") X("k079") \
	X("k080") X("k081") X("k082") X("k083") X("k084") X("k085") X("k086") X("k087") \
	X("k088") X("k089") X("k090") X("k091") X("k092") X("k093") X("k094") X("k095") \
	X("k096") X("k097") X("k098") X("k099") X("k100") X("k101") X("k102") X("k103") \
	X("k104") X("k105") X("k106") X("k107") X("k108") X("k109") X("k110") X("k111") \
	X("k112") X("k113") X("k114") X("k115") X("k116") X("k117") X("k118") X("k119") \
	X("k120") X("k121") X("k122") X("k123") X("k124") X("k125") X("k126") X("k127") \
	X("k128") X("k129") X("k130") X("k131") X("k132") X("k133") X("k134") X("k135") \
	X("k136") X("k137") X("k138") X("k139") X("k140") X("k141") X("k142") X("k143") \
	X("k144") X("k145") X("k146") X("k147") X("k148") X("k149") X("k150") X("k151") \
	X("k152") X("k153") X("k154") X("k155") X("k156") X("k157") X("k158") X("k159") \
	X("k160") X("k161") X("k162") X("k163") X("k164") X("k165") X("k166") X("k167") \
	X("k168") X("k169") X("k170") X("k171") X("k172") X("k173") X("k174") X("k175") \
	X("k176") X("k177") X("k178") X("k179") X("k180") X("k181") X("k182") X("k183") \
	X("k184") X("k185") X("k186") X("k187") X("k188") X("k189") X("k190") X("k191") \
	X("k192") X("k193") X("k194") X("k195") X("k196") X("k197") X("k198") X("k199") \
	X("k200") X("k201") X("k202") X("k203") X("k204") X("k205") X("k206") X("k207") \
	X("k208") X("k209") X("k210") X("k211") X("k212") X("k213") X("k214") X("k215") \
	X("k216") X("k217") X("k218") X("k219") X("k220") X("k221") X("k222") X("k223") \
	X("k224") X("k225") X("k226") X("k227") X("k228") X("k229") X("k230") X("k231") \
	X("k232") X("k233") X("k234") X("k235") X("k236") X("k237") X("k238") X("k239") \
	X("k240") X("k241") X("k242") X("k243") X("k244") X("k245") X("k246") X("k247") \
	X("k248") X("k249") X("k250") X("k251") X("k252") X("k253") X("k254") X("k255") \
	X("k256") X("k257") X("k258") X("k259") X("k260") X("k261") X("k262") X("k263") \
	X("k264") X("k265") X("k266") X("k267") X("k268") X("k269") X("k270") X("k271") \
	X("k272") X("k273") X("k274") X("k275") X("k276") X("k277") X("k278") X("k279") \
	X("k280") X("k281") X("k282") X("k283") X("k284") X("k285") X("k286") X("k287") \
	X("k288") X("k289") X("k290") X("k291") X("k292") X("k293") X("k294") X("k295") \
	X("k296") X("k297") X("k298") X("k299") X("a\"b") X("tab\t") X("")

static void test_literal_keys_cached(void **state)
{
	(void)state;
	static const char *const runtime[] = {
#define X(k) k,
		LITERAL_KEYS
#undef X
	};
	struct bw_json lit, dyn;
	assert_int_equal(bw_json_init(&lit, 0), BW_OK);
	assert_int_equal(bw_json_init(&dyn, 0), BW_OK);
	for (int pass = 0; pass < 3; pass++) {
		bw_json_reset(&lit);
		bw_json_reset(&dyn);
		bw_json_obj_begin(&lit, NULL);
		uint64_t v = 0;
#define X(k) bw_json_u64(&lit, k, v++);
		LITERAL_KEYS
#undef X
		bw_json_obj_end(&lit);
		bw_json_obj_begin(&dyn, NULL);
		for (size_t i = 0; i < sizeof(runtime) / sizeof(*runtime); i++) {
			const char *volatile k = runtime[i]; /* not a compile-time constant */
			bw_json_u64(&dyn, (const char *)k, i);
		}
		bw_json_obj_end(&dyn);
		assert_true(bw_json_ok(&lit));
		assert_string_equal(lit.buf, dyn.buf);
	}
	assert_non_null(strstr(lit.buf, "\"k299\":299,\"a\\\"b\":300,\"tab\\t\":301,\"\":302}"));
	bw_json_deinit(&lit);
	bw_json_deinit(&dyn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas), cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_truncated_utf8_at_end), cmocka_unit_test(test_cap_is_enforced),
		cmocka_unit_test(test_depth_limit), cmocka_unit_test(test_time_and_hex),
		cmocka_unit_test(test_numbers_like_printf), cmocka_unit_test(test_time_like_gmtime),
		cmocka_unit_test(test_ip_like_inet_ntop), cmocka_unit_test(test_odd_keys),
		cmocka_unit_test(test_literal_keys_cached),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
