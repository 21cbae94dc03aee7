namespace Isolate.Interop;

/// <summary>open(2) flags and modes. O_DIRECTORY and O_NOFOLLOW are x86-64's values (arm64
/// swaps them for 0x4000 and 0x8000); the rest are the same on every Linux architecture
/// Isolate could run on.</summary>
internal static class OpenFlags
{
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_TRUNC = 0x200;
    public const int O_APPEND = 0x400;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;

    /// <summary>0600: owner read and write.</summary>
    public const uint ModeOwnerReadWrite = 0x180;
    /// <summary>0700: a directory only its owner enters.</summary>
    public const uint ModeOwnerOnlyDirectory = 0x1C0;
    /// <summary>0755: a directory anyone may read.</summary>
    public const uint ModeDirectory = 0x1ED;
}

/// <summary>flock(2) operations.</summary>
internal static class LockFlags
{
    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int LOCK_UN = 8;
}
