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

    /// <summary>realpath(3); a failure is "{subject} {path}: {strerror}".</summary>
    public static string Canonical(string path, string subject)
    {
        byte* buffer = stackalloc byte[4097];
        if (Libc.RealPath(path, buffer) == null)
            throw IsolateException.FromErrno(subject, path, Marshal.GetLastPInvokeError());
        return ByteStrings.FromNative(buffer);
    }
}
