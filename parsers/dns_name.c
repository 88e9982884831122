/* SPDX-License-Identifier: MIT */
/*
 * dns_name.c: DNS names, checked once and then read. A compressed name is a
 * chain of label runs joined by pointers; everything hostile about DNS
 * messages (loops, forward pointers, pointers into the header or past the
 * end, oversized labels and names) lives in that chain, so one iterator
 * walks it with every rule applied, and the check (hot path, every name of
 * every message) and the two writers (cold path, when an event is written)
 * all use the same iterator. The rule that makes loops impossible: a
 * pointer must target an offset strictly before the start of the run being
 * read, so the run start decreases at every hop; the hop cap bounds the work
 * per name whatever the message (a chain of pointers adds no labels).
 */
#include "dns.h"

#include "wire.h"

#define DNS_HDR_LEN 12

struct name_iter {
	struct bw_wire w; /* over the whole message; pointers seek in it */
	size_t limit;     /* pointers must target < limit (start of current run) */
	size_t start;     /* offset of the name */
	size_t next;      /* offset after the name in place (0 until known) */
	unsigned hops;
	unsigned wirelen;
	enum bw_anomaly why;
};

static inline void iter_init(struct name_iter *it, const uint8_t *p, size_t n, size_t off)
{
	bw_wire_init(&it->w, p, n);
	bw_wire_seek(&it->w, off);
	it->limit = off;
	it->start = off;
	it->next = 0;
	it->hops = 0;
	it->wirelen = 1;
}

/*
 * Next label: returns its length (1..63) with *label set, 0 at the end of
 * the name, or an error with it->why set.
 */
static inline __attribute__((always_inline)) int iter_label(struct name_iter *it, const uint8_t **label)
{
	struct bw_wire *w = &it->w;
	for (;;) {
		size_t at = bw_wire_pos(w);
		uint8_t c = bw_wire_u8(w);
		if (bw_unlikely(!bw_wire_ok(w))) {
			it->why = BW_AN_DNS_TRUNC;
			return BW_ETRUNC;
		}
		if (c == 0) {
			if (!it->next)
				it->next = at + 1;
			return 0;
		}
		if (c < 0x40) {
			it->wirelen += 1u + c;
			*label = bw_wire_ptr(w, c);
			if (bw_unlikely(!*label)) {
				it->why = BW_AN_DNS_TRUNC;
				return BW_ETRUNC;
			}
			if (bw_unlikely(it->wirelen > BW_DNS_MAX_NAME)) {
				it->why = BW_AN_DNS_NAME_TOO_LONG;
				return BW_EMALF;
			}
			return c;
		}
		if (bw_unlikely(c < 0xc0)) { /* 0x40 extended and 0x80 reserved label types */
			it->why = BW_AN_DNS_BAD_NAME;
			return BW_EMALF;
		}
		size_t t = ((size_t)(c & 0x3f) << 8) | bw_wire_u8(w);
		if (bw_unlikely(!bw_wire_ok(w))) {
			it->why = BW_AN_DNS_TRUNC;
			return BW_ETRUNC;
		}
		if (!it->next)
			it->next = at + 2;
		if (bw_unlikely(t < DNS_HDR_LEN || t >= w->len)) {
			it->why = BW_AN_DNS_BAD_NAME;
			return BW_EMALF;
		}
		if (bw_unlikely(t >= it->limit)) {
			/*
			 * Into the run being read (the pointer itself included) or back
			 * into the name's first run: a loop. Anywhere else: forward.
			 */
			bool loop = t < at + 2 || (t >= it->start && t < it->next);
			it->why = loop ? BW_AN_DNS_NAME_LOOP : BW_AN_DNS_FORWARD_PTR;
			return BW_EMALF;
		}
		if (bw_unlikely(++it->hops > BW_DNS_MAX_PTR_HOPS)) {
			it->why = BW_AN_DNS_NAME_LOOP;
			return BW_EMALF;
		}
		it->limit = t;
		bw_wire_seek(w, t);
	}
}

int bw_dns_name_check(const uint8_t *p, size_t n, size_t off, size_t *next, enum bw_anomaly *why)
{
	struct name_iter it;
	const uint8_t *label;
	int r;

	iter_init(&it, p, n, off);
	while ((r = iter_label(&it, &label)) > 0)
		;
	if (r < 0) {
		if (why)
			*why = it.why;
		return r;
	}
	*next = it.next;
	return BW_OK;
}

static inline bool name_plain(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '*';
}

int bw_dns_name_text(const struct bw_dns_msg *msg, uint16_t off, bool lower, char *out, size_t cap)
{
	struct name_iter it;
	const uint8_t *label;
	size_t o = 0;
	int r;

	if (!msg || !out)
		return BW_EINVAL;
	iter_init(&it, msg->wire, msg->len, off);
	while ((r = iter_label(&it, &label)) > 0) {
		/* Worst case for this label: a dot plus 4 bytes per octet. */
		if (cap < o + 1 + 4u * (unsigned)r + 1) {
			/* Slow path only near the end of the buffer: count exactly. */
			size_t need = o + (o ? 1 : 0);
			for (int i = 0; i < r; i++) {
				uint8_t c = label[i];
				need += name_plain(c) ? 1 : (c == '.' || c == '\\') ? 2 : 4;
			}
			if (need + 1 > cap)
				return BW_ENOMEM;
		}
		if (o)
			out[o++] = '.';
		for (int i = 0; i < r; i++) {
			uint8_t c = label[i];
			if (name_plain(c)) {
				out[o++] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
			} else if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else {
				out[o++] = '\\';
				out[o++] = (char)('0' + c / 100);
				out[o++] = (char)('0' + c / 10 % 10);
				out[o++] = (char)('0' + c % 10);
			}
		}
	}
	if (r < 0)
		return BW_EMALF;
	if (o == 0) {
		if (cap < 2)
			return BW_ENOMEM;
		out[o++] = '.';
	}
	if (o + 1 > cap)
		return BW_ENOMEM;
	out[o] = '\0';
	return (int)o;
}

int bw_dns_name_wire(const struct bw_dns_msg *msg, uint16_t off, bool lower, uint8_t *out, size_t cap)
{
	struct name_iter it;
	const uint8_t *label;
	size_t o = 0;
	int r;

	if (!msg || !out)
		return BW_EINVAL;
	iter_init(&it, msg->wire, msg->len, off);
	while ((r = iter_label(&it, &label)) > 0) {
		if (o + 1 + (size_t)r > cap)
			return BW_ENOMEM;
		out[o++] = (uint8_t)r;
		for (int i = 0; i < r; i++) {
			uint8_t c = label[i];
			out[o++] = lower && c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
		}
	}
	if (r < 0)
		return BW_EMALF;
	if (o + 1 > cap)
		return BW_ENOMEM;
	out[o++] = 0;
	return (int)o;
}
