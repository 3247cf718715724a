/* A growable NUL-terminated byte string.
 *
 * A strbuf owns its buffer; ferry_sb_release() frees it, ferry_sb_detach()
 * hands it to the caller. buf is never NULL after init (it points at a
 * static "" until the first append), so it can always be printed.
 */
#ifndef FERRY_COMMON_STRBUF_H
#define FERRY_COMMON_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct ferry_sb {
	char *buf;
	size_t len;
	size_t cap;
};

#define FERRY_SB_INIT                                                                              \
	{                                                                                          \
		ferry_sb_empty, 0, 0                                                               \
	}
extern char ferry_sb_empty[];

void ferry_sb_init(struct ferry_sb *sb);
void ferry_sb_release(struct ferry_sb *sb);
/* Return the buffer (caller frees) and reset sb to empty. */
char *ferry_sb_detach(struct ferry_sb *sb);
void ferry_sb_reset(struct ferry_sb *sb);
void ferry_sb_add(struct ferry_sb *sb, const void *data, size_t len);
void ferry_sb_adds(struct ferry_sb *sb, const char *s);
void ferry_sb_addc(struct ferry_sb *sb, char c);
void ferry_sb_addf(struct ferry_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ferry_sb_vaddf(struct ferry_sb *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* s as a double-quoted string, escaped so that it is valid JSON and YAML
 * ("\"", "\\", "\n", other control bytes as \u00XX). NULL adds "". */
void ferry_sb_add_quoted(struct ferry_sb *sb, const char *s);

#endif
