/* SPDX-License-Identifier: MIT */
/*
 * sink.h: where events go. A sink is opened from a spec string
 * ("jsonl:PATH", "jsonl:-" for stdout; syslog sinks in the SIEM issue) and
 * receives every event as an already-formatted ECS JSON document plus its
 * type, so a sink can pick the events it wants and a later formatter
 * (CEF, LEEF) can be added without touching the workers.
 *
 * struct bw_output is the fan-out to every sink of a run. Write errors are
 * sticky per sink and reported by bw_output_close().
 */
#ifndef BW_SINK_H
#define BW_SINK_H

#include <stdio.h>

#include "bw.h"

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

/* Open a sink from its spec. Returns BW_OK or BW_EINVAL/BW_EIO with a message. */
int bw_sink_open(const char *spec, struct bw_sink **out, char *err, size_t errcap);
int bw_sink_write(struct bw_sink *s, const struct bw_event *ev);
/* Flush buffered output; returns the sticky error if a write failed. */
int bw_sink_flush(struct bw_sink *s);
/* Reopen a file sink (logrotate, SIGHUP). No-op for stdout. */
int bw_sink_reopen(struct bw_sink *s);
const char *bw_sink_spec(const struct bw_sink *s);
/* Flush and free. Returns the sticky error, if any. NULL-safe. */
int bw_sink_close(struct bw_sink *s);

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
/* Closes every sink; returns the first error; prints nothing. */
int bw_output_close(struct bw_output *o, char *err, size_t errcap);

#endif /* BW_SINK_H */
