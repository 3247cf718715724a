#include "schema/names.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

static const char msg_empty[] = "must not be empty";
static const char msg_label_len[] = "must be at most 63 characters";
static const char msg_sub_len[] = "must be at most 253 characters";
static const char msg_label_chars[] =
	"must consist of lower case alphanumeric characters or '-', and must start and "
	"end with an alphanumeric character";
static const char msg_label_upper[] =
	"must consist of lower case alphanumeric characters or '-', and must start and "
	"end with an alphanumeric character (uppercase letters are not allowed)";
static const char msg_sub_chars[] =
	"must consist of lower case alphanumeric characters, '-' or '.', and each "
	"dot-separated part must start and end with an alphanumeric character";
static const char msg_sub_upper[] =
	"must consist of lower case alphanumeric characters, '-' or '.', and each "
	"dot-separated part must start and end with an alphanumeric character "
	"(uppercase letters are not allowed)";

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

/* One label of n bytes, without the length limit. */
static bool label_chars_ok(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool verdict(const char *msg, const char **why)
{
	if (why)
		*why = msg;
	return msg == NULL;
}

bool ferry_dns1123_label(const char *s, const char **why)
{
	size_t n = strlen(s);

	if (n == 0)
		return verdict(msg_empty, why);
	if (n > FERRY_DNS1123_LABEL_MAX)
		return verdict(msg_label_len, why);
	if (!label_chars_ok(s, n))
		return verdict(has_upper(s, n) ? msg_label_upper : msg_label_chars, why);
	return verdict(NULL, why);
}

bool ferry_dns1123_subdomain(const char *s, const char **why)
{
	size_t n = strlen(s);
	const char *part = s;

	if (n == 0)
		return verdict(msg_empty, why);
	if (n > FERRY_DNS1123_SUBDOMAIN_MAX)
		return verdict(msg_sub_len, why);
	for (;;) {
		const char *dot = strchr(part, '.');
		size_t len = dot ? (size_t)(dot - part) : strlen(part);

		if (!label_chars_ok(part, len))
			return verdict(has_upper(s, n) ? msg_sub_upper : msg_sub_chars, why);
		if (!dot)
			break;
		part = dot + 1;
	}
	return verdict(NULL, why);
}

char *ferry_dns1123_suggest(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = ferry_xmalloc(n + 1);

	for (size_t i = 0; i < n;) {
		char c = s[i];
		size_t j;
		bool bad = false;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (is_alnum(c)) {
			out[o++] = c;
			i++;
			continue;
		}
		/* A run of non-alphanumerics: kept when it is only dashes (already
		 * valid), otherwise one dash stands for the whole run. */
		for (j = i; j < n && !is_alnum(s[j]) && !(s[j] >= 'A' && s[j] <= 'Z'); j++)
			if (s[j] != '-')
				bad = true;
		if (bad)
			out[o++] = '-';
		else
			for (size_t k = i; k < j; k++)
				out[o++] = '-';
		i = j;
	}
	out[o] = '\0';

	{
		size_t lead = strspn(out, "-");

		memmove(out, out + lead, o - lead + 1);
		o -= lead;
	}
	if (o > FERRY_DNS1123_LABEL_MAX)
		o = FERRY_DNS1123_LABEL_MAX;
	while (o && out[o - 1] == '-')
		o--;
	out[o] = '\0';
	if (o == 0) {
		free(out);
		return NULL;
	}
	return out;
}
