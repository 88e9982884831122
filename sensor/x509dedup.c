// SPDX-License-Identifier: MIT
/*
 * x509dedup.c: a bounded, set-associative set of certificate fingerprints
 * read back from x509 events. It works on the JSON text rather than on the
 * certificate because by the time an event reaches the output thread it is
 * text, and re-deriving the fingerprint there costs one short scan. The set
 * is bounded (as large as all the workers' caches together) and forgets
 * round-robin within a bucket: a forgotten certificate is announced again,
 * as it would be by a single worker whose cache evicted it.
 */
#include "x509dedup.h"

#include <stdlib.h>
#include <string.h>

#include "bw.h"

int bw_x509_dedup_init(struct bw_x509_dedup *d, uint64_t entries)
{
	memset(d, 0, sizeof(*d));
	uint64_t b = 1;
	while (b * BW_X509_DEDUP_WAYS < entries && b < (1ull << 32))
		b <<= 1;
	d->buckets = b;
	d->slot = calloc(b * BW_X509_DEDUP_WAYS, sizeof(uint64_t));
	d->next_victim = calloc(b, sizeof(uint32_t));
	if (!d->slot || !d->next_victim) {
		bw_x509_dedup_deinit(d);
		return BW_ENOMEM;
	}
	return BW_OK;
}

void bw_x509_dedup_deinit(struct bw_x509_dedup *d)
{
	free(d->slot);
	free(d->next_victim);
	d->slot = NULL;
	d->next_victim = NULL;
	d->buckets = 0;
}

/*
 * The first "sha256":"<hex>" of the document is bindwatch.x509.sha256:
 * fmt_json writes the bindwatch object before the ECS x509 one, and nothing
 * before it carries that key.
 */
uint64_t bw_x509_dedup_key(const char *json, size_t len)
{
	static const char pat[] = "\"sha256\":\"";
	const size_t pl = sizeof(pat) - 1;
	const char *end = json + len;
	for (const char *p = json; p + pl + 16 <= end; p++) {
		p = memchr(p, '"', (size_t)(end - p));
		if (!p || p + pl + 16 > end)
			return 0;
		if (memcmp(p, pat, pl) != 0)
			continue;
		uint64_t k = 0;
		for (size_t i = 0; i < 16; i++) {
			int v = bw_hexval(p[pl + i]);
			if (v < 0)
				return 0;
			k = k << 4 | (uint64_t)v;
		}
		return k ? k : 1;
	}
	return 0;
}

bool bw_x509_dedup_repeat(struct bw_x509_dedup *d, const char *json, size_t len)
{
	uint64_t key = bw_x509_dedup_key(json, len);
	if (!key || !d->buckets)
		return false;
	uint64_t b = bw_mix64(key) & (d->buckets - 1);
	uint64_t *slot = d->slot + b * BW_X509_DEDUP_WAYS;
	for (unsigned i = 0; i < BW_X509_DEDUP_WAYS; i++) {
		if (slot[i] == key) {
			d->repeats++;
			return true;
		}
		if (slot[i] == 0) {
			slot[i] = key;
			return false;
		}
	}
	slot[d->next_victim[b]] = key;
	d->next_victim[b] = (d->next_victim[b] + 1) % BW_X509_DEDUP_WAYS;
	return false;
}
