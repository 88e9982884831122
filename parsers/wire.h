/* SPDX-License-Identifier: MIT */
/*
 * wire.h: a bounded read cursor over borrowed bytes, with a sticky error.
 *
 * Every parser reads packet bytes through this. A read past the end sets
 * w->err = BW_ETRUNC, returns zero (or NULL) and leaves pos at the end, so a
 * run of reads needs only one check at the end: bw_wire_ok(). Network byte
 * order (big endian) unless a _le suffix says otherwise.
 */
#ifndef BW_WIRE_H
#define BW_WIRE_H

#include <string.h>

#include "../sensor/bw.h"

struct bw_wire {
	const uint8_t *base; /* borrowed; not owned */
	size_t len;
	size_t pos;
	int err; /* BW_OK or the first error */
};

static inline void bw_wire_init(struct bw_wire *w, const uint8_t *p, size_t n)
{
	w->base = p;
	w->len = p ? n : 0;
	w->pos = 0;
	w->err = BW_OK;
}

static inline bool bw_wire_ok(const struct bw_wire *w) { return w->err == BW_OK; }
static inline size_t bw_wire_left(const struct bw_wire *w) { return w->len - w->pos; }
static inline size_t bw_wire_pos(const struct bw_wire *w) { return w->pos; }

/* Mark the cursor failed with err (keeps the first error). */
static inline void bw_wire_fail(struct bw_wire *w, int err)
{
	if (w->err == BW_OK)
		w->err = err;
	w->pos = w->len;
}

static inline bool bw_wire_need(struct bw_wire *w, size_t n)
{
	if (bw_unlikely(w->err != BW_OK || n > w->len - w->pos)) {
		bw_wire_fail(w, BW_ETRUNC);
		return false;
	}
	return true;
}

static inline uint8_t bw_wire_u8(struct bw_wire *w)
{
	if (!bw_wire_need(w, 1))
		return 0;
	return w->base[w->pos++];
}

static inline uint16_t bw_wire_u16(struct bw_wire *w)
{
	if (!bw_wire_need(w, 2))
		return 0;
	const uint8_t *p = w->base + w->pos;
	w->pos += 2;
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t bw_wire_u24(struct bw_wire *w)
{
	if (!bw_wire_need(w, 3))
		return 0;
	const uint8_t *p = w->base + w->pos;
	w->pos += 3;
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static inline uint32_t bw_wire_u32(struct bw_wire *w)
{
	if (!bw_wire_need(w, 4))
		return 0;
	const uint8_t *p = w->base + w->pos;
	w->pos += 4;
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t bw_wire_u64(struct bw_wire *w)
{
	uint64_t hi = bw_wire_u32(w);
	return (hi << 32) | bw_wire_u32(w);
}

static inline uint16_t bw_wire_u16_le(struct bw_wire *w)
{
	if (!bw_wire_need(w, 2))
		return 0;
	const uint8_t *p = w->base + w->pos;
	w->pos += 2;
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t bw_wire_u32_le(struct bw_wire *w)
{
	if (!bw_wire_need(w, 4))
		return 0;
	const uint8_t *p = w->base + w->pos;
	w->pos += 4;
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Borrow the next n bytes and advance; NULL (and err set) if short. */
static inline const uint8_t *bw_wire_ptr(struct bw_wire *w, size_t n)
{
	if (!bw_wire_need(w, n))
		return NULL;
	const uint8_t *p = w->base + w->pos;
	w->pos += n;
	return p;
}

/* Peek at the next n bytes without advancing; NULL if short (no error set). */
static inline const uint8_t *bw_wire_peek(const struct bw_wire *w, size_t n)
{
	if (w->err != BW_OK || n > w->len - w->pos)
		return NULL;
	return w->base + w->pos;
}

static inline void bw_wire_skip(struct bw_wire *w, size_t n) { (void)bw_wire_ptr(w, n); }

static inline void bw_wire_copy(struct bw_wire *w, void *dst, size_t n)
{
	const uint8_t *p = bw_wire_ptr(w, n);
	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

/* Move to absolute offset pos (<= len). */
static inline void bw_wire_seek(struct bw_wire *w, size_t pos)
{
	if (w->err != BW_OK)
		return;
	if (pos > w->len)
		bw_wire_fail(w, BW_ETRUNC);
	else
		w->pos = pos;
}

/*
 * Split off the next n bytes as their own cursor (for a length-prefixed
 * structure) and advance past them. If short, sub is empty and both fail.
 */
static inline void bw_wire_sub(struct bw_wire *w, size_t n, struct bw_wire *sub)
{
	const uint8_t *p = bw_wire_ptr(w, n);
	bw_wire_init(sub, p, p ? n : 0);
	if (!p)
		sub->err = w->err;
}

#endif /* BW_WIRE_H */
