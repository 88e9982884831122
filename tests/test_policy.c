/* SPDX-License-Identifier: MIT */
/*
 * test_policy.c: the policy loader. Every key and type of a full policy;
 * every kind of mistake with its exact "FILE:LINE:COL: message"; relative
 * path resolution (buffer and file); extra CA files that are missing or not
 * files; SPKI pin base64; YAML safety (anchors, aliases, tags, depth, node
 * and list caps, file size); the two example policies; the queries; and
 * bw_policy_dump, whose output must load back to the same policy.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/alerts.h"
#include "sensor/policy.h"

static char errbuf[1024];

/* snprintf without the compiler's truncation guesswork on long temp paths. */
static void setf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void setf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

static struct bw_policy *load_base(const char *yaml, const char *base)
{
	struct bw_policy *p = (struct bw_policy *)0x1;
	int rc = bw_policy_load_buffer("policy.yaml", yaml, strlen(yaml), base, &p, errbuf, sizeof(errbuf));
	if (rc != BW_OK)
		fail_msg("load failed (%d): %s\n--- input:\n%s", rc, errbuf, yaml);
	assert_non_null(p);
	assert_string_equal(errbuf, "");
	return p;
}

static struct bw_policy *load(const char *yaml) { return load_base(yaml, "/etc/bw"); }

/* Returns the error text (errbuf) of a load that must fail with BW_EINVAL. */
static const char *load_err_len(const char *yaml, size_t len, const char *base)
{
	struct bw_policy *p = (struct bw_policy *)0x1;
	errbuf[0] = 0;
	int rc = bw_policy_load_buffer("policy.yaml", yaml, len, base, &p, errbuf, sizeof(errbuf));
	if (rc == BW_OK) {
		bw_policy_free(p);
		fail_msg("loaded but should not have:\n%s", yaml);
	}
	assert_int_equal(rc, BW_EINVAL);
	assert_null(p);
	return errbuf;
}

static const char *load_err(const char *yaml) { return load_err_len(yaml, strlen(yaml), "/nonexistent"); }

static struct bw_ip ip(const char *s)
{
	struct bw_ip a;
	memset(&a, 0, sizeof(a));
	a.family = strchr(s, ':') ? 6 : 4;
	assert_int_equal(inet_pton(a.family == 6 ? AF_INET6 : AF_INET, s, a.a), 1);
	return a;
}

static bool owns_name(const struct bw_policy *p, const char *n) { return bw_policy_owns_name(p, n, strlen(n)); }
static bool owns_addr(const struct bw_policy *p, const char *a)
{
	struct bw_ip x = ip(a);
	return bw_policy_owns_addr(p, &x);
}
static bool cloud_name(const struct bw_policy *p, const char *n)
{
	return bw_policy_cloud_resource_name(p, n, strlen(n));
}
static bool cloud_addr(const struct bw_policy *p, const char *a)
{
	struct bw_ip x = ip(a);
	return bw_policy_cloud_resource_addr(p, &x);
}
static bool xfer(const struct bw_policy *p, const char *a)
{
	struct bw_ip x = ip(a);
	return bw_policy_transfer_allowed(p, &x);
}

/* One policy with every key set, and what each becomes. */
static const char full_policy[] = "owned:\n"
				  "  domains: [Example.COM., example.org, _dmarc.example.net, xn--bcher-kva.example]\n"
				  "  networks: [192.0.2.0/24, \"2001:db8::/32\", 203.0.113.5]\n"
				  "  cloud_resources:\n"
				  "    - assets-example.s3.amazonaws.com\n"
				  "    - \"*.example-cdn.azureedge.net\"\n"
				  "    - .example.cloudfront.net\n"
				  "    - 198.51.100.7\n"
				  "    - \"2001:db8:ffff::/48\"\n"
				  "  zones: [zones/example.com.zone, /var/zones/example.org.zone]\n"
				  "certificates:\n"
				  "  expiry_warning_days: 30\n"
				  "  allowed_issuers: [LetsEncrypt.org, digicert.com.]\n"
				  "  extra_ca_files: []\n"
				  "  pins:\n"
				  "    - names: [api.example.com, \"*.api.example.com\"]\n"
				  "      spki_sha256: [\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"]\n"
				  "    - names: [.example.com]\n"
				  "      spki_sha256:\n"
				  "        - \"sha256/LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=\"\n"
				  "        - LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=\n"
				  "  fetch:\n"
				  "    enabled: true\n"
				  "    source_address: \"2001:db8::9\"\n"
				  "    refresh_seconds: 43200\n"
				  "    max_per_minute: 30\n"
				  "    timeout_seconds: 10\n"
				  "dns:\n"
				  "  allowed_transfer_clients: [192.0.2.53, 198.51.100.0/28, \"2001:db8::53\"]\n"
				  "alerts:\n"
				  "  suppress_seconds: 600\n"
				  "  ignore:\n"
				  "    - type: cert_changed\n"
				  "      names: [dev.example.com]\n"
				  "    - {type: dns_record_drift, names: [\"*.test.example.org\"]}\n"
				  "    - type: caa_missing\n"
				  "    - type: cert_changed\n"
				  "      names: [.lab.example.com]\n"
				  "data:\n"
				  "  takeover_services: data/takeover.tsv\n"
				  "  cloud_ranges: /usr/share/bw/cloud.tsv\n"
				  "  caa_issuers: caa.tsv\n"
				  "outputs: [\"jsonl:-\", 'syslog+tcp://collector:601?format=leef']\n";

static void test_full_policy(void **state)
{
	(void)state;
	struct bw_policy *p = load(full_policy);
	assert_string_equal(p->path, "policy.yaml");
	assert_int_equal(p->mtime.tv_sec, 0);
	assert_int_equal(p->size, strlen(full_policy));

	assert_int_equal(bw_nameset_count(p->owned.domains), 4);
	assert_string_equal(bw_nameset_get(p->owned.domains, 0), "example.com");
	assert_string_equal(bw_nameset_get(p->owned.domains, 3), "xn--bcher-kva.example");
	assert_true(owns_name(p, "www.EXAMPLE.com."));
	assert_true(owns_name(p, "example.org"));
	assert_true(owns_name(p, "_dmarc.example.net"));
	assert_false(owns_name(p, "example.net"));
	assert_false(owns_name(p, "badexample.com"));

	assert_int_equal(bw_cidrset_count(p->owned.networks), 3);
	assert_true(owns_addr(p, "192.0.2.77"));
	assert_true(owns_addr(p, "2001:db8:1::1"));
	assert_true(owns_addr(p, "203.0.113.5"));
	assert_false(owns_addr(p, "203.0.113.6"));
	assert_false(owns_addr(p, "198.51.100.7")); /* a cloud address, not a network we run */

	assert_int_equal(bw_namepat_count(p->owned.cloud_names), 3);
	assert_true(cloud_name(p, "assets-example.s3.amazonaws.com"));
	assert_false(cloud_name(p, "other.s3.amazonaws.com"));
	assert_true(cloud_name(p, "x.example-cdn.azureedge.net"));
	assert_false(cloud_name(p, "example-cdn.azureedge.net"));
	assert_true(cloud_name(p, "example.cloudfront.net"));
	assert_true(cloud_name(p, "a.b.example.cloudfront.net"));
	assert_true(cloud_addr(p, "198.51.100.7"));
	assert_false(cloud_addr(p, "198.51.100.8"));
	assert_true(cloud_addr(p, "2001:db8:ffff:1::"));
	assert_int_equal(p->owned.n_zones, 2);
	assert_string_equal(p->owned.zones[0], "/etc/bw/zones/example.com.zone");
	assert_string_equal(p->owned.zones[1], "/var/zones/example.org.zone");

	assert_int_equal(p->certificates.expiry_warning_days, 30);
	assert_true(bw_policy_issuer_allowed(p, "letsencrypt.org"));
	assert_true(bw_policy_issuer_allowed(p, "LETSENCRYPT.ORG."));
	assert_true(bw_policy_issuer_allowed(p, " digicert.com; cansignhttpexchanges=yes"));
	assert_false(bw_policy_issuer_allowed(p, "pki.goog"));
	assert_false(bw_policy_issuer_allowed(p, "sub.letsencrypt.org"));
	assert_false(bw_policy_issuer_allowed(p, ";"));
	assert_false(bw_policy_issuer_allowed(p, ""));
	assert_false(bw_policy_issuer_allowed(p, NULL));
	assert_int_equal(p->certificates.n_extra_ca_files, 0);

	assert_int_equal(p->certificates.n_pins, 2);
	const struct bw_policy_pin *pin = &p->certificates.pins[0];
	assert_int_equal(pin->line, 16);
	assert_int_equal(pin->n_spki, 1);
	assert_string_equal(pin->spki_base64[0], "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	/* SHA-256 of the empty string. */
	static const uint8_t empty_sha[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
					      0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
					      0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	assert_memory_equal(pin->spki[0], empty_sha, 32);
	assert_ptr_equal(bw_policy_pin_for(p, "api.example.com"), &p->certificates.pins[0]);
	assert_ptr_equal(bw_policy_pin_for(p, "v1.api.example.com"), &p->certificates.pins[0]);
	/* First match wins: api.example.com is also under .example.com. */
	assert_ptr_equal(bw_policy_pin_for(p, "www.example.com"), &p->certificates.pins[1]);
	assert_ptr_equal(bw_policy_pin_for(p, "example.com"), &p->certificates.pins[1]);
	assert_null(bw_policy_pin_for(p, "example.org"));
	assert_null(bw_policy_pin_for(p, NULL));
	assert_int_equal(p->certificates.pins[1].n_spki, 2);
	assert_string_equal(p->certificates.pins[1].spki_base64[0], "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
	assert_string_equal(p->certificates.pins[1].spki_base64[1], "LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=");

	const struct bw_policy_fetch *f = &p->certificates.fetch;
	assert_true(f->enabled);
	struct bw_ip src = ip("2001:db8::9");
	assert_memory_equal(&f->source_address, &src, sizeof(src));
	assert_int_equal(f->refresh_seconds, 43200);
	assert_int_equal(f->max_per_minute, 30);
	assert_int_equal(f->timeout_seconds, 10);

	assert_true(xfer(p, "192.0.2.53"));
	assert_false(xfer(p, "192.0.2.54"));
	assert_true(xfer(p, "198.51.100.15"));
	assert_false(xfer(p, "198.51.100.16"));
	assert_true(xfer(p, "2001:db8::53"));

	assert_int_equal(p->alerts.suppress_seconds, 600);
	assert_int_equal(p->alerts.n_ignore, 4);
	assert_int_equal(p->alerts.ignore[0].type, BW_AL_CERT_CHANGED);
	assert_int_equal(p->alerts.ignore[0].line, 33);
	assert_null(p->alerts.ignore[2].names);
	assert_true(bw_policy_ignored(p, "cert_changed", "dev.example.com"));
	assert_true(bw_policy_ignored(p, "cert_changed", "DEV.example.com."));
	assert_false(bw_policy_ignored(p, "cert_changed", "www.dev.example.com"));
	assert_true(bw_policy_ignored(p, "cert_changed", "a.lab.example.com")); /* the second cert_changed rule */
	assert_false(bw_policy_ignored(p, "cert_changed", "prod.example.com"));
	assert_false(bw_policy_ignored(p, "cert_changed", NULL));
	assert_false(bw_policy_ignored(p, "cert_expired", "dev.example.com"));
	assert_true(bw_policy_ignored(p, "dns_record_drift", "a.test.example.org"));
	assert_false(bw_policy_ignored(p, "dns_record_drift", "test.example.org"));
	assert_true(bw_policy_ignored(p, "caa_missing", "anything.example"));
	assert_true(bw_policy_ignored(p, "caa_missing", NULL));
	assert_false(bw_policy_ignored(p, "no_such_type", NULL));
	assert_false(bw_policy_ignored(p, NULL, NULL));
	assert_true(bw_policy_ignored_type(p, BW_AL_CAA_MISSING, "x", 1));
	assert_false(bw_policy_ignored_type(p, BW_AL__COUNT, "x", 1));
	assert_true(bw_policy_ignored_type(p, BW_AL_CERT_CHANGED, "dev.example.com.junk", 15));

	assert_string_equal(p->data.takeover_services, "/etc/bw/data/takeover.tsv");
	assert_string_equal(p->data.cloud_ranges, "/usr/share/bw/cloud.tsv");
	assert_string_equal(p->data.caa_issuers, "/etc/bw/caa.tsv");
	assert_int_equal(p->n_outputs, 2);
	assert_string_equal(p->outputs[0], "jsonl:-");
	assert_string_equal(p->outputs[1], "syslog+tcp://collector:601?format=leef");
	bw_policy_free(p);
}

static void test_empty_and_defaults(void **state)
{
	(void)state;
	static const char *const empties[] = {"",
					      "\n",
					      "# only a comment\n",
					      "{}",
					      "---\n",
					      "--- {}\n...\n",
					      "~\n",
					      "null",
					      "owned:\ncertificates:\n",
					      "owned: {}\ndata: ~\n",
					      "owned:\n  domains: []\n  networks:\n"};
	for (size_t i = 0; i < BW_ARRAY_SIZE(empties); i++) {
		struct bw_policy *p = load(empties[i]);
		assert_int_equal(bw_nameset_count(p->owned.domains), 0);
		assert_int_equal(bw_cidrset_count(p->owned.networks), 0);
		assert_int_equal(p->owned.n_zones, 0);
		assert_int_equal(p->certificates.expiry_warning_days, BW_POLICY_DEFAULT_EXPIRY_WARNING_DAYS);
		assert_int_equal(p->certificates.n_pins, 0);
		assert_false(p->certificates.fetch.enabled);
		assert_int_equal(p->certificates.fetch.source_address.family, 0);
		assert_int_equal(p->certificates.fetch.refresh_seconds, 86400);
		assert_int_equal(p->certificates.fetch.max_per_minute, 60);
		assert_int_equal(p->certificates.fetch.timeout_seconds, 5);
		assert_int_equal(p->alerts.suppress_seconds, 3600);
		assert_int_equal(p->alerts.n_ignore, 0);
		assert_null(p->data.takeover_services);
		assert_null(p->data.cloud_ranges);
		assert_null(p->data.caa_issuers);
		assert_int_equal(p->n_outputs, 0);
		/* An empty policy: owns nothing, any issuer, no pins, nothing ignored, no transfers. */
		assert_false(owns_name(p, "example.com"));
		assert_false(owns_addr(p, "192.0.2.1"));
		assert_true(bw_policy_issuer_allowed(p, "anyone.example"));
		assert_true(bw_policy_issuer_allowed(p, NULL));
		assert_null(bw_policy_pin_for(p, "example.com"));
		assert_false(bw_policy_ignored(p, "cert_changed", "example.com"));
		assert_false(xfer(p, "192.0.2.53"));
		bw_policy_free(p);
	}
	/* A NULL policy answers the same way. */
	struct bw_ip a = ip("192.0.2.1");
	assert_false(bw_policy_owns_name(NULL, "a", 1));
	assert_false(bw_policy_owns_addr(NULL, &a));
	assert_false(bw_policy_cloud_resource_name(NULL, "a", 1));
	assert_false(bw_policy_cloud_resource_addr(NULL, &a));
	assert_true(bw_policy_issuer_allowed(NULL, "x"));
	assert_null(bw_policy_pin_for(NULL, "a"));
	assert_false(bw_policy_ignored(NULL, "cert_changed", NULL));
	assert_false(bw_policy_transfer_allowed(NULL, &a));
	bw_policy_free(NULL);
	assert_int_equal(bw_policy_dump(NULL, stdout), BW_EINVAL);
}

static void test_bounds_of_values(void **state)
{
	(void)state;
	struct bw_policy *p = load("certificates:\n  expiry_warning_days: 0\n  fetch:\n    enabled: FALSE\n"
				   "    refresh_seconds: 60\n    max_per_minute: 1\n    timeout_seconds: 1\n"
				   "alerts:\n  suppress_seconds: 0\n");
	assert_int_equal(p->certificates.expiry_warning_days, 0);
	assert_false(p->certificates.fetch.enabled);
	assert_int_equal(p->certificates.fetch.refresh_seconds, 60);
	assert_int_equal(p->alerts.suppress_seconds, 0);
	bw_policy_free(p);
	p = load("certificates:\n  expiry_warning_days: +3650\n  fetch:\n    enabled: True\n"
		 "    refresh_seconds: 2592000\n    max_per_minute: 100000\n    timeout_seconds: 600\n"
		 "    source_address: 192.0.2.9\n"
		 "alerts:\n  suppress_seconds: 2592000\n");
	assert_int_equal(p->certificates.expiry_warning_days, 3650);
	assert_true(p->certificates.fetch.enabled);
	assert_int_equal(p->certificates.fetch.source_address.family, 4);
	assert_int_equal(p->certificates.fetch.max_per_minute, 100000);
	assert_int_equal(p->certificates.fetch.timeout_seconds, 600);
	assert_int_equal(p->alerts.suppress_seconds, 2592000);
	bw_policy_free(p);
	/* The alert storm limit: absent is 0 (the built-in rate), otherwise 1..1e8. */
	p = load("alerts:\n  rate_limit_per_minute: 1\n  rate_limit_burst: 100000000\n");
	assert_int_equal(p->alerts.rate_limit_per_minute, 1);
	assert_int_equal(p->alerts.rate_limit_burst, 100000000);
	bw_policy_free(p);
	p = load("alerts:\n  suppress_seconds: 5\n");
	assert_int_equal(p->alerts.rate_limit_per_minute, 0);
	assert_int_equal(p->alerts.rate_limit_burst, 0);
	bw_policy_free(p);
	assert_non_null(strstr(load_err("alerts:\n  rate_limit_per_minute: 0\n"), "between 1 and 100000000"));
	assert_non_null(strstr(load_err("alerts:\n  rate_limit_burst: 100000001\n"), "between 1 and 100000000"));
	/* The longest valid name and label, quoted keys, block and flow styles. */
	char yaml[600], name[260];
	for (int i = 0; i < 127; i++)
		memcpy(name + 2 * i, "a.", 2);
	name[253] = 0;
	snprintf(yaml, sizeof(yaml), "\"owned\":\n  'domains':\n    - %s\n    - %s.com\n", name,
		 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk");
	p = load(yaml);
	assert_int_equal(bw_nameset_count(p->owned.domains), 2);
	bw_policy_free(p);
}

struct err_case {
	const char *yaml;
	const char *err;
};

/* Each kind of mistake, its message, its line and column. */
static const struct err_case err_cases[] = {
	/* keys */
	{"owned:\n  domians: [example.com]\n",
	 "policy.yaml:2:3: unknown key 'domians' in 'owned' (did you mean 'domains'?)"},
	{"ownd:\n  domains: [example.com]\n",
	 "policy.yaml:1:1: unknown key 'ownd' at the top level (did you mean 'owned'?)"},
	{"certificates:\n  fetch:\n    timeout_second: 5\n",
	 "policy.yaml:3:5: unknown key 'timeout_second' in 'fetch' (did you mean 'timeout_seconds'?)"},
	{"networks: [192.0.2.0/24]\n",
	 "policy.yaml:1:1: unknown key 'networks' at the top level (it belongs under 'owned')"},
	{"owned:\n  suppress_seconds: 5\n",
	 "policy.yaml:2:3: unknown key 'suppress_seconds' in 'owned' (it belongs under 'alerts')"},
	{"colour: blue\n", "policy.yaml:1:1: unknown key 'colour' at the top level"},
	{"data:\n  zonefiles: []\n", "policy.yaml:2:3: unknown key 'zonefiles' in 'data'"},
	{"owned:\n  domains: [a.com]\n  domains: [b.com]\n",
	 "policy.yaml:3:3: duplicate key 'domains' in 'owned' (first at line 2, column 3)"},
	{"alerts: {}\nowned: {}\nalerts: {}\n",
	 "policy.yaml:3:1: duplicate key 'alerts' at the top level (first at line 1, column 1)"},
	{"? [a]\n: 1\n", "policy.yaml:1:3: expected a string as a key at the top level, got a list"},
	/* types */
	{"- owned\n", "policy.yaml:1:1: expected a mapping at the top level, got a list"},
	{"hello\n", "policy.yaml:1:1: expected a mapping at the top level, got a scalar"},
	{"owned: [a.com]\n", "policy.yaml:1:1: expected a mapping for 'owned', got a list"},
	{"certificates:\n  fetch: yes\n", "policy.yaml:2:3: expected a mapping for 'fetch', got a scalar"},
	{"certificates:\n  allowed_issuers: letsencrypt.org\n",
	 "policy.yaml:2:3: expected a list for 'allowed_issuers', got a scalar"},
	{"owned:\n  networks: {a: 1}\n", "policy.yaml:2:3: expected a list for 'networks', got a mapping"},
	{"certificates:\n  expiry_warning_days: [21]\n",
	 "policy.yaml:2:3: expected a number for 'expiry_warning_days', got a list"},
	{"certificates:\n  expiry_warning_days:\n", "policy.yaml:2:3: 'expiry_warning_days' has no value"},
	{"certificates:\n  expiry_warning_days: \"21\"\n",
	 "policy.yaml:2:24: expected a number for 'expiry_warning_days', got the quoted string '21'"},
	{"certificates:\n  expiry_warning_days: 1.5\n",
	 "policy.yaml:2:24: 'expiry_warning_days' must be a whole number, got '1.5'"},
	{"certificates:\n  expiry_warning_days: 0x10\n",
	 "policy.yaml:2:24: 'expiry_warning_days' must be a whole number, got '0x10'"},
	{"alerts:\n  suppress_seconds: +\n", "policy.yaml:2:21: 'suppress_seconds' must be a whole number, got '+'"},
	{"certificates:\n  expiry_warning_days: 021\n",
	 "policy.yaml:2:24: 'expiry_warning_days' has a leading zero ('021'); write the number without it"},
	{"certificates:\n  expiry_warning_days: 5000\n",
	 "policy.yaml:2:24: 'expiry_warning_days' must be between 0 and 3650, got 5000"},
	{"certificates:\n  expiry_warning_days: -1\n",
	 "policy.yaml:2:24: 'expiry_warning_days' must be between 0 and 3650, got -1"},
	{"alerts:\n  suppress_seconds: 99999999999999999999999\n",
	 "policy.yaml:2:21: 'suppress_seconds' must be between 0 and 2592000, got 99999999999999999999999"},
	{"certificates:\n  fetch:\n    refresh_seconds: 59\n",
	 "policy.yaml:3:22: 'refresh_seconds' must be between 60 and 2592000, got 59"},
	{"certificates:\n  fetch:\n    max_per_minute: 0\n",
	 "policy.yaml:3:21: 'max_per_minute' must be between 1 and 100000, got 0"},
	{"certificates:\n  fetch:\n    timeout_seconds: 601\n",
	 "policy.yaml:3:22: 'timeout_seconds' must be between 1 and 600, got 601"},
	{"certificates:\n  fetch:\n    enabled: yes\n", "policy.yaml:3:14: 'enabled' must be true or false, got 'yes'"},
	{"certificates:\n  fetch:\n    enabled: \"true\"\n",
	 "policy.yaml:3:14: expected true or false for 'enabled', got the quoted string 'true'"},
	{"certificates:\n  fetch:\n    enabled: [true]\n",
	 "policy.yaml:3:5: expected true or false for 'enabled', got a list"},
	{"certificates:\n  fetch:\n    enabled:\n", "policy.yaml:3:5: 'enabled' has no value"},
	{"data:\n  cloud_ranges: [a]\n", "policy.yaml:2:3: expected a string for 'cloud_ranges', got a list"},
	{"data:\n  cloud_ranges:\n", "policy.yaml:2:3: 'cloud_ranges' has no value"},
	{"data:\n  cloud_ranges: \"\"\n", "policy.yaml:2:17: 'cloud_ranges' is empty"},
	{"data:\n  cloud_ranges: \"a\\0\"\n", "policy.yaml:2:17: 'cloud_ranges' contains a NUL byte"},
	{"owned:\n  domains: [[a.com]]\n", "policy.yaml:2:13: expected a string for a 'domains' entry, got a list"},
	{"outputs: [{a: b}]\n", "policy.yaml:1:11: expected a string for an 'outputs' entry, got a mapping"},
	{"owned:\n  domains: ['']\n", "policy.yaml:2:13: empty 'domains' entry"},
	{"owned:\n  domains:\n    -\n", "policy.yaml:3:6: empty 'domains' entry"},
	{"outputs: [\"\"]\n", "policy.yaml:1:11: empty 'outputs' entry"},
	{"outputs: [\"a\\0b\"]\n", "policy.yaml:1:11: 'outputs' entry 'a\\x00b' contains a NUL byte"},
	/* domain names */
	{"owned:\n  domains: [.]\n",
	 "policy.yaml:2:13: 'domains' entry '.' is not a valid domain name: it is the DNS root"},
	{"owned:\n  domains: [a..com]\n",
	 "policy.yaml:2:13: 'domains' entry 'a..com' is not a valid domain name: it has an empty label"},
	{"owned:\n  domains: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com]\n",
	 "policy.yaml:2:13: 'domains' entry 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com' is "
	 "not a "
	 "valid domain name: a label is longer than 63 characters"},
	{"owned:\n  domains: [ex!ample.com]\n",
	 "policy.yaml:2:13: 'domains' entry 'ex!ample.com' is not a valid domain name: character '!' is not allowed "
	 "(letters, digits, '-' and '_' only)"},
	{"owned:\n  domains: [\"a\\tb.com\"]\n",
	 "policy.yaml:2:13: 'domains' entry 'a\\x09b.com' is not a valid domain name: byte 0x09 is not allowed "
	 "(letters, digits, '-' and '_' only)"},
	{"owned:\n  domains: [b\xc3\xbc"
	 "cher.example]\n",
	 "policy.yaml:2:13: 'domains' entry 'b\\xc3\\xbccher.example' is not a valid domain name: non-ASCII characters "
	 "are not allowed (write internationalised names in their xn-- form)"},
	{"owned:\n  domains: [www.-example.com]\n",
	 "policy.yaml:2:13: 'domains' entry 'www.-example.com' is not a valid domain name: label '-example' starts or "
	 "ends with '-'"},
	{"owned:\n  domains: [192.0.2.1]\n",
	 "policy.yaml:2:13: 'domains' entry '192.0.2.1' is an address, not a domain name (addresses go in 'networks')"},
	{"certificates:\n  allowed_issuers: [\"2001:db8::1\"]\n",
	 "policy.yaml:2:21: 'allowed_issuers' entry '2001:db8::1' is an address, not a domain name"},
	{"owned:\n  domains: [\"*.example.com\"]\n",
	 "policy.yaml:2:13: 'domains' entry '*.example.com' is a pattern; an owned domain already covers every name "
	 "below it"},
	{"owned:\n  domains: [.example.com]\n",
	 "policy.yaml:2:13: 'domains' entry '.example.com' is a pattern; an owned domain already covers every name "
	 "below it"},
	{"certificates:\n  allowed_issuers: [\"*.letsencrypt.org\"]\n",
	 "policy.yaml:2:21: 'allowed_issuers' entry '*.letsencrypt.org' is not a valid domain name: character '*' is "
	 "not "
	 "allowed (letters, digits, '-' and '_' only)"},
	/* name patterns */
	{"alerts:\n  ignore:\n    - type: cert_changed\n      names: [\"www.*.example.com\"]\n",
	 "policy.yaml:4:15: 'names' entry 'www.*.example.com' is not a valid name pattern: '*' must be the whole first "
	 "label, as in '*.example.com'"},
	{"owned:\n  cloud_resources: [\"*\"]\n", "policy.yaml:2:21: 'cloud_resources' entry '*' is not a valid name "
						 "pattern: '*' must be the whole first label, "
						 "as in '*.example.com'"},
	{"certificates:\n  pins:\n    - names: [\"*.bad..com\"]\n",
	 "policy.yaml:3:15: 'names' entry '*.bad..com' is not a valid name pattern: it has an empty label"},
	{"certificates:\n  pins:\n    - names: [\"*.\"]\n",
	 "policy.yaml:3:15: 'names' entry '*.' is not a valid name pattern: it is the DNS root"},
	/* addresses */
	{"owned:\n  networks: [192.0.2.0/33]\n",
	 "policy.yaml:2:14: 'networks' entry '192.0.2.0/33' is not an IPv4 or IPv6 prefix"},
	{"owned:\n  networks: [example.com]\n",
	 "policy.yaml:2:14: 'networks' entry 'example.com' is not an IPv4 or IPv6 prefix"},
	{"owned:\n  networks: [192.0.2.1/24]\n",
	 "policy.yaml:2:14: 'networks' entry '192.0.2.1/24' has host bits set (did you mean 192.0.2.0/24?)"},
	{"owned:\n  networks: [\"2001:db8::1/32\"]\n",
	 "policy.yaml:2:14: 'networks' entry '2001:db8::1/32' has host bits set (did you mean 2001:db8::/32?)"},
	{"owned:\n  cloud_resources: [1.2.3.4.5]\n",
	 "policy.yaml:2:21: 'cloud_resources' entry '1.2.3.4.5' is not an IPv4 or IPv6 address or prefix"},
	{"owned:\n  cloud_resources: [\"2001:db8::g\"]\n",
	 "policy.yaml:2:21: 'cloud_resources' entry '2001:db8::g' is not an IPv4 or IPv6 address or prefix"},
	{"owned:\n  cloud_resources: [198.51.100.7/24]\n",
	 "policy.yaml:2:21: 'cloud_resources' entry '198.51.100.7/24' has host bits set (did you mean "
	 "198.51.100.0/24?)"},
	{"dns:\n  allowed_transfer_clients: [ns1.example.com]\n",
	 "policy.yaml:2:30: 'allowed_transfer_clients' entry 'ns1.example.com' is not an IPv4 or IPv6 address or "
	 "prefix"},
	{"certificates:\n  fetch:\n    source_address: localhost\n",
	 "policy.yaml:3:21: 'source_address' 'localhost' is not an IPv4 or IPv6 address"},
	{"certificates:\n  fetch:\n    source_address: 192.0.2.0/24\n",
	 "policy.yaml:3:21: 'source_address' must be one address, not a prefix ('192.0.2.0/24')"},
	/* files */
	{"certificates:\n  extra_ca_files: [ca/root.pem]\n", "policy.yaml:2:20: 'extra_ca_files' entry 'ca/root.pem' "
							     "cannot be read: /nonexistent/ca/root.pem: No such file "
							     "or directory"},
	{"certificates:\n  extra_ca_files: [/]\n",
	 "policy.yaml:2:20: 'extra_ca_files' entry '/' is not a regular file (/)"},
	/* pins */
	{"certificates:\n  pins: [api.example.com]\n",
	 "policy.yaml:2:10: expected a mapping for a 'pins' entry, got a scalar"},
	{"certificates:\n  pins:\n    - spki_sha256: [\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"]\n",
	 "policy.yaml:3:7: a 'pins' entry needs 'names'"},
	{"certificates:\n  pins:\n    - names: [a.example]\n", "policy.yaml:3:7: a 'pins' entry needs 'spki_sha256'"},
	{"certificates:\n  pins:\n    - names: []\n", "policy.yaml:3:7: 'names' in a 'pins' entry is empty"},
	{"certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256:\n",
	 "policy.yaml:4:7: 'spki_sha256' in a 'pins' entry is empty"},
	{"certificates:\n  pins:\n    - name: [a.example]\n",
	 "policy.yaml:3:7: unknown key 'name' in a 'pins' entry (did you mean 'names'?)"},
	{"certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256: [\"not base64!\"]\n",
	 "policy.yaml:4:21: 'spki_sha256' entry 'not base64!' is not valid base64"},
	{"certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256: "
	 "[\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\"]\n",
	 "policy.yaml:4:21: 'spki_sha256' entry '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU' is not valid base64"},
	{"certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256: "
	 "[\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\"]\n",
	 "policy.yaml:4:21: 'spki_sha256' entry '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=' is not valid base64"},
	{"certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256: [\"AAAAAAAAAAAAAAAAAAAAAA==\"]\n",
	 "policy.yaml:4:21: 'spki_sha256' entry 'AAAAAAAAAAAAAAAAAAAAAA==' is 16 bytes, not the 32 of a SHA-256 hash"},
	{"certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256:\n        - "
	 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	 "policy.yaml:5:11: 'spki_sha256' entry "
	 "'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' is more than "
	 "64 "
	 "bytes, not the 32 of a SHA-256 hash"},
	{"certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256:\n        - "
	 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
	 "policy.yaml:5:11: 'spki_sha256' entry 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' "
	 "looks "
	 "like hex; write the SHA-256 hash in base64"},
	/* alerts.ignore */
	{"alerts:\n  ignore: [cert_changed]\n",
	 "policy.yaml:2:12: expected a mapping for an 'ignore' entry, got a scalar"},
	{"alerts:\n  ignore:\n    - names: [a.example]\n", "policy.yaml:3:7: an 'ignore' entry needs 'type'"},
	{"alerts:\n  ignore: [{type: cert_chnged}]\n",
	 "policy.yaml:2:19: unknown alert type 'cert_chnged' (did you mean 'cert_changed'?)"},
	{"alerts:\n  ignore: [{type: everything}]\n", "policy.yaml:2:19: unknown alert type 'everything'"},
	{"alerts:\n  ignore: [{type: [cert_changed]}]\n", "policy.yaml:2:13: expected a string for 'type', got a list"},
	{"alerts:\n  ignore: [{type: cert_changed, names: []}]\n",
	 "policy.yaml:2:33: 'names' in an 'ignore' entry is empty (leave it out to ignore every name)"},
	{"alerts:\n  ignore: [{type: cert_changed, domains: [a.example]}]\n",
	 "policy.yaml:2:33: unknown key 'domains' in an 'ignore' entry (it belongs under 'owned')"},
	/* YAML itself */
	{"owned: &o\n  domains: [a.com]\n",
	 "policy.yaml:1:8: YAML anchors are not allowed ('&o'); write the value out in full"},
	{"owned: *o\n", "policy.yaml:1:8: YAML aliases are not allowed ('*o'); write the value out in full"},
	{"owned: !!map {}\n", "policy.yaml:1:8: YAML tags are not allowed ('tag:yaml.org,2002:map')"},
	{"owned: !custom {}\n", "policy.yaml:1:8: YAML tags are not allowed ('!custom')"},
	{"owned: {}\n---\nowned: {}\n",
	 "policy.yaml:2:1: a second YAML document starts here; a policy is one document"},
	{"owned:\n  domains: [a.com\n", "policy.yaml:3:1: YAML syntax error: did not find expected ',' or ']' (while "
					"parsing a flow sequence at line 2, column 12)"},
	{"owned: x\n  bad: indent\n",
	 "policy.yaml:2:6: YAML syntax error: mapping values are not allowed in this context"},
	{"owned:\n\tdomains: []\n", "policy.yaml:2:1: YAML syntax error: found character that cannot start any token "
				    "(while scanning for the next token at line 2, column 1)"},
	{"owned: \"unterminated\n",
	 "policy.yaml:2:1: YAML syntax error: found unexpected end of stream (while scanning a "
	 "quoted scalar at line 1, column 8)"},
	{"owned:\n  domains: [a.com]\n\xff\n",
	 "policy.yaml:3:1: not YAML text: invalid leading UTF-8 octet (byte 0xff)"},
	{"owned:\n  domains: [\x01]\n",
	 "policy.yaml:2:13: not YAML text: control characters are not allowed (byte 0x01)"},
};

static void test_errors(void **state)
{
	(void)state;
	unsigned bad = 0;
	for (size_t i = 0; i < BW_ARRAY_SIZE(err_cases); i++) {
		const char *got = load_err(err_cases[i].yaml);
		if (strcmp(got, err_cases[i].err) != 0) {
			print_error("case %zu:\n  input: %s\n  want:  %s\n  got:   %s\n", i, err_cases[i].yaml,
				    err_cases[i].err, got);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Mistakes whose input is made at run time: long values, caps, sizes. */
static void test_generated_errors(void **state)
{
	(void)state;
	static char yaml[3000000], want[1024], v[5000];
	/* A name of 255 bytes. */
	memset(v, 0, sizeof(v));
	for (int i = 0; i < 128; i++)
		memcpy(v + 2 * i, "a.", 2);
	v[255] = 0;
	snprintf(yaml, sizeof(yaml), "owned:\n  domains: [%s]\n", v);
	const char *got = load_err(yaml);
	assert_non_null(strstr(got, "is not a valid domain name: it is longer than 253 characters"));
	assert_int_equal(strncmp(got, "policy.yaml:2:13: 'domains' entry 'a.a.a.", 41), 0);
	assert_non_null(strstr(got, "...' is not"));

	/* Strings over 4096 bytes, as a list entry and as a value. */
	memset(v, 'x', 4097);
	v[4097] = 0;
	snprintf(yaml, sizeof(yaml), "outputs: [\"%s\"]\n", v);
	assert_string_equal(load_err(yaml), "policy.yaml:1:11: 'outputs' entry is longer than 4096 bytes");
	snprintf(yaml, sizeof(yaml), "data:\n  caa_issuers: %s\n", v);
	assert_string_equal(load_err(yaml), "policy.yaml:2:16: 'caa_issuers' is longer than 4096 bytes");

	/* A path that only becomes too long once joined to the base directory. */
	char base[200];
	memset(base, 'd', sizeof(base));
	base[0] = '/';
	base[199] = 0;
	v[4000] = 0;
	snprintf(yaml, sizeof(yaml), "owned:\n  zones:\n    - %s\n", v);
	got = load_err_len(yaml, strlen(yaml), base);
	char shown[200];
	memset(shown, 'x', 188);
	memcpy(shown + 188, "...", 4);
	setf(want, sizeof(want), "policy.yaml:3:7: 'zones' entry '%s' is longer than 4096 bytes once resolved", shown);
	assert_string_equal(got, want);

	/* Nested 33 deep, the top-level mapping being the first level: the 32nd '[' is one too many. */
	snprintf(yaml, sizeof(yaml), "outputs: ");
	for (int i = 0; i < 40; i++)
		strcat(yaml, "[");
	for (int i = 0; i < 40; i++)
		strcat(yaml, "]");
	assert_string_equal(load_err(yaml), "policy.yaml:1:41: lists and mappings nested deeper than 32 levels");

	/* A list of 100001 entries. */
	size_t w = (size_t)snprintf(yaml, sizeof(yaml), "owned:\n  domains: [");
	for (int i = 0; i <= 100000; i++)
		w += (size_t)snprintf(yaml + w, sizeof(yaml) - w, "a%d.com,", i);
	snprintf(yaml + w - 1, sizeof(yaml) - w + 1, "]\n");
	assert_string_equal(load_err(yaml), "policy.yaml:2:3: 'domains' has more than 100000 entries");
	/* 100000 is fine. */
	char *comma = strrchr(yaml, ',');
	strcpy(comma, "]\n");
	struct bw_policy *p = load(yaml);
	assert_int_equal(bw_nameset_count(p->owned.domains), 100000);
	assert_true(owns_name(p, "www.a99999.com"));
	bw_policy_free(p);

	/* More than a million YAML nodes: the mapping, its key and the list are three, so entry 999998 is one too many.
	 */
	w = (size_t)snprintf(yaml, sizeof(yaml), "outputs: [");
	for (int i = 0; i < 1000001; i++) {
		yaml[w++] = 'a';
		yaml[w++] = ',';
	}
	yaml[w - 1] = ']';
	yaml[w] = 0;
	got = load_err(yaml);
	assert_string_equal(got, "policy.yaml:1:2000005: more than 1000000 YAML nodes");

	/* Over 16 MiB. */
	size_t big = BW_POLICY_MAX_FILE + 1;
	char *huge = calloc(1, big);
	assert_non_null(huge);
	assert_string_equal(load_err_len(huge, big, NULL), "policy.yaml: larger than 16 MiB (16777217 bytes)");
	free(huge);
}

static void test_paths(void **state)
{
	(void)state;
	const char *yaml = "owned:\n  zones: [z/a.zone, /abs/b.zone, ./c.zone, ../d.zone]\n"
			   "data:\n  cloud_ranges: cr.tsv\n";
	struct bw_policy *p = load_base(yaml, "/etc/bw");
	assert_string_equal(p->owned.zones[0], "/etc/bw/z/a.zone");
	assert_string_equal(p->owned.zones[1], "/abs/b.zone");
	assert_string_equal(p->owned.zones[2], "/etc/bw/./c.zone");
	assert_string_equal(p->owned.zones[3], "/etc/bw/../d.zone");
	assert_string_equal(p->data.cloud_ranges, "/etc/bw/cr.tsv");
	bw_policy_free(p);
	p = load_base(yaml, "/etc/bw/");
	assert_string_equal(p->owned.zones[0], "/etc/bw/z/a.zone");
	bw_policy_free(p);
	p = load_base(yaml, "/");
	assert_string_equal(p->owned.zones[0], "/z/a.zone");
	bw_policy_free(p);
	p = load_base(yaml, NULL);
	assert_string_equal(p->owned.zones[0], "z/a.zone");
	assert_string_equal(p->owned.zones[1], "/abs/b.zone");
	bw_policy_free(p);
}

/* A temporary directory with a policy tree; removed by teardown. */
static char tmpdir[PATH_MAX];

static void write_file(const char *rel, const char *text)
{
	char path[PATH_MAX * 2];
	setf(path, sizeof(path), "%s/%s", tmpdir, rel);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void make_dir(const char *rel)
{
	char path[PATH_MAX * 2];
	setf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup_tmp(void **state)
{
	(void)state;
	char t[] = "/tmp/bw_policy_XXXXXX";
	if (!mkdtemp(t))
		return -1;
	/* The loader resolves against getcwd(), which has no symlinks: compare like with like. */
	if (!realpath(t, tmpdir))
		return -1;
	return 0;
}

static int teardown_tmp(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	setf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	static char buf[1 << 16];
	*len = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[*len] = 0;
	fclose(fp);
	return buf;
}

/* The repository's examples/, whether the test runs from the top or from tests/. */
static const char *example(const char *name)
{
	static char path[PATH_MAX];
	static const char *const dirs[] = {"examples", "../examples", "../../examples"};
	for (size_t i = 0; i < BW_ARRAY_SIZE(dirs); i++) {
		setf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (access(path, R_OK) == 0)
			return path;
	}
	fail_msg("examples/%s not found from %s", name, getcwd(path, sizeof(path)) ? path : "?");
	return NULL;
}

static void test_load_file(void **state)
{
	(void)state;
	make_dir("etc");
	make_dir("etc/ca");
	make_dir("etc/zones");
	write_file("etc/ca/root.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
	static const char policy[] =
		"owned:\n  zones: [zones/a.zone]\ncertificates:\n  extra_ca_files: [ca/root.pem]\n";
	write_file("etc/policy.yaml", policy);
	char cwd[PATH_MAX], path[PATH_MAX * 2], want[PATH_MAX * 2];
	assert_non_null(getcwd(cwd, sizeof(cwd)));

	/* A relative policy path resolves against the current directory, once, at load. */
	assert_int_equal(chdir(tmpdir), 0);
	struct bw_policy *p = NULL;
	int rc = bw_policy_load("etc/policy.yaml", &p, errbuf, sizeof(errbuf));
	assert_int_equal(chdir(cwd), 0);
	if (rc != BW_OK)
		fail_msg("%s", errbuf);
	assert_string_equal(p->path, "etc/policy.yaml");
	setf(want, sizeof(want), "%s/etc/zones/a.zone", tmpdir);
	assert_string_equal(p->owned.zones[0], want);
	setf(want, sizeof(want), "%s/etc/ca/root.pem", tmpdir);
	assert_string_equal(p->certificates.extra_ca_files[0], want);
	assert_int_equal(p->certificates.n_extra_ca_files, 1);
	assert_true(p->mtime.tv_sec > 0);
	assert_int_equal(p->size, strlen(policy));
	bw_policy_free(p);

	/* The same by absolute path. */
	setf(path, sizeof(path), "%s/etc/policy.yaml", tmpdir);
	assert_int_equal(bw_policy_load(path, &p, errbuf, sizeof(errbuf)), BW_OK);
	assert_string_equal(p->certificates.extra_ca_files[0], want);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(p->mtime.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(p->mtime.tv_nsec, st.st_mtim.tv_nsec);
	bw_policy_free(p);

	/* Errors carry the path as given. */
	write_file("etc/bad.yaml", "owned:\n  domians: []\n");
	setf(path, sizeof(path), "%s/etc/bad.yaml", tmpdir);
	assert_int_equal(bw_policy_load(path, &p, errbuf, sizeof(errbuf)), BW_EINVAL);
	assert_null(p);
	setf(want, sizeof(want), "%s:2:3: unknown key 'domians' in 'owned' (did you mean 'domains'?)", path);
	assert_string_equal(errbuf, want);
	/* A small err buffer gets a cut, terminated message; a NULL one is fine. */
	char small[16];
	assert_int_equal(bw_policy_load(path, &p, small, sizeof(small)), BW_EINVAL);
	assert_int_equal(strlen(small), 15);
	assert_int_equal(bw_policy_load(path, &p, NULL, 0), BW_EINVAL);

	/* The CA file is removed: the same policy now fails, naming the entry. */
	setf(path, sizeof(path), "%s/etc/ca/root.pem", tmpdir);
	assert_int_equal(unlink(path), 0);
	setf(path, sizeof(path), "%s/etc/policy.yaml", tmpdir);
	assert_int_equal(bw_policy_load(path, &p, errbuf, sizeof(errbuf)), BW_EINVAL);
	setf(want, sizeof(want),
	     "%s:4:20: 'extra_ca_files' entry 'ca/root.pem' cannot be read: %s/etc/ca/root.pem: No such file or "
	     "directory",
	     path, tmpdir);
	assert_string_equal(errbuf, want);
	/* A directory where the CA file should be. */
	make_dir("etc/ca/root.pem");
	assert_int_equal(bw_policy_load(path, &p, errbuf, sizeof(errbuf)), BW_EINVAL);
	setf(want, sizeof(want),
	     "%s:4:20: 'extra_ca_files' entry 'ca/root.pem' is not a regular file (%s/etc/ca/root.pem)", path, tmpdir);
	assert_string_equal(errbuf, want);

	/* The policy file itself: missing, a directory, too big. */
	setf(path, sizeof(path), "%s/etc/missing.yaml", tmpdir);
	assert_int_equal(bw_policy_load(path, &p, errbuf, sizeof(errbuf)), BW_ENOENT);
	setf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(errbuf, want);
	setf(path, sizeof(path), "%s/etc", tmpdir);
	assert_int_equal(bw_policy_load(path, &p, errbuf, sizeof(errbuf)), BW_EINVAL);
	setf(want, sizeof(want), "%s: not a regular file", path);
	assert_string_equal(errbuf, want);
	setf(path, sizeof(path), "%s/etc/big.yaml", tmpdir);
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)BW_POLICY_MAX_FILE + 1), 0);
	close(fd);
	assert_int_equal(bw_policy_load(path, &p, errbuf, sizeof(errbuf)), BW_EINVAL);
	setf(want, sizeof(want), "%s: larger than 16 MiB (16777217 bytes)", path);
	assert_string_equal(errbuf, want);
	assert_int_equal(bw_policy_load(NULL, &p, errbuf, sizeof(errbuf)), BW_EINVAL);
	assert_int_equal(bw_policy_load(path, NULL, errbuf, sizeof(errbuf)), BW_EINVAL);
}

static char *dump(const struct bw_policy *p, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);
	assert_non_null(fp);
	assert_int_equal(bw_policy_dump(p, fp), BW_OK);
	fclose(fp);
	return buf;
}

/* dump must load back to a policy whose dump is the same (past the first, file-naming, line). */
static void check_round_trip(const struct bw_policy *p)
{
	size_t l1, l2;
	char *d1 = dump(p, &l1);
	struct bw_policy *q = NULL;
	if (bw_policy_load_buffer("dump.yaml", d1, l1, NULL, &q, errbuf, sizeof(errbuf)) != BW_OK)
		fail_msg("dump does not load: %s\n%s", errbuf, d1);
	char *d2 = dump(q, &l2);
	const char *b1 = strchr(d1, '\n'), *b2 = strchr(d2, '\n');
	assert_non_null(b1);
	assert_non_null(b2);
	assert_string_equal(b1, b2);
	bw_policy_free(q);
	free(d1);
	free(d2);
}

static void test_dump(void **state)
{
	(void)state;
	struct bw_policy *p = load(full_policy);
	size_t len;
	char *d = dump(p, &len);
	/* Normalised: lower case, no trailing dots, masked and written-out prefixes, resolved paths, the "sha256/"
	 * gone. */
	assert_non_null(strstr(d, "# policy \"policy.yaml\", "));
	assert_non_null(strstr(d, "  domains:\n    - \"example.com\"\n    - \"example.org\"\n"));
	assert_non_null(strstr(d, "    - \"203.0.113.5/32\"\n"));
	assert_non_null(strstr(d, "    - \"*.example-cdn.azureedge.net\"\n    - \".example.cloudfront.net\"\n"));
	assert_non_null(strstr(d, "  expiry_warning_days: 30\n"));
	assert_non_null(strstr(d, "    - \"letsencrypt.org\"\n    - \"digicert.com\"\n"));
	assert_non_null(strstr(d, "      spki_sha256: [\"LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=\", "));
	assert_non_null(strstr(d, "    source_address: \"2001:db8::9\"\n"));
	assert_non_null(strstr(d, "    - type: caa_missing\n    - type: cert_changed\n"));
	assert_non_null(strstr(d, "  takeover_services: \"/etc/bw/data/takeover.tsv\"\n"));
	assert_non_null(strstr(d, "outputs:\n  - \"jsonl:-\"\n"));
	free(d);
	check_round_trip(p);
	bw_policy_free(p);

	p = load("");
	d = dump(p, &len);
	assert_non_null(strstr(d, "  # (no allowed_issuers: any issuer is allowed)\n"));
	assert_non_null(strstr(d, "  # takeover_services: the project's data/takeover-services.tsv\n"));
	assert_non_null(strstr(d, "    # source_address: not set"));
	free(d);
	check_round_trip(p);
	bw_policy_free(p);

	/* Strings that need escaping survive the round trip. */
	p = load("outputs: [\"a\\\"b\\\\c\", \"tab\\there\", \"\xc3\xa9t\xc3\xa9\"]\n");
	assert_string_equal(p->outputs[0], "a\"b\\c");
	assert_string_equal(p->outputs[1], "tab\there");
	check_round_trip(p);
	bw_policy_free(p);

	/* A write error is reported. */
	FILE *fp = fopen("/dev/full", "w");
	if (fp) {
		p = load(full_policy);
		setvbuf(fp, NULL, _IONBF, 0);
		assert_int_equal(bw_policy_dump(p, fp), BW_EIO);
		fclose(fp);
		bw_policy_free(p);
	}
}

static void test_examples(void **state)
{
	(void)state;
	struct bw_policy *p = NULL;
	const char *path = example("policy.yaml");
	if (bw_policy_load(path, &p, errbuf, sizeof(errbuf)) != BW_OK)
		fail_msg("%s", errbuf);
	assert_true(owns_name(p, "www.example.com"));
	assert_true(owns_addr(p, "2001:db8::1"));
	assert_true(cloud_addr(p, "198.51.100.7"));
	assert_true(bw_policy_issuer_allowed(p, "letsencrypt.org"));
	assert_non_null(bw_policy_pin_for(p, "api.example.com"));
	assert_true(bw_policy_ignored(p, "cert_changed", "dev.example.com"));
	assert_int_equal(p->owned.n_zones, 0);
	assert_int_equal(p->certificates.n_extra_ca_files, 0);
	check_round_trip(p);
	bw_policy_free(p);

	/* policy-full.yaml names files: copy it into a tree that has them. */
	size_t len;
	char *text = slurp(example("policy-full.yaml"), &len);
	assert_non_null(text);
	make_dir("full");
	make_dir("full/zones");
	make_dir("full/ca");
	write_file("full/policy.yaml", text);
	write_file("full/zones/example.com.zone", "$ORIGIN example.com.\n");
	write_file("full/zones/example.org.zone", "$ORIGIN example.org.\n");
	char full[PATH_MAX * 2], want[PATH_MAX * 2];
	setf(full, sizeof(full), "%s/full/policy.yaml", tmpdir);
	/* Without the CA file it must fail, and say which. */
	assert_int_equal(bw_policy_load(full, &p, errbuf, sizeof(errbuf)), BW_EINVAL);
	assert_non_null(strstr(errbuf, "'extra_ca_files' entry 'ca/internal-root.pem' cannot be read"));
	write_file("full/ca/internal-root.pem", "-----BEGIN CERTIFICATE-----\n");
	if (bw_policy_load(full, &p, errbuf, sizeof(errbuf)) != BW_OK)
		fail_msg("%s", errbuf);
	setf(want, sizeof(want), "%s/full/zones/example.org.zone", tmpdir);
	assert_int_equal(p->owned.n_zones, 2);
	assert_string_equal(p->owned.zones[1], want);
	setf(want, sizeof(want), "%s/full/ca/internal-root.pem", tmpdir);
	assert_string_equal(p->certificates.extra_ca_files[0], want);
	assert_true(owns_name(p, "xn--bcher-kva.example"));
	assert_true(cloud_name(p, "a.example.cloudfront.net"));
	assert_true(p->certificates.fetch.enabled);
	assert_int_equal(p->certificates.n_pins, 2);
	assert_int_equal(p->alerts.n_ignore, 3);
	assert_string_equal(p->data.caa_issuers, "/usr/share/bindwatch/caa-issuers.tsv");
	check_round_trip(p);
	bw_policy_free(p);
}

static void test_pin_base64(void **state)
{
	(void)state;
	struct bw_policy *p =
		load("certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256:\n"
		     "        - \"sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"\n"
		     /* 44 characters of base64 that happen to start with "sha256/": a hash, not a prefix */
		     "        - \"sha256/8HBSa+/TImW+6JCeuQeRkm5NMpJWZG3hSuFU=\"\n"
		     "        - \"sha256/sha256/8HBSa+/TImW+6JCeuQeRkm5NMpJWZG3hSuFU=\"\n"
		     "        - \"//////////////////////////////////////////8=\"\n");
	const struct bw_policy_pin *pin = &p->certificates.pins[0];
	assert_int_equal(pin->n_spki, 4);
	assert_string_equal(pin->spki_base64[0], "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	assert_int_equal(pin->spki[0][0], 0xe3);
	assert_string_equal(pin->spki_base64[1], "sha256/8HBSa+/TImW+6JCeuQeRkm5NMpJWZG3hSuFU=");
	assert_string_equal(pin->spki_base64[2], "sha256/8HBSa+/TImW+6JCeuQeRkm5NMpJWZG3hSuFU=");
	assert_memory_equal(pin->spki[1], pin->spki[2], 32);
	for (int i = 0; i < 32; i++)
		assert_int_equal(pin->spki[3][i], 0xff);
	check_round_trip(p);
	bw_policy_free(p);
	/* Padding that is not at the end, or too much of it. */
	assert_string_equal(
		load_err("certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256: "
			 "[\"47DEQpj8HBSa+/TImW+5JCeu=eRkm5NMpJWZG3hSuFU=\"]\n"),
		"policy.yaml:4:21: 'spki_sha256' entry '47DEQpj8HBSa+/TImW+5JCeu=eRkm5NMpJWZG3hSuFU=' is not "
		"valid base64");
	assert_string_equal(
		load_err("certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256: "
			 "[\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu===\"]\n"),
		"policy.yaml:4:21: 'spki_sha256' entry '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu===' is not "
		"valid base64");
	assert_string_equal(
		load_err("certificates:\n  pins:\n    - names: [a.example]\n      spki_sha256: [\"sha256/\"]\n"),
		"policy.yaml:4:21: 'spki_sha256' entry 'sha256/' is not valid base64");
}

/* alerts.h's list, read through its macro (the test links only the policy modules). */
static const char *const alert_names[] = {
#define NAME(id, name, sev, desc) name,
	BW_ALERT_LIST(NAME)
#undef NAME
};

static void test_alert_types(void **state)
{
	(void)state;
	assert_int_equal(BW_ARRAY_SIZE(alert_names), BW_AL__COUNT);
	assert_int_equal(BW_AL__COUNT, 20);
	/* Every type is accepted by alerts.ignore, and only its own rules apply to it. */
	char yaml[4096];
	for (int t = 0; t < BW_AL__COUNT; t++) {
		snprintf(yaml, sizeof(yaml), "alerts:\n  ignore:\n    - type: %s\n      names: [x.example]\n",
			 alert_names[t]);
		struct bw_policy *p = load(yaml);
		assert_int_equal(p->alerts.ignore[0].type, t);
		for (int u = 0; u < BW_AL__COUNT; u++) {
			assert_int_equal(bw_policy_ignored(p, alert_names[u], "x.example"), u == t);
			assert_int_equal(bw_policy_ignored_type(p, u, "x.example", 9), u == t);
		}
		assert_false(bw_policy_ignored(p, alert_names[t], "y.example"));
		check_round_trip(p);
		bw_policy_free(p);
	}
	assert_false(bw_policy_ignored_type(NULL, 0, "x", 1));
	struct bw_policy *p = load("alerts:\n  ignore: [{type: zone_transfer_open}]\n");
	assert_false(bw_policy_ignored_type(p, -1, NULL, 0));
	assert_true(bw_policy_ignored_type(p, BW_AL_ZONE_TRANSFER_OPEN, NULL, 0));
	assert_false(bw_policy_ignored(p, "ZONE_TRANSFER_OPEN", NULL));
	bw_policy_free(p);
}

static void test_buffer_args(void **state)
{
	(void)state;
	struct bw_policy *p = (struct bw_policy *)0x1;
	/* Not NUL-terminated: only len bytes are read. */
	const char text[] = {'o', 'w', 'n', 'e', 'd', ':', ' ', '{', '}', 'X'};
	assert_int_equal(bw_policy_load_buffer("t", text, 9, NULL, &p, errbuf, sizeof(errbuf)), BW_OK);
	bw_policy_free(p);
	assert_int_equal(bw_policy_load_buffer("t", text, 10, NULL, &p, errbuf, sizeof(errbuf)), BW_EINVAL);
	assert_int_equal(bw_policy_load_buffer(NULL, NULL, 0, NULL, &p, NULL, 0), BW_OK);
	assert_string_equal(p->path, "policy");
	bw_policy_free(p);
	assert_int_equal(bw_policy_load_buffer("t", NULL, 5, NULL, &p, NULL, 0), BW_EINVAL);
	assert_int_equal(bw_policy_load_buffer("t", "", 0, NULL, NULL, NULL, 0), BW_EINVAL);
	/* Embedded NUL in the input is a control character to libyaml. */
	assert_int_equal(bw_policy_load_buffer("t", "owned:\0", 7, NULL, &p, errbuf, sizeof(errbuf)), BW_EINVAL);
	assert_string_equal(errbuf, "t:1:7: not YAML text: control characters are not allowed (byte 0x00)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_policy),
		cmocka_unit_test(test_empty_and_defaults),
		cmocka_unit_test(test_bounds_of_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_generated_errors),
		cmocka_unit_test(test_paths),
		cmocka_unit_test_setup_teardown(test_load_file, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_dump),
		cmocka_unit_test_setup_teardown(test_examples, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_pin_base64),
		cmocka_unit_test(test_alert_types),
		cmocka_unit_test(test_buffer_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
