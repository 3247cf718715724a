/* What the vsphere driver's files share: the source, the inventory store
 * (every object the walk and the updates saw, with its properties as XML
 * copies) and the device list parser. Not for use outside providers/vsphere
 * (tests excepted).
 */
#ifndef FERRY_PROVIDERS_VSPHERE_INTERNAL_H
#define FERRY_PROVIDERS_VSPHERE_INTERNAL_H

#include "soap.h"
#include "vsphere.h"
#include "providers/nbdserver.h"

#include <sys/types.h>

/* ---- the store ------------------------------------------------------------------------- */

struct vs_prop {
	char *name;	      /* the property path ("config.hardware.device") */
	struct _xmlNode *val; /* a copy owned by the store */
};

struct vs_obj {
	char *type; /* "VirtualMachine", "HostSystem", ... */
	char *ref;  /* the moref's value */
	struct vs_prop *props;
	size_t n, cap;
};

/* Objects sorted by ref (binary search). Owns everything. */
struct vs_store {
	struct _xmlDoc *doc; /* owner document of the copies */
	struct vs_obj **objs;
	size_t n, cap;
};

void vs_store_init(struct vs_store *st);
void vs_store_release(struct vs_store *st);
struct vs_obj *vs_store_get(const struct vs_store *st, const char *ref);
/* The object ref, made (with no properties) when missing; its type is
 * updated. */
struct vs_obj *vs_store_add(struct vs_store *st, const char *type, const char *ref);
void vs_store_remove(struct vs_store *st, const char *ref);
/* Set property name of o to a copy of val (NULL: unset it). */
void vs_obj_set(struct vs_store *st, struct vs_obj *o, const char *name, struct _xmlNode *val);
const struct _xmlNode *vs_obj_prop(const struct vs_obj *o, const char *name);
/* The text of a property, malloc'd, or NULL when unset. */
char *vs_obj_text(const struct vs_obj *o, const char *name);

/* Load the ObjectContent elements of a RetrievePropertiesEx returnval
 * (objects with obj, propSet name/val, missingSet): each object's listed
 * properties replace what the store had. Returns how many objects. */
size_t vs_store_load(struct vs_store *st, const struct _xmlNode *returnval);

/* Apply a WaitForUpdatesEx UpdateSet (filterSet/objectSet: kind enter,
 * modify, leave; changeSet name/op/val). A change the store cannot apply
 * exactly (a change to part of a property it holds) adds the object's ref
 * to *refetch (the caller reads that object again). Returns the objects
 * changed. */
size_t vs_store_apply(struct vs_store *st, const struct _xmlNode *update_set, char ***refetch,
		      size_t *nrefetch);

/* The inventory the store describes: VMs (templates left out) with disks,
 * NICs, host, cluster, snapshots; the networks and datastores by name.
 * Problems (a disk on an unknown datastore, a VM that is not connected)
 * are findings. inv is filled, not released first. */
void vs_store_build(const struct vs_store *st, struct ferry_inventory *inv,
		    struct ferry_findings *f);

/* The inventory path of object ref ("/DC0/vm/folder/name"), malloc'd; the
 * root folder is not part of it. */
char *vs_store_path(const struct vs_store *st, const char *ref);
/* The Datacenter above ref, or NULL; *dc_path gets its inventory path
 * without the leading '/' (the /folder API's dcPath). */
const struct vs_obj *vs_store_datacenter(const struct vs_store *st, const char *ref,
					 char **dc_path);

/* For tests: a RetrievePropertiesEx reply loaded into st (vs_store_load),
 * or a WaitForUpdatesEx reply applied to it (vs_store_apply; *refetch and
 * *nrefetch as there, the caller frees them). */
int vs_store_load_reply(struct vs_store *st, const char *xml, size_t len, char ***refetch,
			size_t *nrefetch, struct ferry_err *err);
/* For tests: a RetrievePropertiesEx (or WaitForUpdatesEx) reply read as
 * the whole inventory. */
int vs_inventory_from_reply(const char *xml, size_t len, struct ferry_inventory *inv,
			    struct ferry_findings *f, struct ferry_err *err);

/* The property paths the walk asks for, per type (NULL-terminated table of
 * {type, paths...}). */
struct vs_propspec {
	const char *type;
	const char *const *paths;
};
extern const struct vs_propspec vs_propspecs[];

/* ---- devices ---------------------------------------------------------------------------- */

struct vs_disk {
	uint64_t key;
	char *label;
	char *backing;	 /* its xsi:type ("VirtualDiskFlatVer2BackingInfo") */
	char *file;	 /* "[ds] dir/name.vmdk" */
	char *datastore; /* moref, or NULL */
	char *mode;	 /* diskMode */
	char *sharing;	 /* "sharingNone", "sharingMultiWriter", or NULL */
	char *change_id;
	bool rdm, has_parent, flat;
	uint64_t capacity; /* bytes */
	uint64_t controller;
	const char *bus; /* static: "scsi", "ide", "sata", "nvme", or NULL */
};

struct vs_nic {
	char *label, *mac, *model;
	char *network;	   /* network or portgroup moref, or NULL */
	char *device_name; /* backing deviceName (a standard network's name) */
	char *opaque_id;
};

/* The VirtualDisks and ethernet cards of an ArrayOfVirtualDevice value
 * (config.hardware.device), in device order. */
void vs_devices_parse(const struct _xmlNode *devices, struct vs_disk **disks, size_t *ndisks,
		      struct vs_nic **nics, size_t *nnics);
void vs_disk_release(struct vs_disk *d);
void vs_disks_free(struct vs_disk *d, size_t n);
void vs_nics_free(struct vs_nic *n, size_t count);

/* ---- the source --------------------------------------------------------------------- */

/* A Host object's route (struct ferry_source_config.hosts, copied): the
 * disks of VMs on that ESXi host are read through ip with the Host's own
 * credentials, over a session of their own (a source of this driver,
 * opened at the first such disk). */
struct vs_host {
	char *label;		  /* "ns/name" of the Host object */
	char *id, *name;	  /* spec.id (the host's moref), spec.name; either may be NULL */
	char *ip;		  /* spec.ipAddress */
	char *user, *password;	  /* the Host's secret (the password wiped at close) */
	char *thumbprint;	  /* the pin: the secret's, or vCenter's for the host once
				   * read; the SHA-1 the session saw once it is open */
	struct ferry_source *src; /* the session with the host, or NULL */
	char *search_index;	  /* its SearchIndex moref, once read */
};

struct ferry_source {
	char *label; /* "ns/name" for messages */
	struct vs_soap *soap;
	char *user, *password; /* for VDDK (the password wiped at close) */
	char *cacert;	       /* PEM, or NULL */
	bool insecure, pinned;
	char *work_dir;
	char *vddk_libdir, *vddk_config;
	struct vs_store store;
	bool loaded;
	/* incremental updates */
	char *view, *filter, *version;
	unsigned view_gen, filter_gen;
	struct ferry_nbd_server *servers; /* the nbdkits serving disks now */
	unsigned seq;
	struct ferry_vsphere_stats stats;
	struct vs_host *hosts; /* the Host routes */
	size_t nhosts;
};

/* vsphere.c: open a source (as the driver's open, without its "vsphere
 * provider NS/NAME: " prefix on errors) and close one. */
int vs_open(struct ferry_source **out, const struct ferry_source_config *cfg,
	    struct ferry_err *err);
void vs_close(struct ferry_source *s);

/* Builders of request bodies share these. */
int vs_add_this(struct ferry_sb *b, const char *type, const char *ref, struct ferry_err *err);

/* RetrievePropertiesEx of paths of one object (paths NULL-terminated);
 * *r holds the reply, *o its ObjectContent (NULL when the server returned
 * none: the object has none of the properties set). A vanished object is
 * FERRY_E_NOT_FOUND. */
int vs_retrieve(struct ferry_source *s, const char *type, const char *ref, const char *const *paths,
		struct vs_reply *r, struct _xmlNode **o, struct ferry_err *err);
/* The val of property name in ObjectContent o, or NULL. */
struct _xmlNode *vs_propval(const struct _xmlNode *o, const char *name);

/* inventory.c */
int vs_inventory(struct ferry_source *s, struct ferry_inventory *inv, struct ferry_findings *f,
		 struct ferry_err *err);
void vs_inventory_forget(struct ferry_source *s);

/* actions.c */
int vs_power_state(struct ferry_source *s, const struct ferry_vm *vm, char **state,
		   struct ferry_err *err);
int vs_power_off(struct ferry_source *s, const struct ferry_vm *vm, unsigned guest_timeout_s,
		 struct ferry_err *err);
int vs_guest_shutdown(struct ferry_source *s, const struct ferry_vm *vm, struct ferry_err *err);
int vs_power_on(struct ferry_source *s, const struct ferry_vm *vm, struct ferry_err *err);
int vs_snapshot_create(struct ferry_source *s, const struct ferry_vm *vm, const char *name,
		       struct ferry_snapshot *out, struct ferry_err *err);
int vs_snapshot_find(struct ferry_source *s, const struct ferry_vm *vm, const char *name,
		     struct ferry_snapshot *out, struct ferry_err *err);
int vs_snapshot_remove(struct ferry_source *s, const struct ferry_vm *vm, const char *snapshot_id,
		       struct ferry_err *err);
int vs_cbt_enable(struct ferry_source *s, const struct ferry_vm *vm, struct ferry_err *err);
/* The device key of vm's disk i (its id), or an error naming the VM. */
int vs_disk_key(const struct ferry_vm *vm, size_t i, uint64_t *key, struct ferry_err *err);
int vs_changed_areas(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
		     const char *snapshot_id, const char *since, struct ferry_changed_areas *out,
		     struct ferry_err *err);
/* A task's state from its ObjectContent (info.state, info.progress,
 * info.error, info.result): 1 still queued or running (*progress set, -1
 * when unknown), 0 success (*result, if asked, gets info.result), -1 error
 * (err and fault from info.error, as "vsphere: what: TYPE: message"). */
int vs_task_info(const struct _xmlNode *oc, const char *what, int *progress, char **result,
		 char fault[VS_FAULT_MAX], struct ferry_err *err);
/* The same from a RetrievePropertiesEx reply's text (for tests). */
int vs_task_info_reply(const char *xml, size_t len, const char *what, int *progress, char **result,
		       char fault[VS_FAULT_MAX], struct ferry_err *err);
/* Append QueryChangedDiskAreas reply r's changedArea ranges to out, clipped
 * to [from, capacity); *next gets startOffset + length. Pure (for tests). */
int vs_qcda_parse(const struct _xmlNode *resp, uint64_t from, uint64_t capacity,
		  struct ferry_changed_areas *out, uint64_t *next, struct ferry_err *err);
int vs_qcda_parse_reply(const char *xml, size_t len, uint64_t from, uint64_t capacity,
			struct ferry_changed_areas *out, uint64_t *next, struct ferry_err *err);

/* disk.c */
/* The Host route of vm's disks: the one whose id is vm->host, else the
 * first one without an id whose name is vm->host_name; NULL when none
 * (the disks are read through the provider's url). Pure. */
struct vs_host *vs_host_of(struct vs_host *hosts, size_t n, const struct ferry_vm *vm);
/* Point a VDDK command line at Host route h: server= its ipAddress (port
 * 443), its user, its thumbprint. vm_moref and snapshot are the caller's
 * to set (the morefs on that host). Pure. */
void vs_vddk_via_host(struct ferry_vsphere_vddk *v, const struct vs_host *h);
int vs_disk_open(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
		 const char *snapshot_id, struct ferry_disk_access *a, struct ferry_err *err);
void vs_disk_close(struct ferry_source *s, struct ferry_disk_access *a);
void vs_servers_stop(struct ferry_source *s);
void vs_reap_leftovers(const char *work_dir);

#endif
