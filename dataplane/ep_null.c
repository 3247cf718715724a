#include "dataplane/endpoint.h"
#include "dataplane/ep_internal.h"

#include <string.h>

static int null_pread(struct ferry_ep *ep, void *buf, size_t n, uint64_t off, struct ferry_err *err)
{
	(void)ep;
	(void)off;
	(void)err;
	memset(buf, 0, n);
	return 0;
}

static int null_pwrite(struct ferry_ep *ep, const void *buf, size_t n, uint64_t off,
		       struct ferry_err *err)
{
	(void)ep;
	(void)buf;
	(void)n;
	(void)off;
	(void)err;
	return 0;
}

static int null_zero(struct ferry_ep *ep, uint64_t n, uint64_t off, bool may_trim,
		     struct ferry_err *err)
{
	(void)ep;
	(void)n;
	(void)off;
	(void)may_trim;
	(void)err;
	return 0;
}

static int null_flush(struct ferry_ep *ep, struct ferry_err *err)
{
	(void)ep;
	(void)err;
	return 0;
}

static int null_extents(struct ferry_ep *ep, uint64_t off, uint64_t n, const char *context,
			struct ferry_extents *out, struct ferry_err *err)
{
	(void)ep;
	if (context && strcmp(context, "base:allocation") != 0)
		return ferry_err_set(err, FERRY_E_UNSUPPORTED, "null: has no meta context %s",
				     context);
	return ferry_extents_append(out, off, n, FERRY_EXT_HOLE | FERRY_EXT_ZERO, err);
}

static int null_reopen(struct ferry_ep *ep, struct ferry_err *err)
{
	(void)ep;
	(void)err;
	return 0;
}

static void null_close(struct ferry_ep *ep)
{
	(void)ep;
}

static const struct ferry_ep_ops null_ops = {
	.kind = "null",
	.pread = null_pread,
	.pwrite = null_pwrite,
	.zero = null_zero,
	.flush = null_flush,
	.extents = null_extents,
	.reopen = null_reopen,
	.close = null_close,
};

int ferry_ep_null_open(const struct ferry_ep_opts *opts, struct ferry_ep **out,
		       struct ferry_err *err)
{
	struct ferry_ep *ep;

	(void)err;
	ep = ferry_ep_alloc(&null_ops, "null:", NULL);
	ep->info = (struct ferry_ep_info){
		.size = FERRY_EP_SIZE_ANY,
		.can_zero = true,
		.can_fast_zero = true,
		.can_trim = true,
		.can_flush = true,
		.can_multi_conn = true,
		.can_extents = true,
		.is_zero = true,
		.readonly = !(opts->flags & FERRY_EP_WRITE),
	};
	*out = ep;
	return 0;
}
