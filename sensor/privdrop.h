/* SPDX-License-Identifier: MIT */
/*
 * privdrop.h: `--user NAME`: give up root and every capability once the
 * capture is set up.
 *
 * What the sensor needs to start (see bindwatch --help): CAP_NET_RAW (packet
 * sockets), CAP_NET_ADMIN (promiscuous mode, XDP attach, fanout), CAP_BPF and
 * CAP_PERFMON (loading the eBPF filter; CAP_SYS_ADMIN on kernels before 5.8),
 * CAP_IPC_LOCK helps (locked rings past RLIMIT_MEMLOCK) -- or simply root.
 * Once the sockets, rings and BPF programs exist, none of that is needed:
 * reading rings, updating the bypass map and reading counters go through the
 * descriptors already open, and closing them detaches what they attached.
 *
 * bw_privdrop: clears the capability bounding set and the ambient set (where
 * CAP_SETPCAP allows), setgroups(0), setgid and setuid to NAME's ids (glibc
 * applies the ids to every thread of the process), turns PR_SET_KEEPCAPS off
 * so the uid change empties the permitted and effective sets, sets them empty
 * with capset as well, sets PR_SET_NO_NEW_PRIVS, then verifies: real,
 * effective and saved ids are NAME's, setuid(0) fails, and the calling
 * thread's effective, permitted and inheritable capabilities are empty.
 * Call it before starting threads of your own: capset and no_new_privs act
 * on the calling thread (threads created later inherit them); threads that
 * already exist lose their capabilities through the uid change only.
 *
 * Returns BW_OK, BW_EINVAL (no such user: err says so) or BW_EIO (a step
 * failed or the check did not hold: err names it; the process must not go
 * on as if it had dropped).
 */
#ifndef BW_PRIVDROP_H
#define BW_PRIVDROP_H

#include <sys/types.h>

#include "bw.h"

int bw_privdrop(const char *user, char *err, size_t errcap);

/* The same with the ids given (tests; user NULL). */
int bw_privdrop_ids(uid_t uid, gid_t gid, char *err, size_t errcap);

/* True if the calling thread has no capability in its effective, permitted or inheritable set. */
bool bw_privdrop_caps_empty(void);

#endif /* BW_PRIVDROP_H */
