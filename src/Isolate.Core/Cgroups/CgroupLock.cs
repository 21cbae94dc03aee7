using System.Runtime.InteropServices;
using Isolate.Interop;
using static Isolate.Interop.LockFlags;
using static Isolate.Interop.OpenFlags;

namespace Isolate.Cgroups;

/// <summary>flock on a cgroup directory: held by the Isolate that owns the group.</summary>
internal static class CgroupLock
{
    /// <summary>The open, locked directory (the lock goes with it when disposed), or null where
    /// the directory cannot be locked (a fake filesystem in tests).</summary>
    public static FileDescriptor? Take(string dir)
    {
        var fd = FileDescriptor.Open(dir, O_RDONLY | O_DIRECTORY);
        if (fd.IsInvalid || Libc.Flock(fd, LOCK_EX | LOCK_NB) < 0)
        {
            fd.Dispose();
            return null;
        }
        return fd.OpenUntilExitIfForgotten();
    }

    /// <summary>True when another process holds the group's lock: its Isolate is alive.</summary>
    public static bool IsHeld(string dir)
    {
        using var fd = FileDescriptor.Open(dir, O_RDONLY | O_DIRECTORY); // (a lock we took goes with the fd)
        return !fd.IsInvalid && Libc.Flock(fd, LOCK_EX | LOCK_NB) < 0 && Marshal.GetLastPInvokeError() == Errno.EWOULDBLOCK;
    }
}
