/* SPDX-License-Identifier: MIT */
/*
 * notify: tells the service manager how the service is doing, as
 * sd_notify(3) defines: READY=1, RELOADING=1, STOPPING=1, STATUS=.  Only
 * the master calls these: it is the service; a child never speaks for it.
 * Without a manager ($NOTIFY_SOCKET unset) each call does nothing.  None blocks (one datagram) and none fails: a message that
 * cannot be sent is logged, the first time as a warning.
 */
#ifndef LMTPD_NOTIFY_H
#define LMTPD_NOTIFY_H

#include <stdbool.h>

/* True when there is a service manager to tell. */
bool	notify_enabled(void);

/* Start-up or a reload is complete: READY=1. */
void	notify_ready(void);

/*
 * A reload begins: RELOADING=1, with MONOTONIC_USEC (the CLOCK_MONOTONIC
 * time) as Type=notify-reload wants.  notify_ready() must follow once it
 * is done, whether the new configuration was taken or not.
 */
void	notify_reloading(void);

/* The service is shutting down: STOPPING=1. */
void	notify_stopping(void);

/*
 * STATUS=, one line of free text for systemctl status (a newline in it is
 * replaced by a space).  A line longer than 200 bytes is not sent.
 */
void	notify_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
