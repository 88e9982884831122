/* SPDX-License-Identifier: MIT */
/* test_jsonread.c: field lookup by dotted path, string decoding, bounds and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sensor/jsonread.h"

static const char DOC[] =
	"{\"@timestamp\":\"2025-03-14T09:26:53.123456Z\",\"event\":{\"kind\":\"alert\",\"severity\":3,"
	"\"reason\":\"a \\\"quoted\\\" \\\\ reason\\nline2\",\"id\":\"00ff\"},"
	" \"dns\" : { \"question\" : {\"name\":\"x|y=z]\\u0000w\"}, \"answers\":[{\"data\":\"1.2.3.4\"},{\"data\":\"::1\"}]},"
	"\"n\":-1.5e3,\"t\":true,\"f\":false,\"z\":null,\"e\":{},\"a\":[],"
	"\"u\":\"caf\\u00e9 \\ud83d\\ude00 \\ud800x\",\"k\\u0065y\":\"escaped key\",\"dup\":1,\"dup\":2}";

static void test_paths(void **state)
{
	(void)state;
	struct bw_jval v;
	char buf[256];
	size_t n = sizeof(DOC) - 1;
	assert_int_equal(bw_jsonread_get(DOC, n, "event.kind", &v), BW_OK);
	assert_int_equal(v.type, BW_JSTR);
	assert_int_equal(bw_jval_text(&v, buf, sizeof(buf), NULL), 5);
	assert_string_equal(buf, "alert");
	assert_int_equal(bw_jsonread_get(DOC, n, "event.severity", &v), BW_OK);
	assert_int_equal(v.type, BW_JNUM);
	uint64_t u;
	assert_true(bw_jval_u64(&v, &u));
	assert_int_equal(u, 3);
	bw_jsonread_text(DOC, n, "event.reason", buf, sizeof(buf));
	assert_string_equal(buf, "a \"quoted\" \\ reason\nline2");
	bw_jsonread_text(DOC, n, "@timestamp", buf, sizeof(buf));
	assert_string_equal(buf, "2025-03-14T09:26:53.123456Z");
	/* white space between tokens, array indexes */
	bw_jsonread_text(DOC, n, "dns.answers.1.data", buf, sizeof(buf));
	assert_string_equal(buf, "::1");
	assert_int_equal(bw_jsonread_get(DOC, n, "dns.answers.2.data", &v), BW_ENOENT);
	assert_int_equal(bw_jsonread_get(DOC, n, "dns.answers.x", &v), BW_ENOENT);
	assert_int_equal(bw_jsonread_get(DOC, n, "dns.answers", &v), BW_OK);
	assert_int_equal(v.type, BW_JARR);
	/* NUL and separators are decoded as they are: escaping is the caller's job */
	struct bw_jval q;
	assert_int_equal(bw_jsonread_get(DOC, n, "dns.question.name", &q), BW_OK);
	size_t ln = bw_jval_text(&q, buf, sizeof(buf), NULL);
	assert_int_equal(ln, 8);
	assert_memory_equal(buf, "x|y=z]\0w", 9);
	/* scalars as text */
	bw_jsonread_text(DOC, n, "n", buf, sizeof(buf));
	assert_string_equal(buf, "-1.5e3");
	bw_jsonread_get(DOC, n, "n", &v);
	assert_false(bw_jval_u64(&v, &u));
	bw_jsonread_text(DOC, n, "t", buf, sizeof(buf));
	assert_string_equal(buf, "true");
	assert_int_equal(bw_jsonread_get(DOC, n, "z", &v), BW_OK);
	assert_int_equal(v.type, BW_JNULL);
	assert_int_equal(bw_jsonread_get(DOC, n, "e", &v), BW_OK);
	assert_int_equal(v.type, BW_JOBJ);
	assert_int_equal(bw_jsonread_get(DOC, n, "e.x", &v), BW_ENOENT);
	assert_int_equal(bw_jsonread_get(DOC, n, "a.0", &v), BW_ENOENT);
	/* a path through a scalar is absent, not malformed */
	assert_int_equal(bw_jsonread_get(DOC, n, "event.kind.x", &v), BW_ENOENT);
	assert_int_equal(bw_jsonread_get(DOC, n, "missing", &v), BW_ENOENT);
	/* escaped key, first duplicate wins */
	bw_jsonread_text(DOC, n, "key", buf, sizeof(buf));
	assert_string_equal(buf, "escaped key");
	bw_jsonread_text(DOC, n, "dup", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	/* the empty path is the whole document */
	assert_int_equal(bw_jsonread_get(DOC, n, "", &v), BW_OK);
	assert_int_equal(v.type, BW_JOBJ);
	assert_int_equal(v.n, n);
}

static void test_unicode_and_truncation(void **state)
{
	(void)state;
	char buf[64];
	size_t n = sizeof(DOC) - 1;
	bw_jsonread_text(DOC, n, "u", buf, sizeof(buf));
	/* surrogate pair joined; a lone high surrogate becomes U+FFFD */
	assert_string_equal(buf, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbf\xbdx");
	/* truncation never cuts a UTF-8 sequence */
	struct bw_jval v;
	bool t;
	bw_jsonread_get(DOC, n, "u", &v);
	assert_int_equal(bw_jval_text(&v, buf, 5, &t), 3);
	assert_true(t);
	assert_string_equal(buf, "caf");
	assert_int_equal(bw_jval_text(&v, buf, 6, &t), 5);
	assert_string_equal(buf, "caf\xc3\xa9");
	assert_int_equal(bw_jval_text(&v, buf, 1, &t), 0);
	assert_true(t);
	assert_int_equal(bw_jval_text(&v, buf, 0, &t), 0);
	/* invalid UTF-8 in the document itself */
	static const char bad[] = "{\"s\":\"a\xff\xc0\x80\xed\xa0\x80z\"}";
	bw_jsonread_text(bad, sizeof(bad) - 1, "s", buf, sizeof(buf));
	assert_string_equal(buf, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
}

static void test_malformed(void **state)
{
	(void)state;
	struct bw_jval v;
	static const char *const bad[] = {
		"", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":tru}", "{\"a\":\"x}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}",
		"{\"a\":\"\x01\"}", "[1,2", "{a:1}", "{\"a\":[1 2]}", "{\"a\":1}x",
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(bad); i++) {
		assert_int_equal(bw_jsonread_validate(bad[i], strlen(bad[i])), BW_EMALF);
		/* a lookup never fails open: it either finds "a" or reports why not */
		int rc = bw_jsonread_get(bad[i], strlen(bad[i]), "a", &v);
		assert_true(rc == BW_EMALF || rc == BW_ENOENT || rc == BW_OK);
	}
	assert_int_equal(bw_jsonread_validate(DOC, sizeof(DOC) - 1), BW_OK);
	static const char okdoc[] = " [1, 2.5, -0, \"x\", {}, [], null] ";
	assert_int_equal(bw_jsonread_validate(okdoc, sizeof(okdoc) - 1), BW_OK);
	/* a value inside an unterminated document: the walk that needs it reports EMALF */
	assert_int_equal(bw_jsonread_get("{\"a\":{\"b\":1", 11, "a", &v), BW_EMALF);
	assert_int_equal(bw_jsonread_get("{\"x\":[1,{\"y\":", 13, "z", &v), BW_EMALF);
}

static void test_depth_bound(void **state)
{
	(void)state;
	/* 100k nested arrays: rejected without deep recursion */
	size_t n = 200000;
	char *d = malloc(n);
	assert_non_null(d);
	memset(d, '[', n / 2);
	memset(d + n / 2, ']', n / 2);
	assert_int_equal(bw_jsonread_validate(d, n), BW_EMALF);
	struct bw_jval v;
	assert_int_equal(bw_jsonread_get(d, n, "0.0.0", &v), BW_EMALF);
	free(d);
	/* within the bound it is fine */
	char ok[2 * BW_JSONREAD_MAX_DEPTH + 2];
	memset(ok, '[', BW_JSONREAD_MAX_DEPTH);
	memset(ok + BW_JSONREAD_MAX_DEPTH, ']', BW_JSONREAD_MAX_DEPTH);
	assert_int_equal(bw_jsonread_validate(ok, 2 * BW_JSONREAD_MAX_DEPTH), BW_OK);
	/* a long path segment never matches */
	char path[300];
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(bw_jsonread_get(DOC, sizeof(DOC) - 1, path, &v), BW_ENOENT);
}

static void test_iter(void **state)
{
	(void)state;
	struct bw_jval arr, k, v;
	char buf[64];
	assert_int_equal(bw_jsonread_get(DOC, sizeof(DOC) - 1, "dns.answers", &arr), BW_OK);
	struct bw_jiter it;
	bw_jiter_init(&it, &arr);
	int count = 0;
	while (bw_jiter_next(&it, NULL, &v)) {
		assert_int_equal(v.type, BW_JOBJ);
		bw_jsonread_text(v.p, v.n, "data", buf, sizeof(buf));
		assert_string_equal(buf, count == 0 ? "1.2.3.4" : "::1");
		count++;
	}
	assert_int_equal(count, 2);
	assert_int_equal(it.err, 0);
	struct bw_jval obj;
	assert_int_equal(bw_jsonread_get(DOC, sizeof(DOC) - 1, "event", &obj), BW_OK);
	bw_jiter_init(&it, &obj);
	count = 0;
	while (bw_jiter_next(&it, &k, &v))
		count++;
	assert_int_equal(count, 4);
	bw_jval_text(&k, buf, sizeof(buf), NULL);
	assert_string_equal(buf, "id");
	/* empty containers and non-containers iterate nothing */
	bw_jsonread_get(DOC, sizeof(DOC) - 1, "a", &arr);
	bw_jiter_init(&it, &arr);
	assert_false(bw_jiter_next(&it, NULL, &v));
	bw_jsonread_get(DOC, sizeof(DOC) - 1, "t", &arr);
	bw_jiter_init(&it, &arr);
	assert_false(bw_jiter_next(&it, NULL, &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_unicode_and_truncation),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_iter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
