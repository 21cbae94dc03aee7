using System.Runtime.InteropServices;
using System.Text.Json;

namespace Isolate.Images;

/// <summary>One blob a manifest names.</summary>
public sealed record Descriptor(string MediaType, string Digest, long Size);

/// <summary>The two manifest shapes an image comes in: an image manifest (config and layers)
/// and an index (OCI) or manifest list (docker), which names one manifest per platform.</summary>
public sealed record ImageManifest(Descriptor Config, IReadOnlyList<Descriptor> Layers)
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public static readonly string Accept = string.Join(", ", OciIndex, DockerList, OciManifest, DockerManifest);

    /// <summary>An index's entries: (platform, descriptor).</summary>
    public static bool IsIndex(string? mediaType, byte[] json)
    {
        if (mediaType is OciIndex or DockerList)
            return true;
        if (mediaType is OciManifest or DockerManifest)
            return false;
        using var doc = Parse(json, "manifest");
        return MediaTypeOf(doc.RootElement) is OciIndex or DockerList
            || (doc.RootElement.TryGetProperty("manifests", out _) && !doc.RootElement.TryGetProperty("layers", out _));
    }

    public static ImageManifest ParseManifest(byte[] json, string what)
    {
        using var doc = Parse(json, what);
        var root = doc.RootElement;
        if (root.TryGetProperty("schemaVersion", out var version) && version.ValueKind == JsonValueKind.Number && version.GetInt32() == 1)
            throw new IsolateException($"{what}: a docker schema 1 manifest is not supported (registries convert it; push the image again with a current tool)");
        string? type = MediaTypeOf(root);
        if (type is not (null or OciManifest or DockerManifest))
            throw new IsolateException($"{what}: the manifest's media type {type} is not an image manifest");
        if (!root.TryGetProperty("config", out var config) || !root.TryGetProperty("layers", out var layers) || layers.ValueKind != JsonValueKind.Array)
            throw new IsolateException($"{what}: the manifest has no config or no layers");
        var parsed = new ImageManifest(DescriptorOf(config, what), [.. layers.EnumerateArray().Select(l => DescriptorOf(l, what))]);
        foreach (var layer in parsed.Layers)
        {
            if (layer.MediaType.Contains("nondistributable", StringComparison.Ordinal) || layer.MediaType.Contains("foreign", StringComparison.Ordinal))
                throw new IsolateException($"{what}: layer {layer.Digest} is a foreign layer ({layer.MediaType}), fetched from elsewhere than the registry: not supported");
            if (layer.MediaType.Length > 0 && !layer.MediaType.Contains("tar", StringComparison.Ordinal))
                throw new IsolateException($"{what}: layer {layer.Digest} is of type {layer.MediaType}, not a tar layer (an artifact, not a runnable image)");
        }
        return parsed;
    }

    /// <summary>From an index, the manifest for this machine: linux and this CPU.</summary>
    public static Descriptor SelectPlatform(byte[] json, string what)
    {
        using var doc = Parse(json, what);
        if (!doc.RootElement.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array)
            throw new IsolateException($"{what}: the index lists no manifests");
        string arch = Architecture;
        var seen = new List<string>();
        foreach (var entry in manifests.EnumerateArray())
        {
            string os = "", cpu = "";
            if (entry.TryGetProperty("platform", out var platform))
            {
                os = platform.TryGetProperty("os", out var o) ? o.GetString() ?? "" : "";
                cpu = platform.TryGetProperty("architecture", out var a) ? a.GetString() ?? "" : "";
            }
            seen.Add($"{os}/{cpu}");
            if (os == "linux" && cpu == arch)
                return DescriptorOf(entry, what);
        }
        throw new IsolateException($"{what}: the image has no linux/{arch} variant (it has {string.Join(", ", seen.Distinct())})");
    }

    /// <summary>This CPU as OCI names it.</summary>
    public static string Architecture => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
        System.Runtime.InteropServices.Architecture.RiscV64 => "riscv64",
        var other => other.ToString().ToLowerInvariant(),
    };

    public static Descriptor DescriptorOf(JsonElement o, string what)
    {
        string digest = ImageStore.CheckDigest(o.TryGetProperty("digest", out var d) ? d.GetString() : null, what);
        string type = o.TryGetProperty("mediaType", out var m) ? m.GetString() ?? "" : "";
        long size = o.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt64() : -1;
        return new Descriptor(type, digest, size);
    }

    private static string? MediaTypeOf(JsonElement root) =>
        root.TryGetProperty("mediaType", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;

    private static JsonDocument Parse(byte[] json, string what)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            throw new IsolateException($"{what}: not valid JSON");
        }
    }
}
