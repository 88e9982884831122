/* SPDX-License-Identifier: MIT */
/*
 * refdata.h: reference tables loaded at start-up (the TSV files in data/, see
 * data/SOURCES.md): subdomain-takeover fingerprints, CA -> CAA issuer
 * domains, cloud provider address ranges.
 *
 * Loading is off the hot path and strict: any line that does not fit the
 * format fails the whole load with one message "FILE:LINE: what" in err
 * (NUL-terminated, truncated to errcap), and the function returns BW_EMALF
 * (format), BW_ELIMIT (a size or row cap), BW_EIO/BW_ENOENT (reading) or
 * BW_ENOMEM. Files are UTF-8 TSV: one header line that must name exactly
 * the expected columns in order, then one row per line, TAB separated, no
 * quoting. Empty lines and lines starting with '#' are skipped; a CR before
 * the LF is dropped; a NUL byte is an error. The _load_buffer variants take
 * the file's bytes (name is only used in messages) and exist for tests and
 * fuzzing; the buffer is not kept.
 *
 * A loaded table is immutable: lookups from any number of threads need no
 * lock, never allocate and never fail except by "not found". Everything a
 * lookup returns (entries, strings, arrays) is owned by the table and lives
 * until its _free (all _free functions accept NULL).
 */
#ifndef BW_REFDATA_H
#define BW_REFDATA_H

#include "bw.h"

#define BW_REFDATA_MAX_LINE 65536            /* bytes per line, LF excluded */
#define BW_REFDATA_MAX_NAME 1024             /* lookup names longer than this never match */

/* ------------------------------------------------------------------------ */
/* Takeover fingerprints (data/takeover-services.tsv)                       */

#define BW_TKO_MAX_FILE (16u << 20)
#define BW_TKO_MAX_ROWS 100000
#define BW_TKO_MAX_PATTERN 255               /* bytes per pattern */

/* The status column; every value the file may hold has one. */
enum bw_tko_status {
	BW_TKO_VULNERABLE = 0,            /* "Vulnerable" */
	BW_TKO_VULNERABLE_WITH_PURCHASE,  /* "Vulnerable (with purchase)" */
	BW_TKO_VULNERABLE_SANCTIONS,      /* "Vulnerable (sanctions may stop payments)" */
	BW_TKO_EDGE_CASE,                 /* "Edge case" */
	BW_TKO_NOT_VULNERABLE,            /* "Not vulnerable" */
	BW_TKO_NOT_VULNERABLE_PRIVATE_NS, /* "Not vulnerable (private nameservers)" */
	BW_TKO_REGISTRATION_CLOSED,       /* "Registration closed" */
	BW_TKO_UNRATED,                   /* "unrated": listed by a scanner, rated by nobody */
};

enum bw_tko_match {
	BW_TKO_MATCH_EXACT = 0,  /* name == pattern */
	BW_TKO_MATCH_SUFFIX,     /* name == pattern or ends with "." pattern (label boundary) */
	BW_TKO_MATCH_SUBSTRING,  /* pattern occurs anywhere in the name */
	BW_TKO_MATCH_GLOB,       /* '*' = any run of characters (also across dots) */
	BW_TKO_MATCH_REGEX,      /* POSIX ERE, case-insensitive, unanchored unless ^ $ */
	BW_TKO_MATCH_IP,         /* A/AAAA rows: the address itself */
	BW_TKO_MATCH_NONE,       /* a status without a pattern: never matches */
};

/* unclaimed_evidence bits ("NONE" = 0; the column may list several, comma-separated) */
#define BW_TKO_EV_NXDOMAIN 0x01    /* the CNAME target does not resolve */
#define BW_TKO_EV_NS_NO_ZONE 0x02  /* the delegated server answers SERVFAIL/REFUSED or has no SOA */
#define BW_TKO_EV_HTTP_BODY 0x04
#define BW_TKO_EV_HTTP_STATUS 0x08
#define BW_TKO_EV_TLS_FAIL 0x10

/* passive_visibility bits ("none" = 0) */
#define BW_TKO_VIS_DNS 0x01         /* "dns": rcode 3 in a mirrored answer */
#define BW_TKO_VIS_DNS_PARTIAL 0x02 /* "dns-partial": rcode 2/5 when the zone's queries cross the mirror */
#define BW_TKO_VIS_HTTP 0x04        /* "http-cleartext-or-active" */
#define BW_TKO_VIS_TLS 0x08         /* "tls" */

struct bw_takeover {
	const char *service;          /* never NULL */
	const char *provider_group;   /* "" when empty; likewise every string below */
	const char *pattern;          /* lower case, no trailing dot; "" for match NONE */
	const char *status_text;      /* the status column as written */
	const char *status_source;
	const char *http_fingerprint; /* as in the file (escapes not decoded) */
	const char *reference;
	const char *sources;
	const char *notes;
	uint32_t line;                /* line in the file, for messages */
	uint16_t record_type;         /* 5 CNAME, 2 NS, 1 A, 28 AAAA, 15 MX, 33 SRV, 12 PTR, 39 DNAME */
	uint16_t http_status;         /* 0 = none */
	uint8_t match;                /* enum bw_tko_match */
	uint8_t status;               /* enum bw_tko_status */
	uint8_t evidence;             /* BW_TKO_EV_* */
	uint8_t visibility;           /* BW_TKO_VIS_* */
	/*
	 * The evidence can be seen by a passive sensor in DNS alone: NXDOMAIN
	 * for the target with visibility "dns", or NS_NO_ZONE (SERVFAIL/REFUSED
	 * from the delegated server) with "dns" or "dns-partial".
	 */
	bool passive_dns;
	bool vulnerable;              /* status is one of the three "Vulnerable" values */
};

struct bw_takeover_db;

int bw_takeover_load(const char *path, struct bw_takeover_db **out, char *err, size_t errcap);
int bw_takeover_load_buffer(const char *name, const char *buf, size_t len, struct bw_takeover_db **out,
			    char *err, size_t errcap);
void bw_takeover_free(struct bw_takeover_db *db);

/*
 * The fingerprint for a name of record_type's data: a CNAME target
 * (record_type 5), a delegation's name server (2), ... name is the
 * presentation form without \DDD escapes, case-insensitive (lower case is
 * the cheap path), one trailing dot allowed; len bytes (no NUL needed).
 * NULL when none matches.
 *
 * When several rows match, the most specific wins: exact match first, then
 * the largest count of characters the pattern pins down (a suffix or
 * substring: its length; a glob: its non-'*' characters; a regex: the
 * literal characters every match must contain), then the earlier line. So
 * "x.s3.amazonaws.com" gets the s3.amazonaws.com row, not the
 * amazonaws.com one, and "ec2-1-2-3-4.compute-1.amazonaws.com" the EC2
 * regex. Cost: one hash probe per label for exact and suffix rows
 * (suffixes end on label boundaries), then the few substring, glob and
 * regex rows of that record type.
 */
const struct bw_takeover *bw_takeover_match(const struct bw_takeover_db *db, const char *name,
					    size_t len, uint16_t record_type);
/* The match=ip row for an A/AAAA address, or NULL. */
const struct bw_takeover *bw_takeover_match_ip(const struct bw_takeover_db *db, const struct bw_ip *ip);
/* Every row in file order (i < count). */
size_t bw_takeover_count(const struct bw_takeover_db *db);
const struct bw_takeover *bw_takeover_at(const struct bw_takeover_db *db, size_t i);
/* "Vulnerable", "Edge case", ... for a status value; "?" if out of range. */
const char *bw_tko_status_name(unsigned status);

/* ------------------------------------------------------------------------ */
/* CA -> CAA issuer domains (data/caa-issuers.tsv)                          */

#define BW_CAA_MAX_FILE (4u << 20)
#define BW_CAA_MAX_ROWS 10000
#define BW_CAA_MAX_DOMAINS 64                /* per row */
#define BW_CAA_MAX_ROWS_PER_O 64             /* rows sharing one normalised issuer O */
#define BW_CAA_MAX_HINTS 4096                /* CN hints in all (a lookup scans them) */

struct bw_caa_ca {
	const char *ca_owner;
	const char *const *domains;   /* lower case; the first is the CA's primary identifier */
	size_t ndomains;
	const char *notes;
	const char *sources;
	uint32_t line;
};

struct bw_caa_db;

int bw_caa_load(const char *path, struct bw_caa_db **out, char *err, size_t errcap);
int bw_caa_load_buffer(const char *name, const char *buf, size_t len, struct bw_caa_db **out,
		       char *err, size_t errcap);
void bw_caa_free(struct bw_caa_db *db);

/*
 * The CAA issuer-domain-names that authorise the CA which issued a
 * certificate, from the issuer's O= and CN= values (either may be NULL).
 * Names compare after normalising: ASCII case folded, every run of
 * non-alphanumeric ASCII (space, comma, dot, apostrophe ...) taken as one
 * separator, so "DigiCert, Inc." == "DigiCert Inc" == "digicert inc".
 *
 * - An O listed by one row gives that row.
 * - An O listed by several rows ("Microsoft Corporation": the DigiCert-run
 *   Azure CAs and Microsoft's own) is settled by the CN hints of those
 *   rows; when no hint fits, the union of their domains is returned.
 * - With no O, or an unknown O, the CN alone is tried against every row's
 *   hints (the example_issuer_cns column: exact names such as "R10", and
 *   prefixes where the file writes "M01..M04", "03/04", "…").
 * *domains (lower case, primary first, no duplicates) and *n are set on
 * BW_OK; BW_ENOENT when nothing matches (they are then NULL and 0).
 */
int bw_caa_issuer_domains_for(const struct bw_caa_db *db, const char *issuer_o, const char *issuer_cn,
			      const char *const **domains, size_t *n);
/* The row chosen as above, or NULL (also NULL when only a union fits). */
const struct bw_caa_ca *bw_caa_issuer_for(const struct bw_caa_db *db, const char *issuer_o,
					  const char *issuer_cn);
/* Is domain (case-insensitive, exact: no suffix logic, RFC 8659) some CA's identifier? */
bool bw_caa_domain_known(const struct bw_caa_db *db, const char *domain);
size_t bw_caa_count(const struct bw_caa_db *db);
const struct bw_caa_ca *bw_caa_at(const struct bw_caa_db *db, size_t i);

/* ------------------------------------------------------------------------ */
/* Cloud provider ranges (data/cloud-ranges.tsv)                            */

#define BW_CLOUD_MAX_FILE (512u << 20)
#define BW_CLOUD_MAX_ROWS 4000000

struct bw_cloud_range {
	const char *provider;     /* "AWS", "Azure", "Google Cloud", ... */
	const char *service;      /* "EC2", "AzureFrontDoor.Frontend", ...; "" if none */
	const char *region;       /* "" = global */
	const char *extra;
	const char *source_file;
	const char *source_date;
	uint32_t line;
	uint8_t family;           /* 4 or 6 */
	uint8_t plen;
	uint8_t addr[16];         /* the prefix, network byte order (IPv4 in the first 4) */
};

struct bw_cloud_db;

int bw_cloud_load(const char *path, struct bw_cloud_db **out, char *err, size_t errcap);
int bw_cloud_load_buffer(const char *name, const char *buf, size_t len, struct bw_cloud_db **out,
			 char *err, size_t errcap);
void bw_cloud_free(struct bw_cloud_db *db);

/*
 * The best row for an address, or NULL: the longest prefix covering it,
 * and among the rows listing that same prefix the most specific service:
 * umbrella rows rank last (AWS "AMAZON", which AWS documents as the superset
 * of every other service; Azure "AzureCloud.*"; the all-Google goog.json
 * list), then AWS "EC2" (which also spans other services' ranges), then a
 * row with a region before one without; equal ranks keep file order. So an
 * address in a prefix listed as AMAZON, EC2 and S3 gets S3.
 */
const struct bw_cloud_range *bw_cloud_lookup(const struct bw_cloud_db *db, const struct bw_ip *ip);
/*
 * Every row covering the address: the rows of the longest prefix (best
 * first, as above), then those of each shorter covering prefix. Returns how
 * many were stored in out (at most cap).
 */
size_t bw_cloud_lookup_all(const struct bw_cloud_db *db, const struct bw_ip *ip,
			   const struct bw_cloud_range **out, size_t cap);
/*
 * Memory for the shipped file (75,436 rows, 67,592 distinct prefixes):
 * about 10.7 MB: 5.4 MB of rows (72 bytes each), the interned strings, and
 * 4.6 MB of LPM (sensor/iplpm.h). Load time ~50 ms optimised.
 */
size_t bw_cloud_count(const struct bw_cloud_db *db);     /* rows */
size_t bw_cloud_prefixes(const struct bw_cloud_db *db);  /* distinct prefixes */
size_t bw_cloud_memory(const struct bw_cloud_db *db);    /* bytes held, strings and LPM included */

#endif /* BW_REFDATA_H */
