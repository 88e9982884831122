/* SPDX-License-Identifier: MIT */
/*
 * sink.h: where events go. A sink is opened from a spec string and
 * receives every event as an already-formatted ECS JSON document plus its
 * type, so a sink can pick the events it wants and a formatter (CEF, LEEF)
 * can be added without touching the workers.
 *
 *   jsonl:PATH, jsonl:-                  JSON lines file (reopened on SIGHUP) or stdout
 *   syslog+udp://HOST[:PORT]?OPTS        RFC 5426 (best effort: a UDP sender cannot see loss)
 *   syslog+tcp://HOST[:PORT]?OPTS        RFC 6587, octet counting (default) or newline framing
 *   syslog+tls://HOST[:PORT]?OPTS        RFC 5425 over OpenSSL, TLS 1.2+, server verified
 *   syslog+unix:///PATH?OPTS             local datagram (or stream) socket
 *
 * OPTS (format=json|cef|leef, events=alerts,dns,tls,x509,stats, syslog=5424|
 * 3164, facility=, spool=, queue=, drain=, ...) are listed in sinkurl.h.
 *
 * Syslog sinks never block the emitting thread: each has its own thread and
 * a bounded queue; past it, and while the collector is unreachable, events go
 * to an on-disk spool that is replayed in order and survives a restart.
 * Delivery is at-least-once over TCP, TLS and unix sockets (duplicates only
 * after a lost connection or a restart; alerts carry event.id to de-duplicate);
 * UDP is best effort. Events are dropped only when the spool is full, and
 * then loudly (stderr, the dropped counter, bw_output_close's result).
 *
 * struct bw_output is the fan-out to every sink of a run. Write errors are
 * sticky per sink and reported by bw_output_close().
 */
#ifndef BW_SINK_H
#define BW_SINK_H

#include <stdio.h>

#include "bw.h"

struct bw_json;

enum bw_event_type {
	BW_EV_DNS = 1u << 0,
	BW_EV_TLS = 1u << 1,
	BW_EV_X509 = 1u << 2,
	BW_EV_ALERT = 1u << 3,
	BW_EV_STATS = 1u << 4,
	BW_EV_ALL = 0xffffu,
};

struct bw_event {
	enum bw_event_type type;
	uint16_t producer;   /* worker that made it (0 in single-worker runs) */
	bw_time_t ts;        /* packet time the event is about */
	const char *json;    /* one JSON object, no newline; borrowed for the call */
	size_t json_len;
};

struct bw_sink;

/* What main knows that a syslog sink's header needs; a spec option wins over it. */
struct bw_sink_defaults {
	const char *hostname; /* HOSTNAME field, CEF dvchost; NULL: gethostname() */
	const char *app_name; /* APP-NAME; NULL: "bindwatch" */
	int facility;         /* 0..23; -1: local0 */
	FILE *log;            /* loud warnings (collector down, spool full); NULL: stderr */
};
void bw_sink_defaults_init(struct bw_sink_defaults *d);

/* Open a sink from its spec. Returns BW_OK or BW_EINVAL/BW_EIO/BW_ENOMEM with a message. */
int bw_sink_open(const char *spec, struct bw_sink **out, char *err, size_t errcap);
/* The same with main's defaults (d may be NULL). */
int bw_sink_open_ex(const char *spec, const struct bw_sink_defaults *d, struct bw_sink **out, char *err,
		    size_t errcap);
int bw_sink_write(struct bw_sink *s, const struct bw_event *ev);
/* Flush buffered output; returns the sticky error if a write failed. */
int bw_sink_flush(struct bw_sink *s);
/* Reopen a file sink (logrotate, SIGHUP). No-op for stdout. */
int bw_sink_reopen(struct bw_sink *s);
const char *bw_sink_spec(const struct bw_sink *s);
/* Flush and free. Returns the sticky error, if any. NULL-safe. */
int bw_sink_close(struct bw_sink *s);

/* Delivery counters of a syslog sink (monotonic since open; gauges at the end). */
struct bw_sink_counters {
	uint64_t sent;       /* messages handed to the transport (first time) */
	uint64_t queued;     /* events accepted into the memory queue */
	uint64_t spooled;    /* records written to the spool */
	uint64_t replayed;   /* records sent from the spool */
	uint64_t dropped;    /* events lost: spool full (or one event larger than a spool record) */
	uint64_t reconnects; /* connections re-established after a loss */
	uint64_t errors;     /* connect, TLS, send and spool I/O errors */
	uint64_t resent;     /* messages sent again after a lost connection (possible duplicates) */
	uint64_t truncated;  /* messages cut to max_size */
	uint64_t queue_depth, spool_bytes, spool_pending;
	bool connected;
};
/* false (and zeros) for a file sink. Safe to call from any thread while the sink is open. */
bool bw_sink_counters(const struct bw_sink *s, struct bw_sink_counters *c);

#define BW_OUTPUT_MAX_SINKS 16

struct bw_output {
	struct bw_sink *sinks[BW_OUTPUT_MAX_SINKS];
	unsigned n;
	uint64_t events[5]; /* per type bit index: dns, tls, x509, alert, stats */
};

/*
 * bw_output_emit() is called from one thread only (the main thread, or the
 * output thread that drains the workers' event rings); a sink must not block
 * it (network sinks queue and send from their own thread).
 */

/* Takes ownership of s. */
int bw_output_add(struct bw_output *o, struct bw_sink *s);
void bw_output_emit(struct bw_output *o, const struct bw_event *ev);
int bw_output_flush(struct bw_output *o);
/*
 * Closes every sink; returns the first error; prints nothing. Syslog sinks
 * first drain (all at once): each waits up to its drain= time (default 10 s)
 * for its queue and spool to be delivered and confirmed; what is left stays
 * in its spool for the next run. An error is returned if a sink dropped
 * events (BW_ELIMIT) or could not write its spool.
 */
int bw_output_close(struct bw_output *o, char *err, size_t errcap);
/* The same, with one summary line per syslog sink written to report (NULL: none). */
int bw_output_close_ex(struct bw_output *o, FILE *report, char *err, size_t errcap);

/*
 * Write the delivery counters of every syslog sink into the object being
 * written: a member "outputs": [{"output":"syslog+tcp://h:601","sent":..,
 * "queued":..,"spooled":..,"replayed":..,"dropped":..,"reconnects":..,
 * "errors":..,"resent":..,"truncated":..,"queue_depth":..,"spool_bytes":..,
 * "spool_pending":..,"connected":true}]. Writes nothing without syslog sinks.
 * Any thread (counters are read atomically).
 */
void bw_output_stats_json(const struct bw_output *o, struct bw_json *j);

/* ---- internal to the sink layer (sink.c <-> sink_syslog.c) ---- */
struct bw_syslog_sink;
int bw_syslog_sink_open(const char *spec, const struct bw_sink_defaults *d, struct bw_syslog_sink **out, char *err,
			size_t errcap);
void bw_syslog_sink_emit(struct bw_syslog_sink *s, const struct bw_event *ev);
void bw_syslog_sink_drain_start(struct bw_syslog_sink *s);
int bw_syslog_sink_close(struct bw_syslog_sink *s, FILE *report, char *err, size_t errcap);
void bw_syslog_sink_counters(const struct bw_syslog_sink *s, struct bw_sink_counters *c);
unsigned bw_syslog_sink_types(const struct bw_syslog_sink *s);
const char *bw_syslog_sink_name(const struct bw_syslog_sink *s);

#endif /* BW_SINK_H */
