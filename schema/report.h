/* Reports of a validation: the text and JSON forms `ferry validate` prints,
 * and a JSON rendering of any YAML subtree (opaque fields round-trip through
 * it). jansson stays inside this module: callers get strings.
 */
#ifndef FERRY_SCHEMA_REPORT_H
#define FERRY_SCHEMA_REPORT_H

#include "schema/finding.h"
#include "schema/model.h"

#include <stdio.h>

/* One line per finding, `FILE:LINE:COL: Category: message [id]`, then a
 * summary line. Findings must be sorted already (ferry_findings_sort). */
void ferry_report_text(FILE *out, const struct ferry_findings *f, const struct ferry_model *m);

/* {"findings": [...], "objects": [...], "summary": {...}} with two-space
 * indentation and a final newline. Caller frees. */
char *ferry_report_json(const struct ferry_findings *f, const struct ferry_model *m);

/* Where a report's files came from, when they were read from Git. */
struct ferry_report_source {
	const char *repo;   /* URL, credentials redacted */
	const char *rev;    /* as asked for, e.g. "main" or "refs/pull/7/head" */
	const char *commit; /* the commit sha every finding refers to */
};

/* ferry_report_json with a "source": {"repo", "rev", "commit"} member. */
char *ferry_report_json_source(const struct ferry_findings *f, const struct ferry_model *m,
			       const struct ferry_report_source *src);

/* A YAML subtree as compact JSON, scalars typed as Kubernetes reads them
 * (unquoted true -> true, 42 -> 42). Caller frees; NULL for NULL. */
char *ferry_node_to_json(const struct ferry_node *n);

#endif
