/* The daemon's metrics, for `GET /metrics` in the Prometheus text
 * exposition format 0.0.4.
 *
 * A registry holds a fixed set of families, all ferry_*:
 *
 *   ferry_copied_bytes_total                           counter
 *   ferry_errors_total{kind}                           counter
 *   ferry_last_successful_reconcile_timestamp_seconds  gauge (0 until one)
 *   ferry_reconcile_duration_seconds                   histogram
 *   ferry_reconciles_total{result="ok"|"error"}        counter
 *   ferry_vms{phase}                                   gauge
 *   ferry_webhook_requests_total{result}               counter
 *
 * Thread rules: every function may be called from any thread at any time;
 * one mutex guards the registry. The registry owns copies of every label
 * value it is given. Label values are expected to be UTF-8 (they are ferry's
 * own names, not user input); ferry_errors_total and
 * ferry_webhook_requests_total keep at most FERRY_METRICS_MAX_LABELS
 * distinct values each and count any further one as "other", so a bug cannot
 * grow them without bound.
 */
#ifndef FERRY_RECONCILER_METRICS_H
#define FERRY_RECONCILER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FERRY_METRICS_MAX_LABELS 64

struct ferry_metrics;

struct ferry_metrics *ferry_metrics_new(void);
void ferry_metrics_free(struct ferry_metrics *m);

/* One reconcile pass ended after `seconds` (negative or NaN count as 0):
 * ferry_reconciles_total{result="ok"|"error"} and the histogram
 * ferry_reconcile_duration_seconds (buckets 0.005 .. 60, then +Inf). */
void ferry_metrics_reconcile(struct ferry_metrics *m, double seconds, bool ok);

/* Replace every ferry_vms{phase} value at once with these n pairs; a phase
 * given twice is summed. n = 0 clears the gauge. */
void ferry_metrics_set_vms(struct ferry_metrics *m, const char *const *phases, const size_t *counts,
			   size_t n);

/* ferry_copied_bytes_total += n. */
void ferry_metrics_add_bytes(struct ferry_metrics *m, uint64_t n);

/* ferry_errors_total{kind} += 1 (NULL counts as "unknown"). */
void ferry_metrics_error(struct ferry_metrics *m, const char *kind);

/* ferry_webhook_requests_total{result} += 1; result is "accepted",
 * "rejected", "unsigned" or "unconfigured" (those four are always shown,
 * from 0). */
void ferry_metrics_webhook(struct ferry_metrics *m, const char *result);

/* ferry_last_successful_reconcile_timestamp_seconds = unix_time. */
void ferry_metrics_set_last_success(struct ferry_metrics *m, double unix_time);

/* The whole registry as exposition text: families in name order, each with
 * its HELP and TYPE lines (also when it has no sample), samples in label
 * value order (bytewise), label values escaped as the format asks (\\, \",
 * \n). The caller frees the string. */
char *ferry_metrics_text(struct ferry_metrics *m);

#endif
