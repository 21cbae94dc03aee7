using CommandLine;

namespace Isolate.Cli;

/// <summary>What a command line that did not parse gets: --version, --help, or one line that
/// names what is wrong and the help to read (the verb's own).</summary>
internal static class ParseErrors
{
    /// <summary>What --version prints (runc's lines: version, spec, features).</summary>
    public static string VersionText =>
        $"isolate version {Program.Version}\nspec: {Isolate.Oci.OciDefaultSpec.Version}\n"
        + "features: oci-runtime (create, start, state, kill, delete, exec, pause, resume, ps, list, features), "
        + "hooks (prestart, createRuntime, createContainer, startContainer, poststart, poststop), console-socket, seccomp (built-in BPF compiler), "
        + "cgroup v1, cgroup v2, user namespaces, rootless, pty, init\n";

    public static int Report(NotParsed<object> result, Verb? verb)
    {
        var errors = result.Errors.ToList();
        if (errors.Any(e => e is VersionRequestedError))
        {
            Output.Out(VersionText);
            return 0;
        }
        if (errors.Any(e => e is HelpRequestedError or HelpVerbRequestedError))
        {
            Output.Out(RenderHelp(result, errors));
            return 0;
        }
        throw new IsolateException(Describe(errors[0], verb));
    }

    private static string RenderHelp(NotParsed<object> result, IEnumerable<Error> errors)
    {
        // `isolate help run` names its verb in the error, `isolate run --help` in the result
        Type type = errors.OfType<HelpVerbRequestedError>().FirstOrDefault() is { Matched: true } named
            ? named.Type : result.TypeInfo.Current;
        return Verbs.All.FirstOrDefault(v => v.Options == type) is { } verb ? HelpScreen.For(verb) : HelpScreen.Index();
    }

    private static string Describe(Error error, Verb? verb)
    {
        // the OCI form of run is `run` to its user
        string see = verb is null ? "see 'isolate --help'" : $"see 'isolate {(verb.Hidden ? "run" : verb.Name)} --help'";
        return error switch
        {
            UnknownOptionError u => $"unknown option '{Dash(u.Token)}'; {see}",
            MissingValueOptionError m => $"option '{Dash(m.NameInfo.NameText)}' needs a value; {see}",
            BadFormatConversionError b => $"option '{Dash(b.NameInfo.NameText)}' has a bad value; {see}",
            BadVerbSelectedError { Token: "checkpoint" or "restore" } v =>
                $"{v.Token}: Isolate does not checkpoint or restore containers (it has no CRIU); stop the container and run it again",
            BadVerbSelectedError v => $"unknown command '{v.Token}'; see 'isolate --help'",
            NoVerbSelectedError => "no command given; see 'isolate --help'",
            RepeatedOptionError r => $"option '{Dash(r.NameInfo.NameText)}' given more than once; {see}",
            SequenceOutOfRangeError s => $"option '{Dash(s.NameInfo.NameText)}' has the wrong number of values; {see}",
            MissingRequiredOptionError m => $"option '{Dash(m.NameInfo.NameText)}' is required; {see}",
            _ => $"bad arguments ({error.Tag}); {see}",
        };
    }

    private static string Dash(string name) => name.StartsWith('-') ? name : (name.Length == 1 ? "-" : "--") + name;
}
