#include "ovf.h"

#include "common/alloc.h"
#include "common/strbuf.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Each list an envelope holds (files, disks, networks, virtual systems, a
 * hardware section's items) is read up to this many entries: the joins
 * below are linear searches, and no real appliance comes close. */
enum { MAX_ENTRIES = 4096, MAX_COLLECTION_DEPTH = 8 };

#define NS_VMW	    "http://www.vmware.com/schema/ovf"
#define NS_OVF_PFX  "http://schemas.dmtf.org/ovf/envelope/"
#define NS_VBOX	    "http://www.virtualbox.org/ovf/machine"
#define FMT_VMDK    "http://www.vmware.com/interfaces/specifications/vmdk.html"
#define FMT_VMDK_SO FMT_VMDK "#streamOptimized"

enum nsclass { NS_ANY, NS_OVF, NS_VMWARE };

struct file_ref {
	char *id, *href;
	bool compressed, chunked;
};

struct disk_def {
	char *id, *file_ref, *format;
	char *capacity, *units;
	const xmlNode *node;
	bool used;
};

/* A Item, StorageItem or EthernetPortItem: its children's texts. */
struct item {
	const xmlNode *node;
	long type; /* ResourceType, -1 when absent or unreadable */
	char *instance, *parent, *name, *quantity, *units, *host, *conn, *subtype, *address, *cores;
};

struct parse {
	const char *file, *storage;
	struct ferry_findings *f;
	struct ferry_inventory *inv;
	bool doctype;
	struct file_ref *files;
	size_t nfiles, cfiles;
	struct disk_def *disks;
	size_t ndisks, cdisks;
	size_t nvs;
	const char *source; /* the product that exported the envelope */
};

static void finding(struct parse *p, const xmlNode *n, enum ferry_category cat, const char *id,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void finding(struct parse *p, const xmlNode *n, enum ferry_category cat, const char *id,
		    const char *fmt, ...)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	struct ferry_pos pos = {p->file, 0, 0};
	va_list ap;

	if (n) {
		long line = xmlGetLineNo(n);
		pos.line = line > 0 && line < INT32_MAX ? (int)line : 0;
	}
	va_start(ap, fmt);
	ferry_sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	ferry_findings_add(p->f, cat, id, &pos, "%s", sb.buf);
	ferry_sb_release(&sb);
}

/* ---- libxml2 helpers ------------------------------------------------------- */

static bool is_el(const xmlNode *n, const char *local)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, local) == 0;
}

static const xmlNode *next_el(const xmlNode *n)
{
	for (n = n ? n->next : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

static const xmlNode *first_el(const xmlNode *parent)
{
	const xmlNode *n = parent->children;

	if (n && n->type != XML_ELEMENT_NODE)
		n = next_el(n);
	return n;
}

static const xmlNode *child(const xmlNode *parent, const char *local)
{
	for (const xmlNode *c = first_el(parent); c; c = next_el(c))
		if (is_el(c, local))
			return c;
	return NULL;
}

static char *trimmed(const char *s)
{
	const char *end;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	return ferry_xstrndup(s, (size_t)(end - s));
}

/* The element's text, trimmed; the caller frees. */
static char *text(const xmlNode *n)
{
	xmlChar *v = xmlNodeGetContent(n);
	char *s = trimmed(v ? (const char *)v : "");

	xmlFree(v);
	return s;
}

static bool ns_ok(const xmlNs *ns, enum nsclass want)
{
	switch (want) {
	case NS_ANY: return true;
	case NS_OVF:
		return !ns || (ns->href && strncmp((const char *)ns->href, NS_OVF_PFX,
						   strlen(NS_OVF_PFX)) == 0);
	case NS_VMWARE: return ns && ns->href && strcmp((const char *)ns->href, NS_VMW) == 0;
	}
	return false;
}

/* The value of attribute `local` in namespace class `want`, trimmed; NULL
 * when absent. The caller frees. */
static char *attr(const xmlNode *n, const char *local, enum nsclass want)
{
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		xmlChar *v;
		char *s;

		if (strcmp((const char *)a->name, local) != 0 || !ns_ok(a->ns, want))
			continue;
		v = xmlNodeListGetString(n->doc, a->children, 1);
		s = trimmed(v ? (const char *)v : "");
		xmlFree(v);
		return s;
	}
	return NULL;
}

/* ---- values ------------------------------------------------------------------ */

static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || *s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return *s == '\0';
}

static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b && a > UINT64_MAX / b)
		return false;
	*out = a * b;
	return true;
}

unsigned long long ferry_ovf_units(const char *units)
{
	static const struct {
		const char *name;
		unsigned shift;
	} words[] = {
		{"byte", 0}, {"bytes", 0}, {"kilobytes", 10}, {"kilobyte", 10},
		{"kb", 10},  {"kib", 10},  {"megabytes", 20}, {"megabyte", 20},
		{"mb", 20},  {"mib", 20},  {"gigabytes", 30}, {"gigabyte", 30},
		{"gb", 30},  {"gib", 30},  {"terabytes", 40}, {"terabyte", 40},
		{"tb", 40},  {"tib", 40},
	};
	char buf[64];
	size_t n = 0;
	const char *rest;
	uint64_t base, exp, mult = 1;

	if (!units)
		return 0;
	/* "byte * 2^20" and "Byte*2^20" alike: lower case, no blanks. */
	for (const char *s = units; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			continue;
		if (n + 1 >= sizeof buf)
			return 0;
		buf[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
	}
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (strcmp(buf, words[i].name) == 0)
			return 1ull << words[i].shift;
	if (strncmp(buf, "bytes*", 6) == 0)
		rest = buf + 6;
	else if (strncmp(buf, "byte*", 5) == 0)
		rest = buf + 5;
	else
		return 0;
	if (strncmp(rest, "2^", 2) == 0)
		base = 2;
	else if (strncmp(rest, "10^", 3) == 0)
		base = 10;
	else
		return 0;
	if (!parse_u64(rest + (base == 2 ? 2 : 3), &exp) || exp > 63)
		return 0;
	while (exp--)
		if (!mul_u64(mult, base, &mult))
			return 0;
	return mult;
}

const char *ferry_ovf_format(const char *url)
{
	static const struct {
		const char *url, *format;
	} formats[] = {
		{FMT_VMDK_SO, "vmdk-stream"},
		{"http://www.vmware.com/specifications/vmdk.html#streamOptimized", "vmdk-stream"},
		{FMT_VMDK "#sparse", "vmdk"},
		{FMT_VMDK "#monolithicSparse", "vmdk"},
		{FMT_VMDK, "vmdk"},
		{"http://www.vmware.com/specifications/vmdk.html#sparse", "vmdk"},
		{"http://www.vmware.com/specifications/vmdk.html", "vmdk"},
		{"http://www.gnome.org/~markmc/qcow-image-format.html", "qcow2"},
		{"https://people.gnome.org/~markmc/qcow-image-format.html", "qcow2"},
		{"http://www.virtualbox.org/manual/ch12.html#vdidetails", "vdi"},
		{"http://en.wikipedia.org/wiki/Byte", "raw"},
		{"raw", "raw"},
	};

	if (!url)
		return NULL;
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
		if (strcmp(url, formats[i].url) == 0)
			return formats[i].format;
	return NULL;
}

static bool is_true(const char *v)
{
	return v && (strcmp(v, "true") == 0 || strcmp(v, "TRUE") == 0 || strcmp(v, "True") == 0 ||
		     strcmp(v, "1") == 0);
}

static char *lower(const char *s)
{
	char *d = ferry_xstrdup(s);

	for (char *c = d; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return d;
}

/* "00:50:56:AB:cd:ef" or "00-50-56-ab-cd-ef" → "00:50:56:ab:cd:ef"; NULL
 * when it is not a MAC address. */
static char *mac_address(const char *s)
{
	char out[18];

	if (strlen(s) != 17)
		return NULL;
	for (int i = 0; i < 17; i++) {
		char c = s[i];
		if (i % 3 == 2) {
			if (c != ':' && c != '-')
				return NULL;
			out[i] = ':';
		} else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
			out[i] = c;
		} else if (c >= 'A' && c <= 'F') {
			out[i] = (char)(c - 'A' + 'a');
		} else {
			return NULL;
		}
	}
	out[17] = '\0';
	return ferry_xstrdup(out);
}

static char *dup_or_null(const char *s)
{
	return s ? ferry_xstrdup(s) : NULL;
}

/* ---- envelope-wide sections --------------------------------------------------- */

static void read_references(struct parse *p, const xmlNode *refs)
{
	for (const xmlNode *c = first_el(refs); c; c = next_el(c)) {
		struct file_ref *r;
		char *v;

		if (!is_el(c, "File"))
			continue;
		if (p->nfiles == MAX_ENTRIES) {
			finding(p, c, FERRY_CAT_ERROR, "ovf.limit",
				"more than %d File entries in References; the rest are ignored",
				MAX_ENTRIES);
			return;
		}
		r = FERRY_PUSH(p->files, p->nfiles, p->cfiles);
		r->id = attr(c, "id", NS_OVF);
		r->href = attr(c, "href", NS_OVF);
		if ((v = attr(c, "compression", NS_OVF))) {
			r->compressed = *v && strcmp(v, "identity") != 0;
			free(v);
		}
		if ((v = attr(c, "chunkSize", NS_OVF))) {
			r->chunked = *v != '\0';
			free(v);
		}
		if (!r->id || !r->href)
			finding(p, c, FERRY_CAT_ERROR, "ovf.file.invalid",
				"File without ovf:id or ovf:href");
	}
}

static void read_disks(struct parse *p, const xmlNode *sec)
{
	for (const xmlNode *c = first_el(sec); c; c = next_el(c)) {
		struct disk_def *d;

		if (!is_el(c, "Disk"))
			continue;
		if (p->ndisks == MAX_ENTRIES) {
			finding(p, c, FERRY_CAT_ERROR, "ovf.limit",
				"more than %d Disk entries in DiskSection; the rest are ignored",
				MAX_ENTRIES);
			return;
		}
		d = FERRY_PUSH(p->disks, p->ndisks, p->cdisks);
		d->node = c;
		d->id = attr(c, "diskId", NS_OVF);
		d->file_ref = attr(c, "fileRef", NS_OVF);
		d->format = attr(c, "format", NS_OVF);
		d->capacity = attr(c, "capacity", NS_OVF);
		d->units = attr(c, "capacityAllocationUnits", NS_OVF);
		if (!d->id)
			finding(p, c, FERRY_CAT_ERROR, "ovf.disk.invalid",
				"Disk without ovf:diskId");
	}
}

static void add_network(struct ferry_inventory *inv, const char *name)
{
	inv->networks = ferry_xrealloc(inv->networks, (inv->nnetworks + 1) * sizeof *inv->networks);
	inv->networks[inv->nnetworks++] = ferry_xstrdup(name);
}

static void read_networks(struct parse *p, const xmlNode *sec)
{
	size_t n = 0;

	for (const xmlNode *c = first_el(sec); c; c = next_el(c)) {
		char *name;

		if (!is_el(c, "Network"))
			continue;
		if (n++ == MAX_ENTRIES) {
			finding(p, c, FERRY_CAT_ERROR, "ovf.limit",
				"more than %d Network entries in NetworkSection; the rest are "
				"ignored",
				MAX_ENTRIES);
			return;
		}
		name = attr(c, "name", NS_OVF);
		if (name && *name)
			add_network(p->inv, name);
		else
			finding(p, c, FERRY_CAT_WARNING, "ovf.network.invalid",
				"Network without ovf:name");
		free(name);
	}
}

/* Forklift's guess (its ovaSource): another product's namespace on the
 * Envelope wins over VMware's, which others declare too. */
static const char *guess_source(const xmlNode *env)
{
	static const struct {
		const char *href, *source;
	} products[] = {
		{"http://schemas.citrix.com/ovf/envelope/1", "Xen"},
		{"http://www.citrix.com/xenclient/ovf/1", "Xen"},
		{NS_VBOX, "VirtualBox"},
		{"http://www.ovirt.org/ovf", "oVirt"},
	};
	bool vmware = false;

	for (const xmlNs *ns = env->nsDef; ns; ns = ns->next) {
		if (!ns->href)
			continue;
		for (size_t i = 0; i < sizeof products / sizeof *products; i++)
			if (strcmp((const char *)ns->href, products[i].href) == 0)
				return products[i].source;
		if (strstr((const char *)ns->href, NS_VMW))
			vmware = true;
	}
	return vmware ? "VMware" : "Unknown";
}

static const struct file_ref *find_file(const struct parse *p, const char *id)
{
	for (size_t i = 0; id && i < p->nfiles; i++)
		if (p->files[i].id && strcmp(p->files[i].id, id) == 0)
			return &p->files[i];
	return NULL;
}

static struct disk_def *find_disk(const struct parse *p, const char *id)
{
	for (size_t i = 0; id && i < p->ndisks; i++)
		if (p->disks[i].id && strcmp(p->disks[i].id, id) == 0)
			return &p->disks[i];
	return NULL;
}

/* ---- one VirtualSystem ---------------------------------------------------------- */

static void set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = ferry_xstrdup(v);
}

static void read_item(const xmlNode *n, struct item *it)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{"InstanceID", offsetof(struct item, instance)},
		{"Parent", offsetof(struct item, parent)},
		{"ElementName", offsetof(struct item, name)},
		{"VirtualQuantity", offsetof(struct item, quantity)},
		{"AllocationUnits", offsetof(struct item, units)},
		{"HostResource", offsetof(struct item, host)},
		{"Connection", offsetof(struct item, conn)},
		{"ResourceSubType", offsetof(struct item, subtype)},
		{"Address", offsetof(struct item, address)},
		{"CoresPerSocket", offsetof(struct item, cores)},
	};

	it->node = n;
	it->type = -1;
	for (const xmlNode *c = first_el(n); c; c = next_el(c)) {
		if (is_el(c, "ResourceType")) {
			char *t = text(c);
			uint64_t v;
			if (it->type < 0 && parse_u64(t, &v) && v <= 0xffff)
				it->type = (long)v;
			free(t);
			continue;
		}
		for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
			char **slot = (char **)(void *)((char *)it + fields[i].off);
			if (is_el(c, fields[i].name) && !*slot)
				*slot = text(c);
		}
	}
}

static void item_release(struct item *it)
{
	free(it->instance);
	free(it->parent);
	free(it->name);
	free(it->quantity);
	free(it->units);
	free(it->host);
	free(it->conn);
	free(it->subtype);
	free(it->address);
	free(it->cores);
}

static void read_cpu(struct parse *p, struct ferry_vm *vm, const struct item *it)
{
	uint64_t v;

	if (parse_u64(it->quantity, &v) && v >= 1 && v <= 65536) {
		vm->cpus = (unsigned)v;
	} else {
		finding(p, it->node, FERRY_CAT_WARNING, "ovf.cpu.invalid",
			"VM '%s': CPU count '%s' is not a number from 1 to 65536; assuming 1",
			vm->name, it->quantity ? it->quantity : "");
		vm->cpus = 1;
	}
	if (!it->cores)
		return;
	if (parse_u64(it->cores, &v) && v >= 1 && v <= vm->cpus)
		vm->cores_per_socket = (unsigned)v;
	else
		finding(p, it->node, FERRY_CAT_WARNING, "ovf.cpu.cores-invalid",
			"VM '%s': CoresPerSocket '%s' is not a number from 1 to the CPU count",
			vm->name, it->cores);
}

static void read_memory(struct parse *p, struct ferry_vm *vm, const struct item *it)
{
	uint64_t q, bytes;
	unsigned long long mult = ferry_ovf_units(it->units ? it->units : "byte * 2^20");

	if (!it->units)
		finding(p, it->node, FERRY_CAT_WARNING, "ovf.memory.units",
			"VM '%s': memory without AllocationUnits; assuming MiB", vm->name);
	if (!mult) {
		finding(p, it->node, FERRY_CAT_CRITICAL, "ovf.units.invalid",
			"VM '%s': memory AllocationUnits '%s' are not units ferry reads "
			"(e.g. \"byte * 2^20\")",
			vm->name, it->units);
		return;
	}
	if (!parse_u64(it->quantity, &q) || !mul_u64(q, mult, &bytes) || bytes == 0) {
		finding(p, it->node, FERRY_CAT_CRITICAL, "ovf.memory.invalid",
			"VM '%s': memory size '%s' is not a positive number of '%s'", vm->name,
			it->quantity ? it->quantity : "", it->units ? it->units : "byte * 2^20");
		return;
	}
	vm->memory_bytes = bytes;
}

/* "ovf:/disk/ID" (and the "/disk/ID" and "ovf://disk/ID" spellings seen in
 * the wild) → ID; NULL otherwise. */
static const char *disk_ref(const char *host)
{
	const char *s = host;

	if (!s)
		return NULL;
	if (strncmp(s, "ovf:", 4) == 0)
		s += 4;
	while (*s == '/')
		s++;
	return strncmp(s, "disk/", 5) == 0 && s[5] ? s + 5 : NULL;
}

static const char *controller_bus(const struct item *items, size_t n, const char *parent)
{
	for (size_t i = 0; parent && i < n; i++) {
		const struct item *c = &items[i];
		if (!c->instance || strcmp(c->instance, parent) != 0)
			continue;
		switch (c->type) {
		case 5: return "ide";
		case 6: return "scsi";
		case 20:
			if (c->subtype &&
			    (strcasestr(c->subtype, "ahci") || strcasestr(c->subtype, "sata")))
				return "sata";
			return NULL;
		default: return NULL;
		}
	}
	return NULL;
}

static struct ferry_vm_disk *push_disk(struct ferry_vm *vm)
{
	struct ferry_vm_disk *d;

	vm->disks = ferry_xrealloc(vm->disks, (vm->ndisks + 1) * sizeof *vm->disks);
	d = &vm->disks[vm->ndisks++];
	memset(d, 0, sizeof *d);
	return d;
}

static struct ferry_vm_nic *push_nic(struct ferry_vm *vm)
{
	struct ferry_vm_nic *n;

	vm->nics = ferry_xrealloc(vm->nics, (vm->nnics + 1) * sizeof *vm->nics);
	n = &vm->nics[vm->nnics++];
	memset(n, 0, sizeof *n);
	return n;
}

static void read_disk(struct parse *p, struct ferry_vm *vm, const struct item *it,
		      const struct item *items, size_t n)
{
	const char *ref = disk_ref(it->host);
	struct disk_def *d = find_disk(p, ref);
	const struct file_ref *f = NULL;
	struct ferry_vm_disk *disk;
	unsigned long long mult;
	uint64_t cap;

	if (!ref) {
		finding(p, it->node, FERRY_CAT_CRITICAL, "ovf.disk.host-resource",
			"VM '%s': disk item '%s' has HostResource '%s', not ovf:/disk/ID", vm->name,
			it->name       ? it->name
			: it->instance ? it->instance
				       : "",
			it->host ? it->host : "");
		return;
	}
	if (!d) {
		finding(p, it->node, FERRY_CAT_CRITICAL, "ovf.disk.unknown",
			"VM '%s': disk '%s' is not in the DiskSection", vm->name, ref);
		return;
	}
	d->used = true;
	/* A disk whose file cannot be found is left out rather than listed
	 * as a blank disk (which is what a Disk without fileRef is). */
	if (d->file_ref && (!(f = find_file(p, d->file_ref)) || !f->href)) {
		finding(p, d->node, FERRY_CAT_CRITICAL, "ovf.disk.file-unknown",
			"VM '%s': disk '%s' names file '%s', which References lacks", vm->name,
			d->id, d->file_ref);
		return;
	}
	disk = push_disk(vm);
	disk->id = ferry_xstrdup(d->id);
	disk->storage = ferry_xstrdup(p->storage);
	disk->bus = dup_or_null(controller_bus(items, n, it->parent));
	mult = d->units ? ferry_ovf_units(d->units) : 1;
	if (!mult || !parse_u64(d->capacity, &cap) || !mul_u64(cap, mult, &disk->capacity))
		finding(p, d->node, FERRY_CAT_CRITICAL, "ovf.disk.capacity",
			"VM '%s': disk '%s' has capacity '%s' in units '%s', which ferry cannot "
			"read",
			vm->name, d->id, d->capacity ? d->capacity : "",
			d->units ? d->units : "byte");
	if (d->format) {
		const char *fmt = ferry_ovf_format(d->format);
		if (fmt)
			disk->format = ferry_xstrdup(fmt);
		else
			finding(p, d->node, FERRY_CAT_WARNING, "ovf.disk.format-unknown",
				"VM '%s': disk '%s' has format '%s'; ferry will look at its bytes",
				vm->name, d->id, d->format);
	}
	if (!f)
		return;
	disk->file = ferry_xstrdup(f->href);
	if (f->compressed || f->chunked) {
		/* Unknown format: disk_open then finds no disk header in the
		 * file and refuses it, whatever ovf:format claimed. */
		free(disk->format);
		disk->format = NULL;
		finding(p, d->node, FERRY_CAT_CRITICAL,
			f->compressed ? "ovf.file.compressed" : "ovf.file.chunked",
			"VM '%s': file '%s' is %s; ferry reads whole, uncompressed files only",
			vm->name, f->href,
			f->compressed ? "compressed (ovf:compression)" : "split (ovf:chunkSize)");
	}
}

static void read_nic(struct parse *p, struct ferry_vm *vm, const struct item *it)
{
	struct ferry_vm_nic *nic = push_nic(vm);

	if (it->name && *it->name)
		nic->name = ferry_xstrdup(it->name);
	else
		nic->name = ferry_xasprintf("Network adapter %zu", vm->nnics);
	if (it->conn && *it->conn)
		nic->network = ferry_xstrdup(it->conn);
	else
		finding(p, it->node, FERRY_CAT_WARNING, "ovf.nic.no-network",
			"VM '%s': '%s' is connected to no network", vm->name, nic->name);
	if (it->subtype && *it->subtype)
		nic->model = lower(it->subtype);
	if (it->address && *it->address && !(nic->mac = mac_address(it->address)))
		finding(p, it->node, FERRY_CAT_WARNING, "ovf.nic.mac-invalid",
			"VM '%s': '%s' has address '%s', not a MAC address", vm->name, nic->name,
			it->address);
}

static void apply_config(struct parse *p, struct ferry_vm *vm, const xmlNode *c)
{
	char *key = attr(c, "key", NS_ANY), *value = attr(c, "value", NS_ANY);

	if (!key || !value)
		goto out;
	if (strcmp(key, "firmware") == 0) {
		if (strcasecmp(value, "efi") == 0)
			set_str(&vm->firmware, "efi");
		else if (strcasecmp(value, "bios") == 0)
			set_str(&vm->firmware, "bios");
		else
			finding(p, c, FERRY_CAT_WARNING, "ovf.firmware.unknown",
				"VM '%s': firmware '%s' is neither bios nor efi", vm->name, value);
	} else if (strcmp(key, "uefi.secureBoot.enabled") == 0 ||
		   strcmp(key, "bootOptions.efiSecureBootEnabled") == 0) {
		vm->secure_boot = is_true(value);
	}
out:
	free(key);
	free(value);
}

static void read_hardware(struct parse *p, struct ferry_vm *vm, const xmlNode *hw)
{
	struct item *items = NULL;
	size_t n = 0, cap = 0;
	bool cpu = false, mem = false;

	for (const xmlNode *c = first_el(hw); c; c = next_el(c)) {
		if (is_el(c, "Item") || is_el(c, "StorageItem") || is_el(c, "EthernetPortItem")) {
			if (n == MAX_ENTRIES) {
				finding(p, c, FERRY_CAT_ERROR, "ovf.limit",
					"VM '%s': more than %d hardware items; the rest are "
					"ignored",
					vm->name, MAX_ENTRIES);
				break;
			}
			read_item(c, FERRY_PUSH(items, n, cap));
		} else if (is_el(c, "Config") || is_el(c, "ExtraConfig")) {
			apply_config(p, vm, c);
		}
	}
	for (size_t i = 0; i < n; i++) {
		switch (items[i].type) {
		case 3:
			if (!cpu)
				read_cpu(p, vm, &items[i]);
			cpu = true;
			break;
		case 4:
			if (!mem)
				read_memory(p, vm, &items[i]);
			mem = true;
			break;
		case 10: read_nic(p, vm, &items[i]); break;
		case 17: read_disk(p, vm, &items[i], items, n); break;
		default: break;
		}
	}
	if (!cpu) {
		finding(p, hw, FERRY_CAT_WARNING, "ovf.cpu.missing",
			"VM '%s': no CPU item (ResourceType 3); assuming 1 CPU", vm->name);
		vm->cpus = 1;
	}
	if (!mem)
		finding(p, hw, FERRY_CAT_CRITICAL, "ovf.memory.missing",
			"VM '%s': no memory item (ResourceType 4)", vm->name);
	for (size_t i = 0; i < n; i++)
		item_release(&items[i]);
	free(items);
}

static void read_os(struct ferry_vm *vm, const xmlNode *os)
{
	const xmlNode *d;
	char *v;

	if (!os)
		return;
	if (!(v = attr(os, "osType", NS_VMWARE)) && !(v = attr(os, "osType", NS_ANY)) &&
	    !(v = attr(os, "OSType", NS_ANY)) && (d = child(os, "Description")))
		v = text(d);
	if (v && !*v) {
		free(v);
		v = NULL;
	}
	vm->os_type = v;
}

/* VirtualBox writes its own machine description next to the OVF items. */
static void read_vbox(struct ferry_vm *vm, const xmlNode *vs)
{
	const xmlNode *m = child(vs, "Machine"), *h, *fw;
	char *type;

	if (!m || !(h = child(m, "Hardware")) || !(fw = child(h, "Firmware")))
		return;
	if ((type = attr(fw, "type", NS_ANY)) && strncasecmp(type, "EFI", 3) == 0)
		set_str(&vm->firmware, "efi");
	free(type);
}

static void read_system(struct parse *p, const xmlNode *vs)
{
	struct ferry_vm *vm = FERRY_PUSH(p->inv->vms, p->inv->nvms, p->inv->cap);
	const xmlNode *c;

	p->nvs++;
	vm->id = attr(vs, "id", NS_OVF);
	if (vm->id && !*vm->id) {
		free(vm->id);
		vm->id = NULL;
	}
	if ((c = child(vs, "Name")))
		vm->name = text(c);
	if (!vm->name || !*vm->name) {
		free(vm->name);
		vm->name = vm->id ? ferry_xstrdup(vm->id) : ferry_xasprintf("vm-%zu", p->nvs);
		finding(p, vs, FERRY_CAT_WARNING, "ovf.system.no-name",
			"VirtualSystem without a Name; calling it '%s'", vm->name);
	}
	vm->power_state = ferry_xstrdup("Off");
	vm->firmware = ferry_xstrdup("bios");
	vm->export_source = ferry_xstrdup(p->source);
	read_os(vm, child(vs, "OperatingSystemSection"));
	read_vbox(vm, vs);
	if ((c = child(vs, "VirtualHardwareSection")))
		read_hardware(p, vm, c);
	else
		finding(p, vs, FERRY_CAT_CRITICAL, "ovf.hardware.missing",
			"VM '%s' has no VirtualHardwareSection", vm->name);
	if (!vm->cpus)
		vm->cpus = 1;
}

static void read_systems(struct parse *p, const xmlNode *parent, int depth)
{
	for (const xmlNode *c = first_el(parent); c; c = next_el(c)) {
		if (is_el(c, "VirtualSystem")) {
			if (p->nvs == MAX_ENTRIES) {
				finding(p, c, FERRY_CAT_ERROR, "ovf.limit",
					"more than %d VirtualSystems; the rest are ignored",
					MAX_ENTRIES);
				return;
			}
			read_system(p, c);
		} else if (is_el(c, "VirtualSystemCollection")) {
			if (depth == MAX_COLLECTION_DEPTH)
				finding(p, c, FERRY_CAT_ERROR, "ovf.limit",
					"VirtualSystemCollections nested more than %d deep",
					MAX_COLLECTION_DEPTH);
			else
				read_systems(p, c, depth + 1);
		}
	}
}

/* ---- the document ---------------------------------------------------------------- */

/* OVF has no use for a DTD: stop at the DOCTYPE, before any entity can be
 * declared, rather than trust libxml2's expansion limits. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
		       const xmlChar *system_id)
{
	xmlParserCtxt *ctxt = ctx;
	struct parse *p = ctxt->_private;

	(void)name;
	(void)external_id;
	(void)system_id;
	p->doctype = true;
	xmlStopParser(ctxt);
}

static void ignore_error(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void parse_release(struct parse *p)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		free(p->files[i].id);
		free(p->files[i].href);
	}
	free(p->files);
	for (size_t i = 0; i < p->ndisks; i++) {
		free(p->disks[i].id);
		free(p->disks[i].file_ref);
		free(p->disks[i].format);
		free(p->disks[i].capacity);
		free(p->disks[i].units);
	}
	free(p->disks);
}

static int read_envelope(struct parse *p, const xmlNode *env)
{
	const xmlNode *sec;

	if (!is_el(env, "Envelope")) {
		finding(p, env, FERRY_CAT_ERROR, "ovf.envelope.missing",
			"the document is not an OVF Envelope (its root is <%s>)",
			env ? (const char *)env->name : "");
		return -1;
	}
	p->source = guess_source(env);
	if ((sec = child(env, "References")))
		read_references(p, sec);
	if ((sec = child(env, "DiskSection")))
		read_disks(p, sec);
	if ((sec = child(env, "NetworkSection")))
		read_networks(p, sec);
	read_systems(p, env, 0);
	if (!p->nvs)
		finding(p, env, FERRY_CAT_ERROR, "ovf.system.missing",
			"the envelope has no VirtualSystem");
	for (size_t i = 0; i < p->ndisks; i++)
		if (!p->disks[i].used && p->disks[i].id)
			finding(p, p->disks[i].node, FERRY_CAT_WARNING, "ovf.disk.unreferenced",
				"disk '%s' belongs to no VirtualSystem; it is not migrated",
				p->disks[i].id);
	return 0;
}

int ferry_ovf_parse(const char *data, size_t len, const char *file, const char *storage,
		    struct ferry_inventory *inv, struct ferry_findings *f)
{
	struct parse p = {.file = file, .storage = storage, .f = f, .inv = inv};
	xmlParserCtxt *ctxt;
	xmlDoc *doc;
	xmlGenericErrorFunc old_handler;
	void *old_ctx;
	int ret = -1;

	if (len > FERRY_OVF_MAX) {
		finding(&p, NULL, FERRY_CAT_ERROR, "ovf.xml.too-large",
			"the OVF is %zu bytes, more than the %u ferry reads", len, FERRY_OVF_MAX);
		return -1;
	}
	if (len == 0) {
		finding(&p, NULL, FERRY_CAT_ERROR, "ovf.xml.malformed", "the OVF is empty");
		return -1;
	}
	xmlInitParser();
	/* Encoding and I/O errors bypass XML_PARSE_NOERROR and go to the
	 * (per-thread) generic handler: keep them off ferry's stderr. */
	old_handler = xmlGenericError;
	old_ctx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(NULL, ignore_error);
	ctxt = xmlCreateMemoryParserCtxt(data, (int)len);
	if (!ctxt) {
		xmlSetGenericErrorFunc(old_ctx, old_handler);
		finding(&p, NULL, FERRY_CAT_ERROR, "ovf.xml.malformed", "libxml2 cannot start");
		return -1;
	}
	/* No XML_PARSE_NOENT, DTDLOAD, DTDATTR or HUGE: nothing is fetched,
	 * substituted or unlimited. */
	xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
					XML_PARSE_BIG_LINES);
	ctxt->sax->internalSubset = on_doctype;
	ctxt->_private = &p;
	xmlParseDocument(ctxt);
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;

	if (p.doctype) {
		struct ferry_pos pos = {file, ctxt->input ? ctxt->input->line : 0, 0};
		ferry_findings_add(f, FERRY_CAT_ERROR, "ovf.xml.doctype", &pos,
				   "the OVF has a DOCTYPE; ferry reads no DTD and refuses it");
	} else if (!ctxt->wellFormed || !doc) {
		const xmlError *e = &ctxt->lastError;
		struct ferry_pos pos = {file, e->line > 0 ? e->line : 0, e->int2 > 0 ? e->int2 : 0};
		char *msg = trimmed(e->message ? e->message : "not well-formed");

		ferry_findings_add(f, FERRY_CAT_ERROR, "ovf.xml.malformed", &pos,
				   "the OVF is not well-formed XML: %s", msg);
		free(msg);
	} else {
		ret = read_envelope(&p, xmlDocGetRootElement(doc));
	}
	parse_release(&p);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	xmlSetGenericErrorFunc(old_ctx, old_handler);
	return ret;
}
