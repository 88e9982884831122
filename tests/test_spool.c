/* SPDX-License-Identifier: MIT */
/*
 * test_spool.c: the on-disk spool keeps records in order across close and
 * reopen, gives back delivered segments, refuses to pass its size bound, cuts
 * a torn tail, skips a damaged record, and lets only one process use it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../sensor/spool.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bw-test-spool-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char p[300];
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%.200s", dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
	return 0;
}

static struct bw_spool *open_ok(uint64_t max)
{
	struct bw_spool *s;
	char err[256];
	int rc = bw_spool_open(dir, max, &s, err, sizeof(err));
	if (rc != BW_OK)
		fail_msg("open: %s", err);
	return s;
}

static void append_n(struct bw_spool *s, int from, int to)
{
	char buf[64];
	for (int i = from; i < to; i++) {
		int n = snprintf(buf, sizeof(buf), "{\"n\":%d}", i);
		assert_int_equal(bw_spool_append(s, 1u << (i % 5), (uint64_t)i * 1000, buf, (size_t)n), BW_OK);
	}
}

/* Read the next record and check it is number i; returns its end position. */
static struct bw_spool_pos expect(struct bw_spool *s, int i)
{
	struct bw_spool_rec r;
	char want[64];
	int n = snprintf(want, sizeof(want), "{\"n\":%d}", i);
	assert_int_equal(bw_spool_read(s, &r), BW_OK);
	assert_int_equal(r.len, (size_t)n);
	assert_memory_equal(r.data, want, (size_t)n);
	assert_int_equal(r.type, 1u << (i % 5));
	assert_int_equal(r.ts, (uint64_t)i * 1000);
	return r.end;
}

static void test_crc32c(void **state)
{
	(void)state;
	/* RFC 3720 B.4 check value */
	assert_int_equal(bw_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(bw_crc32c(bw_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	uint8_t zeros[32] = { 0 };
	assert_int_equal(bw_crc32c(0, zeros, 32), 0x8A9136AAu);
}

static void test_order_commit_reopen(void **state)
{
	(void)state;
	struct bw_spool *s = open_ok(1u << 20);
	struct bw_spool_rec r;
	assert_int_equal(bw_spool_read(s, &r), BW_EEOF);
	append_n(s, 0, 100);
	assert_int_equal(bw_spool_pending(s), 100);
	struct bw_spool_pos p = { 0, 0 };
	for (int i = 0; i < 40; i++) {
		p = expect(s, i);
		if (i == 29)
			bw_spool_commit(s, p); /* 0..29 delivered; 30..39 read but not confirmed */
	}
	assert_int_equal(bw_spool_pending(s), 60);
	/* appends while reading keep their place at the end */
	append_n(s, 100, 110);
	bw_spool_close(s);
	/* after a restart, reading starts again at the committed position */
	s = open_ok(1u << 20);
	assert_int_equal(bw_spool_pending(s), 80);
	for (int i = 30; i < 110; i++)
		p = expect(s, i);
	assert_int_equal(bw_spool_read(s, &r), BW_EEOF);
	bw_spool_commit(s, p);
	assert_int_equal(bw_spool_sync(s), BW_OK);
	bw_spool_close(s);
	s = open_ok(1u << 20);
	assert_int_equal(bw_spool_pending(s), 0);
	assert_int_equal(bw_spool_read(s, &r), BW_EEOF);
	append_n(s, 110, 111);
	expect(s, 110);
	bw_spool_close(s);
}

static void test_rewind(void **state)
{
	(void)state;
	struct bw_spool *s = open_ok(1u << 20);
	append_n(s, 0, 10);
	struct bw_spool_pos p = expect(s, 0);
	bw_spool_commit(s, p);
	for (int i = 1; i < 6; i++)
		expect(s, i);
	assert_int_equal(bw_spool_pending(s), 4);
	assert_int_equal(bw_spool_rewind(s), BW_OK);
	assert_int_equal(bw_spool_pending(s), 9);
	for (int i = 1; i < 10; i++)
		expect(s, i);
	bw_spool_close(s);
}

static void test_bound_and_segments(void **state)
{
	(void)state;
	/* 64 KiB segments (the minimum) under a 256 KiB bound */
	struct bw_spool *s = open_ok(256u << 10);
	static char big[1000];
	memset(big, 'x', sizeof(big));
	int n = 0;
	int rc;
	while ((rc = bw_spool_append(s, 1, 0, big, sizeof(big))) == BW_OK)
		n++;
	assert_int_equal(rc, BW_ELIMIT);
	struct bw_spool_info in;
	bw_spool_info(s, &in);
	assert_true(in.bytes <= 256u << 10);
	assert_true(n > 200 && n < 262);
	assert_int_equal(in.pending, (uint64_t)n);
	/* too large a record is refused outright */
	assert_int_equal(bw_spool_append(s, 1, 0, big, BW_SPOOL_MAX_RECORD + 1), BW_ELIMIT);
	/* deliver half: whole segments are given back and appends fit again */
	struct bw_spool_rec r;
	for (int i = 0; i < n / 2; i++)
		assert_int_equal(bw_spool_read(s, &r), BW_OK);
	bw_spool_commit(s, r.end);
	struct bw_spool_info in2;
	bw_spool_info(s, &in2);
	assert_true(in2.bytes < in.bytes - (64u << 10));
	assert_int_equal(bw_spool_append(s, 1, 0, big, sizeof(big)), BW_OK);
	bw_spool_close(s);
	s = open_ok(256u << 10);
	assert_int_equal(bw_spool_pending(s), (uint64_t)(n - n / 2 + 1));
	bw_spool_close(s);
}

static char *last_segment(char *out, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	out[0] = '\0';
	char best[64] = "";
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".seg") && strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%.60s", e->d_name);
	closedir(d);
	snprintf(out, cap, "%s/%.60s", dir, best);
	return out;
}

static void test_torn_tail(void **state)
{
	(void)state;
	struct bw_spool *s = open_ok(1u << 20);
	append_n(s, 0, 20);
	bw_spool_close(s);
	char seg[300];
	last_segment(seg, sizeof(seg));
	struct stat st;
	assert_int_equal(stat(seg, &st), 0);
	/* a crash in the middle of the last record */
	assert_int_equal(truncate(seg, st.st_size - 5), 0);
	s = open_ok(1u << 20);
	struct bw_spool_info in;
	bw_spool_info(s, &in);
	assert_int_equal(in.pending, 19);
	assert_true(in.torn_bytes > 0);
	/* appends continue cleanly after the cut */
	append_n(s, 19, 21);
	for (int i = 0; i < 21; i++)
		expect(s, i);
	bw_spool_close(s);
}

static void test_corrupt_record_skipped(void **state)
{
	(void)state;
	struct bw_spool *s = open_ok(1u << 20);
	append_n(s, 0, 10);
	bw_spool_close(s);
	char seg[300];
	last_segment(seg, sizeof(seg));
	/* flip one byte inside the fourth record's JSON */
	int fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	assert_true(n > 0);
	char *hit = memmem(buf, (size_t)n, "{\"n\":3}", 7);
	assert_non_null(hit);
	hit[5] = '9';
	assert_int_equal(pwrite(fd, hit + 5, 1, hit + 5 - buf), 1);
	close(fd);
	s = open_ok(1u << 20);
	struct bw_spool_info in;
	bw_spool_info(s, &in);
	assert_int_equal(in.pending, 9);
	assert_true(in.corrupt >= 1);
	for (int i = 0; i < 10; i++)
		if (i != 3)
			expect(s, i);
	struct bw_spool_rec r;
	assert_int_equal(bw_spool_read(s, &r), BW_EEOF);
	bw_spool_close(s);
}

static void test_garbage_files(void **state)
{
	(void)state;
	/* a segment with a bad header, a damaged commit file and unrelated files are ignored */
	char p[300];
	snprintf(p, sizeof(p), "%s/0000000000000005.seg", dir);
	FILE *fp = fopen(p, "w");
	fputs("not a spool segment at all", fp);
	fclose(fp);
	snprintf(p, sizeof(p), "%s/commit", dir);
	fp = fopen(p, "w");
	fputs("garbage garbage garbage!", fp);
	fclose(fp);
	snprintf(p, sizeof(p), "%s/README", dir);
	fp = fopen(p, "w");
	fputs("x", fp);
	fclose(fp);
	struct bw_spool *s = open_ok(1u << 20);
	assert_int_equal(bw_spool_pending(s), 0);
	append_n(s, 0, 3);
	for (int i = 0; i < 3; i++)
		expect(s, i);
	bw_spool_close(s);
}

static void test_exclusive(void **state)
{
	(void)state;
	struct bw_spool *a = open_ok(1u << 20), *b = NULL;
	char err[256];
	assert_int_equal(bw_spool_open(dir, 1u << 20, &b, err, sizeof(err)), BW_EIO);
	assert_null(b);
	assert_non_null(strstr(err, "in use"));
	bw_spool_close(a);
	b = open_ok(1u << 20);
	bw_spool_close(b);
	/* an unusable directory is reported */
	assert_int_equal(bw_spool_open("/proc/bw-no/such", 1u << 20, &b, err, sizeof(err)), BW_EIO);
	assert_non_null(strstr(err, "/proc/bw-no/such"));
	bw_spool_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test_setup_teardown(test_order_commit_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound_and_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exclusive, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
