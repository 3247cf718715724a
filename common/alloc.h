/* Allocation that cannot return NULL.
 *
 * ferry follows git here: running out of memory is not an error a caller can
 * do anything useful about, so these print a message and abort instead of
 * spreading NULL checks through every function. Limits on untrusted input
 * (size, depth, count) are enforced by the parsers, so a hostile document
 * cannot drive these into exhaustion.
 */
#ifndef FERRY_COMMON_ALLOC_H
#define FERRY_COMMON_ALLOC_H

#include <stddef.h>
#include <string.h> /* FERRY_PUSH uses memset */

void *ferry_xmalloc(size_t n);
void *ferry_xcalloc(size_t nmemb, size_t size);
void *ferry_xrealloc(void *p, size_t n);
char *ferry_xstrdup(const char *s);
char *ferry_xstrndup(const char *s, size_t n);
/* printf into a new string; the caller frees. */
char *ferry_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow an array so that it holds at least `need` elements of `size` bytes.
 * *cap is updated; growth is geometric. Returns the (possibly moved) array. */
void *ferry_grow(void *array, size_t *cap, size_t need, size_t size);

/* Append one element to a (ptr, len, cap) triple and return its address,
 * zero-filled. Usage: struct x *e = FERRY_PUSH(v.items, v.len, v.cap); */
#define FERRY_PUSH(ptr, len, cap)                                                                  \
	((ptr) = ferry_grow((ptr), &(cap), (len) + 1, sizeof *(ptr)),                              \
	 memset(&(ptr)[(len)], 0, sizeof *(ptr)), &(ptr)[(len)++])

#endif
