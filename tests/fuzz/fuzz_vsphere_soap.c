/* libFuzzer target: the vSphere driver's SOAP reply parser and what reads
 * its replies (providers/vsphere: faults, the inventory model from
 * RetrievePropertiesEx and WaitForUpdatesEx, task states, changed areas). */
#include "providers/vsphere/internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"Login", "RetrievePropertiesEx", "WaitForUpdatesEx",
					      "QueryChangedDiskAreas"};
	const char *xml = (const char *)data;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_inventory inv = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_changed_areas c = {0};
	char fault[VS_FAULT_MAX], *result = NULL;
	uint64_t next = 0;
	int progress;

	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
		struct vs_reply r = VS_REPLY_INIT;
		int rc = vs_parse_reply(methods[i], i % 2 ? 200 : 500, xml, size, &r, &err);
		/* a failure always says why; a success always has its element */
		if ((rc && !err.msg[0]) || (!rc && !r.resp))
			__builtin_trap();
		vs_reply_release(&r);
		ferry_err_clear(&err);
	}
	if (!vs_inventory_from_reply(xml, size, &inv, &f, &err)) {
		for (size_t i = 0; i < inv.nvms; i++) {
			const struct ferry_vm *vm = &inv.vms[i];
			if (!vm->id || !vm->name || !vm->firmware)
				__builtin_trap();
			for (size_t j = 0; j < vm->ndisks; j++)
				if (!vm->disks[j].id || !vm->disks[j].mode)
					__builtin_trap();
			free(ferry_vm_to_json(vm));
		}
	}
	ferry_inventory_release(&inv);
	ferry_findings_release(&f);
	if (vs_task_info_reply(xml, size, "t", &progress, &result, fault, &err) == 0)
		free(result);
	if (!vs_qcda_parse_reply(xml, size, 0, 1ull << 40, &c, &next, &err)) {
		for (size_t i = 1; i < c.n; i++)
			if (c.v[i].start < c.v[i - 1].start + c.v[i - 1].length)
				__builtin_trap();
	}
	ferry_changed_areas_release(&c);
	return 0;
}
