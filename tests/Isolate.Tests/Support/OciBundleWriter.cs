using System.Text.Json.Nodes;

namespace Isolate.Tests.Support;

/// <summary>The start of every OCI test bundle: `isolate spec` (runc's default config) in the
/// bundle directory, pointed at a root filesystem, without a terminal, running the given
/// arguments. The caller edits the returned config and writes it (<see cref="Save"/>).</summary>
public static class OciBundleWriter
{
    public static JsonObject Start(string bundle, string rootfs, IEnumerable<string> args)
    {
        File.Delete(Path.Combine(bundle, "config.json")); // a test may make several
        var spec = IsolateBinary.Run(["spec", "--bundle", bundle]);
        Assert.True(spec.ExitCode == 0, spec.ToString());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!.AsObject();
        config["root"]!["path"] = rootfs;
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new JsonArray([.. args.Select(a => JsonValue.Create(a))]);
        return config;
    }

    public static void Save(string bundle, JsonNode config) =>
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
}
