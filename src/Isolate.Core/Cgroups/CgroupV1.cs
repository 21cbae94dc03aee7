using System.Globalization;
using Isolate.Spec;
using Isolate.Interop;

namespace Isolate.Cgroups;

/// <summary>One directory per hierarchy (cpu and cpuacct may share one). Hybrid hosts too:
/// their cgroup2 has no controllers, so the v1 hierarchies are what limit.</summary>
public sealed class CgroupV1 : ContainerCgroup
{
    private readonly Dictionary<string, string> _byController;
    private readonly List<string> _dirs;

    private CgroupV1(ICgroupFilesystem fs, Dictionary<string, string> byController) : base(fs)
    {
        _byController = byController;
        // freezer first: it is where processes are listed and frozen for the kill
        _dirs = byController.OrderBy(kv => kv.Key == "freezer" ? 0 : 1).Select(kv => kv.Value).Distinct().ToList();
    }

    public override IReadOnlyList<string> Directories => _dirs;

    public static CgroupV1 Open(ICgroupFilesystem fs, IReadOnlyDictionary<string, string> roots, string parent, string name)
    {
        var byController = roots
            .Select(kv => (kv.Key, Dir: Path.Combine(kv.Value, parent, name)))
            .Where(x => fs.Exists(x.Dir))
            .ToDictionary(x => x.Key, x => x.Dir);
        return new CgroupV1(fs, byController);
    }

    /// <summary>(For the rollback of a failed Create: every directory made so far is removed.)</summary>
    private static void RollBack(ICgroupFilesystem fs, List<string> made)
    {
        foreach (string dir in Enumerable.Reverse(made))
            ContainerCgroup.TryRemove(fs, dir);
    }

    /// <param name="cpuAccounting">Join cpuacct too (--stats reads CPU time there); each
    /// hierarchy joined costs the start path a mkdir, a migration and an rmdir.</param>
    /// <param name="updatable">Join every mounted hierarchy whatever the limits, as runc does, so
    /// that `update` can set any of them later and the container is in each of its
    /// cgroupsPath's groups (an OCI container: engines resize, kubelets account).</param>
    public static CgroupV1 Create(ICgroupFilesystem fs, IReadOnlyDictionary<string, string> roots, string parent, string name,
        ResourceLimits limits, Action<string> warn, bool cpuAccounting = true, bool updatable = false)
    {
        var wanted = new List<string> { "freezer", "memory", "pids" }; // always: the kill, the OOM report, PIDs
        if (cpuAccounting || updatable)
            wanted.Add("cpuacct");
        if (updatable || limits.CpuQuotaMicros != null || limits.CpuShares != null || limits.CpuPeriodGiven)
            wanted.Add("cpu");
        if (updatable || limits.CpusetCpus != null || limits.CpusetMems != null)
            wanted.Add("cpuset");
        if (updatable || limits.IoWeight != null || limits.IoThrottles.Count > 0)
            wanted.Add("blkio");
        if (limits.HugepageLimits.Count > 0)
            wanted.Add("hugetlb");
        if (limits.DeviceRules.Count > 0)
            wanted.Add("devices");
        if (updatable) // an OCI container: in every hierarchy there is, as with runc (cgroupsPath in each)
            wanted.AddRange(CgroupLayout.V1Controllers.Where(c => roots.ContainsKey(c) && !wanted.Contains(c)));
        foreach (string controller in wanted.Where(c => !roots.ContainsKey(c)))
        {
            bool needed = controller switch
            {
                "memory" => limits.MemoryBytes != null || limits.MemoryReservationBytes != null || limits.MemorySwappiness != null
                    || limits.OomKillDisable != null || limits.KernelTcpBytes != null,
                "pids" => limits.PidsLimit != null,
                "freezer" or "cpuacct" => false,
                "cpu" => limits.CpuQuotaMicros != null || limits.CpuShares != null || limits.CpuPeriodGiven,
                "cpuset" => limits.CpusetCpus != null || limits.CpusetMems != null,
                "blkio" => limits.IoWeight != null || limits.IoThrottles.Count > 0,
                _ => true,
            };
            if (needed)
                throw new IsolateException($"the {controller} cgroup controller is not mounted (no /sys/fs/cgroup/{controller}); the limit cannot be set");
        }

        var byController = new Dictionary<string, string>(StringComparer.Ordinal);
        var made = new List<string>();
        FileDescriptor? lockFd = null;
        try
        {
            foreach (string controller in wanted.Where(roots.ContainsKey))
            {
                string root = roots[controller];
                string dir = Path.Combine(root, Path.Combine(parent.Split('/', StringSplitOptions.RemoveEmptyEntries)), name);
                if (!made.Contains(dir))
                {
                    MakeChain(fs, root, parent, name);
                    made.Add(dir);
                    if (made.Count == 1)
                        lockFd = CgroupLock.Take(dir); // alive from the first directory on (CgroupJanitor)
                    if (controller == "cpuset")
                    {
                        // a new cpuset group starts with no CPUs and no memory nodes: each
                        // level takes its parent's before anything can join it
                        string level = root;
                        foreach (string part in parent.Split('/', StringSplitOptions.RemoveEmptyEntries).Append(name))
                            InheritCpuset(fs, level = Path.Combine(level, part));
                    }
                }
                byController[controller] = dir;
            }
            var cgroup = new CgroupV1(fs, byController);
            cgroup.AdoptLock(lockFd);
            cgroup.Apply(limits, warn);
            return cgroup;
        }
        catch
        {
            lockFd?.Dispose();
            RollBack(fs, made);
            throw;
        }
    }

    public override void MakeMissing()
    {
        foreach (var (controller, dir) in _byController)
            MakeWithParents(dir, controller == "cpuset");
    }

    private void MakeWithParents(string dir, bool cpuset)
    {
        if (Fs.Exists(dir))
            return;
        MakeWithParents(Path.GetDirectoryName(dir)!, cpuset);
        Fs.MakeDirectory(dir);
        if (cpuset)
            InheritCpuset(Fs, dir);
    }

    private static void InheritCpuset(ICgroupFilesystem fs, string dir)
    {
        string parent = Path.GetDirectoryName(dir)!;
        foreach (string file in new[] { "cpuset.cpus", "cpuset.mems" })
        {
            if (string.IsNullOrWhiteSpace(fs.Read(Path.Combine(dir, file))))
                fs.Write(Path.Combine(dir, file), (fs.Read(Path.Combine(parent, file)) ?? "").Trim());
        }
    }

    private string File(string controller, string name) => Path.Combine(_byController[controller], name);

    private void Set(string controller, string file, string value) => Fs.Write(File(controller, file), value);

    private void Apply(ResourceLimits limits, Action<string> warn)
    {
        if (limits.MemoryBytes is { } memory)
        {
            Set("memory", "memory.limit_in_bytes", memory.ToString(CultureInfo.InvariantCulture));
            // memsw is memory + swap; docker: without --memory-swap, twice the memory
            long total = limits.MemorySwapBytes ?? (memory > long.MaxValue / 2 ? -1 : 2 * memory);
            if (Fs.Exists(File("memory", "memory.memsw.limit_in_bytes")))
                Set("memory", "memory.memsw.limit_in_bytes", total.ToString(CultureInfo.InvariantCulture));
            else if (limits.MemorySwapBytes != null)
                warn("this kernel does not account swap (no memory.memsw.limit_in_bytes; boot with swapaccount=1): --memory-swap is ignored");
        }
        if (limits.MemoryReservationBytes is { } reservation)
            Set("memory", "memory.soft_limit_in_bytes", reservation.ToString(CultureInfo.InvariantCulture));
        if (limits.MemorySwappiness is { } swappiness)
            Set("memory", "memory.swappiness", swappiness.ToString(CultureInfo.InvariantCulture));
        if (limits.OomKillDisable is { } oomKillDisable)
            Set("memory", "memory.oom_control", oomKillDisable ? "1" : "0");
        if (limits.KernelTcpBytes is { } tcp)
            Set("memory", "memory.kmem.tcp.limit_in_bytes", tcp.ToString(CultureInfo.InvariantCulture));
        if (limits.CpuQuotaMicros != null || limits.CpuPeriodGiven)
            Set("cpu", "cpu.cfs_period_us", limits.CpuPeriodMicros.ToString(CultureInfo.InvariantCulture));
        if (limits.CpuQuotaMicros is { } quota)
            Set("cpu", "cpu.cfs_quota_us", quota.ToString(CultureInfo.InvariantCulture));
        if (limits.CpuShares is { } shares)
            Set("cpu", "cpu.shares", shares.ToString(CultureInfo.InvariantCulture));
        if (limits.CpusetCpus is { } cpus)
            Set("cpuset", "cpuset.cpus", cpus);
        if (limits.CpusetMems is { } mems)
            Set("cpuset", "cpuset.mems", mems);
        if (limits.PidsLimit is { } pids)
            Set("pids", "pids.max", pids < 0 ? "max" : pids.ToString(CultureInfo.InvariantCulture));
        foreach (var huge in limits.HugepageLimits)
            Set("hugetlb", $"hugetlb.{huge.PageSize}.limit_in_bytes", huge.Bytes.ToString(CultureInfo.InvariantCulture));
        foreach (var throttle in limits.IoThrottles)
            Set("blkio", ThrottleFile(throttle.Kind), $"{throttle.Major}:{throttle.Minor} {throttle.Rate}");
        // In the order given, as runc writes them: a later rule overrides an earlier one
        // (a deny-all first, then what is allowed, is the usual list).
        foreach (var rule in limits.DeviceRules)
            Set("devices", rule.Allow ? "devices.allow" : "devices.deny", rule.CgroupV1Text);
        if (limits.IoWeight is { } weight)
        {
            if (Fs.Exists(File("blkio", "blkio.weight")))
                Set("blkio", "blkio.weight", weight.ToString(CultureInfo.InvariantCulture));
            else if (Fs.Exists(File("blkio", "blkio.bfq.weight")))
                Set("blkio", "blkio.bfq.weight", weight.ToString(CultureInfo.InvariantCulture));
            else
                warn("this kernel has no block I/O weight (no blkio.weight, blkio.bfq.weight): --blkio-weight (--io-weight) is ignored");
        }
    }

    /// <summary>io.max's key onto v1's file.</summary>
    public static string ThrottleFile(string kind) => kind switch
    {
        "rbps" => "blkio.throttle.read_bps_device",
        "wbps" => "blkio.throttle.write_bps_device",
        "riops" => "blkio.throttle.read_iops_device",
        "wiops" => "blkio.throttle.write_iops_device",
        _ => throw new ArgumentException($"unknown throttle {kind}"),
    };

    public override CgroupUsage ReadUsage()
    {
        string? Dir(string c) => _byController.GetValueOrDefault(c);
        long? Nanos(string file) => Dir("cpuacct") is { } d ? ReadLong([d], file) : null;
        return new CgroupUsage(
            MemoryPeakBytes: Dir("memory") is { } m ? ReadLong([m], "memory.max_usage_in_bytes") : null,
            CpuUserMicros: Nanos("cpuacct.usage_user") / 1000,
            CpuSystemMicros: Nanos("cpuacct.usage_sys") / 1000,
            PidsPeak: Dir("pids") is { } p ? ReadLong([p], "pids.peak") : null,
            OomKills: Dir("memory") is { } mo ? ReadKey(Path.Combine(mo, "memory.oom_control"), "oom_kill") ?? 0 : 0,
            MemoryLimitBytes: Dir("memory") is { } ml ? ReadLong([ml], "memory.limit_in_bytes") : null);
    }

    public override void Update(ResourceLimits limits, Action<string> warn)
    {
        foreach (var (controller, given) in new[] { ("memory", limits.MemoryBytes != null || limits.MemorySwapBytes != null
                         || limits.MemoryReservationBytes != null || limits.MemorySwappiness != null || limits.OomKillDisable != null || limits.KernelTcpBytes != null),
                     ("cpu", limits.CpuQuotaMicros != null || limits.CpuShares != null || limits.CpuPeriodGiven),
                     ("cpuset", limits.CpusetCpus != null || limits.CpusetMems != null),
                     ("pids", limits.PidsLimit != null), ("blkio", limits.IoWeight != null || limits.IoThrottles.Count > 0),
                     ("hugetlb", limits.HugepageLimits.Count > 0), ("devices", limits.DeviceRules.Count > 0) })
        {
            if (given && !_byController.ContainsKey(controller))
                throw new IsolateException($"the container has no {controller} cgroup (it was created without such a limit), so it cannot be updated");
        }
        if (limits.MemoryBytes is { } memory && Fs.Exists(File("memory", "memory.memsw.limit_in_bytes")))
        {
            // memory must stay at or below memory+swap at every step: raise the larger one first
            long total = limits.MemorySwapBytes ?? (memory > long.MaxValue / 2 ? -1 : 2 * memory);
            long current = long.TryParse(Fs.Read(File("memory", "memory.memsw.limit_in_bytes"))?.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long c) ? c : long.MaxValue;
            if (total < 0 || total > current)
                Set("memory", "memory.memsw.limit_in_bytes", total.ToString(CultureInfo.InvariantCulture));
        }
        Apply(limits, warn);
    }

    public override void Freeze(bool frozen)
    {
        if (!_byController.TryGetValue("freezer", out string? freezer))
            throw new IsolateException("pause needs the freezer cgroup controller, which is not mounted here");
        Set("freezer", "freezer.state", frozen ? "FROZEN" : "THAWED");
        for (int i = 0; i < 1000 && frozen && Fs.Read(Path.Combine(freezer, "freezer.state"))?.Trim() == "FREEZING"; i++)
            Thread.Sleep(1);
    }

    public override void KillAll()
    {
        // PID 1 gone means its PID namespace is empty: usually there is nothing to stop.
        if (IsEmpty())
            return;
        if (_byController.TryGetValue("freezer", out string? freezer))
        {
            Set("freezer", "freezer.state", "FROZEN"); // nothing can fork while it is frozen
            for (int i = 0; i < 100 && Fs.Read(Path.Combine(freezer, "freezer.state"))?.Trim() == "FREEZING"; i++)
                Thread.Sleep(1);
            KillListed(freezer);
            Set("freezer", "freezer.state", "THAWED"); // SIGKILL is delivered once thawed
        }
        WaitUntilEmpty();
    }
}
