/* Timestamps as Kubernetes and Forklift write them: RFC 3339 date-times.
 *
 * Accepted:  2024-04-04T01:23:45Z
 *            2024-04-04T01:23:45.678+09:00
 *            2024-04-04t01:23:45.123456789z   (lower-case t and z)
 * The UTC offset is mandatory ("Z", "+HH:MM" or "-HH:MM"; not "+HHMM"), the
 * fraction may have 1 to 9 digits, and every field is range-checked (leap
 * years included). Second 60 is accepted only where RFC 3339 allows a leap
 * second: 23:59:60 UTC (after applying the offset) on the last day of a
 * month; it is stored as 23:59:59.999999999 UTC so that ordering holds.
 *
 * All functions are pure: no locale, no TZ, no timegm/mktime, thread-safe.
 */
#ifndef FERRY_COMMON_TIME_H
#define FERRY_COMMON_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct ferry_time {
	int64_t sec;	    /* Unix seconds, UTC */
	int32_t nsec;	    /* 0..999999999 */
	int16_t offset_min; /* offset the text was written with, minutes east
			     * of UTC (informational: sec/nsec are already UTC) */
};

/* A buffer this large always holds ferry_time_format()'s output. */
#define FERRY_TIME_FORMAT_MAX 48

/* Parse an RFC 3339 date-time. Returns 0, or -1 with err->code
 * FERRY_E_INVALID, err->col the 1-based byte column in s of the problem
 * (strlen(s) + 1 when something is missing at the end) and err->line 0.
 * *out is written only on success. */
int ferry_time_parse(const char *s, struct ferry_time *out, struct ferry_err *err);

/* Write t as RFC 3339 in UTC ("2024-04-03T16:23:45.678Z"): the fraction is
 * printed only when nsec != 0, without trailing zeros. Behaves like
 * snprintf: writes at most n bytes including the NUL and returns the length
 * of the full text. */
int ferry_time_format(const struct ferry_time *t, char *buf, size_t n);

/* Order by instant (sec, then nsec); offset_min is ignored, so the same
 * instant written with different offsets compares equal. Returns -1, 0, 1. */
int ferry_time_cmp(const struct ferry_time *a, const struct ferry_time *b);

/* Seconds on the monotonic clock (for durations, never for dates). */
double ferry_monotonic(void);

/* Sleep s seconds (nothing when s <= 0), resuming after signals. */
void ferry_sleep(double s);

#endif
