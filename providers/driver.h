/* Provider drivers: what the reconciler asks of a source and of a target.
 *
 * A driver is a table of operations (nbdkit's plugin table is the model);
 * providers/registry.c maps a Provider's spec.type to its table. Everything
 * that crosses this boundary is a ferry struct: libxml2 nodes, curl handles
 * and JSON objects stay inside the driver.
 *
 * Conventions: functions return 0 or -1 with err set (common/err.h).
 * Content problems of what a provider serves (a malformed OVF, two OVFs in
 * one folder) are findings, not errors: the inventory lists what it could
 * read and says what it could not.
 */
#ifndef FERRY_PROVIDERS_DRIVER_H
#define FERRY_PROVIDERS_DRIVER_H

#include "common/err.h"
#include "schema/finding.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- inventory model (what a source has) -------------------------------- */

struct ferry_vm_disk {
	char *id;	   /* stable within the VM (OVF: the Disk's ovf:diskId) */
	char *file;	   /* where the bytes are (OVA: member name in the archive or file path) */
	char *format;	   /* "vmdk-stream", "vmdk", "raw", "qcow2" */
	uint64_t capacity; /* virtual size in bytes */
	char *storage;	   /* the source storage name a StorageMap maps */
	bool shared;
	char *bus; /* "scsi", "ide", "sata", "virtio", or NULL */
};

struct ferry_vm_nic {
	char *name;    /* "Network adapter 1" */
	char *network; /* the source network name a NetworkMap maps */
	char *mac;     /* "00:50:56:..." lower case, or NULL */
	char *model;   /* "e1000", "vmxnet3", "virtio", or NULL */
};

struct ferry_vm {
	char *id;      /* unique within the provider (OVA: derived from the path and name) */
	char *name;    /* as the source names it */
	unsigned cpus; /* virtual CPUs */
	unsigned cores_per_socket; /* 0: unknown */
	uint64_t memory_bytes;
	char *firmware; /* "bios" or "efi" */
	bool secure_boot;
	char *power_state; /* "On", "Off" (OVA: always "Off") */
	char *os_type;	   /* as the source describes the guest, or NULL */
	char *source;	   /* where it came from (OVA: the .ova or .ovf path) */
	char *host;	   /* the budget key within the provider (vSphere: its ESXi host);
			    * NULL: the provider as a whole (OVA: the share) */
	struct ferry_vm_disk *disks;
	size_t ndisks;
	struct ferry_vm_nic *nics;
	size_t nnics;
	/* OVA: which product made it ("VMware", "VirtualBox", "Xen", "oVirt",
	 * "Unknown"; Forklift's ovaSource, which its export_source rule reads);
	 * NULL for other providers. */
	char *export_source;
};

struct ferry_inventory {
	struct ferry_vm *vms; /* sorted by name, then id */
	size_t nvms, cap;
	char **networks; /* source network names seen, sorted, unique */
	size_t nnetworks;
	char **storages; /* source storage names, sorted, unique */
	size_t nstorages;
	/* ferry_inventory_index's lookup tables (indices into vms, sorted by
	 * id and by name), or NULL: ferry_inventory_find then searches */
	size_t *by_id, *by_name;
};

void ferry_inventory_release(struct ferry_inventory *inv);
const struct ferry_vm *ferry_inventory_find(const struct ferry_inventory *inv, const char *id,
					    const char *name);
/* Build the lookup tables that make ferry_inventory_find O(log n) (a plan
 * of thousands of VMs resolves each against the whole inventory). Call
 * once the inventory is complete; changing vms afterwards needs a new
 * call. */
void ferry_inventory_index(struct ferry_inventory *inv);

/* The VM as JSON, the shape `ferry inventory -o json` prints and policy
 * rules read (Forklift's inventory field names where they exist). Caller
 * frees. */
char *ferry_vm_to_json(const struct ferry_vm *vm);

/* ---- sources --------------------------------------------------------------- */

/* Where a driver may keep files and whom it is (from ferry.ini and the
 * Provider); strings are borrowed for the driver's lifetime. */
struct ferry_source_config {
	const char *ns, *name; /* the Provider */
	const char *type;      /* spec.type */
	const char *url;       /* spec.url */
	const char *work_dir;  /* private scratch directory (exists) */
};

struct ferry_source;

/* A disk made readable as an NBD endpoint for `ferry copy`. */
struct ferry_disk_access {
	char *uri;     /* nbd+unix:///?socket=... or a file path */
	uint64_t size; /* bytes the endpoint serves */
	void *priv;    /* the driver's (server pid, socket dir) */
};

struct ferry_source_ops {
	const char *type;
	int (*open)(struct ferry_source **out, const struct ferry_source_config *cfg,
		    struct ferry_err *err);
	/* Everything the provider has now. */
	int (*inventory)(struct ferry_source *s, struct ferry_inventory *inv,
			 struct ferry_findings *f, struct ferry_err *err);
	/* Serve disk i of vm read-only; the caller copies from a->uri, then
	 * calls disk_close (which stops any server it started). */
	int (*disk_open)(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
			 struct ferry_disk_access *a, struct ferry_err *err);
	void (*disk_close)(struct ferry_source *s, struct ferry_disk_access *a);
	void (*close)(struct ferry_source *s);
};

/* The driver for a Provider type, or NULL (the message of err says which
 * types exist, and whether the one asked for is planned). */
const struct ferry_source_ops *ferry_source_driver(const char *type, struct ferry_err *err);

/* For tests and benchmarks: make ops the driver of ops->type for the rest
 * of the process, ahead of the built-in drivers (the schema accepts only
 * Forklift's provider types, so a fake source takes one of their names).
 * Call before any engine opens; not thread-safe; ops is borrowed and must
 * outlive every use. Registering a type again replaces it. Returns 0, or
 * -1 when the table (8 types) is full. */
int ferry_source_driver_register(const struct ferry_source_ops *ops);

#endif
