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

    /// <summary>cgroup v2's device rules: <paramref name="program"/> (DeviceFilter.Build) attached to
    /// the group in place of the device program it had, if any.</summary>
    void SetDeviceProgram(string path, byte[] program);
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

    /// <summary>Attaches the new program before detaching the old ones, so the group is never
    /// without one (several are allowed side by side with BPF_F_ALLOW_MULTI; all must allow).
    /// Only Isolate's own old programs are detached - those loaded under its name (Bpf.ProgramName),
    /// which the kernel keeps with each program - never another manager's (systemd's sd_devices
    /// on a group it delegated, say), whose rules keep applying beside Isolate's.
    /// The program's fd is closed after: the attachment holds the program.</summary>
    public void SetDeviceProgram(string path, byte[] program)
    {
        const string what = "cgroup v2 device rules: ";
        using var group = FileDescriptor.Open(path, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        if (group.IsInvalid)
            throw IsolateException.FromErrno(what + "open", path, Marshal.GetLastPInvokeError());
        using var loaded = Bpf.LoadCgroupDevice(program, out string verifierLog);
        if (loaded.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw IsolateException.FromErrno(what + "load the eBPF program for", path, errno).WithHint(BpfHint(errno, verifierLog));
        }
        uint[] old = Bpf.QueryCgroupDevice(group) ?? throw IsolateException.FromErrno(what + "list the eBPF programs of", path, Marshal.GetLastPInvokeError());
        if (Bpf.AttachCgroupDevice(group, loaded) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw IsolateException.FromErrno(what + "attach the eBPF program to", path, errno).WithHint(BpfHint(errno, ""));
        }
        foreach (uint id in old)
        {
            using var previous = Bpf.ProgramById(id);
            if (previous.IsInvalid)
            {
                if (Marshal.GetLastPInvokeError() == Errno.ENOENT)
                    continue; // detached and freed meanwhile
                throw IsolateException.FromErrno(what + $"open the replaced eBPF program {id} of", path, Marshal.GetLastPInvokeError());
            }
            string name = Bpf.NameOf(previous)
                ?? throw IsolateException.FromErrno(what + $"read the name of eBPF program {id} of", path, Marshal.GetLastPInvokeError());
            if (name != Bpf.ProgramName)
                continue; // another's: left attached
            if (Bpf.DetachCgroupDevice(group, previous) < 0 && Marshal.GetLastPInvokeError() != Errno.ENOENT)
                throw IsolateException.FromErrno(what + $"detach the replaced eBPF program {id} from", path, Marshal.GetLastPInvokeError());
        }
    }

    private static string? BpfHint(int errno, string verifierLog) => errno switch
    {
        Errno.EPERM => "loading and attaching an eBPF program needs CAP_SYS_ADMIN (or CAP_BPF with Linux 5.8+): run as root, or drop linux.resources.devices / --device",
        Errno.ENOSYS => "this kernel has no bpf(2) (CONFIG_BPF_SYSCALL), so it cannot enforce device rules on cgroup v2",
        _ when verifierLog.Length > 0 => "the verifier said: " + string.Join(" / ", verifierLog.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => string.Join(' ', line.Split(' ', StringSplitOptions.RemoveEmptyEntries)))),
        Errno.EINVAL => "this kernel has no cgroup device programs (CONFIG_CGROUP_BPF, Linux 4.15+), so it cannot enforce device rules on cgroup v2",
        _ => null,
    };
}
