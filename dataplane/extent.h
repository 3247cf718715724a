/* Extent lists: which byte ranges of a disk hold data, which read as zero,
 * and the arithmetic the copy engine needs on them.
 *
 * An extent is [off, off+len) with NBD base:allocation flags: HOLE (not
 * allocated) and ZERO (reads as zeroes). flags 0 means data. The same
 * struct is used for plain ranges (changed areas, completed ranges), where
 * the flags are ignored.
 *
 * A list is "normal" when its extents are sorted by offset, do not overlap,
 * have len > 0, and no two neighbours that touch have the same flags. Every
 * function that builds a list builds a normal one.
 *
 * Ownership: a struct ferry_extents owns its array; ferry_extents_release()
 * frees it. Functions that produce a list write into an `out` list the
 * caller initialised (it is reset first); `out` must not alias an input.
 * All pure: no I/O, no global state.
 */
#ifndef FERRY_DATAPLANE_EXTENT_H
#define FERRY_DATAPLANE_EXTENT_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FERRY_EXT_HOLE	1u /* NBD_STATE_HOLE */
#define FERRY_EXT_ZERO	2u /* NBD_STATE_ZERO */
#define FERRY_EXT_DIRTY 1u /* qemu:dirty-bitmap: 1 = dirty */

struct ferry_extent {
	uint64_t off;
	uint64_t len;
	uint32_t flags;
};

struct ferry_extents {
	struct ferry_extent *v;
	size_t len, cap;
};

#define FERRY_EXTENTS_INIT                                                                         \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void ferry_extents_init(struct ferry_extents *l);
void ferry_extents_release(struct ferry_extents *l);
void ferry_extents_reset(struct ferry_extents *l);

/* Append [off, off+len) after the last extent; merges with it when they
 * touch and have the same flags. Returns -1 (FERRY_E_INVALID) if the new
 * extent starts before the end of the last one, or len is 0, or off+len
 * overflows. */
int ferry_extents_append(struct ferry_extents *l, uint64_t off, uint64_t len, uint32_t flags,
			 struct ferry_err *err);

/* Sort by offset and merge touching neighbours with equal flags; overlapping
 * extents are an error (FERRY_E_INVALID naming the offset). For lists read
 * from untrusted input (a changed-areas file). */
int ferry_extents_normalize(struct ferry_extents *l, struct ferry_err *err);

/* Merge touching or overlapping ranges regardless of flags (result flags 0):
 * the union of a set of ranges. */
void ferry_extents_union(struct ferry_extents *l);

/* The parts of `a` that lie inside some range of `ranges` (whose flags are
 * ignored); a's flags are kept. */
void ferry_extents_intersect(const struct ferry_extents *a, const struct ferry_extents *ranges,
			     struct ferry_extents *out);

/* The parts of `a` that lie outside every range of `ranges`. */
void ferry_extents_subtract(const struct ferry_extents *a, const struct ferry_extents *ranges,
			    struct ferry_extents *out);

/* Widen data extents (flags without ZERO) outward to multiples of `align`
 * (a power of two), clipped to [0, size): a partially-zero aligned block is
 * copied as data, never written as a zero request the destination might
 * round. Zero extents shrink accordingly. */
void ferry_extents_align(const struct ferry_extents *a, uint64_t align, uint64_t size,
			 struct ferry_extents *out);

/* Split every extent longer than its maximum into pieces whose boundaries
 * fall on multiples of that maximum (so requests stay aligned): max for
 * data, zero_max for extents with FERRY_EXT_ZERO (a zero request carries no
 * payload, so it may be much larger). A maximum of 0 means no limit. */
void ferry_extents_split(const struct ferry_extents *a, uint64_t max, uint64_t zero_max,
			 struct ferry_extents *out);

/* Sum of lengths of extents whose flags & mask == want. */
uint64_t ferry_extents_bytes(const struct ferry_extents *l, uint32_t mask, uint32_t want);

/* Does the list cover [0, size) exactly, without gaps? */
bool ferry_extents_covers(const struct ferry_extents *l, uint64_t size);

#endif
