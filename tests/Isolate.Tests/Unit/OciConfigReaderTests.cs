using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Isolate.Oci;

namespace Isolate.Tests.Unit;

/// <summary>OciConfigReader reads config.json by hand where System.Text.Json's deserializer
/// did (the deserializer's metadata cost every OCI start about 4 ms). The two must agree:
/// on a config with every property of the model set, the reader's result is the
/// deserializer's; with any one value replaced by one of another JSON kind, the reader gives
/// up exactly where the deserializer throws (the loader then lets the deserializer name the
/// fault), and reads the same model everywhere else.</summary>
public sealed class OciConfigReaderTests
{
    private static readonly JsonNode?[] Replacements =
    [
        JsonValue.Create("text"), JsonValue.Create(7), JsonValue.Create(-7), JsonValue.Create(1.5), JsonValue.Create(4294967296L),
        JsonValue.Create(70000), JsonValue.Create(true), null, new JsonArray(), new JsonArray(JsonValue.Create("x")), new JsonObject(),
    ];

    [Fact]
    public void A_config_with_every_property_set_reads_as_the_deserializer_reads_it()
    {
        var config = (OciConfig)Filled(typeof(OciConfig), 0);
        string json = JsonSerializer.Serialize(config, OciJsonContext.Default.OciConfig);
        int properties = CountProperties(JsonNode.Parse(json));
        Assert.True(properties >= 141, $"the filled config sets {properties} properties");
        Assert.Equal(Deserialized(json), Read(json));
    }

    [Fact]
    public void The_default_spec_reads_as_the_deserializer_reads_it()
    {
        foreach (bool rootless in new[] { false, true })
        {
            string json = OciDefaultSpec.Json(rootless, 1000, 1000);
            Assert.Equal(Deserialized(json), Read(json));
        }
    }

    [Fact]
    public void Any_value_of_another_kind_is_refused_where_the_deserializer_refuses_it_and_read_the_same_elsewhere()
    {
        var config = (OciConfig)Filled(typeof(OciConfig), 0);
        var root = JsonNode.Parse(JsonSerializer.Serialize(config, OciJsonContext.Default.OciConfig))!;
        var failures = new List<string>();
        int cases = 0;
        foreach (string path in Paths(root, "$"))
        {
            foreach (var replacement in Replacements)
            {
                var changed = JsonNode.Parse(root.ToJsonString())!;
                Replace(changed, path, replacement?.DeepClone());
                string json = changed.ToJsonString();
                string? expected = Deserialized(json);
                string? actual = Read(json);
                cases++;
                if (expected != actual)
                    failures.Add($"{path} = {replacement?.ToJsonString() ?? "null"}: deserializer {(expected is null ? "refuses" : "reads")}, reader {(actual is null ? "refuses" : "reads")}"
                        + (expected != null && actual != null ? " a different model" : ""));
            }
        }
        Assert.True(cases > 1500, $"{cases} cases");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases} disagree:\n" + string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void Bad_json_and_a_root_that_is_not_an_object_are_left_to_the_deserializer()
    {
        foreach (string json in new[] { "null", "[]", "7", "\"x\"" })
        {
            using var document = JsonDocument.Parse(json);
            Assert.False(OciConfigReader.TryRead(document.RootElement, out _), json);
        }
    }

    /// <summary>The model the deserializer reads, written back out; null when it refuses.</summary>
    private static string? Deserialized(string json)
    {
        try
        {
            var config = JsonSerializer.Deserialize(json, OciJsonContext.Default.OciConfig);
            return config is null ? null : JsonSerializer.Serialize(config, OciJsonContext.Default.OciConfig);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The model the reader reads, written back out; null when it gives up.</summary>
    private static string? Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        return OciConfigReader.TryRead(document.RootElement, out var config) ? JsonSerializer.Serialize(config!, OciJsonContext.Default.OciConfig) : null;
    }

    /// <summary>An instance with every property set to a value no other property holds (lists
    /// of two, the second null where a null fits).</summary>
    private static object Filled(Type type, int seed)
    {
        object instance = Activator.CreateInstance(type)!;
        int n = seed;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            n++;
            property.SetValue(instance, Value(property.PropertyType, n, property.Name));
        }
        return instance;
    }

    private static object? Value(Type type, int n, string name)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying == typeof(string))
            return name + n;
        if (underlying == typeof(bool))
            return n % 2 == 0;
        if (underlying == typeof(long) || underlying == typeof(ulong) || underlying == typeof(uint) || underlying == typeof(int) || underlying == typeof(ushort))
            return Convert.ChangeType(n * 3 + 1, underlying);
        if (underlying == typeof(JsonElement))
            return JsonDocument.Parse($"{{\"v\":[{n},\"{name}\"]}}").RootElement.Clone();
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(List<>))
        {
            var item = underlying.GetGenericArguments()[0];
            var list = (System.Collections.IList)Activator.CreateInstance(underlying)!;
            list.Add(Value(item, n + 100, name));
            list.Add(item.IsValueType ? Value(item, n + 200, name) : null);
            return list;
        }
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            var map = (System.Collections.IDictionary)Activator.CreateInstance(underlying)!;
            var item = underlying.GetGenericArguments()[1];
            map["k" + n] = Value(item, n + 300, name);
            return map;
        }
        if (underlying.IsClass && underlying.Namespace == typeof(OciConfig).Namespace)
            return Filled(underlying, n * 10);
        throw new InvalidOperationException($"no test value for {type} ({name}): add one");
    }

    private static int CountProperties(JsonNode? node) => node switch
    {
        JsonObject o => o.Count + o.Sum(p => CountProperties(p.Value)),
        JsonArray a => a.Sum(CountProperties),
        _ => 0,
    };

    /// <summary>Every property and array item below the root, as $.a.b[0].c paths.</summary>
    private static IEnumerable<string> Paths(JsonNode node, string at)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                {
                    string path = $"{at}.{key}";
                    yield return path;
                    if (value != null)
                        foreach (string below in Paths(value, path))
                            yield return below;
                }
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                {
                    string path = $"{at}[{i}]";
                    yield return path;
                    if (a[i] != null)
                        foreach (string below in Paths(a[i]!, path))
                            yield return below;
                }
                break;
        }
    }

    private static void Replace(JsonNode root, string path, JsonNode? value)
    {
        // the parent's path, and the last step: .key or [index]
        int cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
        JsonNode parent = Find(root, path[..cut]);
        string step = path[cut..];
        if (step.StartsWith('['))
            parent.AsArray()[int.Parse(step[1..^1])] = value;
        else
            parent.AsObject()[step[1..]] = value;
    }

    private static JsonNode Find(JsonNode root, string path)
    {
        JsonNode node = root;
        foreach (System.Text.RegularExpressions.Match step in System.Text.RegularExpressions.Regex.Matches(path[1..], @"\.([^.\[]+)|\[(\d+)\]"))
            node = step.Groups[1].Success ? node[step.Groups[1].Value]! : node[int.Parse(step.Groups[2].Value)]!;
        return node;
    }
}
