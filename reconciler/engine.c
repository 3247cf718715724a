#include "reconciler/engine.h"
#include "reconciler/forkserver.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/time.h"
#include "common/util.h"
#include "dataplane/changed.h"
#include "providers/driver.h"
#include "providers/nbdserver.h"
#include "providers/target.h"
#include "reconciler/itinerary.h"
#include "reconciler/journal.h"
#include "reconciler/metrics.h"
#include "reconciler/planstatus.h"
#include "reconciler/sources.h"
#include "reconciler/status.h"
#include "reconciler/sync.h"
#include "reconciler/targets.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* `ferry copy` workers run this much nicer than the engine: however many
 * copies are busy, passes, webhooks and /metrics keep their CPU. */
#define WORKER_NICE 10

/* How often copies the target runs are looked at (a pass each time). */
#define REMOTE_POLL_MS 2000

/* ---- state kept between passes ------------------------------------------ */

/* A source provider in use: its driver, an open session and the inventory
 * of the last pass. */
struct src {
	char *key; /* "namespace/name" */
	const struct ferry_source_ops *ops;
	struct ferry_source *s;
	struct ferry_inventory inv;
	char *error; /* why it cannot be used this pass, or NULL */
	bool seen;   /* used by a plan in the last pass */
	size_t n;    /* its index: its work directory is WORK/sN */
};

/* A target in use: ferry.ini's (key "") or a destination Provider's
 * ("namespace/name", a cluster given by url), opened on first use. */
struct tgt {
	char *key;
	const struct ferry_target_ops *ops;
	struct ferry_target *t;
	char *error; /* why it cannot be used (it is tried again next pass) */
	bool seen;   /* tried in this pass */
};

/* A copy of one disk: a `ferry copy` child process, or (remote) a copy the
 * target runs itself (copy_start), followed with copy_poll. */
struct worker {
	char *plan, *mig, *vm_id, *op_id;
	size_t disk;
	pid_t pid;
	int fd; /* its --progress-fd pipe, -1 once closed */
	char line[128];
	size_t linelen;
	uint64_t done, total;
	bool exited;
	int status;
	struct src *src;
	struct tgt *tgt; /* where it writes */
	struct ferry_disk_access acc;
	bool acc_open;
	char *out_path;			/* its -o json report */
	bool remote;			/* the target runs it: no pid, no pipe */
	struct ferry_nbd_server *relay; /* remote: what serves it the disk */
	bool forked;			/* a child of the fork server (e->fs), not of the engine */
};

/* A VM's line in a plan's status: its phase as the commit message shows
 * it ("CopyDisks 40%"). */
struct vm_line {
	char *id, *name, *phase;
};

static void vm_lines_free(struct vm_line *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].name);
		free(v[i].phase);
	}
	free(v);
}

/* What the last status commit of a plan said, and what the next will. */
struct plan_mem {
	char *key; /* "ns/name" */
	char *yaml;
	char *phase; /* the plan's phase */
	struct vm_line *vms;
	size_t nvms;
	bool dirty; /* yaml differs from what was committed */
	bool urgent;
	char *pending_yaml, *pending_md, *pending_phase;
	struct vm_line *pvms; /* the pending status's VMs */
	size_t np;
};

struct ferry_engine {
	struct ferry_engine_opts o;
	const struct ferry_config *cfg;
	struct ferry_git *git;
	struct ferry_journal *j;
	int lock;
	char *self;
	char *copier;		     /* ferry-copy beside self, or NULL: run `self copy` */
	struct ferry_forkserver *fs; /* started by the first copy; NULL: not (yet) */
	bool fs_failed;		     /* it could not start or died: spawn directly */
	char *work;		     /* DATA_DIR/work */
	unsigned relays;	     /* relays started (their files' numbers) */
	struct tgt **tgts;	     /* each allocated alone: plans point to them */
	size_t ntgts, tgts_cap;
	char *target_dir;
	struct ferry_model model;
	char model_sha[FERRY_SHA_HEX];
	bool have_model;
	char in_force[FERRY_SHA_HEX];
	struct src **srcs; /* each allocated alone: plans and workers point to them */
	size_t nsrcs, srcs_cap;
	struct worker *w;
	size_t nw, wcap;
	struct plan_mem *pm;
	size_t npm, pm_cap;
	struct ferry_status_batch batch;
	bool moved;
	bool txn; /* a round's journal transaction is open */
	struct deferred *def;
	size_t ndef, defcap;
	double pass_at; /* when the last pass began (ferry_monotonic) */
};

/* A VM whose next action waits for the journal writes leading to it to be
 * committed: it continues, from phase, in the pass's next round. */
struct deferred {
	struct pctx *c;
	const char *mig, *vm_id; /* the action's, valid for the whole pass */
	size_t vm;
	char phase[64];
	bool cutover;
};

/* ---- small helpers -------------------------------------------------------- */

/* The lean copy worker installed beside the ferry binary, or NULL. */
static char *copier_next_to(const char *self)
{
	const char *slash = strrchr(self, '/');
	char *p;

	if (!slash)
		return NULL;
	p = ferry_xasprintf("%.*s/ferry-copy", (int)(slash - self), self);
	if (access(p, X_OK)) {
		free(p);
		return NULL;
	}
	return p;
}

static char *plan_key(const struct ferry_plan *p)
{
	return ferry_xasprintf("%s/%s", p->obj.ns, p->obj.name);
}

static void say(struct ferry_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct ferry_engine *e, const char *fmt, ...)
{
	va_list ap;

	if (!e->o.verbose)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static bool stopping(const struct ferry_engine *e)
{
	return e->o.stop && *e->o.stop;
}

/* ---- open / close ----------------------------------------------------------- */

/* Where the target's workers reach a relay: [target] transfer_address,
 * else the pod's own address when ferry runs in one ($POD_IP, set from
 * status.podIP), and the local address the relay listens on. */
static int transfer_where(const struct ferry_engine *e, const char **host,
			  struct ferry_nbd_relay_opts *o, struct ferry_err *err)
{
	const struct ferry_config *c = e->cfg;
	const char *pod_ip = getenv("POD_IP");

	*host = c->target.transfer_address ? c->target.transfer_address
					   : (pod_ip && *pod_ip ? pod_ip : NULL);
	if (!*host)
		return ferry_err_set(
			err, FERRY_E_INVALID,
			"[target] transfer_address is not set in ferry.ini: the "
			"transfer Jobs read the source disks from ferry at that "
			"address (a host name or IP address the cluster's pods reach)");
	o->bind = c->target.transfer_bind;
	if (!o->bind)
		o->bind = ferry_ip_literal(*host) ? *host : "0.0.0.0";
	o->port_min = c->target.transfer_port_min;
	o->port_max = c->target.transfer_port_max;
	return 0;
}

/* The target of destination Provider dest (NULL: ferry.ini's own), opened
 * now if it is not yet; its error says why it cannot be used. */
static struct tgt *target_open(struct ferry_engine *e, const struct ferry_provider *dest)
{
	char *key = ferry_target_key(e->cfg, dest);
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_target_params tp;
	struct tgt *t = NULL;

	for (size_t i = 0; i < e->ntgts && !t; i++)
		if (!strcmp(e->tgts[i]->key, key))
			t = e->tgts[i];
	if (!t) {
		t = *FERRY_PUSH(e->tgts, e->ntgts, e->tgts_cap) = ferry_xcalloc(1, sizeof *t);
		t->key = key;
		key = NULL;
	}
	free(key);
	if (t->t || t->seen)
		return t; /* open, or failed this pass already */
	t->seen = true;
	free(t->error);
	t->error = NULL;
	if (ferry_target_params_load(&tp, e->cfg, dest, e->target_dir, &err)) {
		t->error = ferry_xstrdup(err.msg);
		return t;
	}
	if (!(t->ops = ferry_target_driver(tp.tc.type, &err)) ||
	    t->ops->open(&t->t, &tp.tc, &err)) {
		t->t = NULL;
		t->error = t->key[0]
				   ? ferry_xasprintf("destination Provider %s: %s", t->key, err.msg)
				   : ferry_xasprintf("target: %s", err.msg);
	} else if (!t->ops->copy_start != !t->ops->copy_poll ||
		   !t->ops->copy_start != !t->ops->copy_stop) {
		t->error = ferry_xasprintf("target %s: copy_start, copy_poll and copy_stop go "
					   "together (an internal error)",
					   tp.tc.type);
		t->ops->close(t->t);
		t->t = NULL;
	} else if (t->ops->copy_start) {
		/* its workers reach the source disks through relays */
		const char *host;
		struct ferry_nbd_relay_opts ro;

		if (transfer_where(e, &host, &ro, &err)) {
			t->error = ferry_xasprintf("target: %s", err.msg);
			t->ops->close(t->t);
			t->t = NULL;
		}
	}
	ferry_target_params_release(&tp);
	return t;
}

int ferry_engine_open(struct ferry_engine **out, const struct ferry_engine_opts *o,
		      struct ferry_err *err)
{
	struct ferry_engine *e = ferry_xcalloc(1, sizeof *e);
	const struct ferry_config *c = o->cfg;
	char *jpath = NULL;

	*out = NULL;
	e->o = *o;
	e->cfg = c;
	e->lock = -1;
	ferry_status_batch_init(&e->batch, c->repo.status_interval_ms);
	if (ferry_mkdirs(c->daemon.data_dir, 0700)) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", c->daemon.data_dir, strerror(errno));
		goto fail;
	}
	if (o->mode == FERRY_ENGINE_ACT && (e->lock = ferry_data_dir_lock(c, err)) < 0)
		goto fail;
	e->self = o->ferry_path ? ferry_xstrdup(o->ferry_path) : realpath("/proc/self/exe", NULL);
	if (!e->self) {
		ferry_err_set(err, FERRY_E_IO, "cannot find the ferry binary: %s", strerror(errno));
		goto fail;
	}
	e->copier = copier_next_to(e->self);
	e->work = ferry_path_join(c->daemon.data_dir, "work");
	if (ferry_mkdirs(e->work, 0700)) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", e->work, strerror(errno));
		goto fail;
	}
	if (o->mode == FERRY_ENGINE_ACT)
		ferry_nbd_reap_leftovers(e->work, "relay");
	jpath = ferry_path_join(c->daemon.data_dir, "journal.db");
	if (ferry_journal_open(&e->j, jpath, err))
		goto fail;
	e->target_dir = c->target.dir ? ferry_xstrdup(c->target.dir)
				      : ferry_path_join(c->daemon.data_dir, "target");
	/* the local target is there at once; a cluster is opened when a plan
	 * first needs it (and an error blocks its VMs, not the reconciler) */
	if (c->target.type != FERRY_TARGET_KUBEVIRT) {
		struct tgt *t = target_open(e, NULL);

		if (t->error) {
			ferry_err_set(err, FERRY_E_INVALID, "%s", t->error);
			goto fail;
		}
	}
	if (c->repo.url && (e->lock >= 0 ? ferry_git_open_config_locked(&e->git, c, err)
					 : ferry_git_open_config(&e->git, c, err)))
		goto fail;
	free(jpath);
	*out = e;
	return 0;
fail:
	free(jpath);
	ferry_engine_close(e);
	return -1;
}

/* Collect the exit status of worker w, which has ended or is ending. */
static void worker_reap(struct ferry_engine *e, struct worker *w)
{
	if (w->forked) {
		if (ferry_forkserver_wait(e->fs, w->pid, &w->status))
			w->status = 127 << 8; /* the server is gone: as exit 127 */
	} else {
		while (waitpid(w->pid, &w->status, 0) < 0 && errno == EINTR)
			;
	}
	w->exited = true;
}

static void worker_stop(struct ferry_engine *e, struct worker *w)
{
	if (!w->exited && w->pid > 0) {
		kill(w->pid, SIGTERM);
		worker_reap(e, w);
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

static void worker_release(struct ferry_engine *e, struct worker *w)
{
	worker_stop(e, w);
	ferry_nbd_server_stop(w->relay);
	if (w->acc_open)
		w->src->ops->disk_close(w->src->s, &w->acc);
	free(w->plan);
	free(w->mig);
	free(w->vm_id);
	free(w->op_id);
	free(w->out_path);
}

static void plan_mem_release(struct plan_mem *m)
{
	free(m->key);
	free(m->yaml);
	free(m->phase);
	vm_lines_free(m->vms, m->nvms);
	free(m->pending_yaml);
	free(m->pending_md);
	free(m->pending_phase);
	vm_lines_free(m->pvms, m->np);
}

void ferry_engine_close(struct ferry_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nw; i++)
		worker_release(e, &e->w[i]);
	free(e->w);
	ferry_forkserver_close(e->fs);
	for (size_t i = 0; i < e->nsrcs; i++) {
		if (e->srcs[i]->s)
			e->srcs[i]->ops->close(e->srcs[i]->s);
		ferry_inventory_release(&e->srcs[i]->inv);
		free(e->srcs[i]->key);
		free(e->srcs[i]->error);
		free(e->srcs[i]);
	}
	free(e->srcs);
	for (size_t i = 0; i < e->npm; i++)
		plan_mem_release(&e->pm[i]);
	free(e->pm);
	for (size_t i = 0; i < e->ntgts; i++) {
		if (e->tgts[i]->t)
			e->tgts[i]->ops->close(e->tgts[i]->t);
		free(e->tgts[i]->key);
		free(e->tgts[i]->error);
		free(e->tgts[i]);
	}
	free(e->tgts);
	ferry_model_release(&e->model);
	ferry_git_close(e->git);
	ferry_journal_close(e->j);
	if (e->lock >= 0)
		close(e->lock);
	free(e->self);
	free(e->copier);
	free(e->def);
	free(e->work);
	free(e->target_dir);
	free(e);
}

const char *ferry_engine_in_force(const struct ferry_engine *e)
{
	return e->in_force;
}

/* ---- sources -------------------------------------------------------------- */

/* The source of plan p (opened, inventory read this pass), or NULL with
 * *why when it cannot be used. */
static struct src *source_for(struct ferry_engine *e, const struct ferry_model *m,
			      const struct ferry_plan *p, const char **why)
{
	const struct ferry_ref *r = &p->spec.provider.source;
	const char *ns = r->namespace_.v ? r->namespace_.v : p->obj.ns;
	const struct ferry_provider *prov;
	char *key = ferry_xasprintf("%s/%s", ns, r->name.v ? r->name.v : "");
	struct ferry_err err = FERRY_ERR_INIT;
	struct src *s = NULL;

	for (size_t i = 0; i < e->nsrcs; i++)
		if (!strcmp(e->srcs[i]->key, key))
			s = e->srcs[i];
	if (!s) {
		s = *FERRY_PUSH(e->srcs, e->nsrcs, e->srcs_cap) = ferry_xcalloc(1, sizeof *s);
		s->n = e->nsrcs - 1;
		s->key = key;
		key = NULL;
	}
	free(key);
	if (s->seen) {
		*why = s->error;
		return s->error ? NULL : s;
	}
	s->seen = true;
	free(s->error);
	s->error = NULL;
	prov = (const struct ferry_provider *)ferry_model_find(m, FERRY_KIND_PROVIDER, ns,
							       r->name.v ? r->name.v : "");
	if (!prov) {
		s->error = ferry_xasprintf("source Provider %s does not exist", s->key);
		goto out;
	}
	if (!s->s) {
		char *wd = ferry_xasprintf("%s/s%zu", e->work, s->n);
		struct ferry_source_params sp;

		/* the secret is read at every open (a rotated password is
		 * picked up) and wiped as soon as the driver has copied it */
		if (ferry_source_params_load(&sp, e->cfg, prov, wd, &err) ||
		    ferry_source_params_load_hosts(&sp, e->cfg, m, &err)) {
			s->error = ferry_xasprintf("source %s", err.msg);
			free(wd);
			goto out;
		}
		if (ferry_mkdirs(wd, 0700) || !(s->ops = ferry_source_driver(sp.sc.type, &err)) ||
		    s->ops->open(&s->s, &sp.sc, &err)) {
			s->error = ferry_xasprintf("source Provider %s: %s", s->key,
						   err.msg[0] ? err.msg : strerror(errno));
			s->s = NULL;
			ferry_source_params_release(&sp);
			free(wd);
			goto out;
		}
		ferry_source_params_release(&sp);
		free(wd);
	}
	{
		struct ferry_findings f = FERRY_FINDINGS_INIT;

		/* no copy may be reading a disk of the old inventory's VMs
		 * through a pointer: workers keep their own strings */
		ferry_inventory_release(&s->inv);
		if (s->ops->inventory(s->s, &s->inv, &f, &err))
			s->error = ferry_xasprintf("source Provider %s: inventory: %s", s->key,
						   err.msg);
		else
			ferry_inventory_index(&s->inv);
		ferry_findings_release(&f);
	}
out:
	*why = s->error;
	return s->error ? NULL : s;
}

/* ---- journal rows ------------------------------------------------------- */

struct rows {
	struct ferry_diff_row *v;
	size_t n, cap;
	char **errors; /* the journal's error of each row */
	char **started, **ended;
	size_t ecap, scap, ncap;
	char **owned; /* the strings the rows point to */
	size_t nowned, owned_cap;
};

static const char *own(struct rows *r, char *s)
{
	*FERRY_PUSH(r->owned, r->nowned, r->owned_cap) = s;
	return s;
}

static int collect_row(const struct ferry_jkey *k, const struct ferry_jvm *vm, void *arg)
{
	struct rows *r = arg;
	struct ferry_diff_row *row = FERRY_PUSH(r->v, r->n, r->cap);
	size_t n = r->n - 1;

	memset(row, 0, sizeof *row);
	row->migration = own(r, ferry_xstrdup(k->migration));
	row->vm_id = own(r, ferry_xstrdup(k->vm_id));
	row->vm_name = own(r, ferry_xstrdup(vm->vm_name));
	row->phase = own(r, ferry_xstrdup(vm->phase));
	{
		size_t en = n, sn = n, dn = n;
		*FERRY_PUSH(r->errors, en, r->ecap) = ferry_xstrdup(vm->error);
		*FERRY_PUSH(r->started, sn, r->scap) = ferry_xstrdup(vm->started);
		*FERRY_PUSH(r->ended, dn, r->ncap) = ferry_xstrdup(vm->ended);
	}
	return 0;
}

static void rows_release(struct rows *r)
{
	for (size_t i = 0; i < r->nowned; i++)
		free(r->owned[i]);
	free(r->owned);
	for (size_t i = 0; i < r->n; i++) {
		free(r->errors[i]);
		free(r->started[i]);
		free(r->ended[i]);
	}
	free(r->v);
	free(r->errors);
	free(r->started);
	free(r->ended);
	memset(r, 0, sizeof *r);
}

/* Record that an operation starts (nothing changes when it is known). */
static int op_begin(struct ferry_journal *j, const struct ferry_jkey *k, const char *id,
		    const char *kind, struct ferry_err *err)
{
	struct ferry_jop prior;

	return ferry_journal_op_begin(j, k, id, kind, &prior, err);
}

static void op_id(const char *plan, const char *mig, const char *vm_id, const char *kind,
		  char out[32])
{
	struct ferry_jkey k = {plan, mig, vm_id};

	ferry_journal_op_id(&k, kind, 0, out);
}

/* The operation that copies disk d of a VM in round n (cold: 0; warm: the
 * snapshot's round, 0 the initial): its kind and id. */
static void copy_op(const char *plan, const char *mig, const char *vm_id, unsigned n, size_t d,
		    char kind[48], char id[32])
{
	if (n)
		snprintf(kind, 48, "copy-disk-%zu-r%u", d, n);
	else
		snprintf(kind, 48, "copy-disk-%zu", d);
	op_id(plan, mig, vm_id, kind, id);
}

/* ---- one plan in one pass ----------------------------------------------- */

struct pctx {
	const struct ferry_plan *plan;
	const struct ferry_migration *mig;
	char *key; /* "ns/name" */
	char *provider;
	struct src *src;
	struct tgt *tgt; /* where its VMs go (its error blocks them) */
	struct ferry_run_vm *vms;
	size_t nvms;
	struct rows rows;
	bool archive_done;
};

static void pctx_release(struct pctx *c)
{
	for (size_t i = 0; i < c->nvms; i++)
		ferry_run_vm_release(&c->vms[i]);
	free(c->vms);
	rows_release(&c->rows);
	free(c->key);
	free(c->provider);
	memset(c, 0, sizeof *c);
}

/* Gather what the diff needs for plan p; false when the plan has nothing to
 * do with this pass (no Migration and no history). */
/* ferry_journal_each_op's callback for pctx_load: the ops come in the
 * rows' order, (migration, vm_id), so one cursor walks both. */
struct op_merge {
	struct ferry_engine *e;
	struct pctx *c;
	size_t i; /* the first row not before the op */
};

static int merge_op(const struct ferry_jkey *k, const char *kind, const struct ferry_jop *op,
		    void *arg)
{
	struct op_merge *om = arg;
	struct rows *rows = &om->c->rows;
	struct ferry_diff_row *row;
	int cmp = -1;

	for (; om->i < rows->n; om->i++) {
		row = &rows->v[om->i];
		cmp = strcmp(row->migration, k->migration);
		if (!cmp)
			cmp = strcmp(row->vm_id, k->vm_id);
		if (cmp >= 0)
			break;
	}
	if (cmp || op->state != FERRY_OP_DONE)
		return 0; /* an op of a VM without a row (an archive), or unfinished */
	if (!strcmp(kind, "mapping")) {
		row->hash = own(rows, ferry_xstrdup(op->result));
	} else if (!strcmp(kind, "create-vm") && !strcmp(row->phase, "Completed")) {
		/* observe: is the migrated VM still there, as ferry made it?
		 * The result is "ns/name" and, since targets give digests,
		 * " sha256:HEX" of the object when it was created. */
		char *where = ferry_xstrdup(op->result), *slash = strchr(where, '/');
		char *made = strstr(where, " sha256:"), now[FERRY_TARGET_DIGEST];
		bool exists = true;

		if (made) {
			*made = '\0';
			made += 8;
		}
		if (slash) {
			*slash = '\0';
			const struct tgt *tg = om->c->tgt;

			if (tg->t &&
			    !tg->ops->vm_exists(tg->t, where, slash + 1, &exists, now, NULL)) {
				row->target_missing = !exists;
				row->target_changed = exists && made && now[0] && strcmp(made, now);
			}
		}
		free(where);
	}
	return 0;
}

static int pctx_load(struct ferry_engine *e, const struct ferry_model *m,
		     const struct ferry_plan *p, struct pctx *c, bool *relevant,
		     struct ferry_err *err)
{
	const struct ferry_ref *r = &p->spec.provider.source;
	const char *why = NULL;

	memset(c, 0, sizeof *c);
	c->plan = p;
	c->key = plan_key(p);
	c->mig = ferry_plan_migration(m, p);
	c->provider = ferry_xasprintf("%s/%s", r->namespace_.v ? r->namespace_.v : p->obj.ns,
				      r->name.v ? r->name.v : "");
	if (ferry_journal_each_vm(e->j, c->key, NULL, collect_row, &c->rows, err))
		return -1;
	*relevant = c->mig || c->rows.n;
	if (!*relevant)
		return 0;
	{
		const struct ferry_ref *d = &p->spec.provider.destination;
		const struct ferry_provider *dest =
			d->name.v
				? (const struct ferry_provider *)ferry_model_find(
					  m, FERRY_KIND_PROVIDER,
					  d->namespace_.v ? d->namespace_.v : p->obj.ns, d->name.v)
				: NULL;

		c->tgt = target_open(e, dest);
	}
	{
		struct op_merge om = {e, c, 0};

		if (ferry_journal_each_op(e->j, c->key, merge_op, &om, err))
			return -1;
	}
	{
		char id[32];
		struct ferry_jop op;

		op_id(c->key, c->mig ? c->mig->obj.name : "", "", "archive", id);
		c->archive_done =
			!ferry_journal_op(e->j, id, &op, NULL) && op.state == FERRY_OP_DONE;
	}
	if (c->mig || c->rows.n) {
		bool power;

		c->src = source_for(e, m, p, &why);
		/* the power phases run for a source that can report power */
		power = c->src && (c->src->ops->power_state || c->src->ops->power_off);
		c->nvms = p->spec.vms.len;
		c->vms = ferry_xcalloc(c->nvms ? c->nvms : 1, sizeof *c->vms);
		for (size_t i = 0; i < c->nvms; i++) {
			ferry_resolve_vm(m, p, i, c->src ? &c->src->inv : NULL, power, &c->vms[i]);
			if ((!c->src && why) || c->tgt->error) {
				free(c->vms[i].problem);
				c->vms[i].problem =
					ferry_xstrdup(c->src || !why ? c->tgt->error : why);
			}
		}
	}
	return 0;
}

static void pctx_diff(const struct pctx *c, struct ferry_actions *out)
{
	struct ferry_diff_plan dp = {
		.plan = c->plan,
		.mig = c->mig,
		.provider = c->provider,
		.vms = c->vms,
		.nvms = c->nvms,
		.rows = c->rows.v,
		.nrows = c->rows.n,
		.archive_done = c->archive_done,
	};

	ferry_diff_plan(&dp, (int64_t)time(NULL), out);
}

static void limits_of(const struct ferry_config *cfg, struct ferry_sched_limit **out, size_t *n)
{
	*n = cfg->limits.nproviders;
	*out = ferry_xcalloc(*n ? *n : 1, sizeof **out);
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = (struct ferry_sched_limit){cfg->limits.providers[i].provider,
						       cfg->limits.providers[i].disks};
}

/* ---- handlers ----------------------------------------------------------------- */

/* A handler's outcome. H_DEFER: the action it would take must not run
 * before the journal writes leading to it are on disk; the VM resumes in
 * the pass's next round, after one commit for every VM of this round. */
enum hres { H_DONE, H_WAIT, H_FAIL, H_DEFER };

struct vctx {
	struct ferry_engine *e;
	struct pctx *p;
	const struct ferry_run_vm *v;
	const char *mig;
	struct ferry_jkey k;
	uint64_t w0; /* journal writes when this VM's turn in the round began */
	/* the VM continues after a deferral in this pass: an operation it
	 * finds started was begun by this pass (not before a restart) */
	bool again;
	bool cutover; /* warm: the Migration's cutover time has passed */
	char error[FERRY_ERR_MSG_MAX];
};

/* Call operation fn of the target of x's plan. */
#define TARGET(x, fn, ...) ((x)->p->tgt->ops->fn((x)->p->tgt->t, __VA_ARGS__))

/* Is every journal write this VM made so far committed (so an action may
 * follow it)? Outside a round each write commits on its own. */
static bool durable(const struct vctx *x)
{
	return !x->e->txn || ferry_journal_writes(x->e->j) == x->w0;
}

/* Commit the round so far, for an action that cannot wait for the next
 * round (a rare one, such as deleting a failed VM's target objects). */
static int flush(struct vctx *x, struct ferry_err *err)
{
	struct ferry_engine *e = x->e;

	if (!e->txn)
		return 0;
	if (ferry_journal_commit(e->j, err))
		return -1;
	if (ferry_journal_begin(e->j, err)) {
		e->txn = false;
		return -1;
	}
	x->w0 = ferry_journal_writes(e->j);
	return 0;
}

static enum hres fail(struct vctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static enum hres fail(struct vctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->error, sizeof x->error, fmt, ap);
	va_end(ap);
	return H_FAIL;
}

static enum hres h_next(struct vctx *x)
{
	(void)x;
	return H_DONE;
}

static enum hres h_hook(struct vctx *x)
{
	return fail(x, "hooks are not built yet: remove the plan's hooks for this VM to migrate "
		       "it");
}

/* The source VM's power state now: the driver's answer when it can give
 * one, else the inventory's of this pass. Caller frees. */
static char *power_now(struct vctx *x, struct ferry_err *err)
{
	const struct src *s = x->p->src;
	char *state = NULL;

	if (s->ops->power_state) {
		if (s->ops->power_state(s->s, x->v->src, &state, err))
			return NULL;
		return state;
	}
	return ferry_xstrdup(x->v->src->power_state ? x->v->src->power_state : "");
}

/* StorePowerState: what the source VM was before ferry touched it, once
 * (a repeat after a crash, or after PowerOffSource, keeps the first). */
static enum hres h_store_power(struct vctx *x)
{
	struct ferry_engine *e = x->e;
	struct ferry_err err = FERRY_ERR_INIT;
	char id[32], *state;
	struct ferry_jop op;

	if (!x->p->src || !x->v->src)
		return fail(x, "the VM is no longer in the source's inventory");
	op_id(x->k.plan, x->k.migration, x->k.vm_id, "power-state", id);
	if (ferry_journal_op(e->j, id, &op, &err))
		return fail(x, "journal: %s", err.msg);
	if (op.state == FERRY_OP_DONE)
		return H_DONE;
	if (!(state = power_now(x, &err))) {
		if (ferry_err_retryable(err.code)) {
			ferry_warn("%s %s: reading the power state: %s (trying again)", x->k.plan,
				   x->v->name, err.msg);
			return H_WAIT;
		}
		return fail(x, "reading the source VM's power state: %s", err.msg);
	}
	if (op_begin(e->j, &x->k, id, "power-state", &err) ||
	    ferry_journal_op_end(e->j, id, true, state, &err)) {
		free(state);
		return fail(x, "journal: %s", err.msg);
	}
	say(e, "%s %s: the source VM was %s", x->k.plan, x->v->name, state);
	free(state);
	return H_DONE;
}

/* The power state StorePowerState recorded: 1 on, 0 not on, -1 none
 * recorded (the source cannot report power, or the journal cannot say). */
static int stored_power_on(const struct vctx *x)
{
	char id[32];
	struct ferry_jop op;

	op_id(x->k.plan, x->k.migration, x->k.vm_id, "power-state", id);
	if (ferry_journal_op(x->e->j, id, &op, NULL) || op.state != FERRY_OP_DONE)
		return -1;
	return !strcmp(op.result, "On");
}

/* Whether the target VM runs: as the plan's targetPowerState says (on,
 * off), else as the source was before ferry powered it off (resolve reads
 * the inventory of this pass, which by now says Off). */
static bool target_running(const struct vctx *x)
{
	const struct ferry_plan_vm *pvm = x->v->pvm;
	const char *want = pvm->target_power_state.v ? pvm->target_power_state.v
						     : x->p->plan->spec.target_power_state.v;
	int stored;

	if (want && (!strcmp(want, "on") || !strcmp(want, "off")))
		return x->v->tvm.running;
	stored = stored_power_on(x);
	return stored < 0 ? x->v->tvm.running : stored == 1;
}

/* The result of a power-off operation whose guest was asked to shut down
 * (then WaitForPowerOff powers the VM off when the guest takes too long). */
#define GUEST_ASKED "guest asked"

/* PowerOffSource: the guest is asked to shut down (WaitForPowerOff then
 * waits, and powers the VM off after [limits] guest_shutdown_timeout), or,
 * when it cannot be asked, the VM is powered off. Nothing when it is off. */
static enum hres h_power_off(struct vctx *x)
{
	struct ferry_engine *e = x->e;
	struct ferry_err err = FERRY_ERR_INIT;
	const struct src *s = x->p->src;
	const char *how = "Off";
	char id[32], *state;
	int rc;

	if (!s || !x->v->src)
		return fail(x, "the VM is no longer in the source's inventory");
	if (!s->ops->power_off) {
		/* a source that cannot power off can still give a VM that is off */
		if (!(state = power_now(x, &err)))
			return fail(x, "reading the source VM's power state: %s", err.msg);
		if (!strcmp(state, "Off")) {
			free(state);
			return H_DONE;
		}
		fail(x,
		     "the source VM is %s and the %s provider cannot power VMs off: power it "
		     "off at the source, then start a new Migration",
		     state[0] ? state : "not off", s->ops->type);
		free(state);
		return H_FAIL;
	}
	op_id(x->k.plan, x->k.migration, x->k.vm_id, "power-off", id);
	if (op_begin(e->j, &x->k, id, "power-off", &err))
		return fail(x, "journal: %s", err.msg);
	if (!durable(x))
		return H_DEFER; /* powered off once the journal says it starts */
	rc = -1;
	if (s->ops->guest_shutdown) {
		if (!(rc = s->ops->guest_shutdown(s->s, x->v->src, &err)))
			how = GUEST_ASKED;
		else if (err.code == FERRY_E_UNSUPPORTED)
			ferry_info("%s %s: %s; powering it off", x->k.plan, x->v->name, err.msg);
	}
	if (rc && (!s->ops->guest_shutdown || err.code == FERRY_E_UNSUPPORTED))
		rc = s->ops->power_off(
			s->s, x->v->src,
			s->ops->guest_shutdown ? 0 : e->cfg->limits.guest_shutdown_ms / 1000, &err);
	if (rc) {
		if (ferry_err_retryable(err.code)) {
			ferry_warn("%s %s: powering the source VM off: %s (trying again)",
				   x->k.plan, x->v->name, err.msg);
			return H_WAIT;
		}
		ferry_journal_op_end(e->j, id, false, err.msg, NULL);
		return fail(x, "powering the source VM off: %s", err.msg);
	}
	if (ferry_journal_op_end(e->j, id, true, how, &err))
		return fail(x, "journal: %s", err.msg);
	say(e, "%s %s: %s", x->k.plan, x->v->name,
	    strcmp(how, GUEST_ASKED) ? "the source VM is off" : "the guest was asked to shut down");
	return H_DONE;
}

/* WaitForPowerOff: done once the source says Off; until then the next pass
 * asks again, and once the guest has had guest_shutdown_timeout since it
 * was asked, the VM is powered off. */
static enum hres h_wait_power_off(struct vctx *x)
{
	struct ferry_engine *e = x->e;
	const struct src *s = x->p->src;
	struct ferry_err err = FERRY_ERR_INIT;
	char id[32], *state, *how = NULL;
	int64_t asked = 0;
	bool off;

	if (!s || !x->v->src)
		return fail(x, "the VM is no longer in the source's inventory");
	if (!(state = power_now(x, &err))) {
		if (ferry_err_retryable(err.code))
			return H_WAIT;
		return fail(x, "reading the source VM's power state: %s", err.msg);
	}
	off = !strcmp(state, "Off");
	free(state);
	if (off)
		return H_DONE;
	op_id(x->k.plan, x->k.migration, x->k.vm_id, "power-off", id);
	if (ferry_journal_op_detail(e->j, id, &how, NULL, &asked, &err) &&
	    err.code != FERRY_E_NOT_FOUND)
		return fail(x, "journal: %s", err.msg);
	off = how && !strcmp(how, GUEST_ASKED) && s->ops->power_off &&
	      time(NULL) - asked >= (int64_t)(e->cfg->limits.guest_shutdown_ms / 1000);
	free(how);
	if (!off)
		return H_WAIT;
	ferry_warn("%s %s: the source VM is still on %u s after its guest was asked to shut down; "
		   "powering it off",
		   x->k.plan, x->v->name, e->cfg->limits.guest_shutdown_ms / 1000);
	if (s->ops->power_off(s->s, x->v->src, 0, &err)) {
		if (ferry_err_retryable(err.code))
			return H_WAIT;
		return fail(x, "powering the source VM off: %s", err.msg);
	}
	say(e, "%s %s: the source VM was powered off", x->k.plan, x->v->name);
	return H_DONE;
}

/* ---- warm: snapshots and precopy rounds ----------------------------------
 *
 * Round n copies what changed between snapshots n-1 and n (round 0: what
 * snapshot 0 holds). Journal operations, per VM of a run:
 *   snapshot-N         taken; result: its id, then each disk's change id
 *   copy-disk-D(-rN)   disk D's copy of round N
 *   copied-N           every disk of round N is copied
 *   snapshot-remove-N  snapshot N is removed
 * Snapshots are named by their operation id, so one taken before a crash is
 * found again. At most one snapshot of ferry's exists at a time: the one
 * being copied (Forklift removes the previous before taking the next). */

/* Forklift stops a warm migration at 28 snapshots ("warm import retry
 * limit reached"); vSphere degrades with long chains. */
#define MAX_SNAPSHOTS 28

static void round_op(const struct ferry_jkey *k, const char *what, unsigned n, char kind[32],
		     char id[32])
{
	snprintf(kind, 32, "%s-%u", what, n);
	op_id(k->plan, k->migration, k->vm_id, kind, id);
}

/* The latest round of a VM: the highest n whose snapshot operation was
 * begun (*op its state), or -1. */
static int round_now(struct ferry_engine *e, const struct ferry_jkey *k, struct ferry_jop *op)
{
	int n = -1;

	for (unsigned i = 0; i <= MAX_SNAPSHOTS; i++) {
		char kind[32], id[32];
		struct ferry_jop o;

		round_op(k, "snapshot", i, kind, id);
		if (ferry_journal_op(e->j, id, &o, NULL) || o.state == FERRY_OP_NONE)
			break;
		n = (int)i;
		if (op)
			*op = o;
	}
	return n;
}

static bool round_op_done(struct ferry_engine *e, const struct ferry_jkey *k, const char *what,
			  unsigned n)
{
	char kind[32], id[32];
	struct ferry_jop op;

	round_op(k, what, n, kind, id);
	return !ferry_journal_op(e->j, id, &op, NULL) && op.state == FERRY_OP_DONE;
}

/* What the journal says of snapshot n: its id and each of the VM's disks'
 * change ids (NULL where the snapshot gave none). */
struct snaprec {
	char *text; /* the operation's result, split in place */
	const char *id;
	const char **cids; /* by disk index of the VM */
	size_t ndisks;
};

static void snaprec_release(struct snaprec *r)
{
	free(r->text);
	free(r->cids);
	memset(r, 0, sizeof *r);
}

static int snaprec_load(struct ferry_engine *e, const struct ferry_jkey *k, unsigned n,
			size_t ndisks, struct snaprec *r, struct ferry_err *err)
{
	char kind[32], id[32], *p;

	memset(r, 0, sizeof *r);
	round_op(k, "snapshot", n, kind, id);
	if (ferry_journal_op_detail(e->j, id, &r->text, NULL, NULL, err))
		return -1;
	r->ndisks = ndisks;
	r->cids = ferry_xcalloc(ndisks ? ndisks : 1, sizeof *r->cids);
	r->id = p = r->text;
	for (size_t i = 0; p && (p = strchr(p, '\n')); i++) {
		*p++ = '\0';
		if (i < ndisks && strcmp(p, "-") && strncmp(p, "-\n", 2))
			r->cids[i] = p;
	}
	if (!r->id[0]) {
		snaprec_release(r);
		return ferry_err_set(err, FERRY_E_INTERNAL, "snapshot %u has no record", n);
	}
	return 0;
}

/* The record of a snapshot the source made: its id, then one line per
 * disk of vm (in the VM's order) with that disk's change id or "-". */
static char *snaprec_text(const struct ferry_vm *vm, const struct ferry_snapshot *sn)
{
	struct ferry_sb b = FERRY_SB_INIT;

	ferry_sb_adds(&b, sn->id);
	for (size_t i = 0; i < vm->ndisks; i++) {
		const char *cid = NULL;

		for (size_t d = 0; d < sn->ndisks; d++)
			if (sn->change_ids && sn->change_ids[d] &&
			    !strcmp(sn->disk_ids[d], vm->disks[i].id))
				cid = sn->change_ids[d];
		/* a change id is one line of text (a source that says otherwise
		 * has none usable) */
		ferry_sb_addf(&b, "\n%s", cid && cid[0] && !strchr(cid, '\n') ? cid : "-");
	}
	return ferry_sb_detach(&b);
}

/* The source of a warm VM, with what warm migration needs of it; NULL
 * (and x->error) when it cannot. */
static const struct src *warm_source(struct vctx *x)
{
	const struct src *s = x->p->src;
	const struct ferry_source_ops *o;

	if (!s || !x->v->src) {
		fail(x, "the VM is no longer in the source's inventory");
		return NULL;
	}
	o = s->ops;
	if (!o->snapshot_create || !o->snapshot_remove || !o->changed_areas ||
	    !o->disk_open_snapshot) {
		fail(x,
		     "warm migration needs a source with snapshots and changed block tracking; "
		     "the %s provider has neither (use a cold plan)",
		     o->type);
		return NULL;
	}
	return s;
}

/* CreateInitialSnapshot, CreateSnapshot, CreateFinalSnapshot: the next
 * round's snapshot (crash-consistent, quiesced when the guest tools run),
 * with every disk's change id. */
static enum hres h_snapshot(struct vctx *x)
{
	struct ferry_engine *e = x->e;
	struct ferry_err err = FERRY_ERR_INIT;
	const struct src *s = warm_source(x);
	struct ferry_snapshot sn = {0};
	struct ferry_jop op;
	char kind[32], id[32], *rec;
	int n;

	if (!s)
		return H_FAIL;
	n = round_now(e, &x->k, &op);
	if (n < 0)
		n = 0;
	else if (op.state == FERRY_OP_DONE && round_op_done(e, &x->k, "copied", (unsigned)n))
		n++; /* the latest is copied: a new round */
	else if (op.state == FERRY_OP_DONE)
		return H_DONE; /* taken before a restart */
	if (n >= MAX_SNAPSHOTS)
		return fail(x,
			    "warm import retry limit reached: %d snapshots taken, the most ferry "
			    "takes of a VM; set the Migration's cutover time before that",
			    n);
	round_op(&x->k, "snapshot", (unsigned)n, kind, id);
	if (op_begin(e->j, &x->k, id, kind, &err))
		return fail(x, "journal: %s", err.msg);
	if (!durable(x))
		return H_DEFER;
	if (s->ops->snapshot_create(s->s, x->v->src, id, &sn, &err)) {
		if (ferry_err_retryable(err.code)) {
			ferry_warn("%s %s: taking snapshot %d: %s (trying again)", x->k.plan,
				   x->v->name, n, err.msg);
			return H_WAIT;
		}
		ferry_journal_op_end(e->j, id, false, err.msg, NULL);
		return fail(x, "taking a snapshot of the source VM: %s", err.msg);
	}
	rec = snaprec_text(x->v->src, &sn);
	ferry_snapshot_release(&sn);
	if (ferry_journal_op_end(e->j, id, true, rec, &err)) {
		free(rec);
		return fail(x, "journal: %s", err.msg);
	}
	free(rec);
	say(e, "%s %s: snapshot %d taken", x->k.plan, x->v->name, n);
	return H_DONE;
}

/* StoreInitialSnapshotDeltas, StoreSnapshotDeltas, AddFinalCheckpoint:
 * every disk has a change id at the latest snapshot, else the next round
 * cannot ask what changed. */
static enum hres h_deltas(struct vctx *x)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct snaprec r;
	int n = round_now(x->e, &x->k, NULL);

	if (!x->v->src)
		return fail(x, "the VM is no longer in the source's inventory");
	if (n < 0 || snaprec_load(x->e, &x->k, (unsigned)n, x->v->src->ndisks, &r, &err))
		return fail(x, "no snapshot recorded: %s", n < 0 ? "none taken" : err.msg);
	for (size_t i = 0; i < r.ndisks; i++) {
		if (!r.cids[i]) {
			fail(x,
			     "disk %s has no change id at snapshot %s: changed block tracking is "
			     "off for that disk (enable it on every disk, or use a cold plan)",
			     x->v->src->disks[i].id, r.id);
			snaprec_release(&r);
			return H_FAIL;
		}
	}
	snaprec_release(&r);
	return H_DONE;
}

/* Remove ferry's latest snapshot of VM vm (key k), unless it is removed
 * already. A snapshot that is gone counts as removed, so no journal write
 * needs to come first. */
static int snapshot_drop(struct ferry_engine *e, const struct src *s, const struct ferry_jkey *k,
			 const struct ferry_vm *vm, struct ferry_err *err)
{
	struct ferry_jop op;
	struct snaprec r;
	char kind[32], id[32];
	int n = round_now(e, k, &op), rc;

	if (n < 0 || op.state != FERRY_OP_DONE ||
	    round_op_done(e, k, "snapshot-remove", (unsigned)n))
		return 0;
	round_op(k, "snapshot-remove", (unsigned)n, kind, id);
	if (snaprec_load(e, k, (unsigned)n, vm->ndisks, &r, err) ||
	    op_begin(e->j, k, id, kind, err))
		return -1;
	rc = s->ops->snapshot_remove(s->s, vm, r.id, err);
	snaprec_release(&r);
	if (rc)
		return -1;
	return ferry_journal_op_end(e->j, id, true, "removed", err);
}

/* RemovePreviousSnapshot, RemovePenultimateSnapshot, RemoveFinalSnapshot:
 * the copied snapshot goes before the next is taken (and the last at the
 * end). */
static enum hres h_snapshot_remove(struct vctx *x)
{
	struct ferry_err err = FERRY_ERR_INIT;
	const struct src *s = warm_source(x);

	if (!s)
		return H_FAIL;
	if (snapshot_drop(x->e, s, &x->k, x->v->src, &err)) {
		if (ferry_err_retryable(err.code)) {
			ferry_warn("%s %s: removing a snapshot: %s (trying again)", x->k.plan,
				   x->v->name, err.msg);
			return H_WAIT;
		}
		return fail(x, "removing the source VM's snapshot: %s", err.msg);
	}
	return H_DONE;
}

/* A warm VM that failed or was canceled: ferry's snapshot is removed (it
 * would grow on the source); best effort, archive tries again. */
static void warm_cleanup(struct ferry_engine *e, const struct pctx *c, const struct ferry_jkey *k,
			 const struct ferry_vm *vm)
{
	struct ferry_err err = FERRY_ERR_INIT;

	if (!c->src || !vm || !c->src->ops->snapshot_remove)
		return;
	if (snapshot_drop(e, c->src, k, vm, &err))
		ferry_warn("%s %s: removing ferry's snapshot of the source VM: %s", k->plan,
			   vm->name, err.msg);
}

/* CopyingPaused: the next round waits for the precopy interval, counted
 * from when the round's snapshot was asked for; the cutover does not. */
static enum hres h_paused(struct vctx *x)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char kind[32], id[32], *res;
	int64_t started = 0;
	int n;

	if (x->cutover)
		return H_DONE;
	if ((n = round_now(x->e, &x->k, NULL)) < 0)
		return H_DONE;
	round_op(&x->k, "snapshot", (unsigned)n, kind, id);
	if (ferry_journal_op_detail(x->e->j, id, &res, &started, NULL, &err))
		return fail(x, "journal: %s", err.msg);
	free(res);
	return time(NULL) - started >= (int64_t)(x->e->cfg->limits.precopy_interval_ms / 1000)
		       ? H_DONE
		       : H_WAIT;
}

static enum hres h_convert(struct vctx *x)
{
	return fail(x, "guest conversion (virt-v2v) is not built yet; set the plan's "
		       "skipGuestConversion: true to migrate the disks as they are");
}

static enum hres h_create_volumes(struct vctx *x)
{
	struct ferry_err err = FERRY_ERR_INIT;

	if (!durable(x))
		return H_DEFER;
	for (size_t i = 0; i < x->v->tvm.ndisks; i++) {
		char *uri = NULL;

		if (TARGET(x, disk_create, &x->v->tvm, i, &uri, &err))
			return fail(x, "creating volume %s: %s", x->v->tvm.disks[i].name, err.msg);
		free(uri);
	}
	return H_DONE;
}

static struct worker *find_worker(struct ferry_engine *e, const char *plan, const char *mig,
				  const char *vm_id, size_t disk)
{
	for (size_t i = 0; i < e->nw; i++)
		if (e->w[i].disk == disk && !strcmp(e->w[i].vm_id, vm_id) &&
		    !strcmp(e->w[i].plan, plan) && !strcmp(e->w[i].mig, mig))
			return &e->w[i];
	return NULL;
}

static void drop_worker(struct ferry_engine *e, struct worker *w)
{
	size_t i = (size_t)(w - e->w);

	worker_release(e, w);
	memmove(&e->w[i], &e->w[i + 1], (e->nw - i - 1) * sizeof *w);
	e->nw--;
}

/* Start a copy worker through the fork server (started on first use), or
 * return -1 when there is none: the caller then spawns it itself. */
static pid_t spawn_forked(struct ferry_engine *e, char *const argv[],
			  const struct ferry_spawn_io *io)
{
	pid_t pid;

	if (e->fs_failed)
		return -1;
	if (!e->fs && !(e->fs = ferry_forkserver_start(e->copier, WORKER_NICE))) {
		ferry_warn("cannot start the copy fork server %s: %s (starting each copy alone)",
			   e->copier, strerror(errno));
		e->fs_failed = true;
		return -1;
	}
	pid = ferry_forkserver_spawn(e->fs, argv, io);
	if (pid < 0 && !ferry_forkserver_alive(e->fs)) {
		ferry_warn("the copy fork server failed: %s (starting each copy alone)",
			   strerror(errno));
		e->fs_failed = true; /* its workers still report through it */
	}
	return pid;
}

/* What a warm round copies of a disk: the disk at a snapshot, only the
 * areas a file lists. */
struct warm_copy {
	const char *snapshot; /* its id */
	char *areas;	      /* the `ferry copy --changed-areas` file */
	char *json;	      /* what it holds (the caller frees it) */
	uint64_t bytes;	      /* what the areas add up to */
};

/* Start `ferry copy` for disk i (wc: of a warm round, or NULL). */
static int spawn_copy(struct vctx *x, size_t i, const char *opid, const struct warm_copy *wc,
		      struct ferry_err *err)
{
	struct ferry_engine *e = x->e;
	struct src *s = x->p->src;
	struct worker w = {0};
	char *dst = NULL, *ckpt = NULL, *srcid = NULL, *log = NULL;
	int pfd[2] = {-1, -1};
	pid_t pid;

	if (!s)
		return ferry_err_set(err, FERRY_E_RETRYABLE, "the source is not available");
	if (wc ? s->ops->disk_open_snapshot(s->s, x->v->src, i, wc->snapshot, &w.acc, err)
	       : s->ops->disk_open(s->s, x->v->src, i, &w.acc, err))
		return -1;
	w.acc_open = true;
	w.src = s;
	w.tgt = x->p->tgt;
	if (TARGET(x, disk_create, &x->v->tvm, i, &dst, err))
		goto fail;
	if (pipe2(pfd, O_CLOEXEC)) {
		ferry_err_set(err, FERRY_E_IO, "pipe: %s", strerror(errno));
		goto fail;
	}
	ckpt = ferry_xasprintf("%s/%s.ckpt", e->work, opid);
	w.out_path = ferry_xasprintf("%s/%s.json", e->work, opid);
	log = ferry_xasprintf("%s/%s.log", e->work, opid);
	srcid = ferry_xasprintf("%s:%s:%s", x->p->provider, x->v->src->id, x->v->src->disks[i].id);
	{
		char *argv[16] = {"ferry",	 "copy", "--checkpoint",  ckpt,
				  "--source-id", srcid,	 "--progress-fd", "3",
				  "-o",		 "json"};
		size_t argc = 10;
		struct ferry_spawn_io io = {w.out_path, log, pfd[1]};

		if (wc) {
			argv[argc++] = "--changed-areas";
			argv[argc++] = wc->areas;
		}
		argv[argc++] = w.acc.uri;
		argv[argc++] = dst;
		argv[argc] = NULL;

		/* a worker never outlives the engine that follows it */
		if (e->copier) {
			argv[1] = "ferry-copy";
			pid = spawn_forked(e, argv + 1, &io);
			w.forked = pid > 0;
			if (pid < 0)
				pid = ferry_spawn_tied(e->copier, argv + 1, &io);
		} else {
			pid = ferry_spawn_tied(e->self, argv, &io);
		}
	}
	if (pid < 0) {
		ferry_err_set(err, FERRY_E_IO, "starting %s: %s", e->copier ? e->copier : e->self,
			      strerror(errno));
		goto fail;
	}
	/* the data plane yields the CPU to the control loop (best effort) */
	setpriority(PRIO_PROCESS, pid, WORKER_NICE);
	close(pfd[1]);
	w.fd = pfd[0];
	w.pid = pid;
	w.plan = ferry_xstrdup(x->k.plan);
	w.mig = ferry_xstrdup(x->k.migration);
	w.vm_id = ferry_xstrdup(x->k.vm_id);
	w.op_id = ferry_xstrdup(opid);
	w.disk = i;
	w.total = wc ? wc->bytes : x->v->src->disks[i].capacity;
	*FERRY_PUSH(e->w, e->nw, e->wcap) = w;
	free(dst);
	free(ckpt);
	free(srcid);
	free(log);
	return 0;
fail:
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	s->ops->disk_close(s->s, &w.acc);
	free(w.out_path);
	free(dst);
	free(ckpt);
	free(srcid);
	free(log);
	return -1;
}

/* Have the target copy disk i (copy_start; wc: a warm round's, or NULL):
 * the source serves the disk, a relay serves it again over TCP with a key
 * made for this copy (ferry_nbd_relay_start), and the target's worker
 * reads it there. A copy resumed after a restart starts over: the relay
 * the old worker read from is gone with the process that served it, so
 * its worker (if any) is replaced. */
static int start_remote(struct vctx *x, size_t i, const char *opid, bool resumed,
			const struct warm_copy *wc, struct ferry_err *err)
{
	struct ferry_engine *e = x->e;
	struct src *s = x->p->src;
	struct worker w = {.fd = -1, .remote = true};
	struct ferry_nbd_relay_opts ro;
	char *dst = NULL, *srcid = NULL, *psk = NULL, *uri = NULL;
	const char *host;
	unsigned port;
	int rc = -1;

	if (!s)
		return ferry_err_set(err, FERRY_E_RETRYABLE, "the source is not available");
	if (transfer_where(e, &host, &ro, err))
		return -1;
	if (resumed && TARGET(x, copy_stop, &x->v->tvm, i, opid, err))
		return -1;
	if (wc ? s->ops->disk_open_snapshot(s->s, x->v->src, i, wc->snapshot, &w.acc, err)
	       : s->ops->disk_open(s->s, x->v->src, i, &w.acc, err))
		goto out;
	w.acc_open = true;
	w.src = s;
	w.tgt = x->p->tgt;
	if (ferry_nbd_relay_start(e->work, ++e->relays, w.acc.uri, &ro, &w.relay, &port, &psk, err))
		goto out;
	uri = ferry_xasprintf(strchr(host, ':') ? "nbds://%s@[%s]:%u/" : "nbds://%s@%s:%u/",
			      FERRY_NBD_PSK_IDENTITY, host, port);
	srcid = ferry_xasprintf("%s:%s:%s", x->p->provider, x->v->src->id, x->v->src->disks[i].id);
	{
		const char *args[] = {"--source-id", srcid};
		struct ferry_copy_source src = {uri, psk, wc ? wc->json : NULL, args, 2};

		if (TARGET(x, disk_create, &x->v->tvm, i, &dst, err) ||
		    TARGET(x, copy_start, &x->v->tvm, i, &src, opid, err))
			goto out;
	}
	w.plan = ferry_xstrdup(x->k.plan);
	w.mig = ferry_xstrdup(x->k.migration);
	w.vm_id = ferry_xstrdup(x->k.vm_id);
	w.op_id = ferry_xstrdup(opid);
	w.disk = i;
	w.total = wc ? wc->bytes : x->v->src->disks[i].capacity;
	*FERRY_PUSH(e->w, e->nw, e->wcap) = w;
	w.acc_open = false;
	w.relay = NULL;
	rc = 0;
out:
	ferry_nbd_server_stop(w.relay);
	if (w.acc_open)
		s->ops->disk_close(s->s, &w.acc);
	if (psk)
		explicit_bzero(psk, strlen(psk));
	free(psk);
	free(uri);
	free(dst);
	free(srcid);
	return rc;
}

/* Worker w's copy of disk i (operation id) ended, with error msg ("" when
 * it succeeded): the operation is ended, the worker removed. H_DONE or
 * H_FAIL. */
static enum hres copy_ended(struct vctx *x, struct worker *w, size_t i, const char *id,
			    const char *msg)
{
	struct ferry_engine *e = x->e;
	struct ferry_err err = FERRY_ERR_INIT;

	if (msg[0]) {
		ferry_journal_op_end(e->j, id, false, msg, NULL);
		drop_worker(e, w);
		return fail(x, "copying disk %zu: %s", i, msg);
	}
	if (e->o.metrics)
		ferry_metrics_add_bytes(e->o.metrics, w->total);
	if (ferry_journal_op_end(e->j, id, true, "copied", &err))
		return fail(x, "journal: %s", err.msg);
	drop_worker(e, w);
	say(e, "%s %s: disk %zu copied", x->k.plan, x->v->name, i);
	e->moved = true;
	return H_DONE;
}

/* How a copy the target runs goes: H_WAIT while it runs, H_DONE when it
 * finished (the operation is ended and the worker removed), H_FAIL. */
static enum hres poll_remote(struct vctx *x, struct worker *w, size_t i, const char *id)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_copy_state st = {0};

	if (TARGET(x, copy_poll, &x->v->tvm, i, id, &st, &err)) {
		if (err.code != FERRY_E_NOT_FOUND)
			return H_WAIT; /* the API failed: look again next pass */
		st.phase = FERRY_COPY_FAILED;
		snprintf(st.message, sizeof st.message, "its transfer worker is gone (%.400s)",
			 err.msg);
	}
	if (st.phase == FERRY_COPY_RUNNING) {
		if (st.total)
			w->done = st.done, w->total = st.total;
		return H_WAIT;
	}
	if (TARGET(x, copy_stop, &x->v->tvm, i, id, &err))
		ferry_warn("%s %s: removing the transfer worker of disk %zu: %s", x->k.plan,
			   x->v->name, i, err.msg);
	return copy_ended(x, w, i, id, st.phase == FERRY_COPY_FAILED ? st.message : "");
}

/* The error of a finished copy, from its JSON report, or "" when it
 * succeeded. */
static void copy_outcome(const struct worker *w, char *msg, size_t n)
{
	char *data = NULL, *p;
	size_t len;

	msg[0] = '\0';
	if (WIFEXITED(w->status) && WEXITSTATUS(w->status) == 0)
		return;
	if (!ferry_read_file(w->out_path, 1 << 20, &data, &len) &&
	    (p = strstr(data, "\"error\": \""))) {
		char *end;
		p += 10;
		end = strstr(p, "\",\n");
		snprintf(msg, n, "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
	} else if (WIFSIGNALED(w->status)) {
		snprintf(msg, n, "ferry copy was killed by signal %d", WTERMSIG(w->status));
	} else {
		snprintf(msg, n, "ferry copy exited with status %d", WEXITSTATUS(w->status));
	}
	free(data);
}

/* Did the copy of operation id finish, by its report (a copy that
 * finished removed its checkpoint, so only the report says so)? */
static bool copy_finished_before(struct ferry_engine *e, const char *id)
{
	char *path = ferry_xasprintf("%s/%s.json", e->work, id), *data = NULL;
	size_t len;
	bool ok =
		!ferry_read_file(path, 1 << 20, &data, &len) && strstr(data, "\"status\": \"ok\"");

	free(data);
	free(path);
	return ok;
}

/* The areas of disk i that round n copies, asked of the source once and
 * kept in WORK/OPID.areas (a copy resumed after a restart reads the same
 * list); round 0 copies what snapshot 0 holds, round n what changed since
 * round n-1's snapshot. */
static int warm_areas(struct vctx *x, size_t i, const char *opid, const struct snaprec *now,
		      const struct snaprec *prev, struct warm_copy *wc, char **path,
		      struct ferry_err *err)
{
	const struct src *s = x->p->src;
	struct ferry_changed_areas ca = {0};
	char *json = NULL;
	size_t len;
	int rc = -1;

	*path = ferry_xasprintf("%s/%s.areas", x->e->work, opid);
	wc->snapshot = now->id;
	wc->areas = *path;
	wc->json = NULL;
	wc->bytes = 0;
	if (!ferry_read_file(*path, 256u << 20, &json, &len)) {
		/* asked before a restart: count what it lists, read as ferry
		 * copy will read it */
		struct ferry_extents ex = FERRY_EXTENTS_INIT;

		rc = ferry_changed_areas_parse(*path, json, len, &ex, err);
		for (size_t k = 0; !rc && k < ex.len; k++)
			wc->bytes += ex.v[k].len;
		ferry_extents_release(&ex);
		if (rc)
			free(json);
		else
			wc->json = json;
		return rc;
	}
	if (s->ops->changed_areas(s->s, x->v->src, i, now->id, prev ? prev->cids[i] : "*", &ca,
				  err))
		return -1;
	for (size_t k = 0; k < ca.n; k++)
		wc->bytes += ca.v[k].length;
	json = ferry_changed_areas_json(&ca);
	if (ferry_write_file_atomic(*path, json, strlen(json), 0600)) {
		ferry_err_set(err, FERRY_E_IO, "%s: %s", *path, strerror(errno));
		free(json);
	} else {
		wc->json = json;
		rc = 0;
	}
	ferry_changed_areas_release(&ca);
	return rc;
}

/* Start the copy of disk i (operation opid): by the target, or by a
 * worker of ours; warm copies read the round's snapshot, only the areas
 * that changed. */
static int copy_start(struct vctx *x, size_t i, const char *opid, bool resumed,
		      const struct snaprec *now, const struct snaprec *prev, bool *nothing,
		      struct ferry_err *err)
{
	bool remote = x->p->tgt->ops->copy_start != NULL;
	struct warm_copy wc;
	char *path = NULL;
	int rc;

	*nothing = false;
	if (!now)
		return remote ? start_remote(x, i, opid, resumed, NULL, err)
			      : spawn_copy(x, i, opid, NULL, err);
	if (warm_areas(x, i, opid, now, prev, &wc, &path, err)) {
		free(path);
		return -1;
	}
	/* a round with nothing changed on this disk has nothing to move */
	*nothing = prev && !wc.bytes;
	rc = *nothing ? 0
	     : remote ? start_remote(x, i, opid, resumed, &wc, err)
		      : spawn_copy(x, i, opid, &wc, err);
	free(wc.json);
	free(path);
	return rc;
}

static enum hres h_copy(struct vctx *x)
{
	struct ferry_engine *e = x->e;
	struct ferry_err err = FERRY_ERR_INIT;
	bool all = true, defer = false, warm = x->v->kind == FERRY_ITINERARY_WARM;
	struct snaprec now = {0}, prev = {0};
	enum hres res = H_FAIL;
	struct ferry_jop sop;
	int n = 0;

	if (!x->v->src)
		return fail(x, "the VM is no longer in the source's inventory");
	if (warm) {
		if (!warm_source(x))
			return H_FAIL;
		n = round_now(e, &x->k, &sop);
		if (n < 0 || sop.state != FERRY_OP_DONE)
			return fail(x, "no snapshot to copy from");
		if (snaprec_load(e, &x->k, (unsigned)n, x->v->src->ndisks, &now, &err) ||
		    (n > 0 &&
		     snaprec_load(e, &x->k, (unsigned)n - 1, x->v->src->ndisks, &prev, &err))) {
			fail(x, "journal: %s", err.msg);
			goto out;
		}
	}
	for (size_t i = 0; i < x->v->src->ndisks; i++) {
		char kind[48], id[32];
		struct ferry_jop op;
		struct worker *w;
		bool nothing;

		copy_op(x->k.plan, x->k.migration, x->k.vm_id, (unsigned)n, i, kind, id);
		if (ferry_journal_op(e->j, id, &op, &err)) {
			fail(x, "journal: %s", err.msg);
			goto out;
		}
		if (op.state == FERRY_OP_DONE)
			continue;
		w = find_worker(e, x->k.plan, x->k.migration, x->k.vm_id, i);
		if (w && w->remote) {
			enum hres r = poll_remote(x, w, i, id);

			if (r == H_FAIL)
				goto out;
			all = all && r == H_DONE;
			continue;
		}
		if (w && w->exited && w->fd < 0) {
			char msg[FERRY_ERR_MSG_MAX];

			copy_outcome(w, msg, sizeof msg);
			if (copy_ended(x, w, i, id, msg) == H_FAIL)
				goto out;
			continue;
		}
		if (w) {
			all = false; /* still copying */
			continue;
		}
		if (op.state == FERRY_OP_STARTED && !x->p->tgt->ops->copy_start &&
		    copy_finished_before(e, id)) {
			/* it finished, then we died before writing that down */
			if (ferry_journal_op_end(e->j, id, true, "copied", &err)) {
				fail(x, "journal: %s", err.msg);
				goto out;
			}
			say(e, "%s %s: disk %zu was copied before a restart", x->k.plan, x->v->name,
			    i);
			continue;
		}
		if (op_begin(e->j, &x->k, id, kind, &err)) {
			fail(x, "journal: %s", err.msg);
			goto out;
		}
		if (!durable(x)) {
			all = false;
			defer = true; /* spawned once the operation is on disk */
			continue;
		}
		if (copy_start(x, i, id, op.state == FERRY_OP_STARTED && !x->again,
			       warm ? &now : NULL, n > 0 ? &prev : NULL, &nothing, &err)) {
			fail(x, "copying disk %zu: %s", i, err.msg);
			goto out;
		}
		if (nothing && ferry_journal_op_end(e->j, id, true, "unchanged", &err)) {
			fail(x, "journal: %s", err.msg);
			goto out;
		}
		all = all && nothing;
	}
	res = defer ? H_DEFER : all ? H_DONE : H_WAIT;
	if (res == H_DONE && warm) {
		char kind[32], id[32];

		round_op(&x->k, "copied", (unsigned)n, kind, id);
		if (op_begin(e->j, &x->k, id, kind, &err) ||
		    ferry_journal_op_end(e->j, id, true, "", &err))
			res = fail(x, "journal: %s", err.msg);
	}
out:
	snaprec_release(&now);
	snaprec_release(&prev);
	return res;
}

static enum hres h_create_vm(struct vctx *x)
{
	struct ferry_engine *e = x->e;
	struct ferry_err err = FERRY_ERR_INIT;
	const struct ferry_target_vm *t = &x->v->tvm;
	char id[32], *where, digest[FERRY_TARGET_DIGEST];
	struct ferry_jop prior;
	bool exists = false;

	op_id(x->k.plan, x->k.migration, x->k.vm_id, "create-vm", id);
	if (ferry_journal_op(e->j, id, &prior, &err))
		return fail(x, "journal: %s", err.msg);
	if (prior.state == FERRY_OP_NONE) {
		/* a VM of that name that ferry did not make is not overwritten */
		if (TARGET(x, vm_exists, t->ns, t->name, &exists, NULL, &err))
			return fail(x, "%s", err.msg);
		if (exists)
			return fail(x, "VMAlreadyExists: the target already has a VM %s/%s", t->ns,
				    t->name);
		if (op_begin(e->j, &x->k, id, "create-vm", &err))
			return fail(x, "journal: %s", err.msg);
	}
	if (!durable(x))
		return H_DEFER;
	{
		struct ferry_target_vm tv = *t;

		tv.running = target_running(x);
		if (TARGET(x, vm_create, &tv, &err))
			return fail(x, "creating VM %s/%s: %s", t->ns, t->name, err.msg);
	}
	/* what ferry made, so that a change made outside it shows as drift */
	if (TARGET(x, vm_exists, t->ns, t->name, &exists, digest, &err))
		return fail(x, "reading back VM %s/%s: %s", t->ns, t->name, err.msg);
	where = digest[0] ? ferry_xasprintf("%s/%s sha256:%s", t->ns, t->name, digest)
			  : ferry_xasprintf("%s/%s", t->ns, t->name);
	if (ferry_journal_op_end(e->j, id, true, where, &err)) {
		free(where);
		return fail(x, "journal: %s", err.msg);
	}
	free(where);
	return H_DONE;
}

static enum hres h_unknown(struct vctx *x)
{
	return fail(x, "ferry has no handler for this phase (an internal error)");
}

static const struct {
	const char *phase;
	enum hres (*fn)(struct vctx *x);
} handlers[] = {
	{"Started", h_next},
	{"PreHook", h_hook},
	{"StorePowerState", h_store_power},
	{"PowerOffSource", h_power_off},
	{"WaitForPowerOff", h_wait_power_off},
	{"CreateInitialSnapshot", h_snapshot},
	{"WaitForInitialSnapshot", h_next}, /* the driver waits for its Task */
	{"StoreInitialSnapshotDeltas", h_deltas},
	{"CreateDataVolumes", h_create_volumes},
	{"CopyDisks", h_copy},
	{"CopyingPaused", h_paused},
	{"RemovePreviousSnapshot", h_snapshot_remove},
	{"CreateSnapshot", h_snapshot},
	{"WaitForSnapshot", h_next},
	{"StoreSnapshotDeltas", h_deltas},
	{"AddCheckpoint", h_next}, /* the copied round is recorded by CopyDisks */
	{"RemovePenultimateSnapshot", h_snapshot_remove},
	{"CreateFinalSnapshot", h_snapshot},
	{"WaitForFinalSnapshot", h_next},
	{"AddFinalCheckpoint", h_deltas},
	{"Finalize", h_copy},
	{"RemoveFinalSnapshot", h_snapshot_remove},
	{"ConvertGuest", h_convert},
	{"CreateVM", h_create_vm},
	{"PostHook", h_hook},
};

static enum hres (*handler_of(const char *phase))(struct vctx *)
{
	for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
		if (!strcmp(handlers[i].phase, phase))
			return handlers[i].fn;
	return h_unknown;
}

/* ---- moving VMs ---------------------------------------------------------------- */

static int transition(struct vctx *x, const char *from, const char *to, const char *error,
		      struct ferry_err *err)
{
	if (ferry_journal_transition(x->e->j, &x->k, x->v ? x->v->name : NULL, to, NULL, from,
				     error, NULL, err))
		return -1;
	x->e->moved = true;
	say(x->e, "%s %s: %s -> %s%s%s", x->k.plan, x->v && x->v->name ? x->v->name : x->k.vm_id,
	    from ? from : "(new)", to, error ? ": " : "", error ? error : "");
	return 0;
}

/* Stop the copies of a VM (v: its run state, which a copy the target runs
 * needs to be found; NULL when the VM left the plan). */
static void stop_vm_workers(struct ferry_engine *e, const struct ferry_jkey *k,
			    const struct ferry_run_vm *v)
{
	for (size_t i = 0; i < e->nw;) {
		struct worker *w = &e->w[i];
		if (!strcmp(w->plan, k->plan) && !strcmp(w->mig, k->migration) &&
		    !strcmp(w->vm_id, k->vm_id)) {
			struct ferry_err err = FERRY_ERR_INIT;

			if (w->remote && v &&
			    w->tgt->ops->copy_stop(w->tgt->t, &v->tvm, w->disk, w->op_id, &err))
				ferry_warn("%s %s: stopping the copy of disk %zu: %s", k->plan,
					   v->name, w->disk, err.msg);
			drop_worker(e, w);
		} else {
			i++;
		}
	}
}

/* Run handlers from phase until one waits or the VM reaches a final phase. */
static int advance(struct vctx *x, const char *phase, bool cutover, struct ferry_err *err)
{
	struct ferry_engine *e = x->e;
	const struct ferry_run_vm *v = x->v;

	x->cutover = cutover;
	while (!ferry_phase_is_final(phase) && !stopping(e)) {
		enum hres r;
		const char *next;

		if (v->problem && strcmp(phase, "Started"))
			r = fail(x, "%s", v->problem);
		else
			r = handler_of(phase)(x);
		if (r == H_WAIT)
			return 0;
		if (r == H_DEFER) {
			struct deferred *d = FERRY_PUSH(e->def, e->ndef, e->defcap);

			*d = (struct deferred){x->p,	   x->k.migration,
					       x->k.vm_id, (size_t)(v - x->p->vms),
					       "",	   cutover};
			snprintf(d->phase, sizeof d->phase, "%s", phase);
			return 0;
		}
		if (r == H_FAIL) {
			char *msg = ferry_xasprintf("[%s] %s", phase, x->error);
			const struct ferry_plan *pl = x->p->plan;
			const struct ferry_plan_vm *pvm = v->pvm;
			bool del = pvm->delete_vm_on_fail_migration.set
					   ? pvm->delete_vm_on_fail_migration.v
					   : pl->spec.delete_vm_on_fail_migration.set &&
						     pl->spec.delete_vm_on_fail_migration.v;
			int rc;

			stop_vm_workers(e, &x->k, x->v);
			if (v->kind == FERRY_ITINERARY_WARM)
				warm_cleanup(e, x->p, &x->k, v->src);
			rc = transition(x, phase, "Failed", msg, err);
			free(msg);
			if (!rc && del && v->tvm.name && !(rc = flush(x, err))) {
				struct ferry_err derr = FERRY_ERR_INIT;
				if (x->p->tgt->t &&
				    TARGET(x, vm_delete, v->tvm.ns, v->tvm.name, &derr))
					ferry_warn("%s %s: deleteVmOnFailMigration: %s", x->k.plan,
						   v->name, derr.msg);
			}
			return rc;
		}
		next = ferry_itinerary_next(v->kind, v->flags, phase, cutover);
		if (!next)
			return ferry_err_set(err, FERRY_E_INTERNAL, "no phase after %s", phase);
		if (transition(x, phase, next, NULL, err))
			return -1;
		phase = next;
	}
	return 0;
}

static int start_vm(struct vctx *x, struct ferry_err *err)
{
	char id[32];
	const char *first = ferry_itinerary_first(x->v->kind);

	op_id(x->k.plan, x->k.migration, x->k.vm_id, "mapping", id);
	if (op_begin(x->e->j, &x->k, id, "mapping", err) ||
	    ferry_journal_op_end(x->e->j, id, true, x->v->hash, err) ||
	    transition(x, NULL, first, NULL, err))
		return -1;
	return advance(x, first, false, err);
}

static int cancel_vm(struct vctx *x, const char *phase, struct ferry_err *err)
{
	struct ferry_engine *e = x->e;

	stop_vm_workers(e, &x->k, x->v);
	if (x->v && x->v->kind == FERRY_ITINERARY_WARM)
		warm_cleanup(e, x->p, &x->k, x->v->src);
	if (transition(x, phase, "Canceled", NULL, err) || flush(x, err))
		return -1;
	/* Forklift removes what a canceled VM had created on the target */
	if (phase && x->v && x->v->tvm.name && x->p->tgt->t) {
		struct ferry_err derr = FERRY_ERR_INIT;

		if (TARGET(x, vm_delete, x->v->tvm.ns, x->v->tvm.name, &derr))
			ferry_warn("%s %s: removing its target objects: %s", x->k.plan, x->v->name,
				   derr.msg);
	}
	return 0;
}

/* Remove the copy checkpoints and reports of every VM of the plan. */
static int archive_plan(struct ferry_engine *e, struct pctx *c, struct ferry_err *err)
{
	char id[32];
	struct ferry_jkey k = {c->key, c->mig ? c->mig->obj.name : "", ""};

	for (size_t i = 0; i < c->rows.n; i++) {
		const struct ferry_diff_row *r = &c->rows.v[i];
		struct ferry_jkey vk = {c->key, r->migration, r->vm_id};

		/* each round's copies (cold: round 0 only) */
		for (unsigned n = 0; n <= MAX_SNAPSHOTS; n++) {
			size_t d = 0;

			for (;; d++) {
				char kind[48], oid[32];
				struct ferry_jop op;
				const char *ext[] = {"ckpt", "json", "log", "areas"};

				copy_op(c->key, r->migration, r->vm_id, n, d, kind, oid);
				if (ferry_journal_op(e->j, oid, &op, NULL) ||
				    op.state == FERRY_OP_NONE)
					break;
				for (size_t x = 0; x < sizeof ext / sizeof *ext; x++) {
					char *path =
						ferry_xasprintf("%s/%s.%s", e->work, oid, ext[x]);
					if (unlink(path) && errno != ENOENT)
						ferry_warn("%s: %s", path, strerror(errno));
					free(path);
				}
			}
			if (!d)
				break;
		}
		/* a warm VM's snapshot that failing or canceling could not remove */
		if (c->src)
			warm_cleanup(e, c, &vk, ferry_inventory_find(&c->src->inv, r->vm_id, NULL));
	}
	op_id(c->key, k.migration, "", "archive", id);
	if (op_begin(e->j, &k, id, "archive", err) ||
	    ferry_journal_op_end(e->j, id, true, "archived", err))
		return -1;
	say(e, "%s: archived (temporary objects removed)", c->key);
	e->moved = true;
	return 0;
}

static const struct ferry_diff_row *row_of(const struct pctx *c, const char *mig, const char *vm_id)
{
	for (size_t i = 0; i < c->rows.n; i++)
		if (!strcmp(c->rows.v[i].migration, mig) && !strcmp(c->rows.v[i].vm_id, vm_id))
			return &c->rows.v[i];
	return NULL;
}

static int act(struct ferry_engine *e, struct pctx *c, const struct ferry_action *a,
	       struct ferry_err *err)
{
	struct vctx x = {.e = e, .p = c, .w0 = ferry_journal_writes(e->j)};
	const struct ferry_diff_row *row;

	if (a->kind == FERRY_ACT_ARCHIVE)
		return archive_plan(e, c, err);
	if (a->kind != FERRY_ACT_START && a->kind != FERRY_ACT_CONTINUE &&
	    a->kind != FERRY_ACT_CUTOVER && a->kind != FERRY_ACT_CANCEL)
		return 0;
	x.v = a->vm != SIZE_MAX ? &c->vms[a->vm] : NULL;
	x.k = (struct ferry_jkey){c->key, a->migration, a->vm_id};
	row = row_of(c, a->migration, a->vm_id);
	switch (a->kind) {
	case FERRY_ACT_START: return start_vm(&x, err);
	case FERRY_ACT_CONTINUE:
	case FERRY_ACT_CUTOVER: return advance(&x, row->phase, a->kind == FERRY_ACT_CUTOVER, err);
	case FERRY_ACT_CANCEL: return cancel_vm(&x, row ? row->phase : NULL, err);
	default: return 0;
	}
}

/* ---- status ------------------------------------------------------------------ */

static struct plan_mem *plan_mem(struct ferry_engine *e, const char *key)
{
	struct plan_mem *m;

	for (size_t i = 0; i < e->npm; i++)
		if (!strcmp(e->pm[i].key, key))
			return &e->pm[i];
	m = FERRY_PUSH(e->pm, e->npm, e->pm_cap);
	memset(m, 0, sizeof *m);
	m->key = ferry_xstrdup(key);
	return m;
}

static const char *mem_phase(const struct plan_mem *m, const char *vm_id)
{
	for (size_t i = 0; i < m->nvms; i++)
		if (!strcmp(m->vms[i].id, vm_id))
			return m->vms[i].phase;
	return NULL;
}

/* Bytes copied so far of a VM in CopyDisks (warm: of its current round,
 * a disk done counting as its capacity). */
static uint64_t copied(struct ferry_engine *e, const struct pctx *c, const char *mig,
		       const struct ferry_run_vm *v)
{
	uint64_t done = 0;
	unsigned n = 0;

	if (v->kind == FERRY_ITINERARY_WARM) {
		struct ferry_jkey k = {c->key, mig, v->id};
		int r = round_now(e, &k, NULL);

		n = r > 0 ? (unsigned)r : 0;
	}

	for (size_t d = 0; v->src && d < v->src->ndisks; d++) {
		char kind[48], id[32];
		struct ferry_jop op;
		const struct worker *w;

		copy_op(c->key, mig, v->id, n, d, kind, id);
		if (!ferry_journal_op(e->j, id, &op, NULL) && op.state == FERRY_OP_DONE)
			done += v->src->disks[d].capacity;
		else if ((w = find_worker(e, c->key, mig, v->id, d)))
			done += w->done;
	}
	return done;
}

static bool past_copy(const char *phase)
{
	return !strcmp(phase, "ConvertGuest") || !strcmp(phase, "CreateVM") ||
	       !strcmp(phase, "PostHook") || !strcmp(phase, "Completed");
}

/* VMs of the runs in force by phase, for the pass's stats and metrics. */
struct phase_counts {
	const char *names[64]; /* static strings: the itinerary's names */
	size_t counts[64], n;
};

static void count_phase(struct phase_counts *pc, struct ferry_pass_stats *st, const char *ph)
{
	size_t k;

	if (!strcmp(ph, "Failed"))
		st->failed++;
	else if (!strcmp(ph, "Completed"))
		st->completed++;
	else if (!strcmp(ph, "Canceled"))
		st->canceled++;
	else
		st->active++;
	for (k = 0; k < pc->n && strcmp(pc->names[k], ph); k++)
		;
	if (k == pc->n && pc->n < 64) {
		const struct ferry_phase *p = ferry_itinerary_phase(FERRY_ITINERARY_WARM, ph);
		if (!p)
			p = ferry_itinerary_phase(FERRY_ITINERARY_COLD, ph);
		pc->names[pc->n] = p ? p->name : !strcmp(ph, "Failed") ? "Failed" : "Canceled";
		pc->counts[pc->n++] = 0;
	}
	if (k < 64)
		pc->counts[k]++;
}

/* Build the plan's status files; remember them as pending when they
 * changed. The VMs of a run in force are counted into pc and st. */
static int plan_status(struct ferry_engine *e, struct pctx *c, const struct ferry_actions *a,
		       struct phase_counts *pc, struct ferry_pass_stats *st, struct ferry_err *err)
{
	struct ferry_plan_condition *conds = ferry_xcalloc(a->n ? a->n : 1, sizeof *conds);
	size_t ncond = 0;
	struct rows rows = {0};
	const char *mig = c->mig ? c->mig->obj.name : NULL;
	struct ferry_plan_status ps = {0};
	struct ferry_plan_status_vm *vms;
	struct plan_mem *m;
	char **errs;
	size_t n = 0;
	char *yaml, *md;
	const char *phase;

	if (ferry_journal_each_vm(e->j, c->key, NULL, collect_row, &rows, err))
		return -1;
	if (!mig) {
		/* the newest run the journal knows */
		for (size_t i = 0; i < rows.n; i++)
			if (!mig || strcmp(rows.v[i].migration, mig) > 0)
				mig = rows.v[i].migration;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct ferry_action *x = &a->v[i];
		static const char *const types[] = {
			[FERRY_ACT_BLOCKED] = "VMBlocked",
			[FERRY_ACT_REFUSE] = "ChangeRefused",
			[FERRY_ACT_DRIFT] = "TargetDrift",
		};

		if (x->plan_name != c->plan->obj.name || x->plan_ns != c->plan->obj.ns ||
		    (x->kind != FERRY_ACT_BLOCKED && x->kind != FERRY_ACT_REFUSE &&
		     x->kind != FERRY_ACT_DRIFT))
			continue;
		conds[ncond++] = (struct ferry_plan_condition){
			.type = types[x->kind],
			.category = x->kind == FERRY_ACT_BLOCKED ? "Critical" : "Warning",
			.vm = x->vm_name ? x->vm_name : x->vm_id,
			.message = x->detail,
		};
	}
	if (!rows.n && !c->mig) {
		rows_release(&rows);
		free(conds);
		return 0;
	}
	vms = ferry_xcalloc(rows.n ? rows.n : 1, sizeof *vms);
	errs = ferry_xcalloc(rows.n ? rows.n : 1, sizeof *errs);
	for (size_t i = 0; i < rows.n; i++) {
		const struct ferry_diff_row *r = &rows.v[i];
		const struct ferry_run_vm *v = NULL;
		struct ferry_plan_status_vm *o = &vms[n];

		if (!mig || strcmp(r->migration, mig))
			continue;
		if (c->mig)
			count_phase(pc, st, r->phase);
		for (size_t k = 0; k < c->nvms; k++)
			if (c->vms[k].id && !strcmp(c->vms[k].id, r->vm_id))
				v = &c->vms[k];
		o->id = r->vm_id;
		o->name = r->vm_name;
		o->phase = r->phase;
		o->started = rows.started[i];
		o->ended = rows.ended[i];
		if (rows.errors[i][0] == '[') {
			char *close = strchr(rows.errors[i], ']');
			errs[n] = ferry_xstrdup(rows.errors[i] + 1);
			if (close) {
				errs[n][close - rows.errors[i] - 1] = '\0';
				o->error_phase = errs[n];
				o->error = close[1] == ' ' ? close + 2 : close + 1;
			}
		} else {
			o->error = rows.errors[i];
		}
		if (v && v->src) {
			for (size_t d = 0; d < v->src->ndisks; d++)
				o->bytes_total += v->src->disks[d].capacity;
			o->bytes_done = past_copy(r->phase)		 ? o->bytes_total
					: !strcmp(r->phase, "CopyDisks") ? copied(e, c, mig, v)
									 : 0;
		}
		n++;
	}
	ps.ns = c->plan->obj.ns;
	ps.name = c->plan->obj.name;
	ps.migration = mig;
	ps.source_commit = e->in_force;
	ps.kind = ferry_plan_kind(c->plan);
	ps.flags = c->nvms ? c->vms[0].flags : 0;
	ps.vms = vms;
	ps.nvms = n;
	ps.conditions = conds;
	ps.nconditions = ncond;
	phase = ferry_plan_phase(&ps);
	yaml = ferry_plan_status_yaml(&ps);
	m = plan_mem(e, c->key);
	if (!m->yaml || strcmp(m->yaml, yaml)) {
		if (!m->pending_yaml || strcmp(m->pending_yaml, yaml)) {
			md = ferry_plan_status_md(&ps);
			free(m->pending_yaml);
			free(m->pending_md);
			free(m->pending_phase);
			m->pending_yaml = yaml;
			m->pending_md = md;
			m->pending_phase = ferry_xstrdup(phase);
			yaml = NULL;
			vm_lines_free(m->pvms, m->np);
			m->pvms = ferry_xcalloc(n ? n : 1, sizeof *m->pvms);
			m->np = n;
			for (size_t i = 0; i < n; i++) {
				struct vm_line *l = &m->pvms[i];

				l->id = ferry_xstrdup(vms[i].id);
				l->name = ferry_xstrdup(vms[i].name);
				if (!strcmp(vms[i].phase, "CopyDisks") && vms[i].bytes_total)
					l->phase = ferry_xasprintf("CopyDisks %d%%",
								   (int)(vms[i].bytes_done * 100 /
									 vms[i].bytes_total));
				else
					l->phase = ferry_xstrdup(vms[i].phase);
			}
			m->dirty = true;
			m->urgent = m->urgent || !m->phase || strcmp(m->phase, phase);
			ferry_status_batch_note(&e->batch, m->urgent);
		}
	}
	free(yaml);
	for (size_t i = 0; i < rows.n; i++)
		free(errs[i]);
	free(errs);
	free(vms);
	free(conds);
	rows_release(&rows);
	return 0;
}

/* What a plan's pending status commit says: its VMs' changes since the last
 * one. ch has room for m->np entries; the strings are borrowed from m. */
static struct ferry_status_message plan_message(struct ferry_engine *e, const struct plan_mem *m,
						char **ns, struct ferry_status_change *ch)
{
	const char *slash = strchr(m->key, '/');
	size_t nch = 0;

	for (size_t i = 0; i < m->np; i++) {
		const struct vm_line *l = &m->pvms[i];
		const char *before = mem_phase(m, l->id);
		if (before && !strcmp(before, l->phase))
			continue;
		ch[nch++] = (struct ferry_status_change){l->name, before, l->phase};
	}
	*ns = ferry_xstrndup(m->key, (size_t)(slash - m->key));
	return (struct ferry_status_message){
		.ns = *ns,
		.plan = slash + 1,
		.source_commit = e->in_force,
		.phase = m->pending_phase,
		.changes = ch,
		.nchanges = nch,
	};
}

/* The pending status of m was committed: it is now the last one. */
static void plan_committed(struct plan_mem *m)
{
	vm_lines_free(m->vms, m->nvms);
	m->vms = m->pvms;
	m->nvms = m->np;
	m->pvms = NULL;
	m->np = 0;
	free(m->yaml);
	free(m->phase);
	m->yaml = m->pending_yaml;
	m->phase = m->pending_phase;
	free(m->pending_md);
	m->pending_yaml = m->pending_md = m->pending_phase = NULL;
	m->dirty = m->urgent = false;
}

/* One status commit (and push) for every plan whose status changed: a pass
 * that moves many plans costs one round trip to the remote, not one each. */
static int commit_dirty(struct ferry_engine *e, struct ferry_err *err)
{
	size_t n = 0, k = 0;
	struct plan_mem **ms;
	struct ferry_status_message *sm;
	struct ferry_status_change **ch;
	struct ferry_status_file *files;
	char **nss, **paths;
	struct ferry_status_push push;
	char *msg;
	int rc;

	for (size_t i = 0; i < e->npm; i++)
		n += e->pm[i].dirty;
	if (!n)
		return 0;
	ms = ferry_xcalloc(n, sizeof *ms);
	sm = ferry_xcalloc(n, sizeof *sm);
	ch = ferry_xcalloc(n, sizeof *ch);
	nss = ferry_xcalloc(n, sizeof *nss);
	files = ferry_xcalloc(2 * n, sizeof *files);
	paths = ferry_xcalloc(2 * n, sizeof *paths);
	for (size_t i = 0; i < e->npm; i++) {
		struct plan_mem *m = &e->pm[i];

		if (!m->dirty)
			continue;
		ms[k] = m;
		ch[k] = ferry_xcalloc(m->np ? m->np : 1, sizeof **ch);
		sm[k] = plan_message(e, m, &nss[k], ch[k]);
		paths[2 * k] = ferry_xasprintf("status/%s.yaml", m->key);
		paths[2 * k + 1] = ferry_xasprintf("status/%s.md", m->key);
		files[2 * k] = (struct ferry_status_file){paths[2 * k], m->pending_yaml,
							  strlen(m->pending_yaml)};
		files[2 * k + 1] = (struct ferry_status_file){paths[2 * k + 1], m->pending_md,
							      strlen(m->pending_md)};
		k++;
	}
	msg = ferry_status_message_plans(sm, n);
	{
		struct ferry_status_commit sc = {
			.branch = ferry_status_branch(e->cfg),
			.files = files,
			.nfiles = 2 * n,
			.message = msg,
			.committer_name = e->cfg->repo.committer_name,
			.committer_email = e->cfg->repo.committer_email,
		};
		rc = ferry_git_commit_status(e->git, &sc, &push, err);
	}
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			plan_committed(ms[i]);
		free(ch[i]);
		free(nss[i]);
		free(paths[2 * i]);
		free(paths[2 * i + 1]);
	}
	free(msg);
	free(ms);
	free(sm);
	free(ch);
	free(nss);
	free(files);
	free(paths);
	return rc;
}

static int commit_pending(struct ferry_engine *e, bool force, struct ferry_err *err)
{
	uint64_t now = (uint64_t)(ferry_monotonic() * 1000);
	uint64_t wait;

	if (!e->git || (!force && !ferry_status_batch_due(&e->batch, now, &wait)))
		return 0;
	if (commit_dirty(e, err))
		return -1;
	ferry_status_batch_committed(&e->batch, now);
	return 0;
}

int ferry_engine_flush_status(struct ferry_engine *e, struct ferry_err *err)
{
	return commit_pending(e, true, err);
}

/* ---- the pass ------------------------------------------------------------------ */

static int load_model(struct ferry_engine *e, const char *sha, struct ferry_err *err)
{
	struct ferry_findings f = FERRY_FINDINGS_INIT;
	struct ferry_model m = FERRY_MODEL_INIT;

	if (ferry_git_load_tree(e->git, sha, e->cfg->repo.root, &m, &f, err)) {
		ferry_findings_release(&f);
		ferry_model_release(&m);
		return -1;
	}
	ferry_findings_release(&f); /* the sync pass validated this commit */
	ferry_model_release(&e->model);
	e->model = m;
	memcpy(e->model_sha, sha, FERRY_SHA_HEX);
	e->have_model = true;
	return 0;
}

/* Commit the round; run the VMs it deferred in a new one; until none is. */
static int rounds(struct ferry_engine *e, struct ferry_err *err)
{
	struct deferred *d = NULL;
	size_t n = 0;
	int rc = 0;

	for (;;) {
		if (ferry_journal_commit(e->j, err))
			return -1;
		e->txn = false;
		if (!e->ndef || stopping(e))
			break;
		/* this round's list, while the next one fills e->def */
		free(d);
		d = e->def;
		n = e->ndef;
		e->def = NULL;
		e->ndef = e->defcap = 0;
		if (ferry_journal_begin(e->j, err)) {
			rc = -1;
			break;
		}
		e->txn = true;
		for (size_t i = 0; i < n && !rc && !stopping(e); i++) {
			struct vctx x = {
				.e = e, .p = d[i].c, .v = &d[i].c->vms[d[i].vm], .again = true};

			x.k = (struct ferry_jkey){d[i].c->key, d[i].mig, d[i].vm_id};
			x.w0 = ferry_journal_writes(e->j);
			rc = advance(&x, d[i].phase, d[i].cutover, err);
		}
		if (rc)
			break;
	}
	free(d);
	return rc;
}

static struct pctx *pctx_of(struct pctx *cs, size_t n, const struct ferry_action *a)
{
	for (size_t i = 0; i < n; i++)
		if (cs[i].plan && cs[i].plan->obj.name == a->plan_name &&
		    cs[i].plan->obj.ns == a->plan_ns)
			return &cs[i];
	return NULL;
}

/* Load, observe and diff every plan of m into cs (nplans entries) and a. */
static int plan_all(struct ferry_engine *e, const struct ferry_model *m, struct pctx *cs,
		    struct ferry_actions *a, struct ferry_err *err)
{
	size_t np = ferry_model_count(m, FERRY_KIND_PLAN);
	struct ferry_sched_limit *lim;
	size_t nlim;

	for (size_t i = 0; i < e->nsrcs; i++)
		e->srcs[i]->seen = false;
	for (size_t i = 0; i < e->ntgts; i++)
		e->tgts[i]->seen = false;
	for (size_t i = 0; i < np; i++) {
		bool relevant;

		if (pctx_load(e, m, &ferry_model_plans(m)[i], &cs[i], &relevant, err))
			return -1;
		if (relevant)
			pctx_diff(&cs[i], a);
	}
	limits_of(e->cfg, &lim, &nlim);
	ferry_diff_schedule(a, e->cfg->limits.max_vm_inflight, lim, nlim);
	free(lim);
	return 0;
}

int ferry_engine_pass(struct ferry_engine *e, bool force, struct ferry_pass_stats *st,
		      struct ferry_err *err)
{
	struct ferry_actions a = {0};
	struct phase_counts pc = {0};
	struct pctx *cs = NULL;
	size_t np = 0;
	int rc = -1;

	memset(st, 0, sizeof *st);
	e->moved = false;
	e->pass_at = ferry_monotonic();
	if (e->git) {
		struct ferry_sync_result r;
		struct ferry_err serr = FERRY_ERR_INIT;

		if (ferry_sync_pass(e->cfg, e->git, force, &r, &serr)) {
			if (!e->have_model) {
				*err = serr;
				return -1;
			}
			ferry_warn("git: %s (acting on %.12s meanwhile)", serr.msg, e->in_force);
			if (e->o.metrics)
				ferry_metrics_error(e->o.metrics, "git");
		} else {
			if (r.outcome == FERRY_SYNC_REFUSED || r.outcome == FERRY_SYNC_INVALID)
				ferry_warn("commit %.12s was %s; acting on %.12s", r.acting,
					   ferry_sync_outcome_name(r.outcome),
					   r.in_force[0] ? r.in_force : "nothing");
			memcpy(e->in_force, r.in_force, FERRY_SHA_HEX);
			ferry_sync_result_release(&r);
		}
	}
	if (!e->in_force[0]) {
		return 0;
	}
	if ((!e->have_model || strcmp(e->model_sha, e->in_force)) &&
	    load_model(e, e->in_force, err))
		return -1;
	st->in_force = true;
	np = ferry_model_count(&e->model, FERRY_KIND_PLAN);
	cs = ferry_xcalloc(np ? np : 1, sizeof *cs);
	if (plan_all(e, &e->model, cs, &a, err))
		goto out;
	/* Rounds: the journal writes of every VM in a round share one commit,
	 * and an action that must follow its writes waits for the next round */
	if (ferry_journal_begin(e->j, err))
		goto out;
	e->txn = true;
	for (size_t i = 0; i < a.n && !stopping(e); i++) {
		struct pctx *c = pctx_of(cs, np, &a.v[i]);

		if (a.v[i].kind == FERRY_ACT_WAIT)
			st->waiting++;
		if (a.v[i].kind == FERRY_ACT_BLOCKED)
			st->blocked++;
		if (c && act(e, c, &a.v[i], err))
			goto out;
	}
	if (rounds(e, err))
		goto out;
	for (size_t i = 0; i < np; i++)
		if (cs[i].plan && (cs[i].mig || cs[i].rows.n) &&
		    plan_status(e, &cs[i], &a, &pc, st, err))
			goto out;
	if (e->o.metrics)
		ferry_metrics_set_vms(e->o.metrics, pc.names, pc.counts, pc.n);
	if (commit_pending(e, false, err))
		goto out;
	rc = 0;
out:
	if (e->txn)
		ferry_journal_rollback(e->j); /* as if killed here: nothing acted on is lost */
	e->txn = false;
	e->ndef = 0;
	st->moved = e->moved;
	st->workers = e->nw;
	for (size_t i = 0; i < np; i++)
		pctx_release(&cs[i]);
	free(cs);
	ferry_actions_release(&a);
	return rc;
}

int ferry_engine_preview(struct ferry_engine *e, const struct ferry_model *m, bool json, char **out,
			 struct ferry_err *err)
{
	struct ferry_actions a = {0};
	size_t np = ferry_model_count(m, FERRY_KIND_PLAN);
	struct pctx *cs = ferry_xcalloc(np ? np : 1, sizeof *cs);
	int rc = plan_all(e, m, cs, &a, err);

	if (!rc)
		*out = json ? ferry_actions_json(&a) : ferry_actions_text(&a);
	for (size_t i = 0; i < np; i++)
		pctx_release(&cs[i]);
	free(cs);
	ferry_actions_release(&a);
	return rc;
}

/* ---- workers' progress ------------------------------------------------------------ */

static void worker_read(struct ferry_engine *e, struct worker *w)
{
	char buf[512];
	ssize_t n = read(w->fd, buf, sizeof buf);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(w->fd);
		w->fd = -1;
		worker_reap(e, w);
		e->moved = true;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (w->linelen < sizeof w->line - 1)
				w->line[w->linelen++] = buf[i];
			continue;
		}
		w->line[w->linelen] = '\0';
		{
			uint64_t done, total, data;
			if (sscanf(w->line, "progress %" SCNu64 " %" SCNu64 " %" SCNu64, &done,
				   &total, &data) == 3) {
				w->done = done;
				w->total = total;
			}
		}
		w->linelen = 0;
	}
}

int ferry_engine_wait(struct ferry_engine *e, int timeout_ms, int extra_fd)
{
	struct pollfd *p = ferry_xcalloc(e->nw + 1, sizeof *p);
	size_t n = 0;
	int ready = 0, rc;
	bool remote = false;

	e->moved = false;
	for (size_t i = 0; i < e->nw; i++)
		if (e->w[i].fd >= 0)
			p[n++] = (struct pollfd){.fd = e->w[i].fd, .events = POLLIN};
	if (extra_fd >= 0)
		p[n++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
	for (size_t i = 0; i < e->nw; i++)
		remote = remote || e->w[i].remote;
	if (remote) {
		/* copies the target runs are looked at by a pass, every
		 * REMOTE_POLL_MS */
		double due = e->pass_at + REMOTE_POLL_MS / 1000.0 - ferry_monotonic();
		int ms = due <= 0 ? 0 : (int)(due * 1000) + 1;

		if (timeout_ms < 0 || ms < timeout_ms)
			timeout_ms = ms;
	}
	rc = poll(p, n, timeout_ms);
	if (remote && ferry_monotonic() >= e->pass_at + REMOTE_POLL_MS / 1000.0)
		e->moved = true;
	if (rc > 0) {
		for (size_t k = 0; k < n; k++) {
			if (!p[k].revents)
				continue;
			if (p[k].fd == extra_fd) {
				ready = 1;
				continue;
			}
			for (size_t i = 0; i < e->nw; i++)
				if (e->w[i].fd == p[k].fd)
					worker_read(e, &e->w[i]);
		}
	}
	free(p);
	return ready | (e->moved ? FERRY_WAIT_WORKER : 0);
}
