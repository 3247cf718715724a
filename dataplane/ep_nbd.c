#include "dataplane/endpoint.h"
#include "dataplane/ep_internal.h"

#include "common/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <libnbd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Servers that advertise no maximum may drop the connection above 32 MiB. */
#define NBD_DEFAULT_MAX_REQUEST (32u << 20)
/* libnbd 1.14 carries zero and block-status lengths in 32 bits. */
#define NBD_MAX_ZERO   (1u << 30)
#define NBD_MAX_STATUS (1u << 31)

struct ep_nbd {
	struct nbd_handle *h;
	char *uri; /* as given, secrets included: reopen needs them */
	char **contexts;
	size_t n_contexts;
	uint32_t max_request;
};

/* An EIO from the server or a broken connection may well pass on a retry
 * (after reopen); anything else is the request's or the export's fault. */
static enum ferry_errcode nbd_code(struct nbd_handle *h, int e)
{
	if (e == EIO || e == ESHUTDOWN || e == ECONNRESET || e == EPIPE || e == ENOTCONN ||
	    e == ECONNREFUSED || e == ETIMEDOUT || e == EAGAIN)
		return FERRY_E_RETRYABLE;
	if (h && (nbd_aio_is_dead(h) == 1 || nbd_aio_is_closed(h) == 1))
		return FERRY_E_RETRYABLE;
	if (e == ENOTSUP || e == EOPNOTSUPP || e == EPERM || e == EROFS)
		return FERRY_E_UNSUPPORTED;
	if (e == EINVAL || e == ERANGE || e == EOVERFLOW)
		return FERRY_E_INVALID;
	return FERRY_E_IO;
}

/* libnbd quotes the URI it was given in some messages (a URI it cannot
 * parse): show the redacted name there instead. */
static const char *nbd_msg(const struct ferry_ep *ep)
{
	/* Like nbd_get_error()'s own storage: per thread, valid until the next call. */
	static _Thread_local char buf[FERRY_ERR_MSG_MAX];
	const struct ep_nbd *nbd = ep->priv;
	const char *msg = nbd_get_error();
	const char *hit;

	if (!msg)
		return "unknown error";
	hit = strstr(msg, nbd->uri);
	if (!hit || strcmp(nbd->uri, ep->name) == 0)
		return msg;
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(hit - msg), msg, ep->name,
		 hit + strlen(nbd->uri));
	return buf;
}

static int nbd_fail(struct ferry_ep *ep, struct ferry_err *err, const char *what, uint64_t off)
{
	struct ep_nbd *nbd = ep->priv;

	return ferry_err_set(err, nbd_code(nbd->h, nbd_get_errno()),
			     "%s: %s at offset %" PRIu64 " failed: %s", ep->name, what, off,
			     nbd_msg(ep));
}

/* After a failed reopen there is no handle; the caller may reopen again. */
static int disconnected(struct ferry_ep *ep, struct ferry_err *err)
{
	return ferry_err_set(err, FERRY_E_RETRYABLE, "%s: not connected (reopen failed)", ep->name);
}

static bool drop_param(const char *p, size_t len)
{
	static const char key[] = "password=";

	return len >= sizeof key - 1 && strncmp(p, key, sizeof key - 1) == 0;
}

/* libnbd 1.14 URIs carry no secrets (tls-psk-file names a file), but a
 * user may still write nbd://user:pw@host or ?password=: keep those out of
 * every message. */
static char *redact_uri(const char *uri)
{
	const char *auth = strstr(uri, "://");
	const char *q = strchr(uri, '?');
	const char *at, *colon, *p, *amp;
	char *out = ferry_xmalloc(strlen(uri) + 1);
	size_t o = 0, len;
	char sep = '?';

	auth = auth ? auth + 3 : uri;
	len = strcspn(auth, "/?");
	at = memchr(auth, '@', len);
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	for (p = uri; *p && p != q; p++) {
		if (p == colon)
			p = at;
		out[o++] = *p;
	}
	for (p = q ? q + 1 : p; *p; p = *amp ? amp + 1 : amp) {
		amp = p + strcspn(p, "&");
		len = (size_t)(amp - p);
		if (len == 0 || drop_param(p, len))
			continue;
		out[o++] = sep;
		memcpy(out + o, p, len);
		o += len;
		sep = '&';
	}
	out[o] = '\0';
	return out;
}

static int nbd_connect(struct ferry_ep *ep, struct nbd_handle **out, struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	struct nbd_handle *h;
	bool tls = strncmp(nbd->uri, "nbds", 4) == 0;
	size_t i;
	int ret = -1;

	h = nbd_create();
	if (!h)
		return ferry_err_set(err, FERRY_E_IO, "%s: %s", ep->name, nbd_msg(ep));
	if (nbd_supports_uri(h) != 1) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED, "%s: libnbd was built without URI support",
			      ep->name);
		goto out;
	}
	if (tls && nbd_supports_tls(h) != 1) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED, "%s: libnbd was built without TLS support",
			      ep->name);
		goto out;
	}
	/* tls-psk-file and tls-certificates are refused unless allowed. */
	if (nbd_set_uri_allow_local_file(h, true) == -1 ||
	    (tls && nbd_set_tls(h, LIBNBD_TLS_REQUIRE) == -1) ||
	    nbd_set_handle_name(h, "ferry") == -1 ||
	    /* Every byte of a read buffer is overwritten by the reply or the
	     * read fails; zeroing it first cost 7% of a copy. */
	    nbd_set_pread_initialize(h, false) == -1 ||
	    nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1)
		goto fail;
	for (i = 0; i < nbd->n_contexts; i++)
		if (nbd_add_meta_context(h, nbd->contexts[i]) == -1)
			goto fail;
	if (nbd_connect_uri(h, nbd->uri) == -1)
		goto fail;
	*out = h;
	h = NULL;
	ret = 0;
	goto out;
fail:
	ferry_err_set(err, nbd_code(NULL, nbd_get_errno()), "%s: connect failed: %s", ep->name,
		      nbd_msg(ep));
out:
	if (h)
		nbd_close(h);
	return ret;
}

static int flag(struct ferry_ep *ep, int r, const char *what, bool *b, struct ferry_err *err)
{
	if (r == -1)
		return ferry_err_set(err, FERRY_E_IO, "%s: %s: %s", ep->name, what, nbd_msg(ep));
	*b = r == 1;
	return 0;
}

static int query_info(struct ferry_ep *ep, struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	struct nbd_handle *h = nbd->h;
	struct ferry_ep_info *info = &ep->info;
	int64_t size, bs[3];
	int i;

	memset(info, 0, sizeof *info);
	size = nbd_get_size(h);
	if (size == -1)
		return ferry_err_set(err, FERRY_E_IO, "%s: size: %s", ep->name, nbd_msg(ep));
	info->size = (uint64_t)size;
	for (i = 0; i < 3; i++) {
		bs[i] = nbd_get_block_size(h, i);
		if (bs[i] == -1 || bs[i] > UINT32_MAX)
			bs[i] = 0;
	}
	info->block_min = (uint32_t)bs[LIBNBD_SIZE_MINIMUM];
	info->block_pref = (uint32_t)bs[LIBNBD_SIZE_PREFERRED];
	info->block_max = (uint32_t)bs[LIBNBD_SIZE_MAXIMUM];
	nbd->max_request = NBD_DEFAULT_MAX_REQUEST;
	if (info->block_max && info->block_max < nbd->max_request)
		nbd->max_request = info->block_max;
	if (flag(ep, nbd_can_zero(h), "can_zero", &info->can_zero, err) ||
	    flag(ep, nbd_can_fast_zero(h), "can_fast_zero", &info->can_fast_zero, err) ||
	    flag(ep, nbd_can_trim(h), "can_trim", &info->can_trim, err) ||
	    flag(ep, nbd_can_flush(h), "can_flush", &info->can_flush, err) ||
	    flag(ep, nbd_can_multi_conn(h), "can_multi_conn", &info->can_multi_conn, err) ||
	    flag(ep, nbd_can_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION), "can_meta_context",
		 &info->can_extents, err) ||
	    flag(ep, nbd_is_read_only(h), "is_read_only", &info->readonly, err))
		return -1;
	return 0;
}

static int nbd_ep_pread(struct ferry_ep *ep, void *buf, size_t n, uint64_t off,
			struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	char *p = buf;
	size_t len;

	if (!nbd->h)
		return disconnected(ep, err);
	while (n > 0) {
		len = n < nbd->max_request ? n : nbd->max_request;
		if (nbd_pread(nbd->h, p, len, off, 0) == -1)
			return nbd_fail(ep, err, "read", off);
		p += len;
		off += len;
		n -= len;
	}
	return 0;
}

static int nbd_ep_pwrite(struct ferry_ep *ep, const void *buf, size_t n, uint64_t off,
			 struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	const char *p = buf;
	size_t len;

	if (!nbd->h)
		return disconnected(ep, err);
	while (n > 0) {
		len = n < nbd->max_request ? n : nbd->max_request;
		if (nbd_pwrite(nbd->h, p, len, off, 0) == -1)
			return nbd_fail(ep, err, "write", off);
		p += len;
		off += len;
		n -= len;
	}
	return 0;
}

static int nbd_ep_zero(struct ferry_ep *ep, uint64_t n, uint64_t off, bool may_trim,
		       struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	uint32_t flags = may_trim ? 0 : LIBNBD_CMD_FLAG_NO_HOLE;
	uint64_t max = NBD_MAX_ZERO;
	uint64_t len;

	if (!nbd->h)
		return disconnected(ep, err);
	if (!ep->info.can_zero) {
		max = nbd->max_request < FERRY_EP_ZERO_BUF_SIZE ? nbd->max_request
								: FERRY_EP_ZERO_BUF_SIZE;
	}
	while (n > 0) {
		len = n < max ? n : max;
		if (ep->info.can_zero) {
			if (nbd_zero(nbd->h, len, off, flags) == -1)
				return nbd_fail(ep, err, "zero", off);
		} else if (nbd_pwrite(nbd->h, ferry_ep_zero_buf, len, off, 0) == -1) {
			return nbd_fail(ep, err, "write of zeroes", off);
		}
		off += len;
		n -= len;
	}
	return 0;
}

static int nbd_ep_flush(struct ferry_ep *ep, struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;

	if (!nbd->h)
		return disconnected(ep, err);
	if (!ep->info.can_flush)
		return 0;
	if (nbd_flush(nbd->h, 0) == -1)
		return ferry_err_set(err, nbd_code(nbd->h, nbd_get_errno()), "%s: flush failed: %s",
				     ep->name, nbd_msg(ep));
	return 0;
}

/* ---- asynchronous requests ---- */

static int aio_complete(void *user_data, int *error)
{
	struct ferry_aio *aio = user_data;

	if (*error && !aio->error)
		aio->error = *error;
	aio->pending--;
	return 1; /* retire the command */
}

/* Send one command per chunk of at most max bytes; issue() returns the
 * libnbd cookie or -1. */
static int aio_chunks(struct ferry_ep *ep, const char *what, uint64_t n, uint64_t off, uint64_t max,
		      struct ferry_aio *aio, struct ferry_err *err,
		      int64_t (*issue)(struct nbd_handle *h, void *arg, uint64_t done, uint64_t len,
				       uint64_t off, nbd_completion_callback cb),
		      void *arg)
{
	struct ep_nbd *nbd = ep->priv;
	uint64_t done = 0;

	if (!nbd->h)
		return disconnected(ep, err);
	while (done < n) {
		uint64_t len = n - done < max ? n - done : max;
		nbd_completion_callback cb = {.callback = aio_complete, .user_data = aio};

		if (issue(nbd->h, arg, done, len, off + done, cb) == -1)
			return nbd_fail(ep, err, what, off + done);
		aio->pending++;
		done += len;
	}
	return 0;
}

static int64_t issue_pread(struct nbd_handle *h, void *buf, uint64_t done, uint64_t len,
			   uint64_t off, nbd_completion_callback cb)
{
	return nbd_aio_pread(h, (char *)buf + done, len, off, cb, 0);
}

static int64_t issue_pwrite(struct nbd_handle *h, void *buf, uint64_t done, uint64_t len,
			    uint64_t off, nbd_completion_callback cb)
{
	return nbd_aio_pwrite(h, (const char *)buf + done, len, off, cb, 0);
}

static int64_t issue_zero(struct nbd_handle *h, void *arg, uint64_t done, uint64_t len,
			  uint64_t off, nbd_completion_callback cb)
{
	(void)arg;
	(void)done;
	return nbd_aio_zero(h, len, off, cb, 0);
}

static int64_t issue_zero_write(struct nbd_handle *h, void *arg, uint64_t done, uint64_t len,
				uint64_t off, nbd_completion_callback cb)
{
	(void)arg;
	(void)done;
	return nbd_aio_pwrite(h, ferry_ep_zero_buf, len, off, cb, 0);
}

static int nbd_ep_aio_pread(struct ferry_ep *ep, void *buf, size_t n, uint64_t off,
			    struct ferry_aio *aio, struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	return aio_chunks(ep, "read", n, off, nbd->max_request, aio, err, issue_pread, buf);
}

static int nbd_ep_aio_pwrite(struct ferry_ep *ep, const void *buf, size_t n, uint64_t off,
			     struct ferry_aio *aio, struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	/* the write only reads the buffer; libnbd's API takes it as const */
	return aio_chunks(ep, "write", n, off, nbd->max_request, aio, err, issue_pwrite,
			  (void *)(uintptr_t)buf);
}

static int nbd_ep_aio_zero(struct ferry_ep *ep, uint64_t n, uint64_t off, struct ferry_aio *aio,
			   struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;

	if (ep->info.can_zero)
		return aio_chunks(ep, "zero", n, off, NBD_MAX_ZERO, aio, err, issue_zero, NULL);
	return aio_chunks(ep, "write of zeroes", n, off,
			  nbd->max_request < FERRY_EP_ZERO_BUF_SIZE ? nbd->max_request
								    : FERRY_EP_ZERO_BUF_SIZE,
			  aio, err, issue_zero_write, NULL);
}

static int nbd_ep_aio_fd(struct ferry_ep *ep, short *events)
{
	struct ep_nbd *nbd = ep->priv;
	unsigned dir;

	*events = 0;
	if (!nbd->h)
		return -1;
	dir = nbd_aio_get_direction(nbd->h);
	if (dir & LIBNBD_AIO_DIRECTION_READ)
		*events |= POLLIN;
	if (dir & LIBNBD_AIO_DIRECTION_WRITE)
		*events |= POLLOUT;
	return nbd_aio_get_fd(nbd->h);
}

static int nbd_ep_aio_notify(struct ferry_ep *ep, short revents, struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	int rc = 0;

	if (!nbd->h)
		return disconnected(ep, err);
	if (revents & (POLLIN | POLLHUP | POLLERR))
		rc = nbd_aio_notify_read(nbd->h);
	if (rc == 0 && (revents & POLLOUT))
		rc = nbd_aio_notify_write(nbd->h);
	if (rc == -1)
		return ferry_err_set(err, nbd_code(nbd->h, nbd_get_errno()), "%s: %s", ep->name,
				     nbd_msg(ep));
	return 0;
}

static unsigned nbd_ep_aio_in_flight(struct ferry_ep *ep)
{
	struct ep_nbd *nbd = ep->priv;
	int n = nbd->h ? nbd_aio_in_flight(nbd->h) : 0;

	return n > 0 ? (unsigned)n : 0;
}

struct status_ctx {
	const char *context;
	uint64_t end;
	uint64_t pos; /* end of what the callback appended */
	struct ferry_extents *out;
	struct ferry_err *err;
	bool seen, failed;
};

/* Runs under libnbd's handle lock: no nbd_* calls on the handle here. */
static int status_cb(void *opaque, const char *metacontext, uint64_t offset, uint32_t *entries,
		     size_t nr_entries, int *error)
{
	struct status_ctx *c = opaque;
	uint64_t pos = offset;
	size_t i;

	/* A buggy server may answer twice for one context; keep the first. */
	if (strcmp(metacontext, c->context) != 0 || c->seen)
		return 0;
	c->seen = true;
	for (i = 0; i + 1 < nr_entries && pos < c->end; i += 2) {
		uint64_t len = entries[i];

		if (len == 0)
			break;
		if (len > c->end - pos)
			len = c->end - pos;
		if (ferry_extents_append(c->out, pos, len, entries[i + 1], c->err) == -1) {
			c->failed = true;
			*error = EPROTO;
			return -1;
		}
		pos += len;
	}
	c->pos = pos;
	return 0;
}

static int nbd_ep_extents(struct ferry_ep *ep, uint64_t off, uint64_t n, const char *context,
			  struct ferry_extents *out, struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	struct status_ctx c = {.out = out, .err = err};
	nbd_extent_callback cb = {.callback = status_cb, .user_data = &c};
	uint64_t cap = NBD_MAX_STATUS - (ep->info.block_min ? ep->info.block_min : 1);
	int r;

	if (!nbd->h)
		return disconnected(ep, err);
	if (off < ep->info.size && n > ep->info.size - off)
		n = ep->info.size - off;
	if (n > cap)
		n = cap;
	c.context = context ? context : LIBNBD_CONTEXT_BASE_ALLOCATION;
	r = nbd_can_meta_context(nbd->h, c.context);
	if (r == -1)
		return nbd_fail(ep, err, "block status", off);
	if (r == 0 && !context)
		/* No allocation map: everything is data, as the contract says. */
		return ferry_extents_append(out, off, n, 0, err);
	if (r == 0)
		return ferry_err_set(err, FERRY_E_UNSUPPORTED, "%s: server does not offer %s",
				     ep->name, c.context);
	c.end = off + n;
	c.pos = off;
	if (nbd_block_status(nbd->h, n, off, cb, 0) == -1) {
		if (c.failed)
			return -1;
		return nbd_fail(ep, err, "block status", off);
	}
	/* Not out->len: the first extent may have merged into the last. */
	if (c.pos == off)
		return ferry_err_set(err, FERRY_E_IO,
				     "%s: block status at offset %" PRIu64 " returned no extents",
				     ep->name, off);
	return 0;
}

static int nbd_ep_reopen(struct ferry_ep *ep, struct ferry_err *err)
{
	struct ep_nbd *nbd = ep->priv;
	uint64_t old_size = ep->info.size;
	struct nbd_handle *h;

	/* No nbd_shutdown: it waits for the server, which may be what hung. */
	if (nbd->h) {
		nbd_close(nbd->h);
		nbd->h = NULL;
	}
	if (nbd_connect(ep, &h, err) == -1)
		return -1;
	nbd->h = h;
	if (query_info(ep, err) == -1)
		return -1;
	/* Offsets the caller holds are meaningless on a different disk. */
	if (ep->info.size != old_size)
		return ferry_err_set(err, FERRY_E_IO,
				     "%s: size changed across reconnect (%" PRIu64 " -> %" PRIu64
				     ")",
				     ep->name, old_size, ep->info.size);
	return 0;
}

static void nbd_ep_close(struct ferry_ep *ep)
{
	struct ep_nbd *nbd = ep->priv;
	size_t i;

	if (!nbd)
		return;
	/* Best effort: a clean NBD_CMD_DISC; the server flushes on its own. */
	if (nbd->h && nbd_aio_is_ready(nbd->h) == 1)
		nbd_shutdown(nbd->h, 0);
	if (nbd->h)
		nbd_close(nbd->h);
	for (i = 0; i < nbd->n_contexts; i++)
		free(nbd->contexts[i]);
	free(nbd->contexts);
	free(nbd->uri);
	free(nbd);
	ep->priv = NULL;
}

static const struct ferry_ep_ops nbd_ops = {
	.kind = "nbd",
	.pread = nbd_ep_pread,
	.pwrite = nbd_ep_pwrite,
	.zero = nbd_ep_zero,
	.flush = nbd_ep_flush,
	.extents = nbd_ep_extents,
	.reopen = nbd_ep_reopen,
	.close = nbd_ep_close,
	.aio_pread = nbd_ep_aio_pread,
	.aio_pwrite = nbd_ep_aio_pwrite,
	.aio_zero = nbd_ep_aio_zero,
	.aio_fd = nbd_ep_aio_fd,
	.aio_notify = nbd_ep_aio_notify,
	.aio_in_flight = nbd_ep_aio_in_flight,
};

bool ferry_ep_nbd_has_context(const struct ferry_ep *ep, const char *context)
{
	const struct ep_nbd *nbd = ep->priv;

	return nbd->h && nbd_can_meta_context(nbd->h, context) == 1;
}

int ferry_ep_nbd_open(const char *uri, const struct ferry_ep_opts *opts, struct ferry_ep **out,
		      struct ferry_err *err)
{
	struct ep_nbd *nbd = ferry_xcalloc(1, sizeof *nbd);
	struct ferry_ep *ep;
	char *name = redact_uri(uri);
	size_t i;

	nbd->uri = ferry_xstrdup(uri);
	for (i = 0; opts->meta_contexts && opts->meta_contexts[i]; i++)
		;
	nbd->n_contexts = i;
	nbd->contexts = ferry_xcalloc(i + 1, sizeof *nbd->contexts);
	for (i = 0; i < nbd->n_contexts; i++)
		nbd->contexts[i] = ferry_xstrdup(opts->meta_contexts[i]);
	ep = ferry_ep_alloc(&nbd_ops, name, nbd);
	free(name);

	if (nbd_connect(ep, &nbd->h, err) == -1 || query_info(ep, err) == -1)
		goto fail;
	if ((opts->flags & FERRY_EP_WRITE) && ep->info.readonly) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED, "%s: export is read-only", ep->name);
		goto fail;
	}
	*out = ep;
	return 0;
fail:
	ferry_ep_close(ep);
	return -1;
}
