#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void copy_str(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

int ferry_err_set(struct ferry_err *err, enum ferry_errcode code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	ferry_err_clear(err);
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int ferry_err_set_at(struct ferry_err *err, enum ferry_errcode code, const char *file, int line,
		     int col, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	ferry_err_clear(err);
	err->code = code;
	copy_str(err->file, sizeof err->file, file ? file : "");
	err->line = line;
	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int ferry_err_prefix(struct ferry_err *err, const char *fmt, ...)
{
	char prefix[FERRY_ERR_MSG_MAX];
	char old[FERRY_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* Truncation is acceptable: the message is for people. */
	size_t lp = strlen(prefix);
	if (lp >= sizeof err->msg)
		lp = sizeof err->msg - 1;
	memcpy(err->msg, prefix, lp);
	copy_str(err->msg + lp, sizeof err->msg - lp, old);
	return -1;
}

void ferry_err_clear(struct ferry_err *err)
{
	err->code = FERRY_OK;
	err->line = 0;
	err->col = 0;
	err->file[0] = '\0';
	err->msg[0] = '\0';
}

bool ferry_err_retryable(enum ferry_errcode code)
{
	return code == FERRY_E_TIMEOUT || code == FERRY_E_RETRYABLE || code == FERRY_E_CONFLICT;
}

const char *ferry_errcode_name(enum ferry_errcode code)
{
	switch (code) {
	case FERRY_OK: return "ok";
	case FERRY_E_INVALID: return "invalid";
	case FERRY_E_NOT_FOUND: return "not-found";
	case FERRY_E_EXISTS: return "exists";
	case FERRY_E_AUTH: return "auth";
	case FERRY_E_CERTIFICATE: return "certificate";
	case FERRY_E_TIMEOUT: return "timeout";
	case FERRY_E_RETRYABLE: return "retryable";
	case FERRY_E_UNSUPPORTED: return "unsupported";
	case FERRY_E_CONFLICT: return "conflict";
	case FERRY_E_IO: return "io";
	case FERRY_E_LIMIT: return "limit";
	case FERRY_E_CANCELLED: return "cancelled";
	case FERRY_E_INTERNAL: return "internal";
	}
	return "unknown";
}

void ferry_err_format(const struct ferry_err *err, char *buf, unsigned long n)
{
	if (err->file[0] && err->line > 0 && err->col > 0)
		snprintf(buf, n, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
	else if (err->file[0] && err->line > 0)
		snprintf(buf, n, "%s:%d: %s", err->file, err->line, err->msg);
	else if (err->file[0])
		snprintf(buf, n, "%s: %s", err->file, err->msg);
	else
		snprintf(buf, n, "%s", err->msg);
}
