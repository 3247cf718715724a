/* Changed-areas lists: the ranges an incremental copy must move, as a JSON
 * array of {"start": N, "length": N} objects (the shape of vSphere's
 * QueryChangedDiskAreas changedArea entries).
 *
 * Untrusted input: at most FERRY_CHANGED_MAX_AREAS entries, numbers must be
 * non-negative integers whose sum does not overflow, unknown keys are
 * refused (a typo must not silently copy nothing).
 */
#ifndef FERRY_DATAPLANE_CHANGED_H
#define FERRY_DATAPLANE_CHANGED_H

#include "common/err.h"
#include "dataplane/extent.h"

#include <stddef.h>

#define FERRY_CHANGED_MAX_AREAS 10000000u

/* Parse into out (reset first): sorted, merged ranges; zero-length entries
 * are dropped. Errors are FERRY_E_INVALID with line:column (JSON syntax) or
 * the entry's index. `name` labels messages. */
int ferry_changed_areas_parse(const char *name, const char *json, size_t len,
			      struct ferry_extents *out, struct ferry_err *err);

#endif
