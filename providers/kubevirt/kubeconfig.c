/* A kubeconfig is read with the schema's YAML loader (schema/node.h), so
 * errors carry the same file:line:col as those about a plan, and the same
 * limits on size, depth and aliases apply.
 */
#include "providers/kubevirt/kubeconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/base64.h"
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

static int load_user(struct loader *l, const struct ferry_node *u, const char *what,
		     struct ferry_kubeconfig *kc)
{
	static const char *const plugins[] = {"exec", "auth-provider"};
	const char *token, *token_file, *user, *pass;

	for (size_t i = 0; i < 2; i++) {
		const struct ferry_node *p = ferry_map_get(u, plugins[i]);

		if (!ferry_node_is_null(p))
			return fail_at(l, p, FERRY_E_UNSUPPORTED,
				       "%s.%s: credential plugins are not supported; use a "
				       "token, tokenFile or a client certificate",
				       what, plugins[i]);
	}
	if (get_str(l, u, what, "token", &token) || get_str(l, u, what, "tokenFile", &token_file) ||
	    get_str(l, u, what, "username", &user) || get_str(l, u, what, "password", &pass))
		return -1;
	if (token_file && *token_file) {
		struct ferry_err terr = FERRY_ERR_INIT;

		kc->token_file = resolve_path(l, token_file);
		if (ferry_kube_read_token(kc->token_file, &kc->token, &terr) && !(token && *token))
			return fail_at(l, ferry_map_get(u, "tokenFile"), terr.code,
				       "%s.tokenFile: %s", what, terr.msg);
	}
	if (!kc->token)
		kc->token = dup_or_null(token);
	if ((user && *user) != (pass && *pass))
		return fail_at(l, u, FERRY_E_INVALID, "%s: username and password go together",
			       what);
	kc->username = dup_or_null(user);
	kc->password = dup_or_null(pass);
	if (get_pem(l, u, what, "client-certificate", &kc->client_cert, &kc->client_cert_len) ||
	    get_pem(l, u, what, "client-key", &kc->client_key, &kc->client_key_len))
		return -1;
	if (!kc->client_cert != !kc->client_key)
		return fail_at(l, u, FERRY_E_INVALID, "%s: %s without %s", what,
			       kc->client_cert ? "client-certificate" : "client-key",
			       kc->client_cert ? "client-key" : "client-certificate");
	return 0;
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
	memset(kc, 0, sizeof *kc);
}
