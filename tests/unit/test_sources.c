/* reconciler/sources: a Provider's driver configuration from the desired
 * state and ferry.ini — its secret from the secrets directory, its
 * settings under their manifest names, ferry.ini's vddkLibDir for vSphere —
 * and errors that name the Provider and the file but never a value; then
 * the Host objects that route a vSphere Provider's transfers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/util.h"
#include "reconciler/sources.h"
#include "schema/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char desired[] = "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Provider\n"
			      "metadata: {name: vcenter, namespace: mig}\n"
			      "spec:\n"
			      "  type: vsphere\n"
			      "  url: https://vc.example.com/sdk\n"
			      "  secret: {name: vc-creds}\n" /* the Provider's namespace */
			      "  settings:\n"
			      "    sdkEndpoint: vcenter\n"
			      "    vddkInitImage: quay.io/example/vddk:8\n"
			      "    useVddkAioOptimization: \"true\"\n"
			      "---\n"
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Provider\n"
			      "metadata: {name: esx, namespace: mig}\n"
			      "spec:\n"
			      "  type: vsphere\n"
			      "  url: https://esx.example.com/sdk\n"
			      "  secret: {name: esx-creds, namespace: vault}\n"
			      "---\n"
			      "apiVersion: forklift.konveyor.io/v1beta1\n"
			      "kind: Provider\n"
			      "metadata: {name: share, namespace: mig}\n"
			      "spec: {type: ova, url: \"nfs.example.com:/ova\"}\n";

/* Host objects (ferry_source_params_load_hosts): which belong to which
 * Provider, their secrets read as the Provider's is (wiped at release),
 * and errors that name the Host and the file but never a value. */
static const char desired_hosts[] =
	"apiVersion: forklift.konveyor.io/v1beta1\n"
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

/* Write secret NS/NAME (replacing it, whatever its mode) with mode. */
static void put_secret(const struct fixture *fx, const char *ns, const char *name, const char *text,
		       mode_t mode)
{
	char *nsdir = ferry_xasprintf("%s/%s", fx->dir, ns);
	char *path = ferry_xasprintf("%s/%s.ini", nsdir, name);

	assert_int_equal(ferry_mkdirs(nsdir, 0700), 0);
	assert_int_equal(ferry_write_file_atomic(path, text, strlen(text), mode), 0);
	assert_int_equal(chmod(path, mode), 0); /* whatever the umask */
	free(path);
	free(nsdir);
}

/* A fixture: the model of yaml, an empty secrets directory. */
static int setup_model(void **state, const char *yaml)
{
	struct fixture *fx = ferry_xcalloc(1, sizeof *fx);
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	char tmpl[] = "/tmp/ferry-test-sources.XXXXXX";

	ferry_model_load_buffer(&fx->m, "desired.yaml", yaml, strlen(yaml), &f);
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
	*state = fx;
	return 0;
}

static int setup(void **state)
{
	return setup_model(state, desired);
}

/* ... with the Hosts, and the Provider's own secret */
static int setup_hosts(void **state)
{
	if (setup_model(state, desired_hosts))
		return -1;
	put_secret(*state, "mig", "vc-creds", "[secret]\nuser = admin\npassword = vc-pw\n", 0600);
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

static const struct ferry_provider *provider(const struct fixture *fx, const char *name)
{
	const struct ferry_provider *p = (const struct ferry_provider *)ferry_model_find(
		&fx->m, FERRY_KIND_PROVIDER, "mig", name);

	assert_non_null(p);
	return p;
}

static void assert_released(const struct ferry_source_params *sp)
{
	static const struct ferry_source_params zero;

	assert_memory_equal(sp, &zero, sizeof zero);
}

static void test_secret_loaded(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;
	const struct ferry_source_config *sc = &sp.sc;

	put_secret(fx, "mig", "vc-creds",
		   "[secret]\nuser = administrator@vsphere.local\npassword = s3cr=t\n"
		   "thumbprint = AA:BB\n",
		   0600);
	if (ferry_source_params_load(&sp, &fx->cfg, provider(fx, "vcenter"), "/work/s0", &err))
		fail_msg("%s", err.msg);
	assert_string_equal(sc->ns, "mig");
	assert_string_equal(sc->name, "vcenter");
	assert_string_equal(sc->type, "vsphere");
	assert_string_equal(sc->url, "https://vc.example.com/sdk");
	assert_string_equal(sc->work_dir, "/work/s0");
	assert_int_equal(sc->secret.n, 3);
	assert_string_equal(ferry_pairs_get(&sc->secret, "user"), "administrator@vsphere.local");
	assert_string_equal(ferry_pairs_get(&sc->secret, "password"), "s3cr=t");
	assert_string_equal(ferry_pairs_get(&sc->secret, "thumbprint"), "AA:BB");
	ferry_source_params_release(&sp);
	assert_released(&sp);

	/* the secret's own namespace when the reference gives one */
	put_secret(fx, "vault", "esx-creds", "[secret]\nuser = root\npassword = x\n", 0400);
	assert_int_equal(ferry_source_params_load(&sp, &fx->cfg, provider(fx, "esx"), NULL, &err),
			 0);
	assert_string_equal(ferry_pairs_get(&sc->secret, "user"), "root");
	assert_null(sc->work_dir);
	ferry_source_params_release(&sp);

	/* a Provider that names no secret gets an empty one */
	assert_int_equal(ferry_source_params_load(&sp, &fx->cfg, provider(fx, "share"), NULL, &err),
			 0);
	assert_int_equal(sc->secret.n, 0);
	assert_null(ferry_pairs_get(&sc->secret, "user"));
	assert_string_equal(sc->type, "ova");
	ferry_source_params_release(&sp);
}

static void test_missing_secret(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;
	char *want;

	assert_int_equal(ferry_source_params_load(&sp, &fx->cfg, provider(fx, "esx"), NULL, &err),
			 -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	want = ferry_xasprintf("Provider mig/esx: %s/vault/esx-creds.ini: secret 'vault/esx-creds' "
			       "not found (no such file)",
			       fx->dir);
	/* runs first: vault/ does not exist yet */
	if (strcmp(err.msg, want)) {
		free(want);
		fail_msg("got: %s", err.msg);
	}
	free(want);
	assert_released(&sp);
}

static void test_group_readable_refused(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;
	char *path;

	put_secret(fx, "mig", "vc-creds", "[secret]\nuser = u\npassword = hunter2\n", 0640);
	assert_int_equal(
		ferry_source_params_load(&sp, &fx->cfg, provider(fx, "vcenter"), NULL, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	path = ferry_xasprintf("%s/mig/vc-creds.ini", fx->dir);
	assert_non_null(strstr(err.msg, "Provider mig/vcenter: "));
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "group or others may access this secret file"));
	assert_null(strstr(err.msg, "hunter2"));
	assert_null(strstr(err.msg, "user"));
	free(path);
	assert_released(&sp);
}

static void test_settings(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;
	const struct ferry_pairs *st = &sp.sc.settings;

	put_secret(fx, "mig", "vc-creds", "[secret]\nuser = u\npassword = p\n", 0600);
	/* without ferry.ini's vddk_lib_dir: the manifest's settings only */
	assert_int_equal(
		ferry_source_params_load(&sp, &fx->cfg, provider(fx, "vcenter"), NULL, &err), 0);
	assert_int_equal(st->n, 3);
	assert_string_equal(ferry_pairs_get(st, "sdkEndpoint"), "vcenter");
	assert_string_equal(ferry_pairs_get(st, "vddkInitImage"), "quay.io/example/vddk:8");
	assert_string_equal(ferry_pairs_get(st, "useVddkAioOptimization"), "true");
	assert_null(ferry_pairs_get(st, "vddkConfig")); /* not set: not passed */
	assert_null(ferry_pairs_get(st, "vddkLibDir"));
	ferry_source_params_release(&sp);

	/* with it: passed to vSphere providers, not to others */
	fx->cfg.vsphere.vddk_lib_dir = ferry_xstrdup("/opt/vmware-vix-disklib-distrib");
	assert_int_equal(
		ferry_source_params_load(&sp, &fx->cfg, provider(fx, "vcenter"), NULL, &err), 0);
	assert_int_equal(st->n, 4);
	assert_string_equal(ferry_pairs_get(st, "vddkLibDir"), "/opt/vmware-vix-disklib-distrib");
	ferry_source_params_release(&sp);
	assert_int_equal(ferry_source_params_load(&sp, &fx->cfg, provider(fx, "share"), NULL, &err),
			 0);
	assert_int_equal(st->n, 0);
	ferry_source_params_release(&sp);
	free(fx->cfg.vsphere.vddk_lib_dir);
	fx->cfg.vsphere.vddk_lib_dir = NULL;
}

/* Provider mig/NAME's params with its Hosts: 0, or -1 with err. */
static int load_hosts(struct fixture *fx, const char *name, struct ferry_source_params *sp,
		      struct ferry_err *err)
{
	if (ferry_source_params_load(sp, &fx->cfg, provider(fx, name), NULL, err))
		fail_msg("the Provider: %s", err->msg);
	return ferry_source_params_load_hosts(sp, &fx->cfg, &fx->m, err);
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

static void test_host_missing_secret(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;

	/* runs first: no Host secret exists yet */
	assert_int_equal(load_hosts(fx, "vcenter", &sp, &err), -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	expect_msg(fx, &err,
		   "Host mig/esx21: DIR/mig/esx21-creds.ini: secret 'mig/esx21-creds' not found "
		   "(no such file)");
	assert_released(&sp);

	/* a Host that routes transfers but names no secret */
	assert_int_equal(load_hosts(fx, "bare", &sp, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	expect_msg(fx, &err,
		   "Host mig/nosecret: spec.secret names no secret: transfers through ipAddress "
		   "10.0.0.5 need the ESXi host's user and password");
	assert_released(&sp);
}

static void test_host_secrets_loaded(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;
	const struct ferry_source_config *sc = &sp.sc;

	put_secret(fx, "mig", "esx21-creds",
		   "[secret]\nuser = root\npassword = esx=21\nthumbprint = 21:AB\n", 0600);
	put_secret(fx, "vault", "esx-creds", "[secret]\nuser = migrator\npassword = esx22\n", 0400);
	if (load_hosts(fx, "vcenter", &sp, &err))
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
	assert_int_equal(load_hosts(fx, "lonely", &sp, &err), 0);
	assert_int_equal(sc->nhosts, 0);
	ferry_source_params_release(&sp);
	/* another Provider gets its own: esx31 (whose secret is missing first) */
	assert_int_equal(load_hosts(fx, "other", &sp, &err), -1);
	expect_msg(fx, &err,
		   "Host mig/esx31: DIR/mig/missing-creds.ini: secret 'mig/missing-creds' not "
		   "found (no such file)");
	put_secret(fx, "mig", "missing-creds", "[secret]\nuser = u\npassword = p\n", 0600);
	assert_int_equal(load_hosts(fx, "other", &sp, &err), 0);
	assert_int_equal(sc->nhosts, 1);
	assert_string_equal(sc->hosts[0].ip_address, "10.0.0.31");
	ferry_source_params_release(&sp);
}

static void test_host_group_readable_refused(void **state)
{
	struct fixture *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_source_params sp;

	put_secret(fx, "vault", "esx-creds", "[secret]\nuser = migrator\npassword = hunter2\n",
		   0640);
	assert_int_equal(load_hosts(fx, "vcenter", &sp, &err), -1);
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
		cmocka_unit_test(test_secret_loaded),
		cmocka_unit_test(test_group_readable_refused),
		cmocka_unit_test(test_settings),
	};
	/* in this order: the first finds no Host secret yet */
	const struct CMUnitTest host_tests[] = {
		cmocka_unit_test(test_host_missing_secret),
		cmocka_unit_test(test_host_secrets_loaded),
		cmocka_unit_test(test_host_group_readable_refused),
	};
	return cmocka_run_group_tests_name("providers", tests, setup, teardown) |
	       cmocka_run_group_tests_name("hosts", host_tests, setup_hosts, teardown);
}
