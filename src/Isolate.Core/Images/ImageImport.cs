using System.Globalization;
using System.Security.Cryptography;

namespace Isolate.Images;

/// <summary>Where an import reads blobs from: a registry (RegistryClient) or an archive or
/// layout on disk (ImageArchive). Open returns the blob as a seekable stream whose bytes have
/// been checked against <paramref name="digest"/>.</summary>
public interface IBlobSource
{
    Stream Open(Descriptor blob, Action<long, long>? progress);

    /// <summary>The blob's bytes are in the store now: a download's copy may go.</summary>
    void Done(Descriptor blob);
}

/// <summary>The one way an image enters the store, whatever it came from: manifest checked,
/// config fetched and checked, each layer the store lacks fetched, checked and unpacked,
/// then the image recorded and tagged. Pull and load both end here.</summary>
public static class ImageImport
{
    /// <summary>Imports the image of <paramref name="manifestBytes"/> (an image manifest, not an
    /// index), tagging it <paramref name="tags"/>.</summary>
    public static StoredImage Import(ImageStore store, IBlobSource source, byte[] manifestBytes, string manifestDigest,
        IReadOnlyList<string> tags, string? repoDigest, IProgress progress, string what)
    {
        var manifest = ImageManifest.ParseManifest(manifestBytes, what);
        byte[] configBytes;
        using (var config = source.Open(manifest.Config, null))
        {
            if (config.Length > 16 << 20)
                throw new IsolateException($"{what}: its config blob is {config.Length} bytes: refused (at most 16 MiB)");
            configBytes = new byte[config.Length];
            config.ReadExactly(configBytes);
        }
        var imageConfig = ImageConfig.Parse(configBytes, what);
        if (imageConfig.DiffIds.Count != manifest.Layers.Count)
            throw new IsolateException($"{what}: the manifest has {manifest.Layers.Count} layers and the config {imageConfig.DiffIds.Count} diff ids");
        if (imageConfig.Os.Length > 0 && imageConfig.Os != "linux")
            throw new IsolateException($"{what}: the image is for {imageConfig.Os}, not linux");
        store.WriteBlob(manifest.Config.Digest, configBytes, what + "'s config");
        source.Done(manifest.Config);
        for (int i = 0; i < manifest.Layers.Count; i++)
        {
            var layer = manifest.Layers[i];
            string diffId = imageConfig.DiffIds[i];
            string label = ImageStore.Hex(layer.Digest)[..12];
            if (store.HasLayer(diffId))
            {
                progress.Line(label, "already in the store");
                continue;
            }
            var started = DateTime.UtcNow;
            var unpacked = store.EnsureLayer(diffId, () => source.Open(layer, (done, total) => progress.Bytes(label, done, total, started)), $"{what}: layer {layer.Digest}");
            source.Done(layer);
            progress.Line(label, unpacked is null ? "already in the store" : $"unpacked, {Human(unpacked.Size)}"
                + (unpacked.NotKept is { } lost ? $"; not kept, as a non-root user cannot make them: {lost}" : ""));
        }
        store.WriteBlob(manifestDigest, manifestBytes, what + "'s manifest");
        return store.Record(manifest.Config.Digest, manifestDigest, tags, repoDigest);
    }

    /// <summary>The digest of a file's bytes, for blobs read from disk.</summary>
    public static string DigestOf(Stream stream)
    {
        stream.Seek(0, SeekOrigin.Begin);
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(stream));
        stream.Seek(0, SeekOrigin.Begin);
        return digest;
    }

    public static string Human(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " kB",
        < 1024L * 1024 * 1024 => (bytes / 1024.0 / 1024).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
        _ => (bytes / 1024.0 / 1024 / 1024).ToString("0.00", CultureInfo.InvariantCulture) + " GB",
    };
}

/// <summary>How a pull or load reports: per layer, bytes and rate on a terminal (one line,
/// rewritten), plain lines otherwise.</summary>
public interface IProgress
{
    void Bytes(string layer, long done, long total, DateTime started);
    void Line(string layer, string what);
}
