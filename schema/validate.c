#include "model.h"

#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* A reference's namespace defaults to the referring object's, as Forklift's
 * controllers resolve it. */
static const char *ref_ns(const struct ferry_ref *r, const struct ferry_obj *from)
{
	return r->namespace_.v ? r->namespace_.v : from->ns;
}

static const struct ferry_pos *ref_pos(const struct ferry_ref *r, const struct ferry_obj *from)
{
	return r->set ? &r->pos : &from->pos;
}

/* Resolve a reference to an object of kind k; report when it dangles. */
static const struct ferry_obj *resolve(const struct ferry_model *m, struct ferry_findings *f,
				       const struct ferry_obj *from, const struct ferry_ref *r,
				       enum ferry_kind k, enum ferry_category cat, const char *id,
				       const char *what)
{
	const struct ferry_obj *o;

	if (!r->set)
		return NULL; /* missing required refs are reported by the decoder */
	if (!r->name.v) {
		ferry_findings_add(f, cat, id, ref_pos(r, from), "%s %s/%s: %s has no name",
				   ferry_kind_name(from->kind), from->ns, from->name, what);
		return NULL;
	}
	if (r->kind.v && strcmp(r->kind.v, ferry_kind_name(k)))
		ferry_findings_add(f, FERRY_CAT_ERROR, "schema.ref.kind", &r->kind.pos,
				   "%s: expected kind %s here, found %s", what, ferry_kind_name(k),
				   r->kind.v);
	o = ferry_model_find(m, k, ref_ns(r, from), r->name.v);
	if (!o)
		ferry_findings_add(f, cat, id, ref_pos(r, from),
				   "%s %s/%s: %s %s/%s not found in the repository",
				   ferry_kind_name(from->kind), from->ns, from->name, what,
				   ref_ns(r, from), r->name.v);
	return o;
}

static void check_duplicates(const struct ferry_model *m, struct ferry_findings *f)
{
	for (int k = 0; k < FERRY_KIND_COUNT; k++) {
		for (size_t i = 0; i < m->objects[k].len; i++) {
			const struct ferry_obj *a = ferry_model_obj(m, (enum ferry_kind)k, i);
			if (!*a->name)
				continue;
			for (size_t j = 0; j < i; j++) {
				const struct ferry_obj *b =
					ferry_model_obj(m, (enum ferry_kind)k, j);
				if (strcmp(a->ns, b->ns) || strcmp(a->name, b->name))
					continue;
				ferry_findings_add(f, FERRY_CAT_ERROR, "schema.duplicate-object",
						   &a->metadata.name.pos,
						   "%s %s/%s is defined twice (first at %s:%d)",
						   ferry_kind_name((enum ferry_kind)k), a->ns,
						   a->name, b->metadata.name.pos.file,
						   b->metadata.name.pos.line);
				break;
			}
		}
	}
}

static bool type_is(const struct ferry_provider *p, const char *type)
{
	return p && p->spec.type.v && !strcmp(p->spec.type.v, type);
}

/* Forklift's OVA url is an NFS export, server:/path; ferry also reads a
 * local directory (file:///path) so that OVA files need no NFS server. */
static bool ova_url_ok(const char *url)
{
	const char *colon = strchr(url, ':');

	if (ferry_starts_with(url, "file:///"))
		return true;
	return colon && colon > url && colon[1] == '/' && !strstr(url, "://");
}

static void check_providers(const struct ferry_model *m, struct ferry_findings *f)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_PROVIDER); i++) {
		const struct ferry_provider *p = &ferry_model_providers(m)[i];
		const char *type = p->spec.type.v, *url = p->spec.url.v;
		bool local = type_is(p, "openshift") && (!url || !*url);

		if (!type)
			continue;
		if (!local && (!url || !*url))
			ferry_findings_add(f, FERRY_CAT_ERROR, "provider.url.missing", &p->obj.pos,
					   "Provider %s/%s: a provider of type %s needs spec.url",
					   p->obj.ns, p->obj.name, type);
		if (!local && !p->spec.secret.set && !type_is(p, "ova"))
			ferry_findings_add(
				f, FERRY_CAT_ERROR, "provider.secret.missing", &p->obj.pos,
				"Provider %s/%s: a provider of type %s needs spec.secret naming "
				"its credentials (namespace/name in the secrets directory)",
				p->obj.ns, p->obj.name, type);
		if (url && *url && !type_is(p, "ova") && !ferry_starts_with(url, "https://") &&
		    !ferry_starts_with(url, "http://"))
			ferry_findings_add(f, FERRY_CAT_ERROR, "provider.url.invalid",
					   &p->spec.url.pos,
					   "Provider %s/%s: url \"%s\" is not an http(s) URL",
					   p->obj.ns, p->obj.name, url);
		if (type_is(p, "ova") && url && !ova_url_ok(url))
			ferry_findings_add(f, FERRY_CAT_ERROR, "provider.url.invalid",
					   &p->spec.url.pos,
					   "Provider %s/%s: an OVA url is an NFS export "
					   "\"server:/path\" or a local directory "
					   "\"file:///path\", found \"%s\"",
					   p->obj.ns, p->obj.name, url);
		if (p->spec.settings.set && !type_is(p, "vsphere") &&
		    (p->spec.settings.vddk_init_image.v || p->spec.settings.sdk_endpoint.v))
			ferry_findings_add(f, FERRY_CAT_WARNING, "provider.settings.not-vsphere",
					   &p->spec.settings.pos,
					   "Provider %s/%s: vddkInitImage and sdkEndpoint apply to "
					   "vsphere providers only",
					   p->obj.ns, p->obj.name);
	}
}

static void check_hosts(const struct ferry_model *m, struct ferry_findings *f)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_HOST); i++) {
		const struct ferry_host *h = &ferry_model_hosts(m)[i];
		const struct ferry_obj *o;

		o = resolve(m, f, &h->obj, &h->spec.provider, FERRY_KIND_PROVIDER,
			    FERRY_CAT_CRITICAL, "host.provider.not-found", "provider");
		if (o && !type_is((const struct ferry_provider *)o, "vsphere"))
			ferry_findings_add(
				f, FERRY_CAT_ERROR, "host.provider.not-vsphere",
				&h->spec.provider.pos,
				"Host %s/%s: Host objects apply to vsphere providers only",
				h->obj.ns, h->obj.name);
		if (!h->spec.id.v && !h->spec.name.v)
			ferry_findings_add(
				f, FERRY_CAT_ERROR, "host.ref.missing", &h->obj.pos,
				"Host %s/%s: spec.id (the ESXi host moRef) or spec.name is "
				"required",
				h->obj.ns, h->obj.name);
		if (h->spec.ip_address.v && !ferry_ip_literal(h->spec.ip_address.v))
			ferry_findings_add(
				f, FERRY_CAT_ERROR, "host.ip-address.invalid",
				&h->spec.ip_address.pos,
				"Host %s/%s: ipAddress \"%s\" is not an IPv4 or IPv6 address",
				h->obj.ns, h->obj.name, h->spec.ip_address.v);
	}
}

static const struct ferry_provider *
map_providers(const struct ferry_model *m, struct ferry_findings *f, const struct ferry_obj *obj,
	      const struct ferry_provider_pair *pp, const char *prefix)
{
	char id[96];
	const struct ferry_obj *src;

	snprintf(id, sizeof id, "%s.provider.not-found", prefix);
	src = resolve(m, f, obj, &pp->source, FERRY_KIND_PROVIDER, FERRY_CAT_CRITICAL, id,
		      "source provider");
	(void)resolve(m, f, obj, &pp->destination, FERRY_KIND_PROVIDER, FERRY_CAT_CRITICAL, id,
		      "destination provider");
	return (const struct ferry_provider *)src;
}

static void check_networkmaps(const struct ferry_model *m, struct ferry_findings *f)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_NETWORKMAP); i++) {
		const struct ferry_networkmap *nm = &ferry_model_networkmaps(m)[i];
		const struct ferry_provider *src =
			map_providers(m, f, &nm->obj, &nm->spec.provider, "networkmap");

		for (size_t j = 0; j < nm->spec.map.len; j++) {
			const struct ferry_network_pair *p =
				FERRY_AT(nm->spec.map, struct ferry_network_pair, j);
			const char *type = p->destination.type.v;

			if (p->source.set && !p->source.id.v && !p->source.name.v)
				ferry_findings_add(
					f, FERRY_CAT_ERROR, "networkmap.source.missing",
					&p->source.pos,
					"NetworkMap %s/%s: spec.map[%zu].source needs an id "
					"or a name",
					nm->obj.ns, nm->obj.name, j);
			if (!type)
				continue;
			if (!strcmp(type, "multus") &&
			    (!p->destination.name.v || !p->destination.namespace_.v))
				ferry_findings_add(
					f, FERRY_CAT_ERROR, "networkmap.destination.multus-ref",
					&p->destination.pos,
					"NetworkMap %s/%s: spec.map[%zu].destination of type "
					"multus needs the name and namespace of a "
					"NetworkAttachmentDefinition",
					nm->obj.ns, nm->obj.name, j);
			if (!strcmp(type, "ignored") && src && src->spec.type.v &&
			    !type_is(src, "vsphere") && !type_is(src, "openshift"))
				ferry_findings_add(
					f, FERRY_CAT_WARNING,
					"networkmap.destination.ignored-unsupported",
					&p->destination.type.pos,
					"NetworkMap %s/%s: destination type \"ignored\" is "
					"documented for vsphere and openshift sources, not %s",
					nm->obj.ns, nm->obj.name, src->spec.type.v);
		}
	}
}

static void check_offload(struct ferry_findings *f, const struct ferry_storagemap *sm, size_t j,
			  const struct ferry_storage_pair *p)
{
	if (p->destination.offload_plugin.set)
		ferry_findings_add(
			f, FERRY_CAT_WARNING, "storagemap.offload-plugin.misplaced",
			&p->destination.offload_plugin.pos,
			"StorageMap %s/%s: spec.map[%zu].destination.offloadPlugin is not "
			"where Forklift reads it; move it up one level, beside "
			"destination (ferry reads it from either place)",
			sm->obj.ns, sm->obj.name, j);
	if (p->offload_plugin.set && p->destination.offload_plugin.set)
		ferry_findings_add(
			f, FERRY_CAT_ERROR, "storagemap.offload-plugin.twice",
			&p->destination.offload_plugin.pos,
			"StorageMap %s/%s: spec.map[%zu] has offloadPlugin both beside and "
			"inside destination",
			sm->obj.ns, sm->obj.name, j);
}

static void check_storagemaps(const struct ferry_model *m, struct ferry_findings *f)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_STORAGEMAP); i++) {
		const struct ferry_storagemap *sm = &ferry_model_storagemaps(m)[i];
		const struct ferry_provider *src =
			map_providers(m, f, &sm->obj, &sm->spec.provider, "storagemap");

		for (size_t j = 0; j < sm->spec.map.len; j++) {
			const struct ferry_storage_pair *p =
				FERRY_AT(sm->spec.map, struct ferry_storage_pair, j);
			bool offload = p->offload_plugin.set || p->destination.offload_plugin.set;

			check_offload(f, sm, j, p);
			if (p->source.set && !p->source.id.v && !p->source.name.v)
				ferry_findings_add(
					f, FERRY_CAT_ERROR, "storagemap.source.missing",
					&p->source.pos,
					"StorageMap %s/%s: spec.map[%zu].source needs an id "
					"or a name",
					sm->obj.ns, sm->obj.name, j);
			/* Forklift and the kubevirt target then take the cluster's
			 * default class (for DataVolumes, CDI's default virtualization
			 * class first): legal, but maybe not what the map meant. */
			if (p->destination.set && !p->destination.storage_class.v)
				ferry_findings_add(
					f, FERRY_CAT_WARNING,
					"storagemap.destination.storage-class", &p->destination.pos,
					"StorageMap %s/%s: spec.map[%zu].destination has no "
					"storageClass; the cluster's default StorageClass will be "
					"used",
					sm->obj.ns, sm->obj.name, j);
			if (type_is(src, "vsphere") && p->destination.set && !offload &&
			    !p->destination.access_mode.v)
				ferry_findings_add(
					f, FERRY_CAT_WARNING, "storagemap.destination.access-mode",
					&p->destination.pos,
					"StorageMap %s/%s: spec.map[%zu].destination has no "
					"accessMode; vSphere migrations need ReadWriteOnce or "
					"ReadWriteMany unless storage copy offload is used",
					sm->obj.ns, sm->obj.name, j);
			if (offload && src && src->spec.type.v && !type_is(src, "vsphere"))
				ferry_findings_add(
					f, FERRY_CAT_ERROR, "storagemap.offload.not-vsphere",
					&p->pos,
					"StorageMap %s/%s: storage copy offload works with "
					"vsphere sources only, not %s",
					sm->obj.ns, sm->obj.name, src->spec.type.v);
		}
		if (type_is(src, "ova") && sm->spec.map.len > 1)
			ferry_findings_add(
				f, FERRY_CAT_ERROR, "storagemap.ova.single", &sm->spec.map.pos,
				"StorageMap %s/%s: an OVA source has one storage (all its "
				"disks); map it once",
				sm->obj.ns, sm->obj.name);
	}
}

static bool same_str(const struct ferry_str *a, const struct ferry_str *b)
{
	return a->v && b->v && !strcmp(a->v, b->v);
}

static bool ref_eq(const struct ferry_ref *a, const struct ferry_obj *af, const struct ferry_ref *b,
		   const struct ferry_obj *bf)
{
	return a->name.v && b->name.v && !strcmp(a->name.v, b->name.v) &&
	       !strcmp(ref_ns(a, af), ref_ns(b, bf));
}

static void check_map_providers(struct ferry_findings *f, const struct ferry_plan *p,
				const struct ferry_ref *ref, const struct ferry_provider_pair *mp,
				const struct ferry_obj *map, const char *id)
{
	if (!ref_eq(&p->spec.provider.source, &p->obj, &mp->source, map) ||
	    !ref_eq(&p->spec.provider.destination, &p->obj, &mp->destination, map))
		ferry_findings_add(f, FERRY_CAT_CRITICAL, id, &ref->pos,
				   "Plan %s/%s: %s %s/%s maps between other providers than the "
				   "plan's",
				   p->obj.ns, p->obj.name, ferry_kind_name(map->kind), map->ns,
				   map->name);
}

static void check_plan_vms(const struct ferry_model *m, struct ferry_findings *f,
			   const struct ferry_plan *p, const struct ferry_provider *src)
{
	bool openshift = type_is(src, "openshift");

	for (size_t i = 0; i < p->spec.vms.len; i++) {
		const struct ferry_plan_vm *vm = FERRY_AT(p->spec.vms, struct ferry_plan_vm, i);
		bool steps[2] = {false, false};

		if (!vm->id.v && !vm->name.v)
			ferry_findings_add(f, FERRY_CAT_ERROR, "plan.vm.ref.missing", &vm->pos,
					   "Plan %s/%s: spec.vms[%zu] needs an id or a name",
					   p->obj.ns, p->obj.name, i);
		if (openshift && vm->name.v && !vm->namespace_.v)
			ferry_findings_add(f, FERRY_CAT_ERROR, "plan.vm.namespace.missing",
					   &vm->pos,
					   "Plan %s/%s: spec.vms[%zu] comes from an openshift "
					   "provider and needs a namespace as well as a name",
					   p->obj.ns, p->obj.name, i);
		for (size_t j = 0; j < i; j++) {
			const struct ferry_plan_vm *o =
				FERRY_AT(p->spec.vms, struct ferry_plan_vm, j);
			bool dup = same_str(&vm->id, &o->id) ||
				   (same_str(&vm->name, &o->name) &&
				    (!vm->namespace_.v || !o->namespace_.v ||
				     same_str(&vm->namespace_, &o->namespace_)));
			if (!dup)
				continue;
			ferry_findings_add(f, FERRY_CAT_CRITICAL, "plan.vm.duplicate", &vm->pos,
					   "Plan %s/%s: VM %s is listed twice (spec.vms[%zu] and "
					   "spec.vms[%zu])",
					   p->obj.ns, p->obj.name, vm->id.v ? vm->id.v : vm->name.v,
					   j, i);
			break;
		}
		for (size_t j = 0; j < i; j++) {
			const struct ferry_plan_vm *o =
				FERRY_AT(p->spec.vms, struct ferry_plan_vm, j);
			if (same_str(&vm->target_name, &o->target_name)) {
				ferry_findings_add(f, FERRY_CAT_CRITICAL,
						   "plan.vm.target-name.duplicate",
						   &vm->target_name.pos,
						   "Plan %s/%s: targetName \"%s\" is used by "
						   "spec.vms[%zu] too",
						   p->obj.ns, p->obj.name, vm->target_name.v, j);
				break;
			}
		}
		if (vm->target_name.v && strlen(vm->target_name.v) > 63)
			ferry_findings_add(f, FERRY_CAT_ERROR, "plan.vm.target-name.length",
					   &vm->target_name.pos,
					   "Plan %s/%s: targetName \"%s\" is longer than 63 "
					   "characters (a VM's name is also its hostname label)",
					   p->obj.ns, p->obj.name, vm->target_name.v);
		for (size_t j = 0; j < vm->hooks.len; j++) {
			const struct ferry_plan_hook *h =
				FERRY_AT(vm->hooks, struct ferry_plan_hook, j);
			int step;

			(void)resolve(m, f, &p->obj, &h->hook, FERRY_KIND_HOOK, FERRY_CAT_CRITICAL,
				      "plan.hook.not-found", "hook");
			if (!h->step.v)
				continue;
			step = !strcmp(h->step.v, "PostHook");
			if (!strcmp(h->step.v, "PreHook") || step) {
				if (steps[step])
					ferry_findings_add(
						f, FERRY_CAT_CRITICAL, "plan.hook.step.duplicate",
						&h->step.pos,
						"Plan %s/%s: spec.vms[%zu] has more than "
						"one %s hook (at most one per step)",
						p->obj.ns, p->obj.name, i, h->step.v);
				steps[step] = true;
			}
		}
	}
}

static void check_plans(const struct ferry_model *m, struct ferry_findings *f)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_PLAN); i++) {
		const struct ferry_plan *p = &ferry_model_plans(m)[i];
		const struct ferry_provider *src, *dst;
		const struct ferry_obj *nm, *sm;
		const char *type = p->spec.type.v;

		src = (const struct ferry_provider *)resolve(
			m, f, &p->obj, &p->spec.provider.source, FERRY_KIND_PROVIDER,
			FERRY_CAT_CRITICAL, "plan.provider.not-found", "source provider");
		dst = (const struct ferry_provider *)resolve(
			m, f, &p->obj, &p->spec.provider.destination, FERRY_KIND_PROVIDER,
			FERRY_CAT_CRITICAL, "plan.provider.not-found", "destination provider");
		if (dst && dst->spec.type.v && !type_is(dst, "openshift"))
			ferry_findings_add(f, FERRY_CAT_CRITICAL, "plan.destination.not-openshift",
					   &p->spec.provider.destination.pos,
					   "Plan %s/%s: the destination provider must be of type "
					   "openshift (KubeVirt), not %s",
					   p->obj.ns, p->obj.name, dst->spec.type.v);
		nm = resolve(m, f, &p->obj, &p->spec.map.network, FERRY_KIND_NETWORKMAP,
			     FERRY_CAT_CRITICAL, "plan.network-map.not-found", "network map");
		sm = resolve(m, f, &p->obj, &p->spec.map.storage, FERRY_KIND_STORAGEMAP,
			     FERRY_CAT_CRITICAL, "plan.storage-map.not-found", "storage map");
		if (nm)
			check_map_providers(f, p, &p->spec.map.network,
					    &((const struct ferry_networkmap *)nm)->spec.provider,
					    nm, "plan.network-map.providers");
		if (sm)
			check_map_providers(f, p, &p->spec.map.storage,
					    &((const struct ferry_storagemap *)sm)->spec.provider,
					    sm, "plan.storage-map.providers");
		if (p->spec.warm.set && type && (p->spec.warm.v != !strcmp(type, "warm")))
			ferry_findings_add(
				f, FERRY_CAT_ERROR, "plan.type.conflict", &p->spec.warm.pos,
				"Plan %s/%s: warm: %s contradicts type: %s; keep type only",
				p->obj.ns, p->obj.name, p->spec.warm.v ? "true" : "false", type);
		if (type && !strcmp(type, "live") && src && src->spec.type.v &&
		    !type_is(src, "openshift"))
			ferry_findings_add(
				f, FERRY_CAT_CRITICAL, "plan.type.live-unsupported",
				&p->spec.type.pos,
				"Plan %s/%s: live migration needs an openshift (KubeVirt) "
				"source, not %s",
				p->obj.ns, p->obj.name, src->spec.type.v);
		if (p->spec.use_compatibility_mode.set && !p->spec.skip_guest_conversion.v)
			ferry_findings_add(f, FERRY_CAT_INFO, "plan.compatibility-mode.unused",
					   &p->spec.use_compatibility_mode.pos,
					   "Plan %s/%s: useCompatibilityMode applies only with "
					   "skipGuestConversion: true",
					   p->obj.ns, p->obj.name);
		if (!p->spec.target_namespace.v && p->spec.provider.set)
			ferry_findings_add(f, FERRY_CAT_INFO, "plan.target-namespace.default",
					   &p->obj.pos,
					   "Plan %s/%s: no targetNamespace; VMs go to the plan's "
					   "namespace %s",
					   p->obj.ns, p->obj.name, p->obj.ns);
		if (!p->spec.vms.len && p->spec.provider.set)
			ferry_findings_add(f, FERRY_CAT_WARNING, "plan.vms.empty",
					   p->spec.vms.set ? &p->spec.vms.pos : &p->obj.pos,
					   "Plan %s/%s: no VMs to migrate", p->obj.ns, p->obj.name);
		check_plan_vms(m, f, p, src);
	}
}

static bool plan_has_vm(const struct ferry_plan *p, const struct ferry_str *id,
			const struct ferry_str *name)
{
	for (size_t i = 0; i < p->spec.vms.len; i++) {
		const struct ferry_plan_vm *vm = FERRY_AT(p->spec.vms, struct ferry_plan_vm, i);
		if (same_str(id, &vm->id) || same_str(name, &vm->name))
			return true;
	}
	return false;
}

static void check_migrations(const struct ferry_model *m, struct ferry_findings *f)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_MIGRATION); i++) {
		const struct ferry_migration *mg = &ferry_model_migrations(m)[i];
		const struct ferry_plan *p = (const struct ferry_plan *)resolve(
			m, f, &mg->obj, &mg->spec.plan, FERRY_KIND_PLAN, FERRY_CAT_CRITICAL,
			"migration.plan.not-found", "plan");

		for (size_t j = 0; j < mg->spec.cancel.len; j++) {
			const struct ferry_vm_ref *c =
				FERRY_AT(mg->spec.cancel, struct ferry_vm_ref, j);
			if (!c->id.v && !c->name.v)
				ferry_findings_add(
					f, FERRY_CAT_ERROR, "migration.cancel.ref.missing", &c->pos,
					"Migration %s/%s: spec.cancel[%zu] needs an id or a "
					"name",
					mg->obj.ns, mg->obj.name, j);
			else if (p && !plan_has_vm(p, &c->id, &c->name))
				ferry_findings_add(
					f, FERRY_CAT_WARNING, "migration.cancel.not-in-plan",
					&c->pos,
					"Migration %s/%s: spec.cancel[%zu] names a VM that is "
					"not in plan %s",
					mg->obj.ns, mg->obj.name, j, p->obj.name);
		}
		for (size_t j = 0; j < mg->spec.vm_cutover.len; j++) {
			const struct ferry_vm_cutover *c =
				FERRY_AT(mg->spec.vm_cutover, struct ferry_vm_cutover, j);
			if (!c->id.v && !c->name.v)
				ferry_findings_add(
					f, FERRY_CAT_ERROR, "migration.vm-cutover.ref.missing",
					&c->pos,
					"Migration %s/%s: spec.vmCutover[%zu] needs an id or "
					"a name",
					mg->obj.ns, mg->obj.name, j);
			else if (p && !plan_has_vm(p, &c->id, &c->name))
				ferry_findings_add(
					f, FERRY_CAT_WARNING, "migration.vm-cutover.not-in-plan",
					&c->pos,
					"Migration %s/%s: spec.vmCutover[%zu] names a VM that "
					"is not in plan %s",
					mg->obj.ns, mg->obj.name, j, p->obj.name);
		}
		if (p && (mg->spec.cutover.v || mg->spec.vm_cutover.len)) {
			bool warm = (p->spec.type.v && !strcmp(p->spec.type.v, "warm")) ||
				    (!p->spec.type.v && p->spec.warm.v);
			if (!warm)
				ferry_findings_add(
					f, FERRY_CAT_WARNING, "migration.cutover.not-warm",
					mg->spec.cutover.v ? &mg->spec.cutover.pos
							   : &mg->spec.vm_cutover.pos,
					"Migration %s/%s: a cutover time only matters for a "
					"warm plan; plan %s is not warm",
					mg->obj.ns, mg->obj.name, p->obj.name);
		}
	}
}

/* Keys whose values are credentials (Forklift provider secrets, storage
 * vendor secrets, SSH keys, kubernetes.io secret types). */
static bool credential_key(const char *key)
{
	/* Public material (cacert, thumbprint, url) is not a credential; a user
	 * name is half of one. */
	static const char *const words[] = {"password",	  "token",	"secret", "key",
					    "credential", "passphrase", "user",	  NULL};
	char lower[128];
	size_t n = 0;

	for (; key[n] && n < sizeof lower - 1; n++)
		lower[n] = (char)tolower((unsigned char)key[n]);
	lower[n] = '\0';
	for (size_t i = 0; words[i]; i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

static void check_secret_map(struct ferry_findings *f, const struct ferry_secret *s,
			     const struct ferry_strmap *sm, const char *field)
{
	for (size_t i = 0; i < sm->len; i++) {
		const struct ferry_kv *kv = &sm->items[i];
		if (!credential_key(kv->key.v))
			continue;
		ferry_findings_add(f, FERRY_CAT_CRITICAL, "secret.plaintext-credentials",
				   &kv->key.pos,
				   "Secret %s/%s: %s.%s holds a credential in Git; remove it and "
				   "its history, then put it in the secrets directory "
				   "(<secrets dir>/%s/%s.ini, section [secret], key %s, mode 0600) "
				   "or in a Secret %s/%s in the target cluster",
				   s->obj.ns, s->obj.name, field, kv->key.v, s->obj.ns, s->obj.name,
				   kv->key.v, s->obj.ns, s->obj.name);
	}
}

static void check_secrets(const struct ferry_model *m, struct ferry_findings *f)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_SECRET); i++) {
		const struct ferry_secret *s = &ferry_model_secrets(m)[i];
		size_t before = f->len;

		check_secret_map(f, s, &s->body.string_data, "stringData");
		check_secret_map(f, s, &s->body.data, "data");
		if (f->len == before && (s->body.string_data.len || s->body.data.len))
			ferry_findings_add(f, FERRY_CAT_WARNING, "secret.in-git", &s->obj.pos,
					   "Secret %s/%s: ferry does not read Secrets from Git; "
					   "keep secret values in the secrets directory or the "
					   "target cluster",
					   s->obj.ns, s->obj.name);
	}
}

static void check_hooks(const struct ferry_model *m, struct ferry_findings *f)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_HOOK); i++) {
		const struct ferry_hook *h = &ferry_model_hooks(m)[i];
		if (!h->spec.image.v && !h->spec.playbook.v && !h->spec.aap.set)
			ferry_findings_add(f, FERRY_CAT_ERROR, "hook.empty", &h->obj.pos,
					   "Hook %s/%s: needs an image, a playbook or aap",
					   h->obj.ns, h->obj.name);
		if (h->spec.deadline.set && h->spec.deadline.v <= 0)
			ferry_findings_add(f, FERRY_CAT_ERROR, "hook.deadline.invalid",
					   &h->spec.deadline.pos,
					   "Hook %s/%s: deadline is a positive number of seconds",
					   h->obj.ns, h->obj.name);
	}
}

static void check_policies(const struct ferry_model *m, struct ferry_findings *f)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_POLICY); i++) {
		const struct ferry_policy *p = &ferry_model_policies(m)[i];
		const __typeof__(p->spec.gates.signature) *sg = &p->spec.gates.signature;
		const __typeof__(p->spec.gates.approvals) *ap = &p->spec.gates.approvals;
		const char *req = sg->require.v;

		if (sg->set && req &&
		    ((!strcmp(req, "ssh") && !sg->allowed_signers.v) ||
		     (!strcmp(req, "openpgp") && !sg->openpgp_keys.v) ||
		     (!strcmp(req, "any") && !sg->allowed_signers.v && !sg->openpgp_keys.v)))
			ferry_findings_add(
				f, FERRY_CAT_CRITICAL, "policy.gate.signature.no-keys",
				&sg->require.pos, "Policy %s/%s: signature require '%s' needs %s",
				p->obj.ns, p->obj.name, req,
				!strcmp(req, "ssh")	  ? "allowedSigners"
				: !strcmp(req, "openpgp") ? "openpgpKeys"
							  : "allowedSigners or openpgpKeys");
		if (ap->set && ap->count.set && ap->count.v < 0)
			ferry_findings_add(f, FERRY_CAT_CRITICAL, "policy.gate.approvals.count",
					   &ap->count.pos,
					   "Policy %s/%s: approvals count must be 0 or more",
					   p->obj.ns, p->obj.name);
		if (ap->set && ap->count.v > 0 && ap->approvers.len < (size_t)ap->count.v)
			ferry_findings_add(f, FERRY_CAT_CRITICAL, "policy.gate.approvals.approvers",
					   &ap->count.pos,
					   "Policy %s/%s: %lld approvals required but %zu "
					   "approver%s listed: no "
					   "commit could ever pass",
					   p->obj.ns, p->obj.name, ap->count.v, ap->approvers.len,
					   ap->approvers.len == 1 ? "" : "s");
	}
}

void ferry_model_validate(const struct ferry_model *m, struct ferry_findings *f)
{
	check_duplicates(m, f);
	check_providers(m, f);
	check_hosts(m, f);
	check_networkmaps(m, f);
	check_storagemaps(m, f);
	check_plans(m, f);
	check_migrations(m, f);
	check_secrets(m, f);
	check_hooks(m, f);
	check_policies(m, f);
}
