/* SPDX-License-Identifier: MIT */
/*
 * worker_tls.c: TLS over TCP (on any port, recognised by its bytes, and
 * after a STARTTLS upgrade), DTLS and QUIC Initial over UDP, and what
 * becomes of their certificates: each distinct DER is parsed once (the
 * certificate cache), each new one gives a bindwatch.x509 event, each chain
 * is validated at capture time against the trust store and the SNI, and each
 * handshake gives one bindwatch.tls event.
 *
 * Per-flow state is small until a flow shows TLS bytes: a flow that never
 * does costs one small allocation and is dropped from reassembly as soon as
 * both directions have shown they are not TLS. Once both sides of a
 * handshake are read, the flow is marked done so the reassembler (and later
 * the kernel bypass) stops carrying its bulk data.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "../parsers/starttls.h"
#include "policy.h"
#include "worker_impl.h"

enum { UDP_KIND_QUIC = 1, UDP_KIND_DTLS = 2 };

/* ---- shared: turning a finished handshake into events ---- */

struct chain_refs {
	struct bw_certcache_entry *e[BW_TLS_MAX_CERTS];
	const struct bw_x509_info *info[BW_TLS_MAX_CERTS];
	struct x509_st *x[BW_TLS_MAX_CERTS];
	unsigned n;       /* certificates presented (and looked up) */
	unsigned n_x;     /* of which parsed */
	bool bad_der;
};

static void meta_for(struct bw_worker *w, const struct bw_flow_key *k, int client_dir, bw_time_t ts,
		     uint64_t packet, const char *file, uint8_t transport, const struct bw_packet *pkt, struct bw_obs_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->src = client_dir == 0 ? k->lo : k->hi;
	m->dst = client_dir == 0 ? k->hi : k->lo;
	m->sport = client_dir == 0 ? k->lo_port : k->hi_port;
	m->dport = client_dir == 0 ? k->hi_port : k->lo_port;
	m->transport = transport;
	m->ts = ts;
	m->file = file ? file : w->cur_file; /* the file of that packet, not the one being read */
	m->packet = packet;
	m->pkt = pkt;
}

/* Look every presented certificate up in the cache (parsing new ones) and
 * write an x509 event for each one never seen before. */
static void chain_acquire(struct bw_worker *w, const struct bw_tls_cert_chain *chain, const char *sni,
			  const struct bw_obs_meta *meta, const char *source, struct chain_refs *r)
{
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < chain->count && i < BW_TLS_MAX_CERTS; i++) {
		bool hit = false;
		struct bw_certcache_entry *e = NULL;
		w->st.tls.certificates_seen++;
		int rc = bw_certcache_get(w->certs, chain->certs[i].der, chain->certs[i].len, meta->ts, &e, &hit);
		r->n++;
		if (rc != BW_OK || !e) {
			r->bad_der = true;
			w->st.tls.cert_parse_errors++;
			continue;
		}
		r->e[i] = e;
		r->info[i] = &e->info;
		if (e->x509)
			r->x[r->n_x++] = e->x509;
		if (!hit) {
			bw_fmt_json_x509(&w->json, &e->info, meta, sni, i, source);
			bw_worker_emit(w, BW_EV_X509, meta->ts);
			w->st.tls.x509_events++;
		}
	}
}

static void chain_release(struct bw_worker *w, struct chain_refs *r)
{
	for (unsigned i = 0; i < r->n; i++)
		bw_certcache_put(w->certs, r->e[i]);
}

/* False when the verification could not run (out of memory): then there is no verdict. */
static bool chain_verify(struct bw_worker *w, struct chain_refs *r, const char *sni, bw_time_t ts,
			 struct bw_x509_verdict *v)
{
	struct bw_x509_verify_opts o = { 0 };
	o.time = ts;
	o.clock = BW_X509_CLOCK_CAPTURE;
	if (w->cfg.judge_now) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		o.time = (bw_time_t)now.tv_sec * BW_NSEC_PER_SEC + (bw_time_t)now.tv_nsec;
		o.clock = BW_X509_CLOCK_NOW;
	}
	o.name = sni;
	o.strict_order = true; /* a misordered chain is reported, as the issue asks */
	memset(v, 0, sizeof(*v));
	if (r->bad_der || r->n_x != r->n) {
		/* A presented certificate does not parse: the chain cannot be judged. */
		v->chain = BW_X509_BAD_DER;
		v->chain_depth = -1;
		snprintf(v->detail, sizeof(v->detail), "bad_der");
		v->clock = o.clock;
		v->time = o.time;
		if (r->info[0] && r->x[0] && sni && sni[0]) {
			v->name_checked = true;
			v->name = bw_x509_check_name(r->x[0], sni, 0, false);
		}
		return true;
	}
	/* the same chain comes back in every handshake: its verdict is cached */
	return bw_certcache_verify(w->certs, w->cfg.trust, r->e, r->n, &o, v, NULL) == BW_OK;
}

/* ClientHello's highest version when no ServerHello was seen. */
static uint16_t view_version(const struct bw_tls_client_hello *ch, const struct bw_tls_server_hello *sh)
{
	if (sh && sh->version)
		return sh->version;
	return ch ? ch->max_version : 0;
}

static void fetch_consider(struct bw_worker *w, const struct bw_tls_view *v, const struct bw_tls_cert_chain *chain,
			   const struct bw_obs_meta *meta);

/*
 * One handshake seen: certificates, validation, the tls event. chain may be
 * NULL (TLS 1.3, QUIC, or none sent). A fetched chain (certfetch.h) takes
 * the same path with source "fetched" and no tls event (its handshake had
 * one already).
 */
/*
 * A handshake held back from the detectors (worker.h, detect_try): the view
 * and everything it points to that does not outlive the call (the hellos,
 * the verdict, the QUIC connection id), plus the certificate cache
 * references of the chain, which keep the decoded certificates (and their
 * OpenSSL objects) alive until it runs. The strings left pointed to
 * (protocol, STARTTLS and QUIC version names) are static.
 */
struct worker_tls_held {
	struct bw_tls_view v;
	struct bw_tls_client_hello ch;
	struct bw_tls_server_hello sh;
	struct bw_x509_verdict verdict;
	char dcid[64];
	struct chain_refs r;
};

/* Take a copy of the handshake and r's references (r is left empty). False on ENOMEM (r untouched). */
static bool tls_hold(struct bw_worker *w, const struct bw_tls_view *v, const struct bw_obs_meta *meta,
		     struct chain_refs *r)
{
	struct worker_deferred *d = bw_worker_hold_slot(w);
	struct worker_tls_held *h = d ? malloc(sizeof(*h)) : NULL;
	if (!h)
		return false;
	h->v = *v;
	if (v->ch) {
		h->ch = *v->ch;
		h->v.ch = &h->ch;
	}
	if (v->sh) {
		h->sh = *v->sh;
		h->v.sh = &h->sh;
	}
	if (v->verdict) {
		h->verdict = *v->verdict;
		h->v.verdict = &h->verdict;
	}
	if (v->quic_dcid) {
		snprintf(h->dcid, sizeof(h->dcid), "%s", v->quic_dcid);
		h->v.quic_dcid = h->dcid;
	}
	h->r = *r;
	h->v.certs = h->r.info;
	memset(r, 0, sizeof(*r));
	bw_worker_hold_meta(d, meta);
	d->tls = h;
	bw_worker_hold_commit(w);
	w->st.tls.detect_deferred++;
	return true;
}

void bw_worker_tls_held_run(struct bw_worker *w, struct worker_tls_held *h, const struct bw_obs_meta *meta)
{
	bw_worker_trace_detect(w, "tls", meta);
	bw_detect_tls(w, &h->v, meta, h->r.x);
	bw_worker_tls_held_free(w, h);
}

void bw_worker_tls_held_free(struct bw_worker *w, struct worker_tls_held *h)
{
	if (!h)
		return;
	chain_release(w, &h->r);
	free(h);
}

static void chain_handle(struct bw_worker *w, struct bw_tls_view *v, const struct bw_tls_cert_chain *chain,
			 const struct bw_obs_meta *meta, const char *source, struct bw_x509_verdict *verdict_out)
{
	struct chain_refs r;
	struct bw_x509_verdict verdict;
	const char *sni = v->ch && v->ch->has_sni && v->ch->sni_valid ? v->ch->sni : NULL;

	memset(&r, 0, sizeof(r));
	if (chain && chain->present && chain->count == 0) {
		/* A Certificate message with no certificate in it (or cut by the cap). */
		v->chain_truncated = chain->truncated;
		memset(&verdict, 0, sizeof(verdict));
		verdict.chain = chain->truncated ? BW_X509_OTHER : BW_X509_NO_CERT;
		verdict.chain_depth = -1;
		snprintf(verdict.detail, sizeof(verdict.detail), "%s",
			 chain->truncated ? "other: certificate message cut by the handshake size cap" : "no_certificate");
		verdict.clock = w->cfg.judge_now ? BW_X509_CLOCK_NOW : BW_X509_CLOCK_CAPTURE;
		verdict.time = meta->ts;
		v->verdict = &verdict;
		w->st.tls.chains_validated++;
		w->st.tls.chains_failed++;
	} else if (chain && chain->present && chain->count > 0) {
		chain_acquire(w, chain, sni, meta, source, &r);
		v->n_certs = r.n;
		v->certs = r.info;
		v->chain_truncated = chain->truncated;
		if (w->cfg.trust && !chain_verify(w, &r, sni, meta->ts, &verdict)) {
			/* A verdict made up after a failed allocation would be a false
			 * alert: the handshake is reported without one, and counted. */
			w->st.tls.chains_unverified++;
		} else if (w->cfg.trust) {
			v->verdict = &verdict;
			w->st.tls.chains_validated++;
			if (verdict.chain != BW_X509_OK || verdict.name != BW_X509_OK)
				w->st.tls.chains_failed++;
		}
	}
	if (!verdict_out) {
		bw_fmt_json_tls(&w->json, v, meta);
		bw_worker_emit(w, BW_EV_TLS, meta->ts);
		w->st.tls.handshakes++;
	} else if (v->verdict) {
		*verdict_out = verdict;
	}
	if (w->cfg.detect) {
		if (bw_worker_detect_turn(w)) {
			bw_worker_trace_detect(w, "tls", meta);
			bw_detect_tls(w, v, meta, r.x);
		} else if (!tls_hold(w, v, meta, &r)) {
			bw_worker_detect_late(w);
			bw_worker_trace_detect(w, "tls", meta);
			bw_detect_tls(w, v, meta, r.x);
			bw_worker_detect_late_done(w);
		}
	}
	chain_release(w, &r); /* nothing left in r if tls_hold took it */
	if (w->fetch && !verdict_out)
		fetch_consider(w, v, chain, meta);
}

static void emit_handshake(struct bw_worker *w, struct bw_tls_view *v, const struct bw_tls_cert_chain *chain,
			   const struct bw_obs_meta *meta)
{
	chain_handle(w, v, chain, meta, "passive", NULL);
}

static void view_from_conn(const struct bw_tls_conn *c, const char *protocol, struct bw_tls_view *v)
{
	memset(v, 0, sizeof(*v));
	v->protocol = protocol;
	v->ch = c->saw_client_hello ? &c->ch : NULL;
	v->sh = c->saw_server_hello ? &c->sh : NULL;
	v->version = c->version ? c->version : view_version(v->ch, v->sh);
	v->hello_retry_request = c->saw_hello_retry_request;
	v->cert_visible = c->saw_server_hello && c->cert_visible && !bw_tls_version_is_13(v->version);
	v->resumed = c->saw_server_hello && c->sh.is_resumption;
	v->saw_alert = c->saw_alert;
	v->alert_level = c->alert_level;
	v->alert_description = c->alert_description;
	v->established = c->saw_client_hello && c->saw_server_hello && !(c->saw_alert && c->alert_level == 2);
}

/* ---- TLS over TCP ---- */

struct tls_flow {
	struct bw_worker *w;
	int client_dir;               /* -1 until the bytes say */
	bool not_tls[2];              /* this direction showed it is not TLS */
	bool finished[2];             /* this direction is done */
	bool emitted;
	bool use_starttls;
	struct bw_starttls st;
	struct bw_tls_conn *tls;      /* allocated when TLS bytes are seen */
	bw_time_t last_ts;
	uint64_t last_packet;
	const char *last_file;
};

static void tls_flow_emit(struct bw_worker *w, struct tls_flow *tf, struct bw_tcp_flow *f, const struct bw_packet *pkt)
{
	/* A server side seen without its ClientHello (captured late, or lost)
	 * still tells which certificate answered: report it. */
	if (tf->emitted || !tf->tls || !(tf->tls->saw_client_hello || tf->tls->saw_server_hello))
		return;
	tf->emitted = true;
	struct bw_tls_view v;
	struct bw_obs_meta meta;
	view_from_conn(tf->tls, "tls", &v);
	/* Only an upgrade after a plaintext dialogue is STARTTLS; TLS from the
	 * first byte on a mail port is implicit TLS. */
	if (tf->use_starttls && (tf->st.dir[0].tls_offset > 0 || tf->st.dir[1].tls_offset > 0))
		v.starttls = bw_starttls_proto_name(tf->st.proto);
	int cdir = tf->client_dir >= 0 ? tf->client_dir : bw_tcp_flow_client_dir(f);
	meta_for(w, bw_tcp_flow_key(f), cdir, tf->last_ts, tf->last_packet, tf->last_file, IPPROTO_TCP, pkt, &meta);
	w->st.tls.tcp++;
	if (v.starttls)
		w->st.tls.starttls++;
	if (tf->tls->saw_server_hello)
		w->st.tls.server_hellos++;
	if (tf->tls->saw_client_hello)
		w->st.tls.client_hellos++;
	emit_handshake(w, &v, tf->tls->cert_visible ? &tf->tls->server_certs : NULL, &meta);
}

/* Has direction dir's stream begun (SYN or data seen)? A stream that has not
 * begun sits at sequence 0, offset 0; one that begun at sequence 0 is taken
 * for not begun, which only costs the bypass. */
static bool stream_begun(const struct bw_tcp_flow *f, int dir)
{
	return bw_tcp_flow_data_seq(f, dir) != 0 || bw_tcp_flow_data_offset(f, dir) != 0;
}

/* Stop carrying the flow: the reassembler drops it, and a live capture may
 * drop the rest of it in the kernel (the worker's flow_done hook). The
 * decoder's bypass set (decode.h) takes it too when skipping its bulk
 * segments cannot change an event: closing the flow must write nothing
 * (its event is out, or there is none), since a bypassed segment does not
 * refresh the flow in the TCP table; and both streams must have begun,
 * since the table's port-reuse test for a later SYN looks at whether data
 * started a stream. */
static void flow_done(struct bw_worker *w, struct tls_flow *tf, struct bw_tcp_flow *f)
{
	if (bw_tcp_flow_is_done(f))
		return;
	bw_tcp_flow_done(f);
	if (w->cfg.flow_done)
		w->cfg.flow_done(w->cfg.flow_done_ctx, bw_tcp_flow_key(f));
	bool silent = tf->emitted || !tf->tls || !(tf->tls->saw_client_hello || tf->tls->saw_server_hello);
	if (silent && stream_begun(f, 0) && stream_begun(f, 1))
		bw_decoder_bypass_add(w->dec, bw_tcp_flow_key(f), w->cur_ts);
}

static void tls_flow_maybe_done(struct bw_worker *w, struct tls_flow *tf, struct bw_tcp_flow *f,
				const struct bw_packet *pkt)
{
	/* The server's side is what completes a handshake event. */
	int sdir = tf->client_dir >= 0 ? !tf->client_dir : -1;
	if (tf->tls && (bw_tls_conn_done(tf->tls) || (sdir >= 0 && tf->finished[sdir] && tf->tls->saw_server_hello)))
		tls_flow_emit(w, tf, f, pkt);
	if ((tf->finished[0] && tf->finished[1]) || (tf->tls && bw_tls_conn_done(tf->tls)))
		flow_done(w, tf, f);
}

static int tls_on_data(void *app, struct bw_tcp_flow *f, int dir, const uint8_t *data, size_t len, size_t *need,
		       const struct bw_packet *pkt)
{
	struct tls_flow *tf = app;
	struct bw_worker *w = tf->w;
	size_t off = 0;

	if (tf->finished[dir])
		return BW_ENOTSUP;
	tf->last_ts = pkt ? pkt->ts : w->cur_ts;
	tf->last_packet = w->cur_frame;
	tf->last_file = w->cur_file;

	if (tf->use_starttls && !bw_starttls_tls_started(&tf->st, dir == tf->client_dir)) {
		size_t used = 0;
		int st = bw_starttls_feed(&tf->st, dir == tf->client_dir, data, len, &used);
		if (st == BW_STARTTLS_GIVE_UP) {
			tf->finished[0] = tf->finished[1] = true;
			tls_flow_maybe_done(w, tf, f, pkt);
			return BW_ENOTSUP;
		}
		if (st == BW_STARTTLS_MORE)
			return (int)used;
		if (used > 0)
			return (int)used; /* the plaintext up to the TLS bytes */
	}

	if (!tf->tls) {
		/* First bytes of TLS in this flow: decide by what they look like. */
		if (len - off < 11 && !bw_tls_looks_like_tls(data + off, len - off)) {
			if (len - off < 5) {
				*need = off + 5;
				return BW_EAGAIN;
			}
		}
		if (!bw_tls_looks_like_tls(data + off, len - off)) {
			/* Not TLS: perhaps a dialogue that upgrades to it, on a port that did not say. */
			bool guess = tf->client_dir >= 0 ? dir == tf->client_dir : dir == bw_tcp_flow_client_dir(f);
			enum bw_starttls_proto sp =
				tf->use_starttls ? BW_STARTTLS_NONE : bw_starttls_sniff(data + off, len - off, guess);
			if (sp != BW_STARTTLS_NONE) {
				tf->use_starttls = true;
				bw_starttls_init(&tf->st, sp);
				tf->client_dir = bw_starttls_sniff_is_client(sp, data + off, len - off, guess) ? dir : !dir;
				return tls_on_data(app, f, dir, data, len, need, pkt);
			}
			if (!tf->use_starttls && bw_starttls_sniff_more(data + off, len - off, guess)) {
				*need = off + (len - off) + 1;
				return BW_EAGAIN;
			}
			tf->not_tls[dir] = tf->finished[dir] = true;
			tls_flow_maybe_done(w, tf, f, pkt);
			return BW_ENOTSUP;
		}
		tf->tls = malloc(sizeof(*tf->tls));
		if (!tf->tls) {
			tf->finished[0] = tf->finished[1] = true;
			flow_done(w, tf, f);
			return BW_ENOTSUP;
		}
		bw_tls_conn_init(tf->tls, &w->cfg.tls);
	}
	if (tf->client_dir < 0) {
		if (bw_tls_looks_like_client_hello(data + off, len - off))
			tf->client_dir = dir;
		else
			tf->client_dir = !dir; /* a server speaking first: the ClientHello was not captured */
	}
	int rc = bw_tls_conn_feed(tf->tls, dir == tf->client_dir, data + off, len - off, need, &w->an);
	if (rc == BW_EAGAIN && off > 0)
		return (int)off;
	if (rc == BW_EAGAIN)
		return rc;
	if (rc < 0) {
		tf->finished[dir] = true;
		tls_flow_maybe_done(w, tf, f, pkt);
		return BW_ENOTSUP;
	}
	tls_flow_maybe_done(w, tf, f, pkt);
	return (int)(rc + off);
}

static void tls_on_close(void *app, struct bw_tcp_flow *f)
{
	struct tls_flow *tf = app;
	tls_flow_emit(tf->w, tf, f, NULL);
	if (tf->tls) {
		bw_tls_conn_deinit(tf->tls);
		free(tf->tls);
	}
	free(tf);
}

static const struct bw_tcp_consumer tls_consumer = {
	.on_data = tls_on_data,
	.on_gap = NULL,
	.on_close = tls_on_close,
};

bool bw_worker_tls_classify(struct bw_worker *w, struct bw_tcp_flow *f, const struct bw_packet *first,
			    const struct bw_tcp_consumer **consumer, void **app)
{
	struct tls_flow *tf = calloc(1, sizeof(*tf));
	if (!tf)
		return false;
	tf->w = w;
	tf->client_dir = -1;
	const struct bw_flow_key *k = bw_tcp_flow_key(f);
	/* A STARTTLS service port decides who the client is: the other side. */
	enum bw_starttls_proto p = bw_starttls_proto_for_port(k->hi_port);
	int server_dir = 0; /* direction lo->hi means hi is the server */
	if (p == BW_STARTTLS_NONE) {
		p = bw_starttls_proto_for_port(k->lo_port);
		server_dir = 1;
	}
	if (p != BW_STARTTLS_NONE) {
		tf->use_starttls = true;
		bw_starttls_init(&tf->st, p);
		tf->client_dir = server_dir == 0 ? 0 : 1;
	}
	(void)first;
	*consumer = &tls_consumer;
	*app = tf;
	return true;
}

/* ---- QUIC and DTLS over UDP ---- */

struct quic_app {
	struct bw_quic_conn q;
	struct bw_tls_client_hello ch;
	struct bw_tls_server_hello sh;
	bool have_ch, have_sh, emitted, done;
	bw_time_t last_ts;
	uint64_t last_packet;
	const char *last_file;
};

struct dtls_app {
	struct bw_tls_conn tls;
	bool emitted, finished[2];
	bw_time_t last_ts;
	uint64_t last_packet;
	const char *last_file;
};

static void quic_emit(struct bw_worker *w, struct bw_udp_session *s, struct quic_app *qa, const struct bw_packet *pkt)
{
	if (qa->emitted || !qa->have_ch)
		return;
	qa->emitted = true;
	struct bw_tls_view v;
	struct bw_obs_meta meta;
	char dcid[48];
	memset(&v, 0, sizeof(v));
	v.protocol = "quic";
	v.ch = &qa->ch;
	v.sh = qa->have_sh ? &qa->sh : NULL;
	v.version = view_version(v.ch, v.sh);
	v.established = qa->have_sh;
	v.resumed = qa->have_sh && qa->sh.is_resumption;
	v.hello_retry_request = qa->have_sh && qa->sh.is_hello_retry_request;
	v.cert_visible = false;
	v.quic_version = bw_quic_version_name(bw_quic_version(&qa->q));
	if (bw_quic_dcid_hex(&qa->q, dcid, sizeof(dcid)) > 0)
		v.quic_dcid = dcid;
	v.quic_retry = bw_quic_retry_seen(&qa->q);
	meta_for(w, &s->key, s->client_dir, qa->last_ts, qa->last_packet, qa->last_file, IPPROTO_UDP, pkt, &meta);
	w->st.tls.quic++;
	w->st.tls.client_hellos++;
	if (qa->have_sh)
		w->st.tls.server_hellos++;
	emit_handshake(w, &v, NULL, &meta);
}

static void quic_packet(struct bw_worker *w, struct bw_udp_session *s, const struct bw_packet *p, int dir)
{
	struct quic_app *qa = s->app;
	if (qa->done)
		return;
	qa->last_ts = p->ts;
	qa->last_packet = w->cur_frame;
	qa->last_file = w->cur_file;
	bw_quic_feed(w->quic, &qa->q, dir == s->client_dir, p->payload, p->payload_len, &w->an);
	size_t n;
	const uint8_t *m;
	if (!qa->have_ch && (m = bw_quic_client_hello(&qa->q, &n)) != NULL && n >= 4) {
		if (bw_tls_parse_client_hello(m + 4, n - 4, &qa->ch) == BW_OK || qa->ch.cipher_count)
			qa->have_ch = true;
	}
	if (!qa->have_sh && (m = bw_quic_server_hello(&qa->q, &n)) != NULL && n >= 4) {
		if (bw_tls_parse_server_hello(m + 4, n - 4, &qa->sh) == BW_OK || qa->sh.cipher)
			qa->have_sh = true;
	}
	if (qa->have_ch && (qa->have_sh || bw_quic_conn_done(&qa->q)))
		quic_emit(w, s, qa, p);
	if (bw_quic_conn_done(&qa->q))
		qa->done = true;
}

static void dtls_emit(struct bw_worker *w, struct bw_udp_session *s, struct dtls_app *da, const struct bw_packet *pkt)
{
	if (da->emitted || !da->tls.saw_client_hello)
		return;
	da->emitted = true;
	struct bw_tls_view v;
	struct bw_obs_meta meta;
	view_from_conn(&da->tls, "dtls", &v);
	meta_for(w, &s->key, s->client_dir, da->last_ts, da->last_packet, da->last_file, IPPROTO_UDP, pkt, &meta);
	w->st.tls.dtls++;
	w->st.tls.client_hellos++;
	if (da->tls.saw_server_hello)
		w->st.tls.server_hellos++;
	emit_handshake(w, &v, da->tls.cert_visible ? &da->tls.server_certs : NULL, &meta);
}

static void dtls_packet(struct bw_worker *w, struct bw_udp_session *s, const struct bw_packet *p, int dir)
{
	struct dtls_app *da = s->app;
	if (da->finished[dir])
		return;
	da->last_ts = p->ts;
	da->last_packet = w->cur_frame;
	da->last_file = w->cur_file;
	int rc = bw_dtls_feed_datagram(&da->tls, dir == s->client_dir, p->payload, p->payload_len, &w->an);
	if (rc != BW_OK)
		da->finished[dir] = true;
	int sdir = !s->client_dir;
	if (bw_tls_conn_done(&da->tls) || (da->finished[sdir] && da->tls.saw_server_hello))
		dtls_emit(w, s, da, p);
}

static void udp_on_close(void *ctx, struct bw_udp_session *s)
{
	struct bw_worker *w = ctx;
	if (s->kind == UDP_KIND_QUIC) {
		struct quic_app *qa = s->app;
		quic_emit(w, s, qa, NULL);
		bw_quic_conn_deinit(&qa->q);
		free(qa);
	} else if (s->kind == UDP_KIND_DTLS) {
		struct dtls_app *da = s->app;
		dtls_emit(w, s, da, NULL);
		bw_tls_conn_deinit(&da->tls);
		free(da);
	}
	s->app = NULL;
}

/* A DTLS record carrying a ClientHello (handshake type 1 after the 13-byte record header). */
static bool dtls_client_hello(const uint8_t *p, size_t n)
{
	return n >= 25 && p[0] == 22 && bw_dtls_looks_like_dtls(p, n) && p[13] == 1;
}

void bw_worker_tls_udp(struct bw_worker *w, const struct bw_packet *p)
{
	struct bw_flow_key key;
	int dir;
	/* idle sessions were timed out by this frame's time already (worker_tick) */
	bw_flow_key_make(p, &key, &dir);
	struct bw_udp_session *s = bw_udp_sessions_find(w->udp, &key, p->ts);
	if (!s) {
		/* A client Initial is padded to at least 1200 bytes (RFC 9000 14.1). */
		bool quic = p->payload_len >= 1200 && bw_quic_looks_like_initial(p->payload, p->payload_len);
		bool dtls = !quic && dtls_client_hello(p->payload, p->payload_len);
		if (!quic && !dtls)
			return;
		void *app = quic ? calloc(1, sizeof(struct quic_app)) : calloc(1, sizeof(struct dtls_app));
		if (!app)
			return;
		s = bw_udp_sessions_add(w->udp, &key, dir, p->ts);
		s->app = app;
		w->st.tls.udp_sessions++;
		if (quic) {
			s->kind = UDP_KIND_QUIC;
			bw_quic_conn_init(&((struct quic_app *)app)->q);
		} else {
			s->kind = UDP_KIND_DTLS;
			bw_tls_conn_init(&((struct dtls_app *)app)->tls, &w->cfg.tls);
		}
	}
	if (s->kind == UDP_KIND_QUIC)
		quic_packet(w, s, p, dir);
	else
		dtls_packet(w, s, p, dir);
}

/* ---- certificate fetch (certfetch.h) ---- */

/* After a handshake: ask for its chain if the certificate was hidden and the name is owned. */
static void fetch_consider(struct bw_worker *w, const struct bw_tls_view *v, const struct bw_tls_cert_chain *chain,
			   const struct bw_obs_meta *meta)
{
	const char *raw = v->ch && v->ch->has_sni && v->ch->sni_valid ? v->ch->sni : NULL;
	if (!raw || !v->sh)
		return; /* no name to ask for, or no server answered */
	bool visible = v->cert_visible || (chain && chain->present && chain->count > 0);
	struct bw_certfetch_stats *st = bw_certfetch_client_stats(w->fetch);
	struct bw_certfetch_origin o;
	if (!bw_certfetch_gate(w->cfg.detect ? w->cfg.detect->policy : NULL, raw, o.sni, sizeof(o.sni))) {
		if (!visible)
			st->skipped_not_owned++;
		return;
	}
	if (visible) {
		st->skipped_visible++;
		return;
	}
	if (!bw_certfetch_addr_ok(&meta->dst, meta->dport)) {
		st->skipped_address++;
		return;
	}
	struct bw_certfetch_req req;
	memset(&req, 0, sizeof(req));
	req.addr = meta->dst;
	req.port = meta->dport;
	req.transport = meta->transport == IPPROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	memcpy(req.sni, o.sni, sizeof(req.sni));
	for (unsigned i = 0; i < v->ch->alpn_count && i < BW_TLS_MAX_ALPN && req.n_alpn < BW_CERTFETCH_MAX_ALPN; i++) {
		const struct bw_tls_alpn *a = &v->ch->alpn[i];
		if (a->len == 0 || a->len > BW_CERTFETCH_MAX_ALPN_LEN || a->len > BW_TLS_MAX_ALPN_LEN)
			continue;
		req.alpn_len[req.n_alpn] = a->len;
		memcpy(req.alpn[req.n_alpn++], a->id, a->len);
	}
	o.meta = *meta;
	o.meta.pkt = NULL;
	o.quic = v->protocol && strcmp(v->protocol, "quic") == 0;
	o.dtls = req.transport == IPPROTO_UDP && !o.quic;
	bw_certfetch_client_request(w->fetch, &req, &o, meta->ts);
}

/* One reply: its chain through the passive path, then a bindwatch.certfetch event. */
static void fetch_reply(void *ctx, const struct bw_certfetch_reply *r, const struct bw_certfetch_origin *o)
{
	struct bw_worker *w = ctx;
	struct bw_obs_meta meta = o->meta;
	struct bw_x509_verdict verdict;
	bool judged = false;
	memset(&verdict, 0, sizeof(verdict));
	verdict.chain = BW_X509_OK;
	if ((r->status == BW_CF_FETCHED || r->status == BW_CF_CACHED) && r->n_certs > 0) {
		struct bw_tls_cert_chain chain;
		memset(&chain, 0, sizeof(chain));
		for (unsigned i = 0; i < r->n_certs && i < BW_TLS_MAX_CERTS; i++) {
			chain.certs[i].der = r->der[i];
			chain.certs[i].len = r->der_len[i];
			chain.count++;
		}
		chain.present = true;
		chain.truncated = (r->flags & BW_CF_FLAG_CUT) != 0;
		struct bw_tls_client_hello *ch = w->fetch_ch;
		memset(ch, 0, sizeof(*ch));
		ch->has_sni = ch->sni_valid = true;
		size_t sl = strnlen(o->sni, sizeof(o->sni) - 1);
		ch->sni_len = (uint16_t)sl;
		memcpy(ch->sni_raw, o->sni, BW_MIN(sl, sizeof(ch->sni_raw)));
		snprintf(ch->sni, sizeof(ch->sni), "%s", o->sni);
		struct bw_tls_view v;
		memset(&v, 0, sizeof(v));
		v.protocol = "fetched tls"; /* reads "fetched tls TLSv1.3 handshake for ..." in alert evidence */
		v.ch = ch;
		v.version = r->tls_version;
		v.established = true;
		v.cert_visible = true;
		verdict.chain_depth = -2; /* unset marker: chain_handle fills it when it validates */
		chain_handle(w, &v, &chain, &meta, "fetched", &verdict);
		judged = verdict.chain_depth != -2;
	}
	bw_json_reset(&w->json);
	bw_fmt_json_head(&w->json, "bindwatch.certfetch", "event", &meta);
	bw_json_obj_begin(&w->json, "certfetch");
	bw_json_str(&w->json, "status", bw_certfetch_status_name(r->status));
	bw_json_str(&w->json, "server_name", o->sni);
	bw_json_str(&w->json, "observed_over", o->quic ? "quic" : o->dtls ? "dtls" : "tcp");
	bw_json_u64(&w->json, "latency_ms", r->latency_ms);
	if (r->fetched_at)
		bw_json_time(&w->json, "fetched_at", r->fetched_at);
	if (r->tls_version) {
		char nb[BW_TLS_NAME_BUF];
		bw_json_str(&w->json, "tls_version", bw_tls_version_name(r->tls_version, nb, sizeof(nb)));
	}
	bw_json_u64(&w->json, "certificates", r->n_certs);
	if (r->flags & BW_CF_FLAG_CUT)
		bw_json_bool(&w->json, "chain_cut", true);
	if (r->n_certs > 0) {
		uint8_t md[SHA256_DIGEST_LENGTH];
		SHA256(r->der[0], r->der_len[0], md);
		bw_json_hex(&w->json, "leaf_sha256", md, sizeof(md));
	}
	if (judged)
		bw_json_str(&w->json, "validation", bw_x509_reason_name(verdict.chain != BW_X509_OK ? verdict.chain
												  : verdict.name));
	bw_json_obj_end(&w->json);
	bw_json_obj_end(&w->json); /* bindwatch */
	bw_json_obj_end(&w->json);
	bw_worker_emit(w, BW_EV_TLS, meta.ts);
}

void bw_worker_tls_fetch_poll(struct bw_worker *w)
{
	bw_certfetch_client_poll(w->fetch, fetch_reply, w);
}

void bw_worker_tls_fetch_drain(struct bw_worker *w)
{
	bw_certfetch_client_drain(w->fetch, fetch_reply, w);
}

/* ---- lifecycle ---- */

int bw_worker_tls_init(struct bw_worker *w)
{
	struct bw_certcache_config cc = { .max_entries = w->cfg.cert_cache_entries,
					  .max_bytes = w->cfg.cert_cache_bytes };
	w->certs = bw_certcache_new(&cc, &w->an);
	w->quic = bw_quic_decoder_new();
	w->udp = bw_udp_sessions_new(w->cfg.udp_max_sessions ? w->cfg.udp_max_sessions : 4096,
				     w->cfg.udp_idle_timeout ? w->cfg.udp_idle_timeout : 60 * BW_NSEC_PER_SEC,
				     udp_on_close, w);
	if (w->cfg.fetch) {
		/* No channel for this worker (worker_id past the fetcher's channels): it does not fetch. */
		w->fetch = bw_certfetch_client_new(w->cfg.fetch, w->cfg.worker_id);
		w->fetch_ch = w->fetch ? calloc(1, sizeof(*w->fetch_ch)) : NULL;
		if (w->fetch && !w->fetch_ch)
			return BW_ENOMEM;
	}
	return w->certs && w->quic && w->udp ? BW_OK : BW_ENOMEM;
}

void bw_worker_tls_finish(struct bw_worker *w)
{
	if (w->udp)
		bw_udp_sessions_flush(w->udp);
}

void bw_worker_tls_deinit(struct bw_worker *w)
{
	bw_certfetch_client_free(w->fetch);
	w->fetch = NULL;
	free(w->fetch_ch);
	w->fetch_ch = NULL;
	bw_udp_sessions_free(w->udp);
	w->udp = NULL;
	bw_quic_decoder_free(w->quic);
	w->quic = NULL;
	bw_certcache_free(w->certs);
	w->certs = NULL;
}

void bw_worker_tls_stats(const struct bw_worker *w, struct bw_tls_stats *st)
{
	struct bw_certcache_stats cs;
	bw_certcache_stats(w->certs, &cs);
	st->cert_cache_hits = cs.hits;
	st->cert_cache_evictions = cs.evictions;
	const struct bw_udp_sessions_stats *us = bw_udp_sessions_stats(w->udp);
	st->udp_sessions_evicted = us->evicted;
}
