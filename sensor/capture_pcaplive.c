/* SPDX-License-Identifier: MIT */
/*
 * capture_pcaplive.c: live capture through libpcap, for the systems where
 * neither AF_PACKET rings nor XDP can run, and for a tcpdump-style filter.
 * libpcap 1.10 on Linux blocks for ever in pcap_dispatch() when no packet
 * comes, whatever its timeout says (pitfall 8 of the live-capture notes),
 * so the handle is non-blocking and we poll() its selectable fd next to our
 * wake-up eventfd. Outgoing packets are left out (PCAP_D_IN), as on the
 * other backends. libpcap has no fanout of its own; on Linux its fd is an
 * AF_PACKET socket, so the workers' handles join one fanout group through
 * it; where that fails, worker 0 captures alone and the others idle, so no
 * frame is delivered twice. <pcap.h> stays in this file: its struct
 * bpf_insn clashes with the kernel's, which libbpf brings in elsewhere.
 */
#include "bw.h"

#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BW_LIVE_INTERNAL
#include "capture_live.h"

struct pcl {
	struct bw_live base;
	pcap_t *p;
	int fd;
	int linktype;
	uint64_t number;
	pthread_mutex_t st_mu;
};

static int pcl_next(struct bw_live *h, struct bw_frame *fr, int timeout_ms)
{
	struct pcl *l = (struct pcl *)h;

	if (!l->p) {
		int w = bw_live_wait(h, NULL, 0, timeout_ms);
		return w < 0 ? w : BW_EAGAIN;
	}
	for (int round = 0; round < 2; round++) {
		struct pcap_pkthdr *ph;
		const u_char *data;
		if (__atomic_load_n(&h->broken, __ATOMIC_ACQUIRE))
			return BW_EEOF;
		int rc = pcap_next_ex(l->p, &ph, &data);
		if (rc == 1) {
			memset(fr, 0, sizeof(*fr));
			fr->data = data;
			fr->cap_len = ph->caplen;
			fr->wire_len = BW_MAX(ph->len, ph->caplen);
			/* nanosecond precision was asked for: tv_usec holds nanoseconds */
			fr->ts = (bw_time_t)ph->ts.tv_sec * BW_NSEC_PER_SEC + (bw_time_t)ph->ts.tv_usec;
			fr->linktype = l->linktype;
			fr->number = ++l->number;
			__atomic_fetch_add(&h->frames, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&h->bytes, ph->caplen, __ATOMIC_RELAXED);
			return BW_OK;
		}
		if (rc == PCAP_ERROR_BREAK)
			return BW_EEOF;
		if (rc < 0)
			return BW_EIO;
		if (round == 1)
			break;
		int w = bw_live_wait(h, &l->fd, 1, timeout_ms);
		if (w <= 0)
			return w < 0 ? w : BW_EAGAIN;
	}
	return BW_EAGAIN;
}

static void pcl_stats(struct bw_live *h, struct bw_live_stats *st)
{
	struct pcl *l = (struct pcl *)h;
	struct pcap_stat ps;

	if (!l->p)
		return;
	pthread_mutex_lock(&l->st_mu);
	if (pcap_stats(l->p, &ps) == 0) {
		st->kernel_packets = ps.ps_recv;
		st->kernel_drops = ps.ps_drop;
		st->kernel_if_drops = ps.ps_ifdrop;
	}
	pthread_mutex_unlock(&l->st_mu);
}

static void pcl_close(struct bw_live *h)
{
	struct pcl *l = (struct pcl *)h;
	if (l->p)
		pcap_close(l->p);
	pthread_mutex_destroy(&l->st_mu);
	bw_live_base_deinit(h);
	free(l);
}

static const struct bw_live_ops pcl_ops = {.next = pcl_next, .stats = pcl_stats, .close = pcl_close};

int bw_live_pcap_open(const struct bw_live_config *c, struct bw_live_group *g, struct bw_live **out,
		      enum bw_live_stage *stage, char *err, size_t errcap)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct pcl *l;
	unsigned n = BW_MAX(c->n_workers, 1u);
	int rc;

	*stage = BW_LIVE_STAGE_CONFIG;
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errcap, "%s: out of memory", c->iface);
		return BW_ENOMEM;
	}
	l->fd = -1;
	pthread_mutex_init(&l->st_mu, NULL);
	if (bw_live_base_init(&l->base, &pcl_ops, err, errcap)) {
		pthread_mutex_destroy(&l->st_mu);
		free(l);
		return BW_EIO;
	}
	l->p = pcap_create(c->iface, ebuf);
	if (!l->p) {
		snprintf(err, errcap, "%s: libpcap: %s", c->iface, ebuf);
		rc = BW_EIO;
		goto fail;
	}
	pcap_set_snaplen(l->p, (int)BW_MIN(c->snaplen ? c->snaplen : 262144u, 262144u));
	pcap_set_promisc(l->p, c->promisc);
	pcap_set_timeout(l->p, 100);
	pcap_set_immediate_mode(l->p, 1);
	pcap_set_buffer_size(l->p, (int)BW_MIN((uint64_t)(c->ring_mb ? c->ring_mb : 32) << 20, (uint64_t)1 << 30));
	(void)pcap_set_tstamp_precision(l->p, PCAP_TSTAMP_PRECISION_NANO);
	rc = pcap_activate(l->p);
	if (rc < 0) {
		const char *why = pcap_geterr(l->p);
		if (rc == PCAP_ERROR_NO_SUCH_DEVICE) {
			snprintf(err, errcap, "%s: no such interface (libpcap: %s)", c->iface, why);
			rc = BW_ENOENT;
		} else {
			*stage = BW_LIVE_STAGE_SOCKET;
			snprintf(err, errcap, "%s: libpcap: %s%s", c->iface, why && *why ? why : pcap_statustostr(rc),
				 rc == PCAP_ERROR_PERM_DENIED ? " (need CAP_NET_RAW)" : "");
			rc = BW_EIO;
		}
		goto fail;
	}
	bool nano = pcap_get_tstamp_precision(l->p) == PCAP_TSTAMP_PRECISION_NANO;
	if (!nano) {
		snprintf(err, errcap, "%s: libpcap: no nanosecond timestamps", c->iface);
		*stage = BW_LIVE_STAGE_SOCKET;
		rc = BW_ENOTSUP;
		goto fail;
	}
	(void)pcap_setdirection(l->p, PCAP_D_IN);
	l->linktype = pcap_datalink(l->p);
	if (l->linktype == DLT_RAW)
		l->linktype = 101; /* LINKTYPE_RAW; DLT_RAW's value differs between systems */
	if (c->pcap_filter && *c->pcap_filter) {
		struct bpf_program prog;
		if (pcap_compile(l->p, &prog, c->pcap_filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(err, errcap, "%s: pcap filter \"%s\": %s", c->iface, c->pcap_filter, pcap_geterr(l->p));
			rc = BW_EINVAL;
			goto fail;
		}
		rc = pcap_setfilter(l->p, &prog);
		pcap_freecode(&prog);
		if (rc < 0) {
			snprintf(err, errcap, "%s: pcap filter: %s", c->iface, pcap_geterr(l->p));
			rc = BW_EIO;
			goto fail;
		}
	}
	if (pcap_setnonblock(l->p, 1, ebuf) < 0 || (l->fd = pcap_get_selectable_fd(l->p)) < 0) {
		snprintf(err, errcap, "%s: libpcap: no pollable descriptor", c->iface);
		*stage = BW_LIVE_STAGE_SOCKET;
		rc = BW_ENOTSUP;
		goto fail;
	}

	char *d = l->base.desc;
	size_t dc = sizeof(l->base.desc);
	snprintf(d, dc, "pcap on %s: worker %u/%u", c->iface, c->worker_index + 1, n);
	bool fanout = n > 1 || c->fanout_group_id > 0;
	if (fanout) {
		char fe[256] = "";
		if (bw_live_fanout_join(l->fd, g, c, fe, sizeof(fe)) == BW_OK) {
			bw_live_appendf(d, dc, ", fanout group %d (hash, defrag)", bw_live_group_fanout_id(g));
		} else if (c->worker_index > 0) {
			pcap_close(l->p);
			l->p = NULL;
			l->fd = -1;
			bw_live_appendf(d, dc, ": idle (%s: worker 1 captures alone)", fe);
			*out = &l->base;
			return BW_OK;
		} else {
			bw_live_appendf(d, dc, ", captures alone (%s)", fe);
		}
	}
	bw_live_appendf(d, dc, ", %s, buffer %u MiB, link type %d, filter %s%s%s, promisc %s",
			pcap_lib_version(), c->ring_mb ? c->ring_mb : 32, l->linktype,
			c->pcap_filter && *c->pcap_filter ? "\"" : "none",
			c->pcap_filter && *c->pcap_filter ? c->pcap_filter : "",
			c->pcap_filter && *c->pcap_filter ? "\"" : "", c->promisc ? "on" : "off");
	*out = &l->base;
	return BW_OK;
fail:
	pcl_close(&l->base);
	return rc;
}
