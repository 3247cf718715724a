#include "soap.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/time.h"
#include "common/util.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_SOAPENV "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_XSI	   "http://www.w3.org/2001/XMLSchema-instance"

/* ---- building requests -------------------------------------------------------- */

/* Length of the UTF-8 sequence at p (1-4), or 0 when it is not one that
 * XML 1.0 allows (overlong, surrogate, beyond U+10FFFF, U+FFFE/U+FFFF). */
static size_t utf8_len(const unsigned char *p)
{
	uint32_t c;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		c = p[0] & 0x1fu;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0fu;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		c = p[0] & 0x07u;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3fu);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
		return 0;
	return n;
}

int vs_xml_escape(struct ferry_sb *sb, const char *s, const char *what, struct ferry_err *err)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n;

		switch (*p) {
		case '&': ferry_sb_adds(sb, "&amp;"); break;
		case '<': ferry_sb_adds(sb, "&lt;"); break;
		case '>': ferry_sb_adds(sb, "&gt;"); break;
		case '"': ferry_sb_adds(sb, "&quot;"); break;
		case '\'': ferry_sb_adds(sb, "&apos;"); break;
		case '\t': ferry_sb_adds(sb, "&#9;"); break;
		case '\n': ferry_sb_adds(sb, "&#10;"); break;
		case '\r': ferry_sb_adds(sb, "&#13;"); break;
		default:
			if (*p < 0x20)
				return ferry_err_set(err, FERRY_E_INVALID,
						     "%s holds a control character (0x%02x) that "
						     "XML cannot carry",
						     what, *p);
			n = utf8_len(p);
			if (!n)
				return ferry_err_set(err, FERRY_E_INVALID,
						     "%s is not valid UTF-8 (or holds a character "
						     "XML cannot carry)",
						     what);
			ferry_sb_add(sb, p, n);
			p += n;
			continue;
		}
		p++;
	}
	return 0;
}

int vs_add_text(struct ferry_sb *sb, const char *name, const char *value, struct ferry_err *err)
{
	ferry_sb_addf(sb, "<%s>", name);
	if (vs_xml_escape(sb, value ? value : "", name, err))
		return -1;
	ferry_sb_addf(sb, "</%s>", name);
	return 0;
}

int vs_add_moref(struct ferry_sb *sb, const char *name, const char *type, const char *value,
		 struct ferry_err *err)
{
	ferry_sb_addf(sb, "<%s type=\"", name);
	if (vs_xml_escape(sb, type, name, err))
		return -1;
	ferry_sb_adds(sb, "\">");
	if (vs_xml_escape(sb, value ? value : "", name, err))
		return -1;
	ferry_sb_addf(sb, "</%s>", name);
	return 0;
}

char *vs_envelope(const char *method, const char *body)
{
	return ferry_xasprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
			       "<soapenv:Envelope xmlns:soapenv=\"" NS_SOAPENV "\""
			       " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
			       " xmlns:xsi=\"" NS_XSI "\">"
			       "<soapenv:Body><%s xmlns=\"" VS_NS_VIM25 "\">%s</%s></soapenv:Body>"
			       "</soapenv:Envelope>",
			       method, body ? body : "", method);
}

/* ---- reading replies -------------------------------------------------------------- */

static bool in_ns(const xmlNode *n, const char *ns)
{
	return n->ns && n->ns->href && !strcmp((const char *)n->ns->href, ns);
}

static bool is_el(const xmlNode *n, const char *ns, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && in_ns(n, ns) &&
	       (!name || !strcmp((const char *)n->name, name));
}

bool vs_is(const struct _xmlNode *n, const char *name)
{
	return is_el(n, VS_NS_VIM25, name);
}

static xmlNode *first_el(const xmlNode *n, const char *ns, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    (ns ? is_el(c, ns, name) : !c->ns && !strcmp((const char *)c->name, name)))
			return c;
	return NULL;
}

struct _xmlNode *vs_child(const struct _xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is_el(c, VS_NS_VIM25, name))
			return c;
	return NULL;
}

struct _xmlNode *vs_next(const struct _xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->next : NULL; c; c = c->next)
		if (is_el(c, VS_NS_VIM25, name))
			return c;
	return NULL;
}

char *vs_text(const struct _xmlNode *n)
{
	xmlChar *t;
	char *ret;

	if (!n)
		return NULL;
	t = xmlNodeGetContent(n);
	ret = ferry_xstrdup(t ? (const char *)t : "");
	xmlFree(t);
	return ret;
}

char *vs_child_text(const struct _xmlNode *n, const char *name)
{
	return vs_text(vs_child(n, name));
}

bool vs_child_true(const struct _xmlNode *n, const char *name)
{
	char *t = vs_child_text(n, name);
	bool yes = t && (!strcmp(t, "true") || !strcmp(t, "1"));

	free(t);
	return yes;
}

int vs_child_u64(const struct _xmlNode *n, const char *name, uint64_t *out)
{
	char *t = vs_child_text(n, name), *end;
	unsigned long long v;
	int rc = 0;

	*out = 0;
	if (!t)
		return 0;
	errno = 0;
	v = strtoull(t, &end, 10);
	if (!isdigit((unsigned char)*t) || *end || errno)
		rc = -1;
	else
		*out = (uint64_t)v;
	free(t);
	return rc;
}

void vs_xsi_type(const struct _xmlNode *n, char *buf, size_t size)
{
	xmlChar *v = n ? xmlGetNsProp(n, (const xmlChar *)"type", (const xmlChar *)NS_XSI) : NULL;
	const char *t = (const char *)v, *colon;

	if (size)
		buf[0] = '\0';
	if (!v)
		return;
	colon = strrchr(t, ':');
	snprintf(buf, size, "%s", colon ? colon + 1 : t);
	xmlFree(v);
}

char *vs_moref_type(const struct _xmlNode *n)
{
	xmlChar *v = n ? xmlGetNoNsProp(n, (const xmlChar *)"type") : NULL;
	char *ret = v ? ferry_xstrdup((const char *)v) : NULL;

	xmlFree(v);
	return ret;
}

/* ---- faults ------------------------------------------------------------------------- */

enum ferry_errcode vs_fault_code(const char *f)
{
	static const struct {
		const char *name;
		enum ferry_errcode code;
	} map[] = {
		{"InvalidLogin", FERRY_E_AUTH},
		{"NotAuthenticated", FERRY_E_AUTH},
		{"NoPermission", FERRY_E_AUTH},
		{"NoPermissionOnHost", FERRY_E_AUTH},
		{"ManagedObjectNotFound", FERRY_E_NOT_FOUND},
		{"NotFound", FERRY_E_NOT_FOUND},
		{"FileNotFound", FERRY_E_NOT_FOUND},
		{"TaskInProgress", FERRY_E_RETRYABLE},
		{"HostCommunication", FERRY_E_RETRYABLE},
		{"HostNotConnected", FERRY_E_RETRYABLE},
		{"HostNotReachable", FERRY_E_RETRYABLE},
		{"ResourceInUse", FERRY_E_RETRYABLE},
		{"Timedout", FERRY_E_TIMEOUT},
		{"RequestCanceled", FERRY_E_CANCELLED},
		{"InvalidArgument", FERRY_E_INVALID},
		{"InvalidRequest", FERRY_E_INVALID},
		{"InvalidProperty", FERRY_E_INVALID},
		{"InvalidType", FERRY_E_INVALID},
		{"InvalidName", FERRY_E_INVALID},
		{"NotSupported", FERRY_E_UNSUPPORTED},
		{"MethodNotFound", FERRY_E_UNSUPPORTED},
		{"NotImplemented", FERRY_E_UNSUPPORTED},
		{"InvalidPowerState", FERRY_E_CONFLICT},
		{"InvalidState", FERRY_E_CONFLICT},
		{"ConcurrentAccess", FERRY_E_CONFLICT},
		{"DuplicateName", FERRY_E_EXISTS},
		{"AlreadyExists", FERRY_E_EXISTS},
		{"SSLVerifyFault", FERRY_E_CERTIFICATE},
	};

	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (!strcmp(f, map[i].name))
			return map[i].code;
	return FERRY_E_IO;
}

/* The fault type of a detail element: its xsi:type, else its name without
 * the "Fault" suffix. */
static void fault_type(const xmlNode *d, char *buf, size_t size)
{
	vs_xsi_type(d, buf, size);
	if (!*buf && d) {
		size_t n = strlen((const char *)d->name);
		if (n > 5 && !strcmp((const char *)d->name + n - 5, "Fault"))
			n -= 5;
		snprintf(buf, size, "%.*s", (int)n, (const char *)d->name);
	}
}

/* Printable, one line, at most max bytes: a fault string is the server's
 * text. */
static void clean_line(char *s, size_t max)
{
	size_t n = strlen(s);

	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
	while (n && s[n - 1] == ' ')
		s[--n] = '\0';
	if (n > max)
		s[max] = '\0';
}

static int soap_fault(const char *method, const xmlNode *fault, struct vs_reply *r,
		      struct ferry_err *err)
{
	xmlNode *detail = first_el(fault, NULL, "detail"), *d = NULL;
	char *fs = vs_text(first_el(fault, NULL, "faultstring"));
	int rc;

	for (xmlNode *c = detail ? detail->children : NULL; c && !d; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			d = c;
	fault_type(d, r->fault, sizeof r->fault);
	clean_line(r->fault, sizeof r->fault - 1);
	if (d && !strcmp(r->fault, "ManagedObjectNotFound")) {
		char *obj = vs_child_text(d, "obj");
		snprintf(r->fault_obj, sizeof r->fault_obj, "%s", obj ? obj : "");
		free(obj);
	}
	if (fs)
		clean_line(fs, 300);
	if (!*r->fault)
		rc = ferry_err_set(err, FERRY_E_IO, "vsphere: %s: %s", method,
				   fs && *fs ? fs : "SOAP fault without a detail");
	else if (fs && *fs)
		rc = ferry_err_set(err, vs_fault_code(r->fault), "vsphere: %s: %s: %s", method,
				   r->fault, fs);
	else
		rc = ferry_err_set(err, vs_fault_code(r->fault), "vsphere: %s: %s", method,
				   r->fault);
	free(fs);
	return rc;
}

void vs_method_fault(const struct _xmlNode *lmf, const char *what, char fault[VS_FAULT_MAX],
		     struct ferry_err *err)
{
	xmlNode *f = vs_child(lmf, "fault");
	char *msg = vs_child_text(lmf, "localizedMessage");

	fault_type(f, fault, VS_FAULT_MAX);
	if (!*fault)
		snprintf(fault, VS_FAULT_MAX, "%s", "SystemError");
	clean_line(fault, VS_FAULT_MAX - 1);
	if (msg)
		clean_line(msg, 300);
	if (msg && *msg)
		ferry_err_set(err, vs_fault_code(fault), "vsphere: %s: %s: %s", what, fault, msg);
	else
		ferry_err_set(err, vs_fault_code(fault), "vsphere: %s: %s", what, fault);
	free(msg);
}

/* vcsim (and vCenter, for some properties) report a dead session inside a
 * RetrieveProperties reply: objects/missingSet/fault/fault of type
 * NotAuthenticated. */
static bool object_not_authenticated(const xmlNode *o)
{
	for (xmlNode *m = vs_child(o, "missingSet"); m; m = vs_next(m, "missingSet")) {
		char t[VS_FAULT_MAX];
		vs_xsi_type(vs_child(vs_child(m, "fault"), "fault"), t, sizeof t);
		if (!strcmp(t, "NotAuthenticated"))
			return true;
	}
	return false;
}

static bool missing_not_authenticated(const xmlNode *resp)
{
	for (xmlNode *rv = vs_child(resp, "returnval"); rv; rv = vs_next(rv, "returnval")) {
		if (object_not_authenticated(rv)) /* RetrieveProperties: ObjectContent */
			return true;
		for (xmlNode *o = vs_child(rv, "objects"); o; o = vs_next(o, "objects"))
			if (object_not_authenticated(o))
				return true;
	}
	return false;
}

int vs_parse_reply(const char *method, long status, const char *buf, size_t len, struct vs_reply *r,
		   struct ferry_err *err)
{
	xmlParserCtxt *ctxt;
	xmlNode *root, *body, *el = NULL;
	char want[128];

	memset(r, 0, sizeof *r);
	if (len > VS_REPLY_MAX)
		return ferry_err_set(err, FERRY_E_LIMIT, "vsphere: %s: reply larger than %d bytes",
				     method, VS_REPLY_MAX);
	if (!(ctxt = xmlNewParserCtxt()))
		abort();
	if (len)
		r->doc = xmlCtxtReadMemory(ctxt, buf, (int)len, "reply.xml", NULL,
					   XML_PARSE_NONET | XML_PARSE_NOERROR |
						   XML_PARSE_NOWARNING);
	if (!r->doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[160] = "empty";
		if (e && e->message) {
			snprintf(msg, sizeof msg, "line %d: %s", e->line, e->message);
			clean_line(msg, sizeof msg - 1);
		}
		xmlFreeParserCtxt(ctxt);
		if (status != 200)
			return ferry_err_set(err, status >= 500 ? FERRY_E_RETRYABLE : FERRY_E_IO,
					     "vsphere: %s: HTTP %ld", method, status);
		return ferry_err_set(err, FERRY_E_IO, "vsphere: %s: the reply is not XML (%s)",
				     method, msg);
	}
	xmlFreeParserCtxt(ctxt);
	if (r->doc->intSubset || r->doc->extSubset) {
		ferry_err_set(err, FERRY_E_INVALID, "vsphere: %s: the reply has a DTD", method);
		goto bad;
	}
	root = xmlDocGetRootElement(r->doc);
	if (!is_el(root, NS_SOAPENV, "Envelope") || !(body = first_el(root, NS_SOAPENV, "Body"))) {
		ferry_err_set(err, FERRY_E_IO, "vsphere: %s: HTTP %ld, not a SOAP envelope", method,
			      status);
		goto bad;
	}
	for (xmlNode *c = body->children; c && !el; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			el = c;
	if (is_el(el, NS_SOAPENV, "Fault"))
		return soap_fault(method, el, r, err);
	snprintf(want, sizeof want, "%sResponse", method);
	if (!vs_is(el, want)) {
		ferry_err_set(err, FERRY_E_IO, "vsphere: %s: HTTP %ld, the reply has no %s", method,
			      status, want);
		goto bad;
	}
	if (status != 200) {
		ferry_err_set(err, FERRY_E_IO, "vsphere: %s: HTTP %ld", method, status);
		goto bad;
	}
	if (ferry_starts_with(method, "RetrieveProperties") ||
	    !strcmp(method, "ContinueRetrievePropertiesEx")) {
		if (missing_not_authenticated(el)) {
			snprintf(r->fault, sizeof r->fault, "%s", "NotAuthenticated");
			ferry_err_set(err, FERRY_E_AUTH,
				      "vsphere: %s: NotAuthenticated: the session is not logged in",
				      method);
			return -1;
		}
	}
	r->resp = el;
	return 0;
bad:
	xmlFreeDoc(r->doc);
	r->doc = NULL;
	return -1;
}

void vs_reply_release(struct vs_reply *r)
{
	if (r->doc)
		xmlFreeDoc(r->doc);
	memset(r, 0, sizeof *r);
}

/* ---- thumbprints -------------------------------------------------------------------- */

int vs_thumbprint_parse(const char *text, unsigned char *md, size_t *len, struct ferry_err *err)
{
	size_t n = 0;
	int hi = -1;

	for (const char *p = text; *p; p++) {
		int v;
		if (*p == ':' || *p == ' ') {
			if (hi >= 0)
				goto bad;
			continue;
		}
		if ((v = ferry_hexval(*p)) < 0 || n == 32)
			goto bad;
		if (hi < 0) {
			hi = v;
		} else {
			md[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0 || (n != 20 && n != 32))
		goto bad;
	*len = n;
	return 0;
bad:
	return ferry_err_set(err, FERRY_E_INVALID,
			     "the secret's thumbprint is not a SHA-1 or SHA-256 fingerprint "
			     "(hex bytes such as 01:23:45:...:AB, 20 or 32 of them)");
}

void vs_thumbprint_format(const unsigned char *md, size_t len, char *buf)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		buf[3 * i] = hex[md[i] >> 4];
		buf[3 * i + 1] = hex[md[i] & 15];
		buf[3 * i + 2] = i + 1 < len ? ':' : '\0';
	}
	if (!len)
		buf[0] = '\0';
}

/* ---- the session ----------------------------------------------------------------------- */

struct vs_soap {
	CURL *curl;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	char *url, *base, *host;
	unsigned port;
	char *user, *password, *cacert;
	unsigned char pin[32];
	size_t pinlen;
	bool insecure, ossl, pin_failed, logged_in;
	long timeout_s;
	char *cookie; /* "vmware_soap_session=..." */
	struct ferry_sb in;
	bool too_big;
	struct vs_service sc;
	unsigned gen;
	unsigned long calls;
	char sha1[3 * 20], sha256[3 * 32];
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct vs_soap *s = arg;

	if (n * size > (size_t)VS_REPLY_MAX - s->in.len) {
		s->too_big = true;
		return 0;
	}
	ferry_sb_add(&s->in, p, n * size);
	return n * size;
}

/* Set-Cookie: vmware_soap_session="52a0..."; Path=/; HttpOnly; Secure; */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct vs_soap *s = arg;
	size_t len = size * n, k = strlen("set-cookie:");
	const char *v, *end;

	if (len <= k || strncasecmp(p, "set-cookie:", k))
		return len;
	v = p + k;
	end = p + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	if ((size_t)(end - v) > 20 && !strncmp(v, "vmware_soap_session=", 20)) {
		const char *semi = memchr(v, ';', (size_t)(end - v));
		const char *stop = semi ? semi : end;
		while (stop > v && (stop[-1] == '\r' || stop[-1] == '\n' || stop[-1] == ' '))
			stop--;
		wipe_free(s->cookie);
		s->cookie = ferry_xstrndup(v, (size_t)(stop - v));
	}
	return len;
}

static void record_leaf(struct vs_soap *s, X509 *leaf)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (!leaf)
		return;
	if (X509_digest(leaf, EVP_sha1(), md, &n) && n == 20)
		vs_thumbprint_format(md, n, s->sha1);
	if (X509_digest(leaf, EVP_sha256(), md, &n) && n == 32)
		vs_thumbprint_format(md, n, s->sha256);
}

/* Every handshake: note the leaf's thumbprints (for messages and VDDK),
 * then check the pin, or run OpenSSL's own chain verification. */
static int verify_cb(X509_STORE_CTX *x, void *arg)
{
	struct vs_soap *s = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);

	record_leaf(s, leaf);
	if (s->pinlen) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned n = 0;
		const EVP_MD *alg = s->pinlen == 20 ? EVP_sha1() : EVP_sha256();

		if (leaf && X509_digest(leaf, alg, md, &n) && n == s->pinlen &&
		    CRYPTO_memcmp(md, s->pin, n) == 0)
			return 1;
		s->pin_failed = true;
		X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	return X509_verify_cert(x);
}

static CURLcode ssl_ctx_cb(CURL *curl, void *ctx, void *arg)
{
	struct vs_soap *s = arg;

	(void)curl;
	SSL_CTX_set_cert_verify_callback(ctx, verify_cb, s);
	if (s->pinlen) /* curl's peer verification is off; the pin is ours */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return CURLE_OK;
}

static char *xstrdup_or_null(const char *s)
{
	return s ? ferry_xstrdup(s) : NULL;
}

static int parse_url(struct vs_soap *s, const char *url, struct ferry_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int rc = -1;

	if (!u)
		abort();
	if (!url || !*url) {
		ferry_err_set(err, FERRY_E_INVALID,
			      "a vsphere provider needs a url: https://vcenter.example.com/sdk");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		ferry_err_set(err, FERRY_E_INVALID, "url '%s' is not a URL", url);
		goto out;
	}
	if (strcasecmp(scheme, "https")) {
		ferry_err_set(err, FERRY_E_INVALID,
			      "url '%s': a vsphere provider is reached over https://", url);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	s->port = port ? (unsigned)strtoul(port, NULL, 10) : 443;
	if (host[0] == '[') {
		s->host = ferry_xstrndup(host + 1, strlen(host) - 2);
	} else {
		s->host = ferry_xstrdup(host);
	}
	s->base = ferry_xasprintf("https://%s:%u", host, s->port);
	s->url = ferry_xasprintf("%s%s", s->base, path && strcmp(path, "/") ? path : "/sdk");
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

static void set_action(struct vs_soap *s)
{
	char *h = ferry_xasprintf("SOAPAction: \"urn:vim25/%s\"",
				  s->sc.api_version ? s->sc.api_version : "6.5");

	curl_slist_free_all(s->headers);
	s->headers = curl_slist_append(NULL, "Content-Type: text/xml; charset=utf-8");
	s->headers = curl_slist_append(s->headers, h);
	s->headers = curl_slist_append(s->headers, "Expect:");
	if (!s->headers)
		abort();
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
	free(h);
}

static int tls_error(struct vs_soap *s, CURLcode rc, struct ferry_err *err)
{
	const char *why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);

	if (s->pin_failed) {
		char pin[3 * 32];
		vs_thumbprint_format(s->pin, s->pinlen, pin);
		return ferry_err_set(
			err, FERRY_E_CERTIFICATE,
			"vsphere: %s: the server's certificate does not match the "
			"pinned thumbprint %s: the server presents SHA-1 %s, SHA-256 %s",
			s->base, pin, s->sha1, s->sha256);
	}
	if (*s->sha1)
		return ferry_err_set(err, FERRY_E_CERTIFICATE,
				     "vsphere: %s: the server's certificate is not trusted (%s); "
				     "its thumbprints are SHA-1 %s, SHA-256 %s: give its CA as the "
				     "secret's cacert, or pin one as its thumbprint",
				     s->base, why, s->sha1, s->sha256);
	return ferry_err_set(err, FERRY_E_CERTIFICATE, "vsphere: %s: TLS: %s", s->base, why);
}

/* One POST; no re-login. */
static int call_once(struct vs_soap *s, const char *method, const char *body, struct vs_reply *r,
		     struct ferry_err *err)
{
	char *doc = vs_envelope(method, body);
	double t0 = ferry_monotonic();
	long status = 0;
	CURLcode rc;
	int ret;

	memset(r, 0, sizeof *r);
	ferry_sb_reset(&s->in);
	s->too_big = false;
	s->pin_failed = false;
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, doc);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(doc));
	curl_easy_setopt(s->curl, CURLOPT_COOKIE, s->cookie);
	rc = curl_easy_perform(s->curl);
	/* the request may hold the password */
	explicit_bzero(doc, strlen(doc));
	free(doc);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
	s->calls++;
	if (rc != CURLE_OK) {
		ferry_debug("vsphere: %s: %s", method, curl_easy_strerror(rc));
		switch (rc) {
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return tls_error(s, rc, err);
		case CURLE_OPERATION_TIMEDOUT:
			return ferry_err_set(err, FERRY_E_TIMEOUT,
					     "vsphere: %s: no answer from %s in %ld s", method,
					     s->base, s->timeout_s);
		case CURLE_WRITE_ERROR:
			if (s->too_big)
				return ferry_err_set(err, FERRY_E_LIMIT,
						     "vsphere: %s: reply larger than %d bytes",
						     method, VS_REPLY_MAX);
			/* fall through */
		default:
			return ferry_err_set(err, FERRY_E_RETRYABLE, "vsphere: %s: %s: %s", method,
					     s->base,
					     s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
		}
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	ret = vs_parse_reply(method, status, s->in.buf, s->in.len, r, err);
	ferry_debug("vsphere: %s: HTTP %ld, %zu bytes, %.0f ms%s%s", method, status, s->in.len,
		    (ferry_monotonic() - t0) * 1000, *r->fault ? ", fault " : "", r->fault);
	return ret;
}

static void service_release(struct vs_service *sc)
{
	free(sc->root_folder);
	free(sc->property_collector);
	free(sc->view_manager);
	free(sc->session_manager);
	free(sc->api_type);
	free(sc->api_version);
	free(sc->instance_uuid);
	free(sc->full_name);
	memset(sc, 0, sizeof *sc);
}

static int service_content(struct vs_soap *s, struct ferry_err *err)
{
	struct vs_reply r = VS_REPLY_INIT;
	xmlNode *rv, *about;

	if (call_once(s, "RetrieveServiceContent",
		      "<_this type=\"ServiceInstance\">ServiceInstance</_this>", &r, err))
		return -1;
	rv = vs_child(r.resp, "returnval");
	about = vs_child(rv, "about");
	service_release(&s->sc);
	s->sc.root_folder = vs_child_text(rv, "rootFolder");
	s->sc.property_collector = vs_child_text(rv, "propertyCollector");
	s->sc.view_manager = vs_child_text(rv, "viewManager");
	s->sc.session_manager = vs_child_text(rv, "sessionManager");
	s->sc.api_type = vs_child_text(about, "apiType");
	s->sc.api_version = vs_child_text(about, "apiVersion");
	s->sc.instance_uuid = vs_child_text(about, "instanceUuid");
	s->sc.full_name = vs_child_text(about, "fullName");
	vs_reply_release(&r);
	if (!s->sc.root_folder || !s->sc.property_collector || !s->sc.view_manager ||
	    !s->sc.session_manager)
		return ferry_err_set(
			err, FERRY_E_UNSUPPORTED,
			"vsphere: %s: the ServiceContent lacks a root folder, property "
			"collector, view manager or session manager",
			s->url);
	/* the version must be safe inside a header */
	for (const char *c = s->sc.api_version ? s->sc.api_version : ""; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_') {
			free(s->sc.api_version);
			s->sc.api_version = NULL;
			break;
		}
	set_action(s);
	ferry_debug("vsphere: %s: %s, API %s", s->url, s->sc.full_name ? s->sc.full_name : "?",
		    s->sc.api_version ? s->sc.api_version : "?");
	return 0;
}

static int login(struct vs_soap *s, struct ferry_err *err)
{
	struct ferry_sb b = FERRY_SB_INIT;
	struct vs_reply r = VS_REPLY_INIT;
	int rc = -1;

	/* A Login that sends a live session's cookie is refused (vcsim), and a
	 * dead one is of no use. */
	wipe_free(s->cookie);
	s->cookie = NULL;
	s->logged_in = false;
	if (vs_add_moref(&b, "_this", "SessionManager", s->sc.session_manager, err) ||
	    vs_add_text(&b, "userName", s->user, err) ||
	    vs_add_text(&b, "password", s->password, err))
		goto out;
	rc = call_once(s, "Login", b.buf, &r, err);
	/* the reply names the session (its key is the cookie's value) */
	if (s->in.len)
		explicit_bzero(s->in.buf, s->in.len);
	if (rc)
		goto out;
	rc = -1;
	if (!s->cookie) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED,
			      "vsphere: Login: the reply sets no vmware_soap_session cookie");
		goto out;
	}
	s->logged_in = true;
	s->gen++;
	rc = 0;
out:
	if (b.len)
		explicit_bzero(b.buf, b.len);
	ferry_sb_release(&b);
	vs_reply_release(&r);
	return rc;
}

int vs_soap_relogin(struct vs_soap *s, struct ferry_err *err)
{
	return login(s, err);
}

int vs_soap_open(struct vs_soap **out, const struct vs_session_config *c, struct ferry_err *err)
{
	struct vs_soap *s = ferry_xcalloc(1, sizeof *s);
	const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);

	*out = NULL;
	ferry_sb_init(&s->in);
	if (parse_url(s, c->url, err))
		goto fail;
	if (!c->user || !*c->user || !c->password || !*c->password) {
		ferry_err_set(err, FERRY_E_AUTH,
			      "vsphere: the provider's secret needs user and password");
		goto fail;
	}
	s->user = ferry_xstrdup(c->user);
	s->password = ferry_xstrdup(c->password);
	s->cacert = xstrdup_or_null(c->cacert && *c->cacert ? c->cacert : NULL);
	s->insecure = c->insecure;
	s->timeout_s = c->timeout_s > 0 ? c->timeout_s : 300;
	if (c->thumbprint && *c->thumbprint &&
	    vs_thumbprint_parse(c->thumbprint, s->pin, &s->pinlen, err))
		goto fail;
	s->ossl = vi && vi->ssl_version && !strncmp(vi->ssl_version, "OpenSSL", 7);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(s->curl = curl_easy_init())) {
		ferry_err_set(err, FERRY_E_INTERNAL, "vsphere: libcurl does not initialise");
		goto fail;
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
	curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, s->timeout_s);
	curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "ferry");
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, s);
	if (s->ossl) {
		curl_easy_setopt(s->curl, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
		curl_easy_setopt(s->curl, CURLOPT_SSL_CTX_DATA, s);
	} else if (s->pinlen) {
		ferry_err_set(err, FERRY_E_UNSUPPORTED,
			      "vsphere: thumbprint pinning needs libcurl built with OpenSSL (this "
			      "one uses %s)",
			      vi && vi->ssl_version ? vi->ssl_version : "no TLS library");
		goto fail;
	}
	if (s->insecure || s->pinlen) {
		curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 0L);
		if (s->insecure && !s->pinlen)
			ferry_warn("vsphere: %s: insecureSkipVerify is true: the server's "
				   "certificate is not checked, anyone on the path can read the "
				   "credentials and disks",
				   s->base);
	} else if (s->cacert) {
		struct curl_blob blob = {s->cacert, strlen(s->cacert), CURL_BLOB_COPY};
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(s->curl, CURLOPT_CAPATH, NULL);
		if (curl_easy_setopt(s->curl, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK) {
			ferry_err_set(err, FERRY_E_UNSUPPORTED,
				      "vsphere: this libcurl cannot take a CA certificate from "
				      "memory (CURLOPT_CAINFO_BLOB)");
			goto fail;
		}
	}
	set_action(s);
	if (service_content(s, err) || login(s, err))
		goto fail;
	*out = s;
	return 0;
fail:
	vs_soap_close(s);
	return -1;
}

void vs_soap_close(struct vs_soap *s)
{
	if (!s)
		return;
	if (s->logged_in) {
		struct ferry_sb b = FERRY_SB_INIT;
		struct vs_reply r = VS_REPLY_INIT;
		struct ferry_err e = FERRY_ERR_INIT;

		if (!vs_add_moref(&b, "_this", "SessionManager", s->sc.session_manager, &e) &&
		    call_once(s, "Logout", b.buf, &r, &e))
			ferry_debug("vsphere: Logout: %s", e.msg);
		vs_reply_release(&r);
		ferry_sb_release(&b);
	}
	if (s->curl) {
		curl_easy_cleanup(s->curl);
		curl_global_cleanup();
	}
	curl_slist_free_all(s->headers);
	wipe_free(s->cookie);
	wipe_free(s->password);
	free(s->user);
	free(s->cacert);
	free(s->url);
	free(s->base);
	free(s->host);
	ferry_sb_release(&s->in);
	service_release(&s->sc);
	explicit_bzero(s, sizeof *s);
	free(s);
}

static bool no_relogin(const char *method)
{
	return !strcmp(method, "Login") || !strcmp(method, "Logout") ||
	       !strcmp(method, "RetrieveServiceContent");
}

int vs_call(struct vs_soap *s, const char *method, const char *body, struct vs_reply *r,
	    struct ferry_err *err)
{
	for (int attempt = 0;; attempt++) {
		struct ferry_err e2 = FERRY_ERR_INIT;

		if (!call_once(s, method, body, r, err))
			return 0;
		if (strcmp(r->fault, "NotAuthenticated") || attempt || no_relogin(method))
			return -1;
		ferry_info("vsphere: %s: the session ended; logging in again", s->base);
		if (login(s, &e2)) {
			*err = e2;
			ferry_err_prefix(
				err, "logging in again after %s found the session ended: ", method);
			return -1;
		}
		vs_reply_release(r);
	}
}

int vs_soap_check(struct vs_soap *s, struct ferry_err *err)
{
	struct ferry_sb b = FERRY_SB_INIT;
	struct vs_reply r = VS_REPLY_INIT;
	unsigned gen = s->gen;
	int rc;

	ferry_sb_addf(&b, "<_this type=\"PropertyCollector\">");
	vs_xml_escape(&b, s->sc.property_collector, "moref", NULL);
	ferry_sb_adds(&b, "</_this><specSet><propSet><type>SessionManager</type>"
			  "<pathSet>currentSession</pathSet></propSet><objectSet>");
	vs_add_moref(&b, "obj", "SessionManager", s->sc.session_manager, NULL);
	ferry_sb_adds(&b, "</objectSet></specSet><options/>");
	rc = vs_call(s, "RetrievePropertiesEx", b.buf, &r, err);
	if (!rc && s->gen == gen) {
		xmlNode *o = vs_child(vs_child(r.resp, "returnval"), "objects");
		if (!vs_child(vs_child(o, "propSet"), "val")) {
			ferry_info("vsphere: %s: the session ended; logging in again", s->base);
			rc = login(s, err);
		}
	}
	vs_reply_release(&r);
	ferry_sb_release(&b);
	return rc;
}

const struct vs_service *vs_soap_service(const struct vs_soap *s)
{
	return &s->sc;
}

unsigned vs_soap_generation(const struct vs_soap *s)
{
	return s->gen;
}

unsigned long vs_soap_calls(const struct vs_soap *s)
{
	return s->calls;
}

const char *vs_soap_base(const struct vs_soap *s)
{
	return s->base;
}

const char *vs_soap_host(const struct vs_soap *s)
{
	return s->host;
}

unsigned vs_soap_port(const struct vs_soap *s)
{
	return s->port;
}

const char *vs_soap_cookie(const struct vs_soap *s)
{
	return s->cookie;
}

const char *vs_soap_sha1(const struct vs_soap *s)
{
	return s->sha1;
}

const char *vs_soap_sha256(const struct vs_soap *s)
{
	return s->sha256;
}

const char *vs_soap_tls_mode(const struct vs_soap *s)
{
	return s->pinlen ? "thumbprint" : s->insecure ? "insecure" : "ca";
}
