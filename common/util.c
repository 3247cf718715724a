#include "util.h"

#include "alloc.h"

#include <string.h>

bool ferry_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool ferry_ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

unsigned ferry_edit_distance(const char *a, const char *b)
{
	/* Optimal string alignment: Levenshtein plus adjacent transposition at
	 * cost 1, because "wram" for "warm" is the typo people make. */
	enum { MAX = 64 };
	unsigned d[MAX + 1][MAX + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > MAX || lb > MAX)
		return MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *ferry_nearest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	unsigned best_d = ~0u;
	size_t len = strlen(word);
	unsigned limit = len / 3 > 1 ? (unsigned)(len / 3) : 1;

	for (size_t i = 0; i < n; i++) {
		unsigned d = ferry_edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

int ferry_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *ferry_path_join(const char *dir, const char *rel)
{
	size_t ld = strlen(dir);

	while (ld > 1 && dir[ld - 1] == '/')
		ld--;
	while (*rel == '/')
		rel++;
	if (!ld || (ld == 1 && dir[0] == '.' && *rel))
		return ferry_xstrdup(rel);
	if (dir[ld - 1] == '/') /* the root directory */
		return ferry_xasprintf("%.*s%s", (int)ld, dir, rel);
	return ferry_xasprintf("%.*s/%s", (int)ld, dir, rel);
}
