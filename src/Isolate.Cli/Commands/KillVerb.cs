using CommandLine;
using Isolate.Containers;
using Isolate.State;

namespace Isolate.Cli.Commands;

[Verb("kill", HelpText = "OCI: send a signal to a container's PID 1 (default TERM; KILL for a run -d container, as docker kill).")]
public sealed class KillOptions
{
    [Option('a', "all", HelpText = "Send it to every process of the container (its cgroup).")]
    public bool All { get; set; }

    [Option('s', "signal", MetaValue = "SIGNAL", HelpText = "The signal, as docker kill takes it (the same as the SIGNAL operand).")]
    public string? SignalOption { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";

    [Value(1, MetaName = "SIGNAL", HelpText = "A name (TERM, SIGKILL) or number.")]
    public string? Signal { get; set; }
}

internal static class KillVerb
{
    public static int Execute(KillOptions options, GlobalOptions globals)
    {
        if (options.SignalOption != null && options.Signal != null)
            throw new IsolateException($"kill: the signal is given twice ('-s {options.SignalOption}' and '{options.Signal}'): give one");
        string? given = options.SignalOption ?? options.Signal;
        int? signal = given is null ? null : Isolate.Spec.ProcessOptionParser.ParseSignal("kill", given);
        // docker kill names each container it killed; runc kill says nothing
        if (ContainerKill.Run(globals.Store, options.Id, signal, options.All) == ContainerKind.Detached)
            Output.Out(options.Id + "\n");
        return 0;
    }
}
