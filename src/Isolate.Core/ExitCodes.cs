namespace Isolate;

/// <summary>docker's convention, which runc and crun users also expect.</summary>
public static class ExitCodes
{
    /// <summary>Isolate itself failed: a bad option, a missing rootfs, a mount that failed.</summary>
    public const int Failure = 125;
    /// <summary>The command exists but cannot be executed (permissions, format).</summary>
    public const int CannotExecute = 126;
    /// <summary>The command was not found.</summary>
    public const int NotFound = 127;
    /// <summary>Killed by signal N: 128 + N.</summary>
    public const int SignalBase = 128;
}
