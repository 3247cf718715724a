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

struct ferry_target_label {
	const char *key, *value;
};

struct ferry_target_config {
	const char *type; /* "local" or "kubevirt" */
	const char *dir;  /* local: the output directory */
	/* kubevirt (ferry.ini [target]; NULL / 0 when not set) */
	const char *kubeconfig; /* path; NULL: in-cluster, else $KUBECONFIG, else ~/.kube/config */
	const char *context;	/* kubeconfig context; NULL: its current-context */
	const char *volumes;	/* "datavolume" (default) or "pvc" */
	const char *worker_image;	    /* image of the transfer Jobs (holds ferry) */
	const char *worker_service_account; /* or NULL */
	const struct ferry_target_label *worker_node_selector;
	size_t nworker_node_selector;
	const char *worker_cpu, *worker_memory; /* requests (and limits), quantities, or NULL */
	/* kubevirt, a cluster given by address (Forklift's destination
	 * Provider of type openshift with a url and a token Secret): when url
	 * is set it is used instead of kubeconfig / in-cluster / context. */
	const char *url;	   /* API server, "https://api.example:6443"; NULL: not given */
	const char *token;	   /* bearer token, required with url; never logged */
	const char *cacert;	   /* PEM text of the CA to trust; NULL: the system's store */
	bool insecure_skip_verify; /* do not verify the server (cacert is then ignored) */
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
	/* The Plan's pvcNameTemplateUseGenerateName (plan-wide, as in
	 * Forklift): each disk's name is a prefix to which the cluster adds
	 * random characters (kubevirt: metadata.generateName); the target
	 * finds the volume again by its labels. The local target ignores it. */
	bool pvc_generate_name;
};

struct ferry_target;

#define FERRY_TARGET_DIGEST 65 /* 64 hex digits and a NUL */

/* A copy the target runs itself (copy_start), as copy_poll sees it. */
enum ferry_copy_phase {
	FERRY_COPY_RUNNING, /* started, or waiting to be scheduled */
	FERRY_COPY_DONE,    /* finished, every byte written */
	FERRY_COPY_FAILED,  /* gave up: message says why */
};

struct ferry_copy_state {
	enum ferry_copy_phase phase;
	uint64_t done, total;		 /* bytes, when the target can tell (else 0) */
	char message[FERRY_ERR_MSG_MAX]; /* FAILED: the worker's own error, e.g. its
					  * termination message */
};

/* What a copy the target runs (copy_start) reads, and how. */
struct ferry_copy_source {
	/* The NBD URI the worker connects to: "nbds://ferry@HOST:PORT/" when
	 * tls_psk is set (libnbd takes the PSK identity from the URI's user),
	 * else any URI `ferry copy` reads. */
	const char *uri;
	/* The TLS-PSK key, "identity:hexkey" (psktool's file format), or NULL.
	 * A secret: the target hands it to the worker as a file, never on a
	 * command line or in an object's spec. */
	const char *tls_psk;
	/* A warm round's `ferry copy --changed-areas` JSON, or NULL for the
	 * whole disk. */
	const char *changed_areas;
	/* Options put before SRC DST, such as "--source-id", ID. */
	const char *const *args;
	size_t nargs;
};

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

	/* ---- optional: copies that run where the volume is -------------------
	 * NULL: the engine runs `ferry copy SRC URI` itself, with disk_create's
	 * uri. Otherwise the target runs the copy (kubevirt: a batch/v1 Job
	 * per disk) and the engine follows it with copy_poll. op_id (the
	 * journal's operation id, [0-9a-f]{16}) names the copy: copy_start
	 * again for an op_id whose worker exists keeps that worker (a restart
	 * must not start a second copy); a worker left over from another
	 * op_id of the same disk is replaced. */

	/* Start copying src into disk i of vm. */
	int (*copy_start)(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			  const struct ferry_copy_source *src, const char *op_id,
			  struct ferry_err *err);
	/* How that copy goes; FERRY_E_NOT_FOUND when no worker of op_id exists. */
	int (*copy_poll)(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			 const char *op_id, struct ferry_copy_state *st, struct ferry_err *err);
	/* Stop and remove the worker of op_id (finished or not); absent is fine.
	 * The volume stays. */
	int (*copy_stop)(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			 const char *op_id, struct ferry_err *err);
};

const struct ferry_target_ops *ferry_target_driver(const char *type, struct ferry_err *err);

#endif
