/* vsdrv: drives ferry's vSphere source driver for the t-*.sh tests, one
 * command per line on stdin against one source, so that a test can act on
 * vcsim between two calls (expire the session, power a VM off) and see
 * what the same open source does next. Each command's output is framed:
 *
 *   ## begin N
 *   ...
 *   ## end N rc=R
 *
 * Options give the Provider and its secret (the secret's keys as the
 * Forklift Secret names them):
 *   --url URL --user U --password P --thumbprint T --cacert FILE
 *   --insecure --work DIR --vddk-libdir DIR --sdk-endpoint vcenter|esxi
 * and its Host objects (struct ferry_source_config.hosts; repeatable):
 *   --host id=MOREF|name=NAME,ip=IP[,user=U][,password=P][,thumbprint=T]
 *
 * A word in double quotes may hold blanks. Commands (VM is a name or a
 * moref of the last inventory):
 *   open | close | inventory | json VM | stats
 *   power VM | power-off VM [GUEST_TIMEOUT_S] | power-on VM
 *   snap-create VM NAME | snap-find VM NAME | snap-remove VM SNAPSHOT_ID
 *   cbt VM | changed VM DISK SNAPSHOT_ID|- SINCE|* OUTFILE
 *   disk-open VM DISK [SNAPSHOT_ID] | disk-close
 *   sleep SECONDS
 */
#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "providers/driver.h"
#include "providers/vsphere/vsphere.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct ferry_source_ops *ops;
static struct ferry_source *src;
static struct ferry_inventory inv;
static struct ferry_source_config cfg;
static char *keys[8], *vals[8], *skeys[4], *svals[4];
static struct ferry_disk_access acc[16];
static size_t nacc;
static struct ferry_source_host hosts[4];
static char *hkeys[4][8], *hvals[4][8];

static void secret(const char *k, const char *v)
{
	keys[cfg.secret.n] = ferry_xstrdup(k);
	vals[cfg.secret.n++] = ferry_xstrdup(v);
}

static void setting(const char *k, const char *v)
{
	skeys[cfg.settings.n] = ferry_xstrdup(k);
	svals[cfg.settings.n++] = ferry_xstrdup(v);
}

/* --host's KEY=VALUE,... into the next Host: id, name and ip are its
 * fields, other keys its secret's. */
static int host(char *spec)
{
	struct ferry_source_host *h = &hosts[cfg.nhosts];
	char *save = NULL;
	size_t n = 0;

	if (cfg.nhosts == 4)
		return -1;
	h->ns = "test";
	h->name = "esx";
	for (char *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq || n == 8)
			return -1;
		*eq = '\0';
		hkeys[cfg.nhosts][n] = ferry_xstrdup(kv);
		hvals[cfg.nhosts][n] = ferry_xstrdup(eq + 1);
		if (!strcmp(kv, "id"))
			h->id = hvals[cfg.nhosts][n];
		else if (!strcmp(kv, "name"))
			h->host_name = hvals[cfg.nhosts][n];
		else if (!strcmp(kv, "ip"))
			h->ip_address = hvals[cfg.nhosts][n];
		n++;
	}
	/* the secret lookup skips id, name and ip: no secret key has those names */
	h->secret = (struct ferry_pairs){hkeys[cfg.nhosts], hvals[cfg.nhosts], n};
	cfg.nhosts++;
	return 0;
}

static int fail(const struct ferry_err *err)
{
	printf("error %s: %s\n", ferry_errcode_name(err->code), err->msg);
	return 1;
}

static const struct ferry_vm *vm_of(const char *name)
{
	const struct ferry_vm *vm = ferry_inventory_find(&inv, name, NULL);

	if (!vm)
		vm = ferry_inventory_find(&inv, NULL, name);
	if (!vm)
		printf("error: no VM '%s' in the last inventory\n", name);
	return vm;
}

static void print_stats(unsigned long before)
{
	struct ferry_vsphere_stats st;

	ferry_vsphere_stats(src, &st);
	printf("stats calls=%lu logins=%u walks=%u updates=%u changes=%u delta_calls=%lu\n",
	       st.calls, st.logins, st.walks, st.updates, st.last_changes, st.calls - before);
}

static void print_snapshot(const struct ferry_snapshot *sn)
{
	printf("snapshot %s %s\n", sn->id, sn->name);
	for (size_t i = 0; i < sn->ndisks; i++)
		printf("disk %s changeId=%s\n", sn->disk_ids[i],
		       sn->change_ids[i] ? sn->change_ids[i] : "-");
}

static int need_open(void)
{
	if (!src) {
		printf("error: not open\n");
		return 0;
	}
	return 1;
}

static int run(char **w, int n)
{
	struct ferry_err err = FERRY_ERR_INIT;
	const struct ferry_vm *vm = NULL;
	unsigned long before = 0;

	if (!n)
		return 0;
	if (!strcmp(w[0], "open")) {
		if (src)
			return 0;
		if (ops->open(&src, &cfg, &err))
			return fail(&err);
		printf("ok\n");
		return 0;
	}
	if (!strcmp(w[0], "sleep") && n == 2) {
		usleep((useconds_t)(atof(w[1]) * 1e6));
		return 0;
	}
	if (!need_open())
		return 1;
	if (!strcmp(w[0], "close")) {
		ferry_inventory_release(&inv);
		ops->close(src);
		src = NULL;
		return 0;
	}
	if (!strcmp(w[0], "stats")) {
		print_stats(0);
		return 0;
	}
	if (!strcmp(w[0], "inventory")) {
		struct ferry_findings f = FERRY_FINDINGS_INIT;
		struct ferry_vsphere_stats st;
		int rc;

		ferry_vsphere_stats(src, &st);
		before = st.calls;
		ferry_inventory_release(&inv);
		rc = ops->inventory(src, &inv, &f, &err);
		for (size_t i = 0; i < f.len; i++)
			printf("finding %s: %s\n", f.items[i].id, f.items[i].message);
		ferry_findings_release(&f);
		if (rc)
			return fail(&err);
		for (size_t i = 0; i < inv.nvms; i++) {
			char *j = ferry_vm_to_json(&inv.vms[i]);
			printf("vm %s\n", j);
			free(j);
		}
		printf("networks");
		for (size_t i = 0; i < inv.nnetworks; i++)
			printf("%s%s", i ? "," : " ", inv.networks[i]);
		printf("\nstorages");
		for (size_t i = 0; i < inv.nstorages; i++)
			printf("%s%s", i ? "," : " ", inv.storages[i]);
		printf("\n");
		print_stats(before);
		return 0;
	}
	if (!strcmp(w[0], "disk-close")) {
		while (nacc)
			ops->disk_close(src, &acc[--nacc]);
		return 0;
	}
	if (n < 2 || !(vm = vm_of(w[1])))
		return 1;
	if (!strcmp(w[0], "json")) {
		char *j = ferry_vm_to_json(vm);
		printf("%s\n", j);
		free(j);
		return 0;
	}
	if (!strcmp(w[0], "power")) {
		char *st;
		if (ops->power_state(src, vm, &st, &err))
			return fail(&err);
		printf("%s\n", st);
		free(st);
		return 0;
	}
	if (!strcmp(w[0], "power-off")) {
		if (ops->power_off(src, vm, n > 2 ? (unsigned)atoi(w[2]) : 5, &err))
			return fail(&err);
		return 0;
	}
	if (!strcmp(w[0], "power-on"))
		return ops->power_on(src, vm, &err) ? fail(&err) : 0;
	if (!strcmp(w[0], "cbt"))
		return ops->cbt_enable(src, vm, &err) ? fail(&err) : 0;
	if ((!strcmp(w[0], "snap-create") || !strcmp(w[0], "snap-find")) && n == 3) {
		struct ferry_snapshot sn;
		int rc = w[0][5] == 'c' ? ops->snapshot_create(src, vm, w[2], &sn, &err)
					: ops->snapshot_find(src, vm, w[2], &sn, &err);
		if (rc)
			return fail(&err);
		print_snapshot(&sn);
		ferry_snapshot_release(&sn);
		return 0;
	}
	if (!strcmp(w[0], "snap-remove") && n == 3)
		return ops->snapshot_remove(src, vm, w[2], &err) ? fail(&err) : 0;
	if (!strcmp(w[0], "changed") && n == 6) {
		struct ferry_changed_areas c;
		uint64_t bytes = 0;
		char *json;
		FILE *fp;

		if (ops->changed_areas(src, vm, (size_t)atoi(w[2]), strcmp(w[3], "-") ? w[3] : NULL,
				       w[4], &c, &err))
			return fail(&err);
		for (size_t i = 0; i < c.n; i++)
			bytes += c.v[i].length;
		json = ferry_changed_areas_json(&c);
		fp = fopen(w[5], "w");
		if (!fp || fputs(json, fp) < 0 || fclose(fp)) {
			printf("error: %s: %s\n", w[5], strerror(errno));
			free(json);
			ferry_changed_areas_release(&c);
			return 1;
		}
		printf("areas %zu bytes %" PRIu64 " size %" PRIu64 "\n", c.n, bytes, c.size);
		free(json);
		ferry_changed_areas_release(&c);
		return 0;
	}
	if (!strcmp(w[0], "disk-open") && n >= 3 && nacc < 16) {
		struct ferry_disk_access *a = &acc[nacc];
		if (ops->disk_open_snapshot(src, vm, (size_t)atoi(w[2]), n > 3 ? w[3] : NULL, a,
					    &err))
			return fail(&err);
		nacc++;
		printf("uri %s size %" PRIu64 " connections %u\n", a->uri, a->size, a->connections);
		return 0;
	}
	printf("error: unknown command or arguments: %s\n", w[0]);
	return 2;
}

static char *read_all(const char *path)
{
	char *data;
	size_t len;

	if (ferry_read_file(path, 1 << 20, &data, &len)) {
		fprintf(stderr, "vsdrv: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return data;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},
		{"user", required_argument, NULL, 'U'},
		{"password", required_argument, NULL, 'P'},
		{"thumbprint", required_argument, NULL, 't'},
		{"cacert", required_argument, NULL, 'c'},
		{"insecure", no_argument, NULL, 'k'},
		{"work", required_argument, NULL, 'w'},
		{"vddk-libdir", required_argument, NULL, 'V'},
		{"sdk-endpoint", required_argument, NULL, 'e'},
		{"host", required_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_err err = FERRY_ERR_INIT;
	char line[4096];
	int c, seq = 0;

	ferry_log_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	cfg.ns = "test";
	cfg.name = "vcsim";
	cfg.type = "vsphere";
	cfg.secret.keys = keys;
	cfg.secret.values = vals;
	cfg.settings.keys = skeys;
	cfg.settings.values = svals;
	cfg.hosts = hosts;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': cfg.url = optarg; break;
		case 'U': secret("user", optarg); break;
		case 'P': secret("password", optarg); break;
		case 't': secret("thumbprint", optarg); break;
		case 'c': {
			char *pem = read_all(optarg);
			secret("cacert", pem);
			free(pem);
			break;
		}
		case 'k': secret("insecureSkipVerify", "true"); break;
		case 'w': cfg.work_dir = optarg; break;
		case 'V': setting("vddkLibDir", optarg); break;
		case 'e': setting("sdkEndpoint", optarg); break;
		case 'H':
			if (host(optarg)) {
				fprintf(stderr,
					"vsdrv: --host KEY=VALUE,... (at most 4, 8 keys)\n");
				return 2;
			}
			break;
		default: return 2;
		}
	}
	if (!(ops = ferry_source_driver("vsphere", &err))) {
		fprintf(stderr, "vsdrv: %s\n", err.msg);
		return 2;
	}
	while (fgets(line, sizeof line, stdin)) {
		char *w[16];
		int n = 0, rc;

		line[strcspn(line, "\n")] = '\0';
		/* words split at blanks; "a b" is one word (changeIds hold blanks) */
		for (char *p = line; *p && n < 16;) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p)
				break;
			if (*p == '"') {
				w[n++] = ++p;
				p += strcspn(p, "\"");
			} else {
				w[n++] = p;
				p += strcspn(p, " \t");
			}
			if (*p)
				*p++ = '\0';
		}
		seq++;
		printf("## begin %d\n", seq);
		rc = run(w, n);
		printf("## end %d rc=%d\n", seq, rc);
	}
	while (nacc && src)
		ops->disk_close(src, &acc[--nacc]);
	ferry_inventory_release(&inv);
	if (src)
		ops->close(src);
	for (size_t i = 0; i < cfg.secret.n; i++) {
		free(keys[i]);
		free(vals[i]);
	}
	for (size_t i = 0; i < cfg.settings.n; i++) {
		free(skeys[i]);
		free(svals[i]);
	}
	for (size_t i = 0; i < cfg.nhosts; i++) {
		for (size_t j = 0; j < hosts[i].secret.n; j++) {
			free(hkeys[i][j]);
			free(hvals[i][j]);
		}
	}
	return 0;
}
