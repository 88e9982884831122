/* SPDX-License-Identifier: MIT */
/*
 * pipeline.h: the offline multi-worker pipeline.
 *
 *   calling thread (reader) --frames--> N worker threads --events--> output thread
 *
 * The caller's thread reads capture files (bw_pipeline_read_file) and hands
 * each frame to the worker its dispatch hash picks, over that worker's SPSC
 * ring (ring.h). Each worker thread owns one struct bw_worker and sends its
 * events, through the worker config's emit hook, into its own SPSC event
 * ring; one output thread drains the event rings and is the only caller of
 * bw_output_emit() while the pipeline runs.
 *
 * Walk mode (files our own reader maps, the common case): instead of the
 * caller reading and dispatching, every worker reads the whole file itself
 * through a clone of the caller's reader (capture.h; one mapping, a cursor
 * each), computes the dispatch hash of every frame and processes its own,
 * while the caller's thread waits (reporting progress). No reader thread,
 * no frame ring. By default (BW_WALK_AUTO) only with no more workers than
 * online CPUs: more would each read every record header while taking
 * turns on the cores. libpcap files and copy_frames use the reader.
 *
 * Frames are not copied when the reader keeps them valid until the file is
 * closed (our mmap reader: the ring carries a 64-byte descriptor with a
 * pointer into the mapping, and the reader waits for the workers to finish
 * a file before closing it); with libpcap (whose buffer is reused at every
 * next()) the frame bytes are copied into the ring after the descriptor.
 * No allocation per frame or per event: a copied frame or an event larger
 * than a quarter of its ring (128 KiB frames, 1 MiB events by default) is
 * the one exception, copied to the heap.
 *
 * Dispatch hash (bw_pipeline_dispatch_hash): a symmetric hash of the
 * outermost IP address pair, not ports and not VLAN ids, so both directions
 * of a flow and every fragment of a datagram (which carry no ports after
 * the first) reach the same worker, and so do the mirrored copies of a
 * packet the duplicate filter must see together (a copy seen through a
 * second mirror session with another VLAN tag). The cost: one busy host
 * pair, or one tunnel carrying everything (an ERSPAN or VXLAN mirror feed),
 * lands on one worker; and a packet seen both tunnelled and plain goes to
 * two workers, so that duplicate is not dropped.
 *
 * Offline runs must not lose anything, so a full ring makes its producer
 * wait (back-pressure to the reader) instead of dropping.
 *
 * Certificates: each worker has its own certificate cache and writes an
 * x509 event for a certificate it has not seen; the output thread drops an
 * x509 event for a certificate already written (a bounded set, as large as
 * the workers' caches together), so a run writes one x509 event per
 * certificate as a single worker does. Its evidence (flow, packet) is the
 * sighting that reached the output first, not necessarily the earliest.
 *
 * Detectors (alerts, binding tables): with several workers they run in
 * capture order, one call at a time, on one shared detector state, so the
 * alerts are those of a single-worker run: a detector call for frame s
 * runs only once no other worker can still make one for an earlier frame
 * (the detection turnstile in pipeline.c). A worker whose DNS message or
 * TLS handshake must wait for that keeps a copy and goes on; the copies go
 * through in their turn (worker.h, detect_try). Everything before the
 * detectors (decoding, reassembly, parsing, certificate validation,
 * formatting) stays parallel. End-of-input flushes run worker by worker
 * after the last frame, then the end-of-run checks.
 *
 * Threads: create, read files and finish from one thread.
 */
#ifndef BW_PIPELINE_H
#define BW_PIPELINE_H

#include <stdatomic.h>

#include "capture.h"
#include "ring.h"
#include "sink.h"
#include "worker.h"

#define BW_PIPELINE_MAX_WORKERS 64

struct bw_pipeline_config {
	unsigned workers;            /* 1..BW_PIPELINE_MAX_WORKERS */
	size_t frame_ring_bytes;     /* per worker (default 512 KiB: 8192 descriptors) */
	size_t event_ring_bytes;     /* per worker (default 1 MiB: a ring cycles through all of its pages, so each MiB is resident; 1 MiB had no full waits on the bench capture) */
	unsigned batch;              /* records per publish/release (default 32) */
	bool copy_frames;            /* copy frame bytes even when the reader could lend them */
	enum bw_walk_mode { BW_WALK_AUTO, BW_WALK_NEVER, BW_WALK_ALWAYS } walk; /* see above */
	/*
	 * Called by every worker thread when it starts and before it ends,
	 * around each sleep (idle_begin/end) and after each batch of frames
	 * (quiescent): where the shared binding tables' QSBR registration goes
	 * (bw_bindings_thread_register, _unregister, _offline, _online,
	 * bw_bindings_quiescent). The output thread and the reader (the
	 * caller's thread) do not touch the tables: a caller registered with
	 * them goes offline while the pipeline runs. All may be NULL.
	 */
	void (*thread_start)(void);
	void (*thread_stop)(void);
	void (*quiescent)(void);
	void (*idle_begin)(void);
	void (*idle_end)(void);
	/* Reader progress, every 4096 frames (may be NULL): bytes read of this file, frames read in all. */
	void (*progress)(void *ctx, uint64_t file_pos, uint64_t frames);
	void *progress_ctx;
	/* Set from a signal handler to stop reading (checked every 4096 frames). May be NULL. */
	volatile int *stop;
};

/*
 * Defaults as documented above; workers from bw_pipeline_default_workers().
 * copy_frames is set when the environment has BINDWATCH_COPY_FRAMES=1 and
 * walk from BINDWATCH_WALK=never|always (so the benchmark can compare
 * walking, lending and copying through the command line).
 */
void bw_pipeline_config_default(struct bw_pipeline_config *c);

/* The number of online CPUs (at least 1, at most BW_PIPELINE_MAX_WORKERS). */
unsigned bw_pipeline_default_workers(void);

struct bw_pipeline;

/*
 * Start the worker and output threads. wc is copied for every worker (its
 * emit, emit_ctx and worker_id are set by the pipeline); wc->trust is
 * shared by all workers (read-only). out is borrowed: nothing else may
 * call bw_output_emit() on it until bw_pipeline_finish() returns. Returns
 * NULL on ENOMEM or a bad configuration (err says which).
 */
struct bw_pipeline *bw_pipeline_new(const struct bw_pipeline_config *pc, const struct bw_worker_config *wc,
				    struct bw_output *out, char *err, size_t errcap);

/*
 * Read one capture file through the workers. name is the file name put in
 * events (borrowed: it must stay valid until bw_pipeline_finish()). kind as
 * in bw_capture_file_open. Returns BW_OK when the whole file was read, or
 * an error with the message in err: the file could not be opened
 * (*opened false) or it is corrupt or truncated (*opened true; the frames
 * before the fault were processed). *bytes_read and *file_size as the
 * reader's pos and size. On a stop request returns BW_OK early.
 */
int bw_pipeline_read_file(struct bw_pipeline *p, const char *path, const char *name, enum bw_reader_kind kind,
			  bool *opened, uint64_t *bytes_read, uint64_t *file_size, char *err, size_t errcap);

/*
 * End of input: workers deliver what TCP still holds, the event rings
 * drain, the threads end. After this, bw_output_emit() is the caller's
 * again. Idempotent.
 */
void bw_pipeline_finish(struct bw_pipeline *p);

/*
 * Counters merged over the workers (and the reader's capture anomalies).
 * Call after bw_pipeline_finish(). an may be NULL.
 */
void bw_pipeline_stats(const struct bw_pipeline *p, struct bw_worker_stats *st, struct bw_anomalies *an);

/* What the pipeline itself counted (rings, waits, copies, x509 duplicates). */
struct bw_pipeline_stats {
	uint64_t frames_dispatched[BW_PIPELINE_MAX_WORKERS];
	uint64_t frames_copied, frames_heap, events_heap;
	uint64_t frame_ring_full_waits, event_ring_full_waits, worker_idle_waits, output_idle_waits;
	uint64_t x509_duplicates_dropped;
	uint64_t turnstile_waits;       /* detector calls that waited for an earlier frame's */
	uint64_t files_walked;          /* files the workers read themselves (walk mode) */
	unsigned workers;
};
void bw_pipeline_own_stats(const struct bw_pipeline *p, struct bw_pipeline_stats *st);

/* Finishes if needed, then frees. NULL-safe. */
void bw_pipeline_free(struct bw_pipeline *p);

/*
 * The worker-independent hash the reader dispatches by (see above):
 * symmetric in the outermost IP pair; 0 for a frame that is not IP or is
 * too short to say (those all go to worker 0).
 */
uint64_t bw_pipeline_dispatch_hash(int linktype, const uint8_t *frame, uint32_t cap_len);

/* Sum b into a: counters add, first_ts is the earliest, last_ts the latest. */
void bw_worker_stats_merge(struct bw_worker_stats *a, const struct bw_worker_stats *b);
void bw_anomalies_merge(struct bw_anomalies *a, const struct bw_anomalies *b);

#endif /* BW_PIPELINE_H */
