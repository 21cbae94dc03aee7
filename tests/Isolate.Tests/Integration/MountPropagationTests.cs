using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>With a user namespace the parent takes each bind source as a detached tree while
/// it is still in the host's mount namespace; a tree cloned from a shared mount is a peer of
/// the host's. It is made private as it is attached, so that nothing Isolate mounts under it
/// for the container (here a tmpfs inside the volume) appears on the host.</summary>
public sealed class MountPropagationTests : ContainerTest, IDisposable
{
    private readonly string _shared;

    public MountPropagationTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _shared = Directory.CreateTempSubdirectory("isolate-shared-").FullName;
        Directory.CreateDirectory(Path.Combine(_shared, "sub"));
        File.SetUnixFileMode(_shared, (UnixFileMode)0x1ED); // 0755: the container's root (uid 100000) passes through
        Host($"mount --bind {_shared} {_shared} && mount --make-shared {_shared}");
    }

    private static void Host(string script)
    {
        var result = IsolateBinary.RunFromShell(script);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private int HostMountsUnder() => File.ReadAllLines("/proc/self/mountinfo")
        .Count(l => l.Split(' ')[4].StartsWith(_shared, StringComparison.Ordinal));

    void IDisposable.Dispose()
    {
        IsolateBinary.RunFromShell($"umount -R -l {_shared}");
        Directory.Delete(_shared, recursive: true);
        Dispose();
    }

    [ContainerFact]
    public void A_mount_under_a_volume_of_a_shared_host_mount_stays_in_the_container()
    {
        Assert.Equal(1, HostMountsUnder());
        var result = Sh("grep -c ' /data/sub ' /proc/self/mountinfo",
            "--userns", "0:100000:65536", "-v", $"{_shared}:/data", "--tmpfs", "/data/sub");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("1\n", result.Stdout); // the container has its tmpfs
        Assert.Equal(1, HostMountsUnder()); // and the host only its own bind
    }
}
