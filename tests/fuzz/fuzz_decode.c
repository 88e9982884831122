/* SPDX-License-Identifier: MIT */
/*
 * fuzz_decode.c: feed a sequence of frames to one decoder, so fragments,
 * reassembly caps, timeouts and the duplicate filter interact.
 *
 * Input: repeated [selector][length, 2 bytes big endian][frame]. The low 4
 * bits of the selector pick the link type, the high 4 bits advance packet
 * time by that many 10 ms steps (the decoder's timeout is 200 ms and the
 * duplicate window 50 ms, so both are reachable). The caps are tiny so that
 * eviction paths run too. A short last frame is used as it is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../parsers/decode.h"

static const int linktypes[16] = {
	BW_LINK_ETHERNET, BW_LINK_ETHERNET, BW_LINK_ETHERNET, BW_LINK_ETHERNET,
	BW_LINK_RAW,      BW_LINK_RAW,      BW_LINK_NULL,     BW_LINK_LOOP,
	BW_LINK_LINUX_SLL, BW_LINK_LINUX_SLL2, BW_LINK_IPV4,  BW_LINK_IPV6,
	BW_LINK_PPP,      BW_LINK_PPP_HDLC, BW_LINK_C_HDLC,   BW_LINK_DLT_RAW14,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_decode_config c;
	bw_decode_config_default(&c);
	c.frag_mem_cap = 16 * 1040;
	c.frag_max_datagrams = 8;
	c.frag_timeout = 200 * BW_NSEC_PER_MSEC;
	c.dedup_slots = 64;
	struct bw_anomalies an;
	memset(&an, 0, sizeof(an));
	struct bw_decoder *d = bw_decoder_new(&c, &an);
	if (!d)
		return 0;
	bw_time_t ts = 1700000000ULL * BW_NSEC_PER_SEC;
	size_t pos = 0;
	while (pos + 3 <= size) {
		uint8_t sel = data[pos];
		size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
		pos += 3;
		if (len > size - pos)
			len = size - pos;
		/* An exact-size copy, so ASan catches a read past the frame. */
		uint8_t *frame = malloc(len ? len : 1);
		if (!frame)
			break;
		memcpy(frame, data + pos, len);
		pos += len;
		ts += (bw_time_t)(sel >> 4) * 10 * BW_NSEC_PER_MSEC;
		/* wire_len: sometimes larger (snaplen cut), decided by a bit of the length */
		uint32_t wire = (uint32_t)len + ((len & 1) ? 100 : 0);
		struct bw_packet p;
		int r = bw_decode_frame(d, linktypes[sel & 15], frame, (uint32_t)len, wire, ts, &p);
		if (r == BW_OK || r == BW_ELIMIT) {
			volatile uint8_t sum = 0;
			for (uint32_t i = 0; i < p.payload_len; i++)
				sum += p.payload[i];
			struct bw_flow_key k;
			int dir;
			bw_flow_key_make(&p, &k, &dir);
			(void)bw_flow_key_hash(&k);
			(void)sum;
		}
		free(frame);
	}
	(void)bw_decoder_stats(d);
	bw_decoder_free(d);
	return 0;
}
