/* SPDX-License-Identifier: MIT */
/*
 * tool_quicseal.c: seal one QUIC v1 Initial packet for tests/certfetch
 * (mkpcap.py's quic captures).
 *
 *   tool_quicseal client|server KEY_DCID DCID SCID PN < PAYLOAD_HEX > PACKET_HEX
 *
 * The plaintext frames (CRYPTO carrying a ClientHello or ServerHello) are
 * built in Python by mkpcap.py; the packet protection of RFC 9001 (AES-GCM
 * and the AES-ECB header mask) is not in Python's standard library, so it
 * comes from the sensor's own bw_quic_seal_initial(), the function the QUIC
 * unit tests hold to the RFC 9001 appendix A vectors. A client packet is
 * padded with PADDING frames to a 1200-byte datagram (RFC 9000 14.1), the
 * size the sensor needs to call a datagram a QUIC Initial. Hex in and out,
 * so the Python side needs no binary pipes. Connection ids are hex ("-"
 * for an empty one). Exit status 0, or 2 with a message on bad input.
 */
#include "../../sensor/bw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/quic.h"

#define MAX_PAYLOAD 8192

/* Hex digits of s (other characters skipped) into out; -1 if odd or too long. */
static long unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *s; s++) {
		int v = bw_hexval((unsigned char)*s);
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? (long)n : -1;
}

static long cid_arg(const char *s, uint8_t *out)
{
	return strcmp(s, "-") == 0 ? 0 : unhex(s, out, BW_QUIC_MAX_CID);
}

int main(int argc, char **argv)
{
	static char text[4 * MAX_PAYLOAD];
	static uint8_t payload[MAX_PAYLOAD], out[MAX_PAYLOAD + 128];
	uint8_t kdcid[BW_QUIC_MAX_CID], dcid[BW_QUIC_MAX_CID], scid[BW_QUIC_MAX_CID];
	int rc = 2;
	struct bw_quic_decoder *d = NULL;

	if (argc != 6 || (strcmp(argv[1], "client") != 0 && strcmp(argv[1], "server") != 0)) {
		fprintf(stderr, "usage: tool_quicseal client|server KEY_DCID DCID SCID PN < PAYLOAD_HEX\n");
		return 2;
	}
	long kl = cid_arg(argv[2], kdcid), dl = cid_arg(argv[3], dcid), sl = cid_arg(argv[4], scid);
	size_t tl = fread(text, 1, sizeof(text) - 1, stdin);
	text[tl] = 0;
	long pl = unhex(text, payload, sizeof(payload));
	if (kl <= 0 || dl < 0 || sl < 0 || pl < 0) {
		fprintf(stderr, "tool_quicseal: bad connection id or payload hex\n");
		return 2;
	}
	d = bw_quic_decoder_new();
	if (!d) {
		fprintf(stderr, "tool_quicseal: no decoder\n");
		return 2;
	}
	struct bw_quic_seal s = {
		.version = BW_QUIC_V1, .from_server = strcmp(argv[1], "server") == 0,
		.key_dcid = kdcid, .key_dcid_len = (size_t)kl, .dcid = dcid, .dcid_len = (size_t)dl,
		.scid = scid, .scid_len = (size_t)sl, .pn = strtoull(argv[5], NULL, 10), .pn_len = 2,
		.payload = payload, .payload_len = (size_t)pl,
	};
	size_t n = 0;
	/* Twice for a client: once to learn the header's size, then with the padding that makes 1200. */
	for (int round = 0; round < 2; round++) {
		if (bw_quic_seal_initial(d, &s, out, sizeof(out), &n) != BW_OK) {
			fprintf(stderr, "tool_quicseal: seal failed\n");
			goto out;
		}
		if (s.from_server || n >= 1200)
			break;
		size_t pad = 1200 - n;
		if (s.payload_len + pad > sizeof(payload))
			goto out;
		memset(payload + s.payload_len, 0, pad); /* PADDING frames are single zero bytes */
		s.payload_len += pad;
	}
	for (size_t i = 0; i < n; i++)
		printf("%02x", out[i]);
	printf("\n");
	rc = 0;
out:
	bw_quic_decoder_free(d);
	return rc;
}
