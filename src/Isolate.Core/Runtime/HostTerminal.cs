using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;

namespace Isolate.Runtime;

/// <summary>Isolate's own stdio, by file descriptor. System.Console is avoided on purpose:
/// on a terminal it installs signal handlers and changes terminal settings, and it costs
/// start-up time. Plain write(2) also appends where the caller's fd points, which a
/// FileStream over an inherited fd does not promise.</summary>
public static unsafe class HostTerminal
{
    public static bool IsTerminal(int fd) => Libc.IsATty(fd) == 1;

    /// <summary>The caller's window size (stdout's terminal, else stdin's, else stderr's), or 0 x 0.</summary>
    public static (ushort Rows, ushort Cols) Size()
    {
        ushort rows, cols;
        foreach (int fd in new[] { 1, 0, 2 })
        {
            if (Shim.TtySize(fd, &rows, &cols) == 0)
                return (rows, cols);
        }
        return default;
    }

    /// <summary>Writes all of <paramref name="text"/> as UTF-8, bytes that are not UTF-8 (from a
    /// command line, a path) shown as \xNN; errors (a closed pipe) are ignored.</summary>
    public static void Write(int fd, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(ByteStrings.Escape(text));
        fixed (byte* start = bytes)
        {
            nint done = 0;
            while (done < bytes.Length)
            {
                nint n = Libc.Write(fd, start + done, bytes.Length - done);
                if (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
                    continue;
                if (n <= 0)
                    return;
                done += n;
            }
        }
    }
}
