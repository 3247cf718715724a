/* reconciler/diff: golden cases. Each directory under data/diff holds
 *
 *   desired.yaml   the desired state (it must validate without blocking
 *                  findings, as a reconcile would require)
 *   inventory.txt  what the source Providers have
 *   journal.txt    the journal's rows: what ferry already did
 *   budget.txt     optional: the scheduler's budgets (default 20 disks)
 *   expected.txt   the exact ferry_actions_text output
 *   expected.json  the exact ferry_actions_json output
 *
 * The inputs of ferry_diff_plan are built as reconciler/engine.c's
 * pctx_load and pctx_diff build them (rows in journal order, the Migration
 * written last, the provider as "ns/name"), with a fixed now
 * (2025-06-01T12:00:00Z); then ferry_diff_schedule runs over every plan's
 * actions at once. FERRY_UPDATE_GOLDEN=1 rewrites the expected files from
 * what the code does now: read the change before committing it.
 *
 * inventory.txt ('#' starts a comment):
 *   provider NS/NAME         the VMs below are that Provider's (VMs before
 *                            any provider line: every Provider's)
 *   vm ID NAME POWER [efi] [cbt|cbt-off]
 *                            a VM; POWER is On or Off; cbt: changed block
 *                            tracking on (cbt-off: the source has it, off)
 *   snapshot ID NAME         a snapshot of the last VM
 *   disk ID STORAGE MIB      a disk of the last VM
 *   nic NETWORK [MAC]        a NIC of the last VM ("Network adapter N")
 * journal.txt:
 *   plan NS/NAME             the rows below are that plan's (the default
 *                            when the model has one plan)
 *   archived                 that plan's archive is done
 *   MIGRATION VM_ID VM_NAME PHASE [HASH|=|-] [missing]
 *                            HASH: the mapping the VM started with; "=":
 *                            the one it resolves to now; "-": none recorded;
 *                            missing: its target VM is gone
 * budget.txt: the default budget, then "NS/NAME DISKS" lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/util.h"
#include "reconciler/diff.h"
#include "schema/report.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA FERRY_TEST_DATA "/diff"
#define NOW  1748779200 /* 2025-06-01T12:00:00Z */

struct inv_set {
	char *provider; /* NULL: every Provider's */
	struct ferry_inventory inv;
};

struct jrow {
	char *plan;
	struct ferry_diff_row row;
	char *hash_spec; /* NULL, "=" or a hash */
};

struct golden {
	const char *name;
	struct ferry_model m;
	struct inv_set *invs;
	size_t ninvs, invs_cap;
	struct jrow *rows;
	size_t nrows, rows_cap;
	char **archived; /* plan keys whose archive is done */
	size_t narchived, archived_cap;
	unsigned budget;
	struct ferry_sched_limit *limits;
	size_t nlimits, limits_cap;
	char **pool; /* strings the above point to */
	size_t npool, pool_cap;
};

/* The plan as the engine holds it in one pass. */
struct gplan {
	const struct ferry_plan *plan;
	char *key, *provider;
	struct ferry_run_vm *vms;
	size_t nvms;
	struct ferry_diff_row *rows;
	size_t nrows;
};

static char *keep(struct golden *g, char *s)
{
	*FERRY_PUSH(g->pool, g->npool, g->pool_cap) = s;
	return s;
}

static void golden_release(struct golden *g)
{
	ferry_model_release(&g->m);
	for (size_t i = 0; i < g->ninvs; i++)
		ferry_inventory_release(&g->invs[i].inv);
	free(g->invs);
	free(g->rows);
	free(g->archived);
	free(g->limits);
	for (size_t i = 0; i < g->npool; i++)
		free(g->pool[i]);
	free(g->pool);
}

/* Read DATA/case/file; NULL (and a message) when absent and required. */
static char *read_case_file(const char *name, const char *file, bool required)
{
	char *path = ferry_xasprintf("%s/%s/%s", DATA, name, file);
	char *data = NULL;
	size_t len;

	if (ferry_read_file(path, 1 << 20, &data, &len)) {
		if (required || errno != ENOENT)
			print_error("%s: %s\n", path, strerror(errno));
		data = NULL;
	}
	free(path);
	return data;
}

/* Split line into at most max whitespace-separated words (in place); a
 * '#' starts a comment. */
static size_t words(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *save = NULL, *hash = strchr(line, '#');

	if (hash)
		*hash = '\0';
	for (char *t = strtok_r(line, " \t\r", &save); t && n < max;
	     t = strtok_r(NULL, " \t\r", &save))
		w[n++] = t;
	return n;
}

static int parse_inventory(struct golden *g, char *text)
{
	struct ferry_inventory *inv = NULL;
	struct ferry_vm *vm = NULL;
	char *save = NULL;
	int lineno = 0;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *w[8];
		size_t n = words(line, w, 8);

		lineno++;
		if (!n)
			continue;
		if (!strcmp(w[0], "provider") && n == 2) {
			struct inv_set *s = FERRY_PUSH(g->invs, g->ninvs, g->invs_cap);
			s->provider = keep(g, ferry_xstrdup(w[1]));
			inv = NULL; /* g->invs may have moved: found again below */
			vm = NULL;
			continue;
		}
		if (!inv) {
			if (!g->ninvs)
				FERRY_PUSH(g->invs, g->ninvs, g->invs_cap);
			inv = &g->invs[g->ninvs - 1].inv;
		}
		if (!strcmp(w[0], "vm") && n >= 4 && n <= 6) {
			vm = FERRY_PUSH(inv->vms, inv->nvms, inv->cap);
			memset(vm, 0, sizeof *vm);
			vm->id = ferry_xstrdup(w[1]);
			vm->name = ferry_xstrdup(w[2]);
			vm->power_state = ferry_xstrdup(w[3]);
			vm->cpus = 2;
			vm->memory_bytes = 4ull << 30;
			for (size_t k = 4; k < n; k++) {
				if (!strcmp(w[k], "efi") && !vm->firmware)
					vm->firmware = ferry_xstrdup("efi");
				else if (!strcmp(w[k], "cbt") || !strcmp(w[k], "cbt-off"))
					vm->has_cbt = true, vm->cbt_enabled = !strcmp(w[k], "cbt");
				else {
					print_error("%s/inventory.txt:%d: unknown word %s\n",
						    g->name, lineno, w[k]);
					return -1;
				}
			}
			if (!vm->firmware)
				vm->firmware = ferry_xstrdup("bios");
		} else if (!strcmp(w[0], "snapshot") && n == 3 && vm) {
			struct ferry_vm_snapshot *sn;

			vm->snapshots = ferry_xrealloc(
				vm->snapshots, (vm->nsnapshots + 1) * sizeof *vm->snapshots);
			sn = &vm->snapshots[vm->nsnapshots++];
			sn->id = ferry_xstrdup(w[1]);
			sn->name = ferry_xstrdup(w[2]);
		} else if (!strcmp(w[0], "disk") && n == 4 && vm) {
			struct ferry_vm_disk *d;

			vm->disks = ferry_xrealloc(vm->disks, (vm->ndisks + 1) * sizeof *vm->disks);
			d = &vm->disks[vm->ndisks++];
			memset(d, 0, sizeof *d);
			d->id = ferry_xstrdup(w[1]);
			d->storage = ferry_xstrdup(w[2]);
			d->capacity = strtoull(w[3], NULL, 10) << 20;
			d->format = ferry_xstrdup("raw");
		} else if (!strcmp(w[0], "nic") && (n == 2 || n == 3) && vm) {
			struct ferry_vm_nic *c;

			vm->nics = ferry_xrealloc(vm->nics, (vm->nnics + 1) * sizeof *vm->nics);
			c = &vm->nics[vm->nnics++];
			memset(c, 0, sizeof *c);
			c->name = ferry_xasprintf("Network adapter %zu", vm->nnics);
			c->network = ferry_xstrdup(w[1]);
			c->mac = n == 3 ? ferry_xstrdup(w[2]) : NULL;
		} else {
			print_error("%s/inventory.txt:%d: cannot read this line\n", g->name,
				    lineno);
			return -1;
		}
	}
	return 0;
}

static int vm_order(const void *a, const void *b)
{
	const struct ferry_vm *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->id, y->id);
}

static int parse_journal(struct golden *g, char *text)
{
	char *plan = NULL;
	char *save = NULL;
	int lineno = 0;

	if (ferry_model_count(&g->m, FERRY_KIND_PLAN) == 1) {
		const struct ferry_plan *p = ferry_model_plans(&g->m);
		plan = keep(g, ferry_xasprintf("%s/%s", p->obj.ns, p->obj.name));
	}
	for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *w[8];
		size_t n = words(line, w, 8);
		struct jrow *r;

		lineno++;
		if (!n)
			continue;
		if (!strcmp(w[0], "plan") && n == 2) {
			plan = keep(g, ferry_xstrdup(w[1]));
			continue;
		}
		if (!plan) {
			print_error("%s/journal.txt:%d: which plan? (a plan line first)\n", g->name,
				    lineno);
			return -1;
		}
		if (!strcmp(w[0], "archived") && n == 1) {
			*FERRY_PUSH(g->archived, g->narchived, g->archived_cap) = plan;
			continue;
		}
		if (n < 4 || n > 6 ||
		    (n == 6 && strcmp(w[5], "missing") && strcmp(w[5], "changed"))) {
			print_error("%s/journal.txt:%d: cannot read this line\n", g->name, lineno);
			return -1;
		}
		r = FERRY_PUSH(g->rows, g->nrows, g->rows_cap);
		r->plan = plan;
		r->row.migration = keep(g, ferry_xstrdup(w[0]));
		r->row.vm_id = keep(g, ferry_xstrdup(w[1]));
		r->row.vm_name = keep(g, ferry_xstrdup(w[2]));
		r->row.phase = keep(g, ferry_xstrdup(w[3]));
		if (n >= 5 && strcmp(w[4], "-"))
			r->hash_spec = keep(g, ferry_xstrdup(w[4]));
		r->row.target_missing = n == 6 && !strcmp(w[5], "missing");
		r->row.target_changed = n == 6 && !strcmp(w[5], "changed");
	}
	return 0;
}

static int parse_budget(struct golden *g, char *text)
{
	char *save = NULL;
	bool first = true;

	g->budget = 20;
	for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *w[3];
		size_t n = words(line, w, 3);

		if (!n)
			continue;
		if (first && n == 1) {
			g->budget = (unsigned)strtoul(w[0], NULL, 10);
		} else if (n == 2) {
			struct ferry_sched_limit *l =
				FERRY_PUSH(g->limits, g->nlimits, g->limits_cap);
			l->provider = keep(g, ferry_xstrdup(w[0]));
			l->disks = (unsigned)strtoul(w[1], NULL, 10);
		} else {
			print_error("%s/budget.txt: cannot read \"%s\"\n", g->name, line);
			return -1;
		}
		first = false;
	}
	return 0;
}

static const struct ferry_inventory *inventory_of(const struct golden *g, const char *provider)
{
	const struct ferry_inventory *all = NULL;

	for (size_t i = 0; i < g->ninvs; i++) {
		if (g->invs[i].provider && !strcmp(g->invs[i].provider, provider))
			return &g->invs[i].inv;
		if (!g->invs[i].provider)
			all = &g->invs[i].inv;
	}
	return all;
}

/* The journal's order: migration, then vm_id. */
static int row_order(const void *a, const void *b)
{
	const struct ferry_diff_row *x = a, *y = b;
	int c = strcmp(x->migration, y->migration);

	return c ? c : strcmp(x->vm_id, y->vm_id);
}

/* Gather plan p's inputs into gp and append its actions to a. */
static int diff_plan(struct golden *g, const struct ferry_plan *p, struct gplan *gp,
		     struct ferry_actions *a)
{
	const struct ferry_ref *src = &p->spec.provider.source;
	const struct ferry_migration *mig = ferry_plan_migration(&g->m, p);
	const struct ferry_inventory *inv;
	bool archive_done = false;

	gp->plan = p;
	gp->key = ferry_xasprintf("%s/%s", p->obj.ns, p->obj.name);
	gp->provider = ferry_xasprintf("%s/%s", src->namespace_.v ? src->namespace_.v : p->obj.ns,
				       src->name.v ? src->name.v : "");
	for (size_t i = 0; i < g->narchived; i++)
		archive_done = archive_done || !strcmp(g->archived[i], gp->key);
	gp->rows = ferry_xcalloc(g->nrows ? g->nrows : 1, sizeof *gp->rows);
	for (size_t i = 0; i < g->nrows; i++)
		if (!strcmp(g->rows[i].plan, gp->key))
			gp->rows[gp->nrows++] = g->rows[i].row;
	qsort(gp->rows, gp->nrows, sizeof *gp->rows, row_order);
	if (!mig && !gp->nrows)
		return 0; /* nothing to do with this pass */

	inv = inventory_of(g, gp->provider);
	gp->nvms = p->spec.vms.len;
	gp->vms = ferry_xcalloc(gp->nvms ? gp->nvms : 1, sizeof *gp->vms);
	for (size_t i = 0; i < gp->nvms; i++)
		ferry_resolve_vm(&g->m, p, i, inv, false, &gp->vms[i]);

	/* "=": the hash the VM resolves to now */
	for (size_t i = 0; i < g->nrows; i++) {
		const struct jrow *jr = &g->rows[i];
		struct ferry_diff_row *r = NULL;

		if (strcmp(jr->plan, gp->key) || !jr->hash_spec)
			continue;
		for (size_t k = 0; k < gp->nrows && !r; k++)
			if (gp->rows[k].vm_id == jr->row.vm_id)
				r = &gp->rows[k];
		r->hash = jr->hash_spec;
		if (strcmp(jr->hash_spec, "="))
			continue;
		r->hash = NULL;
		for (size_t k = 0; k < gp->nvms; k++)
			if (gp->vms[k].id && !strcmp(gp->vms[k].id, r->vm_id))
				r->hash = gp->vms[k].hash;
		if (!r->hash) {
			print_error("%s/journal.txt: \"=\" for %s, which plan %s does not "
				    "resolve\n",
				    g->name, r->vm_id, gp->key);
			return -1;
		}
	}

	ferry_diff_plan(&(struct ferry_diff_plan){.plan = p,
						  .mig = mig,
						  .provider = gp->provider,
						  .vms = gp->vms,
						  .nvms = gp->nvms,
						  .rows = gp->rows,
						  .nrows = gp->nrows,
						  .archive_done = archive_done},
			NOW, a);
	return 0;
}

static void gplan_release(struct gplan *gp)
{
	for (size_t i = 0; i < gp->nvms; i++)
		ferry_run_vm_release(&gp->vms[i]);
	free(gp->vms);
	free(gp->rows);
	free(gp->key);
	free(gp->provider);
}

/* ---- comparing with the golden files ----------------------------------- */

static size_t split_lines(char *s, char ***out)
{
	size_t n = 0, cap = 0;
	char **v = NULL;

	for (char *p = s; *p;) {
		char *nl = strchr(p, '\n');

		*FERRY_PUSH(v, n, cap) = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	*out = v;
	return n;
}

/* Print the difference of want and got, line by line (a longest common
 * subsequence; the files are small). */
static void print_diff(const char *what, const char *want, const char *got)
{
	char *a = ferry_xstrdup(want), *b = ferry_xstrdup(got);
	char **x, **y;
	size_t n = split_lines(a, &x), m = split_lines(b, &y);
	size_t *l = ferry_xcalloc((n + 1) * (m + 1), sizeof *l);
	size_t i = 0, j = 0;

#define L(i, j) l[(i) * (m + 1) + (j)]
	for (size_t p = n; p-- > 0;)
		for (size_t q = m; q-- > 0;)
			L(p, q) = !strcmp(x[p], y[q])	       ? L(p + 1, q + 1) + 1
				  : L(p + 1, q) >= L(p, q + 1) ? L(p + 1, q)
							       : L(p, q + 1);
	print_error("--- %s (expected)\n+++ %s (actual)\n", what, what);
	while (i < n || j < m) {
		if (i < n && j < m && !strcmp(x[i], y[j])) {
			print_error(" %s\n", x[i]);
			i++;
			j++;
		} else if (i < n && (j == m || L(i + 1, j) >= L(i, j + 1))) {
			print_error("-%s\n", x[i++]);
		} else {
			print_error("+%s\n", y[j++]);
		}
	}
#undef L
	free(l);
	free(x);
	free(y);
	free(a);
	free(b);
}

/* 0 when file of the case holds exactly got (or was rewritten to). */
static int compare(const char *name, const char *file, const char *got)
{
	const char *update = getenv("FERRY_UPDATE_GOLDEN");
	char *want;
	int rc = 0;

	if (update && !strcmp(update, "1")) {
		char *path = ferry_xasprintf("%s/%s/%s", DATA, name, file);
		rc = ferry_write_file_atomic(path, got, strlen(got), 0644);
		if (rc)
			print_error("%s: %s\n", path, strerror(errno));
		free(path);
		return rc;
	}
	want = read_case_file(name, file, true);
	if (!want)
		return -1;
	if (strcmp(want, got)) {
		char *what = ferry_xasprintf("%s/%s", name, file);
		print_diff(what, want, got);
		print_error("(FERRY_UPDATE_GOLDEN=1 rewrites the expected files)\n");
		free(what);
		rc = -1;
	}
	free(want);
	return rc;
}

static int run_golden(struct golden *g)
{
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_actions a = {0};
	struct gplan *gps = NULL;
	char *text = NULL, *json = NULL, *yaml, *inv, *journal, *budget;
	size_t np = 0;
	int rc = -1;

	yaml = read_case_file(g->name, "desired.yaml", true);
	inv = read_case_file(g->name, "inventory.txt", true);
	journal = read_case_file(g->name, "journal.txt", false);
	budget = read_case_file(g->name, "budget.txt", false);
	if (!yaml || !inv)
		goto out;
	ferry_model_load_buffer(&g->m, "desired.yaml", yaml, strlen(yaml), &f);
	ferry_model_validate(&g->m, &f);
	ferry_findings_sort(&f);
	if (ferry_findings_blocking(&f)) {
		print_error("%s/desired.yaml has blocking findings:\n", g->name);
		ferry_report_text(stderr, &f, &g->m);
		goto out;
	}
	if (parse_inventory(g, inv) || parse_journal(g, journal) || parse_budget(g, budget))
		goto out;
	for (size_t i = 0; i < g->ninvs; i++)
		qsort(g->invs[i].inv.vms, g->invs[i].inv.nvms, sizeof *g->invs[i].inv.vms,
		      vm_order);

	np = ferry_model_count(&g->m, FERRY_KIND_PLAN);
	gps = ferry_xcalloc(np ? np : 1, sizeof *gps);
	for (size_t i = 0; i < np; i++)
		if (diff_plan(g, &ferry_model_plans(&g->m)[i], &gps[i], &a))
			goto out;
	for (size_t i = 0; i < g->nrows; i++) {
		bool known = false;
		for (size_t k = 0; k < np; k++)
			known = known || !strcmp(gps[k].key, g->rows[i].plan);
		if (!known) {
			print_error("%s/journal.txt: no plan %s\n", g->name, g->rows[i].plan);
			goto out;
		}
	}
	ferry_diff_schedule(&a, g->budget, g->limits, g->nlimits);
	text = ferry_actions_text(&a);
	json = ferry_actions_json(&a);
	rc = compare(g->name, "expected.txt", text) | compare(g->name, "expected.json", json);
out:
	for (size_t i = 0; i < np; i++)
		gplan_release(&gps[i]);
	free(gps);
	ferry_actions_release(&a);
	ferry_findings_release(&f);
	free(text);
	free(json);
	free(yaml);
	free(inv);
	free(journal);
	free(budget);
	return rc;
}

static void test_golden(void **state)
{
	struct golden g = {.name = *state};
	int rc = run_golden(&g);

	golden_release(&g);
	assert_int_equal(rc, 0);
}

/* ---- pieces the golden files do not show --------------------------------- */

static void test_names_and_json(void **state)
{
	struct ferry_actions a = {0};
	char *text, *json;

	(void)state;
	for (int k = FERRY_ACT_START; k <= FERRY_ACT_ARCHIVE; k++)
		assert_non_null(ferry_action_name((enum ferry_action_kind)k));
	assert_string_equal(ferry_action_name(FERRY_ACT_WAIT), "wait");
	text = ferry_actions_text(&a);
	json = ferry_actions_json(&a);
	assert_string_equal(text, "nothing to do\n");
	assert_string_equal(json, "{\n  \"actions\": [],\n  \"summary\": {\"start\": 0, "
				  "\"wait\": 0, \"continue\": 0, \"cutover\": 0, \"cancel\": 0, "
				  "\"skip\": 0, \"blocked\": 0, \"refuse\": 0, \"drift\": 0, "
				  "\"archive\": 0}\n}\n");
	free(text);
	free(json);
}

static void test_phase_copies(void **state)
{
	const enum ferry_itinerary_kind C = FERRY_ITINERARY_COLD, W = FERRY_ITINERARY_WARM;
	(void)state;
	assert_true(ferry_phase_copies(C, "CopyDisks"));
	assert_true(ferry_phase_copies(W, "CopyDisks"));
	assert_true(ferry_phase_copies(W, "CopyingPaused"));
	assert_true(ferry_phase_copies(W, "CreateFinalSnapshot")); /* warm cutover copies */
	assert_true(ferry_phase_copies(W, "PowerOffSource"));	   /* ... in the Cutover step */
	assert_false(ferry_phase_copies(C, "PowerOffSource"));	   /* cold: Initialize */
	assert_false(ferry_phase_copies(C, "CopyingPaused"));	   /* not a cold phase */
	assert_false(ferry_phase_copies(C, "Started"));
	assert_false(ferry_phase_copies(W, "CreateVM"));
	assert_false(ferry_phase_copies(C, "Completed"));
	assert_false(ferry_phase_copies(W, "NoSuchPhase"));
}

static int name_order(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	struct CMUnitTest *tests = NULL;
	size_t n = 0, cap = 0, ncases = 0, cases_cap = 0;
	char **cases = NULL;
	DIR *d = opendir(DATA);
	struct dirent *e;
	int rc;

	if (!d) {
		fprintf(stderr, "%s: %s\n", DATA, strerror(errno));
		return 1;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			*FERRY_PUSH(cases, ncases, cases_cap) = ferry_xstrdup(e->d_name);
	closedir(d);
	qsort(cases, ncases, sizeof *cases, name_order);
	*FERRY_PUSH(tests, n, cap) = (struct CMUnitTest)cmocka_unit_test(test_names_and_json);
	*FERRY_PUSH(tests, n, cap) = (struct CMUnitTest)cmocka_unit_test(test_phase_copies);
	for (size_t i = 0; i < ncases; i++)
		*FERRY_PUSH(tests, n, cap) = (struct CMUnitTest){
			.name = cases[i], .test_func = test_golden, .initial_state = cases[i]};
	rc = _cmocka_run_group_tests("diff", tests, n, NULL, NULL);
	for (size_t i = 0; i < ncases; i++)
		free(cases[i]);
	free(cases);
	free(tests);
	return rc;
}
