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

struct diff {
	const char *label;
	unsigned mismatches;
};

static void mismatch(struct diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mismatch(struct diff *d, const char *fmt, ...)
{
	va_list ap;
	printf("%s: ", d->label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	d->mismatches++;
}

static void hex_short(char *out, size_t cap, const uint8_t *p, size_t n)
{
	size_t o = 0, max = (cap - 4) / 2;
	for (size_t i = 0; i < n && i < max; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", p[i]);
	if (n > max)
		snprintf(out + o, cap - o, "...");
	else
		out[o] = '\0';
}

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

static size_t ldns_owner_lower(const ldns_rr *rr, uint8_t *out, size_t cap)
{
	const ldns_rdf *o = ldns_rr_owner(rr);
	size_t n = o ? ldns_rdf_size(o) : 0;
	if (n > cap)
		n = cap;
	if (n)
		memcpy(out, ldns_rdf_data(o), n);
	for (size_t i = 0; i < n; i++) /* label length bytes are < 64, never letters */
		out[i] = (uint8_t)tolower(out[i]);
	return n;
}

static size_t ldns_rdata_concat(const ldns_rr *rr, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		size_t l = ldns_rdf_size(f);
		if (n + l > cap)
			return n;
		memcpy(out + n, ldns_rdf_data(f), l);
		n += l;
	}
	return n;
}

static const char *type_str(uint16_t t, char *buf, size_t cap)
{
	const char *s = bw_dns_type_name(t);
	if (s)
		return s;
	snprintf(buf, cap, "TYPE%u", t);
	return buf;
}

static void compare_rr(struct diff *d, const char *where, const struct bw_dns_msg *m,
		       const struct bw_dns_rr *ours, const ldns_rr *theirs)
{
	static uint8_t a[70000], b[70000];
	char ha[200], hb[200], tb[16];
	int an = bw_dns_name_wire(m, ours->name_off, true, a, sizeof(a));
	size_t bn = ldns_owner_lower(theirs, b, sizeof(b));
	if (an < 0 || (size_t)an != bn || memcmp(a, b, bn) != 0) {
		hex_short(ha, sizeof(ha), a, an < 0 ? 0 : (size_t)an);
		hex_short(hb, sizeof(hb), b, bn);
		mismatch(d, "%s: owner differs: bindwatch %s ldns %s", where, ha, hb);
		return;
	}
	const char *tn = type_str(ours->type, tb, sizeof(tb));
	if (ours->type != ldns_rr_get_type(theirs)) {
		mismatch(d, "%s: type differs: bindwatch %u ldns %u", where, ours->type, ldns_rr_get_type(theirs));
		return;
	}
	if (ours->class != ldns_rr_get_class(theirs))
		mismatch(d, "%s %s: class differs: bindwatch %u ldns %u", where, tn, ours->class,
			 ldns_rr_get_class(theirs));
	if (ours->ttl != ldns_rr_ttl(theirs))
		mismatch(d, "%s %s: ttl differs: bindwatch %u ldns %u", where, tn, ours->ttl, ldns_rr_ttl(theirs));
	an = bw_dns_rdata_uncompressed(m, ours, a, sizeof(a));
	bn = ldns_rdata_concat(theirs, b, sizeof(b));
	if (an < 0 || (size_t)an != bn || memcmp(a, b, bn) != 0) {
		hex_short(ha, sizeof(ha), a, an < 0 ? 0 : (size_t)an);
		hex_short(hb, sizeof(hb), b, bn);
		mismatch(d, "%s %s%s: rdata differs: bindwatch %s ldns %s", where, tn, ours->bad ? " (marked bad)" : "",
			 ha, hb);
	}
}

static void compare_question(struct diff *d, const struct bw_dns_msg *m, const ldns_pkt *pkt)
{
	static uint8_t a[300], b[300];
	const ldns_rr_list *q = ldns_pkt_question(pkt);
	size_t qn = ldns_rr_list_rr_count(q);
	if (qn != m->qdcount) {
		mismatch(d, "question count differs: bindwatch %u ldns %zu", m->qdcount, qn);
		return;
	}
	for (unsigned i = 0; i < m->n_qd; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(q, i);
		int an = bw_dns_name_wire(m, m->qd[i].name_off, true, a, sizeof(a));
		size_t bn = ldns_owner_lower(rr, b, sizeof(b));
		if (an < 0 || (size_t)an != bn || memcmp(a, b, bn) != 0)
			mismatch(d, "question %u: name differs", i);
		if (m->qd[i].type != ldns_rr_get_type(rr) || m->qd[i].class != ldns_rr_get_class(rr))
			mismatch(d, "question %u: type/class differ: bindwatch %u/%u ldns %u/%u", i, m->qd[i].type,
				 m->qd[i].class, ldns_rr_get_type(rr), ldns_rr_get_class(rr));
	}
}

static void compare_edns(struct diff *d, const struct bw_dns_msg *m, const ldns_pkt *pkt)
{
	/* ldns keeps the last OPT of the additional section; we use the first well-formed one. */
	const struct bw_dns_rr *opt = NULL;
	unsigned n_opt = 0;
	for (unsigned i = 0; i < m->n_rr; i++) {
		if (m->rr[i].section == BW_DNS_ADDITIONAL && m->rr[i].type == BW_DNS_T_OPT) {
			opt = &m->rr[i];
			n_opt++;
		}
	}
	if (n_opt > 1)
		mismatch(d, "%u OPT records: bindwatch uses %s, ldns the last", n_opt,
			 m->has_opt ? "the first" : "none");
	if (!opt)
		return;
	if (!m->has_opt) {
		uint8_t owner[256];
		bool root = bw_dns_name_wire(m, opt->name_off, false, owner, sizeof(owner)) == 1;
		bool opts = bw_dns_rdata_valid(m->wire, m->len, opt->type, opt->class, opt->rdata_off, opt->rdlen);
		mismatch(d, "OPT rejected by bindwatch (RFC 6891:%s%s), ldns took it", root ? "" : " owner not root",
			 opts ? "" : " options overrun rdlen");
		return;
	}
	if (n_opt > 1)
		return;
	if (m->edns_udp_size != ldns_pkt_edns_udp_size(pkt))
		mismatch(d, "EDNS udp size differs: bindwatch %u ldns %u", m->edns_udp_size,
			 ldns_pkt_edns_udp_size(pkt));
	if (m->edns_version != ldns_pkt_edns_version(pkt))
		mismatch(d, "EDNS version differs: bindwatch %u ldns %u", m->edns_version, ldns_pkt_edns_version(pkt));
	if (m->edns_do != ldns_pkt_edns_do(pkt))
		mismatch(d, "EDNS DO differs: bindwatch %d ldns %d", m->edns_do, ldns_pkt_edns_do(pkt));
	if (m->edns_flags != ldns_pkt_edns_z(pkt))
		mismatch(d, "EDNS flags differ: bindwatch %04x ldns %04x", m->edns_flags, ldns_pkt_edns_z(pkt));
	unsigned ext = (unsigned)(m->rcode >> 4);
	if (ext != ldns_pkt_edns_extended_rcode(pkt))
		mismatch(d, "EDNS extended rcode differs: bindwatch %u ldns %u", ext, ldns_pkt_edns_extended_rcode(pkt));
	const ldns_rdf *data = ldns_pkt_edns_data(pkt);
	size_t bn = data ? ldns_rdf_size(data) : 0;
	if (bn != opt->rdlen || (bn && memcmp(ldns_rdf_data(data), m->wire + opt->rdata_off, bn) != 0))
		mismatch(d, "EDNS options differ: bindwatch %u bytes ldns %zu bytes", opt->rdlen, bn);
}

static void compare_msg(struct diff *d, const struct bw_dns_msg *m, const ldns_pkt *pkt)
{
	char where[64];
	if (m->id != ldns_pkt_id(pkt) || m->qr != ldns_pkt_qr(pkt) || m->opcode != ldns_pkt_get_opcode(pkt) ||
	    m->aa != ldns_pkt_aa(pkt) || m->tc != ldns_pkt_tc(pkt) || m->rd != ldns_pkt_rd(pkt) ||
	    m->ra != ldns_pkt_ra(pkt) || m->ad != ldns_pkt_ad(pkt) || m->cd != ldns_pkt_cd(pkt) ||
	    (m->rcode & 0xf) != ldns_pkt_get_rcode(pkt))
		mismatch(d, "header differs");
	compare_question(d, m, pkt);

	const ldns_rr_list *lists[3] = { ldns_pkt_answer(pkt), ldns_pkt_authority(pkt), ldns_pkt_additional(pkt) };
	static const char *const names[3] = { "answer", "authority", "additional" };
	const struct bw_dns_rr *tsig = NULL;
	for (unsigned s = 0; s < 3; s++) {
		size_t ln = ldns_rr_list_rr_count(lists[s]), k = 0, ours = 0;
		for (unsigned i = 0; i < m->n_rr; i++) {
			const struct bw_dns_rr *rr = &m->rr[i];
			if (rr->section != s)
				continue;
			if (s == BW_DNS_ADDITIONAL && rr->type == BW_DNS_T_OPT)
				continue;
			if (s == BW_DNS_ADDITIONAL && rr->type == BW_DNS_T_TSIG) {
				tsig = rr;
				continue;
			}
			ours++;
			if (k < ln) {
				snprintf(where, sizeof(where), "%s %zu", names[s], k);
				compare_rr(d, where, m, rr, ldns_rr_list_rr(lists[s], k));
			}
			k++;
		}
		if (ours != ln)
			mismatch(d, "%s count differs: bindwatch %zu ldns %zu", names[s], ours, ln);
	}
	if (tsig && ldns_pkt_tsig(pkt))
		compare_rr(d, "tsig", m, tsig, ldns_pkt_tsig(pkt));
	else if (!tsig != !ldns_pkt_tsig(pkt))
		mismatch(d, "TSIG presence differs");
	compare_edns(d, m, pkt);
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
