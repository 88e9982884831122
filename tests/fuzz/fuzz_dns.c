/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns.c: bw_dns_parse on arbitrary bytes, then every formatter on
 * every name and record of an accepted message, into roomy buffers and into
 * tiny ones (the BW_ENOMEM paths). The header promises the formatters cannot
 * fail on a parsed message except for space; that is checked here too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/dns.h"

static struct bw_dns_msg msg;
static char text[300000];
static uint8_t bin[70000];

static void check(int ok)
{
	if (!ok)
		abort();
}

static void names(uint16_t off)
{
	int r = bw_dns_name_text(&msg, off, false, text, sizeof(text));
	check(r > 0 && r < BW_DNS_MAX_NAME_TEXT && (size_t)r == strlen(text));
	for (int i = 0; i < r; i++)
		check(text[i] > 0x20 && text[i] < 0x7f);
	check(bw_dns_name_text(&msg, off, true, text, sizeof(text)) == r);
	check(bw_dns_name_text(&msg, off, true, text, (size_t)r) == BW_ENOMEM);
	check(bw_dns_name_text(&msg, off, false, text, 3) == (r < 3 ? r : BW_ENOMEM));
	int w = bw_dns_name_wire(&msg, off, true, bin, sizeof(bin));
	check(w >= 1 && w <= BW_DNS_MAX_NAME);
	check(bw_dns_name_wire(&msg, off, false, bin, (size_t)w - 1) == BW_ENOMEM);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_anomalies an;
	memset(&an, 0, sizeof(an));
	int r = bw_dns_parse(data, size, &msg, &an);
	unsigned counted = 0;
	for (unsigned i = 0; i < BW_AN__COUNT; i++)
		counted += (unsigned)an.n[i];
	if (r != BW_OK) {
		check(counted == 1);
		return 0;
	}
	check(msg.n_qd <= BW_DNS_MAX_QD && msg.n_qd <= msg.qdcount);
	check(msg.n_rr == msg.n_section[0] + msg.n_section[1] + msg.n_section[2]);
	check(msg.n_section[0] == msg.ancount && msg.n_section[1] == msg.nscount && msg.n_section[2] == msg.arcount);

	for (unsigned i = 0; i < msg.n_qd; i++)
		names(msg.qd[i].name_off);
	unsigned bad = 0;
	for (unsigned i = 0; i < msg.n_rr; i++) {
		const struct bw_dns_rr *rr = &msg.rr[i];
		bad += rr->bad;
		names(rr->name_off);
		int t = bw_dns_rdata_text(&msg, rr, text, sizeof(text));
		check(t >= 0 && (size_t)t == strlen(text));
		for (int k = 0; k < t; k++)
			check(text[k] >= 0x20 && text[k] < 0x7f);
		static const size_t tiny[] = { 0, 1, 2, 7, 16, 61 };
		for (size_t k = 0; k < sizeof(tiny) / sizeof(tiny[0]); k++) {
			int s = bw_dns_rdata_text(&msg, rr, text, tiny[k]);
			check(s == ((size_t)t < tiny[k] ? t : BW_ENOMEM));
		}
		int u = bw_dns_rdata_uncompressed(&msg, rr, bin, sizeof(bin));
		check(u >= 0);
		check(bw_dns_rdata_uncompressed(&msg, rr, bin, (size_t)u / 2) == (u ? BW_ENOMEM : 0));
		uint32_t inc, exp;
		(void)bw_dns_rrsig_times(&msg, rr, &inc, &exp);
		(void)bw_dns_type_name(rr->type);
		(void)bw_dns_class_name(rr->class);
	}
	check(bad == msg.n_bad && bad == an.n[BW_AN_DNS_BAD_RDATA]);
	const uint8_t *v;
	uint16_t vl;
	(void)bw_dns_opt_find(&msg, 10, &v, &vl);
	(void)bw_dns_rcode_name(msg.rcode);
	(void)bw_dns_opcode_name(msg.opcode);
	return 0;
}
