/* Target types and their drivers. */
#include "providers/target.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

/* providers/local/local.c, providers/kubevirt/target.c */
extern const struct ferry_target_ops ferry_target_local;
extern const struct ferry_target_ops ferry_target_kubevirt;

static const struct {
	const char *type;
	const struct ferry_target_ops *ops; /* NULL: planned, not written yet */
	const char *arrives;		    /* with what, when ops is NULL */
} targets[] = {
	{"kubevirt", &ferry_target_kubevirt, NULL},
	{"local", &ferry_target_local, NULL},
	/* OpenShift Virtualization is KubeVirt and CDI */
	{"openshift", &ferry_target_kubevirt, NULL},
};

#define NTARGETS (sizeof targets / sizeof *targets)

/* "kubevirt, local, openshift" */
static void known_types(char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NTARGETS && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", targets[i].type);
}

const struct ferry_target_ops *ferry_target_driver(const char *type, struct ferry_err *err)
{
	const char *names[NTARGETS];
	const char *near;
	char known[128];

	for (size_t i = 0; i < NTARGETS; i++) {
		names[i] = targets[i].type;
		if (!type || strcmp(type, targets[i].type))
			continue;
		if (!targets[i].ops) {
			ferry_err_set(err, FERRY_E_UNSUPPORTED,
				      "target type '%s' is not implemented yet (arrives with %s)",
				      type, targets[i].arrives);
			return NULL;
		}
		return targets[i].ops;
	}
	known_types(known, sizeof known);
	if (!type || !*type) {
		ferry_err_set(err, FERRY_E_INVALID, "target type is not set (known types: %s)",
			      known);
		return NULL;
	}
	near = ferry_nearest(type, names, NTARGETS);
	ferry_err_set(err, FERRY_E_INVALID, "unknown target type '%s'%s%s%s (known types: %s)",
		      type, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "",
		      known);
	return NULL;
}
