using System.Runtime.InteropServices;

namespace Isolate.Interop;

/// <summary>inotify(7): `logs -f` sleeps until the monitor writes or rotates the log.</summary>
internal static partial class Inotify
{
    public const int IN_NONBLOCK = OpenFlags.O_NONBLOCK;
    public const int IN_CLOEXEC = OpenFlags.O_CLOEXEC;
    public const uint IN_MODIFY = 0x2;
    public const uint IN_MOVED_FROM = 0x40;
    public const uint IN_MOVED_TO = 0x80;
    public const uint IN_CREATE = 0x100;
    public const uint IN_DELETE = 0x200;

    /// <summary>inotify_init1(2): the fd, or -1 with errno.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "inotify_init1", SetLastError = true)]
    public static partial int Init(int flags);

    /// <summary>inotify_add_watch(2): a watch descriptor, or -1 with errno.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Custom, StringMarshallingCustomType = typeof(ByteStringMarshaller))]
    public static partial int AddWatch(int fd, string path, uint mask);
}
