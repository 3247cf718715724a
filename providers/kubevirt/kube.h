/* A small Kubernetes REST client (libcurl + jansson): get, list (all pages),
 * create, merge patch, server-side apply, replace, read-modify-write with
 * conflict retries, delete and watch, for any resource named by group,
 * version and plural; and the text of a pod's log.
 *
 * Transport: one CURL handle per client, so connections are kept alive
 * between requests. TLS trusts exactly the kubeconfig's CA when it has one
 * (held in memory, never written to disk), else the system's store; a
 * client certificate and key come from memory too; tls-server-name is the
 * name the certificate is checked against (and sent as SNI) while the
 * connection goes to the server's address. The bearer token goes in a
 * header and is never logged; a tokenFile is read again every minute.
 *
 * Exec credential plugins (kubeconfig.h): the plugin runs at the first
 * request that needs it, not at open. Its credential (a token, or a client
 * certificate and key) is shared by every client of the process that runs
 * the same plugin for the same cluster, and kept until its
 * expirationTimestamp, or without one while a client uses it. A 401 drops
 * it: the plugin runs again and the request is sent once more with the
 * new credential (a second 401 is the error, and drops that one too).
 * When the plugin gives no credential the request fails with its error,
 * `kube: VERB RESOURCE...: exec plugin COMMAND: ...`, and nothing is sent;
 * a plugin that is not there is FERRY_E_AUTH (never FERRY_E_NOT_FOUND,
 * which reads as a missing object).
 *
 * Retries: 429 Too Many Requests, and 500/502/503/504 for every request
 * but create (a create the server may have done must not be repeated
 * blindly), and connection failures before anything was sent, are retried
 * up to opts.max_attempts times, waiting Retry-After when the server gives
 * one (capped at opts.backoff_max_ms) and otherwise a capped exponential
 * backoff with jitter. 409 Conflict is retried only by ferry_kube_update,
 * which reads the object again and re-applies the caller's change.
 *
 * Errors: err->msg reads
 *   kube: VERB RESOURCE[/NAMESPACE[/NAME]]: CODE REASON: MESSAGE
 * with the HTTP code and the reason and message of the API's Status
 * (e.g. `kube: create virtualmachines/ns/vm: 409 AlreadyExists:
 * virtualmachines.kubevirt.io "vm" already exists`); transport failures
 * name the server and curl's reason. err->code follows the Status reason:
 * NotFound FERRY_E_NOT_FOUND, AlreadyExists FERRY_E_EXISTS, Conflict
 * FERRY_E_CONFLICT, Unauthorized / Forbidden FERRY_E_AUTH, Invalid /
 * BadRequest FERRY_E_INVALID, 429 / 5xx / Expired FERRY_E_RETRYABLE,
 * Timeout FERRY_E_TIMEOUT, TLS verification FERRY_E_CERTIFICATE.
 * ferry_kube_last_http() gives the last HTTP code for finer decisions.
 *
 * Ownership and threads: JSON passed in is borrowed; JSON returned through
 * an out pointer is a new reference the caller json_decref()s. A client
 * makes one request at a time: use one client per thread, and a client of
 * its own for a long watch. Clients in different threads may share an exec
 * plugin's credential: it is guarded by a lock, and while the plugin runs
 * for one client the others wait for its answer instead of running it too.
 */
#ifndef FERRY_PROVIDERS_KUBEVIRT_KUBE_H
#define FERRY_PROVIDERS_KUBEVIRT_KUBE_H

#include "common/err.h"
#include "common/strbuf.h"
#include "providers/kubevirt/kubeconfig.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* group, version, resource of the kinds ferry uses: write
 * struct ferry_kube_ref r = {FERRY_KUBE_VMS, "ns", "name"}; */
#define FERRY_KUBE_VMS		  "kubevirt.io", "v1", "virtualmachines"
#define FERRY_KUBE_VMIS		  "kubevirt.io", "v1", "virtualmachineinstances"
#define FERRY_KUBE_DATAVOLUMES	  "cdi.kubevirt.io", "v1beta1", "datavolumes"
#define FERRY_KUBE_PVCS		  "", "v1", "persistentvolumeclaims"
#define FERRY_KUBE_PODS		  "", "v1", "pods"
#define FERRY_KUBE_EVENTS	  "", "v1", "events"
#define FERRY_KUBE_SECRETS	  "", "v1", "secrets"
#define FERRY_KUBE_NAMESPACES	  "", "v1", "namespaces"
#define FERRY_KUBE_JOBS		  "batch", "v1", "jobs"
#define FERRY_KUBE_LEASES	  "coordination.k8s.io", "v1", "leases"
#define FERRY_KUBE_STORAGECLASSES "storage.k8s.io", "v1", "storageclasses"
#define FERRY_KUBE_NADS		  "k8s.cni.cncf.io", "v1", "network-attachment-definitions"

/* Limits on what a server may send. */
#define FERRY_KUBE_BODY_MAX  (64u << 20) /* one response */
#define FERRY_KUBE_EVENT_MAX (16u << 20) /* one watch event line */
#define FERRY_KUBE_PAGES_MAX 10000u	 /* pages of one list */
#define FERRY_KUBE_LOG_MAX   (1u << 20)	 /* a pod log, unless the caller says */

struct ferry_kube_ref {
	const char *group;    /* "" or NULL: the core group (/api/v1) */
	const char *version;  /* "v1", "v1beta1" */
	const char *resource; /* plural, lower case: "virtualmachines" */
	const char *ns;	      /* namespace; NULL: cluster-scoped, or all namespaces */
	const char *name;     /* object; NULL: the collection */
};

struct ferry_kube_opts {
	unsigned max_attempts;	   /* per request, for retryable failures; 0 = 5 */
	unsigned backoff_base_ms;  /* first wait; 0 = 200 */
	unsigned backoff_max_ms;   /* longest wait, Retry-After included; 0 = 10000 */
	unsigned timeout_s;	   /* one request (not a watch); 0 = 60 */
	unsigned max_conflicts;	   /* ferry_kube_update's re-reads; 0 = 5 */
	const char *field_manager; /* NULL = "ferry" */
	const char *user_agent;	   /* NULL = "ferry" */
};

struct ferry_kube;

/* Open a client for kc (copied: kc may be released afterwards) with opts
 * (NULL = defaults). No request is made. */
int ferry_kube_open(struct ferry_kube **out, const struct ferry_kubeconfig *kc,
		    const struct ferry_kube_opts *opts, struct ferry_err *err);
void ferry_kube_close(struct ferry_kube *k); /* NULL is ignored */

/* The HTTP code of the last response (0: none, or a transport failure). */
long ferry_kube_last_http(const struct ferry_kube *k);

/* ---- requests --------------------------------------------------------------- */

int ferry_kube_get(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t **out,
		   struct ferry_err *err);

struct ferry_kube_list_opts {
	const char *label_selector; /* "ferry.dev/plan=ns.p,app in (a,b)", or NULL */
	const char *field_selector; /* or NULL */
	unsigned limit;		    /* page size; 0 = 500 */
};

/* Every object of the collection r (r->name NULL; r->ns NULL lists all
 * namespaces), following `continue` through all pages: *items is a new
 * array; *resource_version (may be NULL) the list's resourceVersion, to
 * watch from. An expired continue token fails with FERRY_E_RETRYABLE. */
int ferry_kube_list(struct ferry_kube *k, const struct ferry_kube_ref *r,
		    const struct ferry_kube_list_opts *lo, json_t **items, char **resource_version,
		    struct ferry_err *err);

/* POST obj to the collection of r (r->name is ignored). out may be NULL. */
int ferry_kube_create(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t *obj,
		      json_t **out, struct ferry_err *err);

/* PATCH application/merge-patch+json. */
int ferry_kube_merge_patch(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t *patch,
			   json_t **out, struct ferry_err *err);

/* Server-side apply: PATCH application/apply-patch+yaml (the body is JSON,
 * which is YAML) with fieldManager and force as given. obj must carry
 * apiVersion, kind and metadata.name. */
int ferry_kube_apply(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t *obj, bool force,
		     json_t **out, struct ferry_err *err);

/* PUT obj; with metadata.resourceVersion set, a concurrent change fails
 * with FERRY_E_CONFLICT. */
int ferry_kube_replace(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t *obj,
		       json_t **out, struct ferry_err *err);

/* Change obj in place for ferry_kube_update: return 0 to write it back, 1
 * when nothing needs changing, -1 (with err set) to give up. */
typedef int (*ferry_kube_mutate_fn)(void *arg, json_t *obj, struct ferry_err *err);

/* GET r, let fn change it, PUT it with the resourceVersion that was read;
 * on 409 Conflict start again from the GET (up to opts.max_conflicts
 * times). *out (may be NULL) is the object as written or as read when fn
 * returned 1. */
int ferry_kube_update(struct ferry_kube *k, const struct ferry_kube_ref *r, ferry_kube_mutate_fn fn,
		      void *arg, json_t **out, struct ferry_err *err);

/* DELETE r with propagationPolicy (NULL = "Background", so a Job's pods
 * go with it). An object that is not there fails with FERRY_E_NOT_FOUND. */
int ferry_kube_delete(struct ferry_kube *k, const struct ferry_kube_ref *r, const char *propagation,
		      struct ferry_err *err);

/* ---- pod logs ------------------------------------------------------------------------- */

struct ferry_kube_log_opts {
	const char *container; /* NULL: the pod's only container */
	unsigned tail_lines;   /* only the last N lines (tailLines); 0: the whole log */
	size_t max_bytes;      /* a longer answer fails (FERRY_E_LIMIT); 0: FERRY_KUBE_LOG_MAX */
};

/* GET the log of pod r->name in r->ns (r's group, version and resource are
 * ignored: pods/log) as the API serves it, text/plain: *text (NUL-terminated,
 * the caller frees) and *len. A container that has not started yet is a
 * 400 (FERRY_E_INVALID) from the API server. */
int ferry_kube_pod_log(struct ferry_kube *k, const struct ferry_kube_ref *r,
		       const struct ferry_kube_log_opts *lo, char **text, size_t *len,
		       struct ferry_err *err);

/* ---- watch ----------------------------------------------------------------------- */

struct ferry_kube_watch_opts {
	const char *label_selector, *field_selector; /* or NULL */
	const char *resource_version; /* from a list; NULL or "" = the current state first */
	unsigned timeout_s;	      /* the server ends the watch then; 0 = 300 */
	bool bookmarks;		      /* allowWatchBookmarks */
};

/* One event: type is "ADDED", "MODIFIED", "DELETED" or "BOOKMARK"; object
 * is borrowed for the call. Return 0 to go on, anything else to stop. */
typedef int (*ferry_kube_watch_fn)(void *arg, const char *type, json_t *object);

#define FERRY_KUBE_GONE 1

/* Watch the collection r, calling fn for each event as it arrives, until
 * the server ends the stream (timeout_s) or fn stops it: 0. FERRY_KUBE_GONE
 * (with err saying so) when the resourceVersion is too old (410 Gone, as
 * the response or as an ERROR event): list again and watch from the new
 * list's resourceVersion. -1 on other errors; events delivered before a
 * failure stand, so the caller watches again from the resourceVersion of
 * the last event it saw. A refused answer (429, 5xx) before the stream
 * starts is retried as for other requests; a broken stream is not. */
int ferry_kube_watch(struct ferry_kube *k, const struct ferry_kube_ref *r,
		     const struct ferry_kube_watch_opts *wo, ferry_kube_watch_fn fn, void *arg,
		     struct ferry_err *err);

/* ---- pieces, exposed for tests ------------------------------------------------------ */

/* s percent-encoded for a URL path segment or query value: everything but
 * RFC 3986's unreserved characters. */
void ferry_kube_escape(struct ferry_sb *sb, const char *s);

/* "/api/v1/namespaces/NS/RESOURCE/NAME" or "/apis/GROUP/VERSION/..." with
 * each part escaped; NULL (err set) when a part is missing or is "." or
 * "..", or a part holds '/'. The caller frees. */
char *ferry_kube_path(const struct ferry_kube_ref *r, struct ferry_err *err);

/* "RESOURCE[/NS[/NAME]]", as errors name objects. The caller frees. */
char *ferry_kube_describe(const struct ferry_kube_ref *r);

/* Fill err from a failed response (HTTP code http, body of len bytes,
 * normally a Status) for the given verb and object description; returns
 * -1. */
int ferry_kube_status_error(struct ferry_err *err, const char *verb, const char *what, long http,
			    const char *body, size_t len);

/* The error code for an HTTP code and Status reason (reason may be NULL). */
enum ferry_errcode ferry_kube_errcode(long http, const char *reason);

/* Seconds of a Retry-After header value (delta-seconds only), or -1. */
long ferry_kube_retry_after(const char *value);

/* Milliseconds to wait before retry number attempt (1 = the first retry):
 * Retry-After when >= 0, else base * 2^(attempt-1) with the upper half
 * randomised by rnd (full jitter over [d/2, d]); never more than max. */
unsigned ferry_kube_backoff_ms(unsigned attempt, long retry_after_s, unsigned base, unsigned max,
			       uint32_t rnd);

#endif
