#include "finding.h"

#include "common/alloc.h"
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void ferry_findings_add(struct ferry_findings *f, enum ferry_category cat, const char *id,
			const struct ferry_pos *pos, const char *fmt, ...)
{
	struct ferry_finding *x = FERRY_PUSH(f->items, f->len, f->cap);
	struct ferry_sb sb = FERRY_SB_INIT;
	va_list ap;

	x->category = cat;
	x->id = ferry_xstrdup(id);
	if (pos && pos->file) {
		x->file = ferry_xstrdup(pos->file);
		x->line = pos->line;
		x->col = pos->col;
	}
	va_start(ap, fmt);
	ferry_sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	x->message = ferry_sb_detach(&sb);
}

static int cmp_finding(const void *pa, const void *pb)
{
	const struct ferry_finding *a = pa, *b = pb;
	int c;

	/* Findings without a file come first: they are about the whole tree. */
	if (!a->file || !b->file) {
		if (a->file != b->file)
			return a->file ? 1 : -1;
	} else if ((c = strcmp(a->file, b->file))) {
		return c;
	}
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	if (a->category != b->category)
		return a->category < b->category ? -1 : 1;
	if ((c = strcmp(a->id, b->id)))
		return c;
	return strcmp(a->message, b->message);
}

void ferry_findings_sort(struct ferry_findings *f)
{
	if (f->len > 1)
		qsort(f->items, f->len, sizeof *f->items, cmp_finding);
}

size_t ferry_findings_count(const struct ferry_findings *f, enum ferry_category cat)
{
	size_t n = 0;
	for (size_t i = 0; i < f->len; i++)
		n += f->items[i].category == cat;
	return n;
}

bool ferry_findings_blocking(const struct ferry_findings *f)
{
	return ferry_findings_count(f, FERRY_CAT_CRITICAL) +
		       ferry_findings_count(f, FERRY_CAT_ERROR) >
	       0;
}

void ferry_findings_release(struct ferry_findings *f)
{
	for (size_t i = 0; i < f->len; i++) {
		free(f->items[i].id);
		free(f->items[i].file);
		free(f->items[i].message);
	}
	free(f->items);
	f->items = NULL;
	f->len = f->cap = 0;
}

const char *ferry_category_name(enum ferry_category cat)
{
	switch (cat) {
	case FERRY_CAT_CRITICAL: return "Critical";
	case FERRY_CAT_ERROR: return "Error";
	case FERRY_CAT_WARNING: return "Warning";
	case FERRY_CAT_INFO: return "Information";
	}
	return "?";
}
