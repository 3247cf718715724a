/* common/base64: strict RFC 4648 encoding and decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/base64.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* Decode in (len bytes), which must succeed and give want (want_len bytes). */
static void expect_decode_n(const char *in, size_t len, const void *want, size_t want_len)
{
	struct ferry_err err = FERRY_ERR_INIT;
	unsigned char *out = NULL;
	size_t out_len = 12345;

	if (ferry_base64_decode(in, len, &out, &out_len, &err) != 0)
		fail_msg("\"%.*s\" rejected at col %d: %s", (int)len, in, err.col, err.msg);
	assert_non_null(out);
	assert_int_equal(out_len, want_len);
	assert_memory_equal(out, want, want_len);
	assert_int_equal(out[out_len], '\0');
	free(out);
	assert_true(ferry_base64_valid(in, len, NULL));
	assert_true(ferry_base64_valid(in, len, &err));
}

static void expect_decode(const char *in, const char *want)
{
	expect_decode_n(in, strlen(in), want, strlen(want));
}

/* Decode in (len bytes), which must fail at col with a message containing
 * part; valid() must agree. */
static void expect_reject_n(const char *in, size_t len, int col, const char *part)
{
	struct ferry_err err = FERRY_ERR_INIT, verr = FERRY_ERR_INIT;
	unsigned char *out = (unsigned char *)&err;
	size_t out_len = 12345;

	if (ferry_base64_decode(in, len, &out, &out_len, &err) != -1)
		fail_msg("\"%.*s\" accepted (%zu bytes)", (int)len, in, out_len);
	assert_null(out);
	if (err.code != FERRY_E_INVALID || err.col != col || err.line != 0)
		fail_msg("\"%.*s\": code %d line %d col %d, want invalid line 0 col %d (%s)",
			 (int)len, in, (int)err.code, err.line, err.col, col, err.msg);
	if (!strstr(err.msg, part))
		fail_msg("\"%.*s\": message \"%s\" lacks \"%s\"", (int)len, in, err.msg, part);

	assert_false(ferry_base64_valid(in, len, NULL));
	assert_false(ferry_base64_valid(in, len, &verr));
	assert_int_equal(verr.code, FERRY_E_INVALID);
	assert_int_equal(verr.col, col);
	assert_string_equal(verr.msg, err.msg);
}

static void expect_reject(const char *in, int col, const char *part)
{
	expect_reject_n(in, strlen(in), col, part);
}

static void expect_encode(const char *in, const char *want)
{
	char *s = ferry_base64_encode((const unsigned char *)in, strlen(in));

	assert_string_equal(s, want);
	free(s);
}

static void test_rfc4648_vectors(void **state)
{
	static const struct {
		const char *plain, *b64;
	} v[] = {
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		expect_encode(v[i].plain, v[i].b64);
		expect_decode(v[i].b64, v[i].plain);
	}
	/* Both extra alphabet characters and the extremes of the range. */
	expect_encode("\xfb\xff", "+/8=");
	expect_decode("+/8=", "\xfb\xff");
	expect_encode("\xff\xff\xff", "////");
	expect_decode_n("AAAA", 4, "\0\0\0", 3);
	expect_decode("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
}

static void test_round_trip(void **state)
{
	unsigned char in[256];
	/* Expected encodings of in[0..len) for in[i] = i * 37 + 200 (mod 256). */
	static const char *const want[11] = {
		"",
		"yA==",
		"yO0=",
		"yO0S",
		"yO0SNw==",
		"yO0SN1w=",
		"yO0SN1yB",
		"yO0SN1yBpg==",
		"yO0SN1yBpss=",
		"yO0SN1yBpsvw",
		"yO0SN1yBpsvwFQ==",
	};

	(void)state;
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 37 + 200);
	for (size_t len = 0; len <= 10; len++) {
		char *s = ferry_base64_encode(in, len);
		struct ferry_err err = FERRY_ERR_INIT;
		unsigned char *out = NULL;
		size_t out_len = 99;

		assert_string_equal(s, want[len]);
		assert_int_equal(strlen(s), (len + 2) / 3 * 4);
		assert_int_equal(ferry_base64_decode(s, strlen(s), &out, &out_len, &err), 0);
		assert_int_equal(out_len, len);
		assert_non_null(out);
		if (len)
			assert_memory_equal(out, in, len);
		assert_int_equal(out[len], '\0');
		free(out);
		free(s);
	}
	/* Every byte value, alone and in every position of a group. */
	for (unsigned b = 0; b < 256; b++) {
		for (size_t pos = 0; pos < 3; pos++) {
			unsigned char buf[3] = {0x55, 0xaa, 0x0f};
			char *s;
			struct ferry_err err = FERRY_ERR_INIT;
			unsigned char *out = NULL;
			size_t out_len = 0;

			buf[pos] = (unsigned char)b;
			for (size_t len = pos + 1; len <= 3; len++) {
				s = ferry_base64_encode(buf, len);
				assert_int_equal(
					ferry_base64_decode(s, strlen(s), &out, &out_len, &err), 0);
				assert_int_equal(out_len, len);
				assert_memory_equal(out, buf, len);
				free(out);
				free(s);
			}
		}
	}
	/* A large buffer, and the same text wrapped at 76 columns with CRLF. */
	{
		enum { N = 4000 };
		unsigned char *big = malloc(N), *out = NULL;
		char *s, *wrapped;
		size_t slen, w = 0, out_len = 0;
		struct ferry_err err = FERRY_ERR_INIT;
		uint32_t x = 12345;

		assert_non_null(big);
		for (size_t i = 0; i < N; i++) {
			x = x * 1103515245u + 12345u;
			big[i] = (unsigned char)(x >> 16);
		}
		s = ferry_base64_encode(big, N);
		slen = strlen(s);
		assert_int_equal(slen, (N + 2) / 3 * 4);
		assert_null(strchr(s, '\n'));
		wrapped = malloc(slen + slen / 76 * 2 + 3);
		assert_non_null(wrapped);
		for (size_t i = 0; i < slen; i++) {
			wrapped[w++] = s[i];
			if (i % 76 == 75) {
				wrapped[w++] = '\r';
				wrapped[w++] = '\n';
			}
		}
		wrapped[w++] = '\n';
		assert_int_equal(ferry_base64_decode(s, slen, &out, &out_len, &err), 0);
		assert_int_equal(out_len, N);
		assert_memory_equal(out, big, N);
		free(out);
		assert_int_equal(ferry_base64_decode(wrapped, w, &out, &out_len, &err), 0);
		assert_int_equal(out_len, N);
		assert_memory_equal(out, big, N);
		free(out);
		free(wrapped);
		free(s);
		free(big);
	}
}

static void test_decode_empty(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	unsigned char *out = NULL;
	size_t out_len = 7;

	(void)state;
	/* Non-NULL and NUL-terminated even when empty. */
	assert_int_equal(ferry_base64_decode("", 0, &out, &out_len, &err), 0);
	assert_non_null(out);
	assert_int_equal(out_len, 0);
	assert_int_equal(out[0], '\0');
	free(out);
	expect_decode(" \t\r\n", "");
	expect_decode("\n\n", "");
	/* len, not the NUL, bounds the input. */
	expect_decode_n("Zm9vYmFy", 4, "foo", 3);
	expect_decode_n("Zm9vYmFy", 0, "", 0);
}

static void test_whitespace(void **state)
{
	(void)state;
	expect_decode("Zm9v\nYmFy\n", "foobar");
	expect_decode("Zm9v\r\nYmFy\r\n", "foobar");
	expect_decode(" Z m 9 v Y g = = ", "foob");
	expect_decode("\tZm9vYg==\t\n", "foob");
	expect_decode("Zm9vYg=\n=\n", "foob");
	expect_decode("Zm9vYmE=\n\n  \n", "fooba");
	expect_decode("\n Zg==", "f");
	expect_decode("Zm\n8=", "fo");
	/* Only the four whitespace characters: not \v or \f. */
	expect_reject("Zm9v\vYmFy", 5, "byte 0x0b");
	expect_reject("Zm9v\fYmFy", 5, "byte 0x0c");
}

static void test_bad_characters(void **state)
{
	(void)state;
	expect_reject("Zm9v*mFy", 5, "'*'");
	expect_reject("*m9vYmFy", 1, "'*'");
	expect_reject("Zm9vYmF!", 8, "'!'");
	expect_reject("Zm9v\nYm.y", 8, "'.'");
	expect_reject("Zm9v YmF\"", 9, "'\"'");
	/* URL-safe alphabet is named as such. */
	expect_reject("Zm9-", 4, "'-'");
	expect_reject("Zm9-", 4, "URL-safe");
	expect_reject("_m9v", 1, "'_'");
	expect_reject("_m9v", 1, "URL-safe");
	/* Invisible bytes are shown by value. */
	expect_reject_n("Zm\0v", 4, 3, "byte 0x00");
	expect_reject("Zm9v\x7f", 5, "byte 0x7f");
	expect_reject("Zm9v\xc3\xa4", 5, "byte 0xc3");
	expect_reject("Zm9v\xff", 5, "byte 0xff");
	expect_reject("Zm9v\x01YmFy", 5, "byte 0x01");
}

static void test_bad_padding(void **state)
{
	(void)state;
	/* Padding is required. The column is just after the last data
	 * character (where the missing '=' belongs). */
	expect_reject("Zg", 3, "padding");
	expect_reject("Zg=", 4, "padding");
	expect_reject("Zm8", 4, "padding");
	expect_reject("Zm9vYg", 7, "padding");
	expect_reject("Zm9vYmE", 8, "padding");
	expect_reject("Zm9vYg\n", 7, "padding");
	expect_reject("Zm9vYg=\n", 8, "padding");
	/* '=' where no padding can be. */
	expect_reject("=", 1, "'='");
	expect_reject("====", 1, "'='");
	expect_reject("=Zg=", 1, "'='");
	expect_reject("Z===", 2, "'='");
	expect_reject("Zm9v=", 5, "'='");
	expect_reject("Zm9v====", 5, "'='");
	expect_reject("Zm9vY===", 6, "'='");
	/* Nothing but whitespace after the padding. */
	expect_reject("Zg===", 5, "after '=' padding");
	expect_reject("Zm8==", 5, "after '=' padding");
	expect_reject("Zg==Zg==", 5, "after '=' padding");
	expect_reject("Zg== \nZm9v", 7, "after '=' padding");
	expect_reject("Zm8=x", 5, "'x'");
	expect_reject("Zm=v", 4, "after '=' padding");
	expect_reject("Zm=v", 4, "'v'");
}

static void test_length_not_multiple_of_4(void **state)
{
	(void)state;
	expect_reject("Z", 2, "truncated");
	expect_reject("Zm9vY", 6, "truncated");
	expect_reject("Zm9vYmFyZ", 10, "truncated");
	expect_reject("Zm9v\nY\n", 7, "truncated");
	expect_reject("Zm9vYmFyZm", 11, "padding");
	expect_reject("Zm9vYmFyZm9", 12, "padding");
}

static void test_trailing_bits(void **state)
{
	(void)state;
	/* "Zg==" is the only encoding of "f"; "Zh==" .. "Zv==" set unused bits. */
	expect_reject("Zh==", 2, "non-zero trailing bits");
	expect_reject("Zh==", 2, "'g'");
	expect_reject("Zv==", 2, "'g'");
	expect_reject("Z/==", 2, "'w'");
	expect_reject("Zm9=", 3, "'8'");
	expect_reject("Zm9=", 3, "'9'");
	expect_reject("Zm9vYmF=", 7, "'E'");
	expect_reject("Zm9v\nZ h = =", 8, "'g'");
	/* The canonical forms decode. */
	expect_decode("Zg==", "f");
	expect_decode("Zw==", "g");
	expect_decode("Zm8=", "fo");
	expect_decode("Zm9vYmE=", "fooba");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_decode_empty),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_bad_characters),
		cmocka_unit_test(test_bad_padding),
		cmocka_unit_test(test_length_not_multiple_of_4),
		cmocka_unit_test(test_trailing_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
