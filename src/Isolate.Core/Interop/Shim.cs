using System.Runtime.InteropServices;

namespace Isolate.Interop;

// Mirrors native/include/isolate_shim.h field for field. The layout is the ABI:
// change both files together and bump ISOLATE_SHIM_ABI_VERSION.

internal enum ShimStep : uint
{
    Gate = 1,
    Setsid = 2,
    Hostname = 3,
    Loopback = 4,
    MountOp = 5,
    Workdir = 6,
    CloseFds = 7,
    Exec = 8,
}

[Flags]
internal enum ShimSpawnFlags : uint
{
    None = 0,
    LoopbackUp = 1u << 0,
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ShimMountOp
{
    public uint Kind;
    public uint Flags;
    public uint Mode;
    public uint Reserved;
    public ulong Dev;
    public byte* Source;
    public byte* Target;
    public byte* FsType;
    public byte* Data;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ShimSpawnConfig
{
    public uint AbiVersion;
    public uint Flags;
    public ulong CloneFlags;
    public byte* Hostname;
    public ShimMountOp* MountOps;
    public uint MountOpCount;
    public uint Reserved;
    public byte* Workdir;
    public byte** Argv;
    public byte** Envp;
    public byte* SearchPath;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ShimSpawnResult
{
    public int Pid;
    public int SyncFd;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ShimMessage
{
    public uint Type;
    public uint Step;
    public int Err;
    public int Index;
}

internal static unsafe partial class Shim
{
    public const uint AbiVersion = 1;
    private const string Library = "isolate_shim";

    [LibraryImport(Library, EntryPoint = "isolate_shim_spawn")]
    internal static partial int Spawn(ShimSpawnConfig* config, ShimSpawnResult* result);

    [LibraryImport(Library, EntryPoint = "isolate_shim_release")]
    internal static partial int Release(int syncFd);

    [LibraryImport(Library, EntryPoint = "isolate_shim_await_exec")]
    internal static partial int AwaitExec(int syncFd, ShimMessage* failure);

    [LibraryImport(Library, EntryPoint = "isolate_shim_forward_signals")]
    internal static partial int ForwardSignals(int* signals, uint count);

    [LibraryImport(Library, EntryPoint = "isolate_shim_forward_to")]
    internal static partial void ForwardTo(int pid);

    [LibraryImport(Library, EntryPoint = "isolate_shim_stopped_by_signal")]
    internal static partial int StoppedBySignal();

    [LibraryImport(Library, EntryPoint = "isolate_shim_signal_would_be_dropped")]
    internal static partial int SignalWouldBeDropped(int pid, int signal);
}
