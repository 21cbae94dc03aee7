using System.Globalization;
using Isolate.Interop;
using Isolate.Spec;

namespace Isolate.Docker;

/// <summary>docker's limit options to <see cref="ResourceLimits"/>: the one way `run` and
/// `update` read them.</summary>
public static class LimitsConverter
{
    public static ResourceLimits From(ILimitArguments options)
    {
        long? memory = options.Memory is null ? null : ResourceParser.ParseMemory("--memory", options.Memory);
        if (options.KernelMemory != null)
            throw new IsolateException($"--kernel-memory {options.KernelMemory}: a separate kernel memory limit is not supported (the kernel deprecated memory.kmem.limit_in_bytes and ignores it; kernel memory counts toward --memory); drop it");
        long? period = options.CpuPeriod is null ? null : ResourceParser.ParseCpuPeriod(options.CpuPeriod);
        if (options.Cpus != null && options.CpuQuota != null)
            throw new IsolateException($"--cpus {options.Cpus} and --cpu-quota {options.CpuQuota} set the same limit: give one");
        long? quota = options.Cpus != null
            // the machine's CPUs, not this process's affinity (which taskset may have narrowed)
            ? ResourceParser.ParseCpus(options.Cpus, Math.Max(1, OnlineCpus().Count), period ?? 100_000)
            : options.CpuQuota is null ? null : ResourceParser.ParseCpuQuota(options.CpuQuota);
        return new ResourceLimits
        {
            MemoryBytes = memory,
            MemorySwapBytes = options.MemorySwap is null ? null : ResourceParser.ParseMemorySwap(options.MemorySwap, memory),
            MemoryReservationBytes = options.MemoryReservation is null ? null : ResourceParser.ParseSizeOrUnlimited("--memory-reservation", options.MemoryReservation),
            CpuQuotaMicros = quota,
            CpuPeriodMicros = period ?? 100_000,
            CpuPeriodGiven = period != null && quota is null,
            CpuShares = options.CpuShares is null ? null : ResourceParser.ParseCpuShares(options.CpuShares),
            CpusetCpus = options.CpusetCpus is null ? null : ResourceParser.ParseCpuset(options.CpusetCpus, OnlineCpus()),
            CpusetMems = options.CpusetMems is null ? null : ResourceParser.ParseCpusetMems(options.CpusetMems),
            PidsLimit = options.PidsLimit is null ? null : ResourceParser.ParsePidsLimit(options.PidsLimit),
            IoWeight = ChosenIoWeight(options) is { } weight ? ResourceParser.ParseIoWeight(weight, options.BlkioWeight != null ? "--blkio-weight" : "--io-weight") : null,
        };
    }

    /// <summary>runc update: -r's linux.resources first (the same reading as config.json's),
    /// then every flag given over it, as runc lets flags win.</summary>
    public static ResourceLimits FromUpdate(IUpdateLimitArguments options, Func<string, string>? readFile = null)
    {
        if (options.CpuShare != null && options.CpuShares != null && options.CpuShare != options.CpuShares)
            throw new IsolateException($"--cpu-share {options.CpuShare} and --cpu-shares {options.CpuShares} set the same limit: give one");
        var flags = From(options);
        var json = options.Resources is null
            ? new ResourceLimits()
            : Oci.OciBundleLoader.ResourcesFromJson(ReadResources(options.Resources, readFile));
        long? shares = flags.CpuShares ?? (options.CpuShare is null ? null : ResourceParser.ParseCpuShares(options.CpuShare));
        long? tcp = options.KernelMemoryTcp is null ? null : ResourceParser.ParseSizeOrUnlimited("--kernel-memory-tcp", options.KernelMemoryTcp);
        bool quotaGiven = flags.CpuQuotaMicros != null;
        bool periodGiven = options.CpuPeriod != null;
        return json with
        {
            MemoryBytes = flags.MemoryBytes ?? json.MemoryBytes,
            MemorySwapBytes = flags.MemorySwapBytes ?? json.MemorySwapBytes,
            MemoryReservationBytes = flags.MemoryReservationBytes ?? json.MemoryReservationBytes,
            KernelTcpBytes = tcp ?? json.KernelTcpBytes,
            CpuQuotaMicros = flags.CpuQuotaMicros ?? json.CpuQuotaMicros,
            CpuPeriodMicros = periodGiven ? flags.CpuPeriodMicros : json.CpuPeriodMicros,
            CpuPeriodGiven = quotaGiven || json.CpuQuotaMicros != null ? false : periodGiven || json.CpuPeriodGiven,
            CpuShares = shares ?? json.CpuShares,
            CpusetCpus = flags.CpusetCpus ?? json.CpusetCpus,
            CpusetMems = flags.CpusetMems ?? json.CpusetMems,
            PidsLimit = flags.PidsLimit ?? json.PidsLimit,
            IoWeight = flags.IoWeight ?? json.IoWeight,
        };
    }

    /// <summary>-r FILE, or '-' for stdin.</summary>
    private static string ReadResources(string path, Func<string, string>? readFile)
    {
        if (readFile != null)
            return readFile(path);
        try
        {
            return path == "-" ? Console.In.ReadToEnd() : File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolateException($"--resources {path}: {e.Message}");
        }
    }

    private static string? ChosenIoWeight(ILimitArguments options) =>
        options.BlkioWeight != null && options.IoWeight != null && options.BlkioWeight != options.IoWeight
            ? throw new IsolateException($"--blkio-weight {options.BlkioWeight} and --io-weight {options.IoWeight} set the same limit: give one")
            : options.BlkioWeight ?? options.IoWeight;

    public static IReadOnlySet<int> OnlineCpus() =>
        ResourceParser.ParseCpuList(File.ReadAllText("/sys/devices/system/cpu/online")) ?? new SortedSet<int>();

    /// <summary>docker's --device HOST[:CONTAINER[:PERMS]]: the host node as it is (type,
    /// numbers, mode, owner) at CONTAINER (default: the same path). Two readings of PERMS
    /// (default rwm) for the device cgroup: <c>Allows</c>, one allow rule per node with PERMS,
    /// for a container whose other devices are denied (DefaultConfinement); <c>Rules</c>, for
    /// one whose are not (--privileged): PERMS short of rw as the node's reading and writing
    /// denied, then what PERMS names allowed again.</summary>
    /// <summary>--device-cgroup-rule, docker's form: "c 1:3 rwm", "b 8:* r", "a *:* rwm" (an
    /// allow rule; the default confinement's deny-all comes first, so it widens it).</summary>
    public static DeviceRule DeviceCgroupRule(string text)
    {
        string[] parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string[] numbers = parts.Length == 3 ? parts[1].Split(':') : [];
        long? Number(string n) => n == "*" ? null : long.TryParse(n, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v) && v <= uint.MaxValue ? v : -1;
        if (parts.Length != 3 || parts[0] is not ("a" or "b" or "c") || numbers.Length != 2
            || Number(numbers[0]) == -1 || Number(numbers[1]) == -1
            || parts[2].Length == 0 || parts[2].Any(c => c is not ('r' or 'w' or 'm')) || parts[2].Distinct().Count() != parts[2].Length)
            throw new IsolateException($"invalid --device-cgroup-rule '{text}': use 'TYPE MAJOR:MINOR PERMS', TYPE c, b or a, each number a number or *, PERMS letters of rwm ('c 1:3 rwm', 'b 8:* r')");
        return new DeviceRule(true, parts[0][0], Number(numbers[0]), Number(numbers[1]), parts[2]);
    }

    public static (IReadOnlyList<DeviceNode> Nodes, IReadOnlyList<DeviceRule> Rules, IReadOnlyList<DeviceRule> Allows) Devices(IEnumerable<string> flags)
    {
        var nodes = new List<DeviceNode>();
        var rules = new List<DeviceRule>();
        var allows = new List<DeviceRule>();
        foreach (string flag in flags)
        {
            string[] parts = flag.Split(':');
            string host = parts[0];
            string target = parts.Length > 1 && parts[1].Length > 0 ? parts[1] : host;
            string perms = parts.Length > 2 ? parts[2] : "rwm";
            // HOST:PERMS, as docker reads a second part made only of r, w and m
            if (parts.Length == 2 && parts[1].Length > 0 && parts[1].All(c => c is 'r' or 'w' or 'm'))
                (target, perms) = (host, parts[1]);
            if (parts.Length > 3 || host.Length == 0 || perms.Length == 0 || perms.Any(c => c is not ('r' or 'w' or 'm')) || perms.Distinct().Count() != perms.Length)
                throw new IsolateException($"invalid --device '{flag}': use HOST[:CONTAINER[:PERMS]], PERMS letters of rwm (/dev/fuse, /dev/sdb:/dev/xvdb:r)");
            if (!host.StartsWith('/') || !target.StartsWith("/dev/", StringComparison.Ordinal) || target.Split('/').Any(p => p is "." or ".."))
                throw new IsolateException($"invalid --device '{flag}': the host node is an absolute path, and the container's a path under /dev");
            var stat = FileStat.Follow(host) ?? throw IsolateException.FromErrno("--device: stat", host, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            char type = stat.DeviceType
                ?? throw new IsolateException($"invalid --device '{flag}': {host} is not a character or block device (a directory of devices is not supported; name each node)");
            if (nodes.Any(n => n.Path == target))
                throw new IsolateException($"invalid --device '{flag}': {target} is given twice");
            nodes.Add(new DeviceNode(target, type, stat.RdevMajor, stat.RdevMinor, (uint)stat.Mode & 0xFFF, stat.Uid, stat.Gid, host));
            allows.Add(new DeviceRule(true, type, stat.RdevMajor, stat.RdevMinor, perms));
            // mknod stays allowed: the node itself is made in the container's cgroup
            string readWrite = new(perms.Where(c => c is 'r' or 'w').ToArray());
            if (readWrite.Length < 2)
            {
                rules.Add(new DeviceRule(false, type, stat.RdevMajor, stat.RdevMinor, "rw"));
                if (readWrite.Length > 0)
                    rules.Add(new DeviceRule(true, type, stat.RdevMajor, stat.RdevMinor, readWrite));
            }
        }
        return (nodes, rules, allows);
    }
}
