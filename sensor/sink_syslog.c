/* SPDX-License-Identifier: MIT */
/*
 * sink_syslog.c: syslog sinks (UDP, TCP, TLS, unix socket) that never block
 * the thread emitting events and never lose an alert short of a full disk.
 *
 * Shape: the emitting thread copies each event into a bounded
 * single-producer queue and returns; one thread per sink formats, frames and
 * sends. Everything it has sent but not yet seen confirmed is kept in an
 * "in-flight" window, re-sent in order after a lost connection. A TCP/TLS
 * message counts as confirmed once the peer's TCP stack acknowledged its
 * bytes (SIOCOUTQ) and the resend window (resend=, default 5 s) has passed,
 * because a collector that dies may drop what it had acknowledged but not
 * yet processed; at close, the peer's EOF after our FIN confirms everything.
 * When the collector is unreachable the queue (and the in-flight window) goes
 * to the on-disk spool, which is replayed in order, ahead of newer events,
 * when it is back, and survives a restart. Ordering invariant kept by every
 * path: in-flight (oldest) < spool unread < queue (newest); a spill appends
 * queue-sourced in-flight entries to the spool first, which is only ever
 * needed while the spool has nothing unread, so order holds.
 *
 * Delivery guarantee: at-least-once for TCP, TLS and unix sockets
 * (duplicates only after a lost connection or a restart; alerts carry
 * event.id for de-duplication). UDP is best effort: loss is invisible to a
 * sender. Events still only in memory are lost if bindwatch is killed with
 * SIGKILL or crashes; a normal exit (or SIGTERM/SIGINT) spools them.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fmt_syslog.h"
#include "json.h"
#include "sink.h"
#include "sinkurl.h"
#include "spool.h"
#include "thread.h"

#define INF_MAX 16384u             /* in-flight entries */
#define INF_MAX_BYTES (8u << 20)   /* in-flight event bytes */
#define QMEM_MAX (64ULL << 20)     /* bytes held by queue slots */
#define CONNECT_TIMEOUT 5.0
#define STALL_TIMEOUT 30.0         /* no TCP progress for this long: reconnect */
#define BACKOFF_MIN 0.25

struct qslot {
	uint32_t type;
	uint64_t ts;
	size_t len, cap;
	char *buf;
};

struct inflight {
	uint32_t type;
	uint64_t ts;
	char *buf;
	size_t len, cap;
	bool from_spool;
	struct bw_spool_pos end;
	uint64_t wire_end; /* transport bytes written on this connection once it was sent */
	double sent_at;
};

enum { ST_RUN = 0, ST_DRAIN, ST_STOP };

struct bw_syslog_sink {
	struct bw_sinkurl u;
	char disp[256];
	struct bw_syslog_opts fo;
	char hostname[256], app[49], procid[24], sd_id[33];
	FILE *log;

	/* queue: producer owns head and the slot buffers of free slots */
	struct qslot *q;
	uint32_t qcap;
	_Atomic uint64_t qhead, qtail;
	uint64_t qmem;

	pthread_mutex_t lock; /* queue consumer side, spool, in-flight ring structure */
	struct inflight *inf; /* ring of INF_MAX */
	size_t inf_head, inf_n, inf_sent;
	size_t inf_bytes;
	struct bw_spool *spool;

	/* connection (sender thread only) */
	int fd;
	bool connected, stream, dgram_unix;
	SSL_CTX *ctx;
	SSL *ssl;
	uint64_t wire;      /* bytes written to the socket on this connection */
	uint64_t acked;     /* ... acknowledged by the peer */
	double progress_at; /* last time acked moved (or the queue drained) */
	double up_since, next_attempt, backoff;
	bool down_logged, ever_connected;
	unsigned seed;
	char *msg, *frame;
	size_t msg_cap, frame_len, frame_off;
	bool frame_busy;

	pthread_t th;
	bool th_started;
	_Atomic int state;
	double drain_deadline;
	bool drain_tried;
	int evfd;

	/* counters */
	_Atomic uint64_t c_sent, c_queued, c_spooled, c_replayed, c_dropped, c_reconnects, c_errors, c_resent,
		c_truncated;
	_Atomic bool c_connected;
	_Atomic uint64_t g_spool_bytes, g_spool_pending;
	double drop_logged_at;
	uint64_t drops_logged;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void inc(_Atomic uint64_t *c, uint64_t n) { atomic_fetch_add_explicit(c, n, memory_order_relaxed); }

static void slog(struct bw_syslog_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(struct bw_syslog_sink *s, const char *fmt, ...)
{
	char line[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(s->log ? s->log : stderr, "bindwatch: output %s: %s\n", s->disp, line);
}

/* ---- spool side (lock held) ---- */

static void gauge_spool(struct bw_syslog_sink *s)
{
	struct bw_spool_info in;
	bw_spool_info(s->spool, &in);
	atomic_store_explicit(&s->g_spool_bytes, in.bytes, memory_order_relaxed);
	atomic_store_explicit(&s->g_spool_pending, in.pending, memory_order_relaxed);
}

static void note_drop(struct bw_syslog_sink *s, uint64_t n)
{
	inc(&s->c_dropped, n);
	double now = mono();
	uint64_t total = atomic_load(&s->c_dropped);
	if (s->drops_logged == 0 || now - s->drop_logged_at >= 10.0) {
		struct bw_spool_info in;
		bw_spool_info(s->spool, &in);
		slog(s, "SPOOL FULL (%llu bytes in %s): %llu events DROPPED so far",
		     (unsigned long long)in.bytes, bw_spool_dir(s->spool), (unsigned long long)total);
		s->drop_logged_at = now;
		s->drops_logged = total;
	}
}

static struct inflight *inf_at(struct bw_syslog_sink *s, size_t i) { return &s->inf[(s->inf_head + i) % INF_MAX]; }

/*
 * Move what is only in memory to the spool, oldest first: in-flight entries
 * that came from the queue (they become spool-backed, already read), then
 * the queue. Lock held.
 */
static void spill_locked(struct bw_syslog_sink *s)
{
	for (size_t i = 0; i < s->inf_n; i++) {
		struct inflight *f = inf_at(s, i);
		if (f->from_spool)
			continue;
		if (bw_spool_pending(s->spool))
			break; /* only after a drop: keep the rest in memory rather than misplace it */
		int rc = bw_spool_append(s->spool, f->type, f->ts, f->buf, f->len);
		if (rc != BW_OK) {
			if (rc == BW_EIO)
				inc(&s->c_errors, 1);
			continue; /* stays in memory; it is re-sent from there */
		}
		inc(&s->c_spooled, 1);
		/* nothing else is unread (see the invariant), so this reads it back */
		struct bw_spool_rec r;
		if (bw_spool_read(s->spool, &r) == BW_OK) {
			f->from_spool = true;
			f->end = r.end;
		}
	}
	uint64_t tail = atomic_load_explicit(&s->qtail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&s->qhead, memory_order_acquire);
	for (; tail != head; tail++) {
		struct qslot *q = &s->q[tail % s->qcap];
		int rc = bw_spool_append(s->spool, q->type, q->ts, q->buf, q->len);
		if (rc == BW_OK) {
			inc(&s->c_spooled, 1);
		} else {
			if (rc == BW_EIO)
				inc(&s->c_errors, 1);
			note_drop(s, 1);
		}
	}
	atomic_store_explicit(&s->qtail, tail, memory_order_release);
	gauge_spool(s);
}

/* ---- producer ---- */

void bw_syslog_sink_emit(struct bw_syslog_sink *s, const struct bw_event *ev)
{
	if (!(s->u.events & ev->type))
		return;
	if (ev->json_len > BW_SPOOL_MAX_RECORD) {
		pthread_mutex_lock(&s->lock);
		note_drop(s, 1);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	uint64_t head = atomic_load_explicit(&s->qhead, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&s->qtail, memory_order_acquire);
	struct qslot *q = &s->q[head % s->qcap];
	bool grow = q->cap < ev->json_len;
	if (head - tail >= s->qcap || (grow && s->qmem - q->cap + ev->json_len > QMEM_MAX)) {
		/* the sender is behind: spill the queue ourselves (disk, not network) */
		pthread_mutex_lock(&s->lock);
		spill_locked(s);
		pthread_mutex_unlock(&s->lock);
		tail = atomic_load_explicit(&s->qtail, memory_order_acquire);
		if (s->qmem > QMEM_MAX / 2) {
			/* every slot is free now: give their memory back */
			for (uint32_t i = 0; i < s->qcap; i++) {
				s->qmem -= s->q[i].cap;
				free(s->q[i].buf);
				s->q[i].buf = NULL;
				s->q[i].cap = 0;
			}
		}
		grow = q->cap < ev->json_len;
	}
	if (grow) {
		size_t nc = ev->json_len < 1024 ? 1024 : ev->json_len;
		char *nb = realloc(q->buf, nc);
		if (!nb) {
			pthread_mutex_lock(&s->lock);
			int rc = bw_spool_append(s->spool, ev->type, ev->ts, ev->json, ev->json_len);
			if (rc == BW_OK)
				inc(&s->c_spooled, 1);
			else
				note_drop(s, 1);
			pthread_mutex_unlock(&s->lock);
			return;
		}
		s->qmem += nc - q->cap;
		q->buf = nb;
		q->cap = nc;
	}
	memcpy(q->buf, ev->json, ev->json_len);
	q->len = ev->json_len;
	q->type = ev->type;
	q->ts = ev->ts;
	atomic_store_explicit(&s->qhead, head + 1, memory_order_release);
	inc(&s->c_queued, 1);
	if (head == tail) {
		uint64_t one = 1;
		if (write(s->evfd, &one, sizeof(one)) < 0) {
			/* the counter is saturated: the sender is awake anyway */
		}
	}
}

/* ---- connection ---- */

static void conn_close(struct bw_syslog_sink *s)
{
	if (s->ssl) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->connected = false;
	atomic_store(&s->c_connected, false);
}

static void conn_lost(struct bw_syslog_sink *s, const char *why)
{
	double now = mono();
	conn_close(s);
	/* everything sent on that connection and not confirmed goes again */
	pthread_mutex_lock(&s->lock);
	if (s->inf_sent)
		inc(&s->c_resent, s->inf_sent);
	s->inf_sent = 0;
	pthread_mutex_unlock(&s->lock);
	s->frame_busy = false;
	if (now - s->up_since >= 2.0)
		s->backoff = BACKOFF_MIN;
	double jitter = 0.5 + 0.5 * ((double)rand_r(&s->seed) / (double)RAND_MAX);
	s->next_attempt = now + s->backoff * jitter;
	s->backoff = BW_MIN(s->backoff * 2, (double)s->u.backoff_max_ms / 1000.0);
	if (!s->down_logged) {
		slog(s, "connection lost (%s); queueing, spooling to %s, reconnecting", why, bw_spool_dir(s->spool));
		s->down_logged = true;
	}
}

static bool wait_fd(int fd, short ev, double deadline)
{
	for (;;) {
		double left = deadline - mono();
		if (left <= 0)
			return false;
		struct pollfd p = { fd, ev, 0 };
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
	}
}

static int open_inet(struct bw_syslog_sink *s, char *why, size_t whycap)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", s->u.port);
	hints.ai_socktype = s->u.transport == BW_TR_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int gr = getaddrinfo(s->u.host, port, &hints, &res);
	if (gr != 0) {
		snprintf(why, whycap, "resolve %s: %s", s->u.host, gai_strerror(gr));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (s->u.transport != BW_TR_UDP) {
			int one = 1;
			unsigned int uto = (unsigned)(STALL_TIMEOUT * 1000);
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, mono() + CONNECT_TIMEOUT)) {
			int e = 0;
			socklen_t el = sizeof(e);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			if (e == 0)
				break;
			errno = e;
		} else if (errno == EINPROGRESS) {
			errno = ETIMEDOUT;
		}
		snprintf(why, whycap, "connect %s port %s: %s", s->u.host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int open_unix(struct bw_syslog_sink *s, char *why, size_t whycap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, s->u.path, strlen(s->u.path) + 1);
	int types[2] = { SOCK_DGRAM, SOCK_STREAM };
	for (int i = 0; i < 2; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
		    (errno == EINPROGRESS && wait_fd(fd, POLLOUT, mono() + CONNECT_TIMEOUT))) {
			s->dgram_unix = types[i] == SOCK_DGRAM;
			return fd;
		}
		int e = errno;
		close(fd);
		if (e != EPROTOTYPE) {
			snprintf(why, whycap, "connect %s: %s", s->u.path, strerror(e));
			return -1;
		}
	}
	snprintf(why, whycap, "connect %s: %s", s->u.path, strerror(errno));
	return -1;
}

static void ssl_why(char *why, size_t whycap, const char *what, SSL *ssl)
{
	unsigned long e = ERR_get_error();
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (vr != X509_V_OK)
		snprintf(why, whycap, "%s: certificate verify failed: %s", what, X509_verify_cert_error_string(vr));
	else if (e)
		snprintf(why, whycap, "%s: %s", what, ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "error");
	else
		snprintf(why, whycap, "%s: %s", what, errno ? strerror(errno) : "connection closed");
	ERR_clear_error();
}

static bool tls_handshake(struct bw_syslog_sink *s, char *why, size_t whycap)
{
	s->ssl = SSL_new(s->ctx);
	if (!s->ssl || !SSL_set_fd(s->ssl, s->fd)) {
		snprintf(why, whycap, "TLS: out of memory");
		return false;
	}
	const char *name = s->u.servername[0] ? s->u.servername : s->u.host;
	struct in6_addr a6;
	bool ip = inet_pton(AF_INET, name, &a6) == 1 || inet_pton(AF_INET6, name, &a6) == 1;
	X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (ip) {
		X509_VERIFY_PARAM_set1_ip_asc(vp, name);
	} else {
		SSL_set_tlsext_host_name(s->ssl, name);
		SSL_set1_host(s->ssl, name);
	}
	double deadline = mono() + 2 * CONNECT_TIMEOUT;
	for (;;) {
		errno = 0;
		int r = SSL_connect(s->ssl);
		if (r == 1)
			return true;
		int e = SSL_get_error(s->ssl, r);
		if ((e == SSL_ERROR_WANT_READ && wait_fd(s->fd, POLLIN, deadline)) ||
		    (e == SSL_ERROR_WANT_WRITE && wait_fd(s->fd, POLLOUT, deadline)))
			continue;
		ssl_why(why, whycap, "TLS handshake", s->ssl);
		return false;
	}
}

static bool conn_open(struct bw_syslog_sink *s)
{
	char why[512] = "";
	s->fd = s->u.transport == BW_TR_UNIX ? open_unix(s, why, sizeof(why)) : open_inet(s, why, sizeof(why));
	if (s->fd >= 0 && s->u.transport == BW_TR_TLS && !tls_handshake(s, why, sizeof(why))) {
		conn_close(s);
		s->fd = -1;
	}
	double now = mono();
	if (s->fd < 0) {
		inc(&s->c_errors, 1);
		if (!s->down_logged) {
			slog(s, "collector unreachable (%s); spooling to %s, retrying with backoff", why,
			     bw_spool_dir(s->spool));
			s->down_logged = true;
		}
		double jitter = 0.5 + 0.5 * ((double)rand_r(&s->seed) / (double)RAND_MAX);
		s->next_attempt = now + s->backoff * jitter;
		s->backoff = BW_MIN(s->backoff * 2, (double)s->u.backoff_max_ms / 1000.0);
		return false;
	}
	s->stream = s->u.transport == BW_TR_TCP || s->u.transport == BW_TR_TLS ||
		    (s->u.transport == BW_TR_UNIX && !s->dgram_unix);
	s->connected = true;
	atomic_store(&s->c_connected, true);
	s->wire = s->acked = 0;
	s->up_since = s->progress_at = now;
	s->frame_busy = false;
	if (s->down_logged && s->ever_connected)
		slog(s, "connected again; replaying");
	else if (s->down_logged)
		slog(s, "connected");
	s->down_logged = false;
	if (s->ever_connected)
		inc(&s->c_reconnects, 1);
	s->ever_connected = true;
	return true;
}

/* ---- sending ---- */

static void build_frame(struct bw_syslog_sink *s, const struct inflight *f)
{
	struct bw_fmt_event e = { .type = (enum bw_event_type)f->type, .ts = f->ts, .json = f->buf, .json_len = f->len,
				  .hostname = s->hostname };
	bool trunc = false;
	size_t hdr = 12; /* room for "LEN " */
	size_t n = bw_syslog_message(s->msg + hdr, s->msg_cap - hdr - 1, &s->fo, &e, &trunc);
	if (trunc)
		inc(&s->c_truncated, 1);
	if (n == 0) {
		/* max_size below even the header (a huge hostname=): nothing sensible to send */
		inc(&s->c_errors, 1);
		s->frame = s->msg;
		s->frame_len = s->frame_off = 0;
		s->frame_busy = true;
		return;
	}
	char *m = s->msg + hdr;
	bool newline = s->stream && ((s->u.framing == BW_FRAME_NEWLINE) ||
				     (s->u.framing == BW_FRAME_DEFAULT && s->u.transport == BW_TR_UNIX));
	if (newline) {
		/* no formatter emits a raw LF; make sure nothing can end a frame early */
		for (size_t i = 0; i < n; i++)
			if (m[i] == '\n' || m[i] == '\0')
				m[i] = ' ';
		m[n] = '\n';
		s->frame = m;
		s->frame_len = n + 1;
	} else if (s->stream) {
		char len[16];
		int ln = snprintf(len, sizeof(len), "%zu ", n);
		s->frame = m - ln;
		memcpy(s->frame, len, (size_t)ln);
		s->frame_len = n + (size_t)ln;
	} else {
		s->frame = m;
		s->frame_len = n;
	}
	s->frame_off = 0;
	s->frame_busy = true;
}

/* Write what is left of the frame. 1 done, 0 would block, -1 connection lost. */
static int write_frame(struct bw_syslog_sink *s, char *why, size_t whycap)
{
	while (s->frame_off < s->frame_len) {
		if (s->ssl) {
			ERR_clear_error();
			errno = 0;
			int r = SSL_write(s->ssl, s->frame, (int)s->frame_len);
			if (r > 0) {
				s->frame_off = s->frame_len;
				break;
			}
			int e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				return 0;
			ssl_why(why, whycap, "TLS write", NULL);
			return -1;
		}
		ssize_t r = send(s->fd, s->frame + s->frame_off, s->frame_len - s->frame_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r >= 0) {
			s->frame_off += (size_t)r;
			if (!s->stream)
				s->frame_off = s->frame_len; /* a datagram goes whole or not at all */
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == ENOBUFS)
			return 0;
		if (!s->stream && s->u.transport == BW_TR_UDP && errno == ECONNREFUSED) {
			/* an ICMP error about an earlier datagram; this one was not sent yet */
			inc(&s->c_errors, 1);
			continue;
		}
		snprintf(why, whycap, "send: %s", strerror(errno));
		return -1;
	}
	if (s->ssl)
		s->wire = BIO_number_written(SSL_get_wbio(s->ssl));
	else
		s->wire += s->frame_len;
	return 1;
}

static void inf_free_entry(struct inflight *f)
{
	free(f->buf);
	f->buf = NULL;
	f->cap = f->len = 0;
}

/* Pop confirmed entries from the front. Lock held. */
static void confirm_locked(struct bw_syslog_sink *s, double now, bool all_sent_ok)
{
	while (s->inf_n && s->inf_sent) {
		struct inflight *f = inf_at(s, 0);
		bool ok;
		if (!s->stream || all_sent_ok)
			ok = true;
		else
			ok = f->wire_end <= s->acked &&
			     (now - f->sent_at >= (double)s->u.resend_ms / 1000.0 || s->inf_bytes > INF_MAX_BYTES / 2 ||
			      s->inf_n > INF_MAX / 2);
		if (!ok)
			break;
		if (f->from_spool)
			bw_spool_commit(s->spool, f->end);
		s->inf_bytes -= f->len;
		if (f->cap > (64u << 10))
			inf_free_entry(f); /* a rare big event must not pin memory in every slot */
		s->inf_head = (s->inf_head + 1) % INF_MAX;
		s->inf_n--;
		s->inf_sent--;
	}
}

static void update_acked(struct bw_syslog_sink *s, double now)
{
	if (!s->stream)
		return;
	int outq = 0;
	if (ioctl(s->fd, SIOCOUTQ, &outq) != 0 || outq < 0)
		return;
	uint64_t a = s->wire >= (uint64_t)outq ? s->wire - (uint64_t)outq : 0;
	if (a != s->acked || outq == 0)
		s->progress_at = now;
	s->acked = a;
}

/* Take the next record (spool first, then queue) into the in-flight ring. Lock held. */
static bool fetch_locked(struct bw_syslog_sink *s)
{
	if (s->inf_n >= INF_MAX || s->inf_bytes >= INF_MAX_BYTES)
		return false;
	struct inflight *f = inf_at(s, s->inf_n);
	if (bw_spool_pending(s->spool)) {
		struct bw_spool_rec r;
		int rc = bw_spool_read(s->spool, &r);
		if (rc == BW_OK) {
			if (f->cap < r.len) {
				char *nb = realloc(f->buf, r.len);
				if (!nb)
					return false;
				f->buf = nb;
				f->cap = r.len;
			}
			memcpy(f->buf, r.data, r.len);
			f->len = r.len;
			f->type = r.type;
			f->ts = r.ts;
			f->from_spool = true;
			f->end = r.end;
			inc(&s->c_replayed, 1);
			goto got;
		}
		if (rc == BW_EIO)
			inc(&s->c_errors, 1);
	}
	uint64_t tail = atomic_load_explicit(&s->qtail, memory_order_relaxed);
	if (tail == atomic_load_explicit(&s->qhead, memory_order_acquire))
		return false;
	struct qslot *q = &s->q[tail % s->qcap];
	if (f->cap < q->len) {
		char *nb = realloc(f->buf, q->len);
		if (!nb)
			return false;
		f->buf = nb;
		f->cap = q->len;
	}
	memcpy(f->buf, q->buf, q->len);
	f->len = q->len;
	f->type = q->type;
	f->ts = q->ts;
	f->from_spool = false;
	atomic_store_explicit(&s->qtail, tail + 1, memory_order_release);
got:
	f->sent_at = 0;
	s->inf_n++;
	s->inf_bytes += f->len;
	return true;
}

static bool queue_empty(struct bw_syslog_sink *s)
{
	return atomic_load_explicit(&s->qtail, memory_order_relaxed) ==
	       atomic_load_explicit(&s->qhead, memory_order_acquire);
}

/* Read (and discard) what the peer sends; false when it closed the connection. */
static bool drain_input(struct bw_syslog_sink *s)
{
	char buf[512];
	for (int i = 0; i < 16; i++) {
		if (s->ssl) {
			ERR_clear_error();
			int r = SSL_read(s->ssl, buf, sizeof(buf));
			if (r > 0)
				continue;
			int e = SSL_get_error(s->ssl, r);
			return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
		}
		ssize_t r = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0)
			continue;
		if (r == 0)
			return !s->stream; /* a datagram of size 0 is not EOF */
		return errno == EAGAIN || errno == EINTR;
	}
	return true;
}

static void wait_events(struct bw_syslog_sink *s, bool want_out, double timeout)
{
	struct pollfd p[2] = { { s->evfd, POLLIN, 0 }, { s->fd, (short)(POLLIN | (want_out ? POLLOUT : 0)), 0 } };
	int n = s->connected ? 2 : 1;
	int ms = timeout <= 0 ? 0 : (int)(timeout * 1000) + 1;
	if (poll(p, (nfds_t)n, ms) > 0) {
		if (p[0].revents & POLLIN) {
			uint64_t v;
			if (read(s->evfd, &v, sizeof(v)) < 0) {
				/* nothing to read: another wake-up consumed it */
			}
		}
		if (n == 2 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !drain_input(s))
			conn_lost(s, "closed by the collector");
	}
}

/* At close: everything is sent; end the stream and wait for the peer's EOF, which means it read it all. */
static bool graceful_close(struct bw_syslog_sink *s, double deadline)
{
	if (!s->stream)
		return true;
	if (s->ssl) {
		SSL_shutdown(s->ssl);
	}
	shutdown(s->fd, SHUT_WR);
	while (mono() < deadline) {
		if (!wait_fd(s->fd, POLLIN, BW_MIN(deadline, mono() + 0.2)))
			continue;
		char buf[512];
		ssize_t r = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0)
			return true; /* the peer read up to our FIN */
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return false;
	}
	return false;
}

static void *sender(void *arg)
{
	struct bw_syslog_sink *s = arg;
	char why[512];
	double last_sync = mono();
	for (;;) {
		double now = mono();
		int st = atomic_load(&s->state);
		if (st == ST_STOP || (st == ST_DRAIN && now >= s->drain_deadline))
			break;
		if (now - last_sync >= 1.0) {
			pthread_mutex_lock(&s->lock);
			if (bw_spool_sync(s->spool) != BW_OK)
				inc(&s->c_errors, 1);
			gauge_spool(s);
			pthread_mutex_unlock(&s->lock);
			last_sync = now;
		}
		if (!s->connected) {
			bool idle;
			pthread_mutex_lock(&s->lock);
			idle = queue_empty(s) && s->inf_n == 0 && bw_spool_pending(s->spool) == 0;
			pthread_mutex_unlock(&s->lock);
			if (st == ST_DRAIN && (idle || s->drain_tried))
				break;
			if (now >= s->next_attempt || st == ST_DRAIN) {
				s->drain_tried = st == ST_DRAIN;
				if (conn_open(s))
					continue;
			}
			/* collector down: keep memory free and the events safe on disk */
			pthread_mutex_lock(&s->lock);
			if (!queue_empty(s) || s->inf_n)
				spill_locked(s);
			pthread_mutex_unlock(&s->lock);
			wait_events(s, false, BW_MIN(s->next_attempt - mono(), 0.5));
			continue;
		}
		update_acked(s, now);
		pthread_mutex_lock(&s->lock);
		confirm_locked(s, now, false);
		pthread_mutex_unlock(&s->lock);
		if (s->stream && s->wire > s->acked && now - s->progress_at > STALL_TIMEOUT) {
			conn_lost(s, "no acknowledgement from the collector");
			continue;
		}
		if (!s->frame_busy) {
			pthread_mutex_lock(&s->lock);
			bool have = s->inf_sent < s->inf_n || fetch_locked(s);
			pthread_mutex_unlock(&s->lock);
			if (have)
				build_frame(s, inf_at(s, s->inf_sent));
		}
		if (s->frame_busy) {
			int r = write_frame(s, why, sizeof(why));
			if (r < 0) {
				inc(&s->c_errors, 1);
				conn_lost(s, why);
				continue;
			}
			if (r == 0) {
				wait_events(s, true, 0.2);
				continue;
			}
			s->frame_busy = false;
			pthread_mutex_lock(&s->lock);
			struct inflight *f = inf_at(s, s->inf_sent);
			bool first = f->sent_at == 0;
			f->wire_end = s->wire;
			f->sent_at = mono();
			s->inf_sent++;
			pthread_mutex_unlock(&s->lock);
			if (first)
				inc(&s->c_sent, 1);
			continue;
		}
		/* nothing to send right now */
		pthread_mutex_lock(&s->lock);
		bool done = s->inf_sent == s->inf_n && queue_empty(s) && bw_spool_pending(s->spool) == 0;
		pthread_mutex_unlock(&s->lock);
		if (st == ST_DRAIN && done) {
			bool all = graceful_close(s, s->drain_deadline);
			pthread_mutex_lock(&s->lock);
			if (all)
				confirm_locked(s, mono(), true);
			pthread_mutex_unlock(&s->lock);
			conn_close(s);
			break;
		}
		wait_events(s, false, s->inf_n ? 0.05 : 0.5);
	}
	return NULL;
}

/* ---- open / close ---- */

static int tls_ctx(struct bw_syslog_sink *s, char *err, size_t errcap)
{
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (!s->ctx)
		goto ossl;
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(s->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	if (s->u.ca[0]) {
		if (SSL_CTX_load_verify_locations(s->ctx, s->u.ca, NULL) != 1) {
			snprintf(err, errcap, "%s: cannot load CA file %s", s->disp, s->u.ca);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
		goto ossl;
	}
	if (s->u.cert[0]) {
		if (SSL_CTX_use_certificate_chain_file(s->ctx, s->u.cert) != 1) {
			snprintf(err, errcap, "%s: cannot load client certificate %s", s->disp, s->u.cert);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(s->ctx, s->u.key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(s->ctx) != 1) {
			snprintf(err, errcap, "%s: cannot load private key %s (or it does not match the certificate)",
				 s->disp, s->u.key);
			goto fail;
		}
	}
	ERR_clear_error();
	return BW_OK;
ossl:
	snprintf(err, errcap, "%s: TLS setup failed", s->disp);
fail:
	ERR_clear_error();
	return BW_EINVAL;
}

static void sink_free(struct bw_syslog_sink *s)
{
	if (!s)
		return;
	conn_close(s);
	if (s->q) {
		for (uint32_t i = 0; i < s->qcap; i++)
			free(s->q[i].buf);
		free(s->q);
	}
	if (s->inf) {
		for (size_t i = 0; i < INF_MAX; i++)
			inf_free_entry(&s->inf[i]);
		free(s->inf);
	}
	bw_spool_close(s->spool);
	SSL_CTX_free(s->ctx);
	if (s->evfd >= 0)
		close(s->evfd);
	free(s->msg);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int bw_syslog_sink_open(const char *spec, const struct bw_sink_defaults *d, struct bw_syslog_sink **out, char *err,
			size_t errcap)
{
	*out = NULL;
	struct bw_syslog_sink *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errcap, "out of memory");
		return BW_ENOMEM;
	}
	s->fd = s->evfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	int rc = bw_sinkurl_parse(spec, &s->u, err, errcap);
	if (rc != BW_OK)
		goto fail;
	bw_sinkurl_display(spec, s->disp, sizeof(s->disp));
	s->log = d ? d->log : NULL;
	/* header identity: the spec's options win over main's defaults */
	if (s->u.hostname[0])
		snprintf(s->hostname, sizeof(s->hostname), "%s", s->u.hostname);
	else if (d && d->hostname && *d->hostname)
		snprintf(s->hostname, sizeof(s->hostname), "%s", d->hostname);
	else if (gethostname(s->hostname, sizeof(s->hostname) - 1) != 0)
		snprintf(s->hostname, sizeof(s->hostname), "-");
	snprintf(s->app, sizeof(s->app), "%s",
		 s->u.app[0] ? s->u.app : d && d->app_name && *d->app_name ? d->app_name : "bindwatch");
	snprintf(s->procid, sizeof(s->procid), "%d", (int)getpid());
	snprintf(s->sd_id, sizeof(s->sd_id), "%s", s->u.sd_id[0] ? s->u.sd_id : BW_SYSLOG_SD_ID);
	int fac = s->u.facility >= 0 ? s->u.facility : d && d->facility >= 0 ? d->facility : BW_SYSLOG_FACILITY_DEFAULT;
	s->fo = (struct bw_syslog_opts){
		.layout = s->u.layout,
		.payload = s->u.format,
		.facility = (unsigned)fac,
		.hostname = s->hostname,
		.app_name = s->app,
		.procid = s->procid,
		.sd_id = s->sd_id,
		.bom = s->u.bom,
		.max_size = s->u.max_size,
	};
	s->msg_cap = s->u.max_size + 32;
	s->msg = malloc(s->msg_cap);
	s->qcap = s->u.queue;
	s->q = calloc(s->qcap, sizeof(*s->q));
	s->inf = calloc(INF_MAX, sizeof(*s->inf));
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->msg || !s->q || !s->inf || s->evfd < 0) {
		snprintf(err, errcap, "out of memory");
		rc = BW_ENOMEM;
		goto fail;
	}
	if (s->u.transport == BW_TR_TLS && (rc = tls_ctx(s, err, errcap)) != BW_OK)
		goto fail;
	char dir[BW_SINKURL_PATH + 64];
	if (s->u.spool[0]) {
		snprintf(dir, sizeof(dir), "%s", s->u.spool);
	} else if (bw_sinkurl_default_spool(&s->u, dir, sizeof(dir)) != BW_OK) {
		snprintf(err, errcap, "%s: no spool directory (give spool=DIR)", s->disp);
		rc = BW_EINVAL;
		goto fail;
	}
	char serr[512];
	if (bw_spool_open(dir, s->u.spool_max, &s->spool, serr, sizeof(serr)) != BW_OK) {
		snprintf(err, errcap, "%s: %s", s->disp, serr);
		rc = BW_EIO;
		goto fail;
	}
	gauge_spool(s);
	s->seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)s ^ (unsigned)(mono() * 1e6);
	s->backoff = BACKOFF_MIN;
	/* the sender takes no signals: they belong to the main thread, and SIGPIPE becomes EPIPE */
	if (bw_thread_start_nosignals(&s->th, sender, s) != 0) {
		snprintf(err, errcap, "%s: cannot start its thread", s->disp);
		rc = BW_ENOMEM;
		goto fail;
	}
	s->th_started = true;
	*out = s;
	return BW_OK;
fail:
	sink_free(s);
	return rc;
}

unsigned bw_syslog_sink_types(const struct bw_syslog_sink *s) { return s->u.events; }

void bw_syslog_sink_drain_start(struct bw_syslog_sink *s)
{
	if (atomic_load(&s->state) != ST_RUN)
		return;
	s->drain_deadline = mono() + (double)s->u.drain_ms / 1000.0;
	atomic_store(&s->state, ST_DRAIN);
	uint64_t one = 1;
	if (write(s->evfd, &one, sizeof(one)) < 0) {
		/* already signalled */
	}
}

void bw_syslog_sink_counters(const struct bw_syslog_sink *s, struct bw_sink_counters *c)
{
	memset(c, 0, sizeof(*c));
	c->sent = atomic_load(&s->c_sent);
	c->queued = atomic_load(&s->c_queued);
	c->spooled = atomic_load(&s->c_spooled);
	c->replayed = atomic_load(&s->c_replayed);
	c->dropped = atomic_load(&s->c_dropped);
	c->reconnects = atomic_load(&s->c_reconnects);
	c->errors = atomic_load(&s->c_errors);
	c->resent = atomic_load(&s->c_resent);
	c->truncated = atomic_load(&s->c_truncated);
	c->queue_depth = atomic_load(&s->qhead) - atomic_load(&s->qtail);
	c->spool_bytes = atomic_load(&s->g_spool_bytes);
	c->spool_pending = atomic_load(&s->g_spool_pending);
	c->connected = atomic_load(&s->c_connected);
}

const char *bw_syslog_sink_name(const struct bw_syslog_sink *s) { return s->disp; }

int bw_syslog_sink_close(struct bw_syslog_sink *s, FILE *report, char *err, size_t errcap)
{
	if (!s)
		return BW_OK;
	bw_syslog_sink_drain_start(s);
	if (s->th_started)
		pthread_join(s->th, NULL);
	atomic_store(&s->state, ST_STOP);
	/* what was not confirmed stays on disk for the next run */
	pthread_mutex_lock(&s->lock);
	spill_locked(s);
	int src = bw_spool_sync(s->spool);
	gauge_spool(s);
	pthread_mutex_unlock(&s->lock);
	struct bw_sink_counters c;
	bw_syslog_sink_counters(s, &c);
	if (report) {
		fprintf(report,
			"bindwatch: output %s: sent %llu, replayed %llu, resent %llu, spooled %llu, dropped %llu, "
			"reconnects %llu, errors %llu",
			s->disp, (unsigned long long)c.sent, (unsigned long long)c.replayed, (unsigned long long)c.resent,
			(unsigned long long)c.spooled, (unsigned long long)c.dropped, (unsigned long long)c.reconnects,
			(unsigned long long)c.errors);
		if (c.spool_pending)
			fprintf(report, "; %llu events left in spool %s (sent on the next run)",
				(unsigned long long)c.spool_pending, bw_spool_dir(s->spool));
		fputc('\n', report);
	}
	int rc = BW_OK;
	if (c.dropped) {
		snprintf(err, errcap, "%s: %llu events dropped: spool %s full", s->disp, (unsigned long long)c.dropped,
			 bw_spool_dir(s->spool));
		rc = BW_ELIMIT;
	} else if (src != BW_OK) {
		snprintf(err, errcap, "%s: cannot write spool %s", s->disp, bw_spool_dir(s->spool));
		rc = BW_EIO;
	}
	sink_free(s);
	return rc;
}
