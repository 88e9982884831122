/* SPDX-License-Identifier: MIT */
/*
 * fuzz_refdata.c: the reference-table loaders on arbitrary text, then
 * lookups on whatever loaded. The first byte picks the table (mod 3:
 * takeover, cloud ranges, CAA) and, with bit 0x80, prepends the right
 * header so the fuzzer spends its time on rows rather than on guessing the
 * header line. Every failure must come with a "NAME:LINE: " message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sensor/refdata.h"

static const char *const hdr[3] = {
	"service\tprovider_group\trecord_type\tpattern\tmatch\tstatus\tstatus_source\tunclaimed_evidence\t"
	"passive_visibility\thttp_fingerprint\thttp_status\treference\tsources\tnotes\n",
	"prefix\tprovider\tservice\tregion\textra\tsource_file\tsource_date\n",
	"ca_owner\tissuer_o_values\texample_issuer_cns\tcaa_issuer_domains\tnotes\tsources\n",
};

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_err(int rc, const char *err)
{
	if (rc == BW_OK)
		return;
	check(rc == BW_EMALF || rc == BW_ELIMIT || rc == BW_ENOMEM);
	check(strncmp(err, "in:", 3) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	unsigned kind = data[0] % 3;
	bool add_hdr = data[0] & 0x80;
	size_t hl = add_hdr ? strlen(hdr[kind]) : 0;
	char *buf = malloc(hl + size);
	if (!buf)
		return 0;
	memcpy(buf, hdr[kind], hl);
	memcpy(buf + hl, data + 1, size - 1);
	size_t len = hl + size - 1;
	/* names and addresses from the input itself, so lookups can hit */
	char name[64] = "";
	size_t nl = BW_MIN(size - 1, sizeof(name) - 1);
	memcpy(name, data + 1, nl);
	name[nl] = '\0';
	char err[256];

	if (kind == 0) {
		struct bw_takeover_db *db;
		int rc = bw_takeover_load_buffer("in", buf, len, &db, err, sizeof(err));
		check_err(rc, err);
		if (rc == BW_OK) {
			static const char *const probes[] = { "a.s3.amazonaws.com", "x.example.com", "ns1.example.net", "." };
			for (size_t i = 0; i < BW_ARRAY_SIZE(probes); i++)
				for (uint16_t rt = 1; rt <= 5; rt++)
					bw_takeover_match(db, probes[i], strlen(probes[i]), rt);
			for (size_t i = 0; i < bw_takeover_count(db); i++) {
				const struct bw_takeover *r = bw_takeover_at(db, i);
				const char *p = r->pattern;
				const struct bw_takeover *m = bw_takeover_match(db, p, strlen(p), r->record_type);
				/* a suffix or exact pattern always matches itself (maybe by a more specific row) */
				if (r->match == BW_TKO_MATCH_EXACT || r->match == BW_TKO_MATCH_SUFFIX)
					check(m != NULL);
			}
			bw_takeover_match(db, name, nl, 5);
			struct bw_ip ip = { .family = 4 };
			memcpy(ip.a, data, BW_MIN(size, 4));
			bw_takeover_match_ip(db, &ip);
			bw_takeover_free(db);
		}
	} else if (kind == 1) {
		struct bw_cloud_db *db;
		int rc = bw_cloud_load_buffer("in", buf, len, &db, err, sizeof(err));
		check_err(rc, err);
		if (rc == BW_OK) {
			const struct bw_cloud_range *all[64];
			for (size_t i = 0; i < 16 && i < size; i++) {
				struct bw_ip ip = { .family = (i & 1) ? 6 : 4 };
				memcpy(ip.a, data + i, BW_MIN(size - i, (size_t)(ip.family == 4 ? 4 : 16)));
				const struct bw_cloud_range *r = bw_cloud_lookup(db, &ip);
				size_t n = bw_cloud_lookup_all(db, &ip, all, 64);
				check((r == NULL) == (n == 0));
				check(!r || r == all[0]);
			}
			check(bw_cloud_prefixes(db) <= bw_cloud_count(db));
			bw_cloud_free(db);
		}
	} else {
		struct bw_caa_db *db;
		int rc = bw_caa_load_buffer("in", buf, len, &db, err, sizeof(err));
		check_err(rc, err);
		if (rc == BW_OK) {
			const char *const *d;
			size_t n;
			bw_caa_issuer_domains_for(db, name, name, &d, &n);
			bw_caa_issuer_domains_for(db, NULL, name, &d, &n);
			bw_caa_issuer_domains_for(db, "DigiCert Inc", NULL, &d, &n);
			bw_caa_domain_known(db, name);
			for (size_t i = 0; i < bw_caa_count(db); i++) {
				const struct bw_caa_ca *ca = bw_caa_at(db, i);
				check(ca->ndomains > 0 && bw_caa_domain_known(db, ca->domains[0]));
			}
			bw_caa_free(db);
		}
	}
	free(buf);
	return 0;
}
