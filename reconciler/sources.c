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

int ferry_source_params_load(struct ferry_source_params *sp, const struct ferry_config *cfg,
			     const struct ferry_provider *p, const char *work_dir,
			     struct ferry_err *err)
{
	const struct ferry_provider_settings *st = &p->spec.settings;
	const struct ferry_ref *ref = &p->spec.secret;
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
	if (ref->name.v) {
		struct ferry_err e = FERRY_ERR_INIT;
		char *name = ferry_xasprintf(
			"%s/%s", ref->namespace_.v ? ref->namespace_.v : p->obj.ns, ref->name.v);
		char msg[FERRY_ERR_MSG_MAX + FERRY_ERR_FILE_MAX + 8];

		if (ferry_secret_load(&sp->secret, cfg->secrets.dir, name, &e)) {
			/* the secret module's messages quote no value; the file
			 * it names goes into the message, where callers look */
			ferry_err_format(&e, msg, sizeof msg);
			ferry_err_set(err, e.code, "Provider %s/%s: %s", p->obj.ns, p->obj.name,
				      msg);
			free(name);
			ferry_source_params_release(sp);
			return -1;
		}
		free(name);
		sp->sc.secret =
			(struct ferry_pairs){sp->secret.keys, sp->secret.values, sp->secret.n};
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

void ferry_source_params_release(struct ferry_source_params *sp)
{
	ferry_secret_release(&sp->secret);
	memset(sp, 0, sizeof *sp);
}
