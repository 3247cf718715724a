/* The journal: what ferry has done, in SQLite (WAL) in the data directory.
 *
 * Every phase transition of a VM is committed (synchronous=FULL) before the
 * action it leads to, together with the id of the operation that action
 * uses. A daemon killed at any instant finds, on restart, each VM in the
 * phase it last committed and each operation it started but did not see
 * finish; it then asks the provider (an operation id is deterministic, so
 * a snapshot or a VM created under it can be found) instead of repeating
 * the action blindly.
 *
 * Tables (schema version 1):
 *   vm(plan, migration, vm_id, vm_name, phase, started, ended, error, seq)
 *     one row per VM per Migration: its current phase
 *   transition(seq, plan, migration, vm_id, from_phase, to_phase, op_id,
 *              at, detail)
 *     append-only history, the audit trail status commits are made from
 *   op(op_id, plan, migration, vm_id, kind, state, result, started, ended)
 *     operations keyed by id: state started, done or failed
 */
#ifndef FERRY_RECONCILER_JOURNAL_H
#define FERRY_RECONCILER_JOURNAL_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ferry_journal;

int ferry_journal_open(struct ferry_journal **out, const char *path, struct ferry_err *err);
void ferry_journal_close(struct ferry_journal *j);

/* Group several calls into one transaction (optional: each call below is
 * atomic on its own). */
int ferry_journal_begin(struct ferry_journal *j, struct ferry_err *err);
int ferry_journal_commit(struct ferry_journal *j, struct ferry_err *err);
void ferry_journal_rollback(struct ferry_journal *j);

/* Rows written through this handle so far (committed or not): a caller
 * that notes it before a step knows whether the step wrote anything. */
uint64_t ferry_journal_writes(struct ferry_journal *j);

/* Which VM of which run: plan is "namespace/name", migration the name of
 * the Migration object that started the run. */
struct ferry_jkey {
	const char *plan, *migration, *vm_id;
};

#define FERRY_JOURNAL_TEXT 256

struct ferry_jvm {
	char vm_name[FERRY_JOURNAL_TEXT];
	char phase[64];
	char started[40], ended[40]; /* RFC 3339, "" when not yet */
	char error[FERRY_JOURNAL_TEXT];
	int64_t seq; /* of its last transition */
};

/* The VM's row; *found false when the journal has none. */
int ferry_journal_vm(struct ferry_journal *j, const struct ferry_jkey *k, struct ferry_jvm *vm,
		     bool *found, struct ferry_err *err);

/* Move the VM to phase to (creating its row at the first transition), in
 * one transaction with its history row. op_id may be NULL; error, when not
 * NULL, is recorded as the VM's error. Returns the transition's seq in
 * *seq when seq is not NULL. "Completed", "Failed" and "Canceled" also set
 * the VM's end time; the first transition sets its start time. */
int ferry_journal_transition(struct ferry_journal *j, const struct ferry_jkey *k,
			     const char *vm_name, const char *to, const char *op_id,
			     const char *detail, const char *error, int64_t *seq,
			     struct ferry_err *err);

enum ferry_op_state { FERRY_OP_NONE, FERRY_OP_STARTED, FERRY_OP_DONE, FERRY_OP_FAILED };

struct ferry_jop {
	enum ferry_op_state state;
	char kind[64];
	char result[FERRY_JOURNAL_TEXT];
};

/* A deterministic operation id: "ferry-" and 16 hex digits of
 * SHA-256(plan, migration, vm_id, kind, attempt). Providers name what they
 * create with it (a snapshot, a volume) so it can be found after a crash. */
void ferry_journal_op_id(const struct ferry_jkey *k, const char *kind, unsigned attempt,
			 char out[32]);

/* Record that an operation starts. If it is already known, nothing changes
 * and *prior says its state (so a restarted daemon sees it was begun). */
int ferry_journal_op_begin(struct ferry_journal *j, const struct ferry_jkey *k, const char *op_id,
			   const char *kind, struct ferry_jop *prior, struct ferry_err *err);
int ferry_journal_op_end(struct ferry_journal *j, const char *op_id, bool ok, const char *result,
			 struct ferry_err *err);
int ferry_journal_op(struct ferry_journal *j, const char *op_id, struct ferry_jop *op,
		     struct ferry_err *err);
/* The whole result of operation op_id (struct ferry_jop's result keeps only
 * its first FERRY_JOURNAL_TEXT - 1 bytes; a snapshot's result holds every
 * disk's change id) and when the operation began and ended (seconds since
 * the epoch; ended is 0 while it runs). FERRY_E_NOT_FOUND when there is no
 * such operation. Caller frees *result. */
int ferry_journal_op_detail(struct ferry_journal *j, const char *op_id, char **result,
			    int64_t *started, int64_t *ended, struct ferry_err *err);

/* Every VM row of a plan (all runs when migration is NULL), in vm_id
 * order; fn returns non-zero to stop. */
int ferry_journal_each_vm(struct ferry_journal *j, const char *plan, const char *migration,
			  int (*fn)(const struct ferry_jkey *k, const struct ferry_jvm *vm,
				    void *arg),
			  void *arg, struct ferry_err *err);

/* Every operation of a plan, in (migration, vm_id) order, the order of
 * ferry_journal_each_vm: one query instead of one per VM. fn returns
 * non-zero to stop. */
int ferry_journal_each_op(struct ferry_journal *j, const char *plan,
			  int (*fn)(const struct ferry_jkey *k, const char *kind,
				    const struct ferry_jop *op, void *arg),
			  void *arg, struct ferry_err *err);

/* Operations still in state started (after a crash), oldest first. */
int ferry_journal_each_open_op(struct ferry_journal *j,
			       int (*fn)(const struct ferry_jkey *k, const char *op_id,
					 const char *kind, void *arg),
			       void *arg, struct ferry_err *err);

#endif
