#include "reconciler/scheduler.h"

#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

struct load {
	const char *provider, *host;
	unsigned disks, budget;
};

static struct load *find_load(struct load *l, size_t n, const struct ferry_sched_vm *vm)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].provider, vm->provider) && !strcmp(l[i].host, vm->host))
			return &l[i];
	return NULL;
}

static unsigned budget_of(const char *provider, unsigned def, const struct ferry_sched_limit *lim,
			  size_t nlim)
{
	for (size_t i = 0; i < nlim; i++)
		if (!strcmp(lim[i].provider, provider))
			return lim[i].disks;
	return def;
}

size_t ferry_schedule(struct ferry_sched_vm *vms, size_t n, unsigned default_budget,
		      const struct ferry_sched_limit *limits, size_t nlimits)
{
	struct load *l = ferry_xcalloc(n ? n : 1, sizeof *l);
	size_t nl = 0, started = 0;

	/* one load per (provider, host), starting with what already runs */
	for (size_t i = 0; i < n; i++) {
		struct load *x = find_load(l, nl, &vms[i]);
		if (!x) {
			x = &l[nl++];
			x->provider = vms[i].provider;
			x->host = vms[i].host;
			x->budget = budget_of(vms[i].provider, default_budget, limits, nlimits);
		}
		vms[i].start = false;
		if (vms[i].running)
			x->disks += vms[i].disks;
	}
	for (size_t i = 0; i < n; i++) {
		struct load *x;
		if (vms[i].running)
			continue;
		x = find_load(l, nl, &vms[i]);
		if (x->disks + vms[i].disks <= x->budget || x->disks == 0) {
			x->disks += vms[i].disks;
			vms[i].start = true;
			started++;
		}
	}
	free(l);
	return started;
}
