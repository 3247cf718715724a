/* Validation findings: what `ferry validate` reports.
 *
 * A finding has a category (as in Forklift's conditions), a stable id that
 * scripts and docs can rely on (`plan.network-map.not-found`), a location in
 * a user's file and a one-line message saying what was expected.
 *
 * A struct ferry_findings owns its findings (messages and file names are
 * copied); ferry_findings_release() frees them.
 */
#ifndef FERRY_SCHEMA_FINDING_H
#define FERRY_SCHEMA_FINDING_H

#include "schema/node.h"

#include <stdbool.h>
#include <stddef.h>

enum ferry_category {
	FERRY_CAT_CRITICAL, /* blocks the migration of what it concerns */
	FERRY_CAT_ERROR,    /* the input is wrong; nothing acts on it */
	FERRY_CAT_WARNING,  /* probably a mistake; does not block */
	FERRY_CAT_INFO,	    /* worth knowing */
};

struct ferry_finding {
	enum ferry_category category;
	char *id;
	char *file; /* NULL when the finding has no location */
	int line, col;
	char *message;
};

struct ferry_findings {
	struct ferry_finding *items;
	size_t len, cap;
};

#define FERRY_FINDINGS_INIT                                                                        \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void ferry_findings_add(struct ferry_findings *f, enum ferry_category cat, const char *id,
			const struct ferry_pos *pos, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Sort by file, line, column, then category and id (stable output). */
void ferry_findings_sort(struct ferry_findings *f);
size_t ferry_findings_count(const struct ferry_findings *f, enum ferry_category cat);
/* Any Critical or Error finding? */
bool ferry_findings_blocking(const struct ferry_findings *f);
void ferry_findings_release(struct ferry_findings *f);

/* "Critical", "Error", "Warning", "Information". */
const char *ferry_category_name(enum ferry_category cat);

#endif
