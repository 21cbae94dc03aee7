using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Isolate.Tests.Support;

/// <summary>How a layer blob is compressed, and so its media type.</summary>
public enum LayerCompression
{
    None,
    Gzip,
    Zstd,
}

/// <summary>One layer as it is stored: the uncompressed tar (its sha256 is the diff id) and the
/// blob (compressed or not; its sha256 is the digest the manifest names).</summary>
public sealed record Layer(byte[] Tar, byte[] Blob, LayerCompression Compression)
{
    public string DiffId { get; } = OciDigest.Of(Tar);

    public string Digest { get; } = OciDigest.Of(Blob);

    public string MediaType => Compression switch
    {
        LayerCompression.None => "application/vnd.oci.image.layer.v1.tar",
        LayerCompression.Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        _ => "application/vnd.oci.image.layer.v1.tar+zstd",
    };
}

public static class OciDigest
{
    /// <summary>"sha256:" and the lower-case hex of the bytes' SHA-256.</summary>
    public static string Of(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The 64 hex of a "sha256:..." digest.</summary>
    public static string Hex(string digest) => digest["sha256:".Length..];
}

/// <summary>The tar entries of one layer, in the order they are written: real trees (a directory
/// on the host, such as the busybox root) and crafted entries a real tar tool would never write
/// (paths with "..", absolute paths, links out of the root, whiteouts) alike.</summary>
public sealed class LayerBuilder
{
    private readonly List<TarEntry> _entries = [];

    /// <summary>Owner and times every entry of a layer gets unless it says otherwise: fixed, so a
    /// layer built twice from the same entries has the same digest.</summary>
    private static readonly DateTimeOffset Epoch = new(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);

    public LayerBuilder File(string name, string content, int mode = 0x1A4 /* 0644 */, int uid = 0, int gid = 0,
        IReadOnlyDictionary<string, string>? xattrs = null) =>
        File(name, Encoding.UTF8.GetBytes(content), mode, uid, gid, xattrs);

    public LayerBuilder File(string name, byte[] content, int mode = 0x1A4, int uid = 0, int gid = 0,
        IReadOnlyDictionary<string, string>? xattrs = null)
    {
        var entry = NewEntry(TarEntryType.RegularFile, name, mode, uid, gid, xattrs);
        entry.DataStream = new MemoryStream(content, writable: false);
        return Add(entry);
    }

    public LayerBuilder Directory(string name, int mode = 0x1ED /* 0755 */, int uid = 0, int gid = 0,
        IReadOnlyDictionary<string, string>? xattrs = null) =>
        Add(NewEntry(TarEntryType.Directory, name, mode, uid, gid, xattrs));

    public LayerBuilder Symlink(string name, string target)
    {
        var entry = NewEntry(TarEntryType.SymbolicLink, name, 0x1FF, 0, 0, null);
        entry.LinkName = target;
        return Add(entry);
    }

    /// <summary>A hard link: <paramref name="target"/> is the name of an entry written before
    /// (relative to the layer's root, as tar stores it).</summary>
    public LayerBuilder HardLink(string name, string target)
    {
        var entry = NewEntry(TarEntryType.HardLink, name, 0x1A4, 0, 0, null);
        entry.LinkName = target;
        return Add(entry);
    }

    public LayerBuilder CharDevice(string name, int major, int minor, int mode = 0x1B6 /* 0666 */)
    {
        var entry = (PaxTarEntry)NewEntry(TarEntryType.CharacterDevice, name, mode, 0, 0, null);
        entry.DeviceMajor = major;
        entry.DeviceMinor = minor;
        return Add(entry);
    }

    public LayerBuilder BlockDevice(string name, int major, int minor, int mode = 0x1B0 /* 0660 */)
    {
        var entry = (PaxTarEntry)NewEntry(TarEntryType.BlockDevice, name, mode, 0, 0, null);
        entry.DeviceMajor = major;
        entry.DeviceMinor = minor;
        return Add(entry);
    }

    /// <summary>An AUFS/OCI whiteout: <paramref name="path"/> of a lower layer is deleted.</summary>
    public LayerBuilder Whiteout(string path)
    {
        string dir = System.IO.Path.GetDirectoryName(path.TrimEnd('/')) ?? "";
        string name = System.IO.Path.GetFileName(path.TrimEnd('/'));
        return File(dir.Length == 0 ? ".wh." + name : $"{dir}/.wh.{name}", "");
    }

    /// <summary>An opaque directory: what lower layers have under <paramref name="dir"/> is hidden.</summary>
    public LayerBuilder Opaque(string dir) => File($"{dir.TrimEnd('/')}/.wh..wh..opq", "");

    /// <summary>Any entry, as the caller made it (a name no helper above would write).</summary>
    public LayerBuilder Raw(TarEntry entry) => Add(entry);

    /// <summary>Every file, directory and symlink under <paramref name="hostDir"/>, parents first,
    /// owned by root, with their modes (set-id bits included) and contents.</summary>
    public LayerBuilder Tree(string hostDir, string prefix = "")
    {
        // by hand: .NET's recursive enumeration walks into a symlinked directory (zoneinfo's
        // posix -> .), which would put entries through a link into the layer
        void Walk(string dir)
        {
            foreach (var info in new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0 })
                         .OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                string name = prefix + System.IO.Path.GetRelativePath(hostDir, info.FullName);
                int mode = (int)info.UnixFileMode;
                if (info.LinkTarget is { } target)
                {
                    Symlink(name, target);
                }
                else if (info is DirectoryInfo)
                {
                    Directory(name, mode);
                    Walk(info.FullName);
                }
                else
                {
                    File(name, System.IO.File.ReadAllBytes(info.FullName), mode);
                }
            }
        }
        Walk(hostDir);
        return this;
    }

    private LayerBuilder Add(TarEntry entry)
    {
        _entries.Add(entry);
        return this;
    }

    private static TarEntry NewEntry(TarEntryType type, string name, int mode, int uid, int gid, IReadOnlyDictionary<string, string>? xattrs)
    {
        var extended = new Dictionary<string, string>();
        foreach (var (key, value) in xattrs ?? new Dictionary<string, string>())
            extended["SCHILY.xattr." + key] = value;
        var entry = new PaxTarEntry(type, name, extended)
        {
            Mode = (UnixFileMode)mode,
            Uid = uid,
            Gid = gid,
            ModificationTime = Epoch,
        };
        return entry;
    }

    /// <summary>The tar, compressed as asked.</summary>
    public Layer Build(LayerCompression compression = LayerCompression.Gzip)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var entry in _entries)
            {
                entry.DataStream?.Seek(0, SeekOrigin.Begin);
                writer.WriteEntry(entry);
            }
        }
        byte[] bytes = tar.ToArray();
        return new Layer(bytes, Compress(bytes, compression), compression);
    }

    public static byte[] Compress(byte[] tar, LayerCompression compression)
    {
        switch (compression)
        {
            case LayerCompression.None:
                return tar;
            case LayerCompression.Gzip:
            {
                var blob = new MemoryStream();
                using (var gzip = new GZipStream(blob, CompressionLevel.Fastest, leaveOpen: true))
                    gzip.Write(tar);
                return blob.ToArray();
            }
            default:
                return Zstd(tar);
        }
    }

    /// <summary>Where the zstd command line tool is, or null: .NET has no zstd of its own.</summary>
    public static string? ZstdTool => new[] { "/usr/bin/zstd", "/bin/zstd" }.FirstOrDefault(System.IO.File.Exists);

    private static byte[] Zstd(byte[] tar)
    {
        string tool = ZstdTool ?? throw new InvalidOperationException("zstd is not installed: apt-get install zstd");
        var info = new ProcessStartInfo(tool, ["-q", "-c", "-3"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.BaseStream.Write(tar);
        process.StandardInput.Close();
        copy.Wait();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException("zstd failed: " + stderr.Result);
        return output.ToArray();
    }
}

/// <summary>What was written for one image: the digests a test checks the store against.</summary>
public sealed record WrittenImage(string ManifestDigest, string ConfigDigest, byte[] Manifest, byte[] Config, IReadOnlyList<Layer> Layers)
{
    /// <summary>The image id podman and docker print: the config blob's digest, hex.</summary>
    public string Id => OciDigest.Hex(ConfigDigest);

    public IReadOnlyList<string> DiffIds => Layers.Select(l => l.DiffId).ToList();
}

/// <summary>Builds an OCI image (layers, config, manifest) and writes it into an OCI image layout
/// directory (oci-layout, index.json, blobs/sha256/...), or an OCI archive (that layout as a
/// tar). Several images, or a multi-platform index, may share one layout; each gets its
/// org.opencontainers.image.ref.name in index.json.</summary>
public sealed class OciImageBuilder
{
    private const string ManifestType = "application/vnd.oci.image.manifest.v1+json";
    private const string IndexType = "application/vnd.oci.image.index.v1+json";
    private const string ConfigType = "application/vnd.oci.image.config.v1+json";
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    public List<Layer> Layers { get; } = [];

    public string Architecture { get; set; } = HostArchitecture;

    public string Os { get; set; } = "linux";

    public DateTimeOffset Created { get; set; } = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);

    public string[]? Entrypoint { get; set; }

    public string[]? Cmd { get; set; }

    public string[]? Env { get; set; } = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

    public string? WorkingDir { get; set; }

    public string? User { get; set; }

    public string? StopSignal { get; set; }

    public string[] ExposedPorts { get; set; } = [];

    public Dictionary<string, string> Labels { get; } = [];

    /// <summary>The architecture name OCI uses for this machine (amd64, arm64).</summary>
    public static string HostArchitecture => System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        var other => other.ToString().ToLowerInvariant(),
    };

    /// <summary>An architecture that is not this machine's, for the other half of a multi-platform index.</summary>
    public static string ForeignArchitecture => HostArchitecture == "arm64" ? "amd64" : "arm64";

    public OciImageBuilder AddLayer(Layer layer)
    {
        Layers.Add(layer);
        return this;
    }

    public OciImageBuilder AddLayer(LayerBuilder layer, LayerCompression compression = LayerCompression.Gzip) =>
        AddLayer(layer.Build(compression));

    private static readonly Dictionary<(string, LayerCompression), Layer> TreeLayers = [];

    /// <summary>A layer of everything under <paramref name="hostDir"/> (the busybox root), built
    /// once per test run: its digest is the same each time, so images built on it share it.</summary>
    public static Layer TreeLayer(string hostDir, LayerCompression compression = LayerCompression.Gzip)
    {
        lock (TreeLayers)
        {
            if (!TreeLayers.TryGetValue((hostDir, compression), out var layer))
                TreeLayers[(hostDir, compression)] = layer = new LayerBuilder().Tree(hostDir).Build(compression);
            return layer;
        }
    }

    /// <summary>The image config (application/vnd.oci.image.config.v1+json), as bytes.</summary>
    public byte[] ConfigJson()
    {
        var config = new JsonObject();
        if (Env != null)
            config["Env"] = Strings(Env);
        if (Entrypoint != null)
            config["Entrypoint"] = Strings(Entrypoint);
        if (Cmd != null)
            config["Cmd"] = Strings(Cmd);
        if (WorkingDir != null)
            config["WorkingDir"] = WorkingDir;
        if (User != null)
            config["User"] = User;
        if (StopSignal != null)
            config["StopSignal"] = StopSignal;
        if (ExposedPorts.Length > 0)
            config["ExposedPorts"] = new JsonObject(ExposedPorts.Select(p => KeyValuePair.Create(p, (JsonNode?)new JsonObject())));
        if (Labels.Count > 0)
            config["Labels"] = new JsonObject(Labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value)));
        var json = new JsonObject
        {
            ["created"] = Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["architecture"] = Architecture,
            ["os"] = Os,
            ["config"] = config,
            ["rootfs"] = new JsonObject
            {
                ["type"] = "layers",
                ["diff_ids"] = Strings(Layers.Select(l => l.DiffId)),
            },
            ["history"] = new JsonArray(Layers.Select(_ => (JsonNode?)new JsonObject
            {
                ["created"] = Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ"),
                ["created_by"] = "OciImageBuilder (Isolate's tests)",
            }).ToArray()),
        };
        return Encoding.UTF8.GetBytes(json.ToJsonString());
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)v).ToArray());

    /// <summary>Writes the blobs and the manifest into <paramref name="layout"/> and names the
    /// manifest in index.json with <paramref name="refName"/> (none: an untagged image).</summary>
    public WrittenImage WriteLayout(string layout, string? refName)
    {
        var image = WriteBlobs(layout);
        AddToIndex(layout, Descriptor(ManifestType, image.ManifestDigest, image.Manifest.Length, refName, platform: null));
        return image;
    }

    /// <summary>Writes the layers, config and manifest blobs, naming nothing in index.json.</summary>
    public WrittenImage WriteBlobs(string layout)
    {
        InitLayout(layout);
        foreach (var layer in Layers)
            WriteBlob(layout, layer.Blob);
        byte[] config = ConfigJson();
        string configDigest = WriteBlob(layout, config);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = ManifestType,
            ["config"] = Descriptor(ConfigType, configDigest, config.Length, null, null),
            ["layers"] = new JsonArray(Layers.Select(l => (JsonNode?)Descriptor(l.MediaType, l.Digest, l.Blob.Length, null, null)).ToArray()),
        };
        byte[] manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        string manifestDigest = WriteBlob(layout, manifestBytes);
        return new WrittenImage(manifestDigest, configDigest, manifestBytes, config, Layers.ToList());
    }

    /// <summary>A multi-platform image: an image index blob naming each image's manifest with its
    /// platform, and index.json naming that index with <paramref name="refName"/>.
    /// Returns the index's digest and the images in the order given.</summary>
    public static (string IndexDigest, IReadOnlyList<WrittenImage> Images) WriteMultiPlatform(string layout, string refName, params OciImageBuilder[] images)
    {
        var written = images.Select(i => i.WriteBlobs(layout)).ToList();
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = IndexType,
            ["manifests"] = new JsonArray(written.Select((w, i) => (JsonNode?)Descriptor(ManifestType, w.ManifestDigest, w.Manifest.Length, null,
                new JsonObject { ["architecture"] = images[i].Architecture, ["os"] = images[i].Os })).ToArray()),
        };
        byte[] bytes = Encoding.UTF8.GetBytes(index.ToJsonString());
        string digest = WriteBlob(layout, bytes);
        AddToIndex(layout, Descriptor(IndexType, digest, bytes.Length, refName, null));
        return (digest, written);
    }

    private static JsonObject Descriptor(string mediaType, string digest, long size, string? refName, JsonObject? platform)
    {
        var descriptor = new JsonObject { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = size };
        if (platform != null)
            descriptor["platform"] = platform;
        if (refName != null)
            descriptor["annotations"] = new JsonObject { [RefNameAnnotation] = refName };
        return descriptor;
    }

    private static void InitLayout(string layout)
    {
        System.IO.Directory.CreateDirectory(Path.Combine(layout, "blobs", "sha256"));
        System.IO.File.WriteAllText(Path.Combine(layout, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        if (!System.IO.File.Exists(Path.Combine(layout, "index.json")))
            System.IO.File.WriteAllText(Path.Combine(layout, "index.json"), "{\"schemaVersion\":2,\"manifests\":[]}");
    }

    private static string WriteBlob(string layout, byte[] bytes)
    {
        string digest = OciDigest.Of(bytes);
        string path = Path.Combine(layout, "blobs", "sha256", OciDigest.Hex(digest));
        if (!System.IO.File.Exists(path))
            System.IO.File.WriteAllBytes(path, bytes);
        return digest;
    }

    private static void AddToIndex(string layout, JsonObject descriptor)
    {
        InitLayout(layout);
        string path = Path.Combine(layout, "index.json");
        var index = JsonNode.Parse(System.IO.File.ReadAllText(path))!.AsObject();
        index["mediaType"] = IndexType;
        index["manifests"]!.AsArray().Add(descriptor);
        System.IO.File.WriteAllText(path, index.ToJsonString());
    }

    /// <summary>An OCI archive: the layout directory as a tar (oci-layout, index.json, blobs/).</summary>
    public static void WriteArchive(string layout, string tarFile)
    {
        using var output = System.IO.File.Create(tarFile);
        using var writer = new TarWriter(output, TarEntryFormat.Pax);
        foreach (string name in new[] { "oci-layout", "index.json" })
            writer.WriteEntry(Path.Combine(layout, name), name);
        writer.WriteEntry(Path.Combine(layout, "blobs"), "blobs");
        writer.WriteEntry(Path.Combine(layout, "blobs", "sha256"), "blobs/sha256");
        foreach (string blob in System.IO.Directory.GetFiles(Path.Combine(layout, "blobs", "sha256")).Order(StringComparer.Ordinal))
            writer.WriteEntry(blob, "blobs/sha256/" + Path.GetFileName(blob));
    }
}
