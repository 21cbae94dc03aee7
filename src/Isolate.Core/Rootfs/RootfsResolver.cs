using System.Runtime.InteropServices;
using Isolate.Interop;

namespace Isolate.Rootfs;

/// <summary>Host paths the user names (--rootfs, volume sources, --keep-changes), made
/// canonical - absolute, symlinks resolved - before anything is created.</summary>
public static unsafe class RootfsResolver
{
    /// <summary>Validates a --rootfs argument and returns its canonical path (runc, too,
    /// demands an absolute directory).</summary>
    public static string Resolve(string rootfs)
    {
        if (rootfs.Length == 0)
            throw new IsolateException("rootfs: the path is empty; give a directory with --rootfs DIR");
        string canonical = Canonical(rootfs, "rootfs");
        if (FileStat.Follow(canonical) is not { IsDirectory: true })
            throw new IsolateException($"rootfs {rootfs}: {IsolateException.Describe(20 /* ENOTDIR */)}");
        if (canonical == "/")
            throw new IsolateException($"rootfs {rootfs}: the host's own / cannot be a container root; omit --rootfs to run on the host's filesystem read-only");
        return canonical;
    }

    /// <summary>A bind source (-v SRC, a config.json bind's source) made canonical by the walk
    /// its bind is later made from (native/resolve.c): a symlink on the way is followed only
    /// where root owns it. One another uid owns may have been planted by a user or, through
    /// its volume, by a container (the Kubernetes subPath escape): <paramref name="refusal"/>
    /// (the link's location, its owner) makes the message. Other failures read as
    /// <see cref="Canonical"/>'s.</summary>
    public static string HostSource(string path, string subject, Func<string, uint, string> refusal)
    {
        const int LinkLength = 4097;
        byte* link = stackalloc byte[LinkLength];
        uint owner = 0;
        int fd = Shim.OpenHostPath(path, link, LinkLength, &owner);
        if (fd == -Errno.ELOOP && link[0] != 0)
            throw new IsolateException(refusal(ByteStrings.FromNative(link), owner));
        if (fd < 0)
            throw IsolateException.FromErrno(subject, path, -fd);
        try
        {
            // the walked fd's path, in its own bytes (a name need not be UTF-8); the bind
            // walks it again following no link at all
            return Canonical($"/proc/self/fd/{fd}", subject);
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>realpath(3); a failure is "{subject} {path}: {strerror}".</summary>
    public static string Canonical(string path, string subject)
    {
        byte* buffer = stackalloc byte[4097];
        if (Libc.RealPath(path, buffer) == null)
            throw IsolateException.FromErrno(subject, path, Marshal.GetLastPInvokeError());
        return ByteStrings.FromNative(buffer);
    }
}
