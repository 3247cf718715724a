/* reconciler/resolve: from a plan's VM and the source's inventory to the
 * exact target VM (names, templates, buses, power, storage), and the
 * problems that block a VM. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "reconciler/resolve.h"
#include "schema/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char desired[] =
	"apiVersion: forklift.konveyor.io/v1beta1\n"
	"kind: Provider\n"
	"metadata: {name: vcenter, namespace: mig}\n"
	"spec: {type: vsphere, url: https://vc.example.com/sdk, secret: {name: vc}}\n"
	"---\n"
	"apiVersion: forklift.konveyor.io/v1beta1\n"
	"kind: Provider\n"
	"metadata: {name: host, namespace: mig}\n"
	"spec: {type: openshift, url: \"\"}\n"
	"---\n"
	"apiVersion: forklift.konveyor.io/v1beta1\n"
	"kind: NetworkMap\n"
	"metadata: {name: net, namespace: mig}\n"
	"spec:\n"
	"  provider: {source: {name: vcenter}, destination: {name: host}}\n"
	"  map:\n"
	"    - {source: {name: VM-Network}, destination: {type: pod}}\n"
	"    - {source: {id: network-7}, destination: {type: multus, name: prod-lan, namespace: "
	"net}}\n"
	"    - {source: {name: Backup}, destination: {type: multus, name: bk, namespace: infra}}\n"
	"---\n"
	"apiVersion: forklift.konveyor.io/v1beta1\n"
	"kind: StorageMap\n"
	"metadata: {name: storage, namespace: mig}\n"
	"spec:\n"
	"  provider: {source: {name: vcenter}, destination: {name: host}}\n"
	"  map:\n"
	"    - source: {name: datastore1}\n"
	"      destination: {storageClass: standard, volumeMode: Block, accessMode: "
	"ReadWriteMany}\n"
	"    - source: {id: datastore-22}\n"
	"      destination: {storageClass: fast}\n"
	"---\n"
	"apiVersion: forklift.konveyor.io/v1beta1\n"
	"kind: Hook\n"
	"metadata: {name: h, namespace: mig}\n"
	"spec: {image: quay.io/konveyor/hook-runner}\n"
	"---\n"
	/* templates, compatibility mode, power from the plan */
	"apiVersion: forklift.konveyor.io/v1beta1\n"
	"kind: Plan\n"
	"metadata: {name: shaped, namespace: mig}\n"
	"spec:\n"
	"  targetNamespace: mig-vms\n"
	"  provider: {source: {name: vcenter}, destination: {name: host}}\n"
	"  map: {network: {name: net}, storage: {name: storage}}\n"
	"  warm: true\n"
	"  skipGuestConversion: true\n"
	"  useCompatibilityMode: true\n"
	"  targetPowerState: \"on\"\n"
	"  targetLabels: {team: web}\n"
	"  pvcNameTemplate: \"{{.TargetVmName}}-d{{.DiskIndex}}\"\n"
	"  networkNameTemplate: \"{{.NetworkType}}-{{.NetworkIndex}}\"\n"
	"  vms:\n"
	"    - name: web-01\n"
	"      targetName: frontend\n"
	"    - id: vm-102\n"
	"      targetPowerState: \"off\"\n"
	"      pvcNameTemplate: \"{{.PlanName}}-{{.VmName}}-{{.DiskIndex}}\"\n"
	"      hooks: [{hook: {name: h}, step: PreHook}]\n"
	"    - {name: app-01}\n"
	"    - {name: ghost}\n"
	"    - {name: Web_03}\n"
	"---\n"
	/* Forklift's defaults */
	"apiVersion: forklift.konveyor.io/v1beta1\n"
	"kind: Plan\n"
	"metadata: {name: plain, namespace: mig}\n"
	"spec:\n"
	"  provider: {source: {name: vcenter}, destination: {name: host}}\n"
	"  map: {network: {name: net}, storage: {name: storage}}\n"
	"  vms: [{name: web-01}, {name: Web_03}]\n"
	"---\n"
	"apiVersion: forklift.konveyor.io/v1beta1\n"
	"kind: Plan\n"
	"metadata: {name: bad-template, namespace: mig}\n"
	"spec:\n"
	"  provider: {source: {name: vcenter}, destination: {name: host}}\n"
	"  map: {network: {name: net}, storage: {name: storage}}\n"
	"  pvcNameTemplate: \"{{.VmName}}_disk\"\n"
	"  vms: [{name: web-01}]\n"
	"---\n"
	/* a source that gives ids (vSphere morefs) as well as names */
	"apiVersion: forklift.konveyor.io/v1beta1\n"
	"kind: Plan\n"
	"metadata: {name: by-id, namespace: mig}\n"
	"spec:\n"
	"  provider: {source: {name: vcenter}, destination: {name: host}}\n"
	"  map: {network: {name: net}, storage: {name: storage}}\n"
	"  vms: [{id: vm-401}, {id: vm-402}, {id: vm-403}]\n";

struct fixture {
	struct ferry_model m;
	struct ferry_inventory inv;
};

static struct ferry_vm *add_vm(struct ferry_inventory *inv, const char *id, const char *name,
			       const char *power)
{
	struct ferry_vm *vm = FERRY_PUSH(inv->vms, inv->nvms, inv->cap);

	vm->id = ferry_xstrdup(id);
	vm->name = ferry_xstrdup(name);
	vm->power_state = ferry_xstrdup(power);
	vm->firmware = ferry_xstrdup("efi");
	vm->cpus = 4;
	vm->memory_bytes = 8ull << 30;
	vm->has_cbt = vm->cbt_enabled = true; /* as vSphere VMs ready for warm */
	return vm;
}

static void add_disk(struct ferry_vm *vm, const char *storage, uint64_t mib)
{
	struct ferry_vm_disk *d;

	vm->disks = ferry_xrealloc(vm->disks, (vm->ndisks + 1) * sizeof *vm->disks);
	d = &vm->disks[vm->ndisks];
	memset(d, 0, sizeof *d);
	d->id = ferry_xasprintf("%zu", 2000 + vm->ndisks);
	d->storage = ferry_xstrdup(storage);
	d->capacity = mib << 20;
	vm->ndisks++;
}

static void add_nic(struct ferry_vm *vm, const char *network, const char *mac)
{
	struct ferry_vm_nic *n;

	vm->nics = ferry_xrealloc(vm->nics, (vm->nnics + 1) * sizeof *vm->nics);
	n = &vm->nics[vm->nnics];
	memset(n, 0, sizeof *n);
	n->name = ferry_xasprintf("Network adapter %zu", vm->nnics + 1);
	n->network = ferry_xstrdup(network);
	n->mac = mac ? ferry_xstrdup(mac) : NULL;
	vm->nnics++;
}

/* Set the ids of the last disk and NIC of vm, as a vSphere inventory has
 * them (NULL: leave it without one). */
static void set_ids(struct ferry_vm *vm, const char *storage_id, const char *network_id)
{
	if (storage_id)
		vm->disks[vm->ndisks - 1].storage_id = ferry_xstrdup(storage_id);
	if (network_id)
		vm->nics[vm->nnics - 1].network_id = ferry_xstrdup(network_id);
}

static int setup(void **state)
{
	struct fixture *fx = ferry_xcalloc(1, sizeof *fx);
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_vm *vm;

	ferry_model_load_buffer(&fx->m, "desired.yaml", desired, strlen(desired), &f);
	ferry_model_validate(&fx->m, &f);
	if (ferry_findings_blocking(&f)) {
		ferry_findings_sort(&f);
		ferry_report_text(stderr, &f, &fx->m);
		return -1;
	}
	ferry_findings_release(&f);

	/* sorted by name, as an inventory is */
	vm = add_vm(&fx->inv, "vm-103", "Web_03", "On");
	add_disk(vm, "datastore1", 512);
	vm = add_vm(&fx->inv, "vm-301", "app-01", "On");
	add_disk(vm, "datastore1", 1024);
	add_disk(vm, "datastore9", 2048); /* the StorageMap leaves it out */
	add_nic(vm, "VM-Network", "00:50:56:03:01:01");
	vm = add_vm(&fx->inv, "vm-101", "web-01", "Off");
	add_disk(vm, "datastore1", 1024);
	add_disk(vm, "datastore-22", 4096); /* mapped by id */
	add_nic(vm, "VM-Network", "00:50:56:01:01:01");
	add_nic(vm, "network-7", "00:50:56:01:01:02"); /* mapped by id */
	add_nic(vm, "Backup", NULL);
	vm = add_vm(&fx->inv, "vm-102", "web-02", "On");
	add_disk(vm, "datastore1", 2048);
	/* with ids, after the others (an unindexed inventory is searched) */
	vm = add_vm(&fx->inv, "vm-401", "db-01", "On");
	add_disk(vm, "datastore1", 1024); /* by name, though it has an id */
	set_ids(vm, "datastore-5", NULL);
	add_disk(vm, "ssd", 2048); /* by id: datastore-22 */
	set_ids(vm, "datastore-22", NULL);
	add_nic(vm, "VM-Network", "00:50:56:04:01:01"); /* by name */
	set_ids(vm, NULL, "network-1");
	add_nic(vm, "Prod LAN", "00:50:56:04:01:02"); /* by id: network-7 */
	set_ids(vm, NULL, "network-7");
	/* a name that is some other object's id maps nothing once ids are known */
	vm = add_vm(&fx->inv, "vm-402", "db-02", "Off");
	add_disk(vm, "datastore-22", 1024);
	set_ids(vm, "datastore-40", NULL);
	vm = add_vm(&fx->inv, "vm-403", "db-03", "Off");
	add_disk(vm, "datastore1", 1024);
	add_nic(vm, "network-7", NULL);
	set_ids(vm, NULL, "network-70");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (!fx)
		return 0;
	ferry_model_release(&fx->m);
	ferry_inventory_release(&fx->inv);
	free(fx);
	return 0;
}

static const struct ferry_plan *plan(const struct fixture *fx, const char *name)
{
	const struct ferry_plan *p =
		(const struct ferry_plan *)ferry_model_find(&fx->m, FERRY_KIND_PLAN, "mig", name);

	assert_non_null(p);
	return p;
}

static void test_templates_and_compat(void **state)
{
	const struct fixture *fx = *state;
	const struct ferry_plan *p = plan(fx, "shaped");
	struct ferry_run_vm v;
	const struct ferry_target_vm *t = &v.tvm;

	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, true, &v);
	assert_null(v.problem);
	assert_ptr_equal(v.src, &fx->inv.vms[2]);
	assert_string_equal(v.id, "vm-101");
	assert_string_equal(v.name, "web-01");
	assert_int_equal(v.kind, FERRY_ITINERARY_WARM);
	assert_int_equal(v.flags, FERRY_IT_POWER); /* no hooks, no conversion */
	assert_string_equal(t->name, "frontend");
	assert_string_equal(t->ns, "mig-vms");
	assert_string_equal(t->plan_ns, "mig");
	assert_string_equal(t->plan_name, "shaped");
	assert_string_equal(t->source_vm_id, "vm-101");
	assert_string_equal(t->firmware, "efi");
	assert_int_equal(t->cpus, 4);
	assert_true(t->running); /* targetPowerState: on, though the source is off */
	assert_int_equal(t->nlabels, 1);
	assert_string_equal(t->labels[0].key, "team");
	assert_string_equal(t->labels[0].value, "web");

	assert_int_equal(t->ndisks, 2);
	assert_string_equal(t->disks[0].name, "frontend-d0");
	assert_string_equal(t->disks[1].name, "frontend-d1");
	assert_int_equal(t->disks[0].size, 1024ull << 20);
	assert_string_equal(t->disks[0].storage_class, "standard");
	assert_string_equal(t->disks[0].volume_mode, "Block");
	assert_string_equal(t->disks[0].access_mode, "ReadWriteMany");
	assert_string_equal(t->disks[1].storage_class, "fast");
	assert_null(t->disks[1].volume_mode);
	assert_null(t->disks[1].access_mode);
	assert_string_equal(t->disks[0].bus, "sata"); /* useCompatibilityMode */

	assert_int_equal(t->nnics, 3);
	assert_string_equal(t->nics[0].name, "pod-0");
	assert_string_equal(t->nics[0].type, "pod");
	assert_null(t->nics[0].network);
	assert_string_equal(t->nics[0].mac, "00:50:56:01:01:01");
	assert_string_equal(t->nics[0].model, "e1000e");
	assert_string_equal(t->nics[1].name, "multus-1");
	assert_string_equal(t->nics[1].network, "net/prod-lan");
	assert_string_equal(t->nics[2].network, "infra/bk");
	assert_null(t->nics[2].mac);
	assert_int_equal(strlen(v.hash), 16);
	ferry_run_vm_release(&v);
}

static void test_per_vm_overrides(void **state)
{
	const struct fixture *fx = *state;
	struct ferry_run_vm v;

	/* listed by id; its own pvcNameTemplate and targetPowerState */
	ferry_resolve_vm(&fx->m, plan(fx, "shaped"), 1, &fx->inv, false, &v);
	assert_null(v.problem);
	assert_string_equal(v.id, "vm-102");
	assert_string_equal(v.name, "web-02");
	assert_int_equal(v.flags, FERRY_IT_PRE_HOOK);
	assert_string_equal(v.tvm.name, "web-02");
	assert_false(v.tvm.running); /* off, though the source is on */
	assert_int_equal(v.tvm.ndisks, 1);
	assert_string_equal(v.tvm.disks[0].name, "shaped-web-02-0");
	ferry_run_vm_release(&v);
}

static void test_defaults(void **state)
{
	const struct fixture *fx = *state;
	const struct ferry_plan *p = plan(fx, "plain");
	struct ferry_run_vm v, w, again;

	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, false, &v);
	assert_null(v.problem);
	assert_int_equal(v.kind, FERRY_ITINERARY_COLD);
	assert_int_equal(v.flags, FERRY_IT_CONVERT);
	assert_string_equal(v.tvm.name, "web-01");
	assert_string_equal(v.tvm.ns, "mig"); /* no targetNamespace: the plan's */
	assert_false(v.tvm.running);	      /* as the source: Off */
	assert_string_equal(v.tvm.disks[0].name, "web-01-disk-0");
	assert_string_equal(v.tvm.disks[1].name, "web-01-disk-1");
	assert_string_equal(v.tvm.disks[0].bus, "virtio");
	assert_string_equal(v.tvm.nics[0].name, "net-0");
	assert_string_equal(v.tvm.nics[0].model, "virtio");
	assert_string_equal(v.tvm.nics[1].network, "net/prod-lan");

	/* a source name that is no DNS-1123 label is made one */
	ferry_resolve_vm(&fx->m, p, 1, &fx->inv, false, &w);
	assert_null(w.problem);
	assert_string_equal(w.name, "Web_03");
	assert_string_equal(w.tvm.name, "web-03");
	assert_true(w.tvm.running); /* as the source: On */

	/* the hash: the same for the same mapping, another for another */
	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, false, &again);
	assert_string_equal(v.hash, again.hash);
	assert_string_not_equal(v.hash, w.hash);
	ferry_run_vm_release(&again);
	ferry_resolve_vm(&fx->m, plan(fx, "shaped"), 0, &fx->inv, false, &again);
	assert_string_not_equal(v.hash, again.hash);
	ferry_run_vm_release(&again);
	ferry_run_vm_release(&v);
	ferry_run_vm_release(&w);
}

static void test_problems(void **state)
{
	const struct fixture *fx = *state;
	const struct ferry_plan *p = plan(fx, "shaped");
	struct ferry_run_vm v;

	/* a disk on storage the StorageMap leaves out */
	ferry_resolve_vm(&fx->m, p, 2, &fx->inv, false, &v);
	assert_string_equal(v.problem, "disk 2001 is on storage \"datastore9\", which StorageMap "
				       "mig/storage does not map");
	ferry_run_vm_release(&v);

	/* not in the inventory: as written, and nothing resolved */
	ferry_resolve_vm(&fx->m, p, 3, &fx->inv, false, &v);
	assert_string_equal(v.problem, "VM ghost is not in the source provider's inventory");
	assert_null(v.src);
	assert_null(v.id);
	assert_string_equal(v.name, "ghost");
	assert_null(v.tvm.name);
	assert_string_equal(v.hash, "unresolved");
	ferry_run_vm_release(&v);

	/* no inventory at all (the source cannot be read) */
	ferry_resolve_vm(&fx->m, p, 0, NULL, false, &v);
	assert_string_equal(v.problem, "VM web-01 is not in the source provider's inventory");
	ferry_run_vm_release(&v);

	/* a template that gives no DNS-1123 label */
	ferry_resolve_vm(&fx->m, plan(fx, "bad-template"), 0, &fx->inv, false, &v);
	assert_non_null(v.problem);
	assert_non_null(strstr(v.problem, "pvcNameTemplate \"{{.VmName}}_disk\" gives "
					  "\"web-01_disk\""));
	ferry_run_vm_release(&v);
}

/* pvcNameTemplateUseGenerateName: on unless the plan says false (Forklift
 * 2.9), and part of the mapping the hash pins */
static void test_generate_name(void **state)
{
	struct fixture *fx = *state;
	struct ferry_plan *p = ferry_model_plans(&fx->m);
	struct ferry_run_vm on, off;

	while (strcmp(p->obj.name, "shaped"))
		p++;

	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, false, &on);
	assert_true(on.tvm.pvc_generate_name);
	p->spec.pvc_name_template_use_generate_name.set = true;
	p->spec.pvc_name_template_use_generate_name.v = false;
	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, false, &off);
	assert_false(off.tvm.pvc_generate_name);
	assert_string_not_equal(on.hash, off.hash);
	p->spec.pvc_name_template_use_generate_name.set = false;
	ferry_run_vm_release(&on);
	ferry_run_vm_release(&off);
}

static void test_warm_problems(void **state)
{
	struct fixture *fx = *state;
	const struct ferry_plan *p = plan(fx, "shaped"); /* warm */
	struct ferry_vm *vm = &fx->inv.vms[2];		 /* web-01 */
	struct ferry_vm_snapshot snaps[] = {{"snapshot-3", "ferry-00112233aabbccdd"},
					    {"snapshot-4", "before patching"}};
	struct ferry_run_vm v;

	/* ready: CBT on, no snapshots */
	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, false, &v);
	assert_null(v.problem);
	ferry_run_vm_release(&v);
	/* ferry's own snapshot (a warm migration under way) is no problem */
	vm->snapshots = snaps;
	vm->nsnapshots = 1;
	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, false, &v);
	assert_null(v.problem);
	ferry_run_vm_release(&v);
	/* someone else's is */
	vm->nsnapshots = 2;
	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, false, &v);
	assert_string_equal(v.problem, "VM web-01 has a snapshot ferry did not take (before "
				       "patching): warm migration needs a VM without snapshots; "
				       "remove them, or use a cold plan");
	ferry_run_vm_release(&v);
	vm->snapshots = NULL;
	vm->nsnapshots = 0;
	/* CBT off */
	vm->cbt_enabled = false;
	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, false, &v);
	assert_string_equal(v.problem, "changed block tracking is off on VM web-01: enable it "
				       "(ctkEnabled) for a warm migration, or use a cold plan");
	ferry_run_vm_release(&v);
	/* a source without CBT at all (OVA) */
	vm->has_cbt = false;
	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, false, &v);
	assert_string_equal(v.problem, "warm migration needs changed block tracking, which this "
				       "provider does not have: use a cold plan");
	ferry_run_vm_release(&v);
	/* a cold plan does not care */
	ferry_resolve_vm(&fx->m, plan(fx, "bad-template"), 0, &fx->inv, false, &v);
	assert_null(strstr(v.problem ? v.problem : "", "block tracking"));
	ferry_run_vm_release(&v);
	vm->has_cbt = vm->cbt_enabled = true;
}

static void test_maps_by_id(void **state)
{
	const struct fixture *fx = *state;
	const struct ferry_plan *p = plan(fx, "by-id");
	struct ferry_run_vm v;

	/* a pair's id matches the storage's or network's id; its name, the
	 * name */
	ferry_resolve_vm(&fx->m, p, 0, &fx->inv, true, &v);
	assert_null(v.problem);
	assert_string_equal(v.name, "db-01");
	assert_int_equal(v.tvm.ndisks, 2);
	assert_string_equal(v.tvm.disks[0].storage_class, "standard");
	assert_string_equal(v.tvm.disks[1].storage_class, "fast");
	assert_int_equal(v.tvm.nnics, 2);
	assert_string_equal(v.tvm.nics[0].type, "pod");
	assert_null(v.tvm.nics[0].network);
	assert_string_equal(v.tvm.nics[1].type, "multus");
	assert_string_equal(v.tvm.nics[1].network, "net/prod-lan");
	assert_int_equal(v.flags, FERRY_IT_POWER | FERRY_IT_CONVERT);
	ferry_run_vm_release(&v);

	/* with an id known, an id-pair no longer matches the name: the
	 * problem names both */
	ferry_resolve_vm(&fx->m, p, 1, &fx->inv, true, &v);
	assert_string_equal(v.problem, "disk 2000 is on storage \"datastore-22\" (id "
				       "datastore-40), which StorageMap mig/storage does not map");
	ferry_run_vm_release(&v);
	ferry_resolve_vm(&fx->m, p, 2, &fx->inv, true, &v);
	assert_string_equal(v.problem, "Network adapter 1 is on network \"network-7\" (id "
				       "network-70), which NetworkMap mig/net does not map");
	ferry_run_vm_release(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_templates_and_compat),
		cmocka_unit_test(test_per_vm_overrides),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_problems),
		cmocka_unit_test(test_warm_problems),
		cmocka_unit_test(test_generate_name),
		cmocka_unit_test(test_maps_by_id),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
