/* SPDX-License-Identifier: MIT */
/*
 * pcapgen-bench.c: writes a large, realistic mirrored-link capture for the
 * benchmark, fast (the bytes are mostly copies from a random pool), and
 * deterministic from a seed, with a ground-truth file listing every DNS
 * answer and every TLS (server, port, SNI, leaf certificate SHA-256).
 *
 * The default mix follows the performance issue: about 97 % of the bytes
 * are encrypted bulk records after TLS handshakes, 3.5 % of the packets are
 * DNS (A, AAAA, CNAME chains, NXDOMAIN) over UDP, TLS 1.2 handshakes carry
 * real certificate chains (tools/bench_certs.h) split over segments, TLS
 * 1.3 ClientHellos carry a post-quantum X25519MLKEM768 key share (group
 * 0x11ec, 1216 bytes) and so span two segments, a share of the flows is
 * IPv6 and a share is 802.1Q tagged. Many TCP sessions are open at once and
 * their packets interleave, as on a real link; pure ACKs come every second
 * data segment. Everything is a command-line option (see --help).
 *
 * It is a C program rather than part of tools/pcapgen (Python) because a
 * gigabyte has to be made in seconds: the Python generator is the one for
 * small, hand-checked scenarios. It is a tool, not part of the sensor: it
 * does not use the sensor's headers and writes its own pcap and pcapng.
 *
 * Truth file (FILE.truth.tsv), one row per fact:
 *   dns  QNAME  QTYPE  RCODE  OWNER  TYPE  DATA     (an answer record)
 *   dns  QNAME  QTYPE  NXDOMAIN  -  -  -            (a name error)
 *   tls  SERVER  PORT  SNI  LEAF_SHA256|-  VERSION   (- : TLS 1.3, certificate encrypted)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_certs.h"

#define MSS 1448
#define POOL_BYTES (8u << 20)
#define OUTBUF (4u << 20)
#define HS_MAX 16384
#define MAX_SESS 4096
#define MAX_SERVERS 4096
#define DNS_PENDING 256
#define BW_BENCH_MIN(a, b) ((a) < (b) ? (a) : (b))

struct mix {
	double dns_pkt_share;    /* of all packets */
	double ipv6_share;       /* of flows */
	double vlan_share;       /* of flows */
	double tls13_share;      /* of TLS sessions */
	double nxdomain_share, cname_share, aaaa_share; /* of DNS responses */
	uint64_t bulk_min, bulk_max; /* encrypted bytes per session, server to client */
	unsigned concurrent;     /* TCP sessions open at once */
	unsigned servers;
	unsigned dns_names;      /* names queried, Zipf-distributed; 0: a new name every query */
};

/* ---- deterministic random ---- */

static uint64_t rng_s[2];

static uint64_t rnd(void)
{
	/* xoroshiro128+ */
	uint64_t s0 = rng_s[0], s1 = rng_s[1], r = s0 + s1;
	s1 ^= s0;
	rng_s[0] = ((s0 << 24) | (s0 >> 40)) ^ s1 ^ (s1 << 16);
	rng_s[1] = (s1 << 37) | (s1 >> 27);
	return r;
}

static void rng_seed(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 2; i++) {
		z += 0x9e3779b97f4a7c15ULL;
		uint64_t x = z;
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
		rng_s[i] = x ^ (x >> 31);
	}
}

static uint32_t rnd_below(uint32_t n) { return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32); }
static double rnd_unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static uint8_t *pool; /* random bytes: the "ciphertext" */

static const uint8_t *pool_at(size_t len)
{
	return pool + rnd_below((uint32_t)(POOL_BYTES - len - 1));
}

/* ---- output ---- */

static FILE *out_fp;
static uint8_t *obuf;
static size_t olen;
static bool pcapng;
static uint64_t ts_ns = 1704164645000000000ULL; /* 2024-01-02T03:04:05Z */
static uint64_t n_packets, n_bytes, n_dns_packets, n_bulk_bytes;

static void out_flush(void)
{
	if (olen && fwrite(obuf, 1, olen, out_fp) != olen) {
		fprintf(stderr, "pcapgen-bench: write failed: %s\n", strerror(errno));
		exit(1);
	}
	olen = 0;
}

static uint8_t *out_reserve(size_t n)
{
	if (olen + n > OUTBUF)
		out_flush();
	uint8_t *p = obuf + olen;
	olen += n;
	return p;
}

static void put32le(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* little-endian hosts only */

static void file_header(void)
{
	if (!pcapng) {
		uint8_t *h = out_reserve(24);
		put32le(h, 0xa1b2c3d4);
		h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;
		memset(h + 8, 0, 8);
		put32le(h + 16, 262144);
		put32le(h + 20, 1);
		return;
	}
	uint8_t *s = out_reserve(28);
	put32le(s, 0x0a0d0d0a);
	put32le(s + 4, 28);
	put32le(s + 8, 0x1a2b3c4d);
	s[12] = 1, s[13] = 0, s[14] = 0, s[15] = 0;
	memset(s + 16, 0xff, 8); /* section length unknown */
	put32le(s + 24, 28);
	uint8_t *i = out_reserve(20);
	put32le(i, 1);
	put32le(i + 4, 20);
	i[8] = 1, i[9] = 0, i[10] = 0, i[11] = 0; /* Ethernet, reserved */
	put32le(i + 12, 262144);
	put32le(i + 16, 20);
}

/* Room for a frame of len bytes with its record header; returns where the frame goes. */
static bool bulk_phase; /* the packet being made carries encrypted bulk records */

static uint8_t *frame_begin(size_t len)
{
	if (bulk_phase)
		n_bulk_bytes += len;
	ts_ns += 200 + rnd_below(2800); /* 0.2..3 us apart */
	n_packets++;
	n_bytes += len;
	if (!pcapng) {
		uint8_t *r = out_reserve(16 + len);
		put32le(r, (uint32_t)(ts_ns / 1000000000ULL));
		put32le(r + 4, (uint32_t)(ts_ns % 1000000000ULL / 1000));
		put32le(r + 8, (uint32_t)len);
		put32le(r + 12, (uint32_t)len);
		return r + 16;
	}
	size_t pad = (4 - len % 4) % 4, blen = 32 + len + pad;
	uint8_t *b = out_reserve(blen);
	uint64_t us = ts_ns / 1000;
	put32le(b, 6);
	put32le(b + 4, (uint32_t)blen);
	put32le(b + 8, 0);
	put32le(b + 12, (uint32_t)(us >> 32));
	put32le(b + 16, (uint32_t)us);
	put32le(b + 20, (uint32_t)len);
	put32le(b + 24, (uint32_t)len);
	memset(b + 28 + len, 0, pad);
	put32le(b + 28 + len + pad, (uint32_t)blen);
	return b + 28;
}

/* ---- headers ---- */

struct endpoint {
	bool v6;
	uint8_t a[16];
};

struct path {
	struct endpoint c, s; /* client, server */
	int vlan;             /* -1: untagged */
	uint8_t cmac[6], smac[6];
};

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t l2l3_len(const struct path *pa) { return 14 + (pa->vlan >= 0 ? 4 : 0) + (pa->c.v6 ? 40 : 20); }

static uint16_t ip_checksum(const uint8_t *h)
{
	uint32_t s = 0;
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet, VLAN, IP for a packet carrying l4len bytes; returns the L4 start. */
static uint8_t *l2l3(uint8_t *f, const struct path *pa, bool from_client, uint8_t proto, size_t l4len)
{
	memcpy(f, from_client ? pa->smac : pa->cmac, 6);
	memcpy(f + 6, from_client ? pa->cmac : pa->smac, 6);
	uint8_t *p = f + 12;
	if (pa->vlan >= 0) {
		wr16(p, 0x8100);
		wr16(p + 2, (uint16_t)pa->vlan);
		p += 4;
	}
	const struct endpoint *src = from_client ? &pa->c : &pa->s, *dst = from_client ? &pa->s : &pa->c;
	if (!pa->c.v6) {
		wr16(p, 0x0800);
		p += 2;
		p[0] = 0x45;
		p[1] = 0;
		wr16(p + 2, (uint16_t)(20 + l4len));
		wr16(p + 4, (uint16_t)rnd());
		wr16(p + 6, 0x4000); /* DF */
		p[8] = from_client ? 64 : 57;
		p[9] = proto;
		p[10] = p[11] = 0;
		memcpy(p + 12, src->a, 4);
		memcpy(p + 16, dst->a, 4);
		wr16(p + 10, ip_checksum(p));
		return p + 20;
	}
	wr16(p, 0x86DD);
	p += 2;
	wr32(p, 0x60000000u);
	wr16(p + 4, (uint16_t)l4len);
	p[6] = proto;
	p[7] = from_client ? 64 : 57;
	memcpy(p + 8, src->a, 16);
	memcpy(p + 24, dst->a, 16);
	return p + 40;
}

/* ---- names and addresses ---- */

static void client_addr(struct endpoint *e, bool v6, uint32_t id)
{
	memset(e, 0, sizeof(*e));
	e->v6 = v6;
	if (!v6) {
		e->a[0] = 10;
		e->a[1] = (uint8_t)(id >> 16);
		e->a[2] = (uint8_t)(id >> 8);
		e->a[3] = (uint8_t)(id | 1);
	} else {
		static const uint8_t pfx[8] = { 0xfd, 0x00, 0xbe, 0x4c, 0, 0, 0, 1 };
		memcpy(e->a, pfx, 8);
		wr32(e->a + 12, id | 1);
	}
}

static void server_addr(struct endpoint *e, bool v6, uint32_t id)
{
	memset(e, 0, sizeof(*e));
	e->v6 = v6;
	if (!v6) {
		e->a[0] = 198;
		e->a[1] = (uint8_t)(18 + (id >> 16 & 1));
		e->a[2] = (uint8_t)(id >> 8);
		e->a[3] = (uint8_t)(id | 1);
	} else {
		static const uint8_t pfx[8] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x5e, 0, 0 };
		memcpy(e->a, pfx, 8);
		wr32(e->a + 12, id + 1);
	}
}

static const char *ip_text(const struct endpoint *e, char *buf, size_t cap)
{
	inet_ntop(e->v6 ? AF_INET6 : AF_INET, e->a, buf, (socklen_t)cap);
	return buf;
}

/* ---- truth ---- */

static FILE *truth_fp;
static uint64_t truth_dns, truth_nx, truth_tls, truth_certs;

/* ---- TLS messages ---- */

struct server {
	struct endpoint v4, v6;
	unsigned chain;
	char sni[96];
};

static struct server *servers;
static struct mix mix;

struct buf {
	uint8_t b[HS_MAX];
	size_t n;
};

static uint8_t *buf_put(struct buf *b, size_t n)
{
	if (b->n + n > HS_MAX) {
		fprintf(stderr, "pcapgen-bench: handshake buffer overflow\n");
		exit(1);
	}
	uint8_t *p = b->b + b->n;
	b->n += n;
	return p;
}

static void put_u8(struct buf *b, uint8_t v) { *buf_put(b, 1) = v; }
static void put_u16(struct buf *b, uint16_t v) { wr16(buf_put(b, 2), v); }
static void put_u24(struct buf *b, uint32_t v)
{
	uint8_t *p = buf_put(b, 3);
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}
static void put_bytes(struct buf *b, const void *d, size_t n) { memcpy(buf_put(b, n), d, n); }
static void put_random(struct buf *b, size_t n) { put_bytes(b, pool_at(n), n); }

/* Length fields patched once the body is written. */
static size_t mark(struct buf *b, size_t width)
{
	size_t at = b->n;
	buf_put(b, width);
	return at;
}

static void patch(struct buf *b, size_t at, size_t width)
{
	size_t len = b->n - at - width;
	if (width == 2)
		wr16(b->b + at, (uint16_t)len);
	else {
		b->b[at] = (uint8_t)(len >> 16);
		b->b[at + 1] = (uint8_t)(len >> 8);
		b->b[at + 2] = (uint8_t)len;
	}
}

static size_t record_begin(struct buf *b, uint8_t type)
{
	put_u8(b, type);
	put_u16(b, type == 22 ? 0x0301 : 0x0303);
	return mark(b, 2);
}

static void client_hello(struct buf *b, const char *sni, bool tls13)
{
	static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
					   0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035 };
	size_t rec = record_begin(b, 22);
	put_u8(b, 1);
	size_t hs = mark(b, 3);
	put_u16(b, 0x0303);
	put_random(b, 32);
	put_u8(b, 32);
	put_random(b, 32);
	put_u16(b, (uint16_t)(sizeof(suites)));
	for (size_t i = 0; i < sizeof(suites) / 2; i++)
		put_u16(b, suites[i]);
	put_u8(b, 1);
	put_u8(b, 0);
	size_t exts = mark(b, 2);
	/* server_name */
	size_t sl = strlen(sni);
	put_u16(b, 0);
	put_u16(b, (uint16_t)(sl + 5));
	put_u16(b, (uint16_t)(sl + 3));
	put_u8(b, 0);
	put_u16(b, (uint16_t)sl);
	put_bytes(b, sni, sl);
	/* extended_master_secret, renegotiation_info */
	put_u16(b, 23), put_u16(b, 0);
	put_u16(b, 0xff01), put_u16(b, 1), put_u8(b, 0);
	/* supported_groups */
	put_u16(b, 10), put_u16(b, 10), put_u16(b, 8);
	put_u16(b, 0x11ec), put_u16(b, 0x001d), put_u16(b, 0x0017), put_u16(b, 0x0018);
	/* ec_point_formats */
	put_u16(b, 11), put_u16(b, 2), put_u8(b, 1), put_u8(b, 0);
	/* session_ticket */
	put_u16(b, 35), put_u16(b, 0);
	/* ALPN h2, http/1.1 */
	static const uint8_t alpn[] = { 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
	put_u16(b, 16), put_u16(b, sizeof(alpn)), put_bytes(b, alpn, sizeof(alpn));
	/* signature_algorithms */
	static const uint16_t sigs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601 };
	put_u16(b, 13), put_u16(b, sizeof(sigs) + 2), put_u16(b, sizeof(sigs));
	for (size_t i = 0; i < sizeof(sigs) / 2; i++)
		put_u16(b, sigs[i]);
	if (tls13) {
		/* key_share: X25519MLKEM768 (1184-byte ML-KEM key + 32-byte X25519) and X25519 */
		put_u16(b, 51);
		size_t ks = mark(b, 2);
		size_t list = mark(b, 2);
		put_u16(b, 0x11ec), put_u16(b, 1216), put_random(b, 1216);
		put_u16(b, 0x001d), put_u16(b, 32), put_random(b, 32);
		patch(b, list, 2);
		patch(b, ks, 2);
		/* psk_key_exchange_modes, supported_versions */
		put_u16(b, 45), put_u16(b, 2), put_u8(b, 1), put_u8(b, 1);
		put_u16(b, 43), put_u16(b, 5), put_u8(b, 4), put_u16(b, 0x0304), put_u16(b, 0x0303);
	}
	patch(b, exts, 2);
	patch(b, hs, 3);
	patch(b, rec, 2);
}

/* TLS 1.2: ServerHello, Certificate, ServerKeyExchange + ServerHelloDone, one record each. */
static void server_flight12(struct buf *b, const struct bench_chain *ch)
{
	size_t rec = record_begin(b, 22);
	put_u8(b, 2);
	size_t hs = mark(b, 3);
	put_u16(b, 0x0303);
	put_random(b, 32);
	put_u8(b, 32);
	put_random(b, 32);
	put_u16(b, 0xc02f);
	put_u8(b, 0);
	size_t exts = mark(b, 2);
	put_u16(b, 0xff01), put_u16(b, 1), put_u8(b, 0);
	put_u16(b, 23), put_u16(b, 0);
	put_u16(b, 11), put_u16(b, 2), put_u8(b, 1), put_u8(b, 0);
	static const uint8_t alpn[] = { 0, 3, 2, 'h', '2' };
	put_u16(b, 16), put_u16(b, sizeof(alpn)), put_bytes(b, alpn, sizeof(alpn));
	patch(b, exts, 2);
	patch(b, hs, 3);
	patch(b, rec, 2);

	rec = record_begin(b, 22);
	put_u8(b, 11);
	hs = mark(b, 3);
	size_t list = mark(b, 3);
	for (unsigned i = 0; i < ch->n; i++) {
		put_u24(b, (uint32_t)ch->len[i]);
		put_bytes(b, ch->der[i], ch->len[i]);
	}
	patch(b, list, 3);
	patch(b, hs, 3);
	patch(b, rec, 2);

	rec = record_begin(b, 22);
	put_u8(b, 12);
	hs = mark(b, 3);
	put_u8(b, 3), put_u16(b, 0x001d), put_u8(b, 32), put_random(b, 32);
	put_u16(b, 0x0804), put_u16(b, 256), put_random(b, 256);
	patch(b, hs, 3);
	put_u8(b, 14), put_u24(b, 0);
	patch(b, rec, 2);
}

/* TLS 1.3: ServerHello with the ML-KEM ciphertext share, CCS, the encrypted rest. */
static void server_flight13(struct buf *b, const struct bench_chain *ch)
{
	size_t rec = record_begin(b, 22);
	put_u8(b, 2);
	size_t hs = mark(b, 3);
	put_u16(b, 0x0303);
	put_random(b, 32);
	put_u8(b, 32);
	put_random(b, 32);
	put_u16(b, 0x1301);
	put_u8(b, 0);
	size_t exts = mark(b, 2);
	put_u16(b, 43), put_u16(b, 2), put_u16(b, 0x0304);
	put_u16(b, 51), put_u16(b, 1124), put_u16(b, 0x11ec), put_u16(b, 1120), put_random(b, 1120);
	patch(b, exts, 2);
	patch(b, hs, 3);
	patch(b, rec, 2);
	put_u8(b, 20), put_u16(b, 0x0303), put_u16(b, 1), put_u8(b, 1);
	size_t enc = 300;
	for (unsigned i = 0; i < ch->n; i++)
		enc += ch->len[i] + 5;
	put_u8(b, 23), put_u16(b, 0x0303), put_u16(b, (uint16_t)enc), put_random(b, enc);
}

static void client_finish(struct buf *b, bool tls13)
{
	if (!tls13) {
		put_u8(b, 22), put_u16(b, 0x0303), put_u16(b, 37);
		put_u8(b, 16), put_u24(b, 33), put_u8(b, 32), put_random(b, 32);
	}
	put_u8(b, 20), put_u16(b, 0x0303), put_u16(b, 1), put_u8(b, 1);
	size_t fin = tls13 ? 53 : 40;
	put_u8(b, tls13 ? 23 : 22), put_u16(b, 0x0303), put_u16(b, (uint16_t)fin), put_random(b, fin);
}

static void server_finish12(struct buf *b)
{
	put_u8(b, 20), put_u16(b, 0x0303), put_u16(b, 1), put_u8(b, 1);
	put_u8(b, 22), put_u16(b, 0x0303), put_u16(b, 40), put_random(b, 40);
}

/* ---- TCP sessions ---- */

enum phase {
	P_SYN, P_SYNACK, P_ACK, P_CH, P_CH_ACK, P_SFLIGHT, P_CFIN, P_SFIN, P_BULK, P_FIN1, P_FIN2, P_FIN3, P_DONE,
};

struct sess {
	struct path pa;
	uint16_t cport, sport;
	uint32_t cseq, sseq;   /* next sequence number to send, per side */
	enum phase ph;
	bool tls13;
	unsigned unacked;      /* server segments since the client's last ACK */
	struct buf hs;         /* handshake bytes waiting to go, in direction hs_c2s */
	size_t hs_off;
	uint64_t bulk_left;    /* encrypted bytes the server still sends */
	uint32_t rec_left;     /* bytes left in the current bulk record (header included) */
	uint32_t rec_hdr_done; /* bytes of the current record's header already sent */
	uint32_t rec_len;
	uint32_t requests;     /* client requests still to send during bulk */
	unsigned server;       /* index in servers[] */
};

static struct sess *sess;

static void tcp_hdr(uint8_t *t, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags, bool mss)
{
	wr16(t, sp);
	wr16(t + 2, dp);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = (uint8_t)((mss ? 6 : 5) << 4);
	t[13] = flags;
	wr16(t + 14, 64240);
	t[16] = t[17] = t[18] = t[19] = 0;
	if (mss) {
		t[20] = 2, t[21] = 4;
		wr16(t + 22, MSS);
	}
}

/* One TCP packet of s; payload copied from data (may be NULL for len 0). */
static uint8_t *tcp_packet(struct sess *s, bool from_client, uint8_t flags, size_t len, bool mss)
{
	size_t th = mss ? 24 : 20;
	size_t flen = l2l3_len(&s->pa) + th + len;
	uint8_t *f = frame_begin(flen);
	uint8_t *t = l2l3(f, &s->pa, from_client, 6, th + len);
	uint32_t seq = from_client ? s->cseq : s->sseq, ack = from_client ? s->sseq : s->cseq;
	if (from_client)
		tcp_hdr(t, s->cport, s->sport, seq, (flags & 0x10) ? ack : 0, flags, mss);
	else
		tcp_hdr(t, s->sport, s->cport, seq, ack, flags, mss);
	uint32_t adv = (uint32_t)len + ((flags & 0x03) ? 1u : 0u); /* SYN, FIN take a number */
	if (from_client)
		s->cseq += adv;
	else
		s->sseq += adv;
	return t + th;
}

static void sess_start(struct sess *s, uint32_t id)
{
	memset(s, 0, sizeof(*s));
	unsigned si = rnd_below(mix.servers);
	s->server = si;
	const struct server *sv = &servers[si];
	bool v6 = rnd_unit() < mix.ipv6_share;
	client_addr(&s->pa.c, v6, 0x100 + rnd_below(60000));
	s->pa.s = v6 ? sv->v6 : sv->v4;
	s->pa.vlan = rnd_unit() < mix.vlan_share ? (int)(100 + rnd_below(8)) : -1;
	static const uint8_t cm[6] = { 0x02, 0, 0, 0, 0, 1 }, sm[6] = { 0x02, 0, 0, 0, 0, 2 };
	memcpy(s->pa.cmac, cm, 6);
	memcpy(s->pa.smac, sm, 6);
	s->cport = (uint16_t)(1024 + (id * 7919u + rnd_below(512)) % 64000u);
	s->sport = 443;
	s->cseq = (uint32_t)rnd();
	s->sseq = (uint32_t)rnd();
	s->tls13 = rnd_unit() < mix.tls13_share;
	s->ph = P_SYN;
	uint64_t span = mix.bulk_max > mix.bulk_min ? mix.bulk_max - mix.bulk_min : 0;
	s->bulk_left = mix.bulk_min + (span ? rnd() % span : 0);
	s->requests = 1 + rnd_below(4);

	const struct bench_chain *ch = &bench_chains[sv->chain];
	char ip[64];
	fprintf(truth_fp, "tls\t%s\t%u\t%s\t%s\t%s\n", ip_text(&s->pa.s, ip, sizeof(ip)), s->sport, sv->sni,
		s->tls13 ? "-" : ch->leaf_sha256, s->tls13 ? "TLSv1.3" : "TLSv1.2");
	truth_tls++;
	if (!s->tls13)
		truth_certs++;
}

/* Next handshake segment of the queued flight; true when the flight is sent. */
static bool send_hs(struct sess *s, bool from_client)
{
	size_t n = s->hs.n - s->hs_off;
	if (n > MSS)
		n = MSS;
	uint8_t *p = tcp_packet(s, from_client, n + s->hs_off == s->hs.n ? 0x18 : 0x10, n, false);
	memcpy(p, s->hs.b + s->hs_off, n);
	s->hs_off += n;
	if (s->hs_off < s->hs.n)
		return false;
	s->hs.n = s->hs_off = 0;
	return true;
}

static void queue(struct sess *s, void (*fill)(struct buf *b))
{
	s->hs.n = s->hs_off = 0;
	fill(&s->hs);
}

/* One bulk segment, server to client: a stream of 16 KiB application-data records. */
static void send_bulk(struct sess *s)
{
	size_t n = MSS;
	uint64_t stream_left = s->bulk_left + s->rec_left;
	if (n > stream_left)
		n = (size_t)stream_left;
	bulk_phase = true;
	uint8_t *p = tcp_packet(s, false, 0x10, n, false);
	bulk_phase = false;
	size_t done = 0;
	while (done < n) {
		if (s->rec_left == 0) {
			/* full records (16 KiB + AEAD overhead); the last one takes the rest */
			uint64_t take = s->bulk_left < 16406 ? s->bulk_left : 16406;
			if (s->bulk_left - take > 0 && s->bulk_left - take < 6)
				take = s->bulk_left - 6;
			if (take < 6)
				take = 6;
			s->rec_len = (uint32_t)take - 5;
			s->rec_left = (uint32_t)take;
			s->rec_hdr_done = 0;
			s->bulk_left -= BW_BENCH_MIN(take, s->bulk_left);
		}
		if (s->rec_hdr_done < 5) {
			uint8_t h[5] = { 23, 3, 3, (uint8_t)(s->rec_len >> 8), (uint8_t)s->rec_len };
			while (s->rec_hdr_done < 5 && done < n) {
				p[done++] = h[s->rec_hdr_done++];
				s->rec_left--;
			}
			continue;
		}
		size_t k = n - done < s->rec_left ? n - done : s->rec_left;
		memcpy(p + done, pool_at(k), k);
		done += k;
		s->rec_left -= (uint32_t)k;
	}
}

static struct sess *hs_sess; /* for the fill callbacks below */
static const struct bench_chain *hs_chain;
static const char *hs_sni;
static void fill_ch(struct buf *b) { client_hello(b, hs_sni, hs_sess->tls13); }
static void fill_sf(struct buf *b)
{
	if (hs_sess->tls13)
		server_flight13(b, hs_chain);
	else
		server_flight12(b, hs_chain);
}
static void fill_cf(struct buf *b) { client_finish(b, hs_sess->tls13); }
static void fill_sfin(struct buf *b) { server_finish12(b); }
static void fill_req(struct buf *b)
{
	size_t n = 60 + rnd_below(400);
	put_u8(b, 23), put_u16(b, 0x0303), put_u16(b, (uint16_t)n), put_random(b, n);
}

/* Emit the next packet of s; returns false when the session is over. */
static bool sess_step(struct sess *s)
{
	unsigned server_index = s->server;
	hs_sess = s;
	hs_chain = &bench_chains[servers[server_index].chain];
	hs_sni = servers[server_index].sni;
	switch (s->ph) {
	case P_SYN: tcp_packet(s, true, 0x02, 0, true); s->ph = P_SYNACK; break;
	case P_SYNACK: tcp_packet(s, false, 0x12, 0, true); s->ph = P_ACK; break;
	case P_ACK:
		tcp_packet(s, true, 0x10, 0, false);
		queue(s, fill_ch);
		s->ph = P_CH;
		break;
	case P_CH:
		if (send_hs(s, true))
			s->ph = P_CH_ACK;
		break;
	case P_CH_ACK:
		tcp_packet(s, false, 0x10, 0, false);
		queue(s, fill_sf);
		s->ph = P_SFLIGHT;
		break;
	case P_SFLIGHT:
		if (s->unacked >= 2) {
			tcp_packet(s, true, 0x10, 0, false);
			s->unacked = 0;
			break;
		}
		s->unacked++;
		if (send_hs(s, false)) {
			queue(s, fill_cf);
			s->ph = P_CFIN;
			s->unacked = 0;
		}
		break;
	case P_CFIN:
		if (send_hs(s, true)) {
			if (s->tls13) {
				s->ph = P_BULK;
			} else {
				queue(s, fill_sfin);
				s->ph = P_SFIN;
			}
		}
		break;
	case P_SFIN:
		if (send_hs(s, false))
			s->ph = P_BULK;
		break;
	case P_BULK:
		if (s->hs.n) { /* a request from the client is on its way */
			send_hs(s, true);
			break;
		}
		if (s->unacked >= 2 || (s->bulk_left + s->rec_left == 0 && s->unacked)) {
			tcp_packet(s, true, 0x10, 0, false);
			s->unacked = 0;
			break;
		}
		if (s->bulk_left + s->rec_left == 0) {
			s->ph = P_FIN1;
			return sess_step(s);
		}
		if (s->requests && rnd_below(64) == 0) {
			s->requests--;
			queue(s, fill_req);
			send_hs(s, true);
			break;
		}
		send_bulk(s);
		s->unacked++;
		break;
	case P_FIN1: tcp_packet(s, true, 0x11, 0, false); s->ph = P_FIN2; break;
	case P_FIN2: tcp_packet(s, false, 0x11, 0, false); s->ph = P_FIN3; break;
	case P_FIN3: tcp_packet(s, true, 0x10, 0, false); s->ph = P_DONE; return false;
	case P_DONE: return false;
	}
	return true;
}

/* ---- DNS ---- */

struct dns_pending {
	struct path pa;
	uint16_t id, cport;
	uint32_t name;
	uint8_t kind; /* 0 A, 1 AAAA, 2 CNAME+A, 3 NXDOMAIN */
};

static struct dns_pending dpend[DNS_PENDING];
static unsigned dp_head, dp_n;
static uint32_t dns_counter;

/*
 * Which name a query asks for. A link's DNS asks for the same names again
 * and again, the popular ones most (Zipf, s = 1, over mix.dns_names names:
 * the top one is about a tenth of the queries with 10 000 names), so a
 * sensor's name state stops growing with the capture once the population
 * has been seen. --dns-names 0 gives every query a name of its own, the
 * worst case for that state.
 */
static double *zipf_cdf;

static uint32_t dns_pick_name(void)
{
	if (!mix.dns_names)
		return dns_counter;
	double u = rnd_unit();
	uint32_t lo = 0, hi = mix.dns_names - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int zipf_init(void)
{
	if (!mix.dns_names)
		return 0;
	zipf_cdf = malloc(mix.dns_names * sizeof(*zipf_cdf));
	if (!zipf_cdf)
		return -1;
	double h = 0;
	for (uint32_t i = 0; i < mix.dns_names; i++)
		h += 1.0 / (i + 1);
	double c = 0;
	for (uint32_t i = 0; i < mix.dns_names; i++) {
		c += 1.0 / (i + 1) / h;
		zipf_cdf[i] = c;
	}
	zipf_cdf[mix.dns_names - 1] = 1.0;
	return 0;
}

static size_t put_name(uint8_t *p, const char *name)
{
	size_t n = 0;
	const char *s = name;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		p[n++] = (uint8_t)l;
		memcpy(p + n, s, l);
		n += l;
		s += l;
		if (*s == '.')
			s++;
	}
	p[n++] = 0;
	return n;
}

static void dns_qname(uint32_t k, char *out, size_t cap)
{
	static const char *const words[] = { "www", "api", "cdn", "img", "mail", "login", "static", "edge" };
	static const char *const tlds[] = { "com", "net", "org", "io", "example" };
	snprintf(out, cap, "%s%u.site%u.%s", words[k % 8], k % 97, k / 8 % 5003, tlds[k / 7 % 5]);
}

static const char *const qtype_name[] = { "A", "AAAA", "A", "A" };

static void dns_packet(const struct dns_pending *q, bool response)
{
	uint8_t msg[512];
	char qname[128], owner_name[160];
	dns_qname(q->name, qname, sizeof(qname));
	size_t n = 12;
	wr16(msg, q->id);
	uint16_t qtype = q->kind == 1 ? 28 : 1;
	uint16_t rcode = response && q->kind == 3 ? 3 : 0;
	wr16(msg + 2, (uint16_t)(response ? 0x8180 | rcode : 0x0100));
	wr16(msg + 4, 1);
	wr16(msg + 6, 0);
	wr16(msg + 8, 0);
	wr16(msg + 10, 0);
	n += put_name(msg + n, qname);
	wr16(msg + n, qtype);
	wr16(msg + n + 2, 1);
	n += 4;
	if (response) {
		uint16_t an = 0;
		uint16_t owner_ptr = 0xc00c;
		if (q->kind == 2) {
			char target[160];
			snprintf(target, sizeof(target), "e%u.cdn.example.net", q->name % 4099);
			wr16(msg + n, owner_ptr);
			wr16(msg + n + 2, 5);
			wr16(msg + n + 4, 1);
			wr32(msg + n + 6, 300);
			size_t tl = put_name(msg + n + 12, target);
			wr16(msg + n + 10, (uint16_t)tl);
			owner_ptr = (uint16_t)(0xc000 | (n + 12));
			n += 12 + tl;
			an++;
			fprintf(truth_fp, "dns\t%s\tA\tNOERROR\t%s\tCNAME\t%s\n", qname, qname, target);
			truth_dns++;
			snprintf(owner_name, sizeof(owner_name), "%s", target); /* the owner of what follows */
		}
		if (q->kind != 3) {
			unsigned count = 1 + q->name % 3;
			const char *owner = q->kind == 2 ? owner_name : qname;
			for (unsigned i = 0; i < count; i++) {
				bool aaaa = q->kind == 1;
				wr16(msg + n, owner_ptr);
				wr16(msg + n + 2, aaaa ? 28 : 1);
				wr16(msg + n + 4, 1);
				wr32(msg + n + 6, 60 + q->name % 3600);
				wr16(msg + n + 10, aaaa ? 16 : 4);
				uint8_t a[16] = { 0 };
				if (aaaa) {
					a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
					wr32(a + 8, q->name);
					a[15] = (uint8_t)(i + 1);
				} else {
					a[0] = 203, a[1] = 0;
					a[2] = (uint8_t)(q->name >> 8);
					a[3] = (uint8_t)(q->name + i);
				}
				memcpy(msg + n + 12, a, aaaa ? 16 : 4);
				n += 12 + (aaaa ? 16 : 4);
				an++;
				char t[64];
				inet_ntop(aaaa ? AF_INET6 : AF_INET, a, t, sizeof(t));
				fprintf(truth_fp, "dns\t%s\t%s\tNOERROR\t%s\t%s\t%s\n", qname, qtype_name[q->kind], owner,
					aaaa ? "AAAA" : "A", t);
				truth_dns++;
			}
		} else {
			/* SOA in authority, as a resolver sends */
			static const uint8_t soa_rdata_tail[20] = { 0, 0, 0, 1, 0, 0, 0x1c, 0x20, 0, 0, 0x0e, 0x10,
								    0, 0x12, 0x75, 0, 0, 0, 0x01, 0x2c };
			wr16(msg + n, 0xc000 | 12);
			wr16(msg + n + 2, 6);
			wr16(msg + n + 4, 1);
			wr32(msg + n + 6, 300);
			size_t r = n + 12;
			r += put_name(msg + r, "ns1.example.com");
			r += put_name(msg + r, "hostmaster.example.com");
			memcpy(msg + r, soa_rdata_tail, 20);
			r += 20;
			wr16(msg + n + 10, (uint16_t)(r - n - 12));
			n = r;
			wr16(msg + 8, 1);
			fprintf(truth_fp, "dns\t%s\tA\tNXDOMAIN\t-\t-\t-\n", qname);
			truth_nx++;
		}
		wr16(msg + 6, an);
	}
	size_t flen = l2l3_len(&q->pa) + 8 + n;
	uint8_t *f = frame_begin(flen);
	uint8_t *u = l2l3(f, &q->pa, !response, 17, 8 + n);
	wr16(u, response ? 53 : q->cport);
	wr16(u + 2, response ? q->cport : 53);
	wr16(u + 4, (uint16_t)(8 + n));
	u[6] = u[7] = 0;
	memcpy(u + 8, msg, n);
	n_dns_packets++;
}

static void dns_step(bool drain)
{
	/* A query opens an exchange; its response follows a few packets later. */
	if (dp_n && (drain || dp_n == DNS_PENDING || rnd_below(2))) {
		struct dns_pending *q = &dpend[dp_head];
		dns_packet(q, true);
		dp_head = (dp_head + 1) % DNS_PENDING;
		dp_n--;
		return;
	}
	struct dns_pending *q = &dpend[(dp_head + dp_n) % DNS_PENDING];
	memset(q, 0, sizeof(*q));
	bool v6 = rnd_unit() < mix.ipv6_share;
	client_addr(&q->pa.c, v6, 0x100 + rnd_below(60000));
	struct endpoint *r = &q->pa.s;
	memset(r, 0, sizeof(*r));
	r->v6 = v6;
	if (v6) {
		static const uint8_t res6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x53, [15] = 0x53 };
		memcpy(r->a, res6, 16);
	} else {
		static const uint8_t res4[4] = { 192, 0, 2, 53 };
		memcpy(r->a, res4, 4);
	}
	q->pa.vlan = rnd_unit() < mix.vlan_share ? 100 : -1;
	static const uint8_t cm[6] = { 0x02, 0, 0, 0, 0, 1 }, sm[6] = { 0x02, 0, 0, 0, 0, 3 };
	memcpy(q->pa.cmac, cm, 6);
	memcpy(q->pa.smac, sm, 6);
	q->id = (uint16_t)rnd();
	q->cport = (uint16_t)(20000 + dns_counter % 40000);
	q->name = dns_pick_name();
	dns_counter++;
	double u = rnd_unit();
	q->kind = u < mix.nxdomain_share ? 3 : u < mix.nxdomain_share + mix.cname_share ? 2
					 : u < mix.nxdomain_share + mix.cname_share + mix.aaaa_share ? 1 : 0;
	dns_packet(q, false);
	dp_n++;
}

/* ---- main ---- */

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: pcapgen-bench -o FILE [options]\n"
		"Writes a realistic mirrored-link capture and FILE.truth.tsv (every DNS answer,\n"
		"every TLS server/port/SNI/leaf certificate SHA-256).\n"
		"  -o, --output FILE       capture to write (FILE.truth.tsv next to it)\n"
		"  -s, --size-mb N         approximate size in MiB (default: $BENCH_SIZE_MB or 1024)\n"
		"      --seed N            random seed (default 1)\n"
		"      --pcapng            write pcapng instead of classic pcap (microseconds)\n"
		"      --dns-share F       DNS share of packets (default 0.035)\n"
		"      --ipv6-share F      IPv6 share of flows (default 0.25)\n"
		"      --vlan-share F      802.1Q-tagged share of flows (default 0.3)\n"
		"      --tls13-share F     TLS 1.3 (post-quantum ClientHello) share of sessions (default 0.5)\n"
		"      --nxdomain-share F  NXDOMAIN share of DNS responses (default 0.15)\n"
		"      --cname-share F     CNAME-chain share of DNS responses (default 0.25)\n"
		"      --aaaa-share F      AAAA share of DNS responses (default 0.2)\n"
		"      --bulk-kb MIN:MAX   encrypted bytes per TLS session in KiB (default 128:1536)\n"
		"      --concurrent N      TCP sessions open at once (default 256)\n"
		"      --servers N         distinct TLS servers (default 512)\n"
		"      --dns-names N       names queried, Zipf-distributed (default 10000; 0: every query a new name)\n");
}

static double parse_share(const char *s)
{
	char *e;
	double v = strtod(s, &e);
	if (*e || v < 0 || v > 1) {
		fprintf(stderr, "pcapgen-bench: bad share '%s' (0..1)\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' }, { "size-mb", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 1 },     { "pcapng", no_argument, NULL, 2 },
		{ "dns-share", required_argument, NULL, 3 }, { "ipv6-share", required_argument, NULL, 4 },
		{ "vlan-share", required_argument, NULL, 5 }, { "tls13-share", required_argument, NULL, 6 },
		{ "nxdomain-share", required_argument, NULL, 7 }, { "cname-share", required_argument, NULL, 8 },
		{ "aaaa-share", required_argument, NULL, 9 }, { "bulk-kb", required_argument, NULL, 10 },
		{ "concurrent", required_argument, NULL, 11 }, { "servers", required_argument, NULL, 12 },
		{ "dns-names", required_argument, NULL, 13 },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	const char *env = getenv("BENCH_SIZE_MB");
	uint64_t size_mb = env && *env ? strtoull(env, NULL, 10) : 1024;
	uint64_t seed = 1;
	mix = (struct mix){
		.dns_pkt_share = 0.035, .ipv6_share = 0.25, .vlan_share = 0.3, .tls13_share = 0.5,
		.nxdomain_share = 0.15, .cname_share = 0.25, .aaaa_share = 0.2,
		.bulk_min = 128 * 1024, .bulk_max = 1536 * 1024, .concurrent = 256, .servers = 512,
		.dns_names = 10000,
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': path = optarg; break;
		case 's': size_mb = strtoull(optarg, NULL, 10); break;
		case 1: seed = strtoull(optarg, NULL, 10); break;
		case 2: pcapng = true; break;
		case 3: mix.dns_pkt_share = parse_share(optarg); break;
		case 4: mix.ipv6_share = parse_share(optarg); break;
		case 5: mix.vlan_share = parse_share(optarg); break;
		case 6: mix.tls13_share = parse_share(optarg); break;
		case 7: mix.nxdomain_share = parse_share(optarg); break;
		case 8: mix.cname_share = parse_share(optarg); break;
		case 9: mix.aaaa_share = parse_share(optarg); break;
		case 10: {
			unsigned long a, b;
			if (sscanf(optarg, "%lu:%lu", &a, &b) != 2 || a < 1 || b < a) {
				fprintf(stderr, "pcapgen-bench: bad --bulk-kb '%s'\n", optarg);
				return 2;
			}
			mix.bulk_min = (uint64_t)a * 1024;
			mix.bulk_max = (uint64_t)b * 1024;
			break;
		}
		case 11: mix.concurrent = (unsigned)strtoul(optarg, NULL, 10); break;
		case 12: mix.servers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 13: mix.dns_names = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || size_mb == 0 || mix.concurrent < 1 || mix.concurrent > MAX_SESS || mix.servers < 1 ||
	    mix.servers > MAX_SERVERS || mix.nxdomain_share + mix.cname_share + mix.aaaa_share > 1) {
		usage(stderr);
		return 2;
	}
	rng_seed(seed);
	pool = malloc(POOL_BYTES);
	obuf = malloc(OUTBUF);
	sess = calloc(mix.concurrent, sizeof(*sess));
	servers = calloc(mix.servers, sizeof(*servers));
	if (!pool || !obuf || !sess || !servers || zipf_init() != 0) {
		fprintf(stderr, "pcapgen-bench: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < POOL_BYTES; i += 8) {
		uint64_t r = rnd();
		memcpy(pool + i, &r, 8);
	}
	const size_t nchains = sizeof(bench_chains) / sizeof(bench_chains[0]);
	for (unsigned i = 0; i < mix.servers; i++) {
		server_addr(&servers[i].v4, false, i);
		server_addr(&servers[i].v6, true, i);
		servers[i].chain = i % (unsigned)nchains;
		if (i < nchains)
			snprintf(servers[i].sni, sizeof(servers[i].sni), "%s", bench_chains[i].sni);
		else
			snprintf(servers[i].sni, sizeof(servers[i].sni), "s%u.%s", i, bench_chains[i % nchains].sni);
	}
	out_fp = fopen(path, "wb");
	char tpath[4096];
	snprintf(tpath, sizeof(tpath), "%s.truth.tsv", path);
	truth_fp = fopen(tpath, "w");
	if (!out_fp || !truth_fp) {
		fprintf(stderr, "pcapgen-bench: cannot write %s: %s\n", out_fp ? tpath : path, strerror(errno));
		return 1;
	}
	setvbuf(truth_fp, NULL, _IOFBF, 1 << 20);
	fprintf(truth_fp, "# pcapgen-bench seed=%llu size_mb=%llu dns_share=%g ipv6_share=%g vlan_share=%g "
			  "tls13_share=%g\n",
		(unsigned long long)seed, (unsigned long long)size_mb, mix.dns_pkt_share, mix.ipv6_share,
		mix.vlan_share, mix.tls13_share);
	file_header();

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t target = size_mb << 20;
	uint32_t next_id = 0;
	for (unsigned i = 0; i < mix.concurrent; i++)
		sess_start(&sess[i], next_id++);
	/* Closing phase: when the target size is reached, sessions run to their end. */
	bool closing = false;
	unsigned open = mix.concurrent;
	while (open) {
		if (!closing && n_bytes >= target) {
			/* wind down: what is open finishes with a last record or so */
			closing = true;
			for (unsigned i = 0; i < mix.concurrent; i++)
				if (sess[i].bulk_left > 16406)
					sess[i].bulk_left = 16406;
		}
		/* DNS share of packets, wherever the TCP sessions are */
		if (rnd_unit() < mix.dns_pkt_share) {
			dns_step(false);
			continue;
		}
		unsigned i = rnd_below(mix.concurrent);
		if (sess[i].ph == P_DONE)
			continue;
		if (!sess_step(&sess[i])) {
			if (closing) {
				open--;
				continue;
			}
			sess_start(&sess[i], next_id++); /* a new session in this slot */
		}
	}
	while (dp_n)
		dns_step(true); /* every query gets its answer */
	out_flush();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (fclose(out_fp) != 0 || fclose(truth_fp) != 0) {
		fprintf(stderr, "pcapgen-bench: write failed: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr,
		"pcapgen-bench: %s: %llu packets, %.1f MiB in %.2f s (%.0f MB/s); DNS %.2f %% of packets; bulk %.1f %% "
		"of bytes (frames of encrypted bulk records); truth: %llu DNS answers, %llu NXDOMAIN, %llu TLS sessions (%llu certificates)\n",
		path, (unsigned long long)n_packets, (double)n_bytes / 1048576.0, secs, (double)n_bytes / 1e6 / secs,
		100.0 * (double)n_dns_packets / (double)n_packets, 100.0 * (double)n_bulk_bytes / (double)n_bytes,
		(unsigned long long)truth_dns, (unsigned long long)truth_nx, (unsigned long long)truth_tls,
		(unsigned long long)truth_certs);
	free(pool);
	free(obuf);
	free(sess);
	free(servers);
	return 0;
}
