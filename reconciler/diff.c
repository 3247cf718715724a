#include "reconciler/diff.h"

#include "common/alloc.h"
#include "common/strbuf.h"
#include "common/time.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const action_names[] = {
	[FERRY_ACT_START] = "start",	   [FERRY_ACT_WAIT] = "wait",
	[FERRY_ACT_CONTINUE] = "continue", [FERRY_ACT_CUTOVER] = "cutover",
	[FERRY_ACT_CANCEL] = "cancel",	   [FERRY_ACT_SKIP] = "skip",
	[FERRY_ACT_BLOCKED] = "blocked",   [FERRY_ACT_REFUSE] = "refuse",
	[FERRY_ACT_DRIFT] = "drift",	   [FERRY_ACT_ARCHIVE] = "archive",
};

const char *ferry_action_name(enum ferry_action_kind k)
{
	return action_names[k];
}

void ferry_actions_release(struct ferry_actions *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].detail);
	free(a->v);
	memset(a, 0, sizeof *a);
}

static struct ferry_action *add(struct ferry_actions *out, const struct ferry_diff_plan *p,
				enum ferry_action_kind kind, const char *migration)
{
	struct ferry_action *a = FERRY_PUSH(out->v, out->n, out->cap);

	memset(a, 0, sizeof *a);
	a->kind = kind;
	a->plan_ns = p->plan->obj.ns;
	a->plan_name = p->plan->obj.name;
	a->migration = migration;
	a->vm = SIZE_MAX;
	a->provider = p->provider;
	a->host = "";
	return a;
}

static size_t vm_of(const struct ferry_diff_plan *p, const struct ferry_diff_row *r);

static struct ferry_action *add_row(struct ferry_actions *out, const struct ferry_diff_plan *p,
				    enum ferry_action_kind kind, const struct ferry_diff_row *r)
{
	struct ferry_action *a = add(out, p, kind, r->migration);

	a->vm_id = r->vm_id;
	a->vm_name = r->vm_name;
	a->phase = r->phase;
	a->vm = vm_of(p, r);
	if (a->vm != SIZE_MAX) {
		const struct ferry_run_vm *v = &p->vms[a->vm];
		a->warm = v->kind == FERRY_ITINERARY_WARM;
		a->disks = v->src ? (unsigned)v->src->ndisks : 0;
		a->host = v->src && v->src->host ? v->src->host : "";
	}
	return a;
}

bool ferry_phase_copies(enum ferry_itinerary_kind kind, const char *phase)
{
	const struct ferry_phase *ph = ferry_itinerary_phase(kind, phase);

	return ph && (!strcmp(ph->step, "DiskTransfer") || !strcmp(ph->step, "Cutover"));
}

static bool ref_matches(const struct ferry_str *id, const struct ferry_str *name,
			const struct ferry_run_vm *v)
{
	if (id->v)
		return v->id && !strcmp(id->v, v->id);
	return name->v && v->name && !strcmp(name->v, v->name);
}

static bool canceled(const struct ferry_migration *mig, const struct ferry_run_vm *v)
{
	for (size_t i = 0; i < mig->spec.cancel.len; i++) {
		const struct ferry_vm_ref *r = FERRY_AT(mig->spec.cancel, struct ferry_vm_ref, i);
		if (ref_matches(&r->id, &r->name, v))
			return true;
	}
	return false;
}

static bool time_passed(const char *when, int64_t now)
{
	struct ferry_time t;

	return when && !ferry_time_parse(when, &t, NULL) && t.sec <= now;
}

static bool cutover_due(const struct ferry_migration *mig, const struct ferry_run_vm *v,
			int64_t now)
{
	for (size_t i = 0; i < mig->spec.vm_cutover.len; i++) {
		const struct ferry_vm_cutover *c =
			FERRY_AT(mig->spec.vm_cutover, struct ferry_vm_cutover, i);
		if (ref_matches(&c->id, &c->name, v))
			return time_passed(c->cutover.v, now);
	}
	return time_passed(mig->spec.cutover.v, now);
}

/* Is row r about VM v? By id; by name when v has none (a VM the plan
 * lists by name and the inventory no longer has). */
static bool row_is(const struct ferry_diff_row *r, const struct ferry_run_vm *v)
{
	if (v->id)
		return !strcmp(r->vm_id, v->id);
	return v->name && r->vm_name && !strcmp(r->vm_name, v->name);
}

static const struct ferry_diff_row *find_row(const struct ferry_diff_plan *p, const char *mig,
					     const struct ferry_run_vm *v)
{
	for (size_t i = 0; i < p->nrows; i++)
		if (!strcmp(p->rows[i].migration, mig) && row_is(&p->rows[i], v))
			return &p->rows[i];
	return NULL;
}

/* Completed by an earlier run, and still there: a re-run skips it (one
 * whose target VM was deleted migrates again). */
static const struct ferry_diff_row *completed_before(const struct ferry_diff_plan *p,
						     const char *mig, const struct ferry_run_vm *v)
{
	for (size_t i = 0; i < p->nrows; i++)
		if (strcmp(p->rows[i].migration, mig) && row_is(&p->rows[i], v) &&
		    !strcmp(p->rows[i].phase, "Completed") && !p->rows[i].target_missing)
			return &p->rows[i];
	return NULL;
}

/* The plan's VM of row r, or SIZE_MAX. */
static size_t vm_of(const struct ferry_diff_plan *p, const struct ferry_diff_row *r)
{
	for (size_t i = 0; i < p->nvms; i++)
		if (row_is(r, &p->vms[i]))
			return i;
	return SIZE_MAX;
}

static void drift(struct ferry_actions *out, const struct ferry_diff_plan *p,
		  const struct ferry_diff_row *r)
{
	if (!strcmp(r->phase, "Completed") && r->target_missing)
		add_row(out, p, FERRY_ACT_DRIFT, r)->detail = ferry_xstrdup(
			"its target VM was deleted outside ferry; it is not "
			"recreated (re-run the plan with a new Migration to migrate it "
			"again)");
	else if (!strcmp(r->phase, "Completed") && r->target_changed)
		add_row(out, p, FERRY_ACT_DRIFT, r)->detail = ferry_xstrdup(
			"its target VM was changed outside ferry since ferry created it; "
			"ferry leaves it as it is (a re-run skips it too)");
}

const struct ferry_migration *ferry_plan_migration(const struct ferry_model *m,
						   const struct ferry_plan *p)
{
	const struct ferry_migration *found = NULL;

	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_MIGRATION); i++) {
		const struct ferry_migration *mg = &ferry_model_migrations(m)[i];
		const struct ferry_ref *r = &mg->spec.plan;
		const char *ns = r->namespace_.v ? r->namespace_.v : mg->obj.ns;

		if (r->name.v && !strcmp(r->name.v, p->obj.name) && !strcmp(ns, p->obj.ns))
			found = mg;
	}
	return found;
}

void ferry_diff_plan(const struct ferry_diff_plan *p, int64_t now, struct ferry_actions *out)
{
	const struct ferry_plan *plan = p->plan;
	const char *mig = p->mig ? p->mig->obj.name : NULL;
	bool archived = plan->spec.archived.set && plan->spec.archived.v;

	/* runs that are no longer the plan's: canceled */
	for (size_t i = 0; i < p->nrows; i++) {
		const struct ferry_diff_row *r = &p->rows[i];

		if (ferry_phase_is_final(r->phase)) {
			if (!mig || strcmp(r->migration, mig) || archived)
				drift(out, p, r);
			continue;
		}
		if (!mig)
			add_row(out, p, FERRY_ACT_CANCEL, r)->detail = ferry_xasprintf(
				"its Migration %s was deleted from the repository", r->migration);
		else if (strcmp(r->migration, mig))
			add_row(out, p, FERRY_ACT_CANCEL, r)->detail =
				ferry_xasprintf("Migration %s supersedes %s", mig, r->migration);
		else if (archived)
			add_row(out, p, FERRY_ACT_CANCEL, r)->detail =
				ferry_xstrdup("the plan is archived");
	}
	if (archived) {
		if (!p->archive_done && p->nrows)
			add(out, p, FERRY_ACT_ARCHIVE, mig)->detail = ferry_xstrdup(
				"remove the plan's temporary objects (copy "
				"checkpoints, source snapshots); migrated VMs and their "
				"disks stay");
		return;
	}
	if (!mig)
		return;

	for (size_t i = 0; i < p->nvms; i++) {
		const struct ferry_run_vm *v = &p->vms[i];
		const struct ferry_diff_row *r = find_row(p, mig, v);
		const struct ferry_diff_row *done;
		struct ferry_action *a;

		if (r && ferry_phase_is_final(r->phase)) {
			drift(out, p, r);
			continue;
		}
		if (r) {
			if (canceled(p->mig, v)) {
				a = add_row(out, p, FERRY_ACT_CANCEL, r);
				a->detail = ferry_xstrdup("listed in the Migration's spec.cancel");
				a->vm = i;
				continue;
			}
			if (r->hash && strcmp(r->hash, v->hash)) {
				/* the change is not applied: the VM holds where it is
				 * (a running copy finishes) until Git says again what
				 * it started with, or the Migration cancels it */
				add_row(out, p, FERRY_ACT_REFUSE, r)->detail = ferry_xasprintf(
					"its mapping changed while it runs (%s); it stays in %s "
					"until the change is reverted or the Migration cancels it",
					v->problem ? v->problem : "disks, networks or names differ",
					r->phase);
				continue;
			}
			if (v->kind == FERRY_ITINERARY_WARM &&
			    ferry_itinerary_in_loop(FERRY_ITINERARY_WARM, r->phase) &&
			    cutover_due(p->mig, v, now)) {
				a = add_row(out, p, FERRY_ACT_CUTOVER, r);
				a->detail = ferry_xstrdup("the cutover time has passed");
			} else {
				a = add_row(out, p, FERRY_ACT_CONTINUE, r);
			}
			continue;
		}
		if ((done = completed_before(p, mig, v))) {
			a = add(out, p, FERRY_ACT_SKIP, mig);
			a->vm_id = v->id;
			a->vm_name = v->name;
			a->detail = ferry_xasprintf("completed by Migration %s", done->migration);
			a->vm = i;
			continue;
		}
		a = add(out, p,
			canceled(p->mig, v) ? FERRY_ACT_CANCEL
			: v->problem	    ? FERRY_ACT_BLOCKED
					    : FERRY_ACT_START,
			mig);
		a->vm_id = v->id;
		a->vm_name = v->name;
		a->vm = i;
		a->warm = v->kind == FERRY_ITINERARY_WARM;
		a->host = v->src && v->src->host ? v->src->host : "";
		if (a->kind == FERRY_ACT_CANCEL) {
			a->detail = ferry_xstrdup("listed in the Migration's spec.cancel before it "
						  "started");
		} else if (a->kind == FERRY_ACT_BLOCKED) {
			a->detail = ferry_xstrdup(v->problem);
		} else {
			uint64_t bytes = 0;

			for (size_t d = 0; d < v->tvm.ndisks; d++)
				bytes += v->tvm.disks[d].size;
			a->disks = (unsigned)v->tvm.ndisks;
			a->detail =
				ferry_xasprintf("%s, %zu disk%s, %.1f MiB -> %s/%s",
						v->kind == FERRY_ITINERARY_WARM ? "warm" : "cold",
						v->tvm.ndisks, v->tvm.ndisks == 1 ? "" : "s",
						(double)bytes / (1 << 20), v->tvm.ns, v->tvm.name);
		}
	}
	/* running VMs the plan no longer lists */
	for (size_t i = 0; i < p->nrows; i++) {
		const struct ferry_diff_row *r = &p->rows[i];

		if (!strcmp(r->migration, mig) && !ferry_phase_is_final(r->phase) &&
		    vm_of(p, r) == SIZE_MAX)
			add_row(out, p, FERRY_ACT_REFUSE, r)->detail =
				ferry_xasprintf("removed from the plan while it runs; it stays in "
						"%s until the plan "
						"lists it again or the Migration cancels it",
						r->phase);
	}
}

void ferry_diff_schedule(struct ferry_actions *a, unsigned default_budget,
			 const struct ferry_sched_limit *limits, size_t nlimits)
{
	struct ferry_sched_vm *s = ferry_xcalloc(a->n ? a->n : 1, sizeof *s);
	size_t *idx = ferry_xcalloc(a->n ? a->n : 1, sizeof *idx);
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++) {
		struct ferry_action *x = &a->v[i];
		/* a VM held by a refused change may still be copying */
		bool running =
			(x->kind == FERRY_ACT_CONTINUE || x->kind == FERRY_ACT_CUTOVER ||
			 (x->kind == FERRY_ACT_REFUSE && x->phase)) &&
			ferry_phase_copies(x->warm ? FERRY_ITINERARY_WARM : FERRY_ITINERARY_COLD,
					   x->phase);

		if (x->kind != FERRY_ACT_START && !running)
			continue;
		s[n] = (struct ferry_sched_vm){
			.provider = x->provider ? x->provider : "",
			.host = x->host ? x->host : "",
			.disks = x->disks,
			.running = running,
		};
		idx[n++] = i;
	}
	ferry_schedule(s, n, default_budget, limits, nlimits);
	for (size_t k = 0; k < n; k++) {
		struct ferry_action *x = &a->v[idx[k]];

		if (x->kind != FERRY_ACT_START || s[k].start)
			continue;
		x->kind = FERRY_ACT_WAIT;
		free(x->detail);
		x->detail = ferry_xasprintf("its source host's budget is in use (%s%s%s)",
					    x->provider ? x->provider : "",
					    x->host && *x->host ? " host " : "",
					    x->host ? x->host : "");
	}
	free(s);
	free(idx);
}

/* ---- output ------------------------------------------------------------ */

char *ferry_actions_text(const struct ferry_actions *a)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	size_t count[FERRY_ACT_ARCHIVE + 1] = {0};
	const char *plan_ns = NULL, *plan_name = NULL, *mig = NULL;
	bool first = true;

	for (size_t i = 0; i < a->n; i++) {
		const struct ferry_action *x = &a->v[i];

		count[x->kind]++;
		if (!plan_ns || strcmp(plan_ns, x->plan_ns) || strcmp(plan_name, x->plan_name) ||
		    (mig == NULL) != (x->migration == NULL) || (mig && strcmp(mig, x->migration))) {
			plan_ns = x->plan_ns;
			plan_name = x->plan_name;
			mig = x->migration;
			ferry_sb_addf(&sb, "%s%s/%s", first ? "" : "\n", plan_ns, plan_name);
			if (mig)
				ferry_sb_addf(&sb, " (Migration %s)", mig);
			ferry_sb_addc(&sb, '\n');
			first = false;
		}
		ferry_sb_addf(&sb, "  %-9s %-24s", ferry_action_name(x->kind),
			      x->vm_name ? x->vm_name
			      : x->vm_id ? x->vm_id
					 : "");
		if (x->phase)
			ferry_sb_addf(&sb, " [%s]", x->phase);
		if (x->detail)
			ferry_sb_addf(&sb, " %s", x->detail);
		ferry_sb_addc(&sb, '\n');
	}
	if (!a->n) {
		ferry_sb_adds(&sb, "nothing to do\n");
	} else {
		const char *sep = "";

		ferry_sb_addf(&sb, "\n%zu action%s:", a->n, a->n == 1 ? "" : "s");
		for (int k = 0; k <= FERRY_ACT_ARCHIVE; k++) {
			if (!count[k])
				continue;
			ferry_sb_addf(&sb, "%s %zu %s", sep, count[k], action_names[k]);
			sep = ",";
		}
		ferry_sb_addc(&sb, '\n');
	}
	return ferry_sb_detach(&sb);
}

static void json_field(struct ferry_sb *sb, const char *key, const char *v, bool comma)
{
	ferry_sb_addf(sb, "\"%s\": ", key);
	if (v)
		ferry_sb_add_quoted(sb, v);
	else
		ferry_sb_adds(sb, "null");
	if (comma)
		ferry_sb_adds(sb, ", ");
}

char *ferry_actions_json(const struct ferry_actions *a)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	size_t count[FERRY_ACT_ARCHIVE + 1] = {0};
	bool first = true;

	ferry_sb_adds(&sb, "{\n  \"actions\": [");
	for (size_t i = 0; i < a->n; i++) {
		const struct ferry_action *x = &a->v[i];
		char *plan = ferry_xasprintf("%s/%s", x->plan_ns, x->plan_name);

		count[x->kind]++;
		ferry_sb_adds(&sb, i ? ",\n    {" : "\n    {");
		json_field(&sb, "action", ferry_action_name(x->kind), true);
		json_field(&sb, "plan", plan, true);
		json_field(&sb, "migration", x->migration, true);
		json_field(&sb, "vmID", x->vm_id, true);
		json_field(&sb, "vmName", x->vm_name, true);
		json_field(&sb, "phase", x->phase, true);
		json_field(&sb, "detail", x->detail, false);
		ferry_sb_addc(&sb, '}');
		free(plan);
	}
	ferry_sb_adds(&sb, a->n ? "\n  ],\n  \"summary\": {" : "],\n  \"summary\": {");
	for (int k = 0; k <= FERRY_ACT_ARCHIVE; k++) {
		ferry_sb_addf(&sb, "%s\"%s\": %zu", first ? "" : ", ", action_names[k], count[k]);
		first = false;
	}
	ferry_sb_adds(&sb, "}\n}\n");
	return ferry_sb_detach(&sb);
}
