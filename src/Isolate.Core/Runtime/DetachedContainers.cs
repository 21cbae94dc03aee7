using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Security;
using Isolate.Spec;
using Isolate.State;

namespace Isolate.Runtime;

/// <summary>docker's face on the same state: `run -d` starts a monitor (Isolate itself, in a
/// session of its own, running the container in the foreground exactly as `isolate run`
/// does: cgroup and reaper, signal forwarding, stop policy, exit status), whose stdout and
/// stderr - the container's - go to a log in the state directory. stop, wait, logs and rm
/// act on that monitor and the recorded state.</summary>
public static unsafe class DetachedContainers
{
    public const string LogFile = "container.log";

    /// <summary>The client's side of `run -d`: state, log, monitor; returns once the container
    /// runs (or could not start: its error, as `isolate run` would say it).</summary>
    public static void Start(StateStore store, string id, ContainerSpec spec, IReadOnlyList<string> runArguments)
    {
        string log;
        using (var held = store.CreateNew(id))
        {
            log = Path.Combine(held.Directory, LogFile);
            store.Write(held, new ContainerState
            {
                Id = id,
                Bundle = "",
                Rootfs = spec.Rootfs ?? "/",
                Created = Now(),
                Command = [.. spec.Args],
                LogPath = log,
                Owner = Libc.GetEffectiveUserId(),
                StopTimeoutSeconds = (int)Math.Ceiling(spec.StopTimeout.TotalSeconds),
            });
        }
        try
        {
            int monitor = StartMonitor(store.Root, id, log, runArguments);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                var state = ReadUnlocked(store, id);
                if (state?.Error != null)
                    throw new IsolateException(state.Error, state.ExitCode ?? ExitCodes.Failure);
                if (state is { Pid: > 0 })
                    return;
                if (ProcessInfo.StartTime(monitor) == 0 || DateTime.UtcNow > deadline)
                    throw new IsolateException($"the container's monitor ended before the container started; see {log}");
                Thread.Sleep(5);
            }
        }
        catch
        {
            using var held = store.Open(id);
            StateStore.Remove(held);
            throw;
        }
    }

    private static ContainerState? ReadUnlocked(StateStore store, string id)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize(
                File.ReadAllText(Path.Combine(store.DirectoryOf(id), StateStore.StateFile)), StateJsonContext.Default.ContainerState);
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            return null; // between writes (they are renames, but the directory may be going)
        }
    }

    private static int StartMonitor(string root, string id, string log, IReadOnlyList<string> runArguments)
    {
        const int O_WRONLY = 1, O_CREAT = 0x40, O_APPEND = 0x400, O_CLOEXEC = 0x80000;
        int logFd = Libc.Open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0x180 /* 0600 */);
        if (logFd < 0)
            throw IsolateException.FromErrno($"create {log}", null, Marshal.GetLastPInvokeError());
        string self = Environment.ProcessPath ?? "/proc/self/exe";
        var argv = new List<string> { self, "--root", root, MonitorVerb, id };
        argv.AddRange(runArguments);
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => $"{e.Key}={e.Value}").ToList();
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
            byte[] bytes = Encoding.UTF8.GetBytes(values[i] + "\0");
            nint block = Marshal.AllocHGlobal(bytes.Length);
            blocks.Add(block);
            Marshal.Copy(bytes, 0, block, bytes.Length);
            array[i] = (byte*)block;
        }
        array[values.Count] = null;
        return array;
    }

    /// <summary>The hidden verb the monitor is started with: `isolate --root R __monitor ID run ...`.</summary>
    public const string MonitorVerb = "__monitor";

    /// <summary>The monitor's side: run the container in the foreground, recording its PID and
    /// then its exit status in the state.</summary>
    public static ContainerResult RunMonitored(StateStore store, string id, ContainerSpec spec, Action<string>? debug, Action<string> warn)
    {
        string cgroupName = CgroupJanitor.NameFor(spec.Id, Environment.ProcessId);
        try
        {
            // recorded once the command runs: the client waits for it (or for the error). Its
            // start time is read at the gate, while it surely lives: a command that ends at
            // once is a zombie by the time it has run, and would read as 0
            ulong startTime = 0;
            var result = ContainerRunner.Run(spec with { CgroupName = cgroupName }, debug, warn,
                spawned: pid => startTime = ProcessInfo.StartTime(pid),
                started: pid => Update(store, id, state => state with
            {
                Pid = pid,
                PidStartTime = startTime,
                MonitorPid = Environment.ProcessId,
                MonitorStartTime = ProcessInfo.StartTime(Environment.ProcessId),
                CgroupParent = spec.Cgroups ? spec.CgroupParent : null,
                CgroupName = spec.Cgroups ? cgroupName : null,
                Exec = Profile(spec),
            }));
            Update(store, id, state => state with { ExitCode = result.ExitCode, Finished = Now() });
            return result;
        }
        catch (IsolateException e)
        {
            Update(store, id, state => state with { Error = e.Message, ExitCode = e.ExitCode, Finished = Now() });
            throw;
        }
    }

    private static void Update(StateStore store, string id, Func<ContainerState, ContainerState> change)
    {
        try
        {
            using var held = store.Open(id);
            store.Write(held, change(store.Read(held)));
        }
        catch (IsolateException)
        {
            // removed meanwhile (rm -f): nothing to record
        }
    }

    private static ExecProfile Profile(ContainerSpec spec) => new()
    {
        Env = [.. spec.Env],
        Workdir = spec.Workdir,
        Capabilities = spec.Security.Capabilities,
        NoNewPrivileges = spec.Security.NoNewPrivileges,
        Seccomp = spec.Security.Seccomp.Select(i => i.Packed).ToList(),
        Uid = spec.Security.User.Uid,
        Gid = spec.Security.User.Gid,
        Groups = [.. spec.Security.User.Groups],
        Home = spec.Security.User.Home,
        LastCap = spec.Security.LastCap,
        KeepGroups = spec.Security.KeepGroups,
    };

    /// <summary>What exec gives a new process in a docker-style container.</summary>
    public static ContainerSpec ExecSpec(ContainerState state, IReadOnlyList<string> args, IReadOnlyList<string> env, string? cwd,
        string? user, bool tty, uint preserveFds)
    {
        var profile = state.Exec ?? throw new IsolateException($"cannot exec in container {state.Id}: it has not started");
        var environment = OciRuntime.MergeEnv(profile.Env, env);
        var processUser = new ProcessUser(profile.Uid, profile.Gid, profile.Groups, profile.Home);
        if (user != null)
        {
            var (uid, gid) = OciRuntime.ParseUser(user);
            processUser = new ProcessUser(uid, gid, [], uid == 0 ? "/root" : "/");
        }
        return new ContainerSpec
        {
            Hostname = "",
            Args = args,
            Env = environment,
            Workdir = cwd ?? profile.Workdir,
            Tty = tty,
            Id = state.Id,
            Security = new ProcessSecurity
            {
                Capabilities = profile.Capabilities,
                NoNewPrivileges = profile.NoNewPrivileges,
                Seccomp = profile.Seccomp.Select(p => new BpfInstruction((ushort)(p & 0xffff), (byte)(p >> 16), (byte)(p >> 24), (uint)(p >> 32))).ToList(),
                User = processUser,
                LastCap = profile.LastCap,
                KeepGroups = profile.KeepGroups,
                PreserveFds = preserveFds,
            },
        };
    }

    private static string Now() => ContainerState.Timestamp();

    private static bool MonitorAlive(ContainerState state) =>
        state.MonitorPid > 0 && ProcessInfo.StartTime(state.MonitorPid) == state.MonitorStartTime;

    /// <summary>stop: SIGTERM to the monitor, which stops the container as SIGTERM to `isolate
    /// run` does (its stop signal, SIGKILL after its stop timeout); after <paramref name="timeout"/>
    /// the container's PID 1 gets SIGKILL here too.</summary>
    public static void Stop(StateStore store, string id, TimeSpan? timeout)
    {
        ContainerState state;
        using (var held = store.Open(id))
            state = store.Read(held);
        if (state.Bundle != "")
            throw new IsolateException($"container {id} was made from an OCI bundle: stop it with `isolate kill {id}`");
        if (!MonitorAlive(state))
            return; // stopped already: as docker, not an error
        Libc.Kill(state.MonitorPid, 15);
        var grace = timeout ?? TimeSpan.FromSeconds(state.StopTimeoutSeconds);
        if (!WaitForMonitor(state, grace + TimeSpan.FromSeconds(1)))
        {
            if (ProcessInfo.StartTime(state.Pid) == state.PidStartTime)
                Libc.Kill(state.Pid, 9);
            WaitForMonitor(state, TimeSpan.FromSeconds(15));
        }
    }

    private static bool WaitForMonitor(ContainerState state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (MonitorAlive(state))
        {
            if (DateTime.UtcNow > deadline)
                return false;
            Thread.Sleep(10);
        }
        return true;
    }

    /// <summary>wait: until the container has stopped; its exit status.</summary>
    public static int Wait(StateStore store, string id)
    {
        ContainerState state;
        using (var held = store.Open(id))
            state = store.Read(held);
        WaitForMonitor(state, Timeout.InfiniteTimeSpan);
        using (var held = store.Open(id))
            return store.Read(held).ExitCode ?? ExitCodes.Failure;
    }

    /// <summary>rm: a stopped container's state and log; with force a running one is killed first.</summary>
    public static void Remove(StateStore store, string id, bool force)
    {
        ContainerState state;
        using (var held = store.Open(id))
        {
            state = store.Read(held);
            if (state.Bundle != "")
                throw new IsolateException($"container {id} was made from an OCI bundle: remove it with `isolate delete {id}`");
            if (MonitorAlive(state) && !force)
                throw new IsolateException($"cannot remove container {id}: it is running; stop it first (isolate stop {id}) or use rm -f");
        }
        if (MonitorAlive(state))
        {
            if (ProcessInfo.StartTime(state.Pid) == state.PidStartTime)
                Libc.Kill(state.Pid, 9);
            Libc.Kill(state.MonitorPid, 15);
            WaitForMonitor(state, TimeSpan.FromSeconds(15));
        }
        using (var held = store.Open(id))
            StateStore.Remove(held);
    }

    /// <summary>logs: what the container wrote; with follow, until it stops.</summary>
    public static void Logs(StateStore store, string id, bool follow, Stream output)
    {
        ContainerState state;
        using (var held = store.Open(id))
            state = store.Read(held);
        string log = state.LogPath ?? throw new IsolateException($"container {id} has no log: only `run -d` containers keep one");
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var buffer = new byte[65536];
        while (true)
        {
            int n;
            while ((n = stream.Read(buffer)) > 0)
                output.Write(buffer, 0, n);
            output.Flush();
            if (!follow || !MonitorAlive(state))
            {
                while ((n = stream.Read(buffer)) > 0) // what came in the last instant
                    output.Write(buffer, 0, n);
                output.Flush();
                return;
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>docker ps: status words for a container.</summary>
    public static string Describe(ContainerState state, string status) => status switch
    {
        "running" => "Up",
        "paused" => "Up (Paused)",
        "created" => "Created",
        _ when state.Error != null => $"Failed ({state.ExitCode})",
        _ when state.ExitCode is { } code => $"Exited ({code})",
        _ => "Exited",
    };
}
