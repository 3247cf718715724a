/* Interpreting objects read from a cluster (see observe.h). */
#include "providers/kubevirt/observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/alloc.h"

/* ---- the VM's digest ---------------------------------------------------------- */

void ferry_kube_vm_digest(json_t *vm, char hex[FERRY_TARGET_DIGEST])
{
	json_t *labels = json_object_get(json_object_get(vm, "metadata"), "labels");
	json_t *spec = json_object_get(vm, "spec");
	json_t *doc = json_object();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char *text;

	json_object_set_new(doc, "labels", labels ? json_incref(labels) : json_object());
	json_object_set_new(doc, "spec", spec ? json_incref(spec) : json_object());
	text = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(doc);
	hex[0] = '\0';
	if (!text)
		return; /* out of memory in jansson: "cannot say" */
	if (EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL))
		for (unsigned i = 0; i < mdlen && i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	free(text);
}

/* ---- quantities ------------------------------------------------------------------ */

#define U64_MAX ((unsigned __int128)UINT64_MAX)

/* Kubernetes' resource.Quantity grammar: a decimal number then a binary
 * suffix (Ki .. Ei), a decimal suffix (n u m "" k M G T P E) or an
 * exponent (e3, E-2). The value is kept exact as mantissa x 2^bin x
 * 10^dec and rounded up at the end. */
int ferry_kube_parse_quantity(const char *s, uint64_t *bytes)
{
	static const char binary[] = "KMGTPE", decimal[] = "kMGTPE";
	unsigned __int128 v = 0;
	int dec = 0, bin = 0, digits = 0;
	const char *p = s, *u;

	if (!s)
		return -1;
	if (*p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > U64_MAX)
			return -1;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (v * 10 > U64_MAX)
				continue; /* beyond 19 digits: a fraction too small to matter */
			v = v * 10 + (unsigned)(*p - '0');
			dec--;
		}
	}
	if (!digits)
		return -1;
	if (*p && p[1] == 'i' && !p[2] && (u = strchr(binary, *p))) {
		bin = 10 * (int)(u - binary + 1);
	} else if ((*p == 'e' || *p == 'E') &&
		   ((p[1] >= '0' && p[1] <= '9') ||
		    ((p[1] == '-' || p[1] == '+') && p[2] >= '0' && p[2] <= '9'))) {
		int sign = p[1] == '-' ? -1 : 1, e = 0;

		for (p += p[1] == '-' || p[1] == '+' ? 2 : 1; *p >= '0' && *p <= '9'; p++)
			if (e < 1000)
				e = e * 10 + (*p - '0');
		if (*p)
			return -1;
		dec += sign * e;
	} else if (*p == 'm' && !p[1]) {
		dec -= 3;
	} else if (*p == 'u' && !p[1]) {
		dec -= 6;
	} else if (*p == 'n' && !p[1]) {
		dec -= 9;
	} else if (*p && !p[1] && (u = strchr(decimal, *p))) {
		dec += 3 * (int)(u - decimal + 1);
	} else if (*p) {
		return -1;
	}
	for (; bin > 0 && v; bin--)
		if ((v <<= 1) > U64_MAX)
			return -1;
	for (; dec > 0 && v; dec--)
		if ((v *= 10) > U64_MAX)
			return -1;
	for (; dec < 0 && v; dec++)
		v = (v + 9) / 10; /* ceil(ceil(v/10)/10) = ceil(v/100) */
	*bytes = (uint64_t)v;
	return 0;
}

/* ---- Job outcomes -------------------------------------------------------------------- */

static bool condition_true(json_t *job, const char *type, const char **reason, const char **msg)
{
	json_t *conds = json_object_get(json_object_get(job, "status"), "conditions");
	size_t i;
	json_t *c;

	json_array_foreach(conds, i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c, "status"));

		if (t && s && !strcmp(t, type) && !strcmp(s, "True")) {
			if (reason)
				*reason = json_string_value(json_object_get(c, "reason"));
			if (msg)
				*msg = json_string_value(json_object_get(c, "message"));
			return true;
		}
	}
	return false;
}

static json_int_t int_at(json_t *obj, const char *a, const char *b, json_int_t dflt)
{
	json_t *v = json_object_get(json_object_get(obj, a), b);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static const char *str_at(json_t *obj, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(obj, a), b));
}

/* The terminated state of a pod's first container that failed, or NULL. */
static json_t *failed_termination(json_t *pod)
{
	json_t *statuses = json_object_get(json_object_get(pod, "status"), "containerStatuses");
	json_t *term = json_object_get(json_object_get(json_array_get(statuses, 0), "state"),
				       "terminated");
	json_t *code = json_object_get(term, "exitCode");

	return json_is_integer(code) && json_integer_value(code) != 0 ? term : NULL;
}

/* Is a newer than b? creationTimestamp (RFC 3339 in UTC, compares as
 * text), then the name: the greater one first for pods, the lower one
 * first (lower_name) where Kubernetes orders so (default classes). */
static bool newer(json_t *a, json_t *b, bool lower_name)
{
	int c = strcmp(nz(str_at(a, "metadata", "creationTimestamp")),
		       nz(str_at(b, "metadata", "creationTimestamp")));

	if (c)
		return c > 0;
	c = strcmp(nz(str_at(a, "metadata", "name")), nz(str_at(b, "metadata", "name")));
	return lower_name ? c < 0 : c > 0;
}

/* The newest item of items for which pick(item, arg) holds, or NULL. */
static json_t *newest(json_t *items, bool (*pick)(json_t *, const void *), const void *arg,
		      bool lower_name)
{
	json_t *best = NULL, *o;
	size_t i;

	json_array_foreach(items, i, o)
	{
		if (pick(o, arg) && (!best || newer(o, best, lower_name)))
			best = o;
	}
	return best;
}

static bool pod_failed(json_t *pod, const void *arg)
{
	(void)arg;
	return failed_termination(pod) != NULL;
}

/* The newest pod whose container failed. */
static json_t *newest_failed(json_t *pods)
{
	return newest(pods, pod_failed, NULL, false);
}

/* The last non-blank line of a termination message (with
 * FallbackToLogsOnError it is the log's tail; the error comes last). */
static void last_line(const char *msg, const char **start, int *len)
{
	const char *end = msg + strlen(msg), *b;

	while (end > msg && strchr(" \t\r\n", end[-1]))
		end--;
	for (b = end; b > msg && b[-1] != '\n'; b--)
		;
	while (b < end && (*b == ' ' || *b == '\t'))
		b++;
	*start = b;
	*len = (int)(end - b);
}

static void failure_message(json_t *job, json_t *pods, const char *reason, const char *jmsg,
			    struct ferry_copy_state *st)
{
	const char *ns = str_at(job, "metadata", "namespace"),
		   *name = str_at(job, "metadata", "name");
	json_t *pod = newest_failed(pods), *term = pod ? failed_termination(pod) : NULL;
	const char *tmsg = term ? json_string_value(json_object_get(term, "message")) : NULL;
	const char *line = "";
	int len = 0;

	if (tmsg)
		last_line(tmsg, &line, &len);
	if (!reason)
		reason = "BackoffLimitExceeded";
	if (len && pod)
		snprintf(st->message, sizeof st->message,
			 "%.*s (Job %s/%s: %s; pod %s exit code %lld)", len, line, nz(ns), nz(name),
			 reason, nz(str_at(pod, "metadata", "name")),
			 (long long)json_integer_value(json_object_get(term, "exitCode")));
	else if (pod)
		snprintf(st->message, sizeof st->message,
			 "transfer Job %s/%s failed: %s%s%s; pod %s exit code %lld (%s)", nz(ns),
			 nz(name), reason, jmsg ? ": " : "", nz(jmsg),
			 nz(str_at(pod, "metadata", "name")),
			 (long long)json_integer_value(json_object_get(term, "exitCode")),
			 json_string_value(json_object_get(term, "reason"))
				 ? json_string_value(json_object_get(term, "reason"))
				 : "Error");
	else
		snprintf(st->message, sizeof st->message, "transfer Job %s/%s failed: %s%s%s",
			 nz(ns), nz(name), reason, jmsg ? ": " : "", nz(jmsg));
}

void ferry_kube_job_state(json_t *job, json_t *pods, uint64_t total, struct ferry_copy_state *st)
{
	const char *reason = NULL, *jmsg = NULL;
	json_int_t completions = int_at(job, "spec", "completions", 1);
	json_int_t backoff = int_at(job, "spec", "backoffLimit", 6);

	memset(st, 0, sizeof *st);
	st->total = total;
	if (condition_true(job, "Complete", NULL, NULL) ||
	    (int_at(job, "status", "succeeded", 0) >= (completions > 0 ? completions : 1) &&
	     int_at(job, "status", "active", 0) == 0)) {
		st->phase = FERRY_COPY_DONE;
		st->done = total;
		return;
	}
	if (condition_true(job, "Failed", &reason, &jmsg) ||
	    int_at(job, "status", "failed", 0) > backoff) {
		st->phase = FERRY_COPY_FAILED;
		failure_message(job, pods, reason, jmsg, st);
		return;
	}
	st->phase = FERRY_COPY_RUNNING;
}

/* ---- a running copy's progress ------------------------------------------------------- */

static bool pod_running(json_t *pod, const void *arg)
{
	const char *phase = str_at(pod, "status", "phase");

	(void)arg;
	return phase && !strcmp(phase, "Running");
}

json_t *ferry_kube_running_pod(json_t *pods)
{
	return newest(pods, pod_running, NULL, false);
}

/* A decimal count at *p, moving *p past it: false unless digits follow
 * (no sign, no space) and the value fits. */
static bool count_at(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;

	*v = 0;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (*v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		*v = *v * 10 + (uint64_t)(*s - '0');
	}
	if (s == *p)
		return false;
	*p = s;
	return true;
}

/* Is [b, e) a progress line? Three counts after "progress", single spaces. */
static bool progress_line(const char *b, const char *e, uint64_t *done, uint64_t *total)
{
	static const char word[] = "progress ";
	uint64_t data;

	if ((size_t)(e - b) < sizeof word - 1 || memcmp(b, word, sizeof word - 1))
		return false;
	b += sizeof word - 1;
	if (!count_at(&b, e, done) || b == e || *b++ != ' ' || !count_at(&b, e, total) || b == e ||
	    *b++ != ' ' || !count_at(&b, e, &data))
		return false;
	while (b < e && *b == '\r')
		b++;
	return b == e;
}

bool ferry_kube_log_progress(const char *log, size_t len, uint64_t *done, uint64_t *total)
{
	const char *end = log + len, *b;

	/* whole lines only: what follows the last newline is unfinished */
	while (end > log && end[-1] != '\n')
		end--;
	while (end > log) {
		end--; /* the newline */
		for (b = end; b > log && b[-1] != '\n'; b--)
			;
		if (progress_line(b, end, done, total)) {
			if (*done > *total)
				*done = *total;
			return true;
		}
		end = b;
	}
	return false;
}

/* ---- storage classes --------------------------------------------------------------------- */

static bool annotated(json_t *obj, const void *arg)
{
	const char *const *keys = arg;
	json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");

	for (; *keys; keys++) {
		const char *v = json_string_value(json_object_get(ann, *keys));

		if (v && !strcmp(v, "true"))
			return true;
	}
	return false;
}

json_t *ferry_kube_default_storage_class(json_t *classes, bool virt)
{
	static const char *const virt_keys[] = {FERRY_KUBE_ANN_DEFAULT_VIRT_CLASS, NULL};
	static const char *const keys[] = {FERRY_KUBE_ANN_DEFAULT_CLASS,
					   FERRY_KUBE_ANN_DEFAULT_CLASS_BETA, NULL};
	json_t *sc = virt ? newest(classes, annotated, virt_keys, true) : NULL;

	return sc ? sc : newest(classes, annotated, keys, true);
}
