/* Reading what a cluster holds, with no I/O: the digest of a
 * VirtualMachine as ferry sees it (for drift), a transfer Job's outcome
 * and a running copy's progress (from its log), Kubernetes quantities,
 * and which StorageClass is the default. The KubeVirt target (target.c)
 * fetches the objects; these functions only interpret them, so they are
 * tested directly.
 *
 * Ownership: JSON passed in is borrowed. Every function here is pure and
 * thread-safe.
 */
#ifndef FERRY_PROVIDERS_KUBEVIRT_OBSERVE_H
#define FERRY_PROVIDERS_KUBEVIRT_OBSERVE_H

#include "providers/target.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The hex SHA-256 of what ferry controls in a VirtualMachine object:
 * {"labels": metadata.labels, "spec": spec} ({} for each when absent),
 * serialised with sorted keys and no whitespace. Status, resourceVersion,
 * generation, managedFields and annotations (which KubeVirt's controllers
 * write) do not count; a change of labels or spec made outside ferry does. */
void ferry_kube_vm_digest(json_t *vm, char hex[FERRY_TARGET_DIGEST]);

/* Bytes of a Kubernetes quantity ("10Gi", "1536Mi", "5G", "1e3", "512"),
 * rounded up to a whole byte: 0 and *bytes, or -1 when s is not a
 * quantity, is negative, or does not fit in 64 bits. */
int ferry_kube_parse_quantity(const char *s, uint64_t *bytes);

/* The copy a batch/v1 Job runs, as copy_poll reports it. job is the Job;
 * pods (an array, may be NULL) are its pods, for the termination message
 * of a failed one; total is the disk's size.
 *   DONE:    condition Complete=True, or status.succeeded >= completions
 *            (default 1) with no pod active; done = total.
 *   FAILED:  condition Failed=True, or status.failed > spec.backoffLimit
 *            (default 6); message: the last line of the newest failed
 *            pod's termination message, then the Job's reason and the
 *            exit code, e.g. "ferry copy: /x: open: No such file or
 *            directory (Job ns/disk-0-copy: BackoffLimitExceeded; pod
 *            disk-0-copy-abcde exit code 1)".
 *   RUNNING: otherwise; done = 0.
 * total is set in every case. */
void ferry_kube_job_state(json_t *job, json_t *pods, uint64_t total, struct ferry_copy_state *st);

/* The pod of a Job whose copy runs now: the newest (creationTimestamp,
 * then name) of pods in phase Running, or NULL. Borrowed from pods. */
json_t *ferry_kube_running_pod(json_t *pods);

/* The last whole line "progress DONE TOTAL DATA" (`ferry copy
 * --progress-fd`, three decimal byte counts) of a log tail of len bytes:
 * true and *done, *total (done at most total); false when there is none.
 * A last line without its newline is still being written and is skipped. */
bool ferry_kube_log_progress(const char *log, size_t len, uint64_t *done, uint64_t *total);

/* ---- storage classes ---------------------------------------------------------------- */

#define FERRY_KUBE_ANN_DEFAULT_CLASS	  "storageclass.kubernetes.io/is-default-class"
#define FERRY_KUBE_ANN_DEFAULT_CLASS_BETA "storageclass.beta.kubernetes.io/is-default-class"
#define FERRY_KUBE_ANN_DEFAULT_VIRT_CLASS "storageclass.kubevirt.io/is-default-virt-class"

/* The StorageClass a volume that names none gets, from the cluster's
 * classes (an array of storage.k8s.io/v1 StorageClass objects): with virt
 * (a CDI DataVolume) the class annotated as the default virtualization
 * class first, as CDI picks it; else the class annotated as the default
 * (either annotation "true"), as Kubernetes' DefaultStorageClass admission
 * picks it. Among several so annotated, the newest (creationTimestamp),
 * then the lowest name. NULL when none is. Borrowed from classes. */
json_t *ferry_kube_default_storage_class(json_t *classes, bool virt);

#endif
