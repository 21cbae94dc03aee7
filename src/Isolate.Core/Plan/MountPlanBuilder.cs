using Isolate.Spec;

namespace Isolate.Plan;

/// <summary>Decides every mount of a container, in order, as data. Where a mount
/// flag is decided is here; where it is applied is native/mounts.c.</summary>
public static class MountPlanBuilder
{
    private const MountFlags NoSuidDevExec = MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec;

    /// <param name="spec">The container.</param>
    /// <param name="hostScratchDir">For the host-root default only: an existing host directory
    /// over which the child mounts a private tmpfs to hold the new root's mount point. The
    /// tmpfs lives only in the child's mount namespace, so nothing is created on the host.</param>
    public static IReadOnlyList<MountOp> Build(ContainerSpec spec, string hostScratchDir = "/tmp")
    {
        // Private first: on systemd hosts "/" is shared, and every mount below
        // would otherwise propagate back to the host.
        var ops = new List<MountOp> { MountOp.MakePrivate("/") };
        string root;
        if (spec.Rootfs is { } rootfs)
        {
            root = rootfs;
            // pivot_root needs the new root to be a mount point of its own.
            ops.Add(MountOp.Bind(root, root, recursive: true));
        }
        else
        {
            ops.Add(MountOp.Filesystem("tmpfs", hostScratchDir, MountFlags.NoSuid | MountFlags.NoDev, "mode=0700"));
            root = Join(hostScratchDir, "root");
            ops.Add(MountOp.Mkdir(root, 0x1C0 /* 0700 */));
            ops.Add(MountOp.Bind("/", root, recursive: true));
            ops.Add(MountOp.ReadOnlyTree(root));
        }

        AddProc(ops, root);
        AddSys(ops, root);
        AddDev(ops, root);
        if (spec.Rootfs is null)
        {
            // The read-only host tree gets a private, writable /tmp, and a private /run:
            // a read-only mount does not stop connect(), and the host's sockets live
            // there (docker.sock, D-Bus, systemd's private socket).
            ops.Add(MountOp.Filesystem("tmpfs", Join(root, "tmp"), MountFlags.NoSuid | MountFlags.NoDev, "mode=1777"));
            ops.Add(MountOp.Filesystem("tmpfs", Join(root, "run"), MountFlags.NoSuid | MountFlags.NoDev, "mode=755"));
        }
        ops.Add(MountOp.PivotRoot(root));
        return ops;
    }

    private static void AddProc(List<MountOp> ops, string root)
    {
        string proc = Join(root, "proc");
        ops.Add(MountOp.Mkdir(proc, 0x16D /* 0555 */));
        // A fresh procfs of the new PID namespace: the command sees only its own processes.
        ops.Add(MountOp.Filesystem("proc", proc, NoSuidDevExec));
    }

    private static void AddSys(List<MountOp> ops, string root)
    {
        string sys = Join(root, "sys");
        ops.Add(MountOp.Mkdir(sys, 0x16D /* 0555 */));
        ops.Add(MountOp.Filesystem("sysfs", sys, NoSuidDevExec | MountFlags.ReadOnly));
    }

    /// <summary>A minimal /dev: a tmpfs with the usual nodes, a private devpts, shm and the fd links.</summary>
    private static void AddDev(List<MountOp> ops, string root)
    {
        string dev = Join(root, "dev");
        ops.Add(MountOp.Mkdir(dev));
        ops.Add(MountOp.Filesystem("tmpfs", dev, MountFlags.NoSuid | MountFlags.StrictAtime, "mode=755,size=65536k"));
        foreach (var (name, major, minor) in Devices)
            ops.Add(MountOp.CharDevice(Join(dev, name), major, minor, "/dev/" + name));

        string pts = Join(dev, "pts");
        ops.Add(MountOp.Mkdir(pts));
        // newinstance: the container's ptys are its own, not the host's.
        ops.Add(MountOp.Filesystem("devpts", pts, MountFlags.NoSuid | MountFlags.NoExec,
            "newinstance,ptmxmode=0666,mode=0620,gid=5"));
        ops.Add(MountOp.Symlink("pts/ptmx", Join(dev, "ptmx")));

        string shm = Join(dev, "shm");
        ops.Add(MountOp.Mkdir(shm));
        ops.Add(MountOp.Filesystem("tmpfs", shm, NoSuidDevExec, "mode=1777,size=65536k"));

        ops.Add(MountOp.Symlink("/proc/self/fd", Join(dev, "fd")));
        ops.Add(MountOp.Symlink("/proc/self/fd/0", Join(dev, "stdin")));
        ops.Add(MountOp.Symlink("/proc/self/fd/1", Join(dev, "stdout")));
        ops.Add(MountOp.Symlink("/proc/self/fd/2", Join(dev, "stderr")));
    }

    private static readonly (string Name, uint Major, uint Minor)[] Devices =
    [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ];

    private static string Join(string dir, string name) => dir.EndsWith('/') ? dir + name : dir + "/" + name;
}
