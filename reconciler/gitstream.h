/* libgit2's TCP stream replaced by one with TCP_NODELAY (see gitstream.c).
 * Call after each git_libgit2_init() (libgit2 forgets it at shutdown). */
#ifndef FERRY_RECONCILER_GITSTREAM_H
#define FERRY_RECONCILER_GITSTREAM_H

void ferry_git_register_stream(void);

#endif
