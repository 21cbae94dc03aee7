using System.IO.Compression;
using System.Runtime.InteropServices;
using Isolate.Interop;
using static Isolate.Interop.LayerCalls;
using static Isolate.Interop.OpenFlags;

namespace Isolate.Images;

/// <summary>Unpacks one image layer (a tar, plain, gzip or zstd) into an empty directory of
/// the store, keeping ownership, modes (setuid included), xattrs, device nodes, hard links and
/// times, and turning the layer's whiteouts into overlayfs' own: `.wh.NAME` a 0/0 character
/// device, `.wh..wh..opq` the trusted.overlay.opaque xattr on its directory.
///
/// For a non-root caller (<c>rootless</c>: its own store, mounted in its user namespace,
/// where it is root) what only root may make is not kept, and said: owners (every file is the
/// caller's, root inside), device nodes, and xattrs outside user.*; an opaque directory is
/// user.overlay.opaque (overlayfs' userxattr mount option reads it). Directory modes come
/// last, so a read-only directory does not stop its own entries.
///
/// Nothing can be written outside the directory: an entry's name must be relative with no
/// `..`, and every directory on its way is opened with O_NOFOLLOW from the layer's own fd, so
/// a symlink the layer made earlier (`evil -> /etc`, then `evil/passwd`) is refused rather
/// than followed; a hard link's target must be a file this layer already holds. Symlink
/// targets are data: they are resolved later, inside the container's root.</summary>
public sealed class LayerUnpacker : IDisposable
{
    private readonly int _root;
    private readonly List<(string[] Path, long Seconds, long Nanos, uint Mode)> _directories = [];
    private readonly bool _rootless;
    private int _nodesSkipped, _ownersSkipped, _xattrsSkipped;
    private string? _cachedParent;
    private int _cachedParentFd = -1;

    /// <summary>The uncompressed bytes' digest (the layer's diff id) and the bytes its files hold.</summary>
    /// <param name="NotKept">What a non-root caller's unpack could not keep, in words; null: all of it.</param>
    public sealed record Result(string DiffId, long Size, string? NotKept = null);

    private LayerUnpacker(int root, bool rootless)
    {
        _root = root;
        _rootless = rootless;
    }

    /// <summary>Unpacks <paramref name="blob"/> into <paramref name="directory"/> (existing,
    /// empty, the caller's alone) and returns its diff id.</summary>
    public static Result Unpack(Stream blob, string directory, bool rootless = false)
    {
        int root = Libc.Open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (root < 0)
            throw IsolateException.FromErrno("open the layer directory", directory, Marshal.GetLastPInvokeError());
        using var unpacker = new LayerUnpacker(root, rootless);
        Fchmod(root, 0x1ED); // 0755 unless the layer says otherwise
        using var hashing = new HashingStream(Decompress(blob));
        var reader = new TarReader(hashing);
        long size = 0;
        while (reader.Next() is { } entry)
        {
            unpacker.Apply(entry, reader);
            size += entry.Size;
        }
        hashing.Drain(); // the diff id covers the archive's trailing blocks too
        unpacker.ApplyDirectories();
        return new Result("sha256:" + hashing.HexDigest(), size, unpacker.NotKept());
    }

    /// <summary>gzip and zstd by their magic numbers (what a manifest's media type says is
    /// checked by the digest, not trusted for the format), else an uncompressed tar.</summary>
    private static Stream Decompress(Stream blob)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = 0;
        while (got < 4 && blob.Read(magic[got..]) is > 0 and var n)
            got += n;
        blob.Seek(0, SeekOrigin.Begin); // a blob is a file of the store, or of the archive being loaded
        var buffered = new BufferedStream(blob, 1 << 16);
        if (got >= 2 && magic[0] == 0x1F && magic[1] == 0x8B)
            return new GZipStream(buffered, CompressionMode.Decompress);
        if (got >= 4 && magic[0] == 0x28 && magic[1] == 0xB5 && magic[2] == 0x2F && magic[3] == 0xFD)
            return new ZstdSharp.DecompressionStream(buffered);
        return buffered;
    }

    private void Apply(TarEntry entry, TarReader reader)
    {
        string[] path = Components(entry.Name, entry.Name);
        if (path.Length == 0)
        {
            // "./": the layer's root directory itself
            if (entry.Type != TarEntryType.Directory)
                throw Refuse(entry.Name, "names the layer's root but is not a directory");
            SetOwnerAndMode(_root, entry, directory: true);
            _directories.Add((path, entry.ModifiedSeconds, entry.ModifiedNanoseconds, entry.Mode));
            return;
        }
        string name = path[^1];
        int parent = Parent(path, entry.Name);
        if (name == ".wh..wh..opq")
        {
            SetXattr(parent, _rootless ? "user.overlay.opaque" : "trusted.overlay.opaque", "y"u8, entry.Name);
            return;
        }
        if (name.StartsWith(".wh.", StringComparison.Ordinal))
        {
            string hidden = name[".wh.".Length..];
            if (hidden is "" or "." or ".." || hidden.StartsWith(".wh.", StringComparison.Ordinal))
                throw Refuse(entry.Name, "is a whiteout of no real name");
            RemoveExisting(parent, hidden, entry.Name, keepDirectory: false);
            Check(MknodAt(parent, hidden, 0x2000 /* S_IFCHR */, 0), entry.Name, "make the whiteout");
            return;
        }
        switch (entry.Type)
        {
            case TarEntryType.Directory:
                if (MkdirAt(parent, name, 0x1C0) < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != Errno.EEXIST)
                        throw Failed(entry.Name, "make the directory", errno);
                    RemoveExisting(parent, name, entry.Name, keepDirectory: true);
                    if (MkdirAt(parent, name, 0x1C0) < 0 && Marshal.GetLastPInvokeError() != Errno.EEXIST)
                        throw Failed(entry.Name, "make the directory", Marshal.GetLastPInvokeError());
                }
                int dir = OpenAt(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
                Check(dir, entry.Name, "open the directory");
                try
                {
                    SetOwnerAndMode(dir, entry, directory: true);
                }
                finally
                {
                    Close(dir);
                }
                _directories.Add((path, entry.ModifiedSeconds, entry.ModifiedNanoseconds, entry.Mode));
                break;
            case TarEntryType.File:
                RemoveExisting(parent, name, entry.Name, keepDirectory: false);
                int file = OpenAt(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0x180);
                Check(file, entry.Name, "create the file");
                try
                {
                    WriteData(file, reader, entry.Name);
                    SetOwnerAndMode(file, entry, directory: false);
                    SetTimes(file, entry);
                }
                finally
                {
                    Close(file);
                }
                break;
            case TarEntryType.Symlink:
                RemoveExisting(parent, name, entry.Name, keepDirectory: false);
                Check(SymlinkAt(entry.LinkName, parent, name), entry.Name, "make the symlink");
                if (!KeepsOwner(entry))
                    Check(FchownAt(parent, name, entry.Uid, entry.Gid, AT_SYMLINK_NOFOLLOW), entry.Name, "set the symlink's owner");
                SetTimesAt(parent, name, entry);
                break;
            case TarEntryType.HardLink:
                string[] target = Components(entry.LinkName, entry.Name);
                if (target.Length == 0)
                    throw Refuse(entry.Name, "is a hard link to the layer's root");
                int targetParent = OpenDirectory(target[..^1], entry.Name, create: false);
                try
                {
                    RemoveExisting(parent, name, entry.Name, keepDirectory: false);
                    if (LinkAt(targetParent, target[^1], parent, name, 0) < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        throw errno == Errno.ENOENT
                            ? Refuse(entry.Name, $"is a hard link to {entry.LinkName}, which the layer does not hold before it")
                            : Failed(entry.Name, "make the hard link", errno);
                    }
                }
                finally
                {
                    Close(targetParent);
                }
                break;
            default:
                uint type = entry.Type switch
                {
                    TarEntryType.CharDevice => 0x2000u,
                    TarEntryType.BlockDevice => 0x6000u,
                    _ => 0x1000u, // fifo
                };
                if (_rootless && type != 0x1000u)
                {
                    _nodesSkipped++; // only root makes device nodes (a fifo anyone may)
                    break;
                }
                RemoveExisting(parent, name, entry.Name, keepDirectory: false);
                ulong device = Makedev(entry.DeviceMajor, entry.DeviceMinor);
                Check(MknodAt(parent, name, type | 0x180, device), entry.Name, "make the device node");
                if (!KeepsOwner(entry))
                    Check(FchownAt(parent, name, entry.Uid, entry.Gid, AT_SYMLINK_NOFOLLOW), entry.Name, "set the node's owner");
                Check(FchmodAt(parent, name, entry.Mode, 0), entry.Name, "set the node's mode");
                SetTimesAt(parent, name, entry);
                break;
        }
    }

    /// <summary>The entry's path as components: "./" and empty ones dropped; absolute names
    /// and `..` refused (no layer a builder makes has them: they are how a layer climbs out).</summary>
    private static string[] Components(string name, string entry)
    {
        if (name.StartsWith('/'))
            throw Refuse(entry, name == entry ? "is an absolute path" : $"links to the absolute path {name}");
        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(c => c != ".").ToArray();
        if (parts.Contains(".."))
            throw Refuse(entry, name == entry ? "climbs out with '..'" : $"links to {name}, which climbs out with '..'");
        return parts;
    }

    /// <summary>The fd of the entry's parent directory, made where missing (0755, as tar and
    /// docker make a directory a layer implies); cached for the run of entries in one directory.</summary>
    private int Parent(string[] path, string entry)
    {
        string key = string.Join('/', path[..^1]);
        if (_cachedParent == key)
            return _cachedParentFd;
        int fd = OpenDirectory(path[..^1], entry, create: true);
        if (_cachedParentFd >= 0)
            Close(_cachedParentFd);
        _cachedParent = key;
        _cachedParentFd = fd;
        return fd;
    }

    /// <summary>Walks <paramref name="components"/> from the layer's root, one O_NOFOLLOW open
    /// each: a symlink on the way is refused, never followed.</summary>
    private int OpenDirectory(string[] components, string entry, bool create)
    {
        int current = OpenAt(_root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        Check(current, entry, "open the layer");
        foreach (string component in components)
        {
            int next = OpenAt(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
            if (next < 0 && Marshal.GetLastPInvokeError() == Errno.ENOENT && create)
            {
                if (MkdirAt(current, component, 0x1ED) < 0 && Marshal.GetLastPInvokeError() != Errno.EEXIST)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    Close(current);
                    throw Failed(entry, "make a directory on its path", errno);
                }
                Fchmod0755(current, component);
                next = OpenAt(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
            }
            if (next < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                Close(current);
                if (errno is Errno.ELOOP or 20 /* ENOTDIR */)
                    throw Refuse(entry, $"goes through {component}, which the layer made a symlink or a file (a layer cannot write through a link)");
                throw Failed(entry, "open a directory on its path", errno);
            }
            Close(current);
            current = next;
        }
        return current;
    }

    private static void Fchmod0755(int parent, string name) => FchmodAt(parent, name, 0x1ED, 0); // past the umask

    /// <summary>A later entry replaces an earlier one of the same name, as tar does; a
    /// directory stays where the new entry is one too (its contents are kept).</summary>
    private void RemoveExisting(int parent, string name, string entry, bool keepDirectory)
    {
        if (UnlinkAt(parent, name, 0) == 0)
            return;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == Errno.ENOENT)
            return;
        if (errno == 21 /* EISDIR */)
        {
            if (keepDirectory)
                return;
            if (UnlinkAt(parent, name, AT_REMOVEDIR) == 0)
                return;
            errno = Marshal.GetLastPInvokeError();
        }
        if (keepDirectory && errno == 20)
            return;
        throw Failed(entry, "replace what the layer held there before", errno);
    }

    private static void WriteData(int fd, TarReader reader, string entry)
    {
        byte[] buffer = new byte[1 << 16];
        int got;
        while ((got = reader.Read(buffer)) > 0)
        {
            unsafe
            {
                fixed (byte* p = buffer)
                {
                    int done = 0;
                    while (done < got)
                    {
                        nint wrote = Write(fd, p + done, (nuint)(got - done));
                        if (wrote < 0)
                            throw Failed(entry, "write the file", Marshal.GetLastPInvokeError());
                        done += (int)wrote;
                    }
                }
            }
        }
    }

    /// <summary>Owner first (chown clears setuid and file capabilities), then the mode, then
    /// the xattrs (security.capability among them). A non-root caller's directory gets its
    /// mode at the end (<see cref="ApplyDirectories"/>).</summary>
    private void SetOwnerAndMode(int fd, TarEntry entry, bool directory)
    {
        if (!KeepsOwner(entry))
            Check(Fchown(fd, entry.Uid, entry.Gid), entry.Name, "set the owner");
        if (!(directory && _rootless))
            Check(Fchmod(fd, entry.Mode), entry.Name, "set the mode");
        foreach (var (name, value) in entry.Xattrs)
        {
            if (name.StartsWith("trusted.overlay.", StringComparison.Ordinal) || name.StartsWith("user.overlay.", StringComparison.Ordinal))
                throw Refuse(entry.Name, $"carries the xattr {name}, which is overlayfs' own");
            if (_rootless && !name.StartsWith("user.", StringComparison.Ordinal))
            {
                _xattrsSkipped++;
                continue;
            }
            SetXattr(fd, name, value, entry.Name);
        }
    }

    /// <summary>True where the owner is left as it is: a non-root caller's files are its own
    /// (counted where the layer named another).</summary>
    private bool KeepsOwner(TarEntry entry)
    {
        if (!_rootless)
            return false;
        if (entry.Uid != 0 || entry.Gid != 0)
            _ownersSkipped++;
        return true;
    }

    private string? NotKept()
    {
        var parts = new List<string>();
        if (_ownersSkipped > 0) parts.Add($"{_ownersSkipped} owners other than root");
        if (_nodesSkipped > 0) parts.Add($"{_nodesSkipped} device nodes");
        if (_xattrsSkipped > 0) parts.Add($"{_xattrsSkipped} xattrs outside user.*");
        return parts.Count == 0 ? null : string.Join(", ", parts);
    }

    private static unsafe void SetXattr(int fd, string name, ReadOnlySpan<byte> value, string entry)
    {
        fixed (byte* p = value)
        {
            if (Fsetxattr(fd, name, p, (nuint)value.Length, 0) < 0)
                throw Failed(entry, $"set the xattr {name}", Marshal.GetLastPInvokeError());
        }
    }

    private static unsafe void SetTimes(int fd, TarEntry entry)
    {
        long* times = stackalloc long[4] { entry.ModifiedSeconds, entry.ModifiedNanoseconds, entry.ModifiedSeconds, entry.ModifiedNanoseconds };
        Futimens(fd, times);
    }

    private static unsafe void SetTimesAt(int parent, string name, TarEntry entry)
    {
        long* times = stackalloc long[4] { entry.ModifiedSeconds, entry.ModifiedNanoseconds, entry.ModifiedSeconds, entry.ModifiedNanoseconds };
        UtimensAt(parent, name, times, AT_SYMLINK_NOFOLLOW);
    }

    /// <summary>A directory's times last (each entry made in it changed them), and a non-root
    /// caller's directory modes, deepest first: a parent still lets the walk through.</summary>
    private unsafe void ApplyDirectories()
    {
        long* times = stackalloc long[4];
        foreach (var (path, seconds, nanos, mode) in _directories.OrderByDescending(d => d.Path.Length))
        {
            times[0] = times[2] = seconds;
            times[1] = times[3] = nanos;
            if (path.Length == 0)
            {
                if (_rootless)
                    Fchmod(_root, mode);
                Futimens(_root, times);
                continue;
            }
            int parent = OpenDirectory(path[..^1], string.Join('/', path), create: false);
            try
            {
                if (_rootless)
                    Check(FchmodAt(parent, path[^1], mode, 0), string.Join('/', path), "set the mode");
                UtimensAt(parent, path[^1], times, AT_SYMLINK_NOFOLLOW);
            }
            finally
            {
                Close(parent);
            }
        }
    }

    private static ulong Makedev(uint major, uint minor) =>
        ((ulong)(major & 0xFFFFF000) << 32) | ((ulong)(major & 0xFFF) << 8) | ((ulong)(minor & 0xFFFFFF00) << 12) | (minor & 0xFF);

    private static void Check(int rc, string entry, string what)
    {
        if (rc < 0)
            throw Failed(entry, what, Marshal.GetLastPInvokeError());
    }

    private static IsolateException Refuse(string entry, string why) =>
        new($"layer entry {ByteStrings.Escape(entry)} {why}: refused, nothing of the layer is kept");

    private static IsolateException Failed(string entry, string what, int errno) =>
        new($"layer entry {ByteStrings.Escape(entry)}: {what}: {IsolateException.Describe(errno)}");

    public void Dispose()
    {
        if (_cachedParentFd >= 0)
            Close(_cachedParentFd);
        Close(_root);
    }
}
