using System.Runtime.InteropServices;

namespace Isolate;

/// <summary>A failure reported to the user as one line, "isolate: {Message}",
/// with the exit code that goes with it.</summary>
public sealed class IsolateException(string message, int exitCode = ExitCodes.Failure) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>The errno behind it, when it came from a system call; otherwise 0.</summary>
    public int Errno { get; private init; }

    /// <summary>The one place errno becomes an error: "{operation} {path}: {strerror}".</summary>
    public static IsolateException FromErrno(string operation, string? path, int errno, int exitCode = ExitCodes.Failure)
    {
        string subject = string.IsNullOrEmpty(path) ? operation : $"{operation} {path}";
        return new IsolateException($"{subject}: {Describe(errno)}", exitCode) { Errno = errno };
    }

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>The same error with "; {hint}" after it (null: unchanged).</summary>
    public IsolateException WithHint(string? hint) =>
        hint is null ? this : new IsolateException($"{Message}; {hint}", ExitCode) { Errno = Errno };
}
