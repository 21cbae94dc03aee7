using System.Globalization;
using System.Text.RegularExpressions;

namespace Isolate.Spec;

/// <summary>docker's units and ranges for resource options; every error is one line
/// naming the option, and nothing has been created when it is raised.</summary>
public static partial class ResourceParser
{
    /// <summary>"256m", "1g", "512k", "100b", "1048576": bytes (b, k, m, g; upper or lower case).</summary>
    public static long ParseSize(string option, string value)
    {
        var match = SizePattern().Match(value);
        if (!match.Success)
            throw new IsolateException($"invalid {option} '{value}': use a number with an optional unit b, k, m or g (256m, 1g)");
        long multiplier = match.Groups[2].Value.ToLowerInvariant() switch
        {
            "k" => 1L << 10,
            "m" => 1L << 20,
            "g" => 1L << 30,
            _ => 1,
        };
        if (!decimal.TryParse(match.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number))
            throw new IsolateException($"invalid {option} '{value}': the number is too large");
        decimal bytes = decimal.Floor(number * multiplier);
        if (bytes <= 0 || bytes > long.MaxValue)
            throw new IsolateException($"invalid {option} '{value}': it must be more than 0 bytes and at most 8 EiB");
        return (long)bytes;
    }

    /// <summary>The least memory limit accepted. A bare number is bytes, so `--memory 256` was
    /// almost surely meant as 256m, and a container under a limit that small dies before its
    /// command runs. docker's floor is 6 MB (its own shim's share); Isolate's share is a few
    /// hundred KiB, and 4 MiB runs a shell's command (ResourceLimitTests).</summary>
    public const long MinimumMemoryBytes = 4L << 20;

    /// <summary>The least tmpfs size=: one page, what the kernel rounds any smaller size up to
    /// (and size=0 is no limit at all).</summary>
    public const long MinimumTmpfsBytes = 4L << 10;

    /// <summary>--memory: a size of at least <see cref="MinimumMemoryBytes"/>.</summary>
    public static long ParseMemory(string option, string value) =>
        AtLeast($"{option} {value}", value, ParseSize(option, value), MinimumMemoryBytes);

    /// <summary>--memory-swap: a size, or -1 for unlimited swap; at least --memory.</summary>
    public static long ParseMemorySwap(string value, long? memory)
    {
        if (value == "-1")
            return -1;
        long swap = ParseSize("--memory-swap", value);
        if (memory is null)
            throw new IsolateException("--memory-swap needs --memory: it is the total of memory and swap");
        if (swap < memory)
            throw new IsolateException($"invalid --memory-swap '{value}': it is memory plus swap, so it must be at least --memory");
        return AtLeast($"--memory-swap {value}", value, swap, MinimumMemoryBytes);
    }

    /// <summary><paramref name="bytes"/>, or the error that names the floor: "SUBJECT: below the
    /// minimum of 6 MiB; ...", with the size and a unit as the hint when it had none.</summary>
    public static long AtLeast(string subject, string value, long bytes, long minimum)
    {
        if (bytes >= minimum)
            return bytes;
        string floor = FormatBytes(minimum);
        // a bare number small enough to have meant megabytes gets that as the hint
        string hint = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n <= 1L << 20
            ? $"give a size with a unit, such as {value}m"
            : $"give at least {floor.Replace(" KiB", "k").Replace(" MiB", "m")}";
        throw new IsolateException($"{subject}: below the minimum of {floor}; {hint}");
    }

    /// <summary>A floor as people write it: 6 MiB, 4 KiB.</summary>
    public static string FormatBytes(long bytes) =>
        bytes % (1L << 20) == 0 ? $"{bytes >> 20} MiB" : bytes % (1L << 10) == 0 ? $"{bytes >> 10} KiB" : $"{bytes} B";

    /// <summary>--cpus 1.5: a CFS quota of 150000 µs per 100000 µs, between 0.01 and the CPUs there are.</summary>
    public static long ParseCpus(string value, int onlineCpus, long periodMicros = 100_000)
    {
        if (!decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal cpus) || cpus < 0.01m || cpus > onlineCpus)
            throw new IsolateException($"invalid --cpus '{value}': use a number from 0.01 to {onlineCpus}, the CPUs this machine has");
        return (long)decimal.Round(cpus * periodMicros);
    }

    public static long ParseCpuShares(string value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long shares) && shares is >= 2 and <= 262144
            ? shares
            : throw new IsolateException($"invalid --cpu-shares '{value}': use a number from 2 to 262144 (1024 is the default weight)");

    public static long ParsePidsLimit(string value)
    {
        if (value == "-1")
            return -1;
        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long limit) && limit > 0
            ? limit
            : throw new IsolateException($"invalid --pids-limit '{value}': use a number of processes above 0, or -1 for no limit");
    }

    /// <param name="option">The spelling given (--blkio-weight or --io-weight), for the message.</param>
    public static int ParseIoWeight(string value, string option = "--io-weight") =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int weight) && weight is >= 10 and <= 1000
            ? weight
            : throw new IsolateException($"invalid {option} '{value}': use a number from 10 to 1000");

    /// <summary>--memory-reservation, --kernel-memory-tcp: a size, or -1 for none.</summary>
    public static long ParseSizeOrUnlimited(string option, string value) => value == "-1" ? -1 : ParseSize(option, value);

    /// <summary>--cpu-quota: microseconds per period, at least 1000; -1 for no limit.</summary>
    public static long ParseCpuQuota(string value) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long quota) && (quota == -1 || quota >= 1000)
            ? quota
            : throw new IsolateException($"invalid --cpu-quota '{value}': use microseconds per period, at least 1000 (or -1 for no limit)");

    /// <summary>--cpu-period: 1000 to 1000000 microseconds.</summary>
    public static long ParseCpuPeriod(string value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long period) && period is >= 1000 and <= 1_000_000
            ? period
            : throw new IsolateException($"invalid --cpu-period '{value}': use 1000 to 1000000 microseconds");

    /// <summary>--cpuset-mems "0-1": memory nodes, in the kernel's list format.</summary>
    public static string ParseCpusetMems(string value) =>
        ParseCpuList(value) is not null
            ? value
            : throw new IsolateException($"invalid --cpuset-mems '{value}': use memory node numbers and ranges such as 0-1");

    /// <summary>"0-1,3": every CPU named must be online (from /sys/devices/system/cpu/online).</summary>
    public static string ParseCpuset(string value, IReadOnlySet<int> online)
    {
        var cpus = ParseCpuList(value) ?? throw new IsolateException($"invalid --cpuset-cpus '{value}': use CPU numbers and ranges such as 0-1,3");
        var missing = cpus.Where(c => !online.Contains(c)).ToList();
        if (missing.Count > 0)
            throw new IsolateException($"invalid --cpuset-cpus '{value}': CPU {string.Join(", ", missing)} is not online here (online: {FormatCpuList(online)})");
        return value;
    }

    /// <summary>The kernel's CPU list format ("0-3,8"); null when malformed.</summary>
    public static SortedSet<int>? ParseCpuList(string value)
    {
        var cpus = new SortedSet<int>();
        foreach (string part in value.Trim().Split(','))
        {
            var match = CpuRangePattern().Match(part);
            if (!match.Success)
                return null;
            // a number past int's range is no CPU either (int.Parse would throw OverflowException)
            if (!int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int first))
                return null;
            int last = first;
            if (match.Groups[2].Success && !int.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out last))
                return null;
            if (last < first || last > 8191)
                return null;
            for (int cpu = first; cpu <= last; cpu++)
                cpus.Add(cpu);
        }
        return cpus;
    }

    private static string FormatCpuList(IEnumerable<int> cpus) => string.Join(",", cpus);

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)([bBkKmMgG]?)$")]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"^([0-9]+)(?:-([0-9]+))?$")]
    private static partial Regex CpuRangePattern();
}
