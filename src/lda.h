/* SPDX-License-Identifier: MIT */
/*
 * lda: `lmtpd deliver [-c file] [-f sender] recipient...` delivers one
 * message from standard input through the same delivery code as the
 * daemon, for Postfix's mailbox_command, procmail or fetchmail.
 */
#ifndef LMTPD_LDA_H
#define LMTPD_LDA_H

#include <stdio.h>

/*
 * argv[0] is "deliver".  conf_default is the configuration file used
 * without -c.  Returns a sysexits(3) code: 0 every copy delivered,
 * EX_TEMPFAIL (75) when any recipient failed temporarily (the caller
 * retries; copies already stored are recognised as duplicates), else
 * EX_NOUSER (67) when a recipient is unknown, EX_UNAVAILABLE (69) for any
 * other refusal, EX_USAGE or EX_CONFIG for bad arguments or settings.
 */
int	lda_main(int argc, char *argv[], const char *conf_default);

#endif
