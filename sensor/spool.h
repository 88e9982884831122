/* SPDX-License-Identifier: MIT */
/*
 * spool.h: the on-disk spool of a network sink: events that could not be
 * delivered yet, kept in order across outages and bindwatch restarts.
 *
 * A spool is a directory holding append-only segment files
 * (<16 hex digits>.seg) of checksummed records, a "commit" file (the
 * position up to which records are known delivered) and a "lock" file
 * (flock: one process per spool). Records are read in append order from the
 * committed position; reading does not consume: bw_spool_commit() does,
 * and whole segments before the committed position are deleted. The total
 * size of the segments is bounded by max_bytes; an append past it fails
 * with BW_ELIMIT (the caller counts a drop).
 *
 * Crash safety: a torn record at the end (power cut, kill -9 mid-write) is
 * cut off when the spool is opened; a record whose checksum does not match
 * is skipped (counted in corrupt). The commit file is replaced atomically
 * (rename) by bw_spool_sync(); if bindwatch dies between syncs, records after
 * the last synced position are delivered again (at-least-once).
 *
 * Not thread-safe: the sink serialises calls with its own lock.
 */
#ifndef BW_SPOOL_H
#define BW_SPOOL_H

#include "bw.h"

#define BW_SPOOL_MAX_RECORD (16u << 20) /* largest record payload accepted */
#define BW_SPOOL_REC_OVERHEAD 24u        /* header + type + ts, per record on disk */

struct bw_spool;

struct bw_spool_pos {
	uint64_t seg; /* segment sequence number */
	uint64_t off; /* byte offset inside it */
};

struct bw_spool_rec {
	uint32_t type;
	uint64_t ts;
	const char *data; /* owned by the spool; valid until the next bw_spool_read/close */
	size_t len;
	struct bw_spool_pos end; /* position just after this record: commit it once delivered */
};

struct bw_spool_info {
	uint64_t bytes;       /* segment bytes on disk */
	uint64_t pending;     /* records after the read position */
	uint64_t corrupt;     /* records skipped because their checksum or framing was bad */
	uint64_t torn_bytes;  /* bytes cut off a torn tail at open */
};

/*
 * Open (creating it, mode 0700, parents included) the spool in dir.
 * BW_OK; BW_EIO with a message if the directory cannot be used or another
 * process holds it.
 */
int bw_spool_open(const char *dir, uint64_t max_bytes, struct bw_spool **out, char *err, size_t errcap);
/* Sync and close. NULL-safe. */
void bw_spool_close(struct bw_spool *s);

/* Append one record. BW_OK; BW_ELIMIT if it would pass max_bytes (or is
 * larger than BW_SPOOL_MAX_RECORD); BW_EIO on a write error. */
int bw_spool_append(struct bw_spool *s, uint32_t type, uint64_t ts, const void *data, size_t len);

/* Read the next record after the read position. BW_OK; BW_EEOF when none
 * is left; BW_EIO on a read error. Skips corrupt records. */
int bw_spool_read(struct bw_spool *s, struct bw_spool_rec *rec);

/* Records after the read position. */
uint64_t bw_spool_pending(const struct bw_spool *s);

/* Records up to pos are delivered (pos must be a rec.end returned by read). */
void bw_spool_commit(struct bw_spool *s, struct bw_spool_pos pos);

/* Move the read position back to the committed one (re-read undelivered records). */
int bw_spool_rewind(struct bw_spool *s);

/* Flush appended data and persist the committed position. BW_OK or BW_EIO. */
int bw_spool_sync(struct bw_spool *s);

void bw_spool_info(const struct bw_spool *s, struct bw_spool_info *info);
const char *bw_spool_dir(const struct bw_spool *s);

/* CRC-32C (Castagnoli) of p[0..n), continuing from crc (start with 0). */
uint32_t bw_crc32c(uint32_t crc, const void *p, size_t n);

#endif /* BW_SPOOL_H */
