using System.Diagnostics;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The Kubernetes subPath escape's shape: a container writes a symlink into its volume
/// (here to /etc), and a later bind whose source runs through that link would bind the host's
/// /etc. A bind source (-v SRC, a config.json bind's source) follows a symlink only where root
/// owns it; a link another uid owns is refused with exit 125, and nothing is made.</summary>
public sealed class BindSourceSymlinkTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _volume;

    public BindSourceSymlinkTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Own(Directory.CreateTempSubdirectory("isolate-bindlink-").FullName);
        _volume = Path.Combine(_work, "volume");
        Directory.CreateDirectory(_volume);
    }

    void IDisposable.Dispose()
    {
        Dispose();
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>A first container plants /vol/link -> /etc in its volume; the link is then given
    /// to uid 1000, as a non-root user's (or a user namespace's) container would own it.</summary>
    private string PlantedLink()
    {
        var planted = Sh("ln -s /etc /vol/link", "-v", $"{_volume}:/vol");
        Assert.True(planted.ExitCode == 0, planted.ToString());
        string link = Path.Combine(_volume, "link");
        Chown(link, 1000);
        return link;
    }

    private static void Chown(string link, int uid)
    {
        using var chown = Process.Start("chown", ["-h", $"{uid}:{uid}", link])!;
        chown.WaitForExit();
        Assert.Equal(0, chown.ExitCode);
    }

    [ContainerFact]
    public void A_volume_source_through_a_symlink_another_uid_owns_is_refused()
    {
        string link = PlantedLink();
        var direct = Sh("cat /data/hostname", "-v", $"{link}:/data");
        var below = Sh("cat /data", "-v", $"{link}/hostname:/data");

        Assert.True(direct.ExitCode == 125, direct.ToString());
        Assert.Equal("", direct.Stdout);
        Assert.Equal($"isolate: -v {link}: {link}'s component {link} is a symlink owned by uid 1000 (a container or user could have planted it); give the resolved path\n", direct.Stderr);
        Assert.True(below.ExitCode == 125, below.ToString());
        Assert.Contains($"component {link} is a symlink owned by uid 1000", below.Stderr);
    }

    [ContainerFact]
    public void A_link_root_plants_from_a_user_namespace_is_another_uids_and_refused()
    {
        // root in a user namespace is uid 100000 on the host: its link needs no chown to be caught
        File.SetUnixFileMode(_volume, (UnixFileMode)0x1FF); // 0777: the namespace's root is nobody here
        var planted = Sh("ln -s /etc /vol/link", "--userns", "0:100000:65536", "-v", $"{_volume}:/vol");
        Assert.True(planted.ExitCode == 0, planted.ToString());
        string link = Path.Combine(_volume, "link");

        var run = Sh("cat /data/hostname", "-v", $"{link}:/data");

        Assert.True(run.ExitCode == 125, run.ToString());
        Assert.Equal("", run.Stdout);
        Assert.Contains($"component {link} is a symlink owned by uid 100000", run.Stderr);
    }

    [ContainerFact]
    public void The_resolved_path_or_a_symlink_root_owns_is_bound()
    {
        string target = Path.Combine(_work, "target");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "file"), "through the link\n");
        string rootLink = Path.Combine(_work, "root-link");
        File.CreateSymbolicLink(rootLink, "target"); // made by the test, as root: uid 0
        string userLink = Path.Combine(_work, "user-link");
        File.CreateSymbolicLink(userLink, "target");
        Chown(userLink, 1000);

        var throughRoot = Sh("cat /data/file", "-v", $"{rootLink}:/data:ro");
        var resolved = Sh("cat /data/file", "-v", $"{target}:/data:ro");

        Assert.True(throughRoot.ExitCode == 0, throughRoot.ToString());
        Assert.Equal("through the link\n", throughRoot.Stdout);
        Assert.True(resolved.ExitCode == 0, resolved.ToString());
        Assert.Equal("through the link\n", resolved.Stdout);
    }

    [ContainerFact]
    public void A_config_json_bind_source_through_a_symlink_another_uid_owns_is_refused()
    {
        string link = PlantedLink();
        string bundle = Path.Combine(_work, "bundle");
        string state = Path.Combine(_work, "state");
        Directory.CreateDirectory(bundle);
        var config = OciBundleWriter.Start(bundle, Rootfs.Path, ["cat", "/data/hostname"]);
        var mounts = config["mounts"]!.AsArray();
        mounts.Add(new System.Text.Json.Nodes.JsonObject
        {
            ["destination"] = "/data",
            ["type"] = "bind",
            ["source"] = link,
            ["options"] = new System.Text.Json.Nodes.JsonArray("rbind", "ro"),
        });
        int index = mounts.Count - 1;
        OciBundleWriter.Save(bundle, config);

        var run = IsolateBinary.Run(["--root", state, "run", "--bundle", bundle, $"bindlink-{Guid.NewGuid().ToString("N")[..8]}"]);

        Assert.True(run.ExitCode == 125, run.ToString());
        Assert.Equal("", run.Stdout);
        Assert.Equal($"isolate: config.json: mounts[{index}].source: {link}'s component {link} is a symlink owned by uid 1000 (a container or user could have planted it); give the resolved path\n", run.Stderr);
        Assert.Empty(Directory.Exists(state) ? Directory.GetFileSystemEntries(state) : []);
    }
}
