using Isolate.Spec;

namespace Isolate.Docker;

/// <summary>docker's limit options to <see cref="ResourceLimits"/>: the one way `run` and
/// `update` read them.</summary>
public static class LimitsConverter
{
    public static ResourceLimits From(ILimitArguments options)
    {
        long? memory = options.Memory is null ? null : ResourceParser.ParseMemory("--memory", options.Memory);
        return new ResourceLimits
        {
            MemoryBytes = memory,
            MemorySwapBytes = options.MemorySwap is null ? null : ResourceParser.ParseMemorySwap(options.MemorySwap, memory),
            // the machine's CPUs, not this process's affinity (which taskset may have narrowed)
            CpuQuotaMicros = options.Cpus is null ? null : ResourceParser.ParseCpus(options.Cpus, Math.Max(1, OnlineCpus().Count)),
            CpuShares = options.CpuShares is null ? null : ResourceParser.ParseCpuShares(options.CpuShares),
            CpusetCpus = options.CpusetCpus is null ? null : ResourceParser.ParseCpuset(options.CpusetCpus, OnlineCpus()),
            PidsLimit = options.PidsLimit is null ? null : ResourceParser.ParsePidsLimit(options.PidsLimit),
            IoWeight = ChosenIoWeight(options) is { } weight ? ResourceParser.ParseIoWeight(weight, options.BlkioWeight != null ? "--blkio-weight" : "--io-weight") : null,
        };
    }

    private static string? ChosenIoWeight(ILimitArguments options) =>
        options.BlkioWeight != null && options.IoWeight != null && options.BlkioWeight != options.IoWeight
            ? throw new IsolateException($"--blkio-weight {options.BlkioWeight} and --io-weight {options.IoWeight} set the same limit: give one")
            : options.BlkioWeight ?? options.IoWeight;

    public static IReadOnlySet<int> OnlineCpus() =>
        ResourceParser.ParseCpuList(File.ReadAllText("/sys/devices/system/cpu/online")) ?? new SortedSet<int>();
}
