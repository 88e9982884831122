/* SPDX-License-Identifier: MIT */
/*
 * zones.h: the authoritative zone files an operator says are the truth,
 * indexed so observed answers can be compared with them.
 *
 * Each file given is one zone in RFC 1035 master format, read with ldns:
 * $ORIGIN (relative values are relative to the current origin), $TTL,
 * $INCLUDE file [origin] (file relative to the directory of the including
 * file; origin and $TTL changes inside an included file do not leak back;
 * nesting at most BW_ZONES_MAX_INCLUDE_DEPTH), parentheses, comments,
 * blank owners ("same as the previous record"), relative names. Without
 * $TTL a record without a TTL takes the last explicitly given one (RFC 1035
 * 5.1; 3600 before any). Before the first $ORIGIN, names are relative to the
 * origin given for the file, or to the root when none is given.
 *
 * The first record must be the zone's SOA; its owner is the apex. Every
 * other record must be at or below the apex; a second SOA, a record
 * outside the zone, $GENERATE or an unknown directive fail the load. Two
 * files with the same apex fail; nested zones (example.com and
 * sub.example.com) are fine and answer for their own names. Repeated
 * identical records (same owner, type, class, rdata) are kept once.
 *
 * Errors: BW_EMALF (syntax: err is "FILE:LINE: ldns's message" with LINE
 * the first line of the record), BW_ENOENT/BW_EIO (a file could not be
 * read: "FILE: strerror"; for an include, "FILE:LINE: $INCLUDE PATH: ..."),
 * BW_ELIMIT (a cap below), BW_ENOMEM. err is always NUL-terminated.
 *
 * The loaded set is immutable; lookups are thread-safe, allocation-free
 * and take names as presentation text (case-insensitive, \DDD and \X
 * escapes, trailing dot optional, "." or "" for the root) or, in the
 * _wire variants, as uncompressed wire form (any case). Everything
 * returned points into the set and lives until bw_zones_free().
 *
 * Not done: wildcard expansion (a "*" owner is a name like any other),
 * DNSSEC validation, and glue or occluded data is not flagged (a record
 * below a delegation in its parent zone is indexed like any other).
 */
#ifndef BW_ZONES_H
#define BW_ZONES_H

#include "bw.h"

#define BW_ZONES_MAX_FILES 4096            /* zones per set */
#define BW_ZONES_MAX_INCLUDE_DEPTH 8
#define BW_ZONES_MAX_BYTES (1024u << 20)   /* zone file bytes per set, includes counted */
#define BW_ZONES_MAX_RECORDS 8000000       /* records per set */

struct bw_zone_rr {
	const uint8_t *owner;      /* lower-case wire form */
	uint8_t owner_len;
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;
	/*
	 * Canonical rdata (RFC 4034 6.2): uncompressed, and the names inside
	 * lower-cased for the types that section lists (NS CNAME SOA MX PTR
	 * SRV DNAME RRSIG NAPTR ...; not NSEC, RFC 6840 5.1). Other types'
	 * names keep the zone file's case.
	 */
	const uint8_t *rdata;
	uint16_t rdlen;
	const char *text;          /* rdata presentation form, as ldns prints it */
	const char *file;          /* where it was read */
	uint32_t line;
};

struct bw_zone {
	const char *origin;        /* apex, lower case, no trailing dot ("." for the root) */
	const uint8_t *apex;       /* lower-case wire form */
	uint8_t apex_len;
	uint32_t serial;           /* from the SOA */
	const char *const *ns;     /* apex NS targets, lower case, no trailing dot */
	size_t nns;
	const char *file;          /* the path given */
	size_t nrecords;
};

struct bw_zones;

/*
 * Load n zone files (origins[i], if origins and origins[i] are not NULL,
 * is the initial origin of paths[i]). On success *out owns everything.
 */
int bw_zones_load(const char *const *paths, size_t n, struct bw_zones **out, char *err, size_t errcap);
int bw_zones_load_ex(const char *const *paths, const char *const *origins, size_t n,
		     struct bw_zones **out, char *err, size_t errcap);
/* One zone from memory (name is only used in messages); $INCLUDE is refused. */
int bw_zones_load_buffer(const char *name, const char *buf, size_t len, const char *origin,
			 struct bw_zones **out, char *err, size_t errcap);
void bw_zones_free(struct bw_zones *z);

size_t bw_zones_count(const struct bw_zones *z);
const struct bw_zone *bw_zones_at(const struct bw_zones *z, size_t i);

/* The deepest loaded zone whose apex is name or an ancestor of it, or NULL. */
const struct bw_zone *bw_zones_find_zone(const struct bw_zones *z, const char *name);
const struct bw_zone *bw_zones_find_zone_wire(const struct bw_zones *z, const uint8_t *name, size_t len);

/*
 * The records of type at name in the zone bw_zones_find_zone() picks (type
 * 255, ANY: all of the name's records, ordered by type). Returns the first
 * of *n consecutive records, or NULL with *n = 0.
 */
const struct bw_zone_rr *bw_zones_lookup(const struct bw_zones *z, const char *name, uint16_t type,
					 size_t *n);
const struct bw_zone_rr *bw_zones_lookup_wire(const struct bw_zones *z, const uint8_t *name, size_t len,
					      uint16_t type, size_t *n);

/*
 * Does name exist in its zone: it owns records, or it is an empty
 * non-terminal (a name with descendants but no records of its own, for
 * which a server answers NOERROR/NODATA, not NXDOMAIN)?
 */
bool bw_zones_has_name(const struct bw_zones *z, const char *name);
bool bw_zones_has_name_wire(const struct bw_zones *z, const uint8_t *name, size_t len);

/*
 * Is an observed record (rdata as bw_dns_rdata_uncompressed() returns it:
 * names expanded, case as received) the same as the expected one? type
 * must equal rr->type; names inside the rdata compare case-insensitively
 * for the RFC 4034 6.2 types, everything else byte for byte.
 */
bool bw_zone_record_matches(const struct bw_zone_rr *rr, uint16_t type, const uint8_t *rdata, size_t len);

/* Wire form of a presentation name, lower-cased (out: 255 bytes). Returns length or BW_EINVAL. */
int bw_zones_name_to_wire(const char *name, uint8_t *out, size_t cap);

#endif /* BW_ZONES_H */
