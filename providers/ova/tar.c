#include "tar.h"

#include "common/alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	BLOCK = 512,
	MAX_EXT = 1 << 20, /* bytes of a pax or GNU long-name header's data */
};

/* What a pax 'x' or GNU 'L' header says about the member after it. */
struct pending {
	char *name;
	uint64_t size;
	bool has_size;
};

static int read_at(int fd, void *buf, size_t n, uint64_t off, struct ferry_err *err)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ferry_err_set(err, FERRY_E_IO, "reading at offset %llu: %s",
					     (unsigned long long)(off + done), strerror(errno));
		if (r == 0)
			return ferry_err_set(err, FERRY_E_INVALID,
					     "archive truncated at offset %llu",
					     (unsigned long long)(off + done));
		done += (size_t)r;
	}
	return 0;
}

/* An octal field (leading blanks, then digits, then NUL or blanks), or GNU
 * base-256 when the first byte has its top bit set. */
static bool parse_number(const unsigned char *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return false; /* negative */
		for (i = 1; i < n; i++) {
			if (v >> 56)
				return false;
			v = v << 8 | f[i];
		}
		*out = v;
		return true;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 61)
			return false;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return false;
	*out = v;
	return true;
}

static bool checksum_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned long usum = 0;
	long ssum = 0;

	if (!parse_number(h + 148, 8, &want))
		return false;
	for (int i = 0; i < BLOCK; i++) {
		unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
		usum += c;
		ssum += (signed char)c;
	}
	/* Some old tars summed signed chars. */
	return want == usum || (ssum >= 0 && want == (uint64_t)ssum);
}

static bool all_zero(const unsigned char *h)
{
	for (int i = 0; i < BLOCK; i++)
		if (h[i])
			return false;
	return true;
}

static const char *strip_dot(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	return name;
}

/* pax records: "LEN key=value\n", LEN counting the whole record. */
static int parse_pax(const char *data, size_t n, struct pending *pend, uint64_t off,
		     struct ferry_err *err)
{
	size_t pos = 0;

	while (pos < n) {
		size_t len = 0, i = pos;
		const char *key, *eq, *val, *end;

		if (data[pos] == '\0')
			break; /* padding */
		for (; i < n && data[i] >= '0' && data[i] <= '9'; i++) {
			len = len * 10 + (size_t)(data[i] - '0');
			if (len > n)
				goto bad;
		}
		if (i == pos || i >= n || data[i] != ' ' || len > n - pos || len < i - pos + 3 ||
		    data[pos + len - 1] != '\n')
			goto bad;
		key = data + i + 1;
		end = data + pos + len - 1;
		eq = memchr(key, '=', (size_t)(end - key));
		if (!eq)
			goto bad;
		val = eq + 1;
		if (eq - key == 4 && memcmp(key, "path", 4) == 0) {
			if ((size_t)(end - val) > FERRY_TAR_MAX_NAME)
				return ferry_err_set(err, FERRY_E_LIMIT,
						     "member name at offset %llu is longer than %d "
						     "bytes",
						     (unsigned long long)off, FERRY_TAR_MAX_NAME);
			free(pend->name);
			pend->name = ferry_xstrndup(val, (size_t)(end - val));
		} else if (eq - key == 4 && memcmp(key, "size", 4) == 0) {
			uint64_t v = 0;
			const char *c = val;
			if (c == end)
				goto bad;
			for (; c < end && *c >= '0' && *c <= '9'; c++) {
				if (v > (UINT64_MAX - 9) / 10)
					goto bad;
				v = v * 10 + (uint64_t)(*c - '0');
			}
			if (c != end)
				goto bad;
			pend->size = v;
			pend->has_size = true;
		}
		pos += len;
	}
	return 0;
bad:
	return ferry_err_set(err, FERRY_E_INVALID, "malformed pax header at offset %llu",
			     (unsigned long long)off);
}

static char *header_name(const unsigned char *h)
{
	char name[101], prefix[156];

	memcpy(name, h, 100);
	name[100] = '\0';
	/* POSIX ustar ("ustar\0" "00") splits long names into prefix/name; GNU
	 * ("ustar  \0") keeps other fields there. */
	if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345]) {
		memcpy(prefix, h + 345, 155);
		prefix[155] = '\0';
		return ferry_xasprintf("%s/%s", prefix, name);
	}
	return ferry_xstrdup(name);
}

static void add_member(struct ferry_tar *out, char *name, uint64_t off, uint64_t size)
{
	struct ferry_tar_member *m = FERRY_PUSH(out->v, out->len, out->cap);
	const char *s = strip_dot(name);

	m->name = ferry_xstrdup(s);
	m->offset = off;
	m->size = size;
	free(name);
}

/* The data of an extended header (pax 'x' or GNU 'L'); the caller frees. */
static char *read_ext(int fd, uint64_t off, uint64_t size, struct ferry_err *err)
{
	char *buf;

	if (size > MAX_EXT) {
		ferry_err_set(err, FERRY_E_LIMIT,
			      "extended header at offset %llu has %llu bytes, more than %d",
			      (unsigned long long)off, (unsigned long long)size, MAX_EXT);
		return NULL;
	}
	buf = ferry_xmalloc((size_t)size + 1);
	if (read_at(fd, buf, (size_t)size, off, err)) {
		free(buf);
		return NULL;
	}
	buf[size] = '\0';
	return buf;
}

int ferry_tar_list(int fd, uint64_t archive_size, struct ferry_tar *out, struct ferry_err *err)
{
	unsigned char h[BLOCK];
	struct pending pend = {NULL, 0, false};
	uint64_t off = 0;
	int ret = -1;

	for (unsigned nh = 0;; nh++) {
		uint64_t size, data, span;
		char type, *buf;

		if (off == archive_size) {
			/* No end-of-archive blocks: tolerated, as tar does. */
			if (pend.name || pend.has_size) {
				out->truncated = true;
				ferry_err_set(err, FERRY_E_INVALID,
					      "archive truncated at offset %llu, after an extended "
					      "header",
					      (unsigned long long)off);
				goto out;
			}
			break;
		}
		if (nh == FERRY_TAR_MAX_HEADERS) {
			ferry_err_set(err, FERRY_E_LIMIT, "more than %d headers in the archive",
				      FERRY_TAR_MAX_HEADERS);
			goto out;
		}
		if (archive_size - off < BLOCK) {
			out->truncated = true;
			ferry_err_set(err, FERRY_E_INVALID,
				      "archive truncated at offset %llu, inside a header",
				      (unsigned long long)off);
			goto out;
		}
		if (read_at(fd, h, BLOCK, off, err))
			goto out;
		if (all_zero(h))
			break;
		if (!checksum_ok(h) || !parse_number(h + 124, 12, &size)) {
			ferry_err_set(err, FERRY_E_INVALID,
				      "no valid tar header at offset %llu (not a tar archive, or "
				      "corrupt)",
				      (unsigned long long)off);
			goto out;
		}
		type = (char)h[156];
		if (pend.has_size && (!type || !strchr("xgLK", type)))
			size = pend.size;
		/* Links, devices, directories and FIFOs have no data, whatever
		 * their size field says (as Python's tarfile reads them). */
		if (type && strchr("123456", type))
			size = 0;
		data = off + BLOCK;
		if (size > archive_size - data) {
			char *name = pend.name ? ferry_xstrdup(pend.name) : header_name(h);
			out->truncated = true;
			ferry_err_set(err, FERRY_E_INVALID,
				      "archive truncated: member '%.200s' at offset %llu has %llu "
				      "bytes, the archive ends %llu bytes later",
				      name, (unsigned long long)data, (unsigned long long)size,
				      (unsigned long long)(archive_size - data));
			free(name);
			goto out;
		}
		span = (size + BLOCK - 1) / BLOCK * BLOCK;
		switch (type) {
		case 'x':
			if (!(buf = read_ext(fd, data, size, err)))
				goto out;
			if (parse_pax(buf, (size_t)size, &pend, off, err)) {
				free(buf);
				goto out;
			}
			free(buf);
			break;
		case 'L':
			if (size > FERRY_TAR_MAX_NAME) {
				ferry_err_set(err, FERRY_E_LIMIT,
					      "member name at offset %llu is longer than %d bytes",
					      (unsigned long long)off, FERRY_TAR_MAX_NAME);
				goto out;
			}
			if (!(buf = read_ext(fd, data, size, err)))
				goto out;
			free(pend.name);
			pend.name = ferry_xstrdup(buf);
			free(buf);
			break;
		case 'g':
		case 'K': break;
		case '0':
		case '\0':
		case '7': {
			char *name = pend.name ? pend.name : header_name(h);
			pend.name = NULL;
			pend.has_size = false;
			if (type == '\0' && name[0] && name[strlen(name) - 1] == '/') {
				free(name); /* a directory, old style */
				break;
			}
			if (out->len == FERRY_TAR_MAX_MEMBERS) {
				free(name);
				ferry_err_set(err, FERRY_E_LIMIT,
					      "more than %d files in the archive",
					      FERRY_TAR_MAX_MEMBERS);
				goto out;
			}
			add_member(out, name, data, size);
			break;
		}
		default:
			free(pend.name);
			pend.name = NULL;
			pend.has_size = false;
			break;
		}
		/* The last member's padding may be missing; its data is not. */
		off = span > archive_size - data ? archive_size : data + span;
	}
	ret = 0;
out:
	free(pend.name);
	return ret;
}

const struct ferry_tar_member *ferry_tar_find(const struct ferry_tar *t, const char *name)
{
	name = strip_dot(name);
	for (size_t i = 0; i < t->len; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

void ferry_tar_release(struct ferry_tar *t)
{
	for (size_t i = 0; i < t->len; i++)
		free(t->v[i].name);
	free(t->v);
	t->v = NULL;
	t->len = t->cap = 0;
	t->truncated = false;
}
