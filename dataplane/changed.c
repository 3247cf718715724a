#include "dataplane/changed.h"

#include "common/alloc.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>

static int get_u64(const char *name, size_t i, json_t *o, const char *key, uint64_t *out,
		   struct ferry_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return ferry_err_set(err, FERRY_E_INVALID, "%s: entry %zu has no \"%s\"", name, i,
				     key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "%s: entry %zu: \"%s\" must be a non-negative integer", name,
				     i, key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int ferry_changed_areas_parse(const char *name, const char *json, size_t len,
			      struct ferry_extents *out, struct ferry_err *err)
{
	json_error_t jerr;
	json_t *root;
	size_t n;
	int rc = -1;

	ferry_extents_reset(out);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ferry_err_set_at(err, FERRY_E_INVALID, name, jerr.line, jerr.column,
					"not valid JSON: %s", jerr.text);
	if (!json_is_array(root)) {
		ferry_err_set(err, FERRY_E_INVALID,
			      "%s: expected a JSON array of {\"start\": N, \"length\": N}", name);
		goto out;
	}
	n = json_array_size(root);
	if (n > FERRY_CHANGED_MAX_AREAS) {
		ferry_err_set(err, FERRY_E_LIMIT, "%s: more than %u areas", name,
			      FERRY_CHANGED_MAX_AREAS);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(root, i);
		const char *key;
		json_t *val;
		uint64_t start, length;

		if (!json_is_object(o)) {
			ferry_err_set(err, FERRY_E_INVALID, "%s: entry %zu is not an object", name,
				      i);
			goto out;
		}
		json_object_foreach(o, key, val)
		{
			(void)val;
			if (strcmp(key, "start") && strcmp(key, "length")) {
				ferry_err_set(err, FERRY_E_INVALID,
					      "%s: entry %zu: unknown key \"%s\" (expected start, "
					      "length)",
					      name, i, key);
				goto out;
			}
		}
		if (get_u64(name, i, o, "start", &start, err) ||
		    get_u64(name, i, o, "length", &length, err))
			goto out;
		if (length > UINT64_MAX - start) {
			ferry_err_set(err, FERRY_E_INVALID,
				      "%s: entry %zu: start + length overflows", name, i);
			goto out;
		}
		if (!length)
			continue;
		out->v = ferry_grow(out->v, &out->cap, out->len + 1, sizeof *out->v);
		out->v[out->len++] = (struct ferry_extent){start, length, 0};
	}
	ferry_extents_union(out);
	rc = 0;
out:
	json_decref(root);
	return rc;
}
