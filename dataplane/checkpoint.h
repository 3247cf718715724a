/* Checkpoint files: which ranges of a copy are already on the destination,
 * flushed, so that a copy killed at any moment resumes where it stopped.
 *
 * Format (text, one file per copy):
 *   ferry-checkpoint 1
 *   size <bytes>
 *   src <endpoint name>
 *   dst <endpoint name>
 *   <offset> <length>        one line per completed range, sorted
 * Every update writes a new file beside the old one, fsyncs it, renames it
 * over the old one and fsyncs the directory: a crash leaves the old or the
 * new checkpoint, never a torn one. Only ranges the destination has flushed
 * may be added.
 *
 * A checkpoint for another disk (size, src or dst differ) is refused with
 * FERRY_E_CONFLICT rather than trusted; a malformed one with
 * FERRY_E_INVALID naming the line.
 */
#ifndef FERRY_DATAPLANE_CHECKPOINT_H
#define FERRY_DATAPLANE_CHECKPOINT_H

#include "common/err.h"
#include "dataplane/extent.h"

#include <stdbool.h>
#include <stdint.h>

struct ferry_ckpt;

/* Open (or start) the checkpoint at path for this copy. *done receives the
 * completed ranges recorded so far (empty for a new checkpoint); the caller
 * initialised it. */
int ferry_ckpt_open(const char *path, uint64_t size, const char *src, const char *dst,
		    struct ferry_extents *done, struct ferry_ckpt **out, struct ferry_err *err);

/* Record more completed (flushed) ranges, durably. */
int ferry_ckpt_add(struct ferry_ckpt *c, const struct ferry_extents *ranges, struct ferry_err *err);

/* Close; with `completed`, remove the file (the copy is done). */
int ferry_ckpt_close(struct ferry_ckpt *c, bool completed, struct ferry_err *err);

#endif
