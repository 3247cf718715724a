#include "reconciler/planstatus.h"

#include "common/strbuf.h"
#include "common/time.h"

#include <stdio.h>
#include <string.h>

#define MAX_STEPS 16

const char *ferry_plan_phase(const struct ferry_plan_status *p)
{
	size_t started = 0, final = 0, failed = 0, canceled = 0;
	for (size_t i = 0; i < p->nvms; i++) {
		const char *ph = p->vms[i].phase;
		if (!ph || !*ph)
			continue;
		started++;
		if (ferry_phase_is_final(ph)) {
			final++;
			failed += !strcmp(ph, "Failed");
			canceled += !strcmp(ph, "Canceled");
		}
	}
	if (!started)
		return "Pending";
	if (final < p->nvms)
		return "Running";
	return failed ? "Failed" : canceled ? "Canceled" : "Succeeded";
}

/* The VM's pipeline: the steps of its itinerary in order, and how far it is. */
struct step {
	const char *name;
	const char *state; /* Pending, Running, Completed, Failed, Canceled */
};

static size_t pipeline(const struct ferry_plan_status *p, const struct ferry_plan_status_vm *vm,
		       struct step *steps)
{
	const char *phases[64];
	size_t nph = ferry_itinerary_list(p->kind, p->flags, phases, 64), n = 0;
	const char *at = vm->phase && *vm->phase ? vm->phase : NULL;
	bool done = at && !strcmp(at, "Completed");
	bool stopped = at && (!strcmp(at, "Failed") || !strcmp(at, "Canceled"));
	const char *cur_step = NULL;
	const struct ferry_phase *cur;

	/* where it is (or, failed or canceled, where it stopped) */
	cur = ferry_itinerary_phase(p->kind, stopped ? vm->error_phase : at);
	if (cur)
		cur_step = cur->step;
	for (size_t i = 0; i < nph && n < MAX_STEPS; i++) {
		const char *s = ferry_itinerary_phase(p->kind, phases[i])->step;
		if (!strcmp(phases[i], "Completed"))
			break;
		if (n && !strcmp(steps[n - 1].name, s))
			continue;
		steps[n++] = (struct step){s, "Pending"};
	}
	bool before = cur_step != NULL;
	for (size_t i = 0; i < n; i++) {
		if (done) {
			steps[i].state = "Completed";
		} else if (before && !strcmp(steps[i].name, cur_step)) {
			steps[i].state = stopped ? at : "Running";
			before = false;
		} else if (before) {
			steps[i].state = "Completed";
		}
	}
	return n;
}

static void yaml_kv(struct ferry_sb *sb, const char *indent, const char *k, const char *v)
{
	if (!v || !*v)
		return;
	ferry_sb_addf(sb, "%s%s: ", indent, k);
	ferry_sb_add_quoted(sb, v);
	ferry_sb_addc(sb, '\n');
}

char *ferry_plan_status_yaml(const struct ferry_plan_status *p)
{
	struct ferry_sb sb;
	const char *phase = ferry_plan_phase(p);

	ferry_sb_init(&sb);
	ferry_sb_adds(&sb, "# Written by ferry from its journal; do not edit.\n"
			   "apiVersion: forklift.konveyor.io/v1beta1\n"
			   "kind: Plan\n"
			   "metadata:\n  name: ");
	ferry_sb_add_quoted(&sb, p->name);
	ferry_sb_adds(&sb, "\n  namespace: ");
	ferry_sb_add_quoted(&sb, p->ns);
	ferry_sb_addf(&sb, "\nstatus:\n  phase: %s\n", phase);
	yaml_kv(&sb, "  ", "sourceCommit", p->source_commit);
	yaml_kv(&sb, "  ", "migration", p->migration);
	ferry_sb_adds(&sb, "  conditions:\n");
	ferry_sb_addf(&sb, "  - type: %s\n    status: \"True\"\n    category: %s\n",
		      !strcmp(phase, "Running")	  ? "Executing"
		      : !strcmp(phase, "Pending") ? "Ready"
						  : phase,
		      !strcmp(phase, "Failed") ? "Critical" : "Advisory");
	for (size_t i = 0; i < p->nconditions; i++) {
		const struct ferry_plan_condition *c = &p->conditions[i];
		ferry_sb_addf(&sb, "  - type: %s\n    status: \"True\"\n    category: %s\n",
			      c->type, c->category);
		yaml_kv(&sb, "    ", "vm", c->vm);
		yaml_kv(&sb, "    ", "message", c->message);
	}
	ferry_sb_adds(&sb, p->nvms ? "  vms:\n" : "  vms: []\n");
	for (size_t i = 0; i < p->nvms; i++) {
		const struct ferry_plan_status_vm *vm = &p->vms[i];
		struct step steps[MAX_STEPS];
		size_t n = pipeline(p, vm, steps);

		ferry_sb_adds(&sb, "  - id: ");
		ferry_sb_add_quoted(&sb, vm->id);
		ferry_sb_adds(&sb, "\n");
		yaml_kv(&sb, "    ", "name", vm->name);
		ferry_sb_addf(&sb, "    phase: %s\n",
			      vm->phase && *vm->phase ? vm->phase : "Pending");
		yaml_kv(&sb, "    ", "started", vm->started);
		yaml_kv(&sb, "    ", "completed", vm->ended);
		if (vm->error && *vm->error) {
			ferry_sb_adds(&sb, "    error:\n");
			yaml_kv(&sb, "      ", "phase", vm->error_phase);
			ferry_sb_adds(&sb, "      reasons:\n      - ");
			ferry_sb_add_quoted(&sb, vm->error);
			ferry_sb_addc(&sb, '\n');
		}
		ferry_sb_adds(&sb, "    pipeline:\n");
		for (size_t s = 0; s < n; s++) {
			ferry_sb_addf(&sb, "    - name: %s\n      phase: %s\n", steps[s].name,
				      steps[s].state);
			if (!strcmp(steps[s].name, "DiskTransfer") && vm->bytes_total)
				ferry_sb_addf(&sb,
					      "      progress:\n        completed: %llu\n"
					      "        total: %llu\n",
					      (unsigned long long)vm->bytes_done,
					      (unsigned long long)vm->bytes_total);
		}
	}
	return ferry_sb_detach(&sb);
}

/* "|" and newlines would break a table cell */
static void md_cell(struct ferry_sb *sb, const char *s)
{
	for (const char *c = s ? s : ""; *c; c++) {
		if (*c == '|')
			ferry_sb_adds(sb, "\\|");
		else if (*c == '\n' || *c == '\r')
			ferry_sb_addc(sb, ' ');
		else
			ferry_sb_addc(sb, *c);
	}
}

static void duration(struct ferry_sb *sb, const char *from, const char *to)
{
	struct ferry_time a, b;
	if (!from || !*from || !to || !*to || ferry_time_parse(from, &a, NULL) ||
	    ferry_time_parse(to, &b, NULL))
		return;
	long long s = (long long)(b.sec - a.sec);
	if (s < 0)
		return;
	if (s >= 3600)
		ferry_sb_addf(sb, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else if (s >= 60)
		ferry_sb_addf(sb, "%lldm%02llds", s / 60, s % 60);
	else
		ferry_sb_addf(sb, "%llds", s);
}

char *ferry_plan_status_md(const struct ferry_plan_status *p)
{
	struct ferry_sb sb;

	ferry_sb_init(&sb);
	ferry_sb_addf(&sb, "# Plan %s/%s: %s\n\n", p->ns, p->name, ferry_plan_phase(p));
	if (p->migration)
		ferry_sb_addf(&sb, "Migration `%s`", p->migration);
	if (p->source_commit)
		ferry_sb_addf(&sb, "%sdesired state at commit `%.12s`", p->migration ? ", " : "",
			      p->source_commit);
	if (p->migration || p->source_commit)
		ferry_sb_adds(&sb, ".\n\n");
	ferry_sb_adds(&sb, "| VM | Phase | Progress | Started | Duration | Error |\n"
			   "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < p->nvms; i++) {
		const struct ferry_plan_status_vm *vm = &p->vms[i];
		ferry_sb_adds(&sb, "| ");
		md_cell(&sb, vm->name ? vm->name : vm->id);
		ferry_sb_adds(&sb, " | ");
		md_cell(&sb, vm->phase && *vm->phase ? vm->phase : "Pending");
		ferry_sb_adds(&sb, " | ");
		if (vm->bytes_total)
			ferry_sb_addf(&sb, "%llu%% of %.1f GiB",
				      (unsigned long long)(vm->bytes_done * 100 / vm->bytes_total),
				      (double)vm->bytes_total / (1024.0 * 1024 * 1024));
		ferry_sb_adds(&sb, " | ");
		md_cell(&sb, vm->started);
		ferry_sb_adds(&sb, " | ");
		duration(&sb, vm->started, vm->ended);
		ferry_sb_adds(&sb, " | ");
		md_cell(&sb, vm->error);
		ferry_sb_adds(&sb, " |\n");
	}
	if (p->nconditions)
		ferry_sb_adds(&sb,
			      "\n| Category | Condition | VM | Message |\n|---|---|---|---|\n");
	for (size_t i = 0; i < p->nconditions; i++) {
		const struct ferry_plan_condition *c = &p->conditions[i];
		ferry_sb_addf(&sb, "| %s | %s | ", c->category, c->type);
		md_cell(&sb, c->vm);
		ferry_sb_adds(&sb, " | ");
		md_cell(&sb, c->message);
		ferry_sb_adds(&sb, " |\n");
	}
	return ferry_sb_detach(&sb);
}
