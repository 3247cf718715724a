#include "reconciler/resolve.h"

#include "common/alloc.h"
#include "common/strbuf.h"
#include "schema/names.h"
#include "schema/template.h"

#include <openssl/evp.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *keep(struct ferry_run_vm *v, char *s)
{
	*FERRY_PUSH(v->owned, v->nowned, v->owned_cap) = s;
	return s;
}

static void problem(struct ferry_run_vm *v, char *why)
{
	if (v->problem)
		free(why); /* the first one says enough */
	else
		v->problem = why;
}

static const char *str_or(const struct ferry_str *a, const struct ferry_str *b)
{
	return a->v ? a->v : b->v;
}

static const char *ref_ns(const struct ferry_ref *r, const char *dflt)
{
	return r->namespace_.v ? r->namespace_.v : dflt;
}

/* Does a map pair's source (name, id) name the source object called name
 * whose id is id (NULL: the source gives none)? A pair's name matches the
 * name; its id matches the id (vSphere: the datastore's or network's
 * moref), or the name when the source gives no ids. */
static bool source_matches(const struct ferry_str *pname, const struct ferry_str *pid,
			   const char *name, const char *id)
{
	if (pname->v && name && !strcmp(pname->v, name))
		return true;
	if (!pid->v)
		return false;
	return id ? !strcmp(pid->v, id) : name && !strcmp(pid->v, name);
}

/* The pair of a StorageMap whose source is the storage name / id. */
static const struct ferry_storage_pair *storage_pair(const struct ferry_storagemap *sm,
						     const char *name, const char *id)
{
	for (size_t i = 0; sm && i < sm->spec.map.len; i++) {
		const struct ferry_storage_pair *p =
			FERRY_AT(sm->spec.map, struct ferry_storage_pair, i);
		if (source_matches(&p->source.name, &p->source.id, name, id))
			return p;
	}
	return NULL;
}

static const struct ferry_network_pair *network_pair(const struct ferry_networkmap *nm,
						     const char *name, const char *id)
{
	for (size_t i = 0; nm && i < nm->spec.map.len; i++) {
		const struct ferry_network_pair *p =
			FERRY_AT(nm->spec.map, struct ferry_network_pair, i);
		if (source_matches(&p->source.name, &p->source.id, name, id))
			return p;
	}
	return NULL;
}

/* Run template src with vars; NULL (and a problem) when it fails or gives
 * something that is not a DNS-1123 label. */
static const char *run_template(struct ferry_run_vm *v, const char *what, const char *src,
				const struct ferry_tmpl_var *vars, size_t nvars)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_tmpl *t = NULL;
	const char *why = NULL;
	char *out = NULL;

	if (ferry_tmpl_parse(src, &t, &err) || ferry_tmpl_exec(t, vars, nvars, &out, &err)) {
		problem(v, ferry_xasprintf("%s \"%s\": %s", what, src, err.msg));
		ferry_tmpl_free(t);
		return NULL;
	}
	ferry_tmpl_free(t);
	if (!ferry_dns1123_label(out, &why)) {
		problem(v, ferry_xasprintf("%s \"%s\" gives \"%s\": %s", what, src, out, why));
		free(out);
		return NULL;
	}
	return keep(v, out);
}

static void resolve_disks(struct ferry_run_vm *v, const struct ferry_plan *plan,
			  const struct ferry_storagemap *sm, const char *smname)
{
	const struct ferry_vm *src = v->src;
	const struct ferry_plan_vm *pvm = v->pvm;
	const char *tmpl = str_or(&pvm->pvc_name_template, &plan->spec.pvc_name_template);
	bool compat = plan->spec.use_compatibility_mode.set && plan->spec.use_compatibility_mode.v;
	const char *bus = plan->spec.disk_bus.v ? plan->spec.disk_bus.v
			  : compat		? "sata"
						: "virtio";
	struct ferry_target_disk *disks =
		ferry_xcalloc(src->ndisks ? src->ndisks : 1, sizeof *disks);

	keep(v, (char *)disks);
	/* the names below are prefixes unless the Plan says otherwise
	 * (Forklift's default is true) */
	v->tvm.pvc_generate_name = !plan->spec.pvc_name_template_use_generate_name.set ||
				   plan->spec.pvc_name_template_use_generate_name.v;
	for (size_t i = 0; i < src->ndisks; i++) {
		const struct ferry_vm_disk *d = &src->disks[i];
		const struct ferry_storage_pair *p =
			d->storage || d->storage_id ? storage_pair(sm, d->storage, d->storage_id)
						    : NULL;
		char idx[24];

		if (!p) {
			problem(v, ferry_xasprintf("disk %s is on storage \"%s\"%s%s%s, which "
						   "StorageMap %s does not map",
						   d->id, d->storage ? d->storage : "",
						   d->storage_id ? " (id " : "",
						   d->storage_id ? d->storage_id : "",
						   d->storage_id ? ")" : "", smname));
			continue;
		}
		snprintf(idx, sizeof idx, "%zu", i);
		if (tmpl) {
			const struct ferry_tmpl_var vars[] = {
				{.name = "VmName", .kind = FERRY_TVAL_STRING, .s = src->name},
				{.name = "TargetVmName",
				 .kind = FERRY_TVAL_STRING,
				 .s = v->tvm.name},
				{.name = "PlanName",
				 .kind = FERRY_TVAL_STRING,
				 .s = plan->obj.name},
				{.name = "DiskIndex", .kind = FERRY_TVAL_INT, .i = (int64_t)i},
				{.name = "RootDiskIndex", .kind = FERRY_TVAL_INT, .i = 0},
				{.name = "VmId", .kind = FERRY_TVAL_STRING, .s = src->id},
				{.name = "Shared", .kind = FERRY_TVAL_BOOL, .b = d->shared},
				{.name = "FileName",
				 .kind = FERRY_TVAL_STRING,
				 .s = d->file ? d->file : ""},
				{.name = "WinDriveLetter", .kind = FERRY_TVAL_STRING, .s = ""},
			};
			disks[i].name = run_template(v, "pvcNameTemplate", tmpl, vars,
						     sizeof vars / sizeof vars[0]);
		} else {
			disks[i].name = keep(v, ferry_xasprintf("%s-disk-%zu", v->tvm.name, i));
		}
		disks[i].size = d->capacity;
		disks[i].storage_class = p->destination.storage_class.v;
		disks[i].volume_mode = p->destination.volume_mode.v;
		disks[i].access_mode = p->destination.access_mode.v;
		disks[i].bus = bus;
	}
	v->tvm.disks = disks;
	v->tvm.ndisks = src->ndisks;
}

static void resolve_nics(struct ferry_run_vm *v, const struct ferry_plan *plan,
			 const struct ferry_networkmap *nm, const char *nmname)
{
	const struct ferry_vm *src = v->src;
	const char *tmpl =
		str_or(&v->pvm->network_name_template, &plan->spec.network_name_template);
	bool compat = plan->spec.use_compatibility_mode.set && plan->spec.use_compatibility_mode.v;
	struct ferry_target_nic *nics = ferry_xcalloc(src->nnics ? src->nnics : 1, sizeof *nics);

	keep(v, (char *)nics);
	for (size_t i = 0; i < src->nnics; i++) {
		const struct ferry_vm_nic *n = &src->nics[i];
		const struct ferry_network_pair *p =
			n->network || n->network_id ? network_pair(nm, n->network, n->network_id)
						    : NULL;
		const char *type;

		if (!p) {
			problem(v,
				ferry_xasprintf("%s is on network \"%s\"%s%s%s, which NetworkMap "
						"%s does not map",
						n->name ? n->name : "a NIC",
						n->network ? n->network : "",
						n->network_id ? " (id " : "",
						n->network_id ? n->network_id : "",
						n->network_id ? ")" : "", nmname));
			continue;
		}
		type = p->destination.type.v ? p->destination.type.v : "pod";
		nics[i].type = type;
		if (!strcmp(type, "multus"))
			nics[i].network = keep(
				v, ferry_xasprintf("%s/%s",
						   p->destination.namespace_.v
							   ? p->destination.namespace_.v
							   : plan->spec.target_namespace.v,
						   p->destination.name.v ? p->destination.name.v
									 : ""));
		nics[i].mac = n->mac;
		nics[i].model = compat ? "e1000e" : "virtio";
		if (tmpl) {
			const struct ferry_tmpl_var vars[] = {
				{.name = "NetworkName",
				 .kind = FERRY_TVAL_STRING,
				 .s = p->destination.name.v ? p->destination.name.v : ""},
				{.name = "NetworkNamespace",
				 .kind = FERRY_TVAL_STRING,
				 .s = p->destination.namespace_.v ? p->destination.namespace_.v
								  : ""},
				{.name = "NetworkType", .kind = FERRY_TVAL_STRING, .s = type},
				{.name = "NetworkIndex", .kind = FERRY_TVAL_INT, .i = (int64_t)i},
			};
			nics[i].name = run_template(v, "networkNameTemplate", tmpl, vars,
						    sizeof vars / sizeof vars[0]);
		} else {
			nics[i].name = keep(v, ferry_xasprintf("net-%zu", i));
		}
	}
	v->tvm.nics = nics;
	v->tvm.nnics = src->nnics;
}

static struct ferry_target_label *labels_of(struct ferry_run_vm *v, const struct ferry_strmap *m,
					    size_t *n)
{
	struct ferry_target_label *l = ferry_xcalloc(m->len ? m->len : 1, sizeof *l);

	keep(v, (char *)l);
	for (size_t i = 0; i < m->len; i++) {
		l[i].key = m->items[i].key.v;
		l[i].value = m->items[i].value.v ? m->items[i].value.v : "";
	}
	*n = m->len;
	return l;
}

/* SHA-256 of everything the mapping decides, as 16 hex digits. */
static void hash_mapping(struct ferry_run_vm *v)
{
	const struct ferry_target_vm *t = &v->tvm;
	struct ferry_sb sb = FERRY_SB_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	ferry_sb_addf(&sb, "%s/%s\n", t->ns, t->name);
	/* volumes named as written (no random suffix): a different mapping; the
	 * default adds nothing, so hashes of plans that do not say stay */
	if (!t->pvc_generate_name)
		ferry_sb_adds(&sb, "fixed-names\n");
	for (size_t i = 0; i < t->ndisks; i++)
		ferry_sb_addf(&sb, "disk %s %" PRIu64 " %s %s %s %s\n", t->disks[i].name,
			      t->disks[i].size,
			      t->disks[i].storage_class ? t->disks[i].storage_class : "-",
			      t->disks[i].volume_mode ? t->disks[i].volume_mode : "-",
			      t->disks[i].access_mode ? t->disks[i].access_mode : "-",
			      t->disks[i].bus);
	for (size_t i = 0; i < t->nnics; i++)
		ferry_sb_addf(&sb, "nic %s %s %s %s %s\n", t->nics[i].name, t->nics[i].type,
			      t->nics[i].network ? t->nics[i].network : "-",
			      t->nics[i].mac ? t->nics[i].mac : "-", t->nics[i].model);
	EVP_Digest(sb.buf ? sb.buf : "", sb.len, md, &len, EVP_sha256(), NULL);
	for (size_t i = 0; i < 8; i++)
		snprintf(v->hash + 2 * i, 3, "%02x", md[i]);
	ferry_sb_release(&sb);
}

/* What stops a VM from migrating warm (Forklift's validation refuses the
 * same): no changed block tracking, or snapshots ferry did not take (its
 * own are named after their operation ids, "ferry-..."). */
static void warm_problems(struct ferry_run_vm *v)
{
	const struct ferry_vm *s = v->src;

	if (!s->has_cbt) {
		problem(v, ferry_xstrdup("warm migration needs changed block tracking, which "
					 "this provider does not have: use a cold plan"));
		return;
	}
	if (!s->cbt_enabled)
		problem(v, ferry_xasprintf("changed block tracking is off on VM %s: enable it "
					   "(ctkEnabled) for a warm migration, or use a cold plan",
					   s->name));
	for (size_t i = 0; i < s->nsnapshots; i++)
		if (strncmp(s->snapshots[i].name ? s->snapshots[i].name : "", "ferry-", 6))
			problem(v,
				ferry_xasprintf(
					"VM %s has a snapshot ferry did not take (%s): warm "
					"migration needs a VM without snapshots; remove them, or "
					"use a cold plan",
					s->name,
					s->snapshots[i].name ? s->snapshots[i].name : "?"));
}

enum ferry_itinerary_kind ferry_plan_kind(const struct ferry_plan *plan)
{
	if (plan->spec.type.v)
		return !strcmp(plan->spec.type.v, "warm") ? FERRY_ITINERARY_WARM
							  : FERRY_ITINERARY_COLD;
	return plan->spec.warm.set && plan->spec.warm.v ? FERRY_ITINERARY_WARM
							: FERRY_ITINERARY_COLD;
}

void ferry_resolve_vm(const struct ferry_model *m, const struct ferry_plan *plan, size_t i,
		      const struct ferry_inventory *inv, bool power, struct ferry_run_vm *out)
{
	const struct ferry_plan_vm *pvm = FERRY_AT(plan->spec.vms, struct ferry_plan_vm, i);
	const struct ferry_ref *nref = &plan->spec.map.network, *sref = &plan->spec.map.storage;
	const struct ferry_networkmap *nm = NULL;
	const struct ferry_storagemap *sm = NULL;
	const char *ns = plan->obj.ns;
	const char *power_state;
	char *nmname, *smname;
	struct ferry_run_vm *v = out;

	memset(v, 0, sizeof *v);
	v->pvm = pvm;
	v->id = pvm->id.v;
	v->name = pvm->name.v;
	v->kind = ferry_plan_kind(plan);
	for (size_t h = 0; h < pvm->hooks.len; h++) {
		const struct ferry_plan_hook *hk = FERRY_AT(pvm->hooks, struct ferry_plan_hook, h);
		if (hk->step.v && !strcmp(hk->step.v, "PreHook"))
			v->flags |= FERRY_IT_PRE_HOOK;
		else if (hk->step.v && !strcmp(hk->step.v, "PostHook"))
			v->flags |= FERRY_IT_POST_HOOK;
	}
	if (power)
		v->flags |= FERRY_IT_POWER;
	if (!(plan->spec.skip_guest_conversion.set && plan->spec.skip_guest_conversion.v))
		v->flags |= FERRY_IT_CONVERT;

	v->src = inv ? ferry_inventory_find(inv, pvm->id.v, pvm->id.v ? NULL : pvm->name.v) : NULL;
	if (!v->src) {
		problem(v, ferry_xasprintf("VM %s is not in the source provider's inventory",
					   pvm->id.v	 ? pvm->id.v
					   : pvm->name.v ? pvm->name.v
							 : "?"));
		snprintf(v->hash, sizeof v->hash, "%s", "unresolved");
		return;
	}
	v->id = v->src->id;
	v->name = v->src->name;
	if (v->kind == FERRY_ITINERARY_WARM)
		warm_problems(v);

	/* the target VM's name: targetName, or the source name made valid */
	if (pvm->target_name.v) {
		v->tvm.name = pvm->target_name.v;
	} else {
		const char *why;
		v->tvm.name = ferry_dns1123_label(v->src->name, &why)
				      ? v->src->name
				      : keep(v, ferry_dns1123_suggest(v->src->name));
	}
	v->tvm.ns = plan->spec.target_namespace.v ? plan->spec.target_namespace.v : ns;
	v->tvm.plan_ns = ns;
	v->tvm.plan_name = plan->obj.name;
	v->tvm.source_vm_id = v->src->id;
	v->tvm.source_vm_name = v->src->name;
	v->tvm.cpus = v->src->cpus;
	v->tvm.cores_per_socket = v->src->cores_per_socket;
	v->tvm.memory_bytes = v->src->memory_bytes;
	v->tvm.firmware = v->src->firmware ? v->src->firmware : "bios";
	v->tvm.secure_boot = v->src->secure_boot;
	power_state = str_or(&pvm->target_power_state, &plan->spec.target_power_state);
	if (power_state && !strcmp(power_state, "on"))
		v->tvm.running = true;
	else if (power_state && !strcmp(power_state, "off"))
		v->tvm.running = false;
	else
		v->tvm.running = v->src->power_state && !strcmp(v->src->power_state, "On");
	v->tvm.labels = labels_of(v, &plan->spec.target_labels, &v->tvm.nlabels);
	v->tvm.node_selector =
		labels_of(v, &plan->spec.target_node_selector, &v->tvm.nnode_selector);

	if (sref->name.v)
		sm = (const struct ferry_storagemap *)ferry_model_find(
			m, FERRY_KIND_STORAGEMAP, ref_ns(sref, ns), sref->name.v);
	if (nref->name.v)
		nm = (const struct ferry_networkmap *)ferry_model_find(
			m, FERRY_KIND_NETWORKMAP, ref_ns(nref, ns), nref->name.v);
	smname = ferry_xasprintf("%s/%s", ref_ns(sref, ns), sref->name.v ? sref->name.v : "");
	nmname = ferry_xasprintf("%s/%s", ref_ns(nref, ns), nref->name.v ? nref->name.v : "");
	resolve_disks(v, plan, sm, smname);
	resolve_nics(v, plan, nm, nmname);
	free(smname);
	free(nmname);
	hash_mapping(v);
}

void ferry_run_vm_release(struct ferry_run_vm *v)
{
	for (size_t i = 0; i < v->nowned; i++)
		free(v->owned[i]);
	free(v->owned);
	free(v->problem);
	memset(v, 0, sizeof *v);
}
