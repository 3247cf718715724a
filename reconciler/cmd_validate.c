#include "reconciler/cli.h"

#include "common/alloc.h"
#include "common/err.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "reconciler/gitsync.h"
#include "schema/model.h"
#include "schema/report.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE                                                                                      \
	"usage: ferry validate [-o text|json] DIR\n"                                               \
	"       ferry validate [-o text|json] --repo URL [--rev REV] [--root PATH]\n"

/* "./a/b/", "/a/b" and "a//b" become "a/b"; "." and "" become "". '..'
 * components are refused. */
static int normalize_root(char **out, const char *root)
{
	char *copy = ferry_xstrdup(root), *save = NULL;
	struct ferry_sb sb;
	int rc = 0;

	ferry_sb_init(&sb);
	for (char *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (!strcmp(p, "."))
			continue;
		if (!strcmp(p, "..")) {
			rc = -1;
			break;
		}
		if (sb.len)
			ferry_sb_addc(&sb, '/');
		ferry_sb_adds(&sb, p);
	}
	free(copy);
	*out = ferry_sb_detach(&sb);
	return rc;
}

/* Load revision rev of url into m through a throwaway bare cache. */
static int load_remote(const char *url, const char *rev, const char *root, struct ferry_model *m,
		       struct ferry_findings *f, char sha[FERRY_SHA_HEX], char **redacted,
		       struct ferry_err *err)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = ferry_xasprintf("%s/ferry-validate-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	struct ferry_git_opts o = {.url = url};
	struct ferry_git *g = NULL;
	int rc = -1;

	if (!mkdtemp(dir)) {
		ferry_err_set(err, FERRY_E_IO, "creating a temporary directory: %m");
		free(dir);
		return -1;
	}
	o.cache_dir = dir;
	if (ferry_git_open(&g, &o, err))
		goto out;
	*redacted = ferry_xstrdup(ferry_git_url(g));
	if (ferry_git_fetch_rev(g, rev, sha, err) ||
	    ferry_git_load_tree(g, sha, root ? root : "", m, f, err))
		goto out;
	rc = 0;
out:
	ferry_git_close(g);
	ferry_rmtree(dir);
	free(dir);
	return rc;
}

int ferry_cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"repo", required_argument, NULL, 'R'},
		{"rev", required_argument, NULL, 'r'},
		{"root", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_model m = FERRY_MODEL_INIT;
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	const char *repo = NULL, *rev = "HEAD", *root = NULL;
	char sha[FERRY_SHA_HEX] = "", *redacted = NULL;
	bool json = false, rev_given = false;
	char *root_buf = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!strcmp(optarg, "json")) {
				json = true;
			} else if (strcmp(optarg, "text")) {
				fprintf(stderr,
					"ferry validate: unknown output format '%s' (text or "
					"json)\n",
					optarg);
				return FERRY_EXIT_USAGE;
			}
			break;
		case 'R': repo = optarg; break;
		case 'r':
			rev = optarg;
			rev_given = true;
			break;
		case 't': root = optarg; break;
		default: fputs(USAGE, stderr); return FERRY_EXIT_USAGE;
		}
	}
	if (argc - optind != (repo ? 0 : 1)) {
		fputs(USAGE, stderr);
		return FERRY_EXIT_USAGE;
	}
	if (!repo && (rev_given || root)) {
		fprintf(stderr, "ferry validate: --rev and --root need --repo (for a directory, "
				"check out the revision, or name the subdirectory as DIR)\n");
		return FERRY_EXIT_USAGE;
	}
	if (root && normalize_root(&root_buf, root)) {
		fprintf(stderr,
			"ferry validate: --root '%s': give a directory inside the "
			"repository, without '..'\n",
			root);
		return FERRY_EXIT_USAGE;
	}
	root = root_buf;
	if (repo) {
		/* HEAD of a remote means its default branch: ask for it as
		 * a ref the remote advertises */
		if (load_remote(repo, rev, root, &m, &f, sha, &redacted, &err)) {
			fprintf(stderr, "ferry validate: %s\n", err.msg);
			rc = FERRY_EXIT_USAGE;
			goto out;
		}
	} else if (ferry_model_load_dir(&m, argv[optind], &f, &err)) {
		fprintf(stderr, "ferry validate: %s\n", err.msg);
		rc = FERRY_EXIT_USAGE;
		goto out;
	}
	ferry_model_validate(&m, &f);
	ferry_findings_sort(&f);
	if (json) {
		struct ferry_report_source src = {redacted, rev, sha};
		char *s = ferry_report_json_source(&f, &m, repo ? &src : NULL);
		fputs(s, stdout);
		free(s);
	} else {
		if (repo)
			printf("%s at %s: commit %s\n", redacted, rev, sha);
		ferry_report_text(stdout, &f, &m);
	}
	rc = ferry_findings_blocking(&f) ? FERRY_EXIT_NOT_OK : FERRY_EXIT_OK;
out:
	free(root_buf);
	free(redacted);
	ferry_findings_release(&f);
	ferry_model_release(&m);
	return rc;
}
