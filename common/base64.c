#include "common/base64.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int col_of(size_t i)
{
	return i < (size_t)INT_MAX ? (int)i + 1 : INT_MAX;
}

/* "'x'" for printable ASCII, "byte 0x07" otherwise: the message must show
 * the character even when it is invisible. */
static void describe(unsigned char c, char *buf, size_t n)
{
	if (c > ' ' && c < 0x7f)
		snprintf(buf, n, "'%c'", c);
	else
		snprintf(buf, n, "byte 0x%02x", c);
}

static int bad_char(struct ferry_err *err, const char *in, size_t i, const char *what)
{
	unsigned char c = (unsigned char)in[i];
	char name[16];

	describe(c, name, sizeof name);
	return ferry_err_set_at(err, FERRY_E_INVALID, NULL, 0, col_of(i), "%s %s%s", what, name,
				c == '-' || c == '_' ? " (URL-safe base64 is not accepted)" : "");
}

/* One pass shared by decode and validate; out may be NULL. */
static int scan(const char *in, size_t len, unsigned char *out, size_t *out_len,
		struct ferry_err *err)
{
	int q[4];
	size_t qpos[4], end = 0, o = 0;
	int k = 0, pad = 0;
	bool done = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (is_space(c))
			continue;
		if (done)
			return bad_char(err, in, i, "unexpected character after '=' padding:");
		end = i + 1;
		if (c == '=') {
			if (k < 2)
				return ferry_err_set_at(err, FERRY_E_INVALID, NULL, 0, col_of(i),
							"unexpected '=' (padding may only end a "
							"group of 4 characters)");
			pad++;
			if (k + pad == 4)
				done = true;
			continue;
		}
		if (pad)
			return bad_char(err, in, i, "unexpected character after '=' padding:");
		v = sextet(c);
		if (v < 0)
			return bad_char(err, in, i, "invalid base64 character");
		q[k] = v;
		qpos[k] = i;
		if (++k == 4) {
			if (out) {
				out[o] = (unsigned char)(q[0] << 2 | q[1] >> 4);
				out[o + 1] = (unsigned char)((q[1] & 0x0f) << 4 | q[2] >> 2);
				out[o + 2] = (unsigned char)((q[2] & 0x03) << 6 | q[3]);
			}
			o += 3;
			k = 0;
		}
	}

	if (k == 1)
		return ferry_err_set_at(err, FERRY_E_INVALID, NULL, 0, col_of(end),
					"truncated base64: a lone final character encodes no byte");
	if (k && !done)
		return ferry_err_set_at(err, FERRY_E_INVALID, NULL, 0, col_of(end),
					"missing '=' padding at end of base64 data");
	if (k) {
		/* The last data character carries bits past the final byte; they
		 * must be zero or two different texts would decode alike. */
		int last = q[k - 1], mask = k == 2 ? 0x0f : 0x03;

		if (last & mask)
			return ferry_err_set_at(err, FERRY_E_INVALID, NULL, 0, col_of(qpos[k - 1]),
						"non-zero trailing bits in '%c' (canonical "
						"encoding has '%c')",
						alphabet[last], alphabet[last & ~mask]);
		if (out) {
			out[o] = (unsigned char)(q[0] << 2 | q[1] >> 4);
			if (k == 3)
				out[o + 1] = (unsigned char)((q[1] & 0x0f) << 4 | q[2] >> 2);
		}
		o += (size_t)k - 1;
	}
	if (out_len)
		*out_len = o;
	return 0;
}

int ferry_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len,
			struct ferry_err *err)
{
	unsigned char *buf = ferry_xmalloc(len / 4 * 3 + 3);
	size_t n = 0;

	*out = NULL;
	*out_len = 0;
	if (scan(in, len, buf, &n, err) < 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

bool ferry_base64_valid(const char *in, size_t len, struct ferry_err *err)
{
	return scan(in, len, NULL, NULL, err) == 0;
}

char *ferry_base64_encode(const unsigned char *in, size_t len)
{
	char *out = ferry_xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0, i = 0;

	for (; i + 3 <= len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		out[o++] = alphabet[in[i] >> 2];
		out[o++] = alphabet[(in[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		unsigned v = (unsigned)in[i] << 8 | in[i + 1];

		out[o++] = alphabet[v >> 10];
		out[o++] = alphabet[v >> 4 & 63];
		out[o++] = alphabet[(v & 15) << 2];
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}
