/* The daemon's HTTP endpoints (libmicrohttpd, one internal thread):
 *
 *   POST /hooks/git  a forge's push notification, authenticated with
 *                    ferry_webhook_verify(); 202 when accepted
 *   GET  /metrics    ferry_metrics_text(), Prometheus text format 0.0.4
 *   GET  /healthz    200 "ok\n" while the server runs
 *   GET  /readyz     200 "ready\n" or 503 "not ready\n", as opts.ready says
 *
 * Status codes of POST /hooks/git, in the order they are checked: 403 no
 * secret is configured, 413 Content-Length is over FERRY_HTTPD_MAX_BODY,
 * 401 no signature header or a signature that does not match, 202 accepted
 * (a GitHub ping, X-GitHub-Event: ping, is accepted without calling
 * trigger). A chunked body (no Content-Length) that grows past the limit
 * gets no answer: libmicrohttpd cannot queue a response in the middle of an
 * upload, so the connection is closed. Any other method on a known path is 405 with an Allow
 * header; an unknown path is 404. Error bodies are {"error": "..."} as application/json. Each
 * webhook request is counted with ferry_metrics_webhook(): "unconfigured" (403), "rejected" (413 or
 * a bad signature), "unsigned" (no signature header), "accepted" (202).
 *
 * Neither the secret nor a request body is ever logged.
 */
#ifndef FERRY_RECONCILER_HTTPD_H
#define FERRY_RECONCILER_HTTPD_H

#include "common/err.h"
#include "reconciler/metrics.h"

#include <stdbool.h>

#define FERRY_HTTPD_MAX_BODY	    (1024 * 1024)
#define FERRY_HTTPD_TIMEOUT_S	    10 /* a connection idle this long is closed */
#define FERRY_HTTPD_MAX_CONNECTIONS 64

struct ferry_httpd_opts {
	/* "HOST:PORT" or "[ADDRESS]:PORT", as [daemon] listen in ferry.ini;
	 * port 0 binds any free port (tests). HOST is resolved with
	 * getaddrinfo() and the server binds the first address that works,
	 * exactly that one: never the wildcard unless HOST is 0.0.0.0 or [::]. */
	const char *listen;
	/* The shared secret itself, or NULL (or ""): /hooks/git then refuses
	 * every request with 403. Copied by start. */
	const char *webhook_secret;
	/* Where /metrics reads from and webhook results are counted; NULL
	 * serves an empty registry. Borrowed: it must outlive the server. */
	struct ferry_metrics *metrics;
	/* An authenticated webhook arrived; scheme is "github", "gitea" or
	 * "gitlab". Called on the server's thread while the client waits, so
	 * it must be quick (write a byte to a pipe). May be NULL. */
	void (*trigger)(void *arg, const char *scheme);
	/* For /readyz, on the server's thread; NULL = always ready. */
	bool (*ready)(void *arg);
	void *arg;
};

struct ferry_httpd;

/* Bind o->listen and start serving. On success *out is the running server
 * (stop it with ferry_httpd_stop). Errors name the address and the reason:
 * FERRY_E_INVALID for a malformed listen or a name that does not resolve,
 * FERRY_E_EXISTS when the address is in use, FERRY_E_IO otherwise. */
int ferry_httpd_start(struct ferry_httpd **out, const struct ferry_httpd_opts *o,
		      struct ferry_err *err);

/* The port actually bound (useful with port 0). */
unsigned ferry_httpd_port(const struct ferry_httpd *h);

/* Stop serving, wait for the server's thread, close the socket and free h.
 * No callback runs after it returns. NULL is ignored. */
void ferry_httpd_stop(struct ferry_httpd *h);

#endif
