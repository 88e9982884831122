/* SPDX-License-Identifier: MIT */
/*
 * fmt_json.c: ECS JSON for DNS observations (TLS and alerts join later).
 * Every string here came off the wire; the DNS layer already turns names and
 * rdata into printable ASCII presentation text, and the JSON writer escapes
 * the rest, so a hostile name cannot forge a key or a second line.
 */
#include "fmt_json.h"

#include "../parsers/ja.h"

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
		bw_json_u64_str(j, "id", p->vlan[0]);
		bw_json_obj_end(j);
		if (p->n_vlan > 1) {
			unsigned last = BW_MIN((unsigned)p->n_vlan, (unsigned)BW_MAX_VLAN) - 1;
			bw_json_obj_begin(j, "inner");
			bw_json_obj_begin(j, "vlan");
			bw_json_u64_str(j, "id", p->vlan[last]);
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
	t = bw_dns_type_text(rr->type, tb, sizeof(tb));
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
	bw_json_u64_str(j, "id", m->id);
	bw_json_str(j, "type", m->qr ? "answer" : "query");
	const char *op = bw_dns_opcode_name(m->opcode);
	if (op)
		bw_json_str(j, "op_code", op);
	else
		bw_json_prefixed_u64_str(j, "op_code", "OPCODE", m->opcode);
	if (m->qr) {
		const char *rc = bw_dns_rcode_name(m->rcode);
		if (rc)
			bw_json_str(j, "response_code", rc);
		else
			bw_json_prefixed_u64_str(j, "response_code", "RCODE", m->rcode);
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
		t = bw_dns_type_text(q->type, tb, sizeof(tb));
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

/* ---- certificates ---- */

static void x509_name(struct bw_json *j, const char *key, const struct bw_x509_name *n)
{
	bw_json_obj_begin(j, key);
	if (n->cn && n->cn[0]) {
		bw_json_arr_begin(j, "common_name");
		bw_json_str(j, NULL, n->cn);
		bw_json_arr_end(j);
	}
	if (n->o && n->o[0]) {
		bw_json_arr_begin(j, "organization");
		bw_json_str(j, NULL, n->o);
		bw_json_arr_end(j);
	}
	if (n->ou && n->ou[0]) {
		bw_json_arr_begin(j, "organizational_unit");
		bw_json_str(j, NULL, n->ou);
		bw_json_arr_end(j);
	}
	if (n->c && n->c[0]) {
		bw_json_arr_begin(j, "country");
		bw_json_str(j, NULL, n->c);
		bw_json_arr_end(j);
	}
	bw_json_str(j, "distinguished_name", n->dn);
	bw_json_obj_end(j);
}

void bw_fmt_json_x509_fields(struct bw_json *j, const char *key, const struct bw_x509_info *x)
{
	bw_json_obj_begin(j, key);
	x509_name(j, "subject", &x->subject);
	x509_name(j, "issuer", &x->issuer);
	if (x->san_count) {
		bw_json_arr_begin(j, "alternative_names");
		for (uint32_t i = 0; i < x->san_count; i++)
			bw_json_str(j, NULL, x->san[i].value);
		bw_json_arr_end(j);
	}
	bw_json_str(j, "serial_number", x->serial);
	if (x->times_ok) {
		bw_json_str(j, "not_before", x->not_before_iso);
		bw_json_str(j, "not_after", x->not_after_iso);
	}
	if (x->key_type_name && x->key_type_name[0])
		bw_json_str(j, "public_key_algorithm", x->key_type_name);
	if (x->key_bits)
		bw_json_u64(j, "public_key_size", (uint64_t)x->key_bits);
	if (x->curve && x->curve[0])
		bw_json_str(j, "public_key_curve", x->curve);
	if (x->rsa_exponent)
		bw_json_u64(j, "public_key_exponent", x->rsa_exponent);
	bw_json_str(j, "signature_algorithm", x->sig_alg_ecs);
	bw_json_strf(j, "version_number", "%d", x->version);
	bw_json_obj_end(j);
}

int bw_fmt_json_x509(struct bw_json *j, const struct bw_x509_info *x, const struct bw_obs_meta *meta, const char *sni,
		     unsigned chain_pos, const char *source)
{
	bw_json_reset(j);
	bw_fmt_json_head(j, "bindwatch.x509", "event", meta);
	bw_json_obj_begin(j, "x509");
	bw_json_str(j, "sha256", x->sha256_hex);
	bw_json_str(j, "sha1", x->sha1_hex);
	bw_json_str(j, "spki_sha256", x->spki_sha256_hex);
	bw_json_str(j, "spki_sha256_b64", x->spki_sha256_b64);
	bw_json_str(j, "subject_rfc2253", x->subject.dn_rfc2253);
	bw_json_str(j, "issuer_rfc2253", x->issuer.dn_rfc2253);
	bw_json_str(j, "serial_colon", x->serial_colon);
	bw_json_bool(j, "is_ca", x->is_ca);
	if (x->has_basic_constraints && x->path_len >= 0)
		bw_json_u64(j, "path_length", (uint64_t)x->path_len);
	bw_json_bool(j, "self_signed", x->self_signed);
	if (x->has_key_usage)
		bw_json_str(j, "key_usage", x->key_usage_text);
	if (x->has_ext_key_usage)
		bw_json_str(j, "ext_key_usage", x->ext_key_usage_text);
	bw_json_u64(j, "san_total", x->san_total);
	bw_json_bool(j, "san_truncated", x->san_truncated);
	bw_json_str(j, "signature_algorithm_oid_name", x->sig_alg);
	bw_json_u64(j, "chain_position", chain_pos);
	if (sni && sni[0])
		bw_json_str(j, "server_name", sni);
	if (source)
		bw_json_str(j, "source", source);
	bw_json_obj_end(j);
	bw_json_obj_end(j); /* bindwatch */
	bw_fmt_json_x509_fields(j, "x509", x);
	bw_json_obj_end(j);
	return j->err;
}

/* ---- TLS sessions ---- */

static const char *ecs_tls_version(uint16_t v, const char **proto)
{
	*proto = "tls";
	switch (v) {
	case 0x0002:
	case 0x0200: *proto = "ssl"; return "2.0";
	case 0x0300: *proto = "ssl"; return "3.0";
	case 0x0301: return "1.0";
	case 0x0302: return "1.1";
	case 0x0303: return "1.2";
	case 0x0304: return "1.3";
	case 0xfeff: *proto = "dtls"; return "1.0";
	case 0xfefd: *proto = "dtls"; return "1.2";
	case 0xfefc: *proto = "dtls"; return "1.3";
	default: break;
	}
	if (bw_tls_version_is_13(v))
		return "1.3";
	return NULL;
}

/* An ALPN id as a string value (escaped: it is attacker-chosen bytes). */
static void alpn_str(struct bw_json *j, const char *key, const struct bw_tls_alpn *a)
{
	char buf[4 * BW_TLS_MAX_ALPN_LEN + 1];
	size_t n = bw_tls_escape(a->id, BW_MIN((size_t)a->len, (size_t)BW_TLS_MAX_ALPN_LEN), buf, sizeof(buf));
	bw_json_strn(j, key, buf, n);
}

static void u16_list(struct bw_json *j, const char *key, const uint16_t *v, unsigned n)
{
	bw_json_arr_begin(j, key);
	for (unsigned i = 0; i < n; i++)
		bw_json_u64(j, NULL, v[i]);
	bw_json_arr_end(j);
}

int bw_fmt_json_tls(struct bw_json *j, const struct bw_tls_view *v, const struct bw_obs_meta *meta)
{
	char nb[BW_TLS_NAME_BUF], ja3[BW_JA3_HEX_LEN + 1], ja4[BW_JA4_LEN + 1];
	char ja_str[BW_JA3_STR_MAX];
	const struct bw_tls_client_hello *ch = v->ch;
	const struct bw_tls_server_hello *sh = v->sh;
	const struct bw_x509_info *leaf = v->n_certs > 0 ? v->certs[0] : NULL;
	enum bw_ja4_proto jp = strcmp(v->protocol, "quic") == 0 ? BW_JA4_QUIC
			      : strcmp(v->protocol, "dtls") == 0 ? BW_JA4_DTLS : BW_JA4_TCP;

	bw_json_reset(j);
	bw_fmt_json_head(j, "bindwatch.tls", "event", meta);
	bw_json_obj_begin(j, "tls");
	bw_json_str(j, "protocol", v->protocol);
	if (v->version)
		bw_json_str(j, "version_name", bw_tls_version_name(v->version, nb, sizeof(nb)));
	bw_json_bool(j, "cert_visible", v->cert_visible);
	bw_json_bool(j, "hello_retry_request", v->hello_retry_request);
	if (ch) {
		bw_json_obj_begin(j, "client");
		if (ch->version_count) {
			bw_json_arr_begin(j, "versions");
			for (unsigned i = 0; i < ch->version_count; i++)
				if (!bw_tls_is_grease(ch->versions[i]))
					bw_json_str(j, NULL, bw_tls_version_name(ch->versions[i], nb, sizeof(nb)));
			bw_json_arr_end(j);
		}
		if (ch->alpn_count) {
			bw_json_arr_begin(j, "alpn");
			for (unsigned i = 0; i < ch->alpn_count; i++)
				alpn_str(j, NULL, &ch->alpn[i]);
			bw_json_arr_end(j);
		}
		u16_list(j, "extensions", ch->exts, ch->ext_count);
		if (ch->has_sni && !ch->sni_valid)
			bw_json_bool(j, "server_name_invalid", true);
		if (ch->ech_present)
			bw_json_bool(j, "ech", true);
		if (bw_ja3_string(ch, ja_str, sizeof(ja_str)) >= 0)
			bw_json_str(j, "ja3_string", ja_str);
		bw_json_obj_end(j);
	}
	if (sh) {
		bw_json_obj_begin(j, "server");
		u16_list(j, "extensions", sh->exts, sh->ext_count);
		if (bw_ja3s_string(sh, ja_str, sizeof(ja_str)) >= 0)
			bw_json_str(j, "ja3s_string", ja_str);
		bw_json_obj_end(j);
	}
	if (v->n_certs) {
		bw_json_arr_begin(j, "chain");
		for (unsigned i = 0; i < v->n_certs; i++) {
			const struct bw_x509_info *x = v->certs[i];
			bw_json_obj_begin(j, NULL);
			if (x) {
				bw_json_str(j, "sha256", x->sha256_hex);
				bw_json_str(j, "sha1", x->sha1_hex);
				bw_json_str(j, "subject", x->subject.dn);
				bw_json_str(j, "subject_rfc2253", x->subject.dn_rfc2253);
				bw_json_str(j, "issuer", x->issuer.dn);
				bw_json_str(j, "issuer_rfc2253", x->issuer.dn_rfc2253);
				bw_json_str(j, "serial", x->serial);
				if (x->times_ok) {
					bw_json_str(j, "not_before", x->not_before_iso);
					bw_json_str(j, "not_after", x->not_after_iso);
				}
			} else {
				bw_json_bool(j, "unparsable", true);
			}
			bw_json_obj_end(j);
		}
		bw_json_arr_end(j);
		bw_json_bool(j, "chain_truncated", v->chain_truncated);
	}
	if (v->verdict) {
		const struct bw_x509_verdict *vd = v->verdict;
		enum bw_x509_reason status = vd->chain != BW_X509_OK ? vd->chain : vd->name;
		bw_json_obj_begin(j, "validation");
		bw_json_str(j, "status", bw_x509_reason_name(status));
		bw_json_str(j, "chain", bw_x509_reason_name(vd->chain));
		if (vd->name_checked)
			bw_json_str(j, "name", bw_x509_reason_name(vd->name));
		bw_json_str(j, "detail", vd->detail);
		bw_json_str(j, "clock", bw_x509_clock_name(vd->clock));
		bw_json_time(j, "time", vd->time);
		bw_json_bool(j, "misordered", vd->misordered);
		if (vd->chain_depth >= 0 && vd->chain != BW_X509_OK)
			bw_json_u64(j, "depth", (uint64_t)vd->chain_depth);
		bw_json_obj_end(j);
	}
	if (v->saw_alert) {
		bw_json_obj_begin(j, "alert");
		bw_json_u64(j, "level", v->alert_level);
		bw_json_u64(j, "description", v->alert_description);
		bw_json_str(j, "name", bw_tls_alert_name(v->alert_description, nb, sizeof(nb)));
		bw_json_obj_end(j);
	}
	if (v->starttls)
		bw_json_str(j, "starttls", v->starttls);
	if (v->quic_version) {
		bw_json_obj_begin(j, "quic");
		bw_json_str(j, "version", v->quic_version);
		if (v->quic_dcid)
			bw_json_str(j, "dcid", v->quic_dcid);
		bw_json_bool(j, "retry", v->quic_retry);
		bw_json_obj_end(j);
	}
	bw_json_obj_end(j); /* bindwatch.tls */
	bw_json_obj_end(j); /* bindwatch */

	bw_json_obj_begin(j, "tls");
	const char *proto;
	const char *ver = ecs_tls_version(v->version, &proto);
	if (ver) {
		bw_json_str(j, "version", ver);
		bw_json_str(j, "version_protocol", proto);
	}
	if (sh)
		bw_json_str(j, "cipher", bw_tls_cipher_name(sh->cipher, nb, sizeof(nb)));
	bw_json_bool(j, "established", v->established);
	bw_json_bool(j, "resumed", v->resumed);
	if (sh && sh->alpn.len)
		alpn_str(j, "next_protocol", &sh->alpn);
	if (ch) {
		bw_json_obj_begin(j, "client");
		if (ch->has_sni)
			bw_json_str(j, "server_name", ch->sni);
		if (bw_ja3(ch, ja3) == BW_OK)
			bw_json_str(j, "ja3", ja3);
		if (bw_ja4(ch, jp, ja4) == BW_OK)
			bw_json_str(j, "ja4", ja4);
		bw_json_arr_begin(j, "supported_ciphers");
		for (unsigned i = 0; i < ch->cipher_count; i++)
			if (!bw_tls_is_grease(ch->ciphers[i]))
				bw_json_str(j, NULL, bw_tls_cipher_name(ch->ciphers[i], nb, sizeof(nb)));
		bw_json_arr_end(j);
		bw_json_obj_end(j);
	}
	if (sh || leaf) {
		bw_json_obj_begin(j, "server");
		if (sh && bw_ja3s(sh, ja3) == BW_OK)
			bw_json_str(j, "ja3s", ja3);
		if (leaf) {
			bw_json_obj_begin(j, "hash");
			bw_json_str(j, "sha256", leaf->sha256_hex);
			bw_json_str(j, "sha1", leaf->sha1_hex);
			bw_json_obj_end(j);
			bw_fmt_json_x509_fields(j, "x509", leaf);
		}
		bw_json_obj_end(j);
	}
	bw_json_obj_end(j); /* tls */
	bw_json_obj_end(j);
	return j->err;
}
