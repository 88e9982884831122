/* SPDX-License-Identifier: MIT */
/*
 * sinkurl.c: the syslog sink spec parser. Specs come from the command line
 * and the config file, so the parser is strict: an unknown option or a bad
 * value is an error naming it (a typo in "spool_max" must not silently fall
 * back to a default and lose alerts later). Everything lands in fixed-size
 * fields with explicit bounds; nothing is allocated.
 */
#include "sinkurl.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool bw_sinkurl_is_syslog(const char *spec) { return spec && strncmp(spec, "syslog+", 7) == 0; }

/* Percent-decode s[0..n) into out (cap, NUL-terminated). false on a bad escape, NUL or overflow. */
static bool pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return false;
			int h = bw_hexval(s[i + 1]), l = bw_hexval(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return false;
			c = (char)(h << 4 | l);
			i += 2;
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return false;
	uint64_t mul = 1;
	if (*end == 'K' || *end == 'k')
		mul = 1ULL << 10;
	else if (*end == 'M' || *end == 'm')
		mul = 1ULL << 20;
	else if (*end == 'G' || *end == 'g')
		mul = 1ULL << 30;
	if (mul != 1)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > UINT64_MAX / mul)
		return false;
	*out = v * mul;
	return true;
}

static bool parse_seconds_ms(const char *s, uint32_t *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 86400.0)
		return false;
	*ms = (uint32_t)(v * 1000.0 + 0.5);
	return true;
}

static bool parse_events(const char *s, unsigned *mask)
{
	char buf[256];
	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	unsigned m = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "alerts") == 0 || strcmp(t, "alert") == 0)
			m |= BW_EV_ALERT;
		else if (strcmp(t, "dns") == 0)
			m |= BW_EV_DNS;
		else if (strcmp(t, "tls") == 0)
			m |= BW_EV_TLS;
		else if (strcmp(t, "x509") == 0)
			m |= BW_EV_X509;
		else if (strcmp(t, "stats") == 0)
			m |= BW_EV_STATS;
		else if (strcmp(t, "all") == 0)
			m |= BW_EV_ALL;
		else
			return false;
	}
	if (!m)
		return false;
	*mask = m;
	return true;
}

static bool set_str(char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return false;
	strcpy(dst, v);
	return true;
}

static int option(struct bw_sinkurl *u, const char *k, const char *v, char *err, size_t errcap)
{
	uint64_t n;
	uint32_t ms;
	bool ok = true;
	if (strcmp(k, "format") == 0) {
		if (strcmp(v, "json") == 0)
			u->format = BW_PAYLOAD_JSON;
		else if (strcmp(v, "cef") == 0)
			u->format = BW_PAYLOAD_CEF;
		else if (strcmp(v, "leef") == 0)
			u->format = BW_PAYLOAD_LEEF;
		else
			ok = false;
	} else if (strcmp(k, "events") == 0) {
		ok = parse_events(v, &u->events);
	} else if (strcmp(k, "syslog") == 0 || strcmp(k, "rfc") == 0) {
		if (strcmp(v, "5424") == 0 || strcmp(v, "rfc5424") == 0)
			u->layout = BW_SYSLOG_RFC5424;
		else if (strcmp(v, "3164") == 0 || strcmp(v, "rfc3164") == 0 || strcmp(v, "bsd") == 0)
			u->layout = BW_SYSLOG_RFC3164;
		else
			ok = false;
	} else if (strcmp(k, "framing") == 0) {
		if (strcmp(v, "octet-counting") == 0 || strcmp(v, "octet") == 0)
			u->framing = BW_FRAME_OCTET;
		else if (strcmp(v, "newline") == 0 || strcmp(v, "lf") == 0 || strcmp(v, "non-transparent") == 0)
			u->framing = BW_FRAME_NEWLINE;
		else
			ok = false;
	} else if (strcmp(k, "facility") == 0) {
		u->facility = bw_syslog_facility_parse(v);
		ok = u->facility >= 0;
	} else if (strcmp(k, "hostname") == 0) {
		ok = *v && set_str(u->hostname, sizeof(u->hostname), v);
	} else if (strcmp(k, "app") == 0) {
		ok = *v && set_str(u->app, sizeof(u->app), v);
	} else if (strcmp(k, "sd_id") == 0) {
		ok = *v && set_str(u->sd_id, sizeof(u->sd_id), v) && !strpbrk(v, " =]\"");
	} else if (strcmp(k, "max_size") == 0) {
		ok = parse_size(v, &n) && n >= BW_SYSLOG_MIN_SIZE && n <= (1u << 20);
		u->max_size = (size_t)n;
	} else if (strcmp(k, "bom") == 0) {
		ok = strcmp(v, "0") == 0 || strcmp(v, "1") == 0;
		u->bom = strcmp(v, "1") == 0;
	} else if (strcmp(k, "ca") == 0) {
		ok = *v && set_str(u->ca, sizeof(u->ca), v);
	} else if (strcmp(k, "cert") == 0) {
		ok = *v && set_str(u->cert, sizeof(u->cert), v);
	} else if (strcmp(k, "key") == 0) {
		ok = *v && set_str(u->key, sizeof(u->key), v);
	} else if (strcmp(k, "servername") == 0) {
		ok = *v && set_str(u->servername, sizeof(u->servername), v);
	} else if (strcmp(k, "spool") == 0) {
		ok = *v && set_str(u->spool, sizeof(u->spool), v);
	} else if (strcmp(k, "spool_max") == 0) {
		ok = parse_size(v, &n) && n >= (64u << 10);
		u->spool_max = n;
	} else if (strcmp(k, "queue") == 0) {
		ok = parse_size(v, &n) && n >= 1 && n <= (1u << 24);
		u->queue = (uint32_t)n;
	} else if (strcmp(k, "drain") == 0) {
		ok = parse_seconds_ms(v, &u->drain_ms);
	} else if (strcmp(k, "resend") == 0) {
		ok = parse_seconds_ms(v, &u->resend_ms);
	} else if (strcmp(k, "backoff_max") == 0) {
		ok = parse_seconds_ms(v, &ms) && ms >= 100;
		u->backoff_max_ms = ms;
	} else {
		snprintf(err, errcap, "unknown option '%.31s'", k);
		return BW_EINVAL;
	}
	if (!ok) {
		snprintf(err, errcap, "bad value '%.100s' for option %.31s", v, k);
		return BW_EINVAL;
	}
	return BW_OK;
}

static int parse_query(struct bw_sinkurl *u, const char *q, char *err, size_t errcap)
{
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		if (len == 0) {
			q += amp ? 1 : 0;
			if (!amp)
				break;
			continue;
		}
		char k[32], v[BW_SINKURL_PATH];
		if (!eq) {
			snprintf(err, errcap, "option '%.*s' needs a value (key=value)", (int)BW_MIN(len, 64), q);
			return BW_EINVAL;
		}
		size_t kn = (size_t)(eq - q);
		if (kn == 0 || kn >= sizeof(k) || !pct_decode(q, kn, k, sizeof(k)) ||
		    !pct_decode(eq + 1, len - kn - 1, v, sizeof(v))) {
			snprintf(err, errcap, "bad option '%.*s'", (int)BW_MIN(len, 64), q);
			return BW_EINVAL;
		}
		int rc = option(u, k, v, err, errcap);
		if (rc != BW_OK)
			return rc;
		if (!amp)
			break;
		q = amp + 1;
	}
	return BW_OK;
}

int bw_sinkurl_parse(const char *spec, struct bw_sinkurl *u, char *err, size_t errcap)
{
	char e2[256];
	memset(u, 0, sizeof(*u));
	u->format = BW_PAYLOAD_JSON;
	u->events = BW_EV_ALERT;
	u->layout = BW_SYSLOG_RFC5424;
	u->facility = -1;
	u->bom = true;
	u->spool_max = 256ULL << 20;
	u->queue = 10000;
	u->drain_ms = 10000;
	u->resend_ms = 5000;
	u->backoff_max_ms = 30000;
	static const struct {
		const char *scheme;
		enum bw_transport t;
		uint16_t port;
	} schemes[] = {
		{ "syslog+udp://", BW_TR_UDP, 514 },
		{ "syslog+tcp://", BW_TR_TCP, 514 },
		{ "syslog+tls://", BW_TR_TLS, 6514 },
		{ "syslog+unix://", BW_TR_UNIX, 0 },
	};
	const char *p = NULL;
	for (size_t i = 0; i < BW_ARRAY_SIZE(schemes); i++)
		if (strncmp(spec, schemes[i].scheme, strlen(schemes[i].scheme)) == 0) {
			u->transport = schemes[i].t;
			u->port = schemes[i].port;
			p = spec + strlen(schemes[i].scheme);
		}
	if (!p) {
		snprintf(err, errcap,
			 "unknown output '%s' (expected jsonl:PATH, syslog+udp://, syslog+tcp://, syslog+tls:// or "
			 "syslog+unix://)",
			 spec);
		return BW_EINVAL;
	}
	const char *q = strchr(p, '?');
	size_t alen = q ? (size_t)(q - p) : strlen(p);
	if (u->transport == BW_TR_UNIX) {
		if (alen == 0 || p[0] != '/' || !pct_decode(p, alen, u->path, sizeof(u->path))) {
			snprintf(err, errcap, "%s: expected syslog+unix:///ABSOLUTE/PATH (at most %zu bytes)", spec,
				 sizeof(u->path) - 1);
			return BW_EINVAL;
		}
	} else {
		const char *hs = p, *he, *rest;
		if (alen && *p == '[') {
			const char *rb = memchr(p, ']', alen);
			if (!rb)
				goto bad_host;
			hs = p + 1;
			he = rb;
			rest = rb + 1;
		} else {
			const char *colon = memchr(p, ':', alen);
			he = colon ? colon : p + alen;
			rest = he;
		}
		size_t hn = (size_t)(he - hs);
		if (hn == 0 || hn >= sizeof(u->host) || memchr(hs, '/', hn) || memchr(hs, '@', hn))
			goto bad_host;
		memcpy(u->host, hs, hn);
		u->host[hn] = '\0';
		if (rest < p + alen) {
			if (*rest != ':' || rest + 1 >= p + alen)
				goto bad_host;
			unsigned long port = 0;
			for (const char *c = rest + 1; c < p + alen; c++) {
				if (*c < '0' || *c > '9' || port > 65535)
					goto bad_host;
				port = port * 10 + (unsigned long)(*c - '0');
			}
			if (port == 0 || port > 65535)
				goto bad_host;
			u->port = (uint16_t)port;
		}
	}
	if (q) {
		int rc = parse_query(u, q + 1, e2, sizeof(e2));
		if (rc != BW_OK) {
			char disp[256];
			bw_sinkurl_display(spec, disp, sizeof(disp));
			snprintf(err, errcap, "%s: %s", disp, e2);
			return rc;
		}
	}
	if (u->transport != BW_TR_TLS && (u->ca[0] || u->cert[0] || u->key[0] || u->servername[0])) {
		snprintf(err, errcap, "%.200s: ca=, cert=, key= and servername= are for syslog+tls:// only", spec);
		return BW_EINVAL;
	}
	if (!!u->cert[0] != !!u->key[0]) {
		snprintf(err, errcap, "%.200s: a client certificate needs both cert= and key=", spec);
		return BW_EINVAL;
	}
	if (u->transport == BW_TR_TLS && u->framing == BW_FRAME_NEWLINE) {
		snprintf(err, errcap, "%.200s: RFC 5425 allows only octet-counting framing over TLS", spec);
		return BW_EINVAL;
	}
	if (u->transport == BW_TR_UDP && u->framing != BW_FRAME_DEFAULT) {
		snprintf(err, errcap, "%.200s: UDP carries one message per datagram; framing= does not apply", spec);
		return BW_EINVAL;
	}
	if (u->max_size == 0) {
		if (u->transport == BW_TR_UDP)
			u->max_size = strchr(u->host, ':') ? 1452 : 1472;
		else
			u->max_size = 65536;
	}
	return BW_OK;
bad_host: {
	char disp[256];
	bw_sinkurl_display(spec, disp, sizeof(disp));
	snprintf(err, errcap, "%s: expected HOST, HOST:PORT or [IPV6]:PORT after '//'", disp);
	return BW_EINVAL;
}
}

int bw_sinkurl_default_spool(const struct bw_sinkurl *u, char *out, size_t cap)
{
	static const char *const tr[] = { "", "udp", "tcp", "tls", "unix" };
	char id[512];
	int n = snprintf(id, sizeof(id), "%s://%s:%u%s", tr[u->transport], u->host, u->port, u->path);
	if (n < 0 || (size_t)n >= sizeof(id))
		return BW_EINVAL;
	unsigned char md[32];
	unsigned mdlen = 0;
	if (!EVP_Digest(id, (size_t)n, md, &mdlen, EVP_sha256(), NULL))
		return BW_ENOMEM;
	char hex[17];
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	const char *base;
	char tmp[BW_SINKURL_PATH];
	if (geteuid() == 0) {
		base = "/var/spool/bindwatch";
	} else if (getenv("XDG_STATE_HOME") && getenv("XDG_STATE_HOME")[0] == '/') {
		snprintf(tmp, sizeof(tmp), "%s/bindwatch", getenv("XDG_STATE_HOME"));
		base = tmp;
	} else if (getenv("HOME") && getenv("HOME")[0] == '/') {
		snprintf(tmp, sizeof(tmp), "%s/.local/state/bindwatch", getenv("HOME"));
		base = tmp;
	} else {
		return BW_ENOENT;
	}
	n = snprintf(out, cap, "%s/%s-%s", base, tr[u->transport], hex);
	return n > 0 && (size_t)n < cap ? BW_OK : BW_EINVAL;
}

void bw_sinkurl_display(const char *spec, char *out, size_t cap)
{
	if (!cap)
		return;
	const char *q = strchr(spec, '?');
	size_t n = q ? (size_t)(q - spec) : strlen(spec);
	snprintf(out, cap, "%.*s", (int)BW_MIN(n, cap - 1), spec);
}
