/* Where a Kubernetes API server is and how to authenticate to it: a
 * kubeconfig file (the subset kubectl users write: clusters, users,
 * contexts, current-context), the in-cluster service account, or a server
 * URL plus token (a destination Provider with a url and a token secret).
 *
 * Kubeconfig rules, as client-go applies them:
 *   - the context is the one named by the caller, else current-context;
 *   - cluster: server (required), certificate-authority (a file) or
 *     certificate-authority-data (base64 PEM), insecure-skip-tls-verify
 *     (not together with a CA), tls-server-name, proxy-url;
 *   - user: token and/or tokenFile (tokenFile is re-read by the client, as
 *     bound service account tokens rotate), client-certificate(-data) with
 *     client-key(-data), username/password; exec and auth-provider plugins
 *     are refused (FERRY_E_UNSUPPORTED); a context without a user is
 *     anonymous;
 *   - "-data" and the file form of the same item together are an error;
 *   - relative file paths are relative to the kubeconfig's directory;
 *   - the namespace is the context's, else "default".
 * Only one file is read: KUBECONFIG lists of several files are not merged
 * (the first is used).
 *
 * Errors: FERRY_E_INVALID with file:line:col of the offending node (or of
 * the document when something is missing) and what was expected;
 * FERRY_E_NOT_FOUND for a context, cluster or user that is not there;
 * FERRY_E_IO for files that cannot be read. Messages never contain a token,
 * a password or key material.
 *
 * Ownership: a struct ferry_kubeconfig owns every string and buffer in it;
 * ferry_kubeconfig_release() wipes the secrets and frees them. Files named
 * by the kubeconfig (CA, client certificate and key) are read into memory
 * when it is loaded; a tokenFile is read then too and kept by name.
 */
#ifndef FERRY_PROVIDERS_KUBEVIRT_KUBECONFIG_H
#define FERRY_PROVIDERS_KUBEVIRT_KUBECONFIG_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

#define FERRY_KUBE_SA_ROOT "/var/run/secrets/kubernetes.io/serviceaccount"

/* Limits on what is read from disk. */
#define FERRY_KUBE_PEM_MAX   (1u << 20) /* a CA bundle, certificate or key */
#define FERRY_KUBE_TOKEN_MAX (64u << 10)

struct ferry_kubeconfig {
	char *source;			/* the kubeconfig file or service account dir */
	char *context, *cluster, *user; /* names; NULL when not from a kubeconfig */
	char *server;			/* "https://host:port[/path]", no trailing '/' */
	char *namespace_;		/* the context's namespace, or "default" */
	char *tls_server_name;		/* name to verify the server's certificate as */
	char *proxy_url;		/* or NULL */
	bool insecure;			/* insecure-skip-tls-verify */
	char *ca;			/* PEM bundle, or NULL: the system's trust store */
	size_t ca_len;			/*   (NUL-terminated as well) */
	char *client_cert, *client_key; /* PEM, both or neither */
	size_t client_cert_len, client_key_len;
	char *token;		   /* bearer token (no trailing newline), or NULL */
	char *token_file;	   /* absolute path to re-read the token from, or NULL */
	char *username, *password; /* basic authentication, or NULL */
};

#define FERRY_KUBECONFIG_INIT                                                                      \
	{                                                                                          \
		0                                                                                  \
	}

/* Parse a kubeconfig held in memory; file names it for messages and is the
 * base of relative paths (its directory). context NULL or "" means
 * current-context. On failure *out is left empty (released). */
int ferry_kubeconfig_parse(const char *file, const char *data, size_t len, const char *context,
			   struct ferry_kubeconfig *out, struct ferry_err *err);

/* Read and parse path; NULL means $KUBECONFIG (its first entry) or else
 * $HOME/.kube/config. */
int ferry_kubeconfig_load(const char *path, const char *context, struct ferry_kubeconfig *out,
			  struct ferry_err *err);

/* The in-cluster service account: root/token, root/ca.crt and
 * root/namespace (root NULL = FERRY_KUBE_SA_ROOT) and the server from
 * KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT. ca.crt and
 * namespace may be missing (system trust store, "default"); the token and
 * the variables may not (FERRY_E_NOT_FOUND: "not running in a cluster"). */
int ferry_kubeconfig_in_cluster(const char *root, struct ferry_kubeconfig *out,
				struct ferry_err *err);

/* A server URL with an optional token and CA (PEM text) and the insecure
 * flag; namespace NULL = "default". For a destination Provider that names a
 * url and a token secret. */
int ferry_kubeconfig_for_server(const char *server, const char *token, const char *ca_pem,
				bool insecure, const char *namespace_, struct ferry_kubeconfig *out,
				struct ferry_err *err);

/* Wipe the secrets and free everything; *kc is empty again. */
void ferry_kubeconfig_release(struct ferry_kubeconfig *kc);

/* Read a token file (at most FERRY_KUBE_TOKEN_MAX bytes) without its
 * trailing whitespace; the caller frees (and should wipe) *token. */
int ferry_kube_read_token(const char *path, char **token, struct ferry_err *err);

#endif
