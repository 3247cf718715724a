/* The YAML tree: positions, anchors, merges, duplicates and limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/strbuf.h"
#include "schema/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct warns {
	int n;
	char last[256];
	int line, col;
};

static void on_warn(void *arg, const struct ferry_pos *pos, const char *id, const char *msg)
{
	struct warns *w = arg;
	w->n++;
	snprintf(w->last, sizeof w->last, "%s: %s", id, msg);
	w->line = pos->line;
	w->col = pos->col;
}

static struct ferry_doc **parse(const char *text, size_t *n, struct warns *w, struct ferry_err *err,
				int *rc)
{
	struct ferry_doc **docs;
	*rc = ferry_yaml_parse("t.yaml", text, strlen(text), &docs, n, on_warn, w, err);
	return docs;
}

static void test_positions(void **state)
{
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;
	int rc;
	struct ferry_doc **d = parse("a: 1\nb:\n  c: [x, \"y\"]\n", &n, &w, &err, &rc);
	const struct ferry_node *b, *c;

	(void)state;
	assert_int_equal(rc, 0);
	assert_int_equal(n, 1);
	b = ferry_map_get(d[0]->root, "b");
	assert_non_null(b);
	assert_int_equal(b->pos.line, 3);
	assert_int_equal(b->pos.col, 3);
	c = ferry_map_get(b, "c");
	assert_int_equal(c->kind, FERRY_NODE_SEQ);
	assert_int_equal(c->u.seq.len, 2);
	assert_int_equal(c->u.seq.items[1]->pos.line, 3);
	assert_int_equal(c->u.seq.items[1]->pos.col, 10);
	assert_int_equal(c->u.seq.items[1]->u.scalar.style, FERRY_SCALAR_QUOTED);
	assert_string_equal(d[0]->root->pos.file, "t.yaml");
	ferry_docs_free(d, n);
}

static void test_multi_document(void **state)
{
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;
	int rc;
	struct ferry_doc **d = parse("a: 1\n---\nb: 2\n---\n# only a comment\n", &n, &w, &err, &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_int_equal(n, 3);
	assert_non_null(ferry_map_get(d[1]->root, "b"));
	assert_int_equal(d[1]->root->pos.line, 3);
	assert_true(ferry_node_is_null(d[2]->root));
	ferry_docs_free(d, n);
}

static void test_anchor_alias_merge(void **state)
{
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;
	int rc;
	const char *y = "base: &b {ns: one, name: x}\n"
			"ref: *b\n"
			"merged:\n  <<: *b\n  name: y\n";
	struct ferry_doc **d = parse(y, &n, &w, &err, &rc);
	const struct ferry_node *ref, *merged;

	(void)state;
	assert_int_equal(rc, 0);
	ref = ferry_map_get(d[0]->root, "ref");
	assert_ptr_equal(ref, ferry_map_get(d[0]->root, "base"));
	merged = ferry_map_get(d[0]->root, "merged");
	assert_int_equal(merged->u.map.len, 2);
	/* explicit keys win over merged ones */
	assert_string_equal(ferry_map_get(merged, "name")->u.scalar.text, "y");
	assert_string_equal(ferry_map_get(merged, "ns")->u.scalar.text, "one");
	assert_null(ferry_map_get(merged, "<<"));
	assert_int_equal(w.n, 0);
	ferry_docs_free(d, n);
}

static void test_unknown_alias(void **state)
{
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;
	int rc;
	struct ferry_doc **d = parse("a: *nope\n", &n, &w, &err, &rc);

	(void)state;
	assert_int_equal(rc, -1);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 4);
	assert_non_null(strstr(err.msg, "unknown anchor \"nope\""));
	ferry_docs_free(d, n);
}

static void test_self_alias_is_not_a_cycle(void **state)
{
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;
	int rc;
	struct ferry_doc **d = parse("a: &x [1, *x]\n", &n, &w, &err, &rc);

	(void)state;
	/* The anchor is not complete inside itself, so the alias is unknown. */
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err.msg, "unknown anchor \"x\""));
	ferry_docs_free(d, n);
}

static void test_duplicate_key(void **state)
{
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;
	int rc;
	struct ferry_doc **d = parse("name: a\nkind: b\nname: c\n", &n, &w, &err, &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.last, "yaml.duplicate-key: duplicate key \"name\" (first at line 1)");
	assert_int_equal(w.line, 3);
	assert_int_equal(w.col, 1);
	/* the first occurrence is kept */
	assert_string_equal(ferry_map_get(d[0]->root, "name")->u.scalar.text, "a");
	assert_int_equal(d[0]->root->u.map.len, 2);
	ferry_docs_free(d, n);
}

static void test_syntax_error_position(void **state)
{
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;
	int rc;
	struct ferry_doc **d = parse("a: 1\nb: [1, 2\nc: 3\n", &n, &w, &err, &rc);

	(void)state;
	assert_int_equal(rc, -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_string_equal(err.file, "t.yaml");
	assert_int_equal(err.line, 3);
	assert_non_null(strstr(err.msg, "YAML syntax"));
	ferry_docs_free(d, n);
}

static void test_billion_laughs(void **state)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_doc **d;
	size_t n;
	int rc;

	(void)state;
	ferry_sb_adds(&sb, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		ferry_sb_addf(
			&sb,
			"a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
			i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	rc = ferry_yaml_parse("t.yaml", sb.buf, sb.len, &d, &n, on_warn, &w, &err);
	assert_int_equal(rc, -1);
	assert_int_equal(err.code, FERRY_E_LIMIT);
	assert_non_null(strstr(err.msg, "aliases are expanded"));
	ferry_docs_free(d, n);
	ferry_sb_release(&sb);
}

static void test_depth_limit(void **state)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_doc **d;
	size_t n;
	int rc;

	(void)state;
	for (int i = 0; i < 100; i++)
		ferry_sb_addc(&sb, '[');
	for (int i = 0; i < 100; i++)
		ferry_sb_addc(&sb, ']');
	rc = ferry_yaml_parse("t.yaml", sb.buf, sb.len, &d, &n, on_warn, &w, &err);
	assert_int_equal(rc, -1);
	assert_int_equal(err.code, FERRY_E_LIMIT);
	assert_string_equal(err.msg, "nesting deeper than 64 levels");
	ferry_docs_free(d, n);
	ferry_sb_release(&sb);
}

static enum ferry_scalar_type resolve_one(const char *text)
{
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;
	int rc;
	struct ferry_doc **d = parse(text, &n, &w, &err, &rc);
	enum ferry_scalar_type t;

	assert_int_equal(rc, 0);
	t = ferry_scalar_resolve(ferry_map_get(d[0]->root, "v"));
	ferry_docs_free(d, n);
	return t;
}

static void test_scalar_resolution(void **state)
{
	(void)state;
	assert_int_equal(resolve_one("v: true"), FERRY_SCALAR_BOOL);
	assert_int_equal(resolve_one("v: yes"), FERRY_SCALAR_BOOL);
	assert_int_equal(resolve_one("v: Off"), FERRY_SCALAR_BOOL);
	assert_int_equal(resolve_one("v: \"yes\""), FERRY_SCALAR_STR);
	assert_int_equal(resolve_one("v: 42"), FERRY_SCALAR_INT);
	assert_int_equal(resolve_one("v: -0x1F"), FERRY_SCALAR_INT);
	assert_int_equal(resolve_one("v: 1_000"), FERRY_SCALAR_INT);
	assert_int_equal(resolve_one("v: 1.5"), FERRY_SCALAR_FLOAT);
	assert_int_equal(resolve_one("v: 1e3"), FERRY_SCALAR_FLOAT);
	assert_int_equal(resolve_one("v: .inf"), FERRY_SCALAR_FLOAT);
	assert_int_equal(resolve_one("v: ~"), FERRY_SCALAR_NULL);
	assert_int_equal(resolve_one("v:"), FERRY_SCALAR_NULL);
	assert_int_equal(resolve_one("v: vm-431"), FERRY_SCALAR_STR);
	assert_int_equal(resolve_one("v: 1.2.3"), FERRY_SCALAR_STR);
	assert_int_equal(resolve_one("v: !!str 42"), FERRY_SCALAR_STR);
	assert_int_equal(resolve_one("v: 0777"), FERRY_SCALAR_INT);
	assert_int_equal(resolve_one("v: 089"), FERRY_SCALAR_STR);
}

static void test_size_limit(void **state)
{
	struct ferry_doc **d;
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;

	(void)state;
	assert_int_equal(ferry_yaml_parse("big.yaml", "", (size_t)FERRY_YAML_MAX_BYTES + 1, &d, &n,
					  NULL, NULL, &err),
			 -1);
	assert_int_equal(err.code, FERRY_E_LIMIT);
	assert_int_equal(n, 0);
}

static void test_reader_error_position(void **state)
{
	struct warns w = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	size_t n;
	int rc;
	/* an invalid UTF-8 byte on line 2, after a two-byte character */
	struct ferry_doc **d = parse("a: 1\nb: \xc3\xa9x\xff\n", &n, &w, &err, &rc);

	(void)state;
	assert_int_equal(rc, -1);
	assert_int_equal(err.line, 2);
	assert_int_equal(err.col, 6);
	ferry_docs_free(d, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_multi_document),
		cmocka_unit_test(test_anchor_alias_merge),
		cmocka_unit_test(test_unknown_alias),
		cmocka_unit_test(test_self_alias_is_not_a_cycle),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_syntax_error_position),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_scalar_resolution),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_reader_error_position),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
