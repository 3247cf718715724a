/* reconciler/scheduler: host budgets shared across plans, counted in disks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reconciler/scheduler.h"

#include <stdio.h>
#include <string.h>

static void test_budget_across_plans(void **state)
{
	/* two plans' VMs on one ESXi host of one provider, budget 4 disks;
	 * 1 disk already copying */
	struct ferry_sched_vm v[] = {
		{"ns/vc", "esx-1", 1, true, false},   /* plan A, running */
		{"ns/vc", "esx-1", 2, false, false},  /* plan A: fits (3) */
		{"ns/vc", "esx-1", 2, false, false},  /* plan B: would be 5 */
		{"ns/vc", "esx-1", 1, false, false},  /* plan B: fits (4) */
		{"ns/vc", "esx-2", 3, false, false},  /* other host: own budget */
		{"ns/vc2", "esx-1", 4, false, false}, /* other provider, same host name */
	};
	(void)state;
	assert_int_equal(ferry_schedule(v, 6, 4, NULL, 0), 4);
	assert_false(v[0].start); /* running VMs are not started again */
	assert_true(v[1].start);
	assert_false(v[2].start);
	assert_true(v[3].start);
	assert_true(v[4].start);
	assert_true(v[5].start);
}

static void test_provider_override_and_big_vm(void **state)
{
	struct ferry_sched_vm v[] = {
		{"ns/ova", "share", 30, false, false}, /* more than the budget: host idle */
		{"ns/ova", "share", 1, false, false},  /* host now over budget */
	};
	struct ferry_sched_limit lim[] = {{"ns/ova", 2}};
	(void)state;
	assert_int_equal(ferry_schedule(v, 2, 20, lim, 1), 1);
	assert_true(v[0].start);
	assert_false(v[1].start);
	/* the next pass, with the big one running: nothing else starts */
	v[0].running = true;
	assert_int_equal(ferry_schedule(v, 2, 20, lim, 1), 0);
}

static void test_every_schedulable_vm_starts(void **state)
{
	/* 500 one-disk VMs on 25 hosts, budget 20: all start in one pass */
	static struct ferry_sched_vm v[500];
	static char hosts[25][16];
	(void)state;
	for (int h = 0; h < 25; h++)
		snprintf(hosts[h], sizeof hosts[h], "esx-%d", h);
	for (int i = 0; i < 500; i++)
		v[i] = (struct ferry_sched_vm){"ns/vc", hosts[i % 25], 1, false, false};
	assert_int_equal(ferry_schedule(v, 500, 20, NULL, 0), 500);
	/* 26 per host: 6 per host wait */
	static struct ferry_sched_vm w[650];
	for (int i = 0; i < 650; i++)
		w[i] = (struct ferry_sched_vm){"ns/vc", hosts[i % 25], 1, false, false};
	assert_int_equal(ferry_schedule(w, 650, 20, NULL, 0), 500);
	assert_false(w[649].start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_across_plans),
		cmocka_unit_test(test_provider_override_and_big_vm),
		cmocka_unit_test(test_every_schedulable_vm_starts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
