/* SPDX-License-Identifier: MIT */
/*
 * livecap.c: test driver for live capture (tests/live/run.sh runs it as
 * root). It opens one bw_live handle per worker with the options given,
 * reads frames on one thread per worker for a time or until a frame count,
 * optionally writes each worker's frames to a pcap (nanosecond) so the test
 * can compare them with what was replayed, and prints the counters as
 * key=value lines. With --bypass-appdata it plays the part the sensor's TLS
 * code will: the first TLS application-data record of a TCP flow means the
 * handshake is over, so the flow is handed to bw_live_bypass().
 *
 *   livecap -i IFACE [-b auto|afpacket|xdp|pcap] [-m auto|native|generic] [-w WORKERS]
 *           [-t SECONDS] [-n FRAMES] [-I IDLE_MS] [-o OUT] [-f PCAP_FILTER] [-p DNS_PORT]...
 *           [--no-bpf] [--bypass-appdata] [--ring MB] [--block KB]
 * Prints "ready" once every handle is open; exits 0, 2 on bad usage, 1 if open failed.
 */
#include "sensor/bw.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parsers/decode.h"
#include "sensor/capture_live.h"

#define MAX_WORKERS 16
#define MAX_BYPASSED 256

struct worker {
	pthread_t th;
	unsigned id;
	struct bw_live *h;
	FILE *out;
	bool header_done;
	struct bw_decoder *dec;
	struct bw_anomalies an;
	struct bw_flow_key bypassed[MAX_BYPASSED];
	unsigned n_bypassed;
	uint64_t frames, bypass_ok, bypass_fail;
	int last_rc;
};

static struct worker workers[MAX_WORKERS];
static unsigned n_workers = 1;
static volatile sig_atomic_t stop_flag;
static uint64_t max_frames;
static unsigned idle_ms;
static bool bypass_appdata;
static uint64_t total_frames; /* atomic */
static uint64_t last_frame_ms; /* atomic */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
	for (unsigned i = 0; i < n_workers; i++)
		bw_live_break(workers[i].h);
}

static void put32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put16(FILE *f, uint16_t v) { fwrite(&v, 2, 1, f); }

static void write_frame(struct worker *w, const struct bw_frame *fr)
{
	if (!w->out)
		return;
	if (!w->header_done) {
		put32(w->out, 0xa1b23c4d); /* pcap, nanosecond timestamps */
		put16(w->out, 2);
		put16(w->out, 4);
		put32(w->out, 0);
		put32(w->out, 0);
		put32(w->out, 262144);
		put32(w->out, (uint32_t)fr->linktype);
		w->header_done = true;
	}
	put32(w->out, (uint32_t)(fr->ts / BW_NSEC_PER_SEC));
	put32(w->out, (uint32_t)(fr->ts % BW_NSEC_PER_SEC));
	put32(w->out, fr->cap_len);
	put32(w->out, fr->wire_len);
	fwrite(fr->data, 1, fr->cap_len, w->out);
}

static void maybe_bypass(struct worker *w, const struct bw_frame *fr)
{
	struct bw_packet p;
	struct bw_flow_key k;

	if (bw_decode_frame(w->dec, fr->linktype, fr->data, fr->cap_len, fr->wire_len, fr->ts, &p) != BW_OK)
		return;
	if (p.proto != 6 || p.payload_len < 5 || p.payload[0] != 0x17 || p.payload[1] != 0x03)
		return;
	bw_flow_key_make(&p, &k, NULL);
	for (unsigned i = 0; i < w->n_bypassed; i++)
		if (memcmp(&w->bypassed[i], &k, sizeof(k)) == 0)
			return;
	int rc = bw_live_bypass(w->h, &k);
	if (rc == BW_OK)
		w->bypass_ok++;
	else
		w->bypass_fail++;
	if (w->n_bypassed < MAX_BYPASSED)
		w->bypassed[w->n_bypassed++] = k;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct bw_frame fr;

	while (!stop_flag) {
		int rc = bw_live_next(w->h, &fr, 100);
		if (rc == BW_EAGAIN)
			continue;
		if (rc != BW_OK) {
			w->last_rc = rc == BW_EEOF ? 0 : rc;
			break;
		}
		w->frames++;
		__atomic_store_n(&last_frame_ms, now_ms(), __ATOMIC_RELAXED);
		write_frame(w, &fr);
		if (bypass_appdata)
			maybe_bypass(w, &fr);
		uint64_t t = __atomic_add_fetch(&total_frames, 1, __ATOMIC_RELAXED);
		if (max_frames && t >= max_frames)
			stop_flag = 1;
	}
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: livecap -i IFACE [-b auto|afpacket|xdp|pcap] [-m auto|native|generic] [-w N] "
			"[-t SEC] [-n FRAMES] [-I IDLE_MS] [-o OUT] [-f FILTER] [-p PORT]... [--no-bpf] "
			"[--bypass-appdata] [--ring MB] [--block KB]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct bw_live_config c;
	uint16_t ports[16];
	size_t n_ports = 0;
	double seconds = 10;
	const char *out = NULL;
	static const struct option longopts[] = {
		{"no-bpf", no_argument, NULL, 1},  {"bypass-appdata", no_argument, NULL, 2},
		{"ring", required_argument, NULL, 3}, {"block", required_argument, NULL, 4},
		{"fanout", required_argument, NULL, 5}, {NULL, 0, NULL, 0},
	};
	int opt;

	bw_live_config_default(&c);
	while ((opt = getopt_long(argc, argv, "i:b:m:w:t:n:I:o:f:p:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': c.iface = optarg; break;
		case 'b':
			if (!strcmp(optarg, "auto"))
				c.backend = BW_LIVE_AUTO;
			else if (!strcmp(optarg, "afpacket"))
				c.backend = BW_LIVE_AFPACKET;
			else if (!strcmp(optarg, "xdp"))
				c.backend = BW_LIVE_XDP;
			else if (!strcmp(optarg, "pcap"))
				c.backend = BW_LIVE_PCAP;
			else
				return usage();
			break;
		case 'm':
			if (!strcmp(optarg, "auto"))
				c.xdp_mode = BW_LIVE_XDP_AUTO;
			else if (!strcmp(optarg, "native"))
				c.xdp_mode = BW_LIVE_XDP_NATIVE;
			else if (!strcmp(optarg, "generic"))
				c.xdp_mode = BW_LIVE_XDP_GENERIC;
			else
				return usage();
			break;
		case 'w': n_workers = (unsigned)atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'n': max_frames = strtoull(optarg, NULL, 10); break;
		case 'I': idle_ms = (unsigned)atoi(optarg); break;
		case 'o': out = optarg; break;
		case 'f': c.pcap_filter = optarg; break;
		case 'p':
			if (n_ports < BW_ARRAY_SIZE(ports))
				ports[n_ports++] = (uint16_t)atoi(optarg);
			break;
		case 1: c.bpf_filter = false; break;
		case 2: bypass_appdata = true; break;
		case 3: c.ring_mb = (uint32_t)atoi(optarg); break;
		case 4: c.block_kb = (uint32_t)atoi(optarg); break;
		case 5: c.fanout_group_id = atoi(optarg); break;
		default: return usage();
		}
	}
	if (!c.iface || n_workers < 1 || n_workers > MAX_WORKERS || seconds <= 0)
		return usage();
	if (n_ports) {
		c.dns_ports = ports;
		c.n_dns_ports = n_ports;
	}
	c.n_workers = n_workers;

	for (unsigned i = 0; i < n_workers; i++) {
		char err[1024];
		struct worker *w = &workers[i];
		w->id = i;
		c.worker_index = i;
		int rc = bw_live_open(&c, &w->h, err, sizeof(err));
		if (rc != BW_OK) {
			fprintf(stderr, "livecap: %s\n", err);
			printf("open_error=%s\n", bw_strerror(rc));
			for (unsigned j = 0; j < i; j++)
				bw_live_close(workers[j].h);
			return 1;
		}
		printf("worker%u: %s\n", i, bw_live_describe(w->h));
		if (bw_live_warning(w->h))
			printf("warning: %s\n", bw_live_warning(w->h));
		if (out) {
			char path[4096];
			if (n_workers == 1)
				snprintf(path, sizeof(path), "%s.pcap", out);
			else
				snprintf(path, sizeof(path), "%s.%u.pcap", out, i);
			w->out = fopen(path, "wb");
			if (!w->out) {
				perror(path);
				return 1;
			}
		}
		w->dec = bw_decoder_new(NULL, &w->an);
		if (!w->dec)
			return 1;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (unsigned i = 0; i < n_workers; i++)
		pthread_create(&workers[i].th, NULL, run_worker, &workers[i]);
	printf("ready\n");
	fflush(stdout);

	uint64_t start = now_ms(), deadline = start + (uint64_t)(seconds * 1000);
	while (!stop_flag && now_ms() < deadline) {
		usleep(20000);
		uint64_t last = __atomic_load_n(&last_frame_ms, __ATOMIC_RELAXED);
		if (idle_ms && last && now_ms() - last > idle_ms)
			break;
	}
	stop_flag = 1;
	for (unsigned i = 0; i < n_workers; i++)
		bw_live_break(workers[i].h);
	for (unsigned i = 0; i < n_workers; i++)
		pthread_join(workers[i].th, NULL);

	uint64_t frames = 0, kpk = 0, kdrop = 0, vlan = 0, bcalls = 0, berr = 0, bok = 0, ringerr = 0;
	struct bw_live_stats st = {0}, first = {0};
	int rc = 0;
	for (unsigned i = 0; i < n_workers; i++) {
		struct worker *w = &workers[i];
		bw_live_stats(w->h, &st);
		if (i == 0)
			first = st;
		frames += st.frames;
		kpk += st.kernel_packets;
		kdrop += st.kernel_drops;
		vlan += st.vlan_restored;
		bcalls += st.bypass_calls;
		berr += st.bypass_errors;
		ringerr += st.ring_errors;
		bok += w->bypass_ok;
		printf("worker%u_frames=%llu\n", i, (unsigned long long)st.frames);
		if (w->last_rc)
			rc = 1;
	}
	printf("frames=%llu\nkernel_packets=%llu\nkernel_drops=%llu\nvlan_restored=%llu\nring_errors=%llu\n"
	       "bypass_calls=%llu\nbypass_ok=%llu\nbypass_errors=%llu\n",
	       (unsigned long long)frames, (unsigned long long)kpk, (unsigned long long)kdrop,
	       (unsigned long long)vlan, (unsigned long long)ringerr, (unsigned long long)bcalls,
	       (unsigned long long)bok, (unsigned long long)berr);
	printf("xsk_rx_dropped=%llu\nxsk_rx_ring_full=%llu\n", (unsigned long long)first.xsk_rx_dropped,
	       (unsigned long long)first.xsk_rx_ring_full);
	const struct bw_live_bpf_stats *b = &first.bpf_counters;
	printf("bpf=%d\n", first.bpf ? 1 : 0);
	if (first.bpf)
		printf("bpf_passed=%llu\nbpf_passed_bytes=%llu\nbpf_dropped=%llu\nbpf_dropped_bytes=%llu\n"
		       "bpf_bypassed=%llu\nbpf_bypassed_bytes=%llu\nbpf_pass_dns=%llu\nbpf_pass_tcp=%llu\n"
		       "bpf_pass_quic=%llu\nbpf_pass_dtls=%llu\nbpf_pass_tunnel=%llu\nbpf_pass_fragment=%llu\n"
		       "bpf_pass_all=%llu\nbpf_bypass_reset=%llu\nbpf_xsk_missed=%llu\nbypass_entries=%llu\n",
		       (unsigned long long)b->passed_packets, (unsigned long long)b->passed_bytes,
		       (unsigned long long)b->dropped_packets, (unsigned long long)b->dropped_bytes,
		       (unsigned long long)b->bypassed_packets, (unsigned long long)b->bypassed_bytes,
		       (unsigned long long)b->pass_dns, (unsigned long long)b->pass_tcp,
		       (unsigned long long)b->pass_quic, (unsigned long long)b->pass_dtls,
		       (unsigned long long)b->pass_tunnel, (unsigned long long)b->pass_fragment,
		       (unsigned long long)b->pass_all, (unsigned long long)b->bypass_reset,
		       (unsigned long long)b->xsk_missed, (unsigned long long)first.bypass_entries);
	for (unsigned i = 0; i < n_workers; i++) {
		if (workers[i].out)
			fclose(workers[i].out);
		bw_decoder_free(workers[i].dec);
		bw_live_close(workers[i].h);
	}
	return rc;
}
