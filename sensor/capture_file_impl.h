/* SPDX-License-Identifier: MIT */
/*
 * capture_file_impl.h: private to sensor/capture_file.c and
 * sensor/capture_libpcap.c. The two offline readers share one struct head
 * (the ops table, the sticky error, the anomaly counters and the per-frame
 * checks) so that they behave the same frame for frame; each backend
 * allocates a larger struct whose first member is struct bw_capture_file.
 *
 * Nothing here includes <pcap.h>: libpcap's headers clash with libbpf's, so
 * only capture_libpcap.c may see them.
 */
#ifndef BW_CAPTURE_FILE_IMPL_H
#define BW_CAPTURE_FILE_IMPL_H

#include "capture.h"

/*
 * The largest captured length a classic pcap record may claim (libpcap's
 * limit for most link types). A larger incl_len means the record header is
 * garbage, so the file is treated as corrupt from there on.
 */
#define BW_CAPTURE_MAX_CAPLEN (256u * 1024u)
/* A header snaplen above the default may raise that limit, up to this. */
#define BW_CAPTURE_MAX_CAPLEN_HARD (16u * 1024u * 1024u)
/* pcapng interfaces described in one section; more is treated as corrupt. */
#define BW_CAPTURE_MAX_IFACES 65536u
/* Room for the path and for "PATH: message". */
#define BW_CAPTURE_PATHLEN 4096
#define BW_CAPTURE_ERRLEN (BW_CAPTURE_PATHLEN + 512)

struct bw_capture_ops {
	/*
	 * The next deliverable frame (bw_capture_frame_check already applied),
	 * BW_EEOF, or an error already recorded with bw_capture_file_fail().
	 * Not called again once f->err is set.
	 */
	int (*next)(struct bw_capture_file *f, struct bw_frame *fr);
	uint64_t (*pos)(const struct bw_capture_file *f);
	void (*close)(struct bw_capture_file *f); /* frees f */
};

struct bw_capture_file {
	const struct bw_capture_ops *ops;
	struct bw_anomalies *an; /* caller's; may be NULL */
	const char *format;      /* static string */
	uint64_t size;           /* bytes in the file (0 if unknown) */
	uint64_t frames;         /* records seen so far: the last number handed out */
	bw_time_t last_ts;       /* of the last delivered frame that had a timestamp */
	bool have_ts;
	int err;                 /* sticky: BW_OK, BW_EEOF or the error */
	char path[BW_CAPTURE_PATHLEN]; /* for messages */
	char errmsg[BW_CAPTURE_ERRLEN];
};

/* Fill the shared head; path is copied (cut to fit). */
void bw_capture_file_init(struct bw_capture_file *f, const struct bw_capture_ops *ops,
			  const char *path, struct bw_anomalies *an, const char *format);

/*
 * Record a sticky error: f->err = err and f->errmsg = "PATH: " + message.
 * Returns err, so a backend can `return bw_capture_file_fail(...)`.
 */
int bw_capture_file_fail(struct bw_capture_file *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Per-frame checks shared by both readers, applied to a raw record before it
 * is handed out. snaplen 0 means unknown. Counts the anomalies, clamps the
 * lengths to something sensible and returns false if the frame is to be
 * skipped (zero length). has_ts false (pcapng simple packet blocks) means the
 * frame has no timestamp of its own: it gets the previous frame's.
 */
bool bw_capture_frame_check(struct bw_capture_file *f, struct bw_frame *fr, uint32_t snaplen,
			    bool has_ts);

/*
 * Open our reader over bytes the caller owns (they must outlive the reader);
 * name is used in messages. This is the same parser the mmap reader runs, so
 * tests and the fuzz target can hand it a heap buffer that ASan watches.
 */
int bw_capture_mem_open(const uint8_t *buf, size_t len, const char *name, struct bw_anomalies *an,
			struct bw_capture_file **out, char *err, size_t errcap);

/*
 * The libpcap-backed reader (capture_libpcap.c). Returns BW_OK and *out, or
 * an error with libpcap's message in err, prefixed with the path.
 */
int bw_capture_libpcap_open(const char *path, struct bw_anomalies *an,
			    struct bw_capture_file **out, char *err, size_t errcap);

#endif /* BW_CAPTURE_FILE_IMPL_H */
