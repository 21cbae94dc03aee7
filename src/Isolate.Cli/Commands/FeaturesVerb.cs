using CommandLine;

namespace Isolate.Cli.Commands;

[Verb("features", HelpText = "OCI: print what this runtime supports, as JSON.")]
public sealed class FeaturesOptions;

internal static class FeaturesVerb
{
    public static int Execute(FeaturesOptions options, GlobalOptions globals)
    {
        Output.Out(Isolate.Oci.OciFeatures.Json(Program.Version) + "\n");
        return 0;
    }
}
