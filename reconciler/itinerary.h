/* The per-VM itinerary (DESIGN.md section 6): Forklift's phase names held
 * as rows of a table, each with the pipeline step it belongs to and the
 * predicate flags that include or skip it. Pure: no I/O; the executor maps
 * a phase name to its handler.
 */
#ifndef FERRY_RECONCILER_ITINERARY_H
#define FERRY_RECONCILER_ITINERARY_H

#include <stdbool.h>
#include <stddef.h>

enum ferry_itinerary_kind {
	FERRY_ITINERARY_COLD,
	FERRY_ITINERARY_WARM,
};

/* What a VM's itinerary depends on. */
enum {
	FERRY_IT_PRE_HOOK = 1 << 0,  /* the plan gives the VM a PreHook */
	FERRY_IT_POST_HOOK = 1 << 1, /* ... a PostHook */
	FERRY_IT_POWER = 1 << 2,     /* the source can report and change power state */
	FERRY_IT_CONVERT = 1 << 3,   /* guest conversion runs (not skipGuestConversion) */
};

struct ferry_phase {
	const char *name;  /* Forklift's phase name */
	const char *step;  /* pipeline step: Initialize, PreHook, DiskTransfer, ... */
	unsigned requires; /* flags that must all be set for the phase to run */
	bool loop_start;   /* warm: where a precopy round starts again */
	bool loop_exit;	   /* warm: where the cutover leaves the loop (Forklift's
			    * CopyingPaused: after a round's copy, before the next snapshot) */
	bool loop_end;	   /* warm: the last phase of a precopy round */
};

/* The phase named name in kind's table, or NULL. */
const struct ferry_phase *ferry_itinerary_phase(enum ferry_itinerary_kind kind, const char *name);

/* The first phase ("Started"). */
const char *ferry_itinerary_first(enum ferry_itinerary_kind kind);

/* The phase after current for a VM with flags. A warm VM at the end of a
 * precopy round starts the next; at the loop's exit (CopyingPaused),
 * cutover says whether it leaves the loop for the cutover phases. NULL
 * after "Completed", or when current is unknown. */
const char *ferry_itinerary_next(enum ferry_itinerary_kind kind, unsigned flags,
				 const char *current, bool cutover);

/* Every phase a VM with flags passes through, one precopy round for warm,
 * in order; returns how many were written to names (at most n). */
size_t ferry_itinerary_list(enum ferry_itinerary_kind kind, unsigned flags, const char **names,
			    size_t n);

/* Is phase name inside the warm precopy loop (a cutover can still come)? */
bool ferry_itinerary_in_loop(enum ferry_itinerary_kind kind, const char *name);

/* Final phases: Completed, Failed, Canceled. */
bool ferry_phase_is_final(const char *name);

#endif
