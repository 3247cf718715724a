/* Private to the endpoint implementations (endpoint.c, ep_nbd.c, ep_file.c,
 * ep_null.c); nothing outside dataplane/ep*.c includes this.
 *
 * Ownership: ferry_ep_alloc() returns an endpoint whose name is a copy of
 * the given one. A kind's ops->close releases only what the kind put in
 * ep->priv; ferry_ep_close() then frees ep->name and ep itself.
 *
 * The null endpoint has info.size == FERRY_EP_SIZE_ANY: it accepts any
 * offset and length, so as a destination it fits every source. A caller
 * comparing sizes treats it as "large enough".
 */
#ifndef FERRY_DATAPLANE_EP_INTERNAL_H
#define FERRY_DATAPLANE_EP_INTERNAL_H

#include "dataplane/endpoint.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FERRY_EP_SIZE_ANY UINT64_MAX

/* A buffer of zeroes for writing zeroes where no zero command exists;
 * aligned for O_DIRECT. Never written to. */
#define FERRY_EP_ZERO_BUF_SIZE (1u << 20)
extern char ferry_ep_zero_buf[FERRY_EP_ZERO_BUF_SIZE];

struct ferry_ep *ferry_ep_alloc(const struct ferry_ep_ops *ops, const char *name, void *priv);

/* The constructors ferry_ep_open() dispatches to; same contract. */
int ferry_ep_nbd_open(const char *uri, const struct ferry_ep_opts *opts, struct ferry_ep **out,
		      struct ferry_err *err);
int ferry_ep_file_open(const char *spec, const struct ferry_ep_opts *opts, struct ferry_ep **out,
		       struct ferry_err *err);
int ferry_ep_null_open(const struct ferry_ep_opts *opts, struct ferry_ep **out,
		       struct ferry_err *err);

/* ep must be an NBD endpoint (ops->kind "nbd"). */
bool ferry_ep_nbd_has_context(const struct ferry_ep *ep, const char *context);

#endif
