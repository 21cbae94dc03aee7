using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("spec", HelpText = "OCI: write a default config.json (as runc spec does) into the bundle directory.")]
public sealed class SpecOptions
{
    [Option('b', "bundle", MetaValue = "DIR", HelpText = "The bundle directory (default: the current one).")]
    public string? Bundle { get; set; }

    [Option("rootless", HelpText = "A spec for a non-root user: a user namespace, no network namespace.")]
    public bool Rootless { get; set; }
}

internal static class SpecVerb
{
    public static int Execute(SpecOptions options, GlobalOptions globals)
    {
        string dir = Path.GetFullPath(options.Bundle ?? ".");
        string path = Path.Combine(dir, "config.json");
        if (File.Exists(path))
            throw new IsolateException($"{path} exists already: remove it first");
        if (!Directory.Exists(dir))
            throw new IsolateException($"bundle {dir}: no such directory");
        File.WriteAllText(path, Isolate.Oci.OciDefaultSpec.Json(options.Rootless));
        return 0;
    }
}
