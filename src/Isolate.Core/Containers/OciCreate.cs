using System.Runtime.InteropServices;
using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Launch;
using Isolate.Oci;
using Isolate.Spec;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>What the OCI verbs that make a container take besides its id.</summary>
public sealed record OciCreateOptions
{
    public required string Bundle { get; init; }
    public string? PidFile { get; init; }
    public string? ConsoleSocket { get; init; }
    public uint PreserveFds { get; init; }
    /// <summary>--systemd-cgroup: the container's cgroup is a transient scope made by systemd.</summary>
    public bool SystemdCgroup { get; init; }
}

/// <summary>OCI create: the bundle's container set up, its command found, and its PID 1
/// held on the exec FIFO until `start`.</summary>
public static class OciCreate
{
    public static void Run(StateStore store, string id, OciCreateOptions options, Action<string>? debug, Action<string> warn)
    {
        var bundle = Load(id, options);
        if (bundle.Terminal && options.ConsoleSocket is null)
            throw new IsolateException("config.json: process.terminal is true: give --console-socket, where the terminal's master is sent");
        var spec = bundle.Spec;

        using var held = store.CreateNew(id);
        ContainerCgroup? cgroup = null;
        int pid = -1;
        bool created = false;
        try
        {
            var (fifo, status) = MakeFifos(held.Directory);
            var state = NewState(id, bundle, CgroupScope.Wanted(spec, CgroupLayout.Detect())) with
            {
                Poststart = bundle.Hooks.Poststart.Select(ToState).ToList(),
                Poststop = bundle.Hooks.Poststop.Select(ToState).ToList(),
                StartContainer = bundle.Hooks.StartContainer.Select(ToState).ToList(),
            };
            // written before the cgroup is made and anything runs, and again with the PID: a
            // `create` killed at any moment leaves what `delete --force` needs to find its
            // cgroup (and in it, its process)
            store.Write(held, state);
            StateStore.WriteSpec(held, spec);
            cgroup = CgroupScope.ForCreated(spec, warn);
            (pid, int ttyFd) = Launcher.Create(spec, cgroup, fifo, status, bundle.ConsoleSize ?? default, debug, warn);
            state = state with { Pid = pid, PidStartTime = ProcessInfo.StartTime(pid) };
            store.Write(held, state);
            if (ttyFd >= 0)
                SendConsole(options.ConsoleSocket!, ttyFd);
            // createRuntime (and the older prestart): the namespaces exist, the command has not run
            string stateJson = ContainerViews.StateJson(state, ContainerStatus.Created);
            HookRunner.OnHost("prestart", bundle.Hooks.Prestart.Select(ToState), stateJson, fatal: true);
            HookRunner.OnHost("createRuntime", bundle.Hooks.CreateRuntime.Select(ToState), stateJson, fatal: true);
            HookRunner.InContainer("createContainer", bundle.Hooks.CreateContainer.Select(ToState).ToList(), state, programInContainer: false,
                spec.Process.Security);
            if (options.PidFile != null)
                Runtime.PidFile.Write(Path.GetFullPath(options.PidFile), pid, newline: false);
            created = true;
        }
        finally
        {
            if (!created)
            {
                if (pid > 0)
                    Libc.Kill(pid, Signal.SIGKILL);
                if (cgroup != null)
                {
                    cgroup.KillAll();
                    cgroup.Remove();
                }
                StateStore.Remove(held);
            }
        }
    }

    /// <summary>The bundle, checked for what Isolate can do with it, with the caller's fds.</summary>
    internal static OciBundle Load(string id, OciCreateOptions options)
    {
        StateStore.ValidateId(id);
        if (options.SystemdCgroup)
            Cgroups.SystemdScope.RefuseWithoutSystemd();
        var bundle = OciBundleLoader.Load(options.Bundle, id, options.SystemdCgroup);
        var process = bundle.Spec.Process;
        return bundle with { Spec = bundle.Spec with { Process = process with { Security = process.Security with { PreserveFds = options.PreserveFds } } } };
    }

    /// <summary>What create and run record first: who, from where, and the cgroup to come.</summary>
    internal static ContainerState NewState(string id, OciBundle bundle, bool withCgroup) => new()
    {
        OciVersion = bundle.OciVersion,
        Id = id,
        Kind = ContainerKind.Oci,
        Bundle = bundle.BundleDir,
        Rootfs = ByteStrings.Escape(bundle.Spec.Rootfs ?? "/"),
        Created = ContainerState.Timestamp(),
        Annotations = new Dictionary<string, string>(bundle.Annotations),
        CgroupParent = withCgroup ? bundle.Spec.CgroupParent : null,
        CgroupName = withCgroup ? bundle.Spec.CgroupName : null,
        Owner = Libc.GetEffectiveUserId(),
    };

    /// <summary>The exec FIFO the held container waits on and the status FIFO it reports a
    /// failure after the go on, in its state directory.</summary>
    internal static (string Fifo, string Status) MakeFifos(string directory)
    {
        string fifo = Path.Combine(directory, StateStore.FifoFile);
        string status = Path.Combine(directory, StateStore.ExecStatusFile);
        foreach (string path in new[] { fifo, status })
        {
            if (Pipes.MakeFifo(path, OpenFlags.ModeOwnerReadWrite) < 0)
                throw IsolateException.FromErrno($"create {path}", null, Marshal.GetLastPInvokeError());
        }
        return (fifo, status);
    }

    internal static HookState ToState(OciHook hook) => new(hook.Path, [.. hook.Args], hook.Env is null ? null : [.. hook.Env], hook.Timeout);

    /// <summary>The terminal's master to --console-socket, then closed here.</summary>
    internal static void SendConsole(string socket, int ttyFd)
    {
        int rc = Shim.SendConsole(socket, ttyFd);
        Libc.Close(ttyFd);
        if (rc < 0)
            throw IsolateException.FromErrno($"send the terminal to --console-socket {socket}", null, -rc);
    }
}
