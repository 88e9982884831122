/* SPDX-License-Identifier: MIT */
/*
 * live_run.h: `bindwatch -i IFACE`, the live run.
 *
 *   N capture handles (capture_live.h), one per worker thread
 *     -> N workers (worker.h), each reading only its own handle
 *     -> N SPSC event rings (ring.h) -> one output thread -> the sinks
 *
 * The kernel's fanout (AF_PACKET), the rx queue (AF_XDP) or libpcap's
 * single socket decides which worker sees a flow, so workers share nothing
 * but the binding tables and alert suppression of the detect env. A worker
 * never waits for the output: a full event ring drops the event and counts
 * it. The calling thread handles signals:
 *   SIGINT, SIGTERM  stop the capture (bw_live_break), let every worker
 *                    deliver what it holds (TCP flows), drain the rings,
 *                    flush the alerts held back, write the final stats
 *                    event, return BW_OK;
 *   SIGHUP           reload the policy (a broken one is refused and the old
 *                    one stays) and reopen the file sinks;
 *   SIGUSR1          write a stats event now.
 * Workers hand every finished TCP flow (flow_done hook) to the kernel
 * bypass of their own handle.
 *
 * Threads: call from the main thread, which must be registered with the
 * binding tables (bindings.h); it goes offline while it waits. No other
 * thread may call bw_output_emit() on out until it returns.
 */
#ifndef BW_LIVE_RUN_H
#define BW_LIVE_RUN_H

#include "capture_live.h"
#include "policyctl.h"
#include "sink.h"
#include "worker.h"

struct bw_live_run_options {
	/* iface, backend, ring_mb, block_kb, pcap_filter, bpf_filter, xdp_mode, promisc...;
	 * n_workers, worker_index and dns_ports are set by the run (dns_ports from the
	 * worker config's DNS port bitmap, the first 64). */
	struct bw_live_config live;
	unsigned workers;            /* 1..BW_PIPELINE_MAX_WORKERS; 0: one per online CPU */
	const char *user;            /* drop to this user once capture is set up (privdrop.h); NULL: stay */
	unsigned stats_interval;     /* seconds between periodic stats events; 0: none */
	bool quiet;                  /* no summary on stderr at the end */
	size_t event_ring_bytes;     /* per worker (0: 4 MiB) */
	struct bw_policyctl *policy; /* reloaded on SIGHUP (borrowed; NULL: SIGHUP only reopens sinks) */
	bool seccomp;                /* install the system-call filter once started (seccomp.h); default off */
};

/* Defaults: AUTO backend, workers 0 (online CPUs), no user, no periodic stats. */
void bw_live_run_options_default(struct bw_live_run_options *o);

/*
 * Run until SIGINT/SIGTERM (or a capture error). wc as for bw_worker_new
 * (copied per worker; emit, flow_done and worker_id are set by the run;
 * wc->detect must be env). env is borrowed: its bindings and alerts are
 * shared by the workers; its policy, zones and caa are replaced on SIGHUP
 * from o->policy. out is borrowed.
 * Returns BW_OK after a signal stopped the run, or an error with the
 * message in err: a capture handle could not be opened (BW_ENOENT no such
 * interface, BW_EIO refused; nothing was written), the privilege drop
 * failed (BW_EINVAL: no such user; BW_EIO: the kernel refused), a capture failed mid-run (BW_EIO; the events and the
 * final stats are written all the same), BW_ENOMEM.
 */
int bw_live_run(const struct bw_live_run_options *o, const struct bw_worker_config *wc, struct bw_output *out,
		struct bw_detect_env *env, char *err, size_t errcap);

#endif /* BW_LIVE_RUN_H */
