using System.Runtime.InteropServices;

namespace Isolate.Interop;

/// <summary>statx(2): a file's owner, mode, inode and device. struct statx has one layout on
/// every architecture (unlike struct stat), so it is declared here rather than decoded at
/// offsets. glibc's wrapper falls back to fstatat on kernels before 4.11.</summary>
internal static unsafe partial class FileStat
{
    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_BASIC_STATS = 0x7FF;

    /// <summary>The time fields of struct statx.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Timestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        private readonly int _reserved;
    }

    /// <summary>struct statx (linux/stat.h), 256 bytes with the kernel's spare room.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    public struct Statx
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint Links;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        private readonly ushort _spare0;
        public ulong Inode;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public Timestamp AccessTime;
        public Timestamp BirthTime;
        public Timestamp ChangeTime;
        public Timestamp ModifyTime;
        public uint RdevMajor;
        public uint RdevMinor;
        public uint DevMajor;
        public uint DevMinor;
        public ulong MountId;

        public readonly bool IsDirectory => (Mode & 0xF000) == 0x4000;

        public readonly bool IsRegularFile => (Mode & 0xF000) == 0x8000;

        /// <summary>'c' or 'b' for a character or block device, as the device cgroup names them; null otherwise.</summary>
        public readonly char? DeviceType => (Mode & 0xF000) switch { 0x2000 => 'c', 0x6000 => 'b', _ => null };

        /// <summary>The device as stat's st_dev (glibc's makedev of the major and minor).</summary>
        public readonly ulong Device =>
            ((ulong)(DevMajor & 0x00000FFF) << 8) | ((ulong)(DevMajor & 0xFFFFF000) << 32)
            | (DevMinor & 0xFF) | ((ulong)(DevMinor & 0xFFFFFF00) << 12);
    }

    /// <summary>What a path leads to (symbolic links followed, as stat(2)), or null with errno
    /// in Marshal.GetLastPInvokeError().</summary>
    public static Statx? Follow(string path) => Get(path, 0);

    /// <summary>The path itself (a symbolic link not followed, as lstat(2)), or null.</summary>
    public static Statx? NoFollow(string path) => Get(path, AT_SYMLINK_NOFOLLOW);

    /// <summary>The id of the mount <paramref name="path"/> is on (statx's STATX_MNT_ID, the
    /// first field of /proc/self/mountinfo), or null with errno set.</summary>
    public static ulong? MountIdOf(string path)
    {
        Statx result;
        if (StatxCall(AT_FDCWD, path, 0, STATX_MNT_ID, &result) < 0)
            return null;
        return (result.Mask & STATX_MNT_ID) != 0 ? result.MountId : null;
    }

    private const uint STATX_MNT_ID = 0x1000;

    private static Statx? Get(string path, int flags)
    {
        Statx result;
        return StatxCall(AT_FDCWD, path, flags, STATX_BASIC_STATS, &result) < 0 ? null : result;
    }

    [LibraryImport(Libc.Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    private static partial int StatxCall(int dirFd, string path, int flags, uint mask, Statx* buffer);
}
