/* SPDX-License-Identifier: MIT */
/*
 * stats.c: end-of-run (and later periodic) statistics. The stats event is
 * what a SIEM or a test reads to know whether the sensor saw everything:
 * malformed traffic by reason and every bound that was hit, not just totals.
 */
#include "stats.h"

#include <string.h>

static double rate(uint64_t n, double secs) { return secs > 0 ? (double)n / secs : 0.0; }

int bw_stats_json(struct bw_json *j, const struct bw_worker_stats *st, const struct bw_anomalies *an,
		  const struct bw_run_info *run)
{
	bw_json_reset(j);
	bw_json_obj_begin(j, NULL);
	bw_json_time(j, "@timestamp", st->last_ts);
	bw_json_obj_begin(j, "event");
	bw_json_str(j, "kind", "metric");
	bw_json_str(j, "dataset", "bindwatch.stats");
	bw_json_obj_end(j);
	bw_json_obj_begin(j, "bindwatch");
	bw_json_obj_begin(j, "stats");

	bw_json_obj_begin(j, "input");
	bw_json_u64(j, "files", run->files_ok + run->files_failed);
	bw_json_u64(j, "files_failed", run->files_failed);
	bw_json_u64(j, "file_bytes", run->file_bytes);
	bw_json_u64(j, "packets", st->frames);
	bw_json_u64(j, "bytes", st->bytes);
	if (st->first_ts) {
		bw_json_time(j, "first_packet", st->first_ts);
		bw_json_time(j, "last_packet", st->last_ts);
	}
	bw_json_obj_end(j);

	bw_json_obj_begin(j, "run");
	bw_json_double(j, "wall_seconds", run->wall_seconds);
	bw_json_double(j, "cpu_seconds", run->cpu_seconds);
	bw_json_double(j, "packets_per_second", rate(st->frames, run->wall_seconds));
	bw_json_double(j, "bits_per_second", rate(st->bytes * 8, run->wall_seconds));
	bw_json_u64(j, "events", run->events);
	bw_json_u64(j, "events_dropped", st->events_dropped);
	bw_json_obj_end(j);

	const struct bw_decode_stats *d = &st->decode;
	bw_json_obj_begin(j, "protocols");
	bw_json_u64(j, "ipv4", d->ipv4);
	bw_json_u64(j, "ipv6", d->ipv6);
	bw_json_u64(j, "udp", d->udp);
	bw_json_u64(j, "tcp", d->tcp);
	bw_json_u64(j, "other_l4", d->other_l4);
	bw_json_u64(j, "non_ip", d->non_ip);
	bw_json_u64(j, "vlan", d->vlan);
	bw_json_u64(j, "mpls", d->mpls);
	bw_json_u64(j, "tunneled", d->tunneled);
	bw_json_u64(j, "duplicates_dropped", d->duplicates);
	bw_json_u64(j, "bypassed", d->bypassed);
	bw_json_u64(j, "bypass_evicted", d->bypass_evicted);
	bw_json_obj_end(j);

	bw_json_obj_begin(j, "dns");
	bw_json_u64(j, "messages", st->dns.messages);
	bw_json_u64(j, "udp", st->dns.udp);
	bw_json_u64(j, "tcp", st->dns.tcp);
	bw_json_u64(j, "queries", st->dns.queries);
	bw_json_u64(j, "responses", st->dns.responses);
	bw_json_u64(j, "malformed", st->dns.malformed);
	/* Several workers only (pipeline.h): held back from the detectors until their turn. */
	if (st->dns.detect_deferred || st->tls.detect_deferred || st->detect_hold_nomem) {
		bw_json_u64(j, "detect_deferred", st->dns.detect_deferred);
		bw_json_u64(j, "detect_hold_nomem", st->detect_hold_nomem);
	}
	bw_json_obj_end(j);

	const struct bw_tls_stats *tl = &st->tls;
	bw_json_obj_begin(j, "tls");
	bw_json_u64(j, "handshakes", tl->handshakes);
	bw_json_u64(j, "tcp", tl->tcp);
	bw_json_u64(j, "starttls", tl->starttls);
	bw_json_u64(j, "dtls", tl->dtls);
	bw_json_u64(j, "quic", tl->quic);
	bw_json_u64(j, "client_hellos", tl->client_hellos);
	bw_json_u64(j, "server_hellos", tl->server_hellos);
	bw_json_u64(j, "certificates_seen", tl->certificates_seen);
	bw_json_u64(j, "x509_events", tl->x509_events);
	bw_json_u64(j, "certificate_parse_errors", tl->cert_parse_errors);
	bw_json_u64(j, "certificate_cache_hits", tl->cert_cache_hits);
	bw_json_u64(j, "certificate_cache_evictions", tl->cert_cache_evictions);
	bw_json_u64(j, "chains_validated", tl->chains_validated);
	bw_json_u64(j, "chains_failed", tl->chains_failed);
	bw_json_u64(j, "chains_unverified", tl->chains_unverified);
	bw_json_u64(j, "udp_sessions", tl->udp_sessions);
	bw_json_u64(j, "udp_sessions_evicted", tl->udp_sessions_evicted);
	if (st->dns.detect_deferred || tl->detect_deferred || st->detect_hold_nomem)
		bw_json_u64(j, "detect_deferred", tl->detect_deferred);
	bw_json_obj_end(j);

	const struct bw_certfetch_stats *cf = &st->fetch;
	if (cf->enabled) {
		/* certificates.fetch (certfetch.h); latency_ms_max is summed over workers like the other *_max */
		bw_json_obj_begin(j, "certfetch");
		bw_json_u64(j, "requested", cf->requested);
		bw_json_u64(j, "fetched", cf->fetched);
		bw_json_u64(j, "cache_hits", cf->cache_hits);
		bw_json_u64(j, "fetcher_cache_hits", cf->fetcher_cached);
		bw_json_u64(j, "rate_limited", cf->rate_limited);
		bw_json_u64(j, "busy", cf->busy);
		bw_json_u64(j, "timeouts", cf->timeouts);
		bw_json_u64(j, "failed", cf->failed);
		bw_json_u64(j, "quic_no_tcp", cf->quic_no_tcp);
		bw_json_u64(j, "lost", cf->lost);
		bw_json_u64(j, "queue_drops", cf->queue_drops);
		bw_json_u64(j, "skipped_not_owned", cf->skipped_not_owned);
		bw_json_u64(j, "skipped_cert_seen", cf->skipped_visible);
		bw_json_u64(j, "skipped_address", cf->skipped_address);
		bw_json_u64(j, "latency_ms_total", cf->latency_ms_total);
		bw_json_u64(j, "latency_ms_max", cf->latency_ms_max);
		bw_json_obj_end(j);
	}

	if (run->have_alerts) {
		const struct bw_alerts_stats *a = &run->alerts;
		bw_json_obj_begin(j, "alerts");
		bw_json_u64(j, "raised", a->raised);
		bw_json_u64(j, "written", a->emitted);
		bw_json_u64(j, "suppressed", a->suppressed);
		bw_json_u64(j, "rate_limited", a->rate_limited);
		bw_json_u64(j, "keys_forgotten", a->keys_evicted);
		bw_json_u64(j, "rate_limit_summaries", a->rate_limit_summaries);
		bw_json_obj_begin(j, "by_type");
		for (int i = 0; i < BW_AL__COUNT; i++)
			if (a->per_type[i] || a->rate_limited_per_type[i]) {
				bw_json_obj_begin(j, bw_alert_type_name((enum bw_alert_type)i));
				bw_json_u64(j, "written", a->per_type[i]);
				bw_json_u64(j, "rate_limited", a->rate_limited_per_type[i]);
				bw_json_obj_end(j);
			}
		bw_json_obj_end(j);
		bw_json_obj_end(j);
	}

	bw_json_obj_begin(j, "ip_fragments");
	bw_json_u64(j, "fragments", d->frag_fragments);
	bw_json_u64(j, "reassembled", d->frag_reassembled);
	bw_json_u64(j, "evicted", d->frag_evicted);
	bw_json_obj_end(j);

	const struct bw_tcp_stats *t = &st->tcp;
	bw_json_obj_begin(j, "tcp");
	bw_json_u64(j, "flows_created", t->flows_created);
	bw_json_u64(j, "flows_closed", t->flows_closed);
	bw_json_u64(j, "flows_timed_out", t->flows_timed_out);
	bw_json_u64(j, "flows_evicted", t->flows_evicted);
	bw_json_u64(j, "flows_active_max", t->flows_active_max);
	bw_json_u64(j, "segments", t->segments);
	bw_json_u64(j, "bytes_delivered", t->bytes_delivered);
	bw_json_u64(j, "bytes_buffered_max", t->bytes_buffered_max);
	bw_json_u64(j, "out_of_order_segments", t->ooo_segments);
	bw_json_u64(j, "overlaps", t->overlaps);
	bw_json_u64(j, "gaps", t->gaps);
	bw_json_u64(j, "stream_cap_hits", t->stream_cap_hits);
	bw_json_u64(j, "mem_cap_hits", t->mem_cap_hits);
	bw_json_u64(j, "flow_cap_hits", t->flow_cap_hits);
	bw_json_obj_end(j);

	if (run->output)
		bw_output_stats_json(run->output, j);

	if (run->max_memory || run->peak_rss) {
		bw_json_obj_begin(j, "memory");
		bw_json_u64(j, "max_memory", run->max_memory);
		bw_json_u64(j, "peak_rss", run->peak_rss);
		bw_json_obj_end(j);
	}
	if (run->bindings) {
		/* One object per binding table: how full, how big, what was pushed out. */
		struct bw_bindings_stats bs;
		bw_bindings_stats(run->bindings, &bs);
		bw_json_obj_begin(j, "bindings");
		for (int i = 0; i < BW_BT_COUNT; i++) {
			const struct bw_table_stats *ts = &bs.t[i];
			bw_json_obj_begin(j, bw_bindings_table_name((enum bw_bindings_table)i));
			bw_json_u64(j, "entries", ts->entries);
			bw_json_u64(j, "capacity", ts->capacity);
			bw_json_u64(j, "bytes", ts->bytes);
			bw_json_u64(j, "max_bytes", ts->max_bytes);
			bw_json_u64(j, "inserts", ts->inserts);
			bw_json_u64(j, "evictions", ts->evictions);
			bw_json_u64(j, "expired", ts->expired);
			bw_json_u64(j, "member_expired", bs.member_expired[i]);
			bw_json_u64(j, "set_drops", bs.set_drops[i]);
			bw_json_obj_end(j);
		}
		bw_json_obj_end(j);
	}

	/* Only reasons that happened, so the event stays short. */
	bw_json_obj_begin(j, "malformed");
	for (int i = 0; i < BW_AN__COUNT; i++)
		if (an->n[i])
			bw_json_u64(j, bw_anomaly_name((enum bw_anomaly)i), an->n[i]);
	bw_json_obj_end(j);

	if (run->extra)
		run->extra(j, run->extra_ctx);

	bw_json_obj_end(j); /* stats */
	bw_json_obj_end(j); /* bindwatch */
	bw_json_obj_end(j);
	return j->err;
}

static void human_count(char *out, size_t cap, double v)
{
	if (v >= 1e9)
		snprintf(out, cap, "%.2f G", v / 1e9);
	else if (v >= 1e6)
		snprintf(out, cap, "%.2f M", v / 1e6);
	else if (v >= 1e3)
		snprintf(out, cap, "%.1f k", v / 1e3);
	else
		snprintf(out, cap, "%.0f ", v);
}

void bw_stats_human(FILE *fp, const struct bw_worker_stats *st, const struct bw_anomalies *an,
		    const struct bw_run_info *run)
{
	char a[32], b[32];
	human_count(a, sizeof(a), rate(st->frames, run->wall_seconds));
	human_count(b, sizeof(b), rate(st->bytes * 8, run->wall_seconds));
	fprintf(fp, "bindwatch: %llu packets (%llu bytes) from %llu file(s) in %.2f s: %spkt/s, %sbit/s\n",
		(unsigned long long)st->frames, (unsigned long long)st->bytes,
		(unsigned long long)(run->files_ok + run->files_failed), run->wall_seconds, a, b);
	fprintf(fp, "bindwatch: dns %llu messages (%llu udp, %llu tcp; %llu responses), %llu malformed; %llu events\n",
		(unsigned long long)st->dns.messages, (unsigned long long)st->dns.udp,
		(unsigned long long)st->dns.tcp, (unsigned long long)st->dns.responses,
		(unsigned long long)st->dns.malformed, (unsigned long long)run->events);
	if (st->tls.handshakes)
		fprintf(fp,
			"bindwatch: tls %llu handshakes (%llu tcp, %llu starttls, %llu dtls, %llu quic), %llu distinct "
			"certificates, %llu of %llu chains did not validate\n",
			(unsigned long long)st->tls.handshakes, (unsigned long long)st->tls.tcp,
			(unsigned long long)st->tls.starttls, (unsigned long long)st->tls.dtls,
			(unsigned long long)st->tls.quic, (unsigned long long)st->tls.x509_events,
			(unsigned long long)st->tls.chains_failed, (unsigned long long)st->tls.chains_validated);
	if (st->fetch.enabled)
		fprintf(fp,
			"bindwatch: certificate fetch: %llu requested, %llu fetched, %llu cache hits, %llu rate-limited, "
			"%llu timeouts, %llu failed, %llu quic-only\n",
			(unsigned long long)st->fetch.requested, (unsigned long long)st->fetch.fetched,
			(unsigned long long)(st->fetch.cache_hits + st->fetch.fetcher_cached),
			(unsigned long long)st->fetch.rate_limited, (unsigned long long)st->fetch.timeouts,
			(unsigned long long)st->fetch.failed, (unsigned long long)st->fetch.quic_no_tcp);
	if (run->have_alerts && run->alerts.raised) {
		fprintf(fp, "bindwatch: alerts %llu written (%llu repeats suppressed, %llu rate-limited):",
			(unsigned long long)run->alerts.emitted, (unsigned long long)run->alerts.suppressed,
			(unsigned long long)run->alerts.rate_limited);
		for (int i = 0; i < BW_AL__COUNT; i++)
			if (run->alerts.per_type[i])
				fprintf(fp, " %s=%llu", bw_alert_type_name((enum bw_alert_type)i),
					(unsigned long long)run->alerts.per_type[i]);
		fputc('\n', fp);
	}
	uint64_t bad = 0;
	for (int i = 0; i < BW_AN__COUNT; i++)
		bad += an->n[i];
	if (bad) {
		fprintf(fp, "bindwatch: anomalies:");
		for (int i = 0; i < BW_AN__COUNT; i++)
			if (an->n[i])
				fprintf(fp, " %s=%llu", bw_anomaly_name((enum bw_anomaly)i), (unsigned long long)an->n[i]);
		fputc('\n', fp);
	}
	if (st->decode.duplicates || st->decode.frag_evicted || st->tcp.gaps || st->tcp.mem_cap_hits ||
	    st->tcp.stream_cap_hits || st->tcp.flow_cap_hits)
		fprintf(fp,
			"bindwatch: limits: duplicates dropped %llu, fragments evicted %llu, tcp gaps %llu, "
			"tcp stream cap %llu, tcp memcap %llu, tcp flow cap %llu\n",
			(unsigned long long)st->decode.duplicates, (unsigned long long)st->decode.frag_evicted,
			(unsigned long long)st->tcp.gaps, (unsigned long long)st->tcp.stream_cap_hits,
			(unsigned long long)st->tcp.mem_cap_hits, (unsigned long long)st->tcp.flow_cap_hits);
	if (run->bindings) {
		struct bw_bindings_stats bs;
		bw_bindings_stats(run->bindings, &bs);
		uint64_t ev = 0, by = 0;
		for (int i = 0; i < BW_BT_COUNT; i++) {
			ev += bs.t[i].evictions;
			by += bs.t[i].bytes;
		}
		if (ev)
			fprintf(fp, "bindwatch: binding tables: %llu evictions, %.1f MiB\n", (unsigned long long)ev,
				(double)by / 1048576.0);
	}
	if (run->peak_rss)
		fprintf(fp, "bindwatch: peak RSS %.1f MiB (max-memory %.0f MiB)\n", (double)run->peak_rss / 1048576.0,
			(double)run->max_memory / 1048576.0);
	if (run->files_failed)
		fprintf(fp, "bindwatch: %llu input file(s) had errors (see above)\n",
			(unsigned long long)run->files_failed);
}
