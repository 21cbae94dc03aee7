using System.Text.Json;

namespace Isolate.Images;

/// <summary>What `run` takes from an image's config blob (the OCI image config, which docker's
/// is too): its process defaults, and the layers' diff ids, base first.</summary>
public sealed record ImageConfig
{
    public IReadOnlyList<string> Entrypoint { get; init; } = [];
    public IReadOnlyList<string> Cmd { get; init; } = [];
    public IReadOnlyList<string> Env { get; init; } = [];
    public string? WorkingDir { get; init; }
    public string? User { get; init; }
    public string? StopSignal { get; init; }
    public IReadOnlyList<string> ExposedPorts { get; init; } = [];
    public IReadOnlyList<(string Key, string Value)> Labels { get; init; } = [];
    public required IReadOnlyList<string> DiffIds { get; init; }
    public string Architecture { get; init; } = "";
    public string Os { get; init; } = "";
    public string? Variant { get; init; }
    public string? Created { get; init; }

    public static ImageConfig Parse(byte[] json, string what)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var config = root.TryGetProperty("config", out var c) && c.ValueKind == JsonValueKind.Object ? c : default;
            if (!root.TryGetProperty("rootfs", out var rootfs) || !rootfs.TryGetProperty("diff_ids", out var ids) || ids.ValueKind != JsonValueKind.Array)
                throw new IsolateException($"{what}: the image config lists no rootfs.diff_ids");
            return new ImageConfig
            {
                Entrypoint = Strings(config, "Entrypoint"),
                Cmd = Strings(config, "Cmd"),
                Env = Strings(config, "Env"),
                WorkingDir = Text(config, "WorkingDir"),
                User = Text(config, "User"),
                StopSignal = Text(config, "StopSignal"),
                ExposedPorts = config.ValueKind == JsonValueKind.Object && config.TryGetProperty("ExposedPorts", out var ports) && ports.ValueKind == JsonValueKind.Object
                    ? [.. ports.EnumerateObject().Select(p => p.Name)] : [],
                Labels = config.ValueKind == JsonValueKind.Object && config.TryGetProperty("Labels", out var labels) && labels.ValueKind == JsonValueKind.Object
                    ? [.. labels.EnumerateObject().Select(p => (p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText()))] : [],
                DiffIds = [.. ids.EnumerateArray().Select(id => ImageStore.CheckDigest(id.GetString(), what))],
                Architecture = Text(root, "architecture") ?? "",
                Os = Text(root, "os") ?? "",
                Variant = Text(root, "variant"),
                Created = Text(root, "created"),
            };
        }
        catch (JsonException)
        {
            throw new IsolateException($"{what}: the image config is not valid JSON");
        }
    }

    private static string? Text(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s : null;

    private static IReadOnlyList<string> Strings(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? [.. v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)]
            : [];
}
