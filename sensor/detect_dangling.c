/* SPDX-License-Identifier: MIT */
/*
 * detect_dangling.c: DNS trust-hygiene detectors. They look for records an
 * owner left pointing at something nobody holds any more (a CNAME or MX to
 * a name that answers NXDOMAIN or sits under a service anyone can sign up
 * to, an address in a cloud range we do not hold), and for weak DNS
 * settings a passive sensor can see in answers (open zone transfers, CAA
 * that does not allow the CA that issued a certificate, permissive SPF and
 * DMARC, RRSIGs about to expire, DS records that match no DNSKEY), and for
 * delegations of owned zones to nameservers that do not serve them.
 *
 * Most faults need two observations that may come in either order and in
 * separate responses (the CNAME, then the NXDOMAIN of its target). What
 * fits the shared binding tables goes there (name -> CNAME, name -> rcode
 * with NXDOMAIN times); the rest lives in small fixed per-worker tables
 * allocated once (struct bw_dangling): a reverse index "target -> owned
 * alias" so a later NXDOMAIN finds the alias, the CAA RRsets observed per
 * name, DS and DNSKEY seen per owned zone, zone transfers in progress, and
 * the delegations of owned zones with their nameservers' addresses and
 * failing answers.
 * Each table has a fixed number of slots; when the probe window is full
 * the entry updated longest ago is replaced (counted in evicted), so memory
 * is bounded whatever the traffic. State is per worker: a pair of
 * observations spread over two workers is missed, which is why alerts are
 * only promised for a one-worker run.
 */
#include "detect.h"

/* Reasons and summaries are text for people, cut to their buffers on purpose
 * when a hostile name is very long; the JSON writer escapes what remains. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../parsers/wire.h"
#include "../parsers/x509.h"
#include "bindings.h"
#include "json.h"
#include "nameset.h"
#include "policy.h"
#include "refdata.h"
#include "worker_impl.h"

#define NAME_CAP BW_DNS_MAX_NAME_TEXT
#define KEY_CAP 256      /* names tracked in the per-worker tables (longer ones are not tracked) */
#define PROBE 8          /* slots looked at per key */
#define ALIAS_SLOTS 4096 /* target -> owned alias (CNAME and MX) */
#define CAA_SLOTS 1024   /* name -> observed CAA RRset */
#define CAA_PROPS 8      /* issue / issuewild values kept per name */
#define CAA_VALUE 128
#define ZONE_SLOTS 256   /* owned zone -> DS and DNSKEY seen */
#define ZONE_KEYS 16
#define XFR_SLOTS 64     /* zone transfers in progress */
#define MAX_CHAIN 16
#define MAX_CAND 16
#define NSREC_SLOTS 512  /* (nameserver, owned zone) pairs from NS answers and referrals */
#define NSHOST_SLOTS 256 /* nameserver -> its addresses (glue, answers) */
#define NSHOST_ADDRS 4
#define NSADDR_SLOTS 512 /* address -> nameserver (the reverse) */
#define NSFAIL_SLOTS 256 /* server address -> its SERVFAIL / REFUSED / NXDOMAIN answers for owned names */
#define NODATA_SLOTS 512 /* name -> NOERROR answers without an A / AAAA record */
#define MAX_NS 16        /* NS records learned per message */
#define RC_SERVFAIL 2
#define RC_REFUSED 5

/* Two observations further apart than this (packet time) are not paired. */
#define PAIR_WINDOW ((bw_time_t)3600 * BW_NSEC_PER_SEC)

struct slot_head {
	char key[KEY_CAP];
	bw_time_t used; /* 0: free */
};

/* Where an observation was, copied (the frame's file name may not outlive it). */
struct seen_at {
	bw_time_t ts;
	uint64_t packet;
	char file[256];
	bool has_file;
};

enum alias_kind { ALIAS_CNAME = 1, ALIAS_MX = 2 };

struct alias_ent {
	struct slot_head h; /* key: the target */
	char alias[KEY_CAP];
	uint8_t kind;
};

struct caa_ent {
	struct slot_head h; /* key: the name queried */
	struct seen_at at;
	uint8_t n_issue, n_wild;
	bool empty;
	char issue[CAA_PROPS][CAA_VALUE], wild[CAA_PROPS][CAA_VALUE];
	char text[256]; /* the RRset as seen, for evidence */
};

struct ds_rec {
	uint16_t tag;
	uint8_t alg, dtype;
	uint8_t dlen;
	uint8_t digest[64];
	struct seen_at at;
};

struct key_rec {
	uint16_t tag;
	uint8_t alg;
	uint8_t d1[20], d2[32], d4[48]; /* the DS digests this key would have (SHA-1, SHA-256, SHA-384) */
};

struct zone_ent {
	struct slot_head h; /* key: the zone (owner of DS / DNSKEY) */
	uint8_t n_ds, n_key;
	struct ds_rec ds[ZONE_KEYS];
	struct key_rec key[ZONE_KEYS];
	struct seen_at key_at;
};

struct xfr_ent {
	struct slot_head h; /* key: zone; client below */
	struct bw_ip client;
	struct seen_at first;
	uint64_t records, names;
	char last_owner[KEY_CAP];
	uint16_t qtype;
};

/* One delegation: host is a nameserver of the owned zone (NS answer or referral). */
struct nsrec_ent {
	struct slot_head h; /* key: the nameserver's name */
	char zone[KEY_CAP];
	struct seen_at at;  /* the latest NS record seen for the pair */
	bool referral;
};

struct nshost_ent {
	struct slot_head h; /* key: the nameserver's name */
	uint8_t n;
	struct bw_ip addr[NSHOST_ADDRS];
};

struct nsaddr_ent {
	struct slot_head h; /* key: the address as text */
	char host[KEY_CAP];
};

struct nsfail_ent {
	struct slot_head h; /* key: the answering server's address as text */
	char qname[KEY_CAP];
	uint16_t rcode, qtype;
	struct bw_ip server;
	struct seen_at at;
};

struct nodata_ent {
	struct slot_head h;     /* key: the name */
	struct seen_at a, aaaa; /* ts 0: no such answer since the name last had an address of that type */
};

struct ns_learned {
	char zone[KEY_CAP], host[KEY_CAP];
	bool fresh; /* the pair was not known before this message */
};

struct bw_dangling {
	struct alias_ent alias[ALIAS_SLOTS];
	struct caa_ent caa[CAA_SLOTS];
	struct zone_ent zone[ZONE_SLOTS];
	struct xfr_ent xfr[XFR_SLOTS];
	struct nsrec_ent nsrec[NSREC_SLOTS];
	struct nshost_ent nshost[NSHOST_SLOTS];
	struct nsaddr_ent nsaddr[NSADDR_SLOTS];
	struct nsfail_ent nsfail[NSFAIL_SLOTS];
	struct nodata_ent nodata[NODATA_SLOTS];
	struct ns_learned learned[MAX_NS]; /* scratch: the NS records of the message being looked at */
	struct bw_cname_chain chain; /* large: kept here rather than on the stack */
	char names[MAX_CHAIN][NAME_CAP]; /* the CNAME chain inside the response being looked at */
	uint64_t evicted;    /* entries replaced in the other tables */
	uint64_t ns_evicted; /* entries replaced in the delegation tables */
};

struct bw_dangling *bw_dangling_new(void) { return calloc(1, sizeof(struct bw_dangling)); }
void bw_dangling_free(struct bw_dangling *d) { free(d); }

void bw_dangling_evictions(const struct bw_dangling *d, uint64_t *tables, uint64_t *delegations)
{
	*tables = d ? d->evicted : 0;
	*delegations = d ? d->ns_evicted : 0;
}

/* ---- small tables ---- */

static uint32_t hash_key(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

#define HEAD(base, stride, i) ((struct slot_head *)((char *)(base) + (size_t)(i) * (stride)))

/* The slot for key (eq: also compares what follows the head), or a free /
 * stalest slot in its probe window when create; NULL otherwise. */
static struct slot_head *slot_get(void *base, size_t stride, size_t n, const char *key, bool create,
				  bool (*eq)(const struct slot_head *, const void *), const void *arg, uint64_t *evicted)
{
	if (strlen(key) >= KEY_CAP)
		return NULL;
	size_t h = hash_key(key) % n;
	struct slot_head *victim = NULL;
	for (size_t k = 0; k < PROBE; k++) {
		struct slot_head *s = HEAD(base, stride, (h + k) % n);
		if (s->used && strcmp(s->key, key) == 0 && (!eq || eq(s, arg)))
			return s;
		if (!victim || s->used < victim->used)
			victim = s;
	}
	if (!create)
		return NULL;
	if (victim->used)
		(*evicted)++;
	memset(victim, 0, stride);
	snprintf(victim->key, KEY_CAP, "%s", key);
	return victim;
}

static void seen_from_meta(struct seen_at *s, const struct bw_obs_meta *meta)
{
	s->ts = meta->ts;
	s->packet = meta->packet;
	s->has_file = meta->file != NULL;
	snprintf(s->file, sizeof(s->file), "%s", meta->file ? meta->file : "");
}

static void evidence_from_seen(struct bw_evidence *e, const struct seen_at *s)
{
	e->ts = s->ts;
	e->packet = s->packet;
	e->file = s->has_file ? s->file : NULL;
}

/* ---- helpers shared with the other detectors' conventions ---- */

static void emit_cb(void *ctx, enum bw_event_type t, bw_time_t ts) { bw_worker_emit(ctx, t, ts); }

static void raise(struct bw_worker *w, struct bw_alert *a)
{
	const struct bw_detect_env *env = w->cfg.detect;
	if (env->policy && bw_policy_ignored_type(env->policy, (int)a->type, a->name, a->name ? strlen(a->name) : 0))
		return;
	if (bw_alerts_raise(env->alerts, a, &w->json, emit_cb, w))
		w->st.alerts++;
}

static const char *parent_of(const char *s)
{
	const char *dot = strchr(s, '.');
	while (dot && dot > s && dot[-1] == '\\')
		dot = strchr(dot + 1, '.');
	return dot ? dot + 1 : NULL;
}

static const char *owned_domain(const struct bw_policy *p, const char *name)
{
	if (!p)
		return NULL;
	for (const char *s = name; s; s = parent_of(s))
		if (bw_nameset_contains_exact(p->owned.domains, s, strlen(s)))
			return s;
	return NULL;
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

static bool within(bw_time_t a, bw_time_t b) { return (a > b ? a - b : b - a) <= PAIR_WINDOW; }

/* Is c (ASCII) the start of s, case-insensitive, followed by a space or the end? */
static bool starts_word(const char *s, const char *c)
{
	size_t n = strlen(c);
	return strncasecmp(s, c, n) == 0 && (s[n] == '\0' || s[n] == ' ' || s[n] == ';');
}

/* A TXT record's character-strings joined (RFC 7208 3.3: SPF joins them without
 * a separator), non-printable bytes as '?'. Returns false on a bad rdata. */
static bool txt_join(const struct bw_dns_msg *m, const struct bw_dns_rr *rr, char *out, size_t cap)
{
	struct bw_wire c;
	size_t o = 0;
	bw_wire_init(&c, m->wire + rr->rdata_off, rr->rdlen);
	while (bw_wire_ok(&c) && bw_wire_left(&c) > 0) {
		uint8_t l = bw_wire_u8(&c);
		const uint8_t *p = bw_wire_ptr(&c, l);
		if (!p)
			return false;
		for (size_t i = 0; i < l && o + 1 < cap; i++)
			out[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	}
	out[o] = '\0';
	return bw_wire_ok(&c);
}

/* The end of the in-response CNAME chain from qname (qname itself if none). */
static void chain_end(const struct bw_dns_msg *m, const char *qname, char *out, char names[][NAME_CAP], int *n_names)
{
	char cur[NAME_CAP];
	int n = 0;
	snprintf(cur, sizeof(cur), "%s", qname);
	snprintf(names[n++], NAME_CAP, "%s", cur);
	for (int hop = 0; hop < MAX_CHAIN - 1; hop++) {
		bool moved = false;
		for (unsigned i = 0; i < m->n_rr && !moved; i++) {
			const struct bw_dns_rr *rr = &m->rr[i];
			char owner[NAME_CAP], t[NAME_CAP];
			if (rr->section != BW_DNS_ANSWER || rr->type != BW_DNS_T_CNAME || rr->bad)
				continue;
			if (bw_dns_name_text(m, rr->name_off, true, owner, sizeof(owner)) < 0 || strcmp(owner, cur) != 0)
				continue;
			if (bw_dns_name_text(m, rr->rdata_off, true, t, sizeof(t)) < 0)
				continue;
			bool loop = false;
			for (int k = 0; k < n; k++)
				loop |= strcmp(names[k], t) == 0;
			if (loop)
				break;
			snprintf(cur, sizeof(cur), "%s", t);
			snprintf(names[n++], NAME_CAP, "%s", cur);
			moved = true;
		}
		if (!moved)
			break;
	}
	snprintf(out, NAME_CAP, "%s", cur);
	*n_names = n;
}

static void add_cand(char cand[][KEY_CAP], int *n, const char *name)
{
	if (strlen(name) >= KEY_CAP || *n >= MAX_CAND)
		return;
	for (int i = 0; i < *n; i++)
		if (strcmp(cand[i], name) == 0)
			return;
	snprintf(cand[(*n)++], KEY_CAP, "%s", name);
}

static bool alias_eq(const struct slot_head *h, const void *arg)
{
	const struct alias_ent *e = (const struct alias_ent *)h;
	const struct alias_ent *k = arg;
	return e->kind == k->kind && strcmp(e->alias, k->alias) == 0;
}

static void alias_add(struct bw_dangling *d, const char *target, const char *alias, uint8_t kind, bw_time_t now)
{
	struct alias_ent k;
	k.kind = kind;
	snprintf(k.alias, sizeof(k.alias), "%s", alias);
	if (strlen(alias) >= KEY_CAP)
		return;
	struct alias_ent *e = (struct alias_ent *)slot_get(d->alias, sizeof(d->alias[0]), ALIAS_SLOTS, target, true,
							  alias_eq, &k, &d->evicted);
	if (!e)
		return;
	if (!e->h.used) {
		snprintf(e->alias, sizeof(e->alias), "%s", alias);
		e->kind = kind;
	}
	e->h.used = now ? now : 1;
}

/* The aliases of kind recorded for target, into cand. */
static void alias_find(struct bw_dangling *d, const char *target, uint8_t kind, char cand[][KEY_CAP], int *n)
{
	if (strlen(target) >= KEY_CAP)
		return;
	size_t h = hash_key(target) % ALIAS_SLOTS;
	for (size_t k = 0; k < PROBE; k++) {
		struct alias_ent *e = &d->alias[(h + k) % ALIAS_SLOTS];
		if (e->h.used && e->kind == kind && strcmp(e->h.key, target) == 0)
			add_cand(cand, n, e->alias);
	}
}

/* Latest rcode of name is NXDOMAIN, seen within the window of now. */
static bool nxdomain_near(struct bw_bindings *b, const char *name, bw_time_t now, struct bw_name_rcode *rc)
{
	if (bw_lookup_name_rcode(b, name, strlen(name), rc) != BW_OK)
		return false;
	return rc->rcode == BW_RCODE_NXDOMAIN && rc->nxdomain_last && within(rc->nxdomain_last, now);
}

static const struct bw_takeover *takeover_prone(const struct bw_detect_env *env, const char *name, uint16_t rtype)
{
	if (!env->takeover)
		return NULL;
	const struct bw_takeover *t = bw_takeover_match(env->takeover, name, strlen(name), rtype);
	return t && t->vulnerable ? t : NULL;
}

/* ---- dangling_cname ---- */

static void eval_cname(struct bw_worker *w, const struct bw_obs_meta *meta, const char *name)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_dangling *d = bw_detect_state_dangling(w->detect);
	const char *dom = owned_domain(env->policy, name);
	if (!dom || !d)
		return;
	struct bw_cname_chain *ch = &d->chain;
	int hops = bw_follow_cname_chain(env->bindings, name, strlen(name), meta->ts, false, ch);
	if (hops <= 0 || ch->loop)
		return;
	for (int i = 0; i < hops; i++) {
		alias_add(d, ch->hop[i].target, name, ALIAS_CNAME, meta->ts);
		if (!within(ch->hop[i].last_seen, meta->ts))
			return;
	}
	const char *target = ch->hop[hops - 1].target;
	struct bw_name_rcode rc;
	if (!nxdomain_near(env->bindings, target, meta->ts, &rc))
		return;
	const struct bw_takeover *t = takeover_prone(env, target, BW_DNS_T_CNAME);

	struct bw_alert a;
	char via[600] = "", pol[300], hs[MAX_CHAIN][300], nx[400], when[40];
	alert_init(&a, BW_AL_DANGLING_CNAME, meta);
	a.severity = t ? 3 : 2;
	for (int i = 0; i < hops; i++) {
		size_t l = strlen(via);
		snprintf(via + l, sizeof(via) - l, " -> %s", ch->hop[i].target);
	}
	bw_time_rfc3339(rc.nxdomain_last, when, sizeof(when));
	if (t)
		snprintf(a.reason, sizeof(a.reason),
			 "%s is an alias (%s%s) of %s, which answered NXDOMAIN (last at %s) and is under %s (%s, %s): "
			 "anyone who claims that name there serves %s.",
			 name, name, via, target, when, t->pattern, t->service, t->status_text, name);
	else
		snprintf(a.reason, sizeof(a.reason),
			 "%s is an alias (%s%s) of %s, which answered NXDOMAIN (last at %s): a stale alias.", name, name,
			 via, target, when);
	snprintf(pol, sizeof(pol), "owned.domains: %s", dom);
	a.name = name;
	a.policy = pol;
	snprintf(a.dedup_key, sizeof(a.dedup_key), "dangling_cname|%.150s|%.200s", name, target);
	struct bw_evidence *e = evidence_from_meta(&a, "dns", meta);
	e->name = name;
	for (int i = 0; i < hops && i < MAX_CHAIN && a.n_evidence < BW_ALERT_MAX_EVIDENCE - 1; i++) {
		struct bw_evidence *he = bw_alert_evidence(&a, "dns");
		const char *from = i ? ch->hop[i - 1].target : name;
		he->ts = ch->hop[i].last_seen;
		he->name = from;
		snprintf(hs[i], sizeof(hs[i]), "%.120s CNAME %.120s ttl %u", from, ch->hop[i].target, ch->hop[i].ttl);
		he->summary = hs[i];
	}
	struct bw_evidence *ne = bw_alert_evidence(&a, "dns");
	ne->ts = rc.nxdomain_last;
	ne->name = target;
	snprintf(nx, sizeof(nx), "%.200s NXDOMAIN, %u time(s)", target, rc.nxdomain_count);
	ne->summary = nx;
	e->summary = hs[0];
	raise(w, &a);
}

/* ---- mx_dangling ---- */

static void mx_alert(struct bw_worker *w, const struct bw_obs_meta *meta, const char *owner, const char *target,
		     const struct bw_takeover *t, const struct bw_name_rcode *rc)
{
	const struct bw_detect_env *env = w->cfg.detect;
	const char *dom = owned_domain(env->policy, owner);
	if (!dom)
		return;
	struct bw_alert a;
	char pol[300], summ[600], nx[400], when[40];
	alert_init(&a, BW_AL_MX_DANGLING, meta);
	if (t)
		snprintf(a.reason, sizeof(a.reason),
			 "The mail exchanger of %s is %s, under %s (%s, %s): whoever claims that name there receives "
			 "%s's mail.",
			 owner, target, t->pattern, t->service, t->status_text, owner);
	else
		snprintf(a.reason, sizeof(a.reason),
			 "The mail exchanger of %s is %s, which does not resolve (NXDOMAIN, last at %s).", owner, target,
			 bw_time_rfc3339(rc->nxdomain_last, when, sizeof(when)));
	snprintf(pol, sizeof(pol), "owned.domains: %s", dom);
	a.name = owner;
	a.policy = pol;
	snprintf(a.dedup_key, sizeof(a.dedup_key), "mx_dangling|%.150s|%.200s", owner, target);
	struct bw_evidence *e = evidence_from_meta(&a, "dns", meta);
	e->name = owner;
	snprintf(summ, sizeof(summ), "%.200s MX %.200s", owner, target);
	e->summary = summ;
	if (!t) {
		struct bw_evidence *ne = bw_alert_evidence(&a, "dns");
		ne->ts = rc->nxdomain_last;
		ne->name = target;
		snprintf(nx, sizeof(nx), "%.200s NXDOMAIN, %u time(s)", target, rc->nxdomain_count);
		ne->summary = nx;
	}
	raise(w, &a);
}

static bool mx_target(const struct bw_dns_msg *m, const struct bw_dns_rr *rr, char *out, size_t cap)
{
	if (rr->type != BW_DNS_T_MX || rr->bad || rr->rdlen < 3)
		return false;
	return bw_dns_name_text(m, (uint16_t)(rr->rdata_off + 2), true, out, cap) >= 0;
}

/* An A/AAAA for name in this message (the additional section's glue counts). */
static bool msg_has_addr(const struct bw_dns_msg *m, const char *name)
{
	for (unsigned i = 0; i < m->n_rr; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		char owner[NAME_CAP];
		if ((rr->type != BW_DNS_T_A && rr->type != BW_DNS_T_AAAA) || rr->bad)
			continue;
		if (bw_dns_name_text(m, rr->name_off, true, owner, sizeof(owner)) >= 0 && strcmp(owner, name) == 0)
			return true;
	}
	return false;
}

static void check_mx(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta,
		     const struct bw_dns_rr *rr, const char *owner)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_dangling *d = bw_detect_state_dangling(w->detect);
	char target[NAME_CAP];
	if (!owned_domain(env->policy, owner) || !mx_target(m, rr, target, sizeof(target)) || strcmp(target, ".") == 0)
		return;
	const struct bw_takeover *t = takeover_prone(env, target, BW_DNS_T_MX);
	if (!t)
		t = takeover_prone(env, target, BW_DNS_T_CNAME);
	if (t) {
		mx_alert(w, meta, owner, target, t, NULL);
		return;
	}
	if (msg_has_addr(m, target))
		return;
	struct bw_name_rcode rc;
	if (env->bindings && nxdomain_near(env->bindings, target, meta->ts, &rc)) {
		mx_alert(w, meta, owner, target, NULL, &rc);
		return;
	}
	if (d)
		alias_add(d, target, owner, ALIAS_MX, meta->ts);
}

/* ---- dangling_cloud_address ---- */

static void check_cloud(struct bw_worker *w, const struct bw_obs_meta *meta, char chain[][NAME_CAP], int n,
			const struct bw_ip *ip, uint32_t ttl)
{
	const struct bw_detect_env *env = w->cfg.detect;
	const struct bw_policy *p = env->policy;
	const char *name = NULL, *dom = NULL;
	for (int i = 0; i < n && !name; i++)
		if ((dom = owned_domain(p, chain[i])) != NULL)
			name = chain[i];
	if (!name || !env->cloud)
		return;
	const struct bw_cloud_range *cr = bw_cloud_lookup(env->cloud, ip);
	if (!cr || bw_policy_owns_addr(p, ip) || bw_policy_cloud_resource_addr(p, ip))
		return;
	for (int i = 0; i < n; i++)
		if (bw_policy_cloud_resource_name(p, chain[i], strlen(chain[i])))
			return;
	struct bw_alert a;
	char ipt[64], pol[300], summ[1200], via[600] = "";
	alert_init(&a, BW_AL_DANGLING_CLOUD_ADDRESS, meta);
	bw_ip_str(ip, ipt, sizeof(ipt));
	for (int i = 1; i < n; i++) {
		size_t l = strlen(via);
		snprintf(via + l, sizeof(via) - l, " -> %s", chain[i]);
	}
	snprintf(a.reason, sizeof(a.reason),
		 "%s resolves to %s, in a %s range (%s%s%s, a /%u), which is not in owned.cloud_resources or "
		 "owned.networks: if the resource was released, someone else may hold the address now.",
		 name, ipt, cr->provider, cr->service[0] ? cr->service : "no service", cr->region[0] ? " " : "",
		 cr->region, cr->plen);
	snprintf(pol, sizeof(pol), "owned.domains: %s; owned.cloud_resources", dom);
	a.name = name;
	a.addr = *ip;
	a.policy = pol;
	snprintf(a.dedup_key, sizeof(a.dedup_key), "dangling_cloud_address|%.200s|%s", name, ipt);
	struct bw_evidence *e = evidence_from_meta(&a, "dns", meta);
	e->name = chain[0];
	e->addr = *ip;
	snprintf(summ, sizeof(summ), "%s%s %s ttl %u (cloud range of %s, data/cloud-ranges line %u)", chain[0], via,
		 ipt, ttl, cr->provider, cr->line);
	e->summary = summ;
	raise(w, &a);
}

/* ---- email_auth_weak ---- */

static void email_alert(struct bw_worker *w, const struct bw_obs_meta *meta, const char *name, const char *dom,
			const char *what, const char *reason, const char *record)
{
	struct bw_alert a;
	char pol[300], summ[1200];
	alert_init(&a, BW_AL_EMAIL_AUTH_WEAK, meta);
	snprintf(a.reason, sizeof(a.reason), "%s", reason);
	snprintf(pol, sizeof(pol), "owned.domains: %s", dom);
	a.name = name;
	a.policy = pol;
	snprintf(a.dedup_key, sizeof(a.dedup_key), "email_auth_weak|%.200s|%s", name, what);
	struct bw_evidence *e = evidence_from_meta(&a, "dns", meta);
	e->name = name;
	snprintf(summ, sizeof(summ), "%s", record);
	e->summary = summ;
	raise(w, &a);
}

/* The SPF record's "all" qualifier ('+', '?', '~', '-'), 'r' for a redirect= modifier, 0 for neither. */
static char spf_all(const char *rec)
{
	const char *s = rec + 6; /* after "v=spf1" */
	char found = 0;
	while (*s) {
		while (*s == ' ')
			s++;
		const char *e = s;
		while (*e && *e != ' ')
			e++;
		size_t l = (size_t)(e - s);
		char q = '+';
		const char *t = s;
		if (l && strchr("+-~?", *t)) {
			q = *t++;
			l--;
		}
		if (l == 3 && strncasecmp(t, "all", 3) == 0)
			return q;
		if (l >= 9 && strncasecmp(s, "redirect=", 9) == 0)
			found = 'r';
		s = e;
	}
	return found;
}

/* The value of DMARC tag (e.g. "p") in rec, into out; false if absent. */
static bool dmarc_tag(const char *rec, const char *tag, char *out, size_t cap)
{
	size_t tl = strlen(tag);
	for (const char *s = rec; *s;) {
		while (*s == ' ' || *s == ';' || *s == '\t')
			s++;
		const char *e = strchr(s, ';');
		if (!e)
			e = s + strlen(s);
		const char *eq = memchr(s, '=', (size_t)(e - s));
		if (eq) {
			const char *k = s, *ke = eq;
			while (ke > k && ke[-1] == ' ')
				ke--;
			if ((size_t)(ke - k) == tl && strncasecmp(k, tag, tl) == 0) {
				const char *v = eq + 1;
				while (v < e && *v == ' ')
					v++;
				const char *ve = e;
				while (ve > v && ve[-1] == ' ')
					ve--;
				snprintf(out, cap, "%.*s", (int)(ve - v), v);
				return true;
			}
		}
		s = e;
	}
	return false;
}

static void check_email(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta,
			const char *qname, const char *end)
{
	const struct bw_detect_env *env = w->cfg.detect;
	if (m->qd[0].type != BW_DNS_T_TXT)
		return;
	char reason[512];
	bool dmarc = strncmp(qname, "_dmarc.", 7) == 0;
	const char *subject = dmarc ? qname + 7 : qname;
	const char *dom = owned_domain(env->policy, subject);
	if (!dom)
		return;
	unsigned n_spf = 0, n_dmarc = 0;
	char rec[2048], first[2048] = "";
	for (unsigned i = 0; i < m->n_rr; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		char owner[NAME_CAP];
		if (rr->section != BW_DNS_ANSWER || rr->type != BW_DNS_T_TXT || rr->bad)
			continue;
		if (bw_dns_name_text(m, rr->name_off, true, owner, sizeof(owner)) < 0 || strcmp(owner, end) != 0)
			continue;
		if (!txt_join(m, rr, rec, sizeof(rec)))
			continue;
		if (!dmarc && starts_word(rec, "v=spf1")) {
			if (n_spf++ == 0)
				snprintf(first, sizeof(first), "%s", rec);
			char q = spf_all(rec);
			if (q == '+' || q == '?') {
				snprintf(reason, sizeof(reason),
					 "The SPF record of %s ends in %call, so any host may send mail as %s.", subject, q,
					 subject);
				email_alert(w, meta, subject, dom, q == '+' ? "spf_pass_all" : "spf_neutral_all", reason, rec);
			} else if (q == 0) {
				snprintf(reason, sizeof(reason),
					 "The SPF record of %s has no all mechanism (nor a redirect), so mail from hosts it "
					 "does not list is neutral.", subject);
				email_alert(w, meta, subject, dom, "spf_no_all", reason, rec);
			}
		} else if (dmarc && starts_word(rec, "v=DMARC1")) {
			n_dmarc++;
			char pv[64] = "";
			if (!dmarc_tag(rec, "p", pv, sizeof(pv)) || strcasecmp(pv, "none") == 0) {
				snprintf(reason, sizeof(reason),
					 "The DMARC policy of %s is %s: receivers are not asked to reject or quarantine "
					 "mail that fails authentication.", subject, pv[0] ? "p=none" : "missing its p= tag");
				email_alert(w, meta, subject, dom, "dmarc_none", reason, rec);
			}
		}
	}
	if (n_spf > 1) {
		snprintf(reason, sizeof(reason),
			 "%s publishes %u SPF records; RFC 7208 makes that a permanent error, so SPF fails open.", subject,
			 n_spf);
		email_alert(w, meta, subject, dom, "spf_multiple", reason, first);
	}
	if (dmarc && n_dmarc == 0 && (m->rcode == 0 || m->rcode == BW_RCODE_NXDOMAIN)) {
		snprintf(reason, sizeof(reason),
			 "%s has no DMARC policy (the TXT lookup of %s answered %s without a v=DMARC1 record).", subject,
			 qname, m->rcode ? "NXDOMAIN" : "NOERROR");
		snprintf(rec, sizeof(rec), "%s TXT: %s", qname, m->rcode ? "NXDOMAIN" : "no v=DMARC1 record");
		email_alert(w, meta, subject, dom, "dmarc_missing", reason, rec);
	}
}

/* ---- CAA ---- */

/* CAA rdata: flags, tag length, tag, value. */
static bool caa_parse(const struct bw_dns_msg *m, const struct bw_dns_rr *rr, char *tag, size_t tcap, char *val,
		      size_t vcap)
{
	struct bw_wire c;
	bw_wire_init(&c, m->wire + rr->rdata_off, rr->rdlen);
	(void)bw_wire_u8(&c);
	uint8_t tl = bw_wire_u8(&c);
	const uint8_t *t = bw_wire_ptr(&c, tl);
	if (!t || tl == 0)
		return false;
	size_t vl = bw_wire_left(&c);
	const uint8_t *v = bw_wire_ptr(&c, vl);
	snprintf(tag, tcap, "%.*s", (int)BW_MIN(tl, 63), (const char *)t);
	size_t o = 0;
	for (size_t i = 0; v && i < vl && o + 1 < vcap; i++)
		val[o++] = (v[i] >= 0x20 && v[i] < 0x7f) ? (char)v[i] : '?';
	val[o] = '\0';
	return true;
}

/* The issuer-domain-name of an issue/issuewild value, lower case ("" = no CA). */
static void caa_issuer(const char *val, char *out, size_t cap)
{
	while (*val == ' ' || *val == '\t')
		val++;
	size_t o = 0;
	for (; *val && *val != ';' && *val != ' ' && *val != '\t' && o + 1 < cap; val++)
		out[o++] = (char)((*val >= 'A' && *val <= 'Z') ? *val - 'A' + 'a' : *val);
	out[o] = '\0';
}

static void check_caa_response(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta,
			       const char *qname, const char *end)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_dangling *d = bw_detect_state_dangling(w->detect);
	const struct bw_policy *p = env->policy;
	if (m->qd[0].type != BW_DNS_T_CAA || !d || (m->rcode != 0 && m->rcode != BW_RCODE_NXDOMAIN))
		return;
	const char *dom = owned_domain(p, qname);
	if (!dom)
		return;
	struct caa_ent *e = (struct caa_ent *)slot_get(d->caa, sizeof(d->caa[0]), CAA_SLOTS, qname, true, NULL, NULL,
						      &d->evicted);
	if (!e)
		return;
	e->h.used = meta->ts ? meta->ts : 1;
	seen_from_meta(&e->at, meta);
	e->n_issue = e->n_wild = 0;
	e->text[0] = '\0';
	unsigned n = 0;
	for (unsigned i = 0; i < m->n_rr; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		char owner[NAME_CAP], tag[64], val[512], iss[CAA_VALUE];
		if (rr->section != BW_DNS_ANSWER || rr->type != BW_DNS_T_CAA || rr->bad)
			continue;
		if (bw_dns_name_text(m, rr->name_off, true, owner, sizeof(owner)) < 0 || strcmp(owner, end) != 0)
			continue;
		if (!caa_parse(m, rr, tag, sizeof(tag), val, sizeof(val)))
			continue;
		n++;
		size_t l = strlen(e->text);
		snprintf(e->text + l, sizeof(e->text) - l, "%s%s \"%s\"", l ? "; " : "", tag, val);
		caa_issuer(val, iss, sizeof(iss));
		if (strcasecmp(tag, "issue") == 0 && e->n_issue < CAA_PROPS)
			snprintf(e->issue[e->n_issue++], CAA_VALUE, "%s", iss);
		else if (strcasecmp(tag, "issuewild") == 0 && e->n_wild < CAA_PROPS)
			snprintf(e->wild[e->n_wild++], CAA_VALUE, "%s", iss);
	}
	e->empty = n == 0;
	if (!e->empty || !bw_nameset_contains_exact(p->owned.domains, qname, strlen(qname)))
		return;
	struct bw_alert a;
	char pol[300], summ[600];
	alert_init(&a, BW_AL_CAA_MISSING, meta);
	snprintf(a.reason, sizeof(a.reason),
		 "The CAA lookup of %s answered %s without CAA records: any certificate authority may issue for it.",
		 qname, m->rcode ? "NXDOMAIN" : "NOERROR");
	snprintf(pol, sizeof(pol), "owned.domains: %s", dom);
	a.name = qname;
	a.policy = pol;
	struct bw_evidence *ev = evidence_from_meta(&a, "dns", meta);
	ev->name = qname;
	snprintf(summ, sizeof(summ), "%s CAA: no records (%s)", qname, m->rcode ? "NXDOMAIN" : "NOERROR");
	ev->summary = summ;
	raise(w, &a);
}

/* RFC 8659 section 3: the relevant RRset of name, climbing to its parents
 * through names whose CAA lookup was observed empty or not observed. */
static const struct caa_ent *caa_relevant(struct bw_dangling *d, const char *name, bool *skipped)
{
	*skipped = false;
	for (const char *s = name; s && *s; s = parent_of(s)) {
		struct caa_ent *e =
			(struct caa_ent *)slot_get(d->caa, sizeof(d->caa[0]), CAA_SLOTS, s, false, NULL, NULL, &d->evicted);
		if (e && !e->empty)
			return e;
		if (!e)
			*skipped = true;
	}
	return NULL;
}

static void check_caa_cert(struct bw_worker *w, const struct bw_tls_view *v, const struct bw_obs_meta *meta,
			   const char *sni)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_dangling *d = bw_detect_state_dangling(w->detect);
	const struct bw_x509_info *leaf = v->n_certs ? v->certs[0] : NULL;
	if (!leaf || !d)
		return;
	const char *const *doms = NULL;
	size_t nd = 0;
	if (env->caa)
		(void)bw_caa_issuer_domains_for(env->caa, leaf->issuer.o, leaf->issuer.cn, &doms, &nd);
	unsigned checked = 0;
	for (uint32_t i = 0; i < leaf->san_count && checked < 16; i++) {
		if (leaf->san[i].type != BW_X509_SAN_DNS)
			continue;
		char name[KEY_CAP];
		snprintf(name, sizeof(name), "%s", leaf->san[i].value);
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		bool wild = strncmp(name, "*.", 2) == 0;
		const char *base = wild ? name + 2 : name;
		const char *dom = owned_domain(env->policy, base);
		if (!dom)
			continue;
		checked++;
		bool skipped;
		const struct caa_ent *e = caa_relevant(d, base, &skipped);
		if (!e)
			continue;
		const char(*props)[CAA_VALUE] = wild && e->n_wild ? e->wild : e->issue;
		unsigned np = wild && e->n_wild ? e->n_wild : e->n_issue;
		if (np == 0)
			continue; /* no issue property: any CA */
		bool ok = false;
		for (unsigned k = 0; k < np && !ok; k++)
			for (size_t j = 0; j < nd && !ok; j++)
				ok = props[k][0] && strcasecmp(props[k], doms[j]) == 0;
		if (ok)
			continue;
		struct bw_alert a;
		char pol[300], summ[1200], csum[600], ipt[64];
		alert_init(&a, BW_AL_CAA_VIOLATION, meta);
		snprintf(a.reason, sizeof(a.reason),
			 "The certificate for %s was issued by %s (%s), which the CAA %s properties observed at %s (%s) "
			 "do not authorize%s.",
			 name, leaf->issuer.dn, nd ? doms[0] : "a CA with no known CAA identifier",
			 wild && e->n_wild ? "issuewild" : "issue", e->h.key, e->text,
			 skipped ? "; the CAA lookup of a name below it was not observed" : "");
		snprintf(pol, sizeof(pol), "owned.domains: %s", dom);
		a.name = name;
		a.addr = meta->dst;
		a.port = meta->dport;
		a.cert_sha256 = leaf->sha256_hex;
		a.policy = pol;
		snprintf(a.dedup_key, sizeof(a.dedup_key), "caa_violation|%.200s|%s", name, leaf->sha256_hex);
		struct bw_evidence *te = evidence_from_meta(&a, "tls", meta);
		te->name = name;
		te->addr = meta->dst;
		te->port = meta->dport;
		te->cert_sha256 = leaf->sha256_hex;
		snprintf(summ, sizeof(summ), "handshake for %s at %s:%u presented %s (alternative name %s) issued by %s",
			 sni, bw_ip_str(&meta->dst, ipt, sizeof(ipt)), meta->dport, leaf->subject.dn, name, leaf->issuer.dn);
		te->summary = summ;
		struct bw_evidence *ce = bw_alert_evidence(&a, "dns");
		evidence_from_seen(ce, &e->at);
		ce->name = e->h.key;
		snprintf(csum, sizeof(csum), "%s CAA %s", e->h.key, e->text);
		ce->summary = csum;
		raise(w, &a);
	}
}

/* ---- zone_transfer_open ---- */

static bool xfr_eq(const struct slot_head *h, const void *arg)
{
	const struct xfr_ent *e = (const struct xfr_ent *)h;
	const struct bw_ip *ip = arg;
	return e->client.family == ip->family && memcmp(e->client.a, ip->a, 16) == 0;
}

static void xfr_alert(struct bw_worker *w, const struct bw_obs_meta *meta, struct xfr_ent *e, bool complete)
{
	const struct bw_detect_env *env = w->cfg.detect;
	const char *dom = owned_domain(env->policy, e->h.key);
	struct bw_alert a;
	char pol[300], summ[600], ipt[64], tn[16];
	alert_init(&a, BW_AL_ZONE_TRANSFER_OPEN, meta);
	bw_ip_str(&e->client, ipt, sizeof(ipt));
	snprintf(a.reason, sizeof(a.reason),
		 "A %s of %s went to %s, which is not in dns.allowed_transfer_clients: %llu names (%llu records) "
		 "exposed%s.",
		 bw_dns_type_text(e->qtype, tn, sizeof(tn)), e->h.key, ipt, (unsigned long long)e->names,
		 (unsigned long long)e->records, complete ? "" : " before the capture ended (the transfer did not finish)");
	snprintf(pol, sizeof(pol), "dns.allowed_transfer_clients; owned.domains: %s", dom ? dom : e->h.key);
	a.name = e->h.key;
	a.addr = e->client;
	a.policy = pol;
	snprintf(a.dedup_key, sizeof(a.dedup_key), "zone_transfer_open|%.200s|%s", e->h.key, ipt);
	struct bw_evidence *ev = bw_alert_evidence(&a, "dns");
	if (meta) {
		ev->ts = meta->ts;
		ev->file = meta->file;
		ev->packet = meta->packet;
	} else {
		evidence_from_seen(ev, &e->first);
	}
	ev->name = e->h.key;
	ev->addr = e->client;
	snprintf(summ, sizeof(summ), "%s %s to %s: %llu names, %llu records", bw_dns_type_text(e->qtype, tn, sizeof(tn)),
		 e->h.key, ipt, (unsigned long long)e->names, (unsigned long long)e->records);
	ev->summary = summ;
	raise(w, &a);
	e->h.used = 0; /* done: a later transfer starts a new count */
}

static void check_xfr(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta,
		      const char *qname)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_dangling *d = bw_detect_state_dangling(w->detect);
	uint16_t qt = m->qd[0].type;
	if ((qt != BW_DNS_T_AXFR && qt != BW_DNS_T_IXFR) || m->rcode != 0 || m->n_section[BW_DNS_ANSWER] == 0 || !d)
		return;
	if (!owned_domain(env->policy, qname) || bw_policy_transfer_allowed(env->policy, &meta->dst))
		return;
	struct xfr_ent *e = (struct xfr_ent *)slot_get(d->xfr, sizeof(d->xfr[0]), XFR_SLOTS, qname, true, xfr_eq,
						      &meta->dst, &d->evicted);
	if (!e)
		return;
	if (!e->h.used) {
		e->client = meta->dst;
		e->qtype = qt;
		seen_from_meta(&e->first, meta);
	}
	e->h.used = meta->ts ? meta->ts : 1;
	/* An AXFR ends with the zone's SOA again (RFC 5936 2.2): that record
	 * closes the transfer and is not counted. An IXFR is reported per
	 * message, since its SOAs also delimit the deltas. */
	bool closed = false;
	unsigned last = m->n_section[BW_DNS_ANSWER];
	for (unsigned i = 0, k = 0; i < m->n_rr; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		char owner[NAME_CAP];
		if (rr->section != BW_DNS_ANSWER)
			continue;
		if (++k == last && rr->type == BW_DNS_T_SOA && e->records > 0 && qt == BW_DNS_T_AXFR) {
			closed = true;
			break;
		}
		e->records++;
		if (bw_dns_name_text(m, rr->name_off, true, owner, sizeof(owner)) < 0)
			continue;
		if (strcmp(owner, e->last_owner) != 0) {
			e->names++;
			snprintf(e->last_owner, sizeof(e->last_owner), "%s", owner);
		}
	}
	if (closed || qt == BW_DNS_T_IXFR)
		xfr_alert(w, meta, e, true);
}

/* ---- DNSSEC ---- */

static uint16_t key_tag(const uint8_t *k, size_t n)
{
	uint32_t ac = 0;
	for (size_t i = 0; i < n; i++)
		ac += (i & 1) ? k[i] : (uint32_t)k[i] << 8;
	ac += (ac >> 16) & 0xFFFF;
	return (uint16_t)(ac & 0xFFFF);
}

static void ds_digest(const char *md, const uint8_t *owner, size_t on, const uint8_t *rd, size_t rn, uint8_t *out,
		      size_t cap)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int l = 0;
	uint8_t buf[EVP_MAX_MD_SIZE];
	const EVP_MD *t = EVP_get_digestbyname(md);
	if (c && t && EVP_DigestInit_ex(c, t, NULL) == 1 && EVP_DigestUpdate(c, owner, on) == 1 &&
	    EVP_DigestUpdate(c, rd, rn) == 1 && EVP_DigestFinal_ex(c, buf, &l) == 1)
		memcpy(out, buf, BW_MIN((size_t)l, cap));
	EVP_MD_CTX_free(c);
}

static void check_rrsig(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta,
			const struct bw_dns_rr *rr, const char *owner)
{
	const struct bw_detect_env *env = w->cfg.detect;
	const struct bw_policy *p = env->policy;
	uint32_t inc, exp;
	const char *dom = owned_domain(p, owner);
	if (!dom || rr->rdlen < 18 || bw_dns_rrsig_times(m, rr, &inc, &exp) != BW_OK)
		return;
	const uint8_t *rd = m->wire + rr->rdata_off;
	uint16_t covered = (uint16_t)(rd[0] << 8 | rd[1]), tag = (uint16_t)(rd[16] << 8 | rd[17]);
	uint32_t now32 = (uint32_t)(meta->ts / BW_NSEC_PER_SEC);
	int64_t left = (int32_t)(exp - now32); /* RFC 4034 3.1.5: serial arithmetic */
	int64_t warn = (int64_t)p->certificates.expiry_warning_days * 86400;
	if (left >= warn)
		return;
	struct bw_alert a;
	char pol[300], summ[1400], tn[16], text[1024], when[40];
	alert_init(&a, BW_AL_DNSSEC_SIGNATURE_EXPIRING, meta);
	a.severity = left <= 0 ? 4 : 3;
	bw_time_rfc3339((bw_time_t)exp * BW_NSEC_PER_SEC, when, sizeof(when));
	const char *ct = bw_dns_type_text(covered, tn, sizeof(tn));
	if (left <= 0)
		snprintf(a.reason, sizeof(a.reason),
			 "The RRSIG over %s %s (key tag %u) expired at %s, before the capture: validating resolvers "
			 "answer SERVFAIL for it.", owner, ct, tag, when);
	else
		snprintf(a.reason, sizeof(a.reason),
			 "The RRSIG over %s %s (key tag %u) expires at %s, within the %u-day warning window.", owner, ct,
			 tag, when, p->certificates.expiry_warning_days);
	snprintf(pol, sizeof(pol), "certificates.expiry_warning_days: %u; owned.domains: %s",
		 p->certificates.expiry_warning_days, dom);
	a.name = owner;
	a.policy = pol;
	snprintf(a.dedup_key, sizeof(a.dedup_key), "dnssec_signature_expiring|%.200s|%s|%u", owner, ct, tag);
	struct bw_evidence *e = evidence_from_meta(&a, "dns", meta);
	e->name = owner;
	if (bw_dns_rdata_text(m, rr, text, sizeof(text)) < 0)
		text[0] = '\0';
	snprintf(summ, sizeof(summ), "%s RRSIG %s", owner, text);
	e->summary = summ;
	raise(w, &a);
}

static void note_dnssec_key(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta,
			    const struct bw_dns_rr *rr, const char *owner)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_dangling *d = bw_detect_state_dangling(w->detect);
	if (!d || rr->bad || !owned_domain(env->policy, owner) || rr->rdlen < 4)
		return;
	struct zone_ent *z = (struct zone_ent *)slot_get(d->zone, sizeof(d->zone[0]), ZONE_SLOTS, owner, true, NULL,
							NULL, &d->evicted);
	if (!z)
		return;
	z->h.used = meta->ts ? meta->ts : 1;
	const uint8_t *rd = m->wire + rr->rdata_off;
	if (rr->type == BW_DNS_T_DS) {
		uint16_t tag = (uint16_t)(rd[0] << 8 | rd[1]);
		size_t dl = BW_MIN((size_t)rr->rdlen - 4, sizeof(z->ds[0].digest));
		for (unsigned i = 0; i < z->n_ds; i++)
			if (z->ds[i].tag == tag && z->ds[i].alg == rd[2] && z->ds[i].dtype == rd[3] &&
			    z->ds[i].dlen == dl && memcmp(z->ds[i].digest, rd + 4, dl) == 0)
				return;
		if (z->n_ds >= ZONE_KEYS)
			return;
		struct ds_rec *r = &z->ds[z->n_ds++];
		r->tag = tag;
		r->alg = rd[2];
		r->dtype = rd[3];
		r->dlen = (uint8_t)dl;
		memcpy(r->digest, rd + 4, dl);
		seen_from_meta(&r->at, meta);
		return;
	}
	/* DNSKEY */
	uint16_t tag = key_tag(rd, rr->rdlen);
	for (unsigned i = 0; i < z->n_key; i++)
		if (z->key[i].tag == tag && z->key[i].alg == rd[3])
			return;
	if (z->n_key >= ZONE_KEYS)
		return;
	struct key_rec *k = &z->key[z->n_key++];
	uint8_t own[256];
	int on = bw_dns_name_wire(m, rr->name_off, true, own, sizeof(own));
	k->tag = tag;
	k->alg = rd[3];
	if (on > 0) {
		ds_digest("SHA1", own, (size_t)on, rd, rr->rdlen, k->d1, sizeof(k->d1));
		ds_digest("SHA256", own, (size_t)on, rd, rr->rdlen, k->d2, sizeof(k->d2));
		ds_digest("SHA384", own, (size_t)on, rd, rr->rdlen, k->d4, sizeof(k->d4));
	}
	seen_from_meta(&z->key_at, meta);
}

static bool ds_matches(const struct ds_rec *ds, const struct key_rec *k)
{
	if (ds->tag != k->tag || ds->alg != k->alg)
		return false;
	switch (ds->dtype) {
	case 1: return ds->dlen == 20 && memcmp(ds->digest, k->d1, 20) == 0;
	case 2: return ds->dlen == 32 && memcmp(ds->digest, k->d2, 32) == 0;
	case 4: return ds->dlen == 48 && memcmp(ds->digest, k->d4, 48) == 0;
	default: return true; /* a digest we do not compute: tag and algorithm decide */
	}
}

static void rollover_finish(struct bw_worker *w, struct bw_dangling *d)
{
	const struct bw_detect_env *env = w->cfg.detect;
	/* Zones in name order, so the alerts come out the same whatever the hash layout. */
	const struct zone_ent *order[ZONE_SLOTS];
	size_t n = 0;
	for (size_t i = 0; i < ZONE_SLOTS; i++)
		if (d->zone[i].h.used && d->zone[i].n_ds && d->zone[i].n_key)
			order[n++] = &d->zone[i];
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(order[j - 1]->h.key, order[j]->h.key) > 0; j--) {
			const struct zone_ent *t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (size_t zi = 0; zi < n; zi++) {
		const struct zone_ent *z = order[zi];
		const char *dom = owned_domain(env->policy, z->h.key);
		for (unsigned i = 0; i < z->n_ds; i++) {
			bool ok = false;
			for (unsigned k = 0; k < z->n_key && !ok; k++)
				ok = ds_matches(&z->ds[i], &z->key[k]);
			if (ok)
				continue;
			struct bw_alert a;
			char pol[300], summ[400], ksum[600];
			alert_init(&a, BW_AL_DNSSEC_ROLLOVER_RISK, NULL);
			snprintf(a.reason, sizeof(a.reason),
				 "The DS of %s with key tag %u (algorithm %u, digest type %u) matches none of the %u DNSKEY "
				 "record(s) seen for the zone: if it is the only DS, validating resolvers fail the zone.",
				 z->h.key, z->ds[i].tag, z->ds[i].alg, z->ds[i].dtype, z->n_key);
			snprintf(pol, sizeof(pol), "owned.domains: %s", dom ? dom : z->h.key);
			a.name = z->h.key;
			a.policy = pol;
			snprintf(a.dedup_key, sizeof(a.dedup_key), "dnssec_rollover_risk|%.200s|%u|%u|%u", z->h.key,
				 z->ds[i].tag, z->ds[i].alg, z->ds[i].dtype);
			struct bw_evidence *e = bw_alert_evidence(&a, "dns");
			evidence_from_seen(e, &z->ds[i].at);
			e->name = z->h.key;
			snprintf(summ, sizeof(summ), "%s DS %u %u %u", z->h.key, z->ds[i].tag, z->ds[i].alg, z->ds[i].dtype);
			e->summary = summ;
			struct bw_evidence *ke = bw_alert_evidence(&a, "dns");
			evidence_from_seen(ke, &z->key_at);
			ke->name = z->h.key;
			size_t l = (size_t)snprintf(ksum, sizeof(ksum), "%s DNSKEY key tags", z->h.key);
			for (unsigned k = 0; k < z->n_key && l < sizeof(ksum); k++)
				l += (size_t)snprintf(ksum + l, sizeof(ksum) - l, " %u/alg %u", z->key[k].tag, z->key[k].alg);
			ke->summary = ksum;
			raise(w, &a);
		}
	}
}

/* ---- ns_lame_delegation ----
 *
 * Three observations make a lame delegation, in any order and usually in
 * three responses: an NS record naming host as a nameserver of an owned
 * zone (an NS answer, or the authority section of a referral), an address
 * of host (glue in the referral, or an A/AAAA answer), and an answer from
 * that address refusing the zone (REFUSED or SERVFAIL for any name in it,
 * NXDOMAIN for its apex; NXDOMAIN below the apex is a normal answer). The
 * one that completes the set raises the alert, so each pair is reported
 * once from its later side, and again only when a failure is seen again.
 * A nameserver whose own name answers NXDOMAIN, or NOERROR without an A and
 * without an AAAA record, is the other fault: nobody can reach it. */

static bool under_zone(const char *name, const char *zone)
{
	for (const char *s = name; s; s = parent_of(s))
		if (strcmp(s, zone) == 0)
			return true;
	return false;
}

static bool nsrec_eq(const struct slot_head *h, const void *arg)
{
	return strcmp(((const struct nsrec_ent *)h)->zone, arg) == 0;
}

static bool nsaddr_eq(const struct slot_head *h, const void *arg)
{
	return strcmp(((const struct nsaddr_ent *)h)->host, arg) == 0;
}

static bool nsfail_eq(const struct slot_head *h, const void *arg)
{
	return strcmp(((const struct nsfail_ent *)h)->qname, arg) == 0;
}

/* Is host a nameserver of some owned zone we learned? */
static bool ns_known(const struct bw_dangling *d, const char *host)
{
	if (strlen(host) >= KEY_CAP)
		return false;
	size_t h = hash_key(host) % NSREC_SLOTS;
	for (size_t k = 0; k < PROBE; k++) {
		const struct nsrec_ent *e = &d->nsrec[(h + k) % NSREC_SLOTS];
		if (e->h.used && strcmp(e->h.key, host) == 0)
			return true;
	}
	return false;
}

/* The deepest zone host serves that holds qname, learned within the window of ts. */
static const struct nsrec_ent *ns_zone_for(const struct bw_dangling *d, const char *host, const char *qname,
					   bw_time_t ts)
{
	const struct nsrec_ent *best = NULL;
	if (strlen(host) >= KEY_CAP)
		return NULL;
	size_t h = hash_key(host) % NSREC_SLOTS;
	for (size_t k = 0; k < PROBE; k++) {
		const struct nsrec_ent *e = &d->nsrec[(h + k) % NSREC_SLOTS];
		if (!e->h.used || strcmp(e->h.key, host) != 0 || !within(e->at.ts, ts) || !under_zone(qname, e->zone))
			continue;
		if (!best || strlen(e->zone) > strlen(best->zone))
			best = e;
	}
	return best;
}

/* Does an answer with rcode for qname show that a nameserver of zone does not serve it? */
static bool lame_rcode(uint16_t rcode, const char *qname, const char *zone)
{
	if (rcode == RC_SERVFAIL || rcode == RC_REFUSED)
		return true;
	return rcode == BW_RCODE_NXDOMAIN && strcmp(qname, zone) == 0;
}

/* The row of a hosted DNS provider host belongs to (data/takeover-services.tsv,
 * record type NS), or NULL. The rows listing companies' own nameservers
 * ("Not vulnerable (private nameservers)") are not hosted providers. */
static const struct bw_takeover *ns_provider(const struct bw_detect_env *env, const char *host)
{
	if (!env->takeover)
		return NULL;
	const struct bw_takeover *t = bw_takeover_match(env->takeover, host, strlen(host), BW_DNS_T_NS);
	return t && t->status != BW_TKO_NOT_VULNERABLE_PRIVATE_NS ? t : NULL;
}

/* Remember ip as an address of host; true if it is new for host. */
static bool nshost_add(struct bw_dangling *d, const char *host, const struct bw_ip *ip, bw_time_t now)
{
	char key[64];
	bw_ip_str(ip, key, sizeof(key));
	struct nsaddr_ent *r = (struct nsaddr_ent *)slot_get(d->nsaddr, sizeof(d->nsaddr[0]), NSADDR_SLOTS, key, true,
							    nsaddr_eq, host, &d->ns_evicted);
	if (r) {
		if (!r->h.used)
			snprintf(r->host, sizeof(r->host), "%s", host);
		r->h.used = now ? now : 1;
	}
	struct nshost_ent *e = (struct nshost_ent *)slot_get(d->nshost, sizeof(d->nshost[0]), NSHOST_SLOTS, host, true,
							    NULL, NULL, &d->ns_evicted);
	if (!e)
		return false;
	e->h.used = now ? now : 1;
	for (unsigned i = 0; i < e->n; i++)
		if (e->addr[i].family == ip->family && memcmp(e->addr[i].a, ip->a, 16) == 0)
			return false;
	/* full: the first one goes (a nameserver rarely has more than two) */
	if (e->n == NSHOST_ADDRS) {
		memmove(&e->addr[0], &e->addr[1], sizeof(e->addr[0]) * (NSHOST_ADDRS - 1));
		e->n--;
	}
	e->addr[e->n++] = *ip;
	return true;
}

static void ns_summary(char *out, size_t cap, const struct nsrec_ent *ns)
{
	snprintf(out, cap, "%.200s NS %.200s (%s)", ns->zone, ns->h.key, ns->referral ? "referral" : "NS answer");
}

enum ns_trigger { TRIG_FAIL, TRIG_NS, TRIG_ADDR, TRIG_HOST };

/* Alert: the nameserver host of ns->zone at server answered rcode for qname.
 * cur_sum describes the observation in meta (the failure itself for
 * TRIG_FAIL); fail is the earlier failure otherwise. */
static void lame_alert(struct bw_worker *w, const struct bw_obs_meta *meta, enum ns_trigger trig,
		       const struct nsrec_ent *ns, const struct bw_ip *server, const char *qname, uint16_t qtype,
		       uint16_t rcode, const struct seen_at *fail, const char *cur_name, const char *cur_sum)
{
	const struct bw_detect_env *env = w->cfg.detect;
	const char *host = ns->h.key, *zone = ns->zone;
	const char *dom = owned_domain(env->policy, zone);
	if (!dom)
		return;
	const struct bw_takeover *t = ns_provider(env, host);
	struct bw_alert a;
	char ipt[64], rct[16], tn[16], when[40], what[300], tail[300], pol[300], nsum[460], fsum[600];
	alert_init(&a, BW_AL_NS_LAME_DELEGATION, meta);
	a.severity = t ? 3 : 2;
	bw_ip_str(server, ipt, sizeof(ipt));
	const char *rc = bw_dns_rcode_text(rcode, rct, sizeof(rct));
	if (strcmp(qname, zone) == 0)
		snprintf(what, sizeof(what), "%s for the zone's apex (%s)", rc, bw_dns_type_text(qtype, tn, sizeof(tn)));
	else
		snprintf(what, sizeof(what), "%s for %s %s", rc, qname, bw_dns_type_text(qtype, tn, sizeof(tn)));
	if (t && t->status == BW_TKO_NOT_VULNERABLE)
		snprintf(tail, sizeof(tail),
			 "%s belongs to the hosted DNS provider %s: the zone was probably deleted there (takeover rating "
			 "%s: re-creating it should not give another account these nameservers).", host, t->service,
			 t->status_text);
	else if (t)
		snprintf(tail, sizeof(tail),
			 "%s belongs to the hosted DNS provider %s (takeover rating %s): if the zone was deleted there, "
			 "whoever creates it again there answers for %s.", host, t->service, t->status_text, zone);
	else
		snprintf(tail, sizeof(tail), "resolvers that pick it fail or retry elsewhere.");
	snprintf(a.reason, sizeof(a.reason), "%s (%s), a nameserver of %s by the %s of %s, answered %s: it does not "
		 "serve the zone (a lame delegation); %s", host, ipt, zone, ns->referral ? "referral" : "NS answer",
		 bw_time_rfc3339(ns->at.ts, when, sizeof(when)), what, tail);
	snprintf(pol, sizeof(pol), "owned.domains: %s", dom);
	a.name = zone;
	a.addr = *server;
	a.policy = pol;
	snprintf(a.dedup_key, sizeof(a.dedup_key), "ns_lame_delegation|%.150s|%.150s|lame", zone, host);
	ns_summary(nsum, sizeof(nsum), ns);
	snprintf(fsum, sizeof(fsum), "%.200s at %s answered %s for %.200s %s", host, ipt, rc, qname,
		 bw_dns_type_text(qtype, tn, sizeof(tn)));
	struct bw_evidence *e = evidence_from_meta(&a, "dns", meta);
	e->name = cur_name;
	e->summary = trig == TRIG_FAIL ? fsum : trig == TRIG_NS ? nsum : cur_sum;
	if (trig == TRIG_FAIL)
		e->addr = *server;
	if (trig != TRIG_NS) {
		struct bw_evidence *ne = bw_alert_evidence(&a, "dns");
		evidence_from_seen(ne, &ns->at);
		ne->name = zone;
		ne->summary = nsum;
	}
	if (trig != TRIG_FAIL && fail) {
		struct bw_evidence *fe = bw_alert_evidence(&a, "dns");
		evidence_from_seen(fe, fail);
		fe->name = qname;
		fe->addr = *server;
		fe->summary = fsum;
	}
	raise(w, &a);
}

/* The failures recorded for server, held against host's zones (only zone if
 * not NULL): one alert per zone. */
static void lame_from_fails(struct bw_worker *w, struct bw_dangling *d, const struct bw_obs_meta *meta,
			    enum ns_trigger trig, const char *host, const struct bw_ip *server, const char *zone,
			    const char *cur_name, const char *cur_sum)
{
	char key[64];
	const struct nsrec_ent *done[PROBE];
	size_t nd = 0;
	bw_ip_str(server, key, sizeof(key));
	size_t h = hash_key(key) % NSFAIL_SLOTS;
	for (size_t k = 0; k < PROBE; k++) {
		const struct nsfail_ent *f = &d->nsfail[(h + k) % NSFAIL_SLOTS];
		if (!f->h.used || strcmp(f->h.key, key) != 0 || !within(f->at.ts, meta->ts))
			continue;
		const struct nsrec_ent *ns = ns_zone_for(d, host, f->qname, f->at.ts);
		if (!ns || (zone && strcmp(ns->zone, zone) != 0) || !lame_rcode(f->rcode, f->qname, ns->zone))
			continue;
		bool dup = false;
		for (size_t i = 0; i < nd; i++)
			dup |= done[i] == ns;
		if (dup)
			continue;
		done[nd++] = ns;
		lame_alert(w, meta, trig, ns, &f->server, f->qname, f->qtype, f->rcode, &f->at, cur_name, cur_sum);
	}
}

/* Why host does not resolve (latest answer NXDOMAIN, or NOERROR without an
 * A and without an AAAA record, near now): 1 NXDOMAIN, 2 NODATA, 0 it may. */
static int host_unresolved(const struct bw_detect_env *env, struct bw_dangling *d, const char *host, bw_time_t now,
			   struct bw_name_rcode *rc, const struct nodata_ent **nd)
{
	*nd = NULL;
	if (env->bindings && nxdomain_near(env->bindings, host, now, rc))
		return 1;
	const struct nodata_ent *e = (const struct nodata_ent *)slot_get(d->nodata, sizeof(d->nodata[0]), NODATA_SLOTS,
									 host, false, NULL, NULL, &d->ns_evicted);
	if (!e || !e->a.ts || !e->aaaa.ts || !within(e->a.ts, now) || !within(e->aaaa.ts, now))
		return 0;
	*nd = e;
	return 2;
}

static void unresolved_alert(struct bw_worker *w, const struct bw_obs_meta *meta, enum ns_trigger trig,
			     const struct nsrec_ent *ns, int why, const struct bw_name_rcode *rc,
			     const struct nodata_ent *nd, const char *cur_sum)
{
	const struct bw_detect_env *env = w->cfg.detect;
	const char *host = ns->h.key, *zone = ns->zone;
	const char *dom = owned_domain(env->policy, zone);
	if (!dom)
		return;
	const struct bw_takeover *t = ns_provider(env, host);
	struct bw_alert a;
	char when[40], how[120], tail[300], pol[300], nsum[460], hsum[400], asum[300], bsum[300];
	alert_init(&a, BW_AL_NS_LAME_DELEGATION, meta);
	a.severity = t ? 3 : 2;
	if (why == 1)
		snprintf(how, sizeof(how), "answers NXDOMAIN (last at %s)",
			 bw_time_rfc3339(rc->nxdomain_last, when, sizeof(when)));
	else
		snprintf(how, sizeof(how), "has neither an A nor an AAAA record (NOERROR without data for both)");
	if (t)
		snprintf(tail, sizeof(tail), "the name matches the hosted DNS provider %s (takeover rating %s), "
			 "which does not publish it: a mistyped or retired nameserver.", t->service, t->status_text);
	else
		snprintf(tail, sizeof(tail),
			 "if its domain is unregistered, whoever registers it can answer for %s.", zone);
	snprintf(a.reason, sizeof(a.reason), "%s, a nameserver of %s by the %s of %s, does not resolve: it %s; %s",
		 host, zone, ns->referral ? "referral" : "NS answer", bw_time_rfc3339(ns->at.ts, when, sizeof(when)),
		 how, tail);
	snprintf(pol, sizeof(pol), "owned.domains: %s", dom);
	a.name = zone;
	a.policy = pol;
	snprintf(a.dedup_key, sizeof(a.dedup_key), "ns_lame_delegation|%.150s|%.150s|unresolvable", zone, host);
	ns_summary(nsum, sizeof(nsum), ns);
	struct bw_evidence *e = evidence_from_meta(&a, "dns", meta);
	e->name = trig == TRIG_NS ? zone : host;
	e->summary = trig == TRIG_NS ? nsum : cur_sum;
	if (trig != TRIG_NS) {
		struct bw_evidence *ne = bw_alert_evidence(&a, "dns");
		evidence_from_seen(ne, &ns->at);
		ne->name = zone;
		ne->summary = nsum;
	}
	if (why == 1 && trig != TRIG_HOST) {
		struct bw_evidence *he = bw_alert_evidence(&a, "dns");
		he->ts = rc->nxdomain_last;
		he->name = host;
		snprintf(hsum, sizeof(hsum), "%.200s NXDOMAIN, %u time(s)", host, rc->nxdomain_count);
		he->summary = hsum;
	}
	/* NODATA: both answers, but not twice the one that is this observation */
	for (int k = 0; why == 2 && k < 2; k++) {
		const struct seen_at *at = k ? &nd->aaaa : &nd->a;
		if (trig == TRIG_HOST && at->ts == meta->ts && at->packet == meta->packet)
			continue;
		struct bw_evidence *ae = bw_alert_evidence(&a, "dns");
		evidence_from_seen(ae, at);
		ae->name = host;
		snprintf(k ? bsum : asum, sizeof(asum), "%.200s %s: NOERROR, no data", host, k ? "AAAA" : "A");
		ae->summary = k ? bsum : asum;
	}
	raise(w, &a);
}

/* host's name just answered NXDOMAIN or NODATA: every zone it serves. */
static void unresolved_zones(struct bw_worker *w, struct bw_dangling *d, const struct bw_obs_meta *meta,
			     const char *host, const char *cur_sum)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_name_rcode rc;
	const struct nodata_ent *nd;
	int why = host_unresolved(env, d, host, meta->ts, &rc, &nd);
	if (!why)
		return;
	/* zones in name order, so the alerts come out the same whatever the hash layout */
	const struct nsrec_ent *z[PROBE];
	size_t n = 0;
	size_t h = hash_key(host) % NSREC_SLOTS;
	for (size_t k = 0; k < PROBE; k++) {
		const struct nsrec_ent *e = &d->nsrec[(h + k) % NSREC_SLOTS];
		if (e->h.used && strcmp(e->h.key, host) == 0 && within(e->at.ts, meta->ts))
			z[n++] = e;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(z[j - 1]->zone, z[j]->zone) > 0; j--) {
			const struct nsrec_ent *t = z[j];
			z[j] = z[j - 1];
			z[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		unresolved_alert(w, meta, TRIG_HOST, z[i], why, &rc, nd, cur_sum);
}

/* A referral: no answer, NS records in the authority section and no SOA there
 * (RFC 2308 section 2.2: a NODATA answer carries the zone's SOA instead). */
static bool is_referral(const struct bw_dns_msg *m)
{
	bool ns = false, soa = false;
	if (m->rcode != 0 || m->n_section[BW_DNS_ANSWER] != 0)
		return false;
	for (unsigned i = 0; i < m->n_rr; i++) {
		if (m->rr[i].section != BW_DNS_AUTHORITY)
			continue;
		ns |= m->rr[i].type == BW_DNS_T_NS;
		soa |= m->rr[i].type == BW_DNS_T_SOA;
	}
	return ns && !soa;
}

static bool rr_ip(const struct bw_dns_msg *m, const struct bw_dns_rr *rr, struct bw_ip *ip)
{
	if ((rr->type != BW_DNS_T_A && rr->type != BW_DNS_T_AAAA) || rr->bad || rr->class != 1)
		return false;
	memset(ip, 0, sizeof(*ip));
	ip->family = rr->type == BW_DNS_T_A ? 4 : 6;
	if (rr->rdlen != (ip->family == 4 ? 4 : 16))
		return false;
	memcpy(ip->a, m->wire + rr->rdata_off, rr->rdlen);
	return true;
}

/* Step 1: the NS records for owned zones, into d->learned. */
static unsigned ns_learn(struct bw_dangling *d, const struct bw_policy *p, const struct bw_dns_msg *m,
			 const struct bw_obs_meta *meta, bool referral)
{
	unsigned n = 0;
	for (unsigned i = 0; i < m->n_rr && n < MAX_NS; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		char zone[NAME_CAP], host[NAME_CAP];
		if (rr->type != BW_DNS_T_NS || rr->bad || rr->class != 1)
			continue;
		if (!(rr->section == BW_DNS_ANSWER && m->rcode == 0) && !(rr->section == BW_DNS_AUTHORITY && referral))
			continue;
		if (bw_dns_name_text(m, rr->name_off, true, zone, sizeof(zone)) < 0 || !owned_domain(p, zone) ||
		    bw_dns_name_text(m, rr->rdata_off, true, host, sizeof(host)) < 0 || strcmp(host, ".") == 0 ||
		    strlen(zone) >= KEY_CAP || strlen(host) >= KEY_CAP)
			continue;
		bool dup = false;
		for (unsigned k = 0; k < n; k++)
			dup |= strcmp(d->learned[k].zone, zone) == 0 && strcmp(d->learned[k].host, host) == 0;
		if (dup)
			continue;
		struct nsrec_ent *e = (struct nsrec_ent *)slot_get(d->nsrec, sizeof(d->nsrec[0]), NSREC_SLOTS, host, true,
								  nsrec_eq, zone, &d->ns_evicted);
		if (!e)
			continue;
		struct ns_learned *l = &d->learned[n++];
		l->fresh = !e->h.used || !within(e->at.ts, meta->ts);
		if (!e->h.used)
			snprintf(e->zone, sizeof(e->zone), "%s", zone);
		e->h.used = meta->ts ? meta->ts : 1;
		e->referral = rr->section == BW_DNS_AUTHORITY;
		seen_from_meta(&e->at, meta);
		snprintf(l->zone, sizeof(l->zone), "%s", zone);
		snprintf(l->host, sizeof(l->host), "%s", host);
	}
	return n;
}

static void check_ns(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta,
		     const char *qname, const char *end, int n_chain)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_dangling *d = bw_detect_state_dangling(w->detect);
	const struct bw_policy *p = env->policy;
	uint16_t qt = m->qd[0].type;
	bool referral = is_referral(m);
	char owner[NAME_CAP], ipt[64], tn[16], sum[400];
	unsigned nl = ns_learn(d, p, m, meta, referral);

	/* Step 2: addresses of nameservers (glue, answers); an answer with an
	 * address also ends a NODATA state of that type. */
	for (unsigned i = 0; i < m->n_rr; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		struct bw_ip ip;
		if ((rr->section != BW_DNS_ANSWER && rr->section != BW_DNS_ADDITIONAL) || !rr_ip(m, rr, &ip) ||
		    bw_dns_name_text(m, rr->name_off, true, owner, sizeof(owner)) < 0)
			continue;
		if (rr->section == BW_DNS_ANSWER) {
			struct nodata_ent *nd = (struct nodata_ent *)slot_get(d->nodata, sizeof(d->nodata[0]), NODATA_SLOTS,
									     owner, false, NULL, NULL, &d->ns_evicted);
			if (nd)
				memset(rr->type == BW_DNS_T_A ? &nd->a : &nd->aaaa, 0, sizeof(nd->a));
		}
		if (!ns_known(d, owner) || !nshost_add(d, owner, &ip, meta->ts))
			continue;
		bool here = false;
		for (unsigned k = 0; k < nl; k++)
			here |= strcmp(d->learned[k].host, owner) == 0;
		if (here)
			continue; /* step 3 holds it against the delegation of this message */
		snprintf(sum, sizeof(sum), "%.200s %s %s (%s)", owner, rr->type == BW_DNS_T_A ? "A" : "AAAA",
			 bw_ip_str(&ip, ipt, sizeof(ipt)), rr->section == BW_DNS_ANSWER ? "answer" : "glue");
		lame_from_fails(w, d, meta, TRIG_ADDR, owner, &ip, NULL, owner, sum);
	}

	/* Step 3: a new delegation against what its nameserver did before. */
	for (unsigned k = 0; k < nl; k++) {
		const struct ns_learned *l = &d->learned[k];
		if (!l->fresh)
			continue;
		struct bw_ip addrs[NSHOST_ADDRS + 8];
		size_t na = 0;
		const struct nshost_ent *he = (const struct nshost_ent *)slot_get(
			d->nshost, sizeof(d->nshost[0]), NSHOST_SLOTS, l->host, false, NULL, NULL, &d->ns_evicted);
		for (unsigned i = 0; he && i < he->n; i++)
			addrs[na++] = he->addr[i];
		struct bw_name_addr ba[8];
		int nb = env->bindings ? bw_lookup_name_addrs_all(env->bindings, l->host, strlen(l->host), ba, 8) : 0;
		for (int i = 0; i < nb && i < 8; i++) {
			bool dup = false;
			for (size_t j = 0; j < na; j++)
				dup |= addrs[j].family == ba[i].addr.family && memcmp(addrs[j].a, ba[i].addr.a, 16) == 0;
			if (!dup) {
				addrs[na++] = ba[i].addr;
				(void)nshost_add(d, l->host, &ba[i].addr, meta->ts);
			}
		}
		for (size_t i = 0; i < na; i++)
			lame_from_fails(w, d, meta, TRIG_NS, l->host, &addrs[i], l->zone, l->zone, NULL);
		struct bw_name_rcode rc;
		const struct nodata_ent *nd;
		int why = host_unresolved(env, d, l->host, meta->ts, &rc, &nd);
		const struct nsrec_ent *ns = ns_zone_for(d, l->host, l->zone, meta->ts);
		if (why && ns && strcmp(ns->zone, l->zone) == 0)
			unresolved_alert(w, meta, TRIG_NS, ns, why, &rc, nd, NULL);
	}

	/* A failing answer for an owned name: remember it, and hold it against
	 * the nameservers the answering address is known to belong to. */
	uint16_t rcode = m->rcode;
	if ((rcode == RC_SERVFAIL || rcode == RC_REFUSED || rcode == BW_RCODE_NXDOMAIN) && m->qd[0].class == 1 &&
	    owned_domain(p, qname) && strlen(qname) < KEY_CAP) {
		char key[64];
		bw_ip_str(&meta->src, key, sizeof(key));
		struct nsfail_ent *f = (struct nsfail_ent *)slot_get(d->nsfail, sizeof(d->nsfail[0]), NSFAIL_SLOTS, key,
								    true, nsfail_eq, qname, &d->ns_evicted);
		if (f) {
			if (!f->h.used)
				snprintf(f->qname, sizeof(f->qname), "%s", qname);
			f->h.used = meta->ts ? meta->ts : 1;
			f->rcode = rcode;
			f->qtype = qt;
			f->server = meta->src;
			seen_from_meta(&f->at, meta);
		}
		char hosts[PROBE + 8][KEY_CAP];
		size_t nh = 0;
		size_t h = hash_key(key) % NSADDR_SLOTS;
		for (size_t k = 0; k < PROBE; k++) {
			const struct nsaddr_ent *r = &d->nsaddr[(h + k) % NSADDR_SLOTS];
			if (r->h.used && strcmp(r->h.key, key) == 0 && within(r->h.used, meta->ts))
				snprintf(hosts[nh++], KEY_CAP, "%s", r->host);
		}
		struct bw_bound_name bn[8];
		int nb = env->bindings ? bw_lookup_addr_names(env->bindings, &meta->src, bn, 8) : 0;
		for (int i = 0; i < nb && i < 8; i++) {
			bool dup = strlen(bn[i].name) >= KEY_CAP;
			for (size_t j = 0; j < nh && !dup; j++)
				dup = strcmp(hosts[j], bn[i].name) == 0;
			if (!dup)
				snprintf(hosts[nh++], KEY_CAP, "%s", bn[i].name);
		}
		for (size_t i = 0; i < nh; i++) {
			const struct nsrec_ent *ns = ns_zone_for(d, hosts[i], qname, meta->ts);
			if (ns && lame_rcode(rcode, qname, ns->zone))
				lame_alert(w, meta, TRIG_FAIL, ns, &meta->src, qname, qt, rcode, NULL, qname, NULL);
		}
	}

	/* The nameserver's own name does not resolve. */
	if (rcode == BW_RCODE_NXDOMAIN) {
		snprintf(sum, sizeof(sum), "%.200s %s: NXDOMAIN", qname, bw_dns_type_text(qt, tn, sizeof(tn)));
		if (ns_known(d, qname))
			unresolved_zones(w, d, meta, qname, sum);
		if (n_chain > 1 && ns_known(d, end))
			unresolved_zones(w, d, meta, end, sum);
	} else if (rcode == 0 && !m->tc && (qt == BW_DNS_T_A || qt == BW_DNS_T_AAAA) && n_chain == 1 && !referral &&
		   m->qd[0].class == 1) {
		bool data = false;
		for (unsigned i = 0; i < m->n_rr && !data; i++) {
			const struct bw_dns_rr *rr = &m->rr[i];
			data = rr->section == BW_DNS_ANSWER && rr->type == qt;
		}
		if (data)
			return;
		struct nodata_ent *nd = (struct nodata_ent *)slot_get(d->nodata, sizeof(d->nodata[0]), NODATA_SLOTS, qname,
								     true, NULL, NULL, &d->ns_evicted);
		if (!nd)
			return;
		nd->h.used = meta->ts ? meta->ts : 1;
		seen_from_meta(qt == BW_DNS_T_A ? &nd->a : &nd->aaaa, meta);
		if (ns_known(d, qname)) {
			snprintf(sum, sizeof(sum), "%.200s %s: NOERROR, no data", qname, qt == BW_DNS_T_A ? "A" : "AAAA");
			unresolved_zones(w, d, meta, qname, sum);
		}
	}
}

/* ---- entry points ---- */

void bw_detect_dangling_dns(struct bw_worker *w, const struct bw_dns_msg *m, const struct bw_obs_meta *meta)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_dangling *d = w->detect ? bw_detect_state_dangling(w->detect) : NULL;
	if (!env || !env->policy || !d || !m->qr || m->n_qd == 0 || m->opcode != 0)
		return;
	char qname[NAME_CAP], end[NAME_CAP], owner[NAME_CAP];
	char(*chain)[NAME_CAP] = d->names;
	int n_chain = 0;
	if (bw_dns_name_text(m, m->qd[0].name_off, true, qname, sizeof(qname)) < 0)
		return;
	chain_end(m, qname, end, chain, &n_chain);
	/* The rcode is about the last name of the chain (RFC 1035 4.3.2). */
	if (env->bindings && n_chain > 1)
		bw_bind_name_rcode(env->bindings, end, strlen(end), m->rcode, meta->ts);

	char cand[MAX_CAND][KEY_CAP];
	int nc = 0;
	for (unsigned i = 0; i < m->n_rr; i++) {
		const struct bw_dns_rr *rr = &m->rr[i];
		if (rr->bad)
			continue;
		if (bw_dns_name_text(m, rr->name_off, true, owner, sizeof(owner)) < 0)
			continue;
		if (rr->type == BW_DNS_T_RRSIG)
			check_rrsig(w, m, meta, rr, owner);
		else if (rr->type == BW_DNS_T_DS || rr->type == BW_DNS_T_DNSKEY)
			note_dnssec_key(w, m, meta, rr, owner);
		if (rr->section != BW_DNS_ANSWER)
			continue;
		if (rr->type == BW_DNS_T_CNAME && owned_domain(env->policy, owner))
			add_cand(cand, &nc, owner);
		else if (rr->type == BW_DNS_T_MX)
			check_mx(w, m, meta, rr, owner);
		else if (rr->type == BW_DNS_T_A || rr->type == BW_DNS_T_AAAA) {
			struct bw_ip ip;
			memset(&ip, 0, sizeof(ip));
			ip.family = rr->type == BW_DNS_T_A ? 4 : 6;
			if (rr->rdlen != (ip.family == 4 ? 4 : 16))
				continue;
			memcpy(ip.a, m->wire + rr->rdata_off, rr->rdlen);
			/* the chain up to this owner */
			int k = 0;
			while (k < n_chain && strcmp(chain[k], owner) != 0)
				k++;
			if (k < n_chain) {
				check_cloud(w, meta, chain, k + 1, &ip, rr->ttl);
			} else {
				char one[1][NAME_CAP];
				snprintf(one[0], NAME_CAP, "%s", owner);
				check_cloud(w, meta, one, 1, &ip, rr->ttl);
			}
		}
	}
	if (m->rcode == BW_RCODE_NXDOMAIN && env->bindings) {
		char mx[MAX_CAND][KEY_CAP];
		int nm = 0;
		alias_find(d, end, ALIAS_CNAME, cand, &nc);
		alias_find(d, end, ALIAS_MX, mx, &nm);
		for (int i = 0; i < nm; i++) {
			struct bw_name_rcode rc;
			if (nxdomain_near(env->bindings, end, meta->ts, &rc))
				mx_alert(w, meta, mx[i], end, NULL, &rc);
		}
	}
	if (env->bindings)
		for (int i = 0; i < nc; i++)
			eval_cname(w, meta, cand[i]);
	check_email(w, m, meta, qname, end);
	check_caa_response(w, m, meta, qname, end);
	check_xfr(w, m, meta, qname);
	check_ns(w, m, meta, qname, end, n_chain);
}

void bw_detect_dangling_tls(struct bw_worker *w, const struct bw_tls_view *v, const struct bw_obs_meta *meta,
			    struct x509_st *const *x509s, const char *sni)
{
	const struct bw_detect_env *env = w->cfg.detect;
	if (!env || !env->policy || !w->detect)
		return;
	const struct bw_x509_info *leaf = v->n_certs ? v->certs[0] : NULL;
	if (leaf)
		check_caa_cert(w, v, meta, sni);
	/* dangling_cloud_address, critical: the cloud address an owned name points
	 * at serves a certificate that does not cover the name. */
	if (!leaf || !x509s || !x509s[0] || !env->cloud || !env->bindings)
		return;
	const struct bw_policy *p = env->policy;
	const struct bw_cloud_range *cr = bw_cloud_lookup(env->cloud, &meta->dst);
	if (!cr || bw_policy_owns_addr(p, &meta->dst) || bw_policy_cloud_resource_addr(p, &meta->dst))
		return;
	struct bw_bound_name names[8];
	int nn = bw_lookup_addr_names(env->bindings, &meta->dst, names, BW_ARRAY_SIZE(names));
	for (int i = 0; i < BW_MIN(nn, 8); i++) {
		const char *name = names[i].name;
		const char *dom = owned_domain(p, name);
		if (!dom || bw_policy_cloud_resource_name(p, name, strlen(name)))
			continue;
		if (bw_x509_check_name(x509s[0], name, strlen(name), false) != BW_X509_NAME_MISMATCH)
			continue;
		struct bw_alert a;
		char ipt[64], pol[300], summ[1200], dsum[400], when[40];
		alert_init(&a, BW_AL_DANGLING_CLOUD_ADDRESS, meta);
		a.severity = 4;
		bw_ip_str(&meta->dst, ipt, sizeof(ipt));
		snprintf(a.reason, sizeof(a.reason),
			 "%s resolves to %s (%s %s), where a TLS server presents a certificate that does not cover "
			 "the name (subject %s, issued by %s): someone else holds the address now.",
			 name, ipt, cr->provider, cr->service, leaf->subject.dn, leaf->issuer.dn);
		snprintf(pol, sizeof(pol), "owned.domains: %s; owned.cloud_resources", dom);
		a.name = name;
		a.addr = meta->dst;
		a.port = meta->dport;
		a.cert_sha256 = leaf->sha256_hex;
		a.policy = pol;
		snprintf(a.dedup_key, sizeof(a.dedup_key), "dangling_cloud_address|%.200s|%s|tls", name, ipt);
		struct bw_evidence *te = evidence_from_meta(&a, "tls", meta);
		te->name = sni;
		te->addr = meta->dst;
		te->port = meta->dport;
		te->cert_sha256 = leaf->sha256_hex;
		snprintf(summ, sizeof(summ), "handshake for %s at %s:%u presented %s issued by %s", sni, ipt,
			 meta->dport, leaf->subject.dn, leaf->issuer.dn);
		te->summary = summ;
		struct bw_evidence *de = bw_alert_evidence(&a, "dns_binding");
		de->ts = names[i].last_seen;
		de->name = name;
		de->addr = meta->dst;
		snprintf(dsum, sizeof(dsum), "%s -> %s ttl %u, last answered %s", name, ipt, names[i].ttl,
			 bw_time_rfc3339(names[i].last_seen, when, sizeof(when)));
		de->summary = dsum;
		raise(w, &a);
	}
}

void bw_detect_dangling_finish(struct bw_worker *w)
{
	const struct bw_detect_env *env = w->cfg.detect;
	struct bw_dangling *d = w->detect ? bw_detect_state_dangling(w->detect) : NULL;
	if (!env || !env->policy || !d)
		return;
	/* Transfers whose closing SOA never came, in zone-name order. */
	for (;;) {
		struct xfr_ent *best = NULL;
		for (size_t i = 0; i < XFR_SLOTS; i++)
			if (d->xfr[i].h.used && (!best || strcmp(d->xfr[i].h.key, best->h.key) < 0))
				best = &d->xfr[i];
		if (!best)
			break;
		xfr_alert(w, NULL, best, false);
	}
	rollover_finish(w, d);
}
