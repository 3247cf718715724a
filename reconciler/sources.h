/* What a source driver is opened with: the struct ferry_source_config of a
 * Provider, from the desired state (spec.type, url, secret, settings, and
 * the Host objects naming it) and ferry.ini (the secrets directory,
 * [vsphere] vddk_lib_dir).
 *
 * A secret is read from the secrets directory (reconciler/secrets.h):
 * spec.secret {name, namespace}, the namespace defaulting to the
 * object's. A Provider that names no secret gets an empty one; a Host that
 * routes transfers must name one.
 */
#ifndef FERRY_RECONCILER_SOURCES_H
#define FERRY_RECONCILER_SOURCES_H

#include "common/err.h"
#include "providers/driver.h"
#include "reconciler/config.h"
#include "reconciler/secrets.h"
#include "schema/model.h"

/* The most settings a Provider passes: every spec.settings field, plus
 * ferry.ini's. */
#define FERRY_SOURCE_SETTINGS_MAX 16

/* Owns the secrets it loaded; the settings' values and the Hosts' fields
 * are borrowed from the model and the configuration, and sc points into
 * all of them: it is valid while the model, the configuration, work_dir
 * and this struct are (sc points into the struct itself: do not copy it). */
struct ferry_source_params {
	struct ferry_source_config sc;
	struct ferry_secret_data secret;
	char *skeys[FERRY_SOURCE_SETTINGS_MAX], *svalues[FERRY_SOURCE_SETTINGS_MAX];
	struct ferry_source_host *hosts; /* sc.hosts */
	struct ferry_secret_data *host_secrets;
	size_t nhosts;
};

/* Fill sp for Provider p (sp is overwritten, not released). work_dir may
 * be NULL (a driver then keeps no files). On error sp is left released
 * and err names the Provider and the secret file (a missing file is
 * FERRY_E_NOT_FOUND; a file that group or others may read, FERRY_E_INVALID),
 * never a secret value. */
int ferry_source_params_load(struct ferry_source_params *sp, const struct ferry_config *cfg,
			     const struct ferry_provider *p, const char *work_dir,
			     struct ferry_err *err);

/* Add to sp (loaded for a Provider by ferry_source_params_load) the Host
 * objects of m that route its transfers: those whose spec.provider names
 * it (the reference's namespace defaulting to the Host's) and that have a
 * spec.ipAddress, in model order, each with its spec.secret read as the
 * Provider's is. On error sp is left released and err names the Host and
 * the secret file (a missing file is FERRY_E_NOT_FOUND; a file that group
 * or others may read, or a Host that names no secret, FERRY_E_INVALID),
 * never a secret value. */
int ferry_source_params_load_hosts(struct ferry_source_params *sp, const struct ferry_config *cfg,
				   const struct ferry_model *m, struct ferry_err *err);

/* Wipes the secrets' values and frees them; sp is left empty. */
void ferry_source_params_release(struct ferry_source_params *sp);

#endif
