/* SPDX-License-Identifier: MIT */
/*
 * live_run.c: the live run of live_run.h. Each worker thread owns one
 * capture handle and one struct bw_worker, so a frame is decoded on the
 * core that received it and nothing but events crosses threads: they go
 * into the worker's own SPSC ring (ring.h) and one output thread, the only
 * caller of bw_output_emit(), drains the rings, writes the stats events and
 * reopens the sinks when asked. Live traffic cannot be paused, so unlike the
 * offline pipeline no stage waits for another: a full ring drops and
 * counts. The main thread only waits for signals and turns them into
 * requests the other threads pick up at points where they hold no
 * reference into shared state: a policy reload is published as a new
 * generation each worker copies into its own detect env between frames,
 * and the old set is freed once every worker has acknowledged it; a stats
 * request makes every worker snapshot its own counters, so no thread reads
 * another's counters while they change. Workers wake at least every 100 ms
 * (capture timeout) to see these requests.
 */
#include "live_run.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bindings.h"
#include "pipeline.h"
#include "privdrop.h"
#include "seccomp.h"
#include "ring.h"
#include "stats.h"
#include "x509dedup.h"

#define LR_TIMEOUT_MS 100      /* capture wait: how late a worker sees a request */
#define LR_CHECK_FRAMES 256    /* frames between looks at the request counters */
#define LR_QUIESCE_FRAMES 4096 /* frames between QSBR quiescent states under load */
#define LR_MAX_DNS_PORTS 64
#define LR_ACK_WAIT_MS 2000    /* how long the main thread waits for workers to acknowledge */

enum {
	REC_EVENT = 1, /* worker -> output: struct lr_event + JSON */
	REC_STATS,     /* main -> output: write a stats event from the workers' snapshots */
	REC_REOPEN,    /* main -> output: reopen the file sinks */
	REC_END,       /* main -> output: the workers are done; drain and stop */
};

struct lr_event {
	bw_time_t ts;
	uint32_t type;
	uint16_t producer;
	uint16_t pad;
	uint64_t json_len;
};

struct lr_run;

struct lr_worker {
	struct lr_run *run;
	unsigned id;
	struct bw_live *h;
	struct bw_worker *w;
	struct bw_ring *ev;              /* worker -> output */
	struct bw_detect_env env;        /* this worker's view: policy pointers change between frames */
	pthread_t thread;
	bool started;
	bool emitted;                    /* an event since the last publish */
	int rc;                          /* BW_OK, or the capture error that ended the thread */
	unsigned policy_gen;             /* the policy generation env holds */
	_Atomic unsigned policy_ack;     /* ... as seen by the main thread */
	_Atomic unsigned snap_ack;       /* the stats request answered */
	_Atomic bool done;
	uint64_t events_lost;            /* written by the worker; read after join or in snapshots */
	uint64_t bypass_ok, bypass_err;
	/* the snapshot a stats request asks for, written by the worker */
	pthread_mutex_t snap_mu;
	struct bw_worker_stats snap;
	struct bw_anomalies snap_an;
	uint64_t snap_lost, snap_bypass_ok;
	/* output thread's own */
	uint64_t out_events;
	uint64_t ring_high_water;        /* bytes queued, as sampled by the output thread */
};

struct lr_run {
	const struct bw_live_run_options *o;
	struct bw_output *out;
	unsigned n;
	struct lr_worker *wk;
	struct bw_ring *ctl;             /* main -> output */
	struct bw_ring_waiter out_wake;
	pthread_t out_thread;
	bool out_started;
	_Atomic bool stop;
	/* policy generations: main publishes, workers copy under mu */
	pthread_mutex_t mu;
	_Atomic unsigned policy_gen;
	struct bw_policy_set pub;        /* what generation policy_gen points to (borrowed from o->policy->cur) */
	struct bw_policy_set retired;    /* freed once every worker acknowledged policy_gen */
	unsigned retired_gen;
	_Atomic unsigned snap_req;
	bool snap_final;                 /* the stats event being requested is the last one */
	struct bw_json sj;               /* stats events (output thread; main after it ended) */
	double start_wall;
	uint64_t stats_events;
	struct bw_x509_dedup x509_seen;  /* output thread: certificates already announced (n > 1) */
};

/* The signal handler's view of the run (a process has one live run at a time). */
static struct lr_run *_Atomic lr_current;
static volatile sig_atomic_t lr_sig_stop, lr_sig_hup, lr_sig_usr1;

static double now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bw_time_t now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (bw_time_t)ts.tv_sec * BW_NSEC_PER_SEC + (bw_time_t)ts.tv_nsec;
}

static void set_err(char *err, size_t cap, const char *msg)
{
	if (err && cap)
		snprintf(err, cap, "live capture: %s", msg);
}

/* async-signal-safe: flags, and bw_live_break (an eventfd write). */
static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		lr_sig_hup = 1;
	} else if (sig == SIGUSR1) {
		lr_sig_usr1 = 1;
	} else {
		lr_sig_stop = 1;
		struct lr_run *r = atomic_load(&lr_current);
		if (r)
			for (unsigned i = 0; i < r->n; i++)
				if (r->wk[i].h)
					bw_live_break(r->wk[i].h);
	}
}

/* ---- worker threads ---- */

static void lr_emit(void *ctx, const struct bw_event *ev)
{
	struct lr_worker *lw = ctx;
	size_t need = sizeof(struct lr_event) + ev->json_len;
	uint8_t *rec = need <= bw_ring_max_payload(lw->ev) ? bw_ring_reserve(lw->ev, need) : NULL;
	if (!rec) {
		/* The output is behind (or one event is over a quarter of the ring):
		 * a live worker must not stop reading the capture ring for it. */
		lw->events_lost++;
		bw_ring_drop(lw->ev);
		return;
	}
	struct lr_event le = { .ts = ev->ts, .type = (uint32_t)ev->type, .producer = ev->producer,
			       .json_len = ev->json_len };
	memcpy(rec, &le, sizeof(le));
	if (ev->json_len)
		memcpy(rec + sizeof(le), ev->json, ev->json_len);
	bw_ring_commit(lw->ev, REC_EVENT);
	lw->emitted = true;
}

static void lr_flow_done(void *ctx, const struct bw_flow_key *key)
{
	struct lr_worker *lw = ctx;
	int rc = bw_live_bypass(lw->h, key);
	if (rc == BW_OK)
		lw->bypass_ok++;
	else if (rc != BW_ENOTSUP && rc != BW_EINVAL)
		lw->bypass_err++;
}

/* Between frames: pick up a new policy generation and answer a stats request. */
static void worker_check(struct lr_worker *lw)
{
	struct lr_run *r = lw->run;
	unsigned gen = atomic_load_explicit(&r->policy_gen, memory_order_acquire);
	if (gen != lw->policy_gen) {
		pthread_mutex_lock(&r->mu);
		bw_policy_set_apply(&r->pub, &lw->env);
		lw->policy_gen = atomic_load(&r->policy_gen);
		pthread_mutex_unlock(&r->mu);
		atomic_store_explicit(&lw->policy_ack, lw->policy_gen, memory_order_release);
	}
	unsigned req = atomic_load_explicit(&r->snap_req, memory_order_acquire);
	if (req != atomic_load_explicit(&lw->snap_ack, memory_order_relaxed)) {
		pthread_mutex_lock(&lw->snap_mu);
		bw_worker_stats(lw->w, &lw->snap, &lw->snap_an);
		lw->snap_lost = lw->events_lost;
		lw->snap_bypass_ok = lw->bypass_ok;
		pthread_mutex_unlock(&lw->snap_mu);
		atomic_store_explicit(&lw->snap_ack, req, memory_order_release);
	}
}

static void worker_publish(struct lr_worker *lw)
{
	if (lw->emitted) {
		bw_ring_publish(lw->ev);
		lw->emitted = false;
	}
}

static void *worker_main(void *arg)
{
	struct lr_worker *lw = arg;
	struct lr_run *r = lw->run;
	struct bw_frame fr;
	unsigned since_check = 0, since_q = 0;

	bw_bindings_thread_register();
	worker_check(lw);
	for (;;) {
		int rc = bw_live_next(lw->h, &fr, 0);
		if (rc == BW_EAGAIN) {
			/* Nothing ready: show the output what we made, and wait offline. */
			bw_worker_poll(lw->w); /* certificate fetch replies (certfetch.h) */
			worker_publish(lw);
			worker_check(lw);
			since_check = 0;
			bw_bindings_quiescent();
			since_q = 0;
			bw_bindings_thread_offline();
			rc = bw_live_next(lw->h, &fr, LR_TIMEOUT_MS);
			bw_bindings_thread_online();
			if (rc == BW_EAGAIN)
				continue;
		}
		if (rc == BW_EEOF)
			break;
		if (rc != BW_OK) {
			lw->rc = rc;
			break;
		}
		bw_worker_frame(lw->w, &fr, NULL);
		/* Events reach the output at once, not a ring batch later: a quiet
		 * link would otherwise hold an alert back until 31 more events. */
		worker_publish(lw);
		if (bw_unlikely(++since_check >= LR_CHECK_FRAMES)) {
			since_check = 0;
			worker_check(lw);
		}
		if (bw_unlikely(++since_q >= LR_QUIESCE_FRAMES)) {
			since_q = 0;
			bw_bindings_quiescent();
		}
	}
	/* Deliver what TCP still holds: every event parsed so far goes out. */
	worker_check(lw);
	bw_worker_finish(lw->w);
	lw->emitted = true;
	worker_publish(lw);
	atomic_store_explicit(&lw->done, true, memory_order_release);
	bw_ring_waiter_notify(&r->out_wake);
	bw_bindings_thread_offline();
	bw_bindings_thread_unregister();
	return NULL;
}

/* ---- stats ---- */

static void merged_stats(struct lr_run *r, bool from_snapshots, struct bw_worker_stats *st, struct bw_anomalies *an)
{
	memset(st, 0, sizeof(*st));
	memset(an, 0, sizeof(*an));
	for (unsigned i = 0; i < r->n; i++) {
		struct lr_worker *lw = &r->wk[i];
		struct bw_worker_stats ws;
		struct bw_anomalies wa;
		if (from_snapshots) {
			pthread_mutex_lock(&lw->snap_mu);
			ws = lw->snap;
			wa = lw->snap_an;
			ws.events_dropped += lw->snap_lost;
			pthread_mutex_unlock(&lw->snap_mu);
		} else {
			bw_worker_stats(lw->w, &ws, &wa);
			ws.events_dropped += lw->events_lost;
		}
		bw_worker_stats_merge(st, &ws);
		bw_anomalies_merge(an, &wa);
	}
	/* x509 events the output dropped as repeats were never written */
	st->tls.x509_events -= BW_MIN(st->tls.x509_events, r->x509_seen.repeats);
}

struct lr_stats_ctx {
	struct lr_run *r;
	bool from_snapshots, final;
};

static void live_json(struct lr_run *r, struct bw_json *j, bool from_snapshots, bool final)
{
	struct bw_live_stats ls, first = { 0 };
	uint64_t frames = 0, kpk = 0, kdrop = 0, kifdrop = 0, freeze = 0, xsk_drop = 0, xsk_full = 0, xsk_fill = 0;
	uint64_t ringerr = 0, bcalls = 0, berr = 0;

	bw_json_obj_begin(j, "live");
	bw_json_str(j, "interface", r->o->live.iface);
	bw_json_bool(j, "final", final);
	bw_json_u64(j, "workers", r->n);
	bw_json_arr_begin(j, "per_worker");
	for (unsigned i = 0; i < r->n; i++) {
		struct lr_worker *lw = &r->wk[i];
		bw_live_stats(lw->h, &ls);
		if (i == 0)
			first = ls;
		frames += ls.frames;
		kpk += ls.kernel_packets;
		kdrop += ls.kernel_drops;
		kifdrop += ls.kernel_if_drops;
		freeze += ls.freeze_q;
		xsk_drop += ls.xsk_rx_dropped;
		xsk_full += ls.xsk_rx_ring_full;
		xsk_fill += ls.xsk_fill_ring_empty;
		ringerr += ls.ring_errors;
		bcalls += ls.bypass_calls;
		berr += ls.bypass_errors;
		struct bw_ring_stats rs;
		bw_ring_stats(lw->ev, &rs);
		uint64_t wframes, lost;
		if (from_snapshots) {
			pthread_mutex_lock(&lw->snap_mu);
			wframes = lw->snap.frames;
			lost = lw->snap_lost + lw->snap.events_dropped;
			pthread_mutex_unlock(&lw->snap_mu);
		} else {
			struct bw_worker_stats ws;
			bw_worker_stats(lw->w, &ws, NULL);
			wframes = ws.frames;
			lost = lw->events_lost + ws.events_dropped;
		}
		bw_json_obj_begin(j, NULL);
		bw_json_u64(j, "worker", i);
		bw_json_u64(j, "packets", wframes);
		bw_json_u64(j, "capture_frames", ls.frames);
		bw_json_u64(j, "kernel_drops", ls.kernel_drops);
		bw_json_u64(j, "events", lw->out_events);
		bw_json_u64(j, "events_dropped", lost);
		bw_json_u64(j, "bypass_calls", ls.bypass_calls);
		bw_json_u64(j, "queue_bytes", lw->ev->cap);
		bw_json_u64(j, "queue_high_water_bytes", lw->ring_high_water);
		bw_json_obj_end(j);
	}
	bw_json_arr_end(j);
	bw_json_u64(j, "capture_frames", frames);
	bw_json_u64(j, "kernel_packets", kpk);
	bw_json_u64(j, "kernel_drops", kdrop);
	bw_json_u64(j, "kernel_if_drops", kifdrop);
	bw_json_u64(j, "ring_full", freeze);
	bw_json_u64(j, "xsk_rx_dropped", xsk_drop);
	bw_json_u64(j, "xsk_rx_ring_full", xsk_full);
	bw_json_u64(j, "xsk_fill_ring_empty", xsk_fill);
	bw_json_u64(j, "ring_errors", ringerr);
	bw_json_u64(j, "bypass_calls", bcalls);
	bw_json_u64(j, "bypass_errors", berr);
	bw_json_u64(j, "bypassed_flows", first.bypass_entries);
	if (first.bpf) {
		const struct bw_live_bpf_stats *b = &first.bpf_counters;
		bw_json_obj_begin(j, "filter");
		bw_json_u64(j, "passed_packets", b->passed_packets);
		bw_json_u64(j, "passed_bytes", b->passed_bytes);
		bw_json_u64(j, "dropped_packets", b->dropped_packets);
		bw_json_u64(j, "dropped_bytes", b->dropped_bytes);
		bw_json_u64(j, "bypassed_packets", b->bypassed_packets);
		bw_json_u64(j, "bypassed_bytes", b->bypassed_bytes);
		bw_json_obj_end(j);
	}
	if (r->o->policy) {
		bw_json_u64(j, "policy_reloads", r->o->policy->reloads);
		bw_json_u64(j, "policy_reloads_refused", r->o->policy->reloads_refused);
	}
	bw_json_u64(j, "x509_repeats_dropped", r->x509_seen.repeats);
	bw_json_obj_end(j);
	bw_output_stats_json(r->out, j);
}

/* bw_run_info.extra: the live counters go inside bindwatch.stats. */
static void live_json_extra(struct bw_json *j, void *ctx)
{
	struct lr_stats_ctx *c = ctx;
	live_json(c->r, j, c->from_snapshots, c->final);
}

static void run_info(struct lr_run *r, struct bw_run_info *run)
{
	memset(run, 0, sizeof(*run));
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	run->wall_seconds = now_wall() - r->start_wall;
	run->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	for (size_t i = 0; i < BW_ARRAY_SIZE(r->out->events); i++)
		run->events += r->out->events[i];
}

/* Format and write one stats event (output thread, or main once the output thread is gone). */
static void write_stats(struct lr_run *r, bool from_snapshots, bool final, const struct bw_alerts_stats *alerts)
{
	struct bw_worker_stats st;
	struct bw_anomalies an;
	struct bw_run_info run;
	merged_stats(r, from_snapshots, &st, &an);
	run_info(r, &run);
	if (alerts) {
		run.have_alerts = true;
		run.alerts = *alerts;
	}
	struct bw_worker_stats shown = st;
	if (!shown.first_ts)
		shown.last_ts = now_real(); /* no packet yet: the event still needs a sensible time */
	struct lr_stats_ctx sc = { r, from_snapshots, final };
	run.extra = live_json_extra;
	run.extra_ctx = &sc;
	if (bw_stats_json(&r->sj, &shown, &an, &run) != BW_OK || !bw_json_ok(&r->sj))
		return;
	struct bw_event ev = { .type = BW_EV_STATS, .ts = shown.last_ts, .json = r->sj.buf, .json_len = r->sj.len };
	bw_output_emit(r->out, &ev);
	r->stats_events++;
}

/* ---- output thread ---- */

static void output_event(struct lr_run *r, const uint8_t *rec)
{
	struct lr_event le;
	memcpy(&le, rec, sizeof(le));
	struct bw_event ev = { .type = (enum bw_event_type)le.type, .producer = le.producer, .ts = le.ts,
			       .json = (const char *)rec + sizeof(le), .json_len = le.json_len };
	/* Each worker has its own certificate cache: with several, the same
	 * certificate can be announced once per worker. Only the first goes out. */
	if (ev.type == BW_EV_X509 && r->n > 1 && bw_x509_dedup_repeat(&r->x509_seen, ev.json, ev.json_len))
		return;
	bw_output_emit(r->out, &ev);
	if (le.producer < r->n)
		r->wk[le.producer].out_events++;
}

static bool output_ctl(struct lr_run *r, uint32_t type)
{
	switch (type) {
	case REC_STATS: write_stats(r, true, false, NULL); break;
	case REC_REOPEN:
		for (unsigned i = 0; i < r->out->n; i++)
			if (bw_sink_reopen(r->out->sinks[i]) != BW_OK)
				fprintf(stderr, "bindwatch: cannot reopen %s\n", bw_sink_spec(r->out->sinks[i]));
		break;
	case REC_END: return true;
	default: break;
	}
	return false;
}

static void *output_main(void *arg)
{
	struct lr_run *r = arg;
	const unsigned burst = 128;
	bool ending = false, unflushed = false;
	for (;;) {
		bool any = false;
		for (unsigned i = 0; i < r->n; i++) {
			struct lr_worker *lw = &r->wk[i];
			struct bw_ring *q = lw->ev;
			/* The backlog as the consumer meets it: its peak is the high-water mark. */
			uint64_t used = atomic_load_explicit(&q->head, memory_order_acquire) - q->c_tail;
			if (used > lw->ring_high_water)
				lw->ring_high_water = used;
			uint32_t type, len;
			const uint8_t *rec;
			for (unsigned k = 0; k < burst && (rec = bw_ring_peek(q, &type, &len)) != NULL; k++) {
				if (type == REC_EVENT)
					output_event(r, rec);
				bw_ring_pop(q);
				any = true;
			}
		}
		uint32_t type, len;
		if (bw_ring_peek(r->ctl, &type, &len)) {
			ending |= output_ctl(r, type);
			bw_ring_pop(r->ctl);
			any = true;
		}
		if (any) {
			unflushed = true;
			continue;
		}
		bool empty = bw_ring_empty(r->ctl);
		for (unsigned i = 0; i < r->n; i++) {
			bw_ring_release(r->wk[i].ev);
			empty &= bw_ring_empty(r->wk[i].ev);
		}
		bw_ring_release(r->ctl);
		if (!empty)
			continue;
		if (ending)
			break; /* END is sent after the workers were joined: nothing more can come */
		if (unflushed) {
			/* Idle: let a reader of the file (or the SIEM) see the events now. */
			bw_output_flush(r->out);
			unflushed = false;
		}
		uint32_t key = bw_ring_waiter_prepare(&r->out_wake);
		bool ready = !bw_ring_empty(r->ctl);
		for (unsigned i = 0; i < r->n && !ready; i++)
			ready = !bw_ring_empty(r->wk[i].ev);
		if (ready) {
			bw_ring_waiter_cancel(&r->out_wake);
			continue;
		}
		bw_ring_waiter_wait(&r->out_wake, key, 200);
	}
	return NULL;
}

/* main -> output; the main thread is the ring's only producer. */
static void push_ctl(struct lr_run *r, uint32_t type)
{
	if (bw_ring_reserve_wait(r->ctl, 1, NULL)) {
		bw_ring_commit(r->ctl, type);
		bw_ring_publish(r->ctl);
	}
}

/* ---- main thread ---- */

static bool all_acked(struct lr_run *r, bool policy, unsigned want)
{
	for (unsigned i = 0; i < r->n; i++) {
		struct lr_worker *lw = &r->wk[i];
		if (atomic_load(&lw->done))
			continue; /* a finished worker reads nothing any more */
		unsigned got = policy ? atomic_load_explicit(&lw->policy_ack, memory_order_acquire)
				      : atomic_load_explicit(&lw->snap_ack, memory_order_acquire);
		if (got != want)
			return false;
	}
	return true;
}

static bool wait_acked(struct lr_run *r, bool policy, unsigned want)
{
	for (int t = 0; t < LR_ACK_WAIT_MS / 5; t++) {
		if (all_acked(r, policy, want))
			return true;
		usleep(5000);
	}
	return all_acked(r, policy, want);
}

/* Free the set the workers left, once they all have. */
static void reap_retired(struct lr_run *r)
{
	if ((r->retired.policy || r->retired.zones || r->retired.caa) && all_acked(r, true, r->retired_gen))
		bw_policy_set_free(&r->retired);
}

static void do_reload(struct lr_run *r, struct bw_detect_env *env)
{
	struct bw_policyctl *pc = r->o->policy;
	if (pc && pc->path) {
		reap_retired(r);
		if (r->retired.policy || r->retired.zones || r->retired.caa) {
			wait_acked(r, true, r->retired_gen);
			reap_retired(r);
		}
		if (r->retired.policy || r->retired.zones || r->retired.caa) {
			fprintf(stderr, "bindwatch: policy reload postponed: a worker still holds the previous one\n");
			lr_sig_hup = 1;
			return;
		}
		struct bw_policy_set old;
		if (bw_policyctl_swap(pc, &old) == BW_OK) {
			pthread_mutex_lock(&r->mu);
			r->pub = pc->cur;
			unsigned gen = atomic_load(&r->policy_gen) + 1;
			atomic_store_explicit(&r->policy_gen, gen, memory_order_release);
			pthread_mutex_unlock(&r->mu);
			bw_policy_set_apply(&pc->cur, env);
			r->retired = old;
			r->retired_gen = gen;
			if (wait_acked(r, true, gen))
				reap_retired(r);
		}
	}
	push_ctl(r, REC_REOPEN);
}

static void do_stats(struct lr_run *r)
{
	unsigned req = atomic_fetch_add(&r->snap_req, 1) + 1;
	wait_acked(r, false, req); /* a stuck worker's last snapshot is used */
	push_ctl(r, REC_STATS);
}

static void alert_emit(void *ctx, enum bw_event_type t, bw_time_t ts)
{
	struct lr_run *r = ctx;
	struct bw_event ev = { .type = t, .ts = ts, .json = r->sj.buf, .json_len = r->sj.len };
	if (bw_json_ok(&r->sj))
		bw_output_emit(r->out, &ev);
}

void bw_live_run_options_default(struct bw_live_run_options *o)
{
	memset(o, 0, sizeof(*o));
	bw_live_config_default(&o->live);
}

static void dns_ports(const struct bw_worker_config *wc, uint16_t *ports, size_t *n)
{
	*n = 0;
	for (unsigned p = 1; p < 65536 && *n < LR_MAX_DNS_PORTS; p++)
		if ((wc->dns_ports[p >> 3] >> (p & 7)) & 1)
			ports[(*n)++] = (uint16_t)p;
}

static void summary(struct lr_run *r, const struct bw_alerts_stats *alerts, bool have_alerts)
{
	struct bw_worker_stats st;
	struct bw_anomalies an;
	struct bw_run_info run;
	merged_stats(r, false, &st, &an);
	run_info(r, &run);
	run.have_alerts = have_alerts;
	if (have_alerts)
		run.alerts = *alerts;
	bw_stats_human(stderr, &st, &an, &run);
	uint64_t kdrop = 0;
	for (unsigned i = 0; i < r->n; i++) {
		struct bw_live_stats ls;
		bw_live_stats(r->wk[i].h, &ls);
		kdrop += ls.kernel_drops;
	}
	fprintf(stderr, "bindwatch: live capture on %s: %u worker(s), %llu kernel drops\n", r->o->live.iface, r->n,
		(unsigned long long)kdrop);
}

int bw_live_run(const struct bw_live_run_options *o, const struct bw_worker_config *wc, struct bw_output *out,
		struct bw_detect_env *env, char *err, size_t errcap)
{
	struct lr_run r = { 0 };
	uint16_t ports[LR_MAX_DNS_PORTS];
	size_t n_ports;
	int rc = BW_OK;
	sigset_t block, old_mask;
	bool mask_set = false, offline = false;

	if (!o->live.iface || !o->live.iface[0]) {
		set_err(err, errcap, "no interface");
		return BW_EINVAL;
	}
	r.o = o;
	r.out = out;
	r.n = o->workers ? o->workers : bw_pipeline_default_workers();
	if (r.n > BW_PIPELINE_MAX_WORKERS)
		r.n = BW_PIPELINE_MAX_WORKERS;
	r.start_wall = now_wall();
	pthread_mutex_init(&r.mu, NULL);
	bw_ring_waiter_init(&r.out_wake);
	if (o->policy)
		r.pub = o->policy->cur;
	else
		r.pub = (struct bw_policy_set){ (struct bw_policy *)env->policy, (struct bw_zones *)env->zones,
						(struct bw_caa_db *)env->caa, (struct bw_takeover_db *)env->takeover,
						(struct bw_cloud_db *)env->cloud };
	r.wk = calloc(r.n, sizeof(*r.wk));
	r.ctl = bw_ring_new(BW_RING_MIN_CAPACITY, 1);
	uint64_t certs = (uint64_t)(wc->cert_cache_entries ? wc->cert_cache_entries : 4096) * r.n;
	if (!r.wk || !r.ctl || bw_json_init(&r.sj, 1u << 20) != BW_OK ||
	    bw_x509_dedup_init(&r.x509_seen, certs) != BW_OK) {
		set_err(err, errcap, "out of memory");
		rc = BW_ENOMEM;
		goto cleanup;
	}
	bw_ring_set_consumer_waiter(r.ctl, &r.out_wake);
	dns_ports(wc, ports, &n_ports);

	/* Handles first, worker 0 first: its backend decision is the one logged
	 * and the one the others join. Nothing runs until all are open. */
	for (unsigned i = 0; i < r.n; i++) {
		struct lr_worker *lw = &r.wk[i];
		lw->run = &r;
		lw->id = i;
		pthread_mutex_init(&lw->snap_mu, NULL);
		atomic_init(&lw->done, false);
		struct bw_live_config lc = o->live;
		lc.n_workers = r.n;
		lc.worker_index = i;
		lc.dns_ports = ports;
		lc.n_dns_ports = n_ports;
		rc = bw_live_open(&lc, &lw->h, err, errcap);
		if (rc != BW_OK)
			goto cleanup;
		if (i == 0)
			fprintf(stderr, "bindwatch: live capture on %s, %u worker(s): %s\n", lc.iface, r.n,
				bw_live_describe(lw->h));
		const char *warn = bw_live_warning(lw->h);
		if (warn && (i == 0 || !bw_live_warning(r.wk[0].h) || strcmp(warn, bw_live_warning(r.wk[0].h)) != 0))
			fprintf(stderr, "bindwatch: warning: worker %u: %s\n", i, warn);

		lw->env = *env;
		struct bw_worker_config c = *wc;
		c.detect = &lw->env;
		c.emit = lr_emit;
		c.emit_ctx = lw;
		c.flow_done = lr_flow_done;
		c.flow_done_ctx = lw;
		c.worker_id = i;
		lw->ev = bw_ring_new(o->event_ring_bytes ? o->event_ring_bytes : 4u << 20, 0);
		lw->w = bw_worker_new(&c, out);
		if (!lw->ev || !lw->w) {
			set_err(err, errcap, "out of memory");
			rc = BW_ENOMEM;
			goto cleanup;
		}
		bw_ring_set_consumer_waiter(lw->ev, &r.out_wake);
	}
	for (unsigned i = 1; i < r.n; i++)
		if (strcmp(bw_live_describe(r.wk[i].h), bw_live_describe(r.wk[0].h)) != 0 &&
		    strstr(bw_live_describe(r.wk[i].h), "idle"))
			fprintf(stderr, "bindwatch: worker %u: %s\n", i, bw_live_describe(r.wk[i].h));

	if (o->user) {
		rc = bw_privdrop(o->user, err, errcap);
		if (rc != BW_OK)
			goto cleanup;
		fprintf(stderr, "bindwatch: running as user %s, no capabilities\n", o->user);
	}
	/* After the drop (it needs setresuid, capset, prctl) and before any thread of ours starts. */
	if (o->seccomp) {
		rc = bw_seccomp_install(BW_SECCOMP_LIVE, bw_seccomp_env_flags(), err, errcap);
		if (rc != BW_OK)
			goto cleanup;
	}

	/* Signals go to this thread only: the others start with them blocked. */
	lr_sig_stop = lr_sig_hup = lr_sig_usr1 = 0;
	atomic_store(&lr_current, &r);
	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	mask_set = true;
	for (unsigned i = 0; i < r.n; i++) {
		if (pthread_create(&r.wk[i].thread, NULL, worker_main, &r.wk[i]) != 0) {
			set_err(err, errcap, "cannot start a worker thread");
			rc = BW_ENOMEM;
			break;
		}
		r.wk[i].started = true;
	}
	if (rc == BW_OK) {
		if (pthread_create(&r.out_thread, NULL, output_main, &r) != 0) {
			set_err(err, errcap, "cannot start the output thread");
			rc = BW_ENOMEM;
		} else {
			r.out_started = true;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	mask_set = false;

	/* The main thread: signals and the stats clock. */
	bw_bindings_thread_offline();
	offline = true;
	double next_stats = o->stats_interval ? now_wall() + o->stats_interval : 0;
	while (rc == BW_OK && !lr_sig_stop) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL); /* a signal cuts it short */
		bool all_done = true;
		for (unsigned i = 0; i < r.n; i++)
			all_done &= atomic_load(&r.wk[i].done);
		if (all_done)
			break; /* every capture failed */
		if (lr_sig_hup) {
			lr_sig_hup = 0;
			do_reload(&r, env);
		}
		reap_retired(&r);
		bool tick = next_stats && now_wall() >= next_stats;
		if (lr_sig_usr1 || tick) {
			lr_sig_usr1 = 0;
			if (tick)
				while (next_stats <= now_wall())
					next_stats += o->stats_interval;
			do_stats(&r);
		}
	}

cleanup:
	if (mask_set)
		pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	for (unsigned i = 0; r.wk && i < r.n; i++)
		if (r.wk[i].h)
			bw_live_break(r.wk[i].h);
	for (unsigned i = 0; r.wk && i < r.n; i++)
		if (r.wk[i].started)
			pthread_join(r.wk[i].thread, NULL);
	if (r.out_started) {
		push_ctl(&r, REC_END);
		pthread_join(r.out_thread, NULL);
	}
	atomic_store(&lr_current, NULL);
	if (offline)
		bw_bindings_thread_online();
	for (unsigned i = 0; r.wk && i < r.n; i++) {
		if (r.wk[i].started && r.wk[i].rc != BW_OK && rc == BW_OK) {
			snprintf(err, errcap, "%s: capture failed: %s", o->live.iface, bw_strerror(r.wk[i].rc));
			rc = r.wk[i].rc;
		}
	}
	bool ran = r.out_started;
	if (ran) {
		/* Only this thread writes now: the alerts held back, then the last stats. */
		struct bw_alerts_stats as = { 0 };
		bool have_alerts = env->alerts != NULL;
		if (have_alerts) {
			bw_alerts_flush(env->alerts, &r.sj, alert_emit, &r);
			bw_alerts_stats(env->alerts, &as);
		}
		write_stats(&r, false, true, have_alerts ? &as : NULL);
		bw_output_flush(out);
		if (!o->quiet)
			summary(&r, &as, have_alerts);
	}
	for (unsigned i = 0; r.wk && i < r.n; i++) {
		bw_worker_free(r.wk[i].w);
		bw_live_close(r.wk[i].h);
		bw_ring_free(r.wk[i].ev);
		pthread_mutex_destroy(&r.wk[i].snap_mu);
	}
	/* Workers are gone: the retired set (if a reload left one) can go. */
	bw_policy_set_free(&r.retired);
	if (o->policy)
		bw_policy_set_apply(&o->policy->cur, env);
	free(r.wk);
	bw_ring_free(r.ctl);
	bw_json_deinit(&r.sj);
	bw_x509_dedup_deinit(&r.x509_seen);
	pthread_mutex_destroy(&r.mu);
	return rc;
}
