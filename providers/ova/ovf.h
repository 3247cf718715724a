/* OVF envelopes (DMTF DSP0243 1.x and 2.x, as VMware and VirtualBox write
 * them) read into ferry's inventory model.
 *
 * The document is untrusted: it is parsed from memory with libxml2, with no
 * network access, no DTD (a document with a DOCTYPE is refused before its
 * internal subset is read, so no entity is ever declared or expanded) and
 * at most FERRY_OVF_MAX bytes. Element and attribute names are matched by
 * their local name, so ovf:-prefixed and default-namespace documents read
 * alike, as do rasd:, sasd: and epasd: items.
 *
 * What it fills in, per VirtualSystem: name, CPUs (ResourceType 3,
 * vmw:CoresPerSocket), memory (ResourceType 4 and its AllocationUnits),
 * disks (ResourceType 17 items whose HostResource is ovf:/disk/ID, joined
 * with DiskSection and References: capacity in bytes, href, format, the bus
 * of the parent controller), NICs (ResourceType 10), firmware and secure
 * boot (vmw:Config / vmw:ExtraConfig keys, VirtualBox's <Firmware>), the OS
 * type and which product exported it. power_state is "Off" and every disk's
 * storage is the one name the caller passes.
 *
 * vm->id is the VirtualSystem's ovf:id (or NULL); the OVA driver replaces it
 * with a provider-wide id derived from it. vm->source is left NULL.
 */
#ifndef FERRY_PROVIDERS_OVA_OVF_H
#define FERRY_PROVIDERS_OVA_OVF_H

#include "providers/driver.h"
#include "schema/finding.h"

#include <stddef.h>

#define FERRY_OVF_MAX (8u << 20) /* bytes of XML */

/* Parse the envelope in data[0..len) (file names it in findings) and append
 * one struct ferry_vm per VirtualSystem to inv->vms; inv->networks gets the
 * networks the envelope names (unsorted, possibly repeated: the caller
 * sorts). Problems are findings in f, never a failure of the call: returns 0
 * when the envelope was read (perhaps with findings, perhaps with no VM), -1
 * when nothing could be used (a finding says why). Appended VMs are owned by
 * inv (ferry_inventory_release frees them). */
int ferry_ovf_parse(const char *data, size_t len, const char *file, const char *storage,
		    struct ferry_inventory *inv, struct ferry_findings *f);

/* The disk format named by a Disk's ovf:format URL: "vmdk-stream", "vmdk",
 * "qcow2", "raw", "vdi", or NULL when unknown. */
const char *ferry_ovf_format(const char *url);

/* Multiplier of an OVF/CIM allocation-units string ("byte * 2^20",
 * "MegaBytes", "byte"); 0 when it cannot be read. */
unsigned long long ferry_ovf_units(const char *units);

#endif
