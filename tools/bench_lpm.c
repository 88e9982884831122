/* SPDX-License-Identifier: MIT */
/*
 * bench_lpm.c: micro-benchmark of the longest-prefix match (sensor/iplpm.c)
 * on the shipped cloud ranges.
 *
 * Reads the prefix column of data/cloud-ranges.tsv (or argv[1]), builds the
 * table, and times 10 million lookups of pre-generated addresses: half
 * IPv4 and half IPv6, half of each inside a listed prefix (the answers a
 * sensor sees for cloud-hosted names) and half uniformly random. A checksum
 * of the results is printed so the loop cannot be optimised away. Then the
 * full refdata loader is timed on the same file.
 *
 *   gcc -O2 -I. tools/bench_lpm.c sensor/iplpm.c sensor/refdata.c sensor/bw.c -o build/bench_lpm
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../sensor/iplpm.h"
#include "../sensor/refdata.h"

#define NADDR (1u << 20)
#define NLOOKUP 10000000u

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct pfx {
	struct bw_ip ip;
	unsigned plen;
};

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "data/cloud-ranges.tsv";
	FILE *fp = fopen(path, "r");
	if (!fp) {
		perror(path);
		return 1;
	}
	struct bw_lpm_builder *b;
	if (bw_lpm_builder_new(&b, 0))
		return 1;
	struct pfx *pf = NULL;
	size_t npf = 0, cap = 0, lineno = 0;
	char line[65536];
	while (fgets(line, sizeof(line), fp)) {
		if (lineno++ == 0)
			continue; /* header */
		char *tab = strchr(line, '\t'), *slash = strchr(line, '/');
		if (!tab || !slash || slash > tab)
			continue;
		*slash = '\0';
		struct pfx p = { .plen = (unsigned)atoi(slash + 1) };
		p.ip.family = strchr(line, ':') ? 6 : 4;
		if (inet_pton(p.ip.family == 4 ? AF_INET : AF_INET6, line, p.ip.a) != 1)
			continue;
		int rc = bw_lpm_add(b, p.ip.family, p.ip.a, p.plen, (uint32_t)lineno);
		if (rc) {
			fprintf(stderr, "%s:%zu: %s\n", path, lineno, bw_strerror(rc));
			return 1;
		}
		if (npf == cap) {
			cap = cap ? cap * 2 : 4096;
			pf = realloc(pf, cap * sizeof(*pf));
			if (!pf)
				return 1;
		}
		pf[npf++] = p;
	}
	fclose(fp);
	if (!npf) {
		fprintf(stderr, "%s: no prefixes\n", path);
		return 1;
	}

	/* rows repeat prefixes (AWS AMAZON + EC2 ...): keep one value per prefix */
	struct bw_lpm_builder *b2;
	if (bw_lpm_builder_new(&b2, 0))
		return 1;
	struct bw_lpm *t;
	size_t dup;
	for (size_t i = 0; i < npf; i++)
		bw_lpm_add(b2, pf[i].ip.family, pf[i].ip.a, pf[i].plen, 1);
	bw_lpm_builder_free(b);
	double t0 = now();
	if (bw_lpm_build(b2, &t, &dup)) {
		fprintf(stderr, "build failed\n");
		return 1;
	}
	double build_ms = (now() - t0) * 1e3;
	bw_lpm_builder_free(b2);

	struct bw_ip *addr = malloc(NADDR * sizeof(*addr));
	if (!addr)
		return 1;
	for (size_t i = 0; i < NADDR; i++) {
		struct bw_ip *a = &addr[i];
		bool v6 = i & 1, inside = i & 2;
		if (inside) {
			/* a random address inside a random prefix of that family */
			const struct pfx *p;
			do
				p = &pf[rnd() % npf];
			while ((p->ip.family == 6) != v6);
			*a = p->ip;
			unsigned bytes = v6 ? 16 : 4;
			for (unsigned bit = p->plen; bit < bytes * 8; bit++)
				if (rnd() & 1)
					a->a[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		} else {
			memset(a, 0, sizeof(*a));
			a->family = v6 ? 6 : 4;
			for (unsigned k = 0; k < (v6 ? 16u : 4u); k++)
				a->a[k] = (uint8_t)rnd();
		}
	}

	uint64_t sum = 0;
	t0 = now();
	for (uint32_t i = 0; i < NLOOKUP; i++)
		sum += bw_lpm_lookup(t, &addr[i & (NADDR - 1)], NULL);
	double dt = now() - t0;
	printf("lpm: %zu prefixes, %.1f Mlookups/s, %zu bytes\n", bw_lpm_prefixes(t, 0), NLOOKUP / dt / 1e6,
	       bw_lpm_memory(t));
	printf("lpm: %zu IPv4 + %zu IPv6 prefixes, %zu ranges, build %.1f ms, checksum %llu\n",
	       bw_lpm_prefixes(t, 4), bw_lpm_prefixes(t, 6), bw_lpm_ranges(t, 0), build_ms,
	       (unsigned long long)sum);

	char err[512];
	struct bw_cloud_db *db;
	t0 = now();
	int rc = bw_cloud_load(path, &db, err, sizeof(err));
	double load_ms = (now() - t0) * 1e3;
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	size_t hits = 0;
	t0 = now();
	for (uint32_t i = 0; i < NLOOKUP; i++)
		hits += bw_cloud_lookup(db, &addr[i & (NADDR - 1)]) != NULL;
	dt = now() - t0;
	printf("cloud: %zu rows, load %.1f ms, %zu bytes, %.1f Mlookups/s (%zu hits)\n", bw_cloud_count(db),
	       load_ms, bw_cloud_memory(db), NLOOKUP / dt / 1e6, hits);
	bw_cloud_free(db);
	bw_lpm_free(t);
	free(addr);
	free(pf);
	return 0;
}
