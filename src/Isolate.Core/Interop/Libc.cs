using System.Runtime.InteropServices;

namespace Isolate.Interop;

/// <summary>The libc calls the parent makes. Bound at link time under Native AOT
/// (DirectPInvoke in Isolate.Cli.csproj), by dlopen of libc.so.6 under JIT.</summary>
internal static unsafe partial class Libc
{
    /// <summary>The C library's name for every LibraryImport of it (Interop/*.cs).</summary>
    internal const string Library = "libc";



    [LibraryImport(Library, EntryPoint = "getppid")]
    internal static partial int GetParentPid();

    [LibraryImport(Library, EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);

    [LibraryImport(Library, EntryPoint = "waitpid", SetLastError = true)]
    internal static partial int WaitPid(int pid, int* status, int options);

    [LibraryImport(Library, EntryPoint = "waitid", SetLastError = true)]
    internal static partial int WaitId(int idType, int id, byte* siginfo, int options);

    [LibraryImport(Library, EntryPoint = "getrandom", SetLastError = true)]
    internal static partial nint GetRandom(byte* buffer, nuint length, uint flags);

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int Open(string path, int flags, uint mode);

    /// <summary>open(2) as an owned handle (FileDescriptor.Open adds O_CLOEXEC).</summary>
    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial FileDescriptor OpenHandle(string path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int Mkdir(string path, uint mode);

    [LibraryImport(Library, EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int Rmdir(string path);

    [LibraryImport(Library, EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int Rename(string from, string to);

    [LibraryImport(Library, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int Unlink(string path);

    [LibraryImport(Library, EntryPoint = "symlink", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int Symlink(string target, string path);

    [LibraryImport(Library, EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(int fd, int operation);

    [LibraryImport(Library, EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(FileDescriptor fd, int operation);

    [LibraryImport(Library, EntryPoint = "close")]
    internal static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "geteuid")]
    internal static partial uint GetEffectiveUserId();

    [LibraryImport(Library, EntryPoint = "getegid")]
    internal static partial uint GetEffectiveGroupId();

    [LibraryImport(Library, EntryPoint = "isatty")]
    internal static partial int IsATty(int fd);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(FileDescriptor fd, byte* buffer, nint count);

    [LibraryImport(Library, EntryPoint = "pread64", SetLastError = true)]
    internal static partial nint PRead(FileDescriptor fd, byte* buffer, nint count, long offset);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(FileDescriptor fd, byte* buffer, nint count);

    [LibraryImport(Library, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int OpenAt(FileDescriptor directory, string path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int RenameAt(FileDescriptor fromDirectory, string from, FileDescriptor toDirectory, string to);

    [LibraryImport(Library, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial int UnlinkAt(FileDescriptor directory, string path, int flags);

    [LibraryImport(Library, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    internal static partial byte* RealPath(string path, byte* resolved);
}
