/* common/time: RFC 3339 parsing, formatting and ordering. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/time.h"

#include <string.h>

/* Parse s, which must succeed, and check every field of the result. */
static void expect_time(const char *s, int64_t sec, int32_t nsec, int16_t offset_min)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_time t = {-7, -7, -7};

	if (ferry_time_parse(s, &t, &err) != 0)
		fail_msg("\"%s\" rejected at col %d: %s", s, err.col, err.msg);
	if (t.sec != sec || t.nsec != nsec || t.offset_min != offset_min)
		fail_msg("\"%s\": got sec %lld nsec %d offset %d, want %lld %d %d", s,
			 (long long)t.sec, (int)t.nsec, (int)t.offset_min, (long long)sec,
			 (int)nsec, (int)offset_min);
}

/* Parse s, which must fail at column col with a message containing part;
 * *out must be left alone. */
static void expect_reject(const char *s, int col, const char *part)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_time t = {-7, -7, -7};

	if (ferry_time_parse(s, &t, &err) != -1)
		fail_msg("\"%s\" accepted (sec %lld nsec %d)", s, (long long)t.sec, (int)t.nsec);
	if (err.code != FERRY_E_INVALID || err.col != col || err.line != 0)
		fail_msg("\"%s\": code %d line %d col %d, want invalid line 0 col %d (%s)", s,
			 (int)err.code, err.line, err.col, col, err.msg);
	if (err.msg[0] == '\0' || (part && !strstr(err.msg, part)))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", s, err.msg, part ? part : "");
	assert_int_equal(t.sec, -7);
	assert_int_equal(t.nsec, -7);
	assert_int_equal(t.offset_min, -7);
}

static void expect_format(int64_t sec, int32_t nsec, const char *want)
{
	struct ferry_time t = {sec, nsec, 0};
	char buf[FERRY_TIME_FORMAT_MAX];

	assert_int_equal(ferry_time_format(&t, buf, sizeof buf), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_parse_offsets(void **state)
{
	(void)state;
	/* The example from the header: 01:23:45 at +09:00 is 16:23:45 UTC the
	 * day before. */
	expect_time("2024-04-04T01:23:45.678+09:00", 1712161425, 678000000, 540);
	expect_time("2024-04-03T16:23:45.678Z", 1712161425, 678000000, 0);
	expect_time("2024-04-03T16:23:45Z", 1712161425, 0, 0);
	expect_time("2024-04-03t16:23:45z", 1712161425, 0, 0);
	expect_time("2024-04-03T16:23:45+00:00", 1712161425, 0, 0);
	expect_time("2024-04-03T16:23:45-00:00", 1712161425, 0, 0);
	expect_time("2024-04-03T11:23:45.5-05:00", 1712161425, 500000000, -300);
	expect_time("2024-04-03T21:53:45+05:30", 1712161425, 0, 330);
	expect_time("2024-04-03T12:53:45-03:30", 1712161425, 0, -210);
	expect_time("2024-04-03T15:53:45-00:30", 1712161425, 0, -30);
	expect_time("2024-04-04T16:22:45+23:59", 1712161425, 0, 1439);
	expect_time("2024-04-02T16:24:45-23:59", 1712161425, 0, -1439);
	/* Crossing a year boundary through the offset. */
	expect_time("2024-01-01T08:00:00+09:00", 1704063600, 0, 540);
	expect_time("2023-12-31T15:00:00-08:00", 1704063600, 0, -480);
}

static void test_parse_fractions(void **state)
{
	(void)state;
	expect_time("2024-04-03T16:23:45.1Z", 1712161425, 100000000, 0);
	expect_time("2024-04-03T16:23:45.12Z", 1712161425, 120000000, 0);
	expect_time("2024-04-03T16:23:45.123Z", 1712161425, 123000000, 0);
	expect_time("2024-04-03T16:23:45.1234Z", 1712161425, 123400000, 0);
	expect_time("2024-04-03T16:23:45.12345Z", 1712161425, 123450000, 0);
	expect_time("2024-04-03T16:23:45.123456Z", 1712161425, 123456000, 0);
	expect_time("2024-04-03T16:23:45.1234567Z", 1712161425, 123456700, 0);
	expect_time("2024-04-03T16:23:45.12345678Z", 1712161425, 123456780, 0);
	expect_time("2024-04-04t01:23:45.123456789z", 1712161425 + 9 * 3600, 123456789, 0);
	expect_time("2024-04-03T16:23:45.000000001Z", 1712161425, 1, 0);
	expect_time("2024-04-03T16:23:45.999999999Z", 1712161425, 999999999, 0);
	expect_time("2024-04-03T16:23:45.0Z", 1712161425, 0, 0);
	expect_time("2024-04-03T16:23:45.000000000+01:00", 1712161425 - 3600, 0, 60);
}

static void test_parse_calendar(void **state)
{
	(void)state;
	expect_time("1970-01-01T00:00:00Z", 0, 0, 0);
	expect_time("1970-01-01T09:00:00+09:00", 0, 0, 540);
	expect_time("1969-12-31T19:00:00-05:00", 0, 0, -300);
	expect_time("1969-12-31T23:59:59Z", -1, 0, 0);
	expect_time("1969-12-31T23:59:59.5Z", -1, 500000000, 0);
	expect_time("1900-03-01T00:00:00Z", -2203891200, 0, 0);
	expect_time("0000-01-01T00:00:00Z", -62167219200, 0, 0);
	expect_time("9999-12-31T23:59:59Z", 253402300799, 0, 0);
	expect_time("9999-12-31T23:59:59.999999999-23:59", 253402300799 + 1439 * 60, 999999999,
		    -1439);
	/* Leap years: divisible by 4, except centuries, except every 400. */
	expect_time("2024-02-29T00:00:00Z", 1709164800, 0, 0);
	expect_time("2024-03-01T00:00:00Z", 1709164800 + 86400, 0, 0);
	expect_time("2000-02-29T12:00:00Z", 951825600, 0, 0);
	expect_time("2023-02-28T00:00:00Z", 1677542400, 0, 0);
	/* Last day of each 31- and 30-day month. */
	expect_time("2024-01-31T00:00:00Z", 1706659200, 0, 0);
	expect_time("2024-04-30T00:00:00Z", 1714435200, 0, 0);
	expect_time("2024-12-31T23:59:59Z", 1735689599, 0, 0);
}

static void test_parse_leap_second(void **state)
{
	(void)state;
	/* Stored as the last nanosecond before the next UTC midnight. */
	expect_time("2016-12-31T23:59:60Z", 1483228799, 999999999, 0);
	expect_time("2016-12-31T23:59:60.5Z", 1483228799, 999999999, 0);
	expect_time("2017-01-01T08:59:60+09:00", 1483228799, 999999999, 540);
	expect_time("2016-12-31T18:59:60-05:00", 1483228799, 999999999, -300);
	expect_time("2016-06-30T23:59:60Z", 1467331199, 999999999, 0);
	expect_time("2024-02-29T23:59:60Z", 1709251199, 999999999, 0);
	expect_time("1969-12-31T23:59:60Z", -1, 999999999, 0);
	/* 23:59:60 local but not UTC, not the last day, not 23:59. */
	expect_reject("2016-12-31T23:59:60+01:00", 18, "leap second");
	expect_reject("2016-12-30T23:59:60Z", 18, "leap second");
	expect_reject("2024-02-28T23:59:60Z", 18, "leap second");
	expect_reject("2016-12-31T23:58:60Z", 18, "leap second");
	expect_reject("2024-04-04T12:00:60Z", 18, "leap second");
}

static void test_parse_rejects(void **state)
{
	(void)state;
	/* Calendar ranges: the column is the start of the bad field. */
	expect_reject("2023-02-29T00:00:00Z", 9, "day 29");
	expect_reject("1900-02-29T00:00:00Z", 9, "day 29");
	expect_reject("2100-02-29T00:00:00Z", 9, "day 29");
	expect_reject("2024-02-30T00:00:00Z", 9, "day 30");
	expect_reject("2024-04-31T00:00:00Z", 9, "day 31");
	expect_reject("2024-06-31T00:00:00Z", 9, "day 31");
	expect_reject("2024-09-31T00:00:00Z", 9, "day 31");
	expect_reject("2024-11-31T00:00:00Z", 9, "day 31");
	expect_reject("2024-01-32T00:00:00Z", 9, "day 32");
	expect_reject("2024-01-00T00:00:00Z", 9, "day 00");
	expect_reject("2024-13-01T00:00:00Z", 6, "month 13");
	expect_reject("2024-00-01T00:00:00Z", 6, "month 00");
	expect_reject("2024-04-04T24:00:00Z", 12, "hour 24");
	expect_reject("2024-04-04T23:60:00Z", 15, "minute 60");
	expect_reject("2024-04-04T23:59:61Z", 18, "second 61");
	expect_reject("2024-04-04T23:59:99Z", 18, "second 99");

	/* The offset is mandatory; col is strlen + 1 when it is missing. */
	expect_reject("2024-04-04T01:23:45", 20, "offset");
	expect_reject("2024-04-04T01:23:45.678", 24, "offset");
	expect_reject("2024-04-04T01:23:45+09", 23, "offset");
	expect_reject("2024-04-04T01:23:45+0900", 23, "offset");
	expect_reject("2024-04-04T01:23:45+9:00", 22, "offset");
	expect_reject("2024-04-04T01:23:45+", 21, "offset");
	expect_reject("2024-04-04T01:23:45+09:", 24, "offset");
	expect_reject("2024-04-04T01:23:45+09:0", 25, "offset");
	expect_reject("2024-04-04T01:23:45+24:00", 21, "offset hour 24");
	expect_reject("2024-04-04T01:23:45+09:60", 24, "offset minute 60");
	expect_reject("2024-04-04T01:23:45 +09:00", 20, "offset");
	expect_reject("2024-04-04T01:23:45UTC", 20, "offset");

	/* Fractions: 1 to 9 digits. */
	expect_reject("2024-04-04T01:23:45.Z", 21, "'.'");
	expect_reject("2024-04-04T01:23:45.", 21, "'.'");
	expect_reject("2024-04-04T01:23:45.1234567890Z", 30, "9 digits");
	expect_reject("2024-04-04T01:23:45,5Z", 20, NULL);

	/* Shape. */
	expect_reject("", 1, "year");
	expect_reject(" 2024-04-04T01:23:45Z", 1, "year");
	expect_reject("24-04-04T01:23:45Z", 3, "year");
	expect_reject("+2024-04-04T01:23:45Z", 1, "year");
	expect_reject("2024/04/04T01:23:45Z", 5, "'-'");
	expect_reject("2024-4-04T01:23:45Z", 7, "month");
	expect_reject("2024-04-4T01:23:45Z", 10, "day");
	expect_reject("2024-04-04", 11, "'T'");
	expect_reject("2024-04-04 01:23:45Z", 11, "'T'");
	expect_reject("2024-04-04T1:23:45Z", 13, "hour");
	expect_reject("2024-04-04T01-23-45Z", 14, "':'");
	expect_reject("2024-04-04T01:23Z", 17, "':'");
	expect_reject("2024-04-04T01:23:4Z", 19, "second");
	expect_reject("2024-04-04T01:23:45ZX", 21, "after");
	expect_reject("2024-04-04T01:23:45Z ", 21, "after");
	expect_reject("2024-04-04T01:23:45+09:00Z", 26, "after");
	expect_reject("2024-04-04T01:23:45\n", 20, "offset");
}

static void test_format(void **state)
{
	struct ferry_time t = {1712161425, 678000000, 540};
	char buf[FERRY_TIME_FORMAT_MAX], small[11];

	(void)state;
	expect_format(1712161425, 678000000, "2024-04-03T16:23:45.678Z");
	expect_format(1712161425, 0, "2024-04-03T16:23:45Z");
	expect_format(1712161425, 1, "2024-04-03T16:23:45.000000001Z");
	expect_format(1712161425, 100000000, "2024-04-03T16:23:45.1Z");
	expect_format(1712161425, 120000000, "2024-04-03T16:23:45.12Z");
	expect_format(1712161425, 123456789, "2024-04-03T16:23:45.123456789Z");
	expect_format(1712161425, 10, "2024-04-03T16:23:45.00000001Z");
	expect_format(0, 0, "1970-01-01T00:00:00Z");
	expect_format(-1, 0, "1969-12-31T23:59:59Z");
	expect_format(-1, 500000000, "1969-12-31T23:59:59.5Z");
	expect_format(-86400, 0, "1969-12-31T00:00:00Z");
	expect_format(-62167219200, 0, "0000-01-01T00:00:00Z");
	expect_format(253402300799, 999999999, "9999-12-31T23:59:59.999999999Z");
	expect_format(1709164800, 0, "2024-02-29T00:00:00Z");
	expect_format(951825600, 0, "2000-02-29T12:00:00Z");
	expect_format(1483228799, 999999999, "2016-12-31T23:59:59.999999999Z");

	/* The offset is informational: output is always UTC. */
	assert_int_equal(ferry_time_format(&t, buf, sizeof buf), 24);
	assert_string_equal(buf, "2024-04-03T16:23:45.678Z");

	/* snprintf semantics: truncated, NUL-terminated, full length returned. */
	memset(small, 'x', sizeof small);
	assert_int_equal(ferry_time_format(&t, small, sizeof small), 24);
	assert_string_equal(small, "2024-04-03");
	assert_int_equal(ferry_time_format(&t, NULL, 0), 24);
	small[0] = 'x';
	assert_int_equal(ferry_time_format(&t, small, 1), 24);
	assert_int_equal(small[0], '\0');

	/* FERRY_TIME_FORMAT_MAX holds the output for any sec. */
	t.sec = INT64_MAX;
	t.nsec = 999999999;
	assert_in_range(ferry_time_format(&t, buf, sizeof buf), 20, FERRY_TIME_FORMAT_MAX - 1);
	assert_int_equal(buf[strlen(buf) - 1], 'Z');
	t.sec = INT64_MIN;
	assert_in_range(ferry_time_format(&t, buf, sizeof buf), 20, FERRY_TIME_FORMAT_MAX - 1);
	assert_int_equal(buf[strlen(buf) - 1], 'Z');
}

static void test_format_round_trip(void **state)
{
	static const struct {
		const char *in, *utc;
	} cases[] = {
		{"2024-04-04T01:23:45.678+09:00", "2024-04-03T16:23:45.678Z"},
		{"2024-04-03T16:23:45.678000000Z", "2024-04-03T16:23:45.678Z"},
		{"2024-04-03T16:23:45.100z", "2024-04-03T16:23:45.1Z"},
		{"2024-04-03T16:23:45.000Z", "2024-04-03T16:23:45Z"},
		{"2024-04-03t11:23:45.000000001-05:00", "2024-04-03T16:23:45.000000001Z"},
		{"2024-02-29T23:30:00-01:00", "2024-03-01T00:30:00Z"},
		{"1970-01-01T05:30:00+05:30", "1970-01-01T00:00:00Z"},
		{"1970-01-01T00:00:00+00:01", "1969-12-31T23:59:00Z"},
		{"2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999999999Z"},
		{"9999-12-31T23:59:59.9Z", "9999-12-31T23:59:59.9Z"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ferry_err err = FERRY_ERR_INIT;
		struct ferry_time a, b;
		char buf[FERRY_TIME_FORMAT_MAX];

		assert_int_equal(ferry_time_parse(cases[i].in, &a, &err), 0);
		assert_int_equal(ferry_time_format(&a, buf, sizeof buf), (int)strlen(cases[i].utc));
		assert_string_equal(buf, cases[i].utc);
		/* What we write, we read back as the same instant. */
		assert_int_equal(ferry_time_parse(buf, &b, &err), 0);
		assert_int_equal(b.sec, a.sec);
		assert_int_equal(b.nsec, a.nsec);
		assert_int_equal(b.offset_min, 0);
		assert_int_equal(ferry_time_cmp(&a, &b), 0);
	}
}

static struct ferry_time parsed(const char *s)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_time t = {0, 0, 0};

	if (ferry_time_parse(s, &t, &err) != 0)
		fail_msg("\"%s\": %s", s, err.msg);
	return t;
}

static void expect_cmp(const char *a, const char *b, int want)
{
	struct ferry_time ta = parsed(a), tb = parsed(b);

	if (ferry_time_cmp(&ta, &tb) != want || ferry_time_cmp(&tb, &ta) != -want)
		fail_msg("cmp(%s, %s) = %d, reverse %d, want %d", a, b, ferry_time_cmp(&ta, &tb),
			 ferry_time_cmp(&tb, &ta), want);
}

static void test_cmp(void **state)
{
	struct ferry_time x = {5, 7, 0}, y = {5, 7, -600};
	struct ferry_time big = {INT64_MAX, 0, 0}, small = {INT64_MIN, 0, 0};

	(void)state;
	/* The same instant in different offsets is equal. */
	expect_cmp("2024-04-04T01:23:45.678+09:00", "2024-04-03T16:23:45.678Z", 0);
	expect_cmp("2024-04-03T11:23:45.678-05:00", "2024-04-04T01:23:45.678+09:00", 0);
	expect_cmp("1970-01-01T00:00:00Z", "1969-12-31T19:00:00-05:00", 0);
	/* Wall-clock order is not instant order across offsets. */
	expect_cmp("2024-04-04T01:00:00+09:00", "2024-04-03T17:00:00Z", -1);
	expect_cmp("2024-04-03T12:00:00-05:00", "2024-04-03T16:59:59Z", 1);
	expect_cmp("2024-04-04T00:00:00+00:01", "2024-04-03T23:58:30Z", 1);
	/* Fractions break ties on sec. */
	expect_cmp("2024-04-03T16:23:45.1Z", "2024-04-03T16:23:45.01Z", 1);
	expect_cmp("2024-04-03T16:23:45Z", "2024-04-03T16:23:45.000000001Z", -1);
	expect_cmp("2024-04-03T16:23:45.999999999Z", "2024-04-03T16:23:46Z", -1);
	/* A leap second sorts after :59 and before the next midnight. */
	expect_cmp("2016-12-31T23:59:59.5Z", "2016-12-31T23:59:60Z", -1);
	expect_cmp("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z", -1);
	expect_cmp("1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", -1);
	expect_cmp("0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", -1);

	/* offset_min is ignored; the result is exactly -1, 0 or 1. */
	assert_int_equal(ferry_time_cmp(&x, &y), 0);
	assert_int_equal(ferry_time_cmp(&big, &small), 1);
	assert_int_equal(ferry_time_cmp(&small, &big), -1);
	assert_int_equal(ferry_time_cmp(&big, &big), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_offsets),	  cmocka_unit_test(test_parse_fractions),
		cmocka_unit_test(test_parse_calendar),	  cmocka_unit_test(test_parse_leap_second),
		cmocka_unit_test(test_parse_rejects),	  cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_round_trip), cmocka_unit_test(test_cmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
