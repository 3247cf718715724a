/* The reconcile engine at scale, driven by tests/bench/reconcile.sh.
 *
 * A source that answers instantly: a driver served from memory (N VMs
 * named vm-00001 ..., ids id-00001 ..., one 1 MiB disk each on storage
 * "bench-ds", one NIC on network "bench-net"), registered under the
 * Provider type "ova" for this process only (the schema accepts only
 * Forklift's types). Its disks are the file given with -d, or, without -d,
 * none at all: disk_open then fails with "bench provider serves no data".
 * Everything else is the product: the real engine, journal, local target,
 * `ferry copy` workers and a real Git repository.
 *
 *   reconcile_bench [-n N] [-d FILE] [-f FERRY] [-r RUNS] [-t CMD] MODE CONFIG
 *
 *   settle    passes until nothing moves (as `ferry reconcile --once`)
 *   nochange  a cold pass (engine open + first, forced pass), then RUNS
 *             passes on the warm engine, which must move nothing
 *   start     warm passes until nothing moves, then CMD (a shell command
 *             that pushes a commit adding a plan), then one timed pass;
 *             then passes until nothing moves again
 *
 * Output: lines "bench KEY VALUE" for the script, and a line for people
 * before each. It checks correctness (exit 1), never time.
 *
 * Profiling: with FERRY_BENCH_PERF_CTL set to the control FIFO of
 * `perf record --control=fifo:FIFO -D -1`, perf samples the timed start
 * pass only (and, in nochange, the warm passes).
 */
#include "common/alloc.h"
#include "common/err.h"
#include "common/time.h"
#include "providers/driver.h"
#include "reconciler/config.h"
#include "reconciler/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define DISK_BYTES (1024 * 1024)

/* ---- the bench provider ----------------------------------------------- */

struct ferry_source {
	int unused;
};

static unsigned bench_nvms = 5000;
static const char *bench_data;	 /* the file every disk reads, or NULL */
static double bench_inv_seconds; /* spent building inventories */
static unsigned long bench_inv_calls, bench_disk_opens;

static int bench_open(struct ferry_source **out, const struct ferry_source_config *cfg,
		      struct ferry_err *err)
{
	(void)cfg;
	(void)err;
	*out = ferry_xcalloc(1, sizeof **out);
	return 0;
}

static int bench_inventory(struct ferry_source *s, struct ferry_inventory *inv,
			   struct ferry_findings *f, struct ferry_err *err)
{
	double t0 = ferry_monotonic();

	(void)s;
	(void)f;
	(void)err;
	memset(inv, 0, sizeof *inv);
	inv->vms = ferry_xcalloc(bench_nvms ? bench_nvms : 1, sizeof *inv->vms);
	inv->nvms = inv->cap = bench_nvms;
	for (unsigned i = 0; i < bench_nvms; i++) {
		struct ferry_vm *vm = &inv->vms[i];
		unsigned n = i + 1;

		vm->id = ferry_xasprintf("id-%05u", n);
		vm->name = ferry_xasprintf("vm-%05u", n);
		vm->cpus = 1;
		vm->cores_per_socket = 1;
		vm->memory_bytes = 1ull << 30;
		vm->firmware = ferry_xstrdup("bios");
		vm->power_state = ferry_xstrdup("Off");
		vm->source = ferry_xstrdup("bench");
		vm->disks = ferry_xcalloc(1, sizeof *vm->disks);
		vm->ndisks = 1;
		vm->disks[0] = (struct ferry_vm_disk){
			.id = ferry_xstrdup("disk-0"),
			.file = ferry_xasprintf("vm-%05u-disk-0", n),
			.format = ferry_xstrdup("raw"),
			.capacity = DISK_BYTES,
			.storage = ferry_xstrdup("bench-ds"),
			.bus = ferry_xstrdup("virtio"),
		};
		vm->nics = ferry_xcalloc(1, sizeof *vm->nics);
		vm->nnics = 1;
		vm->nics[0] = (struct ferry_vm_nic){
			.name = ferry_xstrdup("Network adapter 1"),
			.network = ferry_xstrdup("bench-net"),
			.mac = ferry_xasprintf("52:54:00:%02x:%02x:%02x", (n >> 16) & 0xff,
					       (n >> 8) & 0xff, n & 0xff),
			.model = ferry_xstrdup("virtio"),
		};
	}
	inv->networks = ferry_xcalloc(1, sizeof *inv->networks);
	inv->networks[0] = ferry_xstrdup("bench-net");
	inv->nnetworks = 1;
	inv->storages = ferry_xcalloc(1, sizeof *inv->storages);
	inv->storages[0] = ferry_xstrdup("bench-ds");
	inv->nstorages = 1;
	bench_inv_calls++;
	bench_inv_seconds += ferry_monotonic() - t0;
	return 0;
}

static int bench_disk_open(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
			   struct ferry_disk_access *a, struct ferry_err *err)
{
	(void)s;
	(void)vm;
	(void)i;
	if (!bench_data)
		return ferry_err_set(err, FERRY_E_UNSUPPORTED, "bench provider serves no data");
	bench_disk_opens++;
	memset(a, 0, sizeof *a);
	a->uri = ferry_xstrdup(bench_data);
	a->size = DISK_BYTES;
	return 0;
}

static void bench_disk_close(struct ferry_source *s, struct ferry_disk_access *a)
{
	(void)s;
	free(a->uri);
	memset(a, 0, sizeof *a);
}

static void bench_close(struct ferry_source *s)
{
	free(s);
}

static const struct ferry_source_ops bench_ops = {
	.type = "ova",
	.open = bench_open,
	.inventory = bench_inventory,
	.disk_open = bench_disk_open,
	.disk_close = bench_disk_close,
	.close = bench_close,
};

/* ---- measuring ------------------------------------------------------------ */

/* A field of /proc/self/status in KiB (VmHWM, VmRSS), or -1. */
static long proc_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t n = strlen(field);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static void report_memory(const char *when)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("memory %s: peak RSS (VmHWM) %.1f MiB, ru_maxrss %.1f MiB, RSS now %.1f MiB\n", when,
	       proc_kib("VmHWM") / 1024.0, ru.ru_maxrss / 1024.0, proc_kib("VmRSS") / 1024.0);
	printf("bench peak_rss_mib %.1f\n", proc_kib("VmHWM") / 1024.0);
	printf("bench rss_now_mib %.1f\n", proc_kib("VmRSS") / 1024.0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "enable" or "disable" to perf's control FIFO, when there is one. */
static void perf_ctl(const char *what)
{
	const char *path = getenv("FERRY_BENCH_PERF_CTL");
	FILE *f;

	if (!path || !*path || !(f = fopen(path, "w")))
		return;
	fprintf(f, "%s\n", what);
	fclose(f);
}

/* One pass, timed; exits on error. */
static double timed_pass(struct ferry_engine *e, bool force, struct ferry_pass_stats *st)
{
	struct ferry_err err = FERRY_ERR_INIT;
	double t0 = ferry_monotonic(), t;

	if (ferry_engine_pass(e, force, st, &err)) {
		fprintf(stderr, "reconcile_bench: pass: %s\n", err.msg);
		exit(1);
	}
	t = ferry_monotonic() - t0;
	if (!st->in_force) {
		fprintf(stderr, "reconcile_bench: no commit is in force\n");
		exit(1);
	}
	return t;
}

static void print_stats(const char *what, double seconds, const struct ferry_pass_stats *st)
{
	printf("%-22s %8.3f s  moved=%d workers=%zu active=%zu waiting=%zu completed=%zu "
	       "failed=%zu blocked=%zu\n",
	       what, seconds, st->moved, st->workers, st->active, st->waiting, st->completed,
	       st->failed, st->blocked);
}

/* Passes until nothing moves and no copy runs (`reconcile --once`);
 * returns the number of passes. */
static unsigned settle(struct ferry_engine *e, bool force, struct ferry_pass_stats *st)
{
	unsigned passes = 0;

	for (;;) {
		timed_pass(e, force, st);
		force = false;
		passes++;
		if (st->workers) {
			ferry_engine_wait(e, 1000, -1);
			continue;
		}
		if (!st->moved)
			return passes;
	}
}

static void flush(struct ferry_engine *e)
{
	struct ferry_err err = FERRY_ERR_INIT;

	if (ferry_engine_flush_status(e, &err)) {
		fprintf(stderr, "reconcile_bench: status: %s\n", err.msg);
		exit(1);
	}
}

/* ---- modes ---------------------------------------------------------------- */

static int mode_settle(const struct ferry_engine_opts *o)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_engine *e;
	struct ferry_pass_stats st;
	double t0 = ferry_monotonic(), t;
	unsigned passes;

	if (ferry_engine_open(&e, o, &err)) {
		fprintf(stderr, "reconcile_bench: %s\n", err.msg);
		return 1;
	}
	passes = settle(e, true, &st);
	flush(e);
	t = ferry_monotonic() - t0;
	ferry_engine_close(e);
	printf("settled in %.1f s, %u passes, %lu disks copied: %zu completed, %zu failed, %zu "
	       "blocked, %zu waiting\n",
	       t, passes, bench_disk_opens, st.completed, st.failed, st.blocked,
	       st.waiting + st.active);
	printf("bench settle_s %.3f\nbench settle_passes %u\nbench settle_copies %lu\n"
	       "bench settle_completed %zu\nbench settle_failed %zu\n",
	       t, passes, bench_disk_opens, st.completed, st.failed);
	return st.failed || st.blocked || st.active || st.waiting ? 1 : 0;
}

static int mode_nochange(const struct ferry_engine_opts *o, unsigned runs)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_engine *e;
	struct ferry_pass_stats st;
	double *t = ferry_xcalloc(runs ? runs : 1, sizeof *t);
	double t0 = ferry_monotonic(), topen, tpass, inv0;
	unsigned long calls0;
	int rc = 0;

	if (ferry_engine_open(&e, o, &err)) {
		fprintf(stderr, "reconcile_bench: %s\n", err.msg);
		free(t);
		return 1;
	}
	topen = ferry_monotonic() - t0;
	tpass = timed_pass(e, true, &st);
	print_stats("cold pass (forced)", tpass, &st);
	printf("cold: engine open %.3f s + first pass %.3f s = %.3f s\n", topen, tpass,
	       topen + tpass);
	printf("bench cold_s %.3f\nbench cold_open_s %.3f\nbench cold_pass_s %.3f\n", topen + tpass,
	       topen, tpass);
	printf("bench vms_completed %zu\n", st.completed);
	if (st.active || st.workers || st.failed) {
		fprintf(stderr, "reconcile_bench: the journal is not settled\n");
		rc = 1;
	}
	inv0 = bench_inv_seconds;
	calls0 = bench_inv_calls;
	perf_ctl("enable");
	for (unsigned r = 0; r < runs; r++) {
		char what[32];

		t[r] = timed_pass(e, false, &st);
		snprintf(what, sizeof what, "warm pass %u", r + 1);
		print_stats(what, t[r], &st);
		if (st.moved || st.workers) {
			fprintf(stderr, "reconcile_bench: a no-change pass moved something\n");
			rc = 1;
		}
	}
	perf_ctl("disable");
	qsort(t, runs, sizeof *t, cmp_double);
	if (runs) {
		printf("warm no-change pass: median %.4f s, min %.4f, max %.4f (%u runs)\n",
		       t[runs / 2], t[0], t[runs - 1], runs);
		printf("bench warm_median_s %.4f\nbench warm_min_s %.4f\nbench warm_max_s %.4f\n",
		       t[runs / 2], t[0], t[runs - 1]);
		printf("of which the bench provider's inventory: %.4f s a pass\n",
		       (bench_inv_seconds - inv0) / (double)(bench_inv_calls - calls0));
		printf("bench warm_inventory_s %.4f\n",
		       (bench_inv_seconds - inv0) / (double)(bench_inv_calls - calls0));
	}
	report_memory("after the no-change passes");
	if (bench_disk_opens) {
		fprintf(stderr, "reconcile_bench: a no-change pass opened disks\n");
		rc = 1;
	}
	ferry_engine_close(e);
	free(t);
	return rc;
}

static int mode_start(const struct ferry_engine_opts *o, const char *cmd)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_engine *e;
	struct ferry_pass_stats st, before;
	double t, t0;
	unsigned passes;
	size_t workers;
	int rc = 0;

	if (ferry_engine_open(&e, o, &err)) {
		fprintf(stderr, "reconcile_bench: %s\n", err.msg);
		return 1;
	}
	settle(e, true, &before);
	flush(e);
	if (cmd && system(cmd) != 0) {
		fprintf(stderr, "reconcile_bench: %s failed\n", cmd);
		ferry_engine_close(e);
		return 1;
	}
	perf_ctl("enable");
	t = timed_pass(e, false, &st);
	perf_ctl("disable");
	print_stats("start pass", t, &st);
	workers = st.workers;
	printf("bench start_s %.3f\nbench start_workers %zu\nbench start_active %zu\n", t,
	       st.workers, st.active);
	report_memory("after the start pass");
	/* the copies: not part of the figure, but they must finish */
	t0 = ferry_monotonic();
	passes = settle(e, false, &st);
	flush(e);
	t = ferry_monotonic() - t0;
	printf("then all copied and created in %.1f s more (%u passes): %zu completed, %zu "
	       "failed\n",
	       t, passes, st.completed, st.failed);
	printf("bench start_finish_s %.3f\nbench start_completed %zu\nbench start_failed %zu\n", t,
	       st.completed - before.completed, st.failed);
	if (st.failed || st.blocked || !workers)
		rc = 1;
	ferry_engine_close(e);
	return rc;
}

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	fputs("usage: reconcile_bench [-n VMS] [-d FILE] [-f FERRY] [-r RUNS] [-t CMD] "
	      "settle|nochange|start CONFIG\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct ferry_config cfg;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_engine_opts o = {.mode = FERRY_ENGINE_ACT};
	const char *cmd = NULL, *mode;
	unsigned runs = 10;
	int c, rc;

	while ((c = getopt(argc, argv, "n:d:f:r:t:")) != -1) {
		switch (c) {
		case 'n': bench_nvms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': bench_data = optarg; break;
		case 'f': o.ferry_path = optarg; break;
		case 'r': runs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': cmd = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || bench_nvms > 99999)
		usage();
	mode = argv[optind];
	memset(&cfg, 0, sizeof cfg);
	if (ferry_config_load(&cfg, argv[optind + 1], &err)) {
		fprintf(stderr, "reconcile_bench: %s\n", err.msg);
		return 1;
	}
	if (ferry_source_driver_register(&bench_ops)) {
		fprintf(stderr, "reconcile_bench: cannot register the bench driver\n");
		return 1;
	}
	o.cfg = &cfg;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "settle"))
		rc = mode_settle(&o);
	else if (!strcmp(mode, "nochange"))
		rc = mode_nochange(&o, runs);
	else if (!strcmp(mode, "start"))
		rc = mode_start(&o, cmd);
	else
		usage();
	ferry_config_release(&cfg);
	return rc;
}
