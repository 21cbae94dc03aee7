using System.Runtime.InteropServices;
using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Spec;
using Isolate.State;
using static Isolate.Interop.OpenFlags;

namespace Isolate.Rootfs;

/// <summary>The copy-on-write layer of a --rootfs container, on disk: {layer root}/{id}.{pid},
/// holding upper and work. On disk because a tmpfs upper layer grows in RAM up to half of it,
/// unbounded by anything the container was given (docker, runc and crun write to disk too);
/// --storage-opt size=N puts it on a tmpfs of that size instead (MountPlanBuilder).
///
/// The Isolate that runs the container holds an flock on the directory and removes it when the
/// container has ended. One left by a run that was killed is removed by a later run, by the
/// cgroup janitor's rule: nobody holds it, and it is older than 30 s.</summary>
public sealed class WritableLayer : IDisposable
{
    private readonly FileDescriptor _lock;
    private readonly Action<string> _warn;

    private WritableLayer(string directory, FileDescriptor held, Action<string> warn)
    {
        Directory = directory;
        _lock = held;
        _warn = warn;
    }

    /// <summary>The layer's directory: upper and work are in it.</summary>
    public string Directory { get; }

    /// <summary>A new layer on disk for <paramref name="spec"/>, or null where it gets none: no
    /// copy-on-write --rootfs, --storage-opt size (a tmpfs), or --read-only (the layer takes
    /// only the mount points Isolate makes, on a tmpfs, before the root turns read-only).
    /// Root's --userns with a map to other ids keeps the tmpfs too, for now: the namespace's
    /// root, who mounts the overlay, may not reach a directory of host root's under a 0700
    /// state root (a rootless caller's layer is its own, and so the namespace root's). So does
    /// a layer root on overlayfs (Isolate inside another container): an overlay cannot be
    /// another's upper layer; the tmpfs is charged to the container's memory cgroup, and
    /// --storage-opt size bounds it.</summary>
    public static WritableLayer? For(ContainerSpec spec, Action<string> warn)
    {
        if (spec.Rootfs is null || spec.RootfsWrites != RootfsWrites.CopyOnWrite || spec.StorageSizeBytes != null
            || spec.ReadOnlyRoot || spec.LayerDir != null || spec.UserNamespace is { Rootless: false })
            return null;
        string root = spec.LayerRoot ?? StateStore.DefaultLayerRoot();
        if (OnOverlayfs(root))
            return null;
        return Create(root, CgroupJanitor.NameFor(spec.Id, Environment.ProcessId), warn);
    }

    private static WritableLayer Create(string root, string name, Action<string> warn)
    {
        // another run's Dispose may remove the emptied root between our mkdir -p and mkdir
        for (int attempt = 1; ; attempt++)
        {
            if (TryCreate(root, name, warn, lastAttempt: attempt == 3) is { } layer)
                return layer;
        }
    }

    private static WritableLayer? TryCreate(string root, string name, Action<string> warn, bool lastAttempt)
    {
        try
        {
            System.IO.Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolateException($"create the copy-on-write layer's directory {root}: {ErrorText.Of(e)}");
        }
        // Whoever may rename in the way to the layer could swap upper for a link and send the
        // container's writes anywhere the caller may write.
        foreach (string level in new[] { Path.GetDirectoryName(root)!, root })
        {
            uint me = Libc.GetEffectiveUserId();
            if (FileStat.NoFollow(level) is not { IsDirectory: true } st || st.Uid != me || (st.Mode & 0x12) != 0)
                throw new IsolateException($"the copy-on-write layer goes to {root}, and {level} is not a directory of uid {me}'s that no one else may write to: refused; "
                    + $"fix its owner and mode (chmod 700 {level}), or give --root a directory of your own");
        }
        string dir = Path.Combine(root, name);
        if (Libc.Mkdir(dir, 0x1C0 /* 0700 */) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.ENOENT && !lastAttempt)
                return null;
            throw IsolateException.FromErrno("create the copy-on-write layer", dir, errno);
        }
        var held = CgroupLock.Take(dir);
        try
        {
            if (held is null)
                throw IsolateException.FromErrno("lock the copy-on-write layer", dir, Marshal.GetLastPInvokeError());
            // upper's mode is the container's / (overlayfs shows the upper root's attributes)
            MakeDir(Path.Combine(dir, "upper"), 0x1ED /* 0755 */);
            MakeDir(Path.Combine(dir, "work"), 0x1C0 /* 0700 */);
            return new WritableLayer(dir, held, warn);
        }
        catch
        {
            held?.Dispose();
            RemoveTree(dir);
            throw;
        }
    }

    /// <summary>The layer root, or the nearest directory above it that exists, is on overlayfs.</summary>
    private static bool OnOverlayfs(string root)
    {
        for (string? level = root; level != null; level = Path.GetDirectoryName(level))
        {
            using var fd = FileDescriptor.Open(level, O_RDONLY | O_DIRECTORY);
            if (!fd.IsInvalid)
                return FileSystemStat.TypeOf(fd) == FileSystemStat.OverlayfsMagic;
        }
        return false;
    }

    private static void MakeDir(string path, uint mode)
    {
        if (Libc.Mkdir(path, mode) < 0)
            throw IsolateException.FromErrno("create the copy-on-write layer", path, Marshal.GetLastPInvokeError());
    }

    /// <summary>The container has ended: its writes go, and so do layers that killed runs left
    /// (swept here, after the container, rather than on the start path).</summary>
    public void Dispose()
    {
        try
        {
            RemoveTree(Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _warn($"could not remove the copy-on-write layer {Directory}: {ErrorText.Of(e)}; a later run removes it");
        }
        finally
        {
            _lock.Dispose();
        }
        string root = Path.GetDirectoryName(Directory)!;
        // the usual end: this was the only layer, and the root goes with it; a root that is not
        // empty holds other runs' layers, running or left by a killed run, and only then is it
        // listed (a listing through .NET cost each run about 1 ms)
        if (Libc.Rmdir(root) == 0)
            return;
        Sweep(root, _warn);
        RemoveRootIfEmpty(root);
    }

    /// <summary>rm -f of a container whose monitor is dead (killed, maybe before it could remove
    /// its layer) and whose cgroup has been emptied: the layer named <paramref name="name"/>
    /// goes. Its lock is not asked: a clone of the killed monitor may hold it for the moment it
    /// takes to die, and the name (the monitor's PID in it) is no one else's.</summary>
    public static void RemoveLeft(string root, string name, Action<string> warn)
    {
        string dir = Path.Combine(root, name);
        try
        {
            RemoveTree(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warn($"could not remove the copy-on-write layer {dir}: {ErrorText.Of(e)}");
        }
        RemoveRootIfEmpty(root);
    }

    /// <summary>The last one out leaves no empty layer root (a --root stays as it was).</summary>
    private static void RemoveRootIfEmpty(string root)
    {
        try
        {
            System.IO.Directory.Delete(root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // another container's layer is in it, or there is none
        }
    }

    /// <summary>Removes the layers that runs killed before they could left under <paramref name="root"/>;
    /// never fails the run.</summary>
    public static void Sweep(string root, Action<string> warn)
    {
        List<string> names;
        try
        {
            names = System.IO.Directory.EnumerateDirectories(root).Select(Path.GetFileName).OfType<string>().ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // no layer root yet
        }
        foreach (string name in CgroupJanitor.Candidates(names))
        {
            string dir = Path.Combine(root, name);
            try
            {
                // made in the last 30 s: its Isolate may not have locked it yet (between mkdir and flock)
                if (DateTime.UtcNow - System.IO.Directory.GetLastWriteTimeUtc(dir) < CgroupJanitor.MinimumAge || CgroupLock.IsHeld(dir))
                    continue;
                RemoveTree(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                warn($"could not remove the copy-on-write layer {dir} that a crashed run left: {ErrorText.Of(e)}");
            }
        }
    }

    /// <summary>rm -r in the shim: a container may name its files in any bytes (.NET's own
    /// Directory.Delete cannot name a file that is not UTF-8 and left such layers behind), and
    /// overlayfs leaves work/work mode 000.</summary>
    private static void RemoveTree(string dir) => Shim.RemoveTreeOrThrow(dir);
}
