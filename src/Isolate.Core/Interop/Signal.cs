namespace Isolate.Interop;

/// <summary>Signal numbers (the ones Isolate sends or forwards by name) and waitpid options.</summary>
internal static class Signal
{
    public const int SIGHUP = 1;
    public const int SIGINT = 2;
    public const int SIGQUIT = 3;
    public const int SIGKILL = 9;
    public const int SIGUSR1 = 10;
    public const int SIGUSR2 = 12;
    public const int SIGTERM = 15;

    /// <summary>waitpid: return at once (0) when the child has not changed state.</summary>
    public const int WNOHANG = 1;
}
