/* reconciler/planstatus: plan phase, the YAML status block (parsed back with
 * ferry's own YAML loader) and the Markdown table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reconciler/planstatus.h"
#include "schema/node.h"

#include <stdlib.h>
#include <string.h>

static const struct ferry_plan_status_vm vms[] = {
	{"vm-1", "web-1", "Completed", 100, 100, "2026-11-22T10:00:00Z", "2026-11-22T10:02:05Z",
	 NULL, NULL},
	{"vm-2", "db|1", "CopyDisks", 1 << 29, 1u << 31, "2026-11-22T10:00:00Z", NULL, NULL, NULL},
	{"vm-3", "cache", "Failed", 0, 0, "2026-11-22T10:00:00Z", "2026-11-22T10:00:07Z",
	 "source disk \"d1\" unreadable", "CopyDisks"},
	{"vm-4", "new", NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static struct ferry_plan_status plan(size_t n)
{
	struct ferry_plan_status p = {
		.ns = "ns",
		.name = "wave-1",
		.migration = "wave-1-run",
		.source_commit = "0123456789abcdef0123",
		.kind = FERRY_ITINERARY_COLD,
		.flags = FERRY_IT_POWER | FERRY_IT_CONVERT,
		.vms = vms,
		.nvms = n,
	};
	return p;
}

static void test_phase(void **state)
{
	struct ferry_plan_status p = plan(4);
	struct ferry_plan_status_vm done[2] = {vms[0], vms[0]};
	struct ferry_plan_status_vm failed[2] = {vms[0], vms[2]};
	struct ferry_plan_status_vm waiting[1] = {vms[3]};
	(void)state;

	assert_string_equal(ferry_plan_phase(&p), "Running");
	p.vms = done;
	p.nvms = 2;
	assert_string_equal(ferry_plan_phase(&p), "Succeeded");
	p.vms = failed;
	assert_string_equal(ferry_plan_phase(&p), "Failed");
	p.vms = waiting;
	p.nvms = 1;
	assert_string_equal(ferry_plan_phase(&p), "Pending");
}

static void test_yaml(void **state)
{
	struct ferry_plan_status p = plan(4);
	char *y = ferry_plan_status_yaml(&p);
	(void)state;

	assert_non_null(strstr(y, "kind: Plan\n"));
	assert_non_null(strstr(y, "  phase: Running\n"));
	assert_non_null(strstr(y, "  sourceCommit: \"0123456789abcdef0123\"\n"));
	/* vm-2 copies: Initialize done, DiskTransfer running with its bytes,
	 * ImageConversion pending */
	const char *v2 = strstr(y, "  - id: \"vm-2\"");
	assert_non_null(v2);
	assert_non_null(strstr(v2, "    - name: Initialize\n      phase: Completed\n"
				   "    - name: DiskTransfer\n      phase: Running\n"
				   "      progress:\n        completed: 536870912\n"
				   "        total: 2147483648\n"
				   "    - name: ImageConversion\n      phase: Pending\n"));
	/* vm-3 failed in CopyDisks: its DiskTransfer step says Failed */
	const char *v3 = strstr(y, "  - id: \"vm-3\"");
	assert_non_null(strstr(v3, "    error:\n      phase: \"CopyDisks\"\n      reasons:\n"
				   "      - \"source disk \\\"d1\\\" unreadable\"\n"));
	assert_non_null(strstr(v3, "    - name: DiskTransfer\n      phase: Failed\n"));
	/* vm-1 completed: every step Completed */
	const char *v1 = strstr(y, "  - id: \"vm-1\"");
	const char *v1end = v2;
	for (const char *q = strstr(v1, "    - name: "); q && q < v1end;
	     q = strstr(q + 1, "    - name: "))
		assert_non_null(strstr(q, "phase: Completed"));
	/* vm-4 never started */
	assert_non_null(strstr(y, "  - id: \"vm-4\"\n    name: \"new\"\n    phase: Pending\n"));

	/* it is YAML, and reads back as written */
	struct ferry_doc **docs = NULL;
	size_t ndocs = 0;
	struct ferry_err err = FERRY_ERR_INIT;
	assert_int_equal(
		ferry_yaml_parse("plan.yaml", y, strlen(y), &docs, &ndocs, NULL, NULL, &err), 0);
	assert_int_equal(ndocs, 1);
	const struct ferry_node *st = ferry_map_get(docs[0]->root, "status");
	const struct ferry_node *list = ferry_map_get(st, "vms");
	assert_int_equal(list->u.seq.len, 4);
	const struct ferry_node *e = ferry_map_get(list->u.seq.items[2], "error");
	const struct ferry_node *r = ferry_map_get(e, "reasons");
	assert_string_equal(r->u.seq.items[0]->u.scalar.text, "source disk \"d1\" unreadable");
	ferry_docs_free(docs, ndocs);
	free(y);
}

static void test_md(void **state)
{
	struct ferry_plan_status p = plan(4);
	char *m = ferry_plan_status_md(&p);
	(void)state;

	assert_non_null(strstr(m, "# Plan ns/wave-1: Running\n"));
	assert_non_null(strstr(m, "commit `0123456789ab`"));
	assert_non_null(strstr(
		m, "| web-1 | Completed | 100% of 0.0 GiB | 2026-11-22T10:00:00Z | 2m05s |  |\n"));
	assert_non_null(strstr(m, "| db\\|1 | CopyDisks | 25% of 2.0 GiB |"));
	assert_non_null(strstr(m, "| 7s | source disk \"d1\" unreadable |\n"));
	free(m);
}

static void test_conditions(void **state)
{
	static const struct ferry_plan_condition conds[] = {
		{"VMBlocked", "Critical", "app-7", "NIC on network \"DMZ\", which is not mapped"},
		{"TargetDrift", "Warning", "web|2", "deleted outside ferry"},
	};
	struct ferry_plan_status p = plan(1);
	char *y, *m;
	(void)state;

	p.conditions = conds;
	p.nconditions = 2;
	y = ferry_plan_status_yaml(&p);
	assert_non_null(strstr(y, "  - type: VMBlocked\n    status: \"True\"\n    category: "
				  "Critical\n    vm: \"app-7\"\n    message: \"NIC on network "
				  "\\\"DMZ\\\", which is not mapped\"\n"));
	assert_non_null(strstr(y, "  - type: TargetDrift\n"));
	m = ferry_plan_status_md(&p);
	assert_non_null(strstr(m, "| Category | Condition | VM | Message |\n"));
	assert_non_null(strstr(m, "| Warning | TargetDrift | web\\|2 | deleted outside ferry |\n"));
	free(y);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phase),
		cmocka_unit_test(test_yaml),
		cmocka_unit_test(test_md),
		cmocka_unit_test(test_conditions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
