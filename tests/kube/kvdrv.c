/* kvdrv: drives ferry's KubeVirt target (providers/kubevirt/target.c) for
 * target.sh, one operation per run: the options describe the target
 * configuration and one VM, the words after them the operation.
 *
 *   kvdrv [--kubeconfig F] [--context C]
 *         [--url URL [--token T] [--cacert PEM_FILE] [--insecure]]
 *         [--volumes datavolume|pvc]
 *         [--image I] [--service-account SA] [--node-selector K=V]...
 *         [--cpu Q] [--memory Q] [--type kubevirt|openshift]
 *         [--ns NS] [--vm NAME] [--plan NS/NAME] [--vm-id ID] [--running]
 *         [--generate-name]
 *         [--disk NAME:SIZE[:CLASS[:VOLUME_MODE]]]...
 *         [--nic NAME:TYPE[:NETWORK]]...
 *         [--psk-file F] [--areas-file F]
 *         OPERATION ARGS...
 *
 * Operations and what they print on success:
 *   disk-create I                 the uri
 *   vm-create                     "ok"
 *   vm-exists                     "exists DIGEST" or "absent"
 *   vm-delete                     "ok"
 *   copy-start I SRC OP [ARG...]  "ok"
 *   copy-poll I OP                "PHASE DONE TOTAL[ MESSAGE]"
 *   copy-stop I OP                "ok"
 * On failure: "error CODE: MESSAGE" and exit status 1 (2: bad usage).
 * SIZE takes K, M, G (binary) suffixes. A --disk without CLASS gets the
 * cluster's default class. --generate-name sets the VM's
 * pvc_generate_name (the Plan's pvcNameTemplateUseGenerateName).
 * copy-start hands the contents of --psk-file ("identity:hexkey") and
 * --areas-file (changed-areas JSON) to the target as the copy's TLS key
 * and changed areas.
 */
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "providers/target.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 8

static struct ferry_target_disk disks[MAX_ITEMS];
static struct ferry_target_nic nics[MAX_ITEMS];
static struct ferry_target_label selector[MAX_ITEMS];
static char *psk, *areas; /* --psk-file, --areas-file contents */

static int usage(const char *why)
{
	fprintf(stderr, "kvdrv: %s\n", why);
	return 2;
}

static int fail(const struct ferry_err *err)
{
	printf("error %s: %s\n", ferry_errcode_name(err->code), err->msg);
	return 1;
}

static uint64_t size_of(const char *s)
{
	char *end;
	uint64_t n = strtoull(s, &end, 10);

	switch (*end) {
	case 'G': n <<= 10; /* fall through */
	case 'M': n <<= 10; /* fall through */
	case 'K': n <<= 10; break;
	default: break;
	}
	return n;
}

/* Split s at ':' into at most n parts (empty parts become NULL). */
static int split(char *s, char **parts, int n)
{
	int k = 0;

	while (k < n) {
		char *colon = strchr(s, ':');

		parts[k++] = *s ? s : NULL;
		if (!colon)
			break;
		*colon = '\0';
		s = colon + 1;
	}
	return k;
}

static int run(const struct ferry_target_ops *ops, struct ferry_target *t,
	       const struct ferry_target_vm *vm, char **w, int n)
{
	struct ferry_err err = FERRY_ERR_INIT;
	const char *op = w[0];

	if (!strcmp(op, "disk-create") && n == 2) {
		char *uri = NULL;

		if (ops->disk_create(t, vm, strtoul(w[1], NULL, 10), &uri, &err))
			return fail(&err);
		printf("%s\n", uri);
		free(uri);
		return 0;
	}
	if (!strcmp(op, "vm-create") && n == 1) {
		if (ops->vm_create(t, vm, &err))
			return fail(&err);
		printf("ok\n");
		return 0;
	}
	if (!strcmp(op, "vm-exists") && n == 1) {
		char digest[FERRY_TARGET_DIGEST];
		bool exists;

		if (ops->vm_exists(t, vm->ns, vm->name, &exists, digest, &err))
			return fail(&err);
		if (exists)
			printf("exists %s\n", digest);
		else
			printf("absent\n");
		return 0;
	}
	if (!strcmp(op, "vm-delete") && n == 1) {
		if (ops->vm_delete(t, vm->ns, vm->name, &err))
			return fail(&err);
		printf("ok\n");
		return 0;
	}
	if (!strcmp(op, "copy-start") && n >= 4) {
		struct ferry_copy_source src = {w[2], psk, areas, (const char *const *)w + 4,
						(size_t)(n - 4)};

		if (ops->copy_start(t, vm, strtoul(w[1], NULL, 10), &src, w[3], &err))
			return fail(&err);
		printf("ok\n");
		return 0;
	}
	if (!strcmp(op, "copy-poll") && n == 3) {
		static const char *const phases[] = {"RUNNING", "DONE", "FAILED"};
		struct ferry_copy_state st;

		if (ops->copy_poll(t, vm, strtoul(w[1], NULL, 10), w[2], &st, &err))
			return fail(&err);
		printf("%s %" PRIu64 " %" PRIu64 "%s%s\n", phases[st.phase], st.done, st.total,
		       st.message[0] ? " " : "", st.message);
		return 0;
	}
	if (!strcmp(op, "copy-stop") && n == 3) {
		if (ops->copy_stop(t, vm, strtoul(w[1], NULL, 10), w[2], &err))
			return fail(&err);
		printf("ok\n");
		return 0;
	}
	return usage("unknown operation or wrong number of arguments");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kubeconfig", required_argument, NULL, 'k'},
		{"context", required_argument, NULL, 'c'},
		{"url", required_argument, NULL, 'u'},
		{"token", required_argument, NULL, 'T'},
		{"cacert", required_argument, NULL, 'A'},
		{"insecure", no_argument, NULL, 'K'},
		{"generate-name", no_argument, NULL, 'g'},
		{"volumes", required_argument, NULL, 'V'},
		{"image", required_argument, NULL, 'i'},
		{"service-account", required_argument, NULL, 'S'},
		{"node-selector", required_argument, NULL, 'N'},
		{"cpu", required_argument, NULL, 'C'},
		{"memory", required_argument, NULL, 'M'},
		{"type", required_argument, NULL, 't'},
		{"ns", required_argument, NULL, 'n'},
		{"vm", required_argument, NULL, 'v'},
		{"plan", required_argument, NULL, 'p'},
		{"vm-id", required_argument, NULL, 'I'},
		{"running", no_argument, NULL, 'r'},
		{"disk", required_argument, NULL, 'd'},
		{"nic", required_argument, NULL, 'm'},
		{"psk-file", required_argument, NULL, 'P'},
		{"areas-file", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	struct ferry_target_config cfg = {.type = "kubevirt"};
	struct ferry_target_vm vm = {
		.ns = "prod",
		.name = "web-01",
		.plan_ns = "migrations",
		.plan_name = "wave-1",
		.source_vm_id = "vm-42",
		.source_vm_name = "Web 01",
		.cpus = 2,
		.cores_per_socket = 1,
		.memory_bytes = 1u << 30,
		.firmware = "bios",
		.disks = disks,
		.nics = nics,
	};
	struct ferry_err err = FERRY_ERR_INIT;
	const struct ferry_target_ops *ops;
	struct ferry_target *t = NULL;
	char *parts[4], *cacert = NULL;
	size_t cacert_len;
	int c, rc;

	ferry_log_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'k': cfg.kubeconfig = optarg; break;
		case 'c': cfg.context = optarg; break;
		case 'u': cfg.url = optarg; break;
		case 'T': cfg.token = optarg; break;
		case 'A':
			free(cacert);
			if (ferry_read_file(optarg, 1u << 20, &cacert, &cacert_len))
				return usage("--cacert: cannot read the file");
			cfg.cacert = cacert;
			break;
		case 'P':
		case 'a': {
			char **to = c == 'P' ? &psk : &areas;
			size_t len;

			free(*to);
			if (ferry_read_file(optarg, 1u << 21, to, &len))
				return usage("--psk-file/--areas-file: cannot read the file");
			break;
		}
		case 'K': cfg.insecure_skip_verify = true; break;
		case 'g': vm.pvc_generate_name = true; break;
		case 'V': cfg.volumes = optarg; break;
		case 'i': cfg.worker_image = optarg; break;
		case 'S': cfg.worker_service_account = optarg; break;
		case 'N': {
			char *eq = strchr(optarg, '=');

			if (!eq || cfg.nworker_node_selector == MAX_ITEMS)
				return usage("--node-selector K=V");
			*eq = '\0';
			selector[cfg.nworker_node_selector].key = optarg;
			selector[cfg.nworker_node_selector++].value = eq + 1;
			cfg.worker_node_selector = selector;
			break;
		}
		case 'C': cfg.worker_cpu = optarg; break;
		case 'M': cfg.worker_memory = optarg; break;
		case 't': cfg.type = optarg; break;
		case 'n': vm.ns = optarg; break;
		case 'v': vm.name = optarg; break;
		case 'p': {
			char *slash = strchr(optarg, '/');

			if (!slash)
				return usage("--plan NS/NAME");
			*slash = '\0';
			vm.plan_ns = optarg;
			vm.plan_name = slash + 1;
			break;
		}
		case 'I': vm.source_vm_id = optarg; break;
		case 'r': vm.running = true; break;
		case 'd':
			if (vm.ndisks == MAX_ITEMS)
				return usage("too many disks");
			memset(parts, 0, sizeof parts);
			if (split(optarg, parts, 4) < 2)
				return usage("--disk NAME:SIZE[:CLASS[:VOLUME_MODE]]");
			disks[vm.ndisks].name = parts[0];
			disks[vm.ndisks].size = size_of(parts[1]);
			disks[vm.ndisks].storage_class = parts[2];
			disks[vm.ndisks].volume_mode = parts[3];
			disks[vm.ndisks++].bus = "virtio";
			break;
		case 'm':
			if (vm.nnics == MAX_ITEMS)
				return usage("too many NICs");
			memset(parts, 0, sizeof parts);
			if (split(optarg, parts, 3) < 2)
				return usage("--nic NAME:TYPE[:NETWORK]");
			nics[vm.nnics].name = parts[0];
			nics[vm.nnics].type = parts[1];
			nics[vm.nnics].network = parts[2];
			nics[vm.nnics++].model = "virtio";
			break;
		default: return 2;
		}
	}
	if (optind >= argc) {
		rc = usage("no operation");
	} else if (!(ops = ferry_target_driver(cfg.type, &err)) || ops->open(&t, &cfg, &err)) {
		rc = fail(&err);
	} else {
		rc = run(ops, t, &vm, argv + optind, argc - optind);
		ops->close(t);
	}
	free(cacert);
	free(psk);
	free(areas);
	return rc;
}
