/* Target drivers: where migrated VMs go. The reconciler resolves the plan,
 * the maps and the name templates; a target only creates what it is told,
 * idempotently (every call may be repeated after a crash).
 */
#ifndef FERRY_PROVIDERS_TARGET_H
#define FERRY_PROVIDERS_TARGET_H

#include "common/err.h"
#include "providers/driver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ferry_target_config {
	const char *type; /* "local" (kubevirt arrives with its issue) */
	const char *dir;  /* local: the output directory */
};

struct ferry_target_disk {
	const char *name;	   /* volume name (from pvcNameTemplate), RFC 1123 */
	uint64_t size;		   /* bytes, at least the source disk's capacity */
	const char *storage_class; /* from the StorageMap, or NULL */
	const char *volume_mode;   /* "Filesystem" or "Block", or NULL */
	const char *access_mode;   /* "ReadWriteOnce", ..., or NULL */
	const char *bus;	   /* "virtio", "sata", "scsi" */
};

struct ferry_target_nic {
	const char *name;    /* interface name in the VM (from networkNameTemplate or "net-N") */
	const char *type;    /* "pod", "multus" or "ignored" */
	const char *network; /* multus: "namespace/name" of the NetworkAttachmentDefinition */
	const char *mac;     /* preserved MAC address, or NULL */
	const char *model;   /* "virtio", "e1000e" */
};

struct ferry_target_label {
	const char *key, *value;
};

struct ferry_target_vm {
	const char *ns;	  /* target namespace */
	const char *name; /* target VM name */
	const char *plan_ns, *plan_name, *source_vm_id, *source_vm_name;
	unsigned cpus, cores_per_socket;
	uint64_t memory_bytes;
	const char *firmware; /* "bios" or "efi" */
	bool secure_boot;
	bool running; /* start it (source was on, or targetPowerState says so) */
	const struct ferry_target_disk *disks;
	size_t ndisks;
	const struct ferry_target_nic *nics;
	size_t nnics;
	const struct ferry_target_label *labels; /* targetLabels and ferry's own */
	size_t nlabels;
	const struct ferry_target_label *node_selector;
	size_t nnode_selector;
};

struct ferry_target;

#define FERRY_TARGET_DIGEST 65 /* 64 hex digits and a NUL */

struct ferry_target_ops {
	const char *type;
	int (*open)(struct ferry_target **out, const struct ferry_target_config *cfg,
		    struct ferry_err *err);
	/* Make disk i of vm writable and say where: *uri is a file path or an
	 * NBD URI for `ferry copy` (caller frees). An existing volume of the
	 * right size is kept (a resumed copy continues into it). */
	int (*disk_create)(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			   char **uri, struct ferry_err *err);
	/* Create (or replace with identical content) the VM object. */
	int (*vm_create)(struct ferry_target *t, const struct ferry_target_vm *vm,
			 struct ferry_err *err);
	/* Does a VM of that name exist in that namespace? When digest is not
	 * NULL it receives a hex SHA-256 of the VM object as the target holds
	 * it now (so a change made outside ferry shows), or "" when the target
	 * cannot say. */
	int (*vm_exists)(struct ferry_target *t, const char *ns, const char *name, bool *exists,
			 char digest[FERRY_TARGET_DIGEST], struct ferry_err *err);
	/* Remove the VM and its disks (deleteVmOnFailMigration). Absent is fine. */
	int (*vm_delete)(struct ferry_target *t, const char *ns, const char *name,
			 struct ferry_err *err);
	void (*close)(struct ferry_target *t);
};

const struct ferry_target_ops *ferry_target_driver(const char *type, struct ferry_err *err);

#endif
