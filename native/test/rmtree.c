/* rmtree - a test helper, not part of Isolate: removes a tree with the shim's own rm -r
 * (isolate_shim_remove_tree), as whichever user runs it, and prints its result ("0" or
 * "-errno"), so the tests can drive it as a non-root user without a user namespace.
 *
 *   rmtree DIR */
#include <stdio.h>

int isolate_shim_remove_tree(const char *path);

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: rmtree DIR\n");
        return 2;
    }
    int rc = isolate_shim_remove_tree(argv[1]);
    printf("%d\n", rc);
    return rc == 0 ? 0 : 1;
}
