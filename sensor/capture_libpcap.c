/* SPDX-License-Identifier: MIT */
/*
 * capture_libpcap.c: the libpcap-backed offline reader behind the same
 * struct bw_capture_file as our mmap reader. It is the reference the mmap
 * reader is tested against, the reader for formats we do not parse (AUTO
 * falls back here for unknown magics and for files that cannot be mapped,
 * such as pipes), and a way around a reader bug in the field
 * (BW_READER_LIBPCAP). libpcap copies each frame into its own buffer and
 * gives one link type per file, so frames here borrow libpcap's buffer until
 * the next call, and every frame carries the file's link type. Frames go
 * through the same bw_capture_frame_check() as the mmap reader's, and DLT_*
 * values are turned back into LINKTYPE_* values, so the two readers hand out
 * the same frames for the same file. <pcap.h> is included here and nowhere
 * else: it clashes with libbpf's headers.
 */
#include "bw.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"
#include "capture_file_impl.h"

struct lp_reader {
	struct bw_capture_file f; /* first: the public handle points here */
	pcap_t *p;
	FILE *fp;                 /* libpcap's stream, for the position; may be NULL */
	int linktype;
	uint32_t snaplen;
	uint64_t consumed;        /* estimate of bytes read when fp is NULL */
};

/*
 * libpcap maps the LINKTYPE_* of a file to the host's DLT_* value; these are
 * the ones that differ somewhere. An if chain rather than a switch, since on
 * some systems two of these macros share a value.
 */
static int dlt_to_linktype(int dlt)
{
	if (dlt == DLT_RAW)
		return 101;
	if (dlt == DLT_ATM_RFC1483)
		return 100;
	if (dlt == DLT_SLIP_BSDOS)
		return 102;
	if (dlt == DLT_PPP_BSDOS)
		return 103;
	if (dlt == DLT_ATM_CLIP)
		return 106;
	if (dlt == DLT_LOOP)
		return 108;
	if (dlt == DLT_PFSYNC)
		return 246;
#ifdef DLT_PKTAP
	if (dlt == DLT_PKTAP)
		return 258;
#endif
	return dlt;
}

static uint64_t lp_pos(const struct bw_capture_file *f)
{
	const struct lp_reader *r = (const struct lp_reader *)f;
	if (r->fp) {
		long at = ftell(r->fp);
		if (at >= 0)
			return (uint64_t)at;
	}
	return r->consumed;
}

static int lp_next(struct bw_capture_file *f, struct bw_frame *fr)
{
	struct lp_reader *r = (struct lp_reader *)f;
	/* each pass consumes one record of the file, so this ends */
	for (;;) {
		uint64_t off = lp_pos(f);
		struct pcap_pkthdr *h;
		const u_char *data;
		int rc = pcap_next_ex(r->p, &h, &data);
		if (rc == PCAP_ERROR_BREAK)
			return BW_EEOF;
		if (rc == 0)
			continue; /* a timeout: not for files, but harmless */
		if (rc != 1) {
			const char *why = pcap_geterr(r->p);
			bool cut = strstr(why, "truncated") || strstr(why, "cut short");
			return bw_capture_file_fail(f, cut ? BW_ETRUNC : BW_EMALF,
						    "libpcap: error reading frame %llu near byte %llu: %s",
						    (unsigned long long)(f->frames + 1),
						    (unsigned long long)off, why);
		}
		f->frames++;
		r->consumed += 16u + h->caplen;
		bw_time_t ts = 0;
		if (h->ts.tv_sec > 0)
			ts = (bw_time_t)h->ts.tv_sec * BW_NSEC_PER_SEC;
		if (h->ts.tv_usec > 0)
			ts += (bw_time_t)h->ts.tv_usec; /* nanoseconds: opened with NANO precision */
		fr->data = data;
		fr->cap_len = h->caplen;
		fr->wire_len = h->len;
		fr->ts = ts;
		fr->linktype = r->linktype;
		fr->ifindex = 0;
		fr->number = f->frames;
		fr->offset = off;
		if (bw_capture_frame_check(f, fr, r->snaplen, true))
			return BW_OK;
	}
}

static void lp_close(struct bw_capture_file *f)
{
	struct lp_reader *r = (struct lp_reader *)f;
	if (r->p)
		pcap_close(r->p);
	free(r);
}

static const struct bw_capture_ops lp_ops = {
	.next = lp_next,
	.pos = lp_pos,
	.close = lp_close,
};

int bw_capture_libpcap_open(const char *path, struct bw_anomalies *an,
			    struct bw_capture_file **out, char *err, size_t errcap)
{
	*out = NULL;
	struct stat st;
	if (stat(path, &st) != 0) {
		int e = errno;
		if (err && errcap)
			snprintf(err, errcap, "%s: cannot open: %s", path, strerror(e));
		return e == ENOENT ? BW_ENOENT : BW_EIO;
	}
	struct lp_reader *r = calloc(1, sizeof(*r));
	if (!r) {
		if (err && errcap)
			snprintf(err, errcap, "%s: out of memory", path);
		return BW_ENOMEM;
	}
	bw_capture_file_init(&r->f, &lp_ops, path, an, "libpcap");
	r->f.size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	char pe[PCAP_ERRBUF_SIZE];
	pe[0] = '\0';
	r->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, pe);
	if (!r->p) {
		if (err && errcap)
			snprintf(err, errcap, "%s: %s", path, pe[0] ? pe : "libpcap cannot open it");
		free(r);
		return S_ISREG(st.st_mode) && st.st_size == 0 ? BW_ETRUNC : BW_EMALF;
	}
	r->fp = pcap_file(r->p);
	r->linktype = dlt_to_linktype(pcap_datalink(r->p));
	int snap = pcap_snapshot(r->p);
	r->snaplen = snap > 0 ? (uint32_t)snap : 0;
	r->consumed = 24;
	*out = &r->f;
	return BW_OK;
}
