#include "reconciler/cli.h"

#include "common/alloc.h"
#include "common/err.h"
#include "common/time.h"
#include "reconciler/config.h"
#include "reconciler/gitsync.h"
#include "reconciler/sync.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HISTORY_USAGE "usage: ferry history [-c ferry.ini] [-o text|json] [-n N] [NAMESPACE/PLAN]\n"

struct history {
	struct ferry_git *g;
	const char *plan; /* filter, or NULL */
	bool json;
	size_t shown, max;
	json_t *arr;
};

static const char *trailer(const struct ferry_trailer *t, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(t[i].key, key))
			return t[i].value;
	return NULL;
}

/* One line (or JSON entry) for one plan of a status commit. */
static void show(struct history *h, const struct ferry_git_commit_info *ci, const char *src,
		 const char *plan, const char *phase, bool multi,
		 const struct ferry_git_commit_info *sci, bool have_src)
{
	char when[FERRY_TIME_FORMAT_MAX];
	struct ferry_time tm = {(int64_t)ci->time, 0, 0};

	ferry_time_format(&tm, when, sizeof when);
	if (h->json) {
		json_t *o = json_object();
		json_object_set_new(o, "time", json_string(when));
		json_object_set_new(o, "statusCommit", json_string(ci->sha));
		json_object_set_new(o, "summary", json_string(ci->subject));
		json_object_set_new(o, "plan", plan ? json_string(plan) : json_null());
		json_object_set_new(o, "phase", phase ? json_string(phase) : json_null());
		json_object_set_new(o, "sourceCommit", json_string(src));
		json_object_set_new(o, "sourceAuthor",
				    have_src ? json_string(sci->author) : json_null());
		json_object_set_new(o, "sourceSubject",
				    have_src ? json_string(sci->subject) : json_null());
		json_array_append_new(h->arr, o);
	} else {
		/* a commit of several plans: a line each, naming it */
		printf("%s  %-10s %s\n", when, phase ? phase : "-", multi ? plan : ci->subject);
		if (have_src)
			printf("    acted on %.12s by %s: %s\n", src, sci->author, sci->subject);
		else
			printf("    acted on %.12s (not in the local copy)\n", src);
	}
}

/* A status commit names each plan it holds with a Ferry-Plan trailer and
 * that plan's phase with the Ferry-Phase after it (a commit of several
 * plans repeats the pair); it is shown once per plan. */
static int on_commit(const struct ferry_git_commit_info *ci, void *arg)
{
	struct history *h = arg;
	struct ferry_trailer *t = NULL;
	size_t nt = 0, nplans = 0, shown = 0;
	const char *src;
	struct ferry_git_commit_info sci = {0};
	bool have_src = false;

	if (ferry_git_trailers(ci->message, &t, &nt))
		return 0;
	src = trailer(t, nt, "Ferry-Source-Commit");
	if (!src)
		goto done;
	for (size_t i = 0; i < nt; i++)
		nplans += !strcasecmp(t[i].key, "Ferry-Plan");
	for (size_t i = 0; i < nt; i++) {
		const char *plan, *phase = NULL;

		if (strcasecmp(t[i].key, "Ferry-Plan"))
			continue;
		plan = t[i].value;
		for (size_t k = i + 1; k < nt && strcasecmp(t[k].key, "Ferry-Plan"); k++)
			if (!strcasecmp(t[k].key, "Ferry-Phase"))
				phase = t[k].value;
		if (h->plan && strcmp(plan, h->plan))
			continue;
		if (!shown++)
			have_src = !ferry_git_commit_info(h->g, src, &sci, NULL);
		show(h, ci, src, plan, phase, nplans > 1, &sci, have_src);
		h->shown++;
		if (h->max && h->shown >= h->max)
			break;
	}
	if (!nplans && !h->plan) { /* a status commit that names no plan */
		have_src = !ferry_git_commit_info(h->g, src, &sci, NULL);
		show(h, ci, src, NULL, trailer(t, nt, "Ferry-Phase"), false, &sci, have_src);
		h->shown++;
	}
	ferry_git_commit_info_release(&sci);
done:
	ferry_git_trailers_free(t, nt);
	return h->max && h->shown >= h->max;
}

int ferry_cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"output", required_argument, NULL, 'o'},
		{"max-count", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_config cfg;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_git_sync s;
	struct history h = {0};
	const char *path = NULL, *branch;
	int c, rc = FERRY_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:o:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				fprintf(stderr, "ferry history: unknown output format '%s'\n",
					optarg);
				return FERRY_EXIT_USAGE;
			}
			h.json = !strcmp(optarg, "json");
			break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v <= 0) {
				fprintf(stderr, "ferry history: -n wants a positive number\n");
				return FERRY_EXIT_USAGE;
			}
			h.max = (size_t)v;
			break;
		}
		default: fputs(HISTORY_USAGE, stderr); return FERRY_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		fputs(HISTORY_USAGE, stderr);
		return FERRY_EXIT_USAGE;
	}
	h.plan = optind < argc ? argv[optind] : NULL;
	if (h.plan && !strchr(h.plan, '/')) {
		fprintf(stderr, "ferry history: '%s': expected NAMESPACE/PLAN\n", h.plan);
		return FERRY_EXIT_USAGE;
	}
	if (ferry_cli_load_config(&cfg, path, "history"))
		return FERRY_EXIT_USAGE;
	branch = ferry_status_branch(&cfg);
	if (ferry_git_open_config(&h.g, &cfg, &err) ||
	    ferry_git_sync(h.g, branch, strcmp(branch, cfg.repo.branch) ? cfg.repo.branch : NULL,
			   &s, &err)) {
		fprintf(stderr, "ferry history: %s%s\n", err.msg,
			err.code == FERRY_E_NOT_FOUND ? " (no status written yet?)" : "");
		goto out;
	}
	h.arr = json_array();
	if (ferry_git_walk(h.g, branch, 0, on_commit, &h, &err)) {
		fprintf(stderr, "ferry history: %s\n", err.msg);
		goto out;
	}
	if (h.json) {
		char *text = json_dumps(h.arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", text);
		free(text);
	} else if (!h.shown) {
		printf("no status transitions%s%s\n", h.plan ? " for " : "", h.plan ? h.plan : "");
	}
	rc = FERRY_EXIT_OK;
out:
	json_decref(h.arr);
	ferry_git_close(h.g);
	ferry_config_release(&cfg);
	return rc;
}
