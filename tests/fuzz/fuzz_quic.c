/* SPDX-License-Identifier: MIT */
/*
 * fuzz_quic.c: feed a sequence of UDP datagrams into one QUIC flow.
 *
 * Input: records of a 2-byte big-endian header then the record's bytes.
 * Header bit 15: from the server (else the client). Bit 14: the bytes are
 * Initial frames to be sealed (with the flow's current Initial keys, or a
 * fixed DCID before the first client packet) before feeding; without it
 * they are a raw datagram. Bit 13: seal as QUIC v2 rather than v1. Bits
 * 0-12: the length (clipped to what is left). Sealing lets mutated frames
 * get through real packet protection to the frame parser and the CRYPTO
 * reassembly, which raw mutation of ciphertext would never reach.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/quic.h"

static const uint8_t fuzz_dcid[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };
static const uint8_t fuzz_scid[8] = { 0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5 };

static struct bw_quic_decoder *dec;
static struct bw_quic_conn conn;
static uint8_t sealed[9000];

static void touch(const uint8_t *p, size_t n)
{
	volatile uint8_t sum = 0;
	for (size_t i = 0; p && i < n; i++)
		sum += p[i];
	(void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_anomalies an;
	uint64_t pn[2] = { 0, 0 };
	char hex[41];
	if (!dec && !(dec = bw_quic_decoder_new()))
		abort();
	bw_quic_conn_init(&conn);
	memset(&an, 0, sizeof(an));
	size_t pos = 0;
	while (size - pos >= 2) {
		unsigned h = (unsigned)data[pos] << 8 | data[pos + 1];
		pos += 2;
		size_t len = h & 0x1fff;
		if (len > size - pos)
			len = size - pos;
		const uint8_t *rec = data + pos;
		pos += len;
		bool from_server = h & 0x8000;
		if (!(h & 0x4000)) {
			(void)bw_quic_looks_like_initial(rec, len);
			(void)bw_quic_feed(dec, &conn, !from_server, rec, len, &an);
			continue;
		}
		int dir = from_server ? 1 : 0;
		const uint8_t *kd = conn.have_client ? conn.key_dcid : fuzz_dcid;
		size_t kdl = conn.have_client ? conn.key_dcid_len : sizeof(fuzz_dcid);
		struct bw_quic_seal s = {
			.version = (h & 0x2000) ? BW_QUIC_V2 : BW_QUIC_V1,
			.from_server = from_server,
			.key_dcid = kd,
			.key_dcid_len = kdl,
			.dcid = from_server ? fuzz_scid : kd,
			.dcid_len = from_server ? sizeof(fuzz_scid) : kdl,
			.scid = from_server ? kd : fuzz_scid,
			.scid_len = from_server ? kdl : sizeof(fuzz_scid),
			.pn = pn[dir]++,
			.pn_len = len < 3 ? 4 : 2,
			.payload = rec,
			.payload_len = len,
		};
		size_t n = 0;
		if (bw_quic_seal_initial(dec, &s, sealed, sizeof(sealed), &n) == BW_OK)
			(void)bw_quic_feed(dec, &conn, !from_server, sealed, n, &an);
	}
	size_t l = 0;
	const uint8_t *m = bw_quic_client_hello(&conn, &l);
	touch(m, m ? l : 0);
	m = bw_quic_server_hello(&conn, &l);
	touch(m, m ? l : 0);
	(void)bw_quic_dcid_hex(&conn, hex, sizeof(hex));
	(void)bw_quic_scid_hex(&conn, hex, sizeof(hex));
	(void)bw_quic_version_name(bw_quic_version(&conn));
	(void)bw_quic_conn_done(&conn);
	bw_quic_conn_deinit(&conn);
	return 0;
}
