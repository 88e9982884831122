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
