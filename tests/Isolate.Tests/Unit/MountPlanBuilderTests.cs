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

    [Fact]
    public void A_layer_on_disk_puts_upper_and_work_in_the_launchers_directory_and_stages_no_tmpfs()
    {
        var plan = Build(Spec("/srv/root", RootfsWrites.CopyOnWrite) with { LayerDir = "/var/lib/isolate/layers/c1.42" }, scratch: "/mnt");

        Assert.DoesNotContain(plan, op => op.FsType == "tmpfs" && !op.InRoot);
        Assert.DoesNotContain(plan, op => op.Kind == MountKind.Mkdir); // made by the launcher (Rootfs/WritableLayer)
        var overlay = Assert.Single(plan, op => op.FsType == "overlay");
        Assert.Equal("lowerdir=/srv/root,upperdir=/var/lib/isolate/layers/c1.42/upper,workdir=/var/lib/isolate/layers/c1.42/work", overlay.Data);
    }

    [Fact]
    public void An_images_layers_are_the_overlays_lowers_top_first_and_a_rootless_one_reads_user_xattrs()
    {
        var image = Spec("/store/layers/top", RootfsWrites.CopyOnWrite) with
        {
            LayerDir = "/var/lib/isolate/layers/c1.42",
            LowerLayers = ["/store/layers/mid", "/store/layers/base:1"],
            Image = "app:1",
        };
        var overlay = Assert.Single(Build(image, scratch: "/mnt"), op => op.FsType == "overlay");
        Assert.Equal("/store/layers/top", overlay.Target);
        Assert.Equal(@"lowerdir=/store/layers/top:/store/layers/mid:/store/layers/base\:1,upperdir=/var/lib/isolate/layers/c1.42/upper,workdir=/var/lib/isolate/layers/c1.42/work", overlay.Data);

        var rootless = image with { UserNamespace = new UserNamespaceSpec { Rootless = true, UidMap = [new(0, 4242, 1)], GidMap = [new(0, 4242, 1)] } };
        Assert.EndsWith(",userxattr", Assert.Single(Build(rootless, scratch: "/mnt"), op => op.FsType == "overlay").Data);
    }

    [Fact]
    public void Storage_opt_size_sizes_the_staging_tmpfs_that_holds_the_layer()
    {
        var plan = Build(Spec("/srv/root", RootfsWrites.CopyOnWrite) with { StorageSizeBytes = 16 << 20 }, scratch: "/mnt");

        Assert.Equal(MountOp.Filesystem("tmpfs", "/mnt", MountFlags.NoSuid | MountFlags.NoDev, "mode=0700,size=16777216"), plan[1]);
        Assert.Equal("lowerdir=/srv/root,upperdir=/mnt/upper,workdir=/mnt/work", Assert.Single(plan, op => op.FsType == "overlay").Data);
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

    // ---- an OCI bundle's mounts, as configured ----

    private static ConfiguredMount Fs(string type, string dest, MountFlags flags = MountFlags.None, string data = "", string? source = null,
        params MountFlags[] propagation) => new(type, source ?? type, dest, flags, propagation, data);

    private static ContainerSpec Oci(params ConfiguredMount[] mounts) => Spec("/srv/root") with { Mounts = mounts };

    [Fact]
    public void Configured_mounts_are_planned_in_their_order_with_their_sources_and_nothing_of_Isolates_own()
    {
        var plan = Build(Oci(Fs("proc", "/proc"), Fs("tmpfs", "/dev", MountFlags.NoSuid, "mode=755"), Fs("tmpfs", "/dev/shm", source: "shm"),
            Fs("mqueue", "/dev/mqueue"), Fs("sysfs", "/sys", MountFlags.ReadOnly)));
        var filesystems = plan.Where(op => op.Kind == MountKind.Filesystem).Select(op => (op.FsType, op.Source, op.Target)).ToList();
        Assert.Equal([("proc", "proc", "/proc"), ("tmpfs", "tmpfs", "/dev"), ("tmpfs", "shm", "/dev/shm"), ("mqueue", "mqueue", "/dev/mqueue"),
            ("sysfs", "sysfs", "/sys")], filesystems);
        Assert.DoesNotContain(plan, op => op.FsType == "devpts"); // none listed: none made
        var dev = plan.Single(op => op.Target == "/dev" && op.Kind == MountKind.Filesystem);
        Assert.Equal((MountFlags.NoSuid, "mode=755"), (dev.Flags, dev.Data));
        Assert.True(plan.Single(op => op.Target == "/dev/shm").Options.HasFlag(MountOptions.KeepMode)); // runc keeps the mount point's mode

        // runc's own /dev entries come after the mounts, keeping what the image has
        int lastMount = plan.FindLastIndex(op => op.Kind == MountKind.Filesystem);
        int null_ = plan.FindIndex(op => op.Target == "/dev/null");
        Assert.True(null_ > lastMount);
        Assert.Equal(InRoot | MountOptions.KeepExisting, plan[null_].Options);
        Assert.Equal(InRoot | MountOptions.Replace, plan.Single(op => op.Target == "/dev/ptmx").Options);
    }

    [Fact]
    public void A_bind_is_captured_first_and_its_flags_come_from_a_remount()
    {
        var bind = new ConfiguredMount("bind", "/srv/data", "/data", MountFlags.Bind | MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoExec,
            [MountFlags.Shared], "mode=755");
        var plan = Build(Oci(bind));
        Assert.Equal(MountOp.Capture("/srv/data", 0, readOnly: true, recursive: false), plan[1]);
        int at = plan.FindIndex(op => op.Kind == MountKind.Bind && op.Target == "/data");
        Assert.Equal(MountFlags.ReadOnly, plan[at].Flags); // a bind, not rbind
        Assert.Equal(MountOp.Remount("/data", MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoExec), plan[at + 1]);
        Assert.Equal(MountOp.Propagation("/data", MountFlags.Shared), plan[at + 2]);
    }

    [Fact]
    public void A_bind_of_dev_keeps_runcs_devices_out()
    {
        var plan = Build(Oci(new ConfiguredMount("bind", "/dev", "/dev", MountFlags.Bind | MountFlags.Rec, [], "")));
        Assert.DoesNotContain(plan, op => op.Kind is MountKind.Mknod or MountKind.Symlink);
    }

    [Fact]
    public void A_cgroup_mount_is_cgroup2_on_v2_and_each_v1_hierarchy_on_v1()
    {
        var cgroup = Fs("cgroup", "/sys/fs/cgroup", MountFlags.ReadOnly | MountFlags.NoSuid);
        var v2 = MountPlanBuilder.Build(Oci(cgroup), "/tmp", cgroup2: true).Where(op => op.Target.StartsWith("/sys/fs/cgroup")).ToList();
        Assert.Equal([("cgroup2", "/sys/fs/cgroup")], v2.Select(op => (op.FsType, op.Target)));

        var v1 = MountPlanBuilder.Build(Oci(cgroup), "/tmp", cgroupV1: ["memory", "cpu,cpuacct", "systemd"])
            .Where(op => op.Target.StartsWith("/sys/fs/cgroup")).ToList();
        Assert.Equal(
        [
            (MountKind.Filesystem, "tmpfs", "/sys/fs/cgroup", "mode=755"),
            (MountKind.Filesystem, "cgroup", "/sys/fs/cgroup/memory", "memory"),
            (MountKind.Filesystem, "cgroup", "/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"),
            (MountKind.Symlink, "cpu,cpuacct", "/sys/fs/cgroup/cpu", null),
            (MountKind.Symlink, "cpu,cpuacct", "/sys/fs/cgroup/cpuacct", null),
            (MountKind.Filesystem, "systemd", "/sys/fs/cgroup/systemd", "name=systemd"),
        ], v1.Select(op => (op.Kind, op.Source!, op.Target, op.Data)));
        Assert.All(v1.Skip(1).Where(op => op.Kind == MountKind.Filesystem), op => Assert.True(op.Flags.HasFlag(MountFlags.ReadOnly)));
    }

    [Fact]
    public void The_cwd_is_made_before_the_root_is_read_only_and_the_roots_propagation_after_pivot_root()
    {
        var spec = Oci(Fs("tmpfs", "/"), Fs("proc", "/proc")) with
        {
            ReadOnlyRoot = true,
            RootPropagation = MountFlags.Shared | MountFlags.Rec,
            Process = new ProcessSpec { Args = ["true"], Env = [], Workdir = "/work/here" },
        };
        var plan = Build(spec);
        int workdir = plan.IndexOf(MountOp.MakeDirInRoot("/work/here"));
        int readOnly = plan.IndexOf(MountOp.ReadOnly("/", recursive: false, InRoot));
        Assert.True(workdir > 0 && readOnly > workdir);
        Assert.Equal(MountOp.PivotRoot(), plan[^2]);
        Assert.Equal(MountOp.Propagation("/", MountFlags.Shared | MountFlags.Rec, MountOptions.None), plan[^1]);
        // a mount on / becomes the root the later mounts go into
        int onRoot = plan.FindIndex(op => op.Target == "/" && op.FsType == "tmpfs");
        Assert.Equal(MountOp.OpenRoot("/srv/root"), plan[onRoot + 1]);
    }
}
