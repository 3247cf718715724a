#include "internal.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/time.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <libxml/tree.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
	READY_TIMEOUT_MS = 60000, /* for nbdkit to answer on its socket */
	STOP_TIMEOUT_MS = 5000,	  /* from SIGTERM to SIGKILL */
	LOG_EXCERPT = 400,
	HANDSHAKE_TIMEOUT_S = 30,
	SECRET_MAX = 4096, /* bytes of a cookie or password handed over on a pipe */
	SECRET_FD = 3,	   /* where nbdkit finds it */
	CURL_TIMEOUT_S = 300,
};

/* ---- URLs and command lines ------------------------------------------------------------ */

static void add_encoded(struct ferry_sb *sb, const char *s, bool keep_slash)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("-._~", *c) || (keep_slash && *c == '/'))
			ferry_sb_addc(sb, (char)*c);
		else
			ferry_sb_addf(sb, "%%%02X", *c);
	}
}

char *ferry_vsphere_folder_url(const char *base, const char *dc_path, const char *file, bool flat)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	const char *end, *path;
	char *ds, *p;
	size_t n;

	if (!file || file[0] != '[' || !(end = strchr(file, ']')) || end == file + 1)
		return NULL;
	ds = ferry_xstrndup(file + 1, (size_t)(end - file - 1));
	path = end + 1;
	while (*path == ' ')
		path++;
	if (!*path) {
		free(ds);
		return NULL;
	}
	p = ferry_xstrdup(path);
	n = strlen(p);
	if (flat && n > 5 && !strcmp(p + n - 5, ".vmdk") &&
	    !(n > 10 && !strcmp(p + n - 10, "-flat.vmdk"))) {
		p[n - 5] = '\0';
		char *q = ferry_xasprintf("%s-flat.vmdk", p);
		free(p);
		p = q;
	}
	ferry_sb_addf(&sb, "%s/folder/", base);
	add_encoded(&sb, p, true);
	ferry_sb_addc(&sb, '?');
	if (dc_path) {
		ferry_sb_adds(&sb, "dcPath=");
		add_encoded(&sb, dc_path, false);
		ferry_sb_addc(&sb, '&');
	}
	ferry_sb_adds(&sb, "dsName=");
	add_encoded(&sb, ds, false);
	free(ds);
	free(p);
	return ferry_sb_detach(&sb);
}

struct argv {
	char **v;
	size_t n, cap;
};

static void arg(struct argv *a, char *s)
{
	*FERRY_PUSH(a->v, a->n, a->cap) = s;
}

static void common_args(struct argv *a, const char *nbdkit, const char *sock, const char *pidf)
{
	arg(a, ferry_xstrdup(nbdkit));
	/* in the foreground: the server is ferry's child, tied to it */
	arg(a, ferry_xstrdup("--foreground"));
	arg(a, ferry_xstrdup("--readonly"));
	arg(a, ferry_xasprintf("--unix=%s", sock));
	arg(a, ferry_xasprintf("--pidfile=%s", pidf));
}

char **ferry_vsphere_curl_argv(const struct ferry_vsphere_curl *c)
{
	struct argv a = {NULL, 0, 0};

	common_args(&a, c->nbdkit, c->socket, c->pidfile);
	if (c->size)
		arg(&a, ferry_xstrdup("--filter=truncate"));
	arg(&a, ferry_xstrdup("--filter=retry"));
	arg(&a, ferry_xstrdup("curl"));
	arg(&a, ferry_xasprintf("url=%s", c->url));
	if (c->cookie_fd >= 0)
		arg(&a, ferry_xasprintf("cookie=-%d", c->cookie_fd));
	if (c->cainfo)
		arg(&a, ferry_xasprintf("cainfo=%s", c->cainfo));
	if (c->no_verify)
		arg(&a, ferry_xstrdup("sslverify=false"));
	arg(&a, ferry_xasprintf("timeout=%d", CURL_TIMEOUT_S));
	if (c->size)
		arg(&a, ferry_xasprintf("truncate=%" PRIu64, c->size));
	arg(&a, NULL);
	return a.v;
}

char **ferry_vsphere_vddk_argv(const struct ferry_vsphere_vddk *v)
{
	struct argv a = {NULL, 0, 0};

	common_args(&a, v->nbdkit, v->socket, v->pidfile);
	/* virt-v2v's order: cow furthest from the plugin, retry closest */
	arg(&a, ferry_xstrdup("--filter=cow"));
	arg(&a, ferry_xstrdup("--filter=cacheextents"));
	arg(&a, ferry_xstrdup("--filter=retry"));
	arg(&a, ferry_xstrdup("vddk"));
	arg(&a, ferry_xasprintf("server=%s", v->server));
	if (v->port && v->port != 443)
		arg(&a, ferry_xasprintf("port=%u", v->port));
	arg(&a, ferry_xasprintf("user=%s", v->user));
	arg(&a, ferry_xasprintf("password=-%d", v->password_fd));
	arg(&a, ferry_xasprintf("thumbprint=%s", v->thumbprint));
	arg(&a, ferry_xasprintf("vm=moref=%s", v->vm_moref));
	if (v->snapshot)
		arg(&a, ferry_xasprintf("snapshot=%s", v->snapshot));
	arg(&a, ferry_xasprintf("file=%s", v->file));
	arg(&a, ferry_xasprintf("libdir=%s", v->libdir));
	if (v->config)
		arg(&a, ferry_xasprintf("config=%s", v->config));
	arg(&a, NULL);
	return a.v;
}

void ferry_vsphere_argv_free(char **argv)
{
	for (char **p = argv; p && *p; p++)
		free(*p);
	free(argv);
}

/* ---- nbdkit ------------------------------------------------------------------------------- */

static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *ret = NULL;

	copy = ferry_xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *dir = strtok_r(copy, ":", &save); dir && !ret;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p = ferry_path_join(*dir ? dir : ".", name);
		if (access(p, X_OK) == 0)
			ret = p;
		else
			free(p);
	}
	free(copy);
	return ret;
}

static bool reaped(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	return r == pid || (r < 0 && errno == ECHILD);
}

static void server_stop(struct vs_server *srv)
{
	if (srv->pid > 0) {
		int st;
		kill(srv->pid, SIGTERM);
		for (long waited = 0; !reaped(srv->pid, &st); waited += 10) {
			if (waited >= STOP_TIMEOUT_MS) {
				kill(srv->pid, SIGKILL);
				while (waitpid(srv->pid, &st, 0) < 0 && errno == EINTR)
					;
				break;
			}
			ferry_sleep(0.01);
		}
	}
	const char *files[] = {srv->sock, srv->log, srv->pidfile, srv->cafile};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++)
		if (files[i])
			unlink(files[i]);
	free(srv->sock);
	free(srv->log);
	free(srv->pidfile);
	free(srv->cafile);
	free(srv);
}

void vs_servers_stop(struct ferry_source *s)
{
	while (s->servers) {
		struct vs_server *srv = s->servers;
		s->servers = srv->next;
		server_stop(srv);
	}
}

/* Stop the servers a ferry process killed before it could stop them left
 * in work_dir (vs-OWNER-N.pid, OWNER gone), as the ova driver does: only a
 * process whose command line names this file's socket is killed. */
void vs_reap_leftovers(const char *work_dir)
{
	DIR *d = opendir(work_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		long owner;
		unsigned seq;
		int end = 0;
		char *base, *pidf, *text = NULL, *cmd = NULL;
		size_t len;

		if (sscanf(de->d_name, "vs-%ld-%u.pid%n", &owner, &seq, &end) != 2 ||
		    de->d_name[end] || owner == (long)getpid() ||
		    !(kill((pid_t)owner, 0) < 0 && errno == ESRCH))
			continue;
		base = ferry_xasprintf("%s/vs-%ld-%u", work_dir, owner, seq);
		pidf = ferry_xasprintf("%s.pid", base);
		if (!ferry_read_file(pidf, 64, &text, &len)) {
			long spid = strtol(text, NULL, 10);
			char *proc = ferry_xasprintf("/proc/%ld/cmdline", spid);
			char *sock = ferry_xasprintf("%s.sock", base);

			if (spid > 1 && !ferry_read_file(proc, 1 << 16, &cmd, &len) &&
			    memmem(cmd, len, sock, strlen(sock))) {
				kill((pid_t)spid, SIGKILL);
				ferry_warn("stopped nbdkit %ld, left serving %s by a ferry process "
					   "that was killed",
					   spid, sock);
			}
			free(proc);
			free(sock);
		}
		for (size_t x = 0; x < 4; x++) {
			static const char *const exts[] = {".pid", ".sock", ".log", ".ca"};
			char *f = ferry_xasprintf("%s%s", base, exts[x]);
			unlink(f);
			free(f);
		}
		free(text);
		free(cmd);
		free(pidf);
		free(base);
	}
	closedir(d);
}

static bool io_full(int fd, void *buf, size_t n, bool writing)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = writing ? send(fd, (char *)buf + done, n - done, MSG_NOSIGNAL)
				    : recv(fd, (char *)buf + done, n - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The export's size from the server itself (fixed newstyle handshake up
 * to NBD_OPT_EXPORT_NAME, then NBD_CMD_DISC): proof that the plugin could
 * open the disk (nbdkit curl reaches the URL when a client connects). */
static bool nbd_export_size(int fd, uint64_t *size)
{
	unsigned char b[18 + 124], opt[16], disc[28] = {0};
	uint16_t sflags;
	bool no_zeroes;

	if (!io_full(fd, b, 18, false) || memcmp(b, "NBDMAGIC", 8) != 0 ||
	    memcmp(b + 8, "IHAVEOPT", 8) != 0)
		return false;
	sflags = (uint16_t)(b[16] << 8 | b[17]);
	if (!(sflags & 1))
		return false;
	no_zeroes = sflags & 2;
	put_be32(b, 1u | (no_zeroes ? 2u : 0u));
	memcpy(opt, "IHAVEOPT", 8);
	put_be32(opt + 8, 1);
	put_be32(opt + 12, 0);
	if (!io_full(fd, b, 4, true) || !io_full(fd, opt, sizeof opt, true) ||
	    !io_full(fd, b, no_zeroes ? 10 : 10 + 124, false))
		return false;
	*size = (uint64_t)be32(b) << 32 | be32(b + 4);
	put_be32(disc, 0x25609513);
	disc[7] = 2;
	(void)io_full(fd, disc, sizeof disc, true);
	return true;
}

/* 1 answered (size set), 0 not listening yet, -1 listening but no export. */
static int probe(const char *sock, uint64_t *size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {HANDSHAKE_TIMEOUT_S, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	ret = nbd_export_size(fd, size) ? 1 : -1;
	close(fd);
	return ret;
}

static char *log_excerpt(const char *log)
{
	char buf[LOG_EXCERPT + 1];
	ssize_t n = -1;
	int fd = open(log, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		struct stat st;
		/* the end of the log says why */
		if (!fstat(fd, &st) && st.st_size > LOG_EXCERPT)
			lseek(fd, st.st_size - LOG_EXCERPT, SEEK_SET);
		n = read(fd, buf, LOG_EXCERPT);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	for (char *c = buf; *c; c++)
		if (*c == '\n' || (unsigned char)*c < 0x20)
			*c = *(c + 1) ? ' ' : '\0';
	return ferry_xstrdup(n > 0 ? buf : "(no message)");
}

static pid_t spawn(char *const argv[], int logfd, int secret_fd)
{
	pid_t pid;
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (nullfd < 0)
		return -1;
	pid = ferry_fork_tied(); /* never outlive ferry */
	if (pid == 0) {
		/* Async-signal-safe calls only from here on. */
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		if (secret_fd >= 0 && dup2(secret_fd, SECRET_FD) < 0)
			_exit(127);
		if (close_range(secret_fd >= 0 ? SECRET_FD + 1 : 3, ~0u, 0) != 0)
			for (int fd = secret_fd >= 0 ? SECRET_FD + 1 : 3; fd < 1024; fd++)
				close(fd);
		execv(argv[0], argv);
		_exit(127);
	}
	close(nullfd);
	return pid;
}

/* A pipe holding secret, its read end returned: nbdkit reads it (-FD) at
 * start-up, so the secret never appears on a command line. */
static int secret_pipe(const char *secret, struct ferry_err *err)
{
	int p[2];
	size_t n = strlen(secret);

	if (n > SECRET_MAX)
		return ferry_err_set(err, FERRY_E_LIMIT, "vsphere: a secret longer than %d bytes",
				     SECRET_MAX);
	if (pipe2(p, O_CLOEXEC))
		return ferry_err_set(err, FERRY_E_IO, "pipe: %s", strerror(errno));
	if (write(p[1], secret, n) != (ssize_t)n) {
		close(p[0]);
		close(p[1]);
		return ferry_err_set(err, FERRY_E_IO, "pipe: %s", strerror(errno));
	}
	close(p[1]);
	return p[0];
}

struct start {
	const char *what; /* "nbdkit curl" */
	char **argv;
	const char *secret; /* or NULL */
};

static int server_new(struct ferry_source *s, struct vs_server **out, struct ferry_err *err)
{
	struct sockaddr_un sa;
	struct vs_server *srv;
	long pid = (long)getpid();

	if (!s->work_dir)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "the vsphere driver needs a work directory to serve disks");
	srv = ferry_xcalloc(1, sizeof *srv);
	s->seq++;
	srv->sock = ferry_xasprintf("%s/vs-%ld-%u.sock", s->work_dir, pid, s->seq);
	srv->log = ferry_xasprintf("%s/vs-%ld-%u.log", s->work_dir, pid, s->seq);
	srv->pidfile = ferry_xasprintf("%s/vs-%ld-%u.pid", s->work_dir, pid, s->seq);
	srv->cafile = ferry_xasprintf("%s/vs-%ld-%u.ca", s->work_dir, pid, s->seq);
	if (strlen(srv->sock) >= sizeof sa.sun_path) {
		ferry_err_set(err, FERRY_E_LIMIT,
			      "socket path %s is longer than %zu bytes; use a shorter work "
			      "directory",
			      srv->sock, sizeof sa.sun_path - 1);
		server_stop(srv);
		return -1;
	}
	unlink(srv->sock);
	*out = srv;
	return 0;
}

static int server_run(struct ferry_source *s, struct vs_server *srv, const struct start *st,
		      uint64_t *size, struct ferry_err *err)
{
	int logfd, secret_fd = -1, status = 0;

	logfd = open(srv->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0)
		return ferry_err_set(err, FERRY_E_IO, "%s: %s", srv->log, strerror(errno));
	if (st->secret && (secret_fd = secret_pipe(st->secret, err)) < 0) {
		close(logfd);
		return -1;
	}
	srv->pid = spawn(st->argv, logfd, secret_fd);
	close(logfd);
	if (secret_fd >= 0)
		close(secret_fd);
	if (srv->pid < 0) {
		srv->pid = 0;
		return ferry_err_set(err, FERRY_E_IO, "starting %s: %s", st->what, strerror(errno));
	}
	for (long waited = 0;; waited += 10) {
		int r = probe(srv->sock, size);
		if (r == 1)
			break;
		if (reaped(srv->pid, &status) || r < 0) {
			char *msg;
			if (r < 0) { /* listening, but the plugin could not open the disk */
				kill(srv->pid, SIGTERM);
				while (waitpid(srv->pid, &status, 0) < 0 && errno == EINTR)
					;
			}
			srv->pid = 0;
			msg = log_excerpt(srv->log);
			ferry_err_set(err, FERRY_E_IO, "%s %s: %s", st->what,
				      r < 0 ? "serves no disk" : "exited", msg);
			free(msg);
			return -1;
		}
		if (waited >= READY_TIMEOUT_MS)
			return ferry_err_set(err, FERRY_E_TIMEOUT,
					     "%s did not answer on %s in %d s", st->what, srv->sock,
					     READY_TIMEOUT_MS / 1000);
		ferry_sleep(0.01);
	}
	(void)s;
	return 0;
}

static char *socket_uri(const char *sock)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	ferry_sb_adds(&sb, "nbd+unix:///?socket=");
	add_encoded(&sb, sock, true);
	return ferry_sb_detach(&sb);
}

/* ---- disk_open ------------------------------------------------------------------------------ */

static int find_disk(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
		     const char *snapshot_id, struct vs_disk *out, struct ferry_err *err)
{
	static const char *const paths[] = {"config.hardware.device", NULL};
	struct vs_reply r = VS_REPLY_INIT;
	struct vs_disk *d;
	struct vs_nic *n;
	size_t nd, nn;
	xmlNode *o;
	uint64_t key;
	char *end;
	int rc = -1;

	if (i >= vm->ndisks)
		return ferry_err_set(err, FERRY_E_INVALID, "VM '%s' has no disk %zu", vm->name, i);
	key = strtoull(vm->disks[i].id, &end, 10);
	if (*end || !*vm->disks[i].id)
		return ferry_err_set(err, FERRY_E_INVALID, "VM '%s': disk id '%s' is not a key",
				     vm->name, vm->disks[i].id);
	if (vs_retrieve(s, snapshot_id ? "VirtualMachineSnapshot" : "VirtualMachine",
			snapshot_id ? snapshot_id : vm->id, paths, &r, &o, err)) {
		vs_reply_release(&r);
		return -1;
	}
	vs_devices_parse(vs_propval(o, "config.hardware.device"), &d, &nd, &n, &nn);
	for (size_t k = 0; k < nd; k++) {
		if (d[k].key == key && rc) {
			*out = d[k];
			memset(&d[k], 0, sizeof d[k]);
			rc = 0;
		}
	}
	if (rc)
		ferry_err_set(err, FERRY_E_NOT_FOUND, "vsphere: %s has no disk %s",
			      snapshot_id ? snapshot_id : vm->id, vm->disks[i].id);
	vs_disks_free(d, nd);
	vs_nics_free(n, nn);
	vs_reply_release(&r);
	return rc;
}

static bool vddk_present(const char *libdir)
{
	glob_t g;
	char *pat = ferry_xasprintf("%s/lib64/libvixDiskLib.so*", libdir);
	bool yes = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;

	if (yes || g.gl_pathc == 0)
		globfree(&g);
	free(pat);
	return yes;
}

static int open_vddk(struct ferry_source *s, const struct ferry_vm *vm, const struct vs_disk *d,
		     const char *snapshot_id, struct vs_server *srv, char *nbdkit, uint64_t *size,
		     struct ferry_err *err)
{
	struct ferry_vsphere_vddk v = {0};
	struct start st = {"nbdkit vddk", NULL, s->password};
	int rc;

	if (!vddk_present(s->vddk_libdir))
		return ferry_err_set(err, FERRY_E_UNSUPPORTED,
				     "VDDK library not found at %s (expected "
				     "%s/lib64/libvixDiskLib.so*)",
				     s->vddk_libdir, s->vddk_libdir);
	if (!*vs_soap_sha1(s->soap))
		return ferry_err_set(err, FERRY_E_CERTIFICATE,
				     "vsphere: no server certificate seen: VDDK needs its "
				     "thumbprint");
	v.nbdkit = nbdkit;
	v.socket = srv->sock;
	v.pidfile = srv->pidfile;
	v.server = vs_soap_host(s->soap);
	v.port = vs_soap_port(s->soap);
	v.user = s->user;
	v.password_fd = SECRET_FD;
	v.thumbprint = vs_soap_sha1(s->soap);
	v.vm_moref = vm->id;
	v.snapshot = snapshot_id;
	v.file = d->file;
	v.libdir = s->vddk_libdir;
	v.config = s->vddk_config;
	st.argv = ferry_vsphere_vddk_argv(&v);
	rc = server_run(s, srv, &st, size, err);
	ferry_vsphere_argv_free(st.argv);
	return rc;
}

static int open_curl(struct ferry_source *s, const struct ferry_vm *vm, const struct vs_disk *d,
		     const char *snapshot_id, struct vs_server *srv, char *nbdkit, uint64_t *size,
		     struct ferry_err *err)
{
	struct ferry_vsphere_curl c = {0};
	struct start st = {"nbdkit curl", NULL, vs_soap_cookie(s->soap)};
	char *dc_path = NULL, *url;
	int rc;

	if (d->rdm)
		return ferry_err_set(err, FERRY_E_UNSUPPORTED,
				     "disk %" PRIu64 " of VM '%s' is a raw device mapping: its "
				     "LUN cannot be read over the datastore's HTTPS access (VDDK "
				     "reads it)",
				     d->key, vm->name);
	if (d->has_parent)
		return ferry_err_set(
			err, FERRY_E_UNSUPPORTED,
			"disk %" PRIu64 " of VM '%s' %s a snapshot's delta on a parent disk: the "
			"datastore's HTTPS access reads single files only (remove the VM's "
			"snapshots, or use VDDK)",
			d->key, vm->name, snapshot_id ? "at that snapshot is" : "is");
	if (!vs_store_datacenter(&s->store, vm->id, &dc_path))
		return ferry_err_set(err, FERRY_E_NOT_FOUND,
				     "vsphere: VM '%s' (%s) is in no datacenter the inventory "
				     "knows",
				     vm->name, vm->id);
	url = ferry_vsphere_folder_url(vs_soap_base(s->soap), dc_path, d->file, d->flat);
	free(dc_path);
	if (!url)
		return ferry_err_set(err, FERRY_E_UNSUPPORTED,
				     "disk %" PRIu64 " of VM '%s': backing file '%s' is not "
				     "'[datastore] path'",
				     d->key, vm->name, d->file ? d->file : "");
	if (s->cacert && !s->insecure && !s->pinned) {
		if (ferry_write_file_atomic(srv->cafile, s->cacert, strlen(s->cacert), 0600)) {
			ferry_err_set(err, FERRY_E_IO, "%s: %s", srv->cafile, strerror(errno));
			free(url);
			return -1;
		}
		c.cainfo = srv->cafile;
	}
	c.nbdkit = nbdkit;
	c.socket = srv->sock;
	c.pidfile = srv->pidfile;
	c.url = url;
	c.cookie_fd = st.secret ? SECRET_FD : -1;
	/* a pinned certificate was checked by the SOAP session's handshakes
	 * with the same server; nbdkit curl cannot pin */
	c.no_verify = s->insecure || s->pinned;
	c.size = d->capacity;
	st.argv = ferry_vsphere_curl_argv(&c);
	ferry_debug("vsphere: %s: serving disk %" PRIu64 " of VM '%s' from %s", s->label, d->key,
		    vm->name, url);
	rc = server_run(s, srv, &st, size, err);
	ferry_vsphere_argv_free(st.argv);
	free(url);
	return rc;
}

int vs_disk_open(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
		 const char *snapshot_id, struct ferry_disk_access *a, struct ferry_err *err)
{
	struct vs_disk d = {0};
	struct vs_server *srv = NULL;
	char *nbdkit = NULL;
	uint64_t size = 0;
	int rc = -1;

	memset(a, 0, sizeof *a);
	if (!s->loaded) {
		struct ferry_inventory inv = {0};
		struct ferry_findings f = FERRY_FINDINGS_INIT;
		rc = vs_inventory(s, &inv, &f, err);
		ferry_inventory_release(&inv);
		ferry_findings_release(&f);
		if (rc)
			return -1;
		rc = -1;
	}
	if (find_disk(s, vm, i, snapshot_id, &d, err))
		goto out;
	if (!(nbdkit = find_program("nbdkit"))) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED,
			      "nbdkit is not in PATH (Debian: apt install nbdkit)");
		goto out;
	}
	if (server_new(s, &srv, err))
		goto out;
	if (s->vddk_libdir)
		rc = open_vddk(s, vm, &d, snapshot_id, srv, nbdkit, &size, err);
	else
		rc = open_curl(s, vm, &d, snapshot_id, srv, nbdkit, &size, err);
	if (rc) {
		server_stop(srv);
		goto out;
	}
	srv->next = s->servers;
	s->servers = srv;
	a->uri = socket_uri(srv->sock);
	a->size = size;
	a->priv = srv;
	a->connections = s->vddk_libdir ? 1 : 0;
out:
	if (rc)
		ferry_err_prefix(err, "serving disk %s of VM '%s': ",
				 i < vm->ndisks ? vm->disks[i].id : "?", vm->name);
	vs_disk_release(&d);
	free(nbdkit);
	return rc;
}

void vs_disk_close(struct ferry_source *s, struct ferry_disk_access *a)
{
	for (struct vs_server **pp = &s->servers; *pp; pp = &(*pp)->next) {
		if (*pp == a->priv) {
			struct vs_server *srv = *pp;
			*pp = srv->next;
			server_stop(srv);
			break;
		}
	}
	free(a->uri);
	memset(a, 0, sizeof *a);
}
