/* reconciler/status: status commit batching and the commit message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reconciler/gitsync.h"
#include "reconciler/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_batch_interval(void **state)
{
	struct ferry_status_batch b;
	uint64_t wait;
	(void)state;

	ferry_status_batch_init(&b, 10000);
	assert_false(ferry_status_batch_due(&b, 1000, &wait));
	assert_int_equal(wait, 0); /* nothing pending */
	ferry_status_batch_note(&b, false);
	assert_true(ferry_status_batch_due(&b, 1000, &wait)); /* the first one at once */
	ferry_status_batch_committed(&b, 1000);
	assert_false(ferry_status_batch_due(&b, 1500, &wait));
	ferry_status_batch_note(&b, false);
	ferry_status_batch_note(&b, false);
	assert_false(ferry_status_batch_due(&b, 1500, &wait));
	assert_int_equal(wait, 9500);
	assert_false(ferry_status_batch_due(&b, 10999, &wait));
	assert_int_equal(wait, 1);
	assert_true(ferry_status_batch_due(&b, 11000, &wait));
	ferry_status_batch_committed(&b, 11000);
	assert_false(ferry_status_batch_due(&b, 30000, &wait)); /* nothing new */
}

static void test_batch_phase_change(void **state)
{
	struct ferry_status_batch b;
	uint64_t wait;
	(void)state;

	ferry_status_batch_init(&b, 10000);
	ferry_status_batch_note(&b, false);
	ferry_status_batch_committed(&b, 5000);
	ferry_status_batch_note(&b, false);
	assert_false(ferry_status_batch_due(&b, 6000, &wait));
	ferry_status_batch_note(&b, true); /* a phase change does not wait */
	assert_true(ferry_status_batch_due(&b, 6000, &wait));
	ferry_status_batch_committed(&b, 6000);
	ferry_status_batch_note(&b, false); /* and the interval restarts */
	assert_false(ferry_status_batch_due(&b, 7000, &wait));
	assert_int_equal(wait, 9000);
	/* a clock that went backwards does not hold status back for ever */
	assert_true(ferry_status_batch_due(&b, 100, &wait));
}

static const char *trailer_value(const struct ferry_trailer *t, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].key, k))
			return t[i].value;
	return NULL;
}

static void test_message_one(void **state)
{
	struct ferry_status_change c = {"vm-431", "CopyDisks 40%", "Completed"};
	struct ferry_status_message m = {
		"migrations", "wave-1", "0123456789abcdef0123456789abcdef01234567",
		"Running",    &c,	1};
	struct ferry_trailer *t;
	size_t nt;
	char *msg = ferry_status_message(&m);
	(void)state;

	assert_non_null(strstr(msg, "ferry: wave-1: vm-431 CopyDisks 40% -> Completed\n\n"));
	assert_ptr_equal(strstr(msg, "ferry: wave-1"), msg);
	assert_int_equal(ferry_git_trailers(msg, &t, &nt), 0);
	assert_int_equal(nt, 3);
	assert_string_equal(trailer_value(t, nt, "Ferry-Plan"), "migrations/wave-1");
	assert_string_equal(trailer_value(t, nt, "Ferry-Source-Commit"),
			    "0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(trailer_value(t, nt, "Ferry-Phase"), "Running");
	ferry_git_trailers_free(t, nt);
	free(msg);
}

static void test_message_many(void **state)
{
	struct ferry_status_change c[40];
	char names[40][16];
	struct ferry_status_message m = {"ns", "wave-2", "abc", "Running", c, 40};
	char *msg, *nl;
	(void)state;

	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof names[i], "vm-%03d", i);
		c[i].vm = names[i];
		c[i].from = i % 2 ? "CopyDisks 10%" : NULL;
		c[i].to = "CopyDisks 20%";
	}
	msg = ferry_status_message(&m);
	nl = strchr(msg, '\n');
	assert_non_null(nl);
	assert_true(nl - msg <= 100); /* the subject stays one readable line */
	assert_non_null(
		strstr(msg, "ferry: wave-2: vm-000 -> CopyDisks 20%, vm-001 CopyDisks 10% -> "));
	assert_non_null(strstr(msg, " more\n\n"));
	/* every change is in the body */
	for (int i = 0; i < 40; i++) {
		char line[sizeof names[0] + 8];
		snprintf(line, sizeof line, "\n- %.15s ", names[i]);
		assert_non_null(strstr(msg, line));
	}
	/* "+N more" counts exactly what the subject left out */
	size_t shown = 0;
	for (char *p = msg; p < nl; p++)
		shown += !strncmp(p, "vm-", 3);
	char more[32];
	snprintf(more, sizeof more, "+%zu more\n", 40 - shown);
	assert_non_null(strstr(msg, more));
	free(msg);
}

/* Several plans in one commit: each plan's Ferry-Plan is followed by its
 * own Ferry-Phase, so `ferry history` pairs them by order. */
static void test_message_plans(void **state)
{
	struct ferry_status_change c1[] = {{"vm-1", NULL, "Started"}, {"vm-2", NULL, "Started"}};
	struct ferry_status_change c2[] = {{"vm-9", "CopyDisks 50%", "Failed"}};
	struct ferry_status_message m[3] = {
		{"ns-a", "wave-1", "abc", "Running", c1, 2},
		{"ns-b", "wave-2", "abc", "Failed", c2, 1},
		{"ns-a", "wave-3", "abc", "Succeeded", NULL, 0},
	};
	struct ferry_trailer *t;
	size_t nt;
	char *msg = ferry_status_message_plans(m, 3), *one;
	const char *want[] = {"Ferry-Plan",	     "ns-a/wave-1", "Ferry-Phase", "Running",
			      "Ferry-Plan",	     "ns-b/wave-2", "Ferry-Phase", "Failed",
			      "Ferry-Plan",	     "ns-a/wave-3", "Ferry-Phase", "Succeeded",
			      "Ferry-Source-Commit", "abc"};
	(void)state;

	assert_ptr_equal(
		strstr(msg, "ferry: 3 plans: wave-1 Running, wave-2 Failed, wave-3 Succeeded\n\n"),
		msg);
	assert_non_null(strstr(msg, "\nns-b/wave-2: Failed\n- vm-9 CopyDisks 50% -> Failed\n"));
	assert_non_null(
		strstr(msg, "ns-a/wave-1: Running\n- vm-1 -> Started\n- vm-2 -> Started\n"));
	assert_int_equal(ferry_git_trailers(msg, &t, &nt), 0);
	assert_int_equal(nt, 7);
	for (size_t i = 0; i < nt; i++) {
		assert_string_equal(t[i].key, want[2 * i]);
		assert_string_equal(t[i].value, want[2 * i + 1]);
	}
	ferry_git_trailers_free(t, nt);
	/* one plan: the single-plan message */
	one = ferry_status_message(&m[1]);
	free(msg);
	msg = ferry_status_message_plans(&m[1], 1);
	assert_string_equal(msg, one);
	free(one);
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_interval), cmocka_unit_test(test_batch_phase_change),
		cmocka_unit_test(test_message_one),    cmocka_unit_test(test_message_many),
		cmocka_unit_test(test_message_plans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
