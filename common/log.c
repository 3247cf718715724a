#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum ferry_log_level threshold = FERRY_LOG_WARN;

void ferry_log_set_level(enum ferry_log_level level)
{
	threshold = level;
}

enum ferry_log_level ferry_log_get_level(void)
{
	return threshold;
}

void ferry_log_init(void)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	const char *env = getenv("FERRY_LOG");

	if (!env)
		return;
	for (int i = 0; i < 4; i++)
		if (!strcmp(env, names[i]))
			threshold = (enum ferry_log_level)i;
}

void ferry_log(enum ferry_log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {"error", "warning", "info", "debug"};
	char line[2048];
	va_list ap;

	if (level > threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "ferry: %s: %s\n", prefix[level], line);
}
