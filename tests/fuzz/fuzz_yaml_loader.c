/* libFuzzer target: the whole path untrusted YAML takes in `ferry validate`
 * (parse, decode into the model, cross-object checks, JSON report). */
#include "schema/model.h"
#include "schema/report.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ferry_model m = FERRY_MODEL_INIT;
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	char *json;

	ferry_model_load_buffer(&m, "fuzz.yaml", (const char *)data, size, &f);
	ferry_model_validate(&m, &f);
	ferry_findings_sort(&f);
	json = ferry_report_json(&f, &m);
	free(json);
	ferry_findings_release(&f);
	ferry_model_release(&m);
	return 0;
}
