using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Isolate.Oci;

namespace Isolate.Tests.Unit;

/// <summary>The conformance table (OciSpecFields) against the code that reads config.json and
/// against docs/oci-conformance.md: a field the table calls honoured must be one the JSON model
/// reads (else it would be dropped without a word), a field the model reads must be in the
/// table, every refused field is refused naming its path, and the document shows the table.</summary>
public sealed class OciSpecFieldTests
{
    /// <summary>Every JSON path the model (OciConfig and what it holds) reads, arrays passed through.</summary>
    private static IEnumerable<string> ModelPaths(Type type, string prefix)
    {
        foreach (var property in type.GetProperties())
        {
            if (property.GetCustomAttribute<JsonPropertyNameAttribute>() is not { } name)
                continue;
            string path = prefix.Length == 0 ? name.Name : prefix + "." + name.Name;
            yield return path;
            var t = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(List<>))
                t = t.GetGenericArguments()[0];
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Dictionary<,>))
                continue; // a map of the user's keys
            if (t.Namespace == typeof(OciConfig).Namespace && t.IsClass)
            {
                foreach (string inner in ModelPaths(t, path))
                    yield return inner;
            }
        }
    }

    /// <summary>The table's row for a model path (each hook list's fields share `hooks.*.`).</summary>
    private static SpecField? Row(string path)
    {
        var parts = path.Split('.');
        if (parts.Length == 3 && parts[0] == "hooks")
            path = "hooks.*." + parts[2];
        return OciSpecFields.All.FirstOrDefault(f => f.Path == path);
    }

    [Fact]
    public void Every_field_the_model_reads_is_in_the_table()
    {
        var missing = ModelPaths(typeof(OciConfig), "").Where(p => Row(p) is null).ToList();
        Assert.True(missing.Count == 0, "read by OciConfig but not in OciSpecFields: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_field_the_table_honours_is_read_by_the_model()
    {
        var read = ModelPaths(typeof(OciConfig), "").Select(p => Row(p)?.Path).ToHashSet();
        var dropped = OciSpecFields.All.Where(f => f.Support != FieldSupport.Refused && !read.Contains(f.Path)).Select(f => f.Path).ToList();
        Assert.True(dropped.Count == 0, "honoured in OciSpecFields but never read (silently dropped): " + string.Join(", ", dropped));
    }

    [Fact]
    public void The_table_has_each_field_once_and_a_reason_for_each_refusal()
    {
        Assert.Equal(OciSpecFields.All.Count, OciSpecFields.All.Select(f => f.Path).Distinct().Count());
        Assert.All(OciSpecFields.All.Where(f => f.Support != FieldSupport.Honoured), f => Assert.NotEqual("", f.Note));
    }

    public static TheoryData<string> RefusedFields() => [.. OciSpecFields.All.Where(f => f.Support == FieldSupport.Refused).Select(f => f.Path)];

    [Theory]
    [MemberData(nameof(RefusedFields))]
    public void A_refused_field_is_refused_naming_its_path(string path)
    {
        // the field set (to an empty object: any value that is not null counts), its parents objects
        var document = new JsonObject();
        var node = document;
        string[] parts = path.Replace("hooks.*.", "hooks.prestart.", StringComparison.Ordinal).Split('.');
        foreach (string part in parts[..^1])
        {
            var next = new JsonObject();
            node[part] = next;
            node = next;
        }
        node[parts[^1]] = new JsonObject();
        using var json = JsonDocument.Parse(document.ToJsonString());
        var e = Assert.Throws<IsolateException>(() => OciSpecFields.Check(json.RootElement));
        // named at the field, or at the first refused field above it (the walk stops there)
        string named = string.Join('.', parts);
        for (int n = 1; n <= parts.Length; n++)
        {
            if (OciSpecFields.All.FirstOrDefault(f => f.Path == string.Join('.', parts[..n]))?.Support == FieldSupport.Refused)
            {
                named = string.Join('.', parts[..n]);
                break;
            }
        }
        Assert.StartsWith($"config.json: {named}: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Null_and_unknown_fields_pass_and_array_elements_are_named_by_index()
    {
        using var ok = JsonDocument.Parse("""{"linux": {"devices": null, "x-extension": {"personality": 1}}, "org.example": 1}""");
        OciSpecFields.Check(ok.RootElement);
        using var refused = JsonDocument.Parse("""{"mounts": [{"destination": "/a"}, {"destination": "/b", "uidMappings": []}]}""");
        var e = Assert.Throws<IsolateException>(() => OciSpecFields.Check(refused.RootElement));
        Assert.StartsWith("config.json: mounts[1].uidMappings: ", e.Message);
    }

    [Fact]
    public void The_conformance_document_shows_the_table()
    {
        string file = Path.Combine(Support.IsolateBinary.RepoRoot, "docs", "oci-conformance.md");
        string text = File.ReadAllText(file);
        const string begin = "<!-- table: OciSpecFields.cs -->\n", end = "<!-- end of table -->";
        int from = text.IndexOf(begin, StringComparison.Ordinal), to = text.IndexOf(end, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, $"{file} lacks the table's markers");
        string expected = OciSpecFields.Markdown();
        if (Environment.GetEnvironmentVariable("ISOLATE_WRITE_DOCS") == "1")
        {
            File.WriteAllText(file, text[..(from + begin.Length)] + expected + text[to..]);
            return;
        }
        Assert.True(text[(from + begin.Length)..to] == expected,
            "docs/oci-conformance.md differs from OciSpecFields: rerun this test with ISOLATE_WRITE_DOCS=1 to rewrite it");
    }
}
