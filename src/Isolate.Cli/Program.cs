using System.Diagnostics.CodeAnalysis;
using CommandLine;
using CommandLine.Text;
using Isolate.Cli.Commands;

namespace Isolate.Cli;

public static class Program
{
    // CommandLineParser builds options objects by reflection; under Native AOT the
    // trimmer must keep every member of each options type (see ../shared/TOOLCHAIN.md).
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(RunOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(SpecOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(CreateOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(StartOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(StateOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(KillOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(DeleteOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ListOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(FeaturesOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(OciRunOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ExecOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(PauseOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ResumeOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(PsOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(StopOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(WaitOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(LogsOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(RmOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(UpdateOptions))]
    public static int Main(string[] args)
    {
        Isolate.Runtime.SignalForwarder.RecordParent();
        var globals = new GlobalOptions();
        try
        {
            globals = GlobalOptions.Extract(ref args);
            return Dispatch(args, globals);
        }
        catch (IsolateException e)
        {
            Output.Error("isolate: " + e.Message);
            globals.LogError(e.Message);
            return e.ExitCode;
        }
    }

    /// <summary>Every command, for --help; `oci-run` is `run` in its OCI form (see IsOciRun).</summary>
    private static readonly Type[] Verbs =
    [
        typeof(RunOptions), typeof(SpecOptions), typeof(CreateOptions), typeof(StartOptions), typeof(StateOptions),
        typeof(KillOptions), typeof(DeleteOptions), typeof(ListOptions), typeof(FeaturesOptions), typeof(ExecOptions),
        typeof(PauseOptions), typeof(ResumeOptions), typeof(PsOptions), typeof(StopOptions), typeof(WaitOptions),
        typeof(LogsOptions), typeof(RmOptions), typeof(UpdateOptions), typeof(OciRunOptions),
    ];

    private static Type? VerbFor(string? name) => name switch
    {
        "run" => typeof(RunOptions),
        "spec" => typeof(SpecOptions),
        "create" => typeof(CreateOptions),
        "start" => typeof(StartOptions),
        "state" => typeof(StateOptions),
        "kill" => typeof(KillOptions),
        "delete" => typeof(DeleteOptions),
        "list" => typeof(ListOptions),
        "features" => typeof(FeaturesOptions),
        "exec" => typeof(ExecOptions),
        "pause" => typeof(PauseOptions),
        "resume" => typeof(ResumeOptions),
        "ps" => typeof(PsOptions),
        "stop" => typeof(StopOptions),
        "wait" => typeof(WaitOptions),
        "logs" => typeof(LogsOptions),
        "rm" => typeof(RmOptions),
        "update" => typeof(UpdateOptions),
        "oci-run" => typeof(OciRunOptions),
        _ => null,
    };

    private static readonly HashSet<string> OciVerbs = ["spec", "create", "start", "state", "kill", "delete", "list", "features", "pause", "resume", "ps", "stop", "wait", "logs", "rm", "update", "oci-run"];

    public static int Dispatch(string[] args) => Dispatch(args, new GlobalOptions());

    public static int Dispatch(string[] args, GlobalOptions globals)
    {
        string? monitorFor = null;
        if (args.Length >= 3 && args[0] == Isolate.Runtime.DetachedContainers.MonitorVerb)
        {
            monitorFor = args[1];
            args = args[2..];
        }
        string[] runArguments = args;
        if (args.Length > 0 && args[0] == "run" && IsOciRun(args))
            args = ["oci-run", .. args[1..]];
        bool oci = args.Length > 0 && OciVerbs.Contains(args[0]);
        using var parser = oci ? CreateOciParser() : CreateParser();
        // Only the named command's options type: CommandLineParser reflects over every type it
        // is given, and each costs start time (about 1 ms for all of them); --help gets them all.
        var result = parser.ParseArguments(oci ? args : NormalizeArguments(args), VerbFor(args.FirstOrDefault()) is { } one ? [one] : Verbs);
        return result switch
        {
            Parsed<object> { Value: RunOptions run } => RunCommand.Execute(run, globals, runArguments, monitorFor),
            Parsed<object> { Value: StopOptions o } => DockerCommands.Stop(o, globals),
            Parsed<object> { Value: WaitOptions o } => DockerCommands.Wait(o, globals),
            Parsed<object> { Value: LogsOptions o } => DockerCommands.Logs(o, globals),
            Parsed<object> { Value: RmOptions o } => DockerCommands.Rm(o, globals),
            Parsed<object> { Value: UpdateOptions o } => DockerCommands.Update(o, globals),
            Parsed<object> { Value: SpecOptions o } => OciCommands.Spec(o),
            Parsed<object> { Value: CreateOptions o } => OciCommands.Create(o, globals),
            Parsed<object> { Value: StartOptions o } => OciCommands.Start(o, globals),
            Parsed<object> { Value: StateOptions o } => OciCommands.State(o, globals),
            Parsed<object> { Value: KillOptions o } => OciCommands.Kill(o, globals),
            Parsed<object> { Value: DeleteOptions o } => OciCommands.Delete(o, globals),
            Parsed<object> { Value: ListOptions o } => OciCommands.List(o, globals),
            Parsed<object> { Value: FeaturesOptions o } => OciCommands.Features(o),
            Parsed<object> { Value: OciRunOptions o } => OciCommands.Run(o, globals),
            Parsed<object> { Value: ExecOptions o } => OciCommands.Exec(o, globals),
            Parsed<object> { Value: PauseOptions o } => OciCommands.Pause(o.Id, pause: true, globals),
            Parsed<object> { Value: ResumeOptions o } => OciCommands.Pause(o.Id, pause: false, globals),
            Parsed<object> { Value: PsOptions o } => OciCommands.Ps(o, globals),
            NotParsed<object> notParsed => ReportParseErrors(notParsed),
            _ => throw new IsolateException("internal error: unhandled command"),
        };
    }

    /// <summary>`isolate run` is the OCI form (run ID from a bundle) when -b/--bundle is given,
    /// or when its only arguments are an id (and -d) in a directory holding config.json, as
    /// `runc run ID` is used in a bundle. Anything else is the docker form (a command).</summary>
    public static bool IsOciRun(string[] args)
    {
        var rest = args.Skip(1).TakeWhile(a => a != "--").ToList();
        if (rest.Any(a => a is "-b" or "--bundle" || a.StartsWith("--bundle=", StringComparison.Ordinal)))
            return true;
        if (args.Contains("--"))
            return false;
        var operands = rest.Where(a => a is not ("-d" or "--detach")).ToList();
        return operands.Count == 1 && !operands[0].StartsWith('-') && File.Exists("config.json");
    }

    /// <summary>runc's rules for its commands: options may follow the id.</summary>
    public static Parser CreateOciParser() => new(settings =>
    {
        settings.GetoptMode = true;
        settings.PosixlyCorrect = false;
        settings.EnableDashDash = true;
        settings.AllowMultiInstance = false;
        settings.CaseSensitive = true;
        settings.AutoHelp = true;
        settings.AutoVersion = true;
        settings.HelpWriter = null;
    });

    public static string[] NormalizeArguments(string[] args) => args.FirstOrDefault() switch
    {
        "run" => PosixArguments.Normalize(args, RunOptions.Table, OptionalValues),
        "exec" => PosixArguments.Normalize(args, ExecOptions.Table),
        _ => args,
    };

    /// <summary>Options whose value may be left out: --stats alone means --stats=text.</summary>
    private static readonly Dictionary<string, string> OptionalValues = new() { ["stats"] = "text" };

    /// <summary>POSIX rules: options end at the first operand or at "--", so
    /// `isolate run sh -c 'ls -la'` passes `-c` and `ls -la` to sh untouched.</summary>
    public static Parser CreateParser() => new(settings =>
    {
        settings.GetoptMode = true;
        settings.PosixlyCorrect = true;
        settings.EnableDashDash = true;
        settings.AllowMultiInstance = true;
        settings.CaseSensitive = true;
        settings.AutoHelp = true;
        settings.AutoVersion = true;
        settings.HelpWriter = null; // errors are rendered as one line below
    });

    private static int ReportParseErrors(NotParsed<object> result)
    {
        var errors = result.Errors.ToList();
        if (errors.Any(e => e is VersionRequestedError))
        {
            Output.Out($"isolate version {Version}\nspec: {Isolate.Oci.OciDefaultSpec.Version}\n"
                + "features: oci-runtime (create, start, state, kill, delete, exec, pause, resume, ps, list, features), "
                + "hooks (prestart, createRuntime, createContainer, startContainer, poststart, poststop), console-socket, seccomp (built-in BPF compiler), "
                + "cgroup v1, cgroup v2, user namespaces, rootless, pty, init\n");
            return 0;
        }
        if (errors.Any(e => e is HelpRequestedError or HelpVerbRequestedError))
        {
            Output.Out(RenderHelp(result) + "\n");
            return 0;
        }
        throw new IsolateException(Describe(errors[0]));
    }

    public static string Version =>
        typeof(Program).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "unknown";

    private static string RenderHelp(NotParsed<object> result)
    {
        var help = HelpText.AutoBuild(result, h =>
        {
            h.Heading = $"isolate {Version} - run a command in its own namespaces, root filesystem and cgroup";
            h.Copyright = "";
            h.AddDashesToOption = true;
            h.AdditionalNewLineAfterOption = false;
            h.MaximumDisplayWidth = 100;
            h.AddPostOptionsLine("Exit status: the command's own; 128+N if killed by signal N; "
                + "125 Isolate failed, 126 cannot execute, 127 not found.");
            return h;
        }, e => e, verbsIndex: true);
        return help.ToString().TrimEnd();
    }

    private static string Describe(Error error) => error switch
    {
        UnknownOptionError u => $"unknown option '{Dash(u.Token)}'; see 'isolate run --help'",
        MissingValueOptionError m => $"option '{Dash(m.NameInfo.NameText)}' needs a value; see 'isolate run --help'",
        BadFormatConversionError b => $"option '{Dash(b.NameInfo.NameText)}' has a bad value; see 'isolate run --help'",
        BadVerbSelectedError v => $"unknown command '{v.Token}'; see 'isolate --help'",
        NoVerbSelectedError => "no command given; see 'isolate --help'",
        RepeatedOptionError r => $"option '{Dash(r.NameInfo.NameText)}' given more than once",
        SequenceOutOfRangeError s => $"option '{Dash(s.NameInfo.NameText)}' has the wrong number of values",
        MissingRequiredOptionError m => $"option '{Dash(m.NameInfo.NameText)}' is required",
        _ => $"bad arguments ({error.Tag}); see 'isolate --help'",
    };

    private static string Dash(string name) => name.StartsWith('-') ? name : (name.Length == 1 ? "-" : "--") + name;
}
