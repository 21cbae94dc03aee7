namespace Isolate.Runtime;

/// <summary>The exit code Isolate returns for a container's wait status: the
/// command's own code, or 128+N when it was killed by signal N.</summary>
public static class ExitStatus
{
    public const int SIGKILL = Interop.Signal.SIGKILL;

    /// <param name="waitStatus">The raw status from waitpid(2).</param>
    /// <param name="stoppedBySignal">When Isolate stopped the container with SIGKILL on behalf
    /// of a signal its PID 1 would have died of (see <see cref="SignalForwarder"/>), that signal;
    /// otherwise 0.</param>
    public static int FromWaitStatus(int waitStatus, int stoppedBySignal = 0)
    {
        int signal = waitStatus & 0x7f;
        if (signal == 0)
            return (waitStatus >> 8) & 0xff;
        if (signal == SIGKILL && stoppedBySignal != 0)
            signal = stoppedBySignal;
        return ExitCodes.SignalBase + signal;
    }
}
