#include "reconciler/status.h"

#include "common/strbuf.h"

#include <string.h>

#define SUBJECT_MAX 100

void ferry_status_batch_init(struct ferry_status_batch *b, uint64_t interval_ms)
{
	memset(b, 0, sizeof *b);
	b->interval_ms = interval_ms;
}

void ferry_status_batch_note(struct ferry_status_batch *b, bool phase_change)
{
	b->pending = true;
	b->urgent |= phase_change;
}

bool ferry_status_batch_due(const struct ferry_status_batch *b, uint64_t now_ms, uint64_t *wait_ms)
{
	uint64_t next;

	*wait_ms = 0;
	if (!b->pending)
		return false;
	if (b->urgent || !b->committed_once)
		return true;
	next = b->last_commit_ms + b->interval_ms;
	if (now_ms >= next || now_ms < b->last_commit_ms) /* clock went back: commit */
		return true;
	*wait_ms = next - now_ms;
	return false;
}

void ferry_status_batch_committed(struct ferry_status_batch *b, uint64_t now_ms)
{
	b->last_commit_ms = now_ms;
	b->committed_once = true;
	b->pending = false;
	b->urgent = false;
}

static void add_change(struct ferry_sb *sb, const struct ferry_status_change *c)
{
	if (c->from)
		ferry_sb_addf(sb, "%s %s -> %s", c->vm, c->from, c->to);
	else
		ferry_sb_addf(sb, "%s -> %s", c->vm, c->to);
}

/* "wave-1 Running" for the subject of a commit of several plans. */
static void add_plan(struct ferry_sb *sb, const struct ferry_status_message *m)
{
	ferry_sb_addf(sb, "%s %s", m->plan, m->phase ? m->phase : "status");
}

char *ferry_status_message_plans(const struct ferry_status_message *m, size_t n)
{
	struct ferry_sb sb, one;
	size_t shown = 0;

	if (n == 1)
		return ferry_status_message(m);
	ferry_sb_init(&sb);
	ferry_sb_init(&one);
	ferry_sb_addf(&sb, "ferry: %zu plans:", n);
	for (size_t i = 0; i < n; i++) {
		size_t rest = n - i - 1;

		ferry_sb_reset(&one);
		add_plan(&one, &m[i]);
		if (shown && sb.len + 2 + one.len + (rest ? 12 : 0) > SUBJECT_MAX)
			break;
		ferry_sb_adds(&sb, shown ? ", " : " ");
		ferry_sb_add(&sb, one.buf, one.len);
		shown++;
	}
	if (shown < n)
		ferry_sb_addf(&sb, ", +%zu more", n - shown);
	ferry_sb_adds(&sb, "\n\n");
	for (size_t i = 0; i < n; i++) {
		ferry_sb_addf(&sb, "%s/%s: %s\n", m[i].ns, m[i].plan,
			      m[i].phase ? m[i].phase : "status");
		for (size_t k = 0; k < m[i].nchanges; k++) {
			ferry_sb_adds(&sb, "- ");
			add_change(&sb, &m[i].changes[k]);
			ferry_sb_addc(&sb, '\n');
		}
		ferry_sb_addc(&sb, '\n');
	}
	for (size_t i = 0; i < n; i++) {
		ferry_sb_addf(&sb, "Ferry-Plan: %s/%s\n", m[i].ns, m[i].plan);
		if (m[i].phase)
			ferry_sb_addf(&sb, "Ferry-Phase: %s\n", m[i].phase);
	}
	if (n && m[0].source_commit)
		ferry_sb_addf(&sb, "Ferry-Source-Commit: %s\n", m[0].source_commit);
	ferry_sb_release(&one);
	return ferry_sb_detach(&sb);
}

char *ferry_status_message(const struct ferry_status_message *m)
{
	struct ferry_sb sb, one;
	size_t shown = 0;

	ferry_sb_init(&sb);
	ferry_sb_init(&one);
	ferry_sb_addf(&sb, "ferry: %s:", m->plan);
	for (size_t i = 0; i < m->nchanges; i++) {
		ferry_sb_reset(&one);
		add_change(&one, &m->changes[i]);
		size_t rest = m->nchanges - i - 1;
		/* room for this change and, if more follow, " +N more" */
		size_t need = sb.len + 2 + one.len + (rest ? 12 : 0);
		if (shown && need > SUBJECT_MAX)
			break;
		ferry_sb_adds(&sb, shown ? ", " : " ");
		ferry_sb_add(&sb, one.buf, one.len);
		shown++;
	}
	if (!m->nchanges)
		ferry_sb_addf(&sb, " %s", m->phase ? m->phase : "status");
	else if (shown < m->nchanges)
		ferry_sb_addf(&sb, " +%zu more", m->nchanges - shown);
	ferry_sb_adds(&sb, "\n\n");
	if (m->nchanges > 1) {
		for (size_t i = 0; i < m->nchanges; i++) {
			ferry_sb_adds(&sb, "- ");
			add_change(&sb, &m->changes[i]);
			ferry_sb_addc(&sb, '\n');
		}
		ferry_sb_addc(&sb, '\n');
	}
	ferry_sb_addf(&sb, "Ferry-Plan: %s/%s\n", m->ns, m->plan);
	if (m->source_commit)
		ferry_sb_addf(&sb, "Ferry-Source-Commit: %s\n", m->source_commit);
	if (m->phase)
		ferry_sb_addf(&sb, "Ferry-Phase: %s\n", m->phase);
	ferry_sb_release(&one);
	return ferry_sb_detach(&sb);
}
