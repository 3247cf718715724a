/* Print a metrics registry that has seen a bit of everything, for
 * `promtool check metrics` (promtool.sh): every family with samples, a
 * label value that needs escaping. With --empty, a registry that has seen
 * nothing. */
#include "reconciler/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *const phases[] = {"CopyDisks", "Succeeded", "odd \"phase\"\\\nname"};
	const size_t counts[] = {3, 12, 1};
	struct ferry_metrics *m = ferry_metrics_new();
	char *text;
	int rc = 0;

	if (argc > 1 && !strcmp(argv[1], "--empty"))
		goto print;
	ferry_metrics_reconcile(m, 0.004, true);
	ferry_metrics_reconcile(m, 0.3, true);
	ferry_metrics_reconcile(m, 42.5, false);
	ferry_metrics_reconcile(m, 3600, false);
	ferry_metrics_set_vms(m, phases, counts, 3);
	ferry_metrics_add_bytes(m, 10737418240ull);
	ferry_metrics_error(m, "nbd");
	ferry_metrics_error(m, "git");
	ferry_metrics_error(m, NULL);
	ferry_metrics_webhook(m, "accepted");
	ferry_metrics_webhook(m, "rejected");
	ferry_metrics_set_last_success(m, 1700000000.25);
print:
	text = ferry_metrics_text(m);
	if (fputs(text, stdout) == EOF || fflush(stdout))
		rc = 1;
	free(text);
	ferry_metrics_free(m);
	return rc;
}
