/* SPDX-License-Identifier: MIT */
/*
 * bw.h: common types and error codes, included first by every file.
 *
 * Errors are negative ints; BW_OK is 0. Functions return one of these and
 * hand results through out-parameters. Keep this header small: anything a
 * single module needs belongs in that module's header.
 */
#ifndef BW_H
#define BW_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BW_VERSION "0.1.0"

enum bw_err {
	BW_OK = 0,
	BW_ENOMEM = -ENOMEM,   /* allocation failed or a memory cap was hit */
	BW_EINVAL = -EINVAL,   /* bad argument or configuration */
	BW_EIO = -EIO,         /* read or write failed */
	BW_ENOENT = -ENOENT,   /* file or entry not found */
	BW_EMALF = -1000,      /* malformed input (counted, not logged) */
	BW_ETRUNC = -1001,     /* input ends before a structure does */
	BW_EAGAIN = -1002,     /* need more bytes (stream) or fragment held */
	BW_ENOTSUP = -1003,    /* well-formed but not something we handle */
	BW_ELIMIT = -1004,     /* a configured bound was reached */
	BW_EEOF = -1005,       /* end of input */
};

/* Static string for an error code; never NULL. */
const char *bw_strerror(int err);

#define BW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BW_MAX(a, b) ((a) > (b) ? (a) : (b))
#define bw_likely(x) __builtin_expect(!!(x), 1)
#define bw_unlikely(x) __builtin_expect(!!(x), 0)

/* The value of one hex digit, or -1 if c is not one. */
static inline int bw_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A 64-bit finalizer (MurmurHash3's fmix64): spreads a key's bits for bucket
 * selection. Not keyed: only for values an attacker cannot choose freely, or
 * behind a keyed hash (bw_hash) where they can. */
static inline uint64_t bw_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * Are n bytes at a and b equal? For keys compared on a hot path (the binding
 * tables' names): 8 to 64 bytes are compared a word at a time inline, the
 * last 8 bytes again (overlapping) for the tail; other lengths go to memcmp.
 */
static inline bool bw_mem_equal(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	if (n < 8 || n > 64)
		return __builtin_memcmp(p, q, n) == 0;
	uint64_t x, y, d = 0;
	for (size_t i = 0; i + 8 <= n; i += 8) {
		__builtin_memcpy(&x, p + i, 8);
		__builtin_memcpy(&y, q + i, 8);
		d |= x ^ y;
	}
	__builtin_memcpy(&x, p + n - 8, 8);
	__builtin_memcpy(&y, q + n - 8, 8);
	return (d | (x ^ y)) == 0;
}

/* Packet time: nanoseconds since the Unix epoch, from the capture. */
typedef uint64_t bw_time_t;
#define BW_NSEC_PER_SEC 1000000000ULL
#define BW_NSEC_PER_MSEC 1000000ULL

/*
 * An IP address. IPv4 is kept in the first 4 bytes of a[] with the rest
 * zero, so two addresses compare with memcmp over the whole struct.
 */
struct bw_ip {
	uint8_t family; /* 4 or 6; 0 = none */
	uint8_t a[16];
};

/*
 * Length (1..4) of the valid UTF-8 sequence at p (avail bytes there), with
 * its code point in *cp (may be NULL); 0 if the bytes are not valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF included).
 */
size_t bw_utf8_decode(const uint8_t *p, size_t avail, uint32_t *cp);

/* Bytes bw_ip_text may write: an IPv6 address with a dotted quad, 45 characters. */
#define BW_IP_TEXT_MAX 46
/*
 * The textual form of ip as glibc's inet_ntop writes it ("-" for NULL or a
 * family other than 4 and 6) into o (BW_IP_TEXT_MAX bytes, not terminated).
 * Returns its length.
 */
size_t bw_ip_text(const struct bw_ip *ip, char *o);
/* bw_ip_text into out, cut to cap - 1 bytes and terminated. Returns out. */
char *bw_ip_str(const struct bw_ip *ip, char *out, size_t cap);

#endif /* BW_H */
