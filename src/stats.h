/* SPDX-License-Identifier: MIT */
/*
 * stats: counters shared by the master and every child, in one anonymous
 * shared mapping made before the first fork.  Children add with relaxed
 * atomics (no locks, no syscalls); the master sets the pool gauges; the
 * status view and the Prometheus exporter only read.
 */
#ifndef LMTPD_STATS_H
#define LMTPD_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum stats_counter {
	STATS_CONNECTIONS,	/* accepted and greeted */
	STATS_REFUSED,		/* refused by `allow` */
	STATS_MESSAGES,		/* reached the final dot or BDAT LAST */
	STATS_SENT,		/* recipients: 2xx after the data */
	STATS_DEFERRED,		/* recipients: 4xx after the data */
	STATS_BOUNCED,		/* recipients: 5xx after the data */
	STATS_REJECTED,		/* recipients refused at RCPT */
	STATS_BYTES,		/* bytes written into Maildirs */
	STATS_CHILDREN_STARTED,
	STATS_CHILDREN_FAILED,	/* died by a signal or a non-zero exit */
	STATS_N_COUNTERS
};

enum stats_gauge {
	STATS_POOL_STARTING,
	STATS_POOL_IDLE,
	STATS_POOL_BUSY,
	STATS_POOL_MAX,
	STATS_N_GAUGES
};

/*
 * Maps the shared region; call once in the master before forking.
 * Returns 0, or -1 with errno (the counters are then not kept, and
 * every call below does nothing).
 */
int	stats_init(void);

/* Zeroes every counter and gauge (the unit tests share one process). */
void	stats_reset(void);

void	stats_add(enum stats_counter, uint64_t n);
void	stats_set(enum stats_gauge, uint64_t v);
uint64_t stats_get(enum stats_counter);
uint64_t stats_gauge(enum stats_gauge);

/*
 * The status view for `lmtpd -s`, several lines of text; or the counters
 * in the Prometheus text exposition format (version 0.0.4).  now is the
 * time to compute the uptime from.  Return the length written into out
 * (cap bytes, NUL-terminated; truncated output is cut at a line end).
 */
size_t	stats_format_status(char *out, size_t cap, time_t now);
size_t	stats_format_prometheus(char *out, size_t cap, time_t now);

#endif
