#include "reconciler/cli.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "reconciler/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FERRY_VERSION
#define FERRY_VERSION "unknown"
#endif

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct ferry_command commands[] = {
	{"help", "show help for ferry or one of its commands",
	 "usage: ferry help [COMMAND]\n\n"
	 "Without COMMAND, list the commands. With COMMAND, show its help\n"
	 "(the same as `ferry COMMAND --help`).\n",
	 cmd_help, NULL},
	{"version", "print ferry's version", "usage: ferry version\n", cmd_version, NULL},
	{"validate", "check a tree of migration YAML and report what is wrong",
	 "usage: ferry validate [-o text|json] DIR\n"
	 "       ferry validate [-o text|json] --repo URL [--rev REV] [--root PATH]\n\n"
	 "Load every *.yaml and *.yml file under DIR (recursively, multi-document\n"
	 "files allowed): Provider, Host, NetworkMap, StorageMap, Plan, Migration,\n"
	 "Hook (forklift.konveyor.io/v1beta1), Secret (v1) and Policy\n"
	 "(ferry.dev/v1alpha1). Report every finding as\n\n"
	 "    FILE:LINE:COL: Category: message [id]\n\n"
	 "sorted by file and line, then a summary line.\n\n"
	 "With --repo, read revision REV (default HEAD: the remote's default branch;\n"
	 "a branch name, refs/... such as refs/pull/7/head, or a commit id) of the\n"
	 "Git repository URL straight from its commit tree, without a checkout, and\n"
	 "name that commit in the report. --root limits the load to a directory.\n\n"
	 "options:\n"
	 "  -o, --output FORMAT   text (default) or json\n"
	 "      --repo URL        a Git URL or path instead of DIR\n"
	 "      --rev REV         the revision of --repo to validate\n"
	 "      --root PATH       the directory of --repo holding the manifests\n"
	 "  -h, --help            show this help\n\n"
	 "exit status: 0 no Critical or Error finding; 1 at least one;\n"
	 "2 usage error or DIR cannot be read.\n",
	 ferry_cmd_validate, NULL},
	{"diff", "show the actions a reconcile would take now (dry run, for PR checks)",
	 "usage: ferry diff [-c ferry.ini] [-o text|json] [DIR | --rev REV]\n\n"
	 "Work out what a reconcile pass would do, against the journal of the data\n"
	 "directory and what the source providers and the target have now, and\n"
	 "print it without doing anything: start, wait (budget), continue, cutover,\n"
	 "cancel, skip, blocked, refuse, drift, archive; one line per VM.\n"
	 "The desired state is the commit in force as the last pass left it\n"
	 "(default; nothing is fetched), revision REV of the repository (a PR head:\n"
	 "refs/pull/7/head, fetched), or the directory DIR.\n\n"
	 "options:\n"
	 "  -c, --config FILE     configuration (default $FERRY_CONFIG, else ./ferry.ini)\n"
	 "  -o, --output FORMAT   text (default) or json\n"
	 "      --rev REV         the revision to compare\n\n"
	 "exit status: 0 printed; 1 the desired state has blocking findings;\n"
	 "2 usage, configuration or repository error.\n",
	 ferry_cmd_diff, NULL},
	{"reconcile", "run reconcile passes until nothing more can be done now",
	 "usage: ferry reconcile --once [-c ferry.ini] [-q]\n\n"
	 "Sync the repository (as `ferry sync`), then drive every VM of every running\n"
	 "plan through its itinerary: start what the budget allows, copy disks with\n"
	 "`ferry copy` workers, create the target VMs, write status to the status\n"
	 "branch. Repeat until nothing more can happen now.\n\n"
	 "options:\n"
	 "  -c, --config FILE   configuration (default $FERRY_CONFIG, else ./ferry.ini)\n"
	 "  -q, --quiet         do not print each transition\n\n"
	 "exit status: 0 every plan is settled or waiting; 1 a VM failed, or no\n"
	 "commit is in force; 2 configuration, repository or journal error.\n",
	 ferry_cmd_reconcile, NULL},
	{"run", "the daemon: poll or webhook-triggered reconcile, HTTP endpoints, workers",
	 "usage: ferry run [-c ferry.ini]\n\n"
	 "Reconcile every poll_interval (with jitter) and whenever an authenticated\n"
	 "POST /hooks/git arrives; serve /metrics, /healthz and /readyz on [daemon]\n"
	 "listen. SIGTERM finishes the current step and exits; SIGHUP reloads the\n"
	 "configuration. See ferry-run(1).\n",
	 ferry_cmd_run, NULL},
	{"quickstart", "migrate two VMs from a generated OVA share into a local directory",
	 "usage: ferry quickstart [--dir DIR]\n\n"
	 "Build, in DIR (default ./ferry-quickstart), a Git repository from the\n"
	 "embedded examples/quickstart, an OVA share of two small VMs and a\n"
	 "ferry.ini; run reconcile until done; then say where the disks, the\n"
	 "VirtualMachine manifests and the status branch are. No external system.\n",
	 ferry_cmd_quickstart, NULL},
	{"copy", "copy a disk between NBD endpoints and files (the data plane)",
	 "usage: ferry copy [options] SRC DST\n\n"
	 "Copy a disk image. SRC and DST are NBD URIs (nbd://host:port/export,\n"
	 "nbd+unix:///export?socket=PATH, nbds:// for TLS with ?tls-certificates=DIR\n"
	 "or ?tls-psk-file=FILE), local files or block devices; DST may be null:.\n"
	 "Only allocated data is read; zeroes become zero requests (or nothing on a\n"
	 "new sparse file). The destination is flushed before success.\n\n"
	 "options:\n"
	 "  --connections N         parallel connections (default 4)\n"
	 "  --requests N            requests in flight per connection (default 64)\n"
	 "  --request-size SIZE     bytes per request, power of two (default 256K)\n"
	 "  --incremental bitmap:NAME  copy only what qemu:dirty-bitmap:NAME marks\n"
	 "  --changed-areas FILE    copy only the ranges in FILE, a JSON array of\n"
	 "                          {\"start\": N, \"length\": N}\n"
	 "  --checkpoint FILE       record finished ranges; rerun to resume\n"
	 "  --verify                compare SHA-256 of both ends after copying\n"
	 "  --rate-limit BYTES/S    cap the data rate (e.g. 100M)\n"
	 "  --progress              progress bar with rate and ETA on a terminal\n"
	 "  -o, --output FORMAT     text (default) or json (a final report)\n\n"
	 "exit status: 0 copied (and verified); 1 the copy failed; 2 usage error.\n",
	 ferry_cmd_copy, NULL},
	{"get", "read status and inventory, kubectl-like",
	 "usage: ferry get KIND [NAME] [-o yaml|json]\n", NULL, "the reconciler issue"},
	{"describe", "show one object's status in detail", "usage: ferry describe KIND NAME\n",
	 NULL, "the reconciler issue"},
	{"inventory", "show what a provider sees: VMs, disks, networks, storage",
	 "usage: ferry inventory [-c ferry.ini] NAMESPACE/PROVIDER [--vms|--networks|--storages]\n"
	 "                       [-o text|json]\n\n"
	 "Open the source Provider NAMESPACE/PROVIDER of the desired state in force\n"
	 "(as the last pass left it; nothing is fetched) with its secret and settings,\n"
	 "as a reconcile does, and print what it has: one line per VM (name, id, power\n"
	 "state, CPUs, memory, disks, host), its networks and its storage. A PROVIDER\n"
	 "without a namespace is the one Provider of that name.\n\n"
	 "options:\n"
	 "  -c, --config FILE     configuration (default $FERRY_CONFIG, else ./ferry.ini)\n"
	 "      --vms             the VMs (the default for text)\n"
	 "      --networks        the networks a NetworkMap maps\n"
	 "      --storages        the storage a StorageMap maps\n"
	 "  -o, --output FORMAT   text (default) or json: {\"vms\": [...], \"networks\":\n"
	 "                        [...], \"storages\": [...]} (all three unless chosen),\n"
	 "                        each VM as policy rules see it\n\n"
	 "exit status: 0 printed; 1 no such Provider; 2 usage, configuration,\n"
	 "repository or provider error.\n",
	 ferry_cmd_inventory, NULL},
	{"sync", "fetch the watched branch, check gates, validate, write status/repository.yaml",
	 "usage: ferry sync [-c ferry.ini] [--force]\n\n"
	 "One pass of the Git side of a reconcile. Ask the remote for the watched\n"
	 "branch's head and fetch only when it moved; find the newest commit that\n"
	 "changes more than status/; check it against the gates (ferry.ini [gate]\n"
	 "and the Policies of the commit in force and of the commit itself); load\n"
	 "and validate its desired state straight from the commit's tree; record\n"
	 "the commit in force; commit status/repository.yaml to the status branch\n"
	 "(pushed without force, rebuilt and retried when someone pushed first).\n\n"
	 "options:\n"
	 "  -c, --config FILE   configuration (default $FERRY_CONFIG, else ./ferry.ini)\n"
	 "  -f, --force         run the pass even when the branch has not moved\n\n"
	 "exit status: 0 the newest commit is in force (or nothing moved); 1 it was\n"
	 "refused by a gate or has Critical/Error findings; 2 configuration, network\n"
	 "or repository error.\n",
	 ferry_cmd_sync, NULL},
	{"history", "print the audit trail of status transitions from the status branch",
	 "usage: ferry history [-c ferry.ini] [-o text|json] [-n N] [NAMESPACE/PLAN]\n\n"
	 "Walk the status branch, newest first, and print each status transition\n"
	 "ferry committed: its time, phase and summary, and the desired-state commit\n"
	 "it acted on with that commit's author and subject. With NAMESPACE/PLAN,\n"
	 "only that plan's transitions (Ferry-Plan trailer).\n\n"
	 "options:\n"
	 "  -c, --config FILE     configuration (default $FERRY_CONFIG, else ./ferry.ini)\n"
	 "  -o, --output FORMAT   text (default) or json\n"
	 "  -n, --max-count N     at most N transitions\n",
	 ferry_cmd_history, NULL},
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

static const struct ferry_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_overview(FILE *out)
{
	fprintf(out, "usage: ferry [--version] [--help] COMMAND [ARGS]\n\n"
		     "ferry migrates virtual machines into KubeVirt from plans kept in Git.\n\n"
		     "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s%s\n", commands[i].name, commands[i].summary,
			commands[i].run ? "" : " (not implemented yet)");
	fprintf(out, "\nRun `ferry help COMMAND` for a command's options.\n");
}

static int unknown_command(const char *name)
{
	const char *names[NCOMMANDS];
	const char *near;

	for (size_t i = 0; i < NCOMMANDS; i++)
		names[i] = commands[i].name;
	near = ferry_nearest(name, names, NCOMMANDS);
	fprintf(stderr, "ferry: '%s' is not a ferry command.", name);
	if (near)
		fprintf(stderr, " Did you mean '%s'?", near);
	fprintf(stderr, " See 'ferry help'.\n");
	return FERRY_EXIT_USAGE;
}

static int cmd_help(int argc, char **argv)
{
	const struct ferry_command *c;

	if (argc < 2) {
		print_overview(stdout);
		return FERRY_EXIT_OK;
	}
	if (argc > 2) {
		fputs(commands[0].usage, stderr);
		return FERRY_EXIT_USAGE;
	}
	c = find_command(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	fputs(c->usage, stdout);
	if (!c->run)
		printf("\n%s\n", "This command is not implemented yet.");
	return FERRY_EXIT_OK;
}

static int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fputs("usage: ferry version\n", stderr);
		return FERRY_EXIT_USAGE;
	}
	printf("ferry %s\n", FERRY_VERSION);
	return FERRY_EXIT_OK;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	}
	return false;
}

int ferry_cli_main(int argc, char **argv)
{
	const struct ferry_command *c;

	ferry_log_init();
	if (argc < 2) {
		print_overview(stderr);
		return FERRY_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		print_overview(stdout);
		return FERRY_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(1, argv + 1);
	if (argv[1][0] == '-') {
		fprintf(stderr, "ferry: unknown option '%s'. See 'ferry help'.\n", argv[1]);
		return FERRY_EXIT_USAGE;
	}
	c = find_command(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	if (wants_help(argc - 1, argv + 1)) {
		fputs(c->usage, stdout);
		return FERRY_EXIT_OK;
	}
	if (!c->run) {
		fprintf(stderr, "ferry %s: not implemented yet (arrives with %s)\n", c->name,
			c->issue);
		return FERRY_EXIT_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}

/* -c FILE, or $FERRY_CONFIG, or ./ferry.ini */
int ferry_cli_load_config(struct ferry_config *c, const char *path, const char *cmd)
{
	struct ferry_err err = FERRY_ERR_INIT;
	const char *env = getenv("FERRY_CONFIG");
	if (!path)
		path = env && *env ? env : "ferry.ini";
	ferry_config_defaults(c);
	if (ferry_config_load(c, path, &err)) {
		char msg[FERRY_ERR_MSG_MAX + FERRY_ERR_FILE_MAX + 32];
		ferry_err_format(&err, msg, sizeof msg);
		fprintf(stderr, "ferry %s: %s\n", cmd, msg);
		return -1;
	}
	return 0;
}
