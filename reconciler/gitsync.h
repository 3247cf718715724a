/* Git as the source of truth (libgit2): a bare cache of the watched
 * repository in the data directory, a cheap "has the branch moved?" check
 * before each fetch, desired state read straight from a commit's tree, and
 * status commits built without a working tree and pushed with
 * fetch-rebase-retry.
 *
 * libgit2 objects stay inside gitsync.c; callers see shas (40 hex chars)
 * and ferry structs. Nothing here prints a credential: URLs are redacted
 * and libgit2's messages are scrubbed of every secret value before they
 * reach a struct ferry_err.
 */
#ifndef FERRY_RECONCILER_GITSYNC_H
#define FERRY_RECONCILER_GITSYNC_H

#include "common/err.h"
#include "schema/finding.h"
#include "schema/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define FERRY_SHA_HEX 41 /* 40 hex digits and a NUL */

struct ferry_git_opts {
	const char *url;       /* file://, local path, git://, http(s)://, ssh://, user@host:path */
	const char *cache_dir; /* bare repository (created when missing) */
	/* credentials, all optional (values from the secrets directory) */
	const char *username;
	const char *password;
	const char *token;	  /* HTTP: password for username (default x-access-token) */
	const char *bearer_token; /* HTTP: Authorization: Bearer */
	const char *ssh_key;	  /* private key file; without it the SSH agent */
	const char *ssh_key_passphrase;
	const char *known_hosts; /* NULL: ~/.ssh/known_hosts */
	const char *ca_file;	 /* NULL: system CAs */
	const char *proxy;	 /* NULL: from the environment */
};

struct ferry_git;

int ferry_git_open(struct ferry_git **out, const struct ferry_git_opts *o, struct ferry_err *err);
void ferry_git_close(struct ferry_git *g);

/* The URL with any password in it replaced by "***" (static storage of g). */
const char *ferry_git_url(const struct ferry_git *g);

struct ferry_git_stats {
	unsigned long ls_remote; /* connections that only listed refs */
	unsigned long fetches;	 /* fetches (object transfers asked for) */
	unsigned long pushes;	 /* push attempts */
	unsigned long rejected;	 /* pushes the remote refused (lost a race) */
};
const struct ferry_git_stats *ferry_git_stats(const struct ferry_git *g);

/* The remote's heads for refs (e.g. "refs/heads/main"), one connection that
 * transfers no objects. shas[i] is "" when the remote has no such ref. */
int ferry_git_ls_remote(struct ferry_git *g, const char *const *refs, size_t n,
			char (*shas)[FERRY_SHA_HEX], struct ferry_err *err);

struct ferry_git_sync {
	char head[FERRY_SHA_HEX];     /* the branch's commit after the sync */
	char previous[FERRY_SHA_HEX]; /* before it ("" on the first sync) */
	bool fetched;		      /* false: the remote head had not moved */
	bool moved;		      /* head != previous */
};

/* Bring refs/remotes/origin/BRANCH (and, when extra_branch is not NULL,
 * that branch too) up to date: list the remote's heads first and fetch only
 * when one of them differs from the local copy. A branch missing on the
 * remote is an error for BRANCH and fine for extra_branch. */
int ferry_git_sync(struct ferry_git *g, const char *branch, const char *extra_branch,
		   struct ferry_git_sync *r, struct ferry_err *err);

/* Fetch one ref of the remote (a branch name, refs/..., or a full sha that
 * the remote serves) and resolve it to a commit. */
int ferry_git_fetch_rev(struct ferry_git *g, const char *rev, char sha[FERRY_SHA_HEX],
			struct ferry_err *err);

/* Resolve a local revision (sha, abbreviated sha, ref) to a commit sha. */
int ferry_git_resolve(struct ferry_git *g, const char *rev, char sha[FERRY_SHA_HEX],
		      struct ferry_err *err);

/* Load every .yaml and .yml blob under root ("" = the whole tree) of commit
 * sha into m, as ferry_model_load_dir does for a directory, without a
 * checkout. File names are repository-relative paths. Dot-directories are
 * skipped, and so is the top-level status/ directory (ferry's own reports
 * when status_mode=path). */
int ferry_git_load_tree(struct ferry_git *g, const char *sha, const char *root,
			struct ferry_model *m, struct ferry_findings *f, struct ferry_err *err);

/* The blob at path in commit sha: *data malloc'd (NUL-terminated), or
 * FERRY_E_NOT_FOUND. */
int ferry_git_read_file(struct ferry_git *g, const char *sha, const char *path, char **data,
			size_t *len, struct ferry_err *err);

struct ferry_git_commit_info {
	char sha[FERRY_SHA_HEX];
	char first_parent[FERRY_SHA_HEX]; /* "" for a root commit */
	char *author;			  /* "Name <email>" */
	char *author_email;
	char *committer;
	char *subject;
	char *message;	 /* full message */
	time_t time;	 /* committer time */
	char *signature; /* gpgsig header, NULL when unsigned */
	size_t signature_len;
	char *signed_data; /* the commit without its signature */
	size_t signed_data_len;
};

int ferry_git_commit_info(struct ferry_git *g, const char *sha, struct ferry_git_commit_info *ci,
			  struct ferry_err *err);
void ferry_git_commit_info_release(struct ferry_git_commit_info *ci);

/* Does commit sha change anything outside prefix ("status/") compared with
 * its first parent? A root commit changes everything. */
int ferry_git_changes_outside(struct ferry_git *g, const char *sha, const char *prefix,
			      bool *outside, struct ferry_err *err);

/* Trailers of a message ("Key: value" lines of its last paragraph), through
 * libgit2's parser. Pairs are malloc'd; release with ferry_git_trailers_free. */
struct ferry_trailer {
	char *key, *value;
};
int ferry_git_trailers(const char *message, struct ferry_trailer **out, size_t *n);
void ferry_git_trailers_free(struct ferry_trailer *t, size_t n);

/* ---- status commits ---------------------------------------------------- */

struct ferry_status_file {
	const char *path; /* repository-relative, e.g. status/ns/plan.yaml */
	const char *data; /* NULL: remove the file */
	size_t len;
};

struct ferry_status_commit {
	const char *branch; /* remote branch to commit on */
	const struct ferry_status_file *files;
	size_t nfiles;
	const char *message; /* subject, blank line, body and trailers */
	const char *committer_name, *committer_email;
	unsigned max_attempts;	 /* 0: 12 */
	unsigned max_backoff_ms; /* 0: 5000 */
};

struct ferry_status_push {
	bool committed;		 /* false: the files were already so */
	char sha[FERRY_SHA_HEX]; /* the commit pushed */
	unsigned attempts;	 /* pushes tried (1 when nobody raced) */
};

/* Apply files on top of the remote branch's newest commit (an orphan commit
 * when the branch does not exist), commit, push without force. When the
 * remote refuses because someone else pushed first, fetch, rebuild the
 * commit on the new tip and try again after a capped, jittered backoff. A
 * commit that would change nothing is not made. */
int ferry_git_commit_status(struct ferry_git *g, const struct ferry_status_commit *c,
			    struct ferry_status_push *r, struct ferry_err *err);

/* Walk the first-parent history of branch's local copy, newest first,
 * calling fn for every commit until it returns non-zero or max commits have
 * been seen (0: no limit). */
int ferry_git_walk(struct ferry_git *g, const char *branch, size_t max,
		   int (*fn)(const struct ferry_git_commit_info *ci, void *arg), void *arg,
		   struct ferry_err *err);

#endif
