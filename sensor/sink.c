/* SPDX-License-Identifier: MIT */
/*
 * sink.c: sink registry and the JSON-lines file sink. Output is buffered in
 * large blocks (one write per MiB, not per event) because a busy run emits
 * hundreds of thousands of events per second. A failed write is remembered
 * and reported at the end (exit status), not retried per event. Syslog sinks
 * live in sink_syslog.c; this file only dispatches to them, so the fan-out
 * stays one loop over one sink type.
 */
#include "sink.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sinkurl.h"

enum sink_kind { SINK_JSONL = 1, SINK_SYSLOG };

struct bw_sink {
	enum sink_kind kind;
	struct bw_syslog_sink *sys; /* SINK_SYSLOG */
	char *spec;
	char *path;   /* NULL for stdout */
	FILE *fp;
	char *vbuf;
	int err;
	uint64_t written;
	unsigned types; /* enum bw_event_type mask */
};

#define SINK_BUF (1u << 20)

static int jsonl_open_file(struct bw_sink *s, char *err, size_t errcap)
{
	if (!s->path) {
		s->fp = stdout;
	} else {
		s->fp = fopen(s->path, "a");
		if (!s->fp) {
			snprintf(err, errcap, "%s: cannot open for writing: %s", s->path, strerror(errno));
			return BW_EIO;
		}
	}
	if (!s->vbuf)
		s->vbuf = malloc(SINK_BUF);
	if (s->vbuf)
		setvbuf(s->fp, s->vbuf, _IOFBF, SINK_BUF);
	return BW_OK;
}

void bw_sink_defaults_init(struct bw_sink_defaults *d)
{
	memset(d, 0, sizeof(*d));
	d->facility = -1;
}

static int syslog_open(const char *spec, const struct bw_sink_defaults *d, struct bw_sink **out, char *err,
		       size_t errcap)
{
	struct bw_sink *s = calloc(1, sizeof(*s));
	char disp[256];
	if (!s)
		goto nomem;
	s->kind = SINK_SYSLOG;
	bw_sinkurl_display(spec, disp, sizeof(disp));
	s->spec = strdup(disp);
	if (!s->spec)
		goto nomem;
	int rc = bw_syslog_sink_open(spec, d, &s->sys, err, errcap);
	if (rc != BW_OK) {
		free(s->spec);
		free(s);
		return rc;
	}
	s->types = bw_syslog_sink_types(s->sys);
	*out = s;
	return BW_OK;
nomem:
	free(s);
	snprintf(err, errcap, "out of memory");
	return BW_ENOMEM;
}

int bw_sink_open(const char *spec, struct bw_sink **out, char *err, size_t errcap)
{
	return bw_sink_open_ex(spec, NULL, out, err, errcap);
}

int bw_sink_open_ex(const char *spec, const struct bw_sink_defaults *d, struct bw_sink **out, char *err,
		    size_t errcap)
{
	*out = NULL;
	if (bw_sinkurl_is_syslog(spec))
		return syslog_open(spec, d, out, err, errcap);
	if (strncmp(spec, "jsonl:", 6) != 0 || spec[6] == '\0') {
		snprintf(err, errcap,
			 "unknown output '%s' (expected jsonl:PATH, jsonl:-, syslog+udp://, syslog+tcp://, "
			 "syslog+tls:// or syslog+unix://)",
			 spec);
		return BW_EINVAL;
	}
	struct bw_sink *s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->kind = SINK_JSONL;
	s->types = BW_EV_ALL;
	s->spec = strdup(spec);
	if (!s->spec)
		goto nomem;
	if (strcmp(spec + 6, "-") != 0) {
		s->path = strdup(spec + 6);
		if (!s->path)
			goto nomem;
	}
	int rc = jsonl_open_file(s, err, errcap);
	if (rc != BW_OK) {
		bw_sink_close(s);
		return rc;
	}
	*out = s;
	return BW_OK;
nomem:
	bw_sink_close(s);
	snprintf(err, errcap, "out of memory");
	return BW_ENOMEM;
}

int bw_sink_write(struct bw_sink *s, const struct bw_event *ev)
{
	if (!(s->types & ev->type))
		return BW_OK;
	if (s->kind == SINK_SYSLOG) {
		bw_syslog_sink_emit(s->sys, ev); /* copies and returns: never waits on the network */
		return BW_OK;
	}
	if (s->err != BW_OK)
		return s->err;
	/* One thread emits (sink.h), so stdio's per-call locking buys nothing here. */
	if (fwrite_unlocked(ev->json, 1, ev->json_len, s->fp) != ev->json_len || putc_unlocked('\n', s->fp) == EOF) {
		s->err = BW_EIO;
		return s->err;
	}
	s->written++;
	return BW_OK;
}

int bw_sink_flush(struct bw_sink *s)
{
	if (s->err == BW_OK && s->fp && fflush(s->fp) != 0)
		s->err = BW_EIO;
	return s->err;
}

int bw_sink_reopen(struct bw_sink *s)
{
	char err[256];
	if (s->kind == SINK_SYSLOG)
		return BW_OK;
	if (!s->path)
		return bw_sink_flush(s);
	bw_sink_flush(s);
	if (s->fp)
		fclose(s->fp);
	s->fp = NULL;
	int rc = jsonl_open_file(s, err, sizeof(err));
	if (rc != BW_OK)
		s->err = rc;
	return rc;
}

const char *bw_sink_spec(const struct bw_sink *s) { return s->spec; }

static int sink_close_report(struct bw_sink *s, FILE *report, char *err, size_t errcap)
{
	if (!s)
		return BW_OK;
	if (s->kind == SINK_SYSLOG) {
		int rc = bw_syslog_sink_close(s->sys, report, err, errcap);
		free(s->spec);
		free(s);
		return rc;
	}
	int rc = s->err;
	if (s->fp) {
		if (fflush(s->fp) != 0 && rc == BW_OK)
			rc = BW_EIO;
		if (s->fp != stdout) {
			if (fclose(s->fp) != 0 && rc == BW_OK)
				rc = BW_EIO;
		} else {
			setvbuf(stdout, NULL, _IOLBF, 0);
		}
	}
	free(s->vbuf);
	free(s->path);
	free(s->spec);
	free(s);
	if (rc != BW_OK)
		snprintf(err, errcap, "write failed: %s", strerror(errno ? errno : EIO));
	return rc;
}

int bw_sink_close(struct bw_sink *s)
{
	char err[256];
	return sink_close_report(s, NULL, err, sizeof(err));
}

bool bw_sink_counters(const struct bw_sink *s, struct bw_sink_counters *c)
{
	if (s->kind != SINK_SYSLOG) {
		memset(c, 0, sizeof(*c));
		return false;
	}
	bw_syslog_sink_counters(s->sys, c);
	return true;
}

int bw_output_add(struct bw_output *o, struct bw_sink *s)
{
	if (o->n >= BW_OUTPUT_MAX_SINKS)
		return BW_ELIMIT;
	o->sinks[o->n++] = s;
	return BW_OK;
}

void bw_output_emit(struct bw_output *o, const struct bw_event *ev)
{
	unsigned bit = (unsigned)__builtin_ctz((unsigned)ev->type);
	if (bit < BW_ARRAY_SIZE(o->events))
		o->events[bit]++;
	for (unsigned i = 0; i < o->n; i++)
		bw_sink_write(o->sinks[i], ev);
}

int bw_output_flush(struct bw_output *o)
{
	int rc = BW_OK;
	for (unsigned i = 0; i < o->n; i++) {
		int r = bw_sink_flush(o->sinks[i]);
		if (r != BW_OK && rc == BW_OK)
			rc = r;
	}
	return rc;
}

int bw_output_close(struct bw_output *o, char *err, size_t errcap) { return bw_output_close_ex(o, NULL, err, errcap); }

int bw_output_close_ex(struct bw_output *o, FILE *report, char *err, size_t errcap)
{
	int rc = BW_OK;
	/* let every network sink drain at the same time, then collect them */
	for (unsigned i = 0; i < o->n; i++)
		if (o->sinks[i]->kind == SINK_SYSLOG)
			bw_syslog_sink_drain_start(o->sinks[i]->sys);
	for (unsigned i = 0; i < o->n; i++) {
		const char *spec = o->sinks[i]->spec;
		bool file = o->sinks[i]->kind == SINK_JSONL;
		char specbuf[256], why[512] = "";
		snprintf(specbuf, sizeof(specbuf), "%s", spec ? spec : "?");
		int r = sink_close_report(o->sinks[i], report, why, sizeof(why));
		if (r != BW_OK && rc == BW_OK) {
			rc = r;
			if (file)
				snprintf(err, errcap, "%s: %s", specbuf, why);
			else
				snprintf(err, errcap, "%s", why);
		}
		o->sinks[i] = NULL;
	}
	o->n = 0;
	return rc;
}

void bw_output_stats_json(const struct bw_output *o, struct bw_json *j)
{
	bool any = false;
	for (unsigned i = 0; i < o->n; i++) {
		struct bw_sink_counters c;
		if (!bw_sink_counters(o->sinks[i], &c))
			continue;
		if (!any)
			bw_json_arr_begin(j, "outputs");
		any = true;
		bw_json_obj_begin(j, NULL);
		bw_json_str(j, "output", o->sinks[i]->spec);
		bw_json_u64(j, "sent", c.sent);
		bw_json_u64(j, "queued", c.queued);
		bw_json_u64(j, "spooled", c.spooled);
		bw_json_u64(j, "replayed", c.replayed);
		bw_json_u64(j, "dropped", c.dropped);
		bw_json_u64(j, "reconnects", c.reconnects);
		bw_json_u64(j, "errors", c.errors);
		bw_json_u64(j, "resent", c.resent);
		bw_json_u64(j, "truncated", c.truncated);
		bw_json_u64(j, "queue_depth", c.queue_depth);
		bw_json_u64(j, "spool_bytes", c.spool_bytes);
		bw_json_u64(j, "spool_pending", c.spool_pending);
		bw_json_bool(j, "connected", c.connected);
		bw_json_obj_end(j);
	}
	if (any)
		bw_json_arr_end(j);
}
