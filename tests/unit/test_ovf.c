/* providers/ova/ovf: OVF envelopes (VMware, VirtualBox, OVF 2.0, broken
 * ones) read into the inventory model; the inventory helpers, the driver
 * registry and the ova driver's URL rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/util.h"
#include "providers/driver.h"
#include "providers/ova/ovf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORAGE "Dummy storage for source provider ova-x"

struct parsed {
	struct ferry_inventory inv;
	struct ferry_findings f;
	int ret;
};

static void parse_file(const char *name, struct parsed *p)
{
	char *path = ferry_path_join(FERRY_TEST_DATA "/ovf", name), *buf = NULL;
	size_t len = 0;

	memset(p, 0, sizeof *p);
	if (ferry_read_file(path, 1 << 24, &buf, &len))
		fail_msg("cannot read %s", path);
	p->ret = ferry_ovf_parse(buf, len, name, STORAGE, &p->inv, &p->f);
	free(buf);
	free(path);
}

static void release(struct parsed *p)
{
	ferry_inventory_release(&p->inv);
	ferry_findings_release(&p->f);
}

/* The finding with that id (the first), or a failure. */
static const struct ferry_finding *finding(const struct parsed *p, const char *id)
{
	for (size_t i = 0; i < p->f.len; i++)
		if (strcmp(p->f.items[i].id, id) == 0)
			return &p->f.items[i];
	fail_msg("no finding %s", id);
	return NULL;
}

static void has_finding(const struct parsed *p, const char *id, enum ferry_category cat, int line)
{
	const struct ferry_finding *x = finding(p, id);

	assert_int_equal(x->category, cat);
	assert_int_equal(x->line, line);
	assert_non_null(x->file);
}

static void test_vmware(void **state)
{
	struct parsed p;
	const struct ferry_vm *vm;
	char *json;

	(void)state;
	parse_file("vmware.ovf", &p);
	assert_int_equal(p.ret, 0);
	assert_int_equal(p.f.len, 0);
	assert_int_equal(p.inv.nvms, 1);
	vm = &p.inv.vms[0];
	assert_string_equal(vm->id, "web01");
	assert_string_equal(vm->name, "web01");
	assert_int_equal(vm->cpus, 4);
	assert_int_equal(vm->cores_per_socket, 2);
	assert_true(vm->memory_bytes == 8192ull << 20);
	assert_string_equal(vm->firmware, "efi");
	assert_true(vm->secure_boot);
	assert_string_equal(vm->power_state, "Off");
	assert_string_equal(vm->os_type, "rhel8_64Guest");
	assert_string_equal(vm->export_source, "VMware");
	assert_null(vm->source);

	assert_int_equal(vm->ndisks, 2);
	assert_string_equal(vm->disks[0].id, "vmdisk1");
	assert_string_equal(vm->disks[0].file, "web01-disk1.vmdk");
	assert_string_equal(vm->disks[0].format, "vmdk-stream");
	assert_true(vm->disks[0].capacity == 16ull << 30);
	assert_string_equal(vm->disks[0].storage, STORAGE);
	assert_false(vm->disks[0].shared);
	assert_string_equal(vm->disks[0].bus, "scsi");
	assert_string_equal(vm->disks[1].id, "vmdisk2");
	assert_string_equal(vm->disks[1].file, "web01-disk2.vmdk");
	assert_true(vm->disks[1].capacity == 536870912);
	assert_string_equal(vm->disks[1].bus, "ide");

	assert_int_equal(vm->nnics, 2);
	assert_string_equal(vm->nics[0].name, "Network adapter 1");
	assert_string_equal(vm->nics[0].network, "VM Network");
	assert_string_equal(vm->nics[0].mac, "00:50:56:ab:3c:7d");
	assert_string_equal(vm->nics[0].model, "vmxnet3");
	assert_string_equal(vm->nics[1].name, "Network adapter 2");
	assert_string_equal(vm->nics[1].network, "Backend");
	assert_null(vm->nics[1].mac);
	assert_string_equal(vm->nics[1].model, "e1000");

	assert_int_equal(p.inv.nnetworks, 2);
	assert_string_equal(p.inv.networks[0], "VM Network");
	assert_string_equal(p.inv.networks[1], "Backend");

	json = ferry_vm_to_json(vm);
	assert_string_equal(
		json,
		"{\"id\":\"web01\",\"name\":\"web01\",\"cpuCount\":4,\"coresPerSocket\":2,"
		"\"memoryMB\":8192,\"firmware\":\"efi\",\"secureBoot\":true,\"powerState\":\"Off\","
		"\"guestId\":\"rhel8_64Guest\",\"osType\":\"rhel8_64Guest\",\"source\":null,"
		"\"ovaSource\":\"VMware\",\"disks\":[{\"id\":\"vmdisk1\",\"file\":\"web01-disk1."
		"vmdk\","
		"\"format\":\"vmdk-stream\",\"capacity\":17179869184,\"storage\":\"" STORAGE "\","
		"\"shared\":false,\"bus\":\"scsi\"},{\"id\":\"vmdisk2\",\"file\":\"web01-disk2."
		"vmdk\","
		"\"format\":\"vmdk-stream\",\"capacity\":536870912,\"storage\":\"" STORAGE "\","
		"\"shared\":false,\"bus\":\"ide\"}],\"nics\":[{\"name\":\"Network adapter 1\","
		"\"network\":\"VM Network\",\"mac\":\"00:50:56:ab:3c:7d\",\"model\":\"vmxnet3\"},"
		"{\"name\":\"Network adapter 2\",\"network\":\"Backend\",\"mac\":null,"
		"\"model\":\"e1000\"}]}");
	free(json);
	release(&p);
}

static void test_virtualbox(void **state)
{
	struct parsed p;
	const struct ferry_vm *vm;

	(void)state;
	parse_file("virtualbox.ovf", &p);
	assert_int_equal(p.ret, 0);
	assert_int_equal(p.inv.nvms, 1);
	vm = &p.inv.vms[0];
	/* No <Name>: the ovf:id names it, and a warning says so. */
	assert_int_equal(p.f.len, 1);
	has_finding(&p, "ovf.system.no-name", FERRY_CAT_WARNING, 16);
	assert_string_equal(vm->id, "debian12");
	assert_string_equal(vm->name, "debian12");
	assert_int_equal(vm->cpus, 1);
	assert_int_equal(vm->cores_per_socket, 0);
	assert_true(vm->memory_bytes == 2048ull << 20); /* "MegaBytes" */
	assert_string_equal(vm->firmware, "efi");	/* vbox:Machine's <Firmware> */
	assert_false(vm->secure_boot);
	assert_string_equal(vm->os_type, "Debian_64");
	assert_string_equal(vm->export_source, "VirtualBox");
	assert_int_equal(vm->ndisks, 1);
	assert_string_equal(vm->disks[0].id, "vmdisk1");
	assert_string_equal(vm->disks[0].file, "debian12-disk001.vmdk");
	assert_string_equal(vm->disks[0].format, "vmdk-stream");
	assert_true(vm->disks[0].capacity == 20ull << 30); /* bytes, no units */
	assert_string_equal(vm->disks[0].bus, "sata");	   /* AHCI, ResourceType 20 */
	assert_int_equal(vm->nnics, 1);
	assert_string_equal(vm->nics[0].name, "Ethernet adapter on 'NAT'");
	assert_string_equal(vm->nics[0].network, "NAT");
	assert_null(vm->nics[0].mac);
	assert_string_equal(vm->nics[0].model, "e1000");
	release(&p);
}

static void test_ovf2(void **state)
{
	struct parsed p;
	const struct ferry_vm *vm;

	(void)state;
	parse_file("ovf2.ovf", &p);
	assert_int_equal(p.ret, 0);
	assert_int_equal(p.f.len, 0);
	assert_int_equal(p.inv.nvms, 1); /* inside a VirtualSystemCollection */
	vm = &p.inv.vms[0];
	assert_string_equal(vm->name, "app-db");
	assert_int_equal(vm->cpus, 8);
	assert_true(vm->memory_bytes == 16ull << 30);
	assert_string_equal(vm->firmware, "bios");
	assert_string_equal(vm->os_type, "rhel9_64");
	assert_string_equal(vm->export_source, "Unknown");
	assert_int_equal(vm->ndisks, 2);
	assert_string_equal(vm->disks[0].file, "app/disk.qcow2");
	assert_string_equal(vm->disks[0].format, "qcow2");
	assert_true(vm->disks[0].capacity == 2ull << 30); /* "byte*2^30" */
	assert_null(vm->disks[0].bus);
	/* A Disk without a file is a blank disk. */
	assert_string_equal(vm->disks[1].id, "scratch");
	assert_null(vm->disks[1].file);
	assert_null(vm->disks[1].format);
	assert_true(vm->disks[1].capacity == 1ull << 30);
	assert_int_equal(vm->nnics, 1);
	assert_string_equal(vm->nics[0].name, "eth0");
	assert_string_equal(vm->nics[0].network, "app-net");
	assert_string_equal(vm->nics[0].mac, "52:54:00:12:34:56");
	assert_string_equal(vm->nics[0].model, "virtio");
	release(&p);
}

static void test_bad_values(void **state)
{
	struct parsed p;
	const struct ferry_vm *vm;

	(void)state;
	parse_file("bad-values.ovf", &p);
	assert_int_equal(p.ret, 0);
	assert_int_equal(p.inv.nvms, 1);
	vm = &p.inv.vms[0];
	assert_string_equal(vm->name, "broken");
	assert_int_equal(vm->cpus, 1);
	assert_int_equal(vm->cores_per_socket, 0);
	assert_true(vm->memory_bytes == 0);
	assert_string_equal(vm->firmware, "bios");
	has_finding(&p, "ovf.system.no-name", FERRY_CAT_WARNING, 15);
	has_finding(&p, "ovf.cpu.invalid", FERRY_CAT_WARNING, 19);
	has_finding(&p, "ovf.cpu.cores-invalid", FERRY_CAT_WARNING, 19);
	has_finding(&p, "ovf.units.invalid", FERRY_CAT_CRITICAL, 25);
	has_finding(&p, "ovf.disk.capacity", FERRY_CAT_CRITICAL, 9);
	has_finding(&p, "ovf.disk.format-unknown", FERRY_CAT_WARNING, 10);
	has_finding(&p, "ovf.file.compressed", FERRY_CAT_CRITICAL, 10);
	has_finding(&p, "ovf.disk.file-unknown", FERRY_CAT_CRITICAL, 11);
	has_finding(&p, "ovf.disk.unknown", FERRY_CAT_CRITICAL, 35);
	has_finding(&p, "ovf.disk.host-resource", FERRY_CAT_CRITICAL, 36);
	has_finding(&p, "ovf.nic.no-network", FERRY_CAT_WARNING, 37);
	has_finding(&p, "ovf.nic.mac-invalid", FERRY_CAT_WARNING, 37);
	has_finding(&p, "ovf.firmware.unknown", FERRY_CAT_WARNING, 42);
	has_finding(&p, "ovf.disk.unreferenced", FERRY_CAT_WARNING, 13);
	assert_int_equal(ferry_findings_count(&p.f, FERRY_CAT_CRITICAL), 8);
	/* d1 and d2 kept (their capacity unknown), d3 (no file) dropped, d4
	 * a blank disk; the compressed d2 has no format, so that disk_open
	 * refuses its bytes. */
	assert_int_equal(vm->ndisks, 3);
	assert_string_equal(vm->disks[0].id, "d1");
	assert_true(vm->disks[0].capacity == 0);
	assert_string_equal(vm->disks[1].id, "d2");
	assert_string_equal(vm->disks[1].file, "b.vmdk.gz");
	assert_null(vm->disks[1].format);
	assert_string_equal(vm->disks[2].id, "d4");
	assert_int_equal(vm->nnics, 1);
	assert_string_equal(vm->nics[0].name, "Network adapter 1");
	assert_null(vm->nics[0].network);
	assert_null(vm->nics[0].mac);
	release(&p);
}

/* Documents that yield no VM: one finding each, with its position. */
static void refused(const char *file, const char *id, int ret, int line, int col)
{
	struct parsed p;

	parse_file(file, &p);
	assert_int_equal(p.ret, ret);
	assert_int_equal(p.inv.nvms, 0);
	assert_int_equal(p.f.len, 1);
	assert_string_equal(p.f.items[0].id, id);
	assert_int_equal(p.f.items[0].category, FERRY_CAT_ERROR);
	assert_string_equal(p.f.items[0].file, file);
	assert_int_equal(p.f.items[0].line, line);
	assert_int_equal(p.f.items[0].col, col);
	release(&p);
}

static void test_malformed(void **state)
{
	(void)state;
	refused("not-xml.ovf", "ovf.xml.malformed", -1, 1, 1);
	refused("empty.ovf", "ovf.xml.malformed", -1, 0, 0);
	refused("truncated.ovf", "ovf.xml.malformed", -1, 39, 33);
	refused("wrong-root.ovf", "ovf.envelope.missing", -1, 2, 0);
	refused("no-system.ovf", "ovf.system.missing", 0, 2, 0);
	/* No DTD is read: entities are neither expanded nor fetched. */
	refused("billion-laughs.ovf", "ovf.xml.doctype", -1, 2, 0);
	refused("xxe.ovf", "ovf.xml.doctype", -1, 2, 0);
}

static void test_limits(void **state)
{
	struct ferry_inventory inv = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	char *big = malloc(FERRY_OVF_MAX + 1);

	(void)state;
	assert_non_null(big);
	memset(big, ' ', FERRY_OVF_MAX + 1);
	assert_int_equal(ferry_ovf_parse(big, FERRY_OVF_MAX + 1, "big.ovf", STORAGE, &inv, &f), -1);
	assert_int_equal(f.len, 1);
	assert_string_equal(f.items[0].id, "ovf.xml.too-large");
	free(big);
	ferry_findings_release(&f);
	ferry_inventory_release(&inv);
}

static void test_units(void **state)
{
	(void)state;
	assert_true(ferry_ovf_units("byte") == 1);
	assert_true(ferry_ovf_units("byte * 2^20") == 1ull << 20);
	assert_true(ferry_ovf_units("Byte*2^30") == 1ull << 30);
	assert_true(ferry_ovf_units(" bytes * 2^10 ") == 1024);
	assert_true(ferry_ovf_units("byte * 10^3") == 1000);
	assert_true(ferry_ovf_units("MegaBytes") == 1ull << 20);
	assert_true(ferry_ovf_units("GB") == 1ull << 30);
	assert_true(ferry_ovf_units("byte * 2^63") == 1ull << 63);
	assert_true(ferry_ovf_units("byte * 2^64") == 0);
	assert_true(ferry_ovf_units("byte * 10^20") == 0);
	assert_true(ferry_ovf_units("hertz * 10^6") == 0);
	assert_true(ferry_ovf_units("byte * 2^") == 0);
	assert_true(ferry_ovf_units("") == 0);
	assert_true(ferry_ovf_units(NULL) == 0);
}

static void test_formats(void **state)
{
	(void)state;
	assert_string_equal(ferry_ovf_format("http://www.vmware.com/interfaces/specifications/"
					     "vmdk.html#streamOptimized"),
			    "vmdk-stream");
	assert_string_equal(
		ferry_ovf_format(
			"http://www.vmware.com/interfaces/specifications/vmdk.html#sparse"),
		"vmdk");
	assert_string_equal(ferry_ovf_format("http://www.gnome.org/~markmc/qcow-image-format.html"),
			    "qcow2");
	assert_null(ferry_ovf_format("http://example.com/x"));
	assert_null(ferry_ovf_format(NULL));
}

static void test_inventory_find(void **state)
{
	struct ferry_inventory inv = {0};
	struct ferry_vm *vm;
	const char *names[] = {"a", "b", "b"};

	(void)state;
	for (int i = 0; i < 3; i++) {
		inv.vms = realloc(inv.vms, (inv.nvms + 1) * sizeof *inv.vms);
		vm = &inv.vms[inv.nvms++];
		memset(vm, 0, sizeof *vm);
		vm->name = strdup(names[i]);
		vm->id = malloc(8);
		snprintf(vm->id, 8, "id-%d", i);
	}
	assert_ptr_equal(ferry_inventory_find(&inv, "id-1", NULL), &inv.vms[1]);
	assert_ptr_equal(ferry_inventory_find(&inv, "id-1", "b"), &inv.vms[1]);
	assert_null(ferry_inventory_find(&inv, "id-1", "a"));
	assert_ptr_equal(ferry_inventory_find(&inv, NULL, "a"), &inv.vms[0]);
	assert_null(ferry_inventory_find(&inv, NULL, "b")); /* two VMs are called b */
	assert_null(ferry_inventory_find(&inv, "nope", NULL));
	assert_null(ferry_inventory_find(&inv, NULL, NULL));
	/* the same answers through the lookup tables */
	ferry_inventory_index(&inv);
	assert_non_null(inv.by_id);
	assert_ptr_equal(ferry_inventory_find(&inv, "id-1", NULL), &inv.vms[1]);
	assert_ptr_equal(ferry_inventory_find(&inv, "id-2", NULL), &inv.vms[2]);
	assert_ptr_equal(ferry_inventory_find(&inv, "id-0", "a"), &inv.vms[0]);
	assert_ptr_equal(ferry_inventory_find(&inv, "id-1", "b"), &inv.vms[1]);
	assert_null(ferry_inventory_find(&inv, "id-1", "a"));
	assert_ptr_equal(ferry_inventory_find(&inv, NULL, "a"), &inv.vms[0]);
	assert_null(ferry_inventory_find(&inv, NULL, "b"));
	assert_null(ferry_inventory_find(&inv, NULL, "c"));
	assert_null(ferry_inventory_find(&inv, NULL, "0"));
	assert_null(ferry_inventory_find(&inv, "nope", NULL));
	assert_null(ferry_inventory_find(&inv, "id-", NULL));
	assert_null(ferry_inventory_find(&inv, NULL, NULL));
	ferry_inventory_release(&inv);
	assert_null(inv.vms);
	assert_int_equal(inv.nvms, 0);
}

static void test_registry(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	const char *planned[] = {"ovirt", "openstack", "openshift"};

	(void)state;
	assert_non_null(ferry_source_driver("ova", &err));
	assert_string_equal(ferry_source_driver("ova", &err)->type, "ova");
	assert_string_equal(ferry_source_driver("vsphere", &err)->type, "vsphere");
	for (int i = 0; i < 3; i++) {
		ferry_err_clear(&err);
		assert_null(ferry_source_driver(planned[i], &err));
		assert_int_equal(err.code, FERRY_E_UNSUPPORTED);
		assert_non_null(
			strstr(err.msg, "is not implemented yet (arrives with its own issue)"));
		assert_non_null(strstr(err.msg, planned[i]));
	}
	ferry_err_clear(&err);
	assert_null(ferry_source_driver("nutanix", &err));
	assert_int_equal(err.code, FERRY_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "not one ferry migrates from"));
	ferry_err_clear(&err);
	assert_null(ferry_source_driver("hyperv-ish", &err));
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_non_null(strstr(err.msg, "unknown provider type"));
}

static int try_open(const char *url, struct ferry_err *err)
{
	const struct ferry_source_ops *ops = ferry_source_driver("ova", err);
	struct ferry_source_config cfg = {
		.ns = "ns", .name = "ova-x", .type = "ova", .url = url, .work_dir = "/tmp"};
	struct ferry_source *s = NULL;
	int r = ops->open(&s, &cfg, err);

	if (r == 0)
		ops->close(s);
	return r;
}

static void test_ova_urls(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;

	(void)state;
	assert_int_equal(try_open("file://" FERRY_TEST_DATA "/ovf", &err), 0);
	assert_int_equal(try_open("file://localhost" FERRY_TEST_DATA "/ovf", &err), 0);
	assert_int_equal(try_open(FERRY_TEST_DATA "/ovf", &err), 0);
	assert_int_equal(try_open("file:///tmp/%2e", &err), 0);

	assert_int_equal(try_open("nfs.example.com:/exports/ova", &err), -1);
	assert_int_equal(err.code, FERRY_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "mount it and use file://"));
	assert_non_null(strstr(err.msg, "ferry does not mount NFS"));
	assert_int_equal(try_open("10.0.0.5:/ova", &err), -1);
	assert_int_equal(err.code, FERRY_E_UNSUPPORTED);
	assert_int_equal(try_open("nfs://10.0.0.5/ova", &err), -1);
	assert_int_equal(err.code, FERRY_E_UNSUPPORTED);

	assert_int_equal(try_open("https://vcenter/sdk", &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_int_equal(try_open("file://host/share", &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_int_equal(try_open("file:///tmp/%00", &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_int_equal(try_open("", &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_int_equal(try_open("/nonexistent/ferry-ova-share", &err), -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_int_equal(try_open(FERRY_TEST_DATA "/ovf/vmware.ovf", &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmware),	       cmocka_unit_test(test_virtualbox),
		cmocka_unit_test(test_ovf2),	       cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_malformed),      cmocka_unit_test(test_limits),
		cmocka_unit_test(test_units),	       cmocka_unit_test(test_formats),
		cmocka_unit_test(test_inventory_find), cmocka_unit_test(test_registry),
		cmocka_unit_test(test_ova_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
