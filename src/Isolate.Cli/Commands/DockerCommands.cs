using System.Globalization;
using System.Text;
using CommandLine;
using Isolate.Runtime;
using Isolate.State;

namespace Isolate.Cli.Commands;

// docker's verbs for containers started with `isolate run -d` (they share the state root
// with OCI containers; exec and ps serve both).

[Verb("stop", HelpText = "Stop detached containers: their stop signal, then SIGKILL after the stop timeout.")]
public sealed class StopOptions
{
    [Option('t', "time", MetaValue = "SECONDS", HelpText = "Seconds to wait before SIGKILL (default: the container's --stop-timeout).")]
    public string? Time { get; set; }

    [Value(0, MetaName = "ID", Required = true, HelpText = "One or more containers.")]
    public IEnumerable<string> Ids { get; set; } = [];
}

[Verb("wait", HelpText = "Wait until detached containers stop; print each one's exit status.")]
public sealed class WaitOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public IEnumerable<string> Ids { get; set; } = [];
}

[Verb("logs", HelpText = "Print what a detached container wrote (stdout and stderr).")]
public sealed class LogsOptions
{
    [Option('f', "follow", HelpText = "Keep printing until it stops.")]
    public bool Follow { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

[Verb("rm", HelpText = "Remove stopped detached containers (-f: kill running ones first).")]
public sealed class RmOptions
{
    [Option('f', "force", HelpText = "Kill it first if it runs.")]
    public bool Force { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public IEnumerable<string> Ids { get; set; } = [];
}

public static class DockerCommands
{
    public static int Stop(StopOptions options, GlobalOptions globals)
    {
        TimeSpan? time = options.Time is null ? null
            : int.TryParse(options.Time, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) ? TimeSpan.FromSeconds(seconds)
            : throw new IsolateException($"invalid --time '{options.Time}': give whole seconds");
        foreach (string id in options.Ids)
        {
            DetachedContainers.Stop(globals.Store, id, time);
            Output.Out(id + "\n");
        }
        return 0;
    }

    public static int Wait(WaitOptions options, GlobalOptions globals)
    {
        int last = 0;
        foreach (string id in options.Ids)
        {
            last = DetachedContainers.Wait(globals.Store, id);
            Output.Out(last.ToString(CultureInfo.InvariantCulture) + "\n");
        }
        return 0;
    }

    public static int Logs(LogsOptions options, GlobalOptions globals)
    {
        using var stdout = Console.OpenStandardOutput();
        DetachedContainers.Logs(globals.Store, options.Id, options.Follow, stdout);
        return 0;
    }

    public static int Rm(RmOptions options, GlobalOptions globals)
    {
        foreach (string id in options.Ids)
        {
            DetachedContainers.Remove(globals.Store, id, options.Force);
            Output.Out(id + "\n");
        }
        return 0;
    }

    /// <summary>docker ps: every container under the root (running ones; -a: all).</summary>
    public static int List(PsOptions options, GlobalOptions globals)
    {
        var rows = OciRuntime.ListStates(globals.Store).Where(r => options.All || r.Status is "running" or "paused" or "created").ToList();
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
            table.Append(CultureInfo.InvariantCulture,
                $"{state.Id,-20} {DetachedContainers.Describe(state, status),-14} {(status == "stopped" ? "-" : state.Pid.ToString(CultureInfo.InvariantCulture)),-8} {created,-20} {command}\n");
        }
        Output.Out(table.ToString());
        return 0;
    }
}
