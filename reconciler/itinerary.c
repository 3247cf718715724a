#include "reconciler/itinerary.h"

#include <string.h>

#define P(name, step, req)                                                                         \
	{                                                                                          \
		name, step, req, false, false                                                      \
	}
#define LOOP_START(name, step, req)                                                                \
	{                                                                                          \
		name, step, req, true, false                                                       \
	}
#define LOOP_END(name, step, req)                                                                  \
	{                                                                                          \
		name, step, req, false, true                                                       \
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
	P("CopyingPaused", "DiskTransfer", 0),
	P("RemovePreviousSnapshot", "DiskTransfer", 0),
	P("CreateSnapshot", "DiskTransfer", 0),
	P("WaitForSnapshot", "DiskTransfer", 0),
	P("StoreSnapshotDeltas", "DiskTransfer", 0),
	LOOP_END("AddCheckpoint", "DiskTransfer", 0),
	P("StorePowerState", "Cutover", FERRY_IT_POWER),
	P("PowerOffSource", "Cutover", FERRY_IT_POWER),
	P("WaitForPowerOff", "Cutover", FERRY_IT_POWER),
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
	size_t n;
	const struct ferry_phase *t = table(kind, &n);
	long i = index_of(kind, current);

	if (i < 0 || (size_t)i + 1 >= n)
		return NULL;
	if (t[i].loop_end && !cutover) {
		for (size_t k = 0; k < n; k++)
			if (t[k].loop_start)
				return t[k].name;
	}
	for (size_t k = (size_t)i + 1; k < n; k++)
		if ((t[k].requires & flags) == t[k].requires)
			return t[k].name;
	return NULL;
}

size_t ferry_itinerary_list(enum ferry_itinerary_kind kind, unsigned flags, const char **names,
			    size_t n)
{
	size_t count = 0;
	for (const char *p = ferry_itinerary_first(kind); p;
	     p = ferry_itinerary_next(kind, flags, p, true)) {
		if (count < n)
			names[count] = p;
		count++;
	}
	return count < n ? count : n;
}

bool ferry_phase_is_final(const char *name)
{
	return !strcmp(name, "Completed") || !strcmp(name, "Failed") || !strcmp(name, "Canceled");
}
