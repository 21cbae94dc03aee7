using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Images for a non-root user (uid 4242): its own store, layers unpacked as it can
/// (every file its own, so root's inside its user namespace; no device nodes; user.* xattrs
/// only; opaque directories as user.overlay.opaque under overlayfs' userxattr), what was not
/// kept said in one line, and the image run rootless, pulled from a registry too.</summary>
public sealed class RootlessImageTests : ImageTest, IClassFixture<RootlessSetup>
{
    private readonly RootlessSetup _setup;
    private readonly string _store;
    private readonly string _state;

    public RootlessImageTests(BusyboxRootfs rootfs, RootlessSetup setup) : base(rootfs)
    {
        _setup = setup;
        Own(setup.Dir);
        // the user's own directories, in the test's Work (removed with it), opened for it to reach
        RootlessSetup.Host("chmod", "755", Work);
        string mine = NewDir("user");
        _store = Path.Combine(mine, "store");
        _state = Path.Combine(mine, "state");
        RootlessSetup.Host("chmod", "755", mine);
        RootlessSetup.Host("chown", $"{RootlessSetup.Uid}:{RootlessSetup.Uid}", mine);
        _mine = mine;
    }

    private readonly string _mine;

    private RunResult AsUser(params string[] args) => _setup.Isolate(["--storage", _store, "--root", _state, .. args]);

    /// <summary>A layout the user may read.</summary>
    private string Layout(OciImageBuilder image)
    {
        string layout = Path.Combine(_mine, "layout-" + Guid.NewGuid().ToString("N")[..6]);
        image.WriteLayout(layout, "1");
        RootlessSetup.Host("chown", "-R", $"{RootlessSetup.Uid}:{RootlessSetup.Uid}", layout);
        return layout;
    }

    [ImageFact(Containers = true, Rootless = true)]
    public void A_non_root_user_loads_and_runs_an_image_in_its_own_store_and_is_told_what_was_not_kept()
    {
        var upper = new LayerBuilder()
            .Whiteout("etc/hello")                            // hides the lower layer's file
            .Opaque("srv").File("srv/new", "upper\n")       // hides the lower srv/old
            .File("owned", "x\n", uid: 1000, gid: 1000)      // another owner: the user's here
            .File("setuid", "#!/bin/sh\n", mode: 0x9ED)     // 04755 kept
            .File("tagged", "t\n", xattrs: new Dictionary<string, string> { ["user.note"] = "kept", ["trusted.secret"] = "no" })
            .Directory("locked", mode: 0x16D).File("locked/inside", "in\n") // 0555: its entry still made
            .Directory("dev").CharDevice("dev/null-node", 1, 3);
        var lower = new LayerBuilder().Directory("etc").File("etc/hello", "lower\n").Directory("srv").File("srv/old", "old\n");
        string layout = Layout(Busybox(lower, upper));

        var load = AsUser("load", "-i", layout, "mine");
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal("Loaded image: mine:1\n", load.Stdout);
        Assert.Contains("not kept, as a non-root user cannot make them: 1 owners other than root, 1 device nodes, 1 xattrs outside user.*", load.Stderr);

        var run = AsUser("run", "mine:1", "sh", "-c",
            "id -u; test -e /etc/hello && echo hello-visible; ls /srv; stat -c '%u %a' /owned /setuid /locked; cat /locked/inside; test -e /dev/null-node || echo no-node; cat /proc/self/uid_map | tr -s ' '");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(["0", "new", "0 644", "0 4755", "0 555", "in", "no-node", $" 0 {RootlessSetup.Uid} 1"], run.Stdout.TrimEnd('\n').Split('\n'));

        // the store is the user's: its layers its own files, with the user xattr kept
        string layerDir = Directory.GetDirectories(Path.Combine(_store, "layers")).Single(d => File.Exists(Path.Combine(d, "tagged")));
        Assert.Equal($"{RootlessSetup.Uid}\n", RootlessSetup.Host("stat", "-c", "%u", Path.Combine(layerDir, "owned")).Stdout);
        Assert.Equal("y", HostXattr(Path.Combine(layerDir, "srv"), "user.overlay.opaque"));
        Assert.Equal("kept", HostXattr(Path.Combine(layerDir, "tagged"), "user.note"));
        Assert.Null(HostXattr(Path.Combine(layerDir, "tagged"), "trusted.secret"));

        var images = AsUser("images", "-q");
        Assert.True(images.ExitCode == 0, images.ToString());
        Assert.Single(images.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var rmi = AsUser("rmi", "mine:1");
        Assert.True(rmi.ExitCode == 0, rmi.ToString());
        Assert.Empty(Directory.GetDirectories(Path.Combine(_store, "layers")));
    }

    [ImageFact(Containers = true, Registry = true, Rootless = true)]
    public void A_non_root_user_pulls_from_a_registry_and_runs_it()
    {
        using var registry = Registry.Start(RegistryMode.Plain, Own);
        string layout = NewDir("push");
        Busybox(new LayerBuilder().Directory("etc").File("etc/hello", "pulled\n")).WriteLayout(layout, "push");
        registry.Push(layout, "push", "app:1");

        var run = AsUser("run", $"{registry.Host}/app:1", "cat", "/etc/hello");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("pulled\n", run.Stdout);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_store, "tmp")));
    }
}
