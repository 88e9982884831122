/* SPDX-License-Identifier: MIT */
/*
 * fmt_leef.h: IBM QRadar LEEF 2.0 payloads for the syslog sinks.
 *
 *   LEEF:2.0|Bindwatch|bindwatch|VERSION|EVENTID|x09|cat=..<TAB>devTime=..<TAB>...
 *
 * EVENTID is the rule name for alerts (the dataset otherwise); the
 * attribute delimiter is TAB, declared in hex as the guide allows. LEEF has
 * no escape syntax, so values cannot carry the delimiter: TAB, CR, LF and
 * other control characters (and invalid UTF-8) become U+FFFD; in header
 * fields '|' and '^' become '_'. Predefined attributes: cat, devTime (RFC 3339
 * with milliseconds, devTimeFormat given), sev (1..10), proto, src, srcPort,
 * dst, dstPort; then custom keys (sensorHost, alertId,
 * ruleName, reason, sni, qname, certSha256, ...).
 */
#ifndef BW_FMT_LEEF_H
#define BW_FMT_LEEF_H

#include "fmt_syslog.h"

#define BW_LEEF_DEVTIME_FORMAT "yyyy-MM-dd'T'HH:mm:ss.SSSX"

/* LEEF sev 1..10 of an event. */
unsigned bw_leef_severity(const struct bw_fmt_event *e);

/* Append the LEEF record for e; false if b filled up (cut on a boundary). */
bool bw_fmt_leef(struct bw_strbuf *b, const struct bw_fmt_event *e);

#endif /* BW_FMT_LEEF_H */
