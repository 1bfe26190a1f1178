/* SPDX-License-Identifier: MIT */
/*
 * tlsdl: libssl and libcrypto opened with dlopen() when the first TLS
 * context is built, instead of being linked: without TLS they are never
 * mapped, and their relocated data costs no child a page.  The master loads
 * them (at start or on SIGHUP) before it forks, so children inherit the
 * mapping; the library stays loaded for the life of the process.  The
 * OpenSSL headers give only types, constants and the functions' prototypes.
 * Include only where HAVE_OPENSSL is defined; only tls.c calls through it.
 */
#ifndef LMTPD_TLSDL_H
#define LMTPD_TLSDL_H

#include <stddef.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/*
 * Every OpenSSL function lmtpd calls, under its exported name.  Those the
 * headers define as macros (SSL_CTX_set_mode, SSL_CTX_set_min_proto_version,
 * SSL_CTX_set_session_cache_mode) go through SSL_CTX_ctrl.  ERR_* live in
 * libcrypto, which libssl depends on, so the libssl handle finds them.
 */
#define TLSDL_FUNCS(X)							\
	X(ERR_clear_error)						\
	X(ERR_error_string_n)						\
	X(ERR_get_error)						\
	X(ERR_peek_error)						\
	X(SSL_CIPHER_get_name)						\
	X(SSL_CTX_check_private_key)					\
	X(SSL_CTX_ctrl)							\
	X(SSL_CTX_free)							\
	X(SSL_CTX_new)							\
	X(SSL_CTX_set_num_tickets)					\
	X(SSL_CTX_set_options)						\
	X(SSL_CTX_use_PrivateKey_file)					\
	X(SSL_CTX_use_certificate_chain_file)				\
	X(SSL_accept)							\
	X(SSL_free)							\
	X(SSL_get_current_cipher)					\
	X(SSL_get_error)						\
	X(SSL_get_version)						\
	X(SSL_new)							\
	X(SSL_pending)							\
	X(SSL_read_ex)							\
	X(SSL_set_accept_state)						\
	X(SSL_set_fd)							\
	X(SSL_shutdown)							\
	X(SSL_write_ex)							\
	X(TLS_server_method)

/* Typed from the headers' prototypes, so a mismatch does not compile. */
struct tlsdl {
#define TLSDL_FIELD(name)	__typeof__(name) *name;
	TLSDL_FUNCS(TLSDL_FIELD)
#undef TLSDL_FIELD
};

/*
 * Opens libssl (the soname of the headers built against, else
 * "libssl.so") with every symbol bound now, and resolves the table; done
 * once, later calls return the same table.  Returns it, valid until exit,
 * or NULL with errno ENOENT and a message naming the library and what is
 * missing in err (cap bytes).  Reads files; does not block otherwise.
 */
const struct tlsdl	*tlsdl_load(char *err, size_t cap);

#endif
