/* reconciler/httpd: a real server on 127.0.0.1 (any free port), driven
 * with libcurl. Every route and status code, webhooks signed here with
 * OpenSSL's HMAC the way GitHub, Gitea and GitLab sign them, the body
 * limit, that trigger runs for accepted pushes only, the webhook counters,
 * and the errors of start (address in use, bad listen strings). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/strbuf.h"
#include "reconciler/httpd.h"
#include "reconciler/metrics.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char secret[] = "It's a Secret to Everybody";

struct server {
	struct ferry_httpd *h;
	struct ferry_metrics *m;
	pthread_mutex_t lock;
	int triggers;
	char scheme[16];
	bool ready;
};

struct reply {
	long status;
	struct ferry_sb body;
	char type[128];
	char allow[64];
	CURLcode rc;
};

static void on_trigger(void *arg, const char *scheme)
{
	struct server *s = arg;

	pthread_mutex_lock(&s->lock);
	s->triggers++;
	snprintf(s->scheme, sizeof s->scheme, "%s", scheme);
	pthread_mutex_unlock(&s->lock);
}

static bool on_ready(void *arg)
{
	struct server *s = arg;
	bool r;

	pthread_mutex_lock(&s->lock);
	r = s->ready;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int triggers(struct server *s, char scheme[16])
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->triggers;
	if (scheme)
		memcpy(scheme, s->scheme, 16);
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int start(struct server *s, const char *secret_or_null)
{
	struct ferry_httpd_opts o = {
		.listen = "127.0.0.1:0",
		.webhook_secret = secret_or_null,
		.trigger = on_trigger,
		.ready = on_ready,
	};
	struct ferry_err err = FERRY_ERR_INIT;

	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	s->ready = true;
	s->m = ferry_metrics_new();
	o.metrics = s->m;
	o.arg = s;
	if (ferry_httpd_start(&s->h, &o, &err) < 0) {
		fprintf(stderr, "start: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	struct server *s = calloc(1, sizeof *s);

	if (!s || start(s, secret) < 0)
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct server *s = *state;

	ferry_httpd_stop(s->h);
	ferry_metrics_free(s->m);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	ferry_sb_add(&((struct reply *)arg)->body, p, size * n);
	return size * n;
}

static void copy_header(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	while (n && *v == ' ')
		v++, n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	if (len > 13 && !strncasecmp(p, "Content-Type:", 13))
		copy_header(r->type, sizeof r->type, p + 13, len - 13);
	else if (len > 6 && !strncasecmp(p, "Allow:", 6))
		copy_header(r->allow, sizeof r->allow, p + 6, len - 6);
	return len;
}

/* Chunked uploads: the body is handed out in pieces with no length. */
struct upload {
	const char *data;
	size_t len, off;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t k = size * n;

	if (k > u->len - u->off)
		k = u->len - u->off;
	memcpy(buf, u->data + u->off, k);
	u->off += k;
	return k;
}

/* method on path, with extra headers (NULL-terminated) and a body (NULL:
 * none); chunked sends the body without Content-Length. */
static void request(struct server *s, struct reply *r, const char *method, const char *path,
		    const char *const *headers, const char *body, size_t len, bool chunked)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct upload u = {body, len, 0};
	char url[128];

	memset(r, 0, sizeof *r);
	ferry_sb_init(&r->body);
	assert_non_null(c);
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", ferry_httpd_port(s->h), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body && chunked) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &u);
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
	} else if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	for (; headers && *headers; headers++)
		hl = curl_slist_append(hl, *headers);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
}

static void get(struct server *s, struct reply *r, const char *path)
{
	request(s, r, "GET", path, NULL, NULL, 0, false);
	assert_int_equal(r->rc, CURLE_OK);
}

/* POST /hooks/git with headers and body; the whole exchange must work. */
static void post(struct server *s, struct reply *r, const char *const *headers, const char *body,
		 size_t len)
{
	request(s, r, "POST", "/hooks/git", headers, body, len, false);
	assert_int_equal(r->rc, CURLE_OK);
}

static void hex_hmac(const char *body, size_t len, char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body,
			     len, mac, &n));
	assert_int_equal(n, 32);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

static void assert_json_error(struct reply *r, long status)
{
	assert_int_equal(r->status, status);
	assert_string_equal(r->type, "application/json");
	assert_true(!strncmp(r->body.buf, "{\"error\": \"", 11));
	assert_true(r->body.len > 14 && !strcmp(r->body.buf + r->body.len - 3, "\"}\n"));
}

static void release(struct reply *r)
{
	ferry_sb_release(&r->body);
}

static void test_health_ready(void **state)
{
	struct server *s = *state;
	struct reply r;

	get(s, &r, "/healthz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.buf, "ok\n");
	assert_string_equal(r.type, "text/plain; charset=utf-8");
	release(&r);

	request(s, &r, "HEAD", "/healthz", NULL, NULL, 0, false);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	release(&r);

	get(s, &r, "/readyz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.buf, "ready\n");
	release(&r);

	pthread_mutex_lock(&s->lock);
	s->ready = false;
	pthread_mutex_unlock(&s->lock);
	get(s, &r, "/readyz");
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body.buf, "not ready\n");
	release(&r);
	pthread_mutex_lock(&s->lock);
	s->ready = true;
	pthread_mutex_unlock(&s->lock);

	/* a query string does not change the route */
	get(s, &r, "/healthz?verbose=1");
	assert_int_equal(r.status, 200);
	release(&r);
}

static void test_metrics_route(void **state)
{
	struct server *s = *state;
	struct reply r;
	char *want;

	ferry_metrics_add_bytes(s->m, 4096);
	get(s, &r, "/metrics");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
	want = ferry_metrics_text(s->m);
	assert_string_equal(r.body.buf, want);
	assert_non_null(strstr(r.body.buf, "\nferry_copied_bytes_total 4096\n"));
	free(want);
	release(&r);
}

/* GETs and accepted webhooks keep the connection open (a scraper reuses
 * it); curl reports 0 new connections for the requests after the first.
 * Runs after the tests that count webhooks from zero. */
static void test_keep_alive(void **state)
{
	struct server *s = *state;
	const char *body = "{}";
	const char *paths[] = {"/metrics", "/healthz", "/nope", "/hooks/git", "/readyz"};
	char url[128], mac[65], github[100];
	struct curl_slist *hl = NULL;
	struct reply r;
	CURL *c = curl_easy_init();

	memset(&r, 0, sizeof r);
	ferry_sb_init(&r.body);
	hex_hmac(body, 2, mac);
	snprintf(github, sizeof github, "X-Hub-Signature-256: sha256=%s", mac);
	hl = curl_slist_append(hl, github);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		long connects = -1;

		snprintf(url, sizeof url, "http://127.0.0.1:%u%s", ferry_httpd_port(s->h),
			 paths[i]);
		curl_easy_setopt(c, CURLOPT_URL, url);
		if (!strcmp(paths[i], "/hooks/git")) {
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		} else {
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		}
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
		assert_int_equal(r.status, !strcmp(paths[i], "/nope")	     ? 404
					   : !strcmp(paths[i], "/hooks/git") ? 202
									     : 200);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		assert_int_equal(connects, i == 0 ? 1 : 0);
	}
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	release(&r);
}

static void test_not_found_and_methods(void **state)
{
	struct server *s = *state;
	struct reply r;

	get(s, &r, "/nope");
	assert_json_error(&r, 404);
	assert_string_equal(r.body.buf, "{\"error\": \"not found\"}\n");
	release(&r);

	get(s, &r, "/hooks/git/");
	assert_json_error(&r, 404);
	release(&r);

	get(s, &r, "/hooks/git");
	assert_json_error(&r, 405);
	assert_string_equal(r.allow, "POST");
	release(&r);

	request(s, &r, "PUT", "/hooks/git", NULL, "{}", 2, false);
	assert_int_equal(r.rc, CURLE_OK);
	assert_json_error(&r, 405);
	assert_string_equal(r.allow, "POST");
	release(&r);

	request(s, &r, "POST", "/metrics", NULL, "x", 1, false);
	assert_int_equal(r.rc, CURLE_OK);
	assert_json_error(&r, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	release(&r);

	request(s, &r, "DELETE", "/healthz", NULL, NULL, 0, false);
	assert_int_equal(r.rc, CURLE_OK);
	assert_json_error(&r, 405);
	release(&r);
	assert_int_equal(triggers(s, NULL), 0);
}

static void test_webhooks(void **state)
{
	struct server *s = *state;
	const char *body = "{\"ref\":\"refs/heads/main\"}";
	size_t len = strlen(body);
	char mac[65], github[100], gitea[100], gitlab[100], scheme[16];
	struct reply r;
	char *text;

	hex_hmac(body, len, mac);
	snprintf(github, sizeof github, "X-Hub-Signature-256: sha256=%s", mac);
	snprintf(gitea, sizeof gitea, "X-Gitea-Signature: %s", mac);
	snprintf(gitlab, sizeof gitlab, "X-Gitlab-Token: %s", secret);

	{
		const char *h[] = {"Content-Type: application/json", "X-GitHub-Event: push", github,
				   NULL};
		post(s, &r, h, body, len);
		assert_int_equal(r.status, 202);
		assert_string_equal(r.type, "application/json");
		assert_string_equal(r.body.buf, "{\"status\": \"accepted\"}\n");
		release(&r);
		assert_int_equal(triggers(s, scheme), 1);
		assert_string_equal(scheme, "github");
	}
	{
		const char *h[] = {"Content-Type: application/json", "X-Gitea-Event: push", gitea,
				   NULL};
		post(s, &r, h, body, len);
		assert_int_equal(r.status, 202);
		release(&r);
		assert_int_equal(triggers(s, scheme), 2);
		assert_string_equal(scheme, "gitea");
	}
	{
		const char *h[] = {"Content-Type: application/json", "X-Gitlab-Event: Push Hook",
				   gitlab, NULL};
		post(s, &r, h, body, len);
		assert_int_equal(r.status, 202);
		release(&r);
		assert_int_equal(triggers(s, scheme), 3);
		assert_string_equal(scheme, "gitlab");
	}
	{
		/* a signed ping is accepted but starts nothing */
		const char *h[] = {"X-GitHub-Event: ping", github, NULL};
		post(s, &r, h, body, len);
		assert_int_equal(r.status, 202);
		assert_string_equal(r.body.buf, "{\"status\": \"pong\"}\n");
		release(&r);
		assert_int_equal(triggers(s, NULL), 3);
	}
	{
		/* the signature of another body */
		const char *h[] = {"X-GitHub-Event: push", github, NULL};
		post(s, &r, h, "{}", 2);
		assert_json_error(&r, 401);
		release(&r);
	}
	{
		const char *h[] = {"X-Gitlab-Token: It's a Secret to Everybodz", NULL};
		post(s, &r, h, body, len);
		assert_json_error(&r, 401);
		release(&r);
	}
	{
		/* an unsigned ping does not pass either */
		const char *h[] = {"X-GitHub-Event: ping", NULL};
		post(s, &r, h, body, len);
		assert_json_error(&r, 401);
		assert_non_null(strstr(r.body.buf, "no signature"));
		release(&r);
	}
	assert_int_equal(triggers(s, NULL), 3);

	text = ferry_metrics_text(s->m);
	assert_non_null(strstr(text, "ferry_webhook_requests_total{result=\"accepted\"} 4\n"
				     "ferry_webhook_requests_total{result=\"rejected\"} 2\n"
				     "ferry_webhook_requests_total{result=\"unconfigured\"} 0\n"
				     "ferry_webhook_requests_total{result=\"unsigned\"} 1\n"));
	free(text);
}

static void test_body_limit(void **state)
{
	struct server *s = *state;
	size_t max = FERRY_HTTPD_MAX_BODY;
	char *big = malloc(max + 2), mac[65], github[100];
	const char *h[] = {github, NULL};
	const char *no_expect[] = {github, "Expect:", NULL};
	struct reply r;
	int before = triggers(s, NULL), rejected;
	char *text, want[96], *p;

	text = ferry_metrics_text(s->m);
	p = strstr(text, "ferry_webhook_requests_total{result=\"rejected\"} ");
	assert_non_null(p);
	rejected = atoi(p + strlen("ferry_webhook_requests_total{result=\"rejected\"} "));
	free(text);
	assert_non_null(big);
	memset(big, 'a', max + 1);
	big[max + 1] = 0;

	/* exactly the limit is fine */
	hex_hmac(big, max, mac);
	snprintf(github, sizeof github, "X-Hub-Signature-256: sha256=%s", mac);
	post(s, &r, h, big, max);
	assert_int_equal(r.status, 202);
	release(&r);
	assert_int_equal(triggers(s, NULL), before + 1);

	/* one byte more: refused from Content-Length, signed or not; with
	 * "Expect: 100-continue" (curl's default for big bodies) and without */
	hex_hmac(big, max + 1, mac);
	snprintf(github, sizeof github, "X-Hub-Signature-256: sha256=%s", mac);
	post(s, &r, h, big, max + 1);
	assert_json_error(&r, 413);
	release(&r);
	request(s, &r, "POST", "/hooks/git", no_expect, big, max + 1, false);
	if (r.rc == CURLE_OK)
		assert_json_error(&r, 413);
	else /* the server may close before curl has sent everything */
		assert_int_equal(r.rc, CURLE_SEND_ERROR);
	release(&r);

	/* chunked, with no length: cut off once the limit is passed (MHD
	 * cannot answer in the middle of an upload) */
	request(s, &r, "POST", "/hooks/git", h, big, max + 1, true);
	assert_true(r.rc == CURLE_GOT_NOTHING || r.rc == CURLE_SEND_ERROR ||
		    r.rc == CURLE_RECV_ERROR);
	release(&r);
	text = ferry_metrics_text(s->m);
	snprintf(want, sizeof want, "ferry_webhook_requests_total{result=\"rejected\"} %d\n",
		 rejected + 3);
	assert_non_null(strstr(text, want));
	free(text);

	/* chunked and within the limit: accepted */
	hex_hmac(big, 1000, mac);
	snprintf(github, sizeof github, "X-Hub-Signature-256: sha256=%s", mac);
	request(s, &r, "POST", "/hooks/git", h, big, 1000, true);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 202);
	release(&r);
	assert_int_equal(triggers(s, NULL), before + 2);
	free(big);
}

static void test_unconfigured(void **state)
{
	struct server s;
	struct reply r;
	const char *h[] = {"X-Gitlab-Token: anything", NULL};
	char *text;
	(void)state;

	assert_int_equal(start(&s, NULL), 0);
	post(&s, &r, h, "{}", 2);
	assert_json_error(&r, 403);
	release(&r);
	post(&s, &r, NULL, "{}", 2);
	assert_json_error(&r, 403);
	release(&r);
	assert_int_equal(triggers(&s, NULL), 0);
	text = ferry_metrics_text(s.m);
	assert_non_null(strstr(text, "ferry_webhook_requests_total{result=\"unconfigured\"} 2\n"));
	free(text);
	ferry_httpd_stop(s.h);
	ferry_metrics_free(s.m);
	pthread_mutex_destroy(&s.lock);
}

static void test_address_in_use(void **state)
{
	struct server *s = *state;
	struct ferry_httpd *h2 = NULL;
	struct ferry_httpd_opts o = {0};
	struct ferry_err err = FERRY_ERR_INIT;
	char listen[64], want[128];

	snprintf(listen, sizeof listen, "127.0.0.1:%u", ferry_httpd_port(s->h));
	o.listen = listen;
	assert_int_equal(ferry_httpd_start(&h2, &o, &err), -1);
	assert_int_equal(err.code, FERRY_E_EXISTS);
	snprintf(want, sizeof want, "listen %s: Address already in use", listen);
	assert_string_equal(err.msg, want);
	assert_null(h2);

	/* the first server is still serving */
	{
		struct reply r;

		get(s, &r, "/healthz");
		assert_int_equal(r.status, 200);
		release(&r);
	}
}

static void test_bad_listen(void **state)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",  "127.0.0.1:x",  ":8080", "::1:8080",
		"[::1]8080", "[]:8080",	   "127.0.0.1:123456", "127.0.0.1:-1", "",
	};
	struct ferry_httpd_opts o = {0};
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ferry_httpd *h = NULL;
		struct ferry_err err = FERRY_ERR_INIT;

		o.listen = bad[i];
		assert_int_equal(ferry_httpd_start(&h, &o, &err), -1);
		assert_int_equal(err.code, FERRY_E_INVALID);
		assert_non_null(strstr(err.msg, "expected HOST:PORT or [ADDRESS]:PORT"));
	}
	{
		struct ferry_httpd *h = NULL;
		struct ferry_err err = FERRY_ERR_INIT;

		o.listen = "no-such-host.invalid:8080";
		assert_int_equal(ferry_httpd_start(&h, &o, &err), -1);
		assert_true(err.code == FERRY_E_INVALID || err.code == FERRY_E_RETRYABLE);
		assert_true(
			!strncmp(err.msg, "listen no-such-host.invalid:8080: cannot resolve", 48));
	}
}

/* [::1] when the machine has IPv6 loopback; also: no metrics registry. */
static void test_ipv6(void **state)
{
	struct ferry_httpd_opts o = {.listen = "[::1]:0"};
	struct ferry_httpd *h = NULL;
	struct ferry_err err = FERRY_ERR_INIT;
	CURL *c;
	char url[64];
	long status = 0;
	(void)state;

	if (ferry_httpd_start(&h, &o, &err) < 0) {
		assert_int_equal(err.code, FERRY_E_IO); /* no IPv6 here */
		skip();
	}
	assert_true(ferry_httpd_port(h) > 0);
	c = curl_easy_init();
	snprintf(url, sizeof url, "http://[::1]:%u/metrics", ferry_httpd_port(h));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 200);
	curl_easy_cleanup(c);
	ferry_httpd_stop(h);
	ferry_httpd_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_ready),
		cmocka_unit_test(test_metrics_route),
		cmocka_unit_test(test_not_found_and_methods),
		cmocka_unit_test(test_webhooks),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_unconfigured),
		cmocka_unit_test(test_address_in_use),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_ipv6),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
