using System.Runtime.InteropServices;
using Isolate.Interop;
using Isolate.Plan;
using Isolate.Rootfs;
using Isolate.Spec;

namespace Isolate.Runtime;

/// <summary>Runs one container in the foreground: spawn through the shim, open
/// the gate, learn whether the command started, forward signals, wait, and
/// return the exit code Isolate should exit with.</summary>
public static unsafe class ContainerRunner
{
    private const int EPERM = 1;

    public static int Run(ContainerSpec spec)
    {
        var plan = SpawnPlan.From(spec, spec.Rootfs is null ? HostScratch.Find() : "/tmp");
        SignalForwarder.Install();
        int pid;
        int syncFd;
        // The child's PDEATHSIG is tied to the thread that clones it: this must be
        // the main thread, which lives as long as Isolate does.
        using (var config = new NativeSpawnConfig(plan))
        {
            ShimSpawnResult result;
            int rc = Shim.Spawn(config.Config, &result);
            if (rc < 0)
                throw SpawnFailure(-rc);
            pid = result.Pid;
            syncFd = result.SyncFd;
        }

        SignalForwarder.Attach(pid);
        try
        {
            StartChild(pid, syncFd, plan);
        }
        finally
        {
            Libc.Close(syncFd);
        }
        int status = WaitForExit(pid);
        return ExitStatus.FromWaitStatus(status, SignalForwarder.StoppedBySignal);
    }

    /// <summary>sync 1 (open the gate) and sync 2 (did execve happen?). A child that
    /// died before reporting (killed by a signal, say) is not an error here: its wait
    /// status tells what happened.</summary>
    private static void StartChild(int pid, int syncFd, SpawnPlan plan)
    {
        ShimMessage failure;
        if (Shim.Release(syncFd) < 0 || Shim.AwaitExec(syncFd, &failure) != 1)
            return;
        WaitQuietly(pid); // it has _exit()ed or is about to: reap before reporting
        throw StepFailure.Describe(failure, plan);
    }

    private static IsolateException SpawnFailure(int errno)
    {
        var error = IsolateException.FromErrno("create the container's namespaces", null, errno);
        return errno == EPERM && Libc.GetEffectiveUserId() != 0
            ? new IsolateException(error.Message + ": isolate run needs root (rootless mode is not supported yet)")
            : error;
    }

    /// <summary>Waits without reaping first (waitid WNOWAIT), so signal forwarding can stop
    /// before the PID is released for reuse; then reaps and returns the wait status.</summary>
    private static int WaitForExit(int pid)
    {
        const int P_PID = 1, WEXITED = 4, WNOWAIT = 0x01000000;
        byte* siginfo = stackalloc byte[128];
        while (Libc.WaitId(P_PID, pid, siginfo, WEXITED | WNOWAIT) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EINTR)
                throw IsolateException.FromErrno("wait for the container", null, errno);
        }
        SignalForwarder.Detach();
        return Reap(pid);
    }

    private static int Reap(int pid)
    {
        int status;
        while (Libc.WaitPid(pid, &status, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EINTR)
                throw IsolateException.FromErrno("wait for the container", null, errno);
        }
        return status;
    }

    private static void WaitQuietly(int pid)
    {
        int status;
        while (Libc.WaitPid(pid, &status, 0) < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR)
        {
        }
    }
}
