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
    public void A_missing_workdir_is_made_on_a_private_layer_and_the_root_stays_read_only()
    {
        string dir = "/nonexistent-isolate-dir-" + Guid.NewGuid().ToString("N")[..8];
        var result = IsolateBinary.Run("run", "-w", dir + "/sub", "--", "sh", "-c", "pwd; touch /probe 2>&1 | grep -o 'Read-only file system'");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"{dir}/sub\nRead-only file system\n", result.Stdout);
        Assert.False(Directory.Exists(dir));
    }

    [ContainerFact]
    public void A_volume_and_a_tmpfs_get_mount_points_the_host_lacks()
    {
        // the README's examples: `-v /tmp:/data` and `--tmpfs /cache:size=64m` on the default root
        string source = Directory.CreateTempSubdirectory("isolate-layer-").FullName;
        File.WriteAllText(Path.Combine(source, "hello"), "from the host\n");
        string name = "isolate-layer-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var result = IsolateBinary.Run("run", "-v", $"{source}:/{name}/deep/data", "--tmpfs", $"/{name}-cache:size=64m", "--",
                "sh", "-c", $"cat /{name}/deep/data/hello; echo written > /{name}/deep/data/out; grep ' /{name}-cache ' /proc/self/mountinfo | grep -c size=65536k; touch /{name}/probe 2>&1 | grep -o 'Read-only file system'");
            Assert.Equal("", result.Stderr);
            Assert.Equal("from the host\n1\nRead-only file system\n", result.Stdout);
            Assert.Equal(0, result.ExitCode);
            Assert.Equal("written\n", File.ReadAllText(Path.Combine(source, "out"))); // the volume is the host's directory
            Assert.False(Directory.Exists("/" + name));
            Assert.False(Directory.Exists($"/{name}-cache"));
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    [ContainerFact]
    public void The_layer_shows_the_hosts_mounts_as_the_plain_host_root_does()
    {
        // The layer is an overlay of the host's root filesystem: its other mounts are bound back,
        // read-only, so the container sees the same tree either way.
        const string list = "awk '{print $5, substr($6, 1, 2)}' /proc/self/mountinfo | grep -v -E '^/(proc|sys|dev|tmp|run|isolate-layer-probe)( |/)' | sort";
        var plain = IsolateBinary.Run("run", "--", "sh", "-c", list);
        var layered = IsolateBinary.Run("run", "--tmpfs", "/isolate-layer-probe", "--", "sh", "-c", list);
        Assert.Equal(0, plain.ExitCode);
        Assert.Equal(0, layered.ExitCode);
        Assert.Equal(plain.Stdout, layered.Stdout);
        Assert.DoesNotContain(" rw", plain.Stdout);
    }

    [ContainerFact]
    public void Network_host_shows_the_hosts_sysfs_read_only()
    {
        // the README's `--network host`: the host root already holds this namespace's sysfs
        var result = IsolateBinary.Run("run", "--network", "host", "--", "sh", "-c", "ls /sys/class/net | sort; awk '$5 == \"/sys\" {top = $6 \" \" $9} END {print top}' /proc/self/mountinfo");
        Assert.Equal("", result.Stderr);
        Assert.Equal(0, result.ExitCode);
        string hostDevices = string.Join("", Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName).Order(StringComparer.Ordinal).Select(n => n + "\n"));
        Assert.Equal(hostDevices + "ro,nosuid,nodev,noexec,relatime sysfs\n", result.Stdout);
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
