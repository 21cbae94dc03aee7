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

[Verb("update", HelpText = "Change a running container's resource limits (runc update, docker update).")]
public sealed class UpdateOptions
{
    [Option('m', "memory", MetaValue = "SIZE", HelpText = "Memory limit (b, k, m, g).")]
    public string? Memory { get; set; }

    [Option("memory-swap", MetaValue = "SIZE", HelpText = "Memory plus swap (-1: unlimited swap).")]
    public string? MemorySwap { get; set; }

    [Option("cpus", MetaValue = "N", HelpText = "CPU time, in CPUs.")]
    public string? Cpus { get; set; }

    [Option("cpu-shares", MetaValue = "N", HelpText = "Relative CPU weight, 2 to 262144.")]
    public string? CpuShares { get; set; }

    [Option("cpuset-cpus", MetaValue = "LIST", HelpText = "CPUs it may run on.")]
    public string? CpusetCpus { get; set; }

    [Option("pids-limit", MetaValue = "N", HelpText = "At most N processes and threads (-1: none).")]
    public string? PidsLimit { get; set; }

    [Option("blkio-weight", MetaValue = "N", HelpText = "Block I/O weight, 10 to 1000.")]
    public string? BlkioWeight { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

public static class DockerCommands
{
    public static int Update(UpdateOptions options, GlobalOptions globals)
    {
        long? memory = options.Memory is null ? null : Spec.ResourceParser.ParseSize("--memory", options.Memory);
        var limits = new Spec.ResourceLimits
        {
            MemoryBytes = memory,
            MemorySwapBytes = options.MemorySwap is null ? null : Spec.ResourceParser.ParseMemorySwap(options.MemorySwap, memory),
            CpuQuotaMicros = options.Cpus is null ? null : Spec.ResourceParser.ParseCpus(options.Cpus, Environment.ProcessorCount),
            CpuShares = options.CpuShares is null ? null : Spec.ResourceParser.ParseCpuShares(options.CpuShares),
            CpusetCpus = options.CpusetCpus,
            PidsLimit = options.PidsLimit is null ? null : Spec.ResourceParser.ParsePidsLimit(options.PidsLimit),
            IoWeight = options.BlkioWeight is null ? null : Spec.ResourceParser.ParseIoWeight(options.BlkioWeight),
        };
        OciRuntime.Update(globals.Store, options.Id, limits, line => Output.Error("isolate: warning: " + line));
        return 0;
    }

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
