/* The copy engine: a disk from a source endpoint to a destination endpoint.
 *
 * What it does, in order:
 *  1. the work list: the source's extents (base:allocation), or only the
 *     ranges a dirty bitmap marks dirty (opts.bitmap), or only a list the
 *     caller gives (opts.changed, what vSphere's QueryChangedDiskAreas
 *     returns); minus the ranges a checkpoint file records as done;
 *  2. data extents are read and written in requests of opts.request_size,
 *     aligned to the endpoints' block sizes; a request whose buffer is all
 *     zeroes becomes a zero request; zero/hole extents become zero requests,
 *     or nothing when the destination already reads as zero;
 *  3. opts.connections workers, each with its own source and destination
 *     connection (when the servers allow multi-conn), take the next range
 *     from a shared cursor; memory is bounded (connections x requests x
 *     request_size, at most opts.max_memory);
 *  4. transient errors are retried with backoff after reconnecting; giving
 *     up names the offset;
 *  5. the destination is flushed before success is reported; the
 *     checkpoint, if any, records only flushed ranges;
 *  6. with opts.verify, both ends are read back and hashed (SHA-256 per
 *     block, zero blocks hashed without reading data twice) and compared.
 *
 * Thread rules: ferry_copy() starts and joins its own threads; the progress
 * callback is called from any of them, never concurrently with itself.
 */
#ifndef FERRY_DATAPLANE_COPY_H
#define FERRY_DATAPLANE_COPY_H

#include "common/err.h"
#include "dataplane/extent.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ferry_copy_progress {
	uint64_t total; /* bytes this copy will cover (virtual) */
	uint64_t done;	/* bytes covered so far */
	uint64_t data;	/* bytes read and written so far */
	double seconds; /* since the start */
	double rate;	/* bytes/s covered, over the last seconds */
};

typedef void (*ferry_copy_progress_fn)(void *arg, const struct ferry_copy_progress *p);

struct ferry_copy_opts {
	unsigned connections; /* workers; 0 = default (4) */
	unsigned requests;    /* in flight per connection; 0 = default (64, or 1 without aio) */
	size_t request_size;  /* bytes per data request; 0 = default (256 KiB) */
	size_t max_memory;    /* buffer budget; 0 = default (256 MiB) */
	const char *bitmap;   /* incremental: qemu:dirty-bitmap:NAME's NAME */
	const struct ferry_extents *changed; /* incremental: ranges to copy */
	const char *checkpoint;		     /* file recording completed ranges (resume) */
	const char *source_id;		     /* what the checkpoint calls the source instead of its
					      * name: for a source served at a new address after a
					      * restart (a socket per server), NULL = its name */
	bool verify;
	uint64_t rate_limit;  /* bytes/s of data moved, 0 = unlimited */
	unsigned max_retries; /* per request; 0 = default (5) */
	ferry_copy_progress_fn progress;
	void *progress_arg;
	double progress_interval; /* s between progress calls (but the last); 0 = default (0.1) */
	atomic_bool *cancel;	  /* set true to stop: ferry_copy fails with FERRY_E_CANCELLED */
};

struct ferry_copy_result {
	uint64_t size;
	uint64_t bytes_read, bytes_written, bytes_zeroed, bytes_skipped;
	unsigned retries;
	double seconds;
	bool verified;
	char src_sha256[65], dst_sha256[65]; /* with verify: over the whole disk */
};

/* Copy src to dst (endpoint specs, see endpoint.h). A file destination that
 * does not exist is created sparse with the source's size. Returns 0 only
 * when every byte asked for is written and flushed. */
int ferry_copy(const char *src, const char *dst, const struct ferry_copy_opts *opts,
	       struct ferry_copy_result *res, struct ferry_err *err);

#endif
