#include "reconciler/cli.h"

#include "common/alloc.h"
#include "dataplane/changed.h"
#include "dataplane/copy.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COPY_USAGE                                                                                 \
	"usage: ferry copy [options] SRC DST\n"                                                    \
	"   or: ferry copy --help\n"

static atomic_bool cancel_requested;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&cancel_requested, true);
}

/* "4M", "2MiB", "512k", "1G", plain bytes. Binary units. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default: break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_count(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Most seconds --progress-interval takes: an update an hour is as good as
 * none, and anything larger is a typo. */
#define PROGRESS_INTERVAL_MAX 3600

/* "0.5", "2", ".25": seconds as a plain decimal (no sign, exponent, inf or
 * nan; a '.' whatever the locale), more than 0, at most the maximum. */
static int parse_seconds(const char *s, double *out)
{
	double v = 0, scale = 1;
	bool dot = false;
	size_t digits = 0;

	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			digits++;
			if (dot) {
				scale /= 10;
				v += (*p - '0') * scale;
			} else if ((v = v * 10 + (*p - '0')) > PROGRESS_INTERVAL_MAX) {
				return -1;
			}
		} else if (*p == '.' && !dot) {
			dot = true;
		} else {
			return -1;
		}
	}
	if (!digits || v <= 0 || v > PROGRESS_INTERVAL_MAX)
		return -1;
	*out = v;
	return 0;
}

static int read_whole(const char *path, char **data, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	size_t cap = 0;

	*data = NULL;
	*len = 0;
	if (!fp)
		return -1;
	for (;;) {
		size_t n;
		*data = ferry_grow(*data, &cap, *len + 65536, 1);
		n = fread(*data + *len, 1, cap - *len, fp);
		*len += n;
		if (n == 0)
			break;
		if (*len > (256u << 20)) { /* a changed-areas list, not a disk */
			errno = EFBIG;
			fclose(fp);
			return -1;
		}
	}
	if (ferror(fp)) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

static void human(double bytes, char *buf, size_t n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, n, "%.1f %s", bytes, units[u]);
}

/* A one-line bar on stderr when it is a terminal; redrawn in place. */
static void draw_progress(void *arg, const struct ferry_copy_progress *p)
{
	char done[32], total[32], rate[32], eta[32] = "--:--";
	double frac = p->total ? (double)p->done / (double)p->total : 1;
	int width = 30, fill = (int)(frac * width);

	(void)arg;
	human((double)p->done, done, sizeof done);
	human((double)p->total, total, sizeof total);
	human(p->rate, rate, sizeof rate);
	if (p->rate > 0 && p->done < p->total) {
		unsigned long s = (unsigned long)((double)(p->total - p->done) / p->rate);
		snprintf(eta, sizeof eta, "%02lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
	}
	fprintf(stderr, "\r[%.*s%*s] %5.1f%% %s / %s  %s/s  ETA %s ", fill,
		"##############################", width - fill, "", frac * 100, done, total, rate,
		eta);
	fflush(stderr);
}

/* --progress-fd: one line per update for the process that started us,
 * "progress DONE TOTAL DATA\n" in bytes, written whole (short lines,
 * below PIPE_BUF, so a reader never sees half of one). */
static void write_progress(void *arg, const struct ferry_copy_progress *p)
{
	int fd = *(int *)arg;
	char line[96];
	int n = snprintf(line, sizeof line, "progress %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			 p->done, p->total, p->data);

	if (write(fd, line, (size_t)n) < 0) {
		/* the reader went away; the copy itself goes on */
	}
}

static void print_json(const struct ferry_copy_result *r, int status, const struct ferry_err *err)
{
	double s = r->seconds > 0 ? r->seconds : 1e-9;

	printf("{\n  \"status\": \"%s\",\n", status ? "failed" : "ok");
	if (status) {
		/* the message is ours; it contains no secrets (endpoint names are
		 * stripped of credentials) but may contain quotes */
		printf("  \"error\": \"");
		for (const char *c = err->msg; *c; c++)
			if (*c == '"' || *c == '\\')
				printf("\\%c", *c);
			else if ((unsigned char)*c >= 0x20)
				putchar(*c);
		printf("\",\n  \"error_code\": \"%s\",\n", ferry_errcode_name(err->code));
	}
	printf("  \"size\": %" PRIu64 ",\n  \"bytes_read\": %" PRIu64
	       ",\n  \"bytes_written\": %" PRIu64 ",\n  \"bytes_zeroed\": %" PRIu64
	       ",\n  \"bytes_skipped\": %" PRIu64
	       ",\n  \"retries\": %u,\n  \"seconds\": %.3f,\n  \"virtual_rate\": %.0f,\n"
	       "  \"data_rate\": %.0f,\n  \"verified\": %s",
	       r->size, r->bytes_read, r->bytes_written, r->bytes_zeroed, r->bytes_skipped,
	       r->retries, r->seconds, (double)r->size / s, (double)r->bytes_written / s,
	       r->verified ? "true" : "false");
	if (r->verified)
		printf(",\n  \"sha256\": \"%s\"", r->dst_sha256);
	printf("\n}\n");
}

int ferry_cmd_copy(int argc, char **argv)
{
	enum {
		O_CONN = 256,
		O_REQ,
		O_REQSIZE,
		O_INCR,
		O_CHANGED,
		O_CKPT,
		O_VERIFY,
		O_RATE,
		O_PROG,
		O_PROG_FD,
		O_PROG_INTERVAL,
		O_SOURCE_ID
	};
	static const struct option opts[] = {
		{"connections", required_argument, NULL, O_CONN},
		{"requests", required_argument, NULL, O_REQ},
		{"request-size", required_argument, NULL, O_REQSIZE},
		{"incremental", required_argument, NULL, O_INCR},
		{"changed-areas", required_argument, NULL, O_CHANGED},
		{"checkpoint", required_argument, NULL, O_CKPT},
		{"verify", no_argument, NULL, O_VERIFY},
		{"rate-limit", required_argument, NULL, O_RATE},
		{"progress", no_argument, NULL, O_PROG},
		{"progress-fd", required_argument, NULL, O_PROG_FD},
		{"progress-interval", required_argument, NULL, O_PROG_INTERVAL},
		{"source-id", required_argument, NULL, O_SOURCE_ID},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_copy_opts co = {0};
	struct ferry_copy_result res;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_extents changed = FERRY_EXTENTS_INIT;
	const char *changed_file = NULL;
	bool json = false, progress = false;
	int progress_fd = -1;
	uint64_t v;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case O_CONN:
			if (parse_count(optarg, 64, &co.connections))
				goto bad_value;
			break;
		case O_REQ:
			if (parse_count(optarg, 64, &co.requests))
				goto bad_value;
			break;
		case O_REQSIZE:
			if (parse_size(optarg, &v) || v < 4096 || v > (64u << 20) || (v & (v - 1)))
				goto bad_request_size;
			co.request_size = (size_t)v;
			break;
		case O_INCR:
			if (strncmp(optarg, "bitmap:", 7) || !optarg[7]) {
				fprintf(stderr, "ferry copy: --incremental takes bitmap:NAME\n");
				return FERRY_EXIT_USAGE;
			}
			co.bitmap = optarg + 7;
			break;
		case O_CHANGED: changed_file = optarg; break;
		case O_CKPT: co.checkpoint = optarg; break;
		case O_SOURCE_ID: co.source_id = optarg; break;
		case O_VERIFY: co.verify = true; break;
		case O_RATE:
			if (parse_size(optarg, &co.rate_limit) || !co.rate_limit)
				goto bad_value;
			break;
		case O_PROG: progress = true; break;
		case O_PROG_FD: {
			char *end;
			long fd;

			errno = 0;
			fd = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || fd < 0 || fd > INT_MAX)
				goto bad_value;
			progress_fd = (int)fd;
			break;
		}
		case O_PROG_INTERVAL:
			if (parse_seconds(optarg, &co.progress_interval)) {
				fprintf(stderr,
					"ferry copy: --progress-interval takes seconds above 0 "
					"and up to %d, e.g. 0.5 or 2; not '%s'\n",
					PROGRESS_INTERVAL_MAX, optarg);
				return FERRY_EXIT_USAGE;
			}
			break;
		case 'o':
			if (!strcmp(optarg, "json"))
				json = true;
			else if (strcmp(optarg, "text"))
				goto bad_value;
			break;
		default: fputs(COPY_USAGE, stderr); return FERRY_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fputs(COPY_USAGE, stderr);
		return FERRY_EXIT_USAGE;
	}
	if (changed_file && co.bitmap) {
		fprintf(stderr, "ferry copy: --incremental and --changed-areas are exclusive\n");
		return FERRY_EXIT_USAGE;
	}
	if (changed_file) {
		char *data;
		size_t len;
		if (read_whole(changed_file, &data, &len)) {
			fprintf(stderr, "ferry copy: %s: %s\n", changed_file, strerror(errno));
			free(data);
			return FERRY_EXIT_USAGE;
		}
		rc = ferry_changed_areas_parse(changed_file, data, len, &changed, &err);
		free(data);
		if (rc) {
			char msg[1024];
			ferry_err_format(&err, msg, sizeof msg);
			fprintf(stderr, "ferry copy: %s\n", msg);
			ferry_extents_release(&changed);
			return FERRY_EXIT_USAGE;
		}
		co.changed = &changed;
	}
	if (progress_fd >= 0) {
		if (fcntl(progress_fd, F_GETFD) < 0) {
			fprintf(stderr, "ferry copy: --progress-fd %d: %s\n", progress_fd,
				strerror(errno));
			return FERRY_EXIT_USAGE;
		}
		co.progress = write_progress;
		co.progress_arg = &progress_fd;
		progress = false;
	}
	if (progress && isatty(STDERR_FILENO))
		co.progress = draw_progress;
	co.cancel = &cancel_requested;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	rc = ferry_copy(argv[optind], argv[optind + 1], &co, &res, &err);
	if (co.progress == draw_progress)
		fputc('\n', stderr);
	if (json) {
		print_json(&res, rc, &err);
	} else if (!rc) {
		char a[32], b[32];
		human((double)res.size, a, sizeof a);
		human((double)res.bytes_written, b, sizeof b);
		printf("copied %s (%s of data) in %.2f s%s%s\n", a, b, res.seconds,
		       res.verified ? ", verified sha256 " : "",
		       res.verified ? res.dst_sha256 : "");
	}
	if (rc) {
		fprintf(stderr, "ferry copy: %s\n", err.msg);
		/* Only when there is something to resume from, and resuming can
		 * help (not a checkpoint refused as another copy's). */
		if (co.checkpoint && access(co.checkpoint, F_OK) == 0 &&
		    err.code != FERRY_E_CONFLICT && err.code != FERRY_E_INVALID)
			fprintf(stderr,
				"ferry copy: run the same command again to resume from %s\n",
				co.checkpoint);
	}
	ferry_extents_release(&changed);
	return rc ? FERRY_EXIT_NOT_OK : FERRY_EXIT_OK;

bad_request_size:
	fprintf(stderr,
		"ferry copy: --request-size must be a power of two from 4K to 64M, not '%s'\n",
		optarg);
	return FERRY_EXIT_USAGE;

bad_value:
	fprintf(stderr, "ferry copy: bad value '%s' for an option; see 'ferry copy --help'\n",
		optarg);
	return FERRY_EXIT_USAGE;
}
