/* A secret file is parsed here rather than with inih: inih cuts a value at
 * " ;" (an inline comment) and refuses lines over 200 bytes, and a password
 * or a token must arrive whole or not at all. The file is read into one
 * buffer that is wiped before it is freed; values are copied out at their
 * final size, so no realloc leaves a copy of a secret behind. No message
 * quotes a value or a line that could be one. */
#include "reconciler/secrets.h"

#include "common/alloc.h"
#include "common/util.h"
#include "schema/names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_MAX_BYTES (1024 * 1024)
#define SECRET_MAX_KEYS	 1024

static const char pem_begin[] = "-----BEGIN";
static const char pem_end[] = "-----END";

int ferry_secret_ref_check(const char *ref, struct ferry_err *err)
{
	const char *slash = strchr(ref, '/');
	const char *why = NULL;
	char *ns;
	int rc = 0;

	if (slash && strchr(slash + 1, '/'))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "secret reference '%s': expected NAMESPACE/NAME or NAME", ref);
	ns = slash ? ferry_xstrndup(ref, (size_t)(slash - ref)) : ferry_xstrdup("default");
	if (!ferry_dns1123_label(ns, &why))
		rc = ferry_err_set(err, FERRY_E_INVALID, "secret reference '%s': namespace %s", ref,
				   why);
	else if (!ferry_dns1123_label(slash ? slash + 1 : ref, &why))
		rc = ferry_err_set(err, FERRY_E_INVALID, "secret reference '%s': name %s", ref,
				   why);
	free(ns);
	return rc;
}

/* Read all of fd (st_size bytes) into a new NUL-terminated buffer. */
static int read_all(int fd, const char *path, size_t size, char **out, struct ferry_err *err)
{
	char *buf = ferry_xmalloc(size + 1);
	size_t got = 0;
	char extra;
	ssize_t r;

	while (got < size) {
		r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	do
		r = read(fd, &extra, 1);
	while (r < 0 && errno == EINTR);
	explicit_bzero(&extra, sizeof extra);
	if (r < 0 || got != size || r > 0) {
		int e = errno;

		explicit_bzero(buf, got);
		free(buf);
		if (r < 0)
			return ferry_err_set_at(err, FERRY_E_IO, path, 0, 0, "read: %s",
						strerror(e));
		return ferry_err_set_at(err, FERRY_E_RETRYABLE, path, 0, 0,
					"the file changed while it was read");
	}
	buf[size] = '\0';
	*out = buf;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

struct span {
	size_t off, len;
	int line;
};

struct secret_parse {
	struct ferry_secret_data *s;
	struct span *spans;
	size_t cap;
	struct ferry_err *err;
};

static int fail(struct secret_parse *sp, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct secret_parse *sp, int line, const char *fmt, ...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ferry_err_set_at(sp->err, FERRY_E_INVALID, sp->s->path, line, 0, "%s", msg);
}

/* One "key = value" line; t (n bytes, trimmed) is inside buf. */
static int add_key(struct secret_parse *sp, char *buf, char *t, size_t n, int line)
{
	struct ferry_secret_data *s = sp->s;
	char *eq = memchr(t, '=', n);
	size_t klen;
	char *v;

	if (!eq)
		return fail(sp, line, "syntax error (expected 'key = value' or '[secret]')");
	klen = (size_t)(eq - t);
	while (klen > 0 && is_space(t[klen - 1]))
		klen--;
	if (klen == 0)
		return fail(sp, line, "syntax error (no key before '=')");
	for (size_t i = 0; i < s->n; i++) {
		if (strlen(s->keys[i]) == klen && memcmp(s->keys[i], t, klen) == 0)
			return fail(sp, line, "duplicate key '%.*s' (first on line %d)", (int)klen,
				    t, sp->spans[i].line);
	}
	if (s->n == SECRET_MAX_KEYS)
		return ferry_err_set_at(sp->err, FERRY_E_LIMIT, s->path, line, 0,
					"more than %d keys", SECRET_MAX_KEYS);
	v = eq + 1;
	while (v < t + n && is_space(*v))
		v++;
	sp->spans = ferry_grow(sp->spans, &sp->cap, s->n + 1, sizeof *sp->spans);
	s->keys = ferry_xrealloc(s->keys, (s->n + 1) * sizeof *s->keys);
	s->values = ferry_xrealloc(s->values, (s->n + 1) * sizeof *s->values);
	s->keys[s->n] = ferry_xstrndup(t, klen);
	s->values[s->n] = NULL;
	sp->spans[s->n] = (struct span){(size_t)(v - buf), (size_t)(t + n - v), line};
	s->n++;
	return 0;
}

/* Append line t (n bytes) to the last value, after a newline. The value
 * always ends before t starts (the previous line's '\n' lies between), so the
 * copy moves bytes towards the start of buf and never over unread text. */
static void append_line(struct secret_parse *sp, char *buf, const char *t, size_t n)
{
	struct span *last = &sp->spans[sp->s->n - 1];
	char *end = buf + last->off + last->len;

	if (last->len > 0) {
		*end++ = '\n';
		last->len++;
	}
	memmove(end, t, n);
	last->len += n;
}

enum pem_state {
	PEM_NONE,
	PEM_INSIDE, /* between -----BEGIN and -----END: every line is the value's */
	PEM_AFTER,  /* after -----END or an empty value: a -----BEGIN line continues it */
};

static int parse(struct secret_parse *sp, char *buf, size_t len)
{
	enum pem_state pem = PEM_NONE;
	bool in_section = false;
	int pem_line = 0;
	size_t pos = 0;
	int line = 0;

	while (pos < len) {
		char *s = buf + pos;
		char *nl = memchr(s, '\n', len - pos);
		size_t raw = nl ? (size_t)(nl - s) : len - pos;
		size_t b = 0, e = raw, n;
		char *t;

		pos += raw + (nl != NULL);
		line++;
		if (memchr(s, '\0', raw))
			return fail(sp, line, "NUL byte in the file");
		if (line == 1 && raw >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
			b = 3;
		while (b < raw && is_space(s[b]))
			b++;
		while (e > b && is_space(s[e - 1]))
			e--;
		t = s + b;
		n = e - b;

		if (pem == PEM_INSIDE || (pem == PEM_AFTER && n >= sizeof pem_begin - 1 &&
					  memcmp(t, pem_begin, sizeof pem_begin - 1) == 0)) {
			if (pem == PEM_AFTER)
				pem_line = line;
			/* before append_line, which may move the line over itself */
			pem = n >= sizeof pem_end - 1 && memcmp(t, pem_end, sizeof pem_end - 1) == 0
				      ? PEM_AFTER
				      : PEM_INSIDE;
			append_line(sp, buf, t, n);
			continue;
		}
		pem = PEM_NONE;
		if (n == 0 || t[0] == '#' || t[0] == ';')
			continue;
		if (t[0] == '[') {
			if (t[n - 1] != ']' || memchr(t + 1, ']', n - 2))
				return fail(sp, line,
					    "syntax error (expected 'key = value' or '[secret]')");
			if (n - 2 != strlen("secret") || memcmp(t + 1, "secret", n - 2) != 0)
				return fail(sp, line,
					    "unknown section [%.*s]; a secret file has one "
					    "section, [secret]",
					    n - 2 > 64 ? 64 : (int)(n - 2), t + 1);
			in_section = true;
			continue;
		}
		if (add_key(sp, buf, t, n, line) < 0)
			return -1;
		if (!in_section)
			return fail(sp, line, "key '%s' is outside [secret]",
				    sp->s->keys[sp->s->n - 1]);
		{
			struct span *last = &sp->spans[sp->s->n - 1];
			const char *v = buf + last->off;

			if (last->len == 0)
				pem = PEM_AFTER; /* a PEM block may start on the next line */
			else if (last->len >= sizeof pem_begin - 1 &&
				 memcmp(v, pem_begin, sizeof pem_begin - 1) == 0) {
				pem = PEM_INSIDE;
				pem_line = line;
				/* "-----BEGIN X----- ... -----END X-----" on one line */
				for (size_t i = 1; i + sizeof pem_end - 1 <= last->len; i++) {
					if (memcmp(v + i, pem_end, sizeof pem_end - 1) == 0) {
						pem = PEM_AFTER;
						break;
					}
				}
			}
		}
	}
	if (pem == PEM_INSIDE)
		return fail(sp, pem_line,
			    "the value of '%s' starts a PEM block (-----BEGIN) "
			    "that has no -----END line",
			    sp->s->keys[sp->s->n - 1]);
	for (size_t i = 0; i < sp->s->n; i++)
		sp->s->values[i] = ferry_xstrndup(buf + sp->spans[i].off, sp->spans[i].len);
	return 0;
}

int ferry_secret_load(struct ferry_secret_data *s, const char *dir, const char *ref,
		      struct ferry_err *err)
{
	struct secret_parse sp = {s, NULL, 0, err};
	const char *slash = strchr(ref, '/');
	char *buf = NULL, *rel;
	size_t size = 0;
	struct stat st;
	int fd = -1, rc = -1;

	memset(s, 0, sizeof *s);
	if (ferry_secret_ref_check(ref, err) < 0)
		return -1;
	rel = slash ? ferry_xasprintf("%s.ini", ref) : ferry_xasprintf("default/%s.ini", ref);
	s->path = ferry_path_join(dir, rel);
	free(rel);

	/* O_NONBLOCK: a FIFO planted under the name must not hang the open;
	 * fstat then refuses it. */
	fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			ferry_err_set_at(err, FERRY_E_NOT_FOUND, s->path, 0, 0,
					 "secret '%s' not found (no such file)", ref);
		else if (errno == ELOOP)
			ferry_err_set_at(err, FERRY_E_INVALID, s->path, 0, 0,
					 "secret '%s' is a symbolic link; ferry reads secrets only "
					 "from regular files, not through links",
					 ref);
		else
			ferry_err_set_at(err, FERRY_E_IO, s->path, 0, 0, "open: %s",
					 strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ferry_err_set_at(err, FERRY_E_IO, s->path, 0, 0, "fstat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ferry_err_set_at(err, FERRY_E_INVALID, s->path, 0, 0,
				 "secret '%s' is not a regular file", ref);
		goto out;
	}
	if (st.st_mode & 077) {
		ferry_err_set_at(err, FERRY_E_INVALID, s->path, 0, 0,
				 "group or others may access this secret file (mode %04o); run "
				 "`chmod 600 %s`",
				 (unsigned)(st.st_mode & 07777), s->path);
		goto out;
	}
	if (st.st_size > SECRET_MAX_BYTES) {
		ferry_err_set_at(err, FERRY_E_LIMIT, s->path, 0, 0,
				 "secret file larger than %d bytes", SECRET_MAX_BYTES);
		goto out;
	}
	size = (size_t)st.st_size;
	if (read_all(fd, s->path, size, &buf, err) < 0) {
		size = 0;
		goto out;
	}
	rc = parse(&sp, buf, size);
out:
	if (fd >= 0)
		close(fd);
	if (buf) {
		explicit_bzero(buf, size);
		free(buf);
	}
	free(sp.spans);
	if (rc < 0)
		ferry_secret_release(s);
	return rc;
}

int ferry_secret_load_for(struct ferry_secret_data *s, const char *dir, const char *ns,
			  const char *name, const char *owner, struct ferry_err *err)
{
	struct ferry_err e = FERRY_ERR_INIT;
	char *ref = ferry_xasprintf("%s/%s", ns, name);
	char msg[FERRY_ERR_MSG_MAX + FERRY_ERR_FILE_MAX + 8];
	int rc = ferry_secret_load(s, dir, ref, &e);

	free(ref);
	if (!rc)
		return 0;
	/* the secret module's messages quote no value; the file it names
	 * goes into the message, where callers look */
	ferry_err_format(&e, msg, sizeof msg);
	return ferry_err_set(err, e.code, "%s: %s", owner, msg);
}

const char *ferry_secret_get(const struct ferry_secret_data *s, const char *key)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0)
			return s->values[i];
	return NULL;
}

void ferry_secret_release(struct ferry_secret_data *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->values && s->values[i]) {
			explicit_bzero(s->values[i], strlen(s->values[i]));
			free(s->values[i]);
		}
		free(s->keys[i]);
	}
	free(s->keys);
	free(s->values);
	free(s->path);
	memset(s, 0, sizeof *s);
}
