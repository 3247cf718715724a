#include "driver.h"

#include "common/alloc.h"
#include "common/strbuf.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static void vm_release(struct ferry_vm *vm)
{
	for (size_t i = 0; i < vm->ndisks; i++) {
		struct ferry_vm_disk *d = &vm->disks[i];
		free(d->id);
		free(d->file);
		free(d->format);
		free(d->storage);
		free(d->bus);
		free(d->storage_id);
		free(d->mode);
		free(d->change_id);
	}
	free(vm->disks);
	for (size_t i = 0; i < vm->nnics; i++) {
		struct ferry_vm_nic *n = &vm->nics[i];
		free(n->name);
		free(n->network);
		free(n->mac);
		free(n->model);
		free(n->network_id);
	}
	free(vm->nics);
	for (size_t i = 0; i < vm->nsnapshots; i++) {
		free(vm->snapshots[i].id);
		free(vm->snapshots[i].name);
	}
	free(vm->snapshots);
	free(vm->uuid);
	free(vm->connection_state);
	free(vm->host_name);
	free(vm->cluster);
	free(vm->guest_name);
	free(vm->ip_address);
	free(vm->snapshot);
	free(vm->id);
	free(vm->name);
	free(vm->firmware);
	free(vm->power_state);
	free(vm->os_type);
	free(vm->source);
	free(vm->host);
	free(vm->export_source);
}

void ferry_inventory_release(struct ferry_inventory *inv)
{
	for (size_t i = 0; i < inv->nvms; i++)
		vm_release(&inv->vms[i]);
	free(inv->vms);
	for (size_t i = 0; i < inv->nnetworks; i++)
		free(inv->networks[i]);
	free(inv->networks);
	for (size_t i = 0; i < inv->nstorages; i++)
		free(inv->storages[i]);
	free(inv->storages);
	free(inv->by_id);
	free(inv->by_name);
	memset(inv, 0, sizeof *inv);
}

/* qsort/bsearch over indices into one inventory's VMs */
static const struct ferry_inventory *sort_inv;

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int by_id_cmp(const void *a, const void *b)
{
	return cmp_str(sort_inv->vms[*(const size_t *)a].id, sort_inv->vms[*(const size_t *)b].id);
}

static int by_name_cmp(const void *a, const void *b)
{
	return cmp_str(sort_inv->vms[*(const size_t *)a].name,
		       sort_inv->vms[*(const size_t *)b].name);
}

void ferry_inventory_index(struct ferry_inventory *inv)
{
	free(inv->by_id);
	free(inv->by_name);
	inv->by_id = ferry_xcalloc(inv->nvms ? inv->nvms : 1, sizeof *inv->by_id);
	inv->by_name = ferry_xcalloc(inv->nvms ? inv->nvms : 1, sizeof *inv->by_name);
	for (size_t i = 0; i < inv->nvms; i++)
		inv->by_id[i] = inv->by_name[i] = i;
	sort_inv = inv;
	qsort(inv->by_id, inv->nvms, sizeof *inv->by_id, by_id_cmp);
	qsort(inv->by_name, inv->nvms, sizeof *inv->by_name, by_name_cmp);
	sort_inv = NULL;
}

/* The first position in idx (sorted by field) whose VM's field is not
 * below key. */
static size_t lower_bound(const struct ferry_inventory *inv, const size_t *idx, bool by_id,
			  const char *key)
{
	size_t lo = 0, hi = inv->nvms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ferry_vm *vm = &inv->vms[idx[mid]];

		if (cmp_str(by_id ? vm->id : vm->name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ferry_inventory_find with the tables: the same answers, in log time. */
static const struct ferry_vm *find_indexed(const struct ferry_inventory *inv, const char *id,
					   const char *name)
{
	size_t at;
	const struct ferry_vm *vm;

	if (id) {
		at = lower_bound(inv, inv->by_id, true, id);
		if (at == inv->nvms || !(vm = &inv->vms[inv->by_id[at]])->id || strcmp(vm->id, id))
			return NULL;
		return !name || (vm->name && strcmp(vm->name, name) == 0) ? vm : NULL;
	}
	at = lower_bound(inv, inv->by_name, false, name);
	if (at == inv->nvms || !(vm = &inv->vms[inv->by_name[at]])->name || strcmp(vm->name, name))
		return NULL;
	if (at + 1 < inv->nvms && inv->vms[inv->by_name[at + 1]].name &&
	    !strcmp(inv->vms[inv->by_name[at + 1]].name, name))
		return NULL; /* a name two VMs share identifies neither */
	return vm;
}

/* By id when one is given (and then the name, if given too, must agree);
 * by name otherwise, and only when exactly one VM has it: a name two VMs
 * share identifies neither. */
const struct ferry_vm *ferry_inventory_find(const struct ferry_inventory *inv, const char *id,
					    const char *name)
{
	const struct ferry_vm *found = NULL;

	if (!id && !name)
		return NULL;
	if (inv->by_id)
		return find_indexed(inv, id, name);
	for (size_t i = 0; i < inv->nvms; i++) {
		const struct ferry_vm *vm = &inv->vms[i];
		if (id) {
			if (vm->id && strcmp(vm->id, id) == 0)
				return !name || (vm->name && strcmp(vm->name, name) == 0) ? vm
											  : NULL;
			continue;
		}
		if (vm->name && strcmp(vm->name, name) == 0) {
			if (found)
				return NULL;
			found = vm;
		}
	}
	return found;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* json_string() refuses invalid UTF-8; a source can hand us any bytes. */
static void set_str(json_t *o, const char *key, const char *s)
{
	json_t *v = str_or_null(s);

	json_object_set_new(o, key, v ? v : json_stringn("", 0));
}

static void set_int(json_t *o, const char *key, uint64_t v)
{
	json_object_set_new(o, key, json_integer(v > LLONG_MAX ? LLONG_MAX : (json_int_t)v));
}

char *ferry_vm_to_json(const struct ferry_vm *vm)
{
	json_t *o = json_object(), *disks = json_array(), *nics = json_array();
	char *out, *ret;

	set_str(o, "id", vm->id);
	set_str(o, "name", vm->name);
	set_int(o, "cpuCount", vm->cpus);
	set_int(o, "coresPerSocket", vm->cores_per_socket);
	set_int(o, "memoryMB", vm->memory_bytes >> 20);
	set_str(o, "firmware", vm->firmware);
	json_object_set_new(o, "secureBoot", json_boolean(vm->secure_boot));
	set_str(o, "powerState", vm->power_state);
	/* vSphere calls it guestId, Forklift's OVA inventory osType: rules
	 * written for either read it. */
	set_str(o, "guestId", vm->os_type);
	set_str(o, "osType", vm->os_type);
	set_str(o, "source", vm->source);
	if (vm->export_source)
		set_str(o, "ovaSource", vm->export_source);
	/* Forklift's vSphere inventory names, each only when the source knows it. */
	if (vm->uuid)
		set_str(o, "uuid", vm->uuid);
	if (vm->connection_state)
		set_str(o, "connectionState", vm->connection_state);
	if (vm->guest_name)
		set_str(o, "guestName", vm->guest_name);
	if (vm->ip_address)
		set_str(o, "ipAddress", vm->ip_address);
	if (vm->has_cbt)
		json_object_set_new(o, "changeTrackingEnabled", json_boolean(vm->cbt_enabled));
	if (vm->host) {
		json_t *h = json_object();
		set_str(h, "id", vm->host);
		if (vm->host_name)
			set_str(h, "name", vm->host_name);
		if (vm->cluster) {
			json_t *c = json_object();
			set_str(c, "name", vm->cluster);
			json_object_set_new(h, "cluster", c);
		}
		json_object_set_new(o, "host", h);
	}
	if (vm->snapshot) {
		json_t *snap = json_object();
		set_str(snap, "kind", "VirtualMachineSnapshot");
		set_str(snap, "id", vm->snapshot);
		json_object_set_new(o, "snapshot", snap);
	}
	if (vm->nsnapshots) {
		json_t *a = json_array();
		for (size_t i = 0; i < vm->nsnapshots; i++) {
			json_t *j = json_object();
			set_str(j, "id", vm->snapshots[i].id);
			set_str(j, "name", vm->snapshots[i].name);
			json_array_append_new(a, j);
		}
		json_object_set_new(o, "snapshots", a);
	}
	for (size_t i = 0; i < vm->ndisks; i++) {
		const struct ferry_vm_disk *d = &vm->disks[i];
		json_t *j = json_object();
		set_str(j, "id", d->id);
		set_str(j, "file", d->file);
		set_str(j, "format", d->format);
		set_int(j, "capacity", d->capacity);
		set_str(j, "storage", d->storage);
		json_object_set_new(j, "shared", json_boolean(d->shared));
		set_str(j, "bus", d->bus);
		if (d->storage_id) {
			json_t *ds = json_object();
			set_str(ds, "kind", "Datastore");
			set_str(ds, "id", d->storage_id);
			json_object_set_new(j, "datastore", ds);
		}
		if (d->mode) {
			set_str(j, "mode", d->mode);
			json_object_set_new(j, "rdm", json_boolean(d->rdm));
			set_str(j, "changeId", d->change_id);
		}
		json_array_append_new(disks, j);
	}
	json_object_set_new(o, "disks", disks);
	for (size_t i = 0; i < vm->nnics; i++) {
		const struct ferry_vm_nic *n = &vm->nics[i];
		json_t *j = json_object();
		set_str(j, "name", n->name);
		set_str(j, "network", n->network);
		set_str(j, "mac", n->mac);
		set_str(j, "model", n->model);
		if (n->network_id)
			set_str(j, "networkId", n->network_id);
		json_array_append_new(nics, j);
	}
	json_object_set_new(o, "nics", nics);
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!out)
		abort(); /* out of memory: see common/alloc.h */
	ret = ferry_xstrdup(out);
	free(out);
	return ret;
}

const char *ferry_pairs_get(const struct ferry_pairs *kv, const char *key)
{
	const char *v = NULL;

	for (size_t i = 0; kv && i < kv->n; i++)
		if (kv->keys[i] && !strcmp(kv->keys[i], key))
			v = kv->values[i];
	return v;
}

void ferry_snapshot_release(struct ferry_snapshot *s)
{
	for (size_t i = 0; i < s->ndisks; i++) {
		free(s->disk_ids[i]);
		free(s->change_ids[i]);
	}
	free(s->disk_ids);
	free(s->change_ids);
	free(s->id);
	free(s->name);
	memset(s, 0, sizeof *s);
}

void ferry_changed_areas_release(struct ferry_changed_areas *c)
{
	free(c->v);
	memset(c, 0, sizeof *c);
}

char *ferry_changed_areas_json(const struct ferry_changed_areas *c)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	ferry_sb_addc(&sb, '[');
	for (size_t i = 0; i < c->n; i++)
		ferry_sb_addf(&sb, "%s{\"start\":%" PRIu64 ",\"length\":%" PRIu64 "}", i ? "," : "",
			      c->v[i].start, c->v[i].length);
	ferry_sb_adds(&sb, "]\n");
	return ferry_sb_detach(&sb);
}
