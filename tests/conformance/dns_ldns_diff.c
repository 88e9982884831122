/* SPDX-License-Identifier: MIT */
/*
 * dns_ldns_diff.c: differential check of bw_dns_parse against ldns. Reads
 * DNS messages as hex, one per line ("hex" or "label<TAB>hex"; blank lines
 * and '#' comments skipped) from a file argument or stdin, parses each with
 * both, and where both accept compares the record sets field by field:
 * question and section counts, then per record the owner (lower-cased,
 * uncompressed wire), type, class, TTL and rdata (bw_dns_rdata_uncompressed
 * against the concatenated ldns rdfs, whose names ldns stores expanded).
 * ldns lifts OPT and TSIG out of the additional section, so those are
 * compared with ldns_pkt_edns_* and ldns_pkt_tsig instead. One line per
 * mismatch, one per message only one side accepts (with the reason), then
 * a summary; exit status 1 if any message disagrees.
 *
 * Build: gcc -std=gnu11 -I. tests/conformance/dns_ldns_diff.c parsers/dns*.c
 *        sensor/bw.c -lldns -o dns_ldns_diff
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "../../parsers/dns.h"

static struct bw_dns_msg g_msg;

#include "../fuzz/dns_ldns_compare.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode hex into out; returns length or -1. */
static long unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (*s && isspace((unsigned char)*s))
		s++;
	while (*s && !isspace((unsigned char)*s)) {
		if (*s == ':' || *s == ',') { /* tolerate "aa:bb" */
			s++;
			continue;
		}
		int a = hexval((unsigned char)s[0]), b = a < 0 ? -1 : hexval((unsigned char)s[1]);
		if (a < 0 || b < 0 || n >= cap)
			return -1;
		out[n++] = (uint8_t)(a << 4 | b);
		s += 2;
	}
	return (long)n;
}

static void our_reason(const struct bw_anomalies *an, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < BW_AN__COUNT; i++)
		if (an->n[i] && o < cap)
			o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "," : "", bw_anomaly_name(i));
}

int main(int argc, char **argv)
{
	FILE *in = stdin;
	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fprintf(stderr, "usage: %s [FILE]  (lines of hex or label<TAB>hex)\n", argv[0]);
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "-") != 0) {
		in = fopen(argv[1], "r");
		if (!in) {
			perror(argv[1]);
			return 2;
		}
	}

	static char line[300000];
	static uint8_t wire[65536 + 16];
	unsigned long lineno = 0, total = 0, both = 0, agree = 0, disagree = 0, only_bw = 0, only_ldns = 0;
	while (fgets(line, sizeof(line), in)) {
		lineno++;
		size_t ll = strlen(line);
		while (ll && (line[ll - 1] == '\n' || line[ll - 1] == '\r'))
			line[--ll] = '\0';
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		char labelbuf[256];
		const char *hex = line, *tab = strchr(line, '\t');
		if (tab) {
			snprintf(labelbuf, sizeof(labelbuf), "%.*s", (int)(tab - line), line);
			hex = tab + 1;
		} else {
			snprintf(labelbuf, sizeof(labelbuf), "line %lu", lineno);
		}
		long n = unhex(hex, wire, sizeof(wire));
		if (n < 0) {
			printf("%s: not hex, skipped\n", labelbuf);
			continue;
		}
		total++;

		struct bw_anomalies an;
		memset(&an, 0, sizeof(an));
		int r = bw_dns_parse(wire, (size_t)n, &g_msg, &an);
		ldns_pkt *pkt = NULL;
		ldns_status st = ldns_wire2pkt(&pkt, wire, (size_t)n);
		struct diff d = { .label = labelbuf };
		char why[256];

		if (r == BW_OK && st == LDNS_STATUS_OK) {
			both++;
			compare_msg(&d, &g_msg, pkt);
			if (d.mismatches)
				disagree++;
			else
				agree++;
		} else if (r == BW_OK) {
			only_bw++;
			our_reason(&an, why, sizeof(why));
			printf("%s: only bindwatch accepted (ldns: %s)%s%s\n", labelbuf, ldns_get_errorstr_by_id(st),
			       g_msg.n_bad ? "; bindwatch marked records bad: " : "", g_msg.n_bad ? why : "");
		} else if (st == LDNS_STATUS_OK) {
			only_ldns++;
			our_reason(&an, why, sizeof(why));
			printf("%s: only ldns accepted (bindwatch: %s, %s)\n", labelbuf, bw_strerror(r), why);
		}
		if (pkt)
			ldns_pkt_free(pkt);
	}
	if (in != stdin)
		fclose(in);
	printf("dns-ldns-diff: %lu messages, %lu both-accepted, %lu agree, %lu disagree, %lu only-bindwatch-accepted, "
	       "%lu only-ldns-accepted\n",
	       total, both, agree, disagree, only_bw, only_ldns);
	return disagree ? 1 : 0;
}
