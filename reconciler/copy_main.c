/* ferry-copy: `ferry copy` alone, the worker the engine spawns for each
 * disk. The same code as the subcommand (cmd_copy.c), linked with the data
 * plane only: it loads 4 shared libraries' worth of symbols instead of
 * ferry's 40-odd, which is most of what starting a worker costs (a pass
 * that starts 500 copies starts 500 of these). */
#include "common/log.h"
#include "common/util.h"
#include "reconciler/cli.h"
#include "reconciler/forkserver.h"

#include <stdlib.h>
#include <string.h>

static int copy(int argc, char **argv)
{
	ferry_log_init();
	argv[0] = "copy";
	return ferry_cmd_copy(argc, argv);
}

int main(int argc, char **argv)
{
	ferry_tie_to_parent(); /* dies with the engine that follows it */
	/* the engine's fork server (forkserver.h): its socket is fd 3 */
	if (argc == 3 && !strcmp(argv[1], "--forkserver"))
		return ferry_forkserver_serve(3, atoi(argv[2]), copy);
	return copy(argc, argv);
}
