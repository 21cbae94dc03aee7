using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;

namespace Isolate.Runtime;

/// <summary>--pid-file: the host PID of the container's PID 1 (or of an exec'd command), for
/// init scripts and engines. Written whole (a temporary file renamed into place); a run's is
/// removed when the container ends if it still names it. Through libc, so that a path whose
/// bytes are not UTF-8 names the file it says.</summary>
public static unsafe class PidFile
{
    /// <param name="newline">run's file ends in a newline, as init scripts' do; the OCI
    /// commands' holds the number alone (containerd's shim parses it with strconv.Atoi).</param>
    public static bool Write(string path, int pid, bool newline = true)
    {
        string temporary = $"{path}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.tmp";
        byte[] text = Encoding.ASCII.GetBytes(pid.ToString(CultureInfo.InvariantCulture) + (newline ? "\n" : ""));
        int fd = Libc.Open(temporary, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC | OpenFlags.O_CLOEXEC, 0x1a4 /* 0644 */);
        if (fd < 0)
            throw IsolateException.FromErrno("--pid-file", path, Marshal.GetLastPInvokeError());
        nint written;
        fixed (byte* p = text)
            written = Libc.Write(fd, p, text.Length);
        int errno = Marshal.GetLastPInvokeError();
        Libc.Close(fd);
        if (written != text.Length || Libc.Rename(temporary, path) < 0)
        {
            errno = written != text.Length ? errno : Marshal.GetLastPInvokeError();
            Libc.Unlink(temporary);
            throw IsolateException.FromErrno("--pid-file", path, errno);
        }
        return true;
    }

    public static void Remove(string path, int pid)
    {
        // gone or replaced: not ours to remove any more
        if (SmallFile.Read(path)?.Trim() == pid.ToString(CultureInfo.InvariantCulture))
            Libc.Unlink(path);
    }
}
