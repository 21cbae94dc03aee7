namespace Isolate.Plan;

/// <summary>One step of the mount plan: pure data, executed in order by the shim's
/// interpreter (native/mounts.c). Paths are absolute as the child sees them when
/// the step runs (before pivot_root: the host's view).</summary>
public sealed record MountOp
{
    public required MountKind Kind { get; init; }
    public string? Source { get; init; }
    public required string Target { get; init; }
    public string? FsType { get; init; }
    public string? Data { get; init; }
    public MountFlags Flags { get; init; }
    public uint Mode { get; init; }
    public ulong Device { get; init; }

    public static MountOp MakePrivate(string target) => new() { Kind = MountKind.MakePrivate, Target = target };

    public static MountOp Bind(string source, string target, bool recursive) =>
        new() { Kind = MountKind.Bind, Source = source, Target = target, Flags = recursive ? MountFlags.Rec : 0 };

    public static MountOp Filesystem(string fsType, string target, MountFlags flags, string? data = null) =>
        new() { Kind = MountKind.Filesystem, Source = fsType, FsType = fsType, Target = target, Flags = flags, Data = data };

    public static MountOp ReadOnlyTree(string target) => new() { Kind = MountKind.ReadOnlyTree, Target = target };

    public static MountOp Mkdir(string target, uint mode = 0x1ED /* 0755 */) =>
        new() { Kind = MountKind.Mkdir, Target = target, Mode = mode };

    /// <summary>A character device; <paramref name="hostNode"/> is bound instead when mknod is not allowed.</summary>
    public static MountOp CharDevice(string target, uint major, uint minor, string hostNode) =>
        new()
        {
            Kind = MountKind.Mknod,
            Target = target,
            Source = hostNode,
            Mode = 0x2000 /* S_IFCHR */ | 0x1B6 /* 0666 */,
            Device = MakeDev(major, minor),
        };

    public static MountOp Symlink(string linkTarget, string path) =>
        new() { Kind = MountKind.Symlink, Source = linkTarget, Target = path };

    public static MountOp PivotRoot(string newRoot) => new() { Kind = MountKind.PivotRoot, Target = newRoot };

    /// <summary>glibc's makedev() encoding.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8)
        | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    public override string ToString() => Kind switch
    {
        MountKind.Filesystem => $"{Kind} {FsType} {Target} [{Flags}] {Data}",
        MountKind.Bind or MountKind.Symlink or MountKind.Mknod => $"{Kind} {Source} {Target} [{Flags}]",
        _ => $"{Kind} {Target}",
    };
}

/// <summary>The values are the ABI: enum isolate_mount_kind in native/include/isolate_shim.h.</summary>
public enum MountKind : uint
{
    MakePrivate = 1,
    Bind = 2,
    Filesystem = 3,
    ReadOnlyTree = 4,
    Mkdir = 5,
    Mknod = 6,
    Symlink = 7,
    PivotRoot = 8,
}

/// <summary>The MS_* flags of mount(2) the plan uses.</summary>
[Flags]
public enum MountFlags : uint
{
    None = 0,
    ReadOnly = 0x1,      // MS_RDONLY
    NoSuid = 0x2,        // MS_NOSUID
    NoDev = 0x4,         // MS_NODEV
    NoExec = 0x8,        // MS_NOEXEC
    Rec = 0x4000,        // MS_REC
    StrictAtime = 0x1000000, // MS_STRICTATIME
}
