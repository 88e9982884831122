/* SPDX-License-Identifier: MIT */
/*
 * capture_live.h: frames from a network interface (a span or tap port).
 *
 * One handle per worker thread. Backends:
 *   afpacket  AF_PACKET TPACKET_V3 memory-mapped ring, one socket per worker
 *             in a fanout group hashing both directions of a flow (and the
 *             fragments of a datagram) to the same worker; the eBPF filter of
 *             bpf/filter.bpf.c attached to every socket. The default.
 *   xdp       the same filter as an XDP program, redirecting what it keeps
 *             into AF_XDP sockets (one per rx queue, queues dealt to workers
 *             round robin: worker w gets queues w, w+N, ...); everything else
 *             is XDP_PASSed, so the host's own traffic is untouched -- except
 *             the packets kept, which are redirected and never reach the
 *             host's stack: use xdp on a dedicated capture port (span, tap),
 *             not on an interface whose own DNS/TLS traffic the host needs.
 *   pcap      plain libpcap, with an optional tcpdump-style filter.
 * AUTO tries afpacket with the eBPF filter, then afpacket without a filter
 * (the BPF program could not be loaded: no privilege, old kernel), then
 * libpcap (no AF_PACKET); an explicit xdp falls back to afpacket the same
 * way. A fallback is not an error: bw_live_warning() says what happened and
 * why, and bw_live_describe() what runs.
 *
 * The first handle opened on an interface decides the backend and loads the
 * BPF objects; the handles opened after it on the same interface (the other
 * workers) join that decision, the same fanout group and the same BPF
 * program. The bypass map is shared by every handle of the process. So open
 * worker 0 first if you want its fallback decision to be the one logged, and
 * keep every handle of a run on the same config except worker_index.
 *
 * Threads: each handle is used by one thread (next, bypass, close), except
 * bw_live_break() (any thread, async-signal-safe) and bw_live_stats() (any
 * thread). open and close of different handles may run concurrently.
 */
#ifndef BW_CAPTURE_LIVE_H
#define BW_CAPTURE_LIVE_H

#include "../parsers/decode.h"
#include "bw.h"
#include "capture.h"

enum bw_live_backend {
	BW_LIVE_AUTO = 0,
	BW_LIVE_AFPACKET,
	BW_LIVE_XDP,
	BW_LIVE_PCAP,
};

enum bw_live_xdp_mode {
	BW_LIVE_XDP_AUTO = 0, /* native (driver) mode where the driver has it, else generic */
	BW_LIVE_XDP_NATIVE,   /* native only: fail (fall back to afpacket) without driver support */
	BW_LIVE_XDP_GENERIC,  /* generic (skb) mode */
};

struct bw_live_config {
	const char *iface;              /* interface name (required) */
	enum bw_live_backend backend;
	unsigned n_workers;             /* handles of the run on this interface (0 is taken as 1) */
	unsigned worker_index;          /* 0 .. n_workers-1 */
	uint32_t ring_mb;               /* per handle: TPACKET ring, AF_XDP UMEM, libpcap buffer (default 32) */
	uint32_t block_kb;              /* TPACKET_V3 block size, a power of two 64..16384 (default 1024) */
	bool promisc;                   /* promiscuous mode (default true; released on close) */
	const char *pcap_filter;        /* tcpdump-style filter: pcap backend only (NULL: none) */
	bool bpf_filter;                /* attach the eBPF filter (default true); false: every frame */
	bool pass_tunnels;              /* the filter keeps GRE/VXLAN/MPLS... for the decoder (default true) */
	const uint16_t *dns_ports;      /* ports the filter keeps as DNS; NULL: 53 and 5353 */
	size_t n_dns_ports;
	int fanout_group_id;            /* 1..65535; 0: the kernel picks one unique to this run */
	enum bw_live_xdp_mode xdp_mode;
	uint32_t bypass_entries;        /* flows the bypass map holds, LRU (default 262144) */
	uint32_t snaplen;               /* pcap backend (default 262144) */
	uint32_t retire_ms;             /* TPACKET_V3: hand over a partly filled block after this (default 10) */
};

/* Fills c with the defaults above (backend AUTO, one worker, iface NULL). */
void bw_live_config_default(struct bw_live_config *c);

struct bw_live;

/*
 * Open this worker's handle. Returns BW_OK and *out, or an error with a
 * message in err ("eth0: AF_PACKET socket: Operation not permitted (need
 * CAP_NET_RAW)"), and *out NULL. Errors: BW_EINVAL (bad config), BW_ENOENT
 * (no such interface), BW_ENOMEM, BW_EIO (the kernel refused; every
 * fallback allowed was tried).
 */
int bw_live_open(const struct bw_live_config *c, struct bw_live **out, char *err, size_t errcap);

/*
 * Next frame, waiting up to timeout_ms (< 0: until a frame or
 * bw_live_break). Returns BW_OK with *fr filled (bytes borrowed from the
 * handle until the next call on it), BW_EAGAIN on timeout, BW_EEOF after
 * bw_live_break(), BW_EIO if the socket failed. A VLAN tag the kernel moved
 * out of the frame is put back (in a copy owned by the handle), so the
 * decoder sees the frame as it was on the wire. fr->number counts the
 * handle's frames from 1; fr->ts is the kernel's receive time (AF_XDP: the
 * time the batch was read); fr->offset and fr->ifindex are 0.
 */
int bw_live_next(struct bw_live *h, struct bw_frame *fr, int timeout_ms);

/*
 * Ask the kernel to drop the rest of a flow (both directions): its handshake
 * is done or it is not TLS. key as made by bw_flow_key_make() for a packet
 * decoded from one of this run's frames (a flow inside a tunnel has no
 * effect: the kernel sees the outer headers). The map is shared by all
 * handles and LRU: old entries are evicted silently. Returns BW_OK (also
 * when the flow was already there), BW_ENOTSUP when no eBPF filter runs
 * (pcap, or the fallback without filter), BW_EINVAL for a key that is not
 * TCP or UDP, BW_EIO if the map update failed (counted). One syscall: call
 * it once per flow, not per packet.
 */
int bw_live_bypass(struct bw_live *h, const struct bw_flow_key *key);

/* Wake a bw_live_next() blocked on h and make it (and later calls) return BW_EEOF. */
void bw_live_break(struct bw_live *h);

struct bw_live_bpf_stats {
	uint64_t passed_packets, passed_bytes;
	uint64_t dropped_packets, dropped_bytes;   /* did not match the filter */
	uint64_t bypassed_packets, bypassed_bytes; /* flows in the bypass map */
	uint64_t pass_dns, pass_tcp, pass_quic, pass_dtls, pass_tunnel, pass_fragment, pass_all;
	uint64_t bypass_reset, xsk_missed;
};

struct bw_live_stats {
	/* this handle */
	uint64_t frames, bytes;          /* handed out by bw_live_next */
	uint64_t vlan_restored;          /* frames whose VLAN tag was put back */
	uint64_t kernel_packets;         /* reached this handle's socket(s) after the filter (AF_XDP: frames + drops) */
	uint64_t kernel_drops;           /* lost for want of ring room (tp_drops, ps_drop, AF_XDP rx drops) */
	uint64_t kernel_if_drops;        /* libpcap ps_ifdrop */
	uint64_t freeze_q;               /* TPACKET_V3: times the ring was full */
	uint64_t xsk_rx_dropped, xsk_rx_ring_full, xsk_fill_ring_empty, xsk_rx_invalid_descs;
	uint64_t ring_errors;            /* malformed ring entries skipped (should stay 0) */
	uint64_t bypass_calls, bypass_errors;
	/* the whole interface: the same numbers on every handle of the group */
	bool bpf;                        /* an eBPF program runs and bpf below is valid */
	struct bw_live_bpf_stats bpf_counters;
	uint64_t bypass_entries;         /* flows in the bypass map now (a scan capped at 65536; 0 if unknown) */
};

/* Snapshot; st zeroed first. Counters are cumulative since open. */
void bw_live_stats(struct bw_live *h, struct bw_live_stats *st);

/* One line for the startup log: backend, mode, queue/worker, ring, filter. Never NULL. */
const char *bw_live_describe(const struct bw_live *h);

/* Why this handle runs a fallback ("eBPF filter not loaded: ...; capturing every frame"), or NULL. */
const char *bw_live_warning(const struct bw_live *h);

/* Static name: "afpacket", "xdp", "pcap", "auto". */
const char *bw_live_backend_name(enum bw_live_backend b);

/* Receive queues of iface as the kernel reports them (>= 1), or a negative error. */
int bw_live_queue_count(const char *iface);

void bw_live_close(struct bw_live *h); /* NULL-safe; the last handle of a group unloads its BPF objects */

/* ------------------------------------------------------------------------
 * Internals shared by the backends (capture_afpacket.c, capture_xdp.c,
 * capture_pcaplive.c) and tests/test_capture_live.c. Not for other modules.
 */
#ifdef BW_LIVE_INTERNAL

#include <linux/types.h>

#include "../bpf/filter_bpf.h"

/* What one attempt at opening runs; AUTO is a list of these. */
enum bw_live_step {
	BW_LIVE_STEP_NONE = 0,
	BW_LIVE_STEP_AFPACKET_BPF,
	BW_LIVE_STEP_AFPACKET,
	BW_LIVE_STEP_XDP,
	BW_LIVE_STEP_PCAP,
};

/* Where an attempt failed: decides whether another backend may do better. */
enum bw_live_stage {
	BW_LIVE_STAGE_CONFIG = 0, /* bad config, no such interface, out of memory: no fallback helps */
	BW_LIVE_STAGE_BPF,        /* loading or attaching BPF, or creating AF_XDP sockets */
	BW_LIVE_STAGE_SOCKET,     /* the backend cannot run here (no AF_PACKET, link type) */
};

/* The first step for a config. */
enum bw_live_step bw_live_first_step(const struct bw_live_config *c);
/* The step to try after failed failed at stage (BW_LIVE_STEP_NONE: give up). */
enum bw_live_step bw_live_next_step(const struct bw_live_config *c, enum bw_live_step failed,
				    enum bw_live_stage stage);
const char *bw_live_step_name(enum bw_live_step s);

/* The kernel's key for a decoded flow. BW_EINVAL unless TCP/UDP with one address family. */
int bw_live_bypass_key(const struct bw_flow_key *in, struct bw_bpf_flow_key *out);

/*
 * Walk one TPACKET_V3 block, checking every offset against the block (the
 * ring is the kernel's, but a bad offset must not make us read past it).
 * copy (copy_cap bytes) receives frames whose VLAN tag is put back; frames
 * that do not fit are handed out without the tag (counted in ring_errors).
 */
struct bw_live_tpv3 {
	const uint8_t *block;
	size_t size;
	uint32_t n, i, off;
	int linktype;
	uint8_t *copy;
	size_t copy_cap;
	uint64_t vlan_restored, ring_errors;
};

/* Start a block. Returns BW_OK, or BW_EMALF for a header that does not fit (no frames). */
int bw_live_tpv3_begin(struct bw_live_tpv3 *it, const void *block, size_t size);
/* Next frame of the block (number left 0 for the caller): BW_OK, or BW_EEOF at its end or at a bad entry. */
int bw_live_tpv3_next(struct bw_live_tpv3 *it, struct bw_frame *fr);

struct bw_live_group;

/* Common head of every backend's handle. */
struct bw_live_ops {
	int (*next)(struct bw_live *h, struct bw_frame *fr, int timeout_ms);
	void (*stats)(struct bw_live *h, struct bw_live_stats *st);
	void (*close)(struct bw_live *h);
};

struct bw_live {
	const struct bw_live_ops *ops;
	struct bw_live_group *group; /* shared with the other workers of the interface; counted ref */
	int wake_fd;                 /* eventfd written by bw_live_break */
	int bypass_fd;               /* the shared map (owned by the registry), -1 without eBPF */
	bool broken;                 /* bw_live_break was called (atomic access) */
	uint64_t frames, bytes;      /* atomic access: read by bw_live_stats from other threads */
	uint64_t bypass_calls, bypass_errors;
	char desc[512];
	char warn[512];
};

/* Fill the common head (wake_fd created). BW_OK or BW_EIO with err. */
int bw_live_base_init(struct bw_live *h, const struct bw_live_ops *ops, char *err, size_t errcap);
void bw_live_base_deinit(struct bw_live *h);
/* Wait for fds to be readable or the handle to be woken: 1 ready, 0 timeout (or a socket error
 * read and cleared, e.g. ENETDOWN), BW_EEOF woken, BW_EIO for a closed descriptor. */
int bw_live_wait(struct bw_live *h, const int *fds, unsigned n_fds, int timeout_ms);
/* Join (or create) the run's fanout group for this interface on a bound AF_PACKET socket. */
int bw_live_fanout_join(int fd, struct bw_live_group *g, const struct bw_live_config *c, char *err, size_t errcap);
/* Fanout id of the group (-1: none yet; the kernel may pick 0). */
int bw_live_group_fanout_id(const struct bw_live_group *g);

/* Backends: open one handle of an already locked group. On error, *stage says where. */
int bw_live_xdp_open(const struct bw_live_config *c, struct bw_live_group *g, struct bw_live **out,
		     enum bw_live_stage *stage, char *err, size_t errcap);
int bw_live_pcap_open(const struct bw_live_config *c, struct bw_live_group *g, struct bw_live **out,
		      enum bw_live_stage *stage, char *err, size_t errcap);

/* XDP state of a group, kept by capture_xdp.c (NULL until set); freed with the group. */
void *bw_live_group_xdp(struct bw_live_group *g);
void bw_live_group_set_xdp(struct bw_live_group *g, void *xdp, void (*free_fn)(void *));

/*
 * Load the group's BPF object once: the socket filter (xdp false) or the XDP
 * program with an XSKMAP of n_queues slots. link is BW_BPF_LINK_*. The
 * bypass map is created by the first load of the process and reused by the
 * others. BW_OK, or an error with err (stage BPF).
 */
struct filter_bpf;
int bw_live_group_bpf(struct bw_live_group *g, const struct bw_live_config *c, bool xdp, unsigned n_queues,
		      int link, char *err, size_t errcap);
struct filter_bpf *bw_live_group_skel(struct bw_live_group *g); /* NULL before bw_live_group_bpf */
int bw_live_bypass_map_fd(void);                                 /* -1 while no group holds it */

/* LINKTYPE_* the backends deliver for iface (1 Ethernet, 101 raw IP), BW_ENOTSUP for others; *arphrd set. */
int bw_live_iface_linktype(const char *iface, int *arphrd);
/* Append a printf-style note to buf (bounded, NUL-terminated). */
void bw_live_appendf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* BW_LIVE_INTERNAL */

#endif /* BW_CAPTURE_LIVE_H */
