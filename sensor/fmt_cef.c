/* SPDX-License-Identifier: MIT */
/*
 * fmt_cef.c: ArcSight CEF:0 records from ECS events. Field choice follows the
 * CEF implementation standard (standard keys first, then labelled custom
 * strings, every csN paired with its csNLabel) and is table-driven per event
 * type so a new event type is a new table, not new code. Values come off the
 * wire, so every one goes through the CEF escaper and is capped at the
 * standard's documented length; each " key=" is appended whole so a record
 * cut at the message size limit never ends inside a key.
 */
#include "fmt_cef.h"

#include <string.h>

#include "jsonread.h"

struct cef_custom {
	const char *key;   /* cs1..cs6, cn1..cn3 */
	const char *label; /* its csNLabel value */
	const char *path;  /* ECS path */
};

static const struct cef_custom CUSTOM_ALERT[] = {
	{ "cs1", "dedupKey", "bindwatch.alert.dedup_key" },
	{ "cs2", "policy", "bindwatch.alert.policy" },
	{ "cs3", "certSha256", "tls.server.hash.sha256" },
	{ "cs4", "sni", "tls.client.server_name" },
	{ "cs5", "dnsQuestion", "dns.question.name" },
	{ "cs6", "boundAddress", "bindwatch.alert.address" },
	{ "cn1", "repeats", "bindwatch.alert.repeats" },
	{ "cn2", "boundPort", "bindwatch.alert.port" },
};

static const struct cef_custom CUSTOM_DNS[] = {
	{ "cs1", "dnsQuestion", "dns.question.name" },
	{ "cs2", "dnsQuestionType", "dns.question.type" },
	{ "cs3", "dnsResponseCode", "dns.response_code" },
	{ "cs4", "dnsResolvedIp", "dns.resolved_ip" },
	{ "cs5", "dnsType", "dns.type" },
	{ "cs6", "dnsId", "dns.id" },
};

static const struct cef_custom CUSTOM_TLS[] = {
	{ "cs1", "sni", "tls.client.server_name" },
	{ "cs2", "tlsVersion", "tls.version" },
	{ "cs3", "certSha256", "tls.server.hash.sha256" },
	{ "cs4", "certSubject", "tls.server.x509.subject.distinguished_name" },
	{ "cs5", "certIssuer", "tls.server.x509.issuer.distinguished_name" },
	{ "cs6", "ja4", "tls.client.ja4" },
};

static const struct cef_custom CUSTOM_X509[] = {
	{ "cs2", "certSerial", "x509.serial_number" },
	{ "cs3", "certSha256", "bindwatch.x509.sha256" },
	{ "cs4", "certSubject", "x509.subject.distinguished_name" },
	{ "cs5", "certIssuer", "x509.issuer.distinguished_name" },
	{ "cs6", "certNotAfter", "x509.not_after" },
};

static const struct cef_custom CUSTOM_STATS[] = {
	{ "cn1", "packets", "bindwatch.stats.input.packets" },
	{ "cn2", "events", "bindwatch.stats.run.events" },
	{ "cn3", "eventsDropped", "bindwatch.stats.run.events_dropped" },
};

#define CEF_STR_MAX 1023
#define CEF_CS_MAX 4000
#define VAL_BUF 4096

unsigned bw_cef_severity(const struct bw_fmt_event *e)
{
	static const unsigned map[5] = { 5, 3, 5, 8, 10 };
	if (e->type == BW_EV_ALERT)
		return map[bw_fmt_alert_severity(e)];
	return e->type == BW_EV_STATS ? 0 : 1;
}

/* " key=" (or "key=" for the first pair) as one unit, then the escaped value. */
static bool put_kv(struct bw_strbuf *b, bool *first, const char *key, const char *v, size_t vn, size_t max)
{
	char k[48];
	int kn = snprintf(k, sizeof(k), "%s%s=", *first ? "" : " ", key);
	if (kn <= 0 || (size_t)kn >= sizeof(k) || !bw_sb_put(b, k, (size_t)kn))
		return false;
	*first = false;
	bw_sb_escape(b, v, vn, BW_ESC_CEF_EXT, max);
	return !b->full;
}

static bool put_path(struct bw_strbuf *b, bool *first, const struct bw_fmt_event *e, const char *key, const char *path,
		     size_t max)
{
	char v[VAL_BUF];
	size_t n = bw_fmt_field(e, path, v, sizeof(v));
	if (!n)
		return !b->full;
	return put_kv(b, first, key, v, n, max);
}

static bool is_integer(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool is_ipv6(const char *s) { return strchr(s, ':') != NULL; }

static bool put_addr(struct bw_strbuf *b, bool *first, const struct bw_fmt_event *e, const char *path, bool dst)
{
	char v[128];
	size_t n = bw_fmt_field(e, path, v, sizeof(v));
	if (!n)
		return !b->full;
	if (!is_ipv6(v))
		return put_kv(b, first, dst ? "dst" : "src", v, n, 64);
	const char *key = dst ? "c6a3" : "c6a2";
	char lk[16];
	snprintf(lk, sizeof(lk), "%sLabel", key);
	const char *label = dst ? "Destination IPv6 Address" : "Source IPv6 Address";
	put_kv(b, first, lk, label, strlen(label), 64);
	return put_kv(b, first, key, v, n, 64);
}

static void custom_table(const struct bw_fmt_event *e, const struct cef_custom **t, size_t *n)
{
	switch (e->type) {
	case BW_EV_ALERT: *t = CUSTOM_ALERT; *n = BW_ARRAY_SIZE(CUSTOM_ALERT); break;
	case BW_EV_DNS: *t = CUSTOM_DNS; *n = BW_ARRAY_SIZE(CUSTOM_DNS); break;
	case BW_EV_TLS: *t = CUSTOM_TLS; *n = BW_ARRAY_SIZE(CUSTOM_TLS); break;
	case BW_EV_X509: *t = CUSTOM_X509; *n = BW_ARRAY_SIZE(CUSTOM_X509); break;
	case BW_EV_STATS: *t = CUSTOM_STATS; *n = BW_ARRAY_SIZE(CUSTOM_STATS); break;
	default: *t = NULL; *n = 0; break;
	}
}

static const char *type_title(enum bw_event_type t)
{
	switch (t) {
	case BW_EV_DNS: return "DNS message";
	case BW_EV_TLS: return "TLS handshake";
	case BW_EV_X509: return "X.509 certificate";
	case BW_EV_STATS: return "bindwatch statistics";
	default: return "bindwatch alert";
	}
}

bool bw_fmt_cef(struct bw_strbuf *b, const struct bw_fmt_event *e)
{
	char v[VAL_BUF], cls[256];
	size_t n;

	/* header */
	bw_sb_puts(b, "CEF:0|" BW_CEF_VENDOR "|" BW_CEF_PRODUCT "|" BW_VERSION "|");
	if (e->type == BW_EV_ALERT) {
		n = bw_fmt_event_type_name(e, cls, sizeof(cls));
	} else {
		n = bw_fmt_field(e, "event.dataset", cls, sizeof(cls));
		if (!n)
			n = bw_fmt_event_type_name(e, cls, sizeof(cls));
	}
	bw_sb_escape(b, cls, n, BW_ESC_CEF_HDR, CEF_STR_MAX);
	bw_sb_putc(b, '|');
	n = 0;
	if (e->type == BW_EV_ALERT) {
		n = bw_fmt_field(e, "rule.description", v, sizeof(v));
		if (!n)
			n = bw_fmt_field(e, "rule.name", v, sizeof(v));
	}
	if (!n)
		n = (size_t)snprintf(v, sizeof(v), "%s", type_title(e->type));
	bw_sb_escape(b, v, n, BW_ESC_CEF_HDR, 512);
	if (!bw_sb_printf(b, "|%u|", bw_cef_severity(e)))
		return false;

	/* extension: standard keys */
	bool first = true;
	n = (size_t)snprintf(v, sizeof(v), "%llu", (unsigned long long)bw_fmt_epoch_ms(e));
	put_kv(b, &first, "rt", v, n, 32);
	put_path(b, &first, e, "externalId", "event.id", 40);
	put_path(b, &first, e, "cat", "event.dataset", CEF_STR_MAX);
	if (e->type == BW_EV_ALERT) {
		put_kv(b, &first, "act", "alert", 5, 63);
		put_path(b, &first, e, "msg", "event.reason", CEF_STR_MAX);
	}
	if (e->hostname && *e->hostname)
		put_kv(b, &first, "dvchost", e->hostname, strlen(e->hostname), 100);
	n = bw_fmt_field(e, "network.transport", v, sizeof(v));
	if (n) {
		for (size_t i = 0; i < n; i++)
			v[i] = (char)(v[i] >= 'a' && v[i] <= 'z' ? v[i] - 32 : v[i]);
		put_kv(b, &first, "proto", v, n, 31);
	}
	char sni[VAL_BUF];
	size_t sni_n = bw_fmt_field(e, "tls.client.server_name", sni, sizeof(sni));
	bool tls = e->type == BW_EV_TLS || e->type == BW_EV_X509 || sni_n ||
		   bw_fmt_field(e, "tls.server.hash.sha256", v, sizeof(v));
	bool dns = e->type == BW_EV_DNS || bw_fmt_field(e, "dns.question.name", v, sizeof(v));
	if (e->type != BW_EV_STATS && (tls || dns))
		put_kv(b, &first, "app", tls ? "TLS" : "DNS", 3, 31);
	put_addr(b, &first, e, "source.ip", false);
	put_path(b, &first, e, "spt", "source.port", 8);
	put_addr(b, &first, e, "destination.ip", true);
	put_path(b, &first, e, "dpt", "destination.port", 8);
	if (sni_n) {
		put_kv(b, &first, "dhost", sni, sni_n, CEF_STR_MAX);
		/* a URL, so consumers that pivot on request see the host asked for */
		char url[VAL_BUF + 16];
		int un = snprintf(url, sizeof(url), "https://%s/", sni);
		if (un > 0 && (size_t)un < sizeof(url))
			put_kv(b, &first, "request", url, (size_t)un, CEF_STR_MAX);
	} else if (!put_path(b, &first, e, "dhost", "dns.question.name", CEF_STR_MAX)) {
		return false;
	} else if (!bw_fmt_field(e, "dns.question.name", v, sizeof(v))) {
		put_path(b, &first, e, "dhost", "bindwatch.alert.name", CEF_STR_MAX);
	}

	/* labelled custom fields */
	const struct cef_custom *t;
	size_t nt;
	custom_table(e, &t, &nt);
	for (size_t i = 0; i < nt && !b->full; i++) {
		n = bw_fmt_field(e, t[i].path, v, sizeof(v));
		if (!n || (t[i].key[1] == 'n' && !is_integer(v)))
			continue;
		char lk[24];
		snprintf(lk, sizeof(lk), "%sLabel", t[i].key);
		put_kv(b, &first, lk, t[i].label, strlen(t[i].label), CEF_STR_MAX);
		put_kv(b, &first, t[i].key, v, n, t[i].key[1] == 's' ? CEF_CS_MAX : 32);
	}
	return !b->full;
}
