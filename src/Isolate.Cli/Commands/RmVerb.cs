using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("rm", HelpText = "Remove stopped detached containers (-f: kill running ones first).")]
public sealed class RmOptions
{
    [Option('f', "force", HelpText = "Kill it first if it runs.")]
    public bool Force { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public IEnumerable<string> Ids { get; set; } = [];
}

internal static class RmVerb
{
    public static int Execute(RmOptions options, GlobalOptions globals)
    {
        foreach (string id in options.Ids)
        {
            DetachedVerbs.Remove(globals.Store, id, options.Force, line => Output.Error("isolate: " + line));
            Output.Out(id + "\n");
        }
        return 0;
    }
}
