using System.Globalization;
using System.Text;
using Isolate.Cgroups;

namespace Isolate.Runtime;

/// <summary>How a container ended: the exit code Isolate returns, and what its cgroup counted.</summary>
public sealed record ContainerResult(int ExitCode, CgroupUsage? Usage)
{
    /// <summary>--timeout ran out and the container was stopped: "container stopped: ...".</summary>
    public string? TimeoutMessage { get; init; }

    /// <summary>Killed by the kernel for memory: SIGKILL (137) and the cgroup's own OOM-kill counter.</summary>
    public bool OutOfMemory => ExitCode == 137 && Usage is { OomKills: > 0 };

    /// <summary>"container killed: out of memory (limit 32 MiB)".</summary>
    public string OutOfMemoryMessage =>
        "container killed: out of memory" + (Usage?.MemoryLimitBytes is { } limit and < long.MaxValue / 2 ? $" (limit {FormatBytes(limit)})" : "");

    /// <summary>What `isolate run` says on stderr when the container has ended: a timeout, an
    /// OOM kill, and the --stats line or object.</summary>
    public IEnumerable<string> Messages(Spec.StatsFormat stats)
    {
        if (TimeoutMessage != null)
            yield return "isolate: " + TimeoutMessage;
        if (OutOfMemory)
            yield return "isolate: " + OutOfMemoryMessage;
        if (stats == Spec.StatsFormat.Text)
            yield return "isolate: " + StatsText();
        else if (stats == Spec.StatsFormat.Json)
            yield return StatsJson();
    }

    public string StatsText()
    {
        var u = Usage;
        return "stats: memory peak " + (u?.MemoryPeakBytes is { } m ? FormatBytes(m) : "n/a")
            + ", cpu user " + Seconds(u?.CpuUserMicros) + ", system " + Seconds(u?.CpuSystemMicros)
            + ", pids peak " + (u?.PidsPeak?.ToString(CultureInfo.InvariantCulture) ?? "n/a")
            + $", exit {ExitCode}" + (OutOfMemory ? ", out of memory" : "");
    }

    /// <summary>One JSON object; null where the kernel keeps no such counter.</summary>
    public string StatsJson()
    {
        var u = Usage;
        var json = new StringBuilder("{");
        json.Append("\"exit_code\":").Append(ExitCode.ToString(CultureInfo.InvariantCulture));
        json.Append(",\"memory_peak_bytes\":").Append(Number(u?.MemoryPeakBytes));
        json.Append(",\"memory_limit_bytes\":").Append(Number(u?.MemoryLimitBytes is { } l and < long.MaxValue / 2 ? l : null));
        json.Append(",\"cpu_user_usec\":").Append(Number(u?.CpuUserMicros));
        json.Append(",\"cpu_system_usec\":").Append(Number(u?.CpuSystemMicros));
        json.Append(",\"pids_peak\":").Append(Number(u?.PidsPeak));
        json.Append(",\"oom_kills\":").Append(Number(u?.OomKills));
        json.Append(",\"out_of_memory\":").Append(OutOfMemory ? "true" : "false");
        return json.Append('}').ToString();
    }

    private static string Number(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "null";

    private static string Seconds(long? micros) =>
        micros is { } us ? (us / 1e6).ToString("0.000", CultureInfo.InvariantCulture) + " s" : "n/a";

    public static string FormatBytes(long bytes)
    {
        const long KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;
        static string Unit(long bytes, long size, string name) =>
            bytes % size == 0 ? $"{bytes / size} {name}" : (bytes / (double)size).ToString("0.0", CultureInfo.InvariantCulture) + " " + name;
        return bytes >= GiB ? Unit(bytes, GiB, "GiB") : bytes >= MiB ? Unit(bytes, MiB, "MiB") : bytes >= KiB ? Unit(bytes, KiB, "KiB") : $"{bytes} B";
    }
}
