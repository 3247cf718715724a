#include "ova.h"
#include "providers/nbdserver.h"

#include "ovf.h"
#include "tar.h"

#include "common/alloc.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Forklift's scan depths, counted in path components below the share: an
 * .ova in the root is at depth 1. */
enum {
	OVA_MAX_DEPTH = 2,
	OVF_MAX_DEPTH = 3,
	MAX_SCANNED = 100000,	  /* directory entries looked at per inventory */
	READY_TIMEOUT_MS = 30000, /* for qemu-nbd to answer on its socket */
	HANDSHAKE_TIMEOUT_S = 10,
};

struct ferry_source {
	char *root;			  /* the share, canonical, no trailing slash */
	char *storage;			  /* "Dummy storage for source provider <name>" */
	char *work_dir;			  /* where sockets and logs go; NULL if none was given */
	struct ferry_nbd_server *servers; /* the qemu-nbds serving disks now */
	unsigned seq;
};

/* ---- open / close ---------------------------------------------------------- */

static int unescape(const char *s, char **out, struct ferry_err *err)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	for (; *s; s++) {
		int hi, lo;
		if (*s != '%') {
			ferry_sb_addc(&sb, *s);
			continue;
		}
		hi = ferry_hexval(s[1]);
		lo = hi < 0 ? -1 : ferry_hexval(s[2]);
		if (lo < 0 || (hi == 0 && lo == 0)) {
			ferry_sb_release(&sb);
			return ferry_err_set(err, FERRY_E_INVALID, "bad %%-escape in the URL");
		}
		ferry_sb_addc(&sb, (char)(hi << 4 | lo));
		s += 2;
	}
	*out = ferry_sb_detach(&sb);
	return 0;
}

/* file:///path, file://localhost/path, or a plain path (a ferry extension);
 * Forklift's server:/path is an NFS export ferry does not mount. */
static int url_path(const char *url, char **path, struct ferry_err *err)
{
	const char *colon, *slash;

	if (!url || !*url)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "an ova provider needs a url: file:///path/to/share");
	if (strncmp(url, "file://", 7) == 0) {
		const char *rest = url + 7;
		if (strncmp(rest, "localhost/", 10) == 0)
			rest += 9;
		if (*rest != '/')
			return ferry_err_set(err, FERRY_E_INVALID,
					     "url '%s': a file URL names a local path "
					     "(file:///path)",
					     url);
		return unescape(rest, path, err);
	}
	if (strncmp(url, "nfs://", 6) == 0)
		goto nfs;
	if (strstr(url, "://"))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "url '%s': an ova provider reads file:///path or an NFS "
				     "export server:/path",
				     url);
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (colon && (!slash || colon < slash))
		goto nfs;
	*path = ferry_xstrdup(url);
	return 0;
nfs:
	return ferry_err_set(err, FERRY_E_UNSUPPORTED,
			     "url '%s' is an NFS export: mount it and use file:///mountpoint; "
			     "ferry does not mount NFS",
			     url);
}

/* Stop the qemu-nbd servers that a ferry process killed before it could
 * stop them left in work_dir (ova-OWNER-N.pid, OWNER no longer running),
 * and remove their files. A server must have this file's socket on its
 * command line, so a reused pid is never killed. */
static int ova_open(struct ferry_source **out, const struct ferry_source_config *cfg,
		    struct ferry_err *err)
{
	struct ferry_source *s;
	char *path = NULL, *root;
	struct stat st;

	if (url_path(cfg->url, &path, err))
		return -1;
	root = realpath(path, NULL);
	if (!root) {
		int e = errno;
		ferry_err_set(err, e == ENOENT ? FERRY_E_NOT_FOUND : FERRY_E_IO,
			      "ova share '%s': %s", path, strerror(e));
		free(path);
		return -1;
	}
	free(path);
	if (stat(root, &st) || !S_ISDIR(st.st_mode)) {
		ferry_err_set(err, FERRY_E_INVALID, "ova share '%s' is not a directory", root);
		free(root);
		return -1;
	}
	s = ferry_xcalloc(1, sizeof *s);
	s->root = root;
	s->storage =
		ferry_xasprintf("Dummy storage for source provider %s", cfg->name ? cfg->name : "");
	s->work_dir = cfg->work_dir ? ferry_xstrdup(cfg->work_dir) : NULL;
	if (s->work_dir)
		ferry_nbd_reap_leftovers(s->work_dir, "ova");
	*out = s;
	return 0;
}

static void ova_close(struct ferry_source *s)
{
	if (!s)
		return;
	ferry_nbd_servers_stop(&s->servers);
	free(s->root);
	free(s->storage);
	free(s->work_dir);
	free(s);
}

/* ---- inventory ------------------------------------------------------------------ */

static bool suffix_ci(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);
	return n > k && strcasecmp(name + n - k, suffix) == 0;
}

/* Stable across scans and hosts: a UUID (version 8, RFC 9562's
 * vendor-specific kind, so that it reads as the "OVA VM UUID" Plans name)
 * made of the SHA-256 of the file's path inside the share and the
 * VirtualSystem's ovf:id. */
static char *vm_uuid(const char *rel, const char *key)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct ferry_sb sb = FERRY_SB_INIT;
	char *id;

	ferry_sb_adds(&sb, "ferry-ova-vm");
	ferry_sb_add(&sb, "", 1);
	ferry_sb_adds(&sb, rel);
	ferry_sb_add(&sb, "", 1);
	ferry_sb_adds(&sb, key);
	if (!EVP_Digest(sb.buf, sb.len, md, &mdlen, EVP_sha256(), NULL) || mdlen < 16)
		abort(); /* OpenSSL cannot fail here but on OOM */
	ferry_sb_release(&sb);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x80);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	id = ferry_xmalloc(37);
	snprintf(id, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10],
		 md[11], md[12], md[13], md[14], md[15]);
	return id;
}

/* The VMs of one envelope [first, inv->nvms): ids, source. A VirtualSystem
 * without an ovf:id, or with one its envelope repeats, is keyed by its
 * position instead. */
static void name_vms(struct ferry_inventory *inv, size_t first, const char *rel, const char *path)
{
	for (size_t i = first; i < inv->nvms; i++) {
		struct ferry_vm *vm = &inv->vms[i];
		bool unique = vm->id != NULL;
		char *key;

		for (size_t j = first; unique && j < inv->nvms; j++)
			if (j != i && inv->vms[j].id && strcmp(inv->vms[j].id, vm->id) == 0)
				unique = false;
		key = unique ? ferry_xstrdup(vm->id) : ferry_xasprintf("#%zu", i - first);
		free(vm->id);
		vm->id = vm_uuid(rel, key);
		free(key);
		vm->source = ferry_xstrdup(path);
	}
}

/* An href must name a file next to the OVF: no absolute path, no "..",
 * no URL. */
static bool href_safe(const char *href)
{
	const char *p = href;

	if (!*href || *href == '/' || strchr(href, ':') || strchr(href, '\\'))
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		while (*p == '/')
			p++;
	}
	return true;
}

static void finding_at(struct ferry_findings *f, enum ferry_category cat, const char *id,
		       const char *file, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void finding_at(struct ferry_findings *f, enum ferry_category cat, const char *id,
		       const char *file, const char *fmt, ...)
{
	struct ferry_pos pos = {file, 0, 0};
	struct ferry_sb sb = FERRY_SB_INIT;
	va_list ap;

	va_start(ap, fmt);
	ferry_sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	ferry_findings_add(f, cat, id, &pos, "%s", sb.buf);
	ferry_sb_release(&sb);
}

static void scan_ova(struct ferry_source *s, const char *rel, struct ferry_inventory *inv,
		     struct ferry_findings *f)
{
	char *path = ferry_path_join(s->root, rel), *label = NULL, *buf = NULL;
	struct ferry_tar tar = FERRY_TAR_INIT;
	struct ferry_err terr = FERRY_ERR_INIT;
	const struct ferry_tar_member *ovf = NULL;
	struct stat st;
	size_t first = inv->nvms;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		finding_at(f, FERRY_CAT_ERROR, "ova.file.unreadable", path, "cannot read %s: %s",
			   path, fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	if (ferry_tar_list(fd, (uint64_t)st.st_size, &tar, &terr))
		finding_at(f, FERRY_CAT_ERROR,
			   tar.truncated ? "ova.archive.truncated" : "ova.archive.invalid", path,
			   "%s", terr.msg);
	for (size_t i = 0; i < tar.len && !ovf; i++)
		if (suffix_ci(tar.v[i].name, ".ovf"))
			ovf = &tar.v[i];
	if (!ovf) {
		if (terr.code == FERRY_OK)
			finding_at(f, FERRY_CAT_ERROR, "ova.archive.no-ovf", path,
				   "the archive holds no .ovf file");
		goto out;
	}
	label = ferry_xasprintf("%s!/%s", path, ovf->name);
	if (ovf->size <= FERRY_OVF_MAX) {
		buf = ferry_xmalloc((size_t)ovf->size + 1);
		if (pread(fd, buf, (size_t)ovf->size, (off_t)ovf->offset) != (ssize_t)ovf->size) {
			finding_at(f, FERRY_CAT_ERROR, "ova.file.unreadable", label,
				   "cannot read the OVF");
			goto out;
		}
	}
	if (ferry_ovf_parse(buf, (size_t)ovf->size, label, s->storage, inv, f))
		goto out;
	name_vms(inv, first, rel, path);
	for (size_t i = first; i < inv->nvms; i++) {
		const struct ferry_vm *vm = &inv->vms[i];
		for (size_t j = 0; j < vm->ndisks; j++) {
			const char *file = vm->disks[j].file;
			if (file && !ferry_tar_find(&tar, file))
				finding_at(f, FERRY_CAT_CRITICAL, "ova.disk.missing", path,
					   "VM '%s': disk file '%s' is not in the archive%s",
					   vm->name, file,
					   tar.truncated ? " (the archive is truncated)" : "");
		}
	}
out:
	if (fd >= 0)
		close(fd);
	ferry_tar_release(&tar);
	free(buf);
	free(label);
	free(path);
}

static void scan_ovf(struct ferry_source *s, const char *rel, struct ferry_inventory *inv,
		     struct ferry_findings *f)
{
	char *path = ferry_path_join(s->root, rel), *buf = NULL, *dir;
	size_t len = 0, first = inv->nvms;

	if (ferry_read_file(path, FERRY_OVF_MAX, &buf, &len)) {
		if (errno == EFBIG)
			finding_at(f, FERRY_CAT_ERROR, "ovf.xml.too-large", path,
				   "the OVF is more than the %u bytes ferry reads", FERRY_OVF_MAX);
		else
			finding_at(f, FERRY_CAT_ERROR, "ova.file.unreadable", path,
				   "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (ferry_ovf_parse(buf, len, path, s->storage, inv, f))
		goto out;
	name_vms(inv, first, rel, path);
	dir = ferry_xstrndup(path, (size_t)(strrchr(path, '/') - path));
	for (size_t i = first; i < inv->nvms; i++) {
		const struct ferry_vm *vm = &inv->vms[i];
		for (size_t j = 0; j < vm->ndisks; j++) {
			const char *file = vm->disks[j].file;
			struct stat st;
			char *dpath;

			if (!file)
				continue;
			if (!href_safe(file)) {
				finding_at(f, FERRY_CAT_CRITICAL, "ova.disk.href-unsafe", path,
					   "VM '%s': disk file '%s' is not a path inside the OVF's "
					   "folder",
					   vm->name, file);
				continue;
			}
			dpath = ferry_path_join(dir, file);
			if (stat(dpath, &st) || !S_ISREG(st.st_mode))
				finding_at(f, FERRY_CAT_CRITICAL, "ova.disk.missing", path,
					   "VM '%s': disk file '%s' is missing next to the OVF",
					   vm->name, file);
			free(dpath);
		}
	}
	free(dir);
out:
	free(buf);
	free(path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct scan {
	struct ferry_source *s;
	struct ferry_inventory *inv;
	struct ferry_findings *f;
	size_t seen;
};

/* One directory of the share (rel "" is the root, at level 0). */
static void scan_dir(struct scan *sc, const char *rel, int level)
{
	char *dpath = *rel ? ferry_path_join(sc->s->root, rel) : ferry_xstrdup(sc->s->root);
	char **names = NULL, **ovfs = NULL;
	size_t n = 0, cap = 0, novf = 0, covf = 0;
	DIR *d = opendir(dpath);
	struct dirent *e;

	if (!d) {
		finding_at(sc->f, FERRY_CAT_WARNING, "ova.dir.unreadable", dpath,
			   "cannot read the folder: %s", strerror(errno));
		free(dpath);
		return;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (sc->seen++ == MAX_SCANNED) {
			finding_at(sc->f, FERRY_CAT_ERROR, "ova.scan.limit", sc->s->root,
				   "more than %d entries in the share; the rest are not scanned",
				   MAX_SCANNED);
			break;
		}
		*FERRY_PUSH(names, n, cap) = ferry_xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_str);

	for (size_t i = 0; i < n; i++) {
		char *crel = *rel ? ferry_path_join(rel, names[i]) : ferry_xstrdup(names[i]);
		char *cpath = ferry_path_join(sc->s->root, crel);
		struct stat st;
		int depth = level + 1;

		if (lstat(cpath, &st) == 0) {
			/* Like Forklift's walk: folders are entered, not symlinks to
			 * them; a symlink named *.ova is read as the file it names. */
			if (S_ISDIR(st.st_mode)) {
				if (depth < OVF_MAX_DEPTH)
					scan_dir(sc, crel, depth);
			} else if (depth <= OVA_MAX_DEPTH && suffix_ci(names[i], ".ova")) {
				scan_ova(sc->s, crel, sc->inv, sc->f);
			} else if (depth <= OVF_MAX_DEPTH && suffix_ci(names[i], ".ovf")) {
				*FERRY_PUSH(ovfs, novf, covf) = ferry_xstrdup(crel);
			}
		}
		free(cpath);
		free(crel);
	}
	if (novf == 1) {
		scan_ovf(sc->s, ovfs[0], sc->inv, sc->f);
	} else if (novf > 1) {
		struct ferry_sb list = FERRY_SB_INIT;
		for (size_t i = 0; i < novf; i++)
			ferry_sb_addf(&list, "%s%s", i ? ", " : "",
				      strrchr(ovfs[i], '/') ? strrchr(ovfs[i], '/') + 1 : ovfs[i]);
		finding_at(sc->f, FERRY_CAT_ERROR, "ova.folder.multiple-ovf", dpath,
			   "%zu .ovf files in one folder (%s); there can be only one, as in "
			   "Forklift: none of them is read",
			   novf, list.buf);
		ferry_sb_release(&list);
	}
	for (size_t i = 0; i < novf; i++)
		free(ovfs[i]);
	free(ovfs);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(dpath);
}

static void add_name(char ***v, size_t *n, const char *name)
{
	*v = ferry_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = ferry_xstrdup(name);
}

static void sort_unique(char **v, size_t *n)
{
	size_t k = 0;

	if (*n > 1)
		qsort(v, *n, sizeof *v, cmp_str);
	for (size_t i = 0; i < *n; i++) {
		if (k && strcmp(v[k - 1], v[i]) == 0)
			free(v[i]);
		else
			v[k++] = v[i];
	}
	*n = k;
}

static int cmp_vm(const void *pa, const void *pb)
{
	const struct ferry_vm *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);
	return c ? c : strcmp(a->id, b->id);
}

static int ova_inventory(struct ferry_source *s, struct ferry_inventory *inv,
			 struct ferry_findings *f, struct ferry_err *err)
{
	struct scan sc = {s, inv, f, 0};

	(void)err;
	scan_dir(&sc, "", 0);
	for (size_t i = 0; i < inv->nvms; i++)
		for (size_t j = 0; j < inv->vms[i].nnics; j++)
			if (inv->vms[i].nics[j].network)
				add_name(&inv->networks, &inv->nnetworks,
					 inv->vms[i].nics[j].network);
	sort_unique(inv->networks, &inv->nnetworks);
	/* One storage, whatever the share holds: a StorageMap names it. */
	add_name(&inv->storages, &inv->nstorages, s->storage);
	sort_unique(inv->storages, &inv->nstorages);
	if (inv->nvms > 1)
		qsort(inv->vms, inv->nvms, sizeof *inv->vms, cmp_vm);
	return 0;
}

/* ---- disks ------------------------------------------------------------------------ */

/* Where a disk's bytes are: [offset, offset+size) of path. */
struct disk_loc {
	char *path;
	uint64_t offset, size;
	bool whole; /* the whole file (an extracted OVF's disk) */
};

static bool under_root(const struct ferry_source *s, const char *path)
{
	size_t n = strlen(s->root);

	return strncmp(path, s->root, n) == 0 && path[n] == '/' && !strstr(path, "/../") &&
	       !strstr(path, "/./") && !ferry_ends_with(path, "/..");
}

static int locate(struct ferry_source *s, const struct ferry_vm *vm, const char *file,
		  struct disk_loc *loc, struct ferry_err *err)
{
	struct stat st;

	if (!vm->source || !under_root(s, vm->source))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "VM '%s' does not come from the share %s", vm->name, s->root);
	if (suffix_ci(vm->source, ".ova")) {
		struct ferry_tar tar = FERRY_TAR_INIT;
		struct ferry_err terr = FERRY_ERR_INIT;
		const struct ferry_tar_member *m;
		int fd = open(vm->source, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fstat(fd, &st)) {
			ferry_err_set(err, FERRY_E_IO, "%s: %s", vm->source, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		ferry_tar_list(fd, (uint64_t)st.st_size, &tar, &terr);
		close(fd);
		m = ferry_tar_find(&tar, file);
		if (!m) {
			ferry_err_set(err, FERRY_E_NOT_FOUND, "%s has no member '%s'%s%s",
				      vm->source, file, terr.code ? ": " : "", terr.msg);
			ferry_tar_release(&tar);
			return -1;
		}
		loc->path = ferry_xstrdup(vm->source);
		loc->offset = m->offset;
		loc->size = m->size;
		loc->whole = false;
		ferry_tar_release(&tar);
		return 0;
	}
	if (!href_safe(file))
		return ferry_err_set(
			err, FERRY_E_INVALID,
			"VM '%s': disk file '%s' is not a path inside the OVF's folder", vm->name,
			file);
	{
		char *dir =
			ferry_xstrndup(vm->source, (size_t)(strrchr(vm->source, '/') - vm->source));
		loc->path = ferry_path_join(dir, file);
		free(dir);
	}
	errno = 0;
	if (stat(loc->path, &st) != 0 || !S_ISREG(st.st_mode)) {
		const char *why = errno == 0 ? "not a regular file" : strerror(errno);
		ferry_err_set(err, FERRY_E_NOT_FOUND, "%s: %s", loc->path, why);
		free(loc->path);
		loc->path = NULL;
		return -1;
	}
	loc->offset = 0;
	loc->size = (uint64_t)st.st_size;
	loc->whole = true;
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Does a sparse VMDK's embedded descriptor name a parent (a delta disk)? */
static bool vmdk_has_parent(int fd, const struct disk_loc *loc, const unsigned char *h)
{
	uint64_t off = le64(h + 28), n = le64(h + 36); /* in sectors */
	char *desc;
	bool parent;

	if (n == 0 || n > 128 || off > loc->size / 512 || n > loc->size / 512 - off)
		return false;
	desc = ferry_xmalloc((size_t)n * 512 + 1);
	if (pread(fd, desc, (size_t)n * 512, (off_t)(loc->offset + off * 512)) !=
	    (ssize_t)(n * 512)) {
		free(desc);
		return false;
	}
	desc[n * 512] = '\0';
	parent = strstr(desc, "parentFileNameHint") != NULL;
	free(desc);
	return parent;
}

/* The qemu block driver for the disk's bytes. The declared format must
 * match the magic, and a disk that needs another file is refused: a VMDK
 * descriptor's extents or a qcow2's external data file could make qemu-nbd
 * read any file on this host, and a delta disk without its parent would
 * read as wrong data (backing files are also switched off in the options). */
static int qemu_driver(const char *format, const char *path, const struct disk_loc *loc,
		       const char **driver, struct ferry_err *err)
{
	unsigned char h[512] = {0};
	size_t want = loc->size < sizeof h ? (size_t)loc->size : sizeof h;
	bool vmdk, qcow2, vdi;
	int fd = open(loc->path, O_RDONLY | O_CLOEXEC), ret = -1;

	if (fd < 0)
		return ferry_err_set(err, FERRY_E_IO, "%s: %s", loc->path, strerror(errno));
	if (pread(fd, h, want, (off_t)loc->offset) != (ssize_t)want) {
		ferry_err_set(err, FERRY_E_IO, "%s: cannot read the disk header", loc->path);
		goto out;
	}
	vmdk = memcmp(h, "KDMV", 4) == 0;
	qcow2 = memcmp(h, "QFI\xfb", 4) == 0;
	vdi = h[0x40] == 0x7f && h[0x41] == 0x10 && h[0x42] == 0xda && h[0x43] == 0xbe;

	if (!format && vmdk)
		format = "vmdk";
	else if (!format && qcow2)
		format = "qcow2";
	else if (!format && vdi)
		format = "vdi";
	if (!format) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED,
			      "disk '%s': unknown format and no VMDK, qcow2 or VDI header", path);
	} else if (strcmp(format, "vmdk") == 0 || strcmp(format, "vmdk-stream") == 0) {
		if (!vmdk)
			ferry_err_set(
				err, FERRY_E_UNSUPPORTED,
				"disk '%s' is not a self-contained (sparse or stream-optimized) "
				"VMDK; descriptor files are not served",
				path);
		else if (vmdk_has_parent(fd, loc, h))
			ferry_err_set(err, FERRY_E_UNSUPPORTED,
				      "disk '%s' is a VMDK delta disk (it names a parent)", path);
		else
			*driver = "vmdk";
	} else if (strcmp(format, "qcow2") == 0) {
		if (!qcow2)
			ferry_err_set(err, FERRY_E_INVALID, "disk '%s' is not qcow2", path);
		else if (be64(h + 8) != 0)
			ferry_err_set(err, FERRY_E_UNSUPPORTED,
				      "disk '%s' is a qcow2 with a backing file", path);
		else if (be32(h + 4) >= 3 && (be64(h + 72) & 4))
			ferry_err_set(err, FERRY_E_UNSUPPORTED,
				      "disk '%s' is a qcow2 with an external data file", path);
		else
			*driver = "qcow2";
	} else if (strcmp(format, "vdi") == 0) {
		if (!vdi)
			ferry_err_set(err, FERRY_E_INVALID, "disk '%s' is not VDI", path);
		else
			*driver = "vdi";
	} else if (strcmp(format, "raw") == 0) {
		*driver = "raw";
	} else {
		ferry_err_set(err, FERRY_E_UNSUPPORTED, "disk '%s': format '%s'", path, format);
	}
	ret = *driver ? 0 : -1;
out:
	close(fd);
	return ret;
}

/* qemu's options as a json: filename (jansson quotes the path). */
static char *qemu_json(const char *driver, const struct disk_loc *loc, uint64_t blank)
{
	json_t *top, *file;
	char *s, *ret;

	if (!loc) {
		top = json_pack("{s:s, s:I, s:b}", "driver", "null-co", "size", (json_int_t)blank,
				"read-zeroes", 1);
	} else {
		file = json_pack("{s:s, s:s, s:s}", "driver", "file", "filename", loc->path,
				 "locking", "off");
		if (!loc->whole || strcmp(driver, "raw") == 0) {
			/* The member's byte range (raw's offset and size). */
			json_t *range = json_pack("{s:s, s:o}", "driver", "raw", "file", file);
			if (!loc->whole) {
				json_object_set_new(range, "offset",
						    json_integer((json_int_t)loc->offset));
				json_object_set_new(range, "size",
						    json_integer((json_int_t)loc->size));
			}
			file = range;
		}
		if (strcmp(driver, "raw") == 0)
			top = file;
		else
			top = json_pack("{s:s, s:n, s:o}", "driver", driver, "backing", "file",
					file);
	}
	if (!top)
		return NULL; /* a path that is not UTF-8 */
	s = json_dumps(top, JSON_COMPACT);
	json_decref(top);
	if (!s)
		abort();
	ret = ferry_xasprintf("json:%s", s);
	free(s);
	return ret;
}

/* ---- qemu-nbd ------------------------------------------------------------------------ */

/* Start qemu-nbd serving spec on a new socket; wait until it answers. */
static int server_start(struct ferry_source *s, char *spec, struct ferry_nbd_server **out,
			uint64_t *size, struct ferry_err *err)
{
	struct ferry_nbd_server *srv;
	char *bin, *sockarg, *pidarg;
	int rc;

	if (!(bin = ferry_nbd_find_program("qemu-nbd")))
		return ferry_err_set(err, FERRY_E_UNSUPPORTED,
				     "qemu-nbd is not in PATH (Debian: apt install qemu-utils)");
	if (ferry_nbd_server_new(s->work_dir, "ova", ++s->seq, false, &srv, err)) {
		free(bin);
		return -1;
	}
	sockarg = ferry_xasprintf("--socket=%s", srv->sock);
	pidarg = ferry_xasprintf("--pid-file=%s", srv->pidfile);
	{
		/* --persistent and --shared=0: ferry copy opens several
		 * connections, and the probe is one more. The pid file lets a
		 * later ferry stop a server this process left behind. */
		char *argv[] = {bin,	"--read-only", "--persistent", "--shared=0", sockarg,
				pidarg, "--",	       spec,	       NULL};
		struct ferry_nbd_start st = {"qemu-nbd", argv, -1, READY_TIMEOUT_MS,
					     HANDSHAKE_TIMEOUT_S};

		rc = ferry_nbd_server_run(srv, &st, size, err);
	}
	free(bin);
	free(sockarg);
	free(pidarg);
	if (rc) {
		ferry_nbd_server_stop(srv);
		return -1;
	}
	srv->next = s->servers;
	s->servers = srv;
	*out = srv;
	return 0;
}

static int ova_disk_open(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
			 struct ferry_disk_access *a, struct ferry_err *err)
{
	const struct ferry_vm_disk *d;
	struct disk_loc loc = {NULL, 0, 0, false};
	const char *driver = NULL;
	struct ferry_nbd_server *srv = NULL;
	char *spec;
	uint64_t size = 0;
	int ret = -1;

	memset(a, 0, sizeof *a);
	if (i >= vm->ndisks)
		return ferry_err_set(err, FERRY_E_INVALID, "VM '%s' has no disk %zu", vm->name, i);
	d = &vm->disks[i];
	if (d->file) {
		if (locate(s, vm, d->file, &loc, err) ||
		    qemu_driver(d->format, d->file, &loc, &driver, err))
			goto out;
		spec = qemu_json(driver, &loc, 0);
	} else {
		/* A Disk with no file: a blank disk of its capacity. */
		spec = qemu_json(NULL, NULL, d->capacity);
	}
	if (!spec) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED, "%s: the path is not UTF-8", loc.path);
		goto out;
	}
	if (server_start(s, spec, &srv, &size, err) == 0) {
		a->uri = ferry_nbd_socket_uri(srv->sock);
		a->size = size;
		a->priv = srv;
		ret = 0;
	} else {
		ferry_err_prefix(err, "serving disk %zu of VM '%s': ", i, vm->name);
	}
	free(spec);
out:
	free(loc.path);
	return ret;
}

static void ova_disk_close(struct ferry_source *s, struct ferry_disk_access *a)
{
	ferry_nbd_server_drop(&s->servers, a->priv);
	free(a->uri);
	memset(a, 0, sizeof *a);
}

const struct ferry_source_ops ferry_ova_source_ops = {
	.type = "ova",
	.open = ova_open,
	.inventory = ova_inventory,
	.disk_open = ova_disk_open,
	.disk_close = ova_disk_close,
	.close = ova_close,
};
