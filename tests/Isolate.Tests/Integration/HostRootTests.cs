using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>With no --rootfs: the host's own filesystem, read-only, with fresh /proc
/// and /dev and a private writable /tmp, so a newcomer's first command just works.</summary>
public sealed class HostRootTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    [ContainerFact]
    public void Ps_ef_works_and_sees_only_the_container()
    {
        var result = IsolateBinary.Run("run", "--", "ps", "-e", "-o", "pid=,comm=");
        Assert.Equal(0, result.ExitCode);
        var row = Assert.Single(result.Stdout.Trim().Split('\n'));
        Assert.Equal("1 ps", string.Join(' ', row.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
    }

    [ContainerFact]
    public void The_hosts_files_cannot_be_written()
    {
        string probe = "/var/tmp/isolate-host-probe-" + Guid.NewGuid().ToString("N");
        var result = IsolateBinary.Run("run", "--", "sh", "-c", $"echo x > {probe}; touch /etc/isolate-probe; rm -f /bin/sh");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(3, CountOccurrences(result.Stderr, "Read-only file system"));
        Assert.False(File.Exists(probe));
        Assert.False(File.Exists("/etc/isolate-probe"));
        Assert.True(File.Exists("/bin/sh"));
    }

    [ContainerFact]
    public void Tmp_is_private_and_writable()
    {
        string name = "isolate-private-" + Guid.NewGuid().ToString("N");
        var result = IsolateBinary.Run("run", "--", "sh", "-c", $"echo data > /tmp/{name} && cat /tmp/{name} && ls -A /tmp | wc -l");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("data\n1\n", result.Stdout); // empty at start: not the host's /tmp
        Assert.False(File.Exists("/tmp/" + name));
    }

    [ContainerFact]
    public void Run_is_private_so_the_hosts_sockets_are_out_of_reach()
    {
        // a read-only mount does not stop connect(): /run/docker.sock and friends are hidden
        var result = IsolateBinary.Run("run", "--", "sh", "-c", "ls -A /run | wc -l; touch /run/x && echo writable");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("0\nwritable\n", result.Stdout);
    }

    [ContainerFact]
    public void A_missing_workdir_cannot_be_created_on_the_read_only_host()
    {
        var result = IsolateBinary.Run("run", "-w", "/nonexistent-isolate-dir", "--", "true");
        Assert.Equal(125, result.ExitCode);
        Assert.Equal("isolate: create working directory /nonexistent-isolate-dir: Read-only file system\n", result.Stderr);
        Assert.False(Directory.Exists("/nonexistent-isolate-dir"));
    }

    [ContainerFact]
    public void Proc_and_dev_are_fresh()
    {
        var result = IsolateBinary.Run("run", "--", "sh", "-c", "ls /dev | wc -l; grep -c . /proc/self/mountinfo >/dev/null && echo $$");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("13\n1\n", result.Stdout);
    }

    private static int CountOccurrences(string text, string value) =>
        (text.Length - text.Replace(value, "").Length) / value.Length;
}
