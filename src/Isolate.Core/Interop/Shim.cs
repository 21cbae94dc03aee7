using System.Runtime.InteropServices;

namespace Isolate.Interop;

// Mirrors native/include/isolate_shim.h field for field, and each of its enums member for
// member (enum isolate_mount_kind and isolate_op_options are Plan/MountOp.cs's MountKind
// and MountOptions, isolate_feature is Runtime/KernelFeatures.cs). The layout is the ABI:
// change both files together and bump ISOLATE_SHIM_ABI_VERSION;
// tests/Isolate.Tests/Unit/AbiTests.cs compares every size, offset and value with the
// C compiler's (native/test/abi_layout.c).

internal enum ShimStep : uint
{
    Setsid = 2,
    Hostname = 3,
    Loopback = 4,
    MountOp = 5,
    Workdir = 6,
    CloseFds = 7,
    Exec = 8,
    Stdio = 9,
    CgroupNamespace = 10,
    Capabilities = 11,
    User = 12,
    NoNewPrivileges = 13,
    Seccomp = 14,
    UserNamespace = 15,
    Rlimit = 16,
    Tty = 17,
    Init = 18,
    ExecFifo = 19,
    JoinNamespace = 20,
    Sysctl = 21,
    ExecInto = 22,
    Domainname = 23,
    IoPriority = 24,
    Scheduler = 25,
}

internal enum ShimMessageType : uint
{
    Go = 1,
    Failed = 2,
    Note = 3,
    Tty = 4,
    Created = 5,
    Tree = 6,
}

internal enum ShimNote : uint
{
    NoPivot = 1,
    ExecPid = 2,
}

/// <summary>enum isolate_tty_detail: which part of -t failed (ShimStep.Tty).</summary>
internal enum ShimTtyDetail
{
    OpenMaster = 0,
    OpenSlave = 1,
    Controlling = 2,
    Stdio = 3,
    Send = 4,
}

/// <summary>enum isolate_caps_detail: which capability set failed (ShimStep.Capabilities).</summary>
internal enum ShimCapabilitiesDetail
{
    Bounding = 0,
    Set = 1,
    Ambient = 2,
}

/// <summary>enum isolate_user_detail: which id failed (ShimStep.User, ShimStep.UserNamespace).</summary>
internal enum ShimUserDetail
{
    Groups = 0,
    Gid = 1,
    Uid = 2,
}

internal enum ShimWorkdirDetail
{
    Enter = 0,
    Create = 1,
    OutsideRoot = 2,
}

internal enum ShimExecDetail
{
    NotFound = 0,
    Found = 1,
    OwnBinary = 2,
}

/// <summary>enum isolate_program_kind: what the kernel opens by path to run a file
/// (isolate_shim_program_kind).</summary>
internal enum ShimProgramKind
{
    Static = 0,
    Dynamic = 1,
    Script = 2,
    Other = 3,
}

internal enum ShimSpawnCall : uint
{
    Config = 1,
    Socketpair = 2,
    Stack = 3,
    Clone = 4,
    JoinNamespace = 5,
}

[Flags]
internal enum ShimSpawnFlags : uint
{
    None = 0,
    LoopbackUp = 1u << 0,
    NewCgroupNamespace = 1u << 1,
    UserNamespace = 1u << 2,
    Init = 1u << 3,
    Tty = 1u << 4,
    Detached = 1u << 5,
    ExecInto = 1u << 6,
    NoParentDeathSignal = 1u << 7,
    ExecFd = 1u << 8,
    Scheduler = 1u << 9,
    HeldByParent = 1u << 12,
}

[Flags]
internal enum ShimSecurityFlags : uint
{
    None = 0,
    NoNewPrivileges = 1u << 0,
    KeepGroups = 1u << 1,
    OciCapabilities = 1u << 2,
    SeccompLog = 1u << 3,
    SeccompSpecAllow = 1u << 4,
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ShimMountOp
{
    public uint Kind;
    public uint Flags;
    public uint Mode;
    public uint Options;
    public ulong Dev;
    public int Slot;
    public uint Reserved;
    public byte* Source;
    public byte* Target;
    public byte* FsType;
    public byte* Data;
    public uint Uid;
    public uint Gid;
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
    public ShimProcessSecurity Security;
    public ShimRlimit* Rlimits;
    public uint RlimitCount;
    public ushort TtyRows;
    public ushort TtyCols;
    public byte* ExecFifo;
    public ShimNamespaceJoin* NsJoins;
    public uint NsJoinCount;
    public uint SysctlCount;
    public ShimSysctl* Sysctls;
    public byte* Domainname;
    public uint Umask;
    public int IoPriority;
    public uint SchedPolicy;
    public int SchedNice;
    public uint SchedPriority;
    public uint Reserved2;
    public ulong SchedFlags;
    public ulong SchedRuntime;
    public ulong SchedDeadline;
    public ulong SchedPeriod;
    public byte* ExecStatus;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ShimNamespaceJoin
{
    public byte* Path;
    public uint NsType;
    public uint Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ShimSysctl
{
    public byte* Path;
    public byte* Value;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ShimRlimit
{
    public uint Resource;
    public uint Reserved;
    public ulong Soft;
    public ulong Hard;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ShimProcessSecurity
{
    public ulong CapBounding;
    public ulong CapEffective;
    public ulong CapPermitted;
    public ulong CapInheritable;
    public uint LastCap;
    public uint Flags;
    public uint Uid;
    public uint Gid;
    public uint* Groups;
    public uint GroupCount;
    public uint SeccompLength;
    public ulong* Seccomp; // struct isolate_bpf_insn: 8 bytes each
    public uint PreserveFds;
    public uint Reserved;
    public ulong CapAmbient;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ShimSpawnResult
{
    public int Pid;
    public int SyncFd;
    public int Pidfd;
    public uint FailedCall;
    public int FailedDetail;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ShimMessage
{
    public uint Type;
    public uint Step;
    public int Err;
    public int Detail;
}

internal static unsafe partial class Shim
{
    public const uint AbiVersion = 8;
    private const string Library = "isolate_shim";

    [LibraryImport(Library, EntryPoint = "isolate_shim_spawn")]
    internal static partial int Spawn(ShimSpawnConfig* config, ShimSpawnResult* result);

    [LibraryImport(Library, EntryPoint = "isolate_shim_spawn_reaper", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int SpawnReaper(byte** dirs, uint count, uint shared, string? layer, string? net, int* writeFd);

    // --network bridge (native/netlink.c): addresses in network byte order, 0 or -errno
    [LibraryImport(Library, EntryPoint = "isolate_net_bridge", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int NetBridge(string name, uint address, uint prefix);

    [LibraryImport(Library, EntryPoint = "isolate_net_address", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int NetAddress(string name, uint* address, uint* prefix);

    [LibraryImport(Library, EntryPoint = "isolate_net_veth", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int NetVeth(string bridge, string hostName, int pid, uint address, uint prefix, uint gateway, int* failedStep);

    [LibraryImport(Library, EntryPoint = "isolate_nft_container", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int NftContainer(string table, string bridge, uint address, ShimPort* ports, uint count);

    [LibraryImport(Library, EntryPoint = "isolate_net_release", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int NetRelease(string dir, int takeLock);

    [LibraryImport(Library, EntryPoint = "isolate_net_port_check")]
    internal static partial int NetPortCheck(byte protocol, uint address, ushort port);

    // rootless --network bridge (native/slirp.c)
    [LibraryImport(Library, EntryPoint = "isolate_net_slirp", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int NetSlirp(string program, int pid, int dirFd, string apiSocket, int logFd, int timeoutMs, int* exitFd, int* slirpPid);

    [LibraryImport(Library, EntryPoint = "isolate_net_slirp_request", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int NetSlirpRequest(string apiSocket, byte* request, uint requestLength, byte* reply, uint replyCapacity);

    [LibraryImport(Library, EntryPoint = "isolate_shim_open_in_root", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int OpenInRoot(string root, string path);

    [LibraryImport(Library, EntryPoint = "isolate_shim_open_host_path", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int OpenHostPath(string path, byte* link, uint linkLength, uint* linkUid);

    [LibraryImport(Library, EntryPoint = "isolate_shim_run_sealed")]
    internal static partial int RunSealed();

    [LibraryImport(Library, EntryPoint = "isolate_shim_program_kind")]
    internal static partial int ProgramKind(int fd);

    [LibraryImport(Library, EntryPoint = "isolate_shim_sealed_copy")]
    internal static partial int SealedCopy(int fd);

    [LibraryImport(Library, EntryPoint = "isolate_shim_features")]
    internal static partial uint Features();

    [LibraryImport(Library, EntryPoint = "isolate_shim_release")]
    internal static partial int Release(int syncFd, int treeFd, int slot);

    [LibraryImport(Library, EntryPoint = "isolate_shim_release_trees")]
    internal static partial int ReleaseTrees(int syncFd, int treeFd, int slot, int* trees, int* slots, uint count);

    [LibraryImport(Library, EntryPoint = "isolate_shim_capture_tree", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int CaptureTree(string path, int recursive, int readOnly);

    [LibraryImport(Library, EntryPoint = "isolate_shim_idmapped_tree", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int IdmappedTree(string path, int usernsFd);

    [LibraryImport(Library, EntryPoint = "isolate_shim_await_exec")]
    internal static partial int AwaitExec(int syncFd, ShimMessage* failure, ShimMessage* notes, uint maxNotes, uint* noteCount, int* ttyFd);

    [LibraryImport(Library, EntryPoint = "isolate_shim_forward_signals")]
    internal static partial int ForwardSignals(int* signals, uint count);

    [LibraryImport(Library, EntryPoint = "isolate_shim_forward_to")]
    internal static partial void ForwardTo(int pid, int pidfd);

    [LibraryImport(Library, EntryPoint = "isolate_shim_forward_exec_done")]
    internal static partial void ForwardExecDone();

    [LibraryImport(Library, EntryPoint = "isolate_shim_forward_stop")]
    internal static partial void ForwardStop();

    [LibraryImport(Library, EntryPoint = "isolate_shim_forward_stop_policy")]
    internal static partial void ForwardStopPolicy(int stopSignal, long stopTimeoutMs);

    [LibraryImport(Library, EntryPoint = "isolate_shim_wait_exit")]
    internal static partial int WaitExit(int pid, int pidfd, long timeoutMs, int* timedOut);

    [LibraryImport(Library, EntryPoint = "isolate_shim_die_with_parent")]
    internal static partial int DieWithParent(int expectedParent);

    /// <summary>rm -r, byte for byte (names need not be UTF-8), following no link. 0 or -errno.</summary>
    [LibraryImport(Library, EntryPoint = "isolate_shim_remove_tree", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int RemoveTree(string path);

    /// <summary>rm -r of <paramref name="path"/> as <see cref="RemoveTree"/> does it (gone
    /// already is fine): the one way Isolate removes a tree of its own (a layer, a state or
    /// log directory). .NET's recursive Directory.Delete cannot name a file that is not UTF-8,
    /// and lists each level through its enumerators (about 1 ms for a state directory).</summary>
    /// <exception cref="IOException">It could not: the path and the error.</exception>
    internal static void RemoveTreeOrThrow(string path)
    {
        int rc = RemoveTree(path);
        if (rc < 0)
            throw new IOException($"{path}: {IsolateException.Describe(-rc)}", -rc); // the errno as HResult, as System.IO gives it (ErrorText reads it)
    }

    [LibraryImport(Library, EntryPoint = "isolate_shim_started_at")]
    internal static partial long StartedAt();

    [LibraryImport(Library, EntryPoint = "isolate_shim_foreground_terminal")]
    internal static partial int ForegroundTerminal();

    [LibraryImport(Library, EntryPoint = "isolate_shim_tty_size")]
    internal static partial int TtySize(int fd, ushort* rows, ushort* cols);

    [LibraryImport(Library, EntryPoint = "isolate_shim_tty_raw")]
    internal static partial int TtyRaw(int fd, byte* saved, uint savedSize);

    [LibraryImport(Library, EntryPoint = "isolate_shim_tty_restore")]
    internal static partial int TtyRestore(int fd, byte* saved);

    [LibraryImport(Library, EntryPoint = "isolate_shim_tty_relay")]
    internal static partial int TtyRelay(int master, int outFd, int sizeFd);

    [LibraryImport(Library, EntryPoint = "isolate_shim_send_console", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int SendConsole(string socketPath, int master);

    [LibraryImport(Library, EntryPoint = "isolate_shim_daemonize", StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int Daemonize(string path, byte** argv, byte** envp, int outFd);

    [LibraryImport(Library, EntryPoint = "isolate_shim_tty_input")]
    internal static partial int TtyInput(int master, int inFd);

    [LibraryImport(Library, EntryPoint = "isolate_shim_stopped_by_signal")]
    internal static partial int StoppedBySignal();
}

/// <summary>struct isolate_port: one published port (native/netlink.c).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ShimPort
{
    public uint HostAddr;
    public ushort HostPort;
    public ushort ContainerPort;
    public uint Protocol;
}
