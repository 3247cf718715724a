/* libFuzzer target: the --changed-areas JSON parser. */
#include "dataplane/changed.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ferry_extents out = FERRY_EXTENTS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;

	if (!ferry_changed_areas_parse("fuzz.json", (const char *)data, size, &out, &err)) {
		/* a successful parse is a normal list */
		for (size_t i = 1; i < out.len; i++)
			if (out.v[i].off <= out.v[i - 1].off + out.v[i - 1].len - 1)
				__builtin_trap();
	}
	ferry_extents_release(&out);
	return 0;
}
