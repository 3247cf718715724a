#include "reconciler/gitsync.h"

#include "common/alloc.h"
#include "common/base64.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/time.h"
#include "common/util.h"
#include "reconciler/gitstream.h"
#include "reconciler/sigverify.h"

#include <git2.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct push_state {
	bool rejected;
	char why[256];
};

struct ferry_git {
	git_repository *repo;
	struct push_state *push_state; /* during a push */
	char *url;		       /* as configured (may hold a password) */
	char *url_redacted;	       /* for messages */
	char *host;		       /* for SSH host key checks; NULL for local */
	int port;		       /* SSH port, 22 by default */
	struct ferry_git_opts o;
	char *auth_header; /* "Authorization: Bearer ..." */
	unsigned cred_calls;
	char cert_error[512];
	struct ferry_git_stats stats;
};

/* ---- errors without secrets ------------------------------------------- */

/* in with the password of every "scheme://user:password@host" replaced by
 * "***". Caller frees. */
static char *redact_userinfo(const char *in)
{
	struct ferry_sb sb;
	const char *p = in, *q;

	ferry_sb_init(&sb);
	while ((q = strstr(p, "://"))) {
		const char *user = q + 3, *end = user + strcspn(user, "/ \t\n'\"");
		const char *at = memchr(user, '@', (size_t)(end - user));
		const char *colon = at ? memchr(user, ':', (size_t)(at - user)) : NULL;
		if (!colon) {
			ferry_sb_add(&sb, p, (size_t)(user - p));
			p = user;
			continue;
		}
		ferry_sb_add(&sb, p, (size_t)(colon - p));
		ferry_sb_adds(&sb, ":***");
		p = at;
	}
	ferry_sb_adds(&sb, p);
	return ferry_sb_detach(&sb);
}

/* Scrub msg (a buffer of size bytes) of every secret value and URL
 * password, in place; the result is truncated to fit. */
static void scrub(struct ferry_git *g, char *msg, size_t size)
{
	const char *secrets[] = {g->o.password, g->o.token, g->o.bearer_token,
				 g->o.ssh_key_passphrase};
	char *clean = redact_userinfo(msg);

	for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++) {
		const char *s = secrets[i];
		size_t n = s ? strlen(s) : 0;
		char *p;
		if (n < 3) /* "***" would not be shorter; such values are not hidden */
			continue;
		while ((p = strstr(clean, s))) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + n, strlen(p + n) + 1);
		}
	}
	snprintf(msg, size, "%s", clean);
	free(clean);
}

/* Set err from libgit2's last error, scrubbed, prefixed with what we did. */
static int git_fail(struct ferry_git *g, struct ferry_err *err, int rc, const char *what, ...)
	__attribute__((format(printf, 4, 5)));
static int git_fail(struct ferry_git *g, struct ferry_err *err, int rc, const char *what, ...)
{
	const git_error *e = git_error_last();
	char head[256], msg[1024];
	enum ferry_errcode code = FERRY_E_IO;
	va_list ap;

	va_start(ap, what);
	vsnprintf(head, sizeof head, what, ap);
	va_end(ap);
	if (g && g->cert_error[0])
		snprintf(msg, sizeof msg, "%s: %s", head, g->cert_error);
	else
		snprintf(msg, sizeof msg, "%s: %s", head, e && e->message ? e->message : "failed");
	if (g)
		scrub(g, msg, sizeof msg);
	if (g && g->cert_error[0])
		code = FERRY_E_CERTIFICATE;
	else if (rc == GIT_ENOTFOUND)
		code = FERRY_E_NOT_FOUND;
	else if (rc == GIT_EAUTH || (e && e->klass == GIT_ERROR_HTTP && strstr(msg, "401")))
		code = FERRY_E_AUTH;
	else if (rc == GIT_ECERTIFICATE)
		code = FERRY_E_CERTIFICATE;
	else if (rc == GIT_ENONFASTFORWARD)
		code = FERRY_E_CONFLICT;
	else if (e && (e->klass == GIT_ERROR_NET || e->klass == GIT_ERROR_SSH ||
		       e->klass == GIT_ERROR_HTTP))
		code = FERRY_E_RETRYABLE;
	if (g)
		g->cert_error[0] = '\0';
	return ferry_err_set(err, code, "%s", msg);
}

/* Host and port of an ssh:// or scp-like URL (for known_hosts). */
static void parse_ssh_host(struct ferry_git *g, const char *url)
{
	const char *h = NULL, *end;
	g->port = 22;
	if (ferry_starts_with(url, "ssh://") || ferry_starts_with(url, "git+ssh://") ||
	    ferry_starts_with(url, "ssh+git://")) {
		h = strstr(url, "://") + 3;
		end = h + strcspn(h, "/");
		const char *at = memchr(h, '@', (size_t)(end - h));
		if (at)
			h = at + 1;
		const char *colon = memchr(h, ':', (size_t)(end - h));
		if (colon && *h != '[') {
			g->port = atoi(colon + 1);
			end = colon;
		} else if (*h == '[') {
			const char *rb = memchr(h, ']', (size_t)(end - h));
			if (rb) {
				if (rb[1] == ':')
					g->port = atoi(rb + 2);
				h++;
				end = rb;
			}
		}
		g->host = ferry_xstrndup(h, (size_t)(end - h));
		return;
	}
	if (strstr(url, "://") || url[0] == '/' || url[0] == '.')
		return;
	/* scp-like: [user@]host:path, host without a slash before the colon */
	const char *colon = strchr(url, ':');
	if (!colon || memchr(url, '/', (size_t)(colon - url)))
		return;
	h = url;
	const char *at = memchr(url, '@', (size_t)(colon - url));
	if (at)
		h = at + 1;
	g->host = ferry_xstrndup(h, (size_t)(colon - h));
}

/* The option strings, by index, so they can be copied and wiped in a loop. */
#define NOPT_STRINGS 11
static const char **opt_string(struct ferry_git_opts *o, size_t i)
{
	const char **all[NOPT_STRINGS] = {
		&o->url,	 &o->cache_dir,	   &o->username, &o->password,
		&o->token,	 &o->bearer_token, &o->ssh_key,	 &o->ssh_key_passphrase,
		&o->known_hosts, &o->ca_file,	   &o->proxy};
	return all[i];
}

int ferry_git_open(struct ferry_git **out, const struct ferry_git_opts *o, struct ferry_err *err)
{
	struct ferry_git *g;
	int rc;

	if (!o->url || !*o->url)
		return ferry_err_set(err, FERRY_E_INVALID, "no repository url");
	git_libgit2_init();
	ferry_git_register_stream();
	g = ferry_xcalloc(1, sizeof *g);
	g->o = *o;
	/* own every string: callers may wipe their secrets right away */
	for (size_t i = 0; i < NOPT_STRINGS; i++) {
		const char **f = opt_string(&g->o, i);
		if (*f)
			*f = ferry_xstrdup(*f);
	}
	g->url = ferry_xstrdup(o->url);
	g->url_redacted = redact_userinfo(o->url);
	parse_ssh_host(g, o->url);
	if (o->bearer_token)
		g->auth_header = ferry_xasprintf("Authorization: Bearer %s", o->bearer_token);
	if (o->ca_file &&
	    git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, o->ca_file, (const char *)NULL)) {
		git_fail(g, err, -1, "ca_file %s", o->ca_file);
		ferry_git_close(g);
		return -1;
	}
	rc = git_repository_open_bare(&g->repo, o->cache_dir);
	if (rc == GIT_ENOTFOUND)
		rc = git_repository_init(&g->repo, o->cache_dir, 1);
	if (rc) {
		git_fail(g, err, rc, "opening the repository cache %s", o->cache_dir);
		ferry_git_close(g);
		return -1;
	}
	*out = g;
	return 0;
}

void ferry_git_close(struct ferry_git *g)
{
	if (!g)
		return;
	git_repository_free(g->repo);
	for (size_t i = 0; i < NOPT_STRINGS; i++) {
		char *f = (char *)(uintptr_t)*opt_string(&g->o, i);
		if (f) {
			explicit_bzero(f, strlen(f));
			free(f);
		}
	}
	free(g->url);
	free(g->url_redacted);
	free(g->host);
	if (g->auth_header) {
		explicit_bzero(g->auth_header, strlen(g->auth_header));
		free(g->auth_header);
	}
	free(g);
	git_libgit2_shutdown();
}

const char *ferry_git_url(const struct ferry_git *g)
{
	return g->url_redacted;
}

const struct ferry_git_stats *ferry_git_stats(const struct ferry_git *g)
{
	return &g->stats;
}

/* ---- transport callbacks ---------------------------------------------- */

static int cb_credentials(git_credential **out, const char *url, const char *user_from_url,
			  unsigned int allowed, void *payload)
{
	struct ferry_git *g = payload;
	(void)url;

	/* libgit2 asks again after a refusal: answer once, then give up so a
	 * wrong password is an error and not a loop */
	if (g->cred_calls++ > 0) {
		git_error_set_str(GIT_ERROR_NET, "credentials refused by the remote");
		return GIT_EAUTH;
	}
	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		const char *user = user_from_url   ? user_from_url
				   : g->o.username ? g->o.username
						   : "git";
		if (g->o.ssh_key)
			return git_credential_ssh_key_new(out, user, NULL, g->o.ssh_key,
							  g->o.ssh_key_passphrase);
		return git_credential_ssh_key_from_agent(out, user);
	}
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		const char *pass = g->o.password ? g->o.password : g->o.token;
		const char *user = g->o.username   ? g->o.username
				   : user_from_url ? user_from_url
				   : g->o.token	   ? "x-access-token"
						   : NULL;
		if (!pass || !user) {
			git_error_set_str(GIT_ERROR_NET,
					  "the remote asks for a username and password; set "
					  "[repository] credentials to a secret with username and "
					  "password (or token)");
			return GIT_EAUTH;
		}
		return git_credential_userpass_plaintext_new(out, user, pass);
	}
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user_from_url	? user_from_url
							: g->o.username ? g->o.username
									: "git");
	return GIT_PASSTHROUGH;
}

/* Does one known_hosts host pattern list match name ("host" or "[host]:port")? */
static bool known_host_matches(const char *field, const char *name)
{
	if (ferry_starts_with(field, "|1|")) {
		/* hashed: |1|base64(salt)|base64(HMAC-SHA1(salt, name)) */
		const char *salt64 = field + 3, *bar = strchr(salt64, '|');
		unsigned char *salt = NULL, *hash = NULL, mac[EVP_MAX_MD_SIZE];
		size_t nsalt, nhash;
		unsigned nmac = 0;
		bool ok = false;
		if (!bar ||
		    ferry_base64_decode(salt64, (size_t)(bar - salt64), &salt, &nsalt, NULL))
			return false;
		if (!ferry_base64_decode(bar + 1, strlen(bar + 1), &hash, &nhash, NULL) &&
		    HMAC(EVP_sha1(), salt, (int)nsalt, (const unsigned char *)name, strlen(name),
			 mac, &nmac) &&
		    nmac == nhash && !memcmp(mac, hash, nmac))
			ok = true;
		free(salt);
		free(hash);
		return ok;
	}
	return ferry_ssh_match_list(name, field, strlen(field)) > 0;
}

/* 1 the key is known for the host, 0 not listed, -1 listed with another
 * key (possible man in the middle) or revoked. */
static int check_known_hosts(const char *file, const char *name, const unsigned char *key,
			     size_t keylen)
{
	FILE *fp = fopen(file, "re");
	char *line = NULL;
	size_t cap = 0;
	int result = 0;

	if (!fp)
		return 0;
	while (getline(&line, &cap, fp) > 0) {
		char *save = NULL, *f1, *f2, *f3;
		bool revoked = false, ca = false;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		f1 = strtok_r(line, " \t\n", &save);
		if (!f1)
			continue;
		if (f1[0] == '@') {
			revoked = !strcmp(f1, "@revoked");
			ca = !strcmp(f1, "@cert-authority");
			f1 = strtok_r(NULL, " \t\n", &save);
		}
		f2 = strtok_r(NULL, " \t\n", &save);
		f3 = strtok_r(NULL, " \t\n", &save);
		if (!f1 || !f2 || !f3 || ca || !known_host_matches(f1, name))
			continue;
		unsigned char *blob = NULL;
		size_t nblob = 0;
		if (ferry_base64_decode(f3, strlen(f3), &blob, &nblob, NULL))
			continue;
		bool same = nblob == keylen && !memcmp(blob, key, keylen);
		free(blob);
		if (same && revoked) {
			result = -1;
			break;
		}
		if (same)
			result = 1;
		else if (result == 0)
			result = -1;
		if (result == 1)
			break;
	}
	free(line);
	fclose(fp);
	return result;
}

static int cb_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
	struct ferry_git *g = payload;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
		if (valid)
			return 0;
		snprintf(g->cert_error, sizeof g->cert_error,
			 "the TLS certificate of %s is not trusted (set [repository] ca_file to "
			 "the CA bundle that signed it)",
			 host);
		return GIT_ECERTIFICATE;
	}
	const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
	char name[300], *home_kh = NULL;
	const char *kh = g->o.known_hosts;
	const char *h = g->host ? g->host : host;
	char fp[128];
	int known;

	if (!(hk->type & GIT_CERT_SSH_RAW)) {
		snprintf(g->cert_error, sizeof g->cert_error,
			 "no raw host key from %s to check against known_hosts", host);
		return GIT_ECERTIFICATE;
	}
	if (g->port == 22)
		snprintf(name, sizeof name, "%s", h);
	else
		snprintf(name, sizeof name, "[%s]:%d", h, g->port);
	if (!kh) {
		const char *home = getenv("HOME");
		home_kh = ferry_xasprintf("%s/.ssh/known_hosts", home ? home : "");
		kh = home_kh;
	}
	known = check_known_hosts(kh, name, (const unsigned char *)hk->hostkey, hk->hostkey_len);
	if (ferry_ssh_fingerprint(hk->hostkey, hk->hostkey_len, fp, sizeof fp))
		snprintf(fp, sizeof fp, "SHA256:?");
	if (known <= 0)
		snprintf(g->cert_error, sizeof g->cert_error,
			 known < 0 ? "the host key of %s (%s) does not match the one in %s "
				     "(or is revoked there): refusing to connect"
				   : "the host key of %s (%s) is not in %s; add it (for "
				     "example with ssh-keyscan) after checking the fingerprint",
			 name, fp, kh);
	free(home_kh);
	return known > 0 ? 0 : GIT_ECERTIFICATE;
}

static void setup_callbacks(struct ferry_git *g, git_remote_callbacks *cb)
{
	cb->credentials = cb_credentials;
	cb->certificate_check = cb_certificate;
	cb->payload = g;
	g->cred_calls = 0;
	g->cert_error[0] = '\0';
}

static void setup_proxy(struct ferry_git *g, git_proxy_options *p)
{
	git_proxy_options_init(p, GIT_PROXY_OPTIONS_VERSION);
	if (g->o.proxy) {
		p->type = GIT_PROXY_SPECIFIED;
		p->url = g->o.proxy;
	} else {
		p->type = GIT_PROXY_AUTO;
	}
}

static git_strarray headers(struct ferry_git *g)
{
	git_strarray h = {NULL, 0};
	if (g->auth_header) {
		h.strings = &g->auth_header;
		h.count = 1;
	}
	return h;
}

/* ---- reading the remote ----------------------------------------------- */

/* An in-memory remote for the configured URL. url.*.insteadOf rewriting is
 * skipped: the URL in ferry.ini is the one used (and libgit2 1.5's lookup of
 * those keys leaks pcre2 match data on every call). */
static int new_remote(struct ferry_git *g, git_remote **remote)
{
	git_remote_create_options o;
	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = g->repo;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	return git_remote_create_with_opts(remote, g->url, &o);
}

static void oid_hex(const git_oid *oid, char out[FERRY_SHA_HEX])
{
	git_oid_tostr(out, FERRY_SHA_HEX, oid);
}

int ferry_git_ls_remote(struct ferry_git *g, const char *const *refs, size_t n,
			char (*shas)[FERRY_SHA_HEX], struct ferry_err *err)
{
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	git_proxy_options proxy;
	git_strarray hdr = headers(g);
	const git_remote_head **heads;
	size_t nheads;
	int rc;

	for (size_t i = 0; i < n; i++)
		shas[i][0] = '\0';
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	setup_callbacks(g, &cb);
	setup_proxy(g, &proxy);
	if ((rc = new_remote(g, &remote)))
		return git_fail(g, err, rc, "%s", g->url_redacted);
	g->stats.ls_remote++;
	if ((rc = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, &proxy, &hdr)) ||
	    (rc = git_remote_ls(&heads, &nheads, remote))) {
		git_fail(g, err, rc, "listing the heads of %s", g->url_redacted);
		git_remote_free(remote);
		return -1;
	}
	for (size_t i = 0; i < nheads; i++)
		for (size_t j = 0; j < n; j++)
			if (!strcmp(heads[i]->name, refs[j]))
				oid_hex(&heads[i]->oid, shas[j]);
	git_remote_disconnect(remote);
	git_remote_free(remote);
	return 0;
}

static int local_ref(struct ferry_git *g, const char *ref, char out[FERRY_SHA_HEX])
{
	git_oid oid;
	out[0] = '\0';
	if (git_reference_name_to_id(&oid, g->repo, ref))
		return -1;
	oid_hex(&oid, out);
	return 0;
}

static int fetch_refspecs(struct ferry_git *g, char **specs, size_t n, struct ferry_err *err)
{
	git_remote *remote = NULL;
	git_fetch_options fo;
	git_strarray arr = {specs, n};
	int rc;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	setup_callbacks(g, &fo.callbacks);
	setup_proxy(g, &fo.proxy_opts);
	fo.custom_headers = headers(g);
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	if ((rc = new_remote(g, &remote)))
		return git_fail(g, err, rc, "%s", g->url_redacted);
	g->stats.fetches++;
	rc = git_remote_fetch(remote, &arr, &fo, "ferry: fetch");
	if (rc)
		git_fail(g, err, rc, "fetching from %s", g->url_redacted);
	git_remote_free(remote);
	return rc ? -1 : 0;
}

int ferry_git_sync(struct ferry_git *g, const char *branch, const char *extra_branch,
		   struct ferry_git_sync *r, struct ferry_err *err)
{
	char *refs[2], *tracking[2], *specs[2];
	char remote_sha[2][FERRY_SHA_HEX], local_sha[FERRY_SHA_HEX];
	size_t n = extra_branch ? 2 : 1, nspecs = 0;
	int rc = -1;

	memset(r, 0, sizeof *r);
	refs[0] = ferry_xasprintf("refs/heads/%s", branch);
	tracking[0] = ferry_xasprintf("refs/remotes/origin/%s", branch);
	refs[1] = extra_branch ? ferry_xasprintf("refs/heads/%s", extra_branch) : NULL;
	tracking[1] = extra_branch ? ferry_xasprintf("refs/remotes/origin/%s", extra_branch) : NULL;
	local_ref(g, tracking[0], r->previous);
	if (ferry_git_ls_remote(g, (const char *const *)refs, n, remote_sha, err))
		goto out;
	if (!remote_sha[0][0]) {
		ferry_err_set(err, FERRY_E_NOT_FOUND, "branch '%s' not found in %s", branch,
			      g->url_redacted);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		local_ref(g, tracking[i], local_sha);
		if (remote_sha[i][0] && strcmp(remote_sha[i], local_sha))
			specs[nspecs++] = ferry_xasprintf("+%s:%s", refs[i], tracking[i]);
		else if (!remote_sha[i][0] && local_sha[0]) {
			/* the branch is gone on the remote: forget our copy */
			git_reference *ref = NULL;
			if (!git_reference_lookup(&ref, g->repo, tracking[i]))
				git_reference_delete(ref);
			git_reference_free(ref);
		}
	}
	if (nspecs) {
		if (fetch_refspecs(g, specs, nspecs, err))
			goto out;
		r->fetched = true;
	}
	if (local_ref(g, tracking[0], r->head)) {
		ferry_err_set(err, FERRY_E_INTERNAL, "fetched %s but %s does not exist", branch,
			      tracking[0]);
		goto out;
	}
	/* The fetch is a second connection: a push that landed between the
	 * listing and the fetch moved the branch further, and the fetch's own
	 * advertisement (newer) is what the tracking ref now holds. */
	if (strcmp(r->head, remote_sha[0]))
		ferry_debug("%s moved to %.12s while fetching (listed at %.12s)", branch, r->head,
			    remote_sha[0]);
	r->moved = strcmp(r->head, r->previous) != 0;
	rc = 0;
out:
	for (size_t i = 0; i < 2; i++) {
		free(refs[i]);
		free(tracking[i]);
	}
	for (size_t i = 0; i < nspecs; i++)
		free(specs[i]);
	return rc;
}

int ferry_git_resolve(struct ferry_git *g, const char *rev, char sha[FERRY_SHA_HEX],
		      struct ferry_err *err)
{
	git_object *obj = NULL, *commit = NULL;
	int rc;

	if ((rc = git_revparse_single(&obj, g->repo, rev)))
		return git_fail(g, err, rc, "revision '%s'", rev);
	rc = git_object_peel(&commit, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (rc)
		return git_fail(g, err, rc, "revision '%s' is not a commit", rev);
	oid_hex(git_object_id(commit), sha);
	git_object_free(commit);
	return 0;
}

static bool is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ferry_hexval(s[i]) < 0)
			return false;
	return true;
}

int ferry_git_fetch_rev(struct ferry_git *g, const char *rev, char sha[FERRY_SHA_HEX],
			struct ferry_err *err)
{
	char *spec, *local;
	int rc;

	if (is_hex(rev, 7, 40)) {
		/* a commit id, maybe abbreviated: one we have, else fetch the
		 * branches and tags and look again (a branch named like hex
		 * digits is looked up as a branch after that) */
		if (!ferry_git_resolve(g, rev, sha, NULL))
			return 0;
		char *specs[2] = {"+refs/heads/*:refs/remotes/origin/*",
				  "+refs/tags/*:refs/tags/*"};
		if (fetch_refspecs(g, specs, 2, err))
			return -1;
		if (!ferry_git_resolve(g, rev, sha, NULL))
			return 0;
		if (strlen(rev) == 40)
			return ferry_err_set(err, FERRY_E_NOT_FOUND,
					     "commit %s is not on any branch or tag of %s; name "
					     "the ref that holds it (e.g. refs/pull/7/head)",
					     rev, g->url_redacted);
	}
	if (ferry_starts_with(rev, "refs/") || !strcmp(rev, "HEAD")) {
		/* HEAD: the remote's default branch; refs/...: any ref it
		 * advertises, such as refs/pull/7/head or refs/tags/v1 */
		const char *tail = ferry_starts_with(rev, "refs/") ? rev + 5 : rev;
		local = ferry_xasprintf("refs/ferry/rev/%s", tail);
		spec = ferry_xasprintf("+%s:%s", rev, local);
	} else {
		local = ferry_xasprintf("refs/remotes/origin/%s", rev);
		spec = ferry_xasprintf("+refs/heads/%s:%s", rev, local);
	}
	rc = fetch_refspecs(g, &spec, 1, err);
	if (!rc && ferry_git_resolve(g, local, sha, NULL)) /* peels annotated tags */
		rc = ferry_err_set(err, FERRY_E_NOT_FOUND, "revision '%s' not found in %s", rev,
				   g->url_redacted);
	free(spec);
	free(local);
	return rc ? -1 : 0;
}

/* ---- reading commits -------------------------------------------------- */

static int lookup_commit(struct ferry_git *g, const char *sha, git_commit **c,
			 struct ferry_err *err)
{
	git_oid oid;
	int rc;
	if ((rc = git_oid_fromstr(&oid, sha)))
		return ferry_err_set(err, FERRY_E_INVALID, "'%s' is not a commit id", sha);
	if ((rc = git_commit_lookup(c, g->repo, &oid)))
		return git_fail(g, err, rc, "commit %s", sha);
	return 0;
}

struct tree_file {
	char *path;
	git_oid oid;
};

struct tree_walk {
	struct tree_file *files;
	size_t n, cap;
	bool at_repo_root;
	const char *prefix; /* "root/" or "" */
	struct ferry_findings *f;
};

static int walk_cb(const char *dir, const git_tree_entry *e, void *payload)
{
	struct tree_walk *w = payload;
	const char *name = git_tree_entry_name(e);
	git_object_t type = git_tree_entry_type(e);

	if (type == GIT_OBJECT_TREE) {
		if (name[0] == '.')
			return 1; /* skip .git-like and hidden directories */
		if (w->at_repo_root && !dir[0] && !strcmp(name, "status"))
			return 1; /* ferry's own reports */
		return 0;
	}
	if (type != GIT_OBJECT_BLOB || name[0] == '.' ||
	    (!ferry_ends_with(name, ".yaml") && !ferry_ends_with(name, ".yml")))
		return 0;
	if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
		/* as for a directory: the link is stored, not its target */
		char *path = ferry_xasprintf("%s%s%s", w->prefix, dir, name);
		struct ferry_pos p = {path, 0, 0};
		ferry_findings_add(w->f, FERRY_CAT_WARNING, "load.symlink", &p,
				   "symbolic link not followed (Git stores the link, not the file "
				   "it points to)");
		free(path);
		return 0;
	}
	w->files = ferry_grow(w->files, &w->cap, w->n + 1, sizeof *w->files);
	w->files[w->n].path = ferry_xasprintf("%s%s", dir, name);
	git_oid_cpy(&w->files[w->n].oid, git_tree_entry_id(e));
	w->n++;
	return 0;
}

static int cmp_tree_file(const void *a, const void *b)
{
	return strcmp(((const struct tree_file *)a)->path, ((const struct tree_file *)b)->path);
}

int ferry_git_load_tree(struct ferry_git *g, const char *sha, const char *root,
			struct ferry_model *m, struct ferry_findings *f, struct ferry_err *err)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL, *sub = NULL;
	git_tree_entry *entry = NULL;
	struct tree_walk w = {0};
	char *prefix = NULL;
	int rc = -1;

	if (lookup_commit(g, sha, &commit, err))
		return -1;
	if ((rc = git_commit_tree(&tree, commit))) {
		git_fail(g, err, rc, "tree of %s", sha);
		goto out;
	}
	w.at_repo_root = !root || !*root;
	w.f = f;
	w.prefix = prefix = w.at_repo_root ? ferry_xstrdup("") : ferry_xasprintf("%s/", root);
	if (!w.at_repo_root) {
		if ((rc = git_tree_entry_bypath(&entry, tree, root)) ||
		    git_tree_entry_type(entry) != GIT_OBJECT_TREE) {
			rc = ferry_err_set(err, FERRY_E_NOT_FOUND,
					   "root '%s' is not a directory in commit %.12s", root,
					   sha);
			goto out;
		}
		if ((rc = git_tree_lookup(&sub, g->repo, git_tree_entry_id(entry)))) {
			git_fail(g, err, rc, "tree %s", root);
			goto out;
		}
	}
	if ((rc = git_tree_walk(sub ? sub : tree, GIT_TREEWALK_PRE, walk_cb, &w))) {
		git_fail(g, err, rc, "walking commit %.12s", sha);
		goto out;
	}
	qsort(w.files, w.n, sizeof *w.files, cmp_tree_file);
	for (size_t i = 0; i < w.n; i++) {
		git_blob *blob = NULL;
		char *name = w.at_repo_root ? ferry_xstrdup(w.files[i].path)
					    : ferry_xasprintf("%s/%s", root, w.files[i].path);
		if ((rc = git_blob_lookup(&blob, g->repo, &w.files[i].oid))) {
			git_fail(g, err, rc, "%s in %.12s", name, sha);
			free(name);
			goto out;
		}
		ferry_model_load_buffer(m, name, git_blob_rawcontent(blob),
					(size_t)git_blob_rawsize(blob), f);
		git_blob_free(blob);
		free(name);
	}
	rc = 0;
out:
	for (size_t i = 0; i < w.n; i++)
		free(w.files[i].path);
	free(w.files);
	free(prefix);
	git_tree_entry_free(entry);
	git_tree_free(sub);
	git_tree_free(tree);
	git_commit_free(commit);
	return rc ? -1 : 0;
}

int ferry_git_read_file(struct ferry_git *g, const char *sha, const char *path, char **data,
			size_t *len, struct ferry_err *err)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	int rc = -1;

	*data = NULL;
	*len = 0;
	if (lookup_commit(g, sha, &commit, err))
		return -1;
	if (git_commit_tree(&tree, commit) || git_tree_entry_bypath(&entry, tree, path) ||
	    git_tree_entry_type(entry) != GIT_OBJECT_BLOB ||
	    git_blob_lookup(&blob, g->repo, git_tree_entry_id(entry))) {
		ferry_err_set(err, FERRY_E_NOT_FOUND, "%s: not in commit %.12s", path, sha);
		goto out;
	}
	*len = (size_t)git_blob_rawsize(blob);
	*data = ferry_xmalloc(*len + 1);
	memcpy(*data, git_blob_rawcontent(blob), *len);
	(*data)[*len] = '\0';
	rc = 0;
out:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(commit);
	return rc;
}

static char *format_sig(const git_signature *s)
{
	return ferry_xasprintf("%s <%s>", s->name, s->email);
}

static void fill_info(struct ferry_git *g, git_commit *c, struct ferry_git_commit_info *ci)
{
	git_buf sig = GIT_BUF_INIT_CONST(NULL, 0), data = GIT_BUF_INIT_CONST(NULL, 0);
	git_oid id;

	memset(ci, 0, sizeof *ci);
	git_oid_cpy(&id, git_commit_id(c));
	oid_hex(&id, ci->sha);
	if (git_commit_parentcount(c) > 0)
		oid_hex(git_commit_parent_id(c, 0), ci->first_parent);
	ci->author = format_sig(git_commit_author(c));
	ci->author_email = ferry_xstrdup(git_commit_author(c)->email);
	ci->committer = format_sig(git_commit_committer(c));
	ci->subject = ferry_xstrdup(git_commit_summary(c) ? git_commit_summary(c) : "");
	ci->message = ferry_xstrdup(git_commit_message(c) ? git_commit_message(c) : "");
	ci->time = (time_t)git_commit_time(c);
	if (!git_commit_extract_signature(&sig, &data, g->repo, &id, NULL)) {
		ci->signature = ferry_xstrndup(sig.ptr, sig.size);
		ci->signature_len = sig.size;
		ci->signed_data = ferry_xmalloc(data.size + 1);
		memcpy(ci->signed_data, data.ptr, data.size);
		ci->signed_data[data.size] = '\0';
		ci->signed_data_len = data.size;
	}
	git_buf_dispose(&sig);
	git_buf_dispose(&data);
	git_error_clear();
}

int ferry_git_commit_info(struct ferry_git *g, const char *sha, struct ferry_git_commit_info *ci,
			  struct ferry_err *err)
{
	git_commit *c = NULL;
	memset(ci, 0, sizeof *ci);
	if (lookup_commit(g, sha, &c, err))
		return -1;
	fill_info(g, c, ci);
	git_commit_free(c);
	return 0;
}

void ferry_git_commit_info_release(struct ferry_git_commit_info *ci)
{
	free(ci->author);
	free(ci->author_email);
	free(ci->committer);
	free(ci->subject);
	free(ci->message);
	free(ci->signature);
	free(ci->signed_data);
	memset(ci, 0, sizeof *ci);
}

struct outside_walk {
	const char *prefix;
	bool outside;
};

static int diff_file_cb(const git_diff_delta *d, float progress, void *payload)
{
	struct outside_walk *o = payload;
	(void)progress;
	if (!ferry_starts_with(d->old_file.path, o->prefix) ||
	    !ferry_starts_with(d->new_file.path, o->prefix)) {
		o->outside = true;
		return 1; /* stop: one is enough */
	}
	return 0;
}

int ferry_git_changes_outside(struct ferry_git *g, const char *sha, const char *prefix,
			      bool *outside, struct ferry_err *err)
{
	git_commit *c = NULL, *parent = NULL;
	git_tree *t = NULL, *pt = NULL;
	git_diff *diff = NULL;
	struct outside_walk o = {prefix, false};
	int rc;

	*outside = true;
	if (lookup_commit(g, sha, &c, err))
		return -1;
	if (git_commit_parentcount(c) == 0) {
		git_commit_free(c);
		return 0;
	}
	if ((rc = git_commit_parent(&parent, c, 0)) || (rc = git_commit_tree(&t, c)) ||
	    (rc = git_commit_tree(&pt, parent)) ||
	    (rc = git_diff_tree_to_tree(&diff, g->repo, pt, t, NULL))) {
		git_fail(g, err, rc, "diff of %.12s", sha);
	} else {
		rc = git_diff_foreach(diff, diff_file_cb, NULL, NULL, NULL, &o);
		rc = rc == 1 || rc == GIT_EUSER ? 0 : rc;
		if (rc)
			git_fail(g, err, rc, "diff of %.12s", sha);
		else
			*outside = o.outside;
	}
	git_diff_free(diff);
	git_tree_free(pt);
	git_tree_free(t);
	git_commit_free(parent);
	git_commit_free(c);
	return rc ? -1 : 0;
}

int ferry_git_trailers(const char *message, struct ferry_trailer **out, size_t *n)
{
	git_message_trailer_array arr = {0};
	int rc;

	*out = NULL;
	*n = 0;
	git_libgit2_init(); /* usable without a repository open */
	rc = git_message_trailers(&arr, message);
	if (rc) {
		git_libgit2_shutdown();
		return -1;
	}
	if (arr.count) {
		*out = ferry_xcalloc(arr.count, sizeof **out);
		for (size_t i = 0; i < arr.count; i++) {
			(*out)[i].key = ferry_xstrdup(arr.trailers[i].key);
			(*out)[i].value = ferry_xstrdup(arr.trailers[i].value);
		}
		*n = arr.count;
	}
	git_message_trailer_array_free(&arr);
	git_libgit2_shutdown();
	return 0;
}

void ferry_git_trailers_free(struct ferry_trailer *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].value);
	}
	free(t);
}

int ferry_git_walk(struct ferry_git *g, const char *branch, size_t max,
		   int (*fn)(const struct ferry_git_commit_info *ci, void *arg), void *arg,
		   struct ferry_err *err)
{
	git_revwalk *w = NULL;
	git_oid oid;
	char *ref = ferry_xasprintf("refs/remotes/origin/%s", branch);
	size_t seen = 0;
	int rc;

	if ((rc = git_revwalk_new(&w, g->repo)) || (rc = git_revwalk_push_ref(w, ref))) {
		git_fail(g, err, rc, "history of %s", branch);
		goto out;
	}
	git_revwalk_simplify_first_parent(w);
	while (!(rc = git_revwalk_next(&oid, w))) {
		git_commit *c = NULL;
		struct ferry_git_commit_info ci;
		if ((rc = git_commit_lookup(&c, g->repo, &oid))) {
			git_fail(g, err, rc, "history of %s", branch);
			goto out;
		}
		fill_info(g, c, &ci);
		git_commit_free(c);
		rc = fn(&ci, arg);
		ferry_git_commit_info_release(&ci);
		if (rc || (max && ++seen >= max))
			break;
	}
	rc = rc == GIT_ITEROVER || rc > 0 ? 0 : rc;
out:
	git_revwalk_free(w);
	free(ref);
	return rc ? -1 : 0;
}

/* ---- status commits --------------------------------------------------- */

/* Did the remote refuse a push because someone else pushed first? */
static bool is_race(const char *why)
{
	/* receive-pack says "failed to update ref" when the ref moved
	 * between its check and its lock: another pusher won */
	return strstr(why, "non-fast-forward") || strstr(why, "fetch first") ||
	       strstr(why, "stale info") || strstr(why, "cannot lock ref") ||
	       strstr(why, "failed to lock") || strstr(why, "failed to update ref");
}

static int cb_push_update(const char *refname, const char *status, void *payload)
{
	struct push_state *p = ((struct ferry_git *)payload)->push_state;
	if (status && p) {
		p->rejected = true;
		snprintf(p->why, sizeof p->why, "%s: %s", refname, status);
	}
	return 0;
}

/* The tree of tip (or an empty tree) with files applied; *same when that
 * changes nothing. */
static int build_tree(struct ferry_git *g, git_commit *tip, const struct ferry_status_commit *c,
		      git_oid *out, bool *same, struct ferry_err *err)
{
	git_tree *base = NULL;
	git_tree_update *up = ferry_xcalloc(c->nfiles ? c->nfiles : 1, sizeof *up);
	git_oid empty;
	size_t n = 0;
	int rc = 0;

	if (tip && (rc = git_commit_tree(&base, tip)))
		goto fail;
	if (!base) {
		git_treebuilder *tb = NULL;
		if ((rc = git_treebuilder_new(&tb, g->repo, NULL)) ||
		    (rc = git_treebuilder_write(&empty, tb)) ||
		    (rc = git_tree_lookup(&base, g->repo, &empty))) {
			git_treebuilder_free(tb);
			goto fail;
		}
		git_treebuilder_free(tb);
	}
	for (size_t i = 0; i < c->nfiles; i++) {
		const struct ferry_status_file *f = &c->files[i];
		if (!f->data) {
			git_tree_entry *e = NULL;
			if (git_tree_entry_bypath(&e, base, f->path))
				continue; /* removing what is not there */
			git_tree_entry_free(e);
			up[n].action = GIT_TREE_UPDATE_REMOVE;
		} else {
			if ((rc = git_blob_create_from_buffer(&up[n].id, g->repo, f->data, f->len)))
				goto fail;
			up[n].action = GIT_TREE_UPDATE_UPSERT;
			up[n].filemode = GIT_FILEMODE_BLOB;
		}
		up[n].path = f->path;
		n++;
	}
	if ((rc = git_tree_create_updated(out, g->repo, base, n, up)))
		goto fail;
	*same = git_oid_equal(out, git_tree_id(base));
	git_tree_free(base);
	free(up);
	return 0;
fail:
	git_tree_free(base);
	free(up);
	return git_fail(g, err, rc, "building the status tree");
}

static int fetch_branch(struct ferry_git *g, const char *branch, struct ferry_err *err)
{
	char *ref = ferry_xasprintf("refs/heads/%s", branch);
	char sha[FERRY_SHA_HEX];
	int rc = ferry_git_ls_remote(g, (const char *const *)&ref, 1, &sha, err);
	if (!rc && sha[0]) {
		char *spec =
			ferry_xasprintf("+refs/heads/%s:refs/remotes/origin/%s", branch, branch);
		rc = fetch_refspecs(g, &spec, 1, err);
		free(spec);
	} else if (!rc) {
		/* gone or never there: an orphan commit starts it */
		char *tracking = ferry_xasprintf("refs/remotes/origin/%s", branch);
		git_reference *r = NULL;
		if (!git_reference_lookup(&r, g->repo, tracking))
			git_reference_delete(r);
		git_reference_free(r);
		free(tracking);
	}
	free(ref);
	return rc;
}

int ferry_git_commit_status(struct ferry_git *g, const struct ferry_status_commit *c,
			    struct ferry_status_push *r, struct ferry_err *err)
{
	char *tracking = ferry_xasprintf("refs/remotes/origin/%s", c->branch);
	char *outgoing = ferry_xasprintf("refs/ferry/outgoing/%s", c->branch);
	char *spec = ferry_xasprintf("%s:refs/heads/%s", outgoing, c->branch); /* never '+' */
	unsigned max_attempts = c->max_attempts ? c->max_attempts : 12;
	unsigned max_backoff = c->max_backoff_ms ? c->max_backoff_ms : 5000;
	git_signature *who = NULL;
	int rc = -1;

	memset(r, 0, sizeof *r);
	if (git_signature_now(&who, c->committer_name, c->committer_email)) {
		git_fail(g, err, -1, "committer '%s <%s>'", c->committer_name, c->committer_email);
		goto out;
	}
	for (unsigned attempt = 0;; attempt++) {
		git_commit *tip = NULL;
		git_oid tip_oid, tree_oid, commit_oid;
		git_tree *tree = NULL;
		git_reference *ref = NULL;
		bool same = false, have_tip;

		have_tip = !git_reference_name_to_id(&tip_oid, g->repo, tracking);
		if (have_tip && git_commit_lookup(&tip, g->repo, &tip_oid)) {
			git_fail(g, err, -1, "status branch %s", c->branch);
			goto out;
		}
		if (build_tree(g, tip, c, &tree_oid, &same, err)) {
			git_commit_free(tip);
			goto out;
		}
		if (same) {
			git_commit_free(tip);
			rc = 0;
			goto out;
		}
		const git_commit *parents[1] = {tip};
		int e = git_tree_lookup(&tree, g->repo, &tree_oid);
		if (!e)
			e = git_commit_create(&commit_oid, g->repo, NULL, who, who, NULL,
					      c->message, tree, have_tip ? 1 : 0, parents);
		if (!e)
			e = git_reference_create(&ref, g->repo, outgoing, &commit_oid, 1,
						 "ferry: status");
		git_reference_free(ref);
		git_tree_free(tree);
		git_commit_free(tip);
		if (e) {
			git_fail(g, err, e, "committing status");
			goto out;
		}

		/* push, without force */
		git_remote *remote = NULL;
		git_push_options po;
		git_strarray specs = {&spec, 1};
		struct push_state ps = {false, ""};
		git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
		setup_callbacks(g, &po.callbacks); /* payload g, for every callback */
		po.callbacks.push_update_reference = cb_push_update;
		setup_proxy(g, &po.proxy_opts);
		po.custom_headers = headers(g);
		g->push_state = &ps;
		r->attempts++;
		g->stats.pushes++;
		e = new_remote(g, &remote);
		if (!e)
			e = git_remote_push(remote, &specs, &po);
		git_remote_free(remote);
		g->push_state = NULL;
		if (!e && !ps.rejected) {
			git_reference *tr = NULL;
			git_reference_create(&tr, g->repo, tracking, &commit_oid, 1,
					     "ferry: pushed status");
			git_reference_free(tr);
			oid_hex(&commit_oid, r->sha);
			r->committed = true;
			rc = 0;
			goto out;
		}
		/* rejected (someone pushed first) or failed: which? */
		const git_error *ge = git_error_last();
		bool race = e == GIT_ENONFASTFORWARD || is_race(ps.why) ||
			    (ge && ge->message && is_race(ge->message));
		if (!race && ps.rejected) {
			/* a hook, a protected branch: retrying will not help */
			ferry_err_set(err, FERRY_E_AUTH,
				      "pushing status to %s: the remote refused: %s",
				      g->url_redacted, ps.why);
			goto out;
		}
		if (!race) {
			git_fail(g, err, e, "pushing status to %s", g->url_redacted);
			goto out;
		}
		g->stats.rejected++;
		if (attempt + 1 >= max_attempts) {
			ferry_err_set(err, FERRY_E_CONFLICT,
				      "pushing status to %s: still refused after %u attempts (%s)",
				      g->url_redacted, r->attempts,
				      ps.why[0] ? ps.why : "non-fast-forward");
			goto out;
		}
		unsigned backoff = 50u << (attempt < 10 ? attempt : 10);
		if (backoff > max_backoff)
			backoff = max_backoff;
		backoff = backoff / 2 + (unsigned)(random() % (backoff / 2 + 1));
		ferry_debug("status push to %s refused (%s); retrying in %u ms", c->branch,
			    ps.why[0] ? ps.why : "non-fast-forward", backoff);
		ferry_sleep(backoff / 1000.0);
		if (fetch_branch(g, c->branch, err))
			goto out;
	}
out:
	git_signature_free(who);
	free(tracking);
	free(outgoing);
	free(spec);
	return rc;
}
