using System.Globalization;
using Isolate.Spec;

namespace Isolate.Cgroups;

/// <summary>The unified hierarchy: one directory, controllers enabled from the root down.</summary>
public sealed class CgroupV2 : ContainerCgroup
{
    private readonly string _dir;

    private CgroupV2(ICgroupFilesystem fs, string dir) : base(fs) => _dir = dir;

    public override IReadOnlyList<string> Directories => [_dir];

    public static CgroupV2 Open(ICgroupFilesystem fs, string dir) => new(fs, dir);

    public static CgroupV2 Create(ICgroupFilesystem fs, string root, string parent, string name, ResourceLimits limits, Action<string> warn)
    {
        var wanted = new List<string> { "memory", "pids" }; // always: the OOM report and --stats need them
        if (limits.CpuQuotaMicros != null || limits.CpuShares != null || limits.CpuPeriodGiven)
            wanted.Add("cpu");
        if (limits.CpusetCpus != null || limits.CpusetMems != null)
            wanted.Add("cpuset");
        if (limits.IoWeight != null || limits.IoThrottles.Count > 0)
            wanted.Add("io");
        if (limits.HugepageLimits.Count > 0)
            wanted.Add("hugetlb");
        RefuseV1Only(limits);

        var available = (fs.Read(Path.Combine(root, "cgroup.controllers")) ?? "").Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        foreach (string controller in wanted.Where(c => !available.Contains(c)))
        {
            bool needed = controller switch
            {
                "memory" => limits.MemoryBytes != null || limits.MemoryReservationBytes != null,
                "pids" => limits.PidsLimit != null,
                _ => true,
            };
            if (needed)
                throw new IsolateException($"the {controller} controller is not available in {root} (cgroup.controllers: {string.Join(' ', available)}); the limit cannot be set");
        }
        string enable = string.Join(' ', wanted.Where(available.Contains).Select(c => "+" + c));

        // A controller reaches a group only if every ancestor enables it for its children.
        string dir = root;
        if (enable.Length > 0)
            fs.Write(Path.Combine(root, "cgroup.subtree_control"), enable);
        foreach (string part in parent.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            dir = Path.Combine(dir, part);
            fs.MakeDirectory(dir);
            if (enable.Length > 0)
                fs.Write(Path.Combine(dir, "cgroup.subtree_control"), enable);
        }
        dir = Path.Combine(dir, name);
        if (!fs.MakeDirectory(dir))
            throw new IsolateException($"create cgroup {dir}: it exists already");

        var cgroup = new CgroupV2(fs, dir);
        cgroup.TakeLock(dir); // alive from now on (CgroupJanitor)
        try
        {
            cgroup.Apply(limits, warn);
        }
        catch
        {
            cgroup.ReleaseLock();
            ContainerCgroup.TryRemove(fs, dir);
            throw;
        }
        return cgroup;
    }

    private void Apply(ResourceLimits limits, Action<string> warn)
    {
        if (limits.MemoryBytes is { } memory)
        {
            Set("memory.max", memory.ToString(CultureInfo.InvariantCulture));
            // docker: without --memory-swap, as much swap as memory; -1: unlimited
            long? swap = limits.MemorySwapBytes is { } total ? (total < 0 ? -1 : total - memory) : memory;
            if (Fs.Exists(File("memory.swap.max")))
                Set("memory.swap.max", swap < 0 ? "max" : swap!.Value.ToString(CultureInfo.InvariantCulture));
            else if (limits.MemorySwapBytes != null)
                warn("this kernel does not account swap (no memory.swap.max): --memory-swap is ignored");
        }
        if (limits.MemoryReservationBytes is { } reservation)
            Set("memory.low", reservation < 0 ? "max" : reservation.ToString(CultureInfo.InvariantCulture));
        if (limits.CpuQuotaMicros is { } quota)
            Set("cpu.max", $"{(quota < 0 ? "max" : quota.ToString(CultureInfo.InvariantCulture))} {limits.CpuPeriodMicros}");
        else if (limits.CpuPeriodGiven)
        {
            // cpu.max is "QUOTA PERIOD": a new period keeps the quota there is
            string current = (Fs.Read(File("cpu.max")) ?? "max").Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "max";
            Set("cpu.max", $"{current} {limits.CpuPeriodMicros}");
        }
        if (limits.CpuShares is { } shares)
            Set("cpu.weight", SharesToWeight(shares).ToString(CultureInfo.InvariantCulture));
        if (limits.CpusetCpus is { } cpus)
            Set("cpuset.cpus", cpus);
        if (limits.CpusetMems is { } mems)
            Set("cpuset.mems", mems);
        if (limits.PidsLimit is { } pids)
            Set("pids.max", pids < 0 ? "max" : pids.ToString(CultureInfo.InvariantCulture));
        foreach (var huge in limits.HugepageLimits)
            Set($"hugetlb.{huge.PageSize}.max", huge.Bytes < 0 ? "max" : huge.Bytes.ToString(CultureInfo.InvariantCulture));
        foreach (var throttle in limits.IoThrottles)
            Set("io.max", $"{throttle.Major}:{throttle.Minor} {throttle.Kind}={throttle.Rate}");
        if (limits.IoWeight is { } weight)
        {
            if (Fs.Exists(File("io.bfq.weight")))
                Set("io.bfq.weight", weight.ToString(CultureInfo.InvariantCulture));
            else if (Fs.Exists(File("io.weight")))
                Set("io.weight", "default " + IoWeightToV2(weight).ToString(CultureInfo.InvariantCulture));
            else
                warn("this kernel has no I/O weight for cgroups (no io.weight, io.bfq.weight): --blkio-weight (--io-weight) is ignored");
        }
        // no devices.* files on v2: the rules become an eBPF program on the group (an update
        // with rules replaces the one there is; one without leaves it)
        if (limits.DeviceRules.Count > 0)
            Fs.SetDeviceProgram(_dir, DeviceFilter.Build(limits.DeviceRules));
    }

    /// <summary>What only v1 has a file for; the OCI face refuses these first, naming the field.</summary>
    private static void RefuseV1Only(ResourceLimits limits)
    {
        string? what = limits.MemorySwappiness != null ? "memory swappiness"
            : limits.OomKillDisable != null ? "disabling the OOM killer"
            : limits.KernelTcpBytes != null ? "a kernel TCP memory limit"
            : null;
        if (what != null)
            throw new IsolateException($"cgroup v2 has no {what}; drop that limit on this host");
    }

    /// <summary>cpu.shares (2..262144, 1024 default) onto cpu.weight (1..10000, 100 default), as runc maps it.</summary>
    public static long SharesToWeight(long shares) => 1 + (shares - 2) * 9999 / 262142;

    /// <summary>blkio weight (10..1000) onto io.weight (1..10000).</summary>
    public static long IoWeightToV2(int weight) => 1 + (weight - 10) * 9999 / 990;

    private string File(string name) => Path.Combine(_dir, name);

    private void Set(string file, string value) => Fs.Write(File(file), value);

    public override CgroupUsage ReadUsage() => new(
        MemoryPeakBytes: ReadLong([_dir], "memory.peak"),
        CpuUserMicros: ReadKey(File("cpu.stat"), "user_usec"),
        CpuSystemMicros: ReadKey(File("cpu.stat"), "system_usec"),
        PidsPeak: ReadLong([_dir], "pids.peak"),
        OomKills: ReadKey(File("memory.events"), "oom_kill") ?? 0,
        MemoryLimitBytes: ReadLong([_dir], "memory.max"));

    public override void Update(ResourceLimits limits, Action<string> warn)
    {
        RefuseV1Only(limits);
        Apply(limits, warn);
    }

    public override void Freeze(bool frozen)
    {
        if (!Fs.Exists(File("cgroup.freeze")))
            throw new IsolateException("pause needs cgroup.freeze (Linux 5.2 and later)");
        Set("cgroup.freeze", frozen ? "1" : "0");
    }

    public override void KillAll()
    {
        // PID 1 gone means its PID namespace is empty: usually there is nothing to stop.
        if (IsEmpty())
            return;
        if (Fs.Exists(File("cgroup.kill")))
            Set("cgroup.kill", "1"); // 5.14+: the kernel kills every process, new forks included
        else if (Fs.Exists(File("cgroup.freeze")))
        {
            Set("cgroup.freeze", "1"); // nothing can fork while it is frozen
            KillListed(_dir);
            Set("cgroup.freeze", "0");
        }
        WaitUntilEmpty();
    }
}
