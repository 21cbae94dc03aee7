using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>What reaches the container of the caller's file descriptors: stdio only,
/// and never a way out of the root through one (CVE-2024-21626).</summary>
public sealed class FileDescriptorTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    [ContainerFact]
    public void Only_stdio_reaches_the_container_even_when_the_caller_passes_more()
    {
        var result = IsolateBinary.RunFromShell($"exec \"$ISOLATE\" run --rootfs {Rootfs.Path} -- ls /proc/self/fd 7</ 8>/dev/null 9</etc/hostname");
        Assert.Equal(0, result.ExitCode);
        // 0, 1, 2 and the fd ls itself opened on the directory
        Assert.Equal(["0", "1", "2", "3"], result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [ContainerFact]
    public void A_workdir_through_an_inherited_directory_fd_does_not_leave_the_root()
    {
        // fd 9 is the host's / in the caller; inside, it must not exist.
        var result = IsolateBinary.RunFromShell(
            $"exec \"$ISOLATE\" run --rootfs {Rootfs.Path} -w /proc/self/fd/9 -- cat ../../etc/hostname 9</");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.StartsWith("isolate: create working directory /proc/self/fd/9: ", result.Stderr);
    }

    [ContainerFact]
    public void A_host_directory_as_stdio_is_refused()
    {
        // `cd /proc/self/fd/0/..` would otherwise walk the host from a directory given as stdin
        var asWorkdir = IsolateBinary.RunFromShell(
            $"exec \"$ISOLATE\" run --rootfs {Rootfs.Path} -w /proc/self/fd/0 -- cat ../../etc/hostname </");
        var walked = IsolateBinary.RunFromShell(
            $"exec \"$ISOLATE\" run --rootfs {Rootfs.Path} -- sh -c 'cd -P /proc/self/fd/1/.. && ls >&2' 1</etc");

        Assert.Equal((125, ""), (asWorkdir.ExitCode, asWorkdir.Stdout));
        Assert.Equal("isolate: stdin is a directory (or an O_PATH descriptor): it would give the container a way out of its root; redirect it from a file or a pipe\n",
            asWorkdir.Stderr);
        Assert.Equal(125, walked.ExitCode);
        Assert.StartsWith("isolate: stdout is a directory", walked.Stderr);
    }

    [ContainerFact]
    public void A_closed_stdin_becomes_dev_null()
    {
        var result = IsolateBinary.RunFromShell(
            $"exec 0<&-; exec \"$ISOLATE\" run --rootfs {Rootfs.Path} -- sh -c 'cat; stat -L -c %t:%T /proc/self/fd/0'");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("1:3\n", result.Stdout); // the null device, read as empty
    }
}
