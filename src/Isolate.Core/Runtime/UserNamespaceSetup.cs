using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;
using Isolate.Plan;
using Isolate.Spec;

namespace Isolate.Runtime;

/// <summary>The parent's part of a user namespace, done while the child waits at its gate:
/// the id maps, and an id-mapped copy of the rootfs.</summary>
internal static class UserNamespaceSetup
{

    /// <summary>Writes /proc/PID/uid_map and gid_map; for a rootless namespace "deny" goes to
    /// setgroups first, as the kernel requires of an unprivileged writer.</summary>
    public static void WriteMaps(int pid, UserNamespaceSpec userns)
    {
        if (userns.Rootless)
            Write($"/proc/{pid}/setgroups", "deny", "deny setgroups in the user namespace");
        Write($"/proc/{pid}/uid_map", UserNamespaceSpec.MapText(userns.UidMap), $"write the user namespace's uid map ({string.Join(",", userns.UidMap)})");
        Write($"/proc/{pid}/gid_map", UserNamespaceSpec.MapText(userns.GidMap), $"write the user namespace's gid map ({string.Join(",", userns.GidMap)})");
    }

    /// <summary>The rootfs as a detached tree, id-mapped through the child's user namespace, or
    /// -1 (with a warning) where the kernel or the filesystem cannot: the rootfs is then bound
    /// as it is, and its files keep their host owners.</summary>
    public static int IdmappedRootfs(int pid, string rootfs, Action<string> warn, Action<string>? debug)
    {
        int userns = Libc.Open($"/proc/{pid}/ns/user", OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        if (userns < 0)
        {
            warn($"cannot open the container's user namespace: {IsolateException.Describe(Marshal.GetLastPInvokeError())}; the rootfs is not id-mapped");
            return -1;
        }
        try
        {
            int tree = Shim.IdmappedTree(rootfs, userns);
            if (tree >= 0)
            {
                debug?.Invoke($"rootfs {rootfs} id-mapped into the user namespace (host uid 0 is root inside)");
                return tree;
            }
            warn($"cannot id-map the rootfs {rootfs} ({IsolateException.Describe(-tree)}; it needs Linux 5.12 and a filesystem that supports it): its files keep their host owners, and root inside owns none of them");
            return -1;
        }
        finally
        {
            Libc.Close(userns);
        }
    }

    private static void Write(string path, string text, string operation)
    {
        if (TryWrite(path, text) is { } errno)
            throw IsolateException.FromErrno(operation, null, errno);
    }

    /// <summary>Writes a /proc file in one write(2) (the kernel takes a map only whole).</summary>
    /// <returns>null, or the errno.</returns>
    internal static unsafe int? TryWrite(string path, string text)
    {
        int fd = Libc.Open(path, OpenFlags.O_WRONLY | OpenFlags.O_CLOEXEC, 0);
        if (fd < 0)
            return Marshal.GetLastPInvokeError();
        try
        {
            byte[] bytes = Encoding.ASCII.GetBytes(text);
            fixed (byte* p = bytes)
                return Libc.Write(fd, p, bytes.Length) == bytes.Length ? null : Marshal.GetLastPInvokeError();
        }
        finally
        {
            Libc.Close(fd);
        }
    }
}
