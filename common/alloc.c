#include "alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(size_t n)
{
	fprintf(stderr, "ferry: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *ferry_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *ferry_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		die_oom(nmemb * size);
	return p;
}

void *ferry_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *ferry_xstrdup(const char *s)
{
	return ferry_xstrndup(s, strlen(s));
}

char *ferry_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = ferry_xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *ferry_xasprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die_oom(0);
	p = ferry_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void *ferry_grow(void *array, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap;

	if (need <= c)
		return array;
	if (c < 8)
		c = 8;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			die_oom(SIZE_MAX);
		c *= 2;
	}
	if (c > SIZE_MAX / size)
		die_oom(SIZE_MAX);
	array = ferry_xrealloc(array, c * size);
	*cap = c;
	return array;
}
