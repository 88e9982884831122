/* SPDX-License-Identifier: MIT */
/*
 * fmt_leef.c: QRadar LEEF 2.0 records from ECS events. LEEF defines no
 * escaping at all, so safety comes from the delimiter choice: TAB, which the
 * escaper never lets through in a value (it becomes U+FFFD like every other
 * control character), so a hostile name cannot start a new attribute. Keys
 * are our own constants. Each "<TAB>key=" is appended whole, so a record cut
 * at the size limit ends inside a value, never inside a key.
 */
#include "fmt_leef.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct leef_attr {
	const char *key;
	const char *path;
	size_t max;
};

/* After the predefined attributes, in this order; absent ones are skipped. */
static const struct leef_attr ATTRS[] = {
	{ "alertId", "event.id", 64 },
	{ "ruleName", "rule.name", 256 },
	{ "reason", "event.reason", 1024 },
	{ "dedupKey", "bindwatch.alert.dedup_key", 1024 },
	{ "policy", "bindwatch.alert.policy", 1024 },
	{ "boundName", "bindwatch.alert.name", 1024 },
	{ "boundAddress", "bindwatch.alert.address", 64 },
	{ "boundPort", "bindwatch.alert.port", 8 },
	{ "repeats", "bindwatch.alert.repeats", 20 },
	{ "sni", "tls.client.server_name", 1024 },
	{ "tlsVersion", "tls.version", 16 },
	{ "certSha256", "tls.server.hash.sha256", 64 },
	{ "certSubject", "tls.server.x509.subject.distinguished_name", 2048 },
	{ "certIssuer", "tls.server.x509.issuer.distinguished_name", 2048 },
	{ "qname", "dns.question.name", 1024 },
	{ "qtype", "dns.question.type", 16 },
	{ "rcode", "dns.response_code", 16 },
	{ "resolvedIp", "dns.resolved_ip", 2048 },
	{ "x509Sha256", "bindwatch.x509.sha256", 64 },
	{ "x509Subject", "x509.subject.distinguished_name", 2048 },
	{ "x509Issuer", "x509.issuer.distinguished_name", 2048 },
	{ "x509NotAfter", "x509.not_after", 32 },
};

unsigned bw_leef_severity(const struct bw_fmt_event *e)
{
	static const unsigned map[5] = { 5, 3, 5, 8, 10 };
	if (e->type == BW_EV_ALERT)
		return map[bw_fmt_alert_severity(e)];
	return 1;
}

static bool put_attr(struct bw_strbuf *b, bool *first, const char *key, const char *v, size_t vn, size_t max)
{
	char k[48];
	int kn = snprintf(k, sizeof(k), "%s%s=", *first ? "" : "\t", key);
	if (kn <= 0 || (size_t)kn >= sizeof(k) || !bw_sb_put(b, k, (size_t)kn))
		return false;
	*first = false;
	bw_sb_escape(b, v, vn, BW_ESC_LEEF, max);
	return !b->full;
}

static void put_path(struct bw_strbuf *b, bool *first, const struct bw_fmt_event *e, const char *key, const char *path,
		     size_t max)
{
	char v[4096];
	size_t n = bw_fmt_field(e, path, v, sizeof(v));
	if (n)
		put_attr(b, first, key, v, n, max);
}

bool bw_fmt_leef(struct bw_strbuf *b, const struct bw_fmt_event *e)
{
	char v[4096];
	size_t n;
	bw_sb_puts(b, "LEEF:2.0|Bindwatch|bindwatch|" BW_VERSION "|");
	if (e->type == BW_EV_ALERT) {
		n = bw_fmt_event_type_name(e, v, sizeof(v));
	} else {
		n = bw_fmt_field(e, "event.dataset", v, sizeof(v));
		if (!n)
			n = bw_fmt_event_type_name(e, v, sizeof(v));
	}
	bw_sb_escape(b, v, n, BW_ESC_LEEF_HDR, 255);
	if (!bw_sb_puts(b, "|x09|"))
		return false;

	bool first = true;
	put_path(b, &first, e, "cat", "event.dataset", 128);
	uint64_t ms = bw_fmt_epoch_ms(e);
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	n = (size_t)snprintf(v, sizeof(v), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
			     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
	put_attr(b, &first, "devTime", v, n, 64);
	put_attr(b, &first, "devTimeFormat", BW_LEEF_DEVTIME_FORMAT, strlen(BW_LEEF_DEVTIME_FORMAT), 64);
	n = (size_t)snprintf(v, sizeof(v), "%u", bw_leef_severity(e));
	put_attr(b, &first, "sev", v, n, 4);
	n = bw_fmt_field(e, "network.transport", v, sizeof(v));
	if (n) {
		for (size_t i = 0; i < n; i++)
			v[i] = (char)(v[i] >= 'a' && v[i] <= 'z' ? v[i] - 32 : v[i]);
		put_attr(b, &first, "proto", v, n, 16);
	}
	put_path(b, &first, e, "src", "source.ip", 64);
	put_path(b, &first, e, "srcPort", "source.port", 8);
	put_path(b, &first, e, "dst", "destination.ip", 64);
	put_path(b, &first, e, "dstPort", "destination.port", 8);
	if (e->hostname && *e->hostname)
		put_attr(b, &first, "sensorHost", e->hostname, strlen(e->hostname), 255);
	for (size_t i = 0; i < BW_ARRAY_SIZE(ATTRS) && !b->full; i++)
		put_path(b, &first, e, ATTRS[i].key, ATTRS[i].path, ATTRS[i].max);
	return !b->full;
}
