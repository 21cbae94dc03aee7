using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

/// <summary>`isolate run` in its OCI form (chosen in Program: see <see cref="OciRunVerb.Applies"/>).</summary>
[Verb("oci-run", Hidden = true)]
public sealed class OciRunOptions
{
    [Option('b', "bundle", MetaValue = "DIR")]
    public string? Bundle { get; set; }

    [Option('d', "detach")]
    public bool Detach { get; set; }

    /// <summary>runc's --keep: the container is not deleted when it exits (`delete` does it).</summary>
    [Option("keep")]
    public bool Keep { get; set; }

    [Option("pid-file", MetaValue = "FILE")]
    public string? PidFile { get; set; }

    [Option("console-socket", MetaValue = "PATH")]
    public string? ConsoleSocket { get; set; }

    [Option("preserve-fds", MetaValue = "N")]
    public string? PreserveFds { get; set; }

    [Option("no-pivot")]
    public bool NoPivot { get; set; }

    [Option("no-new-keyring")]
    public bool NoNewKeyring { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

internal static class OciRunVerb
{
    /// <summary>Options only the OCI form has: an engine's signal that it is runc's `run`.</summary>
    // patterns, not sets: every `isolate run` asks, and a static set costs its start a constructor
    private static bool OciOnly(string name) => name is "bundle" or "console-socket" or "no-pivot" or "no-new-keyring" or "keep";

    /// <summary>Options both forms have, which a lone id may carry in the OCI form.</summary>
    private static bool Shared(string name) => name is "detach" or "pid-file" or "preserve-fds";

    /// <summary>`isolate run` is the OCI form (run ID from a bundle) when an option only runc's
    /// `run` has is given (-b/--bundle, --console-socket, --no-pivot, --no-new-keyring, --keep), which
    /// engines always pass. Without one, `cd bundle &amp;&amp; isolate run ID` is the OCI form only
    /// where it is unambiguous: the one operand is not a command (no '/', no such executable on
    /// PATH), no "--" was typed, the options are only -d, --pid-file, --preserve-fds, and
    /// ./config.json is an OCI bundle's (it has "ociVersion"). Anything else is the docker form:
    /// an application's config.json never changes what `isolate run CMD` does.</summary>
    public static bool Applies(string[] args)
    {
        // read only past an OCI-only option: an engine's `run --bundle B ID` never builds it
        OptionTable? table = null;
        var operands = new List<string>();
        bool onlyShared = true;
        for (int i = 1; i < args.Length && operands.Count == 0; i++)
        {
            string token = args[i];
            if (token == "--")
                return false;
            if (token.StartsWith("--", StringComparison.Ordinal))
            {
                string name = token[2..].Split('=')[0];
                if (OciOnly(name))
                    return true;
                onlyShared &= Shared(name);
                table ??= RunOptions.Table;
                if (!token.Contains('=') && table.Long.TryGetValue(name, out bool takesValue) && takesValue)
                    i++;
                continue;
            }
            if (token.Length > 1 && token[0] == '-')
            {
                for (int c = 1; c < token.Length; c++)
                {
                    if (token[c] == 'b')
                        return true;
                    table ??= RunOptions.Table;
                    if (!table.Short.TryGetValue(token[c], out string? name))
                        break;
                    onlyShared &= Shared(name);
                    if (table.Long.TryGetValue(name, out bool takesValue) && takesValue)
                    {
                        if (c == token.Length - 1)
                            i++;
                        break;
                    }
                }
                continue;
            }
            operands.Add(token);
        }
        return onlyShared && operands.Count == 1 && args[^1] == operands[0]
            && IsOciBundle("config.json") && !IsCommand(operands[0]); // a stat, before a walk of PATH
    }

    private static bool IsCommand(string operand) =>
        operand.Contains('/') || (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, operand)));

    private static bool IsOciBundle(string config)
    {
        try
        {
            return File.Exists(config) && File.ReadAllText(config).Contains("\"ociVersion\"", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // not a bundle we could read: the docker form
        }
    }

    public static int Execute(OciRunOptions options, GlobalOptions globals) =>
        OciRun.Run(globals.Store, options.Id, new OciCreateOptions
        {
            Bundle = Path.GetFullPath(options.Bundle ?? "."),
            PidFile = options.PidFile,
            ConsoleSocket = options.ConsoleSocket,
            PreserveFds = Isolate.Spec.ProcessOptionParser.ParsePreserveFds(options.PreserveFds),
            SystemdCgroup = globals.SystemdCgroup,
        }, options.Detach, globals.DebugSink, globals.Warn, keep: options.Keep);
}
