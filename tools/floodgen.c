/* SPDX-License-Identifier: MIT */
/*
 * floodgen.c: writes the hostile captures of the flood suite (tests/floods/)
 * as classic pcap, fast and deterministic from a seed, each with a few
 * normal DNS answers and TLS handshakes mixed in at known positions and a
 * truth file listing those normal events, so a run under a memory cap can
 * be checked both for its peak memory and for not losing real traffic.
 *
 * Kinds (-k):
 *   dns     random-subdomain flood: N responses for N distinct names under
 *           one zone, 3 of 4 NXDOMAIN, 1 of 4 an A answer (a wildcard)
 *   tcp     N half-open TCP flows: a SYN, then the first 200 bytes of a TLS
 *           ClientHello whose record says more is coming; nothing else
 *   frag    N first IPv4 fragments (1000 bytes each) of UDP datagrams whose
 *           other fragments never come
 *   certs   N TLS handshakes from distinct servers, alternately a leaf with
 *           -S SANs (default 2500) and a -D deep chain (default 100); every
 *           leaf is distinct (a patched serial), so no cache helps
 *   alerts  N DNS answers, each for a distinct name under storm.example
 *           resolving outside 192.0.2.0/24: with the policy written next to
 *           the capture (FILE.policy.yaml) every packet is an alert
 *
 * It is a tool, not part of the sensor, like tools/pcapgen-bench.c (whose
 * embedded chain it reuses for the normal handshakes): it builds packets
 * byte by byte through a 4 MiB output buffer, and uses OpenSSL only to make
 * the flood certificates once at start.
 *
 * Truth file (FILE.truth.tsv), one row per normal event:
 *   dns  NAME  A  ADDRESS
 *   tls  SERVER  PORT  SNI  LEAF_SHA256
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bench_certs.h"

#define OUTBUF (4u << 20)
#define NORMAL_EVENTS 32 /* 16 DNS answers and 16 TLS handshakes, evenly spread */
#define MSS 1448

/* ---- deterministic random (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- output ---- */

static FILE *out_fp;
static uint8_t *obuf;
static size_t olen;
static uint64_t ts_us = 1704164645000000ULL; /* 2024-01-02T03:04:05Z */
static uint64_t n_packets;

static void out_flush(void)
{
	if (olen && fwrite(obuf, 1, olen, out_fp) != olen) {
		fprintf(stderr, "floodgen: write failed: %s\n", strerror(errno));
		exit(1);
	}
	olen = 0;
}

static void put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)(v >> 16)), wr16(p + 2, (uint16_t)v); }

static void file_header(void)
{
	uint8_t *h = obuf;
	put32le(h, 0xa1b2c3d4);
	h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;
	memset(h + 8, 0, 8);
	put32le(h + 16, 262144);
	put32le(h + 20, 1); /* Ethernet */
	olen = 24;
}

/* Room for a frame of len bytes; the record header is written, the frame is the caller's. */
static uint8_t *frame_begin(size_t len)
{
	if (olen + 16 + len > OUTBUF)
		out_flush();
	uint8_t *r = obuf + olen;
	olen += 16 + len;
	ts_us += 2; /* 500 k packets a second of capture time */
	n_packets++;
	put32le(r, (uint32_t)(ts_us / 1000000));
	put32le(r + 4, (uint32_t)(ts_us % 1000000));
	put32le(r + 8, (uint32_t)len);
	put32le(r + 12, (uint32_t)len);
	return r + 16;
}

/* ---- headers ---- */

static uint16_t ip_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 header at f; returns where the L4 header goes. */
static uint8_t *eth_ip(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, size_t l4_len, uint16_t id,
		       uint16_t frag)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2 };
	memcpy(f, macs, 12);
	wr16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	ip[0] = 0x45, ip[1] = 0;
	wr16(ip + 2, (uint16_t)(20 + l4_len));
	wr16(ip + 4, id);
	wr16(ip + 6, frag);
	ip[8] = 64, ip[9] = proto;
	wr16(ip + 10, 0);
	wr32(ip + 12, src);
	wr32(ip + 16, dst);
	wr16(ip + 10, ip_csum(ip, 20));
	return ip + 20;
}

static void udp_packet(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, const uint8_t *pl, size_t n)
{
	uint8_t *f = frame_begin(14 + 20 + 8 + n);
	uint8_t *u = eth_ip(f, src, dst, 17, 8 + n, (uint16_t)rnd(), 0x4000);
	wr16(u, sport);
	wr16(u + 2, dport);
	wr16(u + 4, (uint16_t)(8 + n));
	wr16(u + 6, 0);
	memcpy(u + 8, pl, n);
}

enum { TH_FIN = 1, TH_SYN = 2, TH_RST = 4, TH_PSH = 8, TH_ACK = 16 };

static void tcp_packet(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq, uint32_t ack,
		       uint8_t flags, const uint8_t *pl, size_t n)
{
	uint8_t *f = frame_begin(14 + 20 + 20 + n);
	uint8_t *t = eth_ip(f, src, dst, 6, 20 + n, (uint16_t)rnd(), 0x4000);
	wr16(t, sport);
	wr16(t + 2, dport);
	wr32(t + 4, seq);
	wr32(t + 8, ack);
	t[12] = 5 << 4, t[13] = flags;
	wr16(t + 14, 65535);
	wr16(t + 16, 0);
	wr16(t + 18, 0);
	if (n)
		memcpy(t + 20, pl, n);
}

/* ---- DNS ---- */

/* A response for name (dotted text), NXDOMAIN or one A record. Returns its length. */
static size_t dns_response(uint8_t *m, uint16_t id, const char *name, bool nx, uint32_t addr)
{
	wr16(m, id);
	wr16(m + 2, nx ? 0x8183 : 0x8180);
	wr16(m + 4, 1);
	wr16(m + 6, nx ? 0 : 1);
	wr16(m + 8, 0);
	wr16(m + 10, 0);
	size_t o = 12;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		m[o++] = (uint8_t)l;
		memcpy(m + o, p, l);
		o += l;
		p += l + (dot ? 1 : 0);
	}
	m[o++] = 0;
	wr16(m + o, 1), wr16(m + o + 2, 1);
	o += 4;
	if (!nx) {
		wr16(m + o, 0xc00c), wr16(m + o + 2, 1), wr16(m + o + 4, 1);
		wr32(m + o + 6, 300);
		wr16(m + o + 10, 4);
		wr32(m + o + 12, addr);
		o += 16;
	}
	return o;
}

#define RESOLVER 0x0a000035u /* 10.0.0.53 */

static void dns_answer(const char *name, bool nx, uint32_t addr, uint32_t client)
{
	uint8_t m[600];
	size_t n = dns_response(m, (uint16_t)rnd(), name, nx, addr);
	udp_packet(RESOLVER, 53, client, (uint16_t)(1024 + rnd() % 60000), m, n);
}

/* ---- TLS ---- */

static size_t client_hello(uint8_t *b, const char *sni, uint16_t record_len_override)
{
	size_t sl = strlen(sni);
	uint8_t *r = b;
	r[0] = 22, r[1] = 3, r[2] = 1;
	uint8_t *hs = r + 5;
	hs[0] = 1;
	uint8_t *ch = hs + 4;
	size_t o = 0;
	ch[o++] = 3, ch[o++] = 3;
	for (int i = 0; i < 32; i++)
		ch[o++] = (uint8_t)rnd();
	ch[o++] = 0;           /* session id */
	wr16(ch + o, 4), o += 2; /* ciphers */
	wr16(ch + o, 0xc02f), wr16(ch + o + 2, 0x009c), o += 4;
	ch[o++] = 1, ch[o++] = 0; /* compression */
	size_t ext_len_at = o;
	o += 2;
	wr16(ch + o, 0), wr16(ch + o + 2, (uint16_t)(sl + 5)), o += 4; /* server_name */
	wr16(ch + o, (uint16_t)(sl + 3)), ch[o + 2] = 0, wr16(ch + o + 3, (uint16_t)sl), o += 5;
	memcpy(ch + o, sni, sl), o += sl;
	wr16(ch + ext_len_at, (uint16_t)(o - ext_len_at - 2));
	hs[1] = 0, wr16(hs + 2, (uint16_t)o);
	size_t hlen = 4 + o;
	wr16(r + 3, record_len_override ? record_len_override : (uint16_t)hlen);
	return 5 + hlen;
}

/* ServerHello + Certificate (chain) + ServerHelloDone, in records of up to 16 KiB. */
static size_t server_flight(uint8_t *b, size_t cap, const uint8_t *const *der, const size_t *len, unsigned n)
{
	static uint8_t hs[1u << 20];
	size_t o = 0;
	hs[o] = 2, hs[o + 1] = 0, wr16(hs + o + 2, 38 + 0);
	o += 4;
	hs[o++] = 3, hs[o++] = 3;
	for (int i = 0; i < 32; i++)
		hs[o++] = (uint8_t)rnd();
	hs[o++] = 0;
	wr16(hs + o, 0xc02f), o += 2;
	hs[o++] = 0;
	size_t total = 0;
	for (unsigned i = 0; i < n; i++)
		total += 3 + len[i];
	hs[o] = 11;
	hs[o + 1] = (uint8_t)((total + 3) >> 16), wr16(hs + o + 2, (uint16_t)(total + 3));
	o += 4;
	hs[o] = (uint8_t)(total >> 16), wr16(hs + o + 1, (uint16_t)total);
	o += 3;
	for (unsigned i = 0; i < n; i++) {
		hs[o] = (uint8_t)(len[i] >> 16), wr16(hs + o + 1, (uint16_t)len[i]);
		memcpy(hs + o + 3, der[i], len[i]);
		o += 3 + len[i];
	}
	hs[o] = 14, hs[o + 1] = 0, hs[o + 2] = 0, hs[o + 3] = 0;
	o += 4;
	size_t w = 0;
	for (size_t p = 0; p < o && w + 5 + 16384 <= cap; p += 16384) {
		size_t l = o - p < 16384 ? o - p : 16384;
		b[w] = 22, b[w + 1] = 3, b[w + 2] = 3, wr16(b + w + 3, (uint16_t)l);
		memcpy(b + w + 5, hs + p, l);
		w += 5 + l;
	}
	return w;
}

/* A whole TLS 1.2 handshake on a fresh connection, closed with FINs. */
static void tls_session(uint32_t client, uint16_t cport, uint32_t server, const char *sni,
			const uint8_t *const *der, const size_t *len, unsigned n)
{
	static uint8_t flight[1u << 21];
	uint8_t ch[600];
	uint32_t cs = (uint32_t)rnd(), ss = (uint32_t)rnd();
	tcp_packet(client, cport, server, 443, cs, 0, TH_SYN, NULL, 0);
	tcp_packet(server, 443, client, cport, ss, cs + 1, TH_SYN | TH_ACK, NULL, 0);
	tcp_packet(client, cport, server, 443, cs + 1, ss + 1, TH_ACK, NULL, 0);
	size_t chl = client_hello(ch, sni, 0);
	tcp_packet(client, cport, server, 443, cs + 1, ss + 1, TH_ACK | TH_PSH, ch, chl);
	size_t fl = server_flight(flight, sizeof(flight), der, len, n);
	uint32_t sq = ss + 1;
	for (size_t p = 0; p < fl; p += MSS) {
		size_t l = fl - p < MSS ? fl - p : MSS;
		tcp_packet(server, 443, client, cport, sq, cs + 1 + (uint32_t)chl, TH_ACK, flight + p, l);
		sq += (uint32_t)l;
	}
	tcp_packet(client, cport, server, 443, cs + 1 + (uint32_t)chl, sq, TH_ACK | TH_FIN, NULL, 0);
	tcp_packet(server, 443, client, cport, sq, cs + 2 + (uint32_t)chl, TH_ACK | TH_FIN, NULL, 0);
	tcp_packet(client, cport, server, 443, cs + 2 + (uint32_t)chl, sq + 1, TH_ACK, NULL, 0);
}

/* ---- normal traffic ---- */

static FILE *truth_fp;
static unsigned normal_done;

static void ip_text(uint32_t a, char *out) { snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255); }

static void normal_event(void)
{
	unsigned k = normal_done++;
	char ip[16];
	if (k % 2 == 0) {
		char name[64];
		uint32_t addr = 0xc6336400u + (k / 2 + 1); /* 198.51.100.N */
		snprintf(name, sizeof(name), "normal%u.floodcheck.example", k / 2);
		dns_answer(name, false, addr, 0x0a0a0a0a);
		ip_text(addr, ip);
		fprintf(truth_fp, "dns\t%s\tA\t%s\n", name, ip);
	} else {
		const struct bench_chain *c = &bench_chains[0];
		uint32_t server = 0xc0000200u + (k / 2 + 1); /* 192.0.2.N */
		tls_session(0x0a0a0a0b, (uint16_t)(40000 + k), server, c->sni, c->der, c->len, c->n);
		ip_text(server, ip);
		fprintf(truth_fp, "tls\t%s\t443\t%s\t%s\n", ip, c->sni, c->leaf_sha256);
	}
}

/* ---- flood certificates (made once with OpenSSL) ---- */

struct der {
	uint8_t *p;
	size_t n;
	size_t serial_at; /* offset of the serial's last 8 bytes, patched per handshake */
};

static EVP_PKEY *make_key(void)
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	if (!c || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1) <= 0 ||
	    EVP_PKEY_keygen(c, &k) <= 0) {
		fprintf(stderr, "floodgen: key generation failed\n");
		exit(1);
	}
	EVP_PKEY_CTX_free(c);
	return k;
}

/* A certificate for cn signed by issuer_key (issuer_cn), with n_sans DNS SANs. */
static struct der make_cert(const char *cn, const char *issuer_cn, EVP_PKEY *key, EVP_PKEY *issuer_key,
			    unsigned n_sans, bool ca)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	/* A fixed 8-byte serial marker we can find and patch in the DER. */
	static const uint8_t marker[8] = { 0x5a, 0xf1, 0x00, 0xd5, 0xee, 0xd5, 0x11, 0x22 };
	BIGNUM *bn = BN_bin2bn(marker, 8, NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	ASN1_TIME_set(X509_getm_notBefore(x), 1672531200);  /* 2023-01-01 */
	ASN1_TIME_set(X509_getm_notAfter(x), 1830297600);   /* 2028-01-01 */
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME *in = X509_NAME_new();
	X509_NAME_add_entry_by_txt(in, "CN", MBSTRING_ASC, (const unsigned char *)issuer_cn, -1, -1, 0);
	X509_set_issuer_name(x, in);
	X509_NAME_free(in);
	X509_set_pubkey(x, key);
	if (ca) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (n_sans) {
		GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
		char buf[64];
		for (unsigned i = 0; i < n_sans; i++) {
			snprintf(buf, sizeof(buf), "s%u.sanflood.example", i);
			GENERAL_NAME *g = GENERAL_NAME_new();
			ASN1_IA5STRING *s = ASN1_IA5STRING_new();
			ASN1_STRING_set(s, buf, -1);
			GENERAL_NAME_set0_value(g, GEN_DNS, s);
			sk_GENERAL_NAME_push(gens, g);
		}
		X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
		sk_GENERAL_NAME_pop_free(gens, GENERAL_NAME_free);
	}
	X509_sign(x, issuer_key, EVP_sha256());
	struct der d = { 0 };
	int n = i2d_X509(x, NULL);
	d.p = malloc((size_t)n);
	uint8_t *w = d.p;
	i2d_X509(x, &w);
	d.n = (size_t)n;
	X509_free(x);
	for (size_t i = 0; i + 8 <= d.n; i++)
		if (memcmp(d.p + i, marker, 8) == 0) {
			d.serial_at = i;
			break;
		}
	return d;
}

/* ---- main ---- */

static void usage(FILE *fp)
{
	fprintf(fp, "usage: floodgen -k dns|tcp|frag|certs|alerts -o FILE.pcap [-n N] [-s SEED] [-S SANS] [-D DEPTH]\n"
		    "  -n N      flood units (names, flows, fragments, handshakes, alerts); default 100000\n"
		    "  -S SANS   certs: DNS SANs in the big leaf (default 2500)\n"
		    "  -D DEPTH  certs: length of the deep chain (default 100)\n"
		    "  writes FILE.pcap, FILE.truth.tsv (the normal events) and, for alerts, FILE.policy.yaml\n");
}

int main(int argc, char **argv)
{
	const char *kind = NULL, *path = NULL;
	uint64_t n = 100000, seed = 1;
	unsigned sans = 2500, depth = 100;
	int c;
	while ((c = getopt(argc, argv, "k:o:n:s:S:D:h")) != -1) {
		switch (c) {
		case 'k': kind = optarg; break;
		case 'o': path = optarg; break;
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'S': sans = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'D': depth = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!kind || !path || n == 0 || depth < 2 || depth > 1000 || sans > 100000) {
		usage(stderr);
		return 2;
	}
	rng_state = seed * 0x2545F4914F6CDD1DULL + 1;
	out_fp = fopen(path, "wb");
	char tpath[4096];
	snprintf(tpath, sizeof(tpath), "%.*s.truth.tsv",
		 (int)(strlen(path) > 5 && strcmp(path + strlen(path) - 5, ".pcap") == 0 ? strlen(path) - 5 : strlen(path)),
		 path);
	truth_fp = fopen(tpath, "w");
	obuf = malloc(OUTBUF);
	if (!out_fp || !truth_fp || !obuf) {
		fprintf(stderr, "floodgen: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	file_header();

	/* certs: the flood's certificates, made once. */
	struct der big = { 0 }, *chain = NULL;
	if (strcmp(kind, "certs") == 0) {
		EVP_PKEY *k = make_key();
		big = make_cert("big.sanflood.example", "Flood CA 0", k, k, sans, false);
		chain = calloc(depth, sizeof(*chain));
		char cn[64], icn[64];
		for (unsigned i = 0; i < depth; i++) {
			snprintf(cn, sizeof(cn), i ? "Flood CA %u" : "deep.sanflood.example", i);
			snprintf(icn, sizeof(icn), "Flood CA %u", i + 1);
			chain[i] = make_cert(cn, icn, k, k, i ? 0 : 1, i != 0);
		}
		EVP_PKEY_free(k);
	} else if (strcmp(kind, "alerts") == 0) {
		char ppath[4096];
		snprintf(ppath, sizeof(ppath), "%.*s.policy.yaml", (int)(strlen(tpath) - 10), tpath);
		FILE *pf = fopen(ppath, "w");
		if (!pf) {
			fprintf(stderr, "floodgen: cannot write %s\n", ppath);
			return 1;
		}
		fprintf(pf, "# written by tools/floodgen -k alerts: every answer for storm.example is an alert\n"
			    "owned:\n  domains: [storm.example]\n  networks: [192.0.2.0/24]\n");
		fclose(pf);
	} else if (strcmp(kind, "dns") && strcmp(kind, "tcp") && strcmp(kind, "frag")) {
		usage(stderr);
		return 2;
	}

	uint64_t every = n / NORMAL_EVENTS ? n / NORMAL_EVENTS : 1;
	char name[128];
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t buf[2048];
	for (uint64_t i = 0; i < n; i++) {
		if (i % every == every / 2 && normal_done < NORMAL_EVENTS)
			normal_event();
		uint64_t r = rnd();
		uint32_t client = 0x0a000000u | (uint32_t)((i % 0xfffffe) + 1); /* 10.x.y.z */
		if (kind[0] == 'd') {
			char lab[13];
			for (int k = 0; k < 12; k++)
				lab[k] = alnum[(r >> (k * 5)) % 36];
			lab[12] = 0;
			snprintf(name, sizeof(name), "%s%llx.victim.example", lab, (unsigned long long)i);
			dns_answer(name, (i & 3) != 0, 0xc6120000u | (uint32_t)(r >> 48), client);
		} else if (kind[0] == 't') {
			uint16_t cport = (uint16_t)(1024 + (i / 0xfffffe) % 60000);
			uint32_t server = 0xcb007100u | (uint32_t)(i & 0x3f); /* 203.0.113.0/26 */
			uint32_t seq = (uint32_t)r;
			tcp_packet(client, cport, server, 443, seq, 0, TH_SYN, NULL, 0);
			size_t chl = client_hello(buf, "halfopen.flood.example", 512);
			size_t part = chl < 200 ? chl : 200;
			tcp_packet(client, cport, server, 443, seq + 1, 1, TH_ACK | TH_PSH, buf, part);
		} else if (kind[0] == 'f') {
			/* A first fragment: MF set, offset 0, 1000 bytes of a UDP datagram to port 53. */
			uint8_t *f = frame_begin(14 + 20 + 1000);
			uint8_t *u = eth_ip(f, client, RESOLVER, 17, 1000, (uint16_t)(r >> 16), 0x2000);
			wr16(u, 53), wr16(u + 2, 5353), wr16(u + 4, 3000), wr16(u + 6, 0);
			memset(u + 8, (int)(r & 0xff), 992);
		} else if (kind[0] == 'c') {
			uint32_t server = 0x64400000u | (uint32_t)(i & 0x3fffff); /* 100.64.0.0/10 */
			struct der *d = (i & 1) ? &chain[0] : &big;
			uint64_t serial = seed << 40 ^ i;
			for (int k = 0; k < 8; k++)
				d->p[d->serial_at + (size_t)k] = (uint8_t)(serial >> (56 - 8 * k));
			d->p[d->serial_at] = (uint8_t)((d->p[d->serial_at] & 0x3f) | 0x40); /* minimal, positive */
			const uint8_t *ders[1000];
			size_t lens[1000];
			unsigned nd = 1;
			ders[0] = d->p, lens[0] = d->n;
			if (i & 1)
				for (unsigned k = 1; k < depth; k++)
					ders[nd] = chain[k].p, lens[nd++] = chain[k].n;
			tls_session(client, (uint16_t)(1024 + i % 60000), server, (i & 1) ? "deep.sanflood.example" : "big.sanflood.example", ders, lens, nd);
		} else {
			snprintf(name, sizeof(name), "h%llx.storm.example", (unsigned long long)i);
			dns_answer(name, false, 0xc6120000u | (uint32_t)(r >> 48), client); /* 198.18.x.y: not owned */
		}
	}
	while (normal_done < NORMAL_EVENTS)
		normal_event();
	out_flush();
	if (fclose(out_fp) != 0 || fclose(truth_fp) != 0) {
		fprintf(stderr, "floodgen: write failed\n");
		return 1;
	}
	free(obuf);
	free(big.p);
	if (chain)
		for (unsigned i = 0; i < depth; i++)
			free(chain[i].p);
	free(chain);
	fprintf(stderr, "floodgen: %s: %llu flood units, %llu packets, %u normal events\n", path, (unsigned long long)n,
		(unsigned long long)n_packets, normal_done);
	return 0;
}
