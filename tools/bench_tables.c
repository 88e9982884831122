/* SPDX-License-Identifier: MIT */
/*
 * bench_tables.c: micro-benchmark of the binding tables (make bench).
 * Measures bw_bind_name_addr inserts per second with 1 and 2 threads,
 * bw_lookup_name_addrs per second with 1 and 2 reader threads, alone and
 * while one writer keeps binding (updates, new names, evictions), for
 * uniformly random names (every lookup a cache miss: the worst case) and
 * Zipf-distributed ones (s = 1, how real DNS names are queried), with a
 * share of names that were never bound (a TLS SNI or a name DNS never
 * answered: the lookup must walk to the end of its chain), and the
 * table's own byte accounting per entry. Rates are per CPU-second of each
 * thread, so a busy machine does not halve them (wall-clock rates are given
 * alongside). Names are generated from their index on the fly, so the
 * benchmark's own memory does not add cache misses. Each lookup figure is
 * the median of several rounds, every figure taken in turn each round (the
 * host is shared and its speed moves within seconds); the lookups without a
 * writer read a table nothing writes after its fill. One line per figure,
 * "tables: ...", then the performance targets (judged on the medians) and
 * whether they were met.
 * --quick runs a small table for a short time (a smoke test).
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../sensor/bindings.h"

#define NAME_BUF 64
#define ZIPF_SAMPLES (1u << 20)

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Name i, shaped like real ones ("api.h1a2b3.example.co.uk"), 20-33 bytes. Returns its length. */
static size_t name_of(uint64_t i, char *o)
{
	static const char *const sub[8] = { "www.", "api.", "cdn.", "mail.", "static.", "login.", "edge-1.", "m." };
	static const char *const tld[4] = { ".example.com", ".example.net", ".example.co.uk", ".test.io" };
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(sub[i & 7]);
	memcpy(o, sub[i & 7], n);
	o[n++] = 'h';
	int d = 0;
	while (d < 15 && (i >> (4 * (d + 1)))) /* leading hex digits of i */
		d++;
	for (; d >= 0; d--)
		o[n++] = hex[(i >> (4 * d)) & 15];
	size_t t = strlen(tld[(i >> 3) & 3]);
	memcpy(o + n, tld[(i >> 3) & 3], t);
	return n + t;
}

static struct bw_ip addr_of(uint64_t i)
{
	struct bw_ip a;
	memset(&a, 0, sizeof(a));
	a.family = 4;
	a.a[0] = (uint8_t)(10 + ((i >> 24) & 63));
	a.a[1] = (uint8_t)(i >> 16);
	a.a[2] = (uint8_t)(i >> 8);
	a.a[3] = (uint8_t)i;
	return a;
}

struct worker {
	struct bw_bindings *b;
	size_t lo, hi;        /* inserter: names [lo, hi) */
	size_t pool;          /* writer: names [0, pool) */
	size_t hot;           /* reader: names [0, hot) */
	const uint32_t *zipf; /* reader: ranks to look up, or NULL for uniform */
	uint32_t absent_pct;  /* reader: share of lookups for names never bound */
	int *stop;
	uint64_t seed;
	uint64_t ops, hits;
	double cpu;
};

static void *inserter(void *arg)
{
	struct worker *w = arg;
	char name[NAME_BUF];
	bw_bindings_thread_register();
	double c0 = cpu_s();
	for (size_t i = w->lo; i < w->hi; i++) {
		struct bw_ip a = addr_of(i);
		size_t n = name_of(i, name);
		if (bw_bind_name_addr(w->b, name, n, &a, 300, (bw_time_t)i + 1) < 0) {
			fprintf(stderr, "bench_tables: bind failed\n");
			exit(4);
		}
		if ((++w->ops & 63) == 0)
			bw_bindings_quiescent();
	}
	w->cpu = cpu_s() - c0;
	bw_bindings_thread_unregister();
	return NULL;
}

/* Binds until stopped, names from a pool larger than the table: updates, new names, evictions. */
static void *writer(void *arg)
{
	struct worker *w = arg;
	char name[NAME_BUF];
	uint64_t x = w->seed;
	bw_bindings_thread_register();
	double c0 = cpu_s();
	while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED)) {
		for (int k = 0; k < 64; k++) {
			uint64_t i = xs(&x) % w->pool;
			struct bw_ip a = addr_of(i + (w->ops & 1)); /* two addresses per name, alternating */
			size_t n = name_of(i, name);
			(void)bw_bind_name_addr(w->b, name, n, &a, 300, (bw_time_t)(w->pool + w->ops) + 1);
			w->ops++;
		}
		bw_bindings_quiescent();
	}
	w->cpu = cpu_s() - c0;
	bw_bindings_thread_unregister();
	return NULL;
}

static void *reader(void *arg)
{
	struct worker *r = arg;
	char name[NAME_BUF];
	struct bw_name_addr out[16];
	uint64_t x = r->seed;
	uint32_t zi = (uint32_t)r->seed;
	bw_bindings_thread_register();
	double c0 = cpu_s();
	while (!__atomic_load_n(r->stop, __ATOMIC_RELAXED)) {
		for (int k = 0; k < 256; k++) {
			uint64_t i = r->zipf ? r->zipf[zi++ & (ZIPF_SAMPLES - 1)] : xs(&x) % r->hot;
			/* Names from 4x the table size on were never bound (the writer's pool is 1.5x). */
			if (r->absent_pct && xs(&x) % 100 < r->absent_pct)
				i += 4 * (uint64_t)r->hot;
			size_t n = name_of(i, name);
			r->hits += bw_lookup_name_addrs(r->b, name, n, 1, out, 16) > 0;
		}
		r->ops += 256;
		bw_bindings_quiescent();
	}
	r->cpu = cpu_s() - c0;
	bw_bindings_thread_unregister();
	return NULL;
}

static struct bw_bindings *mk(size_t entries)
{
	struct bw_bindings_config c;
	bw_bindings_config_default(&c);
	for (int i = 0; i < BW_BT_COUNT; i++)
		c.entries[i] = 1024;
	c.entries[BW_BT_NAME_ADDR] = entries;
	c.entries[BW_BT_ADDR_NAMES] = entries;
	c.seed[0] = 0x0123456789abcdefULL;
	c.seed[1] = 0xfedcba9876543210ULL;
	return bw_bindings_new(&c);
}

/* Fill a new table with names [0, n) using nthreads. Rate per thread-CPU-second; *wall: total per second. */
static double run_inserts(size_t n, int nthreads, struct bw_bindings **keep, double *wall)
{
	struct bw_bindings *b = mk(n);
	if (!b)
		return -1;
	struct worker w[2];
	pthread_t th[2];
	double t0 = wall_s();
	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .b = b, .lo = n * (size_t)i / (size_t)nthreads,
					.hi = n * (size_t)(i + 1) / (size_t)nthreads };
		pthread_create(&th[i], NULL, inserter, &w[i]);
	}
	double cpu = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		cpu += w[i].cpu;
	}
	*wall = (double)n / (wall_s() - t0);
	if (keep)
		*keep = b;
	else
		bw_bindings_free(b);
	return (double)n / cpu;
}

struct lookups {
	double per_cpu, per_wall, writer_cpu, hit_rate;
};

static struct lookups run_lookups(struct bw_bindings *b, size_t entries, int readers, bool with_writer,
				  const uint32_t *zipf, uint32_t absent_pct, double secs)
{
	int stop = 0;
	struct worker r[2], w;
	pthread_t rt[2], wt;
	for (int i = 0; i < readers; i++) {
		r[i] = (struct worker){ .b = b, .hot = entries, .zipf = zipf, .absent_pct = absent_pct, .stop = &stop,
					.seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1) };
		pthread_create(&rt[i], NULL, reader, &r[i]);
	}
	if (with_writer) {
		w = (struct worker){ .b = b, .pool = entries + entries / 2, .stop = &stop, .seed = 7654321u };
		pthread_create(&wt, NULL, writer, &w);
	}
	double t0 = wall_s();
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	nanosleep(&ts, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < readers; i++)
		pthread_join(rt[i], NULL);
	if (with_writer)
		pthread_join(wt, NULL);
	double dt = wall_s() - t0;
	struct lookups res = { 0, 0, 0, 0 };
	uint64_t ops = 0, hits = 0;
	for (int i = 0; i < readers; i++) {
		res.per_cpu += (double)r[i].ops / r[i].cpu / readers;
		ops += r[i].ops;
		hits += r[i].hits;
	}
	res.per_wall = (double)ops / dt / readers;
	res.writer_cpu = with_writer ? (double)w.ops / w.cpu : 0;
	res.hit_rate = ops ? (double)hits / (double)ops : 0;
	return res;
}

/* Ranks with P(rank <= r) = log r / log n (Zipf, s = 1), scattered over [0, n). */
static uint32_t *zipf_make(size_t n)
{
	uint32_t *z = malloc(sizeof(*z) * ZIPF_SAMPLES);
	if (!z)
		return NULL;
	uint64_t x = 0x2545F4914F6CDD1DULL;
	for (uint32_t i = 0; i < ZIPF_SAMPLES; i++) {
		double u = (double)(xs(&x) >> 11) / 9007199254740992.0;
		uint64_t rank = (uint64_t)exp(u * log((double)n));
		z[i] = (uint32_t)((rank * 2654435761u) % n);
	}
	return z;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_tables [--quick] [--entries N] [--seconds S] [--absent PCT] [--rounds R]\n"
		"  Fills a name_addr table of N entries (default 262144), then measures lookups per\n"
		"  CPU-second of each reader thread for S seconds per figure (default 0.5): 1 and 2\n"
		"  readers, alone and beside a writer that binds names from a pool 1.5x the table\n"
		"  (updates, new names, evictions), for uniform and Zipf (s = 1) names, and with\n"
		"  PCT %% (default 25) of the lookups for names never bound. Every figure is measured\n"
		"  R times (default 5), all figures in turn each round, and reported as the median\n"
		"  with the range. --quick: a smoke test.\n");
	exit(2);
}

#define MAX_ROUNDS 15

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median (the lower middle one for an even count), min and max of v[0..n); v is sorted. */
struct spread {
	double med, lo, hi;
};

static struct spread spread_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return (struct spread){ v[(n - 1) / 2], v[0], v[n - 1] };
}

/*
 * One figure over its rounds. This host is shared: the same binary's Zipf
 * figure moved from 4.0 to 6.9 M/s between single runs of 1.5 s (bench/NOTES.md,
 * "Seventh round"), so each figure is the median of rounds taken in turn with
 * all the others, as the throughput bench takes its medians.
 */
struct figure {
	double per_cpu[MAX_ROUNDS], per_wall[MAX_ROUNDS], writer_cpu[MAX_ROUNDS], hit_rate[MAX_ROUNDS];
	int n;
	struct spread cpu, wall, writer, hits;
};

static void figure_add(struct figure *f, const struct lookups *l)
{
	f->per_cpu[f->n] = l->per_cpu;
	f->per_wall[f->n] = l->per_wall;
	f->writer_cpu[f->n] = l->writer_cpu;
	f->hit_rate[f->n] = l->hit_rate;
	f->n++;
}

static void figure_end(struct figure *f)
{
	f->cpu = spread_of(f->per_cpu, f->n);
	f->wall = spread_of(f->per_wall, f->n);
	f->writer = spread_of(f->writer_cpu, f->n);
	f->hits = spread_of(f->hit_rate, f->n);
}

static void line_lookups(const char *what, const char *dist, const struct figure *f, int readers)
{
	printf("tables: name_addr lookups %s (%s): %.2f M/s%s (median of %d, %.2f..%.2f; wall %.2f M/s, hits "
	       "%.0f%%)\n",
	       what, dist, f->cpu.med / 1e6, readers > 1 ? " per thread" : "", f->n, f->cpu.lo / 1e6, f->cpu.hi / 1e6,
	       f->wall.med / 1e6, f->hits.med * 100);
}

int main(int argc, char **argv)
{
	size_t entries = 262144; /* the default name_addr capacity */
	double secs = 0.5;
	uint32_t absent = 25;
	int rounds = 5;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			entries = 50000;
			secs = 0.2;
			rounds = 1;
		} else if (!strcmp(argv[i], "--entries") && i + 1 < argc) {
			entries = (size_t)strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			secs = strtod(argv[++i], NULL);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--absent") && i + 1 < argc) {
			absent = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else {
			usage();
		}
	}
	if (entries < 1024 || entries > BW_TABLE_MAX_CAPACITY / 8 || secs <= 0 || secs > 600 || absent > 100 ||
	    rounds < 1 || rounds > MAX_ROUNDS)
		usage();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double load = 0;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &load) != 1)
			load = 0;
		fclose(f);
	}
	uint32_t *zipf = zipf_make(entries);
	if (!zipf)
		return 4;
	uint64_t name_bytes = 0;
	char name[NAME_BUF];
	for (size_t i = 0; i < entries; i++)
		name_bytes += name_of(i, name);
	double avg_name = (double)name_bytes / (double)entries;
	printf("tables: setup: %ld cpus (load %.1f), name_addr capacity %zu, names %.1f bytes avg, rcu qsbr, "
	       "rates per cpu-second of each thread\n",
	       cpus, load, entries, avg_name);

	double w1, w2;
	double ins1 = run_inserts(entries, 1, NULL, &w1);
	/* Two filled tables: the reader-only figures look up b, which nothing writes after
	 * its fill, in every round; the figures with a writer churn bw. */
	struct bw_bindings *b = NULL, *bw = NULL;
	double ins2 = run_inserts(entries, 2, &bw, &w2);
	double wk;
	if (ins1 < 0 || ins2 < 0 || !bw || run_inserts(entries, 1, &b, &wk) < 0 || !b) {
		fprintf(stderr, "bench_tables: out of memory\n");
		return 4;
	}
	printf("tables: name_addr inserts 1 thread: %.2f M/s (wall %.2f M/s)\n", ins1 / 1e6, w1 / 1e6);
	printf("tables: name_addr inserts 2 threads: %.2f M/s per thread (wall %.2f M/s total)\n", ins2 / 1e6,
	       w2 / 1e6);

	bw_bindings_thread_register();
	struct bw_bindings_stats st;
	bw_bindings_stats(b, &st);
	const struct bw_table_stats *na = &st.t[BW_BT_NAME_ADDR], *an = &st.t[BW_BT_ADDR_NAMES];
	double bpe = (double)na->bytes / (double)na->entries;
	printf("tables: name_addr bytes per entry: %.1f (%" PRIu64 " entries, 1 IPv4 address each)\n", bpe,
	       na->entries);
	printf("tables: name_addr bytes per entry beyond the name text: %.1f\n", bpe - avg_name);
	printf("tables: addr_names bytes per entry: %.1f (1 name each)\n", (double)an->bytes / (double)an->entries);
	bw_bindings_thread_offline(); /* main only waits from here on */

	char dist_u[64], dist_z[64];
	snprintf(dist_u, sizeof(dist_u), "uniform, %u%% never bound", absent);
	snprintf(dist_z, sizeof(dist_z), "zipf, %u%% never bound", absent);
	/* The figures, in the order they run each round and are printed. */
	const struct {
		const char *what, *dist;
		int readers;
		bool writer, zipf;
		size_t hot;
		uint32_t absent;
		bool target; /* judged against the 5 M/s target */
	} spec[] = {
		{ "1 thread", "uniform", 1, false, false, entries, 0 },
		{ "1 thread", "zipf", 1, false, true, entries, 0 },
		{ "2 threads", "uniform", 2, false, false, entries, 0 },
		{ "2 threads", "zipf", 2, false, true, entries, 0 },
		{ "1 thread + 1 writer", "uniform", 1, true, false, entries, 0 },
		{ "2 threads + 1 writer", "uniform", 2, true, false, entries, 0, true },
		{ "2 threads + 1 writer", "zipf", 2, true, true, entries, 0, true },
		{ "2 threads + 1 writer", "4096 hot names", 2, true, false, 4096, 0 },
		{ "2 threads + 1 writer", dist_u, 2, true, false, entries, absent, true },
		{ "2 threads + 1 writer", dist_z, 2, true, true, entries, absent, true },
	};
	enum { NFIG = BW_ARRAY_SIZE(spec) };
	static struct figure fig[NFIG];
	for (int r = 0; r < rounds; r++) {
		for (size_t k = 0; k < NFIG; k++) {
			struct lookups l = run_lookups(spec[k].writer ? bw : b, spec[k].hot, spec[k].readers,
						       spec[k].writer, spec[k].zipf ? zipf : NULL, spec[k].absent, secs);
			figure_add(&fig[k], &l);
		}
	}
	for (size_t k = 0; k < NFIG; k++) {
		figure_end(&fig[k]);
		line_lookups(spec[k].what, spec[k].dist, &fig[k], spec[k].readers);
	}
	size_t wf = 0; /* the writer's rate beside 2 readers of uniform names, the first such figure */
	while (wf + 1 < NFIG && !(spec[wf].writer && spec[wf].readers == 2))
		wf++;
	printf("tables: name_addr writer binds during 2-thread lookups: %.2f M/s (median of %d)\n",
	       fig[wf].writer.med / 1e6, fig[wf].n);

	bw_bindings_thread_online();
	bw_bindings_stats(bw, &st);
	printf("tables: name_addr after the runs: %" PRIu64 " entries, %" PRIu64 " evictions, %" PRIu64 " grows\n",
	       st.t[BW_BT_NAME_ADDR].entries, st.t[BW_BT_NAME_ADDR].evictions, st.t[BW_BT_NAME_ADDR].grows);
	printf("tables: target >= 5 M lookups/s per thread, 2 threads + inserts (medians):");
	const char *sep = " ";
	for (size_t k = 0; k < NFIG; k++) {
		if (!spec[k].target)
			continue;
		printf("%s%s (%s)", sep, fig[k].cpu.med >= 5e6 ? "met" : "NOT met", spec[k].dist);
		sep = ", ";
	}
	printf("\n");
	printf("tables: target <= 256 bytes per name binding beyond the name text: %s\n",
	       bpe - avg_name <= 256 ? "met" : "NOT met");
	bw_bindings_free(b);
	bw_bindings_free(bw);
	bw_bindings_thread_unregister();
	free(zipf);
	return 0;
}
