#include "internal.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/time.h"

#include <inttypes.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

/* How long a vSphere task may take before ferry gives up waiting (the
 * task itself goes on; a repeat finds it, or its work, and waits again). */
static const double POWER_TIMEOUT_S = 600;
static const double SNAPSHOT_TIMEOUT_S = 3600;
static const double RECONFIG_TIMEOUT_S = 600;

enum { MAX_QCDA_CALLS = 1000000 };

/* ---- tasks -------------------------------------------------------------------------------- */

int vs_task_info(const struct _xmlNode *oc, const char *what, int *progress, char **result,
		 char fault[VS_FAULT_MAX], struct ferry_err *err)
{
	char *state = vs_text(vs_propval(oc, "info.state"));
	char *p = vs_text(vs_propval(oc, "info.progress"));
	int rc = 1;

	fault[0] = '\0';
	*progress = p ? atoi(p) : -1;
	if (state && !strcmp(state, "success")) {
		if (result)
			*result = vs_text(vs_propval(oc, "info.result"));
		rc = 0;
	} else if (state && !strcmp(state, "error")) {
		vs_method_fault(vs_propval(oc, "info.error"), what, fault, err);
		rc = -1;
	} else if (!state) {
		ferry_err_set(err, FERRY_E_IO, "vsphere: %s: the task has no state", what);
		rc = -1;
	}
	free(state);
	free(p);
	return rc;
}

int vs_task_info_reply(const char *xml, size_t len, const char *what, int *progress, char **result,
		       char fault[VS_FAULT_MAX], struct ferry_err *err)
{
	struct vs_reply r = VS_REPLY_INIT;
	int rc = vs_parse_reply("RetrievePropertiesEx", 200, xml, len, &r, err);

	if (!rc)
		rc = vs_task_info(vs_child(vs_child(r.resp, "returnval"), "objects"), what,
				  progress, result, fault, err);
	vs_reply_release(&r);
	return rc;
}

/* Poll task's info until it ends: 0 (result, if asked, gets info.result),
 * or -1 with err and fault (the task's fault type, "" for others). */
static int task_wait(struct ferry_source *s, const char *task, const char *what, double timeout,
		     char **result, char fault[VS_FAULT_MAX], struct ferry_err *err)
{
	static const char *const paths[] = {"info.state", "info.progress", "info.error",
					    "info.result", NULL};
	double t0 = ferry_monotonic(), pause = 0.05;
	int last = -1;

	fault[0] = '\0';
	for (;;) {
		struct vs_reply r = VS_REPLY_INIT;
		xmlNode *o;
		int rc, progress;

		if (vs_retrieve(s, "Task", task, paths, &r, &o, err)) {
			snprintf(fault, VS_FAULT_MAX, "%s", r.fault);
			vs_reply_release(&r);
			return ferry_err_prefix(err, "waiting for %s (%s): ", what, task);
		}
		rc = vs_task_info(o, what, &progress, result, fault, err);
		vs_reply_release(&r);
		if (rc <= 0)
			return rc;
		if (progress >= 0 && progress != last) {
			last = progress;
			ferry_info("vsphere: %s: %s %d%%", s->label, what, last);
		}
		if (ferry_monotonic() - t0 > timeout)
			return ferry_err_set(err, FERRY_E_TIMEOUT,
					     "vsphere: %s: task %s still runs after %.0f s", what,
					     task, timeout);
		ferry_sleep(pause);
		pause = pause * 2 > 1 ? 1 : pause * 2;
	}
}

/* Call a *_Task method and wait for its task. */
static int run_task(struct ferry_source *s, const char *method, const char *body, const char *what,
		    double timeout, char **result, char fault[VS_FAULT_MAX], struct ferry_err *err)
{
	struct vs_reply r = VS_REPLY_INIT;
	char *task;
	int rc;

	if (vs_call(s->soap, method, body, &r, err)) {
		snprintf(fault, VS_FAULT_MAX, "%s", r.fault);
		vs_reply_release(&r);
		return -1;
	}
	task = vs_child_text(r.resp, "returnval");
	vs_reply_release(&r);
	if (!task)
		return ferry_err_set(err, FERRY_E_IO, "vsphere: %s: no task in the reply", method);
	rc = task_wait(s, task, what, timeout, result, fault, err);
	free(task);
	return rc;
}

/* ---- power ---------------------------------------------------------------------------------- */

/* The VM's properties paths, in *o of the reply r (released on failure). */
static int vm_props(struct ferry_source *s, const struct ferry_vm *vm, const char *const *paths,
		    struct vs_reply *r, xmlNode **o, struct ferry_err *err)
{
	if (vs_retrieve(s, "VirtualMachine", vm->id, paths, r, o, err)) {
		vs_reply_release(r);
		return ferry_err_prefix(err, "VM '%s' (%s): ", vm->name, vm->id);
	}
	return 0;
}

/* One property of the VM as text in *text (NULL when it has none; caller
 * frees). */
static int vm_prop_text(struct ferry_source *s, const struct ferry_vm *vm, const char *path,
			char **text, struct ferry_err *err)
{
	const char *const paths[] = {path, NULL};
	struct vs_reply r = VS_REPLY_INIT;
	xmlNode *o;

	*text = NULL;
	if (vm_props(s, vm, paths, &r, &o, err))
		return -1;
	*text = vs_text(vs_propval(o, path));
	vs_reply_release(&r);
	return 0;
}

int vs_power_state(struct ferry_source *s, const struct ferry_vm *vm, char **state,
		   struct ferry_err *err)
{
	char *p;

	*state = NULL;
	if (vm_prop_text(s, vm, "runtime.powerState", &p, err))
		return -1;
	if (!p)
		return ferry_err_set(err, FERRY_E_IO, "vsphere: VM '%s' (%s) has no power state",
				     vm->name, vm->id);
	*state = ferry_xstrdup(!strcmp(p, "poweredOn")	 ? "On"
			       : !strcmp(p, "suspended") ? "Suspended"
							 : "Off");
	free(p);
	return 0;
}

static int is_state(struct ferry_source *s, const struct ferry_vm *vm, const char *want,
		    struct ferry_err *err)
{
	char *st;
	int yes;

	if (vs_power_state(s, vm, &st, err))
		return -1;
	yes = !strcmp(st, want);
	free(st);
	return yes;
}

static int vm_method(struct ferry_source *s, const struct ferry_vm *vm, const char *method,
		     const char *extra, double timeout, char fault[VS_FAULT_MAX],
		     struct ferry_err *err)
{
	struct ferry_sb b = FERRY_SB_INIT;
	char *what = ferry_xasprintf("%s of VM '%s' (%s)", method, vm->name, vm->id);
	int rc = -1;

	fault[0] = '\0';
	if (!vs_add_this(&b, "VirtualMachine", vm->id, err)) {
		ferry_sb_adds(&b, extra ? extra : "");
		rc = run_task(s, method, b.buf, what, timeout, NULL, fault, err);
	}
	free(what);
	ferry_sb_release(&b);
	return rc;
}

/* ShutdownGuest of a VM that is on: 0 when the guest was asked; else -1
 * with FERRY_E_UNSUPPORTED (no tools, or a guest that cannot be asked) or
 * the call's own error. */
static int shutdown_guest(struct ferry_source *s, const struct ferry_vm *vm, struct ferry_err *err)
{
	struct ferry_sb b = FERRY_SB_INIT;
	struct vs_reply r = VS_REPLY_INIT;
	struct ferry_err e = FERRY_ERR_INIT;
	int rc = vs_add_this(&b, "VirtualMachine", vm->id, &e)
			 ? -1
			 : vs_call(s->soap, "ShutdownGuest", b.buf, &r, &e);

	ferry_sb_release(&b);
	vs_reply_release(&r);
	if (!rc)
		return 0;
	if (ferry_err_retryable(e.code) || e.code == FERRY_E_AUTH || e.code == FERRY_E_NOT_FOUND) {
		ferry_err_set(err, e.code, "%s", e.msg);
		return -1;
	}
	return ferry_err_set(err, FERRY_E_UNSUPPORTED, "VM '%s': the guest cannot be shut down: %s",
			     vm->name, e.msg);
}

int vs_guest_shutdown(struct ferry_source *s, const struct ferry_vm *vm, struct ferry_err *err)
{
	int off = is_state(s, vm, "Off", err);

	if (off)
		return off < 0 ? -1 : 0;
	return shutdown_guest(s, vm, err);
}

int vs_power_off(struct ferry_source *s, const struct ferry_vm *vm, unsigned guest_timeout_s,
		 struct ferry_err *err)
{
	char fault[VS_FAULT_MAX];
	int off = is_state(s, vm, "Off", err);

	if (off)
		return off < 0 ? -1 : 0;
	if (guest_timeout_s && is_state(s, vm, "On", err) == 1) {
		struct ferry_err e = FERRY_ERR_INIT;

		if (shutdown_guest(s, vm, &e)) {
			/* no tools, or a guest that cannot be asked: power off */
			ferry_info("vsphere: %s: VM '%s': no guest shutdown (%s); powering off",
				   s->label, vm->name, e.msg);
		} else {
			double t0 = ferry_monotonic();
			while (ferry_monotonic() - t0 < guest_timeout_s) {
				if ((off = is_state(s, vm, "Off", err)))
					return off < 0 ? -1 : 0;
				ferry_sleep(1);
			}
			if ((off = is_state(s, vm, "Off", err)))
				return off < 0 ? -1 : 0;
			ferry_warn(
				"vsphere: %s: VM '%s' is still on %u s after the guest was asked "
				"to shut down; powering it off",
				s->label, vm->name, guest_timeout_s);
		}
	}
	if (!vm_method(s, vm, "PowerOffVM_Task", NULL, POWER_TIMEOUT_S, fault, err))
		return 0;
	/* someone (or the guest) was quicker */
	if (!strcmp(fault, "InvalidPowerState") && is_state(s, vm, "Off", err) == 1)
		return 0;
	return -1;
}

int vs_power_on(struct ferry_source *s, const struct ferry_vm *vm, struct ferry_err *err)
{
	char fault[VS_FAULT_MAX];
	int on = is_state(s, vm, "On", err);

	if (on)
		return on < 0 ? -1 : 0;
	if (!vm_method(s, vm, "PowerOnVM_Task", NULL, POWER_TIMEOUT_S, fault, err))
		return 0;
	if (!strcmp(fault, "InvalidPowerState") && is_state(s, vm, "On", err) == 1)
		return 0;
	return -1;
}

/* ---- snapshots --------------------------------------------------------------------------------
 */

struct found {
	char *id;
	long seq; /* the tree's id: larger is newer */
};

static void search(const xmlNode *parent, const char *list, const char *name, struct found *f,
		   int depth)
{
	if (depth > 64)
		return;
	for (xmlNode *t = vs_child(parent, list); t; t = vs_next(t, list)) {
		char *n = vs_child_text(t, "name"), *id = vs_child_text(t, "id");
		long seq = id ? strtol(id, NULL, 10) : 0;
		if (n && !strcmp(n, name) && (!f->id || seq >= f->seq)) {
			free(f->id);
			f->id = vs_child_text(t, "snapshot");
			f->seq = seq;
		}
		free(n);
		free(id);
		search(t, "childSnapshotList", name, f, depth + 1);
	}
}

/* The disks of a snapshot (its config.hardware.device): ids, change ids. */
static int snapshot_disks(struct ferry_source *s, struct ferry_snapshot *out, struct ferry_err *err)
{
	static const char *const paths[] = {"config.hardware.device", NULL};
	struct vs_reply r = VS_REPLY_INIT;
	struct vs_disk *d;
	struct vs_nic *n;
	size_t nd, nn;
	xmlNode *o;

	if (vs_retrieve(s, "VirtualMachineSnapshot", out->id, paths, &r, &o, err)) {
		vs_reply_release(&r);
		return ferry_err_prefix(err, "snapshot %s: ", out->id);
	}
	vs_devices_parse(vs_propval(o, "config.hardware.device"), &d, &nd, &n, &nn);
	out->ndisks = nd;
	out->disk_ids = ferry_xcalloc(nd ? nd : 1, sizeof *out->disk_ids);
	out->change_ids = ferry_xcalloc(nd ? nd : 1, sizeof *out->change_ids);
	for (size_t i = 0; i < nd; i++) {
		out->disk_ids[i] = ferry_xasprintf("%" PRIu64, d[i].key);
		out->change_ids[i] = d[i].change_id ? ferry_xstrdup(d[i].change_id) : NULL;
	}
	vs_disks_free(d, nd);
	vs_nics_free(n, nn);
	vs_reply_release(&r);
	return 0;
}

int vs_snapshot_find(struct ferry_source *s, const struct ferry_vm *vm, const char *name,
		     struct ferry_snapshot *out, struct ferry_err *err)
{
	static const char *const paths[] = {"snapshot", NULL};
	struct vs_reply r = VS_REPLY_INIT;
	struct found f = {NULL, 0};
	xmlNode *o;

	memset(out, 0, sizeof *out);
	if (vm_props(s, vm, paths, &r, &o, err))
		return -1;
	search(vs_propval(o, "snapshot"), "rootSnapshotList", name, &f, 0);
	vs_reply_release(&r);
	if (!f.id)
		return ferry_err_set(err, FERRY_E_NOT_FOUND,
				     "vsphere: VM '%s' (%s) has no snapshot called '%s'", vm->name,
				     vm->id, name);
	out->id = f.id;
	out->name = ferry_xstrdup(name);
	if (snapshot_disks(s, out, err)) {
		ferry_snapshot_release(out);
		return -1;
	}
	return 0;
}

/* Wait for the VM's snapshot tasks that still run (a ferry killed while
 * one ran started it): afterwards the snapshot is found, or is not made. */
static void wait_snapshot_tasks(struct ferry_source *s, const struct ferry_vm *vm)
{
	static const char *const paths[] = {"recentTask", NULL};
	static const char *const tpaths[] = {"info.descriptionId", "info.state", NULL};
	struct vs_reply r = VS_REPLY_INIT;
	struct ferry_err e = FERRY_ERR_INIT;
	xmlNode *o, *v;

	if (vm_props(s, vm, paths, &r, &o, &e))
		goto out;
	v = vs_propval(o, "recentTask");
	for (xmlNode *t = vs_child(v, NULL); t; t = vs_next(t, NULL)) {
		struct vs_reply tr = VS_REPLY_INIT;
		char *task = vs_text(t), *desc = NULL, *state = NULL, fault[VS_FAULT_MAX];
		xmlNode *to;

		if (!vs_retrieve(s, "Task", task, tpaths, &tr, &to, &e)) {
			desc = vs_text(vs_propval(to, "info.descriptionId"));
			state = vs_text(vs_propval(to, "info.state"));
		}
		if (desc && !strcmp(desc, "VirtualMachine.createSnapshot") && state &&
		    (!strcmp(state, "running") || !strcmp(state, "queued"))) {
			ferry_info("vsphere: %s: VM '%s': waiting for snapshot task %s", s->label,
				   vm->name, task);
			task_wait(s, task, "CreateSnapshot_Task", SNAPSHOT_TIMEOUT_S, NULL, fault,
				  &e);
		}
		free(task);
		free(desc);
		free(state);
		vs_reply_release(&tr);
	}
out:
	vs_reply_release(&r);
}

int vs_snapshot_create(struct ferry_source *s, const struct ferry_vm *vm, const char *name,
		       struct ferry_snapshot *out, struct ferry_err *err)
{
	static const char *const paths[] = {"runtime.powerState", "guest.toolsRunningStatus", NULL};
	struct vs_reply r = VS_REPLY_INIT;
	struct ferry_err e = FERRY_ERR_INIT;
	char fault[VS_FAULT_MAX], *on = NULL, *tools = NULL, *snap = NULL;
	xmlNode *o;
	bool quiesce;
	int rc = -1;

	memset(out, 0, sizeof *out);
	wait_snapshot_tasks(s, vm);
	if (!vs_snapshot_find(s, vm, name, out, &e)) {
		ferry_info("vsphere: %s: VM '%s' already has snapshot '%s' (%s)", s->label,
			   vm->name, name, out->id);
		return 0;
	}
	if (e.code != FERRY_E_NOT_FOUND) {
		*err = e;
		return -1;
	}
	if (vm_props(s, vm, paths, &r, &o, err))
		goto out;
	on = vs_text(vs_propval(o, "runtime.powerState"));
	tools = vs_text(vs_propval(o, "guest.toolsRunningStatus"));
	quiesce = on && !strcmp(on, "poweredOn") && tools && !strcmp(tools, "guestToolsRunning");
	for (int attempt = 0; attempt < 2; attempt++) {
		struct ferry_sb b = FERRY_SB_INIT;
		char *what =
			ferry_xasprintf("CreateSnapshot_Task of VM '%s' (%s)", vm->name, vm->id);

		if (vs_add_this(&b, "VirtualMachine", vm->id, err) ||
		    vs_add_text(&b, "name", name, err) ||
		    vs_add_text(&b, "description", "made by ferry", err)) {
			free(what);
			ferry_sb_release(&b);
			goto out;
		}
		ferry_sb_addf(&b, "<memory>false</memory><quiesce>%s</quiesce>",
			      quiesce ? "true" : "false");
		rc = run_task(s, "CreateSnapshot_Task", b.buf, what, SNAPSHOT_TIMEOUT_S, &snap,
			      fault, err);
		free(what);
		ferry_sb_release(&b);
		if (!rc || !quiesce || !*fault)
			break;
		ferry_warn("vsphere: %s: VM '%s': a quiesced snapshot failed (%s); taking one "
			   "without quiescing",
			   s->label, vm->name, err->msg);
		quiesce = false;
	}
	if (rc)
		goto out;
	rc = -1;
	if (!snap) {
		ferry_err_set(err, FERRY_E_IO,
			      "vsphere: CreateSnapshot_Task: no snapshot in the "
			      "task's result");
		goto out;
	}
	out->id = snap;
	snap = NULL;
	out->name = ferry_xstrdup(name);
	if (snapshot_disks(s, out, err))
		goto out;
	rc = 0;
out:
	if (rc)
		ferry_snapshot_release(out);
	free(snap);
	free(on);
	free(tools);
	vs_reply_release(&r);
	return rc;
}

int vs_snapshot_remove(struct ferry_source *s, const struct ferry_vm *vm, const char *snapshot_id,
		       struct ferry_err *err)
{
	struct ferry_sb b = FERRY_SB_INIT;
	char fault[VS_FAULT_MAX] = "";
	char *what = ferry_xasprintf("RemoveSnapshot_Task of %s of VM '%s' (%s)", snapshot_id,
				     vm->name, vm->id);
	int rc = -1;

	if (!vs_add_this(&b, "VirtualMachineSnapshot", snapshot_id, err)) {
		ferry_sb_adds(&b, "<removeChildren>false</removeChildren>"
				  "<consolidate>true</consolidate>");
		rc = run_task(s, "RemoveSnapshot_Task", b.buf, what, SNAPSHOT_TIMEOUT_S, NULL,
			      fault, err);
		if (rc && !strcmp(fault, "ManagedObjectNotFound")) {
			ferry_debug("vsphere: %s: snapshot %s is gone already", s->label,
				    snapshot_id);
			rc = 0;
		}
	}
	free(what);
	ferry_sb_release(&b);
	return rc;
}

int vs_cbt_enable(struct ferry_source *s, const struct ferry_vm *vm, struct ferry_err *err)
{
	char fault[VS_FAULT_MAX];
	char *on;

	if (vm_prop_text(s, vm, "config.changeTrackingEnabled", &on, err))
		return -1;
	if (on && !strcmp(on, "true")) {
		free(on);
		return 0;
	}
	free(on);
	return vm_method(s, vm, "ReconfigVM_Task",
			 "<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>",
			 RECONFIG_TIMEOUT_S, fault, err);
}

/* ---- changed areas ------------------------------------------------------------------------------
 */

static void add_area(struct ferry_changed_areas *c, uint64_t start, uint64_t len)
{
	if (!len)
		return;
	if (c->n && c->v[c->n - 1].start + c->v[c->n - 1].length == start) {
		c->v[c->n - 1].length += len;
		return;
	}
	c->v = ferry_grow(c->v, &c->cap, c->n + 1, sizeof *c->v);
	c->v[c->n].start = start;
	c->v[c->n].length = len;
	c->n++;
}

int vs_qcda_parse(const struct _xmlNode *resp, uint64_t from, uint64_t capacity,
		  struct ferry_changed_areas *out, uint64_t *next, struct ferry_err *err)
{
	xmlNode *rv = vs_child(resp, "returnval");
	uint64_t so, len, end = from;

	if (!rv || vs_child_u64(rv, "startOffset", &so) || vs_child_u64(rv, "length", &len) ||
	    !vs_child(rv, "startOffset") || !vs_child(rv, "length"))
		return ferry_err_set(err, FERRY_E_IO,
				     "vsphere: QueryChangedDiskAreas: a reply without startOffset "
				     "and length");
	if (so != from || len > UINT64_MAX - so || len == 0)
		return ferry_err_set(err, FERRY_E_IO,
				     "vsphere: QueryChangedDiskAreas: asked from %" PRIu64
				     ", got %" PRIu64 " bytes from %" PRIu64,
				     from, len, so);
	for (xmlNode *a = vs_child(rv, "changedArea"); a; a = vs_next(a, "changedArea")) {
		uint64_t st, l;
		if (vs_child_u64(a, "start", &st) || vs_child_u64(a, "length", &l) ||
		    l > UINT64_MAX - st)
			return ferry_err_set(err, FERRY_E_IO,
					     "vsphere: QueryChangedDiskAreas: a bad changedArea");
		if (st < end) { /* overlap or disorder: keep what is new */
			if (st + l <= end)
				continue;
			l -= end - st;
			st = end;
		}
		if (st >= capacity)
			continue;
		if (l > capacity - st)
			l = capacity - st;
		add_area(out, st, l);
		end = st + l;
	}
	*next = so + len;
	return 0;
}

int vs_qcda_parse_reply(const char *xml, size_t len, uint64_t from, uint64_t capacity,
			struct ferry_changed_areas *out, uint64_t *next, struct ferry_err *err)
{
	struct vs_reply r = VS_REPLY_INIT;
	int rc = vs_parse_reply("QueryChangedDiskAreas", 200, xml, len, &r, err);

	if (!rc)
		rc = vs_qcda_parse(r.resp, from, capacity, out, next, err);
	vs_reply_release(&r);
	return rc;
}

/* Disk key's capacity in a device list. */
static int disk_capacity(struct ferry_source *s, const char *type, const char *ref, uint64_t key,
			 uint64_t *cap, struct ferry_err *err)
{
	static const char *const paths[] = {"config.hardware.device", NULL};
	struct vs_reply r = VS_REPLY_INIT;
	struct vs_disk *d;
	struct vs_nic *n;
	size_t nd, nn;
	xmlNode *o;
	int rc = -1;

	if (vs_retrieve(s, type, ref, paths, &r, &o, err)) {
		vs_reply_release(&r);
		return -1;
	}
	vs_devices_parse(vs_propval(o, "config.hardware.device"), &d, &nd, &n, &nn);
	for (size_t i = 0; i < nd; i++)
		if (d[i].key == key) {
			*cap = d[i].capacity;
			rc = 0;
		}
	if (rc)
		ferry_err_set(err, FERRY_E_NOT_FOUND, "vsphere: %s has no disk %" PRIu64, ref, key);
	vs_disks_free(d, nd);
	vs_nics_free(n, nn);
	vs_reply_release(&r);
	return rc;
}

int vs_disk_key(const struct ferry_vm *vm, size_t i, uint64_t *key, struct ferry_err *err)
{
	char *end;

	if (i >= vm->ndisks)
		return ferry_err_set(err, FERRY_E_INVALID, "VM '%s' has no disk %zu", vm->name, i);
	*key = strtoull(vm->disks[i].id, &end, 10);
	if (*end || !*vm->disks[i].id)
		return ferry_err_set(err, FERRY_E_INVALID, "VM '%s': disk id '%s' is not a key",
				     vm->name, vm->disks[i].id);
	return 0;
}

int vs_changed_areas(struct ferry_source *s, const struct ferry_vm *vm, size_t i,
		     const char *snapshot_id, const char *since, struct ferry_changed_areas *out,
		     struct ferry_err *err)
{
	uint64_t key, cap = 0, at = 0;

	memset(out, 0, sizeof *out);
	if (vs_disk_key(vm, i, &key, err))
		return -1;
	if (disk_capacity(s, snapshot_id ? "VirtualMachineSnapshot" : "VirtualMachine",
			  snapshot_id ? snapshot_id : vm->id, key, &cap, err))
		return -1;
	out->size = cap;
	for (unsigned calls = 0; at < cap; calls++) {
		struct ferry_sb b = FERRY_SB_INIT;
		struct vs_reply r = VS_REPLY_INIT;
		uint64_t next = 0;
		int rc;

		if (calls == MAX_QCDA_CALLS) {
			ferry_err_set(err, FERRY_E_LIMIT,
				      "vsphere: QueryChangedDiskAreas: more than %d calls for one "
				      "disk",
				      MAX_QCDA_CALLS);
			goto fail;
		}
		rc = vs_add_this(&b, "VirtualMachine", vm->id, err) ||
		     (snapshot_id &&
		      vs_add_moref(&b, "snapshot", "VirtualMachineSnapshot", snapshot_id, err));
		if (!rc) {
			ferry_sb_addf(&b, "<deviceKey>%" PRIu64 "</deviceKey>", key);
			ferry_sb_addf(&b, "<startOffset>%" PRIu64 "</startOffset>", at);
			rc = vs_add_text(&b, "changeId", since && *since ? since : "*", err) ||
			     vs_call(s->soap, "QueryChangedDiskAreas", b.buf, &r, err) ||
			     vs_qcda_parse(r.resp, at, cap, out, &next, err);
		}
		ferry_sb_release(&b);
		vs_reply_release(&r);
		if (rc)
			goto fail;
		at = next;
	}
	return 0;
fail:
	ferry_err_prefix(err, "VM '%s' (%s) disk %s: ", vm->name, vm->id, vm->disks[i].id);
	ferry_changed_areas_release(out);
	return -1;
}
