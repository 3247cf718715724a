/* providers/kubevirt/observe: what the KubeVirt target reads back from a
 * cluster, interpreted without one: the VirtualMachine digest that drift
 * detection compares, Kubernetes quantities, and a transfer Job's outcome
 * with the worker's own error message.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest),	    cmocka_unit_test(test_quantity),
		cmocka_unit_test(test_job_running), cmocka_unit_test(test_job_done),
		cmocka_unit_test(test_job_failed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
