/* The diff: what a reconcile pass does to a plan, worked out from the
 * desired state (the Plan, its Migration, the resolved VMs), the journal
 * (what ferry already did) and what was observed on the target. Pure: the
 * caller gathers the inputs, so `ferry diff` and its golden tests show
 * exactly what `ferry reconcile` would do.
 *
 * Semantics (Forklift's, read from Git):
 *   - a Migration that references the plan runs it; with several, the one
 *     written last (in file order) runs and the older runs are superseded;
 *   - no Migration: the run in progress, if any, is canceled;
 *   - a VM in the Migration's spec.cancel is canceled (or never started);
 *   - a VM that completed in an earlier run of the plan is skipped;
 *   - a warm VM between precopies is cut over once spec.cutover or its
 *     vmCutover time has passed (a past time means now);
 *   - spec.archived: the run's temporary objects are removed, VMs still
 *     running are canceled, nothing new starts;
 *   - a change to a running VM's mapping in Git is refused: the VM holds
 *     in its phase (a copy under way finishes) until the change is
 *     reverted or the Migration cancels it; a running VM removed from the
 *     plan holds the same way;
 *   - a VM whose target was deleted after it completed migrates again in
 *     a re-run (a new Migration name);
 *   - a completed VM whose target VM is gone is reported as drift, never
 *     recreated behind the user's back.
 */
#ifndef FERRY_RECONCILER_DIFF_H
#define FERRY_RECONCILER_DIFF_H

#include "reconciler/resolve.h"
#include "reconciler/scheduler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ferry_action_kind {
	FERRY_ACT_START,    /* begin the VM's itinerary now */
	FERRY_ACT_WAIT,	    /* would start, but its source host's budget is spent */
	FERRY_ACT_CONTINUE, /* carry on from its current phase */
	FERRY_ACT_CUTOVER,  /* warm: leave the precopy loop */
	FERRY_ACT_CANCEL,   /* stop it and clean up its target objects */
	FERRY_ACT_SKIP,	    /* completed by an earlier run */
	FERRY_ACT_BLOCKED,  /* cannot start: see detail */
	FERRY_ACT_REFUSE,   /* a change to a running VM that is not applied */
	FERRY_ACT_DRIFT,    /* the migrated target VM changed outside ferry */
	FERRY_ACT_ARCHIVE,  /* remove the plan's temporary objects */
};

const char *ferry_action_name(enum ferry_action_kind k);

struct ferry_action {
	enum ferry_action_kind kind;
	const char *plan_ns, *plan_name;
	const char *migration; /* the run the action belongs to */
	const char *vm_id, *vm_name;
	const char *phase; /* the VM's phase now, or NULL */
	char *detail;	   /* one line for people */
	size_t vm;	   /* index into the plan's resolved VMs, or SIZE_MAX */
	/* for the scheduler */
	const char *provider, *host;
	unsigned disks;
	bool warm; /* its itinerary (for which phases copy) */
};

struct ferry_actions {
	struct ferry_action *v;
	size_t n, cap;
};

void ferry_actions_release(struct ferry_actions *a);

/* One journal row of the plan (any run). */
struct ferry_diff_row {
	const char *migration, *vm_id, *vm_name, *phase;
	const char *hash;    /* the mapping it started with, or NULL */
	bool target_missing; /* observed: Completed, and its target VM is gone */
	bool target_changed; /* observed: Completed, and its target VM is not what ferry made */
};

struct ferry_diff_plan {
	const struct ferry_plan *plan;
	const struct ferry_migration *mig; /* the Migration that runs it, or NULL */
	const char *provider;		   /* "namespace/name" of its source */
	const struct ferry_run_vm *vms;	   /* the plan's VMs, resolved, in plan order */
	size_t nvms;
	const struct ferry_diff_row *rows;
	size_t nrows;
	bool archive_done; /* its temporary objects are already gone */
};

/* The Migration that runs plan p: the last one (in file order) that
 * references it, or NULL. */
const struct ferry_migration *ferry_plan_migration(const struct ferry_model *m,
						   const struct ferry_plan *p);

/* Append the plan's actions to out (before scheduling: every VM that could
 * start is a START). now is Unix seconds, for cutover times. */
void ferry_diff_plan(const struct ferry_diff_plan *p, int64_t now, struct ferry_actions *out);

/* Turn the STARTs that do not fit their source host's budget into WAITs.
 * CONTINUEs of VMs copying disks count against the budget. */
void ferry_diff_schedule(struct ferry_actions *a, unsigned default_budget,
			 const struct ferry_sched_limit *limits, size_t nlimits);

/* Is phase one where a VM of that itinerary copies disks (counts against
 * its host's budget)? */
bool ferry_phase_copies(enum ferry_itinerary_kind kind, const char *phase);

/* `ferry diff` output: the text people read, and JSON. Caller frees. */
char *ferry_actions_text(const struct ferry_actions *a);
char *ferry_actions_json(const struct ferry_actions *a);

#endif
