namespace Isolate.Images;

/// <summary>`isolate pull`, and `run`'s pull of an image the store lacks.</summary>
public static class ImagePull
{
    public static StoredImage Pull(ImageStore store, ImageReference reference, RegistryOptions options, IProgress progress)
    {
        using var shared = store.Lock(exclusive: false);
        using var client = new RegistryClient(store, reference, options);
        string what = $"pull {reference}";
        var (bytes, mediaType, digest) = client.Manifest(reference.Digest ?? reference.Tag!);
        // the digest a user can pull by again: the index's where there is one, as docker records
        string repoDigest = $"{reference.FullName}@{digest}";
        if (ImageManifest.IsIndex(mediaType, bytes))
        {
            var chosen = ImageManifest.SelectPlatform(bytes, what);
            (bytes, _, digest) = client.Manifest(chosen.Digest);
        }
        var tags = reference.TagKey is { } tag ? new[] { tag } : [];
        return ImageImport.Import(store, client, bytes, digest, tags, repoDigest, progress, what);
    }
}

/// <summary>Progress on stderr: on a terminal one line per layer, rewritten as bytes arrive
/// (bytes, total, rate); otherwise a plain line when a layer is done.</summary>
public sealed class StderrProgress(Action<string> write, bool terminal, bool quiet) : IProgress
{
    public void Bytes(string layer, long done, long total, DateTime started)
    {
        if (quiet || !terminal)
            return;
        double seconds = Math.Max((DateTime.UtcNow - started).TotalSeconds, 0.001);
        string of = total > 0 ? " / " + ImageImport.Human(total) : "";
        write($"\r\x1b[K{layer}: {ImageImport.Human(done)}{of}  {ImageImport.Human((long)(done / seconds))}/s");
    }

    public void Line(string layer, string what)
    {
        if (quiet)
            return;
        write((terminal ? "\r\x1b[K" : "") + $"{layer}: {what}\n");
    }
}
