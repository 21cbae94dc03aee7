namespace Isolate.Tests.Support;

/// <summary>Base of every test that starts real containers (with [ContainerFact], which
/// needs root). After
/// each test it checks what a user would: the host's mount table is exactly as before
/// and no process of any container is left.</summary>
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
        _mountsBefore = HostMounts();
        _stagingBefore = StagingEntries();
    }

    private static Dictionary<string, string[]> StagingEntries() =>
        StagingDirs.Where(Directory.Exists).ToDictionary(d => d, d => new[] { "root", "upper", "work" }
            .Where(n => Path.Exists(Path.Combine(d, n))).ToArray());

    protected BusyboxRootfs Rootfs { get; }

    /// <summary>isolate run --rootfs ROOT [extra options] -- COMMAND...</summary>
    protected RunResult RunIn(string[] options, params string[] command) =>
        IsolateBinary.Run(["run", "--rootfs", Rootfs.Path, .. options, "--", .. command], stdin: null);

    protected RunResult RunIn(params string[] command) => RunIn([], command);

    protected RunResult Sh(string script, params string[] options) => RunIn(options, "sh", "-c", script);

    private static string[] HostMounts() => File.ReadAllLines("/proc/self/mountinfo");

    public void Dispose()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        List<int> left;
        while ((left = HostProcesses.InOtherPidNamespaces()).Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Assert.True(left.Count == 0, $"container processes left behind: {string.Join(", ", left.Select(Describe))}");
        Assert.Equal(_mountsBefore, HostMounts());
        Assert.Equal(_stagingBefore, StagingEntries()); // no overlay layer or staged root left on the host
        // (a killed Isolate's reaper removes them a moment later)
        List<string> cgroups;
        while ((cgroups = IsolateCgroups()).Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Assert.True(cgroups.Count == 0, $"cgroups left behind: {string.Join(", ", cgroups)}");
        GC.SuppressFinalize(this);
    }

    private static List<string> IsolateCgroups() =>
        Directory.Exists("/sys/fs/cgroup")
            ? Directory.EnumerateDirectories("/sys/fs/cgroup").Append("/sys/fs/cgroup").Select(d => Path.Combine(d, "isolate")).Where(Directory.Exists).ToList()
            : [];

    private static string Describe(int pid)
    {
        try
        {
            return $"{pid} ({File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim()})";
        }
        catch (IOException)
        {
            return pid.ToString();
        }
    }
}

/// <summary>A test that starts real containers: skipped, saying why, when not root.</summary>
public sealed class ContainerFactAttribute : FactAttribute
{
    public ContainerFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: containers create namespaces and mounts";
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
