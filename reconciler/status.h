/* Status commits: when to make one, and what its message says.
 *
 * Batching: at most one status commit per status_interval, plus one right
 * away whenever a plan's phase changes, so a burst of progress updates
 * (bytes copied) becomes one commit while every phase change is its own.
 * Pure: the caller passes the clock, so the rules are unit-tested.
 */
#ifndef FERRY_RECONCILER_STATUS_H
#define FERRY_RECONCILER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ferry_status_batch {
	uint64_t interval_ms;
	uint64_t last_commit_ms; /* when the last status commit was made */
	bool committed_once;
	bool pending; /* changes not committed yet */
	bool urgent;  /* among them, a plan phase change */
};

void ferry_status_batch_init(struct ferry_status_batch *b, uint64_t interval_ms);

/* Something in the status changed; phase_change when a plan's phase did. */
void ferry_status_batch_note(struct ferry_status_batch *b, bool phase_change);

/* Should a commit be made at now_ms? If not and something is pending,
 * *wait_ms says how long until it should (0 when nothing is pending). */
bool ferry_status_batch_due(const struct ferry_status_batch *b, uint64_t now_ms, uint64_t *wait_ms);

/* A commit was made at now_ms with everything pending. */
void ferry_status_batch_committed(struct ferry_status_batch *b, uint64_t now_ms);

/* One VM's change since the last status commit. */
struct ferry_status_change {
	const char *vm;	  /* VM name */
	const char *from; /* "CopyDisks 40%", or NULL for a VM new in the plan */
	const char *to;	  /* "Completed" */
};

struct ferry_status_message {
	const char *ns, *plan;
	const char *source_commit; /* sha of the desired-state commit acted on */
	const char *phase;	   /* the plan's phase after the change */
	const struct ferry_status_change *changes;
	size_t nchanges;
};

/* The commit message: one subject line saying what changed
 * ("ferry: wave-1: vm-431 CopyDisks 40% -> Completed", further changes as
 * "+N more" once the line would pass 100 characters), a body listing every
 * change when there is more than one, and the trailers Ferry-Plan,
 * Ferry-Source-Commit and Ferry-Phase. Caller frees. */
char *ferry_status_message(const struct ferry_status_message *m);

/* One message for the status of n plans changed at once (one commit for a
 * pass that moved many plans): n == 1 is ferry_status_message. Otherwise
 * the subject names the plans ("ferry: 3 plans: wave-1 Running, wave-2
 * Running, +1 more", cut as above), the body has a paragraph per plan
 * ("wave-1: Running" and its changes), and the trailers come in pairs,
 * each plan's Ferry-Plan followed by its Ferry-Phase, then one
 * Ferry-Source-Commit (every m[i].source_commit is the same). Caller
 * frees. */
char *ferry_status_message_plans(const struct ferry_status_message *m, size_t n);

#endif
