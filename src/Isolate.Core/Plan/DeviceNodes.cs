using Isolate.Spec;

namespace Isolate.Plan;

/// <summary>The device nodes a container asked for (OCI linux.devices, docker's --device),
/// made in its /dev after the default ones, by the same mount op: mknod with the mode and
/// owner asked for; where mknod is not allowed (a user namespace) the host's node at the
/// same path is bound instead, as runc does.</summary>
public static class DeviceNodes
{
    /// <summary>Called where /dev's default nodes are made (MountPlanBuilder.AddDev).</summary>
    public static void Add(List<MountOp> ops, IReadOnlyList<DeviceNode> nodes)
    {
        foreach (var node in nodes)
        {
            // /dev/ptmx stays the link to the container's own devpts's ptmx (a privileged
            // pod's list names the host's node): runc too puts its link over it
            if (node.Path == "/dev/ptmx")
                continue;
            // /dev/net/tun: the directories above it first, as runc makes them
            string parent = node.Path[..node.Path.LastIndexOf('/')];
            if (parent != "/dev")
                ops.Add(MountOp.MakeDirInRoot(parent));
            ops.Add(Op(node));
        }
    }

    public static MountOp Op(DeviceNode node) => new()
    {
        Kind = MountKind.Mknod,
        Target = node.Path,
        // a pipe needs no CAP_MKNOD, so it is never bound
        Source = node.Type == 'p' ? null : node.HostPath ?? node.Path,
        Mode = TypeBits(node.Type) | (node.FileMode & 0xFFF),
        Device = MountOp.MakeDev(node.Major, node.Minor),
        Options = MountOptions.InRoot | MountOptions.Chown,
        Uid = node.Uid,
        Gid = node.Gid,
    };

    private static uint TypeBits(char type) => type switch
    {
        'c' => 0x2000, // S_IFCHR
        'b' => 0x6000, // S_IFBLK
        'p' => 0x1000, // S_IFIFO
        _ => throw new ArgumentException($"device type {type}"),
    };

    /// <summary>What the device cgroup always allows after a container's own rules, as runc
    /// appends its defaults: mknod of any node, the nodes AddDev makes (null, zero, full,
    /// random, urandom, tty), the container's ptys and ptmx.</summary>
    public static readonly IReadOnlyList<DeviceRule> DefaultCgroupRules =
    [
        new(true, 'c', null, null, "m"),
        new(true, 'b', null, null, "m"),
        new(true, 'c', 1, 3, "rwm"),
        new(true, 'c', 1, 5, "rwm"),
        new(true, 'c', 1, 7, "rwm"),
        new(true, 'c', 1, 8, "rwm"),
        new(true, 'c', 1, 9, "rwm"),
        new(true, 'c', 5, 0, "rwm"),
        new(true, 'c', 136, null, "rwm"),
        new(true, 'c', 5, 2, "rwm"),
    ];
}
