/* SPDX-License-Identifier: MIT */
/*
 * delivery: one transaction from MAIL to the last copy, for the LMTP
 * session and for LDA mode alike: the free-space guard at MAIL, lookup,
 * quota and space at RCPT, the body (with its digest and header scan)
 * during the data, and per recipient: loop check, duplicate check, folder,
 * quota, the copy (or a hard link), journal, quota update, tmp/ janitor.
 * Knows no sockets; replies come back as struct lmtp_reply.
 */
#ifndef LMTPD_DELIVERY_H
#define LMTPD_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "addr.h"
#include "conf.h"
#include "lmtp.h"
#include "recipient.h"

struct delivery;

/* Where the message came from, for the Received line. */
struct delivery_origin {
	const char	*helo;		/* LHLO argument */
	const char	*peer;		/* "[192.0.2.1]" or "local" */
	bool		 tls;
};

/* A new, empty transaction; conf is borrowed and must outlive it. */
struct delivery	*delivery_new(const struct conf *);
void		 delivery_free(struct delivery *);

/*
 * MAIL: starts a transaction (ending any before).  size is SIZE= or 0.
 * Leaves reply alone, or refuses with 452 4.3.1 when the mail root is
 * below min_free_space.  Reasons go to why (cap bytes).
 */
void	delivery_mail(struct delivery *, const char *sender, bool utf8,
	    uint64_t size, struct lmtp_reply *, char *why, size_t cap);

/*
 * RCPT: resolves the address and checks quota and free space (with the
 * SIZE of MAIL).  Fills reply; when it is 2xx the recipient is kept as
 * number delivery_n_rcpts() - 1.  Blocks on lookups and statvfs.
 */
void	delivery_rcpt(struct delivery *, const struct addr *,
	    struct lmtp_reply *, char *why, size_t cap);

size_t	delivery_n_rcpts(const struct delivery *);
const struct recipient *delivery_recipient(const struct delivery *, size_t);
const char *delivery_queue_id(const struct delivery *);
const char *delivery_sender(const struct delivery *);
off_t	delivery_spool_len(const struct delivery *);

/*
 * Opens the file the message is written to: the first recipient's copy
 * in tmp/ when its copy goes to the INBOX (its trace block, from o,
 * written first), else a spool (unnamed, in spool_dir).  0, or -1 with
 * errno.
 */
int	delivery_data_begin(struct delivery *, const struct delivery_origin *);
/* Appends message bytes (LF line ends).  0, or -1 with errno. */
int	delivery_data_body(struct delivery *, const char *, size_t);
/*
 * The message is complete.  Leaves reply alone, or refuses the message
 * for every recipient: 554 5.4.6 with more than 100 Received: fields
 * (RFC 5321 §6.3).
 */
void	delivery_data_end(struct delivery *, struct lmtp_reply *, char *why,
	    size_t cap);

/*
 * Recipient idx's outcome: reply (250, or the failure as 4xx/5xx), detail
 * (the file delivered or why not, cap bytes) and *size (the octets of
 * the copy).  Called for the recipients in order; the first call of a
 * batch writes the copies of up to 8 recipients, syncing them together,
 * and the next calls take their outcomes.  Blocks on disk I/O.
 */
void	delivery_deliver(struct delivery *, size_t idx,
	    const struct delivery_origin *, struct lmtp_reply *,
	    char *detail, size_t cap, long long *size_out);

/*
 * Whether recipient idx's copy was made (or refused) already: the copies
 * are made in batches, at the delivery of the batch's first recipient.
 */
bool	delivery_tried(const struct delivery *, size_t idx);

/*
 * The Postfix-style line for one recipient's outcome: to=, orig_to= when
 * the client wrote it otherwise, relay=local, delay=, size=, dsn=,
 * status=sent|deferred|bounced, (detail); and the counters.
 */
void	delivery_log(const struct delivery *, const struct recipient *,
	    const char *orig_to, double delay, long long size,
	    const struct lmtp_reply *, const char *detail);

/*
 * Dry run for `lmtpd -t address`: prints to out what each stage would do
 * for address with a message of size octets (lookup source, Maildir and
 * folder, owner, quota use, the MAIL, RCPT and delivery replies).  Writes
 * no mail.  Returns the RCPT reply code (0 when the address does not
 * parse).
 */
unsigned delivery_explain(const struct conf *, const char *address,
	    uint64_t size, FILE *out);

/* Ends the transaction: recipients, spool and digest are dropped. */
void	delivery_reset(struct delivery *);

#endif
