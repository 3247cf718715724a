/* providers/kubevirt/kubeconfig: kubeconfig files (tokens, client
 * certificates as data and as files, relative paths, context choice,
 * errors located at file:line:col), the in-cluster service account under a
 * temporary root, a server given by URL, and exec credential plugins: small
 * shell scripts in the temporary root that print an ExecCredential (or fail
 * in the ways plugins do) and leave what they were given in files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "providers/kubevirt/kubeconfig.h"

#include <jansson.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/time.h"

#define CA_PEM	 "-----BEGIN CERTIFICATE-----\nMIIBfake-ca\n-----END CERTIFICATE-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBfake-client\n-----END CERTIFICATE-----\n"
#define KEY_PEM	 "-----BEGIN PRIVATE KEY-----\nMIIBfake-key\n-----END PRIVATE KEY-----\n"
#define TOKEN	 "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.sig"

struct fx {
	char root[64];
};

static int setup(void **state)
{
	struct fx *fx = ferry_xcalloc(1, sizeof *fx);

	snprintf(fx->root, sizeof fx->root, "/tmp/ferry-kubeconfig-XXXXXX");
	if (!mkdtemp(fx->root))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	ferry_rmtree(fx->root);
	free(fx);
	return 0;
}

static char *write_file(const struct fx *fx, const char *rel, const char *text)
{
	char *path = ferry_xasprintf("%s/%s", fx->root, rel);
	char *dir = ferry_xstrdup(path);

	*strrchr(dir, '/') = '\0';
	assert_int_equal(ferry_mkdirs(dir, 0700), 0);
	assert_int_equal(ferry_write_file_atomic(path, text, strlen(text), 0600), 0);
	free(dir);
	return path;
}

static char *b64(const char *s)
{
	return ferry_base64_encode((const unsigned char *)s, strlen(s));
}

/* Parse text as the kubeconfig "cfg" in a directory of its own. */
static int parse(const char *text, const char *context, struct ferry_kubeconfig *kc,
		 struct ferry_err *err)
{
	return ferry_kubeconfig_parse("/nonexistent/kube/config", text, strlen(text), context, kc,
				      err);
}

static void test_token_user(void **state)
{
	char *ca = b64(CA_PEM);
	char *text = ferry_xasprintf("apiVersion: v1\n"
				     "kind: Config\n"
				     "clusters:\n"
				     "- name: prod\n"
				     "  cluster:\n"
				     "    server: https://api.prod.example.com:6443/\n"
				     "    certificate-authority-data: %s\n"
				     "    tls-server-name: kubernetes.default\n"
				     "users:\n"
				     "- name: ferry\n"
				     "  user:\n"
				     "    token: " TOKEN "\n"
				     "contexts:\n"
				     "- name: prod\n"
				     "  context:\n"
				     "    cluster: prod\n"
				     "    user: ferry\n"
				     "    namespace: migrations\n"
				     "current-context: prod\n"
				     "preferences: {}\n",
				     ca);
	struct ferry_kubeconfig kc;
	struct ferry_err err = FERRY_ERR_INIT;
	(void)state;

	if (parse(text, NULL, &kc, &err))
		fail_msg("%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
	assert_string_equal(kc.server, "https://api.prod.example.com:6443");
	assert_string_equal(kc.namespace_, "migrations");
	assert_string_equal(kc.context, "prod");
	assert_string_equal(kc.cluster, "prod");
	assert_string_equal(kc.user, "ferry");
	assert_string_equal(kc.tls_server_name, "kubernetes.default");
	assert_string_equal(kc.token, TOKEN);
	assert_null(kc.token_file);
	assert_int_equal(kc.ca_len, strlen(CA_PEM));
	assert_memory_equal(kc.ca, CA_PEM, kc.ca_len);
	assert_null(kc.client_cert);
	assert_false(kc.insecure);
	ferry_kubeconfig_release(&kc);
	assert_null(kc.server);
	free(text);
	free(ca);
}

static void test_client_cert_data(void **state)
{
	char *cert = b64(CERT_PEM), *key = b64(KEY_PEM);
	char *text = ferry_xasprintf("clusters:\n"
				     "- name: c\n"
				     "  cluster:\n"
				     "    server: https://10.0.0.1\n"
				     "    insecure-skip-tls-verify: true\n"
				     "users:\n"
				     "- name: admin\n"
				     "  user:\n"
				     "    client-certificate-data: %s\n"
				     "    client-key-data: %s\n"
				     "contexts:\n"
				     "- name: c\n"
				     "  context: {cluster: c, user: admin}\n"
				     "current-context: c\n",
				     cert, key);
	struct ferry_kubeconfig kc;
	struct ferry_err err = FERRY_ERR_INIT;
	(void)state;

	if (parse(text, NULL, &kc, &err))
		fail_msg("%s", err.msg);
	assert_true(kc.insecure);
	assert_null(kc.ca);
	assert_string_equal(kc.namespace_, "default");
	assert_int_equal(kc.client_cert_len, strlen(CERT_PEM));
	assert_memory_equal(kc.client_cert, CERT_PEM, kc.client_cert_len);
	assert_int_equal(kc.client_key_len, strlen(KEY_PEM));
	assert_memory_equal(kc.client_key, KEY_PEM, kc.client_key_len);
	assert_null(kc.token);
	ferry_kubeconfig_release(&kc);
	free(text);
	free(cert);
	free(key);
}

/* Files named relative to the kubeconfig's directory, and absolute. */
static void test_files_and_relative_paths(void **state)
{
	struct fx *fx = *state;
	struct ferry_kubeconfig kc;
	struct ferry_err err = FERRY_ERR_INIT;
	char *ca = write_file(fx, "certs/ca.crt", CA_PEM);
	char *cert = write_file(fx, "kube/client.crt", CERT_PEM);
	char *key = write_file(fx, "kube/keys/client.key", KEY_PEM);
	char *tok = write_file(fx, "kube/token", TOKEN "\n");
	char *text = ferry_xasprintf("clusters:\n"
				     "- name: c\n"
				     "  cluster:\n"
				     "    server: https://[fd00::1]:6443\n"
				     "    certificate-authority: ../certs/ca.crt\n"
				     "users:\n"
				     "- name: u\n"
				     "  user:\n"
				     "    client-certificate: client.crt\n"
				     "    client-key: %s\n"
				     "    tokenFile: token\n"
				     "contexts:\n"
				     "- name: c\n"
				     "  context:\n"
				     "    cluster: c\n"
				     "    user: u\n"
				     "current-context: c\n",
				     key);
	char *cfg = write_file(fx, "kube/config", text);
	char *want_token_file = ferry_xasprintf("%s/kube/token", fx->root);

	if (ferry_kubeconfig_load(cfg, NULL, &kc, &err))
		fail_msg("%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
	assert_string_equal(kc.source, cfg);
	assert_string_equal(kc.server, "https://[fd00::1]:6443");
	assert_memory_equal(kc.ca, CA_PEM, strlen(CA_PEM));
	assert_memory_equal(kc.client_cert, CERT_PEM, strlen(CERT_PEM));
	assert_memory_equal(kc.client_key, KEY_PEM, strlen(KEY_PEM));
	assert_string_equal(kc.token, TOKEN); /* without the newline */
	assert_string_equal(kc.token_file, want_token_file);
	ferry_kubeconfig_release(&kc);

	/* KUBECONFIG names the file when no path is given (first entry) */
	char *list = ferry_xasprintf("%s:/nonexistent", cfg);
	setenv("KUBECONFIG", list, 1);
	assert_int_equal(ferry_kubeconfig_load(NULL, NULL, &kc, &err), 0);
	assert_string_equal(kc.source, cfg);
	ferry_kubeconfig_release(&kc);
	unsetenv("KUBECONFIG");

	/* a file that is not there: named, with the key's position */
	unlink(ca);
	assert_int_equal(ferry_kubeconfig_load(cfg, NULL, &kc, &err), -1);
	assert_int_equal(err.code, FERRY_E_IO);
	assert_string_equal(err.file, cfg);
	assert_int_equal(err.line, 5);
	assert_int_equal(err.col, 28);
	assert_non_null(strstr(err.msg, "certificate-authority: cannot read "));
	assert_non_null(strstr(err.msg, "/kube/../certs/ca.crt: No such file or directory"));
	assert_null(kc.server);

	free(list);
	free(want_token_file);
	free(cfg);
	free(text);
	free(tok);
	free(key);
	free(cert);
	free(ca);
}

static const char two_contexts[] = "clusters:\n"
				   "- name: a\n"
				   "  cluster:\n"
				   "    server: https://a.example.com\n"
				   "- name: b\n"
				   "  cluster:\n"
				   "    server: http://127.0.0.1:8080\n"
				   "users:\n"
				   "- name: ua\n"
				   "  user:\n"
				   "    token: token-a\n"
				   "- name: ub\n"
				   "  user:\n"
				   "    username: admin\n"
				   "    password: hunter2\n"
				   "contexts:\n"
				   "- name: ctx-a\n"
				   "  context:\n"
				   "    cluster: a\n"
				   "    user: ua\n"
				   "- name: ctx-b\n"
				   "  context:\n"
				   "    cluster: b\n"
				   "    user: ub\n"
				   "    namespace: team-b\n"
				   "- name: anon\n"
				   "  context:\n"
				   "    cluster: b\n"
				   "current-context: ctx-a\n";

static void test_context_choice(void **state)
{
	struct ferry_kubeconfig kc;
	struct ferry_err err = FERRY_ERR_INIT;
	(void)state;

	assert_int_equal(parse(two_contexts, NULL, &kc, &err), 0);
	assert_string_equal(kc.context, "ctx-a");
	assert_string_equal(kc.server, "https://a.example.com");
	assert_string_equal(kc.token, "token-a");
	ferry_kubeconfig_release(&kc);

	assert_int_equal(parse(two_contexts, "ctx-b", &kc, &err), 0);
	assert_string_equal(kc.context, "ctx-b");
	assert_string_equal(kc.server, "http://127.0.0.1:8080");
	assert_string_equal(kc.namespace_, "team-b");
	assert_null(kc.token);
	assert_string_equal(kc.username, "admin");
	assert_string_equal(kc.password, "hunter2");
	ferry_kubeconfig_release(&kc);

	assert_int_equal(parse(two_contexts, "anon", &kc, &err), 0);
	assert_null(kc.user);
	assert_null(kc.token);
	assert_null(kc.username);
	ferry_kubeconfig_release(&kc);

	assert_int_equal(parse(two_contexts, "ctx-c", &kc, &err), -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_string_equal(err.msg, "no context named \"ctx-c\" in contexts");
	assert_int_equal(err.line, 1); /* no node names it: the document */
	assert_int_equal(err.col, 1);
}

/* Each error: its code, position and message. */
static void expect_error(const char *text, const char *context, enum ferry_errcode code, int line,
			 int col, const char *msg)
{
	struct ferry_kubeconfig kc;
	struct ferry_err err = FERRY_ERR_INIT;

	if (parse(text, context, &kc, &err) == 0)
		fail_msg("accepted, want \"%s\"", msg);
	if (err.code != code || err.line != line || err.col != col || !strstr(err.msg, msg))
		fail_msg("got %s:%d:%d: %s (%s), want :%d:%d: %s (%s)", err.file, err.line, err.col,
			 err.msg, ferry_errcode_name(err.code), line, col, msg,
			 ferry_errcode_name(code));
	assert_string_equal(err.file, "/nonexistent/kube/config");
	assert_null(kc.server);
	assert_null(kc.token);
}

static void test_errors(void **state)
{
	(void)state;
	/* no current-context: the document, and what was expected */
	expect_error("clusters: []\ncontexts: []\n", NULL, FERRY_E_INVALID, 1, 1,
		     "no current-context (expected current-context: NAME, or a context chosen "
		     "by name)");
	expect_error("current-context: \"\"\n", NULL, FERRY_E_INVALID, 1, 1, "no current-context");
	/* current-context naming nothing: at its value */
	expect_error("contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: gone\n", NULL,
		     FERRY_E_NOT_FOUND, 4, 18, "no context named \"gone\" in contexts");
	/* a context's cluster naming nothing: at that value */
	expect_error("contexts:\n- name: x\n  context:\n    cluster: nope\ncurrent-context: x\n",
		     NULL, FERRY_E_NOT_FOUND, 4, 14, "no cluster named \"nope\" in clusters");
	expect_error("- a\n- b\n", NULL, FERRY_E_INVALID, 1, 1,
		     "expected a kubeconfig (a mapping with clusters, users, contexts), found a "
		     "list");
	expect_error("", NULL, FERRY_E_INVALID, 1, 1, "expected one YAML document, found 0");
	expect_error("contexts: {x: 1}\ncurrent-context: x\n", NULL, FERRY_E_INVALID, 1, 11,
		     "contexts: expected a list, found a mapping");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n"
		     "clusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: true\n"
		     "current-context: x\n",
		     NULL, FERRY_E_INVALID, 8, 5,
		     "clusters[0].cluster: no server (expected an https:// URL)");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n"
		     "clusters:\n- name: c\n  cluster:\n    server: ftp://h\n"
		     "current-context: x\n",
		     NULL, FERRY_E_INVALID, 8, 13,
		     "clusters[0].cluster.server: \"ftp://h\" is not an http:// or https:// URL");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
		     "    insecure-skip-tls-verify: maybe\n"
		     "current-context: x\n",
		     NULL, FERRY_E_INVALID, 9, 31,
		     "clusters[0].cluster.insecure-skip-tls-verify: expected true or false, "
		     "found a string");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
		     "    insecure-skip-tls-verify: true\n"
		     "    certificate-authority-data: LS0tLQ==\n"
		     "current-context: x\n",
		     NULL, FERRY_E_INVALID, 9, 31,
		     "insecure-skip-tls-verify together with a certificate authority");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
		     "    certificate-authority: /etc/ca.crt\n"
		     "    certificate-authority-data: LS0tLQ==\n"
		     "current-context: x\n",
		     NULL, FERRY_E_INVALID, 10, 33,
		     "both certificate-authority and certificate-authority-data are set");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
		     "    certificate-authority-data: not*base64\n"
		     "current-context: x\n",
		     NULL, FERRY_E_INVALID, 9, 33,
		     "clusters[0].cluster.certificate-authority-data: expected base64 PEM");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
		     "users:\n- name: u\n  user:\n    exec:\n      command: aws\n"
		     "current-context: x\n",
		     NULL, FERRY_E_INVALID, 14, 7,
		     "users[0].user.exec: no apiVersion (expected client.authentication.k8s.io/v1 "
		     "or client.authentication.k8s.io/v1beta1)");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
		     "users:\n- name: u\n  user:\n    client-certificate-data: LS0tLQ==\n"
		     "current-context: x\n",
		     NULL, FERRY_E_INVALID, 13, 5,
		     "users[0].user: client-certificate without client-key");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
		     "users:\n- name: u\n  user:\n    token: [a]\n"
		     "current-context: x\n",
		     NULL, FERRY_E_INVALID, 13, 12,
		     "users[0].user.token: expected a string, found a list");
	expect_error("contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
		     "users:\n- name: u\n  user:\n    tokenFile: /nonexistent/token\n"
		     "current-context: x\n",
		     NULL, FERRY_E_NOT_FOUND, 13, 16,
		     "users[0].user.tokenFile: cannot read token file /nonexistent/token");
	expect_error("a: [\n", NULL, FERRY_E_INVALID, 2, 1, "YAML syntax");
}

/* A token never shows up in an error. */
static void test_no_secret_in_errors(void **state)
{
	static const char text[] = "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
				   "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
				   "users:\n- name: u\n  user:\n    token: s3cr3t-t0ken\n"
				   "    password: pa55word\n"
				   "current-context: x\n";
	struct ferry_kubeconfig kc;
	struct ferry_err err = FERRY_ERR_INIT;
	(void)state;

	assert_int_equal(parse(text, NULL, &kc, &err), -1);
	assert_string_equal(err.msg, "users[0].user: username and password go together");
	assert_null(strstr(err.msg, "s3cr3t"));
	assert_null(strstr(err.msg, "pa55"));
}

static void test_in_cluster(void **state)
{
	struct fx *fx = *state;
	struct ferry_kubeconfig kc;
	struct ferry_err err = FERRY_ERR_INIT;
	char *root = ferry_xasprintf("%s/sa", fx->root);
	char *tok = write_file(fx, "sa/token", TOKEN "\n");
	char *ca = write_file(fx, "sa/ca.crt", CA_PEM);
	char *ns = write_file(fx, "sa/namespace", "ferry-system\n");

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(ferry_kubeconfig_in_cluster(root, &kc, &err), -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_non_null(strstr(err.msg, "not running in a cluster"));

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(ferry_kubeconfig_in_cluster(root, &kc, &err), 0);
	assert_string_equal(kc.server, "https://10.96.0.1:443");
	assert_string_equal(kc.token, TOKEN);
	assert_string_equal(kc.token_file, tok);
	assert_memory_equal(kc.ca, CA_PEM, strlen(CA_PEM));
	assert_string_equal(kc.namespace_, "ferry-system");
	assert_null(kc.context);
	ferry_kubeconfig_release(&kc);

	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	unlink(ns);
	unlink(ca);
	assert_int_equal(ferry_kubeconfig_in_cluster(root, &kc, &err), 0);
	assert_string_equal(kc.server, "https://[fd00:10:96::1]:443");
	assert_null(kc.ca); /* the system's store */
	assert_string_equal(kc.namespace_, "default");
	ferry_kubeconfig_release(&kc);

	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	assert_int_equal(ferry_kubeconfig_in_cluster(root, &kc, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	unlink(tok);
	assert_int_equal(ferry_kubeconfig_in_cluster(root, &kc, &err), -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_non_null(strstr(err.msg, "service account: cannot read token file"));
	free(write_file(fx, "sa/token", "\n\n"));
	assert_int_equal(ferry_kubeconfig_in_cluster(root, &kc, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_non_null(strstr(err.msg, "empty"));

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	free(ns);
	free(ca);
	free(tok);
	free(root);
}

static void test_for_server(void **state)
{
	struct ferry_kubeconfig kc;
	struct ferry_err err = FERRY_ERR_INIT;
	(void)state;

	assert_int_equal(ferry_kubeconfig_for_server("https://api.other:6443/", "tok", CA_PEM,
						     false, NULL, &kc, &err),
			 0);
	assert_string_equal(kc.server, "https://api.other:6443");
	assert_string_equal(kc.token, "tok");
	assert_int_equal(kc.ca_len, strlen(CA_PEM));
	assert_string_equal(kc.namespace_, "default");
	ferry_kubeconfig_release(&kc);
	assert_int_equal(
		ferry_kubeconfig_for_server("api.other", NULL, NULL, false, NULL, &kc, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_int_equal(
		ferry_kubeconfig_for_server("https://h", NULL, CA_PEM, true, NULL, &kc, &err), -1);
}

/* ---- exec credential plugins ------------------------------------------------------- */

#define V1	"client.authentication.k8s.io/v1"
#define V1BETA1 "client.authentication.k8s.io/v1beta1"
#define CRED_V1 "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":"

/* An executable shell script at root/rel. */
static char *write_plugin(const struct fx *fx, const char *rel, const char *body)
{
	char *text = ferry_xasprintf("#!/bin/sh\n%s", body);
	char *path = write_file(fx, rel, text);

	assert_int_equal(chmod(path, 0755), 0);
	free(text);
	return path;
}

/* root/kube/config: cluster c (server, then cluster_extra lines), user u
 * with exec (exec_yaml: its lines, indented by 6), context c. */
static char *write_exec_config(const struct fx *fx, const char *cluster_extra,
			       const char *exec_yaml)
{
	char *text = ferry_xasprintf("clusters:\n"
				     "- name: c\n"
				     "  cluster:\n"
				     "    server: https://api.example.com:6443\n"
				     "%s"
				     "users:\n"
				     "- name: u\n"
				     "  user:\n"
				     "    exec:\n"
				     "%s"
				     "contexts:\n"
				     "- name: c\n"
				     "  context: {cluster: c, user: u}\n"
				     "current-context: c\n",
				     cluster_extra, exec_yaml);
	char *path = write_file(fx, "kube/config", text);

	free(text);
	return path;
}

/* Load root/kube/config (failing the test if it does not load). */
static void load_config(const struct fx *fx, struct ferry_kubeconfig *kc)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *path = ferry_xasprintf("%s/kube/config", fx->root);

	if (ferry_kubeconfig_load(path, NULL, kc, &err))
		fail_msg("%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
	free(path);
}

/* Write a config with exec_yaml and run its plugin once. */
static int run_exec(const struct fx *fx, const char *exec_yaml, unsigned timeout_s,
		    struct ferry_kube_cred *cred, struct ferry_err *err)
{
	struct ferry_kubeconfig kc;
	int rc;

	free(write_exec_config(fx, "", exec_yaml));
	load_config(fx, &kc);
	assert_non_null(kc.exec);
	rc = ferry_kube_exec_run(&kc, timeout_s, cred, err);
	ferry_kubeconfig_release(&kc);
	return rc;
}

static char *slurp(const struct fx *fx, const char *rel)
{
	char *path = ferry_xasprintf("%s/%s", fx->root, rel), *data = NULL;
	size_t len;

	if (ferry_read_file(path, 1 << 20, &data, &len))
		fail_msg("cannot read %s", path);
	free(path);
	return data;
}

/* What the kubeconfig says, as loaded: paths, lists, defaults. */
static void test_exec_config(void **state)
{
	struct fx *fx = *state;
	struct ferry_kubeconfig kc;
	char *want = ferry_xasprintf("%s/kube/bin/get-token", fx->root);

	free(write_exec_config(fx, "",
			       "      apiVersion: " V1 "\n"
			       "      command: bin/get-token\n"
			       "      args: [--region, eu-west-1, 42]\n"
			       "      env:\n"
			       "      - {name: AWS_PROFILE, value: prod}\n"
			       "      - {name: EMPTY}\n"
			       "      installHint: |\n"
			       "        install it\n"
			       "      provideClusterInfo: true\n"
			       "      interactiveMode: IfAvailable\n"));
	load_config(fx, &kc);
	assert_non_null(kc.exec);
	assert_string_equal(kc.exec->command, want); /* relative to the kubeconfig */
	assert_int_equal(kc.exec->nargs, 3);
	assert_string_equal(kc.exec->args[0], "--region");
	assert_string_equal(kc.exec->args[1], "eu-west-1");
	assert_string_equal(kc.exec->args[2], "42");
	assert_int_equal(kc.exec->nenv, 2);
	assert_string_equal(kc.exec->env[0], "AWS_PROFILE=prod");
	assert_string_equal(kc.exec->env[1], "EMPTY=");
	assert_string_equal(kc.exec->api_version, V1);
	assert_string_equal(kc.exec->install_hint, "install it\n");
	assert_true(kc.exec->provide_cluster_info);
	assert_null(kc.token);
	ferry_kubeconfig_release(&kc);

	/* a bare name stays a name, for $PATH; v1beta1 needs no interactiveMode */
	free(write_exec_config(fx, "",
			       "      apiVersion: " V1BETA1 "\n"
			       "      command: aws\n"));
	load_config(fx, &kc);
	assert_string_equal(kc.exec->command, "aws");
	assert_int_equal(kc.exec->nargs, 0);
	assert_false(kc.exec->provide_cluster_info);
	assert_null(kc.exec->install_hint);
	ferry_kubeconfig_release(&kc);

	/* static credentials win, as client-go: the plugin is never run */
	free(write_file(fx, "kube/config",
			"clusters:\n- name: c\n  cluster: {server: https://h}\n"
			"users:\n- name: u\n  user:\n    token: " TOKEN "\n"
			"    exec: {apiVersion: " V1BETA1 ", command: /nonexistent}\n"
			"contexts:\n- name: c\n  context: {cluster: c, user: u}\n"
			"current-context: c\n"));
	load_config(fx, &kc);
	assert_null(kc.exec);
	assert_string_equal(kc.token, TOKEN);
	ferry_kubeconfig_release(&kc);
	free(want);
}

#define EXEC_USER(x)                                                                               \
	"contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"                          \
	"clusters:\n- name: c\n  cluster:\n    server: https://h\n"                                \
	"users:\n- name: u\n  user:\n" x "current-context: x\n"

static void test_exec_config_errors(void **state)
{
	(void)state;
	expect_error(
		EXEC_USER("    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n"
			  "      command: aws\n"),
		NULL, FERRY_E_UNSUPPORTED, 14, 19,
		"users[0].user.exec.apiVersion: client.authentication.k8s.io/v1alpha1 was "
		"removed from client-go in 1.24; use client.authentication.k8s.io/v1");
	expect_error(EXEC_USER("    exec:\n      apiVersion: v1\n      command: aws\n"), NULL,
		     FERRY_E_INVALID, 14, 19,
		     "users[0].user.exec.apiVersion: \"v1\" is not client.authentication.k8s.io/v1 "
		     "or client.authentication.k8s.io/v1beta1");
	expect_error(EXEC_USER("    exec:\n      apiVersion: " V1 "\n      command: aws\n"), NULL,
		     FERRY_E_INVALID, 14, 7,
		     "users[0].user.exec: no interactiveMode (client.authentication.k8s.io/v1 "
		     "needs one: Never or IfAvailable)");
	expect_error(EXEC_USER("    exec:\n      apiVersion: " V1 "\n      command: aws\n"
			       "      interactiveMode: Always\n"),
		     NULL, FERRY_E_UNSUPPORTED, 16, 24,
		     "users[0].user.exec.interactiveMode: Always, but ferry never runs a plugin "
		     "interactively");
	expect_error(EXEC_USER("    exec:\n      apiVersion: " V1BETA1 "\n      command: aws\n"
			       "      interactiveMode: Sometimes\n"),
		     NULL, FERRY_E_INVALID, 16, 24,
		     "users[0].user.exec.interactiveMode: \"Sometimes\" is not Never, IfAvailable "
		     "or Always");
	expect_error(EXEC_USER("    exec:\n      apiVersion: " V1BETA1 "\n"), NULL, FERRY_E_INVALID,
		     14, 7, "users[0].user.exec: no command (expected command: PROGRAM)");
	expect_error(EXEC_USER("    exec: aws\n"), NULL, FERRY_E_INVALID, 13, 11,
		     "users[0].user.exec: expected a mapping, found a string");
	expect_error(EXEC_USER("    exec:\n      apiVersion: " V1BETA1 "\n      command: aws\n"
			       "      args: --profile\n"),
		     NULL, FERRY_E_INVALID, 16, 13,
		     "users[0].user.exec.args: expected a list, found a string");
	expect_error(EXEC_USER("    exec:\n      apiVersion: " V1BETA1 "\n      command: aws\n"
			       "      env:\n      - {value: x}\n"),
		     NULL, FERRY_E_INVALID, 17, 9,
		     "users[0].user.exec.env[0]: no name (expected name: VARIABLE)");
	expect_error(EXEC_USER("    exec:\n      apiVersion: " V1BETA1 "\n      command: aws\n"
			       "      provideClusterInfo: maybe\n"),
		     NULL, FERRY_E_INVALID, 16, 27,
		     "users[0].user.exec.provideClusterInfo: expected true or false");
	/* auth-provider: named, with what to use instead */
	expect_error(EXEC_USER("    auth-provider:\n      name: gcp\n      config: {}\n"), NULL,
		     FERRY_E_UNSUPPORTED, 14, 7,
		     "users[0].user.auth-provider: the \"gcp\" auth provider is not supported: "
		     "client-go dropped it in 1.26; use the exec plugin gke-gcloud-auth-plugin");
	expect_error(EXEC_USER("    auth-provider:\n      name: azure\n"), NULL,
		     FERRY_E_UNSUPPORTED, 14, 7,
		     "the \"azure\" auth provider is not supported: client-go dropped it in "
		     "1.26; use the exec plugin kubelogin");
	expect_error(EXEC_USER("    auth-provider:\n      name: oidc\n      config:\n"
			       "        id-token: s3cr3t\n"),
		     NULL, FERRY_E_UNSUPPORTED, 14, 7,
		     "the \"oidc\" auth provider is not supported: use an exec plugin such as "
		     "kubelogin");
	expect_error(
		EXEC_USER("    auth-provider:\n      name: acme\n"), NULL, FERRY_E_UNSUPPORTED, 14,
		7,
		"users[0].user.auth-provider: the \"acme\" auth provider is not supported: use "
		"an exec credential plugin (exec) instead");
}

/* A v1 token plugin: its arguments, environment (the kubeconfig's over
 * ferry's, the last of a name winning), KUBERNETES_EXEC_INFO without the
 * cluster, and standard input /dev/null. */
static void test_exec_token(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_cred cred;
	struct ferry_err err = FERRY_ERR_INIT;
	char *yaml, *args, *env, *info, *in;
	int saved_stdin, pp[2], rc;
	json_t *doc;

	free(write_plugin(fx, "kube/bin/get-token",
			  "printf '%s\\n' \"$@\" >\"$OUT/args\"\n"
			  "printf '%s' \"$GREETING\" >\"$OUT/env\"\n"
			  "printf '%s' \"$KUBERNETES_EXEC_INFO\" >\"$OUT/info\"\n"
			  "readlink /proc/self/fd/0 >\"$OUT/stdin\"\n"
			  "echo '" CRED_V1 "{\"token\":\"" TOKEN "\"}}'\n"));
	yaml = ferry_xasprintf("      apiVersion: " V1 "\n"
			       "      command: bin/get-token\n"
			       "      args: [token, --cluster, \"a b\"]\n"
			       "      env:\n"
			       "      - {name: OUT, value: %s}\n"
			       "      - {name: GREETING, value: first}\n"
			       "      - {name: GREETING, value: hello world}\n"
			       "      interactiveMode: Never\n",
			       fx->root);
	setenv("GREETING", "from ferry", 1);
	setenv("KUBERNETES_EXEC_INFO", "stale", 1);
	/* ferry's own standard input is a pipe: the plugin must not get it */
	saved_stdin = dup(0);
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(dup2(pp[0], 0), 0);
	rc = run_exec(fx, yaml, 10, &cred, &err);
	assert_int_equal(dup2(saved_stdin, 0), 0);
	close(saved_stdin);
	close(pp[0]);
	close(pp[1]);
	if (rc)
		fail_msg("%s", err.msg);
	unsetenv("GREETING");
	unsetenv("KUBERNETES_EXEC_INFO");
	assert_string_equal(cred.token, TOKEN);
	assert_null(cred.client_cert);
	assert_null(cred.client_key);
	assert_int_equal(cred.expires, 0);
	ferry_kube_cred_release(&cred);
	assert_null(cred.token);

	args = slurp(fx, "args");
	env = slurp(fx, "env");
	info = slurp(fx, "info");
	in = slurp(fx, "stdin");
	assert_string_equal(args, "token\n--cluster\na b\n");
	assert_string_equal(env, "hello world");
	assert_string_equal(in, "/dev/null\n");
	doc = json_loads(info, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "apiVersion")), V1);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")), "ExecCredential");
	assert_true(json_is_false(json_object_get(json_object_get(doc, "spec"), "interactive")));
	assert_null(json_object_get(json_object_get(doc, "spec"), "cluster"));
	json_decref(doc);
	free(in);
	free(info);
	free(env);
	free(args);
	free(yaml);
}

/* v1beta1, found in $PATH, with an expiry; an answer of the wrong
 * apiVersion is refused. */
static void test_exec_v1beta1(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_cred cred;
	struct ferry_err err = FERRY_ERR_INIT;
	char *old = ferry_xstrdup(getenv("PATH")), *path, *cwd;
	static const char yaml[] = "      apiVersion: " V1BETA1 "\n"
				   "      command: ferry-test-plugin\n";

	free(write_plugin(fx, "bin/ferry-test-plugin",
			  "echo '{\"apiVersion\":\"" V1BETA1 "\",\"kind\":\"ExecCredential\","
			  "\"status\":{\"token\":\"" TOKEN "\","
			  "\"expirationTimestamp\":\"2030-01-02T03:04:05Z\"}}'\n"));
	path = ferry_xasprintf("/nonexistent:%s/bin:%s", fx->root, old);
	setenv("PATH", path, 1);
	if (run_exec(fx, yaml, 10, &cred, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(cred.token, TOKEN);
	assert_int_equal(cred.expires, 1893553445);
	ferry_kube_cred_release(&cred);

	/* a relative entry of $PATH is not searched (as Go's LookPath) */
	cwd = getcwd(NULL, 0);
	assert_int_equal(chdir(fx->root), 0);
	setenv("PATH", "bin", 1);
	assert_int_equal(run_exec(fx, yaml, 10, &cred, &err), -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_string_equal(err.msg, "exec plugin ferry-test-plugin: not found in $PATH");
	assert_int_equal(chdir(cwd), 0);
	setenv("PATH", path, 1);

	free(write_plugin(fx, "bin/ferry-test-plugin",
			  "echo '" CRED_V1 "{\"token\":\"" TOKEN "\"}}'\n"));
	assert_int_equal(run_exec(fx, yaml, 10, &cred, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_string_equal(err.msg,
			    "exec plugin ferry-test-plugin: apiVersion is \"" V1
			    "\", expected " V1BETA1 " (exec.apiVersion in the kubeconfig)");
	assert_null(cred.token);
	setenv("PATH", old, 1);
	free(cwd);
	free(path);
	free(old);
}

/* A client certificate and key as the credential. */
static void test_exec_client_cert(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_cred cred;
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *doc =
		json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", V1, "kind", "ExecCredential",
			  "status", "clientCertificateData", CERT_PEM, "clientKeyData", KEY_PEM);
	char *text = json_dumps(doc, 0), *yaml;

	free(write_file(fx, "cred.json", text));
	free(write_plugin(fx, "kube/plugin", "cat \"$OUT/cred.json\"\n"));
	yaml = ferry_xasprintf("      apiVersion: " V1 "\n      command: ./plugin\n"
			       "      interactiveMode: Never\n"
			       "      env: [{name: OUT, value: %s}]\n",
			       fx->root);
	if (run_exec(fx, yaml, 10, &cred, &err))
		fail_msg("%s", err.msg);
	assert_null(cred.token);
	assert_int_equal(cred.client_cert_len, strlen(CERT_PEM));
	assert_string_equal(cred.client_cert, CERT_PEM);
	assert_int_equal(cred.client_key_len, strlen(KEY_PEM));
	assert_string_equal(cred.client_key, KEY_PEM);
	ferry_kube_cred_release(&cred);
	free(yaml);
	free(text);
	json_decref(doc);
}

/* A plugin that fails: its exit status and the end of its standard error,
 * on one line; never what it printed on standard output. */
static void test_exec_failure(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_cred cred;
	struct ferry_err err = FERRY_ERR_INIT;
	static const char yaml[] = "      apiVersion: " V1 "\n      command: ./plugin\n"
				   "      interactiveMode: IfAvailable\n";
	char *plugin;

	free(write_plugin(
		fx, "kube/plugin",
		"echo '" CRED_V1 "{\"token\":\"" TOKEN "\"}}'\n"
		"i=0; while [ $i -lt 100 ]; do echo \"noise $i\" >&2; i=$((i+1)); done\n"
		"printf 'error: the SSO session has expired;\\n\\trun \"aws sso login\"\\n\\n' "
		">&2\n"
		"exit 3\n"));
	assert_int_equal(run_exec(fx, yaml, 10, &cred, &err), -1);
	assert_int_equal(err.code, FERRY_E_AUTH);
	if (!ferry_starts_with(err.msg, "exec plugin ") ||
	    !strstr(err.msg, "/kube/./plugin: exit status 3; stderr: \"...") ||
	    !ferry_ends_with(err.msg, "noise 99 error: the SSO session has expired; run \\\"aws "
				      "sso login\\\"\""))
		fail_msg("got %s", err.msg);
	assert_null(strstr(err.msg, TOKEN));
	assert_null(cred.token);

	/* killed; and saying nothing */
	free(write_plugin(fx, "kube/plugin", "kill -9 $$\n"));
	assert_int_equal(run_exec(fx, yaml, 10, &cred, &err), -1);
	assert_int_equal(err.code, FERRY_E_AUTH);
	assert_true(ferry_ends_with(err.msg, "/kube/./plugin: killed by signal 9"));

	/* not executable */
	plugin = write_plugin(fx, "kube/plugin", "exit 0\n");
	assert_int_equal(chmod(plugin, 0600), 0);
	assert_int_equal(run_exec(fx, yaml, 10, &cred, &err), -1);
	assert_int_equal(err.code, FERRY_E_IO);
	assert_true(ferry_ends_with(err.msg, "/kube/./plugin: Permission denied"));
	free(plugin);
}

/* Output that is not a credential: the place of a JSON error, never the
 * output; the plugin's standard error quoted. */
static void test_exec_bad_output(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_cred cred;
	struct ferry_err err = FERRY_ERR_INIT;
	static const char yaml[] = "      apiVersion: " V1 "\n      command: ./plugin\n"
				   "      interactiveMode: Never\n";

	free(write_plugin(fx, "kube/plugin",
			  "printf '%s' '" CRED_V1 "{\"token\":\"" TOKEN "\"'\n"
			  "echo 'warning: cache is stale' >&2\n"));
	assert_int_equal(run_exec(fx, yaml, 10, &cred, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	if (!strstr(err.msg, "/kube/./plugin: the output is not JSON (line 1, column ") ||
	    !ferry_ends_with(err.msg, "); stderr: \"warning: cache is stale\""))
		fail_msg("got %s", err.msg);
	assert_null(strstr(err.msg, TOKEN));

	free(write_plugin(fx, "kube/plugin", "echo " TOKEN "\n"));
	assert_int_equal(run_exec(fx, yaml, 10, &cred, &err), -1);
	assert_true(strstr(err.msg, "the output is not JSON (line 1, column "));
	assert_null(strstr(err.msg, TOKEN));
	assert_null(strstr(err.msg, "eyJ"));

	free(write_plugin(fx, "kube/plugin", "echo '" CRED_V1 "{}}'\n"));
	assert_int_equal(run_exec(fx, yaml, 10, &cred, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_true(ferry_ends_with(err.msg, "/kube/./plugin: the status has no token and no "
					     "clientCertificateData"));
}

/* ferry_kube_exec_parse directly: each way an answer can be wrong. */
static void test_exec_parse(void **state)
{
	static const struct {
		const char *json;
		enum ferry_errcode code;
		const char *msg;
	} bad[] = {
		{"", FERRY_E_INVALID, "the output is not JSON (line 1, column 0)"},
		{"[1]", FERRY_E_INVALID, "the output is not an ExecCredential object"},
		{"{\"apiVersion\":\"" V1 "\",\"kind\":\"Status\"}", FERRY_E_INVALID,
		 "kind is \"Status\", expected ExecCredential"},
		{"{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\"}", FERRY_E_INVALID,
		 "the ExecCredential has no status"},
		{CRED_V1 "{\"token\":42}}", FERRY_E_INVALID, "status.token is not a string"},
		{CRED_V1 "{\"token\":\"a\\r\\nX-Evil: 1\"}}", FERRY_E_INVALID,
		 "status.token holds a control character"},
		{CRED_V1 "{\"token\":\"a\\tb\"}}", FERRY_E_INVALID,
		 "status.token holds a control character"},
		{CRED_V1 "{\"clientCertificateData\":\"" CERT_PEM "\"}}", FERRY_E_INVALID,
		 "status.clientCertificateData without status.clientKeyData"},
		{CRED_V1 "{\"clientKeyData\":\"" KEY_PEM "\",\"token\":\"t\"}}", FERRY_E_INVALID,
		 "status.clientKeyData without status.clientCertificateData"},
		{CRED_V1 "{\"token\":\"\"}}", FERRY_E_INVALID,
		 "the status has no token and no clientCertificateData"},
		{CRED_V1 "{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}", FERRY_E_INVALID,
		 "status.expirationTimestamp \"tomorrow\" is not an RFC 3339 time"},
		{CRED_V1 "{\"token\":\"t\",\"expirationTimestamp\":1893553445}}", FERRY_E_INVALID,
		 "status.expirationTimestamp \"\" is not an RFC 3339 time"},
	};
	struct ferry_kube_cred cred;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_sb big = FERRY_SB_INIT;
	(void)state;

	/* the JSON above holds PEM with raw newlines: make them escapes */
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct ferry_sb j = FERRY_SB_INIT;

		for (const char *p = bad[i].json; *p; p++) {
			if (*p == '\n')
				ferry_sb_adds(&j, "\\n");
			else
				ferry_sb_addc(&j, *p);
		}
		if (ferry_kube_exec_parse(V1, j.buf, j.len, &cred, &err) == 0)
			fail_msg("accepted %s", bad[i].json);
		if (err.code != bad[i].code || strcmp(err.msg, bad[i].msg))
			fail_msg("%s: got %s (%s)", bad[i].json, err.msg,
				 ferry_errcode_name(err.code));
		assert_null(cred.token);
		assert_null(cred.client_cert);
		ferry_sb_release(&j);
	}

	/* both a token and a certificate; an offset; a token at the limit */
	static const char both[] =
		CRED_V1 "{\"token\":\"t\",\"clientCertificateData\":\"c\",\"clientKeyData\":\"k\","
			"\"expirationTimestamp\":\"2030-01-02T05:04:05.5+02:00\"}}";
	assert_int_equal(ferry_kube_exec_parse(V1, both, strlen(both), &cred, &err), 0);
	assert_string_equal(cred.token, "t");
	assert_string_equal(cred.client_cert, "c");
	assert_string_equal(cred.client_key, "k");
	assert_int_equal(cred.expires, 1893553445);
	ferry_kube_cred_release(&cred);
	ferry_sb_adds(&big, CRED_V1 "{\"token\":\"");
	for (unsigned i = 0; i <= FERRY_KUBE_TOKEN_MAX; i++)
		ferry_sb_addc(&big, 'x');
	ferry_sb_adds(&big, "\"}}");
	assert_int_equal(ferry_kube_exec_parse(V1, big.buf, big.len, &cred, &err), -1);
	assert_int_equal(err.code, FERRY_E_LIMIT);
	assert_string_equal(err.msg, "status.token is longer than 65536 bytes");
	ferry_sb_release(&big);
}

/* A command that is not there: its installHint on one line. */
static void test_exec_not_found(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_cred cred;
	struct ferry_err err = FERRY_ERR_INIT;

	assert_int_equal(run_exec(fx,
				  "      apiVersion: " V1BETA1 "\n"
				  "      command: ferry-test-no-such-plugin\n"
				  "      installHint: |\n"
				  "        ferry-test-no-such-plugin is needed:\n"
				  "          apt install it\n",
				  10, &cred, &err),
			 -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_string_equal(err.msg, "exec plugin ferry-test-no-such-plugin: not found in $PATH; "
				     "install hint: ferry-test-no-such-plugin is needed: apt "
				     "install it");
	assert_int_equal(run_exec(fx, "      apiVersion: " V1BETA1 "\n      command: ./nope\n", 10,
				  &cred, &err),
			 -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_true(ferry_ends_with(err.msg, "/kube/./nope: no such file"));
}

/* A plugin that does not answer is killed, with what it started. */
static void test_exec_timeout(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_cred cred;
	struct ferry_err err = FERRY_ERR_INIT;
	double t0 = ferry_monotonic();
	char *yaml = ferry_xasprintf("      apiVersion: " V1BETA1 "\n      command: ./plugin\n"
				     "      env: [{name: OUT, value: %s}]\n",
				     fx->root);
	char *pid;
	long child;
	int gone = 0;

	free(write_plugin(fx, "kube/plugin",
			  "echo 'waiting for the browser' >&2\n"
			  "sleep 30 & echo $! >\"$OUT/child\"\n"
			  "wait\n"));
	assert_int_equal(run_exec(fx, yaml, 1, &cred, &err), -1);
	assert_int_equal(err.code, FERRY_E_TIMEOUT);
	assert_true(ferry_ends_with(err.msg, "/kube/./plugin: no answer in 1 s (killed); stderr: "
					     "\"waiting for the browser\""));
	assert_true(ferry_monotonic() - t0 < 5);
	pid = slurp(fx, "child");
	child = strtol(pid, NULL, 10);
	assert_true(child > 0);
	for (int i = 0; i < 200 && !gone; i++) {
		gone = kill((pid_t)child, 0) != 0 && errno == ESRCH;
		if (!gone)
			ferry_sleep(0.01);
	}
	assert_true(gone);
	free(pid);
	free(yaml);
}

/* provideClusterInfo: KUBERNETES_EXEC_INFO's spec.cluster, as the plugin
 * sees it and as ferry_kube_exec_info() makes it. */
static void test_exec_cluster_info(void **state)
{
	struct fx *fx = *state;
	struct ferry_kubeconfig kc;
	struct ferry_kube_cred cred;
	struct ferry_err err = FERRY_ERR_INIT;
	char *ca = b64(CA_PEM), *extra, *yaml, *seen, *made;
	json_t *doc, *cl;

	free(write_plugin(fx, "kube/plugin",
			  "printf '%s' \"$KUBERNETES_EXEC_INFO\" >\"$OUT/info\"\n"
			  "echo '" CRED_V1 "{\"token\":\"t\"}}'\n"));
	extra = ferry_xasprintf("    certificate-authority-data: %s\n"
				"    tls-server-name: kubernetes.default.svc\n"
				"    proxy-url: http://proxy.example.com:3128\n",
				ca);
	yaml = ferry_xasprintf("      apiVersion: " V1 "\n      command: ./plugin\n"
			       "      interactiveMode: Never\n      provideClusterInfo: true\n"
			       "      env: [{name: OUT, value: %s}]\n",
			       fx->root);
	free(write_exec_config(fx, extra, yaml));
	load_config(fx, &kc);
	if (ferry_kube_exec_run(&kc, 10, &cred, &err))
		fail_msg("%s", err.msg);
	ferry_kube_cred_release(&cred);
	seen = slurp(fx, "info");
	made = ferry_kube_exec_info(&kc);
	assert_string_equal(seen, made);
	doc = json_loads(seen, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "apiVersion")), V1);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")), "ExecCredential");
	assert_true(json_is_false(json_object_get(json_object_get(doc, "spec"), "interactive")));
	cl = json_object_get(json_object_get(doc, "spec"), "cluster");
	assert_int_equal(json_object_size(cl), 4);
	assert_string_equal(json_string_value(json_object_get(cl, "server")),
			    "https://api.example.com:6443");
	assert_string_equal(json_string_value(json_object_get(cl, "certificate-authority-data")),
			    ca);
	assert_string_equal(json_string_value(json_object_get(cl, "tls-server-name")),
			    "kubernetes.default.svc");
	assert_string_equal(json_string_value(json_object_get(cl, "proxy-url")),
			    "http://proxy.example.com:3128");
	json_decref(doc);
	free(made);
	free(seen);
	ferry_kubeconfig_release(&kc);

	/* insecure: no CA, the flag */
	free(write_exec_config(fx, "    insecure-skip-tls-verify: true\n", yaml));
	load_config(fx, &kc);
	made = ferry_kube_exec_info(&kc);
	doc = json_loads(made, 0, NULL);
	cl = json_object_get(json_object_get(doc, "spec"), "cluster");
	assert_int_equal(json_object_size(cl), 2);
	assert_true(json_is_true(json_object_get(cl, "insecure-skip-tls-verify")));
	json_decref(doc);
	free(made);
	ferry_kubeconfig_release(&kc);
	free(yaml);
	free(extra);
	free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_user),
		cmocka_unit_test(test_client_cert_data),
		cmocka_unit_test_setup_teardown(test_files_and_relative_paths, setup, teardown),
		cmocka_unit_test(test_context_choice),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_no_secret_in_errors),
		cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
		cmocka_unit_test(test_for_server),
		cmocka_unit_test_setup_teardown(test_exec_config, setup, teardown),
		cmocka_unit_test(test_exec_config_errors),
		cmocka_unit_test_setup_teardown(test_exec_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_v1beta1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_client_cert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_bad_output, setup, teardown),
		cmocka_unit_test(test_exec_parse),
		cmocka_unit_test_setup_teardown(test_exec_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_cluster_info, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
