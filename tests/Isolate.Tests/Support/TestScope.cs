namespace Isolate.Tests.Support;

/// <summary>What one container test owns on the host, so that its end-of-test checks look
/// only at that: other containers may run on the same machine meanwhile (another engineer's,
/// another suite's), and what they do is none of this test's business.</summary>
/// <remarks>
/// A process or cgroup is this test's when it is new since the test began and
/// <list type="bullet">
/// <item>descends from the test process, or from a process whose command line holds one of
/// the test's markers (its id, which is in its cgroup parent and may name its containers, the shared test root filesystem, a state root or
/// temp directory the test registered: a detached container's monitor and podman's conmon are
/// daemons, children of init, but their command lines name these), or</item>
/// <item>sits in a cgroup under the test's own cgroup parent, or</item>
/// <item>is a container process orphaned to init (its Isolate is gone: only a leak does that).</item>
/// </list>
/// A mount is the test's when its mount point or its root lies under one of the test's paths.
/// The scope flows with the test (AsyncLocal): the helpers that start the binary read it, and
/// tests in other collections running beside it see none.
/// </remarks>
public sealed class TestScope
{
    private static readonly AsyncLocal<TestScope?> CurrentScope = new();

    /// <summary>The container test running on this flow, or null.</summary>
    public static TestScope? Current
    {
        get => CurrentScope.Value;
        set => CurrentScope.Value = value;
    }

    /// <summary>All tests' parents sit under this one cgroup, at the top of each hierarchy.</summary>
    public const string CgroupParentRoot = "isolate-test";

    private readonly List<string> _paths = [];
    private readonly HashSet<string> _processesBefore;
    private readonly HashSet<string> _defaultGroupsBefore;

    public TestScope(string name)
    {
        Id = $"{new string(name.Where(char.IsLetterOrDigit).Take(24).ToArray())}-{Guid.NewGuid():N}"[..^20];
        CgroupParent = $"{CgroupParentRoot}/{Id}";
        _processesBefore = HostProcesses.All().Select(HostProcesses.Identity).OfType<string>().ToHashSet();
        _defaultGroupsBefore = DefaultParentGroups().ToHashSet();
    }

    /// <summary>Unique to this test instance: {class}-{12 hex}.</summary>
    public string Id { get; }

    /// <summary>The cgroup parent the helpers pass as --cgroup-parent when a test gives none;
    /// null when the test asked for Isolate's default parent (<see cref="UseDefaultCgroupParent"/>).</summary>
    public string? CgroupParent { get; private set; }

    /// <summary>The per-test parent, whether or not the test runs its containers under it.</summary>
    public string OwnCgroupParent => $"{CgroupParentRoot}/{Id}";

    /// <summary>For a test about Isolate's own default parent ("isolate"): the helpers add no
    /// --cgroup-parent, and the checks find the test's groups there by their owner.</summary>
    public void UseDefaultCgroupParent() => CgroupParent = null;

    /// <summary>Paths this test's mounts, processes (by command line) and files live under.</summary>
    public IReadOnlyList<string> Paths => _paths;

    /// <param name="path">A directory.</param>
    /// <param name="marker">Whether a process whose command line names it is the test's: true for
    /// a path unique to the test (a temp directory); false for a shared name such as /tmp/root,
    /// for its mounts only.</param>
    public void Own(string path, bool marker = true)
    {
        lock (_paths)
        {
            _paths.Add(path.TrimEnd('/'));
            if (marker)
                _markers.Add(path.TrimEnd('/'));
        }
    }

    private readonly List<string> _markers = [];

    private IEnumerable<string> Markers
    {
        get
        {
            lock (_paths)
                return _markers.Append(Id).Where(m => m.Length > 1).ToList();
        }
    }

    // ---- processes

    /// <summary>This test's processes in a PID namespace other than ours: its containers'.</summary>
    public List<int> ContainerProcesses()
    {
        string? ours = HostProcesses.PidNamespace(Environment.ProcessId);
        return HostProcesses.All().Where(p => HostProcesses.PidNamespace(p) is { } ns && ns != ours && IsOwn(p)).ToList();
    }

    public bool IsOwn(int pid)
    {
        if (HostProcesses.Identity(pid) is not { } identity || _processesBefore.Contains(identity))
            return false;
        if (InOwnCgroup(pid))
            return true;
        int? parent = HostProcesses.ParentOf(pid);
        if (parent == 1)
            return true; // orphaned: whatever started it is gone, which only a leak does
        return HasOwnAncestry(pid);
    }

    /// <summary>The process, or one of its ancestors, is the test process or names a marker.</summary>
    public bool HasOwnAncestry(int pid)
    {
        for (int? p = pid, depth = 0; p is > 1 && depth < 64; p = HostProcesses.ParentOf(p.Value), depth++)
        {
            if (p == Environment.ProcessId)
                return true;
            if (HostProcesses.CommandLine(p.Value) is { } cmdline && Markers.Any(m => cmdline.Contains(m, StringComparison.Ordinal)))
                return true;
        }
        return false;
    }

    private bool InOwnCgroup(int pid)
    {
        try
        {
            string parent = "/" + OwnCgroupParent + "/";
            return File.ReadAllLines($"/proc/{pid}/cgroup").Any(l => l.Contains(parent, StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }

    // ---- mounts

    /// <summary>The mount lines added or removed since <paramref name="before"/> whose mount point
    /// or root is under this test's paths. Anything else (podman's /run/netns, its overlay
    /// storage, another container's) is not this test's doing.</summary>
    public List<string> MountChanges(string[] before, string[] after)
    {
        var added = after.Except(before).Select(l => "+ " + l);
        var removed = before.Except(after).Select(l => "- " + l);
        return added.Concat(removed).Where(l => MountIsOwn(l[2..])).ToList();
    }

    private bool MountIsOwn(string line)
    {
        // mountinfo: id parent major:minor root mount-point options ...
        string[] fields = line.Split(' ');
        if (fields.Length < 5)
            return false;
        lock (_paths)
            return _paths.Any(p => Under(Unescape(fields[3]), p) || Under(Unescape(fields[4]), p));
    }

    private static bool Under(string path, string dir) => path == dir || path.StartsWith(dir + "/", StringComparison.Ordinal);

    private static string Unescape(string field) =>
        field.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");

    // ---- cgroups

    public static IReadOnlyList<string> HierarchyRoots() =>
        !Directory.Exists("/sys/fs/cgroup") ? []
        : File.Exists("/sys/fs/cgroup/cgroup.controllers") ? ["/sys/fs/cgroup"]
        : Directory.EnumerateDirectories("/sys/fs/cgroup").Where(d => !new FileInfo(d).Attributes.HasFlag(FileAttributes.ReparsePoint)).ToList();

    /// <summary>Groups left behind: any group under the test's own parent, and, under Isolate's
    /// default parent, the groups that are new since the test began and whose Isolate (the PID
    /// in the name, "{id}.{pid}") is gone or is the test's own.</summary>
    public List<string> LeftCgroups()
    {
        var left = new List<string>();
        foreach (string root in HierarchyRoots())
        {
            string own = Path.Combine(root, OwnCgroupParent);
            if (Directory.Exists(own))
                left.AddRange(SafeDirectories(own));
        }
        left.AddRange(DefaultParentGroups().Where(g => !_defaultGroupsBefore.Contains(g) && DefaultGroupIsOwn(g)));
        return left;
    }

    private bool DefaultGroupIsOwn(string group)
    {
        string name = Path.GetFileName(group);
        int dot = name.LastIndexOf('.');
        if (dot < 0 || !int.TryParse(name[(dot + 1)..], out int owner))
            return true; // not a name Isolate gives: nobody else's either
        return !HostProcesses.Exists(owner) || HasOwnAncestry(owner);
    }

    private static IEnumerable<string> DefaultParentGroups() =>
        HierarchyRoots().Select(r => Path.Combine(r, "isolate")).Where(Directory.Exists).SelectMany(SafeDirectories);

    private static IEnumerable<string> SafeDirectories(string dir)
    {
        try
        {
            return Directory.GetDirectories(dir);
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>Removes the test's (empty) parent, and the common one when no suite uses it any
    /// more: Isolate removes only its default parent, never one it was given.</summary>
    public void RemoveOwnCgroupParent()
    {
        foreach (string root in HierarchyRoots())
        {
            TryRemoveDirectory(Path.Combine(root, OwnCgroupParent));
            TryRemoveDirectory(Path.Combine(root, CgroupParentRoot)); // busy while another test's is there
        }
    }

    private static void TryRemoveDirectory(string dir)
    {
        try
        {
            Directory.Delete(dir);
        }
        catch (IOException)
        {
        }
    }
}
