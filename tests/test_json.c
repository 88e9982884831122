/* SPDX-License-Identifier: MIT */
/* test_json.c: the JSON writer keeps output valid whatever the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas), cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_truncated_utf8_at_end), cmocka_unit_test(test_cap_is_enforced),
		cmocka_unit_test(test_depth_limit), cmocka_unit_test(test_time_and_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
