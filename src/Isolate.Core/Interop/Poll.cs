using System.Runtime.InteropServices;

namespace Isolate.Interop;

/// <summary>poll(2).</summary>
internal static unsafe partial class Poll
{
    public const short POLLIN = 1;
    public const short POLLOUT = 4;
    public const short POLLERR = 8;
    public const short POLLHUP = 0x10;

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>poll(2): how many fds are ready, 0 on timeout, -1 with errno.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "poll", SetLastError = true)]
    public static partial int Wait(PollFd* fds, nuint count, int timeoutMs);
}
