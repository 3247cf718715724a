/* Endpoints against real servers. Each mode is one ctest test; the server
 * is started around this program by tests/integration/CMakeLists.txt or a
 * script next to it, and the URI arrives in argv.
 *
 *   ep_test memory URI        nbdkit memory size=64M (also with nozero)
 *   ep_test sparse-random URI nbdkit sparse-random
 *   ep_test nbd-file URI FILE nbdkit file FILE (FILE is sparse)
 *   ep_test local-file        a sparse file in $TMPDIR
 *   ep_test null
 *   ep_test dirty URI         qemu-nbd -B bm0, [1M, 1M+64k) dirty
 *   ep_test error URI         nbdkit --filter=error, every read fails EIO
 *   ep_test tls URI PLAIN     TLS-PSK server; PLAIN (no TLS) must fail
 *
 * Exit 0 on success, 1 on the first failed check.
 */
#include "dataplane/endpoint.h"
#include "dataplane/extent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail(__LINE__, #cond, false);                                              \
	} while (0)

/* An operation that must succeed; prints the ferry error otherwise. */
#define OK(call)                                                                                   \
	do {                                                                                       \
		ferry_err_clear(&err);                                                             \
		if ((call) != 0)                                                                   \
			fail(__LINE__, #call, true);                                               \
	} while (0)

static struct ferry_err err = FERRY_ERR_INIT;

static void fail(int line, const char *what, bool show_err)
{
	fprintf(stderr, "ep_test:%d: check failed: %s\n", line, what);
	if (show_err)
		fprintf(stderr, "  error (%s): %s\n", ferry_errcode_name(err.code), err.msg);
	exit(1);
}

static struct ferry_ep *open_ep(const char *spec, unsigned flags, uint64_t create_size,
				const char *const *contexts)
{
	struct ferry_ep_opts opts = {
		.flags = flags, .create_size = create_size, .meta_contexts = contexts};
	struct ferry_ep *ep = NULL;

	ferry_err_clear(&err);
	if (ferry_ep_open(spec, &opts, &ep, &err) != 0) {
		fprintf(stderr, "ep_test: open %s: %s\n", spec, err.msg);
		exit(1);
	}
	return ep;
}

static uint8_t pattern_byte(uint64_t off)
{
	return (uint8_t)(off * 31 + (off >> 12) + 1);
}

static void fill_pattern(uint8_t *buf, size_t n, uint64_t off)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = pattern_byte(off + i);
}

static void write_pattern(struct ferry_ep *ep, uint64_t off, size_t n)
{
	uint8_t *buf = malloc(n);

	CHECK(buf);
	fill_pattern(buf, n, off);
	OK(ep->ops->pwrite(ep, buf, n, off, &err));
	free(buf);
}

static bool range_is_pattern(struct ferry_ep *ep, uint64_t off, size_t n)
{
	uint8_t *buf = malloc(n);
	size_t i;
	bool ok = true;

	CHECK(buf);
	OK(ep->ops->pread(ep, buf, n, off, &err));
	for (i = 0; i < n && ok; i++)
		ok = buf[i] == pattern_byte(off + i);
	if (!ok)
		fprintf(stderr, "ep_test: byte at %" PRIu64 " differs\n", off + i - 1);
	free(buf);
	return ok;
}

static bool range_is_zero(struct ferry_ep *ep, uint64_t off, size_t n)
{
	uint8_t *buf = malloc(n);
	size_t i;
	bool ok = true;

	CHECK(buf);
	OK(ep->ops->pread(ep, buf, n, off, &err));
	for (i = 0; i < n && ok; i++)
		ok = buf[i] == 0;
	free(buf);
	return ok;
}

/* The whole disk's extents, asking again from where each answer stopped. */
static void all_extents(struct ferry_ep *ep, const char *context, uint64_t size,
			struct ferry_extents *out)
{
	uint64_t pos = 0;

	ferry_extents_reset(out);
	while (pos < size) {
		size_t before = out->len;

		OK(ep->ops->extents(ep, pos, size - pos, context, out, &err));
		CHECK(out->len > 0);
		CHECK(out->len > before ||
		      out->v[out->len - 1].off + out->v[out->len - 1].len > pos);
		pos = out->v[out->len - 1].off + out->v[out->len - 1].len;
	}
	CHECK(pos == size);
	CHECK(ferry_extents_covers(out, size));
}

/* Every byte of [off, off+n) lies in an extent with flags & mask == want. */
static bool range_has(const struct ferry_extents *l, uint64_t off, uint64_t n, uint32_t mask,
		      uint32_t want)
{
	uint64_t covered = 0;
	size_t i;

	for (i = 0; i < l->len; i++) {
		const struct ferry_extent *x = &l->v[i];
		uint64_t a = x->off > off ? x->off : off;
		uint64_t b = x->off + x->len < off + n ? x->off + x->len : off + n;

		if (a >= b)
			continue;
		if ((x->flags & mask) != want) {
			fprintf(stderr,
				"ep_test: extent [%" PRIu64 ", +%" PRIu64 ") flags %" PRIu32
				" in [%" PRIu64 ", +%" PRIu64 ")\n",
				x->off, x->len, x->flags, off, n);
			return false;
		}
		covered += b - a;
	}
	return covered == n;
}

static void print_extents(const struct ferry_extents *l)
{
	size_t i;

	for (i = 0; i < l->len; i++)
		fprintf(stderr, "  %12" PRIu64 " %12" PRIu64 " %" PRIu32 "\n", l->v[i].off,
			l->v[i].len, l->v[i].flags);
}

static void check_secret_hidden(const char *spec)
{
	struct ferry_ep_opts opts = {.flags = FERRY_EP_READ};
	struct ferry_ep *ep = NULL;

	ferry_err_clear(&err);
	if (ferry_ep_open(spec, &opts, &ep, &err) == 0) {
		CHECK(strstr(ep->name, "hunter2") == NULL);
		CHECK(strstr(ep->name, "socket=") != NULL);
		ferry_ep_close(ep);
	} else {
		fprintf(stderr, "expected: %s\n", err.msg);
		CHECK(strstr(err.msg, "hunter2") == NULL);
		CHECK(strstr(err.msg, "socket=") != NULL);
	}
}

/* uri is nbd+unix://?socket=PATH (nbdkit's $uri). */
static void secret_not_in_name(const char *uri)
{
	const char *rest = strstr(uri, "://");
	char *spec = NULL;

	CHECK(rest != NULL);
	rest += 3;
	CHECK(asprintf(&spec, "%s&password=hunter2", uri) > 0);
	check_secret_hidden(spec);
	free(spec);
	CHECK(asprintf(&spec, "nbd+unix://bob:hunter2@/%s", rest) > 0);
	check_secret_hidden(spec);
	free(spec);
	/* libnbd quotes a URI it cannot parse in its message. */
	CHECK(asprintf(&spec, "nbd+unix://bob:hunter2@/%s&x=%%zz", rest) > 0);
	check_secret_hidden(spec);
	free(spec);
}

static int test_memory(const char *uri)
{
	struct ferry_ep *ep = open_ep(uri, FERRY_EP_READ | FERRY_EP_WRITE, 0, NULL);
	struct ferry_extents l = FERRY_EXTENTS_INIT;
	struct ferry_ep *ep2;
	uint8_t buf[4096];
	bool trimmed;

	CHECK(strcmp(ep->ops->kind, "nbd") == 0);
	CHECK(ep->info.size == 64 * MiB);
	CHECK(!ep->info.readonly);
	CHECK(ep->info.can_extents);
	CHECK(ep->info.can_flush);
	CHECK(ferry_ep_has_context(ep, "base:allocation"));
	CHECK(!ferry_ep_has_context(ep, "qemu:dirty-bitmap:x"));

	write_pattern(ep, 1 * MiB, 256 * KiB);
	write_pattern(ep, 8 * MiB, 1 * MiB);
	/* Larger than one NBD request: split by the endpoint. */
	write_pattern(ep, 24 * MiB, 34 * MiB);
	CHECK(range_is_pattern(ep, 1 * MiB, 256 * KiB));
	CHECK(range_is_pattern(ep, 8 * MiB, 1 * MiB));
	CHECK(range_is_pattern(ep, 24 * MiB, 34 * MiB));
	CHECK(range_is_zero(ep, 0, 1 * MiB));

	OK(ep->ops->zero(ep, 64 * KiB, 8 * MiB + 64 * KiB, true, &err));
	OK(ep->ops->zero(ep, 64 * KiB, 8 * MiB + 256 * KiB, false, &err));
	CHECK(range_is_zero(ep, 8 * MiB + 64 * KiB, 64 * KiB));
	CHECK(range_is_zero(ep, 8 * MiB + 256 * KiB, 64 * KiB));
	CHECK(range_is_pattern(ep, 8 * MiB, 64 * KiB));
	CHECK(range_is_pattern(ep, 8 * MiB + 128 * KiB, 128 * KiB));
	OK(ep->ops->flush(ep, &err));

	all_extents(ep, NULL, ep->info.size, &l);
	print_extents(&l);
	CHECK(range_has(&l, 0, 1 * MiB, FERRY_EXT_HOLE, FERRY_EXT_HOLE));
	CHECK(range_has(&l, 1 * MiB, 256 * KiB, FERRY_EXT_HOLE | FERRY_EXT_ZERO, 0));
	CHECK(range_has(&l, 1 * MiB + 256 * KiB, 8 * MiB - 1 * MiB - 256 * KiB, FERRY_EXT_HOLE,
			FERRY_EXT_HOLE));
	CHECK(range_has(&l, 8 * MiB, 64 * KiB, FERRY_EXT_HOLE | FERRY_EXT_ZERO, 0));
	/* A trimmed range is a hole only where the server can zero; through
	 * nozero the endpoint wrote zeroes, which is data. */
	trimmed = range_has(&l, 8 * MiB + 64 * KiB, 64 * KiB, FERRY_EXT_HOLE | FERRY_EXT_ZERO,
			    FERRY_EXT_HOLE | FERRY_EXT_ZERO);
	CHECK(trimmed == ep->info.can_zero);
	CHECK(range_has(&l, 8 * MiB + 128 * KiB, 128 * KiB, FERRY_EXT_HOLE | FERRY_EXT_ZERO, 0));
	CHECK(range_has(&l, 24 * MiB, 34 * MiB, FERRY_EXT_HOLE | FERRY_EXT_ZERO, 0));
	CHECK(range_has(&l, 58 * MiB, 6 * MiB, FERRY_EXT_HOLE, FERRY_EXT_HOLE));

	/* A sub-range is clipped to what was asked. */
	ferry_extents_reset(&l);
	OK(ep->ops->extents(ep, 1 * MiB + 4 * KiB, 4 * KiB, NULL, &l, &err));
	CHECK(l.len == 1 && l.v[0].off == 1 * MiB + 4 * KiB && l.v[0].len == 4 * KiB);
	CHECK(l.v[0].flags == 0);

	/* Unrequested contexts are refused, not silently empty. */
	ferry_err_clear(&err);
	CHECK(ep->ops->extents(ep, 0, 4096, "qemu:dirty-bitmap:x", &l, &err) == -1);
	CHECK(err.code == FERRY_E_UNSUPPORTED);

	/* Out of range: the request's fault, not worth a retry. */
	ferry_err_clear(&err);
	CHECK(ep->ops->pread(ep, buf, sizeof buf, 64 * MiB, &err) == -1);
	CHECK(err.code != FERRY_E_RETRYABLE && err.code != FERRY_OK);
	CHECK(strstr(err.msg, "67108864") != NULL);

	OK(ep->ops->reopen(ep, &err));
	CHECK(range_is_pattern(ep, 8 * MiB + 128 * KiB, 128 * KiB));

	/* A second connection sees the first one's flushed writes. */
	ep2 = open_ep(uri, FERRY_EP_READ, 0, NULL);
	CHECK(range_is_pattern(ep2, 24 * MiB, 1 * MiB));
	ferry_ep_close(ep2);

	secret_not_in_name(uri);

	ferry_extents_release(&l);
	ferry_ep_close(ep);
	return 0;
}

static int test_sparse_random(const char *uri)
{
	struct ferry_ep *ep = open_ep(uri, FERRY_EP_READ, 0, NULL);
	struct ferry_extents l = FERRY_EXTENTS_INIT;
	uint64_t data, holes, total = 0;
	size_t i, nholes = 0, ndata = 0;

	CHECK(ep->info.can_extents);
	all_extents(ep, NULL, ep->info.size, &l);
	for (i = 0; i < l.len; i++) {
		total += l.v[i].len;
		if (l.v[i].flags & FERRY_EXT_HOLE)
			nholes++;
		else
			ndata++;
	}
	data = ferry_extents_bytes(&l, FERRY_EXT_HOLE, 0);
	holes = ferry_extents_bytes(&l, FERRY_EXT_HOLE, FERRY_EXT_HOLE);
	fprintf(stderr,
		"size %" PRIu64 ": %zu data extents (%" PRIu64 " B), %zu holes (%" PRIu64 " B)\n",
		ep->info.size, ndata, data, nholes, holes);
	CHECK(total == ep->info.size);
	CHECK(data + holes == ep->info.size);
	CHECK(ndata > 0 && nholes > 0);
	for (i = 0; i < l.len; i++) {
		if (!(l.v[i].flags & FERRY_EXT_HOLE))
			continue;
		CHECK(range_is_zero(ep, l.v[i].off, l.v[i].len < 64 * KiB ? l.v[i].len : 64 * KiB));
		break;
	}
	ferry_extents_release(&l);
	ferry_ep_close(ep);
	return 0;
}

/* The file's own SEEK_DATA/SEEK_HOLE map, as base:allocation flags. */
static void seek_map(const char *path, struct ferry_extents *out)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	off_t pos = 0, data, hole;

	CHECK(fd >= 0);
	CHECK(fstat(fd, &st) == 0);
	while (pos < st.st_size) {
		data = lseek(fd, pos, SEEK_DATA);
		if (data == -1) {
			CHECK(errno == ENXIO);
			data = st.st_size;
		}
		if (data > pos)
			OK(ferry_extents_append(out, (uint64_t)pos, (uint64_t)(data - pos),
						FERRY_EXT_HOLE | FERRY_EXT_ZERO, &err));
		if (data >= st.st_size)
			break;
		hole = lseek(fd, data, SEEK_HOLE);
		CHECK(hole > data);
		OK(ferry_extents_append(out, (uint64_t)data, (uint64_t)(hole - data), 0, &err));
		pos = hole;
	}
	close(fd);
}

static bool same_extents(const struct ferry_extents *a, const struct ferry_extents *b)
{
	size_t i;

	if (a->len != b->len)
		return false;
	for (i = 0; i < a->len; i++)
		if (a->v[i].off != b->v[i].off || a->v[i].len != b->v[i].len ||
		    a->v[i].flags != b->v[i].flags)
			return false;
	return true;
}

static int test_nbd_file(const char *uri, const char *path)
{
	struct ferry_ep *ep = open_ep(uri, FERRY_EP_READ, 0, NULL);
	struct ferry_ep *fep = open_ep(path, FERRY_EP_READ, 0, NULL);
	struct ferry_extents want = FERRY_EXTENTS_INIT, got = FERRY_EXTENTS_INIT;
	size_t i, ndata = 0;

	seek_map(path, &want);
	for (i = 0; i < want.len; i++)
		ndata += want.v[i].flags == 0;
	CHECK(ndata >= 2);
	CHECK(ep->info.size == fep->info.size);

	all_extents(ep, NULL, ep->info.size, &got);
	if (!same_extents(&want, &got)) {
		fprintf(stderr, "nbd extents:\n");
		print_extents(&got);
		fprintf(stderr, "SEEK_DATA:\n");
		print_extents(&want);
		CHECK(!"nbd extents match SEEK_DATA");
	}
	all_extents(fep, NULL, fep->info.size, &got);
	if (!same_extents(&want, &got)) {
		print_extents(&got);
		CHECK(!"file extents match SEEK_DATA");
	}
	ferry_extents_release(&want);
	ferry_extents_release(&got);
	ferry_ep_close(fep);
	ferry_ep_close(ep);
	return 0;
}

static void test_direct(const char *path)
{
	struct ferry_ep_opts opts = {.flags = FERRY_EP_READ | FERRY_EP_DIRECT};
	struct ferry_ep *ep = NULL;
	uint8_t *buf;

	ferry_err_clear(&err);
	if (ferry_ep_open(path, &opts, &ep, &err) != 0) {
		/* Some filesystems refuse O_DIRECT; that is their answer. */
		CHECK(err.code == FERRY_E_UNSUPPORTED);
		fprintf(stderr, "O_DIRECT not supported here: %s\n", err.msg);
		return;
	}
	CHECK(ep->info.block_min >= 512);
	buf = aligned_alloc(64 * KiB, 128 * KiB);
	CHECK(buf);
	OK(ep->ops->pread(ep, buf, 64 * KiB, 4 * MiB, &err));
	CHECK(buf[0] == pattern_byte(4 * MiB));
	ferry_err_clear(&err);
	CHECK(ep->ops->pread(ep, buf + 1, 64 * KiB, 4 * MiB, &err) == -1);
	CHECK(err.code == FERRY_E_INVALID);
	ferry_err_clear(&err);
	CHECK(ep->ops->pread(ep, buf, 100, 4 * MiB, &err) == -1);
	CHECK(err.code == FERRY_E_INVALID);
	free(buf);
	ferry_ep_close(ep);
}

static int test_local_file(void)
{
	char dir[] = "/tmp/ferry-ep-XXXXXX";
	char path[sizeof dir + 16], uri[sizeof path + 8];
	struct ferry_extents l = FERRY_EXTENTS_INIT;
	struct ferry_ep *ep;
	struct stat st;
	uint8_t b = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/disk.img", dir);
	snprintf(uri, sizeof uri, "file://%s", path);

	/* Missing and not asked to create. */
	{
		struct ferry_ep_opts opts = {.flags = FERRY_EP_READ};

		ferry_err_clear(&err);
		CHECK(ferry_ep_open(path, &opts, &ep, &err) == -1);
		CHECK(ep == NULL && strstr(err.msg, path) != NULL);
	}

	ep = open_ep(path, FERRY_EP_WRITE | FERRY_EP_CREATE, 16 * MiB, NULL);
	CHECK(strcmp(ep->ops->kind, "file") == 0);
	CHECK(ep->info.size == 16 * MiB && ep->info.is_zero && !ep->info.readonly);
	CHECK(ep->info.can_extents && ep->info.can_multi_conn && ep->info.can_zero);
	CHECK(!ferry_ep_has_context(ep, "base:allocation"));
	all_extents(ep, NULL, ep->info.size, &l);
	CHECK(l.len == 1 && l.v[0].flags == (FERRY_EXT_HOLE | FERRY_EXT_ZERO));

	write_pattern(ep, 4 * MiB, 1 * MiB);
	CHECK(range_is_pattern(ep, 4 * MiB, 1 * MiB));
	OK(ep->ops->zero(ep, 256 * KiB, 4 * MiB + 256 * KiB, true, &err));
	OK(ep->ops->zero(ep, 64 * KiB, 4 * MiB + 768 * KiB, false, &err));
	/* Not block-aligned: must still be exact. */
	OK(ep->ops->zero(ep, 1000, 4 * MiB + 100, false, &err));
	CHECK(range_is_zero(ep, 4 * MiB + 100, 1000));
	CHECK(range_is_pattern(ep, 4 * MiB + 1100, 256 * KiB - 1100));
	CHECK(range_is_zero(ep, 4 * MiB + 256 * KiB, 256 * KiB));
	CHECK(range_is_zero(ep, 4 * MiB + 768 * KiB, 64 * KiB));
	CHECK(range_is_pattern(ep, 4 * MiB + 832 * KiB, 192 * KiB));
	OK(ep->ops->flush(ep, &err));
	all_extents(ep, NULL, ep->info.size, &l);
	print_extents(&l);
	CHECK(range_has(&l, 0, 4 * MiB, FERRY_EXT_HOLE, FERRY_EXT_HOLE));
	CHECK(range_has(&l, 4 * MiB, 256 * KiB, FERRY_EXT_HOLE, 0));
	CHECK(range_has(&l, 4 * MiB + 256 * KiB, 256 * KiB, FERRY_EXT_HOLE, FERRY_EXT_HOLE));
	CHECK(range_has(&l, 4 * MiB + 512 * KiB, 256 * KiB, FERRY_EXT_HOLE, 0));
	CHECK(range_has(&l, 5 * MiB, 11 * MiB, FERRY_EXT_HOLE, FERRY_EXT_HOLE));

	ferry_err_clear(&err);
	CHECK(ep->ops->pwrite(ep, &b, 1, 16 * MiB, &err) == -1);
	CHECK(err.code == FERRY_E_INVALID);
	OK(ep->ops->reopen(ep, &err));
	ferry_ep_close(ep);

	/* An existing destination keeps its content and grows when needed. */
	ep = open_ep(uri, FERRY_EP_WRITE | FERRY_EP_CREATE, 32 * MiB, NULL);
	CHECK(ep->info.size == 32 * MiB && !ep->info.is_zero);
	CHECK(range_is_pattern(ep, 4 * MiB + 512 * KiB, 256 * KiB));
	ferry_ep_close(ep);
	ep = open_ep(path, FERRY_EP_WRITE | FERRY_EP_CREATE, 8 * MiB, NULL);
	CHECK(ep->info.size == 32 * MiB && !ep->info.is_zero);
	ferry_ep_close(ep);

	ep = open_ep(path, FERRY_EP_READ, 0, NULL);
	CHECK(ep->info.readonly);
	ferry_err_clear(&err);
	CHECK(ep->ops->pwrite(ep, &b, 1, 0, &err) == -1);
	CHECK(err.code == FERRY_E_IO && strstr(err.msg, "offset 0") != NULL);
	ferry_ep_close(ep);

	test_direct(path);

	CHECK(stat(path, &st) == 0 && st.st_size == (off_t)(32 * MiB));
	/* Sparse: far less allocated than the size. */
	CHECK((uint64_t)st.st_blocks * 512 < 4 * MiB);
	ferry_extents_release(&l);
	CHECK(unlink(path) == 0);
	CHECK(rmdir(dir) == 0);
	return 0;
}

static int test_null(void)
{
	struct ferry_ep *ep = open_ep("null:", FERRY_EP_WRITE, 0, NULL);
	struct ferry_extents l = FERRY_EXTENTS_INIT;
	uint8_t buf[4096];

	CHECK(strcmp(ep->ops->kind, "null") == 0);
	CHECK(ep->info.is_zero && ep->info.can_multi_conn && ep->info.size == UINT64_MAX);
	memset(buf, 0xaa, sizeof buf);
	OK(ep->ops->pwrite(ep, buf, sizeof buf, 1 * MiB, &err));
	OK(ep->ops->pread(ep, buf, sizeof buf, 1 * MiB, &err));
	CHECK(buf[0] == 0 && buf[sizeof buf - 1] == 0);
	OK(ep->ops->zero(ep, 1 * MiB, 0, true, &err));
	OK(ep->ops->flush(ep, &err));
	OK(ep->ops->extents(ep, 0, 8 * MiB, NULL, &l, &err));
	CHECK(l.len == 1 && l.v[0].len == 8 * MiB &&
	      l.v[0].flags == (FERRY_EXT_HOLE | FERRY_EXT_ZERO));
	CHECK(!ferry_ep_has_context(ep, "base:allocation"));
	OK(ep->ops->reopen(ep, &err));
	ferry_extents_release(&l);
	ferry_ep_close(ep);
	ferry_ep_close(NULL);
	return 0;
}

static int test_dirty(const char *uri)
{
	static const char *const ctx[] = {"qemu:dirty-bitmap:bm0", NULL};
	struct ferry_ep *ep = open_ep(uri, FERRY_EP_READ, 0, ctx);
	struct ferry_extents l = FERRY_EXTENTS_INIT;

	CHECK(ep->info.readonly);
	CHECK(ferry_ep_has_context(ep, ctx[0]));
	CHECK(!ferry_ep_has_context(ep, "qemu:dirty-bitmap:nope"));
	all_extents(ep, ctx[0], ep->info.size, &l);
	print_extents(&l);
	CHECK(l.len == 3);
	CHECK(l.v[0].off == 0 && l.v[0].len == 1 * MiB && l.v[0].flags == 0);
	CHECK(l.v[1].off == 1 * MiB && l.v[1].len == 64 * KiB && l.v[1].flags == FERRY_EXT_DIRTY);
	CHECK(l.v[2].flags == 0);
	CHECK(ferry_extents_bytes(&l, FERRY_EXT_DIRTY, FERRY_EXT_DIRTY) == 64 * KiB);
	CHECK(range_is_zero(ep, 0, 64 * KiB));
	/* The allocation map is still there beside the bitmap. */
	all_extents(ep, NULL, ep->info.size, &l);
	CHECK(range_has(&l, 1 * MiB, 64 * KiB, FERRY_EXT_ZERO, 0));
	ferry_extents_release(&l);
	ferry_ep_close(ep);
	return 0;
}

static int test_error(const char *uri)
{
	struct ferry_ep *ep = open_ep(uri, FERRY_EP_READ | FERRY_EP_WRITE, 0, NULL);
	static uint8_t buf[64 * 1024];
	int i;

	for (i = 0; i < 2; i++) {
		ferry_err_clear(&err);
		CHECK(ep->ops->pread(ep, buf, sizeof buf, 128 * KiB, &err) == -1);
		fprintf(stderr, "expected: %s\n", err.msg);
		CHECK(err.code == FERRY_E_RETRYABLE);
		CHECK(strstr(err.msg, "read at offset 131072 failed") != NULL);
		CHECK(strncmp(err.msg, ep->name, strlen(ep->name)) == 0);
		/* What a caller does after a retryable error. */
		OK(ep->ops->reopen(ep, &err));
	}
	OK(ep->ops->pwrite(ep, buf, sizeof buf, 0, &err));
	ferry_ep_close(ep);
	return 0;
}

static int test_tls(const char *uri, const char *plain)
{
	struct ferry_ep *ep = open_ep(uri, FERRY_EP_READ | FERRY_EP_WRITE, 0, NULL);
	struct ferry_ep_opts opts = {.flags = FERRY_EP_READ};
	struct ferry_ep *ep2 = NULL;

	CHECK(ep->info.size == 16 * MiB);
	write_pattern(ep, 1 * MiB, 64 * KiB);
	CHECK(range_is_pattern(ep, 1 * MiB, 64 * KiB));
	OK(ep->ops->reopen(ep, &err));
	CHECK(range_is_pattern(ep, 1 * MiB, 64 * KiB));
	ferry_ep_close(ep);

	ferry_err_clear(&err);
	CHECK(ferry_ep_open(plain, &opts, &ep2, &err) == -1);
	CHECK(ep2 == NULL);
	fprintf(stderr, "expected: %s (%s)\n", err.msg, ferry_errcode_name(err.code));
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: ep_test memory|sparse-random|nbd-file|local-file|null|dirty|"
			"error|tls ARGS...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "memory") == 0 && argc == 3)
		return test_memory(argv[2]);
	if (strcmp(mode, "sparse-random") == 0 && argc == 3)
		return test_sparse_random(argv[2]);
	if (strcmp(mode, "nbd-file") == 0 && argc == 4)
		return test_nbd_file(argv[2], argv[3]);
	if (strcmp(mode, "local-file") == 0 && argc == 2)
		return test_local_file();
	if (strcmp(mode, "null") == 0 && argc == 2)
		return test_null();
	if (strcmp(mode, "dirty") == 0 && argc == 3)
		return test_dirty(argv[2]);
	if (strcmp(mode, "error") == 0 && argc == 3)
		return test_error(argv[2]);
	if (strcmp(mode, "tls") == 0 && argc == 4)
		return test_tls(argv[2], argv[3]);
	return usage();
}
