#include "internal.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"

#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

enum {
	PAGE_OBJECTS = 500,    /* maxObjects per RetrievePropertiesEx page */
	UPDATE_OBJECTS = 1000, /* maxObjectUpdates per WaitForUpdatesEx */
	MAX_PAGES = 100000,
};

int vs_add_this(struct ferry_sb *b, const char *type, const char *ref, struct ferry_err *err)
{
	return vs_add_moref(b, "_this", type, ref, err);
}

static const struct vs_propspec *spec_of(const char *type)
{
	if (!strcmp(type, "ClusterComputeResource"))
		type = "ComputeResource";
	else if (!strcmp(type, "DistributedVirtualPortgroup") || !strcmp(type, "OpaqueNetwork"))
		type = "Network";
	for (const struct vs_propspec *p = vs_propspecs; p->type; p++)
		if (!strcmp(p->type, type))
			return p;
	return NULL;
}

struct _xmlNode *vs_propval(const struct _xmlNode *o, const char *name)
{
	for (xmlNode *p = vs_child(o, "propSet"); p; p = vs_next(p, "propSet")) {
		char *n = vs_child_text(p, "name");
		bool hit = n && !strcmp(n, name);
		free(n);
		if (hit)
			return vs_child(p, "val");
	}
	return NULL;
}

int vs_retrieve(struct ferry_source *s, const char *type, const char *ref, const char *const *paths,
		struct vs_reply *r, struct _xmlNode **o, struct ferry_err *err)
{
	struct ferry_sb b = FERRY_SB_INIT;
	int rc = -1;

	*o = NULL;
	if (vs_add_this(&b, "PropertyCollector", vs_soap_service(s->soap)->property_collector, err))
		goto out;
	ferry_sb_adds(&b, "<specSet><propSet>");
	if (vs_add_text(&b, "type", type, err))
		goto out;
	for (size_t i = 0; paths[i]; i++)
		if (vs_add_text(&b, "pathSet", paths[i], err))
			goto out;
	ferry_sb_adds(&b, "</propSet><objectSet>");
	if (vs_add_moref(&b, "obj", type, ref, err))
		goto out;
	ferry_sb_adds(&b, "</objectSet></specSet><options/>");
	if (vs_call(s->soap, "RetrievePropertiesEx", b.buf, r, err))
		goto out;
	*o = vs_child(vs_child(r->resp, "returnval"), "objects");
	rc = 0;
out:
	ferry_sb_release(&b);
	return rc;
}

/* ---- the view and the spec ------------------------------------------------------------- */

static void view_drop(struct ferry_source *s, bool destroy)
{
	if (s->view && destroy && s->view_gen == vs_soap_generation(s->soap)) {
		struct ferry_sb b = FERRY_SB_INIT;
		struct vs_reply r = VS_REPLY_INIT;
		struct ferry_err e = FERRY_ERR_INIT;
		if (!vs_add_this(&b, "ContainerView", s->view, &e))
			vs_call(s->soap, "DestroyView", b.buf, &r, &e);
		vs_reply_release(&r);
		ferry_sb_release(&b);
	}
	free(s->view);
	s->view = NULL;
}

static void filter_drop(struct ferry_source *s, bool destroy)
{
	if (s->filter && destroy && s->filter_gen == vs_soap_generation(s->soap)) {
		struct ferry_sb b = FERRY_SB_INIT;
		struct vs_reply r = VS_REPLY_INIT;
		struct ferry_err e = FERRY_ERR_INIT;
		if (!vs_add_this(&b, "PropertyFilter", s->filter, &e))
			vs_call(s->soap, "DestroyPropertyFilter", b.buf, &r, &e);
		vs_reply_release(&r);
		ferry_sb_release(&b);
	}
	free(s->filter);
	free(s->version);
	s->filter = s->version = NULL;
}

void vs_inventory_forget(struct ferry_source *s)
{
	filter_drop(s, true);
	view_drop(s, true);
}

/* A ContainerView of every object the walk reads, under the root folder;
 * views belong to a session, so a new session needs a new view. */
static int view_ensure(struct ferry_source *s, struct ferry_err *err)
{
	const struct vs_service *sc = vs_soap_service(s->soap);
	struct ferry_sb b = FERRY_SB_INIT;
	struct vs_reply r = VS_REPLY_INIT;
	int rc = -1;

	if (s->view && s->view_gen == vs_soap_generation(s->soap))
		return 0;
	view_drop(s, false);
	if (vs_add_this(&b, "ViewManager", sc->view_manager, err) ||
	    vs_add_moref(&b, "container", "Folder", sc->root_folder, err))
		goto out;
	for (const struct vs_propspec *p = vs_propspecs; p->type; p++)
		ferry_sb_addf(&b, "<type>%s</type>", p->type);
	ferry_sb_adds(&b, "<recursive>true</recursive>");
	if (vs_call(s->soap, "CreateContainerView", b.buf, &r, err))
		goto out;
	s->view = vs_child_text(r.resp, "returnval");
	s->view_gen = vs_soap_generation(s->soap);
	rc = s->view ? 0 : ferry_err_set(err, FERRY_E_IO, "vsphere: CreateContainerView: no view");
out:
	vs_reply_release(&r);
	ferry_sb_release(&b);
	return rc;
}

/* <specSet> (or <spec>) of every type's properties over the view. */
static int add_spec(struct ferry_sb *b, const char *el, const char *view, struct ferry_err *err)
{
	ferry_sb_addf(b, "<%s>", el);
	for (const struct vs_propspec *p = vs_propspecs; p->type; p++) {
		ferry_sb_addf(b, "<propSet><type>%s</type>", p->type);
		for (size_t i = 0; p->paths[i]; i++)
			ferry_sb_addf(b, "<pathSet>%s</pathSet>", p->paths[i]);
		ferry_sb_adds(b, "</propSet>");
	}
	ferry_sb_adds(b, "<objectSet>");
	if (vs_add_moref(b, "obj", "ContainerView", view, err))
		return -1;
	ferry_sb_adds(b, "<skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>view</name>"
			 "<type>ContainerView</type><path>view</path><skip>false</skip>"
			 "</selectSet></objectSet>");
	ferry_sb_addf(b, "</%s>", el);
	return 0;
}

/* Did the call fail because the view (or filter) is gone with its session? */
static bool lost(const struct vs_reply *r, const char *ref)
{
	return !strcmp(r->fault, "ManagedObjectNotFound") && ref && !strcmp(r->fault_obj, ref);
}

/* ---- the full walk ----------------------------------------------------------------------- */

static int walk_once(struct ferry_source *s, struct vs_store *st, struct vs_reply *r,
		     struct ferry_err *err)
{
	struct ferry_sb b = FERRY_SB_INIT;
	char *token = NULL;
	int rc = -1;

	if (view_ensure(s, err) ||
	    vs_add_this(&b, "PropertyCollector", vs_soap_service(s->soap)->property_collector,
			err) ||
	    add_spec(&b, "specSet", s->view, err))
		goto out;
	ferry_sb_addf(&b, "<options><maxObjects>%d</maxObjects></options>", PAGE_OBJECTS);
	if (vs_call(s->soap, "RetrievePropertiesEx", b.buf, r, err))
		goto out;
	for (int page = 0;; page++) {
		xmlNode *rv = vs_child(r->resp, "returnval");
		free(token);
		token = vs_child_text(rv, "token");
		vs_store_load(st, rv);
		vs_reply_release(r);
		if (!token)
			break;
		if (page == MAX_PAGES) {
			ferry_err_set(err, FERRY_E_LIMIT, "vsphere: more than %d inventory pages",
				      MAX_PAGES);
			goto out;
		}
		ferry_sb_reset(&b);
		if (vs_add_this(&b, "PropertyCollector",
				vs_soap_service(s->soap)->property_collector, err) ||
		    vs_add_text(&b, "token", token, err) ||
		    vs_call(s->soap, "ContinueRetrievePropertiesEx", b.buf, r, err))
			goto out;
	}
	rc = 0;
out:
	free(token);
	ferry_sb_release(&b);
	return rc;
}

static int walk(struct ferry_source *s, struct ferry_err *err)
{
	struct vs_store st;
	struct vs_reply r = VS_REPLY_INIT;
	int rc;

	vs_store_init(&st);
	rc = walk_once(s, &st, &r, err);
	if (rc && lost(&r, s->view)) {
		/* vcsim answers a dead session's view so, not with
		 * NotAuthenticated: check the session, make a new view, again. */
		ferry_debug("vsphere: the inventory view is gone; making a new one");
		vs_reply_release(&r);
		view_drop(s, false);
		vs_store_release(&st);
		vs_store_init(&st);
		rc = vs_soap_check(s->soap, err) ? -1 : walk_once(s, &st, &r, err);
	}
	vs_reply_release(&r);
	if (rc) {
		vs_store_release(&st);
		return -1;
	}
	vs_store_release(&s->store);
	s->store = st;
	s->loaded = true;
	s->stats.walks++;
	return 0;
}

/* ---- incremental updates ------------------------------------------------------------------ */

static int refetch(struct ferry_source *s, const char *ref, struct ferry_err *err)
{
	struct vs_obj *o = vs_store_get(&s->store, ref);
	const struct vs_propspec *p = o ? spec_of(o->type) : NULL;
	struct vs_reply r = VS_REPLY_INIT;
	xmlNode *oc;
	char *type;
	int rc;

	if (!p)
		return 0;
	type = ferry_xstrdup(o->type);
	rc = vs_retrieve(s, type, ref, p->paths, &r, &oc, err);
	if (rc && !strcmp(r.fault, "ManagedObjectNotFound")) {
		vs_store_remove(&s->store, ref);
		rc = 0;
	} else if (!rc) {
		o = vs_store_add(&s->store, type, ref);
		for (size_t i = o->n; i--;)
			vs_obj_set(&s->store, o, o->props[i].name, NULL);
		if (oc)
			vs_store_load(&s->store, vs_child(r.resp, "returnval"));
	}
	free(type);
	vs_reply_release(&r);
	return rc;
}

/* WaitForUpdatesEx until it has nothing more (never waits). */
static int wait_updates(struct ferry_source *s, unsigned *changed, struct ferry_err *err)
{
	unsigned gen = vs_soap_generation(s->soap);
	char **again = NULL;
	size_t nagain = 0;
	int rc = -1;

	*changed = 0;
	for (int round = 0; round < MAX_PAGES; round++) {
		struct ferry_sb b = FERRY_SB_INIT;
		struct vs_reply r = VS_REPLY_INIT;
		xmlNode *rv;
		bool truncated;

		if (vs_add_this(&b, "PropertyCollector",
				vs_soap_service(s->soap)->property_collector, err) ||
		    vs_add_text(&b, "version", s->version ? s->version : "", err)) {
			ferry_sb_release(&b);
			goto out;
		}
		ferry_sb_addf(&b,
			      "<options><maxWaitSeconds>0</maxWaitSeconds>"
			      "<maxObjectUpdates>%d</maxObjectUpdates></options>",
			      UPDATE_OBJECTS);
		rc = vs_call(s->soap, "WaitForUpdatesEx", b.buf, &r, err);
		ferry_sb_release(&b);
		if (rc)
			goto out;
		rc = -1;
		if (vs_soap_generation(s->soap) != gen) {
			vs_reply_release(&r);
			ferry_err_set(err, FERRY_E_RETRYABLE,
				      "vsphere: a new session: the property filter is gone");
			goto out;
		}
		rv = vs_child(r.resp, "returnval");
		if (!rv) { /* nothing changed */
			vs_reply_release(&r);
			break;
		}
		free(s->version);
		s->version = vs_child_text(rv, "version");
		truncated = vs_child_true(rv, "truncated");
		*changed += (unsigned)vs_store_apply(&s->store, rv, &again, &nagain);
		vs_reply_release(&r);
		if (!truncated)
			break;
	}
	for (size_t i = 0; i < nagain; i++)
		if (refetch(s, again[i], err))
			goto out;
	rc = 0;
out:
	for (size_t i = 0; i < nagain; i++)
		free(again[i]);
	free(again);
	return rc;
}

/* A filter over the view; its first WaitForUpdatesEx holds every object
 * again (applied: it is at least as new as the walk). */
static int filter_start(struct ferry_source *s, struct ferry_err *err)
{
	struct ferry_sb b = FERRY_SB_INIT;
	struct vs_reply r = VS_REPLY_INIT;
	unsigned changed;
	int rc = -1;

	filter_drop(s, true);
	if (view_ensure(s, err) ||
	    vs_add_this(&b, "PropertyCollector", vs_soap_service(s->soap)->property_collector,
			err) ||
	    add_spec(&b, "spec", s->view, err))
		goto out;
	ferry_sb_adds(&b, "<partialUpdates>false</partialUpdates>");
	if (vs_call(s->soap, "CreateFilter", b.buf, &r, err))
		goto out;
	s->filter = vs_child_text(r.resp, "returnval");
	s->filter_gen = vs_soap_generation(s->soap);
	rc = wait_updates(s, &changed, err);
out:
	if (rc)
		filter_drop(s, false);
	vs_reply_release(&r);
	ferry_sb_release(&b);
	return rc;
}

int vs_inventory(struct ferry_source *s, struct ferry_inventory *inv, struct ferry_findings *f,
		 struct ferry_err *err)
{
	struct ferry_err e2 = FERRY_ERR_INIT;
	unsigned changed = 0;
	bool incremental = false;

	if (s->loaded && s->filter && s->filter_gen == vs_soap_generation(s->soap)) {
		if (!wait_updates(s, &changed, &e2)) {
			incremental = true;
		} else {
			ferry_info("vsphere: %s: inventory updates failed (%s); walking the whole "
				   "inventory",
				   s->label, e2.msg);
			filter_drop(s, true);
		}
	}
	if (!incremental) {
		if (walk(s, err)) {
			ferry_err_prefix(err, "walking the inventory of %s: ", s->label);
			return -1;
		}
		e2 = (struct ferry_err)FERRY_ERR_INIT;
		if (filter_start(s, &e2))
			ferry_info(
				"vsphere: %s: no inventory updates (%s); the next inventory walks "
				"again",
				s->label, e2.msg);
	} else {
		s->stats.updates++;
		s->stats.last_changes = changed;
	}
	vs_store_build(&s->store, inv, f);
	return 0;
}
