#include "oscar/node.h"

int main(int argc, char **argv)
{
	return (oscar_node_main(OSCAR_ROLE_SUPERVISOR, argc, argv, NULL));
}
