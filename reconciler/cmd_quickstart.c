/* ferry quickstart: a whole migration with no external system.
 *
 * In DIR: src/ (the embedded examples/quickstart with the OVA share's
 * path filled in), ova/ (made by the example's make-ova.sh), repo.git (a
 * bare repository with src/ as its first commit), ferry.ini, data/ and
 * target/. Then the same reconcile as `ferry reconcile --once`.
 */
#include "reconciler/cli.h"

#include "common/alloc.h"
#include "common/util.h"
#include "reconciler/config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct ferry_embedded_file {
	const char *path;
	const unsigned char *data;
	size_t len;
};

extern const struct ferry_embedded_file ferry_quickstart_files[];
extern const size_t ferry_quickstart_files_count;

#define MARKER	".ferry-quickstart"
#define OVA_URL "file:///var/tmp/ferry-quickstart/ova"

/* Run argv with stdout and stderr to log (appended); 0 when it exits 0. */
static int run(const char *log, char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		FILE *f = fopen(log, "a");
		if (!f || dup2(fileno(f), 1) < 0 || dup2(fileno(f), 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int write_text(const char *dir, const char *name, const char *text, size_t len,
		      unsigned mode)
{
	char *path = ferry_path_join(dir, name);
	int rc = ferry_write_file_atomic(path, text, len, mode);

	if (rc)
		fprintf(stderr, "ferry quickstart: %s: %s\n", path, strerror(errno));
	free(path);
	return rc;
}

/* DIR ready and empty: made, or emptied when it is an earlier quickstart. */
static int prepare_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = true;
	char *marker;

	if (!d) {
		if (errno != ENOENT || ferry_mkdirs(dir, 0755)) {
			fprintf(stderr, "ferry quickstart: %s: %s\n", dir, strerror(errno));
			return -1;
		}
		return 0;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	if (empty)
		return 0;
	marker = ferry_path_join(dir, MARKER);
	if (access(marker, F_OK)) {
		fprintf(stderr,
			"ferry quickstart: %s is not empty and not an earlier quickstart; "
			"choose another directory with --dir\n",
			dir);
		free(marker);
		return -1;
	}
	free(marker);
	printf("removing the earlier quickstart in %s\n", dir);
	if (ferry_rmtree(dir) || ferry_mkdirs(dir, 0755)) {
		fprintf(stderr, "ferry quickstart: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The example with the OVA share's URL made DIR/ova. */
static int write_example(const char *dir, const char *src)
{
	char *ova_url = ferry_xasprintf("file://%s/ova", dir);

	if (ferry_mkdirs(src, 0755))
		goto fail;
	for (size_t i = 0; i < ferry_quickstart_files_count; i++) {
		const struct ferry_embedded_file *f = &ferry_quickstart_files[i];
		char *text = ferry_xstrndup((const char *)f->data, f->len);
		char *at = strstr(text, OVA_URL);
		int rc;

		if (at) {
			char *fixed = ferry_xasprintf("%.*s%s%s", (int)(at - text), text, ova_url,
						      at + strlen(OVA_URL));
			free(text);
			text = fixed;
		}
		if (!strcmp(f->path, "make-ova.sh"))
			rc = write_text(dir, f->path, text, strlen(text), 0755);
		else
			rc = write_text(src, f->path, text, strlen(text), 0644);
		free(text);
		if (rc)
			goto fail;
	}
	free(ova_url);
	return 0;
fail:
	free(ova_url);
	return -1;
}

static int make_repo(const char *dir, const char *log)
{
	char *repo = ferry_path_join(dir, "repo.git");
	char *src = ferry_path_join(dir, "src");
	char *gitdir = ferry_xasprintf("--git-dir=%s/.git", src);
	char *push = ferry_xasprintf("%s", repo);
	char *init_bare[] = {"git", "init", "-q", "--bare", "-b", "main", repo, NULL};
	char *init[] = {"git", "-C", src, "init", "-q", "-b", "main", NULL};
	char *add[] = {"git", "-C", src, "add", "-A", NULL};
	char *commit[] = {"git",
			  "-C",
			  src,
			  "-c",
			  "user.name=Quickstart",
			  "-c",
			  "user.email=quickstart@example.com",
			  "commit",
			  "-q",
			  "-m",
			  "quickstart: migrate tiny-linux and tiny-efi from the OVA share",
			  NULL};
	char *pushv[] = {"git", "-C", src, "push", "-q", push, "main", NULL};
	int rc = run(log, init_bare) || run(log, init) || run(log, add) || run(log, commit) ||
				 run(log, pushv)
			 ? -1
			 : 0;

	if (rc)
		fprintf(stderr, "ferry quickstart: making the Git repository failed; see %s\n",
			log);
	free(repo);
	free(src);
	free(gitdir);
	free(push);
	return rc;
}

static void print_outcome(const char *dir, int rc)
{
	printf("\n");
	if (rc == FERRY_EXIT_OK)
		printf("The quickstart migrated both VMs of plan quickstart/first-migration.\n\n");
	else
		printf("The quickstart did not finish cleanly (exit status %d); the lines above "
		       "say why.\n\n",
		       rc);
	printf("What is where:\n"
	       "  %s/src/           the desired state (Provider, maps, Plan, Migration)\n"
	       "  %s/repo.git       the Git repository ferry watches (branch main)\n"
	       "  %s/ova/           the OVA share the source provider reads\n"
	       "  %s/target/        the migrated disks (raw) and VirtualMachine manifests\n"
	       "  %s/data/          ferry's journal and work files\n"
	       "  status branch     git --git-dir=%s/repo.git log ferry/status\n\n",
	       dir, dir, dir, dir, dir, dir);
	printf("Next things to try:\n"
	       "  ferry history -c %s/ferry.ini             the audit trail\n"
	       "  git --git-dir=%s/repo.git show "
	       "ferry/status:status/quickstart/first-migration.md\n"
	       "  ferry diff -c %s/ferry.ini                what a pass would do now\n"
	       "  kubectl apply --dry-run=client -f "
	       "%s/target/quickstart-vms/tiny-linux/virtualmachine.yaml\n"
	       "  edit %s/src/plan.yaml, commit, push to %s/repo.git, and run\n"
	       "  ferry reconcile --once -c %s/ferry.ini\n",
	       dir, dir, dir, dir, dir, dir, dir);
}

#define QUICKSTART_USAGE "usage: ferry quickstart [--dir DIR]\n"

int ferry_cmd_quickstart(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	const char *arg = "ferry-quickstart";
	struct ferry_config cfg;
	struct ferry_err err = FERRY_ERR_INIT;
	char dir[PATH_MAX], *src = NULL, *log = NULL, *ova = NULL, *ini = NULL, *sh = NULL,
			    *secrets = NULL, *marker = NULL;
	int c, rc = FERRY_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		if (c == 'd') {
			arg = optarg;
		} else {
			fputs(QUICKSTART_USAGE, stderr);
			return FERRY_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(QUICKSTART_USAGE, stderr);
		return FERRY_EXIT_USAGE;
	}
	if (prepare_dir(arg) || !realpath(arg, dir)) {
		if (errno)
			fprintf(stderr, "ferry quickstart: %s: %s\n", arg, strerror(errno));
		return FERRY_EXIT_USAGE;
	}
	src = ferry_path_join(dir, "src");
	log = ferry_path_join(dir, "setup.log");
	ova = ferry_path_join(dir, "ova");
	sh = ferry_path_join(dir, "make-ova.sh");
	secrets = ferry_path_join(dir, "secrets");
	marker = ferry_path_join(dir, MARKER);
	if (ferry_write_file_atomic(marker, "", 0, 0644) || write_example(dir, src) ||
	    ferry_mkdirs(secrets, 0700))
		goto out;
	printf("1. making the OVA share %s (two VMs, disks with data and holes)\n", ova);
	fflush(stdout);
	{
		char *argv_sh[] = {"/bin/sh", sh, ova, NULL};
		if (run(log, argv_sh)) {
			fprintf(stderr, "ferry quickstart: make-ova.sh failed; see %s\n", log);
			goto out;
		}
	}
	printf("2. committing the desired state to %s/repo.git\n", dir);
	fflush(stdout);
	if (make_repo(dir, log))
		goto out;
	{
		char *text = ferry_xasprintf("; written by ferry quickstart\n"
					     "[repository]\n"
					     "url = repo.git\n"
					     "branch = main\n"
					     "status_interval = 2s\n"
					     "\n[daemon]\n"
					     "data_dir = data\n"
					     "\n[target]\n"
					     "type = local\n"
					     "dir = target\n"
					     "\n[secrets]\n"
					     "dir = secrets\n");
		int wrc = write_text(dir, "ferry.ini", text, strlen(text), 0644);
		free(text);
		if (wrc)
			goto out;
	}
	ini = ferry_path_join(dir, "ferry.ini");
	ferry_config_defaults(&cfg);
	if (ferry_config_load(&cfg, ini, &err)) {
		fprintf(stderr, "ferry quickstart: %s: %s\n", ini, err.msg);
		goto out;
	}
	printf("3. reconciling (ferry reconcile --once -c %s)\n", ini);
	fflush(stdout);
	rc = ferry_reconcile_config(&cfg, true);
	ferry_config_release(&cfg);
	print_outcome(dir, rc);
out:
	free(src);
	free(log);
	free(ova);
	free(ini);
	free(sh);
	free(secrets);
	free(marker);
	return rc;
}
