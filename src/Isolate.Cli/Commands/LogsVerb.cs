using CommandLine;
using Isolate.Containers;
using Isolate.Logs;

namespace Isolate.Cli.Commands;

[Verb("logs", HelpText = "Print what a detached container wrote: its stdout on stdout, its stderr on stderr.")]
public sealed class LogsOptions
{
    [Option('f', "follow", HelpText = "Keep printing until it stops (across log rotation).")]
    public bool Follow { get; set; }

    [Option("tail", MetaValue = "N", Default = "all", HelpText = "Only the last N lines (all: every line kept).")]
    public string Tail { get; set; } = "all";

    [Option("since", MetaValue = "TIME", HelpText = "Only lines since TIME: RFC 3339 (2026-12-05T07:00:00Z), a Unix time, or a duration before now (10m, 1h).")]
    public string? Since { get; set; }

    [Option('t', "timestamps", HelpText = "Start each line with its time (RFC 3339, nanoseconds, UTC).")]
    public bool Timestamps { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

internal static class LogsVerb
{
    public static int Execute(LogsOptions options, GlobalOptions globals)
    {
        var query = new LogQuery(
            options.Follow,
            LogArguments.ParseTail(options.Tail),
            options.Since is null ? null : LogArguments.ParseSince(options.Since, DateTime.UtcNow),
            options.Timestamps);
        DetachedVerbs.Logs(globals.Store, options.Id, query, stdoutFd: 1, stderrFd: 2);
        return 0;
    }
}
