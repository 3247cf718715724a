/* schema/names: DNS-1123 labels and subdomains, and rename suggestions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "schema/names.h"

#include <stdlib.h>
#include <string.h>

static const char sentinel[] = "untouched";

/* A new string of n copies of c. */
static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void label_ok(const char *s)
{
	const char *why = sentinel;

	if (!ferry_dns1123_label(s, &why))
		fail_msg("label \"%s\" rejected: %s", s, why ? why : "(null)");
	assert_null(why);
	assert_true(ferry_dns1123_label(s, NULL));
}

/* Rejected, with a message containing part. */
static void label_bad(const char *s, const char *part)
{
	const char *why = NULL;

	if (ferry_dns1123_label(s, &why))
		fail_msg("label \"%s\" accepted", s);
	if (!why || why == sentinel || !strstr(why, part))
		fail_msg("label \"%s\": why \"%s\" lacks \"%s\"", s, why ? why : "(null)", part);
	assert_false(ferry_dns1123_label(s, NULL));
}

static void sub_ok(const char *s)
{
	const char *why = sentinel;

	if (!ferry_dns1123_subdomain(s, &why))
		fail_msg("subdomain \"%s\" rejected: %s", s, why ? why : "(null)");
	assert_null(why);
	assert_true(ferry_dns1123_subdomain(s, NULL));
}

static void sub_bad(const char *s, const char *part)
{
	const char *why = NULL;

	if (ferry_dns1123_subdomain(s, &why))
		fail_msg("subdomain \"%s\" accepted", s);
	if (!why || why == sentinel || !strstr(why, part))
		fail_msg("subdomain \"%s\": why \"%s\" lacks \"%s\"", s, why ? why : "(null)",
			 part);
	assert_false(ferry_dns1123_subdomain(s, NULL));
}

static void expect_suggest(const char *in, const char *want)
{
	char *got = ferry_dns1123_suggest(in);

	if (!want) {
		if (got)
			fail_msg("suggest(\"%s\") = \"%s\", want NULL", in, got);
		return;
	}
	if (!got)
		fail_msg("suggest(\"%s\") = NULL, want \"%s\"", in, want);
	assert_string_equal(got, want);
	assert_true(ferry_dns1123_label(got, NULL));
	free(got);
}

static void test_label_valid(void **state)
{
	char *s63 = rep('a', 63);

	(void)state;
	label_ok("a");
	label_ok("z");
	label_ok("0");
	label_ok("9");
	label_ok("abc");
	label_ok("a-b");
	label_ok("a--b");
	label_ok("a---------b");
	label_ok("0abc");
	label_ok("abc0");
	label_ok("123");
	label_ok("my-vm-01");
	label_ok("abcdefghijklmnopqrstuvwxyz0123456789");
	label_ok(s63);
	s63[30] = '-';
	label_ok(s63);
	s63[0] = '1';
	s63[62] = '2';
	label_ok(s63);
	free(s63);
}

static void test_label_invalid(void **state)
{
	char *s64 = rep('a', 64), *s100 = rep('a', 100);

	(void)state;
	label_bad("", "must not be empty");
	label_bad(s64, "at most 63 characters");
	label_bad(s100, "at most 63 characters");
	/* Length is reported before the characters. */
	s64[0] = 'A';
	label_bad(s64, "at most 63 characters");
	s64[0] = '-';
	label_bad(s64, "at most 63 characters");

	label_bad("A", "uppercase");
	label_bad("Abc", "uppercase");
	label_bad("web-Server", "uppercase");
	label_bad("ABC", "uppercase");
	label_bad("a_b", "lower case alphanumeric");
	label_bad("-a", "start and end with an alphanumeric");
	label_bad("a-", "start and end with an alphanumeric");
	label_bad("-", "start and end");
	label_bad("--", "start and end");
	label_bad("-a-", "start and end");
	label_bad("a.b", "lower case alphanumeric characters or '-'");
	label_bad("a b", "lower case");
	label_bad(" a", "lower case");
	label_bad("a\n", "lower case");
	label_bad("a/b", "lower case");
	label_bad("a:b", "lower case");
	label_bad("caf\xc3\xa9", "lower case");
	label_bad("\xc3\xa4", "lower case");
	/* Characters that are neither alphanumeric nor upper-case do not get
	 * the upper-case hint. */
	{
		const char *why = NULL;

		assert_false(ferry_dns1123_label("a_b", &why));
		assert_non_null(why);
		assert_null(strstr(why, "uppercase"));
	}
	free(s64);
	free(s100);
}

static void test_subdomain_valid(void **state)
{
	char s253[254], *long_part = rep('b', 200);

	(void)state;
	sub_ok("a");
	sub_ok("0");
	sub_ok("a.b");
	sub_ok("a.b.c.d");
	sub_ok("my-pvc");
	sub_ok("my-pvc.ns.svc");
	sub_ok("a-b.c-d");
	sub_ok("a--b.0.9z");
	sub_ok("1.2.3.4");
	sub_ok("example.com");
	/* 253 characters: 63 + 1 + 63 + 1 + 63 + 1 + 61. */
	memset(s253, 'a', 253);
	s253[63] = s253[127] = s253[191] = '.';
	s253[253] = '\0';
	assert_int_equal(strlen(s253), 253);
	sub_ok(s253);
	/* Parts have no limit of their own (as in Kubernetes). */
	memset(s253, 'c', 64);
	s253[64] = '.';
	memcpy(s253 + 65, "example", 8);
	assert_int_equal(strlen(s253), 72);
	sub_ok(s253);
	sub_ok(long_part);
	free(long_part);
}

static void test_subdomain_invalid(void **state)
{
	char s254[255], *s300 = rep('a', 300);

	(void)state;
	sub_bad("", "must not be empty");
	memset(s254, 'a', 254);
	s254[63] = s254[127] = s254[191] = '.';
	s254[254] = '\0';
	sub_bad(s254, "at most 253 characters");
	sub_bad(s300, "at most 253 characters");
	s300[0] = 'A';
	sub_bad(s300, "at most 253 characters");

	sub_bad(".", "dot-separated part");
	sub_bad(".a", "dot-separated part");
	sub_bad("a.", "dot-separated part");
	sub_bad("a..b", "dot-separated part");
	sub_bad("a.-b", "start and end with an alphanumeric");
	sub_bad("a-.b", "start and end with an alphanumeric");
	sub_bad("-a.b", "start and end");
	sub_bad("a.b-", "start and end");
	sub_bad("a_b.c", "lower case alphanumeric characters, '-' or '.'");
	sub_bad("a.b_c", "lower case");
	sub_bad("a b", "lower case");
	sub_bad("a.b/c", "lower case");
	sub_bad("A.b", "uppercase");
	sub_bad("a.B", "uppercase");
	sub_bad("My-PVC", "uppercase");
	sub_bad("a.\xc3\xa4", "lower case");
	{
		const char *why = NULL;

		assert_false(ferry_dns1123_subdomain("a..b", &why));
		assert_non_null(why);
		assert_null(strstr(why, "uppercase"));
	}
	free(s300);
}

static void test_label_vs_subdomain(void **state)
{
	const char *why = NULL;
	char *s64 = rep('x', 64);

	(void)state;
	/* Dots: subdomain yes, label no. A 64-character name: same. */
	assert_true(ferry_dns1123_subdomain("a.b", NULL));
	assert_false(ferry_dns1123_label("a.b", NULL));
	assert_true(ferry_dns1123_subdomain(s64, &why));
	assert_null(why);
	assert_false(ferry_dns1123_label(s64, &why));
	assert_non_null(why);
	free(s64);
}

static void test_suggest(void **state)
{
	char *s100 = rep('a', 100), *s63 = rep('a', 63);

	(void)state;
	expect_suggest("Web_Server 01", "web-server-01");
	expect_suggest("web-server-01", "web-server-01");
	expect_suggest("my-vm", "my-vm");
	expect_suggest("a--b", "a--b");
	expect_suggest("MyVM", "myvm");
	expect_suggest("A.B.C", "a-b-c");
	expect_suggest("Hello World!!", "hello-world");
	expect_suggest("VM (copy) #2", "vm-copy-2");
	expect_suggest("-lead-", "lead");
	expect_suggest("__x__", "x");
	expect_suggest("  spaced  out  ", "spaced-out");
	expect_suggest("a - b", "a-b");
	expect_suggest("a-_b", "a-b");
	expect_suggest("caf\xc3\xa9", "caf");
	expect_suggest("na\xc3\xafve vm", "na-ve-vm");
	expect_suggest("rhel9.example.com", "rhel9-example-com");
	expect_suggest("0", "0");

	/* Nothing valid left. */
	expect_suggest("", NULL);
	expect_suggest("---", NULL);
	expect_suggest("-", NULL);
	expect_suggest("___", NULL);
	expect_suggest(" . ", NULL);
	expect_suggest("\xc3\x84\xc3\x96", NULL);

	/* Cut to 63, and no trailing '-' after the cut. */
	expect_suggest(s100, s63);
	s100[62] = '_';
	s63[62] = '\0';
	expect_suggest(s100, s63); /* 62 a, '-' cut off */
	s100[62] = 'a';
	memset(s100, '-', 10);
	memset(s63, 'a', 62);
	s63[62] = 'a';
	expect_suggest(s100, s63); /* leading dashes go before the cut */
	memset(s100, '_', 50);
	s63[50] = '\0';
	expect_suggest(s100, s63); /* 50 a left */

	{
		char *got = ferry_dns1123_suggest("Some Very Long VM Name That Someone Typed Into "
						  "vSphere With Spaces And CAPS 2024");

		assert_non_null(got);
		assert_int_equal(strlen(got), 63);
		assert_string_equal(got, "some-very-long-vm-name-that-someone-typed-into-vsphere-"
					 "with-spa");
		assert_true(ferry_dns1123_label(got, NULL));
		free(got);
	}
	{
		/* A '-' exactly at position 63 of the cleaned text is dropped. */
		char *got = ferry_dns1123_suggest("Some Very Long VM Name That Someone Typed Into "
						  "vSphere With Sp X");

		assert_non_null(got);
		assert_string_equal(got, "some-very-long-vm-name-that-someone-typed-into-vsphere-"
					 "with-sp");
		assert_int_equal(strlen(got), 62);
		free(got);
	}
	free(s100);
	free(s63);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_valid),	   cmocka_unit_test(test_label_invalid),
		cmocka_unit_test(test_subdomain_valid),	   cmocka_unit_test(test_subdomain_invalid),
		cmocka_unit_test(test_label_vs_subdomain), cmocka_unit_test(test_suggest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
