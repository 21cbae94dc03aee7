using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>A --rootfs container's copy-on-write layer is bounded: on disk in the state root
/// (not on a tmpfs that grows in the host's RAM), or with --storage-opt size=N on a tmpfs of
/// that size charged to the container's memory cgroup; and it is gone when the container is.</summary>
public sealed class WritableLayerTests : StateRootTest
{
    public WritableLayerTests(BusyboxRootfs rootfs) : base(rootfs, "isolate-layer-")
    {
    }

    private string Layers => Path.Combine(StateRoot, ".layers");

    private string[] LayerDirs() => Directory.Exists(Layers) ? Directory.GetDirectories(Layers) : [];

    /// <summary>The filesystem type of a host path, as `stat -f` names it (ext2/ext3, tmpfs, xfs ...).</summary>
    private static string FilesystemOf(string path) =>
        IsolateBinary.RunToEnd(new System.Diagnostics.ProcessStartInfo("stat", ["-f", "-c", "%T", path])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }).Stdout.Trim();

    private string[] HostMountsNaming(string path) =>
        File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(path, StringComparison.Ordinal)).ToArray();

    [ContainerFact]
    public void A_layer_holding_names_in_any_bytes_and_a_closed_directory_is_removed_whole()
    {
        // a name that is not UTF-8 (latin-1 e-acute, 0xff), and a directory nobody may enter
        var result = Isolate("run", "--rootfs", Rootfs.Path, "--", "sh", "-c",
            "mkdir -p \"/data-$(printf '\\351\\377')/deep\" && touch \"/data-$(printf '\\351\\377')/deep/f\" && mkdir /closed && touch /closed/f && chmod 000 /closed && ls / | grep -c data-");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("1", result.Stdout.Trim());
        Assert.Empty(LayerDirs());
        Assert.False(Directory.Exists(Layers), "the emptied layer root stays");
    }

    [ContainerFact]
    public void Writes_to_the_root_land_on_disk_in_the_state_roots_layer_and_are_gone_when_it_ends()
    {
        using var running = IsolateBinary.Start(["--root", StateRoot, "run", "--rootfs", Rootfs.Path, "--", "sh", "-c",
            "dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null && grep ' / / ' /proc/self/mountinfo && echo ready && sleep 30"]);

        // from the host: one layer directory, the 64 MiB in its upper dir, on the disk's filesystem
        var layer = Assert.Single(LayerDirs());
        string big = Path.Combine(layer, "upper", "big");
        Assert.Equal(64L << 20, new FileInfo(big).Length);
        string fs = FilesystemOf(Path.Combine(layer, "upper"));
        Assert.NotEqual("tmpfs", fs);
        Assert.Equal(FilesystemOf(StateRoot), fs);

        Libc_Kill(running.ContainerPid());
        var result = running.WaitForExit();
        // from inside: the root was an overlay whose upper layer is that directory
        Assert.Contains($"upperdir={layer}/upper,", result.Stdout);
        Assert.Empty(LayerDirs());
        Assert.Empty(HostMountsNaming(Layers));
    }

    [ContainerFact]
    public void The_root_overlays_upper_layer_is_under_the_state_root_as_the_container_sees_it()
    {
        var result = Isolate("run", "--rootfs", Rootfs.Path, "--", "sh", "-c",
            "dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null; grep ' / / ' /proc/self/mountinfo; df -k / | tail -1");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"upperdir={Layers}/", result.Stdout);
        Assert.DoesNotContain("tmpfs", result.Stdout.Split('\n')[1]); // df: the overlay, not a tmpfs
        Assert.Empty(LayerDirs());
    }

    [ContainerFact]
    public void Storage_opt_size_bounds_the_layer_and_a_write_beyond_it_fails_with_enospc_inside()
    {
        var result = Isolate("run", "--rootfs", Rootfs.Path, "--storage-opt", "size=16m", "--", "sh", "-c",
            "dd if=/dev/zero of=/big bs=1M count=32; echo status $?");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("No space left on device", result.Stderr);
        Assert.EndsWith("status 1\n", result.Stdout);
        Assert.Empty(LayerDirs()); // nothing on disk
    }

    [ContainerFact]
    public void Storage_opt_size_is_charged_to_the_containers_memory_limit()
    {
        // 64 MiB into a 256 MiB layer under a 32 MiB limit: the tmpfs pages count, so the
        // writer is killed (on disk the page cache would be reclaimed and the write succeed)
        var onTmpfs = Isolate("run", "--rootfs", Rootfs.Path, "--memory", "32m", "--storage-opt", "size=256m", "--", "sh", "-c",
            "dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null; echo status $?");
        var onDisk = Isolate("run", "--rootfs", Rootfs.Path, "--memory", "32m", "--", "sh", "-c",
            "dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null; echo status $?");

        Assert.Equal("status 137\n", onTmpfs.Stdout);
        Assert.Equal("status 0\n", onDisk.Stdout);
    }

    [ContainerFact]
    public void Storage_opt_takes_size_only_and_only_for_a_copy_on_write_rootfs()
    {
        var unknown = Isolate("run", "--rootfs", Rootfs.Path, "--storage-opt", "dm.basesize=20G", "--", "true");
        var noRootfs = Isolate("run", "--storage-opt", "size=16m", "--", "true");
        var direct = Isolate("run", "--rootfs", Rootfs.Path, "--no-overlay", "--storage-opt", "size=16m", "--", "true");
        var badSize = Isolate("run", "--rootfs", Rootfs.Path, "--storage-opt", "size=lots", "--", "true");

        Assert.Equal((125, "isolate: invalid --storage-opt 'dm.basesize=20G': the one storage option is size=SIZE (the copy-on-write layer on a tmpfs of that size)\n"),
            (unknown.ExitCode, unknown.Stderr));
        Assert.Equal((125, "isolate: --storage-opt size sizes the copy-on-write layer of a --rootfs: without --rootfs the root is the host's, read-only\n"),
            (noRootfs.ExitCode, noRootfs.Stderr));
        Assert.Equal((125, "isolate: --storage-opt size sizes the copy-on-write layer: with --no-overlay or --keep-changes the writes go to a directory on disk; drop one or the other\n"),
            (direct.ExitCode, direct.Stderr));
        Assert.Equal((125, "isolate: invalid --storage-opt size 'lots': use a number with an optional unit b, k, m or g (256m, 1g)\n"),
            (badSize.ExitCode, badSize.Stderr));
    }

    [ContainerFact]
    public void A_detached_containers_layer_goes_with_rm_f()
    {
        var run = Detach(["--name", "layered"], "echo kept > /etc/motd; echo ready; sleep 60");
        Assert.True(run.ExitCode == 0, run.ToString());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!LayerDirs().Any(d => File.Exists(Path.Combine(d, "upper", "etc", "motd"))))
        {
            Assert.True(DateTime.UtcNow < deadline, "the container's write never reached its layer on disk");
            Thread.Sleep(20);
        }

        var rm = Isolate("rm", "-f", "layered");

        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.Empty(LayerDirs());
        Assert.Empty(HostMountsNaming(Layers));
    }

    [ContainerFact]
    public void A_layer_left_by_a_killed_run_whose_reaper_died_too_is_removed_by_the_next_run()
    {
        // What a run killed together with its reaper leaves (a killed run alone has its layer
        // removed by its reaper: CrashCleanupTests): a layer named as runs name theirs, with a
        // write in it, that no one holds, older than the janitor's 30 s
        string left = Path.Combine(Layers, "0123456789ab.999999");
        Directory.CreateDirectory(Path.Combine(left, "upper"));
        Directory.CreateDirectory(Path.Combine(left, "work"));
        File.WriteAllText(Path.Combine(left, "upper", "left"), "x");
        Directory.SetLastWriteTimeUtc(left, DateTime.UtcNow - TimeSpan.FromMinutes(5));
        // and one made right now, which may be a run's between its mkdir and its lock: spared
        string young = Path.Combine(Layers, "0123456789ac.999998");
        Directory.CreateDirectory(young);

        var next = Isolate("run", "--rootfs", Rootfs.Path, "--", "true");

        Assert.True(next.ExitCode == 0, next.ToString());
        Assert.Equal([young], LayerDirs());
        Directory.Delete(young);
    }

    private static void Libc_Kill(int pid) => System.Diagnostics.Process.GetProcessById(pid).Kill();
}
