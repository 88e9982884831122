/* SPDX-License-Identifier: MIT */
/* test_alerts.c: suppression per dedup key, the per-type token bucket and its held-back summaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sensor/alerts.h"

#define S BW_NSEC_PER_SEC
#define MS BW_NSEC_PER_MSEC

struct seen {
	struct bw_json *j;
	unsigned alerts, summaries, repeat_updates;
	unsigned long long held_total;
	bw_time_t last_summary_ts;
};

static void on_emit(void *ctx, enum bw_event_type t, bw_time_t ts)
{
	struct seen *s = ctx;
	assert_int_equal(t, BW_EV_ALERT);
	const char *buf = s->j->buf;
	if (strstr(buf, "\"rate-limit-summary\"")) {
		s->summaries++;
		s->last_summary_ts = ts;
		const char *c = strstr(buf, "\"held_back\":{\"count\":");
		assert_non_null(c);
		s->held_total += strtoull(c + strlen("\"held_back\":{\"count\":"), NULL, 10);
		assert_non_null(strstr(buf, "\"first\":"));
		assert_non_null(strstr(buf, "\"last\":"));
	} else if (strstr(buf, "\"repeat-summary\"")) {
		s->repeat_updates++;
	} else {
		s->alerts++;
	}
}

static bool raise_one(struct bw_alerts *al, struct seen *s, enum bw_alert_type type, const char *name, bw_time_t ts)
{
	struct bw_alert a;
	memset(&a, 0, sizeof(a));
	a.type = type;
	a.name = name;
	snprintf(a.reason, sizeof(a.reason), "test");
	struct bw_evidence *e = bw_alert_evidence(&a, "dns");
	e->ts = ts;
	return bw_alerts_raise(al, &a, s->j, on_emit, s);
}

static void test_suppression(void **state)
{
	(void)state;
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 1u << 20), BW_OK);
	struct bw_alerts_config c = { .suppress = 3600 * S, .max_per_type_per_min = 1000 };
	struct bw_alerts *al = bw_alerts_new(&c);
	struct seen s = { .j = &j };
	assert_true(raise_one(al, &s, BW_AL_CERT_EXPIRED, "a.example", 1 * S));
	assert_false(raise_one(al, &s, BW_AL_CERT_EXPIRED, "a.example", 2 * S));
	assert_false(raise_one(al, &s, BW_AL_CERT_EXPIRED, "a.example", 3 * S));
	assert_true(raise_one(al, &s, BW_AL_CERT_EXPIRED, "a.example", 3602 * S));
	assert_false(raise_one(al, &s, BW_AL_CERT_EXPIRED, "a.example", 3603 * S));
	bw_alerts_flush(al, &j, on_emit, &s);
	struct bw_alerts_stats st;
	bw_alerts_stats(al, &st);
	assert_int_equal(s.alerts, 2);
	assert_int_equal(s.repeat_updates, 1);
	assert_int_equal(st.suppressed, 3);
	assert_int_equal(st.rate_limited, 0);
	assert_int_equal(s.summaries, 0);
	bw_alerts_free(al);
	bw_json_deinit(&j);
}

/* The end-of-run updates find every held repeat, wherever its key hashed to
 * (the flush visits only the buckets that held one). */
static void test_flush_many_keys(void **state)
{
	(void)state;
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 1u << 20), BW_OK);
	struct bw_alerts_config c = { .suppress = 3600 * S, .max_per_type_per_min = 100000, .burst = 100000 };
	struct bw_alerts *al = bw_alerts_new(&c);
	struct seen s = { .j = &j };
	enum { KEYS = 3000 };
	for (int i = 0; i < KEYS; i++) {
		char name[64];
		snprintf(name, sizeof(name), "n%d.example", i);
		assert_true(raise_one(al, &s, BW_AL_CERT_EXPIRED, name, 1 * S));
		if (i % 3 != 0) /* two of three keys get a repeat held back */
			assert_false(raise_one(al, &s, BW_AL_CERT_EXPIRED, name, 2 * S));
	}
	bw_alerts_flush(al, &j, on_emit, &s);
	assert_int_equal(s.alerts, KEYS);
	assert_int_equal(s.repeat_updates, KEYS - (KEYS + 2) / 3);
	/* a second flush has nothing left to say */
	bw_alerts_flush(al, &j, on_emit, &s);
	assert_int_equal(s.repeat_updates, KEYS - (KEYS + 2) / 3);
	bw_alerts_free(al);
	bw_json_deinit(&j);
}

/* The table grows from a few buckets to its cap; there, a new key replaces
 * the least recently seen way of its bucket, and the recent keys stay. */
static void test_cap_evicts_oldest(void **state)
{
	(void)state;
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 1u << 20), BW_OK);
	struct bw_alerts_config c = { .suppress = 3600 * S, .max_per_type_per_min = 1000000, .burst = 1000000,
				      .max_keys = 1024 };
	struct bw_alerts *al = bw_alerts_new(&c);
	struct seen s = { .j = &j };
	enum { KEYS = 4000 };
	char name[64];
	for (int i = 0; i < KEYS; i++) {
		snprintf(name, sizeof(name), "k%d.example", i);
		assert_true(raise_one(al, &s, BW_AL_CERT_EXPIRED, name, (bw_time_t)(i + 1) * S));
	}
	struct bw_alerts_stats st;
	bw_alerts_stats(al, &st);
	/* 1024 ways: at least KEYS - 1024 keys were forgotten, none while ways were free */
	assert_true(st.keys_evicted >= KEYS - 1024);
	assert_true(st.keys_evicted < KEYS);
	/* the 64 most recent keys are all remembered: their repeats are held back */
	for (int i = KEYS - 64; i < KEYS; i++) {
		snprintf(name, sizeof(name), "k%d.example", i);
		assert_false(raise_one(al, &s, BW_AL_CERT_EXPIRED, name, (bw_time_t)(KEYS + 1) * S));
	}
	/* the first key was forgotten: it alerts again */
	assert_true(raise_one(al, &s, BW_AL_CERT_EXPIRED, "k0.example", (bw_time_t)(KEYS + 2) * S));
	bw_alerts_flush(al, &j, on_emit, &s);
	assert_int_equal(s.repeat_updates, 64);
	bw_alerts_free(al);
	bw_json_deinit(&j);
}

static void test_storm_bucket(void **state)
{
	(void)state;
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 1u << 20), BW_OK);
	/* 600 a minute (10 a second), bursts of 50; 20000 distinct alerts, one per ms (20 s). */
	struct bw_alerts_config c = { .suppress = 3600 * S, .max_per_type_per_min = 600, .burst = 50 };
	struct bw_alerts *al = bw_alerts_new(&c);
	struct seen s = { .j = &j };
	char name[64];
	bw_time_t t0 = 1700000000ULL * S;
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		raise_one(al, &s, BW_AL_DNS_UNEXPECTED_ADDRESS, name, t0 + (bw_time_t)i * MS);
	}
	/* One other type is not starved by the storm. */
	assert_true(raise_one(al, &s, BW_AL_CERT_EXPIRED, "other.example", t0 + 20 * S));
	/* The burst, then 10 a second over 20 s (about 200): never more. */
	assert_true(s.alerts >= 50 + 195 && s.alerts <= 50 + 201 + 1);
	assert_int_equal(s.summaries, 0); /* the window (60 s) has not passed */
	bw_alerts_flush(al, &j, on_emit, &s);
	struct bw_alerts_stats st;
	bw_alerts_stats(al, &st);
	assert_int_equal(s.summaries, 1);
	assert_int_equal(s.held_total, 20000 - (s.alerts - 1));
	assert_int_equal(st.rate_limited, s.held_total);
	assert_int_equal(st.rate_limited_per_type[BW_AL_DNS_UNEXPECTED_ADDRESS], s.held_total);
	assert_int_equal(st.rate_limit_summaries, 1);
	bw_alerts_free(al);
	bw_json_deinit(&j);
}

static void test_summary_per_window(void **state)
{
	(void)state;
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 1u << 20), BW_OK);
	struct bw_alerts_config c = { .suppress = 3600 * S, .max_per_type_per_min = 60, .burst = 5,
				      .summary_window = 60 * S };
	struct bw_alerts *al = bw_alerts_new(&c);
	struct seen s = { .j = &j };
	char name[64];
	/* 100 alerts a second for 5 minutes: a summary about every minute, then one at the end. */
	for (int i = 0; i < 30000; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		raise_one(al, &s, BW_AL_CERT_UNTRUSTED, name, 1000 * S + (bw_time_t)i * 10 * MS);
	}
	unsigned in_run = s.summaries;
	assert_true(in_run >= 4 && in_run <= 5);
	bw_alerts_flush(al, &j, on_emit, &s);
	assert_int_equal(s.summaries, in_run + 1);
	/* Every alert is either written or counted in a summary. */
	assert_int_equal(s.alerts + s.held_total, 30000);
	assert_true(s.alerts >= 5 + 295 && s.alerts <= 5 + 301);
	/* Nothing held back: flush writes no summary. */
	struct seen s2 = { .j = &j };
	bw_alerts_flush(al, &j, on_emit, &s2);
	assert_int_equal(s2.summaries, 0);
	bw_alerts_free(al);
	bw_json_deinit(&j);
}

static void test_no_limit(void **state)
{
	(void)state;
	struct bw_json j;
	assert_int_equal(bw_json_init(&j, 1u << 20), BW_OK);
	struct bw_alerts_config c = { .suppress = 1, .max_per_type_per_min = 0 };
	struct bw_alerts *al = bw_alerts_new(&c);
	struct seen s = { .j = &j };
	char name[64];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		assert_true(raise_one(al, &s, BW_AL_CERT_EXPIRED, name, 5 * S + (bw_time_t)i));
	}
	bw_alerts_flush(al, &j, on_emit, &s);
	assert_int_equal(s.alerts, 5000);
	assert_int_equal(s.summaries, 0);
	bw_alerts_free(al);
	bw_json_deinit(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suppression),
		cmocka_unit_test(test_flush_many_keys),
		cmocka_unit_test(test_cap_evicts_oldest),
		cmocka_unit_test(test_storm_bucket),
		cmocka_unit_test(test_summary_per_window),
		cmocka_unit_test(test_no_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
