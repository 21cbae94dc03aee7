using System.Runtime.InteropServices;
using System.Text;
using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Launch;
using Isolate.Logs;
using Isolate.Runtime;
using Isolate.Spec;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>docker's `run -d`: the client records the finished spec beside the state and starts
/// a monitor (Isolate itself, in a session of its own) that launches exactly that spec in the
/// foreground, as `isolate run` would - cgroup and reaper, signal forwarding, stop policy,
/// exit status - with the container's stdout and stderr through it to a rotated log in the CRI
/// format (on disk under /var/lib/isolate by default; in the state directory with --root).</summary>
public static unsafe class DetachedRun
{
    public const string LogFile = "container.log";

    /// <summary>The monitor's own output until its log is running (a monitor that could not
    /// even begin says why here), in the state directory.</summary>
    public const string MonitorOutputFile = "monitor.out";

    /// <summary>The hidden verb the monitor is started with: `isolate --root R __monitor ID`.</summary>
    public const string MonitorVerb = "__monitor";

    /// <summary>The client's side: state, spec, log, monitor; returns once the container runs
    /// (or could not start: its error, as `isolate run` would say it).</summary>
    public static void Start(StateStore store, ContainerSpec spec, StatsFormat stats, bool debug, LogOptions logOptions, bool autoRemove = false)
    {
        string id = spec.Id;
        string log;
        string monitorOutput;
        using (var held = store.CreateNew(id))
        {
            try
            {
                log = Path.Combine(MakeLogDirectory(store, id), LogFile);
            }
            catch
            {
                StateStore.Remove(held);
                throw;
            }
            monitorOutput = Path.Combine(held.Directory, MonitorOutputFile);
            store.Write(held, NewState(spec, stats) with
            {
                LogPath = log,
                LogFormat = "cri",
                LogMaxSize = logOptions.MaxSize,
                LogMaxFiles = logOptions.MaxFiles,
                Debug = debug,
                AutoRemove = autoRemove,
            });
            StateStore.WriteSpec(held, spec);
        }
        using var seen = autoRemove ? DetachedVerbs.HoldForWait(store, id) : null; // --rm: not removed before it is seen
        try
        {
            int monitor = StartMonitor(store.Root, id, monitorOutput);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                var state = StateStore.ReadUnlocked(store.DirectoryOf(id));
                if (state?.Error != null)
                    throw new IsolateException(state.Error, state.ExitCode ?? ExitCodes.Failure);
                if (state is { Pid: > 0 })
                    return;
                if (ProcessInfo.StartTime(monitor) == 0 || DateTime.UtcNow > deadline)
                {
                    // it may have recorded why just before it ended, after the read above
                    if (StateStore.ReadUnlocked(store.DirectoryOf(id)) is { Error: { } error } ended)
                        throw new IsolateException(error, ended.ExitCode ?? ExitCodes.Failure);
                    throw new IsolateException($"the container's monitor ended before the container started{MonitorSaid(monitorOutput)}");
                }
                Thread.Sleep(5);
            }
        }
        catch
        {
            using var held = store.Open(id);
            RemoveLog(StateStore.ReadUnlocked(held.Directory), held.Directory, id);
            StateStore.Remove(held);
            throw;
        }
    }

    /// <summary>The log's own directory (under the log root), or the state directory.</summary>
    private static string MakeLogDirectory(StateStore store, string id)
    {
        string dir = store.LogDirectoryOf(id);
        if (dir == store.DirectoryOf(id))
            return dir;
        try
        {
            Directory.CreateDirectory(store.LogRoot!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (UnauthorizedAccessException)
        {
            // a non-root caller's default is under $HOME, which may be another's (sudo -u keeps it)
            throw new IsolateException($"run -d: cannot create the log directory {store.LogRoot}: permission denied; set HOME (or XDG_DATA_HOME) to a directory of your own");
        }
        Shim.RemoveTreeOrThrow(dir); // a container of this id that was never removed: its state is gone
        if (Libc.Mkdir(dir, OpenFlags.ModeOwnerOnlyDirectory) < 0)
            throw IsolateException.FromErrno("create log directory", dir, Marshal.GetLastPInvokeError());
        return dir;
    }

    /// <summary>rm: the log's files, and its directory where it has one of its own.</summary>
    public static void RemoveLog(ContainerState? state, string stateDirectory, string id)
    {
        if (state?.LogPath is not { } log || Path.GetDirectoryName(log) is not { } dir)
            return;
        if (dir != stateDirectory && Path.GetFileName(dir) == id)
            Shim.RemoveTreeOrThrow(dir);
    }

    private static string MonitorSaid(string path)
    {
        try
        {
            string said = File.ReadAllText(path).Trim();
            return said.Length == 0 ? "" : ": " + said.Split('\n')[0];
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static int StartMonitor(string root, string id, string output)
    {
        int logFd = Libc.Open(output, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_APPEND | OpenFlags.O_CLOEXEC, OpenFlags.ModeOwnerReadWrite);
        if (logFd < 0)
            throw IsolateException.FromErrno($"create {output}", null, Marshal.GetLastPInvokeError());
        // the name this process was started under: its exe is a detached read-only bind
        // (native/selfexe.c), whose path reads "/"
        string[] args = Environment.GetCommandLineArgs();
        string self = args.Length > 0 && args[0].Length > 0 ? args[0] : "isolate";
        var argv = new List<string> { self, "--root", root, MonitorVerb, id };
        var env = HostProcess.Environment().ToList();
        var blocks = new List<nint>();
        try
        {
            byte** argvPtr = Strings(argv, blocks);
            byte** envPtr = Strings(env, blocks);
            int pid = Shim.Daemonize("/proc/self/exe", argvPtr, envPtr, logFd);
            if (pid < 0)
                throw IsolateException.FromErrno("start the container's monitor", null, -pid);
            return pid;
        }
        finally
        {
            foreach (nint block in blocks)
                Marshal.FreeHGlobal(block);
            Libc.Close(logFd);
        }
    }

    private static byte** Strings(List<string> values, List<nint> blocks)
    {
        var array = (byte**)Marshal.AllocHGlobal((values.Count + 1) * sizeof(nint));
        blocks.Add((nint)array);
        for (int i = 0; i < values.Count; i++)
        {
            byte[] bytes = [.. ByteStrings.Encode(values[i]), 0];
            nint block = Marshal.AllocHGlobal(bytes.Length);
            blocks.Add(block);
            Marshal.Copy(bytes, 0, block, bytes.Length);
            array[i] = (byte*)block;
        }
        array[values.Count] = null;
        return array;
    }

    /// <summary>The monitor's side: launch the recorded spec in the foreground, recording its PID
    /// and then its exit status in the state; the container's output, and the messages `isolate
    /// run` would print, go to the log (<see cref="LogPump"/>). The exit status is recorded only
    /// once the log holds everything, so `wait` then `logs` misses nothing.</summary>
    public static int Monitor(StateStore store, string id, Action<string> error)
    {
        ContainerState recorded;
        ContainerSpec spec;
        string cgroupName;
        using (var held = store.Open(id)) // gone: an `rm -f` came first, and nothing is made
        {
            recorded = store.Read(held);
            spec = StateStore.ReadSpec(held.Directory, id);
            cgroupName = CgroupJanitor.NameFor(spec.Id, Environment.ProcessId);
            // this monitor and the cgroup it is about to make, recorded before either does
            // anything: `rm -f` at any moment from here finds (and kills) both
            store.Write(held, Monitoring(recorded, spec, cgroupName));
        }
        LogWriter? writer = null;
        LogPump? pump = null;
        if (recorded is { LogFormat: "cri", LogPath: { } log })
        {
            writer = new LogWriter(log, new LogOptions(recorded.LogMaxSize, recorded.LogMaxFiles));
            pump = LogPump.Start(writer);
        }
        Action<string>? debug = recorded.Debug ? line => error("isolate: debug: " + line) : null;
        int exitCode;
        Func<ContainerState, ContainerState> ending;
        try
        {
            // recorded once the command runs: the client waits for it (or for the error). Its
            // start time is read at the gate, while it surely lives: a command that ends at
            // once is a zombie by the time it has run, and would read as 0
            ulong startTime = 0;
            var result = Launcher.Run(spec with { CgroupName = cgroupName }, debug, line => error("isolate: warning: " + line),
                readUsage: recorded.Stats != StatsFormat.None,
                spawned: pid => startTime = ProcessInfo.StartTime(pid),
                started: pid =>
                {
                    // removed while it started (its monitor was not yet recorded when something
                    // took the state away): nothing could stop it any more, so it stops here
                    if (!Update(store, id, state => Started(state, spec, cgroupName, pid, startTime)))
                        Libc.Kill(pid, Signal.SIGKILL);
                });
            foreach (string line in result.Messages(recorded.Stats))
                error(line);
            exitCode = result.ExitCode;
            string finished = ContainerState.Timestamp();
            ending = state => state with { ExitCode = result.ExitCode, OomKilled = result.OutOfMemory, Finished = finished };
        }
        catch (IsolateException e)
        {
            error("isolate: " + e.Message);
            exitCode = e.ExitCode;
            string finished = ContainerState.Timestamp();
            ending = state => state with { Error = ByteStrings.Escape(e.Message), ExitCode = e.ExitCode, Finished = finished };
        }
        pump?.Finish(TimeSpan.FromSeconds(10));
        writer?.Dispose();
        long dropped = writer?.Dropped ?? 0;
        Update(store, id, state => ending(state) with { LogDroppedBytes = dropped > 0 ? dropped : null });
        if (recorded.AutoRemove)
            DetachedVerbs.RemoveEnded(store, id);
        return exitCode;
    }

    /// <summary>A docker-face container's state before it runs (run -d, and a foreground --name run).</summary>
    internal static ContainerState NewState(ContainerSpec spec, StatsFormat stats) => new()
    {
        Id = spec.Id,
        Kind = ContainerKind.Detached,
        Bundle = "",
        Rootfs = ByteStrings.Escape(spec.Rootfs ?? "/"),
        Created = ContainerState.Timestamp(),
        Command = [.. spec.Process.Args.Select(ByteStrings.Escape)], // for ps: the originals are in spec.json
        Owner = Libc.GetEffectiveUserId(),
        StopTimeoutSeconds = (int)Math.Ceiling(spec.StopTimeout.TotalSeconds),
        Stats = stats,
    };

    /// <summary>What the state records before anything is made: this process as the container's
    /// monitor, and the cgroup it will make (a run -d monitor and a foreground --name run alike).</summary>
    internal static ContainerState Monitoring(ContainerState state, ContainerSpec spec, string cgroupName) => state with
    {
        MonitorPid = Environment.ProcessId,
        MonitorStartTime = ProcessInfo.StartTime(Environment.ProcessId),
        CgroupParent = spec.Cgroups ? spec.CgroupParent : null,
        CgroupName = spec.Cgroups ? cgroupName : null,
    };

    /// <summary>What the state adds once the command runs: its PID and start time.</summary>
    internal static ContainerState Started(ContainerState state, ContainerSpec spec, string cgroupName, int pid, ulong startTime) =>
        Monitoring(state, spec, cgroupName) with { Pid = pid, PidStartTime = startTime };

    /// <summary>False when the state was removed meanwhile (rm -f): nothing to record.</summary>
    internal static bool Update(StateStore store, string id, Func<ContainerState, ContainerState> change)
    {
        try
        {
            using var held = store.Open(id);
            store.Write(held, change(store.Read(held)));
            return true;
        }
        catch (IsolateException)
        {
            return false;
        }
    }
}
