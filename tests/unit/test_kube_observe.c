/* providers/kubevirt/observe: what the KubeVirt target reads back from a
 * cluster, interpreted without one: the VirtualMachine digest that drift
 * detection compares, Kubernetes quantities, a transfer Job's outcome
 * with the worker's own error message, a running copy's progress from its
 * log, and the cluster's default StorageClass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "providers/kubevirt/observe.h"

#include <stdio.h>
#include <string.h>

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	if (!j)
		fail_msg("bad JSON in the test: %s: %s", je.text, text);
	return j;
}

static void digest_of(const char *text, char hex[FERRY_TARGET_DIGEST])
{
	json_t *j = parse(text);

	ferry_kube_vm_digest(j, hex);
	json_decref(j);
}

/* ---- digests ------------------------------------------------------------------ */

static const char vm_text[] =
	"{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachine\","
	"\"metadata\":{\"name\":\"web-01\",\"namespace\":\"prod\",\"resourceVersion\":\"10\","
	"\"generation\":1,\"uid\":\"u-1\",\"labels\":{\"app.kubernetes.io/managed-by\":\"ferry\","
	"\"tier\":\"web\"},\"annotations\":{\"ferry.dev/source-vm-name\":\"Web 01\"}},"
	"\"spec\":{\"runStrategy\":\"Halted\",\"template\":{\"spec\":{\"domain\":{\"cpu\":"
	"{\"cores\":2,\"sockets\":1}}}}}}";

static void test_digest(void **state)
{
	char base[FERRY_TARGET_DIGEST], d[FERRY_TARGET_DIGEST];
	(void)state;

	digest_of(vm_text, base);
	assert_int_equal(strlen(base), 64);
	assert_int_equal(strspn(base, "0123456789abcdef"), 64);

	/* what the cluster changes on its own does not count: status,
	 * resourceVersion, generation, managedFields, annotations */
	digest_of("{\"metadata\":{\"name\":\"web-01\",\"resourceVersion\":\"99\",\"generation\":7,"
		  "\"managedFields\":[{\"manager\":\"virt-controller\"}],\"annotations\":{"
		  "\"kubevirt.io/latest-observed-api-version\":\"v1\"},\"labels\":{\"tier\":"
		  "\"web\",\"app.kubernetes.io/managed-by\":\"ferry\"}},\"spec\":{\"template\":"
		  "{\"spec\":{\"domain\":{\"cpu\":{\"sockets\":1,\"cores\":2}}}},\"runStrategy\":"
		  "\"Halted\"},\"status\":{\"printableStatus\":\"Stopped\",\"ready\":false}}",
		  d);
	assert_string_equal(d, base); /* key order does not count either */

	/* a change of the spec or of the labels does */
	digest_of("{\"metadata\":{\"labels\":{\"app.kubernetes.io/managed-by\":\"ferry\",\"tier\":"
		  "\"web\"}},\"spec\":{\"runStrategy\":\"Always\",\"template\":{\"spec\":{"
		  "\"domain\":{\"cpu\":{\"cores\":2,\"sockets\":1}}}}}}",
		  d);
	assert_string_not_equal(d, base);
	digest_of("{\"metadata\":{\"labels\":{\"app.kubernetes.io/managed-by\":\"ferry\",\"tier\":"
		  "\"db\"}},\"spec\":{\"runStrategy\":\"Halted\",\"template\":{\"spec\":{"
		  "\"domain\":{\"cpu\":{\"cores\":2,\"sockets\":1}}}}}}",
		  d);
	assert_string_not_equal(d, base);

	/* the serialisation is fixed: SHA-256 of {"labels":{},"spec":{}} */
	digest_of("{\"metadata\":{\"name\":\"x\"}}", d);
	assert_string_equal(d, "df07f794e9051fc40347a3925dedc786c604ab24e9149bed53044e06d7dcf2b4");
}

/* ---- quantities ------------------------------------------------------------------ */

static void test_quantity(void **state)
{
	static const struct {
		const char *s;
		uint64_t want;
	} good[] = {
		{"0", 0},
		{"512", 512},
		{"+512", 512},
		{"1Ki", 1024},
		{"4Mi", 4u << 20},
		{"10Gi", UINT64_C(10) << 30},
		{"1.5Gi", UINT64_C(3) << 29},
		{"2Ti", UINT64_C(2) << 40},
		{"1Ei", UINT64_C(1) << 60},
		{"5G", 5000000000u},
		{"1k", 1000},
		{"1M", 1000000},
		{"1e3", 1000},
		{"1E3", 1000},
		{"1E", UINT64_C(1000000000000000000)},
		{"2.5e-1", 1}, /* a fraction of a byte rounds up */
		{"500m", 1},
		{"1500m", 2},
		{"100u", 1},
		{"0.000001", 1},
		{"12.", 12},
		{".5Ki", 512},
		{"18446744073709551615", UINT64_MAX},
	};
	static const char *const bad[] = {
		"",
		"-1",
		"Gi",
		"1GB",
		"1 Gi",
		"1gi",
		"1Gi ",
		"1e",
		"1e+",
		"1.2.3",
		"1Zi",
		"0x10",
		"18446744073709551616",
		"16Ei",
		"1e20",
	};
	(void)state;

	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		uint64_t v = 7;

		if (ferry_kube_parse_quantity(good[i].s, &v))
			fail_msg("'%s' refused", good[i].s);
		if (v != good[i].want)
			fail_msg("'%s': %llu, want %llu", good[i].s, (unsigned long long)v,
				 (unsigned long long)good[i].want);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		uint64_t v;

		if (!ferry_kube_parse_quantity(bad[i], &v))
			fail_msg("'%s' accepted as %llu", bad[i], (unsigned long long)v);
	}
	assert_int_equal(ferry_kube_parse_quantity(NULL, NULL), -1);
}

/* ---- Job outcomes --------------------------------------------------------------------- */

#define JOB_META "\"metadata\":{\"name\":\"d0-copy\",\"namespace\":\"prod\"}"

static struct ferry_copy_state state_of(const char *job, const char *pods)
{
	struct ferry_copy_state st;
	json_t *j = parse(job), *p = pods ? parse(pods) : NULL;

	memset(&st, 0x5a, sizeof st);
	ferry_kube_job_state(j, p, 4096, &st);
	json_decref(j);
	json_decref(p);
	return st;
}

static void test_job_running(void **state)
{
	struct ferry_copy_state st;
	(void)state;

	st = state_of("{" JOB_META ",\"spec\":{\"backoffLimit\":2},\"status\":{\"active\":1}}",
		      NULL);
	assert_int_equal(st.phase, FERRY_COPY_RUNNING);
	assert_int_equal(st.done, 0);
	assert_int_equal(st.total, 4096);
	assert_string_equal(st.message, "");
	/* failures below the limit: the controller makes another pod */
	st = state_of("{" JOB_META ",\"spec\":{\"backoffLimit\":2},\"status\":{\"failed\":2}}",
		      NULL);
	assert_int_equal(st.phase, FERRY_COPY_RUNNING);
	/* no status at all yet */
	st = state_of("{" JOB_META "}", NULL);
	assert_int_equal(st.phase, FERRY_COPY_RUNNING);
	/* SuccessCriteriaMet without Complete, a pod still finishing */
	st = state_of("{" JOB_META ",\"status\":{\"succeeded\":1,\"active\":1,\"conditions\":[{"
		      "\"type\":\"SuccessCriteriaMet\",\"status\":\"True\"}]}}",
		      NULL);
	assert_int_equal(st.phase, FERRY_COPY_RUNNING);
}

static void test_job_done(void **state)
{
	struct ferry_copy_state st;
	(void)state;

	st = state_of("{" JOB_META ",\"status\":{\"succeeded\":1,\"conditions\":[{\"type\":"
		      "\"SuccessCriteriaMet\",\"status\":\"True\"},{\"type\":\"Complete\","
		      "\"status\":\"True\"}]}}",
		      NULL);
	assert_int_equal(st.phase, FERRY_COPY_DONE);
	assert_int_equal(st.done, 4096);
	assert_int_equal(st.total, 4096);
	assert_string_equal(st.message, "");
	/* an older server: succeeded, no pod active, no condition yet */
	st = state_of("{" JOB_META ",\"status\":{\"succeeded\":1}}", NULL);
	assert_int_equal(st.phase, FERRY_COPY_DONE);
	/* a condition that is not True does not count */
	st = state_of("{" JOB_META ",\"status\":{\"active\":1,\"conditions\":[{\"type\":"
		      "\"Complete\",\"status\":\"False\"}]}}",
		      NULL);
	assert_int_equal(st.phase, FERRY_COPY_RUNNING);
}

#define FAILED_JOB                                                                                 \
	"{" JOB_META ",\"spec\":{\"backoffLimit\":1},\"status\":{\"failed\":2,\"conditions\":[{"   \
	"\"type\":\"FailureTarget\",\"status\":\"True\"},{\"type\":\"Failed\",\"status\":"         \
	"\"True\",\"reason\":\"BackoffLimitExceeded\",\"message\":\"Job has reached the "          \
	"specified backoff limit\"}]}}"

static void test_job_failed(void **state)
{
	struct ferry_copy_state st;
	(void)state;

	/* the newest failed pod's message, its last line (FallbackToLogsOnError
	 * gives the log's tail) */
	st = state_of(FAILED_JOB,
		      "[{\"metadata\":{\"name\":\"d0-copy-bbbbb\",\"creationTimestamp\":"
		      "\"2026-01-01T10:00:05Z\"},\"status\":{\"phase\":\"Failed\","
		      "\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":1,"
		      "\"reason\":\"Error\",\"message\":\"copying\\nferry copy: nbd://x: "
		      "connection refused\\n\\n\"}}}]}},"
		      "{\"metadata\":{\"name\":\"d0-copy-aaaaa\",\"creationTimestamp\":"
		      "\"2026-01-01T10:00:00Z\"},\"status\":{\"phase\":\"Failed\","
		      "\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":2,"
		      "\"message\":\"the first try\"}}}]}}]");
	assert_int_equal(st.phase, FERRY_COPY_FAILED);
	assert_int_equal(st.done, 0);
	assert_int_equal(st.total, 4096);
	assert_string_equal(st.message, "ferry copy: nbd://x: connection refused (Job "
					"prod/d0-copy: BackoffLimitExceeded; pod d0-copy-bbbbb "
					"exit code 1)");

	/* a failed pod without a message: its exit code and reason */
	st = state_of(FAILED_JOB, "[{\"metadata\":{\"name\":\"d0-copy-ccccc\"},\"status\":{"
				  "\"containerStatuses\":[{\"state\":{\"terminated\":{"
				  "\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}}]");
	assert_string_equal(st.message,
			    "transfer Job prod/d0-copy failed: BackoffLimitExceeded: Job has "
			    "reached the specified backoff limit; pod d0-copy-ccccc exit code 137 "
			    "(OOMKilled)");

	/* no pods (deleted, or not read): the Job's own words */
	st = state_of(FAILED_JOB, NULL);
	assert_string_equal(st.message, "transfer Job prod/d0-copy failed: BackoffLimitExceeded: "
					"Job has reached the specified backoff limit");
	/* pods that succeeded or still run say nothing about the failure */
	st = state_of(FAILED_JOB, "[{\"metadata\":{\"name\":\"p\"},\"status\":{"
				  "\"containerStatuses\":[{\"state\":{\"terminated\":{"
				  "\"exitCode\":0,\"message\":\"fine\"}}}]}},{\"metadata\":{"
				  "\"name\":\"q\"},\"status\":{\"containerStatuses\":[{\"state\":{"
				  "\"running\":{}}}]}}]");
	assert_string_equal(st.message, "transfer Job prod/d0-copy failed: BackoffLimitExceeded: "
					"Job has reached the specified backoff limit");

	/* over the backoff limit before the controller says Failed */
	st = state_of("{" JOB_META ",\"spec\":{\"backoffLimit\":0},\"status\":{\"failed\":1}}",
		      "[{\"metadata\":{\"name\":\"d0-copy-ddddd\"},\"status\":{"
		      "\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":1,"
		      "\"message\":\"ferry copy: /x: open: No such file or directory\"}}}]}}]");
	assert_int_equal(st.phase, FERRY_COPY_FAILED);
	assert_string_equal(st.message, "ferry copy: /x: open: No such file or directory (Job "
					"prod/d0-copy: BackoffLimitExceeded; pod d0-copy-ddddd "
					"exit code 1)");
	/* a deadline: the Job's reason */
	st = state_of("{" JOB_META ",\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":"
		      "\"True\",\"reason\":\"DeadlineExceeded\",\"message\":\"Job was active "
		      "longer than specified deadline\"}]}}",
		      "[]");
	assert_string_equal(st.message, "transfer Job prod/d0-copy failed: DeadlineExceeded: Job "
					"was active longer than specified deadline");
}

/* ---- a running copy's progress ------------------------------------------------------- */

static void test_running_pod(void **state)
{
	json_t *pods = parse("[{\"metadata\":{\"name\":\"j-aaaaa\",\"creationTimestamp\":\"2026-01-"
			     "01T10:00:00Z\"},"
			     "\"status\":{\"phase\":\"Failed\"}},"
			     "{\"metadata\":{\"name\":\"j-bbbbb\",\"creationTimestamp\":\"2026-01-"
			     "01T10:00:05Z\"},"
			     "\"status\":{\"phase\":\"Running\"}},"
			     "{\"metadata\":{\"name\":\"j-ccccc\",\"creationTimestamp\":\"2026-01-"
			     "01T10:00:09Z\"},"
			     "\"status\":{\"phase\":\"Pending\"}}]");
	json_t *none =
		parse("[{\"metadata\":{\"name\":\"j-x\"},\"status\":{\"phase\":\"Succeeded\"}}]");
	(void)state;

	/* the newest Running one: not the newer Pending pod, not the Failed one */
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(ferry_kube_running_pod(pods), "metadata"), "name")),
		"j-bbbbb");
	assert_null(ferry_kube_running_pod(none));
	assert_null(ferry_kube_running_pod(NULL));
	json_decref(pods);
	json_decref(none);
}

static void test_log_progress(void **state)
{
	static const struct {
		const char *log;
		bool found;
		uint64_t done, total;
	} cases[] = {
		{"progress 0 4194304 0\nprogress 1048576 4194304 1048576\n", true, 1048576,
		 4194304},
		/* an error or report after the last progress line */
		{"progress 10 20 10\nferry copy: nbd://h/e: read: EOF\n", true, 10, 20},
		/* the last line is being written: the one before counts */
		{"progress 10 20 10\nprogress 15 2", true, 10, 20},
		{"progress 10 20 10\r\n", true, 10, 20},
		/* done beyond total is cut */
		{"progress 30 20 30\n", true, 20, 20},
		/* not progress lines */
		{"copied 4.0 MiB in 1.00 s\n", false, 0, 0},
		{"progress 1 2\n", false, 0, 0},
		{"progress -1 2 3\n", false, 0, 0},
		{"progress 1  2 3\n", false, 0, 0},
		{"progress 1 2 3 4\n", false, 0, 0},
		{"xprogress 1 2 3\n", false, 0, 0},
		{"progress 99999999999999999999 2 3\n", false, 0, 0},
		{"progress 1 2 3", false, 0, 0},
		{"", false, 0, 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		uint64_t done = 7, total = 7;
		bool found =
			ferry_kube_log_progress(cases[i].log, strlen(cases[i].log), &done, &total);

		if (found != cases[i].found)
			fail_msg("case %zu: found %d", i, found);
		if (found && (done != cases[i].done || total != cases[i].total))
			fail_msg("case %zu: %llu %llu", i, (unsigned long long)done,
				 (unsigned long long)total);
	}
}

/* ---- the default StorageClass ----------------------------------------------------------- */

static const char *name_of(json_t *o)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
}

static void test_default_class(void **state)
{
	/* standard: the default; gold: an older default; beta-only: the beta
	 * annotation; virt: CDI's default for virtual machine disks; off: "false" */
	json_t *classes = parse(
		"[{\"metadata\":{\"name\":\"off\",\"creationTimestamp\":\"2026-01-03T00:00:00Z\","
		"\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"false\"}}},"
		"{\"metadata\":{\"name\":\"gold\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\","
		"\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}},"
		"{\"metadata\":{\"name\":\"standard\",\"creationTimestamp\":\"2026-01-02T00:00:"
		"00Z\","
		"\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}},"
		"{\"metadata\":{\"name\":\"virt\",\"creationTimestamp\":\"2025-01-01T00:00:00Z\","
		"\"annotations\":{\"storageclass.kubevirt.io/is-default-virt-class\":\"true\"}}}]");
	json_t *ties = parse(
		"[{\"metadata\":{\"name\":\"b\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\","
		"\"annotations\":{\"storageclass.beta.kubernetes.io/is-default-class\":\"true\"}}},"
		"{\"metadata\":{\"name\":\"a\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\","
		"\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}},"
		"{\"metadata\":{\"name\":\"c\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"}}]");
	json_t *none = parse("[{\"metadata\":{\"name\":\"plain\"}}]");
	(void)state;

	/* the newest of two defaults, as the DefaultStorageClass admission */
	assert_string_equal(name_of(ferry_kube_default_storage_class(classes, false)), "standard");
	/* a DataVolume: CDI's virt default first, however old */
	assert_string_equal(name_of(ferry_kube_default_storage_class(classes, true)), "virt");
	/* same time: the lower name; the beta annotation counts */
	assert_string_equal(name_of(ferry_kube_default_storage_class(ties, false)), "a");
	assert_string_equal(name_of(ferry_kube_default_storage_class(ties, true)), "a");
	json_array_remove(ties, 1);
	assert_string_equal(name_of(ferry_kube_default_storage_class(ties, false)), "b");
	assert_null(ferry_kube_default_storage_class(none, false));
	assert_null(ferry_kube_default_storage_class(none, true));
	json_decref(classes);
	json_decref(ties);
	json_decref(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest),	     cmocka_unit_test(test_quantity),
		cmocka_unit_test(test_job_running),  cmocka_unit_test(test_job_done),
		cmocka_unit_test(test_job_failed),   cmocka_unit_test(test_running_pod),
		cmocka_unit_test(test_log_progress), cmocka_unit_test(test_default_class),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
