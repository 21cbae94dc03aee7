using System.Runtime.InteropServices;
using Isolate.Interop;
using Isolate.Runtime;

namespace Isolate.Launch;

/// <summary>Waiting for the processes Isolate starts.</summary>
public static unsafe class ProcessWait
{
    /// <summary>Waits without reaping first (so signal forwarding can stop before the PID is
    /// released for reuse), stopping the container if <paramref name="timeout"/> runs out;
    /// then reaps it.</summary>
    public static (int Status, bool TimedOut) ForExit(int pid, int pidfd, TimeSpan? timeout)
    {
        int timedOut;
        long timeoutMs = timeout is { } t ? (long)Math.Ceiling(t.TotalMilliseconds) : -1;
        int rc = Shim.WaitExit(pid, pidfd, timeoutMs, &timedOut);
        if (rc < 0)
            throw IsolateException.FromErrno("wait for the container", null, -rc);
        SignalForwarder.Detach();
        int status;
        while (Libc.WaitPid(pid, &status, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
                throw IsolateException.FromErrno("wait for the container", null, errno);
        }
        return (status, timedOut != 0);
    }

    /// <summary>Reaps a child whose status no one needs.</summary>
    public static void Quietly(int pid)
    {
        int status;
        while (Libc.WaitPid(pid, &status, 0) < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
        {
        }
    }

    /// <summary>null when <paramref name="pid"/> exited 0 within <paramref name="timeoutSeconds"/>
    /// (none: no limit); otherwise what went wrong (it is killed when the time runs out).</summary>
    public static string? ForSuccess(int pid, int? timeoutSeconds)
    {
        var deadline = timeoutSeconds is > 0 ? DateTime.UtcNow + TimeSpan.FromSeconds(timeoutSeconds.Value) : DateTime.MaxValue;
        int status;
        while (true)
        {
            int rc = Libc.WaitPid(pid, &status, Signal.WNOHANG);
            if (rc == pid)
                break;
            if (rc < 0 && Marshal.GetLastPInvokeError() != Errno.EINTR)
                return "lost it: " + IsolateException.Describe(Marshal.GetLastPInvokeError());
            if (DateTime.UtcNow > deadline)
            {
                Libc.Kill(pid, Signal.SIGKILL);
                Libc.WaitPid(pid, &status, 0);
                return $"timed out after {timeoutSeconds} s";
            }
            Thread.Sleep(2);
        }
        int code = ExitStatus.FromWaitStatus(status, 0);
        return code == 0 ? null : $"exited with {code}";
    }
}
