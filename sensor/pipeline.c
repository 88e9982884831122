/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c: the offline multi-worker pipeline of pipeline.h. The reader
 * runs in the caller's thread because it is the lightest stage (with the
 * mmap reader it touches 16 bytes of record header and the first cache
 * line of each frame) and the one whose errors the command line reports;
 * workers and the output stage get threads of their own. Everything that
 * crosses a thread goes through one SPSC ring per (producer, consumer)
 * pair, so no stage takes a lock and each ring's cache lines move between
 * exactly two cores. The frame descriptor is one 64-byte record, so the
 * reader writes one cache line per frame when the mapping lends the bytes;
 * copying is kept for readers that reuse their buffer. The dispatch hash
 * reads as little of a frame as it can (link header, VLAN/MPLS stack, IP
 * addresses) through the bounded cursor; anything it cannot place goes to
 * worker 0, which then counts it exactly as a single worker would.
 *
 * For files our reader maps, the workers walk the file themselves instead
 * (walk_file): with two workers on two cores, the reader thread's share
 * of the CPU and a descriptor per frame crossing cores cost more than each
 * worker reading every record header and hashing every frame.
 */
#include "pipeline.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../parsers/wire.h"
#include "x509dedup.h"

enum {
	REC_FRAME = 1,    /* struct pl_frame, data points into the reader's mapping */
	REC_FRAME_COPY,   /* struct pl_frame followed by the frame bytes */
	REC_FRAME_HEAP,   /* struct pl_frame, data malloc'd by the reader, freed by the worker */
	REC_INPUT_START,  /* a new capture file begins */
	REC_END,          /* no more input */
	REC_WALK,         /* read the file in pl_worker.walk_f yourself (walk_file) */
	REC_EVENT,        /* struct pl_event followed by the JSON (or pointing to a heap copy) */
};

/* Exactly 56 bytes: with the ring's 8-byte header, one cache line a frame. */
struct pl_frame {
	const uint8_t *data;
	const char *file;
	uint64_t number, offset;
	bw_time_t ts;
	uint32_t cap_len, wire_len;
	int32_t linktype;
	uint32_t ifindex;
};
_Static_assert(sizeof(struct pl_frame) + BW_RING_HDR == 64, "a frame descriptor is one cache line");

struct pl_event {
	bw_time_t ts;
	uint32_t type;
	uint16_t producer;
	uint16_t pad;
	uint64_t json_len;
	char *heap_json; /* NULL: the JSON follows this struct */
};

struct pl_worker {
	struct bw_pipeline *p;
	unsigned id;
	struct bw_worker *w;
	struct bw_ring *in;   /* reader -> worker */
	struct bw_ring *ev;   /* worker -> output */
	pthread_t thread;
	bool started;
	_Atomic bool done;    /* set by the worker after its last event is published */
	uint64_t frames_heap_freed, events_heap, idle_waits, events_lost;
	/*
	 * The detection turnstile (several workers; see pl_gate). seq numbers
	 * frames over the whole run: the file's base + the frame's number.
	 * prog is 2*seq while the worker is in frame seq, 2*seq+1 once it is
	 * done with it, UINT64_MAX after its end-of-input work. last_disp is
	 * the seq of the last frame the reader handed this worker (written by
	 * the reader). Each on its own cache line: they are written per frame
	 * by different threads.
	 */
	_Alignas(64) _Atomic uint64_t prog;
	_Alignas(64) _Atomic uint64_t last_disp;
	/* While the worker waits at the turnstile: 1 + the frame it waits to
	 * run a detector for, else 0. The others wake it only when their own
	 * progress lets it pass (gate_progress), not at every progress store. */
	_Alignas(64) _Atomic uint64_t gate_want;
	uint64_t base, cur_seq, gate_waits;
	/*
	 * Frames whose DNS observation the worker holds back (detect_try), oldest
	 * at pend_head. While there is one, prog stays at 2 * its seq: the
	 * others take the worker as still in that frame. done_seq is the last
	 * frame it is through (own or skipped), in_frame whether it is in cur_seq.
	 */
	uint64_t pend[BW_WORKER_DEFER_MAX];
	unsigned pend_head, pend_n;
	uint64_t done_seq;
	bool in_frame;
	/* prog as it stands (frame_begin/end), published every PROG_EVERY frames and before any wait */
	uint64_t prog_local;
	unsigned prog_lazy;
	/*
	 * Walk mode (walk_file): set by the caller before it pushes REC_WALK,
	 * then the worker's until it counts itself out of walk_left.
	 */
	struct bw_capture_file *walk_f; /* borrowed: the caller's reader or a clone of it */
	const char *walk_name;
	uint64_t walk_base;             /* seq of the file's frame number 0 */
	uint64_t walk_end;              /* the last frame number it read */
	uint64_t walk_own;              /* frames it processed (the rest it skipped) */
	int walk_rc;                    /* BW_OK or the reader's error */
	_Alignas(64) _Atomic uint64_t walk_pos; /* worker 0: bytes read, for the caller's progress */
	_Atomic uint64_t walk_frames;
};

struct bw_pipeline {
	struct bw_pipeline_config cfg;
	struct bw_output *out;
	unsigned n;
	struct pl_worker wk[BW_PIPELINE_MAX_WORKERS];
	struct bw_ring_waiter out_wake; /* the output thread sleeps here */
	pthread_t out_thread;
	bool out_started, finished;
	struct bw_anomalies reader_an;  /* the capture readers' per-frame anomalies */
	struct bw_x509_dedup seen;     /* x509 events already written (n > 1) */
	bool ordered;                   /* n > 1 and detectors on: the turnstile is in use */
	struct bw_detect_state *detect_state; /* the workers' one detector state when ordered (owned) */
	struct bw_ring_waiter gate_wake;  /* workers waiting at the turnstile */
	uint64_t file_base;             /* seq of frame number 0 of the file being read */
	uint64_t max_number;            /* highest frame number read in it */
	uint64_t x509_dups, frames_copied, frames_heap, frames_dispatched[BW_PIPELINE_MAX_WORKERS];
	uint64_t output_idle_waits;
	uint64_t frames_read;           /* over all files */
	uint64_t files_walked;
	_Atomic unsigned walk_left;     /* workers still walking the current file */
	struct bw_ring_waiter walk_wake; /* the caller waits here for walk_left to reach 0 */
};

/* ---- statistics merge ---- */

#define ADD_FIELDS(a, b, T)                                                                  \
	do {                                                                                 \
		_Static_assert(sizeof(T) % sizeof(uint64_t) == 0, #T " is all uint64_t");    \
		uint64_t *pa_ = (uint64_t *)(void *)(a);                                     \
		const uint64_t *pb_ = (const uint64_t *)(const void *)(b);                   \
		for (size_t i_ = 0; i_ < sizeof(T) / sizeof(uint64_t); i_++)                 \
			pa_[i_] += pb_[i_];                                                  \
	} while (0)

void bw_anomalies_merge(struct bw_anomalies *a, const struct bw_anomalies *b)
{
	for (size_t i = 0; i < BW_AN__COUNT; i++)
		a->n[i] += b->n[i];
}

void bw_worker_stats_merge(struct bw_worker_stats *a, const struct bw_worker_stats *b)
{
	a->frames += b->frames;
	a->bytes += b->bytes;
	if (b->first_ts && (!a->first_ts || b->first_ts < a->first_ts))
		a->first_ts = b->first_ts;
	if (b->last_ts > a->last_ts)
		a->last_ts = b->last_ts;
	/* Every member of these is a uint64_t counter. The *_max ones add up
	 * too: workers run at once, so the sum bounds the run's peak. */
	ADD_FIELDS(&a->decode, &b->decode, struct bw_decode_stats);
	ADD_FIELDS(&a->tcp, &b->tcp, struct bw_tcp_stats);
	ADD_FIELDS(&a->dns, &b->dns, struct bw_dns_stats);
	ADD_FIELDS(&a->tls, &b->tls, struct bw_tls_stats);
	ADD_FIELDS(&a->fetch, &b->fetch, struct bw_certfetch_stats);
	a->events_dropped += b->events_dropped;
	a->detect_hold_nomem += b->detect_hold_nomem;
}

/* ---- dispatch hash ---- */

/*
 * A stateless walk of the layers decode.c peels, far enough to find the
 * innermost IP header of an unfragmented packet: the same flow seen plain
 * and through a tunnel (a mirror copy the duplicate filter must drop) then
 * lands on one worker, and a mirror feed carried in one ERSPAN or VXLAN
 * tunnel still spreads over the workers. A fragment is hashed by the IP
 * header it is a fragment of (the later fragments have no inner header to
 * look at); a tunnel header that does not check out, or that decode.c
 * would not unwrap, stops the walk at the enclosing IP pair.
 */

#define ET_IP4 0x0800
#define ET_IP6 0x86DD
#define ET_VLAN 0x8100
#define ET_QINQ 0x88A8
#define ET_QINQ_OLD 0x9100
#define ET_QINQ_OLD2 0x9200
#define ET_MPLS 0x8847
#define ET_MPLS_MC 0x8848
#define ET_PPPOE 0x8864
#define ET_TEB 0x6558
#define ET_PPP 0x880B
#define ET_ERSPAN2 0x88BE
#define ET_ERSPAN3 0x22EB
#define PPP_IP4 0x0021
#define PPP_IP6 0x0057
#define PPP_MPLS 0x0281
#define PPP_MPLS_MC 0x0283
#define IPP_IPIP 4
#define IPP_UDP 17
#define IPP_TCP 6
#define IPP_IPV6 41
#define IPP_GRE 47
#define PORT_VXLAN 4789
#define PORT_VXLAN_LINUX 8472
#define PORT_GENEVE 6081
#define PORT_GRE_UDP 4754
#define PORT_TEREDO 3544
#define HASH_MAX_LAYERS 32 /* VLAN tags, MPLS labels, link and tunnel headers: bounds the walk */
#define HASH_MAX_IP 5      /* IP headers: the outer one and BW_MAX_TUNNEL tunnels */

struct hctx {
	unsigned layers, ips;
};

/* Symmetric: the two addresses are ordered before they are mixed. */
/*
 * Symmetric in the two addresses: the smaller (as integers; any fixed
 * order will do) goes first. Each worker hashes every frame of a file it
 * walks, so this is two loads and one or three mixes, with no call: the
 * general form (copies, memcmp, four mixes) was 7 % of a walking worker.
 */
static inline uint64_t pair_hash4(const uint8_t *a, const uint8_t *b)
{
	uint32_t x, y;
	memcpy(&x, a, 4);
	memcpy(&y, b, 4);
	uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
	return bw_mix64((lo << 32 | hi) ^ 0x9e3779b97f4a7c15ULL) | 1; /* never 0: 0 means "no IP header found" */
}

static inline uint64_t pair_hash16(const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];
	memcpy(x, a, 16);
	memcpy(y, b, 16);
	bool swap = x[0] > y[0] || (x[0] == y[0] && x[1] > y[1]);
	const uint64_t *lo = swap ? y : x, *hi = swap ? x : y;
	uint64_t h = bw_mix64(lo[0] ^ 0xc2b2ae3d27d4eb4fULL);
	h = bw_mix64(h ^ lo[1]);
	h = bw_mix64(h ^ hi[0] ^ (hi[1] * 0x9e3779b97f4a7c15ULL));
	return h | 1;
}

static uint64_t hash_ip(struct hctx *c, struct bw_wire *w, unsigned version);
static uint64_t hash_ether(struct hctx *c, struct bw_wire *w);

static bool deeper(struct hctx *c) { return ++c->layers <= HASH_MAX_LAYERS; }

static uint64_t hash_mpls(struct hctx *c, struct bw_wire *w)
{
	while (deeper(c)) {
		uint32_t e = bw_wire_u32(w);
		if (!bw_wire_ok(w))
			return 0;
		if (!(e & 0x100))
			continue;
		uint32_t label = e >> 12;
		if (label == 0)
			return hash_ip(c, w, 4);
		if (label == 2)
			return hash_ip(c, w, 6);
		const uint8_t *b = bw_wire_peek(w, 1);
		if (!b)
			return 0;
		if ((b[0] >> 4) == 4 || (b[0] >> 4) == 6)
			return hash_ip(c, w, b[0] >> 4);
		if ((b[0] >> 4) == 0) {
			bw_wire_skip(w, 4); /* pseudowire control word */
			return bw_wire_ok(w) ? hash_ether(c, w) : 0;
		}
		return 0;
	}
	return 0;
}

static uint64_t hash_ppp(struct hctx *c, struct bw_wire *w)
{
	const uint8_t *b = bw_wire_peek(w, 2);
	if (b && b[0] == 0xFF && b[1] == 0x03)
		bw_wire_skip(w, 2);
	uint16_t proto = bw_wire_u8(w);
	if (!(proto & 1))
		proto = (uint16_t)(proto << 8 | bw_wire_u8(w));
	if (!bw_wire_ok(w))
		return 0;
	switch (proto) {
	case PPP_IP4: return hash_ip(c, w, 4);
	case PPP_IP6: return hash_ip(c, w, 6);
	case PPP_MPLS:
	case PPP_MPLS_MC: return hash_mpls(c, w);
	default: return 0;
	}
}

static uint64_t hash_ethertype(struct hctx *c, struct bw_wire *w, uint16_t type, bool len_ok)
{
	while (deeper(c)) {
		switch (type) {
		case ET_VLAN:
		case ET_QINQ:
		case ET_QINQ_OLD:
		case ET_QINQ_OLD2:
			bw_wire_skip(w, 2);
			type = bw_wire_u16(w);
			if (!bw_wire_ok(w))
				return 0;
			continue;
		case ET_IP4: return hash_ip(c, w, 4);
		case ET_IP6: return hash_ip(c, w, 6);
		case ET_MPLS:
		case ET_MPLS_MC: return hash_mpls(c, w);
		case ET_PPPOE:
			bw_wire_skip(w, 6);
			return bw_wire_ok(w) ? hash_ppp(c, w) : 0;
		default:
			if (len_ok && type <= 1500) {
				/* 802.3 + LLC/SNAP carrying an ethertype */
				uint8_t dsap = bw_wire_u8(w), ssap = bw_wire_u8(w), ctrl = bw_wire_u8(w);
				if ((ctrl & 3) != 3)
					bw_wire_skip(w, 1);
				if (!bw_wire_ok(w) || dsap != 0xAA || (ssap & 0xFE) != 0xAA)
					return 0;
				bw_wire_skip(w, 3);
				type = bw_wire_u16(w);
				if (!bw_wire_ok(w))
					return 0;
				len_ok = false;
				continue;
			}
			return 0;
		}
	}
	return 0;
}

static uint64_t hash_ether(struct hctx *c, struct bw_wire *w)
{
	bw_wire_skip(w, 12);
	uint16_t type = bw_wire_u16(w);
	if (!bw_wire_ok(w) || !deeper(c))
		return 0;
	return hash_ethertype(c, w, type, true);
}

/* ERSPAN II/III after its GRE header (decode.c dec_erspan). */
static uint64_t hash_erspan(struct hctx *c, struct bw_wire *w, unsigned type)
{
	uint16_t w0 = bw_wire_u16(w);
	bw_wire_skip(w, 6);
	unsigned ft = 0;
	if (type == 3) {
		bw_wire_skip(w, 2);
		uint16_t w5 = bw_wire_u16(w);
		ft = (w5 >> 10) & 0x1f;
		if (w5 & 1)
			bw_wire_skip(w, 8);
	}
	if (!bw_wire_ok(w) || (w0 >> 12) != type - 1 || (ft != 0 && ft != 2))
		return 0;
	return ft == 2 ? hash_ip(c, w, 0) : hash_ether(c, w);
}

/* GRE, RFC 2784/2890 and PPTP's enhanced GRE (decode.c dec_gre). */
static uint64_t hash_gre(struct hctx *c, struct bw_wire *w)
{
	uint16_t fl = bw_wire_u16(w);
	uint16_t proto = bw_wire_u16(w);
	if (!bw_wire_ok(w))
		return 0;
	bool seq = fl & 0x1000;
	switch (fl & 7) {
	case 0:
		if (fl & 0x4000)
			return 0;
		bw_wire_skip(w, ((fl & 0x8000) ? 4u : 0u) + ((fl & 0x2000) ? 4u : 0u) + (seq ? 4u : 0u));
		break;
	case 1:
		if (proto != ET_PPP || !(fl & 0x2000) || (fl & 0xC000))
			return 0;
		bw_wire_skip(w, 4 + (seq ? 4u : 0u) + ((fl & 0x0080) ? 4u : 0u));
		break;
	default: return 0;
	}
	if (!bw_wire_ok(w))
		return 0;
	switch (proto) {
	case ET_IP4: return hash_ip(c, w, 4);
	case ET_IP6: return hash_ip(c, w, 6);
	case ET_TEB: return hash_ether(c, w);
	case ET_PPP: return hash_ppp(c, w);
	case ET_MPLS:
	case ET_MPLS_MC: return hash_mpls(c, w);
	case ET_ERSPAN2: return seq ? hash_erspan(c, w, 2) : hash_ether(c, w);
	case ET_ERSPAN3: return hash_erspan(c, w, 3);
	default: return 0;
	}
}

static bool service_port(uint16_t port)
{
	return port == 53 || port == 443 || port == 853 || port == 5353 || port == 5355;
}

/* Teredo (decode.c dec_teredo): IPv6 after optional auth/origin headers, filling the datagram. */
static uint64_t hash_teredo(struct hctx *c, struct bw_wire *w)
{
	struct bw_wire t = *w;
	for (int i = 0; i < 2; i++) {
		struct bw_wire q = t;
		uint8_t a = bw_wire_u8(&q), b = bw_wire_u8(&q);
		if (!bw_wire_ok(&q) || a != 0)
			break;
		if (b == 1) {
			uint8_t id_len = bw_wire_u8(&q), au_len = bw_wire_u8(&q);
			bw_wire_skip(&q, (size_t)id_len + au_len + 9);
		} else if (b == 0) {
			bw_wire_skip(&q, 6);
		} else {
			break;
		}
		if (!bw_wire_ok(&q))
			return 0;
		t = q;
	}
	const uint8_t *h = bw_wire_peek(&t, 40);
	if (!h || (h[0] >> 4) != 6)
		return 0;
	size_t plen = (size_t)h[4] << 8 | h[5];
	if (plen + 40 < bw_wire_left(&t))
		return 0; /* decode.c also takes a datagram cut by the snap length */
	return hash_ip(c, &t, 6);
}

static uint64_t hash_udp(struct hctx *c, struct bw_wire *w)
{
	uint16_t sport = bw_wire_u16(w);
	uint16_t dport = bw_wire_u16(w);
	bw_wire_skip(w, 4);
	if (!bw_wire_ok(w) || service_port(sport))
		return 0;
	if (dport == PORT_VXLAN || dport == PORT_VXLAN_LINUX) {
		const uint8_t *h = bw_wire_peek(w, 8);
		if (!h || !(h[0] & 0x08) || (h[0] & ~0x88) || h[7] != 0)
			return 0;
		bw_wire_skip(w, 8);
		return hash_ether(c, w);
	}
	if (dport == PORT_GENEVE) {
		const uint8_t *h = bw_wire_peek(w, 8);
		if (!h || (h[0] >> 6) != 0 || (h[1] & 0x3f) != 0 || h[7] != 0)
			return 0;
		uint16_t proto = (uint16_t)(h[2] << 8 | h[3]);
		bw_wire_skip(w, 8 + (size_t)(h[0] & 0x3f) * 4);
		if (!bw_wire_ok(w))
			return 0;
		if (proto == ET_TEB)
			return hash_ether(c, w);
		if (proto == ET_IP4 || proto == ET_IP6)
			return hash_ip(c, w, proto == ET_IP4 ? 4 : 6);
		return 0;
	}
	if (dport == PORT_GRE_UDP) {
		const uint8_t *h = bw_wire_peek(w, 4);
		if (!h || ((h[0] << 8 | h[1]) & 0x4FFF) != 0)
			return 0;
		return hash_gre(c, w);
	}
	if (dport == PORT_TEREDO || sport == PORT_TEREDO)
		return hash_teredo(c, w);
	return 0;
}

/* The hash of what an unfragmented IP packet carries, 0 if not a tunnel we follow. */
static uint64_t hash_l4(struct hctx *c, struct bw_wire *w, uint8_t proto)
{
	if (!deeper(c))
		return 0;
	switch (proto) {
	case IPP_IPIP: return hash_ip(c, w, 4);
	case IPP_IPV6: return hash_ip(c, w, 6);
	case IPP_GRE: return hash_gre(c, w);
	case IPP_UDP: return hash_udp(c, w);
	default: return 0;
	}
}

static bool ip6_ext(uint8_t nh)
{
	switch (nh) {
	case 0: case 43: case 44: case 50: case 51: case 59: case 60: case 135: case 139: case 140: return true;
	default: return false;
	}
}

static uint64_t hash_ip(struct hctx *c, struct bw_wire *w, unsigned version)
{
	const uint8_t *h = bw_wire_peek(w, 1);
	if (!h || ++c->ips > HASH_MAX_IP)
		return 0;
	unsigned v = h[0] >> 4;
	if (version && v != version)
		return 0;
	if (v == 4) {
		h = bw_wire_peek(w, 20);
		if (!h)
			return 0;
		uint64_t here = pair_hash4(h + 12, h + 16);
		size_t hlen = (size_t)(h[0] & 0x0f) * 4;
		size_t tot = (size_t)h[2] << 8 | h[3];
		uint16_t frag = (uint16_t)(h[6] << 8 | h[7]);
		if ((frag & 0x3fff) || hlen < 20 || tot < hlen || hlen > bw_wire_left(w))
			return here; /* a fragment (or malformed): hashed as it stands */
		struct bw_wire pw;
		bw_wire_skip(w, hlen);
		bw_wire_sub(w, BW_MIN(tot - hlen, bw_wire_left(w)), &pw);
		uint64_t inner = hash_l4(c, &pw, h[9]);
		return inner ? inner : here;
	}
	if (v == 6) {
		h = bw_wire_peek(w, 40);
		if (!h)
			return 0;
		uint64_t here = pair_hash16(h + 8, h + 24);
		size_t plen = (size_t)h[4] << 8 | h[5];
		uint8_t nh = h[6];
		struct bw_wire pw;
		bw_wire_skip(w, 40);
		bw_wire_sub(w, BW_MIN(plen, bw_wire_left(w)), &pw);
		for (unsigned n = 0; ip6_ext(nh); n++) {
			if (nh == 50 || nh == 59 || n >= BW_MAX_IP6_EXT)
				return here;
			uint8_t next = bw_wire_u8(&pw);
			uint8_t l = bw_wire_u8(&pw);
			if (nh == 44) {
				uint16_t om = bw_wire_u16(&pw);
				bw_wire_skip(&pw, 4);
				if (!bw_wire_ok(&pw) || (om & 0xfff9) != 0)
					return here; /* a real fragment: no inner header to look at */
				nh = next;
				continue;
			}
			bw_wire_skip(&pw, (nh == 51 ? ((size_t)l + 2) * 4 : ((size_t)l + 1) * 8) - 2);
			if (!bw_wire_ok(&pw))
				return here;
			nh = next;
		}
		uint64_t inner = hash_l4(c, &pw, nh);
		return inner ? inner : here;
	}
	return 0;
}

static unsigned af_version(uint32_t af)
{
	switch (af) {
	case 2: return 4;
	case 24:
	case 28:
	case 30: return 6;
	default: return 0;
	}
}

/*
 * The common case without the walk: Ethernet, at most one 802.1Q tag, an
 * IPv4 or IPv6 header whose next protocol is TCP. The walk gives such a
 * frame the hash of its addresses whatever follows (TCP carries no tunnel
 * it looks into), so this returns the same value; 0 sends everything else
 * (UDP, which may be a tunnel; tags, MPLS, fragments' next headers...) down
 * the walk. Each walking worker hashes every frame: the walk was 8 % of it.
 */
static inline uint64_t hash_ether_tcp_fast(const uint8_t *f, uint32_t n)
{
	size_t off = 14;
	if (n < 14)
		return 0;
	unsigned type = (unsigned)f[12] << 8 | f[13];
	if (type == ET_VLAN && n >= 18) {
		type = (unsigned)f[16] << 8 | f[17];
		off = 18;
	}
	const uint8_t *h = f + off;
	if (type == ET_IP4 && n >= off + 20 && (h[0] >> 4) == 4 && h[9] == IPP_TCP)
		return pair_hash4(h + 12, h + 16);
	if (type == ET_IP6 && n >= off + 40 && (h[0] >> 4) == 6 && h[6] == IPP_TCP)
		return pair_hash16(h + 8, h + 24);
	return 0;
}

uint64_t bw_pipeline_dispatch_hash(int linktype, const uint8_t *frame, uint32_t cap_len)
{
	if (linktype == BW_LINK_ETHERNET) {
		uint64_t fast = hash_ether_tcp_fast(frame, cap_len);
		if (fast)
			return fast;
	}
	struct hctx c = { 0 };
	struct bw_wire w;
	bw_wire_init(&w, frame, cap_len);
	switch (linktype) {
	case BW_LINK_ETHERNET: return hash_ether(&c, &w);
	case BW_LINK_RAW:
	case BW_LINK_DLT_RAW12:
	case BW_LINK_DLT_RAW14: return hash_ip(&c, &w, 0);
	case BW_LINK_IPV4: return hash_ip(&c, &w, 4);
	case BW_LINK_IPV6: return hash_ip(&c, &w, 6);
	case BW_LINK_NULL:
	case BW_LINK_LOOP: {
		struct bw_wire be = w;
		uint32_t af_le = bw_wire_u32_le(&w);
		uint32_t af_be = bw_wire_u32(&be);
		if (!bw_wire_ok(&w))
			return 0;
		unsigned v = af_version(af_be);
		if (!v && linktype == BW_LINK_NULL)
			v = af_version(af_le);
		return v ? hash_ip(&c, &w, v) : 0;
	}
	case BW_LINK_LINUX_SLL: {
		bw_wire_skip(&w, 14);
		uint16_t proto = bw_wire_u16(&w);
		return bw_wire_ok(&w) ? hash_ethertype(&c, &w, proto, false) : 0;
	}
	case BW_LINK_LINUX_SLL2: {
		uint16_t proto = bw_wire_u16(&w);
		bw_wire_skip(&w, 18);
		return bw_wire_ok(&w) ? hash_ethertype(&c, &w, proto, false) : 0;
	}
	case BW_LINK_PPP: return hash_ppp(&c, &w);
	case BW_LINK_PPP_HDLC: {
		const uint8_t *b = bw_wire_peek(&w, 1);
		if (b && (b[0] == 0x0F || b[0] == 0x8F)) {
			bw_wire_skip(&w, 2);
			uint16_t type = bw_wire_u16(&w);
			return bw_wire_ok(&w) ? hash_ethertype(&c, &w, type, false) : 0;
		}
		return hash_ppp(&c, &w);
	}
	case BW_LINK_C_HDLC: {
		bw_wire_skip(&w, 2);
		uint16_t type = bw_wire_u16(&w);
		return bw_wire_ok(&w) ? hash_ethertype(&c, &w, type, false) : 0;
	}
	default: return 0;
	}
}

/* ---- worker threads ---- */

static void pl_emit(void *ctx, const struct bw_event *ev)
{
	struct pl_worker *pw = ctx;
	size_t need = sizeof(struct pl_event) + ev->json_len;
	char *heap = NULL;
	if (need > bw_ring_max_payload(pw->ev)) {
		/* A multi-megabyte event: rare enough for the heap. */
		heap = malloc(ev->json_len ? ev->json_len : 1);
		if (!heap) {
			pw->events_lost++;
			bw_ring_drop(pw->ev);
			return;
		}
		memcpy(heap, ev->json, ev->json_len);
		need = sizeof(struct pl_event);
		pw->events_heap++;
	}
	uint8_t *rec = bw_ring_reserve_wait(pw->ev, need, NULL);
	if (!rec) { /* cannot happen: need fits by construction */
		free(heap);
		pw->events_lost++;
		return;
	}
	struct pl_event pe = {
		.ts = ev->ts, .type = (uint32_t)ev->type, .producer = ev->producer,
		.json_len = ev->json_len, .heap_json = heap,
	};
	memcpy(rec, &pe, sizeof(pe));
	if (!heap && ev->json_len)
		memcpy(rec + sizeof(pe), ev->json, ev->json_len);
	bw_ring_commit(pw->ev, REC_EVENT);
}

static void call(void (*fn)(void))
{
	if (fn)
		fn();
}

/* ---- the detection turnstile ---- */

/*
 * With several workers, the detectors must see the run's observations in
 * capture order, as one worker would: a TLS handshake is judged against the
 * DNS answers before it, a CNAME is paired with its target's later
 * NXDOMAIN, a DS with the DNSKEYs seen so far, and the detectors' state is
 * one, shared. Only the detector calls are ordered; decoding, reassembly,
 * parsing, certificate validation and formatting stay parallel.
 *
 * A worker about to run a detector for frame s waits until no other worker
 * can still run one for an earlier frame: each other worker is either in or
 * past a later frame, or done with the last frame the reader gave it (which,
 * since frames are handed out in order and s has already been handed out,
 * covers everything it was given before s). The worker in the earliest frame
 * never waits, so the run cannot deadlock, provided every frame handed out is
 * eventually visible to its worker: the reader publishes all rings before it
 * blocks and every few hundred frames (dispatch, publish_all).
 *
 * End of input is ordered the same way, after every frame: worker i flushes
 * its flows once every worker is at its end and workers 0..i-1 are done; the
 * last worker then runs the end-of-run checks (bw_detect_finish).
 */
#define PL_FIN_SEQ (UINT64_C(1) << 62)
/*
 * How far behind the reader its mapping stays when frames are lent: the
 * frame rings hold about 8 MB of frames each; 8 MiB behind (the reader's
 * own default) let re-faulted pages pile up, 634 MiB resident in one run.
 */
#define LEND_KEEP_BEHIND ((size_t)32 << 20)

/*
 * Turnstile positions: what the progress values and the seqs the turnstile
 * compares count. Each frame has one per worker. The frame's own worker
 * works at the last. A walking worker that times out flows of its own at
 * another worker's frame (bw_worker_expire) does that at one of the others,
 * ranked by worker id: no two workers are ever in the same position, and a
 * frame's timeouts come before its own work, as with one worker (whose
 * frames start with the timeouts they bring).
 */
static inline uint64_t pos_own(const struct bw_pipeline *p, uint64_t seq)
{
	return seq * p->n + (p->n - 1);
}

static inline uint64_t pos_other(const struct bw_pipeline *p, uint64_t seq, unsigned self, unsigned owner)
{
	return seq * p->n + (self < owner ? self : self - 1);
}

/* Whether worker v, at progress pr, lets a detector run at position s (< PL_FIN_SEQ). */
static inline bool gate_passes(const struct pl_worker *v, uint64_t pr, uint64_t s)
{
	if (pr > 2 * s)
		return true;
	/* Seen after the frame s itself was (its ring's release/acquire), so it
	 * is at least the last frame v was handed before s. */
	uint64_t last = atomic_load_explicit(&v->last_disp, memory_order_relaxed);
	return last < s && pr == 2 * last + 1;
}

static bool gate_open(const struct bw_pipeline *p, const struct pl_worker *self, uint64_t s)
{
	for (unsigned i = 0; i < p->n; i++) {
		const struct pl_worker *v = &p->wk[i];
		if (v == self)
			continue;
		uint64_t pr = atomic_load_explicit(&v->prog, memory_order_acquire);
		if (s >= PL_FIN_SEQ) {
			if (v->id < self->id ? pr != UINT64_MAX : pr < 2 * PL_FIN_SEQ)
				return false;
			continue;
		}
		if (!gate_passes(v, pr, s))
			return false;
	}
	return true;
}

/*
 * Store this worker's progress; wake the waiters at the turnstile if it
 * may let one of them pass. The fence orders the store before the look at
 * the waiters: without it a waiter announcing itself could miss the store
 * on its re-check while we miss its announcement (the store-buffer race),
 * and it would sleep until its timeout. Since a waiter is now woken only
 * by a store that lets it pass, a later store may not come to rescue it.
 * Progress is stored every PROG_EVERY frames, so the fence is cheap.
 */
static inline void gate_progress(struct bw_pipeline *p, struct pl_worker *pw, uint64_t v, bool fenced)
{
	atomic_store_explicit(&pw->prog, v, memory_order_release);
	if (fenced) {
		bw_ring_waiter_notify(&p->gate_wake);
		return;
	}
	atomic_thread_fence(memory_order_seq_cst);
	/* acquire: a waiter sets gate_want before it announces itself */
	if (!atomic_load_explicit(&p->gate_wake.waiters, memory_order_acquire))
		return;
	for (unsigned i = 0; i < p->n; i++) {
		uint64_t want = atomic_load_explicit(&p->wk[i].gate_want, memory_order_relaxed);
		if (want && &p->wk[i] != pw && (want - 1 >= PL_FIN_SEQ || gate_passes(pw, v, want - 1))) {
			bw_ring_waiter_notify(&p->gate_wake);
			return;
		}
	}
}

static inline void prog_flush(struct pl_worker *pw)
{
	pw->prog_lazy = 0;
	if (atomic_load_explicit(&pw->prog, memory_order_relaxed) != pw->prog_local)
		gate_progress(pw->p, pw, pw->prog_local, false);
}

/* Wait until no other worker can still call a detector for a frame before s. */
static void gate_wait(struct bw_pipeline *p, struct pl_worker *pw, uint64_t s)
{
	const struct bw_pipeline_config *c = &p->cfg;
	if (gate_open(p, pw, s))
		return;
	prog_flush(pw); /* the others may be waiting for this worker's true place */
	pw->gate_waits++;
	atomic_store(&pw->gate_want, s + 1); /* seq_cst: before the announce in prepare */
	/* What this worker made so far can go out while it waits. */
	bw_ring_publish(pw->ev);
	/*
	 * No spinning with pause beyond the yields: on this kind of VM a pause
	 * loop traps to the hypervisor, and with a third busy thread on two
	 * cores, 20 000 pauses per wait turned a 0.6 s run into 9 s
	 * (bench/NOTES.md). Holding DNS observations back (pl_detect_try)
	 * removed most waits instead.
	 */
	for (unsigned spin = 0;; spin++) {
		if (gate_open(p, pw, s))
			break;
		if (spin < 4) {
			sched_yield();
			continue;
		}
		/* No binding-table pointer is held here (the detectors have not run
		 * yet), so the thread may leave QSBR while it sleeps: a worker that
		 * waits for a grace period must not wait for us. */
		call(c->idle_begin);
		uint32_t key = bw_ring_waiter_prepare(&p->gate_wake);
		if (gate_open(p, pw, s)) {
			bw_ring_waiter_cancel(&p->gate_wake);
			call(c->idle_end);
			break;
		}
		/* A safety net only: every progress store that lets us pass wakes us. */
		bw_ring_waiter_wait(&p->gate_wake, key, 2);
		call(c->idle_end);
	}
	atomic_store_explicit(&pw->gate_want, 0, memory_order_relaxed);
}


/* bw_worker_config.detect_gate: the worker is about to call a detector (it holds nothing back). */
static void pl_gate(void *ctx)
{
	struct pl_worker *pw = ctx;
	gate_wait(pw->p, pw, pw->cur_seq);
}

/*
 * Holding back (bw_worker_config.detect_try). Waiting at the turnstile for
 * each DNS answer kept two workers in lockstep: the one ahead waited for
 * the other at every answer (a third of the frames), so a run took the sum
 * of the slower side of every stretch between two answers, not half the
 * work. Instead the worker keeps a copy and goes on; the observation goes
 * through when its turn comes (bw_worker_detect_poll after each frame), in
 * the same order as before: while it is held, the worker's progress stays
 * at its frame, so no other worker passes it at the turnstile, and the
 * worker's own later observations queue behind it. The one held for the
 * earliest frame anywhere can always go, so nothing waits for ever.
 */
static bool pl_detect_try(void *ctx)
{
	struct pl_worker *pw = ctx;
	struct bw_pipeline *p = pw->p;
	uint64_t s = pw->cur_seq;
	if (s >= PL_FIN_SEQ) { /* end of input: in turn, worker by worker */
		gate_wait(p, pw, s);
		return true;
	}
	if (pw->pend_n == 0 && gate_open(p, pw, s))
		return true;
	pw->pend[(pw->pend_head + pw->pend_n) % BW_WORKER_DEFER_MAX] = s;
	if (pw->pend_n++ == 0) {
		/* "In frame s" must be what the others see now, not a lazier
		 * value: one below s could keep them waiting for this worker
		 * while it waits for them. */
		pw->prog_local = 2 * s;
		prog_flush(pw);
	}
	return false;
}

static bool pl_detect_head_ready(void *ctx)
{
	struct pl_worker *pw = ctx;
	return gate_open(pw->p, pw, pw->pend[pw->pend_head]);
}

static void pl_detect_head_wait(void *ctx)
{
	struct pl_worker *pw = ctx;
	gate_wait(pw->p, pw, pw->pend[pw->pend_head]);
}

static void pl_detect_head_done(void *ctx)
{
	struct pl_worker *pw = ctx;
	pw->pend_head = (pw->pend_head + 1) % BW_WORKER_DEFER_MAX;
	pw->pend_n--;
	pw->prog_local = pw->pend_n ? 2 * pw->pend[pw->pend_head] : pw->in_frame ? 2 * pw->cur_seq : 2 * pw->done_seq + 1;
	prog_flush(pw);
}

/*
 * A frame begins (seq) or ends: what the turnstile sees, unless an earlier
 * one is held. Stored for the others every PROG_EVERY frames only: a store
 * per frame, read per frame by the other worker's poll, moved that cache
 * line between the cores a million times a run. An older value only makes
 * the others wait a little longer (they take this worker as further
 * behind), and every wait and every idle stores the value first, so no one
 * waits on a stale one for ever.
 */
#define PROG_EVERY 16


static inline void prog_set(struct pl_worker *pw, uint64_t v)
{
	pw->prog_local = v;
	if (++pw->prog_lazy >= PROG_EVERY)
		prog_flush(pw);
}

static inline void frame_begin(struct pl_worker *pw, uint64_t seq)
{
	pw->cur_seq = seq;
	pw->in_frame = true;
	if (!pw->pend_n)
		prog_set(pw, 2 * seq);
}

static inline void frame_end(struct pl_worker *pw, uint64_t seq)
{
	pw->in_frame = false;
	pw->done_seq = seq;
	if (!pw->pend_n) {
		prog_set(pw, 2 * seq + 1);
	} else if (++pw->prog_lazy >= PROG_EVERY) {
		/* Held detector calls are tried every PROG_EVERY frames too. The
		 * count was not reset here, so a worker with calls held (two
		 * walking workers nearly always have some) polled on every frame
		 * after the first 16: 6 % of their instructions. */
		pw->prog_lazy = 0;
		bw_worker_detect_poll(pw->w);
	}
}

/* The worker frame hash h goes to, of n. */
static inline unsigned pick_worker(uint64_t h, unsigned n)
{
	return (unsigned)(((unsigned __int128)h * n) >> 64);
}

/*
 * A walk that stopped early (a stop request) ends past every frame a file
 * can have, so no worker at the turnstile waits for it; the next file's
 * seq numbers start beyond.
 */
#define WALK_STOPPED_END (UINT64_C(1) << 44)

/*
 * Walk mode: this worker reads the whole file itself (its own cursor over
 * the one mapping, capture.h's clone) and processes the frames the
 * dispatch hash gives it; the others cost it a record header and the
 * hash. There is no reader thread and no frame ring: on two cores the
 * reader took a core's worth of time from the workers, and a descriptor
 * per frame crossed between cores. Each worker sees every frame number,
 * so its turnstile progress moves over the skipped frames too: another
 * worker waits for it only while it is really behind.
 */
static void walk_file(struct pl_worker *pw)
{
	struct bw_pipeline *p = pw->p;
	const struct bw_pipeline_config *c = &p->cfg;
	struct bw_capture_file *f = pw->walk_f;
	const bool ordered = p->ordered;
	const bool progress = pw->id == 0;
	pw->base = pw->walk_base;
	bw_worker_input_start(pw->w);
	struct bw_frame fr;
	int rc;
	unsigned since_q = 0;
	uint64_t k = 0, own = 0;
	bool stopped = false;
	while ((rc = bw_capture_file_next(f, &fr)) == BW_OK) {
		uint64_t seq = pw->base + fr.number;
		/* the common frame's hash inline: every walking worker hashes every frame */
		uint64_t h = fr.linktype == BW_LINK_ETHERNET ? hash_ether_tcp_fast(fr.data, fr.cap_len) : 0;
		if (!h)
			h = bw_pipeline_dispatch_hash(fr.linktype, fr.data, fr.cap_len);
		unsigned owner = pick_worker(h, p->n);
		if (owner == pw->id) {
			if (ordered)
				frame_begin(pw, pos_own(p, seq));
			bw_worker_frame(pw->w, &fr, pw->walk_name);
			own++;
		} else if (bw_unlikely(bw_worker_clock(pw->w, fr.ts))) {
			/* another worker's frame, but its time ends some of our flows:
			 * what they still say goes to the detectors in turn, before
			 * the frame's own work */
			if (ordered)
				frame_begin(pw, pos_other(p, seq, pw->id, owner));
			bw_worker_expire(pw->w, &fr, pw->walk_name);
		}
		if (ordered)
			frame_end(pw, pos_own(p, seq));
		if (++since_q >= c->batch) {
			since_q = 0;
			call(c->quiescent);
		}
		if (bw_unlikely((++k & 4095) == 0)) {
			if (progress) {
				atomic_store_explicit(&pw->walk_pos, bw_capture_file_pos(f), memory_order_relaxed);
				atomic_store_explicit(&pw->walk_frames, k, memory_order_relaxed);
			}
			if (c->stop && *c->stop) {
				stopped = true;
				break;
			}
		}
	}
	pw->walk_rc = rc == BW_EEOF || rc == BW_OK ? BW_OK : rc;
	pw->walk_end = stopped ? WALK_STOPPED_END : bw_capture_file_frames(f);
	pw->walk_own = own;
	if (ordered) {
		bw_worker_detect_flush(pw->w);
		pw->done_seq = pos_own(p, pw->base + pw->walk_end);
		pw->prog_local = 2 * pw->done_seq + 1;
		gate_progress(p, pw, pw->prog_local, true);
	}
	bw_ring_publish(pw->ev);
	call(c->quiescent);
	atomic_fetch_sub_explicit(&p->walk_left, 1, memory_order_acq_rel);
	bw_ring_waiter_notify(&p->walk_wake);
}

static void *worker_main(void *arg)
{
	struct pl_worker *pw = arg;
	const struct bw_pipeline_config *c = &pw->p->cfg;
	call(c->thread_start);
	unsigned since_q = 0;
	for (;;) {
		uint32_t type, len;
		const uint8_t *rec = bw_ring_peek(pw->in, &type, &len);
		if (!rec) {
			/* Going idle: nothing held back (the others may be waiting for it),
			 * the output sees what we made, the reader reuses the space. */
			if (pw->pend_n)
				bw_worker_detect_flush(pw->w);
			bw_ring_publish(pw->ev);
			bw_ring_release(pw->in);
			if (pw->p->ordered) { /* a worker at the turnstile may be waiting for this one */
				prog_flush(pw);
				bw_ring_waiter_notify(&pw->p->gate_wake);
			}
			call(c->quiescent);
			call(c->idle_begin);
			pw->idle_waits++;
			bw_ring_wait_nonempty(pw->in, NULL);
			call(c->idle_end);
			continue;
		}
		if (type == REC_END) {
			bw_ring_pop(pw->in);
			break;
		}
		if (type == REC_INPUT_START) {
			memcpy(&pw->base, rec, sizeof(pw->base));
			bw_worker_input_start(pw->w);
		} else if (type == REC_WALK) {
			bw_ring_pop(pw->in);
			bw_ring_release(pw->in);
			walk_file(pw);
			continue;
		} else if (type == REC_FRAME || type == REC_FRAME_COPY || type == REC_FRAME_HEAP) {
			struct pl_frame pf;
			memcpy(&pf, rec, sizeof(pf));
			struct bw_frame fr = {
				.data = type == REC_FRAME_COPY ? rec + sizeof(pf) : pf.data,
				.cap_len = pf.cap_len, .wire_len = pf.wire_len, .ts = pf.ts, .linktype = pf.linktype,
				.ifindex = pf.ifindex, .number = pf.number, .offset = pf.offset,
			};
			bool ordered = pw->p->ordered;
			if (ordered)
				frame_begin(pw, pos_own(pw->p, pw->base + pf.number));
			bw_worker_frame(pw->w, &fr, pf.file);
			if (ordered)
				frame_end(pw, pw->cur_seq);
			if (type == REC_FRAME_HEAP) {
				free((void *)pf.data);
				pw->frames_heap_freed++;
			}
		}
		bw_ring_pop(pw->in);
		if (++since_q >= c->batch) {
			since_q = 0;
			call(c->quiescent);
		}
	}
	if (pw->p->ordered) {
		bw_worker_detect_flush(pw->w);
		pw->cur_seq = PL_FIN_SEQ + pw->id;
		pw->in_frame = true;
		pw->prog_local = 2 * pw->cur_seq;
		gate_progress(pw->p, pw, pw->prog_local, true);
	}
	bw_worker_finish(pw->w);
	if (pw->p->ordered)
		gate_progress(pw->p, pw, pw->prog_local = UINT64_MAX, true);
	bw_ring_publish(pw->ev);
	bw_ring_release(pw->in);
	atomic_store_explicit(&pw->done, true, memory_order_release);
	bw_ring_waiter_notify(&pw->p->out_wake);
	call(c->thread_stop);
	return NULL;
}

/* ---- output thread ---- */

static void output_one(struct bw_pipeline *p, const uint8_t *rec)
{
	struct pl_event pe;
	memcpy(&pe, rec, sizeof(pe));
	const char *json = pe.heap_json ? pe.heap_json : (const char *)rec + sizeof(pe);
	bool dup = false;
	if (pe.type == BW_EV_X509 && p->n > 1) {
		dup = bw_x509_dedup_repeat(&p->seen, json, pe.json_len);
	}
	if (dup) {
		p->x509_dups++;
	} else {
		struct bw_event ev = {
			.type = (enum bw_event_type)pe.type, .producer = pe.producer, .ts = pe.ts,
			.json = json, .json_len = pe.json_len,
		};
		bw_output_emit(p->out, &ev);
	}
	free(pe.heap_json);
}

static void *output_main(void *arg)
{
	struct bw_pipeline *p = arg;
	const unsigned burst = p->cfg.batch * 4;
	for (;;) {
		bool any = false;
		for (unsigned i = 0; i < p->n; i++) {
			struct bw_ring *r = p->wk[i].ev;
			uint32_t type, len;
			const uint8_t *rec;
			for (unsigned k = 0; k < burst && (rec = bw_ring_peek(r, &type, &len)) != NULL; k++) {
				if (type == REC_EVENT)
					output_one(p, rec);
				bw_ring_pop(r);
				any = true;
			}
		}
		if (any)
			continue;
		/* Nothing visible anywhere: done if every worker is, else sleep. */
		bool all_done = true;
		for (unsigned i = 0; i < p->n; i++)
			all_done &= atomic_load_explicit(&p->wk[i].done, memory_order_acquire);
		bool empty = true;
		for (unsigned i = 0; i < p->n; i++) {
			bw_ring_release(p->wk[i].ev);
			empty &= bw_ring_empty(p->wk[i].ev);
		}
		if (!empty)
			continue;
		if (all_done)
			break;
		uint32_t key = bw_ring_waiter_prepare(&p->out_wake);
		bool ready = false;
		for (unsigned i = 0; i < p->n && !ready; i++)
			ready = !bw_ring_empty(p->wk[i].ev) || atomic_load(&p->wk[i].done);
		if (ready) {
			bw_ring_waiter_cancel(&p->out_wake);
			continue;
		}
		p->output_idle_waits++;
		bw_ring_waiter_wait(&p->out_wake, key, 50);
	}
	return NULL;
}

/* ---- setup ---- */

unsigned bw_pipeline_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > BW_PIPELINE_MAX_WORKERS)
		n = BW_PIPELINE_MAX_WORKERS;
	return (unsigned)n;
}

void bw_pipeline_config_default(struct bw_pipeline_config *c)
{
	memset(c, 0, sizeof(*c));
	c->workers = bw_pipeline_default_workers();
	c->frame_ring_bytes = 512u << 10;
	c->event_ring_bytes = 1u << 20;
	c->batch = BW_RING_DEFAULT_BATCH;
	/* A benchmarking knob (bench/NOTES.md): copy frames even from the mapping. */
	const char *copy = getenv("BINDWATCH_COPY_FRAMES");
	c->copy_frames = copy && *copy && strcmp(copy, "0") != 0;
	/* And this one: a reader thread dispatching frames, as before walk mode. */
	const char *walk = getenv("BINDWATCH_WALK");
	c->walk = !walk ? BW_WALK_AUTO : strcmp(walk, "never") == 0 ? BW_WALK_NEVER
			   : strcmp(walk, "always") == 0 ? BW_WALK_ALWAYS : BW_WALK_AUTO;
}

static void set_err(char *err, size_t cap, const char *msg)
{
	if (err && cap)
		snprintf(err, cap, "%s", msg);
}

/* Push a control record (no payload beyond a byte) to worker i, waiting for room. */
static void push_ctl(struct bw_pipeline *p, unsigned i, uint32_t type)
{
	if (bw_ring_reserve_wait(p->wk[i].in, 1, NULL))
		bw_ring_commit(p->wk[i].in, type);
}

struct bw_pipeline *bw_pipeline_new(const struct bw_pipeline_config *pc, const struct bw_worker_config *wc,
				    struct bw_output *out, char *err, size_t errcap)
{
	if (!pc || !wc || !out || pc->workers < 1 || pc->workers > BW_PIPELINE_MAX_WORKERS) {
		set_err(err, errcap, "pipeline: workers must be 1 to 64");
		return NULL;
	}
	struct bw_pipeline *p = calloc(1, sizeof(*p));
	if (!p) {
		set_err(err, errcap, "pipeline: out of memory");
		return NULL;
	}
	p->cfg = *pc;
	if (!p->cfg.batch)
		p->cfg.batch = BW_RING_DEFAULT_BATCH;
	if (p->cfg.frame_ring_bytes < BW_RING_MIN_CAPACITY)
		p->cfg.frame_ring_bytes = 512u << 10;
	if (p->cfg.event_ring_bytes < BW_RING_MIN_CAPACITY)
		p->cfg.event_ring_bytes = 1u << 20;
	p->out = out;
	p->n = pc->workers;
	bw_ring_waiter_init(&p->out_wake);
	uint64_t certs = (uint64_t)(wc->cert_cache_entries ? wc->cert_cache_entries : 4096) * p->n;
	if (bw_x509_dedup_init(&p->seen, certs) != BW_OK)
		goto nomem;
	bw_ring_waiter_init(&p->gate_wake);
	bw_ring_waiter_init(&p->walk_wake);
	p->ordered = p->n > 1 && wc->detect != NULL;
	if (p->ordered && !(p->detect_state = bw_detect_state_new()))
		goto nomem;
	for (unsigned i = 0; i < p->n; i++) {
		struct pl_worker *pw = &p->wk[i];
		pw->p = p;
		pw->id = i;
		atomic_init(&pw->done, false);
		atomic_init(&pw->prog, 1); /* done with frame 0, which no worker gets */
		pw->prog_local = 1;
		atomic_init(&pw->last_disp, 0);
		atomic_init(&pw->gate_want, 0);
		struct bw_worker_config c = *wc;
		c.emit = pl_emit;
		c.emit_ctx = pw;
		c.worker_id = i;
		if (p->ordered) {
			c.detect_gate = pl_gate;
			c.detect_gate_ctx = pw;
			c.detect_try = pl_detect_try;
			c.detect_head_ready = pl_detect_head_ready;
			c.detect_head_wait = pl_detect_head_wait;
			c.detect_head_done = pl_detect_head_done;
			c.shared_detect = p->detect_state;
			c.detect_finish_skip = i != p->n - 1;
		}
		pw->in = bw_ring_new(p->cfg.frame_ring_bytes, p->cfg.batch);
		pw->ev = bw_ring_new(p->cfg.event_ring_bytes, p->cfg.batch);
		pw->w = bw_worker_new(&c, out);
		if (!pw->in || !pw->ev || !pw->w)
			goto nomem;
		bw_ring_set_consumer_waiter(pw->ev, &p->out_wake);
		/* offline, events may wait: the output thread is woken per quarter ring, not per batch */
		bw_ring_set_consumer_wake(pw->ev, p->cfg.event_ring_bytes / 4);
	}
	for (unsigned i = 0; i < p->n; i++) {
		if (pthread_create(&p->wk[i].thread, NULL, worker_main, &p->wk[i]) != 0) {
			set_err(err, errcap, "pipeline: cannot start a worker thread");
			goto fail;
		}
		p->wk[i].started = true;
	}
	if (pthread_create(&p->out_thread, NULL, output_main, p) != 0) {
		set_err(err, errcap, "pipeline: cannot start the output thread");
		goto fail;
	}
	p->out_started = true;
	return p;
nomem:
	set_err(err, errcap, "pipeline: out of memory");
fail:
	bw_pipeline_free(p);
	return NULL;
}

/* ---- reader ---- */

static void publish_all(struct bw_pipeline *p)
{
	for (unsigned i = 0; i < p->n; i++)
		bw_ring_publish(p->wk[i].in);
}

/* REC_INPUT_START carries the seq of the file's frame number 0. */
static void push_input_start(struct bw_pipeline *p, unsigned i, uint64_t base)
{
	uint8_t *rec = bw_ring_reserve_wait(p->wk[i].in, sizeof(base), NULL);
	if (rec) {
		memcpy(rec, &base, sizeof(base));
		bw_ring_commit(p->wk[i].in, REC_INPUT_START);
	}
}

static void dispatch(struct bw_pipeline *p, const struct bw_frame *fr, const char *name, bool lend)
{
	uint64_t h = bw_pipeline_dispatch_hash(fr->linktype, fr->data, fr->cap_len);
	unsigned i = pick_worker(h, p->n);
	struct bw_ring *r = p->wk[i].in;
	struct pl_frame pf = {
		.data = fr->data, .file = name, .number = fr->number, .offset = fr->offset, .ts = fr->ts,
		.cap_len = fr->cap_len, .wire_len = fr->wire_len, .linktype = fr->linktype, .ifindex = fr->ifindex,
	};
	uint32_t type = REC_FRAME;
	size_t need = sizeof(pf);
	if (!lend) {
		if (sizeof(pf) + fr->cap_len <= bw_ring_max_payload(r)) {
			type = REC_FRAME_COPY;
			need += fr->cap_len;
			p->frames_copied++;
		} else {
			uint8_t *copy = malloc(fr->cap_len ? fr->cap_len : 1);
			if (!copy) {
				/* Out of memory for one huge frame: the worker gets none of it.
				 * Counted as a ring drop rather than silently lost. */
				bw_ring_drop(r);
				return;
			}
			memcpy(copy, fr->data, fr->cap_len);
			pf.data = copy;
			type = REC_FRAME_HEAP;
			p->frames_heap++;
		}
	}
	uint8_t *rec;
	if (p->ordered) {
		/* Before blocking on this ring, make every frame handed out visible:
		 * a worker at the turnstile may be waiting for one still pending in
		 * another ring (the turnstile's no-deadlock condition). */
		rec = bw_ring_reserve(r, need);
		if (!rec) {
			publish_all(p);
			rec = bw_ring_reserve_wait(r, need, NULL);
		}
		uint64_t seq = p->file_base + fr->number;
		if (fr->number > p->max_number)
			p->max_number = fr->number;
		atomic_store_explicit(&p->wk[i].last_disp, pos_own(p, seq), memory_order_relaxed);
	} else {
		rec = bw_ring_reserve_wait(r, need, NULL);
	}
	if (!rec) { /* cannot happen: need fits by construction */
		if (type == REC_FRAME_HEAP)
			free((void *)pf.data);
		bw_ring_drop(r);
		return;
	}
	memcpy(rec, &pf, sizeof(pf));
	if (type == REC_FRAME_COPY)
		memcpy(rec + sizeof(pf), fr->data, fr->cap_len);
	bw_ring_commit(r, type);
	p->frames_dispatched[i]++;
}

/*
 * Hand f to every worker to walk (walk_file), each through a clone of it
 * but worker 0, and wait until all are through. Returns f's outcome.
 */
static int walk_all(struct bw_pipeline *p, struct bw_capture_file *f, struct bw_capture_file **clones,
		    const char *name, char *err, size_t errcap)
{
	/*
	 * The turnstile reads last_disp, which the previous file's dispatch
	 * wrote: every worker must be through that file first. UINT64_MAX
	 * then says "judge this worker by its progress alone".
	 */
	publish_all(p);
	for (unsigned i = 0; i < p->n; i++)
		bw_ring_wait_drained(p->wk[i].in);
	atomic_store_explicit(&p->walk_left, p->n, memory_order_relaxed);
	for (unsigned i = 0; i < p->n; i++) {
		struct pl_worker *pw = &p->wk[i];
		pw->walk_f = i == 0 ? f : clones[i];
		pw->walk_name = name;
		pw->walk_base = p->file_base;
		pw->walk_rc = BW_OK;
		pw->walk_end = pw->walk_own = 0;
		atomic_store_explicit(&pw->walk_pos, 0, memory_order_relaxed);
		atomic_store_explicit(&pw->walk_frames, 0, memory_order_relaxed);
		atomic_store_explicit(&pw->last_disp, UINT64_MAX, memory_order_relaxed);
	}
	/* Every last_disp above is written before any worker starts (the ring's release). */
	for (unsigned i = 0; i < p->n; i++) {
		push_ctl(p, i, REC_WALK);
		bw_ring_publish(p->wk[i].in);
	}
	for (;;) {
		uint32_t key = bw_ring_waiter_prepare(&p->walk_wake);
		if (atomic_load_explicit(&p->walk_left, memory_order_acquire) == 0) {
			bw_ring_waiter_cancel(&p->walk_wake);
			break;
		}
		bw_ring_waiter_wait(&p->walk_wake, key, 200);
		if (p->cfg.progress)
			p->cfg.progress(p->cfg.progress_ctx,
					atomic_load_explicit(&p->wk[0].walk_pos, memory_order_relaxed),
					p->frames_read + atomic_load_explicit(&p->wk[0].walk_frames, memory_order_relaxed));
	}
	uint64_t end = 0;
	for (unsigned i = 0; i < p->n; i++) {
		struct pl_worker *pw = &p->wk[i];
		end = BW_MAX(end, pw->walk_end);
		p->frames_dispatched[i] += pw->walk_own;
	}
	/* A later dispatched file's turnstile takes each worker as done with this one. */
	for (unsigned i = 0; i < p->n; i++)
		atomic_store_explicit(&p->wk[i].last_disp, pos_own(p, p->file_base + end), memory_order_relaxed);
	p->max_number = end;
	p->frames_read += bw_capture_file_frames(f);
	p->files_walked++;
	int rc = p->wk[0].walk_rc;
	if (rc != BW_OK)
		set_err(err, errcap, bw_capture_file_error(f));
	return rc;
}

int bw_pipeline_read_file(struct bw_pipeline *p, const char *path, const char *name, enum bw_reader_kind kind,
			  bool *opened, uint64_t *bytes_read, uint64_t *file_size, char *err, size_t errcap)
{
	struct bw_capture_file *f;
	*opened = false;
	*bytes_read = *file_size = 0;
	if (p->finished) {
		set_err(err, errcap, "pipeline: already finished");
		return BW_EINVAL;
	}
	int rc = bw_capture_file_open(path, kind, &p->reader_an, &f, err, errcap);
	if (rc != BW_OK)
		return rc;
	*opened = true;
	/* Our mmap reader lends frames that stay valid until close (capture_file.c);
	 * libpcap reuses its buffer at every next(). */
	bool lend = !p->cfg.copy_frames && strcmp(bw_capture_file_format(f), "libpcap") != 0;
	/* Frame numbers restart in each file; seq goes on over the whole run. */
	p->file_base += p->max_number + 1;
	p->max_number = 0;
	/* More workers than cores would each read every record header while
	 * they take turns on the cores: the reader thread does it once. */
	bool walk_ok = p->cfg.walk == BW_WALK_ALWAYS ||
		       (p->cfg.walk == BW_WALK_AUTO && p->n <= bw_pipeline_default_workers());
	if (lend && p->n > 1 && walk_ok) {
		struct bw_capture_file *clones[BW_PIPELINE_MAX_WORKERS] = { NULL };
		bool walk = true;
		for (unsigned i = 1; i < p->n && walk; i++)
			walk = bw_capture_file_clone(f, NULL, &clones[i]) == BW_OK;
		if (walk)
			rc = walk_all(p, f, clones, name, err, errcap);
		for (unsigned i = 1; i < p->n; i++)
			bw_capture_file_close(clones[i]);
		if (walk) {
			*bytes_read = bw_capture_file_pos(f);
			*file_size = bw_capture_file_size(f);
			bw_capture_file_close(f);
			return rc;
		}
		/* Out of memory for a clone: the reader dispatches this file instead. */
	}
	/* Lent frames wait in the rings: a worker may be this far behind the reader. */
	if (lend)
		bw_capture_file_keep_behind(f, LEND_KEEP_BEHIND);
	for (unsigned i = 0; i < p->n; i++)
		push_input_start(p, i, p->file_base);
	struct bw_frame fr;
	while ((rc = bw_capture_file_next(f, &fr)) == BW_OK) {
		dispatch(p, &fr, name, lend);
		++p->frames_read;
		/* Keeps a worker at the turnstile from waiting long for a frame that
		 * sits unpublished in another worker's ring. */
		if (p->ordered && (p->frames_read & 255) == 0)
			publish_all(p);
		if (bw_unlikely((p->frames_read & 4095) == 0)) {
			if (p->cfg.stop && *p->cfg.stop)
				break;
			if (p->cfg.progress)
				p->cfg.progress(p->cfg.progress_ctx, bw_capture_file_pos(f), p->frames_read);
		}
	}
	if (rc == BW_EEOF || rc == BW_OK) {
		rc = BW_OK;
	} else {
		set_err(err, errcap, bw_capture_file_error(f));
	}
	/* Lent frames point into the mapping: every worker must be past them before it goes.
	 * All rings first: a worker draining ring 0 may wait at the turnstile for ring 1. */
	publish_all(p);
	for (unsigned i = 0; i < p->n; i++) {
		if (lend)
			bw_ring_wait_drained(p->wk[i].in);
		else
			bw_ring_publish(p->wk[i].in);
	}
	*bytes_read = bw_capture_file_pos(f);
	*file_size = bw_capture_file_size(f);
	bw_capture_file_close(f);
	return rc;
}

void bw_pipeline_finish(struct bw_pipeline *p)
{
	if (!p || p->finished)
		return;
	p->finished = true;
	for (unsigned i = 0; i < p->n; i++) {
		if (p->wk[i].started) {
			push_ctl(p, i, REC_END);
			bw_ring_publish(p->wk[i].in);
		} else {
			atomic_store(&p->wk[i].done, true); /* never started: nothing to wait for */
		}
	}
	for (unsigned i = 0; i < p->n; i++)
		if (p->wk[i].started)
			pthread_join(p->wk[i].thread, NULL);
	bw_ring_waiter_notify(&p->out_wake);
	if (p->out_started)
		pthread_join(p->out_thread, NULL);
}

void bw_pipeline_stats(const struct bw_pipeline *p, struct bw_worker_stats *st, struct bw_anomalies *an)
{
	memset(st, 0, sizeof(*st));
	if (an)
		*an = p->reader_an;
	for (unsigned i = 0; i < p->n; i++) {
		if (!p->wk[i].w)
			continue;
		struct bw_worker_stats ws;
		struct bw_anomalies wa;
		bw_worker_stats(p->wk[i].w, &ws, &wa);
		ws.events_dropped += p->wk[i].events_lost;
		bw_worker_stats_merge(st, &ws);
		if (an)
			bw_anomalies_merge(an, &wa);
	}
	/* x509 events the output dropped as already written were never written */
	st->tls.x509_events -= BW_MIN(st->tls.x509_events, p->x509_dups);
}

void bw_pipeline_own_stats(const struct bw_pipeline *p, struct bw_pipeline_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->workers = p->n;
	st->frames_copied = p->frames_copied;
	st->frames_heap = p->frames_heap;
	st->x509_duplicates_dropped = p->x509_dups;
	st->output_idle_waits = p->output_idle_waits;
	st->files_walked = p->files_walked;
	for (unsigned i = 0; i < p->n; i++) {
		const struct pl_worker *pw = &p->wk[i];
		st->frames_dispatched[i] = p->frames_dispatched[i];
		st->events_heap += pw->events_heap;
		st->worker_idle_waits += pw->idle_waits;
		st->turnstile_waits += pw->gate_waits;
		struct bw_ring_stats rs;
		if (pw->in) {
			bw_ring_stats(pw->in, &rs);
			st->frame_ring_full_waits += rs.full_waits;
		}
		if (pw->ev) {
			bw_ring_stats(pw->ev, &rs);
			st->event_ring_full_waits += rs.full_waits;
		}
	}
}

void bw_pipeline_free(struct bw_pipeline *p)
{
	if (!p)
		return;
	bw_pipeline_finish(p);

	for (unsigned i = 0; i < p->n; i++) {
		struct pl_worker *pw = &p->wk[i];
		bw_worker_free(pw->w);
		/* Heap copies still queued (threads that never ran) are freed here. */
		uint32_t type, len;
		const uint8_t *rec;
		while (pw->in && (rec = bw_ring_peek(pw->in, &type, &len)) != NULL) {
			if (type == REC_FRAME_HEAP) {
				struct pl_frame pf;
				memcpy(&pf, rec, sizeof(pf));
				free((void *)pf.data);
			}
			bw_ring_pop(pw->in);
		}
		while (pw->ev && (rec = bw_ring_peek(pw->ev, &type, &len)) != NULL) {
			struct pl_event pe;
			memcpy(&pe, rec, sizeof(pe));
			free(pe.heap_json);
			bw_ring_pop(pw->ev);
		}
		bw_ring_free(pw->in);
		bw_ring_free(pw->ev);
	}
	bw_x509_dedup_deinit(&p->seen);
	bw_detect_state_free(p->detect_state); /* after the workers that borrowed it */
	free(p);
}
