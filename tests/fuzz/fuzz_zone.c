/* SPDX-License-Identifier: MIT */
/*
 * fuzz_zone.c: arbitrary text as a zone file, through ldns into the index
 * ($INCLUDE is refused for buffers), then lookups of every loaded record's
 * owner and a comparison of each record with itself and with input bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sensor/zones.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (256u << 10))
		return 0;
	char err[512];
	struct bw_zones *z;
	int rc = bw_zones_load_buffer("in", (const char *)data, size, "example.", &z, err, sizeof(err));
	if (rc != BW_OK) {
		check(z == NULL && err[0] != '\0' && strlen(err) < sizeof(err));
		check(strncmp(err, "in", 2) == 0 || strcmp(err, "out of memory") == 0);
		return 0;
	}
	check(bw_zones_count(z) == 1);
	const struct bw_zone *zn = bw_zones_at(z, 0);
	check(bw_zones_find_zone_wire(z, zn->apex, zn->apex_len) == zn);
	check(bw_zones_find_zone(z, zn->origin) == zn);
	size_t n;
	const struct bw_zone_rr *all = bw_zones_lookup_wire(z, zn->apex, zn->apex_len, 255, &n);
	check(all != NULL && n >= 1);
	for (size_t i = 0; i < n; i++) {
		const struct bw_zone_rr *r = &all[i];
		check(bw_zone_record_matches(r, r->type, r->rdata, r->rdlen));
		check(bw_zones_has_name_wire(z, r->owner, r->owner_len));
		size_t k;
		const struct bw_zone_rr *same = bw_zones_lookup_wire(z, r->owner, r->owner_len, r->type, &k);
		check(same != NULL && k >= 1);
		bw_zone_record_matches(r, r->type, data, size > 300 ? 300 : size);
	}
	/* names from the input */
	char name[128];
	size_t nl = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, nl);
	name[nl] = '\0';
	bw_zones_has_name(z, name);
	bw_zones_lookup(z, name, 1, &n);
	bw_zones_find_zone_wire(z, data, size);
	bw_zones_free(z);
	return 0;
}
