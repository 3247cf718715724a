/* A fork server for copy workers.
 *
 * Starting `ferry-copy` costs about 4 ms of CPU, most of it the kernel and
 * the dynamic loader mapping and relocating libnbd's 20-odd libraries
 * (gnutls, libxml2, ICU, libstdc++). A pass that starts 500 copies paid
 * that 500 times, on the same 2 CPUs as the pass itself. So the engine
 * starts one `ferry-copy --forkserver NICE` with the libraries loaded, and
 * asks it for each worker: the server forks, and the child runs the copy
 * as `ferry-copy` would. Each copy is still its own process (a crashing
 * copy takes nothing else down), nice NICE from its first instruction.
 *
 * Protocol, over a SOCK_SEQPACKET socket pair (one message per packet):
 *   engine -> server  'S' OUT \0 ERR \0 ARGV0 \0 ARGV1 \0 ...  [fd 3 of the
 *                     child as SCM_RIGHTS]: start a worker with stdout
 *                     truncated to OUT, stderr appended to ERR (0600)
 *   server -> engine  'P' pid (int32; -errno when fork failed)
 *   server -> engine  'X' pid status (int32 each, as waitpid): a worker ended
 * The server dies with the engine (FERRY_TIED_TO), leaves when the socket
 * closes, and its children die with it (PR_SET_PDEATHSIG SIGTERM: a copy
 * keeps its checkpoint and is resumed by the next engine).
 */
#ifndef FERRY_RECONCILER_FORKSERVER_H
#define FERRY_RECONCILER_FORKSERVER_H

#include "common/util.h"

#include <stdbool.h>
#include <sys/types.h>

struct ferry_forkserver;

/* Start the server program (ferry-copy) at path; its workers run at nice.
 * NULL with errno set when it cannot start. */
struct ferry_forkserver *ferry_forkserver_start(const char *path, int nice);

/* Start a worker with argv (argv[0] is its name), stdout, stderr and fd 3
 * as io says (io->out and io->err are required). Returns its pid, or -1
 * with errno set; after a failure of the server itself (it died, the
 * socket broke), ferry_forkserver_alive() is false and every later call
 * fails: start workers another way. */
pid_t ferry_forkserver_spawn(struct ferry_forkserver *fs, char *const argv[],
			     const struct ferry_spawn_io *io);

/* Wait until worker pid has ended and give its waitpid status. Returns 0,
 * or -1 (ECHILD when the server is gone without saying). */
int ferry_forkserver_wait(struct ferry_forkserver *fs, pid_t pid, int *status);

bool ferry_forkserver_alive(const struct ferry_forkserver *fs);

/* Close the socket (the server leaves, its remaining workers get SIGTERM)
 * and reap the server. */
void ferry_forkserver_close(struct ferry_forkserver *fs);

/* The server's side: serve requests on sock until it closes, running
 * run(argc, argv) in each forked child (whose exit status is run's return
 * value). Returns the server's exit status. */
int ferry_forkserver_serve(int sock, int nice, int (*run)(int argc, char **argv));

#endif
