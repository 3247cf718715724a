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
 *     client-key(-data), username/password, or an exec credential plugin
 *     (below); a user that has both static credentials and exec uses the
 *     static ones and never runs the plugin, as client-go; auth-provider
 *     is refused (FERRY_E_UNSUPPORTED, naming the provider); a context
 *     without a user is anonymous;
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
 * Exec credential plugins (client-go's ExecCredential protocol, API
 * versions client.authentication.k8s.io/v1 and v1beta1; v1alpha1 is
 * refused): users[].user.exec has command (required; with a '/' it is
 * relative to the kubeconfig's directory, else looked for in $PATH when
 * it runs), args, env (name/value pairs added to ferry's environment),
 * apiVersion (required), installHint (quoted when the command is not
 * found), provideClusterInfo, interactiveMode (required for v1, as
 * kubectl; v1beta1's default is IfAvailable). ferry never runs a plugin
 * interactively: Always is refused (FERRY_E_UNSUPPORTED), Never and
 * IfAvailable both get standard input from /dev/null and
 * spec.interactive false. The cluster's `config` extension for the
 * plugin is not passed.
 *
 * Ownership: a struct ferry_kubeconfig owns every string and buffer in it;
 * ferry_kubeconfig_release() wipes the secrets and frees them. Files named
 * by the kubeconfig (CA, client certificate and key) are read into memory
 * when it is loaded; a tokenFile is read then too and kept by name. An
 * exec plugin is not run when the kubeconfig is loaded, only by the
 * client that needs its credential (kube.h).
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

#define FERRY_KUBE_EXEC_V1	  "client.authentication.k8s.io/v1"
#define FERRY_KUBE_EXEC_V1BETA1	  "client.authentication.k8s.io/v1beta1"
#define FERRY_KUBE_EXEC_OUT_MAX	  (4u << 20) /* a plugin's standard output */
#define FERRY_KUBE_EXEC_TIMEOUT_S 60	     /* for a plugin to answer */

/* users[].user.exec: a credential plugin. */
struct ferry_kube_exec {
	char *command; /* an absolute path, or a name to look for in $PATH */
	char **args;   /* nargs arguments after the command */
	size_t nargs;
	char **env; /* nenv "NAME=value", over ferry's environment */
	size_t nenv;
	char *api_version;  /* FERRY_KUBE_EXEC_V1 or FERRY_KUBE_EXEC_V1BETA1 */
	char *install_hint; /* or NULL */
	bool provide_cluster_info;
};

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
	char *token;		      /* bearer token (no trailing newline), or NULL */
	char *token_file;	      /* absolute path to re-read the token from, or NULL */
	char *username, *password;    /* basic authentication, or NULL */
	struct ferry_kube_exec *exec; /* a credential plugin, or NULL */
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

/* ---- exec credential plugins ------------------------------------------------ */

/* A credential from a plugin: its ExecCredential's status. Owns its
 * strings; ferry_kube_cred_release() wipes and frees them. */
struct ferry_kube_cred {
	char *token;			/* bearer token, or NULL */
	char *client_cert, *client_key; /* PEM (NUL-terminated), both or neither */
	size_t client_cert_len, client_key_len;
	long long expires; /* Unix seconds of expirationTimestamp; 0: none given */
};

/* Run kc->exec's plugin (no shell; standard input /dev/null; environment
 * ferry's, then exec.env, then KUBERNETES_EXEC_INFO) and read its
 * credential, waiting at most timeout_s seconds (0 =
 * FERRY_KUBE_EXEC_TIMEOUT_S; then the plugin and its process group are
 * killed). Errors, prefixed "exec plugin COMMAND: ":
 * FERRY_E_NOT_FOUND when the command is not there (with the installHint);
 * FERRY_E_AUTH when it exits non-zero or is killed, FERRY_E_INVALID when
 * its output is not a credential (both quote the end of its standard
 * error, never its output); FERRY_E_TIMEOUT; FERRY_E_LIMIT for more than
 * FERRY_KUBE_EXEC_OUT_MAX bytes of output; FERRY_E_IO when it cannot be
 * started. *out is the caller's to release (empty on failure). Safe to
 * call from several threads (every descriptor it makes is close-on-exec,
 * and it waits only for its own child). */
int ferry_kube_exec_run(const struct ferry_kubeconfig *kc, unsigned timeout_s,
			struct ferry_kube_cred *out, struct ferry_err *err);

/* Parse a plugin's standard output (len bytes of data): an ExecCredential
 * of api_version whose status has a token and/or clientCertificateData with
 * clientKeyData, and an optional RFC 3339 expirationTimestamp. Errors
 * (FERRY_E_INVALID, or FERRY_E_LIMIT for an oversized token or PEM) give
 * the field and never quote the data. Pure. */
int ferry_kube_exec_parse(const char *api_version, const char *data, size_t len,
			  struct ferry_kube_cred *out, struct ferry_err *err);

/* The value of KUBERNETES_EXEC_INFO for kc's plugin: an ExecCredential of
 * its apiVersion with spec.interactive false and, with provideClusterInfo,
 * spec.cluster (server, tls-server-name, insecure-skip-tls-verify,
 * certificate-authority-data as base64 of the CA bundle, proxy-url; those
 * unset left out). The caller frees. Pure. */
char *ferry_kube_exec_info(const struct ferry_kubeconfig *kc);

/* A deep copy of e (NULL for NULL); ferry_kube_exec_free() frees one. */
struct ferry_kube_exec *ferry_kube_exec_dup(const struct ferry_kube_exec *e);
void ferry_kube_exec_free(struct ferry_kube_exec *e);

/* Wipe the secrets and free everything; *c is empty again. */
void ferry_kube_cred_release(struct ferry_kube_cred *c);

#endif
