#include "driver.h"

#include "common/alloc.h"

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
	}
	free(vm->disks);
	for (size_t i = 0; i < vm->nnics; i++) {
		struct ferry_vm_nic *n = &vm->nics[i];
		free(n->name);
		free(n->network);
		free(n->mac);
		free(n->model);
	}
	free(vm->nics);
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
	memset(inv, 0, sizeof *inv);
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
