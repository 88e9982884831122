/* SPDX-License-Identifier: MIT */
/*
 * fuzz_capture_file.c: the offline capture reader on hostile files. Each
 * input is read twice in lock step: by the in-memory parser straight over the
 * fuzzer's heap buffer (so ASan flags any read past the end, which it cannot
 * do inside a file mapping), and by the real mmap reader over a memfd opened
 * as /proc/self/fd/N. Both must agree frame for frame, every frame must lie
 * inside the input, and the end (EOF or a sticky error) must be the same.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../sensor/capture.h"
#include "fuzz_memfd.h"
#include "../../sensor/capture_file_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The message without its "PATH: " prefix, which differs between the two. */
static const char *after_path(const char *msg)
{
	const char *p = strstr(msg, ": ");
	return p ? p + 2 : msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err_a[BW_CAPTURE_ERRLEN], err_b[BW_CAPTURE_ERRLEN];
	struct bw_anomalies an_a = {0}, an_b = {0};
	struct bw_capture_file *a = NULL, *b = NULL;
	int ra = bw_capture_mem_open(data, size, "fuzz", &an_a, &a, err_a, sizeof(err_a));

	int fd = fuzz_memfd("fuzz_capture_file", data, size);
	if (fd < 0)
		abort();
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* A memfd is always "cached": every other input (by length, so a finding
	 * replays the same way) has its chunks read ahead by the reader's
	 * thread, which is started, fed and joined on hostile files too. */
	if (size & 1)
		setenv("BINDWATCH_READAHEAD", "thread", 1);
	else
		unsetenv("BINDWATCH_READAHEAD");
	int rb = bw_capture_file_open(path, BW_READER_MMAP, &an_b, &b, err_b, sizeof(err_b));
	close(fd); /* the mapping outlives the descriptor */

	if (ra != rb)
		abort();
	if (ra != BW_OK) {
		if (a || b || strcmp(after_path(err_a), after_path(err_b)) != 0)
			abort();
		return 0;
	}
	if (bw_capture_file_size(a) != size || bw_capture_file_size(b) != size)
		abort();

	uint64_t last = 0;
	size_t frames = 0;
	for (;;) {
		struct bw_frame x, y;
		ra = bw_capture_file_next(a, &x);
		rb = bw_capture_file_next(b, &y);
		if (ra != rb)
			abort();
		if (ra != BW_OK)
			break;
		/* every record is at least 12 bytes: a bound on the loop, checked */
		if (++frames > size / 12 + 1)
			abort();
		uintptr_t lo = (uintptr_t)data, p = (uintptr_t)x.data;
		if (x.cap_len == 0 || x.cap_len > x.wire_len || x.number <= last || x.offset >= size ||
		    x.cap_len > size - x.offset || p < lo || p - lo > size - x.cap_len ||
		    p - lo <= x.offset)
			abort();
		if (x.cap_len != y.cap_len || x.wire_len != y.wire_len || x.ts != y.ts ||
		    x.linktype != y.linktype || x.ifindex != y.ifindex || x.number != y.number ||
		    x.offset != y.offset || memcmp(x.data, y.data, x.cap_len) != 0)
			abort();
		last = x.number;
		if (bw_capture_file_pos(a) > size || bw_capture_file_pos(a) != bw_capture_file_pos(b))
			abort();
	}
	/* the end is sticky and the same for both */
	struct bw_frame z;
	if (bw_capture_file_next(a, &z) != ra || bw_capture_file_next(b, &z) != ra)
		abort();
	if (ra == BW_EEOF) {
		if (bw_capture_file_pos(a) != size || bw_capture_file_error(a)[0] != '\0')
			abort();
	} else if (strncmp(bw_capture_file_error(a), "fuzz: ", 6) != 0 ||
		   strcmp(after_path(bw_capture_file_error(a)), after_path(bw_capture_file_error(b))) != 0) {
		abort();
	}
	if (memcmp(&an_a, &an_b, sizeof(an_a)) != 0)
		abort();
	bw_capture_file_close(a);
	bw_capture_file_close(b);
	return 0;
}
