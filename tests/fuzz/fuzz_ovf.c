/* libFuzzer target: the OVF envelope parser (providers/ova/ovf.c). */
#include "providers/ova/ovf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ferry_inventory inv = {0};
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	int r = ferry_ovf_parse((const char *)data, size, "fuzz.ovf", "storage", &inv, &f);

	/* Nothing is refused silently, and what is listed is whole. */
	if (r < 0 && f.len == 0)
		__builtin_trap();
	for (size_t i = 0; i < inv.nvms; i++) {
		const struct ferry_vm *vm = &inv.vms[i];
		if (!vm->name || !vm->firmware || !vm->power_state || vm->cpus == 0)
			__builtin_trap();
		for (size_t j = 0; j < vm->ndisks; j++)
			if (!vm->disks[j].id || !vm->disks[j].storage)
				__builtin_trap();
		for (size_t j = 0; j < vm->nnics; j++)
			if (!vm->nics[j].name || (vm->nics[j].mac && strlen(vm->nics[j].mac) != 17))
				__builtin_trap();
		free(ferry_vm_to_json(vm));
	}
	ferry_inventory_release(&inv);
	ferry_findings_release(&f);
	return 0;
}
