/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pipeline.c: the whole offline path on one hostile capture file. The
 * input is a pcap or pcapng file; it is written to a memfd and read by the
 * real reader (opened as /proc/self/fd/N), every frame goes through one
 * worker (decode, fragments, TCP, DNS, TLS, DTLS, QUIC, certificates) with
 * a policy that owns every name and address, so the detectors, the binding
 * tables and the alerts all run; at the end the held-back alerts are
 * flushed and the stats event is written, as the sensor does.
 *
 * This is the single-worker loop of sensor/main.c (the default offline
 * mode), rebuilt from library calls because main.c keeps it to itself. The
 * threaded bw_pipeline is not used: two threads per input would cost more
 * than the parsing and make runs depend on scheduling. Events go through
 * the worker's emit hook rather than a sink, and each must be one valid
 * JSON object without a raw newline. Everything that keeps state (worker,
 * binding tables, alert suppression) is made per input, so a finding
 * replays alone; the policy, the reference data and the trust store are
 * loaded once.
 *
 * Paths (the repository root is the working directory, as in make fuzz and
 * make test): data/ for the reference tables, tools/pcapgen/certs/root.pem
 * as a private CA (the test captures chain to it); both optional.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../sensor/bindings.h"
#include "../../sensor/capture.h"
#include "fuzz_memfd.h"
#include "../../sensor/jsonread.h"
#include "../../sensor/json.h"
#include "../../sensor/policy.h"
#include "../../sensor/policyctl.h"
#include "../../sensor/stats.h"
#include "../../sensor/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_FRAMES 20000
#define CHECK(x)                          \
	do {                              \
		if (!(x))                 \
			__builtin_trap(); \
	} while (0)

/* Own everything the captures name, so every detector has work. */
static const char policy_text[] = "owned:\n"
				  "  domains: [com, net, org, io, arpa, local, test, example, invalid, localhost,\n"
				  "            de, uk, ru, cn, fr, nl, jp, info, me, co, edu, gov]\n"
				  "  networks: [0.0.0.0/0, \"::/0\"]\n"
				  "  cloud_resources: [assets-example.s3.amazonaws.com, 198.51.100.7]\n"
				  "certificates:\n"
				  "  expiry_warning_days: 30\n"
				  "  allowed_issuers: [letsencrypt.org]\n"
				  "  pins:\n"
				  "    - names: [alt.example.org]\n"
				  "      spki_sha256: [\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"]\n"
				  "dns:\n"
				  "  allowed_transfer_clients: [192.0.2.53]\n"
				  "alerts:\n"
				  "  suppress_seconds: 0\n";

static struct bw_policy_set set;
static struct bw_x509_trust *trust;
static struct bw_json sj;
static uint64_t n_events;
static bool verbose; /* FUZZ_PIPELINE_VERBOSE=1: a line per input (to see the detectors are on) */

static void on_event(void *ctx, const struct bw_event *ev)
{
	(void)ctx;
	CHECK(ev->json && ev->json_len >= 2 && ev->json[0] == '{' && ev->json[ev->json_len - 1] == '}');
	CHECK(memchr(ev->json, '\n', ev->json_len) == NULL);
	CHECK(bw_jsonread_validate(ev->json, ev->json_len) == BW_OK);
	n_events++;
}

struct alert_out {
	struct bw_json *j;
};

static void alert_out_emit(void *ctx, enum bw_event_type t, bw_time_t ts)
{
	struct alert_out *ao = ctx;
	struct bw_event ev = {.type = t, .ts = ts, .json = ao->j->buf, .json_len = ao->j->len};
	if (bw_json_ok(ao->j))
		on_event(NULL, &ev);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char err[512];
	struct bw_policyctl pc = {.data_dir = "data"};
	struct bw_policy *p = NULL;
	/* bw_policyctl_build takes a path: build without one (CAA table only), then add the policy. */
	if (bw_policyctl_build(&pc, &set, err, sizeof(err)) != BW_OK)
		memset(&set, 0, sizeof(set)); /* no data/: the detectors run without reference tables */
	if (bw_policy_load_buffer("fuzz-policy.yaml", policy_text, sizeof(policy_text) - 1, ".", &p, err,
				  sizeof(err)) != BW_OK) {
		fprintf(stderr, "fuzz_pipeline: %s\n", err);
		abort();
	}
	set.policy = p;
	const char *ca[1] = {"tools/pcapgen/certs/root.pem"};
	trust = bw_x509_trust_new(ca, access(ca[0], R_OK) == 0 ? 1 : 0, err, sizeof(err));
	if (!trust || bw_json_init(&sj, 1u << 20) != BW_OK) {
		fprintf(stderr, "fuzz_pipeline: %s\n", trust ? "out of memory" : err);
		abort();
	}
	bw_bindings_thread_register();
	verbose = getenv("FUZZ_PIPELINE_VERBOSE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], path[64];
	struct bw_detect_env env = {0};
	struct bw_output out = {0};
	struct bw_worker *w = NULL;
	struct bw_capture_file *f = NULL;
	struct bw_worker_config cfg;
	int fd = -1;

	n_events = 0;
	bw_policy_set_apply(&set, &env);
	struct bw_alerts_config acfg = {.suppress = 1, .max_keys = 1024, .max_per_type_per_min = 1000};
	env.alerts = bw_alerts_new(&acfg);
	/* Small tables: a default-sized set costs 0.3 s to tear down per input, and small ones evict. */
	struct bw_bindings_config bc;
	bw_bindings_config_budget(&bc, 1u << 20);
	env.bindings = bw_bindings_new(&bc);
	CHECK(env.alerts && env.bindings);
	bw_worker_config_default(&cfg);
	cfg.detect = &env;
	cfg.trust = trust;
	cfg.emit = on_event;
	bw_worker_dns_port_set(&cfg, 5300, true);
	/* Caps a thousand times smaller than the defaults: preallocated pools
	 * are set up per input, and small caps put the eviction paths in reach. */
	cfg.decode.frag_mem_cap = 256u << 10;
	cfg.decode.frag_max_datagrams = 64;
	cfg.decode.dedup_slots = 1024;
	cfg.tcp.max_flows = 1024;
	cfg.tcp.mem_cap = 4u << 20;
	cfg.cert_cache_entries = 64;
	cfg.udp_max_sessions = 256;
	w = bw_worker_new(&cfg, &out);
	CHECK(w != NULL);

	fd = fuzz_memfd("fuzz_pipeline", data, size);
	CHECK(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int rc = bw_capture_file_open(path, BW_READER_AUTO, bw_worker_anomalies(w), &f, err, sizeof(err));
	close(fd);
	if (rc != BW_OK) {
		CHECK(f == NULL && err[0] != '\0');
		goto out;
	}
	bw_worker_input_start(w);
	struct bw_frame fr;
	uint64_t n = 0;
	while (n < MAX_FRAMES && (rc = bw_capture_file_next(f, &fr)) == BW_OK) {
		bw_worker_frame(w, &fr, "fuzz.pcap");
		if ((++n & 4095) == 0)
			bw_bindings_quiescent();
	}
	CHECK(n == MAX_FRAMES || rc == BW_EEOF || bw_capture_file_error(f)[0] != '\0');
	bw_capture_file_close(f);
	bw_worker_finish(w);

	struct alert_out ao = {&sj};
	bw_alerts_flush(env.alerts, &sj, alert_out_emit, &ao);
	struct bw_run_info run = {.files_ok = 1, .have_alerts = true, .events = n_events};
	bw_alerts_stats(env.alerts, &run.alerts);
	CHECK(run.alerts.emitted <= run.alerts.raised);
	struct bw_worker_stats st;
	struct bw_anomalies an;
	bw_worker_stats(w, &st, &an);
	CHECK(st.frames == n);
	CHECK(bw_stats_json(&sj, &st, &an, &run) == BW_OK);
	struct bw_event ev = {.type = BW_EV_STATS, .ts = st.last_ts, .json = sj.buf, .json_len = sj.len};
	on_event(NULL, &ev);
	if (verbose)
		fprintf(stderr, "fuzz_pipeline: %llu frames, %llu events, %llu alerts raised, %llu written\n",
			(unsigned long long)n, (unsigned long long)n_events, (unsigned long long)run.alerts.raised,
			(unsigned long long)run.alerts.emitted);
out:
	bw_worker_free(w);
	bw_bindings_thread_offline(); /* as main.c: the tables are freed from an offline thread */
	bw_bindings_free(env.bindings);
	bw_bindings_thread_online();
	bw_alerts_free(env.alerts);
	return 0;
}
