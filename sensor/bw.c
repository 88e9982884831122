/* SPDX-License-Identifier: MIT */
/* bw.c: error strings, address text and anomaly names shared by every module. */
#include "bw.h"

#include <string.h>

#include "../parsers/anomaly.h"

const char *bw_strerror(int err)
{
	switch (err) {
	case BW_OK: return "ok";
	case BW_ENOMEM: return "out of memory or memory cap reached";
	case BW_EINVAL: return "invalid argument";
	case BW_EIO: return "input/output error";
	case BW_ENOENT: return "not found";
	case BW_EMALF: return "malformed input";
	case BW_ETRUNC: return "truncated input";
	case BW_EAGAIN: return "more data needed";
	case BW_ENOTSUP: return "not supported";
	case BW_ELIMIT: return "limit reached";
	case BW_EEOF: return "end of input";
	default: return "unknown error";
	}
}

static char *put_dec8(char *o, unsigned v)
{
	if (v >= 100)
		*o++ = (char)('0' + v / 100);
	if (v >= 10)
		*o++ = (char)('0' + v / 10 % 10);
	*o++ = (char)('0' + v % 10);
	return o;
}

/*
 * An address as inet_ntop prints it (glibc), without the library call:
 * IPv4 dotted quad; IPv6 in lower-case hex words, the first longest run of
 * two or more zero words as "::", and the last 32 bits as a dotted quad for
 * the IPv4-compatible (::a.b.c.d, run of 6) and IPv4-mapped (::ffff:a.b.c.d)
 * forms. The DNS AAAA text, every event's addresses and the alerts' go
 * through here: glibc's inet_ntop formats each word with sprintf, about 3 500
 * instructions an IPv6 address, 2 % of a worker's on the bench capture.
 */
size_t bw_ip_text(const struct bw_ip *ip, char *o)
{
	static const char hexd[] = "0123456789abcdef";
	char *p = o;
	if (!ip) {
		*p++ = '-';
		return 1;
	}
	if (ip->family == 4) {
		for (int i = 0; i < 4; i++) {
			if (i)
				*p++ = '.';
			p = put_dec8(p, ip->a[i]);
		}
		return (size_t)(p - o);
	}
	if (ip->family != 6) {
		*p++ = '-';
		return 1;
	}
	unsigned w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)ip->a[2 * i] << 8 | ip->a[2 * i + 1];
	int best = -1, blen = 0;
	for (int i = 0; i < 8;) {
		if (w[i]) {
			i++;
			continue;
		}
		int k = i;
		while (k < 8 && w[k] == 0)
			k++;
		if (k - i > blen) {
			best = i;
			blen = k - i;
		}
		i = k;
	}
	if (blen < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + blen) {
			if (i == best)
				*p++ = ':';
			continue;
		}
		if (i)
			*p++ = ':';
		if (i == 6 && best == 0 && (blen == 6 || (blen == 5 && w[5] == 0xffff))) {
			for (int b = 12; b < 16; b++) {
				if (b > 12)
					*p++ = '.';
				p = put_dec8(p, ip->a[b]);
			}
			return (size_t)(p - o);
		}
		unsigned v = w[i];
		bool lead = false;
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned nib = (v >> sh) & 15;
			if (nib || lead || sh == 0) {
				*p++ = hexd[nib];
				lead = true;
			}
		}
	}
	if (best >= 0 && best + blen == 8)
		*p++ = ':';
	return (size_t)(p - o);
}

char *bw_ip_str(const struct bw_ip *ip, char *out, size_t cap)
{
	char tmp[BW_IP_TEXT_MAX];
	size_t n = bw_ip_text(ip, tmp);
	if (cap) {
		n = BW_MIN(n, cap - 1);
		memcpy(out, tmp, n);
		out[n] = '\0';
	}
	return out;
}

size_t bw_utf8_decode(const uint8_t *p, size_t avail, uint32_t *cpo)
{
	uint8_t c = p[0];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80) {
		if (cpo)
			*cpo = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	if (cpo)
		*cpo = cp;
	return n;
}

static const char *const anomaly_names[BW_AN__COUNT] = {
#define BW_AN_NAME(id, name) [BW_AN_##id] = name,
	BW_ANOMALY_LIST(BW_AN_NAME)
#undef BW_AN_NAME
};

const char *bw_anomaly_name(enum bw_anomaly why)
{
	if ((unsigned)why >= BW_AN__COUNT)
		return "unknown";
	return anomaly_names[why];
}
