using System.Reflection;
using System.Text;
using CommandLine;

namespace Isolate.Cli;

/// <summary>--help, rendered from the verb table and the options' attributes. CommandLineParser's
/// HelpText is not used: its constructor asks Console.WindowWidth, which initialises System.Console
/// and writes the terminal's keypad-transmit sequence to whichever of stdout and stdin is a terminal.</summary>
internal static class HelpScreen
{
    private const int Width = 100;

    private static string Heading =>
        $"isolate {Program.Version} - run a command in its own namespaces, root filesystem and cgroup";

    private const string ExitStatus = "Exit status: the command's own; 128+N if killed by signal N; "
        + "125 Isolate failed, 126 cannot execute, 127 not found.";

    /// <summary>Every command with what it does (`isolate --help`).</summary>
    public static string Index()
    {
        var rows = Verbs.All.Where(v => !v.Hidden)
            .Select(v => (string.Join(", ", [v.Name, .. v.Aliases]), v.Options.GetCustomAttribute<VerbAttribute>()?.HelpText ?? ""))
            .Append(("help", "Display more information on a specific command."))
            .Append(("version", "Display version information."));
        return Render(rows, ["isolate [--root DIR] [--storage DIR] [--cdi-spec-dir DIR] [--nvidia-driver-root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [OPTIONS] [ARGUMENTS]"]);
    }

    /// <summary>The usage lines of one command, as runc prints them: its name, [options], its
    /// operands (optional ones in brackets); `run` shows its OCI form too.</summary>
    private static List<string> Usage(Verb verb)
    {
        var operands = verb.Options.GetProperties()
            .Select(p => p.GetCustomAttribute<ValueAttribute>())
            .Where(v => v is { Hidden: false })
            .OrderBy(v => v!.Index)
            .Select(v => v!.Required ? v.MetaName : $"[{v.MetaName}]");
        var usage = new List<string> { string.Join(' ', [$"isolate {verb.Name} [options]", .. operands]) };
        if (verb.Name == "run")
            usage.Add("isolate run -b BUNDLE [-d] [--keep] [--pid-file FILE] [--console-socket PATH] [--preserve-fds N] ID");
        return usage;
    }

    /// <summary>One command's options and operands (`isolate run --help`).</summary>
    public static string For(Verb verb)
    {
        var options = new List<(string, string)>();
        var operands = new List<(string, string)>();
        foreach (PropertyInfo property in verb.Options.GetProperties())
        {
            if (property.GetCustomAttribute<OptionAttribute>() is { Hidden: false } option)
                options.Add((OptionName(option, property.PropertyType), Describe(option.HelpText, option.Required, option.Default)));
            else if (property.GetCustomAttribute<ValueAttribute>() is { Hidden: false } value)
                operands.Add(($"{value.MetaName} (pos. {value.Index})", Describe(value.HelpText, value.Required, value.Default)));
        }
        options.Add(("--help", "Display this help screen."));
        options.Add(("--version", "Display version information."));
        return Render([.. options, .. operands], Usage(verb));
    }

    private static string OptionName(OptionAttribute option, Type type)
    {
        string meta = type == typeof(bool) || string.IsNullOrEmpty(option.MetaValue) ? "" : option.MetaValue;
        string shortName = option.ShortName.Length == 0 ? "" : "-" + option.ShortName + (meta.Length == 0 ? "" : " " + meta);
        string longName = option.LongName.Length == 0 ? "" : "--" + option.LongName + (meta.Length == 0 ? "" : "=" + meta);
        return shortName.Length > 0 && longName.Length > 0 ? $"{shortName}, {longName}" : shortName + longName;
    }

    private static string Describe(string? help, bool required, object? defaultValue) =>
        (defaultValue is null ? "" : $"(Default: {defaultValue}) ") + (required ? "Required. " : "") + (help ?? "");

    /// <summary>The heading, the two-column rows with descriptions wrapped under their column, and
    /// the exit statuses.</summary>
    private static string Render(IEnumerable<(string Name, string Text)> rows, IReadOnlyList<string> usage)
    {
        var list = rows.ToList();
        int column = 2 + list.Max(r => r.Name.Length) + 4;
        var text = new StringBuilder(Heading).Append("\n\n");
        for (int i = 0; i < usage.Count; i++)
            text.Append(i == 0 ? "Usage: " : "       ").Append(usage[i]).Append('\n');
        text.Append('\n');
        foreach (var (name, description) in list)
        {
            var lines = Wrap(description, Width - column);
            text.Append("  ").Append(name.PadRight(column - 2)).Append(lines[0].TrimEnd()).Append('\n');
            foreach (string line in lines.Skip(1))
                text.Append(' ', column).Append(line).Append('\n');
        }
        text.Append('\n');
        foreach (string line in Wrap(ExitStatus, Width))
            text.Append(line).Append('\n');
        return text.ToString();
    }

    /// <summary>Words into lines of at most <paramref name="width"/> characters (a longer word alone).</summary>
    private static List<string> Wrap(string text, int width)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear();
            }
            if (line.Length > 0)
                line.Append(' ');
            line.Append(word);
        }
        lines.Add(line.ToString());
        return lines;
    }
}
