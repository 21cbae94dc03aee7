using System.Globalization;
using Isolate.Interop;

namespace Isolate.State;

/// <summary>What /proc says of a process, read without a pidfd (the reader may be a later
/// command than the one that started it).</summary>
public static class ProcessInfo
{
    /// <summary>Field 22 of /proc/PID/stat: when it started, in clock ticks since boot;
    /// 0 when there is no such process (or it is a zombie: it has ended).</summary>
    public static ulong StartTime(int pid)
    {
        string? stat = SmallFile.Read($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        if (stat is null)
            return 0;
        int end = stat.LastIndexOf(')');
        if (end < 0)
            return 0;
        string[] fields = stat[(end + 2)..].Split(' '); // fields[0] is field 3, the state
        if (fields.Length < 20 || fields[0] is "Z" or "X")
            return 0;
        return ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out ulong ticks) ? ticks : 0;
    }

    /// <summary>The container's PID 1 stopped by the cgroup freezer (pause).</summary>
    public static bool IsFrozen(int pid)
    {
        foreach (string line in (SmallFile.Read($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cgroup") ?? "").Split('\n'))
        {
            // v1: "N:freezer:/path"; v2: "0::/path"
            string[] parts = line.Split(':', 3);
            if (parts.Length < 3)
                continue;
            string? file = parts[1] == "freezer" ? $"/sys/fs/cgroup/freezer{parts[2]}/freezer.state"
                : parts[1] == "" && parts[0] == "0" ? $"/sys/fs/cgroup{parts[2]}/cgroup.freeze" : null;
            string? value = file is null ? null : SmallFile.Read(file)?.Trim();
            if (value is "FROZEN" or "1")
                return true;
        }
        return false;
    }

    /// <summary>The owner and permission bits of a path itself (lstat), or null.</summary>
    public static (uint Uid, uint Mode)? Owner(string path) =>
        FileStat.NoFollow(path) is { } st ? (st.Uid, st.Mode & 0xFFFu) : null;

    /// <summary>(device, inode) of what a path leads to, or null.</summary>
    public static (ulong Dev, ulong Ino)? Inode(string path) =>
        FileStat.Follow(path) is { } st ? (st.Device, st.Inode) : null;
}
