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

    /// <summary>Runs <paramref name="make"/> with fd 1 on /dev/null when it is a terminal.
    /// CommandLineParser's ParserSettings asks Console.WindowWidth unless Console.IsOutputRedirected,
    /// and that one question initialises System.Console: it writes the terminal's keypad-transmit
    /// sequence (ESC[?1h ESC=) and never resets it, and installs its own signal handlers. Console
    /// reads isatty(1) once and keeps the answer, so the parser's own question, asked here, gets
    /// "redirected" and its 80-column default. Only Isolate's thread runs at this point, and
    /// nothing writes to fd 1 until it is back.</summary>
    public static T WithStdoutOffTerminal<T>(Func<T> make)
    {
        if (!IsTerminal(1))
            return make();
        int saved = Pipes.Dup(1);
        int devNull = Libc.Open("/dev/null", OpenFlags.O_WRONLY | OpenFlags.O_CLOEXEC, 0);
        if (saved < 0 || devNull < 0 || Pipes.Dup2(devNull, 1) < 0)
        {
            if (saved >= 0)
                Libc.Close(saved);
            if (devNull >= 0)
                Libc.Close(devNull);
            return make();
        }
        Libc.Close(devNull);
        try
        {
            return make();
        }
        finally
        {
            Pipes.Dup2(saved, 1);
            Libc.Close(saved);
        }
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
