using Isolate.Interop;

namespace Isolate.Rootfs;

/// <summary>Validates a --rootfs argument and returns its canonical path (symlinks
/// resolved, as runc demands an absolute directory).</summary>
public static unsafe class RootfsResolver
{
    public static string Resolve(string rootfs)
    {
        if (rootfs.Length == 0)
            throw new IsolateException("rootfs: the path is empty; give a directory with --rootfs DIR");

        byte* buffer = stackalloc byte[4097];
        if (Libc.RealPath(rootfs, buffer) == null)
            throw IsolateException.FromErrno("rootfs", rootfs, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        string canonical = new((sbyte*)buffer);

        if (!Directory.Exists(canonical))
            throw new IsolateException($"rootfs {rootfs}: {IsolateException.Describe(20 /* ENOTDIR */)}");
        if (canonical == "/")
            throw new IsolateException($"rootfs {rootfs}: the host's own / cannot be a container root; omit --rootfs to run on the host's filesystem read-only");
        return canonical;
    }
}
