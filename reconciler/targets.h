/* Where a plan's VMs go: ferry.ini's [target], and for a cluster target the
 * plan's destination Provider (Forklift's `type: openshift` Provider). An
 * empty url means the cluster ferry.ini names (its kubeconfig, or the
 * cluster ferry runs in); a url names another cluster, reached with the
 * token, cacert and insecureSkipVerify of the Provider's secret. The local
 * target ignores destination Providers.
 */
#ifndef FERRY_RECONCILER_TARGETS_H
#define FERRY_RECONCILER_TARGETS_H

#include "common/err.h"
#include "providers/target.h"
#include "reconciler/config.h"
#include "reconciler/secrets.h"
#include "schema/model.h"

/* A target's configuration, ready for its driver's open(). */
struct ferry_target_params {
	struct ferry_target_config tc;
	struct ferry_secret_data secret; /* the Provider's, wiped on release */
	struct ferry_target_label *sel;	 /* [target] worker_node_selector, split */
	char **sel_str;			 /* its strings: key, value, key, ... */
};

/* The key of the target dest (a plan's destination Provider, or NULL)
 * resolves to: "" for ferry.ini's own target, else "NAMESPACE/NAME" of a
 * Provider with a url. Caller frees. */
char *ferry_target_key(const struct ferry_config *cfg, const struct ferry_provider *dest);

/* The configuration of the target dest resolves to (NULL, or a Provider
 * whose key is "": ferry.ini's). target_dir is the local target's
 * directory. tp borrows cfg's, dest's and target_dir's strings. */
int ferry_target_params_load(struct ferry_target_params *tp, const struct ferry_config *cfg,
			     const struct ferry_provider *dest, const char *target_dir,
			     struct ferry_err *err);

void ferry_target_params_release(struct ferry_target_params *tp);

#endif
