using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("start", HelpText = "OCI: run the command of a created container.")]
public sealed class StartOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

internal static class StartVerb
{
    public static int Execute(StartOptions options, GlobalOptions globals)
    {
        ContainerStart.Run(globals.Store, options.Id, globals.Warn);
        return 0;
    }
}
