using System.Runtime.InteropServices;

namespace Isolate.Interop;

/// <summary>pidfds (Linux 5.3): a process that cannot be confused with a later one of the same
/// PID. glibc has wrappers only from 2.36, so these go through syscall(2); the numbers are the
/// same on every architecture (allocated after the tables were unified).</summary>
internal static unsafe partial class Pidfd
{
    private const long SYS_pidfd_send_signal = 424;
    private const long SYS_pidfd_open = 434;

    /// <summary>pidfd_open(2): the fd, or -1 (errno set; ENOSYS before Linux 5.3).</summary>
    public static long Open(int pid) => Syscall(SYS_pidfd_open, pid, 0, 0, 0);

    /// <summary>pidfd_open(2) as an owned handle: invalid on failure, errno set.</summary>
    public static FileDescriptor OpenHandle(int pid) => new((int)Open(pid));

    /// <summary>pidfd_send_signal(2): 0, or -1 with errno (ESRCH once it has ended).</summary>
    public static long SendSignal(int pidfd, int signal) => Syscall(SYS_pidfd_send_signal, pidfd, signal, 0, 0);

    /// <summary>True once the pidfd's process has exited (a poll that does not wait).</summary>
    public static bool HasExited(int pidfd)
    {
        var pfd = new Poll.PollFd { Fd = pidfd, Events = Poll.POLLIN };
        return Poll.Wait(&pfd, 1, 0) > 0 && (pfd.Revents & Poll.POLLIN) != 0;
    }

    [LibraryImport(Libc.Library, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a, long b, long c, long d);
}
