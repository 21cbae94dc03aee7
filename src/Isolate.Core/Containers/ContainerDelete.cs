using Isolate.Interop;
using Isolate.Cgroups;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>OCI delete: a stopped or created container's cgroup and state (with --force, a
/// running one is killed first), then its poststop hooks.</summary>
public static class ContainerDelete
{
    public static void Run(StateStore store, string id, bool force, Action<string> warn)
    {
        StateStore.ValidateId(id);
        if (force && !Directory.Exists(store.DirectoryOf(id)))
            return; // as runc: delete --force of a container that is gone already is done
        using var held = store.Open(id);
        ContainerState? state;
        try
        {
            state = store.TryRead(held);
        }
        catch (IsolateException) when (force)
        {
            state = null; // damaged: the message that said so sent the user here, so nothing is left to read
        }
        if (state is null)
        {
            StateStore.Remove(held); // its create died before it finished: nothing runs
            return;
        }
        var status = StateStore.Status(held, state);
        if (status != ContainerStatus.Stopped)
        {
            // as runc: a created container's process only waits for `start`: deleting it
            // needs no --force (it is killed)
            if (!force && status != ContainerStatus.Created)
                throw new IsolateException(state.Kind == ContainerKind.Detached
                    ? $"cannot delete container {id}: it is {status.Oci()}; stop it first (isolate stop {id}) or use isolate rm -f {id}"
                    : $"cannot delete container {id}: it is {status.Oci()}; stop it first (isolate kill {id} KILL) or use delete --force");
            if (ContainerHandle.OpenCgroup(state) is { } running)
            {
                if (status == ContainerStatus.Paused)
                    running.Freeze(false); // Signal.SIGKILL is delivered once thawed
                running.KillAll();
            }
            else
                ContainerHandle.SendSignal(state, Signal.SIGKILL);
            ContainerHandle.WaitUntilGone(state);
        }
        if (ContainerHandle.OpenCgroup(state) is { } cgroup)
        {
            cgroup.KillAll();
            cgroup.Remove();
            if (state.CgroupParent == ContainerCgroup.DefaultParent)
                new CgroupPlacement(CgroupLayout.Detect(), state.CgroupParent, "").RemoveEmptyParents();
        }
        HookRunner.OnHost("poststop", state.Poststop, ContainerViews.StateJson(state, ContainerStatus.Stopped), fatal: false, warn);
        StateStore.Remove(held);
    }
}
