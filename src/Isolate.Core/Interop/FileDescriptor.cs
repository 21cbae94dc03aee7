using System.Globalization;
using System.Runtime.InteropServices;

namespace Isolate.Interop;

/// <summary>A file descriptor Isolate owns: closed once, by Dispose (or, if it was forgotten,
/// by the finalizer). Invalid when negative, so a failed open(2) comes back as an invalid
/// handle and errno is still in Marshal.GetLastPInvokeError(). Libc's calls take it directly
/// (the marshaller holds a reference for the call, so a concurrent Dispose cannot close the
/// number under it). An fd handed to the native shim stays an int: the shim owns its fds.</summary>
internal sealed class FileDescriptor : SafeHandle
{
    /// <summary>For the marshaller (an fd returned by a LibraryImport).</summary>
    public FileDescriptor() : base(-1, ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of <paramref name="fd"/> (negative: an invalid handle).</summary>
    public FileDescriptor(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    /// <summary>An fd is an int: open(2) returns -1 in a 32-bit register, which a handle
    /// marshalled from it reads as 0xFFFFFFFF, so the sign is the int's, not the pointer's.</summary>
    public override bool IsInvalid => (int)handle < 0;

    /// <summary>open(2), O_CLOEXEC added. Invalid on failure: errno in Marshal.GetLastPInvokeError().</summary>
    public static FileDescriptor Open(string path, int flags, uint mode = 0) =>
        Libc.OpenHandle(path, flags | OpenFlags.O_CLOEXEC, mode);

    /// <summary>The number, for a message or a /proc/self/fd path; the handle stays the owner.</summary>
    public int Number => (int)handle;

    /// <summary>/proc/self/fd/N: the open file itself, for stat.</summary>
    public string ProcPath => "/proc/self/fd/" + Number.ToString(CultureInfo.InvariantCulture);

    /// <summary>If the owner forgets it, it stays open until the process exits rather than being
    /// closed by the finalizer: for an fd whose closing tells another process something (a
    /// cgroup's lock, the reaper's pipe), which must not happen at a GC's moment.</summary>
    public FileDescriptor OpenUntilExitIfForgotten()
    {
        GC.SuppressFinalize(this);
        return this;
    }

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
