#include "nbdserver.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/time.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <poll.h>
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
	const char *files[5];

	if (!srv)
		return;
	terminate(srv);
	files[0] = srv->sock, files[1] = srv->log, files[2] = srv->pidfile, files[3] = srv->cafile;
	files[4] = srv->pskfile;
	for (size_t i = 0; i < 5; i++)
		if (files[i])
			unlink(files[i]);
	free(srv->sock);
	free(srv->log);
	free(srv->pidfile);
	free(srv->cafile);
	free(srv->pskfile);
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
	static const char *const exts[] = {".pid", ".sock", ".log", ".ca", ".psk"};
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
			/* its command line names one of its files (socket, key) */
			char *mine = ferry_xasprintf("%s.", base);

			if (spid > 1 && !ferry_read_file(proc, 1 << 16, &cmd, &len) &&
			    memmem(cmd, len, mine, strlen(mine))) {
				const char *prog = strrchr(cmd, '/');

				kill((pid_t)spid, SIGKILL);
				ferry_warn("stopped %s %ld, left serving %s* by a ferry process "
					   "that was killed",
					   prog ? prog + 1 : cmd, spid, mine);
			}
			free(proc);
			free(mine);
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

/* How a server starts: with a secret on FERRY_NBD_SECRET_FD, or (socket
 * activation) with a listening socket as fd 3 and env, whose LISTEN_PID=
 * entry ends at pid_at (room for 20 digits), the child fills in. */
struct spawn_io {
	int logfd, secret_fd, listen_fd;
	char **env; /* NULL: ferry's own */
	char *pid_at;
};

/* Async-signal-safe: n's decimal digits at p, NUL-terminated. */
static void put_decimal(char *p, long n)
{
	char tmp[24];
	int k = 0;

	do
		tmp[k++] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	while (k)
		*p++ = tmp[--k];
	*p = '\0';
}

static pid_t spawn(char *const argv[], const struct spawn_io *io)
{
	int first = io->secret_fd >= 0 || io->listen_fd >= 0 ? 4 : 3;
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid;

	if (nullfd < 0)
		return -1;
	pid = ferry_fork_tied(); /* never outlive ferry */
	if (pid == 0) {
		/* Async-signal-safe calls only from here on. */
		if (dup2(nullfd, 0) < 0 || dup2(io->logfd, 1) < 0 || dup2(io->logfd, 2) < 0)
			_exit(127);
		if (io->secret_fd >= 0 && dup2(io->secret_fd, FERRY_NBD_SECRET_FD) < 0)
			_exit(127);
		if (io->listen_fd >= 0) {
			/* dup2 onto itself would keep close-on-exec */
			if (io->listen_fd == 3 ? fcntl(3, F_SETFD, 0) < 0
					       : dup2(io->listen_fd, 3) < 0)
				_exit(127);
			put_decimal(io->pid_at, (long)getpid());
		}
		if (close_range((unsigned)first, ~0u, 0) != 0)
			for (int fd = first; fd < 1024; fd++)
				close(fd);
		if (io->env)
			execve(argv[0], argv, io->env);
		else
			execv(argv[0], argv);
		_exit(127);
	}
	close(nullfd);
	return pid;
}

/* Why srv's process ended (it has: reaped), from its exit status and log. */
static int exited(struct ferry_nbd_server *srv, const char *what, int status, struct ferry_err *err)
{
	char *msg = log_excerpt(srv->log);

	srv->pid = 0;
	ferry_err_set(err, FERRY_E_IO, "%s exited (status %d): %s", what,
		      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), msg);
	free(msg);
	return -1;
}

int ferry_nbd_server_run(struct ferry_nbd_server *srv, const struct ferry_nbd_start *st,
			 uint64_t *size, struct ferry_err *err)
{
	struct spawn_io io = {.secret_fd = st->secret_fd, .listen_fd = -1};
	int status = 0;

	io.logfd = open(srv->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (io.logfd < 0)
		return ferry_err_set(err, FERRY_E_IO, "%s: %s", srv->log, strerror(errno));
	srv->pid = spawn(st->argv, &io);
	close(io.logfd);
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
		if (reaped(srv->pid, &status))
			return exited(srv, st->what, status, err);
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

/* ---- relays ---------------------------------------------------------------------------- */

enum {
	RELAY_READY_MS = 10000, /* for nbdkit to greet its first client */
	RELAY_BACKLOG = 64,
	PSK_BYTES = 32,
};

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* A listening TCP socket on o->bind at the first free port of o's range. */
static int relay_listen(const struct ferry_nbd_relay_opts *o, union sockaddr_any *at,
			socklen_t *atlen, struct ferry_err *err)
{
	union sockaddr_any a = {0};
	socklen_t len;
	unsigned lo = o->port_min, hi = o->port_max;
	int one = 1;

	if (o->bind && inet_pton(AF_INET, o->bind, &a.in.sin_addr) == 1) {
		a.in.sin_family = AF_INET;
		len = sizeof a.in;
	} else if (o->bind && inet_pton(AF_INET6, o->bind, &a.in6.sin6_addr) == 1) {
		a.in6.sin6_family = AF_INET6;
		len = sizeof a.in6;
	} else {
		return ferry_err_set(err, FERRY_E_INVALID,
				     "relay: \"%s\" is not an IPv4 or IPv6 address to listen on",
				     o->bind ? o->bind : "");
	}
	if (lo > hi || hi > 65535)
		return ferry_err_set(err, FERRY_E_INVALID, "relay: port range %u-%u", lo, hi);
	for (unsigned port = lo; port <= hi; port++) {
		int fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return ferry_err_set(err, FERRY_E_IO, "relay: socket: %s", strerror(errno));
		if (a.sa.sa_family == AF_INET)
			a.in.sin_port = htons((uint16_t)port);
		else
			a.in6.sin6_port = htons((uint16_t)port);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, &a.sa, len) == 0 && listen(fd, RELAY_BACKLOG) == 0) {
			*atlen = sizeof *at;
			if (getsockname(fd, &at->sa, atlen) == 0)
				return fd;
		}
		if (errno != EADDRINUSE) {
			ferry_err_set(err, FERRY_E_IO, "relay: listening on %s port %u: %s",
				      o->bind, port, strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
	}
	return ferry_err_set(err, FERRY_E_LIMIT, "relay: no free port in %u-%u on %s", lo, hi,
			     o->bind);
}

/* ferry's environment for a socket-activated child: LISTEN_* replaced,
 * LISTEN_PID's value left for the child (*pid_at). */
static char **activation_env(char **pid_at)
{
	extern char **environ;
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = ferry_xcalloc(n + 3, sizeof *env);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LISTEN_", 7))
			env[k++] = environ[i];
	env[k++] = "LISTEN_FDS=1";
	env[k] = ferry_xcalloc(1, sizeof "LISTEN_PID=" + 24);
	memcpy(env[k], "LISTEN_PID=", sizeof "LISTEN_PID=");
	*pid_at = env[k] + sizeof "LISTEN_PID=" - 1;
	return env;
}

/* A fresh key in psktool's format, written to path (0600, new). */
static char *make_psk(const char *path, struct ferry_err *err)
{
	unsigned char key[PSK_BYTES];
	/* "ferry:", the key in hex, a newline: on the stack, wiped after */
	char line[sizeof FERRY_NBD_PSK_IDENTITY + 2 * PSK_BYTES + 1];
	size_t n = sizeof FERRY_NBD_PSK_IDENTITY - 1;
	char *ret = NULL;

	if (RAND_bytes(key, sizeof key) != 1) {
		ferry_err_set(err, FERRY_E_IO, "relay: no random bytes for a key");
		return NULL;
	}
	memcpy(line, FERRY_NBD_PSK_IDENTITY, n);
	line[n++] = ':';
	for (size_t i = 0; i < sizeof key; i++, n += 2)
		snprintf(line + n, 3, "%02x", key[i]);
	line[n] = '\n';
	if (ferry_write_file_atomic(path, line, n + 1, 0600))
		ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
	else
		ret = ferry_xstrndup(line, n);
	explicit_bzero(key, sizeof key);
	explicit_bzero(line, sizeof line);
	return ret;
}

/* Wait until the relay greets a client at (its address, loopback when it
 * listens on all): 0 yes, -1 no (err says why). */
static int relay_ready(struct ferry_nbd_server *srv, union sockaddr_any at, socklen_t len,
		       struct ferry_err *err)
{
	unsigned char greet[18];
	size_t got = 0;
	int fd, status;

	if (at.sa.sa_family == AF_INET && at.in.sin_addr.s_addr == htonl(INADDR_ANY))
		at.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (at.sa.sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&at.in6.sin6_addr))
		at.in6.sin6_addr = in6addr_loopback;
	fd = socket(at.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ferry_err_set(err, FERRY_E_IO, "relay: socket: %s", strerror(errno));
	/* the socket listens already (it was made here): this connects at once */
	if (connect(fd, &at.sa, len) != 0 && errno != EINPROGRESS) {
		ferry_err_set(err, FERRY_E_IO, "relay: connecting to itself: %s", strerror(errno));
		close(fd);
		return -1;
	}
	for (long waited = 0; got < sizeof greet; waited += 10) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t r;

		if (reaped(srv->pid, &status)) {
			close(fd);
			return exited(srv, "nbdkit (relay)", status, err);
		}
		if (waited >= RELAY_READY_MS) {
			close(fd);
			return ferry_err_set(err, FERRY_E_TIMEOUT,
					     "nbdkit (relay) did not answer in %d s",
					     RELAY_READY_MS / 1000);
		}
		if (poll(&p, 1, 10) <= 0)
			continue;
		r = recv(fd, greet + got, sizeof greet - got, 0);
		if (r > 0) {
			got += (size_t)r;
		} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			/* closed on us: it is exiting; wait a little to say why */
			close(fd);
			for (int k = 0; k < 200; k++, ferry_sleep(0.01))
				if (reaped(srv->pid, &status))
					return exited(srv, "nbdkit (relay)", status, err);
			return ferry_err_set(err, FERRY_E_IO,
					     "nbdkit (relay) closed a connection without a word");
		}
	}
	close(fd);
	if (memcmp(greet, "NBDMAGICIHAVEOPT", 16) != 0)
		return ferry_err_set(err, FERRY_E_IO, "nbdkit (relay) answered, not in NBD");
	return 0;
}

int ferry_nbd_relay_start(const char *work_dir, unsigned seq, const char *upstream,
			  const struct ferry_nbd_relay_opts *o, struct ferry_nbd_server **out,
			  unsigned *port, char **psk, struct ferry_err *err)
{
	struct ferry_nbd_server *srv;
	struct spawn_io io = {.logfd = -1, .secret_fd = -1, .listen_fd = -1};
	union sockaddr_any at;
	socklen_t atlen = 0;
	char *nbdkit = NULL, *key = NULL, *base, *argv[10];
	int rc = -1;

	*out = NULL;
	*psk = NULL;
	if (!work_dir)
		return ferry_err_set(err, FERRY_E_INVALID, "relay: no work directory");
	nbdkit = ferry_nbd_find_program("nbdkit");
	if (!nbdkit)
		return ferry_err_set(err, FERRY_E_UNSUPPORTED,
				     "nbdkit is not installed (Debian package nbdkit): a relay "
				     "serves the disk to the transfer Job");
	base = ferry_xasprintf("%s/relay-%ld-%u", work_dir, (long)getpid(), seq);
	srv = ferry_xcalloc(1, sizeof *srv);
	srv->log = ferry_xasprintf("%s.log", base);
	srv->pidfile = ferry_xasprintf("%s.pid", base);
	srv->pskfile = ferry_xasprintf("%s.psk", base);
	free(base);
	unlink(srv->pskfile);
	if (!(key = make_psk(srv->pskfile, err)))
		goto out;
	io.listen_fd = relay_listen(o, &at, &atlen, err);
	if (io.listen_fd < 0)
		goto out;
	io.logfd = open(srv->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (io.logfd < 0) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", srv->log, strerror(errno));
		goto out;
	}
	{
		size_t n = 0;
		char *pidvar;

		argv[n++] = nbdkit;
		argv[n++] = "--foreground";
		argv[n++] = "--readonly";
		argv[n++] = ferry_xasprintf("--pidfile=%s", srv->pidfile);
		argv[n++] = "--tls=require";
		argv[n++] = ferry_xasprintf("--tls-psk=%s", srv->pskfile);
		argv[n++] = "nbd";
		argv[n++] = ferry_xasprintf("uri=%s", upstream);
		argv[n] = NULL;
		io.env = activation_env(&io.pid_at);
		pidvar = io.pid_at - (sizeof "LISTEN_PID=" - 1);
		srv->pid = spawn(argv, &io);
		if (srv->pid < 0) {
			srv->pid = 0;
			ferry_err_set(err, FERRY_E_IO, "starting nbdkit: %s", strerror(errno));
		}
		free(argv[3]);
		free(argv[5]);
		free(argv[7]);
		free(pidvar);
		free(io.env);
	}
	/* nbdkit holds the socket now: it closes with it */
	close(io.listen_fd);
	io.listen_fd = -1;
	if (!srv->pid || relay_ready(srv, at, atlen, err))
		goto out;
	*port = ntohs(at.sa.sa_family == AF_INET ? at.in.sin_port : at.in6.sin6_port);
	*psk = key;
	key = NULL;
	*out = srv;
	srv = NULL;
	rc = 0;
out:
	if (io.listen_fd >= 0)
		close(io.listen_fd);
	if (io.logfd >= 0)
		close(io.logfd);
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	ferry_nbd_server_stop(srv);
	free(nbdkit);
	return rc;
}
