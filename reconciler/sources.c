#include "reconciler/sources.h"

#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* key is a string literal, value the model's or the configuration's:
 * struct ferry_pairs hands them out as char *const *, and no one writes
 * through them. */
static void add(struct ferry_source_params *sp, char *key, char *value)
{
	size_t n = sp->sc.settings.n;

	if (!value || n >= FERRY_SOURCE_SETTINGS_MAX)
		return;
	sp->skeys[n] = key;
	sp->svalues[n] = value;
	sp->sc.settings.n = n + 1;
}

/* Read the secret ref names (its namespace defaulting to the owner's) into
 * out; an error names the owner and the file. */
static int load_secret(struct ferry_secret_data *out, const struct ferry_config *cfg,
		       const struct ferry_ref *ref, const struct ferry_obj *owner,
		       struct ferry_err *err)
{
	char *who =
		ferry_xasprintf("%s %s/%s", ferry_kind_name(owner->kind), owner->ns, owner->name);
	int rc = ferry_secret_load_for(out, cfg->secrets.dir,
				       ref->namespace_.v ? ref->namespace_.v : owner->ns,
				       ref->name.v, who, err);

	free(who);
	return rc;
}

static struct ferry_pairs pairs_of(const struct ferry_secret_data *s)
{
	return (struct ferry_pairs){s->keys, s->values, s->n};
}

int ferry_source_params_load(struct ferry_source_params *sp, const struct ferry_config *cfg,
			     const struct ferry_provider *p, const char *work_dir,
			     struct ferry_err *err)
{
	const struct ferry_provider_settings *st = &p->spec.settings;
	const char *type = p->spec.type.v ? p->spec.type.v : "";

	memset(sp, 0, sizeof *sp);
	sp->sc = (struct ferry_source_config){
		.ns = p->obj.ns,
		.name = p->obj.name,
		.type = type,
		.url = p->spec.url.v ? p->spec.url.v : "",
		.work_dir = work_dir,
		.settings = {sp->skeys, sp->svalues, 0},
	};
	if (p->spec.secret.name.v) {
		if (load_secret(&sp->secret, cfg, &p->spec.secret, &p->obj, err)) {
			ferry_source_params_release(sp);
			return -1;
		}
		sp->sc.secret = pairs_of(&sp->secret);
	}
	/* under their manifest names (schema/model.c) */
	add(sp, "vddkInitImage", st->vddk_init_image.v);
	add(sp, "sdkEndpoint", st->sdk_endpoint.v);
	add(sp, "useVddkAioOptimization", st->use_vddk_aio_optimization.v);
	add(sp, "vddkConfig", st->vddk_config.v);
	add(sp, "esxiCloneMethod", st->esxi_clone_method.v);
	add(sp, "target-az", st->target_az.v);
	add(sp, "target-region", st->target_region.v);
	add(sp, "prismType", st->prism_type.v);
	add(sp, "clusterUuid", st->cluster_uuid.v);
	add(sp, "managementType", st->management_type.v);
	if (!strcmp(type, "vsphere"))
		add(sp, "vddkLibDir", cfg->vsphere.vddk_lib_dir);
	return 0;
}

static bool routes(const struct ferry_host *h, const struct ferry_source_config *sc)
{
	const struct ferry_ref *r = &h->spec.provider;

	return h->spec.ip_address.v && r->name.v && !strcmp(r->name.v, sc->name) &&
	       !strcmp(r->namespace_.v ? r->namespace_.v : h->obj.ns, sc->ns);
}

int ferry_source_params_load_hosts(struct ferry_source_params *sp, const struct ferry_config *cfg,
				   const struct ferry_model *m, struct ferry_err *err)
{
	size_t n = ferry_model_count(m, FERRY_KIND_HOST);

	sp->hosts = ferry_xcalloc(n ? n : 1, sizeof *sp->hosts);
	sp->host_secrets = ferry_xcalloc(n ? n : 1, sizeof *sp->host_secrets);
	for (size_t i = 0; i < n; i++) {
		const struct ferry_host *h = &ferry_model_hosts(m)[i];
		struct ferry_secret_data *sd = &sp->host_secrets[sp->nhosts];

		if (!routes(h, &sp->sc))
			continue;
		if (!h->spec.secret.name.v) {
			ferry_err_set(err, FERRY_E_INVALID,
				      "Host %s/%s: spec.secret names no secret: transfers through "
				      "ipAddress %s need the ESXi host's user and password",
				      h->obj.ns, h->obj.name, h->spec.ip_address.v);
			goto fail;
		}
		if (load_secret(sd, cfg, &h->spec.secret, &h->obj, err))
			goto fail;
		sp->hosts[sp->nhosts++] = (struct ferry_source_host){
			.ns = h->obj.ns,
			.name = h->obj.name,
			.id = h->spec.id.v,
			.host_name = h->spec.name.v,
			.ip_address = h->spec.ip_address.v,
			.secret = pairs_of(sd),
		};
	}
	sp->sc.hosts = sp->hosts;
	sp->sc.nhosts = sp->nhosts;
	return 0;
fail:
	ferry_source_params_release(sp);
	return -1;
}

void ferry_source_params_release(struct ferry_source_params *sp)
{
	ferry_secret_release(&sp->secret);
	for (size_t i = 0; i < sp->nhosts; i++)
		ferry_secret_release(&sp->host_secrets[i]);
	free(sp->host_secrets);
	free(sp->hosts);
	memset(sp, 0, sizeof *sp);
}
