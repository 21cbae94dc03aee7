using System.Runtime.InteropServices;

namespace Isolate.Interop;

/// <summary>pipe2, dup, dup2 and mkfifo: fds that connect processes.</summary>
internal static unsafe partial class Pipes
{
    /// <summary>pipe2(2): fds[0] the read end, fds[1] the write end; 0, or -1 with errno.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    /// <summary>A close-on-exec pipe as two owned handles, or null with errno set.</summary>
    public static (FileDescriptor Read, FileDescriptor Write)? Create()
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, OpenFlags.O_CLOEXEC) < 0)
            return null;
        return (new FileDescriptor(fds[0]), new FileDescriptor(fds[1]));
    }

    public const int F_SETPIPE_SZ = 1031;

    /// <summary>fcntl(2) with an int argument (F_SETPIPE_SZ): its result, or -1 with errno.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Libc.Library, EntryPoint = "dup", SetLastError = true)]
    public static partial int Dup(int fd);

    [LibraryImport(Libc.Library, EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int fd, int to);

    /// <summary>mkfifo(3): 0, or -1 with errno.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int MakeFifo(string path, uint mode);
}
