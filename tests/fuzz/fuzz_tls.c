// SPDX-License-Identifier: MIT
/*
 * fuzz_tls.c: drive a TLS conn the way the TCP reassembler does. Byte 0
 * holds flags (bit 0: a small handshake cap, bit 1: a STARTTLS SMTP/LDAP
 * front end, bit 2: LDAP rather than SMTP); the rest is chunks, each a
 * header byte (bit 7: from the client; low 7 bits + 1 bytes, or 0x7f: a
 * 16-bit size follows) and its bytes. The pure hello parsers and the
 * fingerprints run over the results; certificate pointers are read back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/ja.h"
#include "../../parsers/starttls.h"
#include "../../parsers/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pipe {
	uint8_t *buf;
	size_t n, want;
	bool stop;
};

static void push(struct bw_tls_conn *c, struct bw_starttls *st, struct pipe *q, bool fc, const uint8_t *p, size_t n,
		 struct bw_anomalies *an)
{
	if (q->stop)
		return;
	memcpy(q->buf + q->n, p, n);
	q->n += n;
	if (q->n < q->want)
		return;
	while (q->n > 0) {
		size_t need = 0, used = 0;
		int rc;
		if (st && !bw_starttls_tls_started(st, fc)) {
			int s = bw_starttls_feed(st, fc, q->buf, q->n, &used);
			if (used > q->n)
				__builtin_trap();
			if (s == BW_STARTTLS_GIVE_UP) {
				q->stop = true;
				return;
			}
			if (s == BW_STARTTLS_MORE && used == 0)
				return;
			rc = (int)used;
		} else {
			rc = bw_tls_conn_feed(c, fc, q->buf, q->n, &need, an);
			if (rc == BW_EAGAIN) {
				if (need <= q->n)
					__builtin_trap(); /* the consumer contract */
				q->want = need;
				return;
			}
			if (rc < 0) {
				q->stop = true;
				return;
			}
		}
		if ((size_t)rc > q->n)
			__builtin_trap();
		memmove(q->buf, q->buf + rc, q->n - (size_t)rc);
		q->n -= (size_t)rc;
		q->want = 0;
		if (rc == 0 && !(st && bw_starttls_tls_started(st, fc)))
			return;
	}
}

static unsigned touch_chain(const struct bw_tls_cert_chain *ch)
{
	unsigned sum = 0;
	for (size_t i = 0; i < ch->count; i++)
		if (ch->certs[i].len)
			sum += ch->certs[i].der[0] + ch->certs[i].der[ch->certs[i].len - 1];
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	char s[BW_JA3_STR_MAX], h[BW_JA3_HEX_LEN + 1], fp[BW_JA4_LEN + 1];

	/* The pure parsers over the raw bytes, as QUIC hands them over. */
	static struct bw_tls_client_hello ch;
	static struct bw_tls_server_hello sh;
	bw_tls_parse_client_hello(data + 1, size - 1, &ch);
	bw_ja3_string(&ch, s, sizeof(s));
	bw_ja4(&ch, BW_JA4_QUIC, fp);
	bw_ja4_r(&ch, BW_JA4_AUTO, s, sizeof(s));
	bw_tls_parse_server_hello(data + 1, size - 1, &sh);
	bw_ja3s_string(&sh, s, sizeof(s));
	(void)bw_tls_looks_like_client_hello(data + 1, size - 1);

	struct bw_tls_config cfg = {.max_handshake_bytes = (flags & 1) ? 3000 : 0};
	static struct bw_tls_conn c;
	struct bw_anomalies an = {0};
	struct bw_starttls st;
	bw_starttls_init(&st, (flags & 4) ? BW_STARTTLS_LDAP : BW_STARTTLS_SMTP);
	bw_tls_conn_init(&c, &cfg);
	struct pipe q[2] = {{0}};
	q[0].buf = malloc(size);
	q[1].buf = malloc(size);
	if (!q[0].buf || !q[1].buf)
		goto out;
	size_t i = 1;
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
		push(&c, (flags & 2) ? &st : NULL, &q[fc], fc, data + i, n, &an);
		i += n;
	}
	if (c.saw_client_hello) {
		bw_ja3(&c.ch, h);
		bw_ja4(&c.ch, BW_JA4_AUTO, fp);
	}
	if (c.saw_server_hello)
		bw_ja3s(&c.sh, h);
	volatile unsigned sink = touch_chain(&c.server_certs) + touch_chain(&c.client_certs);
	(void)sink;
	(void)bw_tls_conn_done(&c);
out:
	free(q[0].buf);
	free(q[1].buf);
	bw_tls_conn_deinit(&c);
	return 0;
}
