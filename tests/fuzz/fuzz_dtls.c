// SPDX-License-Identifier: MIT
/*
 * fuzz_dtls.c: DTLS datagrams into a conn. Byte 0: bit 0 a small handshake
 * cap. Then datagrams, each a 16-bit header (bit 15: from the client, low
 * 15 bits: length) and its bytes. The hellos' fingerprints and the kept
 * certificate bytes are read back at the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/ja.h"
#include "../../parsers/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct bw_tls_config cfg = {.max_handshake_bytes = (data[0] & 1) ? 2500 : 0};
	static struct bw_tls_conn c;
	struct bw_anomalies an = {0};
	bw_tls_conn_init(&c, &cfg);
	size_t i = 1;
	while (i + 2 <= size) {
		uint16_t hd = (uint16_t)(data[i] << 8 | data[i + 1]);
		i += 2;
		size_t n = hd & 0x7fff;
		if (n > size - i)
			n = size - i;
		/* an exact-size copy so ASan catches reads past the datagram */
		uint8_t *dg = malloc(n ? n : 1);
		if (!dg)
			break;
		memcpy(dg, data + i, n);
		bw_dtls_feed_datagram(&c, hd & 0x8000, dg, n, &an);
		free(dg);
		i += n;
	}
	char h[BW_JA3_HEX_LEN + 1], fp[BW_JA4_LEN + 1];
	if (c.saw_client_hello) {
		bw_ja3(&c.ch, h);
		bw_ja4(&c.ch, BW_JA4_AUTO, fp);
	}
	if (c.saw_server_hello)
		bw_ja3s(&c.sh, h);
	volatile unsigned sum = 0;
	for (size_t k = 0; k < c.server_certs.count; k++)
		if (c.server_certs.certs[k].len)
			sum += c.server_certs.certs[k].der[c.server_certs.certs[k].len - 1];
	(void)sum;
	bw_tls_conn_deinit(&c);
	return 0;
}
