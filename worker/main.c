#include "oscar/node.h"

int main(int argc, char **argv)
{
	return (oscar_node_main(OSCAR_ROLE_WORKER, argc, argv, NULL));
}
