/* The ova source driver against real files and a real qemu-nbd.
 *
 *   ova_test quickstart SHARE FERRY WORK   the share make-ova.sh made: every
 *                                          field, then every disk copied
 *   ova_test copy-all SHARE FERRY WORK N   N VMs, no finding, every disk copied
 *   ova_test finding SHARE ID WORK         a finding ID; disks that can be
 *                                          opened are, the others fail cleanly
 *   ova_test disks SHARE WORK              each disk opened: "VM I ok SIZE" or
 *                                          "VM I error CODE" on stdout
 *
 * Copies go through `ferry copy URI FILE` and are compared with SHARE/sums.txt
 * (SHA-256 of each disk's raw content, by disk file name). After every
 * disk_close and after close, this process must have no child left.
 */
#include "providers/driver.h"

#include "common/alloc.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || strcmp(a_, b_) != 0) {                                                  \
			fprintf(stderr, "%s:%d: %s is '%s', expected '%s'\n", __FILE__, __LINE__,  \
				#a, a_ ? a_ : "(null)", b_);                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static const char *ferry_bin, *work_dir;

/* Children of this process, from /proc: qemu-nbd servers left behind. */
static int children(bool report)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], buf[512], *p;
		FILE *fp;
		long ppid;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if (!(fp = fopen(path, "r")))
			continue;
		if (fgets(buf, sizeof buf, fp) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == (long)getpid()) {
			if (report)
				fprintf(stderr, "child process left: %s", buf);
			n++;
		}
		fclose(fp);
	}
	closedir(d);
	return n;
}

static struct ferry_source *open_share(const char *share, const struct ferry_source_ops **ops)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_config cfg = {.ns = "test",
					  .name = "ova-test",
					  .type = "ova",
					  .url = share,
					  .work_dir = work_dir};
	struct ferry_source *s = NULL;

	*ops = ferry_source_driver("ova", &err);
	if (!*ops || (*ops)->open(&s, &cfg, &err)) {
		fprintf(stderr, "open %s: %s\n", share, err.msg);
		exit(1);
	}
	return s;
}

static void list(const struct ferry_source_ops *ops, struct ferry_source *s,
		 struct ferry_inventory *inv, struct ferry_findings *f)
{
	struct ferry_err err = FERRY_ERR_INIT;

	if (ops->inventory(s, inv, f, &err)) {
		fprintf(stderr, "inventory: %s\n", err.msg);
		exit(1);
	}
	for (size_t i = 0; i < f->len; i++)
		fprintf(stderr, "finding %s [%s] %s:%d: %s\n",
			ferry_category_name(f->items[i].category), f->items[i].id,
			f->items[i].file ? f->items[i].file : "", f->items[i].line,
			f->items[i].message);
}

/* The SHA-256 sums.txt gives for the disk file `file`. */
static char *expected_sum(const char *share, const char *file)
{
	char *path = ferry_path_join(share, "sums.txt"), line[512], *ret = NULL;
	FILE *fp = fopen(path, "r");

	free(path);
	while (fp && !ret && fgets(line, sizeof line, fp)) {
		char sum[65], name[400];
		if (sscanf(line, "%64s %399s", sum, name) == 2 && strcmp(name, file) == 0)
			ret = ferry_xstrdup(sum);
	}
	if (fp)
		fclose(fp);
	return ret;
}

static char *file_sha256(const char *path)
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[1 << 16];
	unsigned mdlen = 0;
	char *hex;
	size_t n;
	FILE *fp = fopen(path, "rb");
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!fp || !ctx)
		abort();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	fclose(fp);
	hex = ferry_xmalloc(2 * mdlen + 1);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

static int run_copy(const char *uri, const char *out)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		execl(ferry_bin, ferry_bin, "copy", uri, out, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Serve disk i of vm, copy it with ferry copy, compare with sums.txt. */
static void copy_disk(const struct ferry_source_ops *ops, struct ferry_source *s, const char *share,
		      const struct ferry_vm *vm, size_t i)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_disk_access a;
	const struct ferry_vm_disk *d = &vm->disks[i];
	char *out = ferry_xasprintf("%s/copy-%s-%zu.raw", work_dir, vm->name, i);
	char *want = expected_sum(share, d->file), *got;

	if (ops->disk_open(s, vm, i, &a, &err)) {
		fprintf(stderr, "disk_open %s/%zu: %s\n", vm->name, i, err.msg);
		failures++;
		goto out;
	}
	CHECK(ferry_starts_with(a.uri, "nbd+unix:///?socket="));
	CHECK(a.size == d->capacity);
	unlink(out);
	if (run_copy(a.uri, out) != 0) {
		fprintf(stderr, "ferry copy %s %s failed\n", a.uri, out);
		failures++;
	} else {
		got = file_sha256(out);
		fprintf(stderr, "%s disk %zu (%s): %s\n", vm->name, i, d->file, got);
		if (!want || strcmp(want, got) != 0) {
			fprintf(stderr, "  expected %s\n", want ? want : "(not in sums.txt)");
			failures++;
		}
		free(got);
	}
	ops->disk_close(s, &a);
	CHECK(a.uri == NULL && a.priv == NULL);
	CHECK(children(true) == 0);
	unlink(out);
out:
	free(want);
	free(out);
}

static void copy_all(const struct ferry_source_ops *ops, struct ferry_source *s, const char *share,
		     const struct ferry_inventory *inv)
{
	for (size_t v = 0; v < inv->nvms; v++)
		for (size_t i = 0; i < inv->vms[v].ndisks; i++)
			copy_disk(ops, s, share, &inv->vms[v], i);
}

/* Two disks served at once, then close() without disk_close: close stops
 * both servers. */
static void close_stops_servers(const char *share)
{
	const struct ferry_source_ops *ops;
	struct ferry_source *s = open_share(share, &ops);
	struct ferry_inventory inv = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_disk_access a[2];
	struct ferry_err err = FERRY_ERR_INIT;
	const struct ferry_vm *vm;

	list(ops, s, &inv, &f);
	vm = ferry_inventory_find(&inv, NULL, "tiny-linux");
	CHECK(vm && vm->ndisks == 2);
	if (vm && vm->ndisks == 2) {
		CHECK(ops->disk_open(s, vm, 0, &a[0], &err) == 0);
		CHECK(ops->disk_open(s, vm, 1, &a[1], &err) == 0);
		CHECK(children(false) == 2);
		free(a[0].uri);
		free(a[1].uri);
	}
	ops->close(s);
	CHECK(children(true) == 0);
	ferry_inventory_release(&inv);
	ferry_findings_release(&f);
}

static void check_quickstart_vms(const struct ferry_inventory *inv)
{
	const struct ferry_vm *efi, *lin;
	const char *storage = "Dummy storage for source provider ova-test";

	CHECK(inv->nvms == 2);
	if (inv->nvms != 2)
		return;
	efi = &inv->vms[0];
	lin = &inv->vms[1];
	CHECK_STR(efi->name, "tiny-efi");
	CHECK_STR(lin->name, "tiny-linux");
	CHECK(strlen(efi->id) == 36 && efi->id[14] == '8' && strcmp(efi->id, lin->id) != 0);
	CHECK(ferry_inventory_find(inv, efi->id, NULL) == efi);
	CHECK(ferry_inventory_find(inv, NULL, "tiny-linux") == lin);
	CHECK(ferry_ends_with(lin->source, "/tiny-linux.ova"));

	CHECK(efi->cpus == 2 && efi->cores_per_socket == 2);
	CHECK(efi->memory_bytes == 2048ull << 20);
	CHECK_STR(efi->firmware, "efi");
	CHECK(efi->secure_boot);
	CHECK_STR(efi->power_state, "Off");
	CHECK_STR(efi->os_type, "windows2019srv_64Guest");
	CHECK_STR(efi->export_source, "VMware");
	CHECK(efi->ndisks == 1);
	if (efi->ndisks == 1) {
		CHECK_STR(efi->disks[0].id, "vmdisk1");
		CHECK_STR(efi->disks[0].file, "tiny-efi-disk1.vmdk");
		CHECK_STR(efi->disks[0].format, "vmdk-stream");
		CHECK(efi->disks[0].capacity == 40ull << 20);
		CHECK_STR(efi->disks[0].storage, storage);
		CHECK_STR(efi->disks[0].bus, "sata");
		CHECK(!efi->disks[0].shared);
	}
	CHECK(efi->nnics == 1);
	if (efi->nnics == 1) {
		CHECK_STR(efi->nics[0].name, "Network adapter 1");
		CHECK_STR(efi->nics[0].network, "VM Network");
		CHECK_STR(efi->nics[0].mac, "00:50:56:a1:00:02");
		CHECK_STR(efi->nics[0].model, "e1000e");
	}

	CHECK(lin->cpus == 2 && lin->cores_per_socket == 1);
	CHECK(lin->memory_bytes == 1024ull << 20);
	CHECK_STR(lin->firmware, "bios");
	CHECK(!lin->secure_boot);
	CHECK_STR(lin->os_type, "debian11_64Guest");
	CHECK(lin->ndisks == 2);
	if (lin->ndisks == 2) {
		CHECK_STR(lin->disks[0].file, "tiny-linux-disk1.vmdk");
		CHECK(lin->disks[0].capacity == 64ull << 20);
		CHECK_STR(lin->disks[1].id, "vmdisk2");
		CHECK(lin->disks[1].capacity == 32ull << 20);
		CHECK_STR(lin->disks[1].bus, "scsi");
	}
	CHECK(lin->nnics == 1);
	if (lin->nnics == 1) {
		CHECK_STR(lin->nics[0].mac, "00:50:56:a1:00:01");
		CHECK_STR(lin->nics[0].model, "vmxnet3");
	}
	CHECK(inv->nnetworks == 1 && strcmp(inv->networks[0], "VM Network") == 0);
	CHECK(inv->nstorages == 1 && strcmp(inv->storages[0], storage) == 0);
}

static int quickstart(const char *share)
{
	const struct ferry_source_ops *ops;
	struct ferry_source *s = open_share(share, &ops);
	struct ferry_inventory inv = {0}, again = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;

	list(ops, s, &inv, &f);
	CHECK(f.len == 0);
	check_quickstart_vms(&inv);
	/* A second scan names everything the same. */
	list(ops, s, &again, &f);
	CHECK(again.nvms == inv.nvms);
	for (size_t i = 0; i < inv.nvms && i < again.nvms; i++)
		CHECK_STR(again.vms[i].id, inv.vms[i].id);
	copy_all(ops, s, share, &inv);
	ops->close(s);
	CHECK(children(true) == 0);
	ferry_inventory_release(&inv);
	ferry_inventory_release(&again);
	ferry_findings_release(&f);
	close_stops_servers(share);
	return failures ? 1 : 0;
}

static int copy_all_cmd(const char *share, size_t want)
{
	const struct ferry_source_ops *ops;
	struct ferry_source *s = open_share(share, &ops);
	struct ferry_inventory inv = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;

	list(ops, s, &inv, &f);
	CHECK(f.len == 0);
	CHECK(inv.nvms == want);
	for (size_t i = 0; i < inv.nvms; i++)
		fprintf(stderr, "VM %s %s from %s\n", inv.vms[i].id, inv.vms[i].name,
			inv.vms[i].source);
	copy_all(ops, s, share, &inv);
	ops->close(s);
	CHECK(children(true) == 0);
	ferry_inventory_release(&inv);
	ferry_findings_release(&f);
	return failures ? 1 : 0;
}

static int finding_cmd(const char *share, const char *id)
{
	const struct ferry_source_ops *ops;
	struct ferry_source *s = open_share(share, &ops);
	struct ferry_inventory inv = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	bool found = false;

	list(ops, s, &inv, &f);
	for (size_t i = 0; i < f.len; i++)
		found |= strcmp(f.items[i].id, id) == 0;
	if (!found) {
		fprintf(stderr, "no finding %s\n", id);
		failures++;
	}
	/* Whatever is listed: opening its disks works or fails with a message. */
	for (size_t v = 0; v < inv.nvms; v++) {
		for (size_t i = 0; i < inv.vms[v].ndisks; i++) {
			struct ferry_err err = FERRY_ERR_INIT;
			struct ferry_disk_access a;
			if (ops->disk_open(s, &inv.vms[v], i, &a, &err) == 0) {
				ops->disk_close(s, &a);
			} else {
				CHECK(err.code != FERRY_OK && err.msg[0]);
				fprintf(stderr, "disk_open %s/%zu: %s\n", inv.vms[v].name, i,
					err.msg);
			}
		}
	}
	ops->close(s);
	CHECK(children(true) == 0);
	ferry_inventory_release(&inv);
	ferry_findings_release(&f);
	return failures ? 1 : 0;
}

/* One line per disk, sorted as the inventory is: "VM I ok SIZE" or
 * "VM I error CODE". */
static int disks_cmd(const char *share)
{
	const struct ferry_source_ops *ops;
	struct ferry_source *s = open_share(share, &ops);
	struct ferry_inventory inv = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;

	list(ops, s, &inv, &f);
	for (size_t v = 0; v < inv.nvms; v++) {
		for (size_t i = 0; i < inv.vms[v].ndisks; i++) {
			struct ferry_err err = FERRY_ERR_INIT;
			struct ferry_disk_access a;
			if (ops->disk_open(s, &inv.vms[v], i, &a, &err) == 0) {
				printf("%s %zu ok %llu\n", inv.vms[v].name, i,
				       (unsigned long long)a.size);
				ops->disk_close(s, &a);
			} else {
				printf("%s %zu error %s\n", inv.vms[v].name, i,
				       ferry_errcode_name(err.code));
				fprintf(stderr, "%s %zu: %s\n", inv.vms[v].name, i, err.msg);
			}
		}
	}
	ops->close(s);
	CHECK(children(true) == 0);
	ferry_inventory_release(&inv);
	ferry_findings_release(&f);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "quickstart") == 0) {
		ferry_bin = argv[3];
		work_dir = argv[4];
		return quickstart(argv[2]);
	}
	if (argc == 6 && strcmp(argv[1], "copy-all") == 0) {
		ferry_bin = argv[3];
		work_dir = argv[4];
		return copy_all_cmd(argv[2], (size_t)strtoul(argv[5], NULL, 10));
	}
	if (argc == 4 && strcmp(argv[1], "disks") == 0) {
		work_dir = argv[3];
		return disks_cmd(argv[2]);
	}
	if (argc == 5 && strcmp(argv[1], "finding") == 0) {
		work_dir = argv[4];
		return finding_cmd(argv[2], argv[3]);
	}
	fprintf(stderr, "usage: ova_test quickstart SHARE FERRY WORK | copy-all SHARE FERRY WORK N "
			"| finding SHARE ID WORK | disks SHARE WORK\n");
	return 2;
}
