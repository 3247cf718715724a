/* Decoding manifests into the typed model, and the cross-object checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "schema/model.h"
#include "schema/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
	struct ferry_model m;
	struct ferry_findings f;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	*state = fx;
	return fx ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	ferry_findings_release(&fx->f);
	ferry_model_release(&fx->m);
	free(fx);
	return 0;
}

static void load(struct fixture *fx, const char *yaml)
{
	ferry_model_load_buffer(&fx->m, "m.yaml", yaml, strlen(yaml), &fx->f);
	ferry_model_validate(&fx->m, &fx->f);
	ferry_findings_sort(&fx->f);
}

/* The finding with this id (the first), or NULL. */
static const struct ferry_finding *find(const struct fixture *fx, const char *id)
{
	for (size_t i = 0; i < fx->f.len; i++)
		if (!strcmp(fx->f.items[i].id, id))
			return &fx->f.items[i];
	return NULL;
}

static size_t count(const struct fixture *fx, const char *id)
{
	size_t n = 0;
	for (size_t i = 0; i < fx->f.len; i++)
		n += !strcmp(fx->f.items[i].id, id);
	return n;
}

static void dump(const struct fixture *fx)
{
	for (size_t i = 0; i < fx->f.len; i++)
		fprintf(stderr, "  %d:%d %s %s\n", fx->f.items[i].line, fx->f.items[i].col,
			fx->f.items[i].id, fx->f.items[i].message);
}

#define PROVIDERS                                                                                  \
	"apiVersion: forklift.konveyor.io/v1beta1\nkind: Provider\n"                               \
	"metadata: {name: vcenter, namespace: mig}\n"                                              \
	"spec:\n  type: vsphere\n  url: https://vc.example.com/sdk\n"                              \
	"  secret: {name: vc-creds, namespace: mig}\n"                                             \
	"  settings: {vddkInitImage: quay.io/x/vddk:8, sdkEndpoint: vcenter}\n"                    \
	"---\n"                                                                                    \
	"apiVersion: forklift.konveyor.io/v1beta1\nkind: Provider\n"                               \
	"metadata: {name: host, namespace: mig}\n"                                                 \
	"spec: {type: openshift}\n"                                                                \
	"---\n"                                                                                    \
	"apiVersion: forklift.konveyor.io/v1beta1\nkind: NetworkMap\n"                             \
	"metadata: {name: net, namespace: mig}\n"                                                  \
	"spec:\n  provider: {source: {name: vcenter}, destination: {name: host}}\n"                \
	"  map:\n  - source: {id: network-1}\n    destination: {type: pod}\n"                      \
	"---\n"                                                                                    \
	"apiVersion: forklift.konveyor.io/v1beta1\nkind: StorageMap\n"                             \
	"metadata: {name: st, namespace: mig}\n"                                                   \
	"spec:\n  provider: {source: {name: vcenter}, destination: {name: host}}\n"                \
	"  map:\n  - source: {id: datastore-1}\n"                                                  \
	"    destination: {storageClass: ceph, accessMode: ReadWriteOnce}\n"                       \
	"---\n"

#define PLAN_HEAD                                                                                  \
	"apiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\n"                                   \
	"metadata: {name: wave-1, namespace: mig}\n"                                               \
	"spec:\n"                                                                                  \
	"  provider: {source: {name: vcenter}, destination: {name: host}}\n"                       \
	"  map: {network: {name: net}, storage: {name: st}}\n"

static void test_plan_fields(void **state)
{
	struct fixture *fx = *state;
	const struct ferry_plan *p;
	const struct ferry_plan_vm *vm;
	char *aff;

	load(fx, PROVIDERS PLAN_HEAD
	     "  type: warm\n"
	     "  targetNamespace: apps\n"
	     "  targetLabels: {team: web}\n"
	     "  targetNodeSelector: {zone: a}\n"
	     "  targetAffinity:\n"
	     "    podAntiAffinity:\n"
	     "      requiredDuringSchedulingIgnoredDuringExecution:\n"
	     "      - topologyKey: kubernetes.io/hostname\n"
	     "        weight: 100\n"
	     "  pvcNameTemplate: '{{.VmName}}-disk-{{.DiskIndex}}'\n"
	     "  pvcNameTemplateUseGenerateName: false\n"
	     "  migrateSharedDisks: false\n"
	     "  vms:\n"
	     "  - id: vm-431\n"
	     "    targetName: web-01\n"
	     "    volumeNameTemplate: disk-{{.VolumeIndex}}\n"
	     "    hooks:\n"
	     "    - {hook: {name: pre}, step: PreHook}\n"
	     "  - name: db-01\n"
	     "---\n"
	     "apiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\n"
	     "metadata: {name: pre, namespace: mig}\n"
	     "spec: {image: quay.io/kubev2v/hook-runner, playbook: LS0tCi0gbmFtZTogeAo=}\n");
	if (ferry_findings_blocking(&fx->f) || fx->f.len)
		dump(fx);
	assert_int_equal(fx->f.len, 0);
	assert_int_equal(ferry_model_count(&fx->m, FERRY_KIND_PLAN), 1);
	p = &ferry_model_plans(&fx->m)[0];
	assert_string_equal(p->obj.ns, "mig");
	assert_string_equal(p->obj.name, "wave-1");
	assert_string_equal(p->spec.type.v, "warm");
	assert_string_equal(p->spec.target_namespace.v, "apps");
	assert_int_equal(p->spec.target_labels.len, 1);
	assert_string_equal(p->spec.target_labels.items[0].key.v, "team");
	assert_string_equal(p->spec.target_labels.items[0].value.v, "web");
	assert_true(p->spec.migrate_shared_disks.set);
	assert_false(p->spec.migrate_shared_disks.v);
	assert_false(p->spec.warm.set);
	assert_int_equal(p->spec.vms.len, 2);
	vm = FERRY_AT(p->spec.vms, struct ferry_plan_vm, 0);
	assert_string_equal(vm->id.v, "vm-431");
	assert_string_equal(vm->target_name.v, "web-01");
	assert_int_equal(vm->target_name.pos.line, 53);
	assert_string_equal(vm->volume_name_template.v, "disk-{{.VolumeIndex}}");
	assert_int_equal(vm->hooks.len, 1);
	assert_string_equal(FERRY_AT(vm->hooks, struct ferry_plan_hook, 0)->step.v, "PreHook");
	assert_null(FERRY_AT(p->spec.vms, struct ferry_plan_vm, 1)->id.v);
	/* affinity is kept as written and round-trips, typed as Kubernetes reads it */
	aff = ferry_node_to_json(p->spec.target_affinity.node);
	assert_string_equal(
		aff, "{\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
		     "[{\"topologyKey\":\"kubernetes.io/hostname\",\"weight\":100}]}}");
	free(aff);
}

static void test_unknown_field_suggests(void **state)
{
	struct fixture *fx = *state;
	const struct ferry_finding *x;

	load(fx, PROVIDERS PLAN_HEAD "  targetNamspace: apps\n  vms: [{id: vm-1}]\n");
	x = find(fx, "schema.unknown-field");
	assert_non_null(x);
	assert_int_equal(x->category, FERRY_CAT_WARNING);
	assert_int_equal(x->line, 39);
	assert_int_equal(x->col, 3);
	assert_string_equal(x->message, "Plan: unknown field \"spec.targetNamspace\", ignored; did "
					"you mean \"targetNamespace\"?");
}

static void test_misplaced_cutover(void **state)
{
	struct fixture *fx = *state;
	const struct ferry_finding *x;

	load(fx, PROVIDERS PLAN_HEAD "  vms: [{id: vm-1}]\n---\n"
				     "apiVersion: forklift.konveyor.io/v1beta1\nkind: Migration\n"
				     "metadata: {name: m1, namespace: mig}\n"
				     "spec:\n  plan:\n    name: wave-1\n"
				     "    cutover: 2024-04-04T01:23:45.678+09:00\n");
	x = find(fx, "schema.unknown-field");
	assert_non_null(x);
	assert_non_null(strstr(x->message, "it belongs at spec.cutover"));
}

static void test_types(void **state)
{
	struct fixture *fx = *state;

	load(fx, PROVIDERS PLAN_HEAD "  archived: \"true\"\n"
				     "  preserveStaticIPs: yes\n"
				     "  targetNodeSelector: {zone: 1}\n"
				     "  vms: {id: vm-1}\n");
	assert_int_equal(count(fx, "schema.type"), 3);
	assert_int_equal(count(fx, "yaml.bool-1-1"), 1);
	assert_non_null(strstr(find(fx, "schema.type")->message,
			       "expected a boolean, found the string \"true\"; remove the quotes"));
	assert_true(ferry_model_plans(&fx->m)[0].spec.preserve_static_ips.v);
}

static void test_enums_and_names(void **state)
{
	struct fixture *fx = *state;
	const struct ferry_finding *x;

	load(fx, PROVIDERS PLAN_HEAD "  type: wram\n"
				     "  targetNamespace: Apps_NS\n"
				     "  vms:\n  - id: vm-1\n    targetName: Web_01\n");
	x = find(fx, "schema.enum");
	assert_non_null(x);
	assert_string_equal(x->message, "spec.type: \"wram\" is not one of: cold, warm, live, "
					"conversion (did you mean \"warm\"?)");
	assert_int_equal(count(fx, "schema.name.rfc1123"), 2);
	assert_true(ferry_findings_blocking(&fx->f));
}

static void test_references(void **state)
{
	struct fixture *fx = *state;
	const struct ferry_finding *x;

	load(fx, PROVIDERS "apiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\n"
			   "metadata: {name: p, namespace: mig}\n"
			   "spec:\n"
			   "  provider: {source: {name: vcentre}, destination: {name: host}}\n"
			   "  map: {network: {name: net}, storage: {name: st, namespace: other}}\n"
			   "  vms: [{id: vm-1, hooks: [{hook: {name: nohook}, step: PostHook}]}]\n"
			   "---\n"
			   "apiVersion: forklift.konveyor.io/v1beta1\nkind: Migration\n"
			   "metadata: {name: m, namespace: mig}\n"
			   "spec: {plan: {name: nope}}\n");
	x = find(fx, "plan.provider.not-found");
	assert_non_null(x);
	assert_int_equal(x->category, FERRY_CAT_CRITICAL);
	assert_string_equal(x->message, "Plan mig/p: source provider mig/vcentre not found in the "
					"repository");
	assert_non_null(find(fx, "plan.storage-map.not-found"));
	assert_non_null(strstr(find(fx, "plan.storage-map.not-found")->message, "other/st"));
	assert_non_null(find(fx, "plan.hook.not-found"));
	assert_non_null(find(fx, "migration.plan.not-found"));
	/* the network map resolved, but maps other providers than the plan's */
	assert_non_null(find(fx, "plan.network-map.providers"));
}

static void test_duplicates(void **state)
{
	struct fixture *fx = *state;

	load(fx, PROVIDERS PLAN_HEAD
	     "  vms:\n  - id: vm-1\n  - {id: vm-2, targetName: a}\n  - {id: vm-1}\n"
	     "  - {name: x, targetName: a}\n"
	     "  - {id: vm-3, hooks: [{hook: {name: h}, step: PreHook}, {hook: {name: h}, step: "
	     "PreHook}]}\n"
	     "---\n"
	     "apiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\n"
	     "metadata: {name: h, namespace: mig}\nspec: {image: quay.io/x/y}\n"
	     "---\n"
	     "apiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\n"
	     "metadata: {name: h, namespace: mig}\nspec: {image: quay.io/x/z}\n");
	assert_int_equal(count(fx, "plan.vm.duplicate"), 1);
	assert_int_equal(count(fx, "plan.vm.target-name.duplicate"), 1);
	assert_int_equal(count(fx, "plan.hook.step.duplicate"), 1);
	assert_int_equal(count(fx, "schema.duplicate-object"), 1);
	assert_non_null(strstr(find(fx, "schema.duplicate-object")->message,
			       "Hook mig/h is defined twice (first at m.yaml:"));
}

static void test_secret_credentials(void **state)
{
	struct fixture *fx = *state;
	const struct ferry_finding *x;

	load(fx, "apiVersion: v1\nkind: Secret\nmetadata: {name: vc-creds, namespace: mig}\n"
		 "type: Opaque\nstringData:\n  user: admin\n  password: hunter2\n  url: "
		 "https://x/sdk\n");
	assert_int_equal(count(fx, "secret.plaintext-credentials"), 2);
	x = find(fx, "secret.plaintext-credentials");
	assert_int_equal(x->category, FERRY_CAT_CRITICAL);
	assert_int_equal(x->line, 6);
	assert_non_null(strstr(x->message, "<secrets dir>/mig/vc-creds.ini"));
	/* the secret's value is never repeated in a finding */
	for (size_t i = 0; i < fx->f.len; i++)
		assert_null(strstr(fx->f.items[i].message, "hunter2"));
}

static void test_times_and_base64(void **state)
{
	struct fixture *fx = *state;

	load(fx, PROVIDERS PLAN_HEAD "  type: warm\n  vms: [{id: vm-1}]\n---\n"
				     "apiVersion: forklift.konveyor.io/v1beta1\nkind: Migration\n"
				     "metadata: {name: m1, namespace: mig}\n"
				     "spec:\n  plan: {name: wave-1}\n"
				     "  cutover: 2024-04-04T01:23:45\n"
				     "  vmCutover: [{id: vm-1, cutover: '2024-04-04T01:23:45Z'}]\n"
				     "---\n"
				     "apiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\n"
				     "metadata: {name: h, namespace: mig}\n"
				     "spec: {image: x, playbook: 'not base64!'}\n");
	assert_int_equal(count(fx, "schema.time"), 1);
	assert_int_equal(find(fx, "schema.time")->line, 47);
	assert_int_equal(count(fx, "schema.base64"), 1);
}

static void test_templates(void **state)
{
	struct fixture *fx = *state;
	const struct ferry_finding *x;

	load(fx, PROVIDERS PLAN_HEAD
	     "  pvcNameTemplate: \"{{.VMName}}-{{.DiskIndex}}\"\n"
	     "  networkNameTemplate: \"{{if eq .NetworkType \\\"pod\\\"}}pod\"\n"
	     "  vms: [{id: vm-1}]\n");
	x = find(fx, "template.unknown-variable");
	assert_non_null(x);
	assert_int_equal(x->line, 39);
	assert_int_equal(x->col, 23);
	assert_non_null(strstr(x->message, "unknown variable .VMName; did you mean .VmName?"));
	assert_non_null(find(fx, "template.syntax"));
}

static void test_kinds(void **state)
{
	struct fixture *fx = *state;

	load(fx, "apiVersion: forklift.konveyor.io/v1beta1\nkind: Plann\nmetadata: {name: a}\n---\n"
		 "apiVersion: forklift.konveyor.io/v1alpha1\nkind: Plan\nmetadata: {name: b}\n---\n"
		 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
		 "kind: Plan\n---\n"
		 "- just a list\n");
	assert_non_null(strstr(find(fx, "schema.kind.unknown")->message, "did you mean \"Plan\"?"));
	assert_non_null(find(fx, "schema.api-version.unsupported"));
	assert_int_equal(find(fx, "schema.kind.ignored")->category, FERRY_CAT_INFO);
	assert_non_null(find(fx, "schema.api-version.missing"));
	assert_non_null(find(fx, "schema.not-an-object"));
	assert_int_equal(ferry_model_count(&fx->m, FERRY_KIND_PLAN), 0);
}

static void test_required_and_empty(void **state)
{
	struct fixture *fx = *state;

	load(fx, "apiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\nmetadata: {name: a}\n"
		 "spec:\n  provider:\n  vms: []\n");
	assert_int_equal(count(fx, "schema.required"), 2);
	assert_non_null(strstr(fx->f.items[0].message, "required field \"spec.provider\" is empty")
				? fx->f.items[0].message
				: find(fx, "schema.required")->message);
	/* namespace defaults as kubectl applies it */
	assert_string_equal(ferry_model_plans(&fx->m)[0].obj.ns, "default");
}

static void test_storagemap_offload(void **state)
{
	struct fixture *fx = *state;

	load(fx,
	     PROVIDERS "apiVersion: forklift.konveyor.io/v1beta1\nkind: StorageMap\n"
		       "metadata: {name: offload, namespace: mig}\n"
		       "spec:\n  provider: {source: {name: vcenter}, destination: {name: host}}\n"
		       "  map:\n  - source: {id: ds-1}\n"
		       "    destination:\n      storageClass: ceph\n"
		       "      offloadPlugin:\n        vsphereXcopyConfig: {secretRef: s, "
		       "storageVendorProduct: ontapp}\n");
	assert_non_null(find(fx, "storagemap.offload-plugin.misplaced"));
	assert_non_null(strstr(find(fx, "schema.enum")->message, "did you mean \"ontap\"?"));
	assert_null(find(fx, "storagemap.destination.access-mode"));
}

/* No storageClass: the cluster's default class is used (Forklift and the
 * kubevirt target), so a Warning that says so, not an Error. */
static void test_storagemap_default_class(void **state)
{
	struct fixture *fx = *state;
	const struct ferry_finding *w;

	load(fx,
	     PROVIDERS "apiVersion: forklift.konveyor.io/v1beta1\nkind: StorageMap\n"
		       "metadata: {name: defaults, namespace: mig}\n"
		       "spec:\n  provider: {source: {name: vcenter}, destination: {name: host}}\n"
		       "  map:\n  - source: {id: ds-1}\n"
		       "    destination: {accessMode: ReadWriteOnce}\n");
	w = find(fx, "storagemap.destination.storage-class");
	if (!w)
		dump(fx);
	assert_non_null(w);
	assert_int_equal(w->category, FERRY_CAT_WARNING);
	assert_string_equal(w->message, "StorageMap mig/defaults: spec.map[0].destination has no "
					"storageClass; the cluster's default StorageClass will "
					"be used");
	assert_int_equal(count(fx, "storagemap.destination.storage-class"), 1);
	assert_false(ferry_findings_blocking(&fx->f));
}

static void test_report_json(void **state)
{
	struct fixture *fx = *state;
	char *json;

	load(fx, "apiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\n"
		 "metadata: {name: h, namespace: mig}\nspec: {deadline: 0, image: x}\n");
	json = ferry_report_json(&fx->f, &fx->m);
	assert_non_null(strstr(json, "\"id\": \"hook.deadline.invalid\""));
	assert_non_null(strstr(json, "\"kind\": \"Hook\""));
	assert_non_null(strstr(json, "\"error\": 1"));
	free(json);
}

static void test_kind_in_wrong_group(void **state)
{
	struct fixture *fx = *state;

	/* Our kind names in our groups with the wrong group: a mistake, no crash. */
	load(fx,
	     "apiVersion: forklift.konveyor.io/v1beta1\nkind: Secret\nmetadata: {name: a}\n---\n"
	     "apiVersion: ferry.dev/v1alpha1\nkind: Plan\nmetadata: {name: b}\n---\n"
	     /* the same name in somebody else's group is their object */
	     "apiVersion: kyverno.io/v1\nkind: Policy\nmetadata: {name: c}\n");
	assert_int_equal(count(fx, "schema.api-version.unsupported"), 2);
	assert_string_equal(find(fx, "schema.api-version.unsupported")->message,
			    "Secret: apiVersion \"forklift.konveyor.io/v1beta1\" is not supported; "
			    "expected \"v1\"");
	assert_int_equal(count(fx, "schema.kind.ignored"), 1);
	assert_null(find(fx, "schema.kind.unknown"));
}

static void test_missing_spec(void **state)
{
	struct fixture *fx = *state;

	load(fx,
	     "apiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\nmetadata: {name: a}\n---\n"
	     "apiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\nmetadata: {name: b}\nspec:\n");
	assert_int_equal(count(fx, "schema.required"), 2);
	assert_string_equal(fx->f.items[0].message, "Plan: missing required field \"spec\"");
	assert_string_equal(find(fx, "schema.required")->message,
			    "Plan: missing required field \"spec\"");
	{
		size_t hits = 0;
		for (size_t i = 0; i < fx->f.len; i++)
			if (strstr(fx->f.items[i].message,
				   "Hook: required field \"spec\" is empty")) {
				assert_int_equal(fx->f.items[i].line, 8);
				hits++;
			}
		assert_int_equal(hits, 1);
	}
	assert_non_null(find(fx, "hook.empty")); /* true, if redundant */
}

static void test_provider_url(void **state)
{
	struct fixture *fx = *state;

	load(fx, "apiVersion: forklift.konveyor.io/v1beta1\nkind: Provider\nmetadata: {name: a}\n"
		 "spec: {type: ovirt, url: \"\", secret: {name: s}}\n---\n"
		 "apiVersion: forklift.konveyor.io/v1beta1\nkind: Provider\nmetadata: {name: b}\n"
		 "spec: {type: ova, url: \"http://x/ova\"}\n---\n"
		 "apiVersion: forklift.konveyor.io/v1beta1\nkind: Provider\nmetadata: {name: c}\n"
		 "spec: {type: ova, url: \"nfs.example.com:/exports/ova\"}\n");
	assert_int_equal(count(fx, "provider.url.missing"), 1);
	assert_int_equal(count(fx, "provider.url.invalid"), 1);
	assert_int_equal(find(fx, "provider.url.invalid")->line, 9);
}

static void test_misplaced_hint_is_per_kind(void **state)
{
	struct fixture *fx = *state;

	load(fx, "apiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\n"
		 "metadata: {name: h, targetNamespace: x}\nspec: {image: y}\n");
	assert_string_equal(find(fx, "schema.unknown-field")->message,
			    "Hook: unknown field \"metadata.targetNamespace\", ignored");
}

static void test_template_column_counts_characters(void **state)
{
	struct fixture *fx = *state;

	/* "día" is 4 bytes but 3 columns; libyaml counts columns in characters */
	load(fx, PROVIDERS PLAN_HEAD "  pvcNameTemplate: d\xc3\xad"
				     "a-{{.VMName}}\n  vms: [{id: vm-1}]\n");
	assert_int_equal(find(fx, "template.unknown-variable")->line, 39);
	assert_int_equal(find(fx, "template.unknown-variable")->col, 26); /* the "." of .VMName */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plan_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_field_suggests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misplaced_cutover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enums_and_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_references, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_times_and_base64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_templates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_required_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storagemap_offload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storagemap_default_class, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kind_in_wrong_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provider_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misplaced_hint_is_per_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_template_column_counts_characters, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
