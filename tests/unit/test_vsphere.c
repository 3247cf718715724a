/* The vSphere driver's pure parts: SOAP envelopes and their escaping,
 * replies and faults (samples in data/vsphere/), the inventory model from
 * RetrievePropertiesEx and WaitForUpdatesEx replies, thumbprints, task
 * states, QueryChangedDiskAreas replies and the nbdkit command lines. */
#include "providers/vsphere/internal.h"

#include "common/alloc.h"
#include "common/err.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *load(const char *name, size_t *len)
{
	char *path = ferry_path_join(FERRY_TEST_DATA "/vsphere", name), *data = NULL;

	assert_int_equal(ferry_read_file(path, 1 << 20, &data, len), 0);
	free(path);
	return data;
}

/* ---- envelopes ------------------------------------------------------------------------ */

static void test_escape(void **state)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	static const char *const bad[] = {
		"a\x01",	    /* control character */
		"\xc3\x28",	    /* broken sequence */
		"\xc0\xaf",	    /* overlong '/' */
		"\xed\xa0\x80",	    /* a surrogate */
		"\xef\xbf\xbe",	    /* U+FFFE */
		"\xf4\x90\x80\x80", /* beyond U+10FFFF */
		"\xff",
	};

	(void)state;
	assert_int_equal(vs_xml_escape(&sb, "a&b<c>\"d'e\tf\ng\rh", "x", &err), 0);
	assert_string_equal(sb.buf, "a&amp;b&lt;c&gt;&quot;d&apos;e&#9;f&#10;g&#13;h");
	ferry_sb_reset(&sb);
	assert_int_equal(vs_xml_escape(&sb, "é€😀 ok", "x", &err), 0);
	assert_string_equal(sb.buf, "é€😀 ok");
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ferry_sb_reset(&sb);
		ferry_err_clear(&err);
		assert_int_equal(vs_xml_escape(&sb, bad[i], "password", &err), -1);
		assert_int_equal(err.code, FERRY_E_INVALID);
		assert_true(ferry_starts_with(err.msg, "password "));
	}
	ferry_err_clear(&err);
	ferry_sb_reset(&sb);
	assert_int_equal(vs_xml_escape(&sb, "s3cret\x02", "password", &err), -1);
	assert_string_equal(err.msg,
			    "password holds a control character (0x02) that XML cannot carry");
	ferry_sb_release(&sb);
}

static void test_envelope(void **state)
{
	struct ferry_sb b = FERRY_SB_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	char *doc;

	(void)state;
	assert_int_equal(vs_add_moref(&b, "_this", "SessionManager", "Session<Mgr>", &err), 0);
	assert_int_equal(vs_add_text(&b, "userName", "administrator@vsphere.local", &err), 0);
	assert_int_equal(vs_add_text(&b, "password", "p&w<d>'\"", &err), 0);
	doc = vs_envelope("Login", b.buf);
	assert_string_equal(
		doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		     "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\""
		     " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
		     " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
		     "<soapenv:Body><Login xmlns=\"urn:vim25\">"
		     "<_this type=\"SessionManager\">Session&lt;Mgr&gt;</_this>"
		     "<userName>administrator@vsphere.local</userName>"
		     "<password>p&amp;w&lt;d&gt;&apos;&quot;</password>"
		     "</Login></soapenv:Body></soapenv:Envelope>");
	free(doc);
	ferry_sb_reset(&b);
	assert_int_equal(vs_add_text(&b, "password", "\x1b[0m", &err), -1);
	ferry_sb_release(&b);
}

/* ---- replies and faults ------------------------------------------------------------------ */

struct fault_case {
	const char *file, *method;
	long status;
	const char *fault;
	enum ferry_errcode code;
	const char *msg;
};

static void test_faults(void **state)
{
	static const struct fault_case cases[] = {
		{"fault-invalidlogin.xml", "Login", 500, "InvalidLogin", FERRY_E_AUTH,
		 "vsphere: Login: InvalidLogin: Cannot complete login due to an incorrect user "
		 "name or password."},
		{"fault-notauthenticated.xml", "CreateContainerView", 500, "NotAuthenticated",
		 FERRY_E_AUTH, "vsphere: CreateContainerView: NotAuthenticated"},
		{"fault-mofnotfound.xml", "RemoveSnapshot_Task", 500, "ManagedObjectNotFound",
		 FERRY_E_NOT_FOUND,
		 "vsphere: RemoveSnapshot_Task: ManagedObjectNotFound: The object "
		 "'vim.VirtualMachineSnapshot:snapshot-999' has already been deleted or has not "
		 "been completely created"},
		{"fault-taskinprogress.xml", "PowerOnVM_Task", 500, "TaskInProgress",
		 FERRY_E_RETRYABLE,
		 "vsphere: PowerOnVM_Task: TaskInProgress: The operation is not allowed in the "
		 "current state."},
		{"missingset-notauthenticated.xml", "RetrievePropertiesEx", 200, "NotAuthenticated",
		 FERRY_E_AUTH,
		 "vsphere: RetrievePropertiesEx: NotAuthenticated: the session is not logged in"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct fault_case *c = &cases[i];
		struct vs_reply r = VS_REPLY_INIT;
		struct ferry_err err = FERRY_ERR_INIT;
		size_t len;
		char *xml = load(c->file, &len);

		assert_int_equal(vs_parse_reply(c->method, c->status, xml, len, &r, &err), -1);
		assert_string_equal(r.fault, c->fault);
		assert_int_equal(err.code, c->code);
		assert_string_equal(err.msg, c->msg);
		assert_null(r.resp);
		vs_reply_release(&r);
		free(xml);
	}
}

static void test_fault_obj(void **state)
{
	struct vs_reply r = VS_REPLY_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	size_t len;
	char *xml = load("fault-mofnotfound.xml", &len);

	(void)state;
	assert_int_equal(vs_parse_reply("RemoveSnapshot_Task", 500, xml, len, &r, &err), -1);
	assert_string_equal(r.fault_obj, "snapshot-999");
	vs_reply_release(&r);
	/* the missingSet form counts only for the property collector's methods */
	free(xml);
	xml = load("missingset-notauthenticated.xml", &len);
	ferry_err_clear(&err);
	assert_int_equal(vs_parse_reply("RetrievePropertiesEx", 200, xml, len, &r, &err), -1);
	vs_reply_release(&r);
	free(xml);
}

static void expect_bad(const char *method, long status, const char *xml, enum ferry_errcode code,
		       const char *msg)
{
	struct vs_reply r = VS_REPLY_INIT;
	struct ferry_err err = FERRY_ERR_INIT;

	assert_int_equal(vs_parse_reply(method, status, xml, strlen(xml), &r, &err), -1);
	assert_int_equal(err.code, code);
	if (!strstr(err.msg, msg))
		fail_msg("message [%s] lacks [%s]", err.msg, msg);
	assert_string_equal(r.fault, "");
	assert_null(r.doc);
	vs_reply_release(&r);
}

#define ENV_OPEN                                                                                   \
	"<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"           \
	"<soapenv:Body>"
#define ENV_CLOSE "</soapenv:Body></soapenv:Envelope>"

static void test_bad_replies(void **state)
{
	(void)state;
	expect_bad("Login", 503, "", FERRY_E_RETRYABLE, "vsphere: Login: HTTP 503");
	expect_bad("Login", 200, "<html>oops", FERRY_E_IO, "vsphere: Login: the reply is not XML");
	expect_bad("Login", 200,
		   "<!DOCTYPE x [<!ENTITY a \"b\">]>" ENV_OPEN
		   "<LoginResponse xmlns=\"urn:vim25\">&a;</LoginResponse>" ENV_CLOSE,
		   FERRY_E_INVALID, "the reply has a DTD");
	expect_bad("Logout", 200, ENV_OPEN "<LoginResponse xmlns=\"urn:vim25\"/>" ENV_CLOSE,
		   FERRY_E_IO, "the reply has no LogoutResponse");
	/* the right name in the wrong namespace */
	expect_bad("Login", 200, ENV_OPEN "<LoginResponse xmlns=\"urn:vim24\"/>" ENV_CLOSE,
		   FERRY_E_IO, "the reply has no LoginResponse");
	expect_bad("Login", 200,
		   "<soapenv:Envelope xmlns:soapenv=\"http://example.com/\"><soapenv:Body/>"
		   "</soapenv:Envelope>",
		   FERRY_E_IO, "not a SOAP envelope");
	expect_bad("Login", 500, ENV_OPEN "<LoginResponse xmlns=\"urn:vim25\"/>" ENV_CLOSE,
		   FERRY_E_IO, "vsphere: Login: HTTP 500");
}

static void test_good_reply(void **state)
{
	const char *xml = ENV_OPEN "<x:LoginResponse xmlns:x=\"urn:vim25\"><x:returnval><x:key>k"
				   "</x:key></x:returnval></x:LoginResponse>" ENV_CLOSE;
	struct vs_reply r = VS_REPLY_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	char *key;

	(void)state;
	assert_int_equal(vs_parse_reply("Login", 200, xml, strlen(xml), &r, &err), 0);
	assert_non_null(r.resp);
	key = vs_child_text(vs_child(r.resp, "returnval"), "key");
	assert_string_equal(key, "k");
	free(key);
	vs_reply_release(&r);
}

static void test_fault_codes(void **state)
{
	(void)state;
	assert_int_equal(vs_fault_code("InvalidLogin"), FERRY_E_AUTH);
	assert_int_equal(vs_fault_code("NotAuthenticated"), FERRY_E_AUTH);
	assert_int_equal(vs_fault_code("ManagedObjectNotFound"), FERRY_E_NOT_FOUND);
	assert_int_equal(vs_fault_code("TaskInProgress"), FERRY_E_RETRYABLE);
	assert_int_equal(vs_fault_code("InvalidPowerState"), FERRY_E_CONFLICT);
	assert_int_equal(vs_fault_code("MethodNotFound"), FERRY_E_UNSUPPORTED);
	assert_int_equal(vs_fault_code("SomethingNew"), FERRY_E_IO);
}

static void test_task_info(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char fault[VS_FAULT_MAX], *result = NULL;
	int progress = 0;
	size_t len;
	char *xml = load("task-error.xml", &len);
	const char *ok = ENV_OPEN
		"<RetrievePropertiesExResponse xmlns=\"urn:vim25\" "
		"xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><returnval><objects>"
		"<obj type=\"Task\">task-9</obj>"
		"<propSet><name>info.state</name><val>success</val></propSet>"
		"<propSet><name>info.result</name><val xsi:type=\"ManagedObjectReference\" "
		"type=\"VirtualMachineSnapshot\">snapshot-73</val></propSet>"
		"</objects></returnval></RetrievePropertiesExResponse>" ENV_CLOSE;
	const char *running =
		ENV_OPEN "<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects>"
			 "<obj type=\"Task\">task-9</obj>"
			 "<propSet><name>info.state</name><val>running</val></propSet>"
			 "<propSet><name>info.progress</name><val>42</val></propSet>"
			 "</objects></returnval></RetrievePropertiesExResponse>" ENV_CLOSE;

	(void)state;
	assert_int_equal(
		vs_task_info_reply(xml, len, "PowerOffVM_Task", &progress, NULL, fault, &err), -1);
	assert_string_equal(fault, "InvalidPowerState");
	assert_int_equal(err.code, FERRY_E_CONFLICT);
	assert_string_equal(err.msg, "vsphere: PowerOffVM_Task: InvalidPowerState: The attempted "
				     "operation cannot be performed in the current state (Powered "
				     "off).");
	free(xml);
	assert_int_equal(vs_task_info_reply(ok, strlen(ok), "t", &progress, &result, fault, &err),
			 0);
	assert_string_equal(result, "snapshot-73");
	free(result);
	assert_int_equal(
		vs_task_info_reply(running, strlen(running), "t", &progress, NULL, fault, &err), 1);
	assert_int_equal(progress, 42);
}

/* ---- thumbprints ---------------------------------------------------------------------- */

static void test_thumbprints(void **state)
{
	static const char *const bad[] = {
		"",
		"01:23",
		"0:123:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
		"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:6",
		"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:6G",
		"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89",
	};
	unsigned char md[32];
	char buf[3 * 32];
	size_t n = 0;
	struct ferry_err err = FERRY_ERR_INIT;

	(void)state;
	assert_int_equal(vs_thumbprint_parse("01:23:45:67:89:ab:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
					     "23:45:67",
					     md, &n, &err),
			 0);
	assert_int_equal(n, 20);
	vs_thumbprint_format(md, n, buf);
	assert_string_equal(buf, "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67");
	assert_int_equal(
		vs_thumbprint_parse("a0d1d66a49b2f87bde66d7752f7af0dadadcf761bbcbb0f36eb9f6"
				    "960d60599b",
				    md, &n, &err),
		0);
	assert_int_equal(n, 32);
	vs_thumbprint_format(md, n, buf);
	assert_string_equal(buf, "A0:D1:D6:6A:49:B2:F8:7B:DE:66:D7:75:2F:7A:F0:DA:DA:DC:F7:61:BB:"
				 "CB:B0:F3:6E:B9:F6:96:0D:60:59:9B");
	assert_int_equal(
		vs_thumbprint_parse("01 23 45 67 89 AB CD EF 01 23 45 67 89 AB CD EF 01 23 "
				    "45 67",
				    md, &n, &err),
		0);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ferry_err_clear(&err);
		assert_int_equal(vs_thumbprint_parse(bad[i], md, &n, &err), -1);
		assert_int_equal(err.code, FERRY_E_INVALID);
	}
}

/* ---- inventory ------------------------------------------------------------------------- */

static void test_inventory(void **state)
{
	struct ferry_inventory inv = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	const struct ferry_vm *vm;
	size_t len;
	char *xml = load("retrieve.xml", &len), *json;

	(void)state;
	assert_int_equal(vs_inventory_from_reply(xml, len, &inv, &f, &err), 0);
	assert_int_equal(inv.nvms, 2); /* the template is left out */
	assert_string_equal(inv.vms[0].name, "lost");
	assert_string_equal(inv.vms[1].name, "web01");
	vm = &inv.vms[1];
	assert_string_equal(vm->id, "vm-431");
	assert_int_equal(vm->cpus, 4);
	assert_int_equal(vm->cores_per_socket, 2);
	assert_int_equal(vm->memory_bytes, 8192ull << 20);
	assert_string_equal(vm->firmware, "efi");
	assert_true(vm->secure_boot);
	assert_string_equal(vm->power_state, "On");
	assert_string_equal(vm->host, "host-29");
	assert_string_equal(vm->host_name, "esx1.example.com");
	assert_string_equal(vm->cluster, "cluster1");
	assert_string_equal(vm->source, "/Prod/DC 1/vm/web01");
	assert_true(vm->has_cbt && vm->cbt_enabled);
	assert_int_equal(vm->ndisks, 3);
	assert_int_equal(vm->disks[1].capacity, 1ull << 30); /* capacityInKB * 1024 */
	assert_true(vm->disks[1].rdm);
	assert_true(vm->disks[2].shared);
	assert_int_equal(vm->nnics, 2);
	json = ferry_vm_to_json(vm);
	assert_string_equal(
		json,
		"{\"id\":\"vm-431\",\"name\":\"web01\",\"cpuCount\":4,\"coresPerSocket\":2,"
		"\"memoryMB\":8192,\"firmware\":\"efi\",\"secureBoot\":true,\"powerState\":\"On\","
		"\"guestId\":\"rhel8_64Guest\",\"osType\":\"rhel8_64Guest\","
		"\"source\":\"/Prod/DC 1/vm/web01\","
		"\"uuid\":\"42256329-8c3a-2a82-54fd-01d845a8bf49\",\"connectionState\":"
		"\"connected\","
		"\"guestName\":\"Red Hat Enterprise Linux 8 "
		"(64-bit)\",\"ipAddress\":\"10.19.2.96\","
		"\"changeTrackingEnabled\":true,"
		"\"host\":{\"id\":\"host-29\",\"name\":\"esx1.example.com\","
		"\"cluster\":{\"name\":\"cluster1\"}},"
		"\"snapshot\":{\"kind\":\"VirtualMachineSnapshot\",\"id\":\"snapshot-2\"},"
		"\"snapshots\":[{\"id\":\"snapshot-1\",\"name\":\"base & co\"},"
		"{\"id\":\"snapshot-2\",\"name\":\"ferry-op-1\"}],"
		"\"disks\":["
		"{\"id\":\"2000\",\"file\":\"[ds1] web01/web01.vmdk\",\"format\":\"vmdk\","
		"\"capacity\":17179869184,\"storage\":\"ds1\",\"shared\":false,\"bus\":\"scsi\","
		"\"datastore\":{\"kind\":\"Datastore\",\"id\":\"datastore-11\"},"
		"\"mode\":\"persistent\",\"rdm\":false,"
		"\"changeId\":\"52 3c 0e 9d 6f 25 d4 c1-a3 21 43 d0 f2 6c 7b 8a/5\"},"
		"{\"id\":\"2001\",\"file\":\"[ds1] web01/web01_1.vmdk\",\"format\":\"rdm\","
		"\"capacity\":1073741824,\"storage\":\"ds1\",\"shared\":false,\"bus\":\"scsi\","
		"\"datastore\":{\"kind\":\"Datastore\",\"id\":\"datastore-11\"},"
		"\"mode\":\"independent_persistent\",\"rdm\":true,\"changeId\":null},"
		"{\"id\":\"16000\",\"file\":\"[ds2 shared] web01/web01_2-000001.vmdk\","
		"\"format\":\"vmdk\",\"capacity\":2097152,\"storage\":\"ds2 shared\","
		"\"shared\":true,\"bus\":\"sata\","
		"\"datastore\":{\"kind\":\"Datastore\",\"id\":\"datastore-12\"},"
		"\"mode\":\"persistent\",\"rdm\":false,\"changeId\":null}],"
		"\"nics\":["
		"{\"name\":\"Network adapter "
		"1\",\"network\":\"prod-pg\",\"mac\":\"00:50:56:ab:cd:ef\","
		"\"model\":\"vmxnet3\",\"networkId\":\"dvportgroup-47\"},"
		"{\"name\":\"Network adapter 2\",\"network\":\"VM Network\","
		"\"mac\":\"00:50:56:00:00:02\",\"model\":\"e1000e\",\"networkId\":\"network-7\"}]"
		"}");
	free(json);
	/* the orphan: no configuration, a finding */
	vm = &inv.vms[0];
	assert_string_equal(vm->power_state, "Off");
	assert_int_equal(vm->ndisks, 0);
	assert_int_equal(f.len, 1);
	assert_string_equal(f.items[0].id, "vsphere.vm.not-connected");
	assert_string_equal(f.items[0].message,
			    "VM 'lost' (vm-501) is orphaned: vCenter cannot reach it or its files");
	assert_int_equal(inv.nnetworks, 2);
	assert_string_equal(inv.networks[0], "VM Network");
	assert_string_equal(inv.networks[1], "prod-pg");
	assert_int_equal(inv.nstorages, 2);
	assert_string_equal(inv.storages[0], "ds1");
	assert_string_equal(inv.storages[1], "ds2 shared");
	ferry_inventory_release(&inv);
	ferry_findings_release(&f);
	free(xml);
}

static void test_updates(void **state)
{
	struct vs_store st;
	struct ferry_inventory inv = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	char **refetch = NULL, *dc = NULL, *path;
	size_t nrefetch = 0, len1, len2;
	char *xml1 = load("retrieve.xml", &len1), *xml2 = load("updates.xml", &len2);

	(void)state;
	vs_store_init(&st);
	assert_int_equal(vs_store_load_reply(&st, xml1, len1, &refetch, &nrefetch, &err), 0);
	assert_int_equal(nrefetch, 0);
	assert_non_null(vs_store_datacenter(&st, "vm-431", &dc));
	assert_string_equal(dc, "Prod/DC 1");
	free(dc);
	assert_int_equal(vs_store_load_reply(&st, xml2, len2, &refetch, &nrefetch, &err), 0);
	/* a change to part of the device list: the VM is read again */
	assert_int_equal(nrefetch, 1);
	assert_string_equal(refetch[0], "vm-431");
	free(refetch[0]);
	free(refetch);
	path = vs_store_path(&st, "vm-431");
	assert_string_equal(path, "/Prod/DC 1/vm/web01-renamed");
	free(path);
	vs_store_build(&st, &inv, &f);
	assert_int_equal(inv.nvms, 1); /* the orphan left */
	assert_string_equal(inv.vms[0].name, "web01-renamed");
	assert_string_equal(inv.vms[0].power_state, "Off");
	assert_false(inv.vms[0].cbt_enabled); /* assigned no value: unset */
	assert_int_equal(inv.vms[0].ndisks, 3);
	assert_int_equal(inv.nnetworks, 3);
	assert_string_equal(inv.networks[0], "Backup");
	ferry_inventory_release(&inv);
	ferry_findings_release(&f);
	vs_store_release(&st);
	free(xml1);
	free(xml2);
}

/* ---- disks ------------------------------------------------------------------------------- */

static void test_folder_url(void **state)
{
	char *u;

	(void)state;
	u = ferry_vsphere_folder_url("https://vc.example.com:443", "Prod/DC 1",
				     "[ds2 shared] web01/web 01.vmdk", true);
	assert_string_equal(u, "https://vc.example.com:443/folder/web01/web%2001-flat.vmdk"
			       "?dcPath=Prod%2FDC%201&dsName=ds2%20shared");
	free(u);
	u = ferry_vsphere_folder_url("https://h:1", "DC0", "[LocalDS_0] a/disk1-flat.vmdk", true);
	assert_string_equal(u, "https://h:1/folder/a/disk1-flat.vmdk?dcPath=DC0&dsName=LocalDS_0");
	free(u);
	u = ferry_vsphere_folder_url("https://h:1", NULL, "[ds] a/sparse.vmdk", false);
	assert_string_equal(u, "https://h:1/folder/a/sparse.vmdk?dsName=ds");
	free(u);
	u = ferry_vsphere_folder_url("https://h:1", "DC0", "[ds] a/x&y?.vmdk", true);
	assert_string_equal(u, "https://h:1/folder/a/x%26y%3F-flat.vmdk?dcPath=DC0&dsName=ds");
	free(u);
	assert_null(ferry_vsphere_folder_url("https://h", "DC0", "no-datastore.vmdk", true));
	assert_null(ferry_vsphere_folder_url("https://h", "DC0", "[] a.vmdk", true));
	assert_null(ferry_vsphere_folder_url("https://h", "DC0", "[ds]  ", true));
	assert_null(ferry_vsphere_folder_url("https://h", "DC0", "[ds a.vmdk", true));
}

static void expect_argv(char **argv, const char *const *want)
{
	size_t i = 0;

	for (; want[i]; i++) {
		assert_non_null(argv[i]);
		assert_string_equal(argv[i], want[i]);
	}
	assert_null(argv[i]);
	ferry_vsphere_argv_free(argv);
}

static void test_vddk_argv(void **state)
{
	struct ferry_vsphere_vddk v = {
		.nbdkit = "/usr/sbin/nbdkit",
		.socket = "/w/vs-1-1.sock",
		.pidfile = "/w/vs-1-1.pid",
		.server = "vc.example.com",
		.port = 443,
		.user = "administrator@vsphere.local",
		.password_fd = 3,
		.thumbprint = "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
		.vm_moref = "vm-431",
		.snapshot = "snapshot-2",
		.file = "[ds1] web01/web01.vmdk",
		.libdir = "/opt/vmware-vix-disklib-distrib",
	};
	static const char *const want[] = {
		"/usr/sbin/nbdkit",
		"--foreground",
		"--readonly",
		"--unix=/w/vs-1-1.sock",
		"--pidfile=/w/vs-1-1.pid",
		"--filter=cow",
		"--filter=cacheextents",
		"--filter=retry",
		"vddk",
		"server=vc.example.com",
		"user=administrator@vsphere.local",
		"password=-3",
		"thumbprint=01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
		"vm=moref=vm-431",
		"snapshot=snapshot-2",
		"file=[ds1] web01/web01.vmdk",
		"libdir=/opt/vmware-vix-disklib-distrib",
		NULL,
	};
	static const char *const want2[] = {
		"nbdkit",
		"--foreground",
		"--readonly",
		"--unix=s",
		"--pidfile=p",
		"--filter=cow",
		"--filter=cacheextents",
		"--filter=retry",
		"vddk",
		"server=esx1",
		"port=8443",
		"user=root",
		"password=-3",
		"thumbprint=T",
		"vm=moref=7",
		"file=[ds] f.vmdk",
		"libdir=/l",
		"config=/etc/vddk.conf",
		NULL,
	};

	(void)state;
	expect_argv(ferry_vsphere_vddk_argv(&v), want);
	v = (struct ferry_vsphere_vddk){
		"nbdkit", "s", "p",  "esx1",	    8443, "root",	   3,
		"T",	  "7", NULL, "[ds] f.vmdk", "/l", "/etc/vddk.conf"};
	expect_argv(ferry_vsphere_vddk_argv(&v), want2);
}

/* argv from the plugin's name on is want (the filters before it are
 * test_vddk_argv's). */
static void expect_vddk_params(char **argv, const char *const *want)
{
	char **p = argv;

	while (*p && strcmp(*p, "vddk"))
		p++;
	assert_non_null(*p);
	for (size_t i = 0; want[i]; i++, p++) {
		assert_non_null(*p);
		assert_string_equal(*p, want[i]);
	}
	assert_null(*p);
	ferry_vsphere_argv_free(argv);
}

/* A VM on an ESXi host that has a Host entry is read through the Host's
 * address, user and thumbprint (by the host's moref, else by its name); a
 * VM on another host through the provider's endpoint. */
static void test_vddk_argv_host(void **state)
{
	struct vs_host hosts[] = {
		{.label = "mig/esx21",
		 .id = "host-21",
		 .ip = "10.0.0.21",
		 .user = "root",
		 .thumbprint = "21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21"},
		{.label = "mig/esx22",
		 .name = "esx22.example.com",
		 .ip = "fd00::22",
		 .user = "migrator",
		 .thumbprint = "22:22"},
		{.label = "mig/esx23",
		 .id = "host-23",
		 .ip = "10.0.0.23",
		 .user = "root",
		 .thumbprint = "23:23"},
	};
	struct ferry_vm on21 = {
		.id = "vm-431", .host = "host-21", .host_name = "esx21.example.com"};
	struct ferry_vm on22 = {
		.id = "vm-432", .host = "host-22", .host_name = "ESX22.example.com"};
	struct ferry_vm on23 = {
		.id = "vm-433", .host = "host-23", .host_name = "esx22.example.com"};
	struct ferry_vm on24 = {
		.id = "vm-434", .host = "host-24", .host_name = "esx24.example.com"};
	/* nbdkit, socket, pidfile, server, port, user, password_fd, thumbprint,
	 * vm_moref, snapshot, file, libdir, config */
	const struct ferry_vsphere_vddk vc = {
		"nbdkit",
		"s",
		"p",
		"vc.example.com",
		8443,
		"administrator@vsphere.local",
		3,
		"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
		"vm-431",
		NULL,
		"[ds1] web01/web01.vmdk",
		"/l",
		NULL};
	static const char *const via21[] = {
		"vddk",
		"server=10.0.0.21",
		"user=root",
		"password=-3",
		"thumbprint=21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21:21",
		"vm=moref=7",
		"snapshot=7-snapshot-2",
		"file=[ds1] web01/web01.vmdk",
		"libdir=/l",
		NULL,
	};
	static const char *const via_vc[] = {
		"vddk",
		"server=vc.example.com",
		"port=8443",
		"user=administrator@vsphere.local",
		"password=-3",
		"thumbprint=01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
		"vm=moref=vm-431",
		"file=[ds1] web01/web01.vmdk",
		"libdir=/l",
		NULL,
	};
	struct ferry_vsphere_vddk v = vc;

	(void)state;
	assert_ptr_equal(vs_host_of(hosts, 3, &on21), &hosts[0]);
	assert_ptr_equal(vs_host_of(hosts, 3, &on22), &hosts[1]); /* by name, any case */
	assert_ptr_equal(vs_host_of(hosts, 3, &on23), &hosts[2]); /* the id wins */
	assert_null(vs_host_of(hosts, 3, &on24));
	assert_null(vs_host_of(hosts, 0, &on21));

	vs_vddk_via_host(&v, vs_host_of(hosts, 3, &on21));
	v.vm_moref = "7"; /* the caller's: the morefs on the ESXi host */
	v.snapshot = "7-snapshot-2";
	expect_vddk_params(ferry_vsphere_vddk_argv(&v), via21);
	/* no Host entry: the provider's endpoint, as it was */
	v = vc;
	expect_vddk_params(ferry_vsphere_vddk_argv(&v), via_vc);
	/* an IPv6 address goes as it is */
	vs_vddk_via_host(&v, vs_host_of(hosts, 3, &on22));
	assert_string_equal(v.server, "fd00::22");
	assert_string_equal(v.user, "migrator");
	assert_int_equal(v.port, 0);
	assert_string_equal(v.thumbprint, "22:22");
}

static void test_curl_argv(void **state)
{
	struct ferry_vsphere_curl c = {
		.nbdkit = "nbdkit",
		.socket = "s",
		.pidfile = "p",
		.url = "https://h/folder/a-flat.vmdk?dsName=ds",
		.cookie_fd = 3,
		.cainfo = "/w/vs-1-1.ca",
		.size = 4194304,
	};
	static const char *const want[] = {
		"nbdkit",
		"--foreground",
		"--readonly",
		"--unix=s",
		"--pidfile=p",
		"--filter=truncate",
		"--filter=retry",
		"curl",
		"url=https://h/folder/a-flat.vmdk?dsName=ds",
		"cookie=-3",
		"cainfo=/w/vs-1-1.ca",
		"timeout=300",
		"truncate=4194304",
		NULL,
	};
	static const char *const want2[] = {
		"nbdkit",	   "--foreground",   "--readonly", "--unix=s",
		"--pidfile=p",	   "--filter=retry", "curl",	   "url=u",
		"sslverify=false", "timeout=300",    NULL,
	};

	(void)state;
	expect_argv(ferry_vsphere_curl_argv(&c), want);
	c = (struct ferry_vsphere_curl){"nbdkit", "s", "p", "u", -1, NULL, true, 0};
	expect_argv(ferry_vsphere_curl_argv(&c), want2);
}

/* ---- changed areas ------------------------------------------------------------------------ */

static void test_qcda(void **state)
{
	struct ferry_changed_areas c = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	uint64_t next = 0;
	size_t len;
	char *xml = load("qcda.xml", &len), *json;

	(void)state;
	/* clipped to [32768, capacity), touching areas merged */
	assert_int_equal(vs_qcda_parse_reply(xml, len, 32768, 4194304, &c, &next, &err), 0);
	assert_int_equal(next, 32768 + 3112960);
	assert_int_equal(c.n, 3);
	c.size = 4194304;
	json = ferry_changed_areas_json(&c);
	assert_string_equal(json, "[{\"start\":32768,\"length\":32768},"
				  "{\"start\":1048576,\"length\":69632},"
				  "{\"start\":4190208,\"length\":4096}]\n");
	free(json);
	ferry_changed_areas_release(&c);
	/* a reply for another offset is refused */
	assert_int_equal(vs_qcda_parse_reply(xml, len, 0, 4194304, &c, &next, &err), -1);
	assert_int_equal(err.code, FERRY_E_IO);
	assert_non_null(strstr(err.msg, "asked from 0, got 3112960 bytes from 32768"));
	ferry_changed_areas_release(&c);
	free(xml);
	json = ferry_changed_areas_json(&c);
	assert_string_equal(json, "[]\n");
	free(json);
}

/* ---- the driver's table and its configuration ------------------------------------------------ */

static int try_open(const char *url, const char *const *kv, size_t n, struct ferry_err *err)
{
	char *keys[8], *vals[8];
	struct ferry_source_config cfg = {.ns = "ns", .name = "vc", .type = "vsphere", .url = url};
	const struct ferry_source_ops *ops = ferry_source_driver("vsphere", err);
	struct ferry_source *s = NULL;
	size_t ns = 0, nset = 0;
	char *skeys[4], *svals[4];
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (!strcmp(kv[2 * i], "sdkEndpoint")) {
			skeys[nset] = (char *)(uintptr_t)kv[2 * i];
			svals[nset++] = (char *)(uintptr_t)kv[2 * i + 1];
		} else {
			keys[ns] = (char *)(uintptr_t)kv[2 * i];
			vals[ns++] = (char *)(uintptr_t)kv[2 * i + 1];
		}
	}
	cfg.secret = (struct ferry_pairs){keys, vals, ns};
	cfg.settings = (struct ferry_pairs){skeys, svals, nset};
	rc = ops->open(&s, &cfg, err);
	if (!rc)
		ops->close(s);
	return rc;
}

static void test_open_errors(void **state)
{
	static const char *const up[] = {"user", "u", "password", "p"};
	static const char *const bad_thumb[] = {"user", "u", "password", "p", "thumbprint", "xx"};
	static const char *const bad_flag[] = {"user", "u", "password", "p", "insecureSkipVerify",
					       "maybe"};
	static const char *const bad_ep[] = {"user", "u", "password", "p", "sdkEndpoint", "vpx"};
	static const char *const no_pw[] = {"user", "u"};
	struct ferry_err err = FERRY_ERR_INIT;
	const struct ferry_source_ops *ops;

	(void)state;
	ops = ferry_source_driver("vsphere", &err);
	assert_non_null(ops);
	assert_non_null(ops->power_off);
	assert_non_null(ops->snapshot_create);
	assert_non_null(ops->changed_areas);
	assert_non_null(ops->disk_open_snapshot);
	assert_int_equal(try_open("http://vc/sdk", up, 2, &err), -1);
	assert_string_equal(err.msg, "vsphere provider ns/vc: url 'http://vc/sdk': a vsphere "
				     "provider is reached over https://");
	assert_int_equal(try_open("", up, 2, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_int_equal(try_open("https://127.0.0.1:1/sdk", no_pw, 1, &err), -1);
	assert_int_equal(err.code, FERRY_E_AUTH);
	assert_int_equal(try_open("https://127.0.0.1:1/sdk", bad_thumb, 3, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_int_equal(try_open("https://127.0.0.1:1/sdk", bad_flag, 3, &err), -1);
	assert_string_equal(err.msg, "vsphere provider ns/vc: the secret's insecureSkipVerify is "
				     "'maybe', not true or false");
	assert_int_equal(try_open("https://127.0.0.1:1/sdk", bad_ep, 3, &err), -1);
	assert_string_equal(err.msg, "vsphere provider ns/vc: sdkEndpoint is 'vpx', not vcenter "
				     "or esxi");
	/* nothing listens on port 1: a transient error */
	ferry_err_clear(&err);
	assert_int_equal(try_open("https://127.0.0.1:1", up, 2, &err), -1);
	assert_int_equal(err.code, FERRY_E_RETRYABLE);
	assert_non_null(strstr(err.msg, "RetrieveServiceContent"));
}

/* A Host entry is checked when the provider opens, before any network:
 * the message names the Host, never a secret. */
static void test_open_host_errors(void **state)
{
	static const struct {
		const char *id, *ip, *user, *password, *thumbprint, *want;
	} cases[] = {
		{"host-21", "10.0.0.21", "root", NULL, NULL, "its secret has no password"},
		{"host-21", "10.0.0.21", "", "s3cret", NULL, "its secret has no user"},
		{"host-21", NULL, "root", "s3cret", NULL, "no ipAddress"},
		{NULL, "10.0.0.21", "root", "s3cret", NULL,
		 "neither spec.id nor spec.name names the ESXi host"},
		{"host-21", "10.0.0.21", "root", "s3cret", "12:34",
		 "the secret's thumbprint is not a SHA-1 or SHA-256 fingerprint"},
	};
	char *pkeys[] = {"user", "password"}, *pvals[] = {"u", "p"};
	struct ferry_source_config cfg = {.ns = "mig",
					  .name = "vc",
					  .type = "vsphere",
					  .url = "https://127.0.0.1:1/sdk",
					  .secret = {pkeys, pvals, 2}};
	const struct ferry_source_ops *ops = &ferry_vsphere_source_ops;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *keys[] = {"user", "password", "thumbprint"};
		char *vals[] = {(char *)(uintptr_t)cases[i].user,
				(char *)(uintptr_t)cases[i].password,
				(char *)(uintptr_t)cases[i].thumbprint};
		struct ferry_source_host h = {"mig", "esx21",	  cases[i].id,
					      NULL,  cases[i].ip, {keys, vals, 3}};
		struct ferry_err err = FERRY_ERR_INIT;
		struct ferry_source *s = NULL;
		char *want = ferry_xasprintf("vsphere provider mig/vc: Host mig/esx21: %s",
					     cases[i].want);

		cfg.hosts = &h;
		cfg.nhosts = 1;
		assert_int_equal(ops->open(&s, &cfg, &err), -1);
		assert_null(s);
		assert_int_equal(err.code, FERRY_E_INVALID);
		if (!ferry_starts_with(err.msg, want))
			fail_msg("case %zu: %s", i, err.msg);
		assert_null(strstr(err.msg, "s3cret"));
		free(want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),	    cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_faults),	    cmocka_unit_test(test_fault_obj),
		cmocka_unit_test(test_bad_replies), cmocka_unit_test(test_good_reply),
		cmocka_unit_test(test_fault_codes), cmocka_unit_test(test_task_info),
		cmocka_unit_test(test_thumbprints), cmocka_unit_test(test_inventory),
		cmocka_unit_test(test_updates),	    cmocka_unit_test(test_folder_url),
		cmocka_unit_test(test_vddk_argv),   cmocka_unit_test(test_vddk_argv_host),
		cmocka_unit_test(test_curl_argv),   cmocka_unit_test(test_qcda),
		cmocka_unit_test(test_open_errors), cmocka_unit_test(test_open_host_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
