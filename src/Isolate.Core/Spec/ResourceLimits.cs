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

    public bool Any => MemoryBytes != null || MemorySwapBytes != null || CpuQuotaMicros != null || CpuShares != null
        || CpusetCpus != null || PidsLimit != null || IoWeight != null;
}

/// <summary>--stats: what to print when the container ends.</summary>
public enum StatsFormat
{
    None,
    Text,
    Json,
}
