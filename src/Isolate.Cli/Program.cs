using System.Diagnostics.CodeAnalysis;
using CommandLine;
using Isolate.Cli.Commands;
using Isolate.Containers;
using Isolate.Runtime;

namespace Isolate.Cli;

public static class Program
{
    // CommandLineParser builds options objects by reflection; under Native AOT the
    // trimmer must keep every member of each options type in Verbs.All (see ../shared/TOOLCHAIN.md).
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(RunOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ExecOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(PsOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(PortOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(StopOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(WaitOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(LogsOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(RmOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(UpdateOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(SpecOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(CreateOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(StartOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(StateOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(KillOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(DeleteOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ListOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(PauseOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ResumeOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(FeaturesOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(InfoOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(OciRunOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(RunEverydayOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(PullOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(LoadOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ImagesOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(RmiOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ImageInspectOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(ImagePruneOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(LoginOptions))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(LogoutOptions))]
    public static int Main(string[] args)
    {
        Isolate.Runtime.Timing.Mark("runtime");
        try
        {
            return Run(args);
        }
        finally
        {
            if (Isolate.Runtime.Timing.Enabled)
            {
                Isolate.Runtime.Timing.Mark("teardown");
                Output.Error("isolate: " + Isolate.Runtime.Timing.Report() + "\n");
            }
        }
    }

    private static int Run(string[] args)
    {
        Isolate.Runtime.SignalForwarder.RecordParent();
        var globals = new GlobalOptions();
        try
        {
            // the arguments as bytes: a command line is run as it was given, not as .NET decoded it
            args = Isolate.Interop.HostProcess.Arguments(args);
            globals = GlobalOptions.Extract(ref args);
            return Dispatch(args, globals);
        }
        catch (IsolateException e)
        {
            Output.Error("isolate: " + e.Message);
            globals.LogError(e.Message);
            return e.ExitCode;
        }
        catch (Exception e)
        {
            // never an exception's Message: under UseSystemResourceKeys it is a resource key
            string message = ErrorText.Internal(e);
            Output.Error("isolate: " + message);
            globals.LogError(message);
            return ExitCodes.Failure;
        }
    }

    public static int Dispatch(string[] args) => Dispatch(args, new GlobalOptions());

    public static int Dispatch(string[] args, GlobalOptions globals)
    {
        if (args.Length == 2 && args[0] == DetachedRun.MonitorVerb)
        {
            SealedBinary.Enter(); // started from the read-only binary already: only takes back its name
            return DetachedRun.Monitor(globals.Store, args[1], Output.Error);
        }
        args = HelpForms(args);
        // the version alone needs no parser: the parser's fixed cost (about 3 ms, reflection
        // over the options types) is the most of what `isolate --version` cost
        if (args is ["--version"])
        {
            Output.Out(ParseErrors.VersionText);
            return 0;
        }
        args = ImageSubcommand(args);
        if (args.Length > 0 && args[0] == "run" && OciRunVerb.Applies(args))
            args = ["oci-run", .. args[1..]];
        var verb = Verbs.Find(args.FirstOrDefault());
        if (verb is { EntersContainer: true })
            SealedBinary.Enter();
        using var parser = verb?.Rules == ArgumentRules.Runc ? CreateOciParser() : CreateParser();
        var normalized = AskedForHelp(NormalizeArguments(args));
        if (verb != null && ParseEveryday(parser, verb, normalized) is { } everyday)
            return Execute(verb, everyday, globals);
        // Only the named command's options type: CommandLineParser reflects over every type it
        // is given, and each costs start time (about 1 ms for all of them); --help gets them all.
        var result = parser.ParseArguments(normalized, verb is null ? Verbs.OptionTypes : [verb.Options]);
        return result switch
        {
            Parsed<object> parsed => Execute(Verbs.All.First(v => v.Options == parsed.Value.GetType()), parsed.Value, globals),
            NotParsed<object> notParsed => ParseErrors.Report(notParsed, verb),
            _ => throw new IsolateException("internal error: unhandled command"),
        };
    }

    /// <summary>docker's `image` group: `image ls|rm|pull|load|inspect|prune` are the verbs
    /// images, rmi, pull, load, image-inspect and image-prune.</summary>
    public static string[] ImageSubcommand(string[] args)
    {
        if (args.Length == 0 || args[0] != "image")
            return args;
        if (args.Length == 1 || args[1] is "-h" or "--help")
            throw new IsolateException("usage: isolate image ls|rm|pull|load|inspect|prune [ARGS]");
        string verb = args[1] switch
        {
            "ls" or "list" => "images",
            "rm" or "remove" => "rmi",
            "pull" => "pull",
            "load" => "load",
            "inspect" => "image-inspect",
            "prune" => "image-prune",
            _ => throw new IsolateException($"unknown command 'image {args[1]}'; use isolate image ls|rm|pull|load|inspect|prune"),
        };
        return [verb, .. args[2..]];
    }

    /// <summary>`run` with only its everyday options, parsed as <see cref="RunEverydayOptions"/>
    /// (the parser's cost grows with the options it is handed) and returned as the RunOptions
    /// the full parse would give; null: any other verb or option, or a line that does not
    /// parse (the full parse then says what is wrong).</summary>
    internal static object? ParseEveryday(Parser parser, Verb verb, string[] normalized) =>
        verb.Name == "run" && RunEverydayOptions.Covers(normalized)
        && parser.ParseArguments(normalized, typeof(RunEverydayOptions)) is Parsed<object> { Value: RunEverydayOptions everyday }
            ? everyday.ToRunOptions() : null;

    private static int Execute(Verb verb, object options, GlobalOptions globals)
    {
        Isolate.Runtime.Timing.Mark("parse");
        return verb.Execute(options, globals);
    }

    /// <summary>runc's rules for its commands: options may follow the id.</summary>
    public static Parser CreateOciParser() => HostTerminal.WithStdoutOffTerminal(() => new Parser(settings =>
    {
        settings.GetoptMode = true;
        settings.PosixlyCorrect = false;
        settings.EnableDashDash = true;
        settings.AllowMultiInstance = false;
        settings.CaseSensitive = true;
        settings.AutoHelp = true;
        settings.AutoVersion = true;
        settings.HelpWriter = null;
    }));

    /// <summary>docker's and git's ways to ask for help, made the parser's own --help: `help`,
    /// `help VERB` (the verb's help, as `VERB --help`) and a global -h.</summary>
    public static string[] HelpForms(string[] args)
    {
        if (args.Length == 0)
            return args;
        if (args[0] == "-h")
            return ["--help"];
        if (args[0] != "help")
            return args;
        if (args.Length == 1)
            return ["--help"];
        return Verbs.Find(args[1]) is { Hidden: false } ? [args[1], "--help"]
            : throw new IsolateException($"unknown command '{args[1]}'; see 'isolate --help'");
    }

    /// <summary>A verb's -h or --help among its options (the parser sees --help only right after
    /// the verb): the verb's help. Options end at "--", where run and exec's normalized
    /// arguments mark their command, so a command's own -h is left alone.</summary>
    public static string[] AskedForHelp(string[] normalized)
    {
        if (normalized.Length < 2 || Verbs.Find(normalized[0]) is null)
            return normalized;
        int end = Array.IndexOf(normalized, "--") is >= 0 and var dashes ? dashes : normalized.Length;
        return normalized[1..end].Any(a => a is "-h" or "--help") ? [normalized[0], "--help"] : normalized;
    }

    public static string[] NormalizeArguments(string[] args) =>
        Verbs.Find(args.FirstOrDefault()) is { Normalize: { } normalize } ? normalize(args) : args;

    /// <summary>POSIX rules: options end at the first operand or at "--", so
    /// `isolate run sh -c 'ls -la'` passes `-c` and `ls -la` to sh untouched.</summary>
    public static Parser CreateParser() => HostTerminal.WithStdoutOffTerminal(() => new Parser(settings =>
    {
        settings.GetoptMode = true;
        settings.PosixlyCorrect = true;
        settings.EnableDashDash = true;
        settings.AllowMultiInstance = true;
        settings.CaseSensitive = true;
        settings.AutoHelp = true;
        settings.AutoVersion = true;
        settings.HelpWriter = null; // errors are rendered as one line by ParseErrors
    }));

    public static string Version =>
        typeof(Program).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "unknown";
}
