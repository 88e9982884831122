/* SPDX-License-Identifier: MIT */
/*
 * nameset.h: sets of domain names for the policy, asked once per DNS answer.
 *
 * struct bw_nameset holds names (presentation form, no trailing dot) and
 * answers two questions: is this exact name in the set, and is this name or
 * one of its parents in the set ("example.com" owns "example.com" and
 * "www.example.com", not "badexample.com"). Matching is ASCII
 * case-insensitive and label-boundary aware; one trailing dot is ignored.
 *
 * struct bw_namepat is a set of name patterns on top of it, one syntax for
 * every name pattern in the policy (pins, alert ignores, cloud resources):
 *     api.example.com     exactly that name
 *     *.example.com       any name exactly one label below example.com (as a
 *                         certificate wildcard: not example.com itself, not
 *                         a.b.example.com)
 *     .example.com        example.com and every name below it
 *
 * Ownership and threads: a set owns copies of what is added. Building
 * (_add) is single-threaded; once built, lookups take a const pointer, never
 * write, never allocate, and are safe from any number of threads. A lookup
 * costs one pass over the name plus one hash probe per label suffix.
 */
#ifndef BW_NAMESET_H
#define BW_NAMESET_H

#include "bw.h"

#define BW_NAMESET_MAX_NAME 253 /* presentation form, no trailing dot */

struct bw_nameset;

/* An empty set, or NULL on ENOMEM. */
struct bw_nameset *bw_nameset_new(void);
void bw_nameset_free(struct bw_nameset *s); /* NULL-safe */

/*
 * Add name (NUL-terminated; one trailing dot stripped, lower-cased). "" or
 * "." is the root, which then matches every name in bw_nameset_contains.
 * Only shape is checked here (labels 1..63 bytes, name <= 253, no '\\'
 * escapes); the policy loader checks the characters. Adding a name twice
 * is harmless. Returns BW_OK, BW_EINVAL (bad shape) or BW_ENOMEM.
 */
int bw_nameset_add(struct bw_nameset *s, const char *name);

/*
 * True if name[0..len) or one of its parents (label suffixes) is in the
 * set. name is presentation text as bw_dns_name_text writes it: a dot
 * escaped as "\." is not a label boundary. False for malformed text (empty
 * label) unless the root is in the set. NULL-safe (false).
 */
bool bw_nameset_contains(const struct bw_nameset *s, const char *name, size_t len);

/* True if exactly name[0..len) is in the set (case-insensitive, trailing dot ok). */
bool bw_nameset_contains_exact(const struct bw_nameset *s, const char *name, size_t len);

/* Names in the order first added, lower-cased, no trailing dot ("" = root). */
size_t bw_nameset_count(const struct bw_nameset *s);
const char *bw_nameset_get(const struct bw_nameset *s, size_t i); /* NULL if i >= count */

struct bw_namepat;

struct bw_namepat *bw_namepat_new(void);    /* NULL on ENOMEM */
void bw_namepat_free(struct bw_namepat *p); /* NULL-safe */

/*
 * Add a pattern in the syntax above (lower-cased, trailing dot stripped).
 * Returns BW_OK, BW_EINVAL (not a pattern: '*' anywhere but a whole first
 * label, empty labels, too long) or BW_ENOMEM.
 */
int bw_namepat_add(struct bw_namepat *p, const char *pattern);

/* True if name[0..len) matches any pattern. NULL-safe (false). */
bool bw_namepat_match(const struct bw_namepat *p, const char *name, size_t len);

/* Patterns in the order first added, normalised ("*.example.com", ".example.com"). */
size_t bw_namepat_count(const struct bw_namepat *p);
const char *bw_namepat_get(const struct bw_namepat *p, size_t i);

#endif /* BW_NAMESET_H */
