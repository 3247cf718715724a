/* Local NBD servers that source drivers start (the OVA driver's qemu-nbd,
 * the vSphere driver's nbdkit): each serves one disk on a Unix socket in
 * the driver's work directory, as a child tied to ferry, with a pid file so
 * that a later ferry can stop one a killed ferry left behind, and its
 * messages in a log file quoted in errors.
 *
 * Files of a server: WORK/PREFIX-PID-SEQ.sock, .log, .pid and, when asked,
 * .ca (a file the server reads, such as a CA bundle).
 */
#ifndef FERRY_PROVIDERS_NBDSERVER_H
#define FERRY_PROVIDERS_NBDSERVER_H

#include "common/err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The descriptor a server finds its secret on (a cookie, a password),
 * read from a pipe so that it never appears on a command line. */
#define FERRY_NBD_SECRET_FD 3

struct ferry_nbd_server {
	pid_t pid; /* 0 when not running (never started, or reaped) */
	char *sock, *log, *pidfile;
	char *cafile;		       /* WORK/PREFIX-PID-SEQ.ca when asked for, else NULL */
	char *pskfile;		       /* a relay's WORK/relay-PID-SEQ.psk, else NULL */
	struct ferry_nbd_server *next; /* the driver's list of running servers */
};

/* How to start one: argv[0] is a full path (ferry_nbd_find_program). */
struct ferry_nbd_start {
	const char *what;     /* for messages: "qemu-nbd", "nbdkit curl" */
	char *const *argv;    /* NULL-terminated */
	int secret_fd;	      /* given to the server as FERRY_NBD_SECRET_FD, or -1 */
	unsigned ready_ms;    /* how long it may take to answer on its socket */
	unsigned handshake_s; /* how long one NBD handshake with it may take */
};

/* name's full path in $PATH, or NULL. Caller frees. */
char *ferry_nbd_find_program(const char *name);

/* A new server's file names (nothing started yet); err when work_dir is
 * NULL or the socket path is too long for a Unix socket. */
int ferry_nbd_server_new(const char *work_dir, const char *prefix, unsigned seq, bool cafile,
			 struct ferry_nbd_server **out, struct ferry_err *err);

/* Start it and wait until it answers an NBD handshake on its socket; the
 * export's size in *size. On failure (it exited, answers without an
 * export, or never answers) err says which, quoting the end of its log;
 * the caller then calls ferry_nbd_server_stop as for a running one. */
int ferry_nbd_server_run(struct ferry_nbd_server *srv, const struct ferry_nbd_start *st,
			 uint64_t *size, struct ferry_err *err);

/* Stop it (SIGTERM, SIGKILL after 5 s), remove its files, free it. */
void ferry_nbd_server_stop(struct ferry_nbd_server *srv);

/* Take srv out of *list and stop it (nothing when it is not there). */
void ferry_nbd_server_drop(struct ferry_nbd_server **list, struct ferry_nbd_server *srv);

/* Stop every server of *list. */
void ferry_nbd_servers_stop(struct ferry_nbd_server **list);

/* Stop the servers a killed ferry left in work_dir (PREFIX-OWNER-N.pid
 * whose OWNER is gone): only a process whose command line names that
 * file's socket is killed; the files are removed. */
void ferry_nbd_reap_leftovers(const char *work_dir, const char *prefix);

/* ---- relays ----------------------------------------------------------------
 * A worker on another machine (a transfer Job in the target cluster) cannot
 * reach a source's Unix socket. A relay is nbdkit's nbd plugin serving that
 * socket's export read-only over TCP, TLS required, with a pre-shared key
 * made for it alone: only a worker given the key can read the disk, and
 * nothing can write it. ferry makes the listening socket itself (systemd
 * socket activation: fd 3, LISTEN_FDS=1), so the port is known and taken
 * before nbdkit starts.
 *
 * Files: WORK/relay-PID-SEQ.log, .pid, .psk (the key, 0600). */

#define FERRY_NBD_PSK_IDENTITY "ferry"

struct ferry_nbd_relay_opts {
	const char *bind;	     /* numeric IPv4 or IPv6 address to listen on */
	unsigned port_min, port_max; /* ports to try, in order; both 0: one the kernel picks */
};

/* Start a relay of upstream (an NBD URI) and wait until it answers; its
 * port in *port and its key ("ferry:" and 64 hex digits, what psktool
 * writes) in *psk (caller frees; a secret: never log it). Stop it with
 * ferry_nbd_server_stop. Leftovers of a killed ferry: reap prefix
 * "relay". */
int ferry_nbd_relay_start(const char *work_dir, unsigned seq, const char *upstream,
			  const struct ferry_nbd_relay_opts *o, struct ferry_nbd_server **out,
			  unsigned *port, char **psk, struct ferry_err *err);

/* nbd+unix:///?socket=SOCK, the socket path percent-encoded. Caller frees. */
char *ferry_nbd_socket_uri(const char *sock);

#endif
