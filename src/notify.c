/* SPDX-License-Identifier: MIT */
/*
 * notify: sd_notify(3) messages from the master, through compat's
 * sender.  Holds no state but
 * whether a failure was already reported, so a manager that went away
 * costs one warning, not one per pool change.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "log.h"
#include "notify.h"

#define NOTIFY_STATUS_MAX	200

static bool	notify_warned;

static void	notify_send(const char *);

static void
notify_send(const char *state)
{
	if (compat_sd_notify(state) == 0)
		return;
	if (!notify_warned)
		log_warn("sd_notify %.*s", (int)strcspn(state, "\n"), state);
	else
		log_debug("sd_notify %.*s: %s", (int)strcspn(state, "\n"),
		    state, strerror(errno));
	notify_warned = true;
}

bool
notify_enabled(void)
{
	return compat_sd_notify_enabled();
}

void
notify_ready(void)
{
	notify_send("READY=1");
}

void
notify_reloading(void)
{
	struct timespec	ts;
	char		state[64];

	if (!notify_enabled())
		return;
	/* systemd 253+ (Type=notify-reload) wants the time of the reload. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(state);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char	state[sizeof("STATUS=") + NOTIFY_STATUS_MAX];
	va_list	ap;
	size_t	i;
	int	len;

	if (!notify_enabled())
		return;
	memcpy(state, "STATUS=", sizeof("STATUS=") - 1);
	va_start(ap, fmt);
	len = vsnprintf(state + sizeof("STATUS=") - 1, NOTIFY_STATUS_MAX + 1,
	    fmt, ap);
	va_end(ap);
	if (len < 0 || len > NOTIFY_STATUS_MAX) {
		log_debug("sd_notify STATUS: line too long, not sent");
		return;
	}
	/* Another line would be read as another assignment. */
	for (i = sizeof("STATUS=") - 1; state[i] != '\0'; i++)
		if (state[i] == '\n')
			state[i] = ' ';
	notify_send(state);
}
