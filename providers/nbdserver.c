#include "nbdserver.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/time.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
	STOP_TIMEOUT_MS = 5000, /* from SIGTERM to SIGKILL */
	LOG_EXCERPT = 400,	/* bytes of a server's log quoted in errors */
};

char *ferry_nbd_find_program(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *ret = NULL;

	copy = ferry_xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *dir = strtok_r(copy, ":", &save); dir && !ret;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p = ferry_path_join(*dir ? dir : ".", name);
		if (access(p, X_OK) == 0)
			ret = p;
		else
			free(p);
	}
	free(copy);
	return ret;
}

int ferry_nbd_server_new(const char *work_dir, const char *prefix, unsigned seq, bool cafile,
			 struct ferry_nbd_server **out, struct ferry_err *err)
{
	struct sockaddr_un sa;
	struct ferry_nbd_server *srv;
	char *base;

	if (!work_dir)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "no work directory to serve disks in (the driver was opened "
				     "without one)");
	base = ferry_xasprintf("%s/%s-%ld-%u", work_dir, prefix, (long)getpid(), seq);
	srv = ferry_xcalloc(1, sizeof *srv);
	srv->sock = ferry_xasprintf("%s.sock", base);
	srv->log = ferry_xasprintf("%s.log", base);
	srv->pidfile = ferry_xasprintf("%s.pid", base);
	srv->cafile = cafile ? ferry_xasprintf("%s.ca", base) : NULL;
	free(base);
	if (strlen(srv->sock) >= sizeof sa.sun_path) {
		ferry_err_set(err, FERRY_E_LIMIT,
			      "socket path %s is longer than %zu bytes; use a shorter work "
			      "directory",
			      srv->sock, sizeof sa.sun_path - 1);
		ferry_nbd_server_stop(srv);
		return -1;
	}
	unlink(srv->sock);
	*out = srv;
	return 0;
}

/* true once pid is gone (reaped here, or not our child any more). */
static bool reaped(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	return r == pid || (r < 0 && errno == ECHILD);
}

/* SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; reaped either way. */
static void terminate(struct ferry_nbd_server *srv)
{
	int st;

	if (srv->pid <= 0)
		return;
	kill(srv->pid, SIGTERM);
	for (long waited = 0; !reaped(srv->pid, &st); waited += 10) {
		if (waited >= STOP_TIMEOUT_MS) {
			kill(srv->pid, SIGKILL);
			while (waitpid(srv->pid, &st, 0) < 0 && errno == EINTR)
				;
			break;
		}
		ferry_sleep(0.01);
	}
	srv->pid = 0;
}

void ferry_nbd_server_stop(struct ferry_nbd_server *srv)
{
	const char *files[4];

	if (!srv)
		return;
	terminate(srv);
	files[0] = srv->sock, files[1] = srv->log, files[2] = srv->pidfile, files[3] = srv->cafile;
	for (size_t i = 0; i < 4; i++)
		if (files[i])
			unlink(files[i]);
	free(srv->sock);
	free(srv->log);
	free(srv->pidfile);
	free(srv->cafile);
	free(srv);
}

void ferry_nbd_server_drop(struct ferry_nbd_server **list, struct ferry_nbd_server *srv)
{
	for (struct ferry_nbd_server **pp = list; *pp; pp = &(*pp)->next) {
		if (*pp == srv) {
			*pp = srv->next;
			ferry_nbd_server_stop(srv);
			return;
		}
	}
}

void ferry_nbd_servers_stop(struct ferry_nbd_server **list)
{
	while (*list) {
		struct ferry_nbd_server *srv = *list;
		*list = srv->next;
		ferry_nbd_server_stop(srv);
	}
}

void ferry_nbd_reap_leftovers(const char *work_dir, const char *prefix)
{
	static const char *const exts[] = {".pid", ".sock", ".log", ".ca"};
	DIR *d = opendir(work_dir);
	struct dirent *de;
	size_t plen = strlen(prefix);

	if (!d)
		return;
	while ((de = readdir(d))) {
		long owner;
		unsigned seq;
		int end = 0;
		char *base, *pidf, *text = NULL, *cmd = NULL;
		size_t len;

		if (strncmp(de->d_name, prefix, plen) || de->d_name[plen] != '-' ||
		    sscanf(de->d_name + plen, "-%ld-%u.pid%n", &owner, &seq, &end) != 2 ||
		    de->d_name[plen + (size_t)end] || owner == (long)getpid() ||
		    !(kill((pid_t)owner, 0) < 0 && errno == ESRCH))
			continue;
		base = ferry_xasprintf("%s/%s-%ld-%u", work_dir, prefix, owner, seq);
		pidf = ferry_xasprintf("%s.pid", base);
		if (!ferry_read_file(pidf, 64, &text, &len)) {
			long spid = strtol(text, NULL, 10);
			char *proc = ferry_xasprintf("/proc/%ld/cmdline", spid);
			char *sock = ferry_xasprintf("%s.sock", base);

			if (spid > 1 && !ferry_read_file(proc, 1 << 16, &cmd, &len) &&
			    memmem(cmd, len, sock, strlen(sock))) {
				const char *prog = strrchr(cmd, '/');

				kill((pid_t)spid, SIGKILL);
				ferry_warn(
					"stopped %s %ld, left serving %s by a ferry process that "
					"was killed",
					prog ? prog + 1 : cmd, spid, sock);
			}
			free(proc);
			free(sock);
		}
		for (size_t x = 0; x < sizeof exts / sizeof *exts; x++) {
			char *f = ferry_xasprintf("%s%s", base, exts[x]);
			unlink(f);
			free(f);
		}
		free(text);
		free(cmd);
		free(pidf);
		free(base);
	}
	closedir(d);
}

/* ---- the NBD handshake ----------------------------------------------------------------- */

static bool io_full(int fd, void *buf, size_t n, bool writing)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = writing ? send(fd, (char *)buf + done, n - done, MSG_NOSIGNAL)
				    : recv(fd, (char *)buf + done, n - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The export's size, from the server itself: the fixed-newstyle handshake
 * up to NBD_OPT_EXPORT_NAME, then NBD_CMD_DISC. Proof that the server
 * could open the disk (nbdkit curl reaches its URL when a client
 * connects). */
static bool nbd_export_size(int fd, uint64_t *size)
{
	unsigned char b[18 + 124], opt[16], disc[28] = {0};
	uint16_t sflags;
	bool no_zeroes;

	if (!io_full(fd, b, 18, false) || memcmp(b, "NBDMAGIC", 8) != 0 ||
	    memcmp(b + 8, "IHAVEOPT", 8) != 0)
		return false;
	sflags = (uint16_t)(b[16] << 8 | b[17]);
	if (!(sflags & 1))
		return false; /* not fixed newstyle */
	no_zeroes = sflags & 2;
	put_be32(b, 1u | (no_zeroes ? 2u : 0u));
	memcpy(opt, "IHAVEOPT", 8);
	put_be32(opt + 8, 1); /* NBD_OPT_EXPORT_NAME, name "" */
	put_be32(opt + 12, 0);
	if (!io_full(fd, b, 4, true) || !io_full(fd, opt, sizeof opt, true) ||
	    !io_full(fd, b, no_zeroes ? 10 : 10 + 124, false))
		return false;
	*size = be64(b);
	put_be32(disc, 0x25609513);
	disc[7] = 2; /* NBD_CMD_DISC */
	(void)io_full(fd, disc, sizeof disc, true);
	return true;
}

/* Connect to the socket; 1 answered (size set), 0 not listening yet, -1
 * listening but no export. */
static int probe(const char *sock, unsigned handshake_s, uint64_t *size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {(time_t)handshake_s, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	ret = nbd_export_size(fd, size) ? 1 : -1;
	close(fd);
	return ret;
}

/* ---- starting one ---------------------------------------------------------------------- */

/* The end of the log (it says why), on one line. */
static char *log_excerpt(const char *log)
{
	char buf[LOG_EXCERPT + 1];
	ssize_t n = -1;
	int fd = open(log, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		struct stat st;
		if (!fstat(fd, &st) && st.st_size > LOG_EXCERPT)
			lseek(fd, st.st_size - LOG_EXCERPT, SEEK_SET);
		n = read(fd, buf, LOG_EXCERPT);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	for (char *c = buf; *c; c++)
		if (*c == '\n' || (unsigned char)*c < 0x20)
			*c = *(c + 1) ? ' ' : '\0';
	return ferry_xstrdup(n > 0 ? buf : "(no message)");
}

static pid_t spawn(char *const argv[], int logfd, int secret_fd)
{
	int first = secret_fd >= 0 ? FERRY_NBD_SECRET_FD + 1 : 3;
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid;

	if (nullfd < 0)
		return -1;
	pid = ferry_fork_tied(); /* never outlive ferry */
	if (pid == 0) {
		/* Async-signal-safe calls only from here on. */
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		if (secret_fd >= 0 && dup2(secret_fd, FERRY_NBD_SECRET_FD) < 0)
			_exit(127);
		if (close_range((unsigned)first, ~0u, 0) != 0)
			for (int fd = first; fd < 1024; fd++)
				close(fd);
		execv(argv[0], argv);
		_exit(127);
	}
	close(nullfd);
	return pid;
}

int ferry_nbd_server_run(struct ferry_nbd_server *srv, const struct ferry_nbd_start *st,
			 uint64_t *size, struct ferry_err *err)
{
	int logfd, status = 0;

	logfd = open(srv->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0)
		return ferry_err_set(err, FERRY_E_IO, "%s: %s", srv->log, strerror(errno));
	srv->pid = spawn(st->argv, logfd, st->secret_fd);
	close(logfd);
	if (srv->pid < 0) {
		srv->pid = 0;
		return ferry_err_set(err, FERRY_E_IO, "starting %s: %s", st->what, strerror(errno));
	}
	for (long waited = 0;; waited += 10) {
		int r = probe(srv->sock, st->handshake_s, size);
		char *msg;

		if (r == 1)
			return 0;
		if (r < 0) { /* listening, but it could not open the disk */
			terminate(srv);
			msg = log_excerpt(srv->log);
			ferry_err_set(err, FERRY_E_IO, "%s on %s serves no disk: %s", st->what,
				      srv->sock, msg);
			free(msg);
			return -1;
		}
		if (reaped(srv->pid, &status)) {
			srv->pid = 0;
			msg = log_excerpt(srv->log);
			ferry_err_set(err, FERRY_E_IO, "%s exited (status %d): %s", st->what,
				      WIFEXITED(status) ? WEXITSTATUS(status)
							: 128 + WTERMSIG(status),
				      msg);
			free(msg);
			return -1;
		}
		if (waited >= (long)st->ready_ms)
			return ferry_err_set(err, FERRY_E_TIMEOUT,
					     "%s did not answer on %s in %u s", st->what, srv->sock,
					     st->ready_ms / 1000);
		ferry_sleep(0.01);
	}
}

char *ferry_nbd_socket_uri(const char *sock)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	ferry_sb_adds(&sb, "nbd+unix:///?socket=");
	for (const unsigned char *c = (const unsigned char *)sock; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("/-._~", *c))
			ferry_sb_addc(&sb, (char)*c);
		else
			ferry_sb_addf(&sb, "%%%02X", *c);
	}
	return ferry_sb_detach(&sb);
}
