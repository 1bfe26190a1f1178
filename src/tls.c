/* SPDX-License-Identifier: MIT */
/*
 * tls: the OpenSSL side of STARTTLS.  Every OpenSSL call of lmtpd is here,
 * through the table tlsdl.c fills when the first context is built; without
 * OpenSSL (./configure --without-openssl) the same functions exist and fail
 * with ENOTSUP, so no caller needs an #ifdef.  Sockets stay
 * non-blocking: each step returns what it waits for, and session.c waits
 * under its own deadline and signal mask.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "tls.h"
#include "util.h"

#ifdef HAVE_OPENSSL

#include "tlsdl.h"

struct tls_ctx {
	SSL_CTX	*ssl_ctx;
};

struct tls_conn {
	SSL	*ssl;
	bool	 established;
	int	 sys_errno;	/* errno of the last SSL_ERROR_SYSCALL */
};

/* Set by the first tls_ctx_new; every other call has a context by then. */
static const struct tlsdl	*ossl;

static enum tls_io	tls_result(struct tls_conn *, int);
static void		tls_errx(char *, size_t, const char *, const char *);

bool
tls_available(void)
{
	return true;
}

/*
 * "what path: reason" with OpenSSL's first queued error, the queue
 * emptied (conf.c blames tls_key for a message starting "key ").
 */
static void
tls_errx(char *err, size_t cap, const char *what, const char *path)
{
	char	reason[256];

	(void)tls_error_string(NULL, reason, sizeof(reason));
	if (err != NULL && cap > 0)
		(void)snprintf(err, cap, "%s%s%s: %s", what,
		    path != NULL ? " " : "", path != NULL ? path : "", reason);
}

struct tls_ctx *
tls_ctx_new(const char *cert, const char *key, char *err, size_t cap)
{
	struct tls_ctx	*t;
	SSL_CTX		*c;
	char		 what[PATH_MAX + 64];

	if (ossl == NULL) {
		ossl = tlsdl_load(err, cap);
		if (ossl == NULL)
			return NULL;
	}
	ossl->ERR_clear_error();
	c = ossl->SSL_CTX_new(ossl->TLS_server_method());
	if (c == NULL) {
		tls_errx(err, cap, "cannot create a TLS context", NULL);
		return NULL;
	}
	/* TLS 1.0 and 1.1 are deprecated (RFC 8996); the macro's call. */
	if (ossl->SSL_CTX_ctrl(c, SSL_CTRL_SET_MIN_PROTO_VERSION,
	    TLS1_2_VERSION, NULL) != 1) {
		tls_errx(err, cap, "cannot set TLS 1.2 as the minimum", NULL);
		ossl->SSL_CTX_free(c);
		return NULL;
	}
	ossl->SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE
#ifdef SSL_OP_NO_RENEGOTIATION
	    | SSL_OP_NO_RENEGOTIATION
#endif
	    );
	/* SSL_CTX_set_mode and SSL_CTX_set_session_cache_mode, unmacroed. */
	(void)ossl->SSL_CTX_ctrl(c, SSL_CTRL_MODE,
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
	    NULL);
	/* One connection per process: a session cache would never hit. */
	(void)ossl->SSL_CTX_ctrl(c, SSL_CTRL_SET_SESS_CACHE_MODE,
	    SSL_SESS_CACHE_OFF, NULL);
	ossl->SSL_CTX_set_num_tickets(c, 0);
	if (ossl->SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
		tls_errx(err, cap, "certificate", cert);
		ossl->SSL_CTX_free(c);
		return NULL;
	}
	if (ossl->SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
		tls_errx(err, cap, "key", key);
		ossl->SSL_CTX_free(c);
		return NULL;
	}
	if (ossl->SSL_CTX_check_private_key(c) != 1) {
		(void)snprintf(what, sizeof(what), "key %s does not match "
		    "the certificate", key);
		tls_errx(err, cap, what, NULL);
		ossl->SSL_CTX_free(c);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->ssl_ctx = c;
	return t;
}

void
tls_ctx_free(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	ossl->SSL_CTX_free(t->ssl_ctx);
	x_free(t);
}

struct tls_conn *
tls_conn_new(struct tls_ctx *t, int fd, char *err, size_t cap)
{
	struct tls_conn	*c;
	SSL		*ssl;

	ossl->ERR_clear_error();
	ssl = ossl->SSL_new(t->ssl_ctx);
	if (ssl == NULL) {
		tls_errx(err, cap, "SSL_new", NULL);
		return NULL;
	}
	if (ossl->SSL_set_fd(ssl, fd) != 1) {
		tls_errx(err, cap, "SSL_set_fd", NULL);
		ossl->SSL_free(ssl);
		return NULL;
	}
	ossl->SSL_set_accept_state(ssl);
	c = xcalloc(1, sizeof(*c));
	c->ssl = ssl;
	return c;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	/* One try, never waiting: the socket is non-blocking. */
	if (c->established)
		(void)ossl->SSL_shutdown(c->ssl);
	ossl->SSL_free(c->ssl);
	ossl->ERR_clear_error();
	x_free(c);
}

static enum tls_io
tls_result(struct tls_conn *c, int rc)
{
	switch (ossl->SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_NONE:
		return TLS_IO_OK;
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_EOF;
	case SSL_ERROR_SYSCALL:
		c->sys_errno = errno;
		/* OpenSSL 3 queues "unexpected eof"; 1.1.1 says rc 0. */
		if (ossl->ERR_peek_error() == 0 && (rc == 0 || errno == 0))
			return TLS_IO_EOF;
		return TLS_IO_ERROR;
	default:
		c->sys_errno = 0;
		return TLS_IO_ERROR;
	}
}

enum tls_io
tls_accept(struct tls_conn *c)
{
	int		rc;
	enum tls_io	io;

	ossl->ERR_clear_error();
	errno = 0;
	rc = ossl->SSL_accept(c->ssl);
	if (rc == 1) {
		c->established = true;
		return TLS_IO_OK;
	}
	io = tls_result(c, rc);
	/* A peer gone in the middle of the handshake is a failure. */
	return io == TLS_IO_EOF || io == TLS_IO_OK ? TLS_IO_ERROR : io;
}

enum tls_io
tls_read(struct tls_conn *c, void *buf, size_t cap, size_t *n_out)
{
	size_t	n = 0;
	int	rc;

	*n_out = 0;
	ossl->ERR_clear_error();
	errno = 0;
	rc = ossl->SSL_read_ex(c->ssl, buf, cap, &n);
	if (rc == 1) {
		*n_out = n;
		return TLS_IO_OK;
	}
	return tls_result(c, rc);
}

enum tls_io
tls_write(struct tls_conn *c, const void *buf, size_t n, size_t *n_out)
{
	size_t	w = 0;
	int	rc;

	*n_out = 0;
	ossl->ERR_clear_error();
	errno = 0;
	rc = ossl->SSL_write_ex(c->ssl, buf, n, &w);
	if (rc == 1) {
		*n_out = w;
		return TLS_IO_OK;
	}
	return tls_result(c, rc);
}

bool
tls_pending(const struct tls_conn *c)
{
	return ossl->SSL_pending(c->ssl) > 0;
}

const char *
tls_version(const struct tls_conn *c)
{
	return ossl->SSL_get_version(c->ssl);
}

const char *
tls_cipher(const struct tls_conn *c)
{
	const char	*name;

	name = ossl->SSL_CIPHER_get_name(ossl->SSL_get_current_cipher(c->ssl));
	return name != NULL ? name : "(none)";
}

const char *
tls_error_string(const struct tls_conn *c, char *buf, size_t cap)
{
	unsigned long	e;

	if (cap == 0)
		return buf;
	e = ossl != NULL ? ossl->ERR_get_error() : 0;
	if (e != 0) {
		ossl->ERR_error_string_n(e, buf, cap);
		ossl->ERR_clear_error();
	} else if (c != NULL && c->sys_errno != 0)
		util_strlcpy(buf, strerror(c->sys_errno), cap);
	else if (c == NULL && errno != 0)
		util_strlcpy(buf, strerror(errno), cap);
	else
		util_strlcpy(buf, "connection closed", cap);
	return buf;
}

#else	/* !HAVE_OPENSSL */

bool
tls_available(void)
{
	return false;
}

struct tls_ctx *
tls_ctx_new(const char *cert, const char *key, char *err, size_t cap)
{
	(void)cert;
	(void)key;
	if (err != NULL && cap > 0)
		util_strlcpy(err, "lmtpd was built without TLS", cap);
	errno = ENOTSUP;
	return NULL;
}

void
tls_ctx_free(struct tls_ctx *t)
{
	(void)t;
}

struct tls_conn *
tls_conn_new(struct tls_ctx *t, int fd, char *err, size_t cap)
{
	(void)t;
	(void)fd;
	if (err != NULL && cap > 0)
		util_strlcpy(err, "lmtpd was built without TLS", cap);
	errno = ENOTSUP;
	return NULL;
}

void
tls_conn_free(struct tls_conn *c)
{
	(void)c;
}

enum tls_io
tls_accept(struct tls_conn *c)
{
	(void)c;
	return TLS_IO_ERROR;
}

enum tls_io
tls_read(struct tls_conn *c, void *buf, size_t cap, size_t *n_out)
{
	(void)c;
	(void)buf;
	(void)cap;
	*n_out = 0;
	return TLS_IO_ERROR;
}

enum tls_io
tls_write(struct tls_conn *c, const void *buf, size_t n, size_t *n_out)
{
	(void)c;
	(void)buf;
	(void)n;
	*n_out = 0;
	return TLS_IO_ERROR;
}

bool
tls_pending(const struct tls_conn *c)
{
	(void)c;
	return false;
}

const char *
tls_version(const struct tls_conn *c)
{
	(void)c;
	return "";
}

const char *
tls_cipher(const struct tls_conn *c)
{
	(void)c;
	return "";
}

const char *
tls_error_string(const struct tls_conn *c, char *buf, size_t cap)
{
	(void)c;
	if (cap > 0)
		util_strlcpy(buf, "lmtpd was built without TLS", cap);
	return buf;
}

#endif	/* HAVE_OPENSSL */
