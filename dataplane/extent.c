#include "dataplane/extent.h"

#include "common/alloc.h"

#include <inttypes.h>
#include <stdlib.h>

/* Saturates instead of wrapping, so that a list that was never validated
 * (the functions returning void cannot report it) is clipped at 2^64 - 1
 * rather than turned into a range that ends before it starts. */
static uint64_t end_of(const struct ferry_extent *e)
{
	return e->len > UINT64_MAX - e->off ? UINT64_MAX : e->off + e->len;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Every builder goes through here, which is what keeps its output normal:
 * pieces arrive in order, and a piece that continues the last extent with
 * the same flags extends it instead of starting a new one. */
static void push(struct ferry_extents *l, uint64_t off, uint64_t len, uint32_t flags)
{
	struct ferry_extent *last = l->len ? &l->v[l->len - 1] : NULL;
	struct ferry_extent *e;

	if (!len)
		return;
	if (last && last->flags == flags && end_of(last) == off) {
		last->len += len;
		return;
	}
	e = FERRY_PUSH(l->v, l->len, l->cap);
	e->off = off;
	e->len = len;
	e->flags = flags;
}

/* Split needs touching pieces with equal flags kept apart. */
static void push_raw(struct ferry_extents *l, uint64_t off, uint64_t len, uint32_t flags)
{
	struct ferry_extent *e = FERRY_PUSH(l->v, l->len, l->cap);

	e->off = off;
	e->len = len;
	e->flags = flags;
}

void ferry_extents_init(struct ferry_extents *l)
{
	l->v = NULL;
	l->len = 0;
	l->cap = 0;
}

void ferry_extents_release(struct ferry_extents *l)
{
	free(l->v);
	ferry_extents_init(l);
}

void ferry_extents_reset(struct ferry_extents *l)
{
	l->len = 0;
}

int ferry_extents_append(struct ferry_extents *l, uint64_t off, uint64_t len, uint32_t flags,
			 struct ferry_err *err)
{
	uint64_t last_end = l->len ? end_of(&l->v[l->len - 1]) : 0;

	if (!len)
		return ferry_err_set(err, FERRY_E_INVALID, "empty extent at offset %" PRIu64, off);
	if (len > UINT64_MAX - off)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "extent at offset %" PRIu64 " of length %" PRIu64
				     " ends beyond 2^64",
				     off, len);
	if (off < last_end)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "extent at offset %" PRIu64
				     " starts before the end of the previous one (%" PRIu64 ")",
				     off, last_end);
	push(l, off, len, flags);
	return 0;
}

/* A total order (not just by offset) so that qsort, which is not stable,
 * still gives the same result, and so the same error, on every platform. */
static int cmp_extent(const void *pa, const void *pb)
{
	const struct ferry_extent *a = pa, *b = pb;

	if (a->off != b->off)
		return a->off < b->off ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	if (a->flags != b->flags)
		return a->flags < b->flags ? -1 : 1;
	return 0;
}

/* Lists usually arrive sorted; checking first keeps that case linear. */
static void sort_by_offset(struct ferry_extents *l)
{
	size_t i;

	for (i = 1; i < l->len; i++)
		if (cmp_extent(&l->v[i - 1], &l->v[i]) > 0)
			break;
	if (i < l->len)
		qsort(l->v, l->len, sizeof *l->v, cmp_extent);
}

/* Empty extents cover nothing, so dropping them loses nothing and keeps one
 * harmless line of a changed-areas file from failing the whole list. */
static void drop_empty(struct ferry_extents *l)
{
	size_t i, w = 0;

	for (i = 0; i < l->len; i++)
		if (l->v[i].len)
			l->v[w++] = l->v[i];
	l->len = w;
}

static int check_untrusted(const struct ferry_extents *l, struct ferry_err *err)
{
	size_t i;

	for (i = 0; i < l->len; i++) {
		const struct ferry_extent *e = &l->v[i];

		if (e->len > UINT64_MAX - e->off)
			return ferry_err_set(err, FERRY_E_INVALID,
					     "extent at offset %" PRIu64 " of length %" PRIu64
					     " ends beyond 2^64",
					     e->off, e->len);
	}
	return 0;
}

static int check_overlap(const struct ferry_extents *l, struct ferry_err *err)
{
	size_t i;

	for (i = 1; i < l->len; i++)
		if (l->v[i].off < end_of(&l->v[i - 1]))
			return ferry_err_set(err, FERRY_E_INVALID,
					     "extent at offset %" PRIu64
					     " overlaps the one at offset %" PRIu64,
					     l->v[i].off, l->v[i - 1].off);
	return 0;
}

/* In place: the write index never passes the read index. */
static void merge_touching(struct ferry_extents *l)
{
	size_t i, n = l->len;

	l->len = 0;
	for (i = 0; i < n; i++)
		push(l, l->v[i].off, l->v[i].len, l->v[i].flags);
}

int ferry_extents_normalize(struct ferry_extents *l, struct ferry_err *err)
{
	if (check_untrusted(l, err))
		return -1;
	drop_empty(l);
	sort_by_offset(l);
	if (check_overlap(l, err))
		return -1;
	merge_touching(l);
	return 0;
}

void ferry_extents_union(struct ferry_extents *l)
{
	size_t i, w = 0;

	drop_empty(l);
	sort_by_offset(l);
	for (i = 0; i < l->len; i++) {
		uint64_t off = l->v[i].off, end = end_of(&l->v[i]);
		struct ferry_extent *last = w ? &l->v[w - 1] : NULL;

		if (last && off <= end_of(last)) {
			last->len = max_u64(end_of(last), end) - last->off;
			continue;
		}
		l->v[w].off = off;
		l->v[w].len = end - off;
		l->v[w].flags = 0;
		w++;
	}
	l->len = w;
}

/*
 * Intersect and subtract walk both lists once. The cursor into `ranges` only
 * moves forward: a range that ends at or before the current position cannot
 * reach any later extent of `a`, since `a` is sorted. Both share this walk;
 * `keep_inside` says which side of the ranges is kept.
 */
static void clip(const struct ferry_extents *a, const struct ferry_extents *ranges,
		 bool keep_inside, struct ferry_extents *out)
{
	size_t i, j = 0;

	ferry_extents_reset(out);
	for (i = 0; i < a->len; i++) {
		const struct ferry_extent *e = &a->v[i];
		uint64_t pos = e->off, end = end_of(e);

		while (pos < end) {
			uint64_t r_off, r_end;

			while (j < ranges->len && end_of(&ranges->v[j]) <= pos)
				j++;
			if (j == ranges->len || ranges->v[j].off >= end) {
				if (!keep_inside)
					push(out, pos, end - pos, e->flags);
				break;
			}
			r_off = max_u64(pos, ranges->v[j].off);
			r_end = min_u64(end, end_of(&ranges->v[j]));
			push(out, keep_inside ? r_off : pos,
			     keep_inside ? r_end - r_off : r_off - pos, e->flags);
			pos = r_end;
		}
	}
}

void ferry_extents_intersect(const struct ferry_extents *a, const struct ferry_extents *ranges,
			     struct ferry_extents *out)
{
	clip(a, ranges, true, out);
}

void ferry_extents_subtract(const struct ferry_extents *a, const struct ferry_extents *ranges,
			    struct ferry_extents *out)
{
	clip(a, ranges, false, out);
}

/* Returns UINT64_MAX when rounding up would pass 2^64: no aligned boundary
 * exists above x, which callers treat as "nothing aligned in here". */
static uint64_t round_up(uint64_t x, uint64_t align)
{
	uint64_t r = x % align;

	if (!r)
		return x;
	return align - r > UINT64_MAX - x ? UINT64_MAX : x + (align - r);
}

static bool is_zero(const struct ferry_extent *e)
{
	return e->flags & FERRY_EXT_ZERO;
}

/*
 * One run of touching zero extents [first, last], clipped to size. Only the
 * aligned blocks it covers entirely stay zero (the block that ends at size
 * counts as whole: nothing past the end can be rounded into); the cut-off
 * ends become plain data, which push() merges into a data neighbour. The
 * flags of the zero extents inside are kept, so HOLE|ZERO stays distinct
 * from ZERO.
 */
static void align_zero_run(const struct ferry_extent *first, const struct ferry_extent *last,
			   uint64_t align, uint64_t size, struct ferry_extents *out)
{
	const struct ferry_extent *e;
	uint64_t start = first->off, end = min_u64(end_of(last), size);
	uint64_t zs = round_up(start, align), ze = end == size ? end : end - end % align;

	if (zs >= ze) {
		push(out, start, end - start, 0);
		return;
	}
	push(out, start, zs - start, 0);
	for (e = first; e <= last; e++) {
		uint64_t lo = max_u64(e->off, zs), hi = min_u64(end_of(e), ze);

		if (lo < hi)
			push(out, lo, hi - lo, e->flags);
	}
	push(out, ze, end - ze, 0);
}

void ferry_extents_align(const struct ferry_extents *a, uint64_t align, uint64_t size,
			 struct ferry_extents *out)
{
	size_t i = 0, j;

	ferry_extents_reset(out);
	if (!align)
		align = 1;
	while (i < a->len && a->v[i].off < size) {
		const struct ferry_extent *e = &a->v[i];

		if (!is_zero(e)) {
			push(out, e->off, min_u64(end_of(e), size) - e->off, e->flags);
			i++;
			continue;
		}
		for (j = i; j + 1 < a->len && is_zero(&a->v[j + 1]) &&
			    a->v[j + 1].off == end_of(&a->v[j]) && a->v[j + 1].off < size;
		     j++)
			;
		align_zero_run(e, &a->v[j], align, size, out);
		i = j + 1;
	}
}

void ferry_extents_split(const struct ferry_extents *a, uint64_t data_max, uint64_t zero_max,
			 struct ferry_extents *out)
{
	size_t i;

	ferry_extents_reset(out);
	for (i = 0; i < a->len; i++) {
		const struct ferry_extent *e = &a->v[i];
		uint64_t pos = e->off, end = end_of(e);
		uint64_t max = (e->flags & FERRY_EXT_ZERO) ? zero_max : data_max;

		while (pos < end) {
			uint64_t next = max ? round_up(pos + 1, max) : end;

			next = min_u64(next, end);
			push_raw(out, pos, next - pos, e->flags);
			pos = next;
		}
	}
}

uint64_t ferry_extents_bytes(const struct ferry_extents *l, uint32_t mask, uint32_t want)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < l->len; i++)
		if ((l->v[i].flags & mask) == want)
			sum += l->v[i].len;
	return sum;
}

bool ferry_extents_covers(const struct ferry_extents *l, uint64_t size)
{
	uint64_t pos = 0;
	size_t i;

	for (i = 0; i < l->len; i++) {
		if (l->v[i].off != pos || !l->v[i].len)
			return false;
		pos = end_of(&l->v[i]);
	}
	return pos == size;
}
