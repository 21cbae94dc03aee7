using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("logs", HelpText = "Print what a detached container wrote (stdout and stderr).")]
public sealed class LogsOptions
{
    [Option('f', "follow", HelpText = "Keep printing until it stops.")]
    public bool Follow { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

internal static class LogsVerb
{
    public static int Execute(LogsOptions options, GlobalOptions globals)
    {
        using var stdout = Console.OpenStandardOutput();
        DetachedVerbs.Logs(globals.Store, options.Id, options.Follow, stdout);
        return 0;
    }
}
