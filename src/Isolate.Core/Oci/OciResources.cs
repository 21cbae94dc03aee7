using Isolate.Cgroups;
using Isolate.Spec;

namespace Isolate.Oci;

public static partial class OciBundleLoader
{
    /// <summary>`update -r FILE`: a linux.resources object on its own (runc's format), read
    /// with the same rules as config.json's; errors name the field under "--resources".</summary>
    public static ResourceLimits ResourcesFromJson(string json)
    {
        OciResources? resources;
        try
        {
            using (var document = System.Text.Json.JsonDocument.Parse(json))
                OciSpecFields.Check(document.RootElement, "--resources", "linux.resources");
            resources = System.Text.Json.JsonSerializer.Deserialize(json, OciJsonContext.Default.OciResources);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new IsolateException($"--resources: not a linux.resources object: {e.Message}");
        }
        try
        {
            return Mapper.Resources(resources);
        }
        catch (IsolateException e) when (e.Message.StartsWith("config.json: linux.resources", StringComparison.Ordinal))
        {
            throw new IsolateException("--resources: " + e.Message["config.json: linux.resources.".Length..]);
        }
    }

    private sealed partial class Mapper
    {
        // ---- cgroups ----

        /// <summary>memory, cpu, pids, blockIO, hugepageLimits and the device rules; 0 is "not
        /// set" as runc takes it, -1 "unlimited". What this host's cgroups cannot set is refused
        /// here, naming the field, before anything is created.</summary>
        internal static ResourceLimits Resources(OciResources? resources)
        {
            if (resources is null)
                return new ResourceLimits();
            const string at = "linux.resources";
            var memory = resources.Memory;
            long? limit = memory?.Limit switch
            {
                null or 0 or -1 => null,
                > 0 and < ResourceParser.MinimumMemoryBytes and var bytes => throw Error($"{at}.memory.limit",
                    $"{bytes} is below the minimum of {ResourceParser.FormatBytes(ResourceParser.MinimumMemoryBytes)} ({ResourceParser.MinimumMemoryBytes} bytes); the limit is in bytes"),
                > 0 and var bytes => bytes,
                var bad => throw Error($"{at}.memory.limit", $"{bad} is not a size in bytes (or -1 for no limit)"),
            };
            long? swap = memory?.Swap switch
            {
                null or 0 => null,
                -1 => -1,
                > 0 and var bytes => limit is null
                    ? throw Error($"{at}.memory.swap", "needs memory.limit: it is the total of memory and swap")
                    : bytes < limit
                        ? throw Error($"{at}.memory.swap", $"{bytes} is below memory.limit {limit}: it is memory plus swap, so it must be at least the limit")
                        : bytes,
                var bad => throw Error($"{at}.memory.swap", $"{bad} is not a size in bytes (or -1 for unlimited swap)"),
            };

            var cpu = resources.Cpu;
            long? quota = cpu?.Quota switch
            {
                null or 0 or -1 => null,
                >= 1000 and var q => q,
                var bad => throw Error($"{at}.cpu.quota", $"{bad} is out of range: use microseconds per period, at least 1000 (or -1 for no limit)"),
            };
            long period = cpu?.Period switch
            {
                null or 0 => 100_000,
                >= 1000 and <= 1_000_000 and var p => (long)p,
                var bad => throw Error($"{at}.cpu.period", $"{bad} is out of range: use 1000 to 1000000 microseconds"),
            };
            long? shares = cpu?.Shares switch
            {
                null or 0 => null,
                >= 2 and <= 262144 and var s => (long)s,
                var bad => throw Error($"{at}.cpu.shares", $"{bad} is out of range: use 2 to 262144 (1024 is the default weight)"),
            };
            string? cpuset = cpu?.Cpus is { Length: > 0 } cpus
                ? ResourceParser.ParseCpuList(cpus) is null ? throw Error($"{at}.cpu.cpus", $"'{cpus}' is not a CPU list such as 0-1,3") : cpus
                : null;

            long? pids = resources.Pids?.Limit switch
            {
                null or 0 => null,
                -1 => -1,
                > 0 and var n => n,
                var bad => throw Error($"{at}.pids.limit", $"{bad} is out of range: use a number of processes above 0, or -1 for no limit"),
            };
            int? weight = resources.BlockIo?.Weight switch
            {
                null or 0 => null,
                >= 10 and <= 1000 and var w => w,
                var bad => throw Error($"{at}.blockIO.weight", $"{bad} is out of range: use 10 to 1000"),
            };
            var limits = new ResourceLimits
            {
                MemoryBytes = limit,
                MemorySwapBytes = swap,
                MemoryReservationBytes = SizeOrUnlimited($"{at}.memory.reservation", memory?.Reservation),
                MemorySwappiness = memory?.Swappiness switch
                {
                    // runc's "unset": docker wrote -1 into this unsigned field
                    null or ulong.MaxValue => null,
                    <= 100 and var s => (long)s,
                    var bad => throw Error($"{at}.memory.swappiness", $"{bad} is out of range: use 0 to 100"),
                },
                OomKillDisable = memory?.DisableOomKiller == true ? true : null,
                KernelTcpBytes = SizeOrUnlimited($"{at}.memory.kernelTCP", memory?.KernelTcp),
                CpuQuotaMicros = quota,
                CpuPeriodMicros = period,
                CpuPeriodGiven = quota is null && cpu?.Period is > 0,
                CpuShares = shares,
                CpusetCpus = cpuset,
                CpusetMems = cpu?.Mems is { Length: > 0 } mems
                    ? ResourceParser.ParseCpuList(mems) is null ? throw Error($"{at}.cpu.mems", $"'{mems}' is not a memory node list such as 0-1") : mems
                    : null,
                PidsLimit = pids,
                IoWeight = weight,
                IoThrottles = Throttles(resources.BlockIo),
                HugepageLimits = Hugepages(resources.HugepageLimits),
                DeviceRules = DeviceRules(resources.Devices),
            };
            RefuseUnsupported(resources);
            CheckHost(limits, resources);
            return limits;
        }

        private static long? SizeOrUnlimited(string path, long? value) => value switch
        {
            null or 0 => null,
            -1 => -1,
            > 0 and var bytes => bytes,
            var bad => throw Error(path, $"{bad} is not a size in bytes (or -1 for no limit)"),
        };

        /// <summary>Fields Isolate does not set on any host: refused, never dropped.</summary>
        private static void RefuseUnsupported(OciResources resources)
        {
            const string at = "linux.resources";
            var memory = resources.Memory;
            if (memory?.Kernel is { } kernel and not 0)
                throw Error($"{at}.memory.kernel", $"{kernel}: a separate kernel memory limit is not supported (the kernel deprecated memory.kmem.limit_in_bytes and ignores it; kernel memory counts toward memory.limit); remove it");
            if (memory?.UseHierarchy == false)
                throw Error($"{at}.memory.useHierarchy", "false is not possible: the kernel always accounts memory hierarchically; remove it");
            if (memory?.CheckBeforeUpdate == true)
                throw Error($"{at}.memory.checkBeforeUpdate", "is not supported; remove it");
            var cpu = resources.Cpu;
            if (cpu?.RealtimeRuntime is { } runtime and not 0)
                throw Error($"{at}.cpu.realtimeRuntime", $"{runtime}: real-time CPU budgets are not supported; remove it");
            if (cpu?.RealtimePeriod is { } rtPeriod and not 0)
                throw Error($"{at}.cpu.realtimePeriod", $"{rtPeriod}: real-time CPU budgets are not supported; remove it");
            if (cpu?.Idle is { } idle and not 0)
                throw Error($"{at}.cpu.idle", $"{idle}: SCHED_IDLE groups are not supported; remove it");
            var io = resources.BlockIo;
            if (io?.LeafWeight is { } leaf and not 0)
                throw Error($"{at}.blockIO.leafWeight", $"{leaf}: leaf weights went with the CFQ scheduler (no blkio.leaf_weight since Linux 5.0); remove it");
            if (resources.Network is { } network && (network.ClassId is not (null or 0) || network.Priorities is { Count: > 0 }))
                throw Error($"{at}.network", CgroupSupport.Host().MissingV1("net_cls", "net_cls.classid") is { } missing
                    ? $"{missing}; remove it"
                    : "the net_cls and net_prio controllers are not supported; remove it");
            if (resources.Rdma is { Count: > 0 })
                throw Error($"{at}.rdma", "the rdma controller is not supported; remove it");
            if (resources.Unified is { Count: > 0 })
                throw Error($"{at}.unified", "raw cgroup v2 files are not supported; remove them (set the limits through memory, cpu, pids and blockIO)");
        }

        /// <summary>Each limit given against this host's cgroup files: missing means refused.</summary>
        private static void CheckHost(ResourceLimits limits, OciResources resources)
        {
            const string at = "linux.resources";
            if (!limits.Any)
                return;
            var host = CgroupSupport.Host();
            bool v2 = host.Version == CgroupVersion.V2;
            void Need(string path, string? missing)
            {
                if (missing != null)
                    throw Error(path, $"{missing}; remove it, or run on a host that has it");
            }
            if (limits.MemoryBytes != null)
                Need($"{at}.memory.limit", host.Missing("memory", "memory.limit_in_bytes", "memory"));
            if (resources.Memory?.Swap is not (null or 0))
                Need($"{at}.memory.swap", v2 ? host.MissingV2("memory") : host.MissingV1("memory", "memory.memsw.limit_in_bytes"));
            if (limits.MemoryReservationBytes != null)
                Need($"{at}.memory.reservation", host.Missing("memory", "memory.soft_limit_in_bytes", "memory"));
            if (limits.MemorySwappiness != null)
                Need($"{at}.memory.swappiness", v2 ? "cgroup v2 has no per-group swappiness (runc and crun refuse it there too)" : host.MissingV1("memory", "memory.swappiness"));
            if (limits.OomKillDisable != null)
                Need($"{at}.memory.disableOOMKiller", v2 ? "cgroup v2 cannot turn the OOM killer off" : host.MissingV1("memory", "memory.oom_control"));
            if (limits.KernelTcpBytes != null)
                Need($"{at}.memory.kernelTCP", v2 ? "cgroup v2 has no separate TCP memory limit" : host.MissingV1("memory", "memory.kmem.tcp.limit_in_bytes"));
            if (limits.CpuShares != null)
                Need($"{at}.cpu.shares", host.Missing("cpu", "cpu.shares", "cpu"));
            if (limits.CpuQuotaMicros != null || limits.CpuPeriodGiven)
                Need($"{at}.cpu.quota", host.Missing("cpu", "cpu.cfs_quota_us", "cpu"));
            if (limits.CpusetCpus != null)
                Need($"{at}.cpu.cpus", host.Missing("cpuset", "cpuset.cpus", "cpuset"));
            if (limits.CpusetMems != null)
                Need($"{at}.cpu.mems", host.Missing("cpuset", "cpuset.mems", "cpuset"));
            if (limits.PidsLimit != null)
                Need($"{at}.pids.limit", host.Missing("pids", "tasks", "pids"));
            if (limits.IoWeight != null)
                Need($"{at}.blockIO.weight", v2 ? host.MissingV2("io")
                    : host.MissingV1("blkio", "blkio.weight") is { } noWeight && host.MissingV1("blkio", "blkio.bfq.weight") != null ? noWeight : null);
            foreach (var (field, kind) in ThrottleFields)
            {
                if (limits.IoThrottles.Any(t => t.Kind == kind))
                    Need($"{at}.blockIO.{field}", host.Missing("blkio", CgroupV1.ThrottleFile(kind), "io"));
            }
            var sizes = limits.HugepageLimits.Count > 0 ? CgroupSupport.HugePageSizes() : [];
            for (int i = 0; i < limits.HugepageLimits.Count; i++)
            {
                string size = limits.HugepageLimits[i].PageSize;
                if (!sizes.Contains(size))
                    throw Error($"{at}.hugepageLimits[{i}].pageSize", $"this host has no {size} huge pages (it has: {(sizes.Count == 0 ? "none" : string.Join(", ", sizes))}); remove the limit");
                Need($"{at}.hugepageLimits[{i}]", host.Missing("hugetlb", $"hugetlb.{size}.limit_in_bytes", "hugetlb"));
            }
            // v2: an eBPF program (Cgroups/DeviceFilter.cs) on the container's group
            if (limits.DeviceRules.Count > 0 && !v2)
                Need($"{at}.devices", host.MissingV1("devices", "devices.allow"));
        }

        private static readonly (string Field, string Kind)[] ThrottleFields =
        [
            ("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
            ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops"),
        ];

        private static IReadOnlyList<IoThrottle> Throttles(OciBlockIo? io)
        {
            if (io is null)
                return [];
            var throttles = new List<IoThrottle>();
            foreach (var (field, kind) in ThrottleFields)
            {
                var list = field switch
                {
                    "throttleReadBpsDevice" => io.ThrottleReadBpsDevice,
                    "throttleWriteBpsDevice" => io.ThrottleWriteBpsDevice,
                    "throttleReadIOPSDevice" => io.ThrottleReadIopsDevice,
                    _ => io.ThrottleWriteIopsDevice,
                };
                for (int i = 0; i < (list?.Count ?? 0); i++)
                {
                    string where = $"linux.resources.blockIO.{field}[{i}]";
                    var device = list![i];
                    if (device.Major is not >= 0 || device.Minor is not >= 0)
                        throw Error(where, "needs the device's major and minor numbers (ls -l /dev/sda shows them: 8, 0)");
                    if (device.Rate is null)
                        throw Error($"{where}.rate", "is required: bytes or operations per second");
                    throttles.Add(new IoThrottle(kind, device.Major.Value, device.Minor.Value, device.Rate.Value));
                }
            }
            if (throttles.Count == 0)
                return [];
            return throttles;
        }

        private static IReadOnlyList<HugepageLimit> Hugepages(List<OciHugepageLimit>? limits)
        {
            if (limits is not { Count: > 0 })
                return [];
            var result = new List<HugepageLimit>();
            for (int i = 0; i < limits.Count; i++)
            {
                string where = $"linux.resources.hugepageLimits[{i}]";
                var limit = limits[i];
                if (limit.PageSize is not { Length: > 0 } size || !HugePageSizePattern().IsMatch(size))
                    throw Error($"{where}.pageSize", $"'{limit.PageSize}' is not a page size as the kernel names it, such as 2MB or 1GB");
                result.Add(new HugepageLimit(size, limit.Limit switch
                {
                    null => throw Error($"{where}.limit", "is required: bytes of huge pages"),
                    -1 => -1,
                    >= 0 and var bytes => bytes,
                    var bad => throw Error($"{where}.limit", $"{bad} is not a size in bytes"),
                }));
            }
            return result;
        }

        /// <summary>The config's rules as given, then the nodes Isolate itself always makes (as
        /// runc appends its own): the config's list decides about every other device.</summary>
        private static IReadOnlyList<DeviceRule> DeviceRules(List<OciDeviceRule>? rules)
        {
            if (rules is not { Count: > 0 })
                return [];
            var result = new List<DeviceRule>();
            for (int i = 0; i < rules.Count; i++)
            {
                string where = $"linux.resources.devices[{i}]";
                var rule = rules[i];
                char type = rule.Type switch
                {
                    null or "" or "a" => 'a',
                    "c" => 'c',
                    "b" => 'b',
                    var bad => throw Error($"{where}.type", $"'{bad}' is not a device type: use a (all), c or b"),
                };
                string access = string.IsNullOrEmpty(rule.Access) ? "rwm" : rule.Access;
                if (access.Any(c => c is not ('r' or 'w' or 'm')) || access.Distinct().Count() != access.Length)
                    throw Error($"{where}.access", $"'{rule.Access}' is not an access: use letters of rwm");
                // "a" resets the whole list in the kernel, whatever access it names
                if (type == 'a' && access.Length != 3)
                    throw Error($"{where}.access", $"'{access}' with type a: a rule for every device covers rwm; give a c and a b rule instead");
                long? Number(long? value, string field) => value switch
                {
                    null or -1 => null,
                    >= 0 => value,
                    _ => throw Error($"{where}.{field}", $"{value} is not a device number (or -1 for every one)"),
                };
                result.Add(new DeviceRule(rule.Allow, type, Number(rule.Major, "major"), Number(rule.Minor, "minor"), access));
            }
            result.AddRange(Plan.DeviceNodes.DefaultCgroupRules);
            return result;
        }

        /// <summary>linux.devices: each node to make in /dev (DeviceNodes makes them).</summary>
        private static IReadOnlyList<DeviceNode> Devices(List<OciDevice>? devices)
        {
            var result = new List<DeviceNode>();
            for (int i = 0; i < (devices?.Count ?? 0); i++)
            {
                string where = $"linux.devices[{i}]";
                var device = devices![i];
                char type = device.Type switch
                {
                    "c" or "u" => 'c',
                    "b" => 'b',
                    "p" => 'p',
                    var bad => throw Error($"{where}.type", $"'{bad}' is not a device type: use c, b or p"),
                };
                string path = device.Path ?? throw Error($"{where}.path", "is required: where in the container the node goes, such as /dev/fuse");
                if (!path.StartsWith("/dev/", StringComparison.Ordinal) || path.Split('/').Any(p => p is "." or "..") || path.Contains('\0'))
                    throw Error($"{where}.path", $"'{path}' must be a path under /dev without '.' or '..'");
                if (result.Any(d => d.Path == path))
                    throw Error($"{where}.path", $"'{path}' is listed twice");
                uint Number(long? value, string field) => type == 'p' ? 0 : value switch
                {
                    null => throw Error($"{where}.{field}", "is required for a character or block device"),
                    >= 0 and <= 0xFFFFF => (uint)value,
                    _ => throw Error($"{where}.{field}", $"{value} is not a device number"),
                };
                uint mode = device.FileMode ?? 0x1B6; // 0666, as runc's default
                // podman writes the file type in too (S_IFCHR | 0666 = 8630), as stat's st_mode
                // has it; runc takes that: the type bits must then be the node's own type
                uint fileType = type switch { 'c' => 0x2000u, 'b' => 0x6000u, _ => 0x1000u };
                if ((mode & 0xF000) is not 0 and var given && given != fileType)
                    throw Error($"{where}.fileMode", $"{mode} has the file type bits of another kind of node than type '{device.Type}': give the permission bits alone (0666 is 438)");
                if (mode > 0xFFFF)
                    throw Error($"{where}.fileMode", $"{mode} holds more than a file mode: give the permission bits (0666 is 438)");
                mode &= 0xFFF;
                if (device.Uid is { } owner && !Security.Ids.Valid(owner))
                    throw Error($"{where}.uid", Security.Ids.Refusal);
                if (device.Gid is { } group && !Security.Ids.Valid(group))
                    throw Error($"{where}.gid", Security.Ids.Refusal);
                result.Add(new DeviceNode(path, type, Number(device.Major, "major"), Number(device.Minor, "minor"), mode, device.Uid ?? 0, device.Gid ?? 0));
            }
            return result;
        }

        [System.Text.RegularExpressions.GeneratedRegex("^[0-9]+[KMG]B$")]
        private static partial System.Text.RegularExpressions.Regex HugePageSizePattern();

        /// <summary>"/a/b/c" and "a/b/c": parent "a/b", name "c"; absent: "isolate" and the id.</summary>
        private (string Parent, string Name) CgroupPath(string? path)
        {
            const string where = "linux.cgroupsPath";
            if (host.SystemdCgroup)
            {
                var (slicePath, unit) = Cgroups.SystemdScope.FromCgroupsPath(path, id, message => Error(where, message));
                return (slicePath, unit);
            }
            if (string.IsNullOrEmpty(path))
                return ("isolate", id);
            if (!path.StartsWith('/') && path.Split(':').Length == 3)
                throw Error(where, "a systemd slice:prefix:name path needs isolate --systemd-cgroup (where systemd runs); otherwise give a cgroupfs path (podman --cgroup-manager cgroupfs)");
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0)
                throw Error(where, $"'{path}' names no cgroup");
            if (parts.Any(p => p is "." or ".." || p.Contains('\0')))
                throw Error(where, $"'{path}' must not hold '.' or '..'");
            return (string.Join('/', parts[..^1]), parts[^1]);
        }
    }
}
