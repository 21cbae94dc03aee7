using Isolate.Interop;

namespace Isolate.Runtime;

/// <summary>What this kernel offers, asked of the kernel itself (native/features.c): the
/// plan and the messages depend on it, versions do not tell (distributions backport).</summary>
[Flags]
public enum KernelFeatures : uint
{
    None = 0,
    /// <summary>openat2 RESOLVE_IN_ROOT (Linux 5.6).</summary>
    Openat2 = 1 << 0,
    /// <summary>open_tree and move_mount (Linux 5.2): volumes are captured before staging.</summary>
    OpenTree = 1 << 1,
    /// <summary>mount_setattr (Linux 5.12): read-only trees in one call.</summary>
    MountSetattr = 1 << 2,
    CloseRange = 1 << 3,
}

public static class Kernel
{
    private static KernelFeatures? _features;

    public static KernelFeatures Features => _features ??= (KernelFeatures)Shim.Features();
}
