using System.Globalization;
using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("stop", HelpText = "Stop detached containers: their stop signal, then SIGKILL after the stop timeout.")]
public sealed class StopOptions
{
    [Option('t', "time", MetaValue = "SECONDS", HelpText = "Seconds to wait before SIGKILL (default: the container's --stop-timeout).")]
    public string? Time { get; set; }

    [Value(0, MetaName = "ID", Required = true, HelpText = "One or more containers.")]
    public IEnumerable<string> Ids { get; set; } = [];
}

internal static class StopVerb
{
    public static int Execute(StopOptions options, GlobalOptions globals)
    {
        TimeSpan? time = options.Time is null ? null
            : int.TryParse(options.Time, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) ? TimeSpan.FromSeconds(seconds)
            : throw new IsolateException($"invalid --time '{options.Time}': give whole seconds");
        foreach (string id in options.Ids)
        {
            DetachedVerbs.Stop(globals.Store, id, time);
            Output.Out(id + "\n");
        }
        return 0;
    }
}
