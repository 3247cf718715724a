/* Strict standard base64 (RFC 4648 section 4: A-Z a-z 0-9 + /), as found
 * in Kubernetes Secret `data:` and written by `base64` / `base64 -w0`.
 *
 * Decoding accepts whitespace (space, tab, CR, LF) anywhere, because YAML
 * block scalars and `base64` without -w0 wrap lines. Everything else is
 * strict: '=' padding is required when the data is not a multiple of 4
 * characters, nothing but whitespace may follow the padding, the URL-safe
 * alphabet ('-', '_') is rejected, and the unused low bits of the last
 * character must be zero (so each byte string has exactly one encoding).
 *
 * Errors: FERRY_E_INVALID with err->col the 1-based index in `in` of the
 * offending character (for missing padding: the index just after the last
 * data character) and a message that names the character. err->line is 0.
 */
#ifndef FERRY_COMMON_BASE64_H
#define FERRY_COMMON_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Decode len bytes of in (NUL bytes are not special, and are invalid).
 * Returns 0 and a new buffer in *out (the caller frees it; non-NULL even when
 * *out_len is 0, and NUL-terminated for convenience), or -1 with *out NULL. */
int ferry_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len,
			struct ferry_err *err);

/* Would ferry_base64_decode() accept it? Fills err (may be NULL) if not. */
bool ferry_base64_valid(const char *in, size_t len, struct ferry_err *err);

/* Encode as padded standard base64 on one line. Returns a new NUL-terminated
 * string; the caller frees it. */
char *ferry_base64_encode(const unsigned char *in, size_t len);

#endif
