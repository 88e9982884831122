/* SPDX-License-Identifier: MIT */
/*
 * tcp_stream.c: the per-worker TCP flow table and per-direction in-order
 * byte streams that DNS over TCP and TLS consumers read from.
 *
 * Shape, and why: a passive sensor sees both directions, loses packets, sees
 * retransmissions and reordering, and is fed by whoever can send it packets,
 * so every structure is bounded and the common case is cheap. Flows live in
 * a chained hash (bw_flow_key_hash) over flow structs taken from slabs that
 * grow lazily up to max_flows, and on two lists ordered by last packet time
 * (open flows, and closed flows lingering for stray packets), so expiry looks
 * only at list heads and eviction takes the idlest in O(1). Each direction
 * keeps a 64-bit stream offset instead of raw sequence numbers (32-bit serial
 * arithmetic is applied once, when a segment's seq is mapped to an offset),
 * which makes wrap-around a non-event. An in-order segment arriving with
 * nothing pending is handed to the consumer straight from the packet; only
 * what the consumer leaves is copied into a contiguous per-direction buffer.
 * Out-of-order bytes wait in a sorted, non-overlapping segment list (the
 * first copy of a byte wins, as with Suricata's default policy and most
 * hosts) whose size counts against the stream and memory caps together with
 * the buffer; when a cap is hit the stream skips its first hole instead of
 * dropping data, because a hole that old is not going to be filled.
 */
#include "tcp_stream.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define SLAB_FLOWS 256      /* flows per slab: one malloc per this many new flows at most */
#define MAX_OOO_SEGS 1024   /* queued segments per direction: bounds the sorted-list walk */
#define BUF_MIN 1024        /* first stream buffer allocation */
#define BUF_KEEP 4096       /* an emptied buffer at most this big is kept for reuse */
#define EXPIRE_BATCH 64     /* flows expired lazily per segment, to bound one packet's latency */
#define MAX_FLOWS_LIMIT (1u << 24)

/* Per-direction flags. */
#define DF_SEQ 0x01      /* base_seq is known: the stream has a start */
#define DF_SYN 0x02      /* a SYN was seen; isn holds its seq */
#define DF_FIN 0x04      /* a FIN was seen */
#define DF_STOP 0x08     /* no more deliveries: consumer said ENOTSUP, flow done, or a cap */
#define DF_FINISHED 0x10 /* FIN processed: holes skipped, nothing more accepted */
#define DF_DATA 0x20     /* a segment with payload arrived (kept or not) */

struct tcp_seg {
	struct tcp_seg *next;
	uint64_t off; /* stream offset of data[0] */
	uint32_t len;
	uint8_t data[];
};

struct tcp_dir {
	uint64_t next_off; /* stream offset of the next byte not yet received contiguously */
	uint64_t fin_off;
	uint64_t need;     /* consumer wants at least this many pending bytes before the next call */
	uint64_t cb_off;   /* offset of data[0] during on_data */
	struct tcp_seg *ooo, *ooo_tail;
	uint8_t *buf;      /* pending bytes are buf[buf_start .. buf_start + buf_len) */
	uint32_t buf_start, buf_len, buf_cap;
	uint32_t ooo_bytes, ooo_count;
	uint32_t base_seq; /* sequence number of stream offset 0 */
	uint32_t isn;
	uint8_t flags;
};

enum { FS_FREE = 0, FS_OPEN, FS_CLOSED };

struct bw_tcp_flow {
	struct bw_flow_key key;
	struct bw_tcp_table *t;
	struct bw_tcp_flow *hnext;       /* hash chain, or free list */
	struct bw_tcp_flow *prev, *next; /* open or closed list */
	const struct bw_tcp_consumer *c; /* NULL once on_close was called, or never had one */
	void *app;
	bw_time_t last;
	uint64_t hash;
	uint8_t state;
	uint8_t client_dir;
	bool done;
	struct tcp_dir d[2];
};

struct flow_list {
	struct bw_tcp_flow *head, *tail; /* head is the idlest */
};

struct bw_tcp_table {
	struct bw_tcp_config cfg;
	bw_tcp_classify_fn classify;
	void *classify_ctx;
	struct bw_anomalies *an;
	struct bw_tcp_flow **buckets;
	size_t mask;
	struct bw_tcp_flow **slabs;
	size_t n_slabs, max_slabs, flows_alloced;
	struct bw_tcp_flow *free_list;
	struct flow_list open, closed;
	size_t mem;
	bw_time_t now;
	struct bw_tcp_flow *cb_flow; /* flow whose callback is running: its storage must not move */
	bool busy;                   /* inside a table call: callbacks may not re-enter it */
	struct bw_tcp_stats st;
};

void bw_tcp_config_default(struct bw_tcp_config *c)
{
	c->max_flows = 65536;
	c->stream_cap = 256 * 1024;
	c->mem_cap = 64u * 1024 * 1024;
	c->idle_timeout = 120 * BW_NSEC_PER_SEC;
	c->closed_linger = 5 * BW_NSEC_PER_SEC;
}

/* ---- memory accounting ---- */

static void mem_add(struct bw_tcp_table *t, size_t n)
{
	t->mem += n;
	if (t->mem > t->st.bytes_buffered_max)
		t->st.bytes_buffered_max = t->mem;
}

static void mem_sub(struct bw_tcp_table *t, size_t n) { t->mem = n > t->mem ? 0 : t->mem - n; }

static size_t seg_cost(uint32_t len) { return sizeof(struct tcp_seg) + len; }

/* Unlink the first queued segment; its memory is uncharged now, freed by the caller. */
static struct tcp_seg *ooo_pop(struct bw_tcp_table *t, struct tcp_dir *s)
{
	struct tcp_seg *g = s->ooo;
	s->ooo = g->next;
	if (!s->ooo)
		s->ooo_tail = NULL;
	s->ooo_bytes -= g->len;
	s->ooo_count--;
	mem_sub(t, seg_cost(g->len));
	return g;
}

static void ooo_clear(struct bw_tcp_table *t, struct tcp_dir *s)
{
	while (s->ooo)
		free(ooo_pop(t, s));
}

static void buf_release(struct bw_tcp_table *t, struct tcp_dir *s)
{
	free(s->buf);
	mem_sub(t, s->buf_cap);
	s->buf = NULL;
	s->buf_cap = s->buf_start = s->buf_len = 0;
	s->need = 0;
}

/* Drop the bytes the consumer was offered but left (at a hole they can never be completed). */
static void buf_discard(struct bw_tcp_table *t, struct tcp_dir *s)
{
	s->buf_start = s->buf_len = 0;
	s->need = 0;
	if (s->buf_cap > BUF_KEEP)
		buf_release(t, s);
}

static void dir_release(struct bw_tcp_table *t, struct tcp_dir *s)
{
	ooo_clear(t, s);
	buf_release(t, s);
}

/* Free the storage of stopped directions, unless a callback of this flow is running. */
static void settle(struct bw_tcp_table *t, struct bw_tcp_flow *f)
{
	if (t->cb_flow == f)
		return;
	for (int d = 0; d < 2; d++)
		if ((f->d[d].flags & DF_STOP) && (f->d[d].buf || f->d[d].ooo))
			dir_release(t, &f->d[d]);
	if ((f->d[0].flags & DF_STOP) && (f->d[1].flags & DF_STOP))
		f->done = true;
}

/* Append to the pending bytes. Returns BW_OK, or BW_ENOMEM with *why the cap that was hit. */
static int buf_append(struct bw_tcp_table *t, struct tcp_dir *s, const uint8_t *data, uint32_t n,
		      enum bw_anomaly *why)
{
	if ((uint64_t)s->buf_len + s->ooo_bytes + n > t->cfg.stream_cap) {
		*why = BW_AN_TCP_STREAM_CAP;
		return BW_ENOMEM;
	}
	if (s->buf_start + s->buf_len + n > s->buf_cap) {
		uint32_t want = s->buf_len + n;
		if (want <= s->buf_cap) {
			memmove(s->buf, s->buf + s->buf_start, s->buf_len);
		} else {
			uint64_t cap = BW_MAX((uint64_t)s->buf_cap * 2, (uint64_t)BUF_MIN);
			cap = BW_MIN(BW_MAX(cap, (uint64_t)want), (uint64_t)t->cfg.stream_cap);
			if (t->mem - s->buf_cap + cap > t->cfg.mem_cap)
				cap = want;
			if (t->mem - s->buf_cap + cap > t->cfg.mem_cap) {
				*why = BW_AN_TCP_MEMCAP;
				return BW_ENOMEM;
			}
			uint8_t *nb = malloc(cap);
			if (!nb) {
				*why = BW_AN_TCP_MEMCAP;
				return BW_ENOMEM;
			}
			if (s->buf_len)
				memcpy(nb, s->buf + s->buf_start, s->buf_len);
			free(s->buf);
			mem_sub(t, s->buf_cap);
			mem_add(t, cap);
			s->buf = nb;
			s->buf_cap = (uint32_t)cap;
		}
		s->buf_start = 0;
	}
	memcpy(s->buf + s->buf_start + s->buf_len, data, n);
	s->buf_len += n;
	return BW_OK;
}

/* ---- delivery ---- */

static void stop_dir(struct tcp_dir *s) { s->flags |= DF_STOP; }

static void cap_hit(struct bw_tcp_table *t, enum bw_anomaly why)
{
	bw_anomaly(t->an, why);
	if (why == BW_AN_TCP_MEMCAP)
		t->st.mem_cap_hits++;
	else
		t->st.stream_cap_hits++;
}

static uint32_t dir_seq(const struct tcp_dir *s, uint64_t off) { return s->base_seq + (uint32_t)off; }

/*
 * Offer data[0..n), which sits at stream offset off, to the consumer until it
 * stops taking bytes. Returns how many it consumed.
 */
static uint32_t deliver(struct bw_tcp_table *t, struct bw_tcp_flow *f, int d, const uint8_t *data,
			uint32_t n, uint64_t off, const struct bw_packet *p)
{
	struct tcp_dir *s = &f->d[d];
	uint32_t used = 0;

	/* Each round consumes at least one byte or leaves the loop, so it runs at most n times. */
	while (used < n && !(s->flags & DF_STOP) && f->c) {
		uint32_t avail = n - used;
		if (avail < s->need)
			break;
		size_t need = 0;
		s->cb_off = off + used;
		t->cb_flow = f;
		int r = f->c->on_data(f->app, f, d, data + used, avail, &need, p);
		t->cb_flow = NULL;
		if (r == BW_EAGAIN) {
			s->need = need > avail ? need : (uint64_t)avail + 1;
			if (s->need > t->cfg.stream_cap) {
				/* It can never be satisfied: stop now rather than fill the buffer. */
				cap_hit(t, BW_AN_TCP_STREAM_CAP);
				stop_dir(s);
			}
			break;
		}
		if (r < 0) {
			stop_dir(s);
			break;
		}
		if (r == 0) {
			s->need = (uint64_t)avail + 1;
			break;
		}
		uint32_t k = (size_t)r > avail ? avail : (uint32_t)r;
		used += k;
		s->need = 0;
		t->st.bytes_delivered += k;
	}
	return used;
}

/*
 * Skip a hole of `hole` bytes at next_off. The consumer is told how many
 * bytes it will never see after the last one it consumed: the hole plus what
 * it had left pending, so its own count of the stream position stays exact.
 */
static void gap(struct bw_tcp_table *t, struct bw_tcp_flow *f, int d, uint64_t hole)
{
	struct tcp_dir *s = &f->d[d];
	uint64_t missing = hole + s->buf_len;
	buf_discard(t, s);
	s->next_off += hole;
	t->st.gaps++;
	bw_anomaly(t->an, BW_AN_TCP_GAP);
	if (f->c && f->c->on_gap && !(s->flags & DF_STOP)) {
		t->cb_flow = f;
		f->c->on_gap(f->app, f, d, missing);
		t->cb_flow = NULL;
	}
}

/*
 * The next len bytes of direction d, starting at next_off, are here: hand
 * them over, zero copy if nothing is pending, and keep what is left.
 */
static int feed_inorder(struct bw_tcp_table *t, struct bw_tcp_flow *f, int d, const uint8_t *data,
			uint32_t len, const struct bw_packet *p)
{
	struct tcp_dir *s = &f->d[d];
	uint64_t off = s->next_off;
	enum bw_anomaly why;

	s->next_off += len;
	while (len > 0 && !(s->flags & DF_STOP)) {
		if (s->buf_len == 0) {
			uint32_t used = deliver(t, f, d, data, len, off, p);
			data += used;
			len -= used;
			if (len == 0 || (s->flags & DF_STOP))
				break;
			if (buf_append(t, s, data, len, &why) != BW_OK)
				goto cap;
			break;
		}
		uint64_t room = (uint64_t)t->cfg.stream_cap - BW_MIN((uint64_t)t->cfg.stream_cap,
								     (uint64_t)s->buf_len + s->ooo_bytes);
		uint32_t chunk = (uint32_t)BW_MIN((uint64_t)len, room);
		if (chunk == 0) {
			why = BW_AN_TCP_STREAM_CAP;
			goto cap;
		}
		if (buf_append(t, s, data, chunk, &why) != BW_OK)
			goto cap;
		data += chunk;
		len -= chunk;
		off += chunk;
		uint32_t used = deliver(t, f, d, s->buf + s->buf_start, s->buf_len, off - s->buf_len, p);
		s->buf_start += used;
		s->buf_len -= used;
		if (s->buf_len == 0)
			buf_discard(t, s);
	}
	return BW_OK;
cap:
	/* The consumer wants more bytes than we may hold: it cannot be served any more. */
	cap_hit(t, why);
	stop_dir(s);
	return BW_ENOMEM;
}

/* Hand over every queued segment that now starts at next_off. */
static int drain(struct bw_tcp_table *t, struct bw_tcp_flow *f, int d, const struct bw_packet *p)
{
	struct tcp_dir *s = &f->d[d];
	int rc = BW_OK;
	while (s->ooo && !(s->flags & DF_STOP) && s->ooo->off <= s->next_off) {
		struct tcp_seg *g = ooo_pop(t, s);
		uint64_t skip = s->next_off - g->off; /* 0 by the queue invariant; defensive */
		if (skip < g->len) {
			int r = feed_inorder(t, f, d, g->data + skip, g->len - (uint32_t)skip, p);
			if (r != BW_OK)
				rc = r;
		}
		free(g);
	}
	return rc;
}

/* Skip the hole before the first queued segment and deliver what follows it. */
static int skip_hole(struct bw_tcp_table *t, struct bw_tcp_flow *f, int d, const struct bw_packet *p)
{
	struct tcp_dir *s = &f->d[d];
	if (s->ooo->off > s->next_off)
		gap(t, f, d, s->ooo->off - s->next_off);
	return drain(t, f, d, p);
}

/*
 * End of a direction (FIN, RST, timeout, flush): skip every hole, deliver
 * what is queued below limit, and accept nothing more. With a FIN, a hole
 * right before it is reported too.
 */
static void finish_dir(struct bw_tcp_table *t, struct bw_tcp_flow *f, int d, bool fin,
		       const struct bw_packet *p)
{
	struct tcp_dir *s = &f->d[d];
	uint64_t limit = fin ? s->fin_off : UINT64_MAX;

	if (s->flags & DF_FINISHED)
		return;
	/* Bounded by the queue length: every round pops one segment. */
	while (s->ooo && !(s->flags & DF_STOP) && s->ooo->off < limit) {
		if (s->ooo->off > s->next_off)
			gap(t, f, d, s->ooo->off - s->next_off);
		if (s->flags & DF_STOP)
			break;
		struct tcp_seg *g = ooo_pop(t, s);
		uint64_t end = BW_MIN(g->off + g->len, limit);
		if (end > s->next_off) {
			uint64_t skip = s->next_off - g->off;
			feed_inorder(t, f, d, g->data + skip, (uint32_t)(end - s->next_off), p);
		}
		free(g);
	}
	ooo_clear(t, s);
	if (fin && !(s->flags & DF_STOP) && (s->flags & DF_SEQ) && s->next_off < s->fin_off)
		gap(t, f, d, s->fin_off - s->next_off);
	s->flags |= DF_FINISHED;
}

/* ---- out-of-order queue ---- */

struct ooo_walk {
	uint64_t new_bytes;
	uint32_t pieces;
	bool overlap, conflict;
};

/*
 * Walk [a, a+len) against the sorted queue: the queued copy wins where they
 * overlap; uncovered pieces are counted (insert false) or queued (insert
 * true). Returns BW_ENOMEM only if malloc failed while inserting.
 */
static int ooo_walk(struct bw_tcp_table *t, struct tcp_dir *s, uint64_t a, const uint8_t *data,
		    uint32_t len, bool insert, struct ooo_walk *w)
{
	uint64_t b = a + len, cur = a;
	struct tcp_seg **link = &s->ooo;

	memset(w, 0, sizeof(*w));
	/* Reordered segments mostly land after everything queued: start at the tail then. */
	if (s->ooo_tail && s->ooo_tail->off + s->ooo_tail->len <= a)
		link = &s->ooo_tail->next;
	/* Each round advances over one queued segment or ends: bounded by MAX_OOO_SEGS + 1. */
	while (cur < b) {
		struct tcp_seg *n = *link;
		uint64_t piece_end;
		if (n && n->off + n->len <= cur) {
			link = &n->next;
			continue;
		}
		piece_end = n ? BW_MIN(b, n->off) : b;
		if (piece_end > cur) {
			uint32_t plen = (uint32_t)(piece_end - cur);
			w->new_bytes += plen;
			w->pieces++;
			if (insert) {
				struct tcp_seg *g = malloc(seg_cost(plen));
				if (!g)
					return BW_ENOMEM;
				g->off = cur;
				g->len = plen;
				memcpy(g->data, data + (cur - a), plen);
				g->next = n;
				*link = g;
				if (!n)
					s->ooo_tail = g;
				s->ooo_bytes += plen;
				s->ooo_count++;
				mem_add(t, seg_cost(plen));
				link = &g->next;
			}
			cur = piece_end;
		}
		if (!n || cur >= b)
			break;
		/* cur is now inside n: compare the overlapping bytes, keep n's. */
		uint64_t e = BW_MIN(b, n->off + n->len);
		w->overlap = true;
		if (memcmp(data + (cur - a), n->data + (cur - n->off), (size_t)(e - cur)) != 0)
			w->conflict = true;
		cur = e;
		link = &n->next;
	}
	return BW_OK;
}

/* ---- segment data ---- */

static int64_t seq_to_off(const struct tcp_dir *s, uint32_t seq)
{
	return (int64_t)s->next_off + (int32_t)(seq - dir_seq(s, s->next_off));
}

struct overlap_marks {
	bool overlap, conflict;
};

static void mark_overlap(struct bw_tcp_table *t, struct overlap_marks *m, bool conflict)
{
	if (!m->overlap) {
		m->overlap = true;
		t->st.overlaps++;
		bw_anomaly(t->an, BW_AN_TCP_OVERLAP);
	}
	if (conflict && !m->conflict) {
		m->conflict = true;
		bw_anomaly(t->an, BW_AN_TCP_OVERLAP_CONFLICT);
	}
}

/*
 * A segment's payload for direction d, data[0] at sequence number seq. The
 * loop restarts after each skipped hole; each restart removes at least one
 * queued segment or makes the segment in order, so it is bounded.
 */
static int dir_data(struct bw_tcp_table *t, struct bw_tcp_flow *f, int d, uint32_t seq,
		    const uint8_t *data, uint32_t len, const struct bw_packet *p)
{
	struct tcp_dir *s = &f->d[d];
	struct overlap_marks m = {0};
	bool cap_counted = false;
	int rc = BW_OK;
	int64_t a = seq_to_off(s, seq);

	for (unsigned guard = 0; guard <= MAX_OOO_SEGS + 2 && len > 0; guard++) {
		if (s->flags & DF_STOP)
			return rc;
		if (a + (int64_t)len <= 0)
			return rc; /* before the stream start: nothing of ours to compare with */
		if (a < 0) {
			data += -a;
			len -= (uint32_t)-a;
			a = 0;
		}
		if ((uint64_t)a < s->next_off) {
			/* Already received (or skipped): the first copy won. Compare what we still hold. */
			uint64_t old_end = BW_MIN((uint64_t)a + len, s->next_off);
			uint64_t held = s->next_off - s->buf_len;
			uint64_t hs = BW_MAX((uint64_t)a, held);
			bool conflict = hs < old_end &&
					memcmp(data + (hs - (uint64_t)a), s->buf + s->buf_start + (hs - held),
					       (size_t)(old_end - hs)) != 0;
			mark_overlap(t, &m, conflict);
			data += old_end - (uint64_t)a;
			len -= (uint32_t)(old_end - (uint64_t)a);
			a = (int64_t)old_end;
			if (len == 0)
				return rc;
		}
		if ((uint64_t)a == s->next_off)
			break;

		struct ooo_walk w;
		ooo_walk(t, s, (uint64_t)a, data, len, false, &w);
		if (w.overlap)
			mark_overlap(t, &m, w.conflict);
		if (w.new_bytes == 0)
			return rc;
		enum bw_anomaly why = BW_AN__COUNT;
		if (s->ooo_count + w.pieces > MAX_OOO_SEGS ||
		    (uint64_t)s->buf_len + s->ooo_bytes + w.new_bytes > t->cfg.stream_cap)
			why = BW_AN_TCP_OOO_CAP;
		else if (t->mem + w.new_bytes + (uint64_t)w.pieces * sizeof(struct tcp_seg) > t->cfg.mem_cap)
			why = BW_AN_TCP_MEMCAP;
		if (why == BW_AN__COUNT) {
			t->st.ooo_segments++;
			return ooo_walk(t, s, (uint64_t)a, data, len, true, &w);
		}
		if (!cap_counted) {
			cap_counted = true;
			cap_hit(t, why);
		}
		if (s->ooo) {
			int r = skip_hole(t, f, d, p);
			if (r != BW_OK)
				rc = r;
		} else {
			/* Nothing queued to skip to: skip to this segment, which is then in order. */
			gap(t, f, d, (uint64_t)a - s->next_off);
		}
	}
	if (len == 0 || (s->flags & DF_STOP) || (uint64_t)a != s->next_off)
		return rc;

	/* In order. Where queued segments overlap ours, theirs came first and win. */
	while (len > 0 && !(s->flags & DF_STOP)) {
		struct tcp_seg *h = s->ooo;
		int r;
		if (!h) {
			r = feed_inorder(t, f, d, data, len, p);
			len = 0;
		} else if (h->off > s->next_off) {
			uint32_t n = (uint32_t)BW_MIN((uint64_t)len, h->off - s->next_off);
			r = feed_inorder(t, f, d, data, n, p);
			data += n;
			len -= n;
		} else {
			uint32_t n = BW_MIN(len, h->len);
			mark_overlap(t, &m, memcmp(data, h->data, n) != 0);
			h = ooo_pop(t, s);
			r = feed_inorder(t, f, d, h->data, h->len, p);
			free(h);
			data += n;
			len -= n;
		}
		if (r != BW_OK)
			rc = r;
	}
	int r = drain(t, f, d, p);
	return r != BW_OK ? r : rc;
}

/* ---- flow table ---- */

static void list_remove(struct flow_list *l, struct bw_tcp_flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		l->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NULL;
}

static void list_append(struct flow_list *l, struct bw_tcp_flow *f)
{
	f->next = NULL;
	f->prev = l->tail;
	if (l->tail)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
}

static struct flow_list *flow_list_of(struct bw_tcp_table *t, const struct bw_tcp_flow *f)
{
	return f->state == FS_CLOSED ? &t->closed : &t->open;
}

/* Packet time only moves forward here, so both lists stay sorted by last. */
static void touch(struct bw_tcp_table *t, struct bw_tcp_flow *f)
{
	struct flow_list *l = flow_list_of(t, f);
	f->last = t->now;
	if (l->tail != f) {
		list_remove(l, f);
		list_append(l, f);
	}
}

static struct bw_tcp_flow *lookup(struct bw_tcp_table *t, const struct bw_flow_key *k, uint64_t h)
{
	for (struct bw_tcp_flow *f = t->buckets[h & t->mask]; f; f = f->hnext)
		if (f->hash == h && memcmp(&f->key, k, sizeof(*k)) == 0)
			return f;
	return NULL;
}

const struct bw_tcp_flow *bw_tcp_table_find(struct bw_tcp_table *t, const struct bw_packet *p)
{
	if (!t || !p || p->proto != IPPROTO_TCP)
		return NULL;
	struct bw_flow_key key;
	int dir;
	bw_flow_key_make(p, &key, &dir);
	return lookup(t, &key, bw_flow_key_hash(&key));
}

/* Unhash, unlist and return to the free list. The consumer must be closed already. */
static void flow_free(struct bw_tcp_table *t, struct bw_tcp_flow *f)
{
	struct bw_tcp_flow **pp = &t->buckets[f->hash & t->mask];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	list_remove(flow_list_of(t, f), f);
	dir_release(t, &f->d[0]);
	dir_release(t, &f->d[1]);
	memset(f, 0, sizeof(*f));
	f->hnext = t->free_list;
	t->free_list = f;
	t->st.flows_active--;
}

/* Build a packet for deliveries no segment of this direction triggered. */
static void synth_packet(const struct bw_tcp_table *t, const struct bw_tcp_flow *f, int d,
			 struct bw_packet *out)
{
	memset(out, 0, sizeof(*out));
	out->ts = t->now;
	out->proto = IPPROTO_TCP;
	out->src = d == 0 ? f->key.lo : f->key.hi;
	out->dst = d == 0 ? f->key.hi : f->key.lo;
	out->sport = d == 0 ? f->key.lo_port : f->key.hi_port;
	out->dport = d == 0 ? f->key.hi_port : f->key.lo_port;
	out->ip_version = out->src.family;
	if (f->key.vlan) {
		out->vlan[0] = (uint16_t)f->key.vlan;
		out->n_vlan = 1;
	}
}

static void call_close(struct bw_tcp_table *t, struct bw_tcp_flow *f)
{
	const struct bw_tcp_consumer *c = f->c;
	f->c = NULL; /* exactly once, and no callback after it */
	if (c && c->on_close) {
		t->cb_flow = f;
		c->on_close(f->app, f);
		t->cb_flow = NULL;
	}
	f->app = NULL;
}

/*
 * The connection ends: deliver what is queued past holes (unless drop), call
 * on_close, release the buffers. p is the segment that ended it (its
 * direction pdir), or NULL.
 */
static void flow_end(struct bw_tcp_table *t, struct bw_tcp_flow *f, bool drop, const struct bw_packet *p,
		     int pdir)
{
	struct bw_packet synth;
	for (int d = 0; d < 2 && !drop; d++) {
		const struct bw_packet *pp = p;
		if (!p || d != pdir) {
			synth_packet(t, f, d, &synth);
			pp = &synth;
		}
		finish_dir(t, f, d, false, pp);
	}
	f->d[0].flags |= DF_STOP | DF_FINISHED;
	f->d[1].flags |= DF_STOP | DF_FINISHED;
	f->done = true;
	call_close(t, f);
	dir_release(t, &f->d[0]);
	dir_release(t, &f->d[1]);
}

/* FIN both ways or RST: close now, keep the entry lingering for stray packets. */
static void flow_close_linger(struct bw_tcp_table *t, struct bw_tcp_flow *f, const struct bw_packet *p,
			      int pdir)
{
	flow_end(t, f, false, p, pdir);
	t->st.flows_closed++;
	list_remove(&t->open, f);
	f->state = FS_CLOSED;
	list_append(&t->closed, f);
}

static void flow_expire(struct bw_tcp_table *t, struct bw_tcp_flow *f, uint64_t *counter)
{
	if (f->state == FS_OPEN) {
		flow_end(t, f, false, NULL, 0);
		(*counter)++;
	}
	flow_free(t, f);
}

static bool expired(const struct bw_tcp_table *t, const struct bw_tcp_flow *f)
{
	bw_time_t limit = f->state == FS_CLOSED ? t->cfg.closed_linger : t->cfg.idle_timeout;
	return t->now - f->last > limit;
}

static void expire_some(struct bw_tcp_table *t, size_t budget)
{
	while (budget && t->closed.head && expired(t, t->closed.head)) {
		flow_free(t, t->closed.head);
		budget--;
	}
	while (budget && t->open.head && expired(t, t->open.head)) {
		flow_expire(t, t->open.head, &t->st.flows_timed_out);
		budget--;
	}
}

static struct bw_tcp_flow *flow_alloc(struct bw_tcp_table *t)
{
	if (!t->free_list) {
		if (t->n_slabs == t->max_slabs)
			return NULL;
		size_t n = BW_MIN((size_t)SLAB_FLOWS, (size_t)t->cfg.max_flows - t->flows_alloced);
		struct bw_tcp_flow *slab = calloc(n, sizeof(*slab));
		if (!slab)
			return NULL;
		t->slabs[t->n_slabs++] = slab;
		t->flows_alloced += n;
		for (size_t i = n; i-- > 0;) {
			slab[i].hnext = t->free_list;
			t->free_list = &slab[i];
		}
	}
	struct bw_tcp_flow *f = t->free_list;
	t->free_list = f->hnext;
	f->hnext = NULL;
	return f;
}

static struct bw_tcp_flow *flow_new(struct bw_tcp_table *t, const struct bw_flow_key *k, uint64_t h, int dir,
				    const struct bw_packet *p)
{
	if (t->st.flows_active >= t->cfg.max_flows) {
		t->st.flow_cap_hits++;
		bw_anomaly(t->an, BW_AN_TCP_FLOW_CAP);
		/* Lingering closed flows go first: nothing is lost with them. */
		struct bw_tcp_flow *victim = t->closed.head ? t->closed.head : t->open.head;
		if (victim) {
			t->st.flows_evicted++;
			if (victim->state == FS_OPEN)
				flow_end(t, victim, false, NULL, 0);
			flow_free(t, victim);
		}
	}
	struct bw_tcp_flow *f = flow_alloc(t);
	if (!f)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->hash = h;
	f->t = t;
	f->state = FS_OPEN;
	f->last = t->now;
	/* The SYN-ACK comes from the server; otherwise the first sender is taken for the client. */
	bool synack = (p->tcp_flags & (BW_TCP_SYN | BW_TCP_ACK)) == (BW_TCP_SYN | BW_TCP_ACK);
	f->client_dir = (uint8_t)(synack ? 1 - dir : dir);
	f->hnext = t->buckets[h & t->mask];
	t->buckets[h & t->mask] = f;
	list_append(&t->open, f);
	t->st.flows_created++;
	if (++t->st.flows_active > t->st.flows_active_max)
		t->st.flows_active_max = t->st.flows_active;

	const struct bw_tcp_consumer *c = NULL;
	void *app = NULL;
	bool want = false;
	if (t->classify) {
		t->cb_flow = f;
		want = t->classify(t->classify_ctx, f, p, &c, &app);
		t->cb_flow = NULL;
	}
	if (want && c && c->on_data) {
		f->c = c;
		f->app = app;
	} else {
		f->d[0].flags |= DF_STOP;
		f->d[1].flags |= DF_STOP;
		f->done = true;
	}
	return f;
}

static void dir_start(struct tcp_dir *s, uint32_t seq)
{
	s->base_seq = seq;
	s->next_off = 0;
	s->flags |= DF_SEQ;
}

/* Does a pure SYN from direction d start a new connection on this 4-tuple? */
static bool syn_is_new(const struct bw_tcp_flow *f, int d, uint32_t seq)
{
	const struct tcp_dir *s = &f->d[d];
	if (f->state == FS_CLOSED)
		return !(s->flags & DF_SYN) || s->isn != seq;
	if (s->flags & DF_SYN)
		return s->isn != seq;
	/* A live sender never sends a SYN after data: this is a new connection. */
	return (s->flags & DF_SEQ) != 0;
}

static int flow_segment(struct bw_tcp_table *t, struct bw_tcp_flow *f, int d, const struct bw_packet *p)
{
	struct tcp_dir *s = &f->d[d], *o = &f->d[1 - d];
	uint8_t fl = p->tcp_flags;
	uint32_t dseq = p->seq;
	int rc = BW_OK;

	if (fl & BW_TCP_SYN) {
		if (!(s->flags & DF_SYN)) {
			s->flags |= DF_SYN;
			s->isn = p->seq;
		} else if (s->isn != p->seq && !(s->flags & DF_DATA)) {
			/* Another SYN(-ACK) with a new ISN before any data (a server
			 * answering retransmitted SYNs with fresh SYN-ACKs): the peer
			 * acknowledges the last one, so the stream starts there. */
			s->isn = p->seq;
			dir_start(s, p->seq + 1);
		}
		if (!(s->flags & DF_SEQ))
			dir_start(s, p->seq + 1);
		/* The SYN-ACK acknowledges the client's ISN + 1: its stream start, SYN seen or not. */
		if ((fl & BW_TCP_ACK) && !(o->flags & DF_SEQ))
			dir_start(o, p->ack);
		dseq = p->seq + 1;
	}
	if (fl & BW_TCP_RST) {
		flow_close_linger(t, f, p, d);
		return BW_OK;
	}
	/* A bare ACK carries no bytes and a keep-alive's seq is one below the next byte:
	 * neither may set where the stream starts. */
	if (!(s->flags & DF_SEQ) && (p->payload_len > 0 || (fl & BW_TCP_FIN)))
		dir_start(s, dseq);
	if (p->payload_len > 0)
		s->flags |= DF_DATA;
	if (p->payload_len > 0 && p->payload && !(s->flags & (DF_STOP | DF_FINISHED)))
		rc = dir_data(t, f, d, dseq, p->payload, p->payload_len, p);
	if ((fl & BW_TCP_FIN) && !(s->flags & DF_FIN)) {
		int64_t fo = seq_to_off(s, dseq + p->payload_len);
		s->flags |= DF_FIN;
		s->fin_off = fo < (int64_t)s->next_off ? s->next_off : (uint64_t)fo;
		finish_dir(t, f, d, true, p);
	}
	settle(t, f);
	if ((s->flags & DF_FINISHED) && (o->flags & DF_FINISHED))
		flow_close_linger(t, f, p, d);
	return rc;
}

/* ---- public API ---- */

struct bw_tcp_table *bw_tcp_table_new(const struct bw_tcp_config *c, bw_tcp_classify_fn classify,
				      void *classify_ctx, struct bw_anomalies *anomalies)
{
	struct bw_tcp_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (c)
		t->cfg = *c;
	else
		bw_tcp_config_default(&t->cfg);
	if (t->cfg.max_flows == 0 || t->cfg.max_flows > MAX_FLOWS_LIMIT)
		goto fail;
	size_t nb = 16;
	while (nb < t->cfg.max_flows)
		nb <<= 1;
	t->mask = nb - 1;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	t->max_slabs = (t->cfg.max_flows + SLAB_FLOWS - 1) / SLAB_FLOWS;
	t->slabs = calloc(t->max_slabs, sizeof(*t->slabs));
	if (!t->buckets || !t->slabs)
		goto fail;
	t->classify = classify;
	t->classify_ctx = classify_ctx;
	t->an = anomalies;
	return t;
fail:
	free(t->buckets);
	free(t->slabs);
	free(t);
	return NULL;
}

void bw_tcp_table_free(struct bw_tcp_table *t)
{
	if (!t || t->busy)
		return;
	t->busy = true;
	while (t->open.head) {
		struct bw_tcp_flow *f = t->open.head;
		flow_end(t, f, true, NULL, 0);
		flow_free(t, f);
	}
	while (t->closed.head)
		flow_free(t, t->closed.head);
	for (size_t i = 0; i < t->n_slabs; i++)
		free(t->slabs[i]);
	free(t->slabs);
	free(t->buckets);
	free(t);
}

int bw_tcp_table_segment(struct bw_tcp_table *t, const struct bw_packet *p)
{
	if (!t || !p || p->proto != IPPROTO_TCP)
		return BW_EINVAL;
	if (t->busy)
		return BW_EINVAL; /* never from inside a callback: on_data is not re-entrant */
	t->busy = true;
	t->st.segments++;
	if (p->ts > t->now)
		t->now = p->ts;
	expire_some(t, EXPIRE_BATCH);

	struct bw_flow_key key;
	int dir;
	bw_flow_key_make(p, &key, &dir);
	uint64_t h = bw_flow_key_hash(&key);
	struct bw_tcp_flow *f = lookup(t, &key, h);
	int rc = BW_OK;

	if (f && (p->tcp_flags & (BW_TCP_SYN | BW_TCP_ACK)) == BW_TCP_SYN && syn_is_new(f, dir, p->seq)) {
		/* Port reuse: the old connection is over whether we saw its end or not. */
		if (f->state == FS_OPEN) {
			flow_end(t, f, false, NULL, 0);
			t->st.flows_closed++;
		}
		flow_free(t, f);
		f = NULL;
	}
	if (!f) {
		if (p->tcp_flags & BW_TCP_RST)
			goto out; /* a reset of something we never saw: nothing to track */
		f = flow_new(t, &key, h, dir, p);
		if (!f) {
			rc = BW_ENOMEM;
			goto out;
		}
	} else {
		touch(t, f);
	}
	if (f->state == FS_OPEN)
		rc = flow_segment(t, f, dir, p);
out:
	t->busy = false;
	return rc;
}

void bw_tcp_table_tick(struct bw_tcp_table *t, bw_time_t now)
{
	if (!t || t->busy)
		return;
	t->busy = true;
	if (now > t->now)
		t->now = now;
	expire_some(t, EXPIRE_BATCH);
	t->busy = false;
}

bool bw_tcp_table_clock(struct bw_tcp_table *t, bw_time_t now)
{
	if (!t)
		return false;
	if (now > t->now)
		t->now = now;
	return (t->closed.head && expired(t, t->closed.head)) || (t->open.head && expired(t, t->open.head));
}

void bw_tcp_table_expire(struct bw_tcp_table *t, bw_time_t now)
{
	if (!t || t->busy)
		return;
	t->busy = true;
	if (now > t->now)
		t->now = now;
	expire_some(t, SIZE_MAX);
	t->busy = false;
}

void bw_tcp_table_flush(struct bw_tcp_table *t)
{
	if (!t || t->busy)
		return;
	t->busy = true;
	while (t->open.head)
		flow_expire(t, t->open.head, &t->st.flows_closed);
	while (t->closed.head)
		flow_free(t, t->closed.head);
	t->busy = false;
}

const struct bw_tcp_stats *bw_tcp_table_stats(const struct bw_tcp_table *t) { return &t->st; }

const struct bw_flow_key *bw_tcp_flow_key(const struct bw_tcp_flow *f) { return &f->key; }

int bw_tcp_flow_client_dir(const struct bw_tcp_flow *f) { return f->client_dir; }

void bw_tcp_flow_done(struct bw_tcp_flow *f)
{
	if (!f)
		return;
	f->done = true;
	f->d[0].flags |= DF_STOP;
	f->d[1].flags |= DF_STOP;
	settle(f->t, f);
}

bool bw_tcp_flow_is_done(const struct bw_tcp_flow *f) { return f->done; }

uint32_t bw_tcp_flow_data_seq(const struct bw_tcp_flow *f, int dir)
{
	const struct tcp_dir *s = &f->d[dir & 1];
	return dir_seq(s, s->cb_off);
}

uint64_t bw_tcp_flow_data_offset(const struct bw_tcp_flow *f, int dir) { return f->d[dir & 1].cb_off; }
