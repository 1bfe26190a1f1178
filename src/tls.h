/* SPDX-License-Identifier: MIT */
/*
 * tls: STARTTLS (RFC 3207) over OpenSSL, kept out of session.c.  A server
 * context is built once per configuration (at load, so -t and SIGHUP see a
 * bad certificate) and inherited by the children, as is OpenSSL itself,
 * loaded by the first context and not before; a connection wraps a
 * non-blocking socket and reports what it waits for instead of waiting.
 * Built without OpenSSL, tls_available() is false and every constructor
 * fails with ENOTSUP.  No logging here: callers log tls_error_string().
 */
#ifndef LMTPD_TLS_H
#define LMTPD_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct tls_ctx;
struct tls_conn;

/* The outcome of one non-blocking step. */
enum tls_io {
	TLS_IO_OK,		/* done: *n_out bytes moved */
	TLS_IO_WANT_READ,	/* retry once the socket is readable */
	TLS_IO_WANT_WRITE,	/* retry once the socket is writable */
	TLS_IO_EOF,		/* the peer closed (close_notify or not) */
	TLS_IO_ERROR,		/* protocol or system error: give up */
};

/* True when lmtpd was built with OpenSSL. */
bool		 tls_available(void);

/*
 * A server context with the PEM certificate chain and key at the two
 * paths: TLS 1.2 at least, no compression, no renegotiation, the server's
 * cipher order.  The key must match the certificate.  The first call
 * loads libssl (tlsdl.h), so call it before forking.  Returns it, or NULL
 * with a message in err (cap bytes): also when libssl or one of its
 * functions is missing.  May read files; does not block otherwise.
 */
struct tls_ctx	*tls_ctx_new(const char *cert, const char *key, char *err,
		    size_t cap);
void		 tls_ctx_free(struct tls_ctx *);

/*
 * A server connection over fd (borrowed: the caller closes it, after
 * tls_conn_free).  Returns NULL with a message in err.
 */
struct tls_conn	*tls_conn_new(struct tls_ctx *, int fd, char *err, size_t cap);
/* Sends close_notify when the handshake was done (best effort), frees. */
void		 tls_conn_free(struct tls_conn *);

/* One step of the server handshake. */
enum tls_io	 tls_accept(struct tls_conn *);
/* Reads up to cap bytes; TLS_IO_OK means *n_out > 0. */
enum tls_io	 tls_read(struct tls_conn *, void *buf, size_t cap,
		    size_t *n_out);
/*
 * Writes up to n bytes (a partial write is TLS_IO_OK with fewer); after a
 * WANT, retry with the same bytes (a moving buffer is allowed).
 */
enum tls_io	 tls_write(struct tls_conn *, const void *buf, size_t n,
		    size_t *n_out);
/* True when decrypted bytes are buffered inside the connection. */
bool		 tls_pending(const struct tls_conn *);

/* "TLSv1.3" and "TLS_AES_256_GCM_SHA384"; valid while the connection is. */
const char	*tls_version(const struct tls_conn *);
const char	*tls_cipher(const struct tls_conn *);

/*
 * Why the last step on c failed (c NULL: the last failed call), into buf
 * (cap bytes): OpenSSL's error queue, which is emptied, else the system
 * error, else "connection closed".  Returns buf.
 */
const char	*tls_error_string(const struct tls_conn *c, char *buf,
		    size_t cap);

#endif
