namespace Isolate.Cgroups;

public enum CgroupVersion
{
    /// <summary>No cgroup filesystem mounted: containers run without a cgroup.</summary>
    None,
    /// <summary>One directory per controller (also "hybrid", where a cgroup2 without
    /// controllers sits beside them: the v1 controllers are what limit).</summary>
    V1,
    /// <summary>The unified hierarchy.</summary>
    V2,
}

/// <summary>Where the cgroup hierarchies are mounted, read from /proc/self/mountinfo at run
/// time: v2, v1 and hybrid hosts all exist, and the same binary must be right on each.</summary>
public sealed record CgroupLayout(CgroupVersion Version, string? UnifiedRoot, IReadOnlyDictionary<string, string> V1Roots)
{
    /// <summary>The v1 controllers Isolate knows: those it sets limits in, and those an OCI
    /// container is placed in only because they are mounted (runc joins every hierarchy, and
    /// a Kubernetes node's pod groups exist in each: net_cls/net_prio classify its traffic,
    /// perf_event scopes its profiling, rdma and misc count its resources).</summary>
    public static readonly string[] V1Controllers = ["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "freezer", "devices", "hugetlb",
        "net_cls", "net_prio", "perf_event", "rdma", "misc"];

    /// <summary>Where every v1 hierarchy is mounted (/sys/fs/cgroup/memory, .../cpu,cpuacct,
    /// .../systemd ...): what an OCI bundle's `cgroup` mount shows on a v1 host.</summary>
    public IReadOnlyList<string> V1MountPoints { get; init; } = [];

    public static CgroupLayout Detect() => Parse(Interop.SmallFile.Read("/proc/self/mountinfo") ?? "");

    public static CgroupLayout Parse(string mountinfo)
    {
        string? unified = null;
        var v1 = new Dictionary<string, string>(StringComparer.Ordinal);
        var hierarchies = new List<string>();
        foreach (string line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
            string[] fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (dash < 0 || dash + 3 >= fields.Length)
                continue;
            string mountPoint = Unescape(fields[4]);
            string fsType = fields[dash + 1];
            if (fsType == "cgroup2")
                unified ??= mountPoint;
            else if (fsType == "cgroup")
            {
                if (!hierarchies.Contains(mountPoint))
                    hierarchies.Add(mountPoint);
                foreach (string option in fields[dash + 3].Split(','))
                {
                    if (V1Controllers.Contains(option))
                        v1.TryAdd(option, mountPoint);
                }
            }
        }
        var version = v1.ContainsKey("memory") || v1.ContainsKey("pids") || v1.ContainsKey("cpu") ? CgroupVersion.V1
            : unified != null ? CgroupVersion.V2
            : CgroupVersion.None;
        return new CgroupLayout(version, unified, v1) { V1MountPoints = hierarchies };
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo.</summary>
    private static string Unescape(string field) =>
        field.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");
}
