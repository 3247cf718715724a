#include "reconciler/targets.h"

#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool has_url(const struct ferry_provider *dest)
{
	return dest && dest->spec.url.v && dest->spec.url.v[0];
}

char *ferry_target_key(const struct ferry_config *cfg, const struct ferry_provider *dest)
{
	if (cfg->target.type != FERRY_TARGET_KUBEVIRT || !has_url(dest))
		return ferry_xstrdup("");
	return ferry_xasprintf("%s/%s", dest->obj.ns, dest->obj.name);
}

static bool truthy(const char *v)
{
	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

int ferry_target_params_load(struct ferry_target_params *tp, const struct ferry_config *cfg,
			     const struct ferry_provider *dest, const char *target_dir,
			     struct ferry_err *err)
{
	size_t n = cfg->target.nworker_node_selector;

	memset(tp, 0, sizeof *tp);
	tp->sel = ferry_xcalloc(n ? n : 1, sizeof *tp->sel);
	tp->sel_str = ferry_xcalloc(n ? 2 * n : 1, sizeof *tp->sel_str);
	for (size_t i = 0; i < n; i++) {
		char *kv = cfg->target.worker_node_selector[i], *eq = strchr(kv, '=');

		tp->sel_str[2 * i] = eq ? ferry_xstrndup(kv, (size_t)(eq - kv)) : ferry_xstrdup(kv);
		tp->sel_str[2 * i + 1] = ferry_xstrdup(eq ? eq + 1 : "");
		tp->sel[i] =
			(struct ferry_target_label){tp->sel_str[2 * i], tp->sel_str[2 * i + 1]};
	}
	tp->tc = (struct ferry_target_config){
		.type = cfg->target.type == FERRY_TARGET_KUBEVIRT ? "kubevirt" : "local",
		.dir = target_dir,
		.kubeconfig = cfg->target.kubeconfig,
		.context = cfg->target.context,
		.volumes = cfg->target.volumes,
		.worker_image = cfg->target.worker_image,
		.worker_service_account = cfg->target.worker_service_account,
		.worker_node_selector = tp->sel,
		.nworker_node_selector = n,
		.worker_cpu = cfg->target.worker_cpu,
		.worker_memory = cfg->target.worker_memory,
	};
	if (cfg->target.type != FERRY_TARGET_KUBEVIRT || !has_url(dest))
		return 0;
	tp->tc.url = dest->spec.url.v;
	if (dest->spec.secret.name.v) {
		const struct ferry_ref *r = &dest->spec.secret;
		char *owner =
			ferry_xasprintf("destination Provider %s/%s", dest->obj.ns, dest->obj.name);
		int rc = ferry_secret_load_for(&tp->secret, cfg->secrets.dir,
					       r->namespace_.v ? r->namespace_.v : dest->obj.ns,
					       r->name.v, owner, err);

		free(owner);
		if (rc) {
			ferry_target_params_release(tp);
			return -1;
		}
		tp->tc.token = ferry_secret_get(&tp->secret, "token");
		tp->tc.cacert = ferry_secret_get(&tp->secret, "cacert");
		tp->tc.insecure_skip_verify =
			truthy(ferry_secret_get(&tp->secret, "insecureSkipVerify"));
	}
	if (!tp->tc.token || !tp->tc.token[0]) {
		ferry_err_set(err, FERRY_E_INVALID,
			      "destination Provider %s/%s: a cluster given by url (%s) needs a "
			      "secret with a token",
			      dest->obj.ns, dest->obj.name, dest->spec.url.v);
		ferry_target_params_release(tp);
		return -1;
	}
	return 0;
}

void ferry_target_params_release(struct ferry_target_params *tp)
{
	size_t n = tp->tc.nworker_node_selector;

	ferry_secret_release(&tp->secret);
	for (size_t i = 0; i < 2 * n; i++)
		free(tp->sel_str[i]);
	free(tp->sel_str);
	free(tp->sel);
	memset(tp, 0, sizeof *tp);
}
