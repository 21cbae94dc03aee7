using System.Text;

namespace Isolate.Interop;

/// <summary>Reads a small kernel file (cgroup counters, /proc) with open/read/close. The start
/// path reads several of them, and FileStream's locking and probing cost more than the read.</summary>
internal static unsafe class SmallFile
{
    private const int O_RDONLY = 0, O_CLOEXEC = 0x80000;

    /// <summary>The file's text (read in chunks, any size), or null if it cannot be read.</summary>
    public static string? Read(string path) => ReadAndClose(Libc.Open(path, O_RDONLY | O_CLOEXEC, 0));

    /// <summary>Reads an open fd to its end and closes it: the text, or null if fd is negative,
    /// a read fails, or there are more than <paramref name="limit"/> bytes.</summary>
    public static string? ReadAndClose(int fd, int limit = int.MaxValue)
    {
        if (fd < 0)
            return null;
        try
        {
            var bytes = new List<byte>();
            byte* buffer = stackalloc byte[8192];
            for (;;)
            {
                nint n = Libc.Read(fd, buffer, 8192);
                if (n < 0)
                    return null;
                if (n == 0)
                    return Encoding.UTF8.GetString(bytes.ToArray());
                bytes.AddRange(new ReadOnlySpan<byte>(buffer, (int)n));
                if (bytes.Count > limit)
                    return null;
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }
}
