using Isolate.Plan;
using Isolate.Spec;

namespace Isolate.Tests.Unit;

/// <summary>The mount plan as data, without root: order, targets, flags and options.</summary>
public sealed class MountPlanBuilderTests
{
    private const MountOptions InRoot = MountOptions.InRoot;

    private static ContainerSpec Spec(string? rootfs, RootfsWrites writes = RootfsWrites.Direct) => new()
    {
        Rootfs = rootfs,
        Hostname = "h",
        Process = new ProcessSpec { Args = ["true"], Env = [] },
        RootfsWrites = writes,
    };

    private static List<MountOp> Build(ContainerSpec spec, string scratch = "/tmp") => MountPlanBuilder.Build(spec, scratch).ToList();

    [Fact]
    public void Mounts_are_made_private_first_and_pivot_root_comes_last()
    {
        foreach (var spec in new[] { Spec("/srv/root"), Spec("/srv/root", RootfsWrites.CopyOnWrite), Spec(null) })
        {
            var plan = Build(spec);
            Assert.Equal(MountOp.MakePrivate("/"), plan[0]);
            Assert.Equal(MountOp.PivotRoot(), plan[^1]);
            Assert.Single(plan, op => op.Kind == MountKind.PivotRoot);
        }
    }

    [Fact]
    public void Every_mount_inside_the_root_comes_after_the_root_is_open_and_is_resolved_in_it()
    {
        var plan = Build(Spec("/srv/root") with
        {
            Volumes = [new VolumeSpec("/data", "/data", false, false)],
            Tmpfs = [new TmpfsSpec("/cache", "", false, true, true, true)],
        });
        int open = plan.FindIndex(op => op.Kind == MountKind.OpenRoot);

        Assert.Equal(MountOp.OpenRoot("/srv/root"), plan[open]);
        Assert.All(plan.Take(open), op => Assert.False(op.InRoot));
        Assert.All(plan.Skip(open + 1).SkipLast(1), op => Assert.True(op.InRoot, $"{op} is not resolved in the root"));
    }

    [Fact]
    public void Without_overlay_a_rootfs_is_bound_onto_itself()
    {
        var plan = Build(Spec("/srv/root", RootfsWrites.Direct));
        Assert.Equal(MountOp.Bind("/srv/root", "/srv/root", recursive: true), plan[1]);
        Assert.DoesNotContain(plan, op => op.FsType == "overlay");
    }

    [Fact]
    public void Copy_on_write_puts_an_overlay_with_a_private_upper_layer_over_the_rootfs()
    {
        var plan = Build(Spec("/srv/root", RootfsWrites.CopyOnWrite), scratch: "/mnt");

        Assert.Equal(MountOp.Filesystem("tmpfs", "/mnt", MountFlags.NoSuid | MountFlags.NoDev, "mode=0700"), plan[1]);
        Assert.Equal(MountOp.Mkdir("/mnt/upper"), plan[2]);
        Assert.Equal(MountOp.Mkdir("/mnt/work"), plan[3]);
        Assert.Equal(MountOp.Filesystem("overlay", "/srv/root", MountFlags.None, "lowerdir=/srv/root,upperdir=/mnt/upper,workdir=/mnt/work"), plan[4]);
        Assert.Equal(MountOp.OpenRoot("/srv/root"), plan[5]);
    }

    [Fact]
    public void Keep_changes_puts_the_upper_layer_in_the_given_directory()
    {
        var plan = Build(Spec("/srv/root", RootfsWrites.KeepChanges) with { KeepChangesDir = "/var/keep" });

        Assert.DoesNotContain(plan, op => op.FsType == "tmpfs" && !op.InRoot);
        Assert.DoesNotContain(plan, op => op.Kind == MountKind.Mkdir); // made and checked by the CLI, not followed blindly
        var overlay = Assert.Single(plan, op => op.FsType == "overlay");
        Assert.Equal("lowerdir=/srv/root,upperdir=/var/keep/upper,workdir=/var/keep/work", overlay.Data);
    }

    [Theory]
    [InlineData("/plain", "/plain")]
    [InlineData("/a,b:c", "/a\\,b\\:c")]
    [InlineData("/back\\slash", "/back\\\\slash")]
    public void Overlay_paths_are_escaped(string path, string expected) => Assert.Equal(expected, MountPlanBuilder.EscapeOverlay(path));

    [Fact]
    public void Proc_and_sys_go_only_on_real_directories_dev_follows_links_inside_the_root()
    {
        var plan = Build(Spec("/r"));
        var byTarget = plan.Where(op => op.Kind == MountKind.Filesystem && op.InRoot).ToDictionary(op => op.Target);

        var noSuidDevExec = MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec;
        var realDirectory = InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir;
        Assert.Equal(("proc", noSuidDevExec, realDirectory), (byTarget["/proc"].FsType, byTarget["/proc"].Flags, byTarget["/proc"].Options));
        Assert.Equal(("sysfs", noSuidDevExec | MountFlags.ReadOnly, realDirectory), (byTarget["/sys"].FsType, byTarget["/sys"].Flags, byTarget["/sys"].Options));
        Assert.Equal(("tmpfs", MountFlags.NoSuid | MountFlags.StrictAtime, InRoot | MountOptions.CreateDir),
            (byTarget["/dev"].FsType, byTarget["/dev"].Flags, byTarget["/dev"].Options));
        Assert.Equal("devpts", byTarget["/dev/pts"].FsType);
        Assert.Contains("newinstance", byTarget["/dev/pts"].Data);
        Assert.Contains("ptmxmode=0666", byTarget["/dev/pts"].Data);
        Assert.Equal(("tmpfs", noSuidDevExec), (byTarget["/dev/shm"].FsType, byTarget["/dev/shm"].Flags));
        Assert.Equal(["/proc", "/sys", "/dev", "/dev/pts", "/dev/shm"], byTarget.Keys.ToArray());
    }

    [Fact]
    public void Dev_has_the_standard_nodes_and_links()
    {
        var plan = Build(Spec("/r"));
        var nodes = plan.Where(op => op.Kind == MountKind.Mknod).ToList();
        var links = plan.Where(op => op.Kind == MountKind.Symlink).ToDictionary(op => op.Target, op => op.Source);

        Assert.Equal(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"], nodes.Select(n => n.Target));
        var null_ = nodes[0];
        Assert.Equal((0x2000u | 0x1B6u, MountOp.MakeDev(1, 3), "/dev/null", InRoot), (null_.Mode, null_.Device, null_.Source, null_.Options));
        Assert.Equal(0x103UL, MountOp.MakeDev(1, 3));
        Assert.Equal("pts/ptmx", links["/dev/ptmx"]);
        Assert.Equal("/proc/self/fd", links["/dev/fd"]);
        Assert.Equal("/proc/self/fd/0", links["/dev/stdin"]);
        Assert.Equal("/proc/self/fd/1", links["/dev/stdout"]);
        Assert.Equal("/proc/self/fd/2", links["/dev/stderr"]);
    }

    [Fact]
    public void The_host_default_stages_a_recursively_read_only_bind_of_slash_in_a_private_tmpfs()
    {
        var plan = Build(Spec(null), scratch: "/tmp");

        Assert.Equal(MountOp.Filesystem("tmpfs", "/tmp", MountFlags.NoSuid | MountFlags.NoDev, "mode=0700"), plan[1]);
        Assert.Equal(MountOp.Mkdir("/tmp/root", 0x1C0), plan[2]);
        Assert.Equal(MountOp.Bind("/", "/tmp/root", recursive: true), plan[3]);
        Assert.Equal(MountOp.ReadOnly("/tmp/root", recursive: true), plan[4]);
        Assert.Equal(MountOp.OpenRoot("/tmp/root"), plan[5]);
    }

    [Fact]
    public void The_host_default_gets_a_writable_tmp_and_a_private_run()
    {
        var plan = Build(Spec(null), scratch: "/mnt");
        var tmp = Assert.Single(plan, op => op.Target == "/tmp");
        var run = Assert.Single(plan, op => op.Target == "/run");

        Assert.Equal(("tmpfs", "mode=1777", InRoot | MountOptions.Optional), (tmp.FsType, tmp.Data, tmp.Options));
        Assert.False(tmp.Flags.HasFlag(MountFlags.ReadOnly));
        // the host's sockets under /run stay out of reach: read-only does not stop connect()
        Assert.Equal(("tmpfs", MountFlags.NoSuid | MountFlags.NoDev, InRoot | MountOptions.Optional), (run.FsType, run.Flags, run.Options));
    }

    [Fact]
    public void Volumes_are_captured_before_any_staging_and_attached_later_by_slot()
    {
        var plan = Build(Spec("/r", RootfsWrites.CopyOnWrite) with
        {
            Volumes = [new VolumeSpec("/host/dir", "/data", false, false), new VolumeSpec("/host/file.conf", "/etc/app.conf", true, true)],
        });
        int firstStaging = plan.FindIndex(op => op.Kind is MountKind.Filesystem or MountKind.Bind or MountKind.Mkdir);

        Assert.Equal(MountOp.Capture("/host/dir", 0, readOnly: false), plan[1]);
        Assert.Equal(MountOp.Capture("/host/file.conf", 1, readOnly: true), plan[2]);
        Assert.True(firstStaging > 2, "a capture must come before the staging tmpfs, which could cover its source");

        var binds = plan.Where(op => op.Kind == MountKind.Bind && op.InRoot).ToList();
        Assert.Equal(MountOp.Bind("/host/dir", "/data", recursive: true, InRoot | MountOptions.CreateDir, slot: 0, mode: 0x1ED), binds[0]);
        Assert.Equal(MountOp.Bind("/host/file.conf", "/etc/app.conf", recursive: true, InRoot | MountOptions.CreateFile, readOnly: true, slot: 1, mode: 0x1A4),
            binds[1]);
        Assert.Equal(MountFlags.Rec | MountFlags.ReadOnly, binds[1].Flags);
    }

    [Fact]
    public void Volumes_and_tmpfs_go_shallowest_first_keeping_the_given_order_at_equal_depth()
    {
        var plan = Build(Spec("/r") with
        {
            Volumes = [new VolumeSpec("/v1", "/data/sub", false, false), new VolumeSpec("/v2", "/b", false, false)],
            Tmpfs = [new TmpfsSpec("/data", "", false, true, true, true), new TmpfsSpec("/a", "", false, true, true, true)],
        });
        var order = plan.Where(op => op.InRoot && op.Target is "/data/sub" or "/b" or "/data" or "/a").Select(op => op.Target);

        Assert.Equal(["/b", "/data", "/a", "/data/sub"], order);
    }

    [Fact]
    public void Too_many_volumes_are_refused()
    {
        var volumes = Enumerable.Range(0, 64).Select(i => new VolumeSpec("/s", $"/d{i}", false, false)).ToList();
        var error = Assert.Throws<IsolateException>(() => Build(Spec("/r") with { Volumes = volumes }));
        Assert.Equal("too many volumes (64): at most 63", error.Message);
    }

    [Fact]
    public void Tmpfs_mounts_carry_their_data_and_flags()
    {
        var plan = Build(Spec("/r") with { Tmpfs = [new TmpfsSpec("/scratch", "size=64m,mode=1777", false, true, true, true)] });
        var tmpfs = Assert.Single(plan, op => op.Target == "/scratch");
        Assert.Equal(MountOp.Filesystem("tmpfs", "/scratch", MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec, "size=64m,mode=1777", InRoot | MountOptions.CreateDir), tmpfs);
    }

    [Fact]
    public void Kernel_paths_are_masked_and_read_only_after_every_other_mount_unless_privileged()
    {
        var spec = Spec("/r") with { Volumes = [new VolumeSpec("/x", "/x", false, false)] };
        var plan = Build(spec);
        int lastVolume = plan.FindLastIndex(op => op.Kind == MountKind.Bind);
        var masks = plan.Where(op => op.Kind == MountKind.Mask).Select(op => op.Target).ToList();
        var readOnly = plan.Where(op => op.Kind == MountKind.ReadOnlyPath).Select(op => op.Target).ToList();

        Assert.Equal(["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
            "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"], masks);
        Assert.Equal(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"], readOnly);
        // a kernel without one of them has nothing to hide there
        Assert.All(plan.Where(op => op.Kind is MountKind.Mask or MountKind.ReadOnlyPath),
            op => Assert.Equal(InRoot | MountOptions.Optional, op.Options));
        Assert.True(plan.FindIndex(op => op.Kind == MountKind.Mask) > lastVolume);

        var privileged = Build(spec with { Privileged = true });
        Assert.DoesNotContain(privileged, op => op.Kind is MountKind.Mask or MountKind.ReadOnlyPath);
    }

    [Fact]
    public void On_cgroup_v2_the_containers_own_group_is_mounted_read_only_at_sys_fs_cgroup()
    {
        var plan = MountPlanBuilder.Build(Spec("/r"), "/tmp", cgroup2: true).ToList();
        var cgroup = Assert.Single(plan, op => op.FsType == "cgroup2");
        Assert.Equal(MountOp.Filesystem("cgroup2", "/sys/fs/cgroup", MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec | MountFlags.ReadOnly, null,
            InRoot | MountOptions.NoSymlinks), cgroup);
        Assert.True(plan.IndexOf(cgroup) > plan.FindIndex(op => op.FsType == "sysfs"));
        Assert.DoesNotContain(Build(Spec("/r")), op => op.FsType == "cgroup2");
    }

    [Fact]
    public void Read_only_root_is_the_last_step_before_pivot_and_only_for_the_root_mount()
    {
        var plan = Build(Spec("/r") with { ReadOnlyRoot = true, Tmpfs = [new TmpfsSpec("/tmp", "", false, true, true, true)] });
        Assert.Equal(MountOp.ReadOnly("/", recursive: false, InRoot), plan[^2]);
        Assert.DoesNotContain(plan, op => op.Kind == MountKind.ReadOnly && op.Options.HasFlag(MountOptions.Recursive));
    }

    [Fact]
    public void The_host_root_as_a_layer_is_an_overlay_with_the_hosts_mounts_bound_back_read_only_and_read_only_at_the_end()
    {
        var spec = Spec(null) with { Process = new ProcessSpec { Args = ["true"], Env = [], Workdir = "/work/here" } };
        var plan = MountPlanBuilder.Build(spec, "/tmp", hostLayer: ["/home", "/boot"]).ToList();

        Assert.DoesNotContain(plan, op => op.Kind == MountKind.Bind && op.Source == "/");
        int overlay = plan.FindIndex(op => op.FsType == "overlay");
        Assert.Equal("lowerdir=/,upperdir=/tmp/upper,workdir=/tmp/work", plan[overlay].Data);
        Assert.Equal("/tmp/root", plan[overlay].Target);
        Assert.Equal(MountOp.Bind("/home", "/tmp/root/home", recursive: true), plan[overlay + 1]);
        Assert.Equal(MountOp.ReadOnly("/tmp/root/home", recursive: true), plan[overlay + 2]);
        Assert.Equal(MountOp.Bind("/boot", "/tmp/root/boot", recursive: true), plan[overlay + 3]);
        Assert.Equal(MountOp.OpenRoot("/tmp/root"), plan[overlay + 5]);
        int workdir = plan.IndexOf(MountOp.MakeDirInRoot("/work/here"));
        int readOnly = plan.IndexOf(MountOp.ReadOnly("/", recursive: false, InRoot));
        Assert.True(workdir > overlay && readOnly > workdir && readOnly == plan.Count - 2, string.Join("\n", plan));

        // without a layer, and with a --rootfs, none of it
        Assert.DoesNotContain(Build(Spec(null)), op => op.FsType == "overlay" || op.Kind == MountKind.Mkdir && op.InRoot);
        Assert.DoesNotContain(MountPlanBuilder.Build(Spec("/srv/root"), "/tmp", hostLayer: ["/home"]), op => op.Source == "/home");
    }

    [Fact]
    public void Mountinfo_gives_the_mounts_on_a_parent_with_their_escapes_undone()
    {
        byte[] table = System.Text.Encoding.UTF8.GetBytes(
            "22 1 0:21 / / rw - ext4 /dev/vda rw\n"
            + "30 22 0:5 / /home rw - ext4 /dev/vdb rw\n"
            + "31 30 0:6 / /home/nested rw - tmpfs tmpfs rw\n"
            + "32 22 0:7 / /my\\040dir rw - tmpfs tmpfs rw\n");
        Assert.Equal(["/home", "/my dir"], Isolate.Rootfs.HostLayer.Parse(table, 22).ToArray());
    }

    [Fact]
    public void Network_host_on_the_host_root_puts_a_tmpfs_under_the_new_sysfs()
    {
        var plan = Build(Spec(null) with { Network = NetworkMode.Host });
        int sysfs = plan.FindIndex(op => op.FsType == "sysfs");
        Assert.Equal("tmpfs", plan[sysfs - 1].FsType);
        Assert.Equal("/sys", plan[sysfs - 1].Target);
        Assert.DoesNotContain(Build(Spec("/srv/root") with { Network = NetworkMode.Host }), op => op.FsType == "tmpfs" && op.Target == "/sys");
    }
}
