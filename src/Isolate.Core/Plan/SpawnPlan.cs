using Isolate.Spec;

namespace Isolate.Plan;

/// <summary>Everything the shim needs to create one container, still as managed data.
/// Runtime/NativeSpawnConfig flattens it for the child.</summary>
public sealed record SpawnPlan
{
    public required CloneFlags Namespaces { get; init; }
    /// <summary>null: leave it (exec into a running container).</summary>
    public required string? Hostname { get; init; }
    /// <summary>null: leave it.</summary>
    public string? Domainname { get; init; }
    public required IReadOnlyList<MountOp> Mounts { get; init; }
    public required string Workdir { get; init; }
    public required IReadOnlyList<string> Args { get; init; }
    public required IReadOnlyList<string> Env { get; init; }
    public string? SearchPath { get; init; }
    public bool LoopbackUp { get; init; }

    public Security.ProcessSecurity Security { get; init; } = new();

    /// <summary>A cgroup namespace, unshared by the child once it is in its cgroup.</summary>
    public bool NewCgroupNamespace { get; init; }

    public IReadOnlyList<RlimitSpec> Rlimits { get; init; } = [];

    /// <summary>The command's umask, ioprio and scheduling (see <see cref="ProcessSpec"/>).</summary>
    public uint Umask { get; init; } = ProcessSpec.DefaultUmask;
    public int? IoPriority { get; init; }
    public SchedulerSpec? Scheduler { get; init; }

    public bool Init { get; init; }

    /// <summary>Namespaces joined by path (setns) rather than made: (CLONE_NEW* flag, path).</summary>
    public IReadOnlyList<(CloneFlags Type, string Path)> JoinNamespaces { get; init; } = [];

    /// <summary>(path under /proc/sys, value), written inside before the mount plan.</summary>
    public IReadOnlyList<(string Path, string Value)> Sysctls { get; init; } = [];

    /// <summary>exec: join <see cref="JoinNamespaces"/> (all of a running container's) and fork
    /// the command into its PID namespace.</summary>
    public bool ExecInto { get; init; }

    /// <summary>Execute the file Isolate passes with the gate's GO message (an OCI hook's
    /// program, opened beforehand) instead of looking up Args[0].</summary>
    public bool ExecFd { get; init; }

    /// <summary>The command must outlive Isolate (exec --detach).</summary>
    public bool NoParentDeathSignal { get; init; }

    /// <summary>OCI create: set up, then wait on this FIFO (a host path) for `start`.</summary>
    public string? ExecFifo { get; init; }

    /// <summary>OCI create: the FIFO where a failure after `start` is written for `start` to read.</summary>
    public string? ExecStatus { get; init; }

    /// <summary>With <see cref="ExecFifo"/>: the process that waits for the container holds it
    /// there (a foreground OCI run with in-container hooks), so it keeps dying with it.</summary>
    public bool HeldByParent { get; init; }

    /// <summary>-t, with the window size to start with (0 x 0: the kernel's default).</summary>
    public bool Tty { get; init; }
    public ushort TtyRows { get; init; }
    public ushort TtyCols { get; init; }

    /// <summary>A user namespace (<see cref="CloneFlags.NewUser"/>): the parent writes its maps
    /// while the child waits at the gate, and the child then becomes its root.</summary>
    public UserNamespaceSpec? UserNamespace { get; init; }

    /// <param name="inCgroup">The child is placed in a cgroup of its own: it unshares a cgroup namespace.</param>
    /// <param name="cgroup2">That cgroup is on the unified hierarchy: /sys/fs/cgroup shows it.</param>
    /// <param name="cgroupV1">The host's v1 hierarchies (see <see cref="MountPlanBuilder.Build"/>), for
    /// a container in a v1 cgroup.</param>
    /// <param name="cgroupV1Groups">Those hierarchies' directories of the container's group, where
    /// it shares the host's cgroup namespace (see <see cref="MountPlanBuilder.Build"/>).</param>
    public static SpawnPlan From(ContainerSpec spec, string hostScratchDir, bool inCgroup = false, bool cgroup2 = false,
        (ushort Rows, ushort Cols) ttySize = default, IReadOnlyList<string>? hostLayer = null, IReadOnlyList<string>? cgroupV1 = null,
        IReadOnlyDictionary<string, string>? cgroupV1Groups = null)
    {
        var joins = spec.JoinNamespaces.Select(j => (Type: j.Type switch
        {
            "network" => CloneFlags.NewNet,
            "ipc" => CloneFlags.NewIpc,
            "uts" => CloneFlags.NewUts,
            "pid" => CloneFlags.NewPid,
            "cgroup" => CloneFlags.NewCgroup,
            "mount" => CloneFlags.NewNs,
            _ => throw new IsolateException($"joining an existing {j.Type} namespace is not supported; only network, ipc, uts, pid, cgroup and mount"),
        }, j.Path)).ToList();
        var joined = joins.Aggregate(CloneFlags.None, (all, j) => all | j.Type);
        var shared = spec.HostNamespaces.Aggregate(CloneFlags.None, (all, type) => all | type switch
        {
            "pid" => CloneFlags.NewPid,
            "ipc" => CloneFlags.NewIpc,
            "uts" => CloneFlags.NewUts,
            "cgroup" => CloneFlags.NewCgroup,
            _ => throw new IsolateException($"sharing the host's {type} namespace is not supported; only pid, ipc, uts and cgroup"),
        });
        var namespaces = CloneFlags.NewPid | CloneFlags.NewNs | CloneFlags.NewUts | CloneFlags.NewIpc;
        if (spec.Network is NetworkMode.None or NetworkMode.Bridge)
            namespaces |= CloneFlags.NewNet;
        namespaces &= ~(joined | shared); // joined: setns before the clone instead; shared: the host's
        if (spec.UserNamespace != null)
            namespaces |= CloneFlags.NewUser;
        // the cgroup namespace is unshared by the child once it is in its cgroup
        bool ownCgroupNamespace = ((joined | shared) & CloneFlags.NewCgroup) == 0;
        bool sharedUts = (shared & CloneFlags.NewUts) != 0;
        return new SpawnPlan
        {
            Namespaces = namespaces,
            // set in the container's UTS namespace, its own or a joined one (as runc); "" (an
            // OCI config without hostname): left as it is; the host's is never renamed
            Hostname = !sharedUts && spec.Hostname.Length > 0 ? spec.Hostname : null,
            Domainname = spec.Domainname,
            Mounts = MountPlanBuilder.Build(spec, hostScratchDir, inCgroup && cgroup2, hostLayer, inCgroup ? cgroupV1 : null, inCgroup ? cgroupV1Groups : null),
            Workdir = spec.Process.Workdir,
            Args = spec.Process.Args,
            Env = spec.Process.Env,
            SearchPath = spec.Process.Variable("PATH"),
            LoopbackUp = (spec.Network is NetworkMode.None or NetworkMode.Bridge) && !joined.HasFlag(CloneFlags.NewNet), // a joined one is its owner's
            JoinNamespaces = joins,
            Sysctls = spec.Sysctls.Select(s => ("/proc/sys/" + s.Key.Replace('.', '/'), s.Value)).ToList(),
            NewCgroupNamespace = inCgroup && ownCgroupNamespace,
            Security = spec.Process.Security,
            UserNamespace = spec.UserNamespace,
            Rlimits = spec.Process.Rlimits,
            Umask = spec.Process.Umask,
            IoPriority = spec.Process.IoPriority,
            Scheduler = spec.Process.Scheduler,
            Init = spec.Init,
            Tty = spec.Process.Tty,
            TtyRows = ttySize.Rows,
            TtyCols = ttySize.Cols,
        };
    }

    /// <summary>exec: <paramref name="process"/> in a running container, joining
    /// <paramref name="namespaces"/> (all of its PID 1's, user first, mnt last) and forked
    /// into its PID namespace; nothing is made, mounted or named.</summary>
    /// <param name="outlivesCaller">It must outlive Isolate (exec --detach).</param>
    /// <param name="programGiven">Execute the file passed with the gate's GO message (an OCI
    /// hook's program) instead of looking up Args[0].</param>
    public static SpawnPlan ForExec(ProcessSpec process, IReadOnlyList<(CloneFlags Type, string Path)> namespaces, bool outlivesCaller,
        bool programGiven, (ushort Rows, ushort Cols) ttySize) => new()
    {
        Namespaces = CloneFlags.None,
        Hostname = null,
        Mounts = [],
        Workdir = process.Workdir,
        Args = process.Args,
        Env = process.Env,
        SearchPath = process.Variable("PATH"),
        Security = process.Security,
        Rlimits = process.Rlimits,
        Umask = process.Umask,
        IoPriority = process.IoPriority,
        Scheduler = process.Scheduler,
        Tty = process.Tty,
        TtyRows = ttySize.Rows,
        TtyCols = ttySize.Cols,
        JoinNamespaces = namespaces,
        ExecInto = true,
        NoParentDeathSignal = outlivesCaller,
        ExecFd = programGiven,
    };
}

/// <summary>The CLONE_NEW* flags of clone(2).</summary>
[Flags]
public enum CloneFlags : ulong
{
    None = 0,
    NewNs = 0x00020000,
    NewCgroup = 0x02000000,
    NewUts = 0x04000000,
    NewIpc = 0x08000000,
    NewUser = 0x10000000,
    NewPid = 0x20000000,
    NewNet = 0x40000000,
}
