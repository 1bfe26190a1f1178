/* SPDX-License-Identifier: MIT */
/*
 * space: the free-space guard for the mail root.  Asks statvfs(3) how
 * many bytes an unprivileged writer may still use, for a path that may not
 * exist yet, and compares that with a reserve.  Decides nothing about
 * replies: the caller turns "not enough" into a 452.
 */
#ifndef LMTPD_SPACE_H
#define LMTPD_SPACE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Stores in *bytes_out the space available to unprivileged users
 * (f_bavail * f_frsize, saturated at UINT64_MAX) on the file system of
 * path, or of its nearest existing ancestor when path or some of its
 * parents do not exist yet ("." for a relative path with none left).
 * Returns 0, or -1 with errno set by statvfs (ENOTDIR when a component is
 * a file, EACCES, ...), ENOENT for "", ENAMETOOLONG.  May block on a slow
 * file system.
 */
int	space_available(const char *path, uint64_t *bytes_out);

/*
 * True when need bytes fit into available and leave at least reserve:
 * available - need >= reserve, with no unsigned wraparound.
 */
bool	space_enough(uint64_t available, uint64_t reserve, uint64_t need);

#endif
