using System.Text.Json;
using Isolate.Interop;

namespace Isolate.Images;

/// <summary>`isolate load`: a `docker save` archive (manifest.json with RepoTags), an OCI
/// archive, or an OCI image layout directory (oci-layout and index.json). An archive is
/// first unpacked into the store's tmp/ by the layer unpacker, with the same refusals as a
/// layer, and every file of it is then opened inside that directory (RESOLVE_IN_ROOT), so a
/// link in the archive cannot make a host file a blob.</summary>
public static class ImageArchive
{
    /// <summary>Loads every image in <paramref name="path"/>; <paramref name="name"/> names the
    /// repository of an OCI image whose ref.name is a tag alone. Lines for the user come back.</summary>
    public static IReadOnlyList<string> Load(ImageStore store, string path, string? name, IProgress progress)
    {
        using var shared = store.Lock(exclusive: false);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            return LoadDirectory(store, full, name, progress, path);
        if (!File.Exists(full))
            throw new IsolateException($"load -i {path}: no such file or directory");
        SweepLoads(store);
        string work = Path.Combine(store.Root, "tmp", $"load.{Environment.ProcessId}");
        if (Directory.Exists(work))
            Shim.RemoveTreeOrThrow(work);
        Directory.CreateDirectory(work, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            using (var file = File.OpenRead(full))
                LayerUnpacker.Unpack(file, work, rootless: Libc.GetEffectiveUserId() != 0);
            return LoadDirectory(store, work, name, progress, path);
        }
        catch (IsolateException e) when (e.Message.StartsWith("layer", StringComparison.Ordinal))
        {
            throw new IsolateException($"load -i {path}: the archive's {e.Message}");
        }
        finally
        {
            Shim.RemoveTreeOrThrow(work);
        }
    }

    /// <summary>An archive unpacked by a load that was killed: tmp/load.PID of a PID that is gone.</summary>
    private static void SweepLoads(ImageStore store)
    {
        foreach (string dir in Directory.EnumerateDirectories(Path.Combine(store.Root, "tmp"), "load.*"))
        {
            if (int.TryParse(Path.GetFileName(dir)["load.".Length..], out int pid) && pid != Environment.ProcessId
                && Libc.Kill(pid, 0) < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Errno.ESRCH)
                Shim.RemoveTreeOrThrow(dir);
        }
    }

    private static IReadOnlyList<string> LoadDirectory(ImageStore store, string dir, string? name, IProgress progress, string shown)
    {
        var source = new DirectorySource(dir, shown);
        if (source.Exists("index.json"))
            return LoadOci(store, source, name, progress, shown);
        if (source.Exists("manifest.json"))
            return LoadDocker(store, source, name, progress, shown);
        throw new IsolateException($"load -i {shown}: neither a docker archive (manifest.json) nor an OCI layout (index.json)");
    }

    private static IReadOnlyList<string> LoadOci(ImageStore store, DirectorySource source, string? name, IProgress progress, string shown)
    {
        var lines = new List<string>();
        using var doc = JsonDocument.Parse(source.ReadSmall("index.json"));
        if (!doc.RootElement.TryGetProperty("manifests", out var manifests) || manifests.GetArrayLength() == 0)
            throw new IsolateException($"load -i {shown}: its index.json lists no image");
        foreach (var entry in manifests.EnumerateArray())
        {
            var descriptor = ImageManifest.DescriptorOf(entry, $"load -i {shown}");
            string? refName = entry.TryGetProperty("annotations", out var annotations)
                && annotations.TryGetProperty("org.opencontainers.image.ref.name", out var r) ? r.GetString() : null;
            byte[] bytes = source.ReadBlob(descriptor);
            string digest = descriptor.Digest;
            if (ImageManifest.IsIndex(descriptor.MediaType, bytes))
            {
                var chosen = ImageManifest.SelectPlatform(bytes, $"load -i {shown}");
                bytes = source.ReadBlob(chosen);
                digest = chosen.Digest;
            }
            var tags = TagsFor(refName, name, shown);
            var image = ImageImport.Import(store, source, bytes, digest, tags, null, progress, $"load -i {shown}");
            lines.AddRange(tags.Count > 0 ? tags.Select(t => "Loaded image: " + ImageReference.Display(t)) : ["Loaded image ID: sha256:" + image.Id]);
        }
        return lines;
    }

    /// <summary>ref.name: a full reference (debian:12, localhost/app:1) as it is; a tag alone
    /// (12) under NAME; NAME alone for an image with no ref.name.</summary>
    private static List<string> TagsFor(string? refName, string? name, string shown)
    {
        if (refName is { Length: > 0 } && (refName.Contains(':') || refName.Contains('/')))
            return [ImageReference.Parse(refName).TagKey ?? throw new IsolateException($"load -i {shown}: ref.name {refName} has no tag")];
        if (name is null)
            return [];
        var reference = ImageReference.Parse(refName is { Length: > 0 } ? $"{name}:{refName}" : name);
        return [reference.TagKey ?? throw new IsolateException($"load -i {shown}: {name}: give a NAME[:TAG], not a digest")];
    }

    private static IReadOnlyList<string> LoadDocker(ImageStore store, DirectorySource source, string? name, IProgress progress, string shown)
    {
        var lines = new List<string>();
        string what = $"load -i {shown}";
        using var doc = JsonDocument.Parse(source.ReadSmall("manifest.json"));
        foreach (var entry in doc.RootElement.EnumerateArray())
        {
            string configPath = entry.GetProperty("Config").GetString()!;
            byte[] config = source.ReadSmall(configPath);
            string configDigest = ImageStore.DigestOf(config);
            var layerPaths = entry.GetProperty("Layers").EnumerateArray().Select(l => l.GetString()!).ToList();
            // the docker archive has no manifest of its own: one is written for it, naming each
            // layer by its file's digest, so the import reads them as it reads any blob
            var layers = layerPaths.Select(p => new Descriptor("application/vnd.oci.image.layer.v1.tar", source.Register(p), -1)).ToList();
            byte[] manifest = ManifestFor(new Descriptor(ImageManifest.OciConfig, configDigest, config.Length), layers);
            source.Register(configPath);
            var tags = entry.TryGetProperty("RepoTags", out var repoTags) && repoTags.ValueKind == JsonValueKind.Array && repoTags.GetArrayLength() > 0
                ? repoTags.EnumerateArray().Select(t => ImageReference.Parse(t.GetString()!).TagKey!).ToList()
                : name is null ? [] : [ImageReference.Parse(name).TagKey!];
            var image = ImageImport.Import(store, source, manifest, ImageStore.DigestOf(manifest), tags, null, progress, what);
            lines.AddRange(tags.Count > 0 ? tags.Select(t => "Loaded image: " + ImageReference.Display(t)) : ["Loaded image ID: sha256:" + image.Id]);
        }
        return lines;
    }

    private static byte[] ManifestFor(Descriptor config, IReadOnlyList<Descriptor> layers)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", 2);
            w.WriteString("mediaType", ImageManifest.OciManifest);
            WriteDescriptor(w, "config", config);
            w.WriteStartArray("layers");
            foreach (var layer in layers)
                WriteDescriptor(w, null, layer);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void WriteDescriptor(Utf8JsonWriter w, string? name, Descriptor d)
    {
        if (name is null) w.WriteStartObject(); else w.WriteStartObject(name);
        w.WriteString("mediaType", d.MediaType);
        w.WriteString("digest", d.Digest);
        w.WriteNumber("size", d.Size);
        w.WriteEndObject();
    }

    /// <summary>Blobs of a directory (a layout, or an archive unpacked), opened inside it.</summary>
    private sealed class DirectorySource(string root, string shown) : IBlobSource
    {
        private readonly Dictionary<string, string> _paths = new(StringComparer.Ordinal);

        public bool Exists(string path)
        {
            int fd = Shim.OpenInRoot(root, path);
            if (fd < 0)
                return false;
            Libc.Close(fd);
            return true;
        }

        private FileStream OpenFile(string path)
        {
            int fd = Shim.OpenInRoot(root, path);
            if (fd < 0)
                throw IsolateException.FromErrno($"load -i {shown}: open", path, -fd);
            return new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Read);
        }

        public byte[] ReadSmall(string path)
        {
            using var file = OpenFile(path);
            if (file.Length > 16 << 20)
                throw new IsolateException($"load -i {shown}: {path} is {file.Length} bytes: refused (at most 16 MiB)");
            var bytes = new byte[file.Length];
            file.ReadExactly(bytes);
            return bytes;
        }

        /// <summary>A docker archive's file by path: its digest, under which Open finds it.</summary>
        public string Register(string path)
        {
            using var file = OpenFile(path);
            string digest = ImageImport.DigestOf(file);
            _paths[digest] = path;
            return digest;
        }

        public byte[] ReadBlob(Descriptor blob)
        {
            using var stream = Open(blob, null);
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }

        public Stream Open(Descriptor blob, Action<long, long>? progress)
        {
            string path = _paths.TryGetValue(blob.Digest, out string? registered) ? registered : $"blobs/sha256/{ImageStore.Hex(blob.Digest)}";
            var file = OpenFile(path);
            if (ImageImport.DigestOf(file) != blob.Digest)
            {
                file.Dispose();
                throw new IsolateException($"load -i {shown}: {path} does not match its digest {blob.Digest}: refused");
            }
            return file;
        }

        public void Done(Descriptor blob)
        {
        }
    }
}
