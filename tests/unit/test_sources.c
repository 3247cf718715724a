/* reconciler/sources: a Provider's driver configuration from the desired
 * state and ferry.ini — its secret from the secrets directory, its
 * settings under their manifest names, ferry.ini's vddkLibDir for vSphere —
 * and errors that name the Provider and the file but never a value. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "reconciler/sources.h"
#include "schema/report.h"

#include <errno.h>
#include <ftw.h>
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

struct fixture {
	struct ferry_model m;
	struct ferry_config cfg;
	char *dir; /* the secrets directory */
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void put_secret(const struct fixture *fx, const char *ns, const char *name, const char *text,
		       mode_t mode)
{
	char *nsdir = ferry_xasprintf("%s/%s", fx->dir, ns);
	char *path = ferry_xasprintf("%s/%s.ini", nsdir, name);
	FILE *f;

	if (mkdir(nsdir, 0700) < 0 && errno != EEXIST)
		fail_msg("%s: %s", nsdir, strerror(errno));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	free(path);
	free(nsdir);
}

static int setup(void **state)
{
	struct fixture *fx = ferry_xcalloc(1, sizeof *fx);
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	char tmpl[] = "/tmp/ferry-test-sources.XXXXXX";

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
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (!fx)
		return 0;
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_secret),
		cmocka_unit_test(test_secret_loaded),
		cmocka_unit_test(test_group_readable_refused),
		cmocka_unit_test(test_settings),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
