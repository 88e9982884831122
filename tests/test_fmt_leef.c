/* SPDX-License-Identifier: MIT */
/*
 * test_fmt_leef.c: LEEF 2.0 records against ones written by hand from the
 * QRadar LEEF guide, and hostile names parsed back attribute by attribute
 * (header split on '|', attributes on the declared delimiter, each pair at
 * its first '=').
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sensor/fmt_leef.h"

#define TS 1741944413123456000ULL

static const char ALERT[] =
	"{\"@timestamp\":\"2025-03-14T09:26:53.123456Z\",\"event\":{\"kind\":\"alert\",\"dataset\":\"bindwatch.alert\","
	"\"severity\":4,\"reason\":\"www.example.com resolves outside the owned ranges\",\"id\":\"9c01\"},"
	"\"rule\":{\"name\":\"dns_unexpected_address\"},\"source\":{\"ip\":\"198.51.100.53\",\"port\":53},"
	"\"destination\":{\"ip\":\"198.51.100.23\",\"port\":40112},\"network\":{\"transport\":\"udp\"},"
	"\"dns\":{\"question\":{\"name\":\"www.example.com\",\"type\":\"A\"},\"response_code\":\"NOERROR\","
	"\"resolved_ip\":[\"203.0.113.9\"]},\"bindwatch\":{\"alert\":{\"dedup_key\":\"k1\",\"repeats\":2,"
	"\"name\":\"www.example.com\",\"address\":\"203.0.113.9\",\"port\":0,\"policy\":\"owned.ranges\"}}}";

static size_t fmt(const char *json, enum bw_event_type type, char *mem, size_t cap)
{
	struct bw_fmt_event e = { .type = type, .ts = TS, .json = json, .json_len = strlen(json),
				  .hostname = "bindwatch01.example.net" };
	struct bw_strbuf b;
	bw_sb_init(&b, mem, cap - 1);
	assert_true(bw_fmt_leef(&b, &e));
	mem[b.len] = '\0';
	return b.len;
}

#define MAXA 64
struct leef {
	char hdr[6][300];
	int n;
	char key[MAXA][40];
	char val[MAXA][2100];
};

static void parse_leef(const char *m, struct leef *l)
{
	memset(l, 0, sizeof(*l));
	const char *p = m;
	for (int f = 0; f < 6; f++) {
		const char *bar = strchr(p, '|');
		assert_non_null(bar);
		memcpy(l->hdr[f], p, (size_t)(bar - p));
		p = bar + 1;
	}
	assert_string_equal(l->hdr[0], "LEEF:2.0");
	assert_string_equal(l->hdr[5], "x09"); /* TAB */
	while (*p) {
		const char *tab = strchr(p, '\t');
		size_t len = tab ? (size_t)(tab - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		assert_non_null(eq);
		assert_true(l->n < MAXA);
		memcpy(l->key[l->n], p, (size_t)(eq - p));
		memcpy(l->val[l->n], eq + 1, len - (size_t)(eq - p) - 1);
		l->n++;
		p += len + (tab ? 1 : 0);
	}
}

static const char *get(const struct leef *l, const char *k)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->key[i], k) == 0)
			return l->val[i];
	return NULL;
}

static void test_alert_by_hand(void **state)
{
	(void)state;
	char m[8192];
	fmt(ALERT, BW_EV_ALERT, m, sizeof(m));
	static const char want[] =
		"LEEF:2.0|Bindwatch|bindwatch|" BW_VERSION "|dns_unexpected_address|x09|"
		"cat=bindwatch.alert\tdevTime=2025-03-14T09:26:53.123Z\tdevTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSX\tsev=10\t"
		"proto=UDP\tsrc=198.51.100.53\tsrcPort=53\tdst=198.51.100.23\tdstPort=40112\t"
		"sensorHost=bindwatch01.example.net\talertId=9c01\truleName=dns_unexpected_address\t"
		"reason=www.example.com resolves outside the owned ranges\tdedupKey=k1\tpolicy=owned.ranges\t"
		"boundName=www.example.com\tboundAddress=203.0.113.9\tboundPort=0\trepeats=2\tqname=www.example.com\t"
		"qtype=A\trcode=NOERROR\tresolvedIp=203.0.113.9";
	assert_string_equal(m, want);
	struct leef l;
	parse_leef(m, &l);
	assert_string_equal(l.hdr[1], "Bindwatch");
	assert_string_equal(l.hdr[4], "dns_unexpected_address");
	assert_string_equal(get(&l, "sev"), "10");
	assert_string_equal(get(&l, "src"), "198.51.100.53");
}

static void test_severity(void **state)
{
	(void)state;
	char j[128];
	const unsigned want[] = { 5, 3, 5, 8, 10 };
	for (int s = 0; s <= 4; s++) {
		snprintf(j, sizeof(j), s ? "{\"event\":{\"severity\":%d}}" : "{\"event\":{}}", s);
		struct bw_fmt_event e = { .type = BW_EV_ALERT, .json = j, .json_len = strlen(j) };
		assert_int_equal(bw_leef_severity(&e), want[s]);
	}
	struct bw_fmt_event d = { .type = BW_EV_TLS, .json = "{}", .json_len = 2 };
	assert_int_equal(bw_leef_severity(&d), 1);
}

static void test_hostile_names(void **state)
{
	(void)state;
	/* JSON-escaped names that try to add an attribute, a header field or a line */
	static const struct {
		const char *json; /* as it appears inside the JSON string */
		const char *back; /* what the attribute value must read back as */
	} evil[] = {
		{ "a\\tsev=1\\tsrc=6.6.6.6", "a\xEF\xBF\xBDsev=1\xEF\xBF\xBDsrc=6.6.6.6" },
		{ "b|LEEF:2.0|Evil|x|1|2|^|", "b|LEEF:2.0|Evil|x|1|2|^|" },
		{ "c\\n<13>Mar 14 09:26:53 evil LEEF:2.0|E|e|1|1|", "c\xEF\xBF\xBD<13>Mar 14 09:26:53 evil LEEF:2.0|E|e|1|1|" },
		{ "d=e=f\\\\", "d=e=f\\" },
		{ "g\\u0000h\\r\\u001b[31m", "g\xEF\xBF\xBDh\xEF\xBF\xBD\xEF\xBF\xBD[31m" },
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(evil); i++) {
		char j[1024], m[8192];
		snprintf(j, sizeof(j),
			 "{\"event\":{\"severity\":1,\"dataset\":\"bindwatch.alert\"},\"rule\":{\"name\":\"%s\"},"
			 "\"tls\":{\"client\":{\"server_name\":\"%s\"}}}",
			 evil[i].json, evil[i].json);
		size_t n = fmt(j, BW_EV_ALERT, m, sizeof(m));
		assert_null(memchr(m, '\n', n));
		assert_null(memchr(m, '\r', n));
		struct leef l;
		parse_leef(m, &l);
		static const char *const keys[] = { "cat", "devTime", "devTimeFormat", "sev", "sensorHost", "ruleName", "sni" };
		assert_int_equal(l.n, (int)BW_ARRAY_SIZE(keys));
		for (size_t k = 0; k < BW_ARRAY_SIZE(keys); k++)
			assert_string_equal(l.key[k], keys[k]);
		assert_string_equal(get(&l, "sni"), evil[i].back);
		assert_string_equal(get(&l, "sev"), "3");
		/* the EventID header field cannot hold '|' (no escape exists) */
		assert_null(strchr(l.hdr[4], '|'));
		assert_null(strchr(l.hdr[4], '\t'));
	}
}

static void test_cut(void **state)
{
	(void)state;
	char m[4096];
	for (size_t cap = 40; cap < 700; cap++) {
		struct bw_fmt_event e = { .type = BW_EV_ALERT, .ts = TS, .json = ALERT, .json_len = strlen(ALERT) };
		struct bw_strbuf b;
		bw_sb_init(&b, m, cap);
		if (bw_fmt_leef(&b, &e))
			continue;
		m[b.len] = '\0';
		/* never ends right after a delimiter or inside a key: the last attribute has its '=' */
		char *last = strrchr(m, '\t');
		if (last)
			assert_non_null(strchr(last, '='));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alert_by_hand),
		cmocka_unit_test(test_severity),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
