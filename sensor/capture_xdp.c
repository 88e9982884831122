/* SPDX-License-Identifier: MIT */
/*
 * capture_xdp.c: the XDP + AF_XDP backend. The filter of bpf/filter.bpf.c
 * runs as an XDP program on the interface and redirects what it keeps into
 * an AF_XDP socket on the receive queue the packet arrived on; everything
 * else goes on to the host's stack with XDP_PASS, so the machine's own
 * traffic is untouched; what is kept is taken from the stack (XDP cannot
 * both redirect and pass a packet), which is right on a span port and why
 * AUTO never picks this backend. An AF_XDP socket is bound to one queue, so a worker
 * owns one socket per queue it is dealt (queues w, w+N, ... for worker w of
 * N) and polls them together; a worker left without a queue idles.
 *
 * The XDP program is attached once per interface (the group), through a BPF
 * link, so it goes away with the process even after a crash: no stale
 * program is left on a span port. Native (driver) mode is tried first,
 * generic (skb) mode second, unless the config insists on one. libxdp's own
 * program loading is inhibited (its multiprog dispatcher cannot load on this
 * kind of kernel, pitfall 3 of the live-capture notes); we insert our
 * sockets into our XSKMAP. Each socket has its own UMEM with more frames
 * than fill-ring slots: the kernel publishes fill-ring consumption lazily,
 * so frames not yet back in the fill ring wait on a free stack and are
 * refilled as room appears, never spinning on a reservation.
 */
#define _GNU_SOURCE
#include "bw.h"

#include <linux/filter.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#define BW_LIVE_INTERNAL
#include "capture_live.h"
#include "filter.skel.h"

#define XDP_MAX_QUEUES 64
#define XDP_BATCH 64
#define XDP_FRAME 4096u

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

/* Per interface: the attached program and what the handles share. */
struct xdp_group {
	int ifindex;
	int link_fd;     /* BPF link: closing it detaches the program */
	bool native;
	unsigned n_queues;
	int xsks_fd;
	int promisc_fd;  /* an AF_PACKET socket holding promiscuous mode, -1 */
};

struct xsk_q {
	struct xsk_socket *xsk;
	struct xsk_umem *umem;
	void *area;
	size_t area_size;
	struct xsk_ring_cons rx;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	uint64_t *free_stack; /* UMEM frames owned by us, not in the fill ring */
	uint32_t n_free, n_frames;
	unsigned queue;
	int fd;
	bool zerocopy;
};

struct xdp_h {
	struct bw_live base;
	struct xsk_q q[XDP_MAX_QUEUES];
	int fds[XDP_MAX_QUEUES];
	unsigned nq, next_q;
	struct {
		uint64_t addr;
		uint32_t len;
	} batch[XDP_BATCH];
	unsigned bn, bi, batch_q;
	bw_time_t batch_ts;
	uint64_t number;
};

static void xdp_group_free(void *p)
{
	struct xdp_group *xg = p;
	if (!xg)
		return;
	if (xg->link_fd >= 0)
		close(xg->link_fd);
	if (xg->promisc_fd >= 0)
		close(xg->promisc_fd);
	free(xg);
}

/*
 * Promiscuous mode through a packet-socket membership rather than IFF_PROMISC:
 * the kernel counts memberships and drops ours when the socket closes, even
 * if we crash. The socket filters out everything, so it costs nothing.
 */
static int promisc_socket(int ifindex)
{
	struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = {.len = 1, .filter = &drop};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = 0, .sll_ifindex = ifindex};
	struct packet_mreq mr = {.mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC};
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int attach(int prog_fd, int ifindex, __u32 flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, o, .flags = flags);
	int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &o);
	return fd < 0 ? -errno : fd;
}

static int group_setup(const struct bw_live_config *c, struct bw_live_group *g, int ifindex, struct xdp_group **out,
		       char *err, size_t errcap)
{
	struct xdp_group *xg = calloc(1, sizeof(*xg));
	int rc;

	if (!xg) {
		snprintf(err, errcap, "%s: out of memory", c->iface);
		return BW_ENOMEM;
	}
	xg->link_fd = xg->promisc_fd = -1;
	xg->ifindex = ifindex;
	rc = bw_live_queue_count(c->iface);
	xg->n_queues = rc > 0 ? (unsigned)BW_MIN(rc, XDP_MAX_QUEUES) : 1;
	rc = bw_live_group_bpf(g, c, true, xg->n_queues, BW_BPF_LINK_ETHERNET, err, errcap);
	if (rc) {
		free(xg);
		return rc;
	}
	struct filter_bpf *skel = bw_live_group_skel(g);
	int prog = bpf_program__fd(skel->progs.bw_xdp);
	int fd = -EINVAL;
	if (c->xdp_mode != BW_LIVE_XDP_GENERIC) {
		fd = attach(prog, ifindex, XDP_FLAGS_DRV_MODE);
		xg->native = fd >= 0;
	}
	int native_err = fd;
	if (fd < 0 && c->xdp_mode != BW_LIVE_XDP_NATIVE)
		fd = attach(prog, ifindex, XDP_FLAGS_SKB_MODE);
	if (fd < 0) {
		int e = -fd;
		snprintf(err, errcap, "%s: XDP attach (%s mode): %s%s%s", c->iface,
			 c->xdp_mode == BW_LIVE_XDP_NATIVE ? "native" : "generic", strerror(e),
			 e == EBUSY || e == EEXIST ? " (another XDP program is attached)" : "",
			 e == EPERM ? " (need CAP_NET_ADMIN and CAP_BPF)" : "");
		if (c->xdp_mode == BW_LIVE_XDP_AUTO && native_err < 0 && native_err != fd)
			bw_live_appendf(err, errcap, "; native mode: %s", strerror(-native_err));
		free(xg);
		return BW_EIO;
	}
	xg->link_fd = fd;
	xg->xsks_fd = bpf_map__fd(skel->maps.bw_xsks);
	if (c->promisc)
		xg->promisc_fd = promisc_socket(ifindex);
	*out = xg;
	return BW_OK;
}

static void q_refill(struct xsk_q *q)
{
	uint32_t idx, n = xsk_prod_nb_free(&q->fill, q->n_free);
	n = BW_MIN(n, q->n_free);
	if (n == 0 || xsk_ring_prod__reserve(&q->fill, n, &idx) != n)
		return;
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = q->free_stack[--q->n_free];
	xsk_ring_prod__submit(&q->fill, n);
	/* a zero-copy driver that ran dry waits for a kick; poll() kicks too, but a busy
	 * consumer may not poll for a long time */
	if (q->fd >= 0 && xsk_ring_prod__needs_wakeup(&q->fill))
		(void)recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static void q_close(struct xsk_q *q)
{
	if (q->xsk)
		xsk_socket__delete(q->xsk);
	if (q->umem)
		xsk_umem__delete(q->umem);
	if (q->area)
		munmap(q->area, q->area_size);
	free(q->free_stack);
	memset(q, 0, sizeof(*q));
	q->fd = -1;
}

static int q_open(struct xsk_q *q, const struct bw_live_config *c, struct xdp_group *xg, unsigned queue, char *err,
		  size_t errcap)
{
	uint32_t ring_mb = c->ring_mb ? c->ring_mb : 32;
	uint64_t want = (uint64_t)ring_mb * 1024 * 1024 / XDP_FRAME;
	uint32_t frames = (uint32_t)BW_MIN(BW_MAX(want, 1024u), 65536u);
	uint32_t ring = 1;
	while (ring * 2 <= frames / 2 && ring < 8192)
		ring *= 2; /* a power of two, at most half the frames: the rest waits on the free stack */
	int rc;

	q->fd = -1;
	q->queue = queue;
	q->n_frames = frames;
	q->area_size = (size_t)frames * XDP_FRAME;
	q->area = mmap(NULL, q->area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		snprintf(err, errcap, "%s: UMEM of %u MiB: %s", c->iface, ring_mb, strerror(errno));
		return BW_ENOMEM;
	}
	q->free_stack = malloc(sizeof(uint64_t) * frames);
	if (!q->free_stack) {
		snprintf(err, errcap, "%s: out of memory", c->iface);
		return BW_ENOMEM;
	}
	struct xsk_umem_config ucfg = {
		.fill_size = ring, .comp_size = 64, .frame_size = XDP_FRAME, .frame_headroom = 0, .flags = 0};
	rc = xsk_umem__create(&q->umem, q->area, q->area_size, &q->fill, &q->comp, &ucfg);
	if (rc) {
		q->umem = NULL;
		snprintf(err, errcap, "%s: AF_XDP UMEM: %s%s", c->iface, strerror(-rc),
			 -rc == EPERM ? " (need CAP_NET_RAW and CAP_IPC_LOCK)" : "");
		return BW_EIO;
	}
	struct xsk_socket_config scfg = {
		.rx_size = ring,
		.tx_size = 0,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = xg->native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE,
		/* generic mode cannot do zero copy; native lets the kernel pick */
		.bind_flags = (uint16_t)(XDP_USE_NEED_WAKEUP | (xg->native ? 0 : XDP_COPY)),
	};
	rc = xsk_socket__create(&q->xsk, c->iface, queue, q->umem, &q->rx, NULL, &scfg);
	if (rc) {
		q->xsk = NULL;
		snprintf(err, errcap, "%s: AF_XDP socket on queue %u: %s", c->iface, queue, strerror(-rc));
		return BW_EIO;
	}
	q->fd = xsk_socket__fd(q->xsk);
	rc = xsk_socket__update_xskmap(q->xsk, xg->xsks_fd);
	if (rc) {
		snprintf(err, errcap, "%s: XSKMAP update for queue %u: %s", c->iface, queue, strerror(-rc));
		return BW_EIO;
	}
	struct xdp_options opts;
	socklen_t ol = sizeof(opts);
	if (getsockopt(q->fd, SOL_XDP, XDP_OPTIONS, &opts, &ol) == 0)
		q->zerocopy = opts.flags & XDP_OPTIONS_ZEROCOPY;
	for (uint32_t i = 0; i < frames; i++)
		q->free_stack[q->n_free++] = (uint64_t)(frames - 1 - i) * XDP_FRAME;
	q_refill(q);
	return BW_OK;
}

static void xdp_recycle_batch(struct xdp_h *x)
{
	if (x->bn == 0)
		return;
	struct xsk_q *q = &x->q[x->batch_q];
	for (unsigned i = 0; i < x->bn && q->n_free < q->n_frames; i++)
		q->free_stack[q->n_free++] = xsk_umem__extract_addr(x->batch[i].addr);
	x->bn = x->bi = 0;
}

static bool xdp_take(struct xdp_h *x)
{
	for (unsigned k = 0; k < x->nq; k++) {
		unsigned qi = (x->next_q + k) % x->nq;
		struct xsk_q *q = &x->q[qi];
		uint32_t idx;
		uint32_t n = xsk_ring_cons__peek(&q->rx, XDP_BATCH, &idx);
		if (n == 0)
			continue;
		for (uint32_t i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
			x->batch[i].addr = d->addr;
			x->batch[i].len = d->len;
		}
		xsk_ring_cons__release(&q->rx, n);
		x->bn = n;
		x->bi = 0;
		x->batch_q = qi;
		x->next_q = (qi + 1) % x->nq;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		x->batch_ts = (bw_time_t)ts.tv_sec * BW_NSEC_PER_SEC + (bw_time_t)ts.tv_nsec;
		return true;
	}
	return false;
}

static int xdp_next(struct bw_live *h, struct bw_frame *fr, int timeout_ms)
{
	struct xdp_h *x = (struct xdp_h *)h;

	if (__atomic_load_n(&h->broken, __ATOMIC_ACQUIRE))
		return BW_EEOF;
	if (x->bi >= x->bn) {
		/* the whole batch has been handed out and the caller is past its last frame */
		xdp_recycle_batch(x);
		for (unsigned i = 0; i < x->nq; i++)
			q_refill(&x->q[i]);
		if (!xdp_take(x)) {
			int w = bw_live_wait(h, x->fds, x->nq, timeout_ms);
			if (w < 0)
				return w;
			for (unsigned i = 0; i < x->nq; i++)
				q_refill(&x->q[i]);
			if (w == 0 || !xdp_take(x))
				return BW_EAGAIN;
		}
	}
	struct xsk_q *q = &x->q[x->batch_q];
	uint64_t addr = xsk_umem__add_offset_to_addr(x->batch[x->bi].addr);
	uint32_t len = x->batch[x->bi].len;
	x->bi++;
	if (addr >= q->area_size || len > q->area_size - addr)
		return BW_EAGAIN; /* a descriptor outside our UMEM: the kernel's bug, not ours to read */
	memset(fr, 0, sizeof(*fr));
	fr->data = xsk_umem__get_data(q->area, addr);
	fr->cap_len = fr->wire_len = len;
	fr->ts = x->batch_ts;
	fr->linktype = 1;
	fr->number = ++x->number;
	__atomic_fetch_add(&h->frames, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->bytes, len, __ATOMIC_RELAXED);
	return BW_OK;
}

static void xdp_stats(struct bw_live *h, struct bw_live_stats *st)
{
	struct xdp_h *x = (struct xdp_h *)h;
	for (unsigned i = 0; i < x->nq; i++) {
		struct xdp_statistics s;
		socklen_t len = sizeof(s);
		if (getsockopt(x->q[i].fd, SOL_XDP, XDP_STATISTICS, &s, &len) != 0)
			continue;
		st->xsk_rx_dropped += s.rx_dropped;
		st->xsk_rx_ring_full += s.rx_ring_full;
		st->xsk_fill_ring_empty += s.rx_fill_ring_empty_descs;
		st->xsk_rx_invalid_descs += s.rx_invalid_descs;
	}
	st->kernel_drops = st->xsk_rx_dropped + st->xsk_rx_ring_full;
	st->kernel_packets = st->frames + st->kernel_drops; /* AF_XDP has no received count of its own */
}

static void xdp_close(struct bw_live *h)
{
	struct xdp_h *x = (struct xdp_h *)h;
	for (unsigned i = 0; i < x->nq; i++)
		q_close(&x->q[i]);
	bw_live_base_deinit(h);
	free(x);
}

static const struct bw_live_ops xdp_ops = {.next = xdp_next, .stats = xdp_stats, .close = xdp_close};

int bw_live_xdp_open(const struct bw_live_config *c, struct bw_live_group *g, struct bw_live **out,
		     enum bw_live_stage *stage, char *err, size_t errcap)
{
	struct xdp_group *xg = bw_live_group_xdp(g);
	struct xdp_h *x = NULL;
	int arphrd, rc;

	*stage = BW_LIVE_STAGE_CONFIG;
	int ifindex = (int)if_nametoindex(c->iface);
	if (!ifindex) {
		snprintf(err, errcap, "%s: no such interface", c->iface);
		return BW_ENOENT;
	}
	if (bw_live_iface_linktype(c->iface, &arphrd) != 1) {
		*stage = BW_LIVE_STAGE_SOCKET;
		snprintf(err, errcap, "%s: XDP needs an Ethernet interface (ARPHRD %d)", c->iface, arphrd);
		return BW_ENOTSUP;
	}
	if (!xg) {
		*stage = BW_LIVE_STAGE_BPF;
		rc = group_setup(c, g, ifindex, &xg, err, errcap);
		if (rc) {
			if (rc == BW_ENOMEM)
				*stage = BW_LIVE_STAGE_CONFIG;
			return rc;
		}
		bw_live_group_set_xdp(g, xg, xdp_group_free);
	}

	x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err, errcap, "%s: out of memory", c->iface);
		return BW_ENOMEM;
	}
	if (bw_live_base_init(&x->base, &xdp_ops, err, errcap)) {
		free(x);
		return BW_EIO;
	}
	x->base.bypass_fd = bw_live_bypass_map_fd();
	unsigned n = BW_MAX(c->n_workers, 1u);
	*stage = BW_LIVE_STAGE_BPF;
	for (unsigned qid = c->worker_index; qid < xg->n_queues && x->nq < XDP_MAX_QUEUES; qid += n) {
		rc = q_open(&x->q[x->nq], c, xg, qid, err, errcap);
		x->nq++;
		if (rc) {
			if (rc == BW_ENOMEM)
				*stage = BW_LIVE_STAGE_CONFIG;
			xdp_close(&x->base);
			return rc;
		}
		x->fds[x->nq - 1] = x->q[x->nq - 1].fd;
	}

	char *d = x->base.desc;
	size_t dc = sizeof(x->base.desc);
	snprintf(d, dc, "xdp on %s: worker %u/%u, %s mode, ", c->iface, c->worker_index + 1, n,
		 xg->native ? "native" : "generic");
	if (x->nq == 0) {
		bw_live_appendf(d, dc, "idle (the interface has %u rx queue%s for %u workers)", xg->n_queues,
				xg->n_queues == 1 ? "" : "s", n);
	} else {
		bw_live_appendf(d, dc, "AF_XDP %s on queue%s", x->q[0].zerocopy ? "zero-copy" : "copy",
				x->nq == 1 ? "" : "s");
		for (unsigned i = 0; i < x->nq && i < 16; i++)
			bw_live_appendf(d, dc, "%s%u", i ? "," : " ", x->q[i].queue);
		bw_live_appendf(d, dc, " of %u, UMEM %u × %u B per queue", xg->n_queues, x->q[0].n_frames, XDP_FRAME);
	}
	bw_live_appendf(d, dc, ", eBPF filter %s", c->bpf_filter ? "on" : "off (every frame)");
	bw_live_appendf(d, dc, ", promisc %s", !c->promisc ? "off" : xg->promisc_fd >= 0 ? "on" : "FAILED");
	if (c->pcap_filter)
		bw_live_appendf(d, dc, ", pcap filter ignored (pcap backend only)");
	*out = &x->base;
	return BW_OK;
}
