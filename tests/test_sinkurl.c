/* SPDX-License-Identifier: MIT */
/* test_sinkurl.c: syslog sink specs: transports, hosts and ports, options, defaults and every kind of bad spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sensor/sinkurl.h"

static void test_transports_and_defaults(void **state)
{
	(void)state;
	struct bw_sinkurl u;
	char err[256];
	assert_int_equal(bw_sinkurl_parse("syslog+udp://collector", &u, err, sizeof(err)), BW_OK);
	assert_int_equal(u.transport, BW_TR_UDP);
	assert_string_equal(u.host, "collector");
	assert_int_equal(u.port, 514);
	assert_int_equal(u.format, BW_PAYLOAD_JSON);
	assert_int_equal(u.events, BW_EV_ALERT);
	assert_int_equal(u.layout, BW_SYSLOG_RFC5424);
	assert_int_equal(u.facility, -1);
	assert_int_equal(u.max_size, 1472);
	assert_true(u.bom);
	assert_int_equal(u.queue, 10000);
	assert_int_equal(u.spool_max, 256u << 20);
	assert_int_equal(u.drain_ms, 10000);
	assert_string_equal(u.spool, "");

	assert_int_equal(bw_sinkurl_parse("syslog+tcp://10.0.0.1:601?format=leef&framing=octet-counting", &u, err,
					  sizeof(err)),
			 BW_OK);
	assert_int_equal(u.transport, BW_TR_TCP);
	assert_string_equal(u.host, "10.0.0.1");
	assert_int_equal(u.port, 601);
	assert_int_equal(u.format, BW_PAYLOAD_LEEF);
	assert_int_equal(u.framing, BW_FRAME_OCTET);
	assert_int_equal(u.max_size, 65536);

	assert_int_equal(bw_sinkurl_parse("syslog+tls://[2001:db8::1]?format=json&ca=/etc/ssl/siem-ca.pem&cert=/c.pem&"
					  "key=/k.pem&servername=siem.example",
					  &u, err, sizeof(err)),
			 BW_OK);
	assert_int_equal(u.transport, BW_TR_TLS);
	assert_string_equal(u.host, "2001:db8::1");
	assert_int_equal(u.port, 6514);
	assert_string_equal(u.ca, "/etc/ssl/siem-ca.pem");
	assert_string_equal(u.cert, "/c.pem");
	assert_string_equal(u.key, "/k.pem");
	assert_string_equal(u.servername, "siem.example");

	assert_int_equal(bw_sinkurl_parse("syslog+udp://[2001:db8::1]:5514", &u, err, sizeof(err)), BW_OK);
	assert_int_equal(u.port, 5514);
	assert_int_equal(u.max_size, 1452); /* IPv6 path MTU */

	assert_int_equal(bw_sinkurl_parse("syslog+unix:///dev/log?format=json", &u, err, sizeof(err)), BW_OK);
	assert_int_equal(u.transport, BW_TR_UNIX);
	assert_string_equal(u.path, "/dev/log");
}

static void test_options(void **state)
{
	(void)state;
	struct bw_sinkurl u;
	char err[256];
	assert_int_equal(bw_sinkurl_parse("syslog+tcp://h?events=alerts,tls,x509,dns,stats&syslog=3164&facility=daemon&"
					  "hostname=sensor1&app=bw&max_size=4K&bom=0&spool=/tmp/sp%26ool&spool_max=1M&"
					  "queue=50&drain=2.5&resend=0&backoff_max=1&framing=newline&sd_id=bw@99",
					  &u, err, sizeof(err)),
			 BW_OK);
	assert_int_equal(u.events, BW_EV_ALERT | BW_EV_TLS | BW_EV_X509 | BW_EV_DNS | BW_EV_STATS);
	assert_int_equal(u.layout, BW_SYSLOG_RFC3164);
	assert_int_equal(u.facility, 3);
	assert_string_equal(u.hostname, "sensor1");
	assert_string_equal(u.app, "bw");
	assert_int_equal(u.max_size, 4096);
	assert_false(u.bom);
	assert_string_equal(u.spool, "/tmp/sp&ool");
	assert_int_equal(u.spool_max, 1u << 20);
	assert_int_equal(u.queue, 50);
	assert_int_equal(u.drain_ms, 2500);
	assert_int_equal(u.resend_ms, 0);
	assert_int_equal(u.backoff_max_ms, 1000);
	assert_int_equal(u.framing, BW_FRAME_NEWLINE);
	assert_string_equal(u.sd_id, "bw@99");
	assert_int_equal(bw_sinkurl_parse("syslog+udp://h?events=all&format=cef", &u, err, sizeof(err)), BW_OK);
	assert_int_equal(u.events, BW_EV_ALL);
	assert_int_equal(u.format, BW_PAYLOAD_CEF);
	/* an empty pair between '&' is ignored */
	assert_int_equal(bw_sinkurl_parse("syslog+udp://h?&format=cef&&", &u, err, sizeof(err)), BW_OK);
}

static void test_bad_specs(void **state)
{
	(void)state;
	static const struct {
		const char *spec;
		const char *msg;
	} bad[] = {
		{ "syslog+carrier-pigeon://x", "unknown output" },
		{ "syslog+udp://", "expected HOST" },
		{ "syslog+udp://:514", "expected HOST" },
		{ "syslog+udp://h:0", "expected HOST" },
		{ "syslog+udp://h:65536", "expected HOST" },
		{ "syslog+udp://h:12x", "expected HOST" },
		{ "syslog+udp://h:", "expected HOST" },
		{ "syslog+udp://[::1", "expected HOST" },
		{ "syslog+udp://[::1]x", "expected HOST" },
		{ "syslog+udp://user@h", "expected HOST" },
		{ "syslog+udp://h/path", "expected HOST" },
		{ "syslog+unix://dev/log", "ABSOLUTE" },
		{ "syslog+unix://", "ABSOLUTE" },
		{ "syslog+udp://h?format=xml", "bad value 'xml' for option format" },
		{ "syslog+udp://h?events=dns,bogus", "option events" },
		{ "syslog+udp://h?events=", "option events" },
		{ "syslog+udp://h?facility=local9", "option facility" },
		{ "syslog+udp://h?spool_maxx=1", "unknown option 'spool_maxx'" },
		{ "syslog+udp://h?format", "needs a value" },
		{ "syslog+udp://h?max_size=100", "option max_size" },
		{ "syslog+udp://h?queue=0", "option queue" },
		{ "syslog+udp://h?queue=-5", "option queue" },
		{ "syslog+udp://h?spool_max=1Q", "option spool_max" },
		{ "syslog+udp://h?drain=-1", "option drain" },
		{ "syslog+udp://h?drain=abc", "option drain" },
		{ "syslog+udp://h?bom=yes", "option bom" },
		{ "syslog+udp://h?spool=%zz", "bad option" },
		{ "syslog+udp://h?spool=a%00b", "bad option" },
		{ "syslog+udp://h?spool=a%4", "bad option" },
		{ "syslog+udp://h?ca=/x", "syslog+tls:// only" },
		{ "syslog+tls://h?cert=/c", "both cert= and key=" },
		{ "syslog+tls://h?framing=newline", "octet-counting" },
		{ "syslog+udp://h?framing=newline", "framing= does not apply" },
		{ "syslog+tcp://h?sd_id=a b", "option sd_id" },
		{ "syslog+tcp://h?framing=cr", "option framing" },
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(bad); i++) {
		struct bw_sinkurl u;
		char err[256] = "";
		int rc = bw_sinkurl_parse(bad[i].spec, &u, err, sizeof(err));
		if (rc != BW_EINVAL || !strstr(err, bad[i].msg))
			fail_msg("%s: rc %d, err '%s' (wanted '%s')", bad[i].spec, rc, err, bad[i].msg);
	}
	/* an over-long host is refused, not cut */
	char spec[600];
	memset(spec, 'a', sizeof(spec));
	memcpy(spec, "syslog+udp://", 13);
	spec[sizeof(spec) - 1] = '\0';
	struct bw_sinkurl u;
	char err[256];
	assert_int_equal(bw_sinkurl_parse(spec, &u, err, sizeof(err)), BW_EINVAL);
	/* and so is an over-long unix path */
	char up[200] = "syslog+unix:///";
	memset(up + 15, 'p', 150);
	up[165] = '\0';
	assert_int_equal(bw_sinkurl_parse(up, &u, err, sizeof(err)), BW_EINVAL);
}

static void test_default_spool_and_display(void **state)
{
	(void)state;
	struct bw_sinkurl a, b, c;
	char err[256], pa[1100], pb[1100], pc[1100];
	assert_int_equal(bw_sinkurl_parse("syslog+tcp://collector:601?format=cef", &a, err, sizeof(err)), BW_OK);
	assert_int_equal(bw_sinkurl_parse("syslog+tcp://collector:601?format=leef&queue=5", &b, err, sizeof(err)), BW_OK);
	assert_int_equal(bw_sinkurl_parse("syslog+tcp://collector:602", &c, err, sizeof(err)), BW_OK);
	setenv("XDG_STATE_HOME", "/tmp/xdg-test", 1);
	assert_int_equal(bw_sinkurl_default_spool(&a, pa, sizeof(pa)), BW_OK);
	assert_int_equal(bw_sinkurl_default_spool(&b, pb, sizeof(pb)), BW_OK);
	assert_int_equal(bw_sinkurl_default_spool(&c, pc, sizeof(pc)), BW_OK);
	/* the same destination finds the same spool whatever the payload options; another port another one */
	assert_string_equal(pa, pb);
	assert_string_not_equal(pa, pc);
	if (geteuid() == 0)
		assert_memory_equal(pa, "/var/spool/bindwatch/tcp-", 25);
	else
		assert_memory_equal(pa, "/tmp/xdg-test/bindwatch/tcp-", 28);
	assert_int_equal(strlen(strrchr(pa, '-') + 1), 16);
	char d[64];
	bw_sinkurl_display("syslog+tls://h:6514?key=/secret/k.pem", d, sizeof(d));
	assert_string_equal(d, "syslog+tls://h:6514");
	bw_sinkurl_display("syslog+tls://a-very-long-host-name-indeed.example", d, 10);
	assert_string_equal(d, "syslog+tl");
	assert_true(bw_sinkurl_is_syslog("syslog+udp://x"));
	assert_false(bw_sinkurl_is_syslog("jsonl:-"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transports_and_defaults),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_default_spool_and_display),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
