/* SPDX-License-Identifier: MIT */
/*
 * stats.h: the run's counters as a bindwatch.stats event and as a short
 * human summary on stderr.
 */
#ifndef BW_STATS_H
#define BW_STATS_H

#include <stdio.h>

#include "alerts.h"
#include "bindings.h"
#include "sink.h"
#include "json.h"
#include "worker.h"

struct bw_run_info {
	uint64_t files_ok, files_failed;
	uint64_t file_bytes;   /* bytes of capture files read */
	double wall_seconds;   /* elapsed wall-clock time of the run */
	double cpu_seconds;    /* user + system CPU of the process */
	uint64_t events;       /* events written (all types) */
	bool have_alerts;
	struct bw_alerts_stats alerts;
	struct bw_output *output; /* may be NULL: per-sink delivery counters (sent, queued, spooled, ...) */
	const struct bw_bindings *bindings; /* may be NULL: per-table entries, bytes, evictions */
	uint64_t max_memory;  /* the --max-memory budget in bytes (0: not reported) */
	uint64_t peak_rss;    /* bytes, from getrusage (0: not reported) */
	/* May be NULL: called inside bindwatch.stats, after the common members,
	 * so a caller (live capture) adds its own objects to the same event. */
	void (*extra)(struct bw_json *j, void *ctx);
	void *extra_ctx;
};

/* Write the bindwatch.stats event into j (reset first). */
int bw_stats_json(struct bw_json *j, const struct bw_worker_stats *st, const struct bw_anomalies *an,
		  const struct bw_run_info *run);

/* A few lines for a person, on fp. */
void bw_stats_human(FILE *fp, const struct bw_worker_stats *st, const struct bw_anomalies *an,
		    const struct bw_run_info *run);

#endif /* BW_STATS_H */
