/* ferry inventory: what a source provider sees, through the same driver
 * and configuration (secret, settings) the engine opens it with. The
 * Provider is read from the desired state in force, as `ferry diff` reads
 * it: nothing is fetched and the data directory is not locked, so it runs
 * beside a daemon. */
#include "reconciler/cli.h"

#include "common/alloc.h"
#include "common/util.h"
#include "providers/driver.h"
#include "reconciler/config.h"
#include "reconciler/sources.h"
#include "reconciler/sync.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVENTORY_USAGE                                                                            \
	"usage: ferry inventory [-c ferry.ini] NAMESPACE/PROVIDER [--vms|--networks|--storages] "  \
	"[-o text|json]\n"

enum { SHOW_VMS = 1, SHOW_NETWORKS = 2, SHOW_STORAGES = 4 };

static void print_err(const struct ferry_err *err)
{
	char msg[FERRY_ERR_MSG_MAX + FERRY_ERR_FILE_MAX + 32];

	ferry_err_format(err, msg, sizeof msg);
	fprintf(stderr, "ferry inventory: %s\n", msg);
}

/* "4 GiB", "512 MiB", "1.5 GiB": sizes as people read them. */
static void human(uint64_t bytes, char *buf, size_t n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v >= 100 || v == (double)(uint64_t)v)
		snprintf(buf, n, "%.0f %s", v, units[u]);
	else
		snprintf(buf, n, "%.1f %s", v, units[u]);
}

/* The Provider arg names ("NS/NAME", or "NAME" when one namespace has it),
 * or NULL with a message (and the nearest name when one is close). */
static const struct ferry_provider *find_provider(const struct ferry_model *m, const char *arg)
{
	size_t n = ferry_model_count(m, FERRY_KIND_PROVIDER);
	const struct ferry_provider *ps = ferry_model_providers(m), *found = NULL;
	const char *slash = strchr(arg, '/');
	char **names = ferry_xcalloc(n ? n : 1, sizeof *names);
	const char *near;
	size_t matches = 0;

	for (size_t i = 0; i < n; i++) {
		names[i] = ferry_xasprintf("%s/%s", ps[i].obj.ns, ps[i].obj.name);
		if (slash ? !strcmp(names[i], arg) : !strcmp(ps[i].obj.name, arg)) {
			found = &ps[i];
			matches++;
		}
	}
	if (matches > 1) {
		fprintf(stderr,
			"ferry inventory: more than one namespace has a Provider %s; name it as "
			"NAMESPACE/%s\n",
			arg, arg);
		found = NULL;
	} else if (!found) {
		near = ferry_nearest(arg, (const char *const *)names, n);
		fprintf(stderr, "ferry inventory: no Provider %s in the desired state", arg);
		if (near) {
			fprintf(stderr, "; did you mean %s?", near);
		} else if (n) {
			/* a few names say more than a count */
			fprintf(stderr, " (it has ");
			for (size_t i = 0; i < n && i < 8; i++)
				fprintf(stderr, "%s%s", i ? ", " : "", names[i]);
			fprintf(stderr, "%s)", n > 8 ? ", ..." : "");
		} else {
			fprintf(stderr, " (it has none)");
		}
		fputc('\n', stderr);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return found;
}

static void print_vms(const struct ferry_inventory *inv)
{
	int wn = 4, wi = 2, wh = 4;
	char mem[32], disk[32];

	for (size_t i = 0; i < inv->nvms; i++) {
		const struct ferry_vm *vm = &inv->vms[i];
		const char *host = vm->host_name ? vm->host_name : vm->host ? vm->host : "-";
		int l;

		if ((l = (int)strlen(vm->name ? vm->name : "")) > wn)
			wn = l;
		if ((l = (int)strlen(vm->id ? vm->id : "")) > wi)
			wi = l;
		if ((l = (int)strlen(host)) > wh)
			wh = l;
	}
	printf("%-*s  %-*s  %-5s  %4s  %9s  %-14s  %s\n", wn, "NAME", wi, "ID", "POWER", "CPUS",
	       "MEMORY", "DISKS", "HOST");
	for (size_t i = 0; i < inv->nvms; i++) {
		const struct ferry_vm *vm = &inv->vms[i];
		const char *host = vm->host_name ? vm->host_name : vm->host ? vm->host : "-";
		uint64_t total = 0;
		char disks[48];

		for (size_t d = 0; d < vm->ndisks; d++)
			total += vm->disks[d].capacity;
		human(vm->memory_bytes, mem, sizeof mem);
		human(total, disk, sizeof disk);
		snprintf(disks, sizeof disks, "%zu (%s)", vm->ndisks, disk);
		printf("%-*s  %-*s  %-5s  %4u  %9s  %-14s  %s\n", wn, vm->name ? vm->name : "", wi,
		       vm->id ? vm->id : "", vm->power_state ? vm->power_state : "-", vm->cpus, mem,
		       disks, host);
	}
}

static int print_json(const struct ferry_inventory *inv, unsigned show)
{
	json_t *root = json_object(), *a;
	char *text;

	if (show & SHOW_VMS) {
		a = json_array();
		for (size_t i = 0; i < inv->nvms; i++) {
			char *s = ferry_vm_to_json(&inv->vms[i]);
			json_t *vm = json_loads(s, 0, NULL);

			free(s);
			if (!vm) {
				json_decref(a);
				json_decref(root);
				fprintf(stderr,
					"ferry inventory: VM %s: the driver's JSON does not "
					"parse\n",
					inv->vms[i].id ? inv->vms[i].id : "?");
				return -1;
			}
			json_array_append_new(a, vm);
		}
		json_object_set_new(root, "vms", a);
	}
	if (show & SHOW_NETWORKS) {
		a = json_array();
		for (size_t i = 0; i < inv->nnetworks; i++)
			json_array_append_new(a, json_string(inv->networks[i]));
		json_object_set_new(root, "networks", a);
	}
	if (show & SHOW_STORAGES) {
		a = json_array();
		for (size_t i = 0; i < inv->nstorages; i++)
			json_array_append_new(a, json_string(inv->storages[i]));
		json_object_set_new(root, "storages", a);
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return -1;
	printf("%s\n", text);
	free(text);
	return 0;
}

static void print_list(const char *title, char *const *v, size_t n)
{
	printf("%s\n", title);
	for (size_t i = 0; i < n; i++)
		printf("  %s\n", v[i]);
}

int ferry_cmd_inventory(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"output", required_argument, NULL, 'o'},
		{"vms", no_argument, NULL, 'v'},	  {"networks", no_argument, NULL, 'n'},
		{"storages", no_argument, NULL, 's'},	  {NULL, 0, NULL, 0},
	};
	struct ferry_config cfg;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_model m = FERRY_MODEL_INIT;
	struct ferry_findings f = FERRY_FINDINGS_INIT, invf = FERRY_FINDINGS_INIT;
	struct ferry_inventory inv = {0};
	struct ferry_source_params sp;
	struct ferry_git *g = NULL;
	const struct ferry_source_ops *ops = NULL;
	struct ferry_source *src = NULL;
	const struct ferry_provider *prov;
	const char *path = NULL;
	char sha[FERRY_SHA_HEX] = "";
	unsigned show = 0;
	bool json = false, have_sp = false;
	int c, rc = FERRY_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'v': show |= SHOW_VMS; break;
		case 'n': show |= SHOW_NETWORKS; break;
		case 's': show |= SHOW_STORAGES; break;
		case 'o':
			if (!strcmp(optarg, "json"))
				json = true;
			else if (strcmp(optarg, "text")) {
				fputs(INVENTORY_USAGE, stderr);
				return FERRY_EXIT_USAGE;
			}
			break;
		default: fputs(INVENTORY_USAGE, stderr); return FERRY_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fputs(INVENTORY_USAGE, stderr);
		return FERRY_EXIT_USAGE;
	}
	if (!show)
		show = json ? SHOW_VMS | SHOW_NETWORKS | SHOW_STORAGES : SHOW_VMS;
	if (ferry_cli_load_config(&cfg, path, "inventory"))
		return FERRY_EXIT_USAGE;
	ferry_sync_in_force(&cfg, sha);
	if (!sha[0]) {
		fprintf(stderr, "ferry inventory: no commit is in force yet (run `ferry sync` or "
				"`ferry reconcile --once` first)\n");
		goto out;
	}
	if (ferry_git_open_config(&g, &cfg, &err) ||
	    ferry_git_load_tree(g, sha, cfg.repo.root, &m, &f, &err))
		goto fail;
	if (!(prov = find_provider(&m, argv[optind]))) {
		rc = FERRY_EXIT_NOT_OK;
		goto out;
	}
	if (ferry_source_params_load(&sp, &cfg, prov, NULL, &err) ||
	    ferry_source_params_load_hosts(&sp, &cfg, &m, &err))
		goto fail;
	have_sp = true;
	if (!(ops = ferry_source_driver(sp.sc.type, &err))) {
		ferry_err_prefix(&err, "Provider %s/%s: ", prov->obj.ns, prov->obj.name);
		goto fail;
	}
	if (ops->open(&src, &sp.sc, &err)) {
		ferry_err_prefix(&err, "Provider %s/%s: ", prov->obj.ns, prov->obj.name);
		goto fail;
	}
	/* the driver copied what it keeps: the secret goes now */
	ferry_source_params_release(&sp);
	have_sp = false;
	if (ops->inventory(src, &inv, &invf, &err)) {
		ferry_err_prefix(&err, "Provider %s/%s: inventory: ", prov->obj.ns, prov->obj.name);
		goto fail;
	}
	for (size_t i = 0; i < invf.len; i++)
		fprintf(stderr, "ferry inventory: %s: %s [%s]\n",
			ferry_category_name(invf.items[i].category), invf.items[i].message,
			invf.items[i].id);
	if (json) {
		if (print_json(&inv, show))
			goto out;
	} else {
		bool first = true;

		if (show & SHOW_VMS) {
			print_vms(&inv);
			first = false;
		}
		if (show & SHOW_NETWORKS) {
			if (!first)
				putchar('\n');
			print_list("NETWORKS", inv.networks, inv.nnetworks);
			first = false;
		}
		if (show & SHOW_STORAGES) {
			if (!first)
				putchar('\n');
			print_list("STORAGES", inv.storages, inv.nstorages);
		}
	}
	rc = FERRY_EXIT_OK;
	goto out;
fail:
	print_err(&err);
out:
	if (have_sp)
		ferry_source_params_release(&sp);
	ferry_inventory_release(&inv);
	if (src)
		ops->close(src);
	ferry_findings_release(&invf);
	ferry_findings_release(&f);
	ferry_model_release(&m);
	ferry_git_close(g);
	ferry_config_release(&cfg);
	return rc;
}
