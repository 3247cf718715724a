#include "reconciler/httpd.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "reconciler/webhook.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct ferry_httpd {
	struct MHD_Daemon *daemon;
	char *secret;
	struct ferry_metrics *metrics;
	struct ferry_metrics *own_metrics; /* when opts.metrics was NULL */
	void (*trigger)(void *arg, const char *scheme);
	bool (*ready)(void *arg);
	void *arg;
	unsigned port;
};

/* One request's state, from its first call to MHD's "completed". */
struct request {
	bool started; /* the headers-only first call has been seen */
	bool done;    /* a response is queued: ignore whatever else comes */
	struct ferry_sb body;
};

/* Every response body is a fresh malloc'd copy that MHD frees, so no const
 * buffer is ever handed to MHD's non-const API. */
static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type,
			       char *body, const char *allow)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return respond(c, status, "text/plain; charset=utf-8", ferry_xstrdup(text), NULL);
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status, const char *key,
				    const char *value, const char *allow)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	ferry_sb_addf(&sb, "{\"%s\": ", key);
	ferry_sb_add_quoted(&sb, value);
	ferry_sb_adds(&sb, "}\n");
	return respond(c, status, "application/json", ferry_sb_detach(&sb), allow);
}

static void client_address(struct MHD_Connection *c, char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	socklen_t len = sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							: sizeof(struct sockaddr_in);

	if (!sa || getnameinfo(sa, len, buf, (socklen_t)n, NULL, 0, NI_NUMERICHOST))
		snprintf(buf, n, "?");
}

static const char *header(const char *name, void *arg)
{
	return MHD_lookup_connection_value(arg, MHD_HEADER_KIND, name);
}

/* The end of POST /hooks/git: the whole body is in r->body. */
static enum MHD_Result hook_verdict(struct ferry_httpd *h, struct MHD_Connection *c,
				    struct request *r)
{
	const char *scheme = NULL, *event;
	char from[INET6_ADDRSTRLEN + 8];
	enum ferry_webhook_verdict v =
		ferry_webhook_verify(h->secret, r->body.buf, r->body.len, header, c, &scheme);

	client_address(c, from, sizeof from);
	switch (v) {
	case FERRY_WEBHOOK_NO_SIGNATURE:
		ferry_metrics_webhook(h->metrics, "unsigned");
		ferry_warn("webhook from %s: no signature header", from);
		return respond_json(c, MHD_HTTP_UNAUTHORIZED, "error",
				    "no signature: expected X-Hub-Signature-256, "
				    "X-Gitea-Signature or X-Gitlab-Token",
				    NULL);
	case FERRY_WEBHOOK_BAD:
		ferry_metrics_webhook(h->metrics, "rejected");
		ferry_warn("webhook from %s: the %s signature does not match", from,
			   scheme ? scheme : "?");
		return respond_json(c, MHD_HTTP_UNAUTHORIZED, "error", "signature does not match",
				    NULL);
	case FERRY_WEBHOOK_OK: break;
	}
	ferry_metrics_webhook(h->metrics, "accepted");
	/* GitHub sends a ping when a hook is created: proof that the secret
	 * works, but nothing was pushed */
	event = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-GitHub-Event");
	if (event && !strcasecmp(event, "ping")) {
		ferry_info("webhook from %s: %s ping", from, scheme);
		return respond_json(c, MHD_HTTP_ACCEPTED, "status", "pong", NULL);
	}
	ferry_info("webhook from %s: accepted (%s)", from, scheme);
	if (h->trigger)
		h->trigger(h->arg, scheme);
	return respond_json(c, MHD_HTTP_ACCEPTED, "status", "accepted", NULL);
}

/* A body over the limit: 413 when Content-Length says so up front. A
 * chunked body is only found too big in the middle of the upload, where MHD
 * can no longer queue a response: the connection is closed instead. */
static enum MHD_Result too_large(struct ferry_httpd *h, struct MHD_Connection *c, struct request *r,
				 bool mid_upload)
{
	char from[INET6_ADDRSTRLEN + 8];

	r->done = true;
	ferry_metrics_webhook(h->metrics, "rejected");
	client_address(c, from, sizeof from);
	ferry_warn("webhook from %s: body larger than 1 MiB", from);
	if (mid_upload)
		return MHD_NO;
	return respond_json(c, MHD_HTTP_CONTENT_TOO_LARGE, "error", "body larger than 1 MiB", NULL);
}

static enum MHD_Result hook(struct ferry_httpd *h, struct MHD_Connection *c, const char *upload,
			    size_t *upload_size, struct request *r)
{
	if (!r->started) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);

		r->started = true;
		/* answer before the body is read: MHD then sends no
		 * "100 Continue" and does not read the body */
		if (!h->secret) {
			r->done = true;
			ferry_metrics_webhook(h->metrics, "unconfigured");
			return respond_json(c, MHD_HTTP_FORBIDDEN, "error",
					    "no webhook secret is configured", NULL);
		}
		if (cl && strtoull(cl, NULL, 10) > FERRY_HTTPD_MAX_BODY)
			return too_large(h, c, r, false);
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (n > FERRY_HTTPD_MAX_BODY - r->body.len) /* chunked, no Content-Length */
			return too_large(h, c, r, true);
		ferry_sb_add(&r->body, upload, n);
		return MHD_YES;
	}
	r->done = true;
	return hook_verdict(h, c, r);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct ferry_httpd *h = cls;
	struct request *r = *con_cls;
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);

	(void)version;
	if (!r) {
		r = ferry_xcalloc(1, sizeof *r);
		ferry_sb_init(&r->body);
		*con_cls = r;
	}
	if (r->done) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/hooks/git")) {
		if (!strcmp(method, MHD_HTTP_METHOD_POST))
			return hook(h, c, upload, upload_size, r);
		r->done = true;
		return respond_json(c, MHD_HTTP_METHOD_NOT_ALLOWED, "error",
				    "method not allowed: use POST", "POST");
	}
	if (!get) {
		/* answered before any body is read; MHD closes the connection */
		r->done = true;
		if (strcmp(url, "/metrics") && strcmp(url, "/healthz") && strcmp(url, "/readyz"))
			return respond_json(c, MHD_HTTP_NOT_FOUND, "error", "not found", NULL);
		return respond_json(c, MHD_HTTP_METHOD_NOT_ALLOWED, "error",
				    "method not allowed: use GET", "GET, HEAD");
	}
	/* a GET is answered once the whole request is in, so that the
	 * connection can stay open for the next scrape (a response queued
	 * with the headers makes MHD close it) */
	if (!r->started) {
		r->started = true;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* a body on a GET means nothing */
		return MHD_YES;
	}
	r->done = true;
	if (strcmp(url, "/metrics") && strcmp(url, "/healthz") && strcmp(url, "/readyz"))
		return respond_json(c, MHD_HTTP_NOT_FOUND, "error", "not found", NULL);
	if (!strcmp(url, "/metrics"))
		return respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			       ferry_metrics_text(h->metrics), NULL);
	if (!strcmp(url, "/healthz"))
		return respond_text(c, MHD_HTTP_OK, "ok\n");
	if (!h->ready || h->ready(h->arg))
		return respond_text(c, MHD_HTTP_OK, "ready\n");
	return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;

	(void)cls, (void)c, (void)toe;
	if (!r)
		return;
	ferry_sb_release(&r->body);
	free(r);
	*con_cls = NULL;
}

/* MHD's own messages (a client that went away, a malformed request) are
 * about connections, not the daemon: info, not warnings. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof buf, fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	ferry_info("http: %s", buf);
}

/* HOST:PORT or [ADDRESS]:PORT into host and port (both in buf), port 0 to
 * 65535. */
static int split_listen(const char *addr, char *buf, size_t n, const char **host, const char **port,
			bool *numeric, struct ferry_err *err)
{
	char *p;

	if (!addr || strlen(addr) >= n)
		goto bad;
	strcpy(buf, addr);
	*numeric = buf[0] == '[';
	if (*numeric) {
		char *close = strchr(buf, ']');

		if (!close || close == buf + 1 || close[1] != ':')
			goto bad;
		*close = 0;
		*host = buf + 1;
		p = close + 2;
	} else {
		char *colon = strrchr(buf, ':');

		if (!colon || colon == buf || memchr(buf, ':', (size_t)(colon - buf)))
			goto bad;
		*colon = 0;
		*host = buf;
		p = colon + 1;
	}
	*port = p;
	if (!*p || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p) || atoi(p) > 65535)
		goto bad;
	return 0;
bad:
	return ferry_err_set(err, FERRY_E_INVALID,
			     "listen '%s': expected HOST:PORT or [ADDRESS]:PORT", addr ? addr : "");
}

/* A listening socket on the first address of HOST that binds, its port
 * in *port; -1 with err set. */
static int bind_listen(const char *addr, unsigned *port, struct ferry_err *err)
{
	char buf[300];
	const char *host = NULL, *service = NULL;
	bool numeric = false;
	struct addrinfo hints = {0}, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	int fd = -1, e, saved = 0;

	if (split_listen(addr, buf, sizeof buf, &host, &service, &numeric, err) < 0)
		return -1;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
	e = getaddrinfo(host, service, &hints, &res);
	if (e)
		return ferry_err_set(err, e == EAI_AGAIN ? FERRY_E_RETRYABLE : FERRY_E_INVALID,
				     "listen %s: cannot resolve '%s': %s", addr, host,
				     e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		/* a restarted daemon can bind while old connections linger in
		 * TIME_WAIT; on Linux this never lets two servers share a
		 * port */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) &&
		    !listen(fd, FERRY_HTTPD_MAX_CONNECTIONS) &&
		    !getsockname(fd, (struct sockaddr *)&ss, &sslen))
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ferry_err_set(err, saved == EADDRINUSE ? FERRY_E_EXISTS : FERRY_E_IO,
				     "listen %s: %s", addr, strerror(saved));
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int ferry_httpd_start(struct ferry_httpd **out, const struct ferry_httpd_opts *o,
		      struct ferry_err *err)
{
	struct ferry_httpd *h;
	int fd;
	unsigned port = 0;

	fd = bind_listen(o->listen, &port, err);
	if (fd < 0)
		return -1;
	h = ferry_xcalloc(1, sizeof *h);
	h->secret =
		o->webhook_secret && *o->webhook_secret ? ferry_xstrdup(o->webhook_secret) : NULL;
	h->metrics = o->metrics;
	if (!h->metrics)
		h->metrics = h->own_metrics = ferry_metrics_new();
	h->trigger = o->trigger;
	h->ready = o->ready;
	h->arg = o->arg;
	h->port = port;
	h->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_LISTEN_SOCKET,
		(MHD_socket)fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)FERRY_HTTPD_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)FERRY_HTTPD_MAX_CONNECTIONS,
		MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_END);
	if (!h->daemon) {
		close(fd);
		ferry_httpd_stop(h);
		return ferry_err_set(err, FERRY_E_IO, "listen %s: cannot start the HTTP server",
				     o->listen);
	}
	*out = h;
	return 0;
}

unsigned ferry_httpd_port(const struct ferry_httpd *h)
{
	return h->port;
}

void ferry_httpd_stop(struct ferry_httpd *h)
{
	if (!h)
		return;
	if (h->daemon)
		MHD_stop_daemon(h->daemon); /* joins the thread, closes the socket */
	if (h->secret) {
		explicit_bzero(h->secret, strlen(h->secret));
		free(h->secret);
	}
	ferry_metrics_free(h->own_metrics);
	free(h);
}
