/* A kubeconfig is read with the schema's YAML loader (schema/node.h), so
 * errors carry the same file:line:col as those about a plan, and the same
 * limits on size, depth and aliases apply.
 */
#include "providers/kubevirt/kubeconfig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/strbuf.h"
#include "common/time.h"
#include "common/util.h"
#include "schema/node.h"

struct loader {
	const char *file;
	char *dir; /* of file, for relative paths */
	const struct ferry_doc *doc;
	struct ferry_err *err;
};

static int fail_at(struct loader *l, const struct ferry_node *n, enum ferry_errcode code,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* An error located at node n (the document's start when n is NULL). */
static int fail_at(struct loader *l, const struct ferry_node *n, enum ferry_errcode code,
		   const char *fmt, ...)
{
	const struct ferry_pos *pos = n ? &n->pos : &l->doc->pos;
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ferry_err_set_at(l->err, code, l->file, pos->line, pos->col, "%s", msg);
}

/* key of map as a string: *out NULL when absent or null; an error when it
 * is there and not a scalar. */
static int get_str(struct loader *l, const struct ferry_node *map, const char *what,
		   const char *key, const char **out)
{
	const struct ferry_node *n = ferry_map_get(map, key);

	*out = NULL;
	if (ferry_node_is_null(n))
		return 0;
	if (n->kind != FERRY_NODE_SCALAR)
		return fail_at(l, n, FERRY_E_INVALID, "%s.%s: expected a string, found %s", what,
			       key, ferry_node_kind_name(n));
	*out = n->u.scalar.text;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? ferry_xstrdup(s) : NULL;
}

/* The entry of root[list] whose name is name, as its `item` mapping
 * (e.g. clusters[i].cluster); *idx its index. NOT_FOUND when absent. */
static int find_named(struct loader *l, const struct ferry_node *root, const char *list,
		      const char *item, const char *name, const struct ferry_node *ref,
		      const struct ferry_node **out, size_t *idx)
{
	const struct ferry_node *seq = ferry_map_get(root, list);

	*out = NULL;
	if (!ferry_node_is_null(seq) && seq->kind != FERRY_NODE_SEQ)
		return fail_at(l, seq, FERRY_E_INVALID, "%s: expected a list, found %s", list,
			       ferry_node_kind_name(seq));
	for (size_t i = 0; seq && seq->kind == FERRY_NODE_SEQ && i < seq->u.seq.len; i++) {
		const struct ferry_node *e = seq->u.seq.items[i], *n, *v;

		if (e->kind != FERRY_NODE_MAP)
			return fail_at(l, e, FERRY_E_INVALID,
				       "%s[%zu]: expected a mapping, found %s", list, i,
				       ferry_node_kind_name(e));
		n = ferry_map_get(e, "name");
		if (!ferry_node_is_scalar(n) || strcmp(n->u.scalar.text, name))
			continue;
		v = ferry_map_get(e, item);
		if (ferry_node_is_null(v))
			return fail_at(l, e, FERRY_E_INVALID, "%s[%zu] (%s): no %s: mapping", list,
				       i, name, item);
		if (v->kind != FERRY_NODE_MAP)
			return fail_at(l, v, FERRY_E_INVALID,
				       "%s[%zu].%s: expected a mapping, found %s", list, i, item,
				       ferry_node_kind_name(v));
		*out = v;
		*idx = i;
		return 0;
	}
	return fail_at(l, ref, FERRY_E_NOT_FOUND, "no %s named \"%s\" in %s", item, name, list);
}

static char *resolve_path(struct loader *l, const char *path)
{
	if (path[0] == '/')
		return ferry_xstrdup(path);
	return ferry_path_join(l->dir, path);
}

/* A PEM item given as a file (key) or as base64 (key-data); neither leaves
 * *out NULL. */
static int get_pem(struct loader *l, const struct ferry_node *map, const char *what,
		   const char *key, char **out, size_t *out_len)
{
	char data_key[64];
	const char *file, *b64;
	const struct ferry_node *fn, *dn;

	*out = NULL;
	*out_len = 0;
	snprintf(data_key, sizeof data_key, "%s-data", key);
	if (get_str(l, map, what, key, &file) || get_str(l, map, what, data_key, &b64))
		return -1;
	fn = ferry_map_get(map, key);
	dn = ferry_map_get(map, data_key);
	if (file && *file && b64 && *b64)
		return fail_at(l, dn, FERRY_E_INVALID, "%s: both %s and %s are set; give one", what,
			       key, data_key);
	if (b64 && *b64) {
		struct ferry_err berr = FERRY_ERR_INIT;
		unsigned char *bytes;
		size_t n;

		if (ferry_base64_decode(b64, strlen(b64), &bytes, &n, &berr))
			return fail_at(l, dn, FERRY_E_INVALID, "%s.%s: expected base64 PEM: %s",
				       what, data_key, berr.msg);
		if (n == 0 || n > FERRY_KUBE_PEM_MAX) {
			free(bytes);
			return fail_at(l, dn, FERRY_E_INVALID, "%s.%s: %s", what, data_key,
				       n ? "too large" : "empty");
		}
		*out = (char *)bytes;
		*out_len = n;
		return 0;
	}
	if (file && *file) {
		char *path = resolve_path(l, file);
		int rc = 0;

		if (ferry_read_file(path, FERRY_KUBE_PEM_MAX, out, out_len))
			rc = fail_at(l, fn, FERRY_E_IO, "%s.%s: cannot read %s: %s", what, key,
				     path, strerror(errno));
		free(path);
		return rc;
	}
	return 0;
}

static int load_cluster(struct loader *l, const struct ferry_node *cl, const char *what,
			struct ferry_kubeconfig *kc)
{
	const char *server, *sni, *proxy;
	const struct ferry_node *ins = ferry_map_get(cl, "insecure-skip-tls-verify");
	size_t n;

	if (get_str(l, cl, what, "server", &server) ||
	    get_str(l, cl, what, "tls-server-name", &sni) ||
	    get_str(l, cl, what, "proxy-url", &proxy))
		return -1;
	if (!server || !*server)
		return fail_at(l, cl, FERRY_E_INVALID, "%s: no server (expected an https:// URL)",
			       what);
	if (!ferry_starts_with(server, "https://") && !ferry_starts_with(server, "http://"))
		return fail_at(l, ferry_map_get(cl, "server"), FERRY_E_INVALID,
			       "%s.server: \"%s\" is not an http:// or https:// URL", what, server);
	kc->server = ferry_xstrdup(server);
	n = strlen(kc->server);
	while (n > 0 && kc->server[n - 1] == '/')
		kc->server[--n] = '\0';
	kc->tls_server_name = dup_or_null(sni);
	kc->proxy_url = dup_or_null(proxy);
	if (!ferry_node_is_null(ins)) {
		bool b, y11;

		if (!ferry_scalar_bool(ins, &b, &y11))
			return fail_at(l, ins, FERRY_E_INVALID,
				       "%s.insecure-skip-tls-verify: expected true or false, found "
				       "%s",
				       what, ferry_node_kind_name(ins));
		kc->insecure = b;
	}
	if (get_pem(l, cl, what, "certificate-authority", &kc->ca, &kc->ca_len))
		return -1;
	if (kc->insecure && kc->ca)
		return fail_at(l, ins, FERRY_E_INVALID,
			       "%s: insecure-skip-tls-verify together with a certificate "
			       "authority; give one",
			       what);
	return 0;
}

/* auth-provider: client-go's in-tree plugins, which ferry does not have.
 * The message names the provider and what replaced it. */
static int refuse_auth_provider(struct loader *l, const struct ferry_node *p, const char *what)
{
	static const struct {
		const char *name, *instead;
	} known[] = {
		{"gcp", "client-go dropped it in 1.26; use the exec plugin gke-gcloud-auth-plugin"},
		{"azure", "client-go dropped it in 1.26; use the exec plugin kubelogin "
			  "(kubelogin convert-kubeconfig)"},
		{"oidc", "use an exec plugin such as kubelogin (kubectl oidc-login get-token)"},
	};
	const struct ferry_node *n = p->kind == FERRY_NODE_MAP ? ferry_map_get(p, "name") : NULL;
	const char *name = ferry_node_is_scalar(n) ? n->u.scalar.text : "";
	const char *instead = "use an exec credential plugin (exec) instead";

	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (!strcmp(name, known[i].name))
			instead = known[i].instead;
	return fail_at(l, p, FERRY_E_UNSUPPORTED,
		       "%s.auth-provider: the \"%s\" auth provider is not supported: %s", what,
		       name, instead);
}

/* exec.args: a list of strings. */
static int load_exec_args(struct loader *l, const struct ferry_node *x, const char *what,
			  struct ferry_kube_exec *e)
{
	const struct ferry_node *seq = ferry_map_get(x, "args");

	if (ferry_node_is_null(seq))
		return 0;
	if (seq->kind != FERRY_NODE_SEQ)
		return fail_at(l, seq, FERRY_E_INVALID, "%s.args: expected a list, found %s", what,
			       ferry_node_kind_name(seq));
	e->args = ferry_xcalloc(seq->u.seq.len + 1, sizeof *e->args);
	for (size_t i = 0; i < seq->u.seq.len; i++) {
		const struct ferry_node *a = seq->u.seq.items[i];

		if (a->kind != FERRY_NODE_SCALAR || strlen(a->u.scalar.text) != a->u.scalar.len)
			return fail_at(l, a, FERRY_E_INVALID,
				       "%s.args[%zu]: expected a string, found %s", what, i,
				       ferry_node_kind_name(a));
		e->args[e->nargs++] = ferry_xstrdup(a->u.scalar.text);
	}
	return 0;
}

/* exec.env: a list of {name, value}, kept as "NAME=value". */
static int load_exec_env(struct loader *l, const struct ferry_node *x, const char *what,
			 struct ferry_kube_exec *e)
{
	const struct ferry_node *seq = ferry_map_get(x, "env");
	char ewhat[192];

	if (ferry_node_is_null(seq))
		return 0;
	if (seq->kind != FERRY_NODE_SEQ)
		return fail_at(l, seq, FERRY_E_INVALID, "%s.env: expected a list, found %s", what,
			       ferry_node_kind_name(seq));
	e->env = ferry_xcalloc(seq->u.seq.len + 1, sizeof *e->env);
	for (size_t i = 0; i < seq->u.seq.len; i++) {
		const struct ferry_node *v = seq->u.seq.items[i];
		const char *name, *value;

		snprintf(ewhat, sizeof ewhat, "%s.env[%zu]", what, i);
		if (v->kind != FERRY_NODE_MAP)
			return fail_at(l, v, FERRY_E_INVALID, "%s: expected a mapping, found %s",
				       ewhat, ferry_node_kind_name(v));
		if (get_str(l, v, ewhat, "name", &name) || get_str(l, v, ewhat, "value", &value))
			return -1;
		if (!name || !*name || strchr(name, '='))
			return fail_at(l, name ? ferry_map_get(v, "name") : v, FERRY_E_INVALID,
				       "%s: %s (expected name: VARIABLE)", ewhat,
				       name && *name ? "a name with '='" : "no name");
		e->env[e->nenv++] = ferry_xasprintf("%s=%s", name, value ? value : "");
	}
	return 0;
}

/* users[].user.exec (kubeconfig.h). */
static int load_exec(struct loader *l, const struct ferry_node *x, const char *user_what,
		     struct ferry_kube_exec **out)
{
	const char *cmd, *ver, *hint, *mode;
	const struct ferry_node *info = ferry_map_get(x, "provideClusterInfo");
	struct ferry_kube_exec *e;
	char what[160];

	*out = NULL;
	snprintf(what, sizeof what, "%s.exec", user_what);
	if (x->kind != FERRY_NODE_MAP)
		return fail_at(l, x, FERRY_E_INVALID, "%s: expected a mapping, found %s", what,
			       ferry_node_kind_name(x));
	if (get_str(l, x, what, "command", &cmd) || get_str(l, x, what, "apiVersion", &ver) ||
	    get_str(l, x, what, "installHint", &hint) ||
	    get_str(l, x, what, "interactiveMode", &mode))
		return -1;
	if (!cmd || !*cmd)
		return fail_at(l, x, FERRY_E_INVALID, "%s: no command (expected command: PROGRAM)",
			       what);
	if (!ver || !*ver)
		return fail_at(l, x, FERRY_E_INVALID, "%s: no apiVersion (expected %s or %s)", what,
			       FERRY_KUBE_EXEC_V1, FERRY_KUBE_EXEC_V1BETA1);
	if (!strcmp(ver, "client.authentication.k8s.io/v1alpha1"))
		return fail_at(l, ferry_map_get(x, "apiVersion"), FERRY_E_UNSUPPORTED,
			       "%s.apiVersion: %s was removed from client-go in 1.24; use %s (the "
			       "plugin must support it)",
			       what, ver, FERRY_KUBE_EXEC_V1);
	if (strcmp(ver, FERRY_KUBE_EXEC_V1) && strcmp(ver, FERRY_KUBE_EXEC_V1BETA1))
		return fail_at(l, ferry_map_get(x, "apiVersion"), FERRY_E_INVALID,
			       "%s.apiVersion: \"%s\" is not %s or %s", what, ver,
			       FERRY_KUBE_EXEC_V1, FERRY_KUBE_EXEC_V1BETA1);
	if (!mode || !*mode) {
		/* kubectl's rule: v1beta1 defaults to IfAvailable, v1 has no default */
		if (!strcmp(ver, FERRY_KUBE_EXEC_V1))
			return fail_at(
				l, x, FERRY_E_INVALID,
				"%s: no interactiveMode (%s needs one: Never or IfAvailable)", what,
				ver);
	} else if (!strcmp(mode, "Always")) {
		return fail_at(l, ferry_map_get(x, "interactiveMode"), FERRY_E_UNSUPPORTED,
			       "%s.interactiveMode: Always, but ferry never runs a plugin "
			       "interactively (it has no terminal); log in beforehand and use "
			       "Never or IfAvailable",
			       what);
	} else if (strcmp(mode, "Never") && strcmp(mode, "IfAvailable")) {
		return fail_at(l, ferry_map_get(x, "interactiveMode"), FERRY_E_INVALID,
			       "%s.interactiveMode: \"%s\" is not Never, IfAvailable or Always",
			       what, mode);
	}
	e = ferry_xcalloc(1, sizeof *e);
	/* as client-go: a command with a '/' is a path, relative to the
	 * kubeconfig's directory; a bare name is looked for in $PATH */
	e->command = strchr(cmd, '/') ? resolve_path(l, cmd) : ferry_xstrdup(cmd);
	e->api_version = ferry_xstrdup(ver);
	e->install_hint = dup_or_null(hint);
	if (!ferry_node_is_null(info)) {
		bool b, y11;

		if (!ferry_scalar_bool(info, &b, &y11)) {
			ferry_kube_exec_free(e);
			return fail_at(l, info, FERRY_E_INVALID,
				       "%s.provideClusterInfo: expected true or false, found %s",
				       what, ferry_node_kind_name(info));
		}
		e->provide_cluster_info = b;
	}
	if (load_exec_args(l, x, what, e) || load_exec_env(l, x, what, e)) {
		ferry_kube_exec_free(e);
		return -1;
	}
	*out = e;
	return 0;
}

static int load_user(struct loader *l, const struct ferry_node *u, const char *what,
		     struct ferry_kubeconfig *kc)
{
	const struct ferry_node *x = ferry_map_get(u, "exec");
	const struct ferry_node *ap = ferry_map_get(u, "auth-provider");
	const char *token, *token_file, *user, *pass;
	struct ferry_kube_exec *exec = NULL;

	if (!ferry_node_is_null(ap))
		return refuse_auth_provider(l, ap, what);
	if (!ferry_node_is_null(x) && load_exec(l, x, what, &exec))
		return -1;
	if (get_str(l, u, what, "token", &token) || get_str(l, u, what, "tokenFile", &token_file) ||
	    get_str(l, u, what, "username", &user) || get_str(l, u, what, "password", &pass))
		goto fail;
	if (token_file && *token_file) {
		struct ferry_err terr = FERRY_ERR_INIT;

		kc->token_file = resolve_path(l, token_file);
		if (ferry_kube_read_token(kc->token_file, &kc->token, &terr) &&
		    !(token && *token)) {
			fail_at(l, ferry_map_get(u, "tokenFile"), terr.code, "%s.tokenFile: %s",
				what, terr.msg);
			goto fail;
		}
	}
	if (!kc->token)
		kc->token = dup_or_null(token);
	if ((user && *user) != (pass && *pass)) {
		fail_at(l, u, FERRY_E_INVALID, "%s: username and password go together", what);
		goto fail;
	}
	kc->username = dup_or_null(user);
	kc->password = dup_or_null(pass);
	if (get_pem(l, u, what, "client-certificate", &kc->client_cert, &kc->client_cert_len) ||
	    get_pem(l, u, what, "client-key", &kc->client_key, &kc->client_key_len))
		goto fail;
	if (!kc->client_cert != !kc->client_key) {
		fail_at(l, u, FERRY_E_INVALID, "%s: %s without %s", what,
			kc->client_cert ? "client-certificate" : "client-key",
			kc->client_cert ? "client-key" : "client-certificate");
		goto fail;
	}
	/* client-go runs the plugin only for a user without static
	 * credentials: a token, a user name or a certificate wins */
	if (kc->token || kc->token_file || kc->username || kc->client_cert)
		ferry_kube_exec_free(exec);
	else
		kc->exec = exec;
	return 0;
fail:
	ferry_kube_exec_free(exec);
	return -1;
}

static int load_doc(struct loader *l, const char *want, struct ferry_kubeconfig *kc)
{
	const struct ferry_node *root = l->doc->root, *cur, *ctx, *n;
	const char *name, *cluster, *user, *ns;
	char what[128];
	size_t idx;

	if (!root || root->kind != FERRY_NODE_MAP)
		return fail_at(l, root, FERRY_E_INVALID,
			       "expected a kubeconfig (a mapping with clusters, users, contexts), "
			       "found %s",
			       ferry_node_kind_name(root));
	cur = ferry_map_get(root, "current-context");
	if (want && *want) {
		name = want;
		n = root;
	} else {
		if (get_str(l, root, "kubeconfig", "current-context", &name))
			return -1;
		if (!name || !*name)
			return fail_at(l, root, FERRY_E_INVALID,
				       "no current-context (expected current-context: NAME, or "
				       "a context chosen by name)");
		n = cur;
	}
	if (find_named(l, root, "contexts", "context", name, n, &ctx, &idx))
		return -1;
	kc->context = ferry_xstrdup(name);
	snprintf(what, sizeof what, "contexts[%zu].context", idx);
	if (get_str(l, ctx, what, "cluster", &cluster) || get_str(l, ctx, what, "user", &user) ||
	    get_str(l, ctx, what, "namespace", &ns))
		return -1;
	if (!cluster || !*cluster)
		return fail_at(l, ctx, FERRY_E_INVALID, "%s: no cluster (expected cluster: NAME)",
			       what);
	kc->namespace_ = ferry_xstrdup(ns && *ns ? ns : "default");
	if (find_named(l, root, "clusters", "cluster", cluster, ferry_map_get(ctx, "cluster"), &n,
		       &idx))
		return -1;
	kc->cluster = ferry_xstrdup(cluster);
	snprintf(what, sizeof what, "clusters[%zu].cluster", idx);
	if (load_cluster(l, n, what, kc))
		return -1;
	if (!user || !*user)
		return 0; /* anonymous */
	if (find_named(l, root, "users", "user", user, ferry_map_get(ctx, "user"), &n, &idx))
		return -1;
	kc->user = ferry_xstrdup(user);
	snprintf(what, sizeof what, "users[%zu].user", idx);
	return load_user(l, n, what, kc);
}

int ferry_kubeconfig_parse(const char *file, const char *data, size_t len, const char *context,
			   struct ferry_kubeconfig *out, struct ferry_err *err)
{
	struct loader l = {.file = file, .err = err};
	struct ferry_doc **docs = NULL;
	size_t ndocs = 0;
	const char *slash = strrchr(file, '/');
	int rc = -1;

	memset(out, 0, sizeof *out);
	l.dir = slash ? ferry_xstrndup(file, slash == file ? 1 : (size_t)(slash - file))
		      : ferry_xstrdup(".");
	if (ferry_yaml_parse(file, data, len, &docs, &ndocs, NULL, NULL, err))
		goto out;
	if (ndocs != 1) {
		ferry_err_set_at(err, FERRY_E_INVALID, file, ndocs ? docs[1]->pos.line : 1,
				 ndocs ? docs[1]->pos.col : 1,
				 "expected one YAML document, found %zu", ndocs);
		goto out;
	}
	l.doc = docs[0];
	out->source = ferry_xstrdup(file);
	rc = load_doc(&l, context, out);
out:
	if (rc)
		ferry_kubeconfig_release(out);
	ferry_docs_free(docs, ndocs);
	free(l.dir);
	return rc;
}

int ferry_kubeconfig_load(const char *path, const char *context, struct ferry_kubeconfig *out,
			  struct ferry_err *err)
{
	char *chosen = NULL, *data = NULL;
	size_t len;
	int rc;

	memset(out, 0, sizeof *out);
	if (!path || !*path) {
		const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");

		while (env && *env == ':')
			env++;
		if (env && *env)
			chosen = ferry_xstrndup(env, strcspn(env, ":"));
		else if (home && *home)
			chosen = ferry_xasprintf("%s/.kube/config", home);
		else
			return ferry_err_set(err, FERRY_E_NOT_FOUND,
					     "no kubeconfig: KUBECONFIG and HOME are not set");
		path = chosen;
	}
	if (ferry_read_file(path, FERRY_YAML_MAX_BYTES, &data, &len)) {
		rc = ferry_err_set(err, errno == ENOENT ? FERRY_E_NOT_FOUND : FERRY_E_IO,
				   "kubeconfig %s: %s", path, strerror(errno));
	} else {
		rc = ferry_kubeconfig_parse(path, data, len, context, out, err);
	}
	free(data);
	free(chosen);
	return rc;
}

int ferry_kube_read_token(const char *path, char **token, struct ferry_err *err)
{
	char *data = NULL;
	size_t len;

	*token = NULL;
	if (ferry_read_file(path, FERRY_KUBE_TOKEN_MAX, &data, &len))
		return ferry_err_set(err, errno == ENOENT ? FERRY_E_NOT_FOUND : FERRY_E_IO,
				     "cannot read token file %s: %s", path,
				     errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
	while (len > 0 && strchr(" \t\r\n", data[len - 1]))
		data[--len] = '\0';
	if (len == 0 || memchr(data, '\0', len) || strpbrk(data, "\r\n")) {
		free(data);
		return ferry_err_set(err, FERRY_E_INVALID, "token file %s: %s", path,
				     len ? "not a single line of text" : "empty");
	}
	*token = data;
	return 0;
}

int ferry_kubeconfig_in_cluster(const char *root, struct ferry_kubeconfig *out,
				struct ferry_err *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *path, *ns = NULL;
	size_t len;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!root || !*root)
		root = FERRY_KUBE_SA_ROOT;
	if (!host || !*host || !port || !*port)
		return ferry_err_set(err, FERRY_E_NOT_FOUND,
				     "not running in a cluster: KUBERNETES_SERVICE_HOST and "
				     "KUBERNETES_SERVICE_PORT are not set");
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "KUBERNETES_SERVICE_PORT \"%s\" is not a port number", port);
	out->source = ferry_xstrdup(root);
	out->server = strchr(host, ':') ? ferry_xasprintf("https://[%s]:%s", host, port)
					: ferry_xasprintf("https://%s:%s", host, port);
	out->token_file = ferry_xasprintf("%s/token", root);
	if (ferry_kube_read_token(out->token_file, &out->token, err)) {
		ferry_err_prefix(err, "service account: ");
		goto out;
	}
	path = ferry_xasprintf("%s/ca.crt", root);
	if (ferry_read_file(path, FERRY_KUBE_PEM_MAX, &out->ca, &out->ca_len) && errno != ENOENT) {
		ferry_err_set(err, FERRY_E_IO, "service account: cannot read %s: %s", path,
			      strerror(errno));
		free(path);
		goto out;
	}
	free(path);
	path = ferry_xasprintf("%s/namespace", root);
	if (!ferry_read_file(path, 4096, &ns, &len)) {
		while (len > 0 && strchr(" \t\r\n", ns[len - 1]))
			ns[--len] = '\0';
	}
	free(path);
	out->namespace_ = ferry_xstrdup(ns && *ns ? ns : "default");
	rc = 0;
out:
	free(ns);
	if (rc)
		ferry_kubeconfig_release(out);
	return rc;
}

int ferry_kubeconfig_for_server(const char *server, const char *token, const char *ca_pem,
				bool insecure, const char *namespace_, struct ferry_kubeconfig *out,
				struct ferry_err *err)
{
	size_t n;

	memset(out, 0, sizeof *out);
	if (!server ||
	    (!ferry_starts_with(server, "https://") && !ferry_starts_with(server, "http://")))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "server \"%s\" is not an http:// or https:// URL",
				     server ? server : "");
	if (insecure && ca_pem && *ca_pem)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "server %s: insecure together with a CA certificate; give one",
				     server);
	out->source = ferry_xstrdup(server);
	out->server = ferry_xstrdup(server);
	n = strlen(out->server);
	while (n > 0 && out->server[n - 1] == '/')
		out->server[--n] = '\0';
	out->token = dup_or_null(token);
	if (ca_pem && *ca_pem) {
		out->ca = ferry_xstrdup(ca_pem);
		out->ca_len = strlen(ca_pem);
	}
	out->insecure = insecure;
	out->namespace_ = ferry_xstrdup(namespace_ && *namespace_ ? namespace_ : "default");
	return 0;
}

static void wipe(char *s, size_t n)
{
	if (s) {
		explicit_bzero(s, n ? n : strlen(s));
		free(s);
	}
}

void ferry_kubeconfig_release(struct ferry_kubeconfig *kc)
{
	free(kc->source);
	free(kc->context);
	free(kc->cluster);
	free(kc->user);
	free(kc->server);
	free(kc->namespace_);
	free(kc->tls_server_name);
	free(kc->proxy_url);
	free(kc->ca);
	free(kc->client_cert);
	wipe(kc->client_key, kc->client_key_len);
	wipe(kc->token, 0);
	free(kc->token_file);
	free(kc->username);
	wipe(kc->password, 0);
	ferry_kube_exec_free(kc->exec);
	memset(kc, 0, sizeof *kc);
}

/* ---- exec credential plugins ------------------------------------------------ */

/* The end of a plugin's standard error kept for messages, and how much of
 * it a message quotes. */
#define STDERR_KEEP    4096
#define STDERR_EXCERPT 200

struct ferry_kube_exec *ferry_kube_exec_dup(const struct ferry_kube_exec *e)
{
	struct ferry_kube_exec *d;

	if (!e)
		return NULL;
	d = ferry_xcalloc(1, sizeof *d);
	d->command = ferry_xstrdup(e->command);
	d->api_version = ferry_xstrdup(e->api_version);
	d->install_hint = e->install_hint ? ferry_xstrdup(e->install_hint) : NULL;
	d->provide_cluster_info = e->provide_cluster_info;
	d->args = ferry_xcalloc(e->nargs + 1, sizeof *d->args);
	for (; d->nargs < e->nargs; d->nargs++)
		d->args[d->nargs] = ferry_xstrdup(e->args[d->nargs]);
	d->env = ferry_xcalloc(e->nenv + 1, sizeof *d->env);
	for (; d->nenv < e->nenv; d->nenv++)
		d->env[d->nenv] = ferry_xstrdup(e->env[d->nenv]);
	return d;
}

void ferry_kube_exec_free(struct ferry_kube_exec *e)
{
	if (!e)
		return;
	free(e->command);
	free(e->api_version);
	free(e->install_hint);
	for (size_t i = 0; i < e->nargs; i++)
		free(e->args[i]);
	free(e->args);
	/* env values are often secrets too (client secrets, API keys) */
	for (size_t i = 0; i < e->nenv; i++)
		wipe(e->env[i], 0);
	free(e->env);
	free(e);
}

void ferry_kube_cred_release(struct ferry_kube_cred *c)
{
	wipe(c->token, 0);
	free(c->client_cert);
	wipe(c->client_key, c->client_key_len);
	memset(c, 0, sizeof *c);
}

char *ferry_kube_exec_info(const struct ferry_kubeconfig *kc)
{
	const struct ferry_kube_exec *e = kc->exec;
	json_t *spec = json_object(), *info;
	char *text;

	json_object_set_new(spec, "interactive", json_false());
	if (e && e->provide_cluster_info) {
		json_t *cl = json_object();

		json_object_set_new(cl, "server", json_string(kc->server ? kc->server : ""));
		if (kc->tls_server_name)
			json_object_set_new(cl, "tls-server-name",
					    json_string(kc->tls_server_name));
		if (kc->insecure)
			json_object_set_new(cl, "insecure-skip-tls-verify", json_true());
		if (kc->ca) {
			char *b64 = ferry_base64_encode((const unsigned char *)kc->ca, kc->ca_len);

			json_object_set_new(cl, "certificate-authority-data", json_string(b64));
			free(b64);
		}
		if (kc->proxy_url)
			json_object_set_new(cl, "proxy-url", json_string(kc->proxy_url));
		json_object_set_new(spec, "cluster", cl);
	}
	info = json_object();
	json_object_set_new(info, "apiVersion",
			    json_string(e ? e->api_version : FERRY_KUBE_EXEC_V1));
	json_object_set_new(info, "kind", json_string("ExecCredential"));
	json_object_set_new(info, "spec", spec);
	text = json_dumps(info, JSON_COMPACT);
	json_decref(info);
	return text ? text : ferry_xstrdup("{}");
}

/* A secret string of status (absent, null or "" leave *out NULL): at most
 * max bytes, no NUL; a token also no control characters, since it goes
 * into a header. */
static int cred_string(json_t *status, const char *key, size_t max, bool header, char **out,
		       size_t *out_len, struct ferry_err *err)
{
	json_t *v = json_object_get(status, key);
	const char *s;
	size_t n;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return ferry_err_set(err, FERRY_E_INVALID, "status.%s is not a string", key);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0)
		return 0;
	if (n > max)
		return ferry_err_set(err, FERRY_E_LIMIT, "status.%s is longer than %zu bytes", key,
				     max);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0 || (header && (c < 0x20 || c == 0x7f)))
			return ferry_err_set(err, FERRY_E_INVALID,
					     "status.%s holds a control character", key);
	}
	*out = ferry_xstrndup(s, n);
	if (out_len)
		*out_len = n;
	return 0;
}

/* Overwrite a secret string held by a JSON document before it is freed
 * (jansson keeps the bytes in a buffer of its own). */
static void scrub(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		explicit_bzero((char *)(uintptr_t)json_string_value(v), json_string_length(v));
}

int ferry_kube_exec_parse(const char *api_version, const char *data, size_t len,
			  struct ferry_kube_cred *out, struct ferry_err *err)
{
	json_error_t je;
	json_t *doc, *status = NULL, *exp;
	const char *ver, *kind;
	int rc = -1;

	memset(out, 0, sizeof *out);
	doc = json_loadb(data, len, 0, &je);
	if (!doc)
		/* jansson's own text may quote the input: only the place */
		return ferry_err_set(err, FERRY_E_INVALID,
				     "the output is not JSON (line %d, column %d)", je.line,
				     je.column);
	if (!json_is_object(doc)) {
		ferry_err_set(err, FERRY_E_INVALID, "the output is not an ExecCredential object");
		goto out;
	}
	status = json_object_get(doc, "status");
	kind = json_string_value(json_object_get(doc, "kind"));
	ver = json_string_value(json_object_get(doc, "apiVersion"));
	if (!kind || strcmp(kind, "ExecCredential")) {
		ferry_err_set(err, FERRY_E_INVALID, "kind is \"%.64s\", expected ExecCredential",
			      kind ? kind : "");
		goto out;
	}
	if (!ver || strcmp(ver, api_version)) {
		ferry_err_set(err, FERRY_E_INVALID,
			      "apiVersion is \"%.64s\", expected %s (exec.apiVersion in the "
			      "kubeconfig)",
			      ver ? ver : "", api_version);
		goto out;
	}
	if (!json_is_object(status)) {
		ferry_err_set(err, FERRY_E_INVALID, "the ExecCredential has no status");
		goto out;
	}
	if (cred_string(status, "token", FERRY_KUBE_TOKEN_MAX, true, &out->token, NULL, err) ||
	    cred_string(status, "clientCertificateData", FERRY_KUBE_PEM_MAX, false,
			&out->client_cert, &out->client_cert_len, err) ||
	    cred_string(status, "clientKeyData", FERRY_KUBE_PEM_MAX, false, &out->client_key,
			&out->client_key_len, err))
		goto out;
	if (!out->client_cert != !out->client_key) {
		ferry_err_set(err, FERRY_E_INVALID, "status.%s without status.%s",
			      out->client_cert ? "clientCertificateData" : "clientKeyData",
			      out->client_cert ? "clientKeyData" : "clientCertificateData");
		goto out;
	}
	if (!out->token && !out->client_cert) {
		ferry_err_set(err, FERRY_E_INVALID,
			      "the status has no token and no clientCertificateData");
		goto out;
	}
	exp = json_object_get(status, "expirationTimestamp");
	if (exp && !json_is_null(exp)) {
		struct ferry_err terr = FERRY_ERR_INIT;
		struct ferry_time t;
		const char *ts = json_string_value(exp);

		if (!ts || ferry_time_parse(ts, &t, &terr)) {
			ferry_err_set(
				err, FERRY_E_INVALID,
				"status.expirationTimestamp \"%.64s\" is not an RFC 3339 time",
				ts ? ts : "");
			goto out;
		}
		/* 0 means "none": a credential that expired in 1970 expires now */
		out->expires = t.sec > 0 ? (long long)t.sec : 1;
	}
	rc = 0;
out:
	if (json_is_object(status)) {
		scrub(status, "token");
		scrub(status, "clientKeyData");
	}
	json_decref(doc);
	if (rc)
		ferry_kube_cred_release(out);
	return rc;
}

/* The plugin's command as a path for execve: as given when it has a '/',
 * else the first executable file of that name in $PATH. Like Go's
 * exec.LookPath (client-go's), entries of $PATH that are not absolute are
 * not searched. NULL when there is none. */
static char *find_command(const char *cmd)
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/'))
		return access(cmd, F_OK) == 0 ? ferry_xstrdup(cmd) : NULL;
	for (const char *p = path ? path : ""; *p;) {
		size_t n = strcspn(p, ":");

		if (p[0] == '/') {
			char *dir = ferry_xstrndup(p, n), *full = ferry_path_join(dir, cmd);
			struct stat st;

			free(dir);
			if (!stat(full, &st) && S_ISREG(st.st_mode) && !access(full, X_OK))
				return full;
			free(full);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return NULL;
}

/* ferry's environment, then the plugin's env (a later entry of the same
 * name wins, as in Go's os/exec), then KUBERNETES_EXEC_INFO, which
 * neither may set. The strings
 * are borrowed but the last; the caller frees the array and envp[n-1]. */
static char **plugin_env(const struct ferry_kubeconfig *kc)
{
	extern char **environ;
	const struct ferry_kube_exec *e = kc->exec;
	size_t n = 0, k = 0;
	char **envp, *info;

	for (char **v = environ; *v; v++)
		n++;
	envp = ferry_xcalloc(n + e->nenv + 2, sizeof *envp);
	for (char **v = environ; *v; v++) {
		size_t len = strcspn(*v, "=");
		bool replaced = !strncmp(*v, "KUBERNETES_EXEC_INFO=", 21);

		for (size_t i = 0; i < e->nenv && !replaced; i++)
			replaced = !strncmp(*v, e->env[i], len + 1);
		if (!replaced)
			envp[k++] = *v;
	}
	for (size_t i = 0; i < e->nenv; i++) {
		size_t len = strcspn(e->env[i], "=");
		bool later = false;

		for (size_t j = i + 1; j < e->nenv && !later; j++)
			later = !strncmp(e->env[i], e->env[j], len + 1);
		if (!later && strncmp(e->env[i], "KUBERNETES_EXEC_INFO=", 21))
			envp[k++] = e->env[i];
	}
	info = ferry_kube_exec_info(kc);
	envp[k++] = ferry_xasprintf("KUBERNETES_EXEC_INFO=%s", info);
	free(info);
	return envp;
}

/* What a run of the plugin left: its output (a secret), the end of its
 * standard error, how it ended. */
struct run {
	char *out;
	size_t out_len, out_cap;
	bool too_big, timed_out;
	struct ferry_sb err; /* the last STDERR_KEEP bytes or so */
	int status;
};

/* Append to the output; growing copies and wipes the old buffer, so no
 * copy of the credential is left in freed memory. */
static bool out_add(struct run *r, const char *p, size_t n)
{
	if (r->out_len + n > FERRY_KUBE_EXEC_OUT_MAX) {
		r->too_big = true;
		return false;
	}
	if (r->out_len + n + 1 > r->out_cap) {
		size_t cap = r->out_cap ? r->out_cap : 16384;
		char *bigger;

		while (cap < r->out_len + n + 1)
			cap *= 2;
		bigger = ferry_xmalloc(cap);
		if (r->out) {
			memcpy(bigger, r->out, r->out_len);
			explicit_bzero(r->out, r->out_cap);
			free(r->out);
		}
		r->out = bigger;
		r->out_cap = cap;
	}
	memcpy(r->out + r->out_len, p, n);
	r->out_len += n;
	r->out[r->out_len] = '\0';
	return true;
}

static void err_add(struct run *r, const char *p, size_t n)
{
	ferry_sb_add(&r->err, p, n);
	if (r->err.len > 2 * STDERR_KEEP) {
		memmove(r->err.buf, r->err.buf + r->err.len - STDERR_KEEP, STDERR_KEEP);
		r->err.len = STDERR_KEEP;
		r->err.buf[r->err.len] = '\0';
	}
}

/* In the child: async-signal-safe calls only. fd 3 reports a failed
 * execve. */
static void become_plugin(const char *path, char *const argv[], char *const envp[], int in, int out,
			  int err, int report)
{
	int e;

	setpgid(0, 0); /* so that a timeout kills what it started too */
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 || dup2(report, 3) < 0 ||
	    fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		_exit(127);
	if (close_range(4, ~0u, 0) != 0)
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
	execve(path, argv, envp);
	e = errno;
	if (write(3, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Read the plugin's output and standard error until both end (closing
 * out and err), then reap it; at the deadline, or when the output is too
 * large, kill its process group instead. */
static void collect(struct run *r, pid_t pid, int out, int err, double deadline)
{
	int fds[2] = {out, err};
	char buf[8192];

	while ((fds[0] >= 0 || fds[1] >= 0) && !r->too_big) {
		struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
		double left = deadline - ferry_monotonic();
		int n;

		if (left <= 0) {
			r->timed_out = true;
			break;
		}
		n = poll(p, 2, (int)(left * 1000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < 2; i++) {
			ssize_t got;

			if (!p[i].revents || fds[i] < 0)
				continue;
			got = read(fds[i], buf, sizeof buf);
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0)
				close_fd(&fds[i]);
			else if (i == 1)
				err_add(r, buf, (size_t)got);
			else if (!out_add(r, buf, (size_t)got))
				break;
		}
	}
	explicit_bzero(buf, sizeof buf);
	close_fd(&fds[0]);
	close_fd(&fds[1]);
	while (!r->timed_out && !r->too_big) {
		pid_t w = waitpid(pid, &r->status, WNOHANG);

		/* ECHILD: reaped by someone else's waitpid(-1); the output
		 * still has to be a credential */
		if (w == pid || (w < 0 && errno == ECHILD))
			return;
		if (ferry_monotonic() >= deadline)
			r->timed_out = true;
		else
			ferry_sleep(0.01);
	}
	if (kill(-pid, SIGKILL))
		kill(pid, SIGKILL);
	while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
		;
}

/* Text from a plugin or a kubeconfig on one line: each run of control
 * characters and blanks becomes one space; none at either end. */
static void add_one_line(struct ferry_sb *sb, const char *p, size_t n)
{
	bool blank = false;
	size_t start = sb->len;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= 0x20 || c == 0x7f) {
			blank = true;
			continue;
		}
		if (blank && sb->len > start)
			ferry_sb_addc(sb, ' ');
		ferry_sb_addc(sb, (char)c);
		blank = false;
	}
}

/* "; stderr: \"...the end of it\"", or nothing when it said nothing. */
static void add_excerpt(struct ferry_sb *msg, const struct ferry_sb *err)
{
	struct ferry_sb text = FERRY_SB_INIT;
	size_t end = err->len, start;

	while (end > 0 && isspace((unsigned char)err->buf[end - 1]))
		end--;
	if (end == 0)
		return;
	start = end > STDERR_EXCERPT ? end - STDERR_EXCERPT : 0;
	while (start > 0 && start < end && ((unsigned char)err->buf[start] & 0xc0) == 0x80)
		start++; /* not in the middle of a UTF-8 character */
	if (start > 0)
		ferry_sb_adds(&text, "...");
	add_one_line(&text, err->buf + start, end - start);
	ferry_sb_adds(msg, "; stderr: ");
	ferry_sb_add_quoted(msg, text.buf);
	ferry_sb_release(&text);
}

static int not_found(const struct ferry_kube_exec *e, struct ferry_err *err)
{
	struct ferry_sb m = FERRY_SB_INIT;
	int rc;

	ferry_sb_addf(&m, "exec plugin %s: %s", e->command,
		      strchr(e->command, '/') ? "no such file" : "not found in $PATH");
	if (e->install_hint) {
		ferry_sb_adds(&m, "; install hint: ");
		add_one_line(&m, e->install_hint, strlen(e->install_hint));
	}
	rc = ferry_err_set(err, FERRY_E_NOT_FOUND, "%s", m.buf);
	ferry_sb_release(&m);
	return rc;
}

/* The error for a run that gave no credential: what happened, then the end
 * of the plugin's standard error. */
static int run_error(const struct ferry_kube_exec *e, const struct run *r, enum ferry_errcode code,
		     const char *what, struct ferry_err *err)
{
	struct ferry_sb m = FERRY_SB_INIT;
	int rc;

	ferry_sb_addf(&m, "exec plugin %s: %s", e->command, what);
	add_excerpt(&m, &r->err);
	rc = ferry_err_set(err, code, "%s", m.buf);
	ferry_sb_release(&m);
	return rc;
}

int ferry_kube_exec_run(const struct ferry_kubeconfig *kc, unsigned timeout_s,
			struct ferry_kube_cred *out, struct ferry_err *err)
{
	const struct ferry_kube_exec *e = kc->exec;
	struct run r = {0};
	char *path, **argv, **envp, why[96];
	int in = -1, po[2] = {-1, -1}, pe[2] = {-1, -1}, ps[2] = {-1, -1};
	int rc = -1, exec_errno = 0;
	ssize_t reported = 0;
	double deadline;
	size_t nenv = 0;
	pid_t pid;

	memset(out, 0, sizeof *out);
	if (!e)
		return ferry_err_set(err, FERRY_E_INVALID, "no exec plugin");
	if (!timeout_s)
		timeout_s = FERRY_KUBE_EXEC_TIMEOUT_S;
	path = find_command(e->command);
	if (!path)
		return not_found(e, err);
	ferry_sb_init(&r.err);
	argv = ferry_xcalloc(e->nargs + 2, sizeof *argv);
	argv[0] = e->command; /* as written, as Go's exec.Command does */
	for (size_t i = 0; i < e->nargs; i++)
		argv[i + 1] = e->args[i];
	envp = plugin_env(kc);
	while (envp[nenv])
		nenv++;
	if ((in = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || pipe2(po, O_CLOEXEC) ||
	    pipe2(pe, O_CLOEXEC) || pipe2(ps, O_CLOEXEC)) {
		ferry_err_set(err, FERRY_E_IO, "exec plugin %s: %s", e->command, strerror(errno));
		goto out;
	}
	deadline = ferry_monotonic() + timeout_s;
	pid = ferry_fork_tied(); /* never outlive ferry */
	if (pid == 0)
		become_plugin(path, argv, envp, in, po[1], pe[1], ps[1]);
	if (pid < 0) {
		ferry_err_set(err, FERRY_E_IO, "exec plugin %s: fork: %s", e->command,
			      strerror(errno));
		goto out;
	}
	close_fd(&in);
	close_fd(&po[1]);
	close_fd(&pe[1]);
	close_fd(&ps[1]);
	/* the report pipe ends at a successful execve, or says why not */
	while ((reported = read(ps[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR)
		;
	collect(&r, pid, po[0], pe[0], deadline);
	po[0] = pe[0] = -1;
	if (reported == (ssize_t)sizeof exec_errno) {
		if (exec_errno == ENOENT)
			not_found(e, err);
		else
			ferry_err_set(err, FERRY_E_IO, "exec plugin %s: cannot run %s: %s",
				      e->command, path, strerror(exec_errno));
		goto out;
	}
	if (r.too_big) {
		snprintf(why, sizeof why, "more than %u bytes of output", FERRY_KUBE_EXEC_OUT_MAX);
		run_error(e, &r, FERRY_E_LIMIT, why, err);
	} else if (r.timed_out) {
		snprintf(why, sizeof why, "no answer in %u s (killed)", timeout_s);
		run_error(e, &r, FERRY_E_TIMEOUT, why, err);
	} else if (WIFSIGNALED(r.status)) {
		snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(r.status));
		run_error(e, &r, FERRY_E_AUTH, why, err);
	} else if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
		snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(r.status));
		run_error(e, &r, FERRY_E_AUTH, why, err);
	} else if (ferry_kube_exec_parse(e->api_version, r.out ? r.out : "", r.out_len, out, err)) {
		char msg[FERRY_ERR_MSG_MAX];

		snprintf(msg, sizeof msg, "%s", err->msg);
		run_error(e, &r, err->code, msg, err);
	} else {
		rc = 0;
	}
out:
	if (r.out) {
		explicit_bzero(r.out, r.out_cap);
		free(r.out);
	}
	ferry_sb_release(&r.err);
	close_fd(&in);
	for (int i = 0; i < 2; i++) {
		close_fd(&po[i]);
		close_fd(&pe[i]);
		close_fd(&ps[i]);
	}
	free(envp[nenv - 1]);
	free(envp);
	free(argv);
	free(path);
	return rc;
}
