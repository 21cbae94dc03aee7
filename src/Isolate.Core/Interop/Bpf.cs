using System.Runtime.InteropServices;
using System.Text;

namespace Isolate.Interop;

/// <summary>bpf(2), for the cgroup v2 device program only (Cgroups/DeviceFilter builds it). glibc
/// has no wrapper, so it goes through syscall(2). union bpf_attr is passed as a zeroed buffer
/// with only the fields each command reads: the kernel takes a shorter attr than its own and
/// requires every byte it does not know to be zero.</summary>
internal static unsafe partial class Bpf
{
    private static readonly long SYS_bpf = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 280 : 321;

    private const int BPF_PROG_LOAD = 5;
    private const int BPF_PROG_ATTACH = 8;
    private const int BPF_PROG_DETACH = 9;
    private const int BPF_PROG_GET_FD_BY_ID = 13;
    private const int BPF_PROG_QUERY = 16;

    private const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15;
    private const uint BPF_CGROUP_DEVICE = 6;
    /// <summary>Several programs on one group, all asked: the way to replace one without a moment
    /// where none is attached (attach the new, then detach the old).</summary>
    private const uint BPF_F_ALLOW_MULTI = 2;

    /// <summary>BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program: its fd, or an invalid
    /// handle with errno in Marshal.GetLastPInvokeError() and the verifier's log (when it
    /// refused the program) in <paramref name="verifierLog"/>.</summary>
    public static FileDescriptor LoadCgroupDevice(byte[] instructions, out string verifierLog)
    {
        byte[] license = "Apache-2.0\0"u8.ToArray(); // no GPL-only helper is called
        byte[] name = "isolate_dev\0"u8.ToArray();
        var log = new byte[64 * 1024];
        var attr = new byte[72];
        fixed (byte* insns = instructions, lic = license, logBuffer = log, a = attr)
        {
            Put32(attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE);
            Put32(attr, 4, (uint)(instructions.Length / 8));
            Put64(attr, 8, (ulong)insns);
            Put64(attr, 16, (ulong)lic);
            Put32(attr, 24, 1); // log_level: the log is filled only when the verifier refuses
            Put32(attr, 28, (uint)log.Length);
            Put64(attr, 32, (ulong)logBuffer);
            name.CopyTo(attr, 48); // prog_name (4.15+), what bpftool prog shows
            Put32(attr, 68, BPF_CGROUP_DEVICE); // expected_attach_type
            long fd = Syscall(SYS_bpf, BPF_PROG_LOAD, (long)a, attr.Length);
            int errno = Marshal.GetLastPInvokeError();
            if (fd < 0 && errno == Errno.EINVAL && log[0] == 0)
            {
                // before 4.15 a prog_name, before 4.17 an expected_attach_type is not known:
                // try again without them (the attr is shorter than those kernels' own)
                fd = Syscall(SYS_bpf, BPF_PROG_LOAD, (long)a, 48);
                errno = Marshal.GetLastPInvokeError();
            }
            int end = Array.IndexOf(log, (byte)0);
            verifierLog = Encoding.UTF8.GetString(log, 0, end < 0 ? log.Length : end).Trim();
            Marshal.SetLastPInvokeError(errno);
            return new FileDescriptor((int)fd);
        }
    }

    /// <summary>BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI to the cgroup open at <paramref name="cgroup"/>: 0 or -1 (errno).</summary>
    public static int AttachCgroupDevice(FileDescriptor cgroup, FileDescriptor program)
    {
        var attr = new byte[20];
        Put32(attr, 0, (uint)cgroup.Number);
        Put32(attr, 4, (uint)program.Number);
        Put32(attr, 8, BPF_CGROUP_DEVICE);
        Put32(attr, 12, BPF_F_ALLOW_MULTI);
        return Call(BPF_PROG_ATTACH, attr);
    }

    /// <summary>BPF_PROG_DETACH of one program attached with BPF_F_ALLOW_MULTI: 0 or -1 (errno).</summary>
    public static int DetachCgroupDevice(FileDescriptor cgroup, FileDescriptor program)
    {
        var attr = new byte[20];
        Put32(attr, 0, (uint)cgroup.Number);
        Put32(attr, 4, (uint)program.Number);
        Put32(attr, 8, BPF_CGROUP_DEVICE);
        return Call(BPF_PROG_DETACH, attr);
    }

    /// <summary>BPF_PROG_QUERY: the ids of the device programs attached to the group itself (not
    /// its ancestors'), or null (errno set).</summary>
    public static uint[]? QueryCgroupDevice(FileDescriptor cgroup)
    {
        var ids = new uint[64];
        var attr = new byte[28];
        fixed (uint* idBuffer = ids)
        {
            Put32(attr, 0, (uint)cgroup.Number);
            Put32(attr, 4, BPF_CGROUP_DEVICE);
            Put64(attr, 16, (ulong)idBuffer);
            Put32(attr, 24, (uint)ids.Length);
            if (Call(BPF_PROG_QUERY, attr) < 0)
                return null;
        }
        return ids[..(int)Math.Min(BitConverter.ToUInt32(attr, 24), (uint)ids.Length)];
    }

    /// <summary>BPF_PROG_GET_FD_BY_ID: an fd of an attached program, for its detach.</summary>
    public static FileDescriptor ProgramById(uint id)
    {
        var attr = new byte[12];
        Put32(attr, 0, id);
        return new FileDescriptor(Call(BPF_PROG_GET_FD_BY_ID, attr));
    }

    private static int Call(int command, byte[] attr)
    {
        fixed (byte* a = attr)
            return (int)Syscall(SYS_bpf, command, (long)a, attr.Length);
    }

    private static void Put32(byte[] to, int at, uint value) => BitConverter.TryWriteBytes(to.AsSpan(at, 4), value);

    private static void Put64(byte[] to, int at, ulong value) => BitConverter.TryWriteBytes(to.AsSpan(at, 8), value);

    [LibraryImport(Libc.Library, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long command, long attr, long size);
}
