namespace Isolate.Security;

/// <summary>Linux capabilities by name (capability(7)), and the sets Isolate starts from.</summary>
public static class Capabilities
{
    internal static readonly string[] Names =
    [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ];

    /// <summary>docker's default set: what a container gets unless told otherwise.</summary>
    public static readonly ulong DockerDefault = Mask(
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
        "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE");

    public static int Number(string name)
    {
        string upper = name.Trim().ToUpperInvariant();
        if (upper.StartsWith("CAP_", StringComparison.Ordinal))
            upper = upper[4..];
        int index = Array.IndexOf(Names, upper);
        return index >= 0 ? index : throw new IsolateException($"unknown capability '{name}': use a name from capabilities(7), such as NET_ADMIN or CAP_SYS_PTRACE, or ALL");
    }

    public static string Name(int number) => number < Names.Length ? "CAP_" + Names[number] : $"CAP_{number}";

    public static ulong Mask(params string[] names) => names.Aggregate(0UL, (mask, n) => mask | (1UL << Number(n)));

    /// <summary>Every capability this kernel knows (0 .. cap_last_cap).</summary>
    public static ulong All(int lastCap) => lastCap >= 63 ? ulong.MaxValue : (1UL << (lastCap + 1)) - 1;

    /// <summary>docker's rules: start from the default set (all with --privileged), drop what
    /// --cap-drop names, then add what --cap-add names; "ALL" means every capability Isolate
    /// itself holds (<paramref name="held"/>): it cannot give what it does not have.</summary>
    public static ulong Resolve(IEnumerable<string> add, IEnumerable<string> drop, bool privileged, int lastCap, ulong held)
    {
        ulong all = All(lastCap) & held;
        ulong set = (privileged ? all : DockerDefault) & held;
        foreach (string name in drop)
            set &= ~(IsAll(name) ? all : 1UL << Number(name));
        foreach (string name in add)
        {
            ulong bit = IsAll(name) ? all : 1UL << Number(name);
            if ((bit & held) != bit)
                throw new IsolateException($"--cap-add {name}: Isolate does not hold {Name(Number(name))} itself, so it cannot give it to the container");
            set |= bit;
        }
        return set & all;
    }

    /// <summary>The capabilities this process may pass on: its permitted set (CapPrm).</summary>
    public static ulong Held()
    {
        foreach (string line in (Interop.SmallFile.Read("/proc/self/status") ?? "").Split('\n'))
        {
            if (line.StartsWith("CapPrm:", StringComparison.Ordinal))
                return Convert.ToUInt64(line[7..].Trim(), 16);
        }
        return ulong.MaxValue;
    }

    private static bool IsAll(string name) => name.Trim().Equals("ALL", StringComparison.OrdinalIgnoreCase);

    public static IEnumerable<string> Describe(ulong mask) =>
        Enumerable.Range(0, 64).Where(c => (mask & (1UL << c)) != 0).Select(Name);

    /// <summary>/proc/sys/kernel/cap_last_cap, or 40 (Linux 5.9+) if it cannot be read.</summary>
    public static int LastCap() =>
        int.TryParse(Interop.SmallFile.Read("/proc/sys/kernel/cap_last_cap")?.Trim(), out int last) ? last : 40;
}
