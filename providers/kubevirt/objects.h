/* The Kubernetes objects a migrated VM needs, built as jansson JSON with no
 * I/O: a kubevirt.io/v1 VirtualMachine, per disk a cdi.kubevirt.io/v1beta1
 * DataVolume (source: blank) or a plain v1 PersistentVolumeClaim, and a
 * batch/v1 Job that runs `ferry copy` for one disk into its volume; plus
 * the label rules and the provisioner defaults table they share.
 *
 * The local target writes the same VirtualMachine (ferry_kube_vm_build) as
 * YAML, so both targets shape a VM in one place.
 *
 * Ownership: every builder returns a new reference in *out (json_decref it);
 * on failure *out is NULL and err says which input was wrong
 * (FERRY_E_INVALID). Inputs are borrowed for the call only. Every function
 * here is pure and thread-safe.
 *
 * Labels: each object carries ferry's owner labels, which tie it to its plan
 * and source VM (and a volume or Job to its disk) so that a label selector
 * finds everything ferry made for one VM:
 *   app.kubernetes.io/managed-by=ferry
 *   ferry.dev/plan=<plan name>
 *   ferry.dev/plan-namespace=<plan namespace>
 *   ferry.dev/vm-id=<source VM id>
 *   ferry.dev/disk=<disk index>            (volumes and Jobs)
 *   ferry.dev/target-vm=<target VM name>   (volumes and Jobs)
 *   ferry.dev/op=<operation id>            (Jobs, when given)
 * Values that are not valid label values (at most 63 characters of
 * [A-Za-z0-9._-], alphanumeric at both ends) are made valid and suffixed
 * with a hash of the original (ferry_kube_label_value). The VM also carries
 * the plan's targetLabels; ferry's own labels win over them.
 */
#ifndef FERRY_PROVIDERS_KUBEVIRT_OBJECTS_H
#define FERRY_PROVIDERS_KUBEVIRT_OBJECTS_H

#include "common/err.h"
#include "providers/target.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FERRY_KUBE_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define FERRY_KUBE_LABEL_PLAN	    "ferry.dev/plan"
#define FERRY_KUBE_LABEL_PLAN_NS    "ferry.dev/plan-namespace"
#define FERRY_KUBE_LABEL_VM_ID	    "ferry.dev/vm-id"
#define FERRY_KUBE_LABEL_DISK	    "ferry.dev/disk"
#define FERRY_KUBE_LABEL_TARGET_VM  "ferry.dev/target-vm"
#define FERRY_KUBE_LABEL_OP	    "ferry.dev/op"
#define FERRY_KUBE_ANN_SOURCE_NAME  "ferry.dev/source-vm-name"

/* CDI's default filesystem overhead (CDIConfig spec.filesystemOverhead
 * global "0.055"): the share of a Filesystem-mode volume that is not
 * available to the disk image. */
#define FERRY_KUBE_FS_OVERHEAD 0.055

/* ---- names and labels ---------------------------------------------------- */

/* "<what> \"<s>\" is not valid: name <why>" unless s is an RFC 1123 label
 * (namespaces, VM names, interface names) or subdomain (volume names). */
int ferry_kube_check_label(const char *what, const char *s, struct ferry_err *err);
int ferry_kube_check_subdomain(const char *what, const char *s, struct ferry_err *err);

/* Kubernetes label rules: a key is [prefix/]name with prefix a DNS
 * subdomain and name at most 63 of [A-Za-z0-9._-] with alphanumeric ends;
 * a value is empty or like a key's name part. */
bool ferry_kube_label_key_ok(const char *key);
bool ferry_kube_label_value_ok(const char *value);

/* A valid label value standing for s: s itself when it is one; else s with
 * each run of other characters made '-', cut, and followed by the FNV-1a
 * 32-bit hash of s in 8 hex digits, so that two strings that differ only in
 * what was replaced stay apart. The caller frees. */
char *ferry_kube_label_value(const char *s);

/* A DNS-1123 label of at most max (<= 63) characters made from base and
 * suffix ("<base><suffix>"): when that is too long, base is cut and followed
 * by '-' and the hash of base before suffix. base and suffix must be made of
 * [a-z0-9-] (suffix may be ""). The caller frees. */
char *ferry_kube_name_fit(const char *base, const char *suffix, size_t max);

/* metadata.generateName for a volume whose name would be name (Forklift's
 * pvcNameTemplateUseGenerateName): name followed by '-', the name cut so
 * that the server's 5 random characters still give at most 63. The caller
 * frees. */
char *ferry_kube_generate_name(const char *name);

/* Check a VM the way every target needs it: names, CPUs, memory, firmware,
 * disks (unique subdomain names), NICs (type pod, multus or ignored; at most
 * one on the pod network; multus names "namespace/name"; unique names among
 * the attached ones), labels and node selector. */
int ferry_kube_check_vm(const struct ferry_target_vm *vm, struct ferry_err *err);

/* The owner labels of vm (managed-by, plan, plan-namespace, vm-id), as a
 * JSON object with sorted keys; disk >= 0 adds ferry.dev/disk and
 * ferry.dev/target-vm (so that the volumes and Jobs of a VM are found by
 * its name even when the VM object was never created). */
json_t *ferry_kube_owner_labels(const struct ferry_target_vm *vm, int disk);

/* ---- the VirtualMachine --------------------------------------------------- */

enum ferry_kube_claim_kind {
	FERRY_KUBE_CLAIM_PVC,	     /* volumes: persistentVolumeClaim.claimName */
	FERRY_KUBE_CLAIM_DATAVOLUME, /* volumes: dataVolume.name */
};

struct ferry_kube_vm_opts {
	enum ferry_kube_claim_kind claim_kind;
	/* vm->ndisks entries each, or NULL for the disk's own name:
	 * claim_names: the PVC or DataVolume behind each disk (its real name
	 * when it was created with generateName); volume_names: the volume and
	 * disk names inside the VM (volumeNameTemplate). */
	const char *const *claim_names;
	const char *const *volume_names;
};

/* The kubevirt.io/v1 VirtualMachine for vm (opts may be NULL). Shape:
 * metadata name, namespace, labels (targetLabels + owner labels, sorted),
 * annotation ferry.dev/source-vm-name; spec.runStrategy Always or Halted;
 * template labels as the VM's; domain.cpu sockets x cores (one socket when
 * the source layout does not divide the count), threads 1;
 * memory.guest in Mi (rounded up); firmware.bootloader bios: {} or
 * efi: {secureBoot: bool}, and features.smm.enabled with secure boot;
 * devices.disks in source order with disk.bus; interfaces for the attached
 * NICs in source order (model, macAddress, masquerade on the pod network,
 * bridge on multus), autoattachPodInterface: false when none is attached;
 * networks (pod: {} / multus.networkName); volumes; nodeSelector (sorted).
 * Strings that are not UTF-8 get U+FFFD for each byte that is not. */
int ferry_kube_vm_build(const struct ferry_target_vm *vm, const struct ferry_kube_vm_opts *opts,
			json_t **out, struct ferry_err *err);

/* ---- volumes ---------------------------------------------------------------- */

/* Default access mode and volume mode of a storage provisioner (a
 * StorageClass's provisioner), for a StorageMap that leaves them out.
 * params are the StorageClass's parameters (may be NULL): a few
 * provisioners depend on one (ebs.csi.aws.com "type", pd.csi.storage.gke.io
 * "type", csi.trident.netapp.io "backendType"). Returns true and sets both
 * for a known provisioner; false and Filesystem / ReadWriteOnce (what MTV
 * applies without dynamic provisioning) otherwise. The strings are static. */
bool ferry_kube_storage_defaults(const char *provisioner, const struct ferry_target_label *params,
				 size_t nparams, const char **access_mode,
				 const char **volume_mode);

/* Bytes to request for a disk of size bytes: size rounded up to 1 MiB; for
 * a volume that holds the image as a file (Filesystem mode) and whose
 * overhead nobody else adds, divided by (1 - overhead) and rounded up to
 * 1 MiB again. 0 when the result would overflow. */
uint64_t ferry_kube_volume_bytes(uint64_t size, bool filesystem, double overhead);

/* bytes as a Kubernetes quantity in the largest binary unit that divides
 * it exactly ("10Gi", "1536Mi", "512"). The caller frees. */
char *ferry_kube_quantity(uint64_t bytes);

struct ferry_kube_volume_opts {
	/* metadata.generateName (ferry_kube_generate_name of the disk's name)
	 * instead of metadata.name. */
	bool generate_name;
	/* The class a disk that names none gets (the cluster's default, as
	 * read): storageClassName then names it, so that the class whose
	 * provisioner chose the modes is the class the volume gets; NULL:
	 * none named. */
	const char *storage_class;
	/* The storage class's provisioner and parameters, for modes the disk
	 * leaves out (ferry_kube_storage_defaults); NULL when unknown. */
	const char *provisioner;
	const struct ferry_target_label *params;
	size_t nparams;
	/* Filesystem overhead for a plain PVC; 0 means FERRY_KUBE_FS_OVERHEAD. */
	double fs_overhead;
};

/* The cdi.kubevirt.io/v1beta1 DataVolume for disk i of vm: source blank,
 * the `storage` API (storageClassName, accessModes, volumeMode when known,
 * resources.requests.storage), annotations asking CDI to bind at once (the
 * transfer Job, not the VM, is the first consumer) and to keep the
 * DataVolume after completion. The request is the disk size rounded up to
 * 1 MiB: with the storage API CDI itself adds the filesystem overhead for
 * Filesystem mode. A volume or access mode the disk and the provisioner
 * table leave open is left out, for CDI's StorageProfile to choose. */
int ferry_kube_datavolume_build(const struct ferry_target_vm *vm, size_t i,
				const struct ferry_kube_volume_opts *opts, json_t **out,
				struct ferry_err *err);

/* The v1 PersistentVolumeClaim for disk i of vm: accessModes and
 * volumeMode always set (disk, else provisioner table, else Filesystem /
 * ReadWriteOnce), sized with ferry_kube_volume_bytes (overhead added for
 * Filesystem). */
int ferry_kube_pvc_build(const struct ferry_target_vm *vm, size_t i,
			 const struct ferry_kube_volume_opts *opts, json_t **out,
			 struct ferry_err *err);

/* ---- transfer Jobs ------------------------------------------------------------ */

/* Where the Job's container sees the volume. */
#define FERRY_KUBE_JOB_DEVICE "/dev/ferry-disk"		     /* Block */
#define FERRY_KUBE_JOB_MOUNT  "/var/lib/ferry/disk"	     /* Filesystem */
#define FERRY_KUBE_JOB_IMAGE  "/var/lib/ferry/disk/disk.img" /* KubeVirt's file name */
/* Seconds between the progress lines its `ferry copy` writes. */
#define FERRY_KUBE_JOB_PROGRESS_INTERVAL "1"
/* Where it sees its inputs Secret (ferry_kube_copy_inputs_build), read only. */
#define FERRY_KUBE_JOB_INPUTS	   "/run/ferry/copy"
#define FERRY_KUBE_JOB_INPUT_PSK   "/run/ferry/copy/psk"   /* key "psk" */
#define FERRY_KUBE_JOB_INPUT_AREAS "/run/ferry/copy/areas" /* key "areas" */

struct ferry_kube_job_opts {
	const char *image;	     /* container image holding ferry; required */
	const char *source;	     /* SRC of `ferry copy` (an NBD URI); required */
	const char *claim;	     /* the volume's name; NULL = the disk's name */
	const char *volume_mode;     /* "Block" or "Filesystem" (as created); NULL = disk's, else
					Filesystem */
	const char *name;	     /* Job name; NULL = ferry_kube_name_fit(claim, "-copy", 63) */
	const char *service_account; /* or NULL */
	const struct ferry_target_label *node_selector;
	size_t nnode_selector;
	/* Container resources, Kubernetes quantities, each may be NULL. */
	const char *cpu_request, *cpu_limit, *memory_request, *memory_limit;
	/* Options put between the Job's progress options and SRC DST (e.g.
	 * "--verify"); not --progress-fd or --progress-interval. */
	const char *const *copy_args;
	size_t ncopy_args;
	int backoff_limit; /* retries of a failed pod; 0 = none */
	const char *op_id; /* label ferry.dev/op on the Job and its pod, or NULL */
	/* Mount the Secret named as the Job (its inputs) at
	 * FERRY_KUBE_JOB_INPUTS; source and copy_args then name files there. */
	bool inputs;
};

/* The batch/v1 Job that copies disk i of vm: one container running
 * `ferry copy --progress-fd 1 --progress-interval 1 [copy_args] SRC DST`
 * (a progress line a second on standard output, so in the pod's log) with
 * DST the volume's device
 * (volumeDevices, FERRY_KUBE_JOB_DEVICE) for Block or the file
 * FERRY_KUBE_JOB_IMAGE on the mounted volume (volumeMounts) for Filesystem;
 * restartPolicy Never, terminationMessagePolicy FallbackToLogsOnError, owner
 * labels (and ferry.dev/op) on the Job and its pod. */
int ferry_kube_job_build(const struct ferry_target_vm *vm, size_t i,
			 const struct ferry_kube_job_opts *opts, json_t **out,
			 struct ferry_err *err);

/* What a copy needs that must not be in the Job's spec, where anyone who
 * may read Jobs sees it: the key of the source's TLS-PSK session and the
 * areas a warm round copies. */
struct ferry_kube_copy_inputs {
	const char *psk;   /* "identity:hexkey" (psktool's file format), or NULL */
	const char *areas; /* `ferry copy --changed-areas` JSON, or NULL */
};

/* The v1 Secret a Job built with opts.inputs mounts: named as the Job, in
 * its namespace, with its labels (so the Job's selectors find and remove
 * it), immutable, keys "psk" and "areas" as given. Errors when neither is
 * given or they exceed a Secret's 1 MiB. */
int ferry_kube_copy_inputs_build(const json_t *job, const struct ferry_kube_copy_inputs *in,
				 json_t **out, struct ferry_err *err);

/* ---- small helpers shared with the local target ----------------------------- */

/* Length of the UTF-8 sequence at s and its code point, or 0 when the bytes
 * there are not one (overlong, surrogate, truncated, out of range). */
size_t ferry_kube_utf8_next(const unsigned char *s, uint32_t *cp);

#endif
