/* SPDX-License-Identifier: MIT */
/*
 * bindings.h: the binding tables that correlate what DNS says with what TLS
 * shows, shared by all workers (DESIGN.md, "binding tables"):
 *
 *   name_addr     name -> addresses (TTL, first/last seen each)
 *   addr_names    address -> names (the reverse, kept by bw_bind_name_addr)
 *   name_cname    name -> CNAME target
 *   name_rcode    name -> last response code, last NXDOMAIN
 *   server_cert   (address, port, SNI) -> the last certificates (SHA-256)
 *   cert_names    certificate -> SNIs it was served for
 *   cert_servers  certificate -> (address, port) that served it
 *
 * Each is a bw_table (table.h): lock-free lookups, writers serialised per
 * key, bounded by a configured number of entries, stalest entries evicted
 * and counted. Multi-valued bindings are bounded sets inside the value: at
 * most N members and about set_bytes bytes; past either the member updated
 * longest ago is dropped (counted in set_drops). Members are kept most
 * recently updated first, and lookups return them in that order.
 *
 * Keys: names are bytes (DNS presentation text with \DDD escapes, or an
 * escaped SNI), 1..BW_BINDINGS_NAME_MAX of them; ASCII letters are folded to
 * lower case and one trailing '.' is dropped (except for the root "."), so
 * "WWW.Example.COM." and "www.example.com" are one key. Addresses are
 * struct bw_ip (family 4 or 6; IPv4's unused bytes are ignored).
 * Certificates are the SHA-256 of their DER.
 *
 * Times are packet times. A bind at a time older than the member's last
 * sighting (workers are not in lockstep) only moves first_seen back; it
 * never moves last_seen, the TTL or the expiry backwards.
 *
 * Expiry: a DNS binding (a name_addr, addr_names or name_cname member) is
 * dead once its TTL and then expiry_grace (default BW_BINDINGS_GRACE, one
 * hour: the dangling detectors' pairing window) have run out in packet
 * time; a name_rcode entry is dead expiry_grace after its latest answer
 * (it has no TTL). Dead members are dropped when their set is next written
 * (counted in member_expired), an entry whose members are all dead is
 * absent to its next bind (NEW_KEY), and every bind sweeps a few entries
 * of the table it writes and removes dead ones (table.h, "Expiry"; counted
 * as the table's expired): so the tables hold about (answer rate) x (TTL +
 * grace) bindings, whatever the length of the capture. Lookups with a time
 * (bw_lookup_name_addrs, bw_follow_cname_chain) skip dead bindings; those
 * without one return what the table still holds, which for a dead binding
 * lasts until the sweep reaches it. The certificate tables keep their
 * history until evicted (no TTL; cert_changed compares with it).
 * no_expiry restores "until evicted" for the DNS tables too.
 *
 * Results are copied into caller buffers: nothing returned points into the
 * tables, so callers never deal with RCU beyond the thread rules below.
 * Each call uses up to about 10 KiB of stack (a copy of one value).
 *
 * Memory: a 12-byte index slot per entry of configured capacity (about
 * 15 MB with the defaults) is reserved by bw_bindings_new and touched as the
 * tables fill, and each table's bucket heads grow with its entries (16 to 32
 * bytes per entry, table.h); a name bound to one IPv4 address then costs
 * about 110 bytes plus the name in name_addr, and as much again in
 * addr_names (measured by tools/bench_tables). Sets grow their entry when a
 * member is added.
 *
 * Concurrency: binds to one key are serialised (per-key writer locks that
 * readers never take); a bind that touches two tables (name_addr and
 * addr_names, or the three certificate tables) updates them one after the
 * other, so a reader may briefly see one side of the pair and not the other.
 *
 * Threads: every thread that binds or looks up calls
 * bw_bindings_thread_register() once first and bw_bindings_thread_unregister()
 * before exiting, calls bw_bindings_quiescent() regularly (after each packet
 * or batch: it is a few instructions), and brackets long waits (blocking
 * for packets, joining threads) with bw_bindings_thread_offline()/_online().
 * A registered thread that does none of these stops memory from being
 * reclaimed (QSBR). bw_bindings_new and _free may be called by any thread;
 * _free only when no other thread uses the tables.
 */
#ifndef BW_BINDINGS_H
#define BW_BINDINGS_H

#include "bw.h"
#include "table.h"

#define BW_BINDINGS_NAME_MAX 1023   /* bytes of name text (BW_DNS_MAX_NAME_TEXT - 1) */
#define BW_BINDINGS_SET_MAX 64      /* hard cap on the members of any set */
#define BW_BINDINGS_CERT_HISTORY 8  /* hard cap on server_cert history */
#define BW_BINDINGS_CNAME_HOPS 16   /* chain length followed by bw_follow_cname_chain */

enum bw_bindings_table {
	BW_BT_NAME_ADDR,
	BW_BT_ADDR_NAMES,
	BW_BT_NAME_CNAME,
	BW_BT_NAME_RCODE,
	BW_BT_SERVER_CERT,
	BW_BT_CERT_NAMES,
	BW_BT_CERT_SERVERS,
	BW_BT_COUNT
};

struct bw_bindings_config {
	size_t entries[BW_BT_COUNT]; /* capacity of each table; 0: default */
	uint32_t addrs_per_name;     /* name_addr set; 0: 16 */
	uint32_t names_per_addr;     /* addr_names set; 0: 16 */
	uint32_t names_per_cert;     /* cert_names set; 0: 16 */
	uint32_t servers_per_cert;   /* cert_servers set; 0: 16 */
	uint32_t cert_history;       /* server_cert history; 0: 4 */
	uint32_t set_bytes;          /* byte budget of one set's members; 0: 4096 */
	uint32_t eviction_sample;    /* 0: BW_TABLE_DEFAULT_SAMPLE */
	uint64_t seed[2];            /* hash key, both 0: random (tests and benchmarks fix it) */
	size_t max_bytes[BW_BT_COUNT]; /* byte cap of each table's entries (table.h); 0: none */
	uint32_t expiry_grace;       /* seconds a DNS binding is kept past its TTL; 0: BW_BINDINGS_GRACE */
	bool no_expiry;              /* DNS bindings stay until evicted */
};

#define BW_BINDINGS_GRACE 3600

/* Defaults: 262144 entries for name_addr and addr_names, 131072 for name_cname and
 * name_rcode, 65536 for the certificate tables; sets as documented above. */
void bw_bindings_config_default(struct bw_bindings_config *c);

/*
 * Fill c (defaults first) for a memory budget of `bytes` over all seven
 * tables: each table gets a share in proportion to its default capacity
 * (4:4:2:2:1:1:1), split into a capacity (one entry per
 * BW_BINDINGS_BUDGET_PER_ENTRY bytes of share, at least 64) and a byte cap
 * on its entries (the share less the per-capacity index and buckets), so
 * the tables stay under about `bytes` however long the names are.
 */
#define BW_BINDINGS_BUDGET_PER_ENTRY 256
void bw_bindings_config_budget(struct bw_bindings_config *c, size_t bytes);

struct bw_bindings;

/* c may be NULL (defaults). NULL on ENOMEM or a bad configuration (a set
 * bound above its hard cap, a capacity above BW_TABLE_MAX_CAPACITY). */
struct bw_bindings *bw_bindings_new(const struct bw_bindings_config *c);
void bw_bindings_free(struct bw_bindings *b); /* NULL-safe */

/* Thread rules: see above. */
void bw_bindings_thread_register(void);
void bw_bindings_thread_unregister(void);
void bw_bindings_quiescent(void);
void bw_bindings_thread_offline(void);
void bw_bindings_thread_online(void);

/*
 * What a bind did: the key was new, or a member (address, target,
 * certificate, rcode...) was new for it or changed, or it only refreshed
 * times. Binds return one of these (>= 0) or a negative BW_E* (BW_EINVAL:
 * empty or too long a name, bad address family; BW_ENOMEM).
 */
enum bw_bind_result {
	BW_BIND_SAME = 0,
	BW_BIND_NEW_KEY = 1,
	BW_BIND_NEW_VALUE = 2,
};

/* ---- name -> addresses (and address -> names) ---- */

struct bw_name_addr {
	struct bw_ip addr;
	uint32_t ttl;          /* of the latest answer, seconds */
	bw_time_t first_seen;  /* first answer with this address */
	bw_time_t last_seen;   /* latest answer */
	bw_time_t expires;     /* last_seen + ttl */
};

/*
 * Record that name resolved to addr with ttl at now; also binds addr -> name
 * (addr_names). The result is that of name_addr: NEW_KEY for a new name,
 * NEW_VALUE for a new address of a known name.
 */
int bw_bind_name_addr(struct bw_bindings *b, const char *name, size_t len, const struct bw_ip *addr, uint32_t ttl,
		      bw_time_t now);

/*
 * The addresses of name still within their TTL at now (now < expires),
 * most recently seen first: copies up to cap of them into out and returns
 * how many it copied (0 if none or the name is unknown), or BW_EINVAL.
 */
int bw_lookup_name_addrs(struct bw_bindings *b, const char *name, size_t len, bw_time_t now, struct bw_name_addr *out,
			 size_t cap);

/* The same, expired addresses included ("DNS for the name was seen at all"). */
int bw_lookup_name_addrs_all(struct bw_bindings *b, const char *name, size_t len, struct bw_name_addr *out,
			     size_t cap);

/* A name bound to a key (addr_names, cert_names). NUL-terminated. */
struct bw_bound_name {
	uint16_t len;
	uint32_t ttl;         /* addr_names: TTL of the latest answer; cert_names: 0 */
	uint32_t count;       /* cert_names: handshakes seen; addr_names: 0 */
	bw_time_t first_seen, last_seen;
	bw_time_t expires;    /* addr_names: last_seen + ttl; cert_names: 0 */
	char name[BW_BINDINGS_NAME_MAX + 1];
};

/* Names that resolved to addr (expired ones too), most recent first. Count copied. */
int bw_lookup_addr_names(struct bw_bindings *b, const struct bw_ip *addr, struct bw_bound_name *out, size_t cap);

/* ---- name -> CNAME target ---- */

struct bw_name_cname {
	uint16_t target_len;
	uint32_t ttl;
	bw_time_t first_seen;  /* first answer with this target */
	bw_time_t last_seen;
	bw_time_t expires;     /* last_seen + ttl */
	char target[BW_BINDINGS_NAME_MAX + 1]; /* NUL-terminated, normalised */
};

/* name is an alias of target. NEW_VALUE: the target changed (the old one is replaced). */
int bw_bind_name_cname(struct bw_bindings *b, const char *name, size_t len, const char *target, size_t tlen,
		       uint32_t ttl, bw_time_t now);

/* BW_OK and *out, or BW_ENOENT. Expired targets too (compare expires with now). */
int bw_lookup_name_cname(struct bw_bindings *b, const char *name, size_t len, struct bw_name_cname *out);

struct bw_cname_chain {
	uint32_t n;      /* hops in hop[]: hop[0] is name's target, hop[i+1] hop[i]'s */
	bool loop;       /* the last hop's target is name or an earlier target */
	bool truncated;  /* BW_BINDINGS_CNAME_HOPS hops and the last target has a CNAME too */
	struct bw_name_cname hop[BW_BINDINGS_CNAME_HOPS];
};

/*
 * Follow name's CNAME chain (at most BW_BINDINGS_CNAME_HOPS hops, stopping
 * at a loop). live_only: stop at a hop whose TTL had expired at now; else
 * stop at a dead hop (TTL and grace run out at now, see "Expiry").
 * Returns the number of hops (0: no CNAME), or BW_EINVAL.
 * out is large (about 17 KiB): keep one per worker rather than on a small stack.
 */
int bw_follow_cname_chain(struct bw_bindings *b, const char *name, size_t len, bw_time_t now, bool live_only,
			  struct bw_cname_chain *out);

/* ---- name -> response code ---- */

struct bw_name_rcode {
	uint16_t rcode;           /* latest, with the EDNS extended bits if any */
	uint32_t nxdomain_count;  /* NXDOMAIN answers seen */
	bw_time_t first_seen, last_seen;      /* any rcode */
	bw_time_t nxdomain_first, nxdomain_last; /* 0: never */
};

#define BW_RCODE_NXDOMAIN 3

/* NEW_VALUE: the rcode differs from the previous one. */
int bw_bind_name_rcode(struct bw_bindings *b, const char *name, size_t len, uint16_t rcode, bw_time_t now);
int bw_lookup_name_rcode(struct bw_bindings *b, const char *name, size_t len, struct bw_name_rcode *out);

/* ---- (address, port, SNI) -> certificate, certificate -> names and servers ---- */

struct bw_cert_seen {
	uint8_t sha256[32];
	uint32_t count;        /* handshakes with this certificate */
	bw_time_t first_seen, last_seen;
};

struct bw_server_cert {
	uint32_t n;            /* h[0] is the current certificate, h[1] the one before... */
	struct bw_cert_seen h[BW_BINDINGS_CERT_HISTORY];
};

struct bw_cert_server {
	struct bw_ip addr;
	uint16_t port;
	uint32_t count;
	bw_time_t first_seen, last_seen;
};

/*
 * A server at (addr, port) presented the certificate sha256 for SNI sni
 * (sni_len 0, or sni NULL: no SNI) at now. Updates server_cert, and
 * cert_servers and (with an SNI) cert_names. Returns server_cert's result:
 * NEW_KEY (first certificate for the key), SAME (the current one again),
 * NEW_VALUE (the certificate changed: *prev, if not NULL, gets the one that
 * was current; it may be in the history, i.e. seen there before).
 */
int bw_bind_server_cert(struct bw_bindings *b, const struct bw_ip *addr, uint16_t port, const char *sni,
			size_t sni_len, const uint8_t sha256[32], bw_time_t now, struct bw_cert_seen *prev);

/* BW_OK and *out, or BW_ENOENT. */
int bw_lookup_server_cert(struct bw_bindings *b, const struct bw_ip *addr, uint16_t port, const char *sni,
			  size_t sni_len, struct bw_server_cert *out);

/* SNIs the certificate was served for, most recent first. Count copied. */
int bw_lookup_cert_names(struct bw_bindings *b, const uint8_t sha256[32], struct bw_bound_name *out, size_t cap);
/* Servers that presented it, most recent first. Count copied. */
int bw_lookup_cert_servers(struct bw_bindings *b, const uint8_t sha256[32], struct bw_cert_server *out,
			   size_t cap);

/* ---- stats ---- */

struct bw_bindings_stats {
	struct bw_table_stats t[BW_BT_COUNT];
	uint64_t set_drops[BW_BT_COUNT]; /* members dropped from a full set (name_cname: target changes) */
	uint64_t member_expired[BW_BT_COUNT]; /* dead members dropped from a set being written */
};

/*
 * Sweep up to about budget entries over all tables and remove those dead
 * at now (binds already sweep as they go; this is for a caller that wants
 * to trim the tables while no DNS arrives). Returns how many it removed.
 */
size_t bw_bindings_sweep(struct bw_bindings *b, bw_time_t now, size_t budget);

void bw_bindings_stats(const struct bw_bindings *b, struct bw_bindings_stats *out);
/* "name_addr", "addr_names", ...; "?" out of range. */
const char *bw_bindings_table_name(enum bw_bindings_table t);

#endif /* BW_BINDINGS_H */
