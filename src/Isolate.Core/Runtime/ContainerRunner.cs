using System.Runtime.InteropServices;
using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Plan;
using Isolate.Rootfs;
using Isolate.Spec;

namespace Isolate.Runtime;

/// <summary>Runs one container in the foreground: spawn through the shim, open
/// the gate, learn whether the command started, forward signals, wait, and
/// return the exit code Isolate should exit with.</summary>
public static unsafe class ContainerRunner
{
    private const int EPERM = 1;

    /// <param name="spec">The container.</param>
    /// <param name="debug">Receives --debug lines (the plan, notes from the shim); null: quiet.</param>
    /// <param name="warn">Receives warnings (a limit this kernel cannot apply); null: quiet.</param>
    /// <param name="readUsage">Read the cgroup's counters even when the container did not die of
    /// SIGKILL (--stats); otherwise they are read only to tell an OOM kill from another.</param>
    /// <param name="spawned">Told the container's PID once it is placed (OCI run records its state).</param>
    /// <param name="started">Told it once the command has been exec'd (run -d's monitor records it).</param>
    public static ContainerResult Run(ContainerSpec spec, Action<string>? debug = null, Action<string>? warn = null, bool readUsage = false,
        Action<int>? spawned = null, Action<int>? started = null)
    {
        warn ??= _ => { };
        if (!spec.Cgroups)
            return Result(RunContainer(spec, null, debug, warn, spawned, started), null, spec);
        var layout = CgroupLayout.Detect();
        if (layout.Version == CgroupVersion.None && !spec.Resources.Any)
            return Result(RunContainer(spec, null, debug, warn, spawned, started), null, spec);
        CgroupJanitor.Sweep(layout, spec.CgroupParent, warn);

        // The reaper learns where the group goes before it exists: a kill at any moment of the
        // creation is covered. Then the group is made, with its limits, before the child runs:
        // a bad limit stops here, and nothing of the user's has run.
        var placement = new CgroupPlacement(layout, spec.CgroupParent, spec.CgroupName ?? CgroupJanitor.NameFor(spec.Id, Environment.ProcessId));
        using var reaper = CgroupReaper.Start(placement.OwnsParent ? placement.ParentDirectories : [], placement.GroupDirectories);
        var cgroup = ContainerCgroup.Create(layout, spec.CgroupParent, placement.Name, spec.Resources, warn, cpuAccounting: readUsage)!;
        try
        {
            debug?.Invoke($"cgroup: {string.Join(", ", cgroup.Directories)}; reaper pid {reaper.Pid}");
            var (exitCode, timedOut) = RunContainer(spec, cgroup, debug, warn, spawned, started);
            bool killed = exitCode == ExitCodes.SignalBase + ExitStatus.SIGKILL;
            return Result((exitCode, timedOut), readUsage || killed ? cgroup.ReadUsage() : null, spec);
        }
        finally
        {
            cgroup.KillAll();
            cgroup.Remove();
        }
    }

    /// <summary>coreutils timeout's convention: 124 when the time ran out, however it ended.</summary>
    public const int TimedOutExitCode = 124;

    private static ContainerResult Result((int ExitCode, bool TimedOut) run, Cgroups.CgroupUsage? usage, ContainerSpec spec) =>
        run.TimedOut
            ? new ContainerResult(TimedOutExitCode, usage)
            {
                TimeoutMessage = $"container stopped: it ran longer than --timeout {spec.Timeout!.Value.TotalSeconds:0.###}s"
                    + (run.ExitCode == ExitCodes.SignalBase + ExitStatus.SIGKILL ? " (killed)" : ""),
            }
            : new ContainerResult(run.ExitCode, usage);

    private static (int ExitCode, bool TimedOut) RunContainer(ContainerSpec spec, ContainerCgroup? cgroup, Action<string>? debug, Action<string> warn,
        Action<int>? spawned, Action<int>? started)
    {
        var ttySize = spec.Tty ? TerminalSize() : default;
        var plan = SpawnPlan.From(spec, HostScratch.Find(HostPathsUsed(spec)), inCgroup: cgroup != null, cgroup2: cgroup is CgroupV2, ttySize);
        if (debug != null)
        {
            if (spec.UserNamespace is { } userns)
                debug($"user namespace: {userns.Describe()}{(userns.Rootless ? " (rootless: no cgroup, setgroups denied)" : "")}");
            debug($"namespaces: {plan.Namespaces}{(plan.NewCgroupNamespace ? ", NewCgroup (after placement)" : "")}; hostname {plan.Hostname}; workdir {plan.Workdir}");
            foreach (var (op, i) in plan.Mounts.Select((op, i) => (op, i)))
                debug($"mount plan {i}: {op}");
        }
        SignalForwarder.Install(spec.StopSignal, spec.StopTimeout);
        if (spec.DieWithParent || Shim.ForegroundTerminal() == 1)
            SignalForwarder.DieWithParent();
        ShimSpawnResult child;
        // The child's PDEATHSIG is tied to the thread that clones it: this must be
        // the main thread, which lives as long as Isolate does.
        using (var config = new NativeSpawnConfig(plan))
        {
            int rc = Shim.Spawn(config.Config, &child);
            if (rc < 0)
                throw SpawnFailure((ShimSpawnCall)child.FailedCall, -rc, spec.UserNamespace);
        }

        SignalForwarder.Attach(child.Pid, child.Pidfd);
        int rootfsTree = -1;
        bool pidFileWritten = false;
        try
        {
            rootfsTree = PlaceAtGate(child.Pid, spec, cgroup, warn, debug);
            if (spec.PidFile != null)
                pidFileWritten = PidFile.Write(spec.PidFile, child.Pid);
            spawned?.Invoke(child.Pid);
        }
        catch
        {
            Libc.Close(child.SyncFd); // the gate never opens: the child exits
            SignalForwarder.Detach();
            WaitQuietly(child.Pid);
            throw;
        }
        TerminalRelay? relay = null;
        try
        {
            int ttyFd;
            try
            {
                ttyFd = StartChild(child.Pid, child.SyncFd, rootfsTree, plan, debug, out _, out _);
            }
            finally
            {
                if (rootfsTree >= 0)
                    Libc.Close(rootfsTree);
                Libc.Close(child.SyncFd);
            }
            if (ttyFd >= 0)
                relay = TerminalRelay.Start(ttyFd, spec.Interactive);
            SignalForwarder.ExecDone();
            started?.Invoke(child.Pid);
            var (status, timedOut) = WaitForExit(child.Pid, child.Pidfd, spec.Timeout);
            return (ExitStatus.FromWaitStatus(status, SignalForwarder.StoppedBySignal), timedOut);
        }
        finally
        {
            relay?.Finish();
            if (pidFileWritten)
                PidFile.Remove(spec.PidFile!, child.Pid);
        }
    }

    /// <summary>OCI create: the container set up, its command found, and its PID 1 waiting on
    /// <paramref name="execFifo"/> for `start`. Nothing forwards signals or waits for it:
    /// once `create` exits it belongs to whoever reaps orphans (a subreaper such as conmon).</summary>
    /// <returns>Its PID, and the pty master with -t (else -1).</returns>
    internal static (int Pid, int TtyFd) SpawnDetached(ContainerSpec spec, ContainerCgroup? cgroup, string execFifo,
        (ushort Rows, ushort Cols) ttySize, Action<string>? debug, Action<string> warn)
    {
        var plan = SpawnPlan.From(spec, HostScratch.Find(HostPathsUsed(spec)), inCgroup: cgroup != null, cgroup2: cgroup is CgroupV2, ttySize)
            with { ExecFifo = execFifo };
        if (debug != null)
        {
            debug($"namespaces: {plan.Namespaces}; hostname {plan.Hostname}; workdir {plan.Workdir}; exec fifo {execFifo}");
            foreach (var (op, i) in plan.Mounts.Select((op, i) => (op, i)))
                debug($"mount plan {i}: {op}");
        }
        ShimSpawnResult child;
        using (var config = new NativeSpawnConfig(plan))
        {
            int rc = Shim.Spawn(config.Config, &child);
            if (rc < 0)
                throw SpawnFailure((ShimSpawnCall)child.FailedCall, -rc, spec.UserNamespace);
        }
        int rootfsTree = -1;
        try
        {
            try
            {
                rootfsTree = PlaceAtGate(child.Pid, spec, cgroup, warn, debug);
            }
            catch
            {
                Libc.Close(child.SyncFd); // the gate never opens: the child exits
                WaitQuietly(child.Pid);
                throw;
            }
            int ttyFd = StartChild(child.Pid, child.SyncFd, rootfsTree, plan, debug, out bool created, out _);
            if (!created)
            {
                if (ttyFd >= 0)
                    Libc.Close(ttyFd);
                WaitQuietly(child.Pid);
                throw new IsolateException("the container's process died while it was being set up");
            }
            return (child.Pid, ttyFd);
        }
        finally
        {
            if (rootfsTree >= 0)
                Libc.Close(rootfsTree);
            Libc.Close(child.SyncFd);
            if (child.Pidfd >= 0)
                Libc.Close(child.Pidfd);
        }
    }

    /// <summary>exec: a new process in a running container, joining every namespace of its
    /// PID 1 (<paramref name="namespaces"/>, user first, mnt last) and its cgroup, with
    /// <paramref name="spec"/>'s command, user, capabilities, seccomp filter and rlimits.</summary>
    /// <param name="detach">It outlives Isolate (a subreaper such as conmon waits for it).</param>
    /// <returns>Its PID (Isolate's child), a pidfd for it (or -1), and the pty master with -t (else -1).</returns>
    /// <param name="programFd">An open program to execute instead of looking up Args[0] (OCI hooks), or -1.</param>
    internal static (int Pid, int Pidfd, int TtyFd) ExecInto(ContainerSpec spec, IReadOnlyList<(CloneFlags Type, string Path)> namespaces,
        ContainerCgroup? cgroup, bool detach, (ushort Rows, ushort Cols) ttySize, Action<string>? debug, int programFd = -1)
    {
        var plan = new SpawnPlan
        {
            Namespaces = CloneFlags.None,
            Hostname = null,
            Mounts = [],
            Workdir = spec.Workdir,
            Args = spec.Args,
            Env = spec.Env,
            SearchPath = EnvironmentBuilder.Lookup(spec.Env, "PATH"),
            Security = spec.Security,
            Rlimits = spec.Rlimits,
            Tty = spec.Tty,
            TtyRows = ttySize.Rows,
            TtyCols = ttySize.Cols,
            JoinNamespaces = namespaces,
            ExecInto = true,
            NoParentDeathSignal = detach,
            ExecFd = programFd >= 0,
        };
        ShimSpawnResult child;
        using (var config = new NativeSpawnConfig(plan))
        {
            int rc = Shim.Spawn(config.Config, &child);
            if (rc < 0)
                throw SpawnFailure((ShimSpawnCall)child.FailedCall, -rc, null);
        }
        int execPid = -1;
        try
        {
            try
            {
                cgroup?.AddProcess(child.Pid); // the command, forked from it, starts there
            }
            catch
            {
                Libc.Close(child.SyncFd);
                WaitQuietly(child.Pid);
                throw;
            }
            int ttyFd = StartChild(child.Pid, child.SyncFd, programFd, plan, debug, out _, out execPid);
            WaitQuietly(child.Pid); // it only forked the command
            if (execPid <= 0)
            {
                if (ttyFd >= 0)
                    Libc.Close(ttyFd);
                throw new IsolateException("exec: the command's process was not started");
            }
            int pidfd = (int)Libc.PidfdOpen(execPid);
            return (execPid, pidfd, ttyFd);
        }
        catch
        {
            if (execPid > 0)
                WaitQuietly(execPid); // it reported a failure and exited
            throw;
        }
        finally
        {
            Libc.Close(child.SyncFd);
            if (child.Pidfd >= 0)
                Libc.Close(child.Pidfd);
        }
    }

    /// <summary>exec in the foreground: signals to Isolate are forwarded to the command, a
    /// terminal is relayed, and the command's status is returned.</summary>
    internal static int WaitForExec(int pid, int pidfd, int ttyFd, bool interactive, ContainerSpec spec)
    {
        SignalForwarder.Install(spec.StopSignal, spec.StopTimeout);
        SignalForwarder.Attach(pid, pidfd);
        SignalForwarder.ExecDone();
        TerminalRelay? relay = ttyFd >= 0 ? TerminalRelay.Start(ttyFd, interactive) : null;
        try
        {
            var (status, _) = WaitForExit(pid, pidfd, null);
            return ExitStatus.FromWaitStatus(status, SignalForwarder.StoppedBySignal);
        }
        finally
        {
            relay?.Finish();
            if (pidfd >= 0)
                Libc.Close(pidfd);
        }
    }

    internal static (ushort Rows, ushort Cols) CallerTerminalSize() => TerminalSize();

    /// <summary>What is done to the child while it waits at the gate: its cgroup, its OOM
    /// score, its user namespace's maps. Returns an id-mapped rootfs tree to send with the
    /// GO message, or -1.</summary>
    private static int PlaceAtGate(int pid, ContainerSpec spec, ContainerCgroup? cgroup, Action<string> warn, Action<string>? debug)
    {
        cgroup?.AddProcess(pid);
        if (spec.OomScoreAdj is { } adj)
            WriteOomScoreAdj(pid, adj);
        if (spec.UserNamespace is { } userns)
        {
            UserNamespaceSetup.WriteMaps(pid, userns);
            if (!userns.Rootless && spec.Rootfs != null)
                return UserNamespaceSetup.IdmappedRootfs(pid, spec.Rootfs, warn, debug);
        }
        return -1;
    }

    /// <summary>The caller's window size (stdout's terminal, else stdin's), or 0 x 0.</summary>
    private static (ushort Rows, ushort Cols) TerminalSize()
    {
        ushort rows, cols;
        foreach (int fd in new[] { 1, 0, 2 })
        {
            if (Shim.TtySize(fd, &rows, &cols) == 0)
                return (rows, cols);
        }
        return default;
    }

    /// <summary>--oom-score-adj, written while the child waits at the gate; the command inherits it.</summary>
    private static void WriteOomScoreAdj(int pid, int adj)
    {
        if (UserNamespaceSetup.TryWrite($"/proc/{pid}/oom_score_adj", adj.ToString(System.Globalization.CultureInfo.InvariantCulture)) is { } errno)
            throw IsolateException.FromErrno($"--oom-score-adj {adj}", null, errno).WithHint(errno is EPERM or EACCES
                ? "lowering it below Isolate's own needs CAP_SYS_RESOURCE, which Isolate does not hold here"
                : null);
    }

    private const int EACCES = 13;

    /// <summary>sync 1 (open the gate) and sync 2 (did execve happen?). A child that
    /// died before reporting (killed by a forwarded signal, say) is not an error here:
    /// its wait status tells what happened.</summary>
    /// <returns>The pty master the container sent (-t), or -1.</returns>
    private static int StartChild(int pid, int syncFd, int rootfsTree, SpawnPlan plan, Action<string>? debug, out bool created, out int execPid)
    {
        created = false;
        execPid = -1;
        const int MaxNotes = 8;
        ShimMessage failure;
        ShimMessage* notes = stackalloc ShimMessage[MaxNotes];
        uint noteCount = 0;
        int ttyFd = -1;
        if (Shim.Release(syncFd, rootfsTree, MountPlanBuilder.RootfsSlot) < 0)
            return -1; // the child is gone already
        int rc = Shim.AwaitExec(syncFd, &failure, notes, MaxNotes, &noteCount, &ttyFd);
        for (int i = 0; i < noteCount; i++)
        {
            if ((ShimNote)notes[i].Step == ShimNote.ExecPid)
                execPid = notes[i].Detail;
            debug?.Invoke(StepFailure.DescribeNote(notes[i], plan));
        }
        if (rc is 0 or 2)
        {
            created = rc == 2;
            return ttyFd;
        }
        if (ttyFd >= 0)
            Libc.Close(ttyFd);

        if (rc < 0)
            Libc.Kill(pid, ExitStatus.SIGKILL); // the protocol broke: do not leave it running
        SignalForwarder.Detach(); // before the reap frees the PID for reuse
        WaitQuietly(pid);
        throw rc == 1 ? StepFailure.Describe(failure, plan) : IsolateException.FromErrno("read the container's start-up report", null, -rc);
    }

    /// <summary>Host paths the plan reaches after the staging tmpfs is mounted: it must not
    /// cover them, nor sit below them. Volume sources are captured before staging where the
    /// kernel has open_tree, so only older kernels need them kept clear.</summary>
    private static IEnumerable<string> HostPathsUsed(ContainerSpec spec)
    {
        if (spec.Rootfs != null)
            yield return spec.Rootfs;
        if (spec.KeepChangesDir != null)
            yield return spec.KeepChangesDir;
        if (!Kernel.Features.HasFlag(KernelFeatures.OpenTree))
        {
            foreach (var volume in spec.Volumes)
                yield return volume.Source;
        }
    }

    private static IsolateException SpawnFailure(ShimSpawnCall call, int errno, UserNamespaceSpec? userns)
    {
        string operation = call switch
        {
            ShimSpawnCall.Socketpair => "create the sync socket",
            ShimSpawnCall.Stack => "allocate the child's stack",
            ShimSpawnCall.Config => "pass the configuration to the shim",
            _ => "create the container's namespaces",
        };
        var error = IsolateException.FromErrno(operation, null, errno);
        if (call != ShimSpawnCall.Clone || errno is not (EPERM or ENOSPC or EUSERS))
            return error;
        if (userns == null)
            return Libc.GetEffectiveUserId() != 0 ? new IsolateException(error.Message + ": isolate run needs root, or a user namespace") : error;
        return new IsolateException($"{error.Message}: {UserNamespaceBlocker(userns.Rootless, name => SmallFile.Read("/proc/sys/" + name.Replace('.', '/')))}");
    }

    private const int ENOSPC = 28, EUSERS = 87;

    /// <summary>Names the switch that keeps this host from creating user namespaces.</summary>
    internal static string UserNamespaceBlocker(bool rootless, Func<string, string?> sysctl)
    {
        string? Read(string name) => sysctl(name)?.Trim();
        string who = rootless ? "a non-root user" : "anyone";
        if (Read("user.max_user_namespaces") == "0")
            return $"user namespaces are disabled on this host (sysctl user.max_user_namespaces = 0); enable them with: sysctl -w user.max_user_namespaces=15000";
        if (rootless && Read("kernel.unprivileged_userns_clone") == "0")
            return "unprivileged user namespaces are disabled on this host (sysctl kernel.unprivileged_userns_clone = 0); enable them with: sysctl -w kernel.unprivileged_userns_clone=1, or run isolate as root";
        if (rootless && Read("kernel.apparmor_restrict_unprivileged_userns") == "1")
            return "AppArmor keeps unprivileged users from creating user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns = 1); allow them with: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run isolate as root";
        return $"this host does not let {who} create a user namespace here (a seccomp filter, or a container Isolate runs in, may forbid it)" +
            (rootless ? "; run isolate as root" : "; drop --userns");
    }

    /// <summary>Waits without reaping first (so signal forwarding can stop before the PID is
    /// released for reuse), stopping the container if --timeout runs out; then reaps it.</summary>
    private static (int Status, bool TimedOut) WaitForExit(int pid, int pidfd, TimeSpan? timeout)
    {
        int timedOut;
        long timeoutMs = timeout is { } t ? (long)Math.Ceiling(t.TotalMilliseconds) : -1;
        int rc = Shim.WaitExit(pid, pidfd, timeoutMs, &timedOut);
        if (rc < 0)
            throw IsolateException.FromErrno("wait for the container", null, -rc);
        SignalForwarder.Detach();
        int status;
        while (Libc.WaitPid(pid, &status, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EINTR)
                throw IsolateException.FromErrno("wait for the container", null, errno);
        }
        return (status, timedOut != 0);
    }

    private static void WaitQuietly(int pid)
    {
        int status;
        while (Libc.WaitPid(pid, &status, 0) < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR)
        {
        }
    }
}
