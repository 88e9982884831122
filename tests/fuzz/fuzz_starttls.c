// SPDX-License-Identifier: MIT
/*
 * fuzz_starttls.c: drive the STARTTLS follower the way the TLS worker does.
 * Byte 0 picks the protocol (low 4 bits modulo the protocol count; 0: sniff
 * it from the first chunk, as on a port that says nothing); the rest is
 * chunks, each a header byte (bit 7: from the client; low 7 bits + 1 bytes,
 * or 0x7f: a 16-bit size follows) and its bytes. Each direction keeps what
 * was not consumed and offers it again with the next chunk, as tcp_stream
 * does; the contract (used within the bytes, TLS offsets that add up,
 * sticky TLS and give-up) is checked with traps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/starttls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pipe {
	uint8_t *buf;
	size_t n;
	uint64_t total; /* bytes consumed before buf */
	bool stop, tls;
};

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void push(struct bw_starttls *st, struct pipe *q, bool fc, const uint8_t *p, size_t n)
{
	if (q->stop || q->tls)
		return;
	memcpy(q->buf + q->n, p, n);
	q->n += n;
	/* an exact-size copy, so ASan sees a read past the end */
	uint8_t *copy = malloc(q->n ? q->n : 1);
	if (!copy) {
		q->stop = true;
		return;
	}
	memcpy(copy, q->buf, q->n);
	size_t used = 0;
	int s = bw_starttls_feed(st, fc, copy, q->n, &used);
	free(copy);
	check(used <= q->n);
	switch (s) {
	case BW_STARTTLS_GIVE_UP:
		check(st->gave_up || st->proto == BW_STARTTLS_NONE);
		q->stop = true;
		check(bw_starttls_feed(st, fc, q->buf, q->n, NULL) == BW_STARTTLS_GIVE_UP);
		return;
	case BW_STARTTLS_TLS:
		check(bw_starttls_tls_started(st, fc));
		check(st->dir[fc].tls_offset == q->total + used);
		check(bw_starttls_feed(st, fc, q->buf, q->n, &used) == BW_STARTTLS_TLS && used == 0);
		q->tls = true;
		return;
	case BW_STARTTLS_MORE:
		check(!bw_starttls_tls_started(st, fc));
		check(st->dir[fc].offset == q->total + used);
		break;
	default: check(false);
	}
	memmove(q->buf, q->buf + used, q->n - used);
	q->n -= used;
	q->total += used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum bw_starttls_proto protos[] = {
		BW_STARTTLS_NONE, BW_STARTTLS_SMTP,  BW_STARTTLS_IMAP, BW_STARTTLS_POP3,         BW_STARTTLS_FTP,
		BW_STARTTLS_LDAP, BW_STARTTLS_MYSQL, BW_STARTTLS_XMPP, BW_STARTTLS_HTTP_CONNECT,
	};
	if (size < 1)
		return 0;
	enum bw_starttls_proto proto = protos[(data[0] & 15) % (sizeof(protos) / sizeof(protos[0]))];
	struct bw_starttls st;
	bw_starttls_init(&st, proto);
	struct pipe q[2] = {{0}};
	q[0].buf = malloc(size);
	q[1].buf = malloc(size);
	if (!q[0].buf || !q[1].buf)
		goto out;
	size_t i = 1;
	bool first = true;
	while (i < size) {
		uint8_t hd = data[i++];
		bool fc = hd & 0x80;
		size_t n = (size_t)(hd & 0x7f) + 1;
		if ((hd & 0x7f) == 0x7f && i + 2 <= size) {
			n = (size_t)(data[i] << 8 | data[i + 1]) + 1;
			i += 2;
		}
		if (n > size - i)
			n = size - i;
		if (first) {
			/* the sniffer over the first chunk (and each prefix of a short one) */
			uint8_t *copy = malloc(n ? n : 1);
			if (!copy)
				goto out;
			memcpy(copy, data + i, n);
			for (size_t k = n > 64 ? n : 0; k <= n; k++) {
				enum bw_starttls_proto p = bw_starttls_sniff(copy, k, fc);
				bool more = bw_starttls_sniff_more(copy, k, fc);
				check(!(p != BW_STARTTLS_NONE && more));
				check(!(more && k >= BW_STARTTLS_SNIFF_MAX));
				(void)bw_starttls_sniff_is_client(p, copy, k, fc);
				if (k == n && proto == BW_STARTTLS_NONE && p != BW_STARTTLS_NONE) {
					proto = p;
					bw_starttls_init(&st, p);
				}
			}
			free(copy);
			first = false;
		}
		push(&st, &q[fc], fc, data + i, n);
		i += n;
	}
	(void)bw_starttls_proto_name(st.proto);
	(void)bw_starttls_server_first(st.proto);
out:
	free(q[0].buf);
	free(q[1].buf);
	return 0;
}
