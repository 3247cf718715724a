#include "reconciler/forkserver.h"

#include "common/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG_MAX 65536 /* a request: two paths and a worker's arguments */

struct ended {
	pid_t pid;
	int status;
};

struct ferry_forkserver {
	int sock;
	pid_t pid;
	bool dead;
	struct ended *ended; /* exits reported before anyone waited for them */
	size_t nended, cap;
};

struct ferry_forkserver *ferry_forkserver_start(const char *path, int nice)
{
	struct ferry_forkserver *fs;
	int sv[2];
	char nicebuf[16];
	char *argv[] = {"ferry-copy", "--forkserver", nicebuf, NULL};
	struct ferry_spawn_io io = {"/dev/null", NULL, -1};

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return NULL;
	snprintf(nicebuf, sizeof nicebuf, "%d", nice);
	io.fd3 = sv[1];
	fs = ferry_xcalloc(1, sizeof *fs);
	fs->sock = sv[0];
	fs->pid = ferry_spawn_tied(path, argv, &io);
	close(sv[1]);
	if (fs->pid < 0) {
		int e = errno;
		close(sv[0]);
		free(fs);
		errno = e;
		return NULL;
	}
	return fs;
}

bool ferry_forkserver_alive(const struct ferry_forkserver *fs)
{
	return fs && !fs->dead;
}

/* Read one message from the server; 'X' notices are kept for
 * ferry_forkserver_wait. Returns the message's type, or -1 (server gone). */
static int next_message(struct ferry_forkserver *fs, int32_t v[2])
{
	unsigned char buf[1 + 2 * sizeof(int32_t)];
	ssize_t n;

	do
		n = recv(fs->sock, buf, sizeof buf, 0);
	while (n < 0 && errno == EINTR);
	if (n < 1 + (ssize_t)sizeof(int32_t) || (buf[0] != 'P' && buf[0] != 'X')) {
		fs->dead = true;
		errno = n < 0 ? errno : ECHILD;
		return -1;
	}
	memcpy(&v[0], buf + 1, sizeof v[0]);
	if (buf[0] == 'X') {
		struct ended *e;

		if (n != sizeof buf) {
			fs->dead = true;
			errno = ECHILD;
			return -1;
		}
		memcpy(&v[1], buf + 1 + sizeof v[0], sizeof v[1]);
		e = FERRY_PUSH(fs->ended, fs->nended, fs->cap);
		e->pid = v[0];
		e->status = v[1];
	}
	return buf[0];
}

pid_t ferry_forkserver_spawn(struct ferry_forkserver *fs, char *const argv[],
			     const struct ferry_spawn_io *io)
{
	char *msg = ferry_xmalloc(MSG_MAX);
	size_t len = 0;
	struct iovec iov;
	struct msghdr mh = {0};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	int32_t v[2];
	int type;
	ssize_t sent;

	if (fs->dead) {
		free(msg);
		errno = ECHILD;
		return -1;
	}
	msg[len++] = 'S';
	{
		const char *parts[] = {io->out, io->err};

		for (size_t i = 0; i < 2; i++) {
			size_t l = strlen(parts[i]) + 1;
			if (len + l > MSG_MAX)
				goto too_long;
			memcpy(msg + len, parts[i], l);
			len += l;
		}
	}
	for (size_t i = 0; argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;
		if (len + l > MSG_MAX)
			goto too_long;
		memcpy(msg + len, argv[i], l);
		len += l;
	}
	iov = (struct iovec){msg, len};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (io->fd3 >= 0) {
		memset(&cm, 0, sizeof cm);
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.h), &io->fd3, sizeof(int));
	}
	do
		sent = sendmsg(fs->sock, &mh, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	free(msg);
	if (sent != (ssize_t)len) {
		fs->dead = true;
		errno = sent < 0 ? errno : EIO;
		return -1;
	}
	while ((type = next_message(fs, v)) == 'X')
		;
	if (type < 0)
		return -1;
	if (v[0] < 0) {
		errno = -v[0];
		return -1;
	}
	return (pid_t)v[0];
too_long:
	free(msg);
	errno = E2BIG;
	return -1;
}

int ferry_forkserver_wait(struct ferry_forkserver *fs, pid_t pid, int *status)
{
	int32_t v[2];

	for (;;) {
		for (size_t i = 0; i < fs->nended; i++) {
			if (fs->ended[i].pid != pid)
				continue;
			*status = fs->ended[i].status;
			fs->ended[i] = fs->ended[--fs->nended];
			return 0;
		}
		if (fs->dead || next_message(fs, v) < 0) {
			errno = ECHILD;
			return -1;
		}
	}
}

void ferry_forkserver_close(struct ferry_forkserver *fs)
{
	if (!fs)
		return;
	close(fs->sock);
	while (waitpid(fs->pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(fs->ended);
	free(fs);
}

/* ---- the server ------------------------------------------------------------ */

static void report(int sock, char type, int32_t a, int32_t b)
{
	unsigned char buf[1 + 2 * sizeof(int32_t)];
	size_t n = 1 + sizeof a;

	buf[0] = (unsigned char)type;
	memcpy(buf + 1, &a, sizeof a);
	if (type == 'X') {
		memcpy(buf + 1 + sizeof a, &b, sizeof b);
		n += sizeof b;
	}
	while (send(sock, buf, n, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* In the forked child: become the worker the request asks for. */
static void become(int sock, int sfd, const sigset_t *old, pid_t server, int fd3, char *req,
		   size_t len, int (*run)(int, char **))
{
	char *out = req, *err = out + strlen(out) + 1, *p = err + strlen(err) + 1;
	char **argv = ferry_xcalloc(len, sizeof *argv);
	int argc = 0, fd;

	/* die with the server, hence with the engine */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != server)
		_exit(127);
	close(sock);
	close(sfd);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, old, NULL);
	if (fd3 >= 0 && fd3 != 3) {
		if (dup2(fd3, 3) < 0)
			_exit(127);
		close(fd3);
	} else if (fd3 == 3) {
		fcntl(3, F_SETFD, 0);
	}
	if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 || dup2(fd, 1) < 0)
		_exit(127);
	close(fd);
	if ((fd = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0 ||
	    dup2(fd, 2) < 0)
		_exit(127);
	close(fd);
	while (p < req + len) {
		argv[argc++] = p;
		p += strlen(p) + 1;
	}
	exit(run(argc, argv));
}

static size_t nuls(const char *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += !p[i];
	return k;
}

int ferry_forkserver_serve(int sock, int nice, int (*run)(int argc, char **argv))
{
	char *req = ferry_xmalloc(MSG_MAX + 1);
	sigset_t chld, old;
	int sfd;
	pid_t self = getpid();

	signal(SIGPIPE, SIG_IGN);
	setpriority(PRIO_PROCESS, 0, nice); /* the workers inherit it */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	if ((sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fprintf(stderr, "ferry-copy --forkserver: signalfd: %s\n", strerror(errno));
		free(req);
		return 1;
	}
	for (;;) {
		struct pollfd p[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			int st;
			pid_t pid;

			while (read(sfd, &si, sizeof si) > 0)
				;
			while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
				report(sock, 'X', pid, st);
		}
		if (p[0].revents) {
			struct iovec iov = {req, MSG_MAX};
			union {
				struct cmsghdr h;
				char buf[CMSG_SPACE(sizeof(int))];
			} cm;
			struct msghdr mh = {.msg_iov = &iov,
					    .msg_iovlen = 1,
					    .msg_control = cm.buf,
					    .msg_controllen = sizeof cm.buf};
			struct cmsghdr *c;
			ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
			int fd3 = -1;
			pid_t pid;

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break; /* the engine is gone */
			for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
					memcpy(&fd3, CMSG_DATA(c), sizeof fd3);
			req[n] = '\0';
			/* 'S', then two NUL-terminated paths and at least a name */
			if (req[0] != 'S' || req[n - 1] != '\0' || nuls(req, (size_t)n) < 3) {
				report(sock, 'P', -EINVAL, 0);
			} else if ((pid = fork()) == 0) {
				become(sock, sfd, &old, self, fd3, req + 1, (size_t)n - 1, run);
			} else {
				report(sock, 'P', pid < 0 ? -errno : pid, 0);
			}
			if (fd3 >= 0)
				close(fd3);
		}
	}
	free(req);
	close(sfd);
	close(sock);
	return 0;
}
