/* libFuzzer target: the tar member lister OVAs are read with
 * (providers/ova/tar.c), over a memfd holding the input. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "providers/ova/tar.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ferry_tar t = FERRY_TAR_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	int fd = memfd_create("fuzz-tar", 0);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		__builtin_trap();
	if (ferry_tar_list(fd, size, &t, &err) && err.code == FERRY_OK)
		__builtin_trap();
	/* Every member lies inside the archive. */
	for (size_t i = 0; i < t.len; i++)
		if (t.v[i].offset > size || t.v[i].size > size - t.v[i].offset)
			__builtin_trap();
	ferry_tar_release(&t);
	close(fd);
	return 0;
}
