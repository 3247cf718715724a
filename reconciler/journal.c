#include "reconciler/journal.h"

#include "common/alloc.h"
#include "common/time.h"
#include "reconciler/itinerary.h"

#include <openssl/evp.h>
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEMA_VERSION	1
#define BUSY_TIMEOUT_MS 5000

struct ferry_journal {
	sqlite3 *db;
	char *path;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS vm("
	"  plan TEXT NOT NULL, migration TEXT NOT NULL, vm_id TEXT NOT NULL,"
	"  vm_name TEXT NOT NULL, phase TEXT NOT NULL, started TEXT NOT NULL DEFAULT '',"
	"  ended TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL,"
	"  PRIMARY KEY(plan, migration, vm_id));"
	"CREATE TABLE IF NOT EXISTS transition("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT, plan TEXT NOT NULL, migration TEXT NOT NULL,"
	"  vm_id TEXT NOT NULL, from_phase TEXT NOT NULL, to_phase TEXT NOT NULL,"
	"  op_id TEXT, at TEXT NOT NULL, detail TEXT);"
	"CREATE TABLE IF NOT EXISTS op("
	"  op_id TEXT PRIMARY KEY, plan TEXT NOT NULL, migration TEXT NOT NULL,"
	"  vm_id TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,"
	"  result TEXT NOT NULL DEFAULT '', started TEXT NOT NULL, ended TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX IF NOT EXISTS op_open ON op(state) WHERE state = 'started';"
	"CREATE INDEX IF NOT EXISTS op_plan ON op(plan, migration, vm_id);";

static int db_fail(struct ferry_journal *j, struct ferry_err *err, const char *what)
{
	return ferry_err_set(err, FERRY_E_IO, "journal %s: %s: %s", j->path, what,
			     sqlite3_errmsg(j->db));
}

static int exec(struct ferry_journal *j, const char *sql, struct ferry_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(j->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		ferry_err_set(err, FERRY_E_IO, "journal %s: %s", j->path,
			      msg ? msg : sqlite3_errmsg(j->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static void now_text(char out[40])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct ferry_time t = {(int64_t)ts.tv_sec, 0, 0};
	ferry_time_format(&t, out, 40);
}

int ferry_journal_open(struct ferry_journal **out, const char *path, struct ferry_err *err)
{
	struct ferry_journal *j = ferry_xcalloc(1, sizeof *j);
	sqlite3_stmt *st = NULL;
	int version = 0;

	j->path = ferry_xstrdup(path);
	if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		db_fail(j, err, "open");
		ferry_journal_close(j);
		return -1;
	}
	sqlite3_busy_timeout(j->db, BUSY_TIMEOUT_MS);
	/* WAL, and every commit on disk before it returns: a transition is
	 * durable before the action it announces */
	if (exec(j, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
		 err) ||
	    exec(j, "BEGIN IMMEDIATE;", err))
		goto fail;
	if (exec(j, schema_sql, err))
		goto fail_tx;
	if (sqlite3_prepare_v2(j->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st,
			       NULL) != SQLITE_OK) {
		db_fail(j, err, "schema");
		goto fail_tx;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = atoi((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (version > SCHEMA_VERSION) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED,
			      "journal %s: schema version %d is newer than this ferry knows (%d)",
			      path, version, SCHEMA_VERSION);
		goto fail_tx;
	}
	if (!version && exec(j, "INSERT INTO meta(key, value) VALUES('schema', '1');", err))
		goto fail_tx;
	if (exec(j, "COMMIT;", err))
		goto fail;
	*out = j;
	return 0;
fail_tx:
	exec(j, "ROLLBACK;", NULL);
fail:
	ferry_journal_close(j);
	return -1;
}

void ferry_journal_close(struct ferry_journal *j)
{
	if (!j)
		return;
	sqlite3_close(j->db);
	free(j->path);
	free(j);
}

int ferry_journal_begin(struct ferry_journal *j, struct ferry_err *err)
{
	return exec(j, "BEGIN IMMEDIATE;", err);
}

int ferry_journal_commit(struct ferry_journal *j, struct ferry_err *err)
{
	return exec(j, "COMMIT;", err);
}

void ferry_journal_rollback(struct ferry_journal *j)
{
	exec(j, "ROLLBACK;", NULL);
}

uint64_t ferry_journal_writes(struct ferry_journal *j)
{
	return (uint64_t)sqlite3_total_changes64(j->db);
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	snprintf(dst, n, "%s", s ? (const char *)s : "");
}

static int prepare(struct ferry_journal *j, const char *sql, sqlite3_stmt **st,
		   struct ferry_err *err)
{
	if (sqlite3_prepare_v2(j->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(j, err, "prepare");
	return 0;
}

static void bind_key(sqlite3_stmt *st, const struct ferry_jkey *k, int first)
{
	sqlite3_bind_text(st, first, k->plan, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, first + 1, k->migration, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, first + 2, k->vm_id, -1, SQLITE_STATIC);
}

int ferry_journal_vm(struct ferry_journal *j, const struct ferry_jkey *k, struct ferry_jvm *vm,
		     bool *found, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(vm, 0, sizeof *vm);
	*found = false;
	if (prepare(j,
		    "SELECT vm_name, phase, started, ended, error, seq FROM vm "
		    "WHERE plan = ?1 AND migration = ?2 AND vm_id = ?3",
		    &st, err))
		return -1;
	bind_key(st, k, 1);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_col(vm->vm_name, sizeof vm->vm_name, st, 0);
		copy_col(vm->phase, sizeof vm->phase, st, 1);
		copy_col(vm->started, sizeof vm->started, st, 2);
		copy_col(vm->ended, sizeof vm->ended, st, 3);
		copy_col(vm->error, sizeof vm->error, st, 4);
		vm->seq = sqlite3_column_int64(st, 5);
		*found = true;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(j, err, "reading a VM");
	return 0;
}

/* step a prepared statement that returns no rows, then finalize it */
static int run(struct ferry_journal *j, sqlite3_stmt *st, const char *what, struct ferry_err *err)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(j, err, what);
	return 0;
}

int ferry_journal_transition(struct ferry_journal *j, const struct ferry_jkey *k,
			     const char *vm_name, const char *to, const char *op_id,
			     const char *detail, const char *error, int64_t *seq,
			     struct ferry_err *err)
{
	struct ferry_jvm cur;
	sqlite3_stmt *st;
	char now[40];
	bool found;
	int64_t s;

	now_text(now);
	if (exec(j, "SAVEPOINT transition;", err))
		return -1;
	if (ferry_journal_vm(j, k, &cur, &found, err))
		goto fail;
	if (prepare(j,
		    "INSERT INTO transition(plan, migration, vm_id, from_phase, to_phase, op_id, "
		    "at, detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		    &st, err))
		goto fail;
	bind_key(st, k, 1);
	sqlite3_bind_text(st, 4, found ? cur.phase : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, op_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, detail, -1, SQLITE_STATIC);
	if (run(j, st, "recording a transition", err))
		goto fail;
	s = sqlite3_last_insert_rowid(j->db);
	if (prepare(j,
		    "INSERT INTO vm(plan, migration, vm_id, vm_name, phase, started, ended, error, "
		    "seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
		    "ON CONFLICT(plan, migration, vm_id) DO UPDATE SET vm_name = excluded.vm_name, "
		    "phase = excluded.phase, ended = excluded.ended, "
		    "error = CASE WHEN excluded.error != '' THEN excluded.error ELSE vm.error END, "
		    "seq = excluded.seq",
		    &st, err))
		goto fail;
	bind_key(st, k, 1);
	sqlite3_bind_text(st, 4, vm_name ? vm_name : (found ? cur.vm_name : k->vm_id), -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, ferry_phase_is_final(to) ? now : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, error ? error : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, s);
	if (run(j, st, "updating a VM", err))
		goto fail;
	if (exec(j, "RELEASE transition;", err))
		goto fail;
	if (seq)
		*seq = s;
	return 0;
fail:
	exec(j, "ROLLBACK TO transition; RELEASE transition;", NULL);
	return -1;
}

void ferry_journal_op_id(const struct ferry_jkey *k, const char *kind, unsigned attempt,
			 char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	char buf[64];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	const char *parts[] = {k->plan, k->migration, k->vm_id, kind};

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
		EVP_DigestUpdate(c, parts[i], strlen(parts[i]) + 1); /* the NUL separates */
	snprintf(buf, sizeof buf, "%u", attempt);
	EVP_DigestUpdate(c, buf, strlen(buf));
	EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	memcpy(out, "ferry-", 6);
	for (unsigned i = 0; i < 8; i++)
		snprintf(out + 6 + 2 * i, 3, "%02x", md[i]);
}

static enum ferry_op_state state_of(const char *s)
{
	if (!strcmp(s, "started"))
		return FERRY_OP_STARTED;
	if (!strcmp(s, "done"))
		return FERRY_OP_DONE;
	if (!strcmp(s, "failed"))
		return FERRY_OP_FAILED;
	return FERRY_OP_NONE;
}

int ferry_journal_op(struct ferry_journal *j, const char *op_id, struct ferry_jop *op,
		     struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(op, 0, sizeof *op);
	if (prepare(j, "SELECT state, kind, result FROM op WHERE op_id = ?1", &st, err))
		return -1;
	sqlite3_bind_text(st, 1, op_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		char state[16];
		copy_col(state, sizeof state, st, 0);
		op->state = state_of(state);
		copy_col(op->kind, sizeof op->kind, st, 1);
		copy_col(op->result, sizeof op->result, st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(j, err, "reading an operation");
	return 0;
}

/* A time the journal wrote (now_text), as seconds; 0 when empty. */
static int64_t time_col(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	struct ferry_time t;

	return s && *s && !ferry_time_parse((const char *)s, &t, NULL) ? t.sec : 0;
}

int ferry_journal_op_detail(struct ferry_journal *j, const char *op_id, char **result,
			    int64_t *started, int64_t *ended, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*result = NULL;
	if (prepare(j, "SELECT result, started, ended FROM op WHERE op_id = ?1", &st, err))
		return -1;
	sqlite3_bind_text(st, 1, op_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *r = sqlite3_column_text(st, 0);

		*result = ferry_xstrdup(r ? (const char *)r : "");
		if (started)
			*started = time_col(st, 1);
		if (ended)
			*ended = time_col(st, 2);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return ferry_err_set(err, FERRY_E_NOT_FOUND, "journal %s: no operation %s", j->path,
				     op_id);
	if (rc != SQLITE_ROW)
		return db_fail(j, err, "reading an operation");
	return 0;
}

int ferry_journal_op_begin(struct ferry_journal *j, const struct ferry_jkey *k, const char *op_id,
			   const char *kind, struct ferry_jop *prior, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char now[40];

	if (ferry_journal_op(j, op_id, prior, err))
		return -1;
	if (prior->state != FERRY_OP_NONE)
		return 0;
	now_text(now);
	if (prepare(j,
		    "INSERT INTO op(op_id, plan, migration, vm_id, kind, state, started) "
		    "VALUES(?4, ?1, ?2, ?3, ?5, 'started', ?6)",
		    &st, err))
		return -1;
	bind_key(st, k, 1);
	sqlite3_bind_text(st, 4, op_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
	return run(j, st, "recording an operation", err);
}

int ferry_journal_op_end(struct ferry_journal *j, const char *op_id, bool ok, const char *result,
			 struct ferry_err *err)
{
	sqlite3_stmt *st;
	char now[40];

	now_text(now);
	if (prepare(j, "UPDATE op SET state = ?2, result = ?3, ended = ?4 WHERE op_id = ?1", &st,
		    err))
		return -1;
	sqlite3_bind_text(st, 1, op_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ok ? "done" : "failed", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, result ? result : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
	if (run(j, st, "finishing an operation", err))
		return -1;
	if (sqlite3_changes(j->db) != 1)
		return ferry_err_set(err, FERRY_E_NOT_FOUND, "journal %s: no operation %s", j->path,
				     op_id);
	return 0;
}

int ferry_journal_each_vm(struct ferry_journal *j, const char *plan, const char *migration,
			  int (*fn)(const struct ferry_jkey *k, const struct ferry_jvm *vm,
				    void *arg),
			  void *arg, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(j,
		    "SELECT plan, migration, vm_id, vm_name, phase, started, ended, error, seq "
		    "FROM vm WHERE plan = ?1 AND (?2 IS NULL OR migration = ?2) "
		    "ORDER BY migration, vm_id",
		    &st, err))
		return -1;
	sqlite3_bind_text(st, 1, plan, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, migration, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ferry_jkey k = {(const char *)sqlite3_column_text(st, 0),
				       (const char *)sqlite3_column_text(st, 1),
				       (const char *)sqlite3_column_text(st, 2)};
		struct ferry_jvm vm;
		copy_col(vm.vm_name, sizeof vm.vm_name, st, 3);
		copy_col(vm.phase, sizeof vm.phase, st, 4);
		copy_col(vm.started, sizeof vm.started, st, 5);
		copy_col(vm.ended, sizeof vm.ended, st, 6);
		copy_col(vm.error, sizeof vm.error, st, 7);
		vm.seq = sqlite3_column_int64(st, 8);
		if (fn(&k, &vm, arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(j, err, "listing VMs");
	return 0;
}

int ferry_journal_each_op(struct ferry_journal *j, const char *plan,
			  int (*fn)(const struct ferry_jkey *k, const char *kind,
				    const struct ferry_jop *op, void *arg),
			  void *arg, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(j,
		    "SELECT plan, migration, vm_id, kind, state, result FROM op "
		    "WHERE plan = ?1 ORDER BY migration, vm_id",
		    &st, err))
		return -1;
	sqlite3_bind_text(st, 1, plan, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ferry_jkey k = {(const char *)sqlite3_column_text(st, 0),
				       (const char *)sqlite3_column_text(st, 1),
				       (const char *)sqlite3_column_text(st, 2)};
		struct ferry_jop op;

		copy_col(op.kind, sizeof op.kind, st, 3);
		copy_col(op.result, sizeof op.result, st, 5);
		op.state = state_of((const char *)sqlite3_column_text(st, 4));
		if (fn(&k, op.kind, &op, arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(j, err, "listing operations");
	return 0;
}

int ferry_journal_each_open_op(struct ferry_journal *j,
			       int (*fn)(const struct ferry_jkey *k, const char *op_id,
					 const char *kind, void *arg),
			       void *arg, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(j,
		    "SELECT plan, migration, vm_id, op_id, kind FROM op WHERE state = 'started' "
		    "ORDER BY started, op_id",
		    &st, err))
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ferry_jkey k = {(const char *)sqlite3_column_text(st, 0),
				       (const char *)sqlite3_column_text(st, 1),
				       (const char *)sqlite3_column_text(st, 2)};
		if (fn(&k, (const char *)sqlite3_column_text(st, 3),
		       (const char *)sqlite3_column_text(st, 4), arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(j, err, "listing operations");
	return 0;
}
