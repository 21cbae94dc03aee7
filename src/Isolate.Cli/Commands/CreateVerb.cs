using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("create", HelpText = "OCI: create container ID from a bundle, stopped before its command runs (start runs it).")]
public sealed class CreateOptions
{
    [Option('b', "bundle", MetaValue = "DIR", HelpText = "The bundle directory holding config.json (default: the current one).")]
    public string? Bundle { get; set; }

    [Option("pid-file", MetaValue = "FILE", HelpText = "Write the container's PID 1 (host PID) to FILE.")]
    public string? PidFile { get; set; }

    [Option("console-socket", MetaValue = "PATH", HelpText = "With process.terminal: a unix socket to send the terminal's master to.")]
    public string? ConsoleSocket { get; set; }

    [Option("preserve-fds", MetaValue = "N", HelpText = "Pass fds 3 .. 3+N-1 on to the container.")]
    public string? PreserveFds { get; set; }

    [Option("no-pivot", HelpText = "Accepted for runc compatibility; Isolate always uses pivot_root (or, on an initramfs, moves the root).")]
    public bool NoPivot { get; set; }

    [Option("no-new-keyring", HelpText = "Accepted for runc compatibility; Isolate never creates a session keyring.")]
    public bool NoNewKeyring { get; set; }

    [Value(0, MetaName = "ID", Required = true, HelpText = "The container's id.")]
    public string Id { get; set; } = "";
}

internal static class CreateVerb
{
    public static int Execute(CreateOptions options, GlobalOptions globals)
    {
        OciCreate.Run(globals.Store, options.Id, new OciCreateOptions
        {
            Bundle = Path.GetFullPath(options.Bundle ?? "."),
            PidFile = options.PidFile,
            ConsoleSocket = options.ConsoleSocket,
            PreserveFds = Isolate.Spec.ProcessOptionParser.ParsePreserveFds(options.PreserveFds),
            SystemdCgroup = globals.SystemdCgroup,
        }, globals.DebugSink, globals.Warn);
        return 0;
    }
}
