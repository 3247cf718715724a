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
	/* Hypervisor sources (vSphere); NULL / false elsewhere, and then left
	 * out of the JSON (the JSON prints mode, rdm and changeId only when mode
	 * is set). */
	char *storage_id; /* the storage's id (vSphere: datastore moref), which a
			   * StorageMap may name instead of the name */
	char *mode;	  /* vSphere diskMode: "persistent", "independent_persistent", ... */
	bool rdm;	  /* a raw device mapping, not a disk file */
	char *change_id;  /* the disk's CBT changeId now; NULL: not tracked */
};

struct ferry_vm_nic {
	char *name;	  /* "Network adapter 1" */
	char *network;	  /* the source network name a NetworkMap maps */
	char *mac;	  /* "00:50:56:..." lower case, or NULL */
	char *model;	  /* "e1000", "vmxnet3", "virtio", or NULL */
	char *network_id; /* the network's id (vSphere: network or portgroup moref),
			   * which a NetworkMap may name instead of the name; or NULL */
};

/* A snapshot of a VM, as a source lists it or made it. */
struct ferry_vm_snapshot {
	char *id;   /* the source's id (vSphere: VirtualMachineSnapshot moref) */
	char *name; /* as the source names it (ferry's own: the operation id) */
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
	/* Hypervisor sources (vSphere); NULL / false / 0 elsewhere, and then
	 * left out of the JSON. has_cbt says that cbt_enabled means something. */
	char *uuid;		/* vSphere config.uuid (Forklift's "uuid") */
	char *connection_state; /* "connected", "disconnected", "orphaned", "inaccessible", ... */
	char *host_name;	/* the name of the host that host (the budget key) identifies */
	char *cluster;		/* the name of that host's cluster, or NULL */
	char *guest_name;	/* the guest OS as the hypervisor names it */
	char *ip_address;	/* the guest's primary IP address, as the guest tools report it */
	bool has_cbt;
	bool cbt_enabled; /* changed block tracking is on (vSphere changeTrackingEnabled) */
	char *snapshot;	  /* the current snapshot's id, or NULL */
	struct ferry_vm_snapshot *snapshots; /* every snapshot, parents before children */
	size_t nsnapshots;
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

/* Borrowed key/value pairs: n keys and n values (a reconciler/secrets.h
 * ferry_secret_data's keys, values and n fit as they are). */
struct ferry_pairs {
	char *const *keys;
	char *const *values;
	size_t n;
};

/* The value of key (the last one when it repeats), or NULL. */
const char *ferry_pairs_get(const struct ferry_pairs *kv, const char *key);

/* Where a driver may keep files and whom it is (from ferry.ini and the
 * Provider); strings are borrowed for the duration of open() only: a driver
 * copies what it keeps. */
struct ferry_source_config {
	const char *ns, *name; /* the Provider */
	const char *type;      /* spec.type */
	const char *url;       /* spec.url */
	const char *work_dir;  /* private scratch directory (exists) */
	/* The Provider's secret (spec.secret), its keys as the Forklift
	 * Secret's stringData: user, password, cacert, thumbprint,
	 * insecureSkipVerify, token, ... Empty when the Provider names none.
	 * Values are secrets: a driver never logs them. */
	struct ferry_pairs secret;
	/* The Provider's spec.settings that are set, under their manifest
	 * names (sdkEndpoint, vddkInitImage, vddkConfig, ...), plus the
	 * settings ferry.ini gives the provider type (vSphere: vddkLibDir,
	 * the directory holding VDDK's lib64/). */
	struct ferry_pairs settings;
	/* The Provider's Host objects that route transfers (vSphere: a Host
	 * with spec.ipAddress, Forklift's migration network of an ESXi host):
	 * the disks of VMs on that host are read through ip_address with the
	 * Host's own secret, not through url. Empty when there are none. */
	struct ferry_source_host {
		const char *ns, *name;	   /* the Host object */
		const char *id;		   /* spec.id: the ESXi host's moref ("host-21"), or NULL */
		const char *host_name;	   /* spec.name: the host's name, or NULL */
		const char *ip_address;	   /* spec.ipAddress */
		struct ferry_pairs secret; /* spec.secret: user, password, thumbprint (secrets) */
	} const *hosts;
	size_t nhosts;
};

struct ferry_source;

/* A disk made readable as an NBD endpoint for `ferry copy`. */
struct ferry_disk_access {
	char *uri;	      /* nbd+unix:///?socket=... or a file path */
	uint64_t size;	      /* bytes the endpoint serves */
	void *priv;	      /* the driver's (server pid, socket dir) */
	unsigned connections; /* the most connections the endpoint wants (ferry copy
			       * --connections); 0: no limit */
};

/* A snapshot a source made or found (see snapshot_create), with what the
 * data plane needs of it. Owns its strings; ferry_snapshot_release(). */
struct ferry_snapshot {
	char *id; /* vSphere: the VirtualMachineSnapshot moref */
	char *name;
	size_t ndisks;
	char **disk_ids;   /* ferry_vm_disk.id of each disk the snapshot holds */
	char **change_ids; /* each disk's change id at the snapshot (vSphere's CBT
			    * changeId; the `since` of the next changed_areas), or NULL */
};

void ferry_snapshot_release(struct ferry_snapshot *s);

/* Ranges of a disk (bytes), sorted, not overlapping: what changed, or what
 * is allocated. Owns v; ferry_changed_areas_release(). */
struct ferry_changed_areas {
	struct {
		uint64_t start, length;
	} * v;
	size_t n, cap;
	uint64_t size; /* the disk's capacity the ranges lie in */
};

void ferry_changed_areas_release(struct ferry_changed_areas *c);
/* The JSON array `ferry copy --changed-areas FILE` reads ([{"start": N,
 * "length": N}, ...]). Caller frees. */
char *ferry_changed_areas_json(const struct ferry_changed_areas *c);

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

	/* ---- optional: NULL when the source cannot ---------------------------
	 * Each is idempotent (a repeat after a crash finds the work done and
	 * succeeds), addresses the VM by vm->id and its disks by
	 * vm->disks[i].id, waits for whatever the source runs (a vSphere Task)
	 * up to a timeout of its own (FERRY_E_TIMEOUT), and fails with
	 * FERRY_E_NOT_FOUND when the VM is gone. */

	/* The power state now ("On", "Off", "Suspended"); caller frees. */
	int (*power_state)(struct ferry_source *s, const struct ferry_vm *vm, char **state,
			   struct ferry_err *err);
	/* Shut the guest down, and power the VM off when it is still on after
	 * guest_timeout_s seconds (or at once when the guest cannot be asked);
	 * 0: power it off at once, without asking the guest. */
	int (*power_off)(struct ferry_source *s, const struct ferry_vm *vm,
			 unsigned guest_timeout_s, struct ferry_err *err);
	/* Ask the guest to shut down and return at once: the caller watches
	 * power_state and calls power_off(0) when the guest takes too long.
	 * Success when the VM is off already; FERRY_E_UNSUPPORTED when the
	 * guest cannot be asked (no tools): power it off instead. */
	int (*guest_shutdown)(struct ferry_source *s, const struct ferry_vm *vm,
			      struct ferry_err *err);
	int (*power_on)(struct ferry_source *s, const struct ferry_vm *vm, struct ferry_err *err);
	/* A crash-consistent snapshot named name (no memory; quiesced when the
	 * guest tools run): the caller names it after its operation id, so
	 * that a snapshot made before a crash is found again (and returned)
	 * instead of made twice. out is overwritten. */
	int (*snapshot_create)(struct ferry_source *s, const struct ferry_vm *vm, const char *name,
			       struct ferry_snapshot *out, struct ferry_err *err);
	/* The VM's snapshot called name (the newest when several are), or
	 * FERRY_E_NOT_FOUND. out is overwritten. */
	int (*snapshot_find)(struct ferry_source *s, const struct ferry_vm *vm, const char *name,
			     struct ferry_snapshot *out, struct ferry_err *err);
	/* Remove one snapshot (its children stay; the disks are consolidated).
	 * A snapshot that is already gone is success. */
	int (*snapshot_remove)(struct ferry_source *s, const struct ferry_vm *vm,
			       const char *snapshot_id, struct ferry_err *err);
	/* Turn changed block tracking on (vSphere: takes effect at the next
	 * snapshot or power cycle). */
	int (*cbt_enable)(struct ferry_source *s, const struct ferry_vm *vm, struct ferry_err *err);
	/* Disk i's areas that changed between change id since and snapshot
	 * snapshot_id; since NULL or "*" gives the allocated areas (a first
	 * copy's map). out is overwritten. */
	int (*changed_areas)(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
			     const char *snapshot_id, const char *since,
			     struct ferry_changed_areas *out, struct ferry_err *err);
	/* disk_open of disk i as it was at snapshot_id (NULL: as disk_open);
	 * closed with disk_close. */
	int (*disk_open_snapshot)(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
				  const char *snapshot_id, struct ferry_disk_access *a,
				  struct ferry_err *err);
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
