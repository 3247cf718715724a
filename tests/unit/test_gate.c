/* reconciler/gate: approval counting, gate combination and the order in
 * which gates fail; Policy gates read from a model. Signatures themselves
 * are tested in test_sigverify.c and, with real `git commit -S`, in the Git
 * integration tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reconciler/gate.h"
#include "reconciler/gitsync.h"
#include "schema/finding.h"
#include "schema/model.h"

#include <stdlib.h>
#include <string.h>

static char *alice = "Alice Example <alice@example.com>";
static char *bob = "bob@example.com";
static char *carol = "Carol";

static struct ferry_gate gate_of(unsigned n, char **approvers, size_t na)
{
	struct ferry_gate g = {0};
	g.source = "test";
	g.approvals = n;
	g.approvers = approvers;
	g.napprovers = na;
	return g;
}

static void test_count_basic(void **state)
{
	char *list[] = {alice, bob, carol};
	struct ferry_gate g = gate_of(2, list, 3);
	(void)state;

	assert_int_equal(ferry_gate_count_approvals(&g, "Add wave 1\n\nbody\n", "dave@x.org"), 0);
	/* trailers in the last paragraph only, by e-mail, case-insensitive */
	assert_int_equal(ferry_gate_count_approvals(&g,
						    "Add wave 1\n\nbody text\n\n"
						    "Approved-by: A. Example <ALICE@example.com>\n"
						    "Reviewed-by: Bob <bob@example.com>\n",
						    "dave@x.org"),
			 2);
	/* the same approver twice counts once */
	assert_int_equal(ferry_gate_count_approvals(&g,
						    "s\n\nApproved-by: alice@example.com\n"
						    "Reviewed-by: Alice <alice@example.com>\n",
						    "dave@x.org"),
			 1);
	/* a name-only approver matches only that exact name */
	assert_int_equal(ferry_gate_count_approvals(&g, "s\n\nApproved-by: Carol\n", "d@x"), 1);
	assert_int_equal(ferry_gate_count_approvals(&g, "s\n\nApproved-by: carol\n", "d@x"), 0);
	/* strangers and other trailers do not count */
	assert_int_equal(ferry_gate_count_approvals(&g,
						    "s\n\nApproved-by: eve@example.com\n"
						    "Signed-off-by: Bob <bob@example.com>\n",
						    "d@x"),
			 0);
	/* trailers in the body, not the last paragraph, do not count */
	assert_int_equal(ferry_gate_count_approvals(&g,
						    "s\n\nApproved-by: bob@example.com\n\n"
						    "Closing words.\n",
						    "d@x"),
			 0);
}

static void test_count_author_excluded(void **state)
{
	char *list[] = {alice, bob};
	struct ferry_gate g = gate_of(1, list, 2);
	(void)state;
	assert_int_equal(ferry_gate_count_approvals(&g, "s\n\nApproved-by: alice@example.com\n",
						    "alice@example.com"),
			 0);
	assert_int_equal(ferry_gate_count_approvals(&g,
						    "s\n\nApproved-by: alice@example.com\n"
						    "Approved-by: bob@example.com\n",
						    "Alice@Example.com"),
			 1);
}

static void test_custom_trailers(void **state)
{
	char *list[] = {alice, bob};
	char *tr[] = {"Acked-by"};
	struct ferry_gate g = gate_of(1, list, 2);
	(void)state;
	g.trailers = tr;
	g.ntrailers = 1;
	assert_int_equal(
		ferry_gate_count_approvals(&g, "s\n\nApproved-by: bob@example.com\n", "x@y"), 0);
	assert_int_equal(ferry_gate_count_approvals(&g, "s\n\nacked-by: bob@example.com\n", "x@y"),
			 1);
}

static void test_check_order(void **state)
{
	char *list[] = {alice, bob};
	struct ferry_gate items[2];
	struct ferry_gates gs = {items, 2, 2};
	struct ferry_git_commit_info ci = {0};
	struct ferry_gate_verdict v;
	struct ferry_err err = FERRY_ERR_INIT;
	(void)state;

	items[0] = gate_of(1, list, 2);
	items[0].source = "ferry.ini [gate]";
	items[1] = gate_of(2, list, 2);
	items[1].source = "Policy ops/gates at 1234";
	ci.author_email = "carol@example.com";
	ci.message = "Wave 2\n\nApproved-by: bob@example.com\n";
	assert_int_equal(ferry_gate_check(&gs, &ci, "/nonexistent", &v, &err), 0);
	assert_false(v.passed);
	assert_string_equal(v.gate, "approvals");
	assert_string_equal(v.source, "Policy ops/gates at 1234");
	assert_non_null(strstr(v.reason, "1 of 2 required approvals"));

	ci.message = "Wave 2\n\nApproved-by: bob@example.com\nReviewed-by: "
		     "Alice <alice@example.com>\n";
	assert_int_equal(ferry_gate_check(&gs, &ci, "/nonexistent", &v, &err), 0);
	assert_true(v.passed);
	assert_int_equal(v.approvals, 2);

	/* an unsigned commit fails a signature gate before approvals count */
	items[0].signature = FERRY_SIG_SSH;
	items[0].allowed_signers = "alice@example.com ssh-ed25519 AAAA";
	assert_int_equal(ferry_gate_check(&gs, &ci, "/nonexistent", &v, &err), 0);
	assert_false(v.passed);
	assert_string_equal(v.gate, "signature");
	assert_non_null(strstr(v.reason, "not signed"));
}

static const char policy_yaml[] = "apiVersion: ferry.dev/v1alpha1\n"
				  "kind: Policy\n"
				  "metadata: {name: gates, namespace: ops}\n"
				  "spec:\n"
				  "  gates:\n"
				  "    signature:\n"
				  "      require: ssh\n"
				  "      allowedSigners: |\n"
				  "        alice@example.com ssh-ed25519 AAAAC3Nz\n"
				  "    approvals:\n"
				  "      count: 2\n"
				  "      approvers: [alice@example.com, bob@example.com]\n"
				  "      trailers: [Approved-by]\n";

static void test_gates_from_model(void **state)
{
	struct ferry_model m = FERRY_MODEL_INIT;
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_gates gs = {0};
	(void)state;

	ferry_model_load_buffer(&m, "gates.yaml", policy_yaml, strlen(policy_yaml), &f);
	ferry_model_validate(&m, &f);
	assert_int_equal(f.len, 0);
	ferry_gates_add_model(&gs, &m, "0123456789abcdef0123");
	assert_int_equal(gs.len, 1);
	assert_string_equal(gs.items[0].source, "Policy ops/gates at 0123456789ab");
	assert_int_equal(gs.items[0].signature, FERRY_SIG_SSH);
	assert_string_equal(gs.items[0].allowed_signers,
			    "alice@example.com ssh-ed25519 AAAAC3Nz\n");
	assert_int_equal(gs.items[0].approvals, 2);
	assert_int_equal(gs.items[0].napprovers, 2);
	assert_string_equal(gs.items[0].approvers[1], "bob@example.com");
	assert_int_equal(gs.items[0].ntrailers, 1);
	ferry_gates_release(&gs);
	ferry_findings_release(&f);
	ferry_model_release(&m);
}

static const char *finding_id(const struct ferry_findings *f, size_t i)
{
	return i < f->len ? f->items[i].id : "(none)";
}

static void test_policy_findings(void **state)
{
	static const char bad[] = "apiVersion: ferry.dev/v1alpha1\n"
				  "kind: Policy\n"
				  "metadata: {name: gates, namespace: ops}\n"
				  "spec:\n"
				  "  gates:\n"
				  "    signature: {require: openpgp}\n"
				  "    approvals: {count: 3, approvers: [a@x]}\n";
	struct ferry_model m = FERRY_MODEL_INIT;
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	(void)state;

	ferry_model_load_buffer(&m, "bad.yaml", bad, strlen(bad), &f);
	ferry_model_validate(&m, &f);
	ferry_findings_sort(&f);
	assert_int_equal(f.len, 2);
	assert_string_equal(finding_id(&f, 0), "policy.gate.signature.no-keys");
	assert_int_equal(f.items[0].line, 6);
	assert_string_equal(finding_id(&f, 1), "policy.gate.approvals.approvers");
	assert_int_equal(f.items[1].line, 7);
	ferry_findings_release(&f);
	ferry_model_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_basic),
		cmocka_unit_test(test_count_author_excluded),
		cmocka_unit_test(test_custom_trailers),
		cmocka_unit_test(test_check_order),
		cmocka_unit_test(test_gates_from_model),
		cmocka_unit_test(test_policy_findings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
