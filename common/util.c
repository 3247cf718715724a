#include "util.h"

#include "alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

bool ferry_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool ferry_ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

unsigned ferry_edit_distance(const char *a, const char *b)
{
	/* Optimal string alignment: Levenshtein plus adjacent transposition at
	 * cost 1, because "wram" for "warm" is the typo people make. */
	enum { MAX = 64 };
	unsigned d[MAX + 1][MAX + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > MAX || lb > MAX)
		return MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *ferry_nearest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	unsigned best_d = ~0u;
	size_t len = strlen(word);
	unsigned limit = len / 3 > 1 ? (unsigned)(len / 3) : 1;

	for (size_t i = 0; i < n; i++) {
		unsigned d = ferry_edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

int ferry_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *ferry_path_join(const char *dir, const char *rel)
{
	size_t ld = strlen(dir);

	while (ld > 1 && dir[ld - 1] == '/')
		ld--;
	while (*rel == '/')
		rel++;
	if (!ld || (ld == 1 && dir[0] == '.' && *rel))
		return ferry_xstrdup(rel);
	if (dir[ld - 1] == '/') /* the root directory */
		return ferry_xasprintf("%.*s%s", (int)ld, dir, rel);
	return ferry_xasprintf("%.*s/%s", (int)ld, dir, rel);
}

int ferry_mkdirs(const char *path, unsigned mode)
{
	char *p = ferry_xstrdup(path);
	int rc = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) && errno != EEXIST) {
			rc = -1;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int ferry_rmtree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

int ferry_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char *tmp = ferry_xasprintf("%s.tmp.%ld", path, (long)getpid());
	char *dir = ferry_xstrdup(path), *slash = strrchr(dir, '/');
	const char *p = data;
	int fd, saved;

	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		strcpy(dir, ".");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		goto fail;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_fd;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) || close(fd)) {
		fd = -1;
		goto fail_unlink;
	}
	if (rename(tmp, path))
		goto fail_unlink;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(tmp);
	free(dir);
	return 0;
fail_fd:
	saved = errno;
	close(fd);
	errno = saved;
fail_unlink:
	saved = errno;
	unlink(tmp);
	errno = saved;
fail:
	saved = errno;
	free(tmp);
	free(dir);
	errno = saved;
	return -1;
}

bool ferry_ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int ferry_read_file(const char *path, size_t max, char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t n = 0, cap = max < 4096 ? max : 4096;
	char *buf;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return -1;
	buf = ferry_xmalloc(cap + 1); /* + 1: the NUL, or one byte past max */
	for (;;) {
		if (n == cap && cap < max) {
			cap = cap > max / 2 ? max : cap * 2;
			buf = ferry_xrealloc(buf, cap + 1);
		}
		/* at max, read one byte more: only end of file is fine there */
		ssize_t r = read(fd, buf + n, cap - n + (n == cap));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (r > 0 && n == cap)) {
			int saved = r < 0 ? errno : EFBIG;
			free(buf);
			close(fd);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

pid_t ferry_fork_tied(void)
{
	sigset_t all, old;
	pid_t parent = getpid(), pid;
	int saved;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		return 0;
	}
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}

#define TIED_VAR "FERRY_TIED_TO"

pid_t ferry_spawn_tied(const char *self, char *const argv[], const struct ferry_spawn_io *io)
{
	extern char **environ;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	size_t n = 0;
	char **envp, tied[40];
	pid_t pid = -1;
	int rc, fd3 = -1;

	for (char **e = environ; *e; e++)
		n++;
	envp = ferry_xcalloc(n + 2, sizeof *envp);
	n = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, TIED_VAR "=", sizeof TIED_VAR))
			envp[n++] = *e;
	snprintf(tied, sizeof tied, TIED_VAR "=%ld", (long)getpid());
	envp[n] = tied;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = 0;
	if (io && io->fd3 >= 0) {
		/* dup2 onto itself would keep FD_CLOEXEC: move it away first */
		fd3 = io->fd3 == 3 ? fcntl(3, F_DUPFD_CLOEXEC, 4) : io->fd3;
		rc = fd3 < 0 ? errno : posix_spawn_file_actions_adddup2(&fa, fd3, 3);
	}
	if (!rc && io && io->out)
		rc = posix_spawn_file_actions_addopen(&fa, 1, io->out, O_WRONLY | O_CREAT | O_TRUNC,
						      0600);
	if (!rc && io && io->err)
		rc = posix_spawn_file_actions_addopen(&fa, 2, io->err,
						      O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (!rc)
		rc = posix_spawn(&pid, self, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(envp);
	if (io && fd3 >= 0 && fd3 != io->fd3)
		close(fd3);
	if (rc) {
		errno = rc;
		return -1;
	}
	return pid;
}

void ferry_tie_to_parent(void)
{
	const char *v = getenv(TIED_VAR);
	char *end;
	long want;

	if (!v)
		return;
	want = strtol(v, &end, 10);
	if (*end || want <= 1) {
		unsetenv(TIED_VAR);
		return;
	}
	unsetenv(TIED_VAR);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != (pid_t)want)
		_exit(127); /* the parent died before we could ask */
}
