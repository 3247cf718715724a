/* The KubeVirt target (docs/ferry-target-kubevirt.7.md): volumes
 * (DataVolumes or PVCs), VirtualMachines and transfer Jobs in a cluster,
 * through the REST client of kube.h and the builders of objects.h.
 *
 * Everything ferry makes carries its owner labels (objects.h), and every
 * call finds what exists by them rather than by name: a call repeated after
 * a crash finds what the first one made, also under a name the server
 * chose. Objects of the same name without ferry's labels are never taken
 * over or deleted.
 *
 * One client serves the target; a mutex makes each operation one at a time
 * (the client makes one request at a time), so the ops may be called from
 * several threads.
 */
#include "providers/target.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "providers/kubevirt/kube.h"
#include "providers/kubevirt/kubeconfig.h"
#include "providers/kubevirt/objects.h"
#include "providers/kubevirt/observe.h"

/* Pod retries of a transfer Job before it fails: `ferry copy` retries
 * itself; these cover a pod lost with its node. */
#define JOB_BACKOFF_LIMIT 2

/* The tail of a running copy's log read for its progress: `ferry copy`
 * writes a progress line every 0.1 s, so the last one is among the last
 * few lines; a tail of long lines is not worth reading. */
#define LOG_TAIL_LINES 10
#define LOG_TAIL_MAX   (16u << 10)

struct ferry_target {
	pthread_mutex_t lock;
	struct ferry_kube *kube;
	bool pvc; /* volumes = pvc */
	char *worker_image, *service_account, *cpu, *memory;
	struct ferry_target_label *node_selector; /* pointing into strings */
	char **strings;				  /* key, value, key, value, ... */
	size_t nnode_selector;
};

/* ---- small helpers ---------------------------------------------------------------- */

static const char *str_at(json_t *obj, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(obj, a), b));
}

static const char *label_of(json_t *obj, const char *key)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), key));
}

static bool made_by_ferry(json_t *obj)
{
	const char *m = label_of(obj, FERRY_KUBE_LABEL_MANAGED_BY);

	return m && !strcmp(m, "ferry");
}

/* "k=v,k=v" of a label object (values are valid label values: no ','). */
static char *selector_of(json_t *labels)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	const char *k;
	json_t *v;

	json_object_foreach(labels, k, v)
	{
		ferry_sb_addf(&sb, "%s%s=%s", sb.len ? "," : "", k, json_string_value(v));
	}
	return ferry_sb_detach(&sb);
}

/* Every owner label of disk i of vm, and op_id when given. */
static char *disk_selector(const struct ferry_target_vm *vm, size_t i, const char *op_id)
{
	json_t *labels = ferry_kube_owner_labels(vm, (int)i);
	char *sel;

	if (op_id)
		json_object_set_new(labels, FERRY_KUBE_LABEL_OP, json_string(op_id));
	sel = selector_of(labels);
	json_decref(labels);
	return sel;
}

/* Does obj carry every owner label of disk i of vm? */
static bool owns_disk(json_t *obj, const struct ferry_target_vm *vm, size_t i)
{
	json_t *labels = ferry_kube_owner_labels(vm, (int)i), *v;
	bool ok = true;
	const char *k;

	json_object_foreach(labels, k, v)
	{
		const char *have = label_of(obj, k);

		if (!have || strcmp(have, json_string_value(v)))
			ok = false;
	}
	json_decref(labels);
	return ok;
}

/* The oldest item of a list (creationTimestamp, then name): the first one
 * made, should a crash between create and list ever have left two. */
static json_t *oldest(json_t *items)
{
	json_t *best = NULL, *o;
	size_t i;

	json_array_foreach(items, i, o)
	{
		const char *ts = str_at(o, "metadata", "creationTimestamp");
		const char *bts = best ? str_at(best, "metadata", "creationTimestamp") : NULL;
		int c;

		if (!best) {
			best = o;
			continue;
		}
		c = strcmp(ts ? ts : "", bts ? bts : "");
		if (c == 0) {
			const char *n = str_at(o, "metadata", "name");
			const char *bn = str_at(best, "metadata", "name");

			c = strcmp(n ? n : "", bn ? bn : "");
		}
		if (c < 0)
			best = o;
	}
	return best;
}

static int list(struct ferry_target *t, const char *group, const char *version,
		const char *resource, const char *ns, const char *selector, json_t **items,
		struct ferry_err *err)
{
	struct ferry_kube_ref r = {group, version, resource, ns, NULL};
	struct ferry_kube_list_opts lo = {selector, NULL, 0};

	return ferry_kube_list(t->kube, &r, &lo, items, NULL, err);
}

/* GET into *out; a missing object is *out NULL and 0. */
static int get_opt(struct ferry_target *t, const struct ferry_kube_ref *r, json_t **out,
		   struct ferry_err *err)
{
	struct ferry_err e = FERRY_ERR_INIT;

	*out = NULL;
	if (!ferry_kube_get(t->kube, r, out, &e))
		return 0;
	if (e.code == FERRY_E_NOT_FOUND)
		return 0;
	*err = e;
	return -1;
}

/* DELETE; a missing object is fine. */
static int delete_opt(struct ferry_target *t, const struct ferry_kube_ref *r, struct ferry_err *err)
{
	struct ferry_err e = FERRY_ERR_INIT;

	if (!ferry_kube_delete(t->kube, r, "Background", &e) || e.code == FERRY_E_NOT_FOUND)
		return 0;
	*err = e;
	return -1;
}

static const char *volume_kind(const struct ferry_target *t)
{
	return t->pvc ? "PersistentVolumeClaim" : "DataVolume";
}

static struct ferry_kube_ref volume_ref(const struct ferry_target *t, const char *ns,
					const char *name)
{
	struct ferry_kube_ref dv = {FERRY_KUBE_DATAVOLUMES, ns, name};
	struct ferry_kube_ref pvc = {FERRY_KUBE_PVCS, ns, name};

	return t->pvc ? pvc : dv;
}

/* The volume (DataVolume or PVC, as configured) of disk i, or *out NULL. */
static int find_volume(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
		       json_t **out, struct ferry_err *err)
{
	struct ferry_kube_ref r = volume_ref(t, vm->ns, NULL);
	char *sel = disk_selector(vm, i, NULL);
	json_t *items = NULL;
	int rc;

	*out = NULL;
	rc = list(t, r.group, r.version, r.resource, vm->ns, sel, &items, err);
	free(sel);
	if (rc)
		return -1;
	*out = oldest(items);
	json_incref(*out);
	json_decref(items);
	return 0;
}

static int check_disk(const struct ferry_target_vm *vm, size_t i, struct ferry_err *err)
{
	if (ferry_kube_check_label("namespace", vm->ns, err) ||
	    ferry_kube_check_label("VM name", vm->name, err))
		return -1;
	if (i >= vm->ndisks)
		return ferry_err_set(err, FERRY_E_INTERNAL, "VM %s/%s has no disk %zu", vm->ns,
				     vm->name, i);
	return ferry_kube_check_subdomain("disk name", vm->disks[i].name, err);
}

/* ---- open and close ------------------------------------------------------------------ */

static void target_free(struct ferry_target *t)
{
	if (!t)
		return;
	ferry_kube_close(t->kube);
	free(t->worker_image);
	free(t->service_account);
	free(t->cpu);
	free(t->memory);
	for (size_t i = 0; i < 2 * t->nnode_selector; i++)
		free(t->strings[i]);
	free(t->strings);
	free(t->node_selector);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static char *dup_opt(const char *s)
{
	return s && *s ? ferry_xstrdup(s) : NULL;
}

/* A cluster given by address: a destination Provider's url with the token
 * (and cacert, insecureSkipVerify) of its Secret. With insecureSkipVerify
 * the CA is not consulted, as Forklift does, so a Secret may hold both. */
static int for_url(const struct ferry_target_config *cfg, struct ferry_kubeconfig *kc,
		   struct ferry_err *err)
{
	if (!cfg->token || !*cfg->token)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "cluster %s: no token (a cluster given by url needs the token "
				     "of a service account)",
				     cfg->url);
	return ferry_kubeconfig_for_server(cfg->url, cfg->token,
					   cfg->insecure_skip_verify ? NULL : cfg->cacert,
					   cfg->insecure_skip_verify, NULL, kc, err);
}

/* The kubeconfig the target uses: a url (for_url); else the configured
 * file; else, in a pod (and with no context asked for), the pod's service
 * account; else $KUBECONFIG, else ~/.kube/config. */
static int load_kubeconfig(const struct ferry_target_config *cfg, struct ferry_kubeconfig *kc,
			   struct ferry_err *err)
{
	struct ferry_err e = FERRY_ERR_INIT;

	if (cfg->url && *cfg->url)
		return for_url(cfg, kc, err);
	if (cfg->kubeconfig && *cfg->kubeconfig)
		return ferry_kubeconfig_load(cfg->kubeconfig, cfg->context, kc, err);
	if ((cfg->context && *cfg->context) || !getenv("KUBERNETES_SERVICE_HOST"))
		return ferry_kubeconfig_load(NULL, cfg->context, kc, err);
	if (!ferry_kubeconfig_in_cluster(NULL, kc, &e))
		return 0;
	/* in a pod without a readable service account: a kubeconfig at
	 * hand still does; else the service account's problem is the news */
	if (!ferry_kubeconfig_load(NULL, NULL, kc, err))
		return 0;
	*err = e;
	return -1;
}

static int kubevirt_open(struct ferry_target **out, const struct ferry_target_config *cfg,
			 struct ferry_err *err)
{
	struct ferry_kubeconfig kc = FERRY_KUBECONFIG_INIT;
	struct ferry_target *t;

	*out = NULL;
	if (!cfg)
		return ferry_err_set(err, FERRY_E_INVALID, "[target] is not set");
	if (cfg->volumes && strcmp(cfg->volumes, "datavolume") && strcmp(cfg->volumes, "pvc"))
		return ferry_err_set(err, FERRY_E_INVALID,
				     "[target] volumes: expected datavolume or pvc, got '%s'",
				     cfg->volumes);
	for (size_t i = 0; i < cfg->nworker_node_selector; i++) {
		const struct ferry_target_label *l = &cfg->worker_node_selector[i];

		if (!l->key || !ferry_kube_label_key_ok(l->key) || !l->value ||
		    !ferry_kube_label_value_ok(l->value))
			return ferry_err_set(err, FERRY_E_INVALID,
					     "[target] worker_node_selector: '%s=%s' is not a "
					     "valid label",
					     l->key ? l->key : "", l->value ? l->value : "");
	}
	if (cfg->worker_service_account &&
	    ferry_kube_check_subdomain("[target] worker_service_account",
				       cfg->worker_service_account, err))
		return -1;
	if (load_kubeconfig(cfg, &kc, err)) {
		ferry_err_prefix(err, "kubevirt target: ");
		return -1;
	}
	t = ferry_xcalloc(1, sizeof *t);
	pthread_mutex_init(&t->lock, NULL);
	t->pvc = cfg->volumes && !strcmp(cfg->volumes, "pvc");
	t->worker_image = dup_opt(cfg->worker_image);
	t->service_account = dup_opt(cfg->worker_service_account);
	t->cpu = dup_opt(cfg->worker_cpu);
	t->memory = dup_opt(cfg->worker_memory);
	if (cfg->nworker_node_selector) {
		size_t n = cfg->nworker_node_selector;

		t->node_selector = ferry_xcalloc(n, sizeof *t->node_selector);
		t->strings = ferry_xcalloc(2 * n, sizeof *t->strings);
		for (size_t i = 0; i < n; i++) {
			t->strings[2 * i] = ferry_xstrdup(cfg->worker_node_selector[i].key);
			t->strings[2 * i + 1] = ferry_xstrdup(cfg->worker_node_selector[i].value);
			t->node_selector[i].key = t->strings[2 * i];
			t->node_selector[i].value = t->strings[2 * i + 1];
		}
		t->nnode_selector = n;
	}
	if (ferry_kube_open(&t->kube, &kc, NULL, err)) {
		ferry_kubeconfig_release(&kc);
		target_free(t);
		return -1;
	}
	ferry_kubeconfig_release(&kc);
	*out = t;
	return 0;
}

static void kubevirt_close(struct ferry_target *t)
{
	target_free(t);
}

/* ---- disks ----------------------------------------------------------------------------- */

/* The StorageClass's provisioner and parameters as the builders take them
 * (borrowed from *sc, which the caller releases after building). */
struct class_info {
	json_t *sc;
	struct ferry_target_label *params;
	size_t nparams;
};

/* The class a volume that names none gets in this cluster (*sc NULL when
 * there is none): the DataVolumes' own default first, as CDI picks it. */
static int default_class(struct ferry_target *t, json_t **sc, struct ferry_err *err)
{
	json_t *items = NULL;

	*sc = NULL;
	if (list(t, FERRY_KUBE_STORAGECLASSES, NULL, NULL, &items, err))
		return -1;
	*sc = json_incref(ferry_kube_default_storage_class(items, !t->pvc));
	json_decref(items);
	return 0;
}

/* The StorageMap's class of disk i, else the cluster's default: either
 * must exist, as the modes depend on its provisioner. */
static int read_storage_class(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			      struct class_info *ci, struct ferry_err *err)
{
	const char *name = vm->disks[i].storage_class;
	struct ferry_kube_ref r = {FERRY_KUBE_STORAGECLASSES, NULL, name};
	json_t *params, *v;
	const char *k;

	memset(ci, 0, sizeof *ci);
	if (!name) {
		if (default_class(t, &ci->sc, err))
			return -1;
		if (!ci->sc)
			return ferry_err_set(
				err, FERRY_E_NOT_FOUND,
				"no storage class in the StorageMap and the cluster has "
				"no default StorageClass (disk %s)",
				vm->disks[i].name);
	} else if (get_opt(t, &r, &ci->sc, err)) {
		return -1;
	} else if (!ci->sc) {
		return ferry_err_set(err, FERRY_E_NOT_FOUND,
				     "Destination storage class not found: %s (the StorageMap "
				     "destination of disk %s)",
				     name, vm->disks[i].name);
	}
	params = json_object_get(ci->sc, "parameters");
	ci->params = ferry_xcalloc(json_object_size(params) + 1, sizeof *ci->params);
	json_object_foreach(params, k, v)
	{
		if (!json_is_string(v))
			continue;
		ci->params[ci->nparams].key = k;
		ci->params[ci->nparams++].value = json_string_value(v);
	}
	return 0;
}

static void class_release(struct class_info *ci)
{
	json_decref(ci->sc);
	free(ci->params);
}

/* The storage request of a DataVolume (spec.storage or spec.pvc) or PVC. */
static const char *requested(json_t *vol)
{
	json_t *spec = json_object_get(vol, "spec");
	json_t *s = json_object_get(spec, "storage");

	if (!s)
		s = json_object_get(spec, "pvc");
	if (!s)
		s = spec;
	return json_string_value(json_object_get(
		json_object_get(json_object_get(s, "resources"), "requests"), "storage"));
}

/* An existing volume is kept unless it is smaller than the disk needs or on
 * its way out. */
static int check_existing(const struct ferry_target *t, json_t *have, json_t *want,
			  struct ferry_err *err)
{
	const char *hq = requested(have), *wq = requested(want);
	const char *name = str_at(have, "metadata", "name");
	const char *ns = str_at(have, "metadata", "namespace");
	uint64_t hb, wb;

	if (str_at(have, "metadata", "deletionTimestamp"))
		return ferry_err_set(err, FERRY_E_RETRYABLE, "%s %s/%s is being deleted",
				     volume_kind(t), ns, name);
	if (hq && wq && !ferry_kube_parse_quantity(hq, &hb) &&
	    !ferry_kube_parse_quantity(wq, &wb) && hb < wb)
		return ferry_err_set(err, FERRY_E_CONFLICT,
				     "%s %s/%s exists with %s, the disk needs %s", volume_kind(t),
				     ns, name, hq, wq);
	return 0;
}

static int disk_create_locked(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			      char **uri, struct ferry_err *err)
{
	struct ferry_kube_ref nsref = {FERRY_KUBE_NAMESPACES, NULL, vm->ns};
	struct ferry_kube_ref vref = volume_ref(t, vm->ns, NULL);
	struct class_info ci = {0};
	struct ferry_kube_volume_opts vo = {0};
	json_t *nsobj = NULL, *want = NULL, *have = NULL;
	struct ferry_err e = FERRY_ERR_INIT;
	int rc = -1;

	if (check_disk(vm, i, err))
		return -1;
	if (get_opt(t, &nsref, &nsobj, err))
		return -1;
	if (!nsobj)
		return ferry_err_set(err, FERRY_E_NOT_FOUND, "Target namespace not found: %s",
				     vm->ns);
	json_decref(nsobj);
	if (read_storage_class(t, vm, i, &ci, err))
		goto out;
	vo.generate_name = vm->pvc_generate_name;
	vo.storage_class = str_at(ci.sc, "metadata", "name");
	vo.provisioner = json_string_value(json_object_get(ci.sc, "provisioner"));
	vo.params = ci.params;
	vo.nparams = ci.nparams;
	if ((t->pvc ? ferry_kube_pvc_build : ferry_kube_datavolume_build)(vm, i, &vo, &want, err))
		goto out;
	if (find_volume(t, vm, i, &have, err))
		goto out;
	if (!have && ferry_kube_create(t->kube, &vref, want, &have, &e)) {
		struct ferry_kube_ref named = volume_ref(t, vm->ns, vm->disks[i].name);

		if (e.code != FERRY_E_EXISTS) {
			*err = e;
			goto out;
		}
		if (vo.generate_name) {
			/* the random suffix met a name in use: a new one next time */
			ferry_err_set(err, FERRY_E_RETRYABLE, "%s", e.msg);
			goto out;
		}
		/* the name is taken: by an earlier call (a race), or by
		 * something that is not ferry's */
		if (get_opt(t, &named, &have, err))
			goto out;
		if (!have || !owns_disk(have, vm, i)) {
			ferry_err_set(err, FERRY_E_CONFLICT,
				      "%s %s/%s exists and was not made by ferry for disk %zu of "
				      "VM %s; remove it, or name the volume otherwise "
				      "(pvcNameTemplate)",
				      volume_kind(t), vm->ns, vm->disks[i].name, i, vm->name);
			goto out;
		}
	}
	if (check_existing(t, have, want, err))
		goto out;
	*uri = ferry_xasprintf("kubevirt://%s/%s", vm->ns, str_at(have, "metadata", "name"));
	rc = 0;
out:
	json_decref(have);
	json_decref(want);
	class_release(&ci);
	return rc;
}

static int kubevirt_disk_create(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
				char **uri, struct ferry_err *err)
{
	int rc;

	*uri = NULL;
	pthread_mutex_lock(&t->lock);
	rc = disk_create_locked(t, vm, i, uri, err);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* ---- the VirtualMachine ---------------------------------------------------------------- */

static int check_networks(struct ferry_target *t, const struct ferry_target_vm *vm,
			  struct ferry_err *err)
{
	for (size_t i = 0; i < vm->nnics; i++) {
		const struct ferry_target_nic *c = &vm->nics[i];
		const char *slash;
		char *ns;
		json_t *nad = NULL;
		int rc;

		if (strcmp(c->type, "multus"))
			continue;
		slash = strchr(c->network, '/');
		ns = ferry_xstrndup(c->network, (size_t)(slash - c->network));
		{
			struct ferry_kube_ref r = {FERRY_KUBE_NADS, ns, slash + 1};

			rc = get_opt(t, &r, &nad, err);
		}
		free(ns);
		if (rc)
			return -1;
		if (!nad)
			return ferry_err_set(err, FERRY_E_NOT_FOUND,
					     "Destination network not found: %s (interface %s of "
					     "VM %s/%s)",
					     c->network, c->name, vm->ns, vm->name);
		json_decref(nad);
	}
	return 0;
}

struct replace {
	json_t *want;
};

/* ferry's labels and spec over the object as read; annotations added to
 * the ones there (KubeVirt's controllers keep theirs). */
static int replace_vm(void *arg, json_t *obj, struct ferry_err *err)
{
	struct replace *r = arg;
	json_t *before = json_deep_copy(obj);
	json_t *meta = json_object_get(obj, "metadata");
	json_t *wmeta = json_object_get(r->want, "metadata");
	json_t *ann = json_object_get(meta, "annotations");
	int rc;

	(void)err;
	json_object_set(meta, "labels", json_object_get(wmeta, "labels"));
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(meta, "annotations", ann);
	}
	json_object_update(ann, json_object_get(wmeta, "annotations"));
	json_object_set_new(obj, "spec", json_deep_copy(json_object_get(r->want, "spec")));
	rc = json_equal(before, obj) ? 1 : 0;
	json_decref(before);
	return rc;
}

/* Was obj made by ferry for vm's source VM? */
static bool vm_ours(json_t *obj, const struct ferry_target_vm *vm)
{
	const char *have = label_of(obj, FERRY_KUBE_LABEL_VM_ID);
	char *want;
	bool ok;

	if (!made_by_ferry(obj))
		return false;
	if (!vm->source_vm_id)
		return true;
	want = ferry_kube_label_value(vm->source_vm_id);
	ok = have && !strcmp(have, want);
	free(want);
	return ok;
}

static int not_ours(const struct ferry_target_vm *vm, struct ferry_err *err)
{
	return ferry_err_set(err, FERRY_E_CONFLICT,
			     "VirtualMachine %s/%s exists and was not made by ferry for this "
			     "source VM; remove it, or choose another target name",
			     vm->ns, vm->name);
}

/* The VM as built for the claims disk_create made. */
static int build_vm(struct ferry_target *t, const struct ferry_target_vm *vm, json_t **want,
		    struct ferry_err *err)
{
	json_t **vols = ferry_xcalloc(vm->ndisks + 1, sizeof *vols);
	const char **claims = ferry_xcalloc(vm->ndisks + 1, sizeof *claims);
	struct ferry_kube_vm_opts o = {0};
	int rc = -1;

	for (size_t i = 0; i < vm->ndisks; i++) {
		if (find_volume(t, vm, i, &vols[i], err))
			goto out;
		if (!vols[i]) {
			ferry_err_set(err, FERRY_E_NOT_FOUND,
				      "VM %s/%s: disk %s has no %s yet (disk_create first)", vm->ns,
				      vm->name, vm->disks[i].name, volume_kind(t));
			goto out;
		}
		claims[i] = str_at(vols[i], "metadata", "name");
	}
	o.claim_kind = t->pvc ? FERRY_KUBE_CLAIM_PVC : FERRY_KUBE_CLAIM_DATAVOLUME;
	o.claim_names = claims;
	rc = ferry_kube_vm_build(vm, &o, want, err);
out:
	for (size_t i = 0; i < vm->ndisks; i++)
		json_decref(vols[i]);
	free(vols);
	free(claims);
	return rc;
}

static int vm_create_locked(struct ferry_target *t, const struct ferry_target_vm *vm,
			    struct ferry_err *err)
{
	struct ferry_kube_ref r = {FERRY_KUBE_VMS, vm->ns, vm->name};
	json_t *want = NULL, *have = NULL;
	struct ferry_err e = FERRY_ERR_INIT;
	struct replace rep;
	int rc = -1;

	if (ferry_kube_check_vm(vm, err) || check_networks(t, vm, err))
		return -1;
	if (get_opt(t, &r, &have, err))
		return -1;
	if (have && !vm_ours(have, vm)) {
		not_ours(vm, err);
		goto out;
	}
	if (build_vm(t, vm, &want, err))
		goto out;
	if (!have) {
		if (!ferry_kube_create(t->kube, &r, want, NULL, &e)) {
			rc = 0;
			goto out;
		}
		if (e.code != FERRY_E_EXISTS) {
			*err = e;
			goto out;
		}
		/* made meanwhile: replace it as below, if it is ours */
		if (get_opt(t, &r, &have, err))
			goto out;
		if (!have) {
			ferry_err_set(err, FERRY_E_RETRYABLE,
				      "VirtualMachine %s/%s was there and then was not", vm->ns,
				      vm->name);
			goto out;
		}
		if (!vm_ours(have, vm)) {
			not_ours(vm, err);
			goto out;
		}
	}
	rep.want = want;
	rc = ferry_kube_update(t->kube, &r, replace_vm, &rep, NULL, err);
out:
	json_decref(have);
	json_decref(want);
	return rc;
}

static int kubevirt_vm_create(struct ferry_target *t, const struct ferry_target_vm *vm,
			      struct ferry_err *err)
{
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = vm_create_locked(t, vm, err);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static int kubevirt_vm_exists(struct ferry_target *t, const char *ns, const char *name,
			      bool *exists, char digest[FERRY_TARGET_DIGEST], struct ferry_err *err)
{
	struct ferry_kube_ref r = {FERRY_KUBE_VMS, ns, name};
	json_t *vm = NULL;
	int rc;

	*exists = false;
	if (digest)
		digest[0] = '\0';
	if (ferry_kube_check_label("namespace", ns, err) ||
	    ferry_kube_check_label("VM name", name, err))
		return -1;
	pthread_mutex_lock(&t->lock);
	rc = get_opt(t, &r, &vm, err);
	pthread_mutex_unlock(&t->lock);
	if (rc)
		return -1;
	if (vm) {
		*exists = true;
		if (digest)
			ferry_kube_vm_digest(vm, digest);
		json_decref(vm);
	}
	return 0;
}

/* Delete every object of a kind in ns that the selector finds. */
static int delete_all(struct ferry_target *t, const char *group, const char *version,
		      const char *resource, const char *ns, const char *selector,
		      struct ferry_err *err)
{
	json_t *items = NULL, *o;
	size_t i;
	int rc = 0;

	if (list(t, group, version, resource, ns, selector, &items, err))
		return -1;
	json_array_foreach(items, i, o)
	{
		struct ferry_kube_ref r = {group, version, resource, ns,
					   str_at(o, "metadata", "name")};

		if (r.name && delete_opt(t, &r, err)) {
			rc = -1;
			break;
		}
	}
	json_decref(items);
	return rc;
}

static int vm_delete_locked(struct ferry_target *t, const char *ns, const char *name,
			    struct ferry_err *err)
{
	struct ferry_kube_ref r = {FERRY_KUBE_VMS, ns, name};
	json_t *vm = NULL;
	char *sel;
	int rc;

	if (get_opt(t, &r, &vm, err))
		return -1;
	if (vm && !made_by_ferry(vm)) {
		json_decref(vm);
		return ferry_err_set(err, FERRY_E_CONFLICT,
				     "VirtualMachine %s/%s was not made by ferry: not deleting it",
				     ns, name);
	}
	json_decref(vm);
	if (vm && delete_opt(t, &r, err))
		return -1;
	/* the copies first (they hold the volumes), then the volumes of
	 * both kinds (a plan may have switched volumes = ... in between) */
	sel = ferry_xasprintf("%s=ferry,%s=%s", FERRY_KUBE_LABEL_MANAGED_BY,
			      FERRY_KUBE_LABEL_TARGET_VM, name);
	rc = delete_all(t, FERRY_KUBE_JOBS, ns, sel, err) ||
	     delete_all(t, FERRY_KUBE_SECRETS, ns, sel, err) ||
	     delete_all(t, FERRY_KUBE_DATAVOLUMES, ns, sel, err) ||
	     delete_all(t, FERRY_KUBE_PVCS, ns, sel, err);
	free(sel);
	return rc ? -1 : 0;
}

static int kubevirt_vm_delete(struct ferry_target *t, const char *ns, const char *name,
			      struct ferry_err *err)
{
	int rc;

	if (ferry_kube_check_label("namespace", ns, err) ||
	    ferry_kube_check_label("VM name", name, err))
		return -1;
	pthread_mutex_lock(&t->lock);
	rc = vm_delete_locked(t, ns, name, err);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* ---- copies: one batch/v1 Job per disk ---------------------------------------------------- */

static int check_op(const char *op_id, struct ferry_err *err)
{
	if (!op_id || !*op_id || !ferry_kube_label_value_ok(op_id))
		return ferry_err_set(err, FERRY_E_INTERNAL,
				     "copy operation id \"%s\" is not a label value",
				     op_id ? op_id : "");
	return 0;
}

/* The Jobs of disk i (of operation op_id when not NULL). */
static int find_jobs(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
		     const char *op_id, json_t **items, struct ferry_err *err)
{
	char *sel = disk_selector(vm, i, op_id);
	int rc = list(t, FERRY_KUBE_JOBS, vm->ns, sel, items, err);

	free(sel);
	return rc;
}

/* The claim of disk i's volume and the volume mode it was made with. */
static int claim_of(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
		    char **claim, char **mode, struct ferry_err *err)
{
	json_t *vol = NULL, *pvc = NULL;
	const char *name;
	int rc = -1;

	if (find_volume(t, vm, i, &vol, err))
		return -1;
	if (!vol)
		return ferry_err_set(err, FERRY_E_NOT_FOUND,
				     "disk %s of VM %s/%s has no %s to copy into (disk_create "
				     "first)",
				     vm->disks[i].name, vm->ns, vm->name, volume_kind(t));
	name = str_at(vol, "metadata", "name");
	{
		struct ferry_kube_ref r = {FERRY_KUBE_PVCS, vm->ns, name};

		if (get_opt(t, &r, &pvc, err))
			goto out;
	}
	if (!pvc) {
		/* CDI makes the DataVolume's claim soon after the DataVolume */
		ferry_err_set(err, t->pvc ? FERRY_E_NOT_FOUND : FERRY_E_RETRYABLE,
			      t->pvc ? "PersistentVolumeClaim %s/%s is gone"
				     : "waiting for CDI to create the claim of DataVolume %s/%s",
			      vm->ns, name);
		goto out;
	}
	*claim = ferry_xstrdup(name);
	*mode = ferry_xstrdup(str_at(pvc, "spec", "volumeMode") ? str_at(pvc, "spec", "volumeMode")
								: "Filesystem");
	rc = 0;
out:
	json_decref(pvc);
	json_decref(vol);
	return rc;
}

/* The pods of Job job (the Job controller's job-name label). */
static int job_pods(struct ferry_target *t, const char *ns, const char *job, json_t **pods,
		    struct ferry_err *err)
{
	char *sel = ferry_xasprintf("job-name=%s", job);
	int rc = list(t, FERRY_KUBE_PODS, ns, sel, pods, err);

	free(sel);
	return rc;
}

/* Is a pod of Job name still running (an earlier copy into the volume)? */
static int pod_running(struct ferry_target *t, const char *ns, const char *job, char **which,
		       struct ferry_err *err)
{
	json_t *pods = NULL, *p;
	size_t i;

	*which = NULL;
	if (job_pods(t, ns, job, &pods, err))
		return -1;
	json_array_foreach(pods, i, p)
	{
		const char *phase = str_at(p, "status", "phase");

		if (!phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed"))) {
			*which = ferry_xstrdup(str_at(p, "metadata", "name"));
			break;
		}
	}
	json_decref(pods);
	return 0;
}

/* The Secret of a copy's inputs (ferry_kube_copy_inputs_build), made
 * before its Job, whose pod waits for it. */
static int create_inputs(struct ferry_target *t, json_t *job, const struct ferry_copy_source *src,
			 struct ferry_err *err)
{
	struct ferry_kube_copy_inputs in = {src->tls_psk, src->changed_areas};
	struct ferry_kube_ref r = {FERRY_KUBE_SECRETS, str_at(job, "metadata", "namespace"), NULL};
	struct ferry_err e = FERRY_ERR_INIT;
	json_t *secret = NULL;
	int rc;

	if (ferry_kube_copy_inputs_build(job, &in, &secret, err))
		return -1;
	rc = ferry_kube_create(t->kube, &r, secret, NULL, &e);
	if (rc && e.code == FERRY_E_EXISTS)
		ferry_err_set(err, FERRY_E_RETRYABLE,
			      "Secret %s/%s of an earlier copy is still being deleted", r.ns,
			      str_at(job, "metadata", "name"));
	else if (rc)
		*err = e;
	json_decref(secret);
	return rc ? -1 : 0;
}

static int copy_start_locked(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			     const struct ferry_copy_source *src, const char *op_id,
			     struct ferry_err *err)
{
	struct ferry_kube_ref jobs = {FERRY_KUBE_JOBS, vm->ns, NULL};
	char *claim = NULL, *mode = NULL, *running = NULL, *source = NULL, *sel = NULL;
	const char **args = NULL;
	json_t *items = NULL, *job = NULL, *o;
	struct ferry_err e = FERRY_ERR_INIT;
	bool inputs = src->tls_psk || src->changed_areas;
	const char *name;
	size_t k, nargs = 0;
	int rc = -1;

	if (!t->worker_image)
		return ferry_err_set(err, FERRY_E_INVALID,
				     "[target] worker_image is not set in ferry.ini: the kubevirt "
				     "target copies each disk in a Job that runs `ferry copy` from "
				     "that image");
	if (check_disk(vm, i, err) || check_op(op_id, err))
		return -1;
	if (find_jobs(t, vm, i, NULL, &items, err))
		return -1;
	json_array_foreach(items, k, o)
	{
		const char *op = label_of(o, FERRY_KUBE_LABEL_OP);

		if (op && !strcmp(op, op_id) && !str_at(o, "metadata", "deletionTimestamp")) {
			rc = 0; /* this copy's worker: keep it */
			goto out;
		}
	}
	json_array_foreach(items, k, o)
	{
		struct ferry_kube_ref r = {FERRY_KUBE_JOBS, vm->ns, str_at(o, "metadata", "name")};

		if (delete_opt(t, &r, err))
			goto out;
	}
	/* and their inputs (the Job of a copy whose Secret was made last time
	 * may never have been) */
	sel = disk_selector(vm, i, NULL);
	if (delete_all(t, FERRY_KUBE_SECRETS, vm->ns, sel, err))
		goto out;
	if (claim_of(t, vm, i, &claim, &mode, err))
		goto out;
	/* the worker reads its inputs from the Secret's files */
	args = ferry_xcalloc(src->nargs + 2, sizeof *args);
	for (k = 0; k < src->nargs; k++)
		args[nargs++] = src->args[k];
	if (src->changed_areas) {
		args[nargs++] = "--changed-areas";
		args[nargs++] = FERRY_KUBE_JOB_INPUT_AREAS;
	}
	source = src->tls_psk ? ferry_xasprintf("%s%ctls-psk-file=%s", src->uri,
						strchr(src->uri, '?') ? '&' : '?',
						FERRY_KUBE_JOB_INPUT_PSK)
			      : ferry_xstrdup(src->uri);
	{
		struct ferry_kube_job_opts jo = {
			.image = t->worker_image,
			.source = source,
			.claim = claim,
			.volume_mode = mode,
			.service_account = t->service_account,
			.node_selector = t->node_selector,
			.nnode_selector = t->nnode_selector,
			.cpu_request = t->cpu,
			.cpu_limit = t->cpu,
			.memory_request = t->memory,
			.memory_limit = t->memory,
			.copy_args = args,
			.ncopy_args = nargs,
			.backoff_limit = JOB_BACKOFF_LIMIT,
			.op_id = op_id,
			.inputs = inputs,
		};

		if (ferry_kube_job_build(vm, i, &jo, &job, err))
			goto out;
	}
	name = str_at(job, "metadata", "name");
	if (pod_running(t, vm->ns, name, &running, err))
		goto out;
	if (running) {
		ferry_err_set(err, FERRY_E_RETRYABLE,
			      "pod %s/%s of an earlier copy into %s is still running", vm->ns,
			      running, claim);
		goto out;
	}
	if (inputs && create_inputs(t, job, src, err))
		goto out;
	if (!ferry_kube_create(t->kube, &jobs, job, NULL, &e)) {
		rc = 0;
		goto out;
	}
	if (e.code == FERRY_E_EXISTS)
		/* the Job deleted above is still going (finalizers) */
		ferry_err_set(err, FERRY_E_RETRYABLE,
			      "Job %s/%s of an earlier copy is still being deleted", vm->ns, name);
	else
		*err = e;
	if (inputs) { /* no Job reads them */
		struct ferry_kube_ref r = {FERRY_KUBE_SECRETS, vm->ns, name};

		e = (struct ferry_err)FERRY_ERR_INIT;
		if (delete_opt(t, &r, &e))
			ferry_debug("kubevirt target: %s", e.msg);
	}
out:
	free(running);
	free(claim);
	free(mode);
	free(source);
	free(sel);
	free(args);
	json_decref(job);
	json_decref(items);
	return rc;
}

static int kubevirt_copy_start(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			       const struct ferry_copy_source *src, const char *op_id,
			       struct ferry_err *err)
{
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = copy_start_locked(t, vm, i, src, op_id, err);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* Bytes done so far of Job job's running copy, from the progress lines
 * `ferry copy --progress-fd 1` writes to its pod's log. Best effort: a copy
 * whose pod has not started, or pods or a log that cannot be read now,
 * keep done 0 (the Job's state is what counts). */
static void follow_progress(struct ferry_target *t, const char *ns, const char *job,
			    struct ferry_copy_state *st)
{
	struct ferry_kube_log_opts lo = {"copy", LOG_TAIL_LINES, LOG_TAIL_MAX};
	struct ferry_kube_ref r = {FERRY_KUBE_PODS, ns, NULL};
	struct ferry_err e = FERRY_ERR_INIT;
	json_t *pods = NULL;
	uint64_t done, total;
	char *log = NULL;
	size_t len = 0;

	if (job_pods(t, ns, job, &pods, &e))
		goto out;
	r.name = str_at(ferry_kube_running_pod(pods), "metadata", "name");
	if (!r.name || ferry_kube_pod_log(t->kube, &r, &lo, &log, &len, &e))
		goto out;
	if (ferry_kube_log_progress(log, len, &done, &total) && total) {
		st->done = done;
		st->total = total;
	}
out:
	if (e.code)
		ferry_debug("kubevirt target: progress of Job %s/%s: %s", ns, job, e.msg);
	free(log);
	json_decref(pods);
}

static int copy_poll_locked(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			    const char *op_id, struct ferry_copy_state *st, struct ferry_err *err)
{
	json_t *items = NULL, *job, *pods = NULL;
	int rc = -1;

	if (check_disk(vm, i, err) || check_op(op_id, err))
		return -1;
	if (find_jobs(t, vm, i, op_id, &items, err))
		return -1;
	job = oldest(items);
	if (!job) {
		ferry_err_set(err, FERRY_E_NOT_FOUND,
			      "no transfer Job of operation %s for disk %s of VM %s/%s", op_id,
			      vm->disks[i].name, vm->ns, vm->name);
		goto out;
	}
	ferry_kube_job_state(job, NULL, vm->disks[i].size, st);
	if (st->phase == FERRY_COPY_FAILED) {
		/* the pods hold the worker's own error */
		if (job_pods(t, vm->ns, str_at(job, "metadata", "name"), &pods, err))
			goto out;
		ferry_kube_job_state(job, pods, vm->disks[i].size, st);
	} else if (st->phase == FERRY_COPY_RUNNING) {
		follow_progress(t, vm->ns, str_at(job, "metadata", "name"), st);
	}
	rc = 0;
out:
	json_decref(pods);
	json_decref(items);
	return rc;
}

static int kubevirt_copy_poll(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			      const char *op_id, struct ferry_copy_state *st, struct ferry_err *err)
{
	int rc;

	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&t->lock);
	rc = copy_poll_locked(t, vm, i, op_id, st, err);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static int copy_stop_locked(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			    const char *op_id, struct ferry_err *err)
{
	char *sel;
	int rc;

	if (check_disk(vm, i, err) || check_op(op_id, err))
		return -1;
	sel = disk_selector(vm, i, op_id);
	rc = delete_all(t, FERRY_KUBE_JOBS, vm->ns, sel, err) ||
	     delete_all(t, FERRY_KUBE_SECRETS, vm->ns, sel, err);
	free(sel);
	return rc;
}

static int kubevirt_copy_stop(struct ferry_target *t, const struct ferry_target_vm *vm, size_t i,
			      const char *op_id, struct ferry_err *err)
{
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = copy_stop_locked(t, vm, i, op_id, err);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

const struct ferry_target_ops ferry_target_kubevirt = {
	.type = "kubevirt",
	.open = kubevirt_open,
	.disk_create = kubevirt_disk_create,
	.vm_create = kubevirt_vm_create,
	.vm_exists = kubevirt_vm_exists,
	.vm_delete = kubevirt_vm_delete,
	.close = kubevirt_close,
	.copy_start = kubevirt_copy_start,
	.copy_poll = kubevirt_copy_poll,
	.copy_stop = kubevirt_copy_stop,
};
