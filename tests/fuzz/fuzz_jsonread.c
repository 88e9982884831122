/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jsonread.c: the JSON field reader and, on top of it, every SIEM
 * formatter, fed arbitrary bytes as an "event". Besides memory safety it
 * checks the formatters' promise: no message ever holds a raw LF, CR or NUL,
 * whatever the document contained.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/fmt_cef.h"
#include "sensor/fmt_leef.h"
#include "sensor/fmt_syslog.h"
#include "sensor/jsonread.h"

static const char *const PATHS[] = {
	"",
	"event.kind",
	"event.severity",
	"event.id",
	"rule.name",
	"tls.client.server_name",
	"dns.question.name",
	"dns.answers.0.data",
	"dns.resolved_ip",
	"bindwatch.alert.dedup_key",
	"a.b.c.d.e.f.g.h",
	"0.1.2",
};

static void check_clean(const char *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i] == '\n' || m[i] == '\r' || m[i] == '\0')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *doc = (const char *)data;
	char out[512];
	bw_jsonread_validate(doc, size);
	for (size_t i = 0; i < sizeof(PATHS) / sizeof(PATHS[0]); i++) {
		struct bw_jval v;
		if (bw_jsonread_get(doc, size, PATHS[i], &v) != BW_OK)
			continue;
		bool t;
		bw_jval_text(&v, out, sizeof(out), &t);
		bw_jval_text(&v, out, 3, &t);
		uint64_t u;
		bw_jval_u64(&v, &u);
		struct bw_jiter it;
		struct bw_jval k, e;
		bw_jiter_init(&it, &v);
		for (int n = 0; n < 64 && bw_jiter_next(&it, &k, &e); n++)
			bw_jval_text(&e, out, sizeof(out), NULL);
	}
	/* the formatters only ever see our own (valid) JSON, but must survive anything */
	static char msg[70000];
	for (int p = 0; p < 3; p++) {
		for (int t = 0; t < 5; t += 3) { /* dns (every lookup table but the alert one), alert */
			struct bw_fmt_event ev = { .type = (enum bw_event_type)(1u << t), .ts = 1, .json = doc,
						   .json_len = size, .hostname = "h" };
			struct bw_syslog_opts o = { .layout = (enum bw_syslog_layout)(t & 1), .payload = (enum bw_payload)p,
						    .facility = 16, .hostname = "h", .app_name = "bindwatch",
						    .procid = "1", .bom = true, .max_size = t == 0 ? 480 : 65536 };
			size_t n = bw_syslog_message(msg, sizeof(msg), &o, &ev, NULL);
			/* a JSON payload is copied as it is: only CEF and LEEF rebuild every value */
			if (p != BW_PAYLOAD_JSON)
				check_clean(msg, n);
		}
	}
	return 0;
}
