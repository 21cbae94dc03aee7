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

    [Option("no-trunc", HelpText = "Show each command whole (default: cut at 40 characters, with an ellipsis).")]
    public bool NoTrunc { get; set; }

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
        Output.Out(Table(rows, DateTime.UtcNow, options.NoTrunc));
        return 0;
    }

    /// <summary>Where ps cuts a command (docker cuts at 20; its quotes and ids need less room).</summary>
    internal const int CommandWidth = 40;

    /// <summary>docker ps's table: each column as wide as its widest entry, so a long name never
    /// pushes the others out of line; the command last, cut unless <paramref name="noTrunc"/>.</summary>
    internal static string Table(IReadOnlyList<(ContainerState State, ContainerStatus Status)> rows, DateTime now, bool noTrunc)
    {
        // a PORTS column (docker's) only where a container publishes any: tables without stay as they were
        var ports = rows.Select(r => r.Status == ContainerStatus.Stopped ? "" : string.Join(", ",
            Isolate.Network.ContainerNetwork.PublishedBy(r.State.Id).Select(p => $"{(p.HostIp.Length == 0 ? "0.0.0.0" : p.HostIp)}:{p.HostPort}->{p.ContainerPort}/{p.Protocol}"))).ToList();
        bool withPorts = ports.Any(p => p.Length > 0);
        var cells = new List<string[]> { withPorts ? ["CONTAINER", "STATUS", "PID", "CREATED", "PORTS", "COMMAND"] : ["CONTAINER", "STATUS", "PID", "CREATED", "COMMAND"] };
        int row = 0;
        foreach (var (state, status) in rows)
        {
            string command = Printable(state.Command is { } c ? string.Join(' ', c) : $"(OCI bundle {state.Bundle})");
            if (!noTrunc && command.Length > CommandWidth)
                command = command[..(CommandWidth - 1)] + "\u2026";
            string created = state.Created.Length >= 19 ? state.Created[..19].Replace('T', ' ') : state.Created;
            string pid = status == ContainerStatus.Stopped ? "-" : state.Pid.ToString(CultureInfo.InvariantCulture);
            cells.Add(withPorts
                ? [Printable(state.Id), DetachedVerbs.Describe(state, status, now), pid, created, ports[row], command]
                : [Printable(state.Id), DetachedVerbs.Describe(state, status, now), pid, created, command]);
            row++;
        }
        int last = cells[0].Length - 1;
        int[] widths = [.. Enumerable.Range(0, last).Select(column => cells.Max(cell => cell[column].Length))];
        var table = new StringBuilder();
        foreach (string[] cell in cells)
        {
            for (int column = 0; column < last; column++)
                table.Append(cell[column].PadRight(widths[column] + 3));
            table.Append(cell[last]).Append('\n');
        }
        return table.ToString();
    }

    /// <summary>A line break or tab in a command would break the table: shown as \n, \t, \xNN.</summary>
    private static string Printable(string text) =>
        text.Any(char.IsControl)
            ? string.Concat(text.Select(ch => ch switch
            {
                '\n' => "\\n",
                '\t' => "\\t",
                _ when char.IsControl(ch) => $"\\x{(int)ch:x2}",
                _ => ch.ToString(),
            }))
            : text;
}
