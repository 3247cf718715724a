#include "dataplane/endpoint.h"
#include "dataplane/ep_internal.h"

#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

_Alignas(4096) char ferry_ep_zero_buf[FERRY_EP_ZERO_BUF_SIZE];

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct ferry_ep *ferry_ep_alloc(const struct ferry_ep_ops *ops, const char *name, void *priv)
{
	struct ferry_ep *ep = ferry_xcalloc(1, sizeof *ep);

	ep->ops = ops;
	ep->name = ferry_xstrdup(name);
	ep->priv = priv;
	return ep;
}

int ferry_ep_open(const char *spec, const struct ferry_ep_opts *opts, struct ferry_ep **out,
		  struct ferry_err *err)
{
	static const struct ferry_ep_opts no_opts;
	static const char *const nbd_schemes[] = {"nbd://", "nbds://", "nbd+unix://",
						  "nbds+unix://"};
	size_t i;

	*out = NULL;
	if (!spec || !*spec)
		return ferry_err_set(err, FERRY_E_INVALID, "empty endpoint");
	if (!opts)
		opts = &no_opts;
	if (strcmp(spec, "null:") == 0)
		return ferry_ep_null_open(opts, out, err);
	for (i = 0; i < sizeof nbd_schemes / sizeof nbd_schemes[0]; i++)
		if (has_prefix(spec, nbd_schemes[i]))
			return ferry_ep_nbd_open(spec, opts, out, err);
	return ferry_ep_file_open(spec, opts, out, err);
}

void ferry_ep_close(struct ferry_ep *ep)
{
	if (!ep)
		return;
	ep->ops->close(ep);
	free(ep->name);
	free(ep);
}

bool ferry_ep_has_context(const struct ferry_ep *ep, const char *context)
{
	if (!ep || !context || strcmp(ep->ops->kind, "nbd") != 0)
		return false;
	return ferry_ep_nbd_has_context(ep, context);
}
