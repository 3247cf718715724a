/* providers/nbdserver: relays. A real nbdkit serves a pattern on a Unix
 * socket (as a source driver's server does); a relay serves it again over
 * TCP with TLS-PSK; libnbd reads through it with the relay's key, and is
 * refused without it or with another. Stopping the relay closes its port
 * and removes its files, key included; a killed ferry's relay is reaped.
 * Skipped when nbdkit is not installed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/util.h"
#include "providers/nbdserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnbd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	char *nbdkit;
	struct ferry_nbd_server *up; /* the pattern, on a Unix socket */
	char *up_uri;
};

static int setup(void **state)
{
	struct fixture *f = ferry_xcalloc(1, sizeof *f);
	struct ferry_err err = FERRY_ERR_INIT;
	uint64_t size = 0;

	*state = f;
	f->nbdkit = ferry_nbd_find_program("nbdkit");
	if (!f->nbdkit)
		return 0; /* each test skips */
	snprintf(f->dir, sizeof f->dir, "/tmp/ferry-relay-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(ferry_nbd_server_new(f->dir, "up", 1, false, &f->up, &err), 0);
	{
		char *unix_arg = ferry_xasprintf("--unix=%s", f->up->sock);
		char *pid_arg = ferry_xasprintf("--pidfile=%s", f->up->pidfile);
		char *argv[] = {f->nbdkit, "--foreground", "--readonly", unix_arg,
				pid_arg,   "pattern",	   "size=1M",	 NULL};
		struct ferry_nbd_start st = {"nbdkit pattern", argv, -1, 10000, 5};

		if (ferry_nbd_server_run(f->up, &st, &size, &err))
			fail_msg("upstream: %s", err.msg);
		free(unix_arg);
		free(pid_arg);
	}
	assert_int_equal(size, 1 << 20);
	f->up_uri = ferry_nbd_socket_uri(f->up->sock);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ferry_nbd_server_stop(f->up);
	if (f->dir[0])
		ferry_rmtree(f->dir);
	free(f->up_uri);
	free(f->nbdkit);
	free(f);
	return 0;
}

/* Connect with libnbd to the relay at port with key file psk (NULL: plain
 * NBD); the handle, or NULL with the error in msg. */
static struct nbd_handle *connect_relay(unsigned port, const char *psk, char *msg, size_t n)
{
	struct nbd_handle *h = nbd_create();
	char *uri = psk ? ferry_xasprintf("nbds://ferry@127.0.0.1:%u/?tls-psk-file=%s", port, psk)
			: ferry_xasprintf("nbd://127.0.0.1:%u/", port);

	assert_non_null(h);
	assert_int_equal(nbd_set_uri_allow_local_file(h, true), 0);
	if (nbd_connect_uri(h, uri) == -1) {
		snprintf(msg, n, "%s", nbd_get_error() ? nbd_get_error() : "?");
		nbd_close(h);
		h = NULL;
	}
	free(uri);
	return h;
}

static bool listening(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = connect(fd, (struct sockaddr *)&a, sizeof a);
	close(fd);
	return r == 0;
}

static void test_relay(void **state)
{
	struct fixture *f = *state;
	struct ferry_nbd_relay_opts o = {"127.0.0.1", 0, 0};
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_nbd_server *r = NULL;
	struct nbd_handle *h;
	unsigned port = 0;
	char *psk = NULL, *file_key = NULL, *wrong, msg[512];
	unsigned char buf[16];
	struct stat st;
	size_t len;

	if (!f->nbdkit)
		skip();
	if (ferry_nbd_relay_start(f->dir, 1, f->up_uri, &o, &r, &port, &psk, &err))
		fail_msg("relay: %s", err.msg);
	assert_true(port > 0);
	/* the key: psktool's line, in a file only ferry may read */
	assert_int_equal(strlen(psk), strlen("ferry:") + 64);
	assert_memory_equal(psk, "ferry:", 6);
	assert_int_equal(stat(r->pskfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ferry_read_file(r->pskfile, 4096, &file_key, &len), 0);
	assert_int_equal(len, strlen(psk) + 1);
	assert_memory_equal(file_key, psk, strlen(psk));

	/* with the key: the upstream's bytes (the pattern: each 8-byte word
	 * holds its offset, big-endian), read only */
	h = connect_relay(port, r->pskfile, msg, sizeof msg);
	if (!h)
		fail_msg("connect: %s", msg);
	assert_int_equal(nbd_get_size(h), 1 << 20);
	assert_int_equal(nbd_is_read_only(h), 1);
	assert_int_equal(nbd_pread(h, buf, sizeof buf, 65536, 0), 0);
	assert_memory_equal(buf, "\0\0\0\0\0\1\0\0\0\0\0\0\0\1\0\x08", 16);
	nbd_shutdown(h, 0);
	nbd_close(h);

	/* without TLS, or with another key: refused */
	assert_null(connect_relay(port, NULL, msg, sizeof msg));
	wrong = ferry_xasprintf("%s/wrong.psk", f->dir);
	{
		FILE *fp = fopen(wrong, "w");

		fprintf(fp, "ferry:%064d\n", 7);
		fclose(fp);
		chmod(wrong, 0600);
	}
	assert_null(connect_relay(port, wrong, msg, sizeof msg));
	assert_non_null(strstr(msg, "gnutls"));

	/* stopped: its port closes, its files (the key) are gone */
	{
		char *pskfile = ferry_xstrdup(r->pskfile), *log = ferry_xstrdup(r->log);

		ferry_nbd_server_stop(r);
		assert_false(listening(port));
		assert_int_equal(access(pskfile, F_OK), -1);
		assert_int_equal(access(log, F_OK), -1);
		free(pskfile);
		free(log);
	}
	explicit_bzero(psk, strlen(psk));
	free(psk);
	free(file_key);
	free(wrong);
}

/* A port range: the first free port of it; none free is an error. */
static void test_relay_ports(void **state)
{
	struct fixture *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_nbd_server *a = NULL, *b = NULL, *c = NULL;
	unsigned pa = 0, pb = 0, pc = 0, base;
	char *ka = NULL, *kb = NULL;

	if (!f->nbdkit)
		skip();
	{
		/* a free port, and the one after it, most likely free too */
		struct ferry_nbd_relay_opts any = {"127.0.0.1", 0, 0};

		assert_int_equal(
			ferry_nbd_relay_start(f->dir, 2, f->up_uri, &any, &a, &base, &ka, &err), 0);
		ferry_nbd_server_stop(a);
		free(ka);
	}
	{
		struct ferry_nbd_relay_opts o = {"127.0.0.1", base, base + 1};

		if (ferry_nbd_relay_start(f->dir, 3, f->up_uri, &o, &a, &pa, &ka, &err) ||
		    ferry_nbd_relay_start(f->dir, 4, f->up_uri, &o, &b, &pb, &kb, &err))
			fail_msg("relay in %u-%u: %s", base, base + 1, err.msg);
		assert_int_equal(pa, base);
		assert_int_equal(pb, base + 1);
		assert_string_not_equal(ka, kb);
		free(ka);
		free(kb);
		ka = NULL;
		assert_int_equal(
			ferry_nbd_relay_start(f->dir, 5, f->up_uri, &o, &c, &pc, &ka, &err), -1);
		assert_null(c);
		assert_int_equal(err.code, FERRY_E_LIMIT);
		assert_non_null(strstr(err.msg, "no free port in"));
		assert_null(ka);
	}
	ferry_nbd_server_stop(a);
	ferry_nbd_server_stop(b);
	{
		struct ferry_nbd_relay_opts bad = {"ferry.example.com", 0, 0};

		assert_int_equal(
			ferry_nbd_relay_start(f->dir, 6, f->up_uri, &bad, &a, &pa, &ka, &err), -1);
		assert_non_null(strstr(err.msg, "is not an IPv4 or IPv6 address"));
	}
}

/* A relay whose ferry was killed: the next ferry stops it and removes its
 * files (a child stands in for the killed ferry). */
static void test_relay_reaped(void **state)
{
	struct fixture *f = *state;
	int pfd[2], status;
	unsigned port = 0;
	pid_t child;
	char *pskfile = NULL;

	if (!f->nbdkit)
		skip();
	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct ferry_nbd_relay_opts o = {"127.0.0.1", 0, 0};
		struct ferry_err err = FERRY_ERR_INIT;
		struct ferry_nbd_server *r;
		char *psk, line[512];

		close(pfd[0]);
		if (ferry_nbd_relay_start(f->dir, 7, f->up_uri, &o, &r, &port, &psk, &err))
			_exit(1);
		snprintf(line, sizeof line, "%u %s", port, r->pskfile);
		if (write(pfd[1], line, strlen(line)) < 0)
			_exit(1);
		close(pfd[1]);
		pause(); /* until killed, its relay left running */
		_exit(0);
	}
	close(pfd[1]);
	{
		char line[512] = {0};
		ssize_t n = read(pfd[0], line, sizeof line - 1);

		assert_true(n > 0);
		pskfile = ferry_xmalloc(sizeof line);
		assert_int_equal(sscanf(line, "%u %511s", &port, pskfile), 2);
	}
	close(pfd[0]);
	assert_true(listening(port));
	ferry_nbd_reap_leftovers(f->dir, "relay"); /* its owner is alive: kept */
	assert_int_equal(access(pskfile, F_OK), 0);
	assert_true(listening(port));
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* a killed ferry's relay gets its death signal too; whatever is left
	 * (the files at least) the next ferry removes */
	ferry_nbd_reap_leftovers(f->dir, "relay");
	assert_int_equal(access(pskfile, F_OK), -1);
	for (int i = 0; i < 500 && listening(port); i++)
		usleep(10000);
	assert_false(listening(port));
	free(pskfile);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_reaped, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
