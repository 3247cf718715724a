/* Kubernetes object name rules (RFC 1123 as Kubernetes applies it).
 *
 * Predicates return true when s is valid. When it is not and why is non-NULL,
 * *why receives a static message saying what was expected, worded to follow
 * "name %s" (e.g. "must be at most 63 characters"); on success *why is set to
 * NULL. Only the first problem found is described, in this order: empty,
 * too long, upper-case letters, other characters / placement.
 */
#ifndef FERRY_SCHEMA_NAMES_H
#define FERRY_SCHEMA_NAMES_H

#include <stdbool.h>

#define FERRY_DNS1123_LABEL_MAX	    63
#define FERRY_DNS1123_SUBDOMAIN_MAX 253

/* At most 63 characters matching [a-z0-9]([-a-z0-9]*[a-z0-9])?
 * (Service, Namespace, KubeVirt VM names). */
bool ferry_dns1123_label(const char *s, const char **why);

/* At most 253 characters; dot-separated parts each matching
 * [a-z0-9]([-a-z0-9]*[a-z0-9])? (most object names: PVCs, Secrets, ...).
 * As in Kubernetes, the parts have no length limit of their own. */
bool ferry_dns1123_subdomain(const char *s, const char **why);

/* A valid DNS-1123 label derived from s, for proposing a rename: ASCII
 * lower-cased, each run of characters outside [a-z0-9-] replaced by one '-'
 * (a run of '-' alone is kept as is, so a valid label comes back unchanged),
 * leading and trailing '-' dropped, then cut to 63 characters and trailing
 * '-' dropped again. Returns a new string (the caller frees it), or NULL when
 * nothing valid remains (e.g. "", "---", "ÄÖ"). */
char *ferry_dns1123_suggest(const char *s);

#endif
