using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("delete", HelpText = "OCI: remove a stopped container (its cgroup and state).")]
public sealed class DeleteOptions
{
    [Option('f', "force", HelpText = "Kill it first if it is still running.")]
    public bool Force { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

internal static class DeleteVerb
{
    public static int Execute(DeleteOptions options, GlobalOptions globals)
    {
        ContainerDelete.Run(globals.Store, options.Id, options.Force, globals.Warn);
        return 0;
    }
}
