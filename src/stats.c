/* SPDX-License-Identifier: MIT */
/*
 * stats: shared counters.  The mapping is MAP_SHARED | MAP_ANONYMOUS, so
 * it survives fork() and nothing outlives the process tree.
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stats.h"

struct stats_shared {
	_Atomic uint64_t	counters[STATS_N_COUNTERS];
	_Atomic uint64_t	gauges[STATS_N_GAUGES];
	time_t			started;
	long			master_pid;
};

static struct stats_shared	*stats_region;

int
stats_init(void)
{
	void	*p;

	if (stats_region != NULL)
		return 0;
	p = mmap(NULL, sizeof(*stats_region), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p, 0, sizeof(*stats_region));
	stats_region = p;
	stats_region->started = time(NULL);
	stats_region->master_pid = (long)getpid();
	return 0;
}

void
stats_reset(void)
{
	size_t	i;

	if (stats_region == NULL)
		return;
	for (i = 0; i < STATS_N_COUNTERS; i++)
		atomic_store(&stats_region->counters[i], 0);
	for (i = 0; i < STATS_N_GAUGES; i++)
		atomic_store(&stats_region->gauges[i], 0);
}

void
stats_add(enum stats_counter c, uint64_t n)
{
	if (stats_region != NULL)
		atomic_fetch_add_explicit(&stats_region->counters[c], n,
		    memory_order_relaxed);
}

void
stats_set(enum stats_gauge g, uint64_t v)
{
	if (stats_region != NULL)
		atomic_store_explicit(&stats_region->gauges[g], v,
		    memory_order_relaxed);
}

uint64_t
stats_get(enum stats_counter c)
{
	return stats_region == NULL ? 0 : atomic_load_explicit(
	    &stats_region->counters[c], memory_order_relaxed);
}

uint64_t
stats_gauge(enum stats_gauge g)
{
	return stats_region == NULL ? 0 : atomic_load_explicit(
	    &stats_region->gauges[g], memory_order_relaxed);
}

/* Output that is cut short ends at its last complete line. */
struct stats_out {
	char	*p;
	size_t	 len, cap;
	int	 full;
};

static void	out_put(struct stats_out *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
out_put(struct stats_out *o, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (o->full || o->cap == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->full = 1;
		o->p[o->len] = '\0';
		return;
	}
	o->len += (size_t)n;
}

size_t
stats_format_status(char *out, size_t cap, time_t now)
{
	struct stats_out	o = { out, 0, cap, 0 };
	long			up;

	up = stats_region == NULL ? 0 : (long)(now - stats_region->started);
	out_put(&o, "lmtpd %s, master pid %ld, up %ldd %02ld:%02ld:%02ld\n",
	    PACKAGE_VERSION, stats_region == NULL ? 0L :
	    stats_region->master_pid, up / 86400, up / 3600 % 24,
	    up / 60 % 60, up % 60);
	out_put(&o, "children: %llu busy, %llu idle, %llu starting "
	    "(max %llu); %llu started, %llu failed\n",
	    (unsigned long long)stats_gauge(STATS_POOL_BUSY),
	    (unsigned long long)stats_gauge(STATS_POOL_IDLE),
	    (unsigned long long)stats_gauge(STATS_POOL_STARTING),
	    (unsigned long long)stats_gauge(STATS_POOL_MAX),
	    (unsigned long long)stats_get(STATS_CHILDREN_STARTED),
	    (unsigned long long)stats_get(STATS_CHILDREN_FAILED));
	out_put(&o, "connections: %llu served, %llu refused\n",
	    (unsigned long long)stats_get(STATS_CONNECTIONS),
	    (unsigned long long)stats_get(STATS_REFUSED));
	out_put(&o, "messages: %llu\n",
	    (unsigned long long)stats_get(STATS_MESSAGES));
	out_put(&o, "recipients: %llu sent, %llu deferred, %llu bounced, "
	    "%llu rejected at RCPT\n",
	    (unsigned long long)stats_get(STATS_SENT),
	    (unsigned long long)stats_get(STATS_DEFERRED),
	    (unsigned long long)stats_get(STATS_BOUNCED),
	    (unsigned long long)stats_get(STATS_REJECTED));
	out_put(&o, "bytes written: %llu\n",
	    (unsigned long long)stats_get(STATS_BYTES));
	return o.len;
}

static void
prom_metric(struct stats_out *o, const char *name, const char *type,
    const char *help)
{
	out_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One metric without labels: its HELP and TYPE lines, then its value. */
static void
prom_value(struct stats_out *o, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	prom_metric(o, name, type, help);
	out_put(o, "%s %llu\n", name, v);
}

size_t
stats_format_prometheus(char *out, size_t cap, time_t now)
{
	static const struct {
		enum stats_counter	 c;
		const char		*status;
	} rcpts[] = {
		{ STATS_SENT, "sent" }, { STATS_DEFERRED, "deferred" },
		{ STATS_BOUNCED, "bounced" }, { STATS_REJECTED, "rejected" },
	};
	static const struct {
		enum stats_gauge	 g;
		const char		*state;
	} pool[] = {
		{ STATS_POOL_BUSY, "busy" }, { STATS_POOL_IDLE, "idle" },
		{ STATS_POOL_STARTING, "starting" },
	};
	struct stats_out	o = { out, 0, cap, 0 };
	size_t			i;

	(void)now;
	prom_value(&o, "lmtpd_connections_total", "counter",
	    "Connections served.", stats_get(STATS_CONNECTIONS));
	prom_value(&o, "lmtpd_connections_refused_total", "counter",
	    "TCP connections refused by allow.", stats_get(STATS_REFUSED));
	prom_value(&o, "lmtpd_messages_total", "counter",
	    "Messages received to the end of their data.",
	    stats_get(STATS_MESSAGES));
	prom_metric(&o, "lmtpd_recipients_total", "counter",
	    "Recipients by outcome.");
	for (i = 0; i < sizeof(rcpts) / sizeof(rcpts[0]); i++)
		out_put(&o, "lmtpd_recipients_total{status=\"%s\"} %llu\n",
		    rcpts[i].status, (unsigned long long)stats_get(rcpts[i].c));
	prom_value(&o, "lmtpd_written_bytes_total", "counter",
	    "Bytes written into Maildirs.", stats_get(STATS_BYTES));
	prom_metric(&o, "lmtpd_children", "gauge", "Pool children by state.");
	for (i = 0; i < sizeof(pool) / sizeof(pool[0]); i++)
		out_put(&o, "lmtpd_children{state=\"%s\"} %llu\n",
		    pool[i].state, (unsigned long long)stats_gauge(pool[i].g));
	prom_value(&o, "lmtpd_children_max", "gauge", "max_children.",
	    stats_gauge(STATS_POOL_MAX));
	prom_value(&o, "lmtpd_children_started_total", "counter",
	    "Children forked.", stats_get(STATS_CHILDREN_STARTED));
	prom_value(&o, "lmtpd_children_failed_total", "counter",
	    "Children that died by a signal or a non-zero exit.",
	    stats_get(STATS_CHILDREN_FAILED));
	prom_value(&o, "lmtpd_start_time_seconds", "gauge",
	    "When the master started, in seconds since the epoch.",
	    stats_region == NULL ? 0 :
	    (unsigned long long)stats_region->started);
	return o.len;
}
