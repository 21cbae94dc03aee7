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
        return swap;
    }

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
            int first = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            int last = match.Groups[2].Success ? int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : first;
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
