#include "report.h"

#include "common/alloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static size_t count_objects(const struct ferry_model *m)
{
	size_t n = 0;
	for (int k = 0; k < FERRY_KIND_COUNT; k++)
		n += m->objects[k].len;
	return n;
}

void ferry_report_text(FILE *out, const struct ferry_findings *f, const struct ferry_model *m)
{
	for (size_t i = 0; i < f->len; i++) {
		const struct ferry_finding *x = &f->items[i];
		if (x->file && x->line > 0)
			fprintf(out, "%s:%d:%d: ", x->file, x->line, x->col);
		else if (x->file)
			fprintf(out, "%s: ", x->file);
		fprintf(out, "%s: %s [%s]\n", ferry_category_name(x->category), x->message, x->id);
	}
	fprintf(out,
		"%zu file%s, %zu object%s: %zu critical, %zu error%s, %zu warning%s, %zu info\n",
		m->nfiles, m->nfiles == 1 ? "" : "s", count_objects(m),
		count_objects(m) == 1 ? "" : "s", ferry_findings_count(f, FERRY_CAT_CRITICAL),
		ferry_findings_count(f, FERRY_CAT_ERROR),
		ferry_findings_count(f, FERRY_CAT_ERROR) == 1 ? "" : "s",
		ferry_findings_count(f, FERRY_CAT_WARNING),
		ferry_findings_count(f, FERRY_CAT_WARNING) == 1 ? "" : "s",
		ferry_findings_count(f, FERRY_CAT_INFO));
}

static int cmp_obj(const void *pa, const void *pb)
{
	const struct ferry_obj *a = *(const struct ferry_obj *const *)pa;
	const struct ferry_obj *b = *(const struct ferry_obj *const *)pb;
	int c = strcmp(a->pos.file, b->pos.file);

	if (c)
		return c;
	return a->pos.line - b->pos.line;
}

char *ferry_report_json(const struct ferry_findings *f, const struct ferry_model *m)
{
	return ferry_report_json_source(f, m, NULL);
}

char *ferry_report_json_source(const struct ferry_findings *f, const struct ferry_model *m,
			       const struct ferry_report_source *src)
{
	json_t *root = json_object(), *arr = json_array(), *objs = json_array(), *sum;
	const struct ferry_obj **list;
	size_t n = count_objects(m), k = 0;
	char *text, *out;

	if (src) {
		json_t *so = json_object();
		json_object_set_new(so, "repo", json_string(src->repo));
		json_object_set_new(so, "rev", json_string(src->rev));
		json_object_set_new(so, "commit", json_string(src->commit));
		json_object_set_new(root, "source", so);
	}
	for (size_t i = 0; i < f->len; i++) {
		const struct ferry_finding *x = &f->items[i];
		json_t *o = json_object();
		if (x->file) {
			json_object_set_new(o, "file", json_string(x->file));
			json_object_set_new(o, "line", json_integer(x->line));
			json_object_set_new(o, "column", json_integer(x->col));
		}
		json_object_set_new(o, "category", json_string(ferry_category_name(x->category)));
		json_object_set_new(o, "id", json_string(x->id));
		json_object_set_new(o, "message", json_string(x->message));
		json_array_append_new(arr, o);
	}
	/* Objects in file order, so the listing reads like the tree. */
	list = ferry_xcalloc(n ? n : 1, sizeof *list);
	for (int kind = 0; kind < FERRY_KIND_COUNT; kind++)
		for (size_t i = 0; i < m->objects[kind].len; i++)
			list[k++] = ferry_model_obj(m, (enum ferry_kind)kind, i);
	qsort(list, n, sizeof *list, cmp_obj);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "kind", json_string(ferry_kind_name(list[i]->kind)));
		json_object_set_new(o, "namespace", json_string(list[i]->ns));
		json_object_set_new(o, "name", json_string(list[i]->name));
		json_object_set_new(o, "file", json_string(list[i]->pos.file));
		json_object_set_new(o, "line", json_integer(list[i]->pos.line));
		json_array_append_new(objs, o);
	}
	free(list);
	sum = json_object();
	json_object_set_new(sum, "files", json_integer((json_int_t)m->nfiles));
	json_object_set_new(sum, "objects", json_integer((json_int_t)n));
	json_object_set_new(sum, "critical",
			    json_integer((json_int_t)ferry_findings_count(f, FERRY_CAT_CRITICAL)));
	json_object_set_new(sum, "error",
			    json_integer((json_int_t)ferry_findings_count(f, FERRY_CAT_ERROR)));
	json_object_set_new(sum, "warning",
			    json_integer((json_int_t)ferry_findings_count(f, FERRY_CAT_WARNING)));
	json_object_set_new(sum, "information",
			    json_integer((json_int_t)ferry_findings_count(f, FERRY_CAT_INFO)));
	json_object_set_new(root, "findings", arr);
	json_object_set_new(root, "objects", objs);
	json_object_set_new(root, "summary", sum);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	out = ferry_xasprintf("%s\n", text ? text : "{}");
	free(text);
	return out;
}

static json_t *node_json(const struct ferry_node *n, int depth)
{
	long long iv;
	bool bv, yaml11;

	if (depth > FERRY_YAML_MAX_DEPTH)
		return json_null();
	switch (n->kind) {
	case FERRY_NODE_SEQ: {
		json_t *a = json_array();
		for (size_t i = 0; i < n->u.seq.len; i++)
			json_array_append_new(a, node_json(n->u.seq.items[i], depth + 1));
		return a;
	}
	case FERRY_NODE_MAP: {
		json_t *o = json_object();
		for (size_t i = 0; i < n->u.map.len; i++) {
			const struct ferry_node *k = n->u.map.pairs[i].key;
			if (k->kind != FERRY_NODE_SCALAR)
				continue; /* JSON keys are strings */
			json_object_set_new(o, k->u.scalar.text,
					    node_json(n->u.map.pairs[i].value, depth + 1));
		}
		return o;
	}
	case FERRY_NODE_SCALAR: break;
	}
	switch (ferry_scalar_resolve(n)) {
	case FERRY_SCALAR_NULL: return json_null();
	case FERRY_SCALAR_BOOL:
		if (ferry_scalar_bool(n, &bv, &yaml11))
			return json_boolean(bv);
		break;
	case FERRY_SCALAR_INT:
		if (ferry_scalar_int(n, &iv))
			return json_integer(iv);
		break;
	case FERRY_SCALAR_FLOAT: return json_real(strtod(n->u.scalar.text, NULL));
	case FERRY_SCALAR_STR: break;
	}
	return json_stringn(n->u.scalar.text, n->u.scalar.len);
}

char *ferry_node_to_json(const struct ferry_node *n)
{
	json_t *j;
	char *s;

	if (!n)
		return NULL;
	j = node_json(n, 0);
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	json_decref(j);
	return s;
}
