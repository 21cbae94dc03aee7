using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("exec", HelpText = "Run another command in a running container (its namespaces, cgroup, user, capabilities and seccomp filter).")]
public sealed class ExecOptions
{
    internal static readonly OptionTable Table = new(
        withValue: ["process", "cwd", "env", "user", "pid-file", "console-socket", "preserve-fds"],
        flags: ["tty", "interactive", "detach"],
        shortNames: new Dictionary<char, string> { ['t'] = "tty", ['i'] = "interactive", ['d'] = "detach", ['p'] = "process", ['e'] = "env", ['u'] = "user" });

    [Option('t', "tty", HelpText = "A terminal for the command (from the container's devpts); interactive when stdin is one.")]
    public bool Tty { get; set; }

    [Option('i', "interactive", HelpText = "With -t, pass your input to the command's terminal (it must be a terminal). Without -t stdin is always passed through.")]
    public bool Interactive { get; set; }

    [Option('d', "detach", HelpText = "Start it and return; it is not waited for (with --pid-file, a subreaper collects it).")]
    public bool Detach { get; set; }

    [Option('p', "process", MetaValue = "FILE", HelpText = "An OCI process JSON (args, env, cwd, user, capabilities, terminal) instead of the options.")]
    public string? Process { get; set; }

    [Option("cwd", MetaValue = "DIR", HelpText = "Its working directory (default: the container's).")]
    public string? Cwd { get; set; }

    [Option('e', "env", MetaValue = "KEY=VAL", HelpText = "Set a variable on top of the container's environment. Repeatable.")]
    public IEnumerable<string> Env { get; set; } = [];

    [Option('u', "user", MetaValue = "UID[:GID]", HelpText = "Run as this user (default: the container's).")]
    public string? User { get; set; }

    [Option("pid-file", MetaValue = "FILE", HelpText = "Write the command's host PID to FILE.")]
    public string? PidFile { get; set; }

    [Option("console-socket", MetaValue = "PATH", HelpText = "With -t and -d: a unix socket to send the terminal's master to.")]
    public string? ConsoleSocket { get; set; }

    [Option("preserve-fds", MetaValue = "N", HelpText = "Pass fds 3 .. 3+N-1 on to the command.")]
    public string? PreserveFds { get; set; }

    [Value(0, MetaName = "ID", Required = true, HelpText = "The container.")]
    public string Id { get; set; } = "";

    [Value(1, MetaName = "COMMAND [ARG...]", HelpText = "The command (not with --process).")]
    public IEnumerable<string> Command { get; set; } = [];
}

internal static class ExecVerb
{
    public static int Execute(ExecOptions options, GlobalOptions globals)
    {
        var command = (options.Command ?? []).ToList();
        if (options.Process is null && command.Count == 0)
            throw new IsolateException("exec: no command given; usage: isolate exec [OPTIONS] ID COMMAND [ARG...] (or --process FILE)");
        if (options.Process != null && command.Count > 0)
            throw new IsolateException("exec: give either --process FILE or a command, not both");
        return ContainerExec.Run(globals.Store, options.Id, new ExecRequest
        {
            ProcessFile = options.Process,
            Args = command,
            Tty = options.Tty,
            Interactive = options.Interactive,
            Detach = options.Detach,
            Cwd = options.Cwd,
            Env = (options.Env ?? []).ToList(),
            User = options.User,
            PidFile = options.PidFile,
            ConsoleSocket = options.ConsoleSocket,
            PreserveFds = Isolate.Spec.ProcessOptionParser.ParsePreserveFds(options.PreserveFds),
        }, globals.DebugSink);
    }
}
