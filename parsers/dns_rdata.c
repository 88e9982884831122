/* SPDX-License-Identifier: MIT */
/*
 * dns_rdata.c: record data, per type. Each decoded type is described by a
 * short string of field kinds (the way ldns describes rdata with rdf
 * types), and one walker reads those fields with every length checked. The
 * same walk validates rdata at parse time (no output: the hot path), writes
 * the presentation text and writes the rdata with its names expanded, so
 * the three can never disagree about where a field starts or ends. Types
 * without a descriptor are opaque and always valid (RFC 3597).
 */
#include <string.h>

#include "dns.h"
#include "wire.h"

/*
 * Field kinds:
 *   1 2 4 6   unsigned int of 1, 2, 4, 6 octets (decimal)
 *   y         16-bit RR type (mnemonic)          T  32-bit time (YYYYMMDDHHmmSS)
 *   e         16-bit TSIG error (mnemonic)
 *   a A       IPv4 / IPv6 address                E F  EUI-48 / EUI-64
 *   I         ILNP 64-bit locator (4 hex groups)
 *   n         domain name (expanded uncompressed)
 *   N         zero or more names up to the end
 *   s         <character-string>                 S  one or more up to the end
 *   g         CAA tag (1+ alphanumerics)         q  rest as one quoted string
 *   x         u8-length hex ("-" when empty)     B  u8-length base32hex (1+)
 *   m         u16-length data as "LEN BASE64"
 *   h b       rest as hex / base64 (may be empty)
 *   M         rest as type bitmap                P  rest as SvcParams
 *   O         rest as EDNS options               K  HIP HIT and public key
 */
static const char *rd_desc(uint16_t type)
{
	switch (type) {
	case 1: return "a";                             /* A */
	case 2: case 3: case 4: case 5: case 7: case 8: /* NS MD MF CNAME MB MG */
	case 9: case 12: case 39: return "n";           /* MR PTR DNAME */
	case 6: return "nn44444";                       /* SOA */
	case 13: return "ss";                           /* HINFO */
	case 14: case 17: case 58: return "nn";         /* MINFO RP TALINK */
	case 15: case 18: case 21: case 36: case 107: return "2n"; /* MX AFSDB RT KX LP */
	case 16: case 99: return "S";                   /* TXT SPF */
	case 19: return "s";                            /* X25 */
	case 24: case 46: return "y114TT2nb";           /* SIG RRSIG */
	case 25: case 48: case 60: return "211b";       /* KEY DNSKEY CDNSKEY */
	case 26: return "2nn";                          /* PX */
	case 27: return "sss";                          /* GPOS */
	case 28: return "A";                            /* AAAA */
	case 30: return "nh";                           /* NXT */
	case 33: return "222n";                         /* SRV */
	case 35: return "22sssn";                       /* NAPTR */
	case 37: return "221b";                         /* CERT */
	case 41: return "O";                            /* OPT */
	case 43: case 59: case 32768: case 32769: return "211h"; /* DS CDS TA DLV */
	case 44: return "11h";                          /* SSHFP */
	case 47: return "nM";                           /* NSEC */
	case 49: case 61: return "b";                   /* DHCID OPENPGPKEY */
	case 50: return "112xBM";                       /* NSEC3 */
	case 51: return "112x";                         /* NSEC3PARAM */
	case 52: case 53: return "111h";                /* TLSA SMIMEA */
	case 55: return "KN";                           /* HIP */
	case 62: return "42M";                          /* CSYNC */
	case 63: return "411h";                         /* ZONEMD */
	case 64: case 65: return "2nP";                 /* SVCB HTTPS */
	case 104: case 106: return "2I";                /* NID L64 */
	case 105: return "2a";                          /* L32 */
	case 108: return "E";                           /* EUI48 */
	case 109: return "F";                           /* EUI64 */
	case 249: return "nTT22mm";                     /* TKEY */
	case 250: return "n62m2em";                     /* TSIG */
	case 256: return "22q";                         /* URI */
	case 257: return "1gq";                         /* CAA */
	default: return NULL;                           /* NULL (10) and the rest: opaque */
	}
}

/* ---- output buffers: sticky "full" flag, one check at the end ---- */

struct tout {
	char *p;
	size_t cap, len;
	bool full;
};

struct bout {
	uint8_t *p;
	size_t cap, len;
	bool full;
};

static void t_put(struct tout *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (n >= o->cap - o->len) { /* keep room for the NUL */
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void t_ch(struct tout *o, char c) { t_put(o, &c, 1); }
static void t_str(struct tout *o, const char *s) { t_put(o, s, strlen(s)); }

static void t_u(struct tout *o, uint64_t v)
{
	char b[24];
	size_t i = sizeof(b);
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	t_put(o, b + i, sizeof(b) - i);
}

static const char hexu[] = "0123456789ABCDEF";
static const char hexl[] = "0123456789abcdef";

static void t_hex(struct tout *o, const uint8_t *d, size_t n)
{
	char b[64];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		b[k++] = hexu[d[i] >> 4];
		b[k++] = hexu[d[i] & 15];
		if (k == sizeof(b)) {
			t_put(o, b, k);
			k = 0;
		}
	}
	t_put(o, b, k);
}

static void t_b64(struct tout *o, const uint8_t *d, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char b[64];
	size_t k = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		b[k++] = al[v >> 18];
		b[k++] = al[(v >> 12) & 63];
		b[k++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
		b[k++] = i + 2 < n ? al[v & 63] : '=';
		if (k == sizeof(b)) {
			t_put(o, b, k);
			k = 0;
		}
	}
	t_put(o, b, k);
}

/* RFC 4648 base32hex, upper case, no padding (as NSEC3 owners are written). */
static void t_b32hex(struct tout *o, const uint8_t *d, size_t n)
{
	static const char al[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | d[i];
		bits += 8;
		while (bits >= 5) {
			t_ch(o, al[(acc >> (bits - 5)) & 31]);
			bits -= 5;
		}
	}
	if (bits)
		t_ch(o, al[(acc << (5 - bits)) & 31]);
}

static void t_ddd(struct tout *o, uint8_t c)
{
	char b[4] = { '\\', (char)('0' + c / 100), (char)('0' + c / 10 % 10), (char)('0' + c % 10) };
	t_put(o, b, 4);
}

/* Body of a quoted <character-string>: printable ASCII kept, " and \ escaped, the rest \DDD. */
static void t_qbody(struct tout *o, const uint8_t *d, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = d[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			continue;
		t_put(o, (const char *)d + run, i - run);
		if (c == '"' || c == '\\') {
			char b[2] = { '\\', (char)c };
			t_put(o, b, 2);
		} else {
			t_ddd(o, c);
		}
		run = i + 1;
	}
	t_put(o, (const char *)d + run, n - run);
}

static void t_qstr(struct tout *o, const uint8_t *d, size_t n)
{
	t_ch(o, '"');
	t_qbody(o, d, n);
	t_ch(o, '"');
}

static void t_ip4(struct tout *o, const uint8_t *d)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			t_ch(o, '.');
		t_u(o, d[i]);
	}
}

static void t_ip6(struct tout *o, const uint8_t *d)
{
	struct bw_ip ip = { .family = 6 };
	char b[BW_IP_TEXT_MAX + 1];
	memcpy(ip.a, d, 16);
	b[bw_ip_text(&ip, b)] = '\0';
	t_str(o, b);
}

static void t_type(struct tout *o, uint16_t t)
{
	const char *s = bw_dns_type_name(t);
	if (s) {
		t_str(o, s);
	} else {
		t_str(o, "TYPE");
		t_u(o, t);
	}
}

static void t_time(struct tout *o, uint32_t secs)
{
	/* Days to civil date (H. Hinnant's algorithm), no libc time zone state. */
	uint32_t days = secs / 86400, rem = secs % 86400;
	int64_t z = (int64_t)days + 719468;
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	unsigned v[6] = { (unsigned)y, (unsigned)m, (unsigned)d, rem / 3600, rem / 60 % 60, rem % 60 };
	char b[14];
	b[0] = (char)('0' + v[0] / 1000 % 10);
	b[1] = (char)('0' + v[0] / 100 % 10);
	b[2] = (char)('0' + v[0] / 10 % 10);
	b[3] = (char)('0' + v[0] % 10);
	for (int i = 1; i < 6; i++) {
		b[2 + 2 * i] = (char)('0' + v[i] / 10);
		b[3 + 2 * i] = (char)('0' + v[i] % 10);
	}
	t_put(o, b, sizeof(b));
}

static void t_name(struct tout *o, const struct bw_dns_msg *msg, size_t off)
{
	if (o->full)
		return;
	int r = bw_dns_name_text(msg, (uint16_t)off, false, o->p + o->len, o->cap - o->len);
	if (r < 0)
		o->full = true; /* the name was checked: only space can be lacking */
	else
		o->len += (size_t)r;
}

static void b_put(struct bout *o, const uint8_t *d, size_t n)
{
	if (o->full)
		return;
	if (n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, d, n);
	o->len += n;
}

static void b_name(struct bout *o, const struct bw_dns_msg *msg, size_t off)
{
	if (o->full)
		return;
	int r = bw_dns_name_wire(msg, (uint16_t)off, false, o->p + o->len, o->cap - o->len);
	if (r < 0)
		o->full = true;
	else
		o->len += (size_t)r;
}

/* ---- type bitmaps (NSEC, NSEC3, CSYNC; RFC 4034 4.1.2) ---- */

static bool bitmap_ok(const uint8_t *d, size_t n)
{
	struct bw_wire c;
	int prev = -1;
	bw_wire_init(&c, d, n);
	while (bw_wire_ok(&c) && bw_wire_left(&c)) {
		uint8_t win = bw_wire_u8(&c), len = bw_wire_u8(&c);
		if ((int)win <= prev || len < 1 || len > 32)
			return false;
		bw_wire_skip(&c, len);
		prev = win;
	}
	return bw_wire_ok(&c);
}

static void t_bitmap(struct tout *o, const uint8_t *d, size_t n)
{
	struct bw_wire c;
	bool first = true;
	bw_wire_init(&c, d, n);
	while (bw_wire_left(&c)) {
		unsigned win = bw_wire_u8(&c), len = bw_wire_u8(&c);
		const uint8_t *bm = bw_wire_ptr(&c, len);
		if (!bm)
			break;
		for (unsigned b = 0; b < len * 8u; b++) {
			if (!(bm[b / 8] & (0x80 >> (b % 8))))
				continue;
			if (!first)
				t_ch(o, ' ');
			first = false;
			t_type(o, (uint16_t)(win * 256 + b));
		}
	}
}

/* ---- SvcParams (RFC 9460 2.2) ---- */

enum { SVC_MANDATORY, SVC_ALPN, SVC_NODEFALPN, SVC_PORT, SVC_IPV4HINT, SVC_ECH, SVC_IPV6HINT, SVC_DOHPATH,
       SVC_OHTTP };

static bool svc_value_ok(uint16_t key, const uint8_t *v, size_t len)
{
	struct bw_wire c;
	switch (key) {
	case SVC_MANDATORY: return len > 0 && len % 2 == 0;
	case SVC_ALPN:
		bw_wire_init(&c, v, len);
		if (len == 0)
			return false;
		while (bw_wire_ok(&c) && bw_wire_left(&c)) {
			uint8_t l = bw_wire_u8(&c);
			if (l == 0)
				return false;
			bw_wire_skip(&c, l);
		}
		return bw_wire_ok(&c);
	case SVC_NODEFALPN: case SVC_OHTTP: return len == 0;
	case SVC_PORT: return len == 2;
	case SVC_IPV4HINT: return len > 0 && len % 4 == 0;
	case SVC_IPV6HINT: return len > 0 && len % 16 == 0;
	default: return true;
	}
}

static bool svc_ok(const uint8_t *d, size_t n)
{
	struct bw_wire c;
	long prev = -1;
	bw_wire_init(&c, d, n);
	while (bw_wire_ok(&c) && bw_wire_left(&c)) {
		uint16_t key = bw_wire_u16(&c), len = bw_wire_u16(&c);
		const uint8_t *v = bw_wire_ptr(&c, len);
		if (!v || (long)key <= prev || !svc_value_ok(key, v, len))
			return false;
		prev = key;
	}
	return bw_wire_ok(&c);
}

static void t_svckey(struct tout *o, uint16_t key)
{
	static const char *const names[] = { "mandatory", "alpn", "no-default-alpn", "port", "ipv4hint",
					     "ech", "ipv6hint", "dohpath", "ohttp" };
	if (key < BW_ARRAY_SIZE(names)) {
		t_str(o, names[key]);
	} else {
		t_str(o, "key");
		t_u(o, key);
	}
}

static void t_svc(struct tout *o, const uint8_t *d, size_t n)
{
	struct bw_wire c, vc;
	bool first = true;
	bw_wire_init(&c, d, n);
	while (bw_wire_left(&c)) {
		uint16_t key = bw_wire_u16(&c), len = bw_wire_u16(&c);
		bw_wire_sub(&c, len, &vc);
		if (!bw_wire_ok(&c))
			break;
		if (!first)
			t_ch(o, ' ');
		first = false;
		t_svckey(o, key);
		switch (key) {
		case SVC_MANDATORY:
			t_ch(o, '=');
			for (bool f = true; bw_wire_left(&vc) >= 2; f = false) {
				if (!f)
					t_ch(o, ',');
				t_svckey(o, bw_wire_u16(&vc));
			}
			break;
		case SVC_ALPN:
			t_str(o, "=\"");
			for (bool f = true; bw_wire_left(&vc); f = false) {
				uint8_t l = bw_wire_u8(&vc);
				const uint8_t *id = bw_wire_ptr(&vc, l);
				if (!id)
					break;
				if (!f)
					t_ch(o, ',');
				/* A comma or backslash inside an alpn-id is escaped twice (value list inside a string). */
				for (size_t j = 0; j < l; j++) {
					if (id[j] == ',')
						t_str(o, "\\\\,");
					else if (id[j] == '\\')
						t_str(o, "\\\\\\\\");
					else
						t_qbody(o, id + j, 1);
				}
			}
			t_ch(o, '"');
			break;
		case SVC_NODEFALPN: case SVC_OHTTP:
			break;
		case SVC_PORT:
			t_ch(o, '=');
			t_u(o, bw_wire_u16(&vc));
			break;
		case SVC_IPV4HINT:
		case SVC_IPV6HINT: {
			size_t al = key == SVC_IPV4HINT ? 4 : 16;
			t_ch(o, '=');
			for (bool f = true; bw_wire_left(&vc) >= al; f = false) {
				if (!f)
					t_ch(o, ',');
				const uint8_t *a = bw_wire_ptr(&vc, al);
				if (al == 4)
					t_ip4(o, a);
				else
					t_ip6(o, a);
			}
			break;
		}
		case SVC_ECH:
			t_ch(o, '=');
			t_b64(o, bw_wire_ptr(&vc, len), len);
			break;
		default: /* dohpath and unknown keys: the value as a quoted string */
			if (len || key == SVC_DOHPATH) {
				t_ch(o, '=');
				t_qstr(o, bw_wire_ptr(&vc, len), len);
			}
			break;
		}
	}
}

/* ---- EDNS options (RFC 6891 6.1.2 and the option RFCs) ---- */

static bool opts_ok(const uint8_t *d, size_t n)
{
	struct bw_wire c;
	bw_wire_init(&c, d, n);
	while (bw_wire_ok(&c) && bw_wire_left(&c)) {
		bw_wire_skip(&c, 2);
		bw_wire_skip(&c, bw_wire_u16(&c));
	}
	return bw_wire_ok(&c);
}

static const char *opt_name(uint16_t code)
{
	switch (code) {
	case 1: return "LLQ";
	case 2: return "UL";
	case 3: return "NSID";
	case 5: return "DAU";
	case 6: return "DHU";
	case 7: return "N3U";
	case 8: return "ECS";
	case 9: return "EXPIRE";
	case 10: return "COOKIE";
	case 11: return "KEEPALIVE";
	case 12: return "PADDING";
	case 13: return "CHAIN";
	case 14: return "KEY-TAG";
	case 15: return "EDE";
	case 16: return "CLIENT-TAG";
	case 17: return "SERVER-TAG";
	case 18: return "REPORT-CHANNEL";
	case 19: return "ZONEVERSION";
	default: return NULL;
	}
}

static bool t_ecs(struct tout *o, const uint8_t *v, size_t len)
{
	struct bw_wire c;
	bw_wire_init(&c, v, len);
	uint16_t fam = bw_wire_u16(&c);
	uint8_t src = bw_wire_u8(&c), scope = bw_wire_u8(&c);
	size_t alen = bw_wire_left(&c), max = fam == 1 ? 4 : fam == 2 ? 16 : 0;
	if (!bw_wire_ok(&c) || !max || alen > max)
		return false;
	uint8_t a[16] = { 0 };
	bw_wire_copy(&c, a, alen);
	if (fam == 1)
		t_ip4(o, a);
	else
		t_ip6(o, a);
	t_ch(o, '/');
	t_u(o, src);
	t_ch(o, '/');
	t_u(o, scope);
	return true;
}

static void t_list(struct tout *o, struct bw_wire *c, size_t width)
{
	for (bool f = true; bw_wire_left(c) >= width; f = false) {
		if (!f)
			t_ch(o, ',');
		t_u(o, width == 1 ? bw_wire_u8(c) : bw_wire_u16(c));
	}
}

static void t_opts(struct tout *o, const uint8_t *d, size_t n)
{
	struct bw_wire c, vc;
	bool first = true;
	bw_wire_init(&c, d, n);
	while (bw_wire_left(&c)) {
		uint16_t code = bw_wire_u16(&c), len = bw_wire_u16(&c);
		bw_wire_sub(&c, len, &vc);
		if (!bw_wire_ok(&c))
			break;
		const uint8_t *v = bw_wire_peek(&vc, len);
		const char *name = opt_name(code);
		if (!first)
			t_ch(o, ' ');
		first = false;
		if (name) {
			t_str(o, name);
		} else {
			t_str(o, "OPT");
			t_u(o, code);
		}
		if (len == 0)
			continue;
		t_ch(o, '=');
		switch (code) {
		case 5: case 6: case 7:
			t_list(o, &vc, 1);
			continue;
		case 8:
			if (t_ecs(o, v, len))
				continue;
			break;
		case 9:
			if (len == 4) {
				t_u(o, bw_wire_u32(&vc));
				continue;
			}
			break;
		case 11:
			if (len == 2) {
				t_u(o, bw_wire_u16(&vc));
				continue;
			}
			break;
		case 12:
			t_u(o, len);
			continue;
		case 14:
			if (len % 2)
				break;
			t_list(o, &vc, 2);
			continue;
		case 15:
			if (len < 2)
				break;
			t_u(o, bw_wire_u16(&vc));
			if (len > 2) {
				t_ch(o, ':');
				t_qstr(o, bw_wire_ptr(&vc, len - 2u), len - 2u);
			}
			continue;
		default:
			break;
		}
		t_hex(o, v, len);
	}
}

int bw_dns_opt_find(const struct bw_dns_msg *msg, uint16_t code, const uint8_t **val, uint16_t *len)
{
	struct bw_wire c;
	if (!msg || !msg->wire || !msg->has_opt || msg->opt_rr >= msg->n_rr)
		return BW_ENOENT;
	const struct bw_dns_rr *rr = &msg->rr[msg->opt_rr];
	if ((size_t)rr->rdata_off + rr->rdlen > msg->len)
		return BW_ENOENT;
	bw_wire_init(&c, msg->wire + rr->rdata_off, rr->rdlen);
	while (bw_wire_ok(&c) && bw_wire_left(&c)) {
		uint16_t cd = bw_wire_u16(&c), l = bw_wire_u16(&c);
		const uint8_t *v = bw_wire_ptr(&c, l);
		if (v && cd == code) {
			if (val)
				*val = v;
			if (len)
				*len = l;
			return BW_OK;
		}
	}
	return BW_ENOENT;
}

/* ---- the walker ---- */

struct rdwalk {
	const uint8_t *p;            /* message */
	size_t n;
	const struct bw_dns_msg *msg; /* for writing names; NULL when only checking */
	struct tout *t;              /* text out, or NULL */
	struct bout *b;              /* uncompressed out, or NULL */
};

static bool all_alnum(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = d[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/*
 * Walk the fields of desc over the rdata p[off..off+rdlen); false if it is
 * malformed. The cursor ends at the rdata's end, so a field running over
 * fails the cursor; names are checked against the whole message (pointers
 * may target anything before them) and must end inside the rdata.
 */
static bool rd_walk(const struct rdwalk *w, const char *desc, size_t off, size_t rdlen)
{
	struct tout *t = w->t;
	struct bw_wire c;
	bool first = true;

	bw_wire_init(&c, w->p, off + rdlen);
	bw_wire_seek(&c, off);

#define SEP() do { if (t) { if (!first) t_ch(t, ' '); first = false; } } while (0)

	for (const char *d = desc; *d && bw_wire_ok(&c); d++) {
		char k = *d;
		size_t fstart = bw_wire_pos(&c);
		bool is_name = false;
		switch (k) {
		case '1': {
			uint8_t v = bw_wire_u8(&c);
			SEP();
			if (t)
				t_u(t, v);
			break;
		}
		case '2':
		case 'y':
		case 'e': {
			uint16_t v = bw_wire_u16(&c);
			SEP();
			if (!t)
				break;
			const char *s = k == 'y' ? bw_dns_type_name(v)
					: k == 'e' ? (v == 16 ? "BADSIG" : bw_dns_rcode_name(v)) : NULL;
			if (k == 'y' && !s)
				t_str(t, "TYPE");
			if (s)
				t_str(t, s);
			else
				t_u(t, v);
			break;
		}
		case '4':
		case 'T': {
			uint32_t v = bw_wire_u32(&c);
			SEP();
			if (t && k == 'T')
				t_time(t, v);
			else if (t)
				t_u(t, v);
			break;
		}
		case '6': {
			uint64_t v = (uint64_t)bw_wire_u16(&c) << 32;
			v |= bw_wire_u32(&c);
			SEP();
			if (t)
				t_u(t, v);
			break;
		}
		case 'a':
		case 'A': {
			const uint8_t *a = bw_wire_ptr(&c, k == 'a' ? 4 : 16);
			SEP();
			if (t && a && k == 'a')
				t_ip4(t, a);
			else if (t && a)
				t_ip6(t, a);
			break;
		}
		case 'E':
		case 'F':
		case 'I': {
			size_t len = k == 'E' ? 6 : 8;
			const uint8_t *a = bw_wire_ptr(&c, len);
			SEP();
			for (size_t i = 0; t && a && i < len; i++) {
				if (i && (k != 'I' || i % 2 == 0))
					t_ch(t, k == 'I' ? ':' : '-');
				char b[2] = { hexl[a[i] >> 4], hexl[a[i] & 15] };
				t_put(t, b, 2);
			}
			break;
		}
		case 'n':
		case 'N':
			is_name = true;
			while (k == 'n' || bw_wire_left(&c)) {
				size_t at = bw_wire_pos(&c), next;
				if (bw_dns_name_check(w->p, w->n, at, &next, NULL) != BW_OK || next > c.len)
					return false;
				SEP();
				if (t)
					t_name(t, w->msg, at);
				if (w->b)
					b_name(w->b, w->msg, at);
				bw_wire_seek(&c, next);
				if (k == 'n')
					break;
			}
			break;
		case 's':
		case 'S':
			do {
				uint8_t len = bw_wire_u8(&c);
				const uint8_t *v = bw_wire_ptr(&c, len);
				if (!v)
					return false;
				SEP();
				if (t)
					t_qstr(t, v, len);
			} while (k == 'S' && bw_wire_left(&c));
			break;
		case 'g': {
			uint8_t len = bw_wire_u8(&c);
			const uint8_t *v = bw_wire_ptr(&c, len);
			if (!v || len == 0 || !all_alnum(v, len))
				return false;
			SEP();
			if (t)
				t_put(t, (const char *)v, len);
			break;
		}
		case 'x':
		case 'B': {
			uint8_t len = bw_wire_u8(&c);
			const uint8_t *v = bw_wire_ptr(&c, len);
			if (!v || (k == 'B' && len == 0))
				return false;
			SEP();
			if (t && k == 'B')
				t_b32hex(t, v, len);
			else if (t && len)
				t_hex(t, v, len);
			else if (t)
				t_ch(t, '-');
			break;
		}
		case 'm': {
			uint16_t len = bw_wire_u16(&c);
			const uint8_t *v = bw_wire_ptr(&c, len);
			if (!v)
				return false;
			SEP();
			if (t) {
				t_u(t, len);
				if (len) {
					t_ch(t, ' ');
					t_b64(t, v, len);
				}
			}
			break;
		}
		case 'K': {
			uint8_t hl = bw_wire_u8(&c), alg = bw_wire_u8(&c);
			uint16_t pl = bw_wire_u16(&c);
			const uint8_t *hit = bw_wire_ptr(&c, hl), *pk = bw_wire_ptr(&c, pl);
			if (!hit || !pk || hl == 0)
				return false;
			SEP();
			if (t) {
				t_u(t, alg);
				t_ch(t, ' ');
				t_hex(t, hit, hl);
				if (pl) {
					t_ch(t, ' ');
					t_b64(t, pk, pl);
				}
			}
			break;
		}
		case 'q':
		case 'h':
		case 'b':
		case 'M':
		case 'P':
		case 'O': {
			size_t len = bw_wire_left(&c);
			const uint8_t *v = bw_wire_ptr(&c, len);
			if ((k == 'M' && !bitmap_ok(v, len)) || (k == 'P' && !svc_ok(v, len)) ||
			    (k == 'O' && !opts_ok(v, len)))
				return false;
			if (t && k == 'q') {
				SEP();
				t_qstr(t, v, len);
			} else if (t && len) {
				SEP();
				if (k == 'h')
					t_hex(t, v, len);
				else if (k == 'b')
					t_b64(t, v, len);
				else if (k == 'M')
					t_bitmap(t, v, len);
				else if (k == 'P')
					t_svc(t, v, len);
				else
					t_opts(t, v, len);
			}
			break;
		}
		default:
			return false;
		}
		if (w->b && !is_name && bw_wire_ok(&c))
			b_put(w->b, w->p + fstart, bw_wire_pos(&c) - fstart);
	}
#undef SEP
	return bw_wire_ok(&c) && bw_wire_left(&c) == 0;
}

static inline bool empty_ok(uint16_t class, size_t rdlen)
{
	return rdlen == 0 && (class == 255 || class == 254);
}

bool bw_dns_rdata_valid(const uint8_t *p, size_t n, uint16_t type, uint16_t class, size_t off, size_t rdlen)
{
	if (!p || off > n || rdlen > n - off)
		return false;
	if (empty_ok(class, rdlen))
		return true;
	const char *desc = rd_desc(type);
	if (!desc)
		return true;
	struct rdwalk w = { .p = p, .n = n };
	return rd_walk(&w, desc, off, rdlen);
}

static bool rr_in_msg(const struct bw_dns_msg *msg, const struct bw_dns_rr *rr)
{
	return msg && rr && msg->wire && msg->len <= 65535 && (size_t)rr->rdata_off + rr->rdlen <= msg->len;
}

static void t_generic(struct tout *o, const uint8_t *d, size_t n)
{
	t_str(o, "\\# ");
	t_u(o, n);
	if (n) {
		t_ch(o, ' ');
		t_hex(o, d, n);
	}
}

int bw_dns_rdata_text(const struct bw_dns_msg *msg, const struct bw_dns_rr *rr, char *out, size_t cap)
{
	if (!rr_in_msg(msg, rr) || !out)
		return BW_EINVAL;
	if (cap == 0)
		return BW_ENOMEM;
	struct tout t = { .p = out, .cap = cap };
	const uint8_t *d = msg->wire + rr->rdata_off;
	const char *desc = rr->bad ? NULL : rd_desc(rr->type);

	if (desc && empty_ok(rr->class, rr->rdlen)) {
		/* nothing */
	} else if (desc) {
		struct rdwalk w = { .p = msg->wire, .n = msg->len, .msg = msg, .t = &t };
		if (!rd_walk(&w, desc, rr->rdata_off, rr->rdlen)) {
			/* Only reachable with a record bw_dns_parse did not check. */
			t.len = 0;
			t.full = false;
			t_generic(&t, d, rr->rdlen);
		}
	} else {
		t_generic(&t, d, rr->rdlen);
	}
	if (t.full)
		return BW_ENOMEM;
	out[t.len] = '\0';
	return (int)t.len;
}

int bw_dns_rdata_uncompressed(const struct bw_dns_msg *msg, const struct bw_dns_rr *rr, uint8_t *out,
			      size_t cap)
{
	if (!rr_in_msg(msg, rr) || (!out && cap))
		return BW_EINVAL;
	struct bout b = { .p = out, .cap = cap };
	const char *desc = rr->bad ? NULL : rd_desc(rr->type);
	bool raw = !desc || empty_ok(rr->class, rr->rdlen);

	if (!raw) {
		struct rdwalk w = { .p = msg->wire, .n = msg->len, .msg = msg, .b = &b };
		if (!rd_walk(&w, desc, rr->rdata_off, rr->rdlen)) {
			b.len = 0;
			b.full = false;
			raw = true;
		}
	}
	if (raw)
		b_put(&b, msg->wire + rr->rdata_off, rr->rdlen);
	if (b.full)
		return BW_ENOMEM;
	return (int)b.len;
}

int bw_dns_rrsig_times(const struct bw_dns_msg *msg, const struct bw_dns_rr *rr, uint32_t *inception,
		       uint32_t *expiration)
{
	struct bw_wire c;
	if (!rr_in_msg(msg, rr) || rr->bad || (rr->type != BW_DNS_T_RRSIG && rr->type != 24) || rr->rdlen < 18)
		return BW_EINVAL;
	bw_wire_init(&c, msg->wire + rr->rdata_off, rr->rdlen);
	bw_wire_skip(&c, 8); /* type covered, algorithm, labels, original TTL */
	uint32_t exp = bw_wire_u32(&c), inc = bw_wire_u32(&c);
	if (expiration)
		*expiration = exp;
	if (inception)
		*inception = inc;
	return BW_OK;
}

/* prefix and v in decimal into buf, cut to cap (NUL-terminated when cap > 0). */
static const char *prefixed_u16(const char *prefix, uint16_t v, char *buf, size_t cap)
{
	char digits[5];
	size_t nd = 0, n = 0;
	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (cap == 0)
		return buf;
	for (; *prefix && n + 1 < cap; prefix++)
		buf[n++] = *prefix;
	while (nd && n + 1 < cap)
		buf[n++] = digits[--nd];
	buf[n] = '\0';
	return buf;
}

const char *bw_dns_type_text(uint16_t type, char *buf, size_t cap)
{
	const char *n = bw_dns_type_name(type);
	return n ? n : prefixed_u16("TYPE", type, buf, cap);
}

const char *bw_dns_rcode_text(uint16_t rcode, char *buf, size_t cap)
{
	const char *n = bw_dns_rcode_name(rcode);
	return n ? n : prefixed_u16("RCODE", rcode, buf, cap);
}

const char *bw_dns_type_name(uint16_t type)
{
	switch (type) {
	case 1: return "A";
	case 2: return "NS";
	case 3: return "MD";
	case 4: return "MF";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 7: return "MB";
	case 8: return "MG";
	case 9: return "MR";
	case 10: return "NULL";
	case 11: return "WKS";
	case 12: return "PTR";
	case 13: return "HINFO";
	case 14: return "MINFO";
	case 15: return "MX";
	case 16: return "TXT";
	case 17: return "RP";
	case 18: return "AFSDB";
	case 19: return "X25";
	case 20: return "ISDN";
	case 21: return "RT";
	case 22: return "NSAP";
	case 23: return "NSAP-PTR";
	case 24: return "SIG";
	case 25: return "KEY";
	case 26: return "PX";
	case 27: return "GPOS";
	case 28: return "AAAA";
	case 29: return "LOC";
	case 30: return "NXT";
	case 31: return "EID";
	case 32: return "NIMLOC";
	case 33: return "SRV";
	case 34: return "ATMA";
	case 35: return "NAPTR";
	case 36: return "KX";
	case 37: return "CERT";
	case 38: return "A6";
	case 39: return "DNAME";
	case 40: return "SINK";
	case 41: return "OPT";
	case 42: return "APL";
	case 43: return "DS";
	case 44: return "SSHFP";
	case 45: return "IPSECKEY";
	case 46: return "RRSIG";
	case 47: return "NSEC";
	case 48: return "DNSKEY";
	case 49: return "DHCID";
	case 50: return "NSEC3";
	case 51: return "NSEC3PARAM";
	case 52: return "TLSA";
	case 53: return "SMIMEA";
	case 55: return "HIP";
	case 56: return "NINFO";
	case 57: return "RKEY";
	case 58: return "TALINK";
	case 59: return "CDS";
	case 60: return "CDNSKEY";
	case 61: return "OPENPGPKEY";
	case 62: return "CSYNC";
	case 63: return "ZONEMD";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 66: return "DSYNC";
	case 99: return "SPF";
	case 100: return "UINFO";
	case 101: return "UID";
	case 102: return "GID";
	case 103: return "UNSPEC";
	case 104: return "NID";
	case 105: return "L32";
	case 106: return "L64";
	case 107: return "LP";
	case 108: return "EUI48";
	case 109: return "EUI64";
	case 128: return "NXNAME";
	case 249: return "TKEY";
	case 250: return "TSIG";
	case 251: return "IXFR";
	case 252: return "AXFR";
	case 253: return "MAILB";
	case 254: return "MAILA";
	case 255: return "ANY";
	case 256: return "URI";
	case 257: return "CAA";
	case 258: return "AVC";
	case 259: return "DOA";
	case 260: return "AMTRELAY";
	case 261: return "RESINFO";
	case 262: return "WALLET";
	case 263: return "CLA";
	case 264: return "IPN";
	case 32768: return "TA";
	case 32769: return "DLV";
	default: return NULL;
	}
}
