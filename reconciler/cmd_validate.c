#include "reconciler/cli.h"

#include "common/err.h"
#include "schema/model.h"
#include "schema/report.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ferry_cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_model m = FERRY_MODEL_INIT;
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	bool json = false;
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
		default:
			fputs("usage: ferry validate [-o text|json] DIR\n", stderr);
			return FERRY_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fputs("usage: ferry validate [-o text|json] DIR\n", stderr);
		return FERRY_EXIT_USAGE;
	}
	if (ferry_model_load_dir(&m, argv[optind], &f, &err)) {
		fprintf(stderr, "ferry validate: %s\n", err.msg);
		rc = FERRY_EXIT_USAGE;
		goto out;
	}
	ferry_model_validate(&m, &f);
	ferry_findings_sort(&f);
	if (json) {
		char *s = ferry_report_json(&f, &m);
		fputs(s, stdout);
		free(s);
	} else {
		ferry_report_text(stdout, &f, &m);
	}
	rc = ferry_findings_blocking(&f) ? FERRY_EXIT_NOT_OK : FERRY_EXIT_OK;
out:
	ferry_findings_release(&f);
	ferry_model_release(&m);
	return rc;
}
