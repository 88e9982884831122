/* SPDX-License-Identifier: MIT */
/*
 * certfetch.h: opt-in active certificate fetch for owned names
 * (policy certificates.fetch), the one thing bindwatch does that sends
 * packets.
 *
 * TLS 1.3 and QUIC encrypt the server's certificate. For a handshake to a
 * name under owned.domains whose certificate was not visible, the worker
 * asks a separate fetcher process to connect to the observed (address,
 * port, SNI, ALPN) with OpenSSL, read the chain and close without sending
 * application data. The chain comes back to the worker that asked and goes
 * through the same path as a passively seen one (x509 events with
 * bindwatch.x509.source "fetched", the same validation, the same alerts).
 *
 *   main (start-up, before privileges drop or a seccomp filter goes on)
 *     bw_certfetch_start(): socketpair per worker, fork
 *   fetcher process: poll() loop over the channels and up to
 *     max_concurrent non-blocking connections; owns the global rate limit
 *     (max_per_minute, a sliding 60 s window of wall-clock time), a
 *     wall-clock cache of fetched chains (so N workers asking for the same
 *     server make one connection) and the per-fetch timeout
 *   worker (its own thread): bw_certfetch_client_*: the owned-name gate is
 *     the caller's (bw_certfetch_gate), then a per-worker cache keyed by
 *     (address, port, SNI) on packet time (refresh_seconds), then a
 *     non-blocking send; a full socket queues within a bound, past it the
 *     request is dropped and counted. Replies are read by the worker
 *     itself (bw_certfetch_client_poll, every few frames and when idle), so
 *     they are injected on the thread that owns the certificate cache and
 *     the detectors; with --workers N every worker has its own channel.
 *
 * Channel protocol (SOCK_SEQPACKET, one message per datagram, big endian):
 *   header  u8 version (1), u8 type (1 request, 2 reply), u16 0, u32 body length
 *   request u32 id, u8 family (4/6), u8 transport (6 TCP, 17 UDP/QUIC),
 *           u16 port, 16 address bytes (IPv4: 4 then zeros), u8 SNI length
 *           (1..253) + SNI (lower-case LDH), u8 ALPN count (0..8) + for
 *           each u8 length (1..32) + bytes
 *   reply   u32 id, u8 status, u8 flags (1: chain cut to fit), u8 number of
 *           certificates (0..16), u8 0, u16 TLS version, u16 0,
 *           u32 latency in ms, u64 wall-clock time of the fetch (ns),
 *           then per certificate u32 length (1..65535) + DER
 * Every length is checked against the datagram; trailing bytes, a length
 * past the end or a field out of range make the message malformed.
 *
 * Threads: bw_certfetch_start/stop from main's thread; a client is used by
 * one worker thread only.
 */
#ifndef BW_CERTFETCH_H
#define BW_CERTFETCH_H

#include "bw.h"
#include "fmt_json.h"

struct bw_policy;
struct bw_policy_fetch;

#define BW_CERTFETCH_VERSION 1
#define BW_CERTFETCH_HDR 8
#define BW_CERTFETCH_MAX_SNI 253
#define BW_CERTFETCH_MAX_ALPN 8
#define BW_CERTFETCH_MAX_ALPN_LEN 32
#define BW_CERTFETCH_MAX_CERTS 16
#define BW_CERTFETCH_MAX_MSG 65536      /* a whole reply datagram; longer chains are cut */
#define BW_CERTFETCH_MAX_REQ 640        /* a whole request datagram, at most */
#define BW_CERTFETCH_MAX_CHANNELS 64    /* = BW_PIPELINE_MAX_WORKERS */
#define BW_CERTFETCH_MAX_OUTSTANDING 256 /* per worker: requests sent, reply not yet read */
#define BW_CERTFETCH_MAX_QUEUED 64      /* per worker: requests waiting for room in the socket */
#define BW_CERTFETCH_CACHE_ENTRIES 4096 /* per worker: (address, port, SNI) asked for recently */

enum bw_certfetch_msg_type { BW_CERTFETCH_REQUEST = 1, BW_CERTFETCH_REPLY = 2 };

enum bw_certfetch_status {
	BW_CF_FETCHED = 1,      /* chain read now */
	BW_CF_CACHED = 2,       /* chain from the fetcher's cache (another worker asked first) */
	BW_CF_RATE_LIMITED = 3, /* max_per_minute reached: not tried */
	BW_CF_BUSY = 4,         /* max_concurrent busy and the fetcher's wait queue full: not tried */
	BW_CF_TIMEOUT = 5,      /* no answer within timeout_seconds */
	BW_CF_UNREACHABLE = 6,  /* connect failed (refused, no route) */
	BW_CF_TLS_ERROR = 7,    /* connected, but no handshake (alert, not TLS, closed) */
	BW_CF_NO_TCP = 8,       /* QUIC-only service: nothing answered TLS on TCP at that port */
	BW_CF_NO_CERT = 9,      /* handshake done without a certificate (PSK, anonymous) */
	BW_CF_ERROR = 10,       /* the fetcher could not try (socket(), memory) */
};
#define BW_CF__MAX 10

/* "fetched", "timeout", ...; "unknown" for anything else. */
const char *bw_certfetch_status_name(int status);

struct bw_certfetch_req {
	uint32_t id;
	struct bw_ip addr;
	uint16_t port;
	uint8_t transport; /* IPPROTO_TCP or IPPROTO_UDP (QUIC: TCP is tried instead) */
	char sni[BW_CERTFETCH_MAX_SNI + 1];
	uint8_t n_alpn;
	uint8_t alpn_len[BW_CERTFETCH_MAX_ALPN];
	uint8_t alpn[BW_CERTFETCH_MAX_ALPN][BW_CERTFETCH_MAX_ALPN_LEN];
};

struct bw_certfetch_reply {
	uint32_t id;
	uint8_t status;       /* enum bw_certfetch_status */
	uint8_t flags;        /* BW_CF_FLAG_* */
	uint16_t tls_version; /* negotiated, 0 if none */
	uint32_t latency_ms;  /* connect start to chain read (or to the failure) */
	bw_time_t fetched_at; /* wall clock */
	uint8_t n_certs;
	const uint8_t *der[BW_CERTFETCH_MAX_CERTS]; /* borrowed: point into the decoded message */
	uint32_t der_len[BW_CERTFETCH_MAX_CERTS];
};
#define BW_CF_FLAG_CUT 1u

/*
 * Encoders write a whole message (header included) into buf[0..cap) and its
 * length into *len: BW_OK, BW_EINVAL (a field out of range: SNI empty or not
 * LDH, too many ALPN ids, a certificate of 0 or > 65535 bytes) or BW_ELIMIT
 * (does not fit). Decoders read one whole message p[0..n): BW_OK or
 * BW_EMALF; a decoded reply's der[] point into p.
 */
int bw_certfetch_req_encode(const struct bw_certfetch_req *r, uint8_t *buf, size_t cap, size_t *len);
int bw_certfetch_req_decode(const uint8_t *p, size_t n, struct bw_certfetch_req *r);
int bw_certfetch_reply_encode(const struct bw_certfetch_reply *r, uint8_t *buf, size_t cap, size_t *len);
int bw_certfetch_reply_decode(const uint8_t *p, size_t n, struct bw_certfetch_reply *r);

/* The cache key of (address, port, SNI); never 0. */
uint64_t bw_certfetch_key(const struct bw_ip *addr, uint16_t port, const char *sni);

/*
 * The owned-name gate. sni: the handshake's SNI as parsed (printable, may
 * have upper case and a trailing dot). Writes the lower-case name without
 * the trailing dot to norm (cap >= BW_CERTFETCH_MAX_SNI + 1) and returns
 * true when it is a valid host name under the policy's owned.domains. False
 * for NULL policy, an empty or invalid name, or a third party's name.
 */
bool bw_certfetch_gate(const struct bw_policy *p, const char *sni, char *norm, size_t cap);

/* Addresses never connected to: unspecified, loopback, multicast, broadcast, port 0. */
bool bw_certfetch_addr_ok(const struct bw_ip *addr, uint16_t port);

/* ---- building blocks (exposed for tests) ---- */

/*
 * A set-associative table of keys with an expiry time: "asked for
 * recently". Fixed size, no allocation after _new. A full set evicts the
 * entry that expires first (counted).
 */
struct bw_certfetch_cache;
struct bw_certfetch_cache *bw_certfetch_cache_new(uint32_t entries); /* NULL on ENOMEM */
void bw_certfetch_cache_free(struct bw_certfetch_cache *c);           /* NULL-safe */
/* True if key is there and expires after now. */
bool bw_certfetch_cache_fresh(const struct bw_certfetch_cache *c, uint64_t key, bw_time_t now);
/* Insert or update key to expire at expires. */
void bw_certfetch_cache_set(struct bw_certfetch_cache *c, uint64_t key, bw_time_t expires);
uint64_t bw_certfetch_cache_evictions(const struct bw_certfetch_cache *c);

/*
 * At most per_minute takes in any 60 s window (a ring of the last
 * per_minute take times). Times are monotonic ns.
 */
struct bw_certfetch_rate;
struct bw_certfetch_rate *bw_certfetch_rate_new(uint32_t per_minute); /* NULL on ENOMEM or 0 */
void bw_certfetch_rate_free(struct bw_certfetch_rate *r);            /* NULL-safe */
bool bw_certfetch_rate_take(struct bw_certfetch_rate *r, uint64_t now_ns);

/* ---- the fetcher process ---- */

struct bw_certfetch_config {
	struct bw_ip source_address; /* family 0: the kernel picks */
	uint32_t refresh_seconds;    /* per-worker and fetcher cache lifetime */
	uint32_t max_per_minute;
	uint32_t timeout_seconds;    /* per connection, connect to chain */
	uint32_t max_concurrent;
	unsigned channels;           /* one per worker, 1..BW_CERTFETCH_MAX_CHANNELS */
	const char *user;            /* root + --user: the fetcher switches too; else: same ids, no capability */
};

/* The settings of the policy's certificates.fetch; channels 1, no user. */
void bw_certfetch_config_from_policy(struct bw_certfetch_config *c, const struct bw_policy_fetch *f);

struct bw_certfetch;

/*
 * Fork the fetcher. Call before privileges drop and before threads or
 * output connections exist (the child closes every descriptor but its
 * channels and stderr). Returns NULL with err set if it could not start.
 */
struct bw_certfetch *bw_certfetch_start(const struct bw_certfetch_config *c, char *err, size_t errcap);

/*
 * A handle over channels the caller made, with no process behind them: the
 * caller plays the fetcher's side (tests). Takes the n descriptors (1..
 * BW_CERTFETCH_MAX_CHANNELS; closed by bw_certfetch_stop, or here when it
 * fails); c->channels and c->user are ignored. NULL on ENOMEM or a bad n.
 */
struct bw_certfetch *bw_certfetch_attach(const struct bw_certfetch_config *c, const int *fds, unsigned n);

/*
 * Close the channels; the fetcher (a grandchild, never waited for: nothing
 * here needs wait4 or kill) sees end of file and exits. Clients must be
 * freed first. NULL-safe.
 */
void bw_certfetch_stop(struct bw_certfetch *f);

/* ---- the worker's side ---- */

/* Counters of one worker (all uint64_t: they add up over workers). */
struct bw_certfetch_stats {
	uint64_t enabled;            /* 1 per worker with a channel */
	uint64_t requested;          /* requests sent to the fetcher */
	uint64_t cache_hits;         /* not asked: (address, port, SNI) asked within refresh_seconds */
	uint64_t skipped_not_owned;  /* certificate not visible, name not owned: never fetched */
	uint64_t skipped_visible;    /* owned name whose certificate was seen in the traffic */
	uint64_t skipped_address;    /* owned name at an address never connected to */
	uint64_t queue_drops;        /* socket and queue full, or too many outstanding */
	uint64_t fetched;            /* replies with a chain read now */
	uint64_t fetcher_cached;     /* replies with a chain from the fetcher's cache */
	uint64_t rate_limited;
	uint64_t busy;
	uint64_t timeouts;
	uint64_t failed;             /* unreachable, TLS error, no certificate, fetcher error */
	uint64_t quic_no_tcp;        /* QUIC-only: nothing on TCP at that port */
	uint64_t lost;               /* outstanding when the end-of-input wait ran out, or malformed replies */
	uint64_t latency_ms_total;   /* over fetched replies */
	uint64_t latency_ms_max;     /* per worker; summed over workers when merged */
};

/* Where a request came from: handed back with its reply. */
struct bw_certfetch_origin {
	struct bw_obs_meta meta; /* pkt is NULL; file borrowed (valid for the run) */
	char sni[BW_CERTFETCH_MAX_SNI + 1];
	bool quic; /* the session was QUIC (bindwatch.certfetch.observed_over "quic") */
	bool dtls; /* the session was DTLS ("dtls"); neither: TLS over TCP ("tcp") */
};

struct bw_certfetch_client;

/* The client for channel i (< channels). NULL on ENOMEM or i out of range. */
struct bw_certfetch_client *bw_certfetch_client_new(struct bw_certfetch *f, unsigned i);
void bw_certfetch_client_free(struct bw_certfetch_client *c); /* NULL-safe */

/*
 * Ask for req (its id is set here) unless the same (address, port, SNI)
 * was asked within refresh_seconds of packet time now. Never blocks.
 * Returns BW_OK (sent or queued), BW_EAGAIN (cache hit) or BW_ELIMIT
 * (dropped: counted).
 */
int bw_certfetch_client_request(struct bw_certfetch_client *c, struct bw_certfetch_req *req,
				const struct bw_certfetch_origin *origin, bw_time_t now);

typedef void (*bw_certfetch_reply_fn)(void *ctx, const struct bw_certfetch_reply *r,
				      const struct bw_certfetch_origin *origin);

/* Send what is queued and hand every reply that arrived to fn. Never blocks. Returns replies handled. */
unsigned bw_certfetch_client_poll(struct bw_certfetch_client *c, bw_certfetch_reply_fn fn, void *ctx);

/*
 * End of input: wait (poll) until every outstanding request has its reply
 * or their timeouts (plus a margin) have passed; what is left is counted
 * as lost.
 */
void bw_certfetch_client_drain(struct bw_certfetch_client *c, bw_certfetch_reply_fn fn, void *ctx);

/* Requests sent whose reply has not been read. */
unsigned bw_certfetch_client_outstanding(const struct bw_certfetch_client *c);

/* The counters (the caller adds its gate counts to skipped_*). */
struct bw_certfetch_stats *bw_certfetch_client_stats(struct bw_certfetch_client *c);

#endif /* BW_CERTFETCH_H */
