#include "reconciler/itinerary.h"

#include <string.h>

#define P(name, step, req)                                                                         \
	{                                                                                          \
		name, step, req, false, false, false                                               \
	}
#define LOOP_START(name, step, req)                                                                \
	{                                                                                          \
		name, step, req, true, false, false                                                \
	}
#define LOOP_EXIT(name, step, req)                                                                 \
	{                                                                                          \
		name, step, req, false, true, false                                                \
	}
#define LOOP_END(name, step, req)                                                                  \
	{                                                                                          \
		name, step, req, false, false, true                                                \
	}

static const struct ferry_phase cold[] = {
	P("Started", "Initialize", 0),
	P("PreHook", "PreHook", FERRY_IT_PRE_HOOK),
	P("StorePowerState", "Initialize", FERRY_IT_POWER),
	P("PowerOffSource", "Initialize", FERRY_IT_POWER),
	P("WaitForPowerOff", "Initialize", FERRY_IT_POWER),
	P("CreateDataVolumes", "DiskTransfer", 0),
	P("CopyDisks", "DiskTransfer", 0),
	P("ConvertGuest", "ImageConversion", FERRY_IT_CONVERT),
	P("CreateVM", "VirtualMachineCreation", 0),
	P("PostHook", "PostHook", FERRY_IT_POST_HOOK),
	P("Completed", "VirtualMachineCreation", 0),
};

static const struct ferry_phase warm[] = {
	P("Started", "Initialize", 0),
	P("PreHook", "PreHook", FERRY_IT_PRE_HOOK),
	P("CreateInitialSnapshot", "Initialize", 0),
	P("WaitForInitialSnapshot", "Initialize", 0),
	P("StoreInitialSnapshotDeltas", "Initialize", 0),
	P("CreateDataVolumes", "DiskTransfer", 0),
	LOOP_START("CopyDisks", "DiskTransfer", 0),
	LOOP_EXIT("CopyingPaused", "DiskTransfer", 0),
	P("RemovePreviousSnapshot", "DiskTransfer", 0),
	P("CreateSnapshot", "DiskTransfer", 0),
	P("WaitForSnapshot", "DiskTransfer", 0),
	P("StoreSnapshotDeltas", "DiskTransfer", 0),
	LOOP_END("AddCheckpoint", "DiskTransfer", 0),
	P("StorePowerState", "Cutover", FERRY_IT_POWER),
	P("PowerOffSource", "Cutover", FERRY_IT_POWER),
	P("WaitForPowerOff", "Cutover", FERRY_IT_POWER),
	P("RemovePenultimateSnapshot", "Cutover", 0),
	P("CreateFinalSnapshot", "Cutover", 0),
	P("WaitForFinalSnapshot", "Cutover", 0),
	P("AddFinalCheckpoint", "Cutover", 0),
	P("Finalize", "Cutover", 0),
	P("RemoveFinalSnapshot", "Cutover", 0),
	P("ConvertGuest", "ImageConversion", FERRY_IT_CONVERT),
	P("CreateVM", "VirtualMachineCreation", 0),
	P("PostHook", "PostHook", FERRY_IT_POST_HOOK),
	P("Completed", "VirtualMachineCreation", 0),
};

static const struct ferry_phase *table(enum ferry_itinerary_kind kind, size_t *n)
{
	if (kind == FERRY_ITINERARY_WARM) {
		*n = sizeof warm / sizeof *warm;
		return warm;
	}
	*n = sizeof cold / sizeof *cold;
	return cold;
}

static long index_of(enum ferry_itinerary_kind kind, const char *name)
{
	size_t n;
	const struct ferry_phase *t = table(kind, &n);
	for (size_t i = 0; name && i < n; i++)
		if (!strcmp(t[i].name, name))
			return (long)i;
	return -1;
}

const struct ferry_phase *ferry_itinerary_phase(enum ferry_itinerary_kind kind, const char *name)
{
	size_t n;
	const struct ferry_phase *t = table(kind, &n);
	long i = index_of(kind, name);
	return i < 0 ? NULL : &t[i];
}

const char *ferry_itinerary_first(enum ferry_itinerary_kind kind)
{
	size_t n;
	return table(kind, &n)[0].name;
}

const char *ferry_itinerary_next(enum ferry_itinerary_kind kind, unsigned flags,
				 const char *current, bool cutover)
{
	size_t n, k;
	const struct ferry_phase *t = table(kind, &n);
	long i = index_of(kind, current);

	if (i < 0 || (size_t)i + 1 >= n)
		return NULL;
	k = (size_t)i + 1;
	if (t[i].loop_end) {
		/* a round ends: the next starts */
		for (k = 0; !t[k].loop_start; k++)
			;
	} else if (t[i].loop_exit && cutover) {
		/* the cutover: leave the loop after its last row */
		while (!t[k - 1].loop_end)
			k++;
	}
	for (; k < n; k++)
		if ((t[k].requires & flags) == t[k].requires)
			return t[k].name;
	return NULL;
}

size_t ferry_itinerary_list(enum ferry_itinerary_kind kind, unsigned flags, const char **names,
			    size_t n)
{
	size_t count = 0, nt;
	const struct ferry_phase *t = table(kind, &nt);

	/* in table order: one round of a warm loop, then the cutover */
	for (size_t i = 0; i < nt; i++) {
		if ((t[i].requires & flags) != t[i].requires)
			continue;
		if (count < n)
			names[count] = t[i].name;
		count++;
	}
	return count < n ? count : n;
}

bool ferry_itinerary_in_loop(enum ferry_itinerary_kind kind, const char *name)
{
	size_t n;
	const struct ferry_phase *t = table(kind, &n);
	long i = index_of(kind, name);
	bool loop = false;

	for (long k = 0; k <= i; k++) {
		if (t[k].loop_start)
			loop = true;
		if (k == i)
			return loop;
		if (t[k].loop_end)
			loop = false;
	}
	return false;
}

bool ferry_phase_is_final(const char *name)
{
	return !strcmp(name, "Completed") || !strcmp(name, "Failed") || !strcmp(name, "Canceled");
}
