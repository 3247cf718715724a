/* A plan's status files on the status branch (status/<ns>/<plan>.yaml and
 * .md): the Forklift-like `status:` block a machine reads and the table a
 * forge renders. Pure: the caller gathers the VMs from the journal.
 */
#ifndef FERRY_RECONCILER_PLANSTATUS_H
#define FERRY_RECONCILER_PLANSTATUS_H

#include "reconciler/itinerary.h"

#include <stddef.h>
#include <stdint.h>

struct ferry_plan_status_vm {
	const char *id, *name;
	const char *phase;		  /* current phase */
	uint64_t bytes_done, bytes_total; /* of its disk copies */
	const char *started, *ended;	  /* RFC 3339 or NULL/"" */
	const char *error;		  /* "" or NULL when none */
	const char *error_phase;	  /* the phase it failed in */
};

/* Something about one VM that the plan's owner must see: it cannot start,
 * a change to it was refused, its target drifted. */
struct ferry_plan_condition {
	const char *type;     /* "VMBlocked", "ChangeRefused", "TargetDrift", ... */
	const char *category; /* "Critical", "Warning", "Advisory" (Forklift's) */
	const char *vm;	      /* the VM's name */
	const char *message;
};

struct ferry_plan_status {
	const char *ns, *name;
	const char *migration;	   /* the Migration running it, or NULL */
	const char *source_commit; /* desired-state commit acted on */
	enum ferry_itinerary_kind kind;
	unsigned flags; /* FERRY_IT_* common to the plan's VMs */
	const struct ferry_plan_status_vm *vms;
	size_t nvms;
	const struct ferry_plan_condition *conditions;
	size_t nconditions;
};

/* "Pending" (no VM started), "Running", "Succeeded" (all Completed),
 * "Failed" (all final, one Failed), "Canceled" (all final, one Canceled
 * and none Failed). */
const char *ferry_plan_phase(const struct ferry_plan_status *p);

/* The YAML document (Forklift-like status block). Caller frees. */
char *ferry_plan_status_yaml(const struct ferry_plan_status *p);

/* The Markdown summary. Caller frees. */
char *ferry_plan_status_md(const struct ferry_plan_status *p);

#endif
