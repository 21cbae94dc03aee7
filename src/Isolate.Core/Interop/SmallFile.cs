using System.Runtime.InteropServices;
using System.Text;

namespace Isolate.Interop;

/// <summary>Reads a small kernel file (cgroup counters, /proc) with open/read/close. The start
/// path reads several of them, and FileStream's locking and probing cost more than the read.</summary>
internal static unsafe class SmallFile
{
    /// <summary>The file's text (read in chunks, any size), or null if it cannot be read.</summary>
    public static string? Read(string path) => ReadAndClose(FileDescriptor.Open(path, OpenFlags.O_RDONLY));

    /// <summary>A file a user named (--env-file, a seccomp profile), read whole: its bytes, or an
    /// error that names <paramref name="what"/>, the path and errno's meaning (a directory: EISDIR),
    /// which System.IO's exceptions do not carry.</summary>
    public static byte[] ReadUserFile(string what, string path)
    {
        // the int form of open: the errno of a failed open is read before anything else runs
        int number = Libc.Open(path, OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        if (number < 0)
            throw IsolateException.FromErrno(what, path, Marshal.GetLastPInvokeError());
        using var fd = new FileDescriptor(number);
        var bytes = new List<byte>();
        byte* buffer = stackalloc byte[8192];
        for (;;)
        {
            nint n = Libc.Read(fd, buffer, 8192);
            if (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
                continue;
            if (n < 0)
                throw IsolateException.FromErrno(what, path, Marshal.GetLastPInvokeError());
            if (n == 0)
                return [.. bytes];
            bytes.AddRange(new ReadOnlySpan<byte>(buffer, (int)n));
        }
    }

    /// <summary>Reads an open file to its end and closes it: the text, or null if the handle is
    /// invalid, a read fails, or there are more than <paramref name="limit"/> bytes.</summary>
    public static string? ReadAndClose(FileDescriptor fd, int limit = int.MaxValue) =>
        ReadBytesAndClose(fd, limit) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    /// <summary>The file's bytes, or null if it cannot be read.</summary>
    public static byte[]? ReadAllBytes(string path) => ReadBytesAndClose(FileDescriptor.Open(path, OpenFlags.O_RDONLY));

    internal static byte[]? ReadBytesAndClose(FileDescriptor fd, int limit = int.MaxValue)
    {
        using (fd)
        {
            if (fd.IsInvalid)
                return null;
            var bytes = new List<byte>();
            byte* buffer = stackalloc byte[8192];
            for (;;)
            {
                nint n = Libc.Read(fd, buffer, 8192);
                if (n < 0)
                    return null;
                if (n == 0)
                    return bytes.ToArray();
                bytes.AddRange(new ReadOnlySpan<byte>(buffer, (int)n));
                if (bytes.Count > limit)
                    return null;
            }
        }
    }
}
