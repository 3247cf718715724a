/* Endpoints: one interface over everything the data plane reads or writes.
 *
 * An endpoint is a const table of operations (like nbdcopy's rw_ops) plus
 * one connection's state. Kinds:
 *   nbd://host[:port]/export, nbd+unix:///export?socket=PATH, nbds://...
 *     (TLS: ?tls-certificates=DIR, or ?tls-psk-file=FILE with the PSK user in the
 *     userinfo: nbds+unix://alice@/?socket=S&tls-psk-file=F; the
 *     libnbd URI parameters), through libnbd;
 *   a local file or block device (path, or file:///path);
 *   null: (discards writes, reads zeroes; for benchmarks).
 *
 * Threads: one struct ferry_ep is used by one thread at a time. For more
 * parallelism open the same spec again (a second NBD connection, which is
 * safe when info.can_multi_conn; a file may always be opened again).
 *
 * Errors: every operation returns 0 or -1 with err set; err->code is
 * FERRY_E_RETRYABLE for failures a retry may cure (EIO from the server, a
 * dropped connection: the caller reconnects with ferry_ep_reopen) and
 * FERRY_E_IO/INVALID/UNSUPPORTED otherwise. Messages name the endpoint and
 * the offset.
 */
#ifndef FERRY_DATAPLANE_ENDPOINT_H
#define FERRY_DATAPLANE_ENDPOINT_H

#include "common/err.h"
#include "dataplane/extent.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	FERRY_EP_READ = 1 << 0,
	FERRY_EP_WRITE = 1 << 1,
	FERRY_EP_CREATE = 1 << 2, /* files: create (sparse) with the given size */
	FERRY_EP_DIRECT = 1 << 3, /* files: O_DIRECT */
};

struct ferry_ep_info {
	uint64_t size;
	uint32_t block_min, block_pref, block_max; /* 0 when the server says nothing */
	bool can_zero, can_fast_zero, can_trim, can_flush, can_multi_conn, can_extents;
	bool is_zero; /* known to read all zeroes now (a file we just created) */
	bool readonly;
};

struct ferry_ep;

/* An asynchronous request's state, owned by the caller and zeroed before
 * the request starts: the endpoint counts the commands it sends for it in
 * pending and decrements as they complete, recording the first errno in
 * error. The request is finished when pending is back to 0. */
struct ferry_aio {
	unsigned pending;
	int error;
};

struct ferry_ep_ops {
	const char *kind; /* "nbd", "file", "null" */
	int (*pread)(struct ferry_ep *ep, void *buf, size_t n, uint64_t off, struct ferry_err *err);
	int (*pwrite)(struct ferry_ep *ep, const void *buf, size_t n, uint64_t off,
		      struct ferry_err *err);
	/* Make [off, off+n) read as zeroes; may_trim allows deallocating. */
	int (*zero)(struct ferry_ep *ep, uint64_t n, uint64_t off, bool may_trim,
		    struct ferry_err *err);
	int (*flush)(struct ferry_ep *ep, struct ferry_err *err);
	/* Append the extents of [off, off+n) in meta context `context` (NULL:
	 * base:allocation) to out. May return fewer bytes than asked (the
	 * caller asks again from where it stopped) but at least one extent.
	 * NULL when the endpoint has no extents (the caller assumes data). */
	int (*extents)(struct ferry_ep *ep, uint64_t off, uint64_t n, const char *context,
		       struct ferry_extents *out, struct ferry_err *err);
	/* Drop the connection and connect again (after a retryable error). */
	int (*reopen)(struct ferry_ep *ep, struct ferry_err *err);
	void (*close)(struct ferry_ep *ep);

	/* Asynchronous requests; optional (NULL: use the calls above). A
	 * request completes inside a later aio_notify() on the same endpoint;
	 * its buffer must stay valid until then. If starting fails, commands
	 * already sent for it still complete (wait for pending == 0). */
	int (*aio_pread)(struct ferry_ep *ep, void *buf, size_t n, uint64_t off,
			 struct ferry_aio *aio, struct ferry_err *err);
	int (*aio_pwrite)(struct ferry_ep *ep, const void *buf, size_t n, uint64_t off,
			  struct ferry_aio *aio, struct ferry_err *err);
	int (*aio_zero)(struct ferry_ep *ep, uint64_t n, uint64_t off, struct ferry_aio *aio,
			struct ferry_err *err);
	/* The descriptor to poll and the events (POLLIN, POLLOUT) the endpoint
	 * waits for now; -1 when it is not connected. */
	int (*aio_fd)(struct ferry_ep *ep, short *events);
	/* Make progress after poll(2) reported revents; completes requests.
	 * A dead connection completes every request in flight with an error. */
	int (*aio_notify)(struct ferry_ep *ep, short revents, struct ferry_err *err);
	unsigned (*aio_in_flight)(struct ferry_ep *ep);
};

struct ferry_ep {
	const struct ferry_ep_ops *ops;
	struct ferry_ep_info info;
	char *name; /* for messages: the spec with any secret parameters removed */
	void *priv;
};

struct ferry_ep_opts {
	unsigned flags;	      /* FERRY_EP_* */
	uint64_t create_size; /* with FERRY_EP_CREATE */
	/* NBD: meta contexts to request besides base:allocation (e.g.
	 * "qemu:dirty-bitmap:bm0"); NULL-terminated, may be NULL. */
	const char *const *meta_contexts;
};

/* Open an endpoint from a spec (see above). The caller frees with
 * ferry_ep_close(). */
int ferry_ep_open(const char *spec, const struct ferry_ep_opts *opts, struct ferry_ep **out,
		  struct ferry_err *err);
void ferry_ep_close(struct ferry_ep *ep);

/* Does the endpoint (NBD) support this meta context? Always false for
 * files and null. */
bool ferry_ep_has_context(const struct ferry_ep *ep, const char *context);

#endif
