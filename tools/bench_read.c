/* SPDX-License-Identifier: MIT */
/*
 * bench_read.c: the benchmark's baseline, a bare libpcap read loop that
 * only counts packets and bytes (pcap_open_offline + pcap_next_ex). It is
 * what "reading the capture at all" costs through libpcap, so every other
 * tool in bench/results.md is reported as a ratio to it, measured in the
 * same run. Prints "packets bytes seconds" on stdout.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: bench_read CAPTURE\n");
		return 2;
	}
	char err[PCAP_ERRBUF_SIZE];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pcap_t *p = pcap_open_offline(argv[1], err);
	if (!p) {
		fprintf(stderr, "bench_read: %s\n", err);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t packets = 0, bytes = 0;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		packets++;
		bytes += h->len;
	}
	if (rc == PCAP_ERROR)
		fprintf(stderr, "bench_read: %s\n", pcap_geterr(p));
	pcap_close(p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%llu %llu %.6f\n", (unsigned long long)packets, (unsigned long long)bytes, s);
	return rc == PCAP_ERROR ? 1 : 0;
}
