#include "internal.h"

#include "common/alloc.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <ctype.h>
#include <inttypes.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

/* ---- what the walk asks for -------------------------------------------------------- */

static const char *const vm_paths[] = {
	"name",
	"parent",
	"config.template",
	"config.uuid",
	"config.hardware.numCPU",
	"config.hardware.numCoresPerSocket",
	"config.hardware.memoryMB",
	"config.hardware.device",
	"config.firmware",
	"config.bootOptions.efiSecureBootEnabled",
	"config.guestId",
	"config.guestFullName",
	"config.changeTrackingEnabled",
	"runtime.powerState",
	"runtime.connectionState",
	"runtime.host",
	"guest.ipAddress",
	"guest.toolsRunningStatus",
	"snapshot",
	NULL,
};
static const char *const host_paths[] = {
	"name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode", NULL,
};
static const char *const named_paths[] = {"name", "parent", NULL};

/* ComputeResource covers clusters, Network the portgroups (subtypes). */
const struct vs_propspec vs_propspecs[] = {
	{"VirtualMachine", vm_paths},	  {"HostSystem", host_paths},
	{"ComputeResource", named_paths}, {"Datacenter", named_paths},
	{"Folder", named_paths},	  {"Datastore", named_paths},
	{"Network", named_paths},	  {NULL, NULL},
};

/* ---- the store ---------------------------------------------------------------------- */

void vs_store_init(struct vs_store *st)
{
	memset(st, 0, sizeof *st);
	st->doc = xmlNewDoc((const xmlChar *)"1.0");
	if (!st->doc)
		abort();
}

static void obj_clear(struct vs_obj *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->props[i].name);
		xmlFreeNode(o->props[i].val);
	}
	o->n = 0;
}

static void obj_free(struct vs_obj *o)
{
	obj_clear(o);
	free(o->props);
	free(o->type);
	free(o->ref);
	free(o);
}

void vs_store_release(struct vs_store *st)
{
	for (size_t i = 0; i < st->n; i++)
		obj_free(st->objs[i]);
	free(st->objs);
	if (st->doc)
		xmlFreeDoc(st->doc);
	memset(st, 0, sizeof *st);
}

/* Index of ref, or where it would go (*found false). */
static size_t find(const struct vs_store *st, const char *ref, bool *found)
{
	size_t lo = 0, hi = st->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(st->objs[mid]->ref, ref);
		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

struct vs_obj *vs_store_get(const struct vs_store *st, const char *ref)
{
	bool found;
	size_t i;

	if (!ref)
		return NULL;
	i = find(st, ref, &found);
	return found ? st->objs[i] : NULL;
}

struct vs_obj *vs_store_add(struct vs_store *st, const char *type, const char *ref)
{
	bool found;
	size_t i = find(st, ref, &found);
	struct vs_obj *o;

	if (found) {
		o = st->objs[i];
		if (type && strcmp(o->type, type)) {
			free(o->type);
			o->type = ferry_xstrdup(type);
		}
		return o;
	}
	st->objs = ferry_grow(st->objs, &st->cap, st->n + 1, sizeof *st->objs);
	memmove(&st->objs[i + 1], &st->objs[i], (st->n - i) * sizeof *st->objs);
	o = ferry_xcalloc(1, sizeof *o);
	o->type = ferry_xstrdup(type ? type : "");
	o->ref = ferry_xstrdup(ref);
	st->objs[i] = o;
	st->n++;
	return o;
}

void vs_store_remove(struct vs_store *st, const char *ref)
{
	bool found;
	size_t i = find(st, ref, &found);

	if (!found)
		return;
	obj_free(st->objs[i]);
	memmove(&st->objs[i], &st->objs[i + 1], (st->n - i - 1) * sizeof *st->objs);
	st->n--;
}

void vs_obj_set(struct vs_store *st, struct vs_obj *o, const char *name, struct _xmlNode *val)
{
	struct vs_prop *p = NULL;

	for (size_t i = 0; i < o->n && !p; i++)
		if (!strcmp(o->props[i].name, name))
			p = &o->props[i];
	if (!val) {
		if (p) {
			free(p->name);
			xmlFreeNode(p->val);
			*p = o->props[--o->n];
		}
		return;
	}
	if (!p) {
		p = FERRY_PUSH(o->props, o->n, o->cap);
		p->name = ferry_xstrdup(name);
	} else {
		xmlFreeNode(p->val);
	}
	p->val = xmlDocCopyNode(val, st->doc, 1);
	if (!p->val)
		abort();
}

const struct _xmlNode *vs_obj_prop(const struct vs_obj *o, const char *name)
{
	for (size_t i = 0; o && i < o->n; i++)
		if (!strcmp(o->props[i].name, name))
			return o->props[i].val;
	return NULL;
}

char *vs_obj_text(const struct vs_obj *o, const char *name)
{
	return vs_text(vs_obj_prop(o, name));
}

static void load_object(struct vs_store *st, const xmlNode *oc)
{
	xmlNode *obj = vs_child(oc, "obj");
	char *type = vs_moref_type(obj), *ref = vs_text(obj);
	struct vs_obj *o;

	if (!ref || !*ref)
		goto out;
	o = vs_store_add(st, type, ref);
	obj_clear(o);
	for (xmlNode *p = vs_child(oc, "propSet"); p; p = vs_next(p, "propSet")) {
		char *name = vs_child_text(p, "name");
		xmlNode *val = vs_child(p, "val");
		if (name && val)
			vs_obj_set(st, o, name, val);
		free(name);
	}
out:
	free(type);
	free(ref);
}

size_t vs_store_load(struct vs_store *st, const struct _xmlNode *returnval)
{
	size_t n = 0;

	for (xmlNode *oc = vs_child(returnval, "objects"); oc; oc = vs_next(oc, "objects")) {
		load_object(st, oc);
		n++;
	}
	return n;
}

/* Is name a part of a property the object holds ("config.hardware.device[2000]"
 * of "config.hardware.device")? */
static bool partial(const struct vs_obj *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++) {
		size_t k = strlen(o->props[i].name);
		if (!strncmp(name, o->props[i].name, k) && (name[k] == '.' || name[k] == '['))
			return true;
	}
	return false;
}

static void add_refetch(char ***v, size_t *n, const char *ref)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], ref))
			return;
	*v = ferry_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = ferry_xstrdup(ref);
}

size_t vs_store_apply(struct vs_store *st, const struct _xmlNode *us, char ***refetch,
		      size_t *nrefetch)
{
	size_t changed = 0;

	for (xmlNode *fs = vs_child(us, "filterSet"); fs; fs = vs_next(fs, "filterSet")) {
		for (xmlNode *os = vs_child(fs, "objectSet"); os; os = vs_next(os, "objectSet")) {
			char *kind = vs_child_text(os, "kind");
			xmlNode *obj = vs_child(os, "obj");
			char *type = vs_moref_type(obj), *ref = vs_text(obj);
			struct vs_obj *o;

			if (!kind || !ref || !*ref)
				goto next;
			changed++;
			if (!strcmp(kind, "leave")) {
				vs_store_remove(st, ref);
				goto next;
			}
			o = vs_store_add(st, type, ref);
			if (!strcmp(kind, "enter"))
				obj_clear(o);
			for (xmlNode *c = vs_child(os, "changeSet"); c;
			     c = vs_next(c, "changeSet")) {
				char *name = vs_child_text(c, "name"), *op = vs_child_text(c, "op");
				if (!name || !op) {
					add_refetch(refetch, nrefetch, ref);
				} else if (partial(o, name)) {
					add_refetch(refetch, nrefetch, ref);
				} else if (!strcmp(op, "assign")) {
					vs_obj_set(st, o, name, vs_child(c, "val"));
				} else if (!strcmp(op, "remove") || !strcmp(op, "indirectRemove")) {
					vs_obj_set(st, o, name, NULL);
				} else {
					add_refetch(refetch, nrefetch, ref);
				}
				free(name);
				free(op);
			}
		next:
			free(kind);
			free(type);
			free(ref);
		}
	}
	return changed;
}

/* ---- paths ---------------------------------------------------------------------------- */

enum { MAX_DEPTH = 64 };

char *vs_store_path(const struct vs_store *st, const char *ref)
{
	const char *names[MAX_DEPTH];
	char *owned[MAX_DEPTH];
	size_t n = 0;
	struct ferry_sb sb = FERRY_SB_INIT;
	const struct vs_obj *o = vs_store_get(st, ref);

	while (o && n < MAX_DEPTH) {
		char *parent = vs_obj_text(o, "parent");
		owned[n] = vs_obj_text(o, "name");
		names[n] = owned[n] ? owned[n] : o->ref;
		n++;
		o = vs_store_get(st, parent);
		free(parent);
	}
	while (n--) {
		ferry_sb_addc(&sb, '/');
		ferry_sb_adds(&sb, names[n]);
		free(owned[n]);
	}
	return ferry_sb_detach(&sb);
}

const struct vs_obj *vs_store_datacenter(const struct vs_store *st, const char *ref, char **dc_path)
{
	const struct vs_obj *o = vs_store_get(st, ref);

	for (size_t d = 0; o && d < MAX_DEPTH; d++) {
		char *parent;
		if (!strcmp(o->type, "Datacenter")) {
			if (dc_path) {
				char *p = vs_store_path(st, o->ref);
				*dc_path = ferry_xstrdup(p[0] == '/' ? p + 1 : p);
				free(p);
			}
			return o;
		}
		parent = vs_obj_text(o, "parent");
		o = vs_store_get(st, parent);
		free(parent);
	}
	return NULL;
}

/* ---- devices ------------------------------------------------------------------------- */

static const char *bus_of(const char *type)
{
	if (strstr(type, "SCSIController") || strstr(type, "LsiLogic") || strstr(type, "BusLogic"))
		return "scsi";
	if (!strcmp(type, "VirtualIDEController"))
		return "ide";
	if (!strcmp(type, "VirtualAHCIController") || !strcmp(type, "VirtualSATAController"))
		return "sata";
	if (!strcmp(type, "VirtualNVMEController"))
		return "nvme";
	return NULL;
}

static char *nic_model(const char *type)
{
	const char *t = ferry_starts_with(type, "Virtual") ? type + 7 : type;
	char *m;

	if (!strcmp(type, "VirtualSriovEthernetCard"))
		return ferry_xstrdup("sriov");
	m = ferry_xstrdup(t);
	for (char *c = m; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return m;
}

static bool is_nic(const char *type, const xmlNode *dev)
{
	static const char *const types[] = {
		"VirtualE1000",
		"VirtualE1000e",
		"VirtualVmxnet",
		"VirtualVmxnet2",
		"VirtualVmxnet3",
		"VirtualPCNet32",
		"VirtualSriovEthernetCard",
		"VirtualVmxnet3Vrdma",
	};

	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (!strcmp(type, types[i]))
			return true;
	return vs_child(dev, "macAddress") != NULL;
}

void vs_devices_parse(const struct _xmlNode *devices, struct vs_disk **disks, size_t *ndisks,
		      struct vs_nic **nics, size_t *nnics)
{
	struct {
		uint64_t key;
		const char *bus;
	} ctl[64];
	size_t nctl = 0, dcap = 0, ncap = 0;
	char type[96];

	*disks = NULL;
	*nics = NULL;
	*ndisks = *nnics = 0;
	for (xmlNode *d = vs_child(devices, NULL); d; d = vs_next(d, NULL)) {
		const char *bus;
		vs_xsi_type(d, type, sizeof type);
		if ((bus = bus_of(type)) && nctl < sizeof ctl / sizeof *ctl) {
			vs_child_u64(d, "key", &ctl[nctl].key);
			ctl[nctl++].bus = bus;
		}
	}
	for (xmlNode *d = vs_child(devices, NULL); d; d = vs_next(d, NULL)) {
		xmlNode *b = vs_child(d, "backing");
		char btype[96];

		vs_xsi_type(d, type, sizeof type);
		vs_xsi_type(b, btype, sizeof btype);
		if (!strcmp(type, "VirtualDisk")) {
			struct vs_disk *k = FERRY_PUSH(*disks, *ndisks, dcap);
			uint64_t kb = 0;
			vs_child_u64(d, "key", &k->key);
			k->label = vs_child_text(vs_child(d, "deviceInfo"), "label");
			k->backing = ferry_xstrdup(btype);
			k->file = vs_child_text(b, "fileName");
			k->datastore = vs_child_text(b, "datastore");
			k->mode = vs_child_text(b, "diskMode");
			k->sharing = vs_child_text(b, "sharing");
			k->change_id = vs_child_text(b, "changeId");
			if (k->change_id && !*k->change_id) {
				free(k->change_id);
				k->change_id = NULL;
			}
			k->rdm = strstr(btype, "RawDisk") != NULL;
			k->flat = strstr(btype, "Flat") != NULL;
			k->has_parent = vs_child(b, "parent") != NULL;
			if (vs_child_u64(d, "capacityInBytes", &k->capacity) || !k->capacity) {
				if (!vs_child_u64(d, "capacityInKB", &kb) &&
				    kb <= UINT64_MAX / 1024)
					k->capacity = kb * 1024;
			}
			vs_child_u64(d, "controllerKey", &k->controller);
			for (size_t i = 0; i < nctl; i++)
				if (ctl[i].key == k->controller)
					k->bus = ctl[i].bus;
		} else if (is_nic(type, d)) {
			struct vs_nic *n = FERRY_PUSH(*nics, *nnics, ncap);
			n->label = vs_child_text(vs_child(d, "deviceInfo"), "label");
			n->mac = vs_child_text(d, "macAddress");
			for (char *c = n->mac; c && *c; c++)
				*c = (char)tolower((unsigned char)*c);
			n->model = nic_model(type);
			if (strstr(btype, "DistributedVirtualPort"))
				n->network = vs_child_text(vs_child(b, "port"), "portgroupKey");
			else if (strstr(btype, "OpaqueNetwork"))
				n->opaque_id = vs_child_text(b, "opaqueNetworkId");
			else
				n->network = vs_child_text(b, "network");
			n->device_name = vs_child_text(b, "deviceName");
		}
	}
}

void vs_disk_release(struct vs_disk *d)
{
	free(d->label);
	free(d->backing);
	free(d->file);
	free(d->datastore);
	free(d->mode);
	free(d->sharing);
	free(d->change_id);
	memset(d, 0, sizeof *d);
}

void vs_disks_free(struct vs_disk *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vs_disk_release(&d[i]);
	free(d);
}

void vs_nics_free(struct vs_nic *n, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(n[i].label);
		free(n[i].mac);
		free(n[i].model);
		free(n[i].network);
		free(n[i].device_name);
		free(n[i].opaque_id);
	}
	free(n);
}

/* ---- the inventory ------------------------------------------------------------------- */

static char *obj_name(const struct vs_store *st, const char *ref)
{
	return vs_obj_text(vs_store_get(st, ref), "name");
}

/* "[LocalDS_0] dir/x.vmdk" -> "LocalDS_0" */
static char *file_datastore(const char *file)
{
	const char *end;

	if (!file || file[0] != '[' || !(end = strchr(file, ']')))
		return NULL;
	return ferry_xstrndup(file + 1, (size_t)(end - file - 1));
}

static unsigned prop_uint(const struct vs_obj *o, const char *name)
{
	char *t = vs_obj_text(o, name);
	unsigned long v = t ? strtoul(t, NULL, 10) : 0;

	free(t);
	return v > UINT32_MAX ? 0 : (unsigned)v;
}

static bool prop_true(const struct vs_obj *o, const char *name)
{
	char *t = vs_obj_text(o, name);
	bool yes = t && !strcmp(t, "true");

	free(t);
	return yes;
}

/* Parents before children, depth first. */
static void add_snapshots(struct ferry_vm *vm, const xmlNode *parent, const char *list, size_t *cap,
			  int depth)
{
	if (depth >= MAX_DEPTH)
		return;
	for (xmlNode *t = vs_child(parent, list); t; t = vs_next(t, list)) {
		struct ferry_vm_snapshot *sn = FERRY_PUSH(vm->snapshots, vm->nsnapshots, *cap);
		sn->id = vs_child_text(t, "snapshot");
		sn->name = vs_child_text(t, "name");
		add_snapshots(vm, t, "childSnapshotList", cap, depth + 1);
	}
}

static void build_disks(const struct vs_store *st, struct ferry_vm *vm, struct vs_disk *d, size_t n)
{
	vm->disks = ferry_xcalloc(n ? n : 1, sizeof *vm->disks);
	vm->ndisks = n;
	for (size_t i = 0; i < n; i++) {
		struct ferry_vm_disk *x = &vm->disks[i];
		x->id = ferry_xasprintf("%" PRIu64, d[i].key);
		x->file = d[i].file ? ferry_xstrdup(d[i].file) : NULL;
		x->format = ferry_xstrdup(d[i].rdm ? "rdm" : "vmdk");
		x->capacity = d[i].capacity;
		x->storage = d[i].datastore ? obj_name(st, d[i].datastore) : NULL;
		if (!x->storage)
			x->storage = file_datastore(d[i].file);
		x->storage_id = d[i].datastore ? ferry_xstrdup(d[i].datastore) : NULL;
		x->shared = d[i].sharing && !strcmp(d[i].sharing, "sharingMultiWriter");
		x->bus = d[i].bus ? ferry_xstrdup(d[i].bus) : NULL;
		x->mode = ferry_xstrdup(d[i].mode ? d[i].mode : "persistent");
		x->rdm = d[i].rdm;
		x->change_id = d[i].change_id ? ferry_xstrdup(d[i].change_id) : NULL;
	}
}

static void build_nics(const struct vs_store *st, struct ferry_vm *vm, struct vs_nic *nc, size_t n)
{
	vm->nics = ferry_xcalloc(n ? n : 1, sizeof *vm->nics);
	vm->nnics = n;
	for (size_t i = 0; i < n; i++) {
		struct ferry_vm_nic *x = &vm->nics[i];
		x->name = nc[i].label ? ferry_xstrdup(nc[i].label) : NULL;
		x->mac = nc[i].mac ? ferry_xstrdup(nc[i].mac) : NULL;
		x->model = ferry_xstrdup(nc[i].model);
		if (nc[i].network) {
			x->network_id = ferry_xstrdup(nc[i].network);
			x->network = obj_name(st, nc[i].network);
		}
		if (!x->network && nc[i].device_name && *nc[i].device_name)
			x->network = ferry_xstrdup(nc[i].device_name);
		if (!x->network && nc[i].opaque_id)
			x->network = ferry_xstrdup(nc[i].opaque_id);
	}
}

static char *power(const struct vs_obj *o)
{
	char *p = vs_obj_text(o, "runtime.powerState");
	const char *v = !p			  ? NULL
			: !strcmp(p, "poweredOn") ? "On"
			: !strcmp(p, "suspended") ? "Suspended"
						  : "Off";

	free(p);
	return v ? ferry_xstrdup(v) : NULL;
}

static void build_vm(const struct vs_store *st, const struct vs_obj *o, struct ferry_vm *vm,
		     struct ferry_findings *f)
{
	const xmlNode *snap = vs_obj_prop(o, "snapshot");
	struct vs_disk *disks;
	struct vs_nic *nics;
	size_t nd, nn, scap = 0;
	char *fw, *host_parent;
	const struct vs_obj *host, *cr;

	memset(vm, 0, sizeof *vm);
	vm->id = ferry_xstrdup(o->ref);
	vm->name = vs_obj_text(o, "name");
	if (!vm->name)
		vm->name = ferry_xstrdup(o->ref);
	vm->cpus = prop_uint(o, "config.hardware.numCPU");
	vm->cores_per_socket = prop_uint(o, "config.hardware.numCoresPerSocket");
	vm->memory_bytes = (uint64_t)prop_uint(o, "config.hardware.memoryMB") << 20;
	fw = vs_obj_text(o, "config.firmware");
	vm->firmware = ferry_xstrdup(fw && !strcmp(fw, "efi") ? "efi" : "bios");
	free(fw);
	vm->secure_boot = prop_true(o, "config.bootOptions.efiSecureBootEnabled");
	vm->power_state = power(o);
	vm->os_type = vs_obj_text(o, "config.guestId");
	vm->guest_name = vs_obj_text(o, "config.guestFullName");
	vm->source = vs_store_path(st, o->ref);
	vm->uuid = vs_obj_text(o, "config.uuid");
	vm->connection_state = vs_obj_text(o, "runtime.connectionState");
	vm->ip_address = vs_obj_text(o, "guest.ipAddress");
	vm->has_cbt = true;
	vm->cbt_enabled = prop_true(o, "config.changeTrackingEnabled");
	vm->host = vs_obj_text(o, "runtime.host");
	host = vs_store_get(st, vm->host);
	vm->host_name = vs_obj_text(host, "name");
	host_parent = vs_obj_text(host, "parent");
	cr = vs_store_get(st, host_parent);
	if (cr && !strcmp(cr->type, "ClusterComputeResource"))
		vm->cluster = vs_obj_text(cr, "name");
	free(host_parent);
	if (snap) {
		vm->snapshot = vs_child_text(snap, "currentSnapshot");
		add_snapshots(vm, snap, "rootSnapshotList", &scap, 0);
	}
	vs_devices_parse(vs_obj_prop(o, "config.hardware.device"), &disks, &nd, &nics, &nn);
	build_disks(st, vm, disks, nd);
	build_nics(st, vm, nics, nn);
	vs_disks_free(disks, nd);
	vs_nics_free(nics, nn);
	if (vm->connection_state && strcmp(vm->connection_state, "connected"))
		ferry_findings_add(f, FERRY_CAT_WARNING, "vsphere.vm.not-connected", NULL,
				   "VM '%s' (%s) is %s: vCenter cannot reach it or its files",
				   vm->name, vm->id, vm->connection_state);
	else if (!vs_obj_prop(o, "config.hardware.device"))
		ferry_findings_add(f, FERRY_CAT_WARNING, "vsphere.vm.no-config", NULL,
				   "VM '%s' (%s) has no configuration in the inventory", vm->name,
				   vm->id);
}

static int cmp_vm(const void *a, const void *b)
{
	const struct ferry_vm *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->id, y->id);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the objects of the given types, sorted, unique. */
static void names_of(const struct vs_store *st, const char *const *types, char ***out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < st->n; i++) {
		const struct vs_obj *o = st->objs[i];
		bool want = false;
		char *name;

		for (size_t t = 0; types[t] && !want; t++)
			want = !strcmp(o->type, types[t]);
		if (!want || !(name = vs_obj_text(o, "name")))
			continue;
		*FERRY_PUSH(*out, *n, cap) = name;
	}
	if (*n > 1)
		qsort(*out, *n, sizeof **out, cmp_str);
	for (size_t i = 1; i < *n;) {
		if (!strcmp((*out)[i], (*out)[i - 1])) {
			free((*out)[i]);
			memmove(&(*out)[i], &(*out)[i + 1], (*n - i - 1) * sizeof **out);
			(*n)--;
		} else {
			i++;
		}
	}
}

void vs_store_build(const struct vs_store *st, struct ferry_inventory *inv,
		    struct ferry_findings *f)
{
	/* Network and the subtypes the server may name instead */
	static const char *const networks[] = {"Network", "DistributedVirtualPortgroup",
					       "OpaqueNetwork", NULL};
	static const char *const datastores[] = {"Datastore", NULL};

	for (size_t i = 0; i < st->n; i++) {
		const struct vs_obj *o = st->objs[i];
		if (strcmp(o->type, "VirtualMachine") || prop_true(o, "config.template"))
			continue;
		inv->vms = ferry_grow(inv->vms, &inv->cap, inv->nvms + 1, sizeof *inv->vms);
		build_vm(st, o, &inv->vms[inv->nvms++], f);
	}
	if (inv->nvms > 1)
		qsort(inv->vms, inv->nvms, sizeof *inv->vms, cmp_vm);
	names_of(st, networks, &inv->networks, &inv->nnetworks);
	names_of(st, datastores, &inv->storages, &inv->nstorages);
}

int vs_store_load_reply(struct vs_store *st, const char *xml, size_t len, char ***refetch,
			size_t *nrefetch, struct ferry_err *err)
{
	struct vs_reply r = VS_REPLY_INIT;

	/* the method is whatever the reply answers */
	if (vs_parse_reply("RetrievePropertiesEx", 200, xml, len, &r, err)) {
		vs_reply_release(&r);
		if (vs_parse_reply("WaitForUpdatesEx", 200, xml, len, &r, err)) {
			vs_reply_release(&r);
			return -1;
		}
	}
	if (!strcmp((const char *)r.resp->name, "WaitForUpdatesExResponse"))
		vs_store_apply(st, vs_child(r.resp, "returnval"), refetch, nrefetch);
	else
		vs_store_load(st, vs_child(r.resp, "returnval"));
	vs_reply_release(&r);
	return 0;
}

int vs_inventory_from_reply(const char *xml, size_t len, struct ferry_inventory *inv,
			    struct ferry_findings *f, struct ferry_err *err)
{
	struct vs_store st;
	char **refetch = NULL;
	size_t nrefetch = 0;
	int rc;

	vs_store_init(&st);
	rc = vs_store_load_reply(&st, xml, len, &refetch, &nrefetch, err);
	for (size_t i = 0; i < nrefetch; i++)
		free(refetch[i]);
	free(refetch);
	if (!rc)
		vs_store_build(&st, inv, f);
	vs_store_release(&st);
	return rc;
}
