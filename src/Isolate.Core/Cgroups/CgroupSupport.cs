namespace Isolate.Cgroups;

/// <summary>What this host's cgroups can set, asked before anything is created, so a limit
/// the host cannot honour is refused up front (and named as the caller gave it) instead of
/// failing half-way through the group's creation or being dropped.</summary>
public sealed class CgroupSupport(CgroupLayout layout, ICgroupFilesystem fs)
{
    public static CgroupSupport Host() => new(CgroupLayout.Detect(), CgroupFilesystem.Instance);

    public CgroupVersion Version => layout.Version;

    /// <summary>Null when <paramref name="file"/> can be set (the v1 controller is mounted and
    /// its root group has the file); otherwise what is missing, for the message.</summary>
    public string? MissingV1(string controller, string file)
    {
        if (layout.Version != CgroupVersion.V1)
            return $"{file} is cgroup v1's, and this host has cgroup v2";
        if (!layout.V1Roots.TryGetValue(controller, out string? root))
            return $"the {controller} cgroup controller is not mounted (no /sys/fs/cgroup/{controller})";
        return fs.Exists(Path.Combine(root, file)) ? null : $"this kernel has no {file} (in {root})";
    }

    /// <summary>Null when the v2 controller can be enabled; otherwise what is missing.</summary>
    public string? MissingV2(string controller)
    {
        if (layout.Version != CgroupVersion.V2)
            return $"the {controller} controller of cgroup v2 is not in use (this host limits with cgroup v1)";
        string controllers = fs.Read(Path.Combine(layout.UnifiedRoot!, "cgroup.controllers")) ?? "";
        return controllers.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Contains(controller)
            ? null
            : $"the {controller} controller is not available in {layout.UnifiedRoot} (cgroup.controllers: {controllers.Trim()})";
    }

    /// <summary>On either version: v1's file, or v2's controller.</summary>
    public string? Missing(string v1Controller, string v1File, string v2Controller) =>
        layout.Version == CgroupVersion.V2 ? MissingV2(v2Controller) : MissingV1(v1Controller, v1File);

    /// <summary>The huge page sizes this kernel has, as cgroup files name them ("2MB", "1GB").</summary>
    public static IReadOnlyList<string> HugePageSizes(string directory = "/sys/kernel/mm/hugepages")
    {
        if (!Directory.Exists(directory))
            return [];
        var sizes = new List<string>();
        foreach (string entry in Directory.GetDirectories(directory).Select(d => Path.GetFileName(d)))
        {
            // hugepages-2048kB
            if (entry.StartsWith("hugepages-", StringComparison.Ordinal) && entry.EndsWith("kB", StringComparison.Ordinal)
                && long.TryParse(entry["hugepages-".Length..^2], out long kb))
                sizes.Add(kb % (1 << 20) == 0 ? $"{kb >> 20}GB" : kb % (1 << 10) == 0 ? $"{kb >> 10}MB" : $"{kb}KB");
        }
        return sizes;
    }
}
