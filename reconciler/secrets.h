/* The secrets directory: <dir>/<namespace>/<name>.ini, section [secret],
 * keys as the Forklift Secret's stringData keys (user, password, token,
 * cacert, thumbprint, insecureSkipVerify, ...). A file readable by group or
 * others, or not a regular file, is refused. Values never reach a log. */
#ifndef FERRY_RECONCILER_SECRETS_H
#define FERRY_RECONCILER_SECRETS_H

#include "common/err.h"

#include <stddef.h>

struct ferry_secret_data {
	char *path; /* the file read */
	char **keys;
	char **values;
	size_t n;
};

/* Check a reference without touching the disk: 0 when ref is "NAMESPACE/NAME"
 * or "NAME" and each part is a DNS-1123 label, else -1 with FERRY_E_INVALID
 * and a message saying which part is wrong and why. */
int ferry_secret_ref_check(const char *ref, struct ferry_err *err);

/* ref is "NAMESPACE/NAME" (or "NAME" meaning namespace "default"). s is
 * overwritten, not released; on error it is left empty. A missing file is
 * FERRY_E_NOT_FOUND; a symbolic link, a file that is not regular or that
 * group or others may access, or a malformed file is FERRY_E_INVALID. */
int ferry_secret_load(struct ferry_secret_data *s, const char *dir, const char *ref,
		      struct ferry_err *err);

/* ferry_secret_load of the secret NAMESPACE/NAME an object names (a
 * Provider's or Host's spec.secret), whose messages start with owner (e.g.
 * "Provider mig/vcenter") and name the file, never a value. */
int ferry_secret_load_for(struct ferry_secret_data *s, const char *dir, const char *ns,
			  const char *name, const char *owner, struct ferry_err *err);

/* The value of key, or NULL. */
const char *ferry_secret_get(const struct ferry_secret_data *s, const char *key);

/* Wipes the values (explicit_bzero) and frees. */
void ferry_secret_release(struct ferry_secret_data *s);

#endif
