using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;

namespace Isolate.Runtime;

/// <summary>--pid-file: the host PID of the container's PID 1 (or of an exec'd command), for
/// init scripts and engines. Written whole and never through a link: the directory is opened
/// once (O_NOFOLLOW of its last name), a temporary with an unpredictable name is created in it
/// with O_CREAT|O_EXCL|O_NOFOLLOW, written and renamed over the final name (rename
/// replaces a symbolic link planted there, it does not follow it), so a directory the
/// container can write cannot turn the write onto a host file. A run's is removed when the
/// container ends if it still names it. Through libc, so that a path whose bytes are not UTF-8
/// names the file it says.</summary>
public static unsafe class PidFile
{
    /// <param name="newline">run's file ends in a newline, as init scripts' do; the OCI
    /// commands' holds the number alone (containerd's shim parses it with strconv.Atoi).</param>
    public static bool Write(string path, int pid, bool newline = true)
    {
        string name = Path.GetFileName(path);
        string directoryPath = Path.GetDirectoryName(path) ?? "/";
        if (name.Length == 0)
            throw new IsolateException($"--pid-file {path}: give a file path");
        using var directory = Libc.OpenHandle(directoryPath, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC, 0);
        if (directory.IsInvalid)
            throw IsolateException.FromErrno("--pid-file", path, Marshal.GetLastPInvokeError());
        string temporary = $".{name}.{RandomSuffix()}.tmp";
        byte[] text = Encoding.ASCII.GetBytes(pid.ToString(CultureInfo.InvariantCulture) + (newline ? "\n" : ""));
        int fd = Libc.OpenAt(directory, temporary,
            OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC, 0x1a4 /* 0644 */);
        if (fd < 0)
            throw IsolateException.FromErrno("--pid-file", path, Marshal.GetLastPInvokeError());
        nint written;
        fixed (byte* p = text)
            written = Libc.Write(fd, p, text.Length);
        int errno = Marshal.GetLastPInvokeError();
        Libc.Close(fd);
        // no fsync: the rename alone shows readers the whole file, and a PID means nothing after a crash
        if (written != text.Length || Libc.RenameAt(directory, temporary, directory, name) < 0)
        {
            errno = written == text.Length ? Marshal.GetLastPInvokeError() : errno;
            Libc.UnlinkAt(directory, temporary, 0);
            throw IsolateException.FromErrno("--pid-file", path, errno);
        }
        return true;
    }

    /// <summary>16 hex digits from getrandom(2): a name nobody can plant a link at beforehand.</summary>
    private static string RandomSuffix()
    {
        ulong value;
        if (Libc.GetRandom((byte*)&value, sizeof(ulong), 0) != sizeof(ulong))
            throw IsolateException.FromErrno("getrandom", null, Marshal.GetLastPInvokeError());
        return value.ToString("x16", CultureInfo.InvariantCulture);
    }

    public static void Remove(string path, int pid)
    {
        // gone or replaced: not ours to remove any more
        if (SmallFile.Read(path)?.Trim() == pid.ToString(CultureInfo.InvariantCulture))
            Libc.Unlink(path);
    }
}
