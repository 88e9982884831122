/* SPDX-License-Identifier: MIT */
/*
 * sink.c: sink registry and the JSON-lines file sink. Output is buffered in
 * large blocks (one write per MiB, not per event) because a busy run emits
 * hundreds of thousands of events per second. A failed write is remembered
 * and reported at the end (exit status), not retried per event.
 */
#include "sink.h"

#include <stdlib.h>
#include <string.h>

enum sink_kind { SINK_JSONL = 1 };

struct bw_sink {
	enum sink_kind kind;
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

int bw_sink_open(const char *spec, struct bw_sink **out, char *err, size_t errcap)
{
	*out = NULL;
	if (strncmp(spec, "jsonl:", 6) != 0 || spec[6] == '\0') {
		snprintf(err, errcap, "unknown output '%s' (expected jsonl:PATH or jsonl:-)", spec);
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
	if (s->err != BW_OK)
		return s->err;
	if (fwrite(ev->json, 1, ev->json_len, s->fp) != ev->json_len || putc('\n', s->fp) == EOF) {
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

int bw_sink_close(struct bw_sink *s)
{
	if (!s)
		return BW_OK;
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
	return rc;
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

int bw_output_close(struct bw_output *o, char *err, size_t errcap)
{
	int rc = BW_OK;
	for (unsigned i = 0; i < o->n; i++) {
		const char *spec = o->sinks[i]->spec;
		char specbuf[256];
		snprintf(specbuf, sizeof(specbuf), "%s", spec ? spec : "?");
		int r = bw_sink_close(o->sinks[i]);
		if (r != BW_OK && rc == BW_OK) {
			rc = r;
			snprintf(err, errcap, "%s: write failed: %s", specbuf, strerror(errno ? errno : EIO));
		}
		o->sinks[i] = NULL;
	}
	o->n = 0;
	return rc;
}
