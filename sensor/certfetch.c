/* SPDX-License-Identifier: MIT */
/*
 * certfetch.c: active certificate fetch for owned names (certfetch.h).
 *
 * The fetching runs in a process of its own, forked at start-up, so the
 * sensor proper never needs socket()/connect() for it (it can run under a
 * seccomp filter that forbids them) and so the code that talks to servers
 * chosen by observed traffic holds no capture capabilities, no capture
 * descriptors and no output connections. The two sides talk over one
 * SOCK_SEQPACKET socketpair per worker: a datagram is a whole message, so a
 * non-blocking send either queues all of a request or none of it and the
 * worker never holds a half-written one. The fetcher is a single poll()
 * loop over its channels and at most max_concurrent non-blocking
 * connections driven through OpenSSL's non-blocking handshake; it keeps
 * the global limits (rate window, concurrency, timeouts) because it is the
 * one place that sees every request. The worker keeps the per-flow facts
 * (evidence of the session that asked) in a fixed slot table indexed by
 * the request id, so a reply carries only the id and the chain. Every
 * message is decoded through the bounded cursor as if hostile: a fetcher
 * that went wrong must not be able to make a worker read past a buffer.
 */
#define _GNU_SOURCE
#include "certfetch.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "../parsers/wire.h"
#include "policy.h"
#include "privdrop.h"

/* ---- names ---- */

const char *bw_certfetch_status_name(int status)
{
	switch (status) {
	case BW_CF_FETCHED: return "fetched";
	case BW_CF_CACHED: return "cached";
	case BW_CF_RATE_LIMITED: return "rate_limited";
	case BW_CF_BUSY: return "busy";
	case BW_CF_TIMEOUT: return "timeout";
	case BW_CF_UNREACHABLE: return "unreachable";
	case BW_CF_TLS_ERROR: return "tls_error";
	case BW_CF_NO_TCP: return "quic_no_tcp";
	case BW_CF_NO_CERT: return "no_certificate";
	case BW_CF_ERROR: return "error";
	default: return "unknown";
	}
}

/* ---- wire format ---- */

struct wbuf {
	uint8_t *p;
	size_t cap, len;
	bool over;
};

static void put(struct wbuf *b, const void *src, size_t n)
{
	if (b->over || n > b->cap - b->len) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put_u8(struct wbuf *b, uint8_t v) { put(b, &v, 1); }

static void put_u16(struct wbuf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(b, x, 2);
}

static void put_u32(struct wbuf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(b, x, 4);
}

static void put_u64(struct wbuf *b, uint64_t v)
{
	put_u32(b, (uint32_t)(v >> 32));
	put_u32(b, (uint32_t)v);
}

static void put_hdr(struct wbuf *b, uint8_t type)
{
	put_u8(b, BW_CERTFETCH_VERSION);
	put_u8(b, type);
	put_u16(b, 0);
	put_u32(b, 0); /* body length, patched by end_msg */
}

static int end_msg(struct wbuf *b, size_t *len)
{
	if (b->over)
		return BW_ELIMIT;
	uint32_t body = (uint32_t)(b->len - BW_CERTFETCH_HDR);
	b->p[4] = (uint8_t)(body >> 24);
	b->p[5] = (uint8_t)(body >> 16);
	b->p[6] = (uint8_t)(body >> 8);
	b->p[7] = (uint8_t)body;
	*len = b->len;
	return BW_OK;
}

/* Lower-case LDH host name (underscores allowed, as in service names): what goes to SSL_set_tlsext_host_name. */
static bool sni_ok(const char *s, size_t n)
{
	if (n == 0 || n > BW_CERTFETCH_MAX_SNI || s[0] == '.' || s[n - 1] == '.')
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

int bw_certfetch_req_encode(const struct bw_certfetch_req *r, uint8_t *buf, size_t cap, size_t *len)
{
	size_t sl = strnlen(r->sni, sizeof(r->sni));
	if (!sni_ok(r->sni, sl) || r->n_alpn > BW_CERTFETCH_MAX_ALPN || (r->addr.family != 4 && r->addr.family != 6))
		return BW_EINVAL;
	for (unsigned i = 0; i < r->n_alpn; i++)
		if (r->alpn_len[i] == 0 || r->alpn_len[i] > BW_CERTFETCH_MAX_ALPN_LEN)
			return BW_EINVAL;
	struct wbuf b = { buf, cap, 0, false };
	put_hdr(&b, BW_CERTFETCH_REQUEST);
	put_u32(&b, r->id);
	put_u8(&b, r->addr.family);
	put_u8(&b, r->transport);
	put_u16(&b, r->port);
	uint8_t a[16] = { 0 };
	memcpy(a, r->addr.a, r->addr.family == 4 ? 4 : 16);
	put(&b, a, 16);
	put_u8(&b, (uint8_t)sl);
	put(&b, r->sni, sl);
	put_u8(&b, r->n_alpn);
	for (unsigned i = 0; i < r->n_alpn; i++) {
		put_u8(&b, r->alpn_len[i]);
		put(&b, r->alpn[i], r->alpn_len[i]);
	}
	return end_msg(&b, len);
}

/* The header of a message of type t; body is the rest (exactly the stated length). */
static bool read_hdr(struct bw_wire *w, size_t n, uint8_t t)
{
	uint8_t v = bw_wire_u8(w), type = bw_wire_u8(w);
	uint16_t z = bw_wire_u16(w);
	uint32_t body = bw_wire_u32(w);
	return bw_wire_ok(w) && v == BW_CERTFETCH_VERSION && type == t && z == 0 && n <= BW_CERTFETCH_MAX_MSG &&
	       (size_t)body == n - BW_CERTFETCH_HDR;
}

int bw_certfetch_req_decode(const uint8_t *p, size_t n, struct bw_certfetch_req *r)
{
	struct bw_wire w;
	memset(r, 0, sizeof(*r));
	bw_wire_init(&w, p, n);
	if (!read_hdr(&w, n, BW_CERTFETCH_REQUEST))
		return BW_EMALF;
	r->id = bw_wire_u32(&w);
	r->addr.family = bw_wire_u8(&w);
	r->transport = bw_wire_u8(&w);
	r->port = bw_wire_u16(&w);
	bw_wire_copy(&w, r->addr.a, 16);
	uint8_t sl = bw_wire_u8(&w);
	const uint8_t *s = bw_wire_ptr(&w, sl);
	if (!bw_wire_ok(&w) || (r->addr.family != 4 && r->addr.family != 6) ||
	    (r->transport != IPPROTO_TCP && r->transport != IPPROTO_UDP))
		goto malformed;
	if (r->addr.family == 4)
		memset(r->addr.a + 4, 0, 12); /* canonical form: addresses compare with memcmp */
	memcpy(r->sni, s, sl);
	r->sni[sl] = '\0';
	if (!sni_ok(r->sni, sl))
		goto malformed;
	r->n_alpn = bw_wire_u8(&w);
	if (!bw_wire_ok(&w) || r->n_alpn > BW_CERTFETCH_MAX_ALPN)
		goto malformed;
	for (unsigned i = 0; i < r->n_alpn; i++) {
		uint8_t al = bw_wire_u8(&w);
		const uint8_t *ap = bw_wire_ptr(&w, al);
		if (!bw_wire_ok(&w) || al == 0 || al > BW_CERTFETCH_MAX_ALPN_LEN)
			goto malformed;
		r->alpn_len[i] = al;
		memcpy(r->alpn[i], ap, al);
	}
	if (bw_wire_left(&w) != 0)
		goto malformed;
	return BW_OK;
malformed:
	memset(r, 0, sizeof(*r));
	return BW_EMALF;
}

int bw_certfetch_reply_encode(const struct bw_certfetch_reply *r, uint8_t *buf, size_t cap, size_t *len)
{
	if (r->n_certs > BW_CERTFETCH_MAX_CERTS)
		return BW_EINVAL;
	for (unsigned i = 0; i < r->n_certs; i++)
		if (!r->der[i] || r->der_len[i] == 0 || r->der_len[i] > 65535)
			return BW_EINVAL;
	struct wbuf b = { buf, BW_MIN(cap, (size_t)BW_CERTFETCH_MAX_MSG), 0, false };
	put_hdr(&b, BW_CERTFETCH_REPLY);
	put_u32(&b, r->id);
	put_u8(&b, r->status);
	put_u8(&b, r->flags);
	put_u8(&b, r->n_certs);
	put_u8(&b, 0);
	put_u16(&b, r->tls_version);
	put_u16(&b, 0);
	put_u32(&b, r->latency_ms);
	put_u64(&b, r->fetched_at);
	for (unsigned i = 0; i < r->n_certs; i++) {
		put_u32(&b, r->der_len[i]);
		put(&b, r->der[i], r->der_len[i]);
	}
	return end_msg(&b, len);
}

int bw_certfetch_reply_decode(const uint8_t *p, size_t n, struct bw_certfetch_reply *r)
{
	struct bw_wire w;
	memset(r, 0, sizeof(*r));
	bw_wire_init(&w, p, n);
	if (!read_hdr(&w, n, BW_CERTFETCH_REPLY))
		return BW_EMALF;
	r->id = bw_wire_u32(&w);
	r->status = bw_wire_u8(&w);
	r->flags = bw_wire_u8(&w);
	r->n_certs = bw_wire_u8(&w);
	uint8_t z1 = bw_wire_u8(&w);
	r->tls_version = bw_wire_u16(&w);
	uint16_t z2 = bw_wire_u16(&w);
	r->latency_ms = bw_wire_u32(&w);
	r->fetched_at = bw_wire_u64(&w);
	if (!bw_wire_ok(&w) || z1 || z2 || r->status < 1 || r->status > BW_CF__MAX ||
	    r->n_certs > BW_CERTFETCH_MAX_CERTS)
		goto malformed;
	for (unsigned i = 0; i < r->n_certs; i++) {
		uint32_t l = bw_wire_u32(&w);
		if (!bw_wire_ok(&w) || l == 0 || l > 65535)
			goto malformed;
		r->der[i] = bw_wire_ptr(&w, l);
		r->der_len[i] = l;
		if (!bw_wire_ok(&w))
			goto malformed;
	}
	if (bw_wire_left(&w) != 0)
		goto malformed;
	return BW_OK;
malformed:
	memset(r, 0, sizeof(*r));
	return BW_EMALF;
}

/* ---- key, gates ---- */

uint64_t bw_certfetch_key(const struct bw_ip *addr, uint16_t port, const char *sni)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ addr->family ^ ((uint64_t)port << 8);
	for (size_t i = 0; i < 16; i++)
		h = (h ^ addr->a[i]) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL;
	for (const char *c = sni; c && *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
	h = bw_mix64(h);
	return h ? h : 1;
}

bool bw_certfetch_gate(const struct bw_policy *p, const char *sni, char *norm, size_t cap)
{
	if (!p || !sni || cap < BW_CERTFETCH_MAX_SNI + 1)
		return false;
	size_t n = strnlen(sni, BW_CERTFETCH_MAX_SNI + 2);
	if (n && sni[n - 1] == '.')
		n--;
	if (n == 0 || n > BW_CERTFETCH_MAX_SNI)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = sni[i];
		norm[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	norm[n] = '\0';
	return sni_ok(norm, n) && bw_policy_owns_name(p, norm, n);
}

bool bw_certfetch_addr_ok(const struct bw_ip *a, uint16_t port)
{
	static const uint8_t zero[16];
	if (port == 0)
		return false;
	if (a->family == 4) {
		const uint8_t *b = a->a;
		if (b[0] == 0 || b[0] == 127 || b[0] >= 224) /* this network, loopback, multicast, reserved, broadcast */
			return false;
		return true;
	}
	if (a->family != 6)
		return false;
	if (memcmp(a->a, zero, 16) == 0 || a->a[0] == 0xff)
		return false;
	if (memcmp(a->a, zero, 15) == 0 && a->a[15] == 1) /* ::1 */
		return false;
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(a->a, v4mapped, 12) == 0) {
		struct bw_ip v4 = { .family = 4 };
		memcpy(v4.a, a->a + 12, 4);
		return bw_certfetch_addr_ok(&v4, port);
	}
	return true;
}

/* ---- the recently-asked cache ---- */

#define CACHE_WAYS 4

struct cache_slot {
	uint64_t key;
	bw_time_t expires;
};

struct bw_certfetch_cache {
	uint32_t buckets; /* power of two */
	uint64_t evictions;
	struct cache_slot slot[];
};

struct bw_certfetch_cache *bw_certfetch_cache_new(uint32_t entries)
{
	uint32_t b = 1;
	while (b < (1u << 24) && (uint64_t)b * CACHE_WAYS < entries)
		b <<= 1;
	struct bw_certfetch_cache *c = calloc(1, sizeof(*c) + (size_t)b * CACHE_WAYS * sizeof(struct cache_slot));
	if (c)
		c->buckets = b;
	return c;
}

void bw_certfetch_cache_free(struct bw_certfetch_cache *c) { free(c); }

static struct cache_slot *cache_set_of(const struct bw_certfetch_cache *c, uint64_t key)
{
	return (struct cache_slot *)&c->slot[(bw_mix64(key) & (c->buckets - 1)) * CACHE_WAYS];
}

bool bw_certfetch_cache_fresh(const struct bw_certfetch_cache *c, uint64_t key, bw_time_t now)
{
	const struct cache_slot *s = cache_set_of(c, key);
	for (unsigned i = 0; i < CACHE_WAYS; i++)
		if (s[i].key == key)
			return s[i].expires > now;
	return false;
}

void bw_certfetch_cache_set(struct bw_certfetch_cache *c, uint64_t key, bw_time_t expires)
{
	struct cache_slot *s = cache_set_of(c, key);
	unsigned victim = 0;
	for (unsigned i = 0; i < CACHE_WAYS; i++) {
		if (s[i].key == key || s[i].key == 0) {
			victim = i;
			goto store;
		}
		if (s[i].expires < s[victim].expires)
			victim = i;
	}
	c->evictions++;
store:
	s[victim].key = key;
	s[victim].expires = expires;
}

uint64_t bw_certfetch_cache_evictions(const struct bw_certfetch_cache *c) { return c ? c->evictions : 0; }

/* ---- the rate window ---- */

struct bw_certfetch_rate {
	uint32_t n, head, used;
	uint64_t t[]; /* take times, oldest at head */
};

struct bw_certfetch_rate *bw_certfetch_rate_new(uint32_t per_minute)
{
	if (per_minute == 0)
		return NULL;
	struct bw_certfetch_rate *r = calloc(1, sizeof(*r) + (size_t)per_minute * sizeof(uint64_t));
	if (r)
		r->n = per_minute;
	return r;
}

void bw_certfetch_rate_free(struct bw_certfetch_rate *r) { free(r); }

bool bw_certfetch_rate_take(struct bw_certfetch_rate *r, uint64_t now)
{
	const uint64_t window = 60 * BW_NSEC_PER_SEC;
	while (r->used && now - r->t[r->head] >= window) {
		r->head = (r->head + 1) % r->n;
		r->used--;
	}
	if (r->used == r->n)
		return false;
	r->t[(r->head + r->used) % r->n] = now;
	r->used++;
	return true;
}

/* ---- the fetcher process ---- */

void bw_certfetch_config_from_policy(struct bw_certfetch_config *c, const struct bw_policy_fetch *f)
{
	memset(c, 0, sizeof(*c));
	c->source_address = f->source_address;
	c->refresh_seconds = f->refresh_seconds ? f->refresh_seconds : BW_POLICY_DEFAULT_FETCH_REFRESH_SECONDS;
	c->max_per_minute = f->max_per_minute ? f->max_per_minute : BW_POLICY_DEFAULT_FETCH_MAX_PER_MINUTE;
	c->timeout_seconds = f->timeout_seconds ? f->timeout_seconds : BW_POLICY_DEFAULT_FETCH_TIMEOUT_SECONDS;
	c->max_concurrent = f->max_concurrent ? f->max_concurrent : BW_POLICY_DEFAULT_FETCH_MAX_CONCURRENT;
	c->channels = 1;
}

struct bw_certfetch {
	struct bw_certfetch_config cfg;
	unsigned n;
	int fd[BW_CERTFETCH_MAX_CHANNELS]; /* the sensor's ends */
};

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * BW_NSEC_PER_SEC + (uint64_t)t.tv_nsec;
}

static bw_time_t wall_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (bw_time_t)t.tv_sec * BW_NSEC_PER_SEC + (bw_time_t)t.tv_nsec;
}

#define FX_WAITQ 256       /* requests waiting for a connection slot */
#define FX_OUTQ 32         /* replies waiting for room in a channel */
#define FX_CACHE 256       /* chains kept (direct-mapped by key) */
#define FX_MAX_CONC 64

enum { J_FREE, J_CONNECT, J_TLS };

struct fx_job {
	int state;
	int fd;
	SSL *ssl;
	short want; /* POLLIN / POLLOUT */
	unsigned ch;
	uint64_t key, start, deadline;
	struct bw_certfetch_req req;
};

struct fx_wait {
	unsigned ch;
	struct bw_certfetch_req req;
};

struct fx_out {
	uint8_t *buf;
	size_t len;
};

struct fx_chan {
	int fd;
	bool closed;
	struct fx_out q[FX_OUTQ];
	unsigned head, len;
};

struct fx_cached {
	uint64_t key, expires; /* monotonic */
	uint16_t version;
	uint8_t flags, n;
	uint32_t len[BW_CERTFETCH_MAX_CERTS];
	uint8_t *blob; /* the DERs one after the other */
};

struct fx {
	struct bw_certfetch_config cfg;
	SSL_CTX *ctx;
	struct bw_certfetch_rate *rate;
	struct fx_chan ch[BW_CERTFETCH_MAX_CHANNELS];
	unsigned n_ch, open_ch;
	struct fx_job job[FX_MAX_CONC];
	unsigned active;
	struct fx_wait wq[FX_WAITQ];
	unsigned wq_head, wq_len;
	struct fx_cached cache[FX_CACHE];
	uint8_t *msg; /* BW_CERTFETCH_MAX_MSG */
};

static void fx_send(struct fx *x, unsigned ch, const uint8_t *buf, size_t len)
{
	struct fx_chan *c = &x->ch[ch];
	if (c->closed)
		return;
	if (c->len == 0) {
		ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			c->closed = true;
			return;
		}
	}
	if (c->len == FX_OUTQ)
		return; /* the worker is not reading: it counts the request lost at its end */
	uint8_t *copy = malloc(len);
	if (!copy)
		return;
	memcpy(copy, buf, len);
	c->q[(c->head + c->len) % FX_OUTQ] = (struct fx_out){ copy, len };
	c->len++;
}

static void fx_flush(struct fx_chan *c)
{
	while (c->len && !c->closed) {
		struct fx_out *o = &c->q[c->head];
		ssize_t n = send(c->fd, o->buf, o->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n < 0)
			c->closed = true;
		free(o->buf);
		c->head = (c->head + 1) % FX_OUTQ;
		c->len--;
	}
}

static void fx_reply(struct fx *x, unsigned ch, struct bw_certfetch_reply *r)
{
	size_t len;
	if (bw_certfetch_reply_encode(r, x->msg, BW_CERTFETCH_MAX_MSG, &len) != BW_OK) {
		struct bw_certfetch_reply e = { .id = r->id, .status = BW_CF_ERROR, .fetched_at = r->fetched_at };
		if (bw_certfetch_reply_encode(&e, x->msg, BW_CERTFETCH_MAX_MSG, &len) != BW_OK)
			return;
	}
	fx_send(x, ch, x->msg, len);
}

static void fx_status(struct fx *x, unsigned ch, uint32_t id, int status, uint64_t start)
{
	struct bw_certfetch_reply r = { .id = id, .status = (uint8_t)status, .fetched_at = wall_ns() };
	if (start)
		r.latency_ms = (uint32_t)((mono_ns() - start) / BW_NSEC_PER_MSEC);
	fx_reply(x, ch, &r);
}

static struct fx_cached *fx_cache_find(struct fx *x, uint64_t key)
{
	struct fx_cached *e = &x->cache[bw_mix64(key) % FX_CACHE];
	return e->key == key && e->expires > mono_ns() ? e : NULL;
}

static void fx_reply_cached(struct fx *x, unsigned ch, uint32_t id, const struct fx_cached *e)
{
	struct bw_certfetch_reply r = { .id = id, .status = BW_CF_CACHED, .tls_version = e->version,
					.flags = e->flags, .n_certs = e->n, .fetched_at = wall_ns() };
	size_t off = 0;
	for (unsigned i = 0; i < e->n; i++) {
		r.der[i] = e->blob + off;
		r.der_len[i] = e->len[i];
		off += e->len[i];
	}
	fx_reply(x, ch, &r);
}

static void job_close(struct fx *x, struct fx_job *j)
{
	if (j->ssl) {
		/* close_notify (an alert, not application data); no wait for the peer's. */
		if (SSL_is_init_finished(j->ssl))
			SSL_shutdown(j->ssl);
		SSL_free(j->ssl);
	}
	if (j->fd >= 0)
		close(j->fd);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->state = J_FREE;
	x->active--;
}

/* The handshake is done: the chain (leaf first) as the server sent it. */
static void job_done(struct fx *x, struct fx_job *j)
{
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(j->ssl);
	int n = sk ? sk_X509_num(sk) : 0;
	struct bw_certfetch_reply r = { .id = j->req.id, .status = BW_CF_FETCHED,
					.tls_version = (uint16_t)SSL_version(j->ssl), .fetched_at = wall_ns() };
	r.latency_ms = (uint32_t)((mono_ns() - j->start) / BW_NSEC_PER_MSEC);
	uint8_t *blob = malloc(BW_CERTFETCH_MAX_MSG);
	size_t used = 0, room = BW_CERTFETCH_MAX_MSG - BW_CERTFETCH_HDR - 24;
	for (int i = 0; blob && i < n && r.n_certs < BW_CERTFETCH_MAX_CERTS; i++) {
		int l = i2d_X509(sk_X509_value(sk, i), NULL);
		if (l <= 0 || l > 65535 || (size_t)l + 4 > room) {
			r.flags |= BW_CF_FLAG_CUT;
			break;
		}
		uint8_t *p = blob + used;
		if (i2d_X509(sk_X509_value(sk, i), &p) != l)
			break;
		r.der[r.n_certs] = blob + used;
		r.der_len[r.n_certs++] = (uint32_t)l;
		used += (size_t)l;
		room -= (size_t)l + 4;
	}
	if (n > r.n_certs)
		r.flags |= BW_CF_FLAG_CUT;
	if (!blob)
		r.status = BW_CF_ERROR;
	else if (r.n_certs == 0)
		r.status = BW_CF_NO_CERT;
	fx_reply(x, j->ch, &r);
	if (r.status == BW_CF_FETCHED) {
		struct fx_cached *e = &x->cache[bw_mix64(j->key) % FX_CACHE];
		free(e->blob);
		memset(e, 0, sizeof(*e));
		e->blob = realloc(blob, used ? used : 1);
		if (e->blob) {
			blob = NULL;
			e->key = j->key;
			e->expires = mono_ns() + (uint64_t)x->cfg.refresh_seconds * BW_NSEC_PER_SEC;
			e->version = r.tls_version;
			e->flags = r.flags;
			e->n = r.n_certs;
			memcpy(e->len, r.der_len, sizeof(e->len));
		}
	}
	free(blob);
	job_close(x, j);
}

static void job_fail(struct fx *x, struct fx_job *j, int status)
{
	fx_status(x, j->ch, j->req.id, status, j->start);
	job_close(x, j);
}

/* Drive the handshake as far as the socket allows. */
static void job_tls(struct fx *x, struct fx_job *j)
{
	ERR_clear_error();
	int rc = SSL_connect(j->ssl);
	if (rc == 1) {
		job_done(x, j);
		return;
	}
	int e = SSL_get_error(j->ssl, rc);
	if (e == SSL_ERROR_WANT_READ)
		j->want = POLLIN;
	else if (e == SSL_ERROR_WANT_WRITE)
		j->want = POLLOUT;
	else
		job_fail(x, j, BW_CF_TLS_ERROR);
}

static void job_connected(struct fx *x, struct fx_job *j)
{
	j->ssl = SSL_new(x->ctx);
	if (!j->ssl || SSL_set_fd(j->ssl, j->fd) != 1 || SSL_set_tlsext_host_name(j->ssl, j->req.sni) != 1) {
		job_fail(x, j, BW_CF_ERROR);
		return;
	}
	/* The observed ALPN offer, minus the QUIC-only ids when TLS goes over TCP instead. */
	uint8_t alpn[BW_CERTFETCH_MAX_ALPN * (BW_CERTFETCH_MAX_ALPN_LEN + 1)];
	size_t al = 0;
	for (unsigned i = 0; i < j->req.n_alpn; i++) {
		if (j->req.transport == IPPROTO_UDP && j->req.alpn_len[i] >= 2 && memcmp(j->req.alpn[i], "h3", 2) == 0)
			continue;
		alpn[al++] = j->req.alpn_len[i];
		memcpy(alpn + al, j->req.alpn[i], j->req.alpn_len[i]);
		al += j->req.alpn_len[i];
	}
	if (al)
		SSL_set_alpn_protos(j->ssl, alpn, (unsigned)al);
	SSL_set_connect_state(j->ssl);
	j->state = J_TLS;
	job_tls(x, j);
}

static void job_start(struct fx *x, unsigned ch, const struct bw_certfetch_req *req, uint64_t key)
{
	struct fx_job *j = NULL;
	for (unsigned i = 0; i < FX_MAX_CONC && !j; i++)
		if (x->job[i].state == J_FREE)
			j = &x->job[i];
	if (!j) {
		fx_status(x, ch, req->id, BW_CF_BUSY, 0);
		return;
	}
	x->active++;
	memset(j, 0, sizeof(*j));
	j->ch = ch;
	j->key = key;
	j->req = *req;
	j->start = mono_ns();
	j->deadline = j->start + (uint64_t)x->cfg.timeout_seconds * BW_NSEC_PER_SEC;
	j->state = J_CONNECT;
	j->want = POLLOUT;
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	int af = req->addr.family == 4 ? AF_INET : AF_INET6;
	if (af == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(req->port);
		memcpy(&s4->sin_addr, req->addr.a, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(req->port);
		memcpy(&s6->sin6_addr, req->addr.a, 16);
		sl = sizeof(*s6);
	}
	j->fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (j->fd < 0) {
		job_fail(x, j, BW_CF_ERROR);
		return;
	}
	const struct bw_ip *src = &x->cfg.source_address;
	if (src->family == req->addr.family) {
		struct sockaddr_storage bs;
		memset(&bs, 0, sizeof(bs));
		if (af == AF_INET) {
			((struct sockaddr_in *)&bs)->sin_family = AF_INET;
			memcpy(&((struct sockaddr_in *)&bs)->sin_addr, src->a, 4);
		} else {
			((struct sockaddr_in6 *)&bs)->sin6_family = AF_INET6;
			memcpy(&((struct sockaddr_in6 *)&bs)->sin6_addr, src->a, 16);
		}
		if (bind(j->fd, (struct sockaddr *)&bs, sl) != 0) {
			job_fail(x, j, BW_CF_ERROR);
			return;
		}
	}
	if (connect(j->fd, (struct sockaddr *)&ss, sl) == 0) {
		job_connected(x, j);
	} else if (errno != EINPROGRESS) {
		job_fail(x, j, req->transport == IPPROTO_UDP ? BW_CF_NO_TCP : BW_CF_UNREACHABLE);
	}
}

static void fx_request(struct fx *x, unsigned ch, const struct bw_certfetch_req *req)
{
	if (!bw_certfetch_addr_ok(&req->addr, req->port)) {
		fx_status(x, ch, req->id, BW_CF_ERROR, 0);
		return;
	}
	uint64_t key = bw_certfetch_key(&req->addr, req->port, req->sni);
	const struct fx_cached *e = fx_cache_find(x, key);
	if (e) {
		fx_reply_cached(x, ch, req->id, e);
		return;
	}
	if (x->active < x->cfg.max_concurrent) {
		if (!bw_certfetch_rate_take(x->rate, mono_ns())) {
			fx_status(x, ch, req->id, BW_CF_RATE_LIMITED, 0);
			return;
		}
		job_start(x, ch, req, key);
		return;
	}
	if (x->wq_len == FX_WAITQ) {
		fx_status(x, ch, req->id, BW_CF_BUSY, 0);
		return;
	}
	x->wq[(x->wq_head + x->wq_len) % FX_WAITQ] = (struct fx_wait){ ch, *req };
	x->wq_len++;
}

/* Start what waits, as slots free up (the cache may answer it by now). */
static void fx_dequeue(struct fx *x)
{
	while (x->wq_len && x->active < x->cfg.max_concurrent) {
		struct fx_wait w = x->wq[x->wq_head];
		x->wq_head = (x->wq_head + 1) % FX_WAITQ;
		x->wq_len--;
		if (!x->ch[w.ch].closed)
			fx_request(x, w.ch, &w.req);
	}
}

static void fx_read_channel(struct fx *x, unsigned ch)
{
	struct fx_chan *c = &x->ch[ch];
	for (unsigned k = 0; k < 64 && !c->closed; k++) {
		ssize_t n = recv(c->fd, x->msg, BW_CERTFETCH_MAX_REQ + 1, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			c->closed = true;
			return;
		}
		struct bw_certfetch_req req;
		if ((size_t)n > BW_CERTFETCH_MAX_REQ || bw_certfetch_req_decode(x->msg, (size_t)n, &req) != BW_OK)
			continue; /* not from our sensor: nothing to answer */
		fx_request(x, ch, &req);
	}
}

static void fx_loop(struct fx *x)
{
	struct pollfd pf[BW_CERTFETCH_MAX_CHANNELS + FX_MAX_CONC];
	int map[BW_CERTFETCH_MAX_CHANNELS + FX_MAX_CONC];
	for (;;) {
		unsigned np = 0, open = 0;
		for (unsigned i = 0; i < x->n_ch; i++) {
			if (x->ch[i].closed)
				continue;
			open++;
			pf[np] = (struct pollfd){ x->ch[i].fd, (short)(POLLIN | (x->ch[i].len ? POLLOUT : 0)), 0 };
			map[np++] = (int)i;
		}
		if (open == 0)
			return; /* the sensor is gone: nobody to answer */
		uint64_t now = mono_ns(), next = UINT64_MAX;
		for (unsigned i = 0; i < FX_MAX_CONC; i++) {
			struct fx_job *j = &x->job[i];
			if (j->state == J_FREE)
				continue;
			pf[np] = (struct pollfd){ j->fd, j->want, 0 };
			map[np++] = -1 - (int)i;
			if (j->deadline < next)
				next = j->deadline;
		}
		int tmo = -1;
		if (next != UINT64_MAX)
			tmo = next <= now ? 0 : (int)BW_MIN((next - now + BW_NSEC_PER_MSEC - 1) / BW_NSEC_PER_MSEC, 60000u);
		int rc = poll(pf, np, tmo);
		if (rc < 0 && errno != EINTR)
			return;
		for (unsigned k = 0; rc > 0 && k < np; k++) {
			if (!pf[k].revents)
				continue;
			if (map[k] >= 0) {
				struct fx_chan *c = &x->ch[map[k]];
				if (pf[k].revents & POLLOUT)
					fx_flush(c);
				if (pf[k].revents & (POLLIN | POLLHUP | POLLERR))
					fx_read_channel(x, (unsigned)map[k]);
				continue;
			}
			struct fx_job *j = &x->job[-1 - map[k]];
			if (j->state == J_CONNECT) {
				int err = 0;
				socklen_t el = sizeof(err);
				if (getsockopt(j->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
					err = errno;
				if (err == EINPROGRESS)
					continue;
				if (err)
					job_fail(x, j, j->req.transport == IPPROTO_UDP ? BW_CF_NO_TCP : BW_CF_UNREACHABLE);
				else
					job_connected(x, j);
			} else if (j->state == J_TLS) {
				job_tls(x, j);
			}
		}
		now = mono_ns();
		for (unsigned i = 0; i < FX_MAX_CONC; i++) {
			struct fx_job *j = &x->job[i];
			if (j->state != J_FREE && j->deadline <= now)
				job_fail(x, j, j->state == J_CONNECT && j->req.transport == IPPROTO_UDP ? BW_CF_NO_TCP
													   : BW_CF_TIMEOUT);
		}
		fx_dequeue(x);
	}
}

/*
 * The sensor is gone: free what the loop held. Only a sanitizer build needs
 * it (the process ends right after), where it lets LeakSanitizer hold the
 * fetcher to the same standard as the sensor: _exit() skips its check at
 * exit, so it is run here, and a leak report goes to the sensor's stderr.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FX_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FX_LEAK_CHECK 1
#endif
#endif
#ifdef FX_LEAK_CHECK
#include <sanitizer/lsan_interface.h>

static void fx_deinit(struct fx *x)
{
	for (unsigned i = 0; i < FX_MAX_CONC; i++)
		if (x->job[i].state != J_FREE)
			job_close(x, &x->job[i]);
	for (unsigned i = 0; i < x->n_ch; i++) {
		struct fx_chan *c = &x->ch[i];
		for (; c->len; c->len--, c->head = (c->head + 1) % FX_OUTQ)
			free(c->q[c->head].buf);
		close(c->fd);
	}
	for (unsigned i = 0; i < FX_CACHE; i++)
		free(x->cache[i].blob);
	SSL_CTX_free(x->ctx);
	bw_certfetch_rate_free(x->rate);
	free(x->msg);
	memset(x, 0, sizeof(*x));
	__lsan_do_leak_check();
}
#endif

/* Everything but the channels (and stdin/out/err, which go to /dev/null except stderr). */
static void close_other_fds(const int *keep, unsigned n)
{
	int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (dn >= 0) {
		dup2(dn, STDIN_FILENO);
		dup2(dn, STDOUT_FILENO); /* stdout may be the sensor's jsonl output */
		if (dn > STDERR_FILENO)
			close(dn);
	}
	int fds[1024];
	unsigned nf = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;
		int self = dirfd(d);
		while ((de = readdir(d)) != NULL && nf < BW_ARRAY_SIZE(fds)) {
			char *end;
			long fd = strtol(de->d_name, &end, 10);
			if (*end || end == de->d_name || fd <= STDERR_FILENO || fd == self)
				continue;
			fds[nf++] = (int)fd;
		}
		closedir(d);
	} else {
		for (int fd = STDERR_FILENO + 1; fd < 1024; fd++)
			fds[nf++] = fd;
	}
	for (unsigned i = 0; i < nf; i++) {
		bool mine = false;
		for (unsigned k = 0; k < n; k++)
			mine |= keep[k] == fds[i];
		if (!mine)
			close(fds[i]);
	}
}

/*
 * Without --user the fetcher keeps the sensor's ids, but none of its
 * capabilities: connecting, and binding source_address with port 0, need
 * none, so a root sensor's fetcher has no CAP_NET_RAW, CAP_NET_ADMIN or
 * CAP_DAC_OVERRIDE (nor a capture binary's file capabilities). The bounding
 * set shrinks only where CAP_SETPCAP allows; the empty sets are what count.
 */
static int fx_drop_caps(void)
{
	for (int c = 0; c < 64; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno == EINVAL)
			break; /* past the kernel's last capability */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    !bw_privdrop_caps_empty())
		return BW_EIO;
	return BW_OK;
}

static void fx_child(const struct bw_certfetch_config *cfg, const int *fds, unsigned n)
{
	prctl(PR_SET_NAME, "bw-certfetch");
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* A terminal's ^C reaches the whole group: the sensor decides when we stop (it closes the channels). */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	close_other_fds(fds, n);
	char err[256];
	if (cfg->user && geteuid() == 0) {
		if (bw_privdrop(cfg->user, err, sizeof(err)) != BW_OK) {
			fprintf(stderr, "bindwatch: certificate fetcher: %s\n", err);
			_exit(1);
		}
	} else if (fx_drop_caps() != BW_OK) {
		fprintf(stderr, "bindwatch: certificate fetcher: cannot drop capabilities\n");
		_exit(1);
	}
	static struct fx x; /* the child's only instance; large, so not on the stack */
	memset(&x, 0, sizeof(x));
	x.cfg = *cfg;
	if (x.cfg.max_concurrent > FX_MAX_CONC)
		x.cfg.max_concurrent = FX_MAX_CONC;
	x.n_ch = n;
	for (unsigned i = 0; i < n; i++)
		x.ch[i].fd = fds[i];
	for (unsigned i = 0; i < FX_MAX_CONC; i++)
		x.job[i].fd = -1;
	x.msg = malloc(BW_CERTFETCH_MAX_MSG);
	x.rate = bw_certfetch_rate_new(cfg->max_per_minute);
	x.ctx = SSL_CTX_new(TLS_client_method());
	if (!x.msg || !x.rate || !x.ctx) {
		fprintf(stderr, "bindwatch: certificate fetcher: cannot initialise\n");
		_exit(1);
	}
	/* We read what the server presents and judge it ourselves: no verification
	 * here, and security level 0 so weak keys and old versions still show. */
	SSL_CTX_set_verify(x.ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_security_level(x.ctx, 0);
	SSL_CTX_set_min_proto_version(x.ctx, 0);
	SSL_CTX_set_session_cache_mode(x.ctx, SSL_SESS_CACHE_OFF);
	/* Ready: the sensor waits for this before it goes on. */
	uint8_t ready = 'R';
	if (send(fds[0], &ready, 1, MSG_NOSIGNAL) != 1)
		_exit(1);
	fx_loop(&x);
#ifdef FX_LEAK_CHECK
	fx_deinit(&x);
#endif
	_exit(0);
}

struct bw_certfetch *bw_certfetch_start(const struct bw_certfetch_config *c, char *err, size_t errcap)
{
	int child_fd[BW_CERTFETCH_MAX_CHANNELS];
	unsigned made = 0;
	if (!c || c->channels < 1 || c->channels > BW_CERTFETCH_MAX_CHANNELS || !c->max_per_minute ||
	    !c->timeout_seconds || !c->max_concurrent) {
		snprintf(err, errcap, "certificate fetch: bad configuration");
		return NULL;
	}
	struct bw_certfetch *f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errcap, "certificate fetch: out of memory");
		return NULL;
	}
	f->cfg = *c;
	f->cfg.user = NULL; /* borrowed string: not kept past start */
	f->n = c->channels;
	for (; made < f->n; made++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
			snprintf(err, errcap, "certificate fetch: socketpair: %s", strerror(errno));
			goto fail;
		}
		int sz = 256 << 10;
		setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		f->fd[made] = sv[0];
		child_fd[made] = sv[1];
	}
	fflush(NULL); /* the child must not write our buffered output again */
	/*
	 * Twice: the fetcher is the grandchild, reparented at once, so the sensor
	 * never has to wait for it (a seccomp filter installed after start-up
	 * refuses wait4 and kill). It ends when every channel reads end of file,
	 * which also happens when the sensor dies.
	 */
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errcap, "certificate fetch: fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		unsigned n = f->n;
		for (unsigned i = 0; i < n; i++)
			close(f->fd[i]);
		free(f); /* the sensor's handle: nothing of it is the fetcher's */
		pid_t gc = fork();
		if (gc != 0)
			_exit(gc < 0 ? 1 : 0);
		fx_child(c, child_fd, n);
	}
	int wst;
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	for (unsigned i = 0; i < made; i++)
		close(child_fd[i]);
	made = 0;
	struct pollfd pf = { f->fd[0], POLLIN, 0 };
	uint8_t ready = 0;
	if (poll(&pf, 1, 5000) != 1 || recv(f->fd[0], &ready, 1, 0) != 1 || ready != 'R') {
		snprintf(err, errcap, "certificate fetch: the fetcher process did not start");
		bw_certfetch_stop(f);
		return NULL;
	}
	return f;
fail:
	for (unsigned i = 0; i < made; i++) {
		close(f->fd[i]);
		close(child_fd[i]);
	}
	free(f);
	return NULL;
}

struct bw_certfetch *bw_certfetch_attach(const struct bw_certfetch_config *c, const int *fds, unsigned n)
{
	struct bw_certfetch *f = NULL;
	if (c && fds && n >= 1 && n <= BW_CERTFETCH_MAX_CHANNELS)
		f = calloc(1, sizeof(*f));
	if (!f) {
		for (unsigned i = 0; fds && i < n && i < BW_CERTFETCH_MAX_CHANNELS; i++)
			close(fds[i]);
		return NULL;
	}
	f->cfg = *c;
	f->cfg.user = NULL;
	f->cfg.channels = n;
	f->n = n;
	memcpy(f->fd, fds, n * sizeof(fds[0]));
	return f;
}

void bw_certfetch_stop(struct bw_certfetch *f)
{
	if (!f)
		return;
	/* End of file on every channel: the fetcher drops what it was doing and exits. */
	for (unsigned i = 0; i < f->n; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	free(f);
}

/* ---- the worker's side ---- */

struct pend {
	bool used;
	uint32_t id;
	uint64_t key;
	bw_time_t asked; /* packet time */
	struct bw_certfetch_origin origin;
};

struct qmsg {
	uint16_t len;
	uint8_t buf[BW_CERTFETCH_MAX_REQ];
};

struct bw_certfetch_client {
	int fd;
	bool dead;
	uint32_t refresh_s, timeout_s, max_conc;
	uint32_t seq;
	unsigned n_out, next_slot;
	struct bw_certfetch_cache *cache;
	struct pend pend[BW_CERTFETCH_MAX_OUTSTANDING];
	struct qmsg q[BW_CERTFETCH_MAX_QUEUED];
	unsigned qhead, qlen;
	uint8_t *rbuf; /* BW_CERTFETCH_MAX_MSG + 1 */
	struct bw_certfetch_stats st;
};

struct bw_certfetch_client *bw_certfetch_client_new(struct bw_certfetch *f, unsigned i)
{
	if (!f || i >= f->n)
		return NULL;
	struct bw_certfetch_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = f->fd[i];
	c->refresh_s = f->cfg.refresh_seconds;
	c->timeout_s = f->cfg.timeout_seconds;
	c->max_conc = f->cfg.max_concurrent;
	c->cache = bw_certfetch_cache_new(BW_CERTFETCH_CACHE_ENTRIES);
	c->rbuf = malloc(BW_CERTFETCH_MAX_MSG + 1);
	if (!c->cache || !c->rbuf) {
		bw_certfetch_client_free(c);
		return NULL;
	}
	c->st.enabled = 1;
	return c;
}

void bw_certfetch_client_free(struct bw_certfetch_client *c)
{
	if (!c)
		return;
	bw_certfetch_cache_free(c->cache);
	free(c->rbuf);
	free(c);
}

unsigned bw_certfetch_client_outstanding(const struct bw_certfetch_client *c) { return c ? c->n_out : 0; }

struct bw_certfetch_stats *bw_certfetch_client_stats(struct bw_certfetch_client *c) { return &c->st; }

static void pend_free(struct bw_certfetch_client *c, struct pend *p)
{
	p->used = false;
	c->n_out--;
}

/* The fetcher is gone (or the socket broke): nothing outstanding will come back. */
static void client_dead(struct bw_certfetch_client *c)
{
	c->dead = true;
	for (unsigned i = 0; i < BW_CERTFETCH_MAX_OUTSTANDING; i++)
		if (c->pend[i].used) {
			c->st.lost++;
			pend_free(c, &c->pend[i]);
		}
	c->qlen = 0;
}

int bw_certfetch_client_request(struct bw_certfetch_client *c, struct bw_certfetch_req *req,
				const struct bw_certfetch_origin *origin, bw_time_t now)
{
	uint64_t key = bw_certfetch_key(&req->addr, req->port, req->sni);
	if (bw_certfetch_cache_fresh(c->cache, key, now)) {
		c->st.cache_hits++;
		return BW_EAGAIN;
	}
	if (c->dead || c->n_out >= BW_CERTFETCH_MAX_OUTSTANDING) {
		c->st.queue_drops++;
		return BW_ELIMIT;
	}
	unsigned slot = c->next_slot;
	while (c->pend[slot].used)
		slot = (slot + 1) % BW_CERTFETCH_MAX_OUTSTANDING;
	c->next_slot = (slot + 1) % BW_CERTFETCH_MAX_OUTSTANDING;
	/* The id names the slot (low 8 bits) and this use of it, so a late reply for a slot reused since is ignored. */
	c->seq = (c->seq + 1) & 0xffffff;
	req->id = (c->seq << 8) | slot;
	size_t len;
	uint8_t buf[BW_CERTFETCH_MAX_REQ];
	if (bw_certfetch_req_encode(req, buf, sizeof(buf), &len) != BW_OK) {
		c->st.queue_drops++;
		return BW_ELIMIT;
	}
	bool sent = false;
	if (c->qlen == 0) {
		ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len) {
			sent = true;
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			client_dead(c);
			c->st.queue_drops++;
			return BW_ELIMIT;
		}
	}
	if (!sent) {
		if (c->qlen == BW_CERTFETCH_MAX_QUEUED) {
			c->st.queue_drops++;
			return BW_ELIMIT;
		}
		struct qmsg *q = &c->q[(c->qhead + c->qlen) % BW_CERTFETCH_MAX_QUEUED];
		q->len = (uint16_t)len;
		memcpy(q->buf, buf, len);
		c->qlen++;
	}
	struct pend *p = &c->pend[slot];
	p->used = true;
	p->id = req->id;
	p->key = key;
	p->asked = now;
	p->origin = *origin;
	p->origin.meta.pkt = NULL;
	c->n_out++;
	c->st.requested++;
	bw_certfetch_cache_set(c->cache, key, now + (bw_time_t)c->refresh_s * BW_NSEC_PER_SEC);
	return BW_OK;
}

static void client_flush(struct bw_certfetch_client *c)
{
	while (c->qlen && !c->dead) {
		struct qmsg *q = &c->q[c->qhead];
		ssize_t n = send(c->fd, q->buf, q->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n < 0) {
			client_dead(c);
			return;
		}
		c->qhead = (c->qhead + 1) % BW_CERTFETCH_MAX_QUEUED;
		c->qlen--;
	}
}

static void client_reply(struct bw_certfetch_client *c, const struct bw_certfetch_reply *r, bw_certfetch_reply_fn fn,
			 void *ctx)
{
	struct pend *p = &c->pend[r->id & 0xff];
	if (!p->used || p->id != r->id)
		return; /* not ours, or already given up on */
	bw_time_t retry = 0; /* when the same (address, port, SNI) may be asked again; 0: as set at the request */
	const bw_time_t minute = 60 * BW_NSEC_PER_SEC;
	switch (r->status) {
	case BW_CF_FETCHED:
		c->st.fetched++;
		c->st.latency_ms_total += r->latency_ms;
		if (r->latency_ms > c->st.latency_ms_max)
			c->st.latency_ms_max = r->latency_ms;
		break;
	case BW_CF_CACHED: c->st.fetcher_cached++; break;
	case BW_CF_RATE_LIMITED:
		c->st.rate_limited++;
		retry = p->asked + minute;
		break;
	case BW_CF_BUSY:
		c->st.busy++;
		retry = p->asked + minute;
		break;
	case BW_CF_TIMEOUT: c->st.timeouts++; break;
	case BW_CF_NO_TCP: c->st.quic_no_tcp++; break;
	default: c->st.failed++; break;
	}
	if (r->status != BW_CF_FETCHED && r->status != BW_CF_CACHED && r->status != BW_CF_NO_TCP && !retry)
		retry = p->asked + BW_MIN((bw_time_t)c->refresh_s * BW_NSEC_PER_SEC, 5 * minute); /* failures: again sooner */
	if (retry)
		bw_certfetch_cache_set(c->cache, p->key, retry);
	if (fn)
		fn(ctx, r, &p->origin);
	pend_free(c, p);
}

unsigned bw_certfetch_client_poll(struct bw_certfetch_client *c, bw_certfetch_reply_fn fn, void *ctx)
{
	unsigned handled = 0;
	if (!c || c->dead)
		return 0;
	client_flush(c);
	if (c->n_out == 0)
		return 0;
	for (unsigned k = 0; k < 256; k++) {
		ssize_t n = recv(c->fd, c->rbuf, BW_CERTFETCH_MAX_MSG + 1, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n <= 0) {
			client_dead(c);
			break;
		}
		struct bw_certfetch_reply r;
		if ((size_t)n > BW_CERTFETCH_MAX_MSG || bw_certfetch_reply_decode(c->rbuf, (size_t)n, &r) != BW_OK)
			continue; /* its request stays outstanding and counts as lost at the end */
		client_reply(c, &r, fn, ctx);
		handled++;
	}
	return handled;
}

void bw_certfetch_client_drain(struct bw_certfetch_client *c, bw_certfetch_reply_fn fn, void *ctx)
{
	if (!c)
		return;
	bw_certfetch_client_poll(c, fn, ctx);
	if (c->n_out == 0 || c->dead)
		return;
	/* The fetcher runs max_concurrent at a time, each within the timeout. */
	uint64_t rounds = 1 + (c->n_out + c->max_conc - 1) / (c->max_conc ? c->max_conc : 1);
	uint64_t budget = BW_MIN(rounds * c->timeout_s + 2, 600u) * BW_NSEC_PER_SEC;
	uint64_t deadline = mono_ns() + budget;
	while (c->n_out && !c->dead) {
		uint64_t now = mono_ns();
		if (now >= deadline)
			break;
		struct pollfd pf = { c->fd, (short)(POLLIN | (c->qlen ? POLLOUT : 0)), 0 };
		int ms = (int)BW_MIN((deadline - now) / BW_NSEC_PER_MSEC + 1, 1000u);
		if (poll(&pf, 1, ms) < 0 && errno != EINTR)
			break;
		bw_certfetch_client_poll(c, fn, ctx);
	}
	for (unsigned i = 0; i < BW_CERTFETCH_MAX_OUTSTANDING; i++)
		if (c->pend[i].used) {
			c->st.lost++;
			pend_free(c, &c->pend[i]);
		}
}
