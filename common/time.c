#include "common/time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date. Counting in 400-year
 * eras (146097 days each) starting in March keeps the leap day at the end of
 * the year, so no table and no timegm(), whose result depends on TZ. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int fail(struct ferry_err *err, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ferry_err *err, size_t pos, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ferry_err_set_at(err, FERRY_E_INVALID, NULL, 0, (int)pos + 1, "%s", msg);
}

/* Read exactly n digits at *p. On failure *p points at the first non-digit. */
static bool read_digits(const char *s, size_t *p, int n, int *val)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[*p]))
			return false;
		v = v * 10 + (s[*p] - '0');
		(*p)++;
	}
	*val = v;
	return true;
}

#define EXPECT_DIGITS(n, var, what)                                                                \
	do {                                                                                       \
		if (!read_digits(s, &p, (n), &(var)))                                              \
			return fail(err, p, "expected %s", (what));                                \
	} while (0)

#define EXPECT_CHAR(c, what)                                                                       \
	do {                                                                                       \
		if (s[p] != (c))                                                                   \
			return fail(err, p, "expected %s", (what));                                \
		p++;                                                                               \
	} while (0)

int ferry_time_parse(const char *s, struct ferry_time *out, struct ferry_err *err)
{
	int year, month, day, hour, min, sec, oh = 0, om = 0;
	size_t p = 0, at, sec_at;
	int32_t nsec = 0;
	int sign = 1;
	int64_t t;

	/* Fields are checked left to right so that the first problem in the
	 * text is the one reported. */
	EXPECT_DIGITS(4, year, "4-digit year");
	EXPECT_CHAR('-', "'-' after year");
	at = p;
	EXPECT_DIGITS(2, month, "2-digit month");
	if (month < 1 || month > 12)
		return fail(err, at, "month %02d out of range 01-12", month);
	EXPECT_CHAR('-', "'-' after month");
	at = p;
	EXPECT_DIGITS(2, day, "2-digit day");
	if (day < 1 || day > days_in_month(year, month))
		return fail(err, at, "day %02d out of range for %04d-%02d (01-%02d)", day, year,
			    month, days_in_month(year, month));
	if (s[p] != 'T' && s[p] != 't')
		return fail(err, p, "expected 'T' between date and time");
	p++;
	at = p;
	EXPECT_DIGITS(2, hour, "2-digit hour");
	if (hour > 23)
		return fail(err, at, "hour %02d out of range 00-23", hour);
	EXPECT_CHAR(':', "':' after hour");
	at = p;
	EXPECT_DIGITS(2, min, "2-digit minute");
	if (min > 59)
		return fail(err, at, "minute %02d out of range 00-59", min);
	EXPECT_CHAR(':', "':' after minute");
	sec_at = p;
	EXPECT_DIGITS(2, sec, "2-digit second");
	if (sec > 60)
		return fail(err, sec_at, "second %02d out of range 00-60", sec);

	if (s[p] == '.') {
		int ndig = 0;

		p++;
		if (!is_digit(s[p]))
			return fail(err, p, "expected digits after '.'");
		while (is_digit(s[p])) {
			if (ndig == 9)
				return fail(err, p, "fractional seconds have more than 9 digits");
			nsec = nsec * 10 + (s[p] - '0');
			ndig++;
			p++;
		}
		for (; ndig < 9; ndig++)
			nsec *= 10;
	}

	if (s[p] == 'Z' || s[p] == 'z') {
		p++;
	} else if (s[p] == '+' || s[p] == '-') {
		sign = s[p] == '-' ? -1 : 1;
		p++;
		at = p;
		EXPECT_DIGITS(2, oh, "2-digit offset hour (+HH:MM)");
		if (oh > 23)
			return fail(err, at, "offset hour %02d out of range 00-23", oh);
		EXPECT_CHAR(':', "':' in UTC offset (+HH:MM)");
		at = p;
		EXPECT_DIGITS(2, om, "2-digit offset minute (+HH:MM)");
		if (om > 59)
			return fail(err, at, "offset minute %02d out of range 00-59", om);
	} else if (s[p] == '\0') {
		return fail(err, p, "time has no UTC offset: add Z or +HH:MM");
	} else {
		return fail(err, p, "expected UTC offset (Z or +HH:MM)");
	}
	if (s[p] != '\0')
		return fail(err, p, "unexpected text after UTC offset");

	t = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec -
	    (int64_t)sign * (oh * 60 + om) * 60;
	if (sec == 60) {
		int64_t y;
		int m, d;

		/* t is the instant just after the leap second: it must be the UTC
		 * midnight that starts a month. */
		civil_from_days(t / 86400, &y, &m, &d);
		if (t % 86400 != 0 || d != 1)
			return fail(err, sec_at,
				    "leap second 60 is only valid at 23:59:60 UTC "
				    "on the last day of a month");
		t -= 1;
		nsec = 999999999;
	}

	out->sec = t;
	out->nsec = nsec;
	out->offset_min = (int16_t)(sign * (oh * 60 + om));
	return 0;
}

int ferry_time_format(const struct ferry_time *t, char *buf, size_t n)
{
	int64_t sec = t->sec, days, rem, y;
	int64_t nsec = t->nsec;
	char frac[12] = "";
	int m, d;

	/* Tolerate a hand-built struct whose nsec is out of range. */
	sec += nsec / 1000000000;
	nsec %= 1000000000;
	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	days = sec / 86400;
	rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (nsec) {
		int len;

		snprintf(frac, sizeof frac, ".%09d", (int)nsec);
		len = (int)strlen(frac);
		while (frac[len - 1] == '0')
			frac[--len] = '\0';
	}
	return snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02d%sZ", (long long)y, m, d,
			(int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
}

int ferry_time_cmp(const struct ferry_time *a, const struct ferry_time *b)
{
	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if (a->nsec != b->nsec)
		return a->nsec < b->nsec ? -1 : 1;
	return 0;
}

double ferry_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ferry_sleep(double s)
{
	struct timespec ts;
	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}
