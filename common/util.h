/* Small string helpers with no allocation unless stated. */
#ifndef FERRY_COMMON_UTIL_H
#define FERRY_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>

bool ferry_starts_with(const char *s, const char *prefix);
bool ferry_ends_with(const char *s, const char *suffix);

/* Edit distance (insert, delete, substitute, swap two adjacent characters;
 * each cost 1) between two short strings; strings longer than 64 bytes compare as "far" (returns
 * 64). */
unsigned ferry_edit_distance(const char *a, const char *b);

/* Of the n candidate strings, the one nearest to `word` if it is close enough
 * to be a plausible typo (distance <= max(1, strlen(word) / 3)), else NULL. */
const char *ferry_nearest(const char *word, const char *const *candidates, size_t n);

/* The value of a hexadecimal digit, or -1. */
int ferry_hexval(char c);

/* Join a directory and a relative path with exactly one '/'; caller frees. */
char *ferry_path_join(const char *dir, const char *rel);

#endif
