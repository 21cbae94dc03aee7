/* early.c - the re-exec from a read-only copy of the binary (selfexe.c), before the .NET
 * runtime starts.
 *
 * A verb that enters a container runs from a binary nothing can write (CVE-2019-5736),
 * which takes an exec of itself. Done from Program.Main, that exec comes after one whole
 * start of the runtime that the exec then throws away; done here, in a constructor that
 * the C library runs before the runtime's main, the runtime starts once. If it cannot
 * re-exec here, nothing is lost: Program's own call (SealedBinary.Enter) tries again and
 * reports why.
 *
 * The cgroup reaper is this binary too, started with ISOLATE_REAPER_ARG (native/reaper.c):
 * it runs here, before the runtime, and exits.
 *
 * Only the binary links this: a constructor in the test runs' shared library would re-exec
 * the test host (`dotnet exec ...`). Isolate.Cli.csproj links the archive and names
 * isolate_shim_early so that the linker takes this object from it. */
#include <string.h>

#include "isolate_shim.h"

int isolate_shim_early = 1;

/* glibc calls a constructor with main's arguments. */
__attribute__((constructor)) static void seal_before_the_runtime(int argc, char **argv)
{
    /* the cgroup reaper (native/reaper.c) is this binary too, and never starts the runtime */
    if (argc >= 2 && argv != NULL && argv[1] != NULL && strcmp(argv[1], ISOLATE_REAPER_ARG) == 0)
        isolate_shim_reaper_main(argc, argv);
    (void)isolate_shim_run_sealed_early();
}
