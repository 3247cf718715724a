/* The scheduler: which waiting VMs start in this pass.
 *
 * A VM's copy runs against its source host (an ESXi host, an oVirt
 * storage domain, an OVA share: the driver names it); every host has a
 * budget counted in disks being copied, shared by all plans of the same
 * provider (default 20, [limits] in ferry.ini, per provider overrides).
 * Every waiting VM that fits starts in the same pass, in the order given
 * (plan order, then VM order). A VM with more disks than the whole budget
 * starts when its host is otherwise idle, so it is never starved. Pure.
 */
#ifndef FERRY_RECONCILER_SCHEDULER_H
#define FERRY_RECONCILER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>

struct ferry_sched_vm {
	const char *provider; /* "namespace/name" of the source Provider */
	const char *host;     /* the budget key within the provider */
	unsigned disks;	      /* disks it copies at once */
	bool running;	      /* already copying: counts against the budget */
	bool start;	      /* out: start it now */
};

struct ferry_sched_limit {
	const char *provider; /* "namespace/name" */
	unsigned disks;	      /* that provider's per-host budget */
};

/* Decide start for every VM that is not running. Returns how many start. */
size_t ferry_schedule(struct ferry_sched_vm *vms, size_t n, unsigned default_budget,
		      const struct ferry_sched_limit *limits, size_t nlimits);

#endif
