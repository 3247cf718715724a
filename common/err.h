/* Errors: a short enum of the failures callers branch on, plus a message and
 * an optional source location (for errors about a user's file).
 *
 * Convention (everywhere in ferry): a function that can fail returns int
 * (0 ok, -1 failed) and fills a caller-provided struct ferry_err. The callee
 * sets the error exactly once; the caller decides whether to print, retry or
 * propagate. A struct ferry_err owns no heap memory: it can be copied,
 * dropped or reused without cleanup.
 */
#ifndef FERRY_COMMON_ERR_H
#define FERRY_COMMON_ERR_H

#include <stdbool.h>

enum ferry_errcode {
	FERRY_OK = 0,
	FERRY_E_INVALID,     /* bad input: fix the input, retrying won't help */
	FERRY_E_NOT_FOUND,   /* a named thing does not exist */
	FERRY_E_EXISTS,	     /* it exists already */
	FERRY_E_AUTH,	     /* credentials refused */
	FERRY_E_CERTIFICATE, /* TLS peer not trusted */
	FERRY_E_TIMEOUT,     /* gave up waiting; may succeed later */
	FERRY_E_RETRYABLE,   /* transient: try again (with backoff) */
	FERRY_E_UNSUPPORTED, /* valid request this build/peer cannot do */
	FERRY_E_CONFLICT,    /* lost a race with another writer */
	FERRY_E_IO,	     /* local I/O failure (errno in the message) */
	FERRY_E_LIMIT,	     /* input exceeds a size/depth/count limit */
	FERRY_E_CANCELLED,   /* stopped because someone asked */
	FERRY_E_INTERNAL,    /* a bug in ferry */
};

#define FERRY_ERR_MSG_MAX  512
#define FERRY_ERR_FILE_MAX 256

struct ferry_err {
	enum ferry_errcode code;
	int line; /* 1-based; 0 when the error has no location */
	int col;  /* 1-based; 0 when unknown */
	char file[FERRY_ERR_FILE_MAX];
	char msg[FERRY_ERR_MSG_MAX];
};

#define FERRY_ERR_INIT                                                                             \
	{                                                                                          \
		FERRY_OK, 0, 0, "", ""                                                             \
	}

/* Set code and message (printf-style). Always returns -1 so that callers can
 * write `return ferry_err_set(err, ...);`. err may be NULL. */
int ferry_err_set(struct ferry_err *err, enum ferry_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, with a location in a user's file. */
int ferry_err_set_at(struct ferry_err *err, enum ferry_errcode code, const char *file, int line,
		     int col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Prefix the existing message with context ("loading x: " + old message). */
int ferry_err_prefix(struct ferry_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void ferry_err_clear(struct ferry_err *err);

/* Would repeating the failed operation later plausibly succeed? */
bool ferry_err_retryable(enum ferry_errcode code);

/* Stable lower-case name of a code ("invalid", "not-found", ...). */
const char *ferry_errcode_name(enum ferry_errcode code);

/* Write "file:line:col: msg" (or just msg) to a buffer of size n. */
void ferry_err_format(const struct ferry_err *err, char *buf, unsigned long n);

#endif
