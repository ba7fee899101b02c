// A shared object that is not an Oscar-C module: it has no
// oscar_module_init, so a node told to load it must refuse to start and
// say which module and why.
int oscar_test_not_a_module(void);

int oscar_test_not_a_module(void)
{
	return (0);
}
