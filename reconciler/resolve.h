/* Resolving a plan's VM: from what Git says (the Plan, its maps, its
 * templates) and what the source has (the inventory VM) to the exact target
 * VM ferry will create. Pure: no I/O, so the diff and its golden tests run
 * without servers.
 *
 * A VM that cannot be resolved (not in the inventory, a disk on storage
 * the StorageMap leaves out, a network the NetworkMap leaves out, a name
 * template that fails) gets a problem: the diff shows it as blocked and the
 * plan's status says why, instead of the VM failing halfway.
 */
#ifndef FERRY_RECONCILER_RESOLVE_H
#define FERRY_RECONCILER_RESOLVE_H

#include "providers/driver.h"
#include "providers/target.h"
#include "reconciler/itinerary.h"
#include "schema/model.h"

#include <stdbool.h>
#include <stddef.h>

struct ferry_run_vm {
	const struct ferry_plan_vm *pvm; /* as the plan lists it */
	const struct ferry_vm *src;	 /* the inventory's VM, or NULL */
	const char *id;			 /* source id: the inventory's, or as written */
	const char *name;		 /* source name */
	enum ferry_itinerary_kind kind;
	unsigned flags;		    /* FERRY_IT_* */
	struct ferry_target_vm tvm; /* what the target gets (valid when !problem) */
	char hash[17];		    /* of everything the mapping decides: a change shows */
	char *problem;		    /* why it cannot run, or NULL */
	char **owned;		    /* strings the above point into */
	size_t nowned, owned_cap;
};

/* Warm or cold: spec.type (cold, warm; live and conversion run cold
 * here), else the deprecated spec.warm. */
enum ferry_itinerary_kind ferry_plan_kind(const struct ferry_plan *plan);

/* Resolve VM i of plan (of model m) against inv, for a source whose driver
 * can (power) or cannot change power state. */
void ferry_resolve_vm(const struct ferry_model *m, const struct ferry_plan *plan, size_t i,
		      const struct ferry_inventory *inv, bool power, struct ferry_run_vm *out);

void ferry_run_vm_release(struct ferry_run_vm *v);

#endif
