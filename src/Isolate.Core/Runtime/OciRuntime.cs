using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Oci;
using Isolate.Plan;
using Isolate.Spec;
using Isolate.State;

namespace Isolate.Runtime;

/// <summary>The OCI runtime commands on a state directory: create (set up, then wait on the
/// exec FIFO), start (one byte into it), state, kill, delete and list. Each command locks
/// the container's directory for as long as it works on it.</summary>
public static unsafe partial class OciRuntime
{
    private const int SIGKILL = 9;

    public sealed record CreateOptions
    {
        public required string Bundle { get; init; }
        public string? PidFile { get; init; }
        public string? ConsoleSocket { get; init; }
        public uint PreserveFds { get; init; }
    }

    public static void Create(StateStore store, string id, CreateOptions options, Action<string>? debug, Action<string> warn)
    {
        StateStore.ValidateId(id);
        var bundle = OciBundleLoader.Load(options.Bundle, id);
        CheckJoins(bundle);
        if (bundle.Terminal && options.ConsoleSocket is null)
            throw new IsolateException("config.json: process.terminal is true: give --console-socket, where the terminal's master is sent");
        var spec = bundle.Spec with { Security = bundle.Spec.Security with { PreserveFds = options.PreserveFds } };

        using var held = store.CreateNew(id);
        ContainerCgroup? cgroup = null;
        int pid = -1;
        bool created = false;
        try
        {
            string fifo = Path.Combine(held.Directory, StateStore.FifoFile);
            if (MakeFifo(fifo, 0x180 /* 0600 */) < 0)
                throw IsolateException.FromErrno($"create {fifo}", null, Marshal.GetLastPInvokeError());
            var layout = CgroupLayout.Detect();
            bool wantCgroup = spec.Cgroups && (layout.Version != CgroupVersion.None || spec.Resources.Any);
            var state = NewState(id, bundle, spec, wantCgroup) with
            {
                Poststart = bundle.Hooks.Poststart.Select(ToState).ToList(),
                Poststop = bundle.Hooks.Poststop.Select(ToState).ToList(),
                StartContainer = bundle.Hooks.StartContainer.Select(ToState).ToList(),
            };
            // written before the cgroup is made and anything runs, and again with the PID: a
            // `create` killed at any moment leaves what `delete --force` needs to find its
            // cgroup (and in it, its process)
            store.Write(held, state);
            if (wantCgroup)
                cgroup = ContainerCgroup.Create(layout, bundle.CgroupParent, bundle.CgroupName, spec.Resources, warn, cpuAccounting: false);
            var size = bundle.ConsoleSize ?? default;
            (pid, int ttyFd) = ContainerRunner.SpawnDetached(spec, cgroup, fifo, size, debug, warn);
            state = state with { Pid = pid, PidStartTime = ProcessInfo.StartTime(pid) };
            store.Write(held, state);
            if (ttyFd >= 0)
            {
                int rc = Shim.SendConsole(options.ConsoleSocket!, ttyFd);
                Libc.Close(ttyFd);
                if (rc < 0)
                    throw IsolateException.FromErrno($"send the terminal to --console-socket {options.ConsoleSocket}", null, -rc);
            }
            // createRuntime (and the older prestart): the namespaces exist, the command has not run
            RunHooks("prestart", bundle.Hooks.Prestart.Select(ToState), StateJson(state, "created"), fatal: true);
            RunHooks("createRuntime", bundle.Hooks.CreateRuntime.Select(ToState), StateJson(state, "created"), fatal: true);
            RunContainerHooks("createContainer", bundle.Hooks.CreateContainer.Select(ToState).ToList(), state, programInContainer: false, spec.Security);
            if (options.PidFile != null)
                WritePidFile(options.PidFile, pid);
            created = true;
        }
        finally
        {
            if (!created)
            {
                if (pid > 0)
                    Libc.Kill(pid, SIGKILL);
                if (cgroup != null)
                {
                    cgroup.KillAll();
                    cgroup.Remove();
                }
                StateStore.Remove(held);
            }
        }
    }

    /// <summary>OCI `run` without -d: create, start and wait in one process, which stays the
    /// container's parent: signals are forwarded, the exit status is the container's, and the
    /// state directory exists (state, list, kill work on it) while it runs.</summary>
    public static int RunForeground(StateStore store, string id, CreateOptions options, Action<string>? debug, Action<string> warn)
    {
        StateStore.ValidateId(id);
        var bundle = OciBundleLoader.Load(options.Bundle, id);
        CheckJoins(bundle);
        RefuseUnsupportedHooks(bundle);
        var spec = bundle.Spec with
        {
            Security = bundle.Spec.Security with { PreserveFds = options.PreserveFds },
            Interactive = bundle.Terminal && HostTerminal.IsTerminal(0),
            PidFile = options.PidFile is null ? null : Path.GetFullPath(options.PidFile),
        };
        // The directory is locked only while it is written: `state`, `list` and `kill` work
        // on the container while it runs.
        var state = NewState(id, bundle, spec, spec.Cgroups);
        using (var created = store.CreateNew(id))
            store.Write(created, state);
        try
        {
            var result = ContainerRunner.Run(spec, debug, warn, spawned: pid =>
            {
                state = state with { Pid = pid, PidStartTime = ProcessInfo.StartTime(pid) };
                using (var held = store.Open(id))
                    store.Write(held, state);
                RunHooks("prestart", bundle.Hooks.Prestart.Select(ToState), StateJson(state, "created"), fatal: true);
                RunHooks("createRuntime", bundle.Hooks.CreateRuntime.Select(ToState), StateJson(state, "created"), fatal: true);
            });
            if (result.OutOfMemory)
                warn(result.OutOfMemoryMessage);
            RunHooks("poststop", bundle.Hooks.Poststop.Select(ToState), StateJson(state, "stopped"), fatal: false, warn);
            return result.ExitCode;
        }
        finally
        {
            try
            {
                using var held = store.Open(id);
                StateStore.Remove(held);
            }
            catch (IsolateException)
            {
                // deleted meanwhile (delete --force)
            }
        }
    }

    public sealed record ExecOptions
    {
        public string? ProcessFile { get; init; }
        public IReadOnlyList<string> Args { get; init; } = [];
        public bool Tty { get; init; }
        public bool Detach { get; init; }
        public string? Cwd { get; init; }
        public IReadOnlyList<string> Env { get; init; } = [];
        public string? User { get; init; }
        public string? PidFile { get; init; }
        public string? ConsoleSocket { get; init; }
        public uint PreserveFds { get; init; }
    }

    /// <summary>The namespaces a process joins to be in a container, in the order it must join
    /// them (user first, for the rights to join the rest; mnt last, as it changes the root).</summary>
    private static readonly (string Name, CloneFlags Type)[] ExecNamespaces =
    [
        ("user", CloneFlags.NewUser), ("ipc", CloneFlags.NewIpc), ("uts", CloneFlags.NewUts), ("net", CloneFlags.NewNet),
        ("cgroup", CloneFlags.NewCgroup), ("pid", CloneFlags.NewPid), ("mnt", CloneFlags.NewNs),
    ];

    /// <summary>exec: a new process in a running container, with the container's own process
    /// settings from its bundle (capabilities, seccomp, no_new_privs, rlimits, user, env,
    /// cwd), overridden by --process or the options.</summary>
    public static int Exec(StateStore store, string id, ExecOptions options, Action<string>? debug)
    {
        ContainerState state;
        using (var held = store.Open(id))
        {
            state = store.Read(held);
            string status = StateStore.Status(held, state);
            if (status != "running")
                throw new IsolateException($"cannot exec in container {id}: it is {status}, not running");
        }
        var spec = state.Bundle == ""
            ? DetachedContainers.ExecSpec(state, options.Args, options.Env, options.Cwd, options.User, options.Tty, options.PreserveFds)
            : ExecSpec(state, options);
        if (spec.Tty && options.Detach && options.ConsoleSocket is null)
            throw new IsolateException("exec: a terminal (-t or process.terminal) with --detach needs --console-socket, where its master is sent");

        string self = $"/proc/{state.Pid.ToString(CultureInfo.InvariantCulture)}/ns/";
        var namespaces = ExecNamespaces
            .Where(ns => ProcessInfo.Inode(self + ns.Name) is { } theirs && theirs != ProcessInfo.Inode("/proc/self/ns/" + ns.Name))
            .Select(ns => (ns.Type, self + ns.Name)).ToList();
        // a container always has its own mount namespace: one equal to ours means its
        // process is not what we think it is (gone, or the PID reused)
        // A pidfd held across the join: if the container's PID 1 is still alive afterwards, the
        // /proc/PID/ns paths the child opened were its (the PID cannot have been reused)
        int guard = (int)Libc.PidfdOpen(state.Pid);
        if (ProcessInfo.StartTime(state.Pid) != state.PidStartTime || !namespaces.Any(ns => ns.Type == CloneFlags.NewNs))
        {
            if (guard >= 0)
                Libc.Close(guard);
            throw new IsolateException($"cannot exec in container {id}: its process is gone");
        }

        var size = spec.Tty && !options.Detach ? ContainerRunner.CallerTerminalSize() : default;
        int pid, pidfd, ttyFd;
        try
        {
            (pid, pidfd, ttyFd) = ContainerRunner.ExecInto(spec, namespaces, OpenCgroup(state), options.Detach, size, debug);
            if (guard >= 0 && HasExited(guard))
            {
                Libc.Kill(pid, SIGKILL);
                int status;
                Libc.WaitPid(pid, &status, 0);
                throw new IsolateException($"cannot exec in container {id}: its process ended while the command was joining it");
            }
        }
        finally
        {
            if (guard >= 0)
                Libc.Close(guard);
        }
        if (options.PidFile != null)
            WritePidFile(options.PidFile, pid);
        if (!options.Detach)
            return ContainerRunner.WaitForExec(pid, pidfd, ttyFd, interactive: spec.Tty && HostTerminal.IsTerminal(0), spec);
        if (pidfd >= 0)
            Libc.Close(pidfd);
        if (ttyFd >= 0)
        {
            int rc = Shim.SendConsole(options.ConsoleSocket!, ttyFd);
            Libc.Close(ttyFd);
            if (rc < 0)
                throw IsolateException.FromErrno($"send the terminal to --console-socket {options.ConsoleSocket}", null, -rc);
        }
        return 0;
    }

    /// <summary>The container's config.json with its process replaced (--process) or adjusted
    /// (the options), read as any bundle is: the same checks, the same defaults.</summary>
    private static ContainerSpec ExecSpec(ContainerState state, ExecOptions options)
    {
        string configPath = Path.Combine(state.Bundle, "config.json");
        System.Text.Json.Nodes.JsonObject config;
        try
        {
            config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException)
        {
            throw new IsolateException($"exec: cannot read the container's {configPath}: {e.Message}");
        }
        if (options.ProcessFile != null)
        {
            try
            {
                config["process"] = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(options.ProcessFile));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
            {
                throw new IsolateException($"exec: --process {options.ProcessFile}: {e.Message}");
            }
        }
        else
        {
            var process = config["process"] as System.Text.Json.Nodes.JsonObject ?? [];
            config["process"] = process;
            process["args"] = new System.Text.Json.Nodes.JsonArray(options.Args.Select(a => (System.Text.Json.Nodes.JsonNode?)a).ToArray());
            process["terminal"] = options.Tty;
            if (options.Cwd != null)
                process["cwd"] = options.Cwd;
            if (options.Env.Count > 0)
            {
                var env = MergeEnv((process["env"] as System.Text.Json.Nodes.JsonArray)?.Select(e => (string)e!) ?? [], options.Env);
                process["env"] = new System.Text.Json.Nodes.JsonArray(env.Select(e => (System.Text.Json.Nodes.JsonNode?)e).ToArray());
            }
            if (options.User != null)
            {
                var (uid, gid) = ParseUser(options.User);
                process["user"] = new System.Text.Json.Nodes.JsonObject { ["uid"] = uid, ["gid"] = gid };
            }
        }
        var bundle = OciBundleLoader.Parse(config.ToJsonString(), state.Bundle, state.Id);
        return bundle.Spec with { Security = bundle.Spec.Security with { PreserveFds = options.PreserveFds } };
    }

    /// <summary>exec -e: each entry replaces the variable of its name (KEY alone: the caller's value).</summary>
    internal static List<string> MergeEnv(IEnumerable<string> environment, IEnumerable<string> overrides)
    {
        var merged = environment.ToList();
        foreach (string entry in overrides)
        {
            string key = entry.Split('=', 2)[0];
            merged.RemoveAll(e => e.Split('=', 2)[0] == key);
            merged.Add(entry.Contains('=') ? entry : $"{entry}={Environment.GetEnvironmentVariable(entry)}");
        }
        return merged;
    }

    /// <summary>exec -u: UID[:GID], numbers (GID 0 when left out).</summary>
    internal static (uint Uid, uint Gid) ParseUser(string user)
    {
        string[] parts = user.Split(':', 2);
        uint gid = 0;
        if (!uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint uid)
            || (parts.Length == 2 && !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out gid)))
            throw new IsolateException($"invalid --user '{user}': use UID[:GID] (numbers)");
        return (uid, gid);
    }

    /// <summary>What create and run record first: who, from where, and the cgroup to come.</summary>
    private static ContainerState NewState(string id, OciBundle bundle, ContainerSpec spec, bool withCgroup) => new()
    {
        OciVersion = bundle.OciVersion,
        Id = id,
        Bundle = bundle.BundleDir,
        Rootfs = spec.Rootfs ?? "/",
        Created = ContainerState.Timestamp(),
        Annotations = new Dictionary<string, string>(bundle.Annotations),
        CgroupParent = withCgroup ? bundle.CgroupParent : null,
        CgroupName = withCgroup ? bundle.CgroupName : null,
        Owner = Libc.GetEffectiveUserId(),
    };

    private static void CheckJoins(OciBundle bundle)
    {
        foreach (var (type, _) in bundle.JoinNamespaces)
        {
            if (type is not ("network" or "ipc" or "uts"))
                throw new IsolateException($"config.json: linux.namespaces: joining an existing {type} namespace (path) is not supported; only network, ipc and uts");
        }
    }

    private static void RefuseUnsupportedHooks(OciBundle bundle)
    {
        if (bundle.Hooks.CreateContainer.Count > 0 || bundle.Hooks.StartContainer.Count > 0)
            throw new IsolateException("config.json: hooks: createContainer and startContainer hooks need create and start: use `isolate create` and `isolate start` (or run -d)");
    }

    /// <summary>createContainer and startContainer hooks: executed in the container's
    /// namespaces and cgroup, as its root with the container's own confinement (bounding
    /// set, seccomp filter, no_new_privs) - they run among the image's files, whose libraries
    /// a host program would load - and the state on stdin. createContainer's program is
    /// found in Isolate's namespace (the spec's rule), startContainer's in the container's
    /// root (resolved there, links and all). A failing one is an error; the caller stops
    /// the container.</summary>
    private static void RunContainerHooks(string phase, IReadOnlyList<HookState> hooks, ContainerState state, bool programInContainer,
        Security.ProcessSecurity confinement)
    {
        if (hooks.Count == 0)
            return;
        string nsDir = $"/proc/{state.Pid.ToString(CultureInfo.InvariantCulture)}/ns/";
        var namespaces = ExecNamespaces
            .Where(ns => ProcessInfo.Inode(nsDir + ns.Name) is { } theirs && theirs != ProcessInfo.Inode("/proc/self/ns/" + ns.Name))
            .Select(ns => (ns.Type, nsDir + ns.Name)).ToList();
        var cgroup = OpenCgroup(state);
        for (int index = 0; index < hooks.Count; index++)
        {
            var hook = hooks[index];
            const int O_RDONLY = 0, O_CLOEXEC = 0x80000;
            int program = programInContainer
                ? Shim.OpenInRoot($"/proc/{state.Pid.ToString(CultureInfo.InvariantCulture)}/root", hook.Path)
                : Libc.Open(hook.Path, O_RDONLY | O_CLOEXEC, 0);
            if (program < 0)
            {
                int errno = programInContainer ? -program : Marshal.GetLastPInvokeError();
                throw new IsolateException($"{phase} hook {index} ({hook.Path}): {IsolateException.Describe(errno)}");
            }
            try
            {
                var spec = new ContainerSpec
                {
                    Hostname = "",
                    Id = state.Id,
                    Args = hook.Args.Count > 0 ? hook.Args : [hook.Path],
                    Env = hook.Env,
                    Workdir = "/",
                    Security = confinement with { User = Security.ProcessUser.Root, OciSets = null, PreserveFds = 0 },
                };
                string? problem = WithStdin(StateJson(state, "created"), () =>
                {
                    var (pid, pidfd, ttyFd) = ContainerRunner.ExecInto(spec, namespaces, cgroup, detach: false, default, null, program);
                    if (pidfd >= 0)
                        Libc.Close(pidfd);
                    if (ttyFd >= 0)
                        Libc.Close(ttyFd);
                    return WaitForHook(pid, hook.Timeout);
                });
                if (problem != null)
                    throw new IsolateException($"{phase} hook {index} ({hook.Path}): {problem}");
            }
            finally
            {
                Libc.Close(program);
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> with Isolate's own stdin a pipe holding
    /// <paramref name="input"/>: what a process it starts gets as its stdin.</summary>
    private static T WithStdin<T>(string input, Func<T> action)
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, 0x80000 /* O_CLOEXEC */) < 0)
            throw IsolateException.FromErrno("create a pipe", null, Marshal.GetLastPInvokeError());
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(input);
        fixed (byte* p = bytes)
            Libc.Write(fds[1], p, bytes.Length); // the state is far below a pipe's 64 KiB
        Libc.Close(fds[1]);
        int saved = Dup(0);
        Dup2(fds[0], 0);
        Libc.Close(fds[0]);
        try
        {
            return action();
        }
        finally
        {
            Dup2(saved, 0);
            Libc.Close(saved);
        }
    }

    /// <summary>null when the hook exited 0 within its timeout; otherwise what went wrong.</summary>
    private static string? WaitForHook(int pid, int? timeoutSeconds)
    {
        var deadline = timeoutSeconds is > 0 ? DateTime.UtcNow + TimeSpan.FromSeconds(timeoutSeconds.Value) : DateTime.MaxValue;
        int status;
        while (true)
        {
            int rc = Libc.WaitPid(pid, &status, 1 /* WNOHANG */);
            if (rc == pid)
                break;
            if (rc < 0 && Marshal.GetLastPInvokeError() != Libc.EINTR)
                return "lost it: " + IsolateException.Describe(Marshal.GetLastPInvokeError());
            if (DateTime.UtcNow > deadline)
            {
                Libc.Kill(pid, SIGKILL);
                Libc.WaitPid(pid, &status, 0);
                return $"timed out after {timeoutSeconds} s";
            }
            Thread.Sleep(2);
        }
        int code = ExitStatus.FromWaitStatus(status, 0);
        return code == 0 ? null : $"exited with {code}";
    }

    /// <summary>A pidfd reads as readable once its process has exited.</summary>
    private static bool HasExited(int pidfd)
    {
        var pfd = new PollFd { Fd = pidfd, Events = 1 /* POLLIN */ };
        return Poll(&pfd, 1, 0) > 0 && (pfd.Revents & 1) != 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int Pipe2(int* fds, int flags);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2(int fd, int to);

    private static HookState ToState(OciHook hook) => new(hook.Path, [.. hook.Args], [.. hook.Env], hook.Timeout);

    public static void Start(StateStore store, string id)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        string status = StateStore.Status(held, state);
        if (status != "created")
            throw new IsolateException($"cannot start container {id}: it is {status}, not created");
        try
        {
            if (state.StartContainer.Count > 0)
                RunContainerHooks("startContainer", state.StartContainer, state, programInContainer: true,
                    OciBundleLoader.Load(state.Bundle, id).Spec.Security);
        }
        catch (IsolateException)
        {
            SendSignal(state, SIGKILL); // the spec: a failing startContainer hook stops the container
            throw;
        }
        string fifo = Path.Combine(held.Directory, StateStore.FifoFile);
        const int O_WRONLY = 1, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
        int fd = Libc.Open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0);
        if (fd < 0)
            throw Marshal.GetLastPInvokeError() == ENXIO
                ? new IsolateException($"cannot start container {id}: its process is gone")
                : IsolateException.FromErrno($"open {fifo}", null, Marshal.GetLastPInvokeError());
        byte go = 1;
        nint written = Libc.Write(fd, &go, 1);
        int errno = Marshal.GetLastPInvokeError();
        Libc.Close(fd);
        if (written != 1)
            throw IsolateException.FromErrno($"start container {id}", null, errno);
        File.Delete(fifo); // from now on it is running
        RunHooks("poststart", state.Poststart, StateJson(state, "running"), fatal: false);
    }

    public static string State(StateStore store, string id)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        return StateJson(state, StateStore.Status(held, state));
    }

    public static OciStateView View(ContainerState state, string status) => new()
    {
        OciVersion = state.OciVersion,
        Id = state.Id,
        Status = status,
        Pid = status == "stopped" ? 0 : state.Pid,
        Bundle = state.Bundle,
        Rootfs = state.Rootfs,
        Created = state.Created,
        Annotations = state.Annotations,
        Owner = OwnerName(state.Owner),
    };

    private static string StateJson(ContainerState state, string status) =>
        JsonSerializer.Serialize(View(state, status), StateJsonContext.Default.OciStateView);

    /// <summary>Every readable container under the root with its status.</summary>
    public static List<(ContainerState State, string Status)> ListStates(StateStore store)
    {
        var rows = new List<(ContainerState, string)>();
        foreach (string id in store.Ids())
        {
            using var held = ContainerLock.Take(store.DirectoryOf(id), id, wait: false, out bool busy);
            if (busy && StateStore.ReadUnlocked(store.DirectoryOf(id)) is { } current)
                rows.Add((current, StateStore.Status(store.DirectoryOf(id), current))); // another command holds it for a moment
            if (held is null)
                continue;
            try
            {
                if (store.TryRead(held) is { } state)
                    rows.Add((state, StateStore.Status(held, state)));
            }
            catch (IsolateException)
            {
            }
        }
        return rows;
    }

    public static string ListJson(List<OciStateView> views) => JsonSerializer.Serialize(views, StateJsonContext.Default.ListOciStateView);

    /// <summary>Every container under the root, with its status (unreadable ones are skipped).</summary>
    public static List<OciStateView> List(StateStore store)
    {
        var views = new List<OciStateView>();
        foreach (string id in store.Ids())
        {
            // never waits: a container whose create (or a hook of it) is still running is "creating"
            using var held = ContainerLock.Take(store.DirectoryOf(id), id, wait: false, out bool busy);
            if (busy)
            {
                var current = StateStore.ReadUnlocked(store.DirectoryOf(id));
                views.Add(current is null || current.Pid <= 0
                    ? new OciStateView { OciVersion = "1.2.0", Id = id, Status = "creating", Bundle = current?.Bundle ?? "" }
                    : View(current, StateStore.Status(store.DirectoryOf(id), current)));
            }
            if (held is null)
                continue;
            try
            {
                if (store.TryRead(held) is { } state)
                    views.Add(View(state, StateStore.Status(held, state)));
                else
                    views.Add(new OciStateView { OciVersion = "1.2.0", Id = id, Status = "stopped", Bundle = "" }); // a create that died
            }
            catch (IsolateException)
            {
            }
        }
        return views;
    }

    public static void Kill(StateStore store, string id, int signal, bool all)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        string status = StateStore.Status(held, state);
        if (status == "stopped")
            throw new IsolateException($"cannot kill container {id}: it is stopped");
        if (all && OpenCgroup(state) is { } cgroup)
        {
            foreach (int pid in cgroup.Processes())
                Libc.Kill(pid, signal);
            return;
        }
        SendSignal(state, signal);
    }

    /// <summary>Through a pidfd opened and then checked against the recorded start time: a
    /// PID reused since can never be hit.</summary>
    private static void SendSignal(ContainerState state, int signal)
    {
        int pidfd = (int)syscall(SYS_pidfd_open, state.Pid, 0);
        if (pidfd < 0)
        {
            if (ProcessInfo.StartTime(state.Pid) == state.PidStartTime && Libc.Kill(state.Pid, signal) == 0)
                return; // before Linux 5.3
            throw new IsolateException($"cannot kill container {state.Id}: its process is gone");
        }
        try
        {
            if (ProcessInfo.StartTime(state.Pid) != state.PidStartTime)
                throw new IsolateException($"cannot kill container {state.Id}: its process is gone");
            if (syscall(SYS_pidfd_send_signal, pidfd, signal, 0, 0) < 0)
                throw IsolateException.FromErrno($"kill container {state.Id}", null, Marshal.GetLastPInvokeError());
        }
        finally
        {
            Libc.Close(pidfd);
        }
    }

    /// <summary>pause (freeze) or resume (thaw) every process of a container through its cgroup.</summary>
    public static void Pause(StateStore store, string id, bool pause)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        string status = StateStore.Status(held, state);
        string wanted = pause ? "running" : "paused";
        if (status != wanted)
            throw new IsolateException($"cannot {(pause ? "pause" : "resume")} container {id}: it is {status}, not {wanted}");
        var cgroup = OpenCgroup(state) ?? throw new IsolateException($"cannot {(pause ? "pause" : "resume")} container {id}: it has no cgroup");
        cgroup.Freeze(pause);
    }

    /// <summary>update: new resource limits on a running container's cgroup.</summary>
    public static void Update(StateStore store, string id, ResourceLimits limits, Action<string> warn)
    {
        if (!limits.Any)
            throw new IsolateException("update: give at least one limit (--memory, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus, --pids-limit, --blkio-weight)");
        using var held = store.Open(id);
        var state = store.Read(held);
        string status = StateStore.Status(held, state);
        if (status == "stopped")
            throw new IsolateException($"cannot update container {id}: it is stopped");
        var cgroup = OpenCgroup(state) ?? throw new IsolateException($"cannot update container {id}: it has no cgroup");
        cgroup.Update(limits, warn);
    }

    /// <summary>The host PIDs of a container's processes (its cgroup).</summary>
    public static IReadOnlyList<int> Processes(StateStore store, string id)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        if (StateStore.Status(held, state) == "stopped")
            return [];
        return OpenCgroup(state)?.Processes() ?? [state.Pid];
    }

    public static void Delete(StateStore store, string id, bool force, Action<string> warn)
    {
        StateStore.ValidateId(id);
        if (force && !Directory.Exists(store.DirectoryOf(id)))
            return; // as runc: delete --force of a container that is gone already is done
        using var held = store.Open(id);
        var state = store.TryRead(held);
        if (state is null)
        {
            StateStore.Remove(held); // its create died before it finished: nothing runs
            return;
        }
        string status = StateStore.Status(held, state);
        if (status != "stopped")
        {
            if (!force)
                throw new IsolateException($"cannot delete container {id}: it is {status}; stop it first (isolate kill {id} KILL) or use delete --force");
            if (OpenCgroup(state) is { } running)
            {
                if (status == "paused")
                    running.Freeze(false); // SIGKILL is delivered once thawed
                running.KillAll();
            }
            else
                SendSignal(state, SIGKILL);
            WaitUntilGone(state);
        }
        if (OpenCgroup(state) is { } cgroup)
        {
            cgroup.KillAll();
            cgroup.Remove();
            if (state.CgroupParent == ContainerCgroup.DefaultParent)
                new CgroupPlacement(CgroupLayout.Detect(), state.CgroupParent, "").RemoveEmptyParents();
        }
        RunHooks("poststop", state.Poststop, StateJson(state, "stopped"), fatal: false, warn);
        StateStore.Remove(held);
    }

    private static void WaitUntilGone(ContainerState state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (ProcessInfo.StartTime(state.Pid) == state.PidStartTime && DateTime.UtcNow < deadline)
            Thread.Sleep(5);
    }

    private static ContainerCgroup? OpenCgroup(ContainerState state)
    {
        if (state.CgroupParent is null || state.CgroupName is null)
            return null;
        var layout = CgroupLayout.Detect();
        if (layout.Version == CgroupVersion.None)
            return null;
        try
        {
            return ContainerCgroup.Open(layout, state.CgroupParent, state.CgroupName);
        }
        catch (IsolateException)
        {
            return null;
        }
    }

    /// <summary>The OCI hooks that run in Isolate's own namespaces, in order, each with the
    /// state on stdin; a failing one aborts create (prestart, createRuntime) or is reported.</summary>
    private static void RunHooks(string phase, IEnumerable<HookState> hooks, string stateJson, bool fatal, Action<string>? warn = null)
    {
        int index = 0;
        foreach (var hook in hooks)
        {
            string? problem = RunHook(hook, stateJson);
            if (problem != null)
            {
                string message = $"{phase} hook {index} ({hook.Path}): {problem}";
                if (fatal)
                    throw new IsolateException(message);
                (warn ?? (_ => { }))(message);
            }
            index++;
        }
    }

    private static string? RunHook(HookState hook, string stateJson)
    {
        var info = new ProcessStartInfo(hook.Path)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
        };
        foreach (string arg in hook.Args.Skip(1)) // args[0] is the program's own name
            info.ArgumentList.Add(arg);
        info.Environment.Clear();
        foreach (string entry in hook.Env)
        {
            int eq = entry.IndexOf('=');
            if (eq > 0)
                info.Environment[entry[..eq]] = entry[(eq + 1)..];
        }
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message;
        }
        using (process)
        {
            try
            {
                process.StandardInput.Write(stateJson);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // a hook that does not read its stdin
            }
            var timeout = hook.Timeout is > 0 ? TimeSpan.FromSeconds(hook.Timeout.Value) : Timeout.InfiniteTimeSpan;
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return $"timed out after {hook.Timeout} s";
            }
            return process.ExitCode == 0 ? null : $"exited with {process.ExitCode}";
        }
    }

    private static void WritePidFile(string path, int pid)
    {
        string full = Path.GetFullPath(path);
        string temporary = full + ".tmp";
        File.WriteAllText(temporary, pid.ToString(CultureInfo.InvariantCulture));
        File.Move(temporary, full, overwrite: true);
    }

    private static string OwnerName(uint uid) => uid.ToString(CultureInfo.InvariantCulture);

    private const int ENXIO = 6;
    private const long SYS_pidfd_send_signal = 424, SYS_pidfd_open = 434;

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MakeFifo(string path, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long a, long b, long c, long d);

    private static long syscall(long number, long a, long b) => syscall(number, a, b, 0, 0);
}
