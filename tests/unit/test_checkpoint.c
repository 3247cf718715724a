/* Checkpoint files and changed-areas lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dataplane/changed.h"
#include "dataplane/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char path[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/ferry-ckpt-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/copy.ckpt", dir);
	return 0;
}

static int teardown(void **state)
{
	char tmp[300];
	(void)state;
	unlink(path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	return rmdir(dir);
}

static void add(struct ferry_extents *l, uint64_t off, uint64_t len)
{
	l->v = realloc(l->v, (l->len + 1) * sizeof *l->v);
	l->v[l->len++] = (struct ferry_extent){off, len, 0};
	l->cap = l->len;
}

static void test_roundtrip(void **state)
{
	struct ferry_extents done = FERRY_EXTENTS_INIT, batch = FERRY_EXTENTS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_ckpt *c;

	(void)state;
	assert_int_equal(ferry_ckpt_open(path, 1 << 20, "nbd://a", "/tmp/b", &done, &c, &err), 0);
	assert_int_equal(done.len, 0);
	/* out of order batches from several workers merge */
	add(&batch, 65536, 65536);
	add(&batch, 0, 4096);
	assert_int_equal(ferry_ckpt_add(c, &batch, &err), 0);
	batch.len = 0;
	add(&batch, 4096, 61440);
	assert_int_equal(ferry_ckpt_add(c, &batch, &err), 0);
	assert_int_equal(ferry_ckpt_close(c, false, &err), 0);

	assert_int_equal(ferry_ckpt_open(path, 1 << 20, "nbd://a", "/tmp/b", &done, &c, &err), 0);
	assert_int_equal(done.len, 1);
	assert_int_equal(done.v[0].off, 0);
	assert_int_equal(done.v[0].len, 131072);
	/* completing removes the file */
	assert_int_equal(ferry_ckpt_close(c, true, &err), 0);
	assert_int_equal(access(path, F_OK), -1);
	ferry_extents_release(&done);
	ferry_extents_release(&batch);
}

static void write_file(const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_refuses_other_copy(void **state)
{
	struct ferry_extents done = FERRY_EXTENTS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_ckpt *c;

	(void)state;
	write_file("ferry-checkpoint 1\nsize 4096\nsrc nbd://a\ndst /tmp/b\n0 4096\n");
	assert_int_equal(ferry_ckpt_open(path, 8192, "nbd://a", "/tmp/b", &done, &c, &err), -1);
	assert_int_equal(err.code, FERRY_E_CONFLICT);
	assert_non_null(strstr(err.msg, "4096-byte disk"));
	assert_int_equal(ferry_ckpt_open(path, 4096, "nbd://x", "/tmp/b", &done, &c, &err), -1);
	assert_int_equal(err.code, FERRY_E_CONFLICT);
	assert_non_null(strstr(err.msg, "a copy from nbd://a"));
	ferry_extents_release(&done);
}

static void test_refuses_malformed(void **state)
{
	static const struct {
		const char *text;
		int line;
	} bad[] = {
		{"garbage\n", 1},
		{"ferry-checkpoint 1\nsize 4096\nsrc a\ndst b\n0 8192\n", 5},
		{"ferry-checkpoint 1\nsize 4096\nsrc a\ndst b\n512 512\n0 512\n", 6},
		{"ferry-checkpoint 1\nsize 4096\nsrc a\ndst b\n0 512 junk\n", 5},
		{"ferry-checkpoint 1\nsrc a\ndst b\n", 3},
	};
	struct ferry_extents done = FERRY_EXTENTS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_ckpt *c;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_file(bad[i].text);
		assert_int_equal(ferry_ckpt_open(path, 4096, "a", "b", &done, &c, &err), -1);
		assert_int_equal(err.code, FERRY_E_INVALID);
		assert_int_equal(err.line, bad[i].line);
	}
	ferry_extents_release(&done);
}

static void test_changed_areas(void **state)
{
	struct ferry_extents l = FERRY_EXTENTS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	const char *ok = "[{\"start\": 100, \"length\": 50}, {\"start\": 0, \"length\": 10},"
			 " {\"start\": 140, \"length\": 20}, {\"start\": 500, \"length\": 0}]";

	(void)state;
	assert_int_equal(ferry_changed_areas_parse("c.json", ok, strlen(ok), &l, &err), 0);
	assert_int_equal(l.len, 2);
	assert_int_equal(l.v[0].off, 0);
	assert_int_equal(l.v[0].len, 10);
	assert_int_equal(l.v[1].off, 100);
	assert_int_equal(l.v[1].len, 60);

	assert_int_equal(
		ferry_changed_areas_parse("c.json", "[{\"start\":1,\"lenght\":2}]", 24, &l, &err),
		-1);
	assert_non_null(strstr(err.msg, "unknown key \"lenght\""));
	assert_int_equal(
		ferry_changed_areas_parse("c.json", "[{\"start\":-1,\"length\":2}]", 25, &l, &err),
		-1);
	assert_non_null(strstr(err.msg, "non-negative integer"));
	assert_int_equal(ferry_changed_areas_parse("c.json", "[1,", 3, &l, &err), -1);
	assert_string_equal(err.file, "c.json");
	assert_int_equal(err.line, 1);
	assert_int_equal(ferry_changed_areas_parse("c.json", "{}", 2, &l, &err), -1);
	assert_non_null(strstr(err.msg, "expected a JSON array"));
	ferry_extents_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_other_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_malformed, setup, teardown),
		cmocka_unit_test(test_changed_areas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
