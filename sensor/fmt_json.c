/* SPDX-License-Identifier: MIT */
/*
 * fmt_json.c: ECS JSON for DNS observations (TLS and alerts join later).
 * Every string here came off the wire; the DNS layer already turns names and
 * rdata into printable ASCII presentation text, and the JSON writer escapes
 * the rest, so a hostile name cannot forge a key or a second line.
 */
#include "fmt_json.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const char *transport_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_UDP: return "udp";
	case IPPROTO_TCP: return "tcp";
	default: return "unknown";
	}
}

void bw_fmt_json_head(struct bw_json *j, const char *dataset, const char *kind, const struct bw_obs_meta *meta)
{
	bw_json_obj_begin(j, NULL);
	bw_json_time(j, "@timestamp", meta->ts);
	bw_json_obj_begin(j, "event");
	bw_json_str(j, "kind", kind);
	bw_json_str(j, "dataset", dataset);
	bw_json_obj_end(j);
	bw_json_obj_begin(j, "source");
	bw_json_ip(j, "ip", &meta->src);
	bw_json_u64(j, "port", meta->sport);
	bw_json_obj_end(j);
	bw_json_obj_begin(j, "destination");
	bw_json_ip(j, "ip", &meta->dst);
	bw_json_u64(j, "port", meta->dport);
	bw_json_obj_end(j);
	bw_json_obj_begin(j, "network");
	bw_json_str(j, "transport", transport_name(meta->transport));
	bw_json_str(j, "type", meta->src.family == 6 ? "ipv6" : "ipv4");
	const struct bw_packet *p = meta->pkt;
	if (p && p->n_vlan > 0) {
		bw_json_obj_begin(j, "vlan");
		bw_json_strf(j, "id", "%u", p->vlan[0]);
		bw_json_obj_end(j);
		if (p->n_vlan > 1) {
			unsigned last = BW_MIN((unsigned)p->n_vlan, (unsigned)BW_MAX_VLAN) - 1;
			bw_json_obj_begin(j, "inner");
			bw_json_obj_begin(j, "vlan");
			bw_json_strf(j, "id", "%u", p->vlan[last]);
			bw_json_obj_end(j);
			bw_json_obj_end(j);
		}
	}
	bw_json_obj_end(j);
	/* The bindwatch object stays open: callers add their own members. */
	bw_json_obj_begin(j, "bindwatch");
	if (meta->file) {
		bw_json_obj_begin(j, "pcap");
		bw_json_str(j, "file", meta->file);
		if (meta->packet)
			bw_json_u64(j, "packet", meta->packet);
		bw_json_obj_end(j);
	}
	if (p && (p->n_tunnel > 0 || p->n_vlan > 1 || p->n_mpls > 0 || p->reassembled)) {
		if (p->n_tunnel > 0) {
			bw_json_arr_begin(j, "tunnel");
			for (unsigned i = 0; i < p->n_tunnel && i < BW_MAX_TUNNEL; i++) {
				const struct bw_tunnel *t = &p->tunnel[i];
				bw_json_obj_begin(j, NULL);
				bw_json_str(j, "type", bw_tunnel_name((enum bw_tunnel_type)t->type));
				bw_json_ip(j, "source", &t->src);
				bw_json_ip(j, "destination", &t->dst);
				if (t->id)
					bw_json_u64(j, "id", t->id);
				bw_json_obj_end(j);
			}
			bw_json_arr_end(j);
		}
		if (p->n_vlan > 1) {
			bw_json_arr_begin(j, "vlan");
			for (unsigned i = 0; i < p->n_vlan && i < BW_MAX_VLAN; i++)
				bw_json_u64(j, NULL, p->vlan[i]);
			bw_json_arr_end(j);
		}
		if (p->n_mpls > 0)
			bw_json_u64(j, "mpls_labels", p->n_mpls);
		if (p->reassembled)
			bw_json_bool(j, "ip_reassembled", true);
	}
}

static void type_str(uint16_t type, char *buf, size_t cap, const char **out)
{
	const char *n = bw_dns_type_name(type);
	if (n) {
		*out = n;
		return;
	}
	snprintf(buf, cap, "TYPE%u", type);
	*out = buf;
}

static void class_str(uint16_t cls, char *buf, size_t cap, const char **out)
{
	const char *n = bw_dns_class_name(cls);
	if (n) {
		*out = n;
		return;
	}
	snprintf(buf, cap, "CLASS%u", cls);
	*out = buf;
}

static void write_rr(struct bw_json *j, const struct bw_dns_msg *m, const struct bw_dns_rr *rr, char *scratch,
		     size_t cap)
{
	char tb[16], cb[16];
	const char *t, *c;
	bw_json_obj_begin(j, NULL);
	if (bw_dns_name_text(m, rr->name_off, false, scratch, cap) >= 0)
		bw_json_str(j, "name", scratch);
	type_str(rr->type, tb, sizeof(tb), &t);
	bw_json_str(j, "type", t);
	class_str(rr->class, cb, sizeof(cb), &c);
	bw_json_str(j, "class", c);
	bw_json_u64(j, "ttl", rr->ttl);
	int n = bw_dns_rdata_text(m, rr, scratch, cap);
	if (n >= 0)
		bw_json_strn(j, "data", scratch, (size_t)n);
	bw_json_obj_end(j);
}

static void write_section(struct bw_json *j, const struct bw_dns_msg *m, int section, const char *key,
			  char *scratch, size_t cap)
{
	bool any = false;
	for (unsigned i = 0; i < m->n_rr; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		if (rr->section != section || rr->type == BW_DNS_T_OPT)
			continue;
		if (!any) {
			bw_json_arr_begin(j, key);
			any = true;
		}
		write_rr(j, m, rr, scratch, cap);
	}
	if (any)
		bw_json_arr_end(j);
}

int bw_fmt_json_dns(struct bw_json *j, const struct bw_dns_msg *m, const struct bw_obs_meta *meta, bool raw,
		    char *scratch, size_t cap)
{
	char tb[16], cb[16];
	const char *t, *c;

	bw_json_reset(j);
	bw_fmt_json_head(j, "bindwatch.dns", "event", meta);
	if (raw) {
		bw_json_obj_begin(j, "dns");
		bw_json_hex(j, "raw", m->wire, m->len);
		bw_json_obj_end(j);
	}
	bw_json_obj_end(j); /* bindwatch */

	bw_json_obj_begin(j, "dns");
	bw_json_strf(j, "id", "%u", m->id);
	bw_json_str(j, "type", m->qr ? "answer" : "query");
	const char *op = bw_dns_opcode_name(m->opcode);
	if (op)
		bw_json_str(j, "op_code", op);
	else
		bw_json_strf(j, "op_code", "OPCODE%u", m->opcode);
	if (m->qr) {
		const char *rc = bw_dns_rcode_name(m->rcode);
		if (rc)
			bw_json_str(j, "response_code", rc);
		else
			bw_json_strf(j, "response_code", "RCODE%u", m->rcode);
	}
	bw_json_arr_begin(j, "header_flags");
	if (m->qr)
		bw_json_str(j, NULL, "QR");
	if (m->aa)
		bw_json_str(j, NULL, "AA");
	if (m->tc)
		bw_json_str(j, NULL, "TC");
	if (m->rd)
		bw_json_str(j, NULL, "RD");
	if (m->ra)
		bw_json_str(j, NULL, "RA");
	if (m->z)
		bw_json_str(j, NULL, "Z");
	if (m->ad)
		bw_json_str(j, NULL, "AD");
	if (m->cd)
		bw_json_str(j, NULL, "CD");
	if (m->has_opt && m->edns_do)
		bw_json_str(j, NULL, "DO");
	bw_json_arr_end(j);

	if (m->n_qd > 0) {
		const struct bw_dns_question *q = &m->qd[0];
		bw_json_obj_begin(j, "question");
		if (bw_dns_name_text(m, q->name_off, false, scratch, cap) >= 0)
			bw_json_str(j, "name", scratch);
		type_str(q->type, tb, sizeof(tb), &t);
		bw_json_str(j, "type", t);
		class_str(q->class, cb, sizeof(cb), &c);
		bw_json_str(j, "class", c);
		bw_json_obj_end(j);
	}
	if (m->qdcount > 1)
		bw_json_u64(j, "question_count", m->qdcount);

	write_section(j, m, BW_DNS_ANSWER, "answers", scratch, cap);
	write_section(j, m, BW_DNS_AUTHORITY, "authorities", scratch, cap);
	write_section(j, m, BW_DNS_ADDITIONAL, "additionals", scratch, cap);

	bool any_ip = false;
	for (unsigned i = 0; i < m->n_rr; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		if (rr->section != BW_DNS_ANSWER || (rr->type != BW_DNS_T_A && rr->type != BW_DNS_T_AAAA))
			continue;
		if (bw_dns_rdata_text(m, rr, scratch, cap) < 0)
			continue;
		if (!any_ip) {
			bw_json_arr_begin(j, "resolved_ip");
			any_ip = true;
		}
		bw_json_str(j, NULL, scratch);
	}
	if (any_ip)
		bw_json_arr_end(j);

	if (m->has_opt) {
		bw_json_obj_begin(j, "edns");
		bw_json_u64(j, "udp_size", m->edns_udp_size);
		bw_json_u64(j, "version", m->edns_version);
		bw_json_bool(j, "do", m->edns_do);
		bw_json_obj_end(j);
	}
	bw_json_obj_end(j); /* dns */
	bw_json_obj_end(j); /* top */
	return j->err;
}
