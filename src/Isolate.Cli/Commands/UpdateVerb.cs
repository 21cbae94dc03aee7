using CommandLine;
using Isolate.Containers;

namespace Isolate.Cli.Commands;

[Verb("update", HelpText = "Change a running container's resource limits (runc update, docker update).")]
public sealed class UpdateOptions
{
    [Option('r', "resources", MetaValue = "FILE", HelpText = "A linux.resources object (runc's format) from FILE, '-' for stdin; flags given as well win.")]
    public string? Resources { get; set; }

    [Option("memory-reservation", MetaValue = "SIZE", HelpText = "Soft memory limit, reclaimed down to under pressure (-1: none).")]
    public string? MemoryReservation { get; set; }

    [Option("kernel-memory", MetaValue = "SIZE", HelpText = "Refused: the kernel no longer limits kernel memory apart (--memory counts it).")]
    public string? KernelMemory { get; set; }

    [Option("kernel-memory-tcp", MetaValue = "SIZE", HelpText = "TCP buffer memory limit (cgroup v1; -1: none).")]
    public string? KernelMemoryTcp { get; set; }

    [Option("cpu-quota", MetaValue = "N", HelpText = "CPU time in microseconds per period (-1: no limit).")]
    public string? CpuQuota { get; set; }

    [Option("cpu-period", MetaValue = "N", HelpText = "CPU period in microseconds, 1000 to 1000000.")]
    public string? CpuPeriod { get; set; }

    [Option("cpu-share", MetaValue = "N", HelpText = "runc's name for --cpu-shares.")]
    public string? CpuShare { get; set; }

    [Option("cpuset-mems", MetaValue = "LIST", HelpText = "Memory nodes it may use.")]
    public string? CpusetMems { get; set; }

    [Option('m', "memory", MetaValue = "SIZE", HelpText = "Memory limit (b, k, m, g).")]
    public string? Memory { get; set; }

    [Option("memory-swap", MetaValue = "SIZE", HelpText = "Memory plus swap (-1: unlimited swap).")]
    public string? MemorySwap { get; set; }

    [Option("cpus", MetaValue = "N", HelpText = "CPU time, in CPUs.")]
    public string? Cpus { get; set; }

    [Option("cpu-shares", MetaValue = "N", HelpText = "Relative CPU weight, 2 to 262144.")]
    public string? CpuShares { get; set; }

    [Option("cpuset-cpus", MetaValue = "LIST", HelpText = "CPUs it may run on.")]
    public string? CpusetCpus { get; set; }

    [Option("pids-limit", MetaValue = "N", HelpText = "At most N processes and threads (-1: none).")]
    public string? PidsLimit { get; set; }

    [Option("blkio-weight", MetaValue = "N", HelpText = "Block I/O weight, 10 to 1000.")]
    public string? BlkioWeight { get; set; }

    [Option("io-weight", MetaValue = "N", HelpText = "The same as --blkio-weight (run's name for it too).")]
    public string? IoWeight { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

internal static class UpdateVerb
{
    /// <summary>The limits are read as `run` reads them (one converter: the machine's CPUs,
    /// a checked --cpuset-cpus).</summary>
    public static int Execute(UpdateOptions options, GlobalOptions globals)
    {
        ContainerCgroupVerbs.Update(globals.Store, options.Id, Isolate.Docker.LimitsConverter.FromUpdate(new UpdateArguments(options)), globals.Warn);
        return 0;
    }
}
