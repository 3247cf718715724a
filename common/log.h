/* Logging to stderr, one line per message, with a level threshold.
 *
 * Never log a secret: callers pass already-redacted values. Thread-safe in
 * the sense that each message is written with a single fprintf.
 */
#ifndef FERRY_COMMON_LOG_H
#define FERRY_COMMON_LOG_H

enum ferry_log_level {
	FERRY_LOG_ERROR,
	FERRY_LOG_WARN,
	FERRY_LOG_INFO,
	FERRY_LOG_DEBUG,
};

/* Messages above this level are dropped. Default: FERRY_LOG_WARN, or the
 * level named by the FERRY_LOG environment variable (error|warn|info|debug)
 * when ferry_log_init() is called. */
void ferry_log_set_level(enum ferry_log_level level);
enum ferry_log_level ferry_log_get_level(void);
void ferry_log_init(void);

void ferry_log(enum ferry_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ferry_error(...) ferry_log(FERRY_LOG_ERROR, __VA_ARGS__)
#define ferry_warn(...)	 ferry_log(FERRY_LOG_WARN, __VA_ARGS__)
#define ferry_info(...)	 ferry_log(FERRY_LOG_INFO, __VA_ARGS__)
#define ferry_debug(...) ferry_log(FERRY_LOG_DEBUG, __VA_ARGS__)

#endif
