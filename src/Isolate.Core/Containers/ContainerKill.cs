using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>OCI kill: a signal to the container's PID 1, or with --all to every process in its cgroup.</summary>
public static class ContainerKill
{
    /// <param name="signal">Null: the default of the face that made it - SIGTERM for an OCI
    /// container (as runc), SIGKILL for a run -d one (as docker kill: a PID 1 without a TERM
    /// handler ignores TERM, so the docker habit `kill ID` would otherwise do nothing).</param>
    /// <returns>Which face made it.</returns>
    public static ContainerKind Run(StateStore store, string id, int? signal, bool all)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        var status = StateStore.Status(held, state);
        int sent = signal ?? (state.Kind == ContainerKind.Detached ? Signal.SIGKILL : Signal.SIGTERM);
        if (status == ContainerStatus.Stopped)
        {
            // As runc: with --all, whatever outlived PID 1 in the container's cgroup (its PID
            // namespace shared, as a Kubernetes pod's may be) gets the signal, and that is not an
            // error (containerd's shim sends `kill --all ID KILL` after every exit); without, there
            // is nothing to signal, said in the words the shim recognises.
            if (!all)
                throw NotRunning(id);
            if (ContainerHandle.OpenCgroup(state) is { } left)
                SignalEach(left, sent);
            return state.Kind;
        }
        Kill(state, sent, all);
        // a paused container's processes cannot die while frozen: KILL thaws them, as runc does
        // (any other signal waits for resume)
        if (status == ContainerStatus.Paused && sent == Signal.SIGKILL && ContainerHandle.OpenCgroup(state) is { } frozen)
            frozen.Freeze(false);
        return state.Kind;
    }

    /// <summary>"container not running": the text containerd's runc shim matches (a stopped
    /// container's kill is "process already finished" to it, not a failure to retry).</summary>
    public static IsolateException NotRunning(string id) => new($"cannot kill container {id}: container not running");

    private static void SignalEach(ContainerCgroup cgroup, int signal)
    {
        foreach (int pid in cgroup.Processes())
            Libc.Kill(pid, signal);
    }

    private static void Kill(ContainerState state, int signal, bool all)
    {
        if (all && ContainerHandle.OpenCgroup(state) is { } cgroup)
        {
            SignalEach(cgroup, signal);
            return;
        }
        ContainerHandle.SendSignal(state, signal);
    }
}
