using Isolate.Plan;

namespace Isolate.Spec;

/// <summary>One mount of an OCI bundle's config.json, made as listed, in the file's order:
/// mount(Source, Destination, Type, Flags, Data), then each of Propagation. A bind has
/// Type "bind" and MS_BIND (MS_REC for rbind) in Flags; its flags other than those are
/// applied by a remount, as the kernel requires.</summary>
public sealed record ConfiguredMount(string Type, string Source, string Destination, MountFlags Flags,
    IReadOnlyList<MountFlags> Propagation, string Data, bool SourceIsFile = false, bool CopyUp = false)
{
    public bool IsBind => Type == "bind";
}

/// <summary>-v SRC:DST[:ro]: a host file or directory bound into the container.</summary>
public sealed record VolumeSpec(string Source, string Destination, bool ReadOnly, bool SourceIsFile)
{
    /// <summary>nosuid, nodev, noexec on the bind (a CDI mount's options), made by a remount.</summary>
    public Isolate.Plan.MountFlags Flags { get; init; }
}

/// <summary>A symlink made in the container's root (a GPU library's soname link, a CDI spec's
/// create-symlinks hook): Path, absolute in the container, points at Target. A name that
/// exists there is left as it is.</summary>
public sealed record SymlinkSpec(string Path, string Target);

/// <summary>--tmpfs DST[:OPTIONS]: a private tmpfs; Data is what goes to mount(2)
/// (size, mode, uid, gid, nr_inodes), the flag words become mount flags.</summary>
public sealed record TmpfsSpec(string Destination, string Data, bool ReadOnly, bool NoExec, bool NoSuid, bool NoDev);

/// <summary>How writes to a --rootfs reach (or do not reach) the directory on disk.</summary>
public enum RootfsWrites
{
    /// <summary>An overlayfs upper layer takes every write; the directory stays unchanged.
    /// The layer lives in the container's own mount namespace and is gone with it.</summary>
    CopyOnWrite,
    /// <summary>Like CopyOnWrite, but the upper layer is a host directory that is kept.</summary>
    KeepChanges,
    /// <summary>Writes go straight to the directory (runc's and bubblewrap's way).</summary>
    Direct,
}
