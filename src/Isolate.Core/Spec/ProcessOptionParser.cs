using System.Globalization;

namespace Isolate.Spec;

/// <summary>One resource limit (setrlimit) for the command: docker's --ulimit NAME=SOFT[:HARD].</summary>
public readonly record struct RlimitSpec(string Name, int Resource, ulong Soft, ulong Hard)
{
    /// <summary>Where the user asked for it, for messages: "--ulimit nofile=..." or
    /// "config.json process.rlimits[0] (RLIMIT_NOFILE ...)".</summary>
    public string? Origin { get; init; }

    public string Describe() => Origin ?? $"--ulimit {this}";

    /// <summary>The limit itself: where it was asked for is not part of it.</summary>
    public bool Equals(RlimitSpec other) => Name == other.Name && Resource == other.Resource && Soft == other.Soft && Hard == other.Hard;

    public override int GetHashCode() => HashCode.Combine(Name, Resource, Soft, Hard);

    /// <summary>RLIM_INFINITY.</summary>
    public const ulong Unlimited = ulong.MaxValue;

    public override string ToString() => $"{Name}={Show(Soft)}:{Show(Hard)}";

    private static string Show(ulong value) => value == Unlimited ? "unlimited" : value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The process options of `isolate run`: --ulimit, --env-file, --oom-score-adj,
/// --stop-signal, --stop-timeout and --timeout. Every error is one line naming the option.</summary>
public static class ProcessOptionParser
{
    /// <summary>docker's names (and ulimit(1)'s), with Linux's RLIMIT_* numbers.</summary>
    private static readonly Dictionary<string, int> Resources = new(StringComparer.Ordinal)
    {
        ["cpu"] = 0, ["fsize"] = 1, ["data"] = 2, ["stack"] = 3, ["core"] = 4, ["rss"] = 5, ["nproc"] = 6,
        ["nofile"] = 7, ["memlock"] = 8, ["as"] = 9, ["locks"] = 10, ["sigpending"] = 11, ["msgqueue"] = 12,
        ["nice"] = 13, ["rtprio"] = 14, ["rttime"] = 15,
    };

    /// <summary>"nofile=1024:2048", "core=0", "nproc=-1" or "stack=unlimited" (no hard part: the
    /// soft value for both, as docker does).</summary>
    public static RlimitSpec ParseUlimit(string value)
    {
        string usage = $"invalid --ulimit '{value}': use NAME=SOFT[:HARD] with NAME one of {string.Join(", ", Resources.Keys)} (nofile=1024:2048)";
        int eq = value.IndexOf('=');
        if (eq <= 0 || !Resources.TryGetValue(value[..eq], out int resource))
            throw new IsolateException(usage);
        string[] parts = value[(eq + 1)..].Split(':');
        if (parts.Length > 2 || !TryLimit(parts[0], out ulong soft))
            throw new IsolateException(usage);
        ulong hard = soft;
        if (parts.Length == 2 && !TryLimit(parts[1], out hard))
            throw new IsolateException(usage);
        if (soft > hard)
            throw new IsolateException($"invalid --ulimit '{value}': the soft limit is above the hard one");
        return new RlimitSpec(value[..eq], resource, soft, hard);
    }

    private static bool TryLimit(string text, out ulong limit)
    {
        limit = RlimitSpec.Unlimited;
        return text is "-1" or "unlimited" || (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit != RlimitSpec.Unlimited);
    }

    /// <summary>Several --ulimit options: the last one for a resource wins.</summary>
    public static IReadOnlyList<RlimitSpec> ParseUlimits(IEnumerable<string> values) =>
        values.Select(ParseUlimit).GroupBy(l => l.Resource).Select(g => g.Last()).OrderBy(l => l.Resource).ToList();

    /// <summary>docker's --env-file: KEY=VALUE lines taken as they are (no quotes, no escapes),
    /// KEY alone to copy the host's value, blank lines and lines starting with '#' skipped.</summary>
    /// <returns>The entries, in the same forms as -e takes them.</returns>
    public static IReadOnlyList<string> ParseEnvFile(string text, string path)
    {
        var entries = new List<string>();
        string[] lines = text.TrimStart('\uFEFF').Split('\n'); // a byte-order mark is not part of the first key
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r').TrimStart();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            int eq = line.IndexOf('=');
            string key = eq < 0 ? line : line[..eq];
            if (key.Length == 0 || key.Any(char.IsWhiteSpace))
                throw new IsolateException($"--env-file {path}:{i + 1}: '{line}' does not start with a variable name; use KEY=VALUE, one per line");
            entries.Add(line);
        }
        return entries;
    }

    public static int ParseOomScoreAdj(string value) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int adj) && adj is >= -1000 and <= 1000
            ? adj
            : throw new IsolateException($"invalid --oom-score-adj '{value}': use a number from -1000 (never killed) to 1000 (killed first)");

    private static readonly Dictionary<string, int> Signals = new(StringComparer.Ordinal)
    {
        ["HUP"] = 1, ["INT"] = 2, ["QUIT"] = 3, ["ILL"] = 4, ["TRAP"] = 5, ["ABRT"] = 6, ["BUS"] = 7, ["FPE"] = 8,
        ["KILL"] = 9, ["USR1"] = 10, ["SEGV"] = 11, ["USR2"] = 12, ["PIPE"] = 13, ["ALRM"] = 14, ["TERM"] = 15,
        ["STKFLT"] = 16, ["CHLD"] = 17, ["CONT"] = 18, ["STOP"] = 19, ["TSTP"] = 20, ["TTIN"] = 21, ["TTOU"] = 22,
        ["URG"] = 23, ["XCPU"] = 24, ["XFSZ"] = 25, ["VTALRM"] = 26, ["PROF"] = 27, ["WINCH"] = 28, ["IO"] = 29,
        ["PWR"] = 30, ["SYS"] = 31,
    };

    /// <summary>"TERM", "SIGTERM", "sigterm" or "15" (and RTMIN+N up to 64).</summary>
    public static int ParseSignal(string option, string value)
    {
        string name = value.ToUpperInvariant();
        if (name.StartsWith("SIG", StringComparison.Ordinal))
            name = name[3..];
        if (Signals.TryGetValue(name, out int signal))
            return signal;
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out signal) && signal is >= 1 and <= 64)
            return signal;
        if (name.StartsWith("RTMIN+", StringComparison.Ordinal) && int.TryParse(name[6..], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 30)
            return 34 + n;
        throw new IsolateException($"invalid {option} '{value}': use a signal name or number (TERM, SIGQUIT, 15)");
    }

    public static string SignalName(int signal) =>
        Signals.FirstOrDefault(kv => kv.Value == signal).Key is { } name ? "SIG" + name : $"signal {signal}";

    /// <summary>"30s", "5m", "1h", "1.5s", "500ms", or plain seconds ("10"), as coreutils timeout
    /// and docker take them.</summary>
    public static TimeSpan ParseDuration(string option, string value, bool allowZero = false)
    {
        string number = value;
        double scale = 1;
        foreach (var (suffix, seconds) in new[] { ("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0) })
        {
            if (value.EndsWith(suffix, StringComparison.Ordinal))
            {
                number = value[..^suffix.Length];
                scale = seconds;
                break;
            }
        }
        // whole milliseconds, rounded: "0.043s" is 43 ms, not a tick less (double's 0.043 is below it)
        double milliseconds = double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double amount)
            ? Math.Round(amount * scale * 1000) : double.NaN;
        if (!double.IsFinite(milliseconds) || milliseconds > TimeSpan.MaxValue.TotalMilliseconds / 2 || (milliseconds == 0 && !allowZero))
            throw new IsolateException($"invalid {option} '{value}': use a duration such as 30s, 5m, 1h or 1.5s{(allowZero ? " (0: at once)" : "")}"
                + (milliseconds == 0 && amount > 0 ? "; the smallest is 1ms" : ""));
        return TimeSpan.FromMilliseconds(milliseconds);
    }

    /// <summary>--preserve-fds N (run, create, OCI run, exec): fds 3 .. 3+N-1 reach the container.</summary>
    public static uint ParsePreserveFds(string? value) =>
        value is null ? 0
        : uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out uint n) && n <= 1024 ? n
        : throw new IsolateException($"invalid --preserve-fds '{value}': give a number of file descriptors after stderr, 0 to 1024 (1 passes fd 3)");
}
