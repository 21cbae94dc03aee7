using System.Text.Json;
using static Isolate.Interop.LockFlags;

namespace Isolate.Images;

/// <summary>What the store keeps of one image beside its config blob.</summary>
public sealed record ImageRecord
{
    /// <summary>The manifest it came from (a pull, an OCI layout); null for a docker archive's.</summary>
    public string? Manifest { get; init; }
    /// <summary>Bytes its layers' files hold.</summary>
    public long Size { get; init; }
    /// <summary>NAME@sha256:… of the manifests it was pulled by.</summary>
    public IReadOnlyList<string> RepoDigests { get; init; } = [];
    /// <summary>When it came into the store (ISO 8601, UTC).</summary>
    public string Added { get; init; } = "";
}

/// <summary>repositories.json: {"tags": {KEY: ID}, "images": {ID: record}}; read without a
/// lock (it is only ever replaced whole, by rename), changed under metadata.lock.</summary>
internal sealed class ImageIndex
{
    public Dictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, ImageRecord> Images { get; } = new(StringComparer.Ordinal);

    private static string FileOf(string root) => Path.Combine(root, "repositories.json");

    public static ImageIndex Read(string root)
    {
        var index = new ImageIndex();
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(FileOf(root));
        }
        catch (FileNotFoundException)
        {
            return index;
        }
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.TryGetProperty("tags", out var tags))
                foreach (var tag in tags.EnumerateObject())
                    index.Tags[tag.Name] = tag.Value.GetString()!;
            if (doc.RootElement.TryGetProperty("images", out var images))
            {
                foreach (var image in images.EnumerateObject())
                {
                    var o = image.Value;
                    index.Images[image.Name] = new ImageRecord
                    {
                        Manifest = o.TryGetProperty("manifest", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null,
                        Size = o.TryGetProperty("size", out var s) ? s.GetInt64() : 0,
                        RepoDigests = o.TryGetProperty("repoDigests", out var d) ? [.. d.EnumerateArray().Select(e => e.GetString()!)] : [],
                        Added = o.TryGetProperty("added", out var a) ? a.GetString() ?? "" : "",
                    };
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new IsolateException($"the image store's index {FileOf(root)} is damaged; remove the store (or restore the file) and pull again");
        }
        return index;
    }

    /// <summary>Reads, changes and writes the index under its lock: written to a temporary
    /// file, fsync'd, renamed over the old one, so a reader or a crash sees one or the other.</summary>
    public static void Update(string root, Action<ImageIndex> change)
    {
        using var held = ImageStore.TakeLock(Path.Combine(root, "metadata.lock"), LOCK_EX);
        var index = Read(root);
        change(index);
        string temp = FileOf(root) + "." + Environment.ProcessId + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteStartObject("tags");
                foreach (var (key, id) in index.Tags.OrderBy(t => t.Key, StringComparer.Ordinal))
                    w.WriteString(key, id);
                w.WriteEndObject();
                w.WriteStartObject("images");
                foreach (var (id, record) in index.Images.OrderBy(i => i.Key, StringComparer.Ordinal))
                {
                    w.WriteStartObject(id);
                    if (record.Manifest != null)
                        w.WriteString("manifest", record.Manifest);
                    w.WriteNumber("size", record.Size);
                    w.WriteStartArray("repoDigests");
                    foreach (string digest in record.RepoDigests)
                        w.WriteStringValue(digest);
                    w.WriteEndArray();
                    w.WriteString("added", record.Added);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, FileOf(root), overwrite: true);
    }
}
