/* providers/local: the local target driver and the target registry.
 * FERRY_GOLDEN_UPDATE=1 rewrites the golden manifests from the actual output
 * (review the diff before committing it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/util.h"
#include "providers/target.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA FERRY_TEST_DATA "/local"
#define GIB  (UINT64_C(1) << 30)

struct fx {
	char root[64]; /* the temporary directory */
	char *dir;     /* root/out: the target's dir, created by open */
	const struct ferry_target_ops *ops;
	struct ferry_target *t;
};

static int setup(void **state)
{
	struct fx *fx = ferry_xcalloc(1, sizeof *fx);
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_config cfg = {.type = "local"};

	snprintf(fx->root, sizeof fx->root, "/tmp/ferry-local-XXXXXX");
	if (!mkdtemp(fx->root))
		return -1;
	fx->dir = ferry_xasprintf("%s/out/sub", fx->root);
	cfg.dir = fx->dir;
	fx->ops = ferry_target_driver("local", &err);
	if (!fx->ops || fx->ops->open(&fx->t, &cfg, &err))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	fx->ops->close(fx->t);
	ferry_rmtree(fx->root);
	free(fx->dir);
	free(fx);
	return 0;
}

static char *slurp(const char *path)
{
	char *data = NULL;
	size_t len;

	if (ferry_read_file(path, 1 << 20, &data, &len))
		return NULL;
	return data;
}

static char *manifest_path(const struct fx *fx, const char *ns, const char *name)
{
	return ferry_xasprintf("%s/%s/%s/virtualmachine.yaml", fx->dir, ns, name);
}

/* vm_create, then the manifest it wrote (caller frees). */
static char *render(struct fx *fx, const struct ferry_target_vm *vm)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *path, *text;

	if (fx->ops->vm_create(fx->t, vm, &err)) {
		fail_msg("vm_create: %s", err.msg);
		return NULL;
	}
	path = manifest_path(fx, vm->ns, vm->name);
	text = slurp(path);
	assert_non_null(text);
	free(path);
	return text;
}

static void check_golden(const char *actual, const char *name)
{
	char *path = ferry_xasprintf("%s/%s", DATA, name);
	char *want;

	if (getenv("FERRY_GOLDEN_UPDATE") && !strcmp(getenv("FERRY_GOLDEN_UPDATE"), "1"))
		assert_int_equal(ferry_write_file_atomic(path, actual, strlen(actual), 0644), 0);
	want = slurp(path);
	assert_non_null(want);
	if (strcmp(want, actual))
		print_message("---- want (%s)\n%s---- got\n%s----\n", path, want, actual);
	assert_string_equal(want, actual);
	free(want);
	free(path);
}

/* ---- fixtures ---------------------------------------------------------- */

static const struct ferry_target_disk web_disks[] = {
	{"web-01-disk-0", 10 * GIB, "fast", "Block", "ReadWriteOnce", "virtio"},
	{"web-01-disk-1", 2 * GIB, NULL, NULL, NULL, "sata"},
};
static const struct ferry_target_nic web_nics[] = {
	{"net-0", "pod", NULL, "00:50:56:aa:bb:01", "virtio"},
	{"net-1", "multus", "prod/vlan-10", NULL, "e1000e"},
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

static struct ferry_target_vm web_vm(void)
{
	struct ferry_target_vm vm = {
		.ns = "prod",
		.name = "web-01",
		.plan_ns = "migrations",
		.plan_name = "wave-1",
		.source_vm_id = "vm-42",
		.source_vm_name = "Web 01 \"legacy\": front",
		.cpus = 4,
		.cores_per_socket = 2,
		.memory_bytes = 4 * GIB,
		.firmware = "bios",
		.running = true,
		.disks = web_disks,
		.ndisks = 2,
		.nics = web_nics,
		.nnics = 2,
		.labels = web_labels,
		.nlabels = 3,
		.node_selector = web_selector,
		.nnode_selector = 2,
	};
	return vm;
}

static const struct ferry_target_disk win_disks[] = {
	{"win-2019-disk-0", 40 * GIB, NULL, NULL, NULL, "virtio"},
};
static const struct ferry_target_nic win_nics[] = {
	{"net-0", "pod", NULL, NULL, NULL},
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
		.cpus = 4,
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

/* ---- open and the registry --------------------------------------------- */

static void test_open(void **state)
{
	struct fx *fx = *state;
	struct ferry_target_config cfg = {.type = "local"};
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target *t = (struct ferry_target *)1;
	struct stat st;

	assert_int_equal(fx->ops->open(&t, &cfg, &err), -1);
	assert_null(t);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_string_equal(err.msg, "[target] dir is not set");

	/* setup's open made root/out/sub, 0755 */
	assert_int_equal(stat(fx->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0755); /* main sets umask 022 */
}

static void test_registry(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	const struct ferry_target_ops *ops;
	(void)state;

	ops = ferry_target_driver("local", &err);
	assert_non_null(ops);
	assert_string_equal(ops->type, "local");
	assert_non_null(ops->open);
	assert_non_null(ops->disk_create);
	assert_non_null(ops->vm_create);
	assert_non_null(ops->vm_exists);
	assert_non_null(ops->vm_delete);
	assert_non_null(ops->close);

	/* kubevirt and openshift: one driver (providers/kubevirt/target.c) */
	ops = ferry_target_driver("kubevirt", &err);
	assert_non_null(ops);
	assert_string_equal(ops->type, "kubevirt");
	assert_ptr_equal(ferry_target_driver("openshift", &err), ops);

	assert_null(ferry_target_driver("vmware", &err));
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_string_equal(
		err.msg, "unknown target type 'vmware' (known types: kubevirt, local, openshift)");
	assert_null(ferry_target_driver("lcoal", &err));
	assert_string_equal(err.msg, "unknown target type 'lcoal'; did you mean 'local'? (known "
				     "types: kubevirt, local, openshift)");
	assert_null(ferry_target_driver("Local", &err)); /* types are case-sensitive */
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_null(ferry_target_driver(NULL, &err));
	assert_string_equal(err.msg, "target type is not set (known types: kubevirt, local, "
				     "openshift)");
}

/* ---- manifests ------------------------------------------------------------ */

static void test_golden_bios(void **state)
{
	struct ferry_target_vm vm = web_vm();
	char *text = render(*state, &vm);

	check_golden(text, "bios.yaml");
	free(text);
}

static void test_golden_efi_secure_boot(void **state)
{
	struct ferry_target_vm vm = win_vm();
	char *text = render(*state, &vm);

	check_golden(text, "efi-secureboot.yaml");
	free(text);
}

/* Scalars a YAML parser would read as numbers, booleans or sexagesimals
 * unless quoted; integration.local-manifest has kubectl read this file. */
static void test_golden_quoting(void **state)
{
	static const struct ferry_target_disk disks[] = {
		{"0123.disk", GIB, NULL, NULL, NULL, NULL},
	};
	static const struct ferry_target_nic nics[] = {
		{"net-0", "multus", "0123/1e3", "52:54:00:12:34:56", NULL},
		{"on", "pod", NULL, NULL, "virtio"},
	};
	static const struct ferry_target_label labels[] = {
		{"yes", "no"},
		{"example.com/n", "1e3"},
		{"example.com/empty", ""},
		{"z", "0x1F"},
	};
	static const struct ferry_target_label selector[] = {{"on", "off"}};
	struct ferry_target_vm vm = {
		.ns = "0123",
		.name = "1",
		.plan_ns = "007",
		.plan_name = "1",
		.source_vm_id = "12345",
		.source_vm_name = "caf\xc3\xa9: \"x\" #1\n\tline2 \x7f~",
		.cpus = 1,
		.memory_bytes = UINT64_C(1) << 20,
		.firmware = "efi",
		.disks = disks,
		.ndisks = 1,
		.nics = nics,
		.nnics = 2,
		.labels = labels,
		.nlabels = 4,
		.node_selector = selector,
		.nnode_selector = 1,
	};
	char *text = render(*state, &vm);

	check_golden(text, "quoting.yaml");
	free(text);
}

static void test_efi_without_secure_boot(void **state)
{
	struct ferry_target_vm vm = win_vm();
	char *text;

	vm.secure_boot = false;
	text = render(*state, &vm);
	/* KubeVirt's default for efi.secureBoot is true: false must be said */
	assert_non_null(strstr(text, "            efi:\n              secureBoot: false\n"));
	assert_null(strstr(text, "smm"));
	assert_null(strstr(text, "features"));
	free(text);
}

static void test_ignored_nic(void **state)
{
	static const struct ferry_target_nic nics[] = {
		{"net-0", "ignored", NULL, "00:50:56:00:00:01", "e1000"},
		{"net-1", "pod", NULL, NULL, "virtio"},
		{"net-0", "ignored", NULL, NULL, NULL}, /* ignored ones may share a name */
		{NULL, "ignored", NULL, NULL, NULL},	/* or have none */
	};
	struct ferry_target_vm vm = web_vm();
	char *text;

	vm.nics = nics;
	vm.nnics = 4;
	text = render(*state, &vm);
	assert_non_null(strstr(text, "          interfaces:\n"
				     "            - name: net-1\n"
				     "              model: virtio\n"
				     "              masquerade: {}\n"
				     "      networks:\n"
				     "        - name: net-1\n"
				     "          pod: {}\n"
				     "      volumes:\n"));
	assert_null(strstr(text, "net-0"));
	assert_null(strstr(text, "00:50:56:00:00:01"));
	assert_null(strstr(text, "e1000"));
	free(text);

	/* only ignored NICs: no interfaces and no networks at all */
	vm.nics = nics;
	vm.nnics = 1;
	text = render(*state, &vm);
	assert_null(strstr(text, "interfaces"));
	assert_null(strstr(text, "networks"));
	assert_null(strstr(text, "net-0"));
	free(text);
}

static void test_topology_and_memory(void **state)
{
	static const struct {
		unsigned cpus, cps;
		uint64_t mem;
		const char *want;
	} cases[] = {
		{8, 2, GIB,
		 "sockets: 4\n          cores: 2\n          threads: 1\n"
		 "        memory:\n          guest: \"1024Mi\"\n"},
		{6, 4, GIB + 1,
		 "sockets: 1\n          cores: 6\n          threads: 1\n"
		 "        memory:\n          guest: \"1025Mi\"\n"},
		{1, 0, 512 << 20,
		 "sockets: 1\n          cores: 1\n          threads: 1\n"
		 "        memory:\n          guest: \"512Mi\"\n"},
		{2, 4, 3 * GIB / 2,
		 "sockets: 1\n          cores: 2\n          threads: 1\n"
		 "        memory:\n          guest: \"1536Mi\"\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct ferry_target_vm vm = web_vm();
		char *text;

		vm.cpus = cases[i].cpus;
		vm.cores_per_socket = cases[i].cps;
		vm.memory_bytes = cases[i].mem;
		text = render(*state, &vm);
		if (!strstr(text, cases[i].want))
			fail_msg("case %zu: want\n%s\nin\n%s", i, cases[i].want, text);
		free(text);
	}
}

static void test_quoting(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain-name_1.x", "plain-name_1.x"},
		{"on", "\"on\""},
		{"No", "\"No\""},
		{"null", "\"null\""},
		{"0123", "\"0123\""},
		{"1e3", "\"1e3\""},
		{"", "\"\""},
		{"-x", "\"-x\""},
		{"a: b # c", "\"a: b # c\""},
		{"two\nlines\tand\\", "\"two\\nlines\\tand\\\\\""},
		{"caf\xc3\xa9", "\"caf\xc3\xa9\""},
		{"bad \xff\xc3", "\"bad \\uFFFD\\uFFFD\""},
		{"bell\a del\x7f", "\"bell\\x07 del\\x7F\""},
		{"c1 \xc2\x80 bom \xef\xbb\xbf", "\"c1 \\x80 bom \\uFEFF\""},
		{"emoji \xf0\x9f\x9a\xa2", "\"emoji \xf0\x9f\x9a\xa2\""},
		{"overlong \xc0\xaf", "\"overlong \\uFFFD\\uFFFD\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct ferry_target_vm vm = web_vm();
		char *want = ferry_xasprintf("    ferry.dev/source-vm-name: %s\n", cases[i].out);
		char *text;

		vm.source_vm_name = cases[i].in;
		text = render(*state, &vm);
		if (!strstr(text, want))
			fail_msg("case %zu: want\n%s\nin\n%s", i, want, text);
		free(text);
		free(want);
	}
}

static void test_vm_id_label(void **state)
{
	static const struct {
		const char *id, *want;
	} cases[] = {
		{"vm-42", "vm-42"},
		{"Vm_42.x", "Vm_42.x"},
		/* hashes: FNV-1a 32 of the id, computed independently */
		{"vm/42", "vm-42-b688971f"},
		{"vm:42", "vm-42-41f76530"},
		{"/only/", "only-1519cf05"},
		{"///", "\"1d37d324\""},
		{"a123456789b123456789c123456789d123456789e123456789f123456789g123",
		 "a123456789b123456789c123456789d123456789e123456789f123-170524d1"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct ferry_target_vm vm = web_vm();
		char *want = ferry_xasprintf("    ferry.dev/vm-id: %s\n", cases[i].want);
		char *text;

		vm.source_vm_id = cases[i].id;
		text = render(*state, &vm);
		if (!strstr(text, want))
			fail_msg("case %zu: want\n%s\nin\n%s", i, want, text);
		free(text);
		free(want);
	}
}

static void test_vm_create_idempotent(void **state)
{
	struct fx *fx = *state;
	struct ferry_target_vm vm = web_vm();
	struct stat a, b;
	char *path = manifest_path(fx, "prod", "web-01");
	char *text;

	free(render(fx, &vm));
	assert_int_equal(stat(path, &a), 0);
	assert_int_equal(a.st_mode & 0777, 0644);
	free(render(fx, &vm));
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino); /* not rewritten */

	vm.running = false; /* a changed VM replaces the manifest */
	text = render(fx, &vm);
	assert_non_null(strstr(text, "  runStrategy: Halted\n"));
	assert_null(strstr(text, "Always"));
	free(text);
	free(path);
}

static void test_bad_vm(void **state)
{
	static const struct ferry_target_nic two_pods[] = {
		{"net-0", "pod", NULL, NULL, NULL},
		{"net-1", "pod", NULL, NULL, NULL},
	};
	static const struct ferry_target_nic dup[] = {
		{"net-0", "pod", NULL, NULL, NULL},
		{"net-0", "multus", "a/b", NULL, NULL},
	};
	static const struct ferry_target_nic bad_multus[] = {
		{"net-0", "multus", "no-namespace", NULL, NULL},
	};
	static const struct ferry_target_nic bad_type[] = {
		{"net-0", "bridge", NULL, NULL, NULL},
	};
	static const struct ferry_target_label bad_key[] = {{"-bad", "x"}};
	static const struct ferry_target_label bad_value[] = {{"ok", "has space"}};
	static const struct ferry_target_label bad_prefix[] = {{"Ex.com/x", "v"}};
	struct fx *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_vm vm;

#define REJECT(field_edit, text)                                                                   \
	do {                                                                                       \
		vm = web_vm();                                                                     \
		field_edit;                                                                        \
		ferry_err_clear(&err);                                                             \
		assert_int_equal(fx->ops->vm_create(fx->t, &vm, &err), -1);                        \
		assert_int_equal(err.code, FERRY_E_INVALID);                                       \
		if (!strstr(err.msg, text))                                                        \
			fail_msg("want \"%s\" in \"%s\"", text, err.msg);                          \
	} while (0)

	REJECT(vm.nics = two_pods, "more than one interface on the pod network");
	REJECT(vm.nics = dup, "two interfaces named net-0");
	REJECT((vm.nics = bad_multus, vm.nnics = 1), "needs \"namespace/name\"");
	REJECT((vm.nics = bad_type, vm.nnics = 1), "type \"bridge\"");
	REJECT((vm.labels = bad_key, vm.nlabels = 1), "label key \"-bad\" is not valid");
	REJECT((vm.labels = bad_value, vm.nlabels = 1), "label ok: value \"has space\"");
	REJECT((vm.labels = bad_prefix, vm.nlabels = 1), "label key \"Ex.com/x\"");
	REJECT((vm.node_selector = bad_key, vm.nnode_selector = 1), "node selector key");
	REJECT(vm.cpus = 0, "has no CPUs");
	REJECT(vm.memory_bytes = 0, "memory of 0 bytes");
	REJECT(vm.firmware = "uefi", "firmware \"uefi\"");
#undef REJECT
	vm = web_vm(); /* and the unedited VM passes */
	assert_int_equal(fx->ops->vm_create(fx->t, &vm, &err), 0);
}

static void test_bad_names(void **state)
{
	static const char *const bad[] = {"../x", "A_B", "..", ".", "a/b", "", "-a", "x."};
	struct fx *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct stat st;
	char *uri = NULL;
	bool exists;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct ferry_target_vm vm = web_vm();
		struct ferry_target_disk disk = web_disks[0];
		char *msg;

		vm.ns = bad[i];
		assert_int_equal(fx->ops->disk_create(fx->t, &vm, 0, &uri, &err), -1);
		assert_null(uri);
		assert_int_equal(err.code, FERRY_E_INVALID);
		msg = ferry_xasprintf("namespace \"%s\" is not valid: name ", bad[i]);
		assert_non_null(strstr(err.msg, msg));
		free(msg);
		assert_int_equal(fx->ops->vm_create(fx->t, &vm, &err), -1);
		assert_int_equal(fx->ops->vm_exists(fx->t, bad[i], "web-01", &exists, NULL, &err),
				 -1);
		assert_int_equal(fx->ops->vm_delete(fx->t, bad[i], "web-01", &err), -1);
		assert_int_equal(err.code, FERRY_E_INVALID);

		vm = web_vm();
		vm.name = bad[i];
		assert_int_equal(fx->ops->disk_create(fx->t, &vm, 0, &uri, &err), -1);
		assert_non_null(strstr(err.msg, "VM name \""));
		assert_int_equal(fx->ops->vm_create(fx->t, &vm, &err), -1);
		assert_int_equal(fx->ops->vm_exists(fx->t, "prod", bad[i], &exists, NULL, &err),
				 -1);
		assert_int_equal(fx->ops->vm_delete(fx->t, "prod", bad[i], &err), -1);
		assert_int_equal(err.code, FERRY_E_INVALID);

		vm = web_vm();
		disk.name = bad[i];
		vm.disks = &disk;
		vm.ndisks = 1;
		assert_int_equal(fx->ops->disk_create(fx->t, &vm, 0, &uri, &err), -1);
		assert_int_equal(err.code, FERRY_E_INVALID);
		assert_non_null(strstr(err.msg, "disk name \""));
		assert_int_equal(fx->ops->vm_create(fx->t, &vm, &err), -1);
		assert_int_equal(err.code, FERRY_E_INVALID);
	}
	/* a 64-character VM name is too long for a label */
	assert_int_equal(
		fx->ops->vm_delete(fx->t, "prod",
				   "a123456789b123456789c123456789d123456789e123456789f12345"
				   "6789g123",
				   &err),
		-1);
	assert_non_null(strstr(err.msg, "at most 63 characters"));

	/* nothing was made: not even the namespace directories */
	char *p = ferry_xasprintf("%s/prod", fx->dir);
	assert_int_equal(stat(p, &st), -1);
	free(p);
	p = ferry_xasprintf("%s/out/x", fx->root);
	assert_int_equal(stat(p, &st), -1);
	free(p);
}

/* ---- disks ---------------------------------------------------------------- */

static void test_disk_create_idempotent(void **state)
{
	struct fx *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_vm vm = web_vm();
	struct ferry_target_disk disks[2] = {web_disks[0], web_disks[1]};
	char *uri = NULL, *uri2 = NULL, *want, buf[6] = {0};
	struct stat st;
	int fd;

	vm.disks = disks;
	assert_int_equal(fx->ops->disk_create(fx->t, &vm, 1, &uri, &err), 0);
	want = ferry_xasprintf("%s/prod/web-01/web-01-disk-1.img", fx->dir);
	assert_string_equal(uri, want);
	assert_true(uri[0] == '/');
	assert_int_equal(stat(uri, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal((uint64_t)st.st_size, 2 * GIB);

	fd = open(uri, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "hello", 5, 1 << 20), 5);
	close(fd);

	/* again: the same file, its content kept */
	assert_int_equal(fx->ops->disk_create(fx->t, &vm, 1, &uri2, &err), 0);
	assert_string_equal(uri2, want);
	free(uri2);
	uri2 = NULL;
	fd = open(uri, O_RDONLY);
	assert_int_equal(pread(fd, buf, 5, 1 << 20), 5);
	close(fd);
	assert_string_equal(buf, "hello");

	/* another size: a conflict naming both, and the file untouched */
	disks[1].size = 3 * GIB;
	assert_int_equal(fx->ops->disk_create(fx->t, &vm, 1, &uri2, &err), -1);
	assert_null(uri2);
	assert_int_equal(err.code, FERRY_E_CONFLICT);
	assert_non_null(strstr(err.msg, "2147483648"));
	assert_non_null(strstr(err.msg, "3221225472"));
	assert_non_null(strstr(err.msg, "web-01-disk-1.img"));
	assert_int_equal(stat(uri, &st), 0);
	assert_int_equal((uint64_t)st.st_size, 2 * GIB);

	/* no temporary files left behind */
	char *tmpglob = ferry_xasprintf("%s/prod/web-01", fx->dir);
	struct stat d;
	assert_int_equal(stat(tmpglob, &d), 0);
	assert_int_equal(d.st_nlink, 2); /* a directory with no subdirectories */
	free(tmpglob);

	/* out of range index and a zero size */
	assert_int_equal(fx->ops->disk_create(fx->t, &vm, 2, &uri2, &err), -1);
	disks[0].size = 0;
	assert_int_equal(fx->ops->disk_create(fx->t, &vm, 0, &uri2, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_null(uri2);

	free(want);
	free(uri);
}

static void test_disk_not_a_file(void **state)
{
	struct fx *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_vm vm = web_vm();
	char *uri = NULL;
	char *p = ferry_xasprintf("%s/prod/web-01/web-01-disk-0.img", fx->dir);

	assert_int_equal(ferry_mkdirs(p, 0755), 0); /* a directory where the image goes */
	assert_int_equal(fx->ops->disk_create(fx->t, &vm, 0, &uri, &err), -1);
	assert_int_equal(err.code, FERRY_E_CONFLICT);
	assert_non_null(strstr(err.msg, "not a regular file"));
	free(p);
}

static void test_disk_sparse(void **state)
{
	struct fx *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_vm vm = web_vm();
	struct ferry_target_disk disk = {"big", GIB, NULL, NULL, NULL, "virtio"};
	char *uri = NULL;
	struct stat st;

	vm.disks = &disk;
	vm.ndisks = 1;
	assert_int_equal(fx->ops->disk_create(fx->t, &vm, 0, &uri, &err), 0);
	assert_int_equal(stat(uri, &st), 0);
	assert_int_equal((uint64_t)st.st_size, GIB);
	assert_true((uint64_t)st.st_blocks * 512 < (UINT64_C(1) << 20));
	free(uri);
}

/* The digest vm_exists gives is the manifest's SHA-256 now: an edit in
 * place of the same size shows, however often it is asked (the target
 * keeps digests between calls and must notice the file changed). */
static void test_digest(void **state)
{
	struct fx *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_vm vm = web_vm();
	char made[FERRY_TARGET_DIGEST], again[FERRY_TARGET_DIGEST], now[FERRY_TARGET_DIGEST];
	char *text = render(fx, &vm), *path = manifest_path(fx, "prod", "web-01");
	bool exists = false;
	struct stat before;
	struct timespec times[2];
	FILE *f;

	assert_int_equal(fx->ops->vm_exists(fx->t, "prod", "web-01", &exists, made, &err), 0);
	assert_true(exists);
	assert_int_equal(strlen(made), 64);
	assert_int_equal(fx->ops->vm_exists(fx->t, "prod", "web-01", &exists, again, &err), 0);
	assert_string_equal(again, made);
	/* one byte changed in place, same size, modification time put back */
	assert_int_equal(stat(path, &before), 0);
	f = fopen(path, "r+");
	assert_non_null(f);
	assert_int_equal(fputc(text[0] == 'a' ? 'b' : 'a', f), text[0] == 'a' ? 'b' : 'a');
	assert_int_equal(fclose(f), 0);
	times[0] = before.st_atim;
	times[1] = before.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	assert_int_equal(fx->ops->vm_exists(fx->t, "prod", "web-01", &exists, now, &err), 0);
	assert_string_not_equal(now, made);
	/* a NULL digest asks for existence only */
	assert_int_equal(fx->ops->vm_exists(fx->t, "prod", "web-01", &exists, NULL, &err), 0);
	assert_true(exists);
	free(path);
	free(text);
}

/* ---- exists and delete ------------------------------------------------------ */

static void test_delete(void **state)
{
	struct fx *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_vm vm = web_vm();
	struct ferry_target_vm other = win_vm();
	char *uri = NULL, *vmdir;
	bool exists = true;
	struct stat st;

	assert_int_equal(fx->ops->vm_exists(fx->t, "prod", "web-01", &exists, NULL, &err), 0);
	assert_false(exists);
	assert_int_equal(fx->ops->disk_create(fx->t, &vm, 0, &uri, &err), 0);
	free(uri);
	/* disks alone are not a VM */
	assert_int_equal(fx->ops->vm_exists(fx->t, "prod", "web-01", &exists, NULL, &err), 0);
	assert_false(exists);
	free(render(fx, &vm));
	free(render(fx, &other));
	assert_int_equal(fx->ops->vm_exists(fx->t, "prod", "web-01", &exists, NULL, &err), 0);
	assert_true(exists);
	assert_int_equal(fx->ops->vm_exists(fx->t, "staging", "web-01", &exists, NULL, &err), 0);
	assert_false(exists);

	assert_int_equal(fx->ops->vm_delete(fx->t, "prod", "web-01", &err), 0);
	assert_int_equal(fx->ops->vm_exists(fx->t, "prod", "web-01", &exists, NULL, &err), 0);
	assert_false(exists);
	vmdir = ferry_xasprintf("%s/prod/web-01", fx->dir);
	assert_int_equal(stat(vmdir, &st), -1); /* disks gone too */
	free(vmdir);
	/* absent is fine, and the other VM is untouched */
	assert_int_equal(fx->ops->vm_delete(fx->t, "prod", "web-01", &err), 0);
	assert_int_equal(fx->ops->vm_delete(fx->t, "nowhere", "web-01", &err), 0);
	assert_int_equal(fx->ops->vm_exists(fx->t, "prod", "win-2019", &exists, NULL, &err), 0);
	assert_true(exists);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test(test_registry),
		cmocka_unit_test_setup_teardown(test_golden_bios, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_efi_secure_boot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_efi_without_secure_boot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignored_nic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topology_and_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_id_label, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_create_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_vm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_create_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_not_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_sparse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
	};
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
