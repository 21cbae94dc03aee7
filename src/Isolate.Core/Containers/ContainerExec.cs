using System.Globalization;
using Isolate.Interop;
using Isolate.Launch;
using Isolate.Oci;
using Isolate.Runtime;
using Isolate.Spec;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>What exec is asked for: a process JSON (--process), or a command with changes to
/// the container's own process settings.</summary>
public sealed record ExecRequest
{
    public string? ProcessFile { get; init; }
    public IReadOnlyList<string> Args { get; init; } = [];
    public bool Tty { get; init; }

    /// <summary>-i: with -t, the caller's input goes to the command's terminal (docker's exec -it).</summary>
    public bool Interactive { get; init; }
    public bool Detach { get; init; }
    public string? Cwd { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    public string? User { get; init; }
    public string? PidFile { get; init; }
    public string? ConsoleSocket { get; init; }
    public uint PreserveFds { get; init; }
}

/// <summary>exec: a new process in a running container, whichever face made it - its
/// namespaces, its cgroup, and the container's own process settings as they were launched
/// (spec.json: user, capabilities, seccomp, no_new_privs, rlimits, env, cwd), changed by the
/// request.</summary>
public static unsafe class ContainerExec
{
    public static int Run(StateStore store, string id, ExecRequest request, Action<string>? debug)
    {
        ContainerState state;
        ContainerSpec container;
        using (var held = store.Open(id))
        {
            state = store.Read(held);
            var status = StateStore.Status(held, state);
            if (status != ContainerStatus.Running)
                throw new IsolateException($"cannot exec in container {id}: it is {status.Oci()}, not running");
            container = StateStore.ReadSpec(held.Directory, id);
        }
        var process = ProcessFor(container, request);
        // As run -it: a terminal fed from a pipe would wait for input that never ends.
        if (request.Tty && request.Interactive && !request.Detach && !HostTerminal.IsTerminal(0))
            throw new IsolateException("exec -it: the input device is not a terminal; drop -i to give the command a terminal without your input, or -t to pass stdin through as it is");
        if (process.Tty && request.Detach && request.ConsoleSocket is null)
            throw new IsolateException("exec: a terminal (-t or process.terminal) with --detach needs --console-socket, where its master is sent");

        var namespaces = ContainerHandle.NamespacesOf(state.Pid);
        // A pidfd held across the join: if the container's PID 1 is still alive afterwards, the
        // /proc/PID/ns paths the child opened were its (the PID cannot have been reused). A
        // container always has its own mount namespace: one equal to ours means its process is
        // not what we think it is (gone, or the PID reused)
        int guard = (int)Pidfd.Open(state.Pid);
        if (ProcessInfo.StartTime(state.Pid) != state.PidStartTime || !namespaces.Any(ns => ns.Type == Plan.CloneFlags.NewNs))
        {
            if (guard >= 0)
                Libc.Close(guard);
            throw new IsolateException($"cannot exec in container {id}: its process is gone");
        }

        var size = process.Tty && !request.Detach ? HostTerminal.Size() : default;
        int pid, pidfd, ttyFd;
        try
        {
            (pid, pidfd, ttyFd) = Launcher.ExecInto(process, namespaces, ContainerHandle.OpenCgroup(state), request.Detach, size, debug);
            if (guard >= 0 && Pidfd.HasExited(guard))
            {
                Libc.Kill(pid, Signal.SIGKILL);
                ProcessWait.Quietly(pid);
                throw new IsolateException($"cannot exec in container {id}: its process ended while the command was joining it");
            }
        }
        finally
        {
            if (guard >= 0)
                Libc.Close(guard);
        }
        if (request.PidFile != null)
            PidFile.Write(Path.GetFullPath(request.PidFile), pid, newline: false);
        if (!request.Detach)
            return Launcher.WaitForExec(pid, pidfd, ttyFd,
                interactive: process.Tty && HostTerminal.IsTerminal(0) && (request.Interactive || request.ProcessFile != null)); // -t alone: no input, as docker
        if (pidfd >= 0)
            Libc.Close(pidfd);
        if (ttyFd >= 0)
            OciCreate.SendConsole(request.ConsoleSocket!, ttyFd);
        return 0;
    }

    /// <summary>The one converter from an exec request to a process: --process replaces the
    /// container's process settings with an OCI process (read as config.json's is, with the
    /// container's seccomp filter and user namespace); otherwise the container's own process
    /// runs the command, with -e, -u, --cwd and -t applied.</summary>
    public static ProcessSpec ProcessFor(ContainerSpec container, ExecRequest request)
    {
        if (request.ProcessFile != null)
        {
            string json;
            try
            {
                json = File.ReadAllText(request.ProcessFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IsolateException($"exec: --process {request.ProcessFile}: {ErrorText.Of(e)}");
            }
            var parsed = OciBundleLoader.ParseProcess(json, container);
            return parsed with { Security = parsed.Security with { PreserveFds = request.PreserveFds } };
        }
        var own = container.Process;
        var env = MergeEnv(own.Env, request.Env);
        var user = own.Security.User;
        if (request.User != null)
        {
            var (uid, gid) = ParseUser(request.User);
            if (container.UserNamespace is { } userns && (!userns.MapsUid(uid) || !userns.MapsGid(gid)))
                throw new IsolateException($"exec --user {request.User}: it has no id in the container's user namespace (it maps {userns.Describe()})");
            user = new Security.ProcessUser(uid, gid, [], Plan.EnvironmentBuilder.Lookup(env, "HOME") ?? (uid == 0 ? "/root" : "/"));
        }
        return own with
        {
            Args = request.Args,
            Env = env,
            Workdir = request.Cwd ?? own.Workdir,
            Tty = request.Tty,
            Interactive = false,
            Security = own.Security with { User = user, PreserveFds = request.PreserveFds },
        };
    }

    /// <summary>exec -e: each entry replaces the variable of its name (KEY alone: the caller's value).</summary>
    public static List<string> MergeEnv(IEnumerable<string> environment, IEnumerable<string> overrides)
    {
        var merged = environment.ToList();
        foreach (string entry in overrides)
        {
            string key = entry.Split('=', 2)[0];
            merged.RemoveAll(e => e.Split('=', 2)[0] == key);
            merged.Add(entry.Contains('=') ? entry : $"{entry}={HostProcess.Variable(entry)}");
        }
        return merged;
    }

    /// <summary>exec -u: UID[:GID], numbers (GID 0 when left out).</summary>
    public static (uint Uid, uint Gid) ParseUser(string user)
    {
        string[] parts = user.Split(':', 2);
        uint gid = 0;
        if (!uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint uid)
            || (parts.Length == 2 && !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out gid)))
            throw new IsolateException($"invalid --user '{user}': use UID[:GID] (numbers)");
        if (!Security.Ids.Valid(uid) || !Security.Ids.Valid(gid))
            throw new IsolateException($"invalid --user '{user}': {(Security.Ids.Valid(uid) ? "gid" : "uid")} {Security.Ids.Refusal}");
        return (uid, gid);
    }
}
