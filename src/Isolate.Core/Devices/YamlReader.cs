using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Isolate.Devices;

/// <summary>The YAML that CDI specs are written in (nvidia-ctk writes YAML by default), read
/// into the same JSON nodes a JSON spec gives: block mappings and sequences by indentation
/// (a sequence may sit at its key's indentation), "- key: value" items, flow sequences of
/// scalars ([a, b]), plain, 'single'- and "double"-quoted scalars, comments, and a leading
/// "---". A plain scalar that is an integer is a number; anything else is text. Anchors,
/// tags, multi-line scalars and several documents are refused with the line that has them.</summary>
public static class YamlReader
{
    private sealed record Line(int Number, int Indent, string Text);

    public static JsonNode? Parse(string text, string what)
    {
        var lines = new List<Line>();
        int number = 0;
        bool started = false;
        foreach (string raw in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            number++;
            string content = StripComment(raw).TrimEnd();
            if (content.Trim().Length == 0)
                continue;
            if (content == "---")
            {
                if (started)
                    throw new IsolateException($"{what}: line {number}: a second YAML document; a CDI spec is one");
                started = true;
                continue;
            }
            started = true;
            if (content.Contains('\t') && content.TrimStart(' ').StartsWith('\t'))
                throw new IsolateException($"{what}: line {number}: a tab in the indentation (YAML indents with spaces)");
            int indent = content.Length - content.TrimStart(' ').Length;
            string body = content.Trim();
            if (body[0] is '&' or '*' or '!' or '|' or '>' or '{' or '?')
                throw new IsolateException($"{what}: line {number}: '{body[0]}' (anchors, tags, block scalars, flow mappings) is not supported in a CDI spec; write it as plain YAML or JSON");
            lines.Add(new Line(number, indent, body));
        }
        if (lines.Count == 0)
            return null;
        int at = 0;
        var node = Block(lines, ref at, lines[0].Indent, what);
        if (at < lines.Count)
            throw new IsolateException($"{what}: line {lines[at].Number}: indented less than the document, or out of place");
        return node;
    }

    private static JsonNode? Block(List<Line> lines, ref int at, int indent, string what) =>
        IsItem(lines[at].Text) ? Sequence(lines, ref at, indent, what) : Mapping(lines, ref at, indent, what);

    private static bool IsItem(string text) => text == "-" || text.StartsWith("- ", StringComparison.Ordinal);

    private static JsonArray Sequence(List<Line> lines, ref int at, int indent, string what)
    {
        var array = new JsonArray();
        while (at < lines.Count && lines[at].Indent == indent && IsItem(lines[at].Text))
        {
            var line = lines[at];
            string rest = line.Text.Length > 1 ? line.Text[2..].TrimStart() : "";
            if (rest.Length == 0)
            {
                at++;
                array.Add(at < lines.Count && lines[at].Indent > indent ? Block(lines, ref at, lines[at].Indent, what) : null);
            }
            else if (KeyOf(rest) is not null || IsItem(rest))
            {
                // "- key: value": a mapping (or a nested sequence) whose indentation is where the key starts
                int inner = line.Indent + (line.Text.Length - rest.Length);
                lines[at] = line with { Indent = inner, Text = rest };
                array.Add(Block(lines, ref at, inner, what));
            }
            else
            {
                array.Add(Scalar(rest, line.Number, what));
                at++;
            }
        }
        return array;
    }

    private static JsonObject Mapping(List<Line> lines, ref int at, int indent, string what)
    {
        var map = new JsonObject();
        while (at < lines.Count && lines[at].Indent == indent && !IsItem(lines[at].Text))
        {
            var line = lines[at];
            var (key, value) = KeyOf(line.Text) ?? throw new IsolateException($"{what}: line {line.Number}: expected KEY: VALUE");
            if (map.ContainsKey(key))
                throw new IsolateException($"{what}: line {line.Number}: '{key}' is given twice");
            at++;
            if (value.Length > 0)
            {
                map[key] = Scalar(value, line.Number, what);
            }
            else if (at < lines.Count && (lines[at].Indent > indent || (lines[at].Indent == indent && IsItem(lines[at].Text))))
            {
                map[key] = Block(lines, ref at, lines[at].Indent, what);
            }
            else
            {
                map[key] = null;
            }
        }
        if (at < lines.Count && lines[at].Indent > indent)
            throw new IsolateException($"{what}: line {lines[at].Number}: indented more than its mapping, with no key above to belong to");
        return map;
    }

    /// <summary>"key: value" or "key:" (the key plain or quoted); null when the line is no such thing.</summary>
    private static (string Key, string Value)? KeyOf(string text)
    {
        int end;
        string key;
        if (text[0] is '"' or '\'')
        {
            end = ClosingQuote(text, 0);
            if (end < 0)
                return null;
            key = Unquote(text[..(end + 1)]);
            end++;
        }
        else
        {
            end = text.IndexOf(": ", StringComparison.Ordinal);
            if (end < 0)
                end = text.EndsWith(':') ? text.Length - 1 : -1;
            if (end <= 0 || text[..end].Contains('[') || text[..end].Contains('"'))
                return null;
            key = text[..end];
        }
        if (end == text.Length - 1 && text[end] == ':')
            return (key, "");
        if (end < text.Length && text[end] == ':' && end + 1 < text.Length && text[end + 1] == ' ')
            return (key, text[(end + 2)..].Trim());
        return null;
    }

    private static JsonNode? Scalar(string text, int line, string what)
    {
        if (text[0] is '&' or '*' or '!' or '|' or '>' or '{')
            throw new IsolateException($"{what}: line {line}: '{text[0]}' (anchors, aliases, tags, block scalars, flow mappings) is not supported in a CDI spec; write it as plain YAML or JSON");
        if (text.StartsWith('['))
        {
            if (!text.EndsWith(']'))
                throw new IsolateException($"{what}: line {line}: a flow sequence must end on its line with ']'");
            var array = new JsonArray();
            foreach (string item in SplitFlow(text[1..^1], line, what))
                array.Add(Scalar(item, line, what));
            return array;
        }
        if (text[0] is '"' or '\'')
        {
            if (ClosingQuote(text, 0) != text.Length - 1)
                throw new IsolateException($"{what}: line {line}: a quoted scalar must end on its line");
            return JsonValue.Create(Unquote(text));
        }
        if (text is "null" or "~")
            return null;
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n))
            return JsonValue.Create(n);
        return JsonValue.Create(text);
    }

    private static IEnumerable<string> SplitFlow(string inner, int line, string what)
    {
        var items = new List<string>();
        var current = new StringBuilder();
        for (int i = 0; i < inner.Length; i++)
        {
            char c = inner[i];
            if (c is '"' or '\'')
            {
                int close = ClosingQuote(inner, i);
                if (close < 0)
                    throw new IsolateException($"{what}: line {line}: an unclosed quote in a flow sequence");
                current.Append(inner, i, close - i + 1);
                i = close;
            }
            else if (c == ',')
            {
                items.Add(current.ToString().Trim());
                current.Clear();
            }
            else if (c is '[' or '{')
            {
                throw new IsolateException($"{what}: line {line}: nested flow collections are not supported in a CDI spec");
            }
            else
            {
                current.Append(c);
            }
        }
        if (current.ToString().Trim().Length > 0)
            items.Add(current.ToString().Trim());
        return items.Where(i => i.Length > 0);
    }

    private static int ClosingQuote(string text, int open)
    {
        char quote = text[open];
        for (int i = open + 1; i < text.Length; i++)
        {
            if (quote == '"' && text[i] == '\\')
                i++;
            else if (text[i] == quote)
            {
                if (quote == '\'' && i + 1 < text.Length && text[i + 1] == '\'')
                    i++; // '' is a quote inside single quotes
                else
                    return i;
            }
        }
        return -1;
    }

    private static string Unquote(string text)
    {
        string inner = text[1..^1];
        if (text[0] == '\'')
            return inner.Replace("''", "'", StringComparison.Ordinal);
        var result = new StringBuilder();
        for (int i = 0; i < inner.Length; i++)
        {
            if (inner[i] != '\\' || i + 1 == inner.Length)
            {
                result.Append(inner[i]);
                continue;
            }
            char e = inner[++i];
            result.Append(e switch { 'n' => '\n', 't' => '\t', '0' => '\0', '"' => '"', '\\' => '\\', '/' => '/', _ => e });
        }
        return result.ToString();
    }

    /// <summary>The line without a comment: '#' at its start or after a space, outside quotes.</summary>
    private static string StripComment(string line)
    {
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0')
            {
                if (c == '\\' && quote == '"')
                    i++;
                else if (c == quote)
                    quote = '\0';
            }
            else if (c is '"' or '\'' && (i == 0 || line[i - 1] is ' ' or ':' or '-' or '['))
            {
                quote = c;
            }
            else if (c == '#' && (i == 0 || line[i - 1] == ' '))
            {
                return line[..i];
            }
        }
        return line;
    }
}
