#include "reconciler/cli.h"

int main(int argc, char **argv)
{
	return ferry_cli_main(argc, argv);
}
