/* ferry reconcile, ferry diff and ferry run: the engine as commands. */
#include "reconciler/cli.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/time.h"
#include "common/util.h"
#include "reconciler/config.h"
#include "reconciler/engine.h"
#include "reconciler/gitsync.h"
#include "reconciler/httpd.h"
#include "reconciler/metrics.h"
#include "reconciler/secrets.h"
#include "reconciler/sync.h"
#include "schema/report.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested, reload_requested;
static int wake_pipe[2] = {-1, -1};

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (wake_pipe[1] >= 0) {
		char c = 's';
		if (write(wake_pipe[1], &c, 1) < 0) {
			/* the pipe is full: a wake-up is already pending */
		}
	}
}

static void on_hup(int sig)
{
	(void)sig;
	reload_requested = 1;
	if (wake_pipe[1] >= 0) {
		char c = 'h';
		if (write(wake_pipe[1], &c, 1) < 0) {
		}
	}
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void print_err(const char *cmd, const struct ferry_err *err)
{
	char msg[FERRY_ERR_MSG_MAX + FERRY_ERR_FILE_MAX + 32];

	ferry_err_format(err, msg, sizeof msg);
	fprintf(stderr, "ferry %s: %s\n", cmd, msg);
}

/* Passes until nothing more can happen now; the exit status of
 * `reconcile --once`. */
static int reconcile_until_settled(struct ferry_engine *e, const char *cmd)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_pass_stats st;
	bool first = true;
	int rc = FERRY_EXIT_OK;

	for (;;) {
		if (ferry_engine_pass(e, first, &st, &err)) {
			print_err(cmd, &err);
			rc = FERRY_EXIT_USAGE;
			break;
		}
		first = false;
		if (!st.in_force) {
			fprintf(stderr, "ferry %s: no commit is in force (see `ferry sync`)\n",
				cmd);
			rc = FERRY_EXIT_NOT_OK;
			break;
		}
		if (stop_requested)
			break;
		if (st.workers) {
			ferry_engine_wait(e, 1000, -1);
			continue;
		}
		if (!st.moved) {
			rc = st.failed ? FERRY_EXIT_NOT_OK : FERRY_EXIT_OK;
			printf("settled: %zu completed, %zu failed, %zu canceled, %zu waiting, %zu "
			       "blocked\n",
			       st.completed, st.failed, st.canceled, st.active + st.waiting,
			       st.blocked);
			break;
		}
	}
	ferry_err_clear(&err);
	if (ferry_engine_flush_status(e, &err)) {
		print_err(cmd, &err);
		rc = FERRY_EXIT_USAGE;
	}
	return rc;
}

int ferry_reconcile_config(const struct ferry_config *cfg, bool verbose)
{
	struct ferry_engine_opts o = {
		.cfg = cfg,
		.mode = FERRY_ENGINE_ACT,
		.stop = &stop_requested,
		.verbose = verbose,
	};
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_engine *e;
	int rc;

	install_signals();
	if (ferry_engine_open(&e, &o, &err)) {
		print_err("reconcile", &err);
		return FERRY_EXIT_USAGE;
	}
	rc = reconcile_until_settled(e, "reconcile");
	ferry_engine_close(e);
	return rc;
}

#define RECONCILE_USAGE "usage: ferry reconcile --once [-c ferry.ini] [-q]\n"

int ferry_cmd_reconcile(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"once", no_argument, NULL, '1'},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_config cfg;
	const char *path = NULL;
	bool once = false, quiet = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:q", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case '1': once = true; break;
		case 'q': quiet = true; break;
		default: fputs(RECONCILE_USAGE, stderr); return FERRY_EXIT_USAGE;
		}
	}
	if (optind != argc || !once) {
		fputs(RECONCILE_USAGE, stderr);
		if (!once)
			fputs("(--once is required: the daemon is `ferry run`)\n", stderr);
		return FERRY_EXIT_USAGE;
	}
	if (ferry_cli_load_config(&cfg, path, "reconcile"))
		return FERRY_EXIT_USAGE;
	rc = ferry_reconcile_config(&cfg, !quiet);
	ferry_config_release(&cfg);
	return rc;
}

/* ---- ferry diff ------------------------------------------------------------------ */

#define DIFF_USAGE "usage: ferry diff [-c ferry.ini] [-o text|json] [DIR | --rev REV]\n"

int ferry_cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"output", required_argument, NULL, 'o'},
		{"rev", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_config cfg;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_model m = FERRY_MODEL_INIT;
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_engine *e = NULL;
	struct ferry_git *g = NULL;
	const char *path = NULL, *rev = NULL, *dir = NULL;
	char *out = NULL, sha[FERRY_SHA_HEX] = "";
	bool json = false;
	int c, rc = FERRY_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'r': rev = optarg; break;
		case 'o':
			if (!strcmp(optarg, "json"))
				json = true;
			else if (strcmp(optarg, "text")) {
				fputs(DIFF_USAGE, stderr);
				return FERRY_EXIT_USAGE;
			}
			break;
		default: fputs(DIFF_USAGE, stderr); return FERRY_EXIT_USAGE;
		}
	}
	if (argc - optind > 1 || (argc - optind == 1 && rev)) {
		fputs(DIFF_USAGE, stderr);
		return FERRY_EXIT_USAGE;
	}
	if (argc - optind == 1)
		dir = argv[optind];
	if (ferry_cli_load_config(&cfg, path, "diff"))
		return FERRY_EXIT_USAGE;
	if (dir) {
		if (ferry_model_load_dir(&m, dir, &f, &err))
			goto fail;
	} else {
		if (ferry_git_open_config(&g, &cfg, &err))
			goto fail;
		if (rev) {
			if (ferry_git_fetch_rev(g, rev, sha, &err))
				goto fail;
		} else {
			/* what is in force now, as the last pass left it: a diff
			 * changes nothing, not even the repository cache */
			ferry_sync_in_force(&cfg, sha);
			if (!sha[0]) {
				fprintf(stderr, "ferry diff: no commit is in force yet (run `ferry "
						"sync` or `ferry reconcile --once` first, or give "
						"--rev or DIR)\n");
				rc = FERRY_EXIT_NOT_OK;
				goto out;
			}
		}
		if (ferry_git_load_tree(g, sha, cfg.repo.root, &m, &f, &err))
			goto fail;
	}
	ferry_model_validate(&m, &f);
	ferry_findings_sort(&f);
	if (ferry_findings_blocking(&f)) {
		fprintf(stderr, "ferry diff: the desired state has blocking findings; a reconcile "
				"would not act on it:\n");
		ferry_report_text(stderr, &f, &m);
		rc = FERRY_EXIT_NOT_OK;
		goto out;
	}
	{
		struct ferry_engine_opts o = {.cfg = &cfg, .mode = FERRY_ENGINE_PREVIEW};
		struct ferry_config nogit = cfg;

		nogit.repo.url = NULL; /* preview needs no repository of its own */
		o.cfg = &nogit;
		if (ferry_engine_open(&e, &o, &err) ||
		    ferry_engine_preview(e, &m, json, &out, &err))
			goto fail;
	}
	if (!json && sha[0])
		printf("desired state at %.12s\n\n", sha);
	fputs(out, stdout);
	rc = FERRY_EXIT_OK;
	goto out;
fail:
	print_err("diff", &err);
out:
	free(out);
	ferry_engine_close(e);
	ferry_git_close(g);
	ferry_findings_release(&f);
	ferry_model_release(&m);
	ferry_config_release(&cfg);
	return rc;
}

/* ---- ferry run ------------------------------------------------------------------- */

struct daemon {
	struct ferry_metrics *metrics;
	volatile sig_atomic_t ready;
};

static void on_webhook(void *arg, const char *scheme)
{
	char c = 'w';

	(void)arg;
	(void)scheme;
	if (write(wake_pipe[1], &c, 1) < 0) {
		/* full: a wake-up is already pending */
	}
}

static bool is_ready(void *arg)
{
	return ((struct daemon *)arg)->ready;
}

/* The webhook's shared secret from the secrets directory, or NULL. */
static char *webhook_secret(const struct ferry_config *cfg, struct ferry_err *err, bool *failed)
{
	struct ferry_secret_data s;
	const char *tok;
	char *out = NULL;

	*failed = false;
	if (!cfg->daemon.webhook_secret)
		return NULL;
	if (ferry_secret_load(&s, cfg->secrets.dir, cfg->daemon.webhook_secret, err)) {
		*failed = true;
		return NULL;
	}
	tok = ferry_secret_get(&s, "token");
	if (!tok || !*tok) {
		ferry_err_set(err, FERRY_E_INVALID, "secret %s has no token key",
			      cfg->daemon.webhook_secret);
		*failed = true;
	} else {
		out = ferry_xstrdup(tok);
	}
	ferry_secret_release(&s);
	return out;
}

/* The engine and the HTTP server of a daemon with configuration cfg. */
static int daemon_start(const struct ferry_config *cfg, struct daemon *d, const char *secret,
			struct ferry_engine **e, struct ferry_httpd **h, struct ferry_err *err)
{
	struct ferry_engine_opts o = {
		.cfg = cfg,
		.mode = FERRY_ENGINE_ACT,
		.stop = &stop_requested,
		.metrics = d->metrics,
		.verbose = true,
	};
	struct ferry_httpd_opts ho = {
		.listen = cfg->daemon.listen,
		.webhook_secret = secret,
		.metrics = d->metrics,
		.trigger = on_webhook,
		.ready = is_ready,
		.arg = d,
	};

	return ferry_engine_open(e, &o, err) || ferry_httpd_start(h, &ho, err) ? -1 : 0;
}

#define RUN_USAGE "usage: ferry run [-c ferry.ini]\n"

int ferry_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_config cfg;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_engine *e = NULL;
	struct ferry_httpd *h = NULL;
	struct daemon d = {0};
	const char *path = NULL;
	char *secret = NULL;
	bool failed;
	int c, rc = FERRY_EXIT_USAGE;
	double next = 0;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (c == 'c') {
			path = optarg;
		} else {
			fputs(RUN_USAGE, stderr);
			return FERRY_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(RUN_USAGE, stderr);
		return FERRY_EXIT_USAGE;
	}
	if (ferry_cli_load_config(&cfg, path, "run"))
		return FERRY_EXIT_USAGE;
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK)) {
		fprintf(stderr, "ferry run: pipe: %s\n", strerror(errno));
		goto out;
	}
	install_signals();
	d.metrics = ferry_metrics_new();
	secret = webhook_secret(&cfg, &err, &failed);
	if (failed)
		goto fail;
	{
		if (daemon_start(&cfg, &d, secret, &e, &h, &err))
			goto fail;
		printf("ferry run: listening on %s (port %u); polling %s every %u ms\n",
		       cfg.daemon.listen, ferry_httpd_port(h), cfg.repo.url,
		       cfg.daemon.poll_interval_ms);
		fflush(stdout);
	}
	while (!stop_requested) {
		double now = ferry_monotonic();

		if (reload_requested) {
			struct ferry_config fresh;
			reload_requested = 0;
			ferry_config_defaults(&fresh);
			ferry_err_clear(&err);
			char *fresh_secret = NULL;

			if (ferry_config_load(&fresh, cfg.path, &err) ||
			    ((fresh_secret = webhook_secret(&fresh, &err, &failed)), failed)) {
				char msg[FERRY_ERR_MSG_MAX + FERRY_ERR_FILE_MAX + 32];
				ferry_err_format(&err, msg, sizeof msg);
				ferry_warn("SIGHUP: keeping the configuration in use: %s", msg);
				ferry_config_release(&fresh);
			} else {
				/* the engine and server keep pointers into cfg: restart
				 * both (the data directory's lock passes from one to the
				 * other; a listen address that cannot be bound now is
				 * fatal, as at startup) */
				ferry_httpd_stop(h);
				h = NULL;
				ferry_engine_close(e);
				e = NULL;
				ferry_config_release(&cfg);
				cfg = fresh;
				free(secret);
				secret = fresh_secret;
				if (daemon_start(&cfg, &d, secret, &e, &h, &err))
					goto fail;
				ferry_info("SIGHUP: configuration reloaded from %s", cfg.path);
			}
			next = 0;
		}
		if (now >= next) {
			struct ferry_pass_stats st;
			double t0 = ferry_monotonic();
			int prc;

			ferry_err_clear(&err);
			prc = ferry_engine_pass(e, next == 0, &st, &err);
			ferry_metrics_reconcile(d.metrics, ferry_monotonic() - t0, prc == 0);
			if (prc) {
				char msg[FERRY_ERR_MSG_MAX + FERRY_ERR_FILE_MAX + 32];
				ferry_err_format(&err, msg, sizeof msg);
				ferry_error("reconcile: %s", msg);
				ferry_metrics_error(d.metrics, "reconcile");
			} else {
				d.ready = 1;
				ferry_metrics_set_last_success(d.metrics, (double)time(NULL));
			}
			/* the next poll, with ±10% jitter so that daemons spread out */
			{
				double iv = cfg.daemon.poll_interval_ms / 1000.0;
				double j = ((double)rand_r(&seed) / RAND_MAX - 0.5) * 0.2 * iv;
				next = ferry_monotonic() + iv + j;
			}
			if (!prc && st.moved)
				next = ferry_monotonic(); /* keep going while VMs move */
		}
		{
			double wait = next - ferry_monotonic();
			int ms = wait <= 0 ? 0 : wait > 1 ? 1000 : (int)(wait * 1000);

			int woke = ferry_engine_wait(e, ms, wake_pipe[0]);

			if (woke & FERRY_WAIT_WORKER)
				next = 0.5; /* a copy finished: move its VM on now */
			if (woke & FERRY_WAIT_FD) {
				char buf[64];
				bool hook = false;
				ssize_t n;

				while ((n = read(wake_pipe[0], buf, sizeof buf)) > 0)
					for (ssize_t i = 0; i < n; i++)
						hook = hook || buf[i] == 'w';
				if (hook)
					next = 0.5; /* a forced pass: fetch now */
			}
		}
	}
	ferry_err_clear(&err);
	if (ferry_engine_flush_status(e, &err))
		print_err("run", &err);
	printf("ferry run: stopped\n");
	rc = FERRY_EXIT_OK;
	goto out;
fail:
	print_err("run", &err);
out:
	ferry_httpd_stop(h);
	ferry_engine_close(e);
	ferry_metrics_free(d.metrics);
	free(secret);
	ferry_config_release(&cfg);
	if (wake_pipe[0] >= 0) {
		close(wake_pipe[0]);
		close(wake_pipe[1]);
		wake_pipe[0] = wake_pipe[1] = -1;
	}
	return rc;
}
