/* providers/ova/tar: member listing of ustar, pax and GNU archives built
 * here block by block, and of broken ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "providers/ova/tar.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* An archive being built in memory. */
struct ar {
	unsigned char *buf;
	size_t len;
};

static unsigned char *grow(struct ar *a, size_t n)
{
	a->buf = realloc(a->buf, a->len + n);
	assert_non_null(a->buf);
	memset(a->buf + a->len, 0, n);
	a->len += n;
	return a->buf + a->len - n;
}

enum magic { USTAR, GNU };

/* One header, the size in octal. */
static unsigned char *header(struct ar *a, const char *name, uint64_t size, char type, enum magic m)
{
	unsigned char *h = grow(a, 512);
	unsigned sum = 0;

	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	memcpy(h + 100, "0000644", 7);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	h[156] = (unsigned char)type;
	if (m == USTAR)
		memcpy(h + 257,
		       "ustar\0"
		       "00",
		       8);
	else
		memcpy(h + 257, "ustar  \0", 8);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	return h;
}

static void fix_checksum(unsigned char *h)
{
	unsigned sum = 0;

	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

/* size bytes of data (a repeating byte), padded to a block. */
static void data(struct ar *a, size_t size, unsigned char c)
{
	unsigned char *d = grow(a, (size + 511) / 512 * 512);
	memset(d, c, size);
}

static void end(struct ar *a)
{
	grow(a, 1024);
}

struct result {
	struct ferry_tar t;
	struct ferry_err err;
	int ret;
};

static void list(const struct ar *a, size_t len, struct result *r)
{
	int fd = memfd_create("tar", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, a->buf, len), (ssize_t)len);
	memset(r, 0, sizeof *r);
	r->ret = ferry_tar_list(fd, len, &r->t, &r->err);
	close(fd);
}

static void test_ustar(void **state)
{
	struct ar a = {0};
	struct result r;
	unsigned char *h;

	(void)state;
	header(&a, "./vm.ovf", 100, '0', USTAR);
	data(&a, 100, 'x');
	header(&a, "dir/", 0, '5', USTAR);
	/* A symlink whose size field lies: links have no data. */
	header(&a, "link", 4096, '2', USTAR);
	h = header(&a, "disk.vmdk", 1000, '0', USTAR);
	memcpy(h + 345, "long/prefix", 11);
	fix_checksum(h);
	data(&a, 1000, 'd');
	header(&a, "old-style", 3, '\0', USTAR);
	data(&a, 3, 'o');
	header(&a, "olddir/", 0, '\0', USTAR);
	end(&a);
	list(&a, a.len, &r);
	assert_int_equal(r.ret, 0);
	assert_false(r.t.truncated);
	assert_int_equal(r.t.len, 3);
	assert_string_equal(r.t.v[0].name, "vm.ovf");
	assert_true(r.t.v[0].offset == 512 && r.t.v[0].size == 100);
	assert_string_equal(r.t.v[1].name, "long/prefix/disk.vmdk");
	assert_true(r.t.v[1].offset == 512 * 5 && r.t.v[1].size == 1000);
	assert_int_equal(a.buf[r.t.v[1].offset], 'd');
	assert_string_equal(r.t.v[2].name, "old-style");
	assert_ptr_equal(ferry_tar_find(&r.t, "./vm.ovf"), &r.t.v[0]);
	assert_ptr_equal(ferry_tar_find(&r.t, "long/prefix/disk.vmdk"), &r.t.v[1]);
	assert_null(ferry_tar_find(&r.t, "disk.vmdk"));
	assert_null(ferry_tar_find(&r.t, "link"));
	ferry_tar_release(&r.t);

	/* Without the end-of-archive blocks, as some writers leave it. */
	list(&a, a.len - 1024, &r);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.t.len, 3);
	ferry_tar_release(&r.t);
	free(a.buf);
}

static void test_gnu(void **state)
{
	struct ar a = {0};
	struct result r;
	unsigned char *h;
	char longname[300];

	(void)state;
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	header(&a, "././@LongLink", sizeof longname, 'L', GNU);
	data(&a, sizeof longname, 0);
	memcpy(a.buf + a.len - 512, longname, sizeof longname);
	/* Base-256 size, as GNU tar writes for 8 GiB and more. */
	h = header(&a, "short", 0, '0', GNU);
	memset(h + 124, 0, 12);
	h[124] = 0x80;
	h[134] = 0x07;
	h[135] = 0xd0; /* 2000 */
	fix_checksum(h);
	data(&a, 2000, 'g');
	/* GNU keeps atime where ustar has its prefix: not a prefix. */
	h = header(&a, "plain", 1, '0', GNU);
	memcpy(h + 345, "12345670123", 11);
	fix_checksum(h);
	data(&a, 1, 'p');
	end(&a);
	list(&a, a.len, &r);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.t.len, 2);
	assert_string_equal(r.t.v[0].name, longname);
	assert_true(r.t.v[0].size == 2000);
	assert_true(r.t.v[0].offset == 512 * 3);
	assert_string_equal(r.t.v[1].name, "plain");
	ferry_tar_release(&r.t);
	free(a.buf);
}

static void test_pax(void **state)
{
	struct ar a = {0};
	struct result r;
	const char *rec = "30 mtime=1700000000.123456789\n"
			  "29 path=dir/a-very-long.vmdk\n"
			  "13 size=4000\n";

	(void)state;
	header(&a, "PaxHeaders/x", strlen(rec), 'x', USTAR);
	data(&a, strlen(rec), 0);
	memcpy(a.buf + a.len - 512, rec, strlen(rec));
	header(&a, "truncated-name", 1, '0', USTAR); /* size 1 overridden */
	data(&a, 4000, 'z');
	end(&a);
	list(&a, a.len, &r);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.t.len, 1);
	assert_string_equal(r.t.v[0].name, "dir/a-very-long.vmdk");
	assert_true(r.t.v[0].size == 4000 && r.t.v[0].offset == 1536);
	ferry_tar_release(&r.t);

	/* A record whose length runs past the header's data. */
	a.buf[512] = '9';
	a.buf[513] = '9';
	list(&a, a.len, &r);
	assert_int_equal(r.ret, -1);
	assert_int_equal(r.err.code, FERRY_E_INVALID);
	assert_non_null(strstr(r.err.msg, "pax"));
	ferry_tar_release(&r.t);
	free(a.buf);
}

static void test_broken(void **state)
{
	struct ar a = {0};
	struct result r;

	(void)state;
	header(&a, "vm.ovf", 10, '0', USTAR);
	data(&a, 10, 'x');
	header(&a, "disk.vmdk", 5000, '0', USTAR);
	data(&a, 5000, 'd');
	end(&a);

	/* Cut inside the second member's data: the first is still listed. */
	list(&a, 512 * 3 + 100, &r);
	assert_int_equal(r.ret, -1);
	assert_true(r.t.truncated);
	assert_int_equal(r.err.code, FERRY_E_INVALID);
	assert_non_null(strstr(r.err.msg, "disk.vmdk"));
	assert_int_equal(r.t.len, 1);
	ferry_tar_release(&r.t);

	/* Cut inside a header. */
	list(&a, 512 + 512 + 200, &r);
	assert_int_equal(r.ret, -1);
	assert_true(r.t.truncated);
	ferry_tar_release(&r.t);

	/* A checksum that does not add up: corrupt, not truncated. */
	a.buf[512 * 2 + 10] ^= 1;
	list(&a, a.len, &r);
	assert_int_equal(r.ret, -1);
	assert_false(r.t.truncated);
	assert_non_null(strstr(r.err.msg, "no valid tar header at offset 1024"));
	ferry_tar_release(&r.t);
	a.buf[512 * 2 + 10] ^= 1;

	/* Not an archive at all. */
	memset(a.buf, 'A', 512);
	list(&a, a.len, &r);
	assert_int_equal(r.ret, -1);
	assert_int_equal(r.t.len, 0);
	ferry_tar_release(&r.t);

	/* Empty file: no members, no error. */
	list(&a, 0, &r);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.t.len, 0);
	ferry_tar_release(&r.t);
	free(a.buf);
}

static void test_limits(void **state)
{
	struct ar a = {0};
	struct result r;

	(void)state;
	header(&a, "././@LongLink", FERRY_TAR_MAX_NAME + 1, 'L', GNU);
	data(&a, FERRY_TAR_MAX_NAME + 1, 'n');
	header(&a, "x", 0, '0', GNU);
	end(&a);
	list(&a, a.len, &r);
	assert_int_equal(r.ret, -1);
	assert_int_equal(r.err.code, FERRY_E_LIMIT);
	ferry_tar_release(&r.t);
	free(a.buf);

	/* A negative base-256 size. */
	memset(&a, 0, sizeof a);
	{
		unsigned char *h = header(&a, "neg", 0, '0', GNU);
		memset(h + 124, 0xff, 12);
		fix_checksum(h);
	}
	end(&a);
	list(&a, a.len, &r);
	assert_int_equal(r.ret, -1);
	assert_int_equal(r.err.code, FERRY_E_INVALID);
	ferry_tar_release(&r.t);
	free(a.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ustar),  cmocka_unit_test(test_gnu),
		cmocka_unit_test(test_pax),    cmocka_unit_test(test_broken),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
