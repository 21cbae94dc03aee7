using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Launch;
using Isolate.Runtime;
using Isolate.Spec;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>A foreground `isolate run --name NAME`: a service started by an init script or a
/// systemd unit. Isolate stays in the foreground (the caller's process, stdio and exit status,
/// as without --name) and is the container's monitor itself: the state names it, so `ps`,
/// `exec`, `stop`, `kill` and `update` reach the container by its name while it runs. The
/// state goes when the container ends, so the unit can start it again under the same name.</summary>
public static class NamedRun
{
    public static ContainerResult Run(StateStore store, ContainerSpec spec, StatsFormat stats, Action<string>? debug, Action<string> warn)
    {
        string id = spec.Id;
        string cgroupName = CgroupJanitor.NameFor(id, Environment.ProcessId);
        RemoveStale(store, id);
        using (var held = store.CreateNew(id))
        {
            // this process is the monitor from the first moment: killed before the command
            // started, it still leaves a state that reads as abandoned (RemoveStale)
            store.Write(held, DetachedRun.Monitoring(DetachedRun.NewState(spec, stats), spec, cgroupName));
            StateStore.WriteSpec(held, spec);
        }
        try
        {
            ulong startTime = 0;
            return Launcher.Run(spec with { CgroupName = cgroupName }, debug, warn, readUsage: stats != StatsFormat.None,
                spawned: pid => startTime = ProcessInfo.StartTime(pid),
                started: pid => DetachedRun.Update(store, id, state => DetachedRun.Started(state, spec, cgroupName, pid, startTime)));
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
                // removed meanwhile (rm -f)
            }
        }
    }

    /// <summary>The state of an earlier foreground run of this name whose Isolate was killed
    /// (SIGKILL, the machine's power): nothing runs it any more, and a unit restarting the
    /// service must not find the name taken.</summary>
    private static void RemoveStale(StateStore store, string id)
    {
        if (!Directory.Exists(store.DirectoryOf(id)))
            return;
        try
        {
            using var held = store.Open(id);
            var state = store.Read(held);
            bool foreground = state.Kind == ContainerKind.Detached && state.LogPath is null;
            bool monitorGone = state.MonitorPid > 0 && ProcessInfo.StartTime(state.MonitorPid) != state.MonitorStartTime;
            if (foreground && monitorGone && (state.Pid <= 0 || ProcessInfo.StartTime(state.Pid) != state.PidStartTime))
                StateStore.Remove(held);
        }
        catch (IsolateException)
        {
            // not ours to judge: CreateNew says the name is taken
        }
    }
}
