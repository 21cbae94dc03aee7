using System.Runtime.InteropServices;
using System.Text;

namespace Isolate.Interop;

/// <summary>bpf(2), for the cgroup v2 device program only (Cgroups/DeviceFilter builds it). glibc
/// has no wrapper, so it goes through syscall(2). union bpf_attr is a zeroed buffer larger than
/// any kernel's union (which requires every byte past its own to be zero) with only the fields
/// each command reads set: some commands write results back into the union at offsets past
/// the fields they read (BPF_PROG_QUERY's revision, Linux 6.6+), whatever size was passed.</summary>
internal static unsafe partial class Bpf
{
    private static readonly long SYS_bpf = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 280 : 321;

    private const int AttrSize = 256;

    private const int BPF_PROG_LOAD = 5;
    private const int BPF_PROG_ATTACH = 8;
    private const int BPF_PROG_DETACH = 9;
    private const int BPF_PROG_GET_FD_BY_ID = 13;
    private const int BPF_OBJ_GET_INFO_BY_FD = 15;
    private const int BPF_PROG_QUERY = 16;

    private const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15;
    private const uint BPF_CGROUP_DEVICE = 6;
    /// <summary>Several programs on one group, all asked: the way to replace one without a moment
    /// where none is attached (attach the new, then detach the old).</summary>
    private const uint BPF_F_ALLOW_MULTI = 2;

    /// <summary>BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program: its fd, or an invalid
    /// handle with errno in Marshal.GetLastPInvokeError() and, when the verifier refused the
    /// program, its log in <paramref name="verifierLog"/>.</summary>
    public static FileDescriptor LoadCgroupDevice(byte[] instructions, out string verifierLog) =>
        LoadCgroupDevice(instructions, ProgramName, out verifierLog);

    /// <summary>The name Isolate's device programs are loaded under (prog_name, 4.15+, the
    /// release that brought device programs): what tells its own among a group's programs,
    /// in any later process (an `update`), without state of its own.</summary>
    public const string ProgramName = "isolate_dev";

    /// <summary><see cref="LoadCgroupDevice(byte[], out string)"/> under another name (at most
    /// 15 bytes): a test's stand-in for another manager's program.</summary>
    public static FileDescriptor LoadCgroupDevice(byte[] instructions, string name, out string verifierLog)
    {
        verifierLog = "";
        int size = AttrSize;
        byte[] nameBytes = Encoding.ASCII.GetBytes(name + "\0");
        if (nameBytes.Length > 16)
            throw new ArgumentException($"a BPF program name has at most 15 bytes: '{name}'", nameof(name));
        long fd = Load(instructions, size, null, nameBytes);
        int errno = Marshal.GetLastPInvokeError();
        if (fd < 0 && errno == Errno.E2BIG)
        {
            // a kernel older than 4.17 refuses the expected_attach_type it does not know (a
            // non-zero byte past its union): again without it, keeping the name (4.15+), by
            // which the program is told from others' when it is replaced
            size = 64;
            fd = Load(instructions, size, null, nameBytes);
            errno = Marshal.GetLastPInvokeError();
        }
        if (fd < 0 && errno is Errno.EINVAL or Errno.EACCES)
        {
            // the verifier's words, asked for only now: a log on every load costs time, and
            // before 6.4 a full log buffer fails a load that would have passed (ENOSPC)
            var log = new byte[64 * 1024];
            using (new FileDescriptor((int)Load(instructions, size, log, nameBytes)))
            {
            }
            int end = Array.IndexOf(log, (byte)0);
            verifierLog = Encoding.UTF8.GetString(log, 0, end < 0 ? log.Length : end).Trim();
        }
        Marshal.SetLastPInvokeError(errno);
        return new FileDescriptor((int)fd);
    }

    private static long Load(byte[] instructions, int size, byte[]? log, byte[] name)
    {
        byte[] license = "Apache-2.0\0"u8.ToArray(); // no GPL-only helper is called
        var attr = new byte[AttrSize];
        fixed (byte* insns = instructions, lic = license, logBuffer = log, a = attr)
        {
            Put32(attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE);
            Put32(attr, 4, (uint)(instructions.Length / 8));
            Put64(attr, 8, (ulong)insns);
            Put64(attr, 16, (ulong)lic);
            if (log != null)
            {
                Put32(attr, 24, 1); // log_level
                Put32(attr, 28, (uint)log.Length);
                Put64(attr, 32, (ulong)logBuffer);
            }
            name.CopyTo(attr.AsSpan(48)); // prog_name (4.15+), what bpftool prog shows
            if (size > 68)
                Put32(attr, 68, BPF_CGROUP_DEVICE); // expected_attach_type (4.17+)
            return Syscall(SYS_bpf, BPF_PROG_LOAD, (long)a, size);
        }
    }

    /// <summary>BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI to the cgroup open at <paramref name="cgroup"/>: 0 or -1 (errno).</summary>
    public static int AttachCgroupDevice(FileDescriptor cgroup, FileDescriptor program)
    {
        var attr = new byte[AttrSize];
        Put32(attr, 0, (uint)cgroup.Number);
        Put32(attr, 4, (uint)program.Number);
        Put32(attr, 8, BPF_CGROUP_DEVICE);
        Put32(attr, 12, BPF_F_ALLOW_MULTI);
        return Call(BPF_PROG_ATTACH, attr);
    }

    /// <summary>BPF_PROG_DETACH of one program attached with BPF_F_ALLOW_MULTI: 0 or -1 (errno).</summary>
    public static int DetachCgroupDevice(FileDescriptor cgroup, FileDescriptor program)
    {
        var attr = new byte[AttrSize];
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
        var attr = new byte[AttrSize];
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
        var attr = new byte[AttrSize];
        Put32(attr, 0, id);
        return new FileDescriptor(Call(BPF_PROG_GET_FD_BY_ID, attr));
    }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD: the name a program was loaded under ("" where it has
    /// none), or null (errno set).</summary>
    public static string? NameOf(FileDescriptor program)
    {
        var info = new byte[80]; // struct bpf_prog_info up to its name[16] at offset 64
        var attr = new byte[AttrSize];
        fixed (byte* i = info)
        {
            Put32(attr, 0, (uint)program.Number);
            Put32(attr, 4, (uint)info.Length);
            Put64(attr, 8, (ulong)i);
            if (Call(BPF_OBJ_GET_INFO_BY_FD, attr) < 0)
                return null;
        }
        int end = Array.IndexOf(info, (byte)0, 64, 16);
        return Encoding.ASCII.GetString(info, 64, (end < 0 ? 80 : end) - 64);
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
