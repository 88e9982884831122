/* SPDX-License-Identifier: MIT */
/*
 * dns.h: DNS message parser (RFC 1035 and successors).
 *
 * bw_dns_parse() checks a whole message once, up front: header, every
 * question and record in every section, every name (compression pointers
 * must point strictly backwards, no loops, labels <= 63, names <= 255
 * octets), and the names and fixed fields inside the rdata of the types we
 * decode. It borrows the message bytes and fills a caller-owned struct with
 * offsets into them; it never allocates. After it returns BW_OK, the
 * formatting functions below cannot fail on that message except for lack of
 * output space.
 *
 * The struct is large (it can hold every record a 64 KiB message can carry,
 * so nothing is ever silently dropped): allocate it once per worker.
 *
 * What fails a message and what only marks a record:
 * - The message fails (BW_ETRUNC or BW_EMALF, one reason counted) when its
 *   structure is unsound: header shorter than 12 bytes, a question or
 *   record running past the end, an owner or question name that is bad
 *   (label type 0x40/0x80 or label > 63: dns.bad_name; pointer into the
 *   header or past the end: dns.bad_name; a pointer must target an offset
 *   strictly before the start of the run of labels being read, otherwise:
 *   dns.compression_loop if it lands in that run (itself included) or in
 *   the name's first run, dns.forward_pointer anywhere else; more than
 *   BW_DNS_MAX_PTR_HOPS pointers: dns.compression_loop; more than 255
 *   octets: dns.name_too_long), or a message over 65535 bytes
 *   (dns.not_dns).
 *   Forward pointers are rejected although some resolvers follow them
 *   (Suricata does too: suricata-verify dns-forward-pointer): no encoder
 *   emits them, and the rule "every pointer goes strictly backwards from
 *   the start of the run being read" is what makes loops impossible.
 * - A record whose rdata is malformed for its type (wrong fixed size, a
 *   bad or overrunning name inside, TXT strings not filling rdlen exactly,
 *   bad type bitmap or SvcParams, ...) and an OPT record outside the
 *   additional section, after the first OPT, or not owned by the root, is
 *   only marked: rr->bad is set, dns.bad_rdata is counted once per record
 *   (when the rest of the message parses: a failed message counts one reason),
 *   the record is formatted as RFC 3597 "\# len hex" and its rdata is
 *   returned raw by bw_dns_rdata_uncompressed. Every good record of a
 *   mostly-good message is kept.
 * - rdlen 0 is valid for any type when the class is ANY or NONE (dynamic
 *   update prerequisites and deletions, RFC 2136) and formats as "".
 */
#ifndef BW_DNS_H
#define BW_DNS_H

#include "../sensor/bw.h"
#include "anomaly.h"

#define BW_DNS_MAX_NAME 255             /* octets in wire form */
#define BW_DNS_MAX_NAME_TEXT 1024       /* presentation form with \DDD escapes, NUL included */
#define BW_DNS_MAX_RR 5958              /* 65535 / 11 (smallest record) */
#define BW_DNS_MAX_QD 64                /* questions kept (more are validated and counted) */
#define BW_DNS_MAX_PTR_HOPS 128         /* compression pointers followed per name */

enum bw_dns_section { BW_DNS_ANSWER = 0, BW_DNS_AUTHORITY = 1, BW_DNS_ADDITIONAL = 2 };

/* Types we decode (others keep their number and a hex dump). */
enum bw_dns_type {
	BW_DNS_T_A = 1, BW_DNS_T_NS = 2, BW_DNS_T_CNAME = 5, BW_DNS_T_SOA = 6, BW_DNS_T_NULL = 10,
	BW_DNS_T_PTR = 12, BW_DNS_T_HINFO = 13, BW_DNS_T_MX = 15, BW_DNS_T_TXT = 16, BW_DNS_T_AAAA = 28,
	BW_DNS_T_SRV = 33, BW_DNS_T_NAPTR = 35, BW_DNS_T_DNAME = 39, BW_DNS_T_OPT = 41, BW_DNS_T_DS = 43,
	BW_DNS_T_SSHFP = 44, BW_DNS_T_RRSIG = 46, BW_DNS_T_NSEC = 47, BW_DNS_T_DNSKEY = 48,
	BW_DNS_T_NSEC3 = 50, BW_DNS_T_NSEC3PARAM = 51, BW_DNS_T_TLSA = 52, BW_DNS_T_SVCB = 64,
	BW_DNS_T_HTTPS = 65, BW_DNS_T_SPF = 99, BW_DNS_T_TSIG = 250, BW_DNS_T_IXFR = 251,
	BW_DNS_T_AXFR = 252, BW_DNS_T_ANY = 255, BW_DNS_T_CAA = 257,
};

struct bw_dns_question {
	uint16_t name_off; /* offset of the name in the message */
	uint16_t type, class;
};

struct bw_dns_rr {
	uint16_t name_off;  /* owner name offset */
	uint16_t type, class;
	uint8_t section;    /* enum bw_dns_section */
	uint8_t bad;        /* 1: rdata malformed for its type (see top of file); formatted as "\# len hex" */
	uint32_t ttl;
	uint16_t rdata_off; /* offset of rdata in the message */
	uint16_t rdlen;
};

struct bw_dns_msg {
	const uint8_t *wire; /* borrowed message bytes */
	size_t len;

	uint16_t id;
	uint16_t flags;     /* the 16 flag bits of the header as on the wire */
	uint8_t qr, opcode, aa, tc, rd, ra, z, ad, cd;
	uint16_t rcode;     /* 4-bit header rcode, extended by the OPT record's upper 8 bits */

	uint16_t qdcount, ancount, nscount, arcount; /* as in the header */
	uint16_t n_qd;      /* questions kept (<= BW_DNS_MAX_QD) */
	struct bw_dns_question qd[BW_DNS_MAX_QD];

	uint16_t n_rr;               /* records, in wire order over all sections */
	uint16_t n_section[3];       /* per section */

	/* EDNS (RFC 6891); has_opt false when no OPT record */
	bool has_opt;
	uint8_t edns_version;
	bool edns_do;
	uint16_t edns_udp_size;
	uint16_t opt_rr;             /* index into rr[] of the OPT record */
	uint16_t edns_flags;         /* the 16 flag bits of the OPT TTL (DO is 0x8000) */

	uint16_t n_bad;              /* records marked bad (rr->bad) */

	struct bw_dns_rr rr[BW_DNS_MAX_RR];
};

/*
 * Parse the message p[0..n). Returns BW_OK, or BW_ETRUNC / BW_EMALF with the
 * reason counted in an (may be NULL). On error msg's contents are
 * unspecified. Trailing bytes after the last record are allowed but counted
 * (dns.trailing_bytes).
 */
int bw_dns_parse(const uint8_t *p, size_t n, struct bw_dns_msg *msg, struct bw_anomalies *an);

/*
 * Check the name at offset off of the message p[0..n) with the rules above.
 * Returns BW_OK and sets *next to the offset just after the name as it sits
 * at off (after its first pointer, if any), or BW_ETRUNC / BW_EMALF with
 * *why set (not counted: the caller counts). Used by bw_dns_parse; exposed
 * for callers that walk names themselves.
 */
int bw_dns_name_check(const uint8_t *p, size_t n, size_t off, size_t *next, enum bw_anomaly *why);

/*
 * Is the rdata p[off..off+rdlen) well formed for type (and class, for the
 * empty-rdata rule)? Types without a decoder are always well formed. Used
 * by bw_dns_parse to set rr->bad.
 */
bool bw_dns_rdata_valid(const uint8_t *p, size_t n, uint16_t type, uint16_t class, size_t off, size_t rdlen);

/*
 * Presentation form of the name at offset off: labels joined by '.', no
 * trailing dot, "." for the root, bytes outside [0-9A-Za-z_*-] (and '.' and
 * '\\' inside a label) written as \DDD or \. so the text is always printable
 * ASCII and safe in JSON, syslog and CEF after their own escaping.
 * lower: fold A-Z to a-z (for matching; output keeps the original case).
 * Returns the text length (out is NUL-terminated, so cap must exceed it),
 * BW_ENOMEM if cap is too small, BW_EMALF if off does not hold a valid name.
 */
int bw_dns_name_text(const struct bw_dns_msg *msg, uint16_t off, bool lower, char *out, size_t cap);

/*
 * Uncompressed wire form of the name at off, lower-cased if lower. Returns the
 * length (<= 255), BW_ENOMEM if cap is too small, BW_EMALF if off does not
 * hold a valid name.
 */
int bw_dns_name_wire(const struct bw_dns_msg *msg, uint16_t off, bool lower, uint8_t *out, size_t cap);

/*
 * Presentation form of a record's rdata, in master-file syntax (RFC 1035 and
 * each type's RFC): "192.0.2.1", "10 mx.example.com", TXT as quoted strings
 * separated by spaces, SOA/SRV/CAA/DS/DNSKEY/RRSIG/NSEC/NSEC3/SVCB/HTTPS...
 * Unknown types: RFC 3597 "\# LEN HEX". Returns length or BW_ENOMEM.
 *
 * Details (what `dig +nosplit` prints, except that names carry no trailing
 * dot, as bw_dns_name_text): hex is upper case and base64 is padded, both
 * unbroken; times in RRSIG/SIG are YYYYMMDDHHmmSS UTC; type bitmaps are
 * mnemonic lists ("A NS SOA TYPE1234"); the NSEC3 next hashed owner is
 * base32hex without padding, an empty salt "-"; character strings are
 * quoted with \" \\ and \DDD escapes; SVCB/HTTPS params as RFC 9460
 * (mandatory=alpn,port alpn="h2,h3" no-default-alpn port=443
 * ipv4hint=192.0.2.1 ech=BASE64 ipv6hint=2001:db8::1 dohpath="..."
 * key65000="..."); CAA `0 issue "letsencrypt.org"`; TSIG "alg time fudge
 * maclen mac origid error otherlen [other]" as dig. OPT (no zone-file
 * form) is its options separated by spaces, each NAME=VALUE or NAME when
 * empty: NSID, COOKIE and unknown ones (OPTnn) in hex, ECS=addr/src/scope,
 * EDE=code or EDE=code:"text", PADDING=len, KEEPALIVE=n, EXPIRE=n,
 * DAU/DHU/N3U=list, KEY-TAG=list. out is NUL-terminated. Text is at most
 * 4 * rdlen + 64 bytes plus BW_DNS_MAX_NAME_TEXT per name in the rdata (a
 * 2-byte pointer can expand to a 1000-byte name); a bad record's at most
 * 2 * rdlen + 16.
 */
int bw_dns_rdata_text(const struct bw_dns_msg *msg, const struct bw_dns_rr *rr, char *out, size_t cap);

/*
 * The rdata with every embedded name expanded (no compression), as ldns or a
 * zone file would hold it: for comparing record sets. Returns length or
 * BW_ENOMEM. The names expanded are those of the fields ldns reads as domain
 * names (LDNS_RDF_TYPE_DNAME): NS MD MF CNAME SOA MB MG MR PTR MINFO MX RP
 * AFSDB RT SIG PX NXT SRV NAPTR KX DNAME RRSIG NSEC HIP TALINK SVCB HTTPS LP
 * TKEY TSIG; case is kept. A bad record's rdata is returned as it is.
 */
int bw_dns_rdata_uncompressed(const struct bw_dns_msg *msg, const struct bw_dns_rr *rr, uint8_t *out,
			      size_t cap);

/* Static mnemonic of a type ("AAAA"), or NULL if unknown (print "TYPE%u"). */
const char *bw_dns_type_name(uint16_t type);
/* The mnemonic, or "TYPE%u" / "RCODE%u" written into buf (cap >= 12) when there is none. */
const char *bw_dns_type_text(uint16_t type, char *buf, size_t cap);
const char *bw_dns_rcode_text(uint16_t rcode, char *buf, size_t cap);
/* Static mnemonic of a class ("IN", "CH", "HS", "NONE", "ANY") or NULL. */
const char *bw_dns_class_name(uint16_t class);
/* Static mnemonic of an rcode ("NOERROR", "NXDOMAIN", ... "BADCOOKIE") or NULL. */
const char *bw_dns_rcode_name(uint16_t rcode);
/* Static mnemonic of an opcode ("QUERY", "IQUERY", "STATUS", "NOTIFY", "UPDATE", "DSO") or NULL. */
const char *bw_dns_opcode_name(uint8_t opcode);

/*
 * Find EDNS option code in the message's OPT record. Returns BW_OK with
 * *val and *len set (borrowed from the message), or BW_ENOENT.
 */
int bw_dns_opt_find(const struct bw_dns_msg *msg, uint16_t code, const uint8_t **val, uint16_t *len);

/* RRSIG helper: inception and expiration (seconds since the epoch, RFC 4034
 * serial arithmetic not applied) of an RRSIG record. Returns BW_OK or BW_EINVAL. */
int bw_dns_rrsig_times(const struct bw_dns_msg *msg, const struct bw_dns_rr *rr, uint32_t *inception,
		       uint32_t *expiration);

#endif /* BW_DNS_H */
