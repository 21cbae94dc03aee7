using System.Diagnostics.CodeAnalysis;
using Isolate.Cli.Commands;

namespace Isolate.Cli;

/// <summary>How a verb's arguments are read. Docker-style verbs follow POSIX (options end at the
/// first operand, so a command's own options reach it); runc's verbs let options follow the id.</summary>
internal enum ArgumentRules
{
    Posix,
    Runc,
}

/// <summary>One command: its name, its options type, how its arguments are read, and what runs it.</summary>
internal sealed record Verb(
    string Name,
    // HelpScreen reads the options' attributes
    [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)]
    [property: DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] Type Options,
    ArgumentRules Rules, Func<object, GlobalOptions, int> Execute)
{
    /// <summary>For PosixArguments: which of its options take a value (run and exec), and
    /// those whose value may be left out, with the value they then take. Made only for the
    /// verb that runs: the tables cost start time.</summary>
    public Func<string[], string[]>? Normalize { get; init; }

    public bool Hidden { get; init; }

    /// <summary>It starts a process inside a container (the container, exec's process, an
    /// in-container hook): it first re-execs from a copy of the binary nothing can write
    /// (<see cref="Isolate.Runtime.SealedBinary"/>). The others skip that exec's cost.</summary>
    public bool EntersContainer { get; init; }

    /// <summary>Other names it answers to (docker's unpause for resume); the [Verb] attribute lists them too.</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];
}

/// <summary>The one table of Isolate's commands (as crun's commands[]): dispatch, help and the
/// AOT roots are all read from it.</summary>
internal static class Verbs
{
    private static Verb Make<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(string name, ArgumentRules rules, Func<T, GlobalOptions, int> execute) =>
        new(name, typeof(T), rules, (options, globals) => execute((T)options, globals));

    public static readonly IReadOnlyList<Verb> All =
    [
        Make<RunOptions>("run", ArgumentRules.Posix, RunVerb.Execute) with
        {
            EntersContainer = true,
            Normalize = args => PosixArguments.Normalize(args, RunOptions.Table, new Dictionary<string, string> { ["stats"] = "text", ["tls-verify"] = "true" }),
        },
        Make<ExecOptions>("exec", ArgumentRules.Posix, ExecVerb.Execute) with
        {
            EntersContainer = true,
            Normalize = args => PosixArguments.Normalize(args, ExecOptions.Table),
        },
        Make<PsOptions>("ps", ArgumentRules.Runc, PsVerb.Execute),
        Make<PortOptions>("port", ArgumentRules.Runc, PortVerb.Execute),
        Make<StopOptions>("stop", ArgumentRules.Runc, StopVerb.Execute),
        Make<WaitOptions>("wait", ArgumentRules.Runc, WaitVerb.Execute),
        Make<LogsOptions>("logs", ArgumentRules.Runc, LogsVerb.Execute),
        Make<RmOptions>("rm", ArgumentRules.Runc, RmVerb.Execute),
        Make<UpdateOptions>("update", ArgumentRules.Runc, UpdateVerb.Execute),
        Make<SpecOptions>("spec", ArgumentRules.Runc, SpecVerb.Execute),
        Make<CreateOptions>("create", ArgumentRules.Runc, CreateVerb.Execute) with { EntersContainer = true },
        Make<StartOptions>("start", ArgumentRules.Runc, StartVerb.Execute), // re-execs only for startContainer hooks (ContainerStart)
        Make<StateOptions>("state", ArgumentRules.Runc, StateVerb.Execute),
        Make<KillOptions>("kill", ArgumentRules.Runc, KillVerb.Execute),
        Make<DeleteOptions>("delete", ArgumentRules.Runc, DeleteVerb.Execute),
        Make<ListOptions>("list", ArgumentRules.Runc, ListVerb.Execute),
        Make<PauseOptions>("pause", ArgumentRules.Runc, PauseVerb.Pause),
        Make<ResumeOptions>("resume", ArgumentRules.Runc, PauseVerb.Resume) with { Aliases = ["unpause"] },
        Make<FeaturesOptions>("features", ArgumentRules.Runc, FeaturesVerb.Execute),
        Make<InfoOptions>("info", ArgumentRules.Runc, InfoVerb.Execute),
        Make<PullOptions>("pull", ArgumentRules.Runc, ImageVerbs.Guarded<PullOptions>(ImageVerbs.Pull)),
        Make<LoadOptions>("load", ArgumentRules.Runc, ImageVerbs.Guarded<LoadOptions>(ImageVerbs.Load)),
        Make<ImagesOptions>("images", ArgumentRules.Runc, ImageVerbs.Guarded<ImagesOptions>(ImageVerbs.Images)),
        Make<RmiOptions>("rmi", ArgumentRules.Runc, ImageVerbs.Guarded<RmiOptions>(ImageVerbs.Remove)),
        Make<ImageInspectOptions>("image-inspect", ArgumentRules.Runc, ImageVerbs.Guarded<ImageInspectOptions>(ImageVerbs.Inspect)) with { Hidden = true },
        Make<ImagePruneOptions>("image-prune", ArgumentRules.Runc, ImageVerbs.Guarded<ImagePruneOptions>(ImageVerbs.Prune)) with { Hidden = true },
        Make<LoginOptions>("login", ArgumentRules.Runc, ImageVerbs.Guarded<LoginOptions>(ImageVerbs.Login)),
        Make<LogoutOptions>("logout", ArgumentRules.Runc, ImageVerbs.Guarded<LogoutOptions>(ImageVerbs.Logout)),
        // `run` in its OCI form (see OciRunVerb.Applies)
        Make<OciRunOptions>("oci-run", ArgumentRules.Runc, OciRunVerb.Execute) with { Hidden = true, EntersContainer = true },
    ];

    public static Verb? Find(string? name) => All.FirstOrDefault(v => v.Name == name || v.Aliases.Contains(name ?? ""));

    public static Type[] OptionTypes => [.. All.Select(v => v.Options)];
}
