using System.Globalization;
using System.Text;
using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("list", HelpText = "OCI: list the containers under the state root.")]
public sealed class ListOptions
{
    [Option('q', "quiet", HelpText = "Only the ids.")]
    public bool Quiet { get; set; }

    [Option('f', "format", MetaValue = "FORMAT", HelpText = "table (default) or json.")]
    public string? Format { get; set; }
}

internal static class ListVerb
{
    public static int Execute(ListOptions options, GlobalOptions globals)
    {
        var views = ContainerViews.OciList(globals.Store);
        if (options.Quiet)
        {
            Output.Out(string.Concat(views.Select(v => v.Id + "\n")));
            return 0;
        }
        switch (options.Format ?? "table")
        {
            case "json":
                Output.Out(ContainerViews.ListJson(views) + "\n");
                return 0;
            case "table":
                var table = new StringBuilder();
                table.Append(CultureInfo.InvariantCulture, $"{"ID",-20} {"PID",-8} {"STATUS",-10} {"BUNDLE",-40} {"CREATED",-30} OWNER\n");
                foreach (var v in views)
                    table.Append(CultureInfo.InvariantCulture, $"{v.Id,-20} {v.Pid,-8} {v.Status,-10} {v.Bundle,-40} {v.Created,-30} {v.Owner}\n");
                Output.Out(table.ToString());
                return 0;
            default:
                throw new IsolateException($"invalid --format '{options.Format}': use table or json");
        }
    }
}
