/* SPDX-License-Identifier: MIT */
/*
 * test_certfetch.c: the certificate fetch channel protocol under hostile
 * lengths, the recently-asked cache, the rate window, the owned-name and
 * address gates, and one round trip through a real fetcher process (to an
 * address the fetcher refuses, so no packet leaves the machine), and the
 * worker's side against a fake fetcher (QUIC-only services, stray replies,
 * a fetcher that goes away).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../sensor/certfetch.h"
#include "../sensor/policy.h"

static void make_req(struct bw_certfetch_req *r)
{
	memset(r, 0, sizeof(*r));
	r->id = 0x01020304;
	r->addr.family = 4;
	r->addr.a[0] = 192;
	r->addr.a[1] = 0;
	r->addr.a[2] = 2;
	r->addr.a[3] = 10;
	r->port = 443;
	r->transport = IPPROTO_TCP;
	strcpy(r->sni, "www.example.com");
	r->n_alpn = 2;
	r->alpn_len[0] = 2;
	memcpy(r->alpn[0], "h2", 2);
	r->alpn_len[1] = 8;
	memcpy(r->alpn[1], "http/1.1", 8);
}

static void test_req_roundtrip(void **state)
{
	(void)state;
	struct bw_certfetch_req r, d;
	uint8_t buf[BW_CERTFETCH_MAX_REQ];
	size_t len;
	make_req(&r);
	assert_int_equal(bw_certfetch_req_encode(&r, buf, sizeof(buf), &len), BW_OK);
	assert_int_equal(bw_certfetch_req_decode(buf, len, &d), BW_OK);
	assert_int_equal(d.id, r.id);
	assert_memory_equal(&d.addr, &r.addr, sizeof(r.addr));
	assert_int_equal(d.port, 443);
	assert_string_equal(d.sni, "www.example.com");
	assert_int_equal(d.n_alpn, 2);
	assert_memory_equal(d.alpn[1], "http/1.1", 8);
	/* every cut of the message, and one byte more, is malformed */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(bw_certfetch_req_decode(buf, n, &d), BW_EMALF);
	uint8_t big[BW_CERTFETCH_MAX_REQ + 1];
	memcpy(big, buf, len);
	big[len] = 0;
	assert_int_equal(bw_certfetch_req_decode(big, len + 1, &d), BW_EMALF);
	/* body length fixed up to cover the extra byte: trailing data is still refused */
	big[7] = (uint8_t)(big[7] + 1);
	assert_int_equal(bw_certfetch_req_decode(big, len + 1, &d), BW_EMALF);
	/* too short a buffer for the encoder */
	assert_int_equal(bw_certfetch_req_encode(&r, buf, 20, &len), BW_ELIMIT);
}

/* Flip one field of a good request and expect the decoder to refuse it. */
static void test_req_hostile(void **state)
{
	(void)state;
	struct bw_certfetch_req r, d;
	uint8_t buf[BW_CERTFETCH_MAX_REQ], m[BW_CERTFETCH_MAX_REQ];
	size_t len;
	make_req(&r);
	assert_int_equal(bw_certfetch_req_encode(&r, buf, sizeof(buf), &len), BW_OK);
	/* offsets: hdr 8, id 4 (8), family (12), transport (13), port (14), addr (16), sni len (32), sni (33) */
	struct {
		size_t off;
		uint8_t v;
	} bad[] = {
		{ 0, 2 },    /* version */
		{ 1, 2 },    /* type: a reply */
		{ 2, 1 },    /* reserved */
		{ 4, 0x7f }, /* body length huge */
		{ 7, 0 },    /* body length short */
		{ 12, 5 },   /* family */
		{ 13, 1 },   /* transport */
		{ 32, 0 },   /* empty SNI */
		{ 32, 200 }, /* SNI longer than the message */
		{ 33, 'W' }, /* upper case */
		{ 33, '.' }, /* leading dot */
		{ 35, 0 },   /* NUL inside */
		{ 48, 9 },   /* ALPN count over 8 */
		{ 49, 0 },   /* ALPN id of length 0 */
		{ 49, 40 },  /* ALPN id longer than the message */
	};
	assert_int_equal(buf[32], 15);
	assert_int_equal(buf[48], 2);
	for (size_t i = 0; i < BW_ARRAY_SIZE(bad); i++) {
		memcpy(m, buf, len);
		m[bad[i].off] = bad[i].v;
		assert_int_equal(bw_certfetch_req_decode(m, len, &d), BW_EMALF);
		assert_int_equal(d.sni[0], '\0'); /* nothing half-decoded is left */
	}
	/* the encoder refuses what the decoder would */
	make_req(&r);
	strcpy(r.sni, "bad name.example.com");
	assert_int_equal(bw_certfetch_req_encode(&r, buf, sizeof(buf), &len), BW_EINVAL);
	make_req(&r);
	r.sni[0] = '\0';
	assert_int_equal(bw_certfetch_req_encode(&r, buf, sizeof(buf), &len), BW_EINVAL);
	make_req(&r);
	r.n_alpn = 9;
	assert_int_equal(bw_certfetch_req_encode(&r, buf, sizeof(buf), &len), BW_EINVAL);
	make_req(&r);
	r.alpn_len[0] = 33;
	assert_int_equal(bw_certfetch_req_encode(&r, buf, sizeof(buf), &len), BW_EINVAL);
	make_req(&r);
	memset(r.sni, 'a', 64); /* a 64-byte label */
	strcpy(r.sni + 64, ".com");
	assert_int_equal(bw_certfetch_req_encode(&r, buf, sizeof(buf), &len), BW_EINVAL);
	/* IPv4 addresses come out canonical (zeros after the 4 bytes) */
	make_req(&r);
	assert_int_equal(bw_certfetch_req_encode(&r, buf, sizeof(buf), &len), BW_OK);
	buf[25] = 0xee;
	assert_int_equal(bw_certfetch_req_decode(buf, len, &d), BW_OK);
	assert_int_equal(d.addr.a[9], 0);
}

static void test_reply_roundtrip_and_hostile(void **state)
{
	(void)state;
	static uint8_t msg[BW_CERTFETCH_MAX_MSG];
	uint8_t a[300], b[1000];
	memset(a, 0x30, sizeof(a));
	memset(b, 0x31, sizeof(b));
	struct bw_certfetch_reply r = { .id = 77, .status = BW_CF_FETCHED, .tls_version = 0x0304,
					.latency_ms = 12, .fetched_at = 1700000000ULL * BW_NSEC_PER_SEC, .n_certs = 2 };
	r.der[0] = a;
	r.der_len[0] = sizeof(a);
	r.der[1] = b;
	r.der_len[1] = sizeof(b);
	size_t len;
	struct bw_certfetch_reply d;
	assert_int_equal(bw_certfetch_reply_encode(&r, msg, sizeof(msg), &len), BW_OK);
	assert_int_equal(len, 8 + 24 + 4 + 300 + 4 + 1000);
	assert_int_equal(bw_certfetch_reply_decode(msg, len, &d), BW_OK);
	assert_int_equal(d.id, 77);
	assert_int_equal(d.n_certs, 2);
	assert_int_equal(d.der_len[1], 1000);
	assert_ptr_equal(d.der[0], msg + 36);
	assert_memory_equal(d.der[1], b, 1000);
	assert_int_equal(d.fetched_at, r.fetched_at);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(bw_certfetch_reply_decode(msg, n, &d), BW_EMALF);
	/* a certificate length that runs past the end, with the header length kept consistent */
	uint8_t save = msg[32];
	msg[32] = 0x01; /* 300 -> 16777516 */
	assert_int_equal(bw_certfetch_reply_decode(msg, len, &d), BW_EMALF);
	msg[32] = save;
	msg[35] = 0; /* first length 300 -> 256: the rest then misparses */
	msg[34] = 0x01;
	assert_int_equal(bw_certfetch_reply_decode(msg, len, &d), BW_EMALF);
	assert_int_equal(bw_certfetch_reply_encode(&r, msg, sizeof(msg), &len), BW_OK);
	uint8_t m2[64];
	struct { size_t off; uint8_t v; } bad[] = {
		{ 12, 0 }, { 12, 11 }, /* status out of range */
		{ 14, 17 },            /* more than 16 certificates */
		{ 15, 1 }, { 18, 1 },  /* reserved bytes */
	};
	for (size_t i = 0; i < BW_ARRAY_SIZE(bad); i++) {
		memcpy(m2, msg, sizeof(m2));
		m2[bad[i].off] = bad[i].v;
		assert_int_equal(bw_certfetch_reply_decode(m2, sizeof(m2), &d), BW_EMALF);
		memcpy(msg, m2, sizeof(m2));
		assert_int_equal(bw_certfetch_reply_decode(msg, len, &d), BW_EMALF);
		assert_int_equal(bw_certfetch_reply_encode(&r, msg, sizeof(msg), &len), BW_OK);
	}
	/* a zero-length certificate is refused both ways */
	r.der_len[1] = 0;
	assert_int_equal(bw_certfetch_reply_encode(&r, msg, sizeof(msg), &len), BW_EINVAL);
	r.der_len[1] = 1000;
	assert_int_equal(bw_certfetch_reply_encode(&r, msg, sizeof(msg), &len), BW_OK);
	msg[36 + 300 + 3] = 0;
	msg[36 + 300 + 2] = 0;
	assert_int_equal(bw_certfetch_reply_decode(msg, len, &d), BW_EMALF);
	/* a chain that does not fit the largest message */
	static uint8_t huge[60000];
	struct bw_certfetch_reply h = { .id = 1, .status = BW_CF_FETCHED, .n_certs = 2 };
	h.der[0] = h.der[1] = huge;
	h.der_len[0] = h.der_len[1] = sizeof(huge);
	assert_int_equal(bw_certfetch_reply_encode(&h, msg, sizeof(msg), &len), BW_ELIMIT);
	/* an empty status reply */
	struct bw_certfetch_reply e = { .id = 5, .status = BW_CF_TIMEOUT, .latency_ms = 2000 };
	assert_int_equal(bw_certfetch_reply_encode(&e, msg, sizeof(msg), &len), BW_OK);
	assert_int_equal(bw_certfetch_reply_decode(msg, len, &d), BW_OK);
	assert_int_equal(d.status, BW_CF_TIMEOUT);
	assert_string_equal(bw_certfetch_status_name(d.status), "timeout");
	assert_string_equal(bw_certfetch_status_name(99), "unknown");
}

static void test_cache(void **state)
{
	(void)state;
	struct bw_certfetch_cache *c = bw_certfetch_cache_new(4); /* one set of 4 */
	assert_non_null(c);
	const bw_time_t s = BW_NSEC_PER_SEC;
	assert_false(bw_certfetch_cache_fresh(c, 11, 0));
	bw_certfetch_cache_set(c, 11, 100 * s);
	assert_true(bw_certfetch_cache_fresh(c, 11, 99 * s));
	assert_false(bw_certfetch_cache_fresh(c, 11, 100 * s)); /* expired exactly at its time */
	bw_certfetch_cache_set(c, 11, 200 * s);                 /* update, not a second entry */
	assert_true(bw_certfetch_cache_fresh(c, 11, 150 * s));
	bw_certfetch_cache_set(c, 12, 300 * s);
	bw_certfetch_cache_set(c, 13, 50 * s);
	bw_certfetch_cache_set(c, 14, 400 * s);
	assert_int_equal(bw_certfetch_cache_evictions(c), 0);
	bw_certfetch_cache_set(c, 15, 500 * s); /* full: the one expiring first (13) goes */
	assert_int_equal(bw_certfetch_cache_evictions(c), 1);
	assert_false(bw_certfetch_cache_fresh(c, 13, 0));
	assert_true(bw_certfetch_cache_fresh(c, 11, 0));
	assert_true(bw_certfetch_cache_fresh(c, 15, 0));
	bw_certfetch_cache_free(c);
	bw_certfetch_cache_free(NULL);

	struct bw_ip a = { .family = 4, .a = { 192, 0, 2, 1 } }, b = a;
	b.a[3] = 2;
	uint64_t k = bw_certfetch_key(&a, 443, "www.example.com");
	assert_int_not_equal(k, 0);
	assert_int_equal(k, bw_certfetch_key(&a, 443, "www.example.com"));
	assert_int_not_equal(k, bw_certfetch_key(&b, 443, "www.example.com"));
	assert_int_not_equal(k, bw_certfetch_key(&a, 8443, "www.example.com"));
	assert_int_not_equal(k, bw_certfetch_key(&a, 443, "api.example.com"));
}

static void test_rate(void **state)
{
	(void)state;
	assert_null(bw_certfetch_rate_new(0));
	struct bw_certfetch_rate *r = bw_certfetch_rate_new(3);
	assert_non_null(r);
	const uint64_t s = BW_NSEC_PER_SEC, t0 = 1000 * s;
	assert_true(bw_certfetch_rate_take(r, t0));
	assert_true(bw_certfetch_rate_take(r, t0 + 10 * s));
	assert_true(bw_certfetch_rate_take(r, t0 + 20 * s));
	assert_false(bw_certfetch_rate_take(r, t0 + 30 * s)); /* 4th within the minute */
	assert_false(bw_certfetch_rate_take(r, t0 + 59 * s));
	assert_true(bw_certfetch_rate_take(r, t0 + 60 * s)); /* the first has left the window */
	assert_false(bw_certfetch_rate_take(r, t0 + 61 * s));
	for (int i = 0; i < 3; i++)
		assert_true(bw_certfetch_rate_take(r, t0 + 200 * s));
	assert_false(bw_certfetch_rate_take(r, t0 + 200 * s));
	bw_certfetch_rate_free(r);
}

static void test_gates(void **state)
{
	(void)state;
	static const char y[] = "owned:\n  domains: [example.com, Example.ORG]\n";
	struct bw_policy *p = NULL;
	char err[256], norm[BW_CERTFETCH_MAX_SNI + 1];
	assert_int_equal(bw_policy_load_buffer("t.yaml", y, sizeof(y) - 1, NULL, &p, err, sizeof(err)), BW_OK);
	assert_true(bw_certfetch_gate(p, "WWW.Example.COM.", norm, sizeof(norm)));
	assert_string_equal(norm, "www.example.com");
	assert_true(bw_certfetch_gate(p, "example.com", norm, sizeof(norm)));
	assert_true(bw_certfetch_gate(p, "a.b.example.org", norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(p, "www.other.test", norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(p, "badexample.com", norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(p, "example.com.evil.test", norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(p, "a b.example.com", norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(p, "a\\x00.example.com", norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(p, "", norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(p, ".", norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(p, NULL, norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(NULL, "www.example.com", norm, sizeof(norm)));
	assert_false(bw_certfetch_gate(p, "www.example.com", norm, 10)); /* too small an output */
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(bw_certfetch_gate(p, longname, norm, sizeof(norm)));
	bw_policy_free(p);

	struct bw_ip v4 = { .family = 4, .a = { 10, 1, 2, 3 } };
	assert_true(bw_certfetch_addr_ok(&v4, 443));
	assert_false(bw_certfetch_addr_ok(&v4, 0));
	v4.a[0] = 127;
	assert_false(bw_certfetch_addr_ok(&v4, 443));
	v4.a[0] = 0;
	assert_false(bw_certfetch_addr_ok(&v4, 443));
	v4.a[0] = 224;
	assert_false(bw_certfetch_addr_ok(&v4, 443));
	memset(v4.a, 255, 4);
	assert_false(bw_certfetch_addr_ok(&v4, 443));
	struct bw_ip v6 = { .family = 6, .a = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
	assert_true(bw_certfetch_addr_ok(&v6, 443));
	struct bw_ip lo6 = { .family = 6, .a = { [15] = 1 } };
	assert_false(bw_certfetch_addr_ok(&lo6, 443));
	struct bw_ip any6 = { .family = 6 };
	assert_false(bw_certfetch_addr_ok(&any6, 443));
	struct bw_ip mapped = { .family = 6, .a = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 } };
	assert_false(bw_certfetch_addr_ok(&mapped, 443));
	struct bw_ip none = { 0 };
	assert_false(bw_certfetch_addr_ok(&none, 443));
}

struct seen {
	unsigned n;
	int status;
	char sni[BW_CERTFETCH_MAX_SNI + 1];
	uint64_t packet;
};

static void on_reply(void *ctx, const struct bw_certfetch_reply *r, const struct bw_certfetch_origin *o)
{
	struct seen *s = ctx;
	s->n++;
	s->status = r->status;
	snprintf(s->sni, sizeof(s->sni), "%s", o->sni);
	s->packet = o->meta.packet;
}

/* A real fetcher process; the request names loopback, which the fetcher refuses without connecting. */
static void test_process_roundtrip(void **state)
{
	(void)state;
	struct bw_certfetch_config c;
	struct bw_policy_fetch pf = { .enabled = true, .refresh_seconds = 60, .max_per_minute = 5,
				      .timeout_seconds = 1, .max_concurrent = 2 };
	bw_certfetch_config_from_policy(&c, &pf);
	c.channels = 2;
	char err[256];
	struct bw_certfetch *f = bw_certfetch_start(&c, err, sizeof(err));
	assert_non_null(f);
	assert_null(bw_certfetch_client_new(f, 2)); /* no such channel */
	struct bw_certfetch_client *cl = bw_certfetch_client_new(f, 1);
	assert_non_null(cl);
	struct bw_certfetch_req req;
	make_req(&req);
	req.addr.a[0] = 127;
	req.addr.a[3] = 1;
	struct bw_certfetch_origin o = { 0 };
	strcpy(o.sni, "www.example.com");
	o.meta.packet = 42;
	const bw_time_t t = 1000 * BW_NSEC_PER_SEC;
	assert_int_equal(bw_certfetch_client_request(cl, &req, &o, t), BW_OK);
	assert_int_equal(bw_certfetch_client_outstanding(cl), 1);
	/* the same (address, port, SNI) again within refresh_seconds: from the cache */
	assert_int_equal(bw_certfetch_client_request(cl, &req, &o, t + BW_NSEC_PER_SEC), BW_EAGAIN);
	struct seen s = { 0 };
	bw_certfetch_client_drain(cl, on_reply, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.status, BW_CF_ERROR);
	assert_string_equal(s.sni, "www.example.com");
	assert_int_equal(s.packet, 42);
	assert_int_equal(bw_certfetch_client_outstanding(cl), 0);
	struct bw_certfetch_stats *st = bw_certfetch_client_stats(cl);
	assert_int_equal(st->requested, 1);
	assert_int_equal(st->cache_hits, 1);
	assert_int_equal(st->failed, 1);
	assert_int_equal(st->lost, 0);
	/* a failure may be asked again sooner than refresh_seconds... but not at once */
	assert_int_equal(bw_certfetch_client_request(cl, &req, &o, t + 2 * BW_NSEC_PER_SEC), BW_EAGAIN);
	bw_certfetch_client_free(cl);
	bw_certfetch_stop(f);
	bw_certfetch_stop(NULL);
	assert_null(bw_certfetch_start(NULL, err, sizeof(err)));
}

/* The fake fetcher's side: one request datagram, decoded. */
static void fake_read(int fd, struct bw_certfetch_req *r)
{
	uint8_t buf[BW_CERTFETCH_MAX_REQ + 1];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	assert_true(n > 0);
	assert_int_equal(bw_certfetch_req_decode(buf, (size_t)n, r), BW_OK);
}

static void fake_reply(int fd, uint32_t id, int status)
{
	uint8_t buf[256];
	size_t len;
	struct bw_certfetch_reply r = { .id = id, .status = (uint8_t)status, .latency_ms = 7 };
	assert_int_equal(bw_certfetch_reply_encode(&r, buf, sizeof(buf), &len), BW_OK);
	assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
}

struct quic_seen {
	unsigned n;
	int status;
	bool quic;
};

static void on_quic_reply(void *ctx, const struct bw_certfetch_reply *r, const struct bw_certfetch_origin *o)
{
	struct quic_seen *s = ctx;
	s->n++;
	s->status = r->status;
	s->quic = o->quic;
}

/*
 * The worker's side of a QUIC-only service, against a fake fetcher on a
 * socketpair: the request says UDP and keeps the observed ALPN (the fetcher
 * drops h3 when it goes over TCP), quic_no_tcp is its own counter (not a
 * failure) and, unlike a failure, is not asked again before refresh_seconds;
 * replies that are not ours change nothing; a fetcher that goes away makes
 * what is outstanding lost.
 */
static void test_client_quic_no_tcp(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	struct bw_policy_fetch pf = { .enabled = true, .refresh_seconds = 3600, .max_per_minute = 5,
				      .timeout_seconds = 1, .max_concurrent = 2 };
	struct bw_certfetch_config c;
	bw_certfetch_config_from_policy(&c, &pf);
	assert_null(bw_certfetch_attach(&c, sv, 0));
	struct bw_certfetch *f = bw_certfetch_attach(&c, sv, 1);
	assert_non_null(f);
	struct bw_certfetch_client *cl = bw_certfetch_client_new(f, 0);
	assert_non_null(cl);
	struct bw_certfetch_stats *st = bw_certfetch_client_stats(cl);

	struct bw_certfetch_req req, got;
	make_req(&req);
	req.transport = IPPROTO_UDP;
	req.n_alpn = 1;
	req.alpn_len[0] = 2;
	memcpy(req.alpn[0], "h3", 2);
	struct bw_certfetch_origin o = { 0 };
	strcpy(o.sni, "www.example.com");
	o.quic = true;
	const bw_time_t t = 1000 * BW_NSEC_PER_SEC, minute = 60 * BW_NSEC_PER_SEC;
	assert_int_equal(bw_certfetch_client_request(cl, &req, &o, t), BW_OK);
	fake_read(sv[1], &got);
	assert_int_equal(got.id, req.id);
	assert_int_equal(got.transport, IPPROTO_UDP);
	assert_int_equal(got.port, 443);
	assert_string_equal(got.sni, "www.example.com");
	assert_int_equal(got.n_alpn, 1);
	assert_memory_equal(got.alpn[0], "h3", 2);

	/* not ours: another id in the same slot, then a datagram that is not a reply */
	fake_reply(sv[1], got.id ^ 0x100, BW_CF_FETCHED);
	uint8_t junk[3] = { 1, 2, 3 };
	assert_int_equal(send(sv[1], junk, sizeof(junk), 0), 3);
	struct quic_seen s = { 0 };
	assert_int_equal(bw_certfetch_client_poll(cl, on_quic_reply, &s), 1); /* the stray one, ignored */
	assert_int_equal(s.n, 0);
	assert_int_equal(bw_certfetch_client_outstanding(cl), 1);

	fake_reply(sv[1], got.id, BW_CF_NO_TCP);
	assert_int_equal(bw_certfetch_client_poll(cl, on_quic_reply, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.status, BW_CF_NO_TCP);
	assert_true(s.quic);
	assert_int_equal(st->requested, 1);
	assert_int_equal(st->quic_no_tcp, 1);
	assert_int_equal(st->failed, 0);
	assert_int_equal(st->timeouts, 0);
	assert_int_equal(bw_certfetch_client_outstanding(cl), 0);
	assert_string_equal(bw_certfetch_status_name(BW_CF_NO_TCP), "quic_no_tcp");
	/* 6 minutes on: a failure would be asked again, quic_no_tcp waits for refresh_seconds */
	assert_int_equal(bw_certfetch_client_request(cl, &req, &o, t + 6 * minute), BW_EAGAIN);
	assert_int_equal(st->cache_hits, 1);

	/* a timeout for another port is asked again after 5 minutes */
	struct bw_certfetch_req req2 = req;
	req2.port = 8443;
	assert_int_equal(bw_certfetch_client_request(cl, &req2, &o, t), BW_OK);
	fake_read(sv[1], &got);
	assert_int_equal(got.port, 8443);
	fake_reply(sv[1], got.id, BW_CF_TIMEOUT);
	assert_int_equal(bw_certfetch_client_poll(cl, on_quic_reply, &s), 1);
	assert_int_equal(st->timeouts, 1);
	assert_int_equal(bw_certfetch_client_request(cl, &req2, &o, t + 4 * minute), BW_EAGAIN);
	assert_int_equal(bw_certfetch_client_request(cl, &req2, &o, t + 6 * minute), BW_OK);
	fake_read(sv[1], &got);

	/* the fetcher goes away with that request outstanding: lost, and no more requests */
	close(sv[1]);
	assert_int_equal(bw_certfetch_client_poll(cl, on_quic_reply, &s), 0);
	assert_int_equal(st->lost, 1);
	assert_int_equal(bw_certfetch_client_outstanding(cl), 0);
	req2.port = 8444;
	assert_int_equal(bw_certfetch_client_request(cl, &req2, &o, t + 7 * minute), BW_ELIMIT);
	assert_int_equal(st->queue_drops, 1);
	bw_certfetch_client_free(cl);
	bw_certfetch_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_req_roundtrip),
		cmocka_unit_test(test_req_hostile),
		cmocka_unit_test(test_reply_roundtrip_and_hostile),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_gates),
		cmocka_unit_test(test_process_roundtrip),
		cmocka_unit_test(test_client_quic_no_tcp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
