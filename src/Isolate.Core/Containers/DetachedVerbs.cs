using Isolate.Logs;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>docker's verbs on `run -d` containers: stop, wait, logs and rm act on the monitor
/// and the recorded state.</summary>
public static class DetachedVerbs
{
    private static bool MonitorAlive(ContainerState state) =>
        state.MonitorPid > 0 && ProcessInfo.StartTime(state.MonitorPid) == state.MonitorStartTime;

    private static ContainerState Read(StateStore store, string id)
    {
        using var held = store.Open(id);
        return store.Read(held);
    }

    /// <summary>stop: SIGTERM to the monitor, which stops the container as SIGTERM to `isolate
    /// run` does (its stop signal, SIGKILL after its stop timeout); after <paramref name="timeout"/>
    /// the container's PID 1 gets SIGKILL here too.</summary>
    public static void Stop(StateStore store, string id, TimeSpan? timeout)
    {
        var state = Read(store, id);
        if (state.Kind != ContainerKind.Detached)
            throw new IsolateException($"container {id} was made from an OCI bundle: stop it with `isolate kill {id}`");
        if (!MonitorAlive(state))
            return; // stopped already: as docker, not an error
        Interop.Libc.Kill(state.MonitorPid, Interop.Signal.SIGTERM);
        var grace = timeout ?? TimeSpan.FromSeconds(state.StopTimeoutSeconds);
        if (!WaitForMonitor(state, grace + TimeSpan.FromSeconds(1)))
        {
            if (ProcessInfo.StartTime(state.Pid) == state.PidStartTime)
                Interop.Libc.Kill(state.Pid, Interop.Signal.SIGKILL);
            WaitForMonitor(state, TimeSpan.FromSeconds(15));
        }
    }

    /// <summary>Until the monitor is gone; false when <paramref name="timeout"/> (null: none)
    /// ran out first. It sleeps in poll(2) on a pidfd of the monitor, which wakes it as the
    /// monitor exits (before Linux 5.3, which has no pidfd: a look every 10 ms).</summary>
    private static bool WaitForMonitor(ContainerState state, TimeSpan? timeout)
    {
        using var pidfd = OpenMonitor(state);
        if (pidfd is null)
            return true;
        var deadline = timeout is { } t ? DateTime.UtcNow + t : DateTime.MaxValue;
        while (true)
        {
            if (pidfd.IsInvalid ? !MonitorAlive(state) : Interop.Pidfd.HasExited(pidfd.Number))
                return true;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return false;
            int ms = pidfd.IsInvalid ? 10 : left > TimeSpan.FromDays(1) ? -1 : (int)Math.Ceiling(left.TotalMilliseconds);
            PollOne(pidfd.IsInvalid ? -1 : pidfd.Number, ms);
        }
    }

    /// <summary>A pidfd of the recorded monitor; null when it is gone; an invalid handle where the
    /// kernel has no pidfd_open. Its start time is checked after the open, so the pidfd cannot be
    /// of a later process that got the same PID.</summary>
    private static Interop.FileDescriptor? OpenMonitor(ContainerState state) => OpenProcess(state.MonitorPid, state.MonitorStartTime);

    private static Interop.FileDescriptor? OpenProcess(int pid, ulong startTime)
    {
        if (pid <= 0)
            return null;
        var pidfd = Interop.Pidfd.OpenHandle(pid);
        if (ProcessInfo.StartTime(pid) != startTime)
        {
            pidfd.Dispose();
            return null;
        }
        return pidfd;
    }

    private static unsafe void PollOne(int fd, int timeoutMs)
    {
        var pfd = new Interop.Poll.PollFd { Fd = fd, Events = Interop.Poll.POLLIN };
        Interop.Poll.Wait(&pfd, 1, timeoutMs);
    }

    /// <summary>wait: until the container has stopped; its exit status. A --rm container's
    /// monitor removes it once it has ended, so a waiter holds a shared lock on
    /// <see cref="WaitLockFile"/> until it has read the exit status, and the monitor takes it
    /// exclusively before removing: every wait begun while the container ran prints its status;
    /// one begun after the removal finds no container.</summary>
    public static int Wait(StateStore store, string id)
    {
        var state = Read(store, id);
        if (state.Kind != ContainerKind.Detached)
            throw new IsolateException($"container {id} was made from an OCI bundle: wait works on `run -d` containers");
        if (!state.AutoRemove)
        {
            WaitForMonitor(state, null);
            return Read(store, id).ExitCode ?? ExitCodes.Failure;
        }
        string dir = store.DirectoryOf(id);
        using var waiting = LockWaiters(dir, Interop.LockFlags.LOCK_SH) ?? throw StateStore.NotFound(id);
        // Its monitor cannot end while this lock is held, so the wait sleeps on a pidfd of the
        // container's PID 1 instead; from its end to the recorded status is the monitor draining
        // the log, a few milliseconds, looked at every 10.
        if (StateStore.ReadUnlocked(dir) is { ExitCode: null } running)
        {
            using var pid1 = OpenProcess(running.Pid, running.PidStartTime);
            while (pid1 is { IsInvalid: false } && !Interop.Pidfd.HasExited(pid1.Number))
                PollOne(pid1.Number, -1);
        }
        while (true)
        {
            // the monitor records the exit status, then waits for this lock: it stays alive meanwhile
            var now = StateStore.ReadUnlocked(dir) ?? throw StateStore.NotFound(id);
            if (now.ExitCode is { } code)
                return code;
            if (!MonitorAlive(now))
                return ExitCodes.Failure;
            Thread.Sleep(10);
        }
    }

    /// <summary>Held shared by each `wait` on a --rm container, exclusively by its monitor before removing it.</summary>
    private const string WaitLockFile = "wait.lock";

    /// <summary>The lock on <see cref="WaitLockFile"/>, or null when the container's directory is gone.</summary>
    private static Interop.FileDescriptor? LockWaiters(string dir, int operation)
    {
        var fd = Interop.FileDescriptor.Open(Path.Combine(dir, WaitLockFile), Interop.OpenFlags.O_RDWR | Interop.OpenFlags.O_CREAT, Interop.OpenFlags.ModeOwnerReadWrite);
        if (fd.IsInvalid)
        {
            fd.Dispose();
            return null;
        }
        while (Interop.Libc.Flock(fd, operation) < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Interop.Errno.EINTR)
        {
        }
        return fd;
    }

    /// <summary>What `run -d --rm`'s client holds until it has seen the container start: one that
    /// ends at once is not removed before the client has read its PID (or its error).</summary>
    public static IDisposable? HoldForWait(StateStore store, string id) => LockWaiters(store.DirectoryOf(id), Interop.LockFlags.LOCK_SH);

    /// <summary>run -d --rm: the monitor's last step once the container has ended and its exit
    /// status is recorded: its state and log go, after every `wait` on it has read the status.</summary>
    public static void RemoveEnded(StateStore store, string id)
    {
        using var waiters = LockWaiters(store.DirectoryOf(id), Interop.LockFlags.LOCK_EX);
        try
        {
            using var held = store.Open(id);
            StateStore.Remove(held);
        }
        catch (Exception e) when (e is IsolateException or IOException)
        {
            // removed meanwhile (rm -f): nothing left to do
        }
    }

    /// <summary>rm: a stopped container's state and log; with force a running one is killed
    /// first. A half-made one (its `run -d` killed at any moment) goes as completely: no state
    /// yet (nothing was started), a monitor not yet recorded (it finds no state and makes
    /// nothing), a monitor recorded before its container started (killed; the cgroup it
    /// recorded before making it is emptied and removed).</summary>
    public static void Remove(StateStore store, string id, bool force, Action<string> warn)
    {
        // The state goes only under its lock while no live monitor is recorded: a monitor that
        // has not recorded itself yet then finds no state and makes nothing. A live one is
        // stopped outside the lock (it takes the lock to record its end), then it is read again.
        for (int round = 0; ; round++)
        {
            ContainerState? state;
            using (var held = store.Open(id))
            {
                state = store.TryRead(held);
                if (state is null)
                {
                    StateStore.Remove(held); // its client was killed before it recorded anything: nothing was started
                    return;
                }
                if (state.Kind != ContainerKind.Detached)
                    throw new IsolateException($"container {id} was made from an OCI bundle: remove it with `isolate delete {id}`");
                if (MonitorAlive(state) && !force)
                    throw new IsolateException($"cannot remove container {id}: it is running; stop it first (isolate stop {id}) or use rm -f");
                if (!MonitorAlive(state))
                {
                    RemoveRecordedCgroup(state);
                    if (state.CgroupName is { } name) // the monitor names its layer as its cgroup
                        Rootfs.WritableLayer.RemoveLeft(store.LayerRoot, name, warn);
                    DetachedRun.RemoveLog(state, held.Directory, id);
                    StateStore.Remove(held);
                    return;
                }
            }
            if (round == 3)
                throw new IsolateException($"cannot remove container {id}: its monitor (pid {state.MonitorPid}) does not stop");
            StopMonitor(state);
        }
    }

    /// <summary>rm -f of a live container: its processes killed, then its monitor, gracefully
    /// when the container had started (it records the exit and removes the cgroup), else with
    /// SIGKILL (the container's PID 1 dies with it, by PDEATHSIG; its cgroup goes in Remove).</summary>
    private static void StopMonitor(ContainerState state)
    {
        KillRecordedCgroup(state);
        if (state.Pid > 0)
        {
            if (ProcessInfo.StartTime(state.Pid) == state.PidStartTime)
                Interop.Libc.Kill(state.Pid, Interop.Signal.SIGKILL);
            Interop.Libc.Kill(state.MonitorPid, Interop.Signal.SIGTERM);
            WaitForMonitor(state, TimeSpan.FromSeconds(15));
        }
        if (MonitorAlive(state))
        {
            Interop.Libc.Kill(state.MonitorPid, Interop.Signal.SIGKILL);
            WaitForMonitor(state, TimeSpan.FromSeconds(15));
        }
    }

    /// <summary>Every process in the container's recorded cgroup, killed (none recorded, or gone: nothing to do).</summary>
    private static void KillRecordedCgroup(ContainerState state)
    {
        if (ContainerHandle.OpenCgroup(state) is not { } cgroup)
            return;
        try
        {
            cgroup.KillAll();
        }
        catch (IsolateException) when (!cgroup.Directories.Any(Directory.Exists))
        {
            // its monitor removed it meanwhile
        }
    }

    /// <summary>The recorded cgroup, emptied and removed if its monitor (or the monitor's reaper) has not.</summary>
    private static void RemoveRecordedCgroup(ContainerState state)
    {
        if (ContainerHandle.OpenCgroup(state) is not { } cgroup)
            return;
        try
        {
            cgroup.KillAll();
            cgroup.Remove();
        }
        catch (IsolateException) when (!cgroup.Directories.Any(Directory.Exists))
        {
            // the monitor's reaper removed it meanwhile
        }
    }

    /// <summary>logs: what the container wrote, stdout records to <paramref name="stdoutFd"/> and
    /// stderr records to <paramref name="stderrFd"/>, byte for byte; with follow, until it stops.</summary>
    public static void Logs(StateStore store, string id, LogQuery query, int stdoutFd, int stderrFd)
    {
        var state = Read(store, id);
        string log = state.LogPath ?? throw new IsolateException($"container {id} has no log: only `run -d` containers keep one");
        var output = new LogOutput(stdoutFd, stderrFd, query.Timestamps);
        using var pidfd = query.Follow ? OpenMonitor(state) : null;
        if (state.LogFormat != "cri")
        {
            // from an Isolate before the CRI log: the raw output, all of it
            using var raw = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new byte[65536];
            for (int n; (n = raw.Read(buffer)) > 0;)
                output.PrintRaw(buffer.AsSpan(0, n));
            output.Flush();
            return;
        }
        bool Ended() => pidfd is null || (pidfd.IsInvalid ? !MonitorAlive(state) : Interop.Pidfd.HasExited(pidfd.Number));
        LogReader.Print(log, query, output, pidfd is { IsInvalid: false } ? pidfd.Number : -1, Ended);
    }

    /// <summary>docker ps: status words for a container ("Up 5 minutes", "Exited (0) 2 minutes
    /// ago", "Exited (137, OOM killed) ..."), counted from its creation and its recorded end.</summary>
    public static string Describe(ContainerState state, ContainerStatus status, DateTime now)
    {
        string up = Since(state.Created, now) is { } u ? " " + u : "";
        string ago = Since(state.Finished, now) is { } a ? $" {a} ago" : "";
        string code = state.ExitCode is { } c ? (state.OomKilled ? $" ({c}, OOM killed)" : $" ({c})") : "";
        return status switch
        {
            ContainerStatus.Running => "Up" + up,
            ContainerStatus.Paused => $"Up{up} (Paused)",
            ContainerStatus.Created => "Created",
            ContainerStatus.Creating => "Creating",
            _ when state.Error != null => "Failed" + code + ago,
            _ => "Exited" + code + ago,
        };
    }

    /// <summary>How long ago <paramref name="timestamp"/> (ISO 8601) was, as docker says it; null when it is none.</summary>
    public static string? Since(string? timestamp, DateTime now) =>
        DateTime.TryParse(timestamp, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var then)
            ? HumanDuration(now - then) : null;

    /// <summary>A duration as docker says it (go-units' HumanDuration): "Less than a second",
    /// "5 seconds", "About a minute", "3 hours", "2 weeks".</summary>
    public static string HumanDuration(TimeSpan duration)
    {
        double seconds = Math.Max(0, duration.TotalSeconds);
        static string Plural(long n, string unit) => $"{n} {unit}{(n == 1 ? "" : "s")}";
        if (seconds < 1)
            return "Less than a second";
        if (seconds < 60)
            return Plural((long)seconds, "second");
        double minutes = seconds / 60;
        if (minutes < 60)
            return (long)minutes == 1 ? "About a minute" : Plural((long)minutes, "minute");
        long hours = (long)(minutes / 60 + 0.5);
        if (hours == 1)
            return "About an hour";
        if (hours < 48)
            return Plural(hours, "hour");
        if (hours < 24 * 7 * 2)
            return Plural(hours / 24, "day");
        if (hours < 24 * 30 * 2)
            return Plural(hours / 24 / 7, "week");
        if (hours < 24 * 365 * 2)
            return Plural(hours / 24 / 30, "month");
        return Plural((long)(minutes / 60) / 24 / 365, "year");
    }
}
