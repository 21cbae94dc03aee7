using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;

namespace Isolate.Cgroups;

/// <summary>The few operations the cgroup drivers make on a cgroup filesystem. The drivers
/// take a root directory and this interface, so the unit tests run them against a temporary
/// directory laid out like /sys/fs/cgroup (see the tests' FakeCgroupFilesystem).</summary>
public interface ICgroupFilesystem
{
    /// <summary>mkdir; false when it exists already.</summary>
    bool MakeDirectory(string path);

    bool Exists(string path);

    /// <summary>One write(2) of the whole value to an existing control file (never created).</summary>
    void Write(string path, string value);

    string? Read(string path);

    /// <summary>rmdir; false when it is busy (processes still in it).</summary>
    bool RemoveDirectory(string path);

    /// <summary>The groups directly inside a group (none when it is gone).</summary>
    IReadOnlyList<string> Subgroups(string path) => Directory.Exists(path) ? Directory.GetDirectories(path) : [];
}

/// <summary>The real thing: system calls, errno kept for the message.</summary>
public sealed unsafe class CgroupFilesystem : ICgroupFilesystem
{
    public static readonly CgroupFilesystem Instance = new();

    public bool MakeDirectory(string path)
    {
        if (Libc.Mkdir(path, OpenFlags.ModeDirectory) == 0)
            return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == Errno.EEXIST)
            return false;
        var error = IsolateException.FromErrno("create cgroup", path, errno);
        if (errno is Errno.EACCES or Errno.EPERM or Errno.EROFS)
        {
            string hint = Libc.GetEffectiveUserId() != 0
                ? "isolate run needs root (rootless mode is not supported yet)"
                : "where /sys/fs/cgroup is not writable (inside another container, say), run with --cgroups=disabled";
            throw new IsolateException($"{error.Message}; {hint}");
        }
        throw error;
    }

    public bool Exists(string path) => Path.Exists(path);

    public void Write(string path, string value)
    {
        using var fd = FileDescriptor.Open(path, OpenFlags.O_WRONLY);
        if (fd.IsInvalid)
            throw IsolateException.FromErrno($"set {Path.GetFileName(path)}={value} in", Path.GetDirectoryName(path), Marshal.GetLastPInvokeError());
        byte[] bytes = Encoding.ASCII.GetBytes(value);
        fixed (byte* data = bytes)
        {
            if (Libc.Write(fd, data, bytes.Length) < 0)
                throw IsolateException.FromErrno($"set {Path.GetFileName(path)}={value} in", Path.GetDirectoryName(path), Marshal.GetLastPInvokeError());
        }
    }

    public string? Read(string path) => SmallFile.Read(path);

    public bool RemoveDirectory(string path)
    {
        if (Libc.Rmdir(path) == 0)
            return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == Errno.ENOENT)
            return true;
        if (errno == Errno.EBUSY)
            return false;
        throw IsolateException.FromErrno("remove cgroup", path, errno);
    }
}
