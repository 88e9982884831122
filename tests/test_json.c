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
		assert_string_equal(bw_json_ip_text(&ip, got, sizeof(got)), want);
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
		assert_string_equal(bw_json_ip_text(&ip, got, sizeof(got)), want);
	}
	ip.family = 0;
	assert_string_equal(bw_json_ip_text(&ip, got, sizeof(got)), "-");
	assert_string_equal(bw_json_ip_text(NULL, got, sizeof(got)), "-");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas), cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_truncated_utf8_at_end), cmocka_unit_test(test_cap_is_enforced),
		cmocka_unit_test(test_depth_limit), cmocka_unit_test(test_time_and_hex),
		cmocka_unit_test(test_numbers_like_printf), cmocka_unit_test(test_time_like_gmtime),
		cmocka_unit_test(test_ip_like_inet_ntop), cmocka_unit_test(test_odd_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
