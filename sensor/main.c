/* SPDX-License-Identifier: MIT */
/*
 * main.c: the bindwatch command line. Offline runs read capture files and
 * directories in the order given, feed one worker, write events to the
 * sinks, and end with a stats event and a human summary. Input problems
 * (a missing or corrupt file) are reported once per file and do not stop
 * the run; the exit status says they happened.
 */
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "bindings.h"
#include "bw.h"
#include "capture.h"
#include "detect.h"
#include "policy.h"
#include "policyctl.h"
#include "refdata.h"
#include "seccomp.h"
#include "zones.h"
#include "json.h"
#include "live_run.h"
#include "pipeline.h"
#include "sink.h"
#include "stats.h"
#include "worker.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_INPUT = 1,   /* the run finished, but some input could not be read */
	EXIT_USAGE = 2,   /* bad command line or configuration */
	EXIT_OUTPUT = 3,  /* an output could not be opened or written */
	EXIT_INTERNAL = 4,
};

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: bindwatch -r CAPTURE [-r CAPTURE ...] [-c POLICY] [-o OUTPUT ...] [options]\n"
		"       bindwatch -i IFACE [-c POLICY] [-o OUTPUT ...] [options]\n"
		"       bindwatch check-config -c POLICY\n"
		"\n"
		"Passive DNS and TLS binding sensor. Reads pcap and pcapng files (or\n"
		"directories of them, in name order) and writes one JSON event per line.\n"
		"\n"
		"input:\n"
		"  -r, --read PATH        capture file or directory; repeatable, read in order\n"
		"      --reader KIND      auto (default: own mmap reader for pcap/pcapng),\n"
		"                         mmap, or libpcap\n"
		"live capture (a span or tap port; -i and -r do not mix):\n"
		"  -i, --interface IFACE  capture on IFACE until SIGINT/SIGTERM; SIGHUP reloads\n"
		"                         the policy and reopens file outputs, SIGUSR1 writes\n"
		"                         a stats event\n"
		"      --capture KIND     auto (default: afpacket, falling back to afpacket\n"
		"                         without the eBPF filter, then pcap), afpacket, xdp\n"
		"                         (AF_XDP: the kept packets never reach the host's\n"
		"                         stack: use it on a dedicated capture port), pcap\n"
		"      --xdp-mode MODE    auto (default), native or generic\n"
		"      --filter EXPR      tcpdump-style filter (pcap backend only)\n"
		"      --no-bpf           no eBPF filter and no bypass: every frame to user space\n"
		"      --ring-mb MB       capture ring per worker (default 32)\n"
		"      --block-kb KB      TPACKET_V3 block size, a power of two 64..16384\n"
		"                         (default 1024)\n"
		"      --stats-interval S a stats event every S seconds (default: only at the end)\n"
		"      --user NAME        once the capture is set up, switch to user NAME and\n"
		"                         drop every capability (file outputs must then be\n"
		"                         writable by NAME to be reopened on SIGHUP)\n"
		"                         Starting needs root, or CAP_NET_RAW and CAP_NET_ADMIN\n"
		"                         (+ CAP_BPF and CAP_PERFMON for the eBPF filter and\n"
		"                         xdp, CAP_IPC_LOCK for locked rings; CAP_SETUID and\n"
		"                         CAP_SETGID for --user)\n"
		"output:\n"
		"  -o, --output SPEC      jsonl:PATH or jsonl:- (stdout); repeatable;\n"
		"                         default jsonl:-. Syslog to a SIEM:\n"
		"                         syslog+udp://HOST:514?format=cef\n"
		"                         syslog+tcp://HOST:601?format=leef&framing=octet-counting\n"
		"                         syslog+tls://HOST:6514?format=json&ca=FILE[&cert=F&key=F]\n"
		"                         syslog+unix:///dev/log?format=json\n"
		"                         (events=alerts by default; events=alerts,tls,x509,dns,stats)\n"
		"      --dns-raw          add each DNS message's bytes (hex) to its event\n"
		"policy and alerts:\n"
		"  -c, --config FILE      the owner's policy (YAML: owned domains, networks,\n"
		"                         cloud resources, zones, certificate rules); without\n"
		"                         one, certificate faults are reported for every name\n"
		"                         at low severity. SIGHUP reloads it (a bad new policy\n"
		"                         is refused and the old one stays).\n"
		"                         certificates.fetch (off by default) lets it connect to\n"
		"                         servers of owned names whose certificate TLS 1.3 or\n"
		"                         QUIC hid, to fetch it: the one setting that sends\n"
		"                         packets (see README: Certificate fetch).\n"
		"      --data-dir DIR     reference data (default: the data/ folder next to\n"
		"                         the program's build folder)\n"
		"tls and certificates:\n"
		"      --ca-file FILE     extra trusted CA certificates (PEM or DER; repeatable),\n"
		"                         besides the system store\n"
		"      --judge-time WHEN  capture (default: certificates are judged as of the\n"
		"                         packet's capture time) or now (wall-clock time)\n"
		"      --no-tls           do not look for TLS, DTLS or QUIC\n"
		"decoding:\n"
		"      --dns-port LIST    UDP/TCP ports parsed as DNS (default 53,5353)\n"
		"      --dedup-window MS  drop exact duplicate packets seen within MS ms of\n"
		"                         packet time (default 50; 0 disables)\n"
		"      --no-bypass        decode every segment of a TCP flow already finished\n"
		"                         with (default: its bulk segments skip the duplicate\n"
		"                         filter and the TCP table; for testing)\n"
		"      --tcp-stream-cap B bytes buffered per TCP direction (default 262144)\n"
		"      --tcp-memcap B     bytes buffered over all TCP streams (default: from\n"
		"                         --max-memory, 161 MB per worker at 1024)\n"
		"      --tcp-max-flows N  TCP flows tracked at once (default: from --max-memory,\n"
		"                         17476 per worker at 1024)\n"
		"      --frag-memcap B    bytes held for IP fragment reassembly (default: from\n"
		"                         --max-memory, 53 MB per worker at 1024)\n"
		"      --max-memory MB    memory budget (default 1024), split into caps: binding\n"
		"                         tables 30%%, TCP bytes 15%% and flows 20%% (12 KiB each),\n"
		"                         fragments 5%%, QUIC/DTLS sessions 5%%, certificate cache\n"
		"                         10%%, alert keys 2%% (per-worker shares divided by the\n"
		"                         workers); --tcp-memcap, --tcp-max-flows and --frag-memcap\n"
		"                         override their share (see README, Memory bounds)\n"
		"misc:\n"
		"      --no-seccomp       do not install the system-call filter that confines\n"
		"                         the sensor once it has started (see README: Hardening)\n"
		"  -q, --quiet            no summary on stderr\n"
		"      --no-progress      no progress line, even on a terminal\n"
		"      --workers N        worker threads (default 1: one thread reads, decodes\n"
		"                         and writes, events in capture order); N > 1 spreads\n"
		"                         flows over N threads. Live capture: one per online\n"
		"                         CPU by default\n"
		"  -h, --help             this text\n"
		"  -V, --version          version\n"
		"\n"
		"exit status:\n"
		"  0  all input read\n"
		"  1  the run finished but some input was missing, unreadable or corrupt\n"
		"     (one message per file on stderr; events read before the fault are kept)\n"
		"  2  bad command line\n"
		"  3  an output could not be opened or written\n"
		"  4  internal error (out of memory)\n");
}

/* ---- input list ---- */

struct input_list {
	char **paths;
	size_t n, cap;
};

static int input_add(struct input_list *l, const char *path)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		char **np = realloc(l->paths, ncap * sizeof(*np));
		if (!np)
			return BW_ENOMEM;
		l->paths = np;
		l->cap = ncap;
	}
	l->paths[l->n] = strdup(path);
	if (!l->paths[l->n])
		return BW_ENOMEM;
	l->n++;
	return BW_OK;
}

static void input_free(struct input_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
}

static bool looks_like_capture(const char *name)
{
	static const char *const exts[] = { ".pcap", ".pcapng", ".cap", ".ntar" };
	if (name[0] == '.')
		return false;
	for (size_t i = 0; i < BW_ARRAY_SIZE(exts); i++) {
		size_t ln = strlen(name), le = strlen(exts[i]);
		if (ln > le && strcmp(name + ln - le, exts[i]) == 0)
			return true;
	}
	/* rotated files: name.pcap.1, name.pcap0 (compressed files are not read) */
	return strstr(name, ".pcap") != NULL && strstr(name, ".gz") == NULL && strstr(name, ".xz") == NULL &&
	       strstr(name, ".zst") == NULL && strstr(name, ".tsv") == NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Expand a directory to its capture files in name order; a file is added as is. */
static int input_expand(struct input_list *l, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return input_add(l, path); /* errors are reported when it is opened */
	DIR *d = opendir(path);
	if (!d)
		return input_add(l, path);
	struct input_list names = { 0 };
	struct dirent *e;
	int rc = BW_OK;
	while ((e = readdir(d)) != NULL && rc == BW_OK)
		if (looks_like_capture(e->d_name))
			rc = input_add(&names, e->d_name);
	closedir(d);
	if (names.n)
		qsort(names.paths, names.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < names.n && rc == BW_OK; i++) {
		size_t len = strlen(path) + strlen(names.paths[i]) + 2;
		char *full = malloc(len);
		if (!full) {
			rc = BW_ENOMEM;
			break;
		}
		bool slash = path[strlen(path) - 1] == '/';
		snprintf(full, len, "%s%s%s", path, slash ? "" : "/", names.paths[i]);
		rc = input_add(l, full);
		free(full);
	}
	input_free(&names);
	return rc;
}

/*
 * bw_run_info.extra of an offline run with several workers: how the frames
 * were shared (a skew means one host pair or tunnel carries most of the
 * traffic) and how often a worker had to wait for another.
 */
static void pipeline_json_extra(struct bw_json *j, void *ctx)
{
	const struct bw_pipeline_stats *ps = ctx;
	bw_json_obj_begin(j, "pipeline");
	bw_json_u64(j, "workers", ps->workers);
	bw_json_arr_begin(j, "frames");
	for (unsigned i = 0; i < ps->workers && i < BW_PIPELINE_MAX_WORKERS; i++)
		bw_json_u64(j, NULL, ps->frames_dispatched[i]);
	bw_json_arr_end(j);
	bw_json_u64(j, "files_walked", ps->files_walked);
	bw_json_u64(j, "frames_copied", ps->frames_copied + ps->frames_heap);
	bw_json_u64(j, "turnstile_waits", ps->turnstile_waits);
	bw_json_u64(j, "frame_ring_full_waits", ps->frame_ring_full_waits);
	bw_json_u64(j, "event_ring_full_waits", ps->event_ring_full_waits);
	bw_json_u64(j, "x509_duplicates_dropped", ps->x509_duplicates_dropped);
	bw_json_obj_end(j);
}

/* ---- progress on a terminal ---- */

struct progress {
	bool on;
	double start, last;
	uint64_t total_bytes, done_bytes; /* done: completed files */
	size_t nfiles;
	size_t file_idx; /* the file being read (multi-worker runs) */
};

static double now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_draw(struct progress *pr, size_t file_idx, uint64_t file_pos, uint64_t frames, bool final)
{
	double t = now_wall();
	if (!final && t - pr->last < 0.25)
		return;
	pr->last = t;
	double el = t - pr->start;
	uint64_t done = pr->done_bytes + file_pos;
	double frac = pr->total_bytes ? (double)done / (double)pr->total_bytes : 1.0;
	double pps = el > 0 ? (double)frames / el : 0;
	double left = frac > 0.001 ? el / frac - el : 0;
	fprintf(stderr, "\r\033[Kbindwatch: file %zu/%zu  %.1f/%.1f MiB (%.0f%%)  %.0f pkt/s  %d:%02d left",
		file_idx + 1, pr->nfiles, (double)done / 1048576.0, (double)pr->total_bytes / 1048576.0,
		frac * 100.0, pps, (int)(left / 60), (int)left % 60);
	if (final)
		fprintf(stderr, "\r\033[K");
	fflush(stderr);
}

static void pipeline_progress(void *ctx, uint64_t file_pos, uint64_t frames)
{
	struct progress *pr = ctx;
	progress_draw(pr, pr->file_idx, file_pos, frames, false);
}

/* ---- options ---- */

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_ports(const char *s, struct bw_worker_config *c)
{
	memset(c->dns_ports, 0, sizeof(c->dns_ports));
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", s);
	char *save = NULL;
	bool any = false;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (!parse_u64(tok, &v) || v == 0 || v > 65535)
			return false;
		bw_worker_dns_port_set(c, (uint16_t)v, true);
		any = true;
	}
	return any;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

struct alert_out {
	struct bw_output *out;
	struct bw_json *j;
};

static void alert_out_emit(void *ctx, enum bw_event_type t, bw_time_t ts)
{
	struct alert_out *ao = ctx;
	struct bw_event ev = { .type = t, .ts = ts, .json = ao->j->buf, .json_len = ao->j->len };
	if (bw_json_ok(ao->j))
		bw_output_emit(ao->out, &ev);
}

/*
 * --max-memory: one budget split into the per-table caps (README, "Memory
 * bounds"). Shares of the budget: binding tables 30 %, TCP stream bytes
 * 15 %, TCP flows 20 % (each tracked flow with its TLS state costs about
 * MEM_TCP_FLOW bytes), IP fragments 5 %, UDP (QUIC/DTLS) sessions 5 %,
 * certificate cache 10 %, alert suppression keys 2 %; the rest is slack for
 * the allocator, queues and buffers. Per-worker tables get their share
 * divided by the number of workers. A cap given on its own option wins.
 */
#define MEM_TCP_FLOW (12u << 10)
#define MEM_UDP_SESSION (16u << 10)
#define MEM_CERT_ENTRY (8u << 10) /* a typical entry; the byte cap holds the big ones to the share */
#define MEM_ALERT_KEY 160u
#define MEM_DEFAULT_MB 1024

struct mem_set {
	bool tcp_memcap, tcp_flows, frag_memcap;
};

static uint64_t mem_clamp(uint64_t v, uint64_t lo, uint64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static void apply_max_memory(uint64_t bytes, unsigned workers, const struct mem_set *set, struct bw_worker_config *cfg,
			     struct bw_bindings_config *bc, struct bw_alerts_config *ac)
{
	uint64_t per_worker = bytes / (workers ? workers : 1);
	bw_bindings_config_budget(bc, (size_t)(bytes / 100 * 30));
	if (!set->tcp_memcap)
		cfg->tcp.mem_cap = (size_t)mem_clamp(per_worker / 100 * 15, 65536, UINT64_MAX);
	if (!set->tcp_flows)
		cfg->tcp.max_flows = (uint32_t)mem_clamp(per_worker / 100 * 20 / MEM_TCP_FLOW, 16, 1u << 26);
	if (!set->frag_memcap)
		cfg->decode.frag_mem_cap = (size_t)mem_clamp(per_worker / 100 * 5, 65536, UINT64_MAX);
	cfg->decode.frag_max_datagrams = (uint32_t)mem_clamp(cfg->decode.frag_mem_cap / 4096, 64, 65536);
	cfg->udp_max_sessions = (uint32_t)mem_clamp(per_worker / 100 * 5 / MEM_UDP_SESSION, 64, 1u << 20);
	cfg->cert_cache_bytes = (size_t)(per_worker / 100 * 10);
	cfg->cert_cache_entries = (uint32_t)mem_clamp(cfg->cert_cache_bytes / MEM_CERT_ENTRY, 16, 1u << 20);
	ac->max_keys = (uint32_t)mem_clamp(bytes / 100 * 2 / MEM_ALERT_KEY, 1024, 1u << 24);
}

enum {
	OPT_READER = 256, OPT_DNS_RAW, OPT_DNS_PORT, OPT_DEDUP, OPT_TCP_CAP, OPT_TCP_MEMCAP, OPT_TCP_FLOWS,
	OPT_FRAG_MEMCAP, OPT_NO_PROGRESS, OPT_CA_FILE, OPT_JUDGE_TIME, OPT_NO_TLS, OPT_WORKERS, OPT_DATA_DIR,
	OPT_CAPTURE, OPT_XDP_MODE, OPT_FILTER, OPT_NO_BPF, OPT_RING_MB, OPT_BLOCK_KB, OPT_STATS_INTERVAL, OPT_USER, OPT_MAX_MEMORY,
	OPT_NO_SECCOMP, OPT_NO_BYPASS,
};

#define MAX_CA_FILES 64

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "read", required_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "reader", required_argument, NULL, OPT_READER },
		{ "dns-raw", no_argument, NULL, OPT_DNS_RAW },
		{ "dns-port", required_argument, NULL, OPT_DNS_PORT },
		{ "dedup-window", required_argument, NULL, OPT_DEDUP },
		{ "tcp-stream-cap", required_argument, NULL, OPT_TCP_CAP },
		{ "tcp-memcap", required_argument, NULL, OPT_TCP_MEMCAP },
		{ "tcp-max-flows", required_argument, NULL, OPT_TCP_FLOWS },
		{ "frag-memcap", required_argument, NULL, OPT_FRAG_MEMCAP },
		{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
		{ "ca-file", required_argument, NULL, OPT_CA_FILE },
		{ "config", required_argument, NULL, 'c' },
		{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
		{ "judge-time", required_argument, NULL, OPT_JUDGE_TIME },
		{ "no-tls", no_argument, NULL, OPT_NO_TLS },
		{ "no-bypass", no_argument, NULL, OPT_NO_BYPASS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "interface", required_argument, NULL, 'i' },
		{ "capture", required_argument, NULL, OPT_CAPTURE },
		{ "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "no-bpf", no_argument, NULL, OPT_NO_BPF },
		{ "ring-mb", required_argument, NULL, OPT_RING_MB },
		{ "block-kb", required_argument, NULL, OPT_BLOCK_KB },
		{ "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
		{ "user", required_argument, NULL, OPT_USER },
		{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct bw_worker_config cfg;
	struct input_list inputs = { 0 };
	struct bw_output out = { 0 };
	struct bw_worker *w = NULL;
	struct bw_json sj = { 0 };
	struct bw_x509_trust *trust = NULL;
	struct bw_certfetch *fetcher = NULL; /* certificates.fetch: the fetcher process (certfetch.h) */
	const char *ca_files[MAX_CA_FILES];
	size_t n_ca = 0;
	const char *policy_path = NULL, *data_dir = NULL;
	bool check_config = false;
	struct bw_policy *policy = NULL; /* pctl.cur.policy */
	struct bw_policyctl pctl = { 0 };
	struct bw_detect_env env = { 0 };
	bool bindings_thread = false;
	FILE *detect_trace = NULL;
	enum bw_reader_kind reader = BW_READER_AUTO;
	const char *outputs[BW_OUTPUT_MAX_SINKS];
	unsigned n_outputs = 0;
	bool quiet = false, progress_ok = true, use_seccomp = true;
	unsigned n_workers = 0; /* 0: one per online CPU */
	int status = EXIT_OK;
	struct bw_live_run_options lopt;
	const char *live_only = NULL; /* a live-capture option given without -i */
	char err[512];
	uint64_t v;
	uint64_t max_memory_mb = MEM_DEFAULT_MB;
	struct mem_set mset = { 0 };
	struct bw_bindings_config bcfg;

	bw_worker_config_default(&cfg);
	bw_live_run_options_default(&lopt);
	if (argc > 1 && strcmp(argv[1], "check-config") == 0) {
		check_config = true;
		argv[1] = argv[0];
		argc--;
		argv++;
	}

	int c;
	while ((c = getopt_long(argc, argv, "r:o:c:i:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (input_expand(&inputs, optarg) != BW_OK) {
				fprintf(stderr, "bindwatch: out of memory\n");
				status = EXIT_INTERNAL;
				goto out;
			}
			break;
		case 'o':
			if (n_outputs >= BW_OUTPUT_MAX_SINKS) {
				fprintf(stderr, "bindwatch: at most %d outputs\n", BW_OUTPUT_MAX_SINKS);
				status = EXIT_USAGE;
				goto out;
			}
			outputs[n_outputs++] = optarg;
			break;
		case OPT_READER:
			if (strcmp(optarg, "auto") == 0)
				reader = BW_READER_AUTO;
			else if (strcmp(optarg, "mmap") == 0)
				reader = BW_READER_MMAP;
			else if (strcmp(optarg, "libpcap") == 0)
				reader = BW_READER_LIBPCAP;
			else
				goto bad_value;
			break;
		case OPT_DNS_RAW: cfg.dns_raw = true; break;
		case OPT_DNS_PORT:
			if (!parse_ports(optarg, &cfg))
				goto bad_value;
			break;
		case OPT_DEDUP:
			if (!parse_u64(optarg, &v) || v > 60000)
				goto bad_value;
			cfg.decode.dedup_window = v * BW_NSEC_PER_MSEC;
			break;
		case OPT_TCP_CAP:
			if (!parse_u64(optarg, &v) || v < 1024 || v > (1u << 30))
				goto bad_value;
			cfg.tcp.stream_cap = (uint32_t)v;
			break;
		case OPT_TCP_MEMCAP:
			if (!parse_u64(optarg, &v) || v < 65536)
				goto bad_value;
			cfg.tcp.mem_cap = v;
			mset.tcp_memcap = true;
			break;
		case OPT_TCP_FLOWS:
			if (!parse_u64(optarg, &v) || v < 16 || v > (1u << 26))
				goto bad_value;
			cfg.tcp.max_flows = (uint32_t)v;
			mset.tcp_flows = true;
			break;
		case OPT_FRAG_MEMCAP:
			if (!parse_u64(optarg, &v) || v < 65536)
				goto bad_value;
			cfg.decode.frag_mem_cap = v;
			mset.frag_memcap = true;
			break;
		case OPT_MAX_MEMORY:
			if (!parse_u64(optarg, &v) || v < 16 || v > (1u << 20))
				goto bad_value;
			max_memory_mb = v;
			break;
		case OPT_CA_FILE:
			if (n_ca >= MAX_CA_FILES) {
				fprintf(stderr, "bindwatch: at most %d --ca-file options\n", MAX_CA_FILES);
				status = EXIT_USAGE;
				goto out;
			}
			ca_files[n_ca++] = optarg;
			break;
		case OPT_JUDGE_TIME:
			if (strcmp(optarg, "capture") == 0)
				cfg.judge_now = false;
			else if (strcmp(optarg, "now") == 0)
				cfg.judge_now = true;
			else
				goto bad_value;
			break;
		case OPT_NO_TLS: cfg.tls_off = true; break;
		case OPT_NO_BYPASS: cfg.decode.bypass_slots = 0; break;
		case 'c': policy_path = optarg; break;
		case OPT_DATA_DIR: data_dir = optarg; break;
		case OPT_WORKERS:
			if (!parse_u64(optarg, &v) || v < 1 || v > BW_PIPELINE_MAX_WORKERS)
				goto bad_value;
			n_workers = (unsigned)v;
			break;
		case 'i': lopt.live.iface = optarg; break;
		case OPT_CAPTURE:
			live_only = "--capture";
			if (strcmp(optarg, "auto") == 0)
				lopt.live.backend = BW_LIVE_AUTO;
			else if (strcmp(optarg, "afpacket") == 0)
				lopt.live.backend = BW_LIVE_AFPACKET;
			else if (strcmp(optarg, "xdp") == 0)
				lopt.live.backend = BW_LIVE_XDP;
			else if (strcmp(optarg, "pcap") == 0)
				lopt.live.backend = BW_LIVE_PCAP;
			else
				goto bad_value;
			break;
		case OPT_XDP_MODE:
			live_only = "--xdp-mode";
			if (strcmp(optarg, "auto") == 0)
				lopt.live.xdp_mode = BW_LIVE_XDP_AUTO;
			else if (strcmp(optarg, "native") == 0)
				lopt.live.xdp_mode = BW_LIVE_XDP_NATIVE;
			else if (strcmp(optarg, "generic") == 0)
				lopt.live.xdp_mode = BW_LIVE_XDP_GENERIC;
			else
				goto bad_value;
			break;
		case OPT_FILTER: live_only = "--filter"; lopt.live.pcap_filter = optarg; break;
		case OPT_NO_BPF: live_only = "--no-bpf"; lopt.live.bpf_filter = false; break;
		case OPT_RING_MB:
			live_only = "--ring-mb";
			if (!parse_u64(optarg, &v) || v < 1 || v > 4096)
				goto bad_value;
			lopt.live.ring_mb = (uint32_t)v;
			break;
		case OPT_BLOCK_KB:
			live_only = "--block-kb";
			if (!parse_u64(optarg, &v) || v < 64 || v > 16384 || (v & (v - 1)))
				goto bad_value;
			lopt.live.block_kb = (uint32_t)v;
			break;
		case OPT_STATS_INTERVAL:
			live_only = "--stats-interval";
			if (!parse_u64(optarg, &v) || v < 1 || v > 86400)
				goto bad_value;
			lopt.stats_interval = (unsigned)v;
			break;
		case OPT_USER: live_only = "--user"; lopt.user = optarg; break;
		case OPT_NO_SECCOMP: use_seccomp = false; break;
		case 'q': quiet = true; break;
		case OPT_NO_PROGRESS: progress_ok = false; break;
		case 'h':
			usage(stdout);
			goto out;
		case 'V':
			printf("bindwatch %s\n", BW_VERSION);
			goto out;
		default:
			usage(stderr);
			status = EXIT_USAGE;
			goto out;
		}
		continue;
bad_value:
		fprintf(stderr, "bindwatch: bad value '%s' for option %s\n", optarg, argv[optind - 1]);
		status = EXIT_USAGE;
		goto out;
	}
	if (optind < argc) {
		fprintf(stderr, "bindwatch: unexpected argument '%s' (captures are given with -r)\n", argv[optind]);
		status = EXIT_USAGE;
		goto out;
	}
	if (policy_path || check_config) {
		if (!policy_path) {
			fprintf(stderr, "bindwatch: check-config needs -c POLICY\n");
			status = EXIT_USAGE;
			goto out;
		}
		pctl.path = policy_path;
		pctl.data_dir = data_dir;
		int prc = bw_policyctl_load(&pctl, err, sizeof(err));
		if (prc != BW_OK) {
			fprintf(stderr, "bindwatch: %s\n", err);
			status = prc == BW_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
			goto out;
		}
		bw_policy_set_apply(&pctl.cur, &env);
		policy = pctl.cur.policy;
		if (check_config) {
			bw_policy_dump(policy, stdout);
			printf("# policy ok: %s (%zu zone file(s) loaded)\n", policy_path,
			       env.zones ? bw_zones_count(env.zones) : (size_t)0);
			goto out;
		}
	} else {
		pctl.data_dir = data_dir;
		int prc = bw_policyctl_load(&pctl, err, sizeof(err));
		if (prc != BW_OK) {
			fprintf(stderr, "bindwatch: %s\n", err);
			status = prc == BW_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
			goto out;
		}
		bw_policy_set_apply(&pctl.cur, &env);
	}
	if (lopt.live.iface && inputs.n) {
		fprintf(stderr, "bindwatch: -i and -r do not mix: capture live or read files\n");
		status = EXIT_USAGE;
		goto out;
	}
	if (!lopt.live.iface && live_only && !check_config) {
		fprintf(stderr, "bindwatch: %s is for live capture (-i IFACE)\n", live_only);
		status = EXIT_USAGE;
		goto out;
	}
	if (lopt.live.pcap_filter && lopt.live.backend != BW_LIVE_PCAP) {
		fprintf(stderr, "bindwatch: --filter needs --capture pcap\n");
		status = EXIT_USAGE;
		goto out;
	}
	if (inputs.n == 0 && !lopt.live.iface) {
		fprintf(stderr, "bindwatch: no input: give one or more -r CAPTURE (see --help)\n");
		status = EXIT_USAGE;
		goto out;
	}
	if (policy && policy->certificates.fetch.enabled && !cfg.tls_off) {
		/* Forked first: before outputs open, threads start, privileges drop or seccomp goes on. */
		struct bw_certfetch_config fc;
		bw_certfetch_config_from_policy(&fc, &policy->certificates.fetch);
		fc.channels = BW_MIN(n_workers ? n_workers : lopt.live.iface ? bw_pipeline_default_workers() : 1,
				     (unsigned)BW_CERTFETCH_MAX_CHANNELS);
		fc.user = lopt.user;
		if (!(fetcher = bw_certfetch_start(&fc, err, sizeof(err)))) {
			fprintf(stderr, "bindwatch: %s\n", err);
			status = EXIT_INTERNAL;
			goto out;
		}
		cfg.fetch = fetcher;
	}
	/* Outputs named in the policy file are used when the command line names none. */
	if (n_outputs == 0 && policy)
		for (size_t i = 0; i < policy->n_outputs && n_outputs < BW_OUTPUT_MAX_SINKS; i++)
			outputs[n_outputs++] = policy->outputs[i];
	if (n_outputs == 0)
		outputs[n_outputs++] = "jsonl:-";
	for (unsigned i = 0; i < n_outputs; i++) {
		struct bw_sink *s;
		int orc = bw_sink_open(outputs[i], &s, err, sizeof(err));
		if (orc != BW_OK) {
			fprintf(stderr, "bindwatch: %s\n", err);
			status = orc == BW_EINVAL ? EXIT_USAGE : orc == BW_ENOMEM ? EXIT_INTERNAL : EXIT_OUTPUT;
			goto out;
		}
		bw_output_add(&out, s);
	}

	if (policy)
		for (size_t i = 0; i < policy->certificates.n_extra_ca_files && n_ca < MAX_CA_FILES; i++)
			ca_files[n_ca++] = policy->certificates.extra_ca_files[i];
	struct bw_alerts_config acfg = { 0 };
	acfg.suppress = (bw_time_t)(policy ? policy->alerts.suppress_seconds : BW_POLICY_DEFAULT_SUPPRESS_SECONDS) *
			BW_NSEC_PER_SEC;
	if (policy && policy->alerts.suppress_seconds == 0)
		acfg.suppress = 1; /* no suppression: every occurrence is written */
	acfg.max_per_type_per_min = BW_ALERTS_DEFAULT_RATE_PER_MIN;
	if (policy && policy->alerts.rate_limit_per_minute)
		acfg.max_per_type_per_min = policy->alerts.rate_limit_per_minute;
	if (policy && policy->alerts.rate_limit_burst)
		acfg.burst = policy->alerts.rate_limit_burst;
	apply_max_memory(max_memory_mb << 20,
			 n_workers ? n_workers : lopt.live.iface ? (unsigned)BW_MAX(sysconf(_SC_NPROCESSORS_ONLN), 1) : 1,
			 &mset, &cfg, &bcfg, &acfg);
	env.alerts = bw_alerts_new(&acfg);
	env.bindings = bw_bindings_new(&bcfg);
	if (!env.alerts || !env.bindings) {
		fprintf(stderr, "bindwatch: out of memory\n");
		status = EXIT_INTERNAL;
		goto out;
	}
	bw_bindings_thread_register();
	bindings_thread = true;
	cfg.detect = &env;
	/* Tests (tests/cli): every detector call, in order (worker.h). */
	const char *trace = getenv("BINDWATCH_DETECT_TRACE");
	if (trace && *trace && !(detect_trace = fopen(trace, "we"))) {
		fprintf(stderr, "bindwatch: %s: %s\n", trace, strerror(errno));
		status = EXIT_USAGE;
		goto out;
	}
	cfg.detect_trace = detect_trace;
	if (!cfg.tls_off) {
		trust = bw_x509_trust_new(ca_files, n_ca, err, sizeof(err));
		if (!trust) {
			fprintf(stderr, "bindwatch: %s\n", err);
			status = EXIT_USAGE;
			goto out;
		}
		cfg.trust = trust;
	}
	if (lopt.live.iface) {
		/* Live capture: threads, signals and the final stats are live_run's. */
		lopt.workers = n_workers;
		lopt.quiet = quiet;
		lopt.policy = &pctl;
		lopt.seccomp = use_seccomp;
		int lrc = bw_live_run(&lopt, &cfg, &out, &env, err, sizeof(err));
		if (lrc != BW_OK) {
			fprintf(stderr, "bindwatch: %s\n", err);
			status = lrc == BW_ENOMEM ? EXIT_INTERNAL : lrc == BW_EINVAL ? EXIT_USAGE : EXIT_INPUT;
		}
		policy = pctl.cur.policy;
		goto out;
	}
	/* Offline runs default to one worker: events then come out in capture
	 * order, identical from run to run. --workers N spreads flows over N
	 * threads (same events, in an order that depends on thread timing). */
	if (n_workers == 0)
		n_workers = 1;
	if (n_workers == 1)
		w = bw_worker_new(&cfg, &out);
	if ((n_workers == 1 && !w) || bw_json_init(&sj, 1u << 20) != BW_OK) {
		fprintf(stderr, "bindwatch: out of memory\n");
		status = EXIT_INTERNAL;
		goto out;
	}

	/* Start-up is over (outputs, policy, trust store, worker): confine the rest of the run. */
	if (use_seccomp && bw_seccomp_install(BW_SECCOMP_OFFLINE, bw_seccomp_env_flags(), err, sizeof(err)) != BW_OK) {
		fprintf(stderr, "bindwatch: %s\n", err);
		status = EXIT_INTERNAL;
		goto out;
	}

	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART; /* a SIGHUP must not fail the read of a capture file */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct progress pr = { 0 };
	pr.on = progress_ok && !quiet && isatty(STDERR_FILENO);
	pr.start = pr.last = now_wall();
	pr.nfiles = inputs.n;
	if (pr.on)
		for (size_t i = 0; i < inputs.n; i++) {
			struct stat st;
			if (stat(inputs.paths[i], &st) == 0)
				pr.total_bytes += (uint64_t)st.st_size;
		}

	struct bw_run_info run = { 0 };
	struct bw_worker_stats pst = { 0 }; /* multi-worker runs: merged over the workers */
	struct bw_anomalies pan = { 0 };
	struct bw_pipeline_stats plst = { 0 };
	if (n_workers > 1) {
		/* Reader here, workers and output in threads of their own (pipeline.h). */
		struct bw_pipeline_config pc;
		bw_pipeline_config_default(&pc);
		pc.workers = n_workers;
		pc.stop = (volatile int *)&stop_requested;
		if (pr.on) {
			pc.progress = pipeline_progress;
			pc.progress_ctx = &pr;
		}
		/* Workers use the binding tables (detect.c); this thread does not while they run. */
		pc.thread_start = bw_bindings_thread_register;
		pc.thread_stop = bw_bindings_thread_unregister;
		pc.quiescent = bw_bindings_quiescent;
		pc.idle_begin = bw_bindings_thread_offline;
		pc.idle_end = bw_bindings_thread_online;
		if (bindings_thread)
			bw_bindings_thread_offline();
		struct bw_pipeline *pl = bw_pipeline_new(&pc, &cfg, &out, err, sizeof(err));
		if (!pl) {
			if (bindings_thread)
				bw_bindings_thread_online();
			fprintf(stderr, "bindwatch: %s\n", err);
			status = EXIT_INTERNAL;
			goto out;
		}
		for (size_t i = 0; i < inputs.n && !stop_requested; i++) {
			bool opened;
			uint64_t pos, size;
			int prc = bw_pipeline_read_file(pl, inputs.paths[i], base_name(inputs.paths[i]), reader, &opened,
							&pos, &size, err, sizeof(err));
			if (prc != BW_OK) {
				if (pr.on)
					fprintf(stderr, "\r\033[K");
				fprintf(stderr, "bindwatch: %s\n", err);
				run.files_failed++;
			} else {
				run.files_ok++;
			}
			run.file_bytes += pos;
			pr.done_bytes += size;
			pr.file_idx = i + 1;
		}
		bw_pipeline_finish(pl);
		bw_pipeline_stats(pl, &pst, &pan);
		bw_pipeline_own_stats(pl, &plst);
		run.extra = pipeline_json_extra;
		run.extra_ctx = &plst;
		bw_pipeline_free(pl);
		if (bindings_thread)
			bw_bindings_thread_online();
		goto report;
	}
	for (size_t i = 0; i < inputs.n && !stop_requested; i++) {
		struct bw_capture_file *f;
		const char *path = inputs.paths[i];
		if (bw_capture_file_open(path, reader, bw_worker_anomalies(w), &f, err, sizeof(err)) != BW_OK) {
			if (pr.on)
				fprintf(stderr, "\r\033[K");
			fprintf(stderr, "bindwatch: %s\n", err);
			run.files_failed++;
			continue;
		}
		const char *name = base_name(path);
		bw_worker_input_start(w);
		struct bw_frame fr;
		int rc;
		uint64_t n = 0;
		while ((rc = bw_capture_file_next(f, &fr)) == BW_OK) {
			bw_worker_frame(w, &fr, name);
			/* A signal flag is one load per frame: a reload (new policy,
			 * reopened outputs for logrotate) happens at the next frame. */
			if (bw_unlikely(reload_requested)) {
				reload_requested = 0;
				bw_policyctl_reload(&pctl, &env);
				for (unsigned k = 0; k < out.n; k++)
					bw_sink_reopen(out.sinks[k]);
				policy = pctl.cur.policy;
			}
			if (bw_unlikely((++n & 4095) == 0)) {
				if (stop_requested)
					break;
				bw_bindings_quiescent();
				if (pr.on) {
					struct bw_worker_stats st;
					bw_worker_stats(w, &st, NULL);
					progress_draw(&pr, i, bw_capture_file_pos(f), st.frames, false);
				}
			}
		}
		if (rc != BW_OK && rc != BW_EEOF) {
			if (pr.on)
				fprintf(stderr, "\r\033[K");
			fprintf(stderr, "bindwatch: %s\n", bw_capture_file_error(f));
			run.files_failed++;
		} else {
			run.files_ok++;
		}
		run.file_bytes += bw_capture_file_pos(f);
		pr.done_bytes += bw_capture_file_size(f);
		bw_capture_file_close(f);
	}
	bw_worker_finish(w);
report:
	if (env.alerts) {
		/* Repeats held back by suppression until the end are reported now. */
		struct alert_out ao = { &out, &sj };
		bw_alerts_flush(env.alerts, &sj, alert_out_emit, &ao);
		bw_alerts_stats(env.alerts, &run.alerts);
		run.have_alerts = true;
	}
	if (pr.on)
		progress_draw(&pr, inputs.n - 1, 0, 0, true);

	struct bw_worker_stats st = pst;
	struct bw_anomalies an = pan;
	if (w)
		bw_worker_stats(w, &st, &an);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	run.wall_seconds = now_wall() - pr.start;
	run.cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	for (size_t i = 0; i < BW_ARRAY_SIZE(out.events); i++)
		run.events += out.events[i];
	run.output = &out;
	run.bindings = env.bindings;
	run.max_memory = max_memory_mb << 20;
	run.peak_rss = (uint64_t)ru.ru_maxrss * 1024;
	if (bw_stats_json(&sj, &st, &an, &run) == BW_OK) {
		struct bw_event ev = { .type = BW_EV_STATS, .ts = st.last_ts, .json = sj.buf, .json_len = sj.len };
		bw_output_emit(&out, &ev);
	} else {
		fprintf(stderr, "bindwatch: out of memory: the stats event was not written\n");
		status = EXIT_INTERNAL;
	}
	if (!quiet)
		bw_stats_human(stderr, &st, &an, &run);
	if (run.files_failed)
		status = EXIT_INPUT;

out:
	bw_worker_free(w);
	if (detect_trace)
		fclose(detect_trace);
	bw_certfetch_stop(fetcher);
	bw_x509_trust_free(trust);
	if (bindings_thread) {
		bw_bindings_thread_offline();
	}
	bw_bindings_free(env.bindings);
	if (bindings_thread)
		bw_bindings_thread_unregister();
	bw_alerts_free(env.alerts);
	bw_policyctl_deinit(&pctl);
	if (out.n && bw_output_close_ex(&out, quiet ? NULL : stderr, err, sizeof(err)) != BW_OK) {
		fprintf(stderr, "bindwatch: %s\n", err);
		status = EXIT_OUTPUT;
	}
	bw_json_deinit(&sj);
	input_free(&inputs);
	return status;
}
