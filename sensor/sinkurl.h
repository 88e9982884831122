/* SPDX-License-Identifier: MIT */
/*
 * sinkurl.h: parse a syslog sink spec into its settings.
 *
 *   syslog+udp://HOST[:PORT][?OPTS]      RFC 5426, default port 514
 *   syslog+tcp://HOST[:PORT][?OPTS]      RFC 6587, default port 514
 *   syslog+tls://HOST[:PORT][?OPTS]      RFC 5425, default port 6514
 *   syslog+unix:///PATH[?OPTS]           local socket (datagram, or stream)
 *
 * HOST is a name, an IPv4 address or [IPv6]. OPTS are key=value pairs joined
 * by '&'; values may use %XX escapes (a path holding '&' or '?').
 *
 *   format=json|cef|leef           payload (default json)
 *   events=alerts,dns,tls,x509,stats|all   which events (default alerts)
 *   syslog=5424|3164               header layout (default 5424)
 *   framing=octet-counting|newline TCP framing (default octet-counting; TLS always octet-counting;
 *                                  unix stream sockets default to newline)
 *   facility=NAME|0..23            (default local0, or what main passes)
 *   hostname=, app=                header fields (default: main's, else gethostname() and "bindwatch")
 *   max_size=BYTES                 largest message (UDP default 1472 over IPv4 and 1452 over IPv6,
 *                                  else 65536); longer ones are cut with a marker
 *   bom=0|1                        UTF-8 BOM before MSG in RFC 5424 (default 1)
 *   ca=FILE, cert=FILE, key=FILE   TLS: trust anchors (default: system store), client certificate
 *   servername=NAME                TLS: name to verify (default HOST)
 *   spool=DIR, spool_max=BYTES     on-disk spool (default see bw_sinkurl_default_spool; 256 MiB)
 *   queue=N                        in-memory queue, events (default 10000)
 *   drain=SECONDS                  how long close waits for delivery (default 10)
 *   resend=SECONDS                 re-send window after a lost connection (default 5)
 *   backoff_max=SECONDS            reconnect backoff ceiling (default 30)
 *   sd_id=NAME@PEN                 structured-data id (default bindwatch@32473)
 *
 * Sizes accept a K/M/G suffix (powers of 1024).
 */
#ifndef BW_SINKURL_H
#define BW_SINKURL_H

#include "bw.h"
#include "fmt_syslog.h"

enum bw_transport {
	BW_TR_UDP = 1,
	BW_TR_TCP,
	BW_TR_TLS,
	BW_TR_UNIX,
};

enum bw_framing {
	BW_FRAME_DEFAULT = 0, /* octet counting on TCP/TLS, newline on unix stream */
	BW_FRAME_OCTET,
	BW_FRAME_NEWLINE,
};

#define BW_SINKURL_PATH 1024

struct bw_sinkurl {
	enum bw_transport transport;
	char host[256];       /* without brackets */
	uint16_t port;
	char path[108];       /* unix socket path (sun_path size) */
	enum bw_payload format;
	unsigned events;      /* enum bw_event_type mask */
	enum bw_syslog_layout layout;
	enum bw_framing framing;
	int facility;         /* -1: not given */
	char hostname[256];   /* "" : not given */
	char app[49];
	char sd_id[33];
	size_t max_size;      /* 0: transport default */
	bool bom;
	char ca[BW_SINKURL_PATH], cert[BW_SINKURL_PATH], key[BW_SINKURL_PATH];
	char servername[256];
	char spool[BW_SINKURL_PATH]; /* "" : default location */
	uint64_t spool_max;
	uint32_t queue;
	uint32_t drain_ms;
	uint32_t resend_ms;
	uint32_t backoff_max_ms;
};

/* true if spec names a syslog sink (starts with "syslog+"). */
bool bw_sinkurl_is_syslog(const char *spec);

/* Parse spec into *u (all defaults filled in). BW_OK, or BW_EINVAL with a message naming the problem. */
int bw_sinkurl_parse(const char *spec, struct bw_sinkurl *u, char *err, size_t errcap);

/*
 * The default spool directory for u: /var/spool/bindwatch/<id> as root,
 * else $XDG_STATE_HOME/bindwatch/<id> or ~/.local/state/bindwatch/<id>, where
 * <id> is a short hash of transport, host and port (so two sinks never share
 * one, and the same sink finds its spool again after a restart).
 */
int bw_sinkurl_default_spool(const struct bw_sinkurl *u, char *out, size_t cap);

/* The spec with its query removed, for logs and stats (paths in options are not secrets, but noise). */
void bw_sinkurl_display(const char *spec, char *out, size_t cap);

#endif /* BW_SINKURL_H */
