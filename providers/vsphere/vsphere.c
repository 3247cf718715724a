#include "internal.h"

#include "common/alloc.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void hosts_release(struct ferry_source *s)
{
	for (size_t i = 0; i < s->nhosts; i++) {
		struct vs_host *h = &s->hosts[i];

		vs_close(h->src);
		free(h->label);
		free(h->id);
		free(h->name);
		free(h->ip);
		free(h->user);
		wipe_free(h->password);
		free(h->thumbprint);
		free(h->search_index);
	}
	free(s->hosts);
}

void vs_close(struct ferry_source *s)
{
	if (!s)
		return;
	vs_servers_stop(s);
	hosts_release(s);
	if (s->soap)
		vs_inventory_forget(s);
	vs_soap_close(s->soap);
	vs_store_release(&s->store);
	free(s->view);
	free(s->filter);
	free(s->version);
	free(s->label);
	free(s->user);
	wipe_free(s->password);
	free(s->cacert);
	free(s->work_dir);
	free(s->vddk_libdir);
	free(s->vddk_config);
	free(s);
}

static char *dup_or_null(const char *v)
{
	return v && *v ? ferry_xstrdup(v) : NULL;
}

/* Copy the Host routes; each needs an address, a user and a password, and
 * a thumbprint it gives must parse. */
static int hosts_copy(struct ferry_source *s, const struct ferry_source_config *cfg,
		      struct ferry_err *err)
{
	s->hosts = ferry_xcalloc(cfg->nhosts ? cfg->nhosts : 1, sizeof *s->hosts);
	for (size_t i = 0; i < cfg->nhosts; i++) {
		const struct ferry_source_host *c = &cfg->hosts[i];
		const char *thumb = ferry_pairs_get(&c->secret, "thumbprint");
		struct vs_host *h = &s->hosts[s->nhosts++];
		unsigned char md[32];
		size_t len;

		h->label = ferry_xasprintf("%s/%s", c->ns ? c->ns : "", c->name ? c->name : "");
		h->id = dup_or_null(c->id);
		h->name = dup_or_null(c->host_name);
		h->ip = dup_or_null(c->ip_address);
		h->user = dup_or_null(ferry_pairs_get(&c->secret, "user"));
		h->password = dup_or_null(ferry_pairs_get(&c->secret, "password"));
		h->thumbprint = dup_or_null(thumb);
		if (!h->id && !h->name)
			return ferry_err_set(err, FERRY_E_INVALID,
					     "Host %s: neither spec.id nor spec.name names the "
					     "ESXi host",
					     h->label);
		if (!h->ip)
			return ferry_err_set(err, FERRY_E_INVALID, "Host %s: no ipAddress",
					     h->label);
		if (!h->user || !h->password)
			return ferry_err_set(err, FERRY_E_INVALID, "Host %s: its secret has no %s",
					     h->label, h->user ? "password" : "user");
		if (h->thumbprint && vs_thumbprint_parse(h->thumbprint, md, &len, err))
			return ferry_err_prefix(err, "Host %s: ", h->label);
	}
	return 0;
}

/* "true"/"false" as Forklift's Secret writes them; absent is false. */
static int flag(const char *v, const char *key, bool *out, struct ferry_err *err)
{
	*out = false;
	if (!v || !*v || !strcasecmp(v, "false"))
		return 0;
	if (!strcasecmp(v, "true")) {
		*out = true;
		return 0;
	}
	return ferry_err_set(err, FERRY_E_INVALID, "the secret's %s is '%s', not true or false",
			     key, v);
}

int vs_open(struct ferry_source **out, const struct ferry_source_config *cfg, struct ferry_err *err)
{
	struct ferry_source *s = ferry_xcalloc(1, sizeof *s);
	const char *thumb = ferry_pairs_get(&cfg->secret, "thumbprint");
	const char *cacert = ferry_pairs_get(&cfg->secret, "cacert");
	const char *endpoint = ferry_pairs_get(&cfg->settings, "sdkEndpoint");
	const char *libdir = ferry_pairs_get(&cfg->settings, "vddkLibDir");
	const char *image = ferry_pairs_get(&cfg->settings, "vddkInitImage");
	const char *vcfg = ferry_pairs_get(&cfg->settings, "vddkConfig");
	struct vs_session_config sc = {0};
	const struct vs_service *svc;

	*out = NULL;
	vs_store_init(&s->store);
	s->label = ferry_xasprintf("%s/%s", cfg->ns ? cfg->ns : "", cfg->name ? cfg->name : "");
	if (flag(ferry_pairs_get(&cfg->secret, "insecureSkipVerify"), "insecureSkipVerify",
		 &s->insecure, err))
		goto fail;
	s->pinned = thumb && *thumb;
	if (s->pinned && s->insecure) {
		/* the pin is the stronger promise: keep it */
		ferry_info("vsphere: %s: the secret has a thumbprint and insecureSkipVerify; the "
			   "thumbprint is checked",
			   s->label);
		s->insecure = false;
	}
	s->user = ferry_xstrdup(
		ferry_pairs_get(&cfg->secret, "user") ? ferry_pairs_get(&cfg->secret, "user") : "");
	s->password = ferry_xstrdup(ferry_pairs_get(&cfg->secret, "password")
					    ? ferry_pairs_get(&cfg->secret, "password")
					    : "");
	s->cacert = cacert && *cacert ? ferry_xstrdup(cacert) : NULL;
	s->work_dir = cfg->work_dir ? ferry_xstrdup(cfg->work_dir) : NULL;
	if (libdir && *libdir) {
		s->vddk_libdir = ferry_xstrdup(libdir);
	} else if (image && *image == '/') {
		s->vddk_libdir = ferry_xstrdup(image);
	} else if (image && *image) {
		ferry_warn("vsphere: %s: vddkInitImage '%s' is a container image, which ferry's "
			   "local data plane cannot use; set vddkLibDir to a directory holding "
			   "VDDK to read disks through VDDK (disks are read over HTTPS now)",
			   s->label, image);
	}
	s->vddk_config = vcfg && *vcfg == '/' ? ferry_xstrdup(vcfg) : NULL;
	if (hosts_copy(s, cfg, err))
		goto fail;
	if (endpoint && *endpoint && strcmp(endpoint, "vcenter") && strcmp(endpoint, "esxi")) {
		ferry_err_set(err, FERRY_E_INVALID, "sdkEndpoint is '%s', not vcenter or esxi",
			      endpoint);
		goto fail;
	}
	sc.url = cfg->url;
	sc.user = s->user;
	sc.password = s->password;
	sc.cacert = s->cacert;
	sc.thumbprint = s->pinned ? thumb : NULL;
	sc.insecure = s->insecure;
	if (vs_soap_open(&s->soap, &sc, err))
		goto fail;
	svc = vs_soap_service(s->soap);
	if (endpoint && svc->api_type &&
	    ((!strcmp(endpoint, "esxi") && strcmp(svc->api_type, "HostAgent")) ||
	     (!strcmp(endpoint, "vcenter") && strcmp(svc->api_type, "VirtualCenter"))))
		ferry_warn("vsphere: %s: sdkEndpoint is %s, but %s is a %s", s->label, endpoint,
			   cfg->url, svc->api_type);
	if (s->work_dir)
		vs_reap_leftovers(s->work_dir);
	*out = s;
	return 0;
fail:
	vs_close(s);
	return -1;
}

static int vsphere_open(struct ferry_source **out, const struct ferry_source_config *cfg,
			struct ferry_err *err)
{
	if (vs_open(out, cfg, err))
		return ferry_err_prefix(err, "vsphere provider %s/%s: ", cfg->ns ? cfg->ns : "",
					cfg->name ? cfg->name : "");
	return 0;
}

static int vsphere_disk_open(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
			     struct ferry_disk_access *a, struct ferry_err *err)
{
	return vs_disk_open(s, vm, i, NULL, a, err);
}

void ferry_vsphere_stats(const struct ferry_source *s, struct ferry_vsphere_stats *out)
{
	*out = s->stats;
	out->calls = vs_soap_calls(s->soap);
	out->logins = vs_soap_generation(s->soap);
}

const struct ferry_source_ops ferry_vsphere_source_ops = {
	.type = "vsphere",
	.open = vsphere_open,
	.inventory = vs_inventory,
	.disk_open = vsphere_disk_open,
	.disk_close = vs_disk_close,
	.close = vs_close,
	.power_state = vs_power_state,
	.power_off = vs_power_off,
	.guest_shutdown = vs_guest_shutdown,
	.power_on = vs_power_on,
	.snapshot_create = vs_snapshot_create,
	.snapshot_find = vs_snapshot_find,
	.snapshot_remove = vs_snapshot_remove,
	.cbt_enable = vs_cbt_enable,
	.changed_areas = vs_changed_areas,
	.disk_open_snapshot = vs_disk_open,
};
