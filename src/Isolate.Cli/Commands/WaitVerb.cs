using System.Globalization;
using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("wait", HelpText = "Wait until detached containers stop; print each one's exit status.")]
public sealed class WaitOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public IEnumerable<string> Ids { get; set; } = [];
}

internal static class WaitVerb
{
    public static int Execute(WaitOptions options, GlobalOptions globals)
    {
        foreach (string id in options.Ids)
            Output.Out(DetachedVerbs.Wait(globals.Store, id).ToString(CultureInfo.InvariantCulture) + "\n");
        return 0;
    }
}
