using CommandLine;
using Isolate.Plan;
using Isolate.Rootfs;
using Isolate.Runtime;
using Isolate.Spec;

namespace Isolate.Cli.Commands;

[Verb("run", HelpText = "Run a command in a new container and exit with its status.")]
public sealed class RunOptions
{
    [Option("rootfs", MetaValue = "DIR",
        HelpText = "Directory to use as the container's /. Default: the host's own filesystem, read-only, with a private /tmp.")]
    public string? Rootfs { get; set; }

    [Option("hostname", MetaValue = "NAME", HelpText = "Hostname inside the container. Default: a generated 12-digit id.")]
    public string? Hostname { get; set; }

    [Option('w', "workdir", MetaValue = "DIR", HelpText = "Working directory inside the container (created if missing). Default: /.")]
    public string? Workdir { get; set; }

    [Option('e', "env", MetaValue = "KEY=VAL", HelpText = "Set an environment variable; KEY alone copies the host's value. Repeatable.")]
    public IEnumerable<string> Env { get; set; } = [];

    [Option("network", MetaValue = "MODE", Default = "none",
        HelpText = "none: a private network namespace with only lo; host: share the host's network.")]
    public string Network { get; set; } = "none";

    [Value(0, MetaName = "COMMAND [ARG...]", HelpText = "The command to run, looked up in the container's PATH.")]
    public IEnumerable<string> Command { get; set; } = [];
}

internal static class RunCommand
{
    public static int Execute(RunOptions options) => ContainerRunner.Run(ToSpec(options, Environment.GetEnvironmentVariable));

    /// <summary>Options to Isolate's model; every user error is found here, before anything is created.</summary>
    public static ContainerSpec ToSpec(RunOptions options, Func<string, string?> hostVariable)
    {
        // Under Native AOT, CommandLineParser leaves an absent sequence option null.
        var args = (options.Command ?? []).ToList();
        if (args.Count == 0)
            throw new IsolateException("run: no command given; usage: isolate run [OPTIONS] [--] COMMAND [ARG...]");

        var network = options.Network switch
        {
            "none" => NetworkMode.None,
            "host" => NetworkMode.Host,
            _ => throw new IsolateException($"invalid --network '{options.Network}': use 'none' or 'host'"),
        };

        string workdir = options.Workdir ?? "/";
        if (!workdir.StartsWith('/'))
            throw new IsolateException($"invalid --workdir '{workdir}': it must be an absolute path inside the container");

        string hostname = options.Hostname ?? ContainerNames.NewId();
        ContainerNames.ValidateHostname(hostname);

        string? rootfs = options.Rootfs is null ? null : RootfsResolver.Resolve(options.Rootfs);
        bool terminal = HostTerminal.IsTerminal(0) && HostTerminal.IsTerminal(1);
        return new ContainerSpec
        {
            Rootfs = rootfs,
            Hostname = hostname,
            Workdir = workdir,
            Args = args,
            Env = EnvironmentBuilder.Build(hostname, options.Env ?? [], hostVariable, terminal),
            Network = network,
        };
    }
}
