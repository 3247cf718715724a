/* reconciler/itinerary: the phase tables, predicates and the warm loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reconciler/itinerary.h"

#include <string.h>

static void expect(enum ferry_itinerary_kind kind, unsigned flags, const char *const *want,
		   size_t nwant)
{
	const char *got[64];
	size_t n = ferry_itinerary_list(kind, flags, got, 64);
	if (n != nwant)
		fail_msg("%zu phases, expected %zu (first difference at %s)", n, nwant,
			 n ? got[n < nwant ? n - 1 : nwant - 1] : "-");
	for (size_t i = 0; i < n; i++)
		assert_string_equal(got[i], want[i]);
}

static void test_cold_full(void **state)
{
	static const char *const want[] = {
		"Started",	   "PreHook",		"StorePowerState", "PowerOffSource",
		"WaitForPowerOff", "CreateDataVolumes", "CopyDisks",	   "ConvertGuest",
		"CreateVM",	   "PostHook",		"Completed",
	};
	(void)state;
	expect(FERRY_ITINERARY_COLD,
	       FERRY_IT_PRE_HOOK | FERRY_IT_POST_HOOK | FERRY_IT_POWER | FERRY_IT_CONVERT, want,
	       sizeof want / sizeof *want);
}

static void test_cold_ova(void **state)
{
	/* an OVA: no power operations, no hooks, no conversion asked */
	static const char *const want[] = {"Started", "CreateDataVolumes", "CopyDisks", "CreateVM",
					   "Completed"};
	(void)state;
	expect(FERRY_ITINERARY_COLD, 0, want, sizeof want / sizeof *want);
	assert_string_equal(ferry_itinerary_next(FERRY_ITINERARY_COLD, 0, "Started", false),
			    "CreateDataVolumes");
	assert_null(ferry_itinerary_next(FERRY_ITINERARY_COLD, 0, "Completed", false));
	assert_null(ferry_itinerary_next(FERRY_ITINERARY_COLD, 0, "NoSuchPhase", false));
}

static void test_warm_loop(void **state)
{
	unsigned f = FERRY_IT_POWER | FERRY_IT_CONVERT;
	enum ferry_itinerary_kind w = FERRY_ITINERARY_WARM;
	static const char *const want[] = {
		"Started",
		"CreateInitialSnapshot",
		"WaitForInitialSnapshot",
		"StoreInitialSnapshotDeltas",
		"CreateDataVolumes",
		"CopyDisks",
		"CopyingPaused",
		"RemovePreviousSnapshot",
		"CreateSnapshot",
		"WaitForSnapshot",
		"StoreSnapshotDeltas",
		"AddCheckpoint",
		"StorePowerState",
		"PowerOffSource",
		"WaitForPowerOff",
		"RemovePenultimateSnapshot",
		"CreateFinalSnapshot",
		"WaitForFinalSnapshot",
		"AddFinalCheckpoint",
		"Finalize",
		"RemoveFinalSnapshot",
		"ConvertGuest",
		"CreateVM",
		"Completed",
	};
	(void)state;

	/* a round ends and the next starts, cutover or not */
	assert_string_equal(ferry_itinerary_next(w, f, "AddCheckpoint", false), "CopyDisks");
	assert_string_equal(ferry_itinerary_next(w, f, "AddCheckpoint", true), "CopyDisks");
	/* after a round's copy: the next round, or with cutover the power phases
	 * (Forklift leaves the loop at CopyingPaused: no snapshot that is never
	 * copied) */
	assert_string_equal(ferry_itinerary_next(w, f, "CopyingPaused", false),
			    "RemovePreviousSnapshot");
	assert_string_equal(ferry_itinerary_next(w, f, "CopyingPaused", true), "StorePowerState");
	assert_string_equal(ferry_itinerary_next(w, 0, "CopyingPaused", true),
			    "RemovePenultimateSnapshot");
	/* cutover never skips the middle of a round */
	assert_string_equal(ferry_itinerary_next(w, f, "CopyDisks", true), "CopyingPaused");
	assert_string_equal(ferry_itinerary_next(w, f, "CreateSnapshot", true), "WaitForSnapshot");
	expect(w, f, want, sizeof want / sizeof *want);
	/* the loop, where a cutover can still come */
	assert_false(ferry_itinerary_in_loop(w, "CreateDataVolumes"));
	assert_true(ferry_itinerary_in_loop(w, "CopyDisks"));
	assert_true(ferry_itinerary_in_loop(w, "StoreSnapshotDeltas"));
	assert_true(ferry_itinerary_in_loop(w, "AddCheckpoint"));
	assert_false(ferry_itinerary_in_loop(w, "StorePowerState"));
	assert_false(ferry_itinerary_in_loop(w, "NoSuchPhase"));
	assert_false(ferry_itinerary_in_loop(FERRY_ITINERARY_COLD, "CopyDisks"));
}

static void test_steps(void **state)
{
	(void)state;
	assert_string_equal(ferry_itinerary_phase(FERRY_ITINERARY_COLD, "CopyDisks")->step,
			    "DiskTransfer");
	assert_string_equal(ferry_itinerary_phase(FERRY_ITINERARY_WARM, "Finalize")->step,
			    "Cutover");
	assert_string_equal(ferry_itinerary_phase(FERRY_ITINERARY_COLD, "ConvertGuest")->step,
			    "ImageConversion");
	assert_null(ferry_itinerary_phase(FERRY_ITINERARY_COLD, "CreateFinalSnapshot"));
	assert_true(ferry_phase_is_final("Canceled"));
	assert_false(ferry_phase_is_final("CopyDisks"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cold_full),
		cmocka_unit_test(test_cold_ova),
		cmocka_unit_test(test_warm_loop),
		cmocka_unit_test(test_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
