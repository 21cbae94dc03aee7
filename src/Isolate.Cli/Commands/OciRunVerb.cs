using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

/// <summary>`isolate run` in its OCI form (chosen in Program: with -b/--bundle, or a lone id
/// beside a config.json).</summary>
[Verb("oci-run", Hidden = true)]
public sealed class OciRunOptions
{
    [Option('b', "bundle", MetaValue = "DIR")]
    public string? Bundle { get; set; }

    [Option('d', "detach")]
    public bool Detach { get; set; }

    [Option("pid-file", MetaValue = "FILE")]
    public string? PidFile { get; set; }

    [Option("console-socket", MetaValue = "PATH")]
    public string? ConsoleSocket { get; set; }

    [Option("preserve-fds", MetaValue = "N")]
    public string? PreserveFds { get; set; }

    [Option("no-pivot")]
    public bool NoPivot { get; set; }

    [Option("no-new-keyring")]
    public bool NoNewKeyring { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

internal static class OciRunVerb
{
    /// <summary>`isolate run` is the OCI form (run ID from a bundle) when -b/--bundle is given,
    /// or when its only arguments are an id (and -d) in a directory holding config.json, as
    /// `runc run ID` is used in a bundle. Anything else is the docker form (a command).</summary>
    public static bool Applies(string[] args)
    {
        var rest = args.Skip(1).TakeWhile(a => a != "--").ToList();
        if (rest.Any(a => a is "-b" or "--bundle" || a.StartsWith("--bundle=", StringComparison.Ordinal)))
            return true;
        if (args.Contains("--"))
            return false;
        var operands = rest.Where(a => a is not ("-d" or "--detach")).ToList();
        return operands.Count == 1 && !operands[0].StartsWith('-') && File.Exists("config.json");
    }

    public static int Execute(OciRunOptions options, GlobalOptions globals) =>
        OciRun.Run(globals.Store, options.Id, new OciCreateOptions
        {
            Bundle = Path.GetFullPath(options.Bundle ?? "."),
            PidFile = options.PidFile,
            ConsoleSocket = options.ConsoleSocket,
            PreserveFds = Isolate.Spec.ProcessOptionParser.ParsePreserveFds(options.PreserveFds),
        }, options.Detach, globals.DebugSink, globals.Warn);
}
