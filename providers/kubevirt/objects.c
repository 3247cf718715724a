/* Object shapes follow what Forklift creates for the same plan (its
 * kubevirt builder) so that a migrated VM looks the same to the people and
 * tools that know Forklift's; where ferry differs (a transfer Job instead of
 * an importer pod, owner labels instead of owner references) the header
 * says so.
 */
#include "providers/kubevirt/objects.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/strbuf.h"
#include "schema/names.h"

#define LABEL_MAX 63
#define MIB	  (UINT64_C(1) << 20)

/* ---- names and labels ------------------------------------------------------ */

int ferry_kube_check_label(const char *what, const char *s, struct ferry_err *err)
{
	const char *why;

	if (!s)
		return ferry_err_set(err, FERRY_E_INVALID, "%s is not set", what);
	if (!ferry_dns1123_label(s, &why))
		return ferry_err_set(err, FERRY_E_INVALID, "%s \"%s\" is not valid: name %s", what,
				     s, why);
	return 0;
}

int ferry_kube_check_subdomain(const char *what, const char *s, struct ferry_err *err)
{
	const char *why;

	if (!s)
		return ferry_err_set(err, FERRY_E_INVALID, "%s is not set", what);
	if (!ferry_dns1123_subdomain(s, &why))
		return ferry_err_set(err, FERRY_E_INVALID, "%s \"%s\" is not valid: name %s", what,
				     s, why);
	return 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_label_char(char c)
{
	return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

/* Kubernetes' "qualified name" part and label values: alphanumerics at both
 * ends, '-', '_' and '.' between. */
static bool label_name_ok(const char *s, size_t n, bool empty_ok)
{
	if (n == 0)
		return empty_ok;
	if (n > LABEL_MAX || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_label_char(s[i]))
			return false;
	return true;
}

bool ferry_kube_label_key_ok(const char *key)
{
	const char *slash = strchr(key, '/');
	bool ok;

	if (!slash)
		return label_name_ok(key, strlen(key), false);
	if (!label_name_ok(slash + 1, strlen(slash + 1), false))
		return false;
	char *prefix = ferry_xstrndup(key, (size_t)(slash - key));
	ok = ferry_dns1123_subdomain(prefix, NULL);
	free(prefix);
	return ok;
}

bool ferry_kube_label_value_ok(const char *value)
{
	return label_name_ok(value, strlen(value), true);
}

static int check_labels(const char *what, const struct ferry_target_label *l, size_t n,
			struct ferry_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!l[i].key || !ferry_kube_label_key_ok(l[i].key))
			return ferry_err_set(err, FERRY_E_INVALID, "%s key \"%s\" is not valid",
					     what, l[i].key ? l[i].key : "");
		if (!l[i].value || !ferry_kube_label_value_ok(l[i].value))
			return ferry_err_set(err, FERRY_E_INVALID,
					     "%s %s: value \"%s\" is not valid", what, l[i].key,
					     l[i].value ? l[i].value : "");
	}
	return 0;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

char *ferry_kube_label_value(const char *s)
{
	size_t n = strlen(s), len = 0;
	char *out;

	if (label_name_ok(s, n, true))
		return ferry_xstrdup(s);
	out = ferry_xmalloc(n + 10);
	for (size_t i = 0; i < n; i++) {
		if (is_label_char(s[i]))
			out[len++] = s[i];
		else if (len && out[len - 1] != '-')
			out[len++] = '-';
	}
	if (len > LABEL_MAX - 9)
		len = LABEL_MAX - 9;
	while (len && !is_alnum(out[len - 1]))
		len--;
	size_t skip = 0;
	while (skip < len && !is_alnum(out[skip]))
		skip++;
	memmove(out, out + skip, len - skip);
	len -= skip;
	snprintf(out + len, 10, "%s%08x", len ? "-" : "", (unsigned)fnv1a(s));
	return out;
}

char *ferry_kube_name_fit(const char *base, const char *suffix, size_t max)
{
	size_t nb = strlen(base), ns = strlen(suffix), keep;

	if (max > LABEL_MAX)
		max = LABEL_MAX;
	if (nb + ns <= max)
		return ferry_xasprintf("%s%s", base, suffix);
	/* room for "-" and 8 hex digits; a suffix that leaves none keeps the hash */
	keep = max > ns + 9 ? max - ns - 9 : 0;
	while (keep && base[keep - 1] == '-')
		keep--;
	if (!keep)
		return ferry_xasprintf("%08x%s", (unsigned)fnv1a(base), suffix);
	return ferry_xasprintf("%.*s-%08x%s", (int)keep, base, (unsigned)fnv1a(base), suffix);
}

/* The API server cuts a generateName to 58 characters before adding five
 * (names.SimpleNameGenerator); cutting here keeps the '-' separator. */
char *ferry_kube_generate_name(const char *name)
{
	size_t n = strlen(name);

	if (n > LABEL_MAX - 5 - 1)
		n = LABEL_MAX - 5 - 1;
	while (n && (name[n - 1] == '-' || name[n - 1] == '.'))
		n--;
	return ferry_xasprintf("%.*s-", (int)n, name);
}

static bool nic_attached(const struct ferry_target_nic *c)
{
	return strcmp(c->type, "ignored") != 0;
}

int ferry_kube_check_vm(const struct ferry_target_vm *vm, struct ferry_err *err)
{
	size_t npod = 0;

	if (ferry_kube_check_label("namespace", vm->ns, err) ||
	    ferry_kube_check_label("VM name", vm->name, err))
		return -1;
	if (vm->cpus == 0)
		return ferry_err_set(err, FERRY_E_INVALID, "VM %s/%s has no CPUs", vm->ns,
				     vm->name);
	if (vm->memory_bytes == 0 || vm->memory_bytes / MIB >= UINT32_MAX)
		return ferry_err_set(err, FERRY_E_INVALID, "VM %s/%s: memory of %llu bytes", vm->ns,
				     vm->name, (unsigned long long)vm->memory_bytes);
	if (!vm->firmware || (strcmp(vm->firmware, "bios") && strcmp(vm->firmware, "efi")))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "VM %s/%s: firmware \"%s\" (want bios or efi)", vm->ns,
				     vm->name, vm->firmware ? vm->firmware : "");
	for (size_t i = 0; i < vm->ndisks; i++) {
		if (ferry_kube_check_subdomain("disk name", vm->disks[i].name, err))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(vm->disks[i].name, vm->disks[j].name))
				return ferry_err_set(err, FERRY_E_INVALID,
						     "VM %s/%s: two disks named %s", vm->ns,
						     vm->name, vm->disks[i].name);
	}
	for (size_t i = 0; i < vm->nnics; i++) {
		const struct ferry_target_nic *c = &vm->nics[i];

		if (!c->type || (strcmp(c->type, "pod") && strcmp(c->type, "multus") &&
				 strcmp(c->type, "ignored")))
			return ferry_err_set(err, FERRY_E_INVALID,
					     "interface %s: type \"%s\" (want pod, multus or "
					     "ignored)",
					     c->name ? c->name : "", c->type ? c->type : "");
		if (!nic_attached(c))
			continue; /* not in the VM: its name does not matter */
		if (ferry_kube_check_label("interface name", c->name, err))
			return -1;
		if (!strcmp(c->type, "multus") && (!c->network || !strchr(c->network, '/')))
			return ferry_err_set(err, FERRY_E_INVALID,
					     "interface %s: a multus network needs "
					     "\"namespace/name\", not \"%s\"",
					     c->name, c->network ? c->network : "");
		if (!strcmp(c->type, "pod") && ++npod > 1)
			return ferry_err_set(err, FERRY_E_INVALID,
					     "VM %s/%s: more than one interface on the pod "
					     "network (KubeVirt allows one)",
					     vm->ns, vm->name);
		for (size_t j = 0; j < i; j++)
			if (vm->nics[j].type && nic_attached(&vm->nics[j]) &&
			    !strcmp(c->name, vm->nics[j].name))
				return ferry_err_set(err, FERRY_E_INVALID,
						     "VM %s/%s: two interfaces named %s", vm->ns,
						     vm->name, c->name);
	}
	if (check_labels("label", vm->labels, vm->nlabels, err))
		return -1;
	return check_labels("node selector", vm->node_selector, vm->nnode_selector, err);
}

/* ---- JSON helpers ------------------------------------------------------------ */

size_t ferry_kube_utf8_next(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, c = s[0] & 0x1fu, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, c = s[0] & 0x0fu, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, c = s[0] & 0x07u, min = 0x10000;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3fu);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* A JSON string for s; JSON needs UTF-8, so each byte that does not start
 * a valid sequence becomes U+FFFD (as the local target always wrote it). */
static json_t *jstr(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct ferry_sb sb = FERRY_SB_INIT;
	json_t *j;

	while (*p) {
		uint32_t c;
		size_t n = ferry_kube_utf8_next(p, &c);

		if (n == 0) {
			ferry_sb_adds(&sb, "\xef\xbf\xbd");
			p++;
		} else {
			ferry_sb_add(&sb, p, n);
			p += n;
		}
	}
	j = json_stringn(sb.buf, sb.len);
	ferry_sb_release(&sb);
	return j;
}

static void set_str(json_t *obj, const char *key, const char *value)
{
	json_object_set_new(obj, key, jstr(value));
}

static json_t *obj_child(json_t *parent, const char *key)
{
	json_t *o = json_object();

	json_object_set_new(parent, key, o);
	return o;
}

static json_t *arr_child(json_t *parent, const char *key)
{
	json_t *a = json_array();

	json_object_set_new(parent, key, a);
	return a;
}

static json_t *arr_obj(json_t *arr)
{
	json_t *o = json_object();

	json_array_append_new(arr, o);
	return o;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of obj with its keys in byte order (stable output, easy review). */
static json_t *sorted(json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = ferry_xcalloc(n ? n : 1, sizeof *keys);
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(obj, k, v) keys[i++] = k;
	qsort(keys, n, sizeof *keys, key_cmp);
	for (i = 0; i < n; i++)
		json_object_set(out, keys[i], json_object_get(obj, keys[i]));
	free(keys);
	return out;
}

static void set_label(json_t *m, const char *key, const char *raw)
{
	char *v = ferry_kube_label_value(raw);

	json_object_set_new(m, key, json_string(v));
	free(v);
}

static void add_owner_labels(json_t *m, const struct ferry_target_vm *vm, int disk)
{
	json_object_set_new(m, FERRY_KUBE_LABEL_MANAGED_BY, json_string("ferry"));
	if (vm->plan_ns && vm->plan_name) {
		set_label(m, FERRY_KUBE_LABEL_PLAN, vm->plan_name);
		set_label(m, FERRY_KUBE_LABEL_PLAN_NS, vm->plan_ns);
	}
	if (vm->source_vm_id)
		set_label(m, FERRY_KUBE_LABEL_VM_ID, vm->source_vm_id);
	if (disk >= 0) {
		char idx[16];

		snprintf(idx, sizeof idx, "%d", disk);
		json_object_set_new(m, FERRY_KUBE_LABEL_DISK, json_string(idx));
		if (vm->name)
			set_label(m, FERRY_KUBE_LABEL_TARGET_VM, vm->name);
	}
}

json_t *ferry_kube_owner_labels(const struct ferry_target_vm *vm, int disk)
{
	json_t *m = json_object(), *s;

	add_owner_labels(m, vm, disk);
	s = sorted(m);
	json_decref(m);
	return s;
}

/* targetLabels, then ferry's own over them; sorted. */
static json_t *vm_labels(const struct ferry_target_vm *vm)
{
	json_t *m = json_object(), *s;

	for (size_t i = 0; i < vm->nlabels; i++)
		json_object_set_new(m, vm->labels[i].key, json_string(vm->labels[i].value));
	add_owner_labels(m, vm, -1);
	s = sorted(m);
	json_decref(m);
	return s;
}

static json_t *string_map(const struct ferry_target_label *l, size_t n)
{
	json_t *m = json_object(), *s;

	for (size_t i = 0; i < n; i++)
		json_object_set_new(m, l[i].key, jstr(l[i].value));
	s = sorted(m);
	json_decref(m);
	return s;
}

static json_t *metadata(json_t *root, const char *api_version, const char *kind)
{
	json_object_set_new(root, "apiVersion", json_string(api_version));
	json_object_set_new(root, "kind", json_string(kind));
	return obj_child(root, "metadata");
}

/* ---- the VirtualMachine ------------------------------------------------------ */

/* sockets x cores = cpus exactly; one socket when the source's layout is
 * unknown or does not divide the count (guests licensed per socket cope
 * better with few sockets than with many). */
static void cpu_topology(const struct ferry_target_vm *vm, unsigned *sockets, unsigned *cores)
{
	unsigned cps = vm->cores_per_socket;

	if (cps == 0 || cps > vm->cpus || vm->cpus % cps) {
		*sockets = 1;
		*cores = vm->cpus;
	} else {
		*sockets = vm->cpus / cps;
		*cores = cps;
	}
}

static const char *vol_name(const struct ferry_target_vm *vm, const struct ferry_kube_vm_opts *o,
			    size_t i)
{
	return o->volume_names && o->volume_names[i] ? o->volume_names[i] : vm->disks[i].name;
}

static const char *claim_name(const struct ferry_target_vm *vm, const struct ferry_kube_vm_opts *o,
			      size_t i)
{
	return o->claim_names && o->claim_names[i] ? o->claim_names[i] : vm->disks[i].name;
}

static void vm_domain(json_t *tspec, const struct ferry_target_vm *vm,
		      const struct ferry_kube_vm_opts *o)
{
	json_t *domain = obj_child(tspec, "domain"), *cpu, *boot, *devices;
	unsigned sockets, cores;
	bool efi = !strcmp(vm->firmware, "efi");
	size_t nattached = 0;
	char mem[32];

	cpu_topology(vm, &sockets, &cores);
	cpu = obj_child(domain, "cpu");
	json_object_set_new(cpu, "sockets", json_integer(sockets));
	json_object_set_new(cpu, "cores", json_integer(cores));
	json_object_set_new(cpu, "threads", json_integer(1));
	snprintf(mem, sizeof mem, "%lluMi",
		 (unsigned long long)((vm->memory_bytes + MIB - 1) / MIB));
	json_object_set_new(obj_child(domain, "memory"), "guest", json_string(mem));
	boot = obj_child(obj_child(domain, "firmware"), "bootloader");
	if (efi)
		/* KubeVirt's default for efi.secureBoot is true: false must be said */
		json_object_set_new(obj_child(boot, "efi"), "secureBoot",
				    json_boolean(vm->secure_boot));
	else
		obj_child(boot, "bios");
	if (efi && vm->secure_boot)
		json_object_set_new(obj_child(obj_child(domain, "features"), "smm"), "enabled",
				    json_true());
	devices = obj_child(domain, "devices");
	if (vm->ndisks) {
		json_t *disks = arr_child(devices, "disks");

		for (size_t i = 0; i < vm->ndisks; i++) {
			json_t *d = arr_obj(disks), *disk;

			set_str(d, "name", vol_name(vm, o, i));
			disk = obj_child(d, "disk");
			if (vm->disks[i].bus)
				set_str(disk, "bus", vm->disks[i].bus);
		}
	}
	for (size_t i = 0; i < vm->nnics; i++)
		nattached += nic_attached(&vm->nics[i]);
	if (nattached) {
		json_t *ifaces = arr_child(devices, "interfaces");

		for (size_t i = 0; i < vm->nnics; i++) {
			const struct ferry_target_nic *c = &vm->nics[i];
			json_t *f;

			if (!nic_attached(c))
				continue;
			f = arr_obj(ifaces);
			set_str(f, "name", c->name);
			if (c->model)
				set_str(f, "model", c->model);
			if (c->mac)
				set_str(f, "macAddress", c->mac);
			obj_child(f, strcmp(c->type, "pod") ? "bridge" : "masquerade");
		}
	} else {
		/* else KubeVirt adds a pod interface the source never had */
		json_object_set_new(devices, "autoattachPodInterface", json_false());
	}
}

static int check_vm_opts(const struct ferry_target_vm *vm, const struct ferry_kube_vm_opts *o,
			 struct ferry_err *err)
{
	if (o->claim_kind != FERRY_KUBE_CLAIM_PVC && o->claim_kind != FERRY_KUBE_CLAIM_DATAVOLUME)
		return ferry_err_set(err, FERRY_E_INVALID, "VM %s/%s: unknown claim kind %d",
				     vm->ns, vm->name, (int)o->claim_kind);
	for (size_t i = 0; i < vm->ndisks; i++) {
		if (ferry_kube_check_subdomain("claim name", claim_name(vm, o, i), err) ||
		    ferry_kube_check_subdomain("volume name", vol_name(vm, o, i), err))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(vol_name(vm, o, i), vol_name(vm, o, j)))
				return ferry_err_set(err, FERRY_E_INVALID,
						     "VM %s/%s: two volumes named %s", vm->ns,
						     vm->name, vol_name(vm, o, i));
	}
	return 0;
}

int ferry_kube_vm_build(const struct ferry_target_vm *vm, const struct ferry_kube_vm_opts *opts,
			json_t **out, struct ferry_err *err)
{
	static const struct ferry_kube_vm_opts defaults = {FERRY_KUBE_CLAIM_PVC, NULL, NULL};
	const struct ferry_kube_vm_opts *o = opts ? opts : &defaults;
	json_t *root, *meta, *spec, *tmpl, *tspec, *labels;
	bool any_net = false;

	*out = NULL;
	if (ferry_kube_check_vm(vm, err) || check_vm_opts(vm, o, err))
		return -1;
	labels = vm_labels(vm);
	root = json_object();
	meta = metadata(root, "kubevirt.io/v1", "VirtualMachine");
	set_str(meta, "name", vm->name);
	set_str(meta, "namespace", vm->ns);
	json_object_set_new(meta, "labels", json_deep_copy(labels));
	if (vm->source_vm_name)
		set_str(obj_child(meta, "annotations"), FERRY_KUBE_ANN_SOURCE_NAME,
			vm->source_vm_name);
	spec = obj_child(root, "spec");
	json_object_set_new(spec, "runStrategy", json_string(vm->running ? "Always" : "Halted"));
	tmpl = obj_child(spec, "template");
	json_object_set_new(obj_child(tmpl, "metadata"), "labels", labels);
	tspec = obj_child(tmpl, "spec");
	vm_domain(tspec, vm, o);
	for (size_t i = 0; i < vm->nnics; i++) {
		const struct ferry_target_nic *c = &vm->nics[i];
		json_t *n;

		if (!nic_attached(c))
			continue;
		if (!any_net)
			arr_child(tspec, "networks");
		any_net = true;
		n = arr_obj(json_object_get(tspec, "networks"));
		set_str(n, "name", c->name);
		if (!strcmp(c->type, "pod"))
			obj_child(n, "pod");
		else
			set_str(obj_child(n, "multus"), "networkName", c->network);
	}
	if (vm->ndisks) {
		json_t *vols = arr_child(tspec, "volumes");

		for (size_t i = 0; i < vm->ndisks; i++) {
			json_t *v = arr_obj(vols);

			set_str(v, "name", vol_name(vm, o, i));
			if (o->claim_kind == FERRY_KUBE_CLAIM_DATAVOLUME)
				set_str(obj_child(v, "dataVolume"), "name", claim_name(vm, o, i));
			else
				set_str(obj_child(v, "persistentVolumeClaim"), "claimName",
					claim_name(vm, o, i));
		}
	}
	if (vm->nnode_selector)
		json_object_set_new(tspec, "nodeSelector",
				    string_map(vm->node_selector, vm->nnode_selector));
	*out = root;
	return 0;
}

/* ---- storage defaults ------------------------------------------------------------ */

#define RWO "ReadWriteOnce"
#define RWX "ReadWriteMany"
#define FS  "Filesystem"
#define BLK "Block"

/* Default access and volume mode per provisioner. Two sources, the first
 * winning where both name a provisioner:
 *  - MTV's table "Default volume and access modes" (Migration Toolkit for
 *    Virtualization documentation, section 1.4 "Storage support and default
 *    modes", Table 1.1), plus its rule that storage without dynamic
 *    provisioning gets Filesystem / ReadWriteOnce (kubernetes.io/no-provisioner);
 *  - CDI's storage capabilities (kubevirt/containerized-data-importer,
 *    pkg/storagecapabilities/storagecapabilities.go,
 *    CapabilitiesByProvisionerKey): the first, preferred, pair of each
 *    entry. Keys with a "/variant" are chosen from StorageClass parameters
 *    as CDI does (provisioner_key()).
 * So kubernetes.io/rbd and openshift-storage.rbd.csi.ceph.com give MTV's
 * Block / ReadWriteOnce while rbd.csi.ceph.com gives CDI's Block /
 * ReadWriteMany. */
static const struct {
	const char *provisioner, *access, *volume;
} storage_defaults[] = {
	/* MTV */
	{"kubernetes.io/aws-ebs", RWO, BLK},
	{"kubernetes.io/azure-disk", RWO, BLK},
	{"kubernetes.io/azure-file", RWX, FS},
	{"kubernetes.io/cinder", RWO, BLK},
	{"kubernetes.io/gce-pd", RWO, BLK},
	{"kubernetes.io/hostpath-provisioner", RWO, FS},
	{"manila.csi.openstack.org", RWX, FS},
	{"openshift-storage.cephfs.csi.ceph.com", RWX, FS},
	{"openshift-storage.rbd.csi.ceph.com", RWO, BLK},
	{"kubernetes.io/rbd", RWO, BLK},
	{"kubernetes.io/vsphere-volume", RWO, BLK},
	{"kubernetes.io/no-provisioner", RWO, FS},
	/* CDI */
	{"kubevirt.io.hostpath-provisioner", RWO, FS},
	{"kubevirt.io/hostpath-provisioner", RWO, FS},
	{"k8s.io/minikube-hostpath", RWO, FS},
	{"nfs.csi.k8s.io", RWX, FS},
	{"k8s-sigs.io/nfs-subdir-external-provisioner", RWX, FS},
	{"rbd.csi.ceph.com", RWX, BLK},
	{"rook-ceph.rbd.csi.ceph.com", RWX, BLK},
	{"cephfs.csi.ceph.com", RWX, FS},
	{"linstor.csi.linbit.com", RWX, BLK},
	{"csi-unity.dellemc.com", RWX, BLK},
	{"csi-vxflexos.dellemc.com", RWX, BLK},
	{"csi-isilon.dellemc.com", RWX, FS},
	{"csi-powermax.dellemc.com", RWX, BLK},
	{"csi-powerstore.dellemc.com", RWX, BLK},
	{"kubernetes.io/storageos", RWO, FS},
	{"storageos", RWO, FS},
	{"ebs.csi.aws.com", RWO, BLK},
	{"ebs.csi.aws.com/io1", RWO, BLK},
	{"ebs.csi.aws.com/io2", RWX, BLK},
	{"ebs.csi.aws.com/gp", RWO, BLK},
	{"efs.csi.aws.com", RWX, FS},
	{"disk.csi.azure.com", RWO, BLK},
	{"file.csi.azure.com", RWX, FS},
	{"pd.csi.storage.gke.io", RWO, BLK},
	{"pd.csi.storage.gke.io/hyperdisk", RWX, BLK},
	{"hspc.csi.hitachi.com", RWX, BLK},
	{"csi.hpe.com", RWX, BLK},
	{"spectrumscale.csi.ibm.com", RWX, FS},
	{"block.csi.ibm.com", RWX, BLK},
	{"kubernetes.io/portworx-volume", RWX, BLK},
	{"pxd.portworx.com", RWX, BLK},
	{"csi.trident.netapp.io/ontap-nas", RWX, FS},
	{"csi.trident.netapp.io/ontap-san", RWX, BLK},
	{"topolvm.cybozu.com", RWO, BLK},
	{"topolvm.io", RWO, BLK},
	{"cinder.csi.openstack.org", RWO, BLK},
	{"csi.ovirt.org", RWO, BLK},
	{"csi.vsphere.vmware.com", RWO, BLK},
	{"csi.huawei.com", RWX, BLK},
	{"kubesan.gitlab.io", RWX, BLK},
	{"driver.longhorn.io", RWO, BLK},
	{"blockvolume.csi.oraclecloud.com", RWX, BLK},
};

static const char *param(const struct ferry_target_label *p, size_t n, const char *key)
{
	for (size_t i = 0; p && i < n; i++)
		if (p[i].key && !strcmp(p[i].key, key))
			return p[i].value ? p[i].value : "";
	return "";
}

/* The table key for a StorageClass, as CDI's storageProvisionerKey() picks
 * it for the provisioners whose capabilities depend on a parameter. NULL:
 * the class is of a kind CDI has no defaults for. */
static const char *provisioner_key(const char *prov, const struct ferry_target_label *p, size_t n,
				   char *buf, size_t len)
{
	const char *t;

	if (!strcmp(prov, "ebs.csi.aws.com")) {
		t = param(p, n, "type");
		if (!strcmp(t, "io1") || !strcmp(t, "io2"))
			snprintf(buf, len, "%s/%s", prov, t);
		else if (!strcmp(t, "gp2") || !strcmp(t, "gp3"))
			snprintf(buf, len, "%s/gp", prov);
		else
			return prov;
		return buf;
	}
	if (!strcmp(prov, "pd.csi.storage.gke.io")) {
		t = param(p, n, "type");
		if (!strcmp(t, "hyperdisk-balanced") ||
		    !strcmp(t, "hyperdisk-balanced-high-availability"))
			return "pd.csi.storage.gke.io/hyperdisk";
		return prov;
	}
	if (!strcmp(prov, "csi.trident.netapp.io")) {
		t = param(p, n, "backendType");
		if (!strncmp(t, "ontap-nas", 9))
			return "csi.trident.netapp.io/ontap-nas";
		if (!strncmp(t, "ontap-san", 9))
			return "csi.trident.netapp.io/ontap-san";
		return NULL;
	}
	return prov;
}

bool ferry_kube_storage_defaults(const char *provisioner, const struct ferry_target_label *params,
				 size_t nparams, const char **access_mode, const char **volume_mode)
{
	const char *key;
	char buf[128];

	*access_mode = RWO;
	*volume_mode = FS;
	if (!provisioner)
		return false;
	key = provisioner_key(provisioner, params, nparams, buf, sizeof buf);
	for (size_t i = 0; key && i < sizeof storage_defaults / sizeof *storage_defaults; i++) {
		if (!strcmp(storage_defaults[i].provisioner, key)) {
			*access_mode = storage_defaults[i].access;
			*volume_mode = storage_defaults[i].volume;
			return true;
		}
	}
	return false;
}

/* ---- volumes ----------------------------------------------------------------------- */

uint64_t ferry_kube_volume_bytes(uint64_t size, bool filesystem, double overhead)
{
	uint64_t aligned;
	long double v;

	if (size > UINT64_MAX - (MIB - 1))
		return 0;
	aligned = (size + MIB - 1) / MIB * MIB;
	if (!filesystem)
		return aligned;
	if (!(overhead >= 0 && overhead < 1))
		return 0;
	/* CDI's (and Forklift's) rule: the image is (1 - overhead) of the volume */
	v = (long double)aligned / (1.0L - (long double)overhead);
	if (v >= (long double)(UINT64_MAX - MIB))
		return 0;
	uint64_t need = (uint64_t)v;
	if ((long double)need < v)
		need++;
	return (need + MIB - 1) / MIB * MIB;
}

char *ferry_kube_quantity(uint64_t bytes)
{
	static const char *const units[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	int u = -1;

	while (u + 1 < 6 && bytes && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	return ferry_xasprintf("%" PRIu64 "%s", bytes, u >= 0 ? units[u] : "");
}

static bool mode_ok(const char *m, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (!strcmp(m, *allowed))
			return true;
	return false;
}

static const char *const volume_modes[] = {"Filesystem", "Block", NULL};
static const char *const access_modes[] = {"ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany",
					   "ReadWriteOncePod", NULL};

/* What both volume kinds check and share: the disk, its modes (resolved as
 * far as the disk and the table go; NULL when neither says) and metadata. */
struct volume {
	const struct ferry_target_disk *disk;
	const char *access, *mode; /* NULL: unknown */
	bool from_table;
};

static int volume_prepare(const struct ferry_target_vm *vm, size_t i,
			  const struct ferry_kube_volume_opts *o, struct volume *v,
			  struct ferry_err *err)
{
	const char *acc, *mode;
	bool known;

	if (ferry_kube_check_label("namespace", vm->ns, err))
		return -1;
	if (i >= vm->ndisks)
		return ferry_err_set(err, FERRY_E_INTERNAL, "VM %s/%s has no disk %zu", vm->ns,
				     vm->name ? vm->name : "", i);
	v->disk = &vm->disks[i];
	if (ferry_kube_check_subdomain("disk name", v->disk->name, err))
		return -1;
	if (v->disk->size == 0)
		return ferry_err_set(err, FERRY_E_INVALID, "disk %s: size of 0 bytes",
				     v->disk->name);
	if (v->disk->volume_mode && !mode_ok(v->disk->volume_mode, volume_modes))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "disk %s: volume mode \"%s\" (want Filesystem or Block)",
				     v->disk->name, v->disk->volume_mode);
	if (v->disk->access_mode && !mode_ok(v->disk->access_mode, access_modes))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "disk %s: access mode \"%s\" (want ReadWriteOnce, "
				     "ReadWriteMany, ReadOnlyMany or ReadWriteOncePod)",
				     v->disk->name, v->disk->access_mode);
	if (o->fs_overhead < 0 || o->fs_overhead >= 1)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "filesystem overhead %g (want at least 0, less than 1)",
				     o->fs_overhead);
	known = ferry_kube_storage_defaults(o->provisioner, o->params, o->nparams, &acc, &mode);
	v->access = v->disk->access_mode ? v->disk->access_mode : known ? acc : NULL;
	v->mode = v->disk->volume_mode ? v->disk->volume_mode : known ? mode : NULL;
	v->from_table = known;
	return 0;
}

static json_t *volume_meta(json_t *root, const char *api, const char *kind,
			   const struct ferry_target_vm *vm, size_t i, const struct volume *v,
			   const struct ferry_kube_volume_opts *o)
{
	json_t *meta = metadata(root, api, kind);

	if (o->generate_name) {
		char *g = ferry_kube_generate_name(v->disk->name);

		set_str(meta, "generateName", g);
		free(g);
	} else {
		set_str(meta, "name", v->disk->name);
	}
	set_str(meta, "namespace", vm->ns);
	json_object_set_new(meta, "labels", ferry_kube_owner_labels(vm, (int)i));
	return meta;
}

/* accessModes, volumeMode, storageClassName (the disk's, else the one the
 * caller read as the cluster's default) and the size request, in the order
 * kubectl prints a PVC spec. */
static int storage_spec(json_t *s, const struct volume *v, const struct ferry_kube_volume_opts *o,
			uint64_t bytes, struct ferry_err *err)
{
	const char *sc = v->disk->storage_class ? v->disk->storage_class : o->storage_class;
	char *q;

	if (bytes == 0)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "disk %s: size of %llu bytes is too large", v->disk->name,
				     (unsigned long long)v->disk->size);
	if (v->access)
		json_array_append_new(arr_child(s, "accessModes"), json_string(v->access));
	if (v->mode)
		set_str(s, "volumeMode", v->mode);
	if (sc)
		set_str(s, "storageClassName", sc);
	q = ferry_kube_quantity(bytes);
	set_str(obj_child(obj_child(s, "resources"), "requests"), "storage", q);
	free(q);
	return 0;
}

int ferry_kube_datavolume_build(const struct ferry_target_vm *vm, size_t i,
				const struct ferry_kube_volume_opts *opts, json_t **out,
				struct ferry_err *err)
{
	static const struct ferry_kube_volume_opts defaults = {0};
	const struct ferry_kube_volume_opts *o = opts ? opts : &defaults;
	struct volume v;
	json_t *root, *meta, *ann, *spec;

	*out = NULL;
	if (volume_prepare(vm, i, o, &v, err))
		return -1;
	root = json_object();
	meta = volume_meta(root, "cdi.kubevirt.io/v1beta1", "DataVolume", vm, i, &v, o);
	ann = obj_child(meta, "annotations");
	/* Forklift sets both: bind now, as the first consumer is the Job and
	 * not the VM, and never garbage-collect the DataVolume the VM names. */
	json_object_set_new(ann, "cdi.kubevirt.io/storage.bind.immediate.requested",
			    json_string("true"));
	json_object_set_new(ann, "cdi.kubevirt.io/storage.deleteAfterCompletion",
			    json_string("false"));
	spec = obj_child(root, "spec");
	obj_child(obj_child(spec, "source"), "blank");
	/* CDI adds the filesystem overhead itself for the storage API */
	if (storage_spec(obj_child(spec, "storage"), &v, o,
			 ferry_kube_volume_bytes(v.disk->size, false, 0), err)) {
		json_decref(root);
		return -1;
	}
	*out = root;
	return 0;
}

int ferry_kube_pvc_build(const struct ferry_target_vm *vm, size_t i,
			 const struct ferry_kube_volume_opts *opts, json_t **out,
			 struct ferry_err *err)
{
	static const struct ferry_kube_volume_opts defaults = {0};
	const struct ferry_kube_volume_opts *o = opts ? opts : &defaults;
	double overhead;
	struct volume v;
	json_t *root;

	*out = NULL;
	if (volume_prepare(vm, i, o, &v, err))
		return -1;
	/* A bare PVC must say both; MTV's rule for storage it knows nothing of. */
	if (!v.access)
		v.access = RWO;
	if (!v.mode)
		v.mode = FS;
	overhead = o->fs_overhead > 0 ? o->fs_overhead : FERRY_KUBE_FS_OVERHEAD;
	root = json_object();
	volume_meta(root, "v1", "PersistentVolumeClaim", vm, i, &v, o);
	if (storage_spec(obj_child(root, "spec"), &v, o,
			 ferry_kube_volume_bytes(v.disk->size, !strcmp(v.mode, FS), overhead),
			 err)) {
		json_decref(root);
		return -1;
	}
	*out = root;
	return 0;
}

/* ---- transfer Jobs ------------------------------------------------------------------ */

static int check_job(const struct ferry_target_vm *vm, size_t i,
		     const struct ferry_kube_job_opts *o, const char **claim, const char **mode,
		     struct ferry_err *err)
{
	if (ferry_kube_check_label("namespace", vm->ns, err))
		return -1;
	if (i >= vm->ndisks)
		return ferry_err_set(err, FERRY_E_INTERNAL, "VM %s/%s has no disk %zu", vm->ns,
				     vm->name ? vm->name : "", i);
	if (!o || !o->image || !*o->image)
		return ferry_err_set(err, FERRY_E_INVALID, "transfer Job: no image");
	if (!o->source || !*o->source)
		return ferry_err_set(err, FERRY_E_INVALID, "transfer Job: no source to copy from");
	*claim = o->claim ? o->claim : vm->disks[i].name;
	if (ferry_kube_check_subdomain("claim name", *claim, err))
		return -1;
	*mode = o->volume_mode		   ? o->volume_mode
		: vm->disks[i].volume_mode ? vm->disks[i].volume_mode
					   : FS;
	if (!mode_ok(*mode, volume_modes))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "transfer Job: volume mode \"%s\" (want Filesystem or Block)",
				     *mode);
	if (o->name && ferry_kube_check_label("Job name", o->name, err))
		return -1;
	if (o->service_account &&
	    ferry_kube_check_subdomain("service account", o->service_account, err))
		return -1;
	if (o->backoff_limit < 0)
		return ferry_err_set(err, FERRY_E_INVALID, "transfer Job: backoff limit %d",
				     o->backoff_limit);
	for (size_t k = 0; k < o->ncopy_args; k++) {
		if (!o->copy_args[k])
			return ferry_err_set(err, FERRY_E_INVALID,
					     "transfer Job: copy argument %zu is not set", k);
		/* a second --progress-fd would win over the Job's own */
		if (!strncmp(o->copy_args[k], "--progress-fd", 13) ||
		    !strncmp(o->copy_args[k], "--progress-interval", 19))
			return ferry_err_set(err, FERRY_E_INVALID,
					     "transfer Job: copy argument %s: the Job writes its "
					     "progress to standard output",
					     o->copy_args[k]);
	}
	if (o->op_id && !ferry_kube_label_value_ok(o->op_id))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "transfer Job: operation id \"%s\" is not a label value",
				     o->op_id);
	return check_labels("node selector", o->node_selector, o->nnode_selector, err);
}

/* claim names are subdomains: a Job name (a label) is made of their
 * characters with '.' turned into '-'. */
static char *job_name(const char *claim)
{
	char *base = ferry_xstrdup(claim), *name;

	for (char *p = base; *p; p++)
		if (*p == '.')
			*p = '-';
	name = ferry_kube_name_fit(base, "-copy", LABEL_MAX);
	free(base);
	return name;
}

static void add_resources(json_t *c, const struct ferry_kube_job_opts *o)
{
	json_t *res, *req = NULL, *lim = NULL;

	if (!o->cpu_request && !o->memory_request && !o->cpu_limit && !o->memory_limit)
		return;
	res = obj_child(c, "resources");
	if (o->cpu_request || o->memory_request)
		req = obj_child(res, "requests");
	if (o->cpu_limit || o->memory_limit)
		lim = obj_child(res, "limits");
	if (o->cpu_request)
		set_str(req, "cpu", o->cpu_request);
	if (o->memory_request)
		set_str(req, "memory", o->memory_request);
	if (o->cpu_limit)
		set_str(lim, "cpu", o->cpu_limit);
	if (o->memory_limit)
		set_str(lim, "memory", o->memory_limit);
}

int ferry_kube_job_build(const struct ferry_target_vm *vm, size_t i,
			 const struct ferry_kube_job_opts *o, json_t **out, struct ferry_err *err)
{
	const char *claim = NULL, *mode = NULL;
	json_t *root, *meta, *spec, *tmpl, *pspec, *c, *args, *labels, *mounts, *vols, *v;
	bool block;
	char *name;

	*out = NULL;
	if (check_job(vm, i, o, &claim, &mode, err))
		return -1;
	block = !strcmp(mode, BLK);
	name = o->name ? ferry_xstrdup(o->name) : job_name(claim);
	labels = ferry_kube_owner_labels(vm, (int)i);
	if (o->op_id) {
		json_t *s = NULL;

		json_object_set_new(labels, FERRY_KUBE_LABEL_OP, json_string(o->op_id));
		s = sorted(labels);
		json_decref(labels);
		labels = s;
	}
	root = json_object();
	meta = metadata(root, "batch/v1", "Job");
	set_str(meta, "name", name);
	set_str(meta, "namespace", vm->ns);
	json_object_set_new(meta, "labels", json_deep_copy(labels));
	spec = obj_child(root, "spec");
	json_object_set_new(spec, "backoffLimit", json_integer(o->backoff_limit));
	tmpl = obj_child(spec, "template");
	json_object_set_new(obj_child(tmpl, "metadata"), "labels", labels);
	pspec = obj_child(tmpl, "spec");
	json_object_set_new(pspec, "restartPolicy", json_string("Never"));
	if (o->service_account)
		set_str(pspec, "serviceAccountName", o->service_account);
	if (o->nnode_selector)
		json_object_set_new(pspec, "nodeSelector",
				    string_map(o->node_selector, o->nnode_selector));
	c = arr_obj(arr_child(pspec, "containers"));
	json_object_set_new(c, "name", json_string("copy"));
	set_str(c, "image", o->image);
	args = arr_child(c, "command");
	json_array_append_new(args, json_string("ferry"));
	json_array_append_new(args, json_string("copy"));
	args = arr_child(c, "args");
	/* progress lines to standard output, which is the pod's log: copy_poll
	 * reads them back from there */
	json_array_append_new(args, json_string("--progress-fd"));
	json_array_append_new(args, json_string("1"));
	/* copy_poll looks every few seconds: a line a second is plenty, and
	 * keeps the log small */
	json_array_append_new(args, json_string("--progress-interval"));
	json_array_append_new(args, json_string(FERRY_KUBE_JOB_PROGRESS_INTERVAL));
	for (size_t k = 0; k < o->ncopy_args; k++)
		json_array_append_new(args, jstr(o->copy_args[k]));
	json_array_append_new(args, jstr(o->source));
	json_array_append_new(args,
			      json_string(block ? FERRY_KUBE_JOB_DEVICE : FERRY_KUBE_JOB_IMAGE));
	add_resources(c, o);
	json_object_set_new(c, "terminationMessagePolicy", json_string("FallbackToLogsOnError"));
	mounts = block && !o->inputs ? NULL : arr_child(c, "volumeMounts");
	if (block) {
		json_t *d = arr_obj(arr_child(c, "volumeDevices"));

		json_object_set_new(d, "name", json_string("disk"));
		json_object_set_new(d, "devicePath", json_string(FERRY_KUBE_JOB_DEVICE));
	} else {
		json_t *m = arr_obj(mounts);

		json_object_set_new(m, "name", json_string("disk"));
		json_object_set_new(m, "mountPath", json_string(FERRY_KUBE_JOB_MOUNT));
	}
	vols = arr_child(pspec, "volumes");
	v = arr_obj(vols);
	json_object_set_new(v, "name", json_string("disk"));
	set_str(obj_child(v, "persistentVolumeClaim"), "claimName", claim);
	if (o->inputs) {
		json_t *m = arr_obj(mounts);

		json_object_set_new(m, "name", json_string("inputs"));
		json_object_set_new(m, "mountPath", json_string(FERRY_KUBE_JOB_INPUTS));
		json_object_set_new(m, "readOnly", json_true());
		v = arr_obj(vols);
		json_object_set_new(v, "name", json_string("inputs"));
		v = obj_child(v, "secret");
		set_str(v, "secretName", name);
		json_object_set_new(v, "defaultMode", json_integer(0400));
	}
	free(name);
	*out = root;
	return 0;
}

/* ---- a copy's inputs ---------------------------------------------------------- */

enum { SECRET_MAX = 1 << 20 }; /* the API server's limit on a Secret's data */

int ferry_kube_copy_inputs_build(const json_t *job, const struct ferry_kube_copy_inputs *in,
				 json_t **out, struct ferry_err *err)
{
	const char *keys[] = {"psk", "areas"}, *vals[] = {in->psk, in->areas};
	json_t *jmeta = json_object_get(job, "metadata"), *root, *meta, *data;
	const char *name = json_string_value(json_object_get(jmeta, "name"));
	size_t total = 0;

	*out = NULL;
	if (!name)
		return ferry_err_set(err, FERRY_E_INVALID, "copy inputs: the Job has no name");
	if (!in->psk && !in->areas)
		return ferry_err_set(err, FERRY_E_INVALID, "copy inputs of Job %s: none given",
				     name);
	for (size_t k = 0; k < 2; k++)
		total += vals[k] ? strlen(vals[k]) : 0;
	if (total > SECRET_MAX)
		return ferry_err_set(err, FERRY_E_LIMIT,
				     "copy inputs of Job %s: %zu bytes are more than a Secret "
				     "holds (1 MiB)",
				     name, total);
	root = json_object();
	meta = metadata(root, "v1", "Secret");
	json_object_set(meta, "name", json_object_get(jmeta, "name"));
	json_object_set(meta, "namespace", json_object_get(jmeta, "namespace"));
	json_object_set_new(meta, "labels", json_deep_copy(json_object_get(jmeta, "labels")));
	set_str(root, "type", "Opaque");
	json_object_set_new(root, "immutable", json_true());
	data = obj_child(root, "data");
	for (size_t k = 0; k < 2; k++) {
		char *b64;

		if (!vals[k])
			continue;
		b64 = ferry_base64_encode((const unsigned char *)vals[k], strlen(vals[k]));
		json_object_set_new(data, keys[k], json_string(b64));
		free(b64);
	}
	*out = root;
	return 0;
}
