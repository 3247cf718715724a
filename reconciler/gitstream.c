/* A TCP stream for libgit2 with Nagle's algorithm turned off.
 *
 * libgit2 1.5 writes an HTTP request's headers and body in two writes and
 * then waits for the answer; with Nagle on, the body waits for the ACK of
 * the headers, which the server delays by up to 40 ms. Every POST
 * (upload-pack, receive-pack) paid that. Registered as libgit2's standard
 * stream, this socket serves http://, git:// and, under libgit2's TLS
 * stream, https://. SSH connections are libssh2's own and do not use it.
 */
#include "reconciler/gitstream.h"

#include "common/alloc.h"

#include <git2.h>
#include <git2/sys/stream.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tcp_stream {
	git_stream parent;
	char *host, *port;
	int fd;
};

static int tcp_connect(git_stream *s)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	struct addrinfo hints = {0}, *res = NULL;
	int rc, saved = 0, one = 1;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	if ((rc = getaddrinfo(t->host, t->port, &hints, &res))) {
		git_error_set(GIT_ERROR_NET, "failed to resolve address for %s: %s", t->host,
			      gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		while ((rc = connect(fd, a->ai_addr, a->ai_addrlen)) && errno == EINTR)
			;
		if (!rc) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			t->fd = fd;
			break;
		}
		saved = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (t->fd < 0) {
		git_error_set(GIT_ERROR_NET, "failed to connect to %s:%s: %s", t->host, t->port,
			      strerror(saved ? saved : ECONNREFUSED));
		return -1;
	}
	return 0;
}

static ssize_t tcp_read(git_stream *s, void *buf, size_t len)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	ssize_t n;
	while ((n = recv(t->fd, buf, len, 0)) < 0 && errno == EINTR)
		;
	if (n < 0)
		git_error_set(GIT_ERROR_NET, "receiving from %s: %s", t->host, strerror(errno));
	return n;
}

static ssize_t tcp_write(git_stream *s, const char *buf, size_t len, int flags)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	ssize_t n;
	(void)flags;
	while ((n = send(t->fd, buf, len, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0)
		git_error_set(GIT_ERROR_NET, "sending to %s: %s", t->host, strerror(errno));
	return n;
}

static int tcp_close(git_stream *s)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	int rc = 0;
	if (t->fd >= 0)
		rc = close(t->fd);
	t->fd = -1;
	return rc ? -1 : 0;
}

static void tcp_free(git_stream *s)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	tcp_close(s);
	free(t->host);
	free(t->port);
	free(t);
}

static int tcp_new(git_stream **out, const char *host, const char *port)
{
	struct tcp_stream *t = ferry_xcalloc(1, sizeof *t);
	t->parent.version = GIT_STREAM_VERSION;
	t->parent.connect = tcp_connect;
	t->parent.read = tcp_read;
	t->parent.write = tcp_write;
	t->parent.close = tcp_close;
	t->parent.free = tcp_free;
	t->host = ferry_xstrdup(host);
	t->port = ferry_xstrdup(port ? port : "80");
	t->fd = -1;
	*out = &t->parent;
	return 0;
}

void ferry_git_register_stream(void)
{
	/* again after every git_libgit2_init(): a shutdown to refcount 0
	 * clears libgit2's registry */
	static git_stream_registration reg = {GIT_STREAM_VERSION, tcp_new, NULL};
	git_stream_register(GIT_STREAM_STANDARD, &reg);
}
