using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("pause", HelpText = "OCI: freeze every process of a running container (cgroup freezer).")]
public sealed class PauseOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

[Verb("resume", aliases: ["unpause"], HelpText = "OCI: thaw a paused container (docker's unpause).")]
public sealed class ResumeOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

internal static class PauseVerb
{
    public static int Pause(PauseOptions options, GlobalOptions globals)
    {
        ContainerCgroupVerbs.Pause(globals.Store, options.Id, pause: true);
        return 0;
    }

    public static int Resume(ResumeOptions options, GlobalOptions globals)
    {
        ContainerCgroupVerbs.Pause(globals.Store, options.Id, pause: false);
        return 0;
    }
}
