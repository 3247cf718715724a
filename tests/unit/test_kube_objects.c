/* providers/kubevirt/objects: the VirtualMachine, DataVolume, PVC and Job
 * ferry creates, compared structurally (json_equal) with golden files in
 * data/kube/, and the rules under them: labels, names, sizes, the
 * provisioner defaults table. FERRY_UPDATE_GOLDEN=1 rewrites the golden
 * files from the actual objects (review the diff before committing it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/util.h"
#include "providers/kubevirt/objects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA FERRY_TEST_DATA "/kube"
#define MIB  (UINT64_C(1) << 20)
#define GIB  (UINT64_C(1) << 30)

static bool updating(void)
{
	const char *u = getenv("FERRY_UPDATE_GOLDEN");

	return u && !strcmp(u, "1");
}

/* got equals data/kube/name as JSON (key order and formatting aside). */
static void check_golden(json_t *got, const char *name)
{
	char *path = ferry_xasprintf("%s/%s", DATA, name);
	char *text = json_dumps(got, JSON_INDENT(2));
	json_error_t je;
	json_t *want;

	assert_non_null(text);
	if (updating()) {
		char *withnl = ferry_xasprintf("%s\n", text);

		if (ferry_write_file_atomic(path, withnl, strlen(withnl), 0644))
			fail_msg("%s: %s", path, strerror(errno));
		free(withnl);
	}
	want = json_load_file(path, 0, &je);
	if (!want)
		fail_msg("%s: %s (line %d)", path, je.text, je.line);
	if (!json_equal(want, got)) {
		char *w = json_dumps(want, JSON_INDENT(2));

		print_message("---- want (%s)\n%s\n---- got\n%s\n----\n"
			      "(FERRY_UPDATE_GOLDEN=1 rewrites the expected files)\n",
			      path, w, text);
		free(w);
		fail_msg("%s differs", name);
	}
	json_decref(want);
	free(text);
	free(path);
}

/* The value at a slash-separated path of keys and array indexes ("~1"
 * stands for a '/' inside a key, as in a JSON pointer), as a string. */
static const char *at(json_t *j, const char *path)
{
	char *copy = ferry_xstrdup(path), *save = NULL;
	static char buf[256];

	for (char *t = strtok_r(copy, "/", &save); t && j; t = strtok_r(NULL, "/", &save)) {
		char *tilde;

		while ((tilde = strstr(t, "~1"))) {
			*tilde = '/';
			memmove(tilde + 1, tilde + 2, strlen(tilde + 2) + 1);
		}
		j = json_is_array(j) ? json_array_get(j, strtoul(t, NULL, 10))
				     : json_object_get(j, t);
	}
	free(copy);
	if (json_is_string(j))
		return json_string_value(j);
	if (json_is_integer(j)) {
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(j));
		return buf;
	}
	if (json_is_boolean(j))
		return json_is_true(j) ? "true" : "false";
	return j ? "<container>" : NULL;
}

/* ---- fixtures -------------------------------------------------------------- */

static const struct ferry_target_disk web_disks[] = {
	{"web-01-disk-0", 10 * GIB, "fast", "Block", "ReadWriteOnce", "virtio"},
	{"web-01-disk-1", 2 * GIB + 1, NULL, NULL, NULL, "virtio"},
};
static const struct ferry_target_nic web_nics[] = {
	{"net-0", "pod", NULL, "00:50:56:aa:bb:01", "virtio"},
};
static const struct ferry_target_label web_labels[] = {
	{"tier", "web"},
	{"app.kubernetes.io/managed-by", "argocd"}, /* ferry's own wins */
	{"env", "prod"},
};
static const struct ferry_target_label web_selector[] = {
	{"topology.kubernetes.io/zone", "zone-a"},
	{"kubernetes.io/arch", "amd64"},
};

/* A cold migration of a BIOS VM that was running. */
static struct ferry_target_vm web_vm(void)
{
	struct ferry_target_vm vm = {
		.ns = "prod",
		.name = "web-01",
		.plan_ns = "migrations",
		.plan_name = "wave-1",
		.source_vm_id = "vm-42",
		.source_vm_name = "Web 01",
		.cpus = 4,
		.cores_per_socket = 2,
		.memory_bytes = 4 * GIB,
		.firmware = "bios",
		.running = true,
		.disks = web_disks,
		.ndisks = 2,
		.nics = web_nics,
		.nnics = 1,
		.labels = web_labels,
		.nlabels = 3,
		.node_selector = web_selector,
		.nnode_selector = 2,
	};
	return vm;
}

static const struct ferry_target_disk win_disks[] = {
	{"win-2019-disk-0", 40 * GIB, "ocs-storagecluster-ceph-rbd", NULL, NULL, "virtio"},
};
static const struct ferry_target_nic win_nics[] = {
	{"net-0", "pod", NULL, "00:50:56:aa:bb:02", "virtio"},
};

static struct ferry_target_vm win_vm(void)
{
	struct ferry_target_vm vm = {
		.ns = "prod",
		.name = "win-2019",
		.plan_ns = "migrations",
		.plan_name = "windows-servers-2019-datacenter-edition-wave-number-one",
		.source_vm_id = "[1000] Win 2019/Win 2019.vmx",
		.source_vm_name = "Win 2019",
		.cpus = 6,
		.cores_per_socket = 4, /* does not divide: one socket of 6 */
		.memory_bytes = 8 * GIB,
		.firmware = "efi",
		.secure_boot = true,
		.disks = win_disks,
		.ndisks = 1,
		.nics = win_nics,
		.nnics = 1,
	};
	return vm;
}

static json_t *build_vm(const struct ferry_target_vm *vm, const struct ferry_kube_vm_opts *o)
{
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *j = NULL;

	if (ferry_kube_vm_build(vm, o, &j, &err))
		fail_msg("vm_build: %s", err.msg);
	return j;
}

/* ---- VirtualMachines ---------------------------------------------------------- */

static void test_vm_cold_bios(void **state)
{
	struct ferry_target_vm vm = web_vm();
	json_t *j = build_vm(&vm, NULL);
	(void)state;

	check_golden(j, "vm-bios.json");
	json_decref(j);
}

static void test_vm_uefi_secure_boot(void **state)
{
	struct ferry_target_vm vm = win_vm();
	const struct ferry_kube_vm_opts o = {FERRY_KUBE_CLAIM_DATAVOLUME, NULL, NULL};
	json_t *j = build_vm(&vm, &o);
	(void)state;

	check_golden(j, "vm-uefi-secureboot.json");
	/* the plan label is the plan's name; its namespace has a label of its own */
	assert_string_equal(at(j, "metadata/labels/ferry.dev~1plan"),
			    "windows-servers-2019-datacenter-edition-wave-number-one");
	assert_string_equal(at(j, "metadata/labels/ferry.dev~1plan-namespace"), "migrations");
	json_decref(j);
	/* a plan name too long for a label value is cut and hashed */
	vm.plan_name = "windows-servers-2019-datacenter-edition-wave-number-one-and-two-x";
	j = build_vm(&vm, &o);
	assert_string_equal(at(j, "metadata/labels/ferry.dev~1plan"),
			    "windows-servers-2019-datacenter-edition-wave-number-on-"
			    "2e1e7868");
	json_decref(j);
}

static void test_vm_networks(void **state)
{
	static const struct ferry_target_nic nics[] = {
		{"net-0", "multus", "prod/vlan-10", "00:50:56:aa:bb:10", "virtio"},
		{"ignored-0", "ignored", NULL, "00:50:56:aa:bb:11", "e1000"},
		{"net-2", "pod", NULL, "00:50:56:aa:bb:12", "virtio"},
		{"net-3", "multus", "infra/storage-net", NULL, "virtio"},
	};
	struct ferry_target_vm vm = web_vm();
	json_t *j;
	(void)state;

	vm.name = "app-02";
	vm.running = false;
	vm.nics = nics;
	vm.nnics = 4;
	vm.nlabels = 0;
	vm.nnode_selector = 0;
	vm.ndisks = 1;
	j = build_vm(&vm, NULL);
	check_golden(j, "vm-networks.json");
	json_decref(j);
}

static void test_vm_compat(void **state)
{
	static const struct ferry_target_disk disks[] = {
		{"legacy-disk-0", 8 * GIB, NULL, NULL, NULL, "sata"},
		{"legacy-disk-1", 1 * GIB, NULL, NULL, NULL, "sata"},
	};
	static const struct ferry_target_nic nics[] = {
		{"net-0", "pod", NULL, "00:50:56:01:02:03", "e1000e"},
	};
	struct ferry_target_vm vm = web_vm();
	json_t *j;
	(void)state;

	vm.name = "legacy";
	vm.source_vm_id = "vm-7";
	vm.cpus = 2;
	vm.cores_per_socket = 1;
	vm.memory_bytes = 3 * GIB / 2 + 1; /* rounds up to 1537Mi */
	vm.disks = disks;
	vm.nics = nics;
	vm.nlabels = 0;
	vm.nnode_selector = 0;
	j = build_vm(&vm, NULL);
	check_golden(j, "vm-compat.json");
	json_decref(j);
}

static void test_vm_no_nics(void **state)
{
	static const struct ferry_target_nic nics[] = {
		{"net-0", "ignored", NULL, "00:50:56:00:00:01", "e1000"},
	};
	struct ferry_target_vm vm = web_vm();
	json_t *j;
	(void)state;

	vm.nics = nics;
	vm.nnics = 1;
	j = build_vm(&vm, NULL);
	assert_string_equal(at(j, "spec/template/spec/domain/devices/autoattachPodInterface"),
			    "false");
	assert_null(at(j, "spec/template/spec/domain/devices/interfaces"));
	assert_null(at(j, "spec/template/spec/networks"));
	json_decref(j);
}

static void test_vm_claim_names(void **state)
{
	const char *claims[] = {"web-01-disk-0-x7k2p", NULL};
	const char *volumes[] = {"root", "data"};
	const struct ferry_kube_vm_opts o = {FERRY_KUBE_CLAIM_DATAVOLUME, claims, volumes};
	const struct ferry_kube_vm_opts dup = {FERRY_KUBE_CLAIM_PVC, NULL,
					       (const char *[]){"same", "same"}};
	const struct ferry_kube_vm_opts bad = {FERRY_KUBE_CLAIM_PVC,
					       (const char *[]){"Bad_Name", NULL}, NULL};
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_vm vm = web_vm();
	json_t *j = build_vm(&vm, &o);
	(void)state;

	assert_string_equal(at(j, "spec/template/spec/domain/devices/disks/0/name"), "root");
	assert_string_equal(at(j, "spec/template/spec/domain/devices/disks/1/name"), "data");
	assert_string_equal(at(j, "spec/template/spec/volumes/0/name"), "root");
	assert_string_equal(at(j, "spec/template/spec/volumes/0/dataVolume/name"),
			    "web-01-disk-0-x7k2p");
	assert_string_equal(at(j, "spec/template/spec/volumes/1/dataVolume/name"), "web-01-disk-1");
	json_decref(j);

	assert_int_equal(ferry_kube_vm_build(&vm, &dup, &j, &err), -1);
	assert_null(j);
	assert_string_equal(err.msg, "VM prod/web-01: two volumes named same");
	assert_int_equal(ferry_kube_vm_build(&vm, &bad, &j, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_non_null(strstr(err.msg, "claim name \"Bad_Name\" is not valid"));
}

static void test_vm_not_utf8(void **state)
{
	struct ferry_target_vm vm = web_vm();
	json_t *j;
	(void)state;

	vm.source_vm_name = "bad \xff\xc3 caf\xc3\xa9";
	j = build_vm(&vm, NULL);
	assert_string_equal(at(j, "metadata/annotations/ferry.dev~1source-vm-name"),
			    "bad \xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9");
	json_decref(j);
}

static void test_vm_rejects(void **state)
{
	static const struct ferry_target_nic two_pods[] = {
		{"net-0", "pod", NULL, NULL, NULL},
		{"net-1", "pod", NULL, NULL, NULL},
	};
	static const struct ferry_target_label bad_value[] = {{"ok", "has space"}};
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_vm vm = web_vm();
	json_t *j;
	(void)state;

	vm.nics = two_pods;
	vm.nnics = 2;
	assert_int_equal(ferry_kube_vm_build(&vm, NULL, &j, &err), -1);
	assert_null(j);
	assert_non_null(strstr(err.msg, "more than one interface on the pod network"));
	vm = web_vm();
	vm.labels = bad_value;
	vm.nlabels = 1;
	assert_int_equal(ferry_kube_vm_build(&vm, NULL, &j, &err), -1);
	assert_string_equal(err.msg, "label ok: value \"has space\" is not valid");
	vm = web_vm();
	vm.firmware = "uefi";
	assert_int_equal(ferry_kube_vm_build(&vm, NULL, &j, &err), -1);
	assert_string_equal(err.msg, "VM prod/web-01: firmware \"uefi\" (want bios or efi)");
}

/* ---- volumes ----------------------------------------------------------------------- */

static json_t *build_dv(const struct ferry_target_vm *vm, size_t i,
			const struct ferry_kube_volume_opts *o)
{
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *j = NULL;

	if (ferry_kube_datavolume_build(vm, i, o, &j, &err))
		fail_msg("datavolume_build: %s", err.msg);
	return j;
}

static json_t *build_pvc(const struct ferry_target_vm *vm, size_t i,
			 const struct ferry_kube_volume_opts *o)
{
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *j = NULL;

	if (ferry_kube_pvc_build(vm, i, o, &j, &err))
		fail_msg("pvc_build: %s", err.msg);
	return j;
}

static const struct ferry_target_disk sized_disks[] = {
	/* 10 GiB + 1 byte: rounds to 10241 MiB */
	{"db-disk-0", 10 * GIB + 1, "nfs-client", "Filesystem", "ReadWriteMany", "virtio"},
	{"db-disk-1", 10 * GIB + 1, "fast-block", "Block", "ReadWriteOnce", "virtio"},
};

static struct ferry_target_vm db_vm(void)
{
	struct ferry_target_vm vm = web_vm();

	vm.name = "db";
	vm.source_vm_id = "vm-1001";
	vm.disks = sized_disks;
	vm.ndisks = 2;
	return vm;
}

static void test_dv_sizing(void **state)
{
	struct ferry_target_vm vm = db_vm();
	json_t *fs, *blk;
	(void)state;

	fs = build_dv(&vm, 0, NULL);
	blk = build_dv(&vm, 1, NULL);
	check_golden(fs, "dv-filesystem.json");
	check_golden(blk, "dv-block.json");
	/* CDI adds the overhead for Filesystem itself (storage API): the
	 * same request for both */
	assert_string_equal(at(fs, "spec/storage/resources/requests/storage"), "10241Mi");
	assert_string_equal(at(blk, "spec/storage/resources/requests/storage"), "10241Mi");
	json_decref(fs);
	json_decref(blk);
}

static void test_dv_modes_from_provisioner(void **state)
{
	static const struct ferry_target_disk disks[] = {
		{"v-disk-0", GIB, "ceph", NULL, NULL, "virtio"},
	};
	struct ferry_target_vm vm = web_vm();
	struct ferry_kube_volume_opts o = {.provisioner = "rbd.csi.ceph.com"};
	json_t *j;
	(void)state;

	vm.disks = disks;
	vm.ndisks = 1;
	j = build_dv(&vm, 0, &o);
	assert_string_equal(at(j, "spec/storage/accessModes/0"), "ReadWriteMany");
	assert_string_equal(at(j, "spec/storage/volumeMode"), "Block");
	assert_string_equal(at(j, "spec/storage/storageClassName"), "ceph");
	assert_string_equal(at(j, "spec/storage/resources/requests/storage"), "1Gi");
	json_decref(j);

	/* unknown provisioner: left to CDI's StorageProfile */
	o.provisioner = "example.com/unknown";
	j = build_dv(&vm, 0, &o);
	assert_null(at(j, "spec/storage/accessModes"));
	assert_null(at(j, "spec/storage/volumeMode"));
	json_decref(j);

	/* generateName instead of name */
	o.generate_name = true;
	j = build_dv(&vm, 0, &o);
	assert_null(at(j, "metadata/name"));
	assert_string_equal(at(j, "metadata/generateName"), "v-disk-0-");
	json_decref(j);
}

/* Forklift's pvcNameTemplateUseGenerateName: the server names the volume
 * (golden files for kubectl create, integration.kube.kubectl-golden). */
static void test_generate_name(void **state)
{
	struct ferry_target_vm vm = db_vm();
	struct ferry_kube_volume_opts o = {.generate_name = true};
	json_t *dv, *pvc;
	(void)state;

	dv = build_dv(&vm, 0, &o);
	pvc = build_pvc(&vm, 1, &o);
	check_golden(dv, "dv-generate-name.json");
	check_golden(pvc, "pvc-generate-name.json");
	assert_null(at(dv, "metadata/name"));
	assert_string_equal(at(dv, "metadata/generateName"), "db-disk-0-");
	assert_string_equal(at(pvc, "metadata/generateName"), "db-disk-1-");
	/* the labels find it again, whatever name it got */
	assert_string_equal(at(dv, "metadata/labels/ferry.dev~1disk"), "0");
	assert_string_equal(at(pvc, "metadata/labels/ferry.dev~1target-vm"), "db");
	json_decref(dv);
	json_decref(pvc);
}

/* A disk without a class gets the one the target read as the cluster's
 * default, named in the volume; a disk's own class wins. */
static void test_default_class(void **state)
{
	static const struct ferry_target_disk disks[] = {
		{"v-disk-0", GIB, NULL, NULL, NULL, "virtio"},
		{"v-disk-1", GIB, "gold", NULL, NULL, "virtio"},
	};
	struct ferry_target_vm vm = web_vm();
	struct ferry_kube_volume_opts o = {.storage_class = "standard",
					   .provisioner = "rbd.csi.ceph.com"};
	json_t *j;
	(void)state;

	vm.disks = disks;
	vm.ndisks = 2;
	j = build_dv(&vm, 0, &o);
	assert_string_equal(at(j, "spec/storage/storageClassName"), "standard");
	assert_string_equal(at(j, "spec/storage/volumeMode"), "Block");
	json_decref(j);
	j = build_pvc(&vm, 0, &o);
	assert_string_equal(at(j, "spec/storageClassName"), "standard");
	assert_string_equal(at(j, "spec/accessModes/0"), "ReadWriteMany");
	json_decref(j);
	j = build_dv(&vm, 1, &o);
	assert_string_equal(at(j, "spec/storage/storageClassName"), "gold");
	json_decref(j);
}

static void test_pvc(void **state)
{
	struct ferry_target_vm vm = db_vm();
	struct ferry_kube_volume_opts gen = {.generate_name = true};
	json_t *fs, *blk, *g;
	(void)state;

	fs = build_pvc(&vm, 0, NULL);
	blk = build_pvc(&vm, 1, NULL);
	g = build_pvc(&vm, 0, &gen);
	check_golden(fs, "pvc-filesystem.json");
	check_golden(blk, "pvc-block.json");
	/* 10241 MiB / (1 - 0.055) = 10837.04 MiB, rounded up */
	assert_string_equal(at(fs, "spec/resources/requests/storage"), "10838Mi");
	assert_string_equal(at(blk, "spec/resources/requests/storage"), "10241Mi");
	assert_string_equal(at(g, "metadata/generateName"), "db-disk-0-");
	json_decref(fs);
	json_decref(blk);
	json_decref(g);

	/* nothing known: Filesystem / ReadWriteOnce, as MTV without a provisioner */
	static const struct ferry_target_disk bare[] = {{"b-disk-0", MIB, NULL, NULL, NULL, NULL}};
	vm.disks = bare;
	vm.ndisks = 1;
	fs = build_pvc(&vm, 0, NULL);
	assert_string_equal(at(fs, "spec/accessModes/0"), "ReadWriteOnce");
	assert_string_equal(at(fs, "spec/volumeMode"), "Filesystem");
	assert_null(at(fs, "spec/storageClassName"));
	assert_string_equal(at(fs, "spec/resources/requests/storage"), "2Mi");
	json_decref(fs);
}

static void test_volume_rejects(void **state)
{
	static const struct ferry_target_disk bad_mode[] = {
		{"x-disk-0", GIB, NULL, "Raw", NULL, NULL},
	};
	static const struct ferry_target_disk bad_access[] = {
		{"x-disk-0", GIB, NULL, NULL, "RWO", NULL},
	};
	static const struct ferry_target_disk empty[] = {
		{"x-disk-0", 0, NULL, NULL, NULL, NULL},
	};
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_vm vm = web_vm();
	struct ferry_kube_volume_opts o = {.fs_overhead = 1.5};
	json_t *j;
	(void)state;

	assert_int_equal(ferry_kube_pvc_build(&vm, 2, NULL, &j, &err), -1);
	assert_null(j);
	assert_int_equal(err.code, FERRY_E_INTERNAL);
	assert_int_equal(ferry_kube_pvc_build(&vm, 0, &o, &j, &err), -1);
	assert_non_null(strstr(err.msg, "filesystem overhead 1.5"));
	vm.ndisks = 1;
	vm.disks = bad_mode;
	assert_int_equal(ferry_kube_datavolume_build(&vm, 0, NULL, &j, &err), -1);
	assert_string_equal(err.msg,
			    "disk x-disk-0: volume mode \"Raw\" (want Filesystem or Block)");
	vm.disks = bad_access;
	assert_int_equal(ferry_kube_pvc_build(&vm, 0, NULL, &j, &err), -1);
	assert_non_null(strstr(err.msg, "access mode \"RWO\""));
	vm.disks = empty;
	assert_int_equal(ferry_kube_pvc_build(&vm, 0, NULL, &j, &err), -1);
	assert_string_equal(err.msg, "disk x-disk-0: size of 0 bytes");
}

static void test_volume_bytes(void **state)
{
	(void)state;
	assert_int_equal(ferry_kube_volume_bytes(1, false, 0), MIB);
	assert_int_equal(ferry_kube_volume_bytes(MIB, false, 0), MIB);
	assert_int_equal(ferry_kube_volume_bytes(MIB + 1, false, 0), 2 * MIB);
	for (uint64_t size = MIB; size < 4096 * GIB; size = size * 3 + 12345) {
		uint64_t aligned = (size + MIB - 1) / MIB * MIB;
		/* ceil(aligned / 0.945) in integers, then up to a MiB */
		uint64_t want = (aligned / 945 * 1000 + ((aligned % 945) * 1000 + 944) / 945);
		want = (want + MIB - 1) / MIB * MIB;
		assert_int_equal(ferry_kube_volume_bytes(size, true, 0.055), want);
	}
	assert_int_equal(ferry_kube_volume_bytes(UINT64_MAX, false, 0), 0);
	assert_int_equal(ferry_kube_volume_bytes(UINT64_MAX / 2, true, 0.9), 0);
	assert_int_equal(ferry_kube_volume_bytes(MIB, true, 1.0), 0);
	assert_int_equal(ferry_kube_volume_bytes(MIB, true, -0.1), 0);
}

static void test_quantity(void **state)
{
	static const struct {
		uint64_t bytes;
		const char *want;
	} cases[] = {
		{0, "0"},
		{512, "512"},
		{1024, "1Ki"},
		{1536 * MIB, "1536Mi"},
		{10 * GIB, "10Gi"},
		{GIB + 1, "1073741825"},
		{UINT64_C(1) << 60, "1Ei"},
		{UINT64_C(3) << 61, "6Ei"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *q = ferry_kube_quantity(cases[i].bytes);

		assert_string_equal(q, cases[i].want);
		free(q);
	}
}

/* ---- Jobs ---------------------------------------------------------------------- */

static void test_jobs(void **state)
{
	static const char *const args[] = {"--verify", "--rate-limit=100M"};
	static const struct ferry_target_label sel[] = {{"ferry.dev/transfer", "true"}};
	struct ferry_target_vm vm = db_vm();
	struct ferry_kube_job_opts o = {
		.image = "quay.io/ferry/ferry:0.1.0",
		.source = "nbd://10.0.0.5:10809/db-disk-0",
		.service_account = "ferry-transfer",
		.node_selector = sel,
		.nnode_selector = 1,
		.cpu_request = "500m",
		.memory_request = "256Mi",
		.memory_limit = "1Gi",
		.copy_args = args,
		.ncopy_args = 2,
	};
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *fs = NULL, *blk = NULL;
	(void)state;

	if (ferry_kube_job_build(&vm, 0, &o, &fs, &err))
		fail_msg("job_build: %s", err.msg);
	check_golden(fs, "job-filesystem.json");
	o.source = "nbd+unix:///db-disk-1?socket=/run/ferry/nbd.sock";
	o.claim = "db-disk-1-abcde";
	o.backoff_limit = 2;
	o.copy_args = NULL;
	o.ncopy_args = 0;
	o.cpu_request = o.memory_request = o.memory_limit = NULL;
	o.node_selector = NULL;
	o.nnode_selector = 0;
	o.service_account = NULL;
	if (ferry_kube_job_build(&vm, 1, &o, &blk, &err))
		fail_msg("job_build: %s", err.msg);
	check_golden(blk, "job-block.json");
	json_decref(fs);
	json_decref(blk);
}

/* A copy with inputs (a TLS key, a warm round's areas): the Job mounts
 * the Secret named as itself; the Secret carries the Job's labels. */
static void test_job_inputs(void **state)
{
	static const char *const args[] = {"--changed-areas", FERRY_KUBE_JOB_INPUT_AREAS};
	struct ferry_target_vm vm = db_vm();
	struct ferry_kube_job_opts o = {
		.image = "quay.io/ferry/ferry:0.1.0",
		.source = "nbds://ferry@10.0.0.5:40123/?tls-psk-file=" FERRY_KUBE_JOB_INPUT_PSK,
		.claim = "db-disk-1-fghij",
		.copy_args = args,
		.ncopy_args = 2,
		.backoff_limit = 2,
		.op_id = "0123456789abcdef",
		.inputs = true,
	};
	struct ferry_kube_copy_inputs in = {
		"ferry:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		"[{\"start\": 0, \"length\": 65536}]",
	};
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *blk = NULL, *fs = NULL, *secret = NULL, *mounts;
	char *big;
	(void)state;

	if (ferry_kube_job_build(&vm, 1, &o, &blk, &err) ||
	    ferry_kube_copy_inputs_build(blk, &in, &secret, &err))
		fail_msg("build: %s", err.msg);
	check_golden(blk, "job-inputs.json");
	check_golden(secret, "secret-inputs.json");
	assert_string_equal(at(secret, "metadata/name"), at(blk, "metadata/name"));
	assert_true(json_equal(json_object_get(json_object_get(secret, "metadata"), "labels"),
			       json_object_get(json_object_get(blk, "metadata"), "labels")));
	json_decref(secret);

	/* Filesystem: the disk's mount, then the inputs' */
	o.claim = NULL;
	if (ferry_kube_job_build(&vm, 0, &o, &fs, &err))
		fail_msg("build: %s", err.msg);
	mounts = json_object_get(
		json_array_get(
			json_object_get(json_object_get(json_object_get(json_object_get(fs, "spec"),
									"template"),
							"spec"),
					"containers"),
			0),
		"volumeMounts");
	assert_int_equal(json_array_size(mounts), 2);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(mounts, 0), "mountPath")),
		FERRY_KUBE_JOB_MOUNT);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(mounts, 1), "mountPath")),
		FERRY_KUBE_JOB_INPUTS);

	/* neither input, or more than a Secret holds */
	in.psk = in.areas = NULL;
	assert_int_equal(ferry_kube_copy_inputs_build(fs, &in, &secret, &err), -1);
	assert_null(secret);
	assert_non_null(strstr(err.msg, "none given"));
	big = ferry_xmalloc((1 << 20) + 2);
	memset(big, ' ', (1 << 20) + 1);
	big[(1 << 20) + 1] = '\0';
	in.areas = big;
	assert_int_equal(ferry_kube_copy_inputs_build(fs, &in, &secret, &err), -1);
	assert_int_equal(err.code, FERRY_E_LIMIT);
	assert_non_null(strstr(err.msg, "more than a Secret holds"));
	free(big);
	json_decref(fs);
	json_decref(blk);
}

static void test_job_rejects(void **state)
{
	struct ferry_target_vm vm = db_vm();
	struct ferry_kube_job_opts o = {.image = "ferry", .source = "nbd://h/e"};
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *j;
	(void)state;

#define REJECT(edit, text)                                                                         \
	do {                                                                                       \
		struct ferry_kube_job_opts b = o;                                                  \
		edit;                                                                              \
		assert_int_equal(ferry_kube_job_build(&vm, 0, &b, &j, &err), -1);                  \
		assert_null(j);                                                                    \
		if (!strstr(err.msg, text))                                                        \
			fail_msg("want \"%s\" in \"%s\"", text, err.msg);                          \
	} while (0)
	REJECT(b.image = NULL, "no image");
	REJECT(b.source = "", "no source");
	REJECT(b.volume_mode = "Raw", "volume mode \"Raw\"");
	REJECT(b.name = "Bad", "Job name \"Bad\"");
	REJECT(b.claim = "a/b", "claim name \"a/b\"");
	REJECT(b.backoff_limit = -1, "backoff limit -1");
	static const char *const progress[] = {"--verify", "--progress-fd=2"};
	REJECT((b.copy_args = progress, b.ncopy_args = 2),
	       "copy argument --progress-fd=2: the Job writes its progress to standard output");
#undef REJECT
	assert_int_equal(ferry_kube_job_build(&vm, 5, &o, &j, &err), -1);
	assert_int_equal(err.code, FERRY_E_INTERNAL);
	assert_int_equal(ferry_kube_job_build(&vm, 0, NULL, &j, &err), -1);

	/* a long claim gives a Job name of 63 characters with a hash */
	o.claim = "a123456789b123456789c123456789d123456789e123456789f123456789.disk";
	assert_int_equal(ferry_kube_job_build(&vm, 0, &o, &j, &err), 0);
	assert_int_equal(strlen(at(j, "metadata/name")), 63);
	assert_true(ferry_ends_with(at(j, "metadata/name"), "-copy"));
	json_decref(j);
}

/* ---- labels and names ----------------------------------------------------------------- */

static void test_label_values(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"vm-42", "vm-42"},
		{"Vm_42.x", "Vm_42.x"},
		{"", ""},
		/* FNV-1a 32 of the input, as the local target's tests check too */
		{"vm/42", "vm-42-b688971f"},
		{"vm:42", "vm-42-41f76530"},
		{"/only/", "only-1519cf05"},
		{"///", "1d37d324"},
		{"a123456789b123456789c123456789d123456789e123456789f123456789g123",
		 "a123456789b123456789c123456789d123456789e123456789f123-170524d1"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *v = ferry_kube_label_value(cases[i].in);

		assert_string_equal(v, cases[i].want);
		assert_true(ferry_kube_label_value_ok(v));
		free(v);
	}
	assert_true(ferry_kube_label_key_ok("ferry.dev/vm-id"));
	assert_true(ferry_kube_label_key_ok("app"));
	assert_false(ferry_kube_label_key_ok("Ex.com/x"));
	assert_false(ferry_kube_label_key_ok("-x"));
	assert_false(ferry_kube_label_key_ok("a/"));
	assert_false(ferry_kube_label_value_ok("has space"));
}

static void test_owner_labels(void **state)
{
	struct ferry_target_vm vm = win_vm();
	json_t *l = ferry_kube_owner_labels(&vm, 3);
	const char *key;
	json_t *v;
	const char *prev = "";
	(void)state;

	assert_int_equal(json_object_size(l), 6);
	assert_string_equal(json_string_value(json_object_get(l, FERRY_KUBE_LABEL_DISK)), "3");
	assert_string_equal(json_string_value(json_object_get(l, FERRY_KUBE_LABEL_PLAN)),
			    "windows-servers-2019-datacenter-edition-wave-number-one");
	assert_string_equal(json_string_value(json_object_get(l, FERRY_KUBE_LABEL_PLAN_NS)),
			    "migrations");
	/* volumes and Jobs name their VM, so vm_delete finds them without it */
	assert_string_equal(json_string_value(json_object_get(l, FERRY_KUBE_LABEL_TARGET_VM)),
			    "win-2019");
	assert_string_equal(json_string_value(json_object_get(l, FERRY_KUBE_LABEL_MANAGED_BY)),
			    "ferry");
	json_object_foreach(l, key, v)
	{
		assert_true(strcmp(prev, key) < 0); /* sorted */
		assert_true(ferry_kube_label_value_ok(json_string_value(v)));
		prev = key;
	}
	json_decref(l);
	/* the VM itself: no disk, no target-vm label */
	l = ferry_kube_owner_labels(&vm, -1);
	assert_int_equal(json_object_size(l), 4);
	assert_null(json_object_get(l, FERRY_KUBE_LABEL_TARGET_VM));
	json_decref(l);
}

static void test_name_fit(void **state)
{
	char *s;
	(void)state;

	s = ferry_kube_name_fit("web-01-disk-0", "-copy", 63);
	assert_string_equal(s, "web-01-disk-0-copy");
	free(s);
	s = ferry_kube_name_fit("a123456789b123456789c123456789d123456789e123456789f123456789g",
				"-copy", 63);
	assert_int_equal(strlen(s), 63);
	assert_true(ferry_starts_with(s, "a123456789b123456789c123456789d123456789e12345678-"));
	assert_true(ferry_ends_with(s, "-copy"));
	free(s);
	s = ferry_kube_name_fit("abcdef-------------", "", 12); /* no '-' before the hash */
	assert_int_equal(s[3], '-');
	assert_int_equal(strlen(s), 12);
	free(s);

	s = ferry_kube_generate_name("web-01-disk-0");
	assert_string_equal(s, "web-01-disk-0-");
	free(s);
	s = ferry_kube_generate_name(
		"a123456789b123456789c123456789d123456789e123456789f123456-89g123");
	assert_string_equal(s, "a123456789b123456789c123456789d123456789e123456789f123456-");
	assert_int_equal(strlen(s) + 5, 63);
	free(s);
}

static void test_storage_defaults(void **state)
{
	static const struct ferry_target_label io2[] = {{"type", "io2"}};
	static const struct ferry_target_label gp3[] = {{"type", "gp3"}};
	static const struct ferry_target_label nas[] = {{"backendType", "ontap-nas-economy"}};
	static const struct ferry_target_label san[] = {{"backendType", "ontap-san"}};
	static const struct ferry_target_label hyper[] = {{"type", "hyperdisk-balanced"}};
	static const struct {
		const char *prov;
		const struct ferry_target_label *params;
		bool known;
		const char *access, *volume;
	} cases[] = {
		/* MTV's table */
		{"kubernetes.io/aws-ebs", NULL, true, "ReadWriteOnce", "Block"},
		{"kubernetes.io/azure-file", NULL, true, "ReadWriteMany", "Filesystem"},
		{"kubernetes.io/hostpath-provisioner", NULL, true, "ReadWriteOnce", "Filesystem"},
		{"openshift-storage.cephfs.csi.ceph.com", NULL, true, "ReadWriteMany",
		 "Filesystem"},
		{"openshift-storage.rbd.csi.ceph.com", NULL, true, "ReadWriteOnce", "Block"},
		{"kubernetes.io/no-provisioner", NULL, true, "ReadWriteOnce", "Filesystem"},
		/* CDI's */
		{"rbd.csi.ceph.com", NULL, true, "ReadWriteMany", "Block"},
		{"cephfs.csi.ceph.com", NULL, true, "ReadWriteMany", "Filesystem"},
		{"ebs.csi.aws.com", NULL, true, "ReadWriteOnce", "Block"},
		{"ebs.csi.aws.com", io2, true, "ReadWriteMany", "Block"},
		{"ebs.csi.aws.com", gp3, true, "ReadWriteOnce", "Block"},
		{"pd.csi.storage.gke.io", NULL, true, "ReadWriteOnce", "Block"},
		{"pd.csi.storage.gke.io", hyper, true, "ReadWriteMany", "Block"},
		{"csi.trident.netapp.io", nas, true, "ReadWriteMany", "Filesystem"},
		{"csi.trident.netapp.io", san, true, "ReadWriteMany", "Block"},
		{"csi.trident.netapp.io", NULL, false, "ReadWriteOnce", "Filesystem"},
		{"kubevirt.io.hostpath-provisioner", NULL, true, "ReadWriteOnce", "Filesystem"},
		{"nfs.csi.k8s.io", NULL, true, "ReadWriteMany", "Filesystem"},
		{"example.com/unknown", NULL, false, "ReadWriteOnce", "Filesystem"},
		{NULL, NULL, false, "ReadWriteOnce", "Filesystem"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *a = NULL, *v = NULL;
		bool known = ferry_kube_storage_defaults(cases[i].prov, cases[i].params,
							 cases[i].params ? 1 : 0, &a, &v);

		if (known != cases[i].known || strcmp(a, cases[i].access) ||
		    strcmp(v, cases[i].volume))
			fail_msg("case %zu (%s): %d %s %s", i, cases[i].prov ? cases[i].prov : "-",
				 known, a, v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_cold_bios),
		cmocka_unit_test(test_vm_uefi_secure_boot),
		cmocka_unit_test(test_vm_networks),
		cmocka_unit_test(test_vm_compat),
		cmocka_unit_test(test_vm_no_nics),
		cmocka_unit_test(test_vm_claim_names),
		cmocka_unit_test(test_vm_not_utf8),
		cmocka_unit_test(test_vm_rejects),
		cmocka_unit_test(test_dv_sizing),
		cmocka_unit_test(test_dv_modes_from_provisioner),
		cmocka_unit_test(test_pvc),
		cmocka_unit_test(test_generate_name),
		cmocka_unit_test(test_default_class),
		cmocka_unit_test(test_volume_rejects),
		cmocka_unit_test(test_volume_bytes),
		cmocka_unit_test(test_quantity),
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_job_inputs),
		cmocka_unit_test(test_job_rejects),
		cmocka_unit_test(test_label_values),
		cmocka_unit_test(test_owner_labels),
		cmocka_unit_test(test_name_fit),
		cmocka_unit_test(test_storage_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
