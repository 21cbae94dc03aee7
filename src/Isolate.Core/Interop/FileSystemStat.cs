using System.Runtime.InteropServices;

namespace Isolate.Interop;

/// <summary>fstatvfs(3): how much room a filesystem has left.</summary>
internal static unsafe partial class FileSystemStat
{
    /// <summary>struct statvfs as glibc lays it out on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct StatVfs
    {
        public ulong BlockSize;
        public ulong FragmentSize;
        public ulong Blocks;
        public ulong BlocksFree;
        public ulong BlocksAvailable;
        public ulong Files;
        public ulong FilesFree;
        public ulong FilesAvailable;
        public ulong FsId;
        public ulong Flags;
        public ulong NameMax;
        public fixed int Spare[6];
    }

    /// <summary>Bytes an unprivileged writer may still use on <paramref name="fd"/>'s
    /// filesystem, or null when that cannot be told.</summary>
    public static ulong? Available(FileDescriptor fd)
    {
        StatVfs stat;
        return Fstatvfs(fd, &stat) < 0 ? null : stat.BlocksAvailable * stat.FragmentSize;
    }

    /// <summary>fstatfs(2)'s f_type (the filesystem's magic number), or null when that cannot be told.</summary>
    public static long? TypeOf(FileDescriptor fd)
    {
        // struct statfs is 120 bytes on 64-bit Linux and starts with f_type
        long* buffer = stackalloc long[32];
        return Fstatfs(fd, buffer) < 0 ? null : buffer[0];
    }

    public const long OverlayfsMagic = 0x794c7630;

    [LibraryImport(Libc.Library, EntryPoint = "fstatfs", SetLastError = true)]
    private static partial int Fstatfs(FileDescriptor fd, long* buffer);

    [LibraryImport(Libc.Library, EntryPoint = "fstatvfs", SetLastError = true)]
    private static partial int Fstatvfs(FileDescriptor fd, StatVfs* buffer);
}
