using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("kill", HelpText = "OCI: send a signal (default TERM) to a container's PID 1.")]
public sealed class KillOptions
{
    [Option('a', "all", HelpText = "Send it to every process of the container (its cgroup).")]
    public bool All { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";

    [Value(1, MetaName = "SIGNAL", HelpText = "A name (TERM, SIGKILL) or number.")]
    public string? Signal { get; set; }
}

internal static class KillVerb
{
    public static int Execute(KillOptions options, GlobalOptions globals)
    {
        int signal = options.Signal is null ? 15 : Isolate.Spec.ProcessOptionParser.ParseSignal("kill", options.Signal);
        ContainerKill.Run(globals.Store, options.Id, signal, options.All);
        return 0;
    }
}
