#include "reconciler/metrics.h"

#include "common/alloc.h"
#include "common/strbuf.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of ferry_reconcile_duration_seconds: a pass that finds
 * nothing to do takes milliseconds, one that fetches a big repository or
 * waits on a slow provider can take a minute. */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* A counter or gauge with one label, kept sorted by value so that the text
 * comes out in the same order whatever the order of the calls. */
struct label_count {
	char *value;
	uint64_t n;
};

struct labeled {
	struct label_count *v;
	size_t len, cap;
};

struct ferry_metrics {
	pthread_mutex_t lock;
	uint64_t copied_bytes;
	struct labeled errors;
	double last_success;
	uint64_t hist[NBUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	double hist_sum;
	uint64_t reconciles_ok, reconciles_error;
	struct labeled vms;
	struct labeled webhook;
};

/* The count for value, added at 0 when missing. With capped, a value beyond
 * FERRY_METRICS_MAX_LABELS distinct ones is counted as "other". */
static uint64_t *slot(struct labeled *l, const char *value, bool capped)
{
	size_t lo = 0, hi = l->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].value, value);

		if (!c)
			return &l->v[mid].n;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (capped && l->len >= FERRY_METRICS_MAX_LABELS && strcmp(value, "other"))
		return slot(l, "other", false);
	l->v = ferry_grow(l->v, &l->cap, l->len + 1, sizeof *l->v);
	memmove(&l->v[lo + 1], &l->v[lo], (l->len - lo) * sizeof *l->v);
	l->v[lo].value = ferry_xstrdup(value);
	l->v[lo].n = 0;
	l->len++;
	return &l->v[lo].n;
}

static void labeled_clear(struct labeled *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->v[i].value);
	l->len = 0;
}

static void labeled_release(struct labeled *l)
{
	labeled_clear(l);
	free(l->v);
	l->v = NULL;
	l->cap = 0;
}

struct ferry_metrics *ferry_metrics_new(void)
{
	static const char *const webhook_results[] = {"accepted", "rejected", "unconfigured",
						      "unsigned"};
	struct ferry_metrics *m = ferry_xcalloc(1, sizeof *m);

	pthread_mutex_init(&m->lock, NULL);
	for (size_t i = 0; i < sizeof webhook_results / sizeof webhook_results[0]; i++)
		slot(&m->webhook, webhook_results[i], false);
	return m;
}

void ferry_metrics_free(struct ferry_metrics *m)
{
	if (!m)
		return;
	labeled_release(&m->errors);
	labeled_release(&m->vms);
	labeled_release(&m->webhook);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void ferry_metrics_reconcile(struct ferry_metrics *m, double seconds, bool ok)
{
	size_t b = 0;

	if (!(seconds >= 0))
		seconds = 0;
	while (b < NBUCKETS && seconds > buckets[b])
		b++;
	pthread_mutex_lock(&m->lock);
	m->hist[b]++;
	m->hist_sum += seconds;
	if (ok)
		m->reconciles_ok++;
	else
		m->reconciles_error++;
	pthread_mutex_unlock(&m->lock);
}

void ferry_metrics_set_vms(struct ferry_metrics *m, const char *const *phases, const size_t *counts,
			   size_t n)
{
	pthread_mutex_lock(&m->lock);
	labeled_clear(&m->vms);
	for (size_t i = 0; i < n; i++)
		*slot(&m->vms, phases[i] ? phases[i] : "unknown", false) += counts[i];
	pthread_mutex_unlock(&m->lock);
}

void ferry_metrics_add_bytes(struct ferry_metrics *m, uint64_t n)
{
	pthread_mutex_lock(&m->lock);
	m->copied_bytes += n;
	pthread_mutex_unlock(&m->lock);
}

void ferry_metrics_error(struct ferry_metrics *m, const char *kind)
{
	pthread_mutex_lock(&m->lock);
	(*slot(&m->errors, kind ? kind : "unknown", true))++;
	pthread_mutex_unlock(&m->lock);
}

void ferry_metrics_webhook(struct ferry_metrics *m, const char *result)
{
	pthread_mutex_lock(&m->lock);
	(*slot(&m->webhook, result ? result : "unknown", true))++;
	pthread_mutex_unlock(&m->lock);
}

void ferry_metrics_set_last_success(struct ferry_metrics *m, double unix_time)
{
	pthread_mutex_lock(&m->lock);
	m->last_success = unix_time;
	pthread_mutex_unlock(&m->lock);
}

/* The shortest text that reads back as v (Go's ParseFloat, which Prometheus
 * uses, takes what %g writes), so 0.1 stays "0.1"; whole numbers without an
 * exponent, since bucket bounds are matched as text (le="60"). */
static void add_double(struct ferry_sb *sb, double v)
{
	char buf[40];

	if (isnan(v)) {
		ferry_sb_adds(sb, "NaN");
		return;
	}
	if (isinf(v)) {
		ferry_sb_adds(sb, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v) { /* 60, not 6e+01 */
		ferry_sb_addf(sb, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	ferry_sb_adds(sb, buf);
}

static void add_label_value(struct ferry_sb *sb, const char *s)
{
	ferry_sb_addc(sb, '"');
	for (; *s; s++) {
		if (*s == '\\')
			ferry_sb_adds(sb, "\\\\");
		else if (*s == '"')
			ferry_sb_adds(sb, "\\\"");
		else if (*s == '\n')
			ferry_sb_adds(sb, "\\n");
		else
			ferry_sb_addc(sb, *s);
	}
	ferry_sb_addc(sb, '"');
}

static void add_family(struct ferry_sb *sb, const char *name, const char *type, const char *help)
{
	ferry_sb_addf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void add_labeled(struct ferry_sb *sb, const char *name, const char *label,
			const struct labeled *l)
{
	for (size_t i = 0; i < l->len; i++) {
		ferry_sb_addf(sb, "%s{%s=", name, label);
		add_label_value(sb, l->v[i].value);
		ferry_sb_addf(sb, "} %" PRIu64 "\n", l->v[i].n);
	}
}

static void add_histogram(struct ferry_sb *sb, const struct ferry_metrics *m)
{
	static const char name[] = "ferry_reconcile_duration_seconds";
	uint64_t cumulative = 0;

	for (size_t b = 0; b <= NBUCKETS; b++) {
		cumulative += m->hist[b];
		ferry_sb_addf(sb, "%s_bucket{le=\"", name);
		add_double(sb, b < NBUCKETS ? buckets[b] : INFINITY);
		ferry_sb_addf(sb, "\"} %" PRIu64 "\n", cumulative);
	}
	ferry_sb_addf(sb, "%s_sum ", name);
	add_double(sb, m->hist_sum);
	ferry_sb_addf(sb, "\n%s_count %" PRIu64 "\n", name, cumulative);
}

char *ferry_metrics_text(struct ferry_metrics *m)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	pthread_mutex_lock(&m->lock);
	add_family(&sb, "ferry_copied_bytes_total", "counter",
		   "Bytes written to target disks by copies.");
	ferry_sb_addf(&sb, "ferry_copied_bytes_total %" PRIu64 "\n", m->copied_bytes);

	add_family(&sb, "ferry_errors_total", "counter", "Errors, by kind.");
	add_labeled(&sb, "ferry_errors_total", "kind", &m->errors);

	add_family(&sb, "ferry_last_successful_reconcile_timestamp_seconds", "gauge",
		   "When the last successful reconcile pass ended, in seconds since the Unix "
		   "epoch (0 until one has).");
	ferry_sb_adds(&sb, "ferry_last_successful_reconcile_timestamp_seconds ");
	add_double(&sb, m->last_success);
	ferry_sb_addc(&sb, '\n');

	add_family(&sb, "ferry_reconcile_duration_seconds", "histogram",
		   "How long reconcile passes took.");
	add_histogram(&sb, m);

	add_family(&sb, "ferry_reconciles_total", "counter",
		   "Reconcile passes, by result (ok or error).");
	ferry_sb_addf(&sb,
		      "ferry_reconciles_total{result=\"error\"} %" PRIu64 "\n"
		      "ferry_reconciles_total{result=\"ok\"} %" PRIu64 "\n",
		      m->reconciles_error, m->reconciles_ok);

	add_family(&sb, "ferry_vms", "gauge", "Virtual machines, by migration phase.");
	add_labeled(&sb, "ferry_vms", "phase", &m->vms);

	add_family(&sb, "ferry_webhook_requests_total", "counter",
		   "Requests to POST /hooks/git, by result (accepted, rejected, unsigned, "
		   "unconfigured).");
	add_labeled(&sb, "ferry_webhook_requests_total", "result", &m->webhook);
	pthread_mutex_unlock(&m->lock);
	return ferry_sb_detach(&sb);
}
