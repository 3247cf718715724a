/* The local target: raw disk images and VirtualMachine manifests in a
 * directory (DESIGN.md section 8), laid out as DIR/<ns>/<vm>/<disk>.img and
 * DIR/<ns>/<vm>/virtualmachine.yaml.
 *
 * Every name that becomes a path component is an RFC 1123 name, so none can
 * hold '/' or be "." or "..": nothing escapes DIR. The manifest is the
 * KubeVirt target's VirtualMachine (providers/kubevirt/objects.h) written as
 * YAML by hand: every scalar that a YAML 1.1 or 1.2 parser could read as
 * anything but that string (a number, a boolean, a MAC address that looks
 * sexagesimal) is double-quoted.
 */
#include "providers/target.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "providers/kubevirt/objects.h"

#define MANIFEST     "virtualmachine.yaml"
#define MANIFEST_MAX (16u << 20) /* a manifest is a few KiB; this is a bound */

struct ferry_target {
	char *dir;     /* absolute */
	void *digests; /* tsearch tree of struct digest, by path */
};

/* The digest of a manifest as last read, and the file's identity then: a
 * pass checks thousands of completed VMs for drift, and a stat that
 * matches (inode, size, modification and change times to the nanosecond)
 * spares reading and hashing the file again. */
struct digest {
	char *path; /* first: the tree compares the path a node starts with */
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char hex[FERRY_TARGET_DIGEST];
};

/* ---- YAML ------------------------------------------------------------------ */

static bool is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

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

/* YAML's printable set (YAML 1.2 section 5.1), less the line breaks. U+FFFD
 * is escaped too: it stands for bytes that were not UTF-8. */
static bool yaml_printable(uint32_t c)
{
	return (c >= 0x20 && c <= 0x7e) || c == 0x85 || (c >= 0xa0 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffc && c != 0xfeff) || (c >= 0x10000 && c <= 0x10ffff);
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
		size_t n = ferry_kube_utf8_next(p, &c);

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

static void yaml_node(struct ferry_sb *sb, json_t *v, int d);

/* A value after "key:" or "- ": on the same line when it is a scalar or
 * empty, else on the following lines at depth d. */
static void yaml_value(struct ferry_sb *sb, json_t *v, int d)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (!json_object_size(v)) {
			ferry_sb_adds(sb, " {}\n");
			return;
		}
		ferry_sb_addc(sb, '\n');
		yaml_node(sb, v, d);
		return;
	case JSON_ARRAY:
		if (!json_array_size(v)) {
			ferry_sb_adds(sb, " []\n");
			return;
		}
		ferry_sb_addc(sb, '\n');
		yaml_node(sb, v, d);
		return;
	case JSON_STRING:
		ferry_sb_addc(sb, ' ');
		yaml_scalar(sb, json_string_value(v));
		break;
	case JSON_INTEGER:
		ferry_sb_addf(sb, " %" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL: ferry_sb_addf(sb, " %.17g", json_real_value(v)); break;
	case JSON_TRUE: ferry_sb_adds(sb, " true"); break;
	case JSON_FALSE: ferry_sb_adds(sb, " false"); break;
	case JSON_NULL: ferry_sb_adds(sb, " null"); break;
	}
	ferry_sb_addc(sb, '\n');
}

/* A non-empty mapping or sequence in block style at depth d (two spaces a
 * level); a sequence's "- " sits one level in from its key and a mapping
 * item's keys two levels in, as kubectl writes them. */
static void yaml_node(struct ferry_sb *sb, json_t *v, int d)
{
	if (json_is_object(v)) {
		const char *key;
		json_t *val;

		json_object_foreach(v, key, val)
		{
			ferry_sb_addf(sb, "%*s", 2 * d, "");
			yaml_scalar(sb, key);
			ferry_sb_addc(sb, ':');
			yaml_value(sb, val, d + 1);
		}
		return;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *item = json_array_get(v, i);

		if (json_is_object(item) && json_object_size(item)) {
			struct ferry_sb sub = FERRY_SB_INIT;

			/* the item's first key takes the place of the indent */
			yaml_node(&sub, item, d + 1);
			ferry_sb_addf(sb, "%*s- ", 2 * d, "");
			ferry_sb_adds(sb, sub.buf + 2 * (d + 1));
			ferry_sb_release(&sub);
		} else {
			ferry_sb_addf(sb, "%*s-", 2 * d, "");
			yaml_value(sb, item, d + 1);
		}
	}
}

static char *manifest(json_t *vm)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	yaml_node(&sb, vm, 0);
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

static int digest_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void digest_free(void *p)
{
	struct digest *d = p;

	free(d->path);
	free(d);
}

static bool same_file(const struct digest *d, const struct stat *st)
{
	return d->ino == st->st_ino && d->size == st->st_size &&
	       d->mtime.tv_sec == st->st_mtim.tv_sec && d->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       d->ctime.tv_sec == st->st_ctim.tv_sec && d->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* The hex SHA-256 of the manifest at path (st: its stat), from the cache
 * when the file is the one last hashed. */
static int manifest_digest(struct ferry_target *t, const char *path, const struct stat *st,
			   char hex[FERRY_TARGET_DIGEST], struct ferry_err *err)
{
	struct digest *d;
	void *found = tfind(&path, &t->digests, digest_cmp);
	char *data = NULL;
	size_t len;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (found && same_file(d = *(struct digest **)found, st)) {
		memcpy(hex, d->hex, FERRY_TARGET_DIGEST);
		return 0;
	}
	if (ferry_read_file(path, MANIFEST_MAX, &data, &len) ||
	    !EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL)) {
		free(data);
		return ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
	}
	free(data);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (!found) {
		d = ferry_xcalloc(1, sizeof *d);
		d->path = ferry_xstrdup(path);
		if (!tsearch(d, &t->digests, digest_cmp))
			abort(); /* out of memory */
	}
	d->ino = st->st_ino;
	d->size = st->st_size;
	d->mtime = st->st_mtim;
	d->ctime = st->st_ctim;
	memcpy(d->hex, hex, FERRY_TARGET_DIGEST);
	return 0;
}

static void local_close(struct ferry_target *t)
{
	if (!t)
		return;
	tdestroy(t->digests, digest_free);
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
	if (ferry_kube_check_label("namespace", vm->ns, err) ||
	    ferry_kube_check_label("VM name", vm->name, err))
		return -1;
	if (i >= vm->ndisks)
		return ferry_err_set(err, FERRY_E_INTERNAL, "VM %s/%s has no disk %zu", vm->ns,
				     vm->name, i);
	disk = &vm->disks[i];
	if (ferry_kube_check_subdomain("disk name", disk->name, err))
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
	json_t *obj;
	int rc = -1;

	if (ferry_kube_vm_build(vm, NULL, &obj, err))
		return -1;
	text = manifest(obj);
	json_decref(obj);
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
			   char digest[FERRY_TARGET_DIGEST], struct ferry_err *err)
{
	struct stat st;
	char *path;
	int rc = 0;

	*exists = false;
	if (digest)
		digest[0] = '\0';
	if (ferry_kube_check_label("namespace", ns, err) ||
	    ferry_kube_check_label("VM name", name, err))
		return -1;
	path = ferry_xasprintf("%s/%s/%s/" MANIFEST, t->dir, ns, name);
	if (!stat(path, &st))
		*exists = true;
	else if (errno != ENOENT && errno != ENOTDIR)
		rc = ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
	/* the manifest is the VM object: its bytes are what a change outside
	 * ferry would touch */
	if (*exists && digest)
		rc = manifest_digest(t, path, &st, digest, err);
	free(path);
	return rc;
}

static int local_vm_delete(struct ferry_target *t, const char *ns, const char *name,
			   struct ferry_err *err)
{
	char *dir;
	int rc = 0;

	if (ferry_kube_check_label("namespace", ns, err) ||
	    ferry_kube_check_label("VM name", name, err))
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
