using System.Text;
using System.Text.RegularExpressions;

namespace Isolate.Tests.Support;

/// <summary>One example of the README: a shell snippet, and for a console transcript the output
/// it shows. <see cref="Line"/> is where it starts in README.md.</summary>
public sealed record ReadmeExample(int Line, string Kind, IReadOnlyList<(string Command, string? Expected)> Steps, string? NotRunBecause);

/// <summary>Reads the README's examples, as a user would type them:
/// - a ```console block is a transcript: each "$ " line (with "\" continuations) is a command,
///   and the lines after it, up to the next "$ ", are what it prints (stdout and stderr as a
///   terminal shows them); the commands of one block run in one shell, in order;
/// - a ```sh block is a script, run as it is; it must exit 0;
/// - the "example" column of a table holds one command each, which must exit 0.
/// A block or table preceded by `&lt;!-- not run: REASON --&gt;` is listed with its reason and skipped;
/// ``` blocks without a language (synopses, layouts) and ```toml are not commands.
/// Shown output is matched line by line: "..." in a line stands for any text, a line of only
/// "..." for any number of lines, a 12-digit hex id for any such id, and a run of spaces for
/// any run of spaces (column widths follow the content).</summary>
public static partial class ReadmeExamples
{
    public static IReadOnlyList<ReadmeExample> Parse(string markdown)
    {
        var examples = new List<ReadmeExample>();
        var lines = markdown.Split('\n');
        string? notRun = null;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            var marker = NotRunMarker().Match(line);
            if (marker.Success)
            {
                notRun = marker.Groups[1].Value.Trim();
                continue;
            }
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                string language = line[3..].Trim();
                int start = i + 1;
                int end = start;
                while (end < lines.Length && !lines[end].StartsWith("```", StringComparison.Ordinal))
                    end++;
                var body = lines[start..end];
                if (language == "console")
                    examples.Add(new ReadmeExample(start, "console", Transcript(body), notRun));
                else if (language == "sh")
                    examples.Add(new ReadmeExample(start, "sh", [(string.Join('\n', body), null)], notRun));
                notRun = null;
                i = end;
                continue;
            }
            if (line.StartsWith('|') && line.Contains("| example |", StringComparison.Ordinal))
            {
                int start = i;
                for (i += 2; i < lines.Length && lines[i].StartsWith('|'); i++)
                {
                    string cell = lines[i].TrimEnd().TrimEnd('|');
                    cell = cell[(cell.LastIndexOf(" | ", StringComparison.Ordinal) + 3)..].Trim();
                    if (cell.StartsWith('`') && cell.EndsWith('`'))
                        examples.Add(new ReadmeExample(i + 1, "table", [(cell[1..^1].Replace("\\|", "|"), null)], notRun));
                }
                notRun = null;
                i--;
                continue;
            }
            if (line.Trim().Length > 0)
                notRun = null; // a marker applies to the block right after it
        }
        return examples;
    }

    private static List<(string, string?)> Transcript(string[] body)
    {
        var steps = new List<(string, string?)>();
        for (int i = 0; i < body.Length; i++)
        {
            if (!body[i].StartsWith("$ ", StringComparison.Ordinal))
                continue;
            var command = new StringBuilder(body[i][2..]);
            while (command.ToString().EndsWith('\\') && i + 1 < body.Length)
                command.Append('\n').Append(body[++i]);
            var output = new List<string>();
            while (i + 1 < body.Length && !body[i + 1].StartsWith("$ ", StringComparison.Ordinal))
                output.Add(body[++i]);
            steps.Add((command.ToString(), string.Join('\n', output)));
        }
        return steps;
    }

    /// <summary>Whether <paramref name="actual"/> is what <paramref name="shown"/> shows (see the class).</summary>
    public static bool Matches(string shown, string actual)
    {
        var pattern = new StringBuilder("^");
        foreach (string line in shown.TrimEnd('\n').Split('\n'))
        {
            if (line.Trim() == "...")
            {
                pattern.Append(@"(?:[^\n]*\n)*?");
                continue;
            }
            string escaped = Regex.Escape(line.TrimEnd());
            escaped = escaped.Replace(@"\.\.\.", "[^\\n]*?");
            escaped = HexId().Replace(escaped, "[0-9a-f]{12}");
            escaped = Spaces().Replace(escaped, "[ \\t]+");
            pattern.Append(escaped).Append(@"[ \t]*\n");
        }
        string normalized = string.Join('\n', actual.Replace("\r\n", "\n").TrimEnd('\n').Split('\n').Select(l => l.TrimEnd())) + "\n";
        if (shown.Trim().Length == 0)
            return actual.Trim().Length == 0;
        return Regex.IsMatch(normalized, pattern.Append('$').ToString(), RegexOptions.None, TimeSpan.FromSeconds(5));
    }

    [GeneratedRegex(@"^<!-- not run: (.+) -->\s*$")]
    private static partial Regex NotRunMarker();

    [GeneratedRegex(@"(?<![0-9a-z])[0-9a-f]{12}(?![0-9a-z])")]
    private static partial Regex HexId();

    [GeneratedRegex(@"(?:\\ |\\t)+")]
    private static partial Regex Spaces();
}
