/* SPDX-License-Identifier: MIT */
/*
 * spool.c: append-only, checksummed, size-bounded on-disk queue of events for
 * a network sink, so an alert survives a collector outage and a bindwatch
 * restart. Segment files rather than one file, because space is given back by
 * deleting whole delivered segments (no compaction, no rewriting: a crash can
 * only ever leave a torn tail, which open() cuts off). Each record carries a
 * CRC-32C and a magic so a damaged record is skipped, never replayed as
 * garbage or misframed into the next one. Open validates every undelivered
 * record once, which also yields the pending count.
 */
#include "spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SEG_MAGIC "BWSPOOL1"
#define SEG_HDR 16u
#define REC_MAGIC 0x31525742u /* "BWR1" little-endian */
#define REC_HDR 12u           /* magic, len, crc */
#define COMMIT_MAGIC 0x31435742u

struct bw_spool {
	char *dir;
	int lock_fd;
	uint64_t max_bytes, seg_max;
	uint64_t *segs; /* sequence numbers present, ascending */
	size_t nsegs, segcap;
	uint64_t *segsize;
	struct bw_spool_pos commit, read, synced;
	uint64_t next_seq;
	int wfd;          /* last segment, for appends; -1 when none is open */
	int rfd;          /* segment of the read position; -1 */
	uint64_t rfd_seq;
	bool dirty;       /* appended since the last sync */
	uint64_t bytes, pending, corrupt, torn;
	char *buf;
	size_t bufcap;
};

/* ---- CRC-32C ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t bw_crc32c(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
	const uint8_t *b = p;
	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ b[i]) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* ---- helpers ---- */

static void seg_path(const struct bw_spool *s, uint64_t seq, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%016llx.seg", s->dir, (unsigned long long)seq);
}

static int mkdirs(const char *dir)
{
	char tmp[4096];
	if (strlen(dir) >= sizeof(tmp))
		return -1;
	strcpy(tmp, dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static bool pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	uint8_t *b = buf;
	while (n) {
		ssize_t r = pread(fd, b, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return true;
}

static bool grow_buf(struct bw_spool *s, size_t n)
{
	if (n <= s->bufcap)
		return true;
	size_t c = s->bufcap ? s->bufcap : 4096;
	while (c < n)
		c *= 2;
	char *nb = realloc(s->buf, c);
	if (!nb)
		return false;
	s->buf = nb;
	s->bufcap = c;
	return true;
}

static ssize_t seg_index(const struct bw_spool *s, uint64_t seq)
{
	for (size_t i = 0; i < s->nsegs; i++)
		if (s->segs[i] == seq)
			return (ssize_t)i;
	return -1;
}

static int add_seg(struct bw_spool *s, uint64_t seq, uint64_t size)
{
	if (s->nsegs == s->segcap) {
		size_t nc = s->segcap ? s->segcap * 2 : 16;
		uint64_t *a = realloc(s->segs, nc * sizeof(*a));
		if (!a)
			return BW_ENOMEM;
		s->segs = a;
		uint64_t *b = realloc(s->segsize, nc * sizeof(*b));
		if (!b)
			return BW_ENOMEM;
		s->segsize = b;
		s->segcap = nc;
	}
	size_t i = s->nsegs;
	while (i > 0 && s->segs[i - 1] > seq) {
		s->segs[i] = s->segs[i - 1];
		s->segsize[i] = s->segsize[i - 1];
		i--;
	}
	s->segs[i] = seq;
	s->segsize[i] = size;
	s->nsegs++;
	s->bytes += size;
	return BW_OK;
}

static void drop_seg(struct bw_spool *s, size_t i)
{
	char path[4200];
	seg_path(s, s->segs[i], path, sizeof(path));
	unlink(path);
	if (s->rfd >= 0 && s->rfd_seq == s->segs[i]) {
		close(s->rfd);
		s->rfd = -1;
	}
	if (i == s->nsegs - 1 && s->wfd >= 0) {
		close(s->wfd);
		s->wfd = -1;
	}
	s->bytes -= s->segsize[i];
	memmove(s->segs + i, s->segs + i + 1, (s->nsegs - i - 1) * sizeof(*s->segs));
	memmove(s->segsize + i, s->segsize + i + 1, (s->nsegs - i - 1) * sizeof(*s->segsize));
	s->nsegs--;
}

/*
 * Validate the record at off in a segment of size len (fd open). Returns its
 * total size, or 0 if there is no valid record there. Fills the payload into
 * s->buf when load is set.
 */
static uint64_t check_record(struct bw_spool *s, int fd, uint64_t off, uint64_t size, bool load)
{
	uint8_t h[REC_HDR];
	if (size - off < REC_HDR + 12 || !pread_full(fd, h, REC_HDR, off))
		return 0;
	uint32_t len = get32(h + 4);
	if (get32(h) != REC_MAGIC || len < 12 || len > BW_SPOOL_MAX_RECORD + 12 || len > size - off - REC_HDR)
		return 0;
	if (!grow_buf(s, len) || !pread_full(fd, s->buf, len, off + REC_HDR))
		return 0;
	uint32_t crc = bw_crc32c(bw_crc32c(0, h + 4, 4), s->buf, len);
	if (crc != get32(h + 8))
		return 0;
	(void)load;
	return REC_HDR + (uint64_t)len;
}

/* Find the next offset >= off holding a valid record (resync after damage); size if none. */
static uint64_t resync(struct bw_spool *s, int fd, uint64_t off, uint64_t size)
{
	uint8_t win[4096];
	for (uint64_t p = off; p + REC_HDR + 12 <= size;) {
		size_t n = (size_t)BW_MIN((uint64_t)sizeof(win), size - p);
		if (!pread_full(fd, win, n, p))
			return size;
		for (size_t i = 0; i + 4 <= n; i++)
			if (get32(win + i) == REC_MAGIC && check_record(s, fd, p + i, size, false))
				return p + i;
		p += n > 3 ? n - 3 : n;
	}
	return size;
}

/* Scan a segment from off, counting valid records; cut a torn tail if last. */
static int scan_seg(struct bw_spool *s, size_t i, uint64_t off)
{
	char path[4200];
	seg_path(s, s->segs[i], path, sizeof(path));
	bool last = i == s->nsegs - 1;
	int fd = open(path, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return BW_EIO;
	uint64_t size = s->segsize[i];
	uint64_t good_end = off;
	while (off < size) {
		uint64_t r = check_record(s, fd, off, size, false);
		if (r) {
			s->pending++;
			off += r;
			good_end = off;
			continue;
		}
		uint64_t nx = resync(s, fd, off + 1, size);
		if (nx >= size)
			break;
		s->corrupt++;
		off = nx;
	}
	if (last && good_end < size) {
		/* torn tail (or trailing garbage): cut it so appends continue cleanly */
		if (ftruncate(fd, (off_t)good_end) == 0) {
			s->torn += size - good_end;
			s->bytes -= size - good_end;
			s->segsize[i] = good_end;
		}
	} else if (good_end < size) {
		s->corrupt++;
	}
	close(fd);
	return BW_OK;
}

static bool read_commit(struct bw_spool *s, struct bw_spool_pos *pos)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/commit", s->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	uint8_t b[24];
	bool ok = pread_full(fd, b, sizeof(b), 0) && get32(b) == COMMIT_MAGIC &&
		  bw_crc32c(0, b, 20) == get32(b + 20);
	close(fd);
	if (ok) {
		pos->seg = get64(b + 4);
		pos->off = (uint64_t)get32(b + 12) | (uint64_t)get32(b + 16) << 32;
	}
	return ok;
}

static int write_commit(struct bw_spool *s)
{
	char path[4200], tmp[4200];
	snprintf(path, sizeof(path), "%s/commit", s->dir);
	snprintf(tmp, sizeof(tmp), "%s/commit.tmp", s->dir);
	uint8_t b[24];
	put32(b, COMMIT_MAGIC);
	put64(b + 4, s->commit.seg);
	put64(b + 12, s->commit.off);
	put32(b + 20, bw_crc32c(0, b, 20));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return BW_EIO;
	bool ok = write(fd, b, sizeof(b)) == (ssize_t)sizeof(b) && fdatasync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) != 0)
		return BW_EIO;
	s->synced = s->commit;
	return BW_OK;
}

int bw_spool_open(const char *dir, uint64_t max_bytes, struct bw_spool **out, char *err, size_t errcap)
{
	*out = NULL;
	struct bw_spool *s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		snprintf(err, errcap, "out of memory");
		return BW_ENOMEM;
	}
	s->lock_fd = s->wfd = s->rfd = -1;
	s->max_bytes = max_bytes;
	s->seg_max = BW_MAX(BW_MIN(max_bytes / 16, 16ULL << 20), 64ULL << 10);
	char path[4200];
	if (mkdirs(dir) != 0) {
		snprintf(err, errcap, "spool %s: cannot create: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/lock", dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		snprintf(err, errcap, "spool %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errcap, "spool %s is in use by another bindwatch", dir);
		goto fail;
	}
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errcap, "spool %s: %s", dir, strerror(errno));
		goto fail;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		if (strlen(e->d_name) != 20 || strcmp(e->d_name + 16, ".seg") != 0)
			continue;
		unsigned long long seq = strtoull(e->d_name, &end, 16);
		if (end != e->d_name + 16)
			continue;
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (add_seg(s, seq, (uint64_t)st.st_size) != BW_OK) {
			closedir(d);
			snprintf(err, errcap, "out of memory");
			goto fail;
		}
	}
	closedir(d);
	/* segments without a valid header are dropped (a crash right after creating one) */
	for (size_t i = 0; i < s->nsegs;) {
		uint8_t h[SEG_HDR];
		seg_path(s, s->segs[i], path, sizeof(path));
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		bool ok = fd >= 0 && pread_full(fd, h, SEG_HDR, 0) && memcmp(h, SEG_MAGIC, 8) == 0 &&
			  get64(h + 8) == s->segs[i];
		if (fd >= 0)
			close(fd);
		if (!ok) {
			drop_seg(s, i);
			continue;
		}
		i++;
	}
	struct bw_spool_pos c = { 0, 0 };
	bool have = read_commit(s, &c);
	/* drop what the commit says was delivered */
	while (have && s->nsegs && s->segs[0] < c.seg)
		drop_seg(s, 0);
	if (!have || !s->nsegs || s->segs[0] != c.seg || c.off < SEG_HDR || c.off > s->segsize[0]) {
		c.seg = s->nsegs ? s->segs[0] : (have ? c.seg + 1 : 1);
		c.off = SEG_HDR;
	}
	s->commit = s->read = s->synced = c;
	s->next_seq = (s->nsegs ? s->segs[s->nsegs - 1] : c.seg) + 1;
	if (!s->nsegs)
		s->next_seq = c.seg;
	for (size_t i = 0; i < s->nsegs; i++)
		if (scan_seg(s, i, i == 0 ? c.off : SEG_HDR) != BW_OK) {
			snprintf(err, errcap, "spool %s: cannot read segment: %s", dir, strerror(errno));
			goto fail;
		}
	*out = s;
	return BW_OK;
fail:
	bw_spool_close(s);
	return BW_EIO;
}

void bw_spool_close(struct bw_spool *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		bw_spool_sync(s);
	if (s->wfd >= 0)
		close(s->wfd);
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	free(s->segs);
	free(s->segsize);
	free(s->buf);
	free(s->dir);
	free(s);
}

static int new_segment(struct bw_spool *s)
{
	char path[4200];
	if (s->wfd >= 0) {
		fdatasync(s->wfd);
		close(s->wfd);
		s->wfd = -1;
	}
	uint64_t seq = s->next_seq++;
	seg_path(s, seq, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return BW_EIO;
	uint8_t h[SEG_HDR];
	memcpy(h, SEG_MAGIC, 8);
	put64(h + 8, seq);
	if (write(fd, h, SEG_HDR) != (ssize_t)SEG_HDR || add_seg(s, seq, SEG_HDR) != BW_OK) {
		close(fd);
		unlink(path);
		return BW_EIO;
	}
	s->wfd = fd;
	return BW_OK;
}

int bw_spool_append(struct bw_spool *s, uint32_t type, uint64_t ts, const void *data, size_t len)
{
	if (len > BW_SPOOL_MAX_RECORD)
		return BW_ELIMIT;
	uint64_t need = BW_SPOOL_REC_OVERHEAD + len;
	bool rotate = !s->nsegs || s->segsize[s->nsegs - 1] + need > s->seg_max;
	if (s->bytes + need + (rotate ? SEG_HDR : 0) > s->max_bytes)
		return BW_ELIMIT;
	if (rotate && s->nsegs && s->segsize[s->nsegs - 1] <= SEG_HDR)
		rotate = false; /* an empty segment takes any record */
	if (rotate) {
		if (new_segment(s) != BW_OK)
			return BW_EIO;
	} else if (s->wfd < 0) {
		char path[4200];
		seg_path(s, s->segs[s->nsegs - 1], path, sizeof(path));
		s->wfd = open(path, O_RDWR | O_CLOEXEC);
		if (s->wfd < 0)
			return BW_EIO;
	}
	uint8_t h[REC_HDR + 12];
	uint32_t plen = (uint32_t)(len + 12);
	put32(h, REC_MAGIC);
	put32(h + 4, plen);
	put32(h + 12, type);
	put64(h + 16, ts);
	uint32_t crc = bw_crc32c(bw_crc32c(bw_crc32c(0, h + 4, 4), h + 12, 12), data, len);
	put32(h + 8, crc);
	size_t i = s->nsegs - 1;
	uint64_t off = s->segsize[i];
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)data, len } };
	ssize_t w = pwritev(s->wfd, iov, 2, (off_t)off);
	if (w != (ssize_t)(sizeof(h) + len)) {
		if (ftruncate(s->wfd, (off_t)off) != 0) {
			/* the torn record is cut at the next open */
		}
		return BW_EIO;
	}
	s->segsize[i] += (uint64_t)w;
	s->bytes += (uint64_t)w;
	s->pending++;
	s->dirty = true;
	return BW_OK;
}

int bw_spool_read(struct bw_spool *s, struct bw_spool_rec *rec)
{
	for (;;) {
		ssize_t i = seg_index(s, s->read.seg);
		if (i < 0) {
			/* the read segment is gone (fully committed): continue at the first one after it */
			size_t k = 0;
			while (k < s->nsegs && s->segs[k] < s->read.seg)
				k++;
			if (k == s->nsegs) {
				s->pending = 0;
				return BW_EEOF;
			}
			s->read.seg = s->segs[k];
			s->read.off = SEG_HDR;
			continue;
		}
		uint64_t size = s->segsize[i];
		if (s->read.off >= size) {
			if ((size_t)i + 1 >= s->nsegs) {
				s->pending = 0;
				return BW_EEOF;
			}
			s->read.seg = s->segs[i + 1];
			s->read.off = SEG_HDR;
			continue;
		}
		if (s->rfd < 0 || s->rfd_seq != s->read.seg) {
			if (s->rfd >= 0)
				close(s->rfd);
			char path[4200];
			seg_path(s, s->read.seg, path, sizeof(path));
			s->rfd = open(path, O_RDONLY | O_CLOEXEC);
			if (s->rfd < 0)
				return BW_EIO;
			s->rfd_seq = s->read.seg;
		}
		uint64_t r = check_record(s, s->rfd, s->read.off, size, true);
		if (!r) {
			s->corrupt++;
			s->read.off = resync(s, s->rfd, s->read.off + 1, size);
			continue;
		}
		rec->type = get32((const uint8_t *)s->buf);
		rec->ts = get64((const uint8_t *)s->buf + 4);
		rec->data = s->buf + 12;
		rec->len = r - REC_HDR - 12;
		s->read.off += r;
		rec->end = s->read;
		if (s->pending)
			s->pending--;
		return BW_OK;
	}
}

uint64_t bw_spool_pending(const struct bw_spool *s) { return s->pending; }

void bw_spool_commit(struct bw_spool *s, struct bw_spool_pos pos)
{
	s->commit = pos;
	/* give back whole delivered segments; keep the one being appended to */
	while (s->nsegs > 1 && s->segs[0] < pos.seg)
		drop_seg(s, 0);
	/* everything delivered: start afresh so the last segment does not grow forever */
	if (s->nsegs == 1 && s->segs[0] == pos.seg && pos.off >= s->segsize[0] && s->pending == 0 &&
	    s->segsize[0] > s->seg_max / 2) {
		drop_seg(s, 0);
		s->commit.seg = s->read.seg = s->next_seq;
		s->commit.off = s->read.off = SEG_HDR;
	}
}

int bw_spool_rewind(struct bw_spool *s)
{
	s->read = s->commit;
	s->pending = 0;
	for (size_t i = 0; i < s->nsegs; i++) {
		if (s->segs[i] < s->commit.seg)
			continue;
		char path[4200];
		seg_path(s, s->segs[i], path, sizeof(path));
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return BW_EIO;
		uint64_t off = s->segs[i] == s->commit.seg ? s->commit.off : SEG_HDR;
		while (off < s->segsize[i]) {
			uint64_t r = check_record(s, fd, off, s->segsize[i], false);
			if (r) {
				s->pending++;
				off += r;
			} else {
				off = resync(s, fd, off + 1, s->segsize[i]);
			}
		}
		close(fd);
	}
	return BW_OK;
}

int bw_spool_sync(struct bw_spool *s)
{
	int rc = BW_OK;
	if (s->dirty && s->wfd >= 0 && fdatasync(s->wfd) != 0)
		rc = BW_EIO;
	s->dirty = false;
	if (s->commit.seg != s->synced.seg || s->commit.off != s->synced.off) {
		int r = write_commit(s);
		if (r != BW_OK)
			rc = r;
	}
	return rc;
}

void bw_spool_info(const struct bw_spool *s, struct bw_spool_info *info)
{
	info->bytes = s->bytes;
	info->pending = s->pending;
	info->corrupt = s->corrupt;
	info->torn_bytes = s->torn;
}

const char *bw_spool_dir(const struct bw_spool *s) { return s->dir; }
