namespace Isolate.Tests.Support;

/// <summary>Base of every test that starts real containers (with [ContainerFact], which
/// needs root). After each test it checks what a user would: the host's mounts under the
/// test's own paths are exactly as before, and no process and no cgroup of the test's
/// containers is left. Each test has its own cgroup parent (<see cref="TestScope"/>), which
/// the helpers that start the binary pass as --cgroup-parent where a test gives none; the
/// checks look only at what the test made, so the suite passes while other containers run
/// on the host.</summary>
[Collection(ContainerCollection.Name)]
public abstract class ContainerTest : IDisposable
{
    private readonly string[] _mountsBefore;
    private readonly Dictionary<string, string[]> _stagingBefore;

    /// <summary>Where the child may stage a private tmpfs (Rootfs/HostScratch.cs): nothing
    /// of it (root, upper, work) may ever appear on the host.</summary>
    private static readonly string[] StagingDirs = ["/tmp", "/mnt", "/run", "/var/tmp", "/media", "/opt", "/srv"];

    protected ContainerTest(BusyboxRootfs rootfs)
    {
        Rootfs = rootfs;
        Scope = new TestScope(GetType().Name);
        Scope.Own(rootfs.Path);
        foreach (string dir in StagingDirs)
        {
            foreach (string name in new[] { "root", "upper", "work" })
                Scope.Own(Path.Combine(dir, name), marker: false);
        }
        TestScope.Current = Scope;
        _mountsBefore = HostMounts();
        _stagingBefore = StagingEntries();
    }

    private static Dictionary<string, string[]> StagingEntries() =>
        StagingDirs.Where(Directory.Exists).ToDictionary(d => d, d => new[] { "root", "upper", "work" }
            .Where(n => Path.Exists(Path.Combine(d, n))).ToArray());

    protected BusyboxRootfs Rootfs { get; }

    /// <summary>What this test owns on the host: its cgroup parent, its paths.</summary>
    protected TestScope Scope { get; }

    /// <summary>The cgroup parent this test's containers get: "isolate-test/{class}-{12 hex}".</summary>
    protected string CgroupParent => Scope.OwnCgroupParent;

    /// <summary>Marks a directory (a private state root, a temp directory) as this test's: mounts
    /// under it are checked, and a daemon whose command line names it is the test's.</summary>
    protected string Own(string path)
    {
        Scope.Own(path);
        return path;
    }

    /// <summary>isolate run --rootfs ROOT [extra options] -- COMMAND...</summary>
    protected RunResult RunIn(string[] options, params string[] command) =>
        IsolateBinary.Run(["run", "--rootfs", Rootfs.Path, .. options, "--", .. command], stdin: null);

    protected RunResult RunIn(params string[] command) => RunIn([], command);

    protected RunResult Sh(string script, params string[] options) => RunIn(options, "sh", "-c", script);

    private static string[] HostMounts() => File.ReadAllLines("/proc/self/mountinfo");

    public void Dispose()
    {
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            List<int> left;
            while ((left = Scope.ContainerProcesses()).Count > 0 && DateTime.UtcNow < deadline)
                Thread.Sleep(20);
            Assert.True(left.Count == 0, $"container processes left behind: {string.Join(", ", left.Select(Describe))}");
            var mounts = Scope.MountChanges(_mountsBefore, HostMounts());
            Assert.True(mounts.Count == 0, $"mounts changed under the test's paths:\n{string.Join('\n', mounts)}");
            Assert.Equal(_stagingBefore, StagingEntries()); // no overlay layer or staged root left on the host
            // (a killed Isolate's reaper removes them a moment later)
            List<string> cgroups;
            while ((cgroups = Scope.LeftCgroups()).Count > 0 && DateTime.UtcNow < deadline)
                Thread.Sleep(20);
            Assert.True(cgroups.Count == 0, $"cgroups left behind: {string.Join(", ", cgroups)}");
        }
        finally
        {
            Scope.RemoveOwnCgroupParent();
            TestScope.Current = null;
        }
        GC.SuppressFinalize(this);
    }

    private static string Describe(int pid) => $"{pid} ({HostProcesses.CommandLine(pid)?.Trim()})";
}

/// <summary>A test that starts real containers: skipped, saying why, when not root, or when
/// a program it <see cref="Needs"/> is missing (with <see cref="Why"/> it needs it).</summary>
public sealed class ContainerFactAttribute : FactAttribute
{
    public ContainerFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: containers create namespaces and mounts";
    }

    /// <summary>A file the test cannot do without: a test never passes silently for lack of it.</summary>
    public string? Needs
    {
        get => _needs;
        set
        {
            _needs = value;
            SkipIfMissing();
        }
    }

    /// <summary>What the test needs <see cref="Needs"/> for, for the skip reason.</summary>
    public string? Why
    {
        get => _why;
        set
        {
            _why = value;
            SkipIfMissing();
        }
    }

    private string? _needs;
    private string? _why;

    private void SkipIfMissing()
    {
        if (Environment.IsPrivilegedProcess && _needs != null && !File.Exists(_needs))
            Skip = $"needs {_needs}{(_why is null ? "" : " " + _why)}: not installed here";
    }
}

public sealed class ContainerTheoryAttribute : TheoryAttribute
{
    public ContainerTheoryAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: containers create namespaces and mounts";
    }
}
