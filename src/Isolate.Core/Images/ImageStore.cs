using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Isolate.Interop;
using static Isolate.Interop.OpenFlags;
using static Isolate.Interop.LockFlags;

namespace Isolate.Images;

/// <summary>One image as the store holds it: its id (the config blob's digest, hex), config,
/// tags, and its layers' directories, base first.</summary>
public sealed record StoredImage(string Id, ImageConfig Config, ImageRecord Record, IReadOnlyList<string> Tags, IReadOnlyList<string> LayerDirectories);

/// <summary>The content-addressed store (default /var/lib/isolate/images):
/// <list type="bullet">
/// <item>blobs/sha256/HEX: manifests and image configs, each verified against its digest;</item>
/// <item>layers/HEX: each layer unpacked once, named by its diff id, shared by every image
/// that has it; a directory appears there only whole (unpacked in tmp/, then renamed);</item>
/// <item>tmp/: downloads in progress (kept, so an interrupted pull resumes) and layers being
/// unpacked (removed by the next writer of that layer);</item>
/// <item>repositories.json: tags and images, rewritten whole and renamed into place.</item>
/// </list>
/// Locks (flock): writers that add hold store.lock shared, rmi and prune exclusive, so nothing
/// a pull is still linking is removed; one layer or blob is fetched by one writer at a time
/// (tmp/HEX.lock), so two pulls of one image download each layer once; repositories.json is
/// changed under metadata.lock; a container holds its layers' directories shared while it
/// runs (<see cref="HoldLayers"/>), and rmi and prune leave such a layer be.</summary>
public sealed partial class ImageStore
{
    private ImageStore(string root) => Root = root;

    public string Root { get; }

    private string Tmp => Path.Combine(Root, "tmp");

    /// <summary>Beside the logs (<see cref="State.StateStore.DefaultLogRoot"/>): /var/lib/isolate/images
    /// for root; $XDG_DATA_HOME/isolate/images (default ~/.local/share) for anyone else.</summary>
    public static string DefaultRoot() => Path.Combine(Path.GetDirectoryName(State.StateStore.DefaultLogRoot())!, "images");

    /// <summary>The store at <paramref name="root"/> (default: <see cref="DefaultRoot"/>), made
    /// where missing, 0700: its layers are containers' files.</summary>
    public static ImageStore Open(string? root)
    {
        string dir = Path.GetFullPath(root ?? DefaultRoot());
        try
        {
            foreach (string sub in new[] { "", "blobs/sha256", "layers", "tmp" })
                Directory.CreateDirectory(Path.Combine(dir, sub), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolateException($"image store {dir}: {ErrorText.Of(e)}; give a directory of your own with --storage DIR");
        }
        return new ImageStore(dir);
    }

    [GeneratedRegex(@"^sha256:[a-f0-9]{64}\z")]
    private static partial Regex DigestPattern();

    /// <summary>A sha256 digest as a manifest or config gives it; anything else is refused
    /// (it becomes a file name in the store).</summary>
    public static string CheckDigest(string? digest, string what) =>
        digest != null && DigestPattern().IsMatch(digest) ? digest
            : throw new IsolateException($"{what}: '{digest}' is not a sha256 digest (sha256: and 64 lowercase hex digits)");

    public static string Hex(string digest) => digest["sha256:".Length..];

    public string BlobPath(string digest) => Path.Combine(Root, "blobs", "sha256", Hex(digest));

    public string LayerPath(string diffId) => Path.Combine(Root, "layers", Hex(diffId));

    public bool HasLayer(string diffId) => Directory.Exists(LayerPath(diffId));

    public static string DigestOf(ReadOnlySpan<byte> data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    // ---- locks ----

    /// <summary>Held while a pull or load adds to the store (shared), or while rmi or prune
    /// removes (exclusive).</summary>
    internal FileDescriptor Lock(bool exclusive) => TakeLock(Path.Combine(Root, "store.lock"), exclusive ? LOCK_EX : LOCK_SH);

    /// <summary>One writer per blob or layer: <paramref name="hex"/> names it. Its lock file
    /// goes when the writer is done, so tmp/ keeps none: a waiter that then holds the lock of a
    /// removed file sees that its path no longer leads to it, and takes the lock again.</summary>
    internal IDisposable LockItem(string hex)
    {
        string path = Path.Combine(Tmp, hex + ".lock");
        while (true)
        {
            var fd = TakeLock(path, LOCK_EX);
            if (FileStat.Follow(fd.ProcPath) is { } held && FileStat.NoFollow(path) is { } current && held.Inode == current.Inode)
                return new ItemLock(fd, path);
            fd.Dispose();
        }
    }

    private sealed class ItemLock(FileDescriptor fd, string path) : IDisposable
    {
        public void Dispose()
        {
            Libc.Unlink(path);
            fd.Dispose();
        }
    }

    /// <summary>An flock on <paramref name="path"/> (made where missing), waited for.</summary>
    internal static FileDescriptor TakeLock(string path, int operation)
    {
        var fd = FileDescriptor.Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0x180);
        if (fd.IsInvalid)
            throw IsolateException.FromErrno("open the image store's lock", path, Marshal.GetLastPInvokeError());
        while (Libc.Flock(fd, operation) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                fd.Dispose();
                throw IsolateException.FromErrno("lock the image store", path, errno);
            }
        }
        return fd;
    }

    /// <summary>A running container's hold on its image's layers (shared flocks on their
    /// directories), released when it ends; rmi and prune keep a held layer.</summary>
    public static IDisposable? HoldLayers(IReadOnlyList<string> layers)
    {
        if (layers.Count == 0)
            return null;
        var held = new List<FileDescriptor>();
        foreach (string dir in layers)
        {
            // blocking: rmi or prune holds a layer exclusively only while it decides and removes
            var fd = FileDescriptor.Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (!fd.IsInvalid && Libc.Flock(fd, LOCK_SH) == 0)
                held.Add(fd);
            else
                fd.Dispose();
        }
        return new Holds(held);
    }

    private sealed class Holds(List<FileDescriptor> fds) : IDisposable
    {
        public void Dispose() => fds.ForEach(fd => fd.Dispose());
    }

    /// <summary>The layer's directory locked exclusively, or null where a running container
    /// holds it; held while the layer is removed, so no container starts on it meanwhile.</summary>
    private static FileDescriptor? Unused(string layerDirectory)
    {
        var fd = FileDescriptor.Open(layerDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!fd.IsInvalid && Libc.Flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        fd.Dispose();
        return null;
    }

    // ---- blobs and layers ----

    /// <summary>Writes a small blob (a manifest, a config) whose bytes are in hand, after
    /// checking them against <paramref name="digest"/>.</summary>
    public void WriteBlob(string digest, byte[] data, string what)
    {
        if (DigestOf(data) != digest)
            throw new IsolateException($"{what}: its content does not match its digest {digest}: refused");
        string path = BlobPath(digest);
        if (File.Exists(path))
            return;
        string temp = Path.Combine(Tmp, $"{Hex(digest)}.{Environment.ProcessId}.blob");
        File.WriteAllBytes(temp, data);
        File.Move(temp, path, overwrite: true);
    }

    public byte[]? ReadBlob(string digest) => File.Exists(BlobPath(digest)) ? File.ReadAllBytes(BlobPath(digest)) : null;

    /// <summary>The layer <paramref name="diffId"/>, unpacked from what <paramref name="open"/>
    /// gives unless the store has it: into tmp/, checked against the diff id, then renamed into
    /// layers/. A crash leaves at most tmp/HEX.unpack, which the next writer of that layer
    /// removes first. Returns what the unpack gave, or null where the layer was there already.
    /// A non-root caller's store is unpacked rootless (<see cref="LayerUnpacker"/>).</summary>
    public LayerUnpacker.Result? EnsureLayer(string diffId, Func<Stream> open, string what)
    {
        string target = LayerPath(diffId);
        if (Directory.Exists(target))
            return null;
        using var item = LockItem(Hex(diffId));
        if (Directory.Exists(target))
            return null; // another writer unpacked it while this one waited
        string work = Path.Combine(Tmp, Hex(diffId) + ".unpack");
        RemoveTree(work);
        if (Libc.Mkdir(work, 0x1C0) < 0)
            throw IsolateException.FromErrno("make a layer directory", work, Marshal.GetLastPInvokeError());
        LayerUnpacker.Result result;
        try
        {
            using var blob = open();
            result = LayerUnpacker.Unpack(blob, work, rootless: Libc.GetEffectiveUserId() != 0);
            if (result.DiffId != diffId)
                throw new IsolateException($"{what}: its content's digest is {result.DiffId}, not the {diffId} the image config names: refused");
        }
        catch
        {
            RemoveTree(work);
            throw;
        }
        // the size beside the layer, written first: a .size with no layer is swept by Collect
        File.WriteAllText(target + ".size", result.Size.ToString(CultureInfo.InvariantCulture));
        if (Libc.Rename(work, target) < 0)
            throw IsolateException.FromErrno("move the unpacked layer into the store", target, Marshal.GetLastPInvokeError());
        return result;
    }

    private long LayerSize(string diffId) =>
        File.Exists(LayerPath(diffId) + ".size") && long.TryParse(File.ReadAllText(LayerPath(diffId) + ".size"), out long n) ? n : 0;

    private static void RemoveTree(string path)
    {
        if (Directory.Exists(path))
            Shim.RemoveTreeOrThrow(path);
        else
            File.Delete(path);
    }

    // ---- images ----

    /// <summary>Records an image whose config blob and layers are in the store, and points
    /// <paramref name="tags"/> (store keys) at it.</summary>
    public StoredImage Record(string configDigest, string? manifestDigest, IReadOnlyList<string> tags, string? repoDigest)
    {
        var config = ConfigOf(Hex(configDigest));
        long size = config.DiffIds.Sum(LayerSize);
        ImageIndex.Update(Root, index =>
        {
            string id = Hex(configDigest);
            var record = index.Images.TryGetValue(id, out var old) ? old : new ImageRecord { Added = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture) };
            record = record with
            {
                Manifest = manifestDigest ?? record.Manifest,
                Size = size,
                RepoDigests = repoDigest is null || record.RepoDigests.Contains(repoDigest) ? record.RepoDigests : [.. record.RepoDigests, repoDigest],
            };
            index.Images[id] = record;
            foreach (string tag in tags)
                index.Tags[tag] = id;
        });
        return Get(Hex(configDigest))!;
    }

    private ImageConfig ConfigOf(string id) =>
        ImageConfig.Parse(ReadBlob("sha256:" + id) ?? throw new IsolateException($"image {id[..12]}: its config blob is missing from the store {Root}"), $"image {id[..12]}");

    /// <summary>The image with id <paramref name="id"/>, or null.</summary>
    public StoredImage? Get(string id) => Get(id, ImageIndex.Read(Root));

    private StoredImage? Get(string id, ImageIndex index)
    {
        if (!index.Images.TryGetValue(id, out var record))
            return null;
        var config = ConfigOf(id);
        return new StoredImage(id, config, record,
            [.. index.Tags.Where(t => t.Value == id).Select(t => t.Key).Order(StringComparer.Ordinal)],
            [.. config.DiffIds.Select(LayerPath)]);
    }

    /// <summary>An image by reference (a tag, or NAME@DIGEST), or by id or a prefix of at
    /// least 4 hex digits of one (rmi, inspect); null where the store has none.</summary>
    public StoredImage? Find(string text)
    {
        var index = ImageIndex.Read(Root);
        string hexText = text.StartsWith("sha256:", StringComparison.Ordinal) ? text[7..] : text;
        if (hexText.Length >= 4 && hexText.All(Uri.IsHexDigit))
        {
            var ids = index.Images.Keys.Where(id => id.StartsWith(hexText, StringComparison.Ordinal)).ToList();
            if (ids.Count > 1)
                throw new IsolateException($"image id prefix '{text}' is ambiguous: it starts {ids.Count} images; give more of it");
            if (ids.Count == 1)
                return Get(ids[0], index);
        }
        if (!ImageReference.TryParse(text, out var reference, out _))
            return null;
        return Find(reference!);
    }

    public StoredImage? Find(ImageReference reference)
    {
        var index = ImageIndex.Read(Root);
        if (reference.Digest != null)
        {
            string key = $"{reference.FullName}@{reference.Digest}";
            var match = index.Images.FirstOrDefault(i => i.Value.RepoDigests.Contains(key) || i.Key == Hex(reference.Digest));
            return match.Key is null ? null : Get(match.Key, index);
        }
        return index.Tags.TryGetValue(reference.TagKey!, out string? id) ? Get(id, index) : null;
    }

    /// <summary>Every image, newest first.</summary>
    public IReadOnlyList<StoredImage> List()
    {
        var index = ImageIndex.Read(Root);
        return [.. index.Images.Keys.Select(id => Get(id, index)).OfType<StoredImage>().OrderByDescending(i => i.Record.Added, StringComparer.Ordinal)];
    }

    /// <summary>rmi: untags <paramref name="text"/> (a tag: that tag; an id: all of them, which
    /// needs <paramref name="force"/> where it has more than one), and deletes the image once
    /// no tag names it, with its layers no other image has. Lines for the user come back.</summary>
    public IReadOnlyList<string> Remove(string text, bool force)
    {
        using var exclusive = Lock(exclusive: true);
        var image = Find(text) ?? throw new IsolateException($"no such image: {text} (isolate images lists them)", ExitCodes.Failure);
        bool byTag = !IsIdText(text, image.Id) && ImageReference.TryParse(text, out var reference, out _) && reference!.TagKey is { } tagKey && image.Tags.Contains(tagKey);
        var untag = byTag ? [ImageReference.Parse(text).TagKey!] : image.Tags;
        if (!byTag && image.Tags.Count > 1 && !force)
            throw new IsolateException($"image {image.Id[..12]} has {image.Tags.Count} tags ({string.Join(", ", image.Tags.Select(ImageReference.Display))}): remove them by name, or use -f");
        var lines = new List<string>();
        bool deleted = false;
        ImageIndex.Update(Root, index =>
        {
            foreach (string tag in untag)
            {
                index.Tags.Remove(tag);
                lines.Add("Untagged: " + ImageReference.Display(tag));
            }
            if (!index.Tags.ContainsValue(image.Id))
            {
                index.Images.Remove(image.Id);
                deleted = true;
            }
        });
        if (deleted)
        {
            lines.Add("Deleted: sha256:" + image.Id);
            Collect();
        }
        return lines;
    }

    private static bool IsIdText(string text, string id)
    {
        string hex = text.StartsWith("sha256:", StringComparison.Ordinal) ? text[7..] : text;
        return hex.Length >= 4 && id.StartsWith(hex, StringComparison.Ordinal);
    }

    /// <summary>image prune: images no tag names go, then what no image needs.</summary>
    public (IReadOnlyList<string> Lines, long Reclaimed) Prune()
    {
        using var exclusive = Lock(exclusive: true);
        var lines = new List<string>();
        ImageIndex.Update(Root, index =>
        {
            foreach (string id in index.Images.Keys.Where(id => !index.Tags.ContainsValue(id)).ToList())
            {
                index.Images.Remove(id);
                lines.Add("Deleted: sha256:" + id);
            }
        });
        return (lines, Collect());
    }

    /// <summary>Removes blobs, layers and leftovers in tmp/ that no recorded image needs; a
    /// layer a running container holds stays. The caller holds the store lock exclusively.</summary>
    private long Collect()
    {
        var index = ImageIndex.Read(Root);
        var blobs = new HashSet<string>(StringComparer.Ordinal);
        var layers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, record) in index.Images)
        {
            blobs.Add(id);
            if (record.Manifest != null)
                blobs.Add(Hex(record.Manifest));
            if (ReadBlob("sha256:" + id) is { } bytes)
                foreach (string diffId in ImageConfig.Parse(bytes, id).DiffIds)
                    layers.Add(Hex(diffId));
        }
        long reclaimed = 0;
        foreach (string path in Directory.EnumerateFiles(Path.Combine(Root, "blobs", "sha256")))
        {
            if (!blobs.Contains(Path.GetFileName(path)))
            {
                reclaimed += new FileInfo(path).Length;
                File.Delete(path);
            }
        }
        foreach (string path in Directory.EnumerateFiles(Path.Combine(Root, "layers"), "*.size"))
        {
            if (!Directory.Exists(path[..^".size".Length]))
                File.Delete(path);
        }
        foreach (string path in Directory.EnumerateDirectories(Path.Combine(Root, "layers")))
        {
            string hex = Path.GetFileName(path);
            if (layers.Contains(hex))
                continue;
            using var unused = Unused(path);
            if (unused is null)
                continue;
            reclaimed += LayerSize("sha256:" + hex);
            RemoveTree(path);
            File.Delete(path + ".size");
        }
        // tmp/: nobody adds while the exclusive lock is held, so all of it is left over
        foreach (string path in Directory.EnumerateFileSystemEntries(Tmp))
        {
            if (File.Exists(path))
                reclaimed += new FileInfo(path).Length;
            RemoveTree(path);
        }
        return reclaimed;
    }
}
