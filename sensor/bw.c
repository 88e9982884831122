/* SPDX-License-Identifier: MIT */
/* bw.c: error strings, address text and anomaly names shared by every module. */
#include "bw.h"

#include <arpa/inet.h>
#include <stdio.h>

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

char *bw_ip_str(const struct bw_ip *ip, char *out, size_t cap)
{
	if (!ip || (ip->family != 4 && ip->family != 6)) {
		snprintf(out, cap, "-");
		return out;
	}
	if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->a, out, (socklen_t)cap))
		snprintf(out, cap, "-");
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
