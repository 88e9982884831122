/* SPDX-License-Identifier: MIT */
/*
 * fuzz_memfd.h: the fuzz input as a file, for targets that drive the
 * file-path API (our mmap reader opens /proc/self/fd/N like any capture).
 * Returns the descriptor (the caller closes it) or -1.
 */
#ifndef BW_FUZZ_MEMFD_H
#define BW_FUZZ_MEMFD_H

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

static inline int fuzz_memfd(const char *name, const uint8_t *data, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	return fd;
}

#endif /* BW_FUZZ_MEMFD_H */
