namespace Isolate.Spec;

/// <summary>What the container may use, with docker's names. Null: no limit set.</summary>
public sealed record ResourceLimits
{
    /// <summary>--memory: bytes of memory.</summary>
    public long? MemoryBytes { get; init; }

    /// <summary>--memory-swap: memory plus swap, in bytes; -1 unlimited swap. Unset with
    /// --memory set: as much swap as memory (docker's rule).</summary>
    public long? MemorySwapBytes { get; init; }

    /// <summary>--cpus, as a CFS quota per period (microseconds).</summary>
    public long? CpuQuotaMicros { get; init; }

    public long CpuPeriodMicros { get; init; } = 100_000;

    /// <summary>--cpu-shares: relative weight, 2 to 262144 (1024 is the default).</summary>
    public long? CpuShares { get; init; }

    /// <summary>--cpuset-cpus: e.g. "0-1,3".</summary>
    public string? CpusetCpus { get; init; }

    /// <summary>--pids-limit: at most this many processes and threads; -1 unlimited.</summary>
    public long? PidsLimit { get; init; }

    /// <summary>--io-weight: relative block I/O weight, 10 to 1000 (docker's --blkio-weight).</summary>
    public int? IoWeight { get; init; }

    /// <summary>--memory-reservation: a soft limit the kernel reclaims down to under pressure
    /// (v1 memory.soft_limit_in_bytes, v2 memory.low); -1 none.</summary>
    public long? MemoryReservationBytes { get; init; }

    /// <summary>How readily the group's pages are swapped, 0 to 100 (v1 memory.swappiness only).</summary>
    public long? MemorySwappiness { get; init; }

    /// <summary>True: the OOM killer leaves the group alone; its processes wait for memory
    /// instead (v1 memory.oom_control only).</summary>
    public bool? OomKillDisable { get; init; }

    /// <summary>--kernel-memory-tcp: bytes of TCP buffer memory (v1 memory.kmem.tcp.limit_in_bytes); -1 none.</summary>
    public long? KernelTcpBytes { get; init; }

    /// <summary>--cpu-period given on its own (update): the period is written even without a quota.</summary>
    public bool CpuPeriodGiven { get; init; }

    /// <summary>--cpuset-mems: the memory nodes, e.g. "0".</summary>
    public string? CpusetMems { get; init; }

    /// <summary>hugetlb limits by page size as the kernel names it in hugetlb.SIZE.limit_in_bytes ("2MB", "1GB").</summary>
    public IReadOnlyList<HugepageLimit> HugepageLimits { get; init; } = [];

    /// <summary>The device cgroup's rules in order (OCI linux.resources.devices). Empty: the
    /// device controller is left as the parent has it.</summary>
    public IReadOnlyList<DeviceRule> DeviceRules { get; init; } = [];

    /// <summary>blkio throttles (v1 blkio.throttle.*, v2 io.max), per device.</summary>
    public IReadOnlyList<IoThrottle> IoThrottles { get; init; } = [];

    public bool Any => MemoryBytes != null || MemorySwapBytes != null || CpuQuotaMicros != null || CpuShares != null
        || CpusetCpus != null || PidsLimit != null || IoWeight != null || MemoryReservationBytes != null
        || MemorySwappiness != null || OomKillDisable != null || KernelTcpBytes != null || CpuPeriodGiven
        || CpusetMems != null || HugepageLimits.Count > 0 || DeviceRules.Count > 0 || IoThrottles.Count > 0;
}

/// <summary>At most <paramref name="Bytes"/> of huge pages of <paramref name="PageSize"/> ("2MB"); -1 none.</summary>
public sealed record HugepageLimit(string PageSize, long Bytes);

/// <summary>One device cgroup rule: type 'a' (all), 'c' or 'b'; a null major or minor is '*';
/// access a subset of "rwm".</summary>
public sealed record DeviceRule(bool Allow, char Type, long? Major, long? Minor, string Access)
{
    /// <summary>As devices.allow and devices.deny take it: "c 1:3 rwm", "a".</summary>
    public string CgroupV1Text => Type == 'a'
        ? "a"
        : $"{Type} {(Major is { } major ? major.ToString(System.Globalization.CultureInfo.InvariantCulture) : "*")}:{(Minor is { } minor ? minor.ToString(System.Globalization.CultureInfo.InvariantCulture) : "*")} {Access}";
}

/// <summary>A throttle on one block device: Kind is rbps, wbps, riops or wiops (io.max's keys).</summary>
public sealed record IoThrottle(string Kind, long Major, long Minor, ulong Rate);

/// <summary>--stats: what to print when the container ends.</summary>
public enum StatsFormat
{
    None,
    Text,
    Json,
}
