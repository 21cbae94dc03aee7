using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using CommandLine;

namespace Isolate.Cli;

/// <summary>Two gaps between CommandLineParser (even in getopt mode) and POSIX are closed
/// here, before the parser sees the arguments:
/// - sequence options swallow the operands after them: `isolate run -e A=1 sh -c x` would
///   make "sh" an environment entry and "-c" the command. Options end at the first operand,
///   so that point is marked with "--".
/// - a repeated option's values are grouped by spelling (all -e, then all --env), so
///   `-e A=1 --env A=2 -e A=3` would end with A=2. Every option is rewritten to its long
///   spelling, which keeps the order the user gave.
/// Which options exist and take a value is read from the options type itself.</summary>
internal static class PosixArguments
{
    /// <param name="table">The verb's options (see <see cref="OptionTable"/>).</param>
    /// <param name="optionalValues">Long options whose value may be omitted, with the value
    /// they then take (only the --name=value spelling gives another one).</param>
    public static string[] Normalize(string[] args, OptionTable table, IReadOnlyDictionary<string, string>? optionalValues = null)
    {
        var output = new List<string> { args[0] };
        for (int i = 1; i < args.Length; i++)
        {
            string token = args[i];
            if (token == "--")
            {
                output.AddRange(args[i..]);
                return [.. output];
            }
            if (token.StartsWith("--"))
            {
                string name = token[2..];
                if (optionalValues != null && optionalValues.TryGetValue(name, out string? implied))
                {
                    output.Add($"--{name}={implied}");
                    continue;
                }
                output.Add(token);
                if (!name.Contains('=') && table.Long.TryGetValue(name, out bool takesValue) && takesValue && i + 1 < args.Length)
                    output.Add(args[++i]);
                continue;
            }
            if (token.Length > 1 && token[0] == '-')
            {
                i = ExpandShortCluster(args, i, table, output);
                continue;
            }
            output.Add("--"); // the first operand: options end here
            output.AddRange(args[i..]);
            return [.. output];
        }
        return [.. output];
    }

    /// <summary>"-w/srv", "-w /srv", "-abw /srv" as long options; returns the last index consumed.</summary>
    private static int ExpandShortCluster(string[] args, int i, OptionTable table, List<string> output)
    {
        string token = args[i];
        for (int c = 1; c < token.Length; c++)
        {
            if (!table.Short.TryGetValue(token[c], out string? name) || !table.Long.TryGetValue(name, out bool takesValue))
            {
                output.Add("-" + token[c..]); // unknown: leave it to the parser
                return i;
            }
            if (!takesValue)
            {
                output.Add("--" + name);
                continue;
            }
            if (c < token.Length - 1)
            {
                output.Add($"--{name}={token[(c + 1)..]}");
                return i;
            }
            output.Add("--" + name);
            if (i + 1 < args.Length)
                output.Add(args[++i]);
            return i;
        }
        return i;
    }
}

/// <summary>A verb's options: each long name and whether it takes a value, and the short
/// names. Written out per verb rather than reflected from the attributes on every start
/// (that costs ~0.4 ms under Native AOT); <see cref="FromAttributes{TOptions}"/> is what the
/// tests compare each table with, so the two cannot drift apart.</summary>
internal sealed class OptionTable
{
    public Dictionary<string, bool> Long { get; } = new(StringComparer.Ordinal) { ["help"] = false, ["version"] = false };

    /// <summary>-h is --help for every verb, as docker takes it.</summary>
    public Dictionary<char, string> Short { get; } = new() { ['h'] = "help" };

    public OptionTable(IEnumerable<string> withValue, IEnumerable<string> flags, IReadOnlyDictionary<char, string> shortNames)
    {
        foreach (string name in withValue)
            Long[name] = true;
        foreach (string name in flags)
            Long[name] = false;
        foreach (var (letter, name) in shortNames)
            Short[letter] = name;
    }

    public static OptionTable FromAttributes<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] TOptions>()
    {
        var withValue = new List<string>();
        var flags = new List<string>();
        var shortNames = new Dictionary<char, string>();
        foreach (var property in typeof(TOptions).GetProperties())
        {
            if (property.GetCustomAttribute<OptionAttribute>() is not { } option)
                continue;
            (property.PropertyType == typeof(bool) ? flags : withValue).Add(option.LongName);
            if (!string.IsNullOrEmpty(option.ShortName))
                shortNames[option.ShortName[0]] = option.LongName;
        }
        return new OptionTable(withValue, flags, shortNames);
    }
}
