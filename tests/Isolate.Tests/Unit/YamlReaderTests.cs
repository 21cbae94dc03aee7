using System.Text.Json.Nodes;
using Isolate.Devices;

namespace Isolate.Tests.Unit;

/// <summary>The YAML subset CDI specs are read in: the same JSON a JSON spec gives.</summary>
public sealed class YamlReaderTests
{
    [Fact]
    public void Block_and_flow_collections_quotes_numbers_and_comments_read_as_json()
    {
        const string yaml = """
            ---
            kind: "vendor.com/x"   # a comment
            list:
            - a
            - 'it''s'
            -   "tab\there"
            nested:
              deep:
                - name: one
                  n: 42
                - [x, "y z", 7]
            empty:
            url: http://example.com/a#b
            """;
        var node = YamlReader.Parse(yaml, "test")!;
        var expected = JsonNode.Parse("""{"kind":"vendor.com/x","list":["a","it's","tab\there"],"nested":{"deep":[{"name":"one","n":42},["x","y z",7]]},"empty":null,"url":"http://example.com/a#b"}""");
        Assert.True(JsonNode.DeepEquals(expected, node), node.ToJsonString());
    }

    [Theory]
    [InlineData("a: &anchor 1\nb: *anchor\n", "'&'")]
    [InlineData("a: |\n  text\n", "'|'")]
    [InlineData("a: 1\na: 2\n", "'a' is given twice")]
    [InlineData("---\na: 1\n---\nb: 2\n", "a second YAML document")]
    [InlineData("a:\n  b: 1\n    c: 2\n", "line 3")]
    public void What_it_does_not_read_is_refused_with_the_line(string yaml, string expected)
    {
        var e = Assert.Throws<IsolateException>(() => YamlReader.Parse(yaml, "spec.yaml"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("spec.yaml: line", e.Message);
    }

    [Fact]
    public void A_sequence_may_sit_at_its_keys_indentation_as_nvidia_ctk_writes_it()
    {
        var node = YamlReader.Parse("devices:\n- name: \"0\"\n  containerEdits:\n    env:\n    - A=1\nkind: k\n", "t") as JsonObject;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"devices":[{"name":"0","containerEdits":{"env":["A=1"]}}],"kind":"k"}"""), node), node!.ToJsonString());
    }
}
