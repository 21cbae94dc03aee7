using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Plan;
using Isolate.Rootfs;
using Isolate.Runtime;
using Isolate.Spec;

namespace Isolate.Launch;

/// <summary>What a launch makes of the process it spawns.</summary>
public enum LaunchKind
{
    /// <summary>A new container whose command runs now; Isolate stays its parent, forwards
    /// signals and waits (isolate run, OCI run, and run -d's monitor).</summary>
    Foreground,
    /// <summary>A new container set up and held before its command, on an exec FIFO that
    /// `start` writes to (OCI create).</summary>
    Created,
    /// <summary>A new process in a running container: its namespaces joined, forked into its
    /// PID namespace, placed in its cgroup (exec, and the container's own OCI hooks).</summary>
    ExecInto,
}

/// <summary>The one spawn → gate → start sequence every process Isolate starts goes through:
/// the shim clones the child (which waits at the gate), the child is placed while it waits
/// (cgroup, OOM score, user namespace maps), the gate opens, and the child's report says
/// whether its command was exec'd, is held (created), or failed at which step.</summary>
public static unsafe partial class Launcher
{
    /// <summary>A spawned child after the gate: its PID, a pidfd for it (or -1), the pty master
    /// with -t (else -1), whether it is held on its exec FIFO, and the PID of the command an
    /// exec child forked (else -1).</summary>
    private readonly record struct Started(int Pid, int Pidfd, int TtyFd, bool Created, int ExecPid);

    /// <summary>What is done to the child while it waits at the gate; returns an id-mapped
    /// rootfs tree to send with the GO message, or -1.</summary>
    private delegate int GateWork(int pid);

    /// <param name="kind">Decides only what is done after the start: the sequence is the same.</param>
    /// <param name="spawned">Told the child's spawn result before any gate work (a foreground
    /// run starts forwarding signals to it here).</param>
    /// <param name="abandon">Undoes <paramref name="spawned"/> when the child never starts.</param>
    /// <param name="ownsGateFd">The fd <paramref name="atGate"/> returns is the launch's to close
    /// (an id-mapped rootfs tree); exec's program fd stays its caller's.</param>
    private static Started Launch(LaunchKind kind, SpawnPlan plan, GateWork atGate, UserNamespaceSpec? userns, Action<string>? debug,
        Action<ShimSpawnResult>? spawned = null, Action? abandon = null, bool ownsGateFd = true)
    {
        Describe(kind, plan, debug);
        ShimSpawnResult child;
        // The child's PDEATHSIG is tied to the thread that clones it: this is the main
        // thread, which lives as long as Isolate does.
        using (var config = new NativeSpawnConfig(plan))
        {
            int rc = Shim.Spawn(config.Config, &child);
            if (rc < 0)
                throw SpawnFailures.Describe((ShimSpawnCall)child.FailedCall, -rc, userns,
                    child.FailedDetail >= 0 && child.FailedDetail < plan.JoinNamespaces.Count ? plan.JoinNamespaces[child.FailedDetail].Path : null);
        }
        Timing.Mark("clone");
        spawned?.Invoke(child);
        int rootfsTree = -1;
        try
        {
            try
            {
                rootfsTree = atGate(child.Pid);
                Timing.Mark("gate");
            }
            catch
            {
                Libc.Close(child.SyncFd); // the gate never opens: the child exits
                abandon?.Invoke();
                ProcessWait.Quietly(child.Pid);
                throw;
            }
            int ttyFd = StartChild(child.Pid, child.SyncFd, rootfsTree, plan, debug, abandon, out bool created, out int execPid);
            Timing.Mark("exec");
            return new Started(child.Pid, child.Pidfd, ttyFd, created, execPid);
        }
        catch
        {
            if (child.Pidfd >= 0)
                Libc.Close(child.Pidfd);
            throw;
        }
        finally
        {
            if (rootfsTree >= 0 && ownsGateFd)
                Libc.Close(rootfsTree);
            Libc.Close(child.SyncFd);
        }
    }

    private static void Describe(LaunchKind kind, SpawnPlan plan, Action<string>? debug)
    {
        if (debug is null || kind == LaunchKind.ExecInto)
            return;
        if (plan.UserNamespace is { } userns)
            debug($"user namespace: {userns.Describe()}{(userns.Rootless ? " (rootless: no cgroup, setgroups denied)" : "")}");
        debug($"namespaces: {plan.Namespaces}{(plan.NewCgroupNamespace ? ", NewCgroup (after placement)" : "")}; hostname {plan.Hostname}; workdir {plan.Workdir}"
            + (plan.ExecFifo is { } fifo ? $"; exec fifo {fifo}" : ""));
        foreach (var (op, i) in plan.Mounts.Select((op, i) => (op, i)))
            debug($"mount plan {i}: {op}");
    }

    /// <summary>A new container's plan: its namespaces and mounts, placed in <paramref name="cgroup"/>.
    /// On the host's root, paths it lacks make the root a layer (Rootfs/HostLayer).</summary>
    private static SpawnPlan ContainerPlan(ContainerSpec spec, ContainerCgroup? cgroup, (ushort Rows, ushort Cols) ttySize)
    {
        string scratch = HostScratch.Find(HostPathsUsed(spec));
        var layer = HostLayer.MissingPaths(spec).Count > 0 ? HostLayer.Submounts(scratch) : null;
        // an OCI bundle's `cgroup` mount on a v1 host shows each v1 hierarchy the container has a
        // group in: mounted in its cgroup namespace, or, in the host's (a config without one, as
        // containerd writes on v1), its group's directory bound from the host, as runc does
        List<string>? v1 = null;
        Dictionary<string, string>? groups = null;
        if (cgroup is CgroupV1 && spec.Mounts?.Any(m => m.Type == "cgroup") == true)
        {
            v1 = [];
            groups = spec.HostNamespaces.Contains("cgroup") ? new(StringComparer.Ordinal) : null;
            foreach (string mountPoint in CgroupLayout.Detect().V1MountPoints)
            {
                string? group = cgroup.Directories.FirstOrDefault(d => d.StartsWith(mountPoint.TrimEnd('/') + "/", StringComparison.Ordinal));
                if (group is null || Path.GetFileName(mountPoint) is not { Length: > 0 } hierarchy)
                    continue;
                v1.Add(hierarchy);
                groups?.Add(hierarchy, group);
            }
        }
        return SpawnPlan.From(spec, scratch, inCgroup: cgroup != null, cgroup2: cgroup is CgroupV2, ttySize, layer, v1, groups);
    }

    /// <summary>OCI create: the container set up, its command found, and its PID 1 waiting on
    /// <paramref name="execFifo"/> for `start`. Nothing forwards signals or waits for it:
    /// once `create` exits it belongs to whoever reaps orphans (a subreaper such as conmon).</summary>
    /// <returns>Its PID, and the pty master with -t (else -1).</returns>
    public static (int Pid, int TtyFd) Create(ContainerSpec spec, ContainerCgroup? cgroup, string execFifo, string execStatus,
        (ushort Rows, ushort Cols) ttySize, Action<string>? debug, Action<string> warn)
    {
        var plan = ContainerPlan(spec, cgroup, ttySize) with { ExecFifo = execFifo, ExecStatus = execStatus };
        var started = Launch(LaunchKind.Created, plan, pid => PlaceAtGate(pid, spec, cgroup, warn, debug), spec.UserNamespace, debug);
        if (started.Pidfd >= 0)
            Libc.Close(started.Pidfd);
        if (!started.Created)
        {
            if (started.TtyFd >= 0)
                Libc.Close(started.TtyFd);
            ProcessWait.Quietly(started.Pid);
            throw new IsolateException("the container's process died while it was being set up");
        }
        return (started.Pid, started.TtyFd);
    }

    /// <summary>exec: <paramref name="process"/> as a new process in a running container,
    /// joining <paramref name="namespaces"/> (its PID 1's, user first, mnt last) and its cgroup.</summary>
    /// <param name="detach">It outlives Isolate (a subreaper such as conmon waits for it).</param>
    /// <param name="programFd">An open program to execute instead of looking up Args[0] (OCI hooks), or -1.</param>
    /// <returns>Its PID (Isolate's child), a pidfd for it (or -1), and the pty master with -t (else -1).</returns>
    public static (int Pid, int Pidfd, int TtyFd) ExecInto(ProcessSpec process, IReadOnlyList<(CloneFlags Type, string Path)> namespaces,
        ContainerCgroup? cgroup, bool detach, (ushort Rows, ushort Cols) ttySize, Action<string>? debug, int programFd = -1)
    {
        var plan = SpawnPlan.ForExec(process, namespaces, outlivesCaller: detach, programGiven: programFd >= 0, ttySize);
        // the command, forked from the child, starts in the cgroup; the program to run (if
        // any) travels with the GO message in the rootfs tree's place
        var started = Launch(LaunchKind.ExecInto, plan, pid =>
        {
            cgroup?.AddProcess(pid);
            return programFd;
        }, null, debug, ownsGateFd: false);
        if (started.Pidfd >= 0)
            Libc.Close(started.Pidfd);
        ProcessWait.Quietly(started.Pid); // it only forked the command
        if (started.ExecPid <= 0)
        {
            if (started.TtyFd >= 0)
                Libc.Close(started.TtyFd);
            throw new IsolateException("exec: the command's process was not started");
        }
        return (started.ExecPid, (int)Pidfd.Open(started.ExecPid), started.TtyFd);
    }

    /// <summary>What is done to a new container's child while it waits at the gate: its cgroup,
    /// its OOM score, its user namespace's maps.</summary>
    private static int PlaceAtGate(int pid, ContainerSpec spec, ContainerCgroup? cgroup, Action<string> warn, Action<string>? debug)
    {
        if (spec.SystemdSlice is { } slice && cgroup != null)
        {
            // --systemd-cgroup: the scope is made with its first process; systemd writes its
            // own defaults (no memory limit, devices "a") into it, so the limits go in again
            SystemdScope.Start(slice, spec.CgroupName!, pid, spec.Id, spec.Resources, cgroup is CgroupV2, warn);
            cgroup.MakeMissing();
            cgroup.Update(spec.Resources, warn);
        }
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

    /// <summary>--oom-score-adj, written while the child waits at the gate; the command inherits it.</summary>
    private static void WriteOomScoreAdj(int pid, int adj)
    {
        if (UserNamespaceSetup.TryWrite($"/proc/{pid}/oom_score_adj", adj.ToString(System.Globalization.CultureInfo.InvariantCulture)) is { } errno)
            throw IsolateException.FromErrno($"--oom-score-adj {adj}", null, errno).WithHint(errno is Errno.EPERM or Errno.EACCES
                ? "lowering it below Isolate's own needs CAP_SYS_RESOURCE, which Isolate does not hold here"
                : null);
    }

    /// <summary>sync 1 (open the gate) and sync 2 (did execve happen?). A child that
    /// died before reporting (killed by a forwarded signal, say) is not an error here:
    /// its wait status tells what happened.</summary>
    /// <returns>The pty master the container sent (-t), or -1.</returns>
    /// <summary>Opens the gate. In a user namespace the child may not reach a bind source (a
    /// directory only root may enter), so the parent takes each one itself, as runc opens
    /// them before entering, and sends them with the GO message; one it cannot take is left
    /// to the child, whose failure then names it.</summary>
    private static int Release(int syncFd, int rootfsTree, SpawnPlan plan)
    {
        var captures = plan.UserNamespace is null ? [] : plan.Mounts.Where(op => op.Kind == MountKind.Capture).ToList();
        var trees = new List<(int Fd, int Slot)>();
        try
        {
            foreach (var op in captures)
            {
                int tree = Shim.CaptureTree(op.Source!, op.Flags.HasFlag(MountFlags.Rec) ? 1 : 0, op.Flags.HasFlag(MountFlags.ReadOnly) ? 1 : 0);
                if (tree >= 0)
                    trees.Add((tree, op.Slot));
            }
            if (trees.Count == 0)
                return Shim.Release(syncFd, rootfsTree, MountPlanBuilder.RootfsSlot);
            int* fds = stackalloc int[trees.Count];
            int* slots = stackalloc int[trees.Count];
            for (int i = 0; i < trees.Count; i++)
                (fds[i], slots[i]) = trees[i];
            return Shim.ReleaseTrees(syncFd, rootfsTree, MountPlanBuilder.RootfsSlot, fds, slots, (uint)trees.Count);
        }
        finally
        {
            foreach (var (fd, _) in trees)
                Libc.Close(fd);
        }
    }

    private static int StartChild(int pid, int syncFd, int rootfsTree, SpawnPlan plan, Action<string>? debug, Action? abandon,
        out bool created, out int execPid)
    {
        created = false;
        execPid = -1;
        const int MaxNotes = 8;
        ShimMessage failure;
        ShimMessage* notes = stackalloc ShimMessage[MaxNotes];
        uint noteCount = 0;
        int ttyFd = -1;
        if (Release(syncFd, rootfsTree, plan) < 0)
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
            Libc.Kill(pid, Signal.SIGKILL); // the protocol broke: do not leave it running
        abandon?.Invoke(); // before the reap frees the PID for reuse
        if (execPid > 0)
            ProcessWait.Quietly(execPid); // an exec'd command that reported a failure and exited
        ProcessWait.Quietly(pid);
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
        if (spec.LayerDir != null)
            yield return spec.LayerDir;
        if (!Kernel.Features.HasFlag(KernelFeatures.OpenTree))
        {
            foreach (var volume in spec.Volumes)
                yield return volume.Source;
        }
    }
}
