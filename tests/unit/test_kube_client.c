/* providers/kubevirt/kube: the REST client. The pieces (paths, escaping,
 * Status errors, Retry-After, backoff) directly; the verbs against a
 * scripted HTTP server on 127.0.0.1 (libmicrohttpd, in this process) that
 * answers each request with the next canned response and records what it
 * got; TLS (CA in memory, a wrong CA, insecure, tls-server-name, client
 * certificate blobs) against the same server with certificates made by the
 * openssl command (skipped when it is missing).
 *
 * This is not a fake Kubernetes: it checks the bytes ferry sends and how it
 * reads answers. tests/kube/ holds the fake API server the integration
 * tests use.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/strbuf.h"
#include "common/time.h"
#include "common/util.h"
#include "providers/kubevirt/kube.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- the pieces ------------------------------------------------------------- */

static void test_path(void **state)
{
	static const struct {
		struct ferry_kube_ref r;
		const char *want;
	} cases[] = {
		{{FERRY_KUBE_VMS, "prod", "web-01"},
		 "/apis/kubevirt.io/v1/namespaces/prod/virtualmachines/web-01"},
		{{FERRY_KUBE_VMS, "prod", NULL},
		 "/apis/kubevirt.io/v1/namespaces/prod/virtualmachines"},
		{{FERRY_KUBE_VMS, NULL, NULL}, "/apis/kubevirt.io/v1/virtualmachines"},
		{{FERRY_KUBE_PVCS, "prod", "d0"},
		 "/api/v1/namespaces/prod/persistentvolumeclaims/d0"},
		{{NULL, "v1", "pods", "a", "b"}, "/api/v1/namespaces/a/pods/b"},
		{{FERRY_KUBE_NAMESPACES, NULL, "prod"}, "/api/v1/namespaces/prod"},
		{{FERRY_KUBE_STORAGECLASSES, NULL, "fast"},
		 "/apis/storage.k8s.io/v1/storageclasses/fast"},
		{{FERRY_KUBE_NADS, "infra", "vlan 10"},
		 "/apis/k8s.cni.cncf.io/v1/namespaces/infra/network-attachment-definitions/"
		 "vlan%2010"},
		{{FERRY_KUBE_JOBS, "x", "a:b~c%"}, "/apis/batch/v1/namespaces/x/jobs/a%3Ab~c%25"},
	};
	static const struct {
		struct ferry_kube_ref r;
		const char *msg;
	} bad[] = {
		{{FERRY_KUBE_VMS, "prod", "a/b"}, "kube: name \"a/b\" cannot be in a path"},
		{{FERRY_KUBE_VMS, "..", "x"}, "kube: namespace \"..\" cannot be in a path"},
		{{FERRY_KUBE_VMS, "p", "."}, "kube: name \".\" cannot be in a path"},
		{{"", "", "pods", NULL, NULL}, "kube: no version"},
		{{"", "v1", NULL, NULL, NULL}, "kube: no resource"},
	};
	struct ferry_err err = FERRY_ERR_INIT;
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *p = ferry_kube_path(&cases[i].r, &err);

		assert_non_null(p);
		assert_string_equal(p, cases[i].want);
		free(p);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_null(ferry_kube_path(&bad[i].r, &err));
		assert_int_equal(err.code, FERRY_E_INVALID);
		assert_string_equal(err.msg, bad[i].msg);
	}
}

static void test_escape(void **state)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	(void)state;

	ferry_kube_escape(&sb, "ferry.dev/plan=ns.p,app in (a,b),tier!=x");
	assert_string_equal(sb.buf,
			    "ferry.dev%2Fplan%3Dns.p%2Capp%20in%20%28a%2Cb%29%2Ctier%21%3Dx");
	ferry_sb_reset(&sb);
	ferry_kube_escape(&sb, "caf\xc3\xa9&x=1#?+");
	assert_string_equal(sb.buf, "caf%C3%A9%26x%3D1%23%3F%2B");
	ferry_sb_release(&sb);
}

static void test_status_error(void **state)
{
	static const char exists[] =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		"\"Failure\",\"message\":\"virtualmachines.kubevirt.io \\\"vm\\\" already "
		"exists\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"vm\",\"group\":"
		"\"kubevirt.io\",\"kind\":\"virtualmachines\"},\"code\":409}";
	static const char conflict[] =
		"{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Operation cannot be "
		"fulfilled on jobs.batch \\\"j\\\": the object has been modified; please apply "
		"your changes to the latest version and try again\",\"reason\":\"Conflict\","
		"\"code\":409}";
	struct ferry_err err = FERRY_ERR_INIT;
	(void)state;

	assert_int_equal(ferry_kube_status_error(&err, "create", "virtualmachines/ns/vm", 409,
						 exists, strlen(exists)),
			 -1);
	assert_int_equal(err.code, FERRY_E_EXISTS);
	assert_string_equal(err.msg, "kube: create virtualmachines/ns/vm: 409 AlreadyExists: "
				     "virtualmachines.kubevirt.io \"vm\" already exists");
	ferry_kube_status_error(&err, "replace", "jobs/ns/j", 409, conflict, strlen(conflict));
	assert_int_equal(err.code, FERRY_E_CONFLICT);
	assert_true(ferry_starts_with(err.msg, "kube: replace jobs/ns/j: 409 Conflict: Operation "
					       "cannot be fulfilled"));
	/* not a Status: the HTTP code's reason and a printable snippet */
	static const char html[] = "<html>\r\nBad gateway</html>";
	ferry_kube_status_error(&err, "get", "pods/a/b", 502, html, strlen(html));
	assert_int_equal(err.code, FERRY_E_RETRYABLE);
	assert_string_equal(err.msg, "kube: get pods/a/b: 502 Error: <html>  Bad gateway</html>");
	ferry_kube_status_error(&err, "get", "pods/a/b", 404, "", 0);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_string_equal(err.msg, "kube: get pods/a/b: 404 NotFound");
	static const char bare[] = "{\"kind\":\"Status\",\"code\":401}";
	ferry_kube_status_error(&err, "list", "pods", 401, bare, strlen(bare));
	assert_int_equal(err.code, FERRY_E_AUTH);
	assert_string_equal(err.msg, "kube: list pods: 401 Unauthorized");
}

static void test_errcode(void **state)
{
	(void)state;
	assert_int_equal(ferry_kube_errcode(409, "AlreadyExists"), FERRY_E_EXISTS);
	assert_int_equal(ferry_kube_errcode(409, "Conflict"), FERRY_E_CONFLICT);
	assert_int_equal(ferry_kube_errcode(409, NULL), FERRY_E_CONFLICT);
	assert_int_equal(ferry_kube_errcode(422, "Invalid"), FERRY_E_INVALID);
	assert_int_equal(ferry_kube_errcode(403, "Forbidden"), FERRY_E_AUTH);
	assert_int_equal(ferry_kube_errcode(410, "Expired"), FERRY_E_RETRYABLE);
	assert_int_equal(ferry_kube_errcode(429, NULL), FERRY_E_RETRYABLE);
	assert_int_equal(ferry_kube_errcode(500, "InternalError"), FERRY_E_RETRYABLE);
	assert_int_equal(ferry_kube_errcode(504, NULL), FERRY_E_TIMEOUT);
	assert_int_equal(ferry_kube_errcode(415, NULL), FERRY_E_UNSUPPORTED);
	assert_int_equal(ferry_kube_errcode(418, NULL), FERRY_E_INVALID);
	assert_int_equal(ferry_kube_errcode(302, NULL), FERRY_E_INTERNAL);
}

static void test_retry_after_and_backoff(void **state)
{
	(void)state;
	assert_int_equal(ferry_kube_retry_after(" 3\r\n"), 3);
	assert_int_equal(ferry_kube_retry_after("0"), 0);
	assert_int_equal(ferry_kube_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
	assert_int_equal(ferry_kube_retry_after("-1"), -1);
	assert_int_equal(ferry_kube_retry_after("5s"), -1);
	assert_int_equal(ferry_kube_retry_after("99999999999"), -1);
	assert_int_equal(ferry_kube_retry_after(NULL), -1);

	/* Retry-After wins, capped */
	assert_int_equal(ferry_kube_backoff_ms(1, 2, 200, 10000, 12345), 2000);
	assert_int_equal(ferry_kube_backoff_ms(1, 60, 200, 10000, 0), 10000);
	/* exponential with jitter in [d/2, d] */
	for (unsigned a = 1; a <= 12; a++) {
		unsigned d = 200u << (a - 1);

		if (d > 10000)
			d = 10000;
		assert_int_equal(ferry_kube_backoff_ms(a, -1, 200, 10000, 0), d / 2);
		assert_int_equal(ferry_kube_backoff_ms(a, -1, 200, 10000, d - d / 2), d);
		for (uint32_t r = 0; r < 5000; r += 97) {
			unsigned ms = ferry_kube_backoff_ms(a, -1, 200, 10000, r * 2654435761u);

			assert_true(ms >= d / 2 && ms <= d);
		}
	}
	assert_int_equal(ferry_kube_backoff_ms(1000, -1, 200, 10000, 0), 5000);
}

/* ---- a scripted server ----------------------------------------------------------- */

#define MAX_SCRIPT 32

struct canned {
	int status;
	const char *body;
	const char *retry_after;
	bool chunked; /* sent in 7-byte pieces, chunked encoding */
};

struct seen {
	char method[16];
	char uri[2048];
	char auth[512];
	char ctype[128];
	char accept[128];
	char host[128];
	char agent[64];
	char *body;
};

struct server {
	struct MHD_Daemon *d;
	unsigned port;
	pthread_mutex_t lock;
	struct canned script[MAX_SCRIPT];
	size_t nscript, next;
	struct seen seen[MAX_SCRIPT];
	size_t nseen;
};

struct req_ctx {
	char uri[2048];
	struct ferry_sb body;
	bool started;
};

struct chunker {
	const char *data;
	size_t len, off;
};

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req_ctx *r = ferry_xcalloc(1, sizeof *r);
	(void)cls;
	(void)c;

	snprintf(r->uri, sizeof r->uri, "%s", uri);
	ferry_sb_init(&r->body);
	return r;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req_ctx *r = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;

	if (r) {
		ferry_sb_release(&r->body);
		free(r);
		*con_cls = NULL;
	}
}

static ssize_t chunk_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct chunker *ch = cls;
	size_t n = ch->len - ch->off;
	(void)pos;

	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n > 7)
		n = 7;
	if (n > max)
		n = max;
	memcpy(buf, ch->data + ch->off, n);
	ch->off += n;
	return (ssize_t)n;
}

static void copy_header(struct MHD_Connection *c, const char *name, char *dst, size_t n)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

	snprintf(dst, n, "%s", v ? v : "");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct req_ctx *r = *con_cls;
	struct MHD_Response *resp;
	struct canned can = {500, "{\"kind\":\"Status\",\"message\":\"script exhausted\"}", NULL,
			     false};
	enum MHD_Result ret;
	(void)url;
	(void)version;

	if (!r->started) {
		r->started = true;
		return MHD_YES;
	}
	if (*upload_size) {
		ferry_sb_add(&r->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->lock);
	if (s->nseen < MAX_SCRIPT) {
		struct seen *w = &s->seen[s->nseen++];

		snprintf(w->method, sizeof w->method, "%s", method);
		snprintf(w->uri, sizeof w->uri, "%s", r->uri);
		copy_header(c, "Authorization", w->auth, sizeof w->auth);
		copy_header(c, "Content-Type", w->ctype, sizeof w->ctype);
		copy_header(c, "Accept", w->accept, sizeof w->accept);
		copy_header(c, "Host", w->host, sizeof w->host);
		copy_header(c, "User-Agent", w->agent, sizeof w->agent);
		w->body = ferry_xstrdup(r->body.buf);
	}
	if (s->next < s->nscript)
		can = s->script[s->next++];
	pthread_mutex_unlock(&s->lock);
	if (can.chunked) {
		struct chunker *ch = ferry_xcalloc(1, sizeof *ch);

		ch->data = can.body;
		ch->len = strlen(can.body);
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 7, chunk_reader, ch,
							 free);
	} else {
		resp = MHD_create_response_from_buffer(
			strlen(can.body), (void *)(uintptr_t)can.body, MHD_RESPMEM_PERSISTENT);
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (can.retry_after)
		MHD_add_response_header(resp, "Retry-After", can.retry_after);
	ret = MHD_queue_response(c, (unsigned)can.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Handshakes that fail on purpose would be logged otherwise. */
static void quiet(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap;
}

static struct server *server_start(const char *key, const char *cert)
{
	struct server *s = ferry_xcalloc(1, sizeof *s);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;

	pthread_mutex_init(&s->lock, NULL);
	if (key)
		s->d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handler, s,
					MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
					MHD_OPTION_NOTIFY_COMPLETED, completed, s,
					MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT,
					cert, MHD_OPTION_EXTERNAL_LOGGER, quiet, s, MHD_OPTION_END);
	else
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, s,
					MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
					MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
	assert_non_null(s->d);
	s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return s;
}

static void server_stop(struct server *s)
{
	MHD_stop_daemon(s->d);
	for (size_t i = 0; i < s->nseen; i++)
		free(s->seen[i].body);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Forget what was seen and script the next answers. */
static void script(struct server *s, const struct canned *c, size_t n)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nseen; i++)
		free(s->seen[i].body);
	s->nseen = 0;
	s->next = 0;
	s->nscript = n;
	for (size_t i = 0; i < n; i++)
		s->script[i] = c[i];
	pthread_mutex_unlock(&s->lock);
}

#define SCRIPT(s, ...)                                                                             \
	do {                                                                                       \
		const struct canned c_[] = {__VA_ARGS__};                                          \
		script(s, c_, sizeof c_ / sizeof *c_);                                             \
	} while (0)

struct fx {
	struct server *s;
	struct ferry_kube *k;
	char url[64];
};

static const struct ferry_kube_opts fast = {
	.max_attempts = 4,
	.backoff_base_ms = 1,
	.backoff_max_ms = 20,
	.timeout_s = 10,
};

static int setup(void **state)
{
	struct fx *fx = ferry_xcalloc(1, sizeof *fx);
	struct ferry_kubeconfig kc = FERRY_KUBECONFIG_INIT;
	struct ferry_err err = FERRY_ERR_INIT;

	fx->s = server_start(NULL, NULL);
	snprintf(fx->url, sizeof fx->url, "http://127.0.0.1:%u", fx->s->port);
	if (ferry_kubeconfig_for_server(fx->url, "s3cr3t-token", NULL, false, "prod", &kc, &err))
		return -1;
	if (ferry_kube_open(&fx->k, &kc, &fast, &err))
		return -1;
	ferry_kubeconfig_release(&kc);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	ferry_kube_close(fx->k);
	server_stop(fx->s);
	free(fx);
	return 0;
}

static const char vm_json[] = "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachine\","
			      "\"metadata\":{\"name\":\"vm\",\"namespace\":\"ns\","
			      "\"resourceVersion\":\"41\"},\"spec\":{\"runStrategy\":\"Halted\"}}";

static json_t *vm_obj(void)
{
	return json_loads(vm_json, 0, NULL);
}

/* ---- verbs ----------------------------------------------------------------------------- */

static void test_get(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_ref r = {FERRY_KUBE_VMS, "ns", "vm"};
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *obj;

	SCRIPT(fx->s, {200, vm_json, NULL, false});
	assert_int_equal(ferry_kube_get(fx->k, &r, &obj, &err), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(obj, "spec"), "runStrategy")),
		"Halted");
	json_decref(obj);
	assert_int_equal(fx->s->nseen, 1);
	assert_string_equal(fx->s->seen[0].method, "GET");
	assert_string_equal(fx->s->seen[0].uri,
			    "/apis/kubevirt.io/v1/namespaces/ns/virtualmachines/vm");
	assert_string_equal(fx->s->seen[0].auth, "Bearer s3cr3t-token");
	assert_string_equal(fx->s->seen[0].accept, "application/json");
	assert_string_equal(fx->s->seen[0].agent, "ferry");
	assert_int_equal(ferry_kube_last_http(fx->k), 200);

	SCRIPT(fx->s, {404,
		       "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":"
		       "\"virtualmachines.kubevirt.io \\\"vm\\\" not found\",\"reason\":"
		       "\"NotFound\",\"code\":404}",
		       NULL, false});
	assert_int_equal(ferry_kube_get(fx->k, &r, &obj, &err), -1);
	assert_null(obj);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_string_equal(err.msg, "kube: get virtualmachines/ns/vm: 404 NotFound: "
				     "virtualmachines.kubevirt.io \"vm\" not found");
	assert_int_equal(ferry_kube_last_http(fx->k), 404);

	SCRIPT(fx->s, {200, "not json", NULL, false});
	assert_int_equal(ferry_kube_get(fx->k, &r, &obj, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_true(ferry_starts_with(err.msg, "kube: get virtualmachines/ns/vm: the answer is not "
					       "JSON"));
}

static void test_create_exists_not_retried(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_ref r = {FERRY_KUBE_VMS, "ns", NULL};
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *obj = vm_obj(), *out;

	SCRIPT(fx->s, {409,
		       "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		       "\"message\":\"virtualmachines.kubevirt.io \\\"vm\\\" already exists\","
		       "\"reason\":\"AlreadyExists\",\"code\":409}",
		       NULL, false});
	assert_int_equal(ferry_kube_create(fx->k, &r, obj, &out, &err), -1);
	assert_null(out);
	assert_int_equal(err.code, FERRY_E_EXISTS);
	assert_string_equal(err.msg, "kube: create virtualmachines/ns/vm: 409 AlreadyExists: "
				     "virtualmachines.kubevirt.io \"vm\" already exists");
	assert_int_equal(fx->s->nseen, 1);
	assert_string_equal(fx->s->seen[0].method, "POST");
	assert_string_equal(
		fx->s->seen[0].uri,
		"/apis/kubevirt.io/v1/namespaces/ns/virtualmachines?fieldManager=ferry");
	assert_string_equal(fx->s->seen[0].ctype, "application/json");
	json_t *sent = json_loads(fx->s->seen[0].body, 0, NULL);
	assert_true(json_equal(sent, obj));
	json_decref(sent);

	/* a create is not repeated after a 503: the server may have done it */
	SCRIPT(fx->s, {503, "{}", NULL, false}, {201, vm_json, NULL, false});
	assert_int_equal(ferry_kube_create(fx->k, &r, obj, NULL, &err), -1);
	assert_int_equal(err.code, FERRY_E_RETRYABLE);
	assert_string_equal(err.msg, "kube: create virtualmachines/ns/vm: 503 ServiceUnavailable");
	assert_int_equal(fx->s->nseen, 1);

	/* but after a 429 it is */
	SCRIPT(fx->s, {429, "{}", "0", false}, {201, vm_json, NULL, false});
	assert_int_equal(ferry_kube_create(fx->k, &r, obj, &out, &err), 0);
	assert_int_equal(fx->s->nseen, 2);
	json_decref(out);
	json_decref(obj);
}

static void test_retries(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_ref r = {FERRY_KUBE_JOBS, "ns", "j"};
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *obj;

	SCRIPT(fx->s, {503, "", NULL, false}, {500, "", NULL, false}, {429, "", "0", false},
	       {200, "{\"kind\":\"Job\"}", NULL, false});
	assert_int_equal(ferry_kube_get(fx->k, &r, &obj, &err), 0);
	assert_int_equal(fx->s->nseen, 4);
	json_decref(obj);

	/* attempts run out: the last answer is the error */
	SCRIPT(fx->s, {429, "", "0", false}, {429, "", "0", false}, {429, "", "0", false},
	       {429,
		"{\"kind\":\"Status\",\"message\":\"too many requests, please try again "
		"later\",\"reason\":\"TooManyRequests\",\"code\":429}",
		"0", false},
	       {200, "{}", NULL, false});
	assert_int_equal(ferry_kube_get(fx->k, &r, &obj, &err), -1);
	assert_int_equal(err.code, FERRY_E_RETRYABLE);
	assert_string_equal(err.msg, "kube: get jobs/ns/j: 429 TooManyRequests: too many "
				     "requests, please try again later");
	assert_int_equal(fx->s->nseen, 4);

	/* a 4xx is final */
	SCRIPT(fx->s, {403,
		       "{\"kind\":\"Status\",\"message\":\"jobs.batch \\\"j\\\" is forbidden\","
		       "\"reason\":\"Forbidden\",\"code\":403}",
		       NULL, false});
	assert_int_equal(ferry_kube_get(fx->k, &r, &obj, &err), -1);
	assert_int_equal(err.code, FERRY_E_AUTH);
	assert_int_equal(fx->s->nseen, 1);
}

static void test_list_pages(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_ref r = {FERRY_KUBE_PVCS, "ns", NULL};
	struct ferry_kube_list_opts lo = {"ferry.dev/plan=m.w,app in (a,b)", NULL, 2};
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *items;
	char *rv;

	SCRIPT(fx->s,
	       {200,
		"{\"kind\":\"PersistentVolumeClaimList\",\"metadata\":{\"resourceVersion\":\"100\","
		"\"continue\":\"tok/1=\"},\"items\":[{\"metadata\":{\"name\":\"a\"}},{\"metadata\":"
		"{\"name\":\"b\"}}]}",
		NULL, false},
	       {200,
		"{\"metadata\":{\"resourceVersion\":\"100\",\"continue\":\"tok2\"},\"items\":[{"
		"\"metadata\":{\"name\":\"c\"}},{\"metadata\":{\"name\":\"d\"}}]}",
		NULL, false},
	       {200,
		"{\"metadata\":{\"resourceVersion\":\"100\"},\"items\":[{\"metadata\":{\"name\":"
		"\"e\"}}]}",
		NULL, false});
	assert_int_equal(ferry_kube_list(fx->k, &r, &lo, &items, &rv, &err), 0);
	assert_int_equal(json_array_size(items), 5);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(items, 4), "metadata"), "name")),
			    "e");
	assert_string_equal(rv, "100");
	assert_int_equal(fx->s->nseen, 3);
	assert_string_equal(fx->s->seen[0].uri,
			    "/api/v1/namespaces/ns/persistentvolumeclaims?labelSelector=ferry.dev%"
			    "2Fplan%3Dm.w%2Capp%20in%20%28a%2Cb%29&limit=2");
	assert_string_equal(fx->s->seen[1].uri,
			    "/api/v1/namespaces/ns/persistentvolumeclaims?labelSelector=ferry.dev%"
			    "2Fplan%3Dm.w%2Capp%20in%20%28a%2Cb%29&limit=2&continue=tok%2F1%3D");
	assert_true(ferry_ends_with(fx->s->seen[2].uri, "&limit=2&continue=tok2"));
	json_decref(items);
	free(rv);

	/* an empty list, all namespaces; items: null is an empty list */
	r.ns = NULL;
	SCRIPT(fx->s,
	       {200, "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":null}", NULL, false});
	assert_int_equal(ferry_kube_list(fx->k, &r, NULL, &items, NULL, &err), 0);
	assert_int_equal(json_array_size(items), 0);
	assert_string_equal(fx->s->seen[0].uri, "/api/v1/persistentvolumeclaims?limit=500");
	json_decref(items);

	/* the continue token expired on page two */
	SCRIPT(fx->s, {200, "{\"metadata\":{\"continue\":\"x\"},\"items\":[]}", NULL, false},
	       {410,
		"{\"kind\":\"Status\",\"message\":\"The provided continue parameter is too old\","
		"\"reason\":\"Expired\",\"code\":410}",
		NULL, false});
	assert_int_equal(ferry_kube_list(fx->k, &r, NULL, &items, &rv, &err), -1);
	assert_null(items);
	assert_null(rv);
	assert_int_equal(err.code, FERRY_E_RETRYABLE);
	assert_string_equal(err.msg, "kube: list persistentvolumeclaims: 410 Expired: The provided "
				     "continue parameter is too old");
}

static void test_writes(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_ref r = {FERRY_KUBE_VMS, "ns", "vm"};
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *obj = vm_obj(), *patch = json_pack("{s:{s:s}}", "spec", "runStrategy", "Always");
	json_t *out;

	SCRIPT(fx->s, {200, vm_json, NULL, false}, {200, vm_json, NULL, false},
	       {200, vm_json, NULL, false}, {201, vm_json, NULL, false},
	       {200, "{\"kind\":\"Status\",\"status\":\"Success\"}", NULL, false},
	       {202, "{}", NULL, false});
	assert_int_equal(ferry_kube_merge_patch(fx->k, &r, patch, &out, &err), 0);
	json_decref(out);
	assert_int_equal(ferry_kube_apply(fx->k, &r, obj, true, NULL, &err), 0);
	assert_int_equal(ferry_kube_apply(fx->k, &r, obj, false, NULL, &err), 0);
	assert_int_equal(ferry_kube_replace(fx->k, &r, obj, NULL, &err), 0);
	assert_int_equal(ferry_kube_delete(fx->k, &r, NULL, &err), 0);
	r.resource = "jobs";
	r.group = "batch";
	assert_int_equal(ferry_kube_delete(fx->k, &r, "Foreground", &err), 0);

	const struct seen *s = fx->s->seen;
	assert_int_equal(fx->s->nseen, 6);
	assert_string_equal(s[0].method, "PATCH");
	assert_string_equal(s[0].ctype, "application/merge-patch+json");
	assert_string_equal(s[0].body, "{\"spec\":{\"runStrategy\":\"Always\"}}");
	assert_string_equal(s[0].uri, "/apis/kubevirt.io/v1/namespaces/ns/virtualmachines/vm"
				      "?fieldManager=ferry");
	assert_string_equal(s[1].method, "PATCH");
	assert_string_equal(s[1].ctype, "application/apply-patch+yaml");
	assert_true(ferry_ends_with(s[1].uri, "/virtualmachines/vm?fieldManager=ferry&force=true"));
	assert_true(ferry_ends_with(s[2].uri, "/virtualmachines/vm?fieldManager=ferry"));
	assert_string_equal(s[3].method, "PUT");
	assert_string_equal(s[3].ctype, "application/json");
	assert_string_equal(s[4].method, "DELETE");
	assert_string_equal(s[4].uri, "/apis/kubevirt.io/v1/namespaces/ns/virtualmachines/vm"
				      "?propagationPolicy=Background");
	assert_string_equal(s[4].body, "");
	assert_string_equal(s[5].uri,
			    "/apis/batch/v1/namespaces/ns/jobs/vm?propagationPolicy=Foreground");

	/* a name is needed */
	r.name = NULL;
	assert_int_equal(ferry_kube_replace(fx->k, &r, obj, NULL, &err), -1);
	assert_string_equal(err.msg, "kube: replace jobs/ns: no name");
	assert_int_equal(ferry_kube_delete(fx->k, &r, NULL, &err), -1);
	json_decref(obj);
	json_decref(patch);
}

struct mutate {
	int calls;
	int result;
};

static int set_running(void *arg, json_t *obj, struct ferry_err *err)
{
	struct mutate *m = arg;
	json_t *spec = json_object_get(obj, "spec");

	m->calls++;
	if (m->result < 0)
		return ferry_err_set(err, FERRY_E_INVALID, "no thanks");
	if (m->result > 0)
		return 1;
	json_object_set_new(spec, "runStrategy", json_string("Always"));
	return 0;
}

static void test_update_conflict(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_ref r = {FERRY_KUBE_VMS, "ns", "vm"};
	struct ferry_err err = FERRY_ERR_INIT;
	struct mutate m = {0, 0};
	static const char conflict[] =
		"{\"kind\":\"Status\",\"message\":\"Operation cannot be fulfilled on "
		"virtualmachines.kubevirt.io \\\"vm\\\": the object has been modified\","
		"\"reason\":\"Conflict\",\"code\":409}";
	json_t *out;

	SCRIPT(fx->s, {200, vm_json, NULL, false}, {409, conflict, NULL, false},
	       {200, "{\"metadata\":{\"name\":\"vm\",\"resourceVersion\":\"42\"},\"spec\":{}}",
		NULL, false},
	       {200, "{\"metadata\":{\"resourceVersion\":\"43\"}}", NULL, false});
	assert_int_equal(ferry_kube_update(fx->k, &r, set_running, &m, &out, &err), 0);
	assert_int_equal(m.calls, 2);
	assert_int_equal(fx->s->nseen, 4);
	assert_string_equal(fx->s->seen[1].method, "PUT");
	assert_non_null(strstr(fx->s->seen[1].body, "\"resourceVersion\":\"41\""));
	assert_non_null(strstr(fx->s->seen[3].body, "\"resourceVersion\":\"42\""));
	assert_non_null(strstr(fx->s->seen[3].body, "\"runStrategy\":\"Always\""));
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "metadata"),
							      "resourceVersion")),
			    "43");
	json_decref(out);

	/* nothing to change: no PUT */
	m = (struct mutate){0, 1};
	SCRIPT(fx->s, {200, vm_json, NULL, false});
	assert_int_equal(ferry_kube_update(fx->k, &r, set_running, &m, &out, &err), 0);
	assert_int_equal(fx->s->nseen, 1);
	json_decref(out);

	/* the callback gives up */
	m = (struct mutate){0, -1};
	SCRIPT(fx->s, {200, vm_json, NULL, false});
	assert_int_equal(ferry_kube_update(fx->k, &r, set_running, &m, NULL, &err), -1);
	assert_string_equal(err.msg, "no thanks");

	/* conflicts every time: gives up after max_conflicts (5) */
	m = (struct mutate){0, 0};
	SCRIPT(fx->s, {200, vm_json, NULL, false}, {409, conflict, NULL, false},
	       {200, vm_json, NULL, false}, {409, conflict, NULL, false},
	       {200, vm_json, NULL, false}, {409, conflict, NULL, false},
	       {200, vm_json, NULL, false}, {409, conflict, NULL, false},
	       {200, vm_json, NULL, false}, {409, conflict, NULL, false},
	       {200, vm_json, NULL, false});
	assert_int_equal(ferry_kube_update(fx->k, &r, set_running, &m, NULL, &err), -1);
	assert_int_equal(err.code, FERRY_E_CONFLICT);
	assert_int_equal(m.calls, 5);
	assert_int_equal(fx->s->nseen, 10);
}

struct events {
	char log[1024];
	int n, stop_after;
};

static int on_event(void *arg, const char *type, json_t *obj)
{
	struct events *e = arg;
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	size_t len = strlen(e->log);

	snprintf(e->log + len, sizeof e->log - len, "%s%s:%s", len ? " " : "", type,
		 name ? name : "-");
	e->n++;
	return e->stop_after && e->n >= e->stop_after;
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Job\",\"metadata\":{\"name\":\"a\","
	"\"resourceVersion\":\"5\"}}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Job\",\"metadata\":{\"name\":\"a\","
	"\"resourceVersion\":\"6\"}}}\n"
	"\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Job\",\"metadata\":{"
	"\"resourceVersion\":\"9\"}}}\n"
	"{\"type\":\"DELETED\",\"object\":{\"kind\":\"Job\",\"metadata\":{\"name\":\"b\"}}}";

static void test_watch(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_ref r = {FERRY_KUBE_JOBS, "ns", NULL};
	struct ferry_kube_watch_opts wo = {"app=x", NULL, "4", 30, true};
	struct ferry_err err = FERRY_ERR_INIT;
	struct events e = {"", 0, 0};

	SCRIPT(fx->s, {200, stream, NULL, true});
	assert_int_equal(ferry_kube_watch(fx->k, &r, &wo, on_event, &e, &err), 0);
	assert_string_equal(e.log, "ADDED:a MODIFIED:a BOOKMARK:- DELETED:b");
	assert_string_equal(fx->s->seen[0].uri,
			    "/apis/batch/v1/namespaces/ns/jobs?watch=true&resourceVersion=4&"
			    "labelSelector=app%3Dx&allowWatchBookmarks=true&timeoutSeconds=30");

	/* the callback stops it */
	e = (struct events){"", 0, 2};
	SCRIPT(fx->s, {200, stream, NULL, true});
	assert_int_equal(ferry_kube_watch(fx->k, &r, &wo, on_event, &e, &err), 0);
	assert_string_equal(e.log, "ADDED:a MODIFIED:a");

	/* too old: as an ERROR event ... */
	e = (struct events){"", 0, 0};
	SCRIPT(fx->s, {200,
		       "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
		       "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		       "\"status\":\"Failure\",\"message\":\"too old resource version: 4 (77)\","
		       "\"reason\":\"Expired\",\"code\":410}}\n",
		       NULL, true});
	assert_int_equal(ferry_kube_watch(fx->k, &r, &wo, on_event, &e, &err), FERRY_KUBE_GONE);
	assert_string_equal(e.log, "ADDED:a");
	assert_string_equal(err.msg, "kube: watch jobs/ns: 410 Expired: too old resource version: "
				     "4 (77)");
	assert_int_equal(ferry_kube_last_http(fx->k), 410);

	/* ... and as the answer */
	SCRIPT(fx->s, {410, "{\"kind\":\"Status\",\"reason\":\"Gone\",\"code\":410}", NULL, false});
	assert_int_equal(ferry_kube_watch(fx->k, &r, NULL, on_event, &e, &err), FERRY_KUBE_GONE);
	assert_string_equal(fx->s->seen[0].uri,
			    "/apis/batch/v1/namespaces/ns/jobs?watch=true&timeoutSeconds=300");

	/* other errors; a 503 before the stream is retried */
	SCRIPT(fx->s, {503, "", NULL, false},
	       {403, "{\"kind\":\"Status\",\"code\":403}", NULL, false});
	assert_int_equal(ferry_kube_watch(fx->k, &r, NULL, on_event, &e, &err), -1);
	assert_int_equal(err.code, FERRY_E_AUTH);
	assert_int_equal(fx->s->nseen, 2);
	SCRIPT(fx->s, {200, "{\"type\":\"ADDED\"}\n", NULL, false});
	assert_int_equal(ferry_kube_watch(fx->k, &r, NULL, on_event, &e, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_string_equal(err.msg, "kube: watch jobs/ns: event 1 is not an event");
}

/* pods/log: text, not JSON; the tail asked for; errors as for JSON. */
static void test_pod_log(void **state)
{
	struct fx *fx = *state;
	struct ferry_kube_ref r = {FERRY_KUBE_PODS, "ns", "j-x7k2p"};
	struct ferry_kube_log_opts lo = {"copy", 10, 0};
	struct ferry_err err = FERRY_ERR_INIT;
	char *text;
	size_t len;

	SCRIPT(fx->s, {503, "", NULL, false},
	       {200, "progress 1 4 1\nprogress 2 4 2\n", NULL, false});
	assert_int_equal(ferry_kube_pod_log(fx->k, &r, &lo, &text, &len, &err), 0);
	assert_string_equal(text, "progress 1 4 1\nprogress 2 4 2\n");
	assert_int_equal(len, strlen(text));
	free(text);
	assert_int_equal(fx->s->nseen, 2); /* a GET: the 503 was retried */
	assert_string_equal(fx->s->seen[1].method, "GET");
	assert_string_equal(fx->s->seen[1].uri,
			    "/api/v1/namespaces/ns/pods/j-x7k2p/log?container=copy&tailLines=10");
	assert_string_equal(fx->s->seen[1].accept, "text/plain, */*");
	assert_string_equal(fx->s->seen[1].auth, "Bearer s3cr3t-token");

	/* the whole log of the only container */
	SCRIPT(fx->s, {200, "", NULL, false});
	assert_int_equal(ferry_kube_pod_log(fx->k, &r, NULL, &text, &len, &err), 0);
	assert_string_equal(text, "");
	assert_int_equal(len, 0);
	free(text);
	assert_string_equal(fx->s->seen[0].uri, "/api/v1/namespaces/ns/pods/j-x7k2p/log");

	SCRIPT(fx->s,
	       {400,
		"{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"container "
		"\\\"copy\\\" in pod \\\"j-x7k2p\\\" is waiting to start: ContainerCreating\","
		"\"reason\":\"BadRequest\",\"code\":400}",
		NULL, false});
	assert_int_equal(ferry_kube_pod_log(fx->k, &r, &lo, &text, &len, &err), -1);
	assert_null(text);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_string_equal(err.msg, "kube: get pods/ns/j-x7k2p/log: 400 BadRequest: container "
				     "\"copy\" in pod \"j-x7k2p\" is waiting to start: "
				     "ContainerCreating");

	/* a longer answer than the caller takes */
	lo.max_bytes = 8;
	SCRIPT(fx->s, {200, "progress 1 4 1\n", NULL, false});
	assert_int_equal(ferry_kube_pod_log(fx->k, &r, &lo, &text, &len, &err), -1);
	assert_int_equal(err.code, FERRY_E_LIMIT);

	r.name = NULL;
	assert_int_equal(ferry_kube_pod_log(fx->k, &r, &lo, &text, &len, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
}

static void test_transport_errors(void **state)
{
	struct ferry_kubeconfig kc = FERRY_KUBECONFIG_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_kube_ref r = {FERRY_KUBE_VMS, "ns", "vm"};
	struct server *s = server_start(NULL, NULL);
	char url[64];
	struct ferry_kube *k;
	json_t *obj;
	(void)state;

	/* a port nobody listens on (the server's, once it is gone) */
	snprintf(url, sizeof url, "http://127.0.0.1:%u", s->port);
	server_stop(s);
	assert_int_equal(ferry_kubeconfig_for_server(url, NULL, NULL, false, NULL, &kc, &err), 0);
	assert_int_equal(ferry_kube_open(&k, &kc, &fast, &err), 0);
	assert_int_equal(ferry_kube_get(k, &r, &obj, &err), -1);
	assert_int_equal(err.code, FERRY_E_RETRYABLE);
	assert_true(
		ferry_starts_with(err.msg, "kube: get virtualmachines/ns/vm: http://127.0.0.1:"));
	assert_int_equal(ferry_kube_last_http(k), 0);
	ferry_kube_close(k);
	ferry_kubeconfig_release(&kc);

	assert_int_equal(ferry_kube_open(&k, NULL, NULL, &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
}

/* Basic authentication, and tls-server-name's connect-to over plain HTTP:
 * the URL names the server name while the connection goes to 127.0.0.1. */
static void test_basic_auth_and_server_name(void **state)
{
	struct fx *fx = *state;
	struct ferry_kubeconfig kc = FERRY_KUBECONFIG_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_kube_ref r = {FERRY_KUBE_NAMESPACES, NULL, "prod"};
	struct ferry_kube *k;
	json_t *obj;
	char host[64];

	assert_int_equal(ferry_kubeconfig_for_server(fx->url, NULL, NULL, false, NULL, &kc, &err),
			 0);
	kc.username = ferry_xstrdup("admin");
	kc.password = ferry_xstrdup("hunter2");
	kc.tls_server_name = ferry_xstrdup("kubernetes.default.svc");
	assert_int_equal(ferry_kube_open(&k, &kc, &fast, &err), 0);
	ferry_kubeconfig_release(&kc);
	SCRIPT(fx->s, {200, "{\"kind\":\"Namespace\"}", NULL, false});
	assert_int_equal(ferry_kube_get(k, &r, &obj, &err), 0);
	json_decref(obj);
	assert_string_equal(fx->s->seen[0].auth, "Basic YWRtaW46aHVudGVyMg==");
	snprintf(host, sizeof host, "kubernetes.default.svc:%u", fx->s->port);
	assert_string_equal(fx->s->seen[0].host, host);
	assert_string_equal(fx->s->seen[0].uri, "/api/v1/namespaces/prod");
	ferry_kube_close(k);
}

/* ---- exec credential plugins ------------------------------------------------------------ */

#define EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"

/* A plugin in a directory of its own that counts its runs in DIR/count,
 * answers token "tok-N" for run N, with DIR/expiry as its
 * expirationTimestamp when that file exists; sleeps DIR/sleep seconds
 * first when that exists; and fails when DIR/fail exists. */
static const char counting_plugin[] =
	"#!/bin/sh\n"
	"[ -f \"$DIR/sleep\" ] && sleep \"$(cat \"$DIR/sleep\")\"\n"
	"n=$(cat \"$DIR/count\" 2>/dev/null || echo 0)\n"
	"n=$((n + 1))\n"
	"echo $n >\"$DIR/count\"\n"
	"if [ -f \"$DIR/fail\" ]; then echo \"error: no session for tok-$n\" >&2; exit 1; fi\n"
	"e=\n"
	"[ -f \"$DIR/expiry\" ] && e=\",\\\"expirationTimestamp\\\":\\\"$(cat "
	"\"$DIR/expiry\")\\\"\"\n"
	"printf '{\"apiVersion\":\"" EXEC_V1BETA1 "\",\"kind\":\"ExecCredential\","
	"\"status\":{\"token\":\"tok-%s\"%s}}\\n' $n \"$e\"\n";

struct plugin {
	char dir[64];
	char *path;
};

static void plugin_make(struct plugin *p, const char *script)
{
	snprintf(p->dir, sizeof p->dir, "/tmp/ferry-kube-exec-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	p->path = ferry_xasprintf("%s/plugin", p->dir);
	assert_int_equal(ferry_write_file_atomic(p->path, script, strlen(script), 0700), 0);
}

static void plugin_free(struct plugin *p)
{
	ferry_rmtree(p->dir);
	free(p->path);
}

/* A file in the plugin's directory: written (text), or removed (NULL). */
static void plugin_file(const struct plugin *p, const char *name, const char *text)
{
	char *path = ferry_xasprintf("%s/%s", p->dir, name);

	if (text)
		assert_int_equal(ferry_write_file_atomic(path, text, strlen(text), 0600), 0);
	else
		unlink(path);
	free(path);
}

static int plugin_runs(const struct plugin *p)
{
	char *path = ferry_xasprintf("%s/count", p->dir), *text = NULL;
	size_t len;
	int n = 0;

	if (!ferry_read_file(path, 64, &text, &len))
		n = atoi(text);
	free(text);
	free(path);
	return n;
}

/* A kubeconfig for url whose user is p's plugin (with DIR=its directory). */
static void plugin_kubeconfig(const struct plugin *p, const char *url, struct ferry_kubeconfig *kc)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_kube_exec *e = ferry_xcalloc(1, sizeof *e);

	assert_int_equal(ferry_kubeconfig_for_server(url, NULL, NULL, false, "prod", kc, &err), 0);
	e->command = ferry_xstrdup(p->path);
	e->api_version = ferry_xstrdup(EXEC_V1BETA1);
	e->env = ferry_xcalloc(2, sizeof *e->env);
	e->env[e->nenv++] = ferry_xasprintf("DIR=%s", p->dir);
	kc->exec = e;
}

/* p's DIR/cred.json: an ExecCredential with a client certificate. */
static void plugin_cert(const struct plugin *p, const char *cert, const char *key)
{
	json_t *doc = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", EXEC_V1BETA1, "kind",
				"ExecCredential", "status", "clientCertificateData", cert,
				"clientKeyData", key);
	char *text = json_dumps(doc, 0);

	plugin_file(p, "cred.json", text);
	free(text);
	json_decref(doc);
}

static const char ns_json[] = "{\"kind\":\"Namespace\"}";
static const char unauthorized[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
				   "\"status\":\"Failure\",\"message\":\"Unauthorized\","
				   "\"reason\":\"Unauthorized\",\"code\":401}";

static int get_ns(struct ferry_kube *k, struct ferry_err *err)
{
	struct ferry_kube_ref r = {FERRY_KUBE_NAMESPACES, NULL, "prod"};
	json_t *obj = NULL;
	int rc = ferry_kube_get(k, &r, &obj, err);

	json_decref(obj);
	return rc;
}

/* The plugin runs once for all the clients of a process; a 401 runs it
 * again and sends the request once more, for a watch too; its failure is
 * the request's. */
static void test_exec_plugin(void **state)
{
	struct fx *fx = *state;
	struct ferry_kubeconfig kc = FERRY_KUBECONFIG_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_kube_ref jobs = {FERRY_KUBE_JOBS, "ns", NULL};
	struct events e = {"", 0, 0};
	struct ferry_kube *k, *k2;
	struct plugin p;

	plugin_make(&p, counting_plugin);
	plugin_kubeconfig(&p, fx->url, &kc);
	assert_int_equal(ferry_kube_open(&k, &kc, &fast, &err), 0);
	assert_int_equal(ferry_kube_open(&k2, &kc, &fast, &err), 0);
	assert_int_equal(plugin_runs(&p), 0); /* not before a request */

	SCRIPT(fx->s, {200, ns_json, NULL, false}, {200, ns_json, NULL, false},
	       {200, ns_json, NULL, false});
	assert_int_equal(get_ns(k, &err), 0);
	assert_int_equal(get_ns(k, &err), 0);
	assert_int_equal(get_ns(k2, &err), 0);
	assert_int_equal(plugin_runs(&p), 1);
	assert_int_equal(fx->s->nseen, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(fx->s->seen[i].auth, "Bearer tok-1");

	/* refused: a new credential, the request again; the other client
	 * takes the new one without running the plugin */
	SCRIPT(fx->s, {401, unauthorized, NULL, false}, {200, ns_json, NULL, false},
	       {200, ns_json, NULL, false});
	assert_int_equal(get_ns(k, &err), 0);
	assert_int_equal(get_ns(k2, &err), 0);
	assert_int_equal(plugin_runs(&p), 2);
	assert_string_equal(fx->s->seen[0].auth, "Bearer tok-1");
	assert_string_equal(fx->s->seen[1].auth, "Bearer tok-2");
	assert_string_equal(fx->s->seen[2].auth, "Bearer tok-2");

	/* refused twice: once more only, then the 401; the credential
	 * refused last is dropped too */
	SCRIPT(fx->s, {401, unauthorized, NULL, false}, {401, unauthorized, NULL, false},
	       {200, ns_json, NULL, false});
	assert_int_equal(get_ns(k, &err), -1);
	assert_int_equal(err.code, FERRY_E_AUTH);
	assert_string_equal(err.msg, "kube: get namespaces/prod: 401 Unauthorized: Unauthorized");
	assert_int_equal(fx->s->nseen, 2);
	assert_int_equal(plugin_runs(&p), 3);
	assert_string_equal(fx->s->seen[1].auth, "Bearer tok-3");

	/* a watch refused before its stream */
	SCRIPT(fx->s, {401, unauthorized, NULL, false}, {200, stream, NULL, true});
	assert_int_equal(ferry_kube_watch(k2, &jobs, NULL, on_event, &e, &err), 0);
	assert_string_equal(e.log, "ADDED:a MODIFIED:a BOOKMARK:- DELETED:b");
	assert_int_equal(plugin_runs(&p), 5);
	assert_string_equal(fx->s->seen[0].auth, "Bearer tok-4");
	assert_string_equal(fx->s->seen[1].auth, "Bearer tok-5");

	/* a plugin that fails: nothing more is sent, its message is the
	 * error */
	SCRIPT(fx->s, {401, unauthorized, NULL, false}, {200, ns_json, NULL, false});
	plugin_file(&p, "fail", "");
	assert_int_equal(get_ns(k, &err), -1);
	assert_int_equal(err.code, FERRY_E_AUTH);
	char *want = ferry_xasprintf("kube: get namespaces/prod: exec plugin %s: exit status 1; "
				     "stderr: \"error: no session for tok-6\"",
				     p.path);
	assert_string_equal(err.msg, want);
	free(want);
	assert_int_equal(fx->s->nseen, 1);
	plugin_file(&p, "fail", NULL);
	assert_int_equal(get_ns(k, &err), 0);
	assert_string_equal(fx->s->seen[1].auth, "Bearer tok-7");

	/* a plugin that is not there: an auth error, never FERRY_E_NOT_FOUND
	 * (which callers read as "no such object") */
	ferry_kube_close(k2);
	free(kc.exec->command);
	kc.exec->command = ferry_xstrdup("/nonexistent/get-token");
	assert_int_equal(ferry_kube_open(&k2, &kc, &fast, &err), 0);
	SCRIPT(fx->s, {200, ns_json, NULL, false});
	assert_int_equal(get_ns(k2, &err), -1);
	assert_int_equal(err.code, FERRY_E_AUTH);
	assert_string_equal(err.msg, "kube: get namespaces/prod: exec plugin "
				     "/nonexistent/get-token: no such file");
	assert_int_equal(fx->s->nseen, 0);

	ferry_kube_close(k);
	ferry_kube_close(k2);
	ferry_kubeconfig_release(&kc);
	plugin_free(&p);
}

/* expirationTimestamp: the credential serves until then, and an expired
 * one is never sent. */
static void test_exec_expiry(void **state)
{
	struct fx *fx = *state;
	struct ferry_kubeconfig kc = FERRY_KUBECONFIG_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_time soon = {(int64_t)time(NULL) + 2, 0, 0};
	char when[FERRY_TIME_FORMAT_MAX];
	struct ferry_kube *k;
	struct plugin p;

	plugin_make(&p, counting_plugin);
	ferry_time_format(&soon, when, sizeof when);
	plugin_file(&p, "expiry", when);
	plugin_kubeconfig(&p, fx->url, &kc);
	assert_int_equal(ferry_kube_open(&k, &kc, &fast, &err), 0);
	SCRIPT(fx->s, {200, ns_json, NULL, false}, {200, ns_json, NULL, false},
	       {200, ns_json, NULL, false}, {200, ns_json, NULL, false});
	assert_int_equal(get_ns(k, &err), 0);
	assert_int_equal(get_ns(k, &err), 0);
	assert_int_equal(plugin_runs(&p), 1);
	while (time(NULL) < soon.sec)
		ferry_sleep(0.05);
	assert_int_equal(get_ns(k, &err), 0);
	assert_int_equal(plugin_runs(&p), 2);
	/* the plugin's new credential expired already: it runs every time */
	assert_int_equal(get_ns(k, &err), 0);
	assert_int_equal(plugin_runs(&p), 3);
	assert_string_equal(fx->s->seen[0].auth, "Bearer tok-1");
	assert_string_equal(fx->s->seen[1].auth, "Bearer tok-1");
	assert_string_equal(fx->s->seen[2].auth, "Bearer tok-2");
	assert_string_equal(fx->s->seen[3].auth, "Bearer tok-3");
	ferry_kube_close(k);
	ferry_kubeconfig_release(&kc);
	plugin_free(&p);
}

struct getter {
	const struct ferry_kubeconfig *kc;
	int failed;
};

static void *get_three(void *arg)
{
	struct getter *g = arg;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_kube *k;

	if (ferry_kube_open(&k, g->kc, &fast, &err)) {
		g->failed = 1;
		return NULL;
	}
	for (int i = 0; i < 3; i++)
		g->failed |= get_ns(k, &err) != 0;
	ferry_kube_close(k);
	return NULL;
}

/* Clients in several threads, a slow plugin: it runs once, the others wait
 * for its credential. */
static void test_exec_threads(void **state)
{
	struct fx *fx = *state;
	struct ferry_kubeconfig kc = FERRY_KUBECONFIG_INIT;
	struct getter g[3];
	pthread_t t[3];
	struct plugin p;
	const struct canned ok = {200, ns_json, NULL, false};
	const struct canned c[9] = {ok, ok, ok, ok, ok, ok, ok, ok, ok};
	struct ferry_kube *holder;
	struct ferry_err err = FERRY_ERR_INIT;

	plugin_make(&p, counting_plugin);
	plugin_file(&p, "sleep", "0.3");
	plugin_kubeconfig(&p, fx->url, &kc);
	/* a client that outlives the threads keeps the credential shared */
	assert_int_equal(ferry_kube_open(&holder, &kc, &fast, &err), 0);
	script(fx->s, c, 9);
	for (int i = 0; i < 3; i++) {
		g[i] = (struct getter){&kc, 0};
		assert_int_equal(pthread_create(&t[i], NULL, get_three, &g[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(g[i].failed, 0);
	}
	assert_int_equal(plugin_runs(&p), 1);
	assert_int_equal(fx->s->nseen, 9);
	for (size_t i = 0; i < 9; i++)
		assert_string_equal(fx->s->seen[i].auth, "Bearer tok-1");
	ferry_kube_close(holder);
	ferry_kubeconfig_release(&kc);
	plugin_free(&p);
}

/* ---- TLS ------------------------------------------------------------------------------------ */

struct pki {
	char dir[64];
	char *ca, *other_ca, *server_key, *server_cert, *client_key, *client_cert, *other_key;
};

static char *slurp(const char *dir, const char *name)
{
	char *path = ferry_xasprintf("%s/%s", dir, name), *data = NULL;
	size_t len;

	if (ferry_read_file(path, 1 << 20, &data, &len))
		data = NULL;
	free(path);
	return data;
}

/* A CA, a server certificate for kubernetes.default.svc only (no IP), a
 * client certificate, and an unrelated CA and key, made by openssl(1). */
static bool make_pki(struct pki *p)
{
	char *cmd;
	int rc;

	snprintf(p->dir, sizeof p->dir, "/tmp/ferry-kube-pki-XXXXXX");
	if (!mkdtemp(p->dir))
		return false;
	cmd = ferry_xasprintf(
		"cd %s && exec >log 2>&1 && "
		"K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
		"openssl req -x509 $K -keyout ca.key -out ca.crt -days 3650 -subj /CN=test-ca && "
		"openssl req -x509 $K -keyout other.key -out other.crt -days 3650 -subj /CN=other "
		"&& "
		"openssl req $K -keyout server.key -out server.csr -subj /CN=apiserver && "
		"printf 'subjectAltName=DNS:kubernetes.default.svc\\n' >server.ext && "
		"openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		"-days 3650 -extfile server.ext -out server.crt && "
		"openssl req $K -keyout client.key -out client.csr -subj "
		"/CN=ferry/O=system:masters && "
		"openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		"-days 3650 -out client.crt",
		p->dir);
	rc = system(cmd);
	free(cmd);
	if (rc != 0)
		return false;
	p->ca = slurp(p->dir, "ca.crt");
	p->other_ca = slurp(p->dir, "other.crt");
	p->server_key = slurp(p->dir, "server.key");
	p->server_cert = slurp(p->dir, "server.crt");
	p->client_key = slurp(p->dir, "client.key");
	p->client_cert = slurp(p->dir, "client.crt");
	p->other_key = slurp(p->dir, "other.key");
	return p->ca && p->other_ca && p->server_key && p->server_cert && p->client_key &&
	       p->client_cert && p->other_key;
}

static void free_pki(struct pki *p)
{
	ferry_rmtree(p->dir);
	free(p->ca);
	free(p->other_ca);
	free(p->server_key);
	free(p->server_cert);
	free(p->client_key);
	free(p->client_cert);
	free(p->other_key);
}

/* GET through a client for kc: 0 or the error code. */
static int tls_get(struct server *s, struct ferry_kubeconfig *kc, struct ferry_err *err)
{
	struct ferry_kube_ref r = {FERRY_KUBE_NAMESPACES, NULL, "default"};
	struct ferry_kube *k;
	json_t *obj = NULL;
	int rc;

	SCRIPT(s, {200, "{\"kind\":\"Namespace\"}", NULL, false});
	assert_int_equal(ferry_kube_open(&k, kc, &fast, err), 0);
	rc = ferry_kube_get(k, &r, &obj, err) ? (int)err->code : 0;
	json_decref(obj);
	ferry_kube_close(k);
	return rc;
}

static void set_blob(char **dst, size_t *len, const char *pem)
{
	free(*dst);
	*dst = pem ? ferry_xstrdup(pem) : NULL;
	if (len)
		*len = pem ? strlen(pem) : 0;
}

static void test_tls(void **state)
{
	struct ferry_kubeconfig kc = FERRY_KUBECONFIG_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct pki p = {0};
	struct plugin pl;
	struct server *s;
	char url[64];
	(void)state;

	if (!MHD_is_feature_supported(MHD_FEATURE_TLS) || !make_pki(&p)) {
		free_pki(&p);
		skip();
	}
	s = server_start(p.server_key, p.server_cert);
	snprintf(url, sizeof url, "https://127.0.0.1:%u", s->port);
	assert_int_equal(ferry_kubeconfig_for_server(url, "t", p.ca, false, NULL, &kc, &err), 0);

	/* the certificate names kubernetes.default.svc, not 127.0.0.1 */
	assert_int_equal(tls_get(s, &kc, &err), FERRY_E_CERTIFICATE);
	assert_true(ferry_starts_with(err.msg, "kube: get namespaces/default: https://127.0.0.1:"));

	set_blob(&kc.tls_server_name, NULL, "kubernetes.default.svc");
	assert_int_equal(tls_get(s, &kc, &err), 0);

	/* the system's store does not know this CA; another CA is not it */
	set_blob(&kc.ca, &kc.ca_len, NULL);
	assert_int_equal(tls_get(s, &kc, &err), FERRY_E_CERTIFICATE);
	set_blob(&kc.ca, &kc.ca_len, p.other_ca);
	assert_int_equal(tls_get(s, &kc, &err), FERRY_E_CERTIFICATE);

	/* insecure trusts anything (and any name) */
	set_blob(&kc.ca, &kc.ca_len, NULL);
	set_blob(&kc.tls_server_name, NULL, NULL);
	kc.insecure = true;
	assert_int_equal(tls_get(s, &kc, &err), 0);
	kc.insecure = false;

	/* a client certificate from memory; a key that is not its key fails
	 * before anything is sent */
	set_blob(&kc.ca, &kc.ca_len, p.ca);
	set_blob(&kc.tls_server_name, NULL, "kubernetes.default.svc");
	set_blob(&kc.client_cert, &kc.client_cert_len, p.client_cert);
	set_blob(&kc.client_key, &kc.client_key_len, p.client_key);
	assert_int_equal(tls_get(s, &kc, &err), 0);
	set_blob(&kc.client_key, &kc.client_key_len, p.other_key);
	assert_int_equal(tls_get(s, &kc, &err), FERRY_E_INVALID);
	assert_int_equal(s->nseen, 0);

	/* the same from an exec plugin (each client runs it anew: the
	 * credential goes with the last client that used it) */
	set_blob(&kc.client_cert, &kc.client_cert_len, NULL);
	set_blob(&kc.client_key, &kc.client_key_len, NULL);
	plugin_make(&pl, "#!/bin/sh\ncat \"$DIR/cred.json\"\n");
	kc.exec = ferry_xcalloc(1, sizeof *kc.exec);
	kc.exec->command = ferry_xstrdup(pl.path);
	kc.exec->api_version = ferry_xstrdup(EXEC_V1BETA1);
	kc.exec->env = ferry_xcalloc(1, sizeof *kc.exec->env);
	kc.exec->env[kc.exec->nenv++] = ferry_xasprintf("DIR=%s", pl.dir);
	plugin_cert(&pl, p.client_cert, p.client_key);
	assert_int_equal(tls_get(s, &kc, &err), 0);
	assert_int_equal(s->nseen, 1);
	plugin_cert(&pl, p.client_cert, p.other_key);
	assert_int_equal(tls_get(s, &kc, &err), FERRY_E_INVALID);
	assert_int_equal(s->nseen, 0);
	plugin_free(&pl);

	ferry_kubeconfig_release(&kc);
	server_stop(s);
	free_pki(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_status_error),
		cmocka_unit_test(test_errcode),
		cmocka_unit_test(test_retry_after_and_backoff),
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_exists_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_log, setup, teardown),
		cmocka_unit_test(test_transport_errors),
		cmocka_unit_test_setup_teardown(test_basic_auth_and_server_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_plugin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_threads, setup, teardown),
		cmocka_unit_test(test_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
