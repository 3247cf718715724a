#include "dataplane/endpoint.h"
#include "dataplane/ep_internal.h"

#include "common/util.h"
#include "common/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Enough to make progress, few enough that one call on a badly fragmented
 * file stays short. */
#define FILE_MAX_EXTENTS 4096

struct ep_file {
	int fd;
	bool blockdev;
	bool direct;
	uint32_t align; /* with O_DIRECT: buffers, offsets and lengths */
};

static int file_errno(struct ferry_ep *ep, struct ferry_err *err, const char *what, uint64_t off,
		      int e)
{
	return ferry_err_set(err, FERRY_E_IO, "%s: %s at offset %" PRIu64 " failed: %s", ep->name,
			     what, off, strerror(e));
}

static bool is_aligned(uint64_t v, uint32_t align)
{
	return (v & (align - 1)) == 0;
}

static int check_bounds(struct ferry_ep *ep, uint64_t n, uint64_t off, const char *what,
			struct ferry_err *err)
{
	if (off > ep->info.size || n > ep->info.size - off)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "%s: %s of %" PRIu64 " bytes at offset %" PRIu64
				     " is beyond the end (%" PRIu64 ")",
				     ep->name, what, n, off, ep->info.size);
	return 0;
}

static int check_align(struct ferry_ep *ep, const void *buf, uint64_t n, uint64_t off,
		       const char *what, struct ferry_err *err)
{
	struct ep_file *f = ep->priv;

	if (f->direct && (!is_aligned(n, f->align) || !is_aligned(off, f->align) ||
			  !is_aligned((uintptr_t)buf, f->align)))
		return ferry_err_set(
			err, FERRY_E_INVALID,
			"%s: %s at offset %" PRIu64
			": O_DIRECT needs buffer, offset and length aligned to %" PRIu32,
			ep->name, what, off, f->align);
	return 0;
}

static int file_pread(struct ferry_ep *ep, void *buf, size_t n, uint64_t off, struct ferry_err *err)
{
	struct ep_file *f = ep->priv;
	char *p = buf;
	ssize_t r;

	if (check_bounds(ep, n, off, "read", err) == -1 ||
	    check_align(ep, buf, n, off, "read", err) == -1)
		return -1;
	while (n > 0) {
		r = pread(f->fd, p, n, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return file_errno(ep, err, "read", off, errno);
		if (r == 0)
			return ferry_err_set(err, FERRY_E_IO,
					     "%s: read at offset %" PRIu64
					     " failed: unexpected end "
					     "of file",
					     ep->name, off);
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_all(struct ferry_ep *ep, const void *buf, size_t n, uint64_t off,
		     struct ferry_err *err)
{
	struct ep_file *f = ep->priv;
	const char *p = buf;
	ssize_t r;

	while (n > 0) {
		r = pwrite(f->fd, p, n, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return file_errno(ep, err, "write", off, errno);
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

static int file_pwrite(struct ferry_ep *ep, const void *buf, size_t n, uint64_t off,
		       struct ferry_err *err)
{
	if (check_bounds(ep, n, off, "write", err) == -1 ||
	    check_align(ep, buf, n, off, "write", err) == -1)
		return -1;
	return write_all(ep, buf, n, off, err);
}

static int write_zeroes(struct ferry_ep *ep, uint64_t n, uint64_t off, struct ferry_err *err)
{
	size_t len;

	if (check_align(ep, ferry_ep_zero_buf, n, off, "zero", err) == -1)
		return -1;
	while (n > 0) {
		len = n < FERRY_EP_ZERO_BUF_SIZE ? (size_t)n : FERRY_EP_ZERO_BUF_SIZE;
		if (write_all(ep, ferry_ep_zero_buf, len, off, err) == -1)
			return -1;
		off += len;
		n -= len;
	}
	return 0;
}

/* Unsupported means "try the next, slower way"; anything else is real. */
static bool unsupported(int e)
{
	return e == EOPNOTSUPP || e == ENOTSUP || e == ENOSYS || e == ENOTTY;
}

static int try_fallocate(struct ep_file *f, int mode, uint64_t n, uint64_t off)
{
	int r;

	do
		r = fallocate(f->fd, mode, (off_t)off, (off_t)n);
	while (r == -1 && errno == EINTR);
	return r;
}

/* BLKDISCARD is not used: a discarded range need not read back as zeroes.
 * A punched hole on a block device must (the kernel refuses otherwise). */
static int blk_zero(struct ferry_ep *ep, uint64_t n, uint64_t off, bool may_trim,
		    struct ferry_err *err)
{
	struct ep_file *f = ep->priv;
	uint64_t range[2] = {off, n};

	if (may_trim && try_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, n, off) == 0)
		return 0;
	if (ioctl(f->fd, BLKZEROOUT, range) == 0)
		return 0;
	if (!unsupported(errno) && errno != EINVAL)
		return file_errno(ep, err, "zero", off, errno);
	return write_zeroes(ep, n, off, err);
}

static int file_zero(struct ferry_ep *ep, uint64_t n, uint64_t off, bool may_trim,
		     struct ferry_err *err)
{
	struct ep_file *f = ep->priv;

	if (check_bounds(ep, n, off, "zero", err) == -1)
		return -1;
	if (n == 0)
		return 0;
	if (f->blockdev)
		return blk_zero(ep, n, off, may_trim, err);
	if (may_trim) {
		if (try_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, n, off) == 0)
			return 0;
		if (!unsupported(errno))
			return file_errno(ep, err, "punch hole", off, errno);
	}
	if (try_fallocate(f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, n, off) == 0)
		return 0;
	if (!unsupported(errno))
		return file_errno(ep, err, "zero", off, errno);
	return write_zeroes(ep, n, off, err);
}

static int file_flush(struct ferry_ep *ep, struct ferry_err *err)
{
	struct ep_file *f = ep->priv;

	if (fdatasync(f->fd) == -1)
		return ferry_err_set(err, FERRY_E_IO, "%s: flush failed: %s", ep->name,
				     strerror(errno));
	return 0;
}

static int file_extents(struct ferry_ep *ep, uint64_t off, uint64_t n, const char *context,
			struct ferry_extents *out, struct ferry_err *err)
{
	struct ep_file *f = ep->priv;
	const uint32_t hole = FERRY_EXT_HOLE | FERRY_EXT_ZERO;
	uint64_t end, pos = off;
	off_t data, next;
	int i;

	if (context && strcmp(context, "base:allocation") != 0)
		return ferry_err_set(err, FERRY_E_UNSUPPORTED, "%s: files have no meta context %s",
				     ep->name, context);
	if (n == 0 || off >= ep->info.size)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "%s: extents at offset %" PRIu64
				     " are beyond the end (%" PRIu64 ")",
				     ep->name, off, ep->info.size);
	end = n > ep->info.size - off ? ep->info.size : off + n;
	if (f->blockdev)
		return ferry_extents_append(out, off, end - off, 0, err);

	for (i = 0; pos < end && i < FILE_MAX_EXTENTS; i++) {
		data = lseek(f->fd, (off_t)pos, SEEK_DATA);
		if (data == -1 && errno == ENXIO) {
			/* No data after pos: the rest is a hole. */
			data = (off_t)end;
		} else if (data == -1) {
			/* EINVAL here means no SEEK_DATA: call it all data. */
			if (errno != EINVAL)
				return file_errno(ep, err, "SEEK_DATA", pos, errno);
			next = (off_t)end;
			goto append_data;
		}
		if ((uint64_t)data > pos) {
			uint64_t h = (uint64_t)data < end ? (uint64_t)data : end;

			if (ferry_extents_append(out, pos, h - pos, hole, err) == -1)
				return -1;
			pos = h;
			if (pos >= end)
				break;
		}
		next = lseek(f->fd, (off_t)pos, SEEK_HOLE);
		if (next == -1 && errno != ENXIO)
			return file_errno(ep, err, "SEEK_HOLE", pos, errno);
		if (next == -1)
			next = (off_t)end;
	append_data:
		if ((uint64_t)next > end)
			next = (off_t)end;
		if ((uint64_t)next <= pos)
			/* Racing a writer: data is the answer that is never wrong. */
			next = (off_t)end;
		if (ferry_extents_append(out, pos, (uint64_t)next - pos, 0, err) == -1)
			return -1;
		pos = (uint64_t)next;
	}
	return 0;
}

static int file_reopen(struct ferry_ep *ep, struct ferry_err *err)
{
	(void)ep;
	(void)err;
	return 0;
}

static void file_close(struct ferry_ep *ep)
{
	struct ep_file *f = ep->priv;

	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f);
	ep->priv = NULL;
}

static const struct ferry_ep_ops file_ops = {
	.kind = "file",
	.pread = file_pread,
	.pwrite = file_pwrite,
	.zero = file_zero,
	.flush = file_flush,
	.extents = file_extents,
	.reopen = file_reopen,
	.close = file_close,
};

/* file:///path and file://localhost/path, with %XX escapes; anything else
 * is a plain path. */
static char *spec_path(const char *spec, struct ferry_err *err)
{
	const char *p = spec;
	char *path, *o;

	if (strncmp(spec, "file://", 7) != 0)
		return ferry_xstrdup(spec);
	p += 7;
	if (strncmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/') {
		ferry_err_set(err, FERRY_E_INVALID, "%s: only local file:/// URIs are supported",
			      spec);
		return NULL;
	}
	path = o = ferry_xmalloc(strlen(p) + 1);
	for (; *p; p++) {
		if (*p == '%' && ferry_hexval(p[1]) >= 0 && ferry_hexval(p[2]) >= 0) {
			*o++ = (char)(ferry_hexval(p[1]) << 4 | ferry_hexval(p[2]));
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	if (strlen(path) != (size_t)(o - path)) {
		free(path);
		ferry_err_set(err, FERRY_E_INVALID, "%s: path contains %%00", spec);
		return NULL;
	}
	return path;
}

static uint32_t direct_align(int fd, bool blockdev, uint32_t sector)
{
	uint32_t align = blockdev && sector ? sector : 4096;
#ifdef STATX_DIOALIGN
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		align = stx.stx_dio_offset_align;
		if (stx.stx_dio_mem_align > align)
			align = stx.stx_dio_mem_align;
	}
#else
	(void)fd;
#endif
	return align;
}

static int blk_info(struct ferry_ep *ep, int fd, struct ferry_err *err)
{
	uint64_t size;
	int lsz = 0;
	unsigned int psz = 0;

	if (ioctl(fd, BLKGETSIZE64, &size) == -1)
		return ferry_err_set(err, FERRY_E_IO, "%s: BLKGETSIZE64: %s", ep->name,
				     strerror(errno));
	if (ioctl(fd, BLKSSZGET, &lsz) == -1)
		lsz = 512;
	if (ioctl(fd, BLKPBSZGET, &psz) == -1)
		psz = 0;
	ep->info.size = size;
	ep->info.block_min = (uint32_t)lsz;
	ep->info.block_pref = psz > (unsigned int)lsz ? psz : (uint32_t)lsz;
	return 0;
}

int ferry_ep_file_open(const char *spec, const struct ferry_ep_opts *opts, struct ferry_ep **out,
		       struct ferry_err *err)
{
	unsigned flags = opts->flags;
	bool writable = flags & (FERRY_EP_WRITE | FERRY_EP_CREATE);
	int oflags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC |
		     (flags & FERRY_EP_DIRECT ? O_DIRECT : 0);
	struct ep_file *f = ferry_xcalloc(1, sizeof *f);
	struct ferry_ep *ep = ferry_ep_alloc(&file_ops, spec, f);
	char *path = spec_path(spec, err);
	bool created = false;
	struct stat st;

	f->fd = -1;
	if (!path)
		goto fail;
	if (flags & FERRY_EP_CREATE) {
		/* O_EXCL tells us whether the file is ours, hence all zeroes. */
		f->fd = open(path, oflags | O_CREAT | O_EXCL, 0600);
		created = f->fd >= 0;
	}
	if (f->fd < 0 && (!(flags & FERRY_EP_CREATE) || errno == EEXIST))
		f->fd = open(path, oflags);
	if (f->fd < 0) {
		ferry_err_set(err,
			      errno == EINVAL && (flags & FERRY_EP_DIRECT) ? FERRY_E_UNSUPPORTED
									   : FERRY_E_IO,
			      "%s: open: %s", ep->name, strerror(errno));
		goto fail;
	}
	if (fstat(f->fd, &st) == -1) {
		ferry_err_set(err, FERRY_E_IO, "%s: stat: %s", ep->name, strerror(errno));
		goto fail;
	}
	f->blockdev = S_ISBLK(st.st_mode);
	if (f->blockdev) {
		if (blk_info(ep, f->fd, err) == -1)
			goto fail;
	} else if (S_ISREG(st.st_mode)) {
		ep->info.size = (uint64_t)st.st_size;
		ep->info.block_min = 1;
		ep->info.block_pref = (uint32_t)st.st_blksize;
		ep->info.can_extents = true;
	} else {
		ferry_err_set(err, FERRY_E_INVALID, "%s: not a regular file or block device",
			      ep->name);
		goto fail;
	}
	if ((flags & FERRY_EP_CREATE) && ep->info.size < opts->create_size) {
		if (f->blockdev) {
			ferry_err_set(err, FERRY_E_INVALID,
				      "%s: device holds %" PRIu64 " bytes, %" PRIu64 " needed",
				      ep->name, ep->info.size, opts->create_size);
			goto fail;
		}
		if (ftruncate(f->fd, (off_t)opts->create_size) == -1) {
			ferry_err_set(err, FERRY_E_IO, "%s: truncate to %" PRIu64 ": %s", ep->name,
				      opts->create_size, strerror(errno));
			goto fail;
		}
		ep->info.size = opts->create_size;
	}
	if (flags & FERRY_EP_DIRECT) {
		f->direct = true;
		f->align = direct_align(f->fd, f->blockdev, ep->info.block_min);
		if (ep->info.block_min < f->align)
			ep->info.block_min = f->align;
	}
	ep->info.can_zero = true;
	ep->info.can_trim = true;
	ep->info.can_flush = true;
	ep->info.can_multi_conn = true;
	ep->info.is_zero = created;
	ep->info.readonly = !writable;
	free(path);
	*out = ep;
	return 0;
fail:
	if (created)
		unlink(path);
	free(path);
	ferry_ep_close(ep);
	return -1;
}
