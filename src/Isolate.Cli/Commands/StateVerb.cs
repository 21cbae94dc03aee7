using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("state", HelpText = "OCI: print a container's state as JSON.")]
public sealed class StateOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

internal static class StateVerb
{
    public static int Execute(StateOptions options, GlobalOptions globals)
    {
        Output.Out(ContainerViews.State(globals.Store, options.Id) + "\n");
        return 0;
    }
}
