/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns_struct.c: fuzz_dns (the same LLVMFuzzerTestOneInput, included)
 * with a structure-aware mutator. Byte flips on a DNS message mostly break
 * a length or a count and die in the framing checks; this mutator parses
 * the input into header, questions and records, changes one thing the way
 * an attacker would (a record's rdata with rdlength kept right, rdlength
 * or a count deliberately off by a little, a type or class, a compression
 * pointer backwards, forwards, into the header or onto itself, a duplicated,
 * dropped or moved record, an added OPT with made-up options) and writes
 * the message back, so the rdata decoders and the name code behind the
 * framing get the mutations. One input in eight gets plain libFuzzer
 * mutation instead, and an input that does not parse as a header is
 * mutated plainly.
 */
#include "fuzz_dns.c"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define SM_ITEMS 96
#define SM_NAME 320
#define SM_SCRATCH 70000

struct sm_item {
	uint8_t sec;      /* 0 question, 1 answer, 2 authority, 3 additional */
	uint16_t nlen;
	uint8_t name[SM_NAME];
	uint16_t type, class;
	uint32_t ttl;
	int rdlen_delta;  /* written rdlength minus the real one */
	const uint8_t *rd; /* into the input copy or into rdbuf */
	size_t rdlen;
};

struct sm_msg {
	uint8_t hdr[12];
	int count_delta[4];
	struct sm_item it[SM_ITEMS];
	unsigned n;
	const uint8_t *tail;
	size_t tail_len;
};

static struct sm_msg sm;
static uint8_t sm_in[SM_SCRATCH], sm_rdbuf[SM_SCRATCH], sm_out[SM_SCRATCH];

static uint32_t sm_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Raw length of the name at off (labels up to a zero or a pointer), 0 if it does not end in n. */
static size_t sm_name_len(const uint8_t *p, size_t n, size_t off)
{
	size_t o = off;
	for (int labels = 0; labels < 128 && o < n; labels++) {
		uint8_t l = p[o];
		if (l == 0)
			return o + 1 - off;
		if ((l & 0xc0) == 0xc0)
			return o + 2 <= n ? o + 2 - off : 0;
		if (l & 0xc0)
			return 0;
		o += 1u + l;
	}
	return 0;
}

static uint16_t sm_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static bool sm_parse(const uint8_t *p, size_t n)
{
	if (n < 12)
		return false;
	memset(&sm, 0, sizeof(sm));
	memcpy(sm.hdr, p, 12);
	size_t o = 12;
	for (unsigned sec = 0; sec < 4; sec++) {
		unsigned cnt = sm_get16(p + 4 + 2 * sec);
		for (unsigned i = 0; i < cnt && sm.n < SM_ITEMS; i++) {
			size_t nl = sm_name_len(p, n, o);
			size_t fixed = sec ? 10 : 4;
			if (nl == 0 || nl > SM_NAME || o + nl + fixed > n)
				goto tail;
			struct sm_item *it = &sm.it[sm.n];
			it->sec = (uint8_t)sec;
			it->nlen = (uint16_t)nl;
			memcpy(it->name, p + o, nl);
			o += nl;
			it->type = sm_get16(p + o);
			it->class = sm_get16(p + o + 2);
			if (sec) {
				it->ttl = (uint32_t)p[o + 4] << 24 | (uint32_t)p[o + 5] << 16 | (uint32_t)p[o + 6] << 8 | p[o + 7];
				size_t rl = sm_get16(p + o + 8);
				if (o + 10 + rl > n)
					goto tail;
				it->rd = p + o + 10;
				it->rdlen = rl;
			}
			o += fixed + it->rdlen;
			sm.n++;
		}
	}
tail:
	sm.tail = p + o;
	sm.tail_len = n - o;
	return true;
}

static size_t sm_write(uint8_t *out, size_t cap)
{
	unsigned cnt[4] = {0};
	for (unsigned i = 0; i < sm.n; i++)
		cnt[sm.it[i].sec]++;
	if (cap < 12)
		return 0;
	memcpy(out, sm.hdr, 12);
	for (unsigned s = 0; s < 4; s++) {
		unsigned c = (unsigned)((int)cnt[s] + sm.count_delta[s]) & 0xffff;
		out[4 + 2 * s] = (uint8_t)(c >> 8);
		out[5 + 2 * s] = (uint8_t)c;
	}
	size_t o = 12;
	for (unsigned s = 0; s < 4; s++) {
		for (unsigned i = 0; i < sm.n; i++) {
			const struct sm_item *it = &sm.it[i];
			if (it->sec != s)
				continue;
			size_t need = it->nlen + (s ? 10 + it->rdlen : 4);
			if (o + need > cap)
				return 0;
			memcpy(out + o, it->name, it->nlen);
			o += it->nlen;
			uint8_t *f = out + o;
			f[0] = (uint8_t)(it->type >> 8);
			f[1] = (uint8_t)it->type;
			f[2] = (uint8_t)(it->class >> 8);
			f[3] = (uint8_t)it->class;
			o += 4;
			if (!s)
				continue;
			unsigned rl = (unsigned)((int)it->rdlen + it->rdlen_delta) & 0xffff;
			f[4] = (uint8_t)(it->ttl >> 24);
			f[5] = (uint8_t)(it->ttl >> 16);
			f[6] = (uint8_t)(it->ttl >> 8);
			f[7] = (uint8_t)it->ttl;
			f[8] = (uint8_t)(rl >> 8);
			f[9] = (uint8_t)rl;
			o += 6;
			if (it->rdlen)
				memcpy(out + o, it->rd, it->rdlen);
			o += it->rdlen;
		}
	}
	if (o + sm.tail_len > cap)
		return o;
	if (sm.tail_len)
		memcpy(out + o, sm.tail, sm.tail_len);
	return o + sm.tail_len;
}

static const uint16_t sm_types[] = {
	1, 2, 5, 6, 12, 13, 15, 16, 17, 18, 24, 25, 28, 29, 33, 35, 36, 37, 39, 41, 42, 43, 44, 45, 46, 47, 48,
	49, 50, 51, 52, 53, 55, 59, 60, 61, 62, 63, 64, 65, 99, 249, 250, 251, 252, 255, 256, 257, 32768, 32769,
};

/* An RR (not a question) at random, or -1. */
static int sm_pick_rr(uint32_t *r)
{
	unsigned rrs = 0;
	for (unsigned i = 0; i < sm.n; i++)
		rrs += sm.it[i].sec != 0;
	if (!rrs)
		return -1;
	unsigned k = sm_rand(r) % rrs;
	for (unsigned i = 0; i < sm.n; i++)
		if (sm.it[i].sec && k-- == 0)
			return (int)i;
	return -1;
}

static void sm_mutate_one(uint32_t *r, size_t max_size)
{
	int i;
	struct sm_item *it = sm.n ? &sm.it[sm_rand(r) % sm.n] : NULL;
	switch (sm_rand(r) % 14) {
	case 0:
	case 1:
	case 2: /* rdata bytes, rdlength kept right */
		if ((i = sm_pick_rr(r)) < 0 || !LLVMFuzzerMutate)
			return;
		it = &sm.it[i];
		if (it->rd != sm_rdbuf && it->rdlen)
			memmove(sm_rdbuf, it->rd, it->rdlen);
		it->rd = sm_rdbuf;
		it->rdlen = LLVMFuzzerMutate(sm_rdbuf, it->rdlen, BW_MIN(max_size, (size_t)BW_MIN(65535, 2 * it->rdlen + 32)));
		it->rdlen_delta = 0;
		return;
	case 3: /* rdlength off by a little */
		if ((i = sm_pick_rr(r)) >= 0)
			sm.it[i].rdlen_delta = (int)(sm_rand(r) % 7) - 3;
		return;
	case 4: /* another type over the same rdata */
		if (it)
			it->type = sm_types[sm_rand(r) % BW_ARRAY_SIZE(sm_types)];
		return;
	case 5: { /* a compression pointer: backwards, forwards, into the header, onto itself */
		if (!it)
			return;
		static const uint16_t targets[] = {12, 0, 2, 11, 13, 0x3fff};
		uint16_t t = (sm_rand(r) & 1) ? targets[sm_rand(r) % BW_ARRAY_SIZE(targets)] : (uint16_t)(sm_rand(r) % 512);
		uint8_t ptr[2] = {(uint8_t)(0xc0 | t >> 8), (uint8_t)t};
		if ((sm_rand(r) % 3) == 0 && it->sec && (it->type == 2 || it->type == 5 || it->type == 12 || it->type == 39)) {
			memcpy(sm_rdbuf, ptr, 2);
			it->rd = sm_rdbuf;
			it->rdlen = 2;
			it->rdlen_delta = 0;
			return;
		}
		/* keep some leading labels, then the pointer */
		size_t keep = 0;
		while (keep < it->nlen && it->name[keep] && (it->name[keep] & 0xc0) == 0 && (sm_rand(r) & 1))
			keep += 1u + it->name[keep];
		if (keep + 2 > SM_NAME)
			return;
		memcpy(it->name + keep, ptr, 2);
		it->nlen = (uint16_t)(keep + 2);
		return;
	}
	case 6: /* a count off by a little */
		sm.count_delta[sm_rand(r) % 4] = (int)(sm_rand(r) % 5) - 2;
		return;
	case 7: /* duplicate or drop a record */
		if (!it)
			return;
		i = (int)(it - sm.it);
		if ((sm_rand(r) & 1) && sm.n < SM_ITEMS) {
			memmove(&sm.it[i + 1], &sm.it[i], (sm.n - (unsigned)i) * sizeof(sm.it[0]));
			sm.n++;
		} else {
			memmove(&sm.it[i], &sm.it[i + 1], (sm.n - (unsigned)i - 1) * sizeof(sm.it[0]));
			sm.n--;
		}
		return;
	case 8: { /* a label: longer, shorter, or the name made very long */
		if (!it || it->nlen < 1)
			return;
		if (sm_rand(r) & 1) {
			size_t o = 0;
			while (o < it->nlen && it->name[o] && (it->name[o] & 0xc0) == 0 && (sm_rand(r) % 3))
				o += 1u + it->name[o];
			if (o < it->nlen)
				it->name[o] = (uint8_t)(it->name[o] + (sm_rand(r) & 1 ? 1 : -1));
			return;
		}
		/* prefix 63-byte labels until the name is near or over 255 */
		unsigned k = 1 + sm_rand(r) % 5;
		size_t add = k * 64;
		if (it->nlen + add > SM_NAME)
			return;
		memmove(it->name + add, it->name, it->nlen);
		for (unsigned j = 0; j < k; j++) {
			it->name[j * 64] = 63;
			memset(it->name + j * 64 + 1, 'a' + (int)j, 63);
		}
		it->nlen = (uint16_t)(it->nlen + add);
		return;
	}
	case 9: { /* class */
		static const uint16_t classes[] = {1, 3, 4, 254, 255, 0, 512, 4096, 0x8001};
		if (it)
			it->class = classes[sm_rand(r) % BW_ARRAY_SIZE(classes)];
		return;
	}
	case 10: /* header flags, opcode, rcode */
		sm.hdr[2 + (sm_rand(r) & 1)] = (uint8_t)sm_rand(r);
		return;
	case 11: { /* an OPT record with made-up options */
		if (sm.n >= SM_ITEMS)
			return;
		struct sm_item *o = &sm.it[sm.n++];
		memset(o, 0, sizeof(*o));
		o->sec = 3;
		o->nlen = 1;
		o->type = 41;
		o->class = (uint16_t)(sm_rand(r) & 1 ? 1232 : sm_rand(r));
		o->ttl = sm_rand(r) & 0x0100ffff;
		size_t n = 0;
		unsigned opts = sm_rand(r) % 4;
		for (unsigned j = 0; j < opts && n + 4 + 16 <= sizeof(sm_rdbuf); j++) {
			static const uint16_t codes[] = {3, 8, 10, 11, 12, 15, 0xfde9};
			uint16_t code = codes[sm_rand(r) % BW_ARRAY_SIZE(codes)];
			unsigned len = sm_rand(r) % 17;
			sm_rdbuf[n] = (uint8_t)(code >> 8);
			sm_rdbuf[n + 1] = (uint8_t)code;
			sm_rdbuf[n + 2] = 0;
			sm_rdbuf[n + 3] = (uint8_t)(len + ((sm_rand(r) % 8) == 0 ? 1 : 0)); /* sometimes one too many */
			for (unsigned b = 0; b < len; b++)
				sm_rdbuf[n + 4 + b] = (uint8_t)sm_rand(r);
			n += 4 + len;
		}
		o->rd = sm_rdbuf;
		o->rdlen = n;
		return;
	}
	case 12: /* move a record to another section */
		if (it && it->sec)
			it->sec = (uint8_t)(1 + sm_rand(r) % 3);
		return;
	default: /* TTL */
		if (it && it->sec)
			it->ttl = (sm_rand(r) & 1) ? 0x80000000u : sm_rand(r);
		return;
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	uint32_t r = seed | 1;
	if (size > sizeof(sm_in) || (sm_rand(&r) % 8) == 0 || !sm_parse(memcpy(sm_in, data, size), size))
		return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
	unsigned k = 1 + sm_rand(&r) % 3;
	for (unsigned i = 0; i < k; i++)
		sm_mutate_one(&r, max_size);
	size_t n = sm_write(sm_out, BW_MIN(max_size, sizeof(sm_out)));
	if (n == 0)
		return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
	memcpy(data, sm_out, n);
	return n;
}
