/* SPDX-License-Identifier: MIT */
/*
 * capture_afpacket.c: live capture's front door and its default backend.
 *
 * The front door (bw_live_open and friends) picks a backend, falls back when
 * the kernel refuses one (see bw_live_next_step), and keeps the state that
 * the handles of one run share: per interface a "group" (the backend every
 * worker of that interface uses, the fanout group, the loaded BPF object)
 * and, for the process, the bypass map. That state is process-wide by
 * nature -- one BPF program and one fanout group serve all the workers of an
 * interface, and user space must write a flow into the one map the kernel
 * reads -- so it lives here behind one mutex, taken only by open and close.
 *
 * The backend is AF_PACKET with a TPACKET_V3 ring: the kernel fills whole
 * blocks of frames and hands a block over when it is full or after
 * retire_ms, so a busy ring costs one poll() per block, not per packet. The
 * eBPF filter of bpf/filter.bpf.c is attached to every socket, and the
 * sockets of the workers join one PACKET_FANOUT_HASH group with DEFRAG, so
 * both directions of a flow and all fragments of a datagram reach the same
 * worker. The kernel moves a VLAN tag out of the frame into the ring header;
 * it is put back into a per-handle copy so the decoder sees the wire frame.
 */
#define _GNU_SOURCE
#include "bw.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define BW_LIVE_INTERNAL
#include "capture_live.h"
#include "filter.skel.h"

#define LIVE_MAX_GROUPS 16
#define LIVE_MAX_QUEUES 256
#define ETHER_HDR 14

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

/* ---- small helpers --------------------------------------------------- */

void bw_live_appendf(char *buf, size_t cap, const char *fmt, ...)
{
	if (!buf || cap == 0)
		return;
	size_t used = strnlen(buf, cap);
	if (used >= cap - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, cap - used, fmt, ap);
	va_end(ap);
}

static void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
	if (!err || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

/* What a capability error needs said, since strerror alone does not tell. */
static const char *priv_hint(int e, const char *caps)
{
	static __thread char buf[64];
	if (e != EPERM && e != EACCES)
		return "";
	snprintf(buf, sizeof(buf), " (need %s)", caps);
	return buf;
}

const char *bw_live_backend_name(enum bw_live_backend b)
{
	switch (b) {
	case BW_LIVE_AUTO: return "auto";
	case BW_LIVE_AFPACKET: return "afpacket";
	case BW_LIVE_XDP: return "xdp";
	case BW_LIVE_PCAP: return "pcap";
	}
	return "unknown";
}

void bw_live_config_default(struct bw_live_config *c)
{
	memset(c, 0, sizeof(*c));
	c->backend = BW_LIVE_AUTO;
	c->n_workers = 1;
	c->ring_mb = 32;
	c->block_kb = 1024;
	c->promisc = true;
	c->bpf_filter = true;
	c->pass_tunnels = true;
	c->xdp_mode = BW_LIVE_XDP_AUTO;
	c->bypass_entries = 262144;
	c->snaplen = 262144;
	c->retire_ms = 10;
}

/* ---- backend choice ---------------------------------------------------- */

const char *bw_live_step_name(enum bw_live_step s)
{
	switch (s) {
	case BW_LIVE_STEP_NONE: return "none";
	case BW_LIVE_STEP_AFPACKET_BPF: return "afpacket with eBPF filter";
	case BW_LIVE_STEP_AFPACKET: return "afpacket without filter";
	case BW_LIVE_STEP_XDP: return "xdp";
	case BW_LIVE_STEP_PCAP: return "pcap";
	}
	return "unknown";
}

enum bw_live_step bw_live_first_step(const struct bw_live_config *c)
{
	switch (c->backend) {
	case BW_LIVE_XDP: return BW_LIVE_STEP_XDP;
	case BW_LIVE_PCAP: return BW_LIVE_STEP_PCAP;
	case BW_LIVE_AUTO:
	case BW_LIVE_AFPACKET:
	default: return c->bpf_filter ? BW_LIVE_STEP_AFPACKET_BPF : BW_LIVE_STEP_AFPACKET;
	}
}

enum bw_live_step bw_live_next_step(const struct bw_live_config *c, enum bw_live_step failed,
				    enum bw_live_stage stage)
{
	if (stage == BW_LIVE_STAGE_CONFIG)
		return BW_LIVE_STEP_NONE;
	switch (failed) {
	case BW_LIVE_STEP_XDP:
		/* XDP is an explicit choice; the issue wants a warning, not a dead sensor. */
		return c->bpf_filter ? BW_LIVE_STEP_AFPACKET_BPF : BW_LIVE_STEP_AFPACKET;
	case BW_LIVE_STEP_AFPACKET_BPF:
		if (stage == BW_LIVE_STAGE_BPF)
			return BW_LIVE_STEP_AFPACKET;
		/* AF_PACKET itself is not usable */
		__attribute__((fallthrough));
	case BW_LIVE_STEP_AFPACKET:
		if (stage == BW_LIVE_STAGE_SOCKET && c->backend != BW_LIVE_AFPACKET)
			return BW_LIVE_STEP_PCAP;
		return BW_LIVE_STEP_NONE;
	case BW_LIVE_STEP_PCAP:
	case BW_LIVE_STEP_NONE:
	default:
		return BW_LIVE_STEP_NONE;
	}
}

/* ---- bypass key ------------------------------------------------------- */

int bw_live_bypass_key(const struct bw_flow_key *in, struct bw_bpf_flow_key *out)
{
	__be32 a[4] = {0}, b[4] = {0};

	memset(out, 0, sizeof(*out));
	if (!in || (in->proto != IPPROTO_TCP && in->proto != IPPROTO_UDP))
		return BW_EINVAL;
	if (in->lo.family != in->hi.family || (in->lo.family != 4 && in->lo.family != 6))
		return BW_EINVAL;
	size_t n = in->lo.family == 4 ? 4 : 16;
	memcpy(a, in->lo.a, n);
	memcpy(b, in->hi.a, n);
	bw_bpf_key_order(out, a, htons(in->lo_port), b, htons(in->hi_port), in->lo.family);
	out->vlan = (__u16)(in->vlan & 0x0fff);
	out->proto = in->proto;
	return BW_OK;
}

/* ---- TPACKET_V3 block walk --------------------------------------------- */

int bw_live_tpv3_begin(struct bw_live_tpv3 *it, const void *block, size_t size)
{
	struct tpacket_block_desc bd;

	it->block = block;
	it->size = size;
	it->i = it->n = it->off = 0;
	if (!block || size < sizeof(bd) || size > UINT32_MAX) {
		it->ring_errors++;
		return BW_EMALF;
	}
	memcpy(&bd, block, sizeof(bd));
	if (bd.hdr.bh1.num_pkts == 0)
		return BW_OK;
	if (bd.hdr.bh1.offset_to_first_pkt < sizeof(bd) || bd.hdr.bh1.offset_to_first_pkt >= size) {
		it->ring_errors++;
		return BW_EMALF;
	}
	it->n = bd.hdr.bh1.num_pkts;
	it->off = bd.hdr.bh1.offset_to_first_pkt;
	return BW_OK;
}

int bw_live_tpv3_next(struct bw_live_tpv3 *it, struct bw_frame *fr)
{
	struct tpacket3_hdr h;

	if (it->i >= it->n)
		return BW_EEOF;
	if (it->off > it->size || it->size - it->off < sizeof(h))
		goto bad;
	memcpy(&h, it->block + it->off, sizeof(h));
	size_t room = it->size - it->off;
	if (h.tp_mac < sizeof(h) || h.tp_mac > room || h.tp_snaplen > room - h.tp_mac)
		goto bad;

	const uint8_t *data = it->block + it->off + h.tp_mac;
	uint32_t cap = h.tp_snaplen, wire = BW_MAX(h.tp_len, h.tp_snaplen);
	if ((h.tp_status & TP_STATUS_VLAN_VALID) && it->linktype == 1 && cap >= 12) {
		uint16_t tpid = (h.tp_status & TP_STATUS_VLAN_TPID_VALID) && h.hv1.tp_vlan_tpid ? h.hv1.tp_vlan_tpid
											 : 0x8100;
		uint16_t tci = (uint16_t)h.hv1.tp_vlan_tci;
		if (it->copy && (size_t)cap + 4 <= it->copy_cap) {
			memcpy(it->copy, data, 12);
			it->copy[12] = (uint8_t)(tpid >> 8);
			it->copy[13] = (uint8_t)tpid;
			it->copy[14] = (uint8_t)(tci >> 8);
			it->copy[15] = (uint8_t)tci;
			memcpy(it->copy + 16, data + 12, cap - 12);
			data = it->copy;
			cap += 4;
			wire = wire <= UINT32_MAX - 4 ? wire + 4 : wire;
			it->vlan_restored++;
		} else {
			it->ring_errors++;
		}
	}
	memset(fr, 0, sizeof(*fr));
	fr->data = data;
	fr->cap_len = cap;
	fr->wire_len = wire;
	fr->ts = (bw_time_t)h.tp_sec * BW_NSEC_PER_SEC + BW_MIN(h.tp_nsec, 999999999u);
	fr->linktype = it->linktype;

	it->i++;
	if (it->i < it->n) {
		if (h.tp_next_offset < sizeof(h) || h.tp_next_offset > room) {
			it->ring_errors++;
			it->n = it->i; /* the rest of the block cannot be found: hand it back */
		} else {
			it->off += h.tp_next_offset;
		}
	}
	return BW_OK;
bad:
	it->ring_errors++;
	it->n = it->i;
	return BW_EEOF;
}

/* ---- interface facts ---------------------------------------------------- */

int bw_live_iface_linktype(const char *iface, int *arphrd)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	*arphrd = -1;
	if (fd < 0)
		return BW_EIO;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (rc < 0)
		return errno == ENODEV ? BW_ENOENT : BW_EIO;
	*arphrd = ifr.ifr_hwaddr.sa_family;
	switch (*arphrd) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		return 1;
	case ARPHRD_NONE:
	case ARPHRD_RAWIP:
		return 101;
	default:
		return BW_ENOTSUP;
	}
}

int bw_live_queue_count(const char *iface)
{
	struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
	struct ifreq ifr;
	int n = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (!iface || !*iface || strlen(iface) >= IFNAMSIZ)
		goto out_einval;
	if (fd >= 0) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
		ifr.ifr_data = (char *)&ch;
		if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
			n = (int)(ch.rx_count + ch.combined_count);
		close(fd);
		fd = -1;
	}
	if (n <= 0) {
		char path[64];
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues", iface);
		DIR *d = opendir(path);
		if (!d)
			return if_nametoindex(iface) ? 1 : BW_ENOENT;
		struct dirent *e;
		while ((e = readdir(d)) != NULL && n < LIVE_MAX_QUEUES)
			if (strncmp(e->d_name, "rx-", 3) == 0)
				n++;
		closedir(d);
	}
	return BW_MAX(n, 1);
out_einval:
	if (fd >= 0)
		close(fd);
	return BW_EINVAL;
}

/* ---- the shared registry -------------------------------------------------- */

struct bw_live_group {
	char iface[IFNAMSIZ];
	bool used;
	int refs;
	bool decided;            /* the first open succeeded: later ones follow step */
	enum bw_live_step step;
	char note[512];          /* the fallback warning of the decision */
	struct filter_bpf *skel; /* NULL: no BPF loaded */
	bool skel_xdp;
	bool holds_bypass;
	int fanout_id;
	bool fanout_set;
	void *xdp;
	void (*xdp_free)(void *);
};

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bw_live_group live_groups[LIVE_MAX_GROUPS];
static int live_bypass_fd = -1;
static int live_bypass_users;
static char live_libbpf_last[256]; /* first libbpf warning of the current load */

static struct bw_live_group *group_get(const char *iface)
{
	struct bw_live_group *free_slot = NULL;
	for (size_t i = 0; i < LIVE_MAX_GROUPS; i++) {
		struct bw_live_group *g = &live_groups[i];
		if (g->used && strcmp(g->iface, iface) == 0)
			return g;
		if (!g->used && !free_slot)
			free_slot = g;
	}
	if (!free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	snprintf(free_slot->iface, sizeof(free_slot->iface), "%s", iface);
	return free_slot;
}

/* Unload what an undecided attempt left behind, or everything when the group dies. */
static void group_reset(struct bw_live_group *g)
{
	if (g->xdp && g->xdp_free)
		g->xdp_free(g->xdp);
	g->xdp = NULL;
	g->xdp_free = NULL;
	filter_bpf__destroy(g->skel);
	g->skel = NULL;
	if (g->holds_bypass) {
		g->holds_bypass = false;
		if (--live_bypass_users == 0 && live_bypass_fd >= 0) {
			close(live_bypass_fd);
			live_bypass_fd = -1;
		}
	}
	g->fanout_id = 0;
	g->fanout_set = false;
}

static void group_put(struct bw_live_group *g)
{
	if (!g || g->refs > 0)
		return;
	group_reset(g);
	memset(g, 0, sizeof(*g));
}

void *bw_live_group_xdp(struct bw_live_group *g) { return g->xdp; }

void bw_live_group_set_xdp(struct bw_live_group *g, void *xdp, void (*free_fn)(void *))
{
	g->xdp = xdp;
	g->xdp_free = free_fn;
}

int bw_live_group_fanout_id(const struct bw_live_group *g) { return g->fanout_set ? g->fanout_id : -1; }
struct filter_bpf *bw_live_group_skel(struct bw_live_group *g) { return g->skel; }
int bw_live_bypass_map_fd(void) { return live_bypass_fd; }

/*
 * libbpf talks on stderr by default, verifier logs included; keep its last
 * warning for our own error message instead (BW_LIBBPF_DEBUG=1 shows all).
 */
static int live_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (getenv("BW_LIBBPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG)
		return 0;
	char line[sizeof(live_libbpf_last)];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	/* the first warning names the cause (later ones say "failed to load skeleton");
	 * libbpf's memlock hint follows any EPERM and misleads (maps are memcg-charged) */
	const char *msg = strncmp(line, "libbpf: ", 8) == 0 ? line + 8 : line;
	if (msg[0] && !live_libbpf_last[0] && !strstr(msg, "ulimit -l") && !strstr(msg, "RLIMIT_MEMLOCK"))
		snprintf(live_libbpf_last, sizeof(live_libbpf_last), "%.120s", msg); /* a hint, not a verifier log */
	return 0;
}

int bw_live_group_bpf(struct bw_live_group *g, const struct bw_live_config *c, bool xdp, unsigned n_queues,
		      int link, char *err, size_t errcap)
{
	struct filter_bpf *skel = NULL;
	libbpf_print_fn_t old;
	int rc;

	if (g->skel)
		return g->skel_xdp == xdp ? BW_OK : BW_EINVAL;
	live_libbpf_last[0] = '\0';
	old = libbpf_set_print(live_libbpf_print);
	skel = filter_bpf__open();
	if (!skel) {
		rc = errno ? errno : EINVAL;
		set_err(err, errcap, "%s: eBPF filter: open: %s", c->iface, strerror(rc));
		goto fail;
	}
	if (c->dns_ports) {
		for (size_t i = 0; i < c->n_dns_ports; i++)
			skel->rodata->bw_cfg_dns_ports[c->dns_ports[i] >> 3] |= (uint8_t)(1u << (c->dns_ports[i] & 7));
	} else {
		skel->rodata->bw_cfg_dns_ports[53 >> 3] |= 1u << (53 & 7);
		skel->rodata->bw_cfg_dns_ports[5353 >> 3] |= 1u << (5353 & 7);
	}
	skel->rodata->bw_cfg_link = (uint8_t)link;
	skel->rodata->bw_cfg_pass_tunnels = c->pass_tunnels;
	skel->rodata->bw_cfg_pass_all = !c->bpf_filter;
	bpf_program__set_autoload(xdp ? skel->progs.bw_sock_filter : skel->progs.bw_xdp, false);
	if (xdp)
		bpf_map__set_max_entries(skel->maps.bw_xsks, BW_MAX(n_queues, 1u));
	else
		bpf_map__set_autocreate(skel->maps.bw_xsks, false);
	if (live_bypass_fd >= 0)
		rc = bpf_map__reuse_fd(skel->maps.bw_bypass, live_bypass_fd);
	else
		rc = bpf_map__set_max_entries(skel->maps.bw_bypass, BW_MAX(c->bypass_entries, 1024u));
	if (rc) {
		set_err(err, errcap, "%s: eBPF filter: bypass map: %s", c->iface, strerror(-rc));
		goto fail;
	}
	rc = filter_bpf__load(skel);
	if (rc) {
		int e = rc < 0 ? -rc : rc;
		set_err(err, errcap, "%s: eBPF filter: load: %s%s%s%s", c->iface, strerror(e),
			priv_hint(e, "CAP_BPF, or CAP_SYS_ADMIN"), live_libbpf_last[0] ? "; libbpf: " : "",
			live_libbpf_last);
		goto fail;
	}
	if (live_bypass_fd < 0) {
		live_bypass_fd = fcntl(bpf_map__fd(skel->maps.bw_bypass), F_DUPFD_CLOEXEC, 0);
		if (live_bypass_fd < 0) {
			set_err(err, errcap, "%s: eBPF filter: %s", c->iface, strerror(errno));
			goto fail;
		}
	}
	live_bypass_users++;
	g->holds_bypass = true;
	g->skel = skel;
	g->skel_xdp = xdp;
	libbpf_set_print(old);
	return BW_OK;
fail:
	filter_bpf__destroy(skel);
	libbpf_set_print(old);
	return BW_EIO;
}

/* ---- common handle plumbing ----------------------------------------------- */

int bw_live_base_init(struct bw_live *h, const struct bw_live_ops *ops, char *err, size_t errcap)
{
	h->ops = ops;
	h->bypass_fd = -1;
	h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->wake_fd < 0) {
		set_err(err, errcap, "eventfd: %s", strerror(errno));
		return BW_EIO;
	}
	return BW_OK;
}

void bw_live_base_deinit(struct bw_live *h)
{
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	h->wake_fd = -1;
}

int bw_live_wait(struct bw_live *h, const int *fds, unsigned n_fds, int timeout_ms)
{
	struct pollfd p[LIVE_MAX_QUEUES + 1];
	unsigned n = 0;

	if (__atomic_load_n(&h->broken, __ATOMIC_ACQUIRE))
		return BW_EEOF;
	p[n].fd = h->wake_fd;
	p[n].events = POLLIN;
	p[n++].revents = 0;
	for (unsigned i = 0; i < n_fds && n < BW_ARRAY_SIZE(p); i++) {
		p[n].fd = fds[i];
		p[n].events = POLLIN;
		p[n++].revents = 0;
	}
	int rc = poll(p, n, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : BW_EIO;
	if (p[0].revents || __atomic_load_n(&h->broken, __ATOMIC_ACQUIRE))
		return BW_EEOF;
	for (unsigned i = 1; i < n; i++) {
		if (p[i].revents & POLLNVAL)
			return BW_EIO;
		if (p[i].revents & POLLERR) {
			/* a span port going down sets ENETDOWN on the socket; it works again once the
			 * link is back, so read the error away instead of ending the capture */
			int soerr = 0;
			socklen_t len = sizeof(soerr);
			(void)getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
			return 0;
		}
	}
	return rc > 0 ? 1 : 0;
}

int bw_live_fanout_join(int fd, struct bw_live_group *g, const struct bw_live_config *c, char *err, size_t errcap)
{
	uint32_t type = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG;
	/* the kernel's unique ids start at 0, so "no group yet" is a flag, not id 0 */
	int id = c->fanout_group_id > 0 ? c->fanout_group_id : g->fanout_set ? g->fanout_id : -1;
	uint32_t uarg = id >= 0 ? (((uint32_t)id & 0xffff) | (type << 16)) : ((type | PACKET_FANOUT_FLAG_UNIQUEID) << 16);
	int arg;
	memcpy(&arg, &uarg, sizeof(arg));

	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0) {
		int e = errno;
		char grp[24] = "a new group";
		if (id >= 0)
			snprintf(grp, sizeof(grp), "group %d", id);
		set_err(err, errcap, "%s: PACKET_FANOUT (%s): %s%s", c->iface, grp, strerror(e),
			e == EINVAL && id >= 0 ? " (the group id is in use with other settings)" : "");
		return BW_EIO;
	}
	if (id < 0) {
		socklen_t len = sizeof(arg);
		if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, &len) < 0) {
			set_err(err, errcap, "%s: PACKET_FANOUT: %s", c->iface, strerror(errno));
			return BW_EIO;
		}
		id = (int)((unsigned)arg & 0xffff);
	}
	g->fanout_id = id;
	g->fanout_set = true;
	return BW_OK;
}

/* ---- AF_PACKET backend ---------------------------------------------------- */

struct afp {
	struct bw_live base;
	int fd;
	uint8_t *ring;
	size_t ring_size;
	uint32_t block_size, n_blocks, cur;
	bool in_block;
	struct bw_live_tpv3 it;
	uint64_t number;
	pthread_mutex_t st_mu; /* bw_live_stats from other threads */
	uint64_t k_packets, k_drops, k_freeze;
};

static struct tpacket_block_desc *afp_block(struct afp *a, uint32_t i)
{
	return (struct tpacket_block_desc *)(void *)(a->ring + (size_t)i * a->block_size);
}

static void afp_release(struct afp *a)
{
	__atomic_store_n(&afp_block(a, a->cur)->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	a->cur = (a->cur + 1) % a->n_blocks;
	a->in_block = false;
}

static int afp_next(struct bw_live *h, struct bw_frame *fr, int timeout_ms)
{
	struct afp *a = (struct afp *)h;
	bool waited = false;

	/* each pass consumes a block or waits once, so this ends */
	for (uint32_t pass = 0; pass <= a->n_blocks + 1; pass++) {
		if (a->in_block) {
			if (bw_live_tpv3_next(&a->it, fr) == BW_OK) {
				fr->number = ++a->number;
				__atomic_fetch_add(&h->frames, 1, __ATOMIC_RELAXED);
				__atomic_fetch_add(&h->bytes, fr->cap_len, __ATOMIC_RELAXED);
				return BW_OK;
			}
			afp_release(a); /* the previous call's frame was its last one */
		}
		if (__atomic_load_n(&h->broken, __ATOMIC_ACQUIRE))
			return BW_EEOF;
		struct tpacket_block_desc *bd = afp_block(a, a->cur);
		if (__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) {
			bw_live_tpv3_begin(&a->it, bd, a->block_size);
			a->in_block = true;
			continue;
		}
		if (waited)
			return BW_EAGAIN;
		int w = bw_live_wait(h, &a->fd, 1, timeout_ms);
		if (w < 0)
			return w;
		waited = true;
	}
	return BW_EAGAIN;
}

static void afp_stats(struct bw_live *h, struct bw_live_stats *st)
{
	struct afp *a = (struct afp *)h;
	struct tpacket_stats_v3 ks;
	socklen_t len = sizeof(ks);

	pthread_mutex_lock(&a->st_mu);
	/* the kernel resets these on every read: keep the sum */
	if (getsockopt(a->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0) {
		a->k_packets += ks.tp_packets;
		a->k_drops += ks.tp_drops;
		a->k_freeze += ks.tp_freeze_q_cnt;
	}
	st->kernel_packets = a->k_packets;
	st->kernel_drops = a->k_drops;
	st->freeze_q = a->k_freeze;
	pthread_mutex_unlock(&a->st_mu);
	st->vlan_restored = __atomic_load_n(&a->it.vlan_restored, __ATOMIC_RELAXED);
	st->ring_errors = __atomic_load_n(&a->it.ring_errors, __ATOMIC_RELAXED);
}

static void afp_close(struct bw_live *h)
{
	struct afp *a = (struct afp *)h;
	if (a->ring && a->ring != MAP_FAILED)
		munmap(a->ring, a->ring_size);
	if (a->fd >= 0)
		close(a->fd);
	free(a->it.copy);
	pthread_mutex_destroy(&a->st_mu);
	bw_live_base_deinit(h);
	free(a);
}

static const struct bw_live_ops afp_ops = {.next = afp_next, .stats = afp_stats, .close = afp_close};

static bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

static void describe_ports(char *buf, size_t cap, const struct bw_live_config *c)
{
	if (!c->dns_ports) {
		bw_live_appendf(buf, cap, "53,5353");
		return;
	}
	for (size_t i = 0; i < c->n_dns_ports && i < 8; i++)
		bw_live_appendf(buf, cap, "%s%u", i ? "," : "", c->dns_ports[i]);
	if (c->n_dns_ports > 8)
		bw_live_appendf(buf, cap, ",...");
}

static int afp_open(const struct bw_live_config *c, struct bw_live_group *g, bool with_bpf, struct bw_live **out,
		    enum bw_live_stage *stage, char *err, size_t errcap)
{
	struct afp *a = NULL;
	int arphrd, linktype, rc, e;
	unsigned ifindex;
	bool locked = true;

	*stage = BW_LIVE_STAGE_CONFIG;
	ifindex = if_nametoindex(c->iface);
	if (!ifindex) {
		set_err(err, errcap, "%s: no such interface", c->iface);
		return BW_ENOENT;
	}
	linktype = bw_live_iface_linktype(c->iface, &arphrd);
	if (linktype < 0) {
		*stage = BW_LIVE_STAGE_SOCKET;
		set_err(err, errcap, "%s: link type ARPHRD %d is not Ethernet or raw IP (try --capture pcap)",
			c->iface, arphrd);
		return BW_ENOTSUP;
	}
	uint32_t block_kb = c->block_kb ? c->block_kb : 1024, ring_mb = c->ring_mb ? c->ring_mb : 32;
	if (!pow2(block_kb) || block_kb < 64 || block_kb > 16384 || (uint64_t)ring_mb * 1024 / block_kb < 2 ||
	    ring_mb > 65536) {
		set_err(err, errcap, "%s: ring %u MiB with %u KiB blocks: the block size must be a power of two "
			"from 64 to 16384 KiB and the ring hold at least 2 blocks", c->iface, ring_mb, block_kb);
		return BW_EINVAL;
	}
	if (with_bpf) {
		*stage = BW_LIVE_STAGE_BPF;
		rc = bw_live_group_bpf(g, c, false, 0, linktype == 1 ? BW_BPF_LINK_ETHERNET : BW_BPF_LINK_RAW_IP,
				       err, errcap);
		if (rc)
			return rc;
	}

	a = calloc(1, sizeof(*a));
	if (!a) {
		*stage = BW_LIVE_STAGE_CONFIG;
		set_err(err, errcap, "%s: out of memory", c->iface);
		return BW_ENOMEM;
	}
	a->fd = -1;
	pthread_mutex_init(&a->st_mu, NULL);
	if (bw_live_base_init(&a->base, &afp_ops, err, errcap)) {
		*stage = BW_LIVE_STAGE_CONFIG;
		rc = BW_EIO;
		goto fail;
	}
	a->block_size = block_kb * 1024;
	a->n_blocks = (uint32_t)((uint64_t)ring_mb * 1024 / block_kb);
	a->it.linktype = linktype;
	a->it.copy_cap = a->block_size + 4;
	a->it.copy = malloc(a->it.copy_cap);
	if (!a->it.copy) {
		*stage = BW_LIVE_STAGE_CONFIG;
		set_err(err, errcap, "%s: out of memory", c->iface);
		rc = BW_ENOMEM;
		goto fail;
	}

	*stage = BW_LIVE_STAGE_SOCKET;
	/* Protocol 0: nothing is queued before the filter and ring are in place and bind() says ETH_P_ALL. */
	a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		e = errno;
		set_err(err, errcap, "%s: AF_PACKET socket: %s%s", c->iface, strerror(e), priv_hint(e, "CAP_NET_RAW"));
		rc = BW_EIO;
		goto fail;
	}
	int ver = TPACKET_V3;
	if (setsockopt(a->fd, SOL_PACKET, PACKET_VERSION, &ver, sizeof(ver)) < 0) {
		set_err(err, errcap, "%s: TPACKET_V3: %s", c->iface, strerror(errno));
		rc = BW_EIO;
		goto fail;
	}
	struct tpacket_req3 req = {
		.tp_block_size = a->block_size,
		.tp_block_nr = a->n_blocks,
		.tp_frame_size = 2048,
		.tp_frame_nr = a->block_size / 2048 * a->n_blocks,
		.tp_retire_blk_tov = c->retire_ms ? c->retire_ms : 10,
	};
	if (setsockopt(a->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		e = errno;
		*stage = BW_LIVE_STAGE_CONFIG;
		set_err(err, errcap, "%s: PACKET_RX_RING (%u × %u KiB): %s", c->iface, a->n_blocks, block_kb,
			strerror(e));
		rc = e == ENOMEM ? BW_ENOMEM : BW_EIO;
		goto fail;
	}
	a->ring_size = (size_t)a->block_size * a->n_blocks;
	a->ring = mmap(NULL, a->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, a->fd, 0);
	if (a->ring == MAP_FAILED) {
		/* without CAP_IPC_LOCK the lock fails past RLIMIT_MEMLOCK: an unlocked ring still works */
		locked = false;
		a->ring = mmap(NULL, a->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, a->fd, 0);
	}
	if (a->ring == MAP_FAILED) {
		e = errno;
		a->ring = NULL;
		*stage = BW_LIVE_STAGE_CONFIG;
		set_err(err, errcap, "%s: mmap of the %u MiB ring: %s", c->iface, ring_mb, strerror(e));
		rc = BW_ENOMEM;
		goto fail;
	}
	if (with_bpf) {
		int prog = bpf_program__fd(g->skel->progs.bw_sock_filter);
		if (setsockopt(a->fd, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) < 0) {
			e = errno;
			*stage = BW_LIVE_STAGE_BPF;
			set_err(err, errcap, "%s: SO_ATTACH_BPF: %s", c->iface, strerror(e));
			rc = BW_EIO;
			goto fail;
		}
		a->base.bypass_fd = live_bypass_fd;
	}
	int one = 1;
	(void)setsockopt(a->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)); /* best effort: 4.20+ */
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)ifindex};
	if (bind(a->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		e = errno;
		*stage = e == ENODEV || e == ENETDOWN ? BW_LIVE_STAGE_CONFIG : BW_LIVE_STAGE_SOCKET;
		set_err(err, errcap, "%s: bind: %s", c->iface, strerror(e));
		rc = BW_EIO;
		goto fail;
	}
	if (c->promisc) {
		struct packet_mreq mr = {.mr_ifindex = (int)ifindex, .mr_type = PACKET_MR_PROMISC};
		if (setsockopt(a->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
			set_err(err, errcap, "%s: promiscuous mode: %s", c->iface, strerror(errno));
			rc = BW_EIO;
			goto fail;
		}
	}
	bool fanout = c->n_workers > 1 || c->fanout_group_id > 0;
	if (fanout && (rc = bw_live_fanout_join(a->fd, g, c, err, errcap)) != BW_OK) {
		*stage = BW_LIVE_STAGE_CONFIG;
		goto fail;
	}

	char *d = a->base.desc;
	size_t dc = sizeof(a->base.desc);
	snprintf(d, dc, "afpacket on %s: worker %u/%u", c->iface, c->worker_index + 1, BW_MAX(c->n_workers, 1u));
	if (fanout)
		bw_live_appendf(d, dc, ", fanout group %d (hash, defrag)", g->fanout_id);
	bw_live_appendf(d, dc, ", TPACKET_V3 ring %u MiB = %u × %u KiB%s, %s link", ring_mb, a->n_blocks, block_kb,
			locked ? "" : " (not locked)", linktype == 1 ? "ethernet" : "raw-ip");
	if (with_bpf) {
		bw_live_appendf(d, dc, ", eBPF filter on (DNS ports ");
		describe_ports(d, dc, c);
		bw_live_appendf(d, dc, "; bypass map %u flows)", bpf_map__max_entries(g->skel->maps.bw_bypass));
	} else {
		bw_live_appendf(d, dc, ", no filter (every frame)");
	}
	bw_live_appendf(d, dc, ", promisc %s", c->promisc ? "on" : "off");
	if (c->pcap_filter)
		bw_live_appendf(d, dc, ", pcap filter ignored (pcap backend only)");
	*out = &a->base;
	return BW_OK;
fail:
	afp_close(&a->base);
	return rc;
}

/* ---- the front door --------------------------------------------------------- */

static int open_step(enum bw_live_step s, const struct bw_live_config *c, struct bw_live_group *g,
		     struct bw_live **out, enum bw_live_stage *stage, char *err, size_t errcap)
{
	switch (s) {
	case BW_LIVE_STEP_AFPACKET_BPF: return afp_open(c, g, true, out, stage, err, errcap);
	case BW_LIVE_STEP_AFPACKET: return afp_open(c, g, false, out, stage, err, errcap);
	case BW_LIVE_STEP_XDP: return bw_live_xdp_open(c, g, out, stage, err, errcap);
	case BW_LIVE_STEP_PCAP: return bw_live_pcap_open(c, g, out, stage, err, errcap);
	case BW_LIVE_STEP_NONE:
	default: *stage = BW_LIVE_STAGE_CONFIG; return BW_EINVAL;
	}
}

static void note_fallback(char *buf, size_t cap, enum bw_live_step from, enum bw_live_step to, const char *why,
			  const char *prev_why)
{
	if (prev_why && strcmp(why, prev_why) == 0)
		why = "same reason";
	if (buf[0])
		bw_live_appendf(buf, cap, "; ");
	if (from == BW_LIVE_STEP_AFPACKET_BPF && to == BW_LIVE_STEP_AFPACKET)
		bw_live_appendf(buf, cap, "eBPF filter not loaded (%s): capturing every frame, no kernel bypass", why);
	else if (to == BW_LIVE_STEP_PCAP)
		bw_live_appendf(buf, cap, "AF_PACKET not usable (%s): falling back to libpcap", why);
	else
		bw_live_appendf(buf, cap, "%s not usable (%s): falling back to %s", bw_live_step_name(from), why,
				bw_live_step_name(to));
}

int bw_live_open(const struct bw_live_config *c, struct bw_live **out, char *err, size_t errcap)
{
	struct bw_live *h = NULL;
	char e[512] = "", warn[sizeof(h->warn)] = "";
	int rc = BW_EINVAL;

	if (out)
		*out = NULL;
	if (err && errcap)
		err[0] = '\0';
	if (!c || !out || !c->iface || !*c->iface || strlen(c->iface) >= IFNAMSIZ) {
		set_err(err, errcap, "live capture: an interface name of 1 to %d characters is needed", IFNAMSIZ - 1);
		return BW_EINVAL;
	}
	unsigned n = BW_MAX(c->n_workers, 1u);
	if (c->worker_index >= n || n > LIVE_MAX_QUEUES || c->fanout_group_id < 0 || c->fanout_group_id > 0xffff ||
	    (c->n_dns_ports && !c->dns_ports)) {
		set_err(err, errcap, "%s: bad live capture config (worker %u of %u, fanout group %d)", c->iface,
			c->worker_index, n, c->fanout_group_id);
		return BW_EINVAL;
	}

	pthread_mutex_lock(&live_mu);
	struct bw_live_group *g = group_get(c->iface);
	if (!g) {
		pthread_mutex_unlock(&live_mu);
		set_err(err, errcap, "%s: too many interfaces (at most %d)", c->iface, LIVE_MAX_GROUPS);
		return BW_ENOMEM;
	}
	enum bw_live_step s = g->decided ? g->step : bw_live_first_step(c);
	char prev[sizeof(e)] = "";
	for (int tries = 0; tries < 4 && s != BW_LIVE_STEP_NONE; tries++) {
		enum bw_live_stage stage = BW_LIVE_STAGE_CONFIG;
		snprintf(prev, sizeof(prev), "%s", e);
		e[0] = '\0';
		rc = open_step(s, c, g, &h, &stage, e, sizeof(e));
		if (rc == BW_OK)
			break;
		if (g->decided)
			break; /* the other workers run this; a worker alone must not differ */
		group_reset(g);
		enum bw_live_step next = bw_live_next_step(c, s, stage);
		if (next == BW_LIVE_STEP_NONE)
			break;
		note_fallback(warn, sizeof(warn), s, next, e, tries ? prev : NULL);
		s = next;
	}
	if (rc == BW_OK) {
		if (!g->decided) {
			g->decided = true;
			g->step = s;
			snprintf(g->note, sizeof(g->note), "%s", warn);
		}
		snprintf(h->warn, sizeof(h->warn), "%s", g->note);
		h->group = g;
		g->refs++;
		*out = h;
	} else {
		if (warn[0])
			set_err(err, errcap, "%s (after: %s)", e, warn);
		else
			set_err(err, errcap, "%s", e);
		if (rc != BW_ENOENT && rc != BW_EINVAL && rc != BW_ENOMEM)
			rc = BW_EIO;
		group_put(g);
	}
	pthread_mutex_unlock(&live_mu);
	return rc;
}

int bw_live_next(struct bw_live *h, struct bw_frame *fr, int timeout_ms)
{
	if (!h || !fr)
		return BW_EINVAL;
	return h->ops->next(h, fr, timeout_ms);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * BW_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int bw_live_bypass(struct bw_live *h, const struct bw_flow_key *key)
{
	struct bw_bpf_flow_key k;
	struct bw_bpf_bypass_val v = {0};

	if (!h || !key)
		return BW_EINVAL;
	if (h->bypass_fd < 0)
		return BW_ENOTSUP;
	if (bw_live_bypass_key(key, &k) != BW_OK)
		return BW_EINVAL;
	__atomic_fetch_add(&h->bypass_calls, 1, __ATOMIC_RELAXED);
	v.created_ns = mono_ns();
	/* NOEXIST: a second call for the flow keeps the counts of the first */
	if (bpf_map_update_elem(h->bypass_fd, &k, &v, BPF_NOEXIST) < 0 && errno != EEXIST) {
		__atomic_fetch_add(&h->bypass_errors, 1, __ATOMIC_RELAXED);
		return BW_EIO;
	}
	return BW_OK;
}

void bw_live_break(struct bw_live *h)
{
	if (!h)
		return;
	__atomic_store_n(&h->broken, true, __ATOMIC_RELEASE);
	uint64_t one = 1;
	ssize_t w = write(h->wake_fd, &one, sizeof(one));
	(void)w; /* the counter saturating means it is already readable */
}

static void read_bpf_counters(struct bw_live_group *g, struct bw_live_stats *st)
{
	if (!g || !g->skel)
		return;
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0 || ncpu > 4096)
		return;
	struct bw_bpf_counters *v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return;
	__u32 zero = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(g->skel->maps.bw_counters), &zero, v) == 0) {
		struct bw_live_bpf_stats *b = &st->bpf_counters;
		st->bpf = true;
		for (int i = 0; i < ncpu; i++) {
			b->passed_packets += v[i].passed_packets;
			b->passed_bytes += v[i].passed_bytes;
			b->dropped_packets += v[i].dropped_packets;
			b->dropped_bytes += v[i].dropped_bytes;
			b->bypassed_packets += v[i].bypassed_packets;
			b->bypassed_bytes += v[i].bypassed_bytes;
			b->pass_dns += v[i].pass_dns;
			b->pass_tcp += v[i].pass_tcp;
			b->pass_quic += v[i].pass_quic;
			b->pass_dtls += v[i].pass_dtls;
			b->pass_tunnel += v[i].pass_tunnel;
			b->pass_fragment += v[i].pass_fragment;
			b->pass_all += v[i].pass_all;
			b->bypass_reset += v[i].bypass_reset;
			b->xsk_missed += v[i].xsk_missed;
		}
	}
	free(v);
	/* entries now: a bounded walk of the keys (the map is LRU, so this is a snapshot) */
	struct bw_bpf_flow_key cur, nxt;
	int fd = bpf_map__fd(g->skel->maps.bw_bypass);
	uint64_t n = 0;
	void *prev = NULL;
	while (n < 65536 && bpf_map_get_next_key(fd, prev, &nxt) == 0) {
		cur = nxt;
		prev = &cur;
		n++;
	}
	st->bypass_entries = n;
}

void bw_live_stats(struct bw_live *h, struct bw_live_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!h)
		return;
	st->frames = __atomic_load_n(&h->frames, __ATOMIC_RELAXED);
	st->bytes = __atomic_load_n(&h->bytes, __ATOMIC_RELAXED);
	st->bypass_calls = __atomic_load_n(&h->bypass_calls, __ATOMIC_RELAXED);
	st->bypass_errors = __atomic_load_n(&h->bypass_errors, __ATOMIC_RELAXED);
	h->ops->stats(h, st);
	read_bpf_counters(h->group, st);
}

const char *bw_live_describe(const struct bw_live *h) { return h ? h->desc : "no live capture"; }
const char *bw_live_warning(const struct bw_live *h) { return h && h->warn[0] ? h->warn : NULL; }

void bw_live_close(struct bw_live *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&live_mu);
	struct bw_live_group *g = h->group;
	h->ops->close(h);
	if (g) {
		g->refs--;
		group_put(g);
	}
	pthread_mutex_unlock(&live_mu);
}
