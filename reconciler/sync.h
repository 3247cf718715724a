/* One pass of the Git side of a reconcile: bring the watched branch up to
 * date (no fetch when it has not moved), find the commit to act on, check
 * it against the gates, load and validate its desired state, decide which
 * commit is in force, and write status/repository.yaml back.
 *
 * The commit in force is remembered in DATA_DIR/state/git: a commit that
 * fails a gate or validation is never acted on and the previous one stays
 * in force.
 */
#ifndef FERRY_RECONCILER_SYNC_H
#define FERRY_RECONCILER_SYNC_H

#include "reconciler/config.h"
#include "reconciler/gate.h"
#include "reconciler/gitsync.h"
#include "schema/finding.h"
#include "schema/model.h"

/* Open the repository cache of c (DATA_DIR/repo.git) with the credentials
 * of [repository] credentials. */
int ferry_git_open_config(struct ferry_git **g, const struct ferry_config *c,
			  struct ferry_err *err);

/* The same for a caller that holds DATA_DIR/lock (ferry_data_dir_lock):
 * lock files left in the cache by a killed process are removed first. */
int ferry_git_open_config_locked(struct ferry_git **g, const struct ferry_config *c,
				 struct ferry_err *err);

/* The branch status commits go to. */
const char *ferry_status_branch(const struct ferry_config *c);

enum ferry_sync_outcome {
	FERRY_SYNC_UNCHANGED, /* the branch had not moved since the last pass */
	FERRY_SYNC_ACCEPTED,  /* the acting commit passed the gates and validation */
	FERRY_SYNC_REFUSED,   /* it failed a gate */
	FERRY_SYNC_INVALID,   /* it passed the gates, but has blocking findings */
};

struct ferry_sync_result {
	enum ferry_sync_outcome outcome;
	enum ferry_sync_outcome last; /* when UNCHANGED: what the last full pass found */
	struct ferry_git_sync fetch;
	char acting[FERRY_SHA_HEX];   /* newest commit that changes more than status/ */
	char in_force[FERRY_SHA_HEX]; /* the commit ferry acts on after this pass */
	struct ferry_gate_verdict verdict;
	size_t critical, errors, warnings;
	struct ferry_status_push push;
	char *subject, *author; /* of the acting commit */
	double seconds_fetch, seconds_push, seconds_total;
};

/* With force, run the whole pass even when the branch has not moved. One
 * pass at a time per data directory: a second process gets FERRY_E_CONFLICT. */
int ferry_sync_once(const struct ferry_config *c, struct ferry_git *g, bool force,
		    struct ferry_sync_result *r, struct ferry_err *err);

/* The same pass for a caller that holds the data directory's lock. */
int ferry_sync_pass(const struct ferry_config *c, struct ferry_git *g, bool force,
		    struct ferry_sync_result *r, struct ferry_err *err);

/* Take DATA_DIR/lock (an flock held until the descriptor is closed or the
 * process ends): one ferry process per data directory. Returns the
 * descriptor, or -1 with FERRY_E_CONFLICT when another process holds it. */
int ferry_data_dir_lock(const struct ferry_config *c, struct ferry_err *err);

/* The commit in force as the last pass left it ("" when none), without
 * touching the network or the repository. */
void ferry_sync_in_force(const struct ferry_config *c, char sha[FERRY_SHA_HEX]);

/* After a successful ferry_sync_once (a failed one leaves nothing to free). */
void ferry_sync_result_release(struct ferry_sync_result *r);

const char *ferry_sync_outcome_name(enum ferry_sync_outcome o);

#endif
