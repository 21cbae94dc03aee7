using System.Runtime.InteropServices;
using System.Text;

namespace Isolate.Interop;

/// <summary>A stream socket connected to a unix socket path (systemd's private D-Bus socket):
/// socket, connect, and whole writes and bounded reads on it.</summary>
internal static unsafe partial class UnixSocket
{
    private const int AF_UNIX = 1;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;

    [LibraryImport(Libc.Library, EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Libc.Library, EntryPoint = "connect", SetLastError = true)]
    private static partial int Connect(int fd, byte* address, uint length);

    /// <summary>A connected socket, or an error that names the path.</summary>
    public static FileDescriptor Open(string path, string purpose)
    {
        byte[] name = Encoding.UTF8.GetBytes(path);
        if (name.Length >= 108)
            throw new IsolateException($"{purpose}: socket path {path} is too long");
        var fd = new FileDescriptor(Socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (fd.IsInvalid)
            throw IsolateException.FromErrno($"{purpose}: socket", null, Marshal.GetLastPInvokeError());
        // struct sockaddr_un: sa_family_t sun_family; char sun_path[108]
        byte* address = stackalloc byte[110];
        new Span<byte>(address, 110).Clear();
        address[0] = AF_UNIX;
        name.CopyTo(new Span<byte>(address + 2, 108));
        if (Connect(fd.Number, address, (uint)(2 + name.Length + 1)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw IsolateException.FromErrno($"{purpose}: connect", path, errno);
        }
        return fd;
    }

    public static void WriteAll(FileDescriptor fd, ReadOnlySpan<byte> data, string purpose)
    {
        fixed (byte* start = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = Libc.Write(fd.Number, start + done, data.Length - done);
                if (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
                    continue;
                if (n <= 0)
                    throw IsolateException.FromErrno($"{purpose}: write", null, Marshal.GetLastPInvokeError());
                done += (int)n;
            }
        }
    }

    /// <summary>Some bytes into buffer, waiting at most until deadline; 0 at end of stream.</summary>
    public static int Read(FileDescriptor fd, Span<byte> buffer, DateTime deadline, string purpose)
    {
        while (true)
        {
            int left = (int)Math.Max(0, (deadline - DateTime.UtcNow).TotalMilliseconds);
            var poll = new Poll.PollFd { Fd = fd.Number, Events = Poll.POLLIN };
            int ready = Poll.Wait(&poll, 1, left);
            if (ready < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
                continue;
            if (ready < 0)
                throw IsolateException.FromErrno($"{purpose}: poll", null, Marshal.GetLastPInvokeError());
            if (ready == 0)
                throw new IsolateException($"{purpose}: no answer in time");
            fixed (byte* start = buffer)
            {
                nint n = Libc.Read(fd.Number, start, buffer.Length);
                if (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
                    continue;
                if (n < 0)
                    throw IsolateException.FromErrno($"{purpose}: read", null, Marshal.GetLastPInvokeError());
                return (int)n;
            }
        }
    }
}
