/* SPDX-License-Identifier: MIT */
/*
 * policy.h: the owner's policy file (YAML): what the owner runs and expects,
 * so detectors can tell "ours and as intended" from "ours and wrong" from
 * "not ours". examples/policy.yaml documents every key.
 *
 * Loading checks everything up front: unknown keys, wrong types, bad values,
 * duplicate keys and YAML syntax errors are refused with one message
 * "FILE:LINE:COLUMN: message" (line and column 1-based), for example
 *     policy.yaml:7:5: unknown key 'domians' in 'owned' (did you mean 'domains'?)
 * Anchors, aliases and tags are refused (no billion laughs); the file is at
 * most BW_POLICY_MAX_FILE bytes and each list at most BW_POLICY_MAX_LIST
 * entries. An empty file or an empty mapping is a valid, empty policy.
 *
 * Relative paths in the file are resolved against the file's directory at
 * load time (the policy holds the resolved paths). Domain names are
 * lower-cased with the trailing dot stripped; labels are letters, digits,
 * '-' and '_' (internationalised names in their xn-- form).
 *
 * Name patterns (pins, alerts.ignore names, cloud_resources names) use one
 * syntax, the one in nameset.h: "api.example.com" (exactly that name),
 * "*.example.com" (one label below, not example.com itself), ".example.com"
 * (example.com and every name below it).
 *
 * Ownership and threads: bw_policy_load returns a policy owned by the
 * caller and immutable from then on. Every query takes a const pointer,
 * never allocates or writes, and is safe from any number of threads, so a
 * reload can load a new policy, swap one pointer, and free the old one once
 * no reader holds it. All strings and sets live as long as the policy.
 */
#ifndef BW_POLICY_H
#define BW_POLICY_H

#include <stdio.h>
#include <time.h>

#include "bw.h"
#include "cidrset.h"
#include "nameset.h"

#define BW_POLICY_MAX_FILE   (16u << 20) /* bytes */
#define BW_POLICY_MAX_LIST   100000u	 /* entries in one list */
#define BW_POLICY_MAX_NODES  1000000u	 /* YAML nodes in the file */
#define BW_POLICY_MAX_DEPTH  32u	 /* nesting of lists and mappings */
#define BW_POLICY_MAX_STRING 4096u	 /* bytes in one string, and in a resolved path */

/* Used when data.* is absent (the field is then NULL): the project's files. */
#define BW_POLICY_DEFAULT_TAKEOVER_SERVICES "data/takeover-services.tsv"
#define BW_POLICY_DEFAULT_CLOUD_RANGES	    "data/cloud-ranges.tsv"
#define BW_POLICY_DEFAULT_CAA_ISSUERS	    "data/caa-issuers.tsv"

/* Defaults for absent keys. */
#define BW_POLICY_DEFAULT_EXPIRY_WARNING_DAYS	21u
#define BW_POLICY_DEFAULT_SUPPRESS_SECONDS	3600u
#define BW_POLICY_DEFAULT_FETCH_REFRESH_SECONDS 86400u
#define BW_POLICY_DEFAULT_FETCH_MAX_PER_MINUTE	60u
#define BW_POLICY_DEFAULT_FETCH_TIMEOUT_SECONDS 5u
#define BW_POLICY_DEFAULT_FETCH_MAX_CONCURRENT	4u

/* certificates.pins[]: a certificate for a matching name must carry one of these SPKI hashes. */
struct bw_policy_pin {
	const struct bw_namepat *names; /* patterns; bw_namepat_get lists them */
	size_t n_spki;
	const uint8_t (*spki)[32];	/* SHA-256 of the DER SubjectPublicKeyInfo */
	const char *const *spki_base64; /* the same, as padded base64 (no "sha256/" prefix) */
	unsigned line;			/* where the entry starts in the file */
};

/*
 * alerts.ignore[]: alerts of this type for these names (or all names) are
 * not emitted. Types are those of alerts.h (BW_ALERT_LIST); an int here so
 * this header does not pull in the alert record's dependencies.
 */
struct bw_policy_ignore {
	int type;			/* enum bw_alert_type */
	const struct bw_namepat *names; /* NULL: every name */
	unsigned line;
};

/* certificates.fetch: active certificate fetching for owned names (sensor/certfetch.h). */
struct bw_policy_fetch {
	bool enabled;		     /* default false */
	struct bw_ip source_address; /* family 0: not set (the kernel picks) */
	uint32_t refresh_seconds;    /* 60..2592000 */
	uint32_t max_per_minute;     /* 1..100000 */
	uint32_t timeout_seconds;    /* 1..600 */
	uint32_t max_concurrent;     /* 1..64: connections open at once */
};

/*
 * Read-only after load. Sets are never NULL (an absent list is an empty
 * set); string arrays have n_ entries of NUL-terminated strings.
 */
struct bw_policy {
	const char *path;      /* as given to bw_policy_load (or the buffer's name) */
	struct timespec mtime; /* of the file when loaded; zero for a buffer */
	uint64_t size;	       /* bytes read */

	struct {
		const struct bw_nameset *domains;     /* these names and every name below them */
		const struct bw_cidrset *networks;    /* addresses we run */
		const struct bw_namepat *cloud_names; /* cloud names we hold (patterns) */
		const struct bw_cidrset *cloud_addrs; /* cloud addresses we hold */
		const char *const *zones;	      /* resolved paths of zone files (not opened here) */
		size_t n_zones;
	} owned;

	struct {
		unsigned expiry_warning_days;		  /* 0..3650, default 21 */
		const struct bw_nameset *allowed_issuers; /* CAA issuer-domains; empty: any issuer */
		const char *const *extra_ca_files;	  /* resolved; each existed and was readable at load */
		size_t n_extra_ca_files;
		const struct bw_policy_pin *pins; /* in file order */
		size_t n_pins;
		struct bw_policy_fetch fetch;
	} certificates;

	struct {
		const struct bw_cidrset *allowed_transfer_clients; /* empty: no client may transfer */
	} dns;

	struct {
		uint32_t suppress_seconds;	       /* 0..2592000, default 3600; 0: no suppression */
		uint32_t rate_limit_per_minute;    /* per alert type, packet time; 0: the built-in 1000 */
		uint32_t rate_limit_burst;         /* bucket size; 0: rate_limit_per_minute */
		const struct bw_policy_ignore *ignore; /* in file order */
		size_t n_ignore;
	} alerts;

	struct {
		/* Resolved paths, or NULL for the project default (BW_POLICY_DEFAULT_*). */
		const char *takeover_services, *cloud_ranges, *caa_issuers;
	} data;

	const char *const *outputs; /* as written (non-empty); the sink module parses them */
	size_t n_outputs;
};

/*
 * Load the policy file at path. On success *out is the policy (free it
 * with bw_policy_free) and BW_OK is returned. On failure *out is NULL, err
 * holds one line "FILE:LINE:COL: message" (or "FILE: message" when the file
 * itself cannot be read) and the return is BW_EINVAL (the policy is wrong),
 * BW_ENOENT / BW_EIO (the file cannot be read) or BW_ENOMEM. err may be NULL.
 */
int bw_policy_load(const char *path, struct bw_policy **out, char *err, size_t errcap);

/*
 * The same from memory: name is used in messages and as policy->path;
 * base_dir resolves relative paths (NULL: the current directory, kept
 * relative). text need not be NUL-terminated.
 */
int bw_policy_load_buffer(const char *name, const char *text, size_t len, const char *base_dir, struct bw_policy **out,
			  char *err, size_t errcap);

void bw_policy_free(struct bw_policy *p); /* NULL-safe */

/*
 * Queries. A NULL policy answers as an empty one does: owns nothing, allows
 * any issuer, pins nothing, ignores nothing, allows no transfer. Names are
 * taken as bw_dns_name_text writes them: case does not matter, one trailing
 * dot is ignored.
 */

/* name[0..len) is an owned domain or below one. */
bool bw_policy_owns_name(const struct bw_policy *p, const char *name, size_t len);
/* ip is inside owned.networks (cloud addresses are asked separately). */
bool bw_policy_owns_addr(const struct bw_policy *p, const struct bw_ip *ip);
/* name[0..len) matches an owned.cloud_resources name pattern. */
bool bw_policy_cloud_resource_name(const struct bw_policy *p, const char *name, size_t len);
/* ip is one of owned.cloud_resources' addresses or prefixes. */
bool bw_policy_cloud_resource_addr(const struct bw_policy *p, const struct bw_ip *ip);
/*
 * caa_domain (a CAA issue/issuewild issuer-domain, NUL-terminated) is in
 * certificates.allowed_issuers. True for any value when allowed_issuers is
 * empty (no restriction); false for NULL or "" otherwise.
 */
bool bw_policy_issuer_allowed(const struct bw_policy *p, const char *caa_domain);
/* The first pin (file order) whose names match name, or NULL: first match wins, as in a rule list. */
const struct bw_policy_pin *bw_policy_pin_for(const struct bw_policy *p, const char *name);
/*
 * An ignore rule for alert_type (its name in alerts.h: "cert_changed")
 * covers name (NUL-terminated; NULL for an alert about no name, which only
 * rules without 'names' cover). Unknown types are never ignored.
 */
bool bw_policy_ignored(const struct bw_policy *p, const char *alert_type, const char *name);
/* The same by type (an enum bw_alert_type), for detectors that hold one; name[0..len). */
bool bw_policy_ignored_type(const struct bw_policy *p, int type, const char *name, size_t len);
/* ip is in dns.allowed_transfer_clients. */
bool bw_policy_transfer_allowed(const struct bw_policy *p, const struct bw_ip *ip);

/*
 * Print the effective policy as normalised YAML (defaults filled in, paths
 * resolved, names lower-cased) that loads back to the same policy; a
 * comment line first names the file. BW_OK or BW_EIO.
 */
int bw_policy_dump(const struct bw_policy *p, FILE *fp);

#endif /* BW_POLICY_H */
