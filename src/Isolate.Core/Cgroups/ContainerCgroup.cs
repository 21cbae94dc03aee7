using System.Globalization;
using Isolate.Interop;
using Isolate.Spec;

namespace Isolate.Cgroups;

/// <summary>What the cgroup counted, read when the container has ended. Null: this kernel
/// does not keep that counter.</summary>
public sealed record CgroupUsage(long? MemoryPeakBytes, long? CpuUserMicros, long? CpuSystemMicros, long? PidsPeak, long OomKills, long? MemoryLimitBytes);

/// <summary>One container's cgroup, on whichever hierarchy the host has. Created with its
/// limits before the container's first process may run; removed with everything in it.</summary>
public abstract class ContainerCgroup
{
    protected ContainerCgroup(ICgroupFilesystem fs) => Fs = fs;

    protected ICgroupFilesystem Fs { get; }

    /// <summary>Every directory this group consists of (one on v2, one per hierarchy on v1),
    /// deepest last: the order they are removed in, reversed.</summary>
    public abstract IReadOnlyList<string> Directories { get; }

    /// <summary>Where processes are listed and counted (the first directory).</summary>
    protected string Primary => Directories[0];

    private FileDescriptor? _lock;

    /// <summary>Marks the group as alive: an flock on its first directory, held until Remove (and
    /// dropped by the kernel if Isolate dies). The janitor of another run removes only groups
    /// nobody holds - whatever the binary is called and whatever PID namespace it runs in.</summary>
    protected void TakeLock(string dir) => _lock = CgroupLock.Take(dir);

    /// <summary>A lock taken (CgroupLock.Take) before this object existed.</summary>
    private protected void AdoptLock(FileDescriptor? fd) => _lock = fd;

    protected void ReleaseLock()
    {
        _lock?.Dispose();
        _lock = null;
    }

    public void AddProcess(int pid)
    {
        foreach (string dir in Directories)
            Fs.Write(Path.Combine(dir, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));
    }

    public abstract CgroupUsage ReadUsage();

    /// <summary>--systemd-cgroup: after systemd has made the scope, the group again in the
    /// hierarchies where systemd removed it (on v1 it keeps a unit only in the controllers it
    /// manages for it: Isolate's freezer, blkio, cpuset... groups of that name go).</summary>
    public virtual void MakeMissing()
    {
    }

    /// <summary>The processes in the group now (cgroup.procs of the first directory).</summary>
    public IReadOnlyList<int> Processes() =>
        (Fs.Read(Path.Combine(Primary, "cgroup.procs")) ?? "")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();

    public long? PidsCurrent() => ReadLong(Directories, "pids.current");

    /// <summary>update: new limits on a running container's group (only those given).</summary>
    public abstract void Update(ResourceLimits limits, Action<string> warn);

    /// <summary>pause and resume: the cgroup freezer stops (or lets go) every process in it.</summary>
    public abstract void Freeze(bool frozen);

    /// <summary>Stops everything left in the group and waits (up to ~5 s) until it is empty.</summary>
    public abstract void KillAll();

    /// <summary>rmdir each directory, retrying while the kernel still counts a dying process;
    /// then the parent levels Isolate owns (the default "isolate"), where they are empty: another
    /// container's group keeps them (EBUSY), and that container removes them in turn. Groups
    /// the container made inside its own (systemd as PID 1 makes init.scope, system.slice...;
    /// a nested Isolate its own) go first, deepest first: rmdir refuses a group with children.</summary>
    public void Remove()
    {
        foreach (string dir in Directories.Reverse())
            RemoveTree(dir);
        ReleaseLock();
        foreach (string dir in Directories.Select(d => Path.GetDirectoryName(d)!).Distinct())
        {
            if (OwnsParent)
                TryRemove(Fs, dir); // busy: another container's group is in it, and that one removes it
        }
    }

    private void RemoveTree(string dir)
    {
        // the usual group has none inside: the rmdir alone, no directory listing on every run
        if (Fs.RemoveDirectory(dir))
            return;
        foreach (string child in Fs.Subgroups(dir))
            RemoveTree(child);
        for (int attempt = 0; !Fs.RemoveDirectory(dir); attempt++)
        {
            if (attempt == 200)
                throw new IsolateException($"remove cgroup {dir}: still busy after 2 s; processes are left in it");
            Thread.Sleep(10);
        }
    }

    /// <summary>The parent is Isolate's own (the default), not one the user named.</summary>
    public bool OwnsParent { get; private set; }

    public const string DefaultParent = "isolate";

    internal static void TryRemove(ICgroupFilesystem fs, string dir)
    {
        try
        {
            fs.RemoveDirectory(dir);
        }
        catch (IsolateException)
        {
        }
    }

    protected IReadOnlyList<int> Processes(string dir) => dir.Length == 0 ? [] :
        (Fs.Read(Path.Combine(dir, "cgroup.procs")) ?? "")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();

    protected void KillListed(string dir)
    {
        foreach (int pid in Processes(dir))
            Libc.Kill(pid, Signal.SIGKILL);
    }

    /// <summary>Every process is in every directory of the group: the primary one tells.</summary>
    protected bool IsEmpty() => Directories.Count == 0 || !Fs.Exists(Primary) || Processes(Primary).Count == 0;

    protected void WaitUntilEmpty()
    {
        for (int attempt = 0; attempt < 500 && !IsEmpty(); attempt++)
        {
            KillListed(Primary);
            Thread.Sleep(10);
        }
    }

    protected long? ReadLong(IEnumerable<string> dirs, string file)
    {
        foreach (string dir in dirs)
        {
            string? text = Fs.Read(Path.Combine(dir, file));
            if (text != null && long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
                return value;
        }
        return null;
    }

    /// <summary>"key value" lines (cpu.stat, memory.events, memory.oom_control).</summary>
    protected long? ReadKey(string path, string key)
    {
        foreach (string line in (Fs.Read(path) ?? "").Split('\n'))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                return value;
        }
        return null;
    }

    /// <summary>Creates parent/.../name under root; name itself must be new.</summary>
    protected static string MakeChain(ICgroupFilesystem fs, string root, string parent, string name)
    {
        string dir = root;
        foreach (string part in parent.Split('/', StringSplitOptions.RemoveEmptyEntries))
            fs.MakeDirectory(dir = Path.Combine(dir, part));
        dir = Path.Combine(dir, name);
        if (!fs.MakeDirectory(dir))
            throw new IsolateException($"create cgroup {dir}: it exists already");
        return dir;
    }

    /// <summary>An existing container group (for the janitor): every hierarchy where it exists.</summary>
    public static ContainerCgroup Open(CgroupLayout layout, string parent, string name, ICgroupFilesystem? fs = null)
    {
        fs ??= CgroupFilesystem.Instance;
        return layout.Version switch
        {
            CgroupVersion.V2 => CgroupV2.Open(fs, Path.Combine(layout.UnifiedRoot!, parent, name)),
            CgroupVersion.V1 => CgroupV1.Open(fs, layout.V1Roots, parent, name),
            _ => throw new IsolateException("no cgroup filesystem is mounted"),
        };
    }

    /// <summary>The cgroup for one container, on the host's hierarchy; null when the host
    /// has no cgroup filesystem and no limit was asked for.</summary>
    /// <param name="cpuAccounting">Whether CPU time will be read (--stats): on v1 that is a hierarchy more.</param>
    public static ContainerCgroup? Create(CgroupLayout layout, string parent, string name, ResourceLimits limits,
        Action<string> warn, ICgroupFilesystem? fs = null, bool cpuAccounting = true, bool updatable = false)
    {
        fs ??= CgroupFilesystem.Instance;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                ContainerCgroup? cgroup = layout.Version switch
                {
                    CgroupVersion.V2 => CgroupV2.Create(fs, layout.UnifiedRoot!, parent, name, limits, warn),
                    CgroupVersion.V1 => CgroupV1.Create(fs, layout.V1Roots, parent, name, limits, warn, cpuAccounting, updatable),
                    _ when limits.Any => throw new IsolateException("no cgroup filesystem is mounted here, so no limit can be set; mount /sys/fs/cgroup"),
                    _ => null,
                };
                if (cgroup != null)
                    cgroup.OwnsParent = parent == DefaultParent;
                return cgroup;
            }
            catch (IsolateException e) when (e.Errno == Errno.ENOENT && attempt < 5)
            {
                // another Isolate removed the shared parent between our mkdirs: make it again
            }
            catch (IsolateException) when (parent == DefaultParent)
            {
                new CgroupPlacement(layout, parent, name).RemoveEmptyParents(fs);
                throw;
            }
        }
    }
}
