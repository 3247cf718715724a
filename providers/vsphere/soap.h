/* vim25 SOAP for the vSphere driver: envelopes, replies, faults, TLS
 * thumbprints, and a session (one libcurl handle) that logs in, keeps its
 * cookie, logs in again when the server forgets it, and logs out.
 *
 * libxml2 types appear here only as incomplete struct pointers (struct
 * _xmlDoc, struct _xmlNode are libxml2's xmlDoc and xmlNode), so that a
 * test can include this header without libxml2's.
 *
 * Replies are matched by namespace URI and local name, never by prefix:
 * body elements are in urn:vim25, the envelope in SOAP 1.1's namespace, and
 * xsi:type attributes in XML Schema instance's, whatever prefix the server
 * picked (vcsim writes XMLSchema-instance:type).
 *
 * A session is not thread-safe: one thread at a time.
 */
#ifndef FERRY_PROVIDERS_VSPHERE_SOAP_H
#define FERRY_PROVIDERS_VSPHERE_SOAP_H

#include "common/err.h"
#include "common/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct _xmlDoc;
struct _xmlNode;

#define VS_NS_VIM25 "urn:vim25"

enum {
	VS_REPLY_MAX = 256 << 20, /* bytes of one SOAP reply */
	VS_FAULT_MAX = 64,	  /* bytes of a fault type name */
};

/* ---- building requests (pure) ---------------------------------------------- */

/* Append s escaped for XML character data and attribute values (&, <, >,
 * quotes; tab, LF and CR as character references so that they survive
 * normalization). -1 with FERRY_E_INVALID naming `what` when s is not
 * UTF-8 or holds a character XML 1.0 cannot carry (other control
 * characters); sb then holds a partial escape the caller discards. Never
 * puts s in the message (it may be a password). */
int vs_xml_escape(struct ferry_sb *sb, const char *s, const char *what, struct ferry_err *err);

/* <name>escaped value</name>; as vs_xml_escape. */
int vs_add_text(struct ferry_sb *sb, const char *name, const char *value, struct ferry_err *err);

/* <name type="type">value</name>, a ManagedObjectReference. */
int vs_add_moref(struct ferry_sb *sb, const char *name, const char *type, const char *value,
		 struct ferry_err *err);

/* The whole request document for method with body (the method's elements,
 * _this first, already escaped): a SOAP 1.1 envelope whose body element is
 * <method xmlns="urn:vim25">. Caller frees. */
char *vs_envelope(const char *method, const char *body);

/* ---- replies (pure) -------------------------------------------------------------- */

struct vs_reply {
	struct _xmlDoc *doc;
	struct _xmlNode *resp;	  /* the <methodResponse> element (success only) */
	char fault[VS_FAULT_MAX]; /* the fault's type ("NotAuthenticated"), or "" */
	char fault_obj[128];	  /* ManagedObjectNotFound's obj, or "" */
};

#define VS_REPLY_INIT                                                                              \
	{                                                                                          \
		NULL, NULL, "", ""                                                                 \
	}

/* Parse the reply to method: HTTP status, body bytes. 0 with r->resp set,
 * or -1 with err set and, for a SOAP fault, r->fault (and r->doc kept for
 * its detail). Error messages read "vsphere: METHOD: TYPE: faultstring".
 * A RetrieveProperties(Ex) reply whose missingSet holds NotAuthenticated
 * counts as that fault (vcsim answers so for a dead session). r must be
 * VS_REPLY_INIT or released. Untrusted input: size-limited, no DTD, no
 * network, no entity expansion. */
int vs_parse_reply(const char *method, long http_status, const char *buf, size_t len,
		   struct vs_reply *r, struct ferry_err *err);
void vs_reply_release(struct vs_reply *r);

/* The ferry error code a fault type maps to (InvalidLogin: FERRY_E_AUTH,
 * ManagedObjectNotFound: FERRY_E_NOT_FOUND, TaskInProgress:
 * FERRY_E_RETRYABLE, ...). */
enum ferry_errcode vs_fault_code(const char *fault);

/* Parse a LocalizedMethodFault (a task's info.error) into err as
 * "vsphere: what: TYPE: localizedMessage"; fault gets the type. */
void vs_method_fault(const struct _xmlNode *lmf, const char *what, char fault[VS_FAULT_MAX],
		     struct ferry_err *err);

/* ---- reading replies ---------------------------------------------------------------- */

/* Is n an element named name in urn:vim25? */
bool vs_is(const struct _xmlNode *n, const char *name);
/* The first child element of n named name (urn:vim25), or NULL; name NULL:
 * any element. */
struct _xmlNode *vs_child(const struct _xmlNode *n, const char *name);
/* The next sibling element of n named name (NULL: any), or NULL. */
struct _xmlNode *vs_next(const struct _xmlNode *n, const char *name);
/* The text of n (malloc'd), or NULL when n is NULL. */
char *vs_text(const struct _xmlNode *n);
/* The text of child name of n, or NULL. */
char *vs_child_text(const struct _xmlNode *n, const char *name);
/* Does child name of n read "true"? */
bool vs_child_true(const struct _xmlNode *n, const char *name);
/* Child name of n as an unsigned integer; 0 when absent, -1 when not a
 * number. */
int vs_child_u64(const struct _xmlNode *n, const char *name, uint64_t *out);
/* The local part of n's xsi:type ("VirtualDisk"), into buf; "" when none. */
void vs_xsi_type(const struct _xmlNode *n, char *buf, size_t size);
/* n's plain (no namespace) attribute "type", malloc'd, or NULL. */
char *vs_moref_type(const struct _xmlNode *n);

/* ---- thumbprints (pure) ------------------------------------------------------------- */

/* Parse a SHA-1 (20 bytes) or SHA-256 (32 bytes) thumbprint: hex digits of
 * either case, with or without ':' or ' ' between bytes. md must hold 32
 * bytes. -1 with FERRY_E_INVALID otherwise. */
int vs_thumbprint_parse(const char *text, unsigned char *md, size_t *len, struct ferry_err *err);
/* "AA:BB:..." upper case; buf holds 3 * len bytes. */
void vs_thumbprint_format(const unsigned char *md, size_t len, char *buf);

/* ---- a session ---------------------------------------------------------------------- */

struct vs_session_config {
	const char *url;	/* https://host[:port][/sdk] (the provider URL) */
	const char *user;	/* the secret's user */
	const char *password;	/* the secret's password */
	const char *cacert;	/* PEM to trust instead of the system CAs, or NULL */
	const char *thumbprint; /* pin: the leaf certificate's SHA-1 or SHA-256 */
	bool insecure;		/* insecureSkipVerify: no check at all (logged) */
	long timeout_s;		/* per call; 0: 300 */
};

/* What RetrieveServiceContent said. */
struct vs_service {
	char *root_folder, *property_collector, *view_manager, *session_manager;
	char *api_type;	     /* "VirtualCenter" or "HostAgent" */
	char *api_version;   /* "6.5", "8.0.2.0", ... */
	char *instance_uuid; /* vCenter's, or NULL */
	char *full_name;     /* "VMware vCenter Server 8.0.2 build-..." */
};

struct vs_soap;

/* Check the configuration, connect, RetrieveServiceContent and Login. The
 * strings are copied (the password into memory wiped at close). */
int vs_soap_open(struct vs_soap **out, const struct vs_session_config *cfg, struct ferry_err *err);
/* Logout (best effort), wipe, free. NULL is fine. */
void vs_soap_close(struct vs_soap *s);

/* Call method with body (the method's elements, _this first). On a
 * NotAuthenticated fault (or missingSet) it logs in again and repeats the
 * call once; views and filters of the old session are then gone, which
 * vs_soap_generation() tells. r must be VS_REPLY_INIT or released; on
 * failure r->fault names a SOAP fault (empty for transport errors). */
int vs_call(struct vs_soap *s, const char *method, const char *body, struct vs_reply *r,
	    struct ferry_err *err);

/* Log in again now (a new session: the generation moves on). */
int vs_soap_relogin(struct vs_soap *s, struct ferry_err *err);
/* Make sure the session is still logged in (asks for
 * SessionManager.currentSession), logging in again when it is not. */
int vs_soap_check(struct vs_soap *s, struct ferry_err *err);

const struct vs_service *vs_soap_service(const struct vs_soap *s);
/* Counts logins: changes whenever the session (and so its views and
 * filters) is new. */
unsigned vs_soap_generation(const struct vs_soap *s);
unsigned long vs_soap_calls(const struct vs_soap *s);
/* "https://host:port" of the URL (no trailing slash). */
const char *vs_soap_base(const struct vs_soap *s);
/* The host name or address of the URL (IPv6 without brackets), its port. */
const char *vs_soap_host(const struct vs_soap *s);
unsigned vs_soap_port(const struct vs_soap *s);
/* The session cookie as a Cookie header value (vmware_soap_session="...");
 * a secret: never log it. NULL before a login. */
const char *vs_soap_cookie(const struct vs_soap *s);
/* The server's leaf certificate thumbprints seen at the last handshake
 * ("AA:BB:..."), or "" before any. */
const char *vs_soap_sha1(const struct vs_soap *s);
const char *vs_soap_sha256(const struct vs_soap *s);
/* How TLS is checked: "ca" (system or cacert), "thumbprint" or "insecure". */
const char *vs_soap_tls_mode(const struct vs_soap *s);

#endif
