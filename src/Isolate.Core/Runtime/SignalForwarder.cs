using Isolate.Interop;

namespace Isolate.Runtime;

/// <summary>Forwards the signals an init script or a terminal sends to Isolate
/// (HUP, INT, QUIT, USR1, USR2, TERM) to the container's PID 1. The handler itself is
/// C (native/forward.c): a sigaction handler needs no runtime thread and runs only
/// async-signal-safe calls. Signals the caller left ignored (nohup) stay ignored.
///
/// When PID 1 neither catches, ignores nor blocks a forwarded signal, the kernel would
/// drop it (a PID namespace's init is protected from signals it has no handler for), so
/// the container could not be stopped with `kill`. The handler then applies the default
/// action on the kernel's behalf: SIGKILL, and Isolate reports 128+N for the signal
/// that was sent. Before the command is exec'd, PID 1 is the shim, which catches the
/// same signals and exits 128+N itself.
///
/// SIGTERM is a stop: the container gets the stop signal (--stop-signal, SIGTERM by
/// default) and, still running after --stop-timeout, SIGKILL.</summary>
public static unsafe class SignalForwarder
{
    public const int SIGHUP = Signal.SIGHUP, SIGINT = Signal.SIGINT, SIGQUIT = Signal.SIGQUIT, SIGUSR1 = Signal.SIGUSR1, SIGUSR2 = Signal.SIGUSR2, SIGTERM = Signal.SIGTERM;

    /// <summary>Isolate's parent as first seen: set by Main before anything slow happens, so
    /// that a parent dying before the parent-death signal is armed is noticed.</summary>
    private static int StartingParent { get; set; }

    public static void RecordParent() => StartingParent = Libc.GetParentPid();

    public static readonly int[] ForwardedSignals = [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM];

    /// <summary>Installs the handlers; signals that arrive before <see cref="Attach"/> are held.</summary>
    public static void Install(int stopSignal = SIGTERM, TimeSpan? stopTimeout = null)
    {
        Shim.ForwardStopPolicy(stopSignal, (long)(stopTimeout ?? TimeSpan.FromSeconds(10)).TotalMilliseconds);
        fixed (int* signals = ForwardedSignals)
        {
            int rc = Shim.ForwardSignals(signals, (uint)ForwardedSignals.Length);
            if (rc < 0)
                throw IsolateException.FromErrno("install signal handlers", null, -rc);
        }
    }

    /// <summary>When the process that started Isolate dies, Isolate gets SIGTERM: a stop.
    /// Installed after the handlers, so that a parent already gone stops the container
    /// the same way.</summary>
    public static void DieWithParent()
    {
        int rc = Shim.DieWithParent(StartingParent);
        if (rc < 0)
            throw IsolateException.FromErrno("set the parent-death signal", null, -rc);
    }

    /// <summary>Start forwarding to the child (through its pidfd when there is one); a held
    /// signal is delivered now.</summary>
    public static void Attach(int pid, int pidfd) => Shim.ForwardTo(pid, pidfd);

    /// <summary>execve happened (or the child died): a signal sent during the start, which
    /// execve may have swallowed, is delivered again under the rules for the command.</summary>
    public static void ExecDone() => Shim.ForwardExecDone();

    /// <summary>Stop forwarding: the process has exited and its PID may be reused once reaped.</summary>
    public static void Detach() => Shim.ForwardStop();

    /// <summary>The signal Isolate stopped the container for with SIGKILL, or 0.</summary>
    public static int StoppedBySignal => Shim.StoppedBySignal();
}
