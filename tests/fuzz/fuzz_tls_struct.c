/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls_struct.c: fuzz_tls (the same LLVMFuzzerTestOneInput, included)
 * with a structure-aware mutator. A TLS conversation is lengths inside
 * lengths (record, handshake message, hello extension block, extension,
 * certificate list, certificate); a byte flip almost always breaks one and
 * the parser stops at the framing. This mutator reads the input's chunks
 * back into the two directions' records, changes one thing inside (a
 * handshake message body, a hello extension's data or type, a certificate's
 * DER, with every enclosing length made right again; or one length
 * deliberately off by a little; a record split in two or two merged, a
 * content type or version changed; the delivery re-chunked), and writes the
 * chunk format back. One input in eight gets plain libFuzzer mutation.
 */
#include "fuzz_tls.c"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define TM_RECS 256
#define TM_STREAM (1u << 17)
#define TM_ARENA (1u << 20)

struct tm_rec {
	uint8_t dir;       /* 1: from the client */
	uint8_t raw;       /* not a record: bytes as they were (STARTTLS prefix, a tail) */
	uint8_t ct;
	uint8_t ver[2];
	int len_delta;
	const uint8_t *body;
	size_t blen;
	unsigned first_chunk; /* for the interleaving of the two directions */
};

static struct tm_rec tm_recs[TM_RECS];
static unsigned tm_n;
static uint8_t tm_stream[2][TM_STREAM];
static unsigned tm_chunk_at[2][TM_STREAM / 64]; /* chunk index that delivered each 64-byte block */
static uint8_t tm_arena[TM_ARENA];
static size_t tm_used;
static uint8_t tm_out[TM_STREAM * 2 + 64];

static uint32_t tm_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint8_t *tm_alloc(size_t n)
{
	if (n > TM_ARENA - tm_used)
		return NULL;
	uint8_t *p = tm_arena + tm_used;
	tm_used += n;
	return p;
}

static bool tm_is_header(const uint8_t *p, size_t n)
{
	return n >= 5 && p[0] >= 20 && p[0] <= 24 && p[1] == 3 && p[2] <= 4;
}

static void tm_add(uint8_t dir, bool raw, const uint8_t *p, size_t n, size_t off)
{
	if (tm_n >= TM_RECS || n == 0)
		return;
	struct tm_rec *r = &tm_recs[tm_n++];
	memset(r, 0, sizeof(*r));
	r->dir = dir;
	r->raw = raw;
	r->first_chunk = tm_chunk_at[dir][off / 64];
	if (raw) {
		r->body = p;
		r->blen = n;
		return;
	}
	r->ct = p[0];
	r->ver[0] = p[1];
	r->ver[1] = p[2];
	r->body = p + 5;
	r->blen = n - 5;
}

static bool tm_parse(const uint8_t *data, size_t size)
{
	size_t sl[2] = {0, 0};
	unsigned chunk = 0;
	tm_n = 0;
	size_t i = 1;
	while (i < size) {
		uint8_t hd = data[i++];
		int fc = (hd & 0x80) != 0;
		size_t n = (size_t)(hd & 0x7f) + 1;
		if ((hd & 0x7f) == 0x7f && i + 2 <= size) {
			n = (size_t)(data[i] << 8 | data[i + 1]) + 1;
			i += 2;
		}
		if (n > size - i)
			n = size - i;
		if (n > TM_STREAM - sl[fc])
			return false;
		for (size_t b = sl[fc] / 64; b <= (sl[fc] + n) / 64 && b < BW_ARRAY_SIZE(tm_chunk_at[0]); b++)
			if (b * 64 >= sl[fc])
				tm_chunk_at[fc][b] = chunk;
		memcpy(tm_stream[fc] + sl[fc], data + i, n);
		sl[fc] += n;
		i += n;
		chunk++;
	}
	for (int d = 0; d < 2; d++) {
		const uint8_t *s = tm_stream[d];
		size_t o = 0, n = sl[d];
		while (o < n && !tm_is_header(s + o, n - o))
			o++;
		tm_add((uint8_t)d, true, s, o, 0);
		while (o + 5 <= n && tm_is_header(s + o, n - o)) {
			size_t rl = (size_t)(s[o + 3] << 8 | s[o + 4]);
			if (o + 5 + rl > n)
				break;
			tm_add((uint8_t)d, false, s + o, 5 + rl, o);
			o += 5 + rl;
		}
		tm_add((uint8_t)d, true, s + o, n - o, o);
	}
	/* back into delivery order: by the chunk that carried each one's first byte */
	for (unsigned a = 1; a < tm_n; a++) {
		struct tm_rec x = tm_recs[a];
		unsigned b = a;
		while (b > 0 && tm_recs[b - 1].first_chunk > x.first_chunk) {
			tm_recs[b] = tm_recs[b - 1];
			b--;
		}
		tm_recs[b] = x;
	}
	return tm_n > 0;
}

static void put24(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static size_t get24(const uint8_t *p) { return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2]; }

/*
 * Replace body[off, off+len) of record r by repl[0..rlen), then add
 * (rlen - len) to each enclosing length field listed (offsets into the
 * body, with their widths), plus an optional deliberate error on the last.
 */
struct tm_len {
	size_t off;
	int width;
};

static bool tm_splice(struct tm_rec *r, size_t off, size_t len, const uint8_t *repl, size_t rlen,
		      const struct tm_len *lens, unsigned nlens, int delta)
{
	size_t nb = r->blen - len + rlen;
	uint8_t *b = tm_alloc(nb);
	if (!b)
		return false;
	if (off)
		memcpy(b, r->body, off);
	if (rlen)
		memcpy(b + off, repl, rlen);
	if (r->blen - off - len)
		memcpy(b + off + rlen, r->body + off + len, r->blen - off - len);
	long diff = (long)rlen - (long)len;
	for (unsigned k = 0; k < nlens; k++) {
		size_t lo = lens[k].off;
		long v = lens[k].width == 3 ? (long)get24(b + lo) : (long)(b[lo] << 8 | b[lo + 1]);
		v += diff + (k + 1 == nlens ? delta : 0);
		if (lens[k].width == 3)
			put24(b + lo, (size_t)v & 0xffffff);
		else {
			b[lo] = (uint8_t)((unsigned long)v >> 8);
			b[lo + 1] = (uint8_t)v;
		}
	}
	r->body = b;
	r->blen = nb;
	return true;
}

/* A random handshake record, or -1. */
static int tm_pick(uint32_t *rs, int ct)
{
	unsigned c = 0;
	for (unsigned i = 0; i < tm_n; i++)
		c += !tm_recs[i].raw && (ct < 0 || tm_recs[i].ct == ct);
	if (!c)
		return -1;
	unsigned k = tm_rand(rs) % c;
	for (unsigned i = 0; i < tm_n; i++)
		if (!tm_recs[i].raw && (ct < 0 || tm_recs[i].ct == ct) && k-- == 0)
			return (int)i;
	return -1;
}

static uint8_t tm_tmp[1u << 17];

/* Mutate bytes [off, off+len) of r in place of themselves, fixing the listed lengths. */
static void tm_mutate_field(struct tm_rec *r, size_t off, size_t len, const struct tm_len *lens, unsigned nlens,
			    size_t max)
{
	if (!LLVMFuzzerMutate || len > sizeof(tm_tmp) / 2)
		return;
	memcpy(tm_tmp, r->body + off, len);
	size_t cap = BW_MIN(sizeof(tm_tmp), BW_MIN(max, 2 * len + 64));
	size_t nl = LLVMFuzzerMutate(tm_tmp, len, cap);
	tm_splice(r, off, len, tm_tmp, nl, lens, nlens, 0);
}

/* Offsets of the extensions block of a hello message at body offset m (after its 4-byte header). */
static bool tm_hello_exts(const struct tm_rec *r, size_t m, size_t *eo)
{
	const uint8_t *b = r->body;
	size_t end = m + 4 + get24(b + m + 1), o = m + 4 + 34;
	if (end > r->blen || o + 1 > end)
		return false;
	o += 1u + b[o]; /* session id */
	if (b[m] == 1) {
		if (o + 2 > end)
			return false;
		o += 2u + (size_t)(b[o] << 8 | b[o + 1]); /* cipher suites */
		if (o + 1 > end)
			return false;
		o += 1u + b[o]; /* compression methods */
	} else {
		o += 3;
	}
	if (o + 2 > end || o + 2 + (size_t)(b[o] << 8 | b[o + 1]) > end)
		return false;
	*eo = o;
	return true;
}

static void tm_mutate_handshake(uint32_t *rs, size_t max)
{
	int ri = tm_pick(rs, 22);
	if (ri < 0)
		return;
	struct tm_rec *r = &tm_recs[ri];
	/* the messages that lie whole in this record */
	size_t msgs[64];
	unsigned nm = 0;
	for (size_t o = 0; o + 4 <= r->blen && nm < 64; o += 4 + get24(r->body + o + 1)) {
		if (o + 4 + get24(r->body + o + 1) > r->blen)
			break;
		msgs[nm++] = o;
	}
	if (!nm) {
		tm_mutate_field(r, 0, r->blen, NULL, 0, max);
		return;
	}
	size_t m = msgs[tm_rand(rs) % nm];
	size_t ml = get24(r->body + m + 1);
	struct tm_len hl = {m + 1, 3};
	uint8_t t = r->body[m];
	unsigned what = tm_rand(rs) % 6;
	if (what == 0) { /* the handshake length off by a little */
		tm_splice(r, 0, 0, NULL, 0, &hl, 1, (int)(tm_rand(rs) % 7) - 3);
		return;
	}
	if ((t == 1 || t == 2) && what >= 2) {
		size_t eo;
		if (!tm_hello_exts(r, m, &eo))
			goto plain;
		size_t el = (size_t)(r->body[eo] << 8 | r->body[eo + 1]);
		size_t ex[64];
		unsigned ne = 0;
		for (size_t o = eo + 2; o + 4 <= eo + 2 + el && ne < 64; o += 4u + (size_t)(r->body[o + 2] << 8 | r->body[o + 3]))
			if (o + 4 + (size_t)(r->body[o + 2] << 8 | r->body[o + 3]) <= eo + 2 + el)
				ex[ne++] = o; /* only extensions that fit in the block */
		struct tm_len l2[2] = {hl, {eo, 2}};
		if (!ne || what == 2) { /* a new extension */
			static const uint16_t types[] = {0, 5, 10, 11, 13, 16, 18, 21, 23, 35, 41, 42, 43, 45, 51, 57, 0xfe0d, 0xff01, 0x0a0a};
			uint16_t ty = types[tm_rand(rs) % BW_ARRAY_SIZE(types)];
			uint8_t e[4 + 24];
			unsigned dl = tm_rand(rs) % 24;
			e[0] = (uint8_t)(ty >> 8);
			e[1] = (uint8_t)ty;
			e[2] = 0;
			e[3] = (uint8_t)dl;
			for (unsigned k = 0; k < dl; k++)
				e[4 + k] = (uint8_t)tm_rand(rs);
			if (dl >= 2) { /* most extension data starts with its own length */
				e[4] = 0;
				e[5] = (uint8_t)(dl - 2);
			}
			tm_splice(r, eo + 2, 0, e, 4 + dl, l2, 2, 0);
			return;
		}
		size_t x = ex[tm_rand(rs) % ne];
		size_t xl = (size_t)(r->body[x + 2] << 8 | r->body[x + 3]);
		struct tm_len l3[3] = {hl, {eo, 2}, {x + 2, 2}};
		switch (what) {
		case 3: /* the data of one extension */
			tm_mutate_field(r, x + 4, xl, l3, 3, max);
			return;
		case 4: /* an extension length, or the block's, off by a little */
			tm_splice(r, 0, 0, NULL, 0, l3, (tm_rand(rs) & 1) ? 3 : 2, (int)(tm_rand(rs) % 5) - 2);
			return;
		default: /* duplicate or drop one */
			if (tm_rand(rs) & 1) {
				memcpy(tm_tmp, r->body + x, 4 + xl);
				tm_splice(r, x, 0, tm_tmp, 4 + xl, l2, 2, 0);
			} else {
				tm_splice(r, x, 4 + xl, NULL, 0, l2, 2, 0);
			}
			return;
		}
	}
	if (t == 11 && what >= 2 && ml >= 3) { /* a certificate of a TLS <= 1.2 chain */
		size_t lo = m + 4, end = lo + 3 + get24(r->body + lo);
		if (end > m + 4 + ml)
			goto plain;
		size_t certs[32];
		unsigned nc = 0;
		for (size_t o = lo + 3; o + 3 <= end && nc < 32; o += 3 + get24(r->body + o))
			certs[nc++] = o;
		if (!nc)
			goto plain;
		size_t c = certs[tm_rand(rs) % nc];
		size_t cl = get24(r->body + c);
		if (c + 3 + cl > end)
			goto plain;
		struct tm_len l3[3] = {hl, {lo, 3}, {c, 3}};
		if (what == 2)
			tm_splice(r, 0, 0, NULL, 0, l3, 3, (int)(tm_rand(rs) % 5) - 2);
		else
			tm_mutate_field(r, c + 3, cl, l3, 3, max);
		return;
	}
plain: /* the message body, its length kept right */
	tm_mutate_field(r, m + 4, ml, &hl, 1, max);
}

static void tm_mutate_one(uint32_t *rs, size_t max)
{
	int ri;
	switch (tm_rand(rs) % 10) {
	case 0:
	case 1:
	case 2:
	case 3:
		tm_mutate_handshake(rs, max);
		return;
	case 4: /* a record's body, its length kept right */
		if ((ri = tm_pick(rs, -1)) >= 0)
			tm_mutate_field(&tm_recs[ri], 0, tm_recs[ri].blen, NULL, 0, max);
		return;
	case 5: /* a record length off by a little */
		if ((ri = tm_pick(rs, -1)) >= 0)
			tm_recs[ri].len_delta = (int)(tm_rand(rs) % 7) - 3;
		return;
	case 6: /* split a record in two (handshake fragmentation across records) */
		if ((ri = tm_pick(rs, -1)) >= 0 && tm_recs[ri].blen >= 2 && tm_n < TM_RECS) {
			struct tm_rec *r = &tm_recs[ri];
			size_t cut = 1 + tm_rand(rs) % (r->blen - 1);
			memmove(r + 1, r, (tm_n - (unsigned)ri) * sizeof(*r));
			tm_n++;
			r->blen = cut;
			r[1].body += cut;
			r[1].blen -= cut;
		}
		return;
	case 7: /* merge a record with the next of its direction and type */
		if ((ri = tm_pick(rs, -1)) >= 0) {
			struct tm_rec *r = &tm_recs[ri];
			for (unsigned j = (unsigned)ri + 1; j < tm_n; j++) {
				struct tm_rec *q = &tm_recs[j];
				if (q->raw || q->dir != r->dir || q->ct != r->ct)
					continue;
				uint8_t *b = tm_alloc(r->blen + q->blen);
				if (!b)
					return;
				memcpy(b, r->body, r->blen);
				memcpy(b + r->blen, q->body, q->blen);
				r->body = b;
				r->blen += q->blen;
				memmove(q, q + 1, (tm_n - j - 1) * sizeof(*q));
				tm_n--;
				return;
			}
		}
		return;
	case 8: { /* content type or version */
		static const uint8_t cts[] = {20, 21, 22, 23, 24, 25};
		if ((ri = tm_pick(rs, -1)) < 0)
			return;
		if (tm_rand(rs) & 1)
			tm_recs[ri].ct = cts[tm_rand(rs) % BW_ARRAY_SIZE(cts)];
		else
			tm_recs[ri].ver[1] = (uint8_t)(tm_rand(rs) % 5);
		return;
	}
	default: /* swap two neighbours (the directions interleave otherwise) */
		if (tm_n >= 2) {
			unsigned a = tm_rand(rs) % (tm_n - 1);
			struct tm_rec x = tm_recs[a];
			tm_recs[a] = tm_recs[a + 1];
			tm_recs[a + 1] = x;
		}
		return;
	}
}

/* The chunk format of fuzz_tls: each piece one chunk, or cut at random points. */
static size_t tm_write(uint8_t flags, uint32_t *rs, bool rechunk, uint8_t *out, size_t cap)
{
	size_t o = 0;
	if (cap < 1)
		return 0;
	out[o++] = flags;
	for (unsigned i = 0; i < tm_n; i++) {
		const struct tm_rec *r = &tm_recs[i];
		uint8_t hdr[5];
		size_t hl = 0;
		if (!r->raw) {
			unsigned rl = (unsigned)((long)r->blen + r->len_delta) & 0xffff;
			hdr[0] = r->ct;
			hdr[1] = r->ver[0];
			hdr[2] = r->ver[1];
			hdr[3] = (uint8_t)(rl >> 8);
			hdr[4] = (uint8_t)rl;
			hl = 5;
		}
		size_t total = hl + r->blen, done = 0;
		if (total > 65536)
			return 0;
		while (done < total) {
			size_t n = total - done;
			if (rechunk && n > 1 && (tm_rand(rs) & 1))
				n = 1 + tm_rand(rs) % (n - 1);
			if (o + 3 + n > cap)
				return 0;
			uint8_t dirbit = r->dir ? 0x80 : 0;
			if (n <= 127) {
				out[o++] = (uint8_t)(dirbit | (n - 1));
			} else {
				out[o++] = (uint8_t)(dirbit | 0x7f);
				out[o++] = (uint8_t)((n - 1) >> 8);
				out[o++] = (uint8_t)(n - 1);
			}
			for (size_t k = 0; k < n; k++, done++)
				out[o + k] = done < hl ? hdr[done] : r->body[done - hl];
			o += n;
		}
	}
	return o;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	uint32_t rs = seed | 1;
	tm_used = 0;
	if (size < 2 || (tm_rand(&rs) % 8) == 0 || !tm_parse(data, size))
		return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
	uint8_t flags = data[0];
	if ((tm_rand(&rs) % 16) == 0)
		flags = (uint8_t)tm_rand(&rs);
	unsigned k = 1 + tm_rand(&rs) % 2;
	for (unsigned i = 0; i < k; i++)
		tm_mutate_one(&rs, max_size);
	size_t n = tm_write(flags, &rs, (tm_rand(&rs) % 4) == 0, tm_out, BW_MIN(max_size, sizeof(tm_out)));
	if (n == 0)
		return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
	memcpy(data, tm_out, n);
	return n;
}
