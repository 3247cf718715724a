/* Small string helpers with no allocation unless stated. */
#ifndef FERRY_COMMON_UTIL_H
#define FERRY_COMMON_UTIL_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

bool ferry_starts_with(const char *s, const char *prefix);
bool ferry_ends_with(const char *s, const char *suffix);

/* Edit distance (insert, delete, substitute, swap two adjacent characters;
 * each cost 1) between two short strings; strings longer than 64 bytes compare as "far" (returns
 * 64). */
unsigned ferry_edit_distance(const char *a, const char *b);

/* Of the n candidate strings, the one nearest to `word` if it is close enough
 * to be a plausible typo (distance <= max(1, strlen(word) / 3)), else NULL. */
const char *ferry_nearest(const char *word, const char *const *candidates, size_t n);

/* The value of a hexadecimal digit, or -1. */
int ferry_hexval(char c);

/* Join a directory and a relative path with exactly one '/'; caller frees. */
char *ferry_path_join(const char *dir, const char *rel);

/* mkdir -p with mode for the directories it creates; 0 or -1 with errno. */
int ferry_mkdirs(const char *path, unsigned mode);

/* rm -rf: remove path and everything under it, never following symlinks;
 * 0 (also when path does not exist) or -1 with errno. */
int ferry_rmtree(const char *path);

/* Is s an IPv4 or IPv6 address (numeric, as inet_pton reads it)? */
bool ferry_ip_literal(const char *s);

/* Read a whole file (at most max bytes) into a NUL-terminated malloc'd
 * buffer; 0 or -1 with errno (EFBIG when larger than max). */
int ferry_read_file(const char *path, size_t max, char **data, size_t *len);

/* Write data to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. mode as for open(2). */
int ferry_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* fork(2) for a child that must never outlive this process. In the child,
 * PR_SET_PDEATHSIG(SIGTERM) is set, SIGTERM, SIGINT, SIGHUP and SIGPIPE
 * are back to their default actions and no signal is blocked; every signal
 * stays blocked from before the fork until then, so a death signal can
 * never land in a handler inherited from this process (which would swallow
 * it and leave an orphan). A child whose parent died before it could ask
 * exits 127. Returns as fork(2); the child may make only async-signal-safe
 * calls until it execs. */
pid_t ferry_fork_tied(void);

/* Where a spawned child's standard output, standard error and fd 3 go:
 * a path (opened in the child: out truncated, err appended, both 0600)
 * or, for fd3, an open descriptor (-1: none). */
struct ferry_spawn_io {
	const char *out, *err;
	int fd3;
};

/* Start the ferry program at self with argv, tied as ferry_fork_tied's
 * children are, but through posix_spawn: the parent's memory is not copied
 * (a daemon that starts hundreds of workers in a pass does not pay a fork
 * of itself for each). The child asks for its death signal itself, before
 * anything else: ferry's main honours FERRY_TIED_TO (ferry_tie_to_parent).
 * Signals are back to their defaults in the child, none blocked. Returns
 * the child's pid, or -1 with errno set. */
pid_t ferry_spawn_tied(const char *self, char *const argv[], const struct ferry_spawn_io *io);

/* Called first in main: when FERRY_TIED_TO names this process's parent,
 * set PR_SET_PDEATHSIG(SIGTERM); when the parent is already gone, exit
 * 127. The variable is removed from the environment either way. */
void ferry_tie_to_parent(void);

#endif
