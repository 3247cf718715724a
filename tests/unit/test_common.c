/* common/: errors, strings, edit distance, paths. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_err(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char buf[128];

	(void)state;
	assert_int_equal(ferry_err_set_at(&err, FERRY_E_INVALID, "a.yaml", 3, 7, "bad %s", "x"),
			 -1);
	ferry_err_format(&err, buf, sizeof buf);
	assert_string_equal(buf, "a.yaml:3:7: bad x");
	ferry_err_prefix(&err, "loading %s: ", "plan");
	assert_string_equal(err.msg, "loading plan: bad x");
	ferry_err_set(&err, FERRY_E_TIMEOUT, "slow");
	ferry_err_format(&err, buf, sizeof buf);
	assert_string_equal(buf, "slow");
	assert_true(ferry_err_retryable(err.code));
	assert_false(ferry_err_retryable(FERRY_E_INVALID));
	assert_string_equal(ferry_errcode_name(FERRY_E_NOT_FOUND), "not-found");
	/* a NULL err is allowed and still returns -1 */
	assert_int_equal(ferry_err_set(NULL, FERRY_E_IO, "x"), -1);
}

static void test_err_prefix_truncates(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char big[600];

	(void)state;
	memset(big, 'p', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ferry_err_set(&err, FERRY_E_IO, "tail");
	ferry_err_prefix(&err, "%s", big);
	assert_int_equal(strlen(err.msg), FERRY_ERR_MSG_MAX - 1);
}

static void test_strbuf(void **state)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	char *s;

	(void)state;
	assert_string_equal(sb.buf, "");
	ferry_sb_adds(&sb, "abc");
	ferry_sb_addc(&sb, '-');
	ferry_sb_addf(&sb, "%d/%s", 42, "x");
	assert_string_equal(sb.buf, "abc-42/x");
	assert_int_equal(sb.len, 8);
	for (int i = 0; i < 1000; i++)
		ferry_sb_addc(&sb, 'z');
	assert_int_equal(sb.len, 1008);
	ferry_sb_reset(&sb);
	assert_string_equal(sb.buf, "");
	ferry_sb_adds(&sb, "keep");
	s = ferry_sb_detach(&sb);
	assert_string_equal(s, "keep");
	assert_string_equal(sb.buf, "");
	free(s);
	s = ferry_sb_detach(&sb); /* detaching an empty buffer gives a fresh "" */
	assert_string_equal(s, "");
	free(s);
	ferry_sb_release(&sb);
}

static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(ferry_edit_distance("", ""), 0);
	assert_int_equal(ferry_edit_distance("validate", "validate"), 0);
	assert_int_equal(ferry_edit_distance("validat", "validate"), 1);
	assert_int_equal(ferry_edit_distance("wram", "warm"), 1); /* transposition */
	assert_int_equal(ferry_edit_distance("kitten", "sitting"), 3);
	assert_int_equal(ferry_edit_distance("", "abc"), 3);
}

static void test_nearest(void **state)
{
	static const char *const cmds[] = {"help", "version", "validate", "diff", "copy"};

	(void)state;
	assert_string_equal(ferry_nearest("valdate", cmds, 5), "validate");
	assert_string_equal(ferry_nearest("hepl", cmds, 5), "help");
	assert_string_equal(ferry_nearest("cpy", cmds, 5), "copy");
	assert_null(ferry_nearest("frobnicate", cmds, 5));
	assert_null(ferry_nearest("x", cmds, 0));
}

static void test_paths(void **state)
{
	char *p;

	(void)state;
	p = ferry_path_join("repo/", "/a.yaml");
	assert_string_equal(p, "repo/a.yaml");
	free(p);
	p = ferry_path_join(".", "a.yaml");
	assert_string_equal(p, "a.yaml");
	free(p);
	p = ferry_path_join("/", "etc");
	assert_string_equal(p, "/etc");
	free(p);
	assert_true(ferry_ends_with("plan.yml", ".yml"));
	assert_false(ferry_ends_with("yml", ".yml"));
	assert_true(ferry_starts_with("https://x", "https://"));
}

static void test_grow(void **state)
{
	int *v = NULL;
	size_t len = 0, cap = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		*FERRY_PUSH(v, len, cap) = i;
	assert_int_equal(len, 100);
	assert_true(cap >= 100);
	assert_int_equal(v[99], 99);
	free(v);
}

/* ferry_read_file, ferry_write_file_atomic, ferry_mkdirs, ferry_rmtree */
static void test_files(void **state)
{
	char dir[] = "/tmp/ferry-test-common-XXXXXX", *data, *path, *deep;
	size_t len;
	(void)state;

	assert_non_null(mkdtemp(dir));
	deep = ferry_xasprintf("%s/a/b/c", dir);
	assert_int_equal(ferry_mkdirs(deep, 0700), 0);
	assert_int_equal(ferry_mkdirs(deep, 0700), 0); /* exists: fine */
	path = ferry_xasprintf("%s/f", deep);
	assert_int_equal(ferry_write_file_atomic(path, "0123456789", 10, 0600), 0);
	/* exactly max bytes is fine; one more is EFBIG */
	assert_int_equal(ferry_read_file(path, 10, &data, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(data, "0123456789");
	free(data);
	assert_int_equal(ferry_read_file(path, 9, &data, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(data);
	/* larger than the first buffer, grown in steps */
	char *big = ferry_xmalloc(100001);
	memset(big, 'x', 100000);
	big[100000] = '\0';
	assert_int_equal(ferry_write_file_atomic(path, big, 100000, 0600), 0);
	assert_int_equal(ferry_read_file(path, 100000, &data, &len), 0);
	assert_int_equal(len, 100000);
	assert_string_equal(data, big);
	free(data);
	free(big);
	assert_int_equal(ferry_read_file(path, 99999, &data, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(ferry_rmtree(dir), 0);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(ferry_read_file(path, 10, &data, &len), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ferry_rmtree(dir), 0); /* gone already: fine */
	free(path);
	free(deep);
}

/* ferry_spawn_tied: the child's stdout, stderr and fd 3 go where asked,
 * it starts with default signals, and it is told whom it is tied to. */
static void test_spawn_tied(void **state)
{
	char dir[] = "/tmp/ferry-test-spawn.XXXXXX";
	char *out, *errp, *data = NULL, buf[64];
	size_t len;
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	out = ferry_xasprintf("%s/out", dir);
	errp = ferry_xasprintf("%s/err", dir);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	signal(SIGPIPE, SIG_IGN); /* the child must get it back by default */
	{
		char *argv[] = {"sh", "-c",
				"echo \"tied=$FERRY_TIED_TO\"; echo oops >&2; echo fd3 >&3; "
				"grep SigIgn /proc/self/status",
				NULL};
		struct ferry_spawn_io io = {out, errp, pfd[1]};

		pid = ferry_spawn_tied("/bin/sh", argv, &io);
	}
	assert_true(pid > 0);
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof buf - 1);
	assert_int_equal(n, 4);
	buf[n] = '\0';
	assert_string_equal(buf, "fd3\n");
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(ferry_read_file(out, 4096, &data, &len), 0);
	snprintf(buf, sizeof buf, "tied=%ld\nSigIgn:\t", (long)getpid());
	assert_memory_equal(data, buf, strlen(buf));
	{
		/* SIGPIPE (13) is back to its default in the child */
		unsigned long long ign = strtoull(data + strlen(buf), NULL, 16);
		assert_int_equal(ign & (1ull << (SIGPIPE - 1)), 0);
	}
	free(data);
	assert_int_equal(ferry_read_file(errp, 4096, &data, &len), 0);
	assert_string_equal(data, "oops\n");
	free(data);
	signal(SIGPIPE, SIG_DFL);
	/* a program that is not there: an error, not a child */
	{
		char *argv[] = {"nothing", NULL};
		assert_int_equal(ferry_spawn_tied("/nonexistent/ferry", argv, NULL), -1);
		assert_int_equal(errno, ENOENT);
	}
	assert_int_equal(ferry_rmtree(dir), 0);
	free(out);
	free(errp);
}

/* ferry_tie_to_parent: a child whose parent is not the one named exits
 * 127 at once; the right parent lets it run, and the variable is gone. */
static void test_tie_to_parent(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	for (int right = 0; right < 2; right++) {
		char v[32];

		snprintf(v, sizeof v, "%ld", right ? (long)getpid() : (long)getpid() + 100000);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			setenv("FERRY_TIED_TO", v, 1);
			ferry_tie_to_parent();
			_exit(getenv("FERRY_TIED_TO") ? 2 : 0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), right ? 0 : 127);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err),	   cmocka_unit_test(test_err_prefix_truncates),
		cmocka_unit_test(test_strbuf),	   cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_nearest),	   cmocka_unit_test(test_paths),
		cmocka_unit_test(test_grow),	   cmocka_unit_test(test_files),
		cmocka_unit_test(test_spawn_tied), cmocka_unit_test(test_tie_to_parent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
