/* SPDX-License-Identifier: MIT */
/* test_sink.c: the JSON-lines sink writes one line per event and reports write errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sensor/sink.h"

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	static char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void test_lines_and_reopen(void **state)
{
	(void)state;
	char dir[] = "/tmp/bw-test-sink-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], spec[300], moved[300], err[256];
	snprintf(path, sizeof(path), "%s/ev.json", dir);
	snprintf(spec, sizeof(spec), "jsonl:%s", path);
	struct bw_output o = { 0 };
	struct bw_sink *s;
	assert_int_equal(bw_sink_open(spec, &s, err, sizeof(err)), BW_OK);
	assert_int_equal(bw_output_add(&o, s), BW_OK);
	struct bw_event ev = { .type = BW_EV_DNS, .json = "{\"a\":1}", .json_len = 7 };
	bw_output_emit(&o, &ev);
	ev.type = BW_EV_STATS;
	ev.json = "{\"b\":2}";
	bw_output_emit(&o, &ev);
	assert_int_equal(bw_output_flush(&o), BW_OK);
	assert_string_equal(slurp(path), "{\"a\":1}\n{\"b\":2}\n");
	assert_int_equal(o.events[0], 1);
	assert_int_equal(o.events[4], 1);
	/* logrotate: move the file away, reopen, new events go to a new file */
	snprintf(moved, sizeof(moved), "%s.1", path);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(bw_sink_reopen(s), BW_OK);
	ev.json = "{\"c\":3}";
	bw_output_emit(&o, &ev);
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	assert_string_equal(slurp(path), "{\"c\":3}\n");
	assert_string_equal(slurp(moved), "{\"a\":1}\n{\"b\":2}\n");
	unlink(path);
	unlink(moved);
	rmdir(dir);
}

static void test_bad_specs(void **state)
{
	(void)state;
	struct bw_sink *s = (struct bw_sink *)1;
	char err[256];
	assert_int_equal(bw_sink_open("jsonl:", &s, err, sizeof(err)), BW_EINVAL);
	assert_null(s);
	assert_int_equal(bw_sink_open("syslog+carrier-pigeon://x", &s, err, sizeof(err)), BW_EINVAL);
	assert_non_null(strstr(err, "unknown output"));
	assert_int_equal(bw_sink_open("jsonl:/nonexistent-dir/x/y.json", &s, err, sizeof(err)), BW_EIO);
	assert_non_null(strstr(err, "/nonexistent-dir/x/y.json"));
}

static void test_write_error_is_reported(void **state)
{
	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	struct bw_output o = { 0 };
	struct bw_sink *s;
	char err[256];
	assert_int_equal(bw_sink_open("jsonl:/dev/full", &s, err, sizeof(err)), BW_OK);
	bw_output_add(&o, s);
	static char big[8192];
	memset(big, 'x', sizeof(big));
	struct bw_event ev = { .type = BW_EV_DNS, .json = big, .json_len = sizeof(big) };
	for (int i = 0; i < 300; i++)
		bw_output_emit(&o, &ev);
	assert_int_not_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	assert_non_null(strstr(err, "/dev/full"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_and_reopen),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_write_error_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
