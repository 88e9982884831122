/* SPDX-License-Identifier: MIT */
/*
 * fmt_json.h: observations to ECS JSON documents (one object per event).
 * Field names follow the Elastic Common Schema where it has the field and
 * live under "bindwatch." where it does not.
 */
#ifndef BW_FMT_JSON_H
#define BW_FMT_JSON_H

#include "../parsers/decode.h"
#include "../parsers/dns.h"
#include "json.h"

/* Where and when an observation was made: the evidence every event carries. */
struct bw_obs_meta {
	bw_time_t ts;
	struct bw_ip src, dst;
	uint16_t sport, dport;
	uint8_t transport;            /* IPPROTO_UDP / IPPROTO_TCP */
	const struct bw_packet *pkt;  /* for VLAN and tunnel evidence; may be NULL */
	const char *file;             /* offline: capture file name, else NULL */
	uint64_t packet;              /* offline: 1-based frame number, 0 if unknown */
};

/*
 * Scratch space the formatter needs for one rdata's presentation text
 * (a TXT record of 64 KiB with every byte escaped as \DDD). Caller-owned.
 */
#define BW_FMT_SCRATCH (4 * 65536 + 4096)

/* Write a bindwatch.dns event for msg into j (reset first). raw: include the message bytes as hex. */
int bw_fmt_json_dns(struct bw_json *j, const struct bw_dns_msg *msg, const struct bw_obs_meta *meta,
		    bool raw, char *scratch, size_t scratch_cap);

/* The common head of every observation event: @timestamp, event.*, source, destination, network, bindwatch.pcap. Leaves the top-level object open. */
void bw_fmt_json_head(struct bw_json *j, const char *dataset, const char *kind, const struct bw_obs_meta *meta);

#endif /* BW_FMT_JSON_H */
