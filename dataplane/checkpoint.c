#include "dataplane/checkpoint.h"

#include "common/alloc.h"
#include "common/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ferry_ckpt {
	char *path;
	uint64_t size;
	char *src, *dst;
	struct ferry_extents done;
};

/* Names end up on one line of the file: refuse anything that would break
 * the format rather than escape it. */
static bool one_line(const char *s)
{
	return !strchr(s, '\n') && !strchr(s, '\r');
}

static int parse(struct ferry_ckpt *c, FILE *fp, struct ferry_extents *done, struct ferry_err *err)
{
	char line[4096];
	int lineno = 0;
	uint64_t size = 0;
	bool have_size = false;

	while (fgets(line, sizeof line, fp)) {
		size_t n = strlen(line);
		uint64_t off, len;
		char extra;

		lineno++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (lineno == 1) {
			if (strcmp(line, "ferry-checkpoint 1"))
				return ferry_err_set_at(err, FERRY_E_INVALID, c->path, 1, 1,
							"not a ferry checkpoint (version 1)");
		} else if (!strncmp(line, "size ", 5)) {
			if (sscanf(line + 5, "%" SCNu64 "%c", &size, &extra) != 1)
				return ferry_err_set_at(err, FERRY_E_INVALID, c->path, lineno, 6,
							"bad size");
			have_size = true;
		} else if (!strncmp(line, "src ", 4)) {
			if (strcmp(line + 4, c->src))
				return ferry_err_set(
					err, FERRY_E_CONFLICT,
					"%s is the checkpoint of a copy from %s, not %s", c->path,
					line + 4, c->src);
		} else if (!strncmp(line, "dst ", 4)) {
			if (strcmp(line + 4, c->dst))
				return ferry_err_set(err, FERRY_E_CONFLICT,
						     "%s is the checkpoint of a copy to %s, not %s",
						     c->path, line + 4, c->dst);
		} else if (sscanf(line, "%" SCNu64 " %" SCNu64 "%c", &off, &len, &extra) == 2) {
			if (!have_size || off > size || len > size - off ||
			    ferry_extents_append(done, off, len, 0, NULL))
				return ferry_err_set_at(err, FERRY_E_INVALID, c->path, lineno, 1,
							"range %" PRIu64 "+%" PRIu64
							" out of order or outside the disk",
							off, len);
		} else {
			return ferry_err_set_at(err, FERRY_E_INVALID, c->path, lineno, 1,
						"unexpected line");
		}
	}
	if (ferror(fp))
		return ferry_err_set(err, FERRY_E_IO, "%s: %s", c->path, strerror(errno));
	if (!have_size)
		return ferry_err_set_at(err, FERRY_E_INVALID, c->path, lineno, 1, "no size line");
	if (size != c->size)
		return ferry_err_set(err, FERRY_E_CONFLICT,
				     "%s is the checkpoint of a %" PRIu64
				     "-byte disk, this one has %" PRIu64 " bytes",
				     c->path, size, c->size);
	return 0;
}

int ferry_ckpt_open(const char *path, uint64_t size, const char *src, const char *dst,
		    struct ferry_extents *done, struct ferry_ckpt **out, struct ferry_err *err)
{
	struct ferry_ckpt *c;
	FILE *fp;

	*out = NULL;
	if (!one_line(src) || !one_line(dst))
		return ferry_err_set(err, FERRY_E_INVALID, "endpoint names must be one line");
	c = ferry_xcalloc(1, sizeof *c);
	c->path = ferry_xstrdup(path);
	c->size = size;
	c->src = ferry_xstrdup(src);
	c->dst = ferry_xstrdup(dst);
	ferry_extents_init(&c->done);
	ferry_extents_reset(done);
	fp = fopen(path, "re");
	if (fp) {
		int rc = parse(c, fp, done, err);
		fclose(fp);
		if (rc) {
			ferry_ckpt_close(c, false, NULL);
			return -1;
		}
		for (size_t i = 0; i < done->len; i++)
			ferry_extents_append(&c->done, done->v[i].off, done->v[i].len, 0, NULL);
	} else if (errno != ENOENT) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", path, strerror(errno));
		ferry_ckpt_close(c, false, NULL);
		return -1;
	}
	*out = c;
	return 0;
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	char *copy = ferry_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = -1;

	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

static int save(struct ferry_ckpt *c, struct ferry_err *err)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	char *tmp = ferry_xasprintf("%s.tmp", c->path);
	int fd = -1, rc = -1;

	ferry_sb_addf(&sb, "ferry-checkpoint 1\nsize %" PRIu64 "\nsrc %s\ndst %s\n", c->size,
		      c->src, c->dst);
	for (size_t i = 0; i < c->done.len; i++)
		ferry_sb_addf(&sb, "%" PRIu64 " %" PRIu64 "\n", c->done.v[i].off, c->done.v[i].len);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, sb.buf, sb.len) || fsync(fd)) {
		ferry_err_set(err, FERRY_E_IO, "writing checkpoint %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd)) {
		fd = -1;
		ferry_err_set(err, FERRY_E_IO, "writing checkpoint %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, c->path) || fsync_dir(c->path)) {
		ferry_err_set(err, FERRY_E_IO, "saving checkpoint %s: %s", c->path,
			      strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	free(tmp);
	ferry_sb_release(&sb);
	return rc;
}

int ferry_ckpt_add(struct ferry_ckpt *c, const struct ferry_extents *ranges, struct ferry_err *err)
{
	struct ferry_extents merged = FERRY_EXTENTS_INIT;

	for (size_t i = 0; i < c->done.len; i++)
		ferry_extents_append(&merged, c->done.v[i].off, c->done.v[i].len, 0, NULL);
	/* ranges arrive in any order from several workers: append, then union */
	for (size_t i = 0; i < ranges->len; i++) {
		merged.v = ferry_grow(merged.v, &merged.cap, merged.len + 1, sizeof *merged.v);
		merged.v[merged.len++] = ranges->v[i];
		merged.v[merged.len - 1].flags = 0;
	}
	ferry_extents_union(&merged);
	ferry_extents_release(&c->done);
	c->done = merged;
	return save(c, err);
}

int ferry_ckpt_close(struct ferry_ckpt *c, bool completed, struct ferry_err *err)
{
	int rc = 0;

	if (!c)
		return 0;
	if (completed && unlink(c->path) && errno != ENOENT)
		rc = ferry_err_set(err, FERRY_E_IO, "removing checkpoint %s: %s", c->path,
				   strerror(errno));
	free(c->path);
	free(c->src);
	free(c->dst);
	ferry_extents_release(&c->done);
	free(c);
	return rc;
}
