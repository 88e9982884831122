/* SPDX-License-Identifier: MIT */
/*
 * dns.c: the DNS message parser. It runs on every DNS packet, so it makes
 * one pass that checks everything (header, every question and record, every
 * name, the rdata of the types we decode) and records offsets into the
 * borrowed message in a caller-owned struct: no allocation, no copying, and
 * after BW_OK the formatters (dns_name.c, dns_rdata.c), which run only when
 * an event is written, never meet a surprise. Structural damage fails the
 * message with one reason counted; rdata that is wrong for its type only
 * marks that record, so one odd record does not hide the rest of an answer
 * from the sensor.
 */
#include "dns.h"

#include "wire.h"

#define DNS_HDR_LEN 12
#define DNS_MAX_MSG 65535 /* offsets are 16-bit, as is every DNS transport's length */

static int fail(struct bw_anomalies *an, int err, enum bw_anomaly why)
{
	bw_anomaly(an, why);
	return err;
}

/* Check the name at the cursor and step over it. */
static int skip_name(struct bw_wire *w, struct bw_anomalies *an)
{
	size_t next;
	enum bw_anomaly why = BW_AN_DNS_BAD_NAME;
	int r = bw_dns_name_check(w->base, w->len, bw_wire_pos(w), &next, &why);
	if (r != BW_OK)
		return fail(an, r, why);
	bw_wire_seek(w, next);
	return BW_OK;
}

static bool name_is_root(const struct bw_wire *w, size_t off)
{
	struct bw_wire c = *w;
	bw_wire_seek(&c, off);
	return bw_wire_u8(&c) == 0 && bw_wire_ok(&c);
}

static void mark_bad(struct bw_dns_msg *msg, struct bw_dns_rr *rr)
{
	rr->bad = 1;
	msg->n_bad++;
}

/*
 * Addresses are most records on the wire: decide them here instead of a
 * call into the descriptor walker (same rule as dns_rdata.c: exact size,
 * or empty with class ANY/NONE).
 */
static inline bool rdata_ok(const uint8_t *p, size_t n, uint16_t type, uint16_t class, size_t off, uint16_t rdlen)
{
	if (type == BW_DNS_T_A || type == BW_DNS_T_AAAA)
		return rdlen == (type == BW_DNS_T_A ? 4 : 16) || (rdlen == 0 && (class == 255 || class == 254));
	return bw_dns_rdata_valid(p, n, type, class, off, rdlen);
}

static void take_opt(struct bw_dns_msg *msg, const struct bw_dns_rr *rr)
{
	msg->has_opt = true;
	msg->opt_rr = (uint16_t)(rr - msg->rr);
	msg->edns_udp_size = rr->class;
	msg->edns_version = (uint8_t)(rr->ttl >> 16);
	msg->edns_flags = (uint16_t)rr->ttl;
	msg->edns_do = (rr->ttl & 0x8000) != 0;
	msg->rcode = (uint16_t)(((rr->ttl >> 24) << 4) | (msg->rcode & 0xf));
}

int bw_dns_parse(const uint8_t *p, size_t n, struct bw_dns_msg *msg, struct bw_anomalies *an)
{
	struct bw_wire w;
	int r;

	if (!msg || (!p && n))
		return BW_EINVAL;
	if (n > DNS_MAX_MSG)
		return fail(an, BW_EMALF, BW_AN_DNS_NOT_DNS);
	if (n < DNS_HDR_LEN)
		return fail(an, BW_ETRUNC, BW_AN_DNS_TRUNC);

	bw_wire_init(&w, p, n);
	msg->wire = p;
	msg->len = n;
	msg->id = bw_wire_u16(&w);
	msg->flags = bw_wire_u16(&w);
	msg->qdcount = bw_wire_u16(&w);
	msg->ancount = bw_wire_u16(&w);
	msg->nscount = bw_wire_u16(&w);
	msg->arcount = bw_wire_u16(&w);

	uint16_t f = msg->flags;
	msg->qr = (uint8_t)(f >> 15);
	msg->opcode = (uint8_t)((f >> 11) & 0xf);
	msg->aa = (f >> 10) & 1;
	msg->tc = (f >> 9) & 1;
	msg->rd = (f >> 8) & 1;
	msg->ra = (f >> 7) & 1;
	msg->z = (f >> 6) & 1;
	msg->ad = (f >> 5) & 1;
	msg->cd = (f >> 4) & 1;
	msg->rcode = f & 0xf;

	msg->n_qd = 0;
	msg->n_rr = 0;
	msg->n_section[0] = msg->n_section[1] = msg->n_section[2] = 0;
	msg->has_opt = false;
	msg->edns_version = 0;
	msg->edns_do = false;
	msg->edns_udp_size = 0;
	msg->edns_flags = 0;
	msg->opt_rr = 0;
	msg->n_bad = 0;

	for (unsigned i = 0; i < msg->qdcount; i++) {
		size_t off = bw_wire_pos(&w);
		if ((r = skip_name(&w, an)) != BW_OK)
			return r;
		uint16_t type = bw_wire_u16(&w), class = bw_wire_u16(&w);
		if (!bw_wire_ok(&w))
			return fail(an, BW_ETRUNC, BW_AN_DNS_TRUNC);
		if (msg->n_qd < BW_DNS_MAX_QD) {
			struct bw_dns_question *q = &msg->qd[msg->n_qd++];
			q->name_off = (uint16_t)off;
			q->type = type;
			q->class = class;
		}
	}

	const uint16_t counts[3] = { msg->ancount, msg->nscount, msg->arcount };
	for (unsigned s = 0; s < 3; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			size_t off = bw_wire_pos(&w);
			if ((r = skip_name(&w, an)) != BW_OK)
				return r;
			uint16_t type = bw_wire_u16(&w), class = bw_wire_u16(&w);
			uint32_t ttl = bw_wire_u32(&w);
			uint16_t rdlen = bw_wire_u16(&w);
			size_t rdoff = bw_wire_pos(&w);
			bw_wire_skip(&w, rdlen);
			if (!bw_wire_ok(&w))
				return fail(an, BW_ETRUNC, BW_AN_DNS_TRUNC);
			/* Cannot happen within 65535 bytes (a record is at least 11); kept as a guard. */
			if (bw_unlikely(msg->n_rr >= BW_DNS_MAX_RR))
				return fail(an, BW_EMALF, BW_AN_DNS_NOT_DNS);

			struct bw_dns_rr *rr = &msg->rr[msg->n_rr++];
			rr->name_off = (uint16_t)off;
			rr->type = type;
			rr->class = class;
			rr->section = (uint8_t)s;
			rr->bad = 0;
			rr->ttl = ttl;
			rr->rdata_off = (uint16_t)rdoff;
			rr->rdlen = rdlen;
			msg->n_section[s]++;

			if (type == BW_DNS_T_OPT) {
				/* RFC 6891 6.1.1: one OPT, in the additional section, owned by the root. */
				if (s != BW_DNS_ADDITIONAL || msg->has_opt || !name_is_root(&w, off) ||
				    !rdata_ok(p, n, type, class, rdoff, rdlen))
					mark_bad(msg, rr);
				else
					take_opt(msg, rr);
			} else if (!rdata_ok(p, n, type, class, rdoff, rdlen)) {
				mark_bad(msg, rr);
			}
		}
	}

	/* Counted only now: a message that fails later counts its one failure reason only. */
	if (an)
		an->n[BW_AN_DNS_BAD_RDATA] += msg->n_bad;
	if (bw_wire_left(&w))
		bw_anomaly(an, BW_AN_DNS_TRAILING);
	return BW_OK;
}

const char *bw_dns_class_name(uint16_t class)
{
	switch (class) {
	case 1: return "IN";
	case 3: return "CH";
	case 4: return "HS";
	case 254: return "NONE";
	case 255: return "ANY";
	default: return NULL;
	}
}

const char *bw_dns_rcode_name(uint16_t rcode)
{
	/* 16 is BADVERS in the OPT rcode space and BADSIG in TSIG's; a message rcode is the former. */
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
		"NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", NULL, NULL, NULL, NULL,
		"BADVERS", "BADKEY", "BADTIME", "BADMODE", "BADNAME", "BADALG", "BADTRUNC", "BADCOOKIE",
	};
	return rcode < BW_ARRAY_SIZE(names) ? names[rcode] : NULL;
}

const char *bw_dns_opcode_name(uint8_t opcode)
{
	static const char *const names[] = { "QUERY", "IQUERY", "STATUS", NULL, "NOTIFY", "UPDATE", "DSO" };
	return opcode < BW_ARRAY_SIZE(names) ? names[opcode] : NULL;
}
