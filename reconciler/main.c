#include "common/util.h"
#include "reconciler/cli.h"

int main(int argc, char **argv)
{
	ferry_tie_to_parent(); /* a worker the engine spawned dies with it */
	return ferry_cli_main(argc, argv);
}
