#include "reconciler/sync.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/time.h"
#include "common/util.h"
#include "reconciler/secrets.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATUS_FILE  "status/repository.yaml"
#define MAX_SKIP     10000 /* status-only commits skipped looking for the acting one */
#define MAX_FINDINGS 50	   /* findings listed in the status file */

const char *ferry_status_branch(const struct ferry_config *c)
{
	return c->repo.status_mode == FERRY_STATUS_PATH ? c->repo.branch : c->repo.status_branch;
}

const char *ferry_sync_outcome_name(enum ferry_sync_outcome o)
{
	switch (o) {
	case FERRY_SYNC_UNCHANGED: return "Unchanged";
	case FERRY_SYNC_ACCEPTED: return "Accepted";
	case FERRY_SYNC_REFUSED: return "Refused";
	case FERRY_SYNC_INVALID: return "Invalid";
	}
	return "?";
}

/* nftw callback: remove a lock file; skip the object store. */
static int remove_lock(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (type == FTW_D && !strcmp(path + ftw->base, "objects"))
		return FTW_SKIP_SUBTREE;
	if (type == FTW_F && ferry_ends_with(path, ".lock")) {
		if (unlink(path) && errno != ENOENT)
			ferry_warn("%s: %s", path, strerror(errno));
		else
			ferry_warn("removed %s, left by a ferry process that was killed", path);
	}
	return FTW_CONTINUE;
}

static int open_config(struct ferry_git **g, const struct ferry_config *c, bool locked,
		       struct ferry_err *err);

int ferry_git_open_config(struct ferry_git **g, const struct ferry_config *c, struct ferry_err *err)
{
	return open_config(g, c, false, err);
}

int ferry_git_open_config_locked(struct ferry_git **g, const struct ferry_config *c,
				 struct ferry_err *err)
{
	return open_config(g, c, true, err);
}

static int open_config(struct ferry_git **g, const struct ferry_config *c, bool locked,
		       struct ferry_err *err)
{
	struct ferry_secret_data s = {0};
	struct ferry_git_opts o = {0};
	char *cache;
	int rc;

	if (!c->repo.url)
		return ferry_err_set(err, FERRY_E_INVALID, "%s: [repository] url is not set",
				     c->path ? c->path : "ferry.ini");
	if (ferry_mkdirs(c->daemon.data_dir, 0700))
		return ferry_err_set(err, FERRY_E_IO, "data_dir %s: %s", c->daemon.data_dir,
				     strerror(errno));
	if (c->repo.credentials && ferry_secret_load(&s, c->secrets.dir, c->repo.credentials, err))
		return ferry_err_prefix(err, "[repository] credentials: ");
	cache = ferry_path_join(c->daemon.data_dir, "repo.git");
	/* holding DATA_DIR/lock, no other ferry uses the cache: a lock file
	 * in it is what a killed process left, and would fail every open */
	if (locked && access(cache, F_OK) == 0)
		nftw(cache, remove_lock, 16, FTW_PHYS | FTW_ACTIONRETVAL);
	o.url = c->repo.url;
	o.cache_dir = cache;
	o.username = ferry_secret_get(&s, "username");
	if (!o.username)
		o.username = ferry_secret_get(&s, "user");
	o.password = ferry_secret_get(&s, "password");
	o.token = ferry_secret_get(&s, "token");
	o.bearer_token = ferry_secret_get(&s, "bearerToken");
	o.ssh_key = ferry_secret_get(&s, "identity");
	o.ssh_key_passphrase = ferry_secret_get(&s, "identity_passphrase");
	o.known_hosts = c->repo.known_hosts;
	o.ca_file = c->repo.ca_file;
	o.proxy = c->repo.proxy;
	rc = ferry_git_open(g, &o, err);
	ferry_secret_release(&s);
	free(cache);
	return rc;
}

/* ---- state: what the last pass saw and what is in force --------------- */

struct sync_state {
	char head[FERRY_SHA_HEX];
	char in_force[FERRY_SHA_HEX];
	enum ferry_sync_outcome outcome; /* of the pass that saw head */
};

static char *state_path(const struct ferry_config *c)
{
	return ferry_path_join(c->daemon.data_dir, "state/git");
}

static void state_read(const struct ferry_config *c, struct sync_state *st)
{
	char *path = state_path(c), *data = NULL;
	size_t len;
	memset(st, 0, sizeof *st);
	if (!ferry_read_file(path, 4096, &data, &len)) {
		char *save = NULL;
		for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			if (ferry_starts_with(l, "head ") && strlen(l + 5) == 40)
				memcpy(st->head, l + 5, FERRY_SHA_HEX);
			else if (ferry_starts_with(l, "in-force ") && strlen(l + 9) == 40)
				memcpy(st->in_force, l + 9, FERRY_SHA_HEX);
			else if (ferry_starts_with(l, "outcome "))
				for (int o = FERRY_SYNC_ACCEPTED; o <= FERRY_SYNC_INVALID; o++)
					if (!strcmp(l + 8, ferry_sync_outcome_name(o)))
						st->outcome = (enum ferry_sync_outcome)o;
		}
	}
	free(data);
	free(path);
}

void ferry_sync_in_force(const struct ferry_config *c, char sha[FERRY_SHA_HEX])
{
	struct sync_state st;

	state_read(c, &st);
	memcpy(sha, st.in_force, FERRY_SHA_HEX);
}

static int state_write(const struct ferry_config *c, const struct sync_state *st,
		       struct ferry_err *err)
{
	char *path = state_path(c), *dir = ferry_path_join(c->daemon.data_dir, "state");
	char *text = ferry_xasprintf("head %s\nin-force %s\noutcome %s\n", st->head, st->in_force,
				     ferry_sync_outcome_name(st->outcome));
	int rc = 0;
	if (ferry_mkdirs(dir, 0700) || ferry_write_file_atomic(path, text, strlen(text), 0600))
		rc = ferry_err_set(err, FERRY_E_IO, "writing %s: %s", path, strerror(errno));
	free(text);
	free(dir);
	free(path);
	return rc;
}

/* One pass at a time per data directory: an flock on DATA_DIR/lock, held
 * until the returned descriptor is closed (or the process dies). */
int ferry_data_dir_lock(const struct ferry_config *c, struct ferry_err *err)
{
	char *path = ferry_path_join(c->daemon.data_dir, "lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
	} else if (flock(fd, LOCK_EX | LOCK_NB)) {
		ferry_err_set(err, errno == EWOULDBLOCK ? FERRY_E_CONFLICT : FERRY_E_IO, "%s: %s",
			      path,
			      errno == EWOULDBLOCK ? "another ferry process is using this data "
						     "directory"
						   : strerror(errno));
		close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

/* ---- the status file -------------------------------------------------- */

static char *status_yaml(const struct ferry_config *c, struct ferry_git *g,
			 const struct ferry_sync_result *r, const struct ferry_findings *f)
{
	struct ferry_sb sb;
	size_t shown = 0;

	ferry_sb_init(&sb);
	ferry_sb_adds(&sb, "# Written by ferry: the commit of the watched branch it acts on.\n"
			   "# Do not edit; ferry rewrites this file.\n");
	ferry_sb_adds(&sb, "repository: ");
	ferry_sb_add_quoted(&sb, ferry_git_url(g));
	ferry_sb_adds(&sb, "\nbranch: ");
	ferry_sb_add_quoted(&sb, c->repo.branch);
	ferry_sb_addf(&sb, "\nhead: %s\ninForce: %s\n", r->fetch.head,
		      r->in_force[0] ? r->in_force : "null");
	ferry_sb_addf(&sb, "lastChecked:\n  commit: %s\n  author: ", r->acting);
	ferry_sb_add_quoted(&sb, r->author);
	ferry_sb_adds(&sb, "\n  subject: ");
	ferry_sb_add_quoted(&sb, r->subject);
	ferry_sb_addf(&sb, "\n  outcome: %s\n", ferry_sync_outcome_name(r->outcome));
	ferry_sb_addf(&sb, "  gates:\n    passed: %s\n", r->verdict.passed ? "true" : "false");
	if (!r->verdict.passed) {
		ferry_sb_addf(&sb, "    failed: %s\n    source: ", r->verdict.gate);
		ferry_sb_add_quoted(&sb, r->verdict.source);
		ferry_sb_adds(&sb, "\n    reason: ");
		ferry_sb_add_quoted(&sb, r->verdict.reason);
		ferry_sb_addc(&sb, '\n');
	}
	if (r->verdict.signer[0]) {
		ferry_sb_adds(&sb, "    signedBy: ");
		ferry_sb_add_quoted(&sb, r->verdict.signer);
		ferry_sb_addc(&sb, '\n');
	}
	if (r->verdict.approvals)
		ferry_sb_addf(&sb, "    approvals: %u\n", r->verdict.approvals);
	if (r->outcome == FERRY_SYNC_REFUSED) {
		ferry_sb_adds(&sb, "  validation: null\n");
		return ferry_sb_detach(&sb);
	}
	ferry_sb_addf(&sb, "  validation:\n    critical: %zu\n    errors: %zu\n    warnings: %zu\n",
		      r->critical, r->errors, r->warnings);
	for (size_t i = 0; i < f->len && shown < MAX_FINDINGS; i++) {
		const struct ferry_finding *x = &f->items[i];
		if (x->category != FERRY_CAT_CRITICAL && x->category != FERRY_CAT_ERROR &&
		    x->category != FERRY_CAT_WARNING)
			continue;
		if (!shown++)
			ferry_sb_adds(&sb, "    findings:\n");
		ferry_sb_adds(&sb, "    - at: ");
		if (x->file) {
			char *at = ferry_xasprintf("%s:%d:%d", x->file, x->line, x->col);
			ferry_sb_add_quoted(&sb, at);
			free(at);
		} else {
			ferry_sb_add_quoted(&sb, "");
		}
		ferry_sb_addf(&sb, "\n      category: %s\n      id: %s\n      message: ",
			      ferry_category_name(x->category), x->id);
		ferry_sb_add_quoted(&sb, x->message);
		ferry_sb_addc(&sb, '\n');
	}
	return ferry_sb_detach(&sb);
}

/* The newest commit from head back along first parents that changes
 * something outside status/: ferry's own status commits (status_mode=path)
 * do not change the desired state. */
static int find_acting(struct ferry_git *g, const char *head, char out[FERRY_SHA_HEX],
		       struct ferry_err *err)
{
	memcpy(out, head, FERRY_SHA_HEX);
	for (int i = 0; i < MAX_SKIP; i++) {
		struct ferry_git_commit_info ci;
		bool outside;
		if (ferry_git_changes_outside(g, out, "status/", &outside, err))
			return -1;
		if (outside)
			return 0;
		if (ferry_git_commit_info(g, out, &ci, err))
			return -1;
		if (!ci.first_parent[0]) {
			ferry_git_commit_info_release(&ci);
			return 0;
		}
		memcpy(out, ci.first_parent, FERRY_SHA_HEX);
		ferry_git_commit_info_release(&ci);
	}
	return 0;
}

static char *status_message(const struct ferry_config *c, const struct ferry_sync_result *r)
{
	struct ferry_sb sb;
	ferry_sb_init(&sb);
	ferry_sb_addf(&sb, "ferry: %s@%.12s ", c->repo.branch, r->acting);
	switch (r->outcome) {
	case FERRY_SYNC_ACCEPTED: ferry_sb_adds(&sb, "accepted"); break;
	case FERRY_SYNC_REFUSED:
		ferry_sb_addf(&sb, "refused by the %s gate", r->verdict.gate);
		break;
	case FERRY_SYNC_INVALID:
		ferry_sb_addf(&sb, "refused: %zu critical, %zu errors", r->critical, r->errors);
		break;
	case FERRY_SYNC_UNCHANGED: ferry_sb_adds(&sb, "unchanged"); break;
	}
	if (r->outcome != FERRY_SYNC_ACCEPTED && r->in_force[0])
		ferry_sb_addf(&sb, "; %.12s stays in force", r->in_force);
	ferry_sb_adds(&sb, "\n\n");
	if (r->outcome == FERRY_SYNC_REFUSED)
		ferry_sb_addf(&sb, "%s: %s\n\n", r->verdict.source, r->verdict.reason);
	ferry_sb_addf(&sb, "Ferry-Source-Commit: %s\nFerry-Phase: %s\n", r->acting,
		      ferry_sync_outcome_name(r->outcome));
	return ferry_sb_detach(&sb);
}

int ferry_sync_once(const struct ferry_config *c, struct ferry_git *g, bool force,
		    struct ferry_sync_result *r, struct ferry_err *err)
{
	int lock, rc;

	memset(r, 0, sizeof *r);
	if ((lock = ferry_data_dir_lock(c, err)) < 0)
		return -1;
	rc = ferry_sync_pass(c, g, force, r, err);
	close(lock);
	return rc;
}

int ferry_sync_pass(const struct ferry_config *c, struct ferry_git *g, bool force,
		    struct ferry_sync_result *r, struct ferry_err *err)
{
	struct sync_state st;
	struct ferry_model m = FERRY_MODEL_INIT, prev = FERRY_MODEL_INIT;
	struct ferry_findings f = FERRY_FINDINGS_INIT, pf = FERRY_FINDINGS_INIT;
	struct ferry_gates gates = {0};
	struct ferry_git_commit_info ci = {0};
	char *yaml = NULL, *msg = NULL, *gpg_home = NULL;
	double t0 = ferry_monotonic();
	int rc = -1;

	memset(r, 0, sizeof *r);
	state_read(c, &st);
	if (ferry_git_sync(g, c->repo.branch,
			   c->repo.status_mode == FERRY_STATUS_BRANCH ? c->repo.status_branch
								      : NULL,
			   &r->fetch, err))
		goto out;
	r->seconds_fetch = ferry_monotonic() - t0;
	memcpy(r->in_force, st.in_force, FERRY_SHA_HEX);
	if (!force && !strcmp(st.head, r->fetch.head)) {
		r->outcome = FERRY_SYNC_UNCHANGED;
		r->last = st.outcome;
		rc = 0;
		goto out;
	}
	if (find_acting(g, r->fetch.head, r->acting, err) ||
	    ferry_git_commit_info(g, r->acting, &ci, err))
		goto out;
	r->subject = ferry_xstrdup(ci.subject);
	r->author = ferry_xstrdup(ci.author);

	/* gates: the configuration's, the Policies in force, the candidate's own */
	if (ferry_git_load_tree(g, r->acting, c->repo.root, &m, &f, err) ||
	    ferry_gates_add_config(&gates, c, err))
		goto out;
	if (st.in_force[0] && strcmp(st.in_force, r->acting)) {
		if (ferry_git_load_tree(g, st.in_force, c->repo.root, &prev, &pf, NULL))
			ferry_warn("the commit in force %.12s can no longer be read; its "
				   "Policies are not applied",
				   st.in_force);
		ferry_gates_add_model(&gates, &prev, st.in_force);
	}
	ferry_gates_add_model(&gates, &m, r->acting);
	gpg_home = ferry_path_join(c->daemon.data_dir, "gnupg");
	if (ferry_gate_check(&gates, &ci, gpg_home, &r->verdict, err))
		goto out;

	ferry_model_validate(&m, &f);
	ferry_findings_sort(&f);
	r->critical = ferry_findings_count(&f, FERRY_CAT_CRITICAL);
	r->errors = ferry_findings_count(&f, FERRY_CAT_ERROR);
	r->warnings = ferry_findings_count(&f, FERRY_CAT_WARNING);
	if (!r->verdict.passed)
		r->outcome = FERRY_SYNC_REFUSED;
	else if (ferry_findings_blocking(&f))
		r->outcome = FERRY_SYNC_INVALID;
	else
		r->outcome = FERRY_SYNC_ACCEPTED;
	if (r->outcome == FERRY_SYNC_ACCEPTED)
		memcpy(r->in_force, r->acting, FERRY_SHA_HEX);

	/* report, then remember: a crash in between only repeats the report */
	yaml = status_yaml(c, g, r, &f);
	msg = status_message(c, r);
	struct ferry_status_file file = {STATUS_FILE, yaml, strlen(yaml)};
	struct ferry_status_commit sc = {
		.branch = ferry_status_branch(c),
		.files = &file,
		.nfiles = 1,
		.message = msg,
		.committer_name = c->repo.committer_name,
		.committer_email = c->repo.committer_email,
	};
	double tp = ferry_monotonic();
	int push_rc = ferry_git_commit_status(g, &sc, &r->push, err);
	r->seconds_push = ferry_monotonic() - tp;
	if (push_rc)
		goto out;
	memcpy(st.in_force, r->in_force, FERRY_SHA_HEX);
	st.outcome = r->outcome;
	memcpy(st.head, r->fetch.head, FERRY_SHA_HEX);
	if (c->repo.status_mode == FERRY_STATUS_PATH && r->push.committed) {
		/* our own push moved the watched branch: count that head as
		 * seen, unless the push landed on top of someone else's new
		 * commit, which the next pass must look at */
		struct ferry_git_commit_info pushed;
		if (!ferry_git_commit_info(g, r->push.sha, &pushed, NULL)) {
			if (!strcmp(pushed.first_parent, r->fetch.head))
				memcpy(st.head, r->push.sha, FERRY_SHA_HEX);
			ferry_git_commit_info_release(&pushed);
		}
	}
	if (state_write(c, &st, err))
		goto out;
	rc = 0;
out:
	r->seconds_total = ferry_monotonic() - t0;
	if (rc)
		ferry_sync_result_release(r); /* a failed pass returns nothing to free */
	free(yaml);
	free(msg);
	free(gpg_home);
	ferry_git_commit_info_release(&ci);
	ferry_gates_release(&gates);
	ferry_findings_release(&f);
	ferry_findings_release(&pf);
	ferry_model_release(&m);
	ferry_model_release(&prev);
	return rc;
}

void ferry_sync_result_release(struct ferry_sync_result *r)
{
	free(r->subject);
	free(r->author);
	r->subject = r->author = NULL;
}
