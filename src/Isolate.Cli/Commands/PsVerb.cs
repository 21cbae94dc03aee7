using System.Globalization;
using System.Text;
using Isolate.State;
using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("ps", HelpText = "List containers (running; -a: all), as docker ps; with an ID (OCI), the host PIDs of its processes.")]
public sealed class PsOptions
{
    [Option('f', "format", MetaValue = "FORMAT", HelpText = "With an ID: table (default) or json (an array of PIDs, as runc prints).")]
    public string? Format { get; set; }

    [Option('a', "all", HelpText = "Stopped containers too.")]
    public bool All { get; set; }

    [Option('q', "quiet", HelpText = "Only the ids.")]
    public bool Quiet { get; set; }

    [Value(0, MetaName = "ID")]
    public string? Id { get; set; }
}

/// <summary>ps: with an ID, runc's (the host PIDs of its processes); without, docker's (the
/// containers under the root).</summary>
internal static class PsVerb
{
    public static int Execute(PsOptions options, GlobalOptions globals) =>
        options.Id is null ? Containers(options, globals) : Processes(options.Id, options.Format, globals);

    private static int Processes(string id, string? format, GlobalOptions globals)
    {
        var pids = ContainerCgroupVerbs.Processes(globals.Store, id);
        switch (format ?? "table")
        {
            case "json":
                Output.Out("[" + string.Join(",", pids.Select(p => p.ToString(CultureInfo.InvariantCulture))) + "]\n");
                return 0;
            case "table":
                var table = new StringBuilder("PID   COMMAND\n");
                foreach (int pid in pids)
                {
                    string comm = (File.Exists($"/proc/{pid}/comm") ? File.ReadAllText($"/proc/{pid}/comm") : "").Trim();
                    table.Append(CultureInfo.InvariantCulture, $"{pid,-5} {comm}\n");
                }
                Output.Out(table.ToString());
                return 0;
            default:
                throw new IsolateException($"invalid --format '{format}': use table or json");
        }
    }

    /// <summary>docker ps: every container under the root (running ones; -a: all).</summary>
    private static int Containers(PsOptions options, GlobalOptions globals)
    {
        var rows = ContainerViews.List(globals.Store)
            .Where(r => r.State != null && (options.All || r.Status is ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Created))
            .Select(r => (State: r.State!, r.Status)).ToList();
        if (options.Quiet)
        {
            Output.Out(string.Concat(rows.Select(r => r.State.Id + "\n")));
            return 0;
        }
        var table = new StringBuilder();
        table.Append(CultureInfo.InvariantCulture, $"{"CONTAINER",-20} {"STATUS",-14} {"PID",-8} {"CREATED",-20} COMMAND\n");
        foreach (var (state, status) in rows)
        {
            string command = state.Command is { } c ? string.Join(' ', c) : $"(OCI bundle {state.Bundle})";
            string created = state.Created.Length >= 19 ? state.Created[..19].Replace('T', ' ') : state.Created;
            string pid = status == ContainerStatus.Stopped ? "-" : state.Pid.ToString(CultureInfo.InvariantCulture);
            table.Append(CultureInfo.InvariantCulture, $"{state.Id,-20} {DetachedVerbs.Describe(state, status),-14} {pid,-8} {created,-20} {command}\n");
        }
        Output.Out(table.ToString());
        return 0;
    }
}
