/* reconciler/metrics: the exact exposition text for a known sequence of
 * calls, label escaping, the cap on label values, HELP and TYPE for every
 * sample, and concurrent updates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reconciler/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char empty_text[] =
	"# HELP ferry_copied_bytes_total Bytes written to target disks by copies.\n"
	"# TYPE ferry_copied_bytes_total counter\n"
	"ferry_copied_bytes_total 0\n"
	"# HELP ferry_errors_total Errors, by kind.\n"
	"# TYPE ferry_errors_total counter\n"
	"# HELP ferry_last_successful_reconcile_timestamp_seconds When the last successful "
	"reconcile pass ended, in seconds since the Unix epoch (0 until one has).\n"
	"# TYPE ferry_last_successful_reconcile_timestamp_seconds gauge\n"
	"ferry_last_successful_reconcile_timestamp_seconds 0\n"
	"# HELP ferry_reconcile_duration_seconds How long reconcile passes took.\n"
	"# TYPE ferry_reconcile_duration_seconds histogram\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"0.005\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"0.01\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"0.025\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"0.05\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"0.1\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"0.25\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"0.5\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"1\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"2.5\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"5\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"10\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"30\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"60\"} 0\n"
	"ferry_reconcile_duration_seconds_bucket{le=\"+Inf\"} 0\n"
	"ferry_reconcile_duration_seconds_sum 0\n"
	"ferry_reconcile_duration_seconds_count 0\n"
	"# HELP ferry_reconciles_total Reconcile passes, by result (ok or error).\n"
	"# TYPE ferry_reconciles_total counter\n"
	"ferry_reconciles_total{result=\"error\"} 0\n"
	"ferry_reconciles_total{result=\"ok\"} 0\n"
	"# HELP ferry_vms Virtual machines, by migration phase.\n"
	"# TYPE ferry_vms gauge\n"
	"# HELP ferry_webhook_requests_total Requests to POST /hooks/git, by result "
	"(accepted, rejected, unsigned, unconfigured).\n"
	"# TYPE ferry_webhook_requests_total counter\n"
	"ferry_webhook_requests_total{result=\"accepted\"} 0\n"
	"ferry_webhook_requests_total{result=\"rejected\"} 0\n"
	"ferry_webhook_requests_total{result=\"unconfigured\"} 0\n"
	"ferry_webhook_requests_total{result=\"unsigned\"} 0\n";

static void test_empty(void **state)
{
	struct ferry_metrics *m = ferry_metrics_new();
	char *text = ferry_metrics_text(m);
	(void)state;

	assert_string_equal(text, empty_text);
	free(text);
	ferry_metrics_free(m);
	ferry_metrics_free(NULL);
}

static void test_sequence(void **state)
{
	static const char expected[] =
		"# HELP ferry_copied_bytes_total Bytes written to target disks by copies.\n"
		"# TYPE ferry_copied_bytes_total counter\n"
		"ferry_copied_bytes_total 1049600\n"
		"# HELP ferry_errors_total Errors, by kind.\n"
		"# TYPE ferry_errors_total counter\n"
		"ferry_errors_total{kind=\"git\"} 1\n"
		"ferry_errors_total{kind=\"nbd\"} 2\n"
		"ferry_errors_total{kind=\"unknown\"} 1\n"
		"# HELP ferry_last_successful_reconcile_timestamp_seconds When the last successful "
		"reconcile pass ended, in seconds since the Unix epoch (0 until one has).\n"
		"# TYPE ferry_last_successful_reconcile_timestamp_seconds gauge\n"
		"ferry_last_successful_reconcile_timestamp_seconds 1700000000.5\n"
		"# HELP ferry_reconcile_duration_seconds How long reconcile passes took.\n"
		"# TYPE ferry_reconcile_duration_seconds histogram\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"0.005\"} 2\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"0.01\"} 3\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"0.025\"} 3\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"0.05\"} 3\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"0.1\"} 3\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"0.25\"} 4\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"0.5\"} 4\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"1\"} 4\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"2.5\"} 4\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"5\"} 4\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"10\"} 4\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"30\"} 4\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"60\"} 5\n"
		"ferry_reconcile_duration_seconds_bucket{le=\"+Inf\"} 6\n"
		"ferry_reconcile_duration_seconds_sum 135.21800000000002\n"
		"ferry_reconcile_duration_seconds_count 6\n"
		"# HELP ferry_reconciles_total Reconcile passes, by result (ok or error).\n"
		"# TYPE ferry_reconciles_total counter\n"
		"ferry_reconciles_total{result=\"error\"} 2\n"
		"ferry_reconciles_total{result=\"ok\"} 4\n"
		"# HELP ferry_vms Virtual machines, by migration phase.\n"
		"# TYPE ferry_vms gauge\n"
		"ferry_vms{phase=\"CopyDisks\"} 3\n"
		"ferry_vms{phase=\"Succeeded\"} 5\n"
		"# HELP ferry_webhook_requests_total Requests to POST /hooks/git, by result "
		"(accepted, rejected, unsigned, unconfigured).\n"
		"# TYPE ferry_webhook_requests_total counter\n"
		"ferry_webhook_requests_total{result=\"accepted\"} 2\n"
		"ferry_webhook_requests_total{result=\"rejected\"} 0\n"
		"ferry_webhook_requests_total{result=\"unconfigured\"} 0\n"
		"ferry_webhook_requests_total{result=\"unsigned\"} 1\n";
	const char *const first[] = {"Pending"};
	const size_t first_n[] = {7};
	const char *const phases[] = {"Succeeded", "CopyDisks", "CopyDisks"};
	const size_t counts[] = {5, 2, 1};
	struct ferry_metrics *m = ferry_metrics_new();
	char *text;
	(void)state;

	/* exactly on a bound counts in that bucket (le is "<=") */
	ferry_metrics_reconcile(m, 0.005, true);
	ferry_metrics_reconcile(m, 0.003, true);
	ferry_metrics_reconcile(m, 0.01, true);
	ferry_metrics_reconcile(m, 0.2, true);
	ferry_metrics_reconcile(m, 60, false);
	ferry_metrics_reconcile(m, 75, false);
	ferry_metrics_set_vms(m, first, first_n, 1);
	ferry_metrics_set_vms(m, phases, counts, 3); /* replaces Pending */
	ferry_metrics_add_bytes(m, 1024);
	ferry_metrics_add_bytes(m, 1 << 20);
	ferry_metrics_error(m, "nbd");
	ferry_metrics_error(m, "git");
	ferry_metrics_error(m, "nbd");
	ferry_metrics_error(m, NULL);
	ferry_metrics_webhook(m, "accepted");
	ferry_metrics_webhook(m, "unsigned");
	ferry_metrics_webhook(m, "accepted");
	ferry_metrics_set_last_success(m, 1700000000.5);
	text = ferry_metrics_text(m);
	assert_string_equal(text, expected);
	free(text);

	/* set_vms with nothing clears the gauge */
	ferry_metrics_set_vms(m, NULL, NULL, 0);
	text = ferry_metrics_text(m);
	assert_null(strstr(text, "ferry_vms{"));
	assert_non_null(strstr(text, "# TYPE ferry_vms gauge\n# HELP ferry_webhook"));
	free(text);
	ferry_metrics_free(m);
}

static void test_negative_and_nan(void **state)
{
	struct ferry_metrics *m = ferry_metrics_new();
	char *text;
	(void)state;

	ferry_metrics_reconcile(m, -1, true);
	ferry_metrics_reconcile(m, NAN, true);
	ferry_metrics_reconcile(m, 0.1, true);
	ferry_metrics_reconcile(m, 0.2, true);
	text = ferry_metrics_text(m);
	assert_non_null(strstr(text, "_bucket{le=\"0.005\"} 2\n"));
	/* the shortest text that reads back as the double */
	assert_non_null(strstr(text, "ferry_reconcile_duration_seconds_sum 0.30000000000000004\n"));
	assert_non_null(strstr(text, "ferry_reconcile_duration_seconds_count 4\n"));
	free(text);
	ferry_metrics_free(m);
}

static void test_escaping(void **state)
{
	const char *const phases[] = {"a\"b\\c\nd", "plain"};
	const size_t counts[] = {1, 2};
	struct ferry_metrics *m = ferry_metrics_new();
	char *text;
	(void)state;

	ferry_metrics_set_vms(m, phases, counts, 2);
	ferry_metrics_error(m, "back\\slash");
	ferry_metrics_webhook(m, "new\nline");
	text = ferry_metrics_text(m);
	assert_non_null(strstr(text, "\nferry_vms{phase=\"a\\\"b\\\\c\\nd\"} 1\n"
				     "ferry_vms{phase=\"plain\"} 2\n"));
	assert_non_null(strstr(text, "\nferry_errors_total{kind=\"back\\\\slash\"} 1\n"));
	assert_non_null(strstr(text, "\nferry_webhook_requests_total{result=\"new\\nline\"} 1\n"));
	free(text);
	ferry_metrics_free(m);
}

static void test_label_cap(void **state)
{
	struct ferry_metrics *m = ferry_metrics_new();
	char kind[16], *text, *p;
	size_t lines = 0;
	(void)state;

	for (int i = 0; i < FERRY_METRICS_MAX_LABELS + 10; i++) {
		snprintf(kind, sizeof kind, "k%03d", i);
		ferry_metrics_error(m, kind);
	}
	ferry_metrics_error(m, "k000"); /* an existing value still counts as itself */
	text = ferry_metrics_text(m);
	for (p = text; (p = strstr(p, "\nferry_errors_total{")); p++)
		lines++;
	assert_int_equal(lines, FERRY_METRICS_MAX_LABELS + 1);
	assert_non_null(strstr(text, "ferry_errors_total{kind=\"k000\"} 2\n"));
	assert_non_null(strstr(text, "ferry_errors_total{kind=\"k063\"} 1\n"));
	assert_null(strstr(text, "kind=\"k064\""));
	assert_non_null(strstr(text, "ferry_errors_total{kind=\"other\"} 10\n"));
	free(text);
	ferry_metrics_free(m);
}

/* Every sample's family (for a histogram, the name without _bucket, _sum or
 * _count) has HELP and TYPE lines before it, and every family has both. */
static void test_help_type(void **state)
{
	const char *const phases[] = {"CopyDisks"};
	const size_t counts[] = {1};
	struct ferry_metrics *m = ferry_metrics_new();
	char *text, *line, *save = NULL;
	char help[64][96], type[64][96];
	size_t nhelp = 0, ntype = 0, samples = 0;
	(void)state;

	ferry_metrics_reconcile(m, 1, true);
	ferry_metrics_set_vms(m, phases, counts, 1);
	ferry_metrics_error(m, "git");
	text = ferry_metrics_text(m);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[96];
		size_t n = strcspn(line, "{ ");
		bool found = false;

		if (!strncmp(line, "# HELP ", 7)) {
			assert_true(nhelp < 64);
			sscanf(line + 7, "%95s", help[nhelp++]);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_true(ntype < 64);
			sscanf(line + 7, "%95s", type[ntype++]);
			/* TYPE right after the HELP of the same family */
			assert_int_equal(nhelp, ntype);
			assert_string_equal(help[nhelp - 1], type[ntype - 1]);
			continue;
		}
		assert_true(line[0] != '#');
		assert_true(n < sizeof name);
		memcpy(name, line, n);
		name[n] = 0;
		samples++;
		for (size_t i = 0; i < ntype && !found; i++) {
			size_t len = strlen(type[i]);

			found = !strcmp(name, type[i]) ||
				(!strncmp(name, type[i], len) &&
				 (!strcmp(name + len, "_bucket") || !strcmp(name + len, "_sum") ||
				  !strcmp(name + len, "_count")));
			/* a sample belongs to the family just declared */
			if (found)
				assert_int_equal(i, ntype - 1);
		}
		if (!found)
			fail_msg("sample '%s' has no HELP/TYPE", line);
	}
	assert_int_equal(nhelp, 7);
	assert_int_equal(ntype, 7);
	assert_int_equal(samples, 1 + 1 + 1 + 16 + 2 + 1 + 4);
	free(text);
	ferry_metrics_free(m);
}

#define THREADS 4
#define ROUNDS	10000

static void *hammer(void *arg)
{
	struct ferry_metrics *m = arg;

	for (int i = 0; i < ROUNDS; i++) {
		ferry_metrics_add_bytes(m, 3);
		ferry_metrics_reconcile(m, 0.001, i % 2);
		ferry_metrics_error(m, i % 3 ? "a" : "b");
		if (i % 1000 == 0)
			free(ferry_metrics_text(m));
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct ferry_metrics *m = ferry_metrics_new();
	pthread_t t[THREADS];
	char want[128], *text;
	(void)state;

	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	text = ferry_metrics_text(m);
	snprintf(want, sizeof want, "ferry_copied_bytes_total %d\n", THREADS * ROUNDS * 3);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof want, "ferry_reconcile_duration_seconds_count %d\n",
		 THREADS * ROUNDS);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof want, "ferry_reconciles_total{result=\"ok\"} %d\n",
		 THREADS * ROUNDS / 2);
	assert_non_null(strstr(text, want));
	free(text);
	ferry_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_negative_and_nan),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_label_cap),
		cmocka_unit_test(test_help_type),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
