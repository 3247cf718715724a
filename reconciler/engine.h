/* The reconcile engine: one pass = Git sync -> desired state at the commit
 * in force -> observe (source inventories, the target, the journal) ->
 * diff -> act -> status.
 *
 * Acting drives each VM through its itinerary: a phase's handler either
 * finishes (the VM moves on, in the same pass), waits (a disk copy runs as
 * a `ferry copy` child process; its progress arrives on a pipe) or fails.
 * Every transition is committed to the journal before the action it leads
 * to; copies resume from checkpoints; creating a target object is
 * idempotent. A process killed at any instant therefore resumes where the
 * journal says, without repeating a finished copy or creating a second VM.
 */
#ifndef FERRY_RECONCILER_ENGINE_H
#define FERRY_RECONCILER_ENGINE_H

#include "common/err.h"
#include "reconciler/config.h"
#include "reconciler/diff.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ferry_engine;
struct ferry_metrics;

enum ferry_engine_mode {
	FERRY_ENGINE_ACT,     /* reconcile: takes DATA_DIR/lock, acts, writes status */
	FERRY_ENGINE_PREVIEW, /* diff: reads the journal, changes nothing */
};

struct ferry_engine_opts {
	const struct ferry_config *cfg;
	enum ferry_engine_mode mode;
	const char *ferry_path;	       /* the binary workers run; NULL: this one */
	volatile sig_atomic_t *stop;   /* set by a signal: finish the step, stop */
	struct ferry_metrics *metrics; /* or NULL */
	bool verbose;		       /* print each transition on stdout */
};

int ferry_engine_open(struct ferry_engine **out, const struct ferry_engine_opts *o,
		      struct ferry_err *err);

/* Stops running workers (they leave checkpoints) and the disk servers. */
void ferry_engine_close(struct ferry_engine *e);

struct ferry_pass_stats {
	bool moved;	  /* some VM changed phase, or a worker finished */
	size_t workers;	  /* copies running after the pass */
	size_t active;	  /* VMs in a non-final phase */
	size_t waiting;	  /* VMs that wait for their host's budget */
	size_t failed;	  /* VMs that are Failed (in the runs in force) */
	size_t completed; /* ... Completed */
	size_t canceled;  /* ... Canceled */
	size_t blocked;	  /* VMs that cannot start */
	bool in_force;	  /* a commit is in force */
};

/* One pass (force: sync even if the branch did not move). */
int ferry_engine_pass(struct ferry_engine *e, bool force, struct ferry_pass_stats *st,
		      struct ferry_err *err);

/* Wait up to timeout_ms for worker progress or exit, or for extra_fd (-1:
 * none) to become readable. Returns FERRY_WAIT_FD when extra_fd is
 * readable, FERRY_WAIT_WORKER when a worker finished (a pass should run
 * now), both, or 0. Copies the target runs itself (a KubeVirt Job) are
 * followed by passes: while one runs, the wait ends with FERRY_WAIT_WORKER
 * once two seconds have passed since the last pass began. */
enum { FERRY_WAIT_FD = 1, FERRY_WAIT_WORKER = 2 };
int ferry_engine_wait(struct ferry_engine *e, int timeout_ms, int extra_fd);

/* Write the status commits still pending (the end of `reconcile --once`,
 * or a daemon stopping). */
int ferry_engine_flush_status(struct ferry_engine *e, struct ferry_err *err);

/* The actions a pass would take for the desired state in m (already
 * validated), against the journal and the providers, rendered as text or
 * JSON (*out, caller frees); nothing is done. */
int ferry_engine_preview(struct ferry_engine *e, const struct ferry_model *m, bool json, char **out,
			 struct ferry_err *err);

/* The commit in force after the last pass ("" before any). */
const char *ferry_engine_in_force(const struct ferry_engine *e);

#endif
