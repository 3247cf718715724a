#include "internal.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum {
	READY_TIMEOUT_MS = 60000, /* for nbdkit to answer on its socket */
	HANDSHAKE_TIMEOUT_S = 30,
	SECRET_MAX = 4096,		 /* bytes of a cookie or password handed over on a pipe */
	SECRET_FD = FERRY_NBD_SECRET_FD, /* where nbdkit finds it */
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

void vs_servers_stop(struct ferry_source *s)
{
	ferry_nbd_servers_stop(&s->servers);
}

void vs_reap_leftovers(const char *work_dir)
{
	ferry_nbd_reap_leftovers(work_dir, "vs");
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

/* Start nbdkit (argv) with secret on a pipe, and wait until it serves. */
static int server_run(struct ferry_nbd_server *srv, const char *what, char **argv,
		      const char *secret, uint64_t *size, struct ferry_err *err)
{
	struct ferry_nbd_start st = {what, argv, -1, READY_TIMEOUT_MS, HANDSHAKE_TIMEOUT_S};
	int rc;

	if (secret && (st.secret_fd = secret_pipe(secret, err)) < 0)
		return -1;
	rc = ferry_nbd_server_run(srv, &st, size, err);
	if (st.secret_fd >= 0)
		close(st.secret_fd);
	return rc;
}

/* ---- Host routes ----------------------------------------------------------------------------- */

struct vs_host *vs_host_of(struct vs_host *hosts, size_t n, const struct ferry_vm *vm)
{
	struct vs_host *by_name = NULL;

	for (size_t i = 0; i < n; i++) {
		struct vs_host *h = &hosts[i];

		if (h->id) {
			if (vm->host && !strcmp(h->id, vm->host))
				return h;
		} else if (!by_name && h->name && vm->host_name &&
			   !strcasecmp(h->name, vm->host_name)) {
			by_name = h;
		}
	}
	return by_name;
}

void vs_vddk_via_host(struct ferry_vsphere_vddk *v, const struct vs_host *h)
{
	v->server = h->ip;
	v->port = 0; /* ESXi's 443, as Forklift builds https://IP/sdk */
	v->user = h->user;
	v->thumbprint = h->thumbprint;
}

/* The thumbprint vCenter keeps for ESXi host moref (the one it checks the
 * host against), or NULL when it has none. */
static int vcenter_thumbprint(struct ferry_source *s, const char *moref, char **out,
			      struct ferry_err *err)
{
	static const char *const paths[] = {"summary.config.sslThumbprint", NULL};
	struct vs_reply r = VS_REPLY_INIT;
	xmlNode *o;
	int rc = vs_retrieve(s, "HostSystem", moref, paths, &r, &o, err);

	*out = rc ? NULL : vs_text(vs_propval(o, paths[0]));
	if (*out && !**out) {
		free(*out);
		*out = NULL;
	}
	vs_reply_release(&r);
	return rc;
}

/* Open the session with h's ESXi host (https://IP/sdk, the Host's user
 * and password), its certificate pinned to the Host's thumbprint or, when
 * the Host's secret has none, to the one vCenter keeps for the host moref:
 * a pin nobody checked (the certificate the host shows now) is no check.
 * Then h->thumbprint is the SHA-1 the session saw, as VDDK wants it. */
static int host_connect(struct ferry_source *s, struct vs_host *h, const char *moref,
			struct ferry_err *err)
{
	char *keys[] = {"user", "password", "thumbprint"}, *vals[3];
	struct ferry_source_config cfg = {.ns = h->label, .name = h->ip, .type = "vsphere"};
	char *pin = NULL, *url;
	int rc;

	if (h->src)
		return 0;
	if (!h->thumbprint && moref && vcenter_thumbprint(s, moref, &pin, err))
		return ferry_err_prefix(err, "the thumbprint vCenter has for %s: ", moref);
	if (!h->thumbprint && !pin)
		return ferry_err_set(err, FERRY_E_CERTIFICATE,
				     "no thumbprint to check the ESXi host's certificate against: "
				     "the Host's secret has none, and vCenter has none for %s "
				     "(summary.config.sslThumbprint); add `thumbprint` to the "
				     "Host's secret",
				     moref ? moref : "the VM's host");
	url = ferry_xasprintf(strchr(h->ip, ':') ? "https://[%s]/sdk" : "https://%s/sdk", h->ip);
	vals[0] = h->user;
	vals[1] = h->password;
	vals[2] = h->thumbprint ? h->thumbprint : pin;
	cfg.url = url;
	cfg.secret = (struct ferry_pairs){keys, vals, 3};
	rc = vs_open(&h->src, &cfg, err);
	free(url);
	free(pin);
	if (rc)
		return -1;
	free(h->thumbprint);
	h->thumbprint = ferry_xstrdup(vs_soap_sha1(h->src->soap));
	return 0;
}

/* vm's moref on h's host: found by its BIOS UUID (SearchIndex.FindByUuid),
 * as CDI's VDDK importer finds it; an ESXi host numbers its VMs its own
 * way. *out is malloc'd. */
static int host_vm(struct vs_host *h, const struct ferry_vm *vm, char **out, struct ferry_err *err)
{
	struct vs_soap *soap = h->src->soap;
	struct ferry_sb b = FERRY_SB_INIT;
	struct vs_reply r = VS_REPLY_INIT;
	int rc = -1;

	*out = NULL;
	if (!vm->uuid || !*vm->uuid)
		return ferry_err_set(err, FERRY_E_NOT_FOUND,
				     "VM '%s' (%s) has no UUID to find it on the ESXi host by",
				     vm->name, vm->id);
	if (!h->search_index) {
		if (vs_call(soap, "RetrieveServiceContent",
			    "<_this type=\"ServiceInstance\">ServiceInstance</_this>", &r, err))
			goto out;
		h->search_index = vs_child_text(vs_child(r.resp, "returnval"), "searchIndex");
		vs_reply_release(&r);
		if (!h->search_index) {
			ferry_err_set(err, FERRY_E_UNSUPPORTED,
				      "vsphere: RetrieveServiceContent: no searchIndex");
			goto out;
		}
	}
	if (vs_add_this(&b, "SearchIndex", h->search_index, err) ||
	    vs_add_text(&b, "uuid", vm->uuid, err))
		goto out;
	ferry_sb_adds(&b, "<vmSearch>true</vmSearch>");
	if (vs_call(soap, "FindByUuid", b.buf, &r, err))
		goto out;
	if (!(*out = vs_child_text(r.resp, "returnval")))
		ferry_err_set(err, FERRY_E_NOT_FOUND,
			      "VM '%s' (%s, uuid %s) is not on the ESXi host (FindByUuid found "
			      "nothing)",
			      vm->name, vm->id, vm->uuid);
	else
		rc = 0;
out:
	vs_reply_release(&r);
	ferry_sb_release(&b);
	return rc;
}

/* The moref on h's host of vm's snapshot snapshot_id (vCenter's moref):
 * the snapshot of the same name there (ferry names its snapshots after
 * operation ids, which are unique). host_vm is vm's moref on the host. */
/* The name of vCenter's snapshot snapshot_id (config.name), or an error. */
static int snapshot_name(struct ferry_source *s, const char *snapshot_id, char **out,
			 struct ferry_err *err)
{
	static const char *const paths[] = {"config.name", NULL};
	struct vs_reply r = VS_REPLY_INIT;
	xmlNode *o;
	int rc = vs_retrieve(s, "VirtualMachineSnapshot", snapshot_id, paths, &r, &o, err);

	*out = rc ? NULL : vs_text(vs_propval(o, paths[0]));
	vs_reply_release(&r);
	if (!rc && !*out)
		rc = ferry_err_set(err, FERRY_E_NOT_FOUND, "snapshot %s has no name", snapshot_id);
	return rc;
}

static int host_snapshot(struct ferry_source *s, struct vs_host *h, const struct ferry_vm *vm,
			 char *host_vm, const char *snapshot_id, char **out, struct ferry_err *err)
{
	struct ferry_vm on_host = {.id = host_vm, .name = vm->name};
	struct ferry_snapshot sn;
	const char *name = NULL;

	*out = NULL;
	char *asked = NULL;
	int rc;

	for (size_t i = 0; i < vm->nsnapshots && !name; i++)
		if (!strcmp(vm->snapshots[i].id, snapshot_id))
			name = vm->snapshots[i].name;
	/* one taken since the inventory was read (a warm round's): ask vCenter */
	if (!name && !snapshot_name(s, snapshot_id, &asked, err))
		name = asked;
	if (!name) {
		ferry_err_prefix(err,
				 "VM '%s' (%s): the name of snapshot %s, which finds it on the "
				 "ESXi host: ",
				 vm->name, vm->id, snapshot_id);
		return -1;
	}
	rc = vs_snapshot_find(h->src, &on_host, name, &sn, err);
	free(asked);
	if (rc)
		return -1;
	*out = sn.id;
	sn.id = NULL;
	ferry_snapshot_release(&sn);
	return 0;
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
	int rc = -1;

	if (vs_disk_key(vm, i, &key, err))
		return -1;
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

static int open_vddk(struct ferry_source *s, struct vs_host *h, const struct ferry_vm *vm,
		     const struct vs_disk *d, const char *snapshot_id, struct ferry_nbd_server *srv,
		     char *nbdkit, uint64_t *size, struct ferry_err *err)
{
	struct ferry_vsphere_vddk v = {0};
	char *host_vm_ref = NULL, *host_snap = NULL, **argv;
	int rc = -1;

	if (!vddk_present(s->vddk_libdir))
		return ferry_err_set(err, FERRY_E_UNSUPPORTED,
				     "VDDK library not found at %s (expected "
				     "%s/lib64/libvixDiskLib.so*)",
				     s->vddk_libdir, s->vddk_libdir);
	v.nbdkit = nbdkit;
	v.socket = srv->sock;
	v.pidfile = srv->pidfile;
	v.password_fd = SECRET_FD;
	v.file = d->file;
	v.libdir = s->vddk_libdir;
	v.config = s->vddk_config;
	if (h) {
		if (host_vm(h, vm, &host_vm_ref, err) ||
		    (snapshot_id &&
		     host_snapshot(s, h, vm, host_vm_ref, snapshot_id, &host_snap, err)))
			goto out;
		vs_vddk_via_host(&v, h);
		v.vm_moref = host_vm_ref;
		v.snapshot = host_snap;
	} else {
		if (!*vs_soap_sha1(s->soap)) {
			ferry_err_set(err, FERRY_E_CERTIFICATE,
				      "vsphere: no server certificate seen: VDDK needs its "
				      "thumbprint");
			goto out;
		}
		v.server = vs_soap_host(s->soap);
		v.port = vs_soap_port(s->soap);
		v.user = s->user;
		v.thumbprint = vs_soap_sha1(s->soap);
		v.vm_moref = vm->id;
		v.snapshot = snapshot_id;
	}
	argv = ferry_vsphere_vddk_argv(&v);
	rc = server_run(srv, "nbdkit vddk", argv, h ? h->password : s->password, size, err);
	ferry_vsphere_argv_free(argv);
out:
	free(host_vm_ref);
	free(host_snap);
	return rc;
}

static int open_curl(struct ferry_source *s, struct vs_host *h, const struct ferry_vm *vm,
		     const struct vs_disk *d, const char *snapshot_id, struct ferry_nbd_server *srv,
		     char *nbdkit, uint64_t *size, struct ferry_err *err)
{
	struct ferry_vsphere_curl c = {0};
	struct vs_soap *soap = h ? h->src->soap : s->soap;
	const char *cookie;
	char *dc_path = NULL, *url, **argv;
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
	if (h) {
		/* nbdkit gets the host session's cookie: make sure it lives */
		if (vs_soap_check(soap, err))
			return -1;
		dc_path = ferry_xstrdup("ha-datacenter"); /* an ESXi host's one datacenter */
	} else if (!vs_store_datacenter(&s->store, vm->id, &dc_path)) {
		return ferry_err_set(err, FERRY_E_NOT_FOUND,
				     "vsphere: VM '%s' (%s) is in no datacenter the inventory "
				     "knows",
				     vm->name, vm->id);
	}
	url = ferry_vsphere_folder_url(vs_soap_base(soap), dc_path, d->file, d->flat);
	free(dc_path);
	if (!url)
		return ferry_err_set(err, FERRY_E_UNSUPPORTED,
				     "disk %" PRIu64 " of VM '%s': backing file '%s' is not "
				     "'[datastore] path'",
				     d->key, vm->name, d->file ? d->file : "");
	if (!h && s->cacert && !s->insecure && !s->pinned) {
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
	cookie = vs_soap_cookie(soap);
	c.cookie_fd = cookie ? SECRET_FD : -1;
	/* a pinned certificate (a Host's always is) was checked by the SOAP
	 * session's handshakes with the same server; nbdkit curl cannot pin */
	c.no_verify = h || s->insecure || s->pinned;
	c.size = d->capacity;
	argv = ferry_vsphere_curl_argv(&c);
	ferry_debug("vsphere: %s: serving disk %" PRIu64 " of VM '%s' from %s%s%s", s->label,
		    d->key, vm->name, url, h ? " through Host " : "", h ? h->label : "");
	rc = server_run(srv, "nbdkit curl", argv, cookie, size, err);
	ferry_vsphere_argv_free(argv);
	free(url);
	return rc;
}

int vs_disk_open(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
		 const char *snapshot_id, struct ferry_disk_access *a, struct ferry_err *err)
{
	struct vs_disk d = {0};
	struct vs_host *h;
	struct ferry_nbd_server *srv = NULL;
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
	if (!(nbdkit = ferry_nbd_find_program("nbdkit"))) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED,
			      "nbdkit is not in PATH (Debian: apt install nbdkit)");
		goto out;
	}
	if (ferry_nbd_server_new(s->work_dir, "vs", ++s->seq, true, &srv, err))
		goto out;
	h = vs_host_of(s->hosts, s->nhosts, vm);
	if (h && host_connect(s, h, vm->host, err))
		rc = -1;
	else if (s->vddk_libdir)
		rc = open_vddk(s, h, vm, &d, snapshot_id, srv, nbdkit, &size, err);
	else
		rc = open_curl(s, h, vm, &d, snapshot_id, srv, nbdkit, &size, err);
	if (rc) {
		if (h)
			ferry_err_prefix(err, "through Host %s (%s): ", h->label, h->ip);
		ferry_nbd_server_stop(srv);
		goto out;
	}
	srv->next = s->servers;
	s->servers = srv;
	a->uri = ferry_nbd_socket_uri(srv->sock);
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
	ferry_nbd_server_drop(&s->servers, a->priv);
	free(a->uri);
	memset(a, 0, sizeof *a);
}
