/* SPDX-License-Identifier: MIT */
/*
 * test_sink.c: the JSON-lines sink writes one line per event and reports
 * write errors; syslog sinks deliver to in-process collectors (TCP, UDP,
 * unix datagram) in order, survive an outage and a restart through the
 * spool, never block the caller, drop only when the spool is full (and say
 * so), and report their counters.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sensor/sink.h"
#include "../sensor/fmt_syslog.h"
#include "../sensor/spool.h"

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	static char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void test_lines_and_reopen(void **state)
{
	(void)state;
	char dir[] = "/tmp/bw-test-sink-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], spec[300], moved[300], err[256];
	snprintf(path, sizeof(path), "%s/ev.json", dir);
	snprintf(spec, sizeof(spec), "jsonl:%s", path);
	struct bw_output o = { 0 };
	struct bw_sink *s;
	assert_int_equal(bw_sink_open(spec, &s, err, sizeof(err)), BW_OK);
	assert_int_equal(bw_output_add(&o, s), BW_OK);
	struct bw_event ev = { .type = BW_EV_DNS, .json = "{\"a\":1}", .json_len = 7 };
	bw_output_emit(&o, &ev);
	ev.type = BW_EV_STATS;
	ev.json = "{\"b\":2}";
	bw_output_emit(&o, &ev);
	assert_int_equal(bw_output_flush(&o), BW_OK);
	assert_string_equal(slurp(path), "{\"a\":1}\n{\"b\":2}\n");
	assert_int_equal(o.events[0], 1);
	assert_int_equal(o.events[4], 1);
	/* logrotate: move the file away, reopen, new events go to a new file */
	snprintf(moved, sizeof(moved), "%s.1", path);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(bw_sink_reopen(s), BW_OK);
	ev.json = "{\"c\":3}";
	bw_output_emit(&o, &ev);
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	assert_string_equal(slurp(path), "{\"c\":3}\n");
	assert_string_equal(slurp(moved), "{\"a\":1}\n{\"b\":2}\n");
	unlink(path);
	unlink(moved);
	rmdir(dir);
}

static void test_bad_specs(void **state)
{
	(void)state;
	struct bw_sink *s = (struct bw_sink *)1;
	char err[256];
	assert_int_equal(bw_sink_open("jsonl:", &s, err, sizeof(err)), BW_EINVAL);
	assert_null(s);
	assert_int_equal(bw_sink_open("syslog+carrier-pigeon://x", &s, err, sizeof(err)), BW_EINVAL);
	assert_non_null(strstr(err, "unknown output"));
	assert_int_equal(bw_sink_open("jsonl:/nonexistent-dir/x/y.json", &s, err, sizeof(err)), BW_EIO);
	assert_non_null(strstr(err, "/nonexistent-dir/x/y.json"));
}

static void test_write_error_is_reported(void **state)
{
	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	struct bw_output o = { 0 };
	struct bw_sink *s;
	char err[256];
	assert_int_equal(bw_sink_open("jsonl:/dev/full", &s, err, sizeof(err)), BW_OK);
	bw_output_add(&o, s);
	static char big[8192];
	memset(big, 'x', sizeof(big));
	struct bw_event ev = { .type = BW_EV_DNS, .json = big, .json_len = sizeof(big) };
	for (int i = 0; i < 300; i++)
		bw_output_emit(&o, &ev);
	assert_int_not_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	assert_non_null(strstr(err, "/dev/full"));
}

/* ---- syslog sinks against in-process receivers ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "../sensor/json.h"

#define RX_MAX 4096

/* A syslog collector: TCP (RFC 6587 octet counting) or UDP/unix datagrams. */
struct rx {
	int kind; /* SOCK_STREAM or SOCK_DGRAM */
	int family;
	char path[108];
	uint16_t port;
	int lfd;
	int cfd[8];
	pthread_t th;
	_Atomic bool stop;
	bool running;
	pthread_mutex_t mu;
	int n;
	int seq[RX_MAX];     /* "n" of each message received, in order */
	char last[70000];    /* the last message */
	size_t last_len;
	int bad;             /* frames that did not parse */
	char buf[8][140000];
	size_t blen[8];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rx_message(struct rx *r, const char *m, size_t n)
{
	pthread_mutex_lock(&r->mu);
	const char *bom = memmem(m, n, "\xEF\xBB\xBF{", 4);
	const char *k = bom ? memmem(bom, n - (size_t)(bom - m), "\"n\":", 4) : NULL;
	if (!k || r->n >= RX_MAX || m[0] != '<') {
		r->bad++;
	} else {
		r->seq[r->n++] = atoi(k + 4);
	}
	r->last_len = BW_MIN(n, sizeof(r->last));
	memcpy(r->last, m, r->last_len);
	pthread_mutex_unlock(&r->mu);
}

/* Pull whole "LEN SP MSG" frames out of a connection's buffer. */
static void rx_frames(struct rx *r, int i)
{
	size_t off = 0;
	for (;;) {
		char *sp = memchr(r->buf[i] + off, ' ', r->blen[i] - off);
		if (!sp)
			break;
		size_t len = (size_t)strtoul(r->buf[i] + off, NULL, 10);
		size_t hdr = (size_t)(sp - (r->buf[i] + off)) + 1;
		if (r->blen[i] - off < hdr + len)
			break;
		rx_message(r, r->buf[i] + off + hdr, len);
		off += hdr + len;
	}
	memmove(r->buf[i], r->buf[i] + off, r->blen[i] - off);
	r->blen[i] -= off;
}

static void *rx_main(void *arg)
{
	struct rx *r = arg;
	static __thread char dg[70000];
	while (!r->stop) {
		struct pollfd p[9];
		int np = 0;
		p[np++] = (struct pollfd){ r->lfd, POLLIN, 0 };
		int map[9];
		for (int i = 0; i < 8; i++)
			if (r->cfd[i] >= 0) {
				map[np] = i;
				p[np++] = (struct pollfd){ r->cfd[i], POLLIN, 0 };
			}
		if (poll(p, (nfds_t)np, 50) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			if (r->kind == SOCK_DGRAM) {
				ssize_t n = recv(r->lfd, dg, sizeof(dg), 0);
				if (n > 0)
					rx_message(r, dg, (size_t)n);
			} else {
				int c = accept(r->lfd, NULL, NULL);
				for (int i = 0; i < 8 && c >= 0; i++)
					if (r->cfd[i] < 0) {
						r->cfd[i] = c;
						r->blen[i] = 0;
						c = -1;
					}
				if (c >= 0)
					close(c);
			}
		}
		for (int k = 1; k < np; k++) {
			if (!(p[k].revents & (POLLIN | POLLHUP)))
				continue;
			int i = map[k];
			ssize_t n = recv(r->cfd[i], r->buf[i] + r->blen[i], sizeof(r->buf[i]) - r->blen[i], 0);
			if (n <= 0) {
				close(r->cfd[i]);
				r->cfd[i] = -1;
				continue;
			}
			r->blen[i] += (size_t)n;
			rx_frames(r, i);
		}
	}
	return NULL;
}

/* Start listening (port 0: pick one; else rebind the same one). */
static void rx_start(struct rx *r)
{
	r->stop = false;
	for (int i = 0; i < 8; i++)
		r->cfd[i] = -1;
	if (r->family == AF_UNIX) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->path);
		unlink(r->path);
		r->lfd = socket(AF_UNIX, SOCK_DGRAM, 0);
		assert_int_equal(bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(r->port) };
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r->lfd = socket(AF_INET, r->kind, 0);
		int one = 1;
		setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int big = 8 << 20;
		setsockopt(r->lfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		assert_int_equal(bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		if (r->kind == SOCK_STREAM)
			assert_int_equal(listen(r->lfd, 16), 0);
		socklen_t sl = sizeof(sa);
		getsockname(r->lfd, (struct sockaddr *)&sa, &sl);
		r->port = ntohs(sa.sin_port);
	}
	r->running = true;
	assert_int_equal(pthread_create(&r->th, NULL, rx_main, r), 0);
}

static void rx_stop(struct rx *r)
{
	if (!r->running)
		return;
	r->stop = true;
	pthread_join(r->th, NULL);
	for (int i = 0; i < 8; i++)
		if (r->cfd[i] >= 0)
			close(r->cfd[i]);
	close(r->lfd);
	r->running = false;
}

static struct rx *rx_new(int kind, int family)
{
	struct rx *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->kind = kind;
	r->family = family;
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

static void rx_free(struct rx *r)
{
	rx_stop(r);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static int rx_count(struct rx *r)
{
	pthread_mutex_lock(&r->mu);
	int n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static bool rx_wait(struct rx *r, int n, double secs)
{
	double end = now_s() + secs;
	while (now_s() < end) {
		if (rx_count(r) >= n)
			return true;
		usleep(10000);
	}
	return rx_count(r) >= n;
}

/* Every number 0..n-1 arrived, first copies in order, duplicates only of numbers sent before an outage. */
static void rx_check_all(struct rx *r, int n, int max_dups)
{
	pthread_mutex_lock(&r->mu);
	static char seen[RX_MAX];
	memset(seen, 0, sizeof(seen));
	int next = 0, dups = 0;
	for (int i = 0; i < r->n; i++) {
		int v = r->seq[i];
		assert_true(v >= 0 && v < n);
		if (seen[v]) {
			dups++;
			continue;
		}
		if (v != next)
			fail_msg("message %d arrived where %d was expected (position %d)", v, next, i);
		seen[v] = 1;
		next++;
	}
	assert_int_equal(next, n);
	assert_true(dups <= max_dups);
	assert_int_equal(r->bad, 0);
	pthread_mutex_unlock(&r->mu);
}

static char sdir[64];

static int syslog_setup(void **state)
{
	(void)state;
	snprintf(sdir, sizeof(sdir), "/tmp/bw-test-sinksys-XXXXXX");
	return mkdtemp(sdir) ? 0 : -1;
}

static int syslog_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void emit_n(struct bw_output *o, enum bw_event_type type, int from, int to, size_t pad)
{
	static char j[4096];
	for (int i = from; i < to; i++) {
		int n = snprintf(j, sizeof(j), "{\"event\":{\"kind\":\"%s\",\"id\":\"%x\"},\"n\":%d,\"pad\":\"%.*s\"}",
				 type == BW_EV_ALERT ? "alert" : "event", i, i, (int)BW_MIN(pad, 3000),
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		struct bw_event ev = { .type = type, .ts = 1700000000ULL * BW_NSEC_PER_SEC, .json = j,
				       .json_len = (size_t)n };
		bw_output_emit(o, &ev);
	}
}

static struct bw_sink *open_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct bw_sink *open_sys(const char *fmt, ...)
{
	char spec[600], err[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(spec, sizeof(spec), fmt, ap);
	va_end(ap);
	struct bw_sink *s;
	struct bw_sink_defaults d;
	bw_sink_defaults_init(&d);
	d.hostname = "sensor.test";
	d.log = fopen("/dev/null", "w");
	int rc = bw_sink_open_ex(spec, &d, &s, err, sizeof(err));
	if (rc != BW_OK)
		fail_msg("open %s: %s", spec, err);
	return s;
}

static void test_syslog_tcp_delivery(void **state)
{
	(void)state;
	struct rx *r = rx_new(SOCK_STREAM, AF_INET);
	rx_start(r);
	struct bw_output o = { 0 };
	bw_output_add(&o, open_sys("syslog+tcp://127.0.0.1:%u?events=dns&spool=%s/s&drain=10", r->port, sdir));
	emit_n(&o, BW_EV_DNS, 0, 1000, 10);
	emit_n(&o, BW_EV_TLS, 0, 10, 0); /* not selected */
	assert_true(rx_wait(r, 1000, 10));
	struct bw_sink_counters c;
	assert_true(bw_sink_counters(o.sinks[0], &c));
	assert_int_equal(c.queued, 1000);
	char err[512];
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	rx_check_all(r, 1000, 0);
	/* the message itself: RFC 5424, local0.info for an event, our hostname */
	assert_memory_equal(r->last, "<134>1 2023-11-14T22:13:20.000000Z sensor.test bindwatch ", 57);
	rx_free(r);
}

static void test_syslog_restart_with_spool(void **state)
{
	(void)state;
	struct rx *r = rx_new(SOCK_STREAM, AF_INET);
	rx_start(r);
	uint16_t port = r->port;
	rx_stop(r); /* collector down */
	struct bw_output o = { 0 };
	bw_output_add(&o, open_sys("syslog+tcp://127.0.0.1:%u?spool=%s/s&drain=0.3", port, sdir));
	emit_n(&o, BW_EV_ALERT, 0, 100, 0);
	emit_n(&o, BW_EV_DNS, 1000, 1010, 0); /* events=alerts is the default */
	char err[512], rep[1024];
	FILE *fp = fmemopen(rep, sizeof(rep), "w");
	assert_int_equal(bw_output_close_ex(&o, fp, err, sizeof(err)), BW_OK);
	fclose(fp);
	assert_non_null(strstr(rep, "100 events left in spool"));
	/* bindwatch starts again with the collector back: the spool goes first, in order */
	r->port = port;
	rx_start(r);
	bw_output_add(&o, open_sys("syslog+tcp://127.0.0.1:%u?spool=%s/s&drain=10", port, sdir));
	emit_n(&o, BW_EV_ALERT, 100, 150, 0);
	assert_true(rx_wait(r, 150, 10));
	struct bw_sink_counters c;
	bw_sink_counters(o.sinks[0], &c);
	assert_int_equal(c.replayed, 100);
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	rx_check_all(r, 150, 0);
	rx_free(r);
}

static void test_syslog_outage_mid_run(void **state)
{
	(void)state;
	struct rx *r = rx_new(SOCK_STREAM, AF_INET);
	rx_start(r);
	uint16_t port = r->port;
	struct bw_output o = { 0 };
	bw_output_add(&o, open_sys("syslog+tcp://127.0.0.1:%u?spool=%s/s&drain=10&backoff_max=0.2&resend=1", port, sdir));
	emit_n(&o, BW_EV_ALERT, 0, 50, 0);
	assert_true(rx_wait(r, 50, 10));
	rx_stop(r); /* the collector goes away with the connection open */
	emit_n(&o, BW_EV_ALERT, 50, 100, 0);
	usleep(500000);
	struct bw_sink_counters c;
	bw_sink_counters(o.sinks[0], &c);
	assert_false(c.connected);
	assert_true(c.spooled > 0);
	rx_start(r);
	emit_n(&o, BW_EV_ALERT, 100, 150, 0);
	assert_true(rx_wait(r, 150, 10));
	char err[512];
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	/* at-least-once: messages sent within the resend window before the outage may come twice */
	rx_check_all(r, 150, 60);
	rx_free(r);
}

static void test_syslog_never_blocks(void **state)
{
	(void)state;
	struct rx *r = rx_new(SOCK_STREAM, AF_INET);
	rx_start(r);
	uint16_t port = r->port;
	rx_stop(r);
	struct bw_output o = { 0 };
	bw_output_add(&o, open_sys("syslog+tcp://127.0.0.1:%u?spool=%s/s&drain=0.2&queue=100", port, sdir));
	double t0 = now_s();
	emit_n(&o, BW_EV_ALERT, 0, 20000, 200);
	double dt = now_s() - t0;
	/* 20000 events past a 100-event queue with no collector: spilled, not waited for */
	assert_true(dt < 5.0);
	char err[512];
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	struct bw_spool *sp;
	char path[128];
	snprintf(path, sizeof(path), "%s/s", sdir);
	assert_int_equal(bw_spool_open(path, 256u << 20, &sp, err, sizeof(err)), BW_OK);
	assert_int_equal(bw_spool_pending(sp), 20000);
	bw_spool_close(sp);
	rx_free(r);
}

static void test_syslog_spool_full_is_loud(void **state)
{
	(void)state;
	struct rx *r = rx_new(SOCK_STREAM, AF_INET);
	rx_start(r);
	uint16_t port = r->port;
	rx_stop(r);
	struct bw_output o = { 0 };
	bw_output_add(&o, open_sys("syslog+tcp://127.0.0.1:%u?spool=%s/s&drain=0.1&spool_max=64K&queue=10", port, sdir));
	emit_n(&o, BW_EV_ALERT, 0, 200, 1000);
	struct bw_sink_counters c;
	bw_sink_counters(o.sinks[0], &c);
	char err[512];
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_ELIMIT);
	assert_non_null(strstr(err, "dropped"));
	rx_free(r);
}

static void test_syslog_udp_and_cut(void **state)
{
	(void)state;
	struct rx *r = rx_new(SOCK_DGRAM, AF_INET);
	rx_start(r);
	struct bw_output o = { 0 };
	bw_output_add(&o, open_sys("syslog+udp://127.0.0.1:%u?spool=%s/s&max_size=600&format=json", r->port, sdir));
	emit_n(&o, BW_EV_ALERT, 0, 20, 0);
	assert_true(rx_wait(r, 20, 5));
	rx_check_all(r, 20, 0);
	emit_n(&o, BW_EV_ALERT, 20, 21, 2000); /* too big for the datagram limit */
	usleep(200000);
	pthread_mutex_lock(&r->mu);
	assert_true(r->last_len <= 600);
	assert_memory_equal(r->last + r->last_len - strlen(BW_SYSLOG_TRUNC_MARK), BW_SYSLOG_TRUNC_MARK,
			    strlen(BW_SYSLOG_TRUNC_MARK));
	pthread_mutex_unlock(&r->mu);
	struct bw_sink_counters c;
	bw_sink_counters(o.sinks[0], &c);
	assert_int_equal(c.truncated, 1);
	char err[512];
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	rx_free(r);
}

static void test_syslog_unix_dgram(void **state)
{
	(void)state;
	struct rx *r = rx_new(SOCK_DGRAM, AF_UNIX);
	snprintf(r->path, sizeof(r->path), "%s/log.sock", sdir);
	rx_start(r);
	struct bw_output o = { 0 };
	bw_output_add(&o, open_sys("syslog+unix://%s?spool=%s/s&format=cef&events=alerts", r->path, sdir));
	/* CEF has no "n": check the records by hand */
	emit_n(&o, BW_EV_ALERT, 0, 5, 0);
	double end = now_s() + 5;
	while (now_s() < end) {
		pthread_mutex_lock(&r->mu);
		int b = r->bad;
		pthread_mutex_unlock(&r->mu);
		if (b >= 5)
			break;
		usleep(10000);
	}
	pthread_mutex_lock(&r->mu);
	assert_int_equal(r->bad, 5); /* no JSON body: counted as "bad" by the JSON-minded receiver */
	assert_non_null(memmem(r->last, r->last_len, "CEF:0|Bindwatch|bindwatch|", 26));
	assert_non_null(memmem(r->last, r->last_len, "externalId=4", 12));
	pthread_mutex_unlock(&r->mu);
	char err[512];
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	rx_free(r);
}

static void test_syslog_stats_json(void **state)
{
	(void)state;
	struct rx *r = rx_new(SOCK_STREAM, AF_INET);
	rx_start(r);
	struct bw_output o = { 0 };
	char path[128], err[512];
	snprintf(path, sizeof(path), "jsonl:%s/ev.json", sdir);
	struct bw_sink *f;
	assert_int_equal(bw_sink_open(path, &f, err, sizeof(err)), BW_OK);
	bw_output_add(&o, f);
	bw_output_add(&o, open_sys("syslog+tcp://127.0.0.1:%u?spool=%s/s", r->port, sdir));
	emit_n(&o, BW_EV_ALERT, 0, 3, 0);
	assert_true(rx_wait(r, 3, 5));
	usleep(100000);
	struct bw_json j;
	bw_json_init(&j, 1 << 20);
	bw_json_obj_begin(&j, NULL);
	bw_output_stats_json(&o, &j);
	bw_json_obj_end(&j);
	assert_true(bw_json_ok(&j));
	char want[200];
	snprintf(want, sizeof(want), "{\"outputs\":[{\"output\":\"syslog+tcp://127.0.0.1:%u\",\"sent\":3,\"queued\":3,",
		 r->port);
	assert_memory_equal(j.buf, want, strlen(want));
	assert_non_null(strstr(j.buf, "\"dropped\":0"));
	assert_non_null(strstr(j.buf, "\"connected\":true}]}"));
	bw_json_deinit(&j);
	struct bw_sink_counters c;
	assert_false(bw_sink_counters(f, &c));
	assert_int_equal(bw_output_close(&o, err, sizeof(err)), BW_OK);
	rx_free(r);
}

static void test_syslog_bad_specs(void **state)
{
	(void)state;
	struct bw_sink *s = (struct bw_sink *)1;
	char err[512], spec[300];
	assert_int_equal(bw_sink_open("syslog+tls://127.0.0.1:1?ca=/nonexistent/ca.pem&spool=/tmp/x", &s, err,
				      sizeof(err)),
			 BW_EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	assert_int_equal(bw_sink_open("syslog+tcp://h?nope=1", &s, err, sizeof(err)), BW_EINVAL);
	assert_non_null(strstr(err, "unknown option 'nope'"));
	assert_int_equal(bw_sink_open("syslog+tcp://127.0.0.1:1?spool=/proc/bw/no", &s, err, sizeof(err)), BW_EIO);
	assert_non_null(strstr(err, "/proc/bw/no"));
	/* one spool, one process (here: one sink) */
	snprintf(spec, sizeof(spec), "syslog+tcp://127.0.0.1:1?spool=%s/same&drain=0", sdir);
	struct bw_sink *a = open_sys("%s", spec);
	assert_int_equal(bw_sink_open(spec, &s, err, sizeof(err)), BW_EIO);
	assert_non_null(strstr(err, "in use"));
	bw_sink_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_and_reopen),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_write_error_is_reported),
		cmocka_unit_test_setup_teardown(test_syslog_tcp_delivery, syslog_setup, syslog_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_restart_with_spool, syslog_setup, syslog_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_outage_mid_run, syslog_setup, syslog_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_never_blocks, syslog_setup, syslog_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_spool_full_is_loud, syslog_setup, syslog_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_udp_and_cut, syslog_setup, syslog_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_unix_dgram, syslog_setup, syslog_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_stats_json, syslog_setup, syslog_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_bad_specs, syslog_setup, syslog_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
