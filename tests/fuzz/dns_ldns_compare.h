/* SPDX-License-Identifier: MIT */
/*
 * dns_ldns_compare.h: the record-by-record comparison of a message parsed by
 * bw_dns_parse with the same message parsed by ldns_wire2pkt. Shared by the
 * conformance checker (tests/conformance/dns_ldns_diff.c, over captures) and
 * the differential fuzz target (tests/fuzz/fuzz_dns_ldns.c, over mutations),
 * so both hold the parsers to one notion of "agree". Static functions only:
 * each includer gets its own copy.
 *
 * compare_msg(d, ours, theirs): header bits, question count and names, then
 * per section per record the owner (lower-cased, uncompressed wire), type,
 * class, TTL and rdata (bw_dns_rdata_uncompressed against the concatenated
 * ldns rdfs, whose names ldns stores expanded). ldns lifts OPT and TSIG out
 * of the additional section, so those are compared with ldns_pkt_edns_* and
 * ldns_pkt_tsig. Each difference is printed as "LABEL: what" and counted in
 * d->mismatches.
 */
#ifndef BW_TESTS_DNS_LDNS_COMPARE_H
#define BW_TESTS_DNS_LDNS_COMPARE_H

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <ldns/ldns.h>

#include "../../parsers/dns.h"

struct diff {
	const char *label;
	unsigned mismatches;
	/*
	 * The fuzzer's rules (off for captures, where the conformance suite
	 * wants every difference reported). ldns_wire2rdf reads a record's
	 * rdata by the field list of its type and then carries on from where
	 * that list ended, not from the end of rdlen; when the two differ,
	 * every later record is misframed on the ldns side and cannot be
	 * compared. That happens (1) at a record bindwatch marks bad (rdata
	 * that does not fit its type: a name overrunning rdlen, a short
	 * fixed field) and (2) where ldns's rdata is a strict prefix of ours
	 * (its field list ends before rdlen: SINK, trailing bytes after a
	 * name). With fuzz_rules set, the comparison stops at such a record
	 * (stopped is set), after checking the records before it. (3) A TSIG
	 * that is not the last additional record (RFC 8945 wants it last):
	 * ldns takes one off the additional count when it meets it, so it
	 * never reads the section's last record; that one is not compared.
	 */
	bool fuzz_rules;
	bool stopped;
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
	if (d->fuzz_rules && an > 0 && bn < (size_t)an && memcmp(a, b, bn) == 0) {
		d->stopped = true; /* ldns stopped early inside rdlen: see struct diff */
		return;
	}
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
	unsigned n_rr = m->n_rr;
	for (unsigned i = 0; d->fuzz_rules && i < n_rr; i++)
		if (m->rr[i].bad)
			n_rr = i;
	bool tsig_early = false; /* rule (3) of struct diff */
	for (unsigned i = 0; d->fuzz_rules && i + 1 < m->n_rr; i++)
		if (m->rr[i].section == BW_DNS_ADDITIONAL && m->rr[i].type == BW_DNS_T_TSIG)
			tsig_early = true;
	if (tsig_early && n_rr == m->n_rr)
		n_rr--;
	for (unsigned s = 0; s < 3; s++) {
		size_t ln = ldns_rr_list_rr_count(lists[s]), k = 0, ours = 0;
		for (unsigned i = 0; i < n_rr; i++) {
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
				if (d->stopped)
					return;
			}
			k++;
		}
		if (n_rr < m->n_rr) {
			/* the bad record is rr[n_rr]: sections before its own are whole */
			if (s < m->rr[n_rr].section && ours != ln)
				mismatch(d, "%s count differs: bindwatch %zu ldns %zu", names[s], ours, ln);
			continue;
		}
		if (ours != ln)
			mismatch(d, "%s count differs: bindwatch %zu ldns %zu", names[s], ours, ln);
	}
	if (n_rr < m->n_rr)
		return; /* OPT and TSIG may lie past the bad or unread record */
	if (tsig && ldns_pkt_tsig(pkt))
		compare_rr(d, "tsig", m, tsig, ldns_pkt_tsig(pkt));
	else if (!tsig != !ldns_pkt_tsig(pkt))
		mismatch(d, "TSIG presence differs");
	compare_edns(d, m, pkt);
}

#endif /* BW_TESTS_DNS_LDNS_COMPARE_H */
