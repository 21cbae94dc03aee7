using Isolate.Spec;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>The verbs that act on a running container through its cgroup: pause and resume
/// (the freezer), update (new limits), and its processes (OCI ps).</summary>
public static class ContainerCgroupVerbs
{
    /// <summary>pause (freeze) or resume (thaw) every process of a container.</summary>
    public static void Pause(StateStore store, string id, bool pause)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        var status = StateStore.Status(held, state);
        var wanted = pause ? ContainerStatus.Running : ContainerStatus.Paused;
        string verb = pause ? "pause" : "resume";
        if (status != wanted)
            throw new IsolateException($"cannot {verb} container {id}: it is {status.Oci()}, not {wanted.Oci()}");
        var cgroup = ContainerHandle.OpenCgroup(state) ?? throw new IsolateException($"cannot {verb} container {id}: it has no cgroup");
        cgroup.Freeze(pause);
    }

    /// <summary>update: new resource limits on a running container's cgroup.</summary>
    public static void Update(StateStore store, string id, ResourceLimits limits, Action<string> warn)
    {
        if (!limits.Any)
            throw new IsolateException("update: give at least one limit (--memory, --memory-swap, --memory-reservation, --kernel-memory-tcp, --cpus, --cpu-quota, --cpu-period, --cpu-shares, --cpuset-cpus, --cpuset-mems, --pids-limit, --blkio-weight, -r FILE)");
        using var held = store.Open(id);
        var state = store.Read(held);
        if (StateStore.Status(held, state) == ContainerStatus.Stopped)
            throw new IsolateException($"cannot update container {id}: it is stopped");
        var cgroup = ContainerHandle.OpenCgroup(state) ?? throw new IsolateException($"cannot update container {id}: it has no cgroup");
        cgroup.Update(limits, warn);
        // --systemd-cgroup: systemd is told too, or a daemon-reload puts the old limits back
        if (state.Kind == ContainerKind.Oci && StateStore.ReadSpec(held.Directory, id).SystemdSlice != null)
            Cgroups.SystemdScope.SetProperties(state.CgroupName!, limits, cgroup is Cgroups.CgroupV2, warn);
    }

    /// <summary>The host PIDs of a container's processes (its cgroup).</summary>
    public static IReadOnlyList<int> Processes(StateStore store, string id)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        if (StateStore.Status(held, state) == ContainerStatus.Stopped)
            return [];
        return ContainerHandle.OpenCgroup(state)?.Processes() ?? [state.Pid];
    }
}
