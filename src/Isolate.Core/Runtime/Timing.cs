using System.Diagnostics;
using System.Globalization;
using Isolate.Interop;

namespace Isolate.Runtime;

/// <summary>ISOLATE_TIMING=1: where one start's time goes. Each <see cref="Mark"/> ends a
/// phase; at exit one line on stderr gives every phase's milliseconds, from the moment the
/// process (the re-exec'd one, for a verb that enters a container) began running C code
/// (native/early.c) to the end of Main. bench/run.sh prints the median of each. Off, a
/// mark costs one test of a static field.</summary>
public static class Timing
{
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("ISOLATE_TIMING") == "1";
    private static readonly List<(string Phase, long At)>? Marks = Enabled ? new(16) : null;

    /// <summary>The phase named here has ended now.</summary>
    public static void Mark(string phase) => Marks?.Add((phase, Stopwatch.GetTimestamp()));

    /// <summary>"timing: runtime 2.91 parse 0.80 ... total 17.52 (ms); allocated 812 KiB", or null when off.</summary>
    public static string? Report()
    {
        if (Marks is null || Marks.Count == 0)
            return null;
        long started = Shim.StartedAt(); // CLOCK_MONOTONIC ns, as Stopwatch's on Linux; 0: not from the binary
        long first = started > 0 && Stopwatch.Frequency == 1_000_000_000 ? started : Marks[0].At;
        var line = new System.Text.StringBuilder("timing:");
        long previous = first;
        foreach (var (phase, at) in Marks)
        {
            line.Append(CultureInfo.InvariantCulture, $" {phase} {Milliseconds(at - previous)}");
            previous = at;
        }
        line.Append(CultureInfo.InvariantCulture, $" total {Milliseconds(previous - first)} (ms); allocated {GC.GetTotalAllocatedBytes() >> 10} KiB");
        return line.ToString();
    }

    private static string Milliseconds(long ticks) =>
        (ticks * 1000.0 / Stopwatch.Frequency).ToString("0.00", CultureInfo.InvariantCulture);
}
