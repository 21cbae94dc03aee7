using System.Diagnostics;
using Isolate.Tests.Support;

namespace Isolate.Tests.Unit;

/// <summary>The shim's code runs in a child cloned from a multithreaded .NET process (and
/// in the reaper, cloned the same way): any glibc function that takes a lock another
/// thread may have held at clone time can hang it forever. This checks what the static
/// library links against, so such a call cannot come back unnoticed.</summary>
public sealed class ShimSymbolTests
{
    // malloc and stdio take locks; the setxid wrappers lock and signal every thread glibc
    // knows of (a child hung in a futex under load until they became raw syscalls);
    // statvfs may read /proc/mounts through stdio; NSS lookups load modules and allocate.
    private static readonly string[] Forbidden =
    [
        "malloc", "calloc", "realloc", "free", "strdup", "asprintf", "printf", "fprintf", "snprintf", "sprintf",
        "fopen", "fdopen", "fclose", "fgets", "fputs", "fwrite", "perror", "opendir", "readdir", "syslog",
        "setuid", "setgid", "seteuid", "setegid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
        "statvfs", "fstatvfs", "getpwnam", "getpwuid", "getgrnam", "getgrgid", "initgroups", "getaddrinfo",
        "fork", "system", "popen", "exit", "atexit", "dlopen",
    ];

    [Fact]
    public void The_shim_calls_no_glibc_function_that_locks_or_allocates()
    {
        string library = Path.Combine(IsolateBinary.RepoRoot, "build", "native", "libisolate_shim.a");
        Assert.True(File.Exists(library), $"{library} is missing: build with ./build.sh first");

        var info = new ProcessStartInfo("nm", ["-u", library]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var nm = Process.Start(info)!;
        string output = nm.StandardOutput.ReadToEnd();
        nm.WaitForExit();
        Assert.Equal(0, nm.ExitCode);

        var used = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Trim().Split(' ').Last())
            .ToHashSet();
        Assert.Contains("syscall", used); // the listing is real: the shim makes raw system calls
        Assert.Equal("", string.Join(" ", Forbidden.Where(used.Contains)));
    }
}
