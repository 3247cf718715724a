/* reconciler/sources: the Host objects that route a vSphere Provider's
 * transfers (ferry_source_params_load_hosts) — which Hosts belong to it,
 * their secrets read as the Provider's is (wiped at release), and errors
 * that name the Host and the file but never a value. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/util.h"
#include "reconciler/sources.h"
#include "schema/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char desired[] = "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Provider\n"
			      "metadata: {name: vcenter, namespace: mig}\n"
			      "spec:\n"
			      "  type: vsphere\n"
			      "  url: https://vc.example.com/sdk\n"
			      "  secret: {name: vc-creds}\n"
			      "---\n"
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Provider\n"
			      "metadata: {name: other, namespace: mig}\n"
			      "spec: {type: vsphere, url: \"https://vc2.example.com/sdk\",\n"
			      "        secret: {name: vc-creds}}\n"
			      "---\n"
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Provider\n"
			      "metadata: {name: bare, namespace: mig}\n"
			      "spec: {type: vsphere, url: \"https://vc3.example.com/sdk\",\n"
			      "        secret: {name: vc-creds}}\n"
			      "---\n"
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Provider\n"
			      "metadata: {name: lonely, namespace: mig}\n"
			      "spec: {type: vsphere, url: \"https://vc5.example.com/sdk\",\n"
			      "        secret: {name: vc-creds}}\n"
			      "---\n"
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Host\n"
			      "metadata: {name: esx21, namespace: mig}\n"
			      "spec:\n"
			      "  provider: {name: vcenter}\n" /* the Host's namespace */
			      "  id: host-21\n"
			      "  ipAddress: 10.0.0.21\n"
			      "  secret: {name: esx21-creds}\n"
			      "---\n"
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Host\n"
			      "metadata: {name: esx22, namespace: mig}\n"
			      "spec:\n"
			      "  provider: {name: vcenter, namespace: mig}\n"
			      "  name: esx22.example.com\n"
			      "  ipAddress: \"fd00::22\"\n"
			      "  secret: {name: esx-creds, namespace: vault}\n"
			      "---\n" /* no ipAddress: the default network, nothing to route */
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Host\n"
			      "metadata: {name: esx23, namespace: mig}\n"
			      "spec: {provider: {name: vcenter}, id: host-23}\n"
			      "---\n" /* another Provider's */
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Host\n"
			      "metadata: {name: esx31, namespace: mig}\n"
			      "spec:\n"
			      "  provider: {name: other}\n"
			      "  id: host-21\n"
			      "  ipAddress: 10.0.0.31\n"
			      "  secret: {name: missing-creds}\n"
			      "---\n" /* another namespace's Provider of the same name */
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Provider\n"
			      "metadata: {name: vcenter, namespace: lab}\n"
			      "spec: {type: vsphere, url: \"https://vc4.example.com/sdk\",\n"
			      "        secret: {name: vc-creds}}\n"
			      "---\n"
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Host\n"
			      "metadata: {name: esx41, namespace: lab}\n"
			      "spec:\n"
			      "  provider: {name: vcenter}\n"
			      "  id: host-21\n"
			      "  ipAddress: 10.0.0.41\n"
			      "  secret: {name: missing-creds}\n"
			      "---\n"
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Host\n"
			      "metadata: {name: nosecret, namespace: mig}\n"
			      "spec: {provider: {name: bare}, id: host-5, ipAddress: 10.0.0.5}\n";

struct fixture {
	struct ferry_model m;
	struct ferry_config cfg;
	char *dir; /* the secrets directory */
};

static void put_secret(const struct fixture *fx, const char *ref, const char *text, mode_t mode)
{
	char *path = ferry_xasprintf("%s/%s.ini", fx->dir, ref);

	*strrchr(path, '/') = '\0';
	assert_int_equal(ferry_mkdirs(path, 0700), 0);
	path[strlen(path)] = '/';
	assert_int_equal(ferry_write_file_atomic(path, text, strlen(text), mode), 0);
	assert_int_equal(chmod(path, mode), 0); /* whatever the umask */
	free(path);
}

static int setup(void **state)
{
	struct fixture *fx = ferry_xcalloc(1, sizeof *fx);
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	char tmpl[] = "/tmp/ferry-test-hosts.XXXXXX";

	ferry_model_load_buffer(&fx->m, "desired.yaml", desired, strlen(desired), &f);
	ferry_model_validate(&fx->m, &f);
	if (ferry_findings_blocking(&f)) {
		ferry_findings_sort(&f);
		ferry_report_text(stderr, &f, &fx->m);
		return -1;
	}
	ferry_findings_release(&f);
	if (!mkdtemp(tmpl))
		return -1;
	fx->dir = ferry_xstrdup(tmpl);
	ferry_config_defaults(&fx->cfg);
	free(fx->cfg.secrets.dir);
	fx->cfg.secrets.dir = ferry_xstrdup(fx->dir);
	put_secret(fx, "mig/vc-creds", "[secret]\nuser = admin\npassword = vc-pw\n", 0600);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (!fx)
		return 0;
	ferry_rmtree(fx->dir);
	free(fx->dir);
	ferry_config_release(&fx->cfg);
	ferry_model_release(&fx->m);
	free(fx);
	return 0;
}

/* Provider mig/NAME's params with its Hosts: 0, or -1 with err. */
static int load(struct fixture *fx, const char *name, struct ferry_source_params *sp,
		struct ferry_err *err)
{
	const struct ferry_provider *p = (const struct ferry_provider *)ferry_model_find(
		&fx->m, FERRY_KIND_PROVIDER, "mig", name);

	assert_non_null(p);
	if (ferry_source_params_load(sp, &fx->cfg, p, NULL, err))
		fail_msg("the Provider: %s", err->msg);
	return ferry_source_params_load_hosts(sp, &fx->cfg, &fx->m, err);
}

static void assert_released(const struct ferry_source_params *sp)
{
	static const struct ferry_source_params zero;

	assert_memory_equal(sp, &zero, sizeof zero);
}

/* err's message, with DIR for the secrets directory */
static void expect_msg(const struct fixture *fx, const struct ferry_err *err, const char *want)
{
	size_t n = strlen(fx->dir);
	const char *at = strstr(err->msg, fx->dir);
	char *got = at ? ferry_xasprintf("%.*sDIR%s", (int)(at - err->msg), err->msg, at + n)
		       : ferry_xstrdup(err->msg);

	if (strcmp(got, want))
		fail_msg("got: %s", got);
	free(got);
}

static void test_missing_secret(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;

	/* runs first: no Host secret exists yet */
	assert_int_equal(load(fx, "vcenter", &sp, &err), -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	expect_msg(fx, &err,
		   "Host mig/esx21: DIR/mig/esx21-creds.ini: secret 'mig/esx21-creds' not found "
		   "(no such file)");
	assert_released(&sp);

	/* a Host that routes transfers but names no secret */
	assert_int_equal(load(fx, "bare", &sp, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	expect_msg(fx, &err,
		   "Host mig/nosecret: spec.secret names no secret: transfers through ipAddress "
		   "10.0.0.5 need the ESXi host's user and password");
	assert_released(&sp);
}

static void test_hosts_loaded(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;
	const struct ferry_source_config *sc = &sp.sc;

	put_secret(fx, "mig/esx21-creds",
		   "[secret]\nuser = root\npassword = esx=21\nthumbprint = 21:AB\n", 0600);
	put_secret(fx, "vault/esx-creds", "[secret]\nuser = migrator\npassword = esx22\n", 0400);
	if (load(fx, "vcenter", &sp, &err))
		fail_msg("%s", err.msg);
	/* the Provider's own part is as before */
	assert_string_equal(ferry_pairs_get(&sc->secret, "password"), "vc-pw");
	/* esx23 has no ipAddress; esx31 and lab/esx41 are other Providers' */
	assert_int_equal(sc->nhosts, 2);
	assert_string_equal(sc->hosts[0].ns, "mig");
	assert_string_equal(sc->hosts[0].name, "esx21");
	assert_string_equal(sc->hosts[0].id, "host-21");
	assert_null(sc->hosts[0].host_name);
	assert_string_equal(sc->hosts[0].ip_address, "10.0.0.21");
	assert_int_equal(sc->hosts[0].secret.n, 3);
	assert_string_equal(ferry_pairs_get(&sc->hosts[0].secret, "user"), "root");
	assert_string_equal(ferry_pairs_get(&sc->hosts[0].secret, "password"), "esx=21");
	assert_string_equal(ferry_pairs_get(&sc->hosts[0].secret, "thumbprint"), "21:AB");
	assert_string_equal(sc->hosts[1].name, "esx22");
	assert_null(sc->hosts[1].id);
	assert_string_equal(sc->hosts[1].host_name, "esx22.example.com");
	assert_string_equal(sc->hosts[1].ip_address, "fd00::22");
	assert_string_equal(ferry_pairs_get(&sc->hosts[1].secret, "user"), "migrator");
	assert_null(ferry_pairs_get(&sc->hosts[1].secret, "thumbprint"));
	ferry_source_params_release(&sp);
	assert_released(&sp);

	/* a Provider with no Host objects gets none */
	assert_int_equal(load(fx, "lonely", &sp, &err), 0);
	assert_int_equal(sc->nhosts, 0);
	ferry_source_params_release(&sp);
	/* another Provider gets its own: esx31 (whose secret is missing first) */
	assert_int_equal(load(fx, "other", &sp, &err), -1);
	expect_msg(fx, &err,
		   "Host mig/esx31: DIR/mig/missing-creds.ini: secret 'mig/missing-creds' not "
		   "found (no such file)");
	put_secret(fx, "mig/missing-creds", "[secret]\nuser = u\npassword = p\n", 0600);
	assert_int_equal(load(fx, "other", &sp, &err), 0);
	assert_int_equal(sc->nhosts, 1);
	assert_string_equal(sc->hosts[0].ip_address, "10.0.0.31");
	ferry_source_params_release(&sp);
}

static void test_group_readable_refused(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;

	put_secret(fx, "vault/esx-creds", "[secret]\nuser = migrator\npassword = hunter2\n", 0640);
	assert_int_equal(load(fx, "vcenter", &sp, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_true(ferry_starts_with(err.msg, "Host mig/esx22: "));
	assert_non_null(strstr(err.msg, "/vault/esx-creds.ini: "));
	assert_non_null(strstr(err.msg, "group or others may access this secret file"));
	assert_null(strstr(err.msg, "hunter2"));
	assert_null(strstr(err.msg, "migrator"));
	/* the Provider's secret, and esx21's, loaded before, are released */
	assert_released(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_secret),
		cmocka_unit_test(test_hosts_loaded),
		cmocka_unit_test(test_group_readable_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
