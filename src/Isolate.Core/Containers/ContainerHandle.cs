using System.Globalization;
using System.Runtime.InteropServices;
using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Plan;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>What every verb on a recorded container needs: its cgroup, its PID 1's namespaces,
/// a signal that can never hit a reused PID.</summary>
public static class ContainerHandle
{
    /// <summary>The namespaces a process joins to be in a container, in the order it must join
    /// them (user first, for the rights to join the rest; mnt last, as it changes the root).</summary>
    private static readonly (string Name, CloneFlags Type)[] JoinOrder =
    [
        ("user", CloneFlags.NewUser), ("ipc", CloneFlags.NewIpc), ("uts", CloneFlags.NewUts), ("net", CloneFlags.NewNet),
        ("cgroup", CloneFlags.NewCgroup), ("pid", CloneFlags.NewPid), ("mnt", CloneFlags.NewNs),
    ];

    /// <summary>Those of <paramref name="pid"/>'s namespaces that are not Isolate's own, in join order.</summary>
    /// <summary>--network container:NAME: the network namespace of NAME's PID 1, which must be running.</summary>
    public static string NetworkOf(StateStore store, string name)
    {
        using var held = store.Open(name);
        var state = store.Read(held);
        var status = StateStore.Status(held, state);
        if (status != ContainerStatus.Running)
            throw new IsolateException($"--network container:{name}: {name} is {status.Oci()}, not running");
        return $"/proc/{state.Pid.ToString(CultureInfo.InvariantCulture)}/ns/net";
    }

    public static List<(CloneFlags Type, string Path)> NamespacesOf(int pid)
    {
        string dir = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/ns/";
        return JoinOrder
            .Where(ns => ProcessInfo.Inode(dir + ns.Name) is { } theirs && theirs != ProcessInfo.Inode("/proc/self/ns/" + ns.Name))
            .Select(ns => (ns.Type, dir + ns.Name)).ToList();
    }

    public static ContainerCgroup? OpenCgroup(ContainerState state)
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

    /// <summary>Through a pidfd opened and then checked against the recorded start time: a
    /// PID reused since can never be hit.</summary>
    public static void SendSignal(ContainerState state, int signal)
    {
        int pidfd = (int)Pidfd.Open(state.Pid);
        if (pidfd < 0)
        {
            if (ProcessInfo.StartTime(state.Pid) == state.PidStartTime && Libc.Kill(state.Pid, signal) == 0)
                return; // before Linux 5.3
            throw ContainerKill.NotRunning(state.Id);
        }
        try
        {
            if (ProcessInfo.StartTime(state.Pid) != state.PidStartTime)
                throw ContainerKill.NotRunning(state.Id);
            if (Pidfd.SendSignal(pidfd, signal) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw errno == Errno.ESRCH ? ContainerKill.NotRunning(state.Id) : IsolateException.FromErrno($"kill container {state.Id}", null, errno);
            }
        }
        finally
        {
            Libc.Close(pidfd);
        }
    }

    public static void WaitUntilGone(ContainerState state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (ProcessInfo.StartTime(state.Pid) == state.PidStartTime && DateTime.UtcNow < deadline)
            Thread.Sleep(5);
    }

    /// <summary>Opens a FIFO for writing without waiting; ENXIO: no reader (its holder is gone).</summary>
    public static int OpenFifoWriter(string fifo, out bool noReader)
    {
        int fd = Libc.Open(fifo, OpenFlags.O_WRONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0);
        noReader = fd < 0 && Marshal.GetLastPInvokeError() == Errno.ENXIO;
        return fd;
    }
}
