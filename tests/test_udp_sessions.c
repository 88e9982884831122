/* SPDX-License-Identifier: MIT */
/* test_udp_sessions.c: bounded UDP session table: find, LRU eviction, idle expiry, close once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../sensor/udp_sessions.h"

static int closes;
static void on_close(void *ctx, struct bw_udp_session *s)
{
	(void)ctx;
	(void)s;
	closes++;
}

static struct bw_flow_key key(uint8_t last, uint16_t port)
{
	struct bw_flow_key k;
	memset(&k, 0, sizeof(k));
	k.lo.family = k.hi.family = 4;
	k.lo.a[0] = 10;
	k.lo.a[3] = last;
	k.hi.a[0] = 192;
	k.hi.a[3] = 1;
	k.lo_port = port;
	k.hi_port = 443;
	k.proto = 17;
	return k;
}

static void test_find_add(void **state)
{
	(void)state;
	closes = 0;
	struct bw_udp_sessions *t = bw_udp_sessions_new(4, 10 * BW_NSEC_PER_SEC, on_close, NULL);
	assert_non_null(t);
	struct bw_flow_key k1 = key(1, 1000), k2 = key(2, 1000);
	assert_null(bw_udp_sessions_find(t, &k1, 1));
	struct bw_udp_session *s = bw_udp_sessions_add(t, &k1, 1, 1);
	s->app = (void *)0x1;
	assert_ptr_equal(bw_udp_sessions_find(t, &k1, 2), s);
	assert_int_equal(bw_udp_sessions_find(t, &k1, 2)->client_dir, 1);
	assert_null(bw_udp_sessions_find(t, &k2, 2));
	bw_udp_sessions_free(t);
	assert_int_equal(closes, 1);
}

static void test_lru_eviction(void **state)
{
	(void)state;
	closes = 0;
	struct bw_udp_sessions *t = bw_udp_sessions_new(3, 100 * BW_NSEC_PER_SEC, on_close, NULL);
	struct bw_flow_key k[5];
	for (int i = 0; i < 3; i++) {
		k[i] = key((uint8_t)i, 2000);
		bw_udp_sessions_add(t, &k[i], 0, (bw_time_t)i);
	}
	/* touch 0 so 1 is the least recently used */
	assert_non_null(bw_udp_sessions_find(t, &k[0], 10));
	k[3] = key(3, 2000);
	bw_udp_sessions_add(t, &k[3], 0, 11);
	assert_int_equal(closes, 1);
	assert_null(bw_udp_sessions_find(t, &k[1], 12));
	assert_non_null(bw_udp_sessions_find(t, &k[0], 12));
	assert_non_null(bw_udp_sessions_find(t, &k[2], 12));
	assert_non_null(bw_udp_sessions_find(t, &k[3], 12));
	assert_int_equal(bw_udp_sessions_stats(t)->evicted, 1);
	assert_int_equal(bw_udp_sessions_stats(t)->active, 3);
	bw_udp_sessions_free(t);
	assert_int_equal(closes, 4);
}

static void test_expiry(void **state)
{
	(void)state;
	closes = 0;
	struct bw_udp_sessions *t = bw_udp_sessions_new(8, 5 * BW_NSEC_PER_SEC, on_close, NULL);
	struct bw_flow_key a = key(1, 1), b = key(2, 2);
	bw_udp_sessions_add(t, &a, 0, 1 * BW_NSEC_PER_SEC);
	bw_udp_sessions_add(t, &b, 0, 4 * BW_NSEC_PER_SEC);
	/* due says what expire would do, and does nothing itself */
	assert_false(bw_udp_sessions_due(t, 6 * BW_NSEC_PER_SEC));
	assert_true(bw_udp_sessions_due(t, 6 * BW_NSEC_PER_SEC + 2));
	assert_int_equal(closes, 0);
	assert_false(bw_udp_sessions_due(NULL, 6 * BW_NSEC_PER_SEC + 2));
	bw_udp_sessions_expire(t, 6 * BW_NSEC_PER_SEC + 2);
	assert_int_equal(closes, 1);
	assert_false(bw_udp_sessions_due(t, 9 * BW_NSEC_PER_SEC));
	assert_true(bw_udp_sessions_due(t, 9 * BW_NSEC_PER_SEC + 1));
	assert_null(bw_udp_sessions_find(t, &a, 7 * BW_NSEC_PER_SEC));
	assert_non_null(bw_udp_sessions_find(t, &b, 7 * BW_NSEC_PER_SEC));
	bw_udp_sessions_expire(t, 13 * BW_NSEC_PER_SEC);
	assert_int_equal(closes, 2);
	assert_int_equal(bw_udp_sessions_stats(t)->timed_out, 2);
	/* the freed slots are reused */
	for (int i = 0; i < 8; i++) {
		struct bw_flow_key k = key((uint8_t)(10 + i), 9);
		assert_non_null(bw_udp_sessions_add(t, &k, 0, 14 * BW_NSEC_PER_SEC));
	}
	assert_int_equal(bw_udp_sessions_stats(t)->evicted, 0);
	bw_udp_sessions_flush(t);
	assert_int_equal(closes, 10);
	bw_udp_sessions_free(t);
	assert_int_equal(closes, 10);
	assert_null(bw_udp_sessions_new(0, 1, NULL, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_add),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
