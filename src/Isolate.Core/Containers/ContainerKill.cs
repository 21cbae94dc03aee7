using Isolate.Interop;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>OCI kill: a signal to the container's PID 1, or with --all to every process in its cgroup.</summary>
public static class ContainerKill
{
    public static void Run(StateStore store, string id, int signal, bool all)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        if (StateStore.Status(held, state) == ContainerStatus.Stopped)
            throw new IsolateException($"cannot kill container {id}: it is stopped");
        if (all && ContainerHandle.OpenCgroup(state) is { } cgroup)
        {
            foreach (int pid in cgroup.Processes())
                Libc.Kill(pid, signal);
            return;
        }
        ContainerHandle.SendSignal(state, signal);
    }
}
