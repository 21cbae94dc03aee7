using System.Text;

namespace Isolate.Interop;

/// <summary>Reads a regular file of the container's, resolved inside its root as the container
/// would resolve it (native/resolve.c): a crafted /etc/passwd -> /host/... stays inside.</summary>
public static unsafe class ContainerFiles
{
    /// <returns>The text, or null when there is no such regular file.</returns>
    public static string? ReadText(string root, string path)
    {
        int fd = Shim.OpenInRoot(root, path);
        if (fd < 0)
            return null;
        try
        {
            var bytes = new List<byte>();
            byte* buffer = stackalloc byte[8192];
            for (;;)
            {
                nint n = Libc.Read(fd, buffer, 8192);
                if (n <= 0)
                    return n < 0 ? null : Encoding.UTF8.GetString(bytes.ToArray());
                bytes.AddRange(new ReadOnlySpan<byte>(buffer, (int)n));
                if (bytes.Count > 16 << 20)
                    return null; // not a passwd file
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }
}
