/* providers/kubevirt/kubeconfig: kubeconfig files (tokens, client
 * certificates as data and as files, relative paths, context choice,
 * errors located at file:line:col), the in-cluster service account under a
 * temporary root, and a server given by URL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/util.h"
#include "providers/kubevirt/kubeconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		     NULL, FERRY_E_UNSUPPORTED, 14, 7,
		     "users[0].user.exec: credential plugins are not supported");
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
