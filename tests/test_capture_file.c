/* SPDX-License-Identifier: MIT */
/*
 * test_capture_file.c: the offline readers. Capture files are built byte by
 * byte here (either byte order), written to a temporary directory and read
 * back through sensor/capture.h; truncation runs also go through
 * bw_capture_mem_open() over an exact-size heap copy so ASan sees any read
 * past the end. The last tests check that the mmap reader and libpcap hand
 * out the same frames for real captures from shared/pcaps/external.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../sensor/capture.h"
#include "../sensor/capture_file_impl.h"

/* ---- building capture files ---------------------------------------------- */

struct cbuf {
	uint8_t *b;
	size_t n, cap;
	bool be;
};

static void put(struct cbuf *c, const void *p, size_t n)
{
	if (c->n + n > c->cap) {
		c->cap = (c->n + n) * 2 + 256;
		c->b = realloc(c->b, c->cap);
		assert_non_null(c->b);
	}
	memcpy(c->b + c->n, p, n);
	c->n += n;
}

static void put8(struct cbuf *c, uint8_t v) { put(c, &v, 1); }

static void put16(struct cbuf *c, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	if (c->be) {
		b[0] = (uint8_t)(v >> 8);
		b[1] = (uint8_t)v;
	}
	put(c, b, 2);
}

static void put32(struct cbuf *c, uint32_t v)
{
	if (c->be) {
		put16(c, (uint16_t)(v >> 16));
		put16(c, (uint16_t)v);
	} else {
		put16(c, (uint16_t)v);
		put16(c, (uint16_t)(v >> 16));
	}
}

static void put64(struct cbuf *c, uint64_t v)
{
	if (c->be) {
		put32(c, (uint32_t)(v >> 32));
		put32(c, (uint32_t)v);
	} else {
		put32(c, (uint32_t)v);
		put32(c, (uint32_t)(v >> 32));
	}
}

static void pad4(struct cbuf *c)
{
	while (c->n % 4)
		put8(c, 0);
}

static void set32(struct cbuf *c, size_t at, uint32_t v)
{
	size_t save = c->n;
	c->n = at;
	put32(c, v);
	c->n = save;
}

static void cbuf_free(struct cbuf *c)
{
	free(c->b);
	memset(c, 0, sizeof(*c));
}

/* Frame payload i: recognisable bytes. */
static const uint8_t *payload(unsigned i, size_t n)
{
	static uint8_t p[400000];
	assert_true(n <= sizeof(p));
	for (size_t k = 0; k < n; k++)
		p[k] = (uint8_t)(i * 31 + k);
	return p;
}

static void pcap_hdr(struct cbuf *c, uint32_t magic, uint16_t minor, uint32_t snaplen,
		     uint32_t network)
{
	put32(c, magic);
	put16(c, 2);
	put16(c, minor);
	put32(c, 0);
	put32(c, 0);
	put32(c, snaplen);
	put32(c, network);
}

static void pcap_rec(struct cbuf *c, uint32_t sec, uint32_t frac, uint32_t incl, uint32_t orig,
		     unsigned id)
{
	put32(c, sec);
	put32(c, frac);
	put32(c, incl);
	put32(c, orig);
	put(c, payload(id, incl), incl);
}

static void ng_shb(struct cbuf *c)
{
	put32(c, 0x0a0d0d0a);
	put32(c, 28);
	put32(c, 0x1a2b3c4d);
	put16(c, 1);
	put16(c, 0);
	put64(c, UINT64_MAX);
	put32(c, 28);
}

/* tsresol < 0: no option; has_off: add if_tsoffset. */
static void ng_idb(struct cbuf *c, uint16_t lt, uint32_t snaplen, int tsresol, bool has_off,
		   int64_t off)
{
	size_t start = c->n;
	put32(c, 1);
	put32(c, 0);
	put16(c, lt);
	put16(c, 0);
	put32(c, snaplen);
	if (tsresol >= 0) {
		put16(c, 9);
		put16(c, 1);
		put8(c, (uint8_t)tsresol);
		pad4(c);
	}
	if (has_off) {
		put16(c, 14);
		put16(c, 8);
		put64(c, (uint64_t)off);
	}
	if (tsresol >= 0 || has_off) {
		put16(c, 0);
		put16(c, 0);
	}
	uint32_t len = (uint32_t)(c->n - start + 4);
	put32(c, len);
	set32(c, start + 4, len);
}

static void ng_epb(struct cbuf *c, uint32_t ifid, uint64_t ts, uint32_t caplen, uint32_t orig,
		   unsigned id)
{
	size_t start = c->n;
	put32(c, 6);
	put32(c, 0);
	put32(c, ifid);
	put32(c, (uint32_t)(ts >> 32));
	put32(c, (uint32_t)ts);
	put32(c, caplen);
	put32(c, orig);
	put(c, payload(id, caplen), caplen);
	pad4(c);
	uint32_t len = (uint32_t)(c->n - start + 4);
	put32(c, len);
	set32(c, start + 4, len);
}

static void ng_pb(struct cbuf *c, uint16_t ifid, uint64_t ts, uint32_t caplen, uint32_t orig,
		  unsigned id)
{
	size_t start = c->n;
	put32(c, 2);
	put32(c, 0);
	put16(c, ifid);
	put16(c, 7); /* drops */
	put32(c, (uint32_t)(ts >> 32));
	put32(c, (uint32_t)ts);
	put32(c, caplen);
	put32(c, orig);
	put(c, payload(id, caplen), caplen);
	pad4(c);
	uint32_t len = (uint32_t)(c->n - start + 4);
	put32(c, len);
	set32(c, start + 4, len);
}

static void ng_spb(struct cbuf *c, uint32_t orig, uint32_t datalen, unsigned id)
{
	size_t start = c->n;
	put32(c, 3);
	put32(c, 0);
	put32(c, orig);
	put(c, payload(id, datalen), datalen);
	pad4(c);
	uint32_t len = (uint32_t)(c->n - start + 4);
	put32(c, len);
	set32(c, start + 4, len);
}

static void ng_other(struct cbuf *c, uint32_t type, uint32_t bodylen)
{
	put32(c, type);
	put32(c, 12 + bodylen);
	for (uint32_t i = 0; i < bodylen; i++)
		put8(c, (uint8_t)i);
	put32(c, 12 + bodylen);
}

/* ---- files ------------------------------------------------------------- */

static char tmpdir[256];

static int setup_dir(void **state)
{
	(void)state;
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/bw_capfile_XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	DIR *d = opendir(tmpdir);
	if (d) {
		struct dirent *e;
		char p[512];
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(tmpdir);
	return 0;
}

static const char *write_file(const char *name, const void *p, size_t n)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	if (n)
		assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static struct bw_capture_file *open_ok(const char *path, enum bw_reader_kind kind,
				       struct bw_anomalies *an)
{
	char err[BW_CAPTURE_ERRLEN];
	struct bw_capture_file *f = NULL;
	int rc = bw_capture_file_open(path, kind, an, &f, err, sizeof(err));
	if (rc != BW_OK)
		print_error("open %s: %d %s\n", path, rc, err);
	assert_int_equal(rc, BW_OK);
	assert_non_null(f);
	return f;
}

static struct bw_capture_file *open_buf(struct cbuf *c, const char *name, enum bw_reader_kind kind,
					struct bw_anomalies *an)
{
	return open_ok(write_file(name, c->b, c->n), kind, an);
}

static int open_fail(const char *path, enum bw_reader_kind kind, char *err, size_t cap)
{
	struct bw_capture_file *f = (struct bw_capture_file *)1;
	int rc = bw_capture_file_open(path, kind, NULL, &f, err, cap);
	assert_int_not_equal(rc, BW_OK);
	assert_null(f);
	assert_non_null(strstr(err, path));
	return rc;
}

static void expect_frame(struct bw_capture_file *f, uint64_t number, uint32_t cap, uint32_t wire,
			 bw_time_t ts, int lt, uint32_t ifindex, unsigned id)
{
	struct bw_frame fr;
	memset(&fr, 0, sizeof(fr));
	int rc = bw_capture_file_next(f, &fr);
	if (rc != BW_OK)
		print_error("next: %d %s\n", rc, bw_capture_file_error(f));
	assert_int_equal(rc, BW_OK);
	assert_int_equal(fr.number, number);
	assert_int_equal(fr.cap_len, cap);
	assert_int_equal(fr.wire_len, wire);
	assert_int_equal(fr.ts, ts);
	assert_int_equal(fr.linktype, lt);
	assert_int_equal(fr.ifindex, ifindex);
	assert_memory_equal(fr.data, payload(id, cap), cap);
}

static void expect_eof(struct bw_capture_file *f)
{
	struct bw_frame fr;
	assert_int_equal(bw_capture_file_next(f, &fr), BW_EEOF);
	assert_int_equal(bw_capture_file_next(f, &fr), BW_EEOF);
	assert_string_equal(bw_capture_file_error(f), "");
	assert_int_equal(bw_capture_file_pos(f), bw_capture_file_size(f));
}

/* The error, then the same error again (it is sticky); returns the message. */
static const char *expect_error(struct bw_capture_file *f, int want)
{
	struct bw_frame fr;
	assert_int_equal(bw_capture_file_next(f, &fr), want);
	static char first[BW_CAPTURE_ERRLEN];
	snprintf(first, sizeof(first), "%s", bw_capture_file_error(f));
	assert_int_equal(bw_capture_file_next(f, &fr), want);
	assert_string_equal(bw_capture_file_error(f), first);
	return first;
}

#define NS(s, frac) ((bw_time_t)(s) * BW_NSEC_PER_SEC + (frac))

/* ---- classic pcap -------------------------------------------------------- */

static void test_pcap_magics(void **state)
{
	(void)state;
	static const struct {
		uint32_t magic;
		bool nano;
		uint32_t rec;
		const char *fmt;
	} m[] = {
		{0xa1b2c3d4, false, 16, "pcap"},
		{0xa1b23c4d, true, 16, "pcap-ns"},
		{0xa1b2cd34, false, 24, "pcap"},
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(m); i++) {
		for (int be = 0; be <= 1; be++) {
			struct cbuf c = {.be = be};
			pcap_hdr(&c, m[i].magic, 4, 65535, 1);
			for (unsigned k = 0; k < 3; k++) {
				put32(&c, 1700000000 + k);
				put32(&c, m[i].nano ? 123456789 : 123456);
				put32(&c, 60 + k);
				put32(&c, 60 + k);
				if (m[i].rec == 24) {
					put32(&c, 3);   /* ifindex */
					put16(&c, 0x800);
					put8(&c, 0);
					put8(&c, 0);
				}
				put(&c, payload(k, 60 + k), 60 + k);
			}
			struct bw_anomalies an = {0};
			struct bw_capture_file *f = open_buf(&c, "magic.pcap", BW_READER_MMAP, &an);
			assert_string_equal(bw_capture_file_format(f), m[i].fmt);
			assert_int_equal(bw_capture_file_size(f), c.n);
			assert_int_equal(bw_capture_file_pos(f), 24);
			for (unsigned k = 0; k < 3; k++) {
				bw_time_t ts = NS(1700000000 + k, m[i].nano ? 123456789 : 123456000);
				expect_frame(f, k + 1, 60 + k, 60 + k, ts, 1, 0, k);
			}
			expect_eof(f);
			bw_capture_file_close(f);
			for (size_t a = 0; a < BW_AN__COUNT; a++)
				assert_int_equal(an.n[a], 0);
			/* libpcap reads the same bytes the same way */
			f = open_buf(&c, "magic.pcap", BW_READER_LIBPCAP, NULL);
			assert_string_equal(bw_capture_file_format(f), "libpcap");
			for (unsigned k = 0; k < 3; k++) {
				bw_time_t ts = NS(1700000000 + k, m[i].nano ? 123456789 : 123456000);
				expect_frame(f, k + 1, 60 + k, 60 + k, ts, 1, 0, k);
			}
			expect_eof(f);
			bw_capture_file_close(f);
			cbuf_free(&c);
		}
	}
}

static void test_pcap_header_fields(void **state)
{
	(void)state;
	/* FCS length and flag bits above the link type are not part of it */
	struct cbuf c = {.be = true};
	pcap_hdr(&c, 0xa1b2c3d4, 4, 65535, 0x14000000u | 101u);
	pcap_rec(&c, 5, 6, 20, 20, 0);
	pcap_rec(&c, UINT32_MAX, 999999, 20, 20, 1);
	struct bw_capture_file *f = open_buf(&c, "fcs.pcap", BW_READER_AUTO, NULL);
	assert_string_equal(bw_capture_file_format(f), "pcap");
	expect_frame(f, 1, 20, 20, NS(5, 6000), 101, 0, 0);
	expect_frame(f, 2, 20, 20, NS(UINT32_MAX, 999999000), 101, 0, 1);
	struct bw_frame fr;
	assert_int_equal(bw_capture_file_next(f, &fr), BW_EEOF);
	bw_capture_file_close(f);
	cbuf_free(&c);

	/* before 2.3, writers swapped incl_len and orig_len; 2.3 maybe */
	for (uint16_t minor = 2; minor <= 4; minor++) {
		c = (struct cbuf){0};
		pcap_hdr(&c, 0xa1b2c3d4, minor, 65535, 1);
		put32(&c, 1);
		put32(&c, 0);
		put32(&c, minor < 4 ? 100 : 30); /* where orig_len lived */
		put32(&c, minor < 4 ? 30 : 100);
		put(&c, payload(0, 30), 30);
		if (minor != 2) {
			/* 2.3 already in order, 2.4 always: this one stays */
			pcap_rec(&c, 2, 0, 30, 100, 1);
		}
		struct bw_anomalies an = {0};
		f = open_buf(&c, "swap.pcap", BW_READER_MMAP, &an);
		expect_frame(f, 1, 30, 100, NS(1, 0), 1, 0, 0);
		if (minor != 2)
			expect_frame(f, 2, 30, 100, NS(2, 0), 1, 0, 1);
		expect_eof(f);
		bw_capture_file_close(f);
		assert_int_equal(an.n[BW_AN_CAP_SNAPLEN_CUT], minor != 2 ? 2 : 1);
		f = open_buf(&c, "swap.pcap", BW_READER_LIBPCAP, NULL);
		expect_frame(f, 1, 30, 100, NS(1, 0), 1, 0, 0);
		bw_capture_file_close(f);
		cbuf_free(&c);
	}
}

static void test_pcap_anomalies(void **state)
{
	(void)state;
	struct cbuf c = {0};
	pcap_hdr(&c, 0xa1b2c3d4, 4, 64, 1);
	pcap_rec(&c, 10, 0, 40, 40, 0);   /* 1: fine */
	pcap_rec(&c, 11, 0, 0, 60, 1);    /* 2: zero length: skipped */
	pcap_rec(&c, 9, 0, 40, 1500, 2);  /* 3: snaplen cut, time backwards */
	pcap_rec(&c, 12, 0, 100, 100, 3); /* 4: over the snaplen: cut to it */
	pcap_rec(&c, 13, 0, 50, 40, 4);   /* 5: longer than the wire */
	pcap_rec(&c, 14, 0, 50, 0, 5);    /* 6: no wire length */
	struct bw_anomalies an = {0};
	struct bw_capture_file *f = open_buf(&c, "anom.pcap", BW_READER_MMAP, &an);
	expect_frame(f, 1, 40, 40, NS(10, 0), 1, 0, 0);
	expect_frame(f, 3, 40, 1500, NS(9, 0), 1, 0, 2);
	expect_frame(f, 4, 64, 100, NS(12, 0), 1, 0, 3);
	expect_frame(f, 5, 40, 40, NS(13, 0), 1, 0, 4);
	expect_frame(f, 6, 50, 50, NS(14, 0), 1, 0, 5);
	expect_eof(f);
	bw_capture_file_close(f);
	assert_int_equal(an.n[BW_AN_CAP_ZERO_LENGTH], 1);
	assert_int_equal(an.n[BW_AN_CAP_SNAPLEN_CUT], 1);
	assert_int_equal(an.n[BW_AN_CAP_TIME_BACKWARDS], 1);
	assert_int_equal(an.n[BW_AN_CAP_BAD_LENGTH], 3);

	/* libpcap's frames through the same checks are the same */
	struct bw_anomalies an2 = {0};
	f = open_buf(&c, "anom.pcap", BW_READER_LIBPCAP, &an2);
	expect_frame(f, 1, 40, 40, NS(10, 0), 1, 0, 0);
	expect_frame(f, 3, 40, 1500, NS(9, 0), 1, 0, 2);
	expect_frame(f, 4, 64, 100, NS(12, 0), 1, 0, 3);
	expect_frame(f, 5, 40, 40, NS(13, 0), 1, 0, 4);
	expect_frame(f, 6, 50, 50, NS(14, 0), 1, 0, 5);
	expect_eof(f);
	bw_capture_file_close(f);
	assert_int_equal(an2.n[BW_AN_CAP_ZERO_LENGTH], 1);
	assert_int_equal(an2.n[BW_AN_CAP_TIME_BACKWARDS], 1);
	cbuf_free(&c);
}

static void test_pcap_absurd_length(void **state)
{
	(void)state;
	struct cbuf c = {0};
	pcap_hdr(&c, 0xa1b2c3d4, 4, 65535, 1);
	pcap_rec(&c, 1, 0, 30, 30, 0);
	size_t bad = c.n;
	put32(&c, 2);
	put32(&c, 0);
	put32(&c, 0x01000000); /* 16 MiB */
	put32(&c, 60);
	put(&c, payload(1, 200), 200);
	struct bw_anomalies an = {0};
	struct bw_capture_file *f = open_buf(&c, "absurd.pcap", BW_READER_MMAP, &an);
	expect_frame(f, 1, 30, 30, NS(1, 0), 1, 0, 0);
	const char *msg = expect_error(f, BW_EMALF);
	char want[64];
	snprintf(want, sizeof(want), "at byte %zu (frame 2)", bad);
	assert_non_null(strstr(msg, want));
	assert_non_null(strstr(msg, "absurd.pcap: "));
	assert_int_equal(an.n[BW_AN_CAP_BAD_LENGTH], 1);
	assert_int_equal(bw_capture_file_pos(f), bad);
	bw_capture_file_close(f);

	/* a big snaplen in the header allows big frames (up to 16 MiB) */
	cbuf_free(&c);
	pcap_hdr(&c, 0xa1b2c3d4, 4, 1u << 20, 1);
	pcap_rec(&c, 1, 0, 300000, 300000, 0);
	f = open_buf(&c, "big.pcap", BW_READER_MMAP, NULL);
	expect_frame(f, 1, 300000, 300000, NS(1, 0), 1, 0, 0);
	expect_eof(f);
	bw_capture_file_close(f);
	cbuf_free(&c);
}

/* ---- pcapng ---------------------------------------------------------------- */

static void test_pcapng_interfaces(void **state)
{
	(void)state;
	for (int be = 0; be <= 1; be++) {
		struct cbuf c = {.be = be};
		ng_shb(&c);
		ng_idb(&c, 1, 0, 9, false, 0);              /* 10^-9 */
		ng_idb(&c, 101, 128, 0x80 | 20, true, 1);   /* 2^-20, +1 s */
		ng_idb(&c, 113, 0, -1, false, 0);           /* default: 10^-6 */
		ng_epb(&c, 0, 1600000000123456789ull, 60, 60, 0);
		ng_epb(&c, 1, (1600000000ull << 20) | (1u << 19), 61, 61, 1);
		ng_epb(&c, 2, 1600000002000001ull, 62, 70, 2);
		ng_epb(&c, 0, 1600000003000000000ull, 63, 63, 3);
		struct bw_anomalies an = {0};
		struct bw_capture_file *f = open_buf(&c, "ifaces.pcapng", BW_READER_AUTO, &an);
		assert_string_equal(bw_capture_file_format(f), "pcapng");
		expect_frame(f, 1, 60, 60, 1600000000123456789ull, 1, 0, 0);
		expect_frame(f, 2, 61, 61, NS(1600000001, 500000000), 101, 1, 1);
		expect_frame(f, 3, 62, 70, NS(1600000002, 1000), 113, 2, 2);
		expect_frame(f, 4, 63, 63, NS(1600000003, 0), 1, 0, 3);
		expect_eof(f);
		bw_capture_file_close(f);
		assert_int_equal(an.n[BW_AN_CAP_SNAPLEN_CUT], 1);
		assert_int_equal(an.n[BW_AN_CAP_TIME_BACKWARDS], 0);
		cbuf_free(&c);
	}
}

static void test_pcapng_tsresol_edges(void **state)
{
	(void)state;
	struct cbuf c = {0};
	ng_shb(&c);
	ng_idb(&c, 1, 0, 0, false, 0);                     /* 0: seconds */
	ng_idb(&c, 1, 0, 9, true, -(INT64_C(1) << 62));    /* far in the past */
	ng_idb(&c, 1, 0, 20, false, 0);                    /* 10^-20 */
	ng_idb(&c, 1, 0, 40, true, 5);                     /* 10^-40: all under 1 ns */
	ng_idb(&c, 1, 0, 0x80 | 127, false, 0);            /* 2^-127 */
	ng_idb(&c, 1, 0, 3, true, INT64_MAX);              /* far in the future */
	ng_epb(&c, 0, UINT64_MAX, 20, 20, 0);
	ng_epb(&c, 1, 1000, 20, 20, 1);
	ng_epb(&c, 2, 123456789012345678ull, 20, 20, 2);
	ng_epb(&c, 3, UINT64_MAX, 20, 20, 3);
	ng_epb(&c, 4, UINT64_MAX, 20, 20, 4);
	ng_epb(&c, 5, 1, 20, 20, 5);
	struct bw_capture_file *f = open_buf(&c, "tsres.pcapng", BW_READER_MMAP, NULL);
	expect_frame(f, 1, 20, 20, UINT64_MAX, 1, 0, 0);
	expect_frame(f, 2, 20, 20, 0, 1, 1, 1);
	expect_frame(f, 3, 20, 20, 1234567, 1, 2, 2);
	expect_frame(f, 4, 20, 20, NS(5, 0), 1, 3, 3);
	expect_frame(f, 5, 20, 20, 0, 1, 4, 4);
	expect_frame(f, 6, 20, 20, UINT64_MAX, 1, 5, 5);
	expect_eof(f);
	bw_capture_file_close(f);
	cbuf_free(&c);
}

static void test_pcapng_sections(void **state)
{
	(void)state;
	struct cbuf c = {.be = false};
	ng_shb(&c);
	ng_idb(&c, 1, 0, -1, false, 0);
	ng_idb(&c, 101, 0, -1, false, 0);
	ng_epb(&c, 1, 1000000, 40, 40, 0);
	/* second section, other byte order: its interfaces start at 0 again */
	c.be = true;
	ng_shb(&c);
	ng_idb(&c, 113, 0, 9, false, 0);
	ng_epb(&c, 0, 3000000000ull, 41, 41, 1);
	ng_epb(&c, 1, 4000000000ull, 42, 42, 2); /* interface 1 not described here */
	ng_epb(&c, 0, 5000000000ull, 43, 43, 3);
	/* third: little endian again */
	c.be = false;
	ng_shb(&c);
	ng_idb(&c, 228, 0, -1, false, 0);
	ng_epb(&c, 0, 6000000, 44, 44, 4);
	struct bw_anomalies an = {0};
	struct bw_capture_file *f = open_buf(&c, "sections.pcapng", BW_READER_MMAP, &an);
	expect_frame(f, 1, 40, 40, NS(1, 0), 101, 1, 0);
	expect_frame(f, 2, 41, 41, NS(3, 0), 113, 0, 1);
	expect_frame(f, 4, 43, 43, NS(5, 0), 113, 0, 3);
	expect_frame(f, 5, 44, 44, NS(6, 0), 228, 0, 4);
	expect_eof(f);
	bw_capture_file_close(f);
	assert_int_equal(an.n[BW_AN_CAP_UNKNOWN_LINKTYPE], 1);
	cbuf_free(&c);
}

static void test_pcapng_spb_pb_other_blocks(void **state)
{
	(void)state;
	struct cbuf c = {.be = true};
	ng_shb(&c);
	ng_other(&c, 4, 16);          /* name resolution */
	ng_idb(&c, 1, 64, -1, false, 0);
	ng_other(&c, 0x0a, 8);        /* decryption secrets */
	ng_epb(&c, 0, 7000000, 30, 30, 0);
	ng_spb(&c, 100, 64, 1);       /* cut at the snaplen */
	ng_spb(&c, 10, 10, 2);        /* padded to 12 in the block */
	ng_other(&c, 5, 24);          /* interface statistics */
	ng_pb(&c, 0, 8000000, 33, 33, 3);
	ng_other(&c, 0x40000bad, 12); /* custom */
	ng_other(&c, 0x12345678, 0);  /* unknown, empty */
	ng_epb(&c, 0, 9000000, 34, 34, 4);
	struct bw_anomalies an = {0};
	struct bw_capture_file *f = open_buf(&c, "blocks.pcapng", BW_READER_MMAP, &an);
	expect_frame(f, 1, 30, 30, NS(7, 0), 1, 0, 0);
	/* simple packet blocks carry no time: the previous frame's is used */
	expect_frame(f, 2, 64, 100, NS(7, 0), 1, 0, 1);
	expect_frame(f, 3, 10, 10, NS(7, 0), 1, 0, 2);
	expect_frame(f, 4, 33, 33, NS(8, 0), 1, 0, 3);
	expect_frame(f, 5, 34, 34, NS(9, 0), 1, 0, 4);
	expect_eof(f);
	bw_capture_file_close(f);
	assert_int_equal(an.n[BW_AN_CAP_SNAPLEN_CUT], 1);
	assert_int_equal(an.n[BW_AN_CAP_TIME_BACKWARDS], 0);
	cbuf_free(&c);

	/* a simple packet block before any interface: skipped and counted */
	ng_shb(&c);
	ng_spb(&c, 10, 10, 0);
	ng_idb(&c, 1, 0, -1, false, 0);
	ng_spb(&c, 10, 10, 1);
	memset(&an, 0, sizeof(an));
	f = open_buf(&c, "spb0.pcapng", BW_READER_MMAP, &an);
	expect_frame(f, 2, 10, 10, 0, 1, 0, 1);
	expect_eof(f);
	bw_capture_file_close(f);
	assert_int_equal(an.n[BW_AN_CAP_UNKNOWN_LINKTYPE], 1);
	cbuf_free(&c);
}

static void test_pcapng_frame_anomalies(void **state)
{
	(void)state;
	struct cbuf c = {0};
	ng_shb(&c);
	ng_idb(&c, 1, 50, 9, false, 0);
	ng_epb(&c, 0, 100, 20, 20, 0);
	ng_epb(&c, 0, 200, 0, 20, 1);  /* zero length */
	ng_epb(&c, 0, 50, 20, 20, 2);  /* time backwards */
	ng_epb(&c, 0, 300, 60, 60, 3); /* over the snaplen */
	/* captured length past the end of its block */
	size_t at = c.n;
	ng_epb(&c, 0, 400, 20, 20, 4);
	set32(&c, at + 20, 24);
	/* an enhanced packet block too short for its fields */
	ng_other(&c, 6, 8);
	ng_epb(&c, 7, 500, 20, 20, 5); /* no interface 7 */
	ng_epb(&c, 0, 600, 21, 21, 6);
	struct bw_anomalies an = {0};
	struct bw_capture_file *f = open_buf(&c, "ngan.pcapng", BW_READER_MMAP, &an);
	expect_frame(f, 1, 20, 20, 100, 1, 0, 0);
	expect_frame(f, 3, 20, 20, 50, 1, 0, 2);
	expect_frame(f, 4, 50, 60, 300, 1, 0, 3);
	expect_frame(f, 8, 21, 21, 600, 1, 0, 6);
	expect_eof(f);
	bw_capture_file_close(f);
	assert_int_equal(an.n[BW_AN_CAP_ZERO_LENGTH], 1);
	assert_int_equal(an.n[BW_AN_CAP_TIME_BACKWARDS], 1);
	assert_int_equal(an.n[BW_AN_CAP_BAD_LENGTH], 3);
	assert_int_equal(an.n[BW_AN_CAP_UNKNOWN_LINKTYPE], 1);
	cbuf_free(&c);
}

static void test_pcapng_corrupt_blocks(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		int rc;
		const char *msg;
	} cases[] = {
		{"len not multiple of 4", BW_EMALF, "not a multiple of 4"},
		{"trailing mismatch", BW_EMALF, "trailing block length 36 does not match the leading 52"},
		{"len under 12", BW_EMALF, "under the 12-byte minimum"},
		{"len past the end", BW_ETRUNC, "file ends inside the block"},
		{"bad byte-order magic", BW_EMALF, "bad byte-order magic"},
		{"version 2", BW_ENOTSUP, "unsupported pcapng version 2.0"},
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(cases); i++) {
		struct cbuf c = {.be = (i % 2) == 1};
		ng_shb(&c);
		ng_idb(&c, 1, 0, -1, false, 0);
		ng_epb(&c, 0, 1000000, 20, 20, 0);
		size_t bad = c.n;
		switch (i) {
		case 0:
			ng_epb(&c, 0, 2000000, 20, 20, 1);
			set32(&c, bad + 4, 46);
			break;
		case 1:
			ng_epb(&c, 0, 2000000, 20, 20, 1);
			set32(&c, c.n - 4, 36);
			break;
		case 2:
			ng_epb(&c, 0, 2000000, 20, 20, 1);
			set32(&c, bad + 4, 8);
			break;
		case 3:
			ng_epb(&c, 0, 2000000, 20, 20, 1);
			set32(&c, bad + 4, 400);
			break;
		case 4:
			ng_shb(&c);
			set32(&c, bad + 8, 0x11223344);
			break;
		case 5:
			ng_shb(&c);
			c.n = bad + 12;
			put16(&c, 2);
			c.n = bad + 28;
			break;
		}
		ng_epb(&c, 0, 3000000, 20, 20, 2);
		struct bw_capture_file *f = open_buf(&c, "corrupt.pcapng", BW_READER_MMAP, NULL);
		expect_frame(f, 1, 20, 20, NS(1, 0), 1, 0, 0);
		const char *msg = expect_error(f, cases[i].rc);
		char want[64];
		snprintf(want, sizeof(want), "at byte %zu (", bad);
		if (!strstr(msg, want) || !strstr(msg, cases[i].msg))
			print_error("%s: %s\n", cases[i].what, msg);
		assert_non_null(strstr(msg, "corrupt.pcapng: "));
		assert_non_null(strstr(msg, want));
		assert_non_null(strstr(msg, cases[i].msg));
		assert_int_equal(bw_capture_file_pos(f), bad);
		bw_capture_file_close(f);
		cbuf_free(&c);
	}
}

/* ---- truncation at every byte -------------------------------------------- */

/*
 * Cut file c after every byte. The frames whose records end before the cut
 * come out, then EOF (a cut on a boundary) or an error naming the offset of
 * the record the cut falls in. ends[] are the record end offsets; records
 * with frames are marked in is_frame[].
 */
static void check_cuts(const struct cbuf *c, size_t hdr_end, const size_t *starts, const size_t *ends,
		       const bool *is_frame, size_t nrec, const uint32_t *caplens, bool with_libpcap)
{
	char err[BW_CAPTURE_ERRLEN];
	for (size_t cut = 0; cut <= c->n; cut++) {
		/* the in-memory parser over an exact heap copy: ASan sees overreads */
		uint8_t *copy = malloc(cut ? cut : 1);
		assert_non_null(copy);
		memcpy(copy, c->b, cut);
		struct bw_capture_file *f = NULL;
		int rc = bw_capture_mem_open(copy, cut, "cut", NULL, &f, err, sizeof(err));
		const char *path = write_file("cut.cap", c->b, cut);
		if (cut < hdr_end) {
			assert_int_not_equal(rc, BW_OK);
			assert_null(f);
			assert_non_null(strstr(err, "cut: "));
			open_fail(path, BW_READER_MMAP, err, sizeof(err));
			free(copy);
			continue;
		}
		assert_int_equal(rc, BW_OK);
		struct bw_capture_file *g = open_ok(path, BW_READER_MMAP, NULL);
		struct bw_capture_file *lp = with_libpcap ? open_ok(path, BW_READER_LIBPCAP, NULL) : NULL;
		size_t k = 0, frame = 0;
		for (; k < nrec && ends[k] <= cut; k++) {
			if (!is_frame[k])
				continue;
			struct bw_frame a, b, l;
			frame++;
			assert_int_equal(bw_capture_file_next(f, &a), BW_OK);
			assert_int_equal(bw_capture_file_next(g, &b), BW_OK);
			assert_int_equal(a.number, frame);
			assert_int_equal(a.offset, starts[k]);
			assert_int_equal(a.cap_len, caplens[k]);
			assert_true(a.offset + a.cap_len <= cut);
			assert_memory_equal(a.data, payload((unsigned)k, a.cap_len), a.cap_len);
			assert_int_equal(b.number, frame);
			assert_int_equal(b.offset, starts[k]);
			assert_memory_equal(b.data, payload((unsigned)k, b.cap_len), b.cap_len);
			if (lp) {
				assert_int_equal(bw_capture_file_next(lp, &l), BW_OK);
				assert_int_equal(l.cap_len, a.cap_len);
				assert_memory_equal(l.data, a.data, a.cap_len);
			}
		}
		struct bw_frame fr;
		if (cut == c->n || (k < nrec && starts[k] == cut) || (k == nrec)) {
			assert_int_equal(bw_capture_file_next(f, &fr), BW_EEOF);
			assert_int_equal(bw_capture_file_next(g, &fr), BW_EEOF);
			if (lp)
				assert_int_equal(bw_capture_file_next(lp, &fr), BW_EEOF);
		} else {
			assert_non_null(strstr(expect_error(f, BW_ETRUNC), "cut: truncated "));
			const char *msg = expect_error(g, BW_ETRUNC);
			char want[64];
			snprintf(want, sizeof(want), "at byte %zu (", starts[k]);
			if (!strstr(msg, want))
				print_error("cut %zu: %s\n", cut, msg);
			assert_non_null(strstr(msg, want));
			assert_non_null(strstr(msg, path));
			assert_non_null(strstr(msg, "file ends inside the"));
			/* which frame is known once the record's type or header is in */
			if (is_frame[k] && cut - starts[k] >= 4)
				snprintf(want, sizeof(want), "(frame %zu)", frame + 1);
			else
				snprintf(want, sizeof(want), "(%sframe %zu)", hdr_end == 24 ? "" : "after ",
					 hdr_end == 24 ? frame + 1 : frame);
			if (!strstr(msg, want))
				print_error("cut %zu: %s\n", cut, msg);
			assert_non_null(strstr(msg, want));
			assert_int_equal(bw_capture_file_pos(g), starts[k]);
			if (lp) {
				int lrc = bw_capture_file_next(lp, &fr);
				assert_true(lrc != BW_OK && lrc != BW_EEOF);
				assert_non_null(strstr(bw_capture_file_error(lp), path));
			}
		}
		bw_capture_file_close(f);
		bw_capture_file_close(g);
		bw_capture_file_close(lp);
		free(copy);
	}
}

static void test_truncation_pcap(void **state)
{
	(void)state;
	for (int be = 0; be <= 1; be++) {
		struct cbuf c = {.be = be};
		pcap_hdr(&c, 0xa1b2c3d4, 4, 65535, 1);
		size_t starts[3], ends[3];
		bool fr[3] = {true, true, true};
		uint32_t lens[3] = {20, 1, 33};
		for (unsigned i = 0; i < 3; i++) {
			starts[i] = c.n;
			pcap_rec(&c, 1 + i, 0, lens[i], lens[i], i);
			ends[i] = c.n;
		}
		check_cuts(&c, 24, starts, ends, fr, 3, lens, true);
		cbuf_free(&c);
	}
}

static void test_truncation_pcapng(void **state)
{
	(void)state;
	for (int be = 0; be <= 1; be++) {
		struct cbuf c = {.be = be};
		size_t starts[6], ends[6];
		bool fr[6] = {false, true, false, true, true, false};
		uint32_t lens[6] = {0, 17, 0, 5, 8, 0};
		ng_shb(&c);
		size_t hdr_end = c.n;
		unsigned k = 0;
		starts[k] = c.n;
		ng_idb(&c, 1, 0, 9, true, 1);
		ends[k++] = c.n;
		starts[k] = c.n;
		ng_epb(&c, 0, 1000, 17, 17, 1);
		ends[k++] = c.n;
		starts[k] = c.n;
		ng_other(&c, 5, 8);
		ends[k++] = c.n;
		starts[k] = c.n;
		ng_spb(&c, 5, 5, 3);
		ends[k++] = c.n;
		starts[k] = c.n;
		ng_pb(&c, 0, 2000, 8, 8, 4);
		ends[k++] = c.n;
		starts[k] = c.n;
		ng_shb(&c);
		ends[k++] = c.n;
		check_cuts(&c, hdr_end, starts, ends, fr, k, lens, false);
		cbuf_free(&c);
	}
}

/* ---- files that are not captures ------------------------------------------- */

static void test_not_captures(void **state)
{
	(void)state;
	char err[BW_CAPTURE_ERRLEN];
	char path[512];

	const char *p = write_file("empty.pcap", "", 0);
	assert_int_equal(open_fail(p, BW_READER_MMAP, err, sizeof(err)), BW_ETRUNC);
	assert_non_null(strstr(err, "empty file"));
	open_fail(p, BW_READER_AUTO, err, sizeof(err));
	assert_non_null(strstr(err, "empty file"));
	open_fail(p, BW_READER_LIBPCAP, err, sizeof(err));

	p = write_file("short.pcap", "\xd4\xc3", 2);
	assert_int_equal(open_fail(p, BW_READER_MMAP, err, sizeof(err)), BW_ETRUNC);
	assert_non_null(strstr(err, "too short"));

	p = write_file("hdr.pcap", "\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00", 10);
	assert_int_equal(open_fail(p, BW_READER_MMAP, err, sizeof(err)), BW_ETRUNC);
	assert_non_null(strstr(err, "truncated pcap file header"));

	p = write_file("elf.pcap", "\x7f" "ELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"
				   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
		       28);
	assert_int_equal(open_fail(p, BW_READER_MMAP, err, sizeof(err)), BW_ENOTSUP);
	assert_non_null(strstr(err, "not a pcap or pcapng file (magic 0x7f454c46)"));
	open_fail(p, BW_READER_AUTO, err, sizeof(err));
	assert_non_null(strstr(err, "not a pcap or pcapng file (magic 0x7f454c46); libpcap: "));

	struct cbuf c = {0};
	put32(&c, 0xa1b2c3d4);
	put16(&c, 1);
	put16(&c, 0);
	for (int i = 0; i < 4; i++)
		put32(&c, 0);
	p = write_file("v1.pcap", c.b, c.n);
	assert_int_equal(open_fail(p, BW_READER_MMAP, err, sizeof(err)), BW_ENOTSUP);
	assert_non_null(strstr(err, "unsupported pcap version 1.0"));
	cbuf_free(&c);

	/* pcapng whose first block is damaged fails at open */
	c.be = true;
	ng_shb(&c);
	set32(&c, 8, 0xdeadbeef);
	p = write_file("bom.pcapng", c.b, c.n);
	assert_int_equal(open_fail(p, BW_READER_MMAP, err, sizeof(err)), BW_EMALF);
	assert_non_null(strstr(err, "bad byte-order magic 0xdeadbeef"));
	cbuf_free(&c);
	ng_shb(&c);
	c.n -= 6;
	p = write_file("shb.pcapng", c.b, c.n);
	assert_int_equal(open_fail(p, BW_READER_MMAP, err, sizeof(err)), BW_ETRUNC);
	assert_non_null(strstr(err, "at byte 0"));
	cbuf_free(&c);

	snprintf(path, sizeof(path), "%s/no-such-file.pcap", tmpdir);
	for (int k = 0; k <= 2; k++) {
		assert_int_equal(open_fail(path, (enum bw_reader_kind)k, err, sizeof(err)), BW_ENOENT);
		assert_non_null(strstr(err, "No such file"));
	}

	/* a directory cannot be read by either reader */
	open_fail(tmpdir, BW_READER_MMAP, err, sizeof(err));
	open_fail(tmpdir, BW_READER_AUTO, err, sizeof(err));
	open_fail(tmpdir, BW_READER_LIBPCAP, err, sizeof(err));

	/* something that cannot be mapped: AUTO hands it to libpcap */
	open_fail("/dev/null", BW_READER_MMAP, err, sizeof(err));
	assert_non_null(strstr(err, "not a regular file"));
	open_fail("/dev/null", BW_READER_AUTO, err, sizeof(err));

	/* an unreadable file, where permissions apply (not as root) */
	p = write_file("noperm.pcap", "\xd4\xc3\xb2\xa1", 4);
	chmod(p, 0);
	if (access(p, R_OK) != 0) {
		assert_int_equal(open_fail(p, BW_READER_MMAP, err, sizeof(err)), BW_EIO);
		assert_non_null(strstr(err, "Permission denied"));
	}

	/* bad arguments */
	struct bw_capture_file *f;
	assert_int_equal(bw_capture_file_open(NULL, BW_READER_AUTO, NULL, &f, err, sizeof(err)),
			 BW_EINVAL);
	assert_int_equal(bw_capture_file_open(p, BW_READER_AUTO, NULL, NULL, NULL, 0), BW_EINVAL);
	bw_capture_file_close(NULL);
	assert_string_equal(bw_capture_file_error(NULL), "");
}

static void test_libpcap_errors(void **state)
{
	(void)state;
	struct cbuf c = {0};
	pcap_hdr(&c, 0xa1b2c3d4, 4, 65535, 1);
	pcap_rec(&c, 1, 0, 30, 30, 0);
	pcap_rec(&c, 2, 0, 30, 30, 1);
	c.n -= 7;
	struct bw_capture_file *f = open_buf(&c, "lpcut.pcap", BW_READER_LIBPCAP, NULL);
	expect_frame(f, 1, 30, 30, NS(1, 0), 1, 0, 0);
	const char *msg = expect_error(f, BW_ETRUNC);
	assert_non_null(strstr(msg, "lpcut.pcap: libpcap: error reading frame 2 near byte 70: "));
	bw_capture_file_close(f);
	cbuf_free(&c);
}

/* ---- the two readers agree on real captures --------------------------------- */

static const char *external_dir(void)
{
	static const char *const dirs[] = {"../shared/pcaps/external", "/work/shared/pcaps/external",
					   "shared/pcaps/external"};
	const char *env = getenv("BW_EXTERNAL_PCAPS");
	if (env && *env)
		return env;
	for (size_t i = 0; i < BW_ARRAY_SIZE(dirs); i++) {
		struct stat st;
		if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
			return dirs[i];
	}
	return NULL;
}

static void test_mmap_matches_libpcap(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		uint64_t frames; /* 0: do not check the count */
		int end;         /* BW_EEOF, or the error both report */
	} files[] = {
		{"zeek-dns53.pcap", 0, BW_EEOF},
		{"sv-dns-srv.pcap", 0, BW_EEOF},              /* raw IP: DLT 12, LINKTYPE 101 */
		{"dnscap-frags.pcap", 0, BW_EEOF},            /* LINKTYPE_IPV4 */
		{"arkime-tls-alpn-h2.pcap", 0, BW_EEOF},      /* BSD loopback */
		{"zeek-quic-go-handshake.pcap", 0, BW_EEOF},  /* PPP */
		{"zeek-tls-fragmented-handshake.pcap", 0, BW_EEOF},
		{"ndpi-quic-v2.pcapng", 19, BW_EEOF},         /* Linux SLL */
		{"ndpi-tls-ech.pcapng", 10, BW_EEOF},         /* has an interface statistics block */
		{"zeek-quic-merlinc2.pcapng", 100, BW_EEOF},
		{"ndpi-corrupt-fuzz.pcap", 1, BW_ETRUNC},     /* nanosecond, pcap 2.0, cut short */
		{"sv-corrupt-tls-der-header.pcap", 6, BW_EMALF}, /* bogus length after 6 frames */
	};
	const char *dir = external_dir();
	if (!dir) {
		print_message("shared/pcaps/external not found: skipped\n");
		skip();
	}
	for (size_t i = 0; i < BW_ARRAY_SIZE(files); i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		struct bw_capture_file *a = open_ok(path, BW_READER_AUTO, NULL);
		struct bw_capture_file *b = open_ok(path, BW_READER_LIBPCAP, NULL);
		assert_string_not_equal(bw_capture_file_format(a), "libpcap");
		uint64_t n = 0;
		int ra, rb;
		for (;;) {
			struct bw_frame x, y;
			ra = bw_capture_file_next(a, &x);
			rb = bw_capture_file_next(b, &y);
			assert_int_equal(ra, rb);
			if (ra != BW_OK)
				break;
			n++;
			assert_int_equal(x.number, y.number);
			assert_int_equal(x.cap_len, y.cap_len);
			assert_int_equal(x.wire_len, y.wire_len);
			assert_int_equal(x.ts, y.ts);
			assert_int_equal(x.linktype, y.linktype);
			assert_memory_equal(x.data, y.data, x.cap_len);
		}
		if (files[i].frames)
			assert_int_equal(n, files[i].frames);
		assert_true(n > 0);
		assert_int_equal(ra, files[i].end);
		if (ra == BW_EEOF) {
			assert_int_equal(bw_capture_file_pos(a), bw_capture_file_size(a));
			assert_int_equal(bw_capture_file_pos(b), bw_capture_file_size(b));
		} else {
			assert_non_null(strstr(bw_capture_file_error(a), path));
			assert_non_null(strstr(bw_capture_file_error(b), path));
		}
		bw_capture_file_close(a);
		bw_capture_file_close(b);
	}
}

/* Resident pages of this process, file-backed mappings included. */
static size_t rss_bytes(void)
{
	FILE *fp = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (fp) {
		if (fscanf(fp, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(fp);
	}
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* A classic pcap of frames frames of frame bytes each, byte k of frame i
 * being (uint8_t)(i * mult + k), so a reader's every byte can be checked. */
static void write_numbered_pcap(const char *path, size_t frame, unsigned frames, unsigned mult)
{
	uint8_t *buf = malloc(frame);
	assert_non_null(buf);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	uint32_t hdr[6] = { 0xa1b2c3d4u, 2u | (4u << 16), 0, 0, 65535, 1 };
	assert_int_equal(fwrite(hdr, 1, 24, fp), 24);
	for (unsigned i = 0; i < frames; i++) {
		uint32_t rec[4] = { 1000 + i, 0, (uint32_t)frame, (uint32_t)frame };
		for (size_t k = 0; k < frame; k++)
			buf[k] = (uint8_t)(i * mult + k);
		assert_int_equal(fwrite(rec, 1, 16, fp), 16);
		assert_int_equal(fwrite(buf, 1, frame, fp), frame);
	}
	assert_int_equal(fclose(fp), 0);
	free(buf);
}

/*
 * The mmap reader drops what it has read (MADV_DONTNEED 32 MiB behind the
 * cursor), so reading a 64 MiB file does not leave 64 MiB resident; and a
 * frame handed out long before (a pipeline lends frames to workers) still
 * reads its own bytes after its pages were dropped: they fault in again
 * from the file.
 */
static void test_mmap_drop_behind(void **state)
{
	(void)state;
	enum { FRAME = 16000, FRAMES = 10000 }; /* 160 MB of records */
	char path[512];
	snprintf(path, sizeof(path), "%s/big.pcap", tmpdir);
	write_numbered_pcap(path, FRAME, FRAMES, 31);

	size_t base = rss_bytes(), peak = base;
	struct bw_capture_file *f = open_ok(path, BW_READER_MMAP, NULL);
	struct bw_frame fr, first = { 0 };
	unsigned n = 0;
	while (bw_capture_file_next(f, &fr) == BW_OK) {
		assert_int_equal(fr.cap_len, FRAME);
		/* every byte of every frame is the file's */
		for (size_t k = 0; k < FRAME; k += 997)
			assert_int_equal(fr.data[k], (uint8_t)(n * 31 + k));
		assert_int_equal(fr.data[FRAME - 1], (uint8_t)(n * 31 + FRAME - 1));
		if (n == 0)
			first = fr;
		if ((n & 63) == 0)
			peak = BW_MAX(peak, rss_bytes());
		n++;
	}
	assert_int_equal(n, FRAMES);
	/* the first frame's chunk was dropped long ago: it reads the same */
	for (size_t k = 0; k < FRAME; k++)
		assert_int_equal(first.data[k], (uint8_t)k);
	bw_capture_file_close(f);
	/* 32 MiB behind plus the chunk being read; without drop-behind all 160 MB */
	if (peak - base >= (size_t)48 << 20)
		print_error("peak RSS grew by %zu bytes reading %u bytes\n", peak - base, FRAMES * (FRAME + 16));
	assert_true(peak - base < (size_t)48 << 20);

	/* A clone read after its original is through (the most a walking worker
	 * can lag) faults every page in again and drops them again itself. */
	struct bw_capture_file *g = open_ok(path, BW_READER_MMAP, NULL), *gc;
	assert_int_equal(bw_capture_file_clone(g, NULL, &gc), BW_OK);
	while (bw_capture_file_next(g, &fr) == BW_OK)
		;
	base = peak = rss_bytes();
	n = 0;
	while (bw_capture_file_next(gc, &fr) == BW_OK) {
		for (size_t k = 0; k < FRAME; k += 997)
			assert_int_equal(fr.data[k], (uint8_t)(n * 31 + k));
		if ((n & 63) == 0)
			peak = BW_MAX(peak, rss_bytes());
		n++;
	}
	assert_int_equal(n, FRAMES);
	bw_capture_file_close(gc);
	bw_capture_file_close(g);
	if (peak - base >= (size_t)48 << 20)
		print_error("clone: peak RSS grew by %zu bytes\n", peak - base);
	assert_true(peak - base < (size_t)48 << 20);
	unlink(path);
}

/* Wait up to 5 s for the read-ahead thread to have read at least n bytes. */
static uint64_t wait_readahead(struct bw_capture_file *f, uint64_t n)
{
	uint64_t got = 0;
	for (int i = 0; i < 500 && (got = bw_capture_file_readahead_bytes(f)) < n; i++)
		usleep(10000);
	return got;
}

/*
 * The read-ahead thread: a capture the page cache holds never starts it; a
 * chunk found not cached (forced here with BINDWATCH_READAHEAD=thread, since
 * a file just written is cached) is read ahead by it, the frames read are
 * the file's, and closing while it reads stops it.
 */
static void test_mmap_readahead_thread(void **state)
{
	(void)state;
	enum { FRAME = 8000, FRAMES = 5000 }; /* 40 MB: five 8 MiB chunks */
	char path[512];
	snprintf(path, sizeof(path), "%s/ra.pcap", tmpdir);
	write_numbered_pcap(path, FRAME, FRAMES, 7);
	struct bw_frame fr;

	/* cached (just written): no thread */
	unsetenv("BINDWATCH_READAHEAD");
	struct bw_capture_file *f = open_ok(path, BW_READER_MMAP, NULL);
	unsigned n = 0;
	while (bw_capture_file_next(f, &fr) == BW_OK)
		n++;
	assert_int_equal(n, FRAMES);
	assert_int_equal(bw_capture_file_readahead_bytes(f), 0);
	bw_capture_file_close(f);

	/* every chunk through the thread: the first chunk, asked for at open,
	 * is read whole before the cursor moves; the frames are the file's */
	setenv("BINDWATCH_READAHEAD", "thread", 1);
	f = open_ok(path, BW_READER_MMAP, NULL);
	assert_true(wait_readahead(f, (uint64_t)8 << 20) >= (uint64_t)8 << 20);
	n = 0;
	while (bw_capture_file_next(f, &fr) == BW_OK) {
		assert_int_equal(fr.cap_len, FRAME);
		for (size_t k = 0; k < FRAME; k += 499)
			assert_int_equal(fr.data[k], (uint8_t)(n * 7 + k));
		n++;
	}
	assert_int_equal(n, FRAMES);
	assert_true(bw_capture_file_readahead_bytes(f) <= (uint64_t)FRAMES * (FRAME + 16) + 24);
	/* a clone never reads ahead */
	struct bw_capture_file *g = open_ok(path, BW_READER_MMAP, NULL), *gc;
	assert_int_equal(bw_capture_file_clone(g, NULL, &gc), BW_OK);
	assert_int_equal(bw_capture_file_readahead_bytes(gc), 0);
	bw_capture_file_close(gc);
	/* closed while the thread may still be reading: it stops and is joined */
	bw_capture_file_close(g);
	bw_capture_file_close(f);

	/* MADV_WILLNEED instead: no thread */
	setenv("BINDWATCH_READAHEAD", "advise", 1);
	f = open_ok(path, BW_READER_MMAP, NULL);
	while (bw_capture_file_next(f, &fr) == BW_OK)
		;
	assert_int_equal(bw_capture_file_readahead_bytes(f), 0);
	bw_capture_file_close(f);
	unsetenv("BINDWATCH_READAHEAD");
	unlink(path);
}

/*
 * A clone (the pipeline's walk mode: one reader per worker over one
 * mapping) delivers the frames its original does, with the same numbers,
 * bytes and errors, even while the original runs ahead and drops what it
 * read; it refuses once the original has started, and for libpcap.
 */
static void test_clone(void **state)
{
	(void)state;
	static const char *const names[] = {
		"zeek-dns53.pcap", "ndpi-quic-v2.pcapng", "zeek-quic-merlinc2.pcapng",
		"ndpi-corrupt-fuzz.pcap", "sv-corrupt-tls-der-header.pcap",
	};
	const char *dir = external_dir();
	if (!dir) {
		print_message("shared/pcaps/external not found: skipped\n");
		skip();
	}
	for (size_t i = 0; i < BW_ARRAY_SIZE(names); i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		struct bw_anomalies an_a = { 0 }, an_c = { 0 };
		struct bw_capture_file *a = open_ok(path, BW_READER_AUTO, &an_a);
		struct bw_capture_file *c, *c2;
		assert_int_equal(bw_capture_file_clone(a, &an_c, &c), BW_OK);
		/* the original first, all of it: the clone then reads behind it */
		enum { MAXF = 4096 };
		static struct bw_frame fa[MAXF];
		size_t n = 0;
		int ra;
		while ((ra = bw_capture_file_next(a, &fa[n])) == BW_OK) {
			assert_true(n + 1 < MAXF);
			n++;
		}
		assert_true(n > 0);
		assert_int_equal(bw_capture_file_clone(a, NULL, &c2), BW_EINVAL);
		assert_null(c2);
		size_t k = 0;
		int rc;
		struct bw_frame y;
		while ((rc = bw_capture_file_next(c, &y)) == BW_OK) {
			assert_true(k < n);
			assert_int_equal(y.number, fa[k].number);
			assert_int_equal(y.offset, fa[k].offset);
			assert_int_equal(y.cap_len, fa[k].cap_len);
			assert_int_equal(y.ts, fa[k].ts);
			assert_int_equal(y.linktype, fa[k].linktype);
			assert_ptr_equal(y.data, fa[k].data); /* the one mapping */
			k++;
		}
		assert_int_equal(k, n);
		assert_int_equal(rc, ra);
		assert_int_equal(bw_capture_file_frames(c), bw_capture_file_frames(a));
		assert_int_equal(bw_capture_file_pos(c), bw_capture_file_pos(a));
		if (rc != BW_EEOF)
			assert_string_equal(bw_capture_file_error(c), bw_capture_file_error(a));
		assert_memory_equal(&an_c, &an_a, sizeof(an_a));
		bw_capture_file_close(c);
		bw_capture_file_close(a);

		struct bw_capture_file *l = open_ok(path, BW_READER_LIBPCAP, NULL);
		assert_int_equal(bw_capture_file_clone(l, NULL, &c2), BW_ENOTSUP);
		assert_null(c2);
		bw_capture_file_close(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_magics),
		cmocka_unit_test(test_pcap_header_fields),
		cmocka_unit_test(test_pcap_anomalies),
		cmocka_unit_test(test_pcap_absurd_length),
		cmocka_unit_test(test_pcapng_interfaces),
		cmocka_unit_test(test_pcapng_tsresol_edges),
		cmocka_unit_test(test_pcapng_sections),
		cmocka_unit_test(test_pcapng_spb_pb_other_blocks),
		cmocka_unit_test(test_pcapng_frame_anomalies),
		cmocka_unit_test(test_pcapng_corrupt_blocks),
		cmocka_unit_test(test_truncation_pcap),
		cmocka_unit_test(test_truncation_pcapng),
		cmocka_unit_test(test_not_captures),
		cmocka_unit_test(test_libpcap_errors),
		cmocka_unit_test(test_mmap_matches_libpcap),
		cmocka_unit_test(test_mmap_drop_behind),
		cmocka_unit_test(test_mmap_readahead_thread),
		cmocka_unit_test(test_clone),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
