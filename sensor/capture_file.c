/* SPDX-License-Identifier: MIT */
/*
 * capture_file.c: offline capture files, read by our own parser over a
 * read-only memory mapping of the whole file. Classic pcap (micro, nano and
 * Kuznetzov's modified format, either byte order) and pcapng (any number of
 * sections, each with its own byte order and interfaces, interfaces of
 * different link types in one file, if_tsresol/if_tsoffset, enhanced, simple
 * and obsolete packet blocks). It exists because libpcap copies every frame
 * into its buffer and refuses pcapng files whose interfaces differ in link
 * type; here a frame is a pointer into the mapping (zero copy) and only the
 * record headers are touched, with the kernel told to read ahead. All reads
 * of file bytes go through the bounded cursor of parsers/wire.h over the
 * mapping, so a hostile file can cut or lie about any length without a read
 * past the end. Damage that loses the record framing (a truncated record, a
 * bad block length, an impossible classic-pcap length) stops the file with
 * one message naming the byte offset and frame number; damage inside a frame
 * whose framing is intact is counted as an anomaly and the reader goes on.
 * Decisions worth knowing: frame numbers count every packet record in the
 * file, skipped ones included, so a number names the same record whatever
 * was skipped (and libpcap's reader numbers alike); a frame on a pcapng
 * interface its section never described is skipped and counted as
 * CAP_UNKNOWN_LINKTYPE (there is no link type to decode it with); a simple
 * packet block has no timestamp and gets the previous frame's; times below 0
 * or past 2^64 ns saturate. The file is mapped at its size at open: a file
 * still being written is read up to that size, and one cut shorter while
 * mapped raises SIGBUS (as with any mapping).
 * This file also holds the public bw_capture_file_* entry points, which
 * dispatch to this reader or to the libpcap one (capture_libpcap.c) through
 * the ops table of capture_file_impl.h, and the per-frame checks both share.
 */
#include "bw.h"
#include "thread.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../parsers/wire.h"
#include "capture.h"
#include "capture_file_impl.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u  /* as read in the writer's byte order */
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_MAGIC_KUZ 0xa1b2cd34u /* Kuznetzov's modified pcap: 24-byte records */
#define PCAPNG_SHB 0x0a0d0d0au     /* a palindrome: same in both byte orders */
#define PCAPNG_BOM 0x1a2b3c4du
#define PCAPNG_IDB 1u
#define PCAPNG_PB 2u               /* obsolete packet block */
#define PCAPNG_SPB 3u
#define PCAPNG_EPB 6u

#define PCAP_FILE_HDR 24u
#define PCAP_REC_HDR 16u
#define PCAP_KUZ_REC_HDR 24u
#define NG_BLOCK_MIN 12u           /* type, length, trailing length */
#define NG_SHB_BODY 16u            /* byte-order magic, version, section length */

#define OPT_ENDOFOPT 0u
#define OPT_IF_TSRESOL 9u
#define OPT_IF_TSOFFSET 14u

/* Read-ahead: keep MADV_WILLNEED this far ahead of the cursor, in chunks. */
#define PREFETCH_CHUNK (8u << 20)
#define PREFETCH_AHEAD (16u << 20)
/*
 * Cache prefetch: every line up to this far past the cursor. The first
 * touch of each record header was a fifth of a worker's time (a miss to
 * memory per frame, one frame's work too late to hide behind a prefetch
 * of just the next header); a window of a few records hides it.
 */
#define PF_AHEAD 4096
/*
 * Drop-behind: mapped file pages count in the process's RSS, so without
 * this a run over a 4 GiB file peaks at 4 GiB. Once the cursor is this far
 * past a chunk, MADV_DONTNEED unmaps it; the pages stay in the page cache.
 * A frame still lent to a lagging worker (the pipeline's rings hold about
 * 8 MB of frames per worker, about the distance) just faults in again:
 * the mapping is private and never written, so it reads the same file
 * bytes. 32 MiB behind measured no faster than 8 and kept 24 MiB more
 * resident.
 */
#define DROP_CHUNK (8u << 20)
#define DROP_BEHIND (8u << 20)

/*
 * Writers before pcap 2.3 put orig_len before incl_len; 2.3 files may be
 * either way round. libpcap and Wireshark swap them back, and so do we.
 */
enum { LEN_NOT_SWAPPED, LEN_SWAPPED, LEN_MAYBE_SWAPPED };

/* How an interface's timestamp units become nanoseconds. */
enum ts_mode {
	TS_MUL,   /* units of 10^-n, n <= 9: multiply by 10^(9-n) */
	TS_DIV,   /* units of 10^-n, n > 9: divide by 10^(n-9) */
	TS_SHIFT, /* units of 2^-n: multiply by 10^9, shift right n */
	TS_ZERO,  /* units so small that any 64-bit count is under 1 ns */
};

struct ng_iface {
	int linktype;
	uint32_t snaplen;  /* 0 = no limit */
	uint8_t ts_mode;
	uint8_t ts_shift;
	uint64_t ts_k;
	int64_t ts_offset; /* seconds, if_tsoffset */
};

/*
 * Read-ahead for a capture the page cache does not hold. MADV_WILLNEED
 * reads ahead through the kernel's unbounded read-ahead, which fills the
 * page cache with 4 KiB pages; every later pass over the file then maps
 * it with four times the page faults (bench/NOTES.md, fifth round). read()
 * goes through the on-demand read-ahead, which allocates large folios. So
 * a thread reads the chunks ahead of the cursor into a scratch buffer and
 * drops the bytes: the page cache is what it is for. It is started at the
 * first chunk found not cached, so a cached capture never has one.
 */
#define RA_PIECE (256u << 10) /* bytes per read() */

struct readahead {
	pthread_t th;
	int fd;                 /* the reader's */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t from, to;        /* to read: [from, to) (mu) */
	bool stop;              /* (mu) */
	bool failed;            /* a read failed: MADV_WILLNEED from then on (mu) */
	uint64_t bytes;         /* read so far (mu) */
};

struct mm_reader {
	struct bw_capture_file f; /* first: the public handle points here */
	struct bw_wire w;         /* the whole file; w.pos is the read position */
	void *map;                /* NULL when reading a caller's buffer */
	size_t map_len;
	size_t advised;           /* MADV_WILLNEED issued up to here */
	size_t dropped;           /* MADV_DONTNEED issued up to here (whole chunks) */
	size_t pf_pos;            /* cache lines prefetched up to here (PF_AHEAD) */
	bool borrowed;            /* a clone: map is another reader's (no unmap, no read-ahead) */
	const struct mm_reader *parent; /* a clone's original (its dropped is read, relaxed) */
	int fd;                   /* the mapped file (for the read-ahead thread); -1 in a clone */
	struct readahead *ra;     /* started on the first chunk not cached; owned */
	int ra_mode;              /* RA_AUTO, RA_THREAD (every chunk read ahead: tests), RA_ADVISE */
	size_t keep_behind;       /* DROP_BEHIND unless the owner asked for more */
	bool pcapng;
	bool be;                  /* file (or current section) is big endian */
	/* classic pcap */
	bool nano;
	uint8_t swapped;          /* LEN_*: incl_len and orig_len in each other's place */
	uint32_t rec_hdr;
	int linktype;
	uint32_t snaplen;
	uint32_t max_caplen;
	/* pcapng: interfaces of the current section */
	struct ng_iface *ifs;
	uint32_t nifs, ifcap;
};

static const struct bw_capture_ops mm_ops;

/* ---- shared head ------------------------------------------------------ */

void bw_capture_file_init(struct bw_capture_file *f, const struct bw_capture_ops *ops,
			  const char *path, struct bw_anomalies *an, const char *format)
{
	f->ops = ops;
	f->an = an;
	f->format = format;
	f->size = 0;
	f->frames = 0;
	f->last_ts = 0;
	f->have_ts = false;
	f->err = BW_OK;
	snprintf(f->path, sizeof(f->path), "%s", path ? path : "(null)");
	f->errmsg[0] = '\0';
}

int bw_capture_file_fail(struct bw_capture_file *f, int err, const char *fmt, ...)
{
	int n = snprintf(f->errmsg, sizeof(f->errmsg), "%s: ", f->path);
	if (n < 0 || (size_t)n >= sizeof(f->errmsg))
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->errmsg + n, sizeof(f->errmsg) - (size_t)n, fmt, ap);
	va_end(ap);
	f->err = err;
	return err;
}

/* A frame's time against the one before it (bw_capture_frame_check). */
static inline void frame_time_check(struct bw_capture_file *f, bw_time_t ts)
{
	if (f->have_ts && ts < f->last_ts)
		bw_anomaly(f->an, BW_AN_CAP_TIME_BACKWARDS);
	f->last_ts = ts;
	f->have_ts = true;
}

bool bw_capture_frame_check(struct bw_capture_file *f, struct bw_frame *fr, uint32_t snaplen,
			    bool has_ts)
{
	if (fr->cap_len == 0) {
		bw_anomaly(f->an, BW_AN_CAP_ZERO_LENGTH);
		return false;
	}
	/*
	 * One length reason per frame. A frame longer than the snaplen or the
	 * wire is cut to the smaller (what libpcap does for the snaplen); a
	 * wire length of 0 with bytes present says nothing, so the captured
	 * length stands for it.
	 */
	bool bad = false;
	if (snaplen && fr->cap_len > snaplen) {
		fr->cap_len = snaplen;
		bad = true;
	}
	if (fr->wire_len < fr->cap_len) {
		if (fr->wire_len == 0)
			fr->wire_len = fr->cap_len;
		else
			fr->cap_len = fr->wire_len;
		bad = true;
	}
	if (bad)
		bw_anomaly(f->an, BW_AN_CAP_BAD_LENGTH);
	else if (fr->cap_len < fr->wire_len)
		bw_anomaly(f->an, BW_AN_CAP_SNAPLEN_CUT);

	if (!has_ts)
		fr->ts = f->last_ts;
	else
		frame_time_check(f, fr->ts);
	return true;
}

/* ---- helpers ---------------------------------------------------------- */

static void set_err(char *err, size_t errcap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errcap, const char *fmt, ...)
{
	if (!err || errcap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errcap, fmt, ap);
	va_end(ap);
}

static inline uint16_t rd16(struct bw_wire *w, bool be)
{
	return be ? bw_wire_u16(w) : bw_wire_u16_le(w);
}

static inline uint32_t rd32(struct bw_wire *w, bool be)
{
	return be ? bw_wire_u32(w) : bw_wire_u32_le(w);
}

static inline uint64_t rd64(struct bw_wire *w, bool be)
{
	uint64_t a = rd32(w, be), b = rd32(w, be);
	return be ? (a << 32) | b : (b << 32) | a;
}

static inline unsigned long long ull(uint64_t v) { return (unsigned long long)v; }

/*
 * Is this chunk of the mapped file in the page cache already? Eight pages
 * spread over it are asked (mincore, one page each). MADV_WILLNEED on a
 * chunk the cache holds does nothing useful and still costs a page-cache
 * lookup per page: a twentieth of a worker's time on a cached capture. A
 * chunk cached only in part gets no read-ahead from us, and its faults read
 * the rest through the kernel's own read-ahead (MADV_SEQUENTIAL).
 */
static bool chunk_cached(const uint8_t *p, size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0 || n < (size_t)pg)
		return false;
	for (size_t i = 0; i < 8; i++) {
		size_t off = ((n - (size_t)pg) / 7 * i) & ~((size_t)pg - 1);
		unsigned char v = 0;
		if (mincore((void *)(uintptr_t)(p + off), 1, &v) != 0 || !(v & 1))
			return false;
	}
	return true;
}

enum { RA_AUTO, RA_THREAD, RA_ADVISE };

static void *ra_main(void *arg)
{
	struct readahead *ra = arg;
	char *buf = malloc(RA_PIECE);
	pthread_mutex_lock(&ra->mu);
	if (!buf)
		ra->failed = true;
	for (;;) {
		while (!ra->stop && !ra->failed && ra->from >= ra->to)
			pthread_cond_wait(&ra->cv, &ra->mu);
		if (ra->stop || ra->failed)
			break;
		size_t at = ra->from, n = BW_MIN((size_t)RA_PIECE, ra->to - ra->from);
		pthread_mutex_unlock(&ra->mu);
		ssize_t got = pread(ra->fd, buf, n, (off_t)at);
		pthread_mutex_lock(&ra->mu);
		if (got <= 0) {
			ra->failed = true; /* the reader's own faults will show what is wrong */
			break;
		}
		ra->bytes += (uint64_t)got;
		if (ra->from == at) /* not moved on by a request meanwhile */
			ra->from = at + (size_t)got;
	}
	pthread_mutex_unlock(&ra->mu);
	free(buf);
	return NULL;
}

/* The thread, if r has none yet. false if it cannot run (no fd, no memory,
 * no thread): the caller falls back to MADV_WILLNEED. */
static bool ra_start(struct mm_reader *r)
{
	if (r->ra)
		return true;
	if (r->fd < 0)
		return false;
	struct readahead *ra = calloc(1, sizeof(*ra));
	if (!ra)
		return false;
	ra->fd = r->fd;
	if (pthread_mutex_init(&ra->mu, NULL) != 0) {
		free(ra);
		return false;
	}
	if (pthread_cond_init(&ra->cv, NULL) != 0) {
		pthread_mutex_destroy(&ra->mu);
		free(ra);
		return false;
	}
	if (bw_thread_start_nosignals(&ra->th, ra_main, ra) != 0) {
		pthread_cond_destroy(&ra->cv);
		pthread_mutex_destroy(&ra->mu);
		free(ra);
		return false;
	}
	r->ra = ra;
	return true;
}

/* Have [from, to) read ahead, skipping what lies behind the cursor (its
 * faults read it already). false: not through the thread. */
static bool ra_request(struct mm_reader *r, size_t from, size_t to)
{
	if (r->ra_mode == RA_ADVISE || !ra_start(r))
		return false;
	struct readahead *ra = r->ra;
	size_t cursor = r->w.pos & ~(size_t)4095;
	pthread_mutex_lock(&ra->mu);
	bool ok = !ra->failed;
	if (ok && to > cursor) {
		if (ra->from >= ra->to && from > ra->from)
			ra->from = from; /* a cached stretch between: not read again */
		if (ra->from < cursor)
			ra->from = cursor; /* the cursor's faults read what lies behind it */
		if (to > ra->to)
			ra->to = to;
		pthread_cond_signal(&ra->cv);
	}
	pthread_mutex_unlock(&ra->mu);
	return ok;
}

static void ra_stop(struct mm_reader *r)
{
	struct readahead *ra = r->ra;
	if (!ra)
		return;
	pthread_mutex_lock(&ra->mu);
	ra->stop = true;
	pthread_cond_signal(&ra->cv);
	pthread_mutex_unlock(&ra->mu);
	pthread_join(ra->th, NULL);
	pthread_cond_destroy(&ra->cv);
	pthread_mutex_destroy(&ra->mu);
	free(ra);
	r->ra = NULL;
}

static void prefetch_chunks(struct mm_reader *r)
{
	if (r->map && r->w.pos >= r->dropped + r->keep_behind + DROP_CHUNK) {
		/*
		 * dropped grows in whole chunks from 0: the address stays page
		 * aligned. A clone drops a chunk only once its original has (it
		 * faulted that chunk in again, lagging): dropping each chunk
		 * twice as the readers pass it cost a TLB shoot-down on the other
		 * core each time.
		 */
		if (!r->borrowed || __atomic_load_n(&r->parent->dropped, __ATOMIC_RELAXED) > r->dropped)
			(void)madvise((uint8_t *)r->map + r->dropped, DROP_CHUNK, MADV_DONTNEED);
		if (r->borrowed)
			r->dropped += DROP_CHUNK;
		else
			__atomic_store_n(&r->dropped, r->dropped + DROP_CHUNK, __ATOMIC_RELAXED);
	}
	if (!r->map || r->borrowed || r->advised >= r->map_len || r->w.pos + PREFETCH_AHEAD <= r->advised)
		return;
	size_t n = BW_MIN((size_t)PREFETCH_CHUNK, r->map_len - r->advised);
	/* advised only grows in whole chunks, so the address stays page aligned */
	if ((r->ra_mode == RA_THREAD || !chunk_cached((uint8_t *)r->map + r->advised, n)) &&
	    !ra_request(r, r->advised, r->advised + n))
		(void)madvise((uint8_t *)r->map + r->advised, n, MADV_WILLNEED);
	r->advised += n;
}

/* Called per frame; a chunk is due once per 8 MiB, so the test is inline
 * and the work (with its system calls and stack canary) is not. */
static inline void prefetch(struct mm_reader *r)
{
	if (!r->map)
		return;
	bool drop = r->w.pos >= r->dropped + r->keep_behind + DROP_CHUNK;
	bool advise = !r->borrowed && r->advised < r->map_len && r->w.pos + PREFETCH_AHEAD > r->advised;
	if (bw_unlikely(drop || advise))
		prefetch_chunks(r);
}

/*
 * Four lines a step, in a local: the loop ran once per line with the
 * cursor in memory, 90 M instructions on the 1 GiB bench capture (a tenth
 * of what a bulk frame costs). The last step may reach up to three lines
 * past lim, which is harmless: a prefetch never faults.
 */
static inline void cache_ahead(struct mm_reader *r)
{
	const struct bw_wire *w = &r->w;
	size_t lim = BW_MIN(w->len, w->pos + (size_t)PF_AHEAD);
	size_t p = r->pf_pos;
	if (p < w->pos)
		p = w->pos & ~(size_t)63;
	for (; p < lim; p += 256) {
		__builtin_prefetch(w->base + p);
		__builtin_prefetch(w->base + p + 64);
		__builtin_prefetch(w->base + p + 128);
		__builtin_prefetch(w->base + p + 192);
	}
	r->pf_pos = p;
}

/* Saturating a*10^9-scale arithmetic: the result is clamped to [0, 2^64). */
static bw_time_t ts_to_ns(const struct ng_iface *ifc, uint64_t t)
{
	unsigned __int128 v;
	switch (ifc->ts_mode) {
	case TS_MUL: v = (unsigned __int128)t * ifc->ts_k; break;
	case TS_DIV: v = t / ifc->ts_k; break;
	case TS_SHIFT: v = ((unsigned __int128)t * BW_NSEC_PER_SEC) >> ifc->ts_shift; break;
	default: v = 0; break;
	}
	/* both terms are under 2^94, so the signed sum cannot overflow */
	__int128 s = (__int128)v + (__int128)ifc->ts_offset * (__int128)BW_NSEC_PER_SEC;
	if (s < 0)
		return 0;
	if (s > (__int128)UINT64_MAX)
		return UINT64_MAX;
	return (bw_time_t)s;
}

static void iface_set_tsresol(struct ng_iface *ifc, uint8_t v)
{
	unsigned n = v & 0x7fu;
	if (v & 0x80u) {
		ifc->ts_mode = TS_SHIFT;
		ifc->ts_shift = (uint8_t)n;
		return;
	}
	uint64_t k = 1;
	if (n <= 9) {
		for (unsigned i = n; i < 9; i++)
			k *= 10;
		ifc->ts_mode = TS_MUL;
	} else if (n - 9 <= 19) {
		for (unsigned i = 9; i < n; i++)
			k *= 10;
		ifc->ts_mode = TS_DIV;
	} else {
		ifc->ts_mode = TS_ZERO;
	}
	ifc->ts_k = k;
}

/* ---- classic pcap ----------------------------------------------------- */

static int pcap_start(struct mm_reader *r, uint32_t magic)
{
	struct bw_capture_file *f = &r->f;
	struct bw_wire *w = &r->w;
	if (bw_wire_left(w) < PCAP_FILE_HDR)
		return bw_capture_file_fail(f, BW_ETRUNC,
					    "truncated pcap file header: the file has %zu bytes, the header needs %u",
					    bw_wire_left(w), PCAP_FILE_HDR);
	/* magic was read little endian: the writer's own order reads it as written */
	uint32_t m = bw_wire_u32_le(w);
	r->be = (m != magic);
	uint16_t major = rd16(w, r->be);
	uint16_t minor = rd16(w, r->be);
	bw_wire_skip(w, 8); /* thiszone, sigfigs: unused, as by libpcap */
	uint32_t snaplen = rd32(w, r->be);
	uint32_t network = rd32(w, r->be);
	if (major != 2)
		return bw_capture_file_fail(f, BW_ENOTSUP, "unsupported pcap version %u.%u (expected 2.x)",
					    major, minor);
	r->swapped = minor < 3 ? LEN_SWAPPED : minor == 3 ? LEN_MAYBE_SWAPPED : LEN_NOT_SWAPPED;
	r->nano = (magic == PCAP_MAGIC_NS);
	r->rec_hdr = (magic == PCAP_MAGIC_KUZ) ? PCAP_KUZ_REC_HDR : PCAP_REC_HDR;
	/* the upper 16 bits carry the FCS length and flag bits, not the type */
	r->linktype = (int)(network & 0xffffu);
	r->max_caplen = BW_CAPTURE_MAX_CAPLEN;
	if (snaplen > r->max_caplen)
		r->max_caplen = BW_MIN(snaplen, BW_CAPTURE_MAX_CAPLEN_HARD);
	/* 0 or a silly value says nothing: no snaplen check then (libpcap's rule) */
	r->snaplen = (snaplen > r->max_caplen) ? 0 : snaplen;
	f->format = r->nano ? "pcap-ns" : "pcap";
	return BW_OK;
}

/*
 * The frame of the record at off whose header the cursor has just passed
 * (its incl bytes are in the file): the cursor moves past it, and the
 * cache and read-ahead move with it. Frame number f->frames.
 */
static inline void pcap_frame(struct mm_reader *r, struct bw_frame *fr, size_t off, uint32_t sec, uint32_t frac,
			      uint32_t incl, uint32_t orig)
{
	fr->data = bw_wire_ptr(&r->w, incl);
	fr->cap_len = incl;
	fr->wire_len = orig;
	fr->ts = (bw_time_t)sec * BW_NSEC_PER_SEC + (r->nano ? frac : (bw_time_t)frac * 1000u);
	fr->linktype = r->linktype;
	fr->ifindex = 0;
	fr->number = r->f.frames;
	fr->offset = off;
	cache_ahead(r);
	prefetch(r);
}

/*
 * The common record: a little-endian file on a little-endian host, a
 * 16-byte header, lengths that need no swapping, no cut past the snaplen
 * or the wire length, the whole frame in the file. It is read with four
 * loads and the checks bw_capture_frame_check would make, and gives the
 * same frame and the same anomalies; anything else returns false with
 * nothing changed and takes pcap_next's general path. Every walking
 * worker reads every record, so these were a tenth of two workers'
 * instructions.
 */
static inline bool pcap_next_plain(struct mm_reader *r, struct bw_frame *fr)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	struct bw_capture_file *f = &r->f;
	struct bw_wire *w = &r->w;
	size_t off = bw_wire_pos(w), left = bw_wire_left(w);
	if (r->be || r->rec_hdr != PCAP_REC_HDR || r->swapped == LEN_SWAPPED || w->err != BW_OK || left < PCAP_REC_HDR)
		return false;
	uint32_t h[4];
	memcpy(h, w->base + off, sizeof(h)); /* sec, frac, incl, orig */
	uint32_t incl = h[2], orig = h[3];
	if (incl == 0 || incl > orig || incl > r->max_caplen || incl > left - PCAP_REC_HDR ||
	    (r->snaplen && incl > r->snaplen))
		return false;
	f->frames++;
	w->pos = off + PCAP_REC_HDR;
	pcap_frame(r, fr, off, h[0], h[1], incl, orig);
	/* bw_capture_frame_check for a frame whose lengths are good */
	if (incl < orig)
		bw_anomaly(f->an, BW_AN_CAP_SNAPLEN_CUT);
	frame_time_check(f, fr->ts);
	return true;
#else
	(void)r;
	(void)fr;
	return false;
#endif
}

static int pcap_next(struct mm_reader *r, struct bw_frame *fr)
{
	struct bw_capture_file *f = &r->f;
	struct bw_wire *w = &r->w;
	if (pcap_next_plain(r, fr))
		return BW_OK;
	for (;;) {
		size_t off = bw_wire_pos(w);
		size_t left = bw_wire_left(w);
		if (left == 0)
			return BW_EEOF;
		uint64_t num = f->frames + 1;
		if (left < r->rec_hdr)
			return bw_capture_file_fail(
				f, BW_ETRUNC,
				"truncated frame record at byte %zu (frame %llu): file ends inside the record header (%zu of %u bytes)",
				off, ull(num), left, r->rec_hdr);
		uint32_t sec = rd32(w, r->be);
		uint32_t frac = rd32(w, r->be);
		uint32_t incl = rd32(w, r->be);
		uint32_t orig = rd32(w, r->be);
		if (r->rec_hdr > PCAP_REC_HDR)
			bw_wire_skip(w, r->rec_hdr - PCAP_REC_HDR); /* ifindex, protocol, pkt_type */
		f->frames = num;
		if (r->swapped == LEN_SWAPPED || (r->swapped == LEN_MAYBE_SWAPPED && incl > orig)) {
			uint32_t t = incl;
			incl = orig;
			orig = t;
		}
		if (incl > r->max_caplen) {
			/*
			 * No sane writer produced this: the header is garbage and so
			 * is where the next record starts. Stop rather than guess.
			 */
			bw_anomaly(f->an, BW_AN_CAP_BAD_LENGTH);
			bw_wire_seek(w, off);
			return bw_capture_file_fail(
				f, BW_EMALF,
				"corrupt frame record at byte %zu (frame %llu): captured length %u is over the %u-byte maximum; the file is damaged from here on",
				off, ull(num), incl, r->max_caplen);
		}
		if (incl > bw_wire_left(w)) {
			size_t have = bw_wire_left(w);
			bw_wire_seek(w, off);
			return bw_capture_file_fail(
				f, BW_ETRUNC,
				"truncated frame record at byte %zu (frame %llu): file ends inside the record (%zu of %u frame bytes)",
				off, ull(num), have, incl);
		}
		pcap_frame(r, fr, off, sec, frac, incl, orig);
		if (bw_capture_frame_check(f, fr, r->snaplen, true))
			return BW_OK;
	}
}

/* ---- pcapng ----------------------------------------------------------- */

static bool ng_is_packet(uint32_t type)
{
	return type == PCAPNG_EPB || type == PCAPNG_SPB || type == PCAPNG_PB;
}

/*
 * "frame N" for a block that carries a frame, "after frame N" for one that
 * does not, so a message always says how far the good part of the file went.
 */
static const char *ng_where(const struct mm_reader *r, uint32_t type, bool known, char *buf,
			    size_t cap)
{
	if (known && ng_is_packet(type))
		snprintf(buf, cap, "frame %llu", ull(r->f.frames + 1));
	else
		snprintf(buf, cap, "after frame %llu", ull(r->f.frames));
	return buf;
}

/*
 * Frame the block at the cursor: check its lengths and hand back its type,
 * its body (without type, length and trailing length) and its offset; the
 * cursor moves past it. A section header sets the byte order first, since
 * its own length is written in it.
 */
static int ng_block(struct mm_reader *r, uint32_t *type, struct bw_wire *body, size_t *offp)
{
	struct bw_capture_file *f = &r->f;
	/* work on a copy: on any error the reader stays at the block's start */
	struct bw_wire cur = r->w, *w = &cur;
	char where[48];
	size_t off = bw_wire_pos(w);
	size_t left = bw_wire_left(w);
	*offp = off;
	uint32_t t = rd32(w, r->be); /* 0 if fewer than 4 bytes are left */
	if (left < 8)
		return bw_capture_file_fail(
			f, BW_ETRUNC,
			"truncated block at byte %zu (%s): file ends inside the block header (%zu of %u bytes)",
			off, ng_where(r, t, left >= 4, where, sizeof(where)), left, NG_BLOCK_MIN);
	if (t == PCAPNG_SHB) {
		if (left < NG_BLOCK_MIN)
			return bw_capture_file_fail(
				f, BW_ETRUNC,
				"truncated section header block at byte %zu (%s): file ends inside the block header (%zu of %u bytes)",
				off, ng_where(r, t, true, where, sizeof(where)), left, NG_BLOCK_MIN);
		struct bw_wire bom = *w;
		bw_wire_skip(&bom, 4);
		uint32_t m = bw_wire_u32(&bom);
		if (m == PCAPNG_BOM)
			r->be = true;
		else if (m == __builtin_bswap32(PCAPNG_BOM))
			r->be = false;
		else
			return bw_capture_file_fail(
				f, BW_EMALF,
				"corrupt section header block at byte %zu (%s): bad byte-order magic 0x%08x",
				off, ng_where(r, t, true, where, sizeof(where)), m);
	}
	uint32_t len = rd32(w, r->be);
	if (len < NG_BLOCK_MIN || len % 4 != 0)
		return bw_capture_file_fail(
			f, BW_EMALF,
			"corrupt block at byte %zu (%s): block length %u is %s (block type 0x%x)", off,
			ng_where(r, t, true, where, sizeof(where)), len,
			len < NG_BLOCK_MIN ? "under the 12-byte minimum" : "not a multiple of 4", t);
	if (len > left)
		return bw_capture_file_fail(
			f, BW_ETRUNC,
			"truncated block at byte %zu (%s): file ends inside the block (type 0x%x, length %u, %zu bytes left)",
			off, ng_where(r, t, true, where, sizeof(where)), t, len, left);
	bw_wire_sub(w, len - NG_BLOCK_MIN, body);
	uint32_t trail = rd32(w, r->be);
	if (trail != len)
		return bw_capture_file_fail(
			f, BW_EMALF,
			"corrupt block at byte %zu (%s): trailing block length %u does not match the leading %u (block type 0x%x)",
			off, ng_where(r, t, true, where, sizeof(where)), trail, len, t);
	r->w = cur;
	*type = t;
	return BW_OK;
}

static int ng_section(struct mm_reader *r, struct bw_wire *body, size_t off)
{
	struct bw_capture_file *f = &r->f;
	char where[48];
	if (bw_wire_left(body) < NG_SHB_BODY)
		return bw_capture_file_fail(f, BW_EMALF,
					    "corrupt section header block at byte %zu (%s): %zu-byte body, at least %u needed",
					    off, ng_where(r, PCAPNG_SHB, true, where, sizeof(where)),
					    bw_wire_left(body), NG_SHB_BODY);
	bw_wire_skip(body, 4);
	uint16_t major = rd16(body, r->be);
	uint16_t minor = rd16(body, r->be);
	if (major != 1)
		return bw_capture_file_fail(f, BW_ENOTSUP,
					    "unsupported pcapng version %u.%u in the section header at byte %zu (%s)",
					    major, minor, off,
					    ng_where(r, PCAPNG_SHB, true, where, sizeof(where)));
	/* interface ids are per section */
	r->nifs = 0;
	return BW_OK;
}

static int ng_interface(struct mm_reader *r, struct bw_wire *body, size_t off)
{
	struct bw_capture_file *f = &r->f;
	char where[48];
	if (bw_wire_left(body) < 8)
		return bw_capture_file_fail(f, BW_EMALF,
					    "corrupt interface description block at byte %zu (%s): %zu-byte body, at least 8 needed",
					    off, ng_where(r, PCAPNG_IDB, true, where, sizeof(where)),
					    bw_wire_left(body));
	if (r->nifs >= BW_CAPTURE_MAX_IFACES)
		return bw_capture_file_fail(f, BW_ELIMIT,
					    "interface description block at byte %zu (%s): more than %u interfaces in one section",
					    off, ng_where(r, PCAPNG_IDB, true, where, sizeof(where)),
					    BW_CAPTURE_MAX_IFACES);
	if (r->nifs == r->ifcap) {
		uint32_t ncap = r->ifcap ? r->ifcap * 2 : 4;
		struct ng_iface *n = realloc(r->ifs, ncap * sizeof(*n));
		if (!n)
			return bw_capture_file_fail(f, BW_ENOMEM,
						    "out of memory for interface %u at byte %zu", r->nifs, off);
		r->ifs = n;
		r->ifcap = ncap;
	}
	struct ng_iface *ifc = &r->ifs[r->nifs];
	ifc->linktype = rd16(body, r->be);
	bw_wire_skip(body, 2);
	ifc->snaplen = rd32(body, r->be);
	ifc->ts_offset = 0;
	iface_set_tsresol(ifc, 6);
	/*
	 * Options are advisory: a bad one ends the option walk but keeps the
	 * interface (its frames are still good). Each pass eats >= 4 bytes.
	 */
	while (bw_wire_left(body) >= 4) {
		uint16_t code = rd16(body, r->be);
		uint16_t olen = rd16(body, r->be);
		if (code == OPT_ENDOFOPT || olen > bw_wire_left(body))
			break;
		struct bw_wire val;
		bw_wire_sub(body, olen, &val);
		bw_wire_skip(body, BW_MIN((size_t)((4u - olen % 4u) % 4u), bw_wire_left(body)));
		if (code == OPT_IF_TSRESOL && olen >= 1)
			iface_set_tsresol(ifc, bw_wire_u8(&val));
		else if (code == OPT_IF_TSOFFSET && olen == 8)
			ifc->ts_offset = (int64_t)rd64(&val, r->be);
	}
	r->nifs++;
	return BW_OK;
}

/*
 * A packet block whose framing is sound but whose insides are not (too short
 * for its fields, a captured length past its end, an interface never
 * described) loses only that frame: it is counted and skipped.
 */
static bool ng_packet(struct mm_reader *r, uint32_t type, struct bw_wire *body, size_t off,
		      struct bw_frame *fr)
{
	struct bw_capture_file *f = &r->f;
	uint32_t ifid = 0, caplen, orig;
	uint64_t t = 0;
	f->frames++;
	if (type == PCAPNG_SPB) {
		if (bw_wire_left(body) < 4) {
			bw_anomaly(f->an, BW_AN_CAP_BAD_LENGTH);
			return false;
		}
		orig = rd32(body, r->be);
		caplen = (uint32_t)BW_MIN((size_t)orig, bw_wire_left(body));
	} else {
		if (bw_wire_left(body) < 20) {
			bw_anomaly(f->an, BW_AN_CAP_BAD_LENGTH);
			return false;
		}
		if (type == PCAPNG_PB) {
			ifid = rd16(body, r->be);
			bw_wire_skip(body, 2); /* drops count */
		} else {
			ifid = rd32(body, r->be);
		}
		uint64_t hi = rd32(body, r->be);
		t = (hi << 32) | rd32(body, r->be);
		caplen = rd32(body, r->be);
		orig = rd32(body, r->be);
		if (caplen > bw_wire_left(body)) {
			bw_anomaly(f->an, BW_AN_CAP_BAD_LENGTH);
			return false;
		}
	}
	if (ifid >= r->nifs) {
		/* no link type to decode it with; closest reason we have */
		bw_anomaly(f->an, BW_AN_CAP_UNKNOWN_LINKTYPE);
		return false;
	}
	const struct ng_iface *ifc = &r->ifs[ifid];
	if (type == PCAPNG_SPB && ifc->snaplen && caplen > ifc->snaplen)
		caplen = ifc->snaplen; /* the SPB rule: min(original length, snaplen) */
	fr->data = bw_wire_ptr(body, caplen);
	fr->cap_len = caplen;
	fr->wire_len = orig;
	fr->ts = type == PCAPNG_SPB ? 0 : ts_to_ns(ifc, t);
	fr->linktype = ifc->linktype;
	fr->ifindex = ifid;
	fr->number = f->frames;
	fr->offset = off;
	return bw_capture_frame_check(f, fr, ifc->snaplen, type != PCAPNG_SPB);
}

static int ng_next(struct mm_reader *r, struct bw_frame *fr)
{
	/* every pass consumes a whole block of >= 12 bytes, so this ends */
	for (;;) {
		if (bw_wire_left(&r->w) == 0)
			return BW_EEOF;
		uint32_t type;
		struct bw_wire body;
		size_t off;
		int rc = ng_block(r, &type, &body, &off);
		if (rc != BW_OK)
			return rc;
		cache_ahead(r);
		prefetch(r);
		switch (type) {
		case PCAPNG_SHB: rc = ng_section(r, &body, off); break;
		case PCAPNG_IDB: rc = ng_interface(r, &body, off); break;
		case PCAPNG_EPB:
		case PCAPNG_SPB:
		case PCAPNG_PB:
			if (ng_packet(r, type, &body, off, fr))
				return BW_OK;
			break;
		default: break; /* NRB, ISB, DSB, custom, ...: not ours to read */
		}
		if (rc != BW_OK) {
			bw_wire_seek(&r->w, off);
			return rc;
		}
	}
}

/* The first block must be a section header; read it now so open() can fail. */
static int ng_start(struct mm_reader *r)
{
	uint32_t type;
	struct bw_wire body;
	size_t off;
	r->pcapng = true;
	r->f.format = "pcapng";
	int rc = ng_block(r, &type, &body, &off);
	if (rc == BW_OK)
		rc = ng_section(r, &body, off);
	return rc;
}

/* ---- the mmap reader -------------------------------------------------- */

static int mm_next(struct bw_capture_file *f, struct bw_frame *fr)
{
	struct mm_reader *r = (struct mm_reader *)f;
	return r->pcapng ? ng_next(r, fr) : pcap_next(r, fr);
}

static uint64_t mm_pos(const struct bw_capture_file *f)
{
	return bw_wire_pos(&((const struct mm_reader *)f)->w);
}

static void mm_close(struct bw_capture_file *f)
{
	struct mm_reader *r = (struct mm_reader *)f;
	ra_stop(r);
	if (r->fd >= 0)
		close(r->fd);
	if (r->map && !r->borrowed)
		munmap(r->map, r->map_len);
	free(r->ifs);
	free(r);
}

static const struct bw_capture_ops mm_ops = {
	.next = mm_next,
	.pos = mm_pos,
	.close = mm_close,
};

enum magic_kind { MAGIC_UNKNOWN, MAGIC_PCAP, MAGIC_PCAPNG };

static enum magic_kind magic_of(const uint8_t *p, size_t n, uint32_t *asread, uint32_t *pcap_magic)
{
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	uint32_t be = bw_wire_u32(&w);
	*asread = be;
	if (!bw_wire_ok(&w))
		return MAGIC_UNKNOWN;
	if (be == PCAPNG_SHB)
		return MAGIC_PCAPNG;
	static const uint32_t pcap_magics[] = {PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZ};
	for (size_t i = 0; i < BW_ARRAY_SIZE(pcap_magics); i++) {
		uint32_t m = pcap_magics[i];
		uint32_t sw = __builtin_bswap32(m);
		if (be == m || be == sw) {
			*pcap_magic = m;
			return MAGIC_PCAP;
		}
	}
	return MAGIC_UNKNOWN;
}

/* Start parsing r over its bytes; on failure the message goes to err. */
static int mm_start(struct mm_reader *r, char *err, size_t errcap)
{
	size_t n = bw_wire_left(&r->w);
	if (n == 0) {
		set_err(err, errcap, "%s: empty file (0 bytes): not a capture", r->f.path);
		return BW_ETRUNC;
	}
	if (n < 4) {
		set_err(err, errcap, "%s: too short to be a capture file (%zu bytes)", r->f.path, n);
		return BW_ETRUNC;
	}
	uint32_t asread = 0, pm = 0;
	enum magic_kind k = magic_of(bw_wire_peek(&r->w, n), n, &asread, &pm);
	int rc;
	if (k == MAGIC_PCAP) {
		rc = pcap_start(r, pm);
	} else if (k == MAGIC_PCAPNG) {
		rc = ng_start(r);
	} else {
		set_err(err, errcap, "%s: not a pcap or pcapng file (magic 0x%08x)", r->f.path, asread);
		return BW_ENOTSUP;
	}
	if (rc != BW_OK)
		set_err(err, errcap, "%s", r->f.errmsg);
	return rc;
}

int bw_capture_file_clone(const struct bw_capture_file *f, struct bw_anomalies *an,
			  struct bw_capture_file **out)
{
	*out = NULL;
	if (!f || f->ops != &mm_ops)
		return BW_ENOTSUP;
	if (f->frames != 0 || f->err != BW_OK)
		return BW_EINVAL;
	const struct mm_reader *r = (const struct mm_reader *)f;
	struct mm_reader *c = malloc(sizeof(*c));
	if (!c)
		return BW_ENOMEM;
	*c = *r;
	/*
	 * The mapping stays r's: c never unmaps it or reads ahead in it, but
	 * drops behind its own cursor, so a clone that lags r does not keep
	 * the pages it faulted in again (a page zapped under a reader that
	 * still needs it is read in again from the page cache).
	 */
	c->borrowed = true;
	c->parent = r;
	c->fd = -1;
	c->ra = NULL;
	c->f.an = an;
	c->ifs = NULL;
	if (r->ifcap) {
		c->ifs = malloc(r->ifcap * sizeof(*c->ifs));
		if (!c->ifs) {
			free(c);
			return BW_ENOMEM;
		}
		memcpy(c->ifs, r->ifs, r->nifs * sizeof(*c->ifs));
	}
	*out = &c->f;
	return BW_OK;
}

static struct mm_reader *mm_new(const char *name, struct bw_anomalies *an)
{
	struct mm_reader *r = calloc(1, sizeof(*r));
	if (r) {
		bw_capture_file_init(&r->f, &mm_ops, name, an, "pcap");
		r->fd = -1;
		/* for tests and comparisons (bench/NOTES.md) */
		const char *m = getenv("BINDWATCH_READAHEAD");
		r->ra_mode = m && !strcmp(m, "thread") ? RA_THREAD : m && !strcmp(m, "advise") ? RA_ADVISE : RA_AUTO;
	}
	return r;
}

int bw_capture_mem_open(const uint8_t *buf, size_t len, const char *name, struct bw_anomalies *an,
			struct bw_capture_file **out, char *err, size_t errcap)
{
	*out = NULL;
	struct mm_reader *r = mm_new(name, an);
	if (!r) {
		set_err(err, errcap, "%s: out of memory", name);
		return BW_ENOMEM;
	}
	bw_wire_init(&r->w, buf, len);
	r->f.size = len;
	int rc = mm_start(r, err, errcap);
	if (rc != BW_OK) {
		mm_close(&r->f);
		return rc;
	}
	r->f.err = BW_OK;
	r->f.errmsg[0] = '\0';
	*out = &r->f;
	return BW_OK;
}

/*
 * Map path. Returns BW_OK with *rp ready, or an error with err set.
 * *fallback is set when AUTO should hand the file to libpcap instead: it is
 * not a regular file (a pipe cannot be mapped) or its magic is not ours.
 */
static int mm_open_path(const char *path, bool auto_kind, struct bw_anomalies *an,
			struct mm_reader **rp, bool *fallback, uint32_t *magic, char *err,
			size_t errcap)
{
	*rp = NULL;
	*fallback = false;
	/*
	 * Look before opening: opening a FIFO blocks until a writer comes, and
	 * what we read from it would be lost to libpcap.
	 */
	struct stat st;
	if (auto_kind && stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		*fallback = true;
		return BW_ENOTSUP;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		set_err(err, errcap, "%s: cannot open: %s", path, strerror(e));
		return e == ENOENT ? BW_ENOENT : BW_EIO;
	}
	int rc = BW_OK;
	struct mm_reader *r = NULL;
	if (fstat(fd, &st) != 0) {
		set_err(err, errcap, "%s: cannot stat: %s", path, strerror(errno));
		rc = BW_EIO;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errcap, "%s: not a regular file: cannot read it as a capture", path);
		rc = BW_EINVAL;
		goto fail;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		set_err(err, errcap, "%s: too large to map (%lld bytes)", path, (long long)st.st_size);
		rc = BW_ENOMEM;
		goto fail;
	}
	r = mm_new(path, an);
	if (!r) {
		set_err(err, errcap, "%s: out of memory", path);
		rc = BW_ENOMEM;
		goto fail;
	}
	r->f.size = (uint64_t)st.st_size;
	if (st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			set_err(err, errcap, "%s: cannot map: %s", path, strerror(errno));
			rc = BW_EIO;
			goto fail;
		}
		r->map = m;
		r->map_len = (size_t)st.st_size;
		r->keep_behind = DROP_BEHIND;
		(void)madvise(m, r->map_len, MADV_SEQUENTIAL);
		bw_wire_init(&r->w, m, r->map_len);
		uint32_t pm;
		if (auto_kind && magic_of(m, r->map_len, magic, &pm) == MAGIC_UNKNOWN &&
		    r->map_len >= 4) {
			*fallback = true;
			goto fail;
		}
	}
	/* For the read-ahead thread, if the file turns out not cached: a file
	 * of its own, since the mapping's file keeps the read-ahead state of
	 * its faults, and reads through it as well confuse both (half the
	 * pages then land in 4 KiB folios again). */
	if (r->map) {
		struct stat st2;
		r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (r->fd >= 0 && (fstat(r->fd, &st2) != 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)) {
			close(r->fd);
			r->fd = -1;
		}
	}
	close(fd);
	fd = -1;
	rc = mm_start(r, err, errcap);
	if (rc != BW_OK)
		goto fail;
	r->f.err = BW_OK;
	r->f.errmsg[0] = '\0';
	prefetch(r);
	*rp = r;
	return BW_OK;
fail:
	if (r)
		mm_close(&r->f);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- public entry points ---------------------------------------------- */

int bw_capture_file_open(const char *path, enum bw_reader_kind kind, struct bw_anomalies *an,
			 struct bw_capture_file **out, char *err, size_t errcap)
{
	if (err && errcap)
		err[0] = '\0';
	if (!out)
		return BW_EINVAL;
	*out = NULL;
	if (!path) {
		set_err(err, errcap, "(null): no capture file named");
		return BW_EINVAL;
	}
	if (kind == BW_READER_LIBPCAP)
		return bw_capture_libpcap_open(path, an, out, err, errcap);
	if (kind != BW_READER_AUTO && kind != BW_READER_MMAP) {
		set_err(err, errcap, "%s: unknown reader kind %d", path, (int)kind);
		return BW_EINVAL;
	}
	struct mm_reader *r;
	bool fallback;
	uint32_t magic = 0;
	int rc = mm_open_path(path, kind == BW_READER_AUTO, an, &r, &fallback, &magic, err, errcap);
	if (rc == BW_OK && !fallback) {
		*out = &r->f;
		return BW_OK;
	}
	if (!fallback)
		return rc;
	char lerr[BW_CAPTURE_ERRLEN];
	rc = bw_capture_libpcap_open(path, an, out, lerr, sizeof(lerr));
	if (rc == BW_OK)
		return BW_OK;
	/* say both why we did not take it and why libpcap did not either */
	size_t pl = strlen(path);
	const char *why = lerr;
	if (strncmp(lerr, path, pl) == 0 && lerr[pl] == ':' && lerr[pl + 1] == ' ')
		why = lerr + pl + 2;
	if (magic)
		set_err(err, errcap, "%s: not a pcap or pcapng file (magic 0x%08x); libpcap: %s", path,
			magic, why);
	else
		set_err(err, errcap, "%s: libpcap: %s", path, why);
	return rc;
}

int bw_capture_file_next(struct bw_capture_file *f, struct bw_frame *fr)
{
	if (!f || !fr)
		return BW_EINVAL;
	if (f->err != BW_OK)
		return f->err;
	int rc = f->ops->next(f, fr);
	if (rc != BW_OK && f->err == BW_OK)
		f->err = rc;
	return rc;
}

const char *bw_capture_file_error(const struct bw_capture_file *f)
{
	return f ? f->errmsg : "";
}

uint64_t bw_capture_file_size(const struct bw_capture_file *f)
{
	return f ? f->size : 0;
}

uint64_t bw_capture_file_pos(const struct bw_capture_file *f)
{
	return f ? f->ops->pos(f) : 0;
}

void bw_capture_file_keep_behind(struct bw_capture_file *f, size_t bytes)
{
	if (f && f->ops == &mm_ops) {
		struct mm_reader *r = (struct mm_reader *)f;
		/* whole chunks, so every drop stays page aligned */
		r->keep_behind = BW_MAX((size_t)DROP_BEHIND, (bytes + DROP_CHUNK - 1) / DROP_CHUNK * DROP_CHUNK);
	}
}

uint64_t bw_capture_file_readahead_bytes(const struct bw_capture_file *f)
{
	if (!f || f->ops != &mm_ops)
		return 0;
	struct mm_reader *r = (struct mm_reader *)(uintptr_t)f;
	if (!r->ra)
		return 0;
	pthread_mutex_lock(&r->ra->mu);
	uint64_t n = r->ra->bytes;
	pthread_mutex_unlock(&r->ra->mu);
	return n;
}

uint64_t bw_capture_file_frames(const struct bw_capture_file *f)
{
	return f ? f->frames : 0;
}

const char *bw_capture_file_format(const struct bw_capture_file *f)
{
	return f ? f->format : "";
}

void bw_capture_file_close(struct bw_capture_file *f)
{
	if (f)
		f->ops->close(f);
}
