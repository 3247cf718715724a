/* ferry.ini is read with inih through our own line reader. The reader counts
 * lines (inih calls the handler right after reading a key's line, so the
 * count is the key's line), strips indentation so that keys may be indented
 * under their section, checks section headers itself (so that an empty
 * unknown section is still reported), and keeps the leading blank only on
 * the lines that continue a list, which inih then hands to the handler as
 * continuations. Comments are handed over as blank lines, so they may be of
 * any length. */
#include "reconciler/config.h"

#include "common/alloc.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "providers/kubevirt/objects.h"
#include "providers/kubevirt/observe.h"
#include "reconciler/secrets.h"
#include "schema/names.h"

#include <ini.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_MAX_BYTES (1024 * 1024)

enum key_id {
	K_URL,
	K_BRANCH,
	K_ROOT,
	K_STATUS_BRANCH,
	K_STATUS_MODE,
	K_STATUS_INTERVAL,
	K_CREDENTIALS,
	K_COMMITTER,
	K_PROXY,
	K_CA_FILE,
	K_KNOWN_HOSTS,
	K_DATA_DIR,
	K_POLL_INTERVAL,
	K_LISTEN,
	K_SECRETS_DIR,
	K_SIGNATURE,
	K_ALLOWED_SIGNERS,
	K_OPENPGP_KEYS,
	K_APPROVALS,
	K_APPROVERS,
	K_TRAILERS,
	K_WEBHOOK_SECRET,
	K_MAX_VM_INFLIGHT,
	K_PRECOPY_INTERVAL,
	K_GUEST_SHUTDOWN_TIMEOUT,
	K_TARGET_TYPE,
	K_TARGET_DIR,
	K_KUBECONFIG,
	K_CONTEXT,
	K_VOLUMES,
	K_WORKER_IMAGE,
	K_WORKER_SA,
	K_WORKER_NODE_SELECTOR,
	K_WORKER_CPU,
	K_WORKER_MEMORY,
	K_TRANSFER_ADDRESS,
	K_TRANSFER_BIND,
	K_TRANSFER_PORTS,
	K_VDDK_LIB_DIR,
	K_COUNT
};

static const struct {
	const char *section;
	const char *name;
} keys[K_COUNT] = {
	[K_URL] = {"repository", "url"},
	[K_BRANCH] = {"repository", "branch"},
	[K_ROOT] = {"repository", "root"},
	[K_STATUS_BRANCH] = {"repository", "status_branch"},
	[K_STATUS_MODE] = {"repository", "status_mode"},
	[K_STATUS_INTERVAL] = {"repository", "status_interval"},
	[K_CREDENTIALS] = {"repository", "credentials"},
	[K_COMMITTER] = {"repository", "committer"},
	[K_PROXY] = {"repository", "proxy"},
	[K_CA_FILE] = {"repository", "ca_file"},
	[K_KNOWN_HOSTS] = {"repository", "known_hosts"},
	[K_DATA_DIR] = {"daemon", "data_dir"},
	[K_POLL_INTERVAL] = {"daemon", "poll_interval"},
	[K_LISTEN] = {"daemon", "listen"},
	[K_SECRETS_DIR] = {"secrets", "dir"},
	[K_SIGNATURE] = {"gate", "signature"},
	[K_ALLOWED_SIGNERS] = {"gate", "allowed_signers"},
	[K_OPENPGP_KEYS] = {"gate", "openpgp_keys"},
	[K_APPROVALS] = {"gate", "approvals"},
	[K_APPROVERS] = {"gate", "approvers"},
	[K_TRAILERS] = {"gate", "approval_trailers"},
	[K_WEBHOOK_SECRET] = {"daemon", "webhook_secret"},
	[K_MAX_VM_INFLIGHT] = {"limits", "max_vm_inflight"},
	[K_PRECOPY_INTERVAL] = {"limits", "precopy_interval"},
	[K_GUEST_SHUTDOWN_TIMEOUT] = {"limits", "guest_shutdown_timeout"},
	[K_TARGET_TYPE] = {"target", "type"},
	[K_TARGET_DIR] = {"target", "dir"},
	[K_KUBECONFIG] = {"target", "kubeconfig"},
	[K_CONTEXT] = {"target", "context"},
	[K_VOLUMES] = {"target", "volumes"},
	[K_WORKER_IMAGE] = {"target", "worker_image"},
	[K_WORKER_SA] = {"target", "worker_service_account"},
	[K_WORKER_NODE_SELECTOR] = {"target", "worker_node_selector"},
	[K_WORKER_CPU] = {"target", "worker_cpu"},
	[K_WORKER_MEMORY] = {"target", "worker_memory"},
	[K_TRANSFER_ADDRESS] = {"target", "transfer_address"},
	[K_TRANSFER_BIND] = {"target", "transfer_bind"},
	[K_TRANSFER_PORTS] = {"target", "transfer_ports"},
	[K_VDDK_LIB_DIR] = {"vsphere", "vddk_lib_dir"},
};

static const char *const sections[] = {"repository", "daemon", "secrets", "gate",
				       "limits",     "target", "vsphere"};
#define NSECTIONS (sizeof sections / sizeof sections[0])

static const char *const status_modes[] = {"branch", "path"};
static const char *const signatures[] = {"none", "any", "ssh", "openpgp"};
static const char *const target_types[] = {"local", "kubevirt"};
static const char *const volume_kinds[] = {"datavolume", "pvc"};

struct parse {
	struct ferry_config *c;
	struct ferry_err *err;
	const char *file; /* the name in messages */
	const char *base; /* directory for relative paths, or NULL */
	const char *text;
	size_t len, pos;
	int line;	/* of the line last handed to inih */
	int key_col;	/* where its key (or section) starts, 1-based */
	int val_col;	/* where its value starts */
	bool cont;	/* it continues a list */
	bool list_open; /* a list key came last: indented lines continue it */
	int list_id;	/* which one */
	bool failed;
	int fail_line;
	int line_of[K_COUNT]; /* 0: not set in this file */
	int col_of[K_COUNT];
};

static int vfail(struct parse *p, enum ferry_errcode code, int line, int col, const char *fmt,
		 va_list ap) __attribute__((format(printf, 5, 0)));

static int vfail(struct parse *p, enum ferry_errcode code, int line, int col, const char *fmt,
		 va_list ap)
{
	char msg[FERRY_ERR_MSG_MAX];

	vsnprintf(msg, sizeof msg, fmt, ap);
	p->failed = true;
	p->fail_line = line;
	return ferry_err_set_at(p->err, code, p->file, line, col, "%s", msg);
}

static int fail_at(struct parse *p, enum ferry_errcode code, int line, int col, const char *fmt,
		   ...) __attribute__((format(printf, 5, 6)));

static int fail_at(struct parse *p, enum ferry_errcode code, int line, int col, const char *fmt,
		   ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(p, code, line, col, fmt, ap);
	va_end(ap);
	return rc;
}

/* A problem with the value on the current line, offset bytes into it. */
static int fail_value(struct parse *p, int offset, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_value(struct parse *p, int offset, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(p, FERRY_E_INVALID, p->line, p->val_col + offset, fmt, ap);
	va_end(ap);
	return rc;
}

/* A problem found after parsing, reported at the line of key id (0 when the
 * key was not set in this file). */
static int fail_key(struct parse *p, enum key_id id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_key(struct parse *p, enum key_id id, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(p, FERRY_E_INVALID, p->line_of[id], p->col_of[id], fmt, ap);
	va_end(ap);
	return rc;
}

static int syntax_error(struct parse *p, int line, int col)
{
	return fail_at(p, FERRY_E_INVALID, line, col,
		       "syntax error (expected 'key = value' or '[section]')");
}

static int find_key(const char *section, const char *name, size_t len)
{
	for (int i = 0; i < K_COUNT; i++)
		if ((!section || strcmp(keys[i].section, section) == 0) &&
		    strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
			return i;
	return -1;
}

static bool is_list_id(int id)
{
	return id == K_APPROVERS || id == K_TRAILERS || id == K_WORKER_NODE_SELECTOR;
}

/* Does the indented line t (n bytes) continue the open list? Lines with no
 * '=' do; a worker_node_selector entry has one (LABEL=VALUE), so there a
 * line continues unless what comes before its '=' is a key of ferry.ini. */
static bool continues_list(const struct parse *p, const char *t, size_t n)
{
	const char *eq = memchr(t, '=', n);
	size_t klen;

	if (!eq)
		return true;
	if (p->list_id != K_WORKER_NODE_SELECTOR)
		return false;
	klen = (size_t)(eq - t);
	while (klen > 0 && isspace((unsigned char)t[klen - 1]))
		klen--;
	return find_key(NULL, t, klen) < 0;
}

/* A "[section]" line, t (n bytes) trimmed. */
static int check_section(struct parse *p, const char *t, size_t n)
{
	const char *close = memchr(t, ']', n);
	const char *rest;
	char name[65];
	size_t len;

	if (!close)
		return syntax_error(p, p->line, p->key_col);
	for (rest = close + 1; rest < t + n && isblank((unsigned char)*rest); rest++)
		;
	if (rest < t + n && *rest != ';' && *rest != '#')
		return syntax_error(p, p->line, p->key_col + (int)(rest - t));
	len = (size_t)(close - t - 1);
	for (size_t i = 0; i < NSECTIONS; i++)
		if (strlen(sections[i]) == len && memcmp(sections[i], t + 1, len) == 0)
			return 0;
	if (len >= sizeof name)
		len = sizeof name - 1;
	memcpy(name, t + 1, len);
	name[len] = '\0';
	{
		const char *near = ferry_nearest(name, sections, NSECTIONS);

		if (near)
			return fail_at(p, FERRY_E_INVALID, p->line, p->key_col,
				       "unknown section [%s]; did you mean [%s]?", name, near);
	}
	return fail_at(p, FERRY_E_INVALID, p->line, p->key_col,
		       "unknown section [%s] (ferry.ini has [repository], [daemon], [secrets], "
		       "[gate], [limits], [target] and [vsphere])",
		       name);
}

/* The ini_reader: hands inih one line at a time, as described on top. */
static char *next_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *s, *nl, *t, *nul;
	size_t raw, b = 0, e, n;

	if (p->failed || p->pos >= p->len)
		return NULL;
	s = p->text + p->pos;
	nl = memchr(s, '\n', p->len - p->pos);
	raw = nl ? (size_t)(nl - s) : p->len - p->pos;
	p->pos += raw + (nl != NULL);
	p->line++;
	nul = memchr(s, '\0', raw);
	if (nul) {
		fail_at(p, FERRY_E_INVALID, p->line, (int)(nul - s) + 1, "NUL byte in the file");
		return NULL;
	}
	if (p->line == 1 && raw >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		b = 3;
	while (b < raw && isblank((unsigned char)s[b]))
		b++;
	e = raw;
	while (e > b && isspace((unsigned char)s[e - 1]))
		e--;
	t = s + b;
	n = e - b;
	p->cont = false;
	p->key_col = (int)b + 1;
	p->val_col = (int)b + 1;

	if (n == 0 || *t == ';' || *t == '#') {
		n = 0; /* a comment reaches inih as a blank line */
	} else if (b > 0 && p->list_open && *t != '[' && continues_list(p, t, n)) {
		/* Cut the inline comment here: inih 55 keeps it on continuations. */
		for (size_t i = 1; i < n; i++) {
			if (t[i] == ';' && isblank((unsigned char)t[i - 1])) {
				n = i;
				break;
			}
		}
		while (n > 0 && isblank((unsigned char)t[n - 1]))
			n--;
		p->cont = true;
	} else if (*t == '[') {
		if (check_section(p, t, n) < 0)
			return NULL;
		p->list_open = false;
	} else {
		size_t sep = 0, klen;
		const char *v;

		while (sep < n && t[sep] != '=' && t[sep] != ':')
			sep++;
		klen = sep;

		if (sep >= n) {
			syntax_error(p, p->line, p->key_col);
			return NULL;
		}
		while (klen > 0 && isspace((unsigned char)t[klen - 1]))
			klen--;
		if (klen == 0) {
			syntax_error(p, p->line, p->key_col);
			return NULL;
		}
		p->list_id = find_key(NULL, t, klen);
		p->list_open = is_list_id(p->list_id);
		for (v = t + sep + 1; v < t + n && isspace((unsigned char)*v); v++)
			;
		p->val_col = (int)(v - s) + 1;
	}
	if (num < 3 || n > (size_t)num - 3) {
		fail_at(p, FERRY_E_LIMIT, p->line, p->key_col,
			"line too long (more than %d characters); a long approvers or "
			"approval_trailers list may go on indented lines below its key",
			num - 3);
		return NULL;
	}
	if (p->cont)
		*str++ = ' ';
	memcpy(str, t, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return p->cont ? str - 1 : str;
}

static void set_str(char **dst, const char *value)
{
	free(*dst);
	*dst = ferry_xstrdup(value);
}

static int need_value(struct parse *p, enum key_id id, const char *value)
{
	if (!*value)
		return fail_value(p, 0, "%s: empty value", keys[id].name);
	return 0;
}

static int set_string(struct parse *p, enum key_id id, char **dst, const char *value)
{
	if (need_value(p, id, value) < 0)
		return -1;
	set_str(dst, value);
	return 0;
}

/* A path: relative ones are taken from the file's directory. */
static int set_path(struct parse *p, enum key_id id, char **dst, const char *value)
{
	if (need_value(p, id, value) < 0)
		return -1;
	free(*dst);
	if (value[0] != '/' && p->base)
		*dst = ferry_path_join(p->base, value);
	else
		*dst = ferry_xstrdup(value);
	return 0;
}

/* Git's rule (url_is_local_not_ssh): "host:path" with no '/' before the
 * ':' is scp-like SSH; anything else without "://" is a local path. */
static bool url_is_local_path(const char *url)
{
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');

	if (strstr(url, "://"))
		return false;
	return !colon || (slash && slash < colon);
}

static int set_url(struct parse *p, const char *value)
{
	if (need_value(p, K_URL, value) < 0)
		return -1;
	free(p->c->repo.url);
	if (value[0] != '/' && p->base && url_is_local_path(value))
		p->c->repo.url = ferry_path_join(p->base, value);
	else
		p->c->repo.url = ferry_xstrdup(value);
	return 0;
}

/* Why s is not a valid branch name (git check-ref-format, applied to
 * refs/heads/<s>), or NULL. */
static const char *refname_problem(const char *s)
{
	const char *part = s;

	if (ferry_starts_with(s, "refs/"))
		return "write the branch name without refs/heads/";
	if (s[0] == '-')
		return "it must not start with '-'";
	if (strcmp(s, "@") == 0 || strcmp(s, "HEAD") == 0)
		return "it is reserved";
	for (const char *q = s; *q; q++) {
		unsigned char ch = (unsigned char)*q;

		if (ch < 0x20 || ch == 0x7f)
			return "it must not contain control characters";
		if (ch == ' ')
			return "it must not contain spaces";
		if (strchr("~^:?*[\\", ch))
			return "it must not contain ~ ^ : ? * [ or \\";
	}
	if (strstr(s, ".."))
		return "it must not contain '..'";
	if (strstr(s, "@{"))
		return "it must not contain '@{'";
	if (s[0] == '/' || ferry_ends_with(s, "/") || strstr(s, "//"))
		return "it must not start or end with '/' or contain '//'";
	if (ferry_ends_with(s, "."))
		return "it must not end with '.'";
	for (;;) {
		const char *slash = strchrnul(part, '/');
		size_t len = (size_t)(slash - part);

		if (part[0] == '.')
			return "no part of it may start with '.'";
		if (len >= 5 && memcmp(slash - 5, ".lock", 5) == 0)
			return "no part of it may end with '.lock'";
		if (!*slash)
			break;
		part = slash + 1;
	}
	return NULL;
}

static int set_branch(struct parse *p, enum key_id id, char **dst, const char *value)
{
	const char *why;

	if (need_value(p, id, value) < 0)
		return -1;
	why = refname_problem(value);
	if (why)
		return fail_value(p, 0, "%s: '%s' is not a valid branch name: %s", keys[id].name,
				  value, why);
	set_str(dst, value);
	return 0;
}

/* Drop empty and "." parts and the slashes around them; refuse "..". */
static int set_root(struct parse *p, const char *value)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	const char *s = value;

	while (*s) {
		const char *end;
		size_t len;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		end = strchrnul(s, '/');
		len = (size_t)(end - s);
		if (len == 2 && memcmp(s, "..", 2) == 0) {
			ferry_sb_release(&sb);
			return fail_value(p, (int)(s - value),
					  "root: '..' is not allowed (the root is a directory "
					  "inside the repository), got '%s'",
					  value);
		}
		if (!(len == 1 && s[0] == '.')) {
			if (sb.len)
				ferry_sb_addc(&sb, '/');
			ferry_sb_add(&sb, s, len);
		}
		s = end;
	}
	free(p->c->repo.root);
	p->c->repo.root = sb.len ? ferry_sb_detach(&sb) : ferry_xstrdup("");
	return 0;
}

static int set_choice(struct parse *p, enum key_id id, const char *const *choices, size_t n,
		      const char *expected, int *out, const char *value)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(choices[i], value) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return fail_value(p, 0, "%s: expected %s, got '%s'", keys[id].name, expected, value);
}

/* Digits from *s, saturating above UINT_MAX; false when there are none. */
static bool read_number(const char **s, uint64_t *out)
{
	const char *q = *s;
	uint64_t n = 0;

	if (!isdigit((unsigned char)*q))
		return false;
	for (; isdigit((unsigned char)*q); q++)
		if (n <= UINT_MAX)
			n = n * 10 + (uint64_t)(*q - '0');
	*s = q;
	*out = n;
	return true;
}

/* "1h30m", "15s", "500ms" or a number of seconds: 0 and *ms, -1 when s is
 * not a duration, -2 when it is more than UINT_MAX milliseconds. Units go
 * from large to small, each at most once. */
static int parse_duration(const char *s, unsigned *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"h", 3600000}, {"ms", 1}, {"m", 60000}, {"s", 1000}};
	static const int rank[] = {3, 0, 2, 1};
	uint64_t total = 0, n;
	int last = 4;

	if (!read_number(&s, &n))
		return -1;
	if (!*s) {
		total = n * 1000;
	} else {
		for (;;) {
			size_t u;

			for (u = 0; u < sizeof units / sizeof units[0]; u++)
				if (ferry_starts_with(s, units[u].unit))
					break;
			if (u == sizeof units / sizeof units[0] || rank[u] >= last)
				return -1;
			last = rank[u];
			s += strlen(units[u].unit);
			total += n * units[u].ms;
			if (!*s)
				break;
			if (!read_number(&s, &n))
				return -1;
		}
	}
	if (total > UINT_MAX)
		return -2;
	*ms = (unsigned)total;
	return 0;
}

static int set_duration(struct parse *p, enum key_id id, unsigned *dst, const char *value)
{
	unsigned ms = 0;
	int r = parse_duration(value, &ms);

	if (r == -1)
		return fail_value(p, 0,
				  "%s: expected a duration such as 15s, 500ms, 10m or 1h30m, or a "
				  "number of seconds; got '%s'",
				  keys[id].name, value);
	if (r == -2)
		return fail_value(p, 0, "%s: '%s' is too long (at most %ums, about 49 days)",
				  keys[id].name, value, UINT_MAX);
	if (ms == 0)
		return fail_value(p, 0, "%s: must be more than 0, got '%s'", keys[id].name, value);
	*dst = ms;
	return 0;
}

static int set_count(struct parse *p, enum key_id id, unsigned *dst, const char *value)
{
	const char *s = value;
	uint64_t n;

	if (!read_number(&s, &n) || *s)
		return fail_value(p, 0, "%s: expected a whole number (0 or more), got '%s'",
				  keys[id].name, value);
	if (n > UINT_MAX)
		return fail_value(p, 0, "%s: '%s' is too large", keys[id].name, value);
	*dst = (unsigned)n;
	return 0;
}

static int set_credentials(struct parse *p, const char *value)
{
	struct ferry_err e = FERRY_ERR_INIT;

	if (need_value(p, K_CREDENTIALS, value) < 0)
		return -1;
	if (ferry_secret_ref_check(value, &e) < 0)
		return fail_value(p, 0, "credentials: %s", e.msg);
	set_str(&p->c->repo.credentials, value);
	return 0;
}

/* An email inside <...> or alone: no blanks, no <>, and no ',' (lists). */
static bool email_ok(const char *s, size_t n, bool need_at)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]) || strchr("<>,", s[i]))
			return false;
	return !need_at || (memchr(s, '@', n) && s[0] != '@' && s[n - 1] != '@');
}

/* "Name <email>" (s[0..n) trimmed): name and email through the out
 * pointers (offsets and lengths into s). */
static bool split_ident(const char *s, size_t n, bool need_name, bool need_at, size_t *name_len,
			size_t *email_off, size_t *email_len)
{
	const char *lt = memchr(s, '<', n);
	size_t nl;

	if (!lt || n < 2 || s[n - 1] != '>')
		return false;
	nl = (size_t)(lt - s);
	while (nl > 0 && isspace((unsigned char)s[nl - 1]))
		nl--;
	if ((need_name && nl == 0) || memchr(s, '>', nl))
		return false;
	*name_len = nl;
	*email_off = (size_t)(lt + 1 - s);
	*email_len = n - *email_off - 1;
	return email_ok(lt + 1, *email_len, need_at);
}

static int set_committer(struct parse *p, const char *value)
{
	size_t nl, eo, el;

	if (!split_ident(value, strlen(value), true, false, &nl, &eo, &el))
		return fail_value(p, 0, "committer: expected 'Name <email>', got '%s'", value);
	free(p->c->repo.committer_name);
	free(p->c->repo.committer_email);
	p->c->repo.committer_name = ferry_xstrndup(value, nl);
	p->c->repo.committer_email = ferry_xstrndup(value + eo, el);
	return 0;
}

static bool approver_ok(const char *s, size_t n)
{
	size_t nl, eo, el;

	if (memchr(s, '<', n))
		return split_ident(s, n, false, true, &nl, &eo, &el);
	return email_ok(s, n, true);
}

static bool trailer_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return n > 0;
}

static void free_list(char ***items, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*items)[i]);
	free(*items);
	*items = NULL;
	*n = 0;
}

/* A worker_node_selector entry, s[0..n) trimmed: LABEL=VALUE, blanks
 * around '=' dropped; it goes to *out as "LABEL=VALUE". */
static int node_selector_entry(struct parse *p, const char *value, const char *s, size_t n,
			       char **out)
{
	const struct ferry_config *c = p->c;
	const char *eq = memchr(s, '=', n);
	size_t kl, vo;
	char *key, *val;
	int rc = 0;

	if (!eq)
		return fail_value(p, (int)(s - value),
				  "worker_node_selector: expected LABEL=VALUE, got '%.*s'", (int)n,
				  s);
	kl = (size_t)(eq - s);
	while (kl > 0 && isspace((unsigned char)s[kl - 1]))
		kl--;
	for (vo = (size_t)(eq - s) + 1; vo < n && isspace((unsigned char)s[vo]); vo++)
		;
	key = ferry_xstrndup(s, kl);
	val = ferry_xstrndup(s + vo, n - vo);
	if (!kl || !ferry_kube_label_key_ok(key)) {
		rc = fail_value(p, (int)(s - value),
				"worker_node_selector: '%s' is not a label key ([PREFIX/]NAME, "
				"NAME at most 63 of A-Z a-z 0-9 - _ . starting and ending "
				"alphanumeric)",
				key);
	} else if (!ferry_kube_label_value_ok(val)) {
		rc = fail_value(p, (int)(s + vo - value),
				"worker_node_selector: '%s' is not a label value (at most 63 of "
				"A-Z a-z 0-9 - _ . starting and ending alphanumeric)",
				val);
	} else {
		*out = ferry_xasprintf("%s=%s", key, val);
		for (size_t i = 0; i < c->target.nworker_node_selector; i++) {
			const char *have = c->target.worker_node_selector[i];

			if (strlen(have) > kl && have[kl] == '=' && !memcmp(have, key, kl)) {
				free(*out);
				*out = NULL;
				rc = fail_value(p, (int)(s - value),
						"worker_node_selector: label '%s' is given twice",
						key);
				break;
			}
		}
	}
	free(key);
	free(val);
	return rc;
}

/* One line of a comma-separated list; a key line replaces the list, a
 * continuation line adds to it. A comma may end a line. */
static int add_list(struct parse *p, enum key_id id, const char *value)
{
	struct ferry_config *c = p->c;
	char ***items;
	size_t *n, cap;
	const char *s = value;

	switch (id) {
	case K_TRAILERS:
		items = &c->gate.approval_trailers;
		n = &c->gate.ntrailers;
		break;
	case K_WORKER_NODE_SELECTOR:
		items = &c->target.worker_node_selector;
		n = &c->target.nworker_node_selector;
		break;
	default:
		items = &c->gate.approvers;
		n = &c->gate.napprovers;
		break;
	}
	if (!p->cont)
		free_list(items, n);
	cap = *n;
	while (*s) {
		const char *comma = strchrnul(s, ',');
		const char *b = s, *e = comma;
		char *entry = NULL;

		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (b == e) {
			if (!*comma && s != value)
				break; /* "a," at the end of a line */
			return fail_value(p, (int)(b - value),
					  "%s: empty entry (a comma with nothing before it)",
					  keys[id].name);
		}
		switch (id) {
		case K_TRAILERS:
			if (!trailer_ok(b, (size_t)(e - b)))
				return fail_value(p, (int)(b - value),
						  "approval_trailers: '%.*s' is not a trailer name "
						  "(letters, digits and '-' only, without ':')",
						  (int)(e - b), b);
			break;
		case K_WORKER_NODE_SELECTOR:
			if (node_selector_entry(p, value, b, (size_t)(e - b), &entry) < 0)
				return -1;
			break;
		default:
			if (!approver_ok(b, (size_t)(e - b)))
				return fail_value(p, (int)(b - value),
						  "approvers: expected 'Name <email>' or an email "
						  "address, got '%.*s'",
						  (int)(e - b), b);
			break;
		}
		*FERRY_PUSH(*items, *n, cap) = entry ? entry : ferry_xstrndup(b, (size_t)(e - b));
		if (!*comma)
			break;
		s = comma + 1;
	}
	return 0;
}

/* worker_cpu, worker_memory: a Kubernetes quantity, more than zero. */
static int set_quantity(struct parse *p, enum key_id id, char **dst, const char *value,
			const char *examples)
{
	uint64_t q;

	if (need_value(p, id, value) < 0)
		return -1;
	if (ferry_kube_parse_quantity(value, &q) < 0 || q == 0)
		return fail_value(p, 0, "%s: expected a Kubernetes quantity such as %s, got '%s'",
				  keys[id].name, examples, value);
	set_str(dst, value);
	return 0;
}

static int set_service_account(struct parse *p, const char *value)
{
	const char *why;

	if (need_value(p, K_WORKER_SA, value) < 0)
		return -1;
	if (!ferry_dns1123_subdomain(value, &why))
		return fail_value(p, 0, "worker_service_account: '%s' is not a valid name: name %s",
				  value, why);
	set_str(&p->c->target.worker_service_account, value);
	return 0;
}

/* An image reference has no blanks (and is not empty). */
static int set_image(struct parse *p, const char *value)
{
	if (need_value(p, K_WORKER_IMAGE, value) < 0)
		return -1;
	for (const char *q = value; *q; q++)
		if (isspace((unsigned char)*q) || iscntrl((unsigned char)*q))
			return fail_value(p, (int)(q - value),
					  "worker_image: an image reference has no blanks, got "
					  "'%s'",
					  value);
	set_str(&p->c->target.worker_image, value);
	return 0;
}

/* transfer_address: a DNS name or an IP address; transfer_bind: an IP
 * address. */
static int set_address(struct parse *p, enum key_id id, char **dst, const char *value)
{
	const char *why;

	if (need_value(p, id, value) < 0)
		return -1;
	if (!ferry_ip_literal(value) &&
	    (id == K_TRANSFER_BIND || !ferry_dns1123_subdomain(value, &why)))
		return fail_value(p, 0, "%s: expected %s, got '%s'", keys[id].name,
				  id == K_TRANSFER_BIND ? "an IPv4 or IPv6 address"
							: "a host name or an IP address",
				  value);
	set_str(dst, value);
	return 0;
}

/* transfer_ports: PORT or LOW-HIGH, 1 to 65535. */
static int set_ports(struct parse *p, const char *value)
{
	unsigned long lo, hi;
	char *end;

	if (need_value(p, K_TRANSFER_PORTS, value) < 0)
		return -1;
	errno = 0;
	lo = strtoul(value, &end, 10);
	hi = lo;
	if (*end == '-' && end != value)
		hi = strtoul(end + 1, &end, 10);
	if (errno || *end || !isdigit((unsigned char)value[0]) || lo < 1 || hi > 65535 || lo > hi)
		return fail_value(p, (int)(end - value),
				  "transfer_ports: expected a port or a range LOW-HIGH of ports "
				  "1 to 65535, got '%s'",
				  value);
	p->c->target.transfer_port_min = (unsigned)lo;
	p->c->target.transfer_port_max = (unsigned)hi;
	return 0;
}

/* HOST:PORT or [ADDRESS]:PORT, port 1 to 65535. */
static int set_listen(struct parse *p, const char *value)
{
	const char *port, *q;
	uint64_t n;

	if (need_value(p, K_LISTEN, value) < 0)
		return -1;
	if (value[0] == '[') {
		const char *close = strchr(value, ']');

		if (!close || close == value + 1 || close[1] != ':')
			goto bad;
		for (q = value + 1; q < close; q++)
			if (!isalnum((unsigned char)*q) && !strchr(":.%-_", *q))
				goto bad;
		port = close + 2;
	} else {
		const char *colon = strrchr(value, ':');

		if (!colon || colon == value)
			goto bad;
		if (memchr(value, ':', (size_t)(colon - value)))
			return fail_value(p, 0,
					  "listen: an IPv6 address goes in brackets, as in "
					  "[::1]:8080; got '%s'",
					  value);
		for (q = value; q < colon; q++)
			if (isspace((unsigned char)*q) || strchr("[]/@", *q))
				goto bad;
		port = colon + 1;
	}
	q = port;
	if (!read_number(&q, &n) || *q || n < 1 || n > 65535)
		return fail_value(p, (int)(port - value),
				  "listen: the port must be a number from 1 to 65535, got '%s'",
				  value);
	set_str(&p->c->daemon.listen, value);
	return 0;
bad:
	return fail_value(p, 0, "listen: expected HOST:PORT or [ADDRESS]:PORT, got '%s'", value);
}

static int set_key(struct parse *p, enum key_id id, const char *value)
{
	struct ferry_config *c = p->c;
	int choice = 0;

	switch (id) {
	case K_URL: return set_url(p, value);
	case K_BRANCH: return set_branch(p, id, &c->repo.branch, value);
	case K_ROOT: return set_root(p, value);
	case K_STATUS_BRANCH: return set_branch(p, id, &c->repo.status_branch, value);
	case K_STATUS_MODE:
		if (set_choice(p, id, status_modes, 2, "branch or path", &choice, value) < 0)
			return -1;
		c->repo.status_mode = (enum ferry_status_mode)choice;
		return 0;
	case K_STATUS_INTERVAL: return set_duration(p, id, &c->repo.status_interval_ms, value);
	case K_CREDENTIALS: return set_credentials(p, value);
	case K_COMMITTER: return set_committer(p, value);
	case K_PROXY: return set_string(p, id, &c->repo.proxy, value);
	case K_CA_FILE: return set_path(p, id, &c->repo.ca_file, value);
	case K_KNOWN_HOSTS: return set_path(p, id, &c->repo.known_hosts, value);
	case K_DATA_DIR: return set_path(p, id, &c->daemon.data_dir, value);
	case K_POLL_INTERVAL: return set_duration(p, id, &c->daemon.poll_interval_ms, value);
	case K_PRECOPY_INTERVAL: return set_duration(p, id, &c->limits.precopy_interval_ms, value);
	case K_GUEST_SHUTDOWN_TIMEOUT:
		return set_duration(p, id, &c->limits.guest_shutdown_ms, value);
	case K_LISTEN: return set_listen(p, value);
	case K_SECRETS_DIR: return set_path(p, id, &c->secrets.dir, value);
	case K_SIGNATURE:
		if (set_choice(p, id, signatures, 4, "none, any, ssh or openpgp", &choice, value) <
		    0)
			return -1;
		c->gate.signature = (enum ferry_sig_require)choice;
		return 0;
	case K_ALLOWED_SIGNERS: return set_path(p, id, &c->gate.allowed_signers, value);
	case K_OPENPGP_KEYS: return set_path(p, id, &c->gate.openpgp_keys, value);
	case K_APPROVALS: return set_count(p, id, &c->gate.approvals, value);
	case K_APPROVERS:
	case K_TRAILERS: return add_list(p, id, value);
	case K_WEBHOOK_SECRET:
		if (need_value(p, id, value) < 0)
			return -1;
		{
			struct ferry_err e = FERRY_ERR_INIT;

			if (ferry_secret_ref_check(value, &e) < 0)
				return fail_value(p, 0, "webhook_secret: %s", e.msg);
		}
		set_str(&c->daemon.webhook_secret, value);
		return 0;
	case K_MAX_VM_INFLIGHT:
		if (set_count(p, id, &c->limits.max_vm_inflight, value) < 0)
			return -1;
		if (!c->limits.max_vm_inflight)
			return fail_value(p, 0, "max_vm_inflight: must be 1 or more, got '%s'",
					  value);
		return 0;
	case K_TARGET_TYPE:
		if (set_choice(p, id, target_types, 2, "local or kubevirt", &choice, value) < 0)
			return -1;
		c->target.type = (enum ferry_target_type)choice;
		return 0;
	case K_TARGET_DIR: return set_path(p, id, &c->target.dir, value);
	case K_KUBECONFIG: return set_path(p, id, &c->target.kubeconfig, value);
	case K_CONTEXT: return set_string(p, id, &c->target.context, value);
	case K_VOLUMES:
		if (set_choice(p, id, volume_kinds, 2, "datavolume or pvc", &choice, value) < 0)
			return -1;
		set_str(&c->target.volumes, volume_kinds[choice]);
		return 0;
	case K_WORKER_IMAGE: return set_image(p, value);
	case K_WORKER_SA: return set_service_account(p, value);
	case K_WORKER_NODE_SELECTOR: return add_list(p, id, value);
	case K_WORKER_CPU: return set_quantity(p, id, &c->target.worker_cpu, value, "500m or 2");
	case K_WORKER_MEMORY:
		return set_quantity(p, id, &c->target.worker_memory, value, "512Mi or 2Gi");
	case K_TRANSFER_ADDRESS: return set_address(p, id, &c->target.transfer_address, value);
	case K_TRANSFER_BIND: return set_address(p, id, &c->target.transfer_bind, value);
	case K_TRANSFER_PORTS: return set_ports(p, value);
	case K_VDDK_LIB_DIR: return set_path(p, id, &c->vsphere.vddk_lib_dir, value);
	case K_COUNT: break;
	}
	return fail_at(p, FERRY_E_INTERNAL, p->line, 0, "no setter for key %d", (int)id);
}

static void report_unknown(struct parse *p, const char *section, const char *name)
{
	const char *cands[K_COUNT];
	const char *near;
	size_t n = 0;
	int other = find_key(NULL, name, strlen(name));

	if (!*section) {
		if (other >= 0)
			fail_at(p, FERRY_E_INVALID, p->line, p->key_col,
				"key '%s' is outside a section; it belongs in [%s]", name,
				keys[other].section);
		else
			fail_at(p, FERRY_E_INVALID, p->line, p->key_col,
				"key '%.64s' is outside a section", name);
		return;
	}
	for (int i = 0; i < K_COUNT; i++)
		if (strcmp(keys[i].section, section) == 0)
			cands[n++] = keys[i].name;
	near = ferry_nearest(name, cands, n);
	if (near)
		fail_at(p, FERRY_E_INVALID, p->line, p->key_col,
			"unknown key '%s' in [%s]; did you mean '%s'?", name, section, near);
	else if (other >= 0)
		fail_at(p, FERRY_E_INVALID, p->line, p->key_col,
			"unknown key '%s' in [%s]; it belongs in [%s]", name, section,
			keys[other].section);
	else
		fail_at(p, FERRY_E_INVALID, p->line, p->key_col, "unknown key '%.64s' in [%s]",
			name, section);
}

/* [limits] NAMESPACE/PROVIDER = N: that provider's per-host budget. */
static int set_provider_limit(struct parse *p, const char *name, const char *value)
{
	struct ferry_config *c = p->c;
	struct ferry_err e = FERRY_ERR_INIT;
	const char *s = value;
	uint64_t n;

	if (ferry_secret_ref_check(name, &e) < 0)
		return fail_at(p, FERRY_E_INVALID, p->line, p->key_col,
			       "[limits] %s: a provider override is NAMESPACE/NAME = N: %s", name,
			       e.msg);
	for (size_t i = 0; i < c->limits.nproviders; i++)
		if (strcmp(c->limits.providers[i].provider, name) == 0)
			return fail_at(p, FERRY_E_INVALID, p->line, p->key_col,
				       "duplicate key '%s' in [limits]", name);
	if (!read_number(&s, &n) || *s || n == 0 || n > UINT_MAX)
		return fail_value(p, 0, "%s: expected a number of disks (1 or more), got '%s'",
				  name, value);
	c->limits.providers = ferry_xrealloc(
		c->limits.providers, (c->limits.nproviders + 1) * sizeof *c->limits.providers);
	c->limits.providers[c->limits.nproviders].provider = ferry_xstrdup(name);
	c->limits.providers[c->limits.nproviders++].disks = (unsigned)n;
	return 0;
}

/* The ini_handler. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	int id;

	if (p->failed)
		return 0;
	id = *section ? find_key(section, name, strlen(name)) : -1;
	if (id < 0 && strcmp(section, "limits") == 0 && strchr(name, '/'))
		return set_provider_limit(p, name, value) == 0;
	if (id < 0) {
		report_unknown(p, section, name);
		return 0;
	}
	if (p->cont)
		return add_list(p, (enum key_id)id, value) == 0;
	if (p->line_of[id]) {
		fail_at(p, FERRY_E_INVALID, p->line, p->key_col,
			"duplicate key '%s' in [%s] (first set on line %d)", name, section,
			p->line_of[id]);
		return 0;
	}
	p->line_of[id] = p->line;
	p->col_of[id] = p->key_col;
	return set_key(p, (enum key_id)id, value) == 0;
}

/* Checks that need more than one key. */
static int check_whole(struct parse *p)
{
	const struct ferry_config *c = p->c;

	switch (c->gate.signature) {
	case FERRY_SIG_NONE: break;
	case FERRY_SIG_ANY:
		if (!c->gate.allowed_signers && !c->gate.openpgp_keys)
			return fail_key(p, K_SIGNATURE,
					"signature = any needs allowed_signers, openpgp_keys or "
					"both");
		break;
	case FERRY_SIG_SSH:
		if (!c->gate.allowed_signers)
			return fail_key(p, K_SIGNATURE,
					"signature = ssh needs allowed_signers (an SSH "
					"allowed-signers file)");
		break;
	case FERRY_SIG_OPENPGP:
		if (!c->gate.openpgp_keys)
			return fail_key(p, K_SIGNATURE,
					"signature = openpgp needs openpgp_keys (a file of "
					"OpenPGP public keys)");
		break;
	}
	if (c->gate.approvals > 0 && c->gate.napprovers == 0)
		return fail_key(p, K_APPROVALS,
				"approvals = %u needs approvers (the people who may approve)",
				c->gate.approvals);
	if (c->gate.approvals > c->gate.napprovers)
		return fail_key(p, K_APPROVALS,
				"approvals = %u, but only %zu approvers are listed, so the gate "
				"could never open",
				c->gate.approvals, c->gate.napprovers);
	if (c->gate.ntrailers == 0)
		return fail_key(p, K_TRAILERS,
				"approval_trailers: needs at least one trailer name");
	if (c->repo.status_mode == FERRY_STATUS_BRANCH &&
	    strcmp(c->repo.status_branch, c->repo.branch) == 0)
		return fail_key(p, p->line_of[K_STATUS_BRANCH] ? K_STATUS_BRANCH : K_BRANCH,
				"status_branch '%s' is the watched branch; choose another, or set "
				"status_mode = path to keep status/ on the watched branch",
				c->repo.status_branch);
	return 0;
}

static void default_str(char **dst, const char *value)
{
	if (!*dst)
		*dst = ferry_xstrdup(value);
}

/* Defaults for whatever is unset: every default is either a zero (the
 * enums, approvals) or a value that can never be zero once loaded. */
static void fill_unset(struct ferry_config *c)
{
	default_str(&c->repo.branch, "main");
	default_str(&c->repo.root, "");
	default_str(&c->repo.status_branch, "ferry/status");
	if (!c->repo.status_interval_ms)
		c->repo.status_interval_ms = 10000;
	default_str(&c->repo.committer_name, "ferry");
	default_str(&c->repo.committer_email, "ferry@localhost");
	default_str(&c->daemon.data_dir, "/var/lib/ferry");
	if (!c->daemon.poll_interval_ms)
		c->daemon.poll_interval_ms = 15000;
	default_str(&c->daemon.listen, "127.0.0.1:8080");
	default_str(&c->secrets.dir, "/etc/ferry/secrets");
	if (!c->limits.max_vm_inflight)
		c->limits.max_vm_inflight = 20;
	if (!c->limits.precopy_interval_ms)
		c->limits.precopy_interval_ms = 60 * 60 * 1000;
	if (!c->limits.guest_shutdown_ms)
		c->limits.guest_shutdown_ms = 5 * 60 * 1000;
	if (!c->gate.ntrailers) {
		free(c->gate.approval_trailers);
		c->gate.approval_trailers = ferry_xcalloc(2, sizeof(char *));
		c->gate.approval_trailers[0] = ferry_xstrdup("Approved-by");
		c->gate.approval_trailers[1] = ferry_xstrdup("Reviewed-by");
		c->gate.ntrailers = 2;
	}
}

void ferry_config_defaults(struct ferry_config *c)
{
	memset(c, 0, sizeof *c);
	fill_unset(c);
}

void ferry_config_release(struct ferry_config *c)
{
	free(c->path);
	free(c->repo.url);
	free(c->repo.branch);
	free(c->repo.root);
	free(c->repo.status_branch);
	free(c->repo.credentials);
	free(c->repo.committer_name);
	free(c->repo.committer_email);
	free(c->repo.proxy);
	free(c->repo.ca_file);
	free(c->repo.known_hosts);
	free(c->daemon.data_dir);
	free(c->daemon.listen);
	free(c->secrets.dir);
	free(c->daemon.webhook_secret);
	for (size_t i = 0; i < c->limits.nproviders; i++)
		free(c->limits.providers[i].provider);
	free(c->limits.providers);
	free(c->target.dir);
	free(c->target.kubeconfig);
	free(c->target.context);
	free(c->target.volumes);
	free(c->target.worker_image);
	free(c->target.worker_service_account);
	free_list(&c->target.worker_node_selector, &c->target.nworker_node_selector);
	free(c->target.worker_cpu);
	free(c->target.worker_memory);
	free(c->target.transfer_address);
	free(c->target.transfer_bind);
	free(c->vsphere.vddk_lib_dir);
	free(c->gate.allowed_signers);
	free(c->gate.openpgp_keys);
	free_list(&c->gate.approvers, &c->gate.napprovers);
	free_list(&c->gate.approval_trailers, &c->gate.ntrailers);
	memset(c, 0, sizeof *c);
}

static int parse_text(struct ferry_config *c, const char *name, const char *base, const char *text,
		      size_t len, struct ferry_err *err)
{
	struct parse p;
	int rc;

	memset(&p, 0, sizeof p);
	p.c = c;
	p.err = err;
	p.file = name;
	p.base = base;
	p.text = text;
	p.len = len;
	fill_unset(c);
	set_str(&c->path, name);

	rc = ini_parse_stream(next_line, &p, on_key, &p);
	if (rc == -2)
		fail_at(&p, FERRY_E_INTERNAL, 0, 0, "inih: out of memory");
	else if (rc > 0 && (!p.failed || rc < p.fail_line))
		syntax_error(&p, rc, 0); /* one inih found and the reader did not */
	if (!p.failed)
		check_whole(&p);
	if (p.failed) {
		ferry_config_release(c);
		return -1;
	}
	return 0;
}

/* The whole file, NUL-terminated, at most CONFIG_MAX_BYTES. */
static int read_file(const char *path, char **out, size_t *len, struct ferry_err *err)
{
	if (!ferry_read_file(path, CONFIG_MAX_BYTES, out, len))
		return 0;
	if (errno == EFBIG)
		return ferry_err_set_at(err, FERRY_E_LIMIT, path, 0, 0, "larger than %d bytes",
					CONFIG_MAX_BYTES);
	return ferry_err_set_at(err, errno == ENOENT ? FERRY_E_NOT_FOUND : FERRY_E_IO, path, 0, 0,
				"cannot open: %s", strerror(errno));
}

/* The absolute directory of path. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *cwd, *dir;

	if (path[0] == '/')
		return slash == path ? ferry_xstrdup("/")
				     : ferry_xstrndup(path, (size_t)(slash - path));
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	if (!slash) {
		dir = ferry_xstrdup(cwd);
	} else {
		char *rel = ferry_xstrndup(path, (size_t)(slash - path));

		dir = ferry_path_join(cwd, rel);
		free(rel);
	}
	free(cwd);
	return dir;
}

int ferry_config_load(struct ferry_config *c, const char *path, struct ferry_err *err)
{
	char *text = NULL, *base;
	size_t len = 0;
	int rc;

	if (read_file(path, &text, &len, err) < 0) {
		ferry_config_release(c);
		return -1;
	}
	base = dir_of(path);
	if (!base) {
		ferry_err_set_at(err, FERRY_E_IO, path, 0, 0,
				 "cannot resolve relative paths: getcwd: %s", strerror(errno));
		free(text);
		ferry_config_release(c);
		return -1;
	}
	rc = parse_text(c, path, base, text, len, err);
	free(base);
	free(text);
	return rc;
}

int ferry_config_load_string(struct ferry_config *c, const char *name, const char *text,
			     struct ferry_err *err)
{
	return parse_text(c, name ? name : "<string>", NULL, text, strlen(text), err);
}
