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
    public static int Main(string[] args)
    {
        Isolate.Runtime.SignalForwarder.RecordParent();
        try
        {
            return Dispatch(args);
        }
        catch (IsolateException e)
        {
            Output.Error("isolate: " + e.Message);
            return e.ExitCode;
        }
    }

    private static readonly Type[] Verbs = [typeof(RunOptions)];

    public static int Dispatch(string[] args)
    {
        using var parser = CreateParser();
        var result = parser.ParseArguments(NormalizeArguments(args), Verbs);
        return result switch
        {
            Parsed<object> { Value: RunOptions run } => RunCommand.Execute(run),
            NotParsed<object> notParsed => ReportParseErrors(notParsed),
            _ => throw new IsolateException("internal error: unhandled command"),
        };
    }

    public static string[] NormalizeArguments(string[] args) => args.FirstOrDefault() switch
    {
        "run" => PosixArguments.Normalize(args, RunOptions.Table, OptionalValues),
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
            Output.Out($"isolate {Version}\n");
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
