/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns_ldns.c: differential fuzzing of bw_dns_parse against ldns. The
 * input is one DNS message; when both parsers accept it, every record must
 * agree (dns_ldns_compare.h, the comparison the conformance suite runs over
 * captures), and a disagreement aborts so libFuzzer keeps the input.
 *
 * Where the two legitimately differ the difference is a rule here, not a
 * mismatch (struct diff in dns_ldns_compare.h and tests/fuzz/README.md
 * give the reasons): the comparison stops at a record bindwatch marks bad
 * or whose ldns rdata is a strict prefix of ours (ldns misframes what
 * follows), skips the last additional record after a TSIG that is not
 * last (ldns never reads it), and messages with two TSIGs are not given
 * to ldns at all (it leaks all but the last; see tsig_count).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_ldns_compare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/*
 * ldns_wire2pkt keeps only the last TSIG record of a message and leaks the
 * ones before it (ldns_pkt_set_tsig does not free the old one): 88 bytes
 * from ldns_rr_new each, nothing of ours (corpus/dns_ldns/leak-ldns-tsig-*).
 * Every such leak makes libFuzzer scan the heap, which slowed the target
 * twentyfold, so messages with two TSIGs by our own framing are not given
 * to ldns (tsig_count), and the rest, framed differently by ldns, are
 * ignored if the leak is inside libldns.
 */
const char *__lsan_default_suppressions(void) { return "leak:libldns.so\n"; }

/* TSIG records (type 250) in any section, framing records by rdlength; stops at the first fault. */
static unsigned tsig_count(const uint8_t *p, size_t n)
{
	if (n < 12)
		return 0;
	unsigned total = 0, tsigs = 0;
	for (unsigned s = 0; s < 4; s++)
		total += (unsigned)(p[4 + 2 * s] << 8 | p[5 + 2 * s]);
	unsigned qd = (unsigned)(p[4] << 8 | p[5]);
	size_t o = 12;
	for (unsigned i = 0; i < total && o < n; i++) {
		for (unsigned labels = 0; o < n && labels < 128; labels++) {
			uint8_t l = p[o];
			if (l == 0 || (l & 0xc0) == 0xc0) {
				o += l ? 2 : 1;
				break;
			}
			o += 1u + l;
		}
		if (i < qd) {
			o += 4;
			continue;
		}
		if (o + 10 > n)
			break;
		if (p[o] == 0 && p[o + 1] == 250)
			tsigs++;
		o += 10u + (size_t)(p[o + 8] << 8 | p[o + 9]);
	}
	return tsigs;
}

static struct bw_dns_msg msg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_anomalies an;
	memset(&an, 0, sizeof(an));
	int r = bw_dns_parse(data, size, &msg, &an);
	if (tsig_count(data, size) > 1)
		return 0;
	ldns_pkt *pkt = NULL;
	ldns_status st = ldns_wire2pkt(&pkt, data, size);
	if (r == BW_OK && st == LDNS_STATUS_OK) {
		struct diff d = {.label = "fuzz_dns_ldns", .fuzz_rules = true};
		compare_msg(&d, &msg, pkt);
		if (d.mismatches) {
			fflush(stdout);
			abort();
		}
	}
	if (pkt)
		ldns_pkt_free(pkt);
	return 0;
}
