/* SPDX-License-Identifier: MIT */
/*
 * fuzz_x509.c: decode the input as one DER certificate; if it parses,
 * extract every field, copy the result as the cache would, check the
 * escaping promise (no control byte in any string), run the name checks and
 * a chain verification against an empty trust store.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/x509.h"

static struct bw_x509_arena arena;
static struct bw_x509_info info, copy;
static struct bw_x509_trust *trust;

static void check_str(const char *s)
{
	if (!s)
		abort();
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort(); /* an unescaped control character reached the output */
}

static void check_name(const struct bw_x509_name *n)
{
	check_str(n->dn);
	check_str(n->dn_rfc2253);
	check_str(n->cn);
	check_str(n->o);
	check_str(n->ou);
	check_str(n->c);
	check_str(n->st);
	check_str(n->l);
}

static void check_info(const struct bw_x509_info *i)
{
	check_name(&i->subject);
	check_name(&i->issuer);
	check_str(i->serial);
	check_str(i->serial_colon);
	check_str(i->sig_alg);
	check_str(i->sig_alg_ecs);
	check_str(i->key_alg);
	check_str(i->key_type_name);
	check_str(i->curve);
	check_str(i->key_usage_text);
	check_str(i->ext_key_usage_text);
	check_str(i->not_before_iso);
	check_str(i->not_after_iso);
	if (i->san_count > BW_X509_MAX_SANS || i->san_count > i->san_total)
		abort();
	for (uint32_t k = 0; k < i->san_count; k++)
		check_str(i->san[k].value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x509_st *x = NULL;
	if (bw_x509_parse(data, size, &x, NULL) != BW_OK)
		return 0;
	bw_x509_decode_x509(x, data, size, NULL, &info, &arena);
	if (arena.used > sizeof(arena.buf))
		abort();
	check_info(&info);
	char *text = aligned_alloc(16, (arena.used + 16) & ~(size_t)15);
	if (text && bw_x509_info_copy(&info, &arena, &copy, text, arena.used) == BW_OK) {
		memset(arena.buf, 0, arena.used);
		check_info(&copy);
	}
	bw_x509_check_name(x, "www.example.com", 15, false);
	bw_x509_check_name(x, "192.0.2.1", 9, false);
	bw_x509_check_name(x, "2001:db8::1", 11, true);
	if (copy.san_count && text)
		bw_x509_check_name(x, copy.san[0].value, strlen(copy.san[0].value), false);
	if (text && copy.subject.cn[0])
		bw_x509_check_name(x, copy.subject.cn, strlen(copy.subject.cn), false);
	free(text);
	if (!trust) {
		struct bw_x509_trust_config c = { .no_system = true };
		trust = bw_x509_trust_new_ex(&c, NULL, 0);
	}
	if (trust) {
		struct bw_x509_verify_opts o = { .time = (bw_time_t)1700000000 * BW_NSEC_PER_SEC, .name = "a.example.com" };
		struct bw_x509_verdict v;
		struct x509_st *chain[2] = { x, x };
		bw_x509_verify(trust, chain, 2, &o, &v);
	}
	bw_x509_free(x);
	return 0;
}
