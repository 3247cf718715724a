/* reconciler/journal: transitions, operations, reopening, and durability
 * against a process killed in the middle of writing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/util.h"
#include "reconciler/journal.h"

#include <sqlite3.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	strcpy(fx->dir, "/tmp/ferry-test-journal-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof fx->path, "%s/journal.db", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	ferry_rmtree(fx->dir);
	free(fx);
	return 0;
}

static const struct ferry_jkey key1 = {"ns/wave-1", "wave-1-run", "vm-431"};
static const struct ferry_jkey key2 = {"ns/wave-1", "wave-1-run", "vm-432"};

static struct ferry_journal *open_ok(struct fx *fx)
{
	struct ferry_journal *j = NULL;
	struct ferry_err err = FERRY_ERR_INIT;
	if (ferry_journal_open(&j, fx->path, &err))
		fail_msg("open: %s", err.msg);
	return j;
}

static void test_transitions(void **state)
{
	struct fx *fx = *state;
	struct ferry_journal *j = open_ok(fx);
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_jvm vm;
	bool found;
	int64_t s1, s2, s3;

	assert_int_equal(ferry_journal_vm(j, &key1, &vm, &found, &err), 0);
	assert_false(found);
	assert_int_equal(
		ferry_journal_transition(j, &key1, "web-1", "Started", NULL, NULL, NULL, &s1, &err),
		0);
	assert_int_equal(ferry_journal_transition(j, &key1, NULL, "CopyDisks", "ferry-0001",
						  "2 disks", NULL, &s2, &err),
			 0);
	assert_true(s2 > s1);
	assert_int_equal(ferry_journal_vm(j, &key1, &vm, &found, &err), 0);
	assert_true(found);
	assert_string_equal(vm.phase, "CopyDisks");
	assert_string_equal(vm.vm_name, "web-1"); /* kept when not given again */
	assert_int_equal(vm.seq, s2);
	assert_true(vm.started[0]);
	assert_string_equal(vm.ended, "");
	assert_int_equal(ferry_journal_transition(j, &key1, NULL, "Failed", NULL, NULL,
						  "CopyDisks: source disk unreadable", &s3, &err),
			 0);
	ferry_journal_close(j);

	/* reopened: the same */
	j = open_ok(fx);
	assert_int_equal(ferry_journal_vm(j, &key1, &vm, &found, &err), 0);
	assert_true(found);
	assert_string_equal(vm.phase, "Failed");
	assert_string_equal(vm.error, "CopyDisks: source disk unreadable");
	assert_true(vm.ended[0]);
	assert_int_equal(vm.seq, s3);
	ferry_journal_close(j);
}

struct collect {
	char names[8][128];
	size_t n;
};

static int collect_vm(const struct ferry_jkey *k, const struct ferry_jvm *vm, void *arg)
{
	struct collect *c = arg;
	snprintf(c->names[c->n++], sizeof c->names[0], "%s:%s", k->vm_id, vm->phase);
	return 0;
}

static int collect_op(const struct ferry_jkey *k, const char *op_id, const char *kind, void *arg)
{
	struct collect *c = arg;
	(void)k;
	snprintf(c->names[c->n++], sizeof c->names[0], "%s:%s", op_id, kind);
	return 0;
}

static void test_ops_and_lists(void **state)
{
	struct fx *fx = *state;
	struct ferry_journal *j = open_ok(fx);
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_jop op;
	struct collect c = {0};
	char id1[32], id1b[32], id2[32], id3[32];

	ferry_journal_op_id(&key1, "snapshot", 0, id1);
	ferry_journal_op_id(&key1, "snapshot", 0, id1b);
	ferry_journal_op_id(&key1, "snapshot", 1, id2);
	ferry_journal_op_id(&key2, "snapshot", 0, id3);
	assert_string_equal(id1, id1b); /* deterministic */
	assert_string_not_equal(id1, id2);
	assert_string_not_equal(id1, id3);
	assert_int_equal(strlen(id1), 22);
	assert_memory_equal(id1, "ferry-", 6);

	assert_int_equal(ferry_journal_op_begin(j, &key1, id1, "snapshot", &op, &err), 0);
	assert_int_equal(op.state, FERRY_OP_NONE);
	/* begun again (a restarted daemon): nothing changes, and it says so */
	assert_int_equal(ferry_journal_op_begin(j, &key1, id1, "snapshot", &op, &err), 0);
	assert_int_equal(op.state, FERRY_OP_STARTED);
	assert_int_equal(ferry_journal_op_begin(j, &key2, id3, "copy", &op, &err), 0);
	assert_int_equal(ferry_journal_each_open_op(j, collect_op, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(ferry_journal_op_end(j, id1, true, "snapshot-77", &err), 0);
	assert_int_equal(ferry_journal_op(j, id1, &op, &err), 0);
	assert_int_equal(op.state, FERRY_OP_DONE);
	assert_string_equal(op.result, "snapshot-77");
	assert_string_equal(op.kind, "snapshot");
	c.n = 0;
	assert_int_equal(ferry_journal_each_open_op(j, collect_op, &c, &err), 0);
	assert_int_equal(c.n, 1);
	assert_non_null(strstr(c.names[0], ":copy"));
	assert_int_equal(ferry_journal_op_end(j, "ferry-nonexistent", false, NULL, &err), -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);

	assert_int_equal(ferry_journal_transition(j, &key2, "web-2", "Started", NULL, NULL, NULL,
						  NULL, &err),
			 0);
	assert_int_equal(ferry_journal_transition(j, &key1, "web-1", "Completed", NULL, NULL, NULL,
						  NULL, &err),
			 0);
	c.n = 0;
	assert_int_equal(ferry_journal_each_vm(j, "ns/wave-1", NULL, collect_vm, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.names[0], "vm-431:Completed");
	assert_string_equal(c.names[1], "vm-432:Started");
	c.n = 0;
	assert_int_equal(ferry_journal_each_vm(j, "ns/other", NULL, collect_vm, &c, &err), 0);
	assert_int_equal(c.n, 0);
	ferry_journal_close(j);
}

static void test_rollback(void **state)
{
	struct fx *fx = *state;
	struct ferry_journal *j = open_ok(fx);
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_jvm vm;
	bool found;

	assert_int_equal(ferry_journal_begin(j, &err), 0);
	assert_int_equal(ferry_journal_transition(j, &key1, "web-1", "Started", NULL, NULL, NULL,
						  NULL, &err),
			 0);
	ferry_journal_rollback(j);
	assert_int_equal(ferry_journal_vm(j, &key1, &vm, &found, &err), 0);
	assert_false(found);
	ferry_journal_close(j);
}

/* A child writes transitions 1..N (each its own commit) as fast as it can;
 * it is killed with SIGKILL at a random moment. The journal must reopen,
 * and the VM row must agree with the last history row: no transition half
 * written. Twenty rounds on one file. */
static void test_kill9(void **state)
{
	struct fx *fx = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	unsigned seed = (unsigned)time(NULL);
	int64_t last_seen = 0;

	srand(seed);
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct ferry_journal *j = NULL;
			if (ferry_journal_open(&j, fx->path, &err))
				_exit(3);
			for (int i = 0;; i++) {
				char phase[32];
				snprintf(phase, sizeof phase, "Phase%d", i);
				if (ferry_journal_transition(j, &key1, "web-1", phase, NULL, NULL,
							     NULL, NULL, &err))
					_exit(4);
			}
		}
		struct timespec ts = {0, (long)(rand() % 30 + 1) * 1000000L};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status)); /* it was writing, not failing */

		struct ferry_journal *j = open_ok(fx);
		struct ferry_jvm vm;
		bool found;
		assert_int_equal(ferry_journal_vm(j, &key1, &vm, &found, &err), 0);
		if (found) {
			/* the VM row points at the newest history row */
			assert_true(vm.seq >= last_seen);
			last_seen = vm.seq;
		}
		ferry_journal_close(j);
	}
	assert_true(last_seen > 0); /* the children did write before they died */
	/* and the history is consistent: the newest history row is the VM's */
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT (SELECT to_phase FROM transition ORDER BY seq "
					    "DESC LIMIT 1) = phase, (SELECT max(seq) FROM "
					    "transition) = seq FROM vm",
					    -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW) {
		assert_int_equal(sqlite3_column_int(st, 0), 1);
		assert_int_equal(sqlite3_column_int(st, 1), 1);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	(void)seed;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ops_and_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
