namespace Isolate.Docker;

/// <summary>docker-style `run` options as given (the CLI's RunOptions implements this): what
/// <see cref="RunConverter"/> turns into a <see cref="Spec.ContainerSpec"/>. Values are as typed;
/// every check is the converter's.</summary>
public interface IRunArguments : ILimitArguments
{
    string? Rootfs { get; }
    /// <summary>--entrypoint: an image's Entrypoint replaced ("" for none), its Cmd dropped.</summary>
    string? Entrypoint { get; }
    string? Hostname { get; }
    string? Workdir { get; }
    IEnumerable<string> Env { get; }
    string Network { get; }
    /// <summary>-p [IP:]HOST:CONTAINER[/PROTO], or CONTAINER.</summary>
    IEnumerable<string> Publish { get; }
    IEnumerable<string> Dns { get; }
    IEnumerable<string> DnsSearch { get; }
    /// <summary>--add-host NAME:IP.</summary>
    IEnumerable<string> AddHost { get; }
    /// <summary>--subnet CIDR: the bridge's, when this run makes it.</summary>
    string? Subnet { get; }
    IEnumerable<string> Volumes { get; }
    IEnumerable<string> Tmpfs { get; }
    bool ReadOnly { get; }
    bool Overlay { get; }
    bool NoOverlay { get; }
    string? KeepChanges { get; }
    /// <summary>--storage-opt KEY=VALUE: size=SIZE, the copy-on-write layer on a tmpfs of that size.</summary>
    IEnumerable<string> StorageOpt { get; }
    bool Privileged { get; }
    string? Cgroups { get; }
    string? CgroupParent { get; }
    string? Stats { get; }
    string? User { get; }
    IEnumerable<string> GroupAdd { get; }
    IEnumerable<string> CapAdd { get; }
    IEnumerable<string> CapDrop { get; }
    IEnumerable<string> SecurityOpt { get; }
    string? UserNamespace { get; }
    string? PreserveFds { get; }
    bool Tty { get; }
    bool Interactive { get; }
    bool Init { get; }
    IEnumerable<string> EnvFile { get; }
    IEnumerable<string> Ulimit { get; }
    string? OomScoreAdj { get; }
    string? PidFile { get; }
    string? StopSignal { get; }
    string? StopTimeout { get; }
    string? Timeout { get; }
    bool Detach { get; }
    string? Name { get; }
    bool DieWithParent { get; }
    bool Debug { get; }
    /// <summary>--device HOST[:CONTAINER[:PERMS]]: a host device node in the container's /dev.</summary>
    IEnumerable<string> Device { get; }
    /// <summary>--device-cgroup-rule 'TYPE MAJOR:MINOR PERMS': docker's, an allow rule in the device cgroup.</summary>
    IEnumerable<string> DeviceCgroupRule { get; }
    /// <summary>--gpus all|N|device=ID[,ID][,capabilities=LIST]: docker's, NVIDIA GPUs.</summary>
    string? Gpus { get; }
    IEnumerable<string> Command { get; }
}

/// <summary>docker's resource-limit options, as `run` and `update` take them: both verbs accept
/// every one under the same names (ArgumentTests checks the two options types).</summary>
public interface ILimitArguments
{
    string? Memory { get; }
    string? MemorySwap { get; }
    string? Cpus { get; }
    string? CpuShares { get; }
    string? CpusetCpus { get; }
    string? PidsLimit { get; }
    /// <summary>--blkio-weight (docker's name) and --io-weight (Isolate's first name for it): one limit, two spellings.</summary>
    string? BlkioWeight { get; }
    string? IoWeight { get; }
    string? MemoryReservation { get; }
    string? CpuQuota { get; }
    string? CpuPeriod { get; }
    string? CpusetMems { get; }
    /// <summary>--kernel-memory: refused (the kernel no longer limits kernel memory apart).</summary>
    string? KernelMemory { get; }
}

/// <summary>What only `update` takes, as runc's update does: its spelling --cpu-share, the TCP
/// buffer limit, and -r FILE (a linux.resources object; '-' reads stdin).</summary>
public interface IUpdateLimitArguments : ILimitArguments
{
    string? CpuShare { get; }
    string? KernelMemoryTcp { get; }
    string? Resources { get; }
}
