using System.Globalization;
using Isolate.Spec;

namespace Isolate.Logs;

/// <summary>How a detached container's log is kept: docker json-file's rotation (max-size,
/// max-file), in the CRI log format (podman calls that driver k8s-file). MaxSize null: never
/// rotated (docker's max-size=-1).</summary>
public sealed record LogOptions(long? MaxSize, int MaxFiles)
{
    /// <summary>The one --log-driver Isolate has.</summary>
    public const string Driver = "k8s-file";

    /// <summary>10 MiB a file, 3 files: at most 30 MiB of a container's output on disk.</summary>
    public static readonly LogOptions Default = new(10L << 20, 3);

    /// <summary>--log-driver and --log-opt as docker spells them (max-size=10m, max-file=3);
    /// anything else is refused in one line.</summary>
    public static LogOptions Parse(string? driver, IEnumerable<string> options)
    {
        if (driver is not null and not Driver)
            throw new IsolateException($"--log-driver {driver}: not supported; Isolate keeps a detached container's output in the CRI log format (podman's {Driver}): leave --log-driver out or give {Driver}");
        var result = Default;
        foreach (string option in options)
        {
            string[] pair = option.Split('=', 2);
            if (pair.Length != 2 || pair[1].Length == 0)
                throw new IsolateException($"invalid --log-opt '{option}': use KEY=VALUE (max-size=10m, max-file=3)");
            result = pair[0] switch
            {
                "max-size" => result with { MaxSize = pair[1] == "-1" ? null : ResourceParser.ParseSize("--log-opt max-size", pair[1]) },
                "max-file" => result with { MaxFiles = ParseCount(pair[1]) },
                _ => throw new IsolateException($"--log-opt {pair[0]}: unknown option; the {Driver} log takes max-size and max-file"),
            };
        }
        return result;
    }

    private static int ParseCount(string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 1000 ? n
        : throw new IsolateException($"invalid --log-opt max-file '{value}': give a number of files, 1 to 1000");
}
