#include "dataplane/copy.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/time.h"
#include "dataplane/checkpoint.h"
#include "dataplane/endpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CONNECTIONS    4
#define DEFAULT_REQUEST	       (256u << 10)
#define DEFAULT_MEMORY	       (256u << 20)
#define DEFAULT_RETRIES	       5
#define DEFAULT_ASYNC_REQUESTS 64
#define MAX_WORKERS	       64
#define EXTENT_QUERY	       (1ull << 30) /* bytes of map asked for at once */
#define ZERO_REQUEST	       (1ull << 30) /* bytes per zero request */
#define CKPT_INTERVAL_BYTES    (1ull << 30) /* flush + checkpoint this often */
#define CKPT_INTERVAL_SEC      5.0

struct engine {
	const char *src_spec, *dst_spec;
	const struct ferry_copy_opts *o;
	uint64_t size;
	uint64_t total;	  /* bytes this copy covers: the disk, or the changed ranges */
	bool dst_fresh;	  /* destination reads as zero where we do not write */
	bool incremental; /* only some ranges: zero extents must be written */
	size_t request;
	unsigned workers;

	struct ferry_extents work; /* split into requests */
	pthread_mutex_t lock;
	size_t next; /* index into work, under lock */

	_Atomic uint64_t done, read, written, zeroed, skipped;
	_Atomic unsigned retries;
	atomic_bool failed;
	struct ferry_err err; /* first failure, under lock */

	struct ferry_ckpt *ckpt; /* under lock */

	/* rate limit: the time (s) the next data request may start, under lock */
	double rate_next;

	pthread_mutex_t progress_lock;
	double start, last_progress, last_rate_t;
	uint64_t last_rate_done;
	double rate;
};

static void fail(struct engine *e, const struct ferry_err *err)
{
	pthread_mutex_lock(&e->lock);
	if (!atomic_load(&e->failed)) {
		e->err = *err;
		atomic_store(&e->failed, true);
	}
	pthread_mutex_unlock(&e->lock);
}

static bool stopping(struct engine *e)
{
	return atomic_load(&e->failed) || (e->o->cancel && atomic_load(e->o->cancel));
}

/* Word-at-a-time scan; the compiler vectorises the inner loop. */
static bool all_zero(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint64_t acc = 0;
	size_t i = 0;

	for (; i + 64 <= n; i += 64) {
		uint64_t w[8];
		memcpy(w, p + i, sizeof w);
		acc |= w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7];
		if (acc)
			return false;
	}
	for (; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static void report_progress(struct engine *e, bool force)
{
	struct ferry_copy_progress p;
	double t, every = e->o->progress_interval > 0 ? e->o->progress_interval : 0.1;

	if (!e->o->progress)
		return;
	t = ferry_monotonic();
	pthread_mutex_lock(&e->progress_lock);
	if (!force && t - e->last_progress < every) {
		pthread_mutex_unlock(&e->progress_lock);
		return;
	}
	e->last_progress = t;
	p.total = e->total;
	p.done = atomic_load(&e->done);
	p.data = atomic_load(&e->written);
	p.seconds = t - e->start;
	if (t - e->last_rate_t >= 1.0) {
		e->rate = (double)(p.done - e->last_rate_done) / (t - e->last_rate_t);
		e->last_rate_t = t;
		e->last_rate_done = p.done;
	}
	p.rate = e->rate > 0 ? e->rate : (p.seconds > 0 ? (double)p.done / p.seconds : 0);
	e->o->progress(e->o->progress_arg, &p);
	pthread_mutex_unlock(&e->progress_lock);
}

static void rate_limit(struct engine *e, uint64_t bytes)
{
	double wait;

	if (!e->o->rate_limit)
		return;
	pthread_mutex_lock(&e->lock);
	if (e->rate_next < ferry_monotonic())
		e->rate_next = ferry_monotonic();
	wait = e->rate_next - ferry_monotonic();
	e->rate_next += (double)bytes / (double)e->o->rate_limit;
	pthread_mutex_unlock(&e->lock);
	/* many workers queue up behind a low limit: a copy that is cancelled
	 * or failed must not sleep out the queue (seconds) before it stops */
	while (wait > 0 && !stopping(e)) {
		ferry_sleep(wait < 0.05 ? wait : 0.05);
		wait -= 0.05;
	}
}

enum op { OP_READ, OP_WRITE, OP_ZERO, OP_FLUSH };

/* One operation with retries: a retryable failure reconnects the endpoint
 * and tries again after a capped exponential backoff. */
static int do_op(struct engine *e, struct ferry_ep *ep, enum op op, void *buf, uint64_t len,
		 uint64_t off, struct ferry_err *err)
{
	unsigned max = e->o->max_retries ? e->o->max_retries : DEFAULT_RETRIES;
	double backoff = 0.1;

	for (unsigned attempt = 0;; attempt++) {
		int rc;
		switch (op) {
		case OP_READ: rc = ep->ops->pread(ep, buf, len, off, err); break;
		case OP_WRITE: rc = ep->ops->pwrite(ep, buf, len, off, err); break;
		case OP_ZERO: rc = ep->ops->zero(ep, len, off, true, err); break;
		default: rc = ep->ops->flush(ep, err); break;
		}
		if (!rc)
			return 0;
		if (err->code != FERRY_E_RETRYABLE || attempt >= max || stopping(e))
			return -1;
		atomic_fetch_add(&e->retries, 1);
		ferry_sleep(backoff);
		backoff = backoff * 2 > 5 ? 5 : backoff * 2;
		if (ep->ops->reopen) {
			struct ferry_err rerr = FERRY_ERR_INIT;
			/* a failed reconnect is just another failed attempt */
			if (ep->ops->reopen(ep, &rerr))
				*err = rerr;
		}
	}
}

struct worker {
	struct engine *e;
	struct ferry_ep *src, *dst;
	void *buf;
	unsigned nreqs;		      /* requests in flight (asynchronous workers) */
	struct ferry_extents pending; /* done since the last flush */
	uint64_t pending_bytes;
	double last_ckpt;
};

/* Make this worker's finished ranges durable: flush its destination
 * connection, then record them. */
static int commit_pending(struct worker *w, struct ferry_err *err)
{
	struct engine *e = w->e;
	int rc = 0;

	if (!w->pending.len)
		return 0;
	if (do_op(e, w->dst, OP_FLUSH, NULL, 0, 0, err))
		return -1;
	if (e->ckpt) {
		pthread_mutex_lock(&e->lock);
		rc = ferry_ckpt_add(e->ckpt, &w->pending, err);
		pthread_mutex_unlock(&e->lock);
	}
	ferry_extents_reset(&w->pending);
	w->pending_bytes = 0;
	w->last_ckpt = ferry_monotonic();
	return rc;
}

static void note_done(struct worker *w, const struct ferry_extent *x)
{
	struct ferry_extent *p;

	atomic_fetch_add(&w->e->done, x->len);
	if (!w->e->ckpt)
		return;
	/* workers take requests in order, so this usually extends the last */
	if (w->pending.len) {
		p = &w->pending.v[w->pending.len - 1];
		if (p->off + p->len == x->off) {
			p->len += x->len;
			w->pending_bytes += x->len;
			return;
		}
	}
	w->pending.v =
		ferry_grow(w->pending.v, &w->pending.cap, w->pending.len + 1, sizeof *w->pending.v);
	w->pending.v[w->pending.len++] = (struct ferry_extent){x->off, x->len, 0};
	w->pending_bytes += x->len;
}

static int zero_range_sync(struct worker *w, uint64_t len, uint64_t off, struct ferry_err *err)
{
	struct engine *e = w->e;

	if (e->dst_fresh && !e->incremental) {
		atomic_fetch_add(&e->skipped, len);
		return 0;
	}
	if (do_op(e, w->dst, OP_ZERO, NULL, len, off, err))
		return -1;
	atomic_fetch_add(&e->zeroed, len);
	return 0;
}

static int copy_one(struct worker *w, const struct ferry_extent *x, struct ferry_err *err)
{
	struct engine *e = w->e;

	if (x->flags & FERRY_EXT_ZERO)
		return zero_range_sync(w, x->len, x->off, err);
	rate_limit(e, x->len);
	if (do_op(e, w->src, OP_READ, w->buf, x->len, x->off, err))
		return -1;
	atomic_fetch_add(&e->read, x->len);
	if (all_zero(w->buf, x->len))
		return zero_range_sync(w, x->len, x->off, err);
	if (do_op(e, w->dst, OP_WRITE, w->buf, x->len, x->off, err))
		return -1;
	atomic_fetch_add(&e->written, x->len);
	return 0;
}

/* The next request from the shared work list; false when none is left. */
static bool take_next(struct engine *e, struct ferry_extent *x)
{
	bool more;

	pthread_mutex_lock(&e->lock);
	more = e->next < e->work.len;
	if (more)
		*x = e->work.v[e->next++];
	pthread_mutex_unlock(&e->lock);
	return more;
}

/* Whatever happened, make the worker's finished part durable and recorded:
 * the next run must not redo it, and must not trust what is not flushed. */
static void finish_worker(struct worker *w)
{
	struct ferry_err err = FERRY_ERR_INIT;

	if (w->pending.len) {
		if (commit_pending(w, &err))
			fail(w->e, &err);
	} else if (!stopping(w->e) && do_op(w->e, w->dst, OP_FLUSH, NULL, 0, 0, &err)) {
		fail(w->e, &err);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine *e = w->e;
	struct ferry_err err = FERRY_ERR_INIT;

	for (;;) {
		struct ferry_extent x;

		if (stopping(e))
			break;
		if (!take_next(e, &x))
			break;
		if (copy_one(w, &x, &err)) {
			fail(e, &err);
			break;
		}
		note_done(w, &x);
		if (e->ckpt &&
		    (w->pending_bytes >= CKPT_INTERVAL_BYTES ||
		     ferry_monotonic() - w->last_ckpt >= CKPT_INTERVAL_SEC) &&
		    commit_pending(w, &err)) {
			fail(e, &err);
			break;
		}
		report_progress(e, false);
	}
	finish_worker(w);
	return NULL;
}

/* ---- asynchronous workers --------------------------------------------- */

/* With an endpoint that has asynchronous requests, one worker keeps many
 * requests in flight on its connection pair and waits in poll(2) on both,
 * instead of one request at a time: the difference between waiting for
 * every round trip and keeping the socket busy. A request's life: read
 * (source) -> write or zero (destination) -> done. An end without aio
 * calls is driven synchronously in the same loop. Any failure drains what
 * is in flight and then redoes the failed request with the synchronous,
 * retrying path, so that reconnecting never abandons a request in flight. */

enum rstate { R_FREE, R_READ, R_WRITE, R_FAILED };

struct req {
	struct ferry_aio aio;
	enum rstate state;
	struct ferry_extent x;
	void *buf;
	bool to_dst; /* the pending aio is on the destination */
	enum { DID_WRITE, DID_ZERO, DID_SKIP } did;
	struct ferry_err err;
};

static bool has_aio(const struct ferry_ep *ep)
{
	return ep->ops->aio_pread && ep->ops->aio_fd && ep->ops->aio_notify;
}

/* Start the destination half: write the buffer or zero the range. Bytes
 * are counted when the request completes, by what it did. */
static void start_dst(struct worker *w, struct req *r, bool zero)
{
	struct engine *e = w->e;
	int rc;

	memset(&r->aio, 0, sizeof r->aio);
	r->to_dst = true;
	r->state = R_WRITE;
	if (zero && e->dst_fresh && !e->incremental) {
		r->did = DID_SKIP; /* nothing to wait for */
		return;
	}
	r->did = zero ? DID_ZERO : DID_WRITE;
	if (!has_aio(w->dst))
		rc = zero ? do_op(e, w->dst, OP_ZERO, NULL, r->x.len, r->x.off, &r->err)
			  : do_op(e, w->dst, OP_WRITE, r->buf, r->x.len, r->x.off, &r->err);
	else if (zero)
		rc = w->dst->ops->aio_zero(w->dst, r->x.len, r->x.off, &r->aio, &r->err);
	else
		rc = w->dst->ops->aio_pwrite(w->dst, r->buf, r->x.len, r->x.off, &r->aio, &r->err);
	if (rc)
		r->state = R_FAILED;
}

static void count_done(struct engine *e, const struct req *r)
{
	_Atomic uint64_t *c = r->did == DID_SKIP   ? &e->skipped
			      : r->did == DID_ZERO ? &e->zeroed
						   : &e->written;
	atomic_fetch_add(c, r->x.len);
}

static void start_req(struct worker *w, struct req *r, const struct ferry_extent *x)
{
	struct engine *e = w->e;

	r->x = *x;
	r->to_dst = false;
	ferry_err_clear(&r->err);
	if (x->flags & FERRY_EXT_ZERO) {
		start_dst(w, r, true);
		return;
	}
	rate_limit(e, x->len);
	memset(&r->aio, 0, sizeof r->aio);
	r->state = R_READ;
	if (!has_aio(w->src)) {
		if (do_op(e, w->src, OP_READ, r->buf, x->len, x->off, &r->err))
			r->state = R_FAILED;
		return;
	}
	if (w->src->ops->aio_pread(w->src, r->buf, x->len, x->off, &r->aio, &r->err))
		r->state = R_FAILED;
}

/* The synchronous path for a request whose asynchronous attempt failed,
 * with retries and reconnects (nothing else is in flight by now). */
static int redo_sync(struct worker *w, struct req *r, struct ferry_err *err)
{
	int rc = copy_one(w, &r->x, err);

	r->state = R_FREE;
	if (!rc)
		note_done(w, &r->x);
	return rc;
}

static unsigned in_flight(const struct req *rs, unsigned n)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++)
		k += rs[i].aio.pending > 0;
	return k;
}

/* Writes that finished (synchronously, or skipped) but are not yet
 * recorded by the advance loop. */
static bool waiting_writes(const struct req *rs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (rs[i].state == R_WRITE && !rs[i].aio.pending)
			return true;
	return false;
}

static int poll_ends(struct worker *w, int timeout_ms, struct ferry_err *err)
{
	struct ferry_ep *eps[2] = {w->src, w->dst};
	struct pollfd pfd[2];
	int idx[2], n = 0;

	for (int i = 0; i < 2; i++) {
		short ev;
		int fd;
		if (!has_aio(eps[i]) || !eps[i]->ops->aio_in_flight(eps[i]))
			continue;
		fd = eps[i]->ops->aio_fd(eps[i], &ev);
		if (fd < 0 || !ev)
			continue;
		pfd[n].fd = fd;
		pfd[n].events = ev;
		pfd[n].revents = 0;
		idx[n++] = i;
	}
	if (!n)
		return 0;
	if (poll(pfd, (nfds_t)n, timeout_ms) < 0 && errno != EINTR)
		return ferry_err_set(err, FERRY_E_IO, "poll: %s", strerror(errno));
	for (int j = 0; j < n; j++) {
		struct ferry_ep *ep = eps[idx[j]];
		/* A failure here completes the requests in flight with errors;
		 * they are redone one by one. */
		if (pfd[j].revents && ep->ops->aio_notify(ep, pfd[j].revents, err))
			ferry_err_clear(err);
	}
	return 0;
}

static void *worker_async(void *arg)
{
	struct worker *w = arg;
	struct engine *e = w->e;
	unsigned n = w->nreqs;
	struct req *rs = ferry_xcalloc(n, sizeof *rs);
	struct ferry_err err = FERRY_ERR_INIT;
	bool more = true, draining = false;

	for (unsigned i = 0; i < n; i++)
		rs[i].buf = (char *)w->buf + (size_t)i * e->request;
	for (;;) {
		bool failed = false;

		/* advance finished requests */
		for (unsigned i = 0; i < n; i++) {
			struct req *r = &rs[i];
			if (r->state == R_FREE || r->aio.pending)
				continue;
			if (r->state == R_FAILED || r->aio.error) {
				if (r->state != R_FAILED)
					ferry_err_set(&r->err, FERRY_E_RETRYABLE,
						      "%s at offset %" PRIu64 ": %s",
						      r->to_dst ? "write" : "read", r->x.off,
						      strerror(r->aio.error));
				r->state = R_FAILED;
				failed = true;
				continue;
			}
			if (r->state == R_READ) {
				atomic_fetch_add(&e->read, r->x.len);
				if (stopping(e)) { /* not written: a resume redoes it */
					r->state = R_FREE;
					continue;
				}
				start_dst(w, r, all_zero(r->buf, r->x.len));
			} else { /* R_WRITE finished */
				count_done(e, r);
				note_done(w, &r->x);
				r->state = R_FREE;
			}
		}
		/* failures: stop starting, drain, then redo each synchronously */
		if (failed || draining) {
			draining = true;
			if (in_flight(rs, n) == 0) {
				for (unsigned i = 0; i < n; i++) {
					if (rs[i].state != R_FAILED)
						continue;
					atomic_fetch_add(&e->retries, 1);
					if (redo_sync(w, &rs[i], &err)) {
						fail(e, &err);
						goto out;
					}
				}
				draining = false;
			}
		}
		if (stopping(e) && in_flight(rs, n) == 0 && !waiting_writes(rs, n))
			break;
		/* checkpoint: only what is flushed, with nothing in flight */
		if (e->ckpt && !draining &&
		    (w->pending_bytes >= CKPT_INTERVAL_BYTES ||
		     ferry_monotonic() - w->last_ckpt >= CKPT_INTERVAL_SEC)) {
			if (in_flight(rs, n) == 0) {
				if (commit_pending(w, &err)) {
					fail(e, &err);
					goto out;
				}
			} else {
				draining = true; /* let the flight land first */
			}
		}
		/* start new requests in free slots */
		for (unsigned i = 0; more && !draining && !stopping(e) && i < n; i++) {
			struct ferry_extent x;
			if (rs[i].state != R_FREE)
				continue;
			more = take_next(e, &x);
			if (more)
				start_req(w, &rs[i], &x);
		}
		if (!more && in_flight(rs, n) == 0) {
			bool idle = true;
			for (unsigned i = 0; i < n; i++)
				idle &= rs[i].state == R_FREE;
			if (idle)
				break;
			continue; /* synchronous halves still to advance */
		}
		if (poll_ends(w, 100, &err)) {
			fail(e, &err);
			goto out;
		}
		report_progress(e, false);
	}
	finish_worker(w);
out:
	/* nothing may still write into the buffers when they are freed */
	while (in_flight(rs, n) && !poll_ends(w, 100, &err))
		;
	free(rs);
	return NULL;
}

/* ---- planning ---------------------------------------------------------- */

static int read_map(struct ferry_ep *ep, const char *context, uint64_t size,
		    struct ferry_extents *out, struct ferry_err *err)
{
	uint64_t off = 0;

	ferry_extents_reset(out);
	if (!ep->ops->extents || (!context && !ep->info.can_extents))
		return ferry_extents_append(out, 0, size, 0, err);
	while (off < size) {
		uint64_t n = size - off > EXTENT_QUERY ? EXTENT_QUERY : size - off;
		uint64_t end;

		if (ep->ops->extents(ep, off, n, context, out, err))
			return -1;
		/* A new extent may merge into the previous one, so progress is
		 * measured by where the list ends, not by its length. */
		end = out->len ? out->v[out->len - 1].off + out->v[out->len - 1].len : 0;
		if (end <= off)
			return ferry_err_set(err, FERRY_E_IO,
					     "%s: extents do not advance at offset %" PRIu64,
					     ep->name, off);
		off = end > size ? size : end;
	}
	return 0;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;
	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

static int plan(struct engine *e, struct ferry_ep *src, struct ferry_ep *dst,
		const struct ferry_extents *done, struct ferry_err *err)
{
	struct ferry_extents map = FERRY_EXTENTS_INIT, ranges = FERRY_EXTENTS_INIT,
			     a = FERRY_EXTENTS_INIT, b = FERRY_EXTENTS_INIT;
	uint32_t align = 1;
	int rc = -1;

	if (read_map(src, NULL, e->size, &map, err))
		goto out;
	if (e->o->bitmap) {
		char ctx[512];
		snprintf(ctx, sizeof ctx, "qemu:dirty-bitmap:%s", e->o->bitmap);
		if (!ferry_ep_has_context(src, ctx)) {
			ferry_err_set(err, FERRY_E_UNSUPPORTED, "%s does not export %s", src->name,
				      ctx);
			goto out;
		}
		if (read_map(src, ctx, e->size, &a, err))
			goto out;
		for (size_t i = 0; i < a.len; i++)
			if (a.v[i].flags & FERRY_EXT_DIRTY)
				ferry_extents_append(&ranges, a.v[i].off, a.v[i].len, 0, NULL);
		e->incremental = true;
	} else if (e->o->changed) {
		for (size_t i = 0; i < e->o->changed->len; i++) {
			const struct ferry_extent *c = &e->o->changed->v[i];
			uint64_t end = c->off + c->len;
			if (c->off >= e->size)
				continue;
			ranges.v =
				ferry_grow(ranges.v, &ranges.cap, ranges.len + 1, sizeof *ranges.v);
			ranges.v[ranges.len++] = (struct ferry_extent){
				c->off, (end > e->size ? e->size : end) - c->off, 0};
		}
		ferry_extents_union(&ranges);
		e->incremental = true;
	}
	if (e->incremental) {
		ferry_extents_intersect(&map, &ranges, &a);
	} else {
		ferry_extents_reset(&a);
		for (size_t i = 0; i < map.len; i++)
			ferry_extents_append(&a, map.v[i].off, map.v[i].len, map.v[i].flags, NULL);
	}
	e->total = ferry_extents_bytes(&a, 0, 0);
	if (done->len) {
		ferry_extents_subtract(&a, done, &b);
		ferry_extents_reset(&a);
		for (size_t i = 0; i < b.len; i++)
			ferry_extents_append(&a, b.v[i].off, b.v[i].len, b.v[i].flags, NULL);
		atomic_store(&e->done, e->total - ferry_extents_bytes(&a, 0, 0));
	}
	/* A request must not cut a block of either end: widen data to the
	 * larger minimum block size. */
	if (src->info.block_min > align)
		align = src->info.block_min;
	if (dst->info.block_min > align)
		align = dst->info.block_min;
	ferry_extents_align(&a, pow2_at_least(align), e->size, &b);
	/* Data goes in requests of the request size; a zero request carries no
	 * payload, so zero extents go in pieces of up to ZERO_REQUEST: thousands
	 * fewer round trips on a sparse disk. */
	ferry_extents_split(&b, e->request, ZERO_REQUEST, &e->work);
	rc = 0;
out:
	ferry_extents_release(&map);
	ferry_extents_release(&ranges);
	ferry_extents_release(&a);
	ferry_extents_release(&b);
	return rc;
}

/* ---- verify ------------------------------------------------------------ */

struct verify {
	struct engine *e;
	uint64_t block;
	size_t nblocks;
	unsigned char (*src_md)[32], (*dst_md)[32];
	struct ferry_extents src_map, dst_map;
	size_t next; /* under e->lock */
	unsigned char zero_md[32], zero_tail_md[32];
	_Atomic uint64_t mismatch; /* lowest differing offset, UINT64_MAX if none */
};

/* Does the map say [off, off+len) reads as zero? The map is sorted. */
static bool map_zero(const struct ferry_extents *m, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	size_t lo = 0, hi = m->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].off + m->v[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < m->len; i++) {
		const struct ferry_extent *x = &m->v[i];
		if (x->off > off || !(x->flags & FERRY_EXT_ZERO))
			return false;
		if (x->off + x->len >= end)
			return true;
		off = x->off + x->len;
	}
	return false;
}

static int hash_block(struct verify *v, struct engine *e, struct ferry_ep *ep,
		      const struct ferry_extents *map, void *buf, uint64_t off, uint64_t len,
		      unsigned char md[32], struct ferry_err *err)
{
	const unsigned char *zmd = len == v->block ? v->zero_md : v->zero_tail_md;

	/* Zero blocks cost nothing: the map says so, no read needed. */
	if (map_zero(map, off, len)) {
		memcpy(md, zmd, 32);
		return 0;
	}
	if (do_op(e, ep, OP_READ, buf, len, off, err))
		return -1;
	if (all_zero(buf, len))
		memcpy(md, zmd, 32);
	else
		EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL);
	return 0;
}

struct vworker {
	struct verify *v;
	struct worker *w;
	void *buf;
};

static void *verify_main(void *arg)
{
	struct vworker *vw = arg;
	struct verify *v = vw->v;
	struct engine *e = v->e;
	struct ferry_err err = FERRY_ERR_INIT;

	for (;;) {
		size_t i;
		uint64_t off, len;

		if (stopping(e))
			break;
		pthread_mutex_lock(&e->lock);
		i = v->next++;
		pthread_mutex_unlock(&e->lock);
		if (i >= v->nblocks)
			break;
		off = (uint64_t)i * v->block;
		len = e->size - off < v->block ? e->size - off : v->block;
		if (hash_block(v, e, vw->w->src, &v->src_map, vw->buf, off, len, v->src_md[i],
			       &err) ||
		    hash_block(v, e, vw->w->dst, &v->dst_map, vw->buf, off, len, v->dst_md[i],
			       &err)) {
			fail(e, &err);
			break;
		}
		if (memcmp(v->src_md[i], v->dst_md[i], 32)) {
			uint64_t cur = atomic_load(&v->mismatch);
			while (off < cur && !atomic_compare_exchange_weak(&v->mismatch, &cur, off))
				;
		}
	}
	return NULL;
}

static void hex(const unsigned char *md, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void digest_of_digests(const unsigned char (*mds)[32], size_t n, char out[65])
{
	unsigned char md[32];
	EVP_Digest(mds, n * 32, md, NULL, EVP_sha256(), NULL);
	hex(md, out);
}

static int verify(struct engine *e, struct worker *ws, unsigned n, struct ferry_copy_result *res,
		  struct ferry_err *err)
{
	struct verify v = {0};
	struct vworker *vws = ferry_xcalloc(n, sizeof *vws);
	pthread_t *th = ferry_xcalloc(n, sizeof *th);
	unsigned char *zero;
	int rc = -1;

	/* About 64k blocks at most, each 1 MiB or more: bounded memory for the
	 * digests whatever the disk size. */
	v.e = e;
	v.block = 1u << 20;
	while (e->size / v.block > 65536)
		v.block <<= 1;
	v.nblocks = (size_t)((e->size + v.block - 1) / v.block);
	v.src_md = ferry_xcalloc(v.nblocks ? v.nblocks : 1, 32);
	v.dst_md = ferry_xcalloc(v.nblocks ? v.nblocks : 1, 32);
	atomic_store(&v.mismatch, UINT64_MAX);
	zero = ferry_xcalloc(1, v.block);
	EVP_Digest(zero, v.block, v.zero_md, NULL, EVP_sha256(), NULL);
	EVP_Digest(zero, e->size % v.block ? e->size % v.block : v.block, v.zero_tail_md, NULL,
		   EVP_sha256(), NULL);
	free(zero);
	ferry_extents_init(&v.src_map);
	ferry_extents_init(&v.dst_map);
	if (read_map(ws[0].src, NULL, e->size, &v.src_map, err) ||
	    read_map(ws[0].dst, NULL, e->size, &v.dst_map, err))
		goto out;
	for (unsigned i = 0; i < n; i++) {
		vws[i].v = &v;
		vws[i].w = &ws[i];
		vws[i].buf = ferry_xmalloc(v.block);
		pthread_create(&th[i], NULL, verify_main, &vws[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		free(vws[i].buf);
	}
	if (atomic_load(&e->failed)) {
		*err = e->err;
		goto out;
	}
	digest_of_digests((const unsigned char(*)[32])v.src_md, v.nblocks, res->src_sha256);
	digest_of_digests((const unsigned char(*)[32])v.dst_md, v.nblocks, res->dst_sha256);
	if (atomic_load(&v.mismatch) != UINT64_MAX) {
		ferry_err_set(
			err, FERRY_E_IO,
			"verify: destination differs from source in the block at offset %" PRIu64,
			atomic_load(&v.mismatch));
		goto out;
	}
	res->verified = true;
	rc = 0;
out:
	ferry_extents_release(&v.src_map);
	ferry_extents_release(&v.dst_map);
	free(v.src_md);
	free(v.dst_md);
	free(vws);
	free(th);
	return rc;
}

/* ---- the copy ---------------------------------------------------------- */

static int open_pair(const struct engine *e, struct worker *w, bool first_dst_create,
		     struct ferry_err *err)
{
	char ctx[512];
	const char *ctxs[2] = {NULL, NULL};
	struct ferry_ep_opts so = {FERRY_EP_READ, 0, NULL};
	struct ferry_ep_opts dopts = {FERRY_EP_WRITE, 0, NULL};

	if (e->o->bitmap) {
		snprintf(ctx, sizeof ctx, "qemu:dirty-bitmap:%s", e->o->bitmap);
		ctxs[0] = ctx;
		so.meta_contexts = ctxs;
	}
	if (!w->src && ferry_ep_open(e->src_spec, &so, &w->src, err))
		return -1;
	if (first_dst_create) {
		dopts.flags |= FERRY_EP_CREATE;
		dopts.create_size = w->src->info.size;
	}
	if (!w->dst && ferry_ep_open(e->dst_spec, &dopts, &w->dst, err))
		return -1;
	return 0;
}

static void fill_result(const struct engine *e, struct ferry_copy_result *res)
{
	res->size = e->size;
	res->bytes_read = atomic_load(&e->read);
	res->bytes_written = atomic_load(&e->written);
	res->bytes_zeroed = atomic_load(&e->zeroed);
	res->bytes_skipped = atomic_load(&e->skipped);
	res->retries = atomic_load(&e->retries);
	res->seconds = ferry_monotonic() - e->start;
}

int ferry_copy(const char *src, const char *dst, const struct ferry_copy_opts *opts,
	       struct ferry_copy_result *res, struct ferry_err *err)
{
	struct engine e = {0};
	struct worker *ws = NULL;
	pthread_t *th = NULL;
	struct ferry_extents done = FERRY_EXTENTS_INIT;
	unsigned n = 0, want, conns, reqs;
	size_t memory;
	bool async;
	int rc = -1;

	memset(res, 0, sizeof *res);
	e.src_spec = src;
	e.dst_spec = dst;
	e.o = opts;
	e.start = ferry_monotonic();
	e.last_rate_t = e.start;
	e.request = opts->request_size ? opts->request_size : DEFAULT_REQUEST;
	pthread_mutex_init(&e.lock, NULL);
	pthread_mutex_init(&e.progress_lock, NULL);
	ferry_extents_init(&e.work);
	if (opts->bitmap && opts->changed) {
		ferry_err_set(err, FERRY_E_INVALID,
			      "a dirty bitmap and a changed-areas list are exclusive");
		goto out_early;
	}
	if (e.request < 4096 || e.request > (64u << 20) || (e.request & (e.request - 1))) {
		ferry_err_set(err, FERRY_E_INVALID,
			      "request size must be a power of two from 4 KiB to 64 MiB");
		goto out_early;
	}

	memory = opts->max_memory ? opts->max_memory : DEFAULT_MEMORY;
	ws = ferry_xcalloc(MAX_WORKERS, sizeof *ws);
	th = ferry_xcalloc(MAX_WORKERS, sizeof *th);
	want = 1;

	if (open_pair(&e, &ws[0], true, err))
		goto out;
	e.size = ws[0].src->info.size;
	if (ws[0].dst->info.size < e.size) {
		ferry_err_set(err, FERRY_E_INVALID,
			      "%s has %" PRIu64 " bytes, smaller than the source's %" PRIu64,
			      ws[0].dst->name, ws[0].dst->info.size, e.size);
		goto out;
	}
	if (ws[0].dst->info.readonly) {
		ferry_err_set(err, FERRY_E_INVALID, "%s is read-only", ws[0].dst->name);
		goto out;
	}
	e.dst_fresh = ws[0].dst->info.is_zero;
	if (opts->checkpoint && ferry_ckpt_open(opts->checkpoint, e.size,
						opts->source_id ? opts->source_id : ws[0].src->name,
						ws[0].dst->name, &done, &e.ckpt, err))
		goto out;
	if (done.len && e.dst_fresh) {
		/* The destination did not exist, so whatever the checkpoint
		 * recorded is not in it (deleted, or another path): trusting it
		 * would leave those ranges zero. Copy everything. */
		ferry_warn("%s: %s was just created, so the %" PRIu64
			   " bytes the checkpoint records are not in it; copying everything",
			   opts->checkpoint, ws[0].dst->name, ferry_extents_bytes(&done, 0, 0));
		ferry_extents_reset(&done);
	}
	if (plan(&e, ws[0].src, ws[0].dst, &done, err))
		goto out;

	/* With asynchronous requests, a worker keeps `requests` in flight on
	 * one connection pair; without, each request in flight is a worker
	 * with its own pair. Buffers stay within the memory budget. */
	async = has_aio(ws[0].src) || has_aio(ws[0].dst);
	conns = opts->connections ? opts->connections : DEFAULT_CONNECTIONS;
	reqs = opts->requests ? opts->requests : (async ? DEFAULT_ASYNC_REQUESTS : 1);
	if (!async) {
		conns *= reqs;
		reqs = 1;
	}
	if (conns > MAX_WORKERS)
		conns = MAX_WORKERS;
	/* Servers that do not promise multi-conn get one connection each. */
	if (!ws[0].src->info.can_multi_conn || !ws[0].dst->info.can_multi_conn)
		conns = 1;
	while ((size_t)conns * reqs * e.request > memory && reqs > 1)
		reqs--;
	while ((size_t)conns * reqs * e.request > memory && conns > 1)
		conns--;
	want = conns;
	if (want > e.work.len)
		want = e.work.len ? (unsigned)e.work.len : 1;
	for (n = 1; n < want; n++)
		if (open_pair(&e, &ws[n], false, err))
			goto out;
	for (unsigned i = 0; i < n; i++) {
		ws[i].e = &e;
		ws[i].nreqs = reqs;
		ws[i].buf = ferry_xmalloc(e.request * reqs);
		ferry_extents_init(&ws[i].pending);
		ws[i].last_ckpt = e.start;
		pthread_create(&th[i], NULL, async ? worker_async : worker_main, &ws[i]);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	report_progress(&e, true);
	if (atomic_load(&e.failed)) {
		*err = e.err;
		goto out;
	}
	if (opts->cancel && atomic_load(opts->cancel)) {
		ferry_err_set(err, FERRY_E_CANCELLED, "copy cancelled");
		goto out;
	}
	if (opts->verify && verify(&e, ws, n, res, err))
		goto out;
	rc = 0;
out:
	fill_result(&e, res);
	if (e.ckpt) {
		struct ferry_err cerr = FERRY_ERR_INIT;
		if (ferry_ckpt_close(e.ckpt, rc == 0, &cerr) && rc == 0) {
			*err = cerr;
			rc = -1;
		}
	}
	for (unsigned i = 0; i < want && ws; i++) {
		ferry_ep_close(ws[i].src);
		ferry_ep_close(ws[i].dst);
		free(ws[i].buf);
		ferry_extents_release(&ws[i].pending);
	}
out_early:
	free(ws);
	free(th);
	ferry_extents_release(&done);
	ferry_extents_release(&e.work);
	pthread_mutex_destroy(&e.lock);
	pthread_mutex_destroy(&e.progress_lock);
	return rc;
}
