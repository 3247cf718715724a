#include "driver.h"

#include "ova/ova.h"
#include "vsphere/vsphere.h"

#include <string.h>

static bool listed(const char *type, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(type, names[i]) == 0)
			return true;
	return false;
}

/* Drivers added by a test or benchmark program; the product adds none. */
static const struct ferry_source_ops *registered[8];

int ferry_source_driver_register(const struct ferry_source_ops *ops)
{
	size_t n = sizeof registered / sizeof *registered;

	for (size_t i = 0; i < n; i++) {
		if (!registered[i] || strcmp(registered[i]->type, ops->type) == 0) {
			registered[i] = ops;
			return 0;
		}
	}
	return -1;
}

const struct ferry_source_ops *ferry_source_driver(const char *type, struct ferry_err *err)
{
	/* Forklift's provider types that arrive with their own issues. */
	static const char *const planned[] = {"ovirt", "openstack", "openshift"};
	/* Forklift's other types, which ferry does not plan. */
	static const char *const others[] = {"ec2", "hyperv", "nutanix"};

	if (!type) {
		ferry_err_set(err, FERRY_E_INVALID, "provider type missing");
		return NULL;
	}
	for (size_t i = 0; i < sizeof registered / sizeof *registered && registered[i]; i++)
		if (strcmp(type, registered[i]->type) == 0)
			return registered[i];
	if (strcmp(type, ferry_ova_source_ops.type) == 0)
		return &ferry_ova_source_ops;
	if (strcmp(type, ferry_vsphere_source_ops.type) == 0)
		return &ferry_vsphere_source_ops;
	if (listed(type, planned, sizeof planned / sizeof *planned))
		ferry_err_set(err, FERRY_E_UNSUPPORTED,
			      "provider type '%s' is not implemented yet (arrives with its own "
			      "issue)",
			      type);
	else if (listed(type, others, sizeof others / sizeof *others))
		ferry_err_set(err, FERRY_E_UNSUPPORTED,
			      "provider type '%s' is Forklift's, not one ferry migrates from (ova, "
			      "vsphere, ovirt, openstack, openshift)",
			      type);
	else
		ferry_err_set(err, FERRY_E_INVALID,
			      "unknown provider type '%s' (known: ova, vsphere, ovirt, openstack, "
			      "openshift)",
			      type);
	return NULL;
}
