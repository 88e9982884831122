/* SPDX-License-Identifier: MIT */
/*
 * test_nameset.c: name sets (exact and "this name or a parent") and name
 * patterns: case, trailing dots, the root, label boundaries, escapes in
 * presentation text, malformed names, and a set of 100k names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sensor/nameset.h"

static bool has(const struct bw_nameset *s, const char *name) { return bw_nameset_contains(s, name, strlen(name)); }
static bool has_exact(const struct bw_nameset *s, const char *name)
{
	return bw_nameset_contains_exact(s, name, strlen(name));
}
static bool pat(const struct bw_namepat *p, const char *name) { return bw_namepat_match(p, name, strlen(name)); }

static void test_boundaries(void **state)
{
	(void)state;
	struct bw_nameset *s = bw_nameset_new();
	assert_non_null(s);
	assert_int_equal(bw_nameset_add(s, "example.com"), BW_OK);
	assert_true(has(s, "example.com"));
	assert_true(has(s, "www.example.com"));
	assert_true(has(s, "a.b.c.d.example.com"));
	assert_false(has(s, "badexample.com"));
	assert_false(has(s, "example.com.evil"));
	assert_false(has(s, "xample.com"));
	assert_false(has(s, "com"));
	assert_false(has(s, "example.org"));
	assert_false(has(s, "wwwexample.com"));
	assert_false(has(s, "-example.com"));
	assert_true(has(s, "_dmarc.example.com"));
	/* Length-limited view: only the first len bytes count. */
	assert_true(bw_nameset_contains(s, "www.example.com.junk", 15));
	assert_false(bw_nameset_contains(s, "www.example.co", 14));
	assert_false(bw_nameset_contains(s, "example.com", 0));
	assert_true(has_exact(s, "example.com"));
	assert_false(has_exact(s, "www.example.com"));
	bw_nameset_free(s);
}

static void test_case_and_dots(void **state)
{
	(void)state;
	struct bw_nameset *s = bw_nameset_new();
	assert_int_equal(bw_nameset_add(s, "Example.COM."), BW_OK);
	assert_int_equal(bw_nameset_count(s), 1);
	assert_string_equal(bw_nameset_get(s, 0), "example.com");
	assert_null(bw_nameset_get(s, 1));
	assert_true(has(s, "EXAMPLE.com"));
	assert_true(has(s, "WwW.eXaMpLe.CoM."));
	assert_true(has_exact(s, "example.com."));
	assert_true(has_exact(s, "EXAMPLE.COM"));
	/* One trailing dot only; empty labels are not names. */
	assert_false(has(s, "example.com.."));
	assert_false(has(s, "www..example.com"));
	assert_false(has(s, ".example.com"));
	assert_false(has(s, "."));
	assert_false(has(s, ""));
	assert_false(has_exact(s, "."));
	/* Adding again (any case) does not duplicate. */
	assert_int_equal(bw_nameset_add(s, "EXAMPLE.com"), BW_OK);
	assert_int_equal(bw_nameset_count(s), 1);
	bw_nameset_free(s);
}

static void test_root_and_single_label(void **state)
{
	(void)state;
	struct bw_nameset *s = bw_nameset_new();
	assert_int_equal(bw_nameset_add(s, "localhost"), BW_OK);
	assert_true(has(s, "localhost"));
	assert_true(has(s, "a.localhost"));
	assert_false(has(s, "localhost.com"));
	assert_false(has(s, "."));
	bw_nameset_add(s, "com");
	assert_true(has(s, "example.com"));
	assert_true(has_exact(s, "com"));
	bw_nameset_free(s);

	s = bw_nameset_new();
	assert_false(has(s, "anything"));
	assert_false(has_exact(s, "."));
	assert_int_equal(bw_nameset_add(s, "."), BW_OK);
	assert_true(has(s, "anything.at.all"));
	assert_true(has(s, "."));
	assert_true(has_exact(s, ""));
	assert_false(has_exact(s, "com"));
	assert_int_equal(bw_nameset_count(s), 1);
	assert_string_equal(bw_nameset_get(s, 0), "");
	bw_nameset_free(s);
}

static void test_bad_adds_and_null(void **state)
{
	(void)state;
	struct bw_nameset *s = bw_nameset_new();
	char l64[80], n254[300];
	memset(l64, 'a', 64);
	strcpy(l64 + 64, ".com");
	/* 127 labels of "a." = 254 bytes, minus the last dot = 253: the longest name. */
	for (int i = 0; i < 127; i++)
		memcpy(n254 + 2 * i, "a.", 2);
	n254[253] = 0;
	assert_int_equal(bw_nameset_add(s, n254), BW_OK);
	assert_true(has(s, n254));
	n254[253] = 'a';
	n254[254] = 0;
	assert_int_equal(bw_nameset_add(s, n254), BW_EINVAL);
	assert_int_equal(bw_nameset_add(s, l64), BW_EINVAL);
	memmove(l64, l64 + 1, strlen(l64)); /* a 63-byte label: the longest */
	assert_int_equal(bw_nameset_add(s, l64), BW_OK);
	assert_true(has_exact(s, l64));
	assert_int_equal(bw_nameset_add(s, "a..b"), BW_EINVAL);
	assert_int_equal(bw_nameset_add(s, ".a"), BW_EINVAL);
	assert_int_equal(bw_nameset_add(s, "a\\.b"), BW_EINVAL);
	assert_int_equal(bw_nameset_add(s, NULL), BW_EINVAL);
	assert_int_equal(bw_nameset_add(NULL, "a"), BW_EINVAL);
	assert_false(bw_nameset_contains(NULL, "a", 1));
	assert_false(bw_nameset_contains(s, NULL, 0));
	assert_false(bw_nameset_contains_exact(NULL, "a", 1));
	assert_int_equal(bw_nameset_count(NULL), 0);
	assert_null(bw_nameset_get(NULL, 0));
	bw_nameset_free(NULL);
	bw_nameset_free(s);
}

static void test_deep_and_escapes(void **state)
{
	(void)state;
	struct bw_nameset *s = bw_nameset_new();
	bw_nameset_add(s, "example.com");
	char deep[1100];
	size_t w = 0;
	for (int i = 0; i < 120; i++)
		w += (size_t)snprintf(deep + w, sizeof(deep) - w, "x%d.", i % 10);
	strcpy(deep + w, "example.com");
	assert_true(has(s, deep)); /* longer than any DNS name: still answered by its labels */
	/* An escaped dot is inside a label: "www\.example" is one label under com. */
	assert_false(has(s, "www\\.example.com"));
	assert_true(has(s, "a\\.b.example.com"));
	assert_true(has(s, "a\\\\.example.com")); /* escaped backslash, then a real dot */
	assert_false(has(s, "a\\\\\\.example.com"));
	assert_true(has(s, "a\\032b.example.com"));
	assert_false(has(s, "example\\.com"));
	/* Trailing escaped dot is part of the last label, not the root's dot. */
	assert_false(has(s, "example.com\\."));
	/* Bytes that are not ASCII letters do not fold. */
	assert_false(has(s, "www.EXAMPLE\xc3\x80.com"));
	/* Text longer than any name is not looked at. */
	static char huge[5000];
	memset(huge, 'a', sizeof(huge));
	memcpy(huge + sizeof(huge) - 12, ".example.com", 12);
	assert_false(bw_nameset_contains(s, huge, sizeof(huge)));
	bw_nameset_free(s);
}

static void test_label_count_filter(void **state)
{
	(void)state;
	/* Only 3-label names stored: 2-label and 4-label suffixes are skipped, results unchanged. */
	struct bw_nameset *s = bw_nameset_new();
	bw_nameset_add(s, "a.example.com");
	bw_nameset_add(s, "b.example.org");
	assert_true(has(s, "x.y.a.example.com"));
	assert_true(has(s, "a.example.com"));
	assert_false(has(s, "example.com"));
	assert_false(has(s, "c.example.com"));
	assert_true(has(s, "B.Example.Org"));
	bw_nameset_free(s);
}

static void test_100k(void **state)
{
	(void)state;
	struct bw_nameset *s = bw_nameset_new();
	char name[64];
	for (int i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "host%d.zone%d.example", i, i % 97);
		assert_int_equal(bw_nameset_add(s, name), BW_OK);
	}
	assert_int_equal(bw_nameset_count(s), 100000);
	for (int i = 0; i < 100000; i += 7) {
		snprintf(name, sizeof(name), "www.host%d.zone%d.example", i, i % 97);
		assert_true(has(s, name));
		snprintf(name, sizeof(name), "HOST%d.ZONE%d.EXAMPLE.", i, i % 97);
		assert_true(has_exact(s, name));
		snprintf(name, sizeof(name), "host%d.zone%d.example", i, (i + 1) % 97);
		assert_false(has(s, name));
		snprintf(name, sizeof(name), "xhost%d.zone%d.example", i, i % 97);
		assert_false(has(s, name));
	}
	assert_false(has(s, "zone1.example"));
	snprintf(name, sizeof(name), "host%d.zone%d.example", 99999, 99999 % 97);
	assert_string_equal(bw_nameset_get(s, 99999), name);
	bw_nameset_free(s);
}

static void test_patterns(void **state)
{
	(void)state;
	struct bw_namepat *p = bw_namepat_new();
	assert_non_null(p);
	assert_false(pat(p, "anything.example.com"));
	assert_int_equal(bw_namepat_add(p, "API.example.com."), BW_OK);
	assert_int_equal(bw_namepat_add(p, "*.cdn.example.com"), BW_OK);
	assert_int_equal(bw_namepat_add(p, ".Corp.Example.com"), BW_OK);
	assert_int_equal(bw_namepat_add(p, "api.example.com"), BW_OK); /* duplicate */
	assert_int_equal(bw_namepat_count(p), 3);
	assert_string_equal(bw_namepat_get(p, 0), "api.example.com");
	assert_string_equal(bw_namepat_get(p, 1), "*.cdn.example.com");
	assert_string_equal(bw_namepat_get(p, 2), ".corp.example.com");
	assert_null(bw_namepat_get(p, 3));

	assert_true(pat(p, "api.example.com"));
	assert_true(pat(p, "API.EXAMPLE.COM."));
	assert_false(pat(p, "www.api.example.com"));
	assert_false(pat(p, "example.com"));

	assert_true(pat(p, "img.cdn.example.com"));
	assert_true(pat(p, "IMG.cdn.example.com."));
	assert_false(pat(p, "cdn.example.com"));
	assert_false(pat(p, "a.img.cdn.example.com"));
	assert_false(pat(p, ".cdn.example.com"));
	assert_false(pat(p, "imgcdn.example.com"));
	assert_true(pat(p, "a\\.b.cdn.example.com")); /* one label with an escaped dot */

	assert_true(pat(p, "corp.example.com"));
	assert_true(pat(p, "a.b.corp.example.com"));
	assert_false(pat(p, "xcorp.example.com"));
	assert_false(pat(p, ""));
	assert_false(pat(p, "."));

	assert_int_equal(bw_namepat_add(p, "*"), BW_EINVAL);
	assert_int_equal(bw_namepat_add(p, "*."), BW_EINVAL);
	assert_int_equal(bw_namepat_add(p, "."), BW_EINVAL);
	assert_int_equal(bw_namepat_add(p, ""), BW_EINVAL);
	assert_int_equal(bw_namepat_add(p, "a*.example.com"), BW_EINVAL);
	assert_int_equal(bw_namepat_add(p, "*.*.example.com"), BW_EINVAL);
	assert_int_equal(bw_namepat_add(p, "www.*.example.com"), BW_EINVAL);
	assert_int_equal(bw_namepat_add(p, "..example.com"), BW_EINVAL);
	assert_int_equal(bw_namepat_add(p, "*..example.com"), BW_EINVAL);
	assert_int_equal(bw_namepat_count(p), 3);
	assert_false(bw_namepat_match(NULL, "a", 1));
	assert_int_equal(bw_namepat_count(NULL), 0);
	bw_namepat_free(p);
	bw_namepat_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_case_and_dots),
		cmocka_unit_test(test_root_and_single_label),
		cmocka_unit_test(test_bad_adds_and_null),
		cmocka_unit_test(test_deep_and_escapes),
		cmocka_unit_test(test_label_count_filter),
		cmocka_unit_test(test_100k),
		cmocka_unit_test(test_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
