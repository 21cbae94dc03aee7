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
    /// <summary>As docker: each container's status on a line of its own, in the order given; an
    /// id that cannot be waited for (none such) is an error line and exit 125, and the others are
    /// still waited for.</summary>
    public static int Execute(WaitOptions options, GlobalOptions globals)
    {
        int exit = 0;
        foreach (string id in options.Ids)
        {
            try
            {
                Output.Out(DetachedVerbs.Wait(globals.Store, id).ToString(CultureInfo.InvariantCulture) + "\n");
            }
            catch (IsolateException e)
            {
                Output.Error("isolate: " + e.Message);
                exit = ExitCodes.Failure;
            }
        }
        return exit;
    }
}
