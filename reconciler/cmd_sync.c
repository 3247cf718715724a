#include "reconciler/cli.h"

#include "common/err.h"
#include "common/log.h"
#include "reconciler/config.h"
#include "reconciler/sync.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define SYNC_USAGE "usage: ferry sync [-c ferry.ini] [--force]\n"

int ferry_cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_config cfg;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_git *g = NULL;
	struct ferry_sync_result r;
	const char *path = NULL;
	bool force = false;
	int c, rc = FERRY_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:f", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'f': force = true; break;
		default: fputs(SYNC_USAGE, stderr); return FERRY_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(SYNC_USAGE, stderr);
		return FERRY_EXIT_USAGE;
	}
	if (ferry_cli_load_config(&cfg, path, "sync"))
		return FERRY_EXIT_USAGE;
	if (ferry_git_open_config(&g, &cfg, &err) || ferry_sync_once(&cfg, g, force, &r, &err)) {
		fprintf(stderr, "ferry sync: %s\n", err.msg);
		goto out;
	}
	printf("%s %s at %.12s: %s (%.3f s)\n", ferry_git_url(g), cfg.repo.branch, r.fetch.head,
	       r.fetch.fetched ? "fetched" : "not moved, no fetch", r.seconds_fetch);
	if (r.outcome == FERRY_SYNC_UNCHANGED) {
		printf("unchanged since the last pass (%s); in force: %.12s\n",
		       ferry_sync_outcome_name(r.last), r.in_force[0] ? r.in_force : "none");
		rc = r.last == FERRY_SYNC_ACCEPTED ? FERRY_EXIT_OK : FERRY_EXIT_NOT_OK;
		goto out_r;
	}
	printf("acting on %.12s by %s: %s\n", r.acting, r.author, r.subject);
	if (r.verdict.passed)
		printf("gates: passed%s%s", r.verdict.signer[0] ? "; signed by " : "",
		       r.verdict.signer);
	else
		printf("gates: %s gate failed (%s): %s", r.verdict.gate, r.verdict.source,
		       r.verdict.reason);
	if (r.verdict.approvals)
		printf("; %u approval%s", r.verdict.approvals, r.verdict.approvals == 1 ? "" : "s");
	putchar('\n');
	if (r.outcome != FERRY_SYNC_REFUSED)
		printf("validation: %zu critical, %zu errors, %zu warnings\n", r.critical, r.errors,
		       r.warnings);
	printf("%s; in force: %.12s\n", ferry_sync_outcome_name(r.outcome),
	       r.in_force[0] ? r.in_force : "none");
	if (r.push.committed)
		printf("status: committed %.12s to %s (%u push%s, %.3f s)\n", r.push.sha,
		       ferry_status_branch(&cfg), r.push.attempts, r.push.attempts == 1 ? "" : "es",
		       r.seconds_push);
	else
		printf("status: unchanged\n");
	rc = r.outcome == FERRY_SYNC_ACCEPTED ? FERRY_EXIT_OK : FERRY_EXIT_NOT_OK;
out_r:
	ferry_sync_result_release(&r);
out:
	ferry_git_close(g);
	ferry_config_release(&cfg);
	return rc;
}
