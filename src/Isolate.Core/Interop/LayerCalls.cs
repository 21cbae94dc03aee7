using System.Runtime.InteropServices;

namespace Isolate.Interop;

/// <summary>The *at calls an image layer is unpacked with (Images/LayerUnpacker): every name is
/// one component under a directory fd that was reached without following a link.</summary>
internal static unsafe partial class LayerCalls
{
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;

    [LibraryImport(Libc.Library, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int OpenAt(int directory, string name, int flags, uint mode);

    [LibraryImport(Libc.Library, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int MkdirAt(int directory, string name, uint mode);

    [LibraryImport(Libc.Library, EntryPoint = "mknodat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int MknodAt(int directory, string name, uint mode, ulong device);

    [LibraryImport(Libc.Library, EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int SymlinkAt(string target, int directory, string name);

    [LibraryImport(Libc.Library, EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int LinkAt(int fromDirectory, string from, int toDirectory, string to, int flags);

    [LibraryImport(Libc.Library, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int UnlinkAt(int directory, string name, int flags);

    [LibraryImport(Libc.Library, EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int FchownAt(int directory, string name, uint uid, uint gid, int flags);

    [LibraryImport(Libc.Library, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(int fd, uint mode);

    [LibraryImport(Libc.Library, EntryPoint = "fchown", SetLastError = true)]
    public static partial int Fchown(int fd, uint uid, uint gid);

    /// <summary>utimensat(dir, name, {atime, mtime}, flags); name "" with AT_EMPTY_PATH is not
    /// accepted by utimensat, so a directory's own times go through futimens.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int UtimensAt(int directory, string name, long* times, int flags);

    [LibraryImport(Libc.Library, EntryPoint = "futimens", SetLastError = true)]
    public static partial int Futimens(int fd, long* times);

    [LibraryImport(Libc.Library, EntryPoint = "fsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int Fsetxattr(int fd, string name, byte* value, nuint size, int flags);

    [LibraryImport(Libc.Library, EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int Lsetxattr(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Libc.Library, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc.Library, EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport(Libc.Library, EntryPoint = "fsync")]
    public static partial int Fsync(int fd);

    [LibraryImport(Libc.Library, EntryPoint = "fchmodat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int FchmodAt(int directory, string name, uint mode, int flags);

    /// <summary>setenv(3): the process environment OpenSSL reads (.NET's own setter changes
    /// only the managed copy). Used by the registry client before its first TLS connection.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "setenv", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int SetEnv(string name, string value, int overwrite);
}
