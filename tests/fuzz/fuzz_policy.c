/* SPDX-License-Identifier: MIT */
/*
 * fuzz_policy.c: bw_policy_load_buffer on arbitrary bytes, with a base
 * directory that does not exist so file checks fail cleanly. A refused
 * input must come with a "policy.yaml:" message; an accepted one is asked
 * every query, dumped, and the dump must load back and dump the same (the
 * normal form is a fixed point).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sensor/policy.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

static char *dump(const struct bw_policy *p, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);
	check(fp != NULL);
	check(bw_policy_dump(p, fp) == BW_OK);
	fclose(fp);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct bw_policy *p = NULL;
	int rc = bw_policy_load_buffer("policy.yaml", (const char *)data, size, "/nonexistent", &p, err, sizeof(err));
	if (rc != BW_OK) {
		check(p == NULL);
		check(rc == BW_EINVAL || rc == BW_ENOMEM);
		check(strncmp(err, "policy.yaml:", 12) == 0 && strlen(err) > 13);
		return 0;
	}
	check(p != NULL);
	struct bw_ip a = {.family = 4, .a = {192, 0, 2, 1}}, b = {.family = 6, .a = {0x20, 0x01, 0x0d, 0xb8}};
	static const char *const names[] = {"example.com", "www.example.com.", "a.b.c", "", ".", "x\\.y.z"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);
		(void)bw_policy_owns_name(p, names[i], n);
		(void)bw_policy_cloud_resource_name(p, names[i], n);
		(void)bw_policy_pin_for(p, names[i]);
		(void)bw_policy_issuer_allowed(p, names[i]);
		(void)bw_policy_ignored(p, "cert_changed", names[i]);
	}
	(void)bw_policy_ignored(p, "caa_missing", NULL);
	(void)bw_policy_owns_addr(p, &a);
	(void)bw_policy_owns_addr(p, &b);
	(void)bw_policy_cloud_resource_addr(p, &a);
	(void)bw_policy_transfer_allowed(p, &b);
	for (size_t i = 0; i < p->certificates.n_pins; i++)
		check(p->certificates.pins[i].n_spki > 0 && strlen(p->certificates.pins[i].spki_base64[0]) == 44);

	size_t l1, l2;
	char *d1 = dump(p, &l1);
	struct bw_policy *q = NULL;
	rc = bw_policy_load_buffer("dump.yaml", d1, l1, NULL, &q, err, sizeof(err));
	if (rc != BW_OK) {
		fprintf(stderr, "dump does not load back: %s\n%s", err, d1);
		abort();
	}
	char *d2 = dump(q, &l2);
	const char *b1 = strchr(d1, '\n'), *b2 = strchr(d2, '\n');
	check(b1 && b2 && strcmp(b1, b2) == 0);
	free(d1);
	free(d2);
	bw_policy_free(q);
	bw_policy_free(p);
	return 0;
}
