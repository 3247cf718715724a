/* The desired state: typed structs for every kind ferry reads from Git.
 *
 * Kinds (apiVersion forklift.konveyor.io/v1beta1 unless noted): Provider,
 * Host, NetworkMap, StorageMap, Plan, Migration, Hook; v1 Secret (read only
 * to refuse plaintext credentials); ferry's own Policy (ferry.dev/v1alpha1).
 * Field names follow Forklift's CRDs (see docs/ferry-schema.5.md); C names
 * are the JSON names in snake_case.
 *
 * Every value remembers where it was written (struct ferry_pos), so that
 * validation and, later, the reconciler can point at the exact line. An
 * absent value has .set false (or .v NULL for strings); `null` in YAML is
 * "absent", as Kubernetes reads it.
 *
 * Ownership: a struct ferry_model owns everything reachable from it,
 * including the parsed YAML documents that opaque fields (targetAffinity, ...)
 * point into. ferry_model_release() frees it all. Not thread-safe to modify;
 * safe to read from several threads once loaded.
 */
#ifndef FERRY_SCHEMA_MODEL_H
#define FERRY_SCHEMA_MODEL_H

#include "schema/finding.h"
#include "schema/node.h"

#include <stdbool.h>
#include <stddef.h>

struct ferry_str {
	char *v; /* NULL when absent */
	struct ferry_pos pos;
};

struct ferry_bool {
	bool set, v;
	struct ferry_pos pos;
};

struct ferry_int {
	bool set;
	long long v;
	struct ferry_pos pos;
};

/* A subtree ferry keeps as written (affinity rules, policy gates). */
struct ferry_opaque {
	const struct ferry_node *node; /* NULL when absent */
};

/* A list of elements of one struct type; use FERRY_AT() to index it. */
struct ferry_list {
	void *items;
	size_t len, cap;
	bool set;
	struct ferry_pos pos;
};
#define FERRY_AT(list, type, i) (&((type *)(list).items)[(i)])

struct ferry_kv {
	struct ferry_str key, value;
};

/* string -> string map (labels, node selectors); keeps document order. */
struct ferry_strmap {
	struct ferry_kv *items;
	size_t len, cap;
	bool set;
	struct ferry_pos pos;
};

/* Kubernetes ObjectReference (and Forklift's ref.Ref: id/name/namespace/type). */
struct ferry_ref {
	bool set;
	struct ferry_pos pos;
	struct ferry_str name, namespace_, api_version, kind, uid, resource_version, field_path;
	struct ferry_str id, type; /* ref.Ref (inventory id, OpenShift source type) */
};

struct ferry_provider_pair {
	bool set;
	struct ferry_pos pos;
	struct ferry_ref source, destination;
};

struct ferry_meta {
	bool set;
	struct ferry_pos pos;
	struct ferry_str name, namespace_, generate_name;
	struct ferry_strmap labels, annotations;
	struct ferry_opaque owner_references; /* kept, not used */
};

enum ferry_kind {
	FERRY_KIND_PROVIDER,
	FERRY_KIND_HOST,
	FERRY_KIND_NETWORKMAP,
	FERRY_KIND_STORAGEMAP,
	FERRY_KIND_PLAN,
	FERRY_KIND_MIGRATION,
	FERRY_KIND_HOOK,
	FERRY_KIND_SECRET,
	FERRY_KIND_POLICY,
	FERRY_KIND_COUNT
};

/* What every object starts with. `ns` is the effective namespace:
 * metadata.namespace, or "default" when absent (as kubectl applies it). */
struct ferry_obj {
	enum ferry_kind kind;
	struct ferry_pos pos; /* start of the document */
	struct ferry_str api_version, kind_name;
	struct ferry_meta metadata;
	const char *ns;
	const char *name; /* metadata.name ("" when missing) */
};

/* ---- Provider ---------------------------------------------------------- */

struct ferry_provider_settings {
	bool set;
	struct ferry_pos pos;
	/* vSphere */
	struct ferry_str vddk_init_image, sdk_endpoint, use_vddk_aio_optimization, vddk_config,
		esxi_clone_method;
	/* EC2 */
	struct ferry_str target_az, target_region;
	/* Nutanix */
	struct ferry_str prism_type, cluster_uuid;
	/* Hyper-V */
	struct ferry_str management_type;
};

struct ferry_provider {
	struct ferry_obj obj;
	struct {
		struct ferry_str type, url;
		struct ferry_ref secret;
		struct ferry_provider_settings settings;
	} spec;
};

/* ---- Host (VMware) ----------------------------------------------------- */

struct ferry_host {
	struct ferry_obj obj;
	struct {
		struct ferry_str id, name, ip_address;
		struct ferry_ref provider, secret;
	} spec;
};

/* ---- NetworkMap -------------------------------------------------------- */

struct ferry_network_pair {
	struct ferry_pos pos;
	struct {
		bool set;
		struct ferry_pos pos;
		struct ferry_str id, name, namespace_, type, vlan;
	} source;
	struct {
		bool set;
		struct ferry_pos pos;
		struct ferry_str type, name, namespace_;
	} destination;
};

struct ferry_networkmap {
	struct ferry_obj obj;
	struct {
		struct ferry_provider_pair provider;
		struct ferry_list map; /* struct ferry_network_pair */
	} spec;
};

/* ---- StorageMap -------------------------------------------------------- */

struct ferry_offload_plugin {
	bool set;
	struct ferry_pos pos;
	struct {
		bool set;
		struct ferry_pos pos;
		struct ferry_str secret_ref, storage_vendor_product;
		struct ferry_list dedicated_migration_hosts; /* struct ferry_str */
	} vsphere_xcopy_config;
	struct {
		bool set;
		struct ferry_pos pos;
		struct ferry_str secret_ref, storage_vendor_product;
	} csi_volume_import;
};

struct ferry_storage_pair {
	struct ferry_pos pos;
	struct {
		bool set;
		struct ferry_pos pos;
		struct ferry_str id, name, namespace_, type;
	} source;
	struct {
		bool set;
		struct ferry_pos pos;
		struct ferry_str storage_class, volume_mode, access_mode;
		/* Written here by some docs; Forklift's API has it beside
		 * destination. Kept so validation can say so. */
		struct ferry_offload_plugin offload_plugin;
	} destination;
	struct ferry_offload_plugin offload_plugin;
};

struct ferry_storagemap {
	struct ferry_obj obj;
	struct {
		struct ferry_provider_pair provider;
		struct ferry_list map; /* struct ferry_storage_pair */
	} spec;
};

/* ---- Plan -------------------------------------------------------------- */

struct ferry_plan_hook {
	struct ferry_pos pos;
	struct ferry_ref hook;
	struct ferry_str step; /* PreHook | PostHook */
};

struct ferry_plan_vm {
	struct ferry_pos pos;
	/* ref.Ref */
	struct ferry_str id, name, namespace_, type;
	struct ferry_list hooks; /* struct ferry_plan_hook */
	struct ferry_ref luks;
	struct ferry_bool nbde_clevis;
	struct ferry_str root_disk, instance_type;
	struct ferry_str pvc_name_template, volume_name_template, network_name_template;
	struct ferry_str target_name, target_power_state;
	struct ferry_bool delete_vm_on_fail_migration, migrate_shared_disks,
		enable_nested_virtualization, rdm_as_lun, scsi_reservation;
};

struct ferry_plan {
	struct ferry_obj obj;
	struct {
		struct ferry_str description, target_namespace, type, service_account;
		struct ferry_provider_pair provider;
		struct {
			bool set;
			struct ferry_pos pos;
			struct ferry_ref network, storage;
		} map;
		struct ferry_list vms; /* struct ferry_plan_vm */
		struct ferry_bool warm, archived;
		struct ferry_ref transfer_network;
		/* target VM shaping */
		struct ferry_strmap target_labels, target_node_selector;
		struct ferry_opaque target_affinity;
		struct ferry_str target_power_state;
		struct ferry_bool preserve_cluster_cpu_model, preserve_static_ips,
			enable_nested_virtualization, use_compatibility_mode, skip_guest_conversion,
			install_legacy_drivers, rdm_as_lun, scsi_reservation, migrate_shared_disks,
			delete_vm_on_fail_migration, delete_guest_conversion_pod,
			skip_zone_node_selector;
		struct ferry_str disk_bus;
		struct {
			bool set;
			struct ferry_pos pos;
			struct ferry_bool disabled;
			struct ferry_list label_tags; /* struct ferry_str */
		} tag_mapping;
		/* naming templates */
		struct ferry_str pvc_name_template, volume_name_template, network_name_template;
		struct ferry_bool pvc_name_template_use_generate_name;
		/* conversion pod */
		struct ferry_strmap convertor_labels, convertor_node_selector;
		struct ferry_opaque convertor_affinity;
		struct ferry_str conversion_temp_storage_class, conversion_temp_storage_size,
			virt_v2v_image;
		struct ferry_bool xfs_compatibility, run_preflight_inspection;
		struct ferry_ref customization_scripts;
	} spec;
};

/* ---- Migration --------------------------------------------------------- */

struct ferry_vm_ref {
	struct ferry_pos pos;
	struct ferry_str id, name, namespace_, type;
};

struct ferry_vm_cutover {
	struct ferry_pos pos;
	struct ferry_str id, name, cutover;
};

struct ferry_migration {
	struct ferry_obj obj;
	struct {
		struct ferry_ref plan;
		struct ferry_list cancel;     /* struct ferry_vm_ref */
		struct ferry_str cutover;     /* RFC 3339 with offset */
		struct ferry_list vm_cutover; /* struct ferry_vm_cutover */
		struct ferry_bool resume_conversion;
	} spec;
};

/* ---- Hook -------------------------------------------------------------- */

struct ferry_hook {
	struct ferry_obj obj;
	struct {
		struct ferry_str image, service_account, playbook; /* playbook: base64 */
		struct ferry_int deadline;			   /* seconds */
		struct {
			bool set;
			struct ferry_pos pos;
			struct ferry_int job_template_id, timeout;
			struct ferry_str url;
			struct ferry_ref token_secret;
		} aap;
	} spec;
};

/* ---- Secret (v1): loaded only to refuse credentials in Git ------------- */

struct ferry_secret {
	struct ferry_obj obj;
	struct {
		struct ferry_str type;
		struct ferry_strmap data, string_data;
		struct ferry_bool immutable;
	} body;
};

/* ---- Policy (ferry.dev/v1alpha1): rules (evaluated later) and gates ---- */

struct ferry_policy_rule {
	struct ferry_pos pos;
	struct ferry_str id, condition, category, label, assessment;
	struct ferry_list providers; /* struct ferry_str: provider types */
};

struct ferry_policy {
	struct ferry_obj obj;
	struct {
		struct ferry_str description;
		struct ferry_list rules; /* struct ferry_policy_rule */
		struct {
			bool set;
			struct ferry_pos pos;
			struct {
				bool set;
				struct ferry_pos pos;
				struct ferry_str require; /* none|any|ssh|openpgp */
				struct ferry_str
					allowed_signers;       /* ssh-keygen ALLOWED SIGNERS text */
				struct ferry_str openpgp_keys; /* armored public keys */
			} signature;
			struct {
				bool set;
				struct ferry_pos pos;
				struct ferry_int count;
				struct ferry_list approvers; /* struct ferry_str */
				struct ferry_list trailers;  /* struct ferry_str */
			} approvals;
		} gates;
	} spec;
};

/* ---- The model --------------------------------------------------------- */

struct ferry_model {
	/* one list per kind; element type as the kind's struct above */
	struct ferry_list objects[FERRY_KIND_COUNT];
	char **files; /* every file loaded, in load order (owned) */
	size_t nfiles, files_cap;
	struct ferry_doc **docs; /* parsed documents kept for opaque fields */
	size_t ndocs, docs_cap;
	size_t ignored; /* documents of kinds ferry does not read */
};

#define FERRY_MODEL_INIT                                                                           \
	{                                                                                          \
		0                                                                                  \
	}

#define ferry_model_count(m, k)	 ((m)->objects[(k)].len)
#define ferry_model_providers(m) ((struct ferry_provider *)(m)->objects[FERRY_KIND_PROVIDER].items)
#define ferry_model_hosts(m)	 ((struct ferry_host *)(m)->objects[FERRY_KIND_HOST].items)
#define ferry_model_networkmaps(m)                                                                 \
	((struct ferry_networkmap *)(m)->objects[FERRY_KIND_NETWORKMAP].items)
#define ferry_model_storagemaps(m)                                                                 \
	((struct ferry_storagemap *)(m)->objects[FERRY_KIND_STORAGEMAP].items)
#define ferry_model_plans(m) ((struct ferry_plan *)(m)->objects[FERRY_KIND_PLAN].items)
#define ferry_model_migrations(m)                                                                  \
	((struct ferry_migration *)(m)->objects[FERRY_KIND_MIGRATION].items)
#define ferry_model_hooks(m)	((struct ferry_hook *)(m)->objects[FERRY_KIND_HOOK].items)
#define ferry_model_secrets(m)	((struct ferry_secret *)(m)->objects[FERRY_KIND_SECRET].items)
#define ferry_model_policies(m) ((struct ferry_policy *)(m)->objects[FERRY_KIND_POLICY].items)

/* The struct ferry_obj header of object i of kind k. */
const struct ferry_obj *ferry_model_obj(const struct ferry_model *m, enum ferry_kind k, size_t i);

/* Load every *.yaml / *.yml file under dir (recursively, in sorted path
 * order, skipping dot-directories such as .git). File names in positions and
 * findings are dir-relative paths joined to `dir` as given. Content problems
 * become findings; returns -1 with err only when the directory itself cannot
 * be read. */
int ferry_model_load_dir(struct ferry_model *m, const char *dir, struct ferry_findings *f,
			 struct ferry_err *err);

/* Load one YAML stream (all its documents) named `name`. Problems are
 * findings; never fails otherwise. */
void ferry_model_load_buffer(struct ferry_model *m, const char *name, const char *data, size_t len,
			     struct ferry_findings *f);

/* Cross-object checks (references, duplicates, per-kind rules) over
 * everything loaded. Pure: no I/O. */
void ferry_model_validate(const struct ferry_model *m, struct ferry_findings *f);

void ferry_model_release(struct ferry_model *m);

/* "Provider", "Plan", ... */
const char *ferry_kind_name(enum ferry_kind k);

/* Find an object by kind, namespace and name; NULL if absent. */
const struct ferry_obj *ferry_model_find(const struct ferry_model *m, enum ferry_kind k,
					 const char *ns, const char *name);

/* The template variables each name template may use (NULL-terminated). */
extern const char *const ferry_pvc_template_vars[];
extern const char *const ferry_volume_template_vars[];
extern const char *const ferry_network_template_vars[];

#endif
