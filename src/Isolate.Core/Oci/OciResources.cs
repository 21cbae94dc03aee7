using Isolate.Spec;

namespace Isolate.Oci;

public static partial class OciBundleLoader
{
    private sealed partial class Mapper
    {
        // ---- cgroups ----

        /// <summary>memory.limit, memory.swap (memory plus swap), cpu.quota and cpu.period,
        /// cpu.shares, cpu.cpus, pids.limit, blockIO.weight; 0 is "not set" as runc takes it,
        /// -1 "unlimited". Device rules are read and not applied.</summary>
        private static ResourceLimits Resources(OciResources? resources)
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
            return new ResourceLimits
            {
                MemoryBytes = limit,
                MemorySwapBytes = swap,
                CpuQuotaMicros = quota,
                CpuPeriodMicros = period,
                CpuShares = shares,
                CpusetCpus = cpuset,
                PidsLimit = pids,
                IoWeight = weight,
            };
        }

        /// <summary>"/a/b/c" and "a/b/c": parent "a/b", name "c"; absent: "isolate" and the id.</summary>
        private (string Parent, string Name) CgroupPath(string? path)
        {
            const string where = "linux.cgroupsPath";
            if (string.IsNullOrEmpty(path))
                return ("isolate", id);
            if (!path.StartsWith('/') && path.Split(':').Length == 3)
                throw Error(where, "systemd cgroup paths are not supported; use cgroupfs (podman --cgroup-manager cgroupfs)");
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0)
                throw Error(where, $"'{path}' names no cgroup");
            if (parts.Any(p => p is "." or ".." || p.Contains('\0')))
                throw Error(where, $"'{path}' must not hold '.' or '..'");
            return (string.Join('/', parts[..^1]), parts[^1]);
        }
    }
}
