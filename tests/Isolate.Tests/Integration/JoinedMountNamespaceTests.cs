using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>linux.namespaces may name a mount namespace to join by path. The container's root
/// is set up in the namespace it joins, so joining the one Isolate itself runs in (the host's:
/// /proc/1/ns/mnt on a host, or /proc/self/ns/mnt) would make its mounts private, mount the
/// root and pivot_root there - every process of the host re-rooted. It is refused at create
/// (exit 125), and the host's mounts stay as they were.
/// Run the "before" check of this class only inside `unshare -m --propagation private`.</summary>
public sealed class JoinedMountNamespaceTests : ContainerTest, IDisposable
{
    private readonly string _work;

    public JoinedMountNamespaceTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Own(Directory.CreateTempSubdirectory("isolate-joinmnt-").FullName);
    }

    void IDisposable.Dispose()
    {
        Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [ContainerTheory]
    [InlineData("/proc/self/ns/mnt")]
    [InlineData("/proc/{pid}/ns/mnt")]
    public void Joining_the_runtimes_own_mount_namespace_is_refused(string path)
    {
        path = path.Replace("{pid}", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string bundle = Path.Combine(_work, "bundle");
        string state = Path.Combine(_work, "state");
        Directory.CreateDirectory(bundle);
        var config = OciBundleWriter.Start(bundle, Rootfs.Path, ["true"]);
        var namespaces = config["linux"]!["namespaces"]!.AsArray();
        int index = namespaces.Select(n => (string?)n!["type"]).ToList().IndexOf("mount");
        namespaces[index] = new JsonObject { ["type"] = "mount", ["path"] = path };
        OciBundleWriter.Save(bundle, config);
        string mountsBefore = File.ReadAllText("/proc/self/mountinfo");

        var run = IsolateBinary.Run(["--root", state, "run", "--bundle", bundle, $"joinmnt-{Guid.NewGuid().ToString("N")[..8]}"]);

        string mountsAfter = File.ReadAllText("/proc/self/mountinfo");
        Assert.True(run.ExitCode == 125, run.ToString());
        Assert.Equal($"isolate: config.json: linux.namespaces[{index}].path: '{path}' is the mount namespace Isolate itself runs in (the host's, for /proc/1/ns/mnt): the container's mounts and pivot_root would re-root it; remove the path for a mount namespace of the container's own\n", run.Stderr);
        Assert.Equal(RootLine(mountsBefore), RootLine(mountsAfter));
        Assert.DoesNotContain(Rootfs.Path, mountsAfter);
        Assert.True(Directory.Exists(_work), "this process was re-rooted: its own directory is gone");
        Assert.Empty(Directory.Exists(state) ? Directory.GetFileSystemEntries(state) : []);
    }

    /// <summary>The mountinfo line of "/" (its propagation shows a MakePrivate of the host's /).</summary>
    private static string RootLine(string mountinfo) =>
        mountinfo.Split('\n').Single(line => line.Split(' ') is { Length: > 4 } f && f[4] == "/");
}
