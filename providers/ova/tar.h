/* The members of a tar archive (an OVA is one), read with explicit limits.
 *
 * Only headers are read: a member is a name and a byte range of the
 * archive, which callers then read or serve themselves. Formats: POSIX
 * ustar (with its name prefix), pax ('x' records path= and size=) and GNU
 * ('L' long names, base-256 sizes for members of 8 GiB and more). Regular
 * files are listed; directories, links, devices and anything else are
 * skipped, never followed.
 *
 * A struct ferry_tar owns its member names; ferry_tar_release() frees them.
 */
#ifndef FERRY_PROVIDERS_OVA_TAR_H
#define FERRY_PROVIDERS_OVA_TAR_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FERRY_TAR_MAX_MEMBERS 4096  /* regular files listed */
#define FERRY_TAR_MAX_HEADERS 65536 /* headers of any type read */
#define FERRY_TAR_MAX_NAME    4096  /* bytes of a member name */

struct ferry_tar_member {
	char *name;	 /* as archived, without leading "./" */
	uint64_t offset; /* of the member's data in the archive */
	uint64_t size;
};

struct ferry_tar {
	struct ferry_tar_member *v;
	size_t len, cap;
	bool truncated; /* the archive ends inside a header or a member */
};

#define FERRY_TAR_INIT                                                                             \
	{                                                                                          \
		NULL, 0, 0, false                                                                  \
	}

/* List the regular files of the archive open at fd, which is archive_size
 * bytes long. Every header's checksum is verified and every member must
 * lie inside the archive. Returns 0, or -1 with err set: FERRY_E_INVALID
 * for a corrupt or truncated archive (the message names the offset),
 * FERRY_E_LIMIT, FERRY_E_IO. On -1 the members read before the problem
 * stay in *out (the caller releases it either way). */
int ferry_tar_list(int fd, uint64_t archive_size, struct ferry_tar *out, struct ferry_err *err);

/* The member named name (a leading "./" ignored on both sides), or NULL. */
const struct ferry_tar_member *ferry_tar_find(const struct ferry_tar *t, const char *name);

void ferry_tar_release(struct ferry_tar *t);

#endif
