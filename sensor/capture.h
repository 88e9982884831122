/* SPDX-License-Identifier: MIT */
/*
 * capture.h: where frames come from. One interface, several backends:
 * offline files now (our own memory-mapped pcap/pcapng reader, and libpcap),
 * live AF_PACKET / AF_XDP / libpcap in the live-capture issue.
 *
 * A frame borrows its bytes from the reader; they stay valid until the next
 * call to next() on the same reader (the mmap reader keeps them valid until
 * close, but callers must not rely on that).
 */
#ifndef BW_CAPTURE_H
#define BW_CAPTURE_H

#include "../parsers/anomaly.h"
#include "bw.h"

struct bw_frame {
	const uint8_t *data;  /* borrowed */
	uint32_t cap_len;     /* bytes in data */
	uint32_t wire_len;    /* original length on the wire */
	bw_time_t ts;         /* capture time, ns since the epoch */
	int linktype;         /* LINKTYPE_* of this frame's interface */
	uint32_t ifindex;     /* pcapng interface id, 0 for pcap */
	uint64_t number;      /* 1-based frame number in the file */
	uint64_t offset;      /* byte offset of the frame's record in the file */
};

enum bw_reader_kind {
	BW_READER_AUTO = 0,   /* our mmap reader for pcap and pcapng; libpcap for anything else */
	BW_READER_MMAP,
	BW_READER_LIBPCAP,
};

struct bw_capture_file;

/*
 * Open a capture file. Returns BW_OK and *out, or an error with a message in
 * err (naming the file and what is wrong). an counts per-frame anomalies
 * (snaplen cut, zero length, impossible length, time going backwards).
 */
int bw_capture_file_open(const char *path, enum bw_reader_kind kind, struct bw_anomalies *an,
			 struct bw_capture_file **out, char *err, size_t errcap);

/*
 * Next frame. Returns BW_OK, BW_EEOF at a clean end, or an error (truncated
 * or corrupt file) with bw_capture_file_error() naming the file and the frame
 * number or byte offset; frames before the error were delivered. After an
 * error, next() keeps returning it.
 */
int bw_capture_file_next(struct bw_capture_file *f, struct bw_frame *fr);

const char *bw_capture_file_error(const struct bw_capture_file *f);
uint64_t bw_capture_file_size(const struct bw_capture_file *f);  /* bytes in the file */
uint64_t bw_capture_file_pos(const struct bw_capture_file *f);   /* bytes read so far */
uint64_t bw_capture_file_frames(const struct bw_capture_file *f); /* the last frame number read */
/*
 * Our reader unmaps what lies more than 8 MiB behind its cursor (the pages
 * stay in the page cache; a frame read later faults in again, and then
 * stays mapped). A caller that hands frames to threads which may lag
 * further asks for more here (rounded up to 8 MiB). No effect on libpcap.
 */
void bw_capture_file_keep_behind(struct bw_capture_file *f, size_t bytes);
/*
 * Bytes our reader's read-ahead thread has read so far. A capture the page
 * cache does not hold is read ahead of the cursor by a thread with read()
 * (the pages land in large folios, which MADV_WILLNEED does not give); a
 * cached one never starts it. BINDWATCH_READAHEAD=thread reads every chunk
 * ahead that way, =advise uses MADV_WILLNEED (tests and comparisons). 0 for
 * libpcap and for clones.
 */
uint64_t bw_capture_file_readahead_bytes(const struct bw_capture_file *f);
const char *bw_capture_file_format(const struct bw_capture_file *f); /* "pcap", "pcap-ns", "pcapng", "libpcap" */
void bw_capture_file_close(struct bw_capture_file *f); /* NULL-safe */

/*
 * A second reader over the same bytes, for another thread: f must be our
 * own reader (not libpcap) and must not have delivered a frame yet. The
 * clone starts where f is and delivers exactly the frames f will, with
 * the same numbers and errors; its per-frame anomalies go to an. It
 * borrows f's mapping: it drops the pages behind its own cursor, as f
 * does, but leaves read-ahead to f and never unmaps (a page one reader
 * dropped is read again on the other's fault), so close every clone
 * before f. Returns BW_ENOTSUP (libpcap), BW_EINVAL
 * (f has started) or BW_ENOMEM; *out is the caller's, closed with
 * bw_capture_file_close().
 */
int bw_capture_file_clone(const struct bw_capture_file *f, struct bw_anomalies *an,
			  struct bw_capture_file **out);

#endif /* BW_CAPTURE_H */
