using System.Runtime.InteropServices;
using Isolate.Interop;

namespace Isolate.Cgroups;

/// <summary>flock on a cgroup directory: held by the Isolate that owns the group.</summary>
internal static class CgroupLock
{
    private const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;
    private const int LOCK_EX = 2, LOCK_NB = 4, EWOULDBLOCK = 11;

    /// <summary>The locked fd, or -1 where the directory cannot be locked (a fake filesystem in tests).</summary>
    public static int Take(string dir)
    {
        int fd = Libc.Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd >= 0 && Libc.Flock(fd, LOCK_EX | LOCK_NB) < 0)
        {
            Libc.Close(fd);
            return -1;
        }
        return fd;
    }

    public static void Release(ref int fd)
    {
        if (fd >= 0)
            Libc.Close(fd);
        fd = -1;
    }

    /// <summary>True when another process holds the group's lock: its Isolate is alive.</summary>
    public static bool IsHeld(string dir)
    {
        int fd = Libc.Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
            return false;
        try
        {
            return Libc.Flock(fd, LOCK_EX | LOCK_NB) < 0 && Marshal.GetLastPInvokeError() == EWOULDBLOCK;
        }
        finally
        {
            Libc.Close(fd); // (a lock we took goes with the fd)
        }
    }
}
