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
        if (StateStore.Status(held, state) == ContainerStatus.Stopped)
            throw new IsolateException($"cannot kill container {id}: it is stopped");
        int sent = signal ?? (state.Kind == ContainerKind.Detached ? Signal.SIGKILL : Signal.SIGTERM);
        Kill(state, sent, all);
        return state.Kind;
    }

    private static void Kill(ContainerState state, int signal, bool all)
    {
        if (all && ContainerHandle.OpenCgroup(state) is { } cgroup)
        {
            foreach (int pid in cgroup.Processes())
                Libc.Kill(pid, signal);
            return;
        }
        ContainerHandle.SendSignal(state, signal);
    }
}
