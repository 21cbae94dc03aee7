using System.Runtime.InteropServices;
using System.Text;

namespace Isolate.Tests.Support;

/// <summary>A real terminal for a test to type into: a pty pair from the host's
/// /dev/ptmx. The test holds the master (the "keyboard and screen"); the program under
/// test gets the slave as its stdio and controlling terminal (through `setsid -c`).
/// Everything the program writes is collected by a reader thread.</summary>
public sealed unsafe partial class PseudoTerminal : IDisposable
{
    private const int O_RDWR = 2, O_NOCTTY = 0x100, O_CLOEXEC = 0x80000;
    private const ulong TCGETS = 0x5401, TIOCSWINSZ = 0x5414;
    private const int KernelTermiosSize = 36; // struct termios as TCGETS fills it on x86_64
    public const uint ICANON = 0x2, ECHO = 0x8, ISIG = 0x1;

    private readonly int _master;
    private readonly int _slave; // held open: the test reads the slave's settings through it
    private readonly StringBuilder _output = new();
    private readonly Thread _reader;
    private volatile bool _closing;

    public string SlavePath { get; }

    public PseudoTerminal(ushort rows, ushort cols)
    {
        _master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (_master < 0 || grantpt(_master) != 0 || unlockpt(_master) != 0)
            throw new IOException($"cannot open a pty: errno {Marshal.GetLastPInvokeError()}");
        byte* name = stackalloc byte[128];
        if (ptsname_r(_master, name, 128) != 0)
            throw new IOException("ptsname_r failed");
        SlavePath = Marshal.PtrToStringUTF8((nint)name)!;
        _slave = open(SlavePath, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (_slave < 0)
            throw new IOException($"cannot open {SlavePath}: errno {Marshal.GetLastPInvokeError()}");
        Resize(rows, cols);
        _reader = new Thread(ReadAll) { IsBackground = true, Name = "pty reader" };
        _reader.Start();
    }

    /// <summary>As a user's terminal emulator does when its window changes: the kernel
    /// sends SIGWINCH to the terminal's foreground process group.</summary>
    public void Resize(ushort rows, ushort cols)
    {
        ushort* size = stackalloc ushort[4] { rows, cols, 0, 0 };
        if (ioctl(_master, TIOCSWINSZ, size) != 0)
            throw new IOException("TIOCSWINSZ failed");
    }

    /// <summary>The slave's settings (struct termios), as a program on it would read them.</summary>
    public byte[] Settings()
    {
        var buffer = new byte[64];
        fixed (byte* p = buffer)
        {
            if (ioctl(_slave, TCGETS, p) != 0)
                throw new IOException("TCGETS failed");
        }
        return buffer[..KernelTermiosSize];
    }

    public static uint LocalFlags(byte[] settings) => BitConverter.ToUInt32(settings, 12);

    public void Type(string keys)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(keys);
        fixed (byte* p = bytes)
        {
            if (write(_master, p, bytes.Length) != bytes.Length)
                throw new IOException("write to the pty master failed");
        }
    }

    /// <summary>Types up to <paramref name="count"/> bytes without ever blocking (the program
    /// may never read them); returns how many the terminal took.</summary>
    public int TypeWithoutWaiting(int count, byte key = (byte)'a')
    {
        const int F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0x800;
        int flags = fcntl(_master, F_GETFL, 0);
        fcntl(_master, F_SETFL, flags | O_NONBLOCK);
        try
        {
            var chunk = new byte[4096];
            Array.Fill(chunk, key);
            int typed = 0;
            fixed (byte* p = chunk)
            {
                while (typed < count)
                {
                    nint n = write(_master, p, Math.Min(chunk.Length, count - typed));
                    if (n <= 0)
                        break;
                    typed += (int)n;
                }
            }
            return typed;
        }
        finally
        {
            fcntl(_master, F_SETFL, flags);
        }
    }

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    /// <summary>Waits until <paramref name="text"/> appears after position <paramref name="from"/>
    /// of the output; returns the position just after it.</summary>
    public int WaitFor(string text, int from = 0, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            string output = Output;
            int at = from <= output.Length ? output.IndexOf(text, from, StringComparison.Ordinal) : -1;
            if (at >= 0)
                return at + text.Length;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the terminal never showed '{text}'; it showed:\n{output}");
            Thread.Sleep(20);
        }
    }

    private void ReadAll()
    {
        var buffer = new byte[4096];
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[4096];
        while (!_closing)
        {
            var pfd = new PollFd { Fd = _master, Events = 1 };
            if (poll(&pfd, 1, 100) <= 0)
                continue;
            nint n;
            fixed (byte* p = buffer)
                n = read(_master, p, buffer.Length);
            if (n <= 0)
            {
                Thread.Sleep(20); // EIO while no slave is open; the test still holds one
                continue;
            }
            int count = decoder.GetChars(buffer, 0, (int)n, chars, 0);
            lock (_output)
                _output.Append(chars, 0, count);
        }
    }

    public void Dispose()
    {
        _closing = true;
        _reader.Join();
        close(_slave);
        close(_master);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int posix_openpt(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int grantpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int unlockpt(int fd);

    [LibraryImport("libc")]
    private static partial int ptsname_r(int fd, byte* buffer, nuint length);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, void* arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int arg);
}
