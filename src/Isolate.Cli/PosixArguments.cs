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
    /// <summary>For args whose first element is the verb of <typeparamref name="TOptions"/>.</summary>
    public static string[] Normalize<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] TOptions>(string[] args)
    {
        var options = Describe(typeof(TOptions));
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
                output.Add(token);
                string name = token[2..];
                if (!name.Contains('=') && options.Long.TryGetValue(name, out bool takesValue) && takesValue && i + 1 < args.Length)
                    output.Add(args[++i]);
                continue;
            }
            if (token.Length > 1 && token[0] == '-')
            {
                i = ExpandShortCluster(args, i, options.Short, output);
                continue;
            }
            output.Add("--"); // the first operand: options end here
            output.AddRange(args[i..]);
            return [.. output];
        }
        return [.. output];
    }

    /// <summary>"-w/srv", "-w /srv", "-abw /srv" as long options; returns the last index consumed.</summary>
    private static int ExpandShortCluster(string[] args, int i, Dictionary<char, (string? Long, bool TakesValue)> shortOptions, List<string> output)
    {
        string token = args[i];
        for (int c = 1; c < token.Length; c++)
        {
            if (!shortOptions.TryGetValue(token[c], out var option) || option.Long is null)
            {
                output.Add("-" + token[c..]); // unknown or short-only: leave it to the parser
                return i;
            }
            if (!option.TakesValue)
            {
                output.Add("--" + option.Long);
                continue;
            }
            if (c < token.Length - 1)
            {
                output.Add($"--{option.Long}={token[(c + 1)..]}");
                return i;
            }
            output.Add("--" + option.Long);
            if (i + 1 < args.Length)
                output.Add(args[++i]);
            return i;
        }
        return i;
    }

    private static (Dictionary<string, bool> Long, Dictionary<char, (string? Long, bool TakesValue)> Short) Describe(
        [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] Type options)
    {
        var longOptions = new Dictionary<string, bool>(StringComparer.Ordinal) { ["help"] = false, ["version"] = false };
        var shortOptions = new Dictionary<char, (string?, bool)>();
        foreach (var property in options.GetProperties())
        {
            if (property.GetCustomAttribute<OptionAttribute>() is not { } option)
                continue;
            bool takesValue = property.PropertyType != typeof(bool);
            string? longName = string.IsNullOrEmpty(option.LongName) ? null : option.LongName;
            if (longName != null)
                longOptions[longName] = takesValue;
            if (!string.IsNullOrEmpty(option.ShortName))
                shortOptions[option.ShortName[0]] = (longName, takesValue);
        }
        return (longOptions, shortOptions);
    }
}
