// SPDX-License-Identifier: MIT
/* Unit tests for sensor/x509dedup.c: the output's filter of repeated x509 events. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sensor/bw.h"
#include "sensor/x509dedup.h"

static void ev(char *buf, size_t cap, unsigned n)
{
	snprintf(buf, cap,
		 "{\"@timestamp\":\"x\",\"bindwatch\":{\"x509\":{\"sha256\":\"%016x%048x\"}},"
		 "\"x509\":{\"hash\":{\"sha256\":\"ffffffffffffffff\"}}}",
		 n + 1, 0);
}

static void test_key_first_sha256(void **state)
{
	(void)state;
	char b[256];
	ev(b, sizeof(b), 0x1233);
	assert_int_equal(bw_x509_dedup_key(b, strlen(b)), 0x1234);
	/* no key, a key cut short, a key that is not hex */
	assert_int_equal(bw_x509_dedup_key("{}", 2), 0);
	const char *cut = "{\"sha256\":\"0123456789ab";
	assert_int_equal(bw_x509_dedup_key(cut, strlen(cut)), 0);
	const char *bad = "{\"sha256\":\"0123456789abcdeg0000\"}";
	assert_int_equal(bw_x509_dedup_key(bad, strlen(bad)), 0);
	/* a zero fingerprint still counts as a certificate */
	const char *zero = "{\"sha256\":\"0000000000000000\"}";
	assert_int_equal(bw_x509_dedup_key(zero, strlen(zero)), 1);
}

static void test_repeats_dropped(void **state)
{
	(void)state;
	struct bw_x509_dedup d;
	assert_int_equal(bw_x509_dedup_init(&d, 1024), BW_OK);
	char b[256];
	for (unsigned i = 0; i < 40; i++) {
		ev(b, sizeof(b), i);
		assert_false(bw_x509_dedup_repeat(&d, b, strlen(b)));
	}
	for (unsigned i = 0; i < 40; i++) {
		ev(b, sizeof(b), i);
		assert_true(bw_x509_dedup_repeat(&d, b, strlen(b)));
	}
	assert_int_equal(d.repeats, 40);
	/* events without a fingerprint always pass */
	assert_false(bw_x509_dedup_repeat(&d, "{}", 2));
	assert_false(bw_x509_dedup_repeat(&d, "{}", 2));
	bw_x509_dedup_deinit(&d);
}

static void test_bounded(void **state)
{
	(void)state;
	struct bw_x509_dedup d;
	assert_int_equal(bw_x509_dedup_init(&d, 16), BW_OK);
	assert_true(d.buckets * BW_X509_DEDUP_WAYS >= 16);
	char b[256];
	/* far more certificates than it holds: memory stays put, old ones are forgotten */
	for (unsigned i = 0; i < 10000; i++) {
		ev(b, sizeof(b), i);
		assert_false(bw_x509_dedup_repeat(&d, b, strlen(b)));
	}
	uint64_t buckets = d.buckets;
	/* the newest is still known; the set never grew */
	ev(b, sizeof(b), 9999);
	assert_true(bw_x509_dedup_repeat(&d, b, strlen(b)));
	assert_int_equal(d.buckets, buckets);
	/* and an early one was forgotten: it is announced again, not held forever */
	ev(b, sizeof(b), 0);
	assert_false(bw_x509_dedup_repeat(&d, b, strlen(b)));
	bw_x509_dedup_deinit(&d);
	/* deinit twice is harmless */
	bw_x509_dedup_deinit(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_first_sha256),
		cmocka_unit_test(test_repeats_dropped),
		cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
