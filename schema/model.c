#include "model.h"

#include "common/alloc.h"
#include "common/base64.h"
#include "common/strbuf.h"
#include "common/time.h"
#include "common/util.h"
#include "schema/names.h"
#include "schema/template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORKLIFT_API   "forklift.konveyor.io/v1beta1"
#define FORKLIFT_GROUP "forklift.konveyor.io"
#define FERRY_API      "ferry.dev/v1alpha1"
#define FERRY_GROUP    "ferry.dev"

/* ------------------------------------------------------------------------ */
/* Field tables                                                             */

enum ftype {
	T_STR,	    /* string */
	T_ENUM,	    /* string from `values` */
	T_NAME,	    /* string, RFC 1123 subdomain */
	T_LABEL,    /* string, RFC 1123 label */
	T_TIME,	    /* string, RFC 3339 with offset */
	T_BASE64,   /* string, standard base64 */
	T_TEMPLATE, /* string, Go template using the variables in `values` */
	T_BOOL,
	T_INT,
	T_STRMAP,  /* mapping of string to string */
	T_OPAQUE,  /* any subtree, kept as written */
	T_STRUCT,  /* mapping decoded with `sub` */
	T_LIST,	   /* sequence of `sub` mappings */
	T_STRLIST, /* sequence of strings */
	T_IGNORE,  /* accepted and not read (server-populated metadata) */
};

enum {
	F_REQUIRED = 1 << 0,
	F_DEPRECATED = 1 << 1, /* `note` says what to use instead */
	F_STATUS = 1 << 2,     /* a status block: ignored, with a note */
};

struct shape;

struct field {
	const char *name;
	enum ftype type;
	size_t off;
	const struct shape *sub;
	const char *const *values;
	unsigned flags;
	const char *note;
};

#define NONE ((size_t)-1)

struct shape {
	size_t size;	/* of one element, for lists */
	size_t set_off; /* offset of `bool set`, or NONE */
	size_t pos_off; /* offset of `struct ferry_pos pos`, or NONE */
	const struct field *fields;
};

#define END                                                                                        \
	{                                                                                          \
		NULL, T_IGNORE, 0, NULL, NULL, 0, NULL                                             \
	}

/* Offsets inside a nested (possibly anonymous) struct: member m of base in T. */
#define OFF(T, base, m) (offsetof(T, base.m) - offsetof(T, base))
#define F(name, type, off)                                                                         \
	{                                                                                          \
		name, type, off, NULL, NULL, 0, NULL                                               \
	}
#define FR(name, type, off)                                                                        \
	{                                                                                          \
		name, type, off, NULL, NULL, F_REQUIRED, NULL                                      \
	}
#define FE(name, off, vals)                                                                        \
	{                                                                                          \
		name, T_ENUM, off, NULL, vals, 0, NULL                                             \
	}
#define FS(name, type, off, sub)                                                                   \
	{                                                                                          \
		name, type, off, sub, NULL, 0, NULL                                                \
	}
#define FT(name, off, vars)                                                                        \
	{                                                                                          \
		name, T_TEMPLATE, off, NULL, vars, 0, NULL                                         \
	}

static const char *const provider_types[] = {"openshift", "vsphere", "ovirt",	"openstack", "ova",
					     "ec2",	  "hyperv",  "nutanix", NULL};
static const char *const sdk_endpoints[] = {"vcenter", "esxi", NULL};
static const char *const clone_methods[] = {"vib", "ssh", NULL};
static const char *const prism_types[] = {"central", "element", NULL};
static const char *const management_types[] = {"standalone", "cluster", NULL};
static const char *const network_types[] = {"pod", "multus", "ignored", NULL};
static const char *const source_network_types[] = {"pod", "multus", NULL};
static const char *const volume_modes[] = {"Filesystem", "Block", NULL};
static const char *const access_modes[] = {"ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany",
					   "ReadWriteOncePod", NULL};
static const char *const vendor_products[] = {
	"vantara",  "ontap",	  "primera3par", "pureFlashArray", "powerflex",
	"powermax", "powerstore", "infinibox",	 "flashsystem",	   NULL};
static const char *const csi_vendor_products[] = {"primera3par", "ontap", NULL};
static const char *const migration_types[] = {"cold", "warm", "live", "conversion", NULL};
static const char *const power_states[] = {"on", "off", "auto", NULL};
static const char *const hook_steps[] = {"PreHook", "PostHook", NULL};
static const char *const rule_categories[] = {"Critical", "Warning", "Information", NULL};

const char *const ferry_pvc_template_vars[] = {"VmName",
					       "TargetVmName",
					       "PlanName",
					       "DiskIndex",
					       "VmId",
					       "WinDriveLetter",
					       "RootDiskIndex",
					       "Shared",
					       "FileName",
					       "SourcePVCName",
					       "SourcePVCNamespace",
					       "VolumeID",
					       "SnapshotID",
					       "DiskId",
					       NULL};
const char *const ferry_volume_template_vars[] = {"PVCName", "VolumeIndex", NULL};
const char *const ferry_network_template_vars[] = {"NetworkName", "NetworkNamespace", "NetworkType",
						   "NetworkIndex", NULL};

/* ObjectReference, plus ref.Ref's id and type. */
static const struct field ref_fields[] = {
	F("name", T_STR, offsetof(struct ferry_ref, name)),
	F("namespace", T_STR, offsetof(struct ferry_ref, namespace_)),
	F("apiVersion", T_STR, offsetof(struct ferry_ref, api_version)),
	F("kind", T_STR, offsetof(struct ferry_ref, kind)),
	F("uid", T_STR, offsetof(struct ferry_ref, uid)),
	F("resourceVersion", T_STR, offsetof(struct ferry_ref, resource_version)),
	F("fieldPath", T_STR, offsetof(struct ferry_ref, field_path)),
	F("id", T_STR, offsetof(struct ferry_ref, id)),
	F("type", T_STR, offsetof(struct ferry_ref, type)),
	END,
};
static const struct shape ref_shape = {sizeof(struct ferry_ref), offsetof(struct ferry_ref, set),
				       offsetof(struct ferry_ref, pos), ref_fields};

static const struct field pair_fields[] = {
	FS("source", T_STRUCT, offsetof(struct ferry_provider_pair, source), &ref_shape),
	FS("destination", T_STRUCT, offsetof(struct ferry_provider_pair, destination), &ref_shape),
	END,
};
static const struct shape pair_shape = {sizeof(struct ferry_provider_pair),
					offsetof(struct ferry_provider_pair, set),
					offsetof(struct ferry_provider_pair, pos), pair_fields};

static const struct field meta_fields[] = {
	F("name", T_NAME, offsetof(struct ferry_meta, name)),
	F("namespace", T_LABEL, offsetof(struct ferry_meta, namespace_)),
	F("generateName", T_STR, offsetof(struct ferry_meta, generate_name)),
	F("labels", T_STRMAP, offsetof(struct ferry_meta, labels)),
	F("annotations", T_STRMAP, offsetof(struct ferry_meta, annotations)),
	F("ownerReferences", T_OPAQUE, offsetof(struct ferry_meta, owner_references)),
	/* set by the API server; present in `kubectl get -o yaml` exports */
	F("uid", T_IGNORE, 0),
	F("resourceVersion", T_IGNORE, 0),
	F("generation", T_IGNORE, 0),
	F("creationTimestamp", T_IGNORE, 0),
	F("deletionTimestamp", T_IGNORE, 0),
	F("deletionGracePeriodSeconds", T_IGNORE, 0),
	F("managedFields", T_IGNORE, 0),
	F("selfLink", T_IGNORE, 0),
	F("finalizers", T_IGNORE, 0),
	END,
};
static const struct shape meta_shape = {sizeof(struct ferry_meta), offsetof(struct ferry_meta, set),
					offsetof(struct ferry_meta, pos), meta_fields};

#define STATUS_FIELD                                                                               \
	{                                                                                          \
		"status", T_IGNORE, 0, NULL, NULL, F_STATUS, NULL                                  \
	}
#define HEADER_FIELDS(T)                                                                           \
	FR("apiVersion", T_STR, offsetof(T, obj.api_version)),                                     \
		FR("kind", T_STR, offsetof(T, obj.kind_name)),                                     \
	{                                                                                          \
		"metadata", T_STRUCT, offsetof(T, obj.metadata), &meta_shape, NULL, F_REQUIRED,    \
			NULL                                                                       \
	}

/* The top level of a kind whose body is under spec. */
#define KIND_FIELDS(T, spec_shape)                                                                 \
	HEADER_FIELDS(T),                                                                          \
		{"spec", T_STRUCT, offsetof(T, spec), &spec_shape, NULL, F_REQUIRED, NULL},        \
		STATUS_FIELD, END

/* Provider */
#define PS(m) OFF(struct ferry_provider, spec.settings, m)
static const struct field settings_fields[] = {
	F("vddkInitImage", T_STR, PS(vddk_init_image)),
	FE("sdkEndpoint", PS(sdk_endpoint), sdk_endpoints),
	F("useVddkAioOptimization", T_STR, PS(use_vddk_aio_optimization)),
	F("vddkConfig", T_STR, PS(vddk_config)),
	FE("esxiCloneMethod", PS(esxi_clone_method), clone_methods),
	F("target-az", T_STR, PS(target_az)),
	F("target-region", T_STR, PS(target_region)),
	FE("prismType", PS(prism_type), prism_types),
	F("clusterUuid", T_STR, PS(cluster_uuid)),
	FE("managementType", PS(management_type), management_types),
	END,
};
static const struct shape settings_shape = {0, PS(set), PS(pos), settings_fields};

#define PR(m) OFF(struct ferry_provider, spec, m)
static const struct field provider_spec_fields[] = {
	{"type", T_ENUM, PR(type), NULL, provider_types, F_REQUIRED, NULL},
	F("url", T_STR, PR(url)),
	FS("secret", T_STRUCT, PR(secret), &ref_shape),
	FS("settings", T_STRUCT, PR(settings), &settings_shape),
	END,
};
static const struct shape provider_spec_shape = {0, NONE, NONE, provider_spec_fields};
static const struct field provider_fields[] = {
	KIND_FIELDS(struct ferry_provider, provider_spec_shape)};

/* Host */
#define HS(m) OFF(struct ferry_host, spec, m)
static const struct field host_spec_fields[] = {
	F("id", T_STR, HS(id)),
	F("name", T_STR, HS(name)),
	F("ipAddress", T_STR, HS(ip_address)),
	{"provider", T_STRUCT, HS(provider), &ref_shape, NULL, F_REQUIRED, NULL},
	FS("secret", T_STRUCT, HS(secret), &ref_shape),
	END,
};
static const struct shape host_spec_shape = {0, NONE, NONE, host_spec_fields};
static const struct field host_fields[] = {KIND_FIELDS(struct ferry_host, host_spec_shape)};

/* NetworkMap */
#define NP(m) offsetof(struct ferry_network_pair, m)
static const struct field netsrc_fields[] = {
	F("id", T_STR, OFF(struct ferry_network_pair, source, id)),
	F("name", T_STR, OFF(struct ferry_network_pair, source, name)),
	F("namespace", T_STR, OFF(struct ferry_network_pair, source, namespace_)),
	FE("type", OFF(struct ferry_network_pair, source, type), source_network_types),
	F("vlan", T_STR, OFF(struct ferry_network_pair, source, vlan)),
	END,
};
static const struct shape netsrc_shape = {0, OFF(struct ferry_network_pair, source, set),
					  OFF(struct ferry_network_pair, source, pos),
					  netsrc_fields};
static const struct field netdst_fields[] = {
	{"type", T_ENUM, OFF(struct ferry_network_pair, destination, type), NULL, network_types,
	 F_REQUIRED, NULL},
	F("name", T_STR, OFF(struct ferry_network_pair, destination, name)),
	F("namespace", T_STR, OFF(struct ferry_network_pair, destination, namespace_)),
	END,
};
static const struct shape netdst_shape = {0, OFF(struct ferry_network_pair, destination, set),
					  OFF(struct ferry_network_pair, destination, pos),
					  netdst_fields};
static const struct field netpair_fields[] = {
	{"source", T_STRUCT, NP(source), &netsrc_shape, NULL, F_REQUIRED, NULL},
	{"destination", T_STRUCT, NP(destination), &netdst_shape, NULL, F_REQUIRED, NULL},
	END,
};
static const struct shape netpair_shape = {sizeof(struct ferry_network_pair), NONE, NP(pos),
					   netpair_fields};
#define NM(m) OFF(struct ferry_networkmap, spec, m)
static const struct field networkmap_spec_fields[] = {
	{"provider", T_STRUCT, NM(provider), &pair_shape, NULL, F_REQUIRED, NULL},
	FS("map", T_LIST, NM(map), &netpair_shape),
	END,
};
static const struct shape networkmap_spec_shape = {0, NONE, NONE, networkmap_spec_fields};
static const struct field networkmap_fields[] = {
	KIND_FIELDS(struct ferry_networkmap, networkmap_spec_shape)};

/* StorageMap */
#define OP(m) offsetof(struct ferry_offload_plugin, m)
static const struct field xcopy_fields[] = {
	F("secretRef", T_STR, OFF(struct ferry_offload_plugin, vsphere_xcopy_config, secret_ref)),
	{"storageVendorProduct", T_ENUM,
	 OFF(struct ferry_offload_plugin, vsphere_xcopy_config, storage_vendor_product), NULL,
	 vendor_products, F_REQUIRED, NULL},
	F("dedicatedMigrationHosts", T_STRLIST,
	  OFF(struct ferry_offload_plugin, vsphere_xcopy_config, dedicated_migration_hosts)),
	END,
};
static const struct shape xcopy_shape = {
	0, OFF(struct ferry_offload_plugin, vsphere_xcopy_config, set),
	OFF(struct ferry_offload_plugin, vsphere_xcopy_config, pos), xcopy_fields};
static const struct field csi_fields[] = {
	F("secretRef", T_STR, OFF(struct ferry_offload_plugin, csi_volume_import, secret_ref)),
	{"storageVendorProduct", T_ENUM,
	 OFF(struct ferry_offload_plugin, csi_volume_import, storage_vendor_product), NULL,
	 csi_vendor_products, F_REQUIRED, NULL},
	END,
};
static const struct shape csi_shape = {0, OFF(struct ferry_offload_plugin, csi_volume_import, set),
				       OFF(struct ferry_offload_plugin, csi_volume_import, pos),
				       csi_fields};
static const struct field offload_fields[] = {
	FS("vsphereXcopyConfig", T_STRUCT, OP(vsphere_xcopy_config), &xcopy_shape),
	FS("csiVolumeImport", T_STRUCT, OP(csi_volume_import), &csi_shape),
	END,
};
static const struct shape offload_shape = {0, OP(set), OP(pos), offload_fields};
#define SP(m) offsetof(struct ferry_storage_pair, m)
static const struct field stsrc_fields[] = {
	F("id", T_STR, OFF(struct ferry_storage_pair, source, id)),
	F("name", T_STR, OFF(struct ferry_storage_pair, source, name)),
	F("namespace", T_STR, OFF(struct ferry_storage_pair, source, namespace_)),
	F("type", T_STR, OFF(struct ferry_storage_pair, source, type)),
	END,
};
static const struct shape stsrc_shape = {0, OFF(struct ferry_storage_pair, source, set),
					 OFF(struct ferry_storage_pair, source, pos), stsrc_fields};
static const struct field stdst_fields[] = {
	F("storageClass", T_STR, OFF(struct ferry_storage_pair, destination, storage_class)),
	FE("volumeMode", OFF(struct ferry_storage_pair, destination, volume_mode), volume_modes),
	FE("accessMode", OFF(struct ferry_storage_pair, destination, access_mode), access_modes),
	FS("offloadPlugin", T_STRUCT, OFF(struct ferry_storage_pair, destination, offload_plugin),
	   &offload_shape),
	END,
};
static const struct shape stdst_shape = {0, OFF(struct ferry_storage_pair, destination, set),
					 OFF(struct ferry_storage_pair, destination, pos),
					 stdst_fields};
static const struct field stpair_fields[] = {
	{"source", T_STRUCT, SP(source), &stsrc_shape, NULL, F_REQUIRED, NULL},
	{"destination", T_STRUCT, SP(destination), &stdst_shape, NULL, F_REQUIRED, NULL},
	FS("offloadPlugin", T_STRUCT, SP(offload_plugin), &offload_shape),
	END,
};
static const struct shape stpair_shape = {sizeof(struct ferry_storage_pair), NONE, SP(pos),
					  stpair_fields};
#define SM(m) OFF(struct ferry_storagemap, spec, m)
static const struct field storagemap_spec_fields[] = {
	{"provider", T_STRUCT, SM(provider), &pair_shape, NULL, F_REQUIRED, NULL},
	FS("map", T_LIST, SM(map), &stpair_shape),
	END,
};
static const struct shape storagemap_spec_shape = {0, NONE, NONE, storagemap_spec_fields};
static const struct field storagemap_fields[] = {
	KIND_FIELDS(struct ferry_storagemap, storagemap_spec_shape)};

/* Plan */
#define PH(m) offsetof(struct ferry_plan_hook, m)
static const struct field plan_hook_fields[] = {
	{"hook", T_STRUCT, PH(hook), &ref_shape, NULL, F_REQUIRED, NULL},
	{"step", T_ENUM, PH(step), NULL, hook_steps, F_REQUIRED, NULL},
	END,
};
static const struct shape plan_hook_shape = {sizeof(struct ferry_plan_hook), NONE, PH(pos),
					     plan_hook_fields};
#define PV(m) offsetof(struct ferry_plan_vm, m)
static const struct field plan_vm_fields[] = {
	F("id", T_STR, PV(id)),
	F("name", T_STR, PV(name)),
	F("namespace", T_STR, PV(namespace_)),
	F("type", T_STR, PV(type)),
	FS("hooks", T_LIST, PV(hooks), &plan_hook_shape),
	FS("luks", T_STRUCT, PV(luks), &ref_shape),
	F("nbdeClevis", T_BOOL, PV(nbde_clevis)),
	F("rootDisk", T_STR, PV(root_disk)),
	F("instanceType", T_STR, PV(instance_type)),
	FT("pvcNameTemplate", PV(pvc_name_template), ferry_pvc_template_vars),
	FT("volumeNameTemplate", PV(volume_name_template), ferry_volume_template_vars),
	FT("networkNameTemplate", PV(network_name_template), ferry_network_template_vars),
	F("targetName", T_NAME, PV(target_name)),
	FE("targetPowerState", PV(target_power_state), power_states),
	F("deleteVmOnFailMigration", T_BOOL, PV(delete_vm_on_fail_migration)),
	F("migrateSharedDisks", T_BOOL, PV(migrate_shared_disks)),
	F("enableNestedVirtualization", T_BOOL, PV(enable_nested_virtualization)),
	F("rdmAsLun", T_BOOL, PV(rdm_as_lun)),
	F("scsiReservation", T_BOOL, PV(scsi_reservation)),
	END,
};
static const struct shape plan_vm_shape = {sizeof(struct ferry_plan_vm), NONE, PV(pos),
					   plan_vm_fields};
static const struct field plan_map_fields[] = {
	{"network", T_STRUCT, OFF(struct ferry_plan, spec.map, network), &ref_shape, NULL,
	 F_REQUIRED, NULL},
	{"storage", T_STRUCT, OFF(struct ferry_plan, spec.map, storage), &ref_shape, NULL,
	 F_REQUIRED, NULL},
	END,
};
static const struct shape plan_map_shape = {0, OFF(struct ferry_plan, spec.map, set),
					    OFF(struct ferry_plan, spec.map, pos), plan_map_fields};
static const struct field tag_mapping_fields[] = {
	F("disabled", T_BOOL, OFF(struct ferry_plan, spec.tag_mapping, disabled)),
	F("labelTags", T_STRLIST, OFF(struct ferry_plan, spec.tag_mapping, label_tags)),
	END,
};
static const struct shape tag_mapping_shape = {0, OFF(struct ferry_plan, spec.tag_mapping, set),
					       OFF(struct ferry_plan, spec.tag_mapping, pos),
					       tag_mapping_fields};
#define PL(m) OFF(struct ferry_plan, spec, m)
static const struct field plan_spec_fields[] = {
	F("description", T_STR, PL(description)),
	F("targetNamespace", T_LABEL, PL(target_namespace)),
	{"provider", T_STRUCT, PL(provider), &pair_shape, NULL, F_REQUIRED, NULL},
	{"map", T_STRUCT, PL(map), &plan_map_shape, NULL, F_REQUIRED, NULL},
	FS("vms", T_LIST, PL(vms), &plan_vm_shape),
	FE("type", PL(type), migration_types),
	{"warm", T_BOOL, PL(warm), NULL, NULL, F_DEPRECATED, "use `type: warm` or `type: cold`"},
	F("archived", T_BOOL, PL(archived)),
	FS("transferNetwork", T_STRUCT, PL(transfer_network), &ref_shape),
	F("serviceAccount", T_STR, PL(service_account)),
	F("targetLabels", T_STRMAP, PL(target_labels)),
	F("targetNodeSelector", T_STRMAP, PL(target_node_selector)),
	F("targetAffinity", T_OPAQUE, PL(target_affinity)),
	FE("targetPowerState", PL(target_power_state), power_states),
	F("preserveClusterCpuModel", T_BOOL, PL(preserve_cluster_cpu_model)),
	F("preserveStaticIPs", T_BOOL, PL(preserve_static_ips)),
	F("enableNestedVirtualization", T_BOOL, PL(enable_nested_virtualization)),
	F("useCompatibilityMode", T_BOOL, PL(use_compatibility_mode)),
	F("skipGuestConversion", T_BOOL, PL(skip_guest_conversion)),
	F("installLegacyDrivers", T_BOOL, PL(install_legacy_drivers)),
	{"diskBus", T_STR, PL(disk_bus), NULL, NULL, F_DEPRECATED,
	 "the bus follows useCompatibilityMode"},
	F("rdmAsLun", T_BOOL, PL(rdm_as_lun)),
	F("scsiReservation", T_BOOL, PL(scsi_reservation)),
	F("migrateSharedDisks", T_BOOL, PL(migrate_shared_disks)),
	F("deleteVmOnFailMigration", T_BOOL, PL(delete_vm_on_fail_migration)),
	F("deleteGuestConversionPod", T_BOOL, PL(delete_guest_conversion_pod)),
	F("skipZoneNodeSelector", T_BOOL, PL(skip_zone_node_selector)),
	FS("tagMapping", T_STRUCT, PL(tag_mapping), &tag_mapping_shape),
	FT("pvcNameTemplate", PL(pvc_name_template), ferry_pvc_template_vars),
	FT("volumeNameTemplate", PL(volume_name_template), ferry_volume_template_vars),
	FT("networkNameTemplate", PL(network_name_template), ferry_network_template_vars),
	F("pvcNameTemplateUseGenerateName", T_BOOL, PL(pvc_name_template_use_generate_name)),
	F("convertorLabels", T_STRMAP, PL(convertor_labels)),
	F("convertorNodeSelector", T_STRMAP, PL(convertor_node_selector)),
	F("convertorAffinity", T_OPAQUE, PL(convertor_affinity)),
	F("conversionTempStorageClass", T_STR, PL(conversion_temp_storage_class)),
	F("conversionTempStorageSize", T_STR, PL(conversion_temp_storage_size)),
	F("virtV2vImage", T_STR, PL(virt_v2v_image)),
	F("xfsCompatibility", T_BOOL, PL(xfs_compatibility)),
	F("runPreflightInspection", T_BOOL, PL(run_preflight_inspection)),
	FS("customizationScripts", T_STRUCT, PL(customization_scripts), &ref_shape),
	END,
};
static const struct shape plan_spec_shape = {0, NONE, NONE, plan_spec_fields};
static const struct field plan_fields[] = {KIND_FIELDS(struct ferry_plan, plan_spec_shape)};

/* Migration */
#define VR(m) offsetof(struct ferry_vm_ref, m)
static const struct field vm_ref_fields[] = {
	F("id", T_STR, VR(id)),
	F("name", T_STR, VR(name)),
	F("namespace", T_STR, VR(namespace_)),
	F("type", T_STR, VR(type)),
	END,
};
static const struct shape vm_ref_shape = {sizeof(struct ferry_vm_ref), NONE, VR(pos),
					  vm_ref_fields};
#define VC(m) offsetof(struct ferry_vm_cutover, m)
static const struct field vm_cutover_fields[] = {
	F("id", T_STR, VC(id)),
	F("name", T_STR, VC(name)),
	{"cutover", T_TIME, VC(cutover), NULL, NULL, F_REQUIRED, NULL},
	END,
};
static const struct shape vm_cutover_shape = {sizeof(struct ferry_vm_cutover), NONE, VC(pos),
					      vm_cutover_fields};
#define MG(m) OFF(struct ferry_migration, spec, m)
static const struct field migration_spec_fields[] = {
	{"plan", T_STRUCT, MG(plan), &ref_shape, NULL, F_REQUIRED, NULL},
	FS("cancel", T_LIST, MG(cancel), &vm_ref_shape),
	F("cutover", T_TIME, MG(cutover)),
	FS("vmCutover", T_LIST, MG(vm_cutover), &vm_cutover_shape),
	F("resumeConversion", T_BOOL, MG(resume_conversion)),
	END,
};
static const struct shape migration_spec_shape = {0, NONE, NONE, migration_spec_fields};
static const struct field migration_fields[] = {
	KIND_FIELDS(struct ferry_migration, migration_spec_shape)};

/* Hook */
#define AA(m) OFF(struct ferry_hook, spec.aap, m)
static const struct field aap_fields[] = {
	{"jobTemplateId", T_INT, AA(job_template_id), NULL, NULL, F_REQUIRED, NULL},
	F("url", T_STR, AA(url)),
	FS("tokenSecret", T_STRUCT, AA(token_secret), &ref_shape),
	F("timeout", T_INT, AA(timeout)),
	END,
};
static const struct shape aap_shape = {0, AA(set), AA(pos), aap_fields};
#define HK(m) OFF(struct ferry_hook, spec, m)
static const struct field hook_spec_fields[] = {
	F("image", T_STR, HK(image)),
	F("serviceAccount", T_STR, HK(service_account)),
	F("playbook", T_BASE64, HK(playbook)),
	F("deadline", T_INT, HK(deadline)),
	FS("aap", T_STRUCT, HK(aap), &aap_shape),
	END,
};
static const struct shape hook_spec_shape = {0, NONE, NONE, hook_spec_fields};
static const struct field hook_fields[] = {KIND_FIELDS(struct ferry_hook, hook_spec_shape)};

/* Secret: the body is at the top level, next to metadata. */
static const struct field secret_fields[] = {
	HEADER_FIELDS(struct ferry_secret),
	F("type", T_STR, offsetof(struct ferry_secret, body.type)),
	F("data", T_STRMAP, offsetof(struct ferry_secret, body.data)),
	F("stringData", T_STRMAP, offsetof(struct ferry_secret, body.string_data)),
	F("immutable", T_BOOL, offsetof(struct ferry_secret, body.immutable)),
	END,
};

/* Policy */
#define PRL(m) offsetof(struct ferry_policy_rule, m)
static const struct field rule_fields[] = {
	FR("id", T_STR, PRL(id)),
	FR("condition", T_STR, PRL(condition)),
	{"category", T_ENUM, PRL(category), NULL, rule_categories, F_REQUIRED, NULL},
	FR("label", T_STR, PRL(label)),
	F("assessment", T_STR, PRL(assessment)),
	F("providers", T_STRLIST, PRL(providers)),
	END,
};
static const struct shape rule_shape = {sizeof(struct ferry_policy_rule), NONE, PRL(pos),
					rule_fields};
#define PO(m)  OFF(struct ferry_policy, spec, m)
#define PG(m)  OFF(struct ferry_policy, spec.gates, m)
#define PGS(m) OFF(struct ferry_policy, spec.gates.signature, m)
#define PGA(m) OFF(struct ferry_policy, spec.gates.approvals, m)
static const char *const gate_signature_kinds[] = {"none", "any", "ssh", "openpgp", NULL};
static const struct field gate_signature_fields[] = {
	{"require", T_ENUM, PGS(require), NULL, gate_signature_kinds, F_REQUIRED, NULL},
	F("allowedSigners", T_STR, PGS(allowed_signers)),
	F("openpgpKeys", T_STR, PGS(openpgp_keys)),
	END,
};
static const struct shape gate_signature_shape = {0, PGS(set), PGS(pos), gate_signature_fields};
static const struct field gate_approvals_fields[] = {
	FR("count", T_INT, PGA(count)),
	F("approvers", T_STRLIST, PGA(approvers)),
	F("trailers", T_STRLIST, PGA(trailers)),
	END,
};
static const struct shape gate_approvals_shape = {0, PGA(set), PGA(pos), gate_approvals_fields};
static const struct field gates_fields[] = {
	FS("signature", T_STRUCT, PG(signature), &gate_signature_shape),
	FS("approvals", T_STRUCT, PG(approvals), &gate_approvals_shape),
	END,
};
static const struct shape gates_shape = {0, PG(set), PG(pos), gates_fields};
static const struct field policy_spec_fields[] = {
	F("description", T_STR, PO(description)),
	FS("rules", T_LIST, PO(rules), &rule_shape),
	FS("gates", T_STRUCT, PO(gates), &gates_shape),
	END,
};
static const struct shape policy_spec_shape = {0, NONE, NONE, policy_spec_fields};
static const struct field policy_fields[] = {KIND_FIELDS(struct ferry_policy, policy_spec_shape)};

struct kind_info {
	const char *name;
	const char *api_version;
	struct shape shape;
};

static const struct kind_info kinds[FERRY_KIND_COUNT] = {
	[FERRY_KIND_PROVIDER] = {"Provider",
				 FORKLIFT_API,
				 {sizeof(struct ferry_provider), NONE, NONE, provider_fields}},
	[FERRY_KIND_HOST] = {"Host",
			     FORKLIFT_API,
			     {sizeof(struct ferry_host), NONE, NONE, host_fields}},
	[FERRY_KIND_NETWORKMAP] = {"NetworkMap",
				   FORKLIFT_API,
				   {sizeof(struct ferry_networkmap), NONE, NONE,
				    networkmap_fields}},
	[FERRY_KIND_STORAGEMAP] = {"StorageMap",
				   FORKLIFT_API,
				   {sizeof(struct ferry_storagemap), NONE, NONE,
				    storagemap_fields}},
	[FERRY_KIND_PLAN] = {"Plan",
			     FORKLIFT_API,
			     {sizeof(struct ferry_plan), NONE, NONE, plan_fields}},
	[FERRY_KIND_MIGRATION] = {"Migration",
				  FORKLIFT_API,
				  {sizeof(struct ferry_migration), NONE, NONE, migration_fields}},
	[FERRY_KIND_HOOK] = {"Hook",
			     FORKLIFT_API,
			     {sizeof(struct ferry_hook), NONE, NONE, hook_fields}},
	[FERRY_KIND_SECRET] = {"Secret",
			       "v1",
			       {sizeof(struct ferry_secret), NONE, NONE, secret_fields}},
	[FERRY_KIND_POLICY] = {"Policy",
			       FERRY_API,
			       {sizeof(struct ferry_policy), NONE, NONE, policy_fields}},
};

/* Fields people put one level off, with where they belong. */
static const struct {
	const char *kind, *path, *hint;
} misplaced[] = {
	{"Migration", "spec.plan.cutover", "spec.cutover (a sibling of spec.plan)"},
	{"Plan", "metadata.preserveClusterCpuModel", "spec.preserveClusterCpuModel"},
	{"Plan", "metadata.targetNamespace", "spec.targetNamespace"},
};

const char *ferry_kind_name(enum ferry_kind k)
{
	return k < FERRY_KIND_COUNT ? kinds[k].name : "?";
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */

struct dctx {
	struct ferry_findings *f;
	const char *kind; /* for messages */
};

#define PATH_MAX_LEN 512

/* Paths only label messages: a path cut at PATH_MAX_LEN is still useful. */
static void child_path(char *out, const char *parent, const char *name)
{
	int n = *parent ? snprintf(out, PATH_MAX_LEN, "%s.%s", parent, name)
			: snprintf(out, PATH_MAX_LEN, "%s", name);
	if (n >= PATH_MAX_LEN)
		memcpy(out + PATH_MAX_LEN - 4, "...", 4);
}

static bool in_values(const char *s, const char *const *values)
{
	for (; *values; values++)
		if (!strcmp(s, *values))
			return true;
	return false;
}

static void join_values(struct ferry_sb *sb, const char *const *values, const char *prefix)
{
	for (size_t i = 0; values[i]; i++)
		ferry_sb_addf(sb, "%s%s%s", i ? ", " : "", prefix, values[i]);
}

static size_t count_values(const char *const *values)
{
	size_t n = 0;
	while (values[n])
		n++;
	return n;
}

/* Read a scalar that must be a string. Kubernetes decodes YAML into JSON
 * first, so an unquoted `yes` or `42` is not a string there; say so rather
 * than guessing. Returns false (and reports) when the node is unusable;
 * *out NULL means null/absent. */
static bool read_string(struct dctx *c, const struct ferry_node *n, const char *path,
			const char **out)
{
	*out = NULL;
	if (n->kind != FERRY_NODE_SCALAR) {
		ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.type", &n->pos,
				   "%s: expected a string, found %s", path,
				   ferry_node_kind_name(n));
		return false;
	}
	switch (ferry_scalar_resolve(n)) {
	case FERRY_SCALAR_NULL: return true;
	case FERRY_SCALAR_STR: *out = n->u.scalar.text; return true;
	default:
		ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.type", &n->pos,
				   "%s: expected a string, found %s `%s` (Kubernetes reads it "
				   "unquoted as that type); quote it: \"%s\"",
				   path, ferry_node_kind_name(n), n->u.scalar.text,
				   n->u.scalar.text);
		return false;
	}
}

static void set_str(struct ferry_str *s, const char *v, const struct ferry_node *n)
{
	s->v = ferry_xstrdup(v);
	s->pos = n->pos;
}

/* Characters (not bytes) in the first n bytes of s: libyaml counts columns
 * in characters. */
static int utf8_chars(const char *s, int n)
{
	int chars = 0;
	for (int i = 0; i < n && s[i]; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	return chars;
}

/* Position of a byte of a scalar's text, for errors found inside it
 * (templates, times, base64). Exact for plain scalars and for quoted ones
 * without escapes on one line; for a block scalar, the line is the first
 * line of its content and the column that of the indicator. */
static struct ferry_pos inner_pos(const struct ferry_node *n, int line, int col)
{
	struct ferry_pos p = n->pos;
	const char *text = n->u.scalar.text;

	if (n->u.scalar.style == FERRY_SCALAR_BLOCK) {
		p.line += line > 0 ? line : 1;
		return p;
	}
	if (line > 1) {
		p.line += line - 1;
		p.col = col > 0 ? col : 1;
		return p;
	}
	if (col > 0)
		p.col += utf8_chars(text, col - 1) + (n->u.scalar.style == FERRY_SCALAR_QUOTED);
	return p;
}

static void check_template(struct dctx *c, const struct field *fd, const struct ferry_node *n,
			   const char *path, const char *text)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_tmpl *t = NULL;

	if (ferry_tmpl_parse(text, &t, &err)) {
		struct ferry_pos p = inner_pos(n, err.line, err.col);
		ferry_findings_add(c->f, FERRY_CAT_ERROR, "template.syntax", &p,
				   "%s: template does not parse: %s", path, err.msg);
		return;
	}
	for (size_t i = 0; i < ferry_tmpl_field_count(t); i++) {
		int line = 0, col = 0;
		const char *var = ferry_tmpl_field(t, i, &line, &col);
		struct ferry_pos p;
		struct ferry_sb known = FERRY_SB_INIT;
		const char *near;

		if (in_values(var, fd->values))
			continue;
		p = inner_pos(n, line, col);
		near = ferry_nearest(var, fd->values, count_values(fd->values));
		join_values(&known, fd->values, ".");
		if (near)
			ferry_findings_add(
				c->f, FERRY_CAT_ERROR, "template.unknown-variable", &p,
				"%s: unknown variable .%s; did you mean .%s? (known: %s)", path,
				var, near, known.buf);
		else
			ferry_findings_add(c->f, FERRY_CAT_ERROR, "template.unknown-variable", &p,
					   "%s: unknown variable .%s (known: %s)", path, var,
					   known.buf);
		ferry_sb_release(&known);
	}
	ferry_tmpl_free(t);
}

static void decode_string_field(struct dctx *c, const struct field *fd, const struct ferry_node *n,
				const char *path, struct ferry_str *out)
{
	const char *v, *why = NULL;
	struct ferry_err err = FERRY_ERR_INIT;

	if (!read_string(c, n, path, &v) || !v)
		return;
	set_str(out, v, n);
	switch (fd->type) {
	case T_ENUM:
		if (!in_values(v, fd->values)) {
			struct ferry_sb sb = FERRY_SB_INIT;
			const char *near = ferry_nearest(v, fd->values, count_values(fd->values));
			join_values(&sb, fd->values, "");
			ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.enum", &n->pos,
					   "%s: \"%s\" is not one of: %s%s%s%s", path, v, sb.buf,
					   near ? " (did you mean \"" : "", near ? near : "",
					   near ? "\"?)" : "");
			ferry_sb_release(&sb);
		}
		break;
	case T_NAME:
		if (!ferry_dns1123_subdomain(v, &why))
			ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.name.rfc1123", &n->pos,
					   "%s: \"%s\" is not a valid Kubernetes name (RFC 1123 "
					   "subdomain): %s",
					   path, v, why);
		break;
	case T_LABEL:
		if (!ferry_dns1123_label(v, &why))
			ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.name.rfc1123", &n->pos,
					   "%s: \"%s\" is not a valid namespace name (RFC 1123 "
					   "label): %s",
					   path, v, why);
		break;
	case T_TIME: {
		struct ferry_time t;
		if (ferry_time_parse(v, &t, &err)) {
			struct ferry_pos p = inner_pos(n, 1, err.col);
			ferry_findings_add(
				c->f, FERRY_CAT_ERROR, "schema.time", &p,
				"%s: \"%s\" is not an RFC 3339 time (ISO 8601 with a UTC "
				"offset, e.g. 2024-04-04T01:23:45.678+09:00): %s",
				path, v, err.msg);
		}
		break;
	}
	case T_BASE64:
		if (!ferry_base64_valid(v, strlen(v), &err)) {
			struct ferry_pos p = n->pos;
			if (n->u.scalar.style != FERRY_SCALAR_BLOCK && !strchr(v, '\n'))
				p = inner_pos(n, 1, err.col);
			ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.base64", &p,
					   "%s: not valid base64 (encode the playbook with "
					   "`base64 -w0 playbook.yml`): %s",
					   path, err.msg);
		}
		break;
	case T_TEMPLATE: check_template(c, fd, n, path, v); break;
	default: break;
	}
}

static void decode_bool(struct dctx *c, const struct ferry_node *n, const char *path,
			struct ferry_bool *out)
{
	bool v, yaml11;

	if (ferry_node_is_null(n))
		return;
	if (n->kind != FERRY_NODE_SCALAR || ferry_scalar_resolve(n) != FERRY_SCALAR_BOOL ||
	    !ferry_scalar_bool(n, &v, &yaml11)) {
		if (n->kind == FERRY_NODE_SCALAR && n->u.scalar.style == FERRY_SCALAR_QUOTED &&
		    ferry_scalar_bool(n, &v, &yaml11))
			ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.type", &n->pos,
					   "%s: expected a boolean, found the string \"%s\"; "
					   "remove the quotes",
					   path, n->u.scalar.text);
		else
			ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.type", &n->pos,
					   "%s: expected a boolean (true or false), found %s", path,
					   ferry_node_kind_name(n));
		return;
	}
	if (yaml11)
		ferry_findings_add(c->f, FERRY_CAT_WARNING, "yaml.bool-1-1", &n->pos,
				   "%s: `%s` is a YAML 1.1 boolean (read as %s); write %s", path,
				   n->u.scalar.text, v ? "true" : "false", v ? "true" : "false");
	out->set = true;
	out->v = v;
	out->pos = n->pos;
}

static void decode_int(struct dctx *c, const struct ferry_node *n, const char *path,
		       struct ferry_int *out)
{
	long long v;

	if (ferry_node_is_null(n))
		return;
	if (n->kind != FERRY_NODE_SCALAR || ferry_scalar_resolve(n) != FERRY_SCALAR_INT ||
	    !ferry_scalar_int(n, &v)) {
		ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.type", &n->pos,
				   "%s: expected an integer, found %s", path,
				   ferry_node_kind_name(n));
		return;
	}
	out->set = true;
	out->v = v;
	out->pos = n->pos;
}

static void decode_strmap(struct dctx *c, const struct ferry_node *n, const char *path,
			  struct ferry_strmap *out)
{
	if (ferry_node_is_null(n))
		return;
	if (n->kind != FERRY_NODE_MAP) {
		ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.type", &n->pos,
				   "%s: expected a mapping of strings (key: value), found %s", path,
				   ferry_node_kind_name(n));
		return;
	}
	out->set = true;
	out->pos = n->pos;
	for (size_t i = 0; i < n->u.map.len; i++) {
		const struct ferry_node *k = n->u.map.pairs[i].key, *v = n->u.map.pairs[i].value;
		char sub[PATH_MAX_LEN];
		const char *ks, *vs;
		struct ferry_kv *kv;

		if (!read_string(c, k, path, &ks) || !ks)
			continue;
		child_path(sub, path, ks);
		if (!read_string(c, v, sub, &vs))
			continue;
		kv = FERRY_PUSH(out->items, out->len, out->cap);
		set_str(&kv->key, ks, k);
		if (vs)
			set_str(&kv->value, vs, v);
		else
			kv->value.pos = v->pos;
	}
}

static void decode_struct(struct dctx *c, const struct shape *sh, const struct ferry_node *n,
			  const char *path, void *out);

static void decode_list(struct dctx *c, const struct field *fd, const struct ferry_node *n,
			const char *path, struct ferry_list *out)
{
	size_t size = fd->type == T_STRLIST ? sizeof(struct ferry_str) : fd->sub->size;

	if (ferry_node_is_null(n))
		return;
	if (n->kind != FERRY_NODE_SEQ) {
		ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.type", &n->pos,
				   "%s: expected a list, found %s", path, ferry_node_kind_name(n));
		return;
	}
	out->set = true;
	out->pos = n->pos;
	for (size_t i = 0; i < n->u.seq.len; i++) {
		char sub[PATH_MAX_LEN];
		void *elem;

		if (snprintf(sub, sizeof sub, "%s[%zu]", path, i) >= (int)sizeof sub)
			memcpy(sub + sizeof sub - 4, "...", 4);
		out->items = ferry_grow(out->items, &out->cap, out->len + 1, size);
		elem = (char *)out->items + out->len * size;
		memset(elem, 0, size);
		out->len++;
		if (fd->type == T_STRLIST) {
			const char *v;
			struct ferry_str *s = elem;
			s->pos = n->u.seq.items[i]->pos;
			if (read_string(c, n->u.seq.items[i], sub, &v) && v)
				set_str(s, v, n->u.seq.items[i]);
		} else {
			decode_struct(c, fd->sub, n->u.seq.items[i], sub, elem);
		}
	}
}

static void unknown_field(struct dctx *c, const struct shape *sh, const struct ferry_node *k,
			  const char *path, const char *name)
{
	const char *names[128];
	size_t nn = 0;
	const char *near;
	char full[PATH_MAX_LEN];

	child_path(full, path, name);
	for (size_t i = 0; i < sizeof misplaced / sizeof *misplaced; i++) {
		if (!strcmp(c->kind, misplaced[i].kind) && !strcmp(full, misplaced[i].path)) {
			ferry_findings_add(c->f, FERRY_CAT_WARNING, "schema.unknown-field", &k->pos,
					   "%s: unknown field \"%s\", ignored: it belongs at %s",
					   c->kind, full, misplaced[i].hint);
			return;
		}
	}
	for (const struct field *fd = sh->fields; fd->name && nn < 128; fd++)
		names[nn++] = fd->name;
	near = ferry_nearest(name, names, nn);
	if (near)
		ferry_findings_add(c->f, FERRY_CAT_WARNING, "schema.unknown-field", &k->pos,
				   "%s: unknown field \"%s\", ignored; did you mean \"%s\"?",
				   c->kind, full, near);
	else
		ferry_findings_add(c->f, FERRY_CAT_WARNING, "schema.unknown-field", &k->pos,
				   "%s: unknown field \"%s\", ignored", c->kind, full);
}

static void decode_field(struct dctx *c, const struct field *fd, const struct ferry_node *k,
			 const struct ferry_node *v, const char *path, void *base)
{
	void *at = (char *)base + fd->off;

	if (fd->flags & F_STATUS) {
		ferry_findings_add(c->f, FERRY_CAT_INFO, "schema.status-ignored", &k->pos,
				   "%s: the status block is ignored: ferry reads only the desired "
				   "state from Git and writes status to the status branch",
				   c->kind);
		return;
	}
	if (fd->flags & F_DEPRECATED)
		ferry_findings_add(c->f, FERRY_CAT_INFO, "schema.deprecated", &k->pos,
				   "%s: %s is deprecated: %s", c->kind, path, fd->note);
	switch (fd->type) {
	case T_STR:
	case T_ENUM:
	case T_NAME:
	case T_LABEL:
	case T_TIME:
	case T_BASE64:
	case T_TEMPLATE: decode_string_field(c, fd, v, path, at); break;
	case T_BOOL: decode_bool(c, v, path, at); break;
	case T_INT: decode_int(c, v, path, at); break;
	case T_STRMAP: decode_strmap(c, v, path, at); break;
	case T_OPAQUE:
		if (!ferry_node_is_null(v))
			((struct ferry_opaque *)at)->node = v;
		break;
	case T_STRUCT:
		if (!ferry_node_is_null(v))
			decode_struct(c, fd->sub, v, path, at);
		break;
	case T_LIST:
	case T_STRLIST: decode_list(c, fd, v, path, at); break;
	case T_IGNORE: break;
	}
}

static bool field_present(const struct field *fd, const void *base)
{
	const void *at = (const char *)base + fd->off;

	switch (fd->type) {
	case T_STR:
	case T_ENUM:
	case T_NAME:
	case T_LABEL:
	case T_TIME:
	case T_BASE64:
	case T_TEMPLATE: return ((const struct ferry_str *)at)->v != NULL;
	case T_BOOL: return ((const struct ferry_bool *)at)->set;
	case T_INT: return ((const struct ferry_int *)at)->set;
	case T_STRMAP: return ((const struct ferry_strmap *)at)->set;
	case T_OPAQUE: return ((const struct ferry_opaque *)at)->node != NULL;
	case T_STRUCT:
		return fd->sub->set_off == NONE ||
		       *(const bool *)((const char *)at + fd->sub->set_off);
	case T_LIST:
	case T_STRLIST: return ((const struct ferry_list *)at)->set;
	case T_IGNORE: return true;
	}
	return true;
}

static void decode_struct(struct dctx *c, const struct shape *sh, const struct ferry_node *n,
			  const char *path, void *out)
{
	const struct ferry_node *seen[128] = {NULL};

	if (sh->pos_off != NONE)
		*(struct ferry_pos *)((char *)out + sh->pos_off) = n->pos;
	if (n->kind != FERRY_NODE_MAP) {
		ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.type", &n->pos,
				   "%s: expected a mapping, found %s", *path ? path : c->kind,
				   ferry_node_kind_name(n));
		return;
	}
	if (sh->set_off != NONE)
		*(bool *)((char *)out + sh->set_off) = true;
	for (size_t i = 0; i < n->u.map.len; i++) {
		const struct ferry_node *k = n->u.map.pairs[i].key, *v = n->u.map.pairs[i].value;
		const char *name;
		char sub[PATH_MAX_LEN];
		size_t j;

		if (!read_string(c, k, *path ? path : c->kind, &name) || !name)
			continue;
		for (j = 0; sh->fields[j].name; j++)
			if (!strcmp(sh->fields[j].name, name))
				break;
		if (!sh->fields[j].name) {
			unknown_field(c, sh, k, path, name);
			continue;
		}
		if (j < 128)
			seen[j] = v;
		child_path(sub, path, name);
		decode_field(c, &sh->fields[j], k, v, sub, out);
	}
	for (size_t j = 0; sh->fields[j].name; j++) {
		const struct field *fd = &sh->fields[j];
		char sub[PATH_MAX_LEN];

		if (!(fd->flags & F_REQUIRED) ||
		    (j < 128 && seen[j] && !ferry_node_is_null(seen[j]) && field_present(fd, out)))
			continue;
		child_path(sub, path, fd->name);
		if (j >= 128 || !seen[j])
			ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.required", &n->pos,
					   "%s: missing required field \"%s\"", c->kind, sub);
		else if (ferry_node_is_null(seen[j]))
			ferry_findings_add(c->f, FERRY_CAT_ERROR, "schema.required", &seen[j]->pos,
					   "%s: required field \"%s\" is empty", c->kind, sub);
		/* otherwise it was present but unusable, and already reported */
	}
}

/* ------------------------------------------------------------------------ */
/* Documents and files                                                      */

static const char *scalar_text(const struct ferry_node *n)
{
	return n && n->kind == FERRY_NODE_SCALAR ? n->u.scalar.text : NULL;
}

/* Split "group/version" (or "v1") into its group; returns the group length. */
static size_t api_group_len(const char *api)
{
	const char *slash = strchr(api, '/');
	return slash ? (size_t)(slash - api) : 0;
}

static bool same_group(const char *a, const char *b)
{
	size_t la = api_group_len(a), lb = api_group_len(b);
	return la == lb && !memcmp(a, b, la);
}

/* Which kind is this document? -1 when ferry does not read it (reported). */
static int classify(struct ferry_model *m, const struct ferry_node *root, struct ferry_findings *f)
{
	const struct ferry_node *kn = ferry_map_get(root, "kind");
	const struct ferry_node *an = ferry_map_get(root, "apiVersion");
	const char *kind = scalar_text(kn), *api = scalar_text(an);
	const char *names[FERRY_KIND_COUNT];

	if (!kind || !*kind) {
		ferry_findings_add(f, FERRY_CAT_ERROR, "schema.kind.missing", &root->pos,
				   "document has no \"kind\": expected one of Provider, Host, "
				   "NetworkMap, StorageMap, Plan, Migration, Hook, Policy");
		return -1;
	}
	if (!api || !*api) {
		ferry_findings_add(f, FERRY_CAT_ERROR, "schema.api-version.missing", &kn->pos,
				   "%s has no \"apiVersion\"", kind);
		return -1;
	}
	for (int k = 0; k < FERRY_KIND_COUNT; k++)
		names[k] = kinds[k].name;
	for (int k = 0; k < FERRY_KIND_COUNT; k++) {
		if (strcmp(kind, kinds[k].name))
			continue;
		if (!strcmp(api, kinds[k].api_version))
			return k;
		/* Our kind name in one of our API groups (or core v1), but another
		 * version or group: a mistake. The same name in a foreign group
		 * (kyverno.io Policy, say) is somebody else's object. */
		if (same_group(api, kinds[k].api_version) || !strchr(api, '/') ||
		    !strncmp(api, FORKLIFT_GROUP "/", strlen(FORKLIFT_GROUP) + 1) ||
		    !strncmp(api, FERRY_GROUP "/", strlen(FERRY_GROUP) + 1)) {
			ferry_findings_add(
				f, FERRY_CAT_ERROR, "schema.api-version.unsupported", &an->pos,
				"%s: apiVersion \"%s\" is not supported; expected \"%s\"", kind,
				api, kinds[k].api_version);
			return -1;
		}
		break;
	}
	m->ignored++;
	if (!strncmp(api, FORKLIFT_GROUP "/", strlen(FORKLIFT_GROUP) + 1) ||
	    !strncmp(api, FERRY_GROUP "/", strlen(FERRY_GROUP) + 1)) {
		const char *near = ferry_nearest(kind, names, FERRY_KIND_COUNT);
		if (near)
			ferry_findings_add(f, FERRY_CAT_ERROR, "schema.kind.unknown", &kn->pos,
					   "unknown kind \"%s\" in %s; did you mean \"%s\"?", kind,
					   api, near);
		else
			ferry_findings_add(f, FERRY_CAT_WARNING, "schema.kind.unsupported",
					   &kn->pos, "%s (%s) is not read by ferry; ignored", kind,
					   api);
		return -1;
	}
	ferry_findings_add(f, FERRY_CAT_INFO, "schema.kind.ignored", &kn->pos,
			   "%s (%s) is not a migration object; ignored", kind, api);
	return -1;
}

static void load_doc(struct ferry_model *m, struct ferry_doc *doc, struct ferry_findings *f)
{
	const struct ferry_node *root = doc->root;
	struct ferry_list *l;
	struct ferry_obj *obj;
	struct dctx c;
	int k;

	if (!root || ferry_node_is_null(root))
		return; /* empty document (e.g. a trailing ---) */
	if (root->kind != FERRY_NODE_MAP) {
		ferry_findings_add(f, FERRY_CAT_ERROR, "schema.not-an-object", &root->pos,
				   "expected a Kubernetes object (a mapping with apiVersion, kind, "
				   "metadata), found %s",
				   ferry_node_kind_name(root));
		return;
	}
	k = classify(m, root, f);
	if (k < 0)
		return;
	l = &m->objects[k];
	l->items = ferry_grow(l->items, &l->cap, l->len + 1, kinds[k].shape.size);
	obj = (struct ferry_obj *)((char *)l->items + l->len * kinds[k].shape.size);
	memset(obj, 0, kinds[k].shape.size);
	l->len++;
	obj->kind = (enum ferry_kind)k;
	obj->pos = root->pos;
	c.f = f;
	c.kind = kinds[k].name;
	decode_struct(&c, &kinds[k].shape, root, "", obj);
	obj->ns = obj->metadata.namespace_.v ? obj->metadata.namespace_.v : "default";
	obj->name = obj->metadata.name.v ? obj->metadata.name.v : "";
	if (!obj->metadata.name.v && obj->metadata.set) {
		if (obj->metadata.generate_name.v)
			ferry_findings_add(
				f, FERRY_CAT_ERROR, "schema.required", &obj->metadata.pos,
				"%s: metadata.generateName is not supported in Git; give "
				"the object a metadata.name",
				c.kind);
		else
			ferry_findings_add(f, FERRY_CAT_ERROR, "schema.required",
					   &obj->metadata.pos,
					   "%s: missing required field \"metadata.name\"", c.kind);
	}
}

static void yaml_problem(void *arg, const struct ferry_pos *pos, const char *id, const char *msg)
{
	ferry_findings_add(arg, FERRY_CAT_ERROR, id, pos, "%s", msg);
}

static const char *intern_file(struct ferry_model *m, const char *name)
{
	m->files = ferry_grow(m->files, &m->files_cap, m->nfiles + 1, sizeof *m->files);
	m->files[m->nfiles] = ferry_xstrdup(name);
	return m->files[m->nfiles++];
}

void ferry_model_load_buffer(struct ferry_model *m, const char *name, const char *data, size_t len,
			     struct ferry_findings *f)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_doc **docs;
	size_t ndocs;
	const char *file = intern_file(m, name);
	int rc = ferry_yaml_parse(file, data, len, &docs, &ndocs, yaml_problem, f, &err);

	if (rc) {
		struct ferry_pos p = {file, err.line, err.col};
		ferry_findings_add(f, FERRY_CAT_ERROR,
				   err.code == FERRY_E_LIMIT ? "yaml.limit" : "yaml.syntax", &p,
				   "%s", err.msg);
	}
	for (size_t i = 0; i < ndocs; i++) {
		load_doc(m, docs[i], f);
		m->docs = ferry_grow(m->docs, &m->docs_cap, m->ndocs + 1, sizeof *m->docs);
		m->docs[m->ndocs++] = docs[i];
	}
	free(docs);
}

static int read_file(const char *path, char **data, size_t *len, struct ferry_err *err)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((unsigned long long)st.st_size > FERRY_YAML_MAX_BYTES) {
		ferry_err_set(err, FERRY_E_LIMIT, "file larger than %u bytes",
			      FERRY_YAML_MAX_BYTES);
		close(fd);
		return -1;
	}
	*data = ferry_xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	       ((n = read(fd, *data + got, (size_t)st.st_size - got)) > 0 ||
		(n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fd);
	(*data)[got] = '\0';
	*len = got;
	return 0;
}

static bool is_yaml_name(const char *name)
{
	return ferry_ends_with(name, ".yaml") || ferry_ends_with(name, ".yml");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Depth-first, entries in byte order, so the load order (and with it the
 * order of findings of equal position) is the same on every machine. */
static int load_tree(struct ferry_model *m, const char *dir, int depth, struct ferry_findings *f,
		     struct ferry_err *err)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (depth > 32) {
		struct ferry_pos p = {dir, 0, 0};
		ferry_findings_add(f, FERRY_CAT_WARNING, "load.depth", &p,
				   "directories nested deeper than 32 levels are not read");
		return 0;
	}
	d = opendir(dir);
	if (!d && depth > 0) {
		/* Report it and go on: the rest of the tree is still worth checking. */
		struct ferry_pos p = {intern_file(m, dir), 0, 0};
		ferry_findings_add(f, FERRY_CAT_ERROR, "load.io", &p, "cannot read directory: %s",
				   strerror(errno));
		return 0;
	}
	if (!d)
		return ferry_err_set(err, errno == ENOENT ? FERRY_E_NOT_FOUND : FERRY_E_IO,
				     "cannot read directory %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ., .., .git, .github and other dot entries */
		names = ferry_grow(names, &cap, n + 1, sizeof *names);
		names[n++] = ferry_xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n; i++) {
		char *path = ferry_path_join(dir, names[i]);
		struct stat st;

		if (lstat(path, &st)) {
			/* vanished since readdir: nothing to load */
		} else if (S_ISDIR(st.st_mode) && depth == 0 && !strcmp(names[i], "status")) {
			/* ferry's own reports (status_mode=path), not desired state */
		} else if (S_ISDIR(st.st_mode)) {
			rc = load_tree(m, path, depth + 1, f, err);
		} else if (S_ISREG(st.st_mode) && is_yaml_name(names[i])) {
			char *data = NULL;
			size_t len = 0;
			struct ferry_err ferr = FERRY_ERR_INIT;
			if (read_file(path, &data, &len, &ferr)) {
				struct ferry_pos p = {intern_file(m, path), 0, 0};
				ferry_findings_add(f, FERRY_CAT_ERROR,
						   ferr.code == FERRY_E_LIMIT ? "yaml.limit"
									      : "load.io",
						   &p, "%s", ferr.msg);
			} else {
				ferry_model_load_buffer(m, path, data, len, f);
			}
			free(data);
		} else if (S_ISLNK(st.st_mode) && is_yaml_name(names[i])) {
			struct ferry_pos p = {intern_file(m, path), 0, 0};
			ferry_findings_add(f, FERRY_CAT_WARNING, "load.symlink", &p,
					   "symbolic link not followed (Git stores the link, not "
					   "the file it points to)");
		}
		free(path);
		if (rc)
			break;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int ferry_model_load_dir(struct ferry_model *m, const char *dir, struct ferry_findings *f,
			 struct ferry_err *err)
{
	struct stat st;

	if (stat(dir, &st))
		return ferry_err_set(err, errno == ENOENT ? FERRY_E_NOT_FOUND : FERRY_E_IO,
				     "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ferry_err_set(err, FERRY_E_INVALID, "%s: not a directory", dir);
	return load_tree(m, dir, 0, f, err);
}

/* ------------------------------------------------------------------------ */
/* Lookup and release                                                       */

const struct ferry_obj *ferry_model_obj(const struct ferry_model *m, enum ferry_kind k, size_t i)
{
	return (const struct ferry_obj *)((const char *)m->objects[k].items +
					  i * kinds[k].shape.size);
}

const struct ferry_obj *ferry_model_find(const struct ferry_model *m, enum ferry_kind k,
					 const char *ns, const char *name)
{
	for (size_t i = 0; i < m->objects[k].len; i++) {
		const struct ferry_obj *o = ferry_model_obj(m, k, i);
		if (!strcmp(o->ns, ns) && !strcmp(o->name, name))
			return o;
	}
	return NULL;
}

static void release_struct(const struct shape *sh, void *base);

static void release_field(const struct field *fd, void *at)
{
	switch (fd->type) {
	case T_STR:
	case T_ENUM:
	case T_NAME:
	case T_LABEL:
	case T_TIME:
	case T_BASE64:
	case T_TEMPLATE: free(((struct ferry_str *)at)->v); break;
	case T_STRMAP: {
		struct ferry_strmap *sm = at;
		for (size_t i = 0; i < sm->len; i++) {
			free(sm->items[i].key.v);
			free(sm->items[i].value.v);
		}
		free(sm->items);
		break;
	}
	case T_STRUCT: release_struct(fd->sub, at); break;
	case T_LIST:
	case T_STRLIST: {
		struct ferry_list *l = at;
		for (size_t i = 0; i < l->len; i++) {
			if (fd->type == T_STRLIST)
				free(FERRY_AT(*l, struct ferry_str, i)->v);
			else
				release_struct(fd->sub, (char *)l->items + i * fd->sub->size);
		}
		free(l->items);
		break;
	}
	case T_BOOL:
	case T_INT:
	case T_OPAQUE:
	case T_IGNORE: break;
	}
}

static void release_struct(const struct shape *sh, void *base)
{
	for (const struct field *fd = sh->fields; fd->name; fd++)
		release_field(fd, (char *)base + fd->off);
}

void ferry_model_release(struct ferry_model *m)
{
	for (int k = 0; k < FERRY_KIND_COUNT; k++) {
		struct ferry_list *l = &m->objects[k];
		for (size_t i = 0; i < l->len; i++)
			release_struct(&kinds[k].shape, (char *)l->items + i * kinds[k].shape.size);
		free(l->items);
	}
	ferry_docs_free(m->docs, m->ndocs);
	for (size_t i = 0; i < m->nfiles; i++)
		free(m->files[i]);
	free(m->files);
	memset(m, 0, sizeof *m);
}
