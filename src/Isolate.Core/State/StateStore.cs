using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Isolate.Interop;

namespace Isolate.State;

/// <summary>One directory per container under the root (default /run/isolate): state.json,
/// and while the container is created but not started, exec.fifo. Every command that reads
/// or changes a container holds an flock on its directory, so two commands on one id never
/// interleave; state.json is written whole and renamed into place.</summary>
public sealed partial class StateStore(string root, string? logRoot = null)
{
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>Where detached containers' logs go, one directory each; null: in the container's
    /// state directory (a --root given: everything of it under that root).</summary>
    public string? LogRoot { get; } = logRoot is null ? null : Path.GetFullPath(logRoot);

    /// <summary>The directory of a detached container's log.</summary>
    public string LogDirectoryOf(string id) => LogRoot is null ? DirectoryOf(id) : Path.Combine(LogRoot, id);

    /// <summary>Logs belong on disk, not in /run's RAM: /var/lib/isolate/containers for root;
    /// for anyone else $XDG_DATA_HOME/isolate/containers (default ~/.local/share).</summary>
    public static string DefaultLogRoot()
    {
        if (Libc.GetEffectiveUserId() == 0)
            return "/var/lib/isolate/containers";
        string? data = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (string.IsNullOrEmpty(data))
            data = Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? "/", ".local", "share");
        return Path.Combine(data, "isolate", "containers");
    }

    /// <summary>Where the copy-on-write layers of --rootfs containers go, one directory each
    /// (Rootfs/WritableLayer): for root with the default store, on disk beside the logs
    /// (/var/lib/isolate/layers); otherwise in the state root ({root}/.layers: a name no
    /// container id can take), which is the caller's own.</summary>
    public string LayerRoot => LogRoot != null && Libc.GetEffectiveUserId() == 0
        ? Path.Combine(Path.GetDirectoryName(LogRoot)!, "layers")
        : Path.Combine(Root, ".layers");

    /// <summary>The default store's <see cref="LayerRoot"/>. Not /run, which is often a tmpfs: a
    /// layer there would take the host's memory as a tmpfs upper layer did. A non-root caller's
    /// state root is its own ($XDG_RUNTIME_DIR/isolate, which systemd sizes at a tenth of RAM,
    /// else /tmp/isolate-UID); its data directory may not be (a HOME that is another's).</summary>
    public static string DefaultLayerRoot() => new StateStore(DefaultRoot(), DefaultLogRoot()).LayerRoot;

    public const string StateFile = "state.json";
    public const string FifoFile = "exec.fifo";
    /// <summary>Where a created container reports a failure after `start` (seccomp, exec).</summary>
    public const string ExecStatusFile = "exec.status";
    public const string SpecFile = "spec.json";

    /// <summary>/run/isolate for root; for anyone else $XDG_RUNTIME_DIR/isolate, else /tmp/isolate-UID.</summary>
    public static string DefaultRoot()
    {
        uint uid = Libc.GetEffectiveUserId();
        if (uid == 0)
            return "/run/isolate";
        string? runtimeDir = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        return !string.IsNullOrEmpty(runtimeDir) && Directory.Exists(runtimeDir)
            ? Path.Combine(runtimeDir, "isolate")
            : $"/tmp/isolate-{uid.ToString(CultureInfo.InvariantCulture)}";
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_+.-]{0,1023}\z")]
    private static partial Regex IdPattern();

    /// <summary>An id is one path component that cannot climb: no '/', not '.' or '..'.</summary>
    public static void ValidateId(string id)
    {
        if (!IdPattern().IsMatch(id) || id is "." or "..")
            throw new IsolateException($"invalid container id '{id}': use letters, digits and '_', '+', '-', '.', starting with a letter or digit");
    }

    public string DirectoryOf(string id) => Path.Combine(Root, id);

    public IEnumerable<string> Ids() =>
        Directory.Exists(Root)
            ? Directory.EnumerateDirectories(Root).Select(Path.GetFileName).OfType<string>().Where(name => IdPattern().IsMatch(name)).Order(StringComparer.Ordinal)
            : [];

    /// <summary>Makes the directory of a new container and locks it; an id in use is an error.</summary>
    public ContainerLock CreateNew(string id)
    {
        ValidateId(id);
        Directory.CreateDirectory(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        CheckRootIsOurs();
        string dir = DirectoryOf(id);
        if (Libc.Mkdir(dir, 0x1c0 /* 0700 */) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == Errno.EEXIST
                ? new IsolateException($"container {id} exists already: choose another {(ReadUnlocked(dir)?.Kind == ContainerKind.Detached ? "name" : "id")}, or remove it ({RemoveCommand(dir, id)})")
                : IsolateException.FromErrno($"create state directory {dir}", null, errno);
        }
        return ContainerLock.Take(dir, id) ?? throw new IsolateException($"container {id} vanished while it was being created");
    }

    /// <summary>The command that removes an existing container, in the face that made it: rm for
    /// a run -d one (delete would do too, but its user knows docker's verbs), delete for an OCI
    /// one (which rm refuses), with the force a running one needs.</summary>
    private static string RemoveCommand(string dir, string id)
    {
        var state = ReadUnlocked(dir);
        bool stopped = state is null || Status(dir, state) == ContainerStatus.Stopped;
        return state?.Kind == ContainerKind.Detached
            ? (stopped ? $"`isolate rm {id}`" : $"`isolate rm -f {id}`")
            : (stopped ? $"`isolate delete {id}`" : $"`isolate delete --force {id}`");
    }

    /// <summary>The state root must be a real directory of the caller's, closed to everyone
    /// else: in a shared place (/tmp) another user could otherwise plant a container's state,
    /// and with it hooks that Isolate would run as the caller.</summary>
    private void CheckRootIsOurs()
    {
        var info = new DirectoryInfo(Root);
        if (info.LinkTarget != null)
            throw new IsolateException($"state root {Root} is a symbolic link: refused; give --root a real directory");
        var owner = ProcessInfo.Owner(Root);
        uint me = Libc.GetEffectiveUserId();
        if (owner is null || owner.Value.Uid != me || (owner.Value.Mode & 0x12) != 0) // group or others may write
            throw new IsolateException($"state root {Root} must belong to uid {me} and be writable by no one else (chmod 700): refused, as another user could plant state there");
    }

    /// <summary>Locks an existing container (waiting for any other command on it).</summary>
    public ContainerLock Open(string id)
    {
        ValidateId(id);
        if (Directory.Exists(Root))
            CheckRootIsOurs();
        return ContainerLock.Take(DirectoryOf(id), id) ?? throw NotFound(id);
    }

    public static IsolateException NotFound(string id) => new($"container {id} does not exist");

    public ContainerState Read(ContainerLock held)
    {
        string path = Path.Combine(held.Directory, StateFile);
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), StateJsonContext.Default.ContainerState)
                ?? throw new IsolateException($"{path} is empty");
        }
        catch (FileNotFoundException)
        {
            throw new IsolateException($"container {held.Id} is still being created (or its creation failed): `isolate delete --force {held.Id}` removes it");
        }
        catch (JsonException e)
        {
            throw new IsolateException($"{path} is damaged ({ErrorText.Json(e)}): `isolate delete --force {held.Id}` removes it");
        }
    }

    /// <summary>Readable state, or null for a directory whose creation never finished.</summary>
    public ContainerState? TryRead(ContainerLock held) =>
        File.Exists(Path.Combine(held.Directory, StateFile)) ? Read(held) : null;

    public void Write(ContainerLock held, ContainerState state)
    {
        string path = Path.Combine(held.Directory, StateFile);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(state, StateWriteJsonContext.Default.ContainerState));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The container's spec as it was launched: what run -d's monitor starts, and
    /// what exec starts a new process from (its process settings, its user namespace).</summary>
    public static void WriteSpec(ContainerLock held, Spec.ContainerSpec spec)
    {
        string path = Path.Combine(held.Directory, SpecFile);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, Spec.SpecJson.Write(spec));
        File.Move(temporary, path, overwrite: true);
    }

    public static Spec.ContainerSpec ReadSpec(string directory, string id)
    {
        string path = Path.Combine(directory, SpecFile);
        try
        {
            return Spec.SpecJson.Read(File.ReadAllText(path));
        }
        catch (FileNotFoundException)
        {
            throw new IsolateException($"container {id} has no recorded spec: it has not started");
        }
        catch (JsonException e)
        {
            throw new IsolateException($"{path} is damaged ({ErrorText.Json(e)}): `isolate delete --force {id}` removes it");
        }
    }

    public static void Remove(ContainerLock held)
    {
        Interop.Shim.RemoveTreeOrThrow(held.Directory);
    }

    /// <summary>created (waiting for start), running, paused, or stopped.</summary>
    public static ContainerStatus Status(ContainerLock held, ContainerState state) => Status(held.Directory, state);

    /// <summary>state.json read without the lock (it is only ever replaced whole, by rename),
    /// for listings that must not wait for a command holding it; null if there is none yet.</summary>
    public static ContainerState? ReadUnlocked(string directory)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(directory, StateFile)), StateJsonContext.Default.ContainerState);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public static ContainerStatus Status(string directory, ContainerState state)
    {
        // a start time of 0 is "unknown" (recorded after the process had ended): never alive
        if (state.Pid <= 0 || state.PidStartTime == 0 || ProcessInfo.StartTime(state.Pid) != state.PidStartTime)
            return ContainerStatus.Stopped;
        if (File.Exists(Path.Combine(directory, FifoFile)))
            return ContainerStatus.Created;
        return ProcessInfo.IsFrozen(state.Pid) ? ContainerStatus.Paused : ContainerStatus.Running;
    }

}

/// <summary>An flock on a container's state directory, held until disposed.</summary>
public sealed class ContainerLock : IDisposable
{
    private int _fd;

    public string Directory { get; }
    public string Id { get; }

    private ContainerLock(int fd, string directory, string id)
    {
        _fd = fd;
        Directory = directory;
        Id = id;
    }

    /// <summary>Null when the directory does not exist (or was removed while we waited for it).</summary>
    internal static ContainerLock? Take(string dir, string id) => Take(dir, id, wait: true, out _);

    /// <summary>As <see cref="Take(string, string)"/>, or, without <paramref name="wait"/>, null
    /// and <paramref name="busy"/> when another command holds it (a create still running).</summary>
    internal static unsafe ContainerLock? Take(string dir, string id, bool wait, out bool busy)
    {
        busy = false;
        int fd = Libc.Open(dir, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_CLOEXEC | OpenFlags.O_NOFOLLOW, 0);
        if (fd < 0)
            return null;
        while (Libc.Flock(fd, LockFlags.LOCK_EX | (wait ? 0 : LockFlags.LOCK_NB)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EWOULDBLOCK && !wait)
            {
                busy = true;
                Libc.Close(fd);
                return null;
            }
            if (errno != Errno.EINTR)
            {
                Libc.Close(fd);
                throw IsolateException.FromErrno($"lock {dir}", null, errno);
            }
        }
        // the holder before us may have deleted it: then it is gone for us too
        if (!System.IO.Directory.Exists(dir) || !SameDirectory(fd, dir))
        {
            Libc.Close(fd);
            return null;
        }
        return new ContainerLock(fd, dir, id);
    }

    private static bool SameDirectory(int fd, string dir)
    {
        var held = ProcessInfo.Inode($"/proc/self/fd/{fd.ToString(CultureInfo.InvariantCulture)}");
        var now = ProcessInfo.Inode(dir);
        return held != null && held == now;
    }

    public void Dispose()
    {
        if (_fd >= 0)
            Libc.Close(_fd);
        _fd = -1;
    }
}
