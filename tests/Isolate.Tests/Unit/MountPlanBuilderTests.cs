using Isolate.Plan;
using Isolate.Spec;

namespace Isolate.Tests.Unit;

/// <summary>The mount plan as data, without root: order, targets and flags.</summary>
public sealed class MountPlanBuilderTests
{
    private static ContainerSpec Spec(string? rootfs) => new()
    {
        Rootfs = rootfs,
        Hostname = "h",
        Args = ["true"],
        Env = [],
    };

    [Fact]
    public void Mounts_are_made_private_first_and_pivot_root_comes_last()
    {
        foreach (string? rootfs in new[] { "/srv/root", null })
        {
            var plan = MountPlanBuilder.Build(Spec(rootfs));
            Assert.Equal(MountOp.MakePrivate("/"), plan[0]);
            Assert.Equal(MountKind.PivotRoot, plan[^1].Kind);
            Assert.Single(plan, op => op.Kind == MountKind.PivotRoot);
        }
    }

    [Fact]
    public void A_rootfs_is_bound_onto_itself_then_pivoted_into()
    {
        var plan = MountPlanBuilder.Build(Spec("/srv/root"));
        Assert.Equal(MountOp.Bind("/srv/root", "/srv/root", recursive: true), plan[1]);
        Assert.Equal(MountOp.PivotRoot("/srv/root"), plan[^1]);
        Assert.DoesNotContain(plan, op => op.Kind == MountKind.ReadOnlyTree);
    }

    [Fact]
    public void Proc_sys_and_dev_get_their_flags()
    {
        var plan = MountPlanBuilder.Build(Spec("/r"));
        var byTarget = plan.Where(op => op.Kind == MountKind.Filesystem).ToDictionary(op => op.Target);

        var noSuidDevExec = MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec;
        Assert.Equal(("proc", noSuidDevExec), (byTarget["/r/proc"].FsType, byTarget["/r/proc"].Flags));
        Assert.Equal(("sysfs", noSuidDevExec | MountFlags.ReadOnly), (byTarget["/r/sys"].FsType, byTarget["/r/sys"].Flags));
        Assert.Equal(("tmpfs", MountFlags.NoSuid | MountFlags.StrictAtime), (byTarget["/r/dev"].FsType, byTarget["/r/dev"].Flags));
        Assert.Equal("devpts", byTarget["/r/dev/pts"].FsType);
        Assert.Contains("newinstance", byTarget["/r/dev/pts"].Data);
        Assert.Contains("ptmxmode=0666", byTarget["/r/dev/pts"].Data);
        Assert.Equal(("tmpfs", noSuidDevExec), (byTarget["/r/dev/shm"].FsType, byTarget["/r/dev/shm"].Flags));
        Assert.Equal(["/r/proc", "/r/sys", "/r/dev", "/r/dev/pts", "/r/dev/shm"], byTarget.Keys.ToArray());
    }

    [Fact]
    public void Dev_has_the_standard_nodes_and_links()
    {
        var plan = MountPlanBuilder.Build(Spec("/r"));
        var nodes = plan.Where(op => op.Kind == MountKind.Mknod).ToList();
        var links = plan.Where(op => op.Kind == MountKind.Symlink).ToDictionary(op => op.Target, op => op.Source);

        Assert.Equal(["/r/dev/null", "/r/dev/zero", "/r/dev/full", "/r/dev/random", "/r/dev/urandom", "/r/dev/tty"], nodes.Select(n => n.Target));
        var null_ = nodes[0];
        Assert.Equal((0x2000u | 0x1B6u, MountOp.MakeDev(1, 3), "/dev/null"), (null_.Mode, null_.Device, null_.Source));
        Assert.Equal(0x103UL, MountOp.MakeDev(1, 3));
        Assert.Equal("pts/ptmx", links["/r/dev/ptmx"]);
        Assert.Equal("/proc/self/fd", links["/r/dev/fd"]);
        Assert.Equal("/proc/self/fd/0", links["/r/dev/stdin"]);
        Assert.Equal("/proc/self/fd/1", links["/r/dev/stdout"]);
        Assert.Equal("/proc/self/fd/2", links["/r/dev/stderr"]);
    }

    [Fact]
    public void Every_mount_point_is_created_before_it_is_mounted_on()
    {
        var plan = MountPlanBuilder.Build(Spec("/r"));
        foreach (var (op, index) in plan.Select((op, i) => (op, i)).Where(x => x.op.Kind == MountKind.Filesystem))
            Assert.Contains(plan.Take(index), earlier => earlier.Kind == MountKind.Mkdir && earlier.Target == op.Target);
    }

    [Fact]
    public void The_host_default_stages_a_read_only_bind_of_slash_in_a_private_tmpfs()
    {
        var plan = MountPlanBuilder.Build(Spec(null), hostScratchDir: "/tmp");

        Assert.Equal(MountOp.Filesystem("tmpfs", "/tmp", MountFlags.NoSuid | MountFlags.NoDev, "mode=0700"), plan[1]);
        Assert.Equal(MountOp.Mkdir("/tmp/root", 0x1C0), plan[2]);
        Assert.Equal(MountOp.Bind("/", "/tmp/root", recursive: true), plan[3]);
        Assert.Equal(MountOp.ReadOnlyTree("/tmp/root"), plan[4]);
        Assert.Equal(MountOp.PivotRoot("/tmp/root"), plan[^1]);
    }

    [Fact]
    public void The_host_default_is_read_only_before_fresh_mounts_and_gets_a_writable_tmp()
    {
        var plan = MountPlanBuilder.Build(Spec(null), hostScratchDir: "/mnt");
        int readOnly = plan.ToList().FindIndex(op => op.Kind == MountKind.ReadOnlyTree);
        int firstFresh = plan.ToList().FindIndex(op => op.Kind == MountKind.Filesystem && op.Target.StartsWith("/mnt/root/"));

        Assert.True(readOnly < firstFresh, "fresh mounts must come after the read-only remount, or they would be read-only too");
        var tmp = Assert.Single(plan, op => op.Target == "/mnt/root/tmp");
        Assert.Equal(("tmpfs", "mode=1777"), (tmp.FsType, tmp.Data));
        Assert.False(tmp.Flags.HasFlag(MountFlags.ReadOnly));
        // the host's sockets under /run stay out of reach: read-only does not stop connect()
        var run = Assert.Single(plan, op => op.Target == "/mnt/root/run");
        Assert.Equal(("tmpfs", MountFlags.NoSuid | MountFlags.NoDev), (run.FsType, run.Flags));
    }
}
