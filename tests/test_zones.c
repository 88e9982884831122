/* SPDX-License-Identifier: MIT */
/* test_zones.c: zone files through ldns into the index, lookups, record comparison, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../parsers/dns.h"
#include "../sensor/zones.h"

static char dir[256];

static void put(const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static const char *path(const char *name)
{
	static char p[4][512];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static int setup(void **state)
{
	(void)state;
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/bw_zones_XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/inc", dir);
	mkdir(sub, 0700);

	put("example.com.zone",
	    "; the parent zone\n"
	    "$ORIGIN example.com.\n"
	    "@ 3600 IN SOA ns1 hostmaster (\n"       /* line 3 */
	    "        2024010101 ; serial\n"
	    "        7200 900 1209600 300 )\n"
	    "        IN NS ns1\n"                    /* line 6: blank owner = @ */
	    "        IN NS NS2.Example.NET.\n"
	    "ns1     IN A 192.0.2.1\n"               /* line 8: TTL 3600, the last explicit */
	    "www 600 IN CNAME Target.Example.ORG.\n"
	    "www     IN CNAME target.example.org.\n" /* the same record again (case only) */
	    "mail    IN MX 10 mx1\n"
	    "mx1     IN A 192.0.2.25\n"
	    "txt     IN TXT \"Hello; World\" ( \"two\"\n"
	    "             \"three\" )\n"
	    "deep.ent.chain IN A 192.0.2.7\n"
	    "sub     IN NS ns.sub\n"                 /* delegation, with glue */
	    "ns.sub  IN A 192.0.2.53\n"
	    "$TTL 120\n"
	    "ttl1    IN A 192.0.2.11\n"
	    "ttl2 99 IN A 192.0.2.12\n"
	    "ttl3    IN A 192.0.2.13\n"
	    "$INCLUDE inc/hosts.db hosts\n"
	    "after   IN A 192.0.2.99\n"
	    "_sip._tcp IN SRV 0 5 5060 SIP.example.com.\n"
	    "caa     IN CAA 0 issue \"letsencrypt.org\"\n"
	    "\\066ig\\.dot IN A 192.0.2.66\n");
	put("inc/hosts.db",
	    "h1 IN A 10.0.0.1\n"
	    "$ORIGIN other.example.com.\n"
	    "h2 IN A 10.0.0.2\n"
	    "$TTL 5\n"
	    "h3 IN AAAA 2001:db8::3\n");
	put("sub.example.com.zone",
	    "$TTL 300\n"
	    "$ORIGIN sub.example.com.\n"
	    "@ IN SOA ns hostmaster 7 3600 600 86400 60\n"
	    "@ IN NS ns\n"
	    "ns IN A 192.0.2.54\n"
	    "www IN A 192.0.2.80\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct bw_zones *load2(void)
{
	const char *p[] = { path("example.com.zone"), path("sub.example.com.zone") };
	char err[512];
	struct bw_zones *z;
	int rc = bw_zones_load(p, 2, &z, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, BW_OK);
	return z;
}

static const struct bw_zone_rr *one(const struct bw_zones *z, const char *name, uint16_t type)
{
	size_t n;
	const struct bw_zone_rr *r = bw_zones_lookup(z, name, type, &n);
	assert_int_equal(n, 1);
	return r;
}

static void test_load_and_lookup(void **state)
{
	(void)state;
	struct bw_zones *z = load2();
	assert_int_equal(bw_zones_count(z), 2);
	const struct bw_zone *zn = bw_zones_at(z, 0);
	assert_string_equal(zn->origin, "example.com");
	assert_int_equal(zn->serial, 2024010101);
	assert_int_equal(zn->nns, 2);
	assert_string_equal(zn->ns[0], "ns1.example.com");
	assert_string_equal(zn->ns[1], "ns2.example.net");
	assert_int_equal(zn->apex_len, 13);
	assert_memory_equal(zn->apex, "\7example\3com\0", 13);

	size_t n;
	const struct bw_zone_rr *r = bw_zones_lookup(z, "example.com", 2, &n);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].line, 6);
	assert_int_equal(r[0].ttl, 3600);
	r = one(z, "ns1.example.com", 1);
	assert_int_equal(r->ttl, 3600);
	assert_int_equal(r->line, 8);
	assert_int_equal(r->rdlen, 4);
	assert_memory_equal(r->rdata, "\xc0\x00\x02\x01", 4);
	assert_string_equal(r->text, "192.0.2.1");
	assert_string_equal(r->file, path("example.com.zone"));

	/* the repeated CNAME is kept once, with the first one's TTL and line */
	r = one(z, "WWW.Example.COM.", 5);
	assert_int_equal(r->ttl, 600);
	assert_int_equal(r->line, 9);
	assert_memory_equal(r->rdata, "\6target\7example\3org\0", 20); /* canonical: lower case */
	assert_memory_equal(r->owner, "\3www\7example\3com\0", 17);

	r = one(z, "txt.example.com", 16);
	assert_string_equal(r->text, "\"Hello; World\" \"two\" \"three\"");
	assert_int_equal(r->line, 13);
	r = one(z, "mail.example.com", 15);
	assert_memory_equal(r->rdata, "\0\12\3mx1\7example\3com\0", 19);

	/* TTLs: $TTL is the default from then on; explicit ones stay */
	assert_int_equal(one(z, "ttl1.example.com", 1)->ttl, 120);
	assert_int_equal(one(z, "ttl2.example.com", 1)->ttl, 99);
	assert_int_equal(one(z, "ttl3.example.com", 1)->ttl, 120);

	/* $INCLUDE with an origin; its $ORIGIN and $TTL stay inside it */
	r = one(z, "h1.hosts.example.com", 1);
	assert_int_equal(r->ttl, 120);
	assert_string_equal(r->file, path("inc/hosts.db"));
	assert_int_equal(r->line, 1);
	one(z, "h2.other.example.com", 1);
	assert_int_equal(one(z, "h3.other.example.com", 28)->ttl, 5);
	r = one(z, "after.example.com", 1);
	assert_int_equal(r->ttl, 120);
	assert_int_equal(r->line, 23);

	/* escapes in names */
	one(z, "Big\\.dot.example.com", 1);
	one(z, "\\066ig\\046dot.example.com", 1);
	assert_false(bw_zones_has_name(z, "big.dot.example.com"));

	/* ANY: every record of the name, by type */
	r = bw_zones_lookup(z, "example.com", 255, &n);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].type, 2);
	assert_int_equal(r[2].type, 6);
	assert_null(bw_zones_lookup(z, "example.com", 1, &n));
	assert_int_equal(n, 0);
	assert_null(bw_zones_lookup(z, "nx.example.com", 1, &n));
	assert_null(bw_zones_lookup(z, "bad..name", 1, &n));

	/* empty non-terminals exist, unknown names do not */
	assert_true(bw_zones_has_name(z, "deep.ent.chain.example.com"));
	assert_true(bw_zones_has_name(z, "ent.chain.example.com"));
	assert_true(bw_zones_has_name(z, "chain.example.com"));
	assert_true(bw_zones_has_name(z, "_tcp.example.com"));
	assert_false(bw_zones_has_name(z, "x.chain.example.com"));
	assert_false(bw_zones_has_name(z, "example.net"));
	assert_null(bw_zones_lookup(z, "chain.example.com", 255, &n));
	bw_zones_free(z);
	bw_zones_free(NULL);
}

static void test_nesting(void **state)
{
	(void)state;
	struct bw_zones *z = load2();
	const struct bw_zone *parent = bw_zones_find_zone(z, "example.com");
	const struct bw_zone *child = bw_zones_find_zone(z, "sub.example.com");
	assert_non_null(parent);
	assert_non_null(child);
	assert_string_equal(child->origin, "sub.example.com");
	assert_int_equal(child->serial, 7);
	assert_ptr_equal(bw_zones_find_zone(z, "a.b.www.sub.example.com."), child);
	assert_ptr_equal(bw_zones_find_zone(z, "subx.example.com"), parent);
	assert_ptr_equal(bw_zones_find_zone(z, "EXAMPLE.COM"), parent);
	assert_null(bw_zones_find_zone(z, "com"));
	assert_null(bw_zones_find_zone(z, "."));
	/* a name in the child answers from the child, glue in the parent is not consulted */
	const struct bw_zone_rr *r = one(z, "ns.sub.example.com", 1);
	assert_memory_equal(r->rdata, "\xc0\x00\x02\x36", 4);
	one(z, "www.sub.example.com", 1);
	size_t n;
	r = bw_zones_lookup(z, "sub.example.com", 2, &n);
	assert_int_equal(n, 1);
	assert_string_equal(r->file, path("sub.example.com.zone"));
	assert_int_equal(child->nns, 1);
	assert_string_equal(child->ns[0], "ns.sub.example.com");

	/* wire variants */
	static const uint8_t w[] = "\3WWW\3sub\7example\3com";
	assert_ptr_equal(bw_zones_find_zone_wire(z, w, sizeof(w)), child);
	assert_true(bw_zones_has_name_wire(z, w, sizeof(w)));
	assert_non_null(bw_zones_lookup_wire(z, w, sizeof(w), 1, &n));
	assert_int_equal(n, 1);
	assert_null(bw_zones_find_zone_wire(z, w, sizeof(w) - 1)); /* no root label */
	bw_zones_free(z);
}

static void test_root_and_origin(void **state)
{
	(void)state;
	/* no $ORIGIN: the origin given, else the root */
	static const char zf[] = "@ 60 IN SOA a. b. 1 2 3 4 5\nwww A 192.0.2.1\n";
	char err[256];
	struct bw_zones *z;
	assert_int_equal(bw_zones_load_buffer("b.zone", zf, sizeof(zf) - 1, "example.org", &z, err, sizeof(err)), BW_OK);
	assert_string_equal(bw_zones_at(z, 0)->origin, "example.org");
	one(z, "www.example.org", 1);
	bw_zones_free(z);
	assert_int_equal(bw_zones_load_buffer("b.zone", zf, sizeof(zf) - 1, NULL, &z, err, sizeof(err)), BW_OK);
	assert_string_equal(bw_zones_at(z, 0)->origin, ".");
	assert_ptr_equal(bw_zones_find_zone(z, "anything.at.all"), bw_zones_at(z, 0));
	assert_ptr_equal(bw_zones_find_zone(z, ""), bw_zones_at(z, 0));
	one(z, "www", 1);
	bw_zones_free(z);
	/* $TTL 0 stays 0 (ldns alone would read it as 3600) */
	static const char z0[] = "$TTL 0\n@ IN SOA a. b. 1 2 3 4 5\nwww A 192.0.2.1\n";
	assert_int_equal(bw_zones_load_buffer("b.zone", z0, sizeof(z0) - 1, "x", &z, err, sizeof(err)), BW_OK);
	assert_int_equal(one(z, "www.x", 1)->ttl, 0);
	bw_zones_free(z);
}

struct bad {
	const char *text;
	int rc;
	const char *msg; /* after "b.zone:" */
};

static void test_errors(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\nwww IN A 999.1.1.1\n", BW_EMALF,
		  "b.zone:3: Syntax error, could not parse the RR's rdata" },
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\n\n; comment\nwww IN FOO 1\n", BW_EMALF,
		  "b.zone:5: Syntax error, could not parse the RR's rdata" },
		{ "$ORIGIN x.\n@ IN SOA a b (\n 1 2 3\n 4 5\nwww IN A 1.2.3.4\n", BW_EMALF, "b.zone:2: unbalanced '('" },
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5 )\n", BW_EMALF, "b.zone:2: unbalanced ')'" },
		{ "$ORIGIN x.\nwww IN A 1.2.3.4\n", BW_EMALF, "b.zone:2: the first record must be the zone's SOA" },
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\n@ IN SOA a b 2 2 3 4 5\n", BW_EMALF, "b.zone:3: a second SOA record" },
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\nwww.y. IN A 1.2.3.4\n", BW_EMALF, "b.zone:3: www.y is outside the zone x" },
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\n$GENERATE 1-9 h$ A 1.2.3.$\n", BW_EMALF,
		  "b.zone:3: unsupported directive '$GENERATE'" },
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\n$TTL 1x\n", BW_EMALF, "b.zone:3: $TTL: bad value '1x'" },
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\n$TTL\n", BW_EMALF, "b.zone:3: $TTL needs one TTL value" },
		{ "$ORIGIN\n", BW_EMALF, "b.zone:1: $ORIGIN needs one domain name" },
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\n$INCLUDE other.db\n", BW_EINVAL,
		  "b.zone:3: $INCLUDE is not allowed here" },
		{ " IN A 1.2.3.4\n", BW_EMALF, "b.zone:1: no previous owner for a record starting with a blank" },
		{ "; nothing\n\n", BW_EMALF, "b.zone: no records (a zone starts with its SOA)" },
		{ "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\nw\0 A 1.2.3.4\n", BW_EMALF, "b.zone:3: NUL byte" },
	};
	char err[512];
	for (size_t i = 0; i < BW_ARRAY_SIZE(cases); i++) {
		struct bw_zones *z = (void *)1;
		size_t len = strlen(cases[i].text);
		if (strstr(cases[i].msg, "NUL"))
			len += 1 + strlen(cases[i].text + len + 1);
		int rc = bw_zones_load_buffer("b.zone", cases[i].text, len, NULL, &z, err, sizeof(err));
		if (rc != cases[i].rc || strcmp(err, cases[i].msg))
			fprintf(stderr, "case %zu: rc %d, '%s'\n", i, rc, err);
		assert_int_equal(rc, cases[i].rc);
		assert_string_equal(err, cases[i].msg);
		assert_null(z);
	}
}

static void test_file_errors(void **state)
{
	(void)state;
	char err[1024], want[1024];
	struct bw_zones *z;
	/* a syntax error inside an included file names that file and line */
	put("bad-inc.zone", "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\n$INCLUDE inc/broken.db\n");
	put("inc/broken.db", "ok IN A 1.2.3.4\n\nbad IN MX mx\n");
	const char *p1[] = { path("bad-inc.zone") };
	assert_int_equal(bw_zones_load(p1, 1, &z, err, sizeof(err)), BW_EMALF);
	snprintf(want, sizeof(want), "%s:3: Syntax error, could not parse the RR's rdata", path("inc/broken.db"));
	assert_string_equal(err, want);
	assert_null(z);

	put("missing-inc.zone", "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\n\n$INCLUDE nope.db\n");
	const char *p2[] = { path("missing-inc.zone") };
	assert_int_equal(bw_zones_load(p2, 1, &z, err, sizeof(err)), BW_ENOENT);
	snprintf(want, sizeof(want), "%s:4: $INCLUDE %s: No such file or directory", path("missing-inc.zone"),
		 path("nope.db"));
	assert_string_equal(err, want);

	put("loop.zone", "$ORIGIN x.\n@ IN SOA a b 1 2 3 4 5\n$INCLUDE loop.db\n");
	put("loop.db", "$INCLUDE loop.db\n");
	const char *p3[] = { path("loop.zone") };
	assert_int_equal(bw_zones_load(p3, 1, &z, err, sizeof(err)), BW_ELIMIT);
	assert_non_null(strstr(err, "loop.db:1: $INCLUDE nested deeper than 8"));

	const char *p4[] = { path("example.com.zone"), path("example.com.zone") };
	assert_int_equal(bw_zones_load(p4, 2, &z, err, sizeof(err)), BW_EINVAL);
	snprintf(want, sizeof(want), "%s:3: zone example.com is already loaded from %s", path("example.com.zone"),
		 path("example.com.zone"));
	assert_string_equal(err, want);

	const char *p5[] = { path("no-such.zone") };
	assert_int_equal(bw_zones_load(p5, 1, &z, err, sizeof(err)), BW_ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path("no-such.zone"));
	assert_string_equal(err, want);
	const char *p6[] = { dir };
	assert_int_equal(bw_zones_load(p6, 1, &z, err, sizeof(err)), BW_EIO);

	/* zero files is an empty set */
	assert_int_equal(bw_zones_load(NULL, 0, &z, err, sizeof(err)), BW_OK);
	assert_int_equal(bw_zones_count(z), 0);
	assert_null(bw_zones_find_zone(z, "example.com"));
	assert_false(bw_zones_has_name(z, "example.com"));
	bw_zones_free(z);
}

static void test_names(void **state)
{
	(void)state;
	uint8_t w[256];
	assert_int_equal(bw_zones_name_to_wire("", w, sizeof(w)), 1);
	assert_int_equal(bw_zones_name_to_wire(".", w, sizeof(w)), 1);
	assert_int_equal(w[0], 0);
	assert_int_equal(bw_zones_name_to_wire("A.b", w, sizeof(w)), 5);
	assert_memory_equal(w, "\1a\1b\0", 5);
	assert_int_equal(bw_zones_name_to_wire("a.b.", w, sizeof(w)), 5);
	assert_int_equal(bw_zones_name_to_wire("a\\.b", w, sizeof(w)), 5);
	assert_memory_equal(w, "\3a.b\0", 5);
	assert_int_equal(bw_zones_name_to_wire("\\000\\255", w, sizeof(w)), 4);
	assert_memory_equal(w, "\2\0\377\0", 4);
	assert_int_equal(bw_zones_name_to_wire("a..b", w, sizeof(w)), BW_EINVAL);
	assert_int_equal(bw_zones_name_to_wire(".a", w, sizeof(w)), BW_EINVAL);
	assert_int_equal(bw_zones_name_to_wire("a..", w, sizeof(w)), BW_EINVAL);
	assert_int_equal(bw_zones_name_to_wire("\\256", w, sizeof(w)), BW_EINVAL);
	assert_int_equal(bw_zones_name_to_wire("\\12", w, sizeof(w)), BW_EINVAL);
	assert_int_equal(bw_zones_name_to_wire("a\\", w, sizeof(w)), BW_EINVAL);
	char l63[70], l64[70], big[300];
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	assert_int_equal(bw_zones_name_to_wire(l63, w, sizeof(w)), 65);
	assert_int_equal(bw_zones_name_to_wire(l64, w, sizeof(w)), BW_EINVAL);
	/* 4 x 63-byte labels = 257 octets: too long; 3 x 63 + a 61-byte label = 255: fits */
	snprintf(big, sizeof(big), "%s.%s.%s.%s", l63, l63, l63, l63);
	assert_int_equal(bw_zones_name_to_wire(big, w, sizeof(w)), BW_EINVAL);
	snprintf(big, sizeof(big), "%s.%s.%s.%.61s", l63, l63, l63, l63);
	assert_int_equal(bw_zones_name_to_wire(big, w, sizeof(w)), 255);
	snprintf(big, sizeof(big), "%s.%s.%s.%.62s", l63, l63, l63, l63);
	assert_int_equal(bw_zones_name_to_wire(big, w, sizeof(w)), BW_EINVAL);
}

/* An answer as a server would send it, compressed, with names in mixed case. */
static const uint8_t answer[] = {
	0x12, 0x34, 0x84, 0x00, 0, 1, 0, 5, 0, 0, 0, 0,
	/* question www.example.com A: name at offset 12 */
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
	/* www CNAME TARGET.example.ORG */
	0xc0, 12, 0, 5, 0, 1, 0, 0, 2, 0x58, 0, 20,
	6, 'T', 'A', 'R', 'G', 'E', 'T', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'O', 'R', 'G', 0,
	/* mail.example.com MX 10 MX1.<example.com> (compressed) */
	4, 'm', 'a', 'i', 'l', 0xc0, 16, 0, 15, 0, 1, 0, 0, 0x0e, 0x10, 0, 8,
	0, 10, 3, 'M', 'X', '1', 0xc0, 16,
	/* mail.example.com MX 20 mx1.example.com: preference differs */
	0xc0, 65, 0, 15, 0, 1, 0, 0, 0x0e, 0x10, 0, 8,
	0, 20, 3, 'm', 'x', '1', 0xc0, 16,
	/* txt.example.com TXT "hello; world" "two" "three": case matters in TXT */
	3, 't', 'x', 't', 0xc0, 16, 0, 16, 0, 1, 0, 0, 0, 60, 0, 23,
	12, 'h', 'e', 'l', 'l', 'o', ';', ' ', 'w', 'o', 'r', 'l', 'd', 3, 't', 'w', 'o', 5, 't', 'h', 'r', 'e', 'e',
	/* example.com SOA NS1.example.com hostmaster.example.com 2024010101 7200 900 1209600 300 */
	0xc0, 16, 0, 6, 0, 1, 0, 0, 0x0e, 0x10, 0, 39,
	3, 'N', 'S', '1', 0xc0, 16, 10, 'h', 'o', 's', 't', 'm', 'a', 's', 't', 'e', 'r', 0xc0, 16,
	0x78, 0xa3, 0xf1, 0x75, 0, 0, 0x1c, 0x20, 0, 0, 0x03, 0x84, 0, 0x12, 0x75, 0, 0, 0, 0x01, 0x2c,
};

static void test_record_matches(void **state)
{
	(void)state;
	struct bw_zones *z = load2();
	struct bw_dns_msg *msg = malloc(sizeof(*msg));
	assert_non_null(msg);
	assert_int_equal(bw_dns_parse(answer, sizeof(answer), msg, NULL), BW_OK);
	assert_int_equal(msg->n_rr, 5);
	uint8_t rd[512];
	bool want[] = { true, true, false, false, true };
	const char *owner[] = { "www.example.com", "mail.example.com", "mail.example.com", "txt.example.com",
				"example.com" };
	for (int i = 0; i < 5; i++) {
		const struct bw_dns_rr *rr = &msg->rr[i];
		int len = bw_dns_rdata_uncompressed(msg, rr, rd, sizeof(rd));
		assert_true(len > 0);
		size_t n;
		const struct bw_zone_rr *e = bw_zones_lookup(z, owner[i], rr->type, &n);
		assert_int_equal(n, 1);
		assert_int_equal(bw_zone_record_matches(e, rr->type, rd, (size_t)len), want[i]);
	}
	/* the same SOA with another serial differs */
	int len = bw_dns_rdata_uncompressed(msg, &msg->rr[4], rd, sizeof(rd));
	size_t n;
	const struct bw_zone_rr *soa = bw_zones_lookup(z, "example.com", 6, &n);
	rd[len - 17] ^= 1;
	assert_false(bw_zone_record_matches(soa, 6, rd, (size_t)len));
	/* TXT: the stored record is "Hello; World" */
	const struct bw_zone_rr *t = one(z, "txt.example.com", 16);
	static const uint8_t txt_ok[] = "\14Hello; World\3two\5three";
	assert_true(bw_zone_record_matches(t, 16, txt_ok, sizeof(txt_ok) - 1));
	assert_false(bw_zone_record_matches(t, 16, txt_ok, sizeof(txt_ok) - 2));
	assert_false(bw_zone_record_matches(t, 1, txt_ok, sizeof(txt_ok) - 1)); /* wrong type */
	/* names of RFC 4034 6.2 types compare without case, their other fields exactly */
	const struct bw_zone_rr *srv = one(z, "_sip._tcp.example.com", 33);
	static const uint8_t srv_ok[] = "\0\0\0\5\x13\xc4\3sIp\7EXAMPLE\3com";
	static const uint8_t srv_port[] = "\0\0\0\5\x13\xc5\3sip\7example\3com";
	assert_true(bw_zone_record_matches(srv, 33, srv_ok, sizeof(srv_ok)));
	assert_false(bw_zone_record_matches(srv, 33, srv_port, sizeof(srv_port)));
	assert_false(bw_zone_record_matches(srv, 33, srv_ok, sizeof(srv_ok) - 1)); /* truncated name */
	assert_false(bw_zone_record_matches(srv, 33, srv_ok, 3));
	static const uint8_t srv_long[] = "\0\0\0\5\x13\xc4\3sip\7example\3com\0x";
	assert_false(bw_zone_record_matches(srv, 33, srv_long, sizeof(srv_long) - 1));
	/* CAA is not in the list: byte for byte */
	const struct bw_zone_rr *caa = one(z, "caa.example.com", 257);
	static const uint8_t caa_ok[] = "\0\5issueletsencrypt.org";
	static const uint8_t caa_uc[] = "\0\5issueLetsEncrypt.org";
	assert_true(bw_zone_record_matches(caa, 257, caa_ok, sizeof(caa_ok) - 1));
	assert_false(bw_zone_record_matches(caa, 257, caa_uc, sizeof(caa_uc) - 1));
	assert_false(bw_zone_record_matches(NULL, 1, caa_ok, 1));
	free(msg);
	bw_zones_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_and_lookup), cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_root_and_origin), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_file_errors),     cmocka_unit_test(test_names),
		cmocka_unit_test(test_record_matches),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
