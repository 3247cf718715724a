/* The `ferry` command line: one table of git-style subcommands.
 *
 * Exit codes, for every command: 0 ok; 1 the thing checked is not ok
 * (findings, a failed migration); 2 usage or environment error.
 */
#ifndef FERRY_RECONCILER_CLI_H
#define FERRY_RECONCILER_CLI_H

#include <stdbool.h>

enum {
	FERRY_EXIT_OK = 0,
	FERRY_EXIT_NOT_OK = 1,
	FERRY_EXIT_USAGE = 2,
};

struct ferry_command {
	const char *name;
	const char *summary;		   /* one line for `ferry help` */
	const char *usage;		   /* full help text for `ferry help CMD` */
	int (*run)(int argc, char **argv); /* NULL: not implemented yet */
	const char *issue;		   /* what will bring it, when run is NULL */
};

/* Entry point used by main(). */
int ferry_cli_main(int argc, char **argv);

/* Subcommands. argv[0] is the subcommand name. */
int ferry_cmd_validate(int argc, char **argv);
int ferry_cmd_copy(int argc, char **argv);
int ferry_cmd_sync(int argc, char **argv);
int ferry_cmd_history(int argc, char **argv);
int ferry_cmd_reconcile(int argc, char **argv);
int ferry_cmd_diff(int argc, char **argv);
int ferry_cmd_run(int argc, char **argv);
int ferry_cmd_quickstart(int argc, char **argv);
int ferry_cmd_inventory(int argc, char **argv);

/* Load -c FILE (or $FERRY_CONFIG, or ./ferry.ini), printing errors as
 * "ferry CMD: ...". */
struct ferry_config;
int ferry_cli_load_config(struct ferry_config *c, const char *path, const char *cmd);

/* Reconcile passes with c until nothing more can happen now (the body of
 * `ferry reconcile --once`); returns the exit status. */
int ferry_reconcile_config(const struct ferry_config *c, bool verbose);

#endif
