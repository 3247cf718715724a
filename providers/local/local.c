/* The local target: raw disk images and VirtualMachine manifests in a
 * directory (DESIGN.md section 8), laid out as DIR/<ns>/<vm>/<disk>.img and
 * DIR/<ns>/<vm>/virtualmachine.yaml.
 *
 * Every name that becomes a path component is an RFC 1123 name, so none can
 * hold '/' or be "." or "..": nothing escapes DIR. The manifest is YAML
 * written by hand: every scalar that a YAML 1.1 or 1.2 parser could read as
 * anything but that string (a number, a boolean, a MAC address that looks
 * sexagesimal) is double-quoted.
 */
#include "providers/target.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "schema/names.h"

#define MANIFEST     "virtualmachine.yaml"
#define LABEL_MAX    63
#define MIB	     (UINT64_C(1) << 20)
#define FERRY_PREFIX "ferry.dev/"

struct ferry_target {
	char *dir; /* absolute */
};

/* ---- names and labels ------------------------------------------------------ */

static int check_label(const char *what, const char *s, struct ferry_err *err)
{
	const char *why;

	if (!s)
		return ferry_err_set(err, FERRY_E_INVALID, "%s is not set", what);
	if (!ferry_dns1123_label(s, &why))
		return ferry_err_set(err, FERRY_E_INVALID, "%s \"%s\" is not valid: name %s", what,
				     s, why);
	return 0;
}

static int check_subdomain(const char *what, const char *s, struct ferry_err *err)
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

static bool label_key_ok(const char *key)
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

static int check_labels(const char *what, const struct ferry_target_label *l, size_t n,
			struct ferry_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!l[i].key || !label_key_ok(l[i].key))
			return ferry_err_set(err, FERRY_E_INVALID, "%s key \"%s\" is not valid",
					     what, l[i].key ? l[i].key : "");
		if (!l[i].value || !label_name_ok(l[i].value, strlen(l[i].value), true))
			return ferry_err_set(err, FERRY_E_INVALID,
					     "%s %s: value \"%s\" is not valid", what, l[i].key,
					     l[i].value ? l[i].value : "");
	}
	return 0;
}

/* A label value standing for s: s itself when it is one, else s with each
 * run of other characters made '-', cut, and followed by a hash of s so
 * that two ids that differ only in what was replaced stay apart. */
static char *label_value(const char *s)
{
	size_t n = strlen(s), len = 0;
	uint32_t h = 2166136261u;
	char *out;

	if (label_name_ok(s, n, true))
		return ferry_xstrdup(s);
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
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
	snprintf(out + len, 10, "%s%08x", len ? "-" : "", (unsigned)h);
	return out;
}

struct kv {
	const char *key;
	char *value; /* owned */
};

struct kvs {
	struct kv *v;
	size_t len, cap;
};

/* Set key (a later set of the same key wins). */
static void kvs_set(struct kvs *m, const char *key, char *value)
{
	for (size_t i = 0; i < m->len; i++) {
		if (!strcmp(m->v[i].key, key)) {
			free(m->v[i].value);
			m->v[i].value = value;
			return;
		}
	}
	struct kv *e = FERRY_PUSH(m->v, m->len, m->cap);
	e->key = key;
	e->value = value;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

static void kvs_release(struct kvs *m)
{
	for (size_t i = 0; i < m->len; i++)
		free(m->v[i].value);
	free(m->v);
	m->v = NULL;
	m->len = m->cap = 0;
}

/* The given labels, then ferry's own over them; sorted by key. */
static void vm_labels(const struct ferry_target_vm *vm, struct kvs *m)
{
	for (size_t i = 0; i < vm->nlabels; i++)
		kvs_set(m, vm->labels[i].key, ferry_xstrdup(vm->labels[i].value));
	kvs_set(m, "app.kubernetes.io/managed-by", ferry_xstrdup("ferry"));
	if (vm->plan_ns && vm->plan_name) {
		char *plan = ferry_xasprintf("%s.%s", vm->plan_ns, vm->plan_name);
		kvs_set(m, FERRY_PREFIX "plan", label_value(plan));
		free(plan);
		kvs_set(m, FERRY_PREFIX "plan-namespace", label_value(vm->plan_ns));
	}
	if (vm->source_vm_id)
		kvs_set(m, FERRY_PREFIX "vm-id", label_value(vm->source_vm_id));
	qsort(m->v, m->len, sizeof *m->v, kv_cmp);
}

/* ---- YAML ------------------------------------------------------------------ */

static bool yaml_plain_ok(const char *s)
{
	static const char *const reserved[] = {"y",	"n",  "yes", "no",  "true",
					       "false", "on", "off", "null"};

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (const char *p = s; *p; p++)
		if (!is_label_char(*p) && *p != '/')
			return false;
	for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
		if (!strcasecmp(s, reserved[i]))
			return false;
	return true;
}

/* Length of the UTF-8 sequence at s and its code point, or 0 when the bytes
 * there are not one (overlong, surrogate, truncated, out of range). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
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

/* YAML's printable set (YAML 1.2 section 5.1), less the line breaks. */
static bool yaml_printable(uint32_t c)
{
	return (c >= 0x20 && c <= 0x7e) || c == 0x85 || (c >= 0xa0 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd && c != 0xfeff) || (c >= 0x10000 && c <= 0x10ffff);
}

/* s as a YAML scalar: plain when that reads back as the same string, else
 * double-quoted with escapes (bytes that are not UTF-8 become U+FFFD). */
static void yaml_scalar(struct ferry_sb *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (yaml_plain_ok(s)) {
		ferry_sb_adds(sb, s);
		return;
	}
	ferry_sb_addc(sb, '"');
	while (*p) {
		uint32_t c;
		size_t n = utf8_decode(p, &c);

		if (n == 0) {
			ferry_sb_adds(sb, "\\uFFFD");
			p++;
			continue;
		}
		if (c == '"' || c == '\\')
			ferry_sb_addf(sb, "\\%c", (char)c);
		else if (c == '\n')
			ferry_sb_adds(sb, "\\n");
		else if (c == '\t')
			ferry_sb_adds(sb, "\\t");
		else if (yaml_printable(c))
			ferry_sb_add(sb, p, n);
		else if (c <= 0xff)
			ferry_sb_addf(sb, "\\x%02X", (unsigned)c);
		else if (c <= 0xffff)
			ferry_sb_addf(sb, "\\u%04X", (unsigned)c);
		else
			ferry_sb_addf(sb, "\\U%08X", (unsigned)c);
		p += n;
	}
	ferry_sb_addc(sb, '"');
}

/* "key:" opening a block at depth d (two spaces a level). */
static void y_open(struct ferry_sb *sb, int d, const char *key)
{
	ferry_sb_addf(sb, "%*s", 2 * d, "");
	yaml_scalar(sb, key);
	ferry_sb_adds(sb, ":\n");
}

/* "key: value"; a list item's first key is written with item set. */
static void y_str(struct ferry_sb *sb, int d, bool item, const char *key, const char *value)
{
	ferry_sb_addf(sb, "%*s%s", 2 * d - (item ? 2 : 0), "", item ? "- " : "");
	yaml_scalar(sb, key);
	ferry_sb_adds(sb, ": ");
	yaml_scalar(sb, value);
	ferry_sb_addc(sb, '\n');
}

static void y_uint(struct ferry_sb *sb, int d, const char *key, unsigned v)
{
	ferry_sb_addf(sb, "%*s%s: %u\n", 2 * d, "", key, v);
}

static void y_empty(struct ferry_sb *sb, int d, const char *key)
{
	ferry_sb_addf(sb, "%*s%s: {}\n", 2 * d, "", key);
}

static void y_map(struct ferry_sb *sb, int d, const char *key, const struct kv *v, size_t n)
{
	y_open(sb, d, key);
	for (size_t i = 0; i < n; i++)
		y_str(sb, d + 1, false, v[i].key, v[i].value);
}

/* ---- the manifest ------------------------------------------------------------ */

static int check_vm(const struct ferry_target_vm *vm, struct ferry_err *err)
{
	size_t npod = 0;

	if (check_label("namespace", vm->ns, err) || check_label("VM name", vm->name, err))
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
		if (check_subdomain("disk name", vm->disks[i].name, err))
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
		if (!strcmp(c->type, "ignored"))
			continue; /* not in the manifest: its name does not matter */
		if (check_label("interface name", c->name, err))
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
			if (strcmp(vm->nics[j].type, "ignored") &&
			    !strcmp(c->name, vm->nics[j].name))
				return ferry_err_set(err, FERRY_E_INVALID,
						     "VM %s/%s: two interfaces named %s", vm->ns,
						     vm->name, c->name);
	}
	if (check_labels("label", vm->labels, vm->nlabels, err))
		return -1;
	return check_labels("node selector", vm->node_selector, vm->nnode_selector, err);
}

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

static void write_domain(struct ferry_sb *sb, const struct ferry_target_vm *vm, int d)
{
	unsigned sockets, cores;
	bool efi = !strcmp(vm->firmware, "efi");
	char mem[32];

	cpu_topology(vm, &sockets, &cores);
	y_open(sb, d, "domain");
	y_open(sb, d + 1, "cpu");
	y_uint(sb, d + 2, "sockets", sockets);
	y_uint(sb, d + 2, "cores", cores);
	y_uint(sb, d + 2, "threads", 1);
	y_open(sb, d + 1, "memory");
	snprintf(mem, sizeof mem, "%lluMi",
		 (unsigned long long)((vm->memory_bytes + MIB - 1) / MIB));
	y_str(sb, d + 2, false, "guest", mem);
	y_open(sb, d + 1, "firmware");
	y_open(sb, d + 2, "bootloader");
	if (efi) {
		y_open(sb, d + 3, "efi");
		ferry_sb_addf(sb, "%*ssecureBoot: %s\n", 2 * (d + 4), "",
			      vm->secure_boot ? "true" : "false");
	} else {
		y_empty(sb, d + 3, "bios");
	}
	if (efi && vm->secure_boot) {
		y_open(sb, d + 1, "features");
		y_open(sb, d + 2, "smm");
		ferry_sb_addf(sb, "%*senabled: true\n", 2 * (d + 3), "");
	}
	size_t nnics = 0;
	for (size_t i = 0; i < vm->nnics; i++)
		nnics += strcmp(vm->nics[i].type, "ignored") != 0;
	if (!vm->ndisks && !nnics) {
		y_empty(sb, d + 1, "devices");
		return;
	}
	y_open(sb, d + 1, "devices");
	if (vm->ndisks) {
		y_open(sb, d + 2, "disks");
		for (size_t i = 0; i < vm->ndisks; i++) {
			y_str(sb, d + 4, true, "name", vm->disks[i].name);
			if (vm->disks[i].bus) {
				y_open(sb, d + 4, "disk");
				y_str(sb, d + 5, false, "bus", vm->disks[i].bus);
			} else {
				y_empty(sb, d + 4, "disk");
			}
		}
	}
	if (nnics)
		y_open(sb, d + 2, "interfaces");
	for (size_t i = 0; i < vm->nnics; i++) {
		const struct ferry_target_nic *c = &vm->nics[i];

		if (!strcmp(c->type, "ignored"))
			continue;
		y_str(sb, d + 4, true, "name", c->name);
		if (c->model)
			y_str(sb, d + 4, false, "model", c->model);
		if (c->mac)
			y_str(sb, d + 4, false, "macAddress", c->mac);
		y_empty(sb, d + 4, strcmp(c->type, "pod") ? "bridge" : "masquerade");
	}
}

static char *manifest(const struct ferry_target_vm *vm)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	struct kvs labels = {0};
	bool any_net = false;

	vm_labels(vm, &labels);
	ferry_sb_adds(&sb, "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n");
	y_str(&sb, 1, false, "name", vm->name);
	y_str(&sb, 1, false, "namespace", vm->ns);
	y_map(&sb, 1, "labels", labels.v, labels.len);
	if (vm->source_vm_name) {
		y_open(&sb, 1, "annotations");
		y_str(&sb, 2, false, FERRY_PREFIX "source-vm-name", vm->source_vm_name);
	}
	ferry_sb_adds(&sb, "spec:\n");
	y_str(&sb, 1, false, "runStrategy", vm->running ? "Always" : "Halted");
	y_open(&sb, 1, "template");
	y_open(&sb, 2, "metadata");
	y_map(&sb, 3, "labels", labels.v, labels.len);
	y_open(&sb, 2, "spec");
	write_domain(&sb, vm, 3);
	for (size_t i = 0; i < vm->nnics; i++) {
		const struct ferry_target_nic *c = &vm->nics[i];

		if (!strcmp(c->type, "ignored"))
			continue;
		if (!any_net)
			y_open(&sb, 3, "networks");
		any_net = true;
		y_str(&sb, 5, true, "name", c->name);
		if (!strcmp(c->type, "pod")) {
			y_empty(&sb, 5, "pod");
		} else {
			y_open(&sb, 5, "multus");
			y_str(&sb, 6, false, "networkName", c->network);
		}
	}
	if (vm->ndisks) {
		y_open(&sb, 3, "volumes");
		for (size_t i = 0; i < vm->ndisks; i++) {
			y_str(&sb, 5, true, "name", vm->disks[i].name);
			y_open(&sb, 5, "persistentVolumeClaim");
			y_str(&sb, 6, false, "claimName", vm->disks[i].name);
		}
	}
	if (vm->nnode_selector) {
		struct kvs sel = {0};

		for (size_t i = 0; i < vm->nnode_selector; i++)
			kvs_set(&sel, vm->node_selector[i].key,
				ferry_xstrdup(vm->node_selector[i].value));
		qsort(sel.v, sel.len, sizeof *sel.v, kv_cmp);
		y_map(&sb, 3, "nodeSelector", sel.v, sel.len);
		kvs_release(&sel);
	}
	kvs_release(&labels);
	return ferry_sb_detach(&sb);
}

/* ---- the driver -------------------------------------------------------------- */

static int local_open(struct ferry_target **out, const struct ferry_target_config *cfg,
		      struct ferry_err *err)
{
	char *abs;

	*out = NULL;
	if (!cfg || !cfg->dir || !*cfg->dir)
		return ferry_err_set(err, FERRY_E_INVALID, "[target] dir is not set");
	if (ferry_mkdirs(cfg->dir, 0755))
		return ferry_err_set(err, FERRY_E_IO, "[target] dir %s: %s", cfg->dir,
				     strerror(errno));
	abs = realpath(cfg->dir, NULL);
	if (!abs)
		return ferry_err_set(err, FERRY_E_IO, "[target] dir %s: %s", cfg->dir,
				     strerror(errno));
	*out = ferry_xcalloc(1, sizeof **out);
	(*out)->dir = abs;
	return 0;
}

static void local_close(struct ferry_target *t)
{
	if (!t)
		return;
	free(t->dir);
	free(t);
}

static char *vm_dir(const struct ferry_target *t, const char *ns, const char *name)
{
	return ferry_xasprintf("%s/%s/%s", t->dir, ns, name);
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Make a sparse file of size bytes at path, all or nothing: a temporary
 * file grows to its size first and is then linked into place, so a crash
 * never leaves a short image under the real name. EEXIST when path exists. */
static int create_sparse(const char *dir, const char *path, uint64_t size)
{
	char *tmp = ferry_xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd, rc = -1, saved;

	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		goto out;
	if (ftruncate(fd, (off_t)size) || fsync(fd)) {
		saved = errno;
		close(fd);
		errno = saved;
		goto out_unlink;
	}
	if (close(fd) || link(tmp, path))
		goto out_unlink;
	rc = 0;
	if (sync_dir(dir))
		rc = -1;
out_unlink:
	saved = errno;
	unlink(tmp);
	errno = saved;
out:
	free(tmp);
	return rc;
}

static int local_disk_create(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			     char **uri, struct ferry_err *err)
{
	const struct ferry_target_disk *disk;
	char *dir = NULL, *path = NULL;
	struct stat st;
	int rc = -1;

	*uri = NULL;
	if (check_label("namespace", vm->ns, err) || check_label("VM name", vm->name, err))
		return -1;
	if (i >= vm->ndisks)
		return ferry_err_set(err, FERRY_E_INTERNAL, "VM %s/%s has no disk %zu", vm->ns,
				     vm->name, i);
	disk = &vm->disks[i];
	if (check_subdomain("disk name", disk->name, err))
		return -1;
	if (disk->size == 0 || disk->size > (uint64_t)INT64_MAX)
		return ferry_err_set(err, FERRY_E_INVALID, "disk %s: size of %llu bytes",
				     disk->name, (unsigned long long)disk->size);
	dir = vm_dir(t, vm->ns, vm->name);
	path = ferry_xasprintf("%s/%s.img", dir, disk->name);
	if (ferry_mkdirs(dir, 0755)) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	/* an existing disk is kept as it is (a resumed copy continues into
	 * it); only a new one costs the fsyncs that make it durable */
	if (lstat(path, &st) &&
	    (errno != ENOENT || (create_sparse(dir, path, disk->size) && errno != EEXIST))) {
		ferry_err_set(err, errno == ENOSPC || errno == EFBIG ? FERRY_E_LIMIT : FERRY_E_IO,
			      "%s: %s", path, strerror(errno));
		goto out;
	}
	if (lstat(path, &st)) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ferry_err_set(err, FERRY_E_CONFLICT, "%s exists and is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size != disk->size) {
		ferry_err_set(err, FERRY_E_CONFLICT,
			      "%s exists with %llu bytes, the disk needs %llu bytes", path,
			      (unsigned long long)st.st_size, (unsigned long long)disk->size);
		goto out;
	}
	*uri = path;
	path = NULL;
	rc = 0;
out:
	free(path);
	free(dir);
	return rc;
}

static int local_vm_create(struct ferry_target *t, const struct ferry_target_vm *vm,
			   struct ferry_err *err)
{
	char *dir = NULL, *path = NULL, *text = NULL, *old = NULL;
	size_t oldlen;
	int rc = -1;

	if (check_vm(vm, err))
		return -1;
	text = manifest(vm);
	dir = vm_dir(t, vm->ns, vm->name);
	path = ferry_xasprintf("%s/" MANIFEST, dir);
	if (ferry_mkdirs(dir, 0755)) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	/* Unchanged content is not rewritten: a repeated call touches nothing. */
	if (!ferry_read_file(path, 1u << 20, &old, &oldlen) && !strcmp(old, text)) {
		rc = 0;
		goto out;
	}
	if (ferry_write_file_atomic(path, text, strlen(text), 0644)) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(old);
	free(text);
	free(path);
	free(dir);
	return rc;
}

static int local_vm_exists(struct ferry_target *t, const char *ns, const char *name, bool *exists,
			   struct ferry_err *err)
{
	struct stat st;
	char *path;
	int rc = 0;

	*exists = false;
	if (check_label("namespace", ns, err) || check_label("VM name", name, err))
		return -1;
	path = ferry_xasprintf("%s/%s/%s/" MANIFEST, t->dir, ns, name);
	if (!stat(path, &st))
		*exists = true;
	else if (errno != ENOENT && errno != ENOTDIR)
		rc = ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
	free(path);
	return rc;
}

static int local_vm_delete(struct ferry_target *t, const char *ns, const char *name,
			   struct ferry_err *err)
{
	char *dir;
	int rc = 0;

	if (check_label("namespace", ns, err) || check_label("VM name", name, err))
		return -1;
	dir = vm_dir(t, ns, name);
	if (ferry_rmtree(dir))
		rc = ferry_err_set(err, FERRY_E_IO, "removing %s: %s", dir, strerror(errno));
	free(dir);
	return rc;
}

const struct ferry_target_ops ferry_target_local = {
	.type = "local",
	.open = local_open,
	.disk_create = local_disk_create,
	.vm_create = local_vm_create,
	.vm_exists = local_vm_exists,
	.vm_delete = local_vm_delete,
	.close = local_close,
};
