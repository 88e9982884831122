/* SPDX-License-Identifier: MIT */
/*
 * detect.c: the trust-binding detectors. DNS responses feed the binding
 * tables (name -> addresses with TTL, name -> CNAME, name -> rcode) and are
 * held against owned networks, claimed cloud resources and zone files; TLS
 * handshakes feed (server, SNI) -> certificate and are held against the
 * names they claim to serve, the chain's trust, expiry, issuer, pins, the
 * certificate seen before, and the addresses DNS gave for the name.
 *
 * With a policy, alerts concern owned names only (a third party's broken
 * certificate is its own problem and still shows in the tls/x509 events).
 * Without one, certificate faults are reported for every name at low
 * severity. Every alert names the policy entry it breaks and carries the
 * observations behind it.
 */
#include "detect.h"

/* Reasons and summaries are text for people, cut to their buffers on purpose
 * when a hostile name is very long; the JSON writer escapes what remains. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parsers/x509.h"
#include "bindings.h"
#include "nameset.h"
#include "policy.h"
#include "refdata.h"
#include "worker_impl.h"
#include "zones.h"

#define NAME_CAP BW_DNS_MAX_NAME_TEXT

/* ---- per-worker state: which zone records were answered (record drift) ---- */

struct drift_entry {
	const struct bw_zone_rr *first; /* the (name, type) record set in the zone; key */
	size_t n;
	uint8_t *matched;               /* n flags */
	bw_time_t last_ts;
	char name[256];
	uint16_t type;
	struct drift_entry *next;
};

#define DRIFT_BUCKETS 1024
#define DRIFT_MAX 65536

struct bw_detect_state {
	struct drift_entry *b[DRIFT_BUCKETS];
	size_t count;
	struct bw_dangling *dangling; /* detect_dangling.c's tables */
};

struct bw_detect_state *bw_detect_state_new(void)
{
	struct bw_detect_state *s = calloc(1, sizeof(struct bw_detect_state));
	if (s && !(s->dangling = bw_dangling_new())) {
		free(s);
		return NULL;
	}
	return s;
}

struct bw_dangling *bw_detect_state_dangling(struct bw_detect_state *s) { return s ? s->dangling : NULL; }

void bw_detect_state_free(struct bw_detect_state *s)
{
	if (!s)
		return;
	bw_dangling_free(s->dangling);
	for (size_t i = 0; i < DRIFT_BUCKETS; i++) {
		struct drift_entry *e = s->b[i], *n;
		for (; e; e = n) {
			n = e->next;
			free(e->matched);
			free(e);
		}
	}
	free(s);
}

static struct drift_entry *drift_get(struct bw_detect_state *s, const struct bw_zone_rr *first, size_t n,
				     const char *name, uint16_t type)
{
	size_t h = ((uintptr_t)first >> 4) % DRIFT_BUCKETS;
	for (struct drift_entry *e = s->b[h]; e; e = e->next)
		if (e->first == first)
			return e;
	if (s->count >= DRIFT_MAX)
		return NULL;
	struct drift_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->matched = calloc(n ? n : 1, 1);
	if (!e->matched) {
		free(e);
		return NULL;
	}
	e->first = first;
	e->n = n;
	e->type = type;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->next = s->b[h];
	s->b[h] = e;
	s->count++;
	return e;
}

/* ---- helpers ---- */

static void emit_cb(void *ctx, enum bw_event_type t, bw_time_t ts) { bw_worker_emit(ctx, t, ts); }

static void raise(struct bw_worker *w, struct bw_alert *a)
{
	const struct bw_detect_env *env = w->cfg.detect;
	if (env->policy && bw_policy_ignored_type(env->policy, (int)a->type, a->name, a->name ? strlen(a->name) : 0))
		return;
	if (bw_alerts_raise(env->alerts, a, &w->json, emit_cb, w))
		w->st.alerts++;
}

/* The owned domain that covers name (a suffix of it), or NULL. */
static const char *owned_domain(const struct bw_policy *p, const char *name)
{
	if (!p)
		return NULL;
	const char *s = name;
	for (;;) {
		if (bw_nameset_contains_exact(p->owned.domains, s, strlen(s)))
			return s;
		const char *dot = strchr(s, '.');
		while (dot && dot > s && dot[-1] == '\\') /* an escaped dot is inside a label */
			dot = strchr(dot + 1, '.');
		if (!dot)
			return NULL;
		s = dot + 1;
	}
}

static void alert_init(struct bw_alert *a, enum bw_alert_type t, const struct bw_obs_meta *meta)
{
	memset(a, 0, sizeof(*a));
	a->type = t;
	a->meta = meta;
}

static struct bw_evidence *evidence_from_meta(struct bw_alert *a, const char *kind, const struct bw_obs_meta *meta)
{
	struct bw_evidence *e = bw_alert_evidence(a, kind);
	e->ts = meta->ts;
	e->file = meta->file;
	e->packet = meta->packet;
	return e;
}

/* ---- DNS ---- */

static bool rr_addr(const struct bw_dns_msg *m, const struct bw_dns_rr *rr, struct bw_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (rr->type == BW_DNS_T_A && rr->rdlen == 4) {
		ip->family = 4;
		memcpy(ip->a, m->wire + rr->rdata_off, 4);
		return true;
	}
	if (rr->type == BW_DNS_T_AAAA && rr->rdlen == 16) {
		ip->family = 6;
		memcpy(ip->a, m->wire + rr->rdata_off, 16);
		return true;
	}
	return false;
}

/*
 * The names in this response whose CNAME chain (within the response) leads
 * from the question to target, question first; returns how many (0 if the
 * question does not lead to target).
 */
#define MAX_CHAIN 16
static int chain_to(const struct bw_dns_msg *m, const char *qname, const char *target, char names[][NAME_CAP])
{
	int n = 0;
	char cur[NAME_CAP];
	snprintf(cur, sizeof(cur), "%s", qname);
	while (n < MAX_CHAIN) {
		snprintf(names[n++], NAME_CAP, "%s", cur);
		if (strcmp(cur, target) == 0)
			return n;
		bool moved = false;
		for (unsigned i = 0; i < m->n_rr && !moved; i++) {
			const struct bw_dns_rr *rr = &m->rr[i];
			char owner[NAME_CAP];
			if (rr->section != BW_DNS_ANSWER || rr->type != BW_DNS_T_CNAME || rr->bad)
				continue;
			if (bw_dns_name_text(m, rr->name_off, true, owner, sizeof(owner)) < 0 || strcmp(owner, cur) != 0)
				continue;
			if (bw_dns_name_text(m, rr->rdata_off, true, cur, sizeof(cur)) >= 0)
				moved = true;
		}
		if (!moved)
			return 0;
	}
	return 0;
}

static bool zone_allows_addr(const struct bw_detect_env *env, const char *name, const struct bw_ip *ip)
{
	if (!env->zones)
		return false;
	size_t n = 0;
	const struct bw_zone_rr *rr = bw_zones_lookup(env->zones, name, ip->family == 4 ? BW_DNS_T_A : BW_DNS_T_AAAA, &n);
	for (size_t i = 0; rr && i < n; i++)
		if (bw_zone_record_matches(&rr[i], rr[i].type, ip->a, ip->family == 4 ? 4 : 16))
			return true;
	return false;
}

static void check_unexpected_address(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta,
				     const char *qname, const char *owner, const struct bw_ip *ip, uint32_t ttl)
{
	const struct bw_detect_env *env = w->cfg.detect;
	const struct bw_policy *p = env->policy;
	char chain[MAX_CHAIN][NAME_CAP];
	int n = chain_to(m, qname, owner, chain);
	if (n == 0) {
		snprintf(chain[0], NAME_CAP, "%s", owner);
		n = 1;
	}
	/* The owned name this address answers for: the first owned one on the chain. */
	const char *name = NULL, *dom = NULL;
	for (int i = 0; i < n && !name; i++)
		if ((dom = owned_domain(p, chain[i])) != NULL)
			name = chain[i];
	if (!name)
		return;
	if (bw_policy_owns_addr(p, ip) || bw_policy_cloud_resource_addr(p, ip))
		return;
	for (int i = 0; i < n; i++)
		if (bw_policy_cloud_resource_name(p, chain[i], strlen(chain[i])) || zone_allows_addr(env, chain[i], ip))
			return;

	struct bw_alert a;
	char ipt[64], via[512] = "", pol[300], summ[1200];
	alert_init(&a, BW_AL_DNS_UNEXPECTED_ADDRESS, meta);
	bw_ip_str(ip, ipt, sizeof(ipt));
	for (int i = 1; i < n; i++) {
		size_t l = strlen(via);
		snprintf(via + l, sizeof(via) - l, " -> %s", chain[i]);
	}
	snprintf(a.reason, sizeof(a.reason),
		 "%s (owned under %s) resolved to %s%s%s, which is outside owned.networks and owned.cloud_resources "
		 "and not in its zone file.",
		 name, dom, ipt, n > 1 ? " via" : "", via);
	snprintf(pol, sizeof(pol), "owned.domains: %s; owned.networks", dom);
	a.name = name;
	a.addr = *ip;
	a.policy = pol;
	struct bw_evidence *e = evidence_from_meta(&a, "dns", meta);
	e->name = qname;
	e->addr = *ip;
	snprintf(summ, sizeof(summ), "%s%s -> %s %s ttl %u (response id %u from %s)", chain[0], via, owner, ipt, ttl,
		 m->id, bw_ip_str(&meta->src, pol + 200, 64));
	e->summary = summ;
	raise(w, &a);
}

static void check_drift(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta,
			const struct bw_dns_rr *rr, const char *owner)
{
	const struct bw_detect_env *env = w->cfg.detect;
	if (!env->zones || rr->type == BW_DNS_T_RRSIG || rr->type == BW_DNS_T_OPT || rr->type == BW_DNS_T_NSEC ||
	    rr->type == BW_DNS_T_NSEC3 || rr->bad)
		return;
	const struct bw_zone *z = bw_zones_find_zone(env->zones, owner);
	if (!z)
		return;
	uint8_t rd[65535 + 512];
	int rl = bw_dns_rdata_uncompressed(m, rr, rd, sizeof(rd));
	if (rl < 0)
		return;
	size_t n = 0;
	const struct bw_zone_rr *zr = bw_zones_lookup(env->zones, owner, rr->type, &n);
	bool found = false;
	if (zr) {
		struct drift_entry *de = drift_get(w->detect, zr, n, owner, rr->type);
		for (size_t i = 0; i < n; i++)
			if (bw_zone_record_matches(&zr[i], rr->type, rd, (size_t)rl)) {
				found = true;
				if (de)
					de->matched[i] = 1;
			}
		if (de && meta->ts > de->last_ts)
			de->last_ts = meta->ts;
	}
	if (found)
		return;
	struct bw_alert a;
	char text[1024], tn[16], pol[400], summ[1400];
	alert_init(&a, BW_AL_DNS_RECORD_DRIFT, meta);
	if (bw_dns_rdata_text(m, rr, text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "(%u bytes)", rr->rdlen);
	const char *tname = bw_dns_type_text(rr->type, tn, sizeof(tn));
	snprintf(a.reason, sizeof(a.reason), "%s %s %s was answered but is not in the zone file of %s (%s)%s.", owner,
		 tname, text, z->origin, z->file,
		 zr ? "; the zone has other records of this type for the name" : "; the zone has no such record set");
	snprintf(pol, sizeof(pol), "owned.zones: %s", z->file);
	a.name = owner;
	a.policy = pol;
	snprintf(a.dedup_key, sizeof(a.dedup_key), "dns_record_drift|%s|%s|%.200s", owner, tname, text);
	struct bw_evidence *e = evidence_from_meta(&a, "dns", meta);
	e->name = owner;
	snprintf(summ, sizeof(summ), "answer %s %u %s %s", owner, rr->ttl, tname, text);
	e->summary = summ;
	if (zr) {
		struct bw_evidence *ze = bw_alert_evidence(&a, "zone");
		ze->name = owner;
		ze->summary = zr[0].text;
	}
	raise(w, &a);
}

void bw_detect_dns(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta)
{
	const struct bw_detect_env *env = w->cfg.detect;
	if (!env || !m->qr || m->n_qd == 0 || m->opcode != 0)
		return;
	char qname[NAME_CAP], owner[NAME_CAP], target[NAME_CAP];
	if (bw_dns_name_text(m, m->qd[0].name_off, true, qname, sizeof(qname)) < 0)
		return;
	bw_time_t now = meta->ts;
	if (env->bindings)
		bw_bind_name_rcode(env->bindings, qname, strlen(qname), m->rcode, now);

	for (unsigned i = 0; i < m->n_rr; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		if (rr->section != BW_DNS_ANSWER || rr->bad)
			continue;
		if (bw_dns_name_text(m, rr->name_off, true, owner, sizeof(owner)) < 0)
			continue;
		struct bw_ip ip;
		if (rr_addr(m, rr, &ip)) {
			if (env->bindings)
				bw_bind_name_addr(env->bindings, owner, strlen(owner), &ip, rr->ttl, now);
			if (env->policy)
				check_unexpected_address(w, m, meta, qname, owner, &ip, rr->ttl);
		} else if (rr->type == BW_DNS_T_CNAME && env->bindings &&
			   bw_dns_name_text(m, rr->rdata_off, true, target, sizeof(target)) >= 0) {
			bw_bind_name_cname(env->bindings, owner, strlen(owner), target, strlen(target), rr->ttl, now);
		}
		if (env->policy && env->zones && owned_domain(env->policy, owner))
			check_drift(w, m, meta, rr, owner);
	}
	bw_detect_dangling_dns(w, m, meta);
}

/* End-of-run drift alerts come out sorted by name and type: the table is
 * keyed by addresses, whose order changes from run to run. */
static int cmp_drift(const void *a, const void *b)
{
	const struct drift_entry *x = *(const struct drift_entry *const *)a, *y = *(const struct drift_entry *const *)b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return (int)x->type - (int)y->type;
}

void bw_detect_finish(struct bw_worker *w)
{
	const struct bw_detect_env *env = w->cfg.detect;
	if (!env || !w->detect)
		return;
	bw_detect_dangling_finish(w);
	if (w->detect->count == 0)
		return;
	struct drift_entry **all = malloc(w->detect->count * sizeof(*all));
	if (!all)
		return;
	size_t na = 0;
	for (size_t b = 0; b < DRIFT_BUCKETS; b++)
		for (struct drift_entry *e = w->detect->b[b]; e && na < w->detect->count; e = e->next)
			all[na++] = e;
	qsort(all, na, sizeof(*all), cmp_drift);
	for (size_t k = 0; k < na; k++) {
		{
			struct drift_entry *e = all[k];
			/* Only a set some of whose records were answered can show a
			 * record that never was; a set answered with other data
			 * already gave its drift alert when it was answered. */
			bool any = false;
			for (size_t i = 0; i < e->n; i++)
				any |= e->matched[i] != 0;
			if (!any)
				continue;
			for (size_t i = 0; i < e->n; i++) {
				if (e->matched[i])
					continue;
				struct bw_alert a;
				char pol[400], tn[16];
				const char *tname = bw_dns_type_text(e->type, tn, sizeof(tn));
				alert_init(&a, BW_AL_DNS_RECORD_DRIFT, NULL);
				const struct bw_zone *z = bw_zones_find_zone(env->zones, e->name);
				snprintf(a.reason, sizeof(a.reason),
					 "The zone file has %s %s %s, but no answer for %s %s seen in this run carried it "
					 "while other records of the set were answered.",
					 e->name, tname, e->first[i].text, e->name, tname);
				snprintf(pol, sizeof(pol), "owned.zones: %s", z ? z->file : "?");
				a.name = e->name;
				a.policy = pol;
				snprintf(a.dedup_key, sizeof(a.dedup_key), "dns_record_drift|%s|%s|zone:%.200s", e->name,
					 tname, e->first[i].text);
				struct bw_evidence *ze = bw_alert_evidence(&a, "zone");
				ze->ts = e->last_ts;
				ze->name = e->name;
				ze->summary = e->first[i].text;
				raise(w, &a);
			}
		}
	}
	free(all);
}

/* ---- TLS ---- */

static bool chain_untrusted(enum bw_x509_reason r)
{
	return r != BW_X509_OK && r != BW_X509_EXPIRED && r != BW_X509_NAME_MISMATCH;
}

static void tls_evidence(struct bw_alert *a, const struct bw_tls_view *v, const struct bw_obs_meta *meta,
			 const char *sni, char *buf, size_t cap)
{
	struct bw_evidence *e = evidence_from_meta(a, "tls", meta);
	const struct bw_x509_info *leaf = v->n_certs ? v->certs[0] : NULL;
	char ipt[64], nb[BW_TLS_NAME_BUF];
	e->name = sni;
	e->addr = meta->dst;
	e->port = meta->dport;
	if (leaf) {
		e->cert_sha256 = leaf->sha256_hex;
		snprintf(buf, cap, "%s %s handshake for %s at %s:%u presented %s issued by %s, valid %s to %s",
			 v->protocol, v->version ? bw_tls_version_name(v->version, nb, sizeof(nb)) : "?", sni,
			 bw_ip_str(&meta->dst, ipt, sizeof(ipt)), meta->dport, leaf->subject.dn, leaf->issuer.dn,
			 leaf->not_before_iso, leaf->not_after_iso);
	} else {
		snprintf(buf, cap, "%s %s handshake for %s at %s:%u (certificate %s)", v->protocol,
			 v->version ? bw_tls_version_name(v->version, nb, sizeof(nb)) : "?", sni,
			 bw_ip_str(&meta->dst, ipt, sizeof(ipt)), meta->dport,
			 v->cert_visible ? "not parsed" : "encrypted (TLS 1.3)");
	}
	e->summary = buf;
}

static void cert_alert(struct bw_worker *w, enum bw_alert_type t, int sev, const struct bw_tls_view *v,
		       const struct bw_obs_meta *meta, const char *sni, const char *policy, const char *reason)
{
	struct bw_alert a;
	char summ[1600];
	const struct bw_x509_info *leaf = v->n_certs ? v->certs[0] : NULL;
	alert_init(&a, t, meta);
	a.severity = sev;
	snprintf(a.reason, sizeof(a.reason), "%s", reason);
	a.name = sni;
	a.addr = meta->dst;
	a.port = meta->dport;
	a.cert_sha256 = leaf ? leaf->sha256_hex : NULL;
	a.policy = policy;
	tls_evidence(&a, v, meta, sni, summ, sizeof(summ));
	raise(w, &a);
}

static bool ip_in(const struct bw_name_addr *v, int n, const struct bw_ip *ip)
{
	for (int i = 0; i < n; i++)
		if (v[i].addr.family == ip->family && memcmp(v[i].addr.a, ip->a, 16) == 0)
			return true;
	return false;
}

static void check_server_in_dns(struct bw_worker *w, const struct bw_tls_view *v, const struct bw_obs_meta *meta,
				const char *sni, const char *pol)
{
	struct bw_bindings *b = w->cfg.detect->bindings;
	struct bw_name_addr live[16], all[16];
	struct bw_cname_chain ch;
	char names[BW_BINDINGS_CNAME_HOPS + 1][NAME_CAP];
	int nn = 0;
	snprintf(names[nn++], NAME_CAP, "%s", sni);
	int hops = bw_follow_cname_chain(b, sni, strlen(sni), meta->ts, false, &ch);
	for (int i = 0; i < hops && nn <= BW_BINDINGS_CNAME_HOPS; i++)
		snprintf(names[nn++], NAME_CAP, "%s", ch.hop[i].target);
	bool seen = hops > 0, seen_addr_expired = false;
	struct bw_name_rcode rc;
	if (bw_lookup_name_rcode(b, sni, strlen(sni), &rc) == BW_OK)
		seen = true;
	for (int i = 0; i < nn; i++) {
		int nl = bw_lookup_name_addrs(b, names[i], strlen(names[i]), meta->ts, live, BW_ARRAY_SIZE(live));
		if (nl > 0 && ip_in(live, BW_MIN(nl, 16), &meta->dst))
			return; /* DNS pointed here within its TTL */
		int na = bw_lookup_name_addrs_all(b, names[i], strlen(names[i]), all, BW_ARRAY_SIZE(all));
		if (na > 0)
			seen = true;
		if (na > 0 && ip_in(all, BW_MIN(na, 16), &meta->dst))
			seen_addr_expired = true;
	}
	if (!seen)
		return; /* no DNS for the name in this traffic: nothing to compare with */

	struct bw_alert a;
	char ipt[64], exp[40], summ[1600], dsum[BW_ARRAY_SIZE(all)][256];
	alert_init(&a, BW_AL_TLS_SERVER_NOT_IN_DNS, meta);
	bw_ip_str(&meta->dst, ipt, sizeof(ipt));
	snprintf(a.reason, sizeof(a.reason),
		 "A TLS server answered for %s at %s:%u, but no DNS answer for %s%s pointed there within its TTL "
		 "(DNS for the name was seen%s).",
		 sni, ipt, meta->dport, sni, nn > 1 ? " or its CNAME chain" : "",
		 seen_addr_expired ? "; this address was answered before but its TTL had run out"
				   : "; it never gave this address");
	a.name = sni;
	a.addr = meta->dst;
	a.port = meta->dport;
	a.policy = pol;
	const struct bw_x509_info *leaf = v->n_certs ? v->certs[0] : NULL;
	a.cert_sha256 = leaf ? leaf->sha256_hex : NULL;
	tls_evidence(&a, v, meta, sni, summ, sizeof(summ));
	unsigned k = 0;
	for (int i = 0; i < nn && k < BW_ARRAY_SIZE(dsum); i++) {
		int na = bw_lookup_name_addrs_all(b, names[i], strlen(names[i]), all, BW_ARRAY_SIZE(all));
		for (int j = 0; j < BW_MIN(na, 16) && k < 5; j++, k++) {
			struct bw_evidence *e = bw_alert_evidence(&a, "dns_binding");
			e->ts = all[j].last_seen;
			e->name = names[i];
			e->addr = all[j].addr;
			snprintf(dsum[k], sizeof(dsum[k]), "%s -> %s ttl %u, %s at %s", names[i],
				 bw_ip_str(&all[j].addr, ipt, sizeof(ipt)), all[j].ttl,
				 all[j].expires > meta->ts ? "live until" : "expired", bw_time_rfc3339(all[j].expires, exp, sizeof(exp)));
			e->summary = dsum[k];
		}
	}
	raise(w, &a);
}

void bw_detect_tls(struct bw_worker *w, const struct bw_tls_view *v, const struct bw_obs_meta *meta,
		   struct x509_st *const *x509s)
{
	const struct bw_detect_env *env = w->cfg.detect;
	(void)x509s;
	if (!env || !v->ch || !v->ch->has_sni || !v->ch->sni_valid)
		return;
	char sni[BW_TLS_SNI_TEXT_MAX];
	snprintf(sni, sizeof(sni), "%s", v->ch->sni);
	for (char *c = sni; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	size_t sl = strlen(sni);
	if (sl && sni[sl - 1] == '.')
		sni[--sl] = '\0';
	const struct bw_policy *p = env->policy;
	const struct bw_x509_info *leaf = v->n_certs ? v->certs[0] : NULL;
	bw_detect_dangling_tls(w, v, meta, x509s, sni);
	const char *dom = owned_domain(p, sni);
	if (p && !dom)
		return; /* a third party's name */
	char pol[320], reason[512];
	int low = p ? 0 : 1; /* without a policy every name, at low severity */
	if (p)
		snprintf(pol, sizeof(pol), "owned.domains: %s", dom);
	else
		snprintf(pol, sizeof(pol), "(no policy: default certificate checks)");

	/* (server, SNI) -> certificate, and what it was before */
	bool changed = false;
	struct bw_cert_seen prev;
	if (leaf && env->bindings) {
		struct bw_bound_name names[16];
		int nn = bw_lookup_cert_names(env->bindings, leaf->sha256, names, BW_ARRAY_SIZE(names));
		bool known_for_name = false;
		for (int i = 0; i < BW_MIN(nn, 16); i++)
			if (strcmp(names[i].name, sni) == 0)
				known_for_name = true;
		int r = bw_bind_server_cert(env->bindings, &meta->dst, meta->dport, sni, sl, leaf->sha256, meta->ts, &prev);
		changed = r == BW_BIND_NEW_VALUE && !known_for_name;
	}

	if (leaf && v->verdict) {
		const struct bw_x509_verdict *vd = v->verdict;
		if (vd->name_checked && vd->name == BW_X509_NAME_MISMATCH) {
			snprintf(reason, sizeof(reason),
				 "The certificate presented for %s does not cover that name (subject %s, %u "
				 "alternative names%s%s).",
				 sni, leaf->subject.dn, leaf->san_count, leaf->san_count ? ", first " : "",
				 leaf->san_count ? leaf->san[0].value : "");
			cert_alert(w, BW_AL_CERT_NAME_MISMATCH, low, v, meta, sni, pol, reason);
		}
		if (chain_untrusted(vd->chain)) {
			snprintf(reason, sizeof(reason), "The certificate chain presented for %s does not validate: %s.", sni,
				 vd->detail[0] ? vd->detail : bw_x509_reason_name(vd->chain));
			cert_alert(w, BW_AL_CERT_UNTRUSTED, low, v, meta, sni, pol, reason);
		}
		if (leaf->times_ok && leaf->not_after < meta->ts) {
			snprintf(reason, sizeof(reason), "The certificate presented for %s expired on %s, before the capture.",
				 sni, leaf->not_after_iso);
			cert_alert(w, BW_AL_CERT_EXPIRED, low ? 1 : 0, v, meta, sni, pol, reason);
		} else if (p && leaf->times_ok &&
			   leaf->not_after - meta->ts < (bw_time_t)p->certificates.expiry_warning_days * 86400 * BW_NSEC_PER_SEC) {
			snprintf(reason, sizeof(reason),
				 "The certificate presented for %s expires on %s, within the %u-day renewal lead time.", sni,
				 leaf->not_after_iso, p->certificates.expiry_warning_days);
			char pol2[400];
			snprintf(pol2, sizeof(pol2), "certificates.expiry_warning_days: %u", p->certificates.expiry_warning_days);
			cert_alert(w, BW_AL_CERT_EXPIRING, 0, v, meta, sni, pol2, reason);
		}
	}
	if (!p)
		return;

	if (leaf && bw_nameset_count(p->certificates.allowed_issuers) > 0) {
		const char *const *doms = NULL;
		size_t nd = 0;
		bool ok = false;
		if (env->caa &&
		    bw_caa_issuer_domains_for(env->caa, leaf->issuer.o, leaf->issuer.cn, &doms, &nd) == BW_OK) {
			for (size_t i = 0; i < nd && !ok; i++)
				ok = bw_policy_issuer_allowed(p, doms[i]);
		}
		if (!ok) {
			snprintf(reason, sizeof(reason),
				 "The certificate for %s was issued by %s (%s), which is not among certificates.allowed_issuers%s.",
				 sni, leaf->issuer.dn, nd ? doms[0] : "no known CAA identifier",
				 nd ? "" : " (its CA is not in the CAA issuer table)");
			cert_alert(w, BW_AL_CERT_ISSUER_UNEXPECTED, 0, v, meta, sni, "certificates.allowed_issuers", reason);
		}
	}
	const struct bw_policy_pin *pin = bw_policy_pin_for(p, sni);
	if (leaf && pin) {
		bool ok = false;
		for (unsigned c = 0; c < v->n_certs && !ok; c++)
			for (size_t i = 0; v->certs[c] && i < pin->n_spki && !ok; i++)
				ok = memcmp(pin->spki[i], v->certs[c]->spki_sha256, 32) == 0;
		if (!ok) {
			snprintf(reason, sizeof(reason),
				 "%s presented a key (SPKI SHA-256 %s) that matches none of its %zu pin(s).", sni,
				 leaf->spki_sha256_b64, pin->n_spki);
			char pol2[200];
			snprintf(pol2, sizeof(pol2), "certificates.pins (line %u)", pin->line);
			cert_alert(w, BW_AL_CERT_PIN_MISMATCH, 0, v, meta, sni, pol2, reason);
		}
	}
	if (changed) {
		char ph[65];
		for (int i = 0; i < 32; i++)
			snprintf(ph + 2 * i, 3, "%02x", prev.sha256[i]);
		snprintf(reason, sizeof(reason),
			 "%s now presents a certificate not seen for it before (SHA-256 %s; previously %s, seen %u times).",
			 sni, leaf->sha256_hex, ph, prev.count);
		cert_alert(w, BW_AL_CERT_CHANGED, 0, v, meta, sni, pol, reason);
	}
	if (env->bindings)
		check_server_in_dns(w, v, meta, sni, pol);
}
