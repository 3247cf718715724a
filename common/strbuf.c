#include "strbuf.h"

#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char ferry_sb_empty[1];

void ferry_sb_init(struct ferry_sb *sb)
{
	sb->buf = ferry_sb_empty;
	sb->len = 0;
	sb->cap = 0;
}

void ferry_sb_release(struct ferry_sb *sb)
{
	if (sb->cap)
		free(sb->buf);
	ferry_sb_init(sb);
}

char *ferry_sb_detach(struct ferry_sb *sb)
{
	char *p = sb->cap ? sb->buf : ferry_xstrdup("");
	ferry_sb_init(sb);
	return p;
}

void ferry_sb_reset(struct ferry_sb *sb)
{
	sb->len = 0;
	if (sb->cap)
		sb->buf[0] = '\0';
}

static void reserve(struct ferry_sb *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need <= sb->cap)
		return;
	if (!sb->cap)
		sb->buf = NULL;
	sb->buf = ferry_grow(sb->buf, &sb->cap, need, 1);
}

void ferry_sb_add(struct ferry_sb *sb, const void *data, size_t len)
{
	reserve(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void ferry_sb_adds(struct ferry_sb *sb, const char *s)
{
	ferry_sb_add(sb, s, strlen(s));
}

void ferry_sb_addc(struct ferry_sb *sb, char c)
{
	ferry_sb_add(sb, &c, 1);
}

void ferry_sb_vaddf(struct ferry_sb *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n <= 0)
		return;
	reserve(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void ferry_sb_addf(struct ferry_sb *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ferry_sb_vaddf(sb, fmt, ap);
	va_end(ap);
}

void ferry_sb_add_quoted(struct ferry_sb *sb, const char *s)
{
	ferry_sb_addc(sb, '"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			ferry_sb_addf(sb, "\\%c", *p);
		else if (*p == '\n')
			ferry_sb_adds(sb, "\\n");
		else if (*p < 0x20 || *p == 0x7f)
			ferry_sb_addf(sb, "\\u%04x", *p);
		else
			ferry_sb_addc(sb, (char)*p);
	}
	ferry_sb_addc(sb, '"');
}
