/* Gates: which commits of the watched branch may act.
 *
 * A gate comes from ferry.ini's [gate] section or from a Policy document's
 * spec.gates. The commit being acted on must pass every gate in force: the
 * configuration's, those of the Policies in the commit ferry acts on now
 * (so removing a Policy needs that Policy's approval) and those of the
 * candidate commit itself (so adding one takes effect at once).
 */
#ifndef FERRY_RECONCILER_GATE_H
#define FERRY_RECONCILER_GATE_H

#include "common/err.h"
#include "reconciler/config.h"
#include "reconciler/gitsync.h"
#include "schema/model.h"

#include <stdbool.h>
#include <stddef.h>

struct ferry_gate {
	char *source; /* "ferry.ini", "Policy ns/name at 1a2b3c4d" */
	enum ferry_sig_require signature;
	char *allowed_signers; /* SSH allowed-signers text, or NULL */
	char *openpgp_keys;    /* armored OpenPGP public keys, or NULL */
	unsigned approvals;    /* required approvals, 0 = none */
	char **approvers;
	size_t napprovers;
	char **trailers; /* NULL: Approved-by, Reviewed-by */
	size_t ntrailers;
};

struct ferry_gates {
	struct ferry_gate *items;
	size_t len, cap;
};

/* Add the [gate] of c (reading its key files); nothing when it asks for
 * nothing. */
int ferry_gates_add_config(struct ferry_gates *g, const struct ferry_config *c,
			   struct ferry_err *err);

/* Add the spec.gates of every Policy in m; commit names where they came from. */
void ferry_gates_add_model(struct ferry_gates *g, const struct ferry_model *m, const char *commit);

void ferry_gates_release(struct ferry_gates *g);

struct ferry_gate_verdict {
	bool passed;
	char gate[16];	    /* the first gate that failed: "signature" or "approvals" */
	char source[128];   /* whose gate that was */
	char reason[512];   /* why, one line */
	char signer[400];   /* who signed, when a signature was checked and good */
	unsigned approvals; /* distinct listed approvers counted (max over gates) */
};

/* Approvals of a commit message under gate: distinct listed approvers named
 * in the gate's trailers, the commit's author excluded (nobody approves their
 * own change). Pure. */
unsigned ferry_gate_count_approvals(const struct ferry_gate *gate, const char *message,
				    const char *author_email);

/* Check commit ci against every gate. gpg_home is a private directory for
 * gpgme. Returns -1 only on internal errors; the verdict says the rest. */
int ferry_gate_check(const struct ferry_gates *g, const struct ferry_git_commit_info *ci,
		     const char *gpg_home, struct ferry_gate_verdict *v, struct ferry_err *err);

#endif
