/* SPDX-License-Identifier: MIT */
/*
 * fmt_cef.h: ArcSight Common Event Format (CEF:0) payloads for the syslog
 * sinks, built from an event's ECS document.
 *
 *   CEF:0|Bindwatch|bindwatch|VERSION|CLASS|NAME|SEVERITY|k=v k=v ...
 *
 * CLASS is the rule name for alerts (the event's dataset otherwise), NAME the
 * rule description, SEVERITY 0..10 (alert severity 1..4 gives 3, 5, 8, 10;
 * other events 1, stats 0). The extension carries rt (epoch ms), externalId
 * (alert id), cat (dataset), act, msg (the alert's reason), dvchost, proto,
 * app, src/spt/dst/dpt (IPv6 addresses in c6a2/c6a3 with their labels),
 * dhost (SNI, else the DNS question, else the alert's name), request, and
 * labelled custom strings cs1..cs6 / numbers cn1..cn2 per event type (see
 * the tables in fmt_cef.c). Header fields escape '|' and '\'; extension
 * values escape '\', '=', CR and LF; other control characters and invalid
 * UTF-8 become U+FFFD.
 */
#ifndef BW_FMT_CEF_H
#define BW_FMT_CEF_H

#include "fmt_syslog.h"

#define BW_CEF_VENDOR "Bindwatch"
#define BW_CEF_PRODUCT "bindwatch"

/* CEF severity 0..10 of an event. */
unsigned bw_cef_severity(const struct bw_fmt_event *e);

/*
 * Append the CEF record for e to b. Returns true if it was written whole;
 * false if b filled up (what was written then ends on a field, escape or
 * UTF-8 boundary).
 */
bool bw_fmt_cef(struct bw_strbuf *b, const struct bw_fmt_event *e);

#endif /* BW_FMT_CEF_H */
