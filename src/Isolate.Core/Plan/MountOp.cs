namespace Isolate.Plan;

/// <summary>One step of the mount plan: pure data, executed in order by the shim's
/// interpreter (native/mounts.c). A target is a host path as the child sees it when
/// the step runs, or, with <see cref="MountOptions.InRoot"/>, a path inside the
/// container's root that the shim resolves there safely.</summary>
public sealed record MountOp
{
    public required MountKind Kind { get; init; }
    public string? Source { get; init; }
    public required string Target { get; init; }
    public string? FsType { get; init; }
    public string? Data { get; init; }
    public MountFlags Flags { get; init; }
    public MountOptions Options { get; init; }
    public uint Mode { get; init; }
    public ulong Device { get; init; }

    /// <summary>Mknod with <see cref="MountOptions.Chown"/>: the node's owner.</summary>
    public uint Uid { get; init; }

    public uint Gid { get; init; }

    /// <summary>Capture and Bind: which captured host tree (see <see cref="Capture"/>), or -1.</summary>
    public int Slot { get; init; } = -1;

    /// <summary>WriteFile: the bytes (Device holds their count).</summary>
    public byte[]? Content { get; init; }

    public bool InRoot => Options.HasFlag(MountOptions.InRoot);

    public static MountOp MakePrivate(string target) => new() { Kind = MountKind.MakePrivate, Target = target };

    public static MountOp Bind(string source, string target, bool recursive, MountOptions options = MountOptions.None,
        bool readOnly = false, int slot = -1, uint mode = 0) =>
        new()
        {
            Kind = MountKind.Bind,
            Source = source,
            Target = target,
            Flags = (recursive ? MountFlags.Rec : 0) | (readOnly ? MountFlags.ReadOnly : 0),
            Options = options,
            Slot = slot,
            Mode = mode,
        };

    /// <summary>A detached copy of the host tree at <paramref name="source"/> (open_tree), taken
    /// before anything is staged so no staging mount can cover it; read-only already when asked.
    /// A later Bind with the same slot attaches it.</summary>
    public static MountOp Capture(string source, int slot, bool readOnly, bool recursive = true) =>
        new()
        {
            Kind = MountKind.Capture, Source = source, Target = source, Slot = slot,
            Flags = (readOnly ? MountFlags.ReadOnly : 0) | (recursive ? MountFlags.Rec : 0),
        };

    /// <param name="source">What mount(2) is given as the source (config.json's mounts[].source); null: the type.</param>
    public static MountOp Filesystem(string fsType, string target, MountFlags flags, string? data = null,
        MountOptions options = MountOptions.None, uint mode = 0, string? source = null) =>
        new() { Kind = MountKind.Filesystem, Source = source ?? fsType, FsType = fsType, Target = target, Flags = flags, Data = data, Options = options, Mode = mode };

    /// <summary>The mount at target remounted (MS_BIND|MS_REMOUNT) with exactly these flags: the
    /// kernel takes nosuid, nodev, noexec, ro and atime for a bind only this way. Flags the mount
    /// is locked with (a bind from a user namespace) are kept.</summary>
    public static MountOp Remount(string target, MountFlags flags, MountOptions options = MountOptions.InRoot) =>
        new() { Kind = MountKind.Remount, Target = target, Flags = flags, Options = options };

    /// <summary>The mount at target gets this propagation (MS_SHARED, MS_SLAVE, MS_PRIVATE or
    /// MS_UNBINDABLE, with MS_REC for its whole tree).</summary>
    public static MountOp Propagation(string target, MountFlags propagation, MountOptions options = MountOptions.InRoot) =>
        new() { Kind = MountKind.Propagation, Target = target, Flags = propagation, Options = options };

    public static MountOp ReadOnly(string target, bool recursive, MountOptions options = MountOptions.None) =>
        new() { Kind = MountKind.ReadOnly, Target = target, Options = options | (recursive ? MountOptions.Recursive : 0) };

    /// <summary>mkdir -p of a host path (staging); inside the root, mount targets carry CreateDir instead.</summary>
    public static MountOp Mkdir(string target, uint mode = 0x1ED /* 0755 */) =>
        new() { Kind = MountKind.Mkdir, Target = target, Mode = mode };

    /// <summary>mkdir -p of a directory in the root (the working directory on a layer that
    /// becomes read-only later).</summary>
    public static MountOp MakeDirInRoot(string target) =>
        new() { Kind = MountKind.Mkdir, Target = target, Mode = 0x1ED, Options = MountOptions.InRoot | MountOptions.CreateDir };

    /// <summary>A character device; <paramref name="hostNode"/> is bound instead when mknod is not allowed.</summary>
    public static MountOp CharDevice(string target, uint major, uint minor, string hostNode, MountOptions options = MountOptions.None) =>
        new()
        {
            Kind = MountKind.Mknod,
            Target = target,
            Source = hostNode,
            Mode = 0x2000 /* S_IFCHR */ | 0x1B6 /* 0666 */,
            Device = MakeDev(major, minor),
            Options = options,
        };

    public static MountOp Symlink(string linkTarget, string path, MountOptions options = MountOptions.None) =>
        new() { Kind = MountKind.Symlink, Source = linkTarget, Target = path, Options = options };

    /// <summary>A file made (or replaced, never followed) at <paramref name="path"/> in the root, holding <paramref name="content"/>.</summary>
    public static MountOp WriteFile(string path, byte[] content, uint mode = 0x1A4 /* 0644 */) =>
        new() { Kind = MountKind.WriteFile, Target = path, Content = content, Device = (ulong)content.Length, Mode = mode, Options = MountOptions.InRoot };

    public static MountOp OpenRoot(string root) => new() { Kind = MountKind.OpenRoot, Target = root };

    public static MountOp PivotRoot() => new() { Kind = MountKind.PivotRoot, Target = "/" };

    /// <summary>Hides a kernel path; where this kernel lacks it, there is nothing to hide.</summary>
    public static MountOp Mask(string path) =>
        new() { Kind = MountKind.Mask, Target = path, Options = MountOptions.InRoot | MountOptions.Optional };

    public static MountOp ReadOnlyPath(string path) =>
        new() { Kind = MountKind.ReadOnlyPath, Target = path, Options = MountOptions.InRoot | MountOptions.Optional };

    /// <summary>glibc's makedev() encoding.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8)
        | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    public override string ToString()
    {
        string where = (InRoot ? $"{Target} (in root)" : Target) + (Options.HasFlag(MountOptions.Optional) ? " (if present)" : "");
        string options = (Options & ~(MountOptions.InRoot | MountOptions.Optional)).ToString();
        string extra = (Flags != 0 ? $" flags={Flags}" : "") + (options != "None" ? $" options={options}" : "");
        return Kind switch
        {
            MountKind.Filesystem => $"mount {FsType} on {where}{extra}" + (Data is { Length: > 0 } ? $" data={Data}" : ""),
            MountKind.Bind => $"bind {Source} onto {where}{extra}" + (Slot >= 0 ? $" (capture {Slot})" : ""),
            MountKind.Capture => $"capture {Source} as {Slot}{extra}",
            MountKind.Symlink => $"symlink {where} -> {Source}",
            MountKind.WriteFile => $"write {Device} bytes to {where}",
            MountKind.Mknod => $"mknod {where} {Device >> 8}:{Device & 0xff}",
            _ => $"{Kind.ToString().ToLowerInvariant()} {where}{extra}",
        };
    }
}

/// <summary>The values are the ABI: enum isolate_mount_kind in native/include/isolate_shim.h.</summary>
public enum MountKind : uint
{
    MakePrivate = 1,
    Bind = 2,
    Filesystem = 3,
    ReadOnly = 4,
    Mkdir = 5,
    Mknod = 6,
    Symlink = 7,
    PivotRoot = 8,
    OpenRoot = 9,
    Mask = 10,
    ReadOnlyPath = 11,
    Capture = 12,
    Remount = 13,
    Propagation = 14,
    WriteFile = 15,
}

/// <summary>enum isolate_op_options in native/include/isolate_shim.h.</summary>
[Flags]
public enum MountOptions : uint
{
    None = 0,
    /// <summary>The target is inside the container's root, resolved there (never out of it).</summary>
    InRoot = 1 << 0,
    /// <summary>No symlink anywhere in the target: procfs and sysfs go only on real directories.</summary>
    NoSymlinks = 1 << 1,
    CreateDir = 1 << 2,
    CreateFile = 1 << 3,
    /// <summary>ReadOnly: the whole tree below the target, or fail.</summary>
    Recursive = 1 << 4,
    /// <summary>A missing target is skipped rather than an error.</summary>
    Optional = 1 << 5,
    /// <summary>Mknod, Symlink: a name that exists already is left as it is (runc's devices
    /// and /dev links on a /dev that is the rootfs's own directory).</summary>
    KeepExisting = 1 << 6,
    /// <summary>Symlink: whatever is at the name is removed first (runc's /dev/ptmx).</summary>
    Replace = 1 << 7,
    /// <summary>Filesystem (tmpfs): the target keeps the mode its directory had (runc), unless
    /// the data gives mode= or the target was created for it.</summary>
    KeepMode = 1 << 8,
    /// <summary>Mknod: the node made gets owner Uid:Gid (a bound host node keeps the host's).</summary>
    Chown = 1 << 9,
    /// <summary>Filesystem (tmpfs): what the target directory held before the mount is copied
    /// into the new mount, modes and owners kept (OCI option tmpcopyup, as crun and runc do).</summary>
    CopyUp = 1 << 10,
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
    Synchronous = 0x10,  // MS_SYNCHRONOUS
    MandLock = 0x40,     // MS_MANDLOCK
    DirSync = 0x80,      // MS_DIRSYNC
    NoAtime = 0x400,     // MS_NOATIME
    NoDirAtime = 0x800,  // MS_NODIRATIME
    Bind = 0x1000,       // MS_BIND
    Rec = 0x4000,        // MS_REC
    Silent = 0x8000,     // MS_SILENT
    Unbindable = 0x20000, // MS_UNBINDABLE
    Private = 0x40000,   // MS_PRIVATE
    Slave = 0x80000,     // MS_SLAVE
    Shared = 0x100000,   // MS_SHARED
    RelAtime = 0x200000, // MS_RELATIME
    StrictAtime = 0x1000000, // MS_STRICTATIME
    LazyTime = 0x2000000, // MS_LAZYTIME
}
