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
 * Only the binary links this: a constructor in the test runs' shared library would re-exec
 * the test host (`dotnet exec ...`). Isolate.Cli.csproj links the archive and names
 * isolate_shim_early so that the linker takes this object from it. */
#include "isolate_shim.h"

int isolate_shim_early = 1;

__attribute__((constructor)) static void seal_before_the_runtime(void)
{
    (void)isolate_shim_run_sealed_early();
}
