/* Requests are built by hand (paths, queries, headers) rather than through
 * a generated client: ferry needs a dozen verbs on a handful of kinds, and
 * every byte that reaches the server is visible here.
 */
#include "providers/kubevirt/kube.h"

#include <curl/curl.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"

#define TOKEN_REREAD_S	  60
#define ERR_BODY_MAX	  (64u << 10)
#define LIST_LIMIT	  500
#define WATCH_TIMEOUT_S	  300
#define CONNECT_TIMEOUT_S 10

struct exec_auth;

struct ferry_kube {
	CURL *curl;
	struct ferry_kubeconfig kc;  /* a copy */
	struct exec_auth *auth;	     /* kc.exec's shared credential, or NULL */
	struct ferry_kube_cred cred; /* this client's copy of it */
	unsigned long cred_gen;	     /* which one it is (0: none yet) */
	struct ferry_kube_opts o;
	char *field_manager, *user_agent; /* o's, owned */
	char *base;			  /* URL up to the API paths, no trailing '/' */
	struct curl_slist *connect_to;	  /* tls-server-name: where to really connect */
	time_t token_read;
	long last_http;
	uint64_t rng;
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- pieces ------------------------------------------------------------------ */

void ferry_kube_escape(struct ferry_sb *sb, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			ferry_sb_addc(sb, (char)*p);
		else
			ferry_sb_addf(sb, "%%%02X", *p);
	}
}

static int check_part(const char *what, const char *s, bool required, struct ferry_err *err)
{
	if (!s || !*s) {
		if (required)
			return ferry_err_set(err, FERRY_E_INVALID, "kube: no %s", what);
		return 0;
	}
	if (strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, ".."))
		return ferry_err_set(err, FERRY_E_INVALID, "kube: %s \"%s\" cannot be in a path",
				     what, s);
	return 0;
}

char *ferry_kube_path(const struct ferry_kube_ref *r, struct ferry_err *err)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	if (check_part("group", r->group, false, err) ||
	    check_part("version", r->version, true, err) ||
	    check_part("resource", r->resource, true, err) ||
	    check_part("namespace", r->ns, false, err) || check_part("name", r->name, false, err))
		return NULL;
	if (r->group && *r->group) {
		ferry_sb_adds(&sb, "/apis/");
		ferry_kube_escape(&sb, r->group);
		ferry_sb_addc(&sb, '/');
	} else {
		ferry_sb_adds(&sb, "/api/");
	}
	ferry_kube_escape(&sb, r->version);
	if (r->ns && *r->ns) {
		ferry_sb_adds(&sb, "/namespaces/");
		ferry_kube_escape(&sb, r->ns);
	}
	ferry_sb_addc(&sb, '/');
	ferry_kube_escape(&sb, r->resource);
	if (r->name && *r->name) {
		ferry_sb_addc(&sb, '/');
		ferry_kube_escape(&sb, r->name);
	}
	return ferry_sb_detach(&sb);
}

char *ferry_kube_describe(const struct ferry_kube_ref *r)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	ferry_sb_adds(&sb, r->resource ? r->resource : "?");
	if (r->ns && *r->ns)
		ferry_sb_addf(&sb, "/%s", r->ns);
	if (r->name && *r->name)
		ferry_sb_addf(&sb, "/%s", r->name);
	return ferry_sb_detach(&sb);
}

enum ferry_errcode ferry_kube_errcode(long http, const char *reason)
{
	static const struct {
		const char *reason;
		enum ferry_errcode code;
	} reasons[] = {
		{"NotFound", FERRY_E_NOT_FOUND},
		{"AlreadyExists", FERRY_E_EXISTS},
		{"Conflict", FERRY_E_CONFLICT},
		{"Unauthorized", FERRY_E_AUTH},
		{"Forbidden", FERRY_E_AUTH},
		{"Invalid", FERRY_E_INVALID},
		{"BadRequest", FERRY_E_INVALID},
		{"Gone", FERRY_E_RETRYABLE},
		{"Expired", FERRY_E_RETRYABLE},
		{"TooManyRequests", FERRY_E_RETRYABLE},
		{"ServiceUnavailable", FERRY_E_RETRYABLE},
		{"InternalError", FERRY_E_RETRYABLE},
		{"ServerTimeout", FERRY_E_RETRYABLE},
		{"Timeout", FERRY_E_TIMEOUT},
		{"MethodNotAllowed", FERRY_E_UNSUPPORTED},
		{"NotAcceptable", FERRY_E_UNSUPPORTED},
		{"UnsupportedMediaType", FERRY_E_UNSUPPORTED},
		{"RequestEntityTooLarge", FERRY_E_LIMIT},
	};

	for (size_t i = 0; reason && i < sizeof reasons / sizeof *reasons; i++)
		if (!strcmp(reason, reasons[i].reason))
			return reasons[i].code;
	switch (http) {
	case 400:
	case 422: return FERRY_E_INVALID;
	case 401:
	case 403: return FERRY_E_AUTH;
	case 404: return FERRY_E_NOT_FOUND;
	case 405:
	case 406:
	case 415: return FERRY_E_UNSUPPORTED;
	case 409: return FERRY_E_CONFLICT;
	case 410:
	case 429: return FERRY_E_RETRYABLE;
	case 413: return FERRY_E_LIMIT;
	case 504: return FERRY_E_TIMEOUT;
	default: break;
	}
	if (http >= 500 && http <= 599)
		return FERRY_E_RETRYABLE;
	if (http >= 400 && http <= 499)
		return FERRY_E_INVALID;
	return FERRY_E_INTERNAL;
}

/* The reason Kubernetes gives each code in a Status, for responses without
 * one (a proxy's error page, an empty body). */
static const char *reason_of(long http)
{
	switch (http) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return http >= 200 && http < 300 ? "OK" : "Error";
	}
}

/* At most max bytes of s, printable ASCII only, on one line. */
static void add_snippet(struct ferry_sb *sb, const char *s, size_t len, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < max; i++, n++) {
		unsigned char c = (unsigned char)s[i];

		ferry_sb_addc(sb, c >= 0x20 && c < 0x7f ? (char)c : ' ');
	}
	if (len > max)
		ferry_sb_adds(sb, "...");
}

int ferry_kube_status_error(struct ferry_err *err, const char *verb, const char *what, long http,
			    const char *body, size_t len)
{
	json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *reason = NULL, *message = NULL;
	struct ferry_sb sb = FERRY_SB_INIT;
	enum ferry_errcode code;

	if (json_is_object(j) && json_is_string(json_object_get(j, "kind")) &&
	    !strcmp(json_string_value(json_object_get(j, "kind")), "Status")) {
		reason = json_string_value(json_object_get(j, "reason"));
		message = json_string_value(json_object_get(j, "message"));
	}
	code = ferry_kube_errcode(http, reason);
	if (!reason || !*reason)
		reason = reason_of(http);
	ferry_sb_addf(&sb, "kube: %s %s: %ld %s", verb, what, http, reason);
	if (message && *message) {
		ferry_sb_adds(&sb, ": ");
		add_snippet(&sb, message, strlen(message), 400);
	} else if (!j && body && len) {
		ferry_sb_adds(&sb, ": ");
		add_snippet(&sb, body, len, 200);
	}
	ferry_err_set(err, code, "%s", sb.buf);
	ferry_sb_release(&sb);
	json_decref(j);
	return -1;
}

long ferry_kube_retry_after(const char *value)
{
	long v = 0;

	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (!isdigit((unsigned char)*value))
		return -1;
	for (; isdigit((unsigned char)*value); value++) {
		if (v > 100000000)
			return -1;
		v = v * 10 + (*value - '0');
	}
	while (*value == ' ' || *value == '\t' || *value == '\r' || *value == '\n')
		value++;
	return *value ? -1 : v;
}

unsigned ferry_kube_backoff_ms(unsigned attempt, long retry_after_s, unsigned base, unsigned max,
			       uint32_t rnd)
{
	uint64_t d = base, half;

	if (retry_after_s >= 0) {
		d = (uint64_t)retry_after_s * 1000;
		return (unsigned)(d > max ? max : d);
	}
	for (unsigned i = 1; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	half = d / 2;
	return (unsigned)(half + rnd % (d - half + 1));
}

/* ---- the client ------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *memdup0(const char *p, size_t n)
{
	char *q;

	if (!p)
		return NULL;
	q = ferry_xmalloc(n + 1);
	memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

static char *dup0(const char *s)
{
	return s ? ferry_xstrdup(s) : NULL;
}

static void kc_copy(struct ferry_kubeconfig *d, const struct ferry_kubeconfig *s)
{
	d->source = dup0(s->source);
	d->context = dup0(s->context);
	d->cluster = dup0(s->cluster);
	d->user = dup0(s->user);
	d->server = dup0(s->server);
	d->namespace_ = dup0(s->namespace_);
	d->tls_server_name = dup0(s->tls_server_name);
	d->proxy_url = dup0(s->proxy_url);
	d->insecure = s->insecure;
	d->ca = memdup0(s->ca, s->ca_len);
	d->ca_len = s->ca_len;
	d->client_cert = memdup0(s->client_cert, s->client_cert_len);
	d->client_cert_len = s->client_cert_len;
	d->client_key = memdup0(s->client_key, s->client_key_len);
	d->client_key_len = s->client_key_len;
	d->token = dup0(s->token);
	d->token_file = dup0(s->token_file);
	d->username = dup0(s->username);
	d->password = dup0(s->password);
	d->exec = ferry_kube_exec_dup(s->exec);
}

/* The base URL; with tls-server-name, the URL names that host (so curl
 * sends it as SNI and checks the certificate against it) and connect_to
 * sends the connection to the server's real address. */
static int make_base(struct ferry_kube *k, struct ferry_err *err)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *url = NULL;
	int rc = -1;
	size_t n;

	if (!u)
		return ferry_err_set(err, FERRY_E_INTERNAL, "kube: out of memory");
	if (curl_url_set(u, CURLUPART_URL, k->kc.server, 0)) {
		ferry_err_set(err, FERRY_E_INVALID, "kube: server \"%s\" is not a URL",
			      k->kc.server);
		goto out;
	}
	if (k->kc.tls_server_name && *k->kc.tls_server_name) {
		char *map;

		if (curl_url_get(u, CURLUPART_HOST, &host, 0) ||
		    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ||
		    curl_url_set(u, CURLUPART_HOST, k->kc.tls_server_name, 0)) {
			ferry_err_set(err, FERRY_E_INVALID,
				      "kube: server \"%s\" with tls-server-name \"%s\"",
				      k->kc.server, k->kc.tls_server_name);
			goto out;
		}
		map = ferry_xasprintf("%s:%s:%s:%s", k->kc.tls_server_name, port, host, port);
		k->connect_to = curl_slist_append(NULL, map);
		free(map);
	}
	if (curl_url_get(u, CURLUPART_URL, &url, 0)) {
		ferry_err_set(err, FERRY_E_INVALID, "kube: server \"%s\" is not a URL",
			      k->kc.server);
		goto out;
	}
	k->base = ferry_xstrdup(url);
	n = strlen(k->base);
	while (n > 0 && k->base[n - 1] == '/')
		k->base[--n] = '\0';
	rc = 0;
out:
	curl_free(url);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* ---- exec credential plugins ------------------------------------------------------- */

/* A plugin's credential, shared by every client that runs the same plugin
 * (same command, arguments, environment, apiVersion and, with
 * provideClusterInfo, cluster), as client-go shares it: the plugin runs
 * once for all of them, and again only when its credential expires or the
 * API server refuses it. Clients in several threads use one; the plugin
 * runs under its lock, so the others wait for its answer rather than
 * start it again. */
struct exec_auth {
	struct exec_auth *next;
	char *key;
	unsigned refs; /* clients holding it, under exec_auths_lock */
	pthread_mutex_t lock;
	struct ferry_kube_cred cred; /* under lock, as are have and gen */
	bool have;
	unsigned long gen; /* grows with every credential the plugin gives */
};

static pthread_mutex_t exec_auths_lock = PTHREAD_MUTEX_INITIALIZER;
static struct exec_auth *exec_auths;

/* What makes two plugins the same, as one string. */
static char *exec_key(const struct ferry_kubeconfig *kc)
{
	const struct ferry_kube_exec *e = kc->exec;
	struct ferry_sb sb = FERRY_SB_INIT;
	char *info = ferry_kube_exec_info(kc); /* apiVersion, and the cluster if given */

	ferry_sb_add_quoted(&sb, e->command);
	for (size_t i = 0; i < e->nargs; i++) {
		ferry_sb_adds(&sb, " a");
		ferry_sb_add_quoted(&sb, e->args[i]);
	}
	for (size_t i = 0; i < e->nenv; i++) {
		ferry_sb_adds(&sb, " e");
		ferry_sb_add_quoted(&sb, e->env[i]);
	}
	ferry_sb_adds(&sb, " i");
	ferry_sb_add_quoted(&sb, info);
	free(info);
	return ferry_sb_detach(&sb);
}

static struct exec_auth *exec_auth_get(const struct ferry_kubeconfig *kc)
{
	char *key = exec_key(kc);
	struct exec_auth *a;

	pthread_mutex_lock(&exec_auths_lock);
	for (a = exec_auths; a && strcmp(a->key, key); a = a->next)
		;
	if (a) {
		free(key);
	} else {
		a = ferry_xcalloc(1, sizeof *a);
		a->key = key;
		pthread_mutex_init(&a->lock, NULL);
		a->next = exec_auths;
		exec_auths = a;
	}
	a->refs++;
	pthread_mutex_unlock(&exec_auths_lock);
	return a;
}

/* The last client gone, the credential goes too (wiped). */
static void exec_auth_put(struct exec_auth *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&exec_auths_lock);
	if (--a->refs == 0) {
		struct exec_auth **pp = &exec_auths;

		while (*pp != a)
			pp = &(*pp)->next;
		*pp = a->next;
	} else {
		a = NULL;
	}
	pthread_mutex_unlock(&exec_auths_lock);
	if (a) {
		ferry_kube_cred_release(&a->cred);
		pthread_mutex_destroy(&a->lock);
		explicit_bzero(a->key, strlen(a->key)); /* env values may be secrets */
		free(a->key);
		free(a);
	}
}

static bool cred_expired(const struct ferry_kube_cred *c)
{
	return c->expires && (long long)time(NULL) >= c->expires;
}

/* Make k->cred the plugin's current credential: the shared one while it
 * has not expired, else a new one from the plugin. A new client
 * certificate needs new connections: the handle (and its connection
 * cache) is replaced. */
static int exec_credential(struct ferry_kube *k, struct ferry_err *err)
{
	struct exec_auth *a = k->auth;
	bool new_cert = false;
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	if (a->have && cred_expired(&a->cred)) {
		ferry_kube_cred_release(&a->cred);
		a->have = false;
	}
	if (!a->have) {
		ferry_debug("kube: running exec plugin %s", k->kc.exec->command);
		if (ferry_kube_exec_run(&k->kc, 0, &a->cred, err)) {
			rc = -1;
		} else {
			a->have = true;
			a->gen++;
		}
	}
	if (!rc && k->cred_gen != a->gen) {
		new_cert = a->cred.client_cert || k->cred.client_cert;
		ferry_kube_cred_release(&k->cred);
		k->cred.token = dup0(a->cred.token);
		k->cred.client_cert = memdup0(a->cred.client_cert, a->cred.client_cert_len);
		k->cred.client_cert_len = a->cred.client_cert_len;
		k->cred.client_key = memdup0(a->cred.client_key, a->cred.client_key_len);
		k->cred.client_key_len = a->cred.client_key_len;
		k->cred.expires = a->cred.expires;
		k->cred_gen = a->gen;
	}
	pthread_mutex_unlock(&a->lock);
	if (new_cert) {
		CURL *fresh = curl_easy_init();

		if (!fresh)
			return ferry_err_set(err, FERRY_E_INTERNAL, "kube: curl_easy_init failed");
		curl_easy_cleanup(k->curl);
		k->curl = fresh;
	}
	return rc;
}

/* The API server refused k's credential (401): forget it, unless another
 * client has already got a newer one, so that the next request runs the
 * plugin again. False when k has no plugin (nothing to try again). */
static bool exec_refused(struct ferry_kube *k)
{
	struct exec_auth *a = k->auth;

	if (!a)
		return false;
	pthread_mutex_lock(&a->lock);
	if (a->have && a->gen == k->cred_gen) {
		ferry_kube_cred_release(&a->cred);
		a->have = false;
	}
	pthread_mutex_unlock(&a->lock);
	return true;
}

int ferry_kube_open(struct ferry_kube **out, const struct ferry_kubeconfig *kc,
		    const struct ferry_kube_opts *opts, struct ferry_err *err)
{
	struct ferry_kube *k;
	struct timespec ts;

	*out = NULL;
	if (!kc || !kc->server)
		return ferry_err_set(err, FERRY_E_INVALID, "kube: no server to talk to");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc)
		return ferry_err_set(err, FERRY_E_INTERNAL, "kube: curl_global_init: %s",
				     curl_easy_strerror(curl_init_rc));
	k = ferry_xcalloc(1, sizeof *k);
	kc_copy(&k->kc, kc);
	if (opts)
		k->o = *opts;
	if (!k->o.max_attempts)
		k->o.max_attempts = 5;
	if (!k->o.backoff_base_ms)
		k->o.backoff_base_ms = 200;
	if (!k->o.backoff_max_ms)
		k->o.backoff_max_ms = 10000;
	if (!k->o.timeout_s)
		k->o.timeout_s = 60;
	if (!k->o.max_conflicts)
		k->o.max_conflicts = 5;
	k->field_manager = ferry_xstrdup(k->o.field_manager ? k->o.field_manager : "ferry");
	k->user_agent = ferry_xstrdup(k->o.user_agent ? k->o.user_agent : "ferry");
	k->o.field_manager = k->field_manager;
	k->o.user_agent = k->user_agent;
	k->token_read = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	k->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() ^
		 (uint64_t)(uintptr_t)k;
	if (!k->rng)
		k->rng = 1;
	k->curl = curl_easy_init();
	if (!k->curl) {
		ferry_kube_close(k);
		return ferry_err_set(err, FERRY_E_INTERNAL, "kube: curl_easy_init failed");
	}
	if (make_base(k, err)) {
		ferry_kube_close(k);
		return -1;
	}
	if (k->kc.exec)
		k->auth = exec_auth_get(&k->kc);
	*out = k;
	return 0;
}

void ferry_kube_close(struct ferry_kube *k)
{
	if (!k)
		return;
	if (k->curl)
		curl_easy_cleanup(k->curl);
	exec_auth_put(k->auth);
	ferry_kube_cred_release(&k->cred);
	curl_slist_free_all(k->connect_to);
	free(k->base);
	free(k->field_manager);
	free(k->user_agent);
	ferry_kubeconfig_release(&k->kc);
	free(k);
}

long ferry_kube_last_http(const struct ferry_kube *k)
{
	return k->last_http;
}

static uint32_t next_rand(struct ferry_kube *k)
{
	k->rng ^= k->rng << 13;
	k->rng ^= k->rng >> 7;
	k->rng ^= k->rng << 17;
	return (uint32_t)(k->rng >> 16);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts))
		;
}

/* A tokenFile is read again once a minute: bound service account tokens
 * are rotated on disk. A failed read keeps the token we have. */
static void refresh_token(struct ferry_kube *k)
{
	struct ferry_err e = FERRY_ERR_INIT;
	time_t now = time(NULL);
	char *t;

	if (!k->kc.token_file || now - k->token_read < TOKEN_REREAD_S)
		return;
	k->token_read = now;
	if (ferry_kube_read_token(k->kc.token_file, &t, &e)) {
		ferry_warn("kube: keeping the token read before: %s", e.msg);
		return;
	}
	if (k->kc.token) {
		explicit_bzero(k->kc.token, strlen(k->kc.token));
		free(k->kc.token);
	}
	k->kc.token = t;
}

/* One exchange's response. */
struct resp {
	struct ferry_sb body;
	size_t max;
	bool too_big;
	char retry_after[32];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;

	if (r->body.len + len > r->max) {
		r->too_big = true;
		return 0;
	}
	ferry_sb_add(&r->body, p, len);
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	char *retry_after = arg;
	size_t len = size * n;

	if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		size_t v = len - 12;

		if (v > 31)
			v = 31;
		memcpy(retry_after, p + 12, v);
		retry_after[v] = '\0';
	}
	return len;
}

struct call {
	const char *verb;   /* for messages: "get", "create", ... */
	const char *method; /* GET, POST, PUT, PATCH, DELETE */
	char *url;
	const char *what;	  /* "virtualmachines/ns/vm" */
	const char *content_type; /* of body, or NULL */
	const char *body;
	size_t body_len;
	bool retry_5xx;
	long timeout_s;
	const char *accept; /* NULL: application/json */
};

/* Everything but the body callback; curl_easy_reset keeps the connection
 * cache, so each request starts from a clean handle on a warm connection. */
static void setup(struct ferry_kube *k, const struct call *c, struct curl_slist **headers)
{
	CURL *h = k->curl;
	const char *token;
	struct curl_blob cert = {k->kc.client_cert, k->kc.client_cert_len, CURL_BLOB_COPY};
	struct curl_blob key = {k->kc.client_key, k->kc.client_key_len, CURL_BLOB_COPY};

	refresh_token(k);
	token = k->kc.token;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, k->errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, k->o.user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (k->kc.ca) {
		struct curl_blob blob = {k->kc.ca, k->kc.ca_len, CURL_BLOB_COPY};

		/* exactly this CA, as client-go: not the system's directory too */
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	if (k->kc.insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (k->auth) {
		token = k->cred.token;
		cert = (struct curl_blob){k->cred.client_cert, k->cred.client_cert_len,
					  CURL_BLOB_COPY};
		key = (struct curl_blob){k->cred.client_key, k->cred.client_key_len,
					 CURL_BLOB_COPY};
	}
	if (cert.data && key.data) {
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (k->connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, k->connect_to);
	if (k->kc.proxy_url)
		curl_easy_setopt(h, CURLOPT_PROXY, k->kc.proxy_url);
	if (token) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, token);
	} else if (k->kc.username) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, k->kc.username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, k->kc.password);
	}
	{
		char *accept =
			ferry_xasprintf("Accept: %s", c->accept ? c->accept : "application/json");

		*headers = curl_slist_append(NULL, accept);
		free(accept);
	}
	*headers = curl_slist_append(*headers, "Expect:");
	if (c->content_type) {
		char *ct = ferry_xasprintf("Content-Type: %s", c->content_type);

		*headers = curl_slist_append(*headers, ct);
		free(ct);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
	if (!strcmp(c->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
		if (c->body) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
		}
	}
}

static enum ferry_errcode curl_errcode(CURLcode rc)
{
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return FERRY_E_CERTIFICATE;
	case CURLE_OPERATION_TIMEDOUT: return FERRY_E_TIMEOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_SSL_CERTPROBLEM: return FERRY_E_INVALID;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM: return FERRY_E_RETRYABLE;
	default: return FERRY_E_IO;
	}
}

static int transport_error(struct ferry_kube *k, const struct call *c, CURLcode rc,
			   struct ferry_err *err)
{
	return ferry_err_set(err, curl_errcode(rc), "kube: %s %s: %s: %s", c->verb, c->what,
			     k->kc.server, k->errbuf[0] ? k->errbuf : curl_easy_strerror(rc));
}

/* Failures where the request cannot have reached the API server's
 * handlers, so any verb may go again. */
static bool not_sent(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_SSL_CONNECT_ERROR;
}

static bool retry_status(const struct call *c, long http)
{
	return http == 429 ||
	       (c->retry_5xx && (http == 500 || http == 502 || http == 503 || http == 504));
}

/* The credential of k's exec plugin, if it has one, current for c. A
 * plugin that is not there fails the request with FERRY_E_AUTH: callers
 * read FERRY_E_NOT_FOUND as "no such object". */
static int authenticate(struct ferry_kube *k, const struct call *c, struct ferry_err *err)
{
	if (!k->auth || !exec_credential(k, err))
		return 0;
	if (err->code == FERRY_E_NOT_FOUND)
		err->code = FERRY_E_AUTH;
	return ferry_err_prefix(err, "kube: %s %s: ", c->verb, c->what);
}

/* Send c until a response that is final (any status not retried) or the
 * attempts run out: 0 and *http, the body in r; -1 on transport failure
 * (or when an exec plugin gives no credential). */
static int perform(struct ferry_kube *k, const struct call *c, struct resp *r, long *http,
		   struct ferry_err *err)
{
	for (unsigned attempt = 1;; attempt++) {
		struct curl_slist *headers = NULL;
		long ra = -1;
		CURLcode rc;

		ferry_sb_reset(&r->body);
		r->too_big = false;
		r->retry_after[0] = '\0';
		k->errbuf[0] = '\0';
		if (authenticate(k, c, err))
			return -1;
		setup(k, c, &headers);
		curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(k->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(k->curl, CURLOPT_HEADERDATA, (void *)r->retry_after);
		rc = curl_easy_perform(k->curl);
		curl_slist_free_all(headers);
		*http = 0;
		curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, http);
		k->last_http = rc == CURLE_OK ? *http : 0;
		ferry_debug("kube: %s %s: %ld (%s)", c->method, c->url, *http,
			    rc == CURLE_OK ? "ok" : curl_easy_strerror(rc));
		if (rc == CURLE_OK && !retry_status(c, *http))
			return 0;
		if (r->too_big)
			return ferry_err_set(err, FERRY_E_LIMIT,
					     "kube: %s %s: response larger than %zu bytes", c->verb,
					     c->what, r->max);
		if (rc != CURLE_OK) {
			/* a request that may have been handled goes again only
			 * when repeating it is harmless */
			bool again = not_sent(rc) ||
				     (c->retry_5xx && curl_errcode(rc) == FERRY_E_RETRYABLE);

			if (!again || attempt >= k->o.max_attempts)
				return transport_error(k, c, rc, err);
		} else if (attempt >= k->o.max_attempts) {
			return 0;
		} else {
			ra = ferry_kube_retry_after(r->retry_after);
		}
		sleep_ms(ferry_kube_backoff_ms(attempt, ra, k->o.backoff_base_ms,
					       k->o.backoff_max_ms, next_rand(k)));
	}
}

/* The URL of r (and its subresource sub, when not NULL) with query. */
static char *make_url_sub(struct ferry_kube *k, const struct ferry_kube_ref *r, const char *sub,
			  const char *query, struct ferry_err *err)
{
	char *path = ferry_kube_path(r, err), *url;

	if (!path)
		return NULL;
	url = ferry_xasprintf("%s%s%s%s%s%s", k->base, path, sub ? "/" : "", sub ? sub : "",
			      query && *query ? "?" : "", query ? query : "");
	free(path);
	return url;
}

static char *make_url(struct ferry_kube *k, const struct ferry_kube_ref *r, const char *query,
		      struct ferry_err *err)
{
	return make_url_sub(k, r, NULL, query, err);
}

static void add_param(struct ferry_sb *q, const char *key, const char *value)
{
	if (!value || !*value)
		return;
	if (q->len)
		ferry_sb_addc(q, '&');
	ferry_sb_adds(q, key);
	ferry_sb_addc(q, '=');
	ferry_kube_escape(q, value);
}

/* Send c and keep a 2xx answer in r; any other answer is an error from
 * its Status. Shared by JSON requests and the text of pod logs. */
static int exchange(struct ferry_kube *k, const struct call *c, struct resp *r,
		    struct ferry_err *err)
{
	long http;

	if (perform(k, c, r, &http, err))
		return -1;
	/* as client-go: a plugin's credential that the server refuses is
	 * dropped, so that the plugin is asked again; ferry also sends the
	 * request once more with the new one */
	if (http == 401 && exec_refused(k)) {
		ferry_debug("kube: %s %s: 401: asking the exec plugin again", c->method, c->url);
		if (perform(k, c, r, &http, err))
			return -1;
		if (http == 401)
			exec_refused(k);
	}
	if (http < 200 || http > 299)
		return ferry_kube_status_error(err, c->verb, c->what, http, r->body.buf,
					       r->body.len);
	return 0;
}

/* One request and its JSON answer: body (may be NULL) is sent as JSON;
 * a 2xx answer is parsed into *out when out is not NULL. */
static int request(struct ferry_kube *k, const char *verb, const char *method,
		   const struct ferry_kube_ref *r, const char *what, const char *query,
		   const char *content_type, json_t *body, json_t **out, struct ferry_err *err)
{
	struct resp resp = {FERRY_SB_INIT, FERRY_KUBE_BODY_MAX, false, ""};
	struct call c = {
		verb, method, NULL, what, content_type, NULL, 0, true, (long)k->o.timeout_s, NULL};
	char *text = NULL;
	int rc = -1;

	if (out)
		*out = NULL;
	c.retry_5xx = strcmp(method, "POST") != 0;
	c.url = make_url(k, r, query, err);
	if (!c.url)
		return -1;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			ferry_err_set(err, FERRY_E_INVALID, "kube: %s %s: cannot encode the object",
				      verb, what);
			goto out;
		}
		c.body = text;
		c.body_len = strlen(text);
	}
	if (exchange(k, &c, &resp, err))
		goto out;
	if (out) {
		json_error_t je;

		*out = json_loadb(resp.body.buf, resp.body.len, 0, &je);
		if (!*out) {
			ferry_err_set(err, FERRY_E_INVALID,
				      "kube: %s %s: the answer is not JSON: %s (byte %d)", verb,
				      what, je.text, je.position);
			goto out;
		}
	}
	rc = 0;
out:
	free(text);
	free(c.url);
	ferry_sb_release(&resp.body);
	return rc;
}

/* ---- verbs --------------------------------------------------------------------------- */

int ferry_kube_get(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t **out,
		   struct ferry_err *err)
{
	char *what = ferry_kube_describe(r);
	int rc;

	*out = NULL;
	if (!r->name || !*r->name) {
		rc = ferry_err_set(err, FERRY_E_INVALID, "kube: get %s: no name", what);
	} else {
		rc = request(k, "get", "GET", r, what, NULL, NULL, NULL, out, err);
	}
	free(what);
	return rc;
}

int ferry_kube_list(struct ferry_kube *k, const struct ferry_kube_ref *r,
		    const struct ferry_kube_list_opts *lo, json_t **items, char **resource_version,
		    struct ferry_err *err)
{
	struct ferry_kube_ref coll = *r;
	struct ferry_sb q = FERRY_SB_INIT;
	char *what, *cont = NULL, limit[16];
	json_t *all = json_array();
	int rc = -1;

	*items = NULL;
	if (resource_version)
		*resource_version = NULL;
	coll.name = NULL;
	what = ferry_kube_describe(&coll);
	snprintf(limit, sizeof limit, "%u", lo && lo->limit ? lo->limit : LIST_LIMIT);
	for (unsigned page = 0;; page++) {
		json_t *resp, *meta, *list;
		const char *next;

		if (page >= FERRY_KUBE_PAGES_MAX) {
			ferry_err_set(err, FERRY_E_LIMIT, "kube: list %s: more than %u pages", what,
				      FERRY_KUBE_PAGES_MAX);
			goto out;
		}
		ferry_sb_reset(&q);
		if (lo) {
			add_param(&q, "labelSelector", lo->label_selector);
			add_param(&q, "fieldSelector", lo->field_selector);
		}
		add_param(&q, "limit", limit);
		add_param(&q, "continue", cont);
		if (request(k, "list", "GET", &coll, what, q.buf, NULL, NULL, &resp, err))
			goto out;
		list = json_object_get(resp, "items");
		meta = json_object_get(resp, "metadata");
		if (!json_is_array(list) && !json_is_null(list) && list) {
			json_decref(resp);
			ferry_err_set(err, FERRY_E_INVALID, "kube: list %s: items is not a list",
				      what);
			goto out;
		}
		if (list)
			json_array_extend(all, list);
		if (page == 0 && resource_version) {
			const char *rv =
				json_string_value(json_object_get(meta, "resourceVersion"));

			*resource_version = rv ? ferry_xstrdup(rv) : NULL;
		}
		next = json_string_value(json_object_get(meta, "continue"));
		free(cont);
		cont = next && *next ? ferry_xstrdup(next) : NULL;
		json_decref(resp);
		if (!cont)
			break;
	}
	*items = all;
	all = NULL;
	rc = 0;
out:
	if (rc && resource_version) {
		free(*resource_version);
		*resource_version = NULL;
	}
	json_decref(all);
	free(cont);
	free(what);
	ferry_sb_release(&q);
	return rc;
}

/* "virtualmachines/ns/NAME" for an object about to be created. */
static char *describe_new(const struct ferry_kube_ref *r, json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *gen = json_string_value(json_object_get(meta, "generateName"));
	struct ferry_kube_ref d = *r;
	char *what, *tmp = NULL;

	if (!name && gen)
		name = tmp = ferry_xasprintf("%s*", gen);
	d.name = name;
	what = ferry_kube_describe(&d);
	free(tmp);
	return what;
}

static void write_query(struct ferry_kube *k, struct ferry_sb *q)
{
	add_param(q, "fieldManager", k->o.field_manager);
}

int ferry_kube_create(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t *obj,
		      json_t **out, struct ferry_err *err)
{
	struct ferry_kube_ref coll = *r;
	struct ferry_sb q = FERRY_SB_INIT;
	char *what = describe_new(r, obj);
	int rc;

	coll.name = NULL;
	write_query(k, &q);
	rc = request(k, "create", "POST", &coll, what, q.buf, "application/json", obj, out, err);
	ferry_sb_release(&q);
	free(what);
	return rc;
}

static int named(const char *verb, const struct ferry_kube_ref *r, struct ferry_err *err)
{
	if (r->name && *r->name)
		return 0;
	char *what = ferry_kube_describe(r);
	ferry_err_set(err, FERRY_E_INVALID, "kube: %s %s: no name", verb, what);
	free(what);
	return -1;
}

static int write_named(struct ferry_kube *k, const char *verb, const char *method,
		       const struct ferry_kube_ref *r, const char *ctype, bool force, json_t *body,
		       json_t **out, struct ferry_err *err)
{
	struct ferry_sb q = FERRY_SB_INIT;
	char *what;
	int rc;

	if (out)
		*out = NULL;
	if (named(verb, r, err))
		return -1;
	what = ferry_kube_describe(r);
	write_query(k, &q);
	if (force)
		add_param(&q, "force", "true");
	rc = request(k, verb, method, r, what, q.buf, ctype, body, out, err);
	ferry_sb_release(&q);
	free(what);
	return rc;
}

int ferry_kube_merge_patch(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t *patch,
			   json_t **out, struct ferry_err *err)
{
	return write_named(k, "patch", "PATCH", r, "application/merge-patch+json", false, patch,
			   out, err);
}

int ferry_kube_apply(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t *obj, bool force,
		     json_t **out, struct ferry_err *err)
{
	return write_named(k, "apply", "PATCH", r, "application/apply-patch+yaml", force, obj, out,
			   err);
}

int ferry_kube_replace(struct ferry_kube *k, const struct ferry_kube_ref *r, json_t *obj,
		       json_t **out, struct ferry_err *err)
{
	return write_named(k, "replace", "PUT", r, "application/json", false, obj, out, err);
}

int ferry_kube_update(struct ferry_kube *k, const struct ferry_kube_ref *r, ferry_kube_mutate_fn fn,
		      void *arg, json_t **out, struct ferry_err *err)
{
	if (out)
		*out = NULL;
	for (unsigned i = 1;; i++) {
		json_t *obj;
		int rc;

		if (ferry_kube_get(k, r, &obj, err))
			return -1;
		rc = fn(arg, obj, err);
		if (rc < 0) {
			json_decref(obj);
			return -1;
		}
		if (rc > 0) {
			if (out)
				*out = obj;
			else
				json_decref(obj);
			return 0;
		}
		rc = ferry_kube_replace(k, r, obj, out, err);
		json_decref(obj);
		if (rc == 0)
			return 0;
		if (err->code != FERRY_E_CONFLICT || i >= k->o.max_conflicts)
			return -1;
		ferry_debug("kube: %s", err->msg);
	}
}

int ferry_kube_delete(struct ferry_kube *k, const struct ferry_kube_ref *r, const char *propagation,
		      struct ferry_err *err)
{
	struct ferry_sb q = FERRY_SB_INIT;
	char *what;
	int rc;

	if (named("delete", r, err))
		return -1;
	what = ferry_kube_describe(r);
	add_param(&q, "propagationPolicy", propagation ? propagation : "Background");
	rc = request(k, "delete", "DELETE", r, what, q.buf, NULL, NULL, NULL, err);
	ferry_sb_release(&q);
	free(what);
	return rc;
}

/* ---- pod logs ---------------------------------------------------------------------------- */

int ferry_kube_pod_log(struct ferry_kube *k, const struct ferry_kube_ref *r,
		       const struct ferry_kube_log_opts *lo, char **text, size_t *len,
		       struct ferry_err *err)
{
	struct ferry_kube_ref pod = {FERRY_KUBE_PODS, r->ns, r->name};
	size_t max = lo && lo->max_bytes ? lo->max_bytes : FERRY_KUBE_LOG_MAX;
	struct resp resp = {FERRY_SB_INIT, max, false, ""};
	/* the API server streams logs as text/plain; the catch-all type
	 * after it, as kubectl sends, keeps any content negotiation happy */
	struct call c = {.verb = "get",
			 .method = "GET",
			 .retry_5xx = true,
			 .timeout_s = (long)k->o.timeout_s,
			 .accept = "text/plain, */*"};
	struct ferry_sb q = FERRY_SB_INIT;
	char *what, *desc;
	int rc = -1;

	*text = NULL;
	*len = 0;
	if (named("log", &pod, err) || check_part("namespace", pod.ns, true, err))
		return -1;
	desc = ferry_kube_describe(&pod);
	c.what = what = ferry_xasprintf("%s/log", desc);
	free(desc);
	if (lo) {
		char n[16];

		add_param(&q, "container", lo->container);
		snprintf(n, sizeof n, "%u", lo->tail_lines);
		if (lo->tail_lines)
			add_param(&q, "tailLines", n);
	}
	c.url = make_url_sub(k, &pod, "log", q.buf, err);
	if (!c.url)
		goto out;
	if (exchange(k, &c, &resp, err))
		goto out;
	*len = resp.body.len;
	*text = ferry_sb_detach(&resp.body);
	rc = 0;
out:
	free(c.url);
	free(what);
	ferry_sb_release(&q);
	ferry_sb_release(&resp.body);
	return rc;
}

/* ---- watch ----------------------------------------------------------------------------- */

struct watch {
	struct ferry_kube *k;
	const struct call *c;
	ferry_kube_watch_fn fn;
	void *arg;
	long http;
	struct ferry_sb line;	 /* the event being received */
	struct ferry_sb errbody; /* the answer when it is not 200 */
	size_t events;
	bool stopped, gone, failed;
	struct ferry_err *err;
};

/* One line of the stream: {"type": ..., "object": {...}}. false ends the
 * stream (the callback stopped, the watch expired, or a broken event). */
static bool watch_event(struct watch *w, const char *text, size_t len)
{
	json_t *ev, *obj;
	const char *type;
	json_error_t je;

	while (len && (text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (!len)
		return true;
	ev = json_loadb(text, len, 0, &je);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		ferry_err_set(w->err, FERRY_E_INVALID,
			      "kube: watch %s: event %zu is not an event%s%s", w->c->what,
			      w->events + 1, ev ? "" : ": ", ev ? "" : je.text);
		json_decref(ev);
		w->failed = true;
		return false;
	}
	w->events++;
	if (!strcmp(type, "ERROR")) {
		json_t *code = json_object_get(obj, "code");
		char *body = json_dumps(obj, JSON_COMPACT);
		long http = json_is_integer(code) ? (long)json_integer_value(code) : 500;

		ferry_kube_status_error(w->err, "watch", w->c->what, http, body,
					body ? strlen(body) : 0);
		free(body);
		json_decref(ev);
		if (http == 410)
			w->gone = true;
		else
			w->failed = true;
		return false;
	}
	if (w->fn(w->arg, type, obj)) {
		w->stopped = true;
		json_decref(ev);
		return false;
	}
	json_decref(ev);
	return true;
}

static size_t on_watch(char *p, size_t size, size_t n, void *arg)
{
	struct watch *w = arg;
	size_t len = size * n, done = 0;

	if (!w->http)
		curl_easy_getinfo(w->k->curl, CURLINFO_RESPONSE_CODE, &w->http);
	if (w->http != 200) {
		if (w->errbody.len < ERR_BODY_MAX)
			ferry_sb_add(&w->errbody, p,
				     len < ERR_BODY_MAX - w->errbody.len
					     ? len
					     : ERR_BODY_MAX - w->errbody.len);
		return len;
	}
	while (done < len) {
		char *nl = memchr(p + done, '\n', len - done);
		size_t take = nl ? (size_t)(nl - (p + done)) : len - done;

		if (w->line.len + take > FERRY_KUBE_EVENT_MAX) {
			ferry_err_set(w->err, FERRY_E_LIMIT,
				      "kube: watch %s: an event larger than %u bytes", w->c->what,
				      FERRY_KUBE_EVENT_MAX);
			w->failed = true;
			return 0;
		}
		ferry_sb_add(&w->line, p + done, take);
		done += take;
		if (!nl)
			break;
		done++; /* the newline */
		if (!watch_event(w, w->line.buf, w->line.len))
			return 0;
		ferry_sb_reset(&w->line);
	}
	return len;
}

int ferry_kube_watch(struct ferry_kube *k, const struct ferry_kube_ref *r,
		     const struct ferry_kube_watch_opts *wo, ferry_kube_watch_fn fn, void *arg,
		     struct ferry_err *err)
{
	struct ferry_kube_ref coll = *r;
	struct ferry_sb q = FERRY_SB_INIT;
	struct watch w = {.k = k, .fn = fn, .arg = arg, .err = err};
	unsigned timeout = wo && wo->timeout_s ? wo->timeout_s : WATCH_TIMEOUT_S;
	struct call c = {"watch", "GET", NULL, NULL, NULL, NULL, 0, true, (long)timeout + 30, NULL};
	char tbuf[16], *what;
	bool reauthenticated = false;
	int rc = -1;

	ferry_sb_init(&w.line);
	ferry_sb_init(&w.errbody);
	coll.name = NULL;
	c.what = what = ferry_kube_describe(&coll);
	w.c = &c;
	add_param(&q, "watch", "true");
	if (wo) {
		add_param(&q, "resourceVersion", wo->resource_version);
		add_param(&q, "labelSelector", wo->label_selector);
		add_param(&q, "fieldSelector", wo->field_selector);
		if (wo->bookmarks)
			add_param(&q, "allowWatchBookmarks", "true");
	}
	snprintf(tbuf, sizeof tbuf, "%u", timeout);
	add_param(&q, "timeoutSeconds", tbuf);
	c.url = make_url(k, &coll, q.buf, err);
	if (!c.url)
		goto out;
	for (unsigned attempt = 1;; attempt++) {
		struct curl_slist *headers = NULL;
		char retry_after[32] = "";
		CURLcode cc;

		w.http = 0;
		ferry_sb_reset(&w.line);
		ferry_sb_reset(&w.errbody);
		k->errbuf[0] = '\0';
		if (authenticate(k, &c, err))
			goto out;
		setup(k, &c, &headers);
		curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, on_watch);
		curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, &w);
		curl_easy_setopt(k->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(k->curl, CURLOPT_HEADERDATA, (void *)retry_after);
		cc = curl_easy_perform(k->curl);
		curl_slist_free_all(headers);
		if (!w.http)
			curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &w.http);
		k->last_http = w.http;
		ferry_debug("kube: GET %s: %ld (%s)", c.url, w.http, curl_easy_strerror(cc));
		if (w.stopped) {
			rc = 0;
			goto out;
		}
		if (w.gone) {
			k->last_http = 410;
			rc = FERRY_KUBE_GONE;
			goto out;
		}
		if (w.failed)
			goto out;
		if (cc != CURLE_OK && !(not_sent(cc) && attempt < k->o.max_attempts)) {
			transport_error(k, &c, cc, err);
			goto out;
		}
		if (cc == CURLE_OK && w.http == 200) {
			/* the stream ended; a last event may lack its newline */
			if (w.line.len && !watch_event(&w, w.line.buf, w.line.len)) {
				rc = w.stopped ? 0 : w.gone ? FERRY_KUBE_GONE : -1;
				goto out;
			}
			rc = 0;
			goto out;
		}
		/* every 401 drops a plugin's credential; once, the watch
		 * starts again with a new one */
		if (cc == CURLE_OK && w.http == 401 && exec_refused(k) && !reauthenticated) {
			reauthenticated = true;
			attempt--; /* not a failure to back off from */
			continue;
		}
		if (cc == CURLE_OK && w.http == 410) {
			ferry_kube_status_error(err, "watch", c.what, w.http, w.errbody.buf,
						w.errbody.len);
			rc = FERRY_KUBE_GONE;
			goto out;
		}
		if (cc == CURLE_OK && (!retry_status(&c, w.http) || attempt >= k->o.max_attempts)) {
			ferry_kube_status_error(err, "watch", c.what, w.http, w.errbody.buf,
						w.errbody.len);
			goto out;
		}
		sleep_ms(ferry_kube_backoff_ms(
			attempt, cc == CURLE_OK ? ferry_kube_retry_after(retry_after) : -1,
			k->o.backoff_base_ms, k->o.backoff_max_ms, next_rand(k)));
	}
out:
	free(c.url);
	free(what);
	ferry_sb_release(&q);
	ferry_sb_release(&w.line);
	ferry_sb_release(&w.errbody);
	return rc;
}
